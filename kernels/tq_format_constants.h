/*
 * tq_format_constants.h: the ONE definition of the KV-cache format constants.
 *
 * This file is consumed unchanged by host C (runtime, CPU backend, tests), by OpenCL C
 * (prepended to the kernel source at build time) and by GLSL (glslc -I kernels). It may
 * therefore contain only preprocessor definitions whose values are valid literals in all
 * three languages: integers, unsigned integers with a 'u' suffix and floats with an 'f'
 * suffix. No types, no arrays, no C-only syntax. Each language builds its own tables
 * from the comma-separated lists below, e.g.
 *     C:      static const float cb[8] = { TQ_TURBO3_CODEBOOK };
 *     OpenCL: __constant float cb[8] = { TQ_TURBO3_CODEBOOK };
 *     GLSL:   const float cb[8] = float[8](TQ_TURBO3_CODEBOOK);
 *
 * The values are the normative facts of docs/formats.md (TurboQuant, arXiv 2504.19874,
 * as laid out by the public llama.cpp TurboQuant fork after its June 2026 codebook fix).
 * Changing any value here changes the on-disk/in-memory block format: the known-answer
 * tests in tests/ are there to make that impossible to do by accident.
 */
#ifndef TQ_FORMAT_CONSTANTS_H
#define TQ_FORMAT_CONSTANTS_H

/* Type ids (match enum tq_type in tq.h; kernels switch on them). */
#define TQ_TYPE_ID_F32    0
#define TQ_TYPE_ID_F16    1
#define TQ_TYPE_ID_Q8_0   2
#define TQ_TYPE_ID_Q4_0   3
#define TQ_TYPE_ID_TURBO2 4
#define TQ_TYPE_ID_TURBO3 5
#define TQ_TYPE_ID_TURBO4 6
#define TQ_TYPE_ID_COUNT  7

/* ggml baselines: 32 elements per block, fp16 scale first. */
#define TQ_QK8_0             32
#define TQ_Q8_0_BLOCK_BYTES  34   /* fp16 d; int8 qs[32] */
#define TQ_QK4_0             32
#define TQ_Q4_0_BLOCK_BYTES  18   /* fp16 d; uint8 qs[16]; x = d*(nibble-8) */

/* Turbo blocks: one 128-element rotation group each. */
#define TQ_TURBO_GROUP        128
#define TQ_TURBO_LOG2_GROUP   7
#define TQ_TURBO_NORM_OFFSET  0    /* fp16 corrected norm */
#define TQ_TURBO_QS_OFFSET    2    /* packed low index bits */
#define TQ_TURBO2_BLOCK_BYTES 34   /* norm; qs[32]: 2-bit index, 4 per byte, element j in bits 2*(j%4) */
#define TQ_TURBO3_BLOCK_BYTES 50   /* norm; qs[32]: low 2 bits; signs[16]: bit 2 of the index, 8 per byte */
#define TQ_TURBO3_SIGNS_OFFSET 34
#define TQ_TURBO4_BLOCK_BYTES 66   /* norm; qs[64]: 4-bit index, even element in the low nibble */

/* 1/sqrt(128): the normalisation of the unnormalised 128-point Hadamard transform. */
#define TQ_TURBO_INV_SQRT_GROUP 0.0883883476483184405f

/* A group whose L2 norm is at or below this is stored as all zeros (norm 0). The same
 * threshold guards the corrected-norm division (r <= eps keeps the plain norm). */
#define TQ_TURBO_ZERO_EPS 1e-10f

/* Lloyd-Max codebooks for unit vectors of dimension 128, full tables in index order
 * (index 0 = most negative centroid). */
#define TQ_TURBO2_CODEBOOK \
    -0.133462f, -0.039994f, 0.039994f, 0.133462f
#define TQ_TURBO3_CODEBOOK \
    -0.190207f, -0.118786f, -0.066822f, -0.021663f, \
     0.021663f,  0.066822f,  0.118786f,  0.190207f
#define TQ_TURBO4_CODEBOOK \
    -0.241529f, -0.182877f, -0.143016f, -0.111036f, \
    -0.083292f, -0.058050f, -0.034299f, -0.011349f, \
     0.011349f,  0.034299f,  0.058050f,  0.083292f, \
     0.111036f,  0.143016f,  0.182877f,  0.241529f

/* Decision midpoints between neighbouring centroids, as float32 values of
 * (c[i] + c[i+1]) / 2 computed in float32. Nearest centroid: idx = number of midpoints m
 * with !(y < m); a value exactly on a midpoint takes the upper index, 0.0 takes 2^b/2. */
#define TQ_TURBO2_MIDPOINTS \
    -0.0867279992f, 0.0f, 0.0867279992f
#define TQ_TURBO3_MIDPOINTS \
    -0.154496506f, -0.0928039998f, -0.0442425013f, 0.0f, \
     0.0442425013f, 0.0928039998f, 0.154496506f
#define TQ_TURBO4_MIDPOINTS \
    -0.212202996f, -0.162946492f, -0.127025992f, -0.097164005f, \
    -0.0706709996f, -0.0461745001f, -0.0228240006f, 0.0f, \
     0.0228240006f, 0.0461745001f, 0.0706709996f, 0.097164005f, \
     0.127025992f, 0.162946492f, 0.212202996f

/* Rotation sign vectors s1, s2 of forward(x) = D(s2) (1/sqrt(128)) H D(s1) x, as four
 * little-endian 32-bit words each: bit (j % 32) of word (j / 32) is 1 when element j is -1.
 * Hex bytes: s1 = 59036ae44959f842bb3bc6a4a950f249 (60 negatives),
 *            s2 = 90eeac16dc8f623f7a35a5b76265a5be (70 negatives). */
#define TQ_TURBO_S1_WORDS 0xe46a0359u, 0x42f85949u, 0xa4c63bbbu, 0x49f250a9u
#define TQ_TURBO_S2_WORDS 0x16acee90u, 0x3f628fdcu, 0xb7a5357au, 0xbea56562u

#endif /* TQ_FORMAT_CONSTANTS_H */
