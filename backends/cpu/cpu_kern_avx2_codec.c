/*
 * cpu_kern_avx2_codec.c: AVX2 quantize, dequantize, rotate and f16 conversion.
 *
 * Every step that rounds is done in the reference's order (the division x / g, the
 * butterfly, the single scale multiply, q8_0's round-half-away, q4_0's x*id + 8.5), so
 * blocks match tq_ref's except where only the summation order of the norm differs.
 */
#include <math.h>

#include "cpu_avx2.h"
#include "cpu_fp16.h"

static const float cb2x2[8] = { TQ_TURBO2_CODEBOOK, TQ_TURBO2_CODEBOOK };
static const float cb3[8] = { TQ_TURBO3_CODEBOOK };
static const float cb4[16] = { TQ_TURBO4_CODEBOOK };
static const float mid2[3] = { TQ_TURBO2_MIDPOINTS };
static const float mid3[7] = { TQ_TURBO3_MIDPOINTS };
static const float mid4[15] = { TQ_TURBO4_MIDPOINTS };

void cpu_avx2_f16_to_f32(const uint8_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i))));
    for (; i < n; i++)
        dst[i] = cpu_fp16_to_f32(cpu_load_u16(src + 2 * i));
}

void cpu_avx2_rotate(float *x, int64_t n_groups, bool inverse)
{
    const cpu_sign_tables *s = cpu_signs();
    for (int64_t g = 0; g < n_groups; g++, x += 128) {
        __m256 v[16];
        for (int i = 0; i < 16; i++)
            v[i] = _mm256_loadu_ps(x + 8 * i);
        rot_regs(v, inverse ? s->m2 : s->m1, inverse ? s->m1 : s->m2);
        for (int i = 0; i < 16; i++)
            _mm256_storeu_ps(x + 8 * i, v[i]);
    }
}

/* ------------------------------------------------------------------ turbo */

/* Index = number of midpoints m with !(y < m), found by a branchless binary search over
 * the sorted midpoints (same result as counting: the comparisons are monotone, ties and
 * NaN go up). Level L compares against mid[idx + step - 1], step = 2^(bits-1-L), looked
 * up with vpermps from the 2^L candidates of that level. */
AI __m256 level_table(const float *m, int bits, int level)
{
    const int step = 1 << (bits - 1 - level);
    float t[8] = { 0 };
    for (int j = 0; j < (1 << level); j++)
        t[j] = m[j * 2 * step + step - 1];
    return _mm256_setr_ps(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
}

/* tables: the level tables, already multiplied by the group norm (see below). */
AI __m256i turbo_index(const int bits, __m256 y, const __m256 *tables)
{
    __m256i idx = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int level = 0; level < bits; level++) {
        const int step = 1 << (bits - 1 - level);
        __m256 thr = level == 0 ? tables[0]
                   : _mm256_permutevar8x32_ps(tables[level], _mm256_srli_epi32(idx, bits - level));
        __m256i ge = _mm256_castps_si256(_mm256_cmp_ps(y, thr, _CMP_NLT_UQ));
        idx = _mm256_add_epi32(idx, _mm256_and_si256(ge, _mm256_set1_epi32(step)));
    }
    return idx;
}

AI __m256 turbo_centroid(int bits, __m256i idx)
{
    if (bits == 2)
        return _mm256_permutevar8x32_ps(_mm256_loadu_ps(cb2x2), idx);
    if (bits == 3)
        return _mm256_permutevar8x32_ps(_mm256_loadu_ps(cb3), idx);
    __m256 lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(cb4), idx);
    __m256 hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(cb4 + 8), idx);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

AI uint32_t bitplane(__m256i idx, int bit)
{
    return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(idx, 31 - bit)));
}

