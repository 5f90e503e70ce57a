/*
 * ocl_internal.h: the OpenCL backend's objects.
 *
 *   tq_ocl_state    plugin instance: the loaded ICD loader, every device found
 *   tq_ocl_device   one cl_device_id, its capabilities, a lazily created cl_context and
 *                   program shared by all tq contexts of that device
 *   tq_ocl_ctx      one tq context: a profiling command queue and its own cl_kernels
 *                   (clSetKernelArg is not thread-safe across contexts)
 *   tq_ocl_buf      a cl_mem
 *   tq_ocl_seq      recorded ops, their events and scratch
 */
#ifndef TQ_OCL_INTERNAL_H
#define TQ_OCL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ocl_fns.h"
#include "tq_format_constants.h"
#include "tq/tq_plugin.h"

#define TQ_OCL_QT 8            /* queries per attention work-group: TQ_CL_QT in common.cl */
#define TQ_OCL_QD 4            /* queries per split-k-coop work-group: TQ_CL_QD */
#define TQ_OCL_MAX_DEVICES 32

/* Kernels of the one program, in creation order. */
enum tq_ocl_kernel {
    TQ_OCL_K_QUANTIZE_PLAIN = 0,
    TQ_OCL_K_QUANTIZE_Q,
    TQ_OCL_K_QUANTIZE_TURBO,
    TQ_OCL_K_DEQUANTIZE,
    TQ_OCL_K_DEQUANTIZE_TURBO_INV,
    TQ_OCL_K_ROTATE,
    TQ_OCL_K_ATTENTION,
    TQ_OCL_K_ATTENTION_REDUCE,
    TQ_OCL_K_ATTENTION_COOP,
    TQ_OCL_K_ATTENTION_MMA,          /* split-k-mma, turbo3 K and V */
    TQ_OCL_K_ATTENTION_MMA_Q8Q8,     /* ... q8_0 K and V */
    TQ_OCL_K_ATTENTION_MMA_Q8T3,     /* ... q8_0 K, turbo3 V */
    TQ_OCL_K_ATTENTION_MMA_T3Q8,     /* ... turbo3 K, q8_0 V */
    TQ_OCL_K_COUNT
};
extern const char *const tq_ocl_kernel_names[TQ_OCL_K_COUNT];

typedef struct tq_ocl_state tq_ocl_state;

typedef struct tq_ocl_device {
    tq_ocl_state *state;
    cl_platform_id platform;
    cl_device_id id;
    tq_device_info info;          /* what device_info returns */
    char platform_name[128];
    char platform_version[128];
    char device_version[128];
    char driver_version[128];
    bool usable;                  /* passed the capability checks */
    char why_not[200];            /* first failed capability, when !usable */
    bool correct_sqrt;            /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT */
    bool mma_nv;                  /* NVIDIA compute capability >= 8.0, from
                                     cl_nv_device_attribute_query: attention_mma.cl is
                                     built with PTX mma.sync */
    uint32_t nv_cc;               /* that compute capability as 10 * major + minor, or 0 */
    uint64_t local_mem;
    uint64_t max_alloc;
    size_t max_wg;
    uint32_t compute_units;

    /* Shared by the tq contexts of this device, made on first context_create. */
    pthread_mutex_t lock;
    cl_context cl_ctx;
    cl_program program;
    char program_note[160];       /* "program cache hit" / "miss: compiled in 812 ms" */
} tq_ocl_device;

/* Program-cache counters of the plugin instance (get_extra "tq_opencl_cache_stats"). */
typedef struct tq_ocl_cache_stats {
    uint64_t hits;
    uint64_t misses;        /* compiled from source (no file, cache off, or rejected) */
    uint64_t rejected;      /* files found corrupt, truncated or unusable */
    uint64_t written;
} tq_ocl_cache_stats;

struct tq_ocl_state {
    const tq_host_api *host;
    void *lib;                    /* dlopen handle of the ICD loader */
    char lib_path[256];
    tq_ocl_fns cl;
    uint32_t n_devices;
    tq_ocl_device devices[TQ_OCL_MAX_DEVICES];
    pthread_mutex_t stats_lock;
    tq_ocl_cache_stats stats;
};

typedef struct tq_ocl_ctx {
    tq_ocl_state *state;
    tq_ocl_device *dev;
    const tq_ocl_fns *cl;
    const tq_host_api *host;
    void *acct;
    cl_command_queue queue;
    cl_kernel kernels[TQ_OCL_K_COUNT];
    size_t wg_group;              /* work-group size of the per-128-group kernels */
    size_t wg_attn;               /* attention tile = work-group size */
    size_t wg_reduce;
    size_t wg_coop;               /* split-k-coop work-group size */
    bool forced_variant;
    int coop_mode;                /* TQ_OCL_COOP_*: which attention kernel runs */
    int mma_mode;                 /* TQ_OCL_MMA_*: split-k-mma where it can run, only, never */
    size_t wg_mma;                /* its work-group: 128 (4 warps) with PTX, 32 emulated */
    uint32_t forced_splits;       /* option splits=<n>: fixed split count (tests, tuning) */
    char attn_variant[96];        /* "split-k/wg128" */
} tq_ocl_ctx;

/* Attention kernel choice: split-k-coop where the shape allows it (default), only
 * split-k-coop (forced: a shape it cannot run is an error), or only split-k. */
enum { TQ_OCL_COOP_AUTO = 0, TQ_OCL_COOP_ONLY, TQ_OCL_COOP_OFF };
/* split-k-mma (attention_mma.cl): by default only where it runs on matrix units (PTX
 * build) and supports the shape; forced (an unsupported shape is an error, and on other
 * devices the emulated build runs); or off. */
enum { TQ_OCL_MMA_AUTO = 0, TQ_OCL_MMA_ONLY, TQ_OCL_MMA_OFF };

typedef struct tq_ocl_buf {
    cl_mem mem;
    uint64_t size;
} tq_ocl_buf;

/* ---- ocl_loader.c */
tq_status tq_ocl_loader_open(const tq_host_api *host, tq_ocl_state *st);
void tq_ocl_loader_close(tq_ocl_state *st);

/* ---- ocl_device.c */
tq_status tq_ocl_devices_enumerate(tq_ocl_state *st);

/* ---- ocl_program.c: builds (or loads from the cache) the device's program. */
tq_status tq_ocl_device_prepare(tq_ocl_device *dev);
tq_status tq_ocl_ctx_create_kernels(tq_ocl_ctx *ctx, const char *forced_variant);

/* ---- ocl_seq.c */
tq_status tq_ocl_supports(void *ctx, const tq_op *op);
tq_status tq_ocl_seq_create(void *ctx, void **out_seq);
void tq_ocl_seq_destroy(void *seq);
tq_status tq_ocl_seq_record(void *seq, const tq_op *op);
tq_status tq_ocl_seq_submit(void *seq);
tq_status tq_ocl_seq_wait(void *seq, uint64_t timeout_ns);
tq_status tq_ocl_seq_reset(void *seq);
tq_status tq_ocl_seq_timing(void *seq, uint32_t index, tq_plugin_timing *out);

/* A status for a failed CL call: "opencl: <what>: CL_OUT_OF_RESOURCES (-5)". */
tq_status tq_ocl_fail(const tq_host_api *host, cl_int err, const char *what);

/* FNV-1a 64 (used for ids and the cache key). */
uint64_t tq_ocl_fnv1a(uint64_t h, const void *data, size_t n);
#define TQ_OCL_FNV_INIT 0xcbf29ce484222325ull

#endif /* TQ_OCL_INTERNAL_H */
