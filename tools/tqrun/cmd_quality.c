/*
 * cmd_quality.c: `tqrun quality`: reconstruction error of each format on unit-sphere
 * Gaussian vectors (d = 128) through the scalar reference, beside the published figures.
 * This measures the format, not a backend: if it drifts, a codebook or the rotation
 * changed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

static const char help[] =
    "usage: tqrun quality [--n N] [--seed S] [--types t,...] [--json FILE]\n"
    "\n"
    "Quantizes N random unit vectors of dimension 128 (Gaussian, normalised) with the\n"
    "scalar reference (tq_ref_quantize_row), dequantizes them back to the original domain\n"
    "(inverse rotation) and prints the mean squared error E||x - x^||^2 and the mean cosine\n"
    "similarity per type, beside the figures of docs/formats.md: the fork's reference, the\n"
    "TurboQuant paper and the lower bound 4^-b. Exits 1 if a turbo type is outside its\n"
    "limit (MSE turbo2 0.1200, turbo3 0.0345, turbo4 0.0094; cosine 0.940, 0.982, 0.995).\n"
    "\n"
    "  --n N        vectors per type (default 100000)\n"
    "  --types L    types to measure (default q8_0,q4_0,turbo2,turbo3,turbo4)\n"
    "\n"
    "examples:\n"
    "  tqrun quality\n"
    "  tqrun quality --n 20000 --seed 7 --json quality.json\n";

enum { O_N = 1, O_TYPES };
static const tr_optspec spec[] = {
    { "n", 'n', true, O_N },
    { "types", 't', true, O_TYPES },
    { NULL, 0, false, 0 },
};

typedef struct known {
    tq_type type;
    double fork, paper, bound, cos_ref;  /* < 0: no published figure */
    double mse_limit, cos_limit;         /* < 0: no limit */
} known;

static const known figures[] = {
    { TQ_TYPE_TURBO2, 0.1188, 0.117, 0.0625, 0.941, 0.1200, 0.940 },
    { TQ_TYPE_TURBO3, 0.0339, 0.03, 0.015625, 0.983, 0.0345, 0.982 },
    { TQ_TYPE_TURBO4, 0.0092, 0.009, 0.00390625, 0.995, 0.0094, 0.995 },
};

static const known *find_known(tq_type t)
{
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
        if (figures[i].type == t)
            return &figures[i];
    return NULL;
}

static void fmt_opt(char *buf, size_t size, double v, const char *f)
{
    if (v < 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, f, v);
}

