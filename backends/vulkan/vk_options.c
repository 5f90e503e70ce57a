/*
 * vk_options.c: context options "key=value" separated by ',' or ';'.
 *   variant=table|magsign|arith   turbo dequant strategy of attention (default: per device)
 *   mode=full|nodequant|normsonly|readbytes|indices   profiling modes (wrong results by design)
 *   subgroup=<n>                  force requiredSubgroupSize (tests; needs subgroupSizeControl)
 *   splits=<n>                    force the number of context splits of decode attention
 *   kernel=fd|tiled               decode attention kernel (default fd where the shape allows)
 *   reduce=shared|transpose|subgroup   fd team sums (default transpose where it fits)
 *   keys=<n>                      fd keys per team per step (1, 2, 4, 8)
 *   softmax=lanes|owner           fd: online softmax in every lane of a team, or once per
 *                                 row by an owner lane (default where reduce=transpose)
 *   stats=0|1                     log each pipeline's compiler statistics (registers, ...)
 *                                 at info level (TQ_LOG=info); needs
 *                                 VK_KHR_pipeline_executable_properties
 *   types=specialized|dynamic     attention pipelines per K/V type pair (default on GPUs), or
 *                                 one pipeline reading the types at run time (default on CPU
 *                                 devices, where every pipeline costs seconds of compilation)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

tq_status tq_vk_options_apply(tq_vk_ctx *ctx, const char *options);

static const char *const variant_names[TQ_VK_VARIANT_COUNT] = { "table", "magsign", "arith" };
static const char *const mode_names[TQ_VK_MODE_COUNT] = {
    "full", "nodequant", "normsonly", "readbytes", "indices" };

const char *tq_vk_variant_name(tq_vk_variant v)
{
    return (unsigned)v < TQ_VK_VARIANT_COUNT ? variant_names[v] : "invalid";
}

const char *tq_vk_mode_name(tq_vk_mode m)
{
    return (unsigned)m < TQ_VK_MODE_COUNT ? mode_names[m] : "invalid";
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (!s[0] || *end || v > 1u << 20)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Default rule: the table lives in shared memory and costs one load per element. On the
 * H100 (ctx 131072, one process per case) it beats both alternatives: turbo3 266 us vs
 * magsign 309 and arith 519; turbo4 233 vs 281 and 514; turbo2 223 vs 278 and 315. */
static tq_vk_variant default_variant(const tq_vk_device *d)
{
    (void)d;
    return TQ_VK_VARIANT_TABLE;
}

/* key=val where val must be one of names[0..n): its index, or an INVALID_ARGUMENT status
 * naming the choices (*out untouched). */
static tq_status choice(const tq_host_api *host, const char *key, const char *val,
                        const char *const *names, int n, int *out)
{
    char known[128] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(val, names[i]) == 0) {
            *out = i;
            return NULL;
        }
        size_t l = strlen(known);
        snprintf(known + l, sizeof known - l, "%s%s", i ? ", " : "", names[i]);
    }
    return host->status_new(TQ_CODE_INVALID_ARGUMENT, "vulkan: unknown %s '%s' (known: %s)", key,
                            val, known);
}

tq_status tq_vk_options_apply(tq_vk_ctx *ctx, const char *options)
{
    const tq_host_api *host = ctx->host;
    ctx->variant = default_variant(ctx->dev);
    ctx->mode = TQ_VK_MODE_FULL;
    ctx->dynamic_types = ctx->dev->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    if (!options || !options[0])
        return NULL;
    char buf[512];
    if (strlen(options) >= sizeof(buf))
        return host->status_new(TQ_CODE_INVALID_ARGUMENT, "vulkan: options string too long");
    strcpy(buf, options);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        char *eq = strchr(tok, '=');
        if (!eq)
            return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                    "vulkan: option '%s' is not key=value", tok);
        *eq = '\0';
        const char *key = tok, *val = eq + 1;
        if (strcmp(key, "variant") == 0) {
            int i;
            tq_status s = choice(host, key, val, variant_names, TQ_VK_VARIANT_COUNT, &i);
            if (s)
                return s;
            ctx->variant = (tq_vk_variant)i;
        } else if (strcmp(key, "mode") == 0) {
            int i;
            tq_status s = choice(host, key, val, mode_names, TQ_VK_MODE_COUNT, &i);
            if (s)
                return s;
            ctx->mode = (tq_vk_mode)i;
        } else if (strcmp(key, "subgroup") == 0) {
            uint32_t n;
            if (!parse_u32(val, &n) || n == 0 || (n & (n - 1)))
                return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                        "vulkan: subgroup=%s is not a power of two", val);
            const tq_vk_device *d = ctx->dev;
            if (!d->has_sg_control)
                return host->status_new(TQ_CODE_UNSUPPORTED,
                                        "vulkan: device '%s' cannot force a subgroup size "
                                        "(no subgroupSizeControl for compute)", d->info.name);
            if (n < d->sg_min || n > d->sg_max)
                return host->status_new(TQ_CODE_UNSUPPORTED,
                                        "vulkan: device '%s' supports subgroup sizes %u..%u, not %u",
                                        d->info.name, d->sg_min, d->sg_max, n);
            ctx->required_subgroup = n;
        } else if (strcmp(key, "splits") == 0) {
            uint32_t n;
            if (!parse_u32(val, &n) || n == 0 || n > 4096)
                return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                        "vulkan: splits=%s must be in 1..4096", val);
            ctx->forced_splits = n;
        } else if (strcmp(key, "kernel") == 0) {
            static const char *const names[] = { "fd", "tiled" };
            int i;
            tq_status s = choice(host, key, val, names, 2, &i);
            if (s)
                return s;
            ctx->attn_kernel = i + 1;
        } else if (strcmp(key, "reduce") == 0) {
            static const char *const names[] = { "subgroup", "shared", "transpose" };
            int i;
            tq_status s = choice(host, key, val, names, 3, &i);
            if (s)
                return s;
            ctx->attn_reduce = i + 1;
        } else if (strcmp(key, "keys") == 0) {
            uint32_t n;
            if (!parse_u32(val, &n) || (n != 1 && n != 2 && n != 4 && n != 8))
                return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                        "vulkan: keys=%s must be 1, 2, 4 or 8", val);
            ctx->attn_keys = n;
        } else if (strcmp(key, "softmax") == 0) {
            static const char *const names[] = { "lanes", "owner" };
            int i;
            tq_status s = choice(host, key, val, names, 2, &i);
            if (s)
                return s;
            ctx->attn_softmax = i + 1;
        } else if (strcmp(key, "stats") == 0) {
            static const char *const names[] = { "0", "1" };
            int i;
            tq_status s = choice(host, key, val, names, 2, &i);
            if (s)
                return s;
            ctx->pipeline_stats = i == 1;
            if (ctx->pipeline_stats && !ctx->dev->has_pipeline_stats)
                return host->status_new(TQ_CODE_UNSUPPORTED,
                                        "vulkan: stats=1 needs VK_KHR_pipeline_executable_properties "
                                        "(pipelineExecutableInfo), which device '%s' does not offer",
                                        ctx->dev->info.name);
        } else if (strcmp(key, "types") == 0) {
            static const char *const names[] = { "specialized", "dynamic" };
            int i;
            tq_status s = choice(host, key, val, names, 2, &i);
            if (s)
                return s;
            ctx->dynamic_types = i == 1;
        } else {
            return host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                    "vulkan: unknown option '%s' (known: variant, mode, subgroup, "
                                    "splits, types, kernel, reduce, keys, softmax, stats)", key);
        }
    }
    return NULL;
}
