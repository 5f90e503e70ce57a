/*
 * fuzz_cpu_dequant.c: the CPU backend's dequantize, through libtq and the plugin, on
 * arbitrary cache bytes, compared with the reference decoder: bit-exact f32 (the rule of
 * docs/formats.md), where NaN only has to be NaN (its payload is not a format matter).
 *
 * Input: byte 0 type, byte 1 row length (64/128/256), byte 2 rows (1-4) and flags, then
 * the rows' bytes (zero-filled if short). The plugin comes from TQ_FUZZ_PLUGIN_DIR.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq/tq.h"
#include "tq/tq_ref.h"

#define MAX_ROWS 4
#define MAX_ELEMS 256

static tq_runtime *g_rt;
static tq_context *g_ctx;

static void die(const char *what, tq_status st)
{
    fprintf(stderr, "fuzz_cpu_dequant: %s: %s\n", what, tq_status_message(st));
    exit(77);   /* cannot run here: ctest's skip code */
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("TQ_FUZZ_PLUGIN_DIR");
    if (!dir || !*dir) {
        fprintf(stderr, "fuzz_cpu_dequant: set TQ_FUZZ_PLUGIN_DIR to the plugin directory\n");
        exit(77);
    }
    tq_runtime_options o = { .struct_size = sizeof o, .plugin_path = dir, .skip_env = true,
                             .skip_install_dir = true, .only_backends = "cpu" };
    tq_status st = tq_runtime_create(&o, &g_rt);
    if (st)
        die("runtime", st);
    tq_backend *b = NULL;
    if ((st = tq_runtime_backend_find(g_rt, "cpu", &b)))
        die("cpu backend", st);
    if ((st = tq_context_create(b, 0, "threads=1", &g_ctx)))
        die("context", st);
    return 0;
}

static bool same(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    tq_type type = (tq_type)(data[0] % TQ_TYPE_COUNT);
    static const int64_t lens[3] = { 64, 128, 256 };
    int64_t n = lens[data[1] % 3];
    int64_t rows = 1 + (data[2] & 3);
    uint32_t flags = (data[2] & 4) ? TQ_DEQUANTIZE_INVERSE_ROTATION : 0;
    uint64_t rb = tq_type_row_bytes(type, n);
    int64_t padded = tq_type_padded_elems(type, n);
    if (rb == 0 || padded <= 0)
        return 0;
    static uint8_t bytes[MAX_ROWS * MAX_ELEMS * 4];
    static float got[MAX_ROWS * MAX_ELEMS], want[MAX_ELEMS];
    memset(bytes, 0, sizeof bytes);
    size_t have = size - 3 < rb * rows ? size - 3 : (size_t)(rb * rows);
    memcpy(bytes, data + 3, have);

    int64_t ne_src[4] = { n, rows, 1, 1 }, ne_dst[4] = { padded, rows, 1, 1 };
    tq_tensor *src = NULL, *dst = NULL;
    tq_sequence *seq = NULL;
    tq_status st = tq_tensor_create(g_ctx, type, ne_src, TQ_MEM_KV, &src);
    if (!st) st = tq_tensor_create(g_ctx, TQ_TYPE_F32, ne_dst, TQ_MEM_IO, &dst);
    if (!st) st = tq_tensor_write(src, 0, bytes, rb * rows);
    if (!st) st = tq_sequence_create(g_ctx, &seq);
    tq_dequantize_params p = { .src = src, .dst = dst, .flags = flags };
    if (!st) st = tq_sequence_record_dequantize(seq, &p);
    if (!st) st = tq_sequence_submit(seq);
    if (!st) st = tq_sequence_wait(seq, UINT64_MAX);
    if (!st) st = tq_tensor_read(dst, 0, got, (uint64_t)(padded * rows) * sizeof(float));
    if (st) {
        fprintf(stderr, "fuzz_cpu_dequant: %s\n", tq_status_message(st));
        abort();   /* any bytes are valid rows: the op must run */
    }
    for (int64_t r = 0; r < rows; r++) {
        tq_status rs = tq_ref_dequantize_row(type, bytes + r * rb, n, want, flags != 0);
        if (rs)
            abort();
        /* Rotated domain: bit-exact. Inverse rotation: the rotate rule of check,
         * |out - ref| <= 1e-5 * max(1, max|ref|), since butterflies may sum in another order. */
        float tol = 0;
        if (flags) {
            float mx = 1;
            for (int64_t i = 0; i < padded; i++)
                if (isfinite(want[i]) && fabsf(want[i]) > mx)
                    mx = fabsf(want[i]);
            tol = 1e-5f * mx;
        }
        for (int64_t i = 0; i < padded; i++) {
            float g = got[r * padded + i], w = want[i];
            bool ok = flags && isfinite(g) && isfinite(w) ? fabsf(g - w) <= tol : same(g, w);
            if (!ok) {
                fprintf(stderr, "fuzz_cpu_dequant: %s n=%lld row %lld elem %lld: cpu %a, ref %a\n",
                        tq_type_name(type), (long long)n, (long long)r, (long long)i,
                        (double)got[r * padded + i], (double)want[i]);
                abort();
            }
        }
    }
    tq_sequence_destroy(seq);
    tq_tensor_destroy(dst);
    tq_tensor_destroy(src);
    return 0;
}
