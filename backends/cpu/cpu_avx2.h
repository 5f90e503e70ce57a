/*
 * cpu_avx2.h: inline helpers shared by the AVX2 (and AVX-512) kernel files. Include only
 * from files compiled with -mavx2 -mfma -mf16c -mbmi2.
 */
#ifndef TQ_CPU_AVX2_H
#define TQ_CPU_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "cpu_kernels.h"
#include "tq_format_constants.h"

#define AI static inline __attribute__((always_inline))

AI uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

AI uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Prefetches the n bytes at p + off into L1. The attention kernels ask, while reading the
 * keys of a tile, for the rows one tile (CPU_ATTN_TILE keys) ahead: left to the hardware,
 * the K and V streams of a tile only start after the other's compute, so memory and
 * compute did not overlap (f16 ran at about half the machine's read bandwidth). Prefetches
 * never fault; past the end of the chunk they only fetch a neighbour's rows, so the
 * address is formed as an integer, not a pointer past the object. */
AI void prefetch_bytes(const uint8_t *p, uint64_t off, uint64_t n)
{
    uintptr_t a = (uintptr_t)p + (uintptr_t)off;
    for (uint64_t o = 0; o < n; o += 64)
        __builtin_prefetch((const void *)(a + o), 0, 3);
}

AI float h2f(const uint8_t *p)
{
    return _cvtsh_ss(ld16(p));
}

/* pw[r] = p[r] * f for the NR rows of one key (V weights with the block scale folded in),
 * as one vector: lanes NR.. get junk. p may be read up to 4 (NR <= 4) or 8 floats: the
 * attention score tile has room for that past every key (CPU_ATTN_SCORE_FLOATS). */
AI void pw_store(const int NR, float *pw, const float *p, float f)
{
    if (NR <= 4)
        _mm_storeu_ps(pw, _mm_mul_ps(_mm_loadu_ps(p), _mm_set1_ps(f)));
    else
        _mm256_storeu_ps(pw, _mm256_mul_ps(_mm256_loadu_ps(p), _mm256_set1_ps(f)));
}

AI float hsum8(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

AI float hmax8(__m256 v)
{
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* Lane a of the result is the sum of a[a]'s lanes. */
AI __m256 reduce8(const __m256 *a)
{
    __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
    __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);
    __m256 x = _mm256_hadd_ps(h01, h23), y = _mm256_hadd_ps(h45, h67);
    return _mm256_add_ps(_mm256_permute2f128_ps(x, y, 0x20), _mm256_permute2f128_ps(x, y, 0x31));
}

AI __m256 mask_ps(const uint32_t *m)
{
    return _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(const void *)m));
}

/* The rotation of one 128-group held in 16 registers: sign flips (exact), the butterfly
 * with strides 1..64 in the reference's order (so results are bit-identical), the scale,
 * sign flips. ma/mb: xor masks applied first/last. */
AI void rot_regs(__m256 *x, const uint32_t *ma, const uint32_t *mb)
{
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
        __m256 v = _mm256_xor_ps(x[i], mask_ps(ma + 8 * i));
        __m256 sw = _mm256_permute_ps(v, 0xB1);
        v = _mm256_blend_ps(_mm256_add_ps(v, sw), _mm256_sub_ps(sw, v), 0xAA);
        sw = _mm256_permute_ps(v, 0x4E);
        v = _mm256_blend_ps(_mm256_add_ps(v, sw), _mm256_sub_ps(sw, v), 0xCC);
        sw = _mm256_permute2f128_ps(v, v, 0x01);
        x[i] = _mm256_blend_ps(_mm256_add_ps(v, sw), _mm256_sub_ps(sw, v), 0xF0);
    }
#pragma GCC unroll 4
    for (int h = 1; h < 16; h <<= 1)
#pragma GCC unroll 16
        for (int i = 0; i < 16; i += 2 * h)
#pragma GCC unroll 8
            for (int j = i; j < i + h; j++) {
                __m256 a = x[j], b = x[j + h];
                x[j] = _mm256_add_ps(a, b);
                x[j + h] = _mm256_sub_ps(a, b);
            }
    const __m256 sc = _mm256_set1_ps(TQ_TURBO_INV_SQRT_GROUP);
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        x[i] = _mm256_xor_ps(_mm256_mul_ps(x[i], sc), mask_ps(mb + 8 * i));
}

/* e^x with Cephes' range reduction and polynomial (about 1 ulp); 0 below -87.3 and for
 * -inf (masked scores). */
AI __m256 exp256(__m256 x)
{
    const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, z, x);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, y);
}

/* tanh(x) = sign(x) (1 - t) / (1 + t), t = e^(-2|x|). */
AI __m256 tanh256(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 t = exp256(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
    __m256 r = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), t), _mm256_add_ps(_mm256_set1_ps(1.0f), t));
    return _mm256_or_ps(r, _mm256_and_ps(sign, x));
}

/* Codec entry points of the AVX2 variant (cpu_kern_avx2_codec.c). */
void cpu_avx2_quantize_row(tq_type type, const float *src, int64_t n, uint8_t *dst);
void cpu_avx2_dequantize_row(tq_type type, const uint8_t *src, int64_t n, float *dst);
void cpu_avx2_rotate(float *x, int64_t n_groups, bool inverse);
void cpu_avx2_f16_to_f32(const uint8_t *src, float *dst, int64_t n);
void cpu_avx2_softmax(float *s, int nr, int nrp, int nt, float softcap, int64_t key0,
                      const int64_t *limit, float *m, float *l, float *acc, int64_t acc_stride,
                      int64_t dv);
/* turbo3 attention micro-kernels in plane order (cpu_kern_avx2_turbo3.c). */
void cpu_avx2_ks_turbo3(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,
                        uint64_t krb, int nt, float *s);
/* The integer variant of the turbo3 scores (k-i16) and its Q preparation. */
void cpu_avx2_ks_turbo3_i16(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,
                            uint64_t krb, int nt, float *s);
float cpu_avx2_kprep_turbo3_i16(const float *q, int64_t dk, float *out);
void cpu_avx2_va_turbo3(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb, int nt,
                        int64_t dv, float *acc, int64_t as, void *ws);
/* turbo4 attention micro-kernels from control bytes (element order), same file. */
void cpu_avx2_ks_turbo4(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,
                        uint64_t krb, int nt, float *s);
void cpu_avx2_va_turbo4(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb, int nt,
                        int64_t dv, float *acc, int64_t as, void *ws);

#endif /* TQ_CPU_AVX2_H */
