/*
 * vk_manager.c: instance, physical devices (ids, features, memory, score) and the
 * logical device + compute queue of a context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vk_internal.h"

#define TQ_VK_MAX_DEVICES 16

tq_status tq_vk_options_apply(tq_vk_ctx *ctx, const char *options);   /* vk_options.c */

static bool has_ext(const VkExtensionProperties *exts, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(exts[i].extensionName, name) == 0)
            return true;
    return false;
}

static void cat(char *dst, size_t cap, const char *word)
{
    size_t len = strlen(dst);
    if (len + strlen(word) + 2 >= cap)
        return;
    if (len)
        dst[len++] = ' ';
    strcpy(dst + len, word);
}

static void describe_memory(tq_vk_state *st, tq_vk_device *d, bool budget)
{
    VkPhysicalDeviceMemoryBudgetPropertiesEXT bud = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT };
    VkPhysicalDeviceMemoryProperties2 mp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
        .pNext = budget ? &bud : NULL };
    st->fns.vkGetPhysicalDeviceMemoryProperties2(d->phys, &mp);
    uint64_t total = 0, free_bytes = 0;
    for (uint32_t h = 0; h < mp.memoryProperties.memoryHeapCount; h++) {
        if (!(mp.memoryProperties.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT))
            continue;
        total += mp.memoryProperties.memoryHeaps[h].size;
        if (budget) {
            uint64_t b = bud.heapBudget[h], u = bud.heapUsage[h];
            free_bytes += b > u ? b - u : 0;
        }
    }
    d->info.memory_total = total;
    d->info.memory_free = free_bytes;
}

static uint32_t cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

