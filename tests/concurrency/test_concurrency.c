/*
 * test_concurrency.c: what tq.h promises about threads, exercised (and run under TSan):
 *   - one runtime queried from several threads at once;
 *   - several threads, each with its own context on the same backend and device, doing
 *     quantize + attention loops whose results are checked against the reference;
 *   - a context handed from thread to thread (one user at a time is allowed);
 *   - memory accounting shared by all contexts of a device stays exact under concurrent
 *     allocation and freeing (current, peak).
 * Backends: cpu (when built) and ref.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq/tq.h"
#include "tq/tq_ref.h"

#define N_THREADS 4
#define D 128
#define N_HEAD 4
#define N_KV_HEAD 2
#define N_CTX 32
#define STEPS 6

static tq_runtime *g_rt;

/* cmocka's assertions are not thread-safe: worker threads report failures as text. */
typedef struct worker {
    pthread_t th;
    int id;
    const char *backend;
    tq_type tk, tv;
    char error[512];
    tq_context *ctx;             /* for the hand-over test */
    pthread_barrier_t *barrier;  /* for the accounting test */
    uint64_t bytes;              /* for the accounting test */
} worker;

static bool fail_w(worker *w, tq_status st, const char *what)
{
    if (!st)
        return false;
    if (!w->error[0])
        snprintf(w->error, sizeof w->error, "thread %d (%s): %s: %s", w->id, w->backend, what,
                 tq_status_message(st));
    tq_status_free(st);
    return true;
}

static void fill(float *x, size_t n, uint32_t seed)
{
    uint32_t s = 0x9e3779b9u ^ (seed * 2654435761u);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
}

static tq_backend *backend(const char *name)
{
    tq_backend *b = NULL;
    tq_status st = tq_runtime_backend_find(g_rt, name, &b);
    tq_status_free(st);
    return b;
}

/* STEPS decode steps on the worker's own context: append one token's K/V rows, attention
 * of N_HEAD queries over the cache so far, compared with tq_ref_attention over the same
 * cache bytes (read back). */
