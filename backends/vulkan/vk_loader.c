/*
 * vk_loader.c: run-time loading of libvulkan (no link-time dependency).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_loader.h"

tq_status tq_vk_loader_open(const tq_host_api *host, tq_vk_loader *loader, tq_vk_fns *fns)
{
    const char *override = getenv("TQ_VULKAN_LOADER");
    const char *candidates[3];
    int n = 0;
    if (override && override[0]) {
        candidates[n++] = override;
    } else {
        candidates[n++] = "libvulkan.so.1";
        candidates[n++] = "libvulkan.so";
    }
    char tried[1024];
    size_t used = 0;
    tried[0] = '\0';
    memset(loader, 0, sizeof(*loader));
    for (int i = 0; i < n; i++) {
        void *lib = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            const char *why = dlerror();
            int w = snprintf(tried + used, sizeof(tried) - used, "%s%s (%s)", used ? "; " : "",
                             candidates[i], why ? why : "not found");
            if (w > 0)
                used = (size_t)w + used < sizeof(tried) ? used + (size_t)w : sizeof(tried) - 1;
            continue;
        }
        void *sym = dlsym(lib, "vkGetInstanceProcAddr");
        if (!sym) {
            int w = snprintf(tried + used, sizeof(tried) - used,
                             "%s%s (has no vkGetInstanceProcAddr)", used ? "; " : "",
                             candidates[i]);
            if (w > 0)
                used = (size_t)w + used < sizeof(tried) ? used + (size_t)w : sizeof(tried) - 1;
            dlclose(lib);
            continue;
        }
        loader->lib = lib;
        snprintf(loader->path, sizeof(loader->path), "%s", candidates[i]);
        memset(fns, 0, sizeof(*fns));
        memcpy(&fns->vkGetInstanceProcAddr, &sym, sizeof(sym));
#define TQ_VK_LOAD_GLOBAL(name) \
        fns->name = (PFN_##name)fns->vkGetInstanceProcAddr(VK_NULL_HANDLE, #name);
        TQ_VK_GLOBAL_FNS(TQ_VK_LOAD_GLOBAL)
#undef TQ_VK_LOAD_GLOBAL
        if (!fns->vkCreateInstance) {
            dlclose(lib);
            loader->lib = NULL;
            return host->status_new(TQ_CODE_BACKEND,
                                    "vulkan: loader %s returned no vkCreateInstance", candidates[i]);
        }
        return NULL;
    }
    return host->status_new(TQ_CODE_NOT_FOUND,
                            "vulkan: no Vulkan loader library could be opened; tried: %s. "
                            "Install it (Debian: apt-get install libvulkan1 mesa-vulkan-drivers) "
                            "or set TQ_VULKAN_LOADER to its path",
                            tried);
}

void tq_vk_loader_close(tq_vk_loader *loader)
{
    if (loader->lib)
        dlclose(loader->lib);
    loader->lib = NULL;
}

tq_status tq_vk_load_instance_fns(const tq_host_api *host, tq_vk_fns *fns, VkInstance instance)
{
#define TQ_VK_LOAD_INSTANCE(name) \
    fns->name = (PFN_##name)fns->vkGetInstanceProcAddr(instance, #name); \
    if (!fns->name) \
        return host->status_new(TQ_CODE_BACKEND, "vulkan: the loader lacks " #name \
                                " (Vulkan 1.1 or newer is needed)");
    TQ_VK_INSTANCE_FNS(TQ_VK_LOAD_INSTANCE)
#undef TQ_VK_LOAD_INSTANCE
    return NULL;
}

tq_status tq_vk_load_device_fns(const tq_host_api *host, tq_vk_fns *fns, VkDevice device)
{
#define TQ_VK_LOAD_DEVICE(name) \
    fns->name = (PFN_##name)fns->vkGetDeviceProcAddr(device, #name); \
    if (!fns->name) \
        return host->status_new(TQ_CODE_BACKEND, "vulkan: the driver lacks " #name);
    TQ_VK_DEVICE_FNS(TQ_VK_LOAD_DEVICE)
#undef TQ_VK_LOAD_DEVICE
    return NULL;
}

const char *tq_vk_result_name(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VK_ERROR_UNKNOWN";
    }
}
