#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_format_constants.h"
#include "vk_test_util.h"

const tq_plugin_desc *tq_plugin_query(void);

int64_t vkt_mem[TQ_MEM_CLASS_COUNT];
int64_t vkt_mem_peak[TQ_MEM_CLASS_COUNT];

static tq_status host_status_new(tq_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static tq_status host_status_new(tq_code code, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return tq_status_make(code, "%s", buf);
}

static void host_mem_add(void *acct, tq_mem_class cls, int64_t delta)
{
    (void)acct;
    vkt_mem[cls] += delta;
    if (vkt_mem[cls] > vkt_mem_peak[cls])
        vkt_mem_peak[cls] = vkt_mem[cls];
}

static void host_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void host_log(int level, const char *fmt, ...)
{
    if (level > 1 && !getenv("TQ_TEST_VERBOSE"))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[log %d] ", level);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

const tq_host_api vkt_host = {
    .struct_size = sizeof(tq_host_api),
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .status_new = host_status_new,
    .mem_add = host_mem_add,
    .log = host_log,
};

tq_status vkt_open_status(vkt *t, const char *options)
{
    memset(t, 0, sizeof(*t));
    t->ops = tq_plugin_query()->ops;
    tq_status s = t->ops->init(&vkt_host, &t->state);
    if (s)
        return s;
    const char *want = getenv("TQ_TEST_VULKAN_DEVICE");
    if (!want || !want[0])
        want = "llvmpipe";
    uint32_t n = t->ops->device_count(t->state);
    for (uint32_t i = 0; i < n; i++) {
        tq_device_info info;
        s = t->ops->device_info(t->state, i, &info);
        if (s)
            return s;
        if (strstr(info.name, want)) {
            t->device = i;
            s = t->ops->context_create(t->state, i, options, NULL, &t->ctx);
            if (s) {
                t->ops->shutdown(t->state);
                t->state = NULL;
            }
            return s;
        }
    }
    t->ops->shutdown(t->state);
    t->state = NULL;
    return tq_status_make(TQ_CODE_NOT_FOUND, "no Vulkan device named like '%s'", want);
}

bool vkt_open(vkt *t, const char *options)
{
    tq_status s = vkt_open_status(t, options);
    if (s && tq_status_code(s) == TQ_CODE_NOT_FOUND) {
        fprintf(stderr, "skipping: %s\n", tq_status_message(s));
        tq_status_free(s);
        return false;
    }
    if (s)
        fail_msg("vulkan open failed: %s", tq_status_message(s));
    return true;
}

void vkt_close(vkt *t)
{
    if (t->ctx)
        t->ops->context_destroy(t->ctx);
    if (t->state)
        t->ops->shutdown(t->state);
    memset(t, 0, sizeof(*t));
}

void vkt_tensor_new(vkt *t, vkt_tensor *out, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2,
                    int64_t ne3, uint64_t offset)
{
    memset(out, 0, sizeof(*out));
    uint64_t rb = tq_type_row_bytes(type, ne0);
    assert_true(rb > 0);
    out->bytes = rb * (uint64_t)(ne1 * ne2 * ne3);
    tq_status s = t->ops->buffer_alloc(t->ctx, offset + out->bytes + 64, TQ_MEM_IO, &out->ref.buf);
    if (s)
        fail_msg("buffer_alloc: %s", tq_status_message(s));
    out->ref.offset = offset;
    out->ref.type = type;
    out->ref.ne[0] = ne0;
    out->ref.ne[1] = ne1;
    out->ref.ne[2] = ne2;
    out->ref.ne[3] = ne3;
    out->ref.nb[0] = tq_type_block_elems(type) == 1 ? tq_type_block_bytes(type) : 0;
    out->ref.nb[1] = rb;
    out->ref.nb[2] = rb * (uint64_t)ne1;
    out->ref.nb[3] = rb * (uint64_t)(ne1 * ne2);
    /* guard pattern around and in the tensor */
    uint8_t *junk = malloc(offset + out->bytes + 64);
    memset(junk, 0xA5, offset + out->bytes + 64);
    s = t->ops->buffer_write(t->ctx, out->ref.buf, 0, junk, offset + out->bytes + 64);
    free(junk);
    if (s)
        fail_msg("buffer_write: %s", tq_status_message(s));
}

void vkt_tensor_free(vkt *t, vkt_tensor *tn)
{
    /* guard bytes before and after must be intact */
    uint8_t guard[64];
    if (tn->ref.offset) {
        uint64_t n = tn->ref.offset < 64 ? tn->ref.offset : 64;
        assert_null(t->ops->buffer_read(t->ctx, tn->ref.buf, tn->ref.offset - n, guard, n));
        for (uint64_t i = 0; i < n; i++)
            assert_int_equal(guard[i], 0xA5);
    }
    assert_null(t->ops->buffer_read(t->ctx, tn->ref.buf, tn->ref.offset + tn->bytes, guard, 64));
    for (int i = 0; i < 64; i++)
        if (guard[i] != 0xA5)
            fail_msg("guard byte %d after a %s tensor was overwritten", i, tq_type_name(tn->ref.type));
    t->ops->buffer_free(t->ctx, tn->ref.buf);
    memset(tn, 0, sizeof(*tn));
}

void vkt_tensor_write(vkt *t, vkt_tensor *tn, const void *src, uint64_t size)
{
    tq_status s = t->ops->buffer_write(t->ctx, tn->ref.buf, tn->ref.offset, src, size);
    if (s)
        fail_msg("buffer_write: %s", tq_status_message(s));
}

void vkt_tensor_read(vkt *t, vkt_tensor *tn, void *dst, uint64_t size)
{
    tq_status s = t->ops->buffer_read(t->ctx, tn->ref.buf, tn->ref.offset, dst, size);
    if (s)
        fail_msg("buffer_read: %s", tq_status_message(s));
}

tq_status vkt_run_status(vkt *t, const tq_op *op, tq_plugin_timing *timing)
{
    void *seq = NULL;
    tq_status s = t->ops->seq_create(t->ctx, &seq);
    if (!s)
        s = t->ops->seq_record(seq, op);
    if (!s)
        s = t->ops->seq_submit(seq);
    if (!s)
        s = t->ops->seq_wait(seq, 120ull * 1000000000ull);
    if (!s && timing)
        s = t->ops->seq_timing(seq, 0, timing);
    if (seq)
        t->ops->seq_destroy(seq);
    return s;
}

void vkt_run(vkt *t, const tq_op *op, tq_plugin_timing *timing)
{
    tq_status s = vkt_run_status(t, op, timing);
    if (s)
        fail_msg("op failed: %s", tq_status_message(s));
}

float vkt_randn(uint64_t *st)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *st = *st * 6364136223846793005ull + 1442695040888963407ull;
        u[i] = ((double)(*st >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float)(sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

void vkt_fill_randn(float *x, int64_t n, uint64_t seed)
{
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++)
        x[i] = vkt_randn(&st);
}

static const float mid2[] = { TQ_TURBO2_MIDPOINTS };
static const float mid3[] = { TQ_TURBO3_MIDPOINTS };
static const float mid4[] = { TQ_TURBO4_MIDPOINTS };

static uint32_t turbo_idx(tq_type type, const uint8_t *b, uint32_t j)
{
    if (type == TQ_TYPE_TURBO2)
        return (b[2 + j / 4] >> (2 * (j % 4))) & 3;
    if (type == TQ_TYPE_TURBO3)
        return ((b[2 + j / 4] >> (2 * (j % 4))) & 3) | (((b[34 + j / 8] >> (j % 8)) & 1) << 2);
    return (b[2 + j / 2] >> (4 * (j % 2))) & 15;
}

static bool fp16_close(const uint8_t *a, const uint8_t *b)
{
    int ha = a[0] | (a[1] << 8), hb = b[0] | (b[1] << 8);
    return abs(ha - hb) <= 1 && ((ha ^ hb) & 0x8000) == 0;
}

const char *vkt_compare_quantized_row(tq_type type, const float *src, int64_t n,
                                      const uint8_t *got, const uint8_t *want, char *msg,
                                      size_t cap)
{
    uint64_t rb = tq_type_row_bytes(type, n);
    if (memcmp(got, want, rb) == 0)
        return NULL;
    if (type == TQ_TYPE_F32 || type == TQ_TYPE_F16) {
        uint64_t i = 0;
        while (got[i] == want[i])
            i++;
        snprintf(msg, cap, "%s row differs at byte %llu (%02x vs ref %02x; input %.9g)",
                 tq_type_name(type), (unsigned long long)i, got[i], want[i],
                 src[i / (type == TQ_TYPE_F32 ? 4 : 2)]);
        return msg;
    }
    uint32_t be = tq_type_block_elems(type), bb = tq_type_block_bytes(type);
    int64_t padded = tq_type_padded_elems(type, n);
    for (int64_t blk = 0; blk < padded / be; blk++) {
        const uint8_t *g = got + blk * bb, *w = want + blk * bb;
        if (memcmp(g, w, bb) == 0)
            continue;
        if (!fp16_close(g, w)) {
            snprintf(msg, cap, "block %lld: scale/norm %02x%02x vs ref %02x%02x", (long long)blk,
                     g[1], g[0], w[1], w[0]);
            return msg;
        }
        float x[128] = { 0 };
        for (uint32_t j = 0; j < be; j++)
            x[j] = blk * be + j < n ? src[blk * be + j] : 0.0f;
        if (tq_type_is_turbo(type)) {
            double ss = 0;
            for (int j = 0; j < 128; j++)
                ss += (double)x[j] * x[j];
            float gn = sqrtf((float)ss);
            for (int j = 0; j < 128; j++)
                x[j] /= gn;
            tq_ref_rotate_forward(x);
            const float *mid = type == TQ_TYPE_TURBO2 ? mid2 : type == TQ_TYPE_TURBO3 ? mid3 : mid4;
            uint32_t nm = type == TQ_TYPE_TURBO2 ? 3 : type == TQ_TYPE_TURBO3 ? 7 : 15;
            for (uint32_t j = 0; j < 128; j++) {
                uint32_t a = turbo_idx(type, g, j), b = turbo_idx(type, w, j);
                if (a == b)
                    continue;
                bool near = false;
                for (uint32_t m = 0; m < nm; m++)
                    near |= fabsf(x[j] - mid[m]) <= 1e-6f;
                if (!near || (a > b ? a - b : b - a) != 1) {
                    snprintf(msg, cap, "block %lld elem %u: index %u vs ref %u (y=%.9g)",
                             (long long)blk, j, a, b, x[j]);
                    return msg;
                }
            }
        } else {
            /* q8_0 / q4_0: codes may differ only at a rounding boundary */
            float d = tq_ref_fp16_to_fp32((uint16_t)(w[0] | (w[1] << 8)));
            for (uint32_t j = 0; j < 32; j++) {
                int a, b;
                if (type == TQ_TYPE_Q8_0) {
                    a = (int8_t)g[2 + j];
                    b = (int8_t)w[2 + j];
                } else {
                    a = j < 16 ? g[2 + j] & 15 : g[2 + j - 16] >> 4;
                    b = j < 16 ? w[2 + j] & 15 : w[2 + j - 16] >> 4;
                }
                if (a == b)
                    continue;
                float v = d != 0 ? x[j] / d : 0;
                float frac = fabsf(v - floorf(v) - 0.5f);
                if (abs(a - b) != 1 || frac > 1e-6f * fmaxf(1.0f, fabsf(v))) {
                    snprintf(msg, cap, "block %lld elem %u: code %d vs ref %d (x/d=%.9g)",
                             (long long)blk, j, a, b, v);
                    return msg;
                }
            }
        }
    }
    return NULL;
}