static void fill_device(tq_vk_state *st, tq_vk_device *d, uint32_t index)
{
    const tq_vk_fns *f = &st->fns;
    uint32_t n_ext = 0;
    f->vkEnumerateDeviceExtensionProperties(d->phys, NULL, &n_ext, NULL);
    VkExtensionProperties *exts = calloc(n_ext ? n_ext : 1, sizeof(*exts));
    if (exts)
        f->vkEnumerateDeviceExtensionProperties(d->phys, NULL, &n_ext, exts);
    else
        n_ext = 0;
    bool ext_budget = has_ext(exts, n_ext, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    bool ext_sgc = has_ext(exts, n_ext, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    bool ext_nvsm = has_ext(exts, n_ext, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME);
    bool ext_amdcore = has_ext(exts, n_ext, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME);
    bool ext_driver = has_ext(exts, n_ext, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    bool ext_8bit = has_ext(exts, n_ext, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    bool ext_f16i8 = has_ext(exts, n_ext, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    bool ext_pexec = has_ext(exts, n_ext, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
    free(exts);

    f->vkGetPhysicalDeviceProperties(d->phys, &d->props);
    d->api_version = d->props.apiVersion;
    bool v12 = d->api_version >= VK_API_VERSION_1_2 && st->api_version >= VK_API_VERSION_1_2;
    bool v13 = d->api_version >= VK_API_VERSION_1_3 && st->api_version >= VK_API_VERSION_1_3;

    /* properties chain */
    VkPhysicalDeviceIDProperties idp = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES };
    VkPhysicalDeviceSubgroupProperties sgp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &idp };
    VkPhysicalDeviceSubgroupSizeControlProperties sgcp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES };
    VkPhysicalDeviceDriverProperties drv = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
    VkPhysicalDeviceShaderSMBuiltinsPropertiesNV nvsm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV };
    VkPhysicalDeviceShaderCorePropertiesAMD amdc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD };
    void *chain = &sgp;
    bool sgc_avail = v13 || ext_sgc;
    if (sgc_avail) { sgcp.pNext = chain; chain = &sgcp; }
    if (v12 || ext_driver) { drv.pNext = chain; chain = &drv; }
    if (ext_nvsm) { nvsm.pNext = chain; chain = &nvsm; }
    if (ext_amdcore) { amdc.pNext = chain; chain = &amdc; }
    VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                       .pNext = chain };
    f->vkGetPhysicalDeviceProperties2(d->phys, &p2);
    memcpy(d->device_uuid, idp.deviceUUID, VK_UUID_SIZE);
    memcpy(d->driver_uuid, idp.driverUUID, VK_UUID_SIZE);

    /* features chain */
    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES };
    VkPhysicalDevice8BitStorageFeatures s8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES };
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES };
    VkPhysicalDeviceSubgroupSizeControlFeatures sgcf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES };
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pexf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR };
    chain = &s16;
    if (ext_pexec) { pexf.pNext = chain; chain = &pexf; }
    if (v12 || ext_8bit) { s8.pNext = chain; chain = &s8; }
    if (v12 || ext_f16i8) { f16.pNext = chain; chain = &f16; }
    if (sgc_avail) { sgcf.pNext = chain; chain = &sgcf; }
    VkPhysicalDeviceFeatures2 f2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                     .pNext = chain };
    f->vkGetPhysicalDeviceFeatures2(d->phys, &f2);

    d->storage16 = s16.storageBuffer16BitAccess;
    d->storage8 = s8.storageBuffer8BitAccess;
    d->float16 = f16.shaderFloat16;
    d->int8 = f16.shaderInt8;
    d->subgroup_size = sgp.subgroupSize;
    d->has_pipeline_stats = ext_pexec && pexf.pipelineExecutableInfo;
    d->has_sg_control = sgc_avail && sgcf.subgroupSizeControl &&
                        (sgcp.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT);
    d->has_sg_ext = !v13 && ext_sgc;
    d->sg_min = d->has_sg_control ? sgcp.minSubgroupSize : sgp.subgroupSize;
    d->sg_max = d->has_sg_control ? sgcp.maxSubgroupSize : sgp.subgroupSize;
    d->sg_shuffle = (sgp.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                    (sgp.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
    d->max_shared = d->props.limits.maxComputeSharedMemorySize;
    d->max_groups_x = d->props.limits.maxComputeWorkGroupCount[0];
    d->max_storage_range = d->props.limits.maxStorageBufferRange;
    d->storage_align = d->props.limits.minStorageBufferOffsetAlignment;
    d->timestamp_period = d->props.limits.timestampPeriod;
    d->has_budget = ext_budget;

    /* info */
    tq_device_info *in = &d->info;
    memset(in, 0, sizeof(*in));
    in->struct_size = sizeof(*in);
    snprintf(in->name, sizeof(in->name), "%.127s", d->props.deviceName);
    if (v12 || ext_driver)
        snprintf(in->driver, sizeof(in->driver), "%.40s %.60s (Vulkan %u.%u.%u)", drv.driverName,
                 drv.driverInfo, VK_API_VERSION_MAJOR(d->api_version),
                 VK_API_VERSION_MINOR(d->api_version), VK_API_VERSION_PATCH(d->api_version));
    else
        snprintf(in->driver, sizeof(in->driver), "driver 0x%x (Vulkan %u.%u)",
                 d->props.driverVersion, VK_API_VERSION_MAJOR(d->api_version),
                 VK_API_VERSION_MINOR(d->api_version));
    char uuid[33];
    for (int i = 0; i < 16; i++)
        snprintf(uuid + 2 * i, 3, "%02x", d->device_uuid[i]);
    snprintf(in->id, sizeof(in->id), "vulkan:%04x:%04x:%s", d->props.vendorID,
             d->props.deviceID, uuid);
    char feat[256] = "";
    if (d->float16) cat(feat, sizeof(feat), "fp16");
    if (d->int8) cat(feat, sizeof(feat), "int8");
    if (d->storage8) cat(feat, sizeof(feat), "storage8");
    if (d->storage16) cat(feat, sizeof(feat), "storage16");
    char tmp[96];
    snprintf(tmp, sizeof(tmp), "subgroup=%u", d->subgroup_size);
    cat(feat, sizeof(feat), tmp);
    if (d->has_sg_control) {
        snprintf(tmp, sizeof(tmp), "subgroup-sizes=%u-%u", d->sg_min, d->sg_max);
        cat(feat, sizeof(feat), tmp);
    }
    tmp[0] = '\0';
    uint32_t ops = sgp.supportedOperations;
    if (ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) strcat(tmp, "arith,");
    if (ops & VK_SUBGROUP_FEATURE_BALLOT_BIT) strcat(tmp, "ballot,");
    if (ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) strcat(tmp, "shuffle,");
    if (tmp[0]) {
        tmp[strlen(tmp) - 1] = '\0';
        char w[128];
        snprintf(w, sizeof(w), "subgroup-ops=%s", tmp);
        cat(feat, sizeof(feat), w);
    }
    snprintf(tmp, sizeof(tmp), "shared=%uK", d->max_shared / 1024);
    cat(feat, sizeof(feat), tmp);
    if (ext_budget) cat(feat, sizeof(feat), "memory-budget");
    if (d->has_pipeline_stats) cat(feat, sizeof(feat), "pipeline-stats");
    snprintf(in->features, sizeof(in->features), "%s", feat);
    snprintf(in->default_variant, sizeof(in->default_variant), "split-k/%s",
             tq_vk_variant_name(TQ_VK_VARIANT_TABLE));

    describe_memory(st, d, ext_budget);

    if (ext_nvsm && nvsm.shaderSMCount)
        in->compute_units = nvsm.shaderSMCount;
    else if (ext_amdcore && amdc.shaderEngineCount)
        in->compute_units = amdc.shaderEngineCount * amdc.shaderArraysPerEngineCount *
                            amdc.computeUnitsPerShaderArray;
    else if (d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
        in->compute_units = cpu_count();
    else
        in->compute_units = 0;

    const char *why;
    switch (d->props.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        in->type = TQ_DEVICE_GPU_DISCRETE; in->score = 1000;
        why = "discrete GPU: preferred"; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        in->type = TQ_DEVICE_GPU_INTEGRATED; in->score = 500;
        why = "integrated GPU: chosen when no discrete GPU is present"; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        in->type = TQ_DEVICE_GPU_VIRTUAL; in->score = 200;
        why = "virtual GPU: chosen after discrete and integrated GPUs"; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        in->type = TQ_DEVICE_CPU; in->score = -100;
        why = "CPU device (software rasterizer): used only when asked for by name"; break;
    default:
        in->type = TQ_DEVICE_OTHER; in->score = 100;
        why = "other device type: chosen only after GPUs"; break;
    }
    if (in->score > 0)
        in->score += (int32_t)(in->memory_total >> 30) > 500 ? 500 : (int32_t)(in->memory_total >> 30);
    snprintf(in->note, sizeof(in->note), "%s; vulkan device %u%s%s", why, index,
             ext_budget ? "; memory_free from VK_EXT_memory_budget" : "; no memory budget extension",
             in->compute_units ? "" : "; compute units unknown");
}

tq_status tq_vk_state_create(const tq_host_api *host, tq_vk_state **out)
{
    tq_vk_state *st = calloc(1, sizeof(*st));
    if (!st)
        return host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of memory");
    st->host = host;
    tq_status s = tq_vk_loader_open(host, &st->loader, &st->fns);
    if (s) {
        free(st);
        return s;
    }
    uint32_t ver = VK_API_VERSION_1_0;
    if (st->fns.vkEnumerateInstanceVersion)
        st->fns.vkEnumerateInstanceVersion(&ver);
    if (ver < VK_API_VERSION_1_1) {
        tq_vk_loader_close(&st->loader);
        free(st);
        return host->status_new(TQ_CODE_UNSUPPORTED,
                                "vulkan: the loader offers Vulkan %u.%u; 1.1 or newer is needed",
                                VK_API_VERSION_MAJOR(ver), VK_API_VERSION_MINOR(ver));
    }
    st->api_version = ver >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : ver;
    VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                              .pApplicationName = "tq", .pEngineName = "tq",
                              .apiVersion = st->api_version };
    VkInstanceCreateInfo ici = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                 .pApplicationInfo = &app };
    void *libs = tq_vk_libs_snapshot();
    VkResult r = st->fns.vkCreateInstance(&ici, NULL, &st->instance);
    tq_vk_libs_pin_new(libs);
    if (r != VK_SUCCESS) {
        tq_vk_loader_close(&st->loader);
        free(st);
        return host->status_new(TQ_CODE_BACKEND,
                                "vulkan: vkCreateInstance failed (%s): no usable Vulkan driver "
                                "(check VK_DRIVER_FILES / VK_ICD_FILENAMES and the installed ICDs)",
                                tq_vk_result_name(r));
    }
    s = tq_vk_load_instance_fns(host, &st->fns, st->instance);
    if (s) {
        tq_vk_state_destroy(st);
        return s;
    }
    uint32_t n = 0;
    r = st->fns.vkEnumeratePhysicalDevices(st->instance, &n, NULL);
    VkPhysicalDevice phys[TQ_VK_MAX_DEVICES];
    if (n > TQ_VK_MAX_DEVICES)
        n = TQ_VK_MAX_DEVICES;
    if (n)
        r = st->fns.vkEnumeratePhysicalDevices(st->instance, &n, phys);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        n = 0;
    st->devices = calloc(n ? n : 1, sizeof(*st->devices));
    if (!st->devices) {
        tq_vk_state_destroy(st);
        return host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties pp;
        st->fns.vkGetPhysicalDeviceProperties(phys[i], &pp);
        if (pp.apiVersion < VK_API_VERSION_1_1) {
            host->log(1, "vulkan: skipping '%s': Vulkan %u.%u device, 1.1 needed", pp.deviceName,
                      VK_API_VERSION_MAJOR(pp.apiVersion), VK_API_VERSION_MINOR(pp.apiVersion));
            continue;
        }
        uint32_t nq = 0;
        st->fns.vkGetPhysicalDeviceQueueFamilyProperties(phys[i], &nq, NULL);
        VkQueueFamilyProperties qf[32];
        if (nq > 32)
            nq = 32;
        st->fns.vkGetPhysicalDeviceQueueFamilyProperties(phys[i], &nq, qf);
        int32_t fam = -1;
        /* Prefer a compute queue that also does graphics (the "universal" queue has the
         * timestamp support every driver implements); any compute queue otherwise. */
        for (uint32_t q = 0; q < nq && fam < 0; q++)
            if ((qf[q].queueFlags & VK_QUEUE_COMPUTE_BIT) && (qf[q].queueFlags & VK_QUEUE_GRAPHICS_BIT))
                fam = (int32_t)q;
        for (uint32_t q = 0; q < nq && fam < 0; q++)
            if (qf[q].queueFlags & VK_QUEUE_COMPUTE_BIT)
                fam = (int32_t)q;
        if (fam < 0) {
            host->log(1, "vulkan: skipping '%s': no compute queue", pp.deviceName);
            continue;
        }
        tq_vk_device *d = &st->devices[st->n_devices];
        d->phys = phys[i];
        d->queue_family = (uint32_t)fam;
        d->timestamp_bits = qf[fam].timestampValidBits;
        fill_device(st, d, st->n_devices);
        d->timestamps = d->timestamp_bits > 0 && d->timestamp_period > 0;
        st->n_devices++;
    }
    *out = st;
    return NULL;
}

