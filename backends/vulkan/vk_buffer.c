/*
 * vk_buffer.c: device buffers. Each buffer owns one VkDeviceMemory allocation: tensors
 * are few and large, so a sub-allocator would buy little and cost accounting clarity.
 * Host-visible memory (UMA, CPU devices, staging) stays mapped for its lifetime.
 */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define SYNC_STAGING_MAX (32ull << 20)

/* The plugin links only the formats library, not libtq's memory module. */
static const char *class_name(tq_mem_class cls)
{
    static const char *const names[TQ_MEM_CLASS_COUNT] = { "kv", "scratch", "staging",
                                                           "constants", "io" };
    return (unsigned)cls < TQ_MEM_CLASS_COUNT ? names[cls] : "unknown";
}

tq_status tq_vk_buffer_create(tq_vk_ctx *ctx, uint64_t size, tq_vk_mem_kind kind,
                              tq_mem_class cls, bool self_accounted, tq_vk_buffer **out)
{
    const tq_vk_fns *f = &ctx->fns;
    if (size == 0)
        size = 4;
    size = (size + 3) & ~3ull;   /* kernels address 32-bit words */
    tq_vk_buffer *b = calloc(1, sizeof(*b));
    if (!b)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of host memory");
    b->size = size;
    b->cls = cls;
    VkBufferCreateInfo bci = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                               .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                        VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                        VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                               .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
    tq_status s = tq_vk_check(ctx, f->vkCreateBuffer(ctx->device, &bci, NULL, &b->buf),
                              "vkCreateBuffer");
    if (s) {
        free(b);
        return s;
    }
    VkMemoryRequirements req;
    f->vkGetBufferMemoryRequirements(ctx->device, b->buf, &req);
    int32_t mt = kind == TQ_VK_MEM_DEVICE ? ctx->mt_device
               : kind == TQ_VK_MEM_UPLOAD ? ctx->mt_upload : ctx->mt_readback;
    if (mt < 0 || !(req.memoryTypeBits & (1u << mt))) {
        f->vkDestroyBuffer(ctx->device, b->buf, NULL);
        free(b);
        return ctx->host->status_new(TQ_CODE_UNSUPPORTED,
                                     "vulkan: no memory type for a %s buffer on '%s'",
                                     class_name(cls), ctx->dev->info.name);
    }
    VkMemoryAllocateInfo mai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                 .allocationSize = req.size, .memoryTypeIndex = (uint32_t)mt };
    VkResult r = f->vkAllocateMemory(ctx->device, &mai, NULL, &b->mem);
    if (r != VK_SUCCESS) {
        f->vkDestroyBuffer(ctx->device, b->buf, NULL);
        free(b);
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY,
                                     "vulkan: cannot allocate %llu bytes of %s memory on '%s': %s",
                                     (unsigned long long)size, class_name(cls),
                                     ctx->dev->info.name, tq_vk_result_name(r));
    }
    s = tq_vk_check(ctx, f->vkBindBufferMemory(ctx->device, b->buf, b->mem, 0),
                    "vkBindBufferMemory");
    bool mappable = kind != TQ_VK_MEM_DEVICE || ctx->device_mappable;
    if (!s && mappable)
        s = tq_vk_check(ctx, f->vkMapMemory(ctx->device, b->mem, 0, VK_WHOLE_SIZE, 0, &b->mapped),
                        "vkMapMemory");
    if (s) {
        f->vkDestroyBuffer(ctx->device, b->buf, NULL);
        f->vkFreeMemory(ctx->device, b->mem, NULL);
        free(b);
        return s;
    }
    b->self_accounted = self_accounted;
    if (self_accounted)
        ctx->host->mem_add(ctx->acct, cls, (int64_t)b->size);
    *out = b;
    return NULL;
}

void tq_vk_buffer_destroy(tq_vk_ctx *ctx, tq_vk_buffer *b)
{
    if (!b)
        return;
    const tq_vk_fns *f = &ctx->fns;
    if (b->mapped)
        f->vkUnmapMemory(ctx->device, b->mem);
    f->vkDestroyBuffer(ctx->device, b->buf, NULL);
    f->vkFreeMemory(ctx->device, b->mem, NULL);
    if (b->self_accounted)
        ctx->host->mem_add(ctx->acct, b->cls, -(int64_t)b->size);
    free(b);
}

