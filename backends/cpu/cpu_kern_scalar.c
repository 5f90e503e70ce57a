/*
 * cpu_kern_scalar.c: the scalar variant. Full-featured (every type, op and shape), plain C,
 * and the fallback on CPUs without AVX2. It follows the reference step by step, so its
 * quantized blocks are bit-identical to tq_ref's.
 */
#include <math.h>
#include <string.h>

#include "cpu_fp16.h"
#include "cpu_kernels.h"
#include "tq_format_constants.h"

static const float cb2[4] = { TQ_TURBO2_CODEBOOK };
static const float cb3[8] = { TQ_TURBO3_CODEBOOK };
static const float cb4[16] = { TQ_TURBO4_CODEBOOK };
static const float mid2[3] = { TQ_TURBO2_MIDPOINTS };
static const float mid3[7] = { TQ_TURBO3_MIDPOINTS };
static const float mid4[15] = { TQ_TURBO4_MIDPOINTS };

/* ------------------------------------------------------------------ rotation */

static void rot128(float *x, const float *sa, const float *sb)
{
    for (int i = 0; i < 128; i++)
        x[i] *= sa[i];
    for (int h = 1; h < 128; h <<= 1)
        for (int i = 0; i < 128; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    for (int i = 0; i < 128; i++)
        x[i] = x[i] * TQ_TURBO_INV_SQRT_GROUP * sb[i];
}

static void rotate_scalar(float *x, int64_t n_groups, bool inverse)
{
    const cpu_sign_tables *s = cpu_signs();
    for (int64_t g = 0; g < n_groups; g++)
        rot128(x + g * 128, inverse ? s->s2 : s->s1, inverse ? s->s1 : s->s2);
}

/* ------------------------------------------------------------------ turbo codec */

static int turbo_bits(tq_type t)
{
    return t == TQ_TYPE_TURBO2 ? 2 : t == TQ_TYPE_TURBO3 ? 3 : 4;
}

static const float *turbo_cb(int bits)
{
    return bits == 2 ? cb2 : bits == 3 ? cb3 : cb4;
}

static uint32_t turbo_index(int bits, float y)
{
    const float *m = bits == 2 ? mid2 : bits == 3 ? mid3 : mid4;
    uint32_t n = (1u << bits) - 1u, idx = 0;
    for (uint32_t i = 0; i < n; i++)
        idx += !(y < m[i]);
    return idx;
}

static uint32_t turbo_get(int bits, const uint8_t *blk, int j)
{
    const uint8_t *qs = blk + TQ_TURBO_QS_OFFSET;
    if (bits == 2)
        return (qs[j / 4] >> (2 * (j % 4))) & 3u;
    if (bits == 3)
        return ((qs[j / 4] >> (2 * (j % 4))) & 3u) |
               (((blk[TQ_TURBO3_SIGNS_OFFSET + j / 8] >> (j % 8)) & 1u) << 2);
    return (qs[j / 2] >> (4 * (j % 2))) & 15u;
}

static void turbo_quantize_group(int bits, const float *src, int64_t n, uint8_t *blk, size_t bb)
{
    float y[128];
    memset(blk, 0, bb);
    for (int i = 0; i < 128; i++)
        y[i] = i < n ? src[i] : 0.0f;
    float ss = 0.0f;
    for (int i = 0; i < 128; i++)
        ss += y[i] * y[i];
    float g = sqrtf(ss);
    if (g <= TQ_TURBO_ZERO_EPS)
        return;
    for (int i = 0; i < 128; i++)
        y[i] = y[i] / g;
    rot128(y, cpu_signs()->s1, cpu_signs()->s2);
    const float *cb = turbo_cb(bits);
    float rr = 0.0f;
    uint8_t *qs = blk + TQ_TURBO_QS_OFFSET;
    for (int j = 0; j < 128; j++) {
        uint32_t idx = turbo_index(bits, y[j]);
        rr += cb[idx] * cb[idx];
        if (bits == 2) {
            qs[j / 4] |= (uint8_t)(idx << (2 * (j % 4)));
        } else if (bits == 3) {
            qs[j / 4] |= (uint8_t)((idx & 3u) << (2 * (j % 4)));
            blk[TQ_TURBO3_SIGNS_OFFSET + j / 8] |= (uint8_t)((idx >> 2) << (j % 8));
        } else {
            qs[j / 2] |= (uint8_t)(idx << (4 * (j % 2)));
        }
    }
    float r = sqrtf(rr);
    cpu_store_u16(blk, cpu_f32_to_fp16(r > TQ_TURBO_ZERO_EPS ? g / r : g));
}

/* ------------------------------------------------------------------ rows */

static void quantize_row_scalar(tq_type type, const float *src, int64_t n, uint8_t *dst)
{
    switch (type) {
    case TQ_TYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case TQ_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            cpu_store_u16(dst + 2 * i, cpu_f32_to_fp16(src[i]));
        return;
    case TQ_TYPE_Q8_0:
        for (int64_t b = 0; b < n / 32; b++, dst += TQ_Q8_0_BLOCK_BYTES) {
            const float *x = src + b * 32;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[j]));
            float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            if (isinf(id))
                id = 0.0f;      /* subnormal d: its fp16 is 0; keeps codes in range */
            cpu_store_u16(dst, cpu_f32_to_fp16(d));
            for (int j = 0; j < 32; j++)
                dst[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
        }
        return;
    case TQ_TYPE_Q4_0:
        for (int64_t b = 0; b < n / 32; b++, dst += TQ_Q4_0_BLOCK_BYTES) {
            const float *x = src + b * 32;
            float amax = 0.0f, m = 0.0f;
            for (int j = 0; j < 32; j++)
                if (fabsf(x[j]) > amax) {
                    amax = fabsf(x[j]);
                    m = x[j];
                }
            float d = m / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            if (isinf(id))
                id = 0.0f;
            cpu_store_u16(dst, cpu_f32_to_fp16(d));
            for (int j = 0; j < 16; j++) {
                int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
                q0 = q0 < 15 ? q0 : 15;
                q1 = q1 < 15 ? q1 : 15;
                dst[2 + j] = (uint8_t)(q0 | (q1 << 4));
            }
        }
        return;
    default: {
        int bits = turbo_bits(type);
        size_t bb = type == TQ_TYPE_TURBO2 ? TQ_TURBO2_BLOCK_BYTES
                  : type == TQ_TYPE_TURBO3 ? TQ_TURBO3_BLOCK_BYTES : TQ_TURBO4_BLOCK_BYTES;
        for (int64_t g = 0; g * 128 < n; g++)
            turbo_quantize_group(bits, src + g * 128, n - g * 128, dst + g * bb, bb);
        return;
    }
    }
}

