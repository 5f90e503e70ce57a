// tq_turbo8.glsl: the parts of turbo decoding that tq_dec8.glsl (into shared memory) and
// tq_dec8r.glsl (into registers) share. Included by them once per operand, with
// DEC_IDX8 and DEC_CVAL naming the two functions, DEC_BUF, DEC_TYPE and DEC_CB.

// The index bits of elements j0 .. j0 + 7 of the turbo block at byte b0, for
// tq_turbo_idx: raw (turbo4: 8 nibbles; turbo2/3: 8 2-bit fields) and sg (turbo3: the 8
// sign bits; else 0). In the readbytes profiling mode raw also folds in sg.
uint DEC_IDX8(uint b0, uint j0, out uint sg)
{
    sg = 0u;
    if (DEC_TYPE == TQ_TYPE_ID_TURBO4) {
        uint qb = b0 + 2u + (j0 >> 1);   // 4 bytes, 2-byte aligned
        uint raw = DEC_BUF[qb >> 2];
        if ((qb & 3u) != 0u)
            raw = (raw >> 16) | (DEC_BUF[(qb >> 2) + 1u] << 16);
        return raw;
    }
    uint raw = TQ_RD16(DEC_BUF, b0 + 2u + (j0 >> 2));
    if (DEC_TYPE == TQ_TYPE_ID_TURBO3)
        sg = TQ_RD8(DEC_BUF, b0 + uint(TQ_TURBO3_SIGNS_OFFSET) + (j0 >> 3));
    if (MODE == MODE_READBYTES)
        raw ^= sg;
    return raw;
}

// The centroid of index idx of a bits-bit codebook, by the pipeline's VARIANT: the shared
// table (table), a magnitude from the table and the sign by arithmetic (magsign), or
// selects among the codebook constants only (arith).
float DEC_CVAL(uint bits, uint idx)
{
    if (VARIANT == VARIANT_TABLE)
        return DEC_CB[idx];
    uint half_ = 1u << (bits - 1u);
    bool neg = idx < half_;
    uint m = neg ? half_ - 1u - idx : idx - half_;
    float mag;
    if (VARIANT == VARIANT_MAGSIGN) {
        mag = DEC_CB[half_ + m];
    } else if (bits == 2u) {
        mag = m != 0u ? TQ_CB2[3] : TQ_CB2[2];
    } else if (bits == 3u) {
        mag = (m & 2u) != 0u ? ((m & 1u) != 0u ? TQ_CB3[7] : TQ_CB3[6])
                             : ((m & 1u) != 0u ? TQ_CB3[5] : TQ_CB3[4]);
    } else {
        float a = (m & 2u) != 0u ? ((m & 1u) != 0u ? TQ_CB4[11] : TQ_CB4[10])
                                 : ((m & 1u) != 0u ? TQ_CB4[9] : TQ_CB4[8]);
        float b = (m & 2u) != 0u ? ((m & 1u) != 0u ? TQ_CB4[15] : TQ_CB4[14])
                                 : ((m & 1u) != 0u ? TQ_CB4[13] : TQ_CB4[12]);
        mag = (m & 4u) != 0u ? b : a;
    }
    return neg ? -mag : mag;
}
