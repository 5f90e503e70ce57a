/*
 * bad_plugin.c: plugins that pass every check before init and then misbehave in it, for
 * the `tqrun list` probe tests. Built twice:
 *   BAD_PLUGIN_KIND 1 "crash": init writes through a wild pointer (SIGSEGV)
 *   BAD_PLUGIN_KIND 2 "hang":  init never returns
 * Nothing after init is ever reached; the callbacks exist so the descriptor is complete.
 */
#include <stdint.h>
#include <unistd.h>

#include "tq/tq_plugin.h"

static tq_status b_init(const tq_host_api *host, void **out_state)
{
#if BAD_PLUGIN_KIND == 1
    volatile uintptr_t wild = 16;   /* not NULL: a real wild write, not a null check */
    *(volatile int *)wild = 1;
#else
    for (;;)
        pause();
#endif
    return NULL;
}

static uint32_t b_count(void *s) { return 0; }
static tq_status b_info(void *s, uint32_t d, tq_device_info *i) { return NULL; }
static tq_status b_ctx(void *s, uint32_t d, const char *o, void *a, void **c) { return NULL; }
static void b_ctx_destroy(void *c) {}
static tq_status b_alloc(void *c, uint64_t n, tq_mem_class k, void **b) { return NULL; }
static void b_free(void *c, void *b) {}
static tq_status b_write(void *c, void *b, uint64_t o, const void *s, uint64_t n) { return NULL; }
static tq_status b_read(void *c, void *b, uint64_t o, void *d, uint64_t n) { return NULL; }
static tq_status b_seq(void *c, void **s) { return NULL; }
static void b_seq_destroy(void *s) {}
static tq_status b_record(void *s, const tq_op *op) { return NULL; }
static tq_status b_seq_op(void *s) { return NULL; }
static tq_status b_wait(void *s, uint64_t t) { return NULL; }
static tq_status b_timing(void *s, uint32_t i, tq_plugin_timing *t) { return NULL; }

static const tq_backend_ops b_ops = {
    .struct_size = sizeof(tq_backend_ops),
    .init = b_init, .device_count = b_count, .device_info = b_info,
    .context_create = b_ctx, .context_destroy = b_ctx_destroy,
    .buffer_alloc = b_alloc, .buffer_free = b_free, .buffer_write = b_write,
    .buffer_read = b_read, .seq_create = b_seq, .seq_destroy = b_seq_destroy,
    .seq_record = b_record, .seq_submit = b_seq_op, .seq_wait = b_wait,
    .seq_reset = b_seq_op, .seq_timing = b_timing,
};

static const tq_plugin_desc b_desc = {
    .abi_major = TQ_PLUGIN_ABI_MAJOR, .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(tq_plugin_desc), .name = BAD_PLUGIN_NAME, .ops = &b_ops,
};

TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void);
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void)
{
    return &b_desc;
}
