/*
 * test_opencl_errors.c: what the backend says when something is missing or wrong: no ICD
 * loader, a device lacking a capability, a kernel build failure (with its log), unknown
 * or impossible variants and options, an op the device cannot run; and that device ids
 * are stable across starts.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ocl_harness.h"

static void expect_error(tq_status s, tq_code code, const char *needle)
{
    assert_non_null(s);
    if (tq_status_code(s) != code || !strstr(tq_status_message(s), needle))
        fprintf(stderr, "unexpected: %s: %s (wanted %s containing '%s')\n",
                tq_code_name(tq_status_code(s)), tq_status_message(s), tq_code_name(code), needle);
    assert_int_equal(tq_status_code(s), code);
    assert_non_null(strstr(tq_status_message(s), needle));
    tq_status_free(s);
}

static void test_missing_loader_names_the_paths_tried(void **state)
{
    (void)state;
    setenv("TQ_OPENCL_LOADER", "/nonexistent/dir/libOpenCL.so.1", 1);
    hx h;
    tq_status s = hx_init_state(&h);
    assert_null(h.state);
    expect_error(s, TQ_CODE_NOT_FOUND, "/nonexistent/dir/libOpenCL.so.1");
    unsetenv("TQ_OPENCL_LOADER");
    /* nothing was left behind: a normal start works */
    assert_null(hx_init_state(&h));
    assert_true(h.ops->device_count(h.state) >= 1);
    hx_close(&h);
}

static void test_device_without_capability_is_skipped_with_reason(void **state)
{
    (void)state;
    setenv("TQ_OPENCL_MIN_LOCAL_MEM", "1099511627776", 1);    /* 1 TiB of local memory */
    hx h;
    assert_null(hx_init_state(&h));
    unsetenv("TQ_OPENCL_MIN_LOCAL_MEM");
    tq_device_info info;
    assert_null(h.ops->device_info(h.state, 0, &info));
    assert_true(info.score < 0);
    assert_non_null(strstr(info.note, "skipped"));
    assert_non_null(strstr(info.note, "local memory"));
    void *ctx = NULL;
    expect_error(h.ops->context_create(h.state, 0, NULL, &h, &ctx), TQ_CODE_UNSUPPORTED,
                 "local memory");
    assert_null(ctx);
    hx_close(&h);
}

static void test_build_failure_reports_the_build_log(void **state)
{
    (void)state;
    setenv("TQ_CACHE_DIR", "off", 1);
    setenv("TQ_OPENCL_BUILD_OPTIONS", "-DTQ_CL_QT=(", 1);
    hx h;
    assert_null(hx_init_state(&h));
    void *ctx = NULL;
    tq_status s = h.ops->context_create(h.state, hx_pick_device(&h), NULL, &h, &ctx);
    unsetenv("TQ_OPENCL_BUILD_OPTIONS");
    unsetenv("TQ_CACHE_DIR");
    assert_null(ctx);
    assert_non_null(s);
    assert_int_equal(tq_status_code(s), TQ_CODE_BACKEND);
    assert_non_null(strstr(tq_status_message(s), "Build log:"));
    assert_non_null(strstr(tq_status_message(s), "no fallback"));
    tq_status_free(s);
    hx_close(&h);
}

static void test_variants_and_options_are_checked(void **state)
{
    (void)state;
    hx h;
    hx_open(&h, "variant=split-k/wg32");
    void *ctx = NULL;
    uint32_t dev = h.device;
    expect_error(h.ops->context_create(h.state, dev, "variant=split-k/wg48", &h, &ctx),
                 TQ_CODE_INVALID_ARGUMENT, "unknown variant");
    expect_error(h.ops->context_create(h.state, dev, "variant=split-k/wg1048576", &h, &ctx),
                 TQ_CODE_UNSUPPORTED, "needs work-groups of 1048576");
    expect_error(h.ops->context_create(h.state, dev, "variant=tiled", &h, &ctx),
                 TQ_CODE_INVALID_ARGUMENT, "unknown variant");
    expect_error(h.ops->context_create(h.state, dev, "threads=4", &h, &ctx),
                 TQ_CODE_INVALID_ARGUMENT, "unknown option 'threads'");
    expect_error(h.ops->context_create(h.state, dev, "splits=0", &h, &ctx),
                 TQ_CODE_INVALID_ARGUMENT, "splits");
    assert_null(ctx);
    hx_close(&h);
}

static void test_attention_beyond_local_memory_is_unsupported(void **state)
{
    (void)state;
    hx h;
    hx_open(&h, NULL);
    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_ATTENTION;
    const int64_t d = 1 << 18;
    op.q.type = op.out.type = op.k.type = op.v.type = TQ_TYPE_F32;
    op.q.ne[0] = op.k.ne[0] = op.v.ne[0] = op.out.ne[0] = d;
    op.q.ne[1] = op.out.ne[1] = 1;
    op.q.ne[2] = op.q.ne[3] = op.out.ne[2] = op.out.ne[3] = 1;
    op.k.ne[1] = op.v.ne[1] = 4;
    op.k.ne[2] = op.v.ne[2] = op.k.ne[3] = op.v.ne[3] = 1;
    op.k.nb[1] = op.v.nb[1] = op.q.nb[1] = op.out.nb[1] = 4 * (uint64_t)d;
    op.n_kv = 4;
    op.scale = 1.0f;
    expect_error(h.ops->supports(h.ctx, &op), TQ_CODE_UNSUPPORTED, "local memory");
    /* an ordinary shape is fine */
    op.q.ne[0] = op.k.ne[0] = op.v.ne[0] = op.out.ne[0] = 128;
    op.k.nb[1] = op.v.nb[1] = op.q.nb[1] = op.out.nb[1] = 512;
    assert_null(h.ops->supports(h.ctx, &op));
    hx_close(&h);
}

static void test_device_ids_are_stable_and_cpu_devices_not_automatic(void **state)
{
    (void)state;
    hx a, b;
    assert_null(hx_init_state(&a));
    assert_null(hx_init_state(&b));
    uint32_t n = a.ops->device_count(a.state);
    assert_int_equal(n, b.ops->device_count(b.state));
    for (uint32_t i = 0; i < n; i++) {
        tq_device_info ia, ib;
        assert_null(a.ops->device_info(a.state, i, &ia));
        assert_null(b.ops->device_info(b.state, i, &ib));
        assert_string_equal(ia.id, ib.id);
        assert_memory_equal(ia.id, "opencl:", 7);
        assert_true(ia.note[0] != '\0');
        assert_true(ia.default_variant[0] != '\0');
        if (ia.type == TQ_DEVICE_CPU)
            assert_true(ia.score < 0);
    }
    hx_close(&a);
    hx_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_loader_names_the_paths_tried),
        cmocka_unit_test(test_device_without_capability_is_skipped_with_reason),
        cmocka_unit_test(test_build_failure_reports_the_build_log),
        cmocka_unit_test(test_variants_and_options_are_checked),
        cmocka_unit_test(test_attention_beyond_local_memory_is_unsupported),
        cmocka_unit_test(test_device_ids_are_stable_and_cpu_devices_not_automatic),
    };
    return cmocka_run_group_tests_name("opencl_errors", tests, NULL, NULL);
}
