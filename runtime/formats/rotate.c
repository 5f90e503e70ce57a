/*
 * rotate.c: the signed Walsh-Hadamard rotation of one 128-group.
 *
 *   forward(x) = D(s2) * (1/sqrt(128)) * H * D(s1) * x
 *   inverse(y) = D(s1) * (1/sqrt(128)) * H * D(s2) * y
 *
 * H is applied as the in-place butterfly with strides 1, 2, ..., 64. The float version
 * multiplies by TQ_TURBO_INV_SQRT_GROUP after the butterfly; sign flips are exact, so
 * only the butterfly's order and that one multiply determine the rounding, and
 * backends that want bit-identical quantize results follow the same order.
 */
#include <math.h>

#include "tq/tq_ref.h"
#include "tq_formats_internal.h"

const uint32_t tq_fmt_s1_words[TQ_TURBO_GROUP / 32] = { TQ_TURBO_S1_WORDS };
const uint32_t tq_fmt_s2_words[TQ_TURBO_GROUP / 32] = { TQ_TURBO_S2_WORDS };

void tq_fmt_fwht128(float x[TQ_TURBO_GROUP])
{
    for (uint32_t h = 1; h < TQ_TURBO_GROUP; h <<= 1) {
        for (uint32_t i = 0; i < TQ_TURBO_GROUP; i += 2 * h) {
            for (uint32_t j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
        }
    }
}

void tq_fmt_fwht128_d(double x[TQ_TURBO_GROUP])
{
    for (uint32_t h = 1; h < TQ_TURBO_GROUP; h <<= 1) {
        for (uint32_t i = 0; i < TQ_TURBO_GROUP; i += 2 * h) {
            for (uint32_t j = i; j < i + h; j++) {
                double a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
        }
    }
}

/* Negates the elements whose bit is set in words (a sign flip is exact in any order). */
static void apply_signs(float *x, const uint32_t *words)
{
    for (uint32_t j = 0; j < TQ_TURBO_GROUP; j++)
        if ((words[j >> 5] >> (j & 31)) & 1u)
            x[j] = -x[j];
}

static void apply_signs_d(double *x, const uint32_t *words)
{
    for (uint32_t j = 0; j < TQ_TURBO_GROUP; j++)
        if ((words[j >> 5] >> (j & 31)) & 1u)
            x[j] = -x[j];
}

static void rotate_f(float *x, const uint32_t *first, const uint32_t *second)
{
    apply_signs(x, first);
    tq_fmt_fwht128(x);
    for (uint32_t j = 0; j < TQ_TURBO_GROUP; j++)
        x[j] *= TQ_TURBO_INV_SQRT_GROUP;
    apply_signs(x, second);
}

static void rotate_d(double *x, const uint32_t *first, const uint32_t *second)
{
    /* The exact 1/sqrt(128) in double, derived from the group size rather than the
     * float constant, so the double reference is not limited by float rounding. */
    const double scale = 1.0 / sqrt((double)TQ_TURBO_GROUP);
    apply_signs_d(x, first);
    tq_fmt_fwht128_d(x);
    for (uint32_t j = 0; j < TQ_TURBO_GROUP; j++)
        x[j] *= scale;
    apply_signs_d(x, second);
}

TQ_API void tq_ref_rotate_forward(float x[128])
{
    if (x)
        rotate_f(x, tq_fmt_s1_words, tq_fmt_s2_words);
}

TQ_API void tq_ref_rotate_inverse(float x[128])
{
    if (x)
        rotate_f(x, tq_fmt_s2_words, tq_fmt_s1_words);
}

void tq_fmt_rotate_forward_d(double x[TQ_TURBO_GROUP])
{
    rotate_d(x, tq_fmt_s1_words, tq_fmt_s2_words);
}

void tq_fmt_rotate_inverse_d(double x[TQ_TURBO_GROUP])
{
    rotate_d(x, tq_fmt_s2_words, tq_fmt_s1_words);
}
