/*
 * fp16.c: IEEE binary16 <-> binary32 in portable C (no F16C), round to nearest even.
 *
 * The reference must give the same bits on every host, so it works on the bit
 * patterns only; backends with hardware conversion must match it exactly (F16C's
 * vcvtps2ph with imm 0 does).
 */
#include <stdint.h>
#include <string.h>

#include "tq/tq_ref.h"

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Shifts m right by shift (1..31) rounding to nearest, ties to even. */
static uint32_t shift_rne(uint32_t m, uint32_t shift)
{
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return q;
}

TQ_API uint16_t tq_ref_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;

    if (exp == 0xffu) {
        if (mant == 0)
            return sign | 0x7c00u;                         /* infinity */
        /* NaN: keep the top payload bits, force quiet so it cannot become Inf. */
        return (uint16_t)(sign | 0x7e00u | (mant >> 13));
    }
    int32_t e = (int32_t)exp - 127;
    if (e > 15)
        return sign | 0x7c00u;                             /* overflow */
    if (e >= -14) {
        /* Normal half. A rounding carry out of the mantissa correctly bumps the exponent,
         * up to 0x7c00 (infinity) for values >= 65520. */
        uint32_t h = ((uint32_t)(e + 15) << 10) | (mant >> 13);
        uint32_t rem = mant & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    /* Subnormal half (unit 2^-24) or zero. Full significand M = 1.mant * 2^23, value
     * M * 2^(e-23) = M * 2^(e+1) units; below 2^-25 everything rounds to zero. */
    if (e < -25 || exp == 0)
        return sign;
    uint32_t m = mant | 0x800000u;
    uint32_t shift = (uint32_t)(-(e + 1));                 /* 14 .. 24 */
    return (uint16_t)(sign | shift_rne(m, shift));         /* may carry into 0x0400: fine */
}

TQ_API float tq_ref_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t exp = ((uint32_t)h >> 10) & 0x1fu;
    uint32_t mant = (uint32_t)h & 0x3ffu;

    if (exp == 0x1fu)
        return bits_f32(sign | 0x7f800000u | (mant << 13));   /* Inf / NaN */
    if (exp == 0) {
        if (mant == 0)
            return bits_f32(sign);
        /* Subnormal half: normalise into a float (always normal in binary32). */
        int32_t e = -14;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        mant &= 0x3ffu;
        return bits_f32(sign | ((uint32_t)(e + 127) << 23) | (mant << 13));
    }
    return bits_f32(sign | ((exp - 15u + 127u) << 23) | (mant << 13));
}
