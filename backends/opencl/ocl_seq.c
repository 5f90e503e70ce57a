/*
 * ocl_seq.c: sequences. Ops are checked and planned at record time (dispatch geometry,
 * scratch sized from that dispatch, the rows buffer of a quantize), enqueued on the
 * context's in-order profiling queue at submit, and timed from their events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ocl_internal.h"

/* Mirrors tq_attn_args in kernels/opencl/attention.cl (all 4-byte fields, same order). */
typedef struct attn_args {
    cl_uint d, dk, dv;
    cl_uint n_head, n_q, n_kv_head, n_ctx, n_kv;
    cl_uint group, n_qtile, chunk, n_split;
    cl_uint causal, q_pos0;
    cl_uint type_k, type_v;
    cl_uint k_row_bytes, v_row_bytes;
    cl_float scale, softcap;
    cl_uint team, tile_s;
} attn_args;

typedef struct op_rec {
    tq_op op;
    cl_mem rows;              /* quantize: row indices (TQ_MEM_STAGING) */
    uint64_t rows_bytes;
    attn_args a;              /* attention plan */
    bool coop;                /* split-k-coop kernel (else split-k) */
    bool mma;                 /* split-k-mma kernel (before both) */
    uint64_t lred_floats, ls_floats;   /* split-k-coop local memory */
    uint32_t n_seq;
    uint64_t scratch_bytes;
    cl_event ev_first, ev_last;
    tq_plugin_timing timing;
} op_rec;

typedef struct tq_ocl_seq {
    tq_ocl_ctx *ctx;
    op_rec *ops;
    uint32_t n_ops, cap;
    cl_mem scratch;           /* attention partials, shared by the seq's ops (in-order queue) */
    uint64_t scratch_bytes;
    bool submitted;
    bool timings_valid;
} tq_ocl_seq;

static int64_t rows_of(const tq_tensor_ref *t)
{
    return t->ne[1] * t->ne[2] * t->ne[3];
}

static uint32_t pad128(uint32_t d)
{
    return (d + TQ_TURBO_GROUP - 1) / TQ_TURBO_GROUP * TQ_TURBO_GROUP;
}

static const char *type_name(tq_type t)
{
    static const char *names[TQ_TYPE_COUNT] = { "f32", "f16", "q8_0", "q4_0", "turbo2",
                                                "turbo3", "turbo4" };
    return (unsigned)t < TQ_TYPE_COUNT ? names[t] : "invalid";
}

static bool is_turbo(tq_type t)
{
    return t == TQ_TYPE_TURBO2 || t == TQ_TYPE_TURBO3 || t == TQ_TYPE_TURBO4;
}

/* Value accumulators of the attention kernel, in floats: one [QT][dv] block per key group
 * (kernels/opencl/attention.cl, "value layout"). */
static uint64_t attn_lo_floats(uint32_t dv, size_t wg)
{
    uint64_t kg_n = 1;
    if (dv % 4 == 0) {
        uint64_t tpe = dv / 4 < wg ? dv / 4 : wg;
        kg_n = wg / tpe;
    }
    return (uint64_t)TQ_OCL_QT * kg_n * dv;
}

/* Local memory of the attention kernel for a plan (dynamic parts plus the two codebooks). */
static uint64_t attn_local_bytes(uint32_t dk, uint32_t dv, size_t wg)
{
    return 4ull * (TQ_OCL_QT * ((uint64_t)dk + wg + 3) + attn_lo_floats(dv, wg)) + 2 * 16 * 4;
}

/* The split-k-coop kernel's shape for (dk, dv) on work-groups of wg (attention_coop.cl):
 * team lanes per key, positions per scoring round, the exchange buffer and the most
 * positions a split may hold in local memory. False (with why) when it cannot run it. */
typedef struct coop_shape {
    uint32_t team, tile_s;
    uint64_t lred_floats, chunk_max;
} coop_shape;

static bool coop_fit(const tq_ocl_ctx *ctx, uint32_t dk, uint32_t dv, coop_shape *cs, char *why,
                     size_t cap)
{
    const uint64_t wg = ctx->wg_coop;
    if (dk % 8 != 0 || dv % 4 != 0) {
        snprintf(why, cap, "head size %u: needs K rows in multiples of 8 and V in multiples of 4",
                 dk % 8 != 0 ? dk : dv);
        return false;
    }
    uint32_t nch = dk / 8, t = 1;
    if (nch >= 16)
        t = nch <= 32 ? 16 : 32;
    else
        while (t * 2 <= nch)
            t *= 2;
    if ((nch + t - 1) / t > 2 || t > wg || dv / 4 > wg) {
        snprintf(why, cap, "head size %u does not fit work-groups of %llu (at most 2 chunks of "
                 "8 per work-item, dv/4 work-items per V row)", dk > dv ? dk : dv,
                 (unsigned long long)wg);
        return false;
    }
    uint32_t ts = 4096 / (4 * t);
    if (ts > 128)
        ts = 128;
    uint64_t kg_n = wg / (dv / 4);
    uint64_t lred = (uint64_t)t * (4ull * ts + 4);
    uint64_t need[3] = { 4ull * dk, wg + 4, kg_n * 4 * dv + 4 * kg_n };
    for (int i = 0; i < 3; i++)
        if (need[i] > lred)
            lred = need[i];
    uint64_t fixed = 4 * lred + 2 * 16 * 4 + 256;
    uint64_t room = ctx->dev->local_mem > fixed ? (ctx->dev->local_mem - fixed) / (4 * TQ_OCL_QD) : 0;
    /* At most 1024 positions (16 KiB of scores) per split: with the exchange buffer about
     * 33 KiB per work-group, so several work-groups share a compute unit. */
    uint64_t chunk_max = room < 1024 ? room : 1024;
    chunk_max = chunk_max / ts * ts;
    if (chunk_max < ts) {
        snprintf(why, cap, "needs %llu bytes of local memory per work-group; '%s' has %llu",
                 (unsigned long long)(fixed + 4ull * TQ_OCL_QD * ts), ctx->dev->info.name,
                 (unsigned long long)ctx->dev->local_mem);
        return false;
    }
    cs->team = t;
    cs->tile_s = ts;
    cs->lred_floats = lred;
    cs->chunk_max = chunk_max;
    return true;
}

