/*
 * cpu_kern_avx2_turbo3.c: AVX2 attention micro-kernels for turbo3 (and turbo4) K and V.
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
 *
 * turbo4 uses the same kernels with its own control bytes: 8 magnitudes, so the lookup is
 * one vpermps (instead of the generic path's two plus a blend), and the expansion (one
 * vpshufb per 32 indices) works in element order, so Q and V need no permutation.
 */
#include <math.h>

#include "cpu_avx2.h"

/* the turbo3 codebook from the one definition; its upper half is the 4 magnitudes */
static const float cb3[8] = { TQ_TURBO3_CODEBOOK };

/* One block's 128 control bytes, in plane order, to out (32-byte aligned): bits 0-1 the
 * magnitude index, bit 7 the sign; bits 2-6 are don't-cares (ones for negative). */
AI void t3_ctrl(const uint8_t *blk, uint8_t *out)
{
    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(blk + TQ_TURBO_QS_OFFSET));
    const __m256i sg = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)(blk + TQ_TURBO3_SIGNS_OFFSET)));
    /* byte i of plane b is element 4i + b: its sign byte is i / 2, bit 4 * (i % 2) + b */
    const __m256i y = _mm256_shuffle_epi8(sg, _mm256_setr_epi8(
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7,
        8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    const __m256i three = _mm256_set1_epi8(3);
    const __m256i zero = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++) {
        const __m256i bit = _mm256_set1_epi16((short)((1 << b) | (0x10 << b) << 8));
        __m256i low = _mm256_and_si256(_mm256_srli_epi16(x, 2 * b), three);
        /* neg: 0xff where the sign bit is clear. low ^ neg flips the magnitude index and
         * sets bit 7; bits 2..6 become ones too, which t3_decode never looks at */
        __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(y, bit), zero);
        _mm256_store_si256((__m256i *)(void *)(out + 32 * b), _mm256_xor_si256(low, neg));
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

/* turbo4: the codebook is symmetric too, c[8 + j] = m[j], c[7 - j] = -m[j], with 8
 * magnitudes. The control byte of a 4-bit index v: magnitude index (v >= 8 ? v - 8 : 7 - v)
 * in bits 0-2, bit 7 set when negative; one vpshufb per 32 indices. */
static const int8_t t4_lut[16] = { -121, -122, -123, -124, -125, -126, -127, -128,
                                   0, 1, 2, 3, 4, 5, 6, 7 };
static const float cb4[16] = { TQ_TURBO4_CODEBOOK };

/* One turbo4 block's 128 control bytes, in element order, to out (32-byte aligned). */
AI void t4_ctrl(const uint8_t *blk, uint8_t *out)
{
    const __m256i lut = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)t4_lut));
    const __m256i m4 = _mm256_set1_epi8(0x0f);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        /* byte i holds elements 2i (low nibble) and 2i + 1 */
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(blk + TQ_TURBO_QS_OFFSET + 32 * h));
        __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, m4));
        __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), m4));
        /* interleaved per 128-bit lane: u0 = elements 0-15 | 32-47, u1 = 16-31 | 48-63 */
        __m256i u0 = _mm256_unpacklo_epi8(lo, hi), u1 = _mm256_unpackhi_epi8(lo, hi);
        _mm256_store_si256((__m256i *)(void *)(out + 64 * h), _mm256_permute2x128_si256(u0, u1, 0x20));
        _mm256_store_si256((__m256i *)(void *)(out + 64 * h + 32), _mm256_permute2x128_si256(u0, u1, 0x31));
    }
}

/* Centroids (unscaled) of 8 positions of a turbo3 (T4 = 0) or turbo4 (T4 = 1) block. */
AI __m256 tq_decode(const int T4, const uint8_t *ctrl, __m256 mag, __m256 sbit)
{
    if (!T4)
        return t3_decode(ctrl, mag, sbit);
    __m256i c;
    __asm__("vpmovsxbd %1, %0" : "=x"(c) : "m"(*(const uint8_t (*)[8])(const void *)ctrl));
    __m256 m = _mm256_permutevar8x32_ps(mag, c);
    return _mm256_xor_ps(m, _mm256_and_ps(_mm256_castsi256_ps(c), sbit));
}

