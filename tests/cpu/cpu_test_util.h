/*
 * cpu_test_util.h: helpers shared by the CPU backend tests: deterministic random data,
 * host tensors wrapped as tq_tensor_refs, and the comparison rules of the brief
 * (dequantize bit-exact, quantize identical except near decision boundaries, attention
 * NMSE <= 1e-6 against tq_ref_attention).
 */
#ifndef TQ_CPU_TEST_UTIL_H
#define TQ_CPU_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu_ops.h"

typedef struct ct_rng { uint64_t s; } ct_rng;
float ct_gauss(ct_rng *r);
void ct_fill_gauss(ct_rng *r, float *x, int64_t n, float scale);

/* A host tensor: a cpu_buffer plus its ref. */
typedef struct ct_tensor {
    cpu_buffer buf;
    tq_tensor_ref ref;
} ct_tensor;

void ct_tensor_init(ct_tensor *t, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3);
void ct_tensor_free(ct_tensor *t);

/* An executor with its own pool and scratch. */
typedef struct ct_exec {
    cpu_exec ex;
    cpu_scratch scratch;
    int64_t accounted;
} ct_exec;

bool ct_exec_init(ct_exec *e, const char *variant, int threads);
void ct_exec_free(ct_exec *e);

/* Number of index/code differences of one quantized row against the reference, that the
 * comparison rules do NOT allow; 0 = acceptable. x: the f32 source row. */
int ct_quant_row_violations(tq_type type, const float *x, int64_t n, const uint8_t *got,
                            const uint8_t *want);

double ct_nmse(const float *got, const float *want, int64_t n);
bool ct_all_finite(const float *x, int64_t n);

#endif