/* Local memory of split-k-mma (attention_mma.cl): two pair tables of 64 entries per
 * lane (and their one copy), the Q fragments of 32 lanes, the Q rows of the tile plus
 * their factors, and the emulated warp's exchange area. */
#define MMA_QM 8u
#define MMA_LUT_BYTES ((2u * 64u * 32u + 2u * 64u + 8u * 4u * 32u) * 4u)
#define MMA_LQ_BYTES ((MMA_QM * 128u + MMA_QM) * 4u)
#define MMA_XS_BYTES (32u * 6u * 4u)
/* Work-groups per compute unit of split-k-mma, rounded down: one wave of long splits
 * (166 registers: 3 work-groups of 128 fit an H100 SM; a second, partial wave costs
 * more than the longer splits). H100, turbo3 at ctx 131072, kernel + merge, by splits
 * (work-groups per kv head and row tile): one sequence (8 kv heads) 25: 165 us, 33: 137,
 * 49: 130, 66: 158, 128: 178; 8 sequences 4: 861 us, 6: 761, 7: 973, 12: 789. */
#define MMA_WG_PER_CU 3u

/* Whether split-k-mma can run this attention; why not otherwise. */
static bool mma_fit(const tq_ocl_ctx *ctx, tq_type kt, tq_type vt, uint32_t d, char *why,
                    size_t cap)
{
    bool kok = kt == TQ_TYPE_TURBO3 || kt == TQ_TYPE_Q8_0;
    bool vok = vt == TQ_TYPE_TURBO3 || vt == TQ_TYPE_Q8_0;
    if (!kok || !vok) {
        snprintf(why, cap, "it runs turbo3 and q8_0 K and V only (this attention: %s K, %s V)",
                 type_name(kt), type_name(vt));
        return false;
    }
    /* q8_0 K with q8_0 V only when asked for by name: on an H100 at ctx 131072 it took
     * 293 us against split-k-coop's 286 (q8_0 V's scales go into every V value, and
     * q8_0 moves 2.7x the bytes of turbo3); the mixed pairs win (q8_0 K / turbo3 V 165
     * vs about 285 us, turbo3 K / q8_0 V 233) */
    if (kt == TQ_TYPE_Q8_0 && vt == TQ_TYPE_Q8_0 && ctx->mma_mode != TQ_OCL_MMA_ONLY) {
        snprintf(why, cap, "q8_0 K with q8_0 V runs faster on split-k-coop");
        return false;
    }
    bool q8 = kt == TQ_TYPE_Q8_0 || vt == TQ_TYPE_Q8_0;
    if (d == 0 || d > 128 || (q8 && d != 128)) {
        snprintf(why, cap, "it runs head size 128%s, not %u",
                 q8 ? "" : " (or less, padded to one turbo group)", d);
        return false;
    }
    uint64_t need = MMA_LUT_BYTES + MMA_LQ_BYTES + (ctx->dev->mma_nv ? 0 : MMA_XS_BYTES);
    if (need > ctx->dev->local_mem) {
        snprintf(why, cap, "it needs %llu bytes of local memory; '%s' has %llu",
                 (unsigned long long)need, ctx->dev->info.name,
                 (unsigned long long)ctx->dev->local_mem);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ supports */

static tq_status too_big(tq_ocl_ctx *ctx, const char *what, uint64_t v, uint64_t limit)
{
    return ctx->host->status_new(TQ_CODE_UNSUPPORTED,
                                 "opencl: %s = %llu exceeds what the kernels index (%llu) on '%s'",
                                 what, (unsigned long long)v, (unsigned long long)limit,
                                 ctx->dev->info.name);
}

tq_status tq_ocl_supports(void *vctx, const tq_op *op)
{
    tq_ocl_ctx *ctx = vctx;
    const uint64_t u32 = 0xffffffffull;
    switch (op->kind) {
    case TQ_OP_WRITE:
    case TQ_OP_READ:
        return NULL;
    case TQ_OP_QUANTIZE:
    case TQ_OP_DEQUANTIZE:
    case TQ_OP_ROTATE: {
        if (op->src.ne[0] > (1 << 24))
            return too_big(ctx, "row length", (uint64_t)op->src.ne[0], 1 << 24);
        if ((uint64_t)rows_of(&op->src) > u32 || (uint64_t)rows_of(&op->dst) > u32)
            return too_big(ctx, "rows", (uint64_t)rows_of(&op->dst), u32);
        if (op->dst.nb[1] > u32 || op->src.nb[1] > u32)
            return too_big(ctx, "row bytes", op->dst.nb[1], u32);
        return NULL;
    }
    case TQ_OP_ATTENTION: {
        uint32_t d = (uint32_t)op->q.ne[0];
        if (op->q.ne[0] > (1 << 20))
            return too_big(ctx, "head size", (uint64_t)op->q.ne[0], 1 << 20);
        if ((uint64_t)op->k.ne[1] > u32 || op->k.nb[1] > u32 || op->v.nb[1] > u32)
            return too_big(ctx, "context", (uint64_t)op->k.ne[1], u32);
        uint32_t dk = is_turbo(op->k.type) ? pad128(d) : d;
        uint32_t dv = is_turbo(op->v.type) ? pad128(d) : d;
        if (ctx->mma_mode != TQ_OCL_MMA_OFF) {
            char why[200];
            if (mma_fit(ctx, op->k.type, op->v.type, d, why, sizeof why))
                return NULL;
            if (ctx->mma_mode == TQ_OCL_MMA_ONLY)
                return ctx->host->status_new(
                    TQ_CODE_UNSUPPORTED, "opencl: variant %s cannot run attention with d=%u "
                    "on '%s': %s", ctx->attn_variant, d, ctx->dev->info.name, why);
        }
        if (ctx->coop_mode != TQ_OCL_COOP_OFF) {
            coop_shape cs;
            char why[200];
            if (coop_fit(ctx, dk, dv, &cs, why, sizeof why))
                return NULL;
            if (ctx->coop_mode == TQ_OCL_COOP_ONLY)
                return ctx->host->status_new(
                    TQ_CODE_UNSUPPORTED,
                    "opencl: variant split-k-coop/wg%zu cannot run attention with d=%u (%s K, "
                    "%s V) on '%s': %s", ctx->wg_coop, d, type_name(op->k.type),
                    type_name(op->v.type), ctx->dev->info.name, why);
        }
        uint64_t need = attn_local_bytes(dk, dv, ctx->wg_attn);
        if (need > ctx->dev->local_mem)
            return ctx->host->status_new(
                TQ_CODE_UNSUPPORTED,
                "opencl: attention with d=%u (%s K, %s V) needs %llu bytes of local memory "
                "per work-group; '%s' has %llu",
                d, type_name(op->k.type), type_name(op->v.type), (unsigned long long)need,
                ctx->dev->info.name, (unsigned long long)ctx->dev->local_mem);
        return NULL;
    }
    default:
        return ctx->host->status_new(TQ_CODE_UNSUPPORTED, "opencl: unknown op kind %d",
                                     (int)op->kind);
    }
}

/* ----------------------------------------------------------------- lifecycle */

tq_status tq_ocl_seq_create(void *vctx, void **out_seq)
{
    tq_ocl_ctx *ctx = vctx;
    tq_ocl_seq *seq = calloc(1, sizeof *seq);
    if (!seq)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "opencl: out of host memory");
    seq->ctx = ctx;
    *out_seq = seq;
    return NULL;
}

static void release_events(tq_ocl_seq *seq)
{
    for (uint32_t i = 0; i < seq->n_ops; i++) {
        op_rec *r = &seq->ops[i];
        if (r->ev_first)
            seq->ctx->cl->clReleaseEvent(r->ev_first);
        if (r->ev_last && r->ev_last != r->ev_first)
            seq->ctx->cl->clReleaseEvent(r->ev_last);
        r->ev_first = r->ev_last = NULL;
    }
}

/* Waits for anything in flight, then frees every recorded op's resources. */
tq_status tq_ocl_seq_reset(void *vseq)
{
    tq_ocl_seq *seq = vseq;
    tq_ocl_ctx *ctx = seq->ctx;
    if (seq->submitted)
        ctx->cl->clFinish(ctx->queue);
    release_events(seq);
    for (uint32_t i = 0; i < seq->n_ops; i++) {
        op_rec *r = &seq->ops[i];
        if (r->rows) {
            ctx->cl->clReleaseMemObject(r->rows);
            ctx->host->mem_add(ctx->acct, TQ_MEM_STAGING, -(int64_t)r->rows_bytes);
        }
    }
    if (seq->scratch) {
        ctx->cl->clReleaseMemObject(seq->scratch);
        ctx->host->mem_add(ctx->acct, TQ_MEM_SCRATCH, -(int64_t)seq->scratch_bytes);
    }
    seq->scratch = NULL;
    seq->scratch_bytes = 0;
    seq->n_ops = 0;
    seq->submitted = false;
    seq->timings_valid = false;
    return NULL;
}

void tq_ocl_seq_destroy(void *vseq)
{
    tq_ocl_seq *seq = vseq;
    if (!seq)
        return;
    tq_status s = tq_ocl_seq_reset(seq);
    (void)s;
    free(seq->ops);
    free(seq);
}

/* ------------------------------------------------------------------- record */

static tq_status plan_attention(tq_ocl_seq *seq, op_rec *r)
{
    tq_ocl_ctx *ctx = seq->ctx;
    const tq_op *op = &r->op;
    attn_args *a = &r->a;
    memset(a, 0, sizeof *a);
    a->d = (cl_uint)op->q.ne[0];
    a->n_head = (cl_uint)op->q.ne[1];
    a->n_q = (cl_uint)op->q.ne[2];
    r->n_seq = (uint32_t)op->q.ne[3];
    a->n_kv_head = (cl_uint)op->k.ne[2];
    a->n_ctx = (cl_uint)op->k.ne[1];
    a->n_kv = (cl_uint)op->n_kv;
    a->dk = is_turbo(op->k.type) ? pad128(a->d) : a->d;
    a->dv = is_turbo(op->v.type) ? pad128(a->d) : a->d;
    a->group = a->n_head / a->n_kv_head;
    a->n_qtile = (a->group * a->n_q + TQ_OCL_QT - 1) / TQ_OCL_QT;
    a->causal = op->causal ? 1u : 0u;
    a->q_pos0 = (cl_uint)op->q_pos0;
    a->type_k = (cl_uint)op->k.type;
    a->type_v = (cl_uint)op->v.type;
    a->k_row_bytes = (cl_uint)op->k.nb[1];
    a->v_row_bytes = (cl_uint)op->v.nb[1];
    a->scale = op->scale;
    a->softcap = op->softcap;

    /* Split the context so the device has several work-groups per compute unit; the split
     * count never depends on n_ctx, only on the positions this dispatch reads. */
    const uint64_t cu = ctx->dev->compute_units ? ctx->dev->compute_units : 1;
    coop_shape cs;
    char why[200];
    r->mma = ctx->mma_mode != TQ_OCL_MMA_OFF &&
             mma_fit(ctx, op->k.type, op->v.type, a->d, why, sizeof why);
    r->coop = !r->mma && ctx->coop_mode != TQ_OCL_COOP_OFF &&
              coop_fit(ctx, a->dk, a->dv, &cs, why, sizeof why);
    uint64_t n_split, chunk;
    if (r->mma) {
        /* split-k-mma: tiles of 8 query rows; each warp is a split of whole 32-key steps;
         * work-groups of wg_mma / 32 consecutive splits, MMA_WG_PER_CU per compute unit */
        const uint64_t nw = ctx->wg_mma / 32;
        a->n_qtile = (a->group * a->n_q + MMA_QM - 1) / MMA_QM;
        uint64_t base = (uint64_t)a->n_kv_head * a->n_qtile * r->n_seq;
        uint64_t n_wg = ctx->forced_splits ? ctx->forced_splits : MMA_WG_PER_CU * cu / base;
        if (n_wg < 1)
            n_wg = 1;
        chunk = (a->n_kv + n_wg * nw - 1) / (n_wg * nw);
        chunk = (chunk + 31) / 32 * 32;
        if (chunk < 32)
            chunk = 32;
        n_split = (a->n_kv + chunk - 1) / chunk;
        n_split = (n_split + nw - 1) / nw * nw;
    } else if (r->coop) {
        /* split-k-coop: tiles of 4 queries; splits of whole scoring rounds, at most
         * chunk_max positions (the split's scores live in local memory). */
        a->n_qtile = (a->group * a->n_q + TQ_OCL_QD - 1) / TQ_OCL_QD;
        a->team = cs.team;
        a->tile_s = cs.tile_s;
        r->lred_floats = cs.lred_floats;
        uint64_t base = (uint64_t)a->n_kv_head * a->n_qtile * r->n_seq;
        n_split = ctx->forced_splits ? ctx->forced_splits : (8 * cu + base - 1) / base;
        if (n_split < 1)
            n_split = 1;
        chunk = (a->n_kv + n_split - 1) / n_split;
        chunk = (chunk + cs.tile_s - 1) / cs.tile_s * cs.tile_s;
        if (chunk < cs.tile_s)
            chunk = cs.tile_s;
        if (chunk > cs.chunk_max)
            chunk = cs.chunk_max;
        r->ls_floats = chunk * TQ_OCL_QD;
    } else {
        const uint64_t wg = ctx->wg_attn;
        uint64_t tiles = (a->n_kv + wg - 1) / wg;
        uint64_t base = (uint64_t)a->n_kv_head * a->n_qtile * r->n_seq;
        n_split = (8 * cu + base - 1) / base;
        if (ctx->forced_splits)
            n_split = ctx->forced_splits;
        if (n_split > tiles)
            n_split = tiles;
        if (n_split < 1)
            n_split = 1;
        chunk = (tiles + n_split - 1) / n_split * wg;
    }
    if (!r->mma)
        n_split = (a->n_kv + chunk - 1) / chunk;
    if (n_split < 1)
        n_split = 1;
    a->chunk = (cl_uint)chunk;
    a->n_split = (cl_uint)n_split;

    r->scratch_bytes = 4ull * r->n_seq * a->n_q * a->n_head * n_split * (a->dv + 2);
    if (r->scratch_bytes > ctx->dev->max_alloc)
        return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY,
                                     "opencl: attention scratch of %llu bytes exceeds the "
                                     "device's largest allocation (%llu)",
                                     (unsigned long long)r->scratch_bytes,
                                     (unsigned long long)ctx->dev->max_alloc);
    if (r->scratch_bytes > seq->scratch_bytes) {
        cl_int err;
        cl_mem m = ctx->cl->clCreateBuffer(ctx->dev->cl_ctx, CL_MEM_READ_WRITE,
                                           (size_t)r->scratch_bytes, NULL, &err);
        if (!m)
            return tq_ocl_fail(ctx->host, err, "allocating attention scratch");
        if (seq->scratch) {
            ctx->cl->clReleaseMemObject(seq->scratch);
            ctx->host->mem_add(ctx->acct, TQ_MEM_SCRATCH, -(int64_t)seq->scratch_bytes);
        }
        seq->scratch = m;
        seq->scratch_bytes = r->scratch_bytes;
        ctx->host->mem_add(ctx->acct, TQ_MEM_SCRATCH, (int64_t)r->scratch_bytes);
    }
    if (r->mma)
        snprintf(r->timing.variant, sizeof r->timing.variant, "split-k-mma/wg%zu/%s",
                 ctx->wg_mma, ctx->dev->mma_nv ? "ptx" : "emu");
    else if (r->coop)
        snprintf(r->timing.variant, sizeof r->timing.variant, "split-k-coop/wg%zu/t%u/lmem",
                 ctx->wg_coop, a->team);
    else
        snprintf(r->timing.variant, sizeof r->timing.variant, "split-k/wg%zu", ctx->wg_attn);
    r->timing.bytes_read = (uint64_t)op->q.nb[1] * (uint64_t)rows_of(&op->q) +
                           (uint64_t)a->n_kv * a->n_kv_head * r->n_seq *
                               ((uint64_t)a->k_row_bytes + a->v_row_bytes);
    r->timing.bytes_written = (uint64_t)op->out.nb[1] * (uint64_t)rows_of(&op->out);
    return NULL;
}