void tq_vk_state_destroy(tq_vk_state *st)
{
    if (!st)
        return;
    if (st->instance && st->fns.vkDestroyInstance)
        st->fns.vkDestroyInstance(st->instance, NULL);
    tq_vk_loader_close(&st->loader);
    free(st->devices);
    free(st);
}

tq_status tq_vk_device_info_get(tq_vk_state *st, uint32_t index, tq_device_info *out)
{
    if (index >= st->n_devices)
        return st->host->status_new(TQ_CODE_OUT_OF_RANGE, "vulkan: no device %u (%u found)",
                                    index, st->n_devices);
    tq_vk_device *d = &st->devices[index];
    describe_memory(st, d, d->has_budget);   /* budget changes over time */
    *out = d->info;
    return NULL;
}

tq_status tq_vk_check(tq_vk_ctx *ctx, VkResult r, const char *what)
{
    if (r == VK_SUCCESS)
        return NULL;
    tq_code code = (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
                       ? TQ_CODE_OUT_OF_MEMORY : TQ_CODE_BACKEND;
    return ctx->host->status_new(code, "vulkan: %s failed on '%s': %s", what,
                                 ctx->dev->info.name, tq_vk_result_name(r));
}

static int32_t find_mem_type(const VkPhysicalDeviceMemoryProperties *mp, VkMemoryPropertyFlags want,
                             VkMemoryPropertyFlags avoid)
{
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        VkMemoryPropertyFlags fl = mp->memoryTypes[i].propertyFlags;
        if ((fl & want) == want && !(fl & avoid))
            return (int32_t)i;
    }
    return -1;
}

