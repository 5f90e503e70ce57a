/*
 * test_opencl_attention.c: attention on the OpenCL device against tq_ref_attention (double
 * precision) over the SAME quantized cache: NMSE <= 1e-6 and no NaN/Inf, for every K/V
 * type pair, GQA 1/4/8, d 64/128/256, decode with 1..8 query tokens, causal prefill,
 * softcap, two sequences, and the split-context path; the matrix-unit kernel
 * (split-k-mma); decode scratch sized from the dispatch, not from the context the cache
 * was reserved for.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ocl_harness.h"

static hx H;

static int setup(void **state)
{
    (void)state;
    hx_open(&H, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hx_close(&H);
    return 0;
}

typedef struct shape {
    tq_type tk, tv;
    int64_t d, n_head, n_kv_head, n_q, n_seq, n_ctx, n_kv;
    float scale, softcap;
    bool causal;
    int64_t q_pos0;
} shape;

/* Runs one attention and returns its NMSE against the reference; fails on NaN/Inf. */
static double run_attention(const shape *sh, tq_plugin_timing *out_tm)
{
    uint64_t seed = 77 + (uint64_t)sh->tk * 7 + (uint64_t)sh->tv * 131 + (uint64_t)sh->d;
    const int64_t d = sh->d;
    const int64_t nq_rows = sh->n_head * sh->n_q * sh->n_seq;
    const int64_t kv_rows = sh->n_ctx * sh->n_kv_head * sh->n_seq;
    float *q = malloc((size_t)(nq_rows * d) * sizeof(float));
    float *x = malloc((size_t)d * sizeof(float));
    for (int64_t i = 0; i < nq_rows * d; i++)
        q[i] = hx_rand_normal(&seed);

    hx_tensor tq_, tk, tv, to;
    hx_tensor_new(&H, &tq_, TQ_TYPE_F32, d, sh->n_head, sh->n_q, sh->n_seq);
    hx_tensor_new_at(&H, &tk, sh->tk, d, sh->n_ctx, sh->n_kv_head, sh->n_seq, 4);
    hx_tensor_new_at(&H, &tv, sh->tv, d, sh->n_ctx, sh->n_kv_head, sh->n_seq, 8);
    hx_tensor_new(&H, &to, TQ_TYPE_F32, d, sh->n_head, sh->n_q, sh->n_seq);
    uint8_t *kb = calloc(1, tk.bytes), *vb = calloc(1, tv.bytes);
    for (int64_t r = 0; r < kv_rows; r++) {
        for (int64_t j = 0; j < d; j++)
            x[j] = hx_rand_normal(&seed) * 0.7f;
        assert_null(tq_ref_quantize_row(sh->tk, x, d, kb + r * tk.ref.nb[1]));
        for (int64_t j = 0; j < d; j++)
            x[j] = hx_rand_normal(&seed);
        assert_null(tq_ref_quantize_row(sh->tv, x, d, vb + r * tv.ref.nb[1]));
    }
    hx_upload(&H, &tq_, q);
    hx_upload(&H, &tk, kb);
    hx_upload(&H, &tv, vb);

    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_ATTENTION;
    op.q = tq_.ref;
    op.k = tk.ref;
    op.v = tv.ref;
    op.out = to.ref;
    op.n_kv = sh->n_kv;
    op.scale = sh->scale != 0.0f ? sh->scale : 1.0f / sqrtf((float)d);
    op.softcap = sh->softcap;
    op.causal = sh->causal;
    op.q_pos0 = sh->q_pos0;
    tq_plugin_timing tm = hx_run(&H, &op);
    assert_string_equal(tm.op, "attention");
    if (out_tm)
        *out_tm = tm;

    float *got = malloc(to.bytes), *want = malloc(to.bytes);
    hx_download(&H, &to, got);
    tq_ref_attention_args a = {
        .q = q, .k = kb, .v = vb, .out = want, .type_k = sh->tk, .type_v = sh->tv,
        .d = d, .n_head = sh->n_head, .n_q = sh->n_q, .n_seq = sh->n_seq,
        .n_kv_head = sh->n_kv_head, .n_ctx = sh->n_ctx, .n_kv = sh->n_kv,
        .scale = op.scale, .softcap = sh->softcap, .causal = sh->causal, .q_pos0 = sh->q_pos0,
    };
    assert_null(tq_ref_attention(&a));
    bool bad_values = false;
    double nmse = hx_nmse(got, want, (size_t)(nq_rows * d), &bad_values);
    if (bad_values || !(nmse <= 1e-6))
        fprintf(stderr,
                "attention K=%s V=%s d=%lld heads=%lld/%lld n_q=%lld n_seq=%lld n_kv=%lld "
                "causal=%d softcap=%g variant=%s: NMSE %.3g%s\n",
                tq_type_name(sh->tk), tq_type_name(sh->tv), (long long)d, (long long)sh->n_head,
                (long long)sh->n_kv_head, (long long)sh->n_q, (long long)sh->n_seq,
                (long long)sh->n_kv, sh->causal, (double)sh->softcap, tm.variant, nmse,
                bad_values ? " (NaN/Inf in output)" : "");
    assert_false(bad_values);
    free(q);
    free(x);
    free(kb);
    free(vb);
    free(got);
    free(want);
    hx_tensor_free(&H, &tq_);
    hx_tensor_free(&H, &tk);
    hx_tensor_free(&H, &tv);
    hx_tensor_free(&H, &to);
    return nmse;
}