tq_status tq_ocl_seq_record(void *vseq, const tq_op *op)
{
    tq_ocl_seq *seq = vseq;
    tq_ocl_ctx *ctx = seq->ctx;
    tq_status s = tq_ocl_supports(ctx, op);
    if (s)
        return s;
    if (seq->n_ops == seq->cap) {
        uint32_t cap = seq->cap ? seq->cap * 2 : 8;
        op_rec *ops = realloc(seq->ops, cap * sizeof *ops);
        if (!ops)
            return ctx->host->status_new(TQ_CODE_OUT_OF_MEMORY, "opencl: out of host memory");
        seq->ops = ops;
        seq->cap = cap;
    }
    op_rec *r = &seq->ops[seq->n_ops];
    memset(r, 0, sizeof *r);
    r->op = *op;
    static const char *names[TQ_OP_KIND_COUNT] = { "write", "read", "quantize", "dequantize",
                                                   "rotate", "attention" };
    snprintf(r->timing.op, sizeof r->timing.op, "%s", names[op->kind]);

    switch (op->kind) {
    case TQ_OP_WRITE:
    case TQ_OP_READ:
        snprintf(r->timing.variant, sizeof r->timing.variant, "transfer");
        if (op->kind == TQ_OP_WRITE)
            r->timing.bytes_written = op->size;
        else
            r->timing.bytes_read = op->size;
        break;
    case TQ_OP_QUANTIZE: {
        r->rows_bytes = (uint64_t)op->n_rows * sizeof(cl_long);
        cl_int err;
        r->rows = ctx->cl->clCreateBuffer(ctx->dev->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                          (size_t)r->rows_bytes, (void *)op->rows, &err);
        if (!r->rows)
            return tq_ocl_fail(ctx->host, err, "uploading quantize row indices");
        ctx->host->mem_add(ctx->acct, TQ_MEM_STAGING, (int64_t)r->rows_bytes);
        if (is_turbo(op->dst.type))
            snprintf(r->timing.variant, sizeof r->timing.variant, "turbo/wg%zu", ctx->wg_group);
        else if (op->dst.type == TQ_TYPE_Q8_0 || op->dst.type == TQ_TYPE_Q4_0)
            snprintf(r->timing.variant, sizeof r->timing.variant, "block32");
        else
            snprintf(r->timing.variant, sizeof r->timing.variant, "elementwise");
        r->timing.bytes_read = op->src.nb[1] * (uint64_t)rows_of(&op->src);
        r->timing.bytes_written = op->dst.nb[1] * (uint64_t)rows_of(&op->src);
        break;
    }
    case TQ_OP_DEQUANTIZE:
        if (is_turbo(op->src.type) && (op->flags & TQ_DEQUANTIZE_INVERSE_ROTATION))
            snprintf(r->timing.variant, sizeof r->timing.variant, "turbo-inverse/wg%zu",
                     ctx->wg_group);
        else
            snprintf(r->timing.variant, sizeof r->timing.variant, "elementwise");
        r->timing.bytes_read = op->src.nb[1] * (uint64_t)rows_of(&op->src);
        r->timing.bytes_written = op->dst.nb[1] * (uint64_t)rows_of(&op->dst);
        break;
    case TQ_OP_ROTATE:
        snprintf(r->timing.variant, sizeof r->timing.variant, "wht/wg%zu", ctx->wg_group);
        r->timing.bytes_read = op->src.nb[1] * (uint64_t)rows_of(&op->src);
        r->timing.bytes_written = op->dst.nb[1] * (uint64_t)rows_of(&op->dst);
        break;
    case TQ_OP_ATTENTION:
        s = plan_attention(seq, r);
        if (s)
            return s;
        break;
    default:
        break;
    }
    seq->n_ops++;
    return NULL;
}

