/*
 * test_types.c: type names and block geometry (FORMATS.md's type table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tq/tq.h"

static void test_type_names_round_trip(void **state)
{
    (void)state;
    for (int t = 0; t < TQ_TYPE_COUNT; t++) {
        tq_type got = TQ_TYPE_COUNT;
        assert_null(tq_type_from_name(tq_type_name((tq_type)t), &got));
        assert_int_equal(got, t);
    }
    tq_type got = TQ_TYPE_COUNT;
    assert_null(tq_type_from_name("TURBO3", &got));
    assert_int_equal(got, TQ_TYPE_TURBO3);
}

static void test_unknown_type_name_lists_known_names(void **state)
{
    (void)state;
    tq_type got = TQ_TYPE_F32;
    tq_status st = tq_type_from_name("turbo5", &got);
    assert_int_equal(tq_status_code(st), TQ_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(tq_status_message(st), "turbo5"));
    assert_non_null(strstr(tq_status_message(st), "turbo4"));
    tq_status_free(st);
    assert_int_equal(got, TQ_TYPE_F32);
}

static void test_block_geometry_matches_type_table(void **state)
{
    (void)state;
    static const struct { tq_type t; const char *name; uint32_t elems, bytes; } table[] = {
        { TQ_TYPE_F32, "f32", 1, 4 },          { TQ_TYPE_F16, "f16", 1, 2 },
        { TQ_TYPE_Q8_0, "q8_0", 32, 34 },      { TQ_TYPE_Q4_0, "q4_0", 32, 18 },
        { TQ_TYPE_TURBO2, "turbo2", 128, 34 }, { TQ_TYPE_TURBO3, "turbo3", 128, 50 },
        { TQ_TYPE_TURBO4, "turbo4", 128, 66 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        assert_string_equal(tq_type_name(table[i].t), table[i].name);
        assert_int_equal(tq_type_block_elems(table[i].t), table[i].elems);
        assert_int_equal(tq_type_block_bytes(table[i].t), table[i].bytes);
        assert_true(tq_type_is_valid(table[i].t));
        assert_int_equal(tq_type_is_turbo(table[i].t), table[i].elems == 128);
    }
}

static void test_turbo_rows_are_padded_to_groups_of_128(void **state)
{
    (void)state;
    assert_int_equal(tq_type_padded_elems(TQ_TYPE_TURBO3, 64), 128);
    assert_int_equal(tq_type_padded_elems(TQ_TYPE_TURBO3, 128), 128);
    assert_int_equal(tq_type_padded_elems(TQ_TYPE_TURBO3, 129), 256);
    assert_int_equal(tq_type_padded_elems(TQ_TYPE_TURBO4, 256), 256);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_TURBO3, 64), 50);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_TURBO3, 256), 100);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_TURBO2, 96), 34);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_TURBO4, 1), 66);
}

static void test_ggml_rows_need_a_multiple_of_32(void **state)
{
    (void)state;
    assert_int_equal(tq_type_padded_elems(TQ_TYPE_Q8_0, 48), 0);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_Q8_0, 48), 0);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_Q8_0, 64), 68);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_Q4_0, 128), 72);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_Q4_0, 31), 0);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_F16, 3), 6);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_F32, 3), 12);
}

static void test_invalid_types_and_sizes_have_no_geometry(void **state)
{
    (void)state;
    tq_type bad[] = { TQ_TYPE_COUNT, (tq_type)-1, (tq_type)1000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(tq_type_is_valid(bad[i]));
        assert_false(tq_type_is_turbo(bad[i]));
        assert_string_equal(tq_type_name(bad[i]), "invalid");
        assert_int_equal(tq_type_block_elems(bad[i]), 0);
        assert_int_equal(tq_type_block_bytes(bad[i]), 0);
        assert_int_equal(tq_type_row_bytes(bad[i], 128), 0);
    }
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_F32, 0), 0);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_TURBO3, -128), 0);
    assert_int_equal(tq_type_row_bytes(TQ_TYPE_TURBO3, INT64_MAX), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names_round_trip),
        cmocka_unit_test(test_unknown_type_name_lists_known_names),
        cmocka_unit_test(test_block_geometry_matches_type_table),
        cmocka_unit_test(test_turbo_rows_are_padded_to_groups_of_128),
        cmocka_unit_test(test_ggml_rows_need_a_multiple_of_32),
        cmocka_unit_test(test_invalid_types_and_sizes_have_no_geometry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
