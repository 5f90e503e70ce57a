/*
 * test_vulkan_ops.c: every Vulkan op, type, K/V pair and attention shape against the
 * scalar reference (tq_ref_*), with the project's comparison rules, on lavapipe.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vk_test_util.h"

static vkt T;
static bool have_device;

static int setup(void **state)
{
    (void)state;
    have_device = vkt_open(&T, getenv("TQ_TEST_VULKAN_OPTIONS"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (have_device)
        vkt_close(&T);
    return 0;
}

#define REQUIRE_DEVICE() do { if (!have_device) skip(); } while (0)

static const tq_type all_types[] = { TQ_TYPE_F32, TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0,
                                     TQ_TYPE_TURBO2, TQ_TYPE_TURBO3, TQ_TYPE_TURBO4 };

/* ---------------------------------------------------------------- quantize */

static void check_quantize(tq_type dst_type, tq_type src_type, int64_t d, int64_t n_kv_head,
                           int64_t n_tokens, int64_t n_seq, int64_t n_ctx, uint64_t seed)
{
    int64_t n_src = d * n_kv_head * n_tokens * n_seq;
    float *x = malloc(n_src * sizeof(float));
    vkt_fill_randn(x, n_src, seed);
    uint64_t rs = seed;               /* row scales over ~3 decades */
    for (int64_t r = 0; r < n_src / d; r++) {
        float sc = expf(1.2f * vkt_randn(&rs));
        for (int64_t i = 0; i < d; i++)
            x[r * d + i] *= sc;
    }
    for (int64_t i = 0; i < d; i++)   /* one all-zero row: turbo zero-block rule */
        x[i] = 0.0f;
    if (n_src >= 2 * d)               /* one row of magnitude ties with mixed signs */
        for (int64_t i = 0; i < d; i++)
            x[d + i] = (float)((i * 5) % 7 - 3) * 0.5f;
    uint16_t *xh = malloc(n_src * 2);
    if (src_type == TQ_TYPE_F16)
        for (int64_t i = 0; i < n_src; i++) {
            xh[i] = tq_ref_fp32_to_fp16(x[i]);
            x[i] = tq_ref_fp16_to_fp32(xh[i]);
        }
    vkt_tensor src, dst;
    vkt_tensor_new(&T, &src, src_type, d, n_kv_head, n_tokens, n_seq, 4);
    vkt_tensor_new(&T, &dst, dst_type, d, n_ctx, n_kv_head, n_seq, 8);
    vkt_tensor_write(&T, &src, src_type == TQ_TYPE_F16 ? (void *)xh : (void *)x, src.bytes);
    int64_t *rows = malloc(n_tokens * n_seq * sizeof(int64_t));
    for (int64_t i = 0; i < n_tokens * n_seq; i++)
        rows[i] = (i * 7 + 3) % n_ctx;    /* scattered; distinct while n_ctx is prime and > 7 */
    tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_QUANTIZE, .src = src.ref, .dst = dst.ref,
                 .rows = rows, .n_rows = n_tokens * n_seq };
    tq_plugin_timing tm;
    vkt_run(&T, &op, &tm);
    assert_string_equal(tm.op, "quantize");
    uint64_t rb = tq_type_row_bytes(dst_type, d);
    uint8_t *got = malloc(dst.bytes), *want = malloc(rb);
    vkt_tensor_read(&T, &dst, got, dst.bytes);
    char msg[256];
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t t = 0; t < n_tokens; t++)
            for (int64_t h = 0; h < n_kv_head; h++) {
                const float *xr = x + ((s * n_tokens + t) * n_kv_head + h) * d;
                assert_null(tq_ref_quantize_row(dst_type, xr, d, want));
                int64_t row = (s * n_kv_head + h) * n_ctx + rows[s * n_tokens + t];
                const char *err = vkt_compare_quantized_row(dst_type, xr, d, got + row * rb, want,
                                                            msg, sizeof(msg));
                if (err)
                    fail_msg("quantize %s->%s d=%lld s=%lld t=%lld h=%lld: %s",
                             tq_type_name(src_type), tq_type_name(dst_type), (long long)d,
                             (long long)s, (long long)t, (long long)h, err);
            }
    /* rows not written keep the guard pattern */
    for (int64_t r = 0; r < n_ctx; r++) {
        bool written = false;
        for (int64_t i = 0; i < n_tokens; i++)
            written |= rows[i] == r;
        if (!written)
            for (uint64_t b = 0; b < rb; b++)
                if (got[r * rb + b] != 0xA5)
                    fail_msg("quantize %s wrote row %lld it was not asked to",
                             tq_type_name(dst_type), (long long)r);
    }
    vkt_tensor_free(&T, &src);
    vkt_tensor_free(&T, &dst);
    free(x); free(xh); free(rows); free(got); free(want);
}

