/*
 * tq_plugin.h: the contract between libtq and a backend plugin (ABI 1.0).
 *
 * A plugin is a shared library plus a JSON manifest (plugins/manifest.schema.json):
 *     { "name": "cpu", "library": "libtq_cpu.so", "abi_major": 1, "priority": 50 }
 * "library" is absolute or relative to the manifest's directory (never to the current
 * directory). The runtime dlopens it with RTLD_NOW | RTLD_LOCAL and looks up one symbol,
 *     const tq_plugin_desc *tq_plugin_query(void);
 * It checks desc->abi_major == TQ_PLUGIN_ABI_MAJOR and desc->struct_size /
 * ops->struct_size are at least what it needs before calling anything else, then calls
 * ops->init once. Everything else in the library should be hidden
 * (-fvisibility=hidden); export the query symbol with TQ_PLUGIN_EXPORT.
 *
 * Handles: the plugin returns opaque pointers (state, ctx, buffer, seq) and the runtime
 * hands them back; it never looks inside. The runtime validates every op fully (types,
 * shapes, ranges, NULLs) before calling the plugin, so a plugin may assume a well-formed
 * tq_op; supports() is for what the device cannot do, not for what is malformed.
 *
 * Errors: every fallible callback returns a tq_status made with host->status_new (NULL =
 * OK). Messages should say what failed and what to do, and include driver logs.
 *
 * Memory: the runtime accounts buffer_alloc bytes itself under the requested class. Any
 * other device memory the plugin allocates (scratch, staging, constant tables) it must
 * report with host->mem_add(acct, class, +bytes) and -bytes when freed.
 *
 * Threading: the runtime serialises calls per ctx (and its buffers and seqs); calls for
 * different ctx may come from different threads at once. init/shutdown/device_* are
 * called from one thread.
 */
#ifndef TQ_TQ_PLUGIN_H
#define TQ_TQ_PLUGIN_H

#include "tq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_PLUGIN_ABI_MAJOR 1
#define TQ_PLUGIN_ABI_MINOR 0
#define TQ_PLUGIN_QUERY_SYMBOL "tq_plugin_query"
#define TQ_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Services the runtime offers to plugins. */
typedef struct tq_host_api {
    uint32_t struct_size;
    uint32_t abi_major, abi_minor;
    tq_status (*status_new)(tq_code code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    /* Adds delta bytes (negative when freeing) to class cls of the device behind acct. */
    void (*mem_add)(void *acct, tq_mem_class cls, int64_t delta);
    /* level: 0 error, 1 warning, 2 info, 3 debug. Shown when TQ_LOG allows it. */
    void (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
} tq_host_api;

/* A tensor as the plugin sees it: its buffer handle plus geometry. Rows are contiguous:
 * nb[1] = tq_type_row_bytes(type, ne[0]), nb[2] = nb[1] * ne[1], nb[3] = nb[2] * ne[2]. */
typedef struct tq_tensor_ref {
    void *buf;               /* plugin buffer handle from buffer_alloc */
    uint64_t offset;         /* byte offset of element 0 in buf */
    tq_type type;
    int64_t ne[4];
    uint64_t nb[4];          /* nb[0] unused (0) for block types; bytes per element otherwise */
} tq_tensor_ref;

typedef enum tq_op_kind {
    TQ_OP_WRITE = 0,
    TQ_OP_READ,
    TQ_OP_QUANTIZE,
    TQ_OP_DEQUANTIZE,
    TQ_OP_ROTATE,
    TQ_OP_ATTENTION,
    TQ_OP_KIND_COUNT
} tq_op_kind;

/* One recorded operation. Which fields are used depends on kind (see tq.h for the
 * semantics of each op). Host pointers (host_src, rows) stay valid until the sequence is
 * reset or destroyed; host_dst until the submission completes. */
typedef struct tq_op {
    uint32_t struct_size;
    tq_op_kind kind;
    /* WRITE: dst, host_src, offset, size.  READ: src, host_dst, offset, size. */
    const void *host_src;
    void *host_dst;
    uint64_t offset, size;
    /* QUANTIZE: src (F32/F16) -> dst at rows.  DEQUANTIZE: src -> dst (F32), flags.
     * ROTATE: src -> dst (F32), inverse. */
    tq_tensor_ref src, dst;
    const int64_t *rows;
    int64_t n_rows;
    uint32_t flags;
    bool inverse;
    /* ATTENTION */
    tq_tensor_ref q, k, v, out;
    int64_t n_kv;
    float scale;             /* already resolved: never 0 here */
    float softcap;
    bool causal;
    int64_t q_pos0;
} tq_op;

/* Filled by seq_timings for op i of the last completed submission. */
typedef tq_op_timing tq_plugin_timing;

typedef struct tq_backend_ops {
    uint32_t struct_size;

    /* Called once after the ABI check. host stays valid until shutdown. May fail (e.g.
     * no loader library): the runtime then reports the plugin as not loaded with the message. */
    tq_status (*init)(const tq_host_api *host, void **out_state);
    void (*shutdown)(void *state);

    uint32_t (*device_count)(void *state);
    tq_status (*device_info)(void *state, uint32_t device, tq_device_info *out_info);

    /* acct is the runtime's accounting cookie for this device: pass it to host->mem_add. */
    tq_status (*context_create)(void *state, uint32_t device, const char *options, void *acct,
                                void **out_ctx);
    void (*context_destroy)(void *ctx);

    tq_status (*buffer_alloc)(void *ctx, uint64_t size, tq_mem_class cls, void **out_buf);
    void (*buffer_free)(void *ctx, void *buf);
    tq_status (*buffer_write)(void *ctx, void *buf, uint64_t offset, const void *src, uint64_t size);
    tq_status (*buffer_read)(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t size);

    /* NULL if the device can run op, else an UNSUPPORTED status saying why. */
    tq_status (*supports)(void *ctx, const tq_op *op);

    tq_status (*seq_create)(void *ctx, void **out_seq);
    void (*seq_destroy)(void *seq);
    tq_status (*seq_record)(void *seq, const tq_op *op);
    tq_status (*seq_submit)(void *seq);
    tq_status (*seq_wait)(void *seq, uint64_t timeout_ns);
    tq_status (*seq_reset)(void *seq);
    /* Timing of op index of the last completed submission. */
    tq_status (*seq_timing)(void *seq, uint32_t index, tq_plugin_timing *out);

    /* Optional extras by name (may be NULL): returns a function pointer or NULL. */
    void *(*get_extra)(void *state, const char *name);
} tq_backend_ops;

typedef struct tq_plugin_desc {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t struct_size;    /* sizeof(tq_plugin_desc) */
    const char *name;        /* "cpu"; must match the manifest's name */
    const tq_backend_ops *ops;
} tq_plugin_desc;

typedef const tq_plugin_desc *(*tq_plugin_query_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TQ_TQ_PLUGIN_H */
