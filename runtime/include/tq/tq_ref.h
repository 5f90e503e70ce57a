/*
 * tq_ref.h: the scalar reference of every format, exported by libtq.
 *
 * These functions are the executable form of docs/formats.md: the `ref` plugin serves
 * them as a backend, tests and `tqrun quality` use them directly. They are written for
 * clarity and exactness, not speed, and use no large stack buffers (safe on 64 KiB
 * thread stacks). All are thread-safe (no mutable global state).
 */
#ifndef TQ_TQ_REF_H
#define TQ_TQ_REF_H

#include "tq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IEEE binary16 <-> binary32, round to nearest even, NaN/Inf preserved. */
TQ_API uint16_t tq_ref_fp32_to_fp16(float f);
TQ_API float    tq_ref_fp16_to_fp32(uint16_t h);

/* Signed Walsh-Hadamard rotation of one 128-group, in place. */
TQ_API void tq_ref_rotate_forward(float x[128]);
TQ_API void tq_ref_rotate_inverse(float x[128]);

/* Nearest centroid index of y for a turbo codebook of 2, 3 or 4 bits (midpoint rule). */
TQ_API uint32_t tq_ref_turbo_index(uint32_t bits, float y);
/* Codebook entry idx of the 2-, 3- or 4-bit codebook. */
TQ_API float    tq_ref_turbo_centroid(uint32_t bits, uint32_t idx);

/* Quantize one row of n logical elements (n as in tq_type_row_bytes) into dst, which must
 * hold tq_type_row_bytes(type, n) bytes. Turbo rows are zero-padded to the group size.
 * Fails with INVALID_ARGUMENT for a bad type or n. */
TQ_API tq_status tq_ref_quantize_row(tq_type type, const float *src, int64_t n, void *dst);
/* Dequantize one row: writes tq_type_padded_elems(type, n) floats. Turbo rows come back
 * in the rotated domain unless inverse_rotation is set. */
TQ_API tq_status tq_ref_dequantize_row(tq_type type, const void *src, int64_t n, float *dst,
                                       bool inverse_rotation);

/* Reference attention in double precision over host copies of the tensors, with exactly
 * the semantics of tq_attention_params (scale already resolved, != 0). q, out: F32 with
 * shapes as in tq.h; k, v: raw rows of their types, contiguous
 * [d, n_ctx, n_kv_head, n_seq]. */
typedef struct tq_ref_attention_args {
    const float *q;
    const void *k;
    const void *v;
    float *out;
    tq_type type_k, type_v;
    int64_t d, n_head, n_q, n_seq, n_kv_head, n_ctx, n_kv;
    float scale, softcap;
    bool causal;
    int64_t q_pos0;
} tq_ref_attention_args;

TQ_API tq_status tq_ref_attention(const tq_ref_attention_args *args);

#ifdef __cplusplus
}
#endif

#endif /* TQ_TQ_REF_H */
