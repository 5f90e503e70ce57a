/*
 * broken_plugin.c: a deliberately faulty backend, to prove that `tqrun check` can fail.
 *
 * It wraps the real `ref` plugin (path in TQ_BROKEN_INNER) through the plugin ABI and
 * injects one fault after a submission completes, chosen by TQ_BROKEN_FAULT:
 *   quantize  flip one bit of the first quantized row (a wrong value)
 *   guard     write one byte just past a quantize output (an out-of-bounds write)
 *   nan       put a NaN into the first attention output (the NaN/Inf rule)
 *   slowdown  report device times that grow with every timing query (a device changing
 *             speed during a benchmark: tqrun bench must warn)
 * A checker that passes this plugin is broken itself.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq/tq_plugin.h"

typedef enum { FAULT_QUANTIZE, FAULT_GUARD, FAULT_NAN, FAULT_SLOWDOWN } fault_kind;

typedef struct b_state {
    void *dl;
    const tq_backend_ops *in;
    void *inner;
    const tq_host_api *host;
    fault_kind fault;
    uint64_t n_timing;   /* timing queries answered (slowdown) */
} b_state;

typedef struct b_ctx {
    b_state *st;
    void *inner;
} b_ctx;

typedef struct b_action {
    void *buf;
    uint64_t offset;
    int kind;  /* 0 flip bit, 1 write guard byte, 2 write NaN float */
} b_action;

typedef struct b_seq {
    b_ctx *ctx;
    void *inner;
    b_action act[64];
    int n_act;
} b_seq;

static tq_status b_init(const tq_host_api *host, void **out_state)
{
    const char *path = getenv("TQ_BROKEN_INNER");
    if (!path || !*path)
        return host->status_new(TQ_CODE_NOT_FOUND, "broken: set TQ_BROKEN_INNER to the "
                                "absolute path of libtq_ref.so");
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return host->status_new(TQ_CODE_NOT_FOUND, "broken: cannot open %s: %s", path, dlerror());
    tq_plugin_query_fn q = (tq_plugin_query_fn)dlsym(dl, TQ_PLUGIN_QUERY_SYMBOL);
    const tq_plugin_desc *d = q ? q() : NULL;
    if (!d || !d->ops) {
        dlclose(dl);
        return host->status_new(TQ_CODE_ABI, "broken: %s has no usable %s", path,
                                TQ_PLUGIN_QUERY_SYMBOL);
    }
    b_state *s = calloc(1, sizeof *s);
    if (!s) {
        dlclose(dl);
        return host->status_new(TQ_CODE_OUT_OF_MEMORY, "broken: out of memory");
    }
    s->dl = dl;
    s->in = d->ops;
    s->host = host;
    const char *f = getenv("TQ_BROKEN_FAULT");
    s->fault = !f || strcmp(f, "quantize") == 0 ? FAULT_QUANTIZE
               : strcmp(f, "guard") == 0       ? FAULT_GUARD
               : strcmp(f, "slowdown") == 0    ? FAULT_SLOWDOWN
                                               : FAULT_NAN;
    tq_status st = s->in->init(host, &s->inner);
    if (st) {
        dlclose(dl);
        free(s);
        return st;
    }
    *out_state = s;
    return NULL;
}

static void b_shutdown(void *state)
{
    b_state *s = state;
    s->in->shutdown(s->inner);
    dlclose(s->dl);
    free(s);
}

static uint32_t b_device_count(void *state)
{
    b_state *s = state;
    return s->in->device_count(s->inner);
}

static tq_status b_device_info(void *state, uint32_t device, tq_device_info *out)
{
    b_state *s = state;
    tq_status st = s->in->device_info(s->inner, device, out);
    if (!st) {
        snprintf(out->name, sizeof out->name, "broken wrapper of ref");
        snprintf(out->id, sizeof out->id, "broken:0");
        snprintf(out->note, sizeof out->note, "test plugin that injects faults");
        out->score = 0;
    }
    return st;
}

static tq_status b_context_create(void *state, uint32_t device, const char *options, void *acct,
                                  void **out_ctx)
{
    b_state *s = state;
    b_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return s->host->status_new(TQ_CODE_OUT_OF_MEMORY, "broken: out of memory");
    c->st = s;
    tq_status st = s->in->context_create(s->inner, device, options, acct, &c->inner);
    if (st) {
        free(c);
        return st;
    }
    *out_ctx = c;
    return NULL;
}

static void b_context_destroy(void *ctx)
{
    b_ctx *c = ctx;
    c->st->in->context_destroy(c->inner);
    free(c);
}

static tq_status b_buffer_alloc(void *ctx, uint64_t size, tq_mem_class cls, void **out)
{
    b_ctx *c = ctx;
    return c->st->in->buffer_alloc(c->inner, size, cls, out);
}

static void b_buffer_free(void *ctx, void *buf)
{
    b_ctx *c = ctx;
    c->st->in->buffer_free(c->inner, buf);
}

static tq_status b_buffer_write(void *ctx, void *buf, uint64_t off, const void *src, uint64_t n)
{
    b_ctx *c = ctx;
    return c->st->in->buffer_write(c->inner, buf, off, src, n);
}

