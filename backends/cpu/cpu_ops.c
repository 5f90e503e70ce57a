/*
 * cpu_ops.c: op dispatch, scratch management, and the row-parallel codec ops (quantize,
 * dequantize, rotate). Attention lives in cpu_attention.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

bool cpu_scratch_reserve(cpu_scratch *s, size_t bytes)
{
    if (bytes <= s->size)
        return true;
    bytes = (bytes + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(64, bytes);
    if (!p)
        return false;
    free(s->ptr);
    if (s->account)
        s->account(s->cookie, (int64_t)bytes - (int64_t)s->size);
    s->ptr = p;
    s->size = bytes;
    return true;
}

void cpu_scratch_release(cpu_scratch *s)
{
    if (s->account && s->size)
        s->account(s->cookie, -(int64_t)s->size);
    free(s->ptr);
    s->ptr = NULL;
    s->size = 0;
}

/* ------------------------------------------------------------------ quantize */

typedef struct quant_job {
    const cpu_kernels *kern;
    const tq_tensor_ref *src, *dst;
    const int64_t *rows;
    int64_t d, n_head, n_tok, n_total, per_task;
    float *tmp;                 /* per thread: d floats (f16 source rows) */
    int64_t tmp_stride;
} quant_job;

static void quant_task(void *arg, int64_t task, int thread)
{
    const quant_job *j = arg;
    const uint8_t *src = cpu_ref_ptr(j->src);
    uint8_t *dst = cpu_ref_ptr(j->dst);
    int64_t end = (task + 1) * j->per_task < j->n_total ? (task + 1) * j->per_task : j->n_total;
    for (int64_t i = task * j->per_task; i < end; i++) {
        int64_t h = i % j->n_head, t = (i / j->n_head) % j->n_tok, s = i / j->n_head / j->n_tok;
        const uint8_t *sr = src + (uint64_t)h * j->src->nb[1] + (uint64_t)t * j->src->nb[2] +
                            (uint64_t)s * j->src->nb[3];
        int64_t row = j->rows[s * j->n_tok + t];
        uint8_t *dr = dst + (uint64_t)row * j->dst->nb[1] + (uint64_t)h * j->dst->nb[2] +
                      (uint64_t)s * j->dst->nb[3];
        const float *x = (const float *)(const void *)sr;
        if (j->src->type == TQ_TYPE_F16) {
            float *tmp = j->tmp + thread * j->tmp_stride;
            j->kern->f16_to_f32(sr, tmp, j->d);
            x = tmp;
        }
        j->kern->quantize_row(j->dst->type, x, j->d, dr);
    }
}

static int64_t rows_per_task(int64_t n_rows, int64_t d, int n_threads)
{
    /* Enough tasks to balance, each big enough (>= ~16K elements) to amortise a dispatch. */
    int64_t per = (n_rows + 4 * n_threads - 1) / (4 * n_threads);
    int64_t min_rows = (16384 + d - 1) / d;
    if (per < min_rows)
        per = min_rows;
    return per < 1 ? 1 : per;
}

static tq_code op_quantize(const cpu_exec *ex, const tq_op *op, cpu_op_info *info, char *err,
                           size_t err_len)
{
    int n_threads = cpu_pool_threads(ex->pool);
    quant_job j = {
        .kern = ex->kern, .src = &op->src, .dst = &op->dst, .rows = op->rows,
        .d = op->src.ne[0], .n_head = op->src.ne[1], .n_tok = op->src.ne[2],
    };
    j.n_total = j.n_head * j.n_tok * op->src.ne[3];
    j.tmp_stride = (j.d + 15) & ~(int64_t)15;
    if (op->src.type == TQ_TYPE_F16) {
        if (!cpu_scratch_reserve(ex->scratch, (size_t)j.tmp_stride * 4 * (size_t)n_threads)) {
            snprintf(err, err_len, "cpu: out of memory for %d f16 conversion rows of %lld floats",
                     n_threads, (long long)j.d);
            return TQ_CODE_OUT_OF_MEMORY;
        }
        j.tmp = (float *)(void *)ex->scratch->ptr;
    }
    j.per_task = rows_per_task(j.n_total, j.d, n_threads);
    cpu_pool_run(ex->pool, (j.n_total + j.per_task - 1) / j.per_task, quant_task, &j);
    snprintf(info->variant, sizeof(info->variant), "%s", ex->kern->name);
    info->bytes_read = (uint64_t)j.n_total * (uint64_t)j.d * (op->src.type == TQ_TYPE_F16 ? 2 : 4);
    info->bytes_written = (uint64_t)j.n_total * op->dst.nb[1];
    return TQ_CODE_OK;
}

/* ------------------------------------------------------------ dequantize / rotate */

