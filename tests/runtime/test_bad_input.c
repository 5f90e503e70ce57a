/*
 * test_bad_input.c: every entry point given NULLs, wrong shapes, type mismatches, rows
 * out of range, sizes that are not multiples of the block, views out of range and
 * tensors of another context returns a status with the right code and a message that
 * names the problem, and never crashes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_test_util.h"

typedef struct fx {
    tq_runtime *rt;
    tq_backend *ref;
    tq_context *c, *c2;
    tq_sequence *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->rt = rt_open_ref(&f->ref);
    f->c = rt_ref_context(f->ref);
    f->c2 = rt_ref_context(f->ref);
    RT_OK(tq_sequence_create(f->c, &f->s));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tq_sequence_destroy(f->s);
    tq_context_destroy(f->c);
    tq_context_destroy(f->c2);
    tq_runtime_destroy(f->rt);
    free(f);
    return 0;
}

static void test_null_handles_everywhere(void **state)
{
    fx *f = *state;
    tq_tensor *t = NULL;
    const int64_t ne[4] = { 128, 1, 1, 1 };
    int64_t shape[4];
    RT_EXPECT(tq_runtime_backend_find(NULL, "ref", &f->ref), TQ_CODE_INVALID_ARGUMENT, "runtime");
    RT_EXPECT(tq_runtime_backend_find(f->rt, NULL, &f->ref), TQ_CODE_INVALID_ARGUMENT, "name");
    RT_EXPECT(tq_backend_device_info(NULL, 0, NULL), TQ_CODE_INVALID_ARGUMENT, "backend");
    RT_EXPECT(tq_backend_device_find(f->ref, "0", NULL), TQ_CODE_INVALID_ARGUMENT, "out_device");
    RT_EXPECT(tq_tensor_create(NULL, TQ_TYPE_F32, ne, TQ_MEM_IO, &t), TQ_CODE_INVALID_ARGUMENT,
              "context");
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_F32, NULL, TQ_MEM_IO, &t), TQ_CODE_INVALID_ARGUMENT,
              "ne is NULL");
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_F32, ne, TQ_MEM_IO, NULL), TQ_CODE_INVALID_ARGUMENT,
              "out_tensor");
    RT_EXPECT(tq_tensor_view_create(NULL, 0, TQ_TYPE_F32, ne, &t), TQ_CODE_INVALID_ARGUMENT,
              "parent");
    RT_EXPECT(tq_tensor_write(NULL, 0, "x", 1), TQ_CODE_INVALID_ARGUMENT, "NULL");
    RT_EXPECT(tq_tensor_read(NULL, 0, shape, 1), TQ_CODE_INVALID_ARGUMENT, "NULL");
    RT_EXPECT(tq_sequence_create(NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "context");
    RT_EXPECT(tq_sequence_create(f->c, NULL), TQ_CODE_INVALID_ARGUMENT, "out_sequence");
    RT_EXPECT(tq_sequence_record_write(NULL, NULL, 0, NULL, 0), TQ_CODE_INVALID_ARGUMENT,
              "sequence is NULL");
    RT_EXPECT(tq_sequence_record_write(f->s, NULL, 0, "x", 1), TQ_CODE_INVALID_ARGUMENT,
              "tensor is NULL");
    RT_EXPECT(tq_sequence_record_read(f->s, NULL, 0, shape, 1), TQ_CODE_INVALID_ARGUMENT,
              "tensor is NULL");
    RT_EXPECT(tq_sequence_record_quantize(f->s, NULL), TQ_CODE_INVALID_ARGUMENT, "params is NULL");
    RT_EXPECT(tq_sequence_record_dequantize(f->s, NULL), TQ_CODE_INVALID_ARGUMENT,
              "params is NULL");
    RT_EXPECT(tq_sequence_record_rotate(f->s, NULL), TQ_CODE_INVALID_ARGUMENT, "params is NULL");
    RT_EXPECT(tq_sequence_record_attention(f->s, NULL), TQ_CODE_INVALID_ARGUMENT,
              "params is NULL");
    RT_EXPECT(tq_sequence_submit(NULL), TQ_CODE_INVALID_ARGUMENT, "NULL");
    RT_EXPECT(tq_sequence_wait(NULL, 0), TQ_CODE_INVALID_ARGUMENT, "NULL");
    RT_EXPECT(tq_sequence_reset(NULL), TQ_CODE_INVALID_ARGUMENT, "NULL");
    RT_EXPECT(tq_sequence_timing(NULL, 0, NULL), TQ_CODE_INVALID_ARGUMENT, "NULL");
    RT_EXPECT(tq_context_memory(NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "context");
    RT_EXPECT(tq_context_memory(f->c, NULL), TQ_CODE_INVALID_ARGUMENT, "out_stats");
    RT_EXPECT(tq_context_supports_quantize(NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "context");
    RT_EXPECT(tq_context_supports_attention(f->c, NULL), TQ_CODE_INVALID_ARGUMENT, "params");
    RT_EXPECT(tq_kv_cache_predict(NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "desc");
    RT_EXPECT(tq_kv_cache_create(f->c, NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "desc");
    RT_EXPECT(tq_kv_cache_layer(NULL, 0, &t, &t), TQ_CODE_INVALID_ARGUMENT, "cache is NULL");

    /* Getters and destroys accept NULL. */
    tq_tensor_shape(NULL, shape);
    assert_int_equal(shape[0], 0);
    assert_int_equal(tq_tensor_nbytes(NULL), 0);
    assert_int_equal(tq_tensor_row_bytes(NULL), 0);
    assert_int_equal(tq_sequence_op_count(NULL), 0);
    assert_null(tq_context_backend(NULL));
    assert_string_equal(tq_backend_name(NULL), "");
    assert_int_equal(tq_runtime_backend_count(NULL), 0);
    tq_tensor_destroy(NULL);
    tq_sequence_destroy(NULL);
    tq_context_destroy(NULL);
    tq_kv_cache_destroy(NULL);
    tq_runtime_destroy(NULL);
    tq_context_memory_reset_peak(NULL);
}

