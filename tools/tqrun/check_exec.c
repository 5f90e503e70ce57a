/*
 * check_exec.c: runs one op on one context with its output surrounded by guard bytes.
 *
 * The output is a view in the middle of a larger parent tensor whose every byte was set
 * to a known pattern; after the op, the whole parent is read back. A kernel that writes
 * one byte outside its output (an off-by-one in a tail loop, a 4-byte store on a 2-byte
 * aligned turbo3 row) changes the pattern and fails the check, even when the values
 * inside the output are right.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

uint64_t ck_tensor_bytes(tq_type type, const int64_t ne[4])
{
    return tq_type_row_bytes(type, ne[0]) * (uint64_t)ne[1] * (uint64_t)ne[2] * (uint64_t)ne[3];
}

uint8_t ck_guard_byte(uint64_t i)
{
    /* Never all-zero and position dependent, so a shifted copy is caught too. */
    return (uint8_t)(0xA5u ^ (uint8_t)(i * 131u) ^ (uint8_t)(i >> 8));
}

uint64_t ck_count_nonfinite(const float *x, uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad += !isfinite(x[i]);
    return bad;
}

uint64_t ck_guard_damage(const ck_result *r)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < r->parent_bytes; i++) {
        if (i >= r->view_offset && i < r->view_offset + r->view_bytes)
            continue;
        bad += r->parent[i] != ck_guard_byte(i);
    }
    return bad;
}

void ck_result_free(ck_result *r)
{
    free(r->parent);
    r->parent = NULL;
}

static tq_status record(tq_sequence *seq, const ck_exec *e, tq_tensor **in, tq_tensor *out)
{
    switch (e->op) {
    case CK_QUANTIZE: {
        tq_quantize_params p = { .src = in[0], .dst = out, .rows = e->rows, .n_rows = e->n_rows };
        return tq_sequence_record_quantize(seq, &p);
    }
    case CK_DEQUANTIZE: {
        tq_dequantize_params p = { .src = in[0], .dst = out, .flags = e->flags };
        return tq_sequence_record_dequantize(seq, &p);
    }
    case CK_ROTATE: {
        tq_rotate_params p = { .src = e->in_place ? out : in[0], .dst = out,
                               .inverse = e->inverse };
        return tq_sequence_record_rotate(seq, &p);
    }
    case CK_ATTENTION: {
        tq_attention_params p = { .q = in[0], .k = in[1], .v = in[2], .out = out,
                                  .n_kv = e->n_kv, .scale = e->scale, .softcap = e->softcap,
                                  .causal = e->causal, .q_pos0 = e->q_pos0 };
        return tq_sequence_record_attention(seq, &p);
    }
    default:
        return tq_status_make(TQ_CODE_INTERNAL, "tqrun: unknown check op %d", e->op);
    }
}

static tq_status supports(tq_context *ctx, const ck_exec *e, tq_tensor **in, tq_tensor *out)
{
    if (e->op == CK_QUANTIZE) {
        tq_quantize_params p = { .src = in[0], .dst = out, .rows = e->rows, .n_rows = e->n_rows };
        return tq_context_supports_quantize(ctx, &p);
    }
    if (e->op == CK_ATTENTION) {
        tq_attention_params p = { .q = in[0], .k = in[1], .v = in[2], .out = out,
                                  .n_kv = e->n_kv, .scale = e->scale, .softcap = e->softcap,
                                  .causal = e->causal, .q_pos0 = e->q_pos0 };
        return tq_context_supports_attention(ctx, &p);
    }
    return NULL;
}

tq_status ck_exec_run(tq_context *ctx, const ck_exec *e, ck_result *out)
{
    tq_tensor *in[3] = { NULL, NULL, NULL }, *in_parent[3] = { NULL, NULL, NULL };
    tq_tensor *parent = NULL, *view = NULL;
    tq_sequence *seq = NULL;
    tq_status st = NULL;
    memset(out, 0, sizeof *out);

    /* Inputs are views at offset `misalign` into a slightly larger tensor. */
    for (int i = 0; i < e->n_in && !st; i++) {
        const uint64_t bytes = ck_tensor_bytes(e->in[i].type, e->in[i].ne);
        int64_t pne[4] = { (int64_t)((bytes + 3u) / 4u + e->misalign / 4u + 1u), 1, 1, 1 };
        st = tq_tensor_create(ctx, TQ_TYPE_F32, pne, e->in[i].cls, &in_parent[i]);
        if (!st)
            st = tq_tensor_view_create(in_parent[i], e->misalign, e->in[i].type, e->in[i].ne,
                                       &in[i]);
        if (!st)
            st = tq_tensor_write(in[i], 0, e->in[i].data, bytes);
    }
    out->view_bytes = ck_tensor_bytes(e->out_type, e->out_ne);
    out->view_offset = CK_GUARD + e->misalign;
    out->parent_bytes = out->view_offset + ((out->view_bytes + 3u) & ~(uint64_t)3u) + CK_GUARD;
    out->parent = malloc(out->parent_bytes);
    if (!st && !out->parent)
        st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of host memory");
    if (!st) {
        for (uint64_t i = 0; i < out->parent_bytes; i++)
            out->parent[i] = ck_guard_byte(i);
        if (e->out_init)
            memcpy(out->parent + out->view_offset, e->out_init, out->view_bytes);
        int64_t pne[4] = { (int64_t)(out->parent_bytes / 4), 1, 1, 1 };
        st = tq_tensor_create(ctx, TQ_TYPE_F32, pne, TQ_MEM_IO, &parent);
    }
    if (!st)
        st = tq_tensor_write(parent, 0, out->parent, out->parent_bytes);
    if (!st)
        st = tq_tensor_view_create(parent, out->view_offset, e->out_type, e->out_ne, &view);
    if (!st)
        st = supports(ctx, e, in, view);
    if (!st)
        st = tq_sequence_create(ctx, &seq);
    if (!st)
        st = record(seq, e, in, view);
    if (!st)
        st = tq_sequence_submit(seq);
    if (!st)
        st = tq_sequence_wait(seq, UINT64_MAX);
    if (!st) {
        tq_op_timing t;
        memset(&t, 0, sizeof t);
        st = tq_sequence_timing(seq, 0, &t);
        if (!st) {
            snprintf(out->variant, sizeof out->variant, "%s", t.variant);
            out->device_ns = t.device_ns;
        }
    }
    if (!st)
        st = tq_tensor_read(parent, 0, out->parent, out->parent_bytes);

    if (seq)
        tq_sequence_destroy(seq);
    if (view)
        tq_tensor_destroy(view);
    if (parent)
        tq_tensor_destroy(parent);
    for (int i = 0; i < 3; i++) {
        if (in[i])
            tq_tensor_destroy(in[i]);
        if (in_parent[i])
            tq_tensor_destroy(in_parent[i]);
    }
    if (st)
        ck_result_free(out);
    return st;
}
