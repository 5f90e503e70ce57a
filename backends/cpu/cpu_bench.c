/*
 * cpu_bench.c: decode-attention and quantize throughput of the CPU backend's kernels.
 *
 *   tq_cpu_bench [--threads N] [--variant avx2|scalar|avx512] [--n-kv N] [--reps N] [--kdot f32|i16]
 *
 * Decode shape of the foundation issue: 1 query token, 32 query heads, 8 KV heads, d=128,
 * K and V of the same type, for f16, q8_0, q4_0, turbo2/3/4. Prints the median (and min)
 * of the repeats, GFLOPS (4 * heads * n_kv * d flops), effective GB/s of the K/V bytes
 * read, and the machine's measured read bandwidth for comparison. Quantize: f32 rows
 * into turbo3 (and q8_0), GB/s of f32 input in total and per thread.
 * Not a test: timings on a shared machine are noisy.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_isa.h"
#include "cpu_ops.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct host_tensor {
    cpu_buffer buf;
    tq_tensor_ref ref;
} host_tensor;

static void ht_init(host_tensor *t, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)
{
    memset(t, 0, sizeof(*t));
    t->ref.type = type;
    t->ref.ne[0] = ne0; t->ref.ne[1] = ne1; t->ref.ne[2] = ne2; t->ref.ne[3] = ne3;
    t->ref.nb[1] = cpu_row_bytes(type, ne0);
    t->ref.nb[2] = t->ref.nb[1] * (uint64_t)ne1;
    t->ref.nb[3] = t->ref.nb[2] * (uint64_t)ne2;
    t->buf.size = t->ref.nb[3] * (uint64_t)ne3;
    t->buf.ptr = aligned_alloc(64, (t->buf.size + 63) & ~(uint64_t)63);
    memset(t->buf.ptr, 0, t->buf.size);
    t->ref.buf = &t->buf;
}

static uint64_t rng_state = 88172645463325252ull;

static float gauss(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        u[i] = ((rng_state >> 11) + 1.0) / 9007199254740993.0;
    }
    return (float)(sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

static void run_or_die(const cpu_exec *ex, const tq_op *op, cpu_op_info *info)
{
    char err[256];
    if (cpu_exec_op(ex, op, info, err, sizeof(err)) != TQ_CODE_OK) {
        fprintf(stderr, "tq_cpu_bench: %s\n", err);
        exit(1);
    }
}

/* Fills a [d, n_ctx, n_kvh, 1] cache of type with quantized Gaussian rows. */
static void fill_cache(const cpu_exec *ex, host_tensor *cache, float *rows_f32, int64_t d,
                       int64_t n_kvh, int64_t n_ctx)
{
    const int64_t batch = 1024;
    host_tensor src;
    ht_init(&src, TQ_TYPE_F32, d, n_kvh, batch, 1);
    int64_t *rows = malloc(sizeof(int64_t) * batch);
    for (int64_t t0 = 0; t0 < n_ctx; t0 += batch) {
        float *x = (float *)(void *)src.buf.ptr;
        for (int64_t i = 0; i < d * n_kvh * batch; i++)
            x[i] = rows_f32 ? rows_f32[((t0 * d * n_kvh) + i) % (d * n_kvh * 4096)] : gauss();
        int64_t nb = n_ctx - t0 < batch ? n_ctx - t0 : batch;
        for (int64_t i = 0; i < nb; i++)
            rows[i] = t0 + i;
        src.ref.ne[2] = nb;
        tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_QUANTIZE, .src = src.ref,
                     .dst = cache->ref, .rows = rows, .n_rows = nb };
        cpu_op_info info;
        run_or_die(ex, &op, &info);
    }
    free(rows);
    free(src.buf.ptr);
}

typedef struct sum_job {
    const float *x;
    int64_t per;
    double part[64];
} sum_job;

static void sum_task(void *arg, int64_t t, int thread)
{
    sum_job *j = arg;
    const float *x = j->x + t * j->per;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int64_t i = 0; i < j->per; i += 4) {
        a0 += x[i];
        a1 += x[i + 1];
        a2 += x[i + 2];
        a3 += x[i + 3];
    }
    j->part[thread] += a0 + a1 + a2 + a3;
}

