/*
 * tq_internal.h: the runtime's private object layouts and helpers (never installed).
 *
 * Object graph and ownership (docs/architecture.md):
 *   tq_runtime owns its plugin reports and its backends (one per loaded plugin);
 *   tq_backend owns the plugin's state, the dlopen handle and one memory record per device;
 *   tq_context owns the plugin ctx and keeps intrusive lists of its live tensors and
 *   sequences, so that destroying it with objects still alive can release their device
 *   memory and leave them as inert "orphans" instead of dangling pointers.
 */
#ifndef TQ_INTERNAL_H
#define TQ_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tq/tq.h"
#include "tq/tq_plugin.h"

#define TQ_HIDDEN __attribute__((visibility("hidden")))

/* ------------------------------------------------------------------ logging */

enum { TQ_LOG_ERROR = 0, TQ_LOG_WARN = 1, TQ_LOG_INFO = 2, TQ_LOG_DEBUG = 3 };

/* Writes "tq: <level>: message" to stderr when TQ_LOG (error|warn|info|debug, default
 * warn) allows the level. */
TQ_HIDDEN void tq_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
TQ_HIDDEN bool tq_log_enabled(int level);

/* --------------------------------------------------------------- accounting */

/* Bytes per class of one (backend, device), shared by all contexts of that device.
 * The address of a record is the acct cookie plugins pass to host->mem_add. */
typedef struct tq_mem_record {
    _Atomic uint64_t current[TQ_MEM_CLASS_COUNT];
    _Atomic uint64_t peak[TQ_MEM_CLASS_COUNT];
    _Atomic uint64_t current_total;
    _Atomic uint64_t peak_total;
} tq_mem_record;

TQ_HIDDEN void tq_mem_record_init(tq_mem_record *rec);
TQ_HIDDEN void tq_mem_add(tq_mem_record *rec, tq_mem_class cls, int64_t delta);
TQ_HIDDEN void tq_mem_snapshot(tq_mem_record *rec, tq_memory_stats *out);
TQ_HIDDEN void tq_mem_reset_peak(tq_mem_record *rec);

/* ----------------------------------------------------------------- objects */

struct tq_backend {
    tq_runtime *runtime;
    char *name;
    char *library;              /* absolute, resolved */
    char *manifest;             /* absolute */
    int32_t priority;
    void *dl;                   /* dlopen handle */
    const tq_plugin_desc *desc;
    const tq_backend_ops *ops;
    void *state;                /* from ops->init */
    uint32_t device_count;
    tq_mem_record *mem;         /* device_count records */
    /* Contexts not yet destroyed: a runtime destroyed before them keeps the library
     * mapped (and says so) instead of unmapping code that they still point into. */
    _Atomic uint32_t live_contexts;
    /* device_* callbacks are single-threaded by contract (tq_plugin.h) while the runtime
     * may be queried from several threads: calls into them are serialised here. */
    pthread_mutex_t device_lock;
};

/* A report plus the strings it points to. */
typedef struct tq_report_entry {
    tq_plugin_report report;
    char *manifest_path;
    char *library_path;
    char *name;
    char *message;
} tq_report_entry;

struct tq_runtime {
    tq_report_entry *reports;
    uint32_t report_count, report_cap;
    tq_backend **backends;      /* sorted: priority desc, then name */
    uint32_t backend_count;
    char *search_path;
};

struct tq_context {
    tq_backend *backend;
    uint32_t device;
    void *ctx;                  /* plugin ctx */
    tq_mem_record *mem;
    tq_tensor *tensors;         /* live tensors (and views), intrusive list */
    tq_sequence *sequences;     /* live sequences */
};

struct tq_tensor {
    tq_context *context;        /* NULL once orphaned (its context or parent is gone) */
    tq_tensor *parent;          /* views only */
    uint32_t view_count;        /* live views of this tensor */
    void *buf;                  /* plugin buffer (the root's for views) */
    uint64_t offset;            /* byte offset in buf */
    tq_type type;
    int64_t ne[4];
    uint64_t nb[4];
    uint64_t nbytes;
    tq_mem_class mem_class;
    bool owns_buffer;
    tq_tensor *prev, *next;
};

/* One recorded op and what the runtime copied for it. */
typedef struct tq_seq_op {
    tq_op op;
    void *owned;                /* write payload or rows array, freed on reset */
} tq_seq_op;

