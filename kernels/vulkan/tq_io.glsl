// tq_io.glsl: byte/half access to word buffers. Include after declaring the buffers.
#define TQ_RD32(BUF, b) (BUF[(b) >> 2])
#define TQ_RD16(BUF, b) ((BUF[(b) >> 2] >> (((b) & 2u) << 3)) & 0xffffu)
#define TQ_RD8(BUF, b)  ((BUF[(b) >> 2] >> (((b) & 3u) << 3)) & 0xffu)

// Stores the halves sh_halves[0 .. nbytes/2) at byte B (even) of BUF. Words wholly inside
// the range are stored plainly; a word shared with a neighbouring block (written by
// another workgroup, or not written at all) is updated with atomics on our bits only.
#define TQ_STORE_HALVES(BUF, B, nbytes, sh_halves, tid) \
    { \
        uint w0_ = (B) >> 2, w1_ = ((B) + (nbytes) - 1u) >> 2; \
        for (uint w_ = w0_ + (tid); w_ <= w1_; w_ += gl_WorkGroupSize.x) { \
            uint lo_b = w_ * 4u, hi_b = lo_b + 2u; \
            bool lo_in = lo_b >= (B) && lo_b < (B) + (nbytes); \
            bool hi_in = hi_b >= (B) && hi_b < (B) + (nbytes); \
            uint lo_v = lo_in ? sh_halves[(lo_b - (B)) >> 1] : 0u; \
            uint hi_v = hi_in ? sh_halves[(hi_b - (B)) >> 1] : 0u; \
            if (lo_in && hi_in) { \
                BUF[w_] = lo_v | (hi_v << 16); \
            } else if (lo_in) { \
                atomicAnd(BUF[w_], 0xffff0000u); \
                atomicOr(BUF[w_], lo_v); \
            } else if (hi_in) { \
                atomicAnd(BUF[w_], 0x0000ffffu); \
                atomicOr(BUF[w_], hi_v << 16); \
            } \
        } \
    }
