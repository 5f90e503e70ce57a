/*
 * test_opencl_ops.c: quantize (set_rows), dequantize and rotate on the OpenCL device
 * (PoCL in CI) against the scalar reference, with the project's comparison rules:
 * quantize identical bytes (index flips only within 1e-6 of a decision boundary, scales
 * within 1 fp16 ulp), dequantize bit-exact, rotate within 1e-5 relative.
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

static const tq_type all_types[TQ_TYPE_COUNT] = {
    TQ_TYPE_F32, TQ_TYPE_F16, TQ_TYPE_Q8_0, TQ_TYPE_Q4_0,
    TQ_TYPE_TURBO2, TQ_TYPE_TURBO3, TQ_TYPE_TURBO4,
};

/* Source rows with the awkward cases mixed in: a zero row, a row with one huge value,
 * ties in magnitude (q4_0's first-wins rule), and plain Gaussian rows. */
static void fill_rows(float *x, int64_t d, int64_t n_rows, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t r = 0; r < n_rows; r++) {
        float *row = x + r * d;
        for (int64_t j = 0; j < d; j++)
            row[j] = hx_rand_normal(&s) * (r % 3 == 2 ? 0.01f : 1.0f);
        if (r == 1)
            memset(row, 0, (size_t)d * sizeof(float));
        if (r == 3) {
            row[5] = 40.0f;
            row[9] = -40.0f;
        }
    }
}

static void check_quantize(tq_type dst_type, tq_type src_type, int64_t d, uint64_t dst_offset)
{
    const int64_t n_kv_head = 2, n_tokens = 3, n_seq = 2, n_ctx = 7;
    const int64_t n_src = n_kv_head * n_tokens * n_seq;
    float *x = malloc((size_t)(n_src * d) * sizeof(float));
    fill_rows(x, d, n_src, 1234 + (uint64_t)d + 17u * dst_type);
    /* F16 sources: the reference sees what the device sees. */
    uint16_t *xh = malloc((size_t)(n_src * d) * sizeof(uint16_t));
    for (int64_t i = 0; i < n_src * d; i++) {
        xh[i] = tq_ref_fp32_to_fp16(x[i]);
        if (src_type == TQ_TYPE_F16)
            x[i] = tq_ref_fp16_to_fp32(xh[i]);
    }
    int64_t rows[6];
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t t = 0; t < n_tokens; t++)
            rows[s * n_tokens + t] = (t * 3 + s * 2 + 1) % n_ctx;

    hx_tensor src, dst;
    hx_tensor_new(&H, &src, src_type, d, n_kv_head, n_tokens, n_seq);
    hx_tensor_new_at(&H, &dst, dst_type, d, n_ctx, n_kv_head, n_seq, dst_offset);
    hx_upload(&H, &src, src_type == TQ_TYPE_F32 ? (const void *)x : (const void *)xh);

    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_QUANTIZE;
    op.src = src.ref;
    op.dst = dst.ref;
    op.rows = rows;
    op.n_rows = n_tokens * n_seq;
    tq_plugin_timing tm = hx_run(&H, &op);
    assert_string_equal(tm.op, "quantize");
    assert_true(tm.variant[0] != '\0');

    uint8_t *got = malloc(dst.bytes), *want = calloc(1, dst.bytes);
    hx_download(&H, &dst, got);
    const uint64_t rb = dst.ref.nb[1];
    for (int64_t s = 0; s < n_seq; s++)
        for (int64_t t = 0; t < n_tokens; t++)
            for (int64_t h = 0; h < n_kv_head; h++) {
                const float *xr = x + ((s * n_tokens + t) * n_kv_head + h) * d;
                int64_t drow = rows[s * n_tokens + t] + n_ctx * (h + n_kv_head * s);
                tq_status st = tq_ref_quantize_row(dst_type, xr, d, want + drow * rb);
                assert_null(st);
            }
    int bad = 0;
    for (int64_t r = 0; r < n_ctx * n_kv_head * n_seq; r++) {
        int64_t t_src = -1;
        /* which source row landed here (for the boundary rule); untouched rows must be 0 */
        for (int64_t s = 0; s < n_seq && t_src < 0; s++)
            for (int64_t t = 0; t < n_tokens && t_src < 0; t++)
                for (int64_t h = 0; h < n_kv_head; h++)
                    if (rows[s * n_tokens + t] + n_ctx * (h + n_kv_head * s) == r) {
                        t_src = (s * n_tokens + t) * n_kv_head + h;
                        break;
                    }
        if (t_src < 0) {
            for (uint64_t b = 0; b < rb; b++)
                if (got[r * rb + b] != 0) {
                    bad++;
                    break;
                }
            continue;
        }
        bad += hx_check_quantize(dst_type, x + t_src * d, d, got + r * rb, want + r * rb);
    }
    if (bad)
        fprintf(stderr, "quantize %s <- %s, d=%lld: %d violations\n", tq_type_name(dst_type),
                tq_type_name(src_type), (long long)d, bad);
    assert_int_equal(bad, 0);
    free(got);
    free(want);
    free(x);
    free(xh);
    hx_tensor_free(&H, &src);
    hx_tensor_free(&H, &dst);
}

static void test_quantize_every_type_from_f32(void **state)
{
    (void)state;
    for (int i = 0; i < TQ_TYPE_COUNT; i++)
        for (int64_t d = 64; d <= 256; d *= 2)
            check_quantize(all_types[i], TQ_TYPE_F32, d, 0);
}

static void test_quantize_every_type_from_f16(void **state)
{
    (void)state;
    for (int i = 0; i < TQ_TYPE_COUNT; i++)
        check_quantize(all_types[i], TQ_TYPE_F16, 128, 0);
}

