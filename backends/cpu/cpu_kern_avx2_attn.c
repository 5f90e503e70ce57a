/*
 * cpu_kern_avx2_attn.c: AVX2 attention micro-kernels and the AVX2 kernel table.
 *
 * Scores: every decoded 8-element chunk of a key feeds the FMAs of all query rows of the
 * row block (the GQA group), so each K block is decoded once per row block. turbo2 keys
 * are decoded straight from their indices with one in-lane vpermilps against the codebook
 * pre-scaled by the block's norm (norm folded into the score); turbo3 and turbo4 have
 * their own kernels (cpu_kern_avx2_turbo3.c). q8_0/q4_0 use cvtepi8/cvtepu8, f16 F16C.
 * Eight accumulators (rows x keys) are reduced to one score vector with hadd.
 * V: per 8 output dims the row accumulators stay in registers across the tile's keys;
 * block scales (norm, d) are folded into the softmax weights.
 */
#include <math.h>

#include "cpu_avx2.h"

static const float cb2x2[8] = { TQ_TURBO2_CODEBOOK, TQ_TURBO2_CODEBOOK };

#define T_F32 0
#define T_F16 1
#define T_Q8 2
#define T_Q4 3
#define T_T2 4   /* the templates here serve f32 .. turbo2; turbo3/4: cpu_kern_avx2_turbo3.c */

AI int unit_elems(int T)
{
    return T >= T_T2 ? 128 : 32;
}

AI uint64_t unit_bytes(int T)
{
    return T == T_F32 ? 128 : T == T_F16 ? 64 : T == T_Q8 ? TQ_Q8_0_BLOCK_BYTES
         : T == T_Q4 ? TQ_Q4_0_BLOCK_BYTES : TQ_TURBO2_BLOCK_BYTES;
}

/* Raw (unscaled) chunk c of the unit at blk. cb: the turbo2 codebook register (scaled or
 * not, as the caller wants). */
AI __m256 decode_chunk(int T, const uint8_t *blk, int c, __m256 cb)
{
    switch (T) {
    case T_F32:
        return _mm256_loadu_ps((const float *)(const void *)(blk + 32 * c));
    case T_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(blk + 16 * c)));
    case T_Q8:
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(blk + 2 + 8 * c))));
    case T_Q4: {
        __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(blk + 2 + 8 * (c & 1))));
        q = c < 2 ? _mm256_and_si256(q, _mm256_set1_epi32(15)) : _mm256_srli_epi32(q, 4);
        return _mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(8)));
    }
    default: {   /* T_T2 */
        /* 4 entries, present in both lanes (cb2x2): the in-lane vpermilps, which reads
         * bits 0-1, finds what vpermps would, at a fraction of its cost on Zen 3 */
        __m256i idx = _mm256_srlv_epi32(_mm256_set1_epi32(ld16(blk + 2 + 2 * c)),
                                        _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
        return _mm256_permutevar_ps(cb, idx);
    }
    }
}

/* Block scale: fp16 d (q8_0/q4_0) or norm (turbo); 1 for f32/f16. */
AI float unit_scale(int T, const uint8_t *blk)
{
    return T <= T_F16 ? 1.0f : h2f(blk);
}

AI __m256 cb_lo(void)
{
    return _mm256_loadu_ps(cb2x2);
}

/* ------------------------------------------------------------------ scores */