/* ------------------------------------------------------------------- submit */

typedef struct argset {
    tq_ocl_ctx *ctx;
    cl_kernel k;
    cl_uint i;
    cl_int err;
} argset;

static void arg(argset *as, size_t size, const void *value)
{
    if (as->err == CL_SUCCESS)
        as->err = as->ctx->cl->clSetKernelArg(as->k, as->i, size, value);
    as->i++;
}
#define ARG(as, v) arg((as), sizeof(v), &(v))
#define ARG_LOCAL(as, bytes) arg((as), (bytes), NULL)

static cl_mem mem_of(const tq_tensor_ref *t)
{
    return ((tq_ocl_buf *)t->buf)->mem;
}

static cl_int launch(tq_ocl_ctx *ctx, argset *as, cl_uint dims, const size_t *global,
                     const size_t *local, cl_event *ev)
{
    if (as->err != CL_SUCCESS)
        return as->err;
    for (cl_uint i = 0; i < dims; i++)
        if (global[i] == 0)
            return CL_SUCCESS;          /* nothing to do (the runtime rejects empty ops) */
    return ctx->cl->clEnqueueNDRangeKernel(ctx->queue, as->k, dims, NULL, global, local, 0, NULL,
                                           ev);
}

static cl_int enqueue_quantize(tq_ocl_ctx *ctx, op_rec *r)
{
    const tq_op *op = &r->op;
    cl_mem src = mem_of(&op->src), dst = mem_of(&op->dst);
    cl_ulong src_off = op->src.offset, dst_off = op->dst.offset;
    cl_uint ne0 = (cl_uint)op->src.ne[0], n_kv_head = (cl_uint)op->src.ne[1];
    cl_uint n_tokens = (cl_uint)op->src.ne[2], n_ctx = (cl_uint)op->dst.ne[1];
    cl_uint src_type = (cl_uint)op->src.type, dst_type = (cl_uint)op->dst.type;
    cl_uint dst_row_bytes = (cl_uint)op->dst.nb[1];
    size_t n_rows = (size_t)rows_of(&op->src);
    int kidx = is_turbo(op->dst.type) ? TQ_OCL_K_QUANTIZE_TURBO
               : (op->dst.type == TQ_TYPE_Q8_0 || op->dst.type == TQ_TYPE_Q4_0) ? TQ_OCL_K_QUANTIZE_Q
                                                                               : TQ_OCL_K_QUANTIZE_PLAIN;
    argset as = { ctx, ctx->kernels[kidx], 0, CL_SUCCESS };
    ARG(&as, src);
    ARG(&as, src_off);
    ARG(&as, dst);
    ARG(&as, dst_off);
    ARG(&as, r->rows);
    ARG(&as, ne0);
    ARG(&as, n_kv_head);
    ARG(&as, n_tokens);
    ARG(&as, n_ctx);
    ARG(&as, src_type);
    ARG(&as, dst_type);
    ARG(&as, dst_row_bytes);
    if (kidx == TQ_OCL_K_QUANTIZE_TURBO) {
        size_t wg = ctx->wg_group;
        ARG_LOCAL(&as, TQ_TURBO_GROUP * sizeof(cl_float));
        ARG_LOCAL(&as, TQ_TURBO_GROUP);
        ARG_LOCAL(&as, wg * sizeof(cl_float));
        size_t groups = (ne0 + TQ_TURBO_GROUP - 1) / TQ_TURBO_GROUP;
        size_t global[2] = { groups * wg, n_rows }, local[2] = { wg, 1 };
        return launch(ctx, &as, 2, global, local, &r->ev_first);
    }
    size_t global[2] = { kidx == TQ_OCL_K_QUANTIZE_Q ? ne0 / 32u : ne0, n_rows };
    return launch(ctx, &as, 2, global, NULL, &r->ev_first);
}

