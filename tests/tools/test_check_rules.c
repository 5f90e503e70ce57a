/*
 * test_check_rules.c: the quantize comparison rule of `tqrun check` (docs/tqrun.md):
 * identical bytes, except a neighbouring code where the reference's pre-decision value is
 * within 1e-6 of a boundary, and one fp16 ulp of a scale or norm.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"

static void quantize(tq_type t, const float *x, int64_t n, uint8_t *out)
{
    tq_status st = tq_ref_quantize_row(t, x, n, out);
    assert_null(st);
}

static void gauss_row(float *x, int n, uint64_t seed)
{
    tr_rng r;
    tr_rng_seed(&r, seed);
    tr_fill_gauss(&r, x, n, 1.0f);
}

static void compare(tq_type t, const float *x, int64_t n, const uint8_t *got,
                    const uint8_t *ref, uint64_t *bad, uint64_t *boundary)
{
    *bad = *boundary = 0;
    ck_compare_quant_row(t, x, n, got, ref, bad, boundary);
}

static void test_identical_rows_pass(void **state)
{
    (void)state;
    float x[256];
    uint8_t a[1024], b[1024];
    gauss_row(x, 256, 1);
    for (int t = 0; t < TQ_TYPE_COUNT; t++) {
        quantize((tq_type)t, x, 256, a);
        memcpy(b, a, sizeof a);
        uint64_t bad, bnd;
        compare((tq_type)t, x, 256, a, b, &bad, &bnd);
        assert_int_equal(bad, 0);
        assert_int_equal(bnd, 0);
    }
}

static void test_f16_and_f32_allow_no_difference(void **state)
{
    (void)state;
    float x[32];
    uint8_t a[128], b[128];
    gauss_row(x, 32, 2);
    for (int t = TQ_TYPE_F32; t <= TQ_TYPE_F16; t++) {
        quantize((tq_type)t, x, 32, a);
        memcpy(b, a, sizeof a);
        b[0] ^= 1; /* one ulp of the first element */
        uint64_t bad, bnd;
        compare((tq_type)t, x, 32, b, a, &bad, &bnd);
        assert_int_equal(bad, 1);
    }
}

static void test_turbo_index_far_from_midpoint_fails(void **state)
{
    (void)state;
    float x[128];
    uint8_t a[66], b[66];
    gauss_row(x, 128, 3);
    quantize(TQ_TYPE_TURBO4, x, 128, a);
    memcpy(b, a, sizeof a);
    b[2 + 10] ^= 0x01; /* element 20's index changes by one step */
    uint64_t bad, bnd;
    compare(TQ_TYPE_TURBO4, x, 128, b, a, &bad, &bnd);
    assert_int_equal(bad, 1);
    assert_int_equal(bnd, 0);
}

/* Builds x whose rotated, normalised element 0 sits exactly on the first positive
 * midpoint of the 3-bit codebook; the neighbouring index there is tolerated. */
static void test_turbo_index_at_midpoint_is_tolerated(void **state)
{
    (void)state;
    float y[128], x[128];
    const float mid = 0.5f * (tq_ref_turbo_centroid(3, 4) + tq_ref_turbo_centroid(3, 5));
    gauss_row(y, 128, 4);
    double ss = 0;
    for (int i = 1; i < 128; i++)
        ss += (double)y[i] * y[i];
    float s = (float)sqrt((1.0 - (double)mid * mid) / ss);
    for (int i = 1; i < 128; i++)
        y[i] *= s;
    y[0] = mid;
    memcpy(x, y, sizeof x);
    tq_ref_rotate_inverse(x);
    uint8_t a[50], b[50];
    quantize(TQ_TYPE_TURBO3, x, 128, a);
    memcpy(b, a, sizeof a);
    /* element 0: low two bits in qs[0] bits 0-1, top bit in signs[0] bit 0 */
    uint32_t idx = (a[2] & 3u) | ((a[34] & 1u) << 2);
    uint32_t other = idx == 5 ? 4 : 5;
    assert_true(idx == 4 || idx == 5);
    b[2] = (uint8_t)((b[2] & ~3u) | (other & 3u));
    b[34] = (uint8_t)((b[34] & ~1u) | (other >> 2));
    uint64_t bad, bnd;
    compare(TQ_TYPE_TURBO3, x, 128, b, a, &bad, &bnd);
    assert_int_equal(bad, 0);
    assert_int_equal(bnd, 1);
}