static shape decode_shape(tq_type tk, tq_type tv)
{
    shape s = { .tk = tk, .tv = tv, .d = 128, .n_head = 8, .n_kv_head = 2, .n_q = 1,
                .n_seq = 1, .n_ctx = 48, .n_kv = 37 };
    return s;
}

static void test_decode_every_kv_type_pair(void **state)
{
    (void)state;
    for (int tk = 0; tk < TQ_TYPE_COUNT; tk++)
        for (int tv = 0; tv < TQ_TYPE_COUNT; tv++) {
            shape s = decode_shape((tq_type)tk, (tq_type)tv);
            assert_true(run_attention(&s, NULL) <= 1e-6);
        }
}

/* A few pairs that cover every K path and every V path in the shape tests. */
static const tq_type pairs[][2] = {
    { TQ_TYPE_F16, TQ_TYPE_F16 },       { TQ_TYPE_Q8_0, TQ_TYPE_TURBO4 },
    { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 }, { TQ_TYPE_Q4_0, TQ_TYPE_TURBO2 },
};
#define N_PAIRS (sizeof pairs / sizeof pairs[0])

static void test_decode_gqa_and_head_sizes(void **state)
{
    (void)state;
    const int64_t kv_heads[3] = { 8, 2, 1 };       /* GQA 1, 4, 8 with 8 query heads */
    const int64_t dims[3] = { 64, 128, 256 };
    for (size_t p = 0; p < N_PAIRS; p++)
        for (int g = 0; g < 3; g++)
            for (int di = 0; di < 3; di++) {
                shape s = decode_shape(pairs[p][0], pairs[p][1]);
                s.n_kv_head = kv_heads[g];
                s.d = dims[di];
                assert_true(run_attention(&s, NULL) <= 1e-6);
            }
}

static void test_decode_several_query_tokens(void **state)
{
    (void)state;
    for (size_t p = 0; p < N_PAIRS; p++)
        for (int64_t nq = 1; nq <= 8; nq++) {
            shape s = decode_shape(pairs[p][0], pairs[p][1]);
            s.n_q = nq;
            s.n_kv_head = nq % 2 ? 2 : 1;
            assert_true(run_attention(&s, NULL) <= 1e-6);
        }
}

static void test_prefill_causal(void **state)
{
    (void)state;
    for (size_t p = 0; p < N_PAIRS; p++) {
        shape s = decode_shape(pairs[p][0], pairs[p][1]);
        s.n_q = 40;
        s.n_kv = 40;
        s.causal = true;
        assert_true(run_attention(&s, NULL) <= 1e-6);
        /* a chunk of a prompt continuing after 30 cached positions */
        s.n_q = 9;
        s.q_pos0 = 30;
        s.n_kv = 39;
        assert_true(run_attention(&s, NULL) <= 1e-6);
    }
}

