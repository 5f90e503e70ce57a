/*
 * quant.c: the scalar reference quantize / dequantize of every type, one row at a time.
 *
 * Written to be the bit-exact oracle: every float operation is spelled out in the
 * order docs/formats.md gives, so backends and the known-answer tests can match it.
 * (The build uses ISO C mode, where GCC does not contract a*b+c into FMA.)
 */
#include <math.h>
#include <string.h>

#include "tq/tq_ref.h"
#include "tq_formats_internal.h"

static const float cb2[4] = { TQ_TURBO2_CODEBOOK };
static const float cb3[8] = { TQ_TURBO3_CODEBOOK };
static const float cb4[16] = { TQ_TURBO4_CODEBOOK };
static const float mid2[3] = { TQ_TURBO2_MIDPOINTS };
static const float mid3[7] = { TQ_TURBO3_MIDPOINTS };
static const float mid4[15] = { TQ_TURBO4_MIDPOINTS };

uint32_t tq_fmt_turbo_bits(tq_type type)
{
    switch (type) {
    case TQ_TYPE_TURBO2: return 2;
    case TQ_TYPE_TURBO3: return 3;
    case TQ_TYPE_TURBO4: return 4;
    default: return 0;
    }
}

const float *tq_fmt_turbo_codebook(uint32_t bits)
{
    return bits == 2 ? cb2 : bits == 3 ? cb3 : bits == 4 ? cb4 : NULL;
}

const float *tq_fmt_turbo_midpoints(uint32_t bits)
{
    return bits == 2 ? mid2 : bits == 3 ? mid3 : bits == 4 ? mid4 : NULL;
}

TQ_API uint32_t tq_ref_turbo_index(uint32_t bits, float y)
{
    const float *mid = tq_fmt_turbo_midpoints(bits);
    if (!mid)
        return 0;
    /* Count the midpoints at or below y: a value exactly on a midpoint takes the upper
     * index, +0.0 and -0.0 both land on index 2^b/2, NaN compares false and takes the top. */
    uint32_t idx = 0;
    for (uint32_t i = 0; i + 1 < (1u << bits); i++)
        idx += !(y < mid[i]);
    return idx;
}

TQ_API float tq_ref_turbo_centroid(uint32_t bits, uint32_t idx)
{
    const float *cb = tq_fmt_turbo_codebook(bits);
    if (!cb || idx >= (1u << bits))
        return NAN;   /* misuse shows up loudly instead of as a plausible value */
    return cb[idx];
}

uint32_t tq_fmt_turbo_get_index(uint32_t bits, const uint8_t *block, uint32_t j)
{
    const uint8_t *qs = block + TQ_TURBO_QS_OFFSET;
    switch (bits) {
    case 2:
        return (qs[j / 4] >> (2 * (j % 4))) & 3u;
    case 3: {
        uint32_t low = (qs[j / 4] >> (2 * (j % 4))) & 3u;
        uint32_t hi = (block[TQ_TURBO3_SIGNS_OFFSET + j / 8] >> (j % 8)) & 1u;
        return low | (hi << 2);
    }
    case 4:
        return (qs[j / 2] >> (4 * (j % 2))) & 15u;
    default:
        return 0;
    }
}

void tq_fmt_turbo_set_index(uint32_t bits, uint8_t *block, uint32_t j, uint32_t idx)
{
    uint8_t *qs = block + TQ_TURBO_QS_OFFSET;
    switch (bits) {
    case 2:
        qs[j / 4] |= (uint8_t)((idx & 3u) << (2 * (j % 4)));
        break;
    case 3:
        qs[j / 4] |= (uint8_t)((idx & 3u) << (2 * (j % 4)));
        block[TQ_TURBO3_SIGNS_OFFSET + j / 8] |= (uint8_t)(((idx >> 2) & 1u) << (j % 8));
        break;
    case 4:
        qs[j / 2] |= (uint8_t)((idx & 15u) << (4 * (j % 2)));
        break;
    default:
        break;
    }
}

uint16_t tq_fmt_turbo_norm_bits(const uint8_t *block)
{
    uint16_t h;
    memcpy(&h, block + TQ_TURBO_NORM_OFFSET, sizeof h);
    return h;
}

/* ------------------------------------------------------------------ quantize */

