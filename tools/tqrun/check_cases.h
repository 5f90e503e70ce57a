/*
 * check_cases.h: the case list of `tqrun check` (check_cases.c) and one case's runner
 * (check.c).
 */
#ifndef TQRUN_CHECK_CASES_H
#define TQRUN_CHECK_CASES_H

#include "check.h"

typedef struct ck_case {
    int op;
    tq_type type_src;          /* quantize source: F32 or F16 */
    tq_type type;              /* quantize destination, dequantize source, rotate F32 */
    tq_type type_k, type_v;    /* attention */
    int64_t d;                 /* row length (rotate: ne0) */
    int64_t n_kv_head, n_tokens, n_seq;
    int64_t n_rows;            /* dequantize, rotate */
    bool inverse, in_place;
    int64_t n_head, n_q, n_kv, q_pos0;
    bool causal;
    float softcap;
} ck_case;

typedef struct ck_case_list {
    ck_case *v;
    int n, cap;
} ck_case_list;

/* The judgement of one case. */
typedef struct ck_verdict {
    const char *metric;
    double value, limit;
    bool pass, skipped;
    uint64_t guard_damage, nonfinite, boundary;
    char variant[64];
    char reason[256];       /* skip or error reason */
} ck_verdict;

/* Runs case c on ctx and on ref with inputs derived from seed and the case's name. */
void ck_run_case(tq_context *ctx, tq_context *ref, const ck_case *c, uint64_t seed,
                 ck_verdict *v);

bool ck_cases_build(const tr_check_opts *o, ck_case_list *l);
void ck_cases_free(ck_case_list *l);
const char *ck_op_name(int op);
void ck_case_types(const ck_case *c, char *buf, size_t size);
void ck_case_shape(const ck_case *c, char *buf, size_t size);

#endif /* TQRUN_CHECK_CASES_H */
