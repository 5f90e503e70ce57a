/*
 * vk_internal.h: the objects of the Vulkan backend's small Kompute-style layer.
 *
 *   state    (vk_manager.c)   loader + instance + the physical devices found
 *   ctx      (vk_manager.c)   one logical device + compute queue + pipeline cache
 *   buffer   (vk_buffer.c)    device memory, mapped when host-visible, staging copies
 *   pipeline (vk_algorithm.c) SPIR-V module + layout + specialization -> VkPipeline
 *   seq      (vk_sequence.c)  recorded ops -> command buffer, fence, timestamps
 *   ops      (vk_ops.c)       tq_op -> dispatches (quantize, dequantize, rotate, attention)
 */
#ifndef TQ_VK_INTERNAL_H
#define TQ_VK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "tq/tq_plugin.h"
#include "vk_fns.h"
#include "vk_loader.h"
#include "vk_kernels.h"

#define TQ_VK_WG 128u   /* threads per workgroup of every kernel (one turbo group) */

typedef enum tq_vk_variant {
    TQ_VK_VARIANT_TABLE = 0,   /* centroid table in shared memory */
    TQ_VK_VARIANT_MAGSIGN,     /* magnitude table, sign by arithmetic */
    TQ_VK_VARIANT_ARITH,       /* selects only, no indexed table */
    TQ_VK_VARIANT_COUNT
} tq_vk_variant;

typedef enum tq_vk_mode {
    TQ_VK_MODE_FULL = 0,
    TQ_VK_MODE_NODEQUANT,      /* no K/V reads at all: compute ceiling */
    TQ_VK_MODE_NORMSONLY,      /* reads block scales/norms only */
    TQ_VK_MODE_READBYTES,      /* reads every byte, no index decode */
    TQ_VK_MODE_INDICES,        /* index decode + table, no norm */
    TQ_VK_MODE_COUNT
} tq_vk_mode;

const char *tq_vk_variant_name(tq_vk_variant v);
const char *tq_vk_mode_name(tq_vk_mode m);

typedef struct tq_vk_device {
    VkPhysicalDevice phys;
    VkPhysicalDeviceProperties props;
    uint32_t queue_family;
    tq_device_info info;
    uint8_t device_uuid[VK_UUID_SIZE];
    uint8_t driver_uuid[VK_UUID_SIZE];
    uint32_t api_version;
    bool has_budget;             /* VK_EXT_memory_budget */
    bool has_sg_control;         /* subgroupSizeControl + computeFullSubgroups optional */
    bool has_sg_ext;             /* VK_EXT_subgroup_size_control needs enabling (pre-1.3) */
    bool has_pipeline_stats;     /* VK_KHR_pipeline_executable_properties (stats=1) */
    uint32_t subgroup_size, sg_min, sg_max;
    bool sg_shuffle;             /* subgroupShuffleXor in compute shaders */
    bool storage8, storage16, float16, int8;
    uint32_t max_shared;
    uint32_t max_groups_x;
    uint64_t max_storage_range;
    uint64_t storage_align;
    bool timestamps;
    float timestamp_period;
    uint32_t timestamp_bits;
} tq_vk_device;

typedef struct tq_vk_state {
    const tq_host_api *host;
    tq_vk_loader loader;
    tq_vk_fns fns;               /* global + instance entry points */
    VkInstance instance;
    uint32_t api_version;
    uint32_t n_devices;
    tq_vk_device *devices;
    bool has_props2;
} tq_vk_state;

typedef struct tq_vk_pipeline tq_vk_pipeline;

typedef struct tq_vk_buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    uint64_t size;
    void *mapped;                /* non-NULL when host-visible (UMA/CPU devices, staging) */
    bool coherent;
    tq_mem_class cls;
    bool self_accounted;         /* plugin-internal: counted via host->mem_add */
} tq_vk_buffer;

