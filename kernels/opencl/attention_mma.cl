/*
 * attention_mma.cl: decode attention on matrix units ("split-k-mma"), for K and V each
 * turbo3 or q8_0 (one kernel per pair).
 *
 * Built in one of two forms, chosen by the host's -DTQ_CL_MMA_NV:
 *  1: NVIDIA devices of compute capability 8.0 or later (reported through
 *     cl_nv_device_attribute_query): the tile products are PTX mma.sync m16n8k16 (fp16
 *     inputs, fp32 accumulators) and lanes exchange values with shfl.sync, as inline
 *     assembly. A work-group is 4 warps of 32 lanes; each warp works alone.
 *  0: everywhere else: the same kernel with the tile products, shuffles and byte
 *     permutes done through local memory by a work-group of exactly 32 work-items (one
 *     emulated warp), so every other part of it runs and is tested on PoCL and lavapipe-
 *     class devices. It is slow; the host never picks it unless asked to.
 *
 * Layout (m16n8k16: A 16x16 row-major, B 16x8 column-major, C 16x8; lane = 4 g + t):
 *   a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, 2t+9], a3 = A[g+8][2t+8, 2t+9]
 *   b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g]
 *   c = C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1]
 *
 * Scores S = Q K^T, one m16n8k16 per 16 dimensions and 8 keys: A rows 0-7 are the tile's
 * 8 query rows in fp16 (hi), rows 8-15 what fp16 missed of them (lo), so c0 + c2 is the
 * score to about 22 bits; B is K^T. The 16 dimensions of k-step s for lane t are
 * 32t + 4s + {0,1,2,3} (any order of the 128 dimensions works if Q and K agree), so lane
 * t reads one contiguous quarter of each K row: 8 bytes of qs and 4 of signs. turbo3
 * centroids are not exact in fp16 either: each K pair goes in twice, hi and lo, from two
 * tables. Q rows are divided by their largest |element| (the factor, times the scale,
 * multiplies the fp32 score) so neither part leaves fp16's normal range.
 *
 * The C layout of two score tiles (16 keys) is exactly the B layout of the next product,
 * O^T += V^T P'^T: A is V^T (rows: 16 of the 128 dimensions, columns: 16 keys), B the
 * probabilities P' = p * norm_v / vref * 2^15 straight from the score registers, C the
 * output O^T (dimensions x query rows). Lane g of an O^T tile m holds dimensions
 * 16g + 2m and 16g + 2m + 1, so it reads one 4-byte word of qs and 2 bytes of signs of
 * each V row. vref, the step's largest V norm, keeps P' within fp16's normal range
 * (p <= 1, so P' <= 2^15); O is kept in units of vref * 2^-15 and rescaled when vref or
 * the running maximum changes.
 *
 * Centroid pairs come from tables in local memory indexed by 6 bits (two 2-bit qs fields,
 * two sign bits), replicated once per lane (entry e of lane l at e * 32 + l) so a warp's
 * 32 lookups never share a bank.
 *
 * q8_0 K: the int8 values are exact in fp16 (no lo part); k-step s = 2b + h covers
 * dimensions 32b + 16h + 4t + {0..3}, inside block b, and each block's partial score is
 * multiplied by that block's scale in fp32. q8_0 V: a lane's 16 dimensions lie in one
 * block, but an A tile spans four, so the scale goes into each V value (fp16-rounded,
 * an error that softmax does not amplify) and P' carries no norm.
 *
 * Each warp runs its own online softmax over its own range of keys (a.chunk keys) and
 * writes its own partial (o[dv], m, l) for tq_attention_reduce (attention.cl): partial
 * index = work-group * warps + warp. No barrier inside the key loop on NVIDIA.
 */