static tq_status pick_memory_types(tq_vk_ctx *ctx)
{
    VkPhysicalDeviceMemoryProperties mp;
    ctx->st->fns.vkGetPhysicalDeviceMemoryProperties(ctx->dev->phys, &mp);
    const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                CA = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    /* On CPU devices and UMA every device-local type is host-visible: tensors are then
     * mapped and written directly, with no staging copy. */
    bool cpu = ctx->dev->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ||
               ctx->dev->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    ctx->mt_device = cpu ? find_mem_type(&mp, DL | HV | HC, 0) : -1;
    if (ctx->mt_device < 0)
        ctx->mt_device = find_mem_type(&mp, DL, HV);
    if (ctx->mt_device < 0)
        ctx->mt_device = find_mem_type(&mp, DL, 0);
    if (ctx->mt_device < 0)
        ctx->mt_device = find_mem_type(&mp, 0, 0);
    ctx->device_mappable = ctx->mt_device >= 0 &&
        (mp.memoryTypes[ctx->mt_device].propertyFlags & (HV | HC)) == (HV | HC);
    ctx->mt_upload = find_mem_type(&mp, HV | HC, 0);
    ctx->mt_readback = find_mem_type(&mp, HV | HC | CA, 0);
    if (ctx->mt_readback < 0)
        ctx->mt_readback = ctx->mt_upload;
    if (ctx->mt_device < 0 || ctx->mt_upload < 0)
        return ctx->host->status_new(TQ_CODE_UNSUPPORTED,
                                     "vulkan: device '%s' has no host-visible coherent memory type",
                                     ctx->dev->info.name);
    return NULL;
}

