/*
 * vk_sequence.c: recorded ops -> one command buffer with a barrier between ops and a
 * pair of timestamps around each; submit with a fence, wait with a timeout; replay.
 *
 * Ops are kept as records (pipelines, descriptor sets, push constants, copies) and the
 * command buffer is rebuilt from them when they change, so a sequence can be submitted
 * again after wait, and recording after a submission simply appends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vk_sequence.h"

#define SETS_PER_POOL 64

struct tq_vk_seq {
    tq_vk_ctx *ctx;
    VkCommandBuffer cb;
    VkFence fence;
    VkQueryPool qpool;
    uint32_t qcap;
    VkDescriptorPool *pools;
    uint32_t n_pools;
    tq_vk_rec *recs;
    uint32_t n_recs, cap_recs;
    bool dirty;                /* command buffer out of date */
    bool in_flight;
    bool have_timings;
    uint64_t submit_ns, host_ns;
    tq_plugin_timing *timings;
    uint32_t n_timings;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

tq_vk_ctx *tq_vk_seq_ctx(tq_vk_seq *seq)
{
    return seq->ctx;
}

tq_status tq_vk_seq_create(tq_vk_ctx *ctx, void **out_seq)
{
    tq_vk_seq *seq = calloc(1, sizeof(*seq));
    if (!seq)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of host memory");
    seq->ctx = ctx;
    VkCommandBufferAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = ctx->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1 };
    tq_status s = tq_vk_check(ctx, ctx->fns.vkAllocateCommandBuffers(ctx->device, &ai, &seq->cb),
                              "vkAllocateCommandBuffers");
    if (!s) {
        VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
        s = tq_vk_check(ctx, ctx->fns.vkCreateFence(ctx->device, &fci, NULL, &seq->fence),
                        "vkCreateFence");
    }
    if (s) {
        tq_vk_seq_destroy(seq);
        return s;
    }
    *out_seq = seq;
    return NULL;
}

static void rec_free(tq_vk_ctx *ctx, tq_vk_rec *rec)
{
    for (uint32_t i = 0; i < rec->n_owned; i++)
        tq_vk_buffer_destroy(ctx, rec->owned[i]);
    free(rec->disp);
    memset(rec, 0, sizeof(*rec));
}

static void forget_all(tq_vk_seq *seq)
{
    tq_vk_ctx *ctx = seq->ctx;
    for (uint32_t i = 0; i < seq->n_recs; i++)
        rec_free(ctx, &seq->recs[i]);
    seq->n_recs = 0;
    for (uint32_t i = 0; i < seq->n_pools; i++)
        ctx->fns.vkDestroyDescriptorPool(ctx->device, seq->pools[i], NULL);
    free(seq->pools);
    seq->pools = NULL;
    seq->n_pools = 0;
    free(seq->timings);
    seq->timings = NULL;
    seq->n_timings = 0;
    seq->have_timings = false;
    seq->dirty = true;
}

void tq_vk_seq_destroy(void *p)
{
    tq_vk_seq *seq = p;
    if (!seq)
        return;
    tq_vk_ctx *ctx = seq->ctx;
    if (seq->in_flight)
        ctx->fns.vkWaitForFences(ctx->device, 1, &seq->fence, VK_TRUE, UINT64_MAX);
    forget_all(seq);
    free(seq->recs);
    if (seq->qpool)
        ctx->fns.vkDestroyQueryPool(ctx->device, seq->qpool, NULL);
    if (seq->fence)
        ctx->fns.vkDestroyFence(ctx->device, seq->fence, NULL);
    if (seq->cb)
        ctx->fns.vkFreeCommandBuffers(ctx->device, ctx->cmd_pool, 1, &seq->cb);
    free(seq);
}

tq_status tq_vk_rec_own(tq_vk_seq *seq, tq_vk_rec *rec, tq_vk_buffer *b)
{
    if (rec->n_owned >= 4) {
        tq_vk_buffer_destroy(seq->ctx, b);
        return seq->ctx->host->status_new(TQ_CODE_INTERNAL, "vulkan: too many buffers in one op");
    }
    rec->owned[rec->n_owned++] = b;
    return NULL;
}

