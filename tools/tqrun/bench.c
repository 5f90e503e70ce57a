/*
 * bench.c: one benchmark case: the op is recorded into a sequence once and the sequence
 * is submitted again and again (replay), so what is timed is the kernel and not the
 * recording. Every sample is kept: compare/bisect (docs/tqrun.md) run rank tests on them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

typedef struct bench_set {
    tq_tensor *k, *v, *q, *out, *src;
    tq_sequence *seq;
} bench_set;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median_u64(const uint64_t *v, int n)
{
    if (n <= 0)
        return 0;
    uint64_t *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return v[0];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_u64);
    uint64_t m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

void tr_bench_case_types(const tr_bench_case *c, char *buf, size_t size)
{
    if (c->op == 1)
        snprintf(buf, size, "f32->%s", tq_type_name(c->type_k));
    else
        snprintf(buf, size, "%s/%s", tq_type_name(c->type_k), tq_type_name(c->type_v));
}

void tr_bench_case_shape(const tr_bench_case *c, char *buf, size_t size)
{
    if (c->op == 1)
        snprintf(buf, size, "tok=%lld kvh=%lld d=%lld seq=%lld", (long long)c->n_ctx,
                 (long long)c->n_kv_head, (long long)c->d, (long long)c->n_seq);
    else
        snprintf(buf, size, "ctx=%lld h=%lld/%lld d=%lld nq=%lld seq=%lld", (long long)c->n_ctx,
                 (long long)c->n_head, (long long)c->n_kv_head, (long long)c->d,
                 (long long)c->n_q, (long long)c->n_seq);
}

/* Fills a cache with the backend's own quantize op, in chunks of tokens (a chunk of
 * random rows reused: timing does not depend on the values, generation time does). */
static tq_status fill_cache(tq_context *ctx, tq_tensor *cache, const tr_bench_case *c,
                            const float *chunk_data, int64_t chunk, const char *what)
{
    tq_tensor *src = NULL;
    tq_sequence *seq = NULL;
    int64_t *rows = malloc((size_t)(chunk * c->n_seq) * sizeof *rows);
    int64_t ne[4] = { c->d, c->n_kv_head, chunk, c->n_seq };
    tq_status st = rows ? NULL : tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of memory");
    if (!st)
        st = tq_tensor_create(ctx, TQ_TYPE_F32, ne, TQ_MEM_IO, &src);
    if (!st)
        st = tq_tensor_write(src, 0, chunk_data, tq_tensor_nbytes(src));
    /* chunk divides n_ctx (see the caller), so every submission is a full chunk */
    for (int64_t t0 = 0; !st && t0 < c->n_ctx; t0 += chunk) {
        tr_progress("bench: filling %s cache, token %lld/%lld x %lld sequences", what,
                    (long long)t0, (long long)c->n_ctx, (long long)c->n_seq);
        for (int64_t s = 0; s < c->n_seq; s++)
            for (int64_t t = 0; t < chunk; t++)
                rows[s * chunk + t] = t0 + t;
        tq_quantize_params p = { .src = src, .dst = cache, .rows = rows,
                                 .n_rows = chunk * c->n_seq };
        st = tq_sequence_create(ctx, &seq);
        if (!st)
            st = tq_sequence_record_quantize(seq, &p);
        if (!st)
            st = tq_sequence_submit(seq);
        if (!st)
            st = tq_sequence_wait(seq, UINT64_MAX);
        if (seq)
            tq_sequence_destroy(seq);
        seq = NULL;
    }
    if (src)
        tq_tensor_destroy(src);
    free(rows);
    return st;
}

static void set_free(bench_set *s)
{
    if (s->seq)
        tq_sequence_destroy(s->seq);
    tq_tensor *t[] = { s->k, s->v, s->q, s->out, s->src };
    for (int i = 0; i < 5; i++)
        if (t[i])
            tq_tensor_destroy(t[i]);
    memset(s, 0, sizeof *s);
}

