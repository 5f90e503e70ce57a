/*
 * vk_ops.c: turns each tq_op into pipelines + bindings + push constants + workgroup
 * counts (what the sequence records), and answers supports().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_sequence.h"

#define RB_MAX 16u
#define TT_MAX 32u
#define TT_MIN 4u
#define MIN_SPLIT_POSITIONS 64u
#define WAVES_PER_CU 4u
#define DEFAULT_CUS 64u

static uint64_t ref_bytes(const tq_tensor_ref *t)
{
    return tq_type_row_bytes(t->type, t->ne[0]) * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] *
           (uint64_t)t->ne[3];
}

static uint64_t ref_rows(const tq_tensor_ref *t)
{
    return (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
}

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---------------------------------------------------------------- attention plan */

typedef struct attn_plan {
    uint32_t d, n_head, n_q, n_seq, n_kv_head, n_ctx, n_kv, G, R;
    uint32_t DK, DV, RB, TT, n_rb, n_splits, split_len;
    uint64_t scratch_bytes;
    bool fd;                     /* attn_fd.comp (else the tiled attn.comp) */
    uint32_t reduce;             /* fd team sums: 0 shared, 1 subgroup shuffles, 2 transposed */
    uint32_t TL, NB;             /* fd: lanes per team, keys per team per step */
    uint32_t SMX;                /* fd: online softmax by one owner lane per row */
} attn_plan;

#define FD_RB_MAX 8u
#define FD_WAVES 8u              /* fd workgroups per compute unit to aim for */
#define FD_SHORT_SPLIT 1024u     /* splits of at most this many keys use 2 keys per step */

static uint64_t fd_shared_bytes(uint32_t RB, uint32_t D, uint32_t TL, uint32_t NB, uint32_t reduce)
{
    uint64_t nt = 128 / TL, nv = (uint64_t)NB * RB;
    uint64_t red = reduce == 1 ? 1 : reduce == 2 ? nt * nv * (TL + 1) : 128 * nv;
    /* + sh_al of the row-owner softmax, counted whether used or not */
    return 4ull * (2ull * RB * D + 3ull * nt * RB + red + (reduce == 2 ? nt * nv : 1) + 32);
}

/* Decides whether the flash-decoding kernel runs and with which team shape. Returns an
 * error only when the user forced something this device or shape cannot do. */
/* Keys per context split of the fd kernel: forced, or enough splits for FD_WAVES
 * work-groups per compute unit over `base` (sequence x kv head x row block) groups, each
 * split at least 4 steps of `step` keys. */
static uint32_t fd_split_keys(const tq_vk_ctx *ctx, uint32_t n_kv, uint64_t base, uint32_t step)
{
    uint32_t splits;
    if (ctx->forced_splits) {
        splits = ctx->forced_splits;
    } else {
        const tq_vk_device *dv = ctx->dev;
        uint32_t cus = dv->info.compute_units ? dv->info.compute_units : DEFAULT_CUS;
        uint64_t target = (uint64_t)cus * FD_WAVES;
        splits = (uint32_t)((target + base - 1) / base);
        uint32_t max_splits = (n_kv + 4 * step - 1) / (4 * step);
        if (splits > max_splits)
            splits = max_splits;
    }
    if (splits < 1)
        splits = 1;
    return (n_kv + splits - 1) / splits;
}

