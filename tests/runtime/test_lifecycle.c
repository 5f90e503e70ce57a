/*
 * test_lifecycle.c: runtime, backend, device and context lifetimes; install-dir
 * discovery of the ref plugin; backend and device selection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test_util.h"

static void test_ref_found_in_build_tree_without_env(void **state)
{
    /* ctest sets TQ_PLUGIN_PATH to "": only the install dir next to libtq is searched. */
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(NULL, &rt));
    tq_backend *ref = NULL;
    RT_OK(tq_runtime_backend_find(rt, "ref", &ref));
    const char *dir = getenv("TQ_TEST_PLUGIN_DIR");
    if (dir)
        assert_non_null(strstr(tq_backend_library(ref), "/lib/tq/plugins/"));
    assert_non_null(strstr(tq_runtime_search_path(rt), "tq/plugins"));
    assert_int_equal(tq_backend_device_count(ref), 1);
    tq_runtime_destroy(rt);
}

static void use_ref_once(void)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref);
    tq_tensor *t = rt_tensor(c, TQ_TYPE_F32, 128, 2, 1, 1, TQ_MEM_IO);
    float x[256];
    for (int i = 0; i < 256; i++)
        x[i] = (float)i;
    RT_OK(tq_tensor_write(t, 0, x, sizeof x));
    float y[256];
    RT_OK(tq_tensor_read(t, 0, y, sizeof y));
    assert_memory_equal(x, y, sizeof x);
    tq_tensor_destroy(t);
    tq_context_destroy(c);
    tq_runtime_destroy(rt);
}

static void test_create_destroy_create(void **state)
{
    for (int i = 0; i < 3; i++)
        use_ref_once();
    /* Two runtimes at once share the dlopen'ed library without interfering. */
    tq_backend *a = NULL, *b = NULL;
    tq_runtime *ra = rt_open_ref(&a), *rb = rt_open_ref(&b);
    assert_ptr_not_equal(a, b);
    tq_runtime_destroy(ra);
    tq_context *c = rt_ref_context(b);
    tq_context_destroy(c);
    tq_runtime_destroy(rb);
}

static void test_device_info_and_find(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    RT_OK(tq_backend_device_info(ref, 0, &info));
    assert_string_equal(info.id, "ref:scalar");
    assert_non_null(strstr(info.name, "reference"));
    assert_int_equal(info.type, TQ_DEVICE_CPU);
    assert_true(info.score < 0);
    assert_string_equal(info.default_variant, "reference");

    uint32_t d = 99;
    RT_OK(tq_backend_device_find(ref, "0", &d));
    assert_int_equal(d, 0);
    d = 99;
    RT_OK(tq_backend_device_find(ref, "ref:scalar", &d));
    assert_int_equal(d, 0);
    d = 99;
    RT_OK(tq_backend_device_find(ref, "SCALAR, DOUBLE", &d));   /* case-insensitive substring */
    assert_int_equal(d, 0);
    /* Never automatic: NULL lists the devices and says why. */
    RT_EXPECT(tq_backend_device_find(ref, NULL, &d), TQ_CODE_NOT_FOUND, "score", "ref:scalar");
    RT_EXPECT(tq_backend_device_find(ref, "", &d), TQ_CODE_NOT_FOUND, "reference");
    RT_EXPECT(tq_backend_device_find(ref, "3", &d), TQ_CODE_NOT_FOUND, "index 3", "0: ");
    RT_EXPECT(tq_backend_device_find(ref, "nvidia", &d), TQ_CODE_NOT_FOUND, "nvidia",
              "ref:scalar");
    RT_EXPECT(tq_backend_device_info(ref, 1, &info), TQ_CODE_OUT_OF_RANGE, "device 1");
    info.struct_size = 0;
    RT_EXPECT(tq_backend_device_info(ref, 0, &info), TQ_CODE_INVALID_ARGUMENT, "struct_size");

    assert_string_equal(tq_device_type_name(TQ_DEVICE_CPU), "cpu");
    assert_string_equal(tq_device_type_name(TQ_DEVICE_GPU_DISCRETE), "discrete-gpu");
    assert_string_equal(tq_device_type_name((tq_device_type)42), "invalid");
    assert_string_equal(tq_mem_class_name(TQ_MEM_KV), "kv");
    assert_string_equal(tq_mem_class_name(TQ_MEM_SCRATCH), "scratch");
    assert_string_equal(tq_mem_class_name((tq_mem_class)9), "invalid");
    tq_runtime_destroy(rt);
}