static void test_softcap_scale_and_two_sequences(void **state)
{
    (void)state;
    for (size_t p = 0; p < N_PAIRS; p++) {
        shape s = decode_shape(pairs[p][0], pairs[p][1]);
        s.softcap = 2.5f;
        s.scale = 0.3f;
        s.n_seq = 2;
        s.n_q = 3;
        assert_true(run_attention(&s, NULL) <= 1e-6);
        s.causal = true;
        s.q_pos0 = 10;
        assert_true(run_attention(&s, NULL) <= 1e-6);
    }
}

/* Sharp softmax: scale 1 gives logits with a spread of about 8 and maxima near 25, where
 * a kernel whose logit error grows with the logit (half-precision Q or K) fails. */
static shape sharp_shape(tq_type tk, tq_type tv)
{
    shape s = decode_shape(tk, tv);
    s.scale = 1.0f;
    s.n_ctx = 600;
    s.n_kv = 600;
    return s;
}

static void test_sharp_softmax(void **state)
{
    (void)state;
    static const tq_type sp[][2] = { { TQ_TYPE_F16, TQ_TYPE_F16 }, { TQ_TYPE_Q8_0, TQ_TYPE_Q8_0 },
                                     { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 },
                                     { TQ_TYPE_TURBO4, TQ_TYPE_Q8_0 },
                                     { TQ_TYPE_TURBO2, TQ_TYPE_TURBO2 } };
    for (size_t p = 0; p < sizeof sp / sizeof sp[0]; p++) {
        shape s = sharp_shape(sp[p][0], sp[p][1]);
        assert_true(run_attention(&s, NULL) <= 1e-6);
    }
}

/* Small work-groups so a short context spans several tiles and splits, for both kernels
 * (split-k and split-k-coop); the reported variant names the kernel and size that ran. */
static void test_split_context_paths(void **state)
{
    (void)state;
    const char *opts[] = { "variant=split-k/wg16", "variant=split-k/wg16,splits=3",
                           "variant=split-k/wg32,splits=64", "variant=split-k-coop/wg32",
                           "variant=split-k-coop/wg32,splits=3",
                           "variant=split-k-coop/wg64,splits=64" };
    const char *want[] = { "split-k/wg16", "split-k/wg16", "split-k/wg32",
                           "split-k-coop/wg32/", "split-k-coop/wg32/", "split-k-coop/wg64/" };
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++) {
        hx_reopen_context(&H, opts[o]);
        for (size_t p = 0; p < N_PAIRS; p++) {
            shape s = decode_shape(pairs[p][0], pairs[p][1]);
            s.n_ctx = 120;
            s.n_kv = 101;
            s.n_q = 2;
            tq_plugin_timing tm;
            assert_true(run_attention(&s, &tm) <= 1e-6);
            assert_true(strncmp(tm.variant, want[o], strlen(want[o])) == 0);
            s.causal = true;
            s.n_q = 20;
            s.q_pos0 = 81;
            assert_true(run_attention(&s, NULL) <= 1e-6);
        }
    }
    hx_reopen_context(&H, NULL);
}

/* The older split-k kernel stays correct for every K/V pair (it runs the shapes
 * split-k-coop cannot, and whenever it is asked for by name). */
static void test_split_k_every_kv_type_pair(void **state)
{
    (void)state;
    hx_reopen_context(&H, "variant=split-k/wg64");
    for (int tk = 0; tk < TQ_TYPE_COUNT; tk++)
        for (int tv = 0; tv < TQ_TYPE_COUNT; tv++) {
            shape s = decode_shape((tq_type)tk, (tq_type)tv);
            s.n_kv_head = 8;
            tq_plugin_timing tm;
            assert_true(run_attention(&s, &tm) <= 1e-6);
            assert_string_equal(tm.variant, "split-k/wg64");
        }
    hx_reopen_context(&H, NULL);
}