static void *decode_loop(void *arg)
{
    worker *w = arg;
    tq_context *ctx = NULL;
    tq_tensor *kin = NULL, *vin = NULL, *q = NULL, *out = NULL, *k = NULL, *v = NULL;
    tq_sequence *seq = NULL;
    uint64_t kb = 0, vb = 0;
    unsigned char *kc = NULL, *vc = NULL;
    float kr[D * N_KV_HEAD], vr[D * N_KV_HEAD], qr[D * N_HEAD], o[D * N_HEAD], ref[D * N_HEAD];

    if (fail_w(w, tq_context_create(backend(w->backend), 0, NULL, &ctx), "context"))
        return NULL;
    int64_t in_ne[4] = { D, N_KV_HEAD, 1, 1 }, q_ne[4] = { D, N_HEAD, 1, 1 };
    int64_t c_ne[4] = { D, N_CTX, N_KV_HEAD, 1 };
    if (fail_w(w, tq_tensor_create(ctx, TQ_TYPE_F32, in_ne, TQ_MEM_IO, &kin), "kin") ||
        fail_w(w, tq_tensor_create(ctx, TQ_TYPE_F32, in_ne, TQ_MEM_IO, &vin), "vin") ||
        fail_w(w, tq_tensor_create(ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &q), "q") ||
        fail_w(w, tq_tensor_create(ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &out), "out") ||
        fail_w(w, tq_tensor_create(ctx, w->tk, c_ne, TQ_MEM_KV, &k), "k") ||
        fail_w(w, tq_tensor_create(ctx, w->tv, c_ne, TQ_MEM_KV, &v), "v") ||
        fail_w(w, tq_sequence_create(ctx, &seq), "sequence"))
        goto done;
    kb = tq_tensor_nbytes(k);
    vb = tq_tensor_nbytes(v);
    kc = malloc(kb);
    vc = malloc(vb);
    if (!kc || !vc) {
        snprintf(w->error, sizeof w->error, "thread %d: out of memory", w->id);
        goto done;
    }
    for (int64_t t = 0; t < STEPS; t++) {
        fill(kr, D * N_KV_HEAD, (uint32_t)(w->id * 1000 + t * 3));
        fill(vr, D * N_KV_HEAD, (uint32_t)(w->id * 1000 + t * 3 + 1));
        fill(qr, D * N_HEAD, (uint32_t)(w->id * 1000 + t * 3 + 2));
        tq_quantize_params pk = { .src = kin, .dst = k, .rows = &t, .n_rows = 1 };
        tq_quantize_params pv = { .src = vin, .dst = v, .rows = &t, .n_rows = 1 };
        tq_attention_params pa = { .q = q, .k = k, .v = v, .out = out, .n_kv = t + 1 };
        if (fail_w(w, tq_sequence_reset(seq), "reset") ||
            fail_w(w, tq_sequence_record_write(seq, kin, 0, kr, sizeof kr), "write") ||
            fail_w(w, tq_sequence_record_write(seq, vin, 0, vr, sizeof vr), "write") ||
            fail_w(w, tq_sequence_record_write(seq, q, 0, qr, sizeof qr), "write") ||
            fail_w(w, tq_sequence_record_quantize(seq, &pk), "quantize") ||
            fail_w(w, tq_sequence_record_quantize(seq, &pv), "quantize") ||
            fail_w(w, tq_sequence_record_attention(seq, &pa), "attention") ||
            fail_w(w, tq_sequence_record_read(seq, out, 0, o, sizeof o), "read") ||
            fail_w(w, tq_sequence_submit(seq), "submit") ||
            fail_w(w, tq_sequence_wait(seq, UINT64_MAX), "wait") ||
            fail_w(w, tq_tensor_read(k, 0, kc, kb), "read k") ||
            fail_w(w, tq_tensor_read(v, 0, vc, vb), "read v"))
            goto done;
        tq_ref_attention_args a = {
            .q = qr, .k = kc, .v = vc, .out = ref, .type_k = w->tk, .type_v = w->tv, .d = D,
            .n_head = N_HEAD, .n_q = 1, .n_seq = 1, .n_kv_head = N_KV_HEAD, .n_ctx = N_CTX,
            .n_kv = t + 1, .scale = 1.0f / sqrtf(D) };
        if (fail_w(w, tq_ref_attention(&a), "reference"))
            goto done;
        double num = 0, den = 0;
        for (int i = 0; i < D * N_HEAD; i++) {
            num += ((double)o[i] - ref[i]) * ((double)o[i] - ref[i]);
            den += (double)ref[i] * ref[i];
        }
        if (!(num <= 1e-6 * den)) {
            snprintf(w->error, sizeof w->error, "thread %d (%s, %s/%s) step %lld: attention "
                     "NMSE %g > 1e-6", w->id, w->backend, tq_type_name(w->tk),
                     tq_type_name(w->tv), (long long)t, den > 0 ? num / den : num);
            goto done;
        }
        /* The newest K row is this thread's data, not another thread's. */
        unsigned char want[8 * D];
        uint64_t rb = tq_type_row_bytes(w->tk, D);
        for (int h = 0; h < N_KV_HEAD; h++) {
            if (fail_w(w, tq_ref_quantize_row(w->tk, kr + h * D, D, want), "ref quantize"))
                goto done;
            const unsigned char *got = kc + ((uint64_t)h * N_CTX + (uint64_t)t) * rb;
            size_t diff = 0;
            for (uint64_t i = 0; i < rb; i++)
                diff += got[i] != want[i];
            /* Backends may differ from ref at decision boundaries; a few bytes at most. */
            if (diff > (strcmp(w->backend, "ref") ? rb / 8 : 0)) {
                snprintf(w->error, sizeof w->error, "thread %d (%s) step %lld head %d: %zu of "
                         "%llu K bytes differ from the reference", w->id, w->backend,
                         (long long)t, h, diff, (unsigned long long)rb);
                goto done;
            }
        }
    }
done:
    free(kc);
    free(vc);
    tq_sequence_destroy(seq);
    tq_tensor_destroy(v);
    tq_tensor_destroy(k);
    tq_tensor_destroy(out);
    tq_tensor_destroy(q);
    tq_tensor_destroy(vin);
    tq_tensor_destroy(kin);
    tq_context_destroy(ctx);
    return NULL;
}

static void join_all(worker *w, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
    for (int i = 0; i < n; i++)
        if (w[i].error[0])
            fail_msg("%s", w[i].error);
}

/* All device memory of (backend, device 0) as accounted now. */
static tq_memory_stats device_memory(const char *name)
{
    tq_context *ctx = NULL;
    tq_memory_stats ms;
    memset(&ms, 0, sizeof ms);
    tq_status st = tq_context_create(backend(name), 0, NULL, &ctx);
    if (st)
        fail_msg("%s", tq_status_message(st));
    st = tq_context_memory(ctx, &ms);
    if (st)
        fail_msg("%s", tq_status_message(st));
    tq_context_destroy(ctx);
    return ms;
}