static tq_status fd_plan(tq_vk_ctx *ctx, attn_plan *p)
{
    const tq_host_api *host = ctx->host;
    const tq_vk_device *dv = ctx->dev;
    p->fd = false;
    if (ctx->attn_kernel == 2)
        return NULL;
    const char *why = NULL;
    uint32_t D = p->DK, rb = 1;
    while (rb < p->R && rb < FD_RB_MAX)
        rb *= 2;
    if (p->DK != p->DV)
        why = "K and V rows of different padded lengths";
    else if (p->R > FD_RB_MAX)
        why = "more than 8 query rows per kv head (prefill)";
    /* lanes per team: a power of two dividing D/8, at most 16 */
    uint32_t tl = 16;
    while (tl > 1 && (D / 8) % tl)
        tl /= 2;
    /* default: transposed team sums where they fit in shared memory, else shared. On the
     * H100 (ctx 131072, one process per case) transposed took f16 279 vs 333 us, q8_0 244
     * vs 294, turbo3 322 vs 381, turbo4 261 vs 308; see attn_fd.comp. */
    uint32_t reduce = ctx->attn_reduce == 2 ? 0 : 2;
    uint32_t sgsize = ctx->required_subgroup ? ctx->required_subgroup : dv->subgroup_size;
    bool sg_fixed = ctx->required_subgroup || !dv->has_sg_control || dv->sg_min == dv->sg_max;
    bool sg_ok = dv->sg_shuffle && sg_fixed && sgsize >= 2 && sgsize <= 128 && !(sgsize & (sgsize - 1));
    if (ctx->attn_reduce == 1 && !sg_ok && !why)
        return host->status_new(TQ_CODE_UNSUPPORTED,
                                "vulkan: reduce=subgroup needs subgroup shuffles in compute "
                                "shaders and a fixed subgroup size; device '%s' has neither",
                                dv->info.name);
    /* Shuffles only when asked for. H100, ctx 131072, one process per case: shuffles
     * (lanes softmax) f16 236 us, q8_0 232, turbo3 284, turbo4 241: better than transposed
     * sums with the lanes softmax, worse than with the owner softmax (below), which needs
     * shared memory. (An earlier 1.3 ms figure came from a multi-case process.) */
    if (sg_ok && ctx->attn_reduce == 1) {
        reduce = 1;
        while (tl > sgsize)
            tl /= 2;
    }
    uint32_t nch = D / (8 * tl);
    if (!why && nch * rb > 8)
        why = "head size too large for the register budget";
    uint32_t nb = ctx->attn_keys ? ctx->attn_keys
                : dv->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 1 : 4;
    if (!why && reduce == 2 && ctx->attn_reduce == 0 &&
        fd_shared_bytes(rb, D, tl, nb, reduce) > dv->max_shared)
        reduce = 0;   /* automatic choice: the variant string says smem */
    if (!why && fd_shared_bytes(rb, D, tl, nb, reduce) > dv->max_shared)
        why = "not enough shared memory";
    if (why) {
        if (ctx->attn_kernel == 1)
            return host->status_new(TQ_CODE_UNSUPPORTED, "vulkan: kernel=fd cannot run this "
                                    "attention (d=%u, %u query rows): %s", p->d, p->R, why);
        return NULL;
    }
    /* Online softmax by one owner lane per row (default where it can run: it needs the
     * transposed sums, whose owners mask their values, and a lane per row) instead of in
     * all TL lanes of a team: TL times fewer exps. H100, ctx 131072, one process per
     * case, two rounds each: owner vs lanes f16 236 vs 241 us, q8_0 225 vs 245, turbo3
     * 266 vs 289, turbo4 231 vs 252. */
    bool smx_ok = reduce == 2 && rb <= tl;
    if (ctx->attn_softmax == 2 && !smx_ok)
        return host->status_new(TQ_CODE_UNSUPPORTED,
                                "vulkan: softmax=owner needs reduce=transpose and at most %u "
                                "query rows per kv head here (this attention: %s, %u rows)",
                                tl, reduce == 2 ? "transpose" : reduce == 1 ? "subgroup" : "shared",
                                rb);
    p->SMX = smx_ok && ctx->attn_softmax != 1;
    p->fd = true;
    p->reduce = reduce;
    p->TL = tl;
    p->NB = nb;
    p->RB = rb;
    p->n_rb = (p->R + rb - 1) / rb;
    uint64_t base = (uint64_t)p->n_seq * p->n_kv_head * p->n_rb;
    uint32_t step = (128 / tl) * nb;
    uint32_t per = fd_split_keys(ctx, p->n_kv, base, step);
    /* GPU default keys per step: 2 where splits are short (205..1024 keys), else 4.
     * H100, same run, ctx 131072, 1 sequence (993-key splits): keys=2 vs 4 f16 244 vs
     * 278 us, q8_0/turbo4 241 vs 268, others within 2%; ctx 32768 (249-key splits): f16 93
     * vs 107, q8_0 91 vs 98, turbo3 94 vs 97; 8 sequences (7.7k-key splits): keys=2 lost
     * 7-20% (q8_0 1.96 vs 1.62 ms); ctx 4096 (128-key splits): keys=2 lost for 4 of 6
     * types (turbo4 55 vs 31 us). */
    if (!ctx->attn_keys && nb == 4 && per <= FD_SHORT_SPLIT && per >= FD_SHORT_SPLIT / 5) {
        nb = 2;
        p->NB = nb;
        step = (128 / tl) * nb;
        per = fd_split_keys(ctx, p->n_kv, base, step);
    }
    p->split_len = (per + step - 1) / step * step;
    p->n_splits = (p->n_kv + p->split_len - 1) / p->split_len;
    p->scratch_bytes = (uint64_t)p->n_seq * p->n_kv_head * p->R * p->n_splits * (p->DV + 2) * 4;
    return NULL;
}