AI void tq_ctrl(const int T4, const uint8_t *blk, uint8_t *out)
{
    if (T4)
        t4_ctrl(blk, out);
    else
        t3_ctrl(blk, out);
}

AI __m256 tq_mag(const int T4)
{
    /* turbo3: the 4 magnitudes in both 128-bit lanes (in-lane vpermilps) */
    return T4 ? _mm256_loadu_ps(cb4 + 8) : _mm256_broadcast_ps((const __m128 *)(const void *)(cb3 + 4));
}

/* ------------------------------------------------------------------ scores */

AI void ks_tpl(const int T4, const int NRP, const float *q, int64_t dk, int nr, const uint8_t *k, uint64_t krb,
               int nt, float *s)
{
    const int KPT = 8 / NRP;
    const __m256 mag = tq_mag(T4);
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
        prefetch_bytes(k, (uint64_t)(t + CPU_ATTN_TILE) * krb, (uint64_t)KPT * krb);
        __m256 acc[8];
#pragma GCC unroll 8
        for (int a = 0; a < 8; a++)
            acc[a] = _mm256_setzero_ps();
        __m256 tot = _mm256_setzero_ps();
        for (int64_t e0 = 0, u = 0; e0 < dk; e0 += 128, u++) {
#pragma GCC unroll 8
            for (int kk = 0; kk < KPT; kk++) {
                const uint8_t *blk = kp[kk] + (uint64_t)u * (T4 ? TQ_TURBO4_BLOCK_BYTES
                                                                : TQ_TURBO3_BLOCK_BYTES);
                tq_ctrl(T4, blk, ctrl[kk]);
#pragma GCC unroll 8
                for (int r = 0; r < NRP; r++)
                    nrm[kk * NRP + r] = h2f(blk);
            }
#pragma GCC unroll 16
            for (int c = 0; c < 16; c++) {
                __m256 kv[8];
#pragma GCC unroll 8
                for (int kk = 0; kk < KPT; kk++)
                    kv[kk] = tq_decode(T4, ctrl[kk] + 8 * c, mag, sbit);
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



/* the exported entry points: the register blocking picked by the shared dispatch macros */
#define kscore_tpl ks_tpl
#include "cpu_kern_dispatch.h"
KS_FN(0, t3) KS_FN(1, t4)
#undef kscore_tpl

void cpu_avx2_ks_turbo3(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,
                        uint64_t krb, int nt, float *s)
{
    ks_t3(q, dk, nr, nrp, k, krb, nt, s);
}

void cpu_avx2_ks_turbo4(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,
                        uint64_t krb, int nt, float *s)
{
    ks_t4(q, dk, nr, nrp, k, krb, nt, s);
}


/* ------------------------------------------------------------------ V accumulation */

AI void va_tpl(const int T4, const int NR, const float *p, int nrp, const uint8_t *v, uint64_t vrb, int nt,
               int64_t dv, float *acc, int64_t as, void *ws)
{
    float *pw = (float *)ws;                                         /* [nt][8] */
    uint8_t *ctrl = (uint8_t *)ws + CPU_ATTN_TILE * 8 * 4;           /* [nt][128] */
    const __m256 mag = tq_mag(T4);
    const __m256 sbit = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    for (int64_t e0 = 0, u = 0; e0 < dv; e0 += 128, u++) {
        uint64_t uoff = (uint64_t)u * (T4 ? TQ_TURBO4_BLOCK_BYTES : TQ_TURBO3_BLOCK_BYTES);
        for (int t = 0; t < nt; t++) {
            const uint8_t *blk = v + (uint64_t)t * vrb + uoff;
            if (u == 0)
                prefetch_bytes(blk, CPU_ATTN_TILE * vrb, vrb);
            pw_store(NR, pw + t * 8, p + t * nrp, h2f(blk));
            tq_ctrl(T4, blk, ctrl + t * 128);
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
                    kv[cc] = tq_decode(T4, ctrl + t * 128 + 8 * (c + cc), mag, sbit);
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

#define vaccum_tpl va_tpl
VA_FN(0, t3) VA_FN(1, t4)
#undef vaccum_tpl

void cpu_avx2_va_turbo3(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb, int nt,
                        int64_t dv, float *acc, int64_t as, void *ws)
{
    va_t3(p, nr, nrp, v, vrb, nt, dv, acc, as, ws);
}

void cpu_avx2_va_turbo4(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb, int nt,
                        int64_t dv, float *acc, int64_t as, void *ws)
{
    va_t4(p, nr, nrp, v, vrb, nt, dv, acc, as, ws);
}


/* ------------------------------------------------------------------ integer scores (k-i16)
 *
 * Why: the fp32 scores above are bound by FMA issue. vpmaddwd does 16 multiplies for about
 * 0.7 of an FMA slot, so with Q as int16 and the centroids as int16 one 16-element step of
 * a (key, row) pair is one vpmaddwd plus one vpaddd (which runs on any vector pipe).
 *
 * Q record, per row and 128-group (cpu_avx2_kprep_turbo3_i16 writes them from the prepared
 * plane-order row into the kernel-format row, T3I_REC bytes per group): int16 q[128] in "i16 order", the
 * float 1 / (s_q * s_c) at byte 256, and the centroid table (low bytes of the 8 int16
 * centroids at byte 264, their high bytes at byte 272).
 *
 * i16 order: a key block is expanded plane by plane (32 bytes of 3-bit indices), the two
 * vpshufb lookups (low, high byte) are interleaved by vpunpck{l,h}bw, which works per
 * 128-bit lane, so 16-element chunk 2b + h holds plane-b bytes 8h..8h+7 and 16+8h..16+8h+7.
 *
 * Exactness: products are exact; a lane of the int32 accumulators sums 16 products of one
 * 128-group, which kprep bounds by choosing s_q so that sum |q_int| * T3I_CMAX over each
 * lane's 16 elements stays below 2^31 (a runtime bound from the actual q, not the worst
 * case), and |q_int| <= 32766. The int32 sums are converted to float once per group.
 * Precision: Q rounding costs up to 1/(2 s_q) per element, i.e. a score error of about
 * 2e-6 |q||k| (rms), 20x fp32's, which at |q||k| ~ 500 (peaky attention) reaches NMSE 1e-6. kprep returns a rigorous per-unit-norm bound of it
 * (|dq| * max|c|); the attention driver runs the fp32 kernel for a kv head whose keys'
 * norms make that bound exceed CPU_KDOT_I16_MAX_ERR (peaky attention with large |q|).
 * Centroid scale: T3I_CMAX / c_max with T3I_CMAX = 16296 (not 16383): at this scale the
 * four magnitudes sit within 2.4e-7 of an integer step (relative to c_max's 1.2e-5 LSB,
 * worst 2.4e-7 absolute vs 5.3e-6 at 16383), so the centroid table error is ~1e-7
 * absolute, below the fp16 block norm's own rounding. The error budget that remains is
 * Q's rounding: ~1e-5 of max|q| per element. */

#define T3I_REC 288
#define T3I_CMAX 16296

static int t3i_plane_pos(int j)
{
    int c = j / 16, b = c / 2, h = c % 2, w = j % 16;
    return 32 * b + (w < 8 ? 8 * h + w : 16 + 8 * h + (w - 8));
}

float cpu_avx2_kprep_turbo3_i16(const float *q, int64_t dk, float *out)
{
    static const float cb[8] = { TQ_TURBO3_CODEBOOK };
    const double cs = (double)T3I_CMAX / (double)cb[7];
    /* the largest |c| over a block's index patterns: sqrt(128) * c_max */
    const double cn = sqrt(128.0) * (double)cb[7];
    double bound = 0.0;
    for (int64_t g = 0; g < dk / 128; g++) {
        const float *x = q + 128 * g;
        uint8_t *rec = (uint8_t *)out + T3I_REC * g;
        double mx = 0.0, lmax = 0.0;
        for (int j = 0; j < 128; j++)
            mx = fmax(mx, fabs((double)x[j]));
        for (int l = 0; l < 8; l++) {
            double sum = 0.0;
            for (int c = 0; c < 8; c++)
                sum += fabs((double)x[t3i_plane_pos(16 * c + 2 * l)]) +
                       fabs((double)x[t3i_plane_pos(16 * c + 2 * l + 1)]);
            lmax = fmax(lmax, sum);
        }
        /* |q_int| <= sq * |q| + 0.5, so a lane's sum |q_int| <= sq * lmax + 8; keep
         * (sq * lmax + 8) * T3I_CMAX < 2^31 with margin (2^31 / 16296 = 131779). */
        double sq = mx > 0.0 ? 32766.0 / mx : 0.0;
        if (lmax > 0.0 && sq * lmax > 131000.0)
            sq = 131000.0 / lmax;
        if (!isfinite(sq) || !isfinite(mx))
            return INFINITY;               /* not representable: the caller uses fp32 */
        int16_t qi[128];
        double err2 = 0.0;
        for (int j = 0; j < 128; j++) {
            double v = (double)x[t3i_plane_pos(j)];
            qi[j] = (int16_t)lrint(v * sq);
            double e = sq > 0.0 ? v - (double)qi[j] / sq : v;
            err2 += e * e;
        }
        memcpy(rec, qi, sizeof(qi));
        float f = sq > 0.0 ? (float)(1.0 / (sq * cs)) : 0.0f;
        memcpy(rec + 256, &f, 4);
        uint8_t tab[16];
        for (int i = 0; i < 8; i++) {
            int16_t ci = (int16_t)lrint((double)cb[i] * cs);
            uint16_t u = (uint16_t)ci;
            tab[i] = (uint8_t)(u & 0xff);
            tab[8 + i] = (uint8_t)(u >> 8);
        }
        memcpy(rec + 264, tab, 16);
        /* Cauchy-Schwarz: |<dq, c * norm>| <= |dq| * |c| * norm, and |c| <= cn */
        bound = fmax(bound, sqrt(err2) * cn);
    }
    return (float)bound;
}

/* One block's 128 int16 centroids (unscaled by the norm) in i16 order. tlo / thi: the low /
 * high bytes of the 8 centroids in both lanes (vpshufb reads the low 4 bits of idx). */
AI void t3_i16(const uint8_t *blk, __m256i tlo, __m256i thi, int16_t *out)
{
    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(blk + TQ_TURBO_QS_OFFSET));
    const __m256i sg = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)(blk + TQ_TURBO3_SIGNS_OFFSET)));
    /* byte i of plane b is element 4i + b, whose sign is bit 4 * (i % 2) + b of sign byte
     * i / 2: duplicate each sign byte and shift the odd copies down by 4, so that bit b of
     * byte i is plane b's sign for every i */
    const __m256i y0 = _mm256_shuffle_epi8(sg, _mm256_setr_epi8(
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7,
        8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    const __m256i y = _mm256_blendv_epi8(y0, _mm256_srli_epi16(y0, 4),
                                         _mm256_set1_epi16((short)0xff00));
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++) {
        /* sign bit b moved to bit 2 (bits that cross a byte boundary are masked off) */
        __m256i ys = b == 0 ? _mm256_slli_epi16(y, 2) : b == 1 ? _mm256_slli_epi16(y, 1)
                   : b == 2 ? y : _mm256_srli_epi16(y, 1);
        __m256i low = _mm256_and_si256(b ? _mm256_srli_epi16(x, 2 * b) : x, three);
        __m256i idx = _mm256_or_si256(low, _mm256_and_si256(ys, four));
        __m256i lo = _mm256_shuffle_epi8(tlo, idx);
        __m256i hi = _mm256_shuffle_epi8(thi, idx);
        _mm256_store_si256((__m256i *)(void *)(out + 32 * b), _mm256_unpacklo_epi8(lo, hi));
        _mm256_store_si256((__m256i *)(void *)(out + 32 * b + 16), _mm256_unpackhi_epi8(lo, hi));
    }
}

/* a * b[0..15] pairwise, with b read straight from memory (one fused load; left to itself
 * GCC loads every shared operand into a register first and the extra moves cost issue). */
AI __m256i madd_m(__m256i a, const void *b)
{
    __m256i r;
    __asm__("vpmaddwd %2, %1, %0" : "=x"(r) : "x"(a), "m"(*(const __m256i *)b));
    return r;
}

AI void ksi_tpl(const int NRP, const float *q, int64_t dk, int nr, const uint8_t *k, uint64_t krb,
                int nt, float *s)
{
    const int KPT = 8 / NRP;
    const uint8_t *qr[8];
#pragma GCC unroll 8
    for (int r = 0; r < NRP; r++)
        qr[r] = (const uint8_t *)(const void *)(q + (r < nr ? r : 0) * dk);   /* records */
    const __m256i tlo = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)(qr[0] + 264)));
    const __m256i thi = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)(qr[0] + 272)));
    _Alignas(32) int16_t kc[8][128];
    for (int t = 0; t < nt; t += KPT) {
        const uint8_t *kp[8];
        _Alignas(32) float nrm[8];
#pragma GCC unroll 8
        for (int kk = 0; kk < KPT; kk++)
            kp[kk] = k + (uint64_t)(t + kk < nt ? t + kk : nt - 1) * krb;
        __m256 tot = _mm256_setzero_ps();
        for (int64_t u = 0; u < dk / 128; u++) {
#pragma GCC unroll 8
            for (int kk = 0; kk < KPT; kk++) {
                const uint8_t *blk = kp[kk] + (uint64_t)u * TQ_TURBO3_BLOCK_BYTES;
                t3_i16(blk, tlo, thi, kc[kk]);
                float nb = h2f(blk);
#pragma GCC unroll 8
                for (int r = 0; r < NRP; r++) {
                    float f;
                    memcpy(&f, qr[r] + T3I_REC * u + 256, 4);
                    nrm[kk * NRP + r] = nb * f;
                }
            }
            __m256i acc[8];
#pragma GCC unroll 8
            for (int a = 0; a < 8; a++)
                acc[a] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++) {
                __m256i kv[8];
#pragma GCC unroll 8
                for (int kk = 0; kk < KPT; kk++)
                    kv[kk] = _mm256_load_si256((const __m256i *)(const void *)(kc[kk] + 16 * c));
#pragma GCC unroll 8
                for (int r = 0; r < NRP; r++)
#pragma GCC unroll 8
                    for (int kk = 0; kk < KPT; kk++)
                        acc[kk * NRP + r] = _mm256_add_epi32(
                            acc[kk * NRP + r], madd_m(kv[kk], qr[r] + T3I_REC * u + 32 * c));
            }
            __m256 af[8];
#pragma GCC unroll 8
            for (int a = 0; a < 8; a++)
                af[a] = _mm256_cvtepi32_ps(acc[a]);
            tot = _mm256_fmadd_ps(reduce8(af), _mm256_load_ps(nrm), tot);
        }
        _mm256_storeu_ps(s + t * NRP, tot);
    }
}

void cpu_avx2_ks_turbo3_i16(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,
                            uint64_t krb, int nt, float *s)
{
    switch (nrp) {
    case 1: ksi_tpl(1, q, dk, nr, k, krb, nt, s); break;
    case 2: ksi_tpl(2, q, dk, nr, k, krb, nt, s); break;
    case 4: ksi_tpl(4, q, dk, nr, k, krb, nt, s); break;
    default: ksi_tpl(8, q, dk, nr, k, krb, nt, s); break;
    }
}