static void test_tensor_create_bad_shapes(void **state)
{
    fx *f = *state;
    tq_tensor *t = NULL;
    const int64_t q8_48[4] = { 48, 4, 1, 1 };
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_Q8_0, q8_48, TQ_MEM_KV, &t), TQ_CODE_INVALID_ARGUMENT,
              "ne[0] = 48", "q8_0", "multiple of 32");
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_Q4_0, q8_48, TQ_MEM_KV, &t), TQ_CODE_INVALID_ARGUMENT,
              "q4_0");
    const int64_t zero[4] = { 128, 0, 1, 1 }, neg[4] = { -5, 1, 1, 1 };
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_F32, zero, TQ_MEM_IO, &t), TQ_CODE_INVALID_ARGUMENT,
              "ne[1] = 0");
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_F32, neg, TQ_MEM_IO, &t), TQ_CODE_INVALID_ARGUMENT,
              "ne[0] = -5");
    const int64_t huge[4] = { 1 << 20, INT64_MAX / 2, 4, 1 };
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_F32, huge, TQ_MEM_IO, &t), TQ_CODE_INVALID_ARGUMENT,
              "overflows");
    const int64_t ok[4] = { 128, 1, 1, 1 };
    RT_EXPECT(tq_tensor_create(f->c, (tq_type)17, ok, TQ_MEM_IO, &t), TQ_CODE_INVALID_ARGUMENT,
              "type 17");
    RT_EXPECT(tq_tensor_create(f->c, TQ_TYPE_F32, ok, (tq_mem_class)9, &t),
              TQ_CODE_INVALID_ARGUMENT, "memory class 9");
    assert_null(t);
    /* turbo accepts any positive d (padded to 128) */
    const int64_t d64[4] = { 64, 3, 1, 1 };
    RT_OK(tq_tensor_create(f->c, TQ_TYPE_TURBO3, d64, TQ_MEM_KV, &t));
    assert_int_equal(tq_tensor_row_bytes(t), 50);
    assert_int_equal(tq_tensor_nbytes(t), 150);
    tq_tensor_destroy(t);
}

