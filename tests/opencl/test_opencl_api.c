/*
 * test_opencl_api.c: the OpenCL backend through libtq's public API, as a host program
 * uses it: discovery, device choice by name and id, a KV cache quantized on the device,
 * attention against tq_ref_attention on the same cache, timings with the kernel variant,
 * memory accounting (scratch comes and goes with the sequence), and a broken OpenCL
 * install (no loader; run again under ctest with no platform) that leaves the other
 * backends loaded.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq/tq.h"
#include "tq/tq_ref.h"

#define OK(expr) \
    do { \
        tq_status s_ = (expr); \
        if (s_) { \
            fprintf(stderr, "%s: %s\n", #expr, tq_status_message(s_)); \
            tq_status_free(s_); \
            fail(); \
        } \
    } while (0)

static tq_runtime *open_runtime(void)
{
    tq_runtime_options o = { .struct_size = sizeof o };
    tq_runtime *rt = NULL;
    OK(tq_runtime_create(&o, &rt));
    return rt;
}

static const tq_plugin_report *report_of(tq_runtime *rt, const char *name)
{
    for (uint32_t i = 0; i < tq_runtime_plugin_count(rt); i++) {
        const tq_plugin_report *r = tq_runtime_plugin_report(rt, i);
        if (strcmp(r->name, name) == 0)
            return r;
    }
    return NULL;
}

/* Without a usable OpenCL install the plugin is reported as not loaded, with the reason,
 * and every other plugin is unaffected. */
static void expect_opencl_not_loaded(tq_runtime *rt, const char *needle)
{
    const tq_plugin_report *r = report_of(rt, "opencl");
    assert_non_null(r);
    assert_false(r->loaded);
    if (!strstr(r->message, needle))
        fprintf(stderr, "opencl report: %s\n", r->message);
    assert_non_null(strstr(r->message, needle));
    tq_backend *b = NULL;
    tq_status s = tq_runtime_backend_find(rt, "opencl", &b);
    assert_non_null(s);
    tq_status_free(s);
    for (uint32_t i = 0; i < tq_runtime_plugin_count(rt); i++) {
        const tq_plugin_report *o = tq_runtime_plugin_report(rt, i);
        if (strcmp(o->name, "opencl") != 0 && strcmp(o->name, "ref") == 0)
            assert_true(o->loaded);
    }
}

static void test_broken_install_leaves_other_backends_loaded(void **state)
{
    (void)state;
    const char *vendors = getenv("OCL_ICD_VENDORS");
    bool no_platform = vendors && vendors[0];
    if (!no_platform)
        setenv("TQ_OPENCL_LOADER", "/nonexistent/libOpenCL.so.1", 1);
    tq_runtime *rt = open_runtime();
    expect_opencl_not_loaded(rt, no_platform ? "found no OpenCL platform"
                                             : "/nonexistent/libOpenCL.so.1");
    tq_runtime_destroy(rt);
    unsetenv("TQ_OPENCL_LOADER");
}

/* The device used for the rest: PoCL's CPU device in CI, asked for by name (its score is
 * negative, so the automatic choice must not pick it). */
static tq_backend *opencl_device(tq_runtime *rt, uint32_t *dev)
{
    tq_backend *b = NULL;
    OK(tq_runtime_backend_find(rt, "opencl", &b));
    const char *want = getenv("TQ_TEST_OPENCL_DEVICE");
    OK(tq_backend_device_find(b, want && want[0] ? want : "pthread", dev));
    return b;
}

static void test_device_choice_by_name_and_id(void **state)
{
    (void)state;
    if (getenv("OCL_ICD_VENDORS"))
        skip();
    tq_runtime *rt = open_runtime();
    uint32_t dev = 0;
    tq_backend *b = opencl_device(rt, &dev);
    tq_device_info info = { .struct_size = sizeof info };
    OK(tq_backend_device_info(b, dev, &info));
    uint32_t by_id = UINT32_MAX;
    OK(tq_backend_device_find(b, info.id, &by_id));
    assert_int_equal(by_id, dev);
    if (info.type == TQ_DEVICE_CPU) {
        assert_true(info.score < 0);
        uint32_t any = UINT32_MAX;
        tq_status s = tq_backend_device_find(b, NULL, &any);
        /* a CPU OpenCL device is never the automatic choice */
        if (!s) {
            tq_device_info ai = { .struct_size = sizeof ai };
            OK(tq_backend_device_info(b, any, &ai));
            assert_true(ai.score >= 0);
        }
        tq_status_free(s);
    }
    tq_runtime_destroy(rt);
}

