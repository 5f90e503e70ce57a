/*
 * ocl_harness.c: see ocl_harness.h.
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

#include "ocl_harness.h"
#include "tq_format_constants.h"

const tq_plugin_desc *tq_plugin_query(void);

/* ------------------------------------------------------------------ host API */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[65536];
static size_t log_used;

static tq_status host_status_new(tq_code code, const char *fmt, ...)
{
    char msg[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tq_status_make(code, "%s", msg);
}

static void host_mem_add(void *acct, tq_mem_class cls, int64_t delta)
{
    hx *h = acct;
    h->mem_current[cls] += delta;
    if (h->mem_current[cls] > h->mem_peak[cls])
        h->mem_peak[cls] = h->mem_current[cls];
}

static void host_log(int level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (getenv("TQ_TEST_VERBOSE") || level == 0)
        fprintf(stderr, "[log %d] %s\n", level, line);
    pthread_mutex_lock(&log_lock);
    int w = snprintf(log_buf + log_used, sizeof log_buf - log_used, "%s\n", line);
    if (w > 0 && log_used + (size_t)w < sizeof log_buf)
        log_used += (size_t)w;
    pthread_mutex_unlock(&log_lock);
}

const tq_host_api hx_host = {
    .struct_size = sizeof(tq_host_api),
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .status_new = host_status_new,
    .mem_add = host_mem_add,
    .log = host_log,
};

const char *hx_log_text(void)
{
    return log_buf;
}

void hx_log_clear(void)
{
    pthread_mutex_lock(&log_lock);
    log_used = 0;
    log_buf[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

/* ------------------------------------------------------------------- setup */

static void ok(tq_status s, const char *what)
{
    if (s) {
        fprintf(stderr, "%s: %s: %s\n", what, tq_code_name(tq_status_code(s)), tq_status_message(s));
        tq_status_free(s);
        fail();
    }
}

tq_status hx_init_state(hx *h)
{
    memset(h, 0, sizeof *h);
    const tq_plugin_desc *d = tq_plugin_query();
    h->ops = d->ops;
    return h->ops->init(&hx_host, &h->state);
}

uint32_t hx_pick_device(hx *h)
{
    const char *want = getenv("TQ_TEST_OPENCL_DEVICE");
    uint32_t n = h->ops->device_count(h->state);
    for (uint32_t i = 0; i < n; i++) {
        tq_device_info info;
        if (h->ops->device_info(h->state, i, &info))
            continue;
        if (want && want[0] ? strstr(info.name, want) != NULL : info.score > -100)
            return i;
    }
    return UINT32_MAX;
}

void hx_open(hx *h, const char *options)
{
    ok(hx_init_state(h), "opencl init");
    h->device = hx_pick_device(h);
    if (h->device == UINT32_MAX) {
        fprintf(stderr, "no usable OpenCL device\n");
        fail();
    }
    ok(h->ops->context_create(h->state, h->device, options, h, &h->ctx), "context_create");
}

void hx_reopen_context(hx *h, const char *options)
{
    if (h->ctx)
        h->ops->context_destroy(h->ctx);
    h->ctx = NULL;
    ok(h->ops->context_create(h->state, h->device, options, h, &h->ctx), "context_create");
}

void hx_close(hx *h)
{
    if (h->ctx)
        h->ops->context_destroy(h->ctx);
    if (h->state)
        h->ops->shutdown(h->state);
    h->ctx = h->state = NULL;
}

/* ----------------------------------------------------------------- tensors */

void hx_tensor_new(hx *h, hx_tensor *t, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2,
                   int64_t ne3)
{
    hx_tensor_new_at(h, t, type, ne0, ne1, ne2, ne3, 0);
}

void hx_tensor_new_at(hx *h, hx_tensor *t, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2,
                      int64_t ne3, uint64_t offset)
{
    memset(t, 0, sizeof *t);
    t->ref.type = type;
    t->ref.ne[0] = ne0;
    t->ref.ne[1] = ne1;
    t->ref.ne[2] = ne2;
    t->ref.ne[3] = ne3;
    uint64_t rb = tq_type_row_bytes(type, ne0);
    assert_true(rb > 0);
    t->ref.nb[0] = tq_type_block_elems(type) == 1 ? tq_type_block_bytes(type) : 0;
    t->ref.nb[1] = rb;
    t->ref.nb[2] = rb * (uint64_t)ne1;
    t->ref.nb[3] = t->ref.nb[2] * (uint64_t)ne2;
    t->bytes = t->ref.nb[3] * (uint64_t)ne3;
    t->ref.offset = offset;
    ok(h->ops->buffer_alloc(h->ctx, t->bytes + offset, TQ_MEM_IO, &t->ref.buf), "buffer_alloc");
}

void hx_tensor_free(hx *h, hx_tensor *t)
{
    if (t->ref.buf) {
        h->ops->buffer_free(h->ctx, t->ref.buf);
    }
    t->ref.buf = NULL;
}

void hx_upload(hx *h, hx_tensor *t, const void *data)
{
    ok(h->ops->buffer_write(h->ctx, t->ref.buf, t->ref.offset, data, t->bytes), "buffer_write");
}

void hx_download(hx *h, hx_tensor *t, void *data)
{
    ok(h->ops->buffer_read(h->ctx, t->ref.buf, t->ref.offset, data, t->bytes), "buffer_read");
}

tq_plugin_timing hx_run(hx *h, const tq_op *op)
{
    void *seq = NULL;
    tq_plugin_timing tm;
    memset(&tm, 0, sizeof tm);
    ok(h->ops->seq_create(h->ctx, &seq), "seq_create");
    ok(h->ops->seq_record(seq, op), "seq_record");
    ok(h->ops->seq_submit(seq), "seq_submit");
    ok(h->ops->seq_wait(seq, UINT64_MAX), "seq_wait");
    ok(h->ops->seq_timing(seq, 0, &tm), "seq_timing");
    h->ops->seq_destroy(seq);
    return tm;
}

/* ------------------------------------------------------------------ random */

uint64_t hx_rand_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float hx_rand_normal(uint64_t *s)
{
    double u1 = ((double)(hx_rand_u64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(hx_rand_u64(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ------------------------------------------------------------- comparisons */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static bool within_ulp(uint16_t a, uint16_t b)
{
    if ((a ^ b) & 0x8000u)
        return a == b;
    return (a > b ? a - b : b - a) <= 1;
}

static const float mid2[3] = { TQ_TURBO2_MIDPOINTS };
static const float mid3[7] = { TQ_TURBO3_MIDPOINTS };
static const float mid4[15] = { TQ_TURBO4_MIDPOINTS };

static bool near_midpoint(uint32_t bits, float y)
{
    const float *mid = bits == 2 ? mid2 : bits == 3 ? mid3 : mid4;
    for (uint32_t i = 0; i + 1 < (1u << bits); i++)
        if (fabsf(y - mid[i]) <= 1e-6f)
            return true;
    return false;
}

static uint32_t turbo_index(uint32_t bits, const uint8_t *blk, uint32_t j)
{
    const uint8_t *qs = blk + TQ_TURBO_QS_OFFSET;
    if (bits == 2)
        return (qs[j / 4] >> (2 * (j % 4))) & 3u;
    if (bits == 3)
        return ((qs[j / 4] >> (2 * (j % 4))) & 3u) |
               (((blk[TQ_TURBO3_SIGNS_OFFSET + j / 8] >> (j % 8)) & 1u) << 2);
    return (qs[j / 2] >> (4 * (j % 2))) & 15u;
}

static int check_turbo_block(uint32_t bits, const float *x, int64_t count, const uint8_t *got,
                             const uint8_t *want, int64_t where)
{
    uint32_t bb = bits == 2 ? TQ_TURBO2_BLOCK_BYTES : bits == 3 ? TQ_TURBO3_BLOCK_BYTES
                                                                : TQ_TURBO4_BLOCK_BYTES;
    if (memcmp(got, want, bb) == 0)
        return 0;
    float *y = calloc(TQ_TURBO_GROUP, sizeof(float));
    float sum = 0.0f;
    for (int64_t j = 0; j < count; j++)
        sum += x[j] * x[j];
    float g = sqrtf(sum);
    for (int64_t j = 0; j < count; j++)
        y[j] = x[j] / g;
    tq_ref_rotate_forward(y);
    int bad = 0;
    double rsum = 0.0;
    for (uint32_t j = 0; j < TQ_TURBO_GROUP; j++) {
        uint32_t a = turbo_index(bits, got, j), b = turbo_index(bits, want, j);
        float c = tq_ref_turbo_centroid(bits, a);
        rsum += (double)c * c;
        if (a != b && !near_midpoint(bits, y[j])) {
            if (!bad)
                fprintf(stderr, "block %lld element %u: index %u, reference %u (y=%.9g)\n",
                        (long long)where, j, a, b, (double)y[j]);
            bad++;
        }
    }
    uint16_t gn = rd16(got), wn = rd16(want);
    if (!within_ulp(gn, wn)) {
        /* An allowed index flip changes the corrected norm: hold it to its own indices. */
        float r = sqrtf((float)rsum);
        uint16_t own = tq_ref_fp32_to_fp16(r > TQ_TURBO_ZERO_EPS ? g / r : g);
        if (!within_ulp(gn, own)) {
            fprintf(stderr, "block %lld: norm 0x%04x, reference 0x%04x\n", (long long)where, gn, wn);
            bad++;
        }
    }
    free(y);
    return bad;
}

static bool near_half(float v)
{
    float f = floorf(v);
    return fabsf(v - (f + 0.5f)) <= 1e-6f;
}

static bool near_integer(float v)
{
    return fabsf(v - roundf(v)) <= 1e-6f;
}

int hx_check_quantize(tq_type type, const float *src, int64_t ne0, const uint8_t *got,
                      const uint8_t *want)
{
    uint64_t rb = tq_type_row_bytes(type, ne0);
    if (memcmp(got, want, rb) == 0)
        return 0;
    int bad = 0;
    switch (type) {
    case TQ_TYPE_F32:
    case TQ_TYPE_F16:
        fprintf(stderr, "%s row differs\n", tq_type_name(type));
        return 1;
    case TQ_TYPE_Q8_0:
    case TQ_TYPE_Q4_0: {
        uint32_t bb = tq_type_block_bytes(type);
        for (int64_t b = 0; b < ne0 / 32; b++) {
            const uint8_t *g = got + b * bb, *w = want + b * bb;
            const float *x = src + b * 32;
            if (!within_ulp(rd16(g), rd16(w))) {
                fprintf(stderr, "%s block %lld: scale 0x%04x, reference 0x%04x\n",
                        tq_type_name(type), (long long)b, rd16(g), rd16(w));
                bad++;
                continue;
            }
            float amax = 0.0f, m = 0.0f;
            for (int j = 0; j < 32; j++)
                if (fabsf(x[j]) > amax) {
                    amax = fabsf(x[j]);
                    m = x[j];
                }
            float d = type == TQ_TYPE_Q8_0 ? amax / 127.0f : m / -8.0f;
            float id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int j = 0; j < 32; j++) {
                int gi, wi;
                bool allowed;
                if (type == TQ_TYPE_Q8_0) {
                    gi = (int8_t)g[2 + j];
                    wi = (int8_t)w[2 + j];
                    allowed = near_half(x[j] * id);
                } else {
                    int k = j % 16, sh = j < 16 ? 0 : 4;
                    gi = (g[2 + k] >> sh) & 15;
                    wi = (w[2 + k] >> sh) & 15;
                    allowed = near_integer(x[j] * id + 8.5f);
                }
                if (gi != wi && !allowed) {
                    if (!bad)
                        fprintf(stderr, "%s block %lld element %d: %d, reference %d\n",
                                tq_type_name(type), (long long)b, j, gi, wi);
                    bad++;
                }
            }
        }
        return bad;
    }
    default: {
        uint32_t bits = type == TQ_TYPE_TURBO2 ? 2 : type == TQ_TYPE_TURBO3 ? 3 : 4;
        uint32_t bb = tq_type_block_bytes(type);
        int64_t ng = tq_type_padded_elems(type, ne0) / TQ_TURBO_GROUP;
        for (int64_t b = 0; b < ng; b++) {
            int64_t count = ne0 - b * TQ_TURBO_GROUP;
            if (count > TQ_TURBO_GROUP)
                count = TQ_TURBO_GROUP;
            bad += check_turbo_block(bits, src + b * TQ_TURBO_GROUP, count, got + b * bb,
                                     want + b * bb, b);
        }
        return bad;
    }
    }
}

double hx_nmse(const float *out, const float *ref, size_t n, bool *bad_values)
{
    double num = 0.0, den = 0.0;
    *bad_values = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i]))
            *bad_values = true;
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0.0 ? num / den : num;
}