static cl_int enqueue_dequantize(tq_ocl_ctx *ctx, op_rec *r)
{
    const tq_op *op = &r->op;
    cl_mem src = mem_of(&op->src), dst = mem_of(&op->dst);
    cl_ulong src_off = op->src.offset, dst_off = op->dst.offset;
    cl_uint src_row_bytes = (cl_uint)op->src.nb[1], out_ne0 = (cl_uint)op->dst.ne[0];
    cl_uint src_type = (cl_uint)op->src.type;
    size_t n_rows = (size_t)rows_of(&op->src);
    bool inv = is_turbo(op->src.type) && (op->flags & TQ_DEQUANTIZE_INVERSE_ROTATION);
    argset as = { ctx, ctx->kernels[inv ? TQ_OCL_K_DEQUANTIZE_TURBO_INV : TQ_OCL_K_DEQUANTIZE], 0,
                  CL_SUCCESS };
    ARG(&as, src);
    ARG(&as, src_off);
    ARG(&as, src_row_bytes);
    ARG(&as, dst);
    ARG(&as, dst_off);
    ARG(&as, out_ne0);
    ARG(&as, src_type);
    if (inv) {
        size_t wg = ctx->wg_group;
        ARG_LOCAL(&as, TQ_TURBO_GROUP * sizeof(cl_float));
        size_t global[2] = { out_ne0 / TQ_TURBO_GROUP * wg, n_rows }, local[2] = { wg, 1 };
        return launch(ctx, &as, 2, global, local, &r->ev_first);
    }
    size_t global[2] = { out_ne0, n_rows };
    return launch(ctx, &as, 2, global, NULL, &r->ev_first);
}