AI void kscore_tpl(const int T, const int NRP, const float *q, int64_t dk, int nr,
                   const uint8_t *k, uint64_t krb, int nt, float *s)
{
    const int KPT = 8 / NRP, UNIT = unit_elems(T), CH = UNIT / 8;
    const float *qr[8];
#pragma GCC unroll 8
    for (int r = 0; r < NRP; r++)
        qr[r] = q + (r < nr ? r : 0) * dk;
    for (int t = 0; t < nt; t += KPT) {
        const uint8_t *kp[8];
#pragma GCC unroll 8
        for (int kk = 0; kk < KPT; kk++)
            kp[kk] = k + (uint64_t)(t + kk < nt ? t + kk : nt - 1) * krb;
        prefetch_bytes(k, (uint64_t)(t + CPU_ATTN_TILE) * krb, (uint64_t)KPT * krb);
        __m256 acc[8];
#pragma GCC unroll 8
        for (int a = 0; a < 8; a++)
            acc[a] = _mm256_setzero_ps();
        for (int64_t e0 = 0, u = 0; e0 < dk; e0 += UNIT, u++) {
            const uint8_t *blk[8];
            __m256 cb[8], sc[8];
#pragma GCC unroll 8
            for (int kk = 0; kk < KPT; kk++) {
                blk[kk] = kp[kk] + (uint64_t)u * unit_bytes(T);
                float f = unit_scale(T, blk[kk]);
                sc[kk] = _mm256_set1_ps(f);
                /* turbo2: the norm folded into the codebook */
                cb[kk] = T == T_T2 ? _mm256_mul_ps(cb_lo(), sc[kk]) : sc[kk];
            }
#pragma GCC unroll 16
            for (int c = 0; c < CH; c++) {
#pragma GCC unroll 8
                for (int kk = 0; kk < KPT; kk++) {
                    __m256 kv = decode_chunk(T, blk[kk], c, cb[kk]);
                    if (T == T_Q8 || T == T_Q4)
                        kv = _mm256_mul_ps(kv, sc[kk]);
#pragma GCC unroll 8
                    for (int r = 0; r < NRP; r++)
                        acc[kk * NRP + r] = _mm256_fmadd_ps(_mm256_loadu_ps(qr[r] + e0 + 8 * c), kv,
                                                            acc[kk * NRP + r]);
                }
            }
        }
        _mm256_storeu_ps(s + t * NRP, reduce8(acc));
    }
}

/* ------------------------------------------------------------------ V accumulation */

AI void vaccum_tpl(const int T, const int NR, const float *p, int nrp, const uint8_t *v,
                   uint64_t vrb, int nt, int64_t dv, float *acc, int64_t as, void *ws)
{
    const int UNIT = unit_elems(T), CH = UNIT / 8;
    float *pw = (float *)ws;                                        /* [nt][8] */
    const __m256 cb = T == T_T2 ? cb_lo() : _mm256_setzero_ps();
    for (int64_t e0 = 0, u = 0; e0 < dv; e0 += UNIT, u++) {
        uint64_t uoff = (uint64_t)u * unit_bytes(T);
        for (int t = 0; t < nt; t++) {
            const uint8_t *blk = v + (uint64_t)t * vrb + uoff;
            if (u == 0)
                prefetch_bytes(blk, CPU_ATTN_TILE * vrb, vrb);
            pw_store(NR, pw + t * 8, p + t * nrp, unit_scale(T, blk));
        }
        /* Two 8-dim chunks per pass when the rows leave registers for it: the weight
         * broadcasts are then shared by both chunks. */
        const int CPP = NR <= 4 ? 2 : 1;
        for (int c = 0; c < CH; c += CPP) {
            __m256 a[8][2];
#pragma GCC unroll 8
            for (int r = 0; r < NR; r++)
#pragma GCC unroll 2
                for (int cc = 0; cc < CPP; cc++)
                    a[r][cc] = _mm256_loadu_ps(acc + r * as + e0 + 8 * (c + cc));
            for (int t = 0; t < nt; t++) {
                const uint8_t *blk = v + (uint64_t)t * vrb + uoff;
                __m256 kv[2];
#pragma GCC unroll 2
                for (int cc = 0; cc < CPP; cc++)
                    kv[cc] = decode_chunk(T, blk, c + cc, cb);
#pragma GCC unroll 8
                for (int r = 0; r < NR; r++) {
                    __m256 pr = _mm256_broadcast_ss(pw + t * 8 + r);
#pragma GCC unroll 2
                    for (int cc = 0; cc < CPP; cc++)
                        a[r][cc] = _mm256_fmadd_ps(pr, kv[cc], a[r][cc]);
                }
            }
#pragma GCC unroll 8
            for (int r = 0; r < NR; r++)
#pragma GCC unroll 2
                for (int cc = 0; cc < CPP; cc++)
                    _mm256_storeu_ps(acc + r * as + e0 + 8 * (c + cc), a[r][cc]);
        }
    }
}

