/*
 * kv_cache.c: per-layer K and V tensors for a model shape, and their exact size.
 *
 * The prediction and the allocation use the same formula (row_bytes * n_ctx * n_kv_head
 * * n_seq per tensor), and the runtime accounts exactly the tensor bytes as kv, so
 * predict == accounted holds by construction; tests pin it.
 */
#include <stdlib.h>
#include <string.h>

#include "tq_internal.h"

struct tq_kv_cache {
    tq_context *context;
    tq_kv_cache_desc desc;
    tq_tensor **tensors;       /* 2 * n_layer: k0, v0, k1, v1, ... */
};

static tq_status tensor_bytes(const char *which, tq_type type, const tq_kv_cache_desc *d,
                              uint64_t *out)
{
    if (!tq_type_is_valid(type))
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "kv cache: %s type %d is not a tq_type",
                              which, (int)type);
    uint64_t row = tq_type_row_bytes(type, d->head_dim);
    if (row == 0)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "kv cache: head_dim %u is not valid for "
                              "%s %s (needs a multiple of %u)", d->head_dim, which,
                              tq_type_name(type), tq_type_block_elems(type));
    uint64_t a, b;
    if (!tq_mul_u64(row, d->n_ctx, &a) || !tq_mul_u64(a, d->n_kv_head, &b) ||
        !tq_mul_u64(b, d->n_seq, out))
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "kv cache: %s tensor size overflows",
                              which);
    return NULL;
}

TQ_API tq_status tq_kv_cache_predict(const tq_kv_cache_desc *d, tq_kv_cache_size *out)
{
    if (!d || !out)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_kv_cache_predict: %s is NULL",
                              !d ? "desc" : "out_size");
    memset(out, 0, sizeof *out);
    if (!d->n_layer || !d->n_kv_head || !d->head_dim || !d->n_ctx || !d->n_seq)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "kv cache: n_layer (%u), n_kv_head (%u), "
                              "head_dim (%u), n_ctx (%u) and n_seq (%u) must all be >= 1",
                              d->n_layer, d->n_kv_head, d->head_dim, d->n_ctx, d->n_seq);
    uint64_t k, v, kv, total;
    tq_status st = tensor_bytes("K", d->type_k, d, &k);
    if (!st)
        st = tensor_bytes("V", d->type_v, d, &v);
    if (st)
        return st;
    if (!tq_add_u64(k, v, &kv) || !tq_mul_u64(kv, d->n_layer, &total) ||
        total > (uint64_t)INT64_MAX)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "kv cache: total size overflows");
    out->k_bytes_per_layer = k;
    out->v_bytes_per_layer = v;
    out->total_bytes = total;
    return NULL;
}

TQ_API tq_status tq_kv_cache_create(tq_context *c, const tq_kv_cache_desc *d, tq_kv_cache **out)
{
    if (!c || !d || !out)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_kv_cache_create: %s is NULL",
                              !c ? "context" : !d ? "desc" : "out_cache");
    *out = NULL;
    tq_kv_cache_size size;
    tq_status st = tq_kv_cache_predict(d, &size);
    if (st)
        return st;
    tq_kv_cache *kv = calloc(1, sizeof *kv);
    tq_tensor **ts = calloc((size_t)d->n_layer * 2, sizeof *ts);
    if (!kv || !ts) {
        free(kv);
        free(ts);
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tq_kv_cache_create: out of memory");
    }
    kv->context = c;
    kv->desc = *d;
    kv->tensors = ts;
    for (uint32_t l = 0; l < d->n_layer && !st; l++) {
        for (int w = 0; w < 2 && !st; w++) {
            const int64_t ne[4] = { d->head_dim, d->n_ctx, d->n_kv_head, d->n_seq };
            st = tq_tensor_create(c, w ? d->type_v : d->type_k, ne, TQ_MEM_KV, &ts[2 * l + w]);
            if (st) {
                tq_status w2 = tq_status_make(tq_status_code(st), "kv cache: layer %u %s (%llu "
                                              "bytes of %llu in total): %s", l, w ? "V" : "K",
                                              (unsigned long long)(w ? size.v_bytes_per_layer
                                                                     : size.k_bytes_per_layer),
                                              (unsigned long long)size.total_bytes,
                                              tq_status_message(st));
                tq_status_free(st);
                st = w2;
            }
        }
    }
    if (st) {
        tq_kv_cache_destroy(kv);
        return st;
    }
    *out = kv;
    return NULL;
}

TQ_API void tq_kv_cache_destroy(tq_kv_cache *kv)
{
    if (!kv)
        return;
    for (uint32_t i = 0; i < 2 * kv->desc.n_layer; i++)
        tq_tensor_destroy(kv->tensors[i]);
    free(kv->tensors);
    free(kv);
}

TQ_API tq_status tq_kv_cache_layer(tq_kv_cache *kv, uint32_t layer, tq_tensor **out_k,
                                   tq_tensor **out_v)
{
    if (!kv)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_kv_cache_layer: cache is NULL");
    if (!out_k && !out_v)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_kv_cache_layer: out_k and out_v "
                              "are both NULL");
    if (layer >= kv->desc.n_layer)
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "tq_kv_cache_layer: layer %u does not exist "
                              "(the cache has %u)", layer, kv->desc.n_layer);
    if (out_k)
        *out_k = kv->tensors[2 * layer];
    if (out_v)
        *out_v = kv->tensors[2 * layer + 1];
    return NULL;
}