static void test_views_and_copies_out_of_range(void **state)
{
    fx *f = *state;
    tq_tensor *t = rt_tensor(f->c, TQ_TYPE_F32, 128, 2, 1, 1, TQ_MEM_IO);   /* 1024 bytes */
    tq_tensor *v = NULL;
    const int64_t ne[4] = { 128, 1, 1, 1 };
    RT_EXPECT(tq_tensor_view_create(t, 2, TQ_TYPE_F32, ne, &v), TQ_CODE_INVALID_ARGUMENT,
              "offset 2", "multiple of 4");
    RT_EXPECT(tq_tensor_view_create(t, 516, TQ_TYPE_F32, ne, &v), TQ_CODE_OUT_OF_RANGE,
              "offset 516", "1024");
    RT_EXPECT(tq_tensor_view_create(t, UINT64_MAX - 3, TQ_TYPE_F32, ne, &v), TQ_CODE_OUT_OF_RANGE,
              "do not fit");
    RT_OK(tq_tensor_view_create(t, 512, TQ_TYPE_F32, ne, &v));
    char buf[2048] = { 0 };
    RT_EXPECT(tq_tensor_write(t, 1000, buf, 100), TQ_CODE_OUT_OF_RANGE, "offset 1000");
    RT_EXPECT(tq_tensor_read(v, 0, buf, 513), TQ_CODE_OUT_OF_RANGE, "512 bytes");
    RT_EXPECT(tq_tensor_write(t, UINT64_MAX, buf, 2), TQ_CODE_OUT_OF_RANGE, "exceed");
    RT_EXPECT(tq_tensor_write(t, 0, NULL, 4), TQ_CODE_INVALID_ARGUMENT, "NULL");
    RT_EXPECT(tq_sequence_record_write(f->s, v, 4, buf, 512), TQ_CODE_OUT_OF_RANGE, "offset 4");
    RT_EXPECT(tq_sequence_record_read(f->s, t, 0, buf, 0), TQ_CODE_INVALID_ARGUMENT, "size is 0");
    RT_EXPECT(tq_sequence_record_read(f->s, t, 0, NULL, 4), TQ_CODE_INVALID_ARGUMENT, "NULL");
    assert_int_equal(tq_sequence_op_count(f->s), 0);
    tq_tensor_destroy(v);
    tq_tensor_destroy(t);
}

static void test_quantize_bad_params(void **state)
{
    fx *f = *state;
    /* src [d=128, n_kv_head=2, n_tok=3, n_seq=1], dst [128, n_ctx=16, 2, 1] */
    tq_tensor *src = rt_tensor(f->c, TQ_TYPE_F32, 128, 2, 3, 1, TQ_MEM_IO);
    tq_tensor *dst = rt_tensor(f->c, TQ_TYPE_TURBO3, 128, 16, 2, 1, TQ_MEM_KV);
    tq_tensor *q8src = rt_tensor(f->c, TQ_TYPE_Q8_0, 128, 2, 3, 1, TQ_MEM_IO);
    tq_tensor *wrongh = rt_tensor(f->c, TQ_TYPE_F32, 128, 3, 3, 1, TQ_MEM_IO);
    tq_tensor *wrongd = rt_tensor(f->c, TQ_TYPE_F32, 256, 2, 3, 1, TQ_MEM_IO);
    tq_tensor *other = rt_tensor(f->c2, TQ_TYPE_TURBO3, 128, 16, 2, 1, TQ_MEM_KV);
    int64_t rows[3] = { 0, 5, 15 };
    tq_quantize_params p = { src, dst, rows, 3 };
    RT_OK(tq_sequence_record_quantize(f->s, &p));
    RT_OK(tq_context_supports_quantize(f->c, &p));

    p.n_rows = 2;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "n_rows = 2");
    p.n_rows = 3;
    rows[1] = 16;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_OUT_OF_RANGE, "rows[1] = 16",
              "token 1", "n_ctx = 16");
    rows[1] = -1;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_OUT_OF_RANGE, "rows[1] = -1");
    RT_EXPECT(tq_context_supports_quantize(f->c, &p), TQ_CODE_OUT_OF_RANGE, "rows[1]");
    rows[1] = 5;
    p.rows = NULL;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "rows is NULL");
    p.rows = rows;
    p.src = q8src;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "q8_0",
              "f32 or f16");
    p.src = wrongh;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "n_kv_head");
    p.src = wrongd;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "d = 256");
    p.src = src;
    p.dst = other;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "another context");
    p.dst = NULL;
    RT_EXPECT(tq_sequence_record_quantize(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "dst is NULL");
    assert_int_equal(tq_sequence_op_count(f->s), 1);   /* only the good one was recorded */
    RT_OK(tq_sequence_reset(f->s));
    tq_tensor_destroy(src);
    tq_tensor_destroy(dst);
    tq_tensor_destroy(q8src);
    tq_tensor_destroy(wrongh);
    tq_tensor_destroy(wrongd);
    tq_tensor_destroy(other);
}

