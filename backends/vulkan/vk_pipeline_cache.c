/*
 * vk_pipeline_cache.c: the VkPipelineCache persisted per device and driver, so start-up
 * does not recompile the kernels.
 *
 * Directory: $TQ_CACHE_DIR (the value "off" disables the cache), else
 * $XDG_CACHE_HOME/tq, else $HOME/.cache/tq. File: vulkan-<vendor>-<device>-<cache uuid>.bin
 * with our own header in front of the driver's blob:
 *   magic "TQVKPC01", vendor id, device id, driver version, device uuid[16],
 *   pipelineCacheUUID[16], data size, FNV-1a 64 of the data.
 * A file whose header or checksum does not match is ignored (and replaced on save): a
 * corrupt or foreign blob must never reach the driver. Saves write a temporary file and
 * rename it over the old one, so readers never see half a file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk_internal.h"

#define MAGIC "TQVKPC01"
#define MAX_CACHE_BYTES (256u << 20)

typedef struct cache_header {
    char magic[8];
    uint32_t vendor, device, driver_version, reserved;
    uint8_t device_uuid[16];
    uint8_t cache_uuid[16];
    uint64_t data_size;
    uint64_t checksum;
} cache_header;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static bool cache_dir(char *out, size_t cap)
{
    const char *d = getenv("TQ_CACHE_DIR");
    if (d && strcmp(d, "off") == 0)
        return false;
    if (d && d[0])
        snprintf(out, cap, "%s", d);
    else if ((d = getenv("XDG_CACHE_HOME")) && d[0] == '/')
        snprintf(out, cap, "%s/tq", d);
    else if ((d = getenv("HOME")) && d[0] == '/')
        snprintf(out, cap, "%s/.cache/tq", d);
    else
        return false;
    return true;
}

static void fill_header(const tq_vk_ctx *ctx, cache_header *h)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, MAGIC, 8);
    h->vendor = ctx->dev->props.vendorID;
    h->device = ctx->dev->props.deviceID;
    h->driver_version = ctx->dev->props.driverVersion;
    memcpy(h->device_uuid, ctx->dev->device_uuid, 16);
    memcpy(h->cache_uuid, ctx->dev->props.pipelineCacheUUID, 16);
}

/* Returns the blob if the file is ours and intact, NULL otherwise (with the reason logged). */
static void *load_blob(const tq_vk_ctx *ctx, size_t *out_size)
{
    FILE *fp = fopen(ctx->cache_path, "rb");
    if (!fp)
        return NULL;
    cache_header want, got;
    fill_header(ctx, &want);
    void *data = NULL;
    const char *why = NULL;
    if (fread(&got, sizeof(got), 1, fp) != 1)
        why = "short header";
    else if (memcmp(got.magic, want.magic, 8) != 0)
        why = "bad magic";
    else if (got.vendor != want.vendor || got.device != want.device ||
             got.driver_version != want.driver_version ||
             memcmp(got.device_uuid, want.device_uuid, 16) != 0 ||
             memcmp(got.cache_uuid, want.cache_uuid, 16) != 0)
        why = "written for another device or driver";
    else if (got.data_size == 0 || got.data_size > MAX_CACHE_BYTES)
        why = "implausible size";
    else if (!(data = malloc(got.data_size)))
        why = "out of memory";
    else if (fread(data, 1, got.data_size, fp) != got.data_size)
        why = "truncated";
    else if (fnv1a(data, got.data_size) != got.checksum)
        why = "checksum mismatch";
    fclose(fp);
    if (why) {
        ctx->host->log(1, "vulkan: ignoring pipeline cache %s (%s)", ctx->cache_path, why);
        free(data);
        return NULL;
    }
    *out_size = got.data_size;
    return data;
}

void tq_vk_pcache_open(tq_vk_ctx *ctx)
{
    char dir[900];
    void *blob = NULL;
    size_t size = 0;
    ctx->cache_path[0] = '\0';
    if (cache_dir(dir, sizeof(dir))) {
        char uuid[33];
        for (int i = 0; i < 16; i++)
            snprintf(uuid + 2 * i, 3, "%02x", ctx->dev->props.pipelineCacheUUID[i]);
        snprintf(ctx->cache_path, sizeof(ctx->cache_path), "%s/vulkan-%04x-%04x-%s.bin", dir,
                 ctx->dev->props.vendorID, ctx->dev->props.deviceID, uuid);
        blob = load_blob(ctx, &size);
    }
    VkPipelineCacheCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                     .initialDataSize = blob ? size : 0, .pInitialData = blob };
    VkResult r = ctx->fns.vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->pcache);
    if (r != VK_SUCCESS && blob) {
        ctx->host->log(1, "vulkan: driver refused pipeline cache %s; starting empty", ctx->cache_path);
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        blob = (free(blob), NULL);
        r = ctx->fns.vkCreatePipelineCache(ctx->device, &ci, NULL, &ctx->pcache);
    }
    if (r != VK_SUCCESS)
        ctx->pcache = VK_NULL_HANDLE;   /* pipelines still build, just not cached */
    ctx->cache_loaded_bytes = blob ? size : 0;
    if (blob)
        ctx->host->log(3, "vulkan: loaded %zu bytes of pipeline cache from %s", size, ctx->cache_path);
    free(blob);
}

void tq_vk_pcache_save(tq_vk_ctx *ctx)
{
    if (!ctx->pcache || !ctx->cache_dirty || !ctx->cache_path[0])
        return;
    size_t size = 0;
    if (ctx->fns.vkGetPipelineCacheData(ctx->device, ctx->pcache, &size, NULL) != VK_SUCCESS ||
        size == 0 || size > MAX_CACHE_BYTES)
        return;
    uint8_t *data = malloc(size);
    if (!data)
        return;
    if (ctx->fns.vkGetPipelineCacheData(ctx->device, ctx->pcache, &size, data) != VK_SUCCESS) {
        free(data);
        return;
    }
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", ctx->cache_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (mkdir_p(dir) != 0) {
        ctx->host->log(1, "vulkan: cannot create cache directory %s: %s", dir, strerror(errno));
        free(data);
        return;
    }
    cache_header h;
    fill_header(ctx, &h);
    h.data_size = size;
    h.checksum = fnv1a(data, size);
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", ctx->cache_path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    bool ok = fp && fwrite(&h, sizeof(h), 1, fp) == 1 && fwrite(data, 1, size, fp) == size;
    if (fp && fclose(fp) != 0)
        ok = false;
    if (ok && rename(tmp, ctx->cache_path) == 0) {
        ctx->cache_dirty = false;
    } else {
        ctx->host->log(1, "vulkan: cannot write pipeline cache %s: %s", ctx->cache_path,
                       strerror(errno));
        unlink(tmp);
    }
    free(data);
}
