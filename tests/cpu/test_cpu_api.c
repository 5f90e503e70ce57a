/*
 * test_cpu_api.c: the cpu plugin through the public API (libtq discovers it in the build
 * tree's lib/tq/plugins), against the ref plugin: same ops, same inputs, the brief's
 * comparison rules. Also device info, options, forced variants and scratch accounting.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_isa.h"
#include "cpu_test_util.h"
#include "tq/tq.h"

static tq_runtime *rt;
static tq_backend *cpu_be, *ref_be;

static int setup(void **state)
{
    (void)state;
    tq_runtime_options o = { .struct_size = sizeof(o), .skip_env = true };
    tq_status s = tq_runtime_create(&o, &rt);
    if (s) {
        print_message("runtime: %s\n", tq_status_message(s));
        tq_status_free(s);
        return -1;
    }
    s = tq_runtime_backend_find(rt, "cpu", &cpu_be);
    if (!s)
        s = tq_runtime_backend_find(rt, "ref", &ref_be);
    if (s) {
        print_message("backend: %s\n", tq_status_message(s));
        tq_status_free(s);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tq_runtime_destroy(rt);
    return 0;
}

#define OK(expr)                                                                  \
    do {                                                                          \
        tq_status st_ = (expr);                                                   \
        if (st_) {                                                                \
            fail_msg("%s: %s", #expr, tq_status_message(st_));                    \
        }                                                                         \
    } while (0)

static void expect_code(tq_status s, tq_code code, const char *needle)
{
    assert_non_null(s);
    if (tq_status_code(s) != code || (needle && !strstr(tq_status_message(s), needle)))
        fail_msg("expected %s containing '%s', got %s: %s", tq_code_name(code),
                 needle ? needle : "", tq_code_name(tq_status_code(s)), tq_status_message(s));
    tq_status_free(s);
}

static void test_device_info_describes_the_host_cpu(void **state)
{
    (void)state;
    assert_int_equal(tq_backend_device_count(cpu_be), 1);
    tq_device_info info = { .struct_size = sizeof(info) };
    OK(tq_backend_device_info(cpu_be, 0, &info));
    assert_true(strlen(info.name) > 0);
    assert_int_equal(strncmp(info.id, "cpu:x86_64:", 11), 0);
    assert_int_equal(info.type, TQ_DEVICE_CPU);
    assert_int_equal(info.score, 10);
    assert_true(info.memory_total > 0);
    assert_string_equal(info.default_variant, cpu_isa_best());
    char feats[256];
    cpu_isa_features(feats, sizeof(feats));
    assert_string_equal(info.features, feats);
}

static void test_options_are_checked(void **state)
{
    (void)state;
    tq_context *ctx = NULL;
    expect_code(tq_context_create(cpu_be, 0, "threads=0", &ctx), TQ_CODE_INVALID_ARGUMENT, "threads");
    expect_code(tq_context_create(cpu_be, 0, "colour=blue", &ctx), TQ_CODE_INVALID_ARGUMENT, "colour");
    expect_code(tq_context_create(cpu_be, 0, "variant=neon", &ctx), TQ_CODE_UNSUPPORTED, "neon");
    char feats[256];
    cpu_isa_features(feats, sizeof(feats));
    if (!strstr(feats, "avx512f"))
        expect_code(tq_context_create(cpu_be, 0, "variant=avx512", &ctx), TQ_CODE_UNSUPPORTED,
                    "avx512f");
    OK(tq_context_create(cpu_be, 0, "variant=scalar; threads=3", &ctx));
    tq_context_destroy(ctx);
    expect_code(tq_context_create(cpu_be, 0, "kdot=i8", &ctx), TQ_CODE_INVALID_ARGUMENT, "kdot");
    expect_code(tq_context_create(cpu_be, 0, "variant=scalar,kdot=i16", &ctx),
                TQ_CODE_UNSUPPORTED, "kdot=i16");
    OK(tq_context_create(cpu_be, 0, "variant=scalar,kdot=f32", &ctx));
    tq_context_destroy(ctx);
}

/* Runs quantize, dequantize and attention on one backend; returns outputs. */
typedef struct results {
    uint8_t *kq;          /* quantized K rows */
    float *deq;           /* dequantized K (inverse rotation) */
    float *att;           /* attention output */
    char variant[64];     /* attention timing's variant */
    uint64_t scratch_peak, scratch_peak2;
} results;