static void test_dequantize_and_rotate_bad_params(void **state)
{
    fx *f = *state;
    tq_tensor *k = rt_tensor(f->c, TQ_TYPE_TURBO4, 64, 8, 1, 1, TQ_MEM_KV);
    tq_tensor *out128 = rt_tensor(f->c, TQ_TYPE_F32, 128, 8, 1, 1, TQ_MEM_IO);
    tq_tensor *out64 = rt_tensor(f->c, TQ_TYPE_F32, 64, 8, 1, 1, TQ_MEM_IO);
    tq_tensor *out_f16 = rt_tensor(f->c, TQ_TYPE_F16, 128, 8, 1, 1, TQ_MEM_IO);
    tq_tensor *rows7 = rt_tensor(f->c, TQ_TYPE_F32, 128, 7, 1, 1, TQ_MEM_IO);
    tq_dequantize_params dp = { k, out128, TQ_DEQUANTIZE_INVERSE_ROTATION };
    RT_OK(tq_sequence_record_dequantize(f->s, &dp));
    dp.dst = out64;   /* turbo rows keep their padding */
    RT_EXPECT(tq_sequence_record_dequantize(f->s, &dp), TQ_CODE_INVALID_ARGUMENT,
              "ne[0] = 64", "128 floats");
    dp.dst = out_f16;
    RT_EXPECT(tq_sequence_record_dequantize(f->s, &dp), TQ_CODE_INVALID_ARGUMENT, "f16",
              "must be f32");
    dp.dst = rows7;
    RT_EXPECT(tq_sequence_record_dequantize(f->s, &dp), TQ_CODE_INVALID_ARGUMENT, "ne[1]");
    dp.dst = out128;
    dp.flags = 0x80;
    RT_EXPECT(tq_sequence_record_dequantize(f->s, &dp), TQ_CODE_INVALID_ARGUMENT, "flags 0x80");

    tq_rotate_params rp = { out128, out128, true };   /* in place is fine */
    RT_OK(tq_sequence_record_rotate(f->s, &rp));
    rp.src = out64;
    rp.dst = out64;
    RT_EXPECT(tq_sequence_record_rotate(f->s, &rp), TQ_CODE_INVALID_ARGUMENT, "ne[0] = 64",
              "128");
    rp.src = out128;
    rp.dst = rows7;
    RT_EXPECT(tq_sequence_record_rotate(f->s, &rp), TQ_CODE_INVALID_ARGUMENT, "shapes differ");
    rp.src = k;
    rp.dst = out128;
    RT_EXPECT(tq_sequence_record_rotate(f->s, &rp), TQ_CODE_INVALID_ARGUMENT, "turbo4");
    assert_int_equal(tq_sequence_op_count(f->s), 2);
    RT_OK(tq_sequence_reset(f->s));
    tq_tensor_destroy(k);
    tq_tensor_destroy(out128);
    tq_tensor_destroy(out64);
    tq_tensor_destroy(out_f16);
    tq_tensor_destroy(rows7);
}

