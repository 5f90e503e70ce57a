#version 450
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

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint row = pc.base + gl_WorkGroupID.x;   // (s * n_kv_head + hk) * R + r
    uint r = row % pc.R;
    uint t = row / pc.R;
    uint hk = t % pc.n_kv_head;
    uint s = t / pc.n_kv_head;
    uint pb = (pc.part_off >> 2) + row * pc.n_splits * (DV + 2u);

    float M = NEG;
    for (uint k = 0u; k < pc.n_splits; k++)
        M = max(M, part[pb + k * (DV + 2u)]);
    float L = 0.0;
    float o[NO];
    for (uint i = 0u; i < NO; i++)
        o[i] = 0.0;
    for (uint k = 0u; k < pc.n_splits; k++) {
        uint b = pb + k * (DV + 2u);
        float m = part[b];
        if (m <= 0.5 * NEG)
            continue;
        float wgt = exp(m - M);
        L += part[b + 1u] * wgt;
        for (uint i = 0u; i < NO; i++) {
            uint c = tid + 128u * i;
            if (c < DV)
                o[i] += part[b + 2u + c] * wgt;
        }
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
