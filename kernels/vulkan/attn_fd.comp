#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_shuffle : enable
// attn_fd: decode attention as a flash-decoding kernel for GPUs (few query rows, long
// context). One workgroup = (context split, block of RB query rows, kv head, sequence).
//
// The 128 threads form NT = 128 / TL teams of TL lanes. A team handles B consecutive
// keys per step; lane l of a team owns the 8-element chunks l, l + TL, ... of a row
// (NCH chunks), so the lanes of a team read consecutive words of each K/V row. Every
// lane keeps its chunks of Q (rotated once, pre-scaled) and of the V accumulators of
// all RB rows in registers: K/V bytes are read once per workgroup for all query heads
// of the GQA group. The block scale / turbo norm of a chunk is folded into the lane's
// partial dot product (K) and into the softmax weight (V), never applied per element.
//
// The per-key dot product is summed over the team's lanes either with subgroup
// shuffles (SG_REDUCE = 1: the host only selects it when the device's subgroup size is
// fixed and >= TL; teams are then made of subgroup lanes, independent of how
// invocations map to subgroups) or through shared memory (SG_REDUCE = 0 or 2: any subgroup
// size). Each team runs its own online softmax; the teams are merged once at the end
// and the split's partial (max, sum, acc[D]) goes to scratch like attn.comp's.
#include "tq_common.glsl"

layout(local_size_x = 128) in;
layout(constant_id = 0) const uint K_TYPE_SPEC = 0;   // 255: from push constants
layout(constant_id = 1) const uint V_TYPE_SPEC = 0;
layout(constant_id = 2) const uint D = 128;           // stored elements of a K and V row
layout(constant_id = 3) const uint RB = 4;            // query rows per workgroup (<= 8)
layout(constant_id = 4) const uint TL = 16;           // lanes per team (power of 2, <= 32)
layout(constant_id = 5) const uint B = 4;             // keys per team per step
layout(constant_id = 6) const uint VARIANT = 0;
layout(constant_id = 7) const uint MODE = 0;
layout(constant_id = 8) const uint SG_REDUCE = 0;     // 0 shared, 1 subgroup, 2 transposed shared
layout(constant_id = 9) const uint SMX = 0;           // 1: row-owner softmax (SG_REDUCE 2, RB <= TL)

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

const uint NT = 128u / TL;              // teams
const uint NCH = D / (8u * TL);         // 8-element chunks per lane
const uint NSTEP = NT * B;              // keys per workgroup step
const float NEG = -3.0e38;

shared float sh_q[RB * D];
shared float sh_o[RB * D];
shared float sh_tm[NT * RB], sh_tl[NT * RB];
// SG_REDUCE 0: every lane sums all B * RB values over the team's TL lanes (B * RB * TL loads
// per lane and step). 2: lane l sums only values l, l + TL, ... and the sums are shared
// back (about B * RB * 2 loads per lane); rows padded to TL + 1 so that the lanes of a
// warp reading different values hit different banks.
const uint RSTR = SG_REDUCE == 2u ? TL + 1u : TL;
shared float sh_red[SG_REDUCE == 1u ? 1u : NT * B * RB * RSTR];
shared float sh_sum[SG_REDUCE == 2u ? NT * B * RB : 1u];
shared float sh_al[SMX == 1u ? NT * RB : 1u];
shared float sh_cbk[16], sh_cbv[16];

#define DEC_NAME dec8r_k
#define DEC_IDX8 dec8r_idx8_k
#define DEC_CVAL dec8r_cval_k
#define DEC_BUF kbuf
#define DEC_TYPE K_TYPE
#define DEC_CB sh_cbk
#include "tq_dec8r.glsl"
#undef DEC_NAME
#undef DEC_IDX8
#undef DEC_CVAL
#undef DEC_BUF
#undef DEC_TYPE
#undef DEC_CB
#define DEC_NAME dec8r_v
#define DEC_IDX8 dec8r_idx8_v
#define DEC_CVAL dec8r_cval_v
#define DEC_BUF vbuf
#define DEC_TYPE V_TYPE
#define DEC_CB sh_cbv
#include "tq_dec8r.glsl"