static uint64_t attn_shared_bytes(uint32_t RB, uint32_t TT, uint32_t DK, uint32_t DV)
{
    uint32_t dmax = DK > DV ? DK : DV;
    return 4ull * ((uint64_t)RB * DK + (uint64_t)TT * (dmax + 1) + (uint64_t)RB * TT + 3ull * RB + 32);
}

static tq_status attn_planner(tq_vk_ctx *ctx, const tq_op *op, attn_plan *p)
{
    const tq_host_api *host = ctx->host;
    memset(p, 0, sizeof(*p));
    p->d = (uint32_t)op->q.ne[0];
    p->n_head = (uint32_t)op->q.ne[1];
    p->n_q = (uint32_t)op->q.ne[2];
    p->n_seq = (uint32_t)op->q.ne[3];
    p->n_ctx = (uint32_t)op->k.ne[1];
    p->n_kv_head = (uint32_t)op->k.ne[2];
    p->n_kv = (uint32_t)op->n_kv;
    if (p->n_kv_head == 0 || p->n_head % p->n_kv_head)
        return host->status_new(TQ_CODE_INVALID_ARGUMENT, "vulkan: n_head %u is not a multiple of n_kv_head %u",
                                p->n_head, p->n_kv_head);
    p->G = p->n_head / p->n_kv_head;
    p->R = p->G * p->n_q;
    if (p->d % 8)
        return host->status_new(TQ_CODE_UNSUPPORTED,
                                "vulkan: attention needs a head size that is a multiple of 8 (got %u)",
                                p->d);
    p->DK = (uint32_t)tq_type_padded_elems(op->k.type, p->d);
    p->DV = (uint32_t)tq_type_padded_elems(op->v.type, p->d);
    if (p->DK == 0 || p->DV == 0 || p->DK > 1024 || p->DV > 1024)
        return host->status_new(TQ_CODE_UNSUPPORTED,
                                "vulkan: attention supports head sizes up to 1024 with d %% 32 == 0 "
                                "for q8_0/q4_0 (got d=%u)", p->d);
    uint32_t rb = 1;
    while (rb < p->R && rb < RB_MAX)
        rb *= 2;
    uint32_t tt = TT_MAX;
    uint64_t lim = ctx->dev->max_shared;
    for (;;) {
        uint32_t nacc = (rb * p->DV + 127) / 128;
        uint32_t nqg = (rb * p->DK + 127) / 128;
        bool regs_ok = nacc <= 64 && nqg <= 64;
        if (regs_ok && attn_shared_bytes(rb, tt, p->DK, p->DV) <= lim)
            break;
        if (tt > TT_MIN && (tt > 8 || rb == 1))
            tt /= 2;
        else if (rb > 1)
            rb /= 2;
        else
            return host->status_new(TQ_CODE_UNSUPPORTED,
                                    "vulkan: device '%s' has %llu bytes of shared memory per "
                                    "workgroup; attention with d=%u needs %llu",
                                    ctx->dev->info.name, (unsigned long long)lim, p->d,
                                    (unsigned long long)attn_shared_bytes(1, TT_MIN, p->DK, p->DV));
    }
    p->RB = rb;
    p->TT = tt;
    p->n_rb = (p->R + rb - 1) / rb;
    uint64_t base = (uint64_t)p->n_seq * p->n_kv_head * p->n_rb;
    uint32_t max_splits = (p->n_kv + MIN_SPLIT_POSITIONS - 1) / MIN_SPLIT_POSITIONS;
    uint32_t splits;
    if (ctx->forced_splits) {
        splits = ctx->forced_splits;
        uint32_t tiles = (p->n_kv + tt - 1) / tt;
        if (splits > tiles)
            splits = tiles;
    } else {
        uint32_t cus = ctx->dev->info.compute_units ? ctx->dev->info.compute_units : DEFAULT_CUS;
        uint64_t target = (uint64_t)cus * WAVES_PER_CU;
        splits = (uint32_t)((target + base - 1) / base);
        if (splits > max_splits)
            splits = max_splits;
    }
    if (splits < 1)
        splits = 1;
    uint32_t per = (p->n_kv + splits - 1) / splits;
    p->split_len = (per + tt - 1) / tt * tt;
    p->n_splits = (p->n_kv + p->split_len - 1) / p->split_len;
    /* Sized from this dispatch (rows x splits), never from n_ctx. */
    p->scratch_bytes = (uint64_t)p->n_seq * p->n_kv_head * p->R * p->n_splits * (p->DV + 2) * 4;
    return fd_plan(ctx, p);
}

