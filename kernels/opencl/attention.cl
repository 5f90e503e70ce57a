/*
 * attention.cl: flash-decoding style attention over a KV cache of any K and V types.
 *
 * tq_attention: one work-group per (split of the context, kv head x query tile, sequence).
 * The query tile holds up to TQ_CL_QT queries that read the same kv head (the query heads
 * of a GQA group times the query tokens), so every K/V element is loaded and decoded once
 * for all of them. Per tile of lsz positions:
 *   scores: work-item t owns key position t0 + t and computes its score for every query
 *           (q from local memory, broadcast reads);
 *   softmax: running max / rescale per query (online softmax), probabilities in local;
 *   values: a work-item owns 4 consecutive output dimensions of a key group (rows
 *           j = kg, kg + kg_n, ...) and accumulates p * v for every query; the work-items
 *           of a key group read a V row coalesced, one byte load serving several
 *           elements; the key groups' sums are added once at the end.
 * Each work-group writes an unnormalised partial (o[dv], m, l) to scratch; tq_attention_reduce
 * merges the splits of one (head, token, sequence), normalises, applies the inverse
 * rotation once for a turbo V and writes the first d outputs.
 *
 * Turbo K: q is rotated once per work-group (zero-padded to 128-groups) and dotted with the
 * rotated-domain keys. Turbo V: accumulation stays in the rotated domain.
 */

typedef struct tq_attn_args {
    uint d;           /* head size */
    uint dk;          /* K row elements as stored (padded for turbo) */
    uint dv;          /* V row elements as stored (padded for turbo) */
    uint n_head, n_q, n_kv_head, n_ctx, n_kv;
    uint group;       /* n_head / n_kv_head */
    uint n_qtile;     /* query tiles per kv head */
    uint chunk;       /* positions per split */
    uint n_split;
    uint causal;
    uint q_pos0;
    uint type_k, type_v;
    uint k_row_bytes, v_row_bytes;
    float scale, softcap;
    uint team;        /* split-k-coop: work-items sharing a key (power of two) */
    uint tile_s;      /* split-k-coop: positions scored per round */
} tq_attn_args;

/* Query rows q_first .. q_first + n_rows - 1 of kv head kvh and sequence s into dst, dk
 * floats a row, zero beyond d and beyond the tile's nqt queries (both attention kernels). */
inline void tq_load_q_tile(__local float *dst, uint n_rows, uint dk, uint nqt, uint q_first,
                           uint kvh, uint s, __global const uchar *qbuf, ulong q_off,
                           const tq_attn_args a, uint lid, uint lsz)
{
    for (uint i = lid; i < n_rows * dk; i += lsz) {
        uint q = i / dk, e = i % dk;
        float v = 0.0f;
        if (q < nqt && e < a.d) {
            uint qid = q_first + q;
            uint tok = qid / a.group, h = kvh * a.group + qid % a.group;
            ulong row = (ulong)h + (ulong)a.n_head * ((ulong)tok + (ulong)a.n_q * s);
            v = ((__global const float *)(qbuf + q_off))[row * a.d + e];
        }
        dst[i] = v;
    }
}

/* K dot products of one key row against the tile's queries (acc[q] += <k, q_q>). */
#define TQ_QLOOP(stmt) \
    _Pragma("unroll") for (uint q = 0; q < TQ_CL_QT; q++) { if (q < nqt) { stmt; } }