static void test_attention_bad_params(void **state)
{
    fx *f = *state;
    /* q [d=128, n_head=4, n_q=2, n_seq=1]; k/v [128, n_ctx=32, n_kv_head=2, 1] */
    tq_tensor *q = rt_tensor(f->c, TQ_TYPE_F32, 128, 4, 2, 1, TQ_MEM_IO);
    tq_tensor *o = rt_tensor(f->c, TQ_TYPE_F32, 128, 4, 2, 1, TQ_MEM_IO);
    tq_tensor *k = rt_tensor(f->c, TQ_TYPE_Q8_0, 128, 32, 2, 1, TQ_MEM_KV);
    tq_tensor *v = rt_tensor(f->c, TQ_TYPE_TURBO3, 128, 32, 2, 1, TQ_MEM_KV);
    tq_tensor *v_short = rt_tensor(f->c, TQ_TYPE_TURBO3, 128, 16, 2, 1, TQ_MEM_KV);
    tq_tensor *k3 = rt_tensor(f->c, TQ_TYPE_Q8_0, 128, 32, 3, 1, TQ_MEM_KV);
    tq_tensor *v3 = rt_tensor(f->c, TQ_TYPE_Q8_0, 128, 32, 3, 1, TQ_MEM_KV);
    tq_tensor *q64 = rt_tensor(f->c, TQ_TYPE_F32, 64, 4, 2, 1, TQ_MEM_IO);
    tq_tensor *o64 = rt_tensor(f->c, TQ_TYPE_F32, 64, 4, 2, 1, TQ_MEM_IO);
    tq_tensor *o_f16 = rt_tensor(f->c, TQ_TYPE_F16, 128, 4, 2, 1, TQ_MEM_IO);
    tq_tensor *k_other = rt_tensor(f->c2, TQ_TYPE_Q8_0, 128, 32, 2, 1, TQ_MEM_KV);

    tq_attention_params good = { .q = q, .k = k, .v = v, .out = o, .n_kv = 10, .causal = true,
                                 .q_pos0 = 8 };
    tq_attention_params p = good;
    RT_OK(tq_sequence_record_attention(f->s, &p));
    RT_OK(tq_context_supports_attention(f->c, &p));

    p.q_pos0 = 9;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_OUT_OF_RANGE, "q_pos0 = 9");
    p.q_pos0 = -1;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_OUT_OF_RANGE, "q_pos0 = -1");
    p = good;
    p.n_kv = 0;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_OUT_OF_RANGE, "n_kv = 0");
    p.n_kv = 33;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_OUT_OF_RANGE, "n_kv = 33",
              "n_ctx = 32");
    p = good;
    p.v = v_short;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT,
              "k and v shapes differ");
    p = good;
    p.k = k3;
    p.v = v3;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT,
              "n_head = 4", "n_kv_head = 3");
    p = good;
    p.q = q64;
    p.out = o64;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "head size");
    p = good;
    p.out = o64;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "q and out shapes");
    p = good;
    p.out = o_f16;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "must be f32");
    p = good;
    p.out = q;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "same tensor");
    p = good;
    p.scale = NAN;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "scale");
    p.scale = INFINITY;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "scale");
    p = good;
    p.softcap = -1.0f;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "softcap");
    p.softcap = INFINITY;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "softcap");
    p = good;
    p.k = k_other;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "attention: k",
              "another context");
    p = good;
    p.v = NULL;
    RT_EXPECT(tq_sequence_record_attention(f->s, &p), TQ_CODE_INVALID_ARGUMENT, "v is NULL");
    RT_EXPECT(tq_context_supports_attention(f->c, &p), TQ_CODE_INVALID_ARGUMENT, "v is NULL");
    /* non-causal ignores q_pos0 */
    p = good;
    p.causal = false;
    p.q_pos0 = -100;
    RT_OK(tq_sequence_record_attention(f->s, &p));
    assert_int_equal(tq_sequence_op_count(f->s), 2);
    RT_OK(tq_sequence_reset(f->s));

    tq_tensor *all[] = { q, o, k, v, v_short, k3, v3, q64, o64, o_f16, k_other };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tq_tensor_destroy(all[i]);
}