float codebook(uint type, uint i)
{
    if (type == TQ_TYPE_ID_TURBO2) return i < 4u ? TQ_CB2[i] : 0.0;
    if (type == TQ_TYPE_ID_TURBO3) return i < 8u ? TQ_CB3[i] : 0.0;
    return TQ_CB4[i & 15u];
}

// The logit of key p for a row whose visible keys are p < lim: softcap, then the mask.
float fd_logit(float x, uint p, uint lim)
{
    if (pc.softcap > 0.0)
        x = pc.softcap * tanh(clamp(x / pc.softcap, -15.0, 15.0));
    return p < lim ? x : NEG;
}

// Visible keys of query row rr (p < the result) in a split that ends at p_end.
uint fd_row_lim(uint rr, uint p_end)
{
    return rr >= pc.R ? 0u : pc.causal != 0u ? min(p_end, pc.q_pos0 + rr / pc.G + 1u) : p_end;
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

    // team and lane: from subgroup lanes when shuffles do the reduction
    uint team, lane;
    if (SG_REDUCE == 1u) {
        uint tps = gl_SubgroupSize / TL;
        team = gl_SubgroupID * tps + gl_SubgroupInvocationID / TL;
        lane = gl_SubgroupInvocationID % TL;
    } else {
        team = tid / TL;
        lane = tid % TL;
    }

    if (tid < 16u) {
        sh_cbk[tid] = codebook(K_TYPE, tid);
        sh_cbv[tid] = codebook(V_TYPE, tid);
    }
    [[dont_unroll]] for (uint f = tid; f < RB * D; f += 128u) {
        uint rl = f / D, c = f % D;
        uint r = rb * RB + rl;
        float v = 0.0;
        if (r < pc.R && c < pc.d) {
            uint i = r / pc.G, h = hk * pc.G + r % pc.G;
            v = qbuf[(pc.q_off >> 2) + ((s * pc.n_q + i) * pc.n_head + h) * pc.d + c];
        }
        sh_q[f] = v;
        sh_o[f] = 0.0;
    }
    if (tq_is_turbo(K_TYPE)) {
        // forward rotation of each 128-group of Q rows (D % 128 == 0 for turbo K)
        const uint NQG = RB * D / 128u;
        float tmp[NQG];
        for (uint g = 0u; g < NQG; g++)
            tmp[g] = 0.0;
        barrier();
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

    // Q chunks of this lane, pre-scaled
    float qr[NCH * 8u * RB];
    for (uint ch = 0u; ch < NCH; ch++)
        for (uint i = 0u; i < 8u; i++)
            for (uint r = 0u; r < RB; r++)
                qr[(ch * 8u + i) * RB + r] = sh_q[r * D + (ch * TL + lane) * 8u + i] * pc.scale;

    float acc[NCH * 8u * RB];
    for (uint a = 0u; a < NCH * 8u * RB; a++)
        acc[a] = 0.0;
    float m[RB], l[RB];
    for (uint r = 0u; r < RB; r++) {
        m[r] = NEG;
        l[r] = 0.0;
    }
    // visible positions of each row: p < lim[r]
    uint p_begin = split * pc.split_len;
    uint p_end = min(pc.n_kv, p_begin + pc.split_len);
    uint lim[RB];
    for (uint r = 0u; r < RB; r++) {
        uint rr = rb * RB + r;
        lim[r] = fd_row_lim(rr, p_end);
    }
    uint kv_row0 = (s * pc.n_kv_head + hk) * pc.n_ctx;

    // SMX: the owner lane of a row (lane r) keeps its running max and sum in mo, lo
    float mo = NEG, lo = 0.0;

    [[dont_unroll]] for (uint p0 = p_begin; p0 < p_end; p0 += NSTEP) {
        float sc[B * RB];
        float vw[B * 8u * NCH];   // decoded V values of this lane's chunks
        float vs[B * NCH];        // their scales
        [[unroll]] for (uint b = 0u; b < B; b++) {
            uint p = min(p0 + team * B + b, p_end - 1u);
            uint kb = pc.k_off + (kv_row0 + p) * pc.k_row_bytes;
            uint vb = pc.v_off + (kv_row0 + p) * pc.v_row_bytes;
            float part_[RB];
            for (uint r = 0u; r < RB; r++)
                part_[r] = 0.0;
            for (uint ch = 0u; ch < NCH; ch++) {
                uint c0 = (ch * TL + lane) * 8u;
                float kv8[8];
                float ks = dec8r_k(kb, c0, kv8);
                float vv8[8];
                vs[b * NCH + ch] = dec8r_v(vb, c0, vv8);
                for (uint i = 0u; i < 8u; i++)
                    vw[(b * NCH + ch) * 8u + i] = vv8[i];
                for (uint r = 0u; r < RB; r++) {
                    float d0 = 0.0;
                    for (uint i = 0u; i < 8u; i++)
                        d0 = fma(qr[(ch * 8u + i) * RB + r], kv8[i], d0);
                    part_[r] = fma(d0, ks, part_[r]);
                }
            }
            for (uint r = 0u; r < RB; r++)
                sc[b * RB + r] = part_[r];
        }
        // sum the partial dot products over the team's lanes
        if (SG_REDUCE == 1u) {
            [[unroll]] for (uint o = TL / 2u; o >= 1u; o >>= 1)
                for (uint k = 0u; k < B * RB; k++)
                    sc[k] += subgroupShuffleXor(sc[k], o);
        } else if (SG_REDUCE == 2u) {
            for (uint k = 0u; k < B * RB; k++)
                sh_red[(team * B * RB + k) * RSTR + lane] = sc[k];
            barrier();
            for (uint k = lane; k < B * RB; k += TL) {
                float sum = 0.0;
                for (uint j = 0u; j < TL; j++)
                    sum += sh_red[(team * B * RB + k) * RSTR + j];
                if (SMX == 1u) {   // the owner of value k also masks it
                    uint r = k % RB;
                    sum = fd_logit(sum, p0 + team * B + k / RB, fd_row_lim(rb * RB + r, p_end));
                }
                sh_sum[team * B * RB + k] = sum;
            }
            barrier();
            if (SMX == 0u)
                for (uint k = 0u; k < B * RB; k++)
                    sc[k] = sh_sum[team * B * RB + k];
        } else {
            for (uint k = 0u; k < B * RB; k++)
                sh_red[(team * B * RB + k) * TL + lane] = sc[k];
            barrier();
            for (uint k = 0u; k < B * RB; k++) {
                float sum = 0.0;
                for (uint j = 0u; j < TL; j++)
                    sum += sh_red[(team * B * RB + k) * TL + j];
                sc[k] = sum;
            }
            barrier();
        }
        // online softmax per row: sc becomes the weights exp(x - m), al the rescale of the
        // rows' accumulators
        float al[RB];
        if (SMX == 0u) {
            // every lane of a team, identically
            for (uint r = 0u; r < RB; r++) {
                float mb = NEG;
                for (uint b = 0u; b < B; b++) {
                    float x = fd_logit(sc[b * RB + r], p0 + team * B + b, lim[r]);
                    sc[b * RB + r] = x;
                    mb = max(mb, x);
                }
                float mn = max(m[r], mb);
                al[r] = m[r] <= 0.5 * NEG ? 0.0 : exp(m[r] - mn);
                m[r] = mn;
                float lsum = 0.0;
                for (uint b = 0u; b < B; b++) {
                    float x = sc[b * RB + r];
                    float e = x <= 0.5 * NEG ? 0.0 : exp(x - mn);
                    lsum += e;
                    sc[b * RB + r] = e;
                }
                l[r] = l[r] * al[r] + lsum;
            }
        } else {
            // lane r of a team owns row r: one exp per weight instead of TL
            if (lane < RB) {
                uint o = team * B * RB + lane;
                float mb = NEG;
                for (uint b = 0u; b < B; b++)
                    mb = max(mb, sh_sum[o + b * RB]);
                float mn = max(mo, mb);
                float a = mo <= 0.5 * NEG ? 0.0 : exp(mo - mn);
                mo = mn;
                float lsum = 0.0;
                for (uint b = 0u; b < B; b++) {
                    float x = sh_sum[o + b * RB];
                    float e = x <= 0.5 * NEG ? 0.0 : exp(x - mn);
                    lsum += e;
                    sh_sum[o + b * RB] = e;
                }
                lo = lo * a + lsum;
                sh_al[team * RB + lane] = a;
            }
            barrier();
            for (uint k = 0u; k < B * RB; k++)
                sc[k] = sh_sum[team * B * RB + k];
            for (uint r = 0u; r < RB; r++)
                al[r] = sh_al[team * RB + r];
        }
        for (uint r = 0u; r < RB; r++)
            for (uint ch = 0u; ch < NCH; ch++)
                for (uint i = 0u; i < 8u; i++) {
                    uint a = (ch * 8u + i) * RB + r;
                    float o = acc[a] * al[r];
                    for (uint b = 0u; b < B; b++)
                        o = fma(sc[b * RB + r] * vs[b * NCH + ch], vw[(b * NCH + ch) * 8u + i], o);
                    acc[a] = o;
                }
    }

    // merge the teams: global max per row, then each team adds its rescaled part in turn
    if (SMX == 1u) {
        if (lane < RB) {
            sh_tm[team * RB + lane] = mo;
            sh_tl[team * RB + lane] = lo;
        }
    } else if (lane == 0u) {
        for (uint r = 0u; r < RB; r++) {
            sh_tm[team * RB + r] = m[r];
            sh_tl[team * RB + r] = l[r];
        }
    }
    barrier();
    float wt[RB];
    for (uint r = 0u; r < RB; r++) {
        float M = NEG;
        for (uint k = 0u; k < NT; k++)
            M = max(M, sh_tm[k * RB + r]);
        float mt = sh_tm[team * RB + r];
        wt[r] = mt <= 0.5 * NEG ? 0.0 : exp(mt - M);
    }
    [[dont_unroll]] for (uint k = 0u; k < NT; k++) {
        if (team == k)
            for (uint ch = 0u; ch < NCH; ch++)
                for (uint i = 0u; i < 8u; i++)
                    for (uint r = 0u; r < RB; r++)
                        sh_o[r * D + (ch * TL + lane) * 8u + i] += acc[(ch * 8u + i) * RB + r] * wt[r];
        barrier();
    }
    uint row0 = (s * pc.n_kv_head + hk) * pc.R;
    uint pbase = pc.part_off >> 2;
    [[dont_unroll]] for (uint f = tid; f < RB * D; f += 128u) {
        uint rl = f / D, c = f % D;
        uint r = rb * RB + rl;
        if (r < pc.R)
            part[pbase + ((row0 + r) * pc.n_splits + split) * (D + 2u) + 2u + c] = sh_o[f];
    }
    if (tid < RB) {
        uint r = rb * RB + tid;
        if (r < pc.R) {
            float M = NEG, L = 0.0;
            for (uint k = 0u; k < NT; k++)
                M = max(M, sh_tm[k * RB + tid]);
            for (uint k = 0u; k < NT; k++) {
                float mk = sh_tm[k * RB + tid];
                if (mk > 0.5 * NEG)
                    L += sh_tl[k * RB + tid] * exp(mk - M);
            }
            uint o = pbase + ((row0 + r) * pc.n_splits + split) * (D + 2u);
            part[o] = M;
            part[o + 1u] = L;
        }
    }
}
