/*
 * drm.c: DRM render nodes through libdrm, so `tqrun list` can show GPUs the kernel knows
 * about even when no backend's driver sees them (a missing Vulkan ICD, a missing OpenCL
 * platform). No /dev/dri (containers, CPU-only hosts) is a normal answer, not an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xf86drm.h>

#include "tqrun.h"

int tr_drm_list(tr_table *table, cJSON *arr)
{
    int n = drmGetDevices2(0, NULL, 0);
    if (n <= 0)
        return n < 0 ? n : 0;
    drmDevicePtr *devs = calloc((size_t)n, sizeof *devs);
    if (!devs)
        return -ENOMEM;
    n = drmGetDevices2(0, devs, n);
    int found = 0;
    for (int i = 0; i < n; i++) {
        drmDevicePtr d = devs[i];
        if (!(d->available_nodes & (1 << DRM_NODE_RENDER)))
            continue;
        const char *node = d->nodes[DRM_NODE_RENDER];
        char bus[64] = "other", ids[32] = "-", driver[96] = "-";
        if (d->bustype == DRM_BUS_PCI && d->businfo.pci && d->deviceinfo.pci) {
            snprintf(bus, sizeof bus, "pci %04x:%02x:%02x.%u", d->businfo.pci->domain,
                     d->businfo.pci->bus, d->businfo.pci->dev, d->businfo.pci->func);
            snprintf(ids, sizeof ids, "%04x:%04x", d->deviceinfo.pci->vendor_id,
                     d->deviceinfo.pci->device_id);
        } else if (d->bustype == DRM_BUS_PLATFORM) {
            snprintf(bus, sizeof bus, "platform");
        } else if (d->bustype == DRM_BUS_USB) {
            snprintf(bus, sizeof bus, "usb");
        }
        int fd = open(node, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            fd = open(node, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            drmVersionPtr v = drmGetVersion(fd);
            if (v) {
                snprintf(driver, sizeof driver, "%s %d.%d.%d", v->name ? v->name : "?",
                         v->version_major, v->version_minor, v->version_patchlevel);
                drmFreeVersion(v);
            }
            close(fd);
        } else {
            snprintf(driver, sizeof driver, "(cannot open: %s)", strerror(errno));
        }
        const char *row[] = { node, bus, ids, driver };
        tr_table_row(table, row);
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "node", node);
            cJSON_AddStringToObject(o, "bus", bus);
            cJSON_AddStringToObject(o, "pci_id", ids);
            cJSON_AddStringToObject(o, "driver", driver);
            cJSON_AddItemToArray(arr, o);
        }
        found++;
    }
    drmFreeDevices(devs, n);
    free(devs);
    return found;
}