static tq_status alloc_set(tq_vk_seq *seq, VkDescriptorSetLayout dsl, VkDescriptorSet *out)
{
    tq_vk_ctx *ctx = seq->ctx;
    if (seq->n_pools) {
        VkDescriptorSetAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                           .descriptorPool = seq->pools[seq->n_pools - 1],
                                           .descriptorSetCount = 1, .pSetLayouts = &dsl };
        if (ctx->fns.vkAllocateDescriptorSets(ctx->device, &ai, out) == VK_SUCCESS)
            return NULL;
    }
    VkDescriptorPool *np = realloc(seq->pools, (seq->n_pools + 1) * sizeof(*np));
    if (!np)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of host memory");
    seq->pools = np;
    VkDescriptorPoolSize ps = { .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                .descriptorCount = SETS_PER_POOL * TQ_VK_MAX_BINDINGS };
    VkDescriptorPoolCreateInfo pci = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .maxSets = SETS_PER_POOL, .poolSizeCount = 1,
                                       .pPoolSizes = &ps };
    tq_status s = tq_vk_check(ctx, ctx->fns.vkCreateDescriptorPool(ctx->device, &pci, NULL,
                                                                   &seq->pools[seq->n_pools]),
                              "vkCreateDescriptorPool");
    if (s)
        return s;
    seq->n_pools++;
    VkDescriptorSetAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                       .descriptorPool = seq->pools[seq->n_pools - 1],
                                       .descriptorSetCount = 1, .pSetLayouts = &dsl };
    return tq_vk_check(ctx, ctx->fns.vkAllocateDescriptorSets(ctx->device, &ai, out),
                       "vkAllocateDescriptorSets");
}

tq_status tq_vk_rec_bind(tq_vk_seq *seq, tq_vk_pipeline *pl, const tq_vk_binding *bind,
                         uint32_t n_bind, VkDescriptorSet *out_ds, uint32_t *rel_offsets)
{
    tq_vk_ctx *ctx = seq->ctx;
    VkDescriptorBufferInfo infos[TQ_VK_MAX_BINDINGS];
    VkWriteDescriptorSet writes[TQ_VK_MAX_BINDINGS];
    uint64_t align = ctx->dev->storage_align ? ctx->dev->storage_align : 4;
    for (uint32_t i = 0; i < n_bind; i++) {
        const tq_vk_binding *bd = &bind[i];
        uint64_t base = bd->off / align * align;
        uint64_t range = ((bd->off - base + bd->len) + 3) & ~3ull;
        if (base + range > bd->b->size)
            range = bd->b->size - base;
        if (range > ctx->dev->max_storage_range)
            return ctx->host->status_new(TQ_CODE_UNSUPPORTED,
                                         "vulkan: an operand of %llu bytes exceeds '%s''s "
                                         "maxStorageBufferRange (%llu)",
                                         (unsigned long long)range, ctx->dev->info.name,
                                         (unsigned long long)ctx->dev->max_storage_range);
        infos[i] = (VkDescriptorBufferInfo){ .buffer = bd->b->buf, .offset = base, .range = range };
        rel_offsets[i] = (uint32_t)(bd->off - base);
    }
    tq_status s = alloc_set(seq, pl->dsl, out_ds);
    if (s)
        return s;
    for (uint32_t i = 0; i < n_bind; i++)
        writes[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                            .dstSet = *out_ds, .dstBinding = i,
                                            .descriptorCount = 1,
                                            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                            .pBufferInfo = &infos[i] };
    ctx->fns.vkUpdateDescriptorSets(ctx->device, n_bind, writes, 0, NULL);
    return NULL;
}

