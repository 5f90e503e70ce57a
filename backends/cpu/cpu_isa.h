/*
 * cpu_isa.h: what this CPU can run, and the kernel variant to use.
 */
#ifndef TQ_CPU_ISA_H
#define TQ_CPU_ISA_H

#include <stdbool.h>
#include <stddef.h>

#include "cpu_kernels.h"

/* Space-separated cpuid features relevant to the kernels ("avx2 fma f16c bmi2 ..."). */
void cpu_isa_features(char *buf, size_t len);
/* Name of the best variant this CPU can run ("avx512", "avx2" or "scalar"). */
const char *cpu_isa_best(void);
/* Selects a variant by name (NULL or "" = best). Fails (false, message in err) for an
 * unknown name or one this CPU cannot run, naming the missing cpuid feature; never falls
 * back to another variant. */
bool cpu_isa_select(const char *name, const cpu_kernels **out, char *err, size_t err_len);

/* Applies option kdot ("" = the variant's default, which is fp32; "f32" = every K dot in
 * fp32; "i16" = integer K dots where the variant has them, an error if it has none) to *k. */
bool cpu_isa_kdot(const char *kdot, const cpu_kernels **k, char *err, size_t err_len);

#endif /* TQ_CPU_ISA_H */
