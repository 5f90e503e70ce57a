/*
 * ref_internal.h: the `ref` plugin's objects. Everything here is hidden; the library
 * exports only tq_plugin_query (ref_plugin.c).
 */
#ifndef TQ_REF_INTERNAL_H
#define TQ_REF_INTERNAL_H

#include <stdint.h>

#include "tq/tq_plugin.h"

/* Plugin state from init: the host API is the only thing the plugin needs to keep. */
typedef struct ref_state {
    const tq_host_api *host;
} ref_state;

/* A context: host memory stands in for device memory. */
typedef struct ref_ctx {
    const tq_host_api *host;
    void *acct;                /* the runtime's accounting cookie for host->mem_add */
} ref_ctx;

/* A buffer is plain malloc'd memory. */
typedef struct ref_buf {
    uint64_t size;
    unsigned char data[];
} ref_buf;

typedef struct ref_seq {
    ref_ctx *ctx;
    tq_op *ops;                /* copies of the recorded ops */
    uint32_t n_ops, cap;
    tq_plugin_timing *timings; /* one per op, of the last submission */
    float *row;                /* f16 -> f32 conversion row for quantize (scratch) */
    uint64_t row_bytes;        /* accounted as TQ_MEM_SCRATCH */
} ref_seq;

extern const tq_backend_ops ref_ops;

/* ref_seq.c: the sequence callbacks of the op table. */
tq_status ref_seq_create(void *ctx, void **out_seq);
void ref_seq_destroy(void *seq);
tq_status ref_seq_record(void *seq, const tq_op *op);
tq_status ref_seq_submit(void *seq);
tq_status ref_seq_wait(void *seq, uint64_t timeout_ns);
tq_status ref_seq_reset(void *seq);
tq_status ref_seq_timing(void *seq, uint32_t index, tq_plugin_timing *out);

/* ref_exec.c: runs one validated op synchronously. */
tq_status ref_exec(ref_seq *seq, const tq_op *op);

/* Pointer to byte offset of a tensor ref's buffer. */
static inline unsigned char *ref_ptr(const tq_tensor_ref *t, uint64_t offset)
{
    return ((ref_buf *)t->buf)->data + t->offset + offset;
}

#endif /* TQ_REF_INTERNAL_H */
