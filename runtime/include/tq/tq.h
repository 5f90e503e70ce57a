/*
 * tq.h: the public API of libtq, a CUDA-free runtime for compressed-KV attention.
 *
 * Vocabulary (Kompute-style):
 *   runtime  -> discovers backend plugins from JSON manifests and loads them
 *   backend  -> one loaded plugin (cpu, vulkan, opencl, ref, third parties)
 *   device   -> a device of a backend (index within the backend, stable id string)
 *   context  -> one device + its queue; owns tensors and sequences, accounts memory
 *   tensor   -> typed, shaped device memory
 *   sequence -> recorded ops (write, quantize, dequantize, rotate, attention, read),
 *               submitted and waited on, with per-op timings and kernel variant
 *
 * Errors: every fallible call returns a tq_status. NULL means success; anything else
 * carries a code and a message a user can act on and must be released with
 * tq_status_free(). Functions never crash on bad input (NULL pointers, wrong shapes,
 * type mismatches, out-of-range rows): they return TQ_CODE_INVALID_ARGUMENT or
 * TQ_CODE_OUT_OF_RANGE with a message naming the offending value.
 *
 * Thread safety: a tq_runtime may be queried from several threads once created. A
 * context, and the tensors, sequences and kv caches created from it, must be used from
 * one thread at a time; different contexts may be used from different threads at once.
 * Memory accounting is shared per device and is thread-safe.
 */
#ifndef TQ_TQ_H
#define TQ_TQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TQ_BUILDING_LIBTQ)
#define TQ_API __attribute__((visibility("default")))
#else
#define TQ_API
#endif

#define TQ_VERSION_MAJOR 0
#define TQ_VERSION_MINOR 1
#define TQ_VERSION_PATCH 0

/* ------------------------------------------------------------------ status */

typedef enum tq_code {
    TQ_CODE_OK = 0,
    TQ_CODE_INVALID_ARGUMENT,   /* NULL pointer, bad shape, type mismatch, bad option */
    TQ_CODE_OUT_OF_RANGE,       /* row index, device index, offset+size beyond a tensor */
    TQ_CODE_UNSUPPORTED,        /* backend/device cannot run this op, type or shape */
    TQ_CODE_NOT_FOUND,          /* no such backend, device, file or symbol */
    TQ_CODE_OUT_OF_MEMORY,      /* host or device allocation failed */
    TQ_CODE_BACKEND,            /* the driver or backend failed (message has its log) */
    TQ_CODE_ABI,                /* plugin ABI mismatch */
    TQ_CODE_IO,                 /* file read/write/parse failed */
    TQ_CODE_PERMISSION,         /* untrusted (e.g. world-writable) location refused */
    TQ_CODE_TIMEOUT,            /* wait exceeded its timeout */
    TQ_CODE_INTERNAL,           /* a bug in tq: please report */
    TQ_CODE_COUNT
} tq_code;

typedef struct tq_status_s *tq_status;   /* NULL == OK */