static void attn_variant(tq_vk_ctx *ctx, const tq_op *op, const attn_plan *p, char *out,
                         size_t cap)
{
    bool turbo = tq_type_is_turbo(op->k.type) || tq_type_is_turbo(op->v.type);
    int n = p->fd ? snprintf(out, cap, "split-k-fd/tl%u-%s/k%u%s", p->TL,
                             p->reduce == 1 ? "sg" : p->reduce == 2 ? "tsmem" : "smem",
                             p->NB, p->SMX ? "/smo" : "")
                  : snprintf(out, cap, "split-k");
    if (turbo)
        n += snprintf(out + n, cap - (size_t)n, "/%s", tq_vk_variant_name(ctx->variant));
    if (ctx->mode != TQ_VK_MODE_FULL)
        snprintf(out + n, cap - (size_t)n, "/mode=%s", tq_vk_mode_name(ctx->mode));
}

/* --------------------------------------------------------------------- supports */

tq_status tq_vk_ops_supports(tq_vk_ctx *ctx, const tq_op *op)
{
    const tq_host_api *host = ctx->host;
    switch (op->kind) {
    case TQ_OP_WRITE:
    case TQ_OP_READ:
    case TQ_OP_ROTATE:
        return NULL;
    case TQ_OP_QUANTIZE:
        if (op->src.type != TQ_TYPE_F32 && op->src.type != TQ_TYPE_F16)
            return host->status_new(TQ_CODE_UNSUPPORTED, "vulkan: quantize reads F32 or F16, not %s",
                                    tq_type_name(op->src.type));
        if (tq_type_row_bytes(op->dst.type, op->dst.ne[0]) == 0)
            return host->status_new(TQ_CODE_UNSUPPORTED, "vulkan: %s rows of %lld elements",
                                    tq_type_name(op->dst.type), (long long)op->dst.ne[0]);
        return NULL;
    case TQ_OP_DEQUANTIZE:
        return NULL;
    case TQ_OP_ATTENTION: {
        attn_plan p;
        return attn_planner(ctx, op, &p);
    }
    default:
        return host->status_new(TQ_CODE_UNSUPPORTED, "vulkan: unknown op kind %d", (int)op->kind);
    }
}

/* --------------------------------------------------------------------- records */

static tq_vk_binding bind_of(const tq_tensor_ref *t)
{
    return (tq_vk_binding){ .b = t->buf, .off = t->offset, .len = ref_bytes(t) };
}

