/*
 * test_vulkan_runtime.c: the Vulkan plugin through libtq's public API: discovery,
 * device choice (lavapipe only by name), a KV cache + quantize + attention round trip
 * against the reference, memory accounting, and a missing loader leaving the other
 * backends working.
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

#define OK(expr) do { tq_status s_ = (expr); if (s_) fail_msg("%s: %s", #expr, tq_status_message(s_)); } while (0)

static const tq_plugin_report *find_report(tq_runtime *rt, const char *name)
{
    for (uint32_t i = 0; i < tq_runtime_plugin_count(rt); i++) {
        const tq_plugin_report *r = tq_runtime_plugin_report(rt, i);
        if (strcmp(r->name, name) == 0)
            return r;
    }
    return NULL;
}

static void test_missing_loader_leaves_other_backends(void **state)
{
    (void)state;
    setenv("TQ_VULKAN_LOADER", "/nonexistent/libvulkan.so.1", 1);
    tq_runtime *rt;
    OK(tq_runtime_create(NULL, &rt));
    unsetenv("TQ_VULKAN_LOADER");
    const tq_plugin_report *r = find_report(rt, "vulkan");
    assert_non_null(r);
    assert_false(r->loaded);
    assert_non_null(strstr(r->message, "/nonexistent/libvulkan.so.1"));
    tq_backend *ref;
    OK(tq_runtime_backend_find(rt, "ref", &ref));
    tq_runtime_destroy(rt);
}

static void test_lavapipe_only_by_name_and_round_trip(void **state)
{
    (void)state;
    tq_runtime *rt;
    OK(tq_runtime_create(NULL, &rt));
    tq_backend *vk;
    tq_status s = tq_runtime_backend_find(rt, "vulkan", &vk);
    if (s) {
        const tq_plugin_report *r = find_report(rt, "vulkan");
        fprintf(stderr, "skipping: vulkan not loaded: %s\n", r ? r->message : tq_status_message(s));
        tq_status_free(s);
        tq_runtime_destroy(rt);
        skip();
    }
    uint32_t dev;
    s = tq_backend_device_find(vk, "llvmpipe", &dev);
    if (s) {
        tq_status_free(s);
        tq_runtime_destroy(rt);
        skip();
    }
    tq_device_info info = { .struct_size = sizeof(info) };
    OK(tq_backend_device_info(vk, dev, &info));
    assert_true(info.score < 0);
    /* automatic choice never picks a CPU-type device */
    uint32_t autodev;
    s = tq_backend_device_find(vk, NULL, &autodev);
    if (!s) {
        tq_device_info ai = { .struct_size = sizeof(ai) };
        OK(tq_backend_device_info(vk, autodev, &ai));
        assert_true(ai.score >= 0);
    }
    tq_status_free(s);

    tq_context *ctx;
    OK(tq_context_create(vk, dev, NULL, &ctx));
    tq_kv_cache_desc desc = { .n_layer = 1, .n_kv_head = 2, .head_dim = 128, .n_ctx = 256,
                              .n_seq = 1, .type_k = TQ_TYPE_Q8_0, .type_v = TQ_TYPE_TURBO3 };
    tq_kv_cache_size pred;
    OK(tq_kv_cache_predict(&desc, &pred));
    tq_kv_cache *cache;
    OK(tq_kv_cache_create(ctx, &desc, &cache));
    tq_memory_stats ms;
    OK(tq_context_memory(ctx, &ms));
    assert_int_equal(ms.current[TQ_MEM_KV], pred.total_bytes);
    tq_tensor *k, *v;
    OK(tq_kv_cache_layer(cache, 0, &k, &v));

    const int64_t d = 128, nkh = 2, nh = 8, ntok = 100;
    float *kf = malloc(d * nkh * ntok * 4), *vf = malloc(d * nkh * ntok * 4), q[128 * 8], out[128 * 8];
    for (int64_t i = 0; i < d * nkh * ntok; i++) {
        kf[i] = sinf((float)i * 0.37f);
        vf[i] = cosf((float)i * 0.11f);
    }
    for (int i = 0; i < 128 * 8; i++)
        q[i] = sinf((float)i * 0.05f);
    int64_t ne_src[4] = { d, nkh, ntok, 1 }, ne_q[4] = { d, nh, 1, 1 };
    tq_tensor *ks, *vs, *tq_, *to;
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, ne_src, TQ_MEM_IO, &ks));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, ne_src, TQ_MEM_IO, &vs));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, ne_q, TQ_MEM_IO, &tq_));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, ne_q, TQ_MEM_IO, &to));
    int64_t rows[100];
    for (int i = 0; i < 100; i++)
        rows[i] = i;
    tq_sequence *seq;
    OK(tq_sequence_create(ctx, &seq));
    OK(tq_sequence_record_write(seq, ks, 0, kf, d * nkh * ntok * 4));
    OK(tq_sequence_record_write(seq, vs, 0, vf, d * nkh * ntok * 4));
    OK(tq_sequence_record_write(seq, tq_, 0, q, sizeof(q)));
    tq_quantize_params qk = { ks, k, rows, 100 }, qv = { vs, v, rows, 100 };
    OK(tq_sequence_record_quantize(seq, &qk));
    OK(tq_sequence_record_quantize(seq, &qv));
    tq_attention_params ap = { .q = tq_, .k = k, .v = v, .out = to, .n_kv = 100 };
    OK(tq_sequence_record_attention(seq, &ap));
    OK(tq_sequence_record_read(seq, to, 0, out, sizeof(out)));
    OK(tq_sequence_submit(seq));
    OK(tq_sequence_wait(seq, UINT64_MAX));
    tq_op_timing tm;
    OK(tq_sequence_timing(seq, 5, &tm));
    assert_string_equal(tm.op, "attention");
    assert_true(strncmp(tm.variant, "split-k", 7) == 0);
    OK(tq_context_memory(ctx, &ms));
    assert_true(ms.peak[TQ_MEM_SCRATCH] > 0);

    /* reference on the same (GPU-quantized) cache */
    uint64_t kb = tq_type_row_bytes(TQ_TYPE_Q8_0, d), vb = tq_type_row_bytes(TQ_TYPE_TURBO3, d);
    uint8_t *kq = malloc(kb * 256 * nkh), *vq = malloc(vb * 256 * nkh);
    OK(tq_tensor_read(k, 0, kq, kb * 256 * nkh));
    OK(tq_tensor_read(v, 0, vq, vb * 256 * nkh));
    float want[128 * 8];
    tq_ref_attention_args a = { .q = q, .k = kq, .v = vq, .out = want, .type_k = TQ_TYPE_Q8_0,
                                .type_v = TQ_TYPE_TURBO3, .d = d, .n_head = nh, .n_q = 1, .n_seq = 1,
                                .n_kv_head = nkh, .n_ctx = 256, .n_kv = 100,
                                .scale = 1.0f / sqrtf((float)d) };
    OK(tq_ref_attention(&a));
    double num = 0, den = 0;
    for (int i = 0; i < 128 * 8; i++) {
        num += (double)(out[i] - want[i]) * (out[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    assert_true(num / den <= 1e-6);

    OK(tq_sequence_reset(seq));
    OK(tq_context_memory(ctx, &ms));
    assert_int_equal(ms.current[TQ_MEM_SCRATCH], 0);
    tq_sequence_destroy(seq);
    tq_tensor_destroy(ks);
    tq_tensor_destroy(vs);
    tq_tensor_destroy(tq_);
    tq_tensor_destroy(to);
    tq_kv_cache_destroy(cache);
    tq_context_destroy(ctx);
    tq_runtime_destroy(rt);
    free(kf); free(vf); free(kq); free(vq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_loader_leaves_other_backends),
        cmocka_unit_test(test_lavapipe_only_by_name_and_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
