/*
 * host.c: a minimal host program on tq, the shape an inference engine's decode loop has.
 *
 * It keeps a per-layer K/V cache (tq_kv_cache) for a model shape, and for every new token
 * and every layer: quantizes the token's K and V rows into the cache, then runs attention
 * of the token's query over the cache so far. It prints which backend, device and kernel
 * variant ran, tokens per second, and the KV memory the formula predicted beside what the
 * runtime accounted. At the end it checks the last output against the scalar reference.
 *
 * Backend choice (tq_runtime_select): --backend NAME first, then TQ_BACKEND=name[:device],
 * then the automatic choice (best-scored device of any backend but ref).
 *
 * Build against an installed tq:  cc host.c $(pkg-config --cflags --libs tq) -lm
 *                            or:  find_package(tq) + target_link_libraries(host tq::tq)
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime under -std=c11 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tq/tq.h>
#include <tq/tq_ref.h>

typedef struct opts {
    const char *backend, *device, *ctx_options;
    uint32_t layers, heads, kv_heads, dim, ctx, tokens;
    tq_type type_k, type_v;
} opts;

static const char usage[] =
    "usage: tq-example-host [options]\n"
    "  --backend NAME     backend to use (default: $TQ_BACKEND, else automatic)\n"
    "  --device QUERY     device index, stable id or name substring\n"
    "  --options K=V,...  context options (e.g. threads=2, variant=scalar)\n"
    "  --layers N         model layers (default 4)\n"
    "  --heads N          query heads (default 8)\n"
    "  --kv-heads N       KV heads (default 2)\n"
    "  --dim D            head dimension (default 128)\n"
    "  --ctx N            positions reserved in the cache (default 1024)\n"
    "  --k TYPE --v TYPE  cache types: f32 f16 q8_0 q4_0 turbo2 turbo3 turbo4\n"
    "                     (default q8_0 / turbo4)\n"
    "  --tokens N         tokens to decode (default 64, at most --ctx)\n"
    "exit status: 0 ok, 1 tq failed or the check failed, 2 usage error\n";

/* Prints the status with what was being done; true if it was an error. */
static bool failed(tq_status st, const char *what)
{
    if (!st)
        return false;
    fprintf(stderr, "host: %s: %s [%s]\n", what, tq_status_message(st),
            tq_code_name(tq_status_code(st)));
    tq_status_free(st);
    return true;
}

