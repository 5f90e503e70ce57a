#version 450
#extension GL_EXT_control_flow_attributes : require
// attention, split along the context (flash-decoding), also used for prefill.
//
// One workgroup = (context split, block of RB query rows, kv head, sequence). The rows
// of a block are the query heads of one kv group times query tokens (r = token * G +
// head-in-group), so every K/V tile is decoded ONCE into shared memory and used by all
// query heads of the group (GQA). Per tile: decode K -> scores (scale, softcap, causal
// mask) -> online softmax -> decode V -> accumulate. The split's partial (max, sum,
// acc[DV]) goes to scratch; attn_reduce.comp combines the splits.
//
// Turbo K: Q is rotated once (shared memory) and dotted with rotated-domain keys.
// Turbo V: accumulation stays rotated; the reduce pass applies the inverse once.
// No subgroup operations: correct at any subgroup size.
#include "tq_common.glsl"

// Loops over spec-constant bounds are kept rolled ([[dont_unroll]], 4-wide bodies for
// ILP): fully unrolled they cost lavapipe's LLVM 10+ s per pipeline.
layout(local_size_x = 128) in;
// K_TYPE/V_TYPE = 255: the types come from push constants (one pipeline serves every K/V
// pair; used on CPU devices where each pipeline costs seconds of LLVM time).
layout(constant_id = 0) const uint K_TYPE_SPEC = 0;
layout(constant_id = 1) const uint V_TYPE_SPEC = 0;
layout(constant_id = 2) const uint DK = 128;   // stored (padded) elements of a K row
layout(constant_id = 3) const uint DV = 128;
layout(constant_id = 4) const uint RB = 4;     // query rows per workgroup
layout(constant_id = 5) const uint TT = 32;    // positions per tile
layout(constant_id = 6) const uint VARIANT = 0;
layout(constant_id = 7) const uint MODE = 0;

#define VARIANT_TABLE 0u
#define VARIANT_MAGSIGN 1u
#define VARIANT_ARITH 2u
#define MODE_FULL 0u
#define MODE_NODEQUANT 1u
#define MODE_NORMSONLY 2u
#define MODE_READBYTES 3u
#define MODE_INDICES 4u

layout(std430, binding = 0) readonly buffer Q { float qbuf[]; };
layout(std430, binding = 1) readonly buffer K { uint kbuf[]; };
layout(std430, binding = 2) readonly buffer V { uint vbuf[]; };
layout(std430, binding = 3) writeonly buffer P { float part[]; };

layout(push_constant) uniform PC {
    uint base;
    uint n_kv, n_q, G, R, n_rb, n_splits, split_len;
    uint q_off, k_off, k_row_bytes, v_off, v_row_bytes;
    uint n_ctx, n_kv_head, n_head, d;
    float scale, softcap;
    uint causal, q_pos0;
    uint part_off;
    uint k_type, v_type;
} pc;

#define K_TYPE (K_TYPE_SPEC == 255u ? pc.k_type : K_TYPE_SPEC)
#define V_TYPE (V_TYPE_SPEC == 255u ? pc.v_type : V_TYPE_SPEC)

#include "tq_io.glsl"

const uint DMAX = DK > DV ? DK : DV;
const uint KS = DMAX + 1u;                 // odd stride: conflict-free column reads
const uint NACC = (RB * DV + 127u) / 128u; // accumulators per thread
const uint NQG = (RB * DK + 127u) / 128u;  // 128-groups of Q in shared memory
const float NEG = -3.0e38;

shared float sh_q[RB * DK];
shared float sh_kv[TT * KS];
shared float sh_s[RB * TT];
shared float sh_m[RB], sh_l[RB], sh_alpha[RB];
shared float sh_cbk[16], sh_cbv[16];

#define DEC_NAME dec8_k
#define DEC_IDX8 dec8_idx8_k
#define DEC_CVAL dec8_cval_k
#define DEC_BUF kbuf
#define DEC_TYPE K_TYPE
#define DEC_CB sh_cbk
#include "tq_dec8.glsl"
#undef DEC_NAME
#undef DEC_IDX8
#undef DEC_CVAL
#undef DEC_BUF
#undef DEC_TYPE
#undef DEC_CB
#define DEC_NAME dec8_v
#define DEC_IDX8 dec8_idx8_v
#define DEC_CVAL dec8_cval_v
#define DEC_BUF vbuf
#define DEC_TYPE V_TYPE
#define DEC_CB sh_cbv
#include "tq_dec8.glsl"

