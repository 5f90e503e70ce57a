/*
 * test_vulkan_env.c: the Vulkan backend's behaviour around the kernels: missing loader,
 * options, variants and profiling modes, forced subgroup sizes, scratch sizing, the
 * on-disk pipeline cache, timings.
 */
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

#include "vk_test_util.h"

const tq_plugin_desc *tq_plugin_query(void);

typedef void (*cache_info_fn)(void *ctx, char *path, size_t cap, uint64_t *loaded,
                              uint32_t *built);

static void make_attn(vkt *t, vkt_tensor *q, vkt_tensor *k, vkt_tensor *v, vkt_tensor *o,
                      tq_type tk, tq_type tv, int64_t d, int64_t nh, int64_t nkh, int64_t nq,
                      int64_t n_ctx, tq_op *op, int64_t n_kv)
{
    vkt_tensor_new(t, q, TQ_TYPE_F32, d, nh, nq, 1, 0);
    vkt_tensor_new(t, k, tk, d, n_ctx, nkh, 1, 0);
    vkt_tensor_new(t, v, tv, d, n_ctx, nkh, 1, 0);
    vkt_tensor_new(t, o, TQ_TYPE_F32, d, nh, nq, 1, 0);
    /* zero K/V/Q: a valid (if dull) cache for every type */
    uint64_t big = k->bytes > v->bytes ? k->bytes : v->bytes;
    void *z = calloc(1, big > q->bytes ? big : q->bytes);
    vkt_tensor_write(t, q, z, q->bytes);
    vkt_tensor_write(t, k, z, k->bytes);
    vkt_tensor_write(t, v, z, v->bytes);
    free(z);
    memset(op, 0, sizeof(*op));
    op->struct_size = sizeof(*op);
    op->kind = TQ_OP_ATTENTION;
    op->q = q->ref;
    op->k = k->ref;
    op->v = v->ref;
    op->out = o->ref;
    op->n_kv = n_kv;
    op->scale = 1.0f / sqrtf((float)d);
}

static void free4(vkt *t, vkt_tensor *a, vkt_tensor *b, vkt_tensor *c, vkt_tensor *d)
{
    vkt_tensor_free(t, a);
    vkt_tensor_free(t, b);
    vkt_tensor_free(t, c);
    vkt_tensor_free(t, d);
}

static void test_missing_loader_is_a_clear_error(void **state)
{
    (void)state;
    setenv("TQ_VULKAN_LOADER", "/nonexistent/dir/libvulkan.so.1", 1);
    void *st = NULL;
    tq_status s = tq_plugin_query()->ops->init(&vkt_host, &st);
    unsetenv("TQ_VULKAN_LOADER");
    assert_non_null(s);
    assert_int_equal(tq_status_code(s), TQ_CODE_NOT_FOUND);
    const char *m = tq_status_message(s);
    assert_non_null(strstr(m, "/nonexistent/dir/libvulkan.so.1"));
    assert_non_null(strstr(m, "libvulkan1"));   /* says what to install */
    tq_status_free(s);
}

static void test_no_driver_means_no_device_not_a_crash(void **state)
{
    (void)state;
    char dir[] = "/tmp/tq_vk_noicd_XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("VK_DRIVER_FILES", dir, 1);
    setenv("VK_ICD_FILENAMES", dir, 1);
    void *st = NULL;
    tq_status s = tq_plugin_query()->ops->init(&vkt_host, &st);
    unsetenv("VK_DRIVER_FILES");
    unsetenv("VK_ICD_FILENAMES");
    rmdir(dir);
    if (s) {   /* some loaders fail vkCreateInstance without drivers */
        assert_non_null(strstr(tq_status_message(s), "vulkan"));
        tq_status_free(s);
        return;
    }
    assert_int_equal(tq_plugin_query()->ops->device_count(st), 0);
    tq_plugin_query()->ops->shutdown(st);
}

