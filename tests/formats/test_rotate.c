/*
 * test_rotate.c: the signed Walsh-Hadamard rotation of FORMATS.md.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "tq/tq_ref.h"

#define G 128

/* Sign vectors exactly as FORMATS.md lists them (bit b of byte k set: element 8k+b is
 * -1). Retyped here on purpose: this test pins the constants header to the spec. */
static const char *const S1_HEX = "59036ae44959f842bb3bc6a4a950f249";
static const char *const S2_HEX = "90eeac16dc8f623f7a35a5b76265a5be";

static int spec_sign(const char *hex, int j)
{
    unsigned byte;
    char two[3] = { hex[2 * (j / 8)], hex[2 * (j / 8) + 1], 0 };
    sscanf(two, "%x", &byte);
    return (byte >> (j % 8)) & 1u ? -1 : 1;
}

static int popcount_parity(unsigned v)
{
    return __builtin_popcount(v) & 1;
}

static void test_forward_then_inverse_is_identity(void **state)
{
    (void)state;
    test_rng r = test_rng_make(1);
    float x[G], y[G];
    for (int it = 0; it < 1000; it++) {
        for (int j = 0; j < G; j++)
            x[j] = y[j] = test_rng_sym(&r);
        tq_ref_rotate_forward(y);
        tq_ref_rotate_inverse(y);
        for (int j = 0; j < G; j++)
            assert_true(fabsf(y[j] - x[j]) <= 1e-6f);
    }
}

static void test_rotation_preserves_inner_products(void **state)
{
    (void)state;
    test_rng r = test_rng_make(2);
    float a[G], b[G];
    for (int it = 0; it < 1000; it++) {
        double before = 0, na = 0, nb = 0, after = 0;
        for (int j = 0; j < G; j++) {
            a[j] = (float)test_rng_gauss(&r);
            b[j] = (float)test_rng_gauss(&r);
            before += (double)a[j] * b[j];
            na += (double)a[j] * a[j];
            nb += (double)b[j] * b[j];
        }
        tq_ref_rotate_forward(a);
        tq_ref_rotate_forward(b);
        for (int j = 0; j < G; j++)
            after += (double)a[j] * b[j];
        assert_true(fabs(after - before) <= 1e-5 * sqrt(na * nb));
    }
}

static void test_forward_of_basis_vector_is_signed_hadamard_column(void **state)
{
    (void)state;
    const float c = 1.0f / sqrtf(128.0f);
    float e[G];
    for (int k = 0; k < G; k++) {
        memset(e, 0, sizeof e);
        e[k] = 1.0f;
        tq_ref_rotate_forward(e);
        for (int i = 0; i < G; i++) {
            int sign = spec_sign(S2_HEX, i) * spec_sign(S1_HEX, k) *
                       (popcount_parity((unsigned)(i & k)) ? -1 : 1);
            assert_true(fabsf(e[i] - (float)sign * c) <= 1e-7f);
        }
    }
}

static void test_inverse_is_the_transpose_of_forward(void **state)
{
    (void)state;
    static float fwd[G][G];
    float e[G];
    for (int k = 0; k < G; k++) {
        memset(e, 0, sizeof e);
        e[k] = 1.0f;
        tq_ref_rotate_forward(e);
        memcpy(fwd[k], e, sizeof e);
    }
    for (int k = 0; k < G; k++) {
        memset(e, 0, sizeof e);
        e[k] = 1.0f;
        tq_ref_rotate_inverse(e);
        for (int i = 0; i < G; i++)
            assert_true(fabsf(e[i] - fwd[i][k]) <= 1e-7f);
    }
}

/* Reads s1 and s2 back out of the rotation: forward(e_0)[i] = s2[i] s1[0] c and
 * forward(e_k)[0] = s2[0] s1[k] c, and checks them against FORMATS.md's listed
 * patterns and negative counts (independent of the hex strings above). */
static void test_sign_vectors_match_the_listed_patterns(void **state)
{
    (void)state;
    static const char *const s1_first16 = "-++--+-+--++++++";
    static const char *const s2_first16 = "++++-++-+---+---";
    float e0[G], ek[G];
    memset(e0, 0, sizeof e0);
    e0[0] = 1.0f;
    tq_ref_rotate_forward(e0);
    int s1[G], s2[G];
    s1[0] = s1_first16[0] == '-' ? -1 : 1;               /* anchor: s1[0] as listed */
    for (int i = 0; i < G; i++)
        s2[i] = (e0[i] > 0 ? 1 : -1) * s1[0];
    for (int k = 1; k < G; k++) {
        memset(ek, 0, sizeof ek);
        ek[k] = 1.0f;
        tq_ref_rotate_forward(ek);
        s1[k] = (ek[0] > 0 ? 1 : -1) * s2[0];
    }
    int neg1 = 0, neg2 = 0;
    for (int j = 0; j < G; j++) {
        neg1 += s1[j] < 0;
        neg2 += s2[j] < 0;
        assert_int_equal(s1[j], spec_sign(S1_HEX, j));
        assert_int_equal(s2[j], spec_sign(S2_HEX, j));
    }
    for (int j = 0; j < 16; j++) {
        assert_int_equal(s1[j], s1_first16[j] == '-' ? -1 : 1);
        assert_int_equal(s2[j], s2_first16[j] == '-' ? -1 : 1);
    }
    assert_int_equal(neg1, 60);
    assert_int_equal(neg2, 70);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_then_inverse_is_identity),
        cmocka_unit_test(test_rotation_preserves_inner_products),
        cmocka_unit_test(test_forward_of_basis_vector_is_signed_hadamard_column),
        cmocka_unit_test(test_inverse_is_the_transpose_of_forward),
        cmocka_unit_test(test_sign_vectors_match_the_listed_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