/* One 128-group; x holds `count` (1..128) values, the rest of the group is zero padding. */
static void quantize_turbo_group(uint32_t bits, const float *x, int64_t count, uint8_t *block,
                                 size_t block_bytes)
{
    float y[TQ_TURBO_GROUP];
    const float *cb = tq_fmt_turbo_codebook(bits);
    const float *mid = tq_fmt_turbo_midpoints(bits);
    const uint32_t n_mid = (1u << bits) - 1u;

    memset(block, 0, block_bytes);

    float sum = 0.0f;
    for (int64_t j = 0; j < count; j++)
        sum += x[j] * x[j];
    float g = sqrtf(sum);
    if (g <= TQ_TURBO_ZERO_EPS)
        return;                                   /* all-zero block, norm 0 */

    for (int64_t j = 0; j < TQ_TURBO_GROUP; j++)
        y[j] = j < count ? x[j] / g : 0.0f;
    tq_ref_rotate_forward(y);

    float rsum = 0.0f;
    for (uint32_t j = 0; j < TQ_TURBO_GROUP; j++) {
        uint32_t idx = 0;
        for (uint32_t i = 0; i < n_mid; i++)
            idx += !(y[j] < mid[i]);
        tq_fmt_turbo_set_index(bits, block, j, idx);
        rsum += cb[idx] * cb[idx];
    }
    float r = sqrtf(rsum);
    uint16_t norm = tq_ref_fp32_to_fp16(r > TQ_TURBO_ZERO_EPS ? g / r : g);
    memcpy(block + TQ_TURBO_NORM_OFFSET, &norm, sizeof norm);
}

static void quantize_q8_0(const float *x, uint8_t *out)
{
    float amax = 0.0f;
    for (int j = 0; j < TQ_QK8_0; j++) {
        float a = fabsf(x[j]);
        if (a > amax)
            amax = a;
    }
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id))
        id = 0.0f;   /* only for a subnormal d, whose fp16 is 0 anyway: keeps codes in range */
    tq_block_q8_0 b;
    b.d = tq_ref_fp32_to_fp16(d);
    for (int j = 0; j < TQ_QK8_0; j++)
        b.qs[j] = (int8_t)roundf(x[j] * id);
    memcpy(out, &b, sizeof b);
}

static void quantize_q4_0(const float *x, uint8_t *out)
{
    float amax = 0.0f, m = 0.0f;
    for (int j = 0; j < TQ_QK4_0; j++) {
        float a = fabsf(x[j]);
        if (a > amax) {          /* strict: the first of equal magnitudes wins, sign kept */
            amax = a;
            m = x[j];
        }
    }
    float d = m / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id))
        id = 0.0f;
    tq_block_q4_0 b;
    b.d = tq_ref_fp32_to_fp16(d);
    for (int j = 0; j < TQ_QK4_0 / 2; j++) {
        int lo = (int)(x[j] * id + 8.5f);
        int hi = (int)(x[j + TQ_QK4_0 / 2] * id + 8.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        b.qs[j] = (uint8_t)(lo | (hi << 4));
    }
    memcpy(out, &b, sizeof b);
}

static tq_status check_row_args(const char *fn, tq_type type, const void *src, int64_t n,
                                const void *dst)
{
    if (!tq_type_is_valid(type))
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: invalid type %d", fn, (int)type);
    if (!src || !dst)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                              !src ? "src" : "dst");
    if (tq_type_row_bytes(type, n) == 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "%s: a %s row cannot have %lld elements (need n > 0%s)", fn,
                              tq_type_name(type), (long long)n,
                              tq_type_block_elems(type) == 32 ? " and n a multiple of 32" : "");
    return NULL;
}