static void test_device_info_of_lavapipe(void **state)
{
    (void)state;
    vkt t;
    if (!vkt_open(&t, NULL))
        skip();
    tq_device_info info;
    assert_null(t.ops->device_info(t.state, t.device, &info));
    assert_int_equal(info.type, TQ_DEVICE_CPU);
    assert_true(info.score < 0);
    assert_non_null(strstr(info.note, "asked for by name"));
    assert_true(strncmp(info.id, "vulkan:", 7) == 0);
    assert_true(strlen(info.id) == strlen("vulkan:10005:0000:") + 32 ||
                strlen(info.id) == strlen("vulkan:1234:5678:") + 32);
    assert_true(info.memory_total > 0);
    assert_non_null(strstr(info.features, "subgroup="));
    assert_non_null(strstr(info.default_variant, "split-k/"));
    vkt_close(&t);
}

static void test_bad_options_are_rejected(void **state)
{
    (void)state;
    vkt t;
    const char *bad[] = { "variant=fast", "mode=turbo", "frobnicate=1", "splits=0", "subgroup=3",
                          "subgroup=4096", "types=maybe", "novalue", "alloc=exact", "keys=3",
                          "reduce=tree", "softmax=fast", "softmax=", "stats=yes" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tq_status s = vkt_open_status(&t, bad[i]);
        if (s && tq_status_code(s) == TQ_CODE_NOT_FOUND && strstr(tq_status_message(s), "no Vulkan device")) {
            tq_status_free(s);
            skip();
        }
        if (!s)
            fail_msg("option '%s' was accepted", bad[i]);
        assert_true(tq_status_code(s) == TQ_CODE_INVALID_ARGUMENT ||
                    tq_status_code(s) == TQ_CODE_UNSUPPORTED);
        tq_status_free(s);
    }
    /* a value outside a fixed set names the set */
    tq_status s = vkt_open_status(&t, "variant=fast");
    assert_non_null(strstr(tq_status_message(s), "unknown variant 'fast' (known: table, magsign, arith)"));
    tq_status_free(s);
    s = vkt_open_status(&t, "mode=turbo");
    assert_non_null(strstr(tq_status_message(s), "(known: full, nodequant, normsonly, readbytes, indices)"));
    tq_status_free(s);
    s = vkt_open_status(&t, "kernel=fast");
    assert_non_null(strstr(tq_status_message(s), "unknown kernel 'fast' (known: fd, tiled)"));
    tq_status_free(s);
}

/* Opens a context with opts and runs one small decode attention (turbo3 K, tv V, 40 of
 * 64 positions, GQA 4): its status (NULL: it ran, the variant is in *tm). Skips the test
 * where there is no Vulkan device. */
static tq_status run_small_attn(const char *opts, tq_type tv, tq_plugin_timing *tm)
{
    vkt t;
    if (!vkt_open(&t, opts))
        skip();
    vkt_tensor q, k, v, out;
    tq_op op;
    make_attn(&t, &q, &k, &v, &out, TQ_TYPE_TURBO3, tv, 128, 4, 1, 1, 64, &op, 40);
    tq_status s = vkt_run_status(&t, &op, tm);
    free4(&t, &q, &k, &v, &out);
    vkt_close(&t);
    return s;
}

/* run_small_attn that must succeed; a failure names the options and the status. */
static void run_small_attn_ok(const char *opts, tq_type tv, tq_plugin_timing *tm)
{
    tq_status s = run_small_attn(opts, tv, tm);
    if (s)
        fail_msg("options '%s': %s", opts, tq_status_message(s));
}

/* The variant string says which strategy and profiling mode ran, so a wrong-by-design
 * profiling result cannot be mistaken for a real one. */
static void test_variants_and_modes_are_reported(void **state)
{
    (void)state;
    /* Each strategy and mode on both attention kernels: the tiled kernel's string is pinned
     * exactly; the flash-decoding kernel also names its lanes, reduction and keys per step,
     * which depend on the device, so only its kernel prefix and the strategy/mode suffix are. */
    const char *opts[] = { "variant=table", "variant=magsign,mode=normsonly", "variant=arith",
                           "mode=nodequant", "mode=readbytes", "mode=indices" };
    const char *want[] = { "split-k/table", "split-k/magsign/mode=normsonly", "split-k/arith",
                           "split-k/table/mode=nodequant", "split-k/table/mode=readbytes",
                           "split-k/table/mode=indices" };
    for (int kernel = 0; kernel < 2; kernel++) {
        for (unsigned i = 0; i < 6; i++) {
            char o[128];
            snprintf(o, sizeof o, "kernel=%s,%s", kernel ? "fd" : "tiled", opts[i]);
            tq_plugin_timing tm;
            run_small_attn_ok(o, TQ_TYPE_TURBO3, &tm);
            if (kernel == 0) {
                assert_string_equal(tm.variant, want[i]);
            } else {
                const char *suffix = want[i] + strlen("split-k");   /* "/table", "/magsign/mode=..." */
                size_t lv = strlen(tm.variant), ls = strlen(suffix);
                if (strncmp(tm.variant, "split-k-fd/", 11) != 0 || lv < ls ||
                    strcmp(tm.variant + lv - ls, suffix) != 0)
                    fail_msg("fd kernel reported '%s', want 'split-k-fd/...%s'", tm.variant, suffix);
            }
            assert_true(tm.bytes_read >= 40 * 2 * 50);
        }
    }
}