inline void tq_attn_scores(const tq_attn_args a, __global const uchar *kr, __local const float *lq,
                           __local const float *lcbk, uint nqt, float *acc)
{
    const uint dk = a.dk;
    switch (a.type_k) {
    case TQ_TYPE_ID_F32:
        for (uint e = 0; e < dk; e++) {
            float kv = ((__global const float *)kr)[e];
            TQ_QLOOP(acc[q] = fma(kv, lq[q * dk + e], acc[q]));
        }
        break;
    case TQ_TYPE_ID_F16:
        for (uint e = 0; e < dk; e++) {
            float kv = vload_half(e, (__global const half *)kr);
            TQ_QLOOP(acc[q] = fma(kv, lq[q * dk + e], acc[q]));
        }
        break;
    case TQ_TYPE_ID_Q8_0:
        for (uint b = 0; b < dk / TQ_QK8_0; b++) {
            __global const uchar *blk = kr + b * TQ_Q8_0_BLOCK_BYTES;
            float t[TQ_CL_QT];
            TQ_QLOOP(t[q] = 0.0f);
            for (uint j = 0; j < TQ_QK8_0; j++) {
                float kv = (float)(char)blk[2u + j];
                uint e = b * TQ_QK8_0 + j;
                TQ_QLOOP(t[q] = fma(kv, lq[q * dk + e], t[q]));
            }
            float s = tq_h2f(blk);
            TQ_QLOOP(acc[q] = fma(s, t[q], acc[q]));
        }
        break;
    case TQ_TYPE_ID_Q4_0:
        for (uint b = 0; b < dk / TQ_QK4_0; b++) {
            __global const uchar *blk = kr + b * TQ_Q4_0_BLOCK_BYTES;
            float t[TQ_CL_QT];
            TQ_QLOOP(t[q] = 0.0f);
            for (uint j = 0; j < TQ_QK4_0 / 2; j++) {
                uint byte = blk[2u + j];
                float lo = (float)((int)(byte & 15u) - 8), hi = (float)((int)(byte >> 4) - 8);
                uint e = b * TQ_QK4_0 + j;
                TQ_QLOOP(t[q] = fma(lo, lq[q * dk + e], fma(hi, lq[q * dk + e + TQ_QK4_0 / 2], t[q])));
            }
            float s = tq_h2f(blk);
            TQ_QLOOP(acc[q] = fma(s, t[q], acc[q]));
        }
        break;
    case TQ_TYPE_ID_TURBO2:
        for (uint g = 0; g < dk / TQ_TURBO_GROUP; g++) {
            __global const uchar *blk = kr + g * TQ_TURBO2_BLOCK_BYTES;
            float t[TQ_CL_QT];
            TQ_QLOOP(t[q] = 0.0f);
            for (uint j = 0; j < TQ_TURBO_GROUP / 4; j++) {
                uint byte = blk[TQ_TURBO_QS_OFFSET + j];
                uint e = g * TQ_TURBO_GROUP + 4u * j;
                for (uint k = 0; k < 4u; k++) {
                    float kv = lcbk[(byte >> (2u * k)) & 3u];
                    TQ_QLOOP(t[q] = fma(kv, lq[q * dk + e + k], t[q]));
                }
            }
            float s = tq_h2f(blk);
            TQ_QLOOP(acc[q] = fma(s, t[q], acc[q]));
        }
        break;
    case TQ_TYPE_ID_TURBO3:
        for (uint g = 0; g < dk / TQ_TURBO_GROUP; g++) {
            __global const uchar *blk = kr + g * TQ_TURBO3_BLOCK_BYTES;
            float t[TQ_CL_QT];
            TQ_QLOOP(t[q] = 0.0f);
            for (uint j = 0; j < TQ_TURBO_GROUP / 8; j++) {
                /* 8 elements: two low-bit bytes and one high-bit byte, byte loads only
                 * (blocks are 2-byte aligned). */
                uint lo = blk[TQ_TURBO_QS_OFFSET + 2u * j] | ((uint)blk[TQ_TURBO_QS_OFFSET + 2u * j + 1u] << 8);
                uint hi = blk[TQ_TURBO3_SIGNS_OFFSET + j];
                uint e = g * TQ_TURBO_GROUP + 8u * j;
                for (uint k = 0; k < 8u; k++) {
                    float kv = lcbk[((lo >> (2u * k)) & 3u) | (((hi >> k) & 1u) << 2)];
                    TQ_QLOOP(t[q] = fma(kv, lq[q * dk + e + k], t[q]));
                }
            }
            float s = tq_h2f(blk);
            TQ_QLOOP(acc[q] = fma(s, t[q], acc[q]));
        }
        break;
    default: /* turbo4 */
        for (uint g = 0; g < dk / TQ_TURBO_GROUP; g++) {
            __global const uchar *blk = kr + g * TQ_TURBO4_BLOCK_BYTES;
            float t[TQ_CL_QT];
            TQ_QLOOP(t[q] = 0.0f);
            for (uint j = 0; j < TQ_TURBO_GROUP / 2; j++) {
                uint byte = blk[TQ_TURBO_QS_OFFSET + j];
                uint e = g * TQ_TURBO_GROUP + 2u * j;
                float k0 = lcbk[byte & 15u], k1 = lcbk[byte >> 4];
                TQ_QLOOP(t[q] = fma(k0, lq[q * dk + e], fma(k1, lq[q * dk + e + 1u], t[q])));
            }
            float s = tq_h2f(blk);
            TQ_QLOOP(acc[q] = fma(s, t[q], acc[q]));
        }
        break;
    }
}