/* Read bandwidth of the machine with the pool's threads (streaming sum over 256 MiB). */
static double measure_bandwidth(cpu_pool *pool)
{
    const int64_t n = 64ll << 20;
    float *x = aligned_alloc(64, (size_t)n * 4);
    for (int64_t i = 0; i < n; i++)
        x[i] = 1.0f;
    sum_job j = { .x = x, .per = n / 64 };
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        cpu_pool_run(pool, 64, sum_task, &j);
        double t = now_s() - t0;
        best = t < best ? t : best;
    }
    free(x);
    return (double)n * 4 / best / 1e9;
}

int main(int argc, char **argv)
{
    int threads = 0, reps = 21;
    int64_t n_kv = 32768;
    const char *variant = NULL, *only = NULL, *kdot = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--variant") && i + 1 < argc)
            variant = argv[++i];
        else if (!strcmp(argv[i], "--kdot") && i + 1 < argc)
            kdot = argv[++i];
        else if (!strcmp(argv[i], "--n-kv") && i + 1 < argc)
            n_kv = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--type") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--variant avx512|avx2|scalar] [--n-kv N] "
                    "[--reps N] [--type NAME] [--kdot f32|i16]\n", argv[0]);
            return 2;
        }
    }
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    char err[256], feats[256];
    cpu_exec ex = { 0 };
    cpu_scratch scratch = { 0 };
    if (!cpu_isa_select(variant, &ex.kern, err, sizeof(err)) ||
        !cpu_isa_kdot(kdot, &ex.kern, err, sizeof(err))) {
        fprintf(stderr, "tq_cpu_bench: %s\n", err);
        return 1;
    }
    if (cpu_pool_create(threads, CPU_POOL_STACK_BYTES, &ex.pool, err, sizeof(err))) {
        fprintf(stderr, "tq_cpu_bench: %s\n", err);
        return 1;
    }
    ex.scratch = &scratch;
    cpu_isa_features(feats, sizeof(feats));
    double bw = measure_bandwidth(ex.pool);
    printf("cpu bench: variant %s, %d threads, features: %s\n", ex.kern->name, threads, feats);
    printf("measured read bandwidth: %.1f GB/s\n\n", bw);

    const int64_t d = 128, n_head = 32, n_kvh = 8;
    printf("decode attention: 1 token, %lld q heads, %lld kv heads, d=%lld, n_kv=%lld, K=V type, "
           "median of %d\n", (long long)n_head, (long long)n_kvh, (long long)d, (long long)n_kv, reps);
    printf("%-8s %9s %9s %8s %9s %6s %9s  %s\n", "type", "median_ms", "min_ms", "GFLOPS", "KV_MB",
           "GB/s", "cpu_ms/th", "variant");
    static const tq_type types[] = { TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0, TQ_TYPE_TURBO2,
                                     TQ_TYPE_TURBO3, TQ_TYPE_TURBO4, TQ_TYPE_F32 };
    static const char *const names[] = { "f16", "q8_0", "q4_0", "turbo2", "turbo3", "turbo4", "f32" };
    double med[7] = { 0 };
    host_tensor q, out;
    ht_init(&q, TQ_TYPE_F32, d, n_head, 1, 1);
    ht_init(&out, TQ_TYPE_F32, d, n_head, 1, 1);
    for (int64_t i = 0; i < d * n_head; i++)
        ((float *)(void *)q.buf.ptr)[i] = gauss();
    double *times = malloc(sizeof(double) * (size_t)reps);
    /* a pool of Gaussian rows, reused to fill the caches quickly */
    float *pool_rows = malloc(sizeof(float) * (size_t)(d * n_kvh * 4096));
    for (int64_t i = 0; i < d * n_kvh * 4096; i++)
        pool_rows[i] = gauss();
    for (int ti = 0; ti < 6; ti++) {
        if (only && strcmp(only, names[ti]))
            continue;
        host_tensor k, v;
        ht_init(&k, types[ti], d, n_kv, n_kvh, 1);
        ht_init(&v, types[ti], d, n_kv, n_kvh, 1);
        fill_cache(&ex, &k, pool_rows, d, n_kvh, n_kv);
        fill_cache(&ex, &v, pool_rows, d, n_kvh, n_kv);
        tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_ATTENTION, .q = q.ref, .k = k.ref,
                     .v = v.ref, .out = out.ref, .n_kv = n_kv, .scale = 1.0f / sqrtf((float)d) };
        cpu_op_info info;
        for (int w = 0; w < 3; w++)
            run_or_die(&ex, &op, &info);
        double c0 = cpu_s();
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            run_or_die(&ex, &op, &info);
            times[r] = now_s() - t0;
        }
        double cpu_per = (cpu_s() - c0) / reps / threads;
        qsort(times, (size_t)reps, sizeof(double), cmp_d);
        med[ti] = times[reps / 2];
        double flops = 4.0 * (double)n_head * (double)n_kv * (double)d;
        double kv_bytes = (double)(k.buf.size + v.buf.size);
        printf("%-8s %9.3f %9.3f %8.1f %9.1f %6.1f %9.3f  %s\n", names[ti], med[ti] * 1e3,
               times[0] * 1e3, flops / med[ti] / 1e9, kv_bytes / 1e6, kv_bytes / med[ti] / 1e9,
               cpu_per * 1e3, info.variant);
        free(k.buf.ptr);
        free(v.buf.ptr);
    }
    free(pool_rows);
    if (only && strcmp(only, "quantize"))
        return 0;
    if (!only)
        printf("\nturbo3 vs q8_0: %.2fx faster; turbo3 vs f16: %.2fx faster\n", med[1] / med[4],
               med[0] / med[4]);

    /* quantize throughput: 4096 tokens x 8 kv heads x d=128 f32 rows */
    const int64_t n_tok = 4096;
    host_tensor src, dst;
    ht_init(&src, TQ_TYPE_F32, d, n_kvh, n_tok, 1);
    for (int64_t i = 0; i < d * n_kvh * n_tok; i++)
        ((float *)(void *)src.buf.ptr)[i] = gauss();
    int64_t *rows = malloc(sizeof(int64_t) * n_tok);
    for (int64_t i = 0; i < n_tok; i++)
        rows[i] = i;
    printf("\nquantize (set_rows) of %lld f32 rows of %lld (%.1f MB input)\n",
           (long long)(n_tok * n_kvh), (long long)d, (double)src.buf.size / 1e6);
    static const tq_type qtypes[] = { TQ_TYPE_TURBO3, TQ_TYPE_TURBO4, TQ_TYPE_Q8_0, TQ_TYPE_F16 };
    static const char *const qnames[] = { "turbo3", "turbo4", "q8_0", "f16" };
    for (int qi = 0; qi < 4; qi++) {
        ht_init(&dst, qtypes[qi], d, n_tok, n_kvh, 1);
        tq_op op = { .struct_size = sizeof(op), .kind = TQ_OP_QUANTIZE, .src = src.ref,
                     .dst = dst.ref, .rows = rows, .n_rows = n_tok };
        cpu_op_info info;
        run_or_die(&ex, &op, &info);
        int qreps = reps < 9 ? reps : 9;
        for (int r = 0; r < qreps; r++) {
            double t0 = now_s();
            run_or_die(&ex, &op, &info);
            times[r] = now_s() - t0;
        }
        qsort(times, (size_t)qreps, sizeof(double), cmp_d);
        double gbs = (double)src.buf.size / times[qreps / 2] / 1e9;
        printf("%-8s %8.3f ms  %6.2f GB/s f32 in (%5.2f GB/s per thread)  %s\n", qnames[qi],
               times[qreps / 2] * 1e3, gbs, gbs / threads, info.variant);
        free(dst.buf.ptr);
    }
    free(rows);
    free(times);
    free(src.buf.ptr);
    free(q.buf.ptr);
    free(out.buf.ptr);
    cpu_pool_destroy(ex.pool);
    cpu_scratch_release(&scratch);
    return 0;
}