/* Table, magsign and arith decode agree with the reference (the ops test covers table). */
static void test_every_variant_is_correct(void **state)
{
    (void)state;
    const char *opts[] = { "variant=magsign", "variant=arith", "variant=table,types=specialized",
                           "kernel=fd,reduce=shared",               /* the default is transpose */
                           "kernel=fd,reduce=transpose,keys=8",     /* 32 values: 2 per lane */
                           "kernel=fd,softmax=lanes",               /* the default is owner */
                           "kernel=fd,softmax=owner,keys=8,types=specialized" };
    for (unsigned i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        vkt t;
        if (!vkt_open(&t, opts[i]))
            skip();
        for (int tt = TQ_TYPE_TURBO2; tt <= TQ_TYPE_TURBO4; tt++) {
            int64_t d = 128, nkv = 50, nctx = 64;
            float *kf = malloc(d * nctx * 4), *vf = malloc(d * nctx * 4), *qf = malloc(d * 4 * 4);
            vkt_fill_randn(kf, d * nctx, 5 + tt);
            vkt_fill_randn(vf, d * nctx, 6 + tt);
            vkt_fill_randn(qf, d * 4, 7 + tt);
            uint64_t rb = tq_type_row_bytes((tq_type)tt, d);
            uint8_t *kq = malloc(rb * nctx), *vq = malloc(rb * nctx);
            for (int64_t r = 0; r < nctx; r++) {
                assert_null(tq_ref_quantize_row((tq_type)tt, kf + r * d, d, kq + r * rb));
                assert_null(tq_ref_quantize_row((tq_type)tt, vf + r * d, d, vq + r * rb));
            }
            vkt_tensor q, k, v, o;
            tq_op op;
            make_attn(&t, &q, &k, &v, &o, (tq_type)tt, (tq_type)tt, d, 4, 1, 1, nctx, &op, nkv);
            vkt_tensor_write(&t, &q, qf, d * 4 * 4);
            vkt_tensor_write(&t, &k, kq, rb * nctx);
            vkt_tensor_write(&t, &v, vq, rb * nctx);
            vkt_run(&t, &op, NULL);
            float got[512], want[512];
            vkt_tensor_read(&t, &o, got, sizeof(got));
            tq_ref_attention_args a = { .q = qf, .k = kq, .v = vq, .out = want, .type_k = (tq_type)tt,
                                        .type_v = (tq_type)tt, .d = d, .n_head = 4, .n_q = 1,
                                        .n_seq = 1, .n_kv_head = 1, .n_ctx = nctx, .n_kv = nkv,
                                        .scale = op.scale };
            assert_null(tq_ref_attention(&a));
            double num = 0, den = 0;
            for (int e = 0; e < 512; e++) {
                num += (double)(got[e] - want[e]) * (got[e] - want[e]);
                den += (double)want[e] * want[e];
            }
            if (!(num / den <= 1e-6))
                fail_msg("%s with %s: NMSE %g", opts[i], tq_type_name((tq_type)tt), num / den);
            free4(&t, &q, &k, &v, &o);
            free(kf); free(vf); free(qf); free(kq); free(vq);
        }
        vkt_close(&t);
    }
}

/* The fd kernel's online softmax runs in one owner lane per row by default and says so;
 * asked for where it cannot run (the plain shared-memory sums), it is an error naming
 * why, never silently replaced by the other softmax. */