static void test_sequence_state_misuse(void **state)
{
    fx *f = *state;
    tq_tensor *t = rt_tensor(f->c, TQ_TYPE_F32, 128, 1, 1, 1, TQ_MEM_IO);
    float x[128] = { 1 }, y[128];
    tq_op_timing tm;
    RT_EXPECT(tq_sequence_timing(f->s, 0, &tm), TQ_CODE_INVALID_ARGUMENT, "no submission");
    RT_OK(tq_sequence_record_write(f->s, t, 0, x, sizeof x));
    RT_OK(tq_sequence_record_read(f->s, t, 0, y, sizeof y));
    RT_OK(tq_sequence_submit(f->s));
    RT_EXPECT(tq_sequence_submit(f->s), TQ_CODE_INVALID_ARGUMENT, "already submitted");
    RT_EXPECT(tq_sequence_record_read(f->s, t, 0, y, 4), TQ_CODE_INVALID_ARGUMENT, "wait");
    RT_EXPECT(tq_sequence_reset(f->s), TQ_CODE_INVALID_ARGUMENT, "wait");
    RT_EXPECT(tq_sequence_timing(f->s, 0, &tm), TQ_CODE_INVALID_ARGUMENT, "wait");
    RT_OK(tq_sequence_wait(f->s, UINT64_MAX));
    RT_OK(tq_sequence_wait(f->s, UINT64_MAX));   /* nothing in flight: fine */
    RT_EXPECT(tq_sequence_timing(f->s, 2, &tm), TQ_CODE_OUT_OF_RANGE, "op 2");
    RT_EXPECT(tq_sequence_timing(f->s, 0, NULL), TQ_CODE_INVALID_ARGUMENT, "out is NULL");
    RT_OK(tq_sequence_reset(f->s));
    tq_tensor_destroy(t);
}

static void test_kv_cache_bad_desc(void **state)
{
    fx *f = *state;
    tq_kv_cache_desc d = { .n_layer = 2, .n_kv_head = 2, .head_dim = 48, .n_ctx = 16,
                           .n_seq = 1, .type_k = TQ_TYPE_Q8_0, .type_v = TQ_TYPE_TURBO3 };
    tq_kv_cache_size sz;
    tq_kv_cache *kv = NULL;
    RT_EXPECT(tq_kv_cache_predict(&d, &sz), TQ_CODE_INVALID_ARGUMENT, "head_dim 48", "q8_0");
    RT_EXPECT(tq_kv_cache_create(f->c, &d, &kv), TQ_CODE_INVALID_ARGUMENT, "head_dim 48");
    assert_null(kv);
    d.head_dim = 128;
    d.n_ctx = 0;
    RT_EXPECT(tq_kv_cache_predict(&d, &sz), TQ_CODE_INVALID_ARGUMENT, "n_ctx (0)");
    d.n_ctx = 16;
    d.type_v = (tq_type)99;
    RT_EXPECT(tq_kv_cache_predict(&d, &sz), TQ_CODE_INVALID_ARGUMENT, "V type 99");
    d.type_v = TQ_TYPE_F32;
    d.n_layer = UINT32_MAX;
    d.n_ctx = UINT32_MAX;
    d.n_kv_head = UINT32_MAX;
    RT_EXPECT(tq_kv_cache_predict(&d, &sz), TQ_CODE_INVALID_ARGUMENT, "overflows");
    d.n_layer = 2;
    d.n_ctx = 16;
    d.n_kv_head = 2;
    RT_OK(tq_kv_cache_create(f->c, &d, &kv));
    tq_tensor *k = NULL;
    RT_EXPECT(tq_kv_cache_layer(kv, 2, &k, NULL), TQ_CODE_OUT_OF_RANGE, "layer 2");
    RT_EXPECT(tq_kv_cache_layer(kv, 0, NULL, NULL), TQ_CODE_INVALID_ARGUMENT, "both NULL");
    tq_kv_cache_destroy(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null_handles_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tensor_create_bad_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views_and_copies_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quantize_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dequantize_and_rotate_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attention_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_state_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_cache_bad_desc, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