int tr_cmd_quality(int argc, char **argv)
{
    tr_common c;
    memset(&c, 0, sizeof c);
    uint64_t n = 100000;
    tq_type types[TQ_TYPE_COUNT * 2] = { TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2,
                                         TQ_TYPE_TURBO3, TQ_TYPE_TURBO4 };
    int n_types = 5;
    tr_parser p;
    tr_parser_init(&p, "quality", argc, argv);
    const char *arg;
    int id;
    while ((id = tr_opt_next(&p, spec, &c, &arg)) != TR_OPT_END) {
        switch (id) {
        case TR_OPT_HELP: fputs(help, stdout); return TR_EXIT_OK;
        case O_N:
            if (!tr_parse_u64("quality", "--n", arg, &n))
                return TR_EXIT_USAGE;
            if (n == 0)
                return tr_usage_error("quality", "--n must be at least 1");
            break;
        case O_TYPES:
            if (!tr_parse_type_list("quality", "--types", arg, types, TQ_TYPE_COUNT * 2,
                                    &n_types))
                return TR_EXIT_USAGE;
            break;
        default: return TR_EXIT_USAGE;
        }
    }
    if (c.backends || c.device || c.options)
        fprintf(stderr, "tqrun quality: measures the formats with the scalar reference; "
                "--backend/--device/--options are ignored\n");
    const uint64_t seed = c.seed_set ? c.seed : 1;
    enum { D = 128 };
    float x[D], y[D];
    uint8_t blk[256];
    cJSON *doc = c.json_path ? tr_json_doc_new("quality") : NULL;
    static const char *const hdr[] = { "type", "bits", "mse", "fork ref", "paper", "4^-b",
                                       "mse limit", "cosine", "cos ref", "cos limit", "verdict" };
    tr_table *t = tr_table_new(11, hdr);
    int rc = TR_EXIT_OK;
    for (int ti = 0; ti < n_types; ti++) {
        tq_type type = types[ti];
        tr_rng r;
        tr_rng_seed(&r, seed ^ tr_hash_str(tq_type_name(type)) ^ 0x51ull);
        double sum_mse = 0, sum_cos = 0;
        for (uint64_t i = 0; i < n; i++) {
            if ((i & 4095) == 0)
                tr_progress("quality %s: %llu/%llu", tq_type_name(type),
                            (unsigned long long)i, (unsigned long long)n);
            double nn = 0;
            for (int j = 0; j < D; j++) {
                x[j] = tr_rng_gauss(&r);
                nn += (double)x[j] * x[j];
            }
            float inv = (float)(1.0 / sqrt(nn));
            for (int j = 0; j < D; j++)
                x[j] *= inv;
            tq_status st = tq_ref_quantize_row(type, x, D, blk);
            if (!st)
                st = tq_ref_dequantize_row(type, blk, D, y, true);
            if (st) {
                tr_report(tq_type_name(type), st);
                cJSON_Delete(doc);
                tr_table_free(t);
                tr_progress_done();
                return TR_EXIT_ENV;
            }
            double e = 0, dot = 0, yy = 0, xx = 0;
            for (int j = 0; j < D; j++) {
                double dx = (double)x[j] - y[j];
                e += dx * dx;
                dot += (double)x[j] * y[j];
                yy += (double)y[j] * y[j];
                xx += (double)x[j] * x[j];
            }
            sum_mse += e;
            sum_cos += (yy > 0 && xx > 0) ? dot / sqrt(xx * yy) : 0;
        }
        tr_progress_done();
        double mse = sum_mse / (double)n, cosv = sum_cos / (double)n;
        const known *k = find_known(type);
        bool pass = !k || (mse <= k->mse_limit && cosv >= k->cos_limit);
        if (!pass)
            rc = TR_EXIT_FAIL;
        double bits = 8.0 * tq_type_block_bytes(type) / tq_type_block_elems(type);
        char b[6][32], ms[32], cs[32], bs[16];
        snprintf(ms, sizeof ms, "%.5f", mse);
        snprintf(cs, sizeof cs, "%.4f", cosv);
        snprintf(bs, sizeof bs, "%.3f", bits);
        fmt_opt(b[0], 32, k ? k->fork : -1, "%.4f");
        fmt_opt(b[1], 32, k ? k->paper : -1, "%.3f");
        fmt_opt(b[2], 32, k ? k->bound : -1, "%.4f");
        fmt_opt(b[3], 32, k ? k->mse_limit : -1, "%.4f");
        fmt_opt(b[4], 32, k ? k->cos_ref : -1, "%.3f");
        fmt_opt(b[5], 32, k ? k->cos_limit : -1, "%.3f");
        const char *row[] = { tq_type_name(type), bs, ms, b[0], b[1], b[2], b[3], cs, b[4],
                              b[5], k ? (pass ? "pass" : "FAIL") : "info" };
        tr_table_row(t, row);
        if (doc) {
            cJSON *rec = tr_json_record_new(doc, NULL, "scalar-reference", "quality");
            char name[64];
            snprintf(name, sizeof name, "%s d=128", tq_type_name(type));
            cJSON_AddStringToObject(rec, "name", name);
            cJSON *s = cJSON_AddObjectToObject(rec, "shape");
            cJSON_AddNumberToObject(s, "d", D);
            cJSON_AddNumberToObject(s, "n", (double)n);
            cJSON_AddNumberToObject(s, "seed", (double)seed);
            cJSON *ty = cJSON_AddObjectToObject(rec, "types");
            cJSON_AddStringToObject(ty, "k", tq_type_name(type));
            cJSON_AddStringToObject(ty, "v", tq_type_name(type));
            cJSON *q = cJSON_AddObjectToObject(rec, "quality");
            cJSON_AddNumberToObject(q, "mse", mse);
            cJSON_AddNumberToObject(q, "cosine", cosv);
            cJSON_AddNumberToObject(q, "bits_per_element", bits);
            if (k) {
                cJSON_AddNumberToObject(q, "fork_reference_mse", k->fork);
                cJSON_AddNumberToObject(q, "paper_mse", k->paper);
                cJSON_AddNumberToObject(q, "lower_bound_mse", k->bound);
                cJSON_AddNumberToObject(q, "cosine_limit", k->cos_limit);
            }
            tr_json_add_check(rec, "mse", mse, k ? k->mse_limit : -1, pass);
        }
    }
    tr_table_print(t, stdout);
    tr_table_free(t);
    printf("\n%llu unit vectors per type, d=128, seed %llu; mse = E||x - x^||^2 after the "
           "inverse rotation\n", (unsigned long long)n, (unsigned long long)seed);
    if (doc && !tr_json_write(doc, c.json_path) && rc == TR_EXIT_OK)
        rc = TR_EXIT_ENV;
    cJSON_Delete(doc);
    return rc;
}
