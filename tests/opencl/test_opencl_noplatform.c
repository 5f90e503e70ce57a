/*
 * test_opencl_noplatform.c: an ICD loader that finds no OpenCL platform (run by ctest
 * with OCL_ICD_VENDORS pointing at an empty directory): the plugin's init fails with a
 * message saying so and where it looked, instead of loading with nothing to offer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ocl_harness.h"

static void test_no_platform_is_a_clear_error(void **state)
{
    (void)state;
    const char *vendors = getenv("OCL_ICD_VENDORS");
    if (!vendors || !vendors[0])
        skip();   /* only meaningful under the ctest environment */
    hx h;
    tq_status s = hx_init_state(&h);
    assert_non_null(s);
    fprintf(stderr, "init said: %s\n", tq_status_message(s));
    assert_int_equal(tq_status_code(s), TQ_CODE_NOT_FOUND);
    assert_non_null(strstr(tq_status_message(s), "found no OpenCL platform"));
    assert_non_null(strstr(tq_status_message(s), vendors));
    assert_null(h.state);
    tq_status_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_platform_is_a_clear_error),
    };
    return cmocka_run_group_tests_name("opencl_noplatform", tests, NULL, NULL);
}
