#version 450
// rotate: forward or inverse signed Walsh-Hadamard on each 128-group of F32 rows
// (rows are contiguous and ne0 % 128 == 0, so the tensor is a run of groups).
#include "tq_common.glsl"

layout(local_size_x = 128) in;
layout(constant_id = 0) const uint INVERSE = 0;

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform PC {
    uint base;
    uint src_off, dst_off;   // bytes, multiples of 4
} pc;

shared float sh_x[128];

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint g = pc.base + gl_WorkGroupID.x;
    float v = uintBitsToFloat(src[(pc.src_off >> 2) + g * 128u + tid]);
    sh_x[tid] = v * (INVERSE != 0u ? tq_s2(tid) : tq_s1(tid));
    barrier();
    for (uint st = 1u; st < 128u; st <<= 1) {
        float a = sh_x[tid], b = sh_x[tid ^ st];
        precise float r = (tid & st) != 0u ? b - a : a + b;
        barrier();
        sh_x[tid] = r;
        barrier();
    }
    precise float y = sh_x[tid] * TQ_TURBO_INV_SQRT_GROUP;
    y = y * (INVERSE != 0u ? tq_s1(tid) : tq_s2(tid));
    dst[(pc.dst_off >> 2) + g * 128u + tid] = floatBitsToUint(y);
}