TQ_API tq_status tq_ref_quantize_row(tq_type type, const float *src, int64_t n, void *dst)
{
    tq_status st = check_row_args("tq_ref_quantize_row", type, src, n, dst);
    if (st)
        return st;
    uint8_t *out = dst;

    if (type == TQ_TYPE_F32) {
        memcpy(out, src, (size_t)n * sizeof(float));
        return NULL;
    }
    if (type == TQ_TYPE_F16) {
        for (int64_t j = 0; j < n; j++) {
            uint16_t h = tq_ref_fp32_to_fp16(src[j]);
            memcpy(out + 2 * j, &h, sizeof h);
        }
        return NULL;
    }
    /* Block formats have no encoding for NaN or Inf: refuse rather than store garbage. */
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(src[j]))
            return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                                  "tq_ref_quantize_row: element %lld is %s; %s cannot store "
                                  "non-finite values", (long long)j,
                                  isnan(src[j]) ? "NaN" : "infinite", tq_type_name(type));

    const uint32_t be = tq_type_block_elems(type);
    const uint32_t bb = tq_type_block_bytes(type);
    const int64_t nb = tq_type_padded_elems(type, n) / be;
    for (int64_t b = 0; b < nb; b++) {
        const float *x = src + b * be;
        uint8_t *blk = out + b * bb;
        switch (type) {
        case TQ_TYPE_Q8_0:
            quantize_q8_0(x, blk);
            break;
        case TQ_TYPE_Q4_0:
            quantize_q4_0(x, blk);
            break;
        default: {
            int64_t count = n - b * be;
            quantize_turbo_group(tq_fmt_turbo_bits(type), x, count < be ? count : be, blk, bb);
            break;
        }
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- dequantize */

static void dequantize_turbo_group(uint32_t bits, const uint8_t *blk, float *y)
{
    const float *cb = tq_fmt_turbo_codebook(bits);
    float norm = tq_ref_fp16_to_fp32(tq_fmt_turbo_norm_bits(blk));
    for (uint32_t j = 0; j < TQ_TURBO_GROUP; j++)
        y[j] = cb[tq_fmt_turbo_get_index(bits, blk, j)] * norm;
}

static void dequantize_row(tq_type type, const uint8_t *in, int64_t n, float *dst,
                           bool inverse_rotation)
{
    if (type == TQ_TYPE_F32) {
        memcpy(dst, in, (size_t)n * sizeof(float));
        return;
    }
    if (type == TQ_TYPE_F16) {
        for (int64_t j = 0; j < n; j++) {
            uint16_t h;
            memcpy(&h, in + 2 * j, sizeof h);
            dst[j] = tq_ref_fp16_to_fp32(h);
        }
        return;
    }
    const uint32_t be = tq_type_block_elems(type);
    const uint32_t bb = tq_type_block_bytes(type);
    const int64_t nb = tq_type_padded_elems(type, n) / be;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = in + b * bb;
        float *y = dst + b * be;
        if (type == TQ_TYPE_Q8_0) {
            tq_block_q8_0 q;
            memcpy(&q, blk, sizeof q);
            float d = tq_ref_fp16_to_fp32(q.d);
            for (int j = 0; j < TQ_QK8_0; j++)
                y[j] = (float)q.qs[j] * d;
        } else if (type == TQ_TYPE_Q4_0) {
            tq_block_q4_0 q;
            memcpy(&q, blk, sizeof q);
            float d = tq_ref_fp16_to_fp32(q.d);
            for (int j = 0; j < TQ_QK4_0 / 2; j++) {
                y[j] = (float)((q.qs[j] & 0x0f) - 8) * d;
                y[j + TQ_QK4_0 / 2] = (float)((q.qs[j] >> 4) - 8) * d;
            }
        } else {
            dequantize_turbo_group(tq_fmt_turbo_bits(type), blk, y);
            if (inverse_rotation)
                tq_ref_rotate_inverse(y);
        }
    }
}

TQ_API tq_status tq_ref_dequantize_row(tq_type type, const void *src, int64_t n, float *dst,
                                       bool inverse_rotation)
{
    tq_status st = check_row_args("tq_ref_dequantize_row", type, src, n, dst);
    if (st)
        return st;
    dequantize_row(type, src, n, dst, inverse_rotation);
    return NULL;
}

void tq_fmt_dequantize_row_d(tq_type type, const void *src, int64_t n, double *dst, float *tmp)
{
    int64_t padded = tq_type_padded_elems(type, n);
    dequantize_row(type, src, n, tmp, false);
    for (int64_t j = 0; j < padded; j++)
        dst[j] = tmp[j];
    if (tq_type_is_turbo(type))
        for (int64_t g = 0; g < padded; g += TQ_TURBO_GROUP)
            tq_fmt_rotate_inverse_d(dst + g);
}