struct tq_sequence {
    tq_context *context;        /* NULL once orphaned */
    void *seq;                  /* plugin seq */
    tq_seq_op *ops;
    uint32_t op_count, op_cap;
    uint32_t completed_ops;     /* ops of the last completed submission (0 = none yet) */
    bool in_flight;             /* submitted, not yet waited */
    int64_t stale_op;           /* an op whose tensor memory was freed (-1 = none) */
    tq_sequence *prev, *next;
};

/* ------------------------------------------------------------------ helpers */

TQ_HIDDEN extern const tq_host_api tq_host_api_v1;

/* Checked arithmetic: false on overflow. */
TQ_HIDDEN bool tq_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
TQ_HIDDEN bool tq_add_u64(uint64_t a, uint64_t b, uint64_t *out);

/* A growing string for messages that list things (devices, backends). */
typedef struct tq_sb {
    char *s;
    size_t len, cap;
    bool oom;
} tq_sb;
TQ_HIDDEN void tq_sb_printf(tq_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" after OOM); stays owned by sb. */
TQ_HIDDEN const char *tq_sb_str(const tq_sb *sb);
TQ_HIDDEN void tq_sb_free(tq_sb *sb);

/* A strdup that reports failure as NULL (no GNU extensions needed). */
TQ_HIDDEN char *tq_strdup(const char *s);

/* Fills a tq_tensor_ref for the plugin. */
TQ_HIDDEN void tq_tensor_to_ref(const tq_tensor *t, tq_tensor_ref *out);
/* Validates a tensor argument used with context ctx; what names it in messages. */
TQ_HIDDEN tq_status tq_check_tensor(const tq_context *ctx, const tq_tensor *t, const char *what);

/* Shape/type/range validation of op parameters against ctx; fills op on success
 * (rows are NOT copied: op->rows points at the caller's array). */
TQ_HIDDEN tq_status tq_validate_quantize(const tq_context *ctx, const tq_quantize_params *p, tq_op *op);
TQ_HIDDEN tq_status tq_validate_dequantize(const tq_context *ctx, const tq_dequantize_params *p, tq_op *op);
TQ_HIDDEN tq_status tq_validate_rotate(const tq_context *ctx, const tq_rotate_params *p, tq_op *op);
TQ_HIDDEN tq_status tq_validate_attention(const tq_context *ctx, const tq_attention_params *p, tq_op *op);

/* Context bookkeeping used by tensor.c and sequence.c. */
TQ_HIDDEN void tq_context_link_tensor(tq_context *ctx, tq_tensor *t);
TQ_HIDDEN void tq_context_unlink_tensor(tq_context *ctx, tq_tensor *t);
TQ_HIDDEN void tq_context_link_sequence(tq_context *ctx, tq_sequence *s);
TQ_HIDDEN void tq_context_unlink_sequence(tq_context *ctx, tq_sequence *s);
/* Releases the device side of a tensor / sequence and leaves the object inert. */
TQ_HIDDEN void tq_tensor_orphan(tq_tensor *t);
TQ_HIDDEN void tq_sequence_orphan(tq_sequence *s);
/* Marks every sequence of ctx that recorded an op on buf as unusable until reset: the
 * buffer is being freed, and submitting would hand the plugin freed memory. */
TQ_HIDDEN void tq_context_forget_buffer(tq_context *ctx, const void *buf);

/* Discovery (discover.c): fills rt->reports, rt->backends and rt->search_path. */
TQ_HIDDEN tq_status tq_loader_discover(tq_runtime *rt, const tq_runtime_options *options);
/* Appends a report with copies of the strings; false on OOM. */
TQ_HIDDEN bool tq_runtime_add_report(tq_runtime *rt, const char *manifest_path,
                                     const char *library_path, const char *name,
                                     int32_t priority, uint32_t abi_major, uint32_t abi_minor,
                                     bool loaded, const char *message);
/* Loading one plugin (loader.c). */
TQ_HIDDEN tq_status tq_backend_load(tq_runtime *rt, const char *name, const char *library,
                                    const char *manifest, int32_t priority,
                                    uint32_t *out_abi_major, uint32_t *out_abi_minor,
                                    tq_backend **out_backend);
TQ_HIDDEN void tq_backend_unload(tq_backend *b);

#endif /* TQ_INTERNAL_H */
