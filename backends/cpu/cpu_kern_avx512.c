/*
 * cpu_kern_avx512.c: the AVX-512 variant (F, BW, VL, DQ). Attention micro-kernels work
 * on 16-element chunks: turbo4's 16-entry codebook fits one zmm so vpermps resolves an
 * index in one instruction, turbo2/3 use their codebooks replicated across the 16 slots.
 * The codec ops and the softmax are the AVX2 ones (every AVX-512 CPU has AVX2; they are
 * memory- or latency-bound, not width-bound).
 */
#include "cpu_avx2.h"

static const float cb2x4[16] = { TQ_TURBO2_CODEBOOK, TQ_TURBO2_CODEBOOK, TQ_TURBO2_CODEBOOK,
                                 TQ_TURBO2_CODEBOOK };
static const float cb3x2[16] = { TQ_TURBO3_CODEBOOK, TQ_TURBO3_CODEBOOK };
static const float cb4[16] = { TQ_TURBO4_CODEBOOK };

#define T_F32 0
#define T_F16 1
#define T_Q8 2
#define T_Q4 3
#define T_T2 4
#define T_T3 5
#define T_T4 6

AI int unit_elems(int T)
{
    return T >= T_T2 ? 128 : 32;
}

AI uint64_t unit_bytes(int T)
{
    return T == T_F32 ? 128 : T == T_F16 ? 64 : T == T_Q8 ? TQ_Q8_0_BLOCK_BYTES
         : T == T_Q4 ? TQ_Q4_0_BLOCK_BYTES : T == T_T2 ? TQ_TURBO2_BLOCK_BYTES
         : T == T_T3 ? TQ_TURBO3_BLOCK_BYTES : TQ_TURBO4_BLOCK_BYTES;
}

AI __m512 cb512(int T)
{
    return _mm512_loadu_ps(T == T_T2 ? cb2x4 : T == T_T3 ? cb3x2 : cb4);
}

AI float unit_scale(int T, const uint8_t *blk)
{
    return T <= T_F16 ? 1.0f : h2f(blk);
}

/* turbo3 words: as in the AVX2 file, w[i] holds elements 16i..16i+15 in 3-bit fields. */
AI void t3_words(const uint8_t *blk, uint64_t *w)
{
    const uint8_t *qs = blk + TQ_TURBO_QS_OFFSET, *sg = blk + TQ_TURBO3_SIGNS_OFFSET;
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        w[i] = _pdep_u64(ld32(qs + 4 * i), 0x6db6db6db6dbull) |
               _pdep_u64(ld16(sg + 2 * i), 0x924924924924ull);
}

AI __m512i two_words(uint32_t lo, uint32_t hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32((int)lo)),
                              _mm256_set1_epi32((int)hi), 1);
}

/* Raw 16-element chunk c of the unit at blk (q8_0/q4_0 unscaled; turbo via cb). */
AI __m512 decode16(int T, const uint8_t *blk, const uint64_t *w, int c, __m512 cb)
{
    switch (T) {
    case T_F32:
        return _mm512_loadu_ps(blk + 64 * c);
    case T_F16:
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(blk + 32 * c)));
    case T_Q8:
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(blk + 2 + 16 * c))));
    case T_Q4: {
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(blk + 2)));
        q = c == 0 ? _mm512_and_si512(q, _mm512_set1_epi32(15)) : _mm512_srli_epi32(q, 4);
        return _mm512_cvtepi32_ps(_mm512_sub_epi32(q, _mm512_set1_epi32(8)));
    }
    case T_T2: {
        __m512i idx = _mm512_srlv_epi32(_mm512_set1_epi32((int)ld32(blk + 2 + 4 * c)),
                                        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
                                                          22, 24, 26, 28, 30));
        return _mm512_permutexvar_ps(idx, cb);
    }
    case T_T3: {
        /* elements 16c..16c+7 at byte 8c of the words, 16c+8.. at byte 8c+3: both
         * broadcast straight from memory */
        const uint8_t *wb = (const uint8_t *)w + 8 * c;
        __m512i idx = _mm512_srlv_epi32(two_words(ld32(wb), ld32(wb + 3)),
                                        _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 0, 3, 6, 9,
                                                          12, 15, 18, 21));
        return _mm512_permutexvar_ps(idx, cb);
    }
    default: {
        const uint8_t *q = blk + 2 + 8 * c;
        __m512i idx = _mm512_srlv_epi32(two_words(ld32(q), ld32(q + 4)),
                                        _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12,
                                                          16, 20, 24, 28));
        return _mm512_permutexvar_ps(idx, cb);
    }
    }
}

AI __m256 fold512(__m512 v)
{
    return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
}

