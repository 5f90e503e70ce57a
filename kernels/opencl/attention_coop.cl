/*
 * attention_coop.cl: the bandwidth-oriented attention kernel ("split-k-coop").
 *
 * One work-group per (context split, kv head x tile of TQ_CL_QD = 4 queries, sequence):
 * with GQA 4 (32/8 heads) a decode token's whole group shares every K/V block read, and
 * each block is decoded once for the 4 queries (float4 over the queries).
 *
 * Scores: a team of T work-items (a power of two, from the host) shares each key: work-item
 * tl of a team owns the 8-element chunks c = tl, tl + T (at most two), holds the matching
 * query values in registers (rotated once for a turbo K) and reads its bytes of the key
 * with 16-bit loads (every block format keeps 8-element chunks 2-byte aligned; turbo3 blocks
 * are 50 bytes). Consecutive work-items read consecutive bytes of a row. The T partial
 * dot products are summed through local memory (no sub-group size is assumed). The block
 * scale / turbo norm multiplies the chunk's dot product, never each element.
 *
 * Softmax: the split's scores stay in local memory (ls[position][query]), so there is one
 * maximum per split and no rescaling while the values are accumulated.
 *
 * Values: dv/4 work-items cover a row 4 dimensions each (coalesced), the work-group holds
 * lsz/(dv/4) key groups that take alternate positions; accumulators and the softmax sum
 * stay in registers and key groups are added once at the end. A turbo V stays in the
 * rotated domain; tq_attention_reduce (attention.cl) merges the splits and applies the
 * inverse rotation once.
 *
 * Local memory: lred (the partial-dot exchange, also used for staging q and merging the
 * key groups): T * (TS * QD + 4) floats; ls: chunk * QD floats. The host sizes both.
 */

#if TQ_CL_QD != 4
#error "attention_coop.cl computes over exactly 4 queries (float4)"
#endif

inline float tq_dot8(float8 k, float8 q)
{
    return dot(k.lo, q.lo) + dot(k.hi, q.hi);
}

inline float8 tq_cb8(__local const float *cb, uint i0, uint i1, uint i2, uint i3, uint i4, uint i5,
                     uint i6, uint i7)
{
    return (float8)(cb[i0], cb[i1], cb[i2], cb[i3], cb[i4], cb[i5], cb[i6], cb[i7]);
}

