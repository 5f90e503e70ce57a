/*
 * check_cases.c: which cases `tqrun check` runs.
 *
 * The default set touches every op, every type (as quantize target and source of
 * dequantize, as K and as V of attention) and every shape feature once, small enough to
 * finish in seconds per backend; --full crosses all 49 K/V pairs with every attention shape.
 */
#include <stdlib.h>
#include <string.h>

#include "check_cases.h"

static bool type_on(const tr_check_opts *o, tq_type t)
{
    if (!o->n_types)
        return true;
    for (int i = 0; i < o->n_types; i++)
        if (o->types[i] == t)
            return true;
    return false;
}

static bool push(ck_case_list *l, const ck_case *c)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 128;
        ck_case *p = realloc(l->v, (size_t)cap * sizeof *p);
        if (!p)
            return false;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = *c;
    return true;
}

/* One attention shape; applied to a K/V pair. */
typedef struct att_shape {
    int64_t gqa, d, nq, nkv, nseq, q_pos0;
    bool causal;
    float softcap;
} att_shape;

static const att_shape base_shape = { 4, 128, 1, 333, 1, 0, false, 0.0f };

static const att_shape extra_shapes[] = {
    { 4, 128, 4, 333, 1, 0, false, 0.0f },    /* decode, 4 query tokens */
    { 4, 128, 16, 40, 1, 24, true, 0.0f },    /* prefill, causal, after a prefix */
    { 4, 128, 24, 24, 1, 0, true, 0.0f },     /* prefill of a whole prompt */
    { 1, 128, 1, 333, 1, 0, false, 0.0f },    /* no GQA */
    { 8, 128, 1, 333, 1, 0, false, 0.0f },    /* GQA 8 */
    { 4, 64, 1, 333, 1, 0, false, 0.0f },     /* d=64: one zero-padded turbo group */
    { 4, 256, 1, 333, 1, 0, false, 0.0f },    /* d=256: two turbo groups */
    { 4, 128, 1, 333, 1, 0, false, 1.5f },    /* logit softcap */
    { 4, 128, 1, 333, 2, 0, false, 0.0f },    /* two sequences */
    { 8, 256, 8, 100, 2, 92, true, 1.5f },    /* everything at once */
};

static void add_attention(ck_case_list *l, tq_type k, tq_type v, const att_shape *s)
{
    ck_case c;
    memset(&c, 0, sizeof c);
    c.op = CK_ATTENTION;
    c.type_k = k;
    c.type_v = v;
    c.d = s->d;
    c.n_kv_head = 2;
    c.n_head = 2 * s->gqa;
    c.n_q = s->nq;
    c.n_kv = s->nkv;
    c.n_seq = s->nseq;
    c.causal = s->causal;
    c.q_pos0 = s->q_pos0;
    c.softcap = s->softcap;
    push(l, &c);
}