TQ_API tq_code     tq_status_code(tq_status status);     /* TQ_CODE_OK for NULL */
TQ_API const char *tq_status_message(tq_status status);  /* "" for NULL; valid until freed */
TQ_API void        tq_status_free(tq_status status);     /* NULL is fine */
TQ_API const char *tq_code_name(tq_code code);           /* "INVALID_ARGUMENT", ... */
/* Creates a status (used by tools and tests; plugins use the host API instead). */
TQ_API tq_status   tq_status_make(tq_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------- types */

typedef enum tq_type {
    TQ_TYPE_F32 = 0,
    TQ_TYPE_F16 = 1,
    TQ_TYPE_Q8_0 = 2,
    TQ_TYPE_Q4_0 = 3,
    TQ_TYPE_TURBO2 = 4,
    TQ_TYPE_TURBO3 = 5,
    TQ_TYPE_TURBO4 = 6,
    TQ_TYPE_COUNT = 7
} tq_type;

TQ_API const char *tq_type_name(tq_type type);              /* "turbo3"; "invalid" if out of range */
TQ_API tq_status   tq_type_from_name(const char *name, tq_type *out_type);
TQ_API bool        tq_type_is_valid(tq_type type);
TQ_API bool        tq_type_is_turbo(tq_type type);
TQ_API uint32_t    tq_type_block_elems(tq_type type);       /* 1, 32 or 128; 0 if invalid */
TQ_API uint32_t    tq_type_block_bytes(tq_type type);       /* 4, 2, 34, 18, 34, 50, 66; 0 if invalid */
/* Elements a row of ne0 logical elements occupies in storage: turbo rows are zero-padded
 * up to a multiple of 128; q8_0/q4_0 need ne0 % 32 == 0 (returns 0 otherwise). */
TQ_API int64_t     tq_type_padded_elems(tq_type type, int64_t ne0);
/* Bytes of one row of ne0 logical elements; 0 if ne0 is invalid for the type. */
TQ_API uint64_t    tq_type_row_bytes(tq_type type, int64_t ne0);

/* ------------------------------------------------------------ memory classes */

typedef enum tq_mem_class {
    TQ_MEM_KV = 0,        /* K/V cache tensors */
    TQ_MEM_SCRATCH,       /* temporaries of ops (split-K partials, ...) */
    TQ_MEM_STAGING,       /* host-visible transfer buffers */
    TQ_MEM_CONSTANTS,     /* codebooks, sign tables, pipelines' constant data */
    TQ_MEM_IO,            /* inputs/outputs of ops: Q, attention output, f32 rows */
    TQ_MEM_CLASS_COUNT
} tq_mem_class;

TQ_API const char *tq_mem_class_name(tq_mem_class cls);    /* "kv", "scratch", ... */

typedef struct tq_memory_stats {
    uint64_t current[TQ_MEM_CLASS_COUNT];   /* bytes now allocated, per class */
    uint64_t peak[TQ_MEM_CLASS_COUNT];      /* high-water mark since create/reset */
    uint64_t current_total;
    uint64_t peak_total;                    /* high-water mark of the sum */
} tq_memory_stats;

/* ----------------------------------------------------------------- runtime */

typedef struct tq_runtime  tq_runtime;
typedef struct tq_backend  tq_backend;
typedef struct tq_context  tq_context;
typedef struct tq_tensor   tq_tensor;
typedef struct tq_sequence tq_sequence;
typedef struct tq_kv_cache tq_kv_cache;

typedef struct tq_runtime_options {
    uint32_t struct_size;        /* sizeof(tq_runtime_options) */
    /* Extra plugin directories, ':'-separated absolute paths, searched after
     * TQ_PLUGIN_PATH and before the install dir. NULL for none. */
    const char *plugin_path;
    bool skip_install_dir;       /* do not search the directory libtq was installed with */
    bool skip_env;               /* ignore TQ_PLUGIN_PATH */
    /* Load only these backends (comma-separated names), NULL = all found. Manifests of
     * other backends are still read and reported, but their libraries are not opened. */
    const char *only_backends;
} tq_runtime_options;

/* What discovery found for one manifest: loaded or not, and why. */
typedef struct tq_plugin_report {
    const char *manifest_path;   /* absolute */
    const char *library_path;    /* absolute, resolved; "" if the manifest had none */
    const char *name;            /* from the manifest; "" if unreadable */
    int32_t priority;
    uint32_t abi_major, abi_minor; /* what the library reported; 0 if not opened */
    bool loaded;
    const char *message;         /* "loaded" or the reason it was not (names the file) */
} tq_plugin_report;

/* Discovers and loads plugins. Failing plugins do not fail the runtime: they are
 * reported through tq_runtime_plugin_report. Fails only on bad options or OOM. */
TQ_API tq_status tq_runtime_create(const tq_runtime_options *options, tq_runtime **out_runtime);
TQ_API void      tq_runtime_destroy(tq_runtime *runtime);
TQ_API uint32_t  tq_runtime_plugin_count(const tq_runtime *runtime);
TQ_API const tq_plugin_report *tq_runtime_plugin_report(const tq_runtime *runtime, uint32_t index);
/* The directories searched, in order, ':'-separated (for `tqrun list`). */
TQ_API const char *tq_runtime_search_path(const tq_runtime *runtime);
/* Loaded backends, ordered by manifest priority (highest first), then name. */
TQ_API uint32_t  tq_runtime_backend_count(const tq_runtime *runtime);
TQ_API tq_backend *tq_runtime_backend_get(const tq_runtime *runtime, uint32_t index);
TQ_API tq_status tq_runtime_backend_find(const tq_runtime *runtime, const char *name,
                                         tq_backend **out_backend);

/* ----------------------------------------------------------------- devices */

typedef enum tq_device_type {
    TQ_DEVICE_CPU = 0,
    TQ_DEVICE_GPU_DISCRETE,
    TQ_DEVICE_GPU_INTEGRATED,
    TQ_DEVICE_GPU_VIRTUAL,
    TQ_DEVICE_OTHER
} tq_device_type;

TQ_API const char *tq_device_type_name(tq_device_type type);

typedef struct tq_device_info {
    uint32_t struct_size;
    char name[128];          /* "NVIDIA H100 80GB HBM3", "llvmpipe (LLVM 15.0.6, 256 bits)" */
    char driver[128];        /* driver name and version */
    char id[96];             /* stable id: "vulkan:10de:2330:<uuid>", "cpu:x86_64:<model hash>" */
    char features[256];      /* space-separated capabilities: "avx2 fma f16c", "fp16 subgroup" */
    char default_variant[64];/* the kernel variant chosen automatically */
    char note[256];          /* why usable/preferred or not ("CPU device: used only when asked by name") */
    tq_device_type type;
    uint64_t memory_total;   /* bytes; 0 if unknown */
    uint64_t memory_free;    /* bytes (driver's budget where available); 0 if unknown */
    uint32_t compute_units;
    int32_t  score;          /* automatic choice prefers the highest score; < 0: never automatic */
} tq_device_info;

TQ_API const char *tq_backend_name(const tq_backend *backend);
TQ_API const char *tq_backend_library(const tq_backend *backend);   /* absolute path */
TQ_API uint32_t    tq_backend_device_count(const tq_backend *backend);
TQ_API tq_status   tq_backend_device_info(const tq_backend *backend, uint32_t device,
                                          tq_device_info *out_info);
/* Finds a device by query: a decimal index, an exact stable id, or a case-insensitive
 * substring of the name. NULL or "" picks the automatic choice: the highest score >= 0
 * (a CPU-type Vulkan/OpenCL device such as llvmpipe or PoCL has a negative score and is
 * used only when asked for by name). NOT_FOUND lists the devices there are. */
TQ_API tq_status   tq_backend_device_find(const tq_backend *backend, const char *query,
                                          uint32_t *out_device);

/* Backend and device choice for host applications: an explicit backend name first,
 * then the TQ_BACKEND environment variable ("name" or "name:device"), then the loaded
 * backend whose best device has the highest score (ref is never chosen automatically).
 * The message of an error says what was tried. */
TQ_API tq_status   tq_runtime_select(const tq_runtime *runtime, const char *backend_name,
                                     const char *device_query, tq_backend **out_backend,
                                     uint32_t *out_device);

/* ----------------------------------------------------------------- context */

/* options: backend-specific "key=value" pairs separated by ',' or ';', NULL or "" for
 * defaults. Common keys: "variant=<name>" forces a kernel variant (error if the device
 * cannot run it: no silent fallback), "threads=<n>" (CPU). Unknown keys are an error. */
TQ_API tq_status tq_context_create(tq_backend *backend, uint32_t device, const char *options,
                                   tq_context **out_context);
TQ_API void      tq_context_destroy(tq_context *context);
TQ_API tq_backend *tq_context_backend(const tq_context *context);
TQ_API uint32_t  tq_context_device(const tq_context *context);
/* Memory of the context's device as accounted by the runtime (all contexts of the device). */
TQ_API tq_status tq_context_memory(const tq_context *context, tq_memory_stats *out_stats);
TQ_API void      tq_context_memory_reset_peak(tq_context *context);

/* ------------------------------------------------------------------ tensors */

/* ne[0] is the row length in logical elements; ne[1..3] are outer dimensions (use 1 for
 * unused). Rows are stored contiguously, row i at byte i * tq_type_row_bytes(type, ne[0]).
 * Turbo rows are zero-padded to a multiple of 128 elements. */
TQ_API tq_status tq_tensor_create(tq_context *context, tq_type type, const int64_t ne[4],
                                  tq_mem_class mem_class, tq_tensor **out_tensor);
/* A view of ne in parent's memory starting at byte offset (a multiple of 4); it owns no
 * memory (nothing is accounted) and must be destroyed before its parent. Used, e.g., to
 * surround op outputs with guard bytes. OUT_OF_RANGE if it does not fit in parent. */
TQ_API tq_status tq_tensor_view_create(tq_tensor *parent, uint64_t offset, tq_type type,
                                       const int64_t ne[4], tq_tensor **out_view);
TQ_API void      tq_tensor_destroy(tq_tensor *tensor);
TQ_API tq_type   tq_tensor_type(const tq_tensor *tensor);
TQ_API void      tq_tensor_shape(const tq_tensor *tensor, int64_t out_ne[4]);
TQ_API uint64_t  tq_tensor_nbytes(const tq_tensor *tensor);
TQ_API uint64_t  tq_tensor_row_bytes(const tq_tensor *tensor);
/* Synchronous byte copies between host memory and the tensor. */
TQ_API tq_status tq_tensor_write(tq_tensor *tensor, uint64_t offset, const void *src, uint64_t size);
TQ_API tq_status tq_tensor_read(const tq_tensor *tensor, uint64_t offset, void *dst, uint64_t size);

/* ---------------------------------------------------------------- operations */

/* Quantize (set_rows): for every sequence s, token t and kv head h,
 *     dst[:, rows[s * n_tokens + t], h, s] = quantize(src[:, h, t, s])
 * src: F32 or F16, shape [d, n_kv_head, n_tokens, n_seq]
 * dst: any type, shape [d, n_ctx, n_kv_head, n_seq] (same d, n_kv_head and n_seq)
 * rows: n_tokens * n_seq row indices, each in [0, n_ctx); copied at record time. */
typedef struct tq_quantize_params {
    const tq_tensor *src;
    tq_tensor *dst;
    const int64_t *rows;
    int64_t n_rows;           /* must equal n_tokens * n_seq */
} tq_quantize_params;

enum {
    TQ_DEQUANTIZE_INVERSE_ROTATION = 1u << 0   /* turbo: return the original domain */
};

/* Dequantize every row of src into dst (F32, same ne[1..3]). dst->ne[0] must equal
 * tq_type_padded_elems(src type, src ne[0]): turbo rows come back with their padding.
 * Turbo rows are in the ROTATED domain unless TQ_DEQUANTIZE_INVERSE_ROTATION is set. */
typedef struct tq_dequantize_params {
    const tq_tensor *src;
    tq_tensor *dst;
    uint32_t flags;
} tq_dequantize_params;

/* Rotate F32 rows in 128-groups: forward(x) = D(s2) H/sqrt(128) D(s1) x or its inverse.
 * src and dst F32 of the same shape, ne[0] % 128 == 0; src == dst (in place) is allowed. */
typedef struct tq_rotate_params {
    const tq_tensor *src;
    tq_tensor *dst;
    bool inverse;
} tq_rotate_params;

/* Attention over a KV cache.
 * q:   F32 [d, n_head, n_q, n_seq]     (unrotated)
 * k:   any type [d, n_ctx, n_kv_head, n_seq]; v: any type, same shape as k
 * out: F32 [d, n_head, n_q, n_seq]     (unrotated)
 * n_head % n_kv_head == 0 (GQA: query head h reads kv head h / (n_head / n_kv_head)).
 * Only the first n_kv positions (1 <= n_kv <= n_ctx) are read.
 * score_j = scale * <q, k_j>; with softcap > 0: softcap * tanh(score_j / softcap).
 * causal: query i sits at position q_pos0 + i and sees positions j <= q_pos0 + i
 * (q_pos0 + n_q <= n_kv); otherwise every query sees all n_kv positions. */
typedef struct tq_attention_params {
    const tq_tensor *q;
    const tq_tensor *k;
    const tq_tensor *v;
    tq_tensor *out;
    int64_t n_kv;
    float scale;              /* 0 means 1/sqrt(d) */
    float softcap;            /* 0 = off */
    bool causal;
    int64_t q_pos0;
} tq_attention_params;

/* Answers whether the context's device can run the op; NULL if yes, else UNSUPPORTED
 * (or INVALID_ARGUMENT) with the reason. */
TQ_API tq_status tq_context_supports_quantize(tq_context *context, const tq_quantize_params *p);
TQ_API tq_status tq_context_supports_attention(tq_context *context, const tq_attention_params *p);

/* ---------------------------------------------------------------- sequences */

typedef struct tq_op_timing {
    char op[32];             /* "write", "quantize", "dequantize", "rotate", "attention", "read" */
    char variant[64];        /* kernel variant that ran: "avx2", "scalar", "split-k/table8", ... */
    uint64_t device_ns;      /* device time (GPU timestamps, CL events); host time on CPU */
    uint64_t host_ns;        /* wall time seen by the host for this op; 0 if not measured */
    uint64_t bytes_read;     /* bytes the op had to read (for GB/s) */
    uint64_t bytes_written;
} tq_op_timing;

TQ_API tq_status tq_sequence_create(tq_context *context, tq_sequence **out_sequence);
TQ_API void      tq_sequence_destroy(tq_sequence *sequence);
/* Copies size bytes from src at record time: the caller's buffer may be reused at once. */
TQ_API tq_status tq_sequence_record_write(tq_sequence *sequence, tq_tensor *tensor,
                                          uint64_t offset, const void *src, uint64_t size);
/* Writes into dst when the sequence completes: dst must stay valid until wait returns. */
TQ_API tq_status tq_sequence_record_read(tq_sequence *sequence, const tq_tensor *tensor,
                                         uint64_t offset, void *dst, uint64_t size);
TQ_API tq_status tq_sequence_record_quantize(tq_sequence *sequence, const tq_quantize_params *p);
TQ_API tq_status tq_sequence_record_dequantize(tq_sequence *sequence, const tq_dequantize_params *p);
TQ_API tq_status tq_sequence_record_rotate(tq_sequence *sequence, const tq_rotate_params *p);
TQ_API tq_status tq_sequence_record_attention(tq_sequence *sequence, const tq_attention_params *p);
/* Submits the recorded ops; a sequence may be submitted again after wait (replay). */
TQ_API tq_status tq_sequence_submit(tq_sequence *sequence);
/* Waits for completion; timeout_ns == UINT64_MAX waits forever. TIMEOUT if it expires. */
TQ_API tq_status tq_sequence_wait(tq_sequence *sequence, uint64_t timeout_ns);
/* Forgets recorded ops (and frees their scratch). */
TQ_API tq_status tq_sequence_reset(tq_sequence *sequence);
TQ_API uint32_t  tq_sequence_op_count(const tq_sequence *sequence);
/* Timing of op i of the last completed submission. */
TQ_API tq_status tq_sequence_timing(const tq_sequence *sequence, uint32_t index, tq_op_timing *out);

/* ----------------------------------------------------------------- KV cache */

typedef struct tq_kv_cache_desc {
    uint32_t n_layer;
    uint32_t n_kv_head;
    uint32_t head_dim;        /* d: 64, 128, 256, ... (q8_0/q4_0 need d % 32 == 0) */
    uint32_t n_ctx;           /* positions reserved per sequence */
    uint32_t n_seq;           /* sequences (1 for a single stream) */
    tq_type type_k;
    tq_type type_v;
} tq_kv_cache_desc;

typedef struct tq_kv_cache_size {
    uint64_t k_bytes_per_layer;
    uint64_t v_bytes_per_layer;
    uint64_t total_bytes;     /* n_layer * (k + v): exactly what tq_kv_cache_create accounts as kv */
} tq_kv_cache_size;

/* Predicts the exact bytes of a cache, without any device. */
TQ_API tq_status tq_kv_cache_predict(const tq_kv_cache_desc *desc, tq_kv_cache_size *out_size);
TQ_API tq_status tq_kv_cache_create(tq_context *context, const tq_kv_cache_desc *desc,
                                    tq_kv_cache **out_cache);
TQ_API void      tq_kv_cache_destroy(tq_kv_cache *cache);
TQ_API tq_status tq_kv_cache_layer(tq_kv_cache *cache, uint32_t layer,
                                   tq_tensor **out_k, tq_tensor **out_v);

#ifdef __cplusplus
}
#endif

#endif /* TQ_TQ_H */
