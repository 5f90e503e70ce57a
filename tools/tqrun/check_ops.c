/*
 * check_ops.c: one case of `tqrun check`: inputs made from the case's own seed, the op
 * run on the backend and on ref (check_exec.c), and the verdict by the comparison rules
 * (check_cmp.c), the guard bytes and the NaN/Inf rule.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_cases.h"

/* View misalignment of the current case (0, 4, 8 or 12 bytes past a 16-byte boundary),
 * derived from the case name so that every op sees every alignment across the set. */
static uint32_t case_misalign;

/* Gaussian rows with a per-row scale spread over ~3 decades and the first row zero, so
 * zero groups, tiny and large magnitudes are all exercised. */
static void fill_rows(tr_rng *r, float *x, int64_t n_rows, int64_t d)
{
    for (int64_t i = 0; i < n_rows; i++) {
        float s = i == 0 ? 0.0f : expf(1.2f * tr_rng_gauss(r));
        tr_fill_gauss(r, x + i * d, d, s);
    }
}

static float *quantize_host(tq_type t, const float *x, int64_t n_rows, int64_t d, uint8_t **out)
{
    uint64_t rb = tq_type_row_bytes(t, d);
    *out = malloc(rb * (uint64_t)n_rows);
    if (!*out)
        return NULL;
    for (int64_t i = 0; i < n_rows; i++) {
        tq_status st = tq_ref_quantize_row(t, x + i * d, d, *out + (uint64_t)i * rb);
        if (st) {
            tq_status_free(st);
            free(*out);
            *out = NULL;
            return NULL;
        }
    }
    return (float *)x;
}

/* max |got - ref| / max(1, max |ref|) over n floats. */
static double rel_max_err(const float *got, const float *ref, uint64_t n)
{
    double m = 0, r = 1;
    for (uint64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]);
        if (e > m || isnan(e))
            m = isnan(e) ? INFINITY : e;
        if (fabs((double)ref[i]) > r)
            r = fabs((double)ref[i]);
    }
    return m / r;
}

static tq_status run_both(tq_context *ctx, tq_context *ref, const ck_exec *e, ck_result *got,
                          ck_result *want, ck_verdict *v)
{
    ck_exec ea = *e;
    ea.misalign = case_misalign;
    tq_status st = ck_exec_run(ctx, &ea, got);
    if (st)
        return st;
    snprintf(v->variant, sizeof v->variant, "%s", got->variant);
    st = ck_exec_run(ref, &ea, want);
    if (st) {
        ck_result_free(got);
        tq_status s2 = tq_status_make(tq_status_code(st), "ref: %s", tq_status_message(st));
        tq_status_free(st);
        return s2;
    }
    return NULL;
}

