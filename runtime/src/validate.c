/*
 * validate.c: every op is checked completely here, before any plugin sees it, so that
 * plugins may assume well-formed ops (tq_plugin.h) and bad input is one error message
 * the same on every backend. Messages name the offending value and what was expected.
 */
#include <math.h>
#include <string.h>

#include "tq_internal.h"

#define BAD(...) tq_status_make(TQ_CODE_INVALID_ARGUMENT, __VA_ARGS__)

static void op_init(tq_op *op, tq_op_kind kind)
{
    memset(op, 0, sizeof *op);
    op->struct_size = sizeof *op;
    op->kind = kind;
}

static tq_status check2(const tq_context *ctx, const tq_tensor *a, const char *wa,
                        const tq_tensor *b, const char *wb)
{
    tq_status st = tq_check_tensor(ctx, a, wa);
    return st ? st : tq_check_tensor(ctx, b, wb);
}

static bool is_float_type(tq_type t)
{
    return t == TQ_TYPE_F32 || t == TQ_TYPE_F16;
}

tq_status tq_validate_quantize(const tq_context *ctx, const tq_quantize_params *p, tq_op *op)
{
    if (!p)
        return BAD("quantize: params is NULL");
    tq_status st = check2(ctx, p->src, "quantize: src", p->dst, "quantize: dst");
    if (st)
        return st;
    const tq_tensor *s = p->src, *d = p->dst;
    if (!is_float_type(s->type))
        return BAD("quantize: src type is %s; it must be f32 or f16", tq_type_name(s->type));
    if (s == d)
        return BAD("quantize: src and dst are the same tensor");
    /* src [d, n_kv_head, n_tokens, n_seq] -> dst [d, n_ctx, n_kv_head, n_seq] */
    if (s->ne[0] != d->ne[0])
        return BAD("quantize: src row length d = %lld (ne[0]) differs from dst's %lld",
                   (long long)s->ne[0], (long long)d->ne[0]);
    if (s->ne[1] != d->ne[2])
        return BAD("quantize: src n_kv_head (ne[1]) = %lld differs from dst n_kv_head "
                   "(ne[2]) = %lld; src is [d, n_kv_head, n_tokens, n_seq], dst is "
                   "[d, n_ctx, n_kv_head, n_seq]", (long long)s->ne[1], (long long)d->ne[2]);
    if (s->ne[3] != d->ne[3])
        return BAD("quantize: src n_seq (ne[3]) = %lld differs from dst n_seq (ne[3]) = %lld",
                   (long long)s->ne[3], (long long)d->ne[3]);
    int64_t n_tok = s->ne[2], n_seq = s->ne[3], n_ctx = d->ne[1];
    if (!p->rows)
        return BAD("quantize: rows is NULL");
    if (p->n_rows != n_tok * n_seq)   /* both <= 2^62 / row bytes: no overflow */
        return BAD("quantize: n_rows = %lld but src has n_tokens * n_seq = %lld * %lld = %lld "
                   "rows", (long long)p->n_rows, (long long)n_tok, (long long)n_seq,
                   (long long)(n_tok * n_seq));
    for (int64_t i = 0; i < p->n_rows; i++) {
        if (p->rows[i] < 0 || p->rows[i] >= n_ctx)
            return tq_status_make(TQ_CODE_OUT_OF_RANGE, "quantize: rows[%lld] = %lld (sequence "
                                  "%lld, token %lld) is outside [0, n_ctx = %lld)",
                                  (long long)i, (long long)p->rows[i], (long long)(i / n_tok),
                                  (long long)(i % n_tok), (long long)n_ctx);
    }
    op_init(op, TQ_OP_QUANTIZE);
    tq_tensor_to_ref(s, &op->src);
    tq_tensor_to_ref(d, &op->dst);
    op->rows = p->rows;
    op->n_rows = p->n_rows;
    return NULL;
}

tq_status tq_validate_dequantize(const tq_context *ctx, const tq_dequantize_params *p, tq_op *op)
{
    if (!p)
        return BAD("dequantize: params is NULL");
    tq_status st = check2(ctx, p->src, "dequantize: src", p->dst, "dequantize: dst");
    if (st)
        return st;
    const tq_tensor *s = p->src, *d = p->dst;
    if (d->type != TQ_TYPE_F32)
        return BAD("dequantize: dst type is %s; it must be f32", tq_type_name(d->type));
    if (s == d)
        return BAD("dequantize: src and dst are the same tensor (in place is not supported)");
    if (p->flags & ~(uint32_t)TQ_DEQUANTIZE_INVERSE_ROTATION)
        return BAD("dequantize: unknown flags 0x%x", p->flags & ~(uint32_t)TQ_DEQUANTIZE_INVERSE_ROTATION);
    int64_t want = tq_type_padded_elems(s->type, s->ne[0]);
    if (d->ne[0] != want)
        return BAD("dequantize: dst ne[0] = %lld; a %s row of %lld elements dequantizes to "
                   "%lld floats (turbo rows keep their padding)", (long long)d->ne[0],
                   tq_type_name(s->type), (long long)s->ne[0], (long long)want);
    for (int i = 1; i < 4; i++)
        if (s->ne[i] != d->ne[i])
            return BAD("dequantize: src ne[%d] = %lld differs from dst ne[%d] = %lld", i,
                       (long long)s->ne[i], i, (long long)d->ne[i]);
    op_init(op, TQ_OP_DEQUANTIZE);
    tq_tensor_to_ref(s, &op->src);
    tq_tensor_to_ref(d, &op->dst);
    op->flags = p->flags;
    return NULL;
}