/* Elements 8c .. 8c+7 of a K row, and the scale that multiplies them. */
inline float8 tq_k_chunk(uint type, __global const uchar *kr, uint c, __local const float *cb,
                         float *scale)
{
    switch (type) {
    case TQ_TYPE_ID_F32:
        *scale = 1.0f;
        return vload8(c, (__global const float *)kr);
    case TQ_TYPE_ID_F16:
        *scale = 1.0f;
        return vload_half8(c, (__global const half *)kr);
    case TQ_TYPE_ID_Q8_0: {
        __global const uchar *b = kr + (c / 4u) * TQ_Q8_0_BLOCK_BYTES;
        ushort4 u = vload4(0, (__global const ushort *)(b + 2u + 8u * (c % 4u)));
        *scale = tq_h2f(b);
        return convert_float8(as_char8(u));
    }
    case TQ_TYPE_ID_Q4_0: {
        __global const uchar *b = kr + (c / 4u) * TQ_Q4_0_BLOCK_BYTES;
        uint m = c % 4u;
        ushort4 u = vload4(0, (__global const ushort *)(b + 2u + 8u * (m & 1u)));
        uchar8 nib = (as_uchar8(u) >> (uchar)(4u * (m >> 1))) & (uchar)15;
        *scale = tq_h2f(b);
        return convert_float8(nib) - 8.0f;
    }
    case TQ_TYPE_ID_TURBO2: {
        __global const uchar *b = kr + (c / 16u) * TQ_TURBO2_BLOCK_BYTES;
        uint w = tq_ld16(b + TQ_TURBO_QS_OFFSET + 2u * (c % 16u));
        *scale = tq_h2f(b);
        return tq_cb8(cb, w & 3u, (w >> 2) & 3u, (w >> 4) & 3u, (w >> 6) & 3u, (w >> 8) & 3u,
                      (w >> 10) & 3u, (w >> 12) & 3u, w >> 14);
    }
    case TQ_TYPE_ID_TURBO3: {
        __global const uchar *b = kr + (c / 16u) * TQ_TURBO3_BLOCK_BYTES;
        uint m = c % 16u;
        uint w = tq_ld16(b + TQ_TURBO_QS_OFFSET + 2u * m);
        uint h = (uint)b[TQ_TURBO3_SIGNS_OFFSET + m] << 2;
        *scale = tq_h2f(b);
        return tq_cb8(cb, (w & 3u) | (h & 4u), ((w >> 2) & 3u) | ((h >> 1) & 4u),
                      ((w >> 4) & 3u) | ((h >> 2) & 4u), ((w >> 6) & 3u) | ((h >> 3) & 4u),
                      ((w >> 8) & 3u) | ((h >> 4) & 4u), ((w >> 10) & 3u) | ((h >> 5) & 4u),
                      ((w >> 12) & 3u) | ((h >> 6) & 4u), (w >> 14) | ((h >> 7) & 4u));
    }
    default: { /* turbo4 */
        __global const uchar *b = kr + (c / 16u) * TQ_TURBO4_BLOCK_BYTES;
        __global const uchar *p = b + TQ_TURBO_QS_OFFSET + 4u * (c % 16u);
        uint w = tq_ld16(p) | (tq_ld16(p + 2u) << 16);
        *scale = tq_h2f(b);
        return tq_cb8(cb, w & 15u, (w >> 4) & 15u, (w >> 8) & 15u, (w >> 12) & 15u,
                      (w >> 16) & 15u, (w >> 20) & 15u, (w >> 24) & 15u, w >> 28);
    }
    }
}

/* Elements 4*c4 .. 4*c4+3 of a V row (dequantized; turbo: rotated domain). */
inline float4 tq_v_quad(uint type, __global const uchar *vr, uint c4, __local const float *cb)
{
    const uint e0 = 4u * c4;
    switch (type) {
    case TQ_TYPE_ID_F32:
        return vload4(c4, (__global const float *)vr);
    case TQ_TYPE_ID_F16:
        return vload_half4(c4, (__global const half *)vr);
    case TQ_TYPE_ID_Q8_0: {
        __global const uchar *b = vr + (e0 / TQ_QK8_0) * TQ_Q8_0_BLOCK_BYTES;
        ushort2 u = vload2(0, (__global const ushort *)(b + 2u + e0 % TQ_QK8_0));
        return convert_float4(as_char4(u)) * tq_h2f(b);
    }
    case TQ_TYPE_ID_Q4_0: {
        __global const uchar *b = vr + (e0 / TQ_QK4_0) * TQ_Q4_0_BLOCK_BYTES;
        uint j = e0 % TQ_QK4_0;
        ushort2 u = vload2(0, (__global const ushort *)(b + 2u + (j % (TQ_QK4_0 / 2))));
        uchar4 nib = (as_uchar4(u) >> (uchar)(j < TQ_QK4_0 / 2 ? 0u : 4u)) & (uchar)15;
        return (convert_float4(nib) - 8.0f) * tq_h2f(b);
    }
    case TQ_TYPE_ID_TURBO2: {
        __global const uchar *b = vr + (e0 / TQ_TURBO_GROUP) * TQ_TURBO2_BLOCK_BYTES;
        uint w = b[TQ_TURBO_QS_OFFSET + (e0 % TQ_TURBO_GROUP) / 4u];
        return (float4)(cb[w & 3u], cb[(w >> 2) & 3u], cb[(w >> 4) & 3u], cb[w >> 6]) * tq_h2f(b);
    }
    case TQ_TYPE_ID_TURBO3: {
        __global const uchar *b = vr + (e0 / TQ_TURBO_GROUP) * TQ_TURBO3_BLOCK_BYTES;
        uint g = e0 % TQ_TURBO_GROUP;
        uint w = b[TQ_TURBO_QS_OFFSET + g / 4u];
        uint h = ((uint)b[TQ_TURBO3_SIGNS_OFFSET + g / 8u] >> (g % 8u)) << 2;
        return (float4)(cb[(w & 3u) | (h & 4u)], cb[((w >> 2) & 3u) | ((h >> 1) & 4u)],
                        cb[((w >> 4) & 3u) | ((h >> 2) & 4u)], cb[(w >> 6) | ((h >> 3) & 4u)]) *
               tq_h2f(b);
    }
    default: { /* turbo4 */
        __global const uchar *b = vr + (e0 / TQ_TURBO_GROUP) * TQ_TURBO4_BLOCK_BYTES;
        uint w = tq_ld16(b + TQ_TURBO_QS_OFFSET + (e0 % TQ_TURBO_GROUP) / 2u);
        return (float4)(cb[w & 15u], cb[(w >> 4) & 15u], cb[(w >> 8) & 15u], cb[w >> 12]) *
               tq_h2f(b);
    }
    }
}

