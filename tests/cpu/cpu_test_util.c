/*
 * cpu_test_util.c: see cpu_test_util.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_isa.h"
#include "cpu_test_util.h"
#include "tq/tq_ref.h"
#include "tq_format_constants.h"

static uint32_t next_u32(ct_rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}

float ct_gauss(ct_rng *r)
{
    double u1 = (next_u32(r) + 1.0) / 2147483649.0, u2 = next_u32(r) / 2147483648.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void ct_fill_gauss(ct_rng *r, float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = ct_gauss(r) * scale;
}

void ct_tensor_init(ct_tensor *t, tq_type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)
{
    memset(t, 0, sizeof(*t));
    tq_tensor_ref *r = &t->ref;
    r->type = type;
    r->ne[0] = ne0; r->ne[1] = ne1; r->ne[2] = ne2; r->ne[3] = ne3;
    r->nb[0] = type == TQ_TYPE_F32 ? 4 : type == TQ_TYPE_F16 ? 2 : 0;
    r->nb[1] = cpu_row_bytes(type, ne0);
    r->nb[2] = r->nb[1] * (uint64_t)ne1;
    r->nb[3] = r->nb[2] * (uint64_t)ne2;
    t->buf.size = r->nb[3] * (uint64_t)ne3;
    t->buf.ptr = aligned_alloc(64, (t->buf.size + 63) & ~(uint64_t)63);
    memset(t->buf.ptr, 0, t->buf.size);
    r->buf = &t->buf;
}

void ct_tensor_free(ct_tensor *t)
{
    free(t->buf.ptr);
    t->buf.ptr = NULL;
}

static void account(void *cookie, int64_t delta)
{
    ((ct_exec *)cookie)->accounted += delta;
}

bool ct_exec_init(ct_exec *e, const char *variant, int threads)
{
    char err[256];
    memset(e, 0, sizeof(*e));
    /* "name:kdot" selects a variant and its kdot option (e.g. "avx2:f32") */
    char name[32];
    size_t n = strcspn(variant, ":");
    snprintf(name, sizeof(name), "%.*s", (int)n, variant);
    if (!cpu_isa_select(name, &e->ex.kern, err, sizeof(err)) ||
        !cpu_isa_kdot(variant[n] ? variant + n + 1 : "", &e->ex.kern, err, sizeof(err)))
        return false;
    if (cpu_pool_create(threads, CPU_POOL_STACK_BYTES, &e->ex.pool, err, sizeof(err)))
        return false;
    e->scratch.account = account;
    e->scratch.cookie = e;
    e->ex.scratch = &e->scratch;
    return true;
}

void ct_exec_free(ct_exec *e)
{
    cpu_pool_destroy(e->ex.pool);
    cpu_scratch_release(&e->scratch);
}

static int turbo_bits(tq_type t)
{
    return t == TQ_TYPE_TURBO2 ? 2 : t == TQ_TYPE_TURBO3 ? 3 : 4;
}

static uint32_t turbo_idx(int bits, const uint8_t *b, int j)
{
    const uint8_t *qs = b + TQ_TURBO_QS_OFFSET;
    if (bits == 2)
        return (qs[j / 4] >> (2 * (j % 4))) & 3u;
    if (bits == 3)
        return ((qs[j / 4] >> (2 * (j % 4))) & 3u) |
               (((b[TQ_TURBO3_SIGNS_OFFSET + j / 8] >> (j % 8)) & 1u) << 2);
    return (qs[j / 2] >> (4 * (j % 2))) & 15u;
}

static bool near_midpoint(int bits, float y)
{
    static const float m2[] = { TQ_TURBO2_MIDPOINTS }, m3[] = { TQ_TURBO3_MIDPOINTS },
                       m4[] = { TQ_TURBO4_MIDPOINTS };
    const float *m = bits == 2 ? m2 : bits == 3 ? m3 : m4;
    for (int i = 0; i < (1 << bits) - 1; i++)
        if (fabsf(y - m[i]) <= 1e-6f)
            return true;
    return false;
}

static bool fp16_within_ulp(uint16_t a, uint16_t b)
{
    return a == b || (((a ^ b) & 0x8000u) == 0 && (a > b ? a - b : b - a) <= 1);
}

int ct_quant_row_violations(tq_type type, const float *x, int64_t n, const uint8_t *got,
                            const uint8_t *want)
{
    uint64_t rb = cpu_row_bytes(type, n);
    if (!memcmp(got, want, rb))
        return 0;
    if (!cpu_type_is_turbo(type))
        return 1;                 /* our f16/q8_0/q4_0 follow the reference exactly */
    int bits = turbo_bits(type), bad = 0;
    uint64_t bb = cpu_row_bytes(type, 128);
    for (int64_t g = 0; g * 128 < n; g++) {
        const uint8_t *a = got + g * bb, *b = want + g * bb;
        uint16_t na, nb;
        memcpy(&na, a, 2);
        memcpy(&nb, b, 2);
        if (!fp16_within_ulp(na, nb))
            bad++;
        /* the reference's value before the decision */
        float y[128], ss = 0.0f;
        int64_t cnt = n - g * 128 < 128 ? n - g * 128 : 128;
        for (int64_t j = 0; j < cnt; j++)
            ss += x[g * 128 + j] * x[g * 128 + j];
        float gn = sqrtf(ss);
        for (int j = 0; j < 128; j++)
            y[j] = j < cnt && gn > 0.0f ? x[g * 128 + j] / gn : 0.0f;
        tq_ref_rotate_forward(y);
        for (int j = 0; j < 128; j++)
            if (turbo_idx(bits, a, j) != turbo_idx(bits, b, j) && !near_midpoint(bits, y[j]))
                bad++;
    }
    return bad;
}

double ct_nmse(const float *got, const float *want, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0.0 ? num / den : num;
}

bool ct_all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}