/* An attention op (scale 0.1, one token, one sequence) over fresh tensors that are never
 * filled: for what supports() and seq_record() decide from shapes alone. */
typedef struct attn_op {
    hx_tensor q, k, v, out;
    tq_op op;
} attn_op;

static void attn_op_new(attn_op *t, tq_type tk, tq_type tv, int64_t d, int64_t n_head,
                        int64_t n_kv_head, int64_t n_ctx, int64_t n_kv)
{
    hx_tensor_new(&H, &t->q, TQ_TYPE_F32, d, n_head, 1, 1);
    hx_tensor_new(&H, &t->k, tk, d, n_ctx, n_kv_head, 1);
    hx_tensor_new(&H, &t->v, tv, d, n_ctx, n_kv_head, 1);
    hx_tensor_new(&H, &t->out, TQ_TYPE_F32, d, n_head, 1, 1);
    memset(&t->op, 0, sizeof t->op);
    t->op.struct_size = sizeof t->op;
    t->op.kind = TQ_OP_ATTENTION;
    t->op.q = t->q.ref;
    t->op.k = t->k.ref;
    t->op.v = t->v.ref;
    t->op.out = t->out.ref;
    t->op.n_kv = n_kv;
    t->op.scale = 0.1f;
}

static void attn_op_free(attn_op *t)
{
    hx_tensor_free(&H, &t->q);
    hx_tensor_free(&H, &t->k);
    hx_tensor_free(&H, &t->v);
    hx_tensor_free(&H, &t->out);
}

/* supports() on an attention of d, tk K and tv V (8 heads over 2 kv heads, 16 keys)
 * under the current context's options: UNSUPPORTED, its message containing `why`. */
static void assert_attention_unsupported(tq_type tk, tq_type tv, int64_t d, const char *why)
{
    attn_op t;
    attn_op_new(&t, tk, tv, d, 8, 2, 16, 16);
    tq_status st = H.ops->supports(H.ctx, &t.op);
    assert_non_null(st);
    assert_int_equal(tq_status_code(st), TQ_CODE_UNSUPPORTED);
    assert_non_null(strstr(tq_status_message(st), why));
    tq_status_free(st);
    attn_op_free(&t);
}

/* A head size split-k-coop cannot run (not a multiple of 8) runs on split-k by default,
 * and is an error when split-k-coop is asked for by name. */
static void test_coop_shape_limits(void **state)
{
    (void)state;
    shape s = decode_shape(TQ_TYPE_F16, TQ_TYPE_Q8_0);
    s.tv = TQ_TYPE_F16;
    s.d = 36;
    tq_plugin_timing tm;
    assert_true(run_attention(&s, &tm) <= 1e-6);
    assert_true(strncmp(tm.variant, "split-k/wg", 10) == 0);
    s.d = 128;
    assert_true(run_attention(&s, &tm) <= 1e-6);
    assert_true(strncmp(tm.variant, "split-k-coop/wg", 15) == 0);

    hx_reopen_context(&H, "variant=split-k-coop/wg64");
    assert_attention_unsupported(TQ_TYPE_F16, TQ_TYPE_F16, 36, "split-k-coop");
    hx_reopen_context(&H, NULL);
}

/* split-k-mma (matrix units: PTX mma.sync on NVIDIA, its emulation elsewhere) asked for
 * by name: decode with GQA 4 and 8 (8 query rows, the whole A tile), several tokens,
 * causal prefill, head size 64 (padded), softcap, two sequences, many and few splits, and
 * the sharp softmax whose logit error must not grow with the logit (Q and the turbo3
 * centroids each go in as two fp16 parts), for each of its K/V pairs (turbo3, q8_0). A
 * pair it does not run is an error naming why. */