static cl_int enqueue_rotate(tq_ocl_ctx *ctx, op_rec *r)
{
    const tq_op *op = &r->op;
    cl_mem src = mem_of(&op->src), dst = mem_of(&op->dst);
    cl_ulong src_off = op->src.offset, dst_off = op->dst.offset;
    cl_uint ne0 = (cl_uint)op->src.ne[0], inverse = op->inverse ? 1u : 0u;
    size_t wg = ctx->wg_group;
    argset as = { ctx, ctx->kernels[TQ_OCL_K_ROTATE], 0, CL_SUCCESS };
    ARG(&as, src);
    ARG(&as, src_off);
    ARG(&as, dst);
    ARG(&as, dst_off);
    ARG(&as, ne0);
    ARG(&as, inverse);
    ARG_LOCAL(&as, TQ_TURBO_GROUP * sizeof(cl_float));
    size_t global[2] = { ne0 / TQ_TURBO_GROUP * wg, (size_t)rows_of(&op->src) }, local[2] = { wg, 1 };
    return launch(ctx, &as, 2, global, local, &r->ev_first);
}

static cl_int enqueue_attention(tq_ocl_seq *seq, op_rec *r)
{
    tq_ocl_ctx *ctx = seq->ctx;
    const tq_op *op = &r->op;
    const attn_args *a = &r->a;
    cl_mem q = mem_of(&op->q), k = mem_of(&op->k), v = mem_of(&op->v), out = mem_of(&op->out);
    cl_ulong q_off = op->q.offset, k_off = op->k.offset, v_off = op->v.offset;
    cl_ulong o_off = op->out.offset;
    cl_int err;
    /* The attention kernels take the same buffers and geometry; they differ in their
     * work-group size and in the local-memory arrays they need (split-k-mma: one kernel
     * per K/V pair). */
    size_t wg = r->mma ? ctx->wg_mma : r->coop ? ctx->wg_coop : ctx->wg_attn;
    int kernel = r->coop ? TQ_OCL_K_ATTENTION_COOP : TQ_OCL_K_ATTENTION;
    if (r->mma) {
        bool kq8 = op->k.type == TQ_TYPE_Q8_0, vq8 = op->v.type == TQ_TYPE_Q8_0;
        kernel = kq8 ? (vq8 ? TQ_OCL_K_ATTENTION_MMA_Q8Q8 : TQ_OCL_K_ATTENTION_MMA_Q8T3)
                     : (vq8 ? TQ_OCL_K_ATTENTION_MMA_T3Q8 : TQ_OCL_K_ATTENTION_MMA);
    }
    argset as = { ctx, ctx->kernels[kernel], 0, CL_SUCCESS };
    ARG(&as, q);
    ARG(&as, q_off);
    ARG(&as, k);
    ARG(&as, k_off);
    ARG(&as, v);
    ARG(&as, v_off);
    ARG(&as, seq->scratch);
    ARG(&as, *a);
    if (r->mma) {
        ARG_LOCAL(&as, MMA_LUT_BYTES);
        ARG_LOCAL(&as, MMA_LQ_BYTES);
        if (!ctx->dev->mma_nv)
            ARG_LOCAL(&as, MMA_XS_BYTES);
    } else if (r->coop) {
        ARG_LOCAL(&as, r->lred_floats * sizeof(cl_float));
        ARG_LOCAL(&as, r->ls_floats * sizeof(cl_float));
    } else {
        ARG_LOCAL(&as, TQ_OCL_QT * a->dk * sizeof(cl_float));
        ARG_LOCAL(&as, TQ_OCL_QT * wg * sizeof(cl_float));
        ARG_LOCAL(&as, attn_lo_floats(a->dv, wg) * sizeof(cl_float));
        ARG_LOCAL(&as, 3 * TQ_OCL_QT * sizeof(cl_float));
    }
    size_t n_wg = r->mma ? a->n_split / (ctx->wg_mma / 32) : a->n_split;
    size_t global[3] = { n_wg * wg, (size_t)a->n_kv_head * a->n_qtile, r->n_seq };
    size_t local[3] = { wg, 1, 1 };
    err = launch(ctx, &as, 3, global, local, &r->ev_first);
    if (err != CL_SUCCESS)
        return err;

    size_t rwg = ctx->wg_reduce;
    argset rs = { ctx, ctx->kernels[TQ_OCL_K_ATTENTION_REDUCE], 0, CL_SUCCESS };
    ARG(&rs, seq->scratch);
    ARG(&rs, out);
    ARG(&rs, o_off);
    ARG(&rs, *a);
    ARG_LOCAL(&rs, a->dv * sizeof(cl_float));
    ARG_LOCAL(&rs, rwg * sizeof(cl_float));
    size_t rglobal[3] = { a->n_head * rwg, a->n_q, r->n_seq }, rlocal[3] = { rwg, 1, 1 };
    return launch(ctx, &rs, 3, rglobal, rlocal, &r->ev_last);
}