static tq_status case_quantize(tq_context *ctx, tq_context *ref, const ck_case *c, tr_rng *r,
                               ck_verdict *v)
{
    const int64_t d = c->d, kvh = c->n_kv_head, nt = c->n_tokens, ns = c->n_seq;
    const int64_t n_ctx = 2 * nt + 1, n_src_rows = kvh * nt * ns;
    float *x = malloc((size_t)(n_src_rows * d) * sizeof *x);
    uint16_t *h = malloc((size_t)(n_src_rows * d) * sizeof *h);
    int64_t *rows = malloc((size_t)(nt * ns) * sizeof *rows);
    float *tmp = malloc((size_t)(d + 128) * sizeof *tmp);
    tq_status st = NULL;
    if (!x || !h || !rows || !tmp) {
        st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of host memory");
        goto done;
    }
    fill_rows(r, x, n_src_rows, d);
    if (c->type_src == TQ_TYPE_F16)
        for (int64_t i = 0; i < n_src_rows * d; i++) {
            h[i] = tq_ref_fp32_to_fp16(x[i]);
            x[i] = tq_ref_fp16_to_fp32(h[i]); /* what the op sees */
        }
    /* Every other row of each sequence: the rows in between must stay untouched. */
    for (int64_t s = 0; s < ns; s++)
        for (int64_t t = 0; t < nt; t++)
            rows[s * nt + t] = (2 * t + s) % n_ctx;

    ck_exec e;
    memset(&e, 0, sizeof e);
    e.op = CK_QUANTIZE;
    e.n_in = 1;
    e.in[0] = (ck_input){ c->type_src, { d, kvh, nt, ns }, 
                          c->type_src == TQ_TYPE_F16 ? (const void *)h : (const void *)x,
                          TQ_MEM_IO };
    e.out_type = c->type;
    e.out_ne[0] = d;
    e.out_ne[1] = n_ctx;
    e.out_ne[2] = kvh;
    e.out_ne[3] = ns;
    e.rows = rows;
    e.n_rows = nt * ns;
    ck_result got, want;
    st = run_both(ctx, ref, &e, &got, &want, v);
    if (st)
        goto done;

    const uint64_t rb = tq_type_row_bytes(c->type, d);
    const uint8_t *gv = got.parent + got.view_offset, *wv = want.parent + want.view_offset;
    uint64_t bad = 0, boundary = 0;
    for (int64_t s = 0; s < ns; s++)
        for (int64_t hh = 0; hh < kvh; hh++)
            for (int64_t row = 0; row < n_ctx; row++) {
                uint64_t off = (uint64_t)((s * kvh + hh) * n_ctx + row) * rb;
                int64_t t = -1;
                for (int64_t k = 0; k < nt; k++)
                    if (rows[s * nt + k] == row)
                        t = k;
                if (t < 0) {
                    /* untouched row: must still hold the initial pattern */
                    for (uint64_t i = 0; i < rb; i++)
                        v->guard_damage += gv[off + i] != ck_guard_byte(got.view_offset + off + i);
                    continue;
                }
                const float *xr = x + ((s * nt + t) * kvh + hh) * d;
                ck_compare_quant_row(c->type, xr, d, gv + off, wv + off, &bad, &boundary);
                if (!tq_ref_dequantize_row(c->type, gv + off, d, tmp, false))
                    v->nonfinite += ck_count_nonfinite(tmp, (uint64_t)tq_type_padded_elems(c->type, d));
            }
    v->guard_damage += ck_guard_damage(&got);
    v->boundary = boundary;
    v->metric = "mismatches";
    v->value = (double)bad;
    v->limit = 0;
    v->pass = bad == 0;
    ck_result_free(&got);
    ck_result_free(&want);
done:
    free(x);
    free(h);
    free(rows);
    free(tmp);
    return st;
}

static tq_status case_dequantize(tq_context *ctx, tq_context *ref, const ck_case *c, tr_rng *r,
                                 ck_verdict *v)
{
    const int64_t d = c->d, n = c->n_rows, pd = tq_type_padded_elems(c->type, d);
    float *x = malloc((size_t)(n * d) * sizeof *x);
    uint8_t *q = NULL;
    tq_status st = NULL;
    if (!x || (fill_rows(r, x, n, d), !quantize_host(c->type, x, n, d, &q))) {
        st = tq_status_make(TQ_CODE_INTERNAL, "tqrun: cannot prepare %s rows of d=%lld",
                            tq_type_name(c->type), (long long)d);
        goto done;
    }
    ck_exec e;
    memset(&e, 0, sizeof e);
    e.op = CK_DEQUANTIZE;
    e.n_in = 1;
    e.in[0] = (ck_input){ c->type, { d, n, 1, 1 }, q, TQ_MEM_KV };
    e.out_type = TQ_TYPE_F32;
    e.out_ne[0] = pd;
    e.out_ne[1] = n;
    e.out_ne[2] = 1;
    e.out_ne[3] = 1;
    e.flags = c->inverse ? TQ_DEQUANTIZE_INVERSE_ROTATION : 0;
    ck_result got, want;
    st = run_both(ctx, ref, &e, &got, &want, v);
    if (st)
        goto done;
    const float *gf = (const float *)(got.parent + got.view_offset);
    const float *wf = (const float *)(want.parent + want.view_offset);
    const uint64_t nf = (uint64_t)(pd * n);
    if (c->inverse) {
        /* the inverse rotation is a rotate: the rotate tolerance applies */
        v->metric = "max_rel_err";
        v->value = rel_max_err(gf, wf, nf);
        v->limit = 1e-5;
        v->pass = v->value <= v->limit;
    } else {
        uint64_t diff = 0;
        for (uint64_t i = 0; i < nf; i++)
            diff += memcmp(&gf[i], &wf[i], 4) != 0;
        v->metric = "bit_mismatches";
        v->value = (double)diff;
        v->limit = 0;
        v->pass = diff == 0;
    }
    v->nonfinite = ck_count_nonfinite(gf, nf);
    v->guard_damage = ck_guard_damage(&got);
    ck_result_free(&got);
    ck_result_free(&want);
done:
    free(x);
    free(q);
    return st;
}

