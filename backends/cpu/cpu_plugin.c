/*
 * cpu_plugin.c: the CPU backend's plugin glue. One device ("cpu"), contexts that own a
 * thread pool and a scratch area, host-memory buffers, and sequences that execute their
 * ops synchronously at submit with per-op host timing. Everything computational is in
 * the tq_cpu_kernels library (cpu_ops.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_isa.h"
#include "cpu_ops.h"
#include "tq/tq_plugin.h"

typedef struct cpu_state {
    const tq_host_api *host;
    tq_device_info info;
} cpu_state;

typedef struct cpu_ctx {
    cpu_state *st;
    void *acct;
    cpu_pool *pool;
    cpu_scratch scratch;
    cpu_exec exec;
} cpu_ctx;

typedef struct cpu_seq {
    cpu_ctx *ctx;
    tq_op *ops;
    tq_op_timing *timings;
    uint32_t n, cap, n_done;
} cpu_seq;

#define ERR(st, code, ...) ((st)->host->status_new((code), __VA_ARGS__))

/* ------------------------------------------------------------------ device */

static void read_model_name(char *out, size_t len)
{
    snprintf(out, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10))
            continue;
        const char *c = strchr(line, ':');
        if (!c)
            break;
        c++;
        while (*c == ' ' || *c == '\t')
            c++;
        size_t n = strcspn(c, "\n");
        while (n > 0 && isspace((unsigned char)c[n - 1]))
            n--;
        snprintf(out, len, "%.*s", (int)n, c);
        break;
    }
    fclose(f);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static long online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

static tq_status cpu_init(const tq_host_api *host, void **out_state)
{
    cpu_state *st = calloc(1, sizeof(*st));
    if (!st)
        return host->status_new(TQ_CODE_OUT_OF_MEMORY, "cpu: out of memory at init");
    st->host = host;
    tq_device_info *d = &st->info;
    d->struct_size = sizeof(*d);
    read_model_name(d->name, sizeof(d->name));
    snprintf(d->driver, sizeof(d->driver), "tq cpu backend %d.%d.%d (pthreads pool)",
             TQ_VERSION_MAJOR, TQ_VERSION_MINOR, TQ_VERSION_PATCH);
    snprintf(d->id, sizeof(d->id), "cpu:x86_64:%016llx", (unsigned long long)fnv1a(d->name));
    cpu_isa_features(d->features, sizeof(d->features));
    snprintf(d->default_variant, sizeof(d->default_variant), "%s", cpu_isa_best());
    snprintf(d->note, sizeof(d->note),
             "host CPU: %ld threads by default; variants: avx512 avx2 scalar where cpuid allows "
             "(options variant=, threads=, kdot=f32|i16)", online_cpus());
    d->type = TQ_DEVICE_CPU;
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    long psz = sysconf(_SC_PAGESIZE);
    d->memory_total = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
    d->memory_free = avail > 0 && psz > 0 ? (uint64_t)avail * (uint64_t)psz : 0;
    d->compute_units = (uint32_t)online_cpus();
    d->score = 10;
    *out_state = st;
    return NULL;
}

static void cpu_shutdown(void *state)
{
    free(state);
}

static uint32_t cpu_device_count(void *state)
{
    (void)state;
    return 1;
}

static tq_status cpu_device_info(void *state, uint32_t device, tq_device_info *out)
{
    cpu_state *st = state;
    if (device != 0)
        return ERR(st, TQ_CODE_OUT_OF_RANGE, "cpu: device %u does not exist (the cpu backend "
                   "has one device, 0)", device);
    uint32_t size = out->struct_size && out->struct_size < sizeof(*out) ? out->struct_size
                                                                         : sizeof(*out);
    memcpy(out, &st->info, size);
    out->struct_size = size;
    return NULL;
}

/* ------------------------------------------------------------------ context */

static void scratch_account(void *cookie, int64_t delta)
{
    cpu_ctx *c = cookie;
    c->st->host->mem_add(c->acct, TQ_MEM_SCRATCH, delta);
}

