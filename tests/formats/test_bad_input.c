/*
 * test_bad_input.c: bad arguments give a status with a message, never a crash.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tq/tq_ref.h"

static float src[256];
static float dst[256];
static uint8_t raw[1024];

/* Consumes st, which must be INVALID_ARGUMENT whose message contains `mentions`. */
static void expect_invalid(tq_status st, const char *mentions)
{
    assert_non_null(st);
    assert_int_equal(tq_status_code(st), TQ_CODE_INVALID_ARGUMENT);
    const char *msg = tq_status_message(st);
    if (!strstr(msg, mentions))
        print_error("message \"%s\" does not mention \"%s\"\n", msg, mentions);
    assert_non_null(strstr(msg, mentions));
    tq_status_free(st);
}

static void test_null_pointers_are_rejected(void **state)
{
    (void)state;
    for (int t = 0; t < TQ_TYPE_COUNT; t++) {
        expect_invalid(tq_ref_quantize_row((tq_type)t, NULL, 128, raw), "src");
        expect_invalid(tq_ref_quantize_row((tq_type)t, src, 128, NULL), "dst");
        expect_invalid(tq_ref_dequantize_row((tq_type)t, NULL, 128, dst, true), "src");
        expect_invalid(tq_ref_dequantize_row((tq_type)t, raw, 128, NULL, false), "dst");
    }
    expect_invalid(tq_ref_attention(NULL), "args");
    tq_ref_rotate_forward(NULL);       /* no status to return: must simply not crash */
    tq_ref_rotate_inverse(NULL);
}

static void test_invalid_type_is_rejected(void **state)
{
    (void)state;
    expect_invalid(tq_ref_quantize_row(TQ_TYPE_COUNT, src, 128, raw), "invalid type");
    expect_invalid(tq_ref_quantize_row((tq_type)-1, src, 128, raw), "invalid type");
    expect_invalid(tq_ref_dequantize_row((tq_type)42, raw, 128, dst, false), "invalid type");
}

static void test_row_length_not_a_multiple_of_32_is_rejected_for_q8_0(void **state)
{
    (void)state;
    expect_invalid(tq_ref_quantize_row(TQ_TYPE_Q8_0, src, 48, raw), "multiple of 32");
    expect_invalid(tq_ref_quantize_row(TQ_TYPE_Q4_0, src, 33, raw), "multiple of 32");
    expect_invalid(tq_ref_dequantize_row(TQ_TYPE_Q8_0, raw, 40, dst, false), "multiple of 32");
}

static void test_empty_or_negative_rows_are_rejected(void **state)
{
    (void)state;
    expect_invalid(tq_ref_quantize_row(TQ_TYPE_TURBO3, src, 0, raw), "0 elements");
    expect_invalid(tq_ref_quantize_row(TQ_TYPE_F32, src, -5, raw), "-5 elements");
}

static void test_non_finite_input_to_block_formats_is_rejected(void **state)
{
    (void)state;
    for (int t = TQ_TYPE_Q8_0; t < TQ_TYPE_COUNT; t++) {
        memset(src, 0, sizeof src);
        src[7] = NAN;
        expect_invalid(tq_ref_quantize_row((tq_type)t, src, 128, raw), "NaN");
        src[7] = -INFINITY;
        expect_invalid(tq_ref_quantize_row((tq_type)t, src, 128, raw), "infinite");
    }
    src[7] = NAN;                      /* f32 and f16 can store it */
    assert_null(tq_ref_quantize_row(TQ_TYPE_F16, src, 128, raw));
    src[7] = 0;
}

static void test_bad_attention_arguments_are_rejected(void **state)
{
    (void)state;
    tq_ref_attention_args ok = {
        .q = src, .k = src, .v = src, .out = dst, .type_k = TQ_TYPE_F32,
        .type_v = TQ_TYPE_F32, .d = 4, .n_head = 2, .n_q = 2, .n_seq = 1, .n_kv_head = 1,
        .n_ctx = 8, .n_kv = 4, .scale = 0.5f,
    };
    assert_null(tq_ref_attention(&ok));
    tq_ref_attention_args a;
    a = ok; a.q = NULL;             expect_invalid(tq_ref_attention(&a), "q is NULL");
    a = ok; a.out = NULL;           expect_invalid(tq_ref_attention(&a), "out is NULL");
    a = ok; a.type_k = TQ_TYPE_COUNT; expect_invalid(tq_ref_attention(&a), "type_k");
    a = ok; a.type_v = TQ_TYPE_Q8_0; expect_invalid(tq_ref_attention(&a), "V type q8_0");
    a = ok; a.n_kv_head = 3;        expect_invalid(tq_ref_attention(&a), "n_kv_head=3");
    a = ok; a.n_kv = 9;             expect_invalid(tq_ref_attention(&a), "exceeds n_ctx");
    a = ok; a.n_kv = 0;             expect_invalid(tq_ref_attention(&a), "n_kv");
    a = ok; a.d = -1;               expect_invalid(tq_ref_attention(&a), "d must be");
    a = ok; a.scale = 0.0f;         expect_invalid(tq_ref_attention(&a), "scale");
    a = ok; a.softcap = NAN;        expect_invalid(tq_ref_attention(&a), "softcap");
    a = ok; a.causal = true; a.q_pos0 = 3;
    expect_invalid(tq_ref_attention(&a), "q_pos0");
    a = ok; a.causal = true; a.q_pos0 = -1;
    expect_invalid(tq_ref_attention(&a), "q_pos0");
}

static void test_status_helpers_accept_null_and_unknown_codes(void **state)
{
    (void)state;
    assert_int_equal(tq_status_code(NULL), TQ_CODE_OK);
    assert_string_equal(tq_status_message(NULL), "");
    tq_status_free(NULL);
    for (int c = 0; c < TQ_CODE_COUNT; c++)
        assert_non_null(tq_code_name((tq_code)c));
    assert_string_equal(tq_code_name(TQ_CODE_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal(tq_code_name((tq_code)999), "UNKNOWN");
    tq_status st = tq_status_make(TQ_CODE_OK, "not ok %d", 1);   /* a status is an error */
    assert_int_equal(tq_status_code(st), TQ_CODE_INTERNAL);
    assert_string_equal(tq_status_message(st), "not ok 1");
    tq_status_free(st);
    expect_invalid(tq_type_from_name(NULL, NULL), "NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_pointers_are_rejected),
        cmocka_unit_test(test_invalid_type_is_rejected),
        cmocka_unit_test(test_row_length_not_a_multiple_of_32_is_rejected_for_q8_0),
        cmocka_unit_test(test_empty_or_negative_rows_are_rejected),
        cmocka_unit_test(test_non_finite_input_to_block_formats_is_rejected),
        cmocka_unit_test(test_bad_attention_arguments_are_rejected),
        cmocka_unit_test(test_status_helpers_accept_null_and_unknown_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
