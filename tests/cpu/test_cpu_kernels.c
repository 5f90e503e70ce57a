/*
 * test_cpu_kernels.c: the CPU backend's kernels against the scalar reference (tq_ref_*),
 * for every variant this CPU can run (scalar and avx2 here; avx512 where cpuid has it).
 * Drives cpu_exec_op, i.e. exactly what the plugin runs, without the runtime.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_isa.h"
#include "cpu_test_util.h"
#include "tq/tq_ref.h"

/* "avx2:i16": avx2 with option kdot=i16 (int16 turbo3 K dots, k-i16; plain avx2 does every
 * K dot in fp32). */
static const char *const variant_names[] = { "scalar", "avx2", "avx512", "avx2:i16" };
#define N_VARIANTS 4
static const tq_type all_types[] = { TQ_TYPE_F32, TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0,
                                     TQ_TYPE_TURBO2, TQ_TYPE_TURBO3, TQ_TYPE_TURBO4 };
static const char *const type_names[] = { "f32", "f16", "q8_0", "q4_0", "turbo2", "turbo3", "turbo4" };

/* Opens variant v with threads; false (and a printed skip note) if this CPU lacks it. */
static bool open_variant(ct_exec *e, int v, int threads)
{
    if (ct_exec_init(e, variant_names[v], threads))
        return true;
    char err[256];
    const cpu_kernels *k;
    snprintf(err, sizeof(err), "not selectable");
    cpu_isa_select(variant_names[v], &k, err, sizeof(err));
    if (v != 2)   /* scalar and avx2 must run on the project's machines */
        fail_msg("variant %s unavailable: %s", variant_names[v], err);
    print_message("[ SKIP     ] variant %s: %s\n", variant_names[v], err);
    return false;
}

static void exec_ok(ct_exec *e, const tq_op *op, cpu_op_info *info)
{
    char err[256] = "";
    tq_code c = cpu_exec_op(&e->ex, op, info, err, sizeof(err));
    if (c != TQ_CODE_OK)
        fail_msg("op failed: %s", err);
}

/* ------------------------------------------------------------------ rotate */

static void test_rotate_matches_reference(void **state)
{
    (void)state;
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 2))
            continue;
        ct_rng rng = { 11 };
        for (int inv = 0; inv < 2; inv++) {
            ct_tensor src, dst;
            ct_tensor_init(&src, TQ_TYPE_F32, 256, 3, 1, 1);
            ct_tensor_init(&dst, TQ_TYPE_F32, 256, 3, 1, 1);
            float *x = (float *)(void *)src.buf.ptr;
            ct_fill_gauss(&rng, x, 256 * 3, 1.5f);
            tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_ROTATE, .src = src.ref,
                         .dst = dst.ref, .inverse = inv != 0 };
            cpu_op_info info;
            exec_ok(&e, &op, &info);
            assert_true(!strncmp(info.variant, variant_names[v], strlen(info.variant)));
            const float *y = (const float *)(void *)dst.buf.ptr;
            for (int g = 0; g < 6; g++) {
                float ref[128], mx = 1.0f, md = 0.0f;
                memcpy(ref, x + g * 128, sizeof(ref));
                if (inv)
                    tq_ref_rotate_inverse(ref);
                else
                    tq_ref_rotate_forward(ref);
                for (int i = 0; i < 128; i++) {
                    mx = fmaxf(mx, fabsf(ref[i]));
                    md = fmaxf(md, fabsf(y[g * 128 + i] - ref[i]));
                }
                if (md > 1e-5f * mx)
                    fail_msg("%s rotate %s group %d: max diff %g", variant_names[v],
                             inv ? "inverse" : "forward", g, md);
            }
            ct_tensor_free(&src);
            ct_tensor_free(&dst);
        }
        ct_exec_free(&e);
    }
}

/* ------------------------------------------------------------------ quantize */