enum { D = 128, NKVH = 2, NHEAD = 8, NCTX = 700, NQ = 2 };

static void run_backend(tq_backend *be, const char *options, tq_type tk, tq_type tv, const float *krows,
                        const float *vrows, const float *q, results *r)
{
    tq_context *ctx;
    OK(tq_context_create(be, 0, options, &ctx));
    tq_tensor *src, *k, *v, *qt, *out, *deq;
    int64_t nsrc[4] = { D, NKVH, NCTX, 1 }, nkv[4] = { D, NCTX, NKVH, 1 };
    int64_t nq[4] = { D, NHEAD, NQ, 1 }, nd[4] = { tq_type_padded_elems(tk, D), NCTX, NKVH, 1 };
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, nsrc, TQ_MEM_IO, &src));
    OK(tq_tensor_create(ctx, tk, nkv, TQ_MEM_KV, &k));
    OK(tq_tensor_create(ctx, tv, nkv, TQ_MEM_KV, &v));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, nq, TQ_MEM_IO, &qt));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, nq, TQ_MEM_IO, &out));
    OK(tq_tensor_create(ctx, TQ_TYPE_F32, nd, TQ_MEM_IO, &deq));
    int64_t *rows = malloc(sizeof(int64_t) * NCTX);
    for (int64_t i = 0; i < NCTX; i++)
        rows[i] = (i * 3) % NCTX;            /* a permutation (3 is coprime to 700) */
    tq_sequence *seq;
    OK(tq_sequence_create(ctx, &seq));
    OK(tq_sequence_record_write(seq, src, 0, krows, (uint64_t)D * NKVH * NCTX * 4));
    tq_quantize_params qp = { src, k, rows, NCTX };
    OK(tq_sequence_record_quantize(seq, &qp));
    OK(tq_sequence_record_write(seq, src, 0, vrows, (uint64_t)D * NKVH * NCTX * 4));
    qp.dst = v;
    OK(tq_sequence_record_quantize(seq, &qp));
    tq_dequantize_params dp = { k, deq, TQ_DEQUANTIZE_INVERSE_ROTATION };
    OK(tq_sequence_record_dequantize(seq, &dp));
    OK(tq_sequence_record_write(seq, qt, 0, q, (uint64_t)D * NHEAD * NQ * 4));
    tq_attention_params ap = { qt, k, v, out, 650, 0.0f, 0.0f, true, 648 };
    OK(tq_sequence_record_attention(seq, &ap));
    uint64_t kbytes = tq_tensor_nbytes(k);
    r->kq = malloc(kbytes);
    r->deq = malloc(tq_tensor_nbytes(deq));
    r->att = malloc((size_t)D * NHEAD * NQ * 4);
    OK(tq_sequence_record_read(seq, k, 0, r->kq, kbytes));
    OK(tq_sequence_record_read(seq, deq, 0, r->deq, tq_tensor_nbytes(deq)));
    OK(tq_sequence_record_read(seq, out, 0, r->att, (uint64_t)D * NHEAD * NQ * 4));
    OK(tq_sequence_submit(seq));
    OK(tq_sequence_wait(seq, UINT64_MAX));
    tq_op_timing tm;
    OK(tq_sequence_timing(seq, 6, &tm));
    assert_string_equal(tm.op, "attention");
    snprintf(r->variant, sizeof(r->variant), "%s", tm.variant);
    tq_memory_stats ms;
    OK(tq_context_memory(ctx, &ms));
    r->scratch_peak = ms.peak[TQ_MEM_SCRATCH];
    /* replay: scratch must not grow */
    OK(tq_sequence_submit(seq));
    OK(tq_sequence_wait(seq, UINT64_MAX));
    OK(tq_context_memory(ctx, &ms));
    r->scratch_peak2 = ms.peak[TQ_MEM_SCRATCH];
    tq_sequence_destroy(seq);
    free(rows);
    tq_tensor_destroy(src);
    tq_tensor_destroy(k);
    tq_tensor_destroy(v);
    tq_tensor_destroy(qt);
    tq_tensor_destroy(out);
    tq_tensor_destroy(deq);
    tq_context_destroy(ctx);
}

static void free_results(results *r)
{
    free(r->kq);
    free(r->deq);
    free(r->att);
}

