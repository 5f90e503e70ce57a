#version 450
// dequantize: one workgroup per 128-element chunk of one row, bit-exact with the
// reference (exact fp16 decode, one multiply, unfused); turbo optionally inverse-rotated.
#include "tq_common.glsl"

layout(local_size_x = 128) in;
layout(constant_id = 0) const uint SRC_TYPE = 0;
layout(constant_id = 1) const uint INVERSE = 0;

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform PC {
    uint base;
    uint chunks;          // 128-chunks per (padded) row
    uint ne0;             // logical elements per row
    uint src_off, src_row_bytes;
    uint dst_off;         // bytes (multiple of 4)
    uint dst_row_elems;   // padded elements per row
} pc;

#include "tq_io.glsl"
#define BUF src
#include "tq_decode.glsl"

shared float sh_x[128];

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint w = pc.base + gl_WorkGroupID.x;
    uint chunk = w % pc.chunks;
    uint row = w / pc.chunks;
    uint e = chunk * 128u + tid;
    uint rbase = pc.src_off + row * pc.src_row_bytes;
    bool inside = e < pc.dst_row_elems;
    float v = inside ? tq_decode_elem(SRC_TYPE, rbase, e) : 0.0;
    if (tq_is_turbo(SRC_TYPE) && INVERSE != 0u) {
        // inverse(y) = D(s1) (1/sqrt(128)) H D(s2) y, butterflies with strides 1..64.
        sh_x[tid] = v * tq_s2(tid);
        barrier();
        for (uint st = 1u; st < 128u; st <<= 1) {
            float a = sh_x[tid], b = sh_x[tid ^ st];
            precise float r = (tid & st) != 0u ? b - a : a + b;
            barrier();
            sh_x[tid] = r;
            barrier();
        }
        precise float y = sh_x[tid] * TQ_TURBO_INV_SQRT_GROUP;
        v = y * tq_s1(tid);
    }
    if (inside)
        dst[(pc.dst_off >> 2) + row * pc.dst_row_elems + e] = floatBitsToUint(v);
}
