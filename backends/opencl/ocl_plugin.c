/*
 * ocl_plugin.c: the OpenCL backend's plugin entry: init/shutdown, devices, contexts,
 * buffers and the op table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

static tq_status ocl_init(const tq_host_api *host, void **out_state)
{
    tq_ocl_state *st = calloc(1, sizeof *st);
    if (!st)
        return host->status_new(TQ_CODE_OUT_OF_MEMORY, "opencl: out of host memory");
    st->host = host;
    pthread_mutex_init(&st->stats_lock, NULL);
    tq_status s = tq_ocl_loader_open(host, st);
    if (!s)
        s = tq_ocl_devices_enumerate(st);
    if (s) {
        tq_ocl_loader_close(st);
        pthread_mutex_destroy(&st->stats_lock);
        free(st);
        return s;
    }
    host->log(2, "opencl: loader %s, %u device(s)", st->lib_path, st->n_devices);
    *out_state = st;
    return NULL;
}

static void ocl_shutdown(void *state)
{
    tq_ocl_state *st = state;
    if (!st)
        return;
    for (uint32_t i = 0; i < st->n_devices; i++) {
        tq_ocl_device *dev = &st->devices[i];
        if (dev->program)
            st->cl.clReleaseProgram(dev->program);
        if (dev->cl_ctx)
            st->cl.clReleaseContext(dev->cl_ctx);
        pthread_mutex_destroy(&dev->lock);
    }
    tq_ocl_loader_close(st);
    pthread_mutex_destroy(&st->stats_lock);
    free(st);
}

static uint32_t ocl_device_count(void *state)
{
    return ((tq_ocl_state *)state)->n_devices;
}

static tq_status ocl_device_info(void *state, uint32_t device, tq_device_info *out)
{
    tq_ocl_state *st = state;
    if (device >= st->n_devices)
        return st->host->status_new(TQ_CODE_OUT_OF_RANGE, "opencl: device %u of %u", device,
                                    st->n_devices);
    *out = st->devices[device].info;
    return NULL;
}

/* "variant=split-k/wg64,splits=4": the keys this backend knows; anything else is an error. */
static tq_status parse_options(const tq_host_api *host, const char *options, char *variant,
                               size_t vcap, uint32_t *splits)
{
    variant[0] = '\0';
    *splits = 0;
    if (!options)
        return NULL;
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", options) >= (int)sizeof buf)
        return host->status_new(TQ_CODE_INVALID_ARGUMENT, "opencl: options too long: '%s'", options);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        char *eq = strchr(tok, '=');
        if (!eq)
            return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                    "opencl: option '%s' is not key=value", tok);
        *eq = '\0';
        const char *val = eq + 1;
        if (strcmp(tok, "variant") == 0) {
            snprintf(variant, vcap, "%s", val);
        } else if (strcmp(tok, "splits") == 0) {
            char *end = NULL;
            unsigned long n = strtoul(val, &end, 10);
            if (!end || *end || n == 0 || n > 65536)
                return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                        "opencl: splits='%s' must be an integer 1..65536", val);
            *splits = (uint32_t)n;
        } else {
            return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                    "opencl: unknown option '%s' (known: variant=split-k/wg<N>"
                                    "|split-k-coop/wg<N>|split-k-mma, splits=<n>)", tok);
        }
    }
    return NULL;
}

static void ocl_context_destroy(void *vctx);