/* ------------------------------------------------------------------ softmax */

AI __m256 fold_max(__m256 v, int nrp)
{
    if (nrp <= 4)
        v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 0x01));
    if (nrp <= 2)
        v = _mm256_max_ps(v, _mm256_permute_ps(v, 0x4E));
    if (nrp <= 1)
        v = _mm256_max_ps(v, _mm256_permute_ps(v, 0xB1));
    return v;
}

AI __m256 fold_sum(__m256 v, int nrp)
{
    if (nrp <= 4)
        v = _mm256_add_ps(v, _mm256_permute2f128_ps(v, v, 0x01));
    if (nrp <= 2)
        v = _mm256_add_ps(v, _mm256_permute_ps(v, 0x4E));
    if (nrp <= 1)
        v = _mm256_add_ps(v, _mm256_permute_ps(v, 0xB1));
    return v;
}

void cpu_avx2_softmax(float *s, int nr, int nrp, int nt, float softcap, int64_t key0,
                      const int64_t *limit, float *m, float *l, float *acc, int64_t as, int64_t dv)
{
    const int kpv = 8 / nrp, nvec = (nt + kpv - 1) / kpv;
    float mpat[8], tmp[8];
    int32_t rel_lim[8], rel_key[8];
    bool need_mask = nt % kpv != 0;
    for (int lane = 0; lane < 8; lane++) {
        int r = lane % nrp;
        mpat[lane] = m[r];
        int64_t lim = limit[r < nr ? r : 0] - key0;
        if (lim > nt - 1)
            lim = nt - 1;
        if (lim < -1)
            lim = -1;
        rel_lim[lane] = (int32_t)lim;
        rel_key[lane] = lane / nrp;
        if (lim < nt - 1)
            need_mask = true;
    }
    if (softcap > 0.0f) {
        const __m256 c = _mm256_set1_ps(softcap), ic = _mm256_set1_ps(1.0f / softcap);
        for (int i = 0; i < nvec; i++)
            _mm256_storeu_ps(s + 8 * i, _mm256_mul_ps(c, tanh256(_mm256_mul_ps(_mm256_loadu_ps(s + 8 * i), ic))));
    }
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    if (need_mask) {
        const __m256i lim = _mm256_loadu_si256((const __m256i *)(const void *)rel_lim);
        __m256i key = _mm256_loadu_si256((const __m256i *)(const void *)rel_key);
        const __m256i step = _mm256_set1_epi32(kpv);
        for (int i = 0; i < nvec; i++, key = _mm256_add_epi32(key, step)) {
            __m256 msk = _mm256_castsi256_ps(_mm256_cmpgt_epi32(key, lim));
            _mm256_storeu_ps(s + 8 * i, _mm256_blendv_ps(_mm256_loadu_ps(s + 8 * i), ninf, msk));
        }
    }
    __m256 vmax = ninf;
    for (int i = 0; i < nvec; i++)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(s + 8 * i));
    __m256 mold = _mm256_loadu_ps(mpat);
    __m256 mnew = _mm256_max_ps(mold, fold_max(vmax, nrp));
    __m256 msafe = _mm256_blendv_ps(mnew, _mm256_setzero_ps(), _mm256_cmp_ps(mnew, ninf, _CMP_EQ_OQ));
    __m256 alpha = exp256(_mm256_sub_ps(mold, msafe));
    __m256 vsum = _mm256_setzero_ps();
    for (int i = 0; i < nvec; i++) {
        __m256 pv = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * i), msafe));
        _mm256_storeu_ps(s + 8 * i, pv);
        vsum = _mm256_add_ps(vsum, pv);
    }
    vsum = fold_sum(vsum, nrp);
    float al[8], mn[8];
    _mm256_storeu_ps(al, alpha);
    _mm256_storeu_ps(mn, mnew);
    _mm256_storeu_ps(tmp, vsum);
    for (int r = 0; r < nrp; r++) {
        l[r] = l[r] * al[r] + tmp[r];
        m[r] = mn[r];
    }
    for (int r = 0; r < nr; r++) {
        if (al[r] == 1.0f)
            continue;
        const __m256 a = _mm256_set1_ps(al[r]);
        float *row = acc + r * as;
        int64_t e = 0;
        for (; e + 8 <= dv; e += 8)
            _mm256_storeu_ps(row + e, _mm256_mul_ps(_mm256_loadu_ps(row + e), a));
        for (; e < dv; e++)
            row[e] *= al[r];
    }
}

