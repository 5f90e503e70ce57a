/*
 * ocl_program.c: the one program of a device (every kernel, from the embedded sources),
 * built once per process and device, loaded from the on-disk binary cache when it can
 * be; and the kernels plus work-group sizes of each context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ocl_cache.h"
#include "ocl_internal.h"
#include "ocl_sources.h"

const char *const tq_ocl_kernel_names[TQ_OCL_K_COUNT] = {
    "tq_quantize_plain", "tq_quantize_q", "tq_quantize_turbo", "tq_dequantize",
    "tq_dequantize_turbo_inverse", "tq_rotate", "tq_attention", "tq_attention_reduce",
    "tq_attention_coop", "tq_attention_mma", "tq_attention_mma_q8q8", "tq_attention_mma_q8t3",
    "tq_attention_mma_t3q8",
};

/* Bumped when anything outside the hashed inputs changes what the binary must contain. */
#define TQ_OCL_PROGRAM_ABI 1u

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void build_options(const tq_ocl_device *dev, char *out, size_t cap)
{
    /* Correctly rounded divide/sqrt when the device has them, so quantize matches the
     * scalar reference; no fast-math: the formats need exact IEEE behaviour.
     * TQ_OPENCL_BUILD_OPTIONS appends driver options for debugging (e.g. -cl-nv-verbose);
     * they are part of the cache key. */
    const char *extra = getenv("TQ_OPENCL_BUILD_OPTIONS");
    snprintf(out, cap, "-cl-std=CL1.2 -DTQ_CL_QT=%d -DTQ_CL_QD=%d -DTQ_CL_MMA_NV=%d%s%s%s",
             TQ_OCL_QT, TQ_OCL_QD, dev->mma_nv ? 1 : 0,
             dev->correct_sqrt ? " -cl-fp32-correctly-rounded-divide-sqrt" : "",
             extra && extra[0] ? " " : "", extra && extra[0] ? extra : "");
}

static uint64_t program_key(const tq_ocl_device *dev, const char *options)
{
    uint64_t h = TQ_OCL_FNV_INIT;
    uint32_t abi = TQ_OCL_PROGRAM_ABI;
    h = tq_ocl_fnv1a(h, &abi, sizeof abi);
    for (unsigned i = 0; i < tq_ocl_source_count; i++)
        h = tq_ocl_fnv1a(h, tq_ocl_sources[i].text, tq_ocl_sources[i].size + 1);
    const char *parts[] = { options, dev->info.name, dev->driver_version, dev->platform_name,
                            dev->platform_version, dev->device_version };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = tq_ocl_fnv1a(h, parts[i], strlen(parts[i]) + 1);
    return h;
}

/* The build log of a failed build, as an error status. */
/* The program's build log for the device (malloc'd, NUL-terminated; "" when the driver
 * gives none), or NULL without memory. */
static char *build_log(tq_ocl_device *dev, cl_program prog)
{
    const tq_ocl_fns *cl = &dev->state->cl;
    size_t len = 0;
    if (cl->clGetProgramBuildInfo(prog, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) !=
        CL_SUCCESS)
        len = 0;
    char *log = malloc(len + 1);
    if (!log)
        return NULL;
    log[0] = '\0';
    if (len > 0 &&
        cl->clGetProgramBuildInfo(prog, dev->id, CL_PROGRAM_BUILD_LOG, len, log, NULL) !=
            CL_SUCCESS)
        len = 0;
    log[len] = '\0';
    return log;
}

static tq_status build_error(tq_ocl_device *dev, cl_program prog, cl_int err)
{
    char *log = build_log(dev, prog);
    char buf[32];
    tq_status st = dev->state->host->status_new(
        TQ_CODE_BACKEND,
        "opencl: building the tq kernels for '%s' (%s) failed: %s; no fallback is used. "
        "Build log:\n%s",
        dev->info.name, dev->driver_version, tq_ocl_err(err, buf), log ? log : "(no memory)");
    free(log);
    return st;
}