tq_status tq_vk_ctx_create(tq_vk_state *st, uint32_t index, const char *options, void *acct,
                           tq_vk_ctx **out)
{
    const tq_host_api *host = st->host;
    if (index >= st->n_devices)
        return host->status_new(TQ_CODE_OUT_OF_RANGE, "vulkan: no device %u (%u found)", index,
                                st->n_devices);
    tq_vk_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return host->status_new(TQ_CODE_OUT_OF_MEMORY, "vulkan: out of memory");
    ctx->st = st;
    ctx->dev = &st->devices[index];
    ctx->host = host;
    ctx->acct = acct;
    ctx->fns = st->fns;
    tq_status s = tq_vk_options_apply(ctx, options);
    if (s) {
        free(ctx);
        return s;
    }
    tq_vk_device *d = ctx->dev;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                    .queueFamilyIndex = d->queue_family, .queueCount = 1,
                                    .pQueuePriorities = &prio };
    VkPhysicalDeviceSubgroupSizeControlFeatures sgcf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
        .subgroupSizeControl = VK_TRUE };
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pexf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
        .pipelineExecutableInfo = VK_TRUE };
    const char *exts[2];
    uint32_t n_exts = 0;
    void *chain = NULL;
    if (ctx->required_subgroup) {
        chain = &sgcf;
        if (d->has_sg_ext)
            exts[n_exts++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
    }
    if (ctx->pipeline_stats) {   /* options_apply checked has_pipeline_stats */
        pexf.pNext = chain;
        chain = &pexf;
        exts[n_exts++] = VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME;
    }
    VkDeviceCreateInfo dci = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = chain,
                               .queueCreateInfoCount = 1, .pQueueCreateInfos = &qci,
                               .enabledExtensionCount = n_exts, .ppEnabledExtensionNames = exts };
    VkResult r = st->fns.vkCreateDevice(d->phys, &dci, NULL, &ctx->device);
    if (r != VK_SUCCESS) {
        free(ctx);
        return host->status_new(TQ_CODE_BACKEND, "vulkan: vkCreateDevice failed on '%s': %s",
                                d->info.name, tq_vk_result_name(r));
    }
    s = tq_vk_load_device_fns(host, &ctx->fns, ctx->device);
    if (!s && ctx->pipeline_stats) {
        ctx->get_exec_props = (PFN_vkGetPipelineExecutablePropertiesKHR)
            ctx->fns.vkGetDeviceProcAddr(ctx->device, "vkGetPipelineExecutablePropertiesKHR");
        ctx->get_exec_stats = (PFN_vkGetPipelineExecutableStatisticsKHR)
            ctx->fns.vkGetDeviceProcAddr(ctx->device, "vkGetPipelineExecutableStatisticsKHR");
        if (!ctx->get_exec_props || !ctx->get_exec_stats)
            s = host->status_new(TQ_CODE_BACKEND, "vulkan: '%s' enabled "
                                 "VK_KHR_pipeline_executable_properties but lacks its functions",
                                 d->info.name);
    }
    if (!s)
        s = pick_memory_types(ctx);
    if (s) {
        if (ctx->fns.vkDestroyDevice)
            ctx->fns.vkDestroyDevice(ctx->device, NULL);
        free(ctx);
        return s;
    }
    ctx->fns.vkGetDeviceQueue(ctx->device, d->queue_family, 0, &ctx->queue);
    VkCommandPoolCreateInfo cpci = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                     .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                     .queueFamilyIndex = d->queue_family };
    s = tq_vk_check(ctx, ctx->fns.vkCreateCommandPool(ctx->device, &cpci, NULL, &ctx->cmd_pool),
                    "vkCreateCommandPool");
    if (!s) {
        VkCommandBufferAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                           .commandPool = ctx->cmd_pool,
                                           .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                           .commandBufferCount = 1 };
        s = tq_vk_check(ctx, ctx->fns.vkAllocateCommandBuffers(ctx->device, &ai, &ctx->sync_cb),
                        "vkAllocateCommandBuffers");
    }
    if (!s) {
        VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
        s = tq_vk_check(ctx, ctx->fns.vkCreateFence(ctx->device, &fci, NULL, &ctx->sync_fence),
                        "vkCreateFence");
    }
    if (s) {
        tq_vk_ctx_destroy(ctx);
        return s;
    }
    tq_vk_pcache_open(ctx);
    *out = ctx;
    return NULL;
}

void tq_vk_ctx_destroy(tq_vk_ctx *ctx)
{
    if (!ctx)
        return;
    const tq_vk_fns *f = &ctx->fns;
    if (ctx->device)
        f->vkDeviceWaitIdle(ctx->device);
    tq_vk_pcache_save(ctx);
    tq_vk_pipelines_destroy(ctx);
    if (ctx->pcache)
        f->vkDestroyPipelineCache(ctx->device, ctx->pcache, NULL);
    if (ctx->sync_staging)
        tq_vk_buffer_destroy(ctx, ctx->sync_staging);
    if (ctx->sync_fence)
        f->vkDestroyFence(ctx->device, ctx->sync_fence, NULL);
    if (ctx->cmd_pool)
        f->vkDestroyCommandPool(ctx->device, ctx->cmd_pool, NULL);
    if (ctx->device)
        f->vkDestroyDevice(ctx->device, NULL);
    free(ctx);
}
