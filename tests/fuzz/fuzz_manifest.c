/*
 * fuzz_manifest.c: the plugin manifest parser (JSON, schema, ABI) on arbitrary bytes.
 * Whatever the input, it must return a status or success, never crash or leak, and a
 * success must leave a name that passes the name rule and a non-empty library.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    tq_manifest m;
    memset(&m, 0, sizeof m);
    tq_status st = tq_manifest_parse("/fuzz/manifest.json", text, &m);
    if (!st) {
        if (!m.name || !tq_manifest_name_valid(m.name) || !m.library_raw || !m.library_raw[0] ||
            m.abi_major != TQ_PLUGIN_ABI_MAJOR)
            abort();
    } else if (!tq_status_message(st)[0]) {
        abort();   /* every failure says why */
    }
    tq_status_free(st);
    tq_manifest_clear(&m);
    free(text);
    return 0;
}
