/*
 * test_tqrun_json.c: tqrun --json writes a tq-results document that parses and carries
 * the fields that compare and the bisect helpers build on (docs/tqrun.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

static char tqrun[4096];
static char outdir[4096];

/* Runs tqrun with args, writing JSON to <outdir>/<name>.json; returns the parsed doc. */
static cJSON *run_json(const char *name, const char *args, int want_rc)
{
    char path[4200], cmd[9000];
    snprintf(path, sizeof path, "%s/%s.json", outdir, name);
    remove(path);
    snprintf(cmd, sizeof cmd, "'%s' %s --json '%s' > /dev/null", tqrun, args, path);
    int rc = system(cmd);
    assert_true(rc != -1 && WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), want_rc);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = 0;
    fclose(f);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    return doc;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        fail_msg("missing field '%s'", k);
    return v;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void check_header(const cJSON *doc)
{
    assert_string_equal(str(doc, "schema"), "tq-results");
    assert_int_equal(atoi(str(doc, "schema_version")), 1);
    assert_memory_equal(str(doc, "tool"), "tqrun ", 6);
    assert_true(strlen(str(doc, "commit")) > 0);
    assert_true(cJSON_IsBool(get(doc, "dirty")));
    const cJSON *b = get(doc, "build");
    str(b, "type");
    str(b, "flags");
    str(b, "sanitize");
    const cJSON *h = get(doc, "host");
    str(h, "hostname");
    str(h, "cpu");
    str(h, "os");
    assert_true(cJSON_IsArray(get(doc, "records")));
}

static void check_identity(const cJSON *rec)
{
    str(rec, "backend");
    str(rec, "device");
    str(rec, "device_id");
    str(rec, "driver");
    str(rec, "variant");
    str(rec, "op");
}

/* --shared-context runs every case in one context and the records say so. */
static void test_bench_shared_context_is_recorded(void **state)
{
    (void)state;
    cJSON *doc = run_json("bench_shared", "bench --backend cpu --types turbo3,q8_0 --ctx 128 "
                          "--repeats 2 --warmup 1 --warmup-ms 0 --shared-context", 0);
    const cJSON *recs = get(doc, "records");
    assert_int_equal(cJSON_GetArraySize(recs), 2);
    const cJSON *rec;
    cJSON_ArrayForEach(rec, recs)
        assert_true(cJSON_IsFalse(get(rec, "context_per_case")));
    cJSON_Delete(doc);
}

static void test_bench_json_has_samples_and_rates(void **state)
{
    (void)state;
    cJSON *doc = run_json("bench", "bench --backend cpu --types turbo3,q8_0/turbo4 --ctx 256 "
                          "--repeats 4 --warmup 1 --warmup-ms 30", 0);
    check_header(doc);
    const cJSON *recs = get(doc, "records");
    assert_int_equal(cJSON_GetArraySize(recs), 2);
    const cJSON *rec;
    cJSON_ArrayForEach(rec, recs) {
        check_identity(rec);
        assert_string_equal(str(rec, "backend"), "cpu");
        assert_string_equal(str(rec, "op"), "attention");
        assert_true(strlen(str(rec, "variant")) > 0);
        const cJSON *shape = get(rec, "shape");
        assert_int_equal((int)num(shape, "n_kv"), 256);
        assert_int_equal((int)num(shape, "n_head"), 32);
        assert_int_equal((int)num(shape, "n_kv_head"), 8);
        assert_int_equal((int)num(shape, "d"), 128);
        const cJSON *types = get(rec, "types");
        str(types, "k");
        str(types, "v");
        assert_int_equal((int)num(rec, "repeats"), 4);
        assert_true(num(rec, "warmup") >= 1);
        assert_true(num(rec, "warmup_ms") >= 30.0);   /* --warmup-ms is a minimum */
        assert_true(cJSON_IsTrue(get(rec, "context_per_case")));   /* the default */
        const cJSON *samples = get(rec, "samples_ns");
        assert_int_equal(cJSON_GetArraySize(samples), 4);
        assert_true(num(rec, "min_ns") > 0);
        assert_true(num(rec, "min_ns") <= num(rec, "median_ns"));
        assert_true(num(rec, "bytes") > 0);
        assert_true(num(rec, "gbps") > 0);
        assert_true(num(rec, "gflops") > 0);
        const cJSON *mem = get(rec, "memory");
        const cJSON *kv = get(mem, "kv");
        assert_true(num(kv, "peak") >= num(kv, "current"));
        num(get(mem, "scratch"), "peak");
    }
    const cJSON *first = cJSON_GetArrayItem(recs, 0);
    assert_string_equal(str(get(first, "types"), "k"), "turbo3");
    const cJSON *second = cJSON_GetArrayItem(recs, 1);
    assert_string_equal(str(get(second, "types"), "k"), "q8_0");
    assert_string_equal(str(get(second, "types"), "v"), "turbo4");
    cJSON_Delete(doc);
}