/* Element e of V rows j = 0..tn-1 (row stride vrb) accumulated into acc[q] with weights
 * lp[q * lsz + j]. The per-element decode is hoisted out of the position loop. */
#define TQ_VLOOP(VALUE) \
    for (uint j = 0; j < tn; j++) { \
        __global const uchar *row = vb + (ulong)j * vrb; \
        float v = (VALUE); \
        TQ_QLOOP(acc[q] = fma(lp[q * lsz + j], v, acc[q])); \
    }

inline void tq_attn_values(const tq_attn_args a, __global const uchar *vb, uint e, uint tn,
                           uint lsz, __local const float *lp, __local const float *lcbv,
                           uint nqt, float *acc)
{
    const ulong vrb = a.v_row_bytes;
    switch (a.type_v) {
    case TQ_TYPE_ID_F32:
        TQ_VLOOP(((__global const float *)row)[e]);
        break;
    case TQ_TYPE_ID_F16:
        TQ_VLOOP(vload_half(e, (__global const half *)row));
        break;
    case TQ_TYPE_ID_Q8_0: {
        uint off = (e / TQ_QK8_0) * TQ_Q8_0_BLOCK_BYTES;
        uint qo = off + 2u + e % TQ_QK8_0;
        TQ_VLOOP((float)(char)row[qo] * tq_h2f(row + off));
        break;
    }
    case TQ_TYPE_ID_Q4_0: {
        uint off = (e / TQ_QK4_0) * TQ_Q4_0_BLOCK_BYTES;
        uint j0 = e % TQ_QK4_0;
        uint qo = off + 2u + (j0 % (TQ_QK4_0 / 2));
        uint sh = j0 < TQ_QK4_0 / 2 ? 0u : 4u;
        TQ_VLOOP((float)((int)((row[qo] >> sh) & 15u) - 8) * tq_h2f(row + off));
        break;
    }
    case TQ_TYPE_ID_TURBO2: {
        uint off = (e / TQ_TURBO_GROUP) * TQ_TURBO2_BLOCK_BYTES;
        uint j0 = e % TQ_TURBO_GROUP;
        uint qo = off + TQ_TURBO_QS_OFFSET + j0 / 4u, sh = 2u * (j0 % 4u);
        TQ_VLOOP(lcbv[(row[qo] >> sh) & 3u] * tq_h2f(row + off));
        break;
    }
    case TQ_TYPE_ID_TURBO3: {
        uint off = (e / TQ_TURBO_GROUP) * TQ_TURBO3_BLOCK_BYTES;
        uint j0 = e % TQ_TURBO_GROUP;
        uint qo = off + TQ_TURBO_QS_OFFSET + j0 / 4u, sh = 2u * (j0 % 4u);
        uint so = off + TQ_TURBO3_SIGNS_OFFSET + j0 / 8u, sb = j0 % 8u;
        TQ_VLOOP(lcbv[((row[qo] >> sh) & 3u) | (((row[so] >> sb) & 1u) << 2)] * tq_h2f(row + off));
        break;
    }
    default: { /* turbo4 */
        uint off = (e / TQ_TURBO_GROUP) * TQ_TURBO4_BLOCK_BYTES;
        uint j0 = e % TQ_TURBO_GROUP;
        uint qo = off + TQ_TURBO_QS_OFFSET + j0 / 2u, sh = 4u * (j0 % 2u);
        TQ_VLOOP(lcbv[(row[qo] >> sh) & 15u] * tq_h2f(row + off));
        break;
    }
    }
}

/* The 4-wide form: a work-item owns 4 consecutive output dimensions (4*c4 .. 4*c4+3) and
 * the rows j = j0, j0 + jstep, ... < tn, so one byte load serves several elements (a
 * turbo2 qs byte is exactly 4 indices) and a group of work-items reads a row coalesced. */
#define TQ_VLOOP4(VALUE4) \
    for (uint j = j0; j < tn; j += jstep) { \
        __global const uchar *row = vb + (ulong)j * vrb; \
        float4 v = (VALUE4); \
        TQ_QLOOP(acc[q] = fma((float4)(lp[q * lsz + j]), v, acc[q])); \
    }