static tq_status ocl_context_create(void *state, uint32_t device, const char *options, void *acct,
                                    void **out_ctx)
{
    tq_ocl_state *st = state;
    if (device >= st->n_devices)
        return st->host->status_new(TQ_CODE_OUT_OF_RANGE, "opencl: device %u of %u", device,
                                    st->n_devices);
    char variant[64];
    uint32_t splits = 0;
    tq_status s = parse_options(st->host, options, variant, sizeof variant, &splits);
    if (s)
        return s;
    tq_ocl_device *dev = &st->devices[device];
    s = tq_ocl_device_prepare(dev);
    if (s)
        return s;
    tq_ocl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return st->host->status_new(TQ_CODE_OUT_OF_MEMORY, "opencl: out of host memory");
    ctx->state = st;
    ctx->dev = dev;
    ctx->cl = &st->cl;
    ctx->host = st->host;
    ctx->acct = acct;
    ctx->forced_splits = splits;
    cl_int err;
    ctx->queue = st->cl.clCreateCommandQueue(dev->cl_ctx, dev->id, CL_QUEUE_PROFILING_ENABLE, &err);
    if (!ctx->queue) {
        free(ctx);
        return tq_ocl_fail(st->host, err, "clCreateCommandQueue");
    }
    s = tq_ocl_ctx_create_kernels(ctx, variant);
    if (s) {
        ocl_context_destroy(ctx);
        return s;
    }
    st->host->log(2, "opencl: context on '%s': %s; attention %s", dev->info.name,
                  dev->program_note, ctx->attn_variant);
    *out_ctx = ctx;
    return NULL;
}

static void ocl_context_destroy(void *vctx)
{
    tq_ocl_ctx *ctx = vctx;
    if (!ctx)
        return;
    if (ctx->queue)
        ctx->cl->clFinish(ctx->queue);
    for (int k = 0; k < TQ_OCL_K_COUNT; k++)
        if (ctx->kernels[k])
            ctx->cl->clReleaseKernel(ctx->kernels[k]);
    if (ctx->queue)
        ctx->cl->clReleaseCommandQueue(ctx->queue);
    free(ctx);
}

/* Zeroes a new buffer with the widest pattern that divides its size, in pieces of at most
 * 256 MiB: on the H100's NVIDIA OpenCL a single one-byte fill of a 2 GiB buffer (f16 K of
 * 8 sequences at ctx 131072) did not finish within two minutes. */
static cl_int ocl_fill_zero(tq_ocl_ctx *ctx, cl_mem mem, uint64_t size)
{
    static const cl_uchar zeros[16] = { 0 };
    size_t pat = 16;
    while (pat > 1 && size % pat)
        pat /= 2;
    const uint64_t piece = 256ull << 20;   /* a multiple of every pattern size */
    cl_int err = CL_SUCCESS;
    for (uint64_t off = 0; off < size && err == CL_SUCCESS; off += piece) {
        uint64_t n = size - off < piece ? size - off : piece;
        err = ctx->cl->clEnqueueFillBuffer(ctx->queue, mem, zeros, pat, (size_t)off, (size_t)n,
                                           0, NULL, NULL);
    }
    if (err == CL_SUCCESS)
        err = ctx->cl->clFinish(ctx->queue);
    return err;
}

static tq_status ocl_buffer_alloc(void *vctx, uint64_t size, tq_mem_class cls, void **out_buf)
{
    tq_ocl_ctx *ctx = vctx;
    (void)cls;   /* the runtime accounts tensors itself */
    if (size == 0)
        return ctx->host->status_new(TQ_CODE_INVALID_ARGUMENT, "opencl: zero-byte buffer");
    if (size > ctx->dev->max_alloc)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY,
                                     "opencl: %llu bytes exceed the largest single allocation "
                                     "'%s' allows (%llu)",
                                     (unsigned long long)size, ctx->dev->info.name,
                                     (unsigned long long)ctx->dev->max_alloc);
    tq_ocl_buf *b = calloc(1, sizeof *b);
    if (!b)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "opencl: out of host memory");
    cl_int err;
    b->mem = ctx->cl->clCreateBuffer(ctx->dev->cl_ctx, CL_MEM_READ_WRITE, (size_t)size, NULL, &err);
    if (!b->mem) {
        free(b);
        return tq_ocl_fail(ctx->host, err, "clCreateBuffer");
    }
    b->size = size;
    /* New tensors read as zeros, like the other backends' (a fresh cache is empty). Also
     * makes lazy drivers commit the memory now, so failures show up here. */
    err = ocl_fill_zero(ctx, b->mem, size);
    if (err != CL_SUCCESS) {
        ctx->cl->clReleaseMemObject(b->mem);
        free(b);
        return tq_ocl_fail(ctx->host, err, "clearing a new buffer");
    }
    *out_buf = b;
    return NULL;
}