static void check_quantize(ct_exec *e, const char *vname, tq_type type, tq_type src_type, int64_t d)
{
    const int64_t n_kvh = 3, n_tok = 5, n_seq = 2, n_ctx = 9;
    ct_rng rng = { (uint64_t)(type * 131 + d + src_type * 7) };
    ct_tensor src, dst;
    ct_tensor_init(&src, src_type, d, n_kvh, n_tok, n_seq);
    ct_tensor_init(&dst, type, d, n_ctx, n_kvh, n_seq);
    int64_t n_src = d * n_kvh * n_tok * n_seq;
    float *xf = malloc((size_t)n_src * 4);
    ct_fill_gauss(&rng, xf, n_src, 1.0f);
    /* exact zeros and a tie for q4_0's first-of-equal-magnitudes rule */
    for (int64_t i = 0; i < d; i++)
        xf[i] = 0.0f;
    xf[d + 3] = 2.5f;
    xf[d + 7] = -2.5f;
    if (src_type == TQ_TYPE_F16) {
        for (int64_t i = 0; i < n_src; i++) {
            uint16_t h = tq_ref_fp32_to_fp16(xf[i]);
            memcpy(src.buf.ptr + 2 * i, &h, 2);
            xf[i] = tq_ref_fp16_to_fp32(h);
        }
    } else {
        memcpy(src.buf.ptr, xf, (size_t)n_src * 4);
    }
    int64_t rows[10] = { 8, 0, 3, 5, 1, 2, 7, 4, 6, 0 };
    tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_QUANTIZE, .src = src.ref,
                 .dst = dst.ref, .rows = rows, .n_rows = n_tok * n_seq };
    cpu_op_info info;
    exec_ok(e, &op, &info);
    uint64_t rb = cpu_row_bytes(type, d);
    uint8_t *want = malloc(rb);
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t h = 0; h < n_kvh; h++) {
                const float *x = xf + ((s * n_tok + t) * n_kvh + h) * d;
                tq_status st = tq_ref_quantize_row(type, x, d, want);
                assert_null(st);
                const uint8_t *got = dst.buf.ptr + dst.ref.nb[1] * (uint64_t)rows[s * n_tok + t] +
                                     dst.ref.nb[2] * (uint64_t)h + dst.ref.nb[3] * (uint64_t)s;
                int bad = ct_quant_row_violations(type, x, d, got, want);
                if (bad)
                    fail_msg("%s quantize %s from %s d=%lld (s%lld t%lld h%lld): %d differences "
                             "not explained by a boundary", vname, tq_type_name(type),
                             tq_type_name(src_type), (long long)d, (long long)s, (long long)t,
                             (long long)h, bad);
            }
    /* rows never written stay zero */
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t h = 0; h < n_kvh; h++) {
            const uint8_t *r = dst.buf.ptr + dst.ref.nb[2] * (uint64_t)h + dst.ref.nb[3] * (uint64_t)s;
            int64_t unused = s == 0 ? 6 : 0;   /* seq 0 wrote rows 8,0,3,5,1 */
            if (s == 0)
                for (uint64_t b = 0; b < rb; b++)
                    assert_int_equal(r[(uint64_t)unused * rb + b], 0);
        }
    free(want);
    free(xf);
    ct_tensor_free(&src);
    ct_tensor_free(&dst);
}

static void test_quantize_matches_reference(void **state)
{
    (void)state;
    static const int64_t ds[] = { 64, 128, 256, 96 };
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 3))
            continue;
        for (int t = 0; t < 7; t++)
            for (int di = 0; di < 4; di++) {
                check_quantize(&e, variant_names[v], all_types[t], TQ_TYPE_F32, ds[di]);
                check_quantize(&e, variant_names[v], all_types[t], TQ_TYPE_F16, ds[di]);
            }
        ct_exec_free(&e);
    }
}

/* ------------------------------------------------------------------ dequantize */

