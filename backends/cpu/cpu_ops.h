/*
 * cpu_ops.h: executes one recorded tq_op on host memory with a chosen kernel variant.
 *
 * This is the whole backend minus the plugin glue (cpu_plugin.c), built as the static
 * library tq_cpu_kernels so that tests and the benchmark drive exactly the code the
 * plugin runs. Buffers are cpu_buffer handles (64-byte aligned host memory).
 */
#ifndef TQ_CPU_OPS_H
#define TQ_CPU_OPS_H

#include <stddef.h>

#include "cpu_kernels.h"
#include "cpu_pool.h"
#include "tq/tq_plugin.h"

typedef struct cpu_buffer {
    uint8_t *ptr;
    uint64_t size;
    tq_mem_class cls;
} cpu_buffer;

/* Op temporaries (attention partials, rotated Q, per-thread workspace). Grown only when a
 * dispatch needs more than it holds, never shrunk until the context goes; every change
 * is reported through account (bytes delta) as TQ_MEM_SCRATCH. */
typedef struct cpu_scratch {
    uint8_t *ptr;
    size_t size;
    void (*account)(void *cookie, int64_t delta);
    void *cookie;
} cpu_scratch;

bool cpu_scratch_reserve(cpu_scratch *s, size_t bytes);
void cpu_scratch_release(cpu_scratch *s);

typedef struct cpu_exec {
    const cpu_kernels *kern;
    cpu_pool *pool;
    cpu_scratch *scratch;
} cpu_exec;

/* What an op did, for tq_op_timing. */
typedef struct cpu_op_info {
    char variant[64];
    uint64_t bytes_read, bytes_written;
} cpu_op_info;

/* Runs op (already validated by the runtime). Returns TQ_CODE_OK or an error code with a
 * message in err. */
tq_code cpu_exec_op(const cpu_exec *ex, const tq_op *op, cpu_op_info *info, char *err,
                    size_t err_len);
/* Why this backend cannot run op, or TQ_CODE_OK. */
tq_code cpu_op_supported(const tq_op *op, char *err, size_t err_len);

/* Attention alone (cpu_attention.c). */
tq_code cpu_attention(const cpu_exec *ex, const tq_op *op, cpu_op_info *info, char *err,
                      size_t err_len);
/* Scratch bytes an attention dispatch of this shape takes with n_threads threads. */
size_t cpu_attention_scratch_bytes(const tq_op *op, int n_threads);

static inline uint8_t *cpu_ref_ptr(const tq_tensor_ref *t)
{
    return ((cpu_buffer *)t->buf)->ptr + t->offset;
}

#endif /* TQ_CPU_OPS_H */