tq_status tq_vk_rec_dispatch(tq_vk_seq *seq, tq_vk_rec *rec, tq_vk_pipeline *pl,
                             VkDescriptorSet ds, const uint32_t *push, uint64_t groups,
                             bool barrier_after)
{
    uint32_t maxg = seq->ctx->dev->max_groups_x ? seq->ctx->dev->max_groups_x : 65535;
    for (uint64_t first = 0; first < groups; first += maxg) {
        if (rec->n_disp == rec->cap_disp) {
            uint32_t cap = rec->cap_disp ? rec->cap_disp * 2 : 4;
            tq_vk_dispatch *nd = realloc(rec->disp, cap * sizeof(*nd));
            if (!nd)
                return seq->ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of host memory");
            rec->disp = nd;
            rec->cap_disp = cap;
        }
        tq_vk_dispatch *d = &rec->disp[rec->n_disp++];
        d->pl = pl;
        d->ds = ds;
        memcpy(d->push, push, sizeof(d->push));
        d->push[0] = (uint32_t)first;
        d->groups = (uint32_t)(groups - first < maxg ? groups - first : maxg);
        d->barrier_after = barrier_after && first + maxg >= groups;
    }
    return NULL;
}

static tq_status grow_recs(tq_vk_seq *seq)
{
    if (seq->n_recs < seq->cap_recs)
        return NULL;
    uint32_t cap = seq->cap_recs ? seq->cap_recs * 2 : 8;
    tq_vk_rec *nr = realloc(seq->recs, cap * sizeof(*nr));
    if (!nr)
        return seq->ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of host memory");
    seq->recs = nr;
    seq->cap_recs = cap;
    return NULL;
}

static tq_status record_copy(tq_vk_seq *seq, tq_vk_rec *rec, const tq_op *op)
{
    tq_vk_ctx *ctx = seq->ctx;
    tq_vk_buffer *staging = NULL;
    bool write = op->kind == TQ_OP_WRITE;
    tq_status s = tq_vk_buffer_create(ctx, op->size, write ? TQ_VK_MEM_UPLOAD : TQ_VK_MEM_READBACK,
                                      TQ_MEM_STAGING, true, &staging);
    if (s)
        return s;
    s = tq_vk_rec_own(seq, rec, staging);
    if (s)
        return s;
    rec->is_copy = true;
    rec->csize = op->size;
    if (write) {
        tq_vk_buffer *dst = op->dst.buf;
        memcpy(staging->mapped, op->host_src, op->size);
        rec->csrc = staging->buf;
        rec->csrc_off = 0;
        rec->cdst = dst->buf;
        rec->cdst_off = op->dst.offset + op->offset;
        rec->bytes_written = op->size;
        strcpy(rec->op, "write");
    } else {
        tq_vk_buffer *src = op->src.buf;
        rec->csrc = src->buf;
        rec->csrc_off = op->src.offset + op->offset;
        rec->cdst = staging->buf;
        rec->cdst_off = 0;
        rec->host_dst = op->host_dst;
        rec->bytes_read = op->size;
        strcpy(rec->op, "read");
    }
    strcpy(rec->variant, "copy");
    return NULL;
}

tq_status tq_vk_seq_record(void *p, const tq_op *op)
{
    tq_vk_seq *seq = p;
    if (seq->in_flight)
        return seq->ctx->host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                          "vulkan: cannot record while the sequence runs; wait first");
    tq_status s = grow_recs(seq);
    if (s)
        return s;
    tq_vk_rec *rec = &seq->recs[seq->n_recs];
    memset(rec, 0, sizeof(*rec));
    rec->kind = op->kind;
    if (op->kind == TQ_OP_WRITE || op->kind == TQ_OP_READ)
        s = op->size ? record_copy(seq, rec, op) : NULL;
    else
        s = tq_vk_ops_record(seq, rec, op);
    if (s) {
        rec_free(seq->ctx, rec);
        return s;
    }
    if (!rec->op[0])
        strcpy(rec->op, "write");
    seq->n_recs++;
    seq->dirty = true;
    return NULL;
}

static void full_barrier(tq_vk_ctx *ctx, VkCommandBuffer cb)
{
    VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                           .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                           .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                            VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT };
    ctx->fns.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                                  0, 1, &mb, 0, NULL, 0, NULL);
}

