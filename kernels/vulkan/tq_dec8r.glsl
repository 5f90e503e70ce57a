// tq_dec8r.glsl: 8 consecutive elements (c0 % 8 == 0) of one K or V row into registers,
// returned as v[i] * (return value): the block scale / turbo norm is returned apart so
// that the caller folds it into one multiply per chunk. Honours VARIANT and MODE.
// Included once per operand with DEC_NAME, DEC_IDX8, DEC_CVAL, DEC_BUF, DEC_TYPE, DEC_CB
// (shared table).
//
// Every field is read as 32-bit words of the buffer: rows are only 2-byte aligned.

#include "tq_turbo8.glsl"

float DEC_NAME(uint rbase, uint c0, out float v[8])
{
    if (MODE == MODE_NODEQUANT) {
        for (uint i = 0u; i < 8u; i++) v[i] = 1.0;
        return 1.0;
    }
    if (DEC_TYPE == TQ_TYPE_ID_F32) {
        uint w0 = (rbase >> 2) + c0;
        for (uint i = 0u; i < 8u; i++) v[i] = uintBitsToFloat(DEC_BUF[w0 + i]);
        return 1.0;
    }
    if (DEC_TYPE == TQ_TYPE_ID_F16) {
        uint b = rbase + 2u * c0;
        uint w0 = b >> 2;
        uint x0 = DEC_BUF[w0], x1 = DEC_BUF[w0 + 1u], x2 = DEC_BUF[w0 + 2u], x3 = DEC_BUF[w0 + 3u];
        if ((b & 3u) != 0u) {
            uint x4 = DEC_BUF[w0 + 4u];
            x0 = (x0 >> 16) | (x1 << 16);
            x1 = (x1 >> 16) | (x2 << 16);
            x2 = (x2 >> 16) | (x3 << 16);
            x3 = (x3 >> 16) | (x4 << 16);
        }
        vec2 f0 = unpackHalf2x16(x0), f1 = unpackHalf2x16(x1);
        vec2 f2 = unpackHalf2x16(x2), f3 = unpackHalf2x16(x3);
        v[0] = f0.x; v[1] = f0.y; v[2] = f1.x; v[3] = f1.y;
        v[4] = f2.x; v[5] = f2.y; v[6] = f3.x; v[7] = f3.y;
        return 1.0;
    }
    if (DEC_TYPE == TQ_TYPE_ID_Q8_0 || DEC_TYPE == TQ_TYPE_ID_Q4_0) {
        bool q8 = DEC_TYPE == TQ_TYPE_ID_Q8_0;
        uint bb = q8 ? uint(TQ_Q8_0_BLOCK_BYTES) : uint(TQ_Q4_0_BLOCK_BYTES);
        uint b0 = rbase + (c0 >> 5) * bb;
        uint j0 = c0 & 31u;
        float dsc = unpackHalf2x16(TQ_RD16(DEC_BUF, b0)).x;
        if (MODE == MODE_NORMSONLY) {
            for (uint i = 0u; i < 8u; i++) v[i] = 1.0;
            return dsc;
        }
        // 8 bytes at a 2-byte aligned address: 3 words, shifted
        uint qb = b0 + 2u + (q8 ? j0 : (j0 & 15u));
        uint w0 = qb >> 2;
        uint x0 = DEC_BUF[w0], x1 = DEC_BUF[w0 + 1u];
        uint lo = x0, hi = x1;
        if ((qb & 3u) != 0u) {   // the third word only when needed: it may lie past the row
            uint x2 = DEC_BUF[w0 + 2u];
            lo = (x0 >> 16) | (x1 << 16);
            hi = (x1 >> 16) | (x2 << 16);
        }
        if (MODE == MODE_READBYTES) {
            for (uint i = 0u; i < 8u; i++) v[i] = tq_bit_to_f((lo ^ hi) >> i);
            return dsc;
        }
        if (q8) {
            // float(int8) here: the exponent trick that wins for q4_0 below made q8_0
            // 5% slower on the H100 (243 -> 256 us at ctx 131072)
            for (uint i = 0u; i < 8u; i++) {
                uint wv = i < 4u ? lo : hi;
                v[i] = float(bitfieldExtract(int(wv), int(8u * (i & 3u)), 8));
            }
        } else {
            uint sh = j0 < 16u ? 0u : 4u;
            for (uint i = 0u; i < 8u; i++)
                v[i] = tq_u4m8_to_f(i < 4u ? lo : hi, 8u * (i & 3u) + sh);
        }
        return dsc;
    }
    // turbo
    uint b0 = rbase + (c0 >> 7) * tq_block_bytes(DEC_TYPE);
    uint j0 = c0 & 127u;
    float nrm = (MODE == MODE_INDICES) ? 1.0 : unpackHalf2x16(TQ_RD16(DEC_BUF, b0)).x;
    if (MODE == MODE_NORMSONLY) {
        for (uint i = 0u; i < 8u; i++) v[i] = 1.0;
        return nrm;
    }
    uint sg;
    uint raw = DEC_IDX8(b0, j0, sg);
    if (MODE == MODE_READBYTES) {
        for (uint i = 0u; i < 8u; i++) v[i] = tq_bit_to_f(raw >> i);
        return nrm;
    }
    uint bits = tq_turbo_bits(DEC_TYPE);
    for (uint i = 0u; i < 8u; i++)
        v[i] = DEC_CVAL(bits, tq_turbo_idx(DEC_TYPE, raw, sg, i));
    return nrm;
}
