/*
 * dequantize.cl and rotate: rows of any type back to f32, and the 128-group rotation.
 */

/* One work-item per output element. global = (out_ne0, n_rows). Turbo rows come back in
 * the rotated domain (c[idx] * norm), exactly as the reference computes them. */
__kernel void tq_dequantize(__global const uchar *src, ulong src_off, uint src_row_bytes,
                            __global uchar *dst, ulong dst_off, uint out_ne0, uint src_type)
{
    uint e = get_global_id(0), r = get_global_id(1);
    if (e >= out_ne0)
        return;
    __global const uchar *row = src + src_off + (ulong)r * src_row_bytes;
    __global float *out = (__global float *)(dst + dst_off) + (ulong)r * out_ne0;
    out[e] = tq_load_elem((int)src_type, row, e);
}

/* Turbo rows back to the original domain: one work-group per 128-group, the inverse
 * rotation in local memory. global = (n_groups * lsz, n_rows); local x[128]. */
__kernel void tq_dequantize_turbo_inverse(__global const uchar *src, ulong src_off,
                                          uint src_row_bytes, __global uchar *dst,
                                          ulong dst_off, uint out_ne0, uint src_type,
                                          __local float *x)
{
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    const uint grp = get_group_id(0), r = get_global_id(1);
    __global const uchar *row = src + src_off + (ulong)r * src_row_bytes;
    __global float *out = (__global float *)(dst + dst_off) + (ulong)r * out_ne0
                          + grp * TQ_TURBO_GROUP;
    for (uint j = lid; j < TQ_TURBO_GROUP; j += lsz)
        x[j] = tq_load_elem((int)src_type, row, grp * TQ_TURBO_GROUP + j);
    barrier(CLK_LOCAL_MEM_FENCE);
    tq_rotate_local(x, 1u, 1, lid, lsz);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint j = lid; j < TQ_TURBO_GROUP; j += lsz)
        out[j] = x[j];
}

/* F32 rows rotated in 128-groups, src == dst allowed (each work-group reads its whole
 * group before writing). global = (ne0 / 128 * lsz, n_rows); local x[128]. */
__kernel void tq_rotate(__global const uchar *src, ulong src_off, __global uchar *dst,
                        ulong dst_off, uint ne0, uint inverse, __local float *x)
{
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    const uint grp = get_group_id(0), r = get_global_id(1);
    ulong base = (ulong)r * ne0 + grp * TQ_TURBO_GROUP;
    __global const float *in = (__global const float *)(src + src_off) + base;
    __global float *out = (__global float *)(dst + dst_off) + base;
    for (uint j = lid; j < TQ_TURBO_GROUP; j += lsz)
        x[j] = in[j];
    barrier(CLK_LOCAL_MEM_FENCE);
    tq_rotate_local(x, 1u, (int)inverse, lid, lsz);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint j = lid; j < TQ_TURBO_GROUP; j += lsz)
        out[j] = x[j];
}
