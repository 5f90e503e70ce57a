/*
 * vk_loader.h: opens the Vulkan loader library at run time and loads entry points.
 */
#ifndef TQ_VK_LOADER_H
#define TQ_VK_LOADER_H

#include "tq/tq_plugin.h"
#include "vk_fns.h"

typedef struct tq_vk_loader {
    void *lib;                /* dlopen handle */
    char path[512];           /* the library that was opened */
} tq_vk_loader;

/* Opens TQ_VULKAN_LOADER if set (tests use it to simulate a missing loader), else
 * libvulkan.so.1, else libvulkan.so. On failure the message lists every path tried with
 * dlerror()'s reason. Fills the global entry points of fns. */
tq_status tq_vk_loader_open(const tq_host_api *host, tq_vk_loader *loader, tq_vk_fns *fns);
void      tq_vk_loader_close(tq_vk_loader *loader);

/* Loads instance-level (then device-level) entry points; names the first missing one. */
tq_status tq_vk_load_instance_fns(const tq_host_api *host, tq_vk_fns *fns, VkInstance instance);
tq_status tq_vk_load_device_fns(const tq_host_api *host, tq_vk_fns *fns, VkDevice device);

/* Snapshot of the loaded libraries; pin_new pins (RTLD_NODELETE) every library loaded
 * since the snapshot (the ICDs) and frees the snapshot. */
void *tq_vk_libs_snapshot(void);
void  tq_vk_libs_pin_new(void *snapshot);

/* "VK_ERROR_OUT_OF_DEVICE_MEMORY" etc. */
const char *tq_vk_result_name(VkResult r);

#endif /* TQ_VK_LOADER_H */
