/*
 * cmd_memory.c: `tqrun memory`: KV-cache bytes per context length and K/V type pair, as
 * predicted by tq_kv_cache_predict and, with --measure, as accounted by the runtime after
 * creating the cache, plus the scratch of one decode attention at that context.
 */
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

static const char help[] =
    "usage: tqrun memory [--model NAME | --layers L --heads H/KVH --d D] [--ctx N,...]\n"
    "                    [--types K/V,...] [--nseq N] [--measure [--backend a,b]]\n"
    "                    [--json FILE]\n"
    "\n"
    "Prints the KV-cache size of a model shape for each context length and K/V type pair\n"
    "(exact bytes from tq_kv_cache_predict, MiB/GiB, compression against f16). With\n"
    "--measure it also creates each cache on the selected backends (default: all loaded\n"
    "except ref) where it fits in the device's memory, prints the kv bytes the runtime\n"
    "accounted beside the prediction, and the scratch bytes of one decode attention over\n"
    "the whole context.\n"
    "\n"
    "  --model NAME   27b (48 layers, 40 heads / 8 KV heads, d=128; the default),\n"
    "                 8b (32, 32/8, 128), 70b (80, 64/8, 128), 7b-gqa7 (28, 28/4, 128)\n"
    "  --layers L --heads H/KVH --d D   a custom shape (overrides the model's values)\n"
    "  --ctx LIST     context lengths (k suffix = 1024; default 4096,32768,131072)\n"
    "  --types LIST   K/V pairs (default f16, q8_0, q4_0, turbo2, turbo3, turbo4,\n"
    "                 q8_0/turbo4, q8_0/turbo3)\n"
    "  --nseq N       sequences (default 1)\n"
    "  --measure      create the caches and measure (see above)\n"
    "\n"
    "examples:\n"
    "  tqrun memory --model 27b\n"
    "  tqrun memory --layers 32 --heads 32/8 --d 128 --ctx 8k,64k --types turbo3,q8_0/turbo4\n"
    "  tqrun memory --model 8b --ctx 4096 --measure --backend cpu\n";

typedef struct model { const char *name; uint32_t layers, heads, kv_heads, d; } model;
static const model models[] = {
    { "27b", 48, 40, 8, 128 },
    { "8b", 32, 32, 8, 128 },
    { "70b", 80, 64, 8, 128 },
    { "7b-gqa7", 28, 28, 4, 128 },
};

enum { O_MODEL = 1, O_LAYERS, O_HEADS, O_D, O_CTX, O_TYPES, O_NSEQ, O_MEASURE };
static const tr_optspec spec[] = {
    { "model", 'm', true, O_MODEL },
    { "layers", 0, true, O_LAYERS },
    { "heads", 0, true, O_HEADS },
    { "d", 0, true, O_D },
    { "ctx", 'c', true, O_CTX },
    { "types", 't', true, O_TYPES },
    { "nseq", 0, true, O_NSEQ },
    { "measure", 0, false, O_MEASURE },
    { NULL, 0, false, 0 },
};

/* Measures one cache on ctx: kv bytes accounted, and scratch of one decode attention. */
static tq_status measure(tq_context *ctx, const tq_kv_cache_desc *desc, uint32_t n_head,
                         uint64_t *kv_bytes, uint64_t *scratch_bytes, tq_memory_stats *after)
{
    tq_memory_stats before;
    tq_kv_cache *cache = NULL;
    tq_tensor *q = NULL, *out = NULL;
    tq_sequence *seq = NULL;
    tq_status st = tq_context_memory(ctx, &before);
    if (!st)
        st = tq_kv_cache_create(ctx, desc, &cache);
    if (!st)
        st = tq_context_memory(ctx, after);
    if (!st)
        *kv_bytes = after->current[TQ_MEM_KV] - before.current[TQ_MEM_KV];
    tq_tensor *k = NULL, *v = NULL;
    if (!st)
        st = tq_kv_cache_layer(cache, 0, &k, &v);
    int64_t ne[4] = { desc->head_dim, n_head, 1, desc->n_seq };
    if (!st)
        st = tq_tensor_create(ctx, TQ_TYPE_F32, ne, TQ_MEM_IO, &q);
    if (!st)
        st = tq_tensor_create(ctx, TQ_TYPE_F32, ne, TQ_MEM_IO, &out);
    if (!st) {
        float *zeros = calloc((size_t)(ne[0] * ne[1] * ne[3]), sizeof *zeros);
        st = zeros ? tq_tensor_write(q, 0, zeros, tq_tensor_nbytes(q))
                   : tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of host memory");
        free(zeros);
    }
    tq_memory_stats base;
    if (!st)
        st = tq_context_memory(ctx, &base);
    if (!st) {
        tq_context_memory_reset_peak(ctx);
        tq_attention_params p = { .q = q, .k = k, .v = v, .out = out, .n_kv = desc->n_ctx };
        st = tq_sequence_create(ctx, &seq);
        if (!st)
            st = tq_sequence_record_attention(seq, &p);
        if (!st)
            st = tq_sequence_submit(seq);
        if (!st)
            st = tq_sequence_wait(seq, UINT64_MAX);
        tq_memory_stats peak;
        if (!st)
            st = tq_context_memory(ctx, &peak);
        if (!st)
            *scratch_bytes = peak.peak[TQ_MEM_SCRATCH] - base.current[TQ_MEM_SCRATCH];
    }
    if (seq)
        tq_sequence_destroy(seq);
    if (q)
        tq_tensor_destroy(q);
    if (out)
        tq_tensor_destroy(out);
    if (cache)
        tq_kv_cache_destroy(cache);
    return st;
}