bool ck_cases_build(const tr_check_opts *o, ck_case_list *l)
{
    memset(l, 0, sizeof *l);
    static const int64_t dq_default[] = { 64, 128, 256 };
    static const int64_t dq_full[] = { 32, 64, 96, 128, 256, 512 };
    const int64_t *ds = o->full ? dq_full : dq_default;
    const int nds = o->full ? 6 : 3;

    /* quantize from f32 and f16 into every type */
    for (int t = 0; t < TQ_TYPE_COUNT; t++) {
        if (!type_on(o, (tq_type)t))
            continue;
        for (int src = 0; src < 2; src++)
            for (int i = 0; i < nds; i++) {
                ck_case c;
                memset(&c, 0, sizeof c);
                c.op = CK_QUANTIZE;
                c.type_src = src ? TQ_TYPE_F16 : TQ_TYPE_F32;
                c.type = (tq_type)t;
                c.d = ds[i];
                c.n_kv_head = 2;
                c.n_tokens = o->full ? 9 : 5;
                c.n_seq = 2;
                push(l, &c);
            }
    }
    /* dequantize every type, turbo also with the inverse rotation */
    for (int t = 0; t < TQ_TYPE_COUNT; t++) {
        if (!type_on(o, (tq_type)t))
            continue;
        for (int inv = 0; inv < (tq_type_is_turbo((tq_type)t) ? 2 : 1); inv++)
            for (int i = 0; i < nds; i++) {
                ck_case c;
                memset(&c, 0, sizeof c);
                c.op = CK_DEQUANTIZE;
                c.type = (tq_type)t;
                c.d = ds[i];
                c.n_rows = 6;
                c.inverse = inv != 0;
                push(l, &c);
            }
    }
    /* rotate forward and inverse, out of place and in place */
    for (int inv = 0; inv < 2; inv++)
        for (int ip = 0; ip < 2; ip++)
            for (int n = 128; n <= 256; n += 128) {
                ck_case c;
                memset(&c, 0, sizeof c);
                c.op = CK_ROTATE;
                c.type = TQ_TYPE_F32;
                c.d = n;
                c.n_rows = 5;
                c.inverse = inv != 0;
                c.in_place = ip != 0;
                push(l, &c);
            }
    /* attention */
    const int n_extra = (int)(sizeof extra_shapes / sizeof extra_shapes[0]);
    if (o->full) {
        for (int k = 0; k < TQ_TYPE_COUNT; k++)
            for (int v = 0; v < TQ_TYPE_COUNT; v++) {
                if (!type_on(o, (tq_type)k) || !type_on(o, (tq_type)v))
                    continue;
                add_attention(l, (tq_type)k, (tq_type)v, &base_shape);
                for (int s = 0; s < n_extra; s++)
                    add_attention(l, (tq_type)k, (tq_type)v, &extra_shapes[s]);
            }
    } else {
        /* Every type as K and as V (the diagonal), the recommended asymmetric mixes, and
         * every shape feature on the pairs most used in practice. */
        static const tq_type mixes[][2] = {
            { TQ_TYPE_Q8_0, TQ_TYPE_TURBO4 }, { TQ_TYPE_TURBO4, TQ_TYPE_Q8_0 },
            { TQ_TYPE_F16, TQ_TYPE_TURBO3 }, { TQ_TYPE_TURBO2, TQ_TYPE_Q4_0 },
            { TQ_TYPE_Q8_0, TQ_TYPE_TURBO3 },
        };
        static const tq_type shaped[][2] = {
            { TQ_TYPE_F16, TQ_TYPE_F16 }, { TQ_TYPE_Q8_0, TQ_TYPE_TURBO4 },
            { TQ_TYPE_TURBO2, TQ_TYPE_TURBO2 }, { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 },
            { TQ_TYPE_TURBO4, TQ_TYPE_TURBO4 }, { TQ_TYPE_Q4_0, TQ_TYPE_Q8_0 },
        };
        for (int t = 0; t < TQ_TYPE_COUNT; t++)
            if (type_on(o, (tq_type)t))
                add_attention(l, (tq_type)t, (tq_type)t, &base_shape);
        for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
            if (type_on(o, mixes[i][0]) && type_on(o, mixes[i][1]))
                add_attention(l, mixes[i][0], mixes[i][1], &base_shape);
        for (size_t i = 0; i < sizeof shaped / sizeof shaped[0]; i++)
            if (type_on(o, shaped[i][0]) && type_on(o, shaped[i][1]))
                for (int s = 0; s < n_extra; s++)
                    add_attention(l, shaped[i][0], shaped[i][1], &extra_shapes[s]);
    }
    return true;
}

void ck_cases_free(ck_case_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

const char *ck_op_name(int op)
{
    switch (op) {
    case CK_QUANTIZE: return "quantize";
    case CK_DEQUANTIZE: return "dequantize";
    case CK_ROTATE: return "rotate";
    default: return "attention";
    }
}

void ck_case_types(const ck_case *c, char *buf, size_t size)
{
    switch (c->op) {
    case CK_QUANTIZE:
        snprintf(buf, size, "%s->%s", tq_type_name(c->type_src), tq_type_name(c->type));
        break;
    case CK_DEQUANTIZE:
        snprintf(buf, size, "%s%s", tq_type_name(c->type), c->inverse ? " +inverse" : "");
        break;
    case CK_ROTATE:
        snprintf(buf, size, "%s", c->inverse ? "inverse" : "forward");
        break;
    default:
        snprintf(buf, size, "%s/%s", tq_type_name(c->type_k), tq_type_name(c->type_v));
        break;
    }
}

void ck_case_shape(const ck_case *c, char *buf, size_t size)
{
    switch (c->op) {
    case CK_QUANTIZE:
        snprintf(buf, size, "d=%lld kvh=%lld tok=%lld seq=%lld", (long long)c->d,
                 (long long)c->n_kv_head, (long long)c->n_tokens, (long long)c->n_seq);
        break;
    case CK_DEQUANTIZE:
        snprintf(buf, size, "d=%lld rows=%lld", (long long)c->d, (long long)c->n_rows);
        break;
    case CK_ROTATE:
        snprintf(buf, size, "n=%lld rows=%lld%s", (long long)c->d, (long long)c->n_rows,
                 c->in_place ? " in-place" : "");
        break;
    default: {
        int n = snprintf(buf, size, "%s nq=%lld h=%lld/%lld d=%lld kv=%lld",
                         c->causal ? "prefill" : "decode", (long long)c->n_q,
                         (long long)c->n_head, (long long)c->n_kv_head, (long long)c->d,
                         (long long)c->n_kv);
        if (n > 0 && (size_t)n < size && c->causal && c->q_pos0)
            n += snprintf(buf + n, size - (size_t)n, " pos0=%lld", (long long)c->q_pos0);
        if (n > 0 && (size_t)n < size && c->n_seq > 1)
            n += snprintf(buf + n, size - (size_t)n, " seq=%lld", (long long)c->n_seq);
        if (n > 0 && (size_t)n < size && c->softcap > 0)
            snprintf(buf + n, size - (size_t)n, " softcap=%g", (double)c->softcap);
        break;
    }
    }
}
