/*
 * sequence.c: recorded ops, submit/wait/reset, and per-op timings.
 *
 * The runtime keeps its own copy of every op (with its write payload and rows array) so
 * that timings can report bytes moved from the op descriptor itself: GB/s means the
 * same thing on every backend, whatever the plugin thinks it read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_internal.h"

static const char *const op_names[TQ_OP_KIND_COUNT] = {
    [TQ_OP_WRITE] = "write", [TQ_OP_READ] = "read", [TQ_OP_QUANTIZE] = "quantize",
    [TQ_OP_DEQUANTIZE] = "dequantize", [TQ_OP_ROTATE] = "rotate", [TQ_OP_ATTENTION] = "attention",
};

static tq_status check_seq(const tq_sequence *s, const char *what)
{
    if (!s)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: sequence is NULL", what);
    if (!s->context)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: the sequence's context was "
                              "destroyed before it", what);
    return NULL;
}

static tq_status check_recordable(const tq_sequence *s, const char *what)
{
    tq_status st = check_seq(s, what);
    if (!st && s->in_flight)
        st = tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: the sequence is submitted; wait for "
                            "it before recording more", what);
    return st;
}

TQ_API tq_status tq_sequence_create(tq_context *c, tq_sequence **out)
{
    if (!c || !out)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_sequence_create: %s is NULL",
                              !c ? "context" : "out_sequence");
    *out = NULL;
    tq_sequence *s = calloc(1, sizeof *s);
    if (!s)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tq_sequence_create: out of memory");
    tq_status st = c->backend->ops->seq_create(c->ctx, &s->seq);
    if (st) {
        free(s);
        return st;
    }
    s->context = c;
    s->stale_op = -1;
    tq_context_link_sequence(c, s);
    *out = s;
    return NULL;
}

static void free_ops(tq_sequence *s)
{
    for (uint32_t i = 0; i < s->op_count; i++)
        free(s->ops[i].owned);
    s->op_count = 0;
    s->completed_ops = 0;
    s->stale_op = -1;
}

static bool op_uses(const tq_op *op, const void *buf)
{
    return op->src.buf == buf || op->dst.buf == buf || op->q.buf == buf || op->k.buf == buf ||
           op->v.buf == buf || op->out.buf == buf;
}

void tq_context_forget_buffer(tq_context *c, const void *buf)
{
    for (tq_sequence *s = c->sequences; s; s = s->next) {
        if (s->stale_op >= 0)
            continue;
        for (uint32_t i = 0; i < s->op_count; i++) {
            if (op_uses(&s->ops[i].op, buf)) {
                s->stale_op = i;
                tq_log(TQ_LOG_ERROR, "a tensor used by op %u (%s) of a sequence was destroyed "
                       "while the op was still recorded; reset the sequence before submitting "
                       "it again", i, op_names[s->ops[i].op.kind]);
                break;
            }
        }
    }
}

void tq_sequence_orphan(tq_sequence *s)
{
    tq_context *c = s->context;
    if (!c)
        return;
    if (s->in_flight) {
        /* Never free what the device may still be using. */
        tq_status st = c->backend->ops->seq_wait(s->seq, UINT64_MAX);
        if (st) {
            tq_log(TQ_LOG_ERROR, "waiting for a sequence before destroying it: %s",
                   tq_status_message(st));
            tq_status_free(st);
        }
        s->in_flight = false;
    }
    c->backend->ops->seq_destroy(s->seq);
    tq_context_unlink_sequence(c, s);
    s->context = NULL;
    s->seq = NULL;
    free_ops(s);
}

TQ_API void tq_sequence_destroy(tq_sequence *s)
{
    if (!s)
        return;
    tq_sequence_orphan(s);
    free(s->ops);
    free(s);
}

/* Hands op to the plugin and keeps it; owned is freed with the op (also on failure). */
static tq_status record(tq_sequence *s, tq_op *op, void *owned)
{
    tq_context *c = s->context;
    if (s->op_count == s->op_cap) {
        uint32_t cap = s->op_cap ? s->op_cap * 2 : 8;
        tq_seq_op *ops = realloc(s->ops, cap * sizeof *ops);
        if (!ops) {
            free(owned);
            return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "recording %s: out of memory",
                                  op_names[op->kind]);
        }
        s->ops = ops;
        s->op_cap = cap;
    }
    tq_status st = NULL;
    if (c->backend->ops->supports)
        st = c->backend->ops->supports(c->ctx, op);
    if (!st)
        st = c->backend->ops->seq_record(s->seq, op);
    if (st) {
        free(owned);
        return st;
    }
    s->ops[s->op_count].op = *op;
    s->ops[s->op_count].owned = owned;
    s->op_count++;
    return NULL;
}