typedef struct row_job {
    const cpu_kernels *kern;
    const tq_tensor_ref *src, *dst;
    int64_t n_rows, per_task;
    bool inverse, rotate_only;
} row_job;

static void row_task(void *arg, int64_t task, int thread)
{
    (void)thread;
    const row_job *j = arg;
    const uint8_t *src = cpu_ref_ptr(j->src);
    uint8_t *dst = cpu_ref_ptr(j->dst);
    int64_t end = (task + 1) * j->per_task < j->n_rows ? (task + 1) * j->per_task : j->n_rows;
    int64_t n = j->src->ne[0];
    int64_t np = cpu_padded_elems(j->src->type, n);
    for (int64_t i = task * j->per_task; i < end; i++) {
        const uint8_t *sr = src + (uint64_t)i * j->src->nb[1];
        float *dr = (float *)(void *)(dst + (uint64_t)i * j->dst->nb[1]);
        if (j->rotate_only) {
            if ((const void *)sr != (const void *)dr)
                memmove(dr, sr, (size_t)n * 4);
            j->kern->rotate(dr, n / 128, j->inverse);
        } else {
            j->kern->dequantize_row(j->src->type, sr, n, dr);
            if (j->inverse && cpu_type_is_turbo(j->src->type))
                j->kern->rotate(dr, np / 128, true);
        }
    }
}

static tq_code op_rows(const cpu_exec *ex, const tq_op *op, bool rotate_only, cpu_op_info *info)
{
    row_job j = {
        .kern = ex->kern, .src = &op->src, .dst = &op->dst, .rotate_only = rotate_only,
        .n_rows = op->src.ne[1] * op->src.ne[2] * op->src.ne[3],
        .inverse = rotate_only ? op->inverse : (op->flags & TQ_DEQUANTIZE_INVERSE_ROTATION) != 0,
    };
    j.per_task = rows_per_task(j.n_rows, op->src.ne[0], cpu_pool_threads(ex->pool));
    cpu_pool_run(ex->pool, (j.n_rows + j.per_task - 1) / j.per_task, row_task, &j);
    snprintf(info->variant, sizeof(info->variant), "%s", ex->kern->name);
    info->bytes_read = (uint64_t)j.n_rows * op->src.nb[1];
    info->bytes_written = (uint64_t)j.n_rows * op->dst.nb[1];
    return TQ_CODE_OK;
}

/* ------------------------------------------------------------------ dispatch */

tq_code cpu_op_supported(const tq_op *op, char *err, size_t err_len)
{
    if (op->kind == TQ_OP_ATTENTION) {
        int64_t d = op->q.ne[0];
        if (d % 32 != 0) {
            snprintf(err, err_len, "cpu: attention needs a head size that is a multiple of 32 "
                     "(got %lld)", (long long)d);
            return TQ_CODE_UNSUPPORTED;
        }
    }
    if (op->kind == TQ_OP_QUANTIZE && op->src.type != TQ_TYPE_F32 && op->src.type != TQ_TYPE_F16) {
        snprintf(err, err_len, "cpu: quantize reads f32 or f16 rows, not type %d",
                 (int)op->src.type);
        return TQ_CODE_UNSUPPORTED;
    }
    return TQ_CODE_OK;
}

tq_code cpu_exec_op(const cpu_exec *ex, const tq_op *op, cpu_op_info *info, char *err,
                    size_t err_len)
{
    memset(info, 0, sizeof(*info));
    tq_code c = cpu_op_supported(op, err, err_len);
    if (c != TQ_CODE_OK)
        return c;
    switch (op->kind) {
    case TQ_OP_WRITE:
        memcpy(cpu_ref_ptr(&op->dst) + op->offset, op->host_src, op->size);
        snprintf(info->variant, sizeof(info->variant), "memcpy");
        info->bytes_read = info->bytes_written = op->size;
        return TQ_CODE_OK;
    case TQ_OP_READ:
        memcpy(op->host_dst, cpu_ref_ptr(&op->src) + op->offset, op->size);
        snprintf(info->variant, sizeof(info->variant), "memcpy");
        info->bytes_read = info->bytes_written = op->size;
        return TQ_CODE_OK;
    case TQ_OP_QUANTIZE:
        return op_quantize(ex, op, info, err, err_len);
    case TQ_OP_DEQUANTIZE:
        return op_rows(ex, op, false, info);
    case TQ_OP_ROTATE:
        return op_rows(ex, op, true, info);
    case TQ_OP_ATTENTION:
        return cpu_attention(ex, op, info, err, err_len);
    default:
        snprintf(err, err_len, "cpu: unknown op kind %d", (int)op->kind);
        return TQ_CODE_UNSUPPORTED;
    }
}
