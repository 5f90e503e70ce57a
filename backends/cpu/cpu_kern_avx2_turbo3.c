/*
 * cpu_kern_avx2_turbo3.c: AVX2 attention micro-kernels for turbo3 K and V.
 *
 * Why a separate decode: on the machines this runs on (Zen 3 in particular) a lane-crossing
 * vpermps costs about as much issue bandwidth as two FMAs, so looking an 8-entry codebook
 * up per 8 elements made the FMAs wait. The turbo3 codebook is symmetric,
 * c[4 + j] = m[j], c[3 - j] = -m[j], so a centroid is a 4-entry magnitude (in-lane
 * vpermilps, cheap) and a sign (one xor). Each 128-element block is first expanded to one
 * control byte per element, mi | neg << 7 with mi = low ^ (neg ? 3 : 0), which vpmovsxbd
 * widens for free: the low 2 bits select the magnitude and bit 31 is the sign to xor in.
 *
 * The expansion is cheapest in "plane order" (cpu_plane_elem: position p of a 128-group
 * holds element 4 * (p % 32) + p / 32, p / 32 being the 2-bit field inside a qs byte). Q
 * rows (turbo K) and V accumulators (turbo V) live in that order; the attention driver
 * permutes Q once and un-permutes the merged V row before the inverse rotation
 * (cpu_kernels.kplanar / vplanar).
 */
#include "cpu_avx2.h"

static const float mag3[8] = { 0.021663f, 0.066822f, 0.118786f, 0.190207f,
                               0.021663f, 0.066822f, 0.118786f, 0.190207f };

/* One block's 128 control bytes, in plane order, to out (32-byte aligned). */
AI void t3_ctrl(const uint8_t *blk, uint8_t *out)
{
    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(blk + TQ_TURBO_QS_OFFSET));
    const __m256i sg = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)(blk + TQ_TURBO3_SIGNS_OFFSET)));
    /* byte i of plane b is element 4i + b: its sign byte is i / 2, bit 4 * (i % 2) + b */
    const __m256i y = _mm256_shuffle_epi8(sg, _mm256_setr_epi8(
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7,
        8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    const __m256i three = _mm256_set1_epi8(3), flip = _mm256_set1_epi8((char)0x83);
    const __m256i zero = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++) {
        const __m256i bit = _mm256_set1_epi16((short)((1 << b) | (0x10 << b) << 8));
        __m256i low = _mm256_and_si256(_mm256_srli_epi16(x, 2 * b), three);
        __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(y, bit), zero);
        _mm256_store_si256((__m256i *)(void *)(out + 32 * b),
                           _mm256_xor_si256(low, _mm256_and_si256(neg, flip)));
    }
}

/* Centroids (unscaled) of 8 positions from their control bytes. */
AI __m256 t3_decode(const uint8_t *ctrl, __m256 mag, __m256 sbit)
{
    /* vpmovsxbd straight from memory: written as intrinsics, GCC keeps the control bytes
     * in registers and pays extracts and spills for every chunk. */
    __m256i c;
    __asm__("vpmovsxbd %1, %0" : "=x"(c) : "m"(*(const uint8_t (*)[8])(const void *)ctrl));
    __m256 m = _mm256_permutevar_ps(mag, c);
    return _mm256_xor_ps(m, _mm256_and_ps(_mm256_castsi256_ps(c), sbit));
}

/* ------------------------------------------------------------------ scores */