static tq_status build(tq_vk_seq *seq)
{
    tq_vk_ctx *ctx = seq->ctx;
    const tq_vk_fns *f = &ctx->fns;
    bool ts = ctx->dev->timestamps;
    if (ts && seq->qcap < 2 * seq->n_recs) {
        if (seq->qpool)
            f->vkDestroyQueryPool(ctx->device, seq->qpool, NULL);
        seq->qpool = VK_NULL_HANDLE;
        uint32_t cap = 2 * seq->n_recs < 16 ? 16 : 2 * seq->n_recs;
        VkQueryPoolCreateInfo qci = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                      .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = cap };
        tq_status s = tq_vk_check(ctx, f->vkCreateQueryPool(ctx->device, &qci, NULL, &seq->qpool),
                                  "vkCreateQueryPool");
        if (s)
            return s;
        seq->qcap = cap;
    }
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    tq_status s = tq_vk_check(ctx, f->vkResetCommandBuffer(seq->cb, 0), "vkResetCommandBuffer");
    if (!s)
        s = tq_vk_check(ctx, f->vkBeginCommandBuffer(seq->cb, &bi), "vkBeginCommandBuffer");
    if (s)
        return s;
    VkCommandBuffer cb = seq->cb;
    if (ts && seq->n_recs)
        f->vkCmdResetQueryPool(cb, seq->qpool, 0, 2 * seq->n_recs);
    /* Writes by the host into mapped memory before submit are visible through the
     * implicit host-write guarantee of vkQueueSubmit. */
    for (uint32_t i = 0; i < seq->n_recs; i++) {
        tq_vk_rec *rec = &seq->recs[i];
        if (i)
            full_barrier(ctx, cb);
        if (ts)
            f->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, seq->qpool, 2 * i);
        if (rec->is_copy) {
            VkBufferCopy region = { .srcOffset = rec->csrc_off, .dstOffset = rec->cdst_off,
                                    .size = rec->csize };
            f->vkCmdCopyBuffer(cb, rec->csrc, rec->cdst, 1, &region);
        }
        tq_vk_pipeline *bound = NULL;
        for (uint32_t k = 0; k < rec->n_disp; k++) {
            tq_vk_dispatch *d = &rec->disp[k];
            if (d->pl != bound) {
                f->vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->pl->pipeline);
                bound = d->pl;
            }
            f->vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->pl->layout, 0, 1,
                                       &d->ds, 0, NULL);
            f->vkCmdPushConstants(cb, d->pl->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                                  TQ_VK_PUSH_WORDS * 4, d->push);
            f->vkCmdDispatch(cb, d->groups, 1, 1);
            if (d->barrier_after && k + 1 < rec->n_disp)
                full_barrier(ctx, cb);
        }
        if (ts)
            f->vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, seq->qpool, 2 * i + 1);
    }
    VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                           .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                           .dstAccessMask = VK_ACCESS_HOST_READ_BIT };
    f->vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    s = tq_vk_check(ctx, f->vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    if (!s)
        seq->dirty = false;
    return s;
}

tq_status tq_vk_seq_submit(void *p)
{
    tq_vk_seq *seq = p;
    tq_vk_ctx *ctx = seq->ctx;
    if (seq->in_flight)
        return ctx->host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                     "vulkan: sequence already submitted; wait before resubmitting");
    tq_status s = seq->dirty ? build(seq) : NULL;
    if (s)
        return s;
    s = tq_vk_check(ctx, ctx->fns.vkResetFences(ctx->device, 1, &seq->fence), "vkResetFences");
    if (s)
        return s;
    VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                        .pCommandBuffers = &seq->cb };
    seq->submit_ns = now_ns();
    s = tq_vk_check(ctx, ctx->fns.vkQueueSubmit(ctx->queue, 1, &si, seq->fence), "vkQueueSubmit");
    if (s)
        return s;
    seq->in_flight = true;
    seq->have_timings = false;
    return NULL;
}