static tq_status sync_copy(tq_vk_ctx *ctx, VkBuffer src, uint64_t src_off, VkBuffer dst,
                           uint64_t dst_off, uint64_t size)
{
    const tq_vk_fns *f = &ctx->fns;
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
    tq_status s = tq_vk_check(ctx, f->vkResetCommandBuffer(ctx->sync_cb, 0), "vkResetCommandBuffer");
    if (!s)
        s = tq_vk_check(ctx, f->vkBeginCommandBuffer(ctx->sync_cb, &bi), "vkBeginCommandBuffer");
    if (s)
        return s;
    VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                           .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
                           .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT };
    f->vkCmdPipelineBarrier(ctx->sync_cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                            VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VkBufferCopy region = { .srcOffset = src_off, .dstOffset = dst_off, .size = size };
    f->vkCmdCopyBuffer(ctx->sync_cb, src, dst, 1, &region);
    VkMemoryBarrier mb2 = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                            .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                            .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_MEMORY_READ_BIT };
    f->vkCmdPipelineBarrier(ctx->sync_cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1,
                            &mb2, 0, NULL, 0, NULL);
    s = tq_vk_check(ctx, f->vkEndCommandBuffer(ctx->sync_cb), "vkEndCommandBuffer");
    if (s)
        return s;
    VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                        .pCommandBuffers = &ctx->sync_cb };
    s = tq_vk_check(ctx, f->vkResetFences(ctx->device, 1, &ctx->sync_fence), "vkResetFences");
    if (!s)
        s = tq_vk_check(ctx, f->vkQueueSubmit(ctx->queue, 1, &si, ctx->sync_fence), "vkQueueSubmit");
    if (!s)
        s = tq_vk_check(ctx, f->vkWaitForFences(ctx->device, 1, &ctx->sync_fence, VK_TRUE,
                                                UINT64_MAX), "vkWaitForFences");
    return s;
}

static tq_status ensure_sync_staging(tq_vk_ctx *ctx, uint64_t size)
{
    if (ctx->sync_staging && ctx->sync_staging->size >= size)
        return NULL;
    if (ctx->sync_staging)
        tq_vk_buffer_destroy(ctx, ctx->sync_staging);
    ctx->sync_staging = NULL;
    return tq_vk_buffer_create(ctx, size, TQ_VK_MEM_READBACK, TQ_MEM_STAGING, true,
                               &ctx->sync_staging);
}

/* Synchronous copies: waits for the queue to drain first, so they are ordered after
 * any submitted sequence that touches the buffer (ops on one ctx are serialized). */
tq_status tq_vk_buffer_write(tq_vk_ctx *ctx, tq_vk_buffer *b, uint64_t off, const void *src,
                             uint64_t size)
{
    if (!size)
        return NULL;
    if (b->mapped) {
        ctx->fns.vkQueueWaitIdle(ctx->queue);
        memcpy((char *)b->mapped + off, src, size);
        return NULL;
    }
    uint64_t chunk = size < SYNC_STAGING_MAX ? size : SYNC_STAGING_MAX;
    tq_status s = ensure_sync_staging(ctx, chunk);
    for (uint64_t done = 0; !s && done < size; done += chunk) {
        uint64_t n = size - done < chunk ? size - done : chunk;
        memcpy(ctx->sync_staging->mapped, (const char *)src + done, n);
        s = sync_copy(ctx, ctx->sync_staging->buf, 0, b->buf, off + done, n);
    }
    return s;
}

tq_status tq_vk_buffer_read(tq_vk_ctx *ctx, tq_vk_buffer *b, uint64_t off, void *dst,
                            uint64_t size)
{
    if (!size)
        return NULL;
    if (b->mapped) {
        ctx->fns.vkQueueWaitIdle(ctx->queue);
        memcpy(dst, (const char *)b->mapped + off, size);
        return NULL;
    }
    uint64_t chunk = size < SYNC_STAGING_MAX ? size : SYNC_STAGING_MAX;
    tq_status s = ensure_sync_staging(ctx, chunk);
    for (uint64_t done = 0; !s && done < size; done += chunk) {
        uint64_t n = size - done < chunk ? size - done : chunk;
        s = sync_copy(ctx, b->buf, off + done, ctx->sync_staging->buf, 0, n);
        if (!s)
            memcpy((char *)dst + done, ctx->sync_staging->mapped, n);
    }
    return s;
}
