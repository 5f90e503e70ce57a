/*
 * cmd_default.c: `tqrun` with no subcommand: check and a short bench on every backend
 * found (ref is the oracle, not a subject), in one table. The first thing to run on a
 * new machine.
 */
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

static const tr_optspec spec[] = { { NULL, 0, false, 0 } };

int tr_cmd_default(int argc, char **argv)
{
    tr_common c;
    memset(&c, 0, sizeof c);
    tr_parser p;
    tr_parser_init(&p, "", argc, argv);
    const char *arg;
    int id;
    while ((id = tr_opt_next(&p, spec, &c, &arg)) != TR_OPT_END)
        return TR_EXIT_USAGE; /* --help is handled by main */
    tq_runtime *rt = NULL;
    if (!tr_runtime_open(&c, &rt))
        return TR_EXIT_ENV;
    tr_target ref, *targets = NULL;
    int n = 0;
    if (!tr_ref_find(rt, &ref) || !tr_targets_select(rt, &c, false, &targets, &n)) {
        tq_runtime_destroy(rt);
        return TR_EXIT_ENV;
    }
    cJSON *doc = c.json_path ? tr_json_doc_new("default") : NULL;
    static const char *const fh[] = { "backend", "device", "op", "types", "shape", "metric",
                                      "value", "limit", "verdict", "variant" };
    tr_table *fails = tr_table_new(10, fh);
    static const char *const hdr[] = { "backend", "device", "what", "types", "result",
                                       "median", "GB/s", "GFLOP/s", "variant" };
    tr_table *t = tr_table_new(9, hdr);
    tr_check_opts o = { .seed = c.seed_set ? c.seed : 1, .failures_only = true };
    static const tq_type bk[] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2,
                                  TQ_TYPE_TURBO3, TQ_TYPE_TURBO4, TQ_TYPE_Q8_0 };
    static const tq_type bv[] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2,
                                  TQ_TYPE_TURBO3, TQ_TYPE_TURBO4, TQ_TYPE_TURBO4 };
    int rc = TR_EXIT_OK;
    for (int i = 0; i < n; i++) {
        tr_target *tg = &targets[i];
        const char *bname = tq_backend_name(tg->backend);
        tr_check_summary s;
        char res[96];
        if (!tr_check_target(tg, c.options, &ref, &o, fails, doc, &s)) {
            rc = TR_EXIT_ENV;
            const char *row[] = { bname, tg->info.name, "check", "all", "could not run", "",
                                  "", "", "" };
            tr_table_row(t, row);
            continue;
        }
        snprintf(res, sizeof res, "%d/%d pass%s%s", s.passed, s.total,
                 s.failed ? ", FAILED " : "", s.failed ? "" : "");
        if (s.failed) {
            snprintf(res, sizeof res, "%d/%d pass, %d FAILED", s.passed, s.total, s.failed);
            rc = rc == TR_EXIT_OK ? TR_EXIT_FAIL : rc;
        }
        if (s.skipped) {
            size_t l = strlen(res);
            snprintf(res + l, sizeof res - l, ", %d unsupported", s.skipped);
        }
        const char *row[] = { bname, tg->info.name, "check", "all", res, "", "", "",
                              s.variant };
        tr_table_row(t, row);

        /* a context per case, as tqrun bench does by default (docs/tqrun.md) */
        for (size_t k = 0; k < sizeof bk / sizeof bk[0]; k++) {
            tq_context *ctx = NULL;
            if (tr_report(bname, tq_context_create(tg->backend, tg->device, c.options, &ctx))) {
                rc = TR_EXIT_ENV;
                break;
            }
            tr_bench_case bc = { .op = 0, .type_k = bk[k], .type_v = bv[k], .n_ctx = 4096,
                                 .n_head = 32, .n_kv_head = 8, .d = 128, .n_q = 1, .n_seq = 1,
                                 .repeats = 5, .warmup = 1, .rotate_buffers = 1,
                                 .warmup_ms = TR_BENCH_WARMUP_MS, .context_per_case = true };
            tr_bench_result r;
            char types[64], med[32], gb[32], gf[32];
            tr_bench_case_types(&bc, types, sizeof types);
            tq_status st = tr_bench_run(ctx, &bc, o.seed, &r);
            if (st) {
                const char *er[] = { bname, tg->info.name, "decode ctx=4096 32/8 d=128", types,
                                     tq_status_message(st), "", "", "", "" };
                tr_table_row(t, er);
                tq_status_free(st);
                rc = rc == TR_EXIT_OK ? TR_EXIT_FAIL : rc;
            } else {
                tr_fmt_ns((double)r.median_ns, med, sizeof med);
                snprintf(gb, sizeof gb, "%.3g", r.gbps);
                snprintf(gf, sizeof gf, "%.3g", r.gflops);
                const char *br[] = { bname, tg->info.name, "decode ctx=4096 32/8 d=128", types,
                                     "ok", med, gb, gf, r.variant };
                tr_table_row(t, br);
                if (doc)
                    tr_bench_json(doc, tg, &bc, &r);
            }
            free(r.samples_ns);
            free(r.samples_host_ns);
            tq_context_destroy(ctx);
        }
    }
    if (tr_table_rows(fails)) {
        printf("failed checks:\n");
        tr_table_print(fails, stdout);
        printf("\n");
    }
    tr_table_print(t, stdout);
    /* the short bench's caches (at most 16 MiB) fit in a GPU's L2 or a CPU's L3 */
    printf("(short bench: ctx 4096, one buffer set, so its data may be served from device\n"
           " caches; for memory figures use `tqrun bench --ctx 131072 --rotate-buffers N`)\n");
    tr_table_free(t);
    tr_table_free(fails);
    if (doc && !tr_json_write(doc, c.json_path) && rc == TR_EXIT_OK)
        rc = TR_EXIT_ENV;
    cJSON_Delete(doc);
    free(targets);
    tq_runtime_destroy(rt);
    return rc;
}