static void test_softmax_owner_default_and_refusal(void **state)
{
    (void)state;
    tq_plugin_timing tm;
    run_small_attn_ok("kernel=fd", TQ_TYPE_Q8_0, &tm);
    if (!strstr(tm.variant, "-tsmem/") || !strstr(tm.variant, "/smo"))
        fail_msg("default fd variant '%s': want transposed sums with the owner softmax", tm.variant);

    run_small_attn_ok("kernel=fd,softmax=lanes", TQ_TYPE_Q8_0, &tm);
    assert_null(strstr(tm.variant, "/smo"));

    tq_status s = run_small_attn("kernel=fd,reduce=shared,softmax=owner", TQ_TYPE_Q8_0, &tm);
    assert_non_null(s);
    assert_int_equal(tq_status_code(s), TQ_CODE_UNSUPPORTED);
    assert_non_null(strstr(tq_status_message(s), "softmax=owner needs reduce=transpose"));
    tq_status_free(s);
}

/* stats=1 (compiler statistics per pipeline) works where the device has
 * VK_KHR_pipeline_executable_properties and is otherwise refused with the extension's
 * name; either way nothing is silently ignored. */
static void test_pipeline_stats_option(void **state)
{
    (void)state;
    vkt t;
    tq_status s = vkt_open_status(&t, "stats=1");
    if (s) {
        if (tq_status_code(s) == TQ_CODE_NOT_FOUND) {
            tq_status_free(s);
            skip();
        }
        assert_int_equal(tq_status_code(s), TQ_CODE_UNSUPPORTED);
        assert_non_null(strstr(tq_status_message(s), "VK_KHR_pipeline_executable_properties"));
        tq_status_free(s);
        return;
    }
    vkt_tensor q, k, v, out;
    tq_op op;
    make_attn(&t, &q, &k, &v, &out, TQ_TYPE_TURBO3, TQ_TYPE_TURBO3, 128, 4, 1, 1, 64, &op, 40);
    tq_plugin_timing tm;
    vkt_run(&t, &op, &tm);
    assert_non_null(strstr(tm.variant, "split-k"));
    free4(&t, &q, &k, &v, &out);
    vkt_close(&t);
}

/* Subgroup-size independence: every size the device can be forced to gives the same
 * answer; sizes it cannot do are refused (never silently ignored). */
static void test_forced_subgroup_sizes(void **state)
{
    (void)state;
    int ran = 0;
    float first[128 * 4];
    for (uint32_t sg = 4; sg <= 128; sg *= 2) {
        char o[32];
        snprintf(o, sizeof(o), "subgroup=%u", sg);
        vkt t;
        tq_status s = vkt_open_status(&t, o);
        if (s) {
            assert_true(tq_status_code(s) == TQ_CODE_UNSUPPORTED ||
                        tq_status_code(s) == TQ_CODE_NOT_FOUND);
            tq_status_free(s);
            continue;
        }
        int64_t d = 128, nctx = 40;
        float *kf = malloc(d * nctx * 4), *qf = malloc(d * 4 * 4);
        vkt_fill_randn(kf, d * nctx, 9);
        vkt_fill_randn(qf, d * 4, 10);
        uint64_t rb = tq_type_row_bytes(TQ_TYPE_TURBO3, d);
        uint8_t *kq = malloc(rb * nctx);
        for (int64_t r = 0; r < nctx; r++)
            assert_null(tq_ref_quantize_row(TQ_TYPE_TURBO3, kf + r * d, d, kq + r * rb));
        vkt_tensor q, k, v, out;
        tq_op op;
        make_attn(&t, &q, &k, &v, &out, TQ_TYPE_TURBO3, TQ_TYPE_TURBO3, d, 4, 1, 1, nctx, &op, nctx);
        vkt_tensor_write(&t, &q, qf, d * 4 * 4);
        vkt_tensor_write(&t, &k, kq, rb * nctx);
        vkt_tensor_write(&t, &v, kq, rb * nctx);
        vkt_run(&t, &op, NULL);
        float got[128 * 4];
        vkt_tensor_read(&t, &out, got, sizeof(got));
        if (ran == 0)
            memcpy(first, got, sizeof(got));
        else
            for (int i = 0; i < 512; i++)
                assert_true(fabsf(got[i] - first[i]) <= 1e-5f * (1 + fabsf(first[i])));
        ran++;
        free4(&t, &q, &k, &v, &out);
        free(kf); free(qf); free(kq);
        vkt_close(&t);
    }
    fprintf(stderr, "forced subgroup sizes run: %d\n", ran);
}

