/*
 * vk_algorithm.c: SPIR-V module + descriptor layout (N storage buffers) + push constants
 * + specialization constants -> a compute pipeline, created once per key and kept for the
 * context's lifetime (through the on-disk VkPipelineCache).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static bool key_equal(const tq_vk_pipeline_key *a, const tq_vk_pipeline_key *b)
{
    return a->kernel == b->kernel && a->n_spec == b->n_spec && a->n_bindings == b->n_bindings &&
           memcmp(a->spec, b->spec, a->n_spec * sizeof(uint32_t)) == 0;
}

static void pipeline_free(tq_vk_ctx *ctx, tq_vk_pipeline *p)
{
    const tq_vk_fns *f = &ctx->fns;
    if (p->pipeline)
        f->vkDestroyPipeline(ctx->device, p->pipeline, NULL);
    if (p->layout)
        f->vkDestroyPipelineLayout(ctx->device, p->layout, NULL);
    if (p->dsl)
        f->vkDestroyDescriptorSetLayout(ctx->device, p->dsl, NULL);
    free(p);
}

/* stats=1: the driver's statistics of each executable of a new pipeline (register count,
 * code size, ... as the driver names them), logged at info level with the kernel and its
 * specialization constants, so a kernel developer can see what a change did to them. A
 * driver that returns none says so; nothing here can fail the pipeline. */
static void log_pipeline_stats(tq_vk_ctx *ctx, const char *kernel, const tq_vk_pipeline_key *key,
                               VkPipeline pipeline)
{
    char head[160];
    int n = snprintf(head, sizeof head, "vulkan: pipeline %s spec [", kernel);
    for (uint32_t i = 0; i < key->n_spec && n > 0 && (size_t)n < sizeof head; i++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s%u", i ? "," : "", key->spec[i]);
    if (n > 0 && (size_t)n < sizeof head)
        snprintf(head + n, sizeof head - (size_t)n, "]");
    VkPipelineInfoKHR pi = { .sType = VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, .pipeline = pipeline };
    uint32_t n_exec = 0;
    if (ctx->get_exec_props(ctx->device, &pi, &n_exec, NULL) != VK_SUCCESS || n_exec == 0) {
        ctx->host->log(2, "%s: the driver reports no executables", head);
        return;
    }
    /* 32 statistics are 17 KiB: on the heap, as pipelines may be built on small stacks */
    VkPipelineExecutableStatisticKHR *st = calloc(32, sizeof(*st));
    if (!st) {
        ctx->host->log(2, "%s: no memory for the statistics", head);
        return;
    }
    for (uint32_t e = 0; e < n_exec && e < 4; e++) {
        VkPipelineExecutableInfoKHR ei = { .sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR,
                                           .pipeline = pipeline, .executableIndex = e };
        uint32_t n_st = 32;
        for (uint32_t i = 0; i < n_st; i++)
            st[i] = (VkPipelineExecutableStatisticKHR){
                .sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR };
        VkResult r = ctx->get_exec_stats(ctx->device, &ei, &n_st, st);
        if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
            ctx->host->log(2, "%s: executable %u: statistics failed: %s", head, e,
                           tq_vk_result_name(r));
            continue;
        }
        char line[1024];
        int m = 0;
        line[0] = '\0';
        for (uint32_t i = 0; i < n_st && m >= 0 && (size_t)m < sizeof line; i++) {
            const VkPipelineExecutableStatisticKHR *x = &st[i];
            const char *sep = i ? "; " : "";
            switch (x->format) {
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
                m += snprintf(line + m, sizeof line - (size_t)m, "%s%s=%s", sep, x->name,
                              x->value.b32 ? "true" : "false");
                break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
                m += snprintf(line + m, sizeof line - (size_t)m, "%s%s=%" PRId64, sep, x->name,
                              x->value.i64);
                break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
                m += snprintf(line + m, sizeof line - (size_t)m, "%s%s=%" PRIu64, sep, x->name,
                              x->value.u64);
                break;
            default:
                m += snprintf(line + m, sizeof line - (size_t)m, "%s%s=%g", sep, x->name,
                              x->value.f64);
                break;
            }
        }
        ctx->host->log(2, "%s: executable %u: %s%s", head, e, n_st ? line : "no statistics",
                       r == VK_INCOMPLETE ? " (more not shown)" : "");
    }
    free(st);
}

