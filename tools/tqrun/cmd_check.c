/*
 * cmd_check.c: `tqrun check`: every op, type and shape on the selected backends against
 * the `ref` backend, as a pass/fail table.
 */
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

static const char help[] =
    "usage: tqrun check [--backend a,b] [--device Q] [--types t,...] [--quick|--full]\n"
    "                   [--failures-only] [--seed S] [--options \"k=v\"] [--json FILE]\n"
    "\n"
    "Runs quantize (from f32 and f16), dequantize (with and without the inverse rotation),\n"
    "rotate and attention (decode and causal prefill, GQA 1/4/8, d 64/128/256, softcap,\n"
    "1 and 2 sequences, K/V type pairs) on every selected backend (default: every loaded\n"
    "backend except ref) and compares each result with the `ref` backend on identical\n"
    "inputs: dequantize bit-exact, quantize identical bytes except at decision\n"
    "boundaries, rotate max error 1e-5, attention NMSE 1e-6. Every output is surrounded by\n"
    "guard bytes that must stay untouched, and no output may hold NaN or Inf.\n"
    "\n"
    "  --types LIST      only these types (quantize/dequantize targets, K and V of attention)\n"
    "  --quick           the default set (every type and shape feature once; seconds)\n"
    "  --full            all 49 K/V pairs with every attention shape, more head sizes\n"
    "  --failures-only   print only failing rows (and the summary)\n"
    "  --seed S          seed of the deterministic Gaussian inputs (default 1)\n"
    "  --backend, --device, --options, --plugin-path, --json, -v: see 'tqrun --help'\n"
    "\n"
    "Exit status: 0 all passed, 1 a check failed, 2 usage error, 3 cannot run (no ref, ...).\n"
    "\n"
    "examples:\n"
    "  tqrun check --backend cpu\n"
    "  tqrun check --backend cpu --options variant=scalar --types turbo3,q8_0\n"
    "  tqrun check --full --failures-only --json check.json\n";

enum { O_TYPES = 1, O_QUICK, O_FULL, O_FAILURES };

static const tr_optspec spec[] = {
    { "types", 't', true, O_TYPES },
    { "quick", 0, false, O_QUICK },
    { "full", 0, false, O_FULL },
    { "failures-only", 0, false, O_FAILURES },
    { NULL, 0, false, 0 },
};

int tr_cmd_check(int argc, char **argv)
{
    tr_common c;
    memset(&c, 0, sizeof c);
    tr_check_opts o;
    memset(&o, 0, sizeof o);
    tq_type types[TQ_TYPE_COUNT * 2];
    tr_parser p;
    tr_parser_init(&p, "check", argc, argv);
    const char *arg;
    int id;
    while ((id = tr_opt_next(&p, spec, &c, &arg)) != TR_OPT_END) {
        switch (id) {
        case TR_OPT_HELP: fputs(help, stdout); return TR_EXIT_OK;
        case TR_OPT_ERROR: return TR_EXIT_USAGE;
        case O_TYPES:
            if (!tr_parse_type_list("check", "--types", arg, types, TQ_TYPE_COUNT * 2,
                                    &o.n_types))
                return TR_EXIT_USAGE;
            o.types = types;
            break;
        case O_QUICK: o.full = false; break;
        case O_FULL: o.full = true; break;
        case O_FAILURES: o.failures_only = true; break;
        default: return TR_EXIT_USAGE;
        }
    }
    o.seed = c.seed_set ? c.seed : 1;
    o.verbose = c.verbose;
    if (o.full && !o.failures_only && !c.verbose)
        o.failures_only = true; /* thousands of rows: show failures and the summary */

    tq_runtime *rt = NULL;
    if (!tr_runtime_open(&c, &rt))
        return TR_EXIT_ENV;
    tr_target ref, *targets = NULL;
    int n = 0;
    if (!tr_ref_find(rt, &ref) || !tr_targets_select(rt, &c, false, &targets, &n)) {
        tq_runtime_destroy(rt);
        return TR_EXIT_ENV;
    }
    static const char *const hdr[] = { "backend", "device", "op", "types", "shape", "metric",
                                       "value", "limit", "verdict", "variant" };
    tr_table *table = tr_table_new(10, hdr);
    cJSON *doc = c.json_path ? tr_json_doc_new("check") : NULL;
    int rc = TR_EXIT_OK;
    tr_check_summary *sum = calloc((size_t)n, sizeof *sum);
    bool *ran = calloc((size_t)n, sizeof *ran);
    for (int i = 0; i < n && sum && ran; i++) {
        if (!tr_check_target(&targets[i], c.options, &ref, &o, table, doc, &sum[i])) {
            rc = TR_EXIT_ENV;
            continue;
        }
        ran[i] = true;
        if (sum[i].failed)
            rc = rc == TR_EXIT_OK ? TR_EXIT_FAIL : rc;
    }
    if (tr_table_rows(table)) {
        tr_table_print(table, stdout);
        printf("\n");
    } else if (o.failures_only) {
        printf("no failures\n\n");
    }
    for (int i = 0; i < n && sum && ran; i++)
        if (!ran[i])
            printf("%s (%s): could not run (see the error above)\n",
                   tq_backend_name(targets[i].backend), targets[i].info.name);
        else
            printf("%s (%s): %d checks, %d passed, %d failed, %d unsupported%s\n",
               tq_backend_name(targets[i].backend), targets[i].info.name, sum[i].total,
               sum[i].passed, sum[i].failed, sum[i].skipped,
               sum[i].failed ? "  <-- FAILED" : "");
    if (doc && !tr_json_write(doc, c.json_path) && rc == TR_EXIT_OK)
        rc = TR_EXIT_ENV;
    cJSON_Delete(doc);
    tr_table_free(table);
    free(sum);
    free(ran);
    free(targets);
    tq_runtime_destroy(rt);
    return rc;
}
