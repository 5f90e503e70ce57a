/*
 * tensor.c: typed, shaped device memory; views into it; synchronous host copies.
 */
#include <stdlib.h>
#include <string.h>

#include "tq_internal.h"

tq_status tq_check_tensor(const tq_context *ctx, const tq_tensor *t, const char *what)
{
    if (!t)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s is NULL", what);
    if (!t->context)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s is no longer usable: its context "
                              "or the tensor it views was destroyed before it", what);
    if (ctx && t->context != ctx)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s belongs to another context "
                              "(backend '%s', device %u) than the one used here (backend '%s', "
                              "device %u)", what, t->context->backend->name, t->context->device,
                              ctx->backend->name, ctx->device);
    return NULL;
}

void tq_tensor_to_ref(const tq_tensor *t, tq_tensor_ref *r)
{
    memset(r, 0, sizeof *r);
    r->buf = t->buf;
    r->offset = t->offset;
    r->type = t->type;
    memcpy(r->ne, t->ne, sizeof r->ne);
    memcpy(r->nb, t->nb, sizeof r->nb);
}

/* Checks type and shape; fills nb and nbytes. what names the call in messages. */
static tq_status check_geometry(const char *what, tq_type type, const int64_t ne[4],
                                uint64_t nb[4], uint64_t *nbytes)
{
    if (!tq_type_is_valid(type))
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: type %d is not a tq_type", what,
                              (int)type);
    if (!ne)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: ne is NULL", what);
    for (int i = 0; i < 4; i++)
        if (ne[i] < 1)
            return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: ne[%d] = %lld; every dimension "
                                  "must be >= 1 (use 1 for unused ones)", what, i,
                                  (long long)ne[i]);
    uint64_t row = tq_type_row_bytes(type, ne[0]);
    if (row == 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: ne[0] = %lld is not a valid row "
                              "length for %s (needs a multiple of %u elements)", what,
                              (long long)ne[0], tq_type_name(type), tq_type_block_elems(type));
    nb[0] = tq_type_block_elems(type) == 1 ? tq_type_block_bytes(type) : 0;
    nb[1] = row;
    uint64_t total;
    if (!tq_mul_u64(row, (uint64_t)ne[1], &nb[2]) || !tq_mul_u64(nb[2], (uint64_t)ne[2], &nb[3]) ||
        !tq_mul_u64(nb[3], (uint64_t)ne[3], &total) || total > (uint64_t)INT64_MAX)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: %s [%lld, %lld, %lld, %lld] is too "
                              "large (byte size overflows)", what, tq_type_name(type),
                              (long long)ne[0], (long long)ne[1], (long long)ne[2],
                              (long long)ne[3]);
    *nbytes = total;
    return NULL;
}

TQ_API tq_status tq_tensor_create(tq_context *c, tq_type type, const int64_t ne[4],
                                  tq_mem_class cls, tq_tensor **out_tensor)
{
    if (!c || !out_tensor)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_tensor_create: %s is NULL",
                              !c ? "context" : "out_tensor");
    *out_tensor = NULL;
    if ((unsigned)cls >= TQ_MEM_CLASS_COUNT)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_tensor_create: memory class %d is "
                              "not a tq_mem_class", (int)cls);
    tq_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tq_tensor_create: out of memory");
    tq_status st = check_geometry("tq_tensor_create", type, ne, t->nb, &t->nbytes);
    if (st) {
        free(t);
        return st;
    }
    st = c->backend->ops->buffer_alloc(c->ctx, t->nbytes, cls, &t->buf);
    if (st) {
        free(t);
        return st;
    }
    t->context = c;
    t->type = type;
    memcpy(t->ne, ne, sizeof t->ne);
    t->mem_class = cls;
    t->owns_buffer = true;
    tq_mem_add(c->mem, cls, (int64_t)t->nbytes);
    tq_context_link_tensor(c, t);
    *out_tensor = t;
    return NULL;
}