/* ------------------------------------------------------------------ instantiation */

#include "cpu_kern_dispatch.h"

KS_FN(T_F32, f32) KS_FN(T_F16, f16) KS_FN(T_Q8, q8_0) KS_FN(T_Q4, q4_0)
KS_FN(T_T2, turbo2)
VA_FN(T_F32, f32) VA_FN(T_F16, f16) VA_FN(T_Q8, q8_0) VA_FN(T_Q4, q4_0)
VA_FN(T_T2, turbo2)

static const cpu_kernels k_avx2_ki16;

/* Default (kdot=f32): turbo3 K dots in fp32 (cpu_avx2_ks_turbo3). */
static const cpu_kernels k_avx2 = {
    .name = "avx2",
    .quantize_row = cpu_avx2_quantize_row,
    .dequantize_row = cpu_avx2_dequantize_row,
    .rotate = cpu_avx2_rotate,
    .f16_to_f32 = cpu_avx2_f16_to_f32,
    .kscore = { ks_f32, ks_f16, ks_q8_0, ks_q4_0, ks_turbo2, cpu_avx2_ks_turbo3,
                cpu_avx2_ks_turbo4 },
    .vaccum = { va_f32, va_f16, va_q8_0, va_q4_0, va_turbo2, cpu_avx2_va_turbo3,
                cpu_avx2_va_turbo4 },
    .softmax = cpu_avx2_softmax,
    .kplanar = { [TQ_TYPE_TURBO3] = true },
    .vplanar = { [TQ_TYPE_TURBO3] = true },
    .kdot_i16 = &k_avx2_ki16,
};

/* kdot=i16: turbo3 K dots in int16 (k-i16, cpu_kern_avx2_turbo3.c). Not the default: the
 * scores kernel alone is ~20% faster (6.5 -> 5.2 ms single-thread CPU for 8 kv heads x 32K
 * keys), but whole decode attention was not reliably faster on the shared 2-core EPYC
 * (12.97 -> 12.65 ms quiet, 18.7 -> 20.6 ms median under load from a neighbour). */
static const cpu_kernels k_avx2_ki16 = {
    .name = "avx2",
    .quantize_row = cpu_avx2_quantize_row,
    .dequantize_row = cpu_avx2_dequantize_row,
    .rotate = cpu_avx2_rotate,
    .f16_to_f32 = cpu_avx2_f16_to_f32,
    .kscore = { ks_f32, ks_f16, ks_q8_0, ks_q4_0, ks_turbo2, cpu_avx2_ks_turbo3_i16,
                cpu_avx2_ks_turbo4 },
    .vaccum = { va_f32, va_f16, va_q8_0, va_q4_0, va_turbo2, cpu_avx2_va_turbo3,
                cpu_avx2_va_turbo4 },
    .softmax = cpu_avx2_softmax,
    .kplanar = { [TQ_TYPE_TURBO3] = true },
    .vplanar = { [TQ_TYPE_TURBO3] = true },
    .kprep = { [TQ_TYPE_TURBO3] = cpu_avx2_kprep_turbo3_i16 },
    .ktag = { [TQ_TYPE_TURBO3] = "k-i16" },
    .kdot_f32 = &k_avx2,
};

const cpu_kernels *cpu_kernels_avx2(void)
{
    return &k_avx2;
}