static void collect_timings(tq_vk_seq *seq)
{
    tq_vk_ctx *ctx = seq->ctx;
    free(seq->timings);
    seq->n_timings = 0;
    seq->timings = calloc(seq->n_recs ? seq->n_recs : 1, sizeof(*seq->timings));
    if (!seq->timings)
        return;
    uint64_t *stamps = NULL;
    if (ctx->dev->timestamps && seq->n_recs) {
        stamps = calloc(2 * seq->n_recs, sizeof(uint64_t));
        if (stamps && ctx->fns.vkGetQueryPoolResults(ctx->device, seq->qpool, 0, 2 * seq->n_recs,
                                                     2 * seq->n_recs * sizeof(uint64_t), stamps,
                                                     sizeof(uint64_t),
                                                     VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT)
                          != VK_SUCCESS) {
            free(stamps);
            stamps = NULL;
        }
    }
    uint64_t mask = ctx->dev->timestamp_bits >= 64 ? ~0ull : (1ull << ctx->dev->timestamp_bits) - 1;
    uint32_t gpu_ops = 0;
    for (uint32_t i = 0; i < seq->n_recs; i++)
        gpu_ops += !seq->recs[i].is_copy;
    for (uint32_t i = 0; i < seq->n_recs; i++) {
        tq_vk_rec *rec = &seq->recs[i];
        tq_plugin_timing *t = &seq->timings[i];
        snprintf(t->op, sizeof(t->op), "%s", rec->op);
        snprintf(t->variant, sizeof(t->variant), "%s", rec->variant);
        t->bytes_read = rec->bytes_read;
        t->bytes_written = rec->bytes_written;
        if (stamps) {
            uint64_t a = stamps[2 * i] & mask, b = stamps[2 * i + 1] & mask;
            uint64_t ticks = (b - a) & mask;
            t->device_ns = (uint64_t)((double)ticks * ctx->dev->timestamp_period + 0.5);
        }
        /* Ops of one submission share one command buffer: the host sees only the whole
         * submission, which is this op's own wall time when it is the only kernel op. */
        t->host_ns = (!rec->is_copy && gpu_ops == 1) ? seq->host_ns : 0;
    }
    free(stamps);
    seq->n_timings = seq->n_recs;
}

tq_status tq_vk_seq_wait(void *p, uint64_t timeout_ns)
{
    tq_vk_seq *seq = p;
    tq_vk_ctx *ctx = seq->ctx;
    if (!seq->in_flight)
        return NULL;
    VkResult r = ctx->fns.vkWaitForFences(ctx->device, 1, &seq->fence, VK_TRUE, timeout_ns);
    if (r == VK_TIMEOUT)
        return ctx->host->status_new(TQ_CODE_TIMEOUT,
                                     "vulkan: sequence did not finish within %llu ns on '%s'",
                                     (unsigned long long)timeout_ns, ctx->dev->info.name);
    tq_status s = tq_vk_check(ctx, r, "vkWaitForFences");
    if (s)
        return s;
    seq->host_ns = now_ns() - seq->submit_ns;
    seq->in_flight = false;
    for (uint32_t i = 0; i < seq->n_recs; i++) {
        tq_vk_rec *rec = &seq->recs[i];
        if (rec->is_copy && rec->host_dst)
            memcpy(rec->host_dst, rec->owned[0]->mapped, rec->csize);
    }
    collect_timings(seq);
    seq->have_timings = true;
    return NULL;
}

tq_status tq_vk_seq_reset(void *p)
{
    tq_vk_seq *seq = p;
    if (seq->in_flight) {
        tq_status s = tq_vk_seq_wait(seq, UINT64_MAX);
        if (s)
            return s;
    }
    forget_all(seq);
    return NULL;
}

tq_status tq_vk_seq_timing(void *p, uint32_t index, tq_plugin_timing *out)
{
    tq_vk_seq *seq = p;
    if (!seq->have_timings)
        return seq->ctx->host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                          "vulkan: no completed submission to time");
    if (index >= seq->n_timings)
        return seq->ctx->host->status_new(TQ_CODE_OUT_OF_RANGE, "vulkan: no op %u (%u timed)",
                                          index, seq->n_timings);
    *out = seq->timings[index];
    return NULL;
}