tq_status tq_ocl_seq_submit(void *vseq)
{
    tq_ocl_seq *seq = vseq;
    tq_ocl_ctx *ctx = seq->ctx;
    release_events(seq);
    seq->timings_valid = false;
    for (uint32_t i = 0; i < seq->n_ops; i++) {
        op_rec *r = &seq->ops[i];
        const tq_op *op = &r->op;
        cl_int err = CL_SUCCESS;
        switch (op->kind) {
        case TQ_OP_WRITE:
            err = ctx->cl->clEnqueueWriteBuffer(ctx->queue, ((tq_ocl_buf *)op->dst.buf)->mem,
                                                CL_FALSE, (size_t)op->offset, (size_t)op->size,
                                                op->host_src, 0, NULL, &r->ev_first);
            break;
        case TQ_OP_READ:
            err = ctx->cl->clEnqueueReadBuffer(ctx->queue, ((tq_ocl_buf *)op->src.buf)->mem,
                                               CL_FALSE, (size_t)op->offset, (size_t)op->size,
                                               op->host_dst, 0, NULL, &r->ev_first);
            break;
        case TQ_OP_QUANTIZE:
            err = enqueue_quantize(ctx, r);
            break;
        case TQ_OP_DEQUANTIZE:
            err = enqueue_dequantize(ctx, r);
            break;
        case TQ_OP_ROTATE:
            err = enqueue_rotate(ctx, r);
            break;
        case TQ_OP_ATTENTION:
            err = enqueue_attention(seq, r);
            break;
        default:
            break;
        }
        if (err != CL_SUCCESS) {
            ctx->cl->clFinish(ctx->queue);
            char what[64];
            snprintf(what, sizeof what, "enqueueing op %u (%s)", i, r->timing.op);
            return tq_ocl_fail(ctx->host, err, what);
        }
        if (!r->ev_last)
            r->ev_last = r->ev_first;
    }
    seq->submitted = true;
    cl_int err = ctx->cl->clFlush(ctx->queue);
    if (err != CL_SUCCESS)
        return tq_ocl_fail(ctx->host, err, "clFlush");
    return NULL;
}

