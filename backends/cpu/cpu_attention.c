/*
 * cpu_attention.c: the attention driver, ISA-neutral.
 *
 * Work is split three ways:
 *   1. prep:  every query row is scaled, zero-padded to the K row's padded size and, for
 *             turbo K, rotated once (scores then dot directly against rotated keys);
 *   2. tasks: (sequence, kv head, row block, key chunk). A row block is up to 8 query rows
 *             of one kv head (its GQA group's heads, times query tokens), so every decoded
 *             K/V block is applied to all of them. Each task runs an online softmax over
 *             its chunk in 64-key tiles and leaves (m, l, acc) partials (split-K);
 *   3. merge: per row, partials are combined, turbo V is rotated back once, and the first
 *             d values are written.
 * Chunking depends only on the dispatch (n_kv, rows, threads), so scratch is sized from
 * the op that runs, never from the cache's n_ctx.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu_fp16.h"
#include "cpu_ops.h"

typedef struct attn_job {
    const cpu_kernels *kern;
    const float *q;
    float *out;
    const uint8_t *k, *v;
    tq_type tk, tv;
    int64_t d, n_head, n_q, n_seq, n_kvh, n_ctx, n_kv, G, R, n_rb, dk, dv;
    uint64_t krb, vrb;
    float scale, softcap;
    bool causal;
    int64_t q_pos0;
    int64_t chunk, n_chunks, n_tasks;
    float *qbuf, *pacc, *pml;
    float *qkbuf;                 /* kprep's rows (same geometry as qbuf), or NULL */
    uint8_t *kint;                /* per (seq, kv head): 1 = kscore from kprep's rows */
    uint8_t *ws;
    size_t ws_stride;
} attn_job;

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static size_t ws_bytes(int64_t dv)
{
    return align64(CPU_ATTN_SCORE_FLOATS * 4) + align64(CPU_ATTN_VWS_BYTES) +
           align64((size_t)dv * 4);
}

static void plan(attn_job *j, const tq_op *op, int n_threads)
{
    j->d = op->q.ne[0];
    j->n_head = op->q.ne[1];
    j->n_q = op->q.ne[2];
    j->n_seq = op->q.ne[3];
    j->n_ctx = op->k.ne[1];
    j->n_kvh = op->k.ne[2];
    j->n_kv = op->n_kv;
    j->tk = op->k.type;
    j->tv = op->v.type;
    j->G = j->n_head / j->n_kvh;
    j->R = j->G * j->n_q;
    j->n_rb = (j->R + CPU_ATTN_RB - 1) / CPU_ATTN_RB;
    j->dk = cpu_padded_elems(j->tk, j->d);
    j->dv = cpu_padded_elems(j->tv, j->d);
    j->krb = op->k.nb[1];
    j->vrb = op->v.nb[1];
    int64_t groups = j->n_seq * j->n_kvh * j->n_rb;
    int64_t want = n_threads > 1 ? 8 * (int64_t)n_threads : 1;
    int64_t per_group = (want + groups - 1) / groups;
    int64_t chunk = (j->n_kv + per_group - 1) / per_group;
    if (chunk < 8 * CPU_ATTN_TILE)
        chunk = 8 * CPU_ATTN_TILE;
    chunk = (chunk + CPU_ATTN_TILE - 1) / CPU_ATTN_TILE * CPU_ATTN_TILE;
    j->chunk = chunk;
    j->n_chunks = (j->n_kv + chunk - 1) / chunk;
    j->n_tasks = groups * j->n_chunks;
}

static size_t scratch_layout(attn_job *j, uint8_t *base, int n_threads)
{
    size_t off = 0;
    size_t qb1 = align64((size_t)(j->n_seq * j->n_kvh * j->R * j->dk) * 4);
    /* room for kprep's rows whenever K is turbo (sizing does not know the variant) */
    size_t qk = cpu_type_is_turbo(j->tk) ? qb1 : 0;
    size_t ki = align64((size_t)(j->n_seq * j->n_kvh));
    size_t qb = qb1 + qk + ki;
    size_t pa = align64((size_t)(j->n_tasks * CPU_ATTN_RB * j->dv) * 4);
    size_t pm = align64((size_t)(j->n_tasks * CPU_ATTN_RB * 2) * 4);
    j->ws_stride = ws_bytes(j->dv);
    if (base) {
        j->qbuf = (float *)(void *)(base + off);
        j->qkbuf = qk && j->kern->kprep[j->tk] ? (float *)(void *)(base + off + qb1) : NULL;
        j->kint = base + off + qb1 + qk;
        j->pacc = (float *)(void *)(base + off + qb);
        j->pml = (float *)(void *)(base + off + qb + pa);
        j->ws = base + off + qb + pa + pm;
    }
    return qb + pa + pm + j->ws_stride * (size_t)n_threads;
}