static tq_status set_make(tq_context *ctx, const tr_bench_case *c, tr_rng *r, bench_set *s,
                          int64_t **rows_out)
{
    tq_status st = NULL;
    memset(s, 0, sizeof *s);
    if (c->op == 1) {
        int64_t sne[4] = { c->d, c->n_kv_head, c->n_ctx, c->n_seq };
        int64_t dne[4] = { c->d, c->n_ctx, c->n_kv_head, c->n_seq };
        const int64_t n = c->d * c->n_kv_head * c->n_ctx * c->n_seq;
        float *x = malloc((size_t)n * sizeof *x);
        int64_t *rows = malloc((size_t)(c->n_ctx * c->n_seq) * sizeof *rows);
        if (!x || !rows) {
            free(x);
            free(rows);
            return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of host memory");
        }
        tr_fill_gauss(r, x, n, 1.0f);
        for (int64_t i = 0; i < c->n_ctx * c->n_seq; i++)
            rows[i] = i % c->n_ctx;
        st = tq_tensor_create(ctx, TQ_TYPE_F32, sne, TQ_MEM_IO, &s->src);
        if (!st)
            st = tq_tensor_write(s->src, 0, x, (uint64_t)n * 4u);
        if (!st)
            st = tq_tensor_create(ctx, c->type_k, dne, TQ_MEM_KV, &s->k);
        free(x);
        tq_quantize_params p = { .src = s->src, .dst = s->k, .rows = rows,
                                 .n_rows = c->n_ctx * c->n_seq };
        if (!st)
            st = tq_sequence_create(ctx, &s->seq);
        if (!st)
            st = tq_sequence_record_quantize(s->seq, &p);
        *rows_out = rows; /* recorded ops copy rows, but keep them until the end anyway */
        return st;
    }
    int64_t kne[4] = { c->d, c->n_ctx, c->n_kv_head, c->n_seq };
    int64_t qne[4] = { c->d, c->n_head, c->n_q, c->n_seq };
    st = tq_tensor_create(ctx, c->type_k, kne, TQ_MEM_KV, &s->k);
    if (!st)
        st = tq_tensor_create(ctx, c->type_v, kne, TQ_MEM_KV, &s->v);
    if (!st)
        st = tq_tensor_create(ctx, TQ_TYPE_F32, qne, TQ_MEM_IO, &s->q);
    if (!st)
        st = tq_tensor_create(ctx, TQ_TYPE_F32, qne, TQ_MEM_IO, &s->out);
    /* chunk: a divisor of n_ctx of at most 1024 tokens */
    int64_t chunk = c->n_ctx <= 1024 ? c->n_ctx : 1024;
    while (chunk > 1 && c->n_ctx % chunk)
        chunk /= 2;
    const int64_t nchunk = c->d * c->n_kv_head * chunk * c->n_seq;
    const int64_t nq = c->d * c->n_head * c->n_q * c->n_seq;
    float *data = malloc((size_t)(nchunk > nq ? nchunk : nq) * sizeof *data);
    if (!data && !st)
        st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of host memory");
    if (!st) {
        tr_fill_gauss(r, data, nchunk, 1.0f);
        st = fill_cache(ctx, s->k, c, data, chunk, "K");
    }
    if (!st) {
        tr_fill_gauss(r, data, nchunk, 1.0f);
        st = fill_cache(ctx, s->v, c, data, chunk, "V");
    }
    if (!st) {
        tr_fill_gauss(r, data, nq, 1.0f);
        st = tq_tensor_write(s->q, 0, data, (uint64_t)nq * 4u);
    }
    free(data);
    tq_attention_params p = { .q = s->q, .k = s->k, .v = s->v, .out = s->out,
                              .n_kv = c->n_ctx, .scale = 0.0f, .softcap = 0.0f };
    if (!st)
        st = tq_sequence_create(ctx, &s->seq);
    if (!st)
        st = tq_sequence_record_attention(s->seq, &p);
    return st;
}

/* Device bytes one buffer set of the case allocates (set_make's tensors). */
static uint64_t set_bytes(const tr_bench_case *c)
{
    const uint64_t rows = (uint64_t)c->n_ctx * (uint64_t)c->n_kv_head * (uint64_t)c->n_seq;
    if (c->op == 1)
        return rows * ((uint64_t)c->d * 4u + tq_type_row_bytes(c->type_k, c->d));
    const uint64_t q = (uint64_t)c->d * (uint64_t)c->n_head * (uint64_t)c->n_q *
                       (uint64_t)c->n_seq * 4u;
    return rows * (tq_type_row_bytes(c->type_k, c->d) + tq_type_row_bytes(c->type_v, c->d)) +
           2u * q;
}

/* A case larger than the device is refused before anything is allocated: on host-memory
 * devices (cpu, lavapipe, PoCL) allocations overcommit, and the process would be killed
 * while the caches are filled instead of getting an error. */
static tq_status check_fits(tq_context *ctx, const tr_bench_case *c, int nb)
{
    tq_device_info di;
    memset(&di, 0, sizeof di);
    di.struct_size = sizeof di;
    tq_status st = tq_backend_device_info(tq_context_backend(ctx), tq_context_device(ctx), &di);
    if (st) {
        tq_status_free(st);
        return NULL;   /* unknown size: let the allocations answer */
    }
    const uint64_t need = set_bytes(c) * (uint64_t)nb, room = tr_device_room(&di);
    if (!room || need <= room)
        return NULL;
    char nb_[32], hb[32];
    tr_fmt_bytes(need, nb_, sizeof nb_);
    tr_fmt_bytes(room, hb, sizeof hb);
    return tq_status_make(TQ_CODE_OUT_OF_MEMORY,
                          "tqrun: this case needs %s of device memory (%d buffer set(s)); "
                          "'%s' has room for %s (90%% of its %s memory)", nb_, nb, di.name, hb,
                          di.memory_free ? "free" : "total");
}

