/*
 * test_memory.c: the KV-cache prediction equals what the runtime accounts, accounting
 * returns to zero, peaks are tracked and reset, and concurrent contexts of one device
 * account correctly.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test_util.h"

static void expect_predicted_equals_accounted(tq_context *c, tq_kv_cache_desc d)
{
    tq_kv_cache_size sz;
    RT_OK(tq_kv_cache_predict(&d, &sz));
    uint64_t k = tq_type_row_bytes(d.type_k, d.head_dim) * d.n_ctx * d.n_kv_head * d.n_seq;
    uint64_t v = tq_type_row_bytes(d.type_v, d.head_dim) * d.n_ctx * d.n_kv_head * d.n_seq;
    assert_int_equal(sz.k_bytes_per_layer, k);
    assert_int_equal(sz.v_bytes_per_layer, v);
    assert_int_equal(sz.total_bytes, (uint64_t)d.n_layer * (k + v));

    tq_memory_stats before, after;
    RT_OK(tq_context_memory(c, &before));
    tq_kv_cache *kv = NULL;
    RT_OK(tq_kv_cache_create(c, &d, &kv));
    RT_OK(tq_context_memory(c, &after));
    assert_int_equal(after.current[TQ_MEM_KV] - before.current[TQ_MEM_KV], sz.total_bytes);
    assert_int_equal(after.current_total - before.current_total, sz.total_bytes);

    for (uint32_t l = 0; l < d.n_layer; l++) {
        tq_tensor *tk = NULL, *tv = NULL;
        RT_OK(tq_kv_cache_layer(kv, l, &tk, &tv));
        int64_t ne[4];
        tq_tensor_shape(tk, ne);
        assert_int_equal(ne[0], d.head_dim);
        assert_int_equal(ne[1], d.n_ctx);
        assert_int_equal(ne[2], d.n_kv_head);
        assert_int_equal(ne[3], d.n_seq);
        assert_int_equal(tq_tensor_type(tk), d.type_k);
        assert_int_equal(tq_tensor_type(tv), d.type_v);
        assert_int_equal(tq_tensor_nbytes(tv), v);
    }
    tq_kv_cache_destroy(kv);
    RT_OK(tq_context_memory(c, &after));
    assert_int_equal(after.current[TQ_MEM_KV], before.current[TQ_MEM_KV]);
}

static void test_kv_predict_equals_accounted(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref);
    const tq_kv_cache_desc shapes[] = {
        /* the 27B shape's layout at a small n_ctx: q8_0-K/turbo3-V and turbo3/turbo3 */
        { 48, 8, 128, 64, 1, TQ_TYPE_Q8_0, TQ_TYPE_TURBO3 },
        { 48, 8, 128, 64, 1, TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 },
        { 2, 4, 64, 100, 2, TQ_TYPE_TURBO2, TQ_TYPE_TURBO4 },   /* d=64 padded to 128 */
        { 3, 2, 256, 33, 1, TQ_TYPE_F16, TQ_TYPE_Q4_0 },
        { 1, 1, 96, 7, 3, TQ_TYPE_F32, TQ_TYPE_Q8_0 },
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        expect_predicted_equals_accounted(c, shapes[i]);
    tq_memory_stats m;
    RT_OK(tq_context_memory(c, &m));
    assert_int_equal(m.current_total, 0);
    for (int i = 0; i < TQ_MEM_CLASS_COUNT; i++)
        assert_int_equal(m.current[i], 0);
    tq_context_destroy(c);
    tq_runtime_destroy(rt);
}

static void test_kv_predict_27b_full_context(void **state)
{
    /* 48 layers, 8 KV heads, d = 128, n_ctx = 131072: predicted without any device. */
    tq_kv_cache_desc d = { 48, 8, 128, 131072, 1, TQ_TYPE_Q8_0, TQ_TYPE_TURBO3 };
    tq_kv_cache_size sz;
    RT_OK(tq_kv_cache_predict(&d, &sz));
    assert_int_equal(sz.k_bytes_per_layer, 136ull * 131072 * 8);   /* 4 q8_0 blocks of 34 */
    assert_int_equal(sz.v_bytes_per_layer, 50ull * 131072 * 8);    /* 1 turbo3 block of 50 */
    assert_int_equal(sz.total_bytes, 9361686528ull);
    d.type_k = TQ_TYPE_TURBO3;
    RT_OK(tq_kv_cache_predict(&d, &sz));
    assert_int_equal(sz.total_bytes, 5033164800ull);
    d.type_k = d.type_v = TQ_TYPE_F16;
    RT_OK(tq_kv_cache_predict(&d, &sz));
    assert_int_equal(sz.total_bytes, 48ull * 2 * 256 * 131072 * 8);
}