static tq_status parse_options(cpu_state *st, const char *options, char *variant, size_t vlen,
                               long *threads, char *kdot, size_t klen)
{
    variant[0] = '\0';
    kdot[0] = '\0';
    *threads = online_cpus();
    if (!options)
        return NULL;
    const char *p = options;
    while (*p) {
        size_t n = strcspn(p, ",;");
        char item[128];
        if (n >= sizeof(item))
            return ERR(st, TQ_CODE_INVALID_ARGUMENT, "cpu: option '%.40s...' is too long", p);
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        if (*p)
            p++;
        char *s = item;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return ERR(st, TQ_CODE_INVALID_ARGUMENT, "cpu: option '%s' is not key=value "
                       "(known keys: variant, threads, kdot)", s);
        *eq = '\0';
        const char *val = eq + 1;
        if (!strcmp(s, "variant")) {
            snprintf(variant, vlen, "%s", val);
        } else if (!strcmp(s, "kdot")) {
            if (strcmp(val, "f32") && strcmp(val, "i16"))
                return ERR(st, TQ_CODE_INVALID_ARGUMENT, "cpu: kdot=%s is not f32 or i16", val);
            snprintf(kdot, klen, "%s", val);
        } else if (!strcmp(s, "threads")) {
            char *end = NULL;
            errno = 0;
            long t = strtol(val, &end, 10);
            if (errno || end == val || *end || t < 1 || t > 1024)
                return ERR(st, TQ_CODE_INVALID_ARGUMENT, "cpu: threads=%s is not a number of "
                           "threads in 1..1024", val);
            *threads = t;
        } else {
            return ERR(st, TQ_CODE_INVALID_ARGUMENT, "cpu: unknown option '%s' (known keys: "
                       "variant=avx512|avx2|scalar, threads=N, kdot=f32|i16)", s);
        }
    }
    return NULL;
}

static tq_status cpu_context_create(void *state, uint32_t device, const char *options, void *acct,
                                    void **out_ctx)
{
    cpu_state *st = state;
    if (device != 0)
        return ERR(st, TQ_CODE_OUT_OF_RANGE, "cpu: device %u does not exist", device);
    char variant[64], kdot[8], err[256];
    long threads;
    tq_status s = parse_options(st, options, variant, sizeof(variant), &threads, kdot, sizeof(kdot));
    if (s)
        return s;
    const cpu_kernels *kern;
    if (!cpu_isa_select(variant, &kern, err, sizeof(err)) ||
        !cpu_isa_kdot(kdot, &kern, err, sizeof(err)))
        return ERR(st, TQ_CODE_UNSUPPORTED, "%s", err);
    cpu_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return ERR(st, TQ_CODE_OUT_OF_MEMORY, "cpu: out of memory creating a context");
    c->st = st;
    c->acct = acct;
    if (cpu_pool_create((int)threads, CPU_POOL_STACK_BYTES, &c->pool, err, sizeof(err))) {
        free(c);
        return ERR(st, TQ_CODE_BACKEND, "cpu: %s", err);
    }
    c->scratch.account = scratch_account;
    c->scratch.cookie = c;
    c->exec.kern = kern;
    c->exec.pool = c->pool;
    c->exec.scratch = &c->scratch;
    *out_ctx = c;
    return NULL;
}

static void cpu_context_destroy(void *ctx)
{
    cpu_ctx *c = ctx;
    if (!c)
        return;
    cpu_pool_destroy(c->pool);
    cpu_scratch_release(&c->scratch);
    free(c);
}

/* ------------------------------------------------------------------ buffers */

static tq_status cpu_buffer_alloc(void *ctx, uint64_t size, tq_mem_class cls, void **out_buf)
{
    cpu_ctx *c = ctx;
    cpu_buffer *b = calloc(1, sizeof(*b));
    uint64_t alloc = (size + 63) & ~(uint64_t)63;
    if (alloc == 0)
        alloc = 64;
    if (b)
        b->ptr = aligned_alloc(64, alloc);
    if (!b || !b->ptr) {
        free(b);
        return ERR(c->st, TQ_CODE_OUT_OF_MEMORY, "cpu: cannot allocate %llu bytes of host "
                   "memory (class %d)", (unsigned long long)size, (int)cls);
    }
    memset(b->ptr, 0, alloc);
    b->size = size;
    b->cls = cls;
    *out_buf = b;
    return NULL;
}

static void cpu_buffer_free(void *ctx, void *buf)
{
    (void)ctx;
    cpu_buffer *b = buf;
    if (b)
        free(b->ptr);
    free(b);
}

static tq_status cpu_buffer_write(void *ctx, void *buf, uint64_t offset, const void *src,
                                  uint64_t size)
{
    cpu_ctx *c = ctx;
    cpu_buffer *b = buf;
    if (offset > b->size || size > b->size - offset)
        return ERR(c->st, TQ_CODE_OUT_OF_RANGE, "cpu: write of %llu bytes at %llu exceeds the "
                   "%llu-byte buffer", (unsigned long long)size, (unsigned long long)offset,
                   (unsigned long long)b->size);
    memcpy(b->ptr + offset, src, size);
    return NULL;
}

static tq_status cpu_buffer_read(void *ctx, void *buf, uint64_t offset, void *dst, uint64_t size)
{
    cpu_ctx *c = ctx;
    cpu_buffer *b = buf;
    if (offset > b->size || size > b->size - offset)
        return ERR(c->st, TQ_CODE_OUT_OF_RANGE, "cpu: read of %llu bytes at %llu exceeds the "
                   "%llu-byte buffer", (unsigned long long)size, (unsigned long long)offset,
                   (unsigned long long)b->size);
    memcpy(dst, b->ptr + offset, size);
    return NULL;
}