inline float4 tq_cbv4(__local const float *cb, uint i0, uint i1, uint i2, uint i3)
{
    return (float4)(cb[i0], cb[i1], cb[i2], cb[i3]);
}

inline void tq_attn_values4(const tq_attn_args a, __global const uchar *vb, uint c4, uint j0,
                            uint jstep, uint tn, uint lsz, __local const float *lp,
                            __local const float *lcbv, uint nqt, float4 *acc)
{
    const ulong vrb = a.v_row_bytes;
    const uint e0 = 4u * c4;
    switch (a.type_v) {
    case TQ_TYPE_ID_F32:
        TQ_VLOOP4(vload4(c4, (__global const float *)row));
        break;
    case TQ_TYPE_ID_F16:
        TQ_VLOOP4(vload_half4(c4, (__global const half *)row));
        break;
    case TQ_TYPE_ID_Q8_0: {
        uint off = (e0 / TQ_QK8_0) * TQ_Q8_0_BLOCK_BYTES;
        uint qo = off + 2u + e0 % TQ_QK8_0;
        TQ_VLOOP4(convert_float4(vload4(0, (__global const char *)(row + qo))) * tq_h2f(row + off));
        break;
    }
    case TQ_TYPE_ID_Q4_0: {
        uint off = (e0 / TQ_QK4_0) * TQ_Q4_0_BLOCK_BYTES;
        uint j = e0 % TQ_QK4_0;
        uint qo = off + 2u + (j % (TQ_QK4_0 / 2));
        uint sh = j < TQ_QK4_0 / 2 ? 0u : 4u;
        TQ_VLOOP4((convert_float4(convert_int4((vload4(0, row + qo) >> (uchar)sh) & (uchar)15)) - 8.0f)
                  * tq_h2f(row + off));
        break;
    }
    case TQ_TYPE_ID_TURBO2: {
        uint off = (e0 / TQ_TURBO_GROUP) * TQ_TURBO2_BLOCK_BYTES;
        uint qo = off + TQ_TURBO_QS_OFFSET + (e0 % TQ_TURBO_GROUP) / 4u;
        TQ_VLOOP4(tq_cbv4(lcbv, row[qo] & 3u, (row[qo] >> 2) & 3u, (row[qo] >> 4) & 3u,
                         row[qo] >> 6) * tq_h2f(row + off));
        break;
    }
    case TQ_TYPE_ID_TURBO3: {
        uint off = (e0 / TQ_TURBO_GROUP) * TQ_TURBO3_BLOCK_BYTES;
        uint g = e0 % TQ_TURBO_GROUP;
        uint qo = off + TQ_TURBO_QS_OFFSET + g / 4u;
        uint so = off + TQ_TURBO3_SIGNS_OFFSET + g / 8u, sb = g % 8u;
        TQ_VLOOP4(tq_cbv4(lcbv, (row[qo] & 3u) | (((row[so] >> sb) & 1u) << 2),
                         ((row[qo] >> 2) & 3u) | (((row[so] >> (sb + 1u)) & 1u) << 2),
                         ((row[qo] >> 4) & 3u) | (((row[so] >> (sb + 2u)) & 1u) << 2),
                         (row[qo] >> 6) | (((row[so] >> (sb + 3u)) & 1u) << 2))
                  * tq_h2f(row + off));
        break;
    }
    default: { /* turbo4 */
        uint off = (e0 / TQ_TURBO_GROUP) * TQ_TURBO4_BLOCK_BYTES;
        uint qo = off + TQ_TURBO_QS_OFFSET + (e0 % TQ_TURBO_GROUP) / 2u;
        TQ_VLOOP4(tq_cbv4(lcbv, row[qo] & 15u, row[qo] >> 4, row[qo + 1u] & 15u, row[qo + 1u] >> 4)
                  * tq_h2f(row + off));
        break;
    }
    }
}

inline void tq_load_codebook(__local float *cb, uint type, uint lid, uint lsz)
{
    if (!tq_is_turbo((int)type))
        return;
    uint bits = tq_turbo_bits((int)type);
    for (uint i = lid; i < (1u << bits); i += lsz)
        cb[i] = tq_centroid(bits, i);
}

