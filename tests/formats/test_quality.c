/*
 * test_quality.c: turbo quality on 100k unit-sphere Gaussian vectors, d = 128, against
 * the figures of the formats spec (fork reference: MSE 0.1188 / 0.0339 / 0.0092,
 * cosine 0.941 / 0.983 / 0.995). Prints what it measured.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "test_util.h"
#include "tq/tq_ref.h"

#define D 128
#define N_VEC 100000

typedef struct quality {
    double mse, cosine;
} quality;

static quality measured[3];     /* turbo2, turbo3, turbo4 */

static int setup(void **state)
{
    (void)state;
    static float x[D], y[D];
    static uint8_t q[66];
    double se[3] = { 0 }, cs[3] = { 0 };
    test_rng r = test_rng_make(2504);
    for (int v = 0; v < N_VEC; v++) {
        double n2 = 0;
        double g[D];
        for (int j = 0; j < D; j++) {
            g[j] = test_rng_gauss(&r);
            n2 += g[j] * g[j];
        }
        double inv = 1.0 / sqrt(n2);
        for (int j = 0; j < D; j++)
            x[j] = (float)(g[j] * inv);
        for (int t = 0; t < 3; t++) {
            tq_type type = (tq_type)(TQ_TYPE_TURBO2 + t);
            if (tq_ref_quantize_row(type, x, D, q) ||
                tq_ref_dequantize_row(type, q, D, y, true))
                return -1;
            double err = 0, dot = 0, nx = 0, ny = 0;
            for (int j = 0; j < D; j++) {
                double d = (double)x[j] - y[j];
                err += d * d;
                dot += (double)x[j] * y[j];
                nx += (double)x[j] * x[j];
                ny += (double)y[j] * y[j];
            }
            se[t] += err;
            cs[t] += dot / sqrt(nx * ny);
        }
    }
    for (int t = 0; t < 3; t++) {
        measured[t].mse = se[t] / N_VEC;
        measured[t].cosine = cs[t] / N_VEC;
        printf("quality turbo%d: MSE %.4f  cosine %.4f  (%d unit vectors, d=%d)\n", t + 2,
               measured[t].mse, measured[t].cosine, N_VEC, D);
    }
    return 0;
}

static void check(int t, double max_mse, double min_cos)
{
    assert_true(measured[t].mse <= max_mse);
    assert_true(measured[t].cosine >= min_cos);
}

static void test_turbo2_quality_meets_spec(void **state)
{
    (void)state;
    check(0, 0.1200, 0.940);
}

static void test_turbo3_quality_meets_spec(void **state)
{
    (void)state;
    check(1, 0.0345, 0.982);
}

static void test_turbo4_quality_meets_spec(void **state)
{
    (void)state;
    check(2, 0.0094, 0.995);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turbo2_quality_meets_spec),
        cmocka_unit_test(test_turbo3_quality_meets_spec),
        cmocka_unit_test(test_turbo4_quality_meets_spec),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