static void compare_with_ref(const char *options, const char *want_variant, tq_type tk, tq_type tv)
{
    ct_rng rng = { (uint64_t)(tk * 10 + tv) };
    size_t nrow = (size_t)D * NKVH * NCTX;
    float *kr = malloc(nrow * 4), *vr = malloc(nrow * 4), *q = malloc((size_t)D * NHEAD * NQ * 4);
    ct_fill_gauss(&rng, kr, (int64_t)nrow, 1.0f);
    ct_fill_gauss(&rng, vr, (int64_t)nrow, 1.0f);
    ct_fill_gauss(&rng, q, D * NHEAD * NQ, 2.0f);
    results a, b;
    run_backend(cpu_be, options, tk, tv, kr, vr, q, &a);
    run_backend(ref_be, NULL, tk, tv, kr, vr, q, &b);
    /* quantize: row r of the cache holds source token t with rows[t] = r */
    uint64_t rb = tq_type_row_bytes(tk, D);
    for (int64_t t = 0; t < NCTX; t++)
        for (int64_t h = 0; h < NKVH; h++) {
            int64_t row = (t * 3) % NCTX;
            uint64_t off = ((uint64_t)h * NCTX + (uint64_t)row) * rb;
            int bad = ct_quant_row_violations(tk, kr + (t * NKVH + h) * D, D, a.kq + off, b.kq + off);
            if (bad)
                fail_msg("%s: quantize %s token %lld head %lld differs from ref", options,
                         tq_type_name(tk), (long long)t, (long long)h);
        }
    /* dequantize of identical blocks is bit-exact (compare only rows whose bytes match) */
    int64_t dp = tq_type_padded_elems(tk, D);
    for (int64_t r = 0; r < NCTX * NKVH; r++)
        if (!memcmp(a.kq + r * rb, b.kq + r * rb, rb) &&
            memcmp(a.deq + r * dp, b.deq + r * dp, (size_t)dp * 4))
            fail_msg("%s: dequantize %s row %lld is not bit-exact", options, tq_type_name(tk),
                     (long long)r);
    double nmse = ct_nmse(a.att, b.att, D * NHEAD * NQ);
    assert_true(ct_all_finite(a.att, D * NHEAD * NQ));
    if (!(nmse <= 1e-6))
        fail_msg("%s: attention %s/%s NMSE %g vs ref", options, tq_type_name(tk), tq_type_name(tv), nmse);
    if (!strstr(a.variant, want_variant))
        fail_msg("%s: attention ran '%s', expected '%s'", options, a.variant, want_variant);
    assert_true(a.scratch_peak > 0);
    assert_int_equal(a.scratch_peak2, a.scratch_peak);
    free_results(&a);
    free_results(&b);
    free(kr);
    free(vr);
    free(q);
}

static void test_scalar_variant_matches_ref(void **state)
{
    (void)state;
    compare_with_ref("variant=scalar,threads=2", "scalar/gqa4", TQ_TYPE_TURBO3, TQ_TYPE_TURBO3);
    compare_with_ref("variant=scalar,threads=2", "scalar/gqa4", TQ_TYPE_Q8_0, TQ_TYPE_TURBO4);
}

static void test_default_variant_matches_ref(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof(want), "%s/gqa4", cpu_isa_best());
    compare_with_ref(NULL, want, TQ_TYPE_TURBO3, TQ_TYPE_TURBO3);
    compare_with_ref("threads=2", want, TQ_TYPE_Q8_0, TQ_TYPE_TURBO4);
    compare_with_ref("threads=1", want, TQ_TYPE_F16, TQ_TYPE_Q4_0);
    compare_with_ref(NULL, want, TQ_TYPE_TURBO2, TQ_TYPE_F32);
    /* the integer turbo3 K dot, on request (avx2 only) */
    char feats[256];
    cpu_isa_features(feats, sizeof(feats));
    if (strstr(feats, "avx2")) {
        compare_with_ref("variant=avx2,kdot=i16", "/k-i16", TQ_TYPE_TURBO3, TQ_TYPE_F16);
        compare_with_ref("variant=avx2,kdot=f32", "avx2/gqa4", TQ_TYPE_TURBO3, TQ_TYPE_TURBO3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_info_describes_the_host_cpu),
        cmocka_unit_test(test_options_are_checked),
        cmocka_unit_test(test_scalar_variant_matches_ref),
        cmocka_unit_test(test_default_variant_matches_ref),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
