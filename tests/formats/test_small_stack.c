/*
 * test_small_stack.c: the reference runs on a thread with a 64 KiB stack (worker
 * threads of host programs often have small stacks; a 64 KB rotation matrix on the
 * stack is a crash seen in other implementations).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_util.h"
#include "tq/tq_ref.h"

#define STACK_BYTES (64 * 1024)
#define D 256
#define N_KV 4096

typedef struct job {
    float *src, *deq, *q, *out;
    uint8_t *row, *k, *v;
    int failures;
} job;

static void *run_reference(void *p)
{
    job *j = p;
    for (int t = 0; t < TQ_TYPE_COUNT; t++) {
        tq_status st = tq_ref_quantize_row((tq_type)t, j->src, D, j->row);
        if (!st)
            st = tq_ref_dequantize_row((tq_type)t, j->row, D, j->deq, true);
        if (st) {
            j->failures++;
            tq_status_free(st);
        }
    }
    static const tq_type pairs[][2] = {
        { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 }, { TQ_TYPE_Q8_0, TQ_TYPE_TURBO4 },
        { TQ_TYPE_F16, TQ_TYPE_F32 },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        tq_ref_attention_args a = {
            .q = j->q, .k = j->k, .v = j->v, .out = j->out,
            .type_k = pairs[i][0], .type_v = pairs[i][1], .d = D, .n_head = 2, .n_q = 1,
            .n_seq = 1, .n_kv_head = 1, .n_ctx = N_KV, .n_kv = N_KV, .scale = 0.0625f,
        };
        tq_status st = tq_ref_attention(&a);
        if (st) {
            j->failures++;
            tq_status_free(st);
        }
    }
    return NULL;
}

static void test_reference_runs_on_a_64k_stack(void **state)
{
    (void)state;
    job j = { 0 };
    test_rng r = test_rng_make(64);
    j.src = malloc(D * sizeof(float));
    j.deq = malloc(D * sizeof(float));
    j.q = malloc(2 * D * sizeof(float));
    j.out = malloc(2 * D * sizeof(float));
    j.row = malloc(D * sizeof(float));
    /* the cache is raw bytes: big enough for any type's rows (f32 is the largest) */
    j.k = calloc((size_t)N_KV * D, sizeof(float));
    j.v = calloc((size_t)N_KV * D, sizeof(float));
    assert_true(j.src && j.deq && j.q && j.out && j.row && j.k && j.v);
    for (int i = 0; i < D; i++)
        j.src[i] = (float)test_rng_gauss(&r);
    for (int i = 0; i < 2 * D; i++)
        j.q[i] = (float)test_rng_gauss(&r);

    pthread_attr_t attr;
    pthread_t th;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, STACK_BYTES), 0);
    assert_int_equal(pthread_create(&th, &attr, run_reference, &j), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
    assert_int_equal(j.failures, 0);

    free(j.src); free(j.deq); free(j.q); free(j.out); free(j.row); free(j.k); free(j.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_runs_on_a_64k_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