/* Views start at any multiple of 4: blocks (50-byte turbo3 rows) are then only 2-byte
 * aligned, which the kernels must handle without wider loads. */
static void test_quantize_into_offset_view(void **state)
{
    (void)state;
    for (int i = 0; i < TQ_TYPE_COUNT; i++)
        check_quantize(all_types[i], TQ_TYPE_F32, 128, 4);
}

/* Turbo rows whose length is not a multiple of 128 are zero-padded. */
static void test_quantize_turbo_padded_row(void **state)
{
    (void)state;
    check_quantize(TQ_TYPE_TURBO3, TQ_TYPE_F32, 96, 0);
    check_quantize(TQ_TYPE_TURBO4, TQ_TYPE_F32, 200, 0);
}

static void check_dequantize(tq_type type, int64_t d, bool inverse)
{
    const int64_t n_ctx = 5, n_kv_head = 2;
    const int64_t n_rows = n_ctx * n_kv_head;
    float *x = malloc((size_t)(n_rows * d) * sizeof(float));
    fill_rows(x, d, n_rows, 99 + (uint64_t)type);
    hx_tensor src, dst;
    hx_tensor_new_at(&H, &src, type, d, n_ctx, n_kv_head, 1, 4);
    const int64_t pd = tq_type_padded_elems(type, d);
    hx_tensor_new(&H, &dst, TQ_TYPE_F32, pd, n_ctx, n_kv_head, 1);
    uint8_t *q = calloc(1, src.bytes);
    const uint64_t rb = src.ref.nb[1];
    for (int64_t r = 0; r < n_rows; r++)
        assert_null(tq_ref_quantize_row(type, x + r * d, d, q + r * rb));
    hx_upload(&H, &src, q);

    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_DEQUANTIZE;
    op.src = src.ref;
    op.dst = dst.ref;
    op.flags = inverse ? TQ_DEQUANTIZE_INVERSE_ROTATION : 0;
    tq_plugin_timing tm = hx_run(&H, &op);
    assert_string_equal(tm.op, "dequantize");

    float *got = malloc(dst.bytes), *want = malloc(dst.bytes);
    hx_download(&H, &dst, got);
    for (int64_t r = 0; r < n_rows; r++)
        assert_null(tq_ref_dequantize_row(type, q + r * rb, d, want + r * pd, inverse));
    int bad = 0;
    for (int64_t i = 0; i < n_rows * pd; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
            if (!bad)
                fprintf(stderr, "dequantize %s d=%lld inv=%d: element %lld is %.9g, reference %.9g\n",
                        tq_type_name(type), (long long)d, inverse, (long long)i, (double)got[i],
                        (double)want[i]);
            bad++;
        }
    assert_int_equal(bad, 0);
    free(x);
    free(q);
    free(got);
    free(want);
    hx_tensor_free(&H, &src);
    hx_tensor_free(&H, &dst);
}

static void test_dequantize_bit_exact(void **state)
{
    (void)state;
    for (int i = 0; i < TQ_TYPE_COUNT; i++) {
        check_dequantize(all_types[i], 64, false);
        check_dequantize(all_types[i], 256, false);
        if (tq_type_is_turbo(all_types[i])) {
            check_dequantize(all_types[i], 64, true);
            check_dequantize(all_types[i], 256, true);
        }
    }
}

static void check_rotate(bool inverse, bool in_place)
{
    const int64_t ne0 = 256, n_rows = 6;
    float *x = malloc((size_t)(ne0 * n_rows) * sizeof(float));
    uint64_t s = 5;
    for (int64_t i = 0; i < ne0 * n_rows; i++)
        x[i] = hx_rand_normal(&s) * 3.0f;
    hx_tensor src, dst;
    hx_tensor_new(&H, &src, TQ_TYPE_F32, ne0, n_rows, 1, 1);
    hx_upload(&H, &src, x);
    if (!in_place)
        hx_tensor_new_at(&H, &dst, TQ_TYPE_F32, ne0, n_rows, 1, 1, 8);
    tq_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = TQ_OP_ROTATE;
    op.src = src.ref;
    op.dst = in_place ? src.ref : dst.ref;
    op.inverse = inverse;
    hx_run(&H, &op);
    float *got = malloc((size_t)(ne0 * n_rows) * sizeof(float));
    hx_download(&H, in_place ? &src : &dst, got);
    double maxref = 1.0, maxerr = 0.0;
    for (int64_t g = 0; g < ne0 * n_rows; g += 128) {
        if (inverse)
            tq_ref_rotate_inverse(x + g);
        else
            tq_ref_rotate_forward(x + g);
    }
    for (int64_t i = 0; i < ne0 * n_rows; i++) {
        maxref = fmax(maxref, fabs(x[i]));
        maxerr = fmax(maxerr, fabs((double)got[i] - x[i]));
    }
    assert_true(maxerr <= 1e-5 * maxref);
    free(x);
    free(got);
    hx_tensor_free(&H, &src);
    if (!in_place)
        hx_tensor_free(&H, &dst);
}

static void test_rotate_forward_and_inverse(void **state)
{
    (void)state;
    check_rotate(false, false);
    check_rotate(true, false);
    check_rotate(false, true);
    check_rotate(true, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_every_type_from_f32),
        cmocka_unit_test(test_quantize_every_type_from_f16),
        cmocka_unit_test(test_quantize_into_offset_view),
        cmocka_unit_test(test_quantize_turbo_padded_row),
        cmocka_unit_test(test_dequantize_bit_exact),
        cmocka_unit_test(test_rotate_forward_and_inverse),
    };
    return cmocka_run_group_tests_name("opencl_ops", tests, setup, teardown);
}
