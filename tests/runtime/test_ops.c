/*
 * test_ops.c: ops through the runtime and the ref plugin give exactly what the scalar
 * reference gives when called directly; timings name the op, the variant and the bytes
 * moved from the op descriptor; views keep guard bytes around outputs intact.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test_util.h"
#include "tq/tq_ref.h"

/* Deterministic pseudo-random floats in [-1, 1). */
static void fill(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

typedef struct fx {
    tq_runtime *rt;
    tq_backend *ref;
    tq_context *c;
    tq_sequence *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->rt = rt_open_ref(&f->ref);
    f->c = rt_ref_context(f->ref);
    RT_OK(tq_sequence_create(f->c, &f->s));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tq_sequence_destroy(f->s);
    tq_memory_stats m;
    RT_OK(tq_context_memory(f->c, &m));
    assert_int_equal(m.current_total, 0);   /* every test frees what it made */
    tq_context_destroy(f->c);
    tq_runtime_destroy(f->rt);
    free(f);
    return 0;
}

static void run(fx *f)
{
    RT_OK(tq_sequence_submit(f->s));
    RT_OK(tq_sequence_wait(f->s, UINT64_MAX));
}

/* Quantize tokens into a cache at scattered rows, then attention over it; compare with
 * tq_ref_quantize_row + tq_ref_attention on host copies. */
static void attention_case(fx *f, tq_type tk, tq_type tv, int64_t d, int64_t n_head,
                           int64_t n_kv_head, int64_t n_q, int64_t n_ctx, int64_t n_kv,
                           bool causal, float softcap)
{
    const int64_t n_seq = 1;
    tq_tensor *kin = rt_tensor(f->c, TQ_TYPE_F32, d, n_kv_head, n_kv, n_seq, TQ_MEM_IO);
    tq_tensor *vin = rt_tensor(f->c, TQ_TYPE_F32, d, n_kv_head, n_kv, n_seq, TQ_MEM_IO);
    tq_tensor *k = rt_tensor(f->c, tk, d, n_ctx, n_kv_head, n_seq, TQ_MEM_KV);
    tq_tensor *v = rt_tensor(f->c, tv, d, n_ctx, n_kv_head, n_seq, TQ_MEM_KV);
    tq_tensor *q = rt_tensor(f->c, TQ_TYPE_F32, d, n_head, n_q, n_seq, TQ_MEM_IO);
    tq_tensor *o = rt_tensor(f->c, TQ_TYPE_F32, d, n_head, n_q, n_seq, TQ_MEM_IO);

    size_t nin = (size_t)(d * n_kv_head * n_kv), nq = (size_t)(d * n_head * n_q);
    float *kx = malloc(nin * sizeof *kx), *vx = malloc(nin * sizeof *vx);
    float *qx = malloc(nq * sizeof *qx), *out = malloc(nq * sizeof *out);
    float *want = malloc(nq * sizeof *want);
    int64_t *rows = malloc((size_t)n_kv * sizeof *rows);
    fill(kx, nin, 1);
    fill(vx, nin, 2);
    fill(qx, nq, 3);
    for (int64_t t = 0; t < n_kv; t++)
        rows[t] = t;   /* positions 0..n_kv-1, written in one go */

    RT_OK(tq_sequence_record_write(f->s, kin, 0, kx, nin * sizeof *kx));
    RT_OK(tq_sequence_record_write(f->s, vin, 0, vx, nin * sizeof *vx));
    RT_OK(tq_sequence_record_write(f->s, q, 0, qx, nq * sizeof *qx));
    tq_quantize_params qk = { kin, k, rows, n_kv }, qv = { vin, v, rows, n_kv };
    RT_OK(tq_sequence_record_quantize(f->s, &qk));
    RT_OK(tq_sequence_record_quantize(f->s, &qv));
    tq_attention_params ap = { .q = q, .k = k, .v = v, .out = o, .n_kv = n_kv,
                               .softcap = softcap, .causal = causal,
                               .q_pos0 = causal ? n_kv - n_q : 0 };
    RT_OK(tq_sequence_record_attention(f->s, &ap));
    RT_OK(tq_sequence_record_read(f->s, o, 0, out, nq * sizeof *out));
    run(f);

    /* The same through the reference directly, on host copies of the cache. */
    uint64_t kb = tq_tensor_nbytes(k), vb = tq_tensor_nbytes(v);
    unsigned char *kh = calloc(1, kb), *vh = calloc(1, vb), *kr = malloc(kb), *vr = malloc(vb);
    uint64_t krow = tq_type_row_bytes(tk, d), vrow = tq_type_row_bytes(tv, d);
    for (int64_t t = 0; t < n_kv; t++)
        for (int64_t h = 0; h < n_kv_head; h++) {
            const float *xk = kx + (t * n_kv_head + h) * d, *xv = vx + (t * n_kv_head + h) * d;
            RT_OK(tq_ref_quantize_row(tk, xk, d, kh + (h * n_ctx + rows[t]) * krow));
            RT_OK(tq_ref_quantize_row(tv, xv, d, vh + (h * n_ctx + rows[t]) * vrow));
        }
    RT_OK(tq_tensor_read(k, 0, kr, kb));
    RT_OK(tq_tensor_read(v, 0, vr, vb));
    assert_memory_equal(kh, kr, kb);   /* quantize through the runtime == the reference */
    assert_memory_equal(vh, vr, vb);
    tq_ref_attention_args a = { .q = qx, .k = kh, .v = vh, .out = want, .type_k = tk,
                                .type_v = tv, .d = d, .n_head = n_head, .n_q = n_q,
                                .n_seq = n_seq, .n_kv_head = n_kv_head, .n_ctx = n_ctx,
                                .n_kv = n_kv, .scale = (float)(1.0 / sqrt((double)d)),
                                .softcap = softcap, .causal = causal, .q_pos0 = ap.q_pos0 };
    RT_OK(tq_ref_attention(&a));
    assert_memory_equal(out, want, nq * sizeof *out);   /* same code, same data: same bits */
    for (size_t i = 0; i < nq; i++)
        assert_true(isfinite(out[i]));

    /* Timing of the attention op: bytes from the descriptor. */
    tq_op_timing tm;
    RT_OK(tq_sequence_timing(f->s, 5, &tm));
    assert_string_equal(tm.op, "attention");
    assert_string_equal(tm.variant, "reference");
    assert_int_equal(tm.bytes_read, nq * 4 + (uint64_t)n_kv * n_kv_head * (krow + vrow));
    assert_int_equal(tm.bytes_written, nq * 4);
    RT_OK(tq_sequence_timing(f->s, 3, &tm));
    assert_string_equal(tm.op, "quantize");
    assert_int_equal(tm.bytes_read, nin * 4);
    assert_int_equal(tm.bytes_written, (uint64_t)n_kv * n_kv_head * krow);
    RT_OK(tq_sequence_timing(f->s, 0, &tm));
    assert_string_equal(tm.op, "write");
    assert_int_equal(tm.bytes_written, nin * 4);
    RT_OK(tq_sequence_reset(f->s));

    free(kh); free(vh); free(kr); free(vr);
    free(kx); free(vx); free(qx); free(out); free(want); free(rows);
    tq_tensor *all[] = { kin, vin, k, v, q, o };
    for (size_t i = 0; i < 6; i++)
        tq_tensor_destroy(all[i]);
}

static void test_attention_matches_reference(void **state)
{
    fx *f = *state;
    attention_case(f, TQ_TYPE_Q8_0, TQ_TYPE_TURBO3, 128, 4, 1, 1, 40, 33, false, 0.0f);
    attention_case(f, TQ_TYPE_TURBO3, TQ_TYPE_TURBO3, 128, 8, 2, 4, 16, 12, true, 0.0f);
    attention_case(f, TQ_TYPE_TURBO4, TQ_TYPE_Q4_0, 64, 2, 2, 3, 8, 8, true, 30.0f);
    attention_case(f, TQ_TYPE_F16, TQ_TYPE_TURBO2, 256, 4, 4, 1, 9, 5, false, 0.0f);
}

/* Dequantize into a view in the middle of a larger tensor: the guard bytes around it
 * are untouched, and the values equal tq_ref_dequantize_row. */
static void test_dequantize_into_guarded_view(void **state)
{
    fx *f = *state;
    const int64_t d = 64, n = 3;   /* turbo4, padded to 128 on dequantize */
    float x[64 * 3];
    fill(x, 64 * 3, 7);
    tq_tensor *src = rt_tensor(f->c, TQ_TYPE_F32, d, 1, n, 1, TQ_MEM_IO);
    tq_tensor *cache = rt_tensor(f->c, TQ_TYPE_TURBO4, d, n, 1, 1, TQ_MEM_KV);
    tq_tensor *big = rt_tensor(f->c, TQ_TYPE_F32, 128, n + 2, 1, 1, TQ_MEM_IO);
    tq_tensor *view = NULL;
    const int64_t ne[4] = { 128, n, 1, 1 };
    RT_OK(tq_tensor_view_create(big, 512, TQ_TYPE_F32, ne, &view));
    unsigned char guard[512 * 5];
    memset(guard, 0xA5, sizeof guard);
    RT_OK(tq_tensor_write(big, 0, guard, sizeof guard));

    int64_t rows[3] = { 2, 0, 1 };
    RT_OK(tq_sequence_record_write(f->s, src, 0, x, sizeof x));
    tq_quantize_params qp = { src, cache, rows, n };
    RT_OK(tq_sequence_record_quantize(f->s, &qp));
    tq_dequantize_params dp = { cache, view, TQ_DEQUANTIZE_INVERSE_ROTATION };
    RT_OK(tq_sequence_record_dequantize(f->s, &dp));
    run(f);

    unsigned char got[512 * 5];
    RT_OK(tq_tensor_read(big, 0, got, sizeof got));
    assert_memory_equal(got, guard, 512);                    /* before the view */
    assert_memory_equal(got + 512 * 4, guard + 512 * 4, 512); /* after it */
    for (int64_t t = 0; t < n; t++) {
        unsigned char blk[66];
        float want[128];
        RT_OK(tq_ref_quantize_row(TQ_TYPE_TURBO4, x + t * d, d, blk));
        RT_OK(tq_ref_dequantize_row(TQ_TYPE_TURBO4, blk, d, want, true));
        assert_memory_equal(got + 512 * (1 + rows[t]), want, sizeof want);
    }
    tq_op_timing tm;
    RT_OK(tq_sequence_timing(f->s, 2, &tm));
    assert_string_equal(tm.op, "dequantize");
    assert_int_equal(tm.bytes_read, 66 * n);
    assert_int_equal(tm.bytes_written, 512 * n);
    RT_OK(tq_sequence_reset(f->s));
    tq_tensor_destroy(view);
    tq_tensor_destroy(big);
    tq_tensor_destroy(cache);
    tq_tensor_destroy(src);
}

static void test_rotate_in_place_round_trip(void **state)
{
    fx *f = *state;
    float x[256], y[256], want[256];
    fill(x, 256, 11);
    tq_tensor *t = rt_tensor(f->c, TQ_TYPE_F32, 256, 1, 1, 1, TQ_MEM_IO);
    tq_tensor *u = rt_tensor(f->c, TQ_TYPE_F32, 256, 1, 1, 1, TQ_MEM_IO);
    RT_OK(tq_sequence_record_write(f->s, t, 0, x, sizeof x));
    tq_rotate_params fwd = { t, u, false }, inv = { u, u, true };
    RT_OK(tq_sequence_record_rotate(f->s, &fwd));
    RT_OK(tq_sequence_record_read(f->s, u, 0, y, sizeof y));
    run(f);
    memcpy(want, x, sizeof x);
    tq_ref_rotate_forward(want);
    tq_ref_rotate_forward(want + 128);
    assert_memory_equal(y, want, sizeof y);

    /* write, forward in place, inverse in place, read: the identity, also on replay */
    RT_OK(tq_sequence_reset(f->s));
    tq_rotate_params fwd_in_place = { u, u, false };
    RT_OK(tq_sequence_record_write(f->s, u, 0, x, sizeof x));
    RT_OK(tq_sequence_record_rotate(f->s, &fwd_in_place));
    RT_OK(tq_sequence_record_rotate(f->s, &inv));
    RT_OK(tq_sequence_record_read(f->s, u, 0, y, sizeof y));
    for (int rep = 0; rep < 2; rep++) {
        memset(y, 0, sizeof y);
        run(f);
        for (int i = 0; i < 256; i++)
            assert_true(fabsf(y[i] - x[i]) <= 1e-6f);
    }
    RT_OK(tq_sequence_reset(f->s));
    tq_tensor_destroy(t);
    tq_tensor_destroy(u);
}

/* record_write copies at record time: the caller's buffer may change right after. */
static void test_record_write_copies(void **state)
{
    fx *f = *state;
    float x[128], y[128], orig[128];
    fill(x, 128, 5);
    memcpy(orig, x, sizeof x);
    tq_tensor *t = rt_tensor(f->c, TQ_TYPE_F32, 128, 1, 1, 1, TQ_MEM_IO);
    RT_OK(tq_sequence_record_write(f->s, t, 0, x, sizeof x));
    memset(x, 0, sizeof x);
    RT_OK(tq_sequence_record_read(f->s, t, 0, y, sizeof y));
    run(f);
    assert_memory_equal(y, orig, sizeof y);
    RT_OK(tq_sequence_reset(f->s));
    tq_tensor_destroy(t);
}

/* A block format cannot store NaN: the reference refuses at submit, with a message. */
static void test_nan_into_block_format_is_an_error(void **state)
{
    fx *f = *state;
    float x[32];
    fill(x, 32, 9);
    x[3] = NAN;
    tq_tensor *src = rt_tensor(f->c, TQ_TYPE_F32, 32, 1, 1, 1, TQ_MEM_IO);
    tq_tensor *dst = rt_tensor(f->c, TQ_TYPE_Q8_0, 32, 4, 1, 1, TQ_MEM_KV);
    int64_t row = 1;
    tq_quantize_params p = { src, dst, &row, 1 };
    RT_OK(tq_sequence_record_write(f->s, src, 0, x, sizeof x));
    RT_OK(tq_sequence_record_quantize(f->s, &p));
    RT_EXPECT(tq_sequence_submit(f->s), TQ_CODE_INVALID_ARGUMENT, "NaN");
    RT_OK(tq_sequence_reset(f->s));
    tq_tensor_destroy(src);
    tq_tensor_destroy(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attention_matches_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dequantize_into_guarded_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_in_place_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_write_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nan_into_block_format_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