tq_status tr_bench_run(tq_context *ctx, const tr_bench_case *c, uint64_t seed,
                       tr_bench_result *out)
{
    memset(out, 0, sizeof *out);
    const int nb = c->rotate_buffers > 0 ? c->rotate_buffers : 1;
    tq_status fit = check_fits(ctx, c, nb);
    if (fit)
        return fit;
    bench_set *sets = calloc((size_t)nb, sizeof *sets);
    int64_t **rows = calloc((size_t)nb, sizeof *rows);
    out->samples_ns = calloc((size_t)(c->repeats > 0 ? c->repeats : 1), sizeof(uint64_t));
    out->samples_host_ns = calloc((size_t)(c->repeats > 0 ? c->repeats : 1), sizeof(uint64_t));
    tq_status st = NULL;
    if (!sets || !rows || !out->samples_ns || !out->samples_host_ns)
        st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tqrun: out of host memory");
    char types[64];
    tr_bench_case_types(c, types, sizeof types);
    tr_rng r;
    tr_rng_seed(&r, seed ^ tr_hash_str(types));
    for (int i = 0; i < nb && !st; i++) {
        tr_progress("bench %s: preparing buffer set %d/%d", types, i + 1, nb);
        st = set_make(ctx, c, &r, &sets[i], &rows[i]);
    }
    tq_context_memory_reset_peak(ctx);
    /* Warm-up: at least c->warmup submissions and c->warmup_ms of wall time. GPUs lower
     * their clocks while the host fills the caches (the H100 went from 1980 to 345 MHz
     * within seconds), and a handful of short submissions does not raise them again: the
     * 4th case of a process then measured 4x slower than in a fresh process. With several
     * buffer sets all are submitted before the first wait, so the device is never idle
     * between submissions (a clock governor sees a short kernel with host gaps as a
     * partly idle device). */
    const uint64_t warm_ns = (uint64_t)(c->warmup_ms > 0 ? c->warmup_ms : 0) * 1000000ull;
    const uint64_t warm_t0 = tr_now_ns();
    int warm = 0;
    while (!st && (warm < c->warmup || tr_now_ns() - warm_t0 < warm_ns)) {
        tr_progress("bench %s ctx=%lld: warmup %d (%.1f s)", types, (long long)c->n_ctx, warm,
                    (double)(tr_now_ns() - warm_t0) * 1e-9);
        int n_sub = 0;
        for (; n_sub < nb && !st; n_sub++)
            st = tq_sequence_submit(sets[n_sub].seq);
        if (st)
            n_sub--;   /* the failed one is not in flight */
        for (int j = 0; j < n_sub; j++) {
            tq_status w = tq_sequence_wait(sets[j].seq, UINT64_MAX);
            if (!st)
                st = w;
            else
                tq_status_free(w);
        }
        warm += n_sub;
    }
    out->warmup_runs = warm;
    out->warmup_ns = tr_now_ns() - warm_t0;
    /* Timed: one submission at a time, so host_ns is this submission's own. */
    for (int k = 0; !st && k < c->repeats; k++) {
        bench_set *s = &sets[k % nb];
        tr_progress("bench %s ctx=%lld: repeat %d/%d", types, (long long)c->n_ctx, k + 1,
                    c->repeats);
        uint64_t t0 = tr_now_ns();
        st = tq_sequence_submit(s->seq);
        if (!st)
            st = tq_sequence_wait(s->seq, UINT64_MAX);
        uint64_t wall = tr_now_ns() - t0;
        tq_op_timing tm;
        memset(&tm, 0, sizeof tm);
        if (!st)
            st = tq_sequence_timing(s->seq, 0, &tm);
        if (st)
            break;
        out->samples_ns[k] = tm.device_ns ? tm.device_ns : wall;
        out->samples_host_ns[k] = tm.host_ns ? tm.host_ns : wall;
        out->n_samples = k + 1;
        out->bytes = tm.bytes_read + tm.bytes_written;
        snprintf(out->variant, sizeof out->variant, "%s", tm.variant);
    }
    tr_progress_done();
    if (!st && out->n_samples > 0) {
        uint64_t mn = UINT64_MAX;
        for (int i = 0; i < out->n_samples; i++)
            mn = out->samples_ns[i] < mn ? out->samples_ns[i] : mn;
        out->min_ns = mn;
        out->median_ns = median_u64(out->samples_ns, out->n_samples);
        out->median_host_ns = median_u64(out->samples_host_ns, out->n_samples);
        if (out->n_samples >= 6) {
            int third = out->n_samples / 3;
            double first = (double)median_u64(out->samples_ns, third);
            double last = (double)median_u64(out->samples_ns + out->n_samples - third, third);
            out->drift = first > 0 ? last / first - 1.0 : 0.0;
        }
        if (out->median_ns) {
            out->gbps = (double)out->bytes / (double)out->median_ns;
            if (c->op == 0)
                out->gflops = 4.0 * (double)c->n_head * (double)c->n_q * (double)c->n_ctx *
                              (double)c->d * (double)c->n_seq / (double)out->median_ns;
        }
    }
    if (!st)
        st = tq_context_memory(ctx, &out->memory);
    for (int i = 0; i < nb && sets; i++) {
        set_free(&sets[i]);
        if (rows)
            free(rows[i]);
    }
    free(sets);
    free(rows);
    return st;
}