static tq_status case_rotate(tq_context *ctx, tq_context *ref, const ck_case *c, tr_rng *r,
                             ck_verdict *v)
{
    const int64_t n = c->d, rows = c->n_rows;
    float *x = malloc((size_t)(n * rows) * sizeof *x);
    if (!x)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of host memory");
    fill_rows(r, x, rows, n);
    ck_exec e;
    memset(&e, 0, sizeof e);
    e.op = CK_ROTATE;
    e.inverse = c->inverse;
    e.in_place = c->in_place;
    if (c->in_place) {
        e.out_init = x;
    } else {
        e.n_in = 1;
        e.in[0] = (ck_input){ TQ_TYPE_F32, { n, rows, 1, 1 }, x, TQ_MEM_IO };
    }
    e.out_type = TQ_TYPE_F32;
    e.out_ne[0] = n;
    e.out_ne[1] = rows;
    e.out_ne[2] = 1;
    e.out_ne[3] = 1;
    ck_result got, want;
    tq_status st = run_both(ctx, ref, &e, &got, &want, v);
    if (!st) {
        const float *gf = (const float *)(got.parent + got.view_offset);
        const float *wf = (const float *)(want.parent + want.view_offset);
        v->metric = "max_rel_err";
        v->value = rel_max_err(gf, wf, (uint64_t)(n * rows));
        v->limit = 1e-5;
        v->pass = v->value <= v->limit;
        v->nonfinite = ck_count_nonfinite(gf, (uint64_t)(n * rows));
        v->guard_damage = ck_guard_damage(&got);
        ck_result_free(&got);
        ck_result_free(&want);
    }
    free(x);
    return st;
}

/* A cache of n_ctx rows per head whose rows beyond n_kv are 0xFF bytes: NaN in every
 * type's scale or value, so a kernel that reads past n_kv produces NaN and fails. */
static uint8_t *make_cache(tq_type t, tr_rng *r, const ck_case *c, int64_t n_ctx, float *tmp)
{
    const uint64_t rb = tq_type_row_bytes(t, c->d);
    const int64_t n_rows = n_ctx * c->n_kv_head * c->n_seq;
    uint8_t *buf = malloc(rb * (uint64_t)n_rows);
    if (!buf)
        return NULL;
    for (int64_t i = 0; i < n_rows; i++) {
        uint8_t *dst = buf + (uint64_t)i * rb;
        if (i % n_ctx >= c->n_kv) {
            memset(dst, 0xFF, rb);
            continue;
        }
        tr_fill_gauss(r, tmp, c->d, 1.0f);
        tq_status st = tq_ref_quantize_row(t, tmp, c->d, dst);
        if (st) {
            tq_status_free(st);
            free(buf);
            return NULL;
        }
    }
    return buf;
}

