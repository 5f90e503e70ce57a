/*
 * test_roundtrip.c: quantize then dequantize stays within each format's error.
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

#define N 256

static uint8_t qbuf[4096];
static float out[N];

static void roundtrip(tq_type t, const float *x, int64_t n, bool inverse)
{
    assert_true(tq_type_row_bytes(t, n) <= sizeof qbuf);
    assert_null(tq_ref_quantize_row(t, x, n, qbuf));
    assert_null(tq_ref_dequantize_row(t, qbuf, n, out, inverse));
}

static void test_f32_round_trip_is_bit_exact(void **state)
{
    (void)state;
    test_rng r = test_rng_make(3);
    float x[N];
    for (int j = 0; j < N; j++) {
        uint32_t b = (uint32_t)test_rng_u64(&r);
        memcpy(&x[j], &b, sizeof b);      /* any bit pattern, NaNs included */
    }
    roundtrip(TQ_TYPE_F32, x, N, false);
    assert_memory_equal(out, x, sizeof x);
}

static void test_f16_round_trip_is_exact_on_representable_values(void **state)
{
    (void)state;
    test_rng r = test_rng_make(4);
    float x[N];
    for (int j = 0; j < N; j++) {
        uint16_t h = (uint16_t)test_rng_u64(&r);
        if ((h & 0x7c00u) == 0x7c00u)
            h &= 0xbfffu;                 /* keep finite */
        x[j] = tq_ref_fp16_to_fp32(h);
    }
    roundtrip(TQ_TYPE_F16, x, N, false);
    assert_memory_equal(out, x, sizeof x);
}

static void test_q8_0_error_is_within_half_a_step(void **state)
{
    (void)state;
    test_rng r = test_rng_make(5);
    float x[N];
    for (int it = 0; it < 200; it++) {
        for (int j = 0; j < N; j++)
            x[j] = (float)test_rng_gauss(&r) * (float)(1 + it);
        roundtrip(TQ_TYPE_Q8_0, x, N, false);
        for (int b = 0; b < N / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[b * 32 + j]));
            float step = amax / 127.0f;
            /* half a step of rounding plus the fp16 rounding of the scale */
            for (int j = 0; j < 32; j++)
                assert_true(fabsf(out[b * 32 + j] - x[b * 32 + j]) <= step * (0.5f + 127.0f / 2048.0f));
        }
    }
}

static void test_q4_0_error_is_within_one_step(void **state)
{
    (void)state;
    test_rng r = test_rng_make(6);
    float x[N];
    for (int it = 0; it < 200; it++) {
        for (int j = 0; j < N; j++)
            x[j] = (float)test_rng_gauss(&r);
        roundtrip(TQ_TYPE_Q4_0, x, N, false);
        for (int b = 0; b < N / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[b * 32 + j]));
            float step = amax / 8.0f;
            /* the extreme value itself is exact (code 0); its mirror clips to code 15 */
            for (int j = 0; j < 32; j++)
                assert_true(fabsf(out[b * 32 + j] - x[b * 32 + j]) <= step * (1.0f + 8.0f / 2048.0f));
        }
    }
}

static double sq(double v) { return v * v; }

/* Turbo rows in the original domain: per-row relative error well under the mean
 * figures' worst tail, and the corrected norm keeps the length. */
static void check_turbo(tq_type t, double max_rel_err)
{
    test_rng r = test_rng_make(7);
    float x[N];
    for (int it = 0; it < 500; it++) {
        double nx = 0, err = 0, ny = 0;
        for (int j = 0; j < N; j++) {
            x[j] = (float)test_rng_gauss(&r) * 3.0f;
            nx += sq(x[j]);
        }
        roundtrip(t, x, N, true);
        for (int j = 0; j < N; j++) {
            err += sq((double)out[j] - x[j]);
            ny += sq(out[j]);
        }
        assert_true(err / nx <= max_rel_err);
        /* two groups, each rescaled to its own length up to fp16 rounding of the norm */
        assert_true(fabs(sqrt(ny / nx) - 1.0) <= 1e-3);
    }
}

static void test_turbo2_round_trip_is_within_error(void **state)
{
    (void)state;
    check_turbo(TQ_TYPE_TURBO2, 0.20);
}

static void test_turbo3_round_trip_is_within_error(void **state)
{
    (void)state;
    check_turbo(TQ_TYPE_TURBO3, 0.065);
}

static void test_turbo4_round_trip_is_within_error(void **state)
{
    (void)state;
    check_turbo(TQ_TYPE_TURBO4, 0.02);
}

static void test_turbo_dequantize_without_inverse_is_the_rotated_domain(void **state)
{
    (void)state;
    test_rng r = test_rng_make(8);
    float x[128], rot[128];
    for (int j = 0; j < 128; j++)
        x[j] = (float)test_rng_gauss(&r);
    roundtrip(TQ_TYPE_TURBO4, x, 128, false);
    memcpy(rot, out, sizeof rot);
    tq_ref_rotate_inverse(rot);
    roundtrip(TQ_TYPE_TURBO4, x, 128, true);
    for (int j = 0; j < 128; j++)
        assert_true(rot[j] == out[j]);
}

static void test_turbo_d64_row_is_padded_with_zeros(void **state)
{
    (void)state;
    test_rng r = test_rng_make(9);
    float x[64];
    for (int j = 0; j < 64; j++)
        x[j] = (float)test_rng_gauss(&r);
    roundtrip(TQ_TYPE_TURBO4, x, 64, true);     /* writes 128 floats */
    double sig = 0, err = 0, pad = 0;
    for (int j = 0; j < 64; j++) {
        sig += sq(x[j]);
        err += sq((double)out[j] - x[j]);
        pad += sq(out[64 + j]);
    }
    assert_true(err / sig < 0.03);
    assert_true(pad / sig < 0.03);              /* padding comes back near zero */
}

static void test_turbo_zero_group_is_an_all_zero_block(void **state)
{
    (void)state;
    float x[128] = { 0 };
    x[5] = 1e-12f;                              /* norm below the 1e-10 threshold */
    for (int t = TQ_TYPE_TURBO2; t <= TQ_TYPE_TURBO4; t++) {
        memset(qbuf, 0xaa, sizeof qbuf);
        roundtrip((tq_type)t, x, 128, true);
        for (uint64_t b = 0; b < tq_type_row_bytes((tq_type)t, 128); b++)
            assert_int_equal(qbuf[b], 0);
        for (int j = 0; j < 128; j++)
            assert_true(out[j] == 0.0f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_round_trip_is_bit_exact),
        cmocka_unit_test(test_f16_round_trip_is_exact_on_representable_values),
        cmocka_unit_test(test_q8_0_error_is_within_half_a_step),
        cmocka_unit_test(test_q4_0_error_is_within_one_step),
        cmocka_unit_test(test_turbo2_round_trip_is_within_error),
        cmocka_unit_test(test_turbo3_round_trip_is_within_error),
        cmocka_unit_test(test_turbo4_round_trip_is_within_error),
        cmocka_unit_test(test_turbo_dequantize_without_inverse_is_the_rotated_domain),
        cmocka_unit_test(test_turbo_d64_row_is_padded_with_zeros),
        cmocka_unit_test(test_turbo_zero_group_is_an_all_zero_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