/* global = (n_split * lsz, n_kv_head * n_qtile, n_seq), local = (lsz, 1, 1).
 * Local: lq[QT * dk], lp[QT * lsz], lo[kg_n * QT * dv] (kg_n: see the value layout below),
 * lstate[3 * QT] (m, alpha, l).
 * part: per (seq, token, head, split) dv + 2 floats: o[dv], m, l. */
__kernel void tq_attention(__global const uchar *qbuf, ulong q_off,
                           __global const uchar *kbuf, ulong k_off,
                           __global const uchar *vbuf, ulong v_off,
                           __global float *part, const tq_attn_args a,
                           __local float *lq, __local float *lp, __local float *lo,
                           __local float *lstate)
{
    __local float lcbk[16], lcbv[16];
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    const uint split = get_group_id(0);
    const uint kvh = get_group_id(1) / a.n_qtile, tile = get_group_id(1) % a.n_qtile;
    const uint s = get_group_id(2);
    const uint dk = a.dk, dv = a.dv;
    const uint q_first = tile * TQ_CL_QT;                 /* query id = token * group + head in group */
    const uint nqt = min((uint)TQ_CL_QT, a.group * a.n_q - q_first);
    __local float *lm = lstate, *lalpha = lstate + TQ_CL_QT, *ll = lstate + 2 * TQ_CL_QT;

    /* Queries of the tile into local memory (zero padding beyond d), rotated for turbo K. */
    tq_load_q_tile(lq, TQ_CL_QT, dk, nqt, q_first, kvh, s, qbuf, q_off, a, lid, lsz);
    tq_load_codebook(lcbk, a.type_k, lid, lsz);
    tq_load_codebook(lcbv, a.type_v, lid, lsz);
    /* Value layout: with dv % 4 == 0, tpe work-items cover a row 4 dimensions each and
     * the work-group holds kg_n key groups, each with its own accumulators in lo
     * ([kg][query][dv]), summed once at the end; otherwise one dimension per work-item. */
    const uint vec4 = dv % 4u == 0u;
    const uint tpe = vec4 ? min(dv / 4u, lsz) : lsz;
    const uint kg_n = vec4 ? lsz / tpe : 1u;
    const uint kg = lid / tpe, vpart = lid % tpe;
    for (uint i = lid; i < kg_n * TQ_CL_QT * dv; i += lsz)
        lo[i] = 0.0f;
    if (lid < TQ_CL_QT) {
        lm[lid] = -INFINITY;
        ll[lid] = 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (tq_is_turbo((int)a.type_k)) {
        tq_rotate_local(lq, TQ_CL_QT * dk / TQ_TURBO_GROUP, 0, lid, lsz);
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    /* This split's positions, cut short where no query of the tile can see further. */
    uint c0 = split * a.chunk;
    uint c1 = min(a.n_kv, c0 + a.chunk);
    if (a.causal) {
        uint last_tok = (q_first + nqt - 1u) / a.group;
        c1 = min(c1, a.q_pos0 + last_tok + 1u);
    }
    const ulong kv_row0 = ((ulong)s * a.n_kv_head + kvh) * a.n_ctx;
    __global const uchar *kbase = kbuf + k_off + kv_row0 * a.k_row_bytes;
    __global const uchar *vbase = vbuf + v_off + kv_row0 * a.v_row_bytes;

    for (uint t0 = c0; t0 < c1; t0 += lsz) {
        const uint tn = min(lsz, c1 - t0);
        /* scores */
        if (lid < tn) {
            uint j = t0 + lid;
            float acc[TQ_CL_QT];
            TQ_QLOOP(acc[q] = 0.0f);
            tq_attn_scores(a, kbase + (ulong)j * a.k_row_bytes, lq, lcbk, nqt, acc);
            TQ_QLOOP(
                float sc = acc[q] * a.scale;
                if (a.softcap > 0.0f)
                    sc = a.softcap * tanh(sc / a.softcap);
                if (a.causal && j > a.q_pos0 + (q_first + q) / a.group)
                    sc = -INFINITY;
                lp[q * lsz + lid] = sc);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* running max and rescale factor per query */
        if (lid < nqt) {
            float mx = -INFINITY;
            for (uint j = 0; j < tn; j++)
                mx = fmax(mx, lp[lid * lsz + j]);
            float m_old = lm[lid];
            float m_new = fmax(m_old, mx);
            lalpha[lid] = m_new == -INFINITY ? 1.0f : exp(m_old - m_new);
            lm[lid] = m_new;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* probabilities */
        if (lid < tn) {
            /* A plain loop here: PoCL 3.1 (LLVM 15) lost these in-place local stores when
             * this loop was written as the fully unrolled, guarded TQ_QLOOP. */
            for (uint q = 0; q < nqt; q++) {
                float sc = lp[q * lsz + lid];
                lp[q * lsz + lid] = sc == -INFINITY ? 0.0f : exp(sc - lm[q]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* values */
        __global const uchar *vb = vbase + (ulong)t0 * a.v_row_bytes;
        if (vec4) {
            if (kg < kg_n) {
                __local float *lok = lo + kg * TQ_CL_QT * dv;
                for (uint c4 = vpart; c4 < dv / 4u; c4 += tpe) {
                    float4 acc[TQ_CL_QT];
                    TQ_QLOOP(acc[q] = vload4(c4, lok + q * dv) * lalpha[q]);
                    tq_attn_values4(a, vb, c4, kg, kg_n, tn, lsz, lp, lcbv, nqt, acc);
                    TQ_QLOOP(vstore4(acc[q], c4, lok + q * dv));
                }
            }
        } else {
            for (uint e = lid; e < dv; e += lsz) {
                float acc[TQ_CL_QT];
                TQ_QLOOP(acc[q] = lo[q * dv + e] * lalpha[q]);
                tq_attn_values(a, vb, e, tn, lsz, lp, lcbv, nqt, acc);
                TQ_QLOOP(lo[q * dv + e] = acc[q]);
            }
        }
        if (lid == 0) {
            for (uint q = 0; q < nqt; q++) {
                float sum = 0.0f;
                for (uint j = 0; j < tn; j++)
                    sum += lp[q * lsz + j];
                ll[q] = ll[q] * lalpha[q] + sum;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    /* sum the key groups' accumulators into group 0 */
    if (kg_n > 1u) {
        for (uint i = lid; i < TQ_CL_QT * dv; i += lsz) {
            float sum = lo[i];
            for (uint k = 1; k < kg_n; k++)
                sum += lo[k * TQ_CL_QT * dv + i];
            lo[i] = sum;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    /* partial results of this split */
    for (uint q = 0; q < nqt; q++) {
        uint qid = q_first + q;
        uint tok = qid / a.group, h = kvh * a.group + qid % a.group;
        ulong p = (((ulong)s * a.n_q + tok) * a.n_head + h) * a.n_split + split;
        __global float *dstp = part + p * (dv + 2u);
        for (uint e = lid; e < dv; e += lsz)
            dstp[e] = lo[q * dv + e];
        if (lid == 0) {
            dstp[dv] = lm[q];
            dstp[dv + 1u] = ll[q];
        }
    }
}

/* Merges the splits of one (head, token, sequence): global = (n_head * lsz, n_q, n_seq),
 * lsz a power of two. Local x[dv] (the merged row; the inverse rotation of a turbo V runs
 * on it) and lw[lsz]. The work-items share the splits: a tree maximum, then batches of lsz
 * split weights exp(m_i - max) in lw, each work-item adding its dimensions over a batch
 * (coalesced reads of the partial rows; with lsz >= 2 dv, lsz / dv lanes per dimension
 * take every lane-th split of the batch, 8 reads in flight, and are summed through lw at
 * the end), and a tree sum of the softmax denominators. */
__kernel void tq_attention_reduce(__global const float *part, __global uchar *obuf, ulong o_off,
                                  const tq_attn_args a, __local float *x, __local float *lw)
{
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    const uint h = get_group_id(0), tok = get_group_id(1), s = get_group_id(2);
    const uint dv = a.dv, stride = dv + 2u, ns = a.n_split;
    const ulong p0 = (((ulong)s * a.n_q + tok) * a.n_head + h) * ns;
    __global const float *pp = part + p0 * stride;

    float mx = -INFINITY;
    for (uint i = lid; i < ns; i += lsz)
        mx = fmax(mx, pp[i * stride + dv]);
    lw[lid] = mx;
    for (uint w = lsz / 2u; w > 0u; w /= 2u) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < w)
            lw[lid] = fmax(lw[lid], lw[lid + w]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    mx = lw[0];
    for (uint e = lid; e < dv; e += lsz)
        x[e] = 0.0f;
    float lsum = 0.0f;
    /* with lsz >= 2 dv, nl lanes share each dimension (work-item = lane q, dimension e) */
    const uint nl = lsz / dv, e = lid % dv, q = lid / dv;
    float acc = 0.0f;
    for (uint base = 0; base < ns; base += lsz) {
        barrier(CLK_LOCAL_MEM_FENCE);   /* lw / x of the previous step read */
        uint i = base + lid;
        float w = 0.0f;
        if (i < ns) {
            float m = pp[i * stride + dv];
            if (m != -INFINITY) {
                w = exp(m - mx);
                lsum = fma(pp[i * stride + dv + 1u], w, lsum);
            }
        }
        lw[lid] = w;
        barrier(CLK_LOCAL_MEM_FENCE);
        uint nb = min(lsz, ns - base);
        if (nl > 1u) {
            /* lane q of dimension e adds splits q, q + nl, ... of the batch, 8 loads in
             * flight (one dimension per work-item left the merge waiting on latency) */
            if (q < nl) {
                __global const float *pe = pp + (ulong)base * stride + e;
                uint k = q;
                for (; k + 7u * nl < nb; k += 8u * nl) {
                    float x0 = pe[(ulong)k * stride], x1 = pe[(ulong)(k + nl) * stride];
                    float x2 = pe[(ulong)(k + 2u * nl) * stride];
                    float x3 = pe[(ulong)(k + 3u * nl) * stride];
                    float x4 = pe[(ulong)(k + 4u * nl) * stride];
                    float x5 = pe[(ulong)(k + 5u * nl) * stride];
                    float x6 = pe[(ulong)(k + 6u * nl) * stride];
                    float x7 = pe[(ulong)(k + 7u * nl) * stride];
                    acc = fma(x0, lw[k], acc);
                    acc = fma(x1, lw[k + nl], acc);
                    acc = fma(x2, lw[k + 2u * nl], acc);
                    acc = fma(x3, lw[k + 3u * nl], acc);
                    acc = fma(x4, lw[k + 4u * nl], acc);
                    acc = fma(x5, lw[k + 5u * nl], acc);
                    acc = fma(x6, lw[k + 6u * nl], acc);
                    acc = fma(x7, lw[k + 7u * nl], acc);
                }
                for (; k < nb; k += nl)
                    acc = fma(pe[(ulong)k * stride], lw[k], acc);
            }
            continue;
        }
        for (uint e = lid; e < dv; e += lsz) {
            float o = x[e];
            __global const float *pe = pp + (ulong)base * stride + e;
            uint k = 0;
            for (; k + 4u <= nb; k += 4u) {         /* four loads in flight */
                float x0 = pe[(ulong)k * stride], x1 = pe[(ulong)(k + 1u) * stride];
                float x2 = pe[(ulong)(k + 2u) * stride], x3 = pe[(ulong)(k + 3u) * stride];
                o = fma(x0, lw[k], o);
                o = fma(x1, lw[k + 1u], o);
                o = fma(x2, lw[k + 2u], o);
                o = fma(x3, lw[k + 3u], o);
            }
            for (; k < nb; k++)
                o = fma(pe[(ulong)k * stride], lw[k], o);
            x[e] = o;
        }
    }
    if (nl > 1u) {
        /* the lanes' sums of each dimension, through lw */
        barrier(CLK_LOCAL_MEM_FENCE);
        if (q < nl)
            lw[q * dv + e] = acc;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint d = lid; d < dv; d += lsz) {
            float o = 0.0f;
            for (uint j = 0; j < nl; j++)
                o += lw[j * dv + d];
            x[d] = o;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    lw[lid] = lsum;
    for (uint w = lsz / 2u; w > 0u; w /= 2u) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < w)
            lw[lid] += lw[lid + w];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const float l = lw[0];
    const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
    for (uint e = lid; e < dv; e += lsz)
        x[e] *= inv_l;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (tq_is_turbo((int)a.type_v)) {
        tq_rotate_local(x, dv / TQ_TURBO_GROUP, 1, lid, lsz);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    ulong row = (ulong)h + (ulong)a.n_head * ((ulong)tok + (ulong)a.n_q * s);
    __global float *out = (__global float *)(obuf + o_off) + row * a.d;
    for (uint e = lid; e < a.d; e += lsz)
        out[e] = x[e];
}