static void test_check_json_has_verdicts(void **state)
{
    (void)state;
    cJSON *doc = run_json("check", "check --backend cpu --types turbo3", 0);
    check_header(doc);
    const cJSON *rec;
    int n = 0, attention = 0;
    cJSON_ArrayForEach(rec, get(doc, "records")) {
        check_identity(rec);
        const cJSON *c = get(rec, "check");
        str(c, "metric");
        num(c, "value");
        num(c, "limit");
        assert_true(cJSON_IsTrue(get(c, "pass")));
        get(rec, "shape");
        get(rec, "types");
        attention += strcmp(str(rec, "op"), "attention") == 0;
        n++;
    }
    assert_true(n > 10);
    assert_true(attention > 0);
    cJSON_Delete(doc);
}

static void test_memory_json_has_exact_prediction(void **state)
{
    (void)state;
    cJSON *doc = run_json("memory", "memory --model 27b --ctx 4096 --types f16,turbo3", 0);
    check_header(doc);
    const cJSON *recs = get(doc, "records");
    assert_int_equal(cJSON_GetArraySize(recs), 2);
    const cJSON *f16 = cJSON_GetArrayItem(recs, 0), *t3 = cJSON_GetArrayItem(recs, 1);
    assert_string_equal(str(f16, "op"), "kv_cache");
    assert_true(num(get(f16, "predicted"), "total_bytes") == 805306368.0);
    assert_true(num(get(t3, "predicted"), "total_bytes") == 157286400.0);
    assert_int_equal((int)num(get(f16, "shape"), "n_layer"), 48);
    cJSON_Delete(doc);
}

static void test_quality_json_has_mse(void **state)
{
    (void)state;
    cJSON *doc = run_json("quality", "quality --n 2000 --types turbo4", 0);
    check_header(doc);
    const cJSON *rec = cJSON_GetArrayItem(get(doc, "records"), 0);
    assert_non_null(rec);
    const cJSON *q = get(rec, "quality");
    assert_true(num(q, "mse") > 0.005 && num(q, "mse") < 0.0094);
    assert_true(cJSON_IsTrue(get(get(rec, "check"), "pass")));
    cJSON_Delete(doc);
}

static void test_list_json_has_plugins_and_devices(void **state)
{
    (void)state;
    cJSON *doc = run_json("list", "list", 0);
    check_header(doc);
    const cJSON *p;
    bool ref = false, cpu = false;
    cJSON_ArrayForEach(p, get(doc, "plugins")) {
        if (strcmp(str(p, "name"), "ref") == 0 && cJSON_IsTrue(get(p, "loaded")))
            ref = true;
        if (strcmp(str(p, "name"), "cpu") == 0 && cJSON_IsTrue(get(p, "loaded")))
            cpu = true;
    }
    assert_true(ref && cpu);
    assert_true(cJSON_GetArraySize(get(doc, "records")) >= 2);
    assert_true(cJSON_IsArray(get(doc, "drm_render_nodes")));
    cJSON_Delete(doc);
}

static void test_json_to_stdout_is_clean(void **state)
{
    (void)state;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "'%s' memory --ctx 4096 --types turbo3 --json - 2>/dev/null", tqrun);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = 0;
    assert_int_equal(pclose(p), 0);
    cJSON *doc = cJSON_Parse(text); /* the table went to stderr */
    assert_non_null(doc);
    check_header(doc);
    cJSON_Delete(doc);
}

int main(void)
{
    const char *bin = getenv("TQ_TEST_BIN_DIR"), *dir = getenv("TQRUN_JSON_DIR");
    if (!bin || !dir) {
        fprintf(stderr, "TQ_TEST_BIN_DIR and TQRUN_JSON_DIR must be set (run through ctest)\n");
        return 1;
    }
    snprintf(tqrun, sizeof tqrun, "%s/tqrun", bin);
    snprintf(outdir, sizeof outdir, "%s", dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_json_has_samples_and_rates),
        cmocka_unit_test(test_bench_shared_context_is_recorded),
        cmocka_unit_test(test_check_json_has_verdicts),
        cmocka_unit_test(test_memory_json_has_exact_prediction),
        cmocka_unit_test(test_quality_json_has_mse),
        cmocka_unit_test(test_list_json_has_plugins_and_devices),
        cmocka_unit_test(test_json_to_stdout_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
