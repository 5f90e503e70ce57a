/*
 * tqrun.h: the small shared layer of tqrun's subcommands: option parsing, runtime and
 * backend selection, deterministic data, tables, results JSON and run identity.
 *
 * tqrun uses only the public API (tq.h, tq_ref.h); it is the first client of libtq and
 * should stay a readable example of it.
 */
#ifndef TQRUN_TQRUN_H
#define TQRUN_TQRUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "tq/tq.h"
#include "tq/tq_ref.h"

/* Exit codes, documented in docs/tqrun.md. */
enum {
    TR_EXIT_OK = 0,
    TR_EXIT_FAIL = 1,    /* a check or a limit failed */
    TR_EXIT_USAGE = 2,   /* bad command line */
    TR_EXIT_ENV = 3      /* cannot run: backend not loaded, no ref, runtime error */
};

/* ------------------------------------------------------------ options */

/* Options every subcommand accepts. */
typedef struct tr_common {
    const char *backends;       /* --backend a,b */
    const char *device;         /* --device QUERY */
    const char *options;        /* --options "variant=..." for tq_context_create */
    const char *json_path;      /* --json FILE */
    const char *plugin_path;    /* --plugin-path DIRS */
    bool no_default_plugins;    /* --no-default-plugins: only --plugin-path is searched */
    uint64_t seed;              /* --seed */
    bool seed_set;
    int verbose;                /* -v */
} tr_common;

typedef struct tr_optspec {
    const char *name;    /* long name without "--" */
    char short_name;     /* 0 if none */
    bool has_arg;
    int id;              /* > 0, returned by tr_opt_next */
} tr_optspec;

typedef struct tr_parser {
    int argc;
    char **argv;
    int index;
    const char *cmd;     /* subcommand name, for messages */
} tr_parser;

enum { TR_OPT_END = 0, TR_OPT_ERROR = -1, TR_OPT_HELP = -2 };

void tr_parser_init(tr_parser *p, const char *cmd, int argc, char **argv);
/* Returns the id of the next option of spec (or of the common set, which it stores in
 * common itself and skips), TR_OPT_END, TR_OPT_HELP for -h/--help, or TR_OPT_ERROR after
 * printing a message. */
int tr_opt_next(tr_parser *p, const tr_optspec *spec, tr_common *common, const char **out_arg);
/* Usage error: prints "tqrun CMD: message" and a hint to --help; returns TR_EXIT_USAGE. */
int tr_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parsers that print a usage error and return false on bad input. */
bool tr_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
bool tr_parse_i64_list(const char *cmd, const char *opt, const char *s, int64_t *out,
                       int max, int *out_n);
bool tr_parse_type_list(const char *cmd, const char *opt, const char *s, tq_type *out,
                        int max, int *out_n);
/* "q8_0/turbo4,turbo3" -> pairs (K, V); a single type means K = V. */
bool tr_parse_pair_list(const char *cmd, const char *opt, const char *s, tq_type *out_k,
                        tq_type *out_v, int max, int *out_n);
/* "32/8" -> 32, 8; "32" -> 32, 32. */
bool tr_parse_heads(const char *cmd, const char *opt, const char *s, int64_t *out_h,
                    int64_t *out_kvh);

/* ------------------------------------------------------------ runtime */

typedef struct tr_target {
    tq_backend *backend;
    uint32_t device;
    tq_device_info info;
    char note[160];      /* how the device was chosen */
    char options[256];   /* --options given to tq_context_create ("" = defaults); it
                          * changes what is measured, so records carry it as "mode" */
} tr_target;

/* Creates the runtime with --plugin-path; prints the error and returns false on failure. */
bool tr_runtime_open(const tr_common *c, tq_runtime **out);
/* Resolves --backend (or all loaded backends, without ref unless include_ref) and
 * --device into targets. Prints an error naming what is loaded and why a requested
 * backend did not load; returns false then. *out must be freed with free(). */
bool tr_targets_select(tq_runtime *rt, const tr_common *c, bool include_ref,
                       tr_target **out, int *out_n);
/* Finds `ref` (device 0) or prints why it is missing. */
bool tr_ref_find(tq_runtime *rt, tr_target *out);
/* Prints a status with a prefix and frees it; returns true if st was an error. */
bool tr_report(const char *prefix, tq_status st);

/* ------------------------------------------------------------ data */

typedef struct tr_rng { uint64_t s[4]; } tr_rng;
void   tr_rng_seed(tr_rng *r, uint64_t seed);
uint64_t tr_rng_next(tr_rng *r);
double tr_rng_uniform(tr_rng *r);          /* [0, 1) */
float  tr_rng_gauss(tr_rng *r);            /* N(0, 1) */
void   tr_fill_gauss(tr_rng *r, float *x, int64_t n, float sigma);
uint64_t tr_hash_str(const char *s);       /* FNV-1a: per-case seeds independent of order */
uint64_t tr_now_ns(void);

/* ------------------------------------------------------------ formatting, tables */

const char *tr_fmt_bytes(uint64_t bytes, char *buf, size_t size);  /* "768.0 MiB" */
/* The bytes a run may plan to allocate on a device: 90% of its free memory (or of its total
 * where free is unknown), since the device is shared with everything else; 0 if unknown. */
uint64_t tr_device_room(const tq_device_info *info);
const char *tr_fmt_ns(double ns, char *buf, size_t size);          /* "12.3 us" */