static tq_status record_quantize(tq_vk_seq *seq, tq_vk_rec *rec, const tq_op *op)
{
    tq_vk_ctx *ctx = tq_vk_seq_ctx(seq);
    uint64_t n_rows = (uint64_t)op->n_rows;
    tq_vk_buffer *rows = NULL;
    tq_status s = tq_vk_buffer_create(ctx, n_rows * 4, TQ_VK_MEM_UPLOAD, TQ_MEM_SCRATCH, true, &rows);
    if (s)
        return s;
    s = tq_vk_rec_own(seq, rec, rows);
    if (s)
        return s;
    uint32_t *rp = rows->mapped;
    for (uint64_t i = 0; i < n_rows; i++)
        rp[i] = (uint32_t)op->rows[i];
    tq_vk_pipeline_key key = { .kernel = TQ_VK_KERNEL_QUANTIZE, .n_spec = 2,
                               .spec = { (uint32_t)op->dst.type, op->src.type == TQ_TYPE_F16 },
                               .n_bindings = 3 };
    tq_vk_pipeline *pl;
    s = tq_vk_pipeline_get(ctx, &key, &pl);
    if (s)
        return s;
    tq_vk_binding b[3] = { bind_of(&op->src), bind_of(&op->dst),
                           { .b = rows, .off = 0, .len = n_rows * 4 } };
    uint32_t rel[3];
    VkDescriptorSet ds;
    s = tq_vk_rec_bind(seq, pl, b, 3, &ds, rel);
    if (s)
        return s;
    uint32_t d = (uint32_t)op->src.ne[0];
    uint32_t chunks = (d + 127) / 128;
    uint32_t push[TQ_VK_PUSH_WORDS] = { 0 };
    push[1] = chunks;
    push[2] = d;
    push[3] = rel[0];
    push[4] = (uint32_t)tq_type_row_bytes(op->src.type, op->src.ne[0]);
    push[5] = rel[1];
    push[6] = (uint32_t)tq_type_row_bytes(op->dst.type, op->dst.ne[0]);
    push[7] = (uint32_t)op->src.ne[1];   /* n_kv_head */
    push[8] = (uint32_t)op->src.ne[2];   /* n_tokens */
    push[9] = (uint32_t)op->dst.ne[1];   /* n_ctx */
    push[10] = rel[2];
    uint64_t src_rows = ref_rows(&op->src);
    strcpy(rec->op, "quantize");
    snprintf(rec->variant, sizeof(rec->variant), "wg128/%s", tq_type_name(op->dst.type));
    rec->bytes_read = ref_bytes(&op->src);
    rec->bytes_written = src_rows * tq_type_row_bytes(op->dst.type, op->dst.ne[0]);
    return tq_vk_rec_dispatch(seq, rec, pl, ds, push, src_rows * chunks, false);
}

static tq_status record_dequantize(tq_vk_seq *seq, tq_vk_rec *rec, const tq_op *op)
{
    tq_vk_ctx *ctx = tq_vk_seq_ctx(seq);
    bool inverse = (op->flags & TQ_DEQUANTIZE_INVERSE_ROTATION) && tq_type_is_turbo(op->src.type);
    tq_vk_pipeline_key key = { .kernel = TQ_VK_KERNEL_DEQUANTIZE, .n_spec = 2,
                               .spec = { (uint32_t)op->src.type, inverse }, .n_bindings = 2 };
    tq_vk_pipeline *pl;
    tq_status s = tq_vk_pipeline_get(ctx, &key, &pl);
    if (s)
        return s;
    tq_vk_binding b[2] = { bind_of(&op->src), bind_of(&op->dst) };
    uint32_t rel[2];
    VkDescriptorSet ds;
    s = tq_vk_rec_bind(seq, pl, b, 2, &ds, rel);
    if (s)
        return s;
    uint32_t padded = (uint32_t)tq_type_padded_elems(op->src.type, op->src.ne[0]);
    uint32_t chunks = (padded + 127) / 128;
    uint32_t push[TQ_VK_PUSH_WORDS] = { 0 };
    push[1] = chunks;
    push[2] = (uint32_t)op->src.ne[0];
    push[3] = rel[0];
    push[4] = (uint32_t)tq_type_row_bytes(op->src.type, op->src.ne[0]);
    push[5] = rel[1];
    push[6] = (uint32_t)op->dst.ne[0];
    strcpy(rec->op, "dequantize");
    snprintf(rec->variant, sizeof(rec->variant), "wg128/%s%s", tq_type_name(op->src.type),
             inverse ? "/inverse" : "");
    rec->bytes_read = ref_bytes(&op->src);
    rec->bytes_written = ref_bytes(&op->dst);
    return tq_vk_rec_dispatch(seq, rec, pl, ds, push, ref_rows(&op->src) * chunks, false);
}

