/*
 * attention_ref.c: reference attention in double precision.
 *
 * Independent of the fused path the backends take: K and V rows are dequantized to the
 * ORIGINAL domain (turbo groups inverse-rotated in double) and attention is computed
 * plainly on them. Backends instead rotate Q and un-rotate the output; both agree up to
 * rounding because the rotation is orthogonal, which is what `tqrun check` verifies.
 *
 * Work memory is allocated once per call on the heap (64 KiB thread stacks must do):
 * the K and V rows of one (sequence, kv head) in double, the scores, an accumulator.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tq/tq_ref.h"
#include "tq_formats_internal.h"

/* Dimensions are bounded so that every index product below fits in int64 and size_t. */
#define DIM_MAX ((int64_t)1 << 31)

static tq_status bad(const char *what, long long value)
{
    return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_ref_attention: %s (got %lld)", what,
                          value);
}

static tq_status check_args(const tq_ref_attention_args *a)
{
    if (!a)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_ref_attention: args is NULL");
    if (!a->q || !a->k || !a->v || !a->out)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_ref_attention: %s is NULL",
                              !a->q ? "q" : !a->k ? "k" : !a->v ? "v" : "out");
    if (!tq_type_is_valid(a->type_k))
        return bad("type_k is not a valid tq_type", a->type_k);
    if (!tq_type_is_valid(a->type_v))
        return bad("type_v is not a valid tq_type", a->type_v);
    const struct { const char *name; int64_t v; } dims[] = {
        { "d", a->d }, { "n_head", a->n_head }, { "n_q", a->n_q }, { "n_seq", a->n_seq },
        { "n_kv_head", a->n_kv_head }, { "n_ctx", a->n_ctx }, { "n_kv", a->n_kv },
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < 1 || dims[i].v > DIM_MAX)
            return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                                  "tq_ref_attention: %s must be in [1, 2^31] (got %lld)",
                                  dims[i].name, (long long)dims[i].v);
    if (tq_type_row_bytes(a->type_k, a->d) == 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_ref_attention: d=%lld is not valid for K type %s",
                              (long long)a->d, tq_type_name(a->type_k));
    if (tq_type_row_bytes(a->type_v, a->d) == 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_ref_attention: d=%lld is not valid for V type %s",
                              (long long)a->d, tq_type_name(a->type_v));
    if (a->n_head % a->n_kv_head != 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_ref_attention: n_head=%lld is not a multiple of n_kv_head=%lld",
                              (long long)a->n_head, (long long)a->n_kv_head);
    if (a->n_kv > a->n_ctx)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_ref_attention: n_kv=%lld exceeds n_ctx=%lld",
                              (long long)a->n_kv, (long long)a->n_ctx);
    if (!isfinite(a->scale) || a->scale == 0.0f)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_ref_attention: scale must be finite and non-zero (got %g)",
                              (double)a->scale);
    if (!isfinite(a->softcap) || a->softcap < 0.0f)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_ref_attention: softcap must be finite and >= 0 (got %g)",
                              (double)a->softcap);
    if (a->causal && (a->q_pos0 < 0 || a->q_pos0 > a->n_kv - a->n_q))
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_ref_attention: causal needs 0 <= q_pos0 and q_pos0 + n_q <= "
                              "n_kv (q_pos0=%lld, n_q=%lld, n_kv=%lld)",
                              (long long)a->q_pos0, (long long)a->n_q, (long long)a->n_kv);
    return NULL;
}

/* Work memory of one call. */
typedef struct work {
    double *k, *v;        /* n_kv rows of dp doubles each */
    double *scores;       /* n_kv */
    double *acc;          /* d */
    float *tmp;           /* dp floats for dequantizing a row */
} work;

static void work_free(work *w)
{
    free(w->k);
    free(w->v);
    free(w->scores);
    free(w->acc);
    free(w->tmp);
}