static tq_status cpu_supports(void *ctx, const tq_op *op)
{
    cpu_ctx *c = ctx;
    char err[256];
    tq_code code = cpu_op_supported(op, err, sizeof(err));
    return code == TQ_CODE_OK ? NULL : ERR(c->st, code, "%s", err);
}

/* ------------------------------------------------------------------ sequences */

static tq_status cpu_seq_create(void *ctx, void **out_seq)
{
    cpu_ctx *c = ctx;
    cpu_seq *s = calloc(1, sizeof(*s));
    if (!s)
        return ERR(c->st, TQ_CODE_OUT_OF_MEMORY, "cpu: out of memory creating a sequence");
    s->ctx = c;
    *out_seq = s;
    return NULL;
}

static void cpu_seq_destroy(void *seq)
{
    cpu_seq *s = seq;
    if (!s)
        return;
    free(s->ops);
    free(s->timings);
    free(s);
}

static tq_status cpu_seq_record(void *seq, const tq_op *op)
{
    cpu_seq *s = seq;
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 8;
        tq_op *ops = realloc(s->ops, cap * sizeof(*ops));
        if (ops)
            s->ops = ops;
        tq_op_timing *tm = ops ? realloc(s->timings, cap * sizeof(*tm)) : NULL;
        if (!ops || !tm)
            return ERR(s->ctx->st, TQ_CODE_OUT_OF_MEMORY, "cpu: out of memory recording op %u",
                       s->n);
        s->timings = tm;
        s->cap = cap;
    }
    tq_op *dst = &s->ops[s->n];
    memset(dst, 0, sizeof(*dst));
    memcpy(dst, op, op->struct_size && op->struct_size < sizeof(*op) ? op->struct_size : sizeof(*op));
    dst->struct_size = sizeof(*dst);
    s->n++;
    return NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *op_name(tq_op_kind k)
{
    static const char *const names[TQ_OP_KIND_COUNT] = {
        "write", "read", "quantize", "dequantize", "rotate", "attention" };
    return (unsigned)k < TQ_OP_KIND_COUNT ? names[k] : "unknown";
}

static tq_status cpu_seq_submit(void *seq)
{
    cpu_seq *s = seq;
    s->n_done = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        char err[256];
        cpu_op_info info;
        uint64_t t0 = now_ns();
        tq_code code = cpu_exec_op(&s->ctx->exec, &s->ops[i], &info, err, sizeof(err));
        uint64_t t1 = now_ns();
        if (code != TQ_CODE_OK)
            return ERR(s->ctx->st, code, "%s (op %u, %s)", err, i, op_name(s->ops[i].kind));
        tq_op_timing *tm = &s->timings[i];
        memset(tm, 0, sizeof(*tm));
        snprintf(tm->op, sizeof(tm->op), "%s", op_name(s->ops[i].kind));
        snprintf(tm->variant, sizeof(tm->variant), "%s", info.variant);
        tm->device_ns = tm->host_ns = t1 - t0;
        tm->bytes_read = info.bytes_read;
        tm->bytes_written = info.bytes_written;
        s->n_done = i + 1;
    }
    return NULL;
}

static tq_status cpu_seq_wait(void *seq, uint64_t timeout_ns)
{
    (void)seq;
    (void)timeout_ns;
    return NULL;    /* submit ran everything */
}

static tq_status cpu_seq_reset(void *seq)
{
    cpu_seq *s = seq;
    s->n = 0;
    s->n_done = 0;
    return NULL;
}

static tq_status cpu_seq_timing(void *seq, uint32_t index, tq_plugin_timing *out)
{
    cpu_seq *s = seq;
    if (index >= s->n_done)
        return ERR(s->ctx->st, TQ_CODE_OUT_OF_RANGE, "cpu: no timing for op %u (the last "
                   "submission completed %u ops)", index, s->n_done);
    *out = s->timings[index];
    return NULL;
}

static void *cpu_get_extra(void *state, const char *name)
{
    (void)state;
    (void)name;
    return NULL;
}

static const tq_backend_ops cpu_ops_table = {
    .struct_size = sizeof(tq_backend_ops),
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .context_create = cpu_context_create,
    .context_destroy = cpu_context_destroy,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_write = cpu_buffer_write,
    .buffer_read = cpu_buffer_read,
    .supports = cpu_supports,
    .seq_create = cpu_seq_create,
    .seq_destroy = cpu_seq_destroy,
    .seq_record = cpu_seq_record,
    .seq_submit = cpu_seq_submit,
    .seq_wait = cpu_seq_wait,
    .seq_reset = cpu_seq_reset,
    .seq_timing = cpu_seq_timing,
    .get_extra = cpu_get_extra,
};

static const tq_plugin_desc cpu_desc = {
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(tq_plugin_desc),
    .name = "cpu",
    .ops = &cpu_ops_table,
};

TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void);

TQ_PLUGIN_EXPORT const tq_plugin_desc *tq_plugin_query(void)
{
    return &cpu_desc;
}