static void test_cache_quantize_and_attention_match_the_reference(void **state)
{
    (void)state;
    if (getenv("OCL_ICD_VENDORS"))
        skip();
    tq_runtime *rt = open_runtime();
    uint32_t dev = 0;
    tq_backend *b = opencl_device(rt, &dev);
    tq_context *ctx = NULL;
    OK(tq_context_create(b, dev, NULL, &ctx));

    const int64_t d = 128, n_head = 8, n_kv_head = 2, n_tok = 29;
    tq_kv_cache_desc desc = { .n_layer = 1, .n_kv_head = n_kv_head, .head_dim = d, .n_ctx = 64,
                              .n_seq = 1, .type_k = TQ_TYPE_Q8_0, .type_v = TQ_TYPE_TURBO3 };
    tq_kv_cache_size predicted;
    OK(tq_kv_cache_predict(&desc, &predicted));
    tq_kv_cache *cache = NULL;
    OK(tq_kv_cache_create(ctx, &desc, &cache));
    tq_memory_stats mem;
    OK(tq_context_memory(ctx, &mem));
    assert_int_equal(mem.current[TQ_MEM_KV], predicted.total_bytes);
    tq_tensor *k = NULL, *v = NULL;
    OK(tq_kv_cache_layer(cache, 0, &k, &v));

    /* K and V rows for n_tok tokens, then one query token. */
    float *kx = malloc(sizeof(float) * (size_t)(d * n_kv_head * n_tok));
    float *vx = malloc(sizeof(float) * (size_t)(d * n_kv_head * n_tok));
    float *qx = malloc(sizeof(float) * (size_t)(d * n_head));
    uint64_t seed = 3;
    for (int64_t i = 0; i < d * n_kv_head * n_tok; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        kx[i] = (float)((int64_t)(seed >> 33) % 2001 - 1000) / 700.0f;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        vx[i] = (float)((int64_t)(seed >> 33) % 2001 - 1000) / 500.0f;
    }
    for (int64_t i = 0; i < d * n_head; i++)
        qx[i] = sinf((float)i * 0.37f);
    int64_t rows[29];
    for (int64_t t = 0; t < n_tok; t++)
        rows[t] = t;
    const int64_t src_ne[4] = { d, n_kv_head, n_tok, 1 };
    const int64_t q_ne[4] = { d, n_head, 1, 1 };
    tq_tensor *ksrc = NULL, *vsrc = NULL, *q = NULL, *out = NULL;
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, src_ne, TQ_MEM_IO, &ksrc));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, src_ne, TQ_MEM_IO, &vsrc));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &q));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &out));

    tq_sequence *seq = NULL;
    OK(tq_sequence_create(ctx, &seq));
    OK(tq_sequence_record_write(seq, ksrc, 0, kx, tq_tensor_nbytes(ksrc)));
    OK(tq_sequence_record_write(seq, vsrc, 0, vx, tq_tensor_nbytes(vsrc)));
    OK(tq_sequence_record_write(seq, q, 0, qx, tq_tensor_nbytes(q)));
    tq_quantize_params qk = { .src = ksrc, .dst = k, .rows = rows, .n_rows = n_tok };
    tq_quantize_params qv = { .src = vsrc, .dst = v, .rows = rows, .n_rows = n_tok };
    OK(tq_sequence_record_quantize(seq, &qk));
    OK(tq_sequence_record_quantize(seq, &qv));
    tq_attention_params ap = { .q = q, .k = k, .v = v, .out = out, .n_kv = n_tok };
    OK(tq_sequence_record_attention(seq, &ap));
    float *got = malloc(sizeof(float) * (size_t)(d * n_head));
    OK(tq_sequence_record_read(seq, out, 0, got, tq_tensor_nbytes(out)));
    OK(tq_sequence_submit(seq));
    OK(tq_sequence_wait(seq, UINT64_MAX));

    tq_op_timing tm;
    OK(tq_sequence_timing(seq, 5, &tm));
    assert_string_equal(tm.op, "attention");
    assert_non_null(strstr(tm.variant, "split-k-coop/wg"));
    assert_true(tm.device_ns > 0);
    OK(tq_sequence_timing(seq, 4, &tm));
    assert_string_equal(tm.op, "quantize");
    assert_non_null(strstr(tm.variant, "turbo/wg"));
    OK(tq_context_memory(ctx, &mem));
    assert_true(mem.peak[TQ_MEM_SCRATCH] > 0);

    /* The reference on the cache the device wrote. */
    const uint64_t kbytes = tq_tensor_nbytes(k), vbytes = tq_tensor_nbytes(v);
    uint8_t *kc = malloc(kbytes), *vc = malloc(vbytes);
    OK(tq_tensor_read(k, 0, kc, kbytes));
    OK(tq_tensor_read(v, 0, vc, vbytes));
    float *want = malloc(sizeof(float) * (size_t)(d * n_head));
    tq_ref_attention_args ra = {
        .q = qx, .k = kc, .v = vc, .out = want, .type_k = desc.type_k, .type_v = desc.type_v,
        .d = d, .n_head = n_head, .n_q = 1, .n_seq = 1, .n_kv_head = n_kv_head,
        .n_ctx = desc.n_ctx, .n_kv = n_tok, .scale = 1.0f / sqrtf((float)d),
    };
    OK(tq_ref_attention(&ra));
    double num = 0, den = 0;
    for (int64_t i = 0; i < d * n_head; i++) {
        assert_true(isfinite(got[i]));
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    assert_true(num / den <= 1e-6);
    /* and the device's quantize matches the reference's for a row */
    uint8_t *row = malloc(tq_tensor_row_bytes(k));
    OK(tq_ref_quantize_row(TQ_TYPE_Q8_0, kx + d * 1, d, row));   /* token 0, head 1 */
    assert_memory_equal(row, kc + (uint64_t)desc.n_ctx * tq_tensor_row_bytes(k),
                        tq_tensor_row_bytes(k));

    tq_sequence_destroy(seq);
    OK(tq_context_memory(ctx, &mem));
    assert_int_equal(mem.current[TQ_MEM_SCRATCH], 0);
    assert_int_equal(mem.current[TQ_MEM_STAGING], 0);

    free(kx);
    free(vx);
    free(qx);
    free(got);
    free(want);
    free(kc);
    free(vc);
    free(row);
    tq_tensor_destroy(ksrc);
    tq_tensor_destroy(vsrc);
    tq_tensor_destroy(q);
    tq_tensor_destroy(out);
    tq_kv_cache_destroy(cache);
    tq_context_destroy(ctx);
    tq_runtime_destroy(rt);
}

static void test_forced_variant_the_device_cannot_run_is_an_error(void **state)
{
    (void)state;
    if (getenv("OCL_ICD_VENDORS"))
        skip();
    tq_runtime *rt = open_runtime();
    uint32_t dev = 0;
    tq_backend *b = opencl_device(rt, &dev);
    tq_context *ctx = NULL;
    tq_status s = tq_context_create(b, dev, "variant=split-k/wg1048576", &ctx);
    assert_non_null(s);
    assert_int_equal(tq_status_code(s), TQ_CODE_UNSUPPORTED);
    tq_status_free(s);
    assert_null(ctx);
    OK(tq_context_create(b, dev, "variant=split-k/wg64", &ctx));
    tq_context_destroy(ctx);
    tq_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_install_leaves_other_backends_loaded),
        cmocka_unit_test(test_device_choice_by_name_and_id),
        cmocka_unit_test(test_cache_quantize_and_attention_match_the_reference),
        cmocka_unit_test(test_forced_variant_the_device_cannot_run_is_an_error),
    };
    return cmocka_run_group_tests_name("opencl_api", tests, NULL, NULL);
}
