/*
 * quantize.cl: set_rows. Source rows (F32 or F16) [d, n_kv_head, n_tokens, n_seq] are
 * quantized into cache rows [d, n_ctx, n_kv_head, n_seq]:
 *     dst row (rows[s * n_tokens + t], h, s) = quantize(src row (h, t, s)).
 * Every kernel gets the same geometry arguments; buffer offsets are byte offsets (views
 * may start at any multiple of 4).
 */

inline float tq_src_elem(__global const uchar *row, uint type, uint e)
{
    return type == TQ_TYPE_ID_F32 ? *(__global const float *)(row + 4u * e) : tq_h2f(row + 2u * e);
}

/* Source row r = h + n_kv_head * (t + n_tokens * s) -> its destination row pointer. */
inline __global uchar *tq_qz_dst_row(__global uchar *dst, __global const long *rows,
                                    uint n_kv_head, uint n_tokens, uint n_ctx,
                                    uint dst_row_bytes, uint r)
{
    uint h = r % n_kv_head;
    uint ts = r / n_kv_head;               /* t + n_tokens * s */
    uint s = ts / n_tokens;
    ulong drow = (ulong)rows[ts] + (ulong)n_ctx * ((ulong)h + (ulong)n_kv_head * s);
    return dst + drow * dst_row_bytes;
}

/* F32/F16 destinations: one work-item per element. global = (ne0, n_src_rows). */
__kernel void tq_quantize_plain(__global const uchar *src, ulong src_off,
                                __global uchar *dst, ulong dst_off,
                                __global const long *rows,
                                uint ne0, uint n_kv_head, uint n_tokens, uint n_ctx,
                                uint src_type, uint dst_type, uint dst_row_bytes)
{
    uint e = get_global_id(0), r = get_global_id(1);
    if (e >= ne0)
        return;
    uint src_es = src_type == TQ_TYPE_ID_F32 ? 4u : 2u;
    __global const uchar *srow = src + src_off + (ulong)r * ne0 * src_es;
    __global uchar *drow = tq_qz_dst_row(dst + dst_off, rows, n_kv_head, n_tokens, n_ctx,
                                         dst_row_bytes, r);
    if (dst_type == src_type) {            /* bit copy: keeps NaN payloads as they are */
        for (uint b = 0; b < src_es; b++)
            drow[src_es * e + b] = srow[src_es * e + b];
        return;
    }
    float x = tq_src_elem(srow, src_type, e);
    if (dst_type == TQ_TYPE_ID_F32)
        *(__global float *)(drow + 4u * e) = x;
    else
        tq_store_u16(drow + 2u * e, tq_f2h(x));
}

