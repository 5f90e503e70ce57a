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
        void *lib = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
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

/* ---- keeping drivers resident
 * The loader dlcloses the ICDs on vkDestroyInstance. Unloading a driver buys nothing in
 * a long-lived host and makes leak checkers report the driver's still-reachable memory
 * as leaks from an "<unknown module>" (which then fails every ASan test of every
 * backend that loads this plugin). So every library that instance creation brought in
 * is pinned with RTLD_NODELETE. */
#include <link.h>

typedef struct lib_list {
    char **names;
    size_t n, cap;
} lib_list;

static int collect_lib(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    lib_list *l = data;
    if (!info->dlpi_name || !info->dlpi_name[0])
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **nn = realloc(l->names, cap * sizeof(*nn));
        if (!nn)
            return 1;
        l->names = nn;
        l->cap = cap;
    }
    l->names[l->n] = strdup(info->dlpi_name);
    if (l->names[l->n])
        l->n++;
    return 0;
}

static void free_list(lib_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

void *tq_vk_libs_snapshot(void)
{
    lib_list *l = calloc(1, sizeof(*l));
    if (l)
        dl_iterate_phdr(collect_lib, l);
    return l;
}

void tq_vk_libs_pin_new(void *snapshot)
{
    lib_list *before = snapshot;
    if (!before)
        return;
    lib_list now = { 0 };
    dl_iterate_phdr(collect_lib, &now);
    for (size_t i = 0; i < now.n; i++) {
        bool seen = false;
        for (size_t j = 0; j < before->n && !seen; j++)
            seen = strcmp(now.names[i], before->names[j]) == 0;
        if (seen)
            continue;
        void *h = dlopen(now.names[i], RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        if (h)
            dlclose(h);   /* drops our reference; NODELETE keeps it mapped */
    }
    free_list(&now);
    free_list(before);
    free(before);
}