float codebook(uint type, uint i)
{
    if (type == TQ_TYPE_ID_TURBO2) return i < 4u ? TQ_CB2[i] : 0.0;
    if (type == TQ_TYPE_ID_TURBO3) return i < 8u ? TQ_CB3[i] : 0.0;
    return TQ_CB4[i & 15u];
}

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint w = pc.base + gl_WorkGroupID.x;
    uint split = w % pc.n_splits;
    uint t = w / pc.n_splits;
    uint rb = t % pc.n_rb;
    t /= pc.n_rb;
    uint hk = t % pc.n_kv_head;
    uint s = t / pc.n_kv_head;

    if (tid < 16u) {
        sh_cbk[tid] = codebook(K_TYPE, tid);
        sh_cbv[tid] = codebook(V_TYPE, tid);
    }
    if (tid < RB) {
        sh_m[tid] = NEG;
        sh_l[tid] = 0.0;
    }
    // Q rows of this block (zero-padded to DK).
    [[dont_unroll]] for (uint f = tid; f < RB * DK; f += 128u) {
        uint rl = f / DK, c = f % DK;
        uint r = rb * RB + rl;
        float v = 0.0;
        if (r < pc.R && c < pc.d) {
            uint i = r / pc.G, h = hk * pc.G + r % pc.G;
            v = qbuf[(pc.q_off >> 2) + ((s * pc.n_q + i) * pc.n_head + h) * pc.d + c];
        }
        sh_q[f] = v;
    }
    if (tq_is_turbo(K_TYPE)) {
        // forward rotation of each 128-group of Q; element tid of every group per thread
        float tmp[NQG];
        for (uint g = 0u; g < NQG; g++)
            tmp[g] = sh_q[g * 128u + tid] * tq_s1(tid);
        [[dont_unroll]] for (uint st = 1u; st < 128u; st <<= 1) {
            barrier();
            for (uint g = 0u; g < NQG; g++)
                sh_q[g * 128u + tid] = tmp[g];
            barrier();
            for (uint g = 0u; g < NQG; g++) {
                float a = sh_q[g * 128u + tid], b = sh_q[g * 128u + (tid ^ st)];
                tmp[g] = (tid & st) != 0u ? b - a : a + b;
            }
        }
        barrier();
        for (uint g = 0u; g < NQG; g++)
            sh_q[g * 128u + tid] = tmp[g] * TQ_TURBO_INV_SQRT_GROUP * tq_s2(tid);
    }
    barrier();

    float acc[NACC];
    for (uint a = 0u; a < NACC; a++)
        acc[a] = 0.0;

    uint p_begin = split * pc.split_len;
    uint p_end = min(pc.n_kv, p_begin + pc.split_len);
    uint r_last = min(pc.R, rb * RB + RB) - 1u;
    if (pc.causal != 0u)
        p_end = min(p_end, pc.q_pos0 + r_last / pc.G + 1u);

    uint kv_row0 = (s * pc.n_kv_head + hk) * pc.n_ctx;
    const uint K8 = DK / 8u, V8 = DV / 8u;

    for (uint p0 = p_begin; p0 < p_end; p0 += TT) {
        // A: decode the K tile
        [[dont_unroll]] for (uint u = tid; u < TT * K8; u += 128u) {
            uint j = u / K8, c0 = (u % K8) * 8u;
            uint p = p0 + j;
            if (p < p_end)
                dec8_k(pc.k_off + (kv_row0 + p) * pc.k_row_bytes, c0, j * KS + c0);
            else
                for (uint i = 0u; i < 8u; i++) sh_kv[j * KS + c0 + i] = 0.0;
        }
        barrier();
        // B: scores
        [[dont_unroll]] for (uint pr = tid; pr < RB * TT; pr += 128u) {
            uint rl = pr / TT, j = pr % TT;
            uint r = rb * RB + rl, p = p0 + j;
            float sc = NEG;
            bool visible = r < pc.R && p < p_end &&
                           (pc.causal == 0u || p <= pc.q_pos0 + r / pc.G);
            if (visible) {
                float d0 = 0.0, d1 = 0.0, d2 = 0.0, d3 = 0.0;
                uint qo = rl * DK, ko = j * KS;
                [[dont_unroll]] for (uint c = 0u; c < DK; c += 4u) {
                    d0 += sh_q[qo + c] * sh_kv[ko + c];
                    d1 += sh_q[qo + c + 1u] * sh_kv[ko + c + 1u];
                    d2 += sh_q[qo + c + 2u] * sh_kv[ko + c + 2u];
                    d3 += sh_q[qo + c + 3u] * sh_kv[ko + c + 3u];
                }
                float dot = (d0 + d1) + (d2 + d3);
                sc = dot * pc.scale;
                if (pc.softcap > 0.0)
                    sc = pc.softcap * tanh(clamp(sc / pc.softcap, -15.0, 15.0));
            }
            sh_s[pr] = sc;
        }
        barrier();
        // C: running max per row; decode the V tile meanwhile (K is no longer needed)
        if (tid < RB) {
            float mt = NEG;
            [[dont_unroll]] for (uint j = 0u; j < TT; j++)
                mt = max(mt, sh_s[tid * TT + j]);
            float mo = sh_m[tid];
            float mn = max(mo, mt);
            sh_alpha[tid] = (mo <= 0.5 * NEG) ? 0.0 : exp(mo - mn);
            sh_m[tid] = mn;
        }
        [[dont_unroll]] for (uint u = tid; u < TT * V8; u += 128u) {
            uint j = u / V8, c0 = (u % V8) * 8u;
            uint p = p0 + j;
            if (p < p_end)
                dec8_v(pc.v_off + (kv_row0 + p) * pc.v_row_bytes, c0, j * KS + c0);
            else
                for (uint i = 0u; i < 8u; i++) sh_kv[j * KS + c0 + i] = 0.0;
        }
        barrier();
        // D: probabilities
        [[dont_unroll]] for (uint pr = tid; pr < RB * TT; pr += 128u) {
            float sc = sh_s[pr];
            sh_s[pr] = sc <= 0.5 * NEG ? 0.0 : exp(sc - sh_m[pr / TT]);
        }
        barrier();
        // E: row sums and accumulation
        if (tid < RB) {
            float sum = 0.0;
            [[dont_unroll]] for (uint j = 0u; j < TT; j++)
                sum += sh_s[tid * TT + j];
            sh_l[tid] = sh_l[tid] * sh_alpha[tid] + sum;
        }
        for (uint a = 0u; a < NACC; a++) {
            uint f = tid + a * 128u;
            if (f < RB * DV) {
                uint rl = f / DV, c = f % DV;
                float o0 = 0.0, o1 = 0.0, o2 = 0.0, o3 = 0.0;
                uint so = rl * TT;
                [[dont_unroll]] for (uint j = 0u; j < TT; j += 4u) {
                    o0 += sh_s[so + j] * sh_kv[j * KS + c];
                    o1 += sh_s[so + j + 1u] * sh_kv[(j + 1u) * KS + c];
                    o2 += sh_s[so + j + 2u] * sh_kv[(j + 2u) * KS + c];
                    o3 += sh_s[so + j + 3u] * sh_kv[(j + 3u) * KS + c];
                }
                acc[a] = acc[a] * sh_alpha[rl] + ((o0 + o1) + (o2 + o3));
            }
        }
        barrier();
    }

    // partials: [row][split] -> (m, l, acc[DV])
    uint row0 = (s * pc.n_kv_head + hk) * pc.R;
    uint pbase = pc.part_off >> 2;
    for (uint a = 0u; a < NACC; a++) {
        uint f = tid + a * 128u;
        if (f < RB * DV) {
            uint rl = f / DV, c = f % DV;
            uint r = rb * RB + rl;
            if (r < pc.R)
                part[pbase + ((row0 + r) * pc.n_splits + split) * (DV + 2u) + 2u + c] = acc[a];
        }
    }
    if (tid < RB) {
        uint r = rb * RB + tid;
        if (r < pc.R) {
            uint o = pbase + ((row0 + r) * pc.n_splits + split) * (DV + 2u);
            part[o] = sh_m[tid];
            part[o + 1u] = sh_l[tid];
        }
    }
}