static void separate_contexts_decode_in_parallel(void **state)
{
    static const tq_type pairs[N_THREADS][2] = {
        { TQ_TYPE_Q8_0, TQ_TYPE_TURBO4 }, { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 },
        { TQ_TYPE_Q4_0, TQ_TYPE_F16 }, { TQ_TYPE_TURBO2, TQ_TYPE_Q8_0 } };
    const char *names[2] = { "cpu", "ref" };
    worker w[2 * N_THREADS];
    int n = 0;
    memset(w, 0, sizeof w);
    for (int b = 0; b < 2; b++) {
        if (!backend(names[b]))
            continue;
        for (int i = 0; i < N_THREADS; i++, n++) {
            w[n].id = n;
            w[n].backend = names[b];
            w[n].tk = pairs[i][0];
            w[n].tv = pairs[i][1];
        }
    }
    assert_true(n >= N_THREADS);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&w[i].th, NULL, decode_loop, &w[i]), 0);
    join_all(w, n);
    /* Every context is gone: nothing may remain accounted on either device. */
    for (int b = 0; b < 2; b++) {
        if (!backend(names[b]))
            continue;
        tq_memory_stats ms = device_memory(names[b]);
        assert_int_equal(ms.current_total, 0);
        assert_true(ms.peak[TQ_MEM_KV] > 0);
    }
}

typedef struct query_worker {
    pthread_t th;
    char error[256];
} query_worker;

static void *query_loop(void *arg)
{
    query_worker *q = arg;
    tq_kv_cache_desc desc = { .n_layer = 48, .n_kv_head = 8, .head_dim = 128, .n_ctx = 131072,
                              .n_seq = 1, .type_k = TQ_TYPE_Q8_0, .type_v = TQ_TYPE_TURBO3 };
    for (int it = 0; it < 100 && !q->error[0]; it++) {
        uint32_t nb = tq_runtime_backend_count(g_rt);
        for (uint32_t i = 0; i < nb; i++) {
            tq_backend *b = tq_runtime_backend_get(g_rt, i);
            tq_backend *found = NULL;
            tq_status st = tq_runtime_backend_find(g_rt, tq_backend_name(b), &found);
            if (st || found != b)
                snprintf(q->error, sizeof q->error, "backend_find(%s) failed",
                         tq_backend_name(b));
            tq_status_free(st);
            for (uint32_t d = 0; d < tq_backend_device_count(b); d++) {
                tq_device_info info = { .struct_size = sizeof info };
                st = tq_backend_device_info(b, d, &info);
                if (st || !info.name[0] || !info.id[0])
                    snprintf(q->error, sizeof q->error, "device_info(%s, %u) failed",
                             tq_backend_name(b), d);
                tq_status_free(st);
            }
        }
        tq_backend *sb = NULL;
        uint32_t sd = 0;
        tq_status st = tq_runtime_select(g_rt, "ref", NULL, &sb, &sd);
        if (st || strcmp(tq_backend_name(sb), "ref") != 0)
            snprintf(q->error, sizeof q->error, "select(ref) failed");
        tq_status_free(st);
        tq_kv_cache_size sz;
        st = tq_kv_cache_predict(&desc, &sz);
        if (st || sz.total_bytes != 9361686528ull)
            snprintf(q->error, sizeof q->error, "kv_cache_predict: %llu",
                     (unsigned long long)sz.total_bytes);
        tq_status_free(st);
        /* Statuses are per call: messages of several threads do not mix. */
        st = tq_runtime_backend_find(g_rt, "no-such-backend", &sb);
        if (!st || !strstr(tq_status_message(st), "'no-such-backend'"))
            snprintf(q->error, sizeof q->error, "bad not-found message");
        tq_status_free(st);
    }
    return NULL;
}

static void one_runtime_queried_from_threads(void **state)
{
    query_worker q[N_THREADS];
    memset(q, 0, sizeof q);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&q[i].th, NULL, query_loop, &q[i]), 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(q[i].th, NULL), 0);
    for (int i = 0; i < N_THREADS; i++)
        if (q[i].error[0])
            fail_msg("%s", q[i].error);
}

/* One context, used by one thread at a time: created here, used in turn by threads that
 * run one after another, destroyed here. */
static void *use_handed_context(void *arg)
{
    worker *w = arg;
    int64_t ne[4] = { D, 4, 1, 1 };
    tq_tensor *t = NULL;
    float x[D * 4], y[D * 4];
    fill(x, D * 4, (uint32_t)w->id);
    if (fail_w(w, tq_tensor_create(w->ctx, TQ_TYPE_F32, ne, TQ_MEM_IO, &t), "tensor") ||
        fail_w(w, tq_tensor_write(t, 0, x, sizeof x), "write") ||
        fail_w(w, tq_tensor_read(t, 0, y, sizeof y), "read"))
        return NULL;
    if (memcmp(x, y, sizeof x) != 0)
        snprintf(w->error, sizeof w->error, "thread %d: read back other data", w->id);
    tq_tensor_destroy(t);
    return NULL;
}

