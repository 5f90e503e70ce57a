/*
 * test_plugin_safety.c: what a long-lived host does to libtq and its plugins.
 *   - the runtime is created and destroyed many times in one process, with every plugin
 *     the build has (vulkan and opencl included where built);
 *   - two copies of one plugin (the same code under two file names) are loaded by two
 *     runtimes at once and neither disturbs the other, also after one is unloaded;
 *   - a second copy of libtq itself, dlopen'ed privately, finds the plugins next to
 *     ITSELF (not next to the first copy) and works beside the first.
 */
#include <dlfcn.h>
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

#include "tq/tq.h"
#include "tq/tq_ref.h"

#define D 128
#define N_CTX 8
#define N_KV_HEAD 1

static void ok(tq_status st)
{
    if (st)
        fail_msg("%s", tq_status_message(st));
}

static bool copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    bool good = a && b;
    char buf[4096];
    size_t n;
    while (good && (n = fread(buf, 1, sizeof buf, a)) > 0)
        good = fwrite(buf, 1, n, b) == n;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        good = false;
    return good;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *path2(const char *a, const char *b)
{
    char *p = malloc(strlen(a) + strlen(b) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", a, b);
    return p;
}

static const char *plugin_dir(void)
{
    const char *d = getenv("TQ_TEST_PLUGIN_DIR");
    assert_non_null(d);
    return d;
}

/* Irregular values, so no element sits on a quantization boundary by construction. */
static void fill(float *x, int n, int seed)
{
    uint32_t s = 2463534242u + (uint32_t)seed * 7919u;
    for (int i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
}

/* Quantizes N_CTX turbo3 rows on (b, device 0), then runs attention over them and checks
 * it against tq_ref_attention on the same quantized rows. The rows themselves must equal
 * the reference's bytes on ref (other backends may differ at decision boundaries, which
 * tqrun check covers). */
static void roundtrip(tq_backend *b, int seed)
{
    tq_context *ctx = NULL;
    ok(tq_context_create(b, 0, NULL, &ctx));
    int64_t src_ne[4] = { D, N_KV_HEAD, N_CTX, 1 }, cache_ne[4] = { D, N_CTX, N_KV_HEAD, 1 };
    int64_t q_ne[4] = { D, 1, 1, 1 };
    tq_tensor *src = NULL, *cache = NULL, *q = NULL, *out = NULL;
    ok(tq_tensor_create(ctx, TQ_TYPE_F32, src_ne, TQ_MEM_IO, &src));
    ok(tq_tensor_create(ctx, TQ_TYPE_TURBO3, cache_ne, TQ_MEM_KV, &cache));
    ok(tq_tensor_create(ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &q));
    ok(tq_tensor_create(ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &out));
    float x[D * N_CTX], qv[D], o[D], ref_o[D];
    fill(x, D * N_CTX, seed);
    fill(qv, D, seed + 1);
    int64_t rows[N_CTX];
    for (int i = 0; i < N_CTX; i++)
        rows[i] = i;
    tq_sequence *s = NULL;
    ok(tq_sequence_create(ctx, &s));
    ok(tq_sequence_record_write(s, src, 0, x, sizeof x));
    ok(tq_sequence_record_write(s, q, 0, qv, sizeof qv));
    tq_quantize_params qp = { .src = src, .dst = cache, .rows = rows, .n_rows = N_CTX };
    ok(tq_sequence_record_quantize(s, &qp));
    tq_attention_params ap = { .q = q, .k = cache, .v = cache, .out = out, .n_kv = N_CTX };
    ok(tq_sequence_record_attention(s, &ap));
    ok(tq_sequence_record_read(s, out, 0, o, sizeof o));
    ok(tq_sequence_submit(s));
    ok(tq_sequence_wait(s, UINT64_MAX));

    uint64_t rb = tq_type_row_bytes(TQ_TYPE_TURBO3, D);
    unsigned char got[N_CTX * 50], want[N_CTX * 50];
    assert_int_equal(rb, 50);
    ok(tq_tensor_read(cache, 0, got, sizeof got));
    for (int i = 0; i < N_CTX; i++)
        ok(tq_ref_quantize_row(TQ_TYPE_TURBO3, x + i * D, D, want + i * rb));
    if (!strcmp(tq_backend_name(b), "ref"))
        assert_memory_equal(got, want, sizeof got);
    tq_ref_attention_args a = { .q = qv, .k = got, .v = got, .out = ref_o,
                                .type_k = TQ_TYPE_TURBO3, .type_v = TQ_TYPE_TURBO3, .d = D,
                                .n_head = 1, .n_q = 1, .n_seq = 1, .n_kv_head = N_KV_HEAD,
                                .n_ctx = N_CTX, .n_kv = N_CTX, .scale = 1.0f / sqrtf(D) };
    ok(tq_ref_attention(&a));
    double num = 0, den = 0;
    for (int i = 0; i < D; i++) {
        num += ((double)o[i] - ref_o[i]) * ((double)o[i] - ref_o[i]);
        den += (double)ref_o[i] * ref_o[i];
    }
    assert_true(num <= 1e-6 * den);

    tq_sequence_destroy(s);
    tq_tensor_destroy(out);
    tq_tensor_destroy(q);
    tq_tensor_destroy(cache);
    tq_tensor_destroy(src);
    tq_memory_stats ms;
    ok(tq_context_memory(ctx, &ms));
    assert_int_equal(ms.current[TQ_MEM_KV], 0);
    tq_context_destroy(ctx);
}

static void create_destroy_repeatedly(void **state)
{
    char first[512] = "";
    for (int round = 0; round < 4; round++) {
        tq_runtime *rt = NULL;
        ok(tq_runtime_create(NULL, &rt));
        /* The same plugins load every time. */
        char loaded[512] = "";
        for (uint32_t i = 0; i < tq_runtime_backend_count(rt); i++) {
            tq_backend *b = tq_runtime_backend_get(rt, i);
            strncat(loaded, tq_backend_name(b), sizeof loaded - strlen(loaded) - 2);
            strcat(loaded, " ");
            for (uint32_t d = 0; d < tq_backend_device_count(b); d++) {
                tq_device_info info = { .struct_size = sizeof info };
                ok(tq_backend_device_info(b, d, &info));
                assert_true(info.name[0] != 0);
            }
            /* Contexts and ops on the host backends every round; the GPU drivers'
             * contexts only in the first round (building their kernels is slow). */
            const char *n = tq_backend_name(b);
            if (!strcmp(n, "cpu") || !strcmp(n, "ref"))
                roundtrip(b, round);
            else if (round == 0 && tq_backend_device_count(b) > 0) {
                tq_context *ctx = NULL;
                tq_status st = tq_context_create(b, 0, NULL, &ctx);
                if (st)
                    print_message("note: %s context: %s\n", n, tq_status_message(st));
                tq_status_free(st);
                tq_context_destroy(ctx);
            }
        }
        assert_non_null(strstr(loaded, "ref "));
        if (round == 0)
            snprintf(first, sizeof first, "%s", loaded);
        else
            assert_string_equal(first, loaded);
        tq_runtime_destroy(rt);
    }
    print_message("reloaded 4 times: %s\n", first);
}

/* A private directory (mode 0700: trusted) with tq/plugins inside. */
static char *make_dir(char *tmpl_storage)
{
    char *d = mkdtemp(tmpl_storage);
    assert_non_null(d);
    char *t = path2(d, "tq");
    assert_int_equal(mkdir(t, 0755), 0);
    char *p = path2(t, "plugins");
    assert_int_equal(mkdir(p, 0755), 0);
    free(t);
    return p;
}

static void remove_tree(const char *dir, const char *const *files)
{
    for (int i = 0; files[i]; i++) {
        char *f = path2(dir, files[i]);
        unlink(f);
        free(f);
    }
}

static void two_copies_of_a_plugin(void **state)
{
    char tmpl[] = "/tmp/tq_copyplugin_XXXXXX";
    char *pdir = make_dir(tmpl);
    char *src = path2(plugin_dir(), "libtq_ref.so");
    char *dst = path2(pdir, "libtq_refcopy.so");
    assert_true(copy_file(src, dst));
    char *man = path2(pdir, "ref.json");
    write_text(man, "{ \"name\": \"ref\", \"library\": \"libtq_refcopy.so\", \"abi_major\": 1 }\n");

    tq_runtime_options oa = { .struct_size = sizeof oa, .skip_env = true, .only_backends = "ref" };
    tq_runtime_options ob = { .struct_size = sizeof ob, .skip_env = true,
                              .skip_install_dir = true, .plugin_path = pdir };
    tq_runtime *a = NULL, *b = NULL;
    ok(tq_runtime_create(&oa, &a));
    ok(tq_runtime_create(&ob, &b));
    tq_backend *ba = NULL, *bb = NULL;
    ok(tq_runtime_backend_find(a, "ref", &ba));
    ok(tq_runtime_backend_find(b, "ref", &bb));
    assert_string_not_equal(tq_backend_library(ba), tq_backend_library(bb));
    assert_non_null(strstr(tq_backend_library(bb), "libtq_refcopy.so"));

    /* Interleaved use, then the first copy goes away and the second keeps working: had
     * the copies shared symbols, the second would now call into unmapped code. */
    roundtrip(ba, 1);
    roundtrip(bb, 2);
    roundtrip(ba, 3);
    tq_runtime_destroy(a);
    roundtrip(bb, 4);
    tq_runtime_destroy(b);

    const char *files[] = { "libtq_refcopy.so", "ref.json", NULL };
    remove_tree(pdir, files);
    rmdir(pdir);
    *strrchr(pdir, '/') = 0;
    rmdir(pdir);
    rmdir(tmpl);
    free(src);
    free(dst);
    free(man);
    free(pdir);
}

/* The entry points of a privately loaded libtq. */
typedef struct lib {
    tq_status (*runtime_create)(const tq_runtime_options *, tq_runtime **);
    void (*runtime_destroy)(tq_runtime *);
    const char *(*search_path)(const tq_runtime *);
    tq_status (*backend_find)(const tq_runtime *, const char *, tq_backend **);
    const char *(*backend_library)(const tq_backend *);
    tq_status (*context_create)(tq_backend *, uint32_t, const char *, tq_context **);
    void (*context_destroy)(tq_context *);
    tq_status (*kv_create)(tq_context *, const tq_kv_cache_desc *, tq_kv_cache **);
    void (*kv_destroy)(tq_kv_cache *);
    tq_status (*context_memory)(const tq_context *, tq_memory_stats *);
    const char *(*status_message)(tq_status);
    void (*status_free)(tq_status);
} lib;

#define SYM(h, l, field, name) \
    do { void *p_ = dlsym(h, name); assert_non_null(p_); memcpy(&(l)->field, &p_, sizeof p_); } while (0)

static void lib_ok(const lib *l, tq_status st)
{
    if (st)
        fail_msg("%s", l->status_message(st));
}

static void two_copies_of_libtq(void **state)
{
    Dl_info info;
    assert_true(dladdr((void *)&tq_runtime_create, &info) && info.dli_fname);
    char tmpl[] = "/tmp/tq_copylib_XXXXXX";
    char *pdir = make_dir(tmpl);
    char *libcopy = path2(tmpl, "libtq.so.0");
    assert_true(copy_file(info.dli_fname, libcopy));
    char *src = path2(plugin_dir(), "libtq_cpu.so");
    char *dst = path2(pdir, "libtq_cpu.so");
    bool have_cpu = access(src, R_OK) == 0;
    if (!have_cpu) {
        free(src);
        free(dst);
        src = path2(plugin_dir(), "libtq_ref.so");
        dst = path2(pdir, "libtq_ref.so");
    }
    assert_true(copy_file(src, dst));
    char *man = path2(pdir, "copy.json");
    write_text(man, have_cpu ? "{ \"name\": \"cpu\", \"library\": \"libtq_cpu.so\", \"abi_major\": 1 }\n"
                             : "{ \"name\": \"ref\", \"library\": \"libtq_ref.so\", \"abi_major\": 1 }\n");
    const char *name = have_cpu ? "cpu" : "ref";

    void *h = dlopen(libcopy, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    lib l;
    SYM(h, &l, runtime_create, "tq_runtime_create");
    SYM(h, &l, runtime_destroy, "tq_runtime_destroy");
    SYM(h, &l, search_path, "tq_runtime_search_path");
    SYM(h, &l, backend_find, "tq_runtime_backend_find");
    SYM(h, &l, backend_library, "tq_backend_library");
    SYM(h, &l, context_create, "tq_context_create");
    SYM(h, &l, context_destroy, "tq_context_destroy");
    SYM(h, &l, kv_create, "tq_kv_cache_create");
    SYM(h, &l, kv_destroy, "tq_kv_cache_destroy");
    SYM(h, &l, context_memory, "tq_context_memory");
    SYM(h, &l, status_message, "tq_status_message");
    SYM(h, &l, status_free, "tq_status_free");
    assert_ptr_not_equal((void *)l.runtime_create, (void *)tq_runtime_create);

    /* Each copy searches the directory next to itself. */
    tq_runtime_options o = { .struct_size = sizeof o, .skip_env = true };
    tq_runtime *mine = NULL, *theirs = NULL;
    ok(tq_runtime_create(&o, &mine));
    lib_ok(&l, l.runtime_create(&o, &theirs));
    assert_string_equal(l.search_path(theirs), pdir);
    assert_string_not_equal(tq_runtime_search_path(mine), pdir);
    tq_backend *b = NULL;
    lib_ok(&l, l.backend_find(theirs, name, &b));
    assert_string_equal(l.backend_library(b), dst);

    /* Accounting of the copy is its own: a cache there is not seen here. */
    tq_context *ctx = NULL;
    lib_ok(&l, l.context_create(b, 0, NULL, &ctx));
    tq_kv_cache_desc desc = { .n_layer = 2, .n_kv_head = 1, .head_dim = 128, .n_ctx = 16,
                              .n_seq = 1, .type_k = TQ_TYPE_Q8_0, .type_v = TQ_TYPE_TURBO3 };
    tq_kv_cache *kv = NULL;
    lib_ok(&l, l.kv_create(ctx, &desc, &kv));
    tq_memory_stats ms;
    lib_ok(&l, l.context_memory(ctx, &ms));
    assert_int_equal(ms.current[TQ_MEM_KV], 2 * 16 * (136 + 50));

    tq_backend *mb = NULL;
    ok(tq_runtime_backend_find(mine, "ref", &mb));
    roundtrip(mb, 7);   /* this copy works while the other holds a cache */

    l.kv_destroy(kv);
    l.context_destroy(ctx);
    l.runtime_destroy(theirs);
    dlclose(h);
    tq_backend *mb2 = NULL;
    ok(tq_runtime_backend_find(mine, "ref", &mb2));
    roundtrip(mb2, 8);   /* and after it is gone */
    tq_runtime_destroy(mine);

    unlink(man);
    unlink(dst);
    unlink(libcopy);
    rmdir(pdir);
    *strrchr(pdir, '/') = 0;
    rmdir(pdir);
    rmdir(tmpl);
    free(man);
    free(src);
    free(dst);
    free(libcopy);
    free(pdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_destroy_repeatedly),
        cmocka_unit_test(two_copies_of_a_plugin),
        cmocka_unit_test(two_copies_of_libtq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