TQ_API tq_status tq_tensor_view_create(tq_tensor *parent, uint64_t offset, tq_type type,
                                       const int64_t ne[4], tq_tensor **out_view)
{
    if (!out_view)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_tensor_view_create: out_view is NULL");
    *out_view = NULL;
    tq_status st = tq_check_tensor(NULL, parent, "tq_tensor_view_create: parent");
    if (st)
        return st;
    if (offset % 4 != 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_tensor_view_create: offset %llu is "
                              "not a multiple of 4", (unsigned long long)offset);
    tq_tensor *v = calloc(1, sizeof *v);
    if (!v)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tq_tensor_view_create: out of memory");
    st = check_geometry("tq_tensor_view_create", type, ne, v->nb, &v->nbytes);
    uint64_t end;
    if (!st && (!tq_add_u64(offset, v->nbytes, &end) || end > parent->nbytes))
        st = tq_status_make(TQ_CODE_OUT_OF_RANGE, "tq_tensor_view_create: %llu bytes at offset "
                            "%llu do not fit in the parent's %llu bytes",
                            (unsigned long long)v->nbytes, (unsigned long long)offset,
                            (unsigned long long)parent->nbytes);
    if (st) {
        free(v);
        return st;
    }
    v->context = parent->context;
    v->parent = parent;
    v->buf = parent->buf;
    v->offset = parent->offset + offset;
    v->type = type;
    memcpy(v->ne, ne, sizeof v->ne);
    v->mem_class = parent->mem_class;
    parent->view_count++;
    tq_context_link_tensor(v->context, v);
    *out_view = v;
    return NULL;
}

/* Orphans every view of t (recursively, through views of views). */
static void orphan_views(tq_tensor *t)
{
    tq_context *c = t->context;
    for (tq_tensor *it = c->tensors; it && t->view_count;) {
        tq_tensor *next = it->next;
        if (it->parent == t) {
            tq_tensor_orphan(it);
            next = c->tensors;   /* the list changed: start over */
        }
        it = next;
    }
}

void tq_tensor_orphan(tq_tensor *t)
{
    tq_context *c = t->context;
    if (!c)
        return;
    if (t->view_count)
        orphan_views(t);
    if (t->owns_buffer) {
        tq_context_forget_buffer(c, t->buf);
        c->backend->ops->buffer_free(c->ctx, t->buf);
        tq_mem_add(c->mem, t->mem_class, -(int64_t)t->nbytes);
    }
    if (t->parent)
        t->parent->view_count--;
    tq_context_unlink_tensor(c, t);
    t->context = NULL;
    t->parent = NULL;
    t->buf = NULL;
}

TQ_API void tq_tensor_destroy(tq_tensor *t)
{
    if (!t)
        return;
    if (t->context && t->view_count)
        tq_log(TQ_LOG_ERROR, "tq_tensor_destroy: the tensor still has %u view(s); they are "
               "no longer usable (destroy views before the tensor they view)", t->view_count);
    tq_tensor_orphan(t);
    free(t);
}

TQ_API tq_type tq_tensor_type(const tq_tensor *t)
{
    return t ? t->type : TQ_TYPE_COUNT;
}

TQ_API void tq_tensor_shape(const tq_tensor *t, int64_t out_ne[4])
{
    if (!out_ne)
        return;
    for (int i = 0; i < 4; i++)
        out_ne[i] = t ? t->ne[i] : 0;
}

TQ_API uint64_t tq_tensor_nbytes(const tq_tensor *t)
{
    return t ? t->nbytes : 0;
}

TQ_API uint64_t tq_tensor_row_bytes(const tq_tensor *t)
{
    return t ? t->nb[1] : 0;
}

/* Range check of a host copy; what names the call. */
static tq_status check_copy(const char *what, const tq_tensor *t, uint64_t offset,
                            const void *host, uint64_t size)
{
    tq_status st = tq_check_tensor(NULL, t, what);
    if (st)
        return st;
    if (!host && size)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "%s: host pointer is NULL", what);
    uint64_t end;
    if (!tq_add_u64(offset, size, &end) || end > t->nbytes)
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "%s: %llu bytes at offset %llu exceed the "
                              "tensor's %llu bytes", what, (unsigned long long)size,
                              (unsigned long long)offset, (unsigned long long)t->nbytes);
    return NULL;
}

TQ_API tq_status tq_tensor_write(tq_tensor *t, uint64_t offset, const void *src, uint64_t size)
{
    tq_status st = check_copy("tq_tensor_write", t, offset, src, size);
    if (st || size == 0)
        return st;
    tq_context *c = t->context;
    return c->backend->ops->buffer_write(c->ctx, t->buf, t->offset + offset, src, size);
}

TQ_API tq_status tq_tensor_read(const tq_tensor *t, uint64_t offset, void *dst, uint64_t size)
{
    tq_status st = check_copy("tq_tensor_read", t, offset, dst, size);
    if (st || size == 0)
        return st;
    tq_context *c = t->context;
    return c->backend->ops->buffer_read(c->ctx, t->buf, t->offset + offset, dst, size);
}
