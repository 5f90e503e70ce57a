/*
 * test_midpoint.c: the nearest-centroid rule (strict '<' against float midpoints).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tq/tq_ref.h"
#include "tq_format_constants.h"

static const float mid2[] = { TQ_TURBO2_MIDPOINTS };
static const float mid3[] = { TQ_TURBO3_MIDPOINTS };
static const float mid4[] = { TQ_TURBO4_MIDPOINTS };

static const float *midpoints(uint32_t bits)
{
    return bits == 2 ? mid2 : bits == 3 ? mid3 : mid4;
}

static void test_value_exactly_on_midpoint_takes_upper_index(void **state)
{
    (void)state;
    for (uint32_t bits = 2; bits <= 4; bits++) {
        const float *m = midpoints(bits);
        for (uint32_t i = 0; i + 1 < (1u << bits); i++) {
            assert_int_equal(tq_ref_turbo_index(bits, m[i]), i + 1);
            assert_int_equal(tq_ref_turbo_index(bits, nextafterf(m[i], -1.0f)), i);
            assert_int_equal(tq_ref_turbo_index(bits, nextafterf(m[i], 1.0f)), i + 1);
        }
    }
}

static void test_positive_zero_takes_index_half(void **state)
{
    (void)state;
    for (uint32_t bits = 2; bits <= 4; bits++)
        assert_int_equal(tq_ref_turbo_index(bits, 0.0f), 1u << (bits - 1));
}

static void test_negative_zero_takes_index_half(void **state)
{
    (void)state;
    for (uint32_t bits = 2; bits <= 4; bits++)
        assert_int_equal(tq_ref_turbo_index(bits, -0.0f), 1u << (bits - 1));
}

static void test_midpoints_are_float_means_of_neighbouring_centroids(void **state)
{
    (void)state;
    for (uint32_t bits = 2; bits <= 4; bits++) {
        const float *m = midpoints(bits);
        for (uint32_t i = 0; i + 1 < (1u << bits); i++) {
            float a = tq_ref_turbo_centroid(bits, i), b = tq_ref_turbo_centroid(bits, i + 1);
            assert_true(a < b);
            assert_true(m[i] == (a + b) / 2.0f);
        }
    }
}

static void test_codebooks_are_symmetric(void **state)
{
    (void)state;
    for (uint32_t bits = 2; bits <= 4; bits++) {
        uint32_t n = 1u << bits;
        for (uint32_t i = 0; i < n; i++)
            assert_true(tq_ref_turbo_centroid(bits, i) == -tq_ref_turbo_centroid(bits, n - 1 - i));
    }
}

static void test_every_value_maps_to_its_nearest_centroid(void **state)
{
    (void)state;
    for (uint32_t bits = 2; bits <= 4; bits++) {
        uint32_t n = 1u << bits;
        for (int k = -3000; k <= 3000; k++) {
            float y = (float)k * 1e-4f;
            uint32_t idx = tq_ref_turbo_index(bits, y);
            float best = fabsf(y - tq_ref_turbo_centroid(bits, idx));
            for (uint32_t i = 0; i < n; i++)
                assert_true(best <= fabsf(y - tq_ref_turbo_centroid(bits, i)) + 1e-7f);
        }
        assert_int_equal(tq_ref_turbo_index(bits, -1.0f), 0);
        assert_int_equal(tq_ref_turbo_index(bits, 1.0f), n - 1);
    }
}

static void test_bad_bit_counts_give_index_zero_and_nan_centroid(void **state)
{
    (void)state;
    assert_int_equal(tq_ref_turbo_index(1, 0.5f), 0);
    assert_int_equal(tq_ref_turbo_index(5, 0.5f), 0);
    assert_true(isnan(tq_ref_turbo_centroid(5, 0)));
    assert_true(isnan(tq_ref_turbo_centroid(3, 8)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_exactly_on_midpoint_takes_upper_index),
        cmocka_unit_test(test_positive_zero_takes_index_half),
        cmocka_unit_test(test_negative_zero_takes_index_half),
        cmocka_unit_test(test_midpoints_are_float_means_of_neighbouring_centroids),
        cmocka_unit_test(test_codebooks_are_symmetric),
        cmocka_unit_test(test_every_value_maps_to_its_nearest_centroid),
        cmocka_unit_test(test_bad_bit_counts_give_index_zero_and_nan_centroid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