static void test_q8_0_rounding_tie_is_tolerated(void **state)
{
    (void)state;
    float x[32] = { 0 };
    x[0] = 1.0f;              /* amax: d = 1/127 */
    x[1] = 2.5f / 127.0f;     /* x * (1/d) = 2.5: on the rounding boundary */
    x[2] = 0.3f;
    uint8_t a[34], b[34];
    quantize(TQ_TYPE_Q8_0, x, 32, a);
    memcpy(b, a, sizeof a);
    b[2 + 1] = (uint8_t)((int8_t)a[2 + 1] == 3 ? 2 : 3);
    uint64_t bad, bnd;
    compare(TQ_TYPE_Q8_0, x, 32, b, a, &bad, &bnd);
    assert_int_equal(bad, 0);
    assert_int_equal(bnd, 1);
    /* the same change away from a boundary is a failure */
    memcpy(b, a, sizeof a);
    b[2 + 2] = (uint8_t)((int8_t)a[2 + 2] + 1);
    compare(TQ_TYPE_Q8_0, x, 32, b, a, &bad, &bnd);
    assert_int_equal(bad, 1);
}

static void test_scale_one_ulp_tolerated_two_or_sign_not(void **state)
{
    (void)state;
    float x[32];
    gauss_row(x, 32, 5);
    uint8_t a[18], b[18];
    quantize(TQ_TYPE_Q4_0, x, 32, a);
    uint16_t d;
    memcpy(&d, a, 2);
    uint64_t bad, bnd;
    memcpy(b, a, sizeof a);
    uint16_t d1 = (uint16_t)(d + 1);
    memcpy(b, &d1, 2);
    compare(TQ_TYPE_Q4_0, x, 32, b, a, &bad, &bnd);
    assert_int_equal(bad, 0);
    assert_int_equal(bnd, 1);
    uint16_t d2 = (uint16_t)(d + 2);
    memcpy(b, &d2, 2);
    compare(TQ_TYPE_Q4_0, x, 32, b, a, &bad, &bnd);
    assert_int_equal(bad, 1);
    uint16_t ds = (uint16_t)(d ^ 0x8000u);
    memcpy(b, &ds, 2);
    compare(TQ_TYPE_Q4_0, x, 32, b, a, &bad, &bnd);
    assert_int_equal(bad, 1);
}

static void test_zero_group_must_be_all_zero(void **state)
{
    (void)state;
    float x[128] = { 0 };
    uint8_t a[34], b[34];
    quantize(TQ_TYPE_TURBO2, x, 128, a);
    memcpy(b, a, sizeof a);
    b[5] = 0x01;
    uint64_t bad, bnd;
    compare(TQ_TYPE_TURBO2, x, 128, b, a, &bad, &bnd);
    assert_true(bad > 0);
}

static void test_guard_pattern_detects_one_byte(void **state)
{
    (void)state;
    ck_result r;
    memset(&r, 0, sizeof r);
    uint8_t buf[64];
    r.parent = buf;
    r.parent_bytes = sizeof buf;
    r.view_offset = 16;
    r.view_bytes = 30;
    for (uint64_t i = 0; i < sizeof buf; i++)
        buf[i] = ck_guard_byte(i);
    memset(buf + 16, 0, 30); /* the op's output: anything goes inside the view */
    assert_int_equal(ck_guard_damage(&r), 0);
    buf[46] ^= 0x40; /* first byte past the view (inside the rounding to 4) */
    assert_int_equal(ck_guard_damage(&r), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_rows_pass),
        cmocka_unit_test(test_f16_and_f32_allow_no_difference),
        cmocka_unit_test(test_turbo_index_far_from_midpoint_fails),
        cmocka_unit_test(test_turbo_index_at_midpoint_is_tolerated),
        cmocka_unit_test(test_q8_0_rounding_tie_is_tolerated),
        cmocka_unit_test(test_scale_one_ulp_tolerated_two_or_sign_not),
        cmocka_unit_test(test_zero_group_must_be_all_zero),
        cmocka_unit_test(test_guard_pattern_detects_one_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