static void dequantize_row_scalar(tq_type type, const uint8_t *src, int64_t n, float *dst)
{
    switch (type) {
    case TQ_TYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case TQ_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = cpu_fp16_to_f32(cpu_load_u16(src + 2 * i));
        return;
    case TQ_TYPE_Q8_0:
        for (int64_t b = 0; b < n / 32; b++, src += TQ_Q8_0_BLOCK_BYTES) {
            float d = cpu_fp16_to_f32(cpu_load_u16(src));
            for (int j = 0; j < 32; j++)
                dst[b * 32 + j] = d * (float)(int8_t)src[2 + j];
        }
        return;
    case TQ_TYPE_Q4_0:
        for (int64_t b = 0; b < n / 32; b++, src += TQ_Q4_0_BLOCK_BYTES) {
            float d = cpu_fp16_to_f32(cpu_load_u16(src));
            for (int j = 0; j < 16; j++) {
                dst[b * 32 + j] = d * (float)((src[2 + j] & 15) - 8);
                dst[b * 32 + j + 16] = d * (float)((src[2 + j] >> 4) - 8);
            }
        }
        return;
    default: {
        int bits = turbo_bits(type);
        const float *cb = turbo_cb(bits);
        size_t bb = cpu_row_bytes(type, 128);
        for (int64_t g = 0; g < cpu_padded_elems(type, n) / 128; g++, src += bb) {
            float norm = cpu_fp16_to_f32(cpu_load_u16(src));
            for (int j = 0; j < 128; j++)
                dst[g * 128 + j] = cb[turbo_get(bits, src, j)] * norm;
        }
        return;
    }
    }
}

static void f16_to_f32_scalar(const uint8_t *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = cpu_fp16_to_f32(cpu_load_u16(src + 2 * i));
}

/* ------------------------------------------------------------------ attention */

/* Decodes 32 (or, for turbo, 128) elements starting at element e0 of a row. */
static int decode_unit(tq_type type, const uint8_t *row, int64_t e0, float *out)
{
    switch (type) {
    case TQ_TYPE_F32: memcpy(out, row + e0 * 4, 128); return 32;
    case TQ_TYPE_F16: f16_to_f32_scalar(row + e0 * 2, out, 32); return 32;
    case TQ_TYPE_Q8_0: dequantize_row_scalar(type, row + e0 / 32 * TQ_Q8_0_BLOCK_BYTES, 32, out); return 32;
    case TQ_TYPE_Q4_0: dequantize_row_scalar(type, row + e0 / 32 * TQ_Q4_0_BLOCK_BYTES, 32, out); return 32;
    default: dequantize_row_scalar(type, row + e0 / 128 * cpu_row_bytes(type, 128), 128, out); return 128;
    }
}