AI void turbo_quantize_group(const int bits, const float *src, int64_t count, uint8_t *blk, size_t bb)
{
    __m256 x[16];
    float tmp[128];
    if (count < 128) {
        for (int i = 0; i < 128; i++)
            tmp[i] = i < count ? src[i] : 0.0f;
        src = tmp;
    }
    __m256 ss = _mm256_setzero_ps();
    for (int i = 0; i < 16; i++) {
        x[i] = _mm256_loadu_ps(src + 8 * i);
        ss = _mm256_add_ps(ss, _mm256_mul_ps(x[i], x[i]));
    }
    memset(blk, 0, bb);
    float g = sqrtf(hsum8(ss));
    if (g <= TQ_TURBO_ZERO_EPS)
        return;
    /* The rotation is linear, so instead of dividing 128 values by g we compare the
     * rotated x against midpoints * g. The decisions differ from the reference's
     * x / g path only within float rounding (~1e-7 relative) of a midpoint, which the
     * comparison rules allow; it saves 16 divisions per group. */
    const float *m = bits == 2 ? mid2 : bits == 3 ? mid3 : mid4;
    const __m256 gv = _mm256_set1_ps(g);
    __m256 tables[4];
#pragma GCC unroll 4
    for (int level = 0; level < bits; level++)
        tables[level] = _mm256_mul_ps(level == 0 ? _mm256_set1_ps(m[(1 << (bits - 1)) - 1])
                                                 : level_table(m, bits, level), gv);
    const cpu_sign_tables *s = cpu_signs();
    rot_regs(x, s->m1, s->m2);
    __m256 rr = _mm256_setzero_ps();
    uint8_t *qs = blk + TQ_TURBO_QS_OFFSET;
    for (int i = 0; i < 16; i++) {
        __m256i idx = turbo_index(bits, x[i], tables);
        __m256 c = turbo_centroid(bits, idx);
        rr = _mm256_add_ps(rr, _mm256_mul_ps(c, c));
        uint32_t b0 = bitplane(idx, 0), b1 = bitplane(idx, 1);
        if (bits == 4) {
            uint32_t w = _pdep_u32(b0, 0x11111111u) | _pdep_u32(b1, 0x22222222u) |
                         _pdep_u32(bitplane(idx, 2), 0x44444444u) |
                         _pdep_u32(bitplane(idx, 3), 0x88888888u);
            memcpy(qs + 4 * i, &w, 4);
        } else {
            uint16_t w = (uint16_t)(_pdep_u32(b0, 0x5555u) | _pdep_u32(b1, 0xAAAAu));
            memcpy(qs + 2 * i, &w, 2);
            if (bits == 3)
                blk[TQ_TURBO3_SIGNS_OFFSET + i] = (uint8_t)bitplane(idx, 2);
        }
    }
    float r = sqrtf(hsum8(rr));
    cpu_store_u16(blk, cpu_f32_to_fp16(r > TQ_TURBO_ZERO_EPS ? g / r : g));
}

#define TURBO_ROW(bits, name, bb)                                                            \
    static void name(const float *src, int64_t n, uint8_t *dst)                                \
    {                                                                                         \
        for (int64_t g = 0; g * 128 < n; g++)                                                 \
            turbo_quantize_group(bits, src + g * 128, n - g * 128 < 128 ? n - g * 128 : 128,   \
                                 dst + g * (bb), (bb));                                       \
    }
TURBO_ROW(2, turbo2_row, TQ_TURBO2_BLOCK_BYTES)
TURBO_ROW(3, turbo3_row, TQ_TURBO3_BLOCK_BYTES)
TURBO_ROW(4, turbo4_row, TQ_TURBO4_BLOCK_BYTES)

/* ------------------------------------------------------------------ ggml blocks */

static void quantize_q8_0_block(const float *x, uint8_t *dst)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4], mx = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        mx = _mm256_max_ps(mx, _mm256_and_ps(v[i], absmask));
    }
    float amax = hmax8(mx);
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id))
        id = 0.0f;
    cpu_store_u16(dst, cpu_f32_to_fp16(d));
    const __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    int32_t q[32];
    for (int i = 0; i < 4; i++) {
        /* roundf: truncate, then step away from zero when the dropped part is >= 0.5 */
        __m256 y = _mm256_mul_ps(v[i], vid);
        __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256 frac = _mm256_and_ps(_mm256_sub_ps(y, t), absmask);
        __m256 step = _mm256_or_ps(_mm256_andnot_ps(absmask, y), one);
        t = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), step));
        _mm256_storeu_si256((__m256i *)(void *)(q + 8 * i), _mm256_cvttps_epi32(t));
    }
    for (int j = 0; j < 32; j++)
        dst[2 + j] = (uint8_t)(int8_t)q[j];
}

static void quantize_q4_0_block(const float *x, uint8_t *dst)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4], mx = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        mx = _mm256_max_ps(mx, _mm256_and_ps(v[i], absmask));
    }
    float amax = hmax8(mx), m = 0.0f;
    if (amax > 0.0f) {     /* the first element of largest magnitude, sign kept */
        const __m256 va = _mm256_set1_ps(amax);
        for (int i = 0; i < 4; i++) {
            int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v[i], absmask), va, _CMP_EQ_OQ));
            if (bits) {
                m = x[8 * i + __builtin_ctz((unsigned)bits)];
                break;
            }
        }
    }
    float d = m / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id))
        id = 0.0f;
    cpu_store_u16(dst, cpu_f32_to_fp16(d));
    const __m256 vid = _mm256_set1_ps(id), off = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
    int32_t q[32];
    for (int i = 0; i < 4; i++) {
        __m256i qi = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[i], vid), off));
        _mm256_storeu_si256((__m256i *)(void *)(q + 8 * i), _mm256_min_epi32(qi, fifteen));
    }
    for (int j = 0; j < 16; j++)
        dst[2 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
}