/* Decode scratch comes from the dispatch (n_kv, heads), never from the reserved n_ctx. */
static void test_decode_scratch_does_not_grow_with_n_ctx(void **state)
{
    (void)state;
    int64_t scratch[2];
    const int64_t ctxs[2] = { 1024, 65536 };
    for (int i = 0; i < 2; i++) {
        vkt t;
        if (!vkt_open(&t, NULL))
            skip();
        vkt_tensor q, k, v, o;
        tq_op op;
        make_attn(&t, &q, &k, &v, &o, TQ_TYPE_TURBO3, TQ_TYPE_Q8_0, 128, 8, 2, 1, ctxs[i], &op, 512);
        int64_t before = vkt_mem[TQ_MEM_SCRATCH];
        void *seq;
        assert_null(t.ops->seq_create(t.ctx, &seq));
        assert_null(t.ops->seq_record(seq, &op));
        scratch[i] = vkt_mem[TQ_MEM_SCRATCH] - before;
        assert_true(scratch[i] > 0);
        assert_null(t.ops->seq_reset(seq));
        assert_int_equal(vkt_mem[TQ_MEM_SCRATCH], before);   /* freed on reset */
        t.ops->seq_destroy(seq);
        free4(&t, &q, &k, &v, &o);
        vkt_close(&t);
    }
    assert_int_equal(scratch[0], scratch[1]);
}

/* Sequences replay, report per-op timings, and copy data in order. */
static void test_sequence_replay_and_timings(void **state)
{
    (void)state;
    vkt t;
    if (!vkt_open(&t, NULL))
        skip();
    vkt_tensor a;
    vkt_tensor_new(&t, &a, TQ_TYPE_F32, 128, 2, 1, 1, 0);
    float x[256], y[256];
    vkt_fill_randn(x, 256, 3);
    void *seq;
    assert_null(t.ops->seq_create(t.ctx, &seq));
    tq_op w = { .struct_size = sizeof(w), .kind = TQ_OP_WRITE, .dst = a.ref, .host_src = x,
                .offset = 0, .size = sizeof(x) };
    tq_op r = { .struct_size = sizeof(r), .kind = TQ_OP_ROTATE, .src = a.ref, .dst = a.ref };
    tq_op rd = { .struct_size = sizeof(rd), .kind = TQ_OP_READ, .src = a.ref, .host_dst = y,
                 .offset = 0, .size = sizeof(y) };
    assert_null(t.ops->seq_record(seq, &w));
    assert_null(t.ops->seq_record(seq, &r));
    assert_null(t.ops->seq_record(seq, &rd));
    for (int rep = 0; rep < 2; rep++) {   /* replay gives the same result */
        memset(y, 0, sizeof(y));
        assert_null(t.ops->seq_submit(seq));
        assert_null(t.ops->seq_wait(seq, UINT64_MAX));
        float ref[128];
        memcpy(ref, x + 128, sizeof(ref));
        tq_ref_rotate_forward(ref);
        for (int i = 0; i < 128; i++)
            assert_true(fabsf(y[128 + i] - ref[i]) <= 1e-5f * 4);
    }
    tq_plugin_timing tm;
    assert_null(t.ops->seq_timing(seq, 0, &tm));
    assert_string_equal(tm.op, "write");
    assert_null(t.ops->seq_timing(seq, 1, &tm));
    assert_string_equal(tm.op, "rotate");
    assert_string_equal(tm.variant, "wg128/forward");
    assert_true(tm.bytes_read == sizeof(x));
    assert_null(t.ops->seq_timing(seq, 2, &tm));
    assert_string_equal(tm.op, "read");
    tq_status s = t.ops->seq_timing(seq, 3, &tm);
    assert_int_equal(tq_status_code(s), TQ_CODE_OUT_OF_RANGE);
    tq_status_free(s);
    t.ops->seq_destroy(seq);
    vkt_tensor_free(&t, &a);
    vkt_close(&t);
}