static void test_quantize_every_type_matches_ref(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    for (unsigned i = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++)
        for (int64_t d = 64; d <= 256; d *= 2) {
            check_quantize(all_types[i], TQ_TYPE_F32, d, 3, 5, 2, 13, 100 + i + d);
        }
}

static void test_quantize_from_f16_matches_ref(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    for (unsigned i = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++)
        check_quantize(all_types[i], TQ_TYPE_F16, 128, 2, 3, 1, 11, 300 + i);
}

/* ---------------------------------------------------------------- dequantize */

static void check_dequantize(tq_type type, int64_t d, bool inverse)
{
    int64_t rows = 9;
    float *x = malloc(d * rows * sizeof(float));
    vkt_fill_randn(x, d * rows, 7 + type);
    uint64_t rb = tq_type_row_bytes(type, d);
    uint8_t *q = malloc(rb * rows);
    for (int64_t r = 0; r < rows; r++)
        assert_null(tq_ref_quantize_row(type, x + r * d, d, q + r * rb));
    int64_t padded = tq_type_padded_elems(type, d);
    vkt_tensor src, dst;
    vkt_tensor_new(&T, &src, type, d, rows, 1, 1, 4);     /* 2-byte aligned turbo3 rows too */
    vkt_tensor_new(&T, &dst, TQ_TYPE_F32, padded, rows, 1, 1, 12);
    vkt_tensor_write(&T, &src, q, rb * rows);
    tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_DEQUANTIZE, .src = src.ref,
                 .dst = dst.ref, .flags = inverse ? TQ_DEQUANTIZE_INVERSE_ROTATION : 0 };
    vkt_run(&T, &op, NULL);
    float *got = malloc(padded * rows * sizeof(float)), *want = malloc(padded * sizeof(float));
    vkt_tensor_read(&T, &dst, got, padded * rows * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        assert_null(tq_ref_dequantize_row(type, q + r * rb, d, want, inverse));
        if (memcmp(got + r * padded, want, padded * sizeof(float)) != 0)
            for (int64_t j = 0; j < padded; j++)
                if (memcmp(&got[r * padded + j], &want[j], 4))
                    fail_msg("dequantize %s d=%lld%s row %lld elem %lld: %.9g vs ref %.9g",
                             tq_type_name(type), (long long)d, inverse ? " inverse" : "",
                             (long long)r, (long long)j, got[r * padded + j], want[j]);
    }
    vkt_tensor_free(&T, &src);
    vkt_tensor_free(&T, &dst);
    free(x); free(q); free(got); free(want);
}

static void test_dequantize_is_bit_exact(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    for (unsigned i = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++)
        for (int64_t d = 64; d <= 256; d *= 2) {
            check_dequantize(all_types[i], d, false);
            if (tq_type_is_turbo(all_types[i]))
                check_dequantize(all_types[i], d, true);
        }
}

/* ---------------------------------------------------------------- rotate */

