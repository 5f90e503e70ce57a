/*
 * tq_blocks.h: the in-memory block structs of the quantized types (internal).
 *
 * Built from kernels/tq_format_constants.h, the one definition of the format. Every
 * member is a uint16_t or uint8_t array, so the structs have no padding and an
 * alignment of 2: a turbo3 row (50 bytes per block) is only 2-byte aligned, and code
 * that reads blocks from a tensor should memcpy them or read bytes, never cast a
 * pointer to a wider type. The static asserts pin the sizes to the constants.
 */
#ifndef TQ_BLOCKS_H
#define TQ_BLOCKS_H

#include <stdint.h>

#include "tq_format_constants.h"

typedef struct tq_block_q8_0 {
    uint16_t d;                          /* fp16 scale */
    int8_t qs[TQ_QK8_0];                 /* x = d * qs */
} tq_block_q8_0;

typedef struct tq_block_q4_0 {
    uint16_t d;                          /* fp16 scale */
    uint8_t qs[TQ_QK4_0 / 2];            /* x = d * (nibble - 8); j<16 low, j>=16 high nibble */
} tq_block_q4_0;

typedef struct tq_block_turbo2 {
    uint16_t norm;                       /* fp16 corrected norm */
    uint8_t qs[TQ_TURBO_GROUP / 4];      /* 2-bit indices, element j in bits 2*(j%4) of qs[j/4] */
} tq_block_turbo2;

typedef struct tq_block_turbo3 {
    uint16_t norm;
    uint8_t qs[TQ_TURBO_GROUP / 4];      /* low 2 bits of the index, as turbo2 */
    uint8_t signs[TQ_TURBO_GROUP / 8];   /* bit 2 of the index (not a sign), bit j%8 of [j/8] */
} tq_block_turbo3;

typedef struct tq_block_turbo4 {
    uint16_t norm;
    uint8_t qs[TQ_TURBO_GROUP / 2];      /* 4-bit indices, even element in the low nibble */
} tq_block_turbo4;

_Static_assert(sizeof(tq_block_q8_0) == TQ_Q8_0_BLOCK_BYTES, "q8_0 block size");
_Static_assert(sizeof(tq_block_q4_0) == TQ_Q4_0_BLOCK_BYTES, "q4_0 block size");
_Static_assert(sizeof(tq_block_turbo2) == TQ_TURBO2_BLOCK_BYTES, "turbo2 block size");
_Static_assert(sizeof(tq_block_turbo3) == TQ_TURBO3_BLOCK_BYTES, "turbo3 block size");
_Static_assert(sizeof(tq_block_turbo4) == TQ_TURBO4_BLOCK_BYTES, "turbo4 block size");
_Static_assert(sizeof(uint16_t) == 2 && sizeof(float) == 4, "f16/f32 element sizes");
_Static_assert(TQ_TURBO_GROUP == (1 << TQ_TURBO_LOG2_GROUP), "group is a power of two");
_Static_assert(TQ_TURBO3_SIGNS_OFFSET == 2 + TQ_TURBO_GROUP / 4, "turbo3 signs offset");
_Static_assert(TQ_TURBO_QS_OFFSET == 2 && TQ_TURBO_NORM_OFFSET == 0, "turbo norm comes first");

#endif /* TQ_BLOCKS_H */
