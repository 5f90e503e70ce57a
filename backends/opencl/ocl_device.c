/*
 * ocl_device.c: platforms and devices, their stable ids, and the capability checks that
 * decide what a device can run. No vendor-name allow-lists: a device is usable when it
 * reports what the kernels need, whoever made it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

/* The least local memory the kernels need (attention at d=128 with a 64-wide tile plus
 * room); larger shapes are checked per op in supports(). TQ_OPENCL_MIN_LOCAL_MEM raises
 * it, to see how tq treats a device that lacks a capability. */
#define TQ_OCL_MIN_LOCAL_MEM (16u * 1024u)
#define TQ_OCL_MIN_WG 16u
/* cl_nv_device_attribute_query (cl_ext.h names them without a prefix on some versions) */
#define TQ_CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV 0x4000
#define TQ_CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV 0x4001

static void get_str(const tq_ocl_fns *cl, cl_device_id d, cl_device_info p, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (cl->clGetDeviceInfo(d, p, cap - 1, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[cap - 1] = '\0';
}

static uint64_t get_u64(const tq_ocl_fns *cl, cl_device_id d, cl_device_info p)
{
    cl_ulong v = 0;
    if (cl->clGetDeviceInfo(d, p, sizeof v, &v, NULL) != CL_SUCCESS)
        return 0;
    return v;
}

static uint32_t get_u32(const tq_ocl_fns *cl, cl_device_id d, cl_device_info p)
{
    cl_uint v = 0;
    if (cl->clGetDeviceInfo(d, p, sizeof v, &v, NULL) != CL_SUCCESS)
        return 0;
    return v;
}

static size_t get_size(const tq_ocl_fns *cl, cl_device_id d, cl_device_info p)
{
    size_t v = 0;
    if (cl->clGetDeviceInfo(d, p, sizeof v, &v, NULL) != CL_SUCCESS)
        return 0;
    return v;
}

/* "OpenCL C 1.2 PoCL" -> 102; "OpenCL 3.0 ..." -> 300. */
static int parse_version(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return 0;
    int major = 0, minor = 0;
    if (sscanf(s + n, "%d.%d", &major, &minor) != 2)
        return 0;
    return major * 100 + minor;
}

static bool has_ext(const char *exts, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
        if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

static uint32_t hash32(const char *s)
{
    uint64_t h = tq_ocl_fnv1a(TQ_OCL_FNV_INIT, s, strlen(s));
    return (uint32_t)(h ^ (h >> 32));
}

static void add_feature(char *buf, size_t cap, const char *f)
{
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used, "%s%s", used ? " " : "", f);
}

static size_t floor_pow2(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

/* Fills dev from its cl_device_id and decides whether it is usable. */
static void describe(tq_ocl_state *st, tq_ocl_device *dev)
{
    const tq_ocl_fns *cl = &st->cl;
    tq_device_info *info = &dev->info;
    char *exts = malloc(8192);
    char clc[128], profile[64], vendor[128];
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;

    get_str(cl, dev->id, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_str(cl, dev->id, CL_DRIVER_VERSION, dev->driver_version, sizeof dev->driver_version);
    get_str(cl, dev->id, CL_DEVICE_VERSION, dev->device_version, sizeof dev->device_version);
    get_str(cl, dev->id, CL_DEVICE_OPENCL_C_VERSION, clc, sizeof clc);
    get_str(cl, dev->id, CL_DEVICE_PROFILE, profile, sizeof profile);
    get_str(cl, dev->id, CL_DEVICE_VENDOR, vendor, sizeof vendor);
    if (exts)
        get_str(cl, dev->id, CL_DEVICE_EXTENSIONS, exts, 8192);
    const char *ex = exts ? exts : "";

    cl_device_type type = 0;
    cl->clGetDeviceInfo(dev->id, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    cl_bool unified = CL_FALSE, available = CL_FALSE, compiler = CL_FALSE;
    cl->clGetDeviceInfo(dev->id, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    cl->clGetDeviceInfo(dev->id, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL);
    cl->clGetDeviceInfo(dev->id, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL);
    cl_device_fp_config fp32 = 0;
    cl->clGetDeviceInfo(dev->id, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp32, &fp32, NULL);
    cl_command_queue_properties qprops = 0;
    cl->clGetDeviceInfo(dev->id, CL_DEVICE_QUEUE_PROPERTIES, sizeof qprops, &qprops, NULL);

    dev->local_mem = get_u64(cl, dev->id, CL_DEVICE_LOCAL_MEM_SIZE);
    dev->max_alloc = get_u64(cl, dev->id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    dev->max_wg = get_size(cl, dev->id, CL_DEVICE_MAX_WORK_GROUP_SIZE);
    dev->compute_units = get_u32(cl, dev->id, CL_DEVICE_MAX_COMPUTE_UNITS);
    dev->correct_sqrt = (fp32 & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    /* Matrix units through PTX mma.sync m16n8k16 need compute capability 8.0 or later;
     * only NVIDIA's driver reports it (cl_nv_device_attribute_query). */
    dev->nv_cc = 0;
    if (has_ext(ex, "cl_nv_device_attribute_query")) {
        cl_uint ccmaj = 0, ccmin = 0;
        if (cl->clGetDeviceInfo(dev->id, TQ_CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV, sizeof ccmaj,
                                &ccmaj, NULL) == CL_SUCCESS &&
            cl->clGetDeviceInfo(dev->id, TQ_CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV, sizeof ccmin,
                                &ccmin, NULL) == CL_SUCCESS)
            dev->nv_cc = ccmaj * 10 + ccmin;
    }
    dev->mma_nv = dev->nv_cc >= 80;
    info->memory_total = get_u64(cl, dev->id, CL_DEVICE_GLOBAL_MEM_SIZE);
    info->compute_units = dev->compute_units;
    uint32_t vendor_id = get_u32(cl, dev->id, CL_DEVICE_VENDOR_ID);

    if (type & CL_DEVICE_TYPE_GPU)
        info->type = unified ? TQ_DEVICE_GPU_INTEGRATED : TQ_DEVICE_GPU_DISCRETE;
    else if (type & CL_DEVICE_TYPE_CPU)
        info->type = TQ_DEVICE_CPU;
    else
        info->type = TQ_DEVICE_OTHER;

    snprintf(info->driver, sizeof info->driver, "%.60s %.60s", dev->platform_name,
             dev->driver_version);

    /* Stable id: platform, vendor and device name, plus the PCI address when known (two
     * identical boards differ only there). */
    int n = snprintf(info->id, sizeof info->id, "opencl:%08x:%x:%08x", hash32(dev->platform_name),
                     vendor_id, hash32(info->name));
    bool pci = false;
    if (has_ext(ex, "cl_khr_pci_bus_info")) {
        cl_device_pci_bus_info_khr bus;
        if (cl->clGetDeviceInfo(dev->id, CL_DEVICE_PCI_BUS_INFO_KHR, sizeof bus, &bus, NULL) ==
                CL_SUCCESS && n > 0 && (size_t)n < sizeof info->id) {
            snprintf(info->id + n, sizeof info->id - (size_t)n, ":pci-%04x:%02x:%02x.%x",
                     bus.pci_domain, bus.pci_bus, bus.pci_device, bus.pci_function);
            pci = true;
        }
    }

    /* Capabilities the kernels need. */
    int clc_ver = parse_version(clc, "OpenCL C ");
    int dev_ver = parse_version(dev->device_version, "OpenCL ");
    bool byte_store = dev_ver >= 101 || has_ext(ex, "cl_khr_byte_addressable_store");
    bool int64 = strcmp(profile, "FULL_PROFILE") == 0 || has_ext(ex, "cles_khr_int64");
    uint64_t min_local = TQ_OCL_MIN_LOCAL_MEM;
    const char *env_min = getenv("TQ_OPENCL_MIN_LOCAL_MEM");
    if (env_min && env_min[0])
        min_local = strtoull(env_min, NULL, 10);

    dev->usable = false;
    if (!available)
        snprintf(dev->why_not, sizeof dev->why_not, "device reports itself unavailable");
    else if (!compiler)
        snprintf(dev->why_not, sizeof dev->why_not, "no OpenCL C compiler available");
    else if (clc_ver < 102)
        snprintf(dev->why_not, sizeof dev->why_not, "needs OpenCL C 1.2, device has '%.60s'", clc);
    else if (!byte_store)
        snprintf(dev->why_not, sizeof dev->why_not, "lacks byte-addressable stores");
    else if (!int64)
        snprintf(dev->why_not, sizeof dev->why_not, "lacks 64-bit integers (%s)", profile);
    else if (dev->local_mem < min_local)
        snprintf(dev->why_not, sizeof dev->why_not,
                 "has %llu bytes of local memory, the kernels need at least %llu",
                 (unsigned long long)dev->local_mem, (unsigned long long)min_local);
    else if (dev->max_wg < TQ_OCL_MIN_WG)
        snprintf(dev->why_not, sizeof dev->why_not, "work-groups of at most %zu items, need %u",
                 dev->max_wg, TQ_OCL_MIN_WG);
    else if (!(qprops & CL_QUEUE_PROFILING_ENABLE))
        snprintf(dev->why_not, sizeof dev->why_not, "queues cannot profile (no timings)");
    else
        dev->usable = true;

    char buf[64];
    snprintf(buf, sizeof buf, "opencl-c-%d.%d", clc_ver / 100, clc_ver % 100);
    add_feature(info->features, sizeof info->features, buf);
    if (has_ext(ex, "cl_khr_fp16"))
        add_feature(info->features, sizeof info->features, "fp16");
    if (has_ext(ex, "cl_khr_fp64"))
        add_feature(info->features, sizeof info->features, "fp64");
    if (int64)
        add_feature(info->features, sizeof info->features, "int64");
    if (byte_store)
        add_feature(info->features, sizeof info->features, "byte-store");
    if (dev->correct_sqrt)
        add_feature(info->features, sizeof info->features, "correct-sqrt");
    if (has_ext(ex, "cl_khr_subgroups") || has_ext(ex, "cl_intel_subgroups"))
        add_feature(info->features, sizeof info->features, "subgroups");
    if (pci)
        add_feature(info->features, sizeof info->features, "pci-bus-info");
    if (dev->nv_cc) {
        snprintf(buf, sizeof buf, "nv-cc-%u.%u", dev->nv_cc / 10, dev->nv_cc % 10);
        add_feature(info->features, sizeof info->features, buf);
    }
    if (dev->mma_nv)
        add_feature(info->features, sizeof info->features, "mma-ptx");
    snprintf(buf, sizeof buf, "local=%lluK", (unsigned long long)(dev->local_mem / 1024));
    add_feature(info->features, sizeof info->features, buf);
    snprintf(buf, sizeof buf, "max-wg=%zu", dev->max_wg);
    add_feature(info->features, sizeof info->features, buf);

    size_t wg = floor_pow2(dev->max_wg < 128 ? (dev->max_wg ? dev->max_wg : 1) : 128);
    if (dev->mma_nv)   /* turbo3 / q8_0 pairs on matrix units, the rest on split-k-coop */
        snprintf(info->default_variant, sizeof info->default_variant,
                 "split-k-mma/wg128/ptx+split-k-coop/wg%zu", wg);
    else
        snprintf(info->default_variant, sizeof info->default_variant, "split-k-coop/wg%zu", wg);

    if (!dev->usable) {
        info->score = -100;
        snprintf(info->note, sizeof info->note, "skipped: %s", dev->why_not);
    } else if (info->type == TQ_DEVICE_CPU) {
        info->score = -10;
        snprintf(info->note, sizeof info->note,
                 "usable; CPU device (%.40s): used only when asked for by name", vendor);
    } else if (info->type == TQ_DEVICE_GPU_DISCRETE) {
        info->score = 100;
        snprintf(info->note, sizeof info->note, "chosen: discrete GPU passing every capability check");
    } else if (info->type == TQ_DEVICE_GPU_INTEGRATED) {
        info->score = 60;
        snprintf(info->note, sizeof info->note, "usable: integrated GPU passing every capability check");
    } else {
        info->score = 20;
        snprintf(info->note, sizeof info->note, "usable: accelerator passing every capability check");
    }
    free(exts);
}

tq_status tq_ocl_devices_enumerate(tq_ocl_state *st)
{
    const tq_ocl_fns *cl = &st->cl;
    cl_uint np = 0;
    cl_int err = cl->clGetPlatformIDs(0, NULL, &np);
    if (err != CL_SUCCESS || np == 0) {
        char buf[32];
        const char *vend = getenv("OCL_ICD_VENDORS");
        return st->host->status_new(
            TQ_CODE_NOT_FOUND,
            "opencl: the ICD loader %s found no OpenCL platform (clGetPlatformIDs: %s); "
            "install a driver (e.g. pocl-opencl-icd or the GPU vendor's OpenCL ICD) and check "
            "the .icd files in %s",
            st->lib_path, err != CL_SUCCESS ? tq_ocl_err(err, buf) : "0 platforms",
            vend && vend[0] ? vend : "/etc/OpenCL/vendors (OCL_ICD_VENDORS unset)");
    }
    cl_platform_id plats[16];
    if (np > 16)
        np = 16;
    err = cl->clGetPlatformIDs(np, plats, NULL);
    if (err != CL_SUCCESS)
        return tq_ocl_fail(st->host, err, "clGetPlatformIDs");

    st->n_devices = 0;
    for (cl_uint p = 0; p < np; p++) {
        char pname[128] = "", pver[128] = "";
        cl->clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL);
        cl->clGetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof pver - 1, pver, NULL);
        cl_uint nd = 0;
        if (cl->clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
            continue;
        cl_device_id ids[TQ_OCL_MAX_DEVICES];
        if (nd > TQ_OCL_MAX_DEVICES)
            nd = TQ_OCL_MAX_DEVICES;
        if (cl->clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL) != CL_SUCCESS)
            continue;
        for (cl_uint i = 0; i < nd && st->n_devices < TQ_OCL_MAX_DEVICES; i++) {
            tq_ocl_device *dev = &st->devices[st->n_devices];
            memset(dev, 0, sizeof *dev);
            dev->state = st;
            dev->platform = plats[p];
            dev->id = ids[i];
            snprintf(dev->platform_name, sizeof dev->platform_name, "%s", pname);
            snprintf(dev->platform_version, sizeof dev->platform_version, "%s", pver);
            describe(st, dev);
            pthread_mutex_init(&dev->lock, NULL);
            /* Identical devices without PCI info: keep ids unique with an ordinal. */
            uint32_t dup = 0;
            for (uint32_t j = 0; j < st->n_devices; j++)
                if (strncmp(st->devices[j].info.id, dev->info.id, sizeof dev->info.id) == 0)
                    dup++;
            if (dup) {
                size_t len = strlen(dev->info.id);
                snprintf(dev->info.id + len, sizeof dev->info.id - len, ":%u", dup);
            }
            st->host->log(3, "opencl: device %u '%s' (%s): %s", st->n_devices, dev->info.name,
                          dev->info.id, dev->info.note);
            st->n_devices++;
        }
    }
    return NULL;
}