static void test_dequantize_bit_exact(void **state)
{
    (void)state;
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 2))
            continue;
        for (int t = 0; t < 7; t++)
            for (int64_t d = 64; d <= 256; d *= 2)
                for (int inv = 0; inv < 2; inv++) {
                    tq_type type = all_types[t];
                    const int64_t n_rows = 7;
                    ct_rng rng = { (uint64_t)(t * 17 + d) };
                    ct_tensor src, dst;
                    int64_t dp = cpu_padded_elems(type, d);
                    ct_tensor_init(&src, type, d, n_rows, 1, 1);
                    ct_tensor_init(&dst, TQ_TYPE_F32, dp, n_rows, 1, 1);
                    float x[256], want[256];
                    for (int64_t r = 0; r < n_rows; r++) {
                        ct_fill_gauss(&rng, x, d, r == 3 ? 0.0f : 0.7f);
                        assert_null(tq_ref_quantize_row(type, x, d, src.buf.ptr + r * src.ref.nb[1]));
                    }
                    tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_DEQUANTIZE,
                                 .src = src.ref, .dst = dst.ref,
                                 .flags = inv ? TQ_DEQUANTIZE_INVERSE_ROTATION : 0 };
                    cpu_op_info info;
                    exec_ok(&e, &op, &info);
                    for (int64_t r = 0; r < n_rows; r++) {
                        assert_null(tq_ref_dequantize_row(type, src.buf.ptr + r * src.ref.nb[1], d,
                                                          want, inv != 0));
                        const float *got = (const float *)(void *)(dst.buf.ptr + r * dst.ref.nb[1]);
                        if (memcmp(got, want, (size_t)dp * 4))
                            fail_msg("%s dequantize %s d=%lld%s row %lld is not bit-exact",
                                     variant_names[v], type_names[t], (long long)d,
                                     inv ? " (inverse)" : "", (long long)r);
                    }
                    ct_tensor_free(&src);
                    ct_tensor_free(&dst);
                }
        ct_exec_free(&e);
    }
}

/* ------------------------------------------------------------------ attention */

typedef struct attn_case {
    tq_type tk, tv;
    int64_t d, n_head, n_kvh, n_q, n_seq, n_ctx, n_kv;
    bool causal;
    int64_t q_pos0;
    float softcap;
    float q_scale;      /* std of q elements; 0 = 2 */
    float q_outlier;    /* 0, or the factor one element in 16 of q is multiplied by */
} attn_case;

/* Worst attention NMSE seen per K-dot path, for the report of the peaky test. */
static double worst_nmse_i16, worst_nmse_f32;

/* Returns NMSE of the backend against tq_ref_attention on the same quantized cache. */
static double run_attention(ct_exec *e, const attn_case *c, char *variant, size_t vlen)
{
    ct_rng rng = { (uint64_t)(c->tk * 7 + c->tv * 131 + c->d + c->n_head * 3 + c->n_q) };
    ct_tensor q, k, v, out;
    ct_tensor_init(&q, TQ_TYPE_F32, c->d, c->n_head, c->n_q, c->n_seq);
    ct_tensor_init(&k, c->tk, c->d, c->n_ctx, c->n_kvh, c->n_seq);
    ct_tensor_init(&v, c->tv, c->d, c->n_ctx, c->n_kvh, c->n_seq);
    ct_tensor_init(&out, TQ_TYPE_F32, c->d, c->n_head, c->n_q, c->n_seq + 1);  /* + guard */
    int64_t n_out = c->d * c->n_head * c->n_q * c->n_seq;
    float *outp = (float *)(void *)out.buf.ptr;
    for (int64_t i = n_out; i < n_out + c->d * c->n_head * c->n_q; i++)
        outp[i] = 12345.0f;
    ct_fill_gauss(&rng, (float *)(void *)q.buf.ptr, n_out, c->q_scale > 0.0f ? c->q_scale : 2.0f);
    if (c->q_outlier != 0.0f)
        for (int64_t i = 0; i < n_out; i += 16)
            ((float *)(void *)q.buf.ptr)[i] *= c->q_outlier;
    float x[256];
    int64_t n_rows = c->n_ctx * c->n_kvh * c->n_seq;
    for (int64_t r = 0; r < n_rows; r++) {
        ct_fill_gauss(&rng, x, c->d, 1.0f);
        assert_null(tq_ref_quantize_row(c->tk, x, c->d, k.buf.ptr + r * k.ref.nb[1]));
        ct_fill_gauss(&rng, x, c->d, 1.0f);
        assert_null(tq_ref_quantize_row(c->tv, x, c->d, v.buf.ptr + r * v.ref.nb[1]));
    }
    tq_ref_attention_args ra = {
        .q = (const float *)(void *)q.buf.ptr, .k = k.buf.ptr, .v = v.buf.ptr,
        .type_k = c->tk, .type_v = c->tv, .d = c->d, .n_head = c->n_head, .n_q = c->n_q,
        .n_seq = c->n_seq, .n_kv_head = c->n_kvh, .n_ctx = c->n_ctx, .n_kv = c->n_kv,
        .scale = 1.0f / sqrtf((float)c->d), .softcap = c->softcap, .causal = c->causal,
        .q_pos0 = c->q_pos0,
    };
    float *want = malloc((size_t)n_out * 4);
    ra.out = want;
    assert_null(tq_ref_attention(&ra));
    tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_ATTENTION, .q = q.ref, .k = k.ref,
                 .v = v.ref, .out = out.ref, .n_kv = c->n_kv, .scale = ra.scale,
                 .softcap = c->softcap, .causal = c->causal, .q_pos0 = c->q_pos0 };
    op.out.ne[3] = c->n_seq;
    cpu_op_info info;
    exec_ok(e, &op, &info);
    if (variant)
        snprintf(variant, vlen, "%s", info.variant);
    assert_true(ct_all_finite(outp, n_out));
    for (int64_t i = n_out; i < n_out + c->d * c->n_head * c->n_q; i++)
        assert_true(outp[i] == 12345.0f);
    double nmse = ct_nmse(outp, want, n_out);
    free(want);
    ct_tensor_free(&q);
    ct_tensor_free(&k);
    ct_tensor_free(&v);
    ct_tensor_free(&out);
    return nmse;
}