/* --------------------------------------------------------------------- wait */

static cl_int event_status(tq_ocl_ctx *ctx, cl_event ev)
{
    cl_int st = CL_COMPLETE;
    cl_int err = ctx->cl->clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
    return err != CL_SUCCESS ? err : st;
}

static uint64_t event_ns(tq_ocl_ctx *ctx, cl_event ev, cl_profiling_info what)
{
    cl_ulong t = 0;
    if (!ev || ctx->cl->clGetEventProfilingInfo(ev, what, sizeof t, &t, NULL) != CL_SUCCESS)
        return 0;
    return t;
}

tq_status tq_ocl_seq_wait(void *vseq, uint64_t timeout_ns)
{
    tq_ocl_seq *seq = vseq;
    tq_ocl_ctx *ctx = seq->ctx;
    if (!seq->submitted)
        return NULL;
    cl_event last = NULL;
    for (uint32_t i = seq->n_ops; i-- > 0;)
        if (seq->ops[i].ev_last) {
            last = seq->ops[i].ev_last;
            break;
        }
    if (timeout_ns == UINT64_MAX) {
        cl_int err = ctx->cl->clFinish(ctx->queue);
        if (err != CL_SUCCESS)
            return tq_ocl_fail(ctx->host, err, "clFinish");
    } else if (last) {
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            cl_int st = event_status(ctx, last);
            if (st <= CL_COMPLETE)
                break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            uint64_t el = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000000000ull +
                          (uint64_t)(now.tv_nsec - t0.tv_nsec);
            if (el >= timeout_ns)
                return ctx->host->status_new(TQ_CODE_TIMEOUT,
                                             "opencl: sequence not finished after %llu ns",
                                             (unsigned long long)timeout_ns);
            struct timespec nap = { 0, 50000 };
            nanosleep(&nap, NULL);
        }
    }
    seq->submitted = false;
    /* Errors of individual commands, then the timings. */
    for (uint32_t i = 0; i < seq->n_ops; i++) {
        op_rec *r = &seq->ops[i];
        cl_event evs[2] = { r->ev_first, r->ev_last };
        for (int e = 0; e < 2; e++) {
            if (!evs[e])
                continue;
            cl_int st = event_status(ctx, evs[e]);
            if (st < 0) {
                char what[256];
                snprintf(what, sizeof what, "op %u (%s, %s) failed on '%s'", i, r->timing.op,
                         r->timing.variant, ctx->dev->info.name);
                return tq_ocl_fail(ctx->host, st, what);
            }
        }
        uint64_t start = event_ns(ctx, r->ev_first, CL_PROFILING_COMMAND_START);
        uint64_t end = event_ns(ctx, r->ev_last, CL_PROFILING_COMMAND_END);
        r->timing.device_ns = end > start ? end - start : 0;
        r->timing.host_ns = 0;
        if (r->ev_last != r->ev_first) {
            uint64_t mid = event_ns(ctx, r->ev_first, CL_PROFILING_COMMAND_END);
            uint64_t mid2 = event_ns(ctx, r->ev_last, CL_PROFILING_COMMAND_START);
            ctx->host->log(3, "opencl: %s (%s): first kernel %.1f us, second %.1f us",
                           r->timing.op, r->timing.variant, (double)(mid - start) / 1e3,
                           (double)(end - mid2) / 1e3);
        }
    }
    seq->timings_valid = true;
    return NULL;
}

tq_status tq_ocl_seq_timing(void *vseq, uint32_t index, tq_plugin_timing *out)
{
    tq_ocl_seq *seq = vseq;
    if (index >= seq->n_ops)
        return seq->ctx->host->status_new(TQ_CODE_OUT_OF_RANGE,
                                          "opencl: timing index %u of a sequence of %u ops",
                                          index, seq->n_ops);
    if (!seq->timings_valid)
        return seq->ctx->host->status_new(TQ_CODE_INVALID_ARGUMENT,
                                          "opencl: no completed submission to time");
    *out = seq->ops[index].timing;
    return NULL;
}