static void test_mma_kernel(void **state)
{
    (void)state;
    const char *opts[] = { "variant=split-k-mma", "variant=split-k-mma,splits=3" };
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++) {
        hx_reopen_context(&H, opts[o]);
        shape s = decode_shape(TQ_TYPE_TURBO3, TQ_TYPE_TURBO3);
        s.n_ctx = 120;
        s.n_kv = 101;
        tq_plugin_timing tm;
        assert_true(run_attention(&s, &tm) <= 1e-6);
        assert_true(strncmp(tm.variant, "split-k-mma/wg", 14) == 0);
        s.n_head = 16;              /* GQA 8 */
        assert_true(run_attention(&s, NULL) <= 1e-6);
        s.n_head = 8;
        s.n_q = 3;
        s.n_seq = 2;
        s.softcap = 1.5f;
        assert_true(run_attention(&s, NULL) <= 1e-6);
        s.softcap = 0.0f;
        s.n_seq = 1;
        s.d = 64;
        assert_true(run_attention(&s, NULL) <= 1e-6);
        s.d = 128;
        s.causal = true;
        s.n_q = 20;
        s.q_pos0 = 81;
        assert_true(run_attention(&s, NULL) <= 1e-6);
    }
    hx_reopen_context(&H, "variant=split-k-mma");
    static const tq_type mp[][2] = { { TQ_TYPE_TURBO3, TQ_TYPE_TURBO3 },
                                     { TQ_TYPE_Q8_0, TQ_TYPE_Q8_0 },
                                     { TQ_TYPE_Q8_0, TQ_TYPE_TURBO3 },
                                     { TQ_TYPE_TURBO3, TQ_TYPE_Q8_0 } };
    for (size_t p = 0; p < sizeof mp / sizeof mp[0]; p++) {
        shape s = decode_shape(mp[p][0], mp[p][1]);
        s.n_head = 16;
        s.n_q = 2;
        s.causal = true;
        s.q_pos0 = 30;
        tq_plugin_timing tm;
        assert_true(run_attention(&s, &tm) <= 1e-6);
        assert_true(strncmp(tm.variant, "split-k-mma/wg", 14) == 0);
        s = sharp_shape(mp[p][0], mp[p][1]);
        assert_true(run_attention(&s, NULL) <= 1e-6);
    }

    assert_attention_unsupported(TQ_TYPE_F16, TQ_TYPE_TURBO3, 128,
                                 "turbo3 and q8_0 K and V only");
    hx_reopen_context(&H, NULL);
}

/* Scratch after recording a decode attention, for a cache reserved with n_ctx positions. */
static int64_t decode_scratch(int64_t n_ctx)
{
    attn_op t;
    attn_op_new(&t, TQ_TYPE_TURBO3, TQ_TYPE_TURBO3, 128, 32, 8, n_ctx, 300);
    void *seq = NULL;
    int64_t before = H.mem_current[TQ_MEM_SCRATCH];
    assert_null(H.ops->seq_create(H.ctx, &seq));
    assert_null(H.ops->seq_record(seq, &t.op));
    int64_t scratch = H.mem_current[TQ_MEM_SCRATCH] - before;
    H.ops->seq_destroy(seq);
    assert_int_equal(H.mem_current[TQ_MEM_SCRATCH], before);   /* released */
    attn_op_free(&t);
    return scratch;
}

static void test_decode_scratch_does_not_grow_with_context(void **state)
{
    (void)state;
    int64_t small = decode_scratch(512);
    int64_t large = decode_scratch(32768);
    assert_true(small > 0);
    assert_int_equal(small, large);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_every_kv_type_pair),
        cmocka_unit_test(test_decode_gqa_and_head_sizes),
        cmocka_unit_test(test_decode_several_query_tokens),
        cmocka_unit_test(test_prefill_causal),
        cmocka_unit_test(test_softcap_scale_and_two_sequences),
        cmocka_unit_test(test_sharp_softmax),
        cmocka_unit_test(test_split_context_paths),
        cmocka_unit_test(test_split_k_every_kv_type_pair),
        cmocka_unit_test(test_coop_shape_limits),
        cmocka_unit_test(test_mma_kernel),
        cmocka_unit_test(test_decode_scratch_does_not_grow_with_context),
    };
    return cmocka_run_group_tests_name("opencl_attention", tests, setup, teardown);
}
