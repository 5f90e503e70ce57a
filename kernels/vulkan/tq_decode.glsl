// tq_decode.glsl: exact single-element decode of every type (dequantize kernel).
// Requires a word buffer named BUF to be #defined before inclusion.

float tq_decode_elem(uint type, uint rbase, uint e)
{
    if (type == TQ_TYPE_ID_F32)
        return uintBitsToFloat(BUF[(rbase >> 2) + e]);
    if (type == TQ_TYPE_ID_F16)
        return tq_half_to_float(TQ_RD16(BUF, rbase + 2u * e));
    uint bb = tq_block_bytes(type), be = tq_block_elems(type);
    uint blk = e / be, j = e % be;
    uint b0 = rbase + blk * bb;
    float dsc = tq_half_to_float(TQ_RD16(BUF, b0));
    if (type == TQ_TYPE_ID_Q8_0) {
        int q = int(TQ_RD8(BUF, b0 + 2u + j) << 24) >> 24;
        return tq_mul_exact(dsc, float(q));
    }
    if (type == TQ_TYPE_ID_Q4_0) {
        uint byte_ = TQ_RD8(BUF, b0 + 2u + (j & 15u));
        uint nib = j < 16u ? (byte_ & 15u) : (byte_ >> 4);
        return tq_mul_exact(dsc, float(int(nib) - 8));
    }
    if (type == TQ_TYPE_ID_TURBO2) {
        uint idx = (TQ_RD8(BUF, b0 + 2u + j / 4u) >> (2u * (j % 4u))) & 3u;
        return tq_mul_exact(TQ_CB2[idx], dsc);
    }
    if (type == TQ_TYPE_ID_TURBO3) {
        uint lo = (TQ_RD8(BUF, b0 + 2u + j / 4u) >> (2u * (j % 4u))) & 3u;
        uint hi = (TQ_RD8(BUF, b0 + uint(TQ_TURBO3_SIGNS_OFFSET) + j / 8u) >> (j % 8u)) & 1u;
        return tq_mul_exact(TQ_CB3[lo | (hi << 2)], dsc);
    }
    uint idx = (TQ_RD8(BUF, b0 + 2u + j / 2u) >> (4u * (j % 2u))) & 15u;
    return tq_mul_exact(TQ_CB4[idx], dsc);
}