/* global = (n_split * lsz, n_kv_head * n_qtile, n_seq), local = (lsz, 1, 1); lsz a power
 * of two >= T and >= dv/4. n_qtile counts tiles of 4 queries here. */
__kernel void tq_attention_coop(__global const uchar *qbuf, ulong q_off,
                                __global const uchar *kbuf, ulong k_off,
                                __global const uchar *vbuf, ulong v_off,
                                __global float *part, const tq_attn_args a,
                                __local float *lred, __local float *ls)
{
    __local float lcbk[16], lcbv[16];
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    const uint split = get_group_id(0);
    const uint kvh = get_group_id(1) / a.n_qtile, tile = get_group_id(1) % a.n_qtile;
    const uint s = get_group_id(2);
    const uint dk = a.dk, dv = a.dv, T = a.team, TS = a.tile_s;
    const uint LS = TS * 4u + 4u;               /* lred row per team lane (float4 aligned) */
    const uint q_first = tile * 4u;
    const uint nqt = min(4u, a.group * a.n_q - q_first);
    const uint kt = lid / T, tl = lid % T, KP = lsz / T;
    const uint nch = dk / 8u;

    /* q of the tile into lred, zero beyond d and beyond nqt; rotated for a turbo K. */
    tq_load_q_tile(lred, 4u, dk, nqt, q_first, kvh, s, qbuf, q_off, a, lid, lsz);
    tq_load_codebook(lcbk, a.type_k, lid, lsz);
    tq_load_codebook(lcbv, a.type_v, lid, lsz);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (tq_is_turbo((int)a.type_k)) {
        tq_rotate_local(lred, 4u * dk / TQ_TURBO_GROUP, 0, lid, lsz);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    /* This work-item's chunks of the 4 queries, in registers. */
    const uint c_a = tl, c_b = tl + T;
    const bool has_a = c_a < nch, has_b = c_b < nch;
    float8 qa0 = 0.0f, qa1 = 0.0f, qa2 = 0.0f, qa3 = 0.0f;
    float8 qb0 = 0.0f, qb1 = 0.0f, qb2 = 0.0f, qb3 = 0.0f;
    if (has_a) {
        qa0 = vload8(c_a, lred);
        qa1 = vload8(c_a, lred + dk);
        qa2 = vload8(c_a, lred + 2u * dk);
        qa3 = vload8(c_a, lred + 3u * dk);
    }
    if (has_b) {
        qb0 = vload8(c_b, lred);
        qb1 = vload8(c_b, lred + dk);
        qb2 = vload8(c_b, lred + 2u * dk);
        qb3 = vload8(c_b, lred + 3u * dk);
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* This split's positions, cut short where no query of the tile can see further. */
    const uint c0 = split * a.chunk;
    uint c1 = min(a.n_kv, c0 + a.chunk);
    if (a.causal) {
        uint last_tok = (q_first + nqt - 1u) / a.group;
        c1 = min(c1, a.q_pos0 + last_tok + 1u);
    }
    const uint n = c1 > c0 ? c1 - c0 : 0u;
    const ulong kv_row0 = ((ulong)s * a.n_kv_head + kvh) * a.n_ctx + c0;
    __global const uchar *kbase = kbuf + k_off + kv_row0 * a.k_row_bytes;
    __global const uchar *vbase = vbuf + v_off + kv_row0 * a.v_row_bytes;
    const uint myq = lid % 4u;                   /* lsz % 4 == 0: a work-item's query below */
    const uint myqid = q_first + myq;
    float mymax = -INFINITY;

    /* scores, TS positions at a time */
    for (uint t0 = 0; t0 < n; t0 += TS) {
        const uint tn = min(TS, n - t0);
        if (has_a) {
/* Four keys per step, their loads issued before any use, so a work-item keeps several
 * reads in flight (one key at a time left the kernel waiting on memory latency). */
#define TQ_COOP_KDOT(TYPE, JJ, KV, SV, D4)                                                   \
            {                                                                                \
                __global const uchar *kr_ = kbase + (ulong)(t0 + (JJ)) * a.k_row_bytes;       \
                KV = tq_k_chunk(TYPE, kr_, c_a, lcbk, &SV);                                  \
            }
#define TQ_COOP_KUSE(TYPE, JJ, KV, SV)                                                       \
            {                                                                                \
                float4 d4 = (float4)(tq_dot8(KV, qa0), tq_dot8(KV, qa1), tq_dot8(KV, qa2),   \
                                     tq_dot8(KV, qa3)) * SV;                                 \
                if (has_b) {                                                                 \
                    __global const uchar *kr_ = kbase + (ulong)(t0 + (JJ)) * a.k_row_bytes;   \
                    float sb_;                                                               \
                    float8 kb_ = tq_k_chunk(TYPE, kr_, c_b, lcbk, &sb_);                     \
                    d4 += (float4)(tq_dot8(kb_, qb0), tq_dot8(kb_, qb1), tq_dot8(kb_, qb2),  \
                                   tq_dot8(kb_, qb3)) * sb_;                                 \
                }                                                                            \
                vstore4(d4, 0, lred + tl * LS + (JJ) * 4u);                                  \
            }
#define TQ_COOP_KLOOP(TYPE)                                                                  \
            {                                                                                \
                uint jj = kt;                                                                \
                for (; jj + 3u * KP < tn; jj += 4u * KP) {                                   \
                    float8 k0, k1, k2, k3;                                                   \
                    float s0, s1, s2, s3;                                                    \
                    TQ_COOP_KDOT(TYPE, jj, k0, s0, 0)                                        \
                    TQ_COOP_KDOT(TYPE, jj + KP, k1, s1, 0)                                   \
                    TQ_COOP_KDOT(TYPE, jj + 2u * KP, k2, s2, 0)                              \
                    TQ_COOP_KDOT(TYPE, jj + 3u * KP, k3, s3, 0)                              \
                    TQ_COOP_KUSE(TYPE, jj, k0, s0)                                           \
                    TQ_COOP_KUSE(TYPE, jj + KP, k1, s1)                                      \
                    TQ_COOP_KUSE(TYPE, jj + 2u * KP, k2, s2)                                 \
                    TQ_COOP_KUSE(TYPE, jj + 3u * KP, k3, s3)                                 \
                }                                                                            \
                for (; jj < tn; jj += KP) {                                                  \
                    float8 k0;                                                               \
                    float s0;                                                                \
                    TQ_COOP_KDOT(TYPE, jj, k0, s0, 0)                                        \
                    TQ_COOP_KUSE(TYPE, jj, k0, s0)                                           \
                }                                                                            \
            }
            /* one loop per type so the decode is specialised inside the hot loop */
            switch (a.type_k) {
            case TQ_TYPE_ID_F32: TQ_COOP_KLOOP(TQ_TYPE_ID_F32) break;
            case TQ_TYPE_ID_F16: TQ_COOP_KLOOP(TQ_TYPE_ID_F16) break;
            case TQ_TYPE_ID_Q8_0: TQ_COOP_KLOOP(TQ_TYPE_ID_Q8_0) break;
            case TQ_TYPE_ID_Q4_0: TQ_COOP_KLOOP(TQ_TYPE_ID_Q4_0) break;
            case TQ_TYPE_ID_TURBO2: TQ_COOP_KLOOP(TQ_TYPE_ID_TURBO2) break;
            case TQ_TYPE_ID_TURBO3: TQ_COOP_KLOOP(TQ_TYPE_ID_TURBO3) break;
            default: TQ_COOP_KLOOP(TQ_TYPE_ID_TURBO4) break;
            }
#undef TQ_COOP_KLOOP
#undef TQ_COOP_KUSE
#undef TQ_COOP_KDOT
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint p = lid; p < tn * 4u; p += lsz) {
            float s0 = 0.0f, s1 = 0.0f;
            uint i = 0;
            for (; i + 1u < T; i += 2u) {
                s0 += lred[i * LS + p];
                s1 += lred[(i + 1u) * LS + p];
            }
            if (i < T)
                s0 += lred[i * LS + p];
            float sum = s0 + s1;
            uint j = c0 + t0 + p / 4u;
            float sc = sum * a.scale;
            if (a.softcap > 0.0f)
                sc = a.softcap * tanh(sc / a.softcap);
            if (myq >= nqt || (a.causal && j > a.q_pos0 + myqid / a.group))
                sc = -INFINITY;
            ls[t0 * 4u + p] = sc;
            mymax = fmax(mymax, sc);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    /* one maximum per query for the whole split */
    lred[lid] = mymax;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < 4u) {
        float mx = -INFINITY;
        for (uint i = lid; i < lsz; i += 4u)
            mx = fmax(mx, lred[i]);
        lred[lsz + lid] = mx;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const float4 m4 = vload4(0, lred + lsz);
    const float mq = myq == 0u ? m4.x : myq == 1u ? m4.y : myq == 2u ? m4.z : m4.w;
    for (uint i = lid; i < n * 4u; i += lsz) {
        float sc = ls[i];
        ls[i] = sc == -INFINITY ? 0.0f : exp(sc - mq);
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* values */
    const uint tpe = dv / 4u, kg_n = lsz / tpe, kg = lid / tpe, c4 = lid % tpe;
    float4 o0 = 0.0f, o1 = 0.0f, o2 = 0.0f, o3 = 0.0f, l4 = 0.0f;
    if (kg < kg_n) {
        const ulong vrb = a.v_row_bytes;
#define TQ_COOP_VACC(P4, V)                                                                  \
        {                                                                                    \
            const float4 p_ = (P4);                                                          \
            o0 = fma((float4)(p_.x), V, o0);                                                 \
            o1 = fma((float4)(p_.y), V, o1);                                                 \
            o2 = fma((float4)(p_.z), V, o2);                                                 \
            o3 = fma((float4)(p_.w), V, o3);                                                 \
            l4 += p_;                                                                        \
        }
        /* eight positions per step, loads first: memory-level parallelism is what this
         * loop needs (four per step still left it waiting on latency on an H100) */
#define TQ_COOP_VLOOP(TYPE)                                                                  \
        {                                                                                    \
            uint j = kg;                                                                     \
            const ulong st_ = kg_n * vrb;                                                    \
            for (; j + 7u * kg_n < n; j += 8u * kg_n) {                                      \
                __global const uchar *r_ = vbase + (ulong)j * vrb;                           \
                float4 v0 = tq_v_quad(TYPE, r_, c4, lcbv);                                   \
                float4 v1 = tq_v_quad(TYPE, r_ + st_, c4, lcbv);                             \
                float4 v2 = tq_v_quad(TYPE, r_ + 2u * st_, c4, lcbv);                        \
                float4 v3 = tq_v_quad(TYPE, r_ + 3u * st_, c4, lcbv);                        \
                float4 v4 = tq_v_quad(TYPE, r_ + 4u * st_, c4, lcbv);                        \
                float4 v5 = tq_v_quad(TYPE, r_ + 5u * st_, c4, lcbv);                        \
                float4 v6 = tq_v_quad(TYPE, r_ + 6u * st_, c4, lcbv);                        \
                float4 v7 = tq_v_quad(TYPE, r_ + 7u * st_, c4, lcbv);                        \
                TQ_COOP_VACC(vload4(j, ls), v0)                                              \
                TQ_COOP_VACC(vload4(j + kg_n, ls), v1)                                       \
                TQ_COOP_VACC(vload4(j + 2u * kg_n, ls), v2)                                  \
                TQ_COOP_VACC(vload4(j + 3u * kg_n, ls), v3)                                  \
                TQ_COOP_VACC(vload4(j + 4u * kg_n, ls), v4)                                  \
                TQ_COOP_VACC(vload4(j + 5u * kg_n, ls), v5)                                  \
                TQ_COOP_VACC(vload4(j + 6u * kg_n, ls), v6)                                  \
                TQ_COOP_VACC(vload4(j + 7u * kg_n, ls), v7)                                  \
            }                                                                                \
            for (; j < n; j += kg_n) {                                                       \
                float4 v0 = tq_v_quad(TYPE, vbase + (ulong)j * vrb, c4, lcbv);               \
                float4 p0 = vload4(j, ls);                                                   \
                TQ_COOP_VACC(p0, v0)                                                         \
            }                                                                                \
        }
        /* one loop per type so the decode is specialised inside the hot loop */
        switch (a.type_v) {
        case TQ_TYPE_ID_F32: TQ_COOP_VLOOP(TQ_TYPE_ID_F32) break;
        case TQ_TYPE_ID_F16: TQ_COOP_VLOOP(TQ_TYPE_ID_F16) break;
        case TQ_TYPE_ID_Q8_0: TQ_COOP_VLOOP(TQ_TYPE_ID_Q8_0) break;
        case TQ_TYPE_ID_Q4_0: TQ_COOP_VLOOP(TQ_TYPE_ID_Q4_0) break;
        case TQ_TYPE_ID_TURBO2: TQ_COOP_VLOOP(TQ_TYPE_ID_TURBO2) break;
        case TQ_TYPE_ID_TURBO3: TQ_COOP_VLOOP(TQ_TYPE_ID_TURBO3) break;
        default: TQ_COOP_VLOOP(TQ_TYPE_ID_TURBO4) break;
        }
#undef TQ_COOP_VLOOP
#undef TQ_COOP_VACC
        /* key groups' accumulators: lred[kg][q][dv], then the sums lred[kg_n*4*dv + kg*4 + q] */
        __local float *lo = lred + kg * 4u * dv;
        vstore4(o0, c4, lo);
        vstore4(o1, c4, lo + dv);
        vstore4(o2, c4, lo + 2u * dv);
        vstore4(o3, c4, lo + 3u * dv);
        if (c4 == 0u)
            vstore4(l4, kg, lred + kg_n * 4u * dv);
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* partial results of this split: o[dv], m, l per query */
    for (uint i = lid; i < nqt * dv; i += lsz) {
        uint q = i / dv, e = i % dv;
        float sum = 0.0f;
        for (uint k = 0; k < kg_n; k++)
            sum += lred[(k * 4u + q) * dv + e];
        uint qid = q_first + q;
        uint tok = qid / a.group, h = kvh * a.group + qid % a.group;
        ulong pi = (((ulong)s * a.n_q + tok) * a.n_head + h) * a.n_split + split;
        part[pi * (dv + 2u) + e] = sum;
    }
    if (lid < nqt) {
        float l = 0.0f;
        for (uint k = 0; k < kg_n; k++)
            l += lred[kg_n * 4u * dv + k * 4u + lid];
        uint qid = q_first + lid;
        uint tok = qid / a.group, h = kvh * a.group + qid % a.group;
        ulong pi = (((ulong)s * a.n_q + tok) * a.n_head + h) * a.n_split + split;
        float mx = lid == 0u ? m4.x : lid == 1u ? m4.y : lid == 2u ? m4.z : m4.w;
        part[pi * (dv + 2u) + dv] = mx;
        part[pi * (dv + 2u) + dv + 1u] = l;
    }
}