static void test_select(void **state)
{
    tq_backend *ref = NULL, *b = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    uint32_t d = 7;
    unsetenv("TQ_BACKEND");
    /* Named: ref may be used although its device is never automatic. */
    RT_OK(tq_runtime_select(rt, "ref", NULL, &b, &d));
    assert_ptr_equal(b, ref);
    assert_int_equal(d, 0);
    /* Automatic never takes ref. */
    RT_EXPECT(tq_runtime_select(rt, NULL, NULL, &b, &d), TQ_CODE_NOT_FOUND,
              "ref is never chosen automatically");
    setenv("TQ_BACKEND", "ref:ref:scalar", 1);
    b = NULL;
    RT_OK(tq_runtime_select(rt, NULL, NULL, &b, &d));
    assert_ptr_equal(b, ref);
    setenv("TQ_BACKEND", "vulkan", 1);
    RT_EXPECT(tq_runtime_select(rt, NULL, NULL, &b, &d), TQ_CODE_NOT_FOUND, "TQ_BACKEND='vulkan'",
              "Loaded backends: ref");
    unsetenv("TQ_BACKEND");
    RT_EXPECT(tq_runtime_select(rt, "ref", "gpu", &b, &d), TQ_CODE_NOT_FOUND, "gpu");
    RT_EXPECT(tq_runtime_select(rt, "ref", NULL, NULL, &d), TQ_CODE_INVALID_ARGUMENT,
              "out_backend");
    RT_EXPECT(tq_runtime_select(NULL, "ref", NULL, &b, &d), TQ_CODE_INVALID_ARGUMENT, "runtime");
    tq_runtime_destroy(rt);
}

static void test_backend_order_is_priority_then_name(void **state)
{
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(NULL, &rt));
    uint32_t n = tq_runtime_backend_count(rt);
    for (uint32_t i = 1; i < n; i++) {
        const char *a = tq_backend_name(tq_runtime_backend_get(rt, i - 1));
        const char *b = tq_backend_name(tq_runtime_backend_get(rt, i));
        int32_t pa = 0, pb = 0;
        for (uint32_t r = 0; r < tq_runtime_plugin_count(rt); r++) {
            const tq_plugin_report *rep = tq_runtime_plugin_report(rt, r);
            if (rep->loaded && strcmp(rep->name, a) == 0)
                pa = rep->priority;
            if (rep->loaded && strcmp(rep->name, b) == 0)
                pb = rep->priority;
        }
        assert_true(pa > pb || (pa == pb && strcmp(a, b) < 0));
    }
    assert_null(tq_runtime_backend_get(rt, n));
    assert_null(tq_runtime_plugin_report(rt, tq_runtime_plugin_count(rt)));
    tq_runtime_destroy(rt);
}

static void test_context_options(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = NULL;
    RT_OK(tq_context_create(ref, 0, "variant=reference", &c));
    assert_ptr_equal(tq_context_backend(c), ref);
    assert_int_equal(tq_context_device(c), 0);
    tq_context_destroy(c);
    c = NULL;
    RT_EXPECT(tq_context_create(ref, 0, "threads=4;bogus=1", &c), TQ_CODE_INVALID_ARGUMENT,
              "threads=4");
    assert_null(c);
    RT_EXPECT(tq_context_create(ref, 0, "variant=avx2", &c), TQ_CODE_INVALID_ARGUMENT,
              "variant=avx2");
    RT_EXPECT(tq_context_create(ref, 1, NULL, &c), TQ_CODE_OUT_OF_RANGE, "device 1");
    RT_EXPECT(tq_context_create(NULL, 0, NULL, &c), TQ_CODE_INVALID_ARGUMENT, "backend");
    RT_EXPECT(tq_context_create(ref, 0, NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "out_context");
    tq_runtime_destroy(rt);
}

/* Misuse that must not crash: objects outliving what they depend on. */
static void test_context_destroyed_before_its_tensors(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref), *c2 = rt_ref_context(ref);
    tq_tensor *t = rt_tensor(c, TQ_TYPE_F32, 128, 4, 1, 1, TQ_MEM_IO);
    tq_tensor *v = NULL;
    const int64_t ne[4] = { 128, 1, 1, 1 };
    RT_OK(tq_tensor_view_create(t, 512, TQ_TYPE_F32, ne, &v));
    tq_sequence *s = NULL;
    RT_OK(tq_sequence_create(c, &s));
    tq_context_destroy(c);   /* logs an error; t, v and s become inert */

    tq_memory_stats m;
    RT_OK(tq_context_memory(c2, &m));
    assert_int_equal(m.current_total, 0);   /* their memory was released */
    float x[128] = { 0 };
    RT_EXPECT(tq_tensor_write(t, 0, x, sizeof x), TQ_CODE_INVALID_ARGUMENT, "no longer usable");
    RT_EXPECT(tq_tensor_read(v, 0, x, sizeof x), TQ_CODE_INVALID_ARGUMENT, "no longer usable");
    RT_EXPECT(tq_sequence_submit(s), TQ_CODE_INVALID_ARGUMENT, "destroyed");
    tq_tensor_destroy(v);
    tq_tensor_destroy(t);
    tq_sequence_destroy(s);
    tq_context_destroy(c2);
    tq_runtime_destroy(rt);
}