static tq_status case_attention(tq_context *ctx, tq_context *ref, const ck_case *c, tr_rng *r,
                                ck_verdict *v)
{
    const int64_t d = c->d, n_ctx = c->n_kv + 3;
    const int64_t nqf = d * c->n_head * c->n_q * c->n_seq;
    float *q = malloc((size_t)nqf * sizeof *q), *tmp = malloc((size_t)d * sizeof *tmp);
    uint8_t *k = NULL, *vv = NULL;
    tq_status st = NULL;
    if (q && tmp) {
        tr_fill_gauss(r, q, nqf, 1.0f);
        k = make_cache(c->type_k, r, c, n_ctx, tmp);
        vv = make_cache(c->type_v, r, c, n_ctx, tmp);
    }
    if (!q || !tmp || !k || !vv) {
        st = tq_status_make(TQ_CODE_INTERNAL, "tqrun: cannot prepare attention inputs");
        goto done;
    }
    ck_exec e;
    memset(&e, 0, sizeof e);
    e.op = CK_ATTENTION;
    e.n_in = 3;
    e.in[0] = (ck_input){ TQ_TYPE_F32, { d, c->n_head, c->n_q, c->n_seq }, q, TQ_MEM_IO };
    e.in[1] = (ck_input){ c->type_k, { d, n_ctx, c->n_kv_head, c->n_seq }, k, TQ_MEM_KV };
    e.in[2] = (ck_input){ c->type_v, { d, n_ctx, c->n_kv_head, c->n_seq }, vv, TQ_MEM_KV };
    e.out_type = TQ_TYPE_F32;
    e.out_ne[0] = d;
    e.out_ne[1] = c->n_head;
    e.out_ne[2] = c->n_q;
    e.out_ne[3] = c->n_seq;
    e.n_kv = c->n_kv;
    e.q_pos0 = c->q_pos0;
    e.causal = c->causal;
    e.softcap = c->softcap;
    e.scale = 0.0f;
    ck_result got, want;
    st = run_both(ctx, ref, &e, &got, &want, v);
    if (st)
        goto done;
    const float *gf = (const float *)(got.parent + got.view_offset);
    const float *wf = (const float *)(want.parent + want.view_offset);
    double num = 0, den = 0;
    for (int64_t i = 0; i < nqf; i++) {
        double dd = (double)gf[i] - (double)wf[i];
        num += dd * dd;
        den += (double)wf[i] * (double)wf[i];
    }
    v->metric = "nmse";
    v->value = den > 0 ? num / den : num;
    if (isnan(v->value))
        v->value = INFINITY;
    v->limit = 1e-6;
    v->pass = v->value <= v->limit;
    v->nonfinite = ck_count_nonfinite(gf, (uint64_t)nqf);
    v->guard_damage = ck_guard_damage(&got);
    ck_result_free(&got);
    ck_result_free(&want);
done:
    free(q);
    free(tmp);
    free(k);
    free(vv);
    return st;
}

void ck_run_case(tq_context *ctx, tq_context *ref, const ck_case *c, uint64_t seed,
                 ck_verdict *v)
{
    char types[64], shape[128], label[256];
    ck_case_types(c, types, sizeof types);
    ck_case_shape(c, shape, sizeof shape);
    snprintf(label, sizeof label, "%s %s %s", ck_op_name(c->op), types, shape);
    tr_rng r;
    tr_rng_seed(&r, seed ^ tr_hash_str(label));
    case_misalign = (uint32_t)(tr_hash_str(label) >> 17) % 4u * 4u;
    memset(v, 0, sizeof *v);
    tq_status st;
    switch (c->op) {
    case CK_QUANTIZE: st = case_quantize(ctx, ref, c, &r, v); break;
    case CK_DEQUANTIZE: st = case_dequantize(ctx, ref, c, &r, v); break;
    case CK_ROTATE: st = case_rotate(ctx, ref, c, &r, v); break;
    default: st = case_attention(ctx, ref, c, &r, v); break;
    }
    if (st) {
        /* A backend may decline what its device cannot do; anything else is a failure. */
        v->skipped = tq_status_code(st) == TQ_CODE_UNSUPPORTED;
        v->pass = false;
        v->metric = v->skipped ? "unsupported" : "error";
        v->value = 0;
        snprintf(v->reason, sizeof v->reason, "%s", tq_status_message(st));
        tq_status_free(st);
        return;
    }
    if (v->guard_damage || v->nonfinite)
        v->pass = false;
}