size_t cpu_attention_scratch_bytes(const tq_op *op, int n_threads)
{
    attn_job j;
    memset(&j, 0, sizeof(j));
    plan(&j, op, n_threads);
    return scratch_layout(&j, NULL, n_threads);
}

/* Row r of group (s, h): query token r / G, query head h * G + r % G. */
static const float *q_row(const attn_job *j, int64_t s, int64_t h, int64_t r)
{
    return j->q + ((s * j->n_q + r / j->G) * j->n_head + h * j->G + r % j->G) * j->d;
}

static int64_t row_limit(const attn_job *j, int64_t r)
{
    int64_t lim = j->causal ? j->q_pos0 + r / j->G : j->n_kv - 1;
    return lim < j->n_kv - 1 ? lim : j->n_kv - 1;
}

/* Each 128-group of x from element order to plane order (cpu_plane_elem), in place. */
static void to_plane_order(float *x, int64_t n_groups)
{
    float tmp[128];
    for (int64_t g = 0; g < n_groups; g++, x += 128) {
        for (int p = 0; p < 128; p++)
            tmp[p] = x[cpu_plane_elem(p)];
        memcpy(x, tmp, sizeof(tmp));
    }
}

/* The inverse of to_plane_order. */
static void from_plane_order(float *x, int64_t n_groups)
{
    float tmp[128];
    for (int64_t g = 0; g < n_groups; g++, x += 128) {
        for (int p = 0; p < 128; p++)
            tmp[cpu_plane_elem(p)] = x[p];
        memcpy(x, tmp, sizeof(tmp));
    }
}

/* Whether the integer K dot's error bound holds for every key of head gi: emax * (the
 * largest sum of a key's fp16 block norms) <= CPU_KDOT_I16_MAX_ERR. A scan of the norms
 * (2 bytes per block, about 2% of the scores' time). */
static uint8_t kint_ok(const attn_job *j, int64_t gi, float emax)
{
    if (!(emax <= CPU_KDOT_I16_MAX_ERR))
        return 0;
    const uint8_t *kb = j->k + (uint64_t)gi * (uint64_t)j->n_ctx * j->krb;
    uint64_t bb = cpu_row_bytes(j->tk, 128);      /* bytes of one turbo block, norm first */
    /* per 128-group the largest |norm|: fp16 magnitudes order like their bits & 0x7fff
     * (a NaN sorts above Inf, and both fail the test below) */
    float nmax = 0.0f;
    for (int64_t u = 0; u < j->dk / 128; u++) {
        /* four independent maxima: one chain would wait on each compare */
        unsigned hm[4] = { 0, 0, 0, 0 };
        const uint8_t *p = kb + (uint64_t)u * bb;
        int64_t t = 0;
        for (; t + 4 <= j->n_kv; t += 4)
            for (int i = 0; i < 4; i++) {
                unsigned h = cpu_load_u16(p + (uint64_t)(t + i) * j->krb) & 0x7fffu;
                hm[i] = h > hm[i] ? h : hm[i];
            }
        for (; t < j->n_kv; t++) {
            unsigned h = cpu_load_u16(p + (uint64_t)t * j->krb) & 0x7fffu;
            hm[0] = h > hm[0] ? h : hm[0];
        }
        unsigned a = hm[0] > hm[1] ? hm[0] : hm[1], b = hm[2] > hm[3] ? hm[2] : hm[3];
        nmax += cpu_fp16_to_f32((uint16_t)(a > b ? a : b));
    }
    return emax * nmax <= CPU_KDOT_I16_MAX_ERR;
}

