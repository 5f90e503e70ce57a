/*
 * fuzz_blocks.c: the reference block decoders (tq_ref_dequantize_row) of every type on
 * arbitrary bytes, both domains, and the encoder on whatever floats come out or are in
 * the input (NaN, Inf, denormals, huge values included).
 *
 * Input: byte 0 picks the type, byte 1 the row length (64, 128 or 256 elements); the rest
 * is the row, zero-filled if short.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tq/tq.h"
#include "tq/tq_ref.h"

#define MAX_ELEMS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    tq_type type = (tq_type)(data[0] % TQ_TYPE_COUNT);
    static const int64_t lens[3] = { 64, 128, 256 };
    int64_t n = lens[data[1] % 3];
    uint64_t rb = tq_type_row_bytes(type, n);
    if (rb == 0)
        return 0;
    uint8_t row[MAX_ELEMS * 4] = { 0 };
    size_t have = size - 2 < rb ? size - 2 : (size_t)rb;
    memcpy(row, data + 2, have);

    float out[MAX_ELEMS], back[MAX_ELEMS];
    uint8_t requant[MAX_ELEMS * 4];
    int64_t padded = tq_type_padded_elems(type, n);
    if (padded <= 0 || padded > MAX_ELEMS)
        abort();
    for (int inv = 0; inv < 2; inv++) {
        tq_status st = tq_ref_dequantize_row(type, row, n, out, inv != 0);
        if (st)
            abort();   /* any bytes are a valid row */
        /* Decoding is deterministic: the same bytes give the same floats. */
        tq_status_free(tq_ref_dequantize_row(type, row, n, back, inv != 0));
        if (memcmp(out, back, (size_t)padded * sizeof(float)) != 0)
            abort();
        /* Re-encode what came out (rotated-domain turbo values included). */
        st = tq_ref_quantize_row(type, out, n, requant);
        tq_status_free(st);
    }
    /* The raw bytes as floats: the encoder must survive NaN/Inf/huge inputs. */
    float raw[MAX_ELEMS];
    memset(raw, 0, sizeof raw);
    size_t nraw = size - 2 < sizeof raw ? size - 2 : sizeof raw;
    memcpy(raw, data + 2, nraw);
    tq_status_free(tq_ref_quantize_row(type, raw, n, requant));
    return 0;
}
