/*
 * check.h: internals of `tqrun check`: one op run on one context with guard bytes around
 * its output (check_exec.c), and the comparison rules against ref (check_cmp.c).
 */
#ifndef TQRUN_CHECK_H
#define TQRUN_CHECK_H

#include "tqrun.h"

enum { CK_QUANTIZE, CK_DEQUANTIZE, CK_ROTATE, CK_ATTENTION };

/* Bytes of guard on each side of every op output; the view starts at this offset. */
#define CK_GUARD 256u

typedef struct ck_input {
    tq_type type;
    int64_t ne[4];
    const void *data;     /* host bytes, tq_type_row_bytes(type, ne[0]) * ne[1..3] */
    tq_mem_class cls;
} ck_input;

/* What to run: inputs in[0..n_in) and one guarded output. Input roles:
 * quantize: in[0] = src; dequantize/rotate: in[0] = src (rotate in place: out only);
 * attention: in[0] = q, in[1] = k, in[2] = v. */
typedef struct ck_exec {
    int op;
    ck_input in[3];
    int n_in;
    tq_type out_type;
    int64_t out_ne[4];
    const void *out_init;  /* initial content of the output view (NULL: guard pattern) */
    const int64_t *rows;   /* quantize */
    int64_t n_rows;
    uint32_t flags;        /* dequantize */
    bool inverse;          /* rotate */
    bool in_place;         /* rotate: src == dst (in[0] unused, out_init holds the input) */
    int64_t n_kv, q_pos0;  /* attention */
    float scale, softcap;
    bool causal;
    /* Extra byte offset (a multiple of 4) of the output view and of every input view:
     * views need only be 4-byte aligned, and a kernel that assumes 16 must fail. */
    uint32_t misalign;
} ck_exec;

typedef struct ck_result {
    uint8_t *parent;       /* guard + output view + guard, as read back */
    uint64_t parent_bytes;
    uint64_t view_offset, view_bytes;
    char variant[64];
    uint64_t device_ns;
} ck_result;

uint64_t ck_tensor_bytes(tq_type type, const int64_t ne[4]);
uint8_t  ck_guard_byte(uint64_t i);
/* Runs e on ctx. On UNSUPPORTED from supports(), returns that status (the caller skips). */
tq_status ck_exec_run(tq_context *ctx, const ck_exec *e, ck_result *out);
void ck_result_free(ck_result *r);
/* Bytes of the parent outside the view that no longer hold the guard pattern. */
uint64_t ck_guard_damage(const ck_result *r);
/* Non-finite f32 values in n floats. */
uint64_t ck_count_nonfinite(const float *x, uint64_t n);

/* Quantize comparison of one row (n logical elements of type) against ref's bytes, with
 * the source row x as the op saw it. Counts differences not explained by the boundary
 * rule (bad) and those explained by it (boundary). */
void ck_compare_quant_row(tq_type type, const float *x, int64_t n, const uint8_t *got,
                          const uint8_t *ref, uint64_t *bad, uint64_t *boundary);

/* Print up to max_lines differences of the following comparisons to stderr (0: none). */
void ck_compare_details(int max_lines);

#endif /* TQRUN_CHECK_H */
