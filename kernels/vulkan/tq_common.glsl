// tq_common.glsl: helpers shared by the tq Vulkan kernels.
//
// Buffers are plain arrays of 32-bit words: blocks of q8_0 (34 B), q4_0 (18 B) and turbo
// (34/50/66 B) are only 2-byte aligned, so every 8- and 16-bit field is read as a shift
// of the word that holds it. This needs no 8/16-bit storage feature at all. Writes of
// partial words use atomics on just the bits a workgroup owns (see tq_store_half).
//
// Nothing here depends on the subgroup size: cross-thread work goes through shared
// memory and barriers only.
#include "tq_format_constants.h"

const uint TQ_S1[4] = uint[4](TQ_TURBO_S1_WORDS);
const uint TQ_S2[4] = uint[4](TQ_TURBO_S2_WORDS);
const float TQ_CB2[4] = float[4](TQ_TURBO2_CODEBOOK);
const float TQ_CB3[8] = float[8](TQ_TURBO3_CODEBOOK);
const float TQ_CB4[16] = float[16](TQ_TURBO4_CODEBOOK);
const float TQ_MID2[3] = float[3](TQ_TURBO2_MIDPOINTS);
const float TQ_MID3[7] = float[7](TQ_TURBO3_MIDPOINTS);
const float TQ_MID4[15] = float[15](TQ_TURBO4_MIDPOINTS);

uint tq_block_bytes(uint type)
{
    return type == TQ_TYPE_ID_F32 ? 4u : type == TQ_TYPE_ID_F16 ? 2u
         : type == TQ_TYPE_ID_Q8_0 ? uint(TQ_Q8_0_BLOCK_BYTES)
         : type == TQ_TYPE_ID_Q4_0 ? uint(TQ_Q4_0_BLOCK_BYTES)
         : type == TQ_TYPE_ID_TURBO2 ? uint(TQ_TURBO2_BLOCK_BYTES)
         : type == TQ_TYPE_ID_TURBO3 ? uint(TQ_TURBO3_BLOCK_BYTES) : uint(TQ_TURBO4_BLOCK_BYTES);
}

uint tq_block_elems(uint type)
{
    return type <= TQ_TYPE_ID_F16 ? 1u : type <= TQ_TYPE_ID_Q4_0 ? 32u : uint(TQ_TURBO_GROUP);
}

bool tq_is_turbo(uint type) { return type >= TQ_TYPE_ID_TURBO2; }

uint tq_turbo_bits(uint type) { return type == TQ_TYPE_ID_TURBO2 ? 2u : type == TQ_TYPE_ID_TURBO3 ? 3u : 4u; }

// Codebook index of element i (0..7) of an 8-element turbo group read as raw index bits
// (turbo4: 8 nibbles; turbo2/3: 8 2-bit fields) and sg (turbo3: the 8 sign bits, bit 2 of
// the index). With i a constant after unrolling this is 2-4 integer operations.
uint tq_turbo_idx(uint type, uint raw, uint sg, uint i)
{
    if (type == TQ_TYPE_ID_TURBO4)
        return (raw >> (4u * i)) & 15u;
    uint idx = (raw >> (2u * i)) & 3u;
    if (type == TQ_TYPE_ID_TURBO3)
        idx |= (i <= 2u ? sg << (2u - i) : sg >> (i - 2u)) & 4u;   // sign bit i -> bit 2
    return idx;
}

// Bit 0 of x as 1.0 or 1.5, for the readbytes profiling mode: it must use every byte read
// without adding work of its own (an integer-to-float conversion per element would).
float tq_bit_to_f(uint x) { return uintBitsToFloat(0x3f800000u | ((x & 1u) << 22)); }

// q4_0 nibble n at bit sh of x: float(n) - 8, exactly, without an integer-to-float
// conversion: float(2^23 + n) - (2^23 + 8) is exact in fp32. On the H100 q4_0 decode
// attention at ctx 131072 went from 280 to 256 us.
float tq_u4m8_to_f(uint x, uint sh)
{
    return uintBitsToFloat(((x >> sh) & 15u) | 0x4b000000u) - 8388616.0;
}

float tq_sign(uint words0, uint words1, uint words2, uint words3, uint j)
{
    uint w = j < 64u ? (j < 32u ? words0 : words1) : (j < 96u ? words2 : words3);
    return ((w >> (j & 31u)) & 1u) != 0u ? -1.0 : 1.0;
}
float tq_s1(uint j) { return ((TQ_S1[j >> 5] >> (j & 31u)) & 1u) != 0u ? -1.0 : 1.0; }
float tq_s2(uint j) { return ((TQ_S2[j >> 5] >> (j & 31u)) & 1u) != 0u ? -1.0 : 1.0; }

// IEEE binary16 -> binary32, exact (subnormals included) and independent of the
// driver's denormal mode.
float tq_half_to_float(uint h)
{
    uint sgn = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu;
    uint m = h & 0x3ffu;
    if (e == 0u) {
        float v = float(m) * (1.0 / 16777216.0);
        return (sgn != 0u) ? -v : v;
    }
    if (e == 31u)
        return uintBitsToFloat(sgn | 0x7f800000u | (m << 13));
    return uintBitsToFloat(sgn | ((e + 112u) << 23) | (m << 13));
}

// binary32 -> binary16, round to nearest even (packHalf2x16's rounding is not specified).
uint tq_float_to_half(float f)
{
    uint x = floatBitsToUint(f);
    uint sgn = (x >> 16) & 0x8000u;
    uint ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)
        return sgn | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (ax >= 0x477ff000u)
        return sgn | 0x7c00u;
    if (ax < 0x38800000u) {
        if (ax <= 0x33000000u)
            return sgn;
        uint e = ax >> 23;
        uint m = (ax & 0x7fffffu) | 0x800000u;
        uint s = 126u - e;
        uint q = m >> s;
        uint rem = m & ((1u << s) - 1u);
        uint half_ = 1u << (s - 1u);
        if (rem > half_ || (rem == half_ && (q & 1u) != 0u))
            q++;
        return sgn | q;
    }
    uint q = (((ax >> 23) - 112u) << 10) | ((ax & 0x7fffffu) >> 13);
    uint rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u) != 0u))
        q++;
    return sgn | q;
}

// Correctly rounded a / b and sqrt(a) (GLSL's are only accurate to ~2.5 ulp; the
// quantizers must take the reference's decisions).
float tq_div(float a, float b)
{
    precise float y = 1.0 / b;
    precise float e = fma(-b, y, 1.0);
    y = fma(e, y, y);
    precise float q = a * y;
    precise float r = fma(-q, b, a);
    return fma(r, y, q);
}

float tq_sqrt(float a)
{
    if (a <= 0.0)
        return 0.0;
    precise float s = sqrt(a);
    precise float r = fma(-s, s, a);
    return fma(r, tq_div(0.5, s), s);
}

// a * b with the IEEE sign of a zero product (drivers may drop signed zeros unless the
// module declares SignedZeroInfNanPreserve; dequantize must be bit-exact).
float tq_mul_exact(float a, float b)
{
    float r = a * b;
    if (r == 0.0)
        r = uintBitsToFloat((floatBitsToUint(a) ^ floatBitsToUint(b)) & 0x80000000u);
    return r;
}

// roundf(): half away from zero, exact.
float tq_round_away(float v)
{
    float t = trunc(v);
    if (abs(v - t) >= 0.5)
        t += sign(v);
    return t;
}
