/*
 * context.c: a context is one device of one backend plus the plugin's ctx for it.
 *
 * It keeps lists of the tensors and sequences made from it. Destroying a context with
 * some still alive is a misuse (logged as an error), but it must not turn into a crash
 * later: their device memory is released now and they become inert orphans whose
 * destroy frees only the host object and whose use returns INVALID_ARGUMENT.
 */
#include <stdlib.h>
#include <string.h>

#include "tq_internal.h"

TQ_API tq_status tq_context_create(tq_backend *b, uint32_t device, const char *options,
                                   tq_context **out_context)
{
    if (!b || !out_context)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_context_create: %s is NULL",
                              !b ? "backend" : "out_context");
    *out_context = NULL;
    if (device >= b->device_count)
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "tq_context_create: backend '%s' has no "
                              "device %u (it has %u)", b->name, device, b->device_count);
    tq_context *c = calloc(1, sizeof *c);
    if (!c)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tq_context_create: out of memory");
    c->backend = b;
    c->device = device;
    c->mem = &b->mem[device];
    tq_status st = b->ops->context_create(b->state, device, options ? options : "", c->mem,
                                          &c->ctx);
    if (st) {
        free(c);
        return st;
    }
    atomic_fetch_add(&b->live_contexts, 1);
    *out_context = c;
    return NULL;
}

TQ_API void tq_context_destroy(tq_context *c)
{
    if (!c)
        return;
    uint32_t nt = 0, ns = 0;
    for (tq_tensor *t = c->tensors; t; t = t->next)
        nt++;
    for (tq_sequence *s = c->sequences; s; s = s->next)
        ns++;
    if (nt || ns)
        tq_log(TQ_LOG_ERROR, "tq_context_destroy: %u tensor(s) and %u sequence(s) of this "
               "context are still alive; their device memory is released now and using them "
               "is an error (destroy them before the context)", nt, ns);
    /* Sequences first: their recorded ops reference the tensors' buffers. */
    while (c->sequences)
        tq_sequence_orphan(c->sequences);
    /* Views before the tensors they look into, so no view is left with a freed buffer. */
    for (bool again = true; again;) {
        again = false;
        for (tq_tensor *t = c->tensors; t; t = t->next) {
            if (t->view_count == 0) {
                tq_tensor_orphan(t);
                again = true;
                break;
            }
        }
    }
    while (c->tensors)   /* only reachable through a bookkeeping bug; never leave one */
        tq_tensor_orphan(c->tensors);
    c->backend->ops->context_destroy(c->ctx);
    atomic_fetch_sub(&c->backend->live_contexts, 1);
    free(c);
}

TQ_API tq_backend *tq_context_backend(const tq_context *c)
{
    return c ? c->backend : NULL;
}

TQ_API uint32_t tq_context_device(const tq_context *c)
{
    return c ? c->device : 0;
}

void tq_context_link_tensor(tq_context *c, tq_tensor *t)
{
    t->prev = NULL;
    t->next = c->tensors;
    if (c->tensors)
        c->tensors->prev = t;
    c->tensors = t;
}

void tq_context_unlink_tensor(tq_context *c, tq_tensor *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        c->tensors = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

void tq_context_link_sequence(tq_context *c, tq_sequence *s)
{
    s->prev = NULL;
    s->next = c->sequences;
    if (c->sequences)
        c->sequences->prev = s;
    c->sequences = s;
}

void tq_context_unlink_sequence(tq_context *c, tq_sequence *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->sequences = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

TQ_API tq_status tq_context_supports_quantize(tq_context *c, const tq_quantize_params *p)
{
    if (!c)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_context_supports_quantize: "
                              "context is NULL");
    tq_op op;
    tq_status st = tq_validate_quantize(c, p, &op);
    if (st || !c->backend->ops->supports)
        return st;
    return c->backend->ops->supports(c->ctx, &op);
}

TQ_API tq_status tq_context_supports_attention(tq_context *c, const tq_attention_params *p)
{
    if (!c)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_context_supports_attention: "
                              "context is NULL");
    tq_op op;
    tq_status st = tq_validate_attention(c, p, &op);
    if (st || !c->backend->ops->supports)
        return st;
    return c->backend->ops->supports(c->ctx, &op);
}