static void prep_task(void *arg, int64_t gi, int thread)
{
    (void)thread;
    const attn_job *j = arg;
    int64_t s = gi / j->n_kvh, h = gi % j->n_kvh;
    float emax = 0.0f;
    for (int64_t r = 0; r < j->R; r++) {
        const float *src = q_row(j, s, h, r);
        float *dst = j->qbuf + (gi * j->R + r) * j->dk;
        for (int64_t e = 0; e < j->d; e++)
            dst[e] = src[e] * j->scale;
        for (int64_t e = j->d; e < j->dk; e++)
            dst[e] = 0.0f;
        if (cpu_type_is_turbo(j->tk))
            j->kern->rotate(dst, j->dk / 128, false);
        if (j->kern->kplanar[j->tk])
            to_plane_order(dst, j->dk / 128);
        if (j->qkbuf) {
            float e = j->kern->kprep[j->tk](dst, j->dk, j->qkbuf + (gi * j->R + r) * j->dk);
            emax = e > emax ? e : emax;    /* NaN/Inf fail the test below */
        }
    }
    if (j->qkbuf)
        j->kint[gi] = kint_ok(j, gi, emax);
}

static int round_pow2(int n)
{
    return n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
}

static void attn_task(void *arg, int64_t task, int thread)
{
    const attn_job *j = arg;
    int64_t c = task % j->n_chunks, grb = task / j->n_chunks;
    int64_t rb = grb % j->n_rb, gi = grb / j->n_rb;
    int64_t r0 = rb * CPU_ATTN_RB;
    int nr = (int)(j->R - r0 < CPU_ATTN_RB ? j->R - r0 : CPU_ATTN_RB), nrp = round_pow2(nr);
    int64_t lim[CPU_ATTN_RB], max_lim = 0;
    float m[CPU_ATTN_RB], l[CPU_ATTN_RB];
    for (int r = 0; r < CPU_ATTN_RB; r++) {
        lim[r] = row_limit(j, r0 + (r < nr ? r : 0));
        max_lim = lim[r] > max_lim ? lim[r] : max_lim;
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    float *acc = j->pacc + task * CPU_ATTN_RB * j->dv;
    float *ml = j->pml + task * CPU_ATTN_RB * 2;
    int64_t k0 = c * j->chunk, k1 = k0 + j->chunk;
    if (k1 > max_lim + 1)
        k1 = max_lim + 1;
    if (k0 < k1) {
        uint8_t *ws = j->ws + (size_t)thread * j->ws_stride;
        float *sc = (float *)(void *)ws;
        void *vws = ws + align64(CPU_ATTN_SCORE_FLOATS * 4);
        bool ki = j->qkbuf && j->kint[gi];
        const float *qr = (ki ? j->qkbuf : j->qbuf) + (gi * j->R + r0) * j->dk;
        cpu_kscore_fn ks = ki || !j->kern->kdot_f32 ? j->kern->kscore[j->tk]
                                                    : j->kern->kdot_f32->kscore[j->tk];
        const uint8_t *kb = j->k + (uint64_t)gi * (uint64_t)j->n_ctx * j->krb;
        const uint8_t *vb = j->v + (uint64_t)gi * (uint64_t)j->n_ctx * j->vrb;
        memset(acc, 0, (size_t)(nr * j->dv) * 4);
        for (int64_t t0 = k0; t0 < k1; t0 += CPU_ATTN_TILE) {
            int nt = (int)(k1 - t0 < CPU_ATTN_TILE ? k1 - t0 : CPU_ATTN_TILE);
            ks(qr, j->dk, nr, nrp, kb + (uint64_t)t0 * j->krb, j->krb, nt, sc);
            j->kern->softmax(sc, nr, nrp, nt, j->softcap, t0, lim, m, l, acc, j->dv, j->dv);
            j->kern->vaccum[j->tv](sc, nr, nrp, vb + (uint64_t)t0 * j->vrb, j->vrb, nt, j->dv,
                                   acc, j->dv, vws);
        }
    }
    for (int r = 0; r < nr; r++) {
        ml[2 * r] = m[r];
        ml[2 * r + 1] = l[r];
    }
}

static void merge_task(void *arg, int64_t grb, int thread)
{
    const attn_job *j = arg;
    int64_t rb = grb % j->n_rb, gi = grb / j->n_rb;
    int64_t s = gi / j->n_kvh, h = gi % j->n_kvh;
    int64_t r0 = rb * CPU_ATTN_RB;
    int nr = (int)(j->R - r0 < CPU_ATTN_RB ? j->R - r0 : CPU_ATTN_RB);
    uint8_t *ws = j->ws + (size_t)thread * j->ws_stride;
    float *tmp = (float *)(void *)(ws + align64(CPU_ATTN_SCORE_FLOATS * 4) +
                                   align64(CPU_ATTN_VWS_BYTES));
    int64_t t0 = grb * j->n_chunks;
    for (int r = 0; r < nr; r++) {
        float mx = -INFINITY;
        for (int64_t c = 0; c < j->n_chunks; c++)
            mx = fmaxf(mx, j->pml[((t0 + c) * CPU_ATTN_RB + r) * 2]);
        float lsum = 0.0f;
        memset(tmp, 0, (size_t)j->dv * 4);
        for (int64_t c = 0; c < j->n_chunks; c++) {
            const float *ml = j->pml + ((t0 + c) * CPU_ATTN_RB + r) * 2;
            if (ml[0] == -INFINITY)
                continue;
            float w = expf(ml[0] - mx);
            lsum += ml[1] * w;
            const float *a = j->pacc + ((t0 + c) * CPU_ATTN_RB + r) * j->dv;
            for (int64_t e = 0; e < j->dv; e++)
                tmp[e] += a[e] * w;
        }
        float inv = lsum > 0.0f ? 1.0f / lsum : 0.0f;
        for (int64_t e = 0; e < j->dv; e++)
            tmp[e] *= inv;
        if (j->kern->vplanar[j->tv])
            from_plane_order(tmp, j->dv / 128);
        if (cpu_type_is_turbo(j->tv))
            j->kern->rotate(tmp, j->dv / 128, true);
        int64_t rr = r0 + r;
        float *o = j->out + ((s * j->n_q + rr / j->G) * j->n_head + h * j->G + rr % j->G) * j->d;
        memcpy(o, tmp, (size_t)j->d * 4);
    }
}

tq_code cpu_attention(const cpu_exec *ex, const tq_op *op, cpu_op_info *info, char *err,
                      size_t err_len)
{
    int n_threads = cpu_pool_threads(ex->pool);
    attn_job j;
    memset(&j, 0, sizeof(j));
    j.kern = ex->kern;
    plan(&j, op, n_threads);
    size_t need = scratch_layout(&j, NULL, n_threads);
    if (!cpu_scratch_reserve(ex->scratch, need)) {
        snprintf(err, err_len, "cpu: out of memory for %zu bytes of attention scratch "
                 "(%lld tasks, %d threads)", need, (long long)j.n_tasks, n_threads);
        return TQ_CODE_OUT_OF_MEMORY;
    }
    scratch_layout(&j, ex->scratch->ptr, n_threads);
    j.q = (const float *)(const void *)cpu_ref_ptr(&op->q);
    j.out = (float *)(void *)cpu_ref_ptr(&op->out);
    j.k = cpu_ref_ptr(&op->k);
    j.v = cpu_ref_ptr(&op->v);
    j.scale = op->scale;
    j.softcap = op->softcap;
    j.causal = op->causal;
    j.q_pos0 = op->q_pos0;

    cpu_pool_run(ex->pool, j.n_seq * j.n_kvh, prep_task, &j);
    cpu_pool_run(ex->pool, j.n_tasks, attn_task, &j);
    cpu_pool_run(ex->pool, j.n_seq * j.n_kvh * j.n_rb, merge_task, &j);

    int n = snprintf(info->variant, sizeof(info->variant), "%s/gqa%lld", ex->kern->name,
                     (long long)j.G);
    if (j.n_chunks > 1 && n > 0 && (size_t)n < sizeof(info->variant))
        snprintf(info->variant + n, sizeof(info->variant) - (size_t)n, "/split%lld",
                 (long long)j.n_chunks);
    if (j.qkbuf) {
        /* "/k-i16": every kv head's K dots in int16; "/k-i16+f32": some heads needed fp32
         * (error bound, see kint_ok); "/k-f32": all did */
        int64_t n_int = 0, n_gi = j.n_seq * j.n_kvh;
        for (int64_t g = 0; g < n_gi; g++)
            n_int += j.kint[g];
        size_t u = strlen(info->variant);
        snprintf(info->variant + u, sizeof(info->variant) - u, "/%s%s",
                 n_int ? ex->kern->ktag[j.tk] : "k-f32", n_int && n_int < n_gi ? "+f32" : "");
    }
    uint64_t kv_rows = (uint64_t)(j.n_seq * j.n_kvh * j.n_kv);
    info->bytes_read = kv_rows * (j.krb + j.vrb) + (uint64_t)(j.n_seq * j.n_q * j.n_head * j.d) * 4;
    info->bytes_written = (uint64_t)(j.n_seq * j.n_q * j.n_head * j.d) * 4;
    return TQ_CODE_OK;
}