void cpu_avx2_quantize_row(tq_type type, const float *src, int64_t n, uint8_t *dst)
{
    switch (type) {
    case TQ_TYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case TQ_TYPE_F16: {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(void *)(dst + 2 * i),
                             _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
        for (; i < n; i++)
            cpu_store_u16(dst + 2 * i, cpu_f32_to_fp16(src[i]));
        return;
    }
    case TQ_TYPE_Q8_0:
        for (int64_t b = 0; b < n / 32; b++)
            quantize_q8_0_block(src + 32 * b, dst + b * TQ_Q8_0_BLOCK_BYTES);
        return;
    case TQ_TYPE_Q4_0:
        for (int64_t b = 0; b < n / 32; b++)
            quantize_q4_0_block(src + 32 * b, dst + b * TQ_Q4_0_BLOCK_BYTES);
        return;
    case TQ_TYPE_TURBO2:
        turbo2_row(src, n, dst);
        return;
    case TQ_TYPE_TURBO3:
        turbo3_row(src, n, dst);
        return;
    default:
        turbo4_row(src, n, dst);
        return;
    }
}

/* ------------------------------------------------------------------ dequantize */

static const int32_t sh2[8] = { 0, 2, 4, 6, 8, 10, 12, 14 };
static const int32_t sh4[8] = { 0, 4, 8, 12, 16, 20, 24, 28 };

void cpu_avx2_dequantize_row(tq_type type, const uint8_t *src, int64_t n, float *dst)
{
    switch (type) {
    case TQ_TYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case TQ_TYPE_F16:
        cpu_avx2_f16_to_f32(src, dst, n);
        return;
    case TQ_TYPE_Q8_0:
        for (int64_t b = 0; b < n / 32; b++, src += TQ_Q8_0_BLOCK_BYTES) {
            __m256 d = _mm256_set1_ps(h2f(src));
            for (int c = 0; c < 4; c++) {
                __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(src + 2 + 8 * c)));
                _mm256_storeu_ps(dst + 32 * b + 8 * c, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
            }
        }
        return;
    case TQ_TYPE_Q4_0:
        for (int64_t b = 0; b < n / 32; b++, src += TQ_Q4_0_BLOCK_BYTES) {
            __m256 d = _mm256_set1_ps(h2f(src));
            for (int c = 0; c < 4; c++) {
                __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(src + 2 + 8 * (c & 1))));
                q = c < 2 ? _mm256_and_si256(q, _mm256_set1_epi32(15)) : _mm256_srli_epi32(q, 4);
                q = _mm256_sub_epi32(q, _mm256_set1_epi32(8));
                _mm256_storeu_ps(dst + 32 * b + 8 * c, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
            }
        }
        return;
    default: {
        int bits = type == TQ_TYPE_TURBO2 ? 2 : type == TQ_TYPE_TURBO3 ? 3 : 4;
        size_t bb = cpu_row_bytes(type, 128);
        int64_t ng = cpu_padded_elems(type, n) / 128;
        for (int64_t g = 0; g < ng; g++, src += bb) {
            __m256 norm = _mm256_set1_ps(h2f(src));
            const uint8_t *qs = src + TQ_TURBO_QS_OFFSET;
            for (int c = 0; c < 16; c++) {
                __m256i idx;
                if (bits == 2) {
                    idx = _mm256_srlv_epi32(_mm256_set1_epi32(ld16(qs + 2 * c)), _mm256_loadu_si256((const __m256i *)(const void *)sh2));
                } else if (bits == 3) {
                    __m256i lo = _mm256_srlv_epi32(_mm256_set1_epi32(ld16(qs + 2 * c)), _mm256_loadu_si256((const __m256i *)(const void *)sh2));
                    __m256i hi = _mm256_srlv_epi32(_mm256_set1_epi32(src[TQ_TURBO3_SIGNS_OFFSET + c]), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                    idx = _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(3)),
                                          _mm256_slli_epi32(_mm256_and_si256(hi, _mm256_set1_epi32(1)), 2));
                } else {
                    idx = _mm256_srlv_epi32(_mm256_set1_epi32((int)ld32(qs + 4 * c)), _mm256_loadu_si256((const __m256i *)(const void *)sh4));
                    idx = _mm256_and_si256(idx, _mm256_set1_epi32(15));
                }
                _mm256_storeu_ps(dst + 128 * g + 8 * c, _mm256_mul_ps(turbo_centroid(bits, idx), norm));
            }
        }
        return;
    }
    }
}
