/*
 * ref_plugin.c: the `ref` backend, the scalar reference served through the plugin ABI.
 *
 * It is both the oracle every backend is compared with and the worked example of the
 * plugin contract (README.md in this directory): clone these four files to start a new
 * backend. This file holds the descriptor, init/shutdown and the device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref_internal.h"

static tq_status ref_init(const tq_host_api *host, void **out_state)
{
    /* The host API grows only at its end (minor versions): check it has what we use. */
    if (host->struct_size < sizeof(tq_host_api) || host->abi_major != TQ_PLUGIN_ABI_MAJOR)
        return host->status_new(TQ_CODE_ABI, "ref: host API %u.%u (%u bytes) is not the "
                                "ABI %d host API", host->abi_major, host->abi_minor,
                                host->struct_size, TQ_PLUGIN_ABI_MAJOR);
    ref_state *s = calloc(1, sizeof *s);
    if (!s)
        return host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: out of memory in init");
    s->host = host;
    *out_state = s;
    return NULL;
}

static void ref_shutdown(void *state)
{
    free(state);
}

static uint32_t ref_device_count(void *state)
{
    return 1;   /* the host CPU, one scalar thread */
}

static tq_status ref_device_info(void *state, uint32_t device, tq_device_info *info)
{
    ref_state *s = state;
    if (device != 0)
        return s->host->status_new(TQ_CODE_OUT_OF_RANGE, "ref: device %u does not exist", device);
    /* The runtime hands us a zeroed, current-size struct. */
    snprintf(info->name, sizeof info->name, "reference (scalar, double-precision attention)");
    snprintf(info->driver, sizeof info->driver, "tq ref plugin %d.%d.%d", TQ_VERSION_MAJOR,
             TQ_VERSION_MINOR, TQ_VERSION_PATCH);
    snprintf(info->id, sizeof info->id, "ref:scalar");
    snprintf(info->features, sizeof info->features, "scalar fp64-attention");
    snprintf(info->default_variant, sizeof info->default_variant, "reference");
    snprintf(info->note, sizeof info->note, "the oracle of every comparison: exact and slow; "
             "used only when asked for by name");
    info->type = TQ_DEVICE_CPU;
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    info->memory_total = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    info->memory_free = avail > 0 && page > 0 ? (uint64_t)avail * (uint64_t)page : 0;
    info->compute_units = 1;
    info->score = -1;   /* never chosen automatically */
    return NULL;
}

/* "variant=reference" is the only option; anything else is an error, never ignored. */
static tq_status parse_options(const tq_host_api *host, const char *options)
{
    const char *p = options ? options : "";
    while (*p) {
        size_t n = strcspn(p, ",;");
        if (n > 0) {
            if (!(n == 17 && strncmp(p, "variant=reference", 17) == 0))
                return host->status_new(TQ_CODE_INVALID_ARGUMENT, "ref: unknown or unsupported "
                                        "option '%.*s' (ref has one variant: "
                                        "variant=reference)", (int)n, p);
        }
        p += n;
        if (*p)
            p++;
    }
    return NULL;
}

static tq_status ref_context_create(void *state, uint32_t device, const char *options,
                                    void *acct, void **out_ctx)
{
    ref_state *s = state;
    tq_status st = parse_options(s->host, options);
    if (st)
        return st;
    ref_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return s->host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: out of memory");
    c->host = s->host;
    c->acct = acct;
    *out_ctx = c;
    return NULL;
}

static void ref_context_destroy(void *ctx)
{
    free(ctx);
}

static tq_status ref_buffer_alloc(void *ctx, uint64_t size, tq_mem_class cls, void **out_buf)
{
    ref_ctx *c = ctx;
    /* The runtime accounts this under cls itself: no mem_add here. */
    if (size > SIZE_MAX - sizeof(ref_buf))
        return c->host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: %llu bytes cannot be allocated",
                                   (unsigned long long)size);
    ref_buf *b = malloc(sizeof *b + (size_t)size);
    if (!b)
        return c->host->status_new(TQ_CODE_OUT_OF_MEMORY, "ref: cannot allocate %llu bytes of "
                                   "host memory", (unsigned long long)size);
    b->size = size;
    memset(b->data, 0, (size_t)size);   /* deterministic contents for guard-byte tests */
    *out_buf = b;
    return NULL;
}

static void ref_buffer_free(void *ctx, void *buf)
{
    free(buf);
}

static tq_status ref_buffer_write(void *ctx, void *buf, uint64_t offset, const void *src,
                                  uint64_t size)
{
    memcpy(((ref_buf *)buf)->data + offset, src, (size_t)size);   /* range checked by libtq */
    return NULL;
}

static tq_status ref_buffer_read(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t size)
{
    memcpy(dst, ((ref_buf *)buf)->data + offset, (size_t)size);
    return NULL;
}

/* The reference runs every well-formed op: there is nothing it cannot do. */
static tq_status ref_supports(void *ctx, const tq_op *op)
{
    ref_ctx *c = ctx;
    if ((unsigned)op->kind >= TQ_OP_KIND_COUNT)
        return c->host->status_new(TQ_CODE_UNSUPPORTED, "ref: op kind %d is unknown", (int)op->kind);
    return NULL;
}

const tq_backend_ops ref_ops = {
    .struct_size = sizeof(tq_backend_ops),
    .init = ref_init,
    .shutdown = ref_shutdown,
    .device_count = ref_device_count,
    .device_info = ref_device_info,
    .context_create = ref_context_create,
    .context_destroy = ref_context_destroy,
    .buffer_alloc = ref_buffer_alloc,
    .buffer_free = ref_buffer_free,
    .buffer_write = ref_buffer_write,
    .buffer_read = ref_buffer_read,
    .supports = ref_supports,
    .seq_create = ref_seq_create,
    .seq_destroy = ref_seq_destroy,
    .seq_record = ref_seq_record,
    .seq_submit = ref_seq_submit,
    .seq_wait = ref_seq_wait,
    .seq_reset = ref_seq_reset,
    .seq_timing = ref_seq_timing,
    .get_extra = NULL,
};

static const tq_plugin_desc ref_desc = {
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(tq_plugin_desc),
    .name = "ref",
    .ops = &ref_ops,
};

/* The one exported symbol. */
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void);
TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void)
{
    return &ref_desc;
}