cJSON *tr_bench_json(cJSON *doc, const tr_target *t, const tr_bench_case *c,
                     const tr_bench_result *r)
{
    cJSON *rec = tr_json_record_new(doc, t, r->variant, c->op == 1 ? "quantize" : "attention");
    char types[64], shape[128], name[200];
    tr_bench_case_types(c, types, sizeof types);
    tr_bench_case_shape(c, shape, sizeof shape);
    snprintf(name, sizeof name, "%s %s", types, shape);
    cJSON_AddStringToObject(rec, "name", name);
    cJSON *s = cJSON_AddObjectToObject(rec, "shape");
    cJSON_AddNumberToObject(s, "d", (double)c->d);
    cJSON_AddNumberToObject(s, "n_kv_head", (double)c->n_kv_head);
    cJSON_AddNumberToObject(s, "n_seq", (double)c->n_seq);
    if (c->op == 1) {
        cJSON_AddNumberToObject(s, "n_tokens", (double)c->n_ctx);
    } else {
        cJSON_AddNumberToObject(s, "n_head", (double)c->n_head);
        cJSON_AddNumberToObject(s, "n_q", (double)c->n_q);
        cJSON_AddNumberToObject(s, "n_kv", (double)c->n_ctx);
        cJSON_AddNumberToObject(s, "n_ctx", (double)c->n_ctx);
        cJSON_AddBoolToObject(s, "causal", false);
    }
    cJSON *ty = cJSON_AddObjectToObject(rec, "types");
    if (c->op == 1) {
        cJSON_AddStringToObject(ty, "src", "f32");
        cJSON_AddStringToObject(ty, "dst", tq_type_name(c->type_k));
    } else {
        cJSON_AddStringToObject(ty, "k", tq_type_name(c->type_k));
        cJSON_AddStringToObject(ty, "v", tq_type_name(c->type_v));
    }
    cJSON_AddNumberToObject(rec, "repeats", r->n_samples);
    cJSON_AddNumberToObject(rec, "warmup", r->warmup_runs);
    cJSON_AddNumberToObject(rec, "warmup_ms", (double)r->warmup_ns * 1e-6);
    if (r->n_samples >= 6)
        cJSON_AddNumberToObject(rec, "drift", r->drift);
    cJSON_AddNumberToObject(rec, "rotate_buffers", c->rotate_buffers > 0 ? c->rotate_buffers : 1);
    cJSON_AddBoolToObject(rec, "context_per_case", c->context_per_case);
    if (r->bytes)
        cJSON_AddNumberToObject(rec, "working_set_bytes",
                                (double)r->bytes * (c->rotate_buffers > 0 ? c->rotate_buffers : 1));
    cJSON *samples = cJSON_AddArrayToObject(rec, "samples_ns");
    cJSON *hsamples = cJSON_AddArrayToObject(rec, "host_samples_ns");
    for (int i = 0; i < r->n_samples; i++) {
        cJSON_AddItemToArray(samples, cJSON_CreateNumber((double)r->samples_ns[i]));
        cJSON_AddItemToArray(hsamples, cJSON_CreateNumber((double)r->samples_host_ns[i]));
    }
    cJSON_AddNumberToObject(rec, "min_ns", (double)r->min_ns);
    cJSON_AddNumberToObject(rec, "median_ns", (double)r->median_ns);
    cJSON_AddNumberToObject(rec, "median_host_ns", (double)r->median_host_ns);
    cJSON_AddNumberToObject(rec, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(rec, "gbps", r->gbps);
    if (c->op == 0)
        cJSON_AddNumberToObject(rec, "gflops", r->gflops);
    tr_json_add_memory(rec, &r->memory);
    return rec;
}
