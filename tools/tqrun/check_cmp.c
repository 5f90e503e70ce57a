/*
 * check_cmp.c: the quantize comparison rule (docs/tqrun.md, "Comparison rules").
 *
 * Two correct implementations of a quantizer may still disagree where the value before
 * the rounding decision sits on a decision boundary: a sum taken in another order moves
 * it by an ulp. So a differing code is forgiven only when the reference's own
 * pre-decision value lies within 1e-6 of a boundary and the codes are neighbours, and an
 * fp16 scale/norm may differ by one ulp. Every other difference is a failure. The
 * pre-decision values are recomputed here from the public reference functions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define CK_BOUNDARY_TOL 1e-6f

/* -v: the first differences of a failing case are printed (stderr), to tell a real bug
 * from a tolerance question without a debugger. */
static int detail_budget;

void ck_compare_details(int max_lines) { detail_budget = max_lines; }

static void detail(const char *what, int j, long got, long ref, double pre)
{
    if (detail_budget <= 0)
        return;
    detail_budget--;
    fprintf(stderr, "    %s element %d: got %ld, ref %ld (value before the decision %.9g)\n",
            what, j, got, ref, pre);
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Differences of one fp16 scale: one ulp (same sign) is tolerated. */
static void cmp_scale(const uint8_t *got, const uint8_t *ref, uint64_t *bad, uint64_t *boundary)
{
    uint16_t a = rd16(got), b = rd16(ref);
    if (a == b)
        return;
    if ((a & 0x8000u) == (b & 0x8000u) && abs((int)(a & 0x7fffu) - (int)(b & 0x7fffu)) == 1) {
        (*boundary)++;
    } else {
        (*bad)++;
        if (detail_budget > 0) {
            detail_budget--;
            fprintf(stderr, "    fp16 scale/norm: got 0x%04x (%g), ref 0x%04x (%g)\n", a,
                    (double)tq_ref_fp16_to_fp32(a), b, (double)tq_ref_fp16_to_fp32(b));
        }
    }
}

/* Tolerance for a value of magnitude v: 1e-6, widened to a few ulps for large v (q8_0
 * codes reach 127, where one float ulp is already 7.6e-6). */
static float tol_for(float v) { return fmaxf(CK_BOUNDARY_TOL, fabsf(v) * 0x1.0p-21f); }

static void cmp_q8_0(const float *x, const uint8_t *got, const uint8_t *ref, uint64_t *bad,
                     uint64_t *boundary)
{
    cmp_scale(got, ref, bad, boundary);
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) {
        int a = (int8_t)got[2 + j], b = (int8_t)ref[2 + j];
        if (a == b)
            continue;
        float v = fabsf(x[j] * id);
        float frac = v - floorf(v);
        if (abs(a - b) == 1 && fabsf(frac - 0.5f) <= tol_for(v)) {
            (*boundary)++;
        } else {
            (*bad)++;
            detail("q8_0 code", j, a, b, x[j] * id);
        }
    }
}

static void cmp_q4_0(const float *x, const uint8_t *got, const uint8_t *ref, uint64_t *bad,
                     uint64_t *boundary)
{
    cmp_scale(got, ref, bad, boundary);
    float m = 0.0f, amax = 0.0f;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            m = x[j];
        }
    float d = m / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) {
        const uint8_t gb = got[2 + (j & 15)], rb = ref[2 + (j & 15)];
        int a = j < 16 ? (gb & 15) : (gb >> 4), b = j < 16 ? (rb & 15) : (rb >> 4);
        if (a == b)
            continue;
        float v = x[j] * id + 8.5f;
        if (abs(a - b) == 1 && fabsf(v - rintf(v)) <= tol_for(v)) {
            (*boundary)++;
        } else {
            (*bad)++;
            detail("q4_0 code", j, a, b, v);
        }
    }
}

static uint32_t turbo_bits(tq_type t)
{
    return t == TQ_TYPE_TURBO2 ? 2 : t == TQ_TYPE_TURBO3 ? 3 : 4;
}

static uint32_t turbo_idx(tq_type t, const uint8_t *blk, int j)
{
    const uint8_t *qs = blk + 2;
    switch (t) {
    case TQ_TYPE_TURBO2: return (qs[j / 4] >> (2 * (j % 4))) & 3u;
    case TQ_TYPE_TURBO3: {
        uint32_t lo = (qs[j / 4] >> (2 * (j % 4))) & 3u;
        uint32_t hi = (blk[2 + 32 + j / 8] >> (j % 8)) & 1u;
        return lo | (hi << 2);
    }
    default: return (qs[j / 2] >> (4 * (j % 2))) & 15u;
    }
}

static void cmp_turbo(tq_type t, const float *x, int64_t valid, const uint8_t *got,
                      const uint8_t *ref, uint64_t *bad, uint64_t *boundary)
{
    const uint32_t bb = tq_type_block_bytes(t);
    if (memcmp(got, ref, bb) == 0)
        return;
    float y[128];
    float ss = 0.0f;
    for (int j = 0; j < 128; j++) {
        y[j] = j < valid ? x[j] : 0.0f;
        ss += y[j] * y[j];
    }
    float g = sqrtf(ss);
    if (g <= 1e-10f) {
        /* An all-zero group must be an all-zero block: no tolerance. */
        for (uint32_t i = 0; i < bb; i++)
            *bad += got[i] != ref[i];
        return;
    }
    for (int j = 0; j < 128; j++)
        y[j] /= g;
    tq_ref_rotate_forward(y);
    cmp_scale(got, ref, bad, boundary);
    const uint32_t bits = turbo_bits(t);
    for (int j = 0; j < 128; j++) {
        uint32_t a = turbo_idx(t, got, j), b = turbo_idx(t, ref, j);
        if (a == b)
            continue;
        bool near = tq_ref_turbo_index(bits, y[j] - CK_BOUNDARY_TOL) !=
                    tq_ref_turbo_index(bits, y[j] + CK_BOUNDARY_TOL);
        if (near && abs((int)a - (int)b) == 1) {
            (*boundary)++;
        } else {
            (*bad)++;
            detail("turbo index", j, (long)a, (long)b, y[j]);
        }
    }
}

void ck_compare_quant_row(tq_type type, const float *x, int64_t n, const uint8_t *got,
                          const uint8_t *ref, uint64_t *bad, uint64_t *boundary)
{
    const uint64_t rb = tq_type_row_bytes(type, n);
    if (memcmp(got, ref, rb) == 0)
        return;
    const uint32_t be = tq_type_block_elems(type), bb = tq_type_block_bytes(type);
    const int64_t nblk = tq_type_padded_elems(type, n) / be;
    for (int64_t b = 0; b < nblk; b++) {
        const uint8_t *g = got + b * bb, *r = ref + b * bb;
        const float *xb = x + b * be;
        switch (type) {
        case TQ_TYPE_Q8_0: cmp_q8_0(xb, g, r, bad, boundary); break;
        case TQ_TYPE_Q4_0: cmp_q4_0(xb, g, r, bad, boundary); break;
        case TQ_TYPE_TURBO2:
        case TQ_TYPE_TURBO3:
        case TQ_TYPE_TURBO4:
            cmp_turbo(type, xb, n - b * (int64_t)be, g, r, bad, boundary);
            break;
        default: /* f32, f16: exact */
            *bad += memcmp(g, r, bb) != 0;
            break;
        }
    }
}