typedef struct tr_table tr_table;
tr_table *tr_table_new(int ncols, const char *const *headers);
void tr_table_row(tr_table *t, const char *const *cells);  /* copies cells */
void tr_table_print(const tr_table *t, FILE *f);
int  tr_table_rows(const tr_table *t);
void tr_table_free(tr_table *t);

/* Progress line on stderr: \r updates on a tty, plain lines otherwise (rate-limited). */
void tr_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tr_progress_done(void);

/* ------------------------------------------------------------ results JSON */

#define TR_SCHEMA "tq-results"
#define TR_SCHEMA_VERSION "1.3"

/* A results document: header (schema, tool, commit, dirty, build, host) + records[]. */
cJSON *tr_json_doc_new(const char *command);
cJSON *tr_json_records(cJSON *doc);
/* A record with backend/device identity filled from target (NULL for host-only). */
cJSON *tr_json_record_new(cJSON *doc, const tr_target *t, const char *variant, const char *op);
void tr_json_add_memory(cJSON *rec, const tq_memory_stats *m);
void tr_json_add_check(cJSON *rec, const char *metric, double value, double limit, bool pass);
/* For --json -: moves everything else printed on stdout to stderr. */
void tr_json_claim_stdout(void);
/* Writes doc to path ("-" = stdout); prints an error and returns false on failure. */
bool tr_json_write(const cJSON *doc, const char *path);

/* ------------------------------------------------------------ identity */

const char *tr_version(void);             /* "0.1.0" */
const char *tr_build_commit(void);        /* commit the binary was built from, or "unknown" */
bool tr_build_dirty(void);                /* dirty at build time */
/* Dirty now: the source checkout (if present) differs from the commit built. */
bool tr_source_dirty(bool *out_known);
const char *tr_source_head(void);         /* HEAD of the source checkout now, or "" */
void tr_ident_build(cJSON *build);        /* type, flags, sanitize, compiler, describe */

/* ------------------------------------------------------------ check engine */

typedef struct tr_check_opts {
    const tq_type *types;  /* types to check (quantize/dequantize, pairs filtered by) */
    int n_types;
    bool full;
    bool failures_only;
    uint64_t seed;
    int verbose;           /* -v: print the first differences of failing quantize cases */
} tr_check_opts;

typedef struct tr_check_summary {
    int total, passed, failed, skipped;
    char variant[64];      /* variant of the last op run on the target */
} tr_check_summary;

/* Runs the check set on one target against ref; adds rows to table and records to doc
 * (doc may be NULL). Returns false only if it could not run at all (message printed). */
bool tr_check_target(const tr_target *t, const char *ctx_options, const tr_target *ref,
                     const tr_check_opts *o, tr_table *table, cJSON *doc,
                     tr_check_summary *out);

/* ------------------------------------------------------------ bench engine */

/* bench: a case whose data, times the buffer sets it cycles over, is smaller than this may
 * be served from the device's caches between repeats (an H100's L2 is 50 MB, a server
 * CPU's L3 32 MB or more); tqrun bench says so once per run. */
#define TR_BENCH_CACHE_BYTES (128ull << 20)

typedef struct tr_bench_case {
    int op;                 /* 0 attention, 1 quantize */
    tq_type type_k, type_v; /* quantize: type_k is the destination type */
    int64_t n_ctx, n_head, n_kv_head, d, n_q, n_seq;
    int repeats, warmup, rotate_buffers;
    int warmup_ms;          /* untimed submissions go on until this much wall time passed */
    bool context_per_case;  /* the case ran in a context of its own (recorded in JSON) */
} tr_bench_case;

typedef struct tr_bench_result {
    char variant[64];
    uint64_t min_ns, median_ns, median_host_ns;
    uint64_t bytes;
    double gbps, gflops;
    uint64_t *samples_ns;    /* repeats entries; owned by the caller after return */
    uint64_t *samples_host_ns;
    int n_samples;
    int warmup_runs;         /* untimed submissions made (>= warmup) */
    uint64_t warmup_ns;      /* their wall time */
    double drift;            /* median of the last third of samples / first third - 1 (0: < 6) */
    tq_memory_stats memory;
} tr_bench_result;

/* Default minimum warm-up wall time per case (tqrun bench --warmup-ms, the default run). */
#define TR_BENCH_WARMUP_MS 200

/* |drift| above this gets a warning: the device's speed changed during the timed repeats. */
#define TR_BENCH_DRIFT_WARN 0.10

/* Runs one case on ctx. The caller frees result->samples_*. */
tq_status tr_bench_run(tq_context *ctx, const tr_bench_case *c, uint64_t seed,
                       tr_bench_result *out);
void tr_bench_case_types(const tr_bench_case *c, char *buf, size_t size);
void tr_bench_case_shape(const tr_bench_case *c, char *buf, size_t size);
cJSON *tr_bench_json(cJSON *doc, const tr_target *t, const tr_bench_case *c,
                     const tr_bench_result *r);

/* DRM render nodes: one row per node (node, bus, pci id, kernel driver) into table and
 * one object into arr (may be NULL). Returns the count, or -errno if libdrm failed. */
int tr_drm_list(tr_table *table, cJSON *arr);

/* ------------------------------------------------------------ subcommands */

int tr_cmd_default(int argc, char **argv);
int tr_cmd_list(int argc, char **argv);
int tr_cmd_check(int argc, char **argv);
int tr_cmd_bench(int argc, char **argv);
int tr_cmd_quality(int argc, char **argv);
int tr_cmd_memory(int argc, char **argv);

#endif /* TQRUN_TQRUN_H */