/* q8_0 / q4_0: one work-item per 32-element block. global = (ne0 / 32, n_src_rows). */
__kernel void tq_quantize_q(__global const uchar *src, ulong src_off,
                            __global uchar *dst, ulong dst_off,
                            __global const long *rows,
                            uint ne0, uint n_kv_head, uint n_tokens, uint n_ctx,
                            uint src_type, uint dst_type, uint dst_row_bytes)
{
    uint b = get_global_id(0), r = get_global_id(1);
    if (b >= ne0 / 32u)
        return;
    uint src_es = src_type == TQ_TYPE_ID_F32 ? 4u : 2u;
    __global const uchar *srow = src + src_off + (ulong)r * ne0 * src_es;
    __global uchar *drow = tq_qz_dst_row(dst + dst_off, rows, n_kv_head, n_tokens, n_ctx,
                                         dst_row_bytes, r);
    float x[32];
    for (uint j = 0; j < 32u; j++)
        x[j] = tq_src_elem(srow, src_type, b * 32u + j);

    if (dst_type == TQ_TYPE_ID_Q8_0) {
        __global uchar *blk = drow + b * TQ_Q8_0_BLOCK_BYTES;
        float amax = 0.0f;
        for (uint j = 0; j < 32u; j++) {
            float a = fabs(x[j]);
            if (a > amax)
                amax = a;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        if (isinf(id))
            id = 0.0f;
        tq_store_u16(blk, tq_f2h(d));
        for (uint j = 0; j < 32u; j++)
            blk[2u + j] = (uchar)(char)(int)round(x[j] * id);   /* half away from zero */
    } else {
        __global uchar *blk = drow + b * TQ_Q4_0_BLOCK_BYTES;
        float amax = 0.0f, m = 0.0f;
        for (uint j = 0; j < 32u; j++) {
            float a = fabs(x[j]);
            if (a > amax) {                /* strict: first of equal magnitudes, sign kept */
                amax = a;
                m = x[j];
            }
        }
        float d = m / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        if (isinf(id))
            id = 0.0f;
        tq_store_u16(blk, tq_f2h(d));
        for (uint j = 0; j < 16u; j++) {
            float lo_f = x[j] * id;
            float hi_f = x[j + 16u] * id;
            int lo = (int)(lo_f + 8.5f);   /* truncation toward zero after the add */
            int hi = (int)(hi_f + 8.5f);
            lo = min(lo, 15);
            hi = min(hi, 15);
            blk[2u + j] = (uchar)(lo | (hi << 4));
        }
    }
}

/* Tree sum of red[0..n) in local memory by the work-group; result in red[0]. Works for
 * any n (not only powers of two). Barriers inside: call from every work-item. */
inline void tq_local_sum(__local float *red, uint n, uint lid)
{
    while (n > 1u) {
        uint half_ = (n + 1u) / 2u;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < n - half_)
            red[lid] += red[lid + half_];
        n = half_;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* Turbo: one work-group per 128-group. global = (n_groups * lsz, n_src_rows), local = (lsz).
 * Local: x[128] values, idx[128] indices, red[lsz] reduction space. */
__kernel void tq_quantize_turbo(__global const uchar *src, ulong src_off,
                                __global uchar *dst, ulong dst_off,
                                __global const long *rows,
                                uint ne0, uint n_kv_head, uint n_tokens, uint n_ctx,
                                uint src_type, uint dst_type, uint dst_row_bytes,
                                __local float *x, __local uchar *idx, __local float *red)
{
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    const uint grp = get_group_id(0), r = get_global_id(1);
    const uint bits = tq_turbo_bits((int)dst_type);
    const uint bb = tq_block_bytes((int)dst_type);
    uint src_es = src_type == TQ_TYPE_ID_F32 ? 4u : 2u;
    __global const uchar *srow = src + src_off + (ulong)r * ne0 * src_es;
    __global uchar *blk = tq_qz_dst_row(dst + dst_off, rows, n_kv_head, n_tokens, n_ctx,
                                        dst_row_bytes, r) + grp * bb;
    const uint e0 = grp * TQ_TURBO_GROUP;
    const uint count = min((uint)TQ_TURBO_GROUP, ne0 - e0);

    /* 1. g = sqrt(sum x^2) over the real elements (padding is zero). */
    float part = 0.0f;
    for (uint j = lid; j < TQ_TURBO_GROUP; j += lsz) {
        float v = j < count ? tq_src_elem(srow, src_type, e0 + j) : 0.0f;
        x[j] = v;
        part += v * v;
    }
    red[lid] = part;
    tq_local_sum(red, lsz, lid);
    const float g = sqrt(red[0]);
    if (g <= TQ_TURBO_ZERO_EPS) {        /* all-zero block, norm 0 */
        for (uint b = lid; b < bb; b += lsz)
            blk[b] = 0;
        return;
    }
    barrier(CLK_LOCAL_MEM_FENCE);          /* everyone has read red[0] */

    /* 2. u = x / g, y = forward(u). */
    for (uint j = lid; j < TQ_TURBO_GROUP; j += lsz)
        x[j] = x[j] / g;
    tq_rotate_local(x, 1u, 0, lid, lsz);
    barrier(CLK_LOCAL_MEM_FENCE);

    /* 3. indices and the corrected norm's sum of squared centroids. */
    part = 0.0f;
    for (uint j = lid; j < TQ_TURBO_GROUP; j += lsz) {
        uint k = tq_turbo_index(bits, x[j]);
        idx[j] = (uchar)k;
        float c = tq_centroid(bits, k);
        part += c * c;
    }
    red[lid] = part;
    tq_local_sum(red, lsz, lid);
    const float rr = sqrt(red[0]);
    const ushort norm = tq_f2h(rr > TQ_TURBO_ZERO_EPS ? g / rr : g);

    /* 4. pack: each work-item builds whole bytes from local indices, so the layout does
     * not depend on sub-group width. */
    for (uint b = lid; b < bb; b += lsz) {
        uint v = 0;
        if (b < TQ_TURBO_QS_OFFSET) {
            v = b == 0 ? (norm & 0xffu) : (norm >> 8);
        } else if (bits == 2u) {
            uint j = (b - TQ_TURBO_QS_OFFSET) * 4u;
            for (uint k = 0; k < 4u; k++)
                v |= (idx[j + k] & 3u) << (2u * k);
        } else if (bits == 4u) {
            uint j = (b - TQ_TURBO_QS_OFFSET) * 2u;
            v = (idx[j] & 15u) | ((idx[j + 1u] & 15u) << 4);
        } else if (b < TQ_TURBO3_SIGNS_OFFSET) {
            uint j = (b - TQ_TURBO_QS_OFFSET) * 4u;
            for (uint k = 0; k < 4u; k++)
                v |= (idx[j + k] & 3u) << (2u * k);
        } else {
            uint j = (b - TQ_TURBO3_SIGNS_OFFSET) * 8u;
            for (uint k = 0; k < 8u; k++)
                v |= ((idx[j + k] >> 2) & 1u) << k;
        }
        blk[b] = (uchar)v;
    }
}