static bool parse_u32(const char *opt, const char *s, uint32_t *out)
{
    char *end = NULL;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || v == 0 || v > 1u << 30) {
        fprintf(stderr, "host: %s expects a positive integer, got '%s'\n", opt, s ? s : "");
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){ .layers = 4, .heads = 8, .kv_heads = 2, .dim = 128, .ctx = 1024,
                 .tokens = 64, .type_k = TQ_TYPE_Q8_0, .type_v = TQ_TYPE_TURBO4 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "host: %s needs a value (or unknown option)\n%s", a, usage);
            return 2;
        }
        i++;
        bool ok = true;
        if (!strcmp(a, "--backend"))       o->backend = v;
        else if (!strcmp(a, "--device"))  o->device = v;
        else if (!strcmp(a, "--options")) o->ctx_options = v;
        else if (!strcmp(a, "--layers"))  ok = parse_u32(a, v, &o->layers);
        else if (!strcmp(a, "--heads"))   ok = parse_u32(a, v, &o->heads);
        else if (!strcmp(a, "--kv-heads"))ok = parse_u32(a, v, &o->kv_heads);
        else if (!strcmp(a, "--dim"))     ok = parse_u32(a, v, &o->dim);
        else if (!strcmp(a, "--ctx"))     ok = parse_u32(a, v, &o->ctx);
        else if (!strcmp(a, "--tokens"))  ok = parse_u32(a, v, &o->tokens);
        else if (!strcmp(a, "--k") || !strcmp(a, "--v")) {
            ok = !failed(tq_type_from_name(v, a[2] == 'k' ? &o->type_k : &o->type_v), a);
        } else {
            fprintf(stderr, "host: unknown option '%s'\n%s", a, usage);
            return 2;
        }
        if (!ok)
            return 2;
    }
    if (o->heads % o->kv_heads) {
        fprintf(stderr, "host: --heads (%u) must be a multiple of --kv-heads (%u)\n", o->heads,
                o->kv_heads);
        return 2;
    }
    if (o->tokens > o->ctx) {
        fprintf(stderr, "host: --tokens (%u) exceeds --ctx (%u)\n", o->tokens, o->ctx);
        return 2;
    }
    return 0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rnd(void)   /* roughly normal: sum of 4 uniforms, centred */
{
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        s += (float)(rng_state >> 40) / (float)(1u << 24);
    }
    return (s - 2.0f) * 1.7f;
}
static void fill(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rnd();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *mib(uint64_t b, char *buf, size_t n)
{
    snprintf(buf, n, "%.2f MiB", (double)b / (1024.0 * 1024.0));
    return buf;
}

/* Everything the decode loop uses, so one cleanup path frees it all. */
typedef struct host {
    opts o;
    tq_runtime *rt;
    tq_context *ctx;
    tq_kv_cache *cache;
    tq_tensor *k_in, *v_in, *q, *out;
    tq_sequence *seq;
    float *k_rows, *v_rows, *q_rows, *out_rows;   /* host side of one token of one layer */
    void *k_cache, *v_cache;                      /* layer 0, read back for the check */
} host;

/* Records one layer of one decode step: K/V rows in, quantize at row pos, attention. */
static tq_status record_layer(host *h, uint32_t layer, int64_t pos)
{
    const opts *o = &h->o;
    tq_tensor *k = NULL, *v = NULL;
    tq_status st = tq_kv_cache_layer(h->cache, layer, &k, &v);
    size_t kv_n = (size_t)o->dim * o->kv_heads, q_n = (size_t)o->dim * o->heads;
    fill(h->k_rows, kv_n);
    fill(h->v_rows, kv_n);
    fill(h->q_rows, q_n);
    if (!st) st = tq_sequence_record_write(h->seq, h->k_in, 0, h->k_rows, kv_n * sizeof(float));
    if (!st) st = tq_sequence_record_write(h->seq, h->v_in, 0, h->v_rows, kv_n * sizeof(float));
    if (!st) st = tq_sequence_record_write(h->seq, h->q, 0, h->q_rows, q_n * sizeof(float));
    tq_quantize_params qk = { .src = h->k_in, .dst = k, .rows = &pos, .n_rows = 1 };
    tq_quantize_params qv = { .src = h->v_in, .dst = v, .rows = &pos, .n_rows = 1 };
    if (!st) st = tq_sequence_record_quantize(h->seq, &qk);
    if (!st) st = tq_sequence_record_quantize(h->seq, &qv);
    tq_attention_params ap = { .q = h->q, .k = k, .v = v, .out = h->out, .n_kv = pos + 1 };
    if (!st) st = tq_sequence_record_attention(h->seq, &ap);
    /* Layer 0's output is kept (the check at the end recomputes it). */
    if (!st && layer == 0)
        st = tq_sequence_record_read(h->seq, h->out, 0, h->out_rows, q_n * sizeof(float));
    return st;
}

/* Recomputes layer 0's last attention with tq_ref_attention on the same quantized cache. */
static bool check_last(host *h, int64_t n_kv, float *q0)
{
    const opts *o = &h->o;
    tq_tensor *k = NULL, *v = NULL;
    if (failed(tq_kv_cache_layer(h->cache, 0, &k, &v), "cache layer 0"))
        return false;
    uint64_t kb = tq_tensor_nbytes(k), vb = tq_tensor_nbytes(v);
    h->k_cache = malloc(kb);
    h->v_cache = malloc(vb);
    float *ref = malloc((size_t)o->dim * o->heads * sizeof(float));
    bool ok = h->k_cache && h->v_cache && ref &&
              !failed(tq_tensor_read(k, 0, h->k_cache, kb), "read K cache") &&
              !failed(tq_tensor_read(v, 0, h->v_cache, vb), "read V cache");
    tq_ref_attention_args a = {
        .q = q0, .k = h->k_cache, .v = h->v_cache, .out = ref, .type_k = o->type_k,
        .type_v = o->type_v, .d = o->dim, .n_head = o->heads, .n_q = 1, .n_seq = 1,
        .n_kv_head = o->kv_heads, .n_ctx = o->ctx, .n_kv = n_kv,
        .scale = 1.0f / sqrtf((float)o->dim) };
    if (ok)
        ok = !failed(tq_ref_attention(&a), "reference attention");
    if (ok) {
        double num = 0, den = 0;
        bool finite = true;
        for (size_t i = 0; i < (size_t)o->dim * o->heads; i++) {
            double dlt = (double)h->out_rows[i] - ref[i];
            num += dlt * dlt;
            den += (double)ref[i] * ref[i];
            finite = finite && isfinite(h->out_rows[i]);
        }
        double nmse = den > 0 ? num / den : num;
        ok = finite && nmse <= 1e-6;
        printf("check: layer 0, last token vs tq_ref_attention: NMSE %.3g (limit 1e-06)%s: %s\n",
               nmse, finite ? "" : ", NaN/Inf in output", ok ? "ok" : "FAILED");
    }
    free(ref);
    return ok;
}

static int run(host *h)
{
    const opts *o = &h->o;
    char b1[32], b2[32];
    if (failed(tq_runtime_create(NULL, &h->rt), "cannot start the tq runtime"))
        return 1;

    /* Explicit choice first, then TQ_BACKEND, then automatic: tq_runtime_select does all
     * three; its error says what it tried. */
    tq_backend *be = NULL;
    uint32_t dev = 0;
    if (failed(tq_runtime_select(h->rt, o->backend, o->device, &be, &dev), "choosing a backend")) {
        fprintf(stderr, "host: run 'tqrun list' to see the backends tq found and why\n");
        return 1;
    }
    const char *env = getenv("TQ_BACKEND");
    const char *how = o->backend ? "--backend" : env && *env ? "TQ_BACKEND" : "automatic choice";
    tq_device_info info = { .struct_size = sizeof info };
    if (failed(tq_backend_device_info(be, dev, &info), "device info"))
        return 1;
    printf("backend: %s, device %u: %s (%s); chosen by %s\n", tq_backend_name(be), dev,
           info.name, info.driver, how);

    tq_kv_cache_desc desc = { .n_layer = o->layers, .n_kv_head = o->kv_heads,
                              .head_dim = o->dim, .n_ctx = o->ctx, .n_seq = 1,
                              .type_k = o->type_k, .type_v = o->type_v };
    tq_kv_cache_size pred;
    if (failed(tq_kv_cache_predict(&desc, &pred), "KV cache shape"))
        return 1;
    if (failed(tq_context_create(be, dev, o->ctx_options, &h->ctx), "creating a context") ||
        failed(tq_kv_cache_create(h->ctx, &desc, &h->cache), "creating the KV cache"))
        return 1;

    int64_t kv_ne[4] = { o->dim, o->kv_heads, 1, 1 }, q_ne[4] = { o->dim, o->heads, 1, 1 };
    if (failed(tq_tensor_create(h->ctx, TQ_TYPE_F32, kv_ne, TQ_MEM_IO, &h->k_in), "K input") ||
        failed(tq_tensor_create(h->ctx, TQ_TYPE_F32, kv_ne, TQ_MEM_IO, &h->v_in), "V input") ||
        failed(tq_tensor_create(h->ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &h->q), "Q") ||
        failed(tq_tensor_create(h->ctx, TQ_TYPE_F32, q_ne, TQ_MEM_IO, &h->out), "output") ||
        failed(tq_sequence_create(h->ctx, &h->seq), "sequence"))
        return 1;
    size_t kv_n = (size_t)o->dim * o->kv_heads, q_n = (size_t)o->dim * o->heads;
    h->k_rows = malloc(kv_n * sizeof(float));
    h->v_rows = malloc(kv_n * sizeof(float));
    h->q_rows = malloc(q_n * sizeof(float));
    h->out_rows = malloc(q_n * sizeof(float));
    float *q0 = malloc(q_n * sizeof(float));   /* layer 0's last query */
    if (!h->k_rows || !h->v_rows || !h->q_rows || !h->out_rows || !q0) {
        free(q0);
        fprintf(stderr, "host: out of memory\n");
        return 1;
    }

    printf("model: %u layers, %u heads / %u KV heads, d=%u, ctx %u; K %s, V %s; %u tokens\n",
           o->layers, o->heads, o->kv_heads, o->dim, o->ctx, tq_type_name(o->type_k),
           tq_type_name(o->type_v), o->tokens);
    double t0 = now_s();
    char variant[64] = "?";
    int rc = 0;
    for (uint32_t t = 0; t < o->tokens && !rc; t++) {
        tq_status st = tq_sequence_reset(h->seq);
        for (uint32_t l = 0; l < o->layers && !st; l++) {
            st = record_layer(h, l, t);
            if (l == 0)
                memcpy(q0, h->q_rows, q_n * sizeof(float));
        }
        if (!st) st = tq_sequence_submit(h->seq);
        if (!st) st = tq_sequence_wait(h->seq, UINT64_MAX);
        if (failed(st, "decode step"))
            rc = 1;
    }
    double secs = now_s() - t0;
    /* Op 5 is layer 0's attention (3 writes, 2 quantizes before it). */
    tq_op_timing tm;
    if (!rc && !failed(tq_sequence_timing(h->seq, 5, &tm), "timing"))
        snprintf(variant, sizeof variant, "%s", tm.variant);
    if (rc) {
        free(q0);
        return rc;
    }
    printf("attention kernel variant: %s\n", variant);
    printf("decode: %u tokens x %u layers in %.3f s: %.1f tokens/s\n", o->tokens, o->layers,
           secs, secs > 0 ? o->tokens / secs : 0.0);

    tq_memory_stats ms;
    if (failed(tq_context_memory(h->ctx, &ms), "memory stats")) {
        free(q0);
        return 1;
    }
    bool exact = ms.current[TQ_MEM_KV] == pred.total_bytes;
    printf("KV memory: predicted %llu bytes (%s), accounted %llu bytes (%s): %s\n",
           (unsigned long long)pred.total_bytes, mib(pred.total_bytes, b1, sizeof b1),
           (unsigned long long)ms.current[TQ_MEM_KV], mib(ms.current[TQ_MEM_KV], b2, sizeof b2),
           exact ? "exact" : "MISMATCH");
    printf("device memory peak:");
    for (int c = 0; c < TQ_MEM_CLASS_COUNT; c++)
        printf(" %s=%llu", tq_mem_class_name((tq_mem_class)c), (unsigned long long)ms.peak[c]);
    printf(" total=%llu bytes\n", (unsigned long long)ms.peak_total);

    bool ok = check_last(h, o->tokens, q0) && exact;
    free(q0);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    host h;
    memset(&h, 0, sizeof h);
    int rc = parse_args(argc, argv, &h.o);
    if (rc)
        return rc;
    rc = run(&h);
    /* Reverse order of creation: sequence and tensors, cache, context, runtime. */
    tq_sequence_destroy(h.seq);
    tq_tensor_destroy(h.out);
    tq_tensor_destroy(h.q);
    tq_tensor_destroy(h.v_in);
    tq_tensor_destroy(h.k_in);
    tq_kv_cache_destroy(h.cache);
    tq_context_destroy(h.ctx);
    tq_runtime_destroy(h.rt);
    free(h.k_rows);
    free(h.v_rows);
    free(h.q_rows);
    free(h.out_rows);
    free(h.k_cache);
    free(h.v_cache);
    return rc;
}
