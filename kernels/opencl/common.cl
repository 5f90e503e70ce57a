/*
 * common.cl: helpers shared by every tq OpenCL kernel.
 *
 * The host prepends kernels/tq_format_constants.h (the one definition of the format
 * constants) before this file, so codebooks, midpoints, sign words and block sizes come
 * from there; nothing here retypes a format constant.
 *
 * Rules every kernel follows:
 *  - Block data is read with uchar/ushort loads only: a turbo3 row is 50 bytes, so blocks
 *    are just 2-byte aligned and a wider pointer cast would be undefined.
 *  - No sub-group operations: packing and reductions go through local memory so results
 *    do not depend on the device's sub-group width. The one exception is
 *    attention_mma.cl's PTX build, which only NVIDIA devices of compute capability >= 8.0
 *    get (32-lane warps by definition); its emulated build keeps this rule.
 *  - FP_CONTRACT is off so quantize matches the scalar reference operation for operation;
 *    attention asks for fused multiply-add explicitly with fma()/mad() where it wants it.
 */
#pragma OPENCL FP_CONTRACT OFF

/* Queries per attention work-group (kept in registers): set by the host with -DTQ_CL_QT so
 * host and kernel agree on one value. */
#ifndef TQ_CL_QT
#error "TQ_CL_QT must be defined by the host's build options"
#endif

__constant float tq_cb2[4] = { TQ_TURBO2_CODEBOOK };
__constant float tq_cb3[8] = { TQ_TURBO3_CODEBOOK };
__constant float tq_cb4[16] = { TQ_TURBO4_CODEBOOK };
__constant float tq_mid2[3] = { TQ_TURBO2_MIDPOINTS };
__constant float tq_mid3[7] = { TQ_TURBO3_MIDPOINTS };
__constant float tq_mid4[15] = { TQ_TURBO4_MIDPOINTS };
__constant uint tq_s1[4] = { TQ_TURBO_S1_WORDS };
__constant uint tq_s2[4] = { TQ_TURBO_S2_WORDS };

inline uint tq_turbo_bits(int type)
{
    return type == TQ_TYPE_ID_TURBO2 ? 2u : type == TQ_TYPE_ID_TURBO3 ? 3u : 4u;
}

inline uint tq_block_bytes(int type)
{
    switch (type) {
    case TQ_TYPE_ID_F32: return 4u;
    case TQ_TYPE_ID_F16: return 2u;
    case TQ_TYPE_ID_Q8_0: return TQ_Q8_0_BLOCK_BYTES;
    case TQ_TYPE_ID_Q4_0: return TQ_Q4_0_BLOCK_BYTES;
    case TQ_TYPE_ID_TURBO2: return TQ_TURBO2_BLOCK_BYTES;
    case TQ_TYPE_ID_TURBO3: return TQ_TURBO3_BLOCK_BYTES;
    default: return TQ_TURBO4_BLOCK_BYTES;
    }
}

inline int tq_is_turbo(int type)
{
    return type >= TQ_TYPE_ID_TURBO2;
}

inline float tq_centroid(uint bits, uint idx)
{
    return bits == 2u ? tq_cb2[idx] : bits == 3u ? tq_cb3[idx] : tq_cb4[idx];
}

/* Nearest centroid: the number of midpoints m with !(y < m) (ties take the upper index). */
inline uint tq_turbo_index(uint bits, float y)
{
    uint idx = 0;
    if (bits == 2u) {
        for (int i = 0; i < 3; i++)
            idx += !(y < tq_mid2[i]);
    } else if (bits == 3u) {
        for (int i = 0; i < 7; i++)
            idx += !(y < tq_mid3[i]);
    } else {
        for (int i = 0; i < 15; i++)
            idx += !(y < tq_mid4[i]);
    }
    return idx;
}

/* fp16 bits -> float; exact for every half (vload_half is core OpenCL, no cl_khr_fp16). */
inline float tq_h2f(__global const uchar *p)
{
    return vload_half(0, (__global const half *)p);
}

/* A 16-bit little-endian word from a 2-byte aligned address, as one load (the attention
 * kernels' reads of K/V blocks). */
inline uint tq_ld16(__global const uchar *p)
{
    return *(__global const ushort *)p;
}

/* Reads a little-endian 16-bit value from a 2-byte aligned address. */
inline uint tq_u16(__global const uchar *p)
{
    return (uint)p[0] | ((uint)p[1] << 8);
}

/* float -> fp16 bits, round to nearest even, NaN/Inf kept: spelled out with integer
 * operations so the result does not depend on a driver's conversion routines. */