static void test_parent_destroyed_before_view(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref);
    tq_tensor *t = rt_tensor(c, TQ_TYPE_F32, 128, 4, 1, 1, TQ_MEM_IO);
    tq_tensor *v = NULL, *vv = NULL;
    const int64_t ne[4] = { 128, 2, 1, 1 }, ne1[4] = { 64, 1, 1, 1 };
    RT_OK(tq_tensor_view_create(t, 512, TQ_TYPE_F32, ne, &v));
    RT_OK(tq_tensor_view_create(v, 4, TQ_TYPE_F32, ne1, &vv));   /* a view of a view */
    tq_tensor_destroy(t);   /* logs an error; both views become inert */
    float x[64] = { 0 };
    RT_EXPECT(tq_tensor_write(v, 0, x, sizeof x), TQ_CODE_INVALID_ARGUMENT, "no longer usable");
    RT_EXPECT(tq_tensor_write(vv, 0, x, sizeof x), TQ_CODE_INVALID_ARGUMENT, "no longer usable");
    tq_tensor_destroy(vv);
    tq_tensor_destroy(v);
    tq_memory_stats m;
    RT_OK(tq_context_memory(c, &m));
    assert_int_equal(m.current_total, 0);
    tq_context_destroy(c);
    tq_runtime_destroy(rt);
}

static void test_tensor_destroyed_while_recorded(void **state)
{
    tq_backend *ref = NULL;
    tq_runtime *rt = rt_open_ref(&ref);
    tq_context *c = rt_ref_context(ref);
    tq_tensor *t = rt_tensor(c, TQ_TYPE_F32, 128, 1, 1, 1, TQ_MEM_IO);
    tq_tensor *keep = rt_tensor(c, TQ_TYPE_F32, 128, 1, 1, 1, TQ_MEM_IO);
    tq_sequence *s = NULL;
    RT_OK(tq_sequence_create(c, &s));
    float x[128] = { 0 };
    RT_OK(tq_sequence_record_write(s, keep, 0, x, sizeof x));
    RT_OK(tq_sequence_record_write(s, t, 0, x, sizeof x));
    tq_tensor_destroy(t);   /* logs an error; the sequence must not hand freed memory on */
    RT_EXPECT(tq_sequence_submit(s), TQ_CODE_INVALID_ARGUMENT, "op 1 (write)", "reset");
    RT_OK(tq_sequence_reset(s));
    RT_OK(tq_sequence_record_write(s, keep, 0, x, sizeof x));
    RT_OK(tq_sequence_submit(s));
    RT_OK(tq_sequence_wait(s, UINT64_MAX));
    tq_sequence_destroy(s);
    tq_tensor_destroy(keep);
    tq_context_destroy(c);
    tq_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_found_in_build_tree_without_env),
        cmocka_unit_test(test_create_destroy_create),
        cmocka_unit_test(test_device_info_and_find),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_backend_order_is_priority_then_name),
        cmocka_unit_test(test_context_options),
        cmocka_unit_test(test_context_destroyed_before_its_tensors),
        cmocka_unit_test(test_parent_destroyed_before_view),
        cmocka_unit_test(test_tensor_destroyed_while_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