typedef struct tq_vk_ctx {
    tq_vk_state *st;
    tq_vk_device *dev;
    const tq_host_api *host;
    void *acct;
    tq_vk_fns fns;               /* with this device's entry points */
    VkDevice device;
    VkQueue queue;
    VkCommandPool cmd_pool;
    VkCommandBuffer sync_cb;     /* one-shot copies for buffer_write/read */
    VkFence sync_fence;
    tq_vk_buffer *sync_staging;
    /* memory types */
    int32_t mt_device;           /* device-local (maybe host-visible on UMA) */
    bool device_mappable;
    int32_t mt_upload;           /* host-visible coherent */
    int32_t mt_readback;         /* host-visible, cached if possible */
    /* pipelines */
    VkPipelineCache pcache;
    char cache_path[1024];
    uint64_t cache_loaded_bytes;
    bool cache_dirty;
    tq_vk_pipeline *pipelines;   /* list */
    uint32_t n_pipelines_created;
    /* options */
    tq_vk_variant variant;
    tq_vk_mode mode;
    uint32_t required_subgroup;  /* 0: driver's choice */
    uint32_t forced_splits;      /* 0: automatic */
    bool dynamic_types;          /* attention reads K/V types from push constants */
    int attn_kernel;             /* 0 auto, 1 fd (flash-decoding), 2 tiled */
    int attn_reduce;             /* fd team sums: 0 auto, 1 subgroup, 2 shared, 3 transposed */
    uint32_t attn_keys;          /* fd keys per team per step; 0: per device */
    int attn_softmax;            /* fd: 0 auto, 1 every lane of a team, 2 row owners */
    bool pipeline_stats;         /* stats=1: log each pipeline's compiler statistics */
    PFN_vkGetPipelineExecutablePropertiesKHR get_exec_props;
    PFN_vkGetPipelineExecutableStatisticsKHR get_exec_stats;
} tq_vk_ctx;

/* ---- manager (vk_manager.c) */
tq_status tq_vk_state_create(const tq_host_api *host, tq_vk_state **out);
void      tq_vk_state_destroy(tq_vk_state *st);
tq_status tq_vk_device_info_get(tq_vk_state *st, uint32_t index, tq_device_info *out);
tq_status tq_vk_ctx_create(tq_vk_state *st, uint32_t index, const char *options, void *acct,
                           tq_vk_ctx **out);
void      tq_vk_ctx_destroy(tq_vk_ctx *ctx);
tq_status tq_vk_check(tq_vk_ctx *ctx, VkResult r, const char *what);

/* ---- buffers (vk_buffer.c) */
typedef enum tq_vk_mem_kind { TQ_VK_MEM_DEVICE, TQ_VK_MEM_UPLOAD, TQ_VK_MEM_READBACK } tq_vk_mem_kind;
/* self_accounted: the plugin reports the bytes (scratch, staging, constants); tensors
 * are accounted by the runtime itself. */
tq_status tq_vk_buffer_create(tq_vk_ctx *ctx, uint64_t size, tq_vk_mem_kind kind,
                              tq_mem_class cls, bool self_accounted, tq_vk_buffer **out);
void      tq_vk_buffer_destroy(tq_vk_ctx *ctx, tq_vk_buffer *b);
tq_status tq_vk_buffer_write(tq_vk_ctx *ctx, tq_vk_buffer *b, uint64_t off, const void *src,
                             uint64_t size);
tq_status tq_vk_buffer_read(tq_vk_ctx *ctx, tq_vk_buffer *b, uint64_t off, void *dst,
                            uint64_t size);

/* ---- algorithm (vk_algorithm.c) */
#define TQ_VK_MAX_SPEC 12
#define TQ_VK_MAX_BINDINGS 4
#define TQ_VK_PUSH_WORDS 32
typedef struct tq_vk_pipeline_key {
    tq_vk_kernel kernel;
    uint32_t n_spec;
    uint32_t spec[TQ_VK_MAX_SPEC];
    uint32_t n_bindings;
} tq_vk_pipeline_key;
struct tq_vk_pipeline {
    tq_vk_pipeline_key key;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    tq_vk_pipeline *next;
};
tq_status tq_vk_pipeline_get(tq_vk_ctx *ctx, const tq_vk_pipeline_key *key, tq_vk_pipeline **out);
void      tq_vk_pipelines_destroy(tq_vk_ctx *ctx);
/* pipeline cache on disk (vk_pipeline_cache.c) */
void      tq_vk_pcache_open(tq_vk_ctx *ctx);
void      tq_vk_pcache_save(tq_vk_ctx *ctx);

/* ---- sequences (vk_sequence.c) */
tq_status tq_vk_seq_create(tq_vk_ctx *ctx, void **out_seq);
void      tq_vk_seq_destroy(void *seq);
tq_status tq_vk_seq_record(void *seq, const tq_op *op);
tq_status tq_vk_seq_submit(void *seq);
tq_status tq_vk_seq_wait(void *seq, uint64_t timeout_ns);
tq_status tq_vk_seq_reset(void *seq);
tq_status tq_vk_seq_timing(void *seq, uint32_t index, tq_plugin_timing *out);

#endif /* TQ_VK_INTERNAL_H */