static void context_handed_between_threads(void **state)
{
    const char *name = backend("cpu") ? "cpu" : "ref";
    tq_context *ctx = NULL;
    tq_status st = tq_context_create(backend(name), 0, NULL, &ctx);
    if (st)
        fail_msg("%s", tq_status_message(st));
    for (int i = 0; i < 4; i++) {
        worker w;
        memset(&w, 0, sizeof w);
        w.id = i;
        w.backend = name;
        w.ctx = ctx;
        assert_int_equal(pthread_create(&w.th, NULL, use_handed_context, &w), 0);
        join_all(&w, 1);   /* join = the hand-over: the next thread starts after */
    }
    tq_context_destroy(ctx);
}

/* Each thread allocates KV tensors of known sizes on its own context of one device,
 * waits until all have, then frees them. */
static void *alloc_loop(void *arg)
{
    worker *w = arg;
    tq_context *ctx = NULL;
    tq_tensor *t[8] = { 0 };
    if (fail_w(w, tq_context_create(backend(w->backend), 0, NULL, &ctx), "context"))
        return NULL;
    for (int i = 0; i < 8; i++) {
        int64_t ne[4] = { D, 16 + 8 * w->id + i, 1, 1 };
        if (fail_w(w, tq_tensor_create(ctx, TQ_TYPE_TURBO3, ne, TQ_MEM_KV, &t[i]), "tensor"))
            break;
        w->bytes += tq_tensor_nbytes(t[i]);
    }
    pthread_barrier_wait(w->barrier);   /* all allocated: main checks the totals */
    pthread_barrier_wait(w->barrier);   /* checked */
    for (int i = 0; i < 8; i++)
        tq_tensor_destroy(t[i]);
    tq_context_destroy(ctx);
    return NULL;
}

static void accounting_exact_under_concurrency(void **state)
{
    const char *name = backend("cpu") ? "cpu" : "ref";
    tq_context *ctx = NULL;
    tq_status st = tq_context_create(backend(name), 0, NULL, &ctx);
    if (st)
        fail_msg("%s", tq_status_message(st));
    tq_context_memory_reset_peak(ctx);
    tq_memory_stats before;
    assert_null(tq_context_memory(ctx, &before));

    pthread_barrier_t bar;
    assert_int_equal(pthread_barrier_init(&bar, NULL, N_THREADS + 1), 0);
    worker w[N_THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < N_THREADS; i++) {
        w[i].id = i;
        w[i].backend = name;
        w[i].barrier = &bar;
        assert_int_equal(pthread_create(&w[i].th, NULL, alloc_loop, &w[i]), 0);
    }
    pthread_barrier_wait(&bar);
    uint64_t sum = 0;
    for (int i = 0; i < N_THREADS; i++)
        sum += w[i].bytes;
    tq_memory_stats during;
    assert_null(tq_context_memory(ctx, &during));
    pthread_barrier_wait(&bar);
    join_all(w, N_THREADS);
    pthread_barrier_destroy(&bar);

    tq_memory_stats after;
    assert_null(tq_context_memory(ctx, &after));
    tq_context_destroy(ctx);
    assert_int_equal(during.current[TQ_MEM_KV], before.current[TQ_MEM_KV] + sum);
    assert_int_equal(after.current[TQ_MEM_KV], before.current[TQ_MEM_KV]);
    assert_int_equal(after.peak[TQ_MEM_KV], before.current[TQ_MEM_KV] + sum);
    assert_true(after.peak_total >= during.current_total);
}

static int setup(void **state)
{
    tq_runtime_options o = { .struct_size = sizeof o, .only_backends = "cpu,ref" };
    tq_status st = tq_runtime_create(&o, &g_rt);
    if (st) {
        fprintf(stderr, "%s\n", tq_status_message(st));
        tq_status_free(st);
        return -1;
    }
    return backend("ref") ? 0 : -1;
}

static int teardown(void **state)
{
    tq_runtime_destroy(g_rt);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_runtime_queried_from_threads),
        cmocka_unit_test(separate_contexts_decode_in_parallel),
        cmocka_unit_test(context_handed_between_threads),
        cmocka_unit_test(accounting_exact_under_concurrency),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
