/*
 * test_opencl_cache.c: the on-disk program-binary cache. A first start compiles and
 * writes the binary, a second start loads it (no compilation), a corrupt or truncated
 * file is detected, reported and rebuilt (never loaded), TQ_CACHE_DIR=off disables it.
 * Each test uses its own cache directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ocl_harness.h"

typedef struct stats {
    uint64_t hits, misses, rejected, written;
} stats;

static stats cache_stats(hx *h)
{
    void (*fn)(void *, stats *) = NULL;
    void *p = h->ops->get_extra(h->state, "tq_opencl_cache_stats");
    assert_non_null(p);
    memcpy(&fn, &p, sizeof fn);
    stats s;
    fn(h->state, &s);
    return s;
}

static char cache_root[512];

static void fresh_cache_dir(const char *name)
{
    const char *base = getenv("TQ_TEST_CACHE_ROOT");
    snprintf(cache_root, sizeof cache_root, "%s/cache_test_%s_%ld", base && base[0] ? base : "/tmp",
             name, (long)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_root);
    assert_int_equal(system(cmd), 0);
    setenv("TQ_CACHE_DIR", cache_root, 1);
}

static void remove_cache_dir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_root);
    assert_int_equal(system(cmd), 0);
}

/* The one .clbin file in the cache (there must be exactly one). */
static void cache_file(char *out, size_t cap)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/opencl", cache_root);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".clbin") && !strstr(e->d_name, ".tmp")) {
            int len = snprintf(out, cap, "%s/%s", dir, e->d_name);
            assert_true(len > 0 && (size_t)len < cap);   /* a cut path would name another file */
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
}

/* A start: init, a context (which builds or loads the program), a rotate that proves the
 * program works, shutdown. Returns the cache counters of that start. */
static stats start(void)
{
    hx h;
    hx_log_clear();
    hx_open(&h, NULL);
    float x[128], y[128];
    for (int i = 0; i < 128; i++)
        x[i] = (float)(i % 7) - 3.0f;
    hx_tensor t;
    hx_tensor_new(&h, &t, TQ_TYPE_F32, 128, 1, 1, 1);
    hx_upload(&h, &t, x);
    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_ROTATE;
    op.src = t.ref;
    op.dst = t.ref;
    hx_run(&h, &op);
    hx_download(&h, &t, y);
    tq_ref_rotate_forward(x);
    for (int i = 0; i < 128; i++)
        assert_true(fabsf(x[i] - y[i]) <= 1e-5f * 8.0f);
    hx_tensor_free(&h, &t);
    stats s = cache_stats(&h);
    hx_close(&h);
    return s;
}

static void test_second_start_is_a_cache_hit(void **state)
{
    (void)state;
    fresh_cache_dir("hit");
    stats a = start();
    assert_int_equal(a.misses, 1);
    assert_int_equal(a.hits, 0);
    assert_int_equal(a.written, 1);
    assert_non_null(strstr(hx_log_text(), "program cache miss: compiled in"));
    stats b = start();
    assert_int_equal(b.hits, 1);
    assert_int_equal(b.misses, 0);
    assert_non_null(strstr(hx_log_text(), "program cache hit"));
    remove_cache_dir();
}

static void damage_and_restart(const char *name, bool truncate_file)
{
    fresh_cache_dir(name);
    stats a = start();
    assert_int_equal(a.written, 1);
    char path[800];
    cache_file(path, sizeof path);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    if (truncate_file) {
        assert_int_equal(truncate(path, sb.st_size / 2), 0);
    } else {
        /* flip one byte in the middle of the payload */
        int fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        unsigned char c;
        off_t at = sb.st_size / 2;
        assert_int_equal(pread(fd, &c, 1, at), 1);
        c ^= 0x5a;
        assert_int_equal(pwrite(fd, &c, 1, at), 1);
        close(fd);
    }
    stats b = start();
    assert_int_equal(b.rejected, 1);
    assert_int_equal(b.hits, 0);
    assert_int_equal(b.misses, 1);
    assert_int_equal(b.written, 1);
    assert_non_null(strstr(hx_log_text(), truncate_file ? "truncated" : "corrupt"));
    /* the rebuilt file is good again */
    stats c = start();
    assert_int_equal(c.hits, 1);
    assert_int_equal(c.rejected, 0);
    remove_cache_dir();
}

static void test_corrupt_cache_file_is_rebuilt(void **state)
{
    (void)state;
    damage_and_restart("corrupt", false);
}

static void test_truncated_cache_file_is_rebuilt(void **state)
{
    (void)state;
    damage_and_restart("truncated", true);
}

static void test_cache_off_writes_nothing(void **state)
{
    (void)state;
    fresh_cache_dir("off");
    setenv("TQ_CACHE_DIR", "off", 1);
    stats a = start();
    assert_int_equal(a.hits + a.written + a.rejected, 0);
    assert_int_equal(a.misses, 1);
    assert_non_null(strstr(hx_log_text(), "program cache off"));
    struct stat sb;
    assert_int_not_equal(stat(cache_root, &sb), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_start_is_a_cache_hit),
        cmocka_unit_test(test_corrupt_cache_file_is_rebuilt),
        cmocka_unit_test(test_truncated_cache_file_is_rebuilt),
        cmocka_unit_test(test_cache_off_writes_nothing),
    };
    return cmocka_run_group_tests_name("opencl_cache", tests, NULL, NULL);
}