static cache_info_fn get_cache_info(vkt *t)
{
    void *p = t->ops->get_extra(t->state, "vulkan.cache_info");
    cache_info_fn fn;
    memcpy(&fn, &p, sizeof(fn));
    return fn;
}

static void run_small_op(vkt *t)
{
    vkt_tensor a;
    vkt_tensor_new(t, &a, TQ_TYPE_F32, 128, 1, 1, 1, 0);
    tq_op r = { .struct_size = sizeof(r), .kind = TQ_OP_ROTATE, .src = a.ref, .dst = a.ref };
    vkt_run(t, &r, NULL);
    vkt_tensor_free(t, &a);
}

static void test_pipeline_cache_written_reused_and_corruption_ignored(void **state)
{
    (void)state;
    char dir[] = "/tmp/tq_vk_cache_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *old = getenv("TQ_CACHE_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TQ_CACHE_DIR", dir, 1);
    vkt t;
    if (!vkt_open(&t, NULL)) {
        free(saved);
        skip();
    }
    cache_info_fn info = get_cache_info(&t);
    assert_non_null(info);
    char path[1024];
    uint64_t loaded;
    uint32_t built;
    info(t.ctx, path, sizeof(path), &loaded, &built);
    assert_int_equal(loaded, 0);
    assert_true(strncmp(path, dir, strlen(dir)) == 0);
    run_small_op(&t);
    vkt_close(&t);                          /* saved on context destruction */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 64);
    FILE *fp = fopen(path, "rb");
    char magic[9] = { 0 };
    assert_int_equal(fread(magic, 1, 8, fp), 8);
    fclose(fp);
    assert_string_equal(magic, "TQVKPC01");

    assert_true(vkt_open(&t, NULL));        /* reused */
    info = get_cache_info(&t);
    info(t.ctx, NULL, 0, &loaded, NULL);
    assert_true(loaded > 0);
    vkt_close(&t);

    /* corrupt: flip a byte of the driver's blob (checksum), then garbage header */
    for (int mode = 0; mode < 2; mode++) {
        fp = fopen(path, "r+b");
        if (mode == 0) {
            fseek(fp, sb.st_size - 1, SEEK_SET);
            int c = fgetc(fp);
            fseek(fp, sb.st_size - 1, SEEK_SET);
            fputc(c ^ 0x5a, fp);
        } else {
            fwrite("garbage!garbage!", 1, 16, fp);
        }
        fclose(fp);
        assert_true(vkt_open(&t, NULL));
        info = get_cache_info(&t);
        info(t.ctx, NULL, 0, &loaded, NULL);
        assert_int_equal(loaded, 0);         /* ignored */
        run_small_op(&t);                    /* and the context still works */
        vkt_close(&t);                       /* and rewrites a good file */
        assert_true(vkt_open(&t, NULL));
        info = get_cache_info(&t);
        info(t.ctx, NULL, 0, &loaded, NULL);
        assert_true(loaded > 0);
        vkt_close(&t);
    }
    unlink(path);
    rmdir(dir);

    setenv("TQ_CACHE_DIR", "off", 1);       /* disabled: no path, nothing written */
    assert_true(vkt_open(&t, NULL));
    info = get_cache_info(&t);
    info(t.ctx, path, sizeof(path), &loaded, NULL);
    assert_string_equal(path, "");
    vkt_close(&t);
    if (saved) {
        setenv("TQ_CACHE_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TQ_CACHE_DIR");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_loader_is_a_clear_error),
        cmocka_unit_test(test_no_driver_means_no_device_not_a_crash),
        cmocka_unit_test(test_device_info_of_lavapipe),
        cmocka_unit_test(test_bad_options_are_rejected),
        cmocka_unit_test(test_variants_and_modes_are_reported),
        cmocka_unit_test(test_every_variant_is_correct),
        cmocka_unit_test(test_softmax_owner_default_and_refusal),
        cmocka_unit_test(test_pipeline_stats_option),
        cmocka_unit_test(test_forced_subgroup_sizes),
        cmocka_unit_test(test_decode_scratch_does_not_grow_with_n_ctx),
        cmocka_unit_test(test_sequence_replay_and_timings),
        cmocka_unit_test(test_pipeline_cache_written_reused_and_corruption_ignored),
    };
    if (getenv("TQ_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TQ_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