static tq_status record_rotate(tq_vk_seq *seq, tq_vk_rec *rec, const tq_op *op)
{
    tq_vk_ctx *ctx = tq_vk_seq_ctx(seq);
    tq_vk_pipeline_key key = { .kernel = TQ_VK_KERNEL_ROTATE, .n_spec = 1,
                               .spec = { op->inverse }, .n_bindings = 2 };
    tq_vk_pipeline *pl;
    tq_status s = tq_vk_pipeline_get(ctx, &key, &pl);
    if (s)
        return s;
    tq_vk_binding b[2] = { bind_of(&op->src), bind_of(&op->dst) };
    uint32_t rel[2];
    VkDescriptorSet ds;
    s = tq_vk_rec_bind(seq, pl, b, 2, &ds, rel);
    if (s)
        return s;
    uint32_t push[TQ_VK_PUSH_WORDS] = { 0 };
    push[1] = rel[0];
    push[2] = rel[1];
    strcpy(rec->op, "rotate");
    strcpy(rec->variant, op->inverse ? "wg128/inverse" : "wg128/forward");
    rec->bytes_read = ref_bytes(&op->src);
    rec->bytes_written = ref_bytes(&op->dst);
    uint64_t groups = ref_bytes(&op->src) / (128 * 4);
    return tq_vk_rec_dispatch(seq, rec, pl, ds, push, groups, false);
}