static void expect_attention(ct_exec *e, const char *vname, const attn_case *c)
{
    char variant[64];
    double nmse = run_attention(e, c, variant, sizeof(variant));
    if (getenv("CT_PRINT_NMSE") && c->tk == TQ_TYPE_TURBO3)
        print_message("NMSE %-10s %-22s V=%d d=%lld nq=%lld qs=%g out=%g: %.3g\n", vname,
                      variant, (int)c->tv, (long long)c->d, (long long)c->n_q, c->q_scale,
                      c->q_outlier, nmse);
    if (!(nmse <= 1e-6))
        fail_msg("%s attention K=%s V=%s d=%lld heads %lld/%lld n_q=%lld n_kv=%lld%s%s: NMSE %g > 1e-6",
                 vname, type_names[c->tk], type_names[c->tv], (long long)c->d,
                 (long long)c->n_head, (long long)c->n_kvh, (long long)c->n_q, (long long)c->n_kv,
                 c->causal ? " causal" : "", c->softcap > 0 ? " softcap" : "", nmse);
    char base[32];
    snprintf(base, sizeof(base), "%.*s", (int)strcspn(vname, ":"), vname);
    assert_non_null(strstr(variant, base));
    /* kdot=i16 runs turbo3 K dots in int16 where the error bound allows ("/k-i16", or
     * "/k-i16+f32" / "/k-f32" for kv heads that needed fp32); plain avx2 never does */
    bool i16 = strstr(variant, "/k-i16") != NULL;
    if (strstr(vname, ":i16"))
        assert_true((strstr(variant, "/k-") != NULL) == (c->tk == TQ_TYPE_TURBO3));
    else
        assert_null(strstr(variant, "/k-"));
    double *w = i16 ? &worst_nmse_i16 : &worst_nmse_f32;
    if (c->tk == TQ_TYPE_TURBO3 && nmse > *w)
        *w = nmse;
}

/* Peaky attention (q 10-30x the usual norm: softmax near one-hot, logits large, where an
 * error relative to |q| in the scores matters most), near-uniform attention (q 100x
 * smaller), and q with outlier channels (int16 Q scaling is set by max|q|). */