static void test_rotate_forward_and_inverse(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    for (int inv = 0; inv < 2; inv++) {
        int64_t ne0 = 256, rows = 5;
        float *x = malloc(ne0 * rows * 4), *got = malloc(ne0 * rows * 4);
        vkt_fill_randn(x, ne0 * rows, 11 + inv);
        vkt_tensor a;
        vkt_tensor_new(&T, &a, TQ_TYPE_F32, ne0, rows, 1, 1, 0);
        vkt_tensor_write(&T, &a, x, ne0 * rows * 4);
        tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_ROTATE, .src = a.ref, .dst = a.ref,
                     .inverse = inv };   /* in place */
        vkt_run(&T, &op, NULL);
        vkt_tensor_read(&T, &a, got, ne0 * rows * 4);
        for (int64_t g = 0; g < ne0 * rows / 128; g++) {
            float ref[128];
            memcpy(ref, x + g * 128, sizeof(ref));
            if (inv)
                tq_ref_rotate_inverse(ref);
            else
                tq_ref_rotate_forward(ref);
            float mx = 1;
            for (int j = 0; j < 128; j++)
                mx = fmaxf(mx, fabsf(ref[j]));
            for (int j = 0; j < 128; j++)
                if (fabsf(got[g * 128 + j] - ref[j]) > 1e-5f * mx)
                    fail_msg("rotate %s group %lld elem %d: %g vs %g", inv ? "inverse" : "forward",
                             (long long)g, j, got[g * 128 + j], ref[j]);
        }
        vkt_tensor_free(&T, &a);
        free(x); free(got);
    }
}

/* ---------------------------------------------------------------- attention */

typedef struct attn_case {
    tq_type tk, tv;
    int64_t d, n_head, n_kv_head, n_q, n_seq, n_ctx, n_kv;
    bool causal;
    int64_t q_pos0;
    float softcap;
    float qmul;          /* Q ~ N(0, qmul^2); 0 means 0.5 */
} attn_case;

static double run_attention(vkt *t, const attn_case *c, tq_plugin_timing *tm)
{
    int64_t d = c->d;
    int64_t nq_el = d * c->n_head * c->n_q * c->n_seq;
    int64_t kv_rows = c->n_ctx * c->n_kv_head * c->n_seq;
    float *q = malloc(nq_el * 4), *kf = malloc(d * kv_rows * 4), *vf = malloc(d * kv_rows * 4);
    vkt_fill_randn(q, nq_el, 1000 + c->tk * 7 + c->tv + d);
    vkt_fill_randn(kf, d * kv_rows, 2000 + c->tk + d);
    vkt_fill_randn(vf, d * kv_rows, 3000 + c->tv + d);
    for (int64_t i = 0; i < nq_el; i++)
        q[i] *= c->qmul > 0 ? c->qmul : 0.5f;
    uint64_t kb = tq_type_row_bytes(c->tk, d), vb = tq_type_row_bytes(c->tv, d);
    uint8_t *kq = malloc(kb * kv_rows), *vq = malloc(vb * kv_rows);
    for (int64_t r = 0; r < kv_rows; r++) {
        assert_null(tq_ref_quantize_row(c->tk, kf + r * d, d, kq + r * kb));
        assert_null(tq_ref_quantize_row(c->tv, vf + r * d, d, vq + r * vb));
    }
    vkt_tensor tq_, tk, tv, to;
    vkt_tensor_new(t, &tq_, TQ_TYPE_F32, d, c->n_head, c->n_q, c->n_seq, 4);
    vkt_tensor_new(t, &tk, c->tk, d, c->n_ctx, c->n_kv_head, c->n_seq, 4);
    vkt_tensor_new(t, &tv, c->tv, d, c->n_ctx, c->n_kv_head, c->n_seq, 8);
    vkt_tensor_new(t, &to, TQ_TYPE_F32, d, c->n_head, c->n_q, c->n_seq, 16);
    vkt_tensor_write(t, &tq_, q, nq_el * 4);
    vkt_tensor_write(t, &tk, kq, kb * kv_rows);
    vkt_tensor_write(t, &tv, vq, vb * kv_rows);
    float scale = 1.0f / sqrtf((float)d);
    tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_ATTENTION, .q = tq_.ref, .k = tk.ref,
                 .v = tv.ref, .out = to.ref, .n_kv = c->n_kv, .scale = scale,
                 .softcap = c->softcap, .causal = c->causal, .q_pos0 = c->q_pos0 };
    vkt_run(t, &op, tm);
    float *got = malloc(nq_el * 4), *want = malloc(nq_el * 4);
    vkt_tensor_read(t, &to, got, nq_el * 4);
    tq_ref_attention_args a = { .q = q, .k = kq, .v = vq, .out = want, .type_k = c->tk,
                                .type_v = c->tv, .d = d, .n_head = c->n_head, .n_q = c->n_q,
                                .n_seq = c->n_seq, .n_kv_head = c->n_kv_head, .n_ctx = c->n_ctx,
                                .n_kv = c->n_kv, .scale = scale, .softcap = c->softcap,
                                .causal = c->causal, .q_pos0 = c->q_pos0 };
    assert_null(tq_ref_attention(&a));
    double num = 0, den = 0;
    for (int64_t i = 0; i < nq_el; i++) {
        if (!isfinite(got[i]))
            fail_msg("attention %s/%s: non-finite output at %lld", tq_type_name(c->tk),
                     tq_type_name(c->tv), (long long)i);
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    vkt_tensor_free(t, &tq_);
    vkt_tensor_free(t, &tk);
    vkt_tensor_free(t, &tv);
    vkt_tensor_free(t, &to);
    free(q); free(kf); free(vf); free(kq); free(vq); free(got); free(want);
    return den > 0 ? num / den : num;
}