static tq_status work_alloc(work *w, int64_t n_kv, int64_t d, int64_t dp)
{
    size_t rows;
    *w = (work){ 0 };
    if (__builtin_mul_overflow((size_t)n_kv, (size_t)dp * sizeof(double), &rows))
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY,
                              "tq_ref_attention: %lld x %lld work rows overflow size_t",
                              (long long)n_kv, (long long)dp);
    w->k = malloc(rows);
    w->v = malloc(rows);
    w->scores = malloc((size_t)n_kv * sizeof(double));
    w->acc = malloc((size_t)d * sizeof(double));
    w->tmp = malloc((size_t)dp * sizeof(float));
    if (!w->k || !w->v || !w->scores || !w->acc || !w->tmp) {
        work_free(w);
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY,
                              "tq_ref_attention: cannot allocate %zu bytes of work memory",
                              2 * rows + (size_t)n_kv * sizeof(double));
    }
    return NULL;
}

/* Attention of one query row qv against the n_vis first rows of w->k / w->v. */
static void attend_one(const tq_ref_attention_args *a, const float *qv, int64_t n_vis,
                       int64_t dp, work *w, float *outv)
{
    const int64_t d = a->d;
    const double scale = a->scale, cap = a->softcap;
    double smax = -INFINITY;
    for (int64_t j = 0; j < n_vis; j++) {
        const double *kr = w->k + j * dp;
        double dot = 0.0;
        for (int64_t c = 0; c < d; c++)
            dot += (double)qv[c] * kr[c];
        double s = scale * dot;
        if (cap > 0.0)
            s = cap * tanh(s / cap);
        w->scores[j] = s;
        if (s > smax)
            smax = s;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n_vis; j++) {
        w->scores[j] = exp(w->scores[j] - smax);
        sum += w->scores[j];
    }
    for (int64_t c = 0; c < d; c++)
        w->acc[c] = 0.0;
    for (int64_t j = 0; j < n_vis; j++) {
        const double p = w->scores[j];
        const double *vr = w->v + j * dp;
        for (int64_t c = 0; c < d; c++)
            w->acc[c] += p * vr[c];
    }
    for (int64_t c = 0; c < d; c++)
        outv[c] = (float)(w->acc[c] / sum);
}

TQ_API tq_status tq_ref_attention(const tq_ref_attention_args *args)
{
    tq_status st = check_args(args);
    if (st)
        return st;
    const tq_ref_attention_args *a = args;
    const int64_t d = a->d;
    const int64_t dpk = tq_type_padded_elems(a->type_k, d);
    const int64_t dpv = tq_type_padded_elems(a->type_v, d);
    const int64_t dp = dpk > dpv ? dpk : dpv;
    const uint64_t rbk = tq_type_row_bytes(a->type_k, d);
    const uint64_t rbv = tq_type_row_bytes(a->type_v, d);
    const int64_t group = a->n_head / a->n_kv_head;

    work w;
    st = work_alloc(&w, a->n_kv, d, dp);
    if (st)
        return st;

    for (int64_t s = 0; s < a->n_seq; s++) {
        for (int64_t kh = 0; kh < a->n_kv_head; kh++) {
            /* Row 0 of this (sequence, kv head) in the [d, n_ctx, n_kv_head, n_seq] cache. */
            const uint64_t row0 = (uint64_t)((s * a->n_kv_head + kh) * a->n_ctx);
            for (int64_t j = 0; j < a->n_kv; j++) {
                tq_fmt_dequantize_row_d(a->type_k, (const uint8_t *)a->k + (row0 + j) * rbk,
                                        d, w.k + j * dp, w.tmp);
                tq_fmt_dequantize_row_d(a->type_v, (const uint8_t *)a->v + (row0 + j) * rbv,
                                        d, w.v + j * dp, w.tmp);
            }
            for (int64_t h = kh * group; h < (kh + 1) * group; h++) {
                for (int64_t i = 0; i < a->n_q; i++) {
                    const int64_t at = ((s * a->n_q + i) * a->n_head + h) * d;
                    const int64_t n_vis = a->causal ? a->q_pos0 + i + 1 : a->n_kv;
                    attend_one(a, a->q + at, n_vis, dp, &w, a->out + at);
                }
            }
        }
    }
    work_free(&w);
    return NULL;
}
