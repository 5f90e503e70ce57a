/*
 * cmd_bench.c: `tqrun bench`: timings of attention (or quantize) with repeats.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

static const char help[] =
    "usage: tqrun bench [--backend a,b] [--device Q] [--op attention|quantize]\n"
    "                   [--types K/V,...] [--ctx N,...] [--heads H/KVH] [--d D] [--nq N]\n"
    "                   [--nseq N] [--repeats N] [--warmup N] [--warmup-ms MS]\n"
    "                   [--rotate-buffers N] [--shared-context] [--options \"k=v\"]\n"
    "                   [--json FILE]\n"
    "\n"
    "Records the op in a sequence once and submits it repeatedly; reports the minimum and\n"
    "median device time per submission (tq_op_timing.device_ns), the bytes the op moved,\n"
    "GB/s and, for attention, GFLOP/s (4 * n_head * n_q * n_kv * d flops). The JSON keeps\n"
    "every sample. The cache is filled with the backend's own quantize op first. A warning\n"
    "says when the last third of the repeats ran more than 10% faster or slower than the\n"
    "first (the device changed speed during the run).\n"
    "\n"
    "  --op OP            attention (default) or quantize (set_rows of --ctx tokens)\n"
    "  --types LIST       K/V pairs; 'turbo3' means turbo3/turbo3 (default f16, q8_0, q4_0,\n"
    "                     turbo2, turbo3, turbo4, q8_0/turbo4)\n"
    "  --ctx LIST         context lengths (k suffix = 1024; default 4096)\n"
    "  --heads H/KVH      query heads / KV heads (default 32/8)\n"
    "  --d D              head size (default 128)\n"
    "  --nq N             query tokens (default 1: decode)\n"
    "  --nseq N           sequences (default 1)\n"
    "  --repeats N        timed submissions (default 10)\n"
    "  --warmup N         untimed submissions first, at least (default 2)\n"
    "  --warmup-ms MS     ...and for at least this much wall time, so GPU clocks that fell\n"
    "                     while the caches were filled are back up (default 200)\n"
    "  --rotate-buffers N cycle over N separate caches so repeats do not hit warm caches\n"
    "  --shared-context   run all cases of a backend in one context; by default every case\n"
    "                     gets a new one (device, memory, pipelines), because on the H100 a\n"
    "                     case in a context that earlier cases used ran up to 4x slower\n"
    "                     (see docs/tqrun.md)\n"
    "\n"
    "examples:\n"
    "  tqrun bench --backend cpu --ctx 32768 --types turbo3,q8_0,f16 --repeats 20\n"
    "  tqrun bench --op quantize --types turbo3 --ctx 8192\n"
    "  tqrun bench --backend cpu --options variant=scalar --json scalar.json\n";

enum { O_OP = 1, O_TYPES, O_CTX, O_HEADS, O_D, O_NQ, O_NSEQ, O_REPEATS, O_WARMUP, O_WARMUP_MS,
       O_ROTATE, O_SHARED_CTX };
static const tr_optspec spec[] = {
    { "op", 0, true, O_OP },
    { "types", 't', true, O_TYPES },
    { "ctx", 'c', true, O_CTX },
    { "heads", 0, true, O_HEADS },
    { "d", 0, true, O_D },
    { "nq", 0, true, O_NQ },
    { "nseq", 0, true, O_NSEQ },
    { "repeats", 'r', true, O_REPEATS },
    { "warmup", 'w', true, O_WARMUP },
    { "warmup-ms", 0, true, O_WARMUP_MS },
    { "rotate-buffers", 0, true, O_ROTATE },
    { "shared-context", 0, false, O_SHARED_CTX },
    { NULL, 0, false, 0 },
};

static bool small_u64(const char *opt, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!tr_parse_u64("bench", opt, arg, out))
        return false;
    if (*out < lo || *out > hi) {
        tr_usage_error("bench", "%s must be in [%llu, %llu], got %s", opt,
                       (unsigned long long)lo, (unsigned long long)hi, arg);
        return false;
    }
    return true;
}

int tr_cmd_bench(int argc, char **argv)
{
    tr_common c;
    memset(&c, 0, sizeof c);
    tr_bench_case base = { .op = 0, .n_head = 32, .n_kv_head = 8, .d = 128, .n_q = 1,
                           .n_seq = 1, .repeats = 10, .warmup = 2, .rotate_buffers = 1,
                           .warmup_ms = TR_BENCH_WARMUP_MS, .context_per_case = true };
    tq_type tk[64] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2, TQ_TYPE_TURBO3,
                       TQ_TYPE_TURBO4, TQ_TYPE_Q8_0 };
    tq_type tv[64] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2, TQ_TYPE_TURBO3,
                       TQ_TYPE_TURBO4, TQ_TYPE_TURBO4 };
    int n_pairs = 7, n_ctx = 1;
    bool types_set = false;
    int64_t ctxs[32] = { 4096 };
    tr_parser p;
    tr_parser_init(&p, "bench", argc, argv);
    const char *arg;
    int id;
    uint64_t u;
    while ((id = tr_opt_next(&p, spec, &c, &arg)) != TR_OPT_END) {
        switch (id) {
        case TR_OPT_HELP: fputs(help, stdout); return TR_EXIT_OK;
        case O_OP:
            if (strcmp(arg, "attention") == 0)
                base.op = 0;
            else if (strcmp(arg, "quantize") == 0)
                base.op = 1;
            else
                return tr_usage_error("bench", "--op must be attention or quantize, got '%s'",
                                      arg);
            break;
        case O_TYPES:
            if (!tr_parse_pair_list("bench", "--types", arg, tk, tv, 64, &n_pairs))
                return TR_EXIT_USAGE;
            types_set = true;
            break;
        case O_CTX:
            if (!tr_parse_i64_list("bench", "--ctx", arg, ctxs, 32, &n_ctx))
                return TR_EXIT_USAGE;
            break;
        case O_HEADS:
            if (!tr_parse_heads("bench", "--heads", arg, &base.n_head, &base.n_kv_head))
                return TR_EXIT_USAGE;
            break;
        case O_D:
            if (!small_u64("--d", arg, 1, 65536, &u))
                return TR_EXIT_USAGE;
            base.d = (int64_t)u;
            break;
        case O_NQ:
            if (!small_u64("--nq", arg, 1, 65536, &u))
                return TR_EXIT_USAGE;
            base.n_q = (int64_t)u;
            break;
        case O_NSEQ:
            if (!small_u64("--nseq", arg, 1, 1024, &u))
                return TR_EXIT_USAGE;
            base.n_seq = (int64_t)u;
            break;
        case O_REPEATS:
            if (!small_u64("--repeats", arg, 1, 1000000, &u))
                return TR_EXIT_USAGE;
            base.repeats = (int)u;
            break;
        case O_WARMUP:
            if (!small_u64("--warmup", arg, 0, 1000000, &u))
                return TR_EXIT_USAGE;
            base.warmup = (int)u;
            break;
        case O_WARMUP_MS:
            if (!small_u64("--warmup-ms", arg, 0, 600000, &u))
                return TR_EXIT_USAGE;
            base.warmup_ms = (int)u;
            break;
        case O_ROTATE:
            if (!small_u64("--rotate-buffers", arg, 1, 64, &u))
                return TR_EXIT_USAGE;
            base.rotate_buffers = (int)u;
            break;
        case O_SHARED_CTX:
            base.context_per_case = false;
            break;
        default: return TR_EXIT_USAGE;
        }
    }
    if (base.op == 1 && !types_set) {
        /* quantize: one destination per type */
        static const tq_type q[] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2,
                                     TQ_TYPE_TURBO3, TQ_TYPE_TURBO4 };
        n_pairs = 6;
        for (int i = 0; i < 6; i++)
            tk[i] = tv[i] = q[i];
    }
    if (base.n_q > 1 && base.op == 0)
        fprintf(stderr, "tqrun bench: n_q=%lld queries see the whole context (no causal mask)\n",
                (long long)base.n_q);
    const uint64_t seed = c.seed_set ? c.seed : 1;

    tq_runtime *rt = NULL;
    if (!tr_runtime_open(&c, &rt))
        return TR_EXIT_ENV;
    tr_target *targets = NULL;
    int n = 0;
    if (!tr_targets_select(rt, &c, false, &targets, &n)) {
        tq_runtime_destroy(rt);
        return TR_EXIT_ENV;
    }
    static const char *const hdr[] = { "backend", "device", "op", "types", "shape", "variant",
                                       "reps", "min", "median", "bytes", "GB/s", "GFLOP/s" };
    tr_table *table = tr_table_new(12, hdr);
    cJSON *doc = c.json_path ? tr_json_doc_new("bench") : NULL;
    int rc = TR_EXIT_OK;
    bool warned_cache = false;
    for (int ti = 0; ti < n; ti++) {
        tr_target *t = &targets[ti];
        tq_context *ctx = NULL;
        char pre[200];
        snprintf(pre, sizeof pre, "%s: cannot create a context on '%s'",
                 tq_backend_name(t->backend), t->info.name);
        if (!base.context_per_case &&
            tr_report(pre, tq_context_create(t->backend, t->device, c.options, &ctx))) {
            rc = TR_EXIT_ENV;
            continue;
        }
        bool no_ctx = false;   /* a per-case context failed: the target's other cases too */
        for (int pi = 0; pi < n_pairs && !no_ctx; pi++)
            for (int ci = 0; ci < n_ctx && !no_ctx; ci++) {
                if (base.context_per_case) {
                    tq_context_destroy(ctx);
                    ctx = NULL;
                    if (tr_report(pre, tq_context_create(t->backend, t->device, c.options, &ctx))) {
                        rc = TR_EXIT_ENV;
                        no_ctx = true;
                        continue;
                    }
                }
                tr_bench_case bc = base;
                bc.type_k = tk[pi];
                bc.type_v = tv[pi];
                bc.n_ctx = ctxs[ci];
                tr_bench_result r;
                char types[64], shape[160];
                tr_bench_case_types(&bc, types, sizeof types);
                tr_bench_case_shape(&bc, shape, sizeof shape);
                tq_status st = tr_bench_run(ctx, &bc, seed, &r);
                uint64_t ws = st ? 0 : r.bytes * (uint64_t)bc.rotate_buffers;
                if (!st && ws < TR_BENCH_CACHE_BYTES && !warned_cache) {
                    /* A repeat may then read the previous one's data from the device's
                     * caches (the H100's L2 alone is 50 MB): say so rather than report a
                     * cache figure as memory bandwidth. */
                    char wb[32];
                    tr_fmt_bytes(ws, wb, sizeof wb);
                    fprintf(stderr, "tqrun bench: note: %s %s %s reads %s over its %d buffer "
                            "set(s), which may stay in device caches between repeats; "
                            "--rotate-buffers N measures memory (see docs/tqrun.md)\n",
                            tq_backend_name(t->backend), types, shape, wb, bc.rotate_buffers);
                    warned_cache = true;
                }
                if (st) {
                    fprintf(stderr, "tqrun bench: %s %s %s: %s\n", tq_backend_name(t->backend),
                            types, shape, tq_status_message(st));
                    const char *row[] = { tq_backend_name(t->backend), t->info.name,
                                          bc.op ? "quantize" : "attention", types, shape,
                                          tq_code_name(tq_status_code(st)), "-", "-", "-", "-",
                                          "-", "-" };
                    tr_table_row(table, row);
                    tq_status_free(st);
                    if (rc == TR_EXIT_OK)
                        rc = TR_EXIT_FAIL;
                } else {
                    char reps[16], mn[32], med[32], by[32], gb[32], gf[32];
                    snprintf(reps, sizeof reps, "%d", r.n_samples);
                    tr_fmt_ns((double)r.min_ns, mn, sizeof mn);
                    tr_fmt_ns((double)r.median_ns, med, sizeof med);
                    tr_fmt_bytes(r.bytes, by, sizeof by);
                    snprintf(gb, sizeof gb, "%.3g", r.gbps);
                    snprintf(gf, sizeof gf, bc.op ? "-" : "%.3g", r.gflops);
                    const char *row[] = { tq_backend_name(t->backend), t->info.name,
                                          bc.op ? "quantize" : "attention", types, shape,
                                          r.variant, reps, mn, med, by, gb, gf };
                    tr_table_row(table, row);
                    if (r.drift > TR_BENCH_DRIFT_WARN || r.drift < -TR_BENCH_DRIFT_WARN)
                        fprintf(stderr, "tqrun bench: warning: %s %s %s: the last third of the "
                                "repeats ran %.0f%% %s than the first third: the device "
                                "changed speed during the run (clocks, throttling, other "
                                "work); try a longer --warmup-ms or more --repeats\n",
                                tq_backend_name(t->backend), types, shape,
                                fabs(r.drift) * 100.0, r.drift > 0 ? "slower" : "faster");
                    if (doc)
                        tr_bench_json(doc, t, &bc, &r);
                }
                free(r.samples_ns);
                free(r.samples_host_ns);
            }
        tq_context_destroy(ctx);
    }
    tr_table_print(table, stdout);
    tr_table_free(table);
    if (doc && !tr_json_write(doc, c.json_path) && rc == TR_EXIT_OK)
        rc = TR_EXIT_ENV;
    cJSON_Delete(doc);
    free(targets);
    tq_runtime_destroy(rt);
    return rc;
}
