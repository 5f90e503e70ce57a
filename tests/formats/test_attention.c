/*
 * test_attention.c: the double-precision reference attention (tq_ref_attention).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "tq/tq_ref.h"

static tq_ref_attention_args f32_args(const float *q, const float *k, const float *v,
                                      float *out, int64_t d, int64_t n_kv)
{
    tq_ref_attention_args a = {
        .q = q, .k = k, .v = v, .out = out, .type_k = TQ_TYPE_F32, .type_v = TQ_TYPE_F32,
        .d = d, .n_head = 1, .n_q = 1, .n_seq = 1, .n_kv_head = 1, .n_ctx = n_kv,
        .n_kv = n_kv, .scale = 1.0f,
    };
    return a;
}

static void test_two_keys_give_the_hand_computed_softmax(void **state)
{
    (void)state;
    const float q[2] = { 1, 0 };
    const float k[4] = { 1, 0, /* */ 0, 1 };          /* scores 1 and 0 */
    const float v[4] = { 1, 2, /* */ 3, 4 };
    float out[2];
    tq_ref_attention_args a = f32_args(q, k, v, out, 2, 2);
    assert_null(tq_ref_attention(&a));
    double p0 = exp(1.0) / (exp(1.0) + 1.0), p1 = 1.0 - p0;
    assert_true(fabs(out[0] - (p0 * 1 + p1 * 3)) < 1e-6);
    assert_true(fabs(out[1] - (p0 * 2 + p1 * 4)) < 1e-6);

    a.scale = 0.5f;                                    /* scores 0.5 and 0 */
    assert_null(tq_ref_attention(&a));
    p0 = exp(0.5) / (exp(0.5) + 1.0);
    assert_true(fabs(out[0] - (p0 * 1 + (1 - p0) * 3)) < 1e-6);
}

static void test_softcap_squashes_scores_with_tanh(void **state)
{
    (void)state;
    const float q[1] = { 3 };
    const float k[2] = { 1, 0 };                       /* scores 3 and 0 */
    const float v[2] = { 10, 20 };
    float out[1];
    tq_ref_attention_args a = f32_args(q, k, v, out, 1, 2);
    a.softcap = 2.0f;
    assert_null(tq_ref_attention(&a));
    double s0 = 2.0 * tanh(3.0 / 2.0);
    double p0 = exp(s0) / (exp(s0) + 1.0);
    assert_true(fabs(out[0] - (p0 * 10 + (1 - p0) * 20)) < 1e-5);
}

static void test_causal_query_sees_only_positions_up_to_its_own(void **state)
{
    (void)state;
    /* 3 positions, 2 queries at positions 1 and 2 (q_pos0 = 1). Position 2 has a huge
     * score, so any leak into query 0 would pull its output towards v[2] = 100. */
    const float q[2] = { 1, 1 };                       /* [d=1, n_head=1, n_q=2] */
    const float k[3] = { 0, 0, 50 };
    const float v[3] = { 1, 3, 100 };
    float out[2];
    tq_ref_attention_args a = f32_args(q, k, v, out, 1, 3);
    a.n_q = 2;
    a.causal = true;
    a.q_pos0 = 1;
    assert_null(tq_ref_attention(&a));
    assert_true(fabs(out[0] - 2.0f) < 1e-6);           /* mean of v[0], v[1] */
    double e = exp(50.0);
    assert_true(fabs(out[1] - (1 + 3 + 100 * e) / (2 + e)) < 1e-4);

    a.causal = false;                                  /* both see everything */
    assert_null(tq_ref_attention(&a));
    assert_true(fabs(out[0] - out[1]) < 1e-6 && out[0] > 99.0f);
}

static void test_gqa_maps_query_heads_to_their_kv_head(void **state)
{
    (void)state;
    /* n_head 4, n_kv_head 2: heads 0,1 read kv head 0 (v = 7), heads 2,3 kv head 1 (v = -5). */
    const int64_t d = 2, n_ctx = 3;
    float q[4 * 2], out[4 * 2];
    float k[2 * 3 * 2], v[2 * 3 * 2];
    for (int i = 0; i < 8; i++)
        q[i] = (float)i * 0.1f;
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < n_ctx; j++)
            for (int c = 0; c < d; c++) {
                k[(h * n_ctx + j) * d + c] = (float)(j + c);
                v[(h * n_ctx + j) * d + c] = h == 0 ? 7.0f : -5.0f;
            }
    tq_ref_attention_args a = f32_args(q, k, v, out, d, n_ctx);
    a.n_head = 4;
    a.n_kv_head = 2;
    assert_null(tq_ref_attention(&a));
    for (int h = 0; h < 4; h++)
        for (int c = 0; c < d; c++)
            assert_true(fabsf(out[h * d + c] - (h < 2 ? 7.0f : -5.0f)) < 1e-6f);
}