AI void ks_tpl(const int NRP, const float *q, int64_t dk, int nr, const uint8_t *k, uint64_t krb,
               int nt, float *s)
{
    const int KPT = 8 / NRP;
    const __m256 mag = _mm256_loadu_ps(mag3);
    const __m256 sbit = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const float *qr[8];
    _Alignas(32) uint8_t ctrl[8][128];
#pragma GCC unroll 8
    for (int r = 0; r < NRP; r++)
        qr[r] = q + (r < nr ? r : 0) * dk;
    for (int t = 0; t < nt; t += KPT) {
        const uint8_t *kp[8];
        _Alignas(32) float nrm[8];
#pragma GCC unroll 8
        for (int kk = 0; kk < KPT; kk++)
            kp[kk] = k + (uint64_t)(t + kk < nt ? t + kk : nt - 1) * krb;
        __m256 acc[8];
#pragma GCC unroll 8
        for (int a = 0; a < 8; a++)
            acc[a] = _mm256_setzero_ps();
        __m256 tot = _mm256_setzero_ps();
        for (int64_t e0 = 0, u = 0; e0 < dk; e0 += 128, u++) {
#pragma GCC unroll 8
            for (int kk = 0; kk < KPT; kk++) {
                const uint8_t *blk = kp[kk] + (uint64_t)u * TQ_TURBO3_BLOCK_BYTES;
                t3_ctrl(blk, ctrl[kk]);
#pragma GCC unroll 8
                for (int r = 0; r < NRP; r++)
                    nrm[kk * NRP + r] = h2f(blk);
            }
#pragma GCC unroll 16
            for (int c = 0; c < 16; c++) {
                __m256 kv[8];
#pragma GCC unroll 8
                for (int kk = 0; kk < KPT; kk++)
                    kv[kk] = t3_decode(ctrl[kk] + 8 * c, mag, sbit);
#pragma GCC unroll 8
                for (int r = 0; r < NRP; r++) {
                    /* one load of q per chunk for all keys: left to itself GCC folds a load
                     * into every FMA, and the loads, not the FMAs, set the pace */
                    __m256 qv = _mm256_loadu_ps(qr[r] + e0 + 8 * c);
                    if (KPT > 1)
                        __asm__("" : "+x"(qv));
#pragma GCC unroll 8
                    for (int kk = 0; kk < KPT; kk++)
                        acc[kk * NRP + r] = _mm256_fmadd_ps(qv, kv[kk], acc[kk * NRP + r]);
                }
            }
            /* the block norm applies per 128-group: fold this group in and restart */
            tot = _mm256_fmadd_ps(reduce8(acc), _mm256_load_ps(nrm), tot);
#pragma GCC unroll 8
            for (int a = 0; a < 8; a++)
                acc[a] = _mm256_setzero_ps();
        }
        _mm256_storeu_ps(s + t * NRP, tot);
    }
}



void cpu_avx2_ks_turbo3(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,
                        uint64_t krb, int nt, float *s)
{
    switch (nrp) {
    case 1: ks_tpl(1, q, dk, nr, k, krb, nt, s); break;
    case 2: ks_tpl(2, q, dk, nr, k, krb, nt, s); break;
    case 4: ks_tpl(4, q, dk, nr, k, krb, nt, s); break;
    default: ks_tpl(8, q, dk, nr, k, krb, nt, s); break;
    }
}

/* ------------------------------------------------------------------ V accumulation */

AI void va_tpl(const int NR, const float *p, int nrp, const uint8_t *v, uint64_t vrb, int nt,
               int64_t dv, float *acc, int64_t as, void *ws)
{
    float *pw = (float *)ws;                                         /* [nt][8] */
    uint8_t *ctrl = (uint8_t *)ws + CPU_ATTN_TILE * 8 * 4;           /* [nt][128] */
    const __m256 mag = _mm256_loadu_ps(mag3);
    const __m256 sbit = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    for (int64_t e0 = 0, u = 0; e0 < dv; e0 += 128, u++) {
        uint64_t uoff = (uint64_t)u * TQ_TURBO3_BLOCK_BYTES;
        for (int t = 0; t < nt; t++) {
            const uint8_t *blk = v + (uint64_t)t * vrb + uoff;
            float f = h2f(blk);
#pragma GCC unroll 8
            for (int r = 0; r < NR; r++)
                pw[t * 8 + r] = p[t * nrp + r] * f;
            t3_ctrl(blk, ctrl + t * 128);
        }
        /* Two 8-position chunks per pass when the rows leave registers for it: the weight
         * broadcasts are then shared by both chunks. */
        const int CPP = NR <= 4 ? 2 : 1;
        for (int c = 0; c < 16; c += CPP) {
            __m256 a[8][2];
#pragma GCC unroll 8
            for (int r = 0; r < NR; r++)
#pragma GCC unroll 2
                for (int cc = 0; cc < CPP; cc++)
                    a[r][cc] = _mm256_loadu_ps(acc + r * as + e0 + 8 * (c + cc));
            for (int t = 0; t < nt; t++) {
                __m256 kv[2];
#pragma GCC unroll 2
                for (int cc = 0; cc < CPP; cc++)
                    kv[cc] = t3_decode(ctrl + t * 128 + 8 * (c + cc), mag, sbit);
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

void cpu_avx2_va_turbo3(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb, int nt,
                        int64_t dv, float *acc, int64_t as, void *ws)
{
    switch (nr) {
    case 1: va_tpl(1, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    case 2: va_tpl(2, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    case 3: va_tpl(3, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    case 4: va_tpl(4, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    case 5: va_tpl(5, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    case 6: va_tpl(6, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    case 7: va_tpl(7, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    default: va_tpl(8, p, nrp, v, vrb, nt, dv, acc, as, ws); break;
    }
}