static tq_status b_buffer_read(void *ctx, void *buf, uint64_t off, void *dst, uint64_t n)
{
    b_ctx *c = ctx;
    return c->st->in->buffer_read(c->inner, buf, off, dst, n);
}

static tq_status b_supports(void *ctx, const tq_op *op)
{
    b_ctx *c = ctx;
    return c->st->in->supports ? c->st->in->supports(c->inner, op) : NULL;
}

static tq_status b_seq_create(void *ctx, void **out)
{
    b_ctx *c = ctx;
    b_seq *q = calloc(1, sizeof *q);
    if (!q)
        return c->st->host->status_new(TQ_CODE_OUT_OF_MEMORY, "broken: out of memory");
    q->ctx = c;
    tq_status st = c->st->in->seq_create(c->inner, &q->inner);
    if (st) {
        free(q);
        return st;
    }
    *out = q;
    return NULL;
}

static void b_seq_destroy(void *seq)
{
    b_seq *q = seq;
    q->ctx->st->in->seq_destroy(q->inner);
    free(q);
}

static uint64_t ref_bytes(const tq_tensor_ref *t)
{
    return t->nb[3] * (uint64_t)t->ne[3];
}

static tq_status b_seq_record(void *seq, const tq_op *op)
{
    b_seq *q = seq;
    fault_kind f = q->ctx->st->fault;
    if (q->n_act < 64) {
        b_action *a = &q->act[q->n_act];
        if (op->kind == TQ_OP_QUANTIZE && f == FAULT_QUANTIZE && op->n_rows > 0) {
            /* a middle byte of the first written row */
            a->buf = op->dst.buf;
            a->offset = op->dst.offset + (uint64_t)op->rows[0] * op->dst.nb[1] + op->dst.nb[1] / 2;
            a->kind = 0;
            q->n_act++;
        } else if (op->kind == TQ_OP_QUANTIZE && f == FAULT_GUARD) {
            a->buf = op->dst.buf;
            a->offset = op->dst.offset + ref_bytes(&op->dst);
            a->kind = 1;
            q->n_act++;
        } else if (op->kind == TQ_OP_ATTENTION && f == FAULT_NAN) {
            a->buf = op->out.buf;
            a->offset = op->out.offset;
            a->kind = 2;
            q->n_act++;
        }
    }
    return q->ctx->st->in->seq_record(q->inner, op);
}

static tq_status b_seq_submit(void *seq)
{
    b_seq *q = seq;
    return q->ctx->st->in->seq_submit(q->inner);
}

static tq_status b_seq_wait(void *seq, uint64_t timeout_ns)
{
    b_seq *q = seq;
    const tq_backend_ops *in = q->ctx->st->in;
    tq_status st = in->seq_wait(q->inner, timeout_ns);
    for (int i = 0; i < q->n_act && !st; i++) {
        b_action *a = &q->act[i];
        uint8_t b[4];
        if (a->kind == 2) {
            float nan = NAN;
            st = in->buffer_write(q->ctx->inner, a->buf, a->offset, &nan, 4);
            continue;
        }
        st = in->buffer_read(q->ctx->inner, a->buf, a->offset, b, 1);
        if (!st) {
            b[0] = a->kind == 0 ? (uint8_t)(b[0] ^ 0x10u) : (uint8_t)(b[0] ^ 0xFFu);
            st = in->buffer_write(q->ctx->inner, a->buf, a->offset, b, 1);
        }
    }
    return st;
}

static tq_status b_seq_reset(void *seq)
{
    b_seq *q = seq;
    q->n_act = 0;
    return q->ctx->st->in->seq_reset(q->inner);
}

static tq_status b_seq_timing(void *seq, uint32_t index, tq_plugin_timing *out)
{
    b_seq *q = seq;
    tq_status st = q->ctx->st->in->seq_timing(q->inner, index, out);
    if (!st)
        snprintf(out->variant, sizeof out->variant, "broken");
    if (!st && q->ctx->st->fault == FAULT_SLOWDOWN)
        out->device_ns = 1000000u * ++q->ctx->st->n_timing;   /* 1 ms, 2 ms, 3 ms, ... */
    return st;
}

static void *b_get_extra(void *state, const char *name) { return NULL; }

static const tq_backend_ops b_ops = {
    .struct_size = sizeof(tq_backend_ops),
    .init = b_init,
    .shutdown = b_shutdown,
    .device_count = b_device_count,
    .device_info = b_device_info,
    .context_create = b_context_create,
    .context_destroy = b_context_destroy,
    .buffer_alloc = b_buffer_alloc,
    .buffer_free = b_buffer_free,
    .buffer_write = b_buffer_write,
    .buffer_read = b_buffer_read,
    .supports = b_supports,
    .seq_create = b_seq_create,
    .seq_destroy = b_seq_destroy,
    .seq_record = b_seq_record,
    .seq_submit = b_seq_submit,
    .seq_wait = b_seq_wait,
    .seq_reset = b_seq_reset,
    .seq_timing = b_seq_timing,
    .get_extra = b_get_extra,
};

static const tq_plugin_desc b_desc = {
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(tq_plugin_desc),
    .name = "broken",
    .ops = &b_ops,
};

TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void);
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void) { return &b_desc; }
