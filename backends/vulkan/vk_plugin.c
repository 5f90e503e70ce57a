/*
 * vk_plugin.c: the plugin entry point and op table of the Vulkan backend.
 */
#include <stdio.h>
#include <string.h>

#include "vk_sequence.h"

static tq_status vk_init(const tq_host_api *host, void **out_state)
{
    tq_vk_state *st;
    tq_status s = tq_vk_state_create(host, &st);
    if (s)
        return s;
    if (st->n_devices == 0)
        host->log(1, "vulkan: the loader (%s) found no device with a compute queue",
                  st->loader.path);
    *out_state = st;
    return NULL;
}

static void vk_shutdown(void *state)
{
    tq_vk_state_destroy(state);
}

static uint32_t vk_device_count(void *state)
{
    return ((tq_vk_state *)state)->n_devices;
}

static tq_status vk_device_info(void *state, uint32_t device, tq_device_info *out)
{
    return tq_vk_device_info_get(state, device, out);
}

static tq_status vk_context_create(void *state, uint32_t device, const char *options, void *acct,
                                   void **out_ctx)
{
    tq_vk_ctx *ctx;
    tq_status s = tq_vk_ctx_create(state, device, options, acct, &ctx);
    if (!s)
        *out_ctx = ctx;
    return s;
}

static void vk_context_destroy(void *ctx)
{
    tq_vk_ctx_destroy(ctx);
}

static tq_status vk_buffer_alloc(void *ctx, uint64_t size, tq_mem_class cls, void **out_buf)
{
    tq_vk_buffer *b;
    tq_status s = tq_vk_buffer_create(ctx, size, TQ_VK_MEM_DEVICE, cls, false, &b);
    if (!s)
        *out_buf = b;
    return s;
}

static void vk_buffer_free(void *ctx, void *buf)
{
    tq_vk_ctx *c = ctx;
    c->fns.vkQueueWaitIdle(c->queue);
    tq_vk_buffer_destroy(ctx, buf);
}

static tq_status vk_buffer_write(void *ctx, void *buf, uint64_t offset, const void *src, uint64_t size)
{
    return tq_vk_buffer_write(ctx, buf, offset, src, size);
}

static tq_status vk_buffer_read(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t size)
{
    return tq_vk_buffer_read(ctx, buf, offset, dst, size);
}

static tq_status vk_supports(void *ctx, const tq_op *op)
{
    return tq_vk_ops_supports(ctx, op);
}

static tq_status vk_seq_create(void *ctx, void **out_seq)
{
    return tq_vk_seq_create(ctx, out_seq);
}

/* Extra "vulkan.cache_info": where the pipeline cache of a context lives, how many bytes
 * were loaded from it at creation and how many pipelines the context built. */
typedef void (*tq_vk_cache_info_fn)(void *ctx, char *path, size_t path_cap,
                                    uint64_t *loaded_bytes, uint32_t *pipelines_built);

static void vk_cache_info(void *ctx, char *path, size_t path_cap, uint64_t *loaded_bytes,
                          uint32_t *pipelines_built)
{
    tq_vk_ctx *c = ctx;
    if (path && path_cap)
        snprintf(path, path_cap, "%s", c->cache_path);
    if (loaded_bytes)
        *loaded_bytes = c->cache_loaded_bytes;
    if (pipelines_built)
        *pipelines_built = c->n_pipelines_created;
}

static void *vk_get_extra(void *state, const char *name)
{
    (void)state;
    if (name && strcmp(name, "vulkan.cache_info") == 0) {
        tq_vk_cache_info_fn fn = vk_cache_info;
        void *p;
        memcpy(&p, &fn, sizeof(p));
        return p;
    }
    return NULL;
}

static const tq_backend_ops vk_ops = {
    .struct_size = sizeof(tq_backend_ops),
    .init = vk_init,
    .shutdown = vk_shutdown,
    .device_count = vk_device_count,
    .device_info = vk_device_info,
    .context_create = vk_context_create,
    .context_destroy = vk_context_destroy,
    .buffer_alloc = vk_buffer_alloc,
    .buffer_free = vk_buffer_free,
    .buffer_write = vk_buffer_write,
    .buffer_read = vk_buffer_read,
    .supports = vk_supports,
    .seq_create = vk_seq_create,
    .seq_destroy = tq_vk_seq_destroy,
    .seq_record = tq_vk_seq_record,
    .seq_submit = tq_vk_seq_submit,
    .seq_wait = tq_vk_seq_wait,
    .seq_reset = tq_vk_seq_reset,
    .seq_timing = tq_vk_seq_timing,
    .get_extra = vk_get_extra,
};

static const tq_plugin_desc vk_desc = {
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(tq_plugin_desc),
    .name = "vulkan",
    .ops = &vk_ops,
};

TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void);
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void)
{
    return &vk_desc;
}