#define TQ_MMA_QM 8u         /* query rows per work-group (A rows 0-7; 8-15 are their lo) */
#define TQ_MMA_NT 4u         /* score tiles (8 keys) per warp step */
#define TQ_MMA_KS (8u * TQ_MMA_NT)   /* keys per warp step */
#define TQ_MMA_NU (TQ_MMA_NT / 2u)   /* value k-steps (16 keys) per warp step */
#define TQ_MMA_LUT 64u       /* entries of a pair table (6 index bits) */
#define TQ_MMA_PSCALE 32768.0f   /* P' = p * norm / vref * 2^15 */

#ifndef TQ_CL_MMA_NV
#define TQ_CL_MMA_NV 0
#endif

#if TQ_CL_MMA_NV
/* fixed-count loops fully unrolled: fragments must stay in registers */
#define TQ_MMA_UNROLL _Pragma("unroll")
#define TQ_MMA_XS_ARG
#define TQ_MMA_XS
inline uint tq_mma_shfl(uint v, uint src)
{
    uint r;
    __asm__ volatile("shfl.sync.idx.b32 %0, %1, %2, 0x1f, 0xffffffff;"
                     : "=r"(r) : "r"(v), "r"(src));
    return r;
}
inline uint tq_mma_xor(uint v, uint m)
{
    uint r;
    __asm__ volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=r"(r) : "r"(v), "r"(m));
    return r;
}
#define TQ_SHFL(v, src) tq_mma_shfl((v), (src))
#define TQ_XOR(v, m) tq_mma_xor((v), (m))
/* two floats to fp16 (round to nearest even), lo in the low half */
inline uint tq_mma_h2(float lo, float hi)
{
    uint r;
    __asm__("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
inline uint tq_mma_prmt(uint a, uint b, uint sel)
{
    uint r;
    __asm__("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
    return r;
}
/* c += A B on one m16n8k16 tile */
#define TQ_MMA(c, a0, a1, a2, a3, b0, b1)                                                     \
    __asm__("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "               \
            "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"                                          \
            : "+f"((c)[0]), "+f"((c)[1]), "+f"((c)[2]), "+f"((c)[3])                          \
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1))
#else
/* Emulation: one warp = the work-group (32 work-items); xs is 32 * 6 uints of local memory.
 * Loops stay rolled: every emulated product and shuffle holds barriers, and unrolled
 * they made PoCL's compile of this kernel take minutes. */
#define TQ_MMA_UNROLL _Pragma("unroll 1")
#define TQ_MMA_XS_ARG , __local uint *xs
#define TQ_MMA_XS , xs
inline uint tq_mma_shfl(uint v, uint src, uint lane, __local uint *xs)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    xs[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    return xs[src & 31u];
}
#define TQ_SHFL(v, src) tq_mma_shfl((v), (src), lane, xs)
#define TQ_XOR(v, m) tq_mma_shfl((v), lane ^ (m), lane, xs)
inline uint tq_mma_h2(float lo, float hi)
{
    ushort h[2];
    vstore_half_rte(lo, 0, (__private half *)h);
    vstore_half_rte(hi, 1, (__private half *)h);
    return (uint)h[0] | ((uint)h[1] << 16);
}
inline uint tq_mma_prmt(uint a, uint b, uint sel)
{
    ulong x = ((ulong)b << 32) | a;
    uint r = 0;
    for (uint i = 0; i < 4u; i++)
        r |= (uint)((x >> (8u * ((sel >> (4u * i)) & 7u))) & 0xffu) << (8u * i);
    return r;
}
inline float tq_mma_half(uint w, uint hi)
{
    ushort h = (ushort)(hi ? w >> 16 : w & 0xffffu);
    return vload_half(0, (__private const half *)&h);
}
inline void tq_mma_emu(float *c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, uint lane,
                       __local uint *xs)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    xs[lane * 6u + 0u] = a0;
    xs[lane * 6u + 1u] = a1;
    xs[lane * 6u + 2u] = a2;
    xs[lane * 6u + 3u] = a3;
    xs[lane * 6u + 4u] = b0;
    xs[lane * 6u + 5u] = b1;
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint g = lane >> 2, t = lane & 3u;
    for (uint o = 0; o < 4u; o++) {
        uint row = g + (o >= 2u ? 8u : 0u), col = 2u * t + (o & 1u);
        float sum = 0.0f;
        for (uint k = 0; k < 16u; k++) {
            /* A[row][k]: lane (row % 8, (k % 8) / 2), register a0/a1 (k < 8) or a2/a3 */
            uint al = (row & 7u) * 4u + ((k & 7u) >> 1);
            uint ar = (k < 8u ? 0u : 2u) + (row >= 8u ? 1u : 0u);
            /* B[k][col]: lane (col, (k % 8) / 2), register b0 (k < 8) or b1 */
            uint bl = col * 4u + ((k & 7u) >> 1);
            uint br = 4u + (k < 8u ? 0u : 1u);
            sum += tq_mma_half(xs[al * 6u + ar], k & 1u) * tq_mma_half(xs[bl * 6u + br], k & 1u);
        }
        c[o] += sum;
    }
}
#define TQ_MMA(c, a0, a1, a2, a3, b0, b1)                                                     \
    tq_mma_emu((c), (a0), (a1), (a2), (a3), (b0), (b1), lane, xs)
#endif

#define TQ_SHFLF(v, src) as_float(TQ_SHFL(as_uint(v), (src)))
#define TQ_XORF(v, m) as_float(TQ_XOR(as_uint(v), (m)))

inline uint tq_mma_ld32(__global const uchar *p)   /* 2-byte aligned */
{
    return tq_ld16(p) | (tq_ld16(p + 2) << 16);
}

/* bytes 0 and 1 of x, signed 8-bit integers, as two fp16 values (exact) */
inline uint tq_mma_i8x2(uint x)
{
    return tq_mma_h2((float)(char)(x & 0xffu), (float)(char)((x >> 8) & 0xffu));
}

inline float tq_mma_f16(uint bits)
{
    ushort h = (ushort)bits;
    return vload_half(0, (__private const half *)&h);
}

/* Table entry e of a turbo3 pair: low half element 0 (qs bits 0-1 of e, sign bit 4),
 * high half element 1 (bits 2-3, sign bit 5); lo: what fp16 missed of the centroids. */
inline uint tq_mma_lut3(uint e, int lo)
{
    uint i0 = (e & 3u) | (((e >> 4) & 1u) << 2);
    uint i1 = ((e >> 2) & 3u) | (((e >> 5) & 1u) << 2);
    float c0 = tq_cb3[i0], c1 = tq_cb3[i1];
    uint h = tq_mma_h2(c0, c1);
    if (!lo)
        return h;
    return tq_mma_h2(c0 - tq_mma_f16(h & 0xffffu), c1 - tq_mma_f16(h >> 16));
}

/* The kernel body for K type kq8 ? q8_0 : turbo3 and V likewise; each K/V pair has its
 * own kernel below with constant arguments, so the compiler keeps only that pair's code
 * and registers (one kernel branching on the types at run time took 210 registers and
 * ran turbo3 at 232 us instead of 130 on an H100). */
inline void tq_attention_mma_body(__global const uchar *qbuf, ulong q_off,
                                  __global const uchar *kbuf, ulong k_off,
                                  __global const uchar *vbuf, ulong v_off,
                                  __global float *part, const tq_attn_args a,
                                  __local uint *lut, __local float *lq TQ_MMA_XS_ARG,
                                  const bool kq8, const bool vq8)
{
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    const uint lane = lid & 31u, warp = lid >> 5, nw = lsz >> 5;
    const uint g = lane >> 2, t = lane & 3u;
    const uint kvh = get_group_id(1) / a.n_qtile, tile = get_group_id(1) % a.n_qtile;
    const uint s = get_group_id(2);
    const uint q_first = tile * TQ_MMA_QM;
    const uint nqt = min(TQ_MMA_QM, a.group * a.n_q - q_first);
    __local uint *lut_hi = lut, *lut_lo = lut + TQ_MMA_LUT * 32u;
    __local float *qfac = lq + TQ_MMA_QM * 128u;

    /* pair tables (the 64 entries computed once, then copied for every lane), Q rows
     * (rotated), their largest |element| */
    __local uint *lut_one = lut + 2u * TQ_MMA_LUT * 32u;
    for (uint i = lid; i < 2u * TQ_MMA_LUT; i += lsz)
        lut_one[i] = tq_mma_lut3(i % TQ_MMA_LUT, i >= TQ_MMA_LUT);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint i = lid; i < TQ_MMA_LUT * 32u; i += lsz) {
        lut_hi[i] = lut_one[i >> 5];
        lut_lo[i] = lut_one[TQ_MMA_LUT + (i >> 5)];
    }
    tq_load_q_tile(lq, TQ_MMA_QM, 128u, nqt, q_first, kvh, s, qbuf, q_off, a, lid, lsz);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (!kq8) {
        tq_rotate_local(lq, TQ_MMA_QM, 0, lid, lsz);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid < TQ_MMA_QM) {
        float mx = 0.0f;
        for (uint e = 0; e < 128u; e++)
            mx = fmax(mx, fabs(lq[lid * 128u + e]));
        qfac[lid] = mx;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* this lane's A fragments of Q: k-step ks covers dimensions 32t + 4ks + {0..3} (turbo3
     * K), or 32b + 16h + 4t + {0..3} with ks = 2b + h (q8_0 K: a k-step stays inside one
     * 32-element block, whose scale then multiplies its partial score). They live in
     * local memory and are read at each use (kept in registers, the kernel took 201
     * registers and 137 us instead of 126 on an H100); every warp writes the same
     * values, lane-major so a warp's reads never share a bank. */
    __local uint *qfr = lut + 2u * TQ_MMA_LUT * 32u + 2u * TQ_MMA_LUT;
#define QA(ks, r) qfr[((ks) * 4u + (r)) * 32u + lane]
    const float qmax = qfac[g], qinv = qmax > 0.0f ? 1.0f / qmax : 0.0f;
    TQ_MMA_UNROLL
    for (uint ks = 0; ks < 8u; ks++) {
        uint hi2[2], lo2[2];
        TQ_MMA_UNROLL
        for (uint h = 0; h < 2u; h++) {
            uint d = kq8 ? 32u * (ks >> 1) + 16u * (ks & 1u) + 4u * t + 2u * h
                         : 32u * t + 4u * ks + 2u * h;
            float x0 = lq[g * 128u + d] * qinv, x1 = lq[g * 128u + d + 1u] * qinv;
            uint hb = tq_mma_h2(x0, x1);
            hi2[h] = hb;
            lo2[h] = tq_mma_h2(x0 - tq_mma_f16(hb & 0xffffu), x1 - tq_mma_f16(hb >> 16));
        }
        QA(ks, 0) = hi2[0];
        QA(ks, 1) = lo2[0];
        QA(ks, 2) = hi2[1];
        QA(ks, 3) = lo2[1];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const float rowfac = qmax * a.scale;

    /* this warp's keys, cut short where no query row of the tile can see further */
    const uint pw = get_group_id(0) * nw + warp;
    const uint c0 = pw * a.chunk;
    uint c1 = min(a.n_kv, c0 + a.chunk);
    if (a.causal)
        c1 = min(c1, a.q_pos0 + (q_first + nqt - 1u) / a.group + 1u);
    /* row g's visible keys: p < lim */
    uint lim = 0;
    if (g < nqt)
        lim = a.causal ? min(c1, a.q_pos0 + (q_first + g) / a.group + 1u) : c1;
    const ulong kv_row0 = ((ulong)s * a.n_kv_head + kvh) * a.n_ctx;
    __global const uchar *kbase = kbuf + k_off + kv_row0 * a.k_row_bytes;
    __global const uchar *vbase = vbuf + v_off + kv_row0 * a.v_row_bytes;

    float o[8][4];
    TQ_MMA_UNROLL
    for (uint m = 0; m < 8u; m++)
        TQ_MMA_UNROLL
        for (uint i = 0; i < 4u; i++)
            o[m][i] = 0.0f;
    float mrow = -INFINITY, lrow = 0.0f, vref = 1.0f;

    /* The step's K and V words, loaded before any of them is used: tile j's key
     * p0 + 8j + g (norm, this lane's 8 bytes of qs and 4 of signs) and value k-step u's
     * keys p0 + 16u + {2t, 2t+1, 2t+8, 2t+9} (norm, 4 bytes of qs and 2 of signs). */
#define TQ_MMA_LOAD_K(P0, KN, KQ0, KQ1, KSG)                                                   \
    TQ_MMA_UNROLL for (uint j = 0; j < TQ_MMA_NT; j++) {                                      \
        uint key = min((P0) + 8u * j + g, c1 - 1u);                                           \
        __global const uchar *kr = kbase + (ulong)key * a.k_row_bytes;                        \
        KN[j] = tq_ld16(kr);                                                                  \
        KQ0[j] = tq_mma_ld32(kr + TQ_TURBO_QS_OFFSET + 8u * t);                               \
        KQ1[j] = tq_mma_ld32(kr + TQ_TURBO_QS_OFFSET + 8u * t + 4u);                          \
        KSG[j] = tq_mma_ld32(kr + TQ_TURBO3_SIGNS_OFFSET + 4u * t);                           \
    }
#define TQ_MMA_LOAD_V(P0, VN, VQ, VS)                                                         \
    TQ_MMA_UNROLL for (uint u = 0; u < TQ_MMA_NU; u++)                                        \
        TQ_MMA_UNROLL for (uint k = 0; k < 4u; k++) {                                         \
            uint key = min((P0) + 16u * u + 2u * t + (k & 1u) + (k >> 1) * 8u, c1 - 1u);      \
            __global const uchar *vr = vbase + (ulong)key * a.v_row_bytes;                    \
            VN[u][k] = tq_ld16(vr);                                                           \
            VQ[u][k] = tq_mma_ld32(vr + TQ_TURBO_QS_OFFSET + 4u * g);                         \
            VS[u][k] = tq_ld16(vr + TQ_TURBO3_SIGNS_OFFSET + 2u * g);                         \
        }

    /* (Loading the next step's words during this one, a software pipeline, measured
     * 2-5% slower on an H100: registers grew, latency was not what limited.) */
    for (uint p0 = c0; p0 < c1; p0 += TQ_MMA_KS) {
        /* ---- the step's V words first, so their loads overlap the scores: value k-step u
         * covers keys p0 + 16u + {2t, 2t+1, 2t+8, 2t+9} for this lane.
         * turbo3 V: the norm goes into P'; q8_0 V: the block scale into the V values
         * (its block changes with the dimension, P' is shared by all dimensions) */
        uint vn_[TQ_MMA_NU][4], vq[TQ_MMA_NU][4], vs[TQ_MMA_NU][4];
        uint vw[TQ_MMA_NU][4][4];
        float vn[TQ_MMA_NU][4];
        float vmax = 0.0f;
        if (vq8) {
            TQ_MMA_UNROLL
            for (uint u = 0; u < TQ_MMA_NU; u++)
                TQ_MMA_UNROLL
                for (uint k = 0; k < 4u; k++) {
                    uint key = min(p0 + 16u * u + 2u * t + (k & 1u) + (k >> 1) * 8u, c1 - 1u);
                    __global const uchar *blk = vbase + (ulong)key * a.v_row_bytes +
                                                (g >> 1) * TQ_Q8_0_BLOCK_BYTES;
                    vs[u][k] = tq_ld16(blk);
                    TQ_MMA_UNROLL
                    for (uint i = 0; i < 4u; i++)
                        vw[u][k][i] = tq_mma_ld32(blk + 2u + 16u * (g & 1u) + 4u * i);
                    vn[u][k] = 1.0f;
                }
            vmax = 1.0f;
        } else {
            TQ_MMA_LOAD_V(p0, vn_, vq, vs)
            TQ_MMA_UNROLL
            for (uint u = 0; u < TQ_MMA_NU; u++)
                TQ_MMA_UNROLL
                for (uint k = 0; k < 4u; k++) {
                    vn[u][k] = tq_mma_f16(vn_[u][k]);
                    vmax = fmax(vmax, fabs(vn[u][k]));
                }
        }
        /* ---- scores: tile j holds keys p0 + 8j .. p0 + 8j + 7; this lane decoded key 8j + g */
        float sc[TQ_MMA_NT][2];
        if (kq8) {
            /* q8_0 K: the int8 values are exact in fp16 (no lo part); one partial score
             * per 32-element block, times that block's scale of each key */
            TQ_MMA_UNROLL
            for (uint j = 0; j < TQ_MMA_NT; j++) {
                uint key = min(p0 + 8u * j + g, c1 - 1u);
                __global const uchar *kr = kbase + (ulong)key * a.k_row_bytes;
                uint w[8];
                float ksc[4];
                TQ_MMA_UNROLL
                for (uint b = 0; b < 4u; b++) {
                    __global const uchar *blk = kr + b * TQ_Q8_0_BLOCK_BYTES;
                    ksc[b] = tq_h2f(blk);
                    w[2u * b] = tq_mma_ld32(blk + 2u + 4u * t);
                    w[2u * b + 1u] = tq_mma_ld32(blk + 18u + 4u * t);
                }
                float s0 = 0.0f, s1 = 0.0f;
                TQ_MMA_UNROLL
                for (uint b = 0; b < 4u; b++) {
                    float c[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
                    TQ_MMA_UNROLL
                    for (uint h = 0; h < 2u; h++) {
                        uint ks = 2u * b + h, x = w[ks];
                        TQ_MMA(c, QA(ks, 0), QA(ks, 1), QA(ks, 2), QA(ks, 3), tq_mma_i8x2(x),
                               tq_mma_i8x2(x >> 16));
                    }
                    s0 = fma(c[0] + c[2], TQ_SHFLF(ksc[b], 8u * t), s0);
                    s1 = fma(c[1] + c[3], TQ_SHFLF(ksc[b], 8u * t + 4u), s1);
                }
                uint p = p0 + 8u * j + 2u * t;
                float x0 = s0 * rowfac, x1 = s1 * rowfac;
                if (a.softcap > 0.0f) {
                    x0 = a.softcap * tanh(x0 / a.softcap);
                    x1 = a.softcap * tanh(x1 / a.softcap);
                }
                sc[j][0] = p < lim ? x0 : -INFINITY;
                sc[j][1] = p + 1u < lim ? x1 : -INFINITY;
            }
        } else {
            uint kn_[TQ_MMA_NT], kq0[TQ_MMA_NT], kq1[TQ_MMA_NT], ksg[TQ_MMA_NT];
            TQ_MMA_LOAD_K(p0, kn_, kq0, kq1, ksg)
            /* turbo3 K: four independent mma chains (one per tile), hi and lo products in
             * the same one */
            float ch[TQ_MMA_NT][4];
            TQ_MMA_UNROLL
            for (uint j = 0; j < TQ_MMA_NT; j++)
                TQ_MMA_UNROLL
                for (uint i = 0; i < 4u; i++)
                    ch[j][i] = 0.0f;
            TQ_MMA_UNROLL
            for (uint ks = 0; ks < 8u; ks++)
                TQ_MMA_UNROLL
                for (uint j = 0; j < TQ_MMA_NT; j++) {
                    uint qb = ((ks < 4u ? kq0[j] : kq1[j]) >> (8u * (ks & 3u))) & 0xffu;
                    uint sb = (ksg[j] >> (4u * ks)) & 15u;
                    uint i0 = (((qb & 15u) | ((sb & 3u) << 4)) << 5) | lane;
                    uint i1 = (((qb >> 4) | ((sb & 12u) << 2)) << 5) | lane;
                    uint q0 = QA(ks, 0), q1 = QA(ks, 1), q2 = QA(ks, 2), q3 = QA(ks, 3);
                    TQ_MMA(ch[j], q0, q1, q2, q3, lut_hi[i0], lut_hi[i1]);
                    TQ_MMA(ch[j], q0, q1, q2, q3, lut_lo[i0], lut_lo[i1]);
                }
            TQ_MMA_UNROLL
            for (uint j = 0; j < TQ_MMA_NT; j++) {
                /* keys 8j + 2t and 8j + 2t + 1: their norms from the lanes that read them */
                float kn = tq_mma_f16(kn_[j]);
                float n0 = TQ_SHFLF(kn, 8u * t), n1 = TQ_SHFLF(kn, 8u * t + 4u);
                uint p = p0 + 8u * j + 2u * t;
                float x0 = (ch[j][0] + ch[j][2]) * n0 * rowfac;
                float x1 = (ch[j][1] + ch[j][3]) * n1 * rowfac;
                if (a.softcap > 0.0f) {
                    x0 = a.softcap * tanh(x0 / a.softcap);
                    x1 = a.softcap * tanh(x1 / a.softcap);
                }
                sc[j][0] = p < lim ? x0 : -INFINITY;
                sc[j][1] = p + 1u < lim ? x1 : -INFINITY;
            }
        }
        /* ---- online softmax of row g over the step (its 4 lanes t hold 8 keys each) */
        float mx = -INFINITY;
        TQ_MMA_UNROLL
        for (uint j = 0; j < TQ_MMA_NT; j++)
            mx = fmax(mx, fmax(sc[j][0], sc[j][1]));
        mx = fmax(mx, TQ_XORF(mx, 1u));
        mx = fmax(mx, TQ_XORF(mx, 2u));
        float mnew = fmax(mrow, mx);
        float alpha = mrow == -INFINITY ? 0.0f : exp(mrow - mnew);
        mrow = mnew;
        float lsum = 0.0f;
        TQ_MMA_UNROLL
        for (uint j = 0; j < TQ_MMA_NT; j++)
            TQ_MMA_UNROLL
            for (uint i = 0; i < 2u; i++) {
                float x = sc[j][i];
                float pr = x == -INFINITY ? 0.0f : exp(x - mnew);
                sc[j][i] = pr;
                lsum += pr;
            }
        lrow = lrow * alpha + lsum;

        /* ---- values (their words were loaded at the top of the step) */
        TQ_MMA_UNROLL
        for (uint m = 1u; m < 32u; m <<= 1)
            vmax = fmax(vmax, TQ_XORF(vmax, m));
        if (!(vmax > 0.0f) || isinf(vmax))
            vmax = vref;
        /* O^T columns 2t, 2t+1 are query rows 2t, 2t+1: their alpha from lanes 8t, 8t + 4 */
        float a0 = TQ_SHFLF(alpha, 8u * t), a1 = TQ_SHFLF(alpha, 8u * t + 4u);
        float rs = vref / vmax;
        a0 *= rs;
        a1 *= rs;
        TQ_MMA_UNROLL
        for (uint m = 0; m < 8u; m++) {
            o[m][0] *= a0;
            o[m][1] *= a1;
            o[m][2] *= a0;
            o[m][3] *= a1;
        }
        vref = vmax;
        const float pf = TQ_MMA_PSCALE / vmax;
        TQ_MMA_UNROLL
        for (uint u = 0; u < TQ_MMA_NU; u++) {
            uint b0 = tq_mma_h2(sc[2u * u][0] * vn[u][0] * pf, sc[2u * u][1] * vn[u][1] * pf);
            uint b1 = tq_mma_h2(sc[2u * u + 1u][0] * vn[u][2] * pf,
                                sc[2u * u + 1u][1] * vn[u][3] * pf);
            TQ_MMA_UNROLL
            for (uint m = 0; m < 8u; m++) {
                uint l[4];
                if (vq8) {
                    /* dimensions 16g + 2m, +1 of key k: bytes 2m, 2m+1 of its 16 */
                    TQ_MMA_UNROLL
                    for (uint k = 0; k < 4u; k++) {
                        uint x = vw[u][k][m >> 1] >> (16u * (m & 1u));
                        float vsk = tq_mma_f16(vs[u][k]);
                        l[k] = tq_mma_h2((float)(char)(x & 0xffu) * vsk,
                                         (float)(char)((x >> 8) & 0xffu) * vsk);
                    }
                } else {
                    TQ_MMA_UNROLL
                    for (uint k = 0; k < 4u; k++) {
                        uint e = ((vq[u][k] >> (4u * m)) & 15u) |
                                 (((vs[u][k] >> (2u * m)) & 3u) << 4);
                        l[k] = lut_hi[(e << 5) | lane];
                    }
                }
                uint va0 = tq_mma_prmt(l[0], l[1], 0x5410u), va1 = tq_mma_prmt(l[0], l[1], 0x7632u);
                uint va2 = tq_mma_prmt(l[2], l[3], 0x5410u), va3 = tq_mma_prmt(l[2], l[3], 0x7632u);
                TQ_MMA(o[m], va0, va1, va2, va3, b0, b1);
            }
        }
    }

    /* ---- this warp's partial: o (dimension 16g + 2m + (i >> 1), row 2t + (i & 1)), m, l */
    lrow += TQ_XORF(lrow, 1u);
    lrow += TQ_XORF(lrow, 2u);
    const float of = vref / TQ_MMA_PSCALE;
    const uint dv = a.dv;
    TQ_MMA_UNROLL
    for (uint i = 0; i < 4u; i++) {
        uint r = 2u * t + (i & 1u);
        if (r >= nqt)
            continue;
        uint qid = q_first + r;
        uint tok = qid / a.group, h = kvh * a.group + qid % a.group;
        ulong pi = (((ulong)s * a.n_q + tok) * a.n_head + h) * a.n_split + pw;
        TQ_MMA_UNROLL
        for (uint m = 0; m < 8u; m++)
            part[pi * (dv + 2u) + 16u * g + 2u * m + (i >> 1)] = o[m][i] * of;
    }
    if (t == 0u && g < nqt) {
        uint qid = q_first + g;
        uint tok = qid / a.group, h = kvh * a.group + qid % a.group;
        ulong pi = (((ulong)s * a.n_q + tok) * a.n_head + h) * a.n_split + pw;
        part[pi * (dv + 2u) + dv] = mrow;
        part[pi * (dv + 2u) + dv + 1u] = lrow;
    }
}

/* global = (n_split / warps * lsz, n_kv_head * n_qtile, n_seq), local = (lsz, 1, 1) with
 * lsz = 32 * warps (emulation: 32). n_qtile counts tiles of 8 query rows; a.chunk keys
 * per warp (a multiple of 32); a.n_split = partials = work-groups * warps. */
#define TQ_MMA_KERNEL(NAME, KQ8, VQ8)                                                         \
    __kernel void NAME(__global const uchar *qbuf, ulong q_off, __global const uchar *kbuf,   \
                       ulong k_off, __global const uchar *vbuf, ulong v_off,                  \
                       __global float *part, const tq_attn_args a, __local uint *lut,         \
                       __local float *lq TQ_MMA_XS_ARG)                                       \
    {                                                                                         \
        tq_attention_mma_body(qbuf, q_off, kbuf, k_off, vbuf, v_off, part, a, lut,            \
                              lq TQ_MMA_XS, KQ8, VQ8);                                        \
    }
TQ_MMA_KERNEL(tq_attention_mma, false, false)   /* turbo3 K, turbo3 V */
TQ_MMA_KERNEL(tq_attention_mma_q8q8, true, true)
TQ_MMA_KERNEL(tq_attention_mma_q8t3, true, false)
TQ_MMA_KERNEL(tq_attention_mma_t3q8, false, true)