static void test_peak_tracking_and_reset(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref), *c2 = rt_ref_context(ref);
    tq_context_memory_reset_peak(c);
    tq_tensor *a = rt_tensor(c, TQ_TYPE_F32, 256, 4, 1, 1, TQ_MEM_IO);         /* 4096 */
    tq_tensor *b = rt_tensor(c2, TQ_TYPE_F32, 128, 2, 1, 1, TQ_MEM_SCRATCH);   /* 1024 */
    tq_memory_stats m;
    RT_OK(tq_context_memory(c, &m));   /* shared by both contexts of the device */
    assert_int_equal(m.current[TQ_MEM_IO], 4096);
    assert_int_equal(m.current[TQ_MEM_SCRATCH], 1024);
    assert_int_equal(m.current_total, 5120);
    tq_tensor_destroy(a);
    tq_tensor *v = NULL;
    const int64_t ne[4] = { 128, 1, 1, 1 };
    RT_OK(tq_tensor_view_create(b, 0, TQ_TYPE_F32, ne, &v));   /* views account nothing */
    RT_OK(tq_context_memory(c2, &m));
    assert_int_equal(m.current_total, 1024);
    assert_int_equal(m.peak_total, 5120);
    assert_int_equal(m.peak[TQ_MEM_IO], 4096);
    tq_context_memory_reset_peak(c2);
    RT_OK(tq_context_memory(c, &m));
    assert_int_equal(m.peak_total, 1024);
    assert_int_equal(m.peak[TQ_MEM_IO], 0);
    tq_tensor_destroy(v);
    tq_tensor_destroy(b);
    RT_OK(tq_context_memory(c, &m));
    assert_int_equal(m.current_total, 0);
    assert_int_equal(m.peak_total, 1024);
    tq_context_destroy(c);
    tq_context_destroy(c2);
    tq_runtime_destroy(rt);
}

/* The ref plugin's own scratch (f16 -> f32 row for quantize) goes through mem_add. */
static void test_plugin_scratch_is_accounted(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref);
    tq_tensor *src = rt_tensor(c, TQ_TYPE_F16, 256, 1, 1, 1, TQ_MEM_IO);
    tq_tensor *dst = rt_tensor(c, TQ_TYPE_TURBO3, 256, 4, 1, 1, TQ_MEM_KV);
    tq_sequence *s = NULL;
    RT_OK(tq_sequence_create(c, &s));
    int64_t row = 2;
    tq_quantize_params p = { src, dst, &row, 1 };
    RT_OK(tq_sequence_record_quantize(s, &p));
    tq_memory_stats m;
    RT_OK(tq_context_memory(c, &m));
    assert_int_equal(m.current[TQ_MEM_SCRATCH], 256 * sizeof(float));
    RT_OK(tq_sequence_submit(s));
    RT_OK(tq_sequence_wait(s, UINT64_MAX));
    RT_OK(tq_sequence_reset(s));
    RT_OK(tq_context_memory(c, &m));
    assert_int_equal(m.current[TQ_MEM_SCRATCH], 0);
    assert_int_equal(m.peak[TQ_MEM_SCRATCH], 256 * sizeof(float));
    tq_sequence_destroy(s);
    tq_tensor_destroy(src);
    tq_tensor_destroy(dst);
    tq_context_destroy(c);
    tq_runtime_destroy(rt);
}

typedef struct worker {
    tq_backend *ref;
    int iterations;
} worker;

static void *churn(void *arg)
{
    worker *w = arg;
    tq_context *c = NULL;
    if (tq_context_create(w->ref, 0, NULL, &c))
        return (void *)1;
    const int64_t ne[4] = { 128, 4, 1, 1 };
    for (int i = 0; i < w->iterations; i++) {
        tq_tensor *t = NULL;
        tq_status st = tq_tensor_create(c, TQ_TYPE_F32, ne, (tq_mem_class)(i % TQ_MEM_CLASS_COUNT), &t);
        if (st) {
            tq_status_free(st);
            tq_context_destroy(c);
            return (void *)1;
        }
        tq_tensor_destroy(t);
    }
    tq_context_destroy(c);
    return NULL;
}

static void test_accounting_is_thread_safe(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref);
    enum { N = 4 };
    pthread_t th[N];
    worker w = { ref, 2000 };
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, churn, &w), 0);
    for (int i = 0; i < N; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    tq_memory_stats m;
    RT_OK(tq_context_memory(c, &m));
    assert_int_equal(m.current_total, 0);
    assert_true(m.peak_total >= 2048 && m.peak_total <= N * 2048);
    tq_context_destroy(c);
    tq_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_predict_equals_accounted),
        cmocka_unit_test(test_kv_predict_27b_full_context),
        cmocka_unit_test(test_peak_tracking_and_reset),
        cmocka_unit_test(test_plugin_scratch_is_accounted),
        cmocka_unit_test(test_accounting_is_thread_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