static tq_status check_range(const char *what, const tq_tensor *t, uint64_t offset,
                             const void *host, uint64_t size)
{
    if (!host)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: host pointer is NULL", what);
    if (size == 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: size is 0", what);
    uint64_t end;
    if (!tq_add_u64(offset, size, &end) || end > t->nbytes)
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "%s: %llu bytes at offset %llu exceed the "
                              "tensor's %llu bytes", what, (unsigned long long)size,
                              (unsigned long long)offset, (unsigned long long)t->nbytes);
    return NULL;
}

TQ_API tq_status tq_sequence_record_write(tq_sequence *s, tq_tensor *t, uint64_t offset,
                                          const void *src, uint64_t size)
{
    const char *what = "tq_sequence_record_write";
    tq_status st = check_recordable(s, what);
    if (!st)
        st = tq_check_tensor(s->context, t, "tq_sequence_record_write: tensor");
    if (!st)
        st = check_range(what, t, offset, src, size);
    if (st)
        return st;
    void *copy = malloc(size);
    if (!copy)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "%s: cannot copy %llu bytes", what,
                              (unsigned long long)size);
    memcpy(copy, src, size);
    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_WRITE;
    tq_tensor_to_ref(t, &op.dst);
    op.host_src = copy;
    op.offset = offset;
    op.size = size;
    return record(s, &op, copy);
}

TQ_API tq_status tq_sequence_record_read(tq_sequence *s, const tq_tensor *t, uint64_t offset,
                                         void *dst, uint64_t size)
{
    const char *what = "tq_sequence_record_read";
    tq_status st = check_recordable(s, what);
    if (!st)
        st = tq_check_tensor(s->context, t, "tq_sequence_record_read: tensor");
    if (!st)
        st = check_range(what, t, offset, dst, size);
    if (st)
        return st;
    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_READ;
    tq_tensor_to_ref(t, &op.src);
    op.host_dst = dst;
    op.offset = offset;
    op.size = size;
    return record(s, &op, NULL);
}

TQ_API tq_status tq_sequence_record_quantize(tq_sequence *s, const tq_quantize_params *p)
{
    tq_status st = check_recordable(s, "tq_sequence_record_quantize");
    tq_op op;
    if (!st)
        st = tq_validate_quantize(s->context, p, &op);
    if (st)
        return st;
    /* The caller may reuse its rows array at once (tq.h): keep a copy. */
    size_t bytes = (size_t)op.n_rows * sizeof(int64_t);
    int64_t *rows = malloc(bytes ? bytes : 1);
    if (!rows)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "quantize: cannot copy %lld row indices",
                              (long long)op.n_rows);
    memcpy(rows, op.rows, bytes);
    op.rows = rows;
    return record(s, &op, rows);
}

TQ_API tq_status tq_sequence_record_dequantize(tq_sequence *s, const tq_dequantize_params *p)
{
    tq_status st = check_recordable(s, "tq_sequence_record_dequantize");
    tq_op op;
    if (!st)
        st = tq_validate_dequantize(s->context, p, &op);
    return st ? st : record(s, &op, NULL);
}

TQ_API tq_status tq_sequence_record_rotate(tq_sequence *s, const tq_rotate_params *p)
{
    tq_status st = check_recordable(s, "tq_sequence_record_rotate");
    tq_op op;
    if (!st)
        st = tq_validate_rotate(s->context, p, &op);
    return st ? st : record(s, &op, NULL);
}

TQ_API tq_status tq_sequence_record_attention(tq_sequence *s, const tq_attention_params *p)
{
    tq_status st = check_recordable(s, "tq_sequence_record_attention");
    tq_op op;
    if (!st)
        st = tq_validate_attention(s->context, p, &op);
    return st ? st : record(s, &op, NULL);
}

