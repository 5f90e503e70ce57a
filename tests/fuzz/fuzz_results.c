/*
 * fuzz_results.c: the tq-results JSON reader behind `tqrun compare` on arbitrary bytes
 * (read, key, merge samples/memory/check, pair each record with itself). Rejections are
 * printed to stderr: run it with its output sent to a file (run_fuzz.sh does).
 */
#include <stdint.h>

#include "tqrun_compare.h"

/* compare.c's option code can call this from opts.c; the fuzzer never prints JSON. */
void tr_json_claim_stdout(void);
void tr_json_claim_stdout(void) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tr_compare_load_buffer((const char *)data, size);
    return 0;
}