tq_status tq_vk_pipeline_get(tq_vk_ctx *ctx, const tq_vk_pipeline_key *key, tq_vk_pipeline **out)
{
    for (tq_vk_pipeline *p = ctx->pipelines; p; p = p->next)
        if (key_equal(&p->key, key)) {
            *out = p;
            return NULL;
        }
    const tq_vk_fns *f = &ctx->fns;
    const tq_vk_spirv *spv = &tq_vk_spirv_table[key->kernel];
    tq_vk_pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of host memory");
    p->key = *key;

    VkDescriptorSetLayoutBinding binds[TQ_VK_MAX_BINDINGS];
    for (uint32_t i = 0; i < key->n_bindings; i++)
        binds[i] = (VkDescriptorSetLayoutBinding){ .binding = i,
                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 1,
                      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT };
    VkDescriptorSetLayoutCreateInfo dci = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                            .bindingCount = key->n_bindings, .pBindings = binds };
    tq_status s = tq_vk_check(ctx, f->vkCreateDescriptorSetLayout(ctx->device, &dci, NULL, &p->dsl),
                              "vkCreateDescriptorSetLayout");
    VkPushConstantRange pcr = { .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0,
                                .size = TQ_VK_PUSH_WORDS * 4 };
    if (!s) {
        VkPipelineLayoutCreateInfo lci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                           .setLayoutCount = 1, .pSetLayouts = &p->dsl,
                                           .pushConstantRangeCount = 1, .pPushConstantRanges = &pcr };
        s = tq_vk_check(ctx, f->vkCreatePipelineLayout(ctx->device, &lci, NULL, &p->layout),
                        "vkCreatePipelineLayout");
    }
    VkShaderModule module = VK_NULL_HANDLE;
    if (!s) {
        VkShaderModuleCreateInfo mci = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                         .codeSize = spv->size, .pCode = spv->code };
        s = tq_vk_check(ctx, f->vkCreateShaderModule(ctx->device, &mci, NULL, &module),
                        "vkCreateShaderModule");
    }
    if (!s) {
        VkSpecializationMapEntry entries[TQ_VK_MAX_SPEC];
        for (uint32_t i = 0; i < key->n_spec; i++)
            entries[i] = (VkSpecializationMapEntry){ .constantID = i, .offset = 4 * i, .size = 4 };
        VkSpecializationInfo si = { .mapEntryCount = key->n_spec, .pMapEntries = entries,
                                    .dataSize = 4 * key->n_spec, .pData = key->spec };
        VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
            .requiredSubgroupSize = ctx->required_subgroup };
        VkComputePipelineCreateInfo cci = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                       .pNext = ctx->required_subgroup ? &rss : NULL,
                       .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = module, .pName = "main",
                       .pSpecializationInfo = &si },
            .flags = ctx->pipeline_stats ? VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR : 0,
            .layout = p->layout };
        VkResult r = f->vkCreateComputePipelines(ctx->device, ctx->pcache, 1, &cci, NULL,
                                                 &p->pipeline);
        if (r != VK_SUCCESS)
            s = ctx->host->status_new(TQ_CODE_BACKEND,
                                      "vulkan: building kernel '%s' failed on '%s': %s",
                                      spv->name, ctx->dev->info.name, tq_vk_result_name(r));
        f->vkDestroyShaderModule(ctx->device, module, NULL);
        if (!s && ctx->pipeline_stats)
            log_pipeline_stats(ctx, spv->name, key, p->pipeline);
    }
    if (s) {
        pipeline_free(ctx, p);
        return s;
    }
    p->next = ctx->pipelines;
    ctx->pipelines = p;
    ctx->n_pipelines_created++;
    ctx->cache_dirty = true;
    *out = p;
    return NULL;
}

void tq_vk_pipelines_destroy(tq_vk_ctx *ctx)
{
    tq_vk_pipeline *p = ctx->pipelines;
    while (p) {
        tq_vk_pipeline *next = p->next;
        pipeline_free(ctx, p);
        p = next;
    }
    ctx->pipelines = NULL;
}
