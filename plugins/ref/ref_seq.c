/*
 * ref_seq.c: sequences of the `ref` backend. Ops are kept at record time and run one by
 * one, synchronously, at submit; wait has nothing left to do. Timings are host clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ref_internal.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

tq_status ref_seq_create(void *ctx, void **out_seq)
{
    ref_ctx *c = ctx;
    ref_seq *s = calloc(1, sizeof *s);
    if (!s)
        return c->host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: out of memory");
    s->ctx = c;
    *out_seq = s;
    return NULL;
}

/* Scratch is returned to the accounting the moment it is freed. */
static void free_scratch(ref_seq *s)
{
    if (s->row) {
        free(s->row);
        s->ctx->host->mem_add(s->ctx->acct, TQ_MEM_SCRATCH, -(int64_t)s->row_bytes);
    }
    s->row = NULL;
    s->row_bytes = 0;
}

tq_status ref_seq_reset(void *seq)
{
    ref_seq *s = seq;
    s->n_ops = 0;
    free_scratch(s);
    return NULL;
}

void ref_seq_destroy(void *seq)
{
    ref_seq *s = seq;
    free_scratch(s);
    free(s->ops);
    free(s->timings);
    free(s);
}

tq_status ref_seq_record(void *seq, const tq_op *op)
{
    ref_seq *s = seq;
    const tq_host_api *host = s->ctx->host;
    if (s->n_ops == s->cap) {
        uint32_t cap = s->cap ? 2 * s->cap : 8;
        tq_op *ops = realloc(s->ops, cap * sizeof *ops);
        if (!ops)
            return host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: out of memory recording an op");
        s->ops = ops;
        tq_plugin_timing *t = realloc(s->timings, cap * sizeof *t);
        if (!t)
            return host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: out of memory recording an op");
        s->timings = t;
        s->cap = cap;
    }
    /* Scratch for the widest f16 source row, sized now so submit never allocates. */
    if (op->kind == TQ_OP_QUANTIZE && op->src.type == TQ_TYPE_F16) {
        uint64_t need = (uint64_t)op->src.ne[0] * sizeof(float);
        if (need > s->row_bytes) {
            float *row = malloc((size_t)need);
            if (!row)
                return host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: out of memory");
            free_scratch(s);
            s->row = row;
            s->row_bytes = need;
            host->mem_add(s->ctx->acct, TQ_MEM_SCRATCH, (int64_t)need);
        }
    }
    s->ops[s->n_ops++] = *op;   /* host pointers in op stay valid until reset (tq_plugin.h) */
    return NULL;
}

tq_status ref_seq_submit(void *seq)
{
    ref_seq *s = seq;
    for (uint32_t i = 0; i < s->n_ops; i++) {
        uint64_t t0 = now_ns();
        tq_status st = ref_exec(s, &s->ops[i]);
        uint64_t dt = now_ns() - t0;
        if (st)
            return st;
        tq_plugin_timing *t = &s->timings[i];
        memset(t, 0, sizeof *t);
        snprintf(t->variant, sizeof t->variant, "reference");
        t->device_ns = dt;   /* the "device" is this thread */
        t->host_ns = dt;
    }
    return NULL;
}

tq_status ref_seq_wait(void *seq, uint64_t timeout_ns)
{
    return NULL;   /* submit already ran everything */
}

tq_status ref_seq_timing(void *seq, uint32_t index, tq_plugin_timing *out)
{
    ref_seq *s = seq;
    if (index >= s->n_ops)
        return s->ctx->host->status_new(TQ_CODE_OUT_OF_RANGE, "ref: no op %u", index);
    *out = s->timings[index];   /* the runtime fills op name and byte counts */
    return NULL;
}