static void test_attention_peaky_uniform_outliers(void **state)
{
    (void)state;
    static const float scales[] = { 20.0f, 60.0f, 0.02f, 2.0f };
    static const float outliers[] = { 0.0f, 0.0f, 0.0f, 100.0f };
    static const tq_type vts[] = { TQ_TYPE_TURBO3, TQ_TYPE_F16, TQ_TYPE_Q8_0 };
    static const int64_t ds[] = { 128, 64, 256 };
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 2))
            continue;
        for (int si = 0; si < 4; si++)
            for (int vi = 0; vi < 3; vi++)
                for (int di = 0; di < 3; di++) {
                    attn_case c = { TQ_TYPE_TURBO3, vts[vi], ds[di], 8, 2, 1, 1, 1200, 1100,
                                    false, 0, 0.0f, scales[si], outliers[si] };
                    expect_attention(&e, variant_names[v], &c);
                    attn_case p = { TQ_TYPE_TURBO3, vts[vi], ds[di], 8, 2, 5, 1, 300, 300,
                                    true, 295, 0.0f, scales[si], outliers[si] };
                    expect_attention(&e, variant_names[v], &p);
                }
        ct_exec_free(&e);
    }
    /* which path ran: ordinary q on the integer path, |q| x30 on fp32 (the bound) */
    ct_exec e;
    if (open_variant(&e, 3, 2)) {
        char variant[64];
        attn_case n = { TQ_TYPE_TURBO3, TQ_TYPE_F16, 128, 8, 2, 1, 1, 500, 500, false, 0, 0.0f,
                        2.0f, 0.0f };
        assert_true(run_attention(&e, &n, variant, sizeof(variant)) <= 1e-6);
        assert_non_null(strstr(variant, "/k-i16"));
        assert_null(strstr(variant, "+f32"));
        n.q_scale = 60.0f;
        assert_true(run_attention(&e, &n, variant, sizeof(variant)) <= 1e-6);
        assert_non_null(strstr(variant, "/k-f32"));
        ct_exec_free(&e);
    }
    print_message("[ NOTE     ] worst turbo3-K attention NMSE so far: k-i16 %.3g, fp32 %.3g "
                  "(limit 1e-6)\n", worst_nmse_i16, worst_nmse_f32);
}

static void test_attention_every_kv_type_pair(void **state)
{
    (void)state;
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 2))
            continue;
        for (int a = 0; a < 7; a++)
            for (int b = 0; b < 7; b++) {
                attn_case c = { all_types[a], all_types[b], 128, 8, 2, 2, 2, 160, 150,
                                false, 0, 0.0f, 0.0f, 0.0f };
                expect_attention(&e, variant_names[v], &c);
            }
        ct_exec_free(&e);
    }
}

static void test_attention_gqa_head_sizes_decode_prefill(void **state)
{
    (void)state;
    static const tq_type pairs[][2] = {
        { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 }, { TQ_TYPE_Q8_0, TQ_TYPE_TURBO4 },
        { TQ_TYPE_F16, TQ_TYPE_F16 }, { TQ_TYPE_Q4_0, TQ_TYPE_TURBO2 },
    };
    static const int64_t gqa[] = { 1, 4, 8 }, ds[] = { 64, 128, 256 };
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 3))
            continue;
        for (int p = 0; p < 4; p++)
            for (int g = 0; g < 3; g++)
                for (int di = 0; di < 3; di++) {
                    int64_t n_kvh = 2, n_head = n_kvh * gqa[g];
                    /* decode, n_q 1..8 */
                    for (int64_t nq = 1; nq <= 8; nq += (nq == 1 ? 2 : 5)) {
                        attn_case c = { pairs[p][0], pairs[p][1], ds[di], n_head, n_kvh, nq, 1,
                                        100, 77, false, 0, 0.0f, 0.0f, 0.0f };
                        expect_attention(&e, variant_names[v], &c);
                    }
                    /* prefill: causal, queries at the end of the context */
                    attn_case c = { pairs[p][0], pairs[p][1], ds[di], n_head, n_kvh, 11, 2,
                                    100, 90, true, 79, 0.0f, 0.0f, 0.0f };
                    expect_attention(&e, variant_names[v], &c);
                }
        ct_exec_free(&e);
    }
}

static void test_attention_softcap_and_causal_from_zero(void **state)
{
    (void)state;
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 2))
            continue;
        attn_case c1 = { TQ_TYPE_TURBO3, TQ_TYPE_Q8_0, 128, 8, 2, 3, 1, 300, 257, false, 0, 5.0f, 0.0f, 0.0f };
        expect_attention(&e, variant_names[v], &c1);
        attn_case c2 = { TQ_TYPE_F32, TQ_TYPE_TURBO4, 64, 4, 4, 70, 1, 80, 70, true, 0, 30.0f, 0.0f, 0.0f };
        expect_attention(&e, variant_names[v], &c2);
        ct_exec_free(&e);
    }
}