static void ocl_buffer_free(void *vctx, void *vbuf)
{
    tq_ocl_ctx *ctx = vctx;
    tq_ocl_buf *b = vbuf;
    if (!b)
        return;
    ctx->cl->clReleaseMemObject(b->mem);
    free(b);
}

static tq_status ocl_buffer_write(void *vctx, void *vbuf, uint64_t offset, const void *src,
                                  uint64_t size)
{
    tq_ocl_ctx *ctx = vctx;
    tq_ocl_buf *b = vbuf;
    if (size == 0)
        return NULL;
    cl_int err = ctx->cl->clEnqueueWriteBuffer(ctx->queue, b->mem, CL_TRUE, (size_t)offset,
                                               (size_t)size, src, 0, NULL, NULL);
    return err == CL_SUCCESS ? NULL : tq_ocl_fail(ctx->host, err, "clEnqueueWriteBuffer");
}

static tq_status ocl_buffer_read(void *vctx, void *vbuf, uint64_t offset, void *dst, uint64_t size)
{
    tq_ocl_ctx *ctx = vctx;
    tq_ocl_buf *b = vbuf;
    if (size == 0)
        return NULL;
    cl_int err = ctx->cl->clEnqueueReadBuffer(ctx->queue, b->mem, CL_TRUE, (size_t)offset,
                                              (size_t)size, dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? NULL : tq_ocl_fail(ctx->host, err, "clEnqueueReadBuffer");
}

/* Extra "tq_opencl_cache_stats": void fn(void *state, tq_ocl_cache_stats *out), with out
 * = { hits, misses, rejected, written } (four uint64_t). */
static void cache_stats(void *state, tq_ocl_cache_stats *out)
{
    tq_ocl_state *st = state;
    pthread_mutex_lock(&st->stats_lock);
    *out = st->stats;
    pthread_mutex_unlock(&st->stats_lock);
}

/* Extra "tq_opencl_program_note": const char *fn(void *state, uint32_t device): how the
 * device's program was obtained ("program cache hit (3 ms)", "program cache miss:
 * compiled in 812 ms"), "" before the first context. */
static const char *program_note(void *state, uint32_t device)
{
    tq_ocl_state *st = state;
    return device < st->n_devices ? st->devices[device].program_note : "";
}

static void *ocl_get_extra(void *state, const char *name)
{
    (void)state;
    void *fn = NULL;
    if (name && strcmp(name, "tq_opencl_cache_stats") == 0) {
        void (*f)(void *, tq_ocl_cache_stats *) = cache_stats;
        memcpy(&fn, &f, sizeof fn);
    } else if (name && strcmp(name, "tq_opencl_program_note") == 0) {
        const char *(*f)(void *, uint32_t) = program_note;
        memcpy(&fn, &f, sizeof fn);
    }
    return fn;
}

static const tq_backend_ops ocl_ops = {
    .struct_size = sizeof(tq_backend_ops),
    .init = ocl_init,
    .shutdown = ocl_shutdown,
    .device_count = ocl_device_count,
    .device_info = ocl_device_info,
    .context_create = ocl_context_create,
    .context_destroy = ocl_context_destroy,
    .buffer_alloc = ocl_buffer_alloc,
    .buffer_free = ocl_buffer_free,
    .buffer_write = ocl_buffer_write,
    .buffer_read = ocl_buffer_read,
    .supports = tq_ocl_supports,
    .seq_create = tq_ocl_seq_create,
    .seq_destroy = tq_ocl_seq_destroy,
    .seq_record = tq_ocl_seq_record,
    .seq_submit = tq_ocl_seq_submit,
    .seq_wait = tq_ocl_seq_wait,
    .seq_reset = tq_ocl_seq_reset,
    .seq_timing = tq_ocl_seq_timing,
    .get_extra = ocl_get_extra,
};

static const tq_plugin_desc ocl_desc = {
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(tq_plugin_desc),
    .name = "opencl",
    .ops = &ocl_ops,
};

TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void);

TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void)
{
    return &ocl_desc;
}
