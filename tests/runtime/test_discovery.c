/*
 * test_discovery.c: manifests and plugin loading. Every broken case gives a report that
 * names the file and says why, and never stops the good plugin from loading.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_test_util.h"

static void expect_loaded(const tq_runtime *rt, const char *file)
{
    const tq_plugin_report *r = rt_report(rt, file);
    assert_non_null(r);
    if (!r->loaded)
        print_error("%s: %s\n", file, r->message);
    assert_true(r->loaded);
    assert_string_equal(r->message, "loaded");
}

/* The report for file is "not loaded" and its message contains each substring. */
static void expect_refused(const tq_runtime *rt, const char *file, const char *s1, const char *s2)
{
    const tq_plugin_report *r = rt_report(rt, file);
    assert_non_null(r);
    assert_false(r->loaded);
    if (!strstr(r->message, s1) || (s2 && !strstr(r->message, s2)))
        print_error("%s: message \"%s\" lacks \"%s\"/\"%s\"\n", file, r->message, s1,
                    s2 ? s2 : "");
    assert_non_null(strstr(r->message, s1));
    if (s2)
        assert_non_null(strstr(r->message, s2));
}

static void test_good_plugin_loads(void **state)
{
    char *dir = rt_mkdtemp();
    rt_manifest(dir, "good.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 5);
    tq_runtime *rt = rt_open_dir(dir);
    assert_int_equal(tq_runtime_plugin_count(rt), 1);
    expect_loaded(rt, "/good.json");
    const tq_plugin_report *r = tq_runtime_plugin_report(rt, 0);
    assert_string_equal(r->name, "good");
    assert_int_equal(r->priority, 5);
    assert_int_equal(r->abi_major, 1);
    assert_string_equal(r->library_path, TQ_TEST_PLUGIN_GOOD);
    assert_non_null(strstr(tq_runtime_search_path(rt), dir));
    assert_int_equal(tq_runtime_backend_count(rt), 1);
    assert_string_equal(tq_backend_name(tq_runtime_backend_get(rt, 0)), "good");
    tq_runtime_destroy(rt);
    rt_rmtree(dir);
}

/* All broken kinds side by side with the good one, in one directory. */
static void test_broken_plugins_reported_good_still_loads(void **state)
{
    char *dir = rt_mkdtemp();
    rt_manifest(dir, "good.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 5);
    rt_manifest(dir, "abi.json", "abi", TQ_TEST_PLUGIN_ABI, 1, 0);
    rt_manifest(dir, "nosym.json", "nosym", TQ_TEST_PLUGIN_NOSYM, 1, 0);
    rt_manifest(dir, "initfail.json", "initfail", TQ_TEST_PLUGIN_INITFAIL, 1, 0);
    rt_manifest(dir, "missing.json", "missing", "libtq_not_there.so", 1, 0);
    rt_manifest(dir, "manifestabi.json", "manifestabi", TQ_TEST_PLUGIN_GOOD, 2, 0);
    rt_write(dir, "badjson.json", "{\n  \"name\": \"bad\",\n  \"library\": \n}\n");
    rt_write(dir, "badname.json", "{\"name\": \"Bad Name\", \"library\": \"x.so\", \"abi_major\": 1}");
    rt_write(dir, "noabi.json", "{\"name\": \"noabi\", \"library\": \"x.so\"}");
    rt_write(dir, "notjson.txt", "ignored: not a .json file");

    tq_runtime *rt = rt_open_dir(dir);
    assert_int_equal(tq_runtime_plugin_count(rt), 9);
    expect_loaded(rt, "/good.json");
    expect_refused(rt, "/abi.json", TQ_TEST_PLUGIN_ABI, "ABI 99");
    expect_refused(rt, "/nosym.json", TQ_TEST_PLUGIN_NOSYM, "tq_plugin_query");
    expect_refused(rt, "/initfail.json", TQ_TEST_PLUGIN_INITFAIL,
                   "no device driver found (simulated)");
    expect_refused(rt, "/missing.json", "libtq_not_there.so", "missing.json");
    expect_refused(rt, "/manifestabi.json", "manifestabi.json", "ABI 2");
    expect_refused(rt, "/badjson.json", "badjson.json", "line 4, column 1");
    expect_refused(rt, "/badname.json", "badname.json", "[a-z0-9_-]{1,31}");
    expect_refused(rt, "/noabi.json", "noabi.json", "abi_major");

    /* ABI mismatch reports what the library said. */
    const tq_plugin_report *r = rt_report(rt, "/abi.json");
    assert_int_equal(r->abi_major, 99);

    assert_int_equal(tq_runtime_backend_count(rt), 1);
    tq_backend *b = NULL;
    RT_OK(tq_runtime_backend_find(rt, "good", &b));
    /* A failed backend is named with its reason when asked for. */
    RT_EXPECT(tq_runtime_backend_find(rt, "initfail", &b), TQ_CODE_NOT_FOUND,
              "no device driver found", "Loaded backends: good");
    tq_runtime_destroy(rt);
    rt_rmtree(dir);
}

static void test_world_writable_directory_refused(void **state)
{
    char *good = rt_mkdtemp(), *open_dir = rt_mkdtemp();
    rt_manifest(good, "good.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 5);
    rt_manifest(open_dir, "other.json", "other", TQ_TEST_PLUGIN_GOOD, 1, 9);
    assert_int_equal(chmod(open_dir, 0777), 0);
    char path[8192];
    snprintf(path, sizeof path, "%s:%s", open_dir, good);

    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_path = path;
    o.skip_env = true;
    o.skip_install_dir = true;
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(&o, &rt));
    expect_refused(rt, "/other.json", "world-writable", open_dir);
    expect_loaded(rt, "/good.json");
    tq_runtime_destroy(rt);
    rt_rmtree(good);
    rt_rmtree(open_dir);
}

static void test_world_writable_manifest_refused(void **state)
{
    char *dir = rt_mkdtemp();
    rt_manifest(dir, "good.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 5);
    rt_manifest(dir, "open.json", "open", TQ_TEST_PLUGIN_GOOD, 1, 5);
    char p[4096];
    snprintf(p, sizeof p, "%s/open.json", dir);
    assert_int_equal(chmod(p, 0666), 0);
    tq_runtime *rt = rt_open_dir(dir);
    expect_refused(rt, "/open.json", "world-writable", "open.json");
    expect_loaded(rt, "/good.json");
    tq_runtime_destroy(rt);
    rt_rmtree(dir);
}

static void test_relative_plugin_path_entry_refused(void **state)
{
    char *dir = rt_mkdtemp();
    rt_manifest(dir, "good.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 5);
    char env[8192];
    snprintf(env, sizeof env, "relative/plugins:%s", dir);
    setenv("TQ_PLUGIN_PATH", env, 1);

    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.skip_install_dir = true;
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(&o, &rt));
    unsetenv("TQ_PLUGIN_PATH");
    expect_refused(rt, "relative/plugins", "TQ_PLUGIN_PATH", "relative path");
    expect_loaded(rt, "/good.json");
    /* The refused entry is not searched. */
    assert_null(strstr(tq_runtime_search_path(rt), "relative"));
    tq_runtime_destroy(rt);
    rt_rmtree(dir);
}

static void test_duplicate_name_higher_priority_wins(void **state)
{
    char *dir = rt_mkdtemp();
    rt_manifest(dir, "a_low.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 1);
    rt_manifest(dir, "b_high.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 7);
    tq_runtime *rt = rt_open_dir(dir);
    expect_loaded(rt, "/b_high.json");
    expect_refused(rt, "/a_low.json", "duplicate plugin name 'good'", "b_high.json");
    assert_int_equal(tq_runtime_backend_count(rt), 1);
    tq_runtime_destroy(rt);
    rt_rmtree(dir);
}

static void test_only_backends_filters_opening(void **state)
{
    char *dir = rt_mkdtemp();
    rt_manifest(dir, "good.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 5);
    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_path = dir;
    o.skip_env = true;
    o.skip_install_dir = true;
    o.only_backends = "ref, other";
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(&o, &rt));
    expect_refused(rt, "/good.json", "only_backends", NULL);
    assert_int_equal(tq_runtime_backend_count(rt), 0);
    tq_runtime_destroy(rt);
    rt_rmtree(dir);
}

static void test_current_directory_never_searched(void **state)
{
    char *dir = rt_mkdtemp();
    rt_manifest(dir, "good.json", "good", TQ_TEST_PLUGIN_GOOD, 1, 5);
    char old[4096];
    assert_non_null(getcwd(old, sizeof old));
    assert_int_equal(chdir(dir), 0);
    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.skip_env = true;
    o.skip_install_dir = true;
    o.plugin_path = ".";
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(&o, &rt));
    assert_int_equal(tq_runtime_backend_count(rt), 0);
    expect_refused(rt, ".", "relative path", NULL);
    tq_runtime_destroy(rt);
    assert_int_equal(chdir(old), 0);
    rt_rmtree(dir);
}

static void test_bad_options(void **state)
{
    tq_runtime_options o;
    memset(&o, 0, sizeof o);   /* struct_size 0 */
    tq_runtime *rt = NULL;
    RT_EXPECT(tq_runtime_create(&o, &rt), TQ_CODE_INVALID_ARGUMENT, "struct_size");
    assert_null(rt);
    RT_EXPECT(tq_runtime_create(NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "out_runtime");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plugin_loads),
        cmocka_unit_test(test_broken_plugins_reported_good_still_loads),
        cmocka_unit_test(test_world_writable_directory_refused),
        cmocka_unit_test(test_world_writable_manifest_refused),
        cmocka_unit_test(test_relative_plugin_path_entry_refused),
        cmocka_unit_test(test_duplicate_name_higher_priority_wins),
        cmocka_unit_test(test_only_backends_filters_opening),
        cmocka_unit_test(test_current_directory_never_searched),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