static void test_attention_split_k_long_context(void **state)
{
    (void)state;
    for (int v = 0; v < N_VARIANTS; v++) {
        ct_exec e;
        if (!open_variant(&e, v, 4))
            continue;
        attn_case c = { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3, 128, 16, 4, 1, 1, 2048, 2000, false, 0, 0.0f, 0.0f, 0.0f };
        char variant[64];
        double nmse = run_attention(&e, &c, variant, sizeof(variant));
        assert_true(nmse <= 1e-6);
        assert_non_null(strstr(variant, "/gqa4"));
        assert_non_null(strstr(variant, "/split"));
        ct_exec_free(&e);
    }
}

/* Scratch comes from the dispatch (n_kv, rows, threads), never from the cache's n_ctx. */
static void test_attention_scratch_independent_of_n_ctx(void **state)
{
    (void)state;
    tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_ATTENTION, .n_kv = 1000 };
    op.q.type = TQ_TYPE_F32;
    op.q.ne[0] = 128; op.q.ne[1] = 32; op.q.ne[2] = 1; op.q.ne[3] = 1;
    op.k.type = op.v.type = TQ_TYPE_TURBO3;
    op.k.ne[0] = 128; op.k.ne[1] = 4096; op.k.ne[2] = 8; op.k.ne[3] = 1;
    op.k.nb[1] = op.v.nb[1] = 50;
    size_t small = cpu_attention_scratch_bytes(&op, 2);
    op.k.ne[1] = op.v.ne[1] = 1 << 20;
    assert_int_equal(cpu_attention_scratch_bytes(&op, 2), small);
    /* and it stays modest for a 32K decode */
    op.n_kv = 32768;
    assert_true(cpu_attention_scratch_bytes(&op, 2) < (1u << 20));
}

static void test_scratch_reserved_once_and_accounted(void **state)
{
    (void)state;
    ct_exec e;
    assert_true(open_variant(&e, 1, 2));
    attn_case c = { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3, 128, 8, 2, 1, 1, 600, 600, false, 0, 0.0f, 0.0f, 0.0f };
    run_attention(&e, &c, NULL, 0);
    int64_t after_first = e.accounted;
    assert_true(after_first > 0);
    assert_int_equal((int64_t)e.scratch.size, after_first);
    run_attention(&e, &c, NULL, 0);
    c.n_kv = 300;
    run_attention(&e, &c, NULL, 0);
    assert_int_equal(e.accounted, after_first);   /* no growth for same or smaller shapes */
    ct_exec_free(&e);
    assert_int_equal(e.accounted, 0);
}

/* ------------------------------------------------------------------ small stacks */

typedef struct stack_job {
    int variant;
    int done;
} stack_job;

static void *small_stack_main(void *arg)
{
    stack_job *j = arg;
    ct_exec e;
    if (!ct_exec_init(&e, variant_names[j->variant], 1))
        return NULL;
    check_quantize(&e, variant_names[j->variant], TQ_TYPE_TURBO3, TQ_TYPE_F16, 256);
    check_quantize(&e, variant_names[j->variant], TQ_TYPE_Q4_0, TQ_TYPE_F32, 256);
    attn_case c = { TQ_TYPE_TURBO4, TQ_TYPE_TURBO3, 256, 8, 1, 8, 1, 100, 100, false, 0, 0.0f, 0.0f, 0.0f };
    char variant[64];
    if (run_attention(&e, &c, variant, sizeof(variant)) <= 1e-6)
        j->done = 1;
    ct_exec_free(&e);
    return NULL;
}

static void test_kernels_run_on_64k_stack(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        assert_int_equal(pthread_attr_setstacksize(&attr, CPU_POOL_STACK_BYTES), 0);
        stack_job j = { v, 0 };
        pthread_t th;
        assert_int_equal(pthread_create(&th, &attr, small_stack_main, &j), 0);
        pthread_join(th, NULL);
        pthread_attr_destroy(&attr);
        assert_int_equal(j.done, 1);
    }
}

/* The pool's own workers have 64 KiB stacks; every task runs exactly once per dispatch. */
typedef struct pool_probe {
    _Atomic int hits[1000];
    _Atomic int worker_tasks;
    _Atomic size_t max_worker_stack;
} pool_probe;

static void probe_task(void *arg, int64_t t, int thread)
{
    pool_probe *p = arg;
    p->hits[t]++;
    if (thread != 0) {
        pthread_attr_t a;
        size_t sz = 0;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            pthread_attr_getstacksize(&a, &sz);
            pthread_attr_destroy(&a);
        }
        p->worker_tasks++;
        if (sz > p->max_worker_stack)
            p->max_worker_stack = sz;
    }
    for (volatile int i = 0; i < 2000; i++)
        ;
}