int tr_cmd_memory(int argc, char **argv)
{
    tr_common c;
    memset(&c, 0, sizeof c);
    const model *m = &models[0];
    uint32_t layers = 0, d = 0, n_seq = 1;
    int64_t heads = 0, kv_heads = 0;
    int64_t ctxs[32] = { 4096, 32768, 131072 };
    int n_ctx = 3;
    tq_type tk[64] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2, TQ_TYPE_TURBO3,
                       TQ_TYPE_TURBO4, TQ_TYPE_Q8_0, TQ_TYPE_Q8_0 };
    tq_type tv[64] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2, TQ_TYPE_TURBO3,
                       TQ_TYPE_TURBO4, TQ_TYPE_TURBO4, TQ_TYPE_TURBO3 };
    int n_pairs = 8;
    bool do_measure = false, custom = false;
    tr_parser p;
    tr_parser_init(&p, "memory", argc, argv);
    const char *arg;
    int id;
    uint64_t u;
    while ((id = tr_opt_next(&p, spec, &c, &arg)) != TR_OPT_END) {
        switch (id) {
        case TR_OPT_HELP: fputs(help, stdout); return TR_EXIT_OK;
        case O_MODEL: {
            m = NULL;
            for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
                if (strcmp(models[i].name, arg) == 0)
                    m = &models[i];
            if (!m)
                return tr_usage_error("memory", "unknown model '%s' (known: 27b, 8b, 70b, "
                                      "7b-gqa7; or give --layers --heads --d)", arg);
            break;
        }
        case O_LAYERS:
            if (!tr_parse_u64("memory", "--layers", arg, &u))
                return TR_EXIT_USAGE;
            if (u == 0 || u > 100000)
                return tr_usage_error("memory", "--layers must be in [1, 100000], got '%s'", arg);
            layers = (uint32_t)u;
            custom = true;
            break;
        case O_HEADS:
            if (!tr_parse_heads("memory", "--heads", arg, &heads, &kv_heads))
                return TR_EXIT_USAGE;
            custom = true;
            break;
        case O_D:
            if (!tr_parse_u64("memory", "--d", arg, &u))
                return TR_EXIT_USAGE;
            if (u == 0 || u > 65536)
                return tr_usage_error("memory", "--d must be in [1, 65536], got '%s'", arg);
            d = (uint32_t)u;
            custom = true;
            break;
        case O_CTX:
            if (!tr_parse_i64_list("memory", "--ctx", arg, ctxs, 32, &n_ctx))
                return TR_EXIT_USAGE;
            break;
        case O_TYPES:
            if (!tr_parse_pair_list("memory", "--types", arg, tk, tv, 64, &n_pairs))
                return TR_EXIT_USAGE;
            break;
        case O_NSEQ:
            if (!tr_parse_u64("memory", "--nseq", arg, &u))
                return TR_EXIT_USAGE;
            if (u == 0 || u > 4096)
                return tr_usage_error("memory", "--nseq must be in [1, 4096], got '%s'", arg);
            n_seq = (uint32_t)u;
            break;
        case O_MEASURE: do_measure = true; break;
        default: return TR_EXIT_USAGE;
        }
    }
    for (int i = 0; i < n_ctx; i++)
        if (ctxs[i] > UINT32_MAX)
            return tr_usage_error("memory", "--ctx %lld is too large", (long long)ctxs[i]);
    char mname[96];
    if (!layers)
        layers = m->layers;
    if (!heads) {
        heads = m->heads;
        kv_heads = m->kv_heads;
    }
    if (!d)
        d = m->d;
    if (custom)
        snprintf(mname, sizeof mname, "custom");
    else
        snprintf(mname, sizeof mname, "%s", m->name);
    printf("model %s: %u layers, %lld heads / %lld KV heads, d=%u, %u sequence%s\n\n", mname,
           layers, (long long)heads, (long long)kv_heads, d, n_seq, n_seq > 1 ? "s" : "");

    tq_runtime *rt = NULL;
    tr_target *targets = NULL;
    int nt = 0;
    if (do_measure) {
        if (!tr_runtime_open(&c, &rt))
            return TR_EXIT_ENV;
        if (!tr_targets_select(rt, &c, false, &targets, &nt)) {
            tq_runtime_destroy(rt);
            return TR_EXIT_ENV;
        }
    }
    cJSON *doc = c.json_path ? tr_json_doc_new("memory") : NULL;
    static const char *const hdr[] = { "ctx", "K/V", "K/layer", "V/layer", "total bytes",
                                       "total", "vs f16", "backend", "measured kv", "match",
                                       "decode scratch" };
    tr_table *t = tr_table_new(do_measure ? 11 : 7, hdr);
    int rc = TR_EXIT_OK;
    for (int ci = 0; ci < n_ctx; ci++)
        for (int pi = 0; pi < n_pairs; pi++) {
            tq_kv_cache_desc desc = { .n_layer = layers, .n_kv_head = (uint32_t)kv_heads,
                                      .head_dim = d, .n_ctx = (uint32_t)ctxs[ci],
                                      .n_seq = n_seq, .type_k = tk[pi], .type_v = tv[pi] };
            tq_kv_cache_desc f16 = desc;
            f16.type_k = f16.type_v = TQ_TYPE_F16;
            tq_kv_cache_size sz, szf;
            tq_status st = tq_kv_cache_predict(&desc, &sz);
            if (!st)
                st = tq_kv_cache_predict(&f16, &szf);
            char pair[48];
            snprintf(pair, sizeof pair, "%s/%s", tq_type_name(tk[pi]), tq_type_name(tv[pi]));
            if (st) {
                fprintf(stderr, "tqrun memory: %s at ctx %lld: %s\n", pair, (long long)ctxs[ci],
                        tq_status_message(st));
                tq_status_free(st);
                rc = TR_EXIT_FAIL;
                continue;
            }
            char cs[24], kl[32], vl[32], tb[32], tot[32], ratio[32];
            snprintf(cs, sizeof cs, "%lld", (long long)ctxs[ci]);
            tr_fmt_bytes(sz.k_bytes_per_layer, kl, sizeof kl);
            tr_fmt_bytes(sz.v_bytes_per_layer, vl, sizeof vl);
            snprintf(tb, sizeof tb, "%llu", (unsigned long long)sz.total_bytes);
            tr_fmt_bytes(sz.total_bytes, tot, sizeof tot);
            double comp = sz.total_bytes ? (double)szf.total_bytes / (double)sz.total_bytes : 0;
            snprintf(ratio, sizeof ratio, "%.2fx smaller", comp);
            if (tk[pi] == TQ_TYPE_F16 && tv[pi] == TQ_TYPE_F16)
                snprintf(ratio, sizeof ratio, "1.00x");
            int rows = do_measure ? nt : 1;
            for (int ti = 0; ti < rows; ti++) {
                char kvm[32] = "-", match[24] = "-", scr[32] = "-", bname[64] = "-";
                tq_memory_stats after;
                memset(&after, 0, sizeof after);
                bool measured = false;
                uint64_t kvb = 0, scb = 0;
                if (do_measure) {
                    tr_target *tg = &targets[ti];
                    snprintf(bname, sizeof bname, "%s", tq_backend_name(tg->backend));
                    uint64_t cap = tr_device_room(&tg->info);
                    if (cap && sz.total_bytes > cap) {
                        char have[32], need[32];
                        fprintf(stderr, "tqrun memory: %s %s ctx %lld: skipped, needs %s, "
                                "device '%s' has %s\n", bname, pair, (long long)ctxs[ci],
                                tr_fmt_bytes(sz.total_bytes, need, sizeof need), tg->info.name,
                                tr_fmt_bytes(cap, have, sizeof have));
                        snprintf(kvm, sizeof kvm, "skipped: too big");
                    } else {
                        tq_context *ctx = NULL;
                        tr_progress("memory %s %s ctx %lld", bname, pair, (long long)ctxs[ci]);
                        st = tq_context_create(tg->backend, tg->device, c.options, &ctx);
                        if (!st)
                            st = measure(ctx, &desc, (uint32_t)heads, &kvb, &scb, &after);
                        tr_progress_done();
                        if (ctx)
                            tq_context_destroy(ctx);
                        if (st) {
                            fprintf(stderr, "tqrun memory: %s %s ctx %lld: %s\n", bname, pair,
                                    (long long)ctxs[ci], tq_status_message(st));
                            snprintf(kvm, sizeof kvm, "%s", tq_code_name(tq_status_code(st)));
                            tq_status_free(st);
                            rc = TR_EXIT_FAIL;
                        } else {
                            measured = true;
                            tr_fmt_bytes(kvb, kvm, sizeof kvm);
                            snprintf(match, sizeof match, "%s",
                                     kvb == sz.total_bytes ? "exact" : "DIFFERS");
                            if (kvb != sz.total_bytes)
                                rc = TR_EXIT_FAIL;
                            tr_fmt_bytes(scb, scr, sizeof scr);
                        }
                    }
                }
                const char *row[] = { cs, pair, kl, vl, tb, tot, ratio, bname, kvm, match, scr };
                tr_table_row(t, row);
                if (doc) {
                    cJSON *rec = tr_json_record_new(doc, do_measure ? &targets[ti] : NULL, "",
                                                    "kv_cache");
                    char name[160];
                    snprintf(name, sizeof name, "%s %s ctx=%lld", mname, pair, (long long)ctxs[ci]);
                    cJSON_AddStringToObject(rec, "name", name);
                    cJSON *s = cJSON_AddObjectToObject(rec, "shape");
                    cJSON_AddStringToObject(s, "model", mname);
                    cJSON_AddNumberToObject(s, "n_layer", layers);
                    cJSON_AddNumberToObject(s, "n_head", (double)heads);
                    cJSON_AddNumberToObject(s, "n_kv_head", (double)kv_heads);
                    cJSON_AddNumberToObject(s, "d", d);
                    cJSON_AddNumberToObject(s, "n_ctx", (double)ctxs[ci]);
                    cJSON_AddNumberToObject(s, "n_seq", n_seq);
                    cJSON *ty = cJSON_AddObjectToObject(rec, "types");
                    cJSON_AddStringToObject(ty, "k", tq_type_name(tk[pi]));
                    cJSON_AddStringToObject(ty, "v", tq_type_name(tv[pi]));
                    cJSON *pr = cJSON_AddObjectToObject(rec, "predicted");
                    cJSON_AddNumberToObject(pr, "k_bytes_per_layer", (double)sz.k_bytes_per_layer);
                    cJSON_AddNumberToObject(pr, "v_bytes_per_layer", (double)sz.v_bytes_per_layer);
                    cJSON_AddNumberToObject(pr, "total_bytes", (double)sz.total_bytes);
                    cJSON_AddNumberToObject(rec, "compression_vs_f16", comp);
                    if (measured) {
                        cJSON_AddNumberToObject(rec, "measured_kv_bytes", (double)kvb);
                        cJSON_AddNumberToObject(rec, "decode_scratch_bytes", (double)scb);
                        tr_json_add_memory(rec, &after);
                        tr_json_add_check(rec, "kv_bytes_match", (double)kvb,
                                          (double)sz.total_bytes, kvb == sz.total_bytes);
                    }
                }
            }
        }
    tr_table_print(t, stdout);
    tr_table_free(t);
    if (doc && !tr_json_write(doc, c.json_path) && rc == TR_EXIT_OK)
        rc = TR_EXIT_ENV;
    cJSON_Delete(doc);
    free(targets);
    if (rt)
        tq_runtime_destroy(rt);
    return rc;
}
