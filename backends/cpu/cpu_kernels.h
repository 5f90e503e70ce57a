/*
 * cpu_kernels.h: the per-ISA kernel table of the CPU backend.
 *
 * Each variant (scalar, avx2, avx512) lives in its own source files compiled with its own
 * -m flags and fills one cpu_kernels table. The op drivers (cpu_ops.c, cpu_attention.c)
 * are ISA-neutral and call only through the table, so which variant runs is decided once,
 * at context creation, from cpuid (cpu_isa.c).
 *
 * Attention micro-kernels work on one tile of at most CPU_ATTN_TILE keys and one row block
 * of at most CPU_ATTN_RB query rows (the query heads of one GQA group and/or several query
 * tokens) that share every decoded K/V block. Scores are laid out key-major,
 * s[t * nrp + r], where nrp is nr rounded up to 1, 2, 4 or 8, so that 8 / nrp keys fill
 * one 8-float vector.
 */
#ifndef TQ_CPU_KERNELS_H
#define TQ_CPU_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "tq/tq.h"

#define CPU_ATTN_TILE 64
#define CPU_ATTN_RB 8
/* Largest bound on a score's error (in logits, after scale) that an integer K dot may
 * have (kprep); above it the kv head's scores are computed in fp32. The bound is
 * Cauchy-Schwarz, typically 10-30x the actual error. Measured worst attention NMSE of the
 * integer path in tests/cpu (normal, peaky with |q| x10 and x30, near-uniform, outlier
 * channels) against this limit: 2e-3 and 1e-2: 6.6e-9; 3e-2: 1.0e-7; 1e-1: 1.9e-6 (fails).
 * 1e-2 keeps ordinary attention on the integer path with a ~150x margin to 1e-6 and sends
 * peaky heads (|q| x10 and up) to fp32. */
#define CPU_KDOT_I16_MAX_ERR 1e-2f
/* Floats of the score tile: keys may be computed past nt up to the next multiple of 8. */
#define CPU_ATTN_SCORE_FLOATS ((CPU_ATTN_TILE + 8) * CPU_ATTN_RB)
/* Bytes of per-thread workspace a vaccum call may use. */
#define CPU_ATTN_VWS_BYTES (CPU_ATTN_TILE * (128 + 8 * 4))

/* s[t*nrp + r] = <q_r, k_t> for r < nr, t < nt. q rows are contiguous, dk floats each
 * (already scaled, zero-padded and rotated for turbo K). Keys past nt (up to a multiple of
 * 8/nrp) may be written with junk; keys past nt are never read from k. */
typedef void (*cpu_kscore_fn)(const float *q, int64_t dk, int nr, int nrp,
                              const uint8_t *k, uint64_t krb, int nt, float *s);
/* acc[r*acc_stride + e] += sum_{t<nt} p[t*nrp + r] * v_t[e] for r < nr, e < dv (rotated
 * domain for turbo V). ws: CPU_ATTN_VWS_BYTES of 64-byte aligned workspace. */
typedef void (*cpu_vaccum_fn)(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb,
                              int nt, int64_t dv, float *acc, int64_t acc_stride, void *ws);
/* One online-softmax step over a score tile: optional softcap, masks key key0+t for row r
 * when key0+t > limit[r], updates running max m[r] and sum l[r], rescales acc rows, and
 * leaves p = exp(s - m) in s. Rows nr..nrp-1 are scratch (computed, never used). */
typedef void (*cpu_softmax_fn)(float *s, int nr, int nrp, int nt, float softcap, int64_t key0,
                               const int64_t *limit, float *m, float *l, float *acc,
                               int64_t acc_stride, int64_t dv);

typedef struct cpu_kernels {
    const char *name;           /* "scalar", "avx2", "avx512" */
    /* Quantize one row of n logical elements into dst (tq_type_row_bytes bytes). */
    void (*quantize_row)(tq_type type, const float *src, int64_t n, uint8_t *dst);
    /* Dequantize one row: padded elements, rotated domain for turbo. */
    void (*dequantize_row)(tq_type type, const uint8_t *src, int64_t n, float *dst);
    /* Rotate n_groups consecutive 128-groups in place. */
    void (*rotate)(float *x, int64_t n_groups, bool inverse);
    /* n fp16 values (2-byte aligned) to f32. */
    void (*f16_to_f32)(const uint8_t *src, float *dst, int64_t n);
    cpu_kscore_fn kscore[TQ_TYPE_COUNT];
    cpu_vaccum_fn vaccum[TQ_TYPE_COUNT];
    cpu_softmax_fn softmax;
    /* Turbo kernels that work in plane order (cpu_plane_elem) instead of element order:
     * kplanar[t]: kscore[t] wants each 128-group of q permuted so that position p holds
     * element cpu_plane_elem(p); vplanar[t]: vaccum[t] accumulates position p of a group
     * into acc[p], which holds element cpu_plane_elem(p). */
    bool kplanar[TQ_TYPE_COUNT], vplanar[TQ_TYPE_COUNT];
    /* kprep[t] (may be NULL): converts one prepared q row (dk floats, after kplanar) into
     * the layout kscore[t] reads instead (out: dk floats of room; e.g. int16 Q, k-i16).
     * Returns E, a bound on the score error per unit of K block norm: |error of the score
     * of key k| <= E * sum over k's 128-groups of its fp16 norm. kscore[t] may only be
     * used where that is at most CPU_KDOT_I16_MAX_ERR; elsewhere kdot_f32->kscore[t] on
     * the float rows. */
    float (*kprep[TQ_TYPE_COUNT])(const float *q, int64_t dk, float *out);
    /* ktag[t] (may be NULL): appended to the reported variant when K has type t ("k-i16"). */
    const char *ktag[TQ_TYPE_COUNT];
    /* The same variant with every K dot in fp32 (option kdot=f32) / with integer K dots
     * where it has them (kdot=i16); NULL when this table already is that one. */
    const struct cpu_kernels *kdot_f32, *kdot_i16;
} cpu_kernels;

/* Plane order of a 128-group: position p holds element 4 * (p % 32) + p / 32, i.e. the
 * elements whose 2-bit fields share a place in the turbo qs bytes come together. */
static inline int cpu_plane_elem(int p)
{
    return 4 * (p % 32) + p / 32;
}

/* The variants compiled into this build; NULL where the build has none. Calling one's
 * functions on a CPU without its ISA is undefined: select through cpu_isa.h. */
const cpu_kernels *cpu_kernels_scalar(void);
const cpu_kernels *cpu_kernels_avx2(void);
const cpu_kernels *cpu_kernels_avx512(void);

/* Format geometry shared by every variant. */
int64_t cpu_padded_elems(tq_type type, int64_t n);
uint64_t cpu_row_bytes(tq_type type, int64_t n);
bool cpu_type_is_turbo(tq_type type);

/* Rotation sign tables built once from kernels/tq_format_constants.h. */
typedef struct cpu_sign_tables {
    float s1[128], s2[128];          /* +1 / -1 */
    uint32_t m1[128], m2[128];       /* 0 / 0x80000000 (xor masks) */
} cpu_sign_tables;
const cpu_sign_tables *cpu_signs(void);

#endif /* TQ_CPU_KERNELS_H */
