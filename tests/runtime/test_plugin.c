/*
 * test_plugin.c: tiny plugins for the discovery tests, one source, built several times
 * with a different TEST_PLUGIN_KIND each:
 *   0 good          a minimal working backend named "good" (one device, host buffers)
 *   1 wrong ABI     reports abi_major 99
 *   2 no symbol     exports no tq_plugin_query
 *   3 init fails    init returns a BACKEND status
 */
#include <stdlib.h>
#include <string.h>

#include "tq/tq_plugin.h"

#ifndef TEST_PLUGIN_KIND
#define TEST_PLUGIN_KIND 0
#endif
#ifndef TEST_PLUGIN_NAME
#define TEST_PLUGIN_NAME "good"
#endif

static const tq_host_api *g_host;

static tq_status t_init(const tq_host_api *host, void **out_state)
{
    g_host = host;
#if TEST_PLUGIN_KIND == 3
    return host->status_new(TQ_CODE_BACKEND, "initfail: no device driver found (simulated)");
#else
    *out_state = (void *)&g_host;
    return NULL;
#endif
}

static void t_shutdown(void *state) {}
static uint32_t t_device_count(void *state) { return 1; }

static tq_status t_device_info(void *state, uint32_t device, tq_device_info *info)
{
    strcpy(info->name, "Test Device One");
    strcpy(info->id, "test:one");
    info->type = TQ_DEVICE_OTHER;
    info->score = 5;
    return NULL;
}

static tq_status t_context_create(void *state, uint32_t device, const char *options, void *acct,
                                  void **out_ctx)
{
    *out_ctx = acct;
    return NULL;
}
static void t_context_destroy(void *ctx) {}

static tq_status t_buffer_alloc(void *ctx, uint64_t size, tq_mem_class cls, void **out_buf)
{
    *out_buf = calloc(1, (size_t)size);
    return *out_buf ? NULL : g_host->status_new(TQ_CODE_OUT_OF_MEMORY, "good: oom");
}
static void t_buffer_free(void *ctx, void *buf) { free(buf); }
static tq_status t_buffer_write(void *ctx, void *buf, uint64_t off, const void *src, uint64_t n)
{
    memcpy((char *)buf + off, src, (size_t)n);
    return NULL;
}
static tq_status t_buffer_read(void *ctx, void *buf, uint64_t off, void *dst, uint64_t n)
{
    memcpy(dst, (char *)buf + off, (size_t)n);
    return NULL;
}
static tq_status t_supports(void *ctx, const tq_op *op)
{
    return g_host->status_new(TQ_CODE_UNSUPPORTED, "good: this test backend runs no ops");
}
static tq_status t_seq_create(void *ctx, void **out_seq) { *out_seq = ctx; return NULL; }
static void t_seq_destroy(void *seq) {}
static tq_status t_seq_record(void *seq, const tq_op *op) { return NULL; }
static tq_status t_seq_submit(void *seq) { return NULL; }
static tq_status t_seq_wait(void *seq, uint64_t timeout_ns) { return NULL; }
static tq_status t_seq_reset(void *seq) { return NULL; }
static tq_status t_seq_timing(void *seq, uint32_t index, tq_plugin_timing *out) { return NULL; }

static const tq_backend_ops t_ops = {
    .struct_size = sizeof(tq_backend_ops),
    .init = t_init, .shutdown = t_shutdown,
    .device_count = t_device_count, .device_info = t_device_info,
    .context_create = t_context_create, .context_destroy = t_context_destroy,
    .buffer_alloc = t_buffer_alloc, .buffer_free = t_buffer_free,
    .buffer_write = t_buffer_write, .buffer_read = t_buffer_read,
    .supports = t_supports,
    .seq_create = t_seq_create, .seq_destroy = t_seq_destroy, .seq_record = t_seq_record,
    .seq_submit = t_seq_submit, .seq_wait = t_seq_wait, .seq_reset = t_seq_reset,
    .seq_timing = t_seq_timing,
};

static const tq_plugin_desc t_desc = {
#if TEST_PLUGIN_KIND == 1
    .abi_major = 99,
#else
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
#endif
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(tq_plugin_desc),
    .name = TEST_PLUGIN_NAME,
    .ops = &t_ops,
};

#if TEST_PLUGIN_KIND == 2
/* Exports something, just not the query symbol. */
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query_misspelt(void);
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query_misspelt(void)
{
    return &t_desc;
}
#else
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void);
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void)
{
    return &t_desc;
}
#endif