static void kscore_scalar(tq_type type, const float *q, int64_t dk, int nr, int nrp,
                          const uint8_t *k, uint64_t krb, int nt, float *s)
{
    float buf[128];
    for (int t = 0; t < nt; t++) {
        const uint8_t *row = k + (uint64_t)t * krb;
        for (int r = 0; r < nr; r++)
            s[t * nrp + r] = 0.0f;
        for (int64_t e0 = 0; e0 < dk;) {
            int u = decode_unit(type, row, e0, buf);
            for (int r = 0; r < nr; r++) {
                float acc = 0.0f;
                for (int j = 0; j < u; j++)
                    acc += q[r * dk + e0 + j] * buf[j];
                s[t * nrp + r] += acc;
            }
            e0 += u;
        }
    }
}

static void vaccum_scalar(tq_type type, const float *p, int nr, int nrp, const uint8_t *v,
                          uint64_t vrb, int nt, int64_t dv, float *acc, int64_t acc_stride)
{
    float buf[128];
    for (int t = 0; t < nt; t++) {
        const uint8_t *row = v + (uint64_t)t * vrb;
        for (int64_t e0 = 0; e0 < dv;) {
            int u = decode_unit(type, row, e0, buf);
            for (int r = 0; r < nr; r++) {
                float pr = p[t * nrp + r];
                float *a = acc + r * acc_stride + e0;
                for (int j = 0; j < u; j++)
                    a[j] += pr * buf[j];
            }
            e0 += u;
        }
    }
}

#define SCALAR_ATTN(T, name)                                                                  \
    static void ks_##name(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,        \
                          uint64_t krb, int nt, float *s)                                      \
    { kscore_scalar(T, q, dk, nr, nrp, k, krb, nt, s); }                                       \
    static void va_##name(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb,      \
                          int nt, int64_t dv, float *acc, int64_t acc_stride, void *ws)         \
    { (void)ws; vaccum_scalar(T, p, nr, nrp, v, vrb, nt, dv, acc, acc_stride); }

SCALAR_ATTN(TQ_TYPE_F32, f32)
SCALAR_ATTN(TQ_TYPE_F16, f16)
SCALAR_ATTN(TQ_TYPE_Q8_0, q8_0)
SCALAR_ATTN(TQ_TYPE_Q4_0, q4_0)
SCALAR_ATTN(TQ_TYPE_TURBO2, turbo2)
SCALAR_ATTN(TQ_TYPE_TURBO3, turbo3)
SCALAR_ATTN(TQ_TYPE_TURBO4, turbo4)

static void softmax_scalar(float *s, int nr, int nrp, int nt, float softcap, int64_t key0,
                           const int64_t *limit, float *m, float *l, float *acc,
                           int64_t acc_stride, int64_t dv)
{
    for (int r = 0; r < nr; r++) {
        float mt = -INFINITY;
        for (int t = 0; t < nt; t++) {
            float x = s[t * nrp + r];
            if (softcap > 0.0f)
                x = softcap * tanhf(x / softcap);
            if (key0 + t > limit[r])
                x = -INFINITY;
            s[t * nrp + r] = x;
            mt = fmaxf(mt, x);
        }
        float mn = fmaxf(m[r], mt);
        if (mn == -INFINITY) {
            for (int t = 0; t < nt; t++)
                s[t * nrp + r] = 0.0f;
            continue;
        }
        float alpha = expf(m[r] - mn), sum = 0.0f;
        for (int t = 0; t < nt; t++) {
            float pv = expf(s[t * nrp + r] - mn);
            s[t * nrp + r] = pv;
            sum += pv;
        }
        l[r] = l[r] * alpha + sum;
        m[r] = mn;
        if (alpha != 1.0f)
            for (int64_t e = 0; e < dv; e++)
                acc[r * acc_stride + e] *= alpha;
    }
}

static const cpu_kernels k_scalar = {
    .name = "scalar",
    .quantize_row = quantize_row_scalar,
    .dequantize_row = dequantize_row_scalar,
    .rotate = rotate_scalar,
    .f16_to_f32 = f16_to_f32_scalar,
    .kscore = { ks_f32, ks_f16, ks_q8_0, ks_q4_0, ks_turbo2, ks_turbo3, ks_turbo4 },
    .vaccum = { va_f32, va_f16, va_q8_0, va_q4_0, va_turbo2, va_turbo3, va_turbo4 },
    .softmax = softmax_scalar,
};

const cpu_kernels *cpu_kernels_scalar(void)
{
    return &k_scalar;
}
