/*
 * test_fp16.c: binary16 conversion, round to nearest even, subnormals, Inf and NaN.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "tq/tq_ref.h"

static float f32_from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static int half_is_nan(uint16_t h)
{
    return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
}

static void test_every_half_survives_a_round_trip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h <= 0xffffu; h++) {
        float f = tq_ref_fp16_to_fp32((uint16_t)h);
        uint16_t back = tq_ref_fp32_to_fp16(f);
        if (half_is_nan((uint16_t)h)) {
            assert_true(isnan(f));
            assert_true(half_is_nan(back));
        } else {
            assert_int_equal(back, h);
        }
    }
}

static void test_ties_round_to_even(void **state)
{
    (void)state;
    assert_int_equal(tq_ref_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);         /* down to even */
    assert_int_equal(tq_ref_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);     /* up to even */
    assert_int_equal(tq_ref_fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_int_equal(tq_ref_fp32_to_fp16(-(1.0f + 3 * 0x1p-11f)), 0xbc02);
    assert_int_equal(tq_ref_fp32_to_fp16(65519.0f), 0x7bff);
    assert_int_equal(tq_ref_fp32_to_fp16(65520.0f), 0x7c00);                 /* tie to Inf */
}

static void test_subnormals_round_to_nearest_even(void **state)
{
    (void)state;
    assert_int_equal(tq_ref_fp32_to_fp16(0x1p-24f), 0x0001);
    assert_int_equal(tq_ref_fp32_to_fp16(0x1p-25f), 0x0000);            /* tie to even 0 */
    assert_int_equal(tq_ref_fp32_to_fp16(0x1.8p-25f), 0x0001);
    assert_int_equal(tq_ref_fp32_to_fp16(3 * 0x1p-25f), 0x0002);        /* 1.5 units: even */
    assert_int_equal(tq_ref_fp32_to_fp16(0x1p-14f - 0x1p-25f), 0x0400); /* carries to normal */
    assert_int_equal(tq_ref_fp32_to_fp16(1e-10f), 0x0000);
    assert_int_equal(tq_ref_fp32_to_fp16(-1e-40f), 0x8000);
    assert_true(tq_ref_fp16_to_fp32(0x0001) == 0x1p-24f);
    assert_true(tq_ref_fp16_to_fp32(0x03ff) == 1023 * 0x1p-24f);
    assert_true(tq_ref_fp16_to_fp32(0x8200) == -512 * 0x1p-24f);
}

static void test_infinity_nan_and_signed_zero_are_kept(void **state)
{
    (void)state;
    assert_int_equal(tq_ref_fp32_to_fp16(INFINITY), 0x7c00);
    assert_int_equal(tq_ref_fp32_to_fp16(-INFINITY), 0xfc00);
    assert_int_equal(tq_ref_fp32_to_fp16(1e9f), 0x7c00);
    assert_int_equal(tq_ref_fp32_to_fp16(-0.0f), 0x8000);
    assert_true(half_is_nan(tq_ref_fp32_to_fp16(NAN)));
    /* a NaN whose payload sits only in the low bits must not turn into Inf */
    assert_true(half_is_nan(tq_ref_fp32_to_fp16(f32_from_bits(0x7f800001u))));
    assert_true(isinf(tq_ref_fp16_to_fp32(0xfc00)) && tq_ref_fp16_to_fp32(0xfc00) < 0);
    assert_true(signbit(tq_ref_fp16_to_fp32(0x8000)));
}

static void test_matches_the_compilers_float16_on_random_floats(void **state)
{
    (void)state;
#ifdef __FLT16_MAX__
    test_rng r = test_rng_make(16);
    for (int i = 0; i < 2000000; i++) {
        /* exponents around the half range, every mantissa pattern */
        uint32_t b = (uint32_t)test_rng_u64(&r);
        uint32_t e = 127 - 30 + (uint32_t)(test_rng_u64(&r) % 50);
        b = (b & 0x807fffffu) | (e << 23);
        float f = f32_from_bits(b);
        _Float16 h = (_Float16)f;
        uint16_t want;
        memcpy(&want, &h, sizeof want);
        assert_int_equal(tq_ref_fp32_to_fp16(f), want);
    }
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_half_survives_a_round_trip),
        cmocka_unit_test(test_ties_round_to_even),
        cmocka_unit_test(test_subnormals_round_to_nearest_even),
        cmocka_unit_test(test_infinity_nan_and_signed_zero_are_kept),
        cmocka_unit_test(test_matches_the_compilers_float16_on_random_floats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