AI void kscore_tpl(const int T, const int NRP, const float *q, int64_t dk, int nr,
                   const uint8_t *k, uint64_t krb, int nt, float *s)
{
    const int KPT = 8 / NRP, UNIT = unit_elems(T), CH = UNIT / 16;
    const float *qr[8];
#pragma GCC unroll 8
    for (int r = 0; r < NRP; r++)
        qr[r] = q + (r < nr ? r : 0) * dk;
    for (int t = 0; t < nt; t += KPT) {
        const uint8_t *kp[8];
#pragma GCC unroll 8
        for (int kk = 0; kk < KPT; kk++)
            kp[kk] = k + (uint64_t)(t + kk < nt ? t + kk : nt - 1) * krb;
        __m512 acc[8];
#pragma GCC unroll 8
        for (int a = 0; a < 8; a++)
            acc[a] = _mm512_setzero_ps();
        for (int64_t e0 = 0, u = 0; e0 < dk; e0 += UNIT, u++) {
            const uint8_t *blk[8];
            __m512 cb[8];
            uint64_t w[8][8];
#pragma GCC unroll 8
            for (int kk = 0; kk < KPT; kk++) {
                blk[kk] = kp[kk] + (uint64_t)u * unit_bytes(T);
                __m512 sc = _mm512_set1_ps(unit_scale(T, blk[kk]));
                cb[kk] = T >= T_T2 ? _mm512_mul_ps(cb512(T), sc) : sc;
                if (T == T_T3)
                    t3_words(blk[kk], w[kk]);
            }
#pragma GCC unroll 8
            for (int c = 0; c < CH; c++) {
#pragma GCC unroll 8
                for (int kk = 0; kk < KPT; kk++) {
                    __m512 kv = decode16(T, blk[kk], w[kk], c, cb[kk]);
                    if (T == T_Q8 || T == T_Q4)
                        kv = _mm512_mul_ps(kv, cb[kk]);
#pragma GCC unroll 8
                    for (int r = 0; r < NRP; r++)
                        acc[kk * NRP + r] = _mm512_fmadd_ps(_mm512_loadu_ps(qr[r] + e0 + 16 * c), kv,
                                                            acc[kk * NRP + r]);
                }
            }
        }
        __m256 a8[8];
#pragma GCC unroll 8
        for (int a = 0; a < 8; a++)
            a8[a] = fold512(acc[a]);
        _mm256_storeu_ps(s + t * NRP, reduce8(a8));
    }
}

AI void vaccum_tpl(const int T, const int NR, const float *p, int nrp, const uint8_t *v,
                   uint64_t vrb, int nt, int64_t dv, float *acc, int64_t as, void *ws)
{
    const int UNIT = unit_elems(T), CH = UNIT / 16;
    float *pw = (float *)ws;
    uint64_t *wq = (uint64_t *)(void *)((uint8_t *)ws + CPU_ATTN_TILE * 8 * 4);
    const __m512 cb = T >= T_T2 ? cb512(T) : _mm512_setzero_ps();
    for (int64_t e0 = 0, u = 0; e0 < dv; e0 += UNIT, u++) {
        uint64_t uoff = (uint64_t)u * unit_bytes(T);
        for (int t = 0; t < nt; t++) {
            const uint8_t *blk = v + (uint64_t)t * vrb + uoff;
            float f = unit_scale(T, blk);
#pragma GCC unroll 8
            for (int r = 0; r < NR; r++)
                pw[t * 8 + r] = p[t * nrp + r] * f;
            if (T == T_T3)
                t3_words(blk, wq + t * 8);
        }
        /* 32 zmm registers: up to 4 chunks per pass share each weight broadcast */
        const int CPP = NR <= 4 ? (CH >= 4 ? 4 : CH) : (NR <= 6 && CH >= 2 ? 2 : 1);
        for (int c = 0; c < CH; c += CPP) {
            __m512 a[8][4];
#pragma GCC unroll 8
            for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
                for (int cc = 0; cc < CPP; cc++)
                    a[r][cc] = _mm512_loadu_ps(acc + r * as + e0 + 16 * (c + cc));
            for (int t = 0; t < nt; t++) {
                const uint8_t *blk = v + (uint64_t)t * vrb + uoff;
                __m512 kv[4];
#pragma GCC unroll 4
                for (int cc = 0; cc < CPP; cc++)
                    kv[cc] = decode16(T, blk, wq + t * 8, c + cc, cb);
#pragma GCC unroll 8
                for (int r = 0; r < NR; r++) {
                    __m512 pr = _mm512_set1_ps(pw[t * 8 + r]);
#pragma GCC unroll 4
                    for (int cc = 0; cc < CPP; cc++)
                        a[r][cc] = _mm512_fmadd_ps(pr, kv[cc], a[r][cc]);
                }
            }
#pragma GCC unroll 8
            for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
                for (int cc = 0; cc < CPP; cc++)
                    _mm512_storeu_ps(acc + r * as + e0 + 16 * (c + cc), a[r][cc]);
        }
    }
}

#include "cpu_kern_dispatch.h"

KS_FN(T_F32, f32) KS_FN(T_F16, f16) KS_FN(T_Q8, q8_0) KS_FN(T_Q4, q4_0)
KS_FN(T_T2, turbo2) KS_FN(T_T3, turbo3) KS_FN(T_T4, turbo4)
VA_FN(T_F32, f32) VA_FN(T_F16, f16) VA_FN(T_Q8, q8_0) VA_FN(T_Q4, q4_0)
VA_FN(T_T2, turbo2) VA_FN(T_T3, turbo3) VA_FN(T_T4, turbo4)

static const cpu_kernels k_avx512 = {
    .name = "avx512",
    .quantize_row = cpu_avx2_quantize_row,
    .dequantize_row = cpu_avx2_dequantize_row,
    .rotate = cpu_avx2_rotate,
    .f16_to_f32 = cpu_avx2_f16_to_f32,
    .kscore = { ks_f32, ks_f16, ks_q8_0, ks_q4_0, ks_turbo2, ks_turbo3, ks_turbo4 },
    .vaccum = { va_f32, va_f16, va_q8_0, va_q4_0, va_turbo2, va_turbo3, va_turbo4 },
    .softmax = cpu_avx2_softmax,
};

const cpu_kernels *cpu_kernels_avx512(void)
{
    return &k_avx512;
}