static tq_status build_from_source(tq_ocl_device *dev, const char *options, cl_program *out)
{
    const tq_ocl_fns *cl = &dev->state->cl;
    const char *texts[16];
    size_t lens[16];
    unsigned n = tq_ocl_source_count < 16 ? tq_ocl_source_count : 16;
    for (unsigned i = 0; i < n; i++) {
        texts[i] = tq_ocl_sources[i].text;
        lens[i] = tq_ocl_sources[i].size;
    }
    cl_int err;
    cl_program prog = cl->clCreateProgramWithSource(dev->cl_ctx, n, texts, lens, &err);
    if (!prog)
        return tq_ocl_fail(dev->state->host, err, "clCreateProgramWithSource");
    err = cl->clBuildProgram(prog, 1, &dev->id, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        tq_status st = build_error(dev, prog, err);
        cl->clReleaseProgram(prog);
        return st;
    }
    /* A successful build's log (warnings; with -cl-nv-verbose in TQ_OPENCL_BUILD_OPTIONS,
     * NVIDIA's register and spill counts per kernel) at debug level. */
    char *log = build_log(dev, prog);
    /* line by line: the host's log lines are short */
    for (char *line = log, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line)
            dev->state->host->log(3, "opencl: '%s': build: %s", dev->info.name, line);
    }
    free(log);
    *out = prog;
    return NULL;
}

/* The built program's binary (malloc'd), or NULL if the driver gives none. */
static void *program_binary(tq_ocl_device *dev, cl_program prog, size_t *out_size)
{
    const tq_ocl_fns *cl = &dev->state->cl;
    size_t size = 0;
    if (cl->clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) !=
            CL_SUCCESS || size == 0)
        return NULL;
    unsigned char *bin = malloc(size);
    if (!bin)
        return NULL;
    unsigned char *ptrs[1] = { bin };
    if (cl->clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, NULL) != CL_SUCCESS) {
        free(bin);
        return NULL;
    }
    *out_size = size;
    return bin;
}

static void count(tq_ocl_state *st, uint64_t *field)
{
    pthread_mutex_lock(&st->stats_lock);
    (*field)++;
    pthread_mutex_unlock(&st->stats_lock);
}

static tq_status load_or_build(tq_ocl_device *dev)
{
    tq_ocl_state *st = dev->state;
    const tq_ocl_fns *cl = &st->cl;
    const tq_host_api *host = st->host;
    char options[512], dir[512], path[600], why[700];
    build_options(dev, options, sizeof options);
    uint64_t key = program_key(dev, options);
    bool cache = tq_ocl_cache_dir(dir, sizeof dir, why, sizeof why);
    if (!cache)
        host->log(2, "opencl: program cache off: %s", why);

    if (cache) {
        void *bin = NULL;
        size_t size = 0;
        double t0 = now_ms();
        tq_ocl_cache_result r = tq_ocl_cache_load(dir, key, &bin, &size, path, sizeof path,
                                                  why, sizeof why);
        if (r == TQ_OCL_CACHE_HIT) {
            cl_int err, bin_status = CL_SUCCESS;
            const unsigned char *b = bin;
            cl_program prog = cl->clCreateProgramWithBinary(dev->cl_ctx, 1, &dev->id, &size, &b,
                                                            &bin_status, &err);
            if (prog && err == CL_SUCCESS && bin_status == CL_SUCCESS)
                err = cl->clBuildProgram(prog, 1, &dev->id, options, NULL, NULL);
            else if (err == CL_SUCCESS)
                err = bin_status;
            free(bin);
            if (err == CL_SUCCESS) {
                dev->program = prog;
                count(st, &st->stats.hits);
                snprintf(dev->program_note, sizeof dev->program_note,
                         "program cache hit (%.0f ms)", now_ms() - t0);
                host->log(2, "opencl: '%s': program cache hit: %s", dev->info.name, path);
                return NULL;
            }
            char buf[32];
            if (prog)
                cl->clReleaseProgram(prog);
            count(st, &st->stats.rejected);
            host->log(1, "opencl: '%s': cached program %s rejected by the driver (%s); rebuilding",
                      dev->info.name, path, tq_ocl_err(err, buf));
        } else if (r == TQ_OCL_CACHE_REJECTED) {
            count(st, &st->stats.rejected);
            host->log(1, "opencl: '%s': program cache entry rejected: %s; rebuilding",
                      dev->info.name, why);
        }
    }

    double t0 = now_ms();
    cl_program prog = NULL;
    tq_status s = build_from_source(dev, options, &prog);
    if (s)
        return s;
    double ms = now_ms() - t0;
    dev->program = prog;
    count(st, &st->stats.misses);
    snprintf(dev->program_note, sizeof dev->program_note, "program cache miss: compiled in %.0f ms",
             ms);
    host->log(2, "opencl: '%s': program cache miss: compiled in %.0f ms", dev->info.name, ms);
    if (cache) {
        size_t size = 0;
        void *bin = program_binary(dev, prog, &size);
        if (!bin)
            host->log(1, "opencl: '%s': the driver returned no program binary; not cached",
                      dev->info.name);
        else if (!tq_ocl_cache_store(dir, key, bin, size, why, sizeof why))
            host->log(1, "opencl: program cache: %s", why);
        else
            count(st, &st->stats.written);
        free(bin);
    }
    return NULL;
}

