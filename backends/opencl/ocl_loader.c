/*
 * ocl_loader.c: opens the OpenCL ICD loader at run time and resolves its entry points.
 * TQ_OPENCL_LOADER names the library to open instead of the defaults (tests point it at
 * a missing file to check that the failure is reported and harms nothing else).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

static void append(char *buf, size_t cap, size_t *used, const char *fmt, const char *a,
                   const char *b)
{
    if (*used >= cap - 1)
        return;
    int w = snprintf(buf + *used, cap - *used, fmt, a, b);
    if (w > 0)
        *used = *used + (size_t)w < cap ? *used + (size_t)w : cap - 1;
}

tq_status tq_ocl_loader_open(const tq_host_api *host, tq_ocl_state *st)
{
    const char *override = getenv("TQ_OPENCL_LOADER");
    const char *candidates[2];
    int n = 0;
    if (override && override[0]) {
        candidates[n++] = override;
    } else {
        candidates[n++] = "libOpenCL.so.1";
        candidates[n++] = "libOpenCL.so";
    }
    char tried[1024];
    size_t used = 0;
    tried[0] = '\0';
    for (int i = 0; i < n; i++) {
        void *lib = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            const char *why = dlerror();
            append(tried, sizeof tried, &used, "%s%s", used ? "; " : "", candidates[i]);
            append(tried, sizeof tried, &used, " (%s)%s", why ? why : "not found", "");
            continue;
        }
        const char *missing = NULL;
#define TQ_OCL_RESOLVE(name) \
        if (!missing) { \
            void *sym = dlsym(lib, #name); \
            if (sym) \
                memcpy(&st->cl.name, &sym, sizeof sym); \
            else \
                missing = #name; \
        }
        TQ_OCL_FNS(TQ_OCL_RESOLVE)
#undef TQ_OCL_RESOLVE
        if (missing) {
            append(tried, sizeof tried, &used, "%s%s", used ? "; " : "", candidates[i]);
            append(tried, sizeof tried, &used, " (lacks %s: not an OpenCL 1.2 loader)%s",
                   missing, "");
            dlclose(lib);
            continue;
        }
        st->lib = lib;
        snprintf(st->lib_path, sizeof st->lib_path, "%s", candidates[i]);
        return NULL;
    }
    return host->status_new(TQ_CODE_NOT_FOUND,
                            "opencl: no OpenCL ICD loader could be opened; tried: %s. Install "
                            "one (Debian: apt-get install ocl-icd-libopencl1) plus a driver "
                            "(e.g. pocl-opencl-icd, the GPU vendor's ICD), or set "
                            "TQ_OPENCL_LOADER to the loader's path",
                            tried);
}

/* The loader stays mapped for the life of the process: ICD loaders and the drivers they
 * load keep process-wide state (platform lists, driver threads) that is neither freed
 * nor safe to re-initialise after an unload, so a later init would leak or crash. */
void tq_ocl_loader_close(tq_ocl_state *st)
{
    st->lib = NULL;
}

const char *tq_ocl_err(cl_int err, char buf[32])
{
    switch (err) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
    E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES)
    E(CL_OUT_OF_HOST_MEMORY) E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_BUILD_PROGRAM_FAILURE)
    E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_MEM_OBJECT)
    E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL)
    E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT)
    E(CL_INVALID_OPERATION) E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_GLOBAL_WORK_SIZE)
    E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        snprintf(buf, 32, "CL error %d", (int)err);
        return buf;
    }
}

tq_status tq_ocl_fail(const tq_host_api *host, cl_int err, const char *what)
{
    char buf[32];
    tq_code code = TQ_CODE_BACKEND;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
        err == CL_INVALID_BUFFER_SIZE)
        code = TQ_CODE_OUT_OF_MEMORY;
    return host->status_new(code, "opencl: %s: %s (%d)", what, tq_ocl_err(err, buf), (int)err);
}

uint64_t tq_ocl_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
