/*
 * cpu_isa.c: run-time ISA detection. __builtin_cpu_supports covers what both gcc and clang
 * know (and checks OS support of the wider registers); f16c and avx_vnni come from cpuid
 * directly because clang 14's builtin does not know them.
 */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "cpu_isa.h"

typedef struct variant {
    const char *name;
    const char *needs[8];        /* cpuid features, NULL-terminated */
    const cpu_kernels *(*get)(void);
} variant;

static const variant variants[] = {
    { "avx512", { "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma", "f16c", "bmi2" },
      cpu_kernels_avx512 },
    { "avx2", { "avx2", "fma", "f16c", "bmi2", NULL }, cpu_kernels_avx2 },
    { "scalar", { NULL }, cpu_kernels_scalar },
};

static bool cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit)
{
    unsigned r[4];
    if ((unsigned)__get_cpuid_max(0, NULL) < leaf)
        return false;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
    return (r[reg] >> bit) & 1u;
}

static bool has(const char *f)
{
    __builtin_cpu_init();
    if (!strcmp(f, "avx2")) return __builtin_cpu_supports("avx2");
    if (!strcmp(f, "fma")) return __builtin_cpu_supports("fma");
    if (!strcmp(f, "bmi2")) return __builtin_cpu_supports("bmi2");
    if (!strcmp(f, "avx512f")) return __builtin_cpu_supports("avx512f");
    if (!strcmp(f, "avx512bw")) return __builtin_cpu_supports("avx512bw");
    if (!strcmp(f, "avx512vl")) return __builtin_cpu_supports("avx512vl");
    if (!strcmp(f, "avx512dq")) return __builtin_cpu_supports("avx512dq");
    if (!strcmp(f, "avx512vnni")) return __builtin_cpu_supports("avx512vnni");
    /* f16c is usable where AVX is (same OS-enabled YMM state), so avx gates it. */
    if (!strcmp(f, "f16c")) return __builtin_cpu_supports("avx") && cpuid_bit(1, 0, 2, 29);
    if (!strcmp(f, "avx_vnni")) return __builtin_cpu_supports("avx2") && cpuid_bit(7, 1, 0, 4);
    return false;
}

void cpu_isa_features(char *buf, size_t len)
{
    static const char *const all[] = { "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw",
                                       "avx512vl", "avx512dq", "avx512vnni", "avx_vnni" };
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (has(all[i]) && n < len) {
            int w = snprintf(buf + n, len - n, "%s%s", n ? " " : "", all[i]);
            if (w > 0)
                n += (size_t)w;
        }
}

static const char *missing(const variant *v)
{
    for (int i = 0; i < 8 && v->needs[i]; i++)
        if (!has(v->needs[i]))
            return v->needs[i];
    return NULL;
}

const char *cpu_isa_best(void)
{
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        if (variants[i].get() && !missing(&variants[i]))
            return variants[i].name;
    return "scalar";
}

bool cpu_isa_select(const char *name, const cpu_kernels **out, char *err, size_t err_len)
{
    if (!name || !*name)
        name = cpu_isa_best();
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        const variant *v = &variants[i];
        if (strcmp(v->name, name))
            continue;
        if (!v->get()) {
            snprintf(err, err_len, "cpu: variant '%s' is not compiled into this build", name);
            return false;
        }
        const char *m = missing(v);
        if (m) {
            snprintf(err, err_len, "cpu: variant '%s' needs the cpuid feature '%s', which this "
                     "CPU lacks (use variant=%s or leave variant unset)", name, m, cpu_isa_best());
            return false;
        }
        *out = v->get();
        return true;
    }
    snprintf(err, err_len, "cpu: unknown variant '%s' (known: avx512, avx2, scalar)", name);
    return false;
}

bool cpu_isa_kdot(const char *kdot, const cpu_kernels **k, char *err, size_t err_len)
{
    if (!kdot || !*kdot)
        return true;
    bool has_int = false;
    for (int t = 0; t < TQ_TYPE_COUNT; t++)
        has_int = has_int || (*k)->ktag[t];
    if (!strcmp(kdot, "f32")) {
        if ((*k)->kdot_f32)
            *k = (*k)->kdot_f32;
        return true;
    }
    if (!strcmp(kdot, "i16")) {
        if ((*k)->kdot_i16) {
            *k = (*k)->kdot_i16;
            return true;
        }
        if (has_int)
            return true;
        snprintf(err, err_len, "cpu: kdot=i16 has no kernel in variant '%s' (only avx2 has "
                 "integer K dots, for turbo3 K); use kdot=f32 or variant=avx2", (*k)->name);
        return false;
    }
    snprintf(err, err_len, "cpu: unknown kdot '%s' (known: f32, i16)", kdot);
    return false;
}
