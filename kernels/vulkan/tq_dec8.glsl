// tq_dec8.glsl: decode 8 consecutive elements (c0 % 8 == 0) of one K or V row into
// shared memory, with the dequant variant and profiling mode of the pipeline.
// Included once per operand with DEC_NAME, DEC_IDX8, DEC_CVAL, DEC_BUF, DEC_TYPE, DEC_CB
// (shared table).

#include "tq_turbo8.glsl"

void DEC_NAME(uint rbase, uint c0, uint sidx)
{
    if (MODE == MODE_NODEQUANT) {
        for (uint i = 0u; i < 8u; i++) sh_kv[sidx + i] = 1.0;
        return;
    }
    if (DEC_TYPE == TQ_TYPE_ID_F32) {
        uint w0 = (rbase >> 2) + c0;
        for (uint i = 0u; i < 8u; i++) sh_kv[sidx + i] = uintBitsToFloat(DEC_BUF[w0 + i]);
        return;
    }
    if (DEC_TYPE == TQ_TYPE_ID_F16) {
        uint b = rbase + 2u * c0;
        if ((b & 3u) == 0u) {
            uint w0 = b >> 2;
            for (uint i = 0u; i < 4u; i++) {
                vec2 f = unpackHalf2x16(DEC_BUF[w0 + i]);
                sh_kv[sidx + 2u * i] = f.x;
                sh_kv[sidx + 2u * i + 1u] = f.y;
            }
        } else {
            for (uint i = 0u; i < 8u; i++)
                sh_kv[sidx + i] = unpackHalf2x16(TQ_RD16(DEC_BUF, b + 2u * i)).x;
        }
        return;
    }
    if (DEC_TYPE == TQ_TYPE_ID_Q8_0 || DEC_TYPE == TQ_TYPE_ID_Q4_0) {
        uint bb = DEC_TYPE == TQ_TYPE_ID_Q8_0 ? uint(TQ_Q8_0_BLOCK_BYTES) : uint(TQ_Q4_0_BLOCK_BYTES);
        uint b0 = rbase + (c0 >> 5) * bb;
        uint j0 = c0 & 31u;
        float dsc = unpackHalf2x16(TQ_RD16(DEC_BUF, b0)).x;
        if (MODE == MODE_NORMSONLY) {
            for (uint i = 0u; i < 8u; i++) sh_kv[sidx + i] = dsc;
            return;
        }
        uint lo, hi;
        if (DEC_TYPE == TQ_TYPE_ID_Q8_0) {
            uint qb = b0 + 2u + j0;
            lo = TQ_RD16(DEC_BUF, qb) | (TQ_RD16(DEC_BUF, qb + 2u) << 16);
            hi = TQ_RD16(DEC_BUF, qb + 4u) | (TQ_RD16(DEC_BUF, qb + 6u) << 16);
            if (MODE == MODE_READBYTES) {
                for (uint i = 0u; i < 8u; i++) sh_kv[sidx + i] = dsc * tq_bit_to_f(lo ^ hi);
                return;
            }
            for (uint i = 0u; i < 8u; i++) {
                uint wv = i < 4u ? lo : hi;
                int q = int(wv << (24u - 8u * (i & 3u))) >> 24;
                sh_kv[sidx + i] = (MODE == MODE_INDICES) ? float(q) : dsc * float(q);
            }
        } else {
            uint qb = b0 + 2u + (j0 & 15u);
            lo = TQ_RD16(DEC_BUF, qb) | (TQ_RD16(DEC_BUF, qb + 2u) << 16);
            hi = TQ_RD16(DEC_BUF, qb + 4u) | (TQ_RD16(DEC_BUF, qb + 6u) << 16);
            if (MODE == MODE_READBYTES) {
                for (uint i = 0u; i < 8u; i++) sh_kv[sidx + i] = dsc * tq_bit_to_f(lo ^ hi);
                return;
            }
            uint sh = j0 < 16u ? 0u : 4u;
            for (uint i = 0u; i < 8u; i++) {
                float q = tq_u4m8_to_f(i < 4u ? lo : hi, 8u * (i & 3u) + sh);
                sh_kv[sidx + i] = (MODE == MODE_INDICES) ? q : dsc * q;
            }
        }
        return;
    }
    // turbo
    uint b0 = rbase + (c0 >> 7) * tq_block_bytes(DEC_TYPE);
    uint j0 = c0 & 127u;
    float nrm = (MODE == MODE_INDICES) ? 1.0 : unpackHalf2x16(TQ_RD16(DEC_BUF, b0)).x;
    if (MODE == MODE_NORMSONLY) {
        for (uint i = 0u; i < 8u; i++) sh_kv[sidx + i] = nrm;
        return;
    }
    uint sg;
    uint raw = DEC_IDX8(b0, j0, sg);
    if (MODE == MODE_READBYTES) {
        for (uint i = 0u; i < 8u; i++) sh_kv[sidx + i] = nrm * tq_bit_to_f(raw >> i);
        return;
    }
    uint bits = tq_turbo_bits(DEC_TYPE);
    for (uint i = 0u; i < 8u; i++)
        sh_kv[sidx + i] = DEC_CVAL(bits, tq_turbo_idx(DEC_TYPE, raw, sg, i)) * nrm;
}