static tq_status record_attention(tq_vk_seq *seq, tq_vk_rec *rec, const tq_op *op)
{
    tq_vk_ctx *ctx = tq_vk_seq_ctx(seq);
    attn_plan p;
    tq_status s = attn_planner(ctx, op, &p);
    if (s)
        return s;
    tq_vk_buffer *scratch = NULL;
    s = tq_vk_buffer_create(ctx, p.scratch_bytes, TQ_VK_MEM_DEVICE, TQ_MEM_SCRATCH, true, &scratch);
    if (s)
        return s;
    s = tq_vk_rec_own(seq, rec, scratch);
    if (s)
        return s;
    uint32_t kt = ctx->dynamic_types ? 255u : (uint32_t)op->k.type;
    uint32_t vt = ctx->dynamic_types ? 255u : (uint32_t)op->v.type;
    tq_vk_pipeline_key key = { .kernel = TQ_VK_KERNEL_ATTN, .n_spec = 8,
                               .spec = { kt, vt, p.DK, p.DV, p.RB, p.TT, (uint32_t)ctx->variant,
                                         (uint32_t)ctx->mode },
                               .n_bindings = 4 };
    if (p.fd)
        key = (tq_vk_pipeline_key){ .kernel = TQ_VK_KERNEL_ATTN_FD, .n_spec = 10,
                                    .spec = { kt, vt, p.DK, p.RB, p.TL, p.NB,
                                              (uint32_t)ctx->variant, (uint32_t)ctx->mode, p.reduce,
                                              p.SMX },
                                    .n_bindings = 4 };
    tq_vk_pipeline *pl, *pr;
    s = tq_vk_pipeline_get(ctx, &key, &pl);
    if (s)
        return s;
    tq_vk_pipeline_key rkey = { .kernel = TQ_VK_KERNEL_ATTN_REDUCE, .n_spec = 2,
                                .spec = { p.DV, tq_type_is_turbo(op->v.type) }, .n_bindings = 2 };
    s = tq_vk_pipeline_get(ctx, &rkey, &pr);
    if (s)
        return s;
    /* K and V: only the rows of the sequences/heads are bound (all n_ctx of them). */
    tq_vk_binding b[4] = { bind_of(&op->q), bind_of(&op->k), bind_of(&op->v),
                           { .b = scratch, .off = 0, .len = p.scratch_bytes } };
    uint32_t rel[4];
    VkDescriptorSet ds, rds;
    s = tq_vk_rec_bind(seq, pl, b, 4, &ds, rel);
    if (s)
        return s;
    uint32_t push[TQ_VK_PUSH_WORDS] = { 0 };
    push[1] = p.n_kv;
    push[2] = p.n_q;
    push[3] = p.G;
    push[4] = p.R;
    push[5] = p.n_rb;
    push[6] = p.n_splits;
    push[7] = p.split_len;
    push[8] = rel[0];
    push[9] = rel[1];
    push[10] = (uint32_t)tq_type_row_bytes(op->k.type, op->k.ne[0]);
    push[11] = rel[2];
    push[12] = (uint32_t)tq_type_row_bytes(op->v.type, op->v.ne[0]);
    push[13] = p.n_ctx;
    push[14] = p.n_kv_head;
    push[15] = p.n_head;
    push[16] = p.d;
    push[17] = f2u(op->scale);
    push[18] = f2u(op->softcap);
    push[19] = op->causal;
    push[20] = (uint32_t)op->q_pos0;
    push[21] = rel[3];
    push[22] = (uint32_t)op->k.type;
    push[23] = (uint32_t)op->v.type;
    uint64_t groups = (uint64_t)p.n_seq * p.n_kv_head * p.n_rb * p.n_splits;
    s = tq_vk_rec_dispatch(seq, rec, pl, ds, push, groups, true);
    if (s)
        return s;
    tq_vk_binding rb[2] = { { .b = scratch, .off = 0, .len = p.scratch_bytes }, bind_of(&op->out) };
    s = tq_vk_rec_bind(seq, pr, rb, 2, &rds, rel);
    if (s)
        return s;
    uint32_t rpush[TQ_VK_PUSH_WORDS] = { 0 };
    rpush[1] = p.n_splits;
    rpush[2] = p.R;
    rpush[3] = p.G;
    rpush[4] = p.n_q;
    rpush[5] = p.n_head;
    rpush[6] = p.n_kv_head;
    rpush[7] = p.d;
    rpush[8] = rel[0];
    rpush[9] = rel[1];
    strcpy(rec->op, "attention");
    attn_variant(ctx, op, &p, rec->variant, sizeof(rec->variant));
    uint64_t kv_rows = (uint64_t)p.n_kv * p.n_kv_head * p.n_seq;
    rec->bytes_read = kv_rows * (tq_type_row_bytes(op->k.type, op->k.ne[0]) +
                                 tq_type_row_bytes(op->v.type, op->v.ne[0])) + ref_bytes(&op->q);
    rec->bytes_written = ref_bytes(&op->out);
    return tq_vk_rec_dispatch(seq, rec, pr, rds, rpush, (uint64_t)p.n_seq * p.n_kv_head * p.R, false);
}

tq_status tq_vk_ops_record(tq_vk_seq *seq, tq_vk_rec *rec, const tq_op *op)
{
    tq_vk_ctx *ctx = tq_vk_seq_ctx(seq);
    tq_status s = tq_vk_ops_supports(ctx, op);
    if (s)
        return s;
    switch (op->kind) {
    case TQ_OP_QUANTIZE: return record_quantize(seq, rec, op);
    case TQ_OP_DEQUANTIZE: return record_dequantize(seq, rec, op);
    case TQ_OP_ROTATE: return record_rotate(seq, rec, op);
    case TQ_OP_ATTENTION: return record_attention(seq, rec, op);
    default:
        return ctx->host->status_new(TQ_CODE_UNSUPPORTED, "vulkan: op kind %d is not a kernel op",
                                     (int)op->kind);
    }
}
