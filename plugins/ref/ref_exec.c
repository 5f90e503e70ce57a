/*
 * ref_exec.c: one op of the `ref` backend, computed with the scalar reference of
 * tq_ref.h. The runtime has validated the op fully, so shapes and ranges are trusted.
 *
 * Tensor rows are contiguous (tq_plugin.h): row r of the outer index (i1, i2, i3) starts
 * at offset + i1*nb[1] + i2*nb[2] + i3*nb[3].
 */
#include <string.h>

#include "tq/tq_ref.h"
#include "ref_internal.h"

static unsigned char *row_at(const tq_tensor_ref *t, int64_t i1, int64_t i2, int64_t i3)
{
    return ref_ptr(t, (uint64_t)i1 * t->nb[1] + (uint64_t)i2 * t->nb[2] + (uint64_t)i3 * t->nb[3]);
}

/* dst[:, rows[s*n_tok + t], h, s] = quantize(src[:, h, t, s]) */
static tq_status exec_quantize(ref_seq *s, const tq_op *op)
{
    const tq_tensor_ref *src = &op->src, *dst = &op->dst;
    int64_t d = src->ne[0], n_head = src->ne[1], n_tok = src->ne[2], n_seq = src->ne[3];
    for (int64_t q = 0; q < n_seq; q++) {
        for (int64_t t = 0; t < n_tok; t++) {
            int64_t r = op->rows[q * n_tok + t];
            for (int64_t h = 0; h < n_head; h++) {
                const unsigned char *in = row_at(src, h, t, q);
                const float *x = (const float *)(const void *)in;   /* f32 rows are 4-aligned */
                if (src->type == TQ_TYPE_F16) {
                    for (int64_t j = 0; j < d; j++) {
                        uint16_t hv;
                        memcpy(&hv, in + 2 * j, sizeof hv);
                        s->row[j] = tq_ref_fp16_to_fp32(hv);
                    }
                    x = s->row;
                }
                tq_status st = tq_ref_quantize_row(dst->type, x, d, row_at(dst, r, h, q));
                if (st)
                    return st;
            }
        }
    }
    return NULL;
}

static tq_status exec_dequantize(const tq_op *op)
{
    const tq_tensor_ref *src = &op->src, *dst = &op->dst;
    bool inverse = (op->flags & TQ_DEQUANTIZE_INVERSE_ROTATION) != 0;
    for (int64_t i3 = 0; i3 < src->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < src->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < src->ne[1]; i1++) {
                float *y = (float *)(void *)row_at(dst, i1, i2, i3);
                tq_status st = tq_ref_dequantize_row(src->type, row_at(src, i1, i2, i3),
                                                     src->ne[0], y, inverse);
                if (st)
                    return st;
            }
    return NULL;
}

static void exec_rotate(const tq_op *op)
{
    const tq_tensor_ref *src = &op->src, *dst = &op->dst;
    float g[128];   /* one group: 512 bytes of stack */
    for (int64_t i3 = 0; i3 < src->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < src->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < src->ne[1]; i1++) {
                const unsigned char *in = row_at(src, i1, i2, i3);
                unsigned char *out = row_at(dst, i1, i2, i3);
                for (int64_t k = 0; k < src->ne[0]; k += 128) {
                    memcpy(g, in + 4 * k, sizeof g);   /* copy first: src == dst is allowed */
                    if (op->inverse)
                        tq_ref_rotate_inverse(g);
                    else
                        tq_ref_rotate_forward(g);
                    memcpy(out + 4 * k, g, sizeof g);
                }
            }
}

static tq_status exec_attention(const tq_op *op)
{
    tq_ref_attention_args a;
    memset(&a, 0, sizeof a);
    a.q = (const float *)(const void *)ref_ptr(&op->q, 0);
    a.k = ref_ptr(&op->k, 0);
    a.v = ref_ptr(&op->v, 0);
    a.out = (float *)(void *)ref_ptr(&op->out, 0);
    a.type_k = op->k.type;
    a.type_v = op->v.type;
    a.d = op->q.ne[0];
    a.n_head = op->q.ne[1];
    a.n_q = op->q.ne[2];
    a.n_seq = op->q.ne[3];
    a.n_kv_head = op->k.ne[2];
    a.n_ctx = op->k.ne[1];
    a.n_kv = op->n_kv;
    a.scale = op->scale;
    a.softcap = op->softcap;
    a.causal = op->causal;
    a.q_pos0 = op->q_pos0;
    return tq_ref_attention(&a);
}

tq_status ref_exec(ref_seq *s, const tq_op *op)
{
    switch (op->kind) {
    case TQ_OP_WRITE:
        memcpy(ref_ptr(&op->dst, op->offset), op->host_src, (size_t)op->size);
        return NULL;
    case TQ_OP_READ:
        memcpy(op->host_dst, ref_ptr(&op->src, op->offset), (size_t)op->size);
        return NULL;
    case TQ_OP_QUANTIZE:
        return exec_quantize(s, op);
    case TQ_OP_DEQUANTIZE:
        return exec_dequantize(op);
    case TQ_OP_ROTATE:
        exec_rotate(op);
        return NULL;
    case TQ_OP_ATTENTION:
        return exec_attention(op);
    default:
        return s->ctx->host->status_new(TQ_CODE_UNSUPPORTED, "ref: op kind %d", (int)op->kind);
    }
}