inline ushort tq_f2h(float f)
{
    uint x = as_uint(f);
    uint sign = (x >> 16) & 0x8000u;
    uint ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)                          /* Inf or NaN */
        return (ushort)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    if (ax >= 0x477ff000u)                          /* rounds to >= 65536: Inf */
        return (ushort)(sign | 0x7c00u);
    if (ax < 0x38800000u) {                         /* result is subnormal or zero */
        if (ax < 0x33000000u)                       /* below half the smallest subnormal */
            return (ushort)sign;
        uint e = ax >> 23;
        uint m = (ax & 0x7fffffu) | 0x800000u;
        uint shift = 126u - e;                      /* 14..24 */
        uint h = m >> shift;
        uint rem = m & ((1u << shift) - 1u);
        uint half_ = 1u << (shift - 1u);
        if (rem > half_ || (rem == half_ && (h & 1u)))
            h++;
        return (ushort)(sign | h);
    }
    uint h = ((ax >> 13) - (112u << 10));           /* rebias exponent 127 -> 15 */
    uint rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (ushort)(sign | h);
}

inline void tq_store_u16(__global uchar *p, uint v)
{
    p[0] = (uchar)(v & 0xffu);
    p[1] = (uchar)(v >> 8);
}

/* Index j (0..127) of a turbo block. */
inline uint tq_turbo_get_index(uint bits, __global const uchar *blk, uint j)
{
    __global const uchar *qs = blk + TQ_TURBO_QS_OFFSET;
    if (bits == 2u)
        return (qs[j >> 2] >> (2u * (j & 3u))) & 3u;
    if (bits == 3u) {
        uint lo = (qs[j >> 2] >> (2u * (j & 3u))) & 3u;
        uint hi = (blk[TQ_TURBO3_SIGNS_OFFSET + (j >> 3)] >> (j & 7u)) & 1u;
        return lo | (hi << 2);
    }
    return (qs[j >> 1] >> (4u * (j & 1u))) & 15u;
}

/* Element e of a row of the given type, dequantized exactly as the reference does
 * (turbo: rotated domain). */
inline float tq_load_elem(int type, __global const uchar *row, uint e)
{
    switch (type) {
    case TQ_TYPE_ID_F32:
        return *(__global const float *)(row + 4u * e);   /* f32 rows are 4-byte aligned */
    case TQ_TYPE_ID_F16:
        return tq_h2f(row + 2u * e);
    case TQ_TYPE_ID_Q8_0: {
        __global const uchar *b = row + (e / TQ_QK8_0) * TQ_Q8_0_BLOCK_BYTES;
        return (float)(char)b[2u + e % TQ_QK8_0] * tq_h2f(b);
    }
    case TQ_TYPE_ID_Q4_0: {
        __global const uchar *b = row + (e / TQ_QK4_0) * TQ_Q4_0_BLOCK_BYTES;
        uint j = e % TQ_QK4_0;
        uint q = j < TQ_QK4_0 / 2 ? (b[2u + j] & 15u) : (b[2u + j - TQ_QK4_0 / 2] >> 4);
        return (float)((int)q - 8) * tq_h2f(b);
    }
    default: {
        uint bits = tq_turbo_bits(type);
        uint bb = tq_block_bytes(type);
        __global const uchar *b = row + (e / TQ_TURBO_GROUP) * bb;
        return tq_centroid(bits, tq_turbo_get_index(bits, b, e % TQ_TURBO_GROUP)) * tq_h2f(b);
    }
    }
}

inline int tq_sign_neg(__constant const uint *words, uint j)
{
    return (words[j >> 5] >> (j & 31u)) & 1u;
}

/* Signed Walsh-Hadamard rotation of n_groups consecutive 128-groups held in local memory
 * x, by all lsz threads of the work-group, with the reference's exact operation order
 * (sign flips, butterfly strides 1..64, one multiply by 1/sqrt(128), sign flips), so
 * results are bit-identical to it. The caller puts a barrier before (x written) and
 * after (x read). */
inline void tq_rotate_local(__local float *x, uint n_groups, int inverse, uint lid, uint lsz)
{
    __constant const uint *first = inverse ? tq_s2 : tq_s1;
    __constant const uint *second = inverse ? tq_s1 : tq_s2;
    const uint n = n_groups * TQ_TURBO_GROUP;
    for (uint j = lid; j < n; j += lsz)
        if (tq_sign_neg(first, j % TQ_TURBO_GROUP))
            x[j] = -x[j];
    for (uint h = 1u; h < TQ_TURBO_GROUP; h <<= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint p = lid; p < n / 2u; p += lsz) {
            uint g = p / (TQ_TURBO_GROUP / 2), pp = p % (TQ_TURBO_GROUP / 2);
            uint i = g * TQ_TURBO_GROUP + (pp / h) * 2u * h + (pp % h);
            float a = x[i], b = x[i + h];
            x[i] = a + b;
            x[i + h] = a - b;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint j = lid; j < n; j += lsz) {
        float v = x[j] * TQ_TURBO_INV_SQRT_GROUP;
        x[j] = tq_sign_neg(second, j % TQ_TURBO_GROUP) ? -v : v;
    }
}