static void check_attention(const attn_case *c)
{
    tq_plugin_timing tm;
    double nmse = run_attention(&T, c, &tm);
    if (!(nmse <= 1e-6))
        fail_msg("attention K=%s V=%s d=%lld heads=%lld/%lld n_q=%lld n_seq=%lld n_kv=%lld "
                 "causal=%d softcap=%g qmul=%g: NMSE %.3g > 1e-6 (variant %s)",
                 tq_type_name(c->tk), tq_type_name(c->tv), (long long)c->d, (long long)c->n_head,
                 (long long)c->n_kv_head, (long long)c->n_q, (long long)c->n_seq,
                 (long long)c->n_kv, c->causal, c->softcap, c->qmul, nmse, tm.variant);
    assert_string_equal(tm.op, "attention");
    assert_true(strncmp(tm.variant, "split-k", 7) == 0);
}

static void test_attention_every_kv_pair_decode(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    for (unsigned i = 0; i < 7; i++)
        for (unsigned j = 0; j < 7; j++) {
            attn_case c = { all_types[i], all_types[j], 128, 8, 2, 1, 1, 200, 150, false, 0, 0, 0 };
            check_attention(&c);
        }
}

static void test_attention_decode_shapes(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    const tq_type pairs[][2] = { { TQ_TYPE_F16, TQ_TYPE_F16 }, { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 },
                                 { TQ_TYPE_Q8_0, TQ_TYPE_TURBO4 } };
    const int64_t ds[] = { 64, 128, 256 };
    const int64_t gqa[] = { 1, 4, 8 };
    const int64_t nqs[] = { 1, 3, 8 };
    for (unsigned p = 0; p < 3; p++)
        for (unsigned di = 0; di < 3; di++)
            for (unsigned g = 0; g < 3; g++) {
                int64_t nq = nqs[(p + di + g) % 3];
                attn_case c = { pairs[p][0], pairs[p][1], ds[di], 2 * gqa[g], 2, nq, 1, 96, 77,
                                false, 0, 0, 0 };
                check_attention(&c);
            }
}