tq_status tq_validate_rotate(const tq_context *ctx, const tq_rotate_params *p, tq_op *op)
{
    if (!p)
        return BAD("rotate: params is NULL");
    tq_status st = check2(ctx, p->src, "rotate: src", p->dst, "rotate: dst");
    if (st)
        return st;
    const tq_tensor *s = p->src, *d = p->dst;
    if (s->type != TQ_TYPE_F32 || d->type != TQ_TYPE_F32)
        return BAD("rotate: src and dst must be f32 (they are %s and %s)",
                   tq_type_name(s->type), tq_type_name(d->type));
    for (int i = 0; i < 4; i++)
        if (s->ne[i] != d->ne[i])
            return BAD("rotate: src and dst shapes differ (ne[%d]: %lld vs %lld)", i,
                       (long long)s->ne[i], (long long)d->ne[i]);
    if (s->ne[0] % 128 != 0)
        return BAD("rotate: ne[0] = %lld is not a multiple of the 128-element rotation group",
                   (long long)s->ne[0]);
    op_init(op, TQ_OP_ROTATE);
    tq_tensor_to_ref(s, &op->src);
    tq_tensor_to_ref(d, &op->dst);
    op->inverse = p->inverse;
    return NULL;
}

tq_status tq_validate_attention(const tq_context *ctx, const tq_attention_params *p, tq_op *op)
{
    if (!p)
        return BAD("attention: params is NULL");
    tq_status st = check2(ctx, p->q, "attention: q", p->k, "attention: k");
    if (!st)
        st = check2(ctx, p->v, "attention: v", p->out, "attention: out");
    if (st)
        return st;
    const tq_tensor *q = p->q, *k = p->k, *v = p->v, *o = p->out;
    if (q->type != TQ_TYPE_F32 || o->type != TQ_TYPE_F32)
        return BAD("attention: q and out must be f32 (they are %s and %s)",
                   tq_type_name(q->type), tq_type_name(o->type));
    if (o == q || o == k || o == v)
        return BAD("attention: out must not be the same tensor as q, k or v");
    for (int i = 0; i < 4; i++)
        if (q->ne[i] != o->ne[i])
            return BAD("attention: q and out shapes differ (ne[%d]: %lld vs %lld); both are "
                       "[d, n_head, n_q, n_seq]", i, (long long)q->ne[i], (long long)o->ne[i]);
    for (int i = 0; i < 4; i++)
        if (k->ne[i] != v->ne[i])
            return BAD("attention: k and v shapes differ (ne[%d]: %lld vs %lld); both are "
                       "[d, n_ctx, n_kv_head, n_seq]", i, (long long)k->ne[i],
                       (long long)v->ne[i]);
    int64_t d = q->ne[0], n_head = q->ne[1], n_q = q->ne[2], n_seq = q->ne[3];
    int64_t n_ctx = k->ne[1], n_kv_head = k->ne[2];
    if (k->ne[0] != d)
        return BAD("attention: head size differs: q d = %lld, k/v d = %lld", (long long)d,
                   (long long)k->ne[0]);
    if (k->ne[3] != n_seq)
        return BAD("attention: q n_seq (ne[3]) = %lld differs from k/v n_seq = %lld",
                   (long long)n_seq, (long long)k->ne[3]);
    if (n_head % n_kv_head != 0)
        return BAD("attention: n_head = %lld is not a multiple of n_kv_head = %lld",
                   (long long)n_head, (long long)n_kv_head);
    if (p->n_kv < 1 || p->n_kv > n_ctx)
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "attention: n_kv = %lld is outside "
                              "[1, n_ctx = %lld]", (long long)p->n_kv, (long long)n_ctx);
    if (p->causal && (p->q_pos0 < 0 || p->q_pos0 > p->n_kv - n_q))
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "attention: causal with q_pos0 = %lld and "
                              "n_q = %lld needs 0 <= q_pos0 and q_pos0 + n_q <= n_kv = %lld",
                              (long long)p->q_pos0, (long long)n_q, (long long)p->n_kv);
    if (!isfinite(p->scale))
        return BAD("attention: scale is not finite");
    if (!isfinite(p->softcap) || p->softcap < 0)
        return BAD("attention: softcap = %g; it must be finite and >= 0 (0 = off)",
                   (double)p->softcap);
    op_init(op, TQ_OP_ATTENTION);
    tq_tensor_to_ref(q, &op->q);
    tq_tensor_to_ref(k, &op->k);
    tq_tensor_to_ref(v, &op->v);
    tq_tensor_to_ref(o, &op->out);
    op->n_kv = p->n_kv;
    op->scale = p->scale != 0.0f ? p->scale : (float)(1.0 / sqrt((double)d));
    op->softcap = p->softcap;
    op->causal = p->causal;
    op->q_pos0 = p->causal ? p->q_pos0 : 0;
    return NULL;
}