static void test_sequences_read_their_own_cache_rows(void **state)
{
    (void)state;
    /* n_seq 2, n_ctx 4 but n_kv 2: rows 2..3 of each sequence must never be read. */
    const float q[2] = { 1, 1 };                       /* [d=1, 1, 1, n_seq=2] */
    const float k[8] = { 0, 0, 99, 99, /* seq 1 */ 0, 0, 99, 99 };
    const float v[8] = { 1, 1, NAN, NAN, /* seq 1 */ 2, 2, NAN, NAN };
    float out[2];
    tq_ref_attention_args a = f32_args(q, k, v, out, 1, 2);
    a.n_seq = 2;
    a.n_ctx = 4;
    assert_null(tq_ref_attention(&a));
    assert_true(out[0] == 1.0f);
    assert_true(out[1] == 2.0f);
}

/* Every K/V type pair: attention over the quantized cache equals attention over the
 * same cache dequantized (and un-rotated) to f32 by the reference codecs. */
static void test_every_kv_type_pair_matches_dequantized_f32(void **state)
{
    (void)state;
    const int64_t d = 64, n_kv = 40, n_head = 4, n_kv_head = 2, n_q = 3;
    test_rng r = test_rng_make(11);
    float *q = malloc(sizeof(float) * d * n_head * n_q);
    float *src = malloc(sizeof(float) * d * n_kv * n_kv_head);
    float *deq = malloc(sizeof(float) * 128 * n_kv * n_kv_head);
    float *kf = malloc(sizeof(float) * d * n_kv * n_kv_head);
    float *vf = malloc(sizeof(float) * d * n_kv * n_kv_head);
    uint8_t *kq = malloc(sizeof(float) * d * n_kv * n_kv_head);   /* f32 rows are the largest */
    uint8_t *vq = malloc(sizeof(float) * d * n_kv * n_kv_head);
    float *o1 = malloc(sizeof(float) * d * n_head * n_q);
    float *o2 = malloc(sizeof(float) * d * n_head * n_q);
    for (int64_t i = 0; i < d * n_head * n_q; i++)
        q[i] = (float)test_rng_gauss(&r);
    for (int64_t i = 0; i < d * n_kv * n_kv_head; i++)
        src[i] = (float)test_rng_gauss(&r);

    for (int tk = 0; tk < TQ_TYPE_COUNT; tk++) {
        for (int tv = 0; tv < TQ_TYPE_COUNT; tv++) {
            const tq_type types[2] = { (tq_type)tk, (tq_type)tv };
            uint8_t *qbuf[2] = { kq, vq };
            float *fbuf[2] = { kf, vf };
            for (int s = 0; s < 2; s++) {
                uint64_t rb = tq_type_row_bytes(types[s], d);
                for (int64_t row = 0; row < n_kv * n_kv_head; row++) {
                    assert_null(tq_ref_quantize_row(types[s], src + row * d, d,
                                                    qbuf[s] + row * rb));
                    assert_null(tq_ref_dequantize_row(types[s], qbuf[s] + row * rb, d,
                                                      deq + row * 128, true));
                    memcpy(fbuf[s] + row * d, deq + row * 128, sizeof(float) * d);
                }
            }
            tq_ref_attention_args a = {
                .q = q, .k = kq, .v = vq, .out = o1, .type_k = types[0], .type_v = types[1],
                .d = d, .n_head = n_head, .n_q = n_q, .n_seq = 1, .n_kv_head = n_kv_head,
                .n_ctx = n_kv, .n_kv = n_kv, .scale = 0.125f, .causal = true,
                .q_pos0 = n_kv - n_q,
            };
            assert_null(tq_ref_attention(&a));
            a.k = kf;
            a.v = vf;
            a.out = o2;
            a.type_k = a.type_v = TQ_TYPE_F32;
            assert_null(tq_ref_attention(&a));
            double num = 0, den = 0;
            for (int64_t i = 0; i < d * n_head * n_q; i++) {
                assert_true(isfinite(o1[i]));
                num += ((double)o1[i] - o2[i]) * ((double)o1[i] - o2[i]);
                den += (double)o2[i] * o2[i];
            }
            if (!(num / den <= 1e-10))
                print_error("K %s / V %s: NMSE %g\n", tq_type_name(types[0]),
                            tq_type_name(types[1]), num / den);
            assert_true(num / den <= 1e-10);
        }
    }
    free(q); free(src); free(deq); free(kf); free(vf); free(kq); free(vq); free(o1); free(o2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_keys_give_the_hand_computed_softmax),
        cmocka_unit_test(test_softcap_squashes_scores_with_tanh),
        cmocka_unit_test(test_causal_query_sees_only_positions_up_to_its_own),
        cmocka_unit_test(test_gqa_maps_query_heads_to_their_kv_head),
        cmocka_unit_test(test_sequences_read_their_own_cache_rows),
        cmocka_unit_test(test_every_kv_type_pair_matches_dequantized_f32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