static void test_attention_prefill_causal_softcap_nseq(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    const tq_type pairs[][2] = { { TQ_TYPE_F32, TQ_TYPE_Q4_0 }, { TQ_TYPE_TURBO4, TQ_TYPE_TURBO2 },
                                 { TQ_TYPE_Q8_0, TQ_TYPE_TURBO3 } };
    for (unsigned p = 0; p < 3; p++) {
        /* prefill of 24 tokens at the end of a 90-position window, GQA 4 */
        attn_case c = { pairs[p][0], pairs[p][1], 128, 8, 2, 24, 1, 100, 90, true, 66, 0, 0 };
        check_attention(&c);
        /* prefill from position 0 (the first query sees one key) */
        attn_case c0 = { pairs[p][0], pairs[p][1], 64, 4, 4, 9, 1, 16, 9, true, 0, 0, 0 };
        check_attention(&c0);
        /* softcap, two sequences, decode of 2 tokens */
        attn_case c2 = { pairs[p][0], pairs[p][1], 128, 4, 1, 2, 2, 70, 70, false, 0, 5.0f, 0 };
        check_attention(&c2);
        /* causal + softcap + 2 sequences */
        attn_case c3 = { pairs[p][0], pairs[p][1], 256, 8, 1, 5, 2, 40, 33, true, 28, 3.0f, 0 };
        check_attention(&c3);
    }
}

/* Sharp softmax: Q ~ N(0, 8^2) gives logits with a spread of about 8 and maxima near 25,
 * where a kernel whose logit error grows with the logit (fp16 Q or K values) fails. */
static void test_attention_sharp_softmax(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    static const tq_type pairs[][2] = { { TQ_TYPE_F16, TQ_TYPE_F16 },
                                        { TQ_TYPE_Q8_0, TQ_TYPE_Q8_0 },
                                        { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 },
                                        { TQ_TYPE_TURBO4, TQ_TYPE_Q8_0 },
                                        { TQ_TYPE_TURBO2, TQ_TYPE_TURBO2 } };
    for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        attn_case c = { pairs[i][0], pairs[i][1], 128, 8, 2, 1, 1, 600, 600, false, 0, 0, 8.0f };
        check_attention(&c);
    }
}

/* TQ_TEST_ATTN="tk,tv,d,n_head,n_kv_head,n_q,n_seq,n_ctx,n_kv,causal,q_pos0,softcap" runs
 * one attention case (for debugging a failure). */
static void test_attention_one_case_from_env(void **state)
{
    (void)state;
    REQUIRE_DEVICE();
    const char *e = getenv("TQ_TEST_ATTN");
    if (!e)
        skip();
    int tk, tv, causal;
    long long d, nh, nkh, nq, ns, nc, nkv, qp;
    float sc;
    assert_int_equal(sscanf(e, "%d,%d,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%d,%lld,%f", &tk, &tv, &d,
                            &nh, &nkh, &nq, &ns, &nc, &nkv, &causal, &qp, &sc), 12);
    attn_case c = { (tq_type)tk, (tq_type)tv, d, nh, nkh, nq, ns, nc, nkv, causal, qp, sc, 0 };
    check_attention(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_every_type_matches_ref),
        cmocka_unit_test(test_quantize_from_f16_matches_ref),
        cmocka_unit_test(test_dequantize_is_bit_exact),
        cmocka_unit_test(test_rotate_forward_and_inverse),
        cmocka_unit_test(test_attention_every_kv_pair_decode),
        cmocka_unit_test(test_attention_decode_shapes),
        cmocka_unit_test(test_attention_prefill_causal_softcap_nseq),
        cmocka_unit_test(test_attention_sharp_softmax),
        cmocka_unit_test(test_attention_one_case_from_env),
    };
    if (getenv("TQ_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TQ_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
