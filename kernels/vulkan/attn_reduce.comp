#version 450
#extension GL_EXT_control_flow_attributes : require
// attn_reduce: combines the context splits of attn.comp for one output row
// (softmax-weighted by each split's max), divides by the total sum, applies the inverse
// rotation once when V is a turbo type, and writes the first d elements.
#include "tq_common.glsl"

layout(local_size_x = 128) in;
layout(constant_id = 0) const uint DV = 128;
layout(constant_id = 1) const uint V_TURBO = 0;

layout(std430, binding = 0) readonly buffer P { float part[]; };
layout(std430, binding = 1) writeonly buffer O { float outb[]; };

layout(push_constant) uniform PC {
    uint base;
    uint n_splits, R, G, n_q, n_head, n_kv_head, d;
    uint part_off, out_off;
} pc;

const float NEG = -3.0e38;
const uint NO = (DV + 127u) / 128u;
shared float sh_o[NO * 128u];
const uint NC = (DV + 31u) / 32u;
shared float sh_red[128];
shared float sh_part[4u * DV];

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint row = pc.base + gl_WorkGroupID.x;   // (s * n_kv_head + hk) * R + r
    uint r = row % pc.R;
    uint t = row / pc.R;
    uint hk = t % pc.n_kv_head;
    uint s = t / pc.n_kv_head;
    uint pb = (pc.part_off >> 2) + row * pc.n_splits * (DV + 2u);

    // The splits are shared out among 4 groups of 32 threads (columns c = tid % 32 + 32 j),
    // so many loads are in flight: a serial walk over ~100 splits would be latency-bound.
    uint cg = tid & 31u, kg = tid >> 5;
    float M = NEG;
    for (uint k = tid; k < pc.n_splits; k += 128u)
        M = max(M, part[pb + k * (DV + 2u)]);
    sh_red[tid] = M;
    barrier();
    M = NEG;
    for (uint k = 0u; k < 128u; k++)
        M = max(M, sh_red[k]);
    barrier();
    float L = 0.0;
    float oc[NC];
    for (uint j = 0u; j < NC; j++)
        oc[j] = 0.0;
    [[dont_unroll]] for (uint k = kg; k < pc.n_splits; k += 4u) {
        uint b = pb + k * (DV + 2u);
        float m = part[b];
        float wgt = m <= 0.5 * NEG ? 0.0 : exp(m - M);
        L += part[b + 1u] * wgt;
        for (uint j = 0u; j < NC; j++) {
            uint c = cg + 32u * j;
            if (c < DV)
                oc[j] += part[b + 2u + c] * wgt;
        }
    }
    sh_red[tid] = cg == 0u ? L : 0.0;
    for (uint j = 0u; j < NC; j++) {
        uint c = cg + 32u * j;
        if (c < DV)
            sh_part[kg * DV + c] = oc[j];
    }
    barrier();
    L = (sh_red[0] + sh_red[32]) + (sh_red[64] + sh_red[96]);
    float o[NO];
    for (uint i = 0u; i < NO; i++) {
        uint c = tid + 128u * i;
        o[i] = c < DV ? (sh_part[c] + sh_part[DV + c]) + (sh_part[2u * DV + c] + sh_part[3u * DV + c])
                      : 0.0;
    }
    float inv = L > 0.0 ? 1.0 / L : 0.0;
    for (uint i = 0u; i < NO; i++)
        o[i] *= inv;
    if (V_TURBO != 0u) {
        for (uint i = 0u; i < NO; i++)
            o[i] *= tq_s2(tid);
        for (uint st = 1u; st < 128u; st <<= 1) {
            for (uint i = 0u; i < NO; i++)
                sh_o[i * 128u + tid] = o[i];
            barrier();
            for (uint i = 0u; i < NO; i++) {
                float a = sh_o[i * 128u + tid], b = sh_o[i * 128u + (tid ^ st)];
                o[i] = (tid & st) != 0u ? b - a : a + b;
            }
            barrier();
        }
        for (uint i = 0u; i < NO; i++)
            o[i] *= TQ_TURBO_INV_SQRT_GROUP * tq_s1(tid);
    }
    uint i_tok = r / pc.G, h = hk * pc.G + r % pc.G;
    uint ob = (pc.out_off >> 2) + ((s * pc.n_q + i_tok) * pc.n_head + h) * pc.d;
    for (uint i = 0u; i < NO; i++) {
        uint c = tid + 128u * i;
        if (c < pc.d)
            outb[ob + c] = o[i];
    }
}