tq_status tq_ocl_device_prepare(tq_ocl_device *dev)
{
    tq_ocl_state *st = dev->state;
    if (!dev->usable)
        return st->host->status_new(TQ_CODE_UNSUPPORTED,
                                    "opencl: device '%s' (%s) cannot run the tq kernels: %s",
                                    dev->info.name, dev->info.id, dev->why_not);
    tq_status s = NULL;
    pthread_mutex_lock(&dev->lock);
    if (!dev->cl_ctx) {
        cl_int err;
        cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform,
                                          0 };
        dev->cl_ctx = st->cl.clCreateContext(props, 1, &dev->id, NULL, NULL, &err);
        if (!dev->cl_ctx)
            s = tq_ocl_fail(st->host, err, "clCreateContext");
    }
    if (!s && !dev->program)
        s = load_or_build(dev);
    pthread_mutex_unlock(&dev->lock);
    return s;
}

static size_t floor_pow2(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

static size_t kernel_wg(tq_ocl_ctx *ctx, int k)
{
    size_t v = 0;
    if (ctx->cl->clGetKernelWorkGroupInfo(ctx->kernels[k], ctx->dev->id, CL_KERNEL_WORK_GROUP_SIZE,
                                          sizeof v, &v, NULL) != CL_SUCCESS || v == 0)
        v = ctx->dev->max_wg;
    return v;
}

/* The attention work-group: a power of two near 128 that the kernel and device allow,
 * kept a multiple of the kernel's preferred multiple (warp/wavefront) where possible. */
static size_t choose_attn_wg(tq_ocl_ctx *ctx, size_t limit)
{
    size_t pref = 0;
    ctx->cl->clGetKernelWorkGroupInfo(ctx->kernels[TQ_OCL_K_ATTENTION], ctx->dev->id,
                                      CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof pref,
                                      &pref, NULL);
    size_t wg = floor_pow2(limit < 128 ? limit : 128);
    if (pref > wg && pref <= limit && (pref & (pref - 1)) == 0)
        wg = pref;
    return wg;
}

tq_status tq_ocl_ctx_create_kernels(tq_ocl_ctx *ctx, const char *forced_variant)
{
    for (int k = 0; k < TQ_OCL_K_COUNT; k++) {
        cl_int err;
        ctx->kernels[k] = ctx->cl->clCreateKernel(ctx->dev->program, tq_ocl_kernel_names[k], &err);
        if (!ctx->kernels[k]) {
            char what[96];
            snprintf(what, sizeof what, "clCreateKernel(%s)", tq_ocl_kernel_names[k]);
            return tq_ocl_fail(ctx->host, err, what);
        }
    }
    size_t g = kernel_wg(ctx, TQ_OCL_K_QUANTIZE_TURBO);
    size_t g2 = kernel_wg(ctx, TQ_OCL_K_DEQUANTIZE_TURBO_INV);
    size_t g3 = kernel_wg(ctx, TQ_OCL_K_ROTATE);
    g = g2 < g ? g2 : g;
    g = g3 < g ? g3 : g;
    ctx->wg_group = floor_pow2(g < 128 ? g : 128);
    size_t r = kernel_wg(ctx, TQ_OCL_K_ATTENTION_REDUCE);
    /* 512 where allowed: the merge reads every split's partial row, and more work-items
     * per (head, token) keep more of those reads in flight (H100, 512 splits of turbo3
     * at ctx 131072: 63.5 us with 128) */
    ctx->wg_reduce = floor_pow2(r < 512 ? r : 512);

    size_t attn_limit = kernel_wg(ctx, TQ_OCL_K_ATTENTION);
    size_t coop_limit = kernel_wg(ctx, TQ_OCL_K_ATTENTION_COOP);
    ctx->wg_attn = choose_attn_wg(ctx, attn_limit);
    ctx->wg_coop = floor_pow2(coop_limit < 128 ? coop_limit : 128);
    ctx->coop_mode = ctx->wg_coop >= 16 ? TQ_OCL_COOP_AUTO : TQ_OCL_COOP_OFF;
    /* split-k-mma: 4 warps with PTX, one emulated warp elsewhere */
    size_t mma_limit = kernel_wg(ctx, TQ_OCL_K_ATTENTION_MMA);
    for (int k = TQ_OCL_K_ATTENTION_MMA_Q8Q8; k <= TQ_OCL_K_ATTENTION_MMA_T3Q8; k++) {
        size_t l = kernel_wg(ctx, k);
        mma_limit = l < mma_limit ? l : mma_limit;
    }
    const char *mma_form = ctx->dev->mma_nv ? "ptx" : "emu";
    ctx->wg_mma = ctx->dev->mma_nv ? 128 : 32;
    bool mma_fits = ctx->wg_mma <= mma_limit;
    ctx->mma_mode = ctx->dev->mma_nv && mma_fits ? TQ_OCL_MMA_AUTO : TQ_OCL_MMA_OFF;
    if (forced_variant && strncmp(forced_variant, "split-k-mma", 11) == 0) {
        char want[48];
        snprintf(want, sizeof want, "split-k-mma/wg%zu/%s", ctx->wg_mma, mma_form);
        if (strcmp(forced_variant, "split-k-mma") != 0 && strcmp(forced_variant, want) != 0)
            return ctx->host->status_new(
                TQ_CODE_INVALID_ARGUMENT,
                "opencl: unknown variant '%s'; on '%s' the matrix-unit kernel is '%s' (or "
                "just 'split-k-mma')", forced_variant, ctx->dev->info.name, want);
        if (!mma_fits)
            return ctx->host->status_new(
                TQ_CODE_UNSUPPORTED,
                "opencl: variant '%s' needs work-groups of %zu items; the kernel on '%s' "
                "allows %zu", want, ctx->wg_mma, ctx->dev->info.name, mma_limit);
        ctx->mma_mode = TQ_OCL_MMA_ONLY;
        ctx->forced_variant = true;
        snprintf(ctx->attn_variant, sizeof ctx->attn_variant, "%s", want);
        return NULL;
    }
    if (forced_variant && forced_variant[0]) {
        unsigned long n = 0;
        char tail = 0;
        bool coop = strncmp(forced_variant, "split-k-coop/", 13) == 0;
        int got = coop ? sscanf(forced_variant, "split-k-coop/wg%lu%c", &n, &tail)
                       : sscanf(forced_variant, "split-k/wg%lu%c", &n, &tail);
        size_t lo = coop ? 16 : TQ_OCL_QT * 2, hi = coop ? coop_limit : attn_limit;
        if (got != 1 || n == 0 || (n & (n - 1)) != 0)
            return ctx->host->status_new(
                TQ_CODE_INVALID_ARGUMENT,
                "opencl: unknown variant '%s'; variants are split-k/wg<N> (N a power of two "
                "from %d to %zu), split-k-coop/wg<N> (16 to %zu) and split-k-mma/wg%zu/%s on "
                "'%s' (default %s)",
                forced_variant, TQ_OCL_QT * 2, attn_limit, coop_limit, ctx->wg_mma, mma_form,
                ctx->dev->info.name, ctx->dev->info.default_variant);
        if (n < lo || n > hi)
            return ctx->host->status_new(
                TQ_CODE_UNSUPPORTED,
                "opencl: variant '%s' needs work-groups of %lu items; that attention kernel on "
                "'%s' allows %zu to %zu",
                forced_variant, n, ctx->dev->info.name, lo, hi);
        if (coop) {
            ctx->wg_coop = n;
            ctx->coop_mode = TQ_OCL_COOP_ONLY;
        } else {
            ctx->wg_attn = n;
            ctx->coop_mode = TQ_OCL_COOP_OFF;
        }
        ctx->mma_mode = TQ_OCL_MMA_OFF;
        ctx->forced_variant = true;
    }
    char first[40] = "";
    if (ctx->mma_mode == TQ_OCL_MMA_AUTO)
        snprintf(first, sizeof first, "split-k-mma/wg%zu/%s, else ", ctx->wg_mma, mma_form);
    if (ctx->coop_mode == TQ_OCL_COOP_AUTO)
        snprintf(ctx->attn_variant, sizeof ctx->attn_variant,
                 "%ssplit-k-coop/wg%zu, else split-k/wg%zu", first, ctx->wg_coop, ctx->wg_attn);
    else if (ctx->coop_mode == TQ_OCL_COOP_ONLY)
        snprintf(ctx->attn_variant, sizeof ctx->attn_variant, "split-k-coop/wg%zu", ctx->wg_coop);
    else
        snprintf(ctx->attn_variant, sizeof ctx->attn_variant, "split-k/wg%zu", ctx->wg_attn);
    return NULL;
}