TQ_API tq_status tq_sequence_submit(tq_sequence *s)
{
    tq_status st = check_seq(s, "tq_sequence_submit");
    if (st)
        return st;
    if (s->in_flight)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_sequence_submit: already submitted; "
                              "call tq_sequence_wait before submitting again");
    if (s->stale_op >= 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_sequence_submit: a tensor used by "
                              "op %lld (%s) was destroyed after it was recorded; reset the "
                              "sequence and record it again", (long long)s->stale_op,
                              op_names[s->ops[s->stale_op].op.kind]);
    /* The plugin overwrites its timings from here on: the last submission's are gone. */
    s->completed_ops = 0;
    st = s->context->backend->ops->seq_submit(s->seq);
    if (!st)
        s->in_flight = true;
    return st;
}

TQ_API tq_status tq_sequence_wait(tq_sequence *s, uint64_t timeout_ns)
{
    tq_status st = check_seq(s, "tq_sequence_wait");
    if (st || !s->in_flight)
        return st;   /* nothing submitted: nothing to wait for */
    st = s->context->backend->ops->seq_wait(s->seq, timeout_ns);
    if (st && tq_status_code(st) == TQ_CODE_TIMEOUT)
        return st;   /* still in flight: the caller may wait again */
    s->in_flight = false;
    if (!st)
        s->completed_ops = s->op_count;
    return st;
}

TQ_API tq_status tq_sequence_reset(tq_sequence *s)
{
    tq_status st = check_seq(s, "tq_sequence_reset");
    if (st)
        return st;
    if (s->in_flight)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_sequence_reset: the sequence is "
                              "submitted; wait for it first");
    st = s->context->backend->ops->seq_reset(s->seq);
    free_ops(s);
    return st;
}

TQ_API uint32_t tq_sequence_op_count(const tq_sequence *s)
{
    return s ? s->op_count : 0;
}

static uint64_t nbytes_of(const tq_tensor_ref *r)
{
    return r->nb[3] * (uint64_t)r->ne[3];
}

/* What the op had to read and write, from its descriptor alone. */
static void op_bytes(const tq_op *op, uint64_t *rd, uint64_t *wr)
{
    switch (op->kind) {
    case TQ_OP_WRITE:
    case TQ_OP_READ:
        *rd = *wr = op->size;
        break;
    case TQ_OP_QUANTIZE:
        /* all source rows; each row index writes one row per kv head */
        *rd = nbytes_of(&op->src);
        *wr = (uint64_t)op->n_rows * (uint64_t)op->dst.ne[2] * op->dst.nb[1];
        break;
    case TQ_OP_DEQUANTIZE:
    case TQ_OP_ROTATE:
        *rd = nbytes_of(&op->src);
        *wr = nbytes_of(&op->dst);
        break;
    case TQ_OP_ATTENTION: {
        /* Q, and the first n_kv rows of K and V of every kv head and sequence */
        uint64_t heads = (uint64_t)op->k.ne[2] * (uint64_t)op->k.ne[3];
        *rd = nbytes_of(&op->q) + (uint64_t)op->n_kv * heads * (op->k.nb[1] + op->v.nb[1]);
        *wr = nbytes_of(&op->out);
        break;
    }
    default:
        *rd = *wr = 0;
    }
}

TQ_API tq_status tq_sequence_timing(const tq_sequence *s, uint32_t index, tq_op_timing *out)
{
    tq_status st = check_seq(s, "tq_sequence_timing");
    if (st)
        return st;
    if (!out)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_sequence_timing: out is NULL");
    if (s->in_flight)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_sequence_timing: the sequence is "
                              "still submitted; wait for it first");
    if (s->completed_ops == 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_sequence_timing: no submission of "
                              "this sequence has completed");
    if (index >= s->completed_ops)
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "tq_sequence_timing: op %u does not exist "
                              "(the last submission ran %u)", index, s->completed_ops);
    tq_plugin_timing t;
    memset(&t, 0, sizeof t);
    st = s->context->backend->ops->seq_timing(s->seq, index, &t);
    if (st)
        return st;
    const tq_op *op = &s->ops[index].op;
    memset(out, 0, sizeof *out);
    snprintf(out->op, sizeof out->op, "%s", op_names[op->kind]);
    t.variant[sizeof t.variant - 1] = '\0';
    memcpy(out->variant, t.variant, sizeof out->variant);
    out->device_ns = t.device_ns;
    out->host_ns = t.host_ns;
    op_bytes(op, &out->bytes_read, &out->bytes_written);
    return NULL;
}
