/*
 * tq_formats_internal.h: helpers shared by the scalar reference and the backends that
 * link tq_formats_static (not part of the public API; hidden in libtq).
 *
 * Everything here derives from kernels/tq_format_constants.h; nothing retypes a value.
 */
#ifndef TQ_FORMATS_INTERNAL_H
#define TQ_FORMATS_INTERNAL_H

#include <stdint.h>

#include "tq/tq.h"
#include "tq_blocks.h"

/* Sign word tables (4 little-endian words each: bit j%32 of word j/32 set = element -1). */
extern const uint32_t tq_fmt_s1_words[TQ_TURBO_GROUP / 32];
extern const uint32_t tq_fmt_s2_words[TQ_TURBO_GROUP / 32];

/* 1 if element j of s1 (or s2) is -1, else 0. */
static inline uint32_t tq_fmt_s1_negative(uint32_t j)
{
    return (tq_fmt_s1_words[j >> 5] >> (j & 31)) & 1u;
}
static inline uint32_t tq_fmt_s2_negative(uint32_t j)
{
    return (tq_fmt_s2_words[j >> 5] >> (j & 31)) & 1u;
}

/* Turbo type <-> index bits: 2, 3, 4 for turbo2/3/4, 0 for anything else. */
uint32_t tq_fmt_turbo_bits(tq_type type);

/* Full codebook (2^bits entries, index order) and its 2^bits - 1 midpoints; NULL for a
 * bit count other than 2, 3, 4. */
const float *tq_fmt_turbo_codebook(uint32_t bits);
const float *tq_fmt_turbo_midpoints(uint32_t bits);

/* Index of element j (0..127) of a turbo block, and the setter used by quantize (the
 * block must start zeroed). block points at the block's first byte (2-byte aligned). */
uint32_t tq_fmt_turbo_get_index(uint32_t bits, const uint8_t *block, uint32_t j);
void     tq_fmt_turbo_set_index(uint32_t bits, uint8_t *block, uint32_t j, uint32_t idx);

/* The corrected norm of a block, as fp16 bits and as float. */
uint16_t tq_fmt_turbo_norm_bits(const uint8_t *block);

/* The unnormalised in-place Walsh-Hadamard butterfly on 128 values, strides 1..64,
 * (a, b) -> (a + b, a - b). The float version is the one quantize uses; its operation
 * order is part of the reference's bit-exact behaviour. */
void tq_fmt_fwht128(float x[TQ_TURBO_GROUP]);
void tq_fmt_fwht128_d(double x[TQ_TURBO_GROUP]);

/* forward/inverse rotation in double precision, scale 1/sqrt(128) exact in double. */
void tq_fmt_rotate_forward_d(double x[TQ_TURBO_GROUP]);
void tq_fmt_rotate_inverse_d(double x[TQ_TURBO_GROUP]);

/* Dequantizes one row (n logical elements, valid for type) to double in the ORIGINAL
 * domain: turbo groups are dequantized in float (rotated domain) and then inverse-rotated
 * in double. dst holds tq_type_padded_elems(type, n) doubles; tmp holds that many floats. */
void tq_fmt_dequantize_row_d(tq_type type, const void *src, int64_t n, double *dst, float *tmp);

#endif /* TQ_FORMATS_INTERNAL_H */