static void test_pool_runs_every_task_once_on_small_stacks(void **state)
{
    (void)state;
    cpu_pool *p;
    char err[128];
    assert_int_equal(cpu_pool_create(4, CPU_POOL_STACK_BYTES, &p, err, sizeof(err)), 0);
    assert_int_equal(cpu_pool_threads(p), 4);
    pool_probe *probe = calloc(1, sizeof(*probe));
    for (int rep = 0; rep < 50; rep++)
        cpu_pool_run(p, 1000, probe_task, probe);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(probe->hits[i], 50);
    assert_true(probe->worker_tasks > 0);
    /* ThreadSanitizer enlarges every thread's stack for its own shadow bookkeeping */
#if defined(__SANITIZE_THREAD__)
    print_message("[ NOTE     ] TSan build: worker stack size (%zu) not checked\n",
                  (size_t)probe->max_worker_stack);
#else
    assert_true(probe->max_worker_stack <= CPU_POOL_STACK_BYTES);
#endif
    cpu_pool_destroy(p);
    free(probe);
}

/* ------------------------------------------------------------------ variants */

static void test_forced_variant_errors_name_the_missing_feature(void **state)
{
    (void)state;
    const cpu_kernels *k;
    char err[256];
    assert_true(cpu_isa_select("scalar", &k, err, sizeof(err)));
    assert_string_equal(k->name, "scalar");
    assert_true(cpu_isa_select(NULL, &k, err, sizeof(err)));
    assert_string_equal(k->name, cpu_isa_best());
    assert_false(cpu_isa_select("neon", &k, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown variant 'neon'"));
    /* kdot: f32 always works; i16 only where the variant has integer K dots */
    assert_true(cpu_isa_select("scalar", &k, err, sizeof(err)));
    assert_true(cpu_isa_kdot("f32", &k, err, sizeof(err)));
    assert_string_equal(k->name, "scalar");
    assert_false(cpu_isa_kdot("i16", &k, err, sizeof(err)));
    assert_non_null(strstr(err, "kdot=i16"));
    assert_false(cpu_isa_kdot("bf16", &k, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown kdot 'bf16'"));
    if (cpu_isa_select("avx2", &k, err, sizeof(err))) {
        assert_null(k->ktag[TQ_TYPE_TURBO3]);              /* default: fp32 */
        assert_true(cpu_isa_kdot("i16", &k, err, sizeof(err)));
        assert_non_null(k->ktag[TQ_TYPE_TURBO3]);
        assert_true(cpu_isa_kdot("i16", &k, err, sizeof(err)));
        assert_non_null(k->ktag[TQ_TYPE_TURBO3]);
        assert_true(cpu_isa_kdot("f32", &k, err, sizeof(err)));
        assert_null(k->ktag[TQ_TYPE_TURBO3]);
        assert_string_equal(k->name, "avx2");
    }
    char feats[256];
    cpu_isa_features(feats, sizeof(feats));
    if (!strstr(feats, "avx512f")) {
        assert_false(cpu_isa_select("avx512", &k, err, sizeof(err)));
        assert_non_null(strstr(err, "avx512f"));
    } else {
        print_message("[ NOTE     ] this CPU has avx512f: cannot test the refusal here\n");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forced_variant_errors_name_the_missing_feature),
        cmocka_unit_test(test_rotate_matches_reference),
        cmocka_unit_test(test_dequantize_bit_exact),
        cmocka_unit_test(test_quantize_matches_reference),
        cmocka_unit_test(test_attention_every_kv_type_pair),
        cmocka_unit_test(test_attention_gqa_head_sizes_decode_prefill),
        cmocka_unit_test(test_attention_softcap_and_causal_from_zero),
        cmocka_unit_test(test_attention_split_k_long_context),
        cmocka_unit_test(test_attention_peaky_uniform_outliers),
        cmocka_unit_test(test_attention_scratch_independent_of_n_ctx),
        cmocka_unit_test(test_scratch_reserved_once_and_accounted),
        cmocka_unit_test(test_kernels_run_on_64k_stack),
        cmocka_unit_test(test_pool_runs_every_task_once_on_small_stacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
