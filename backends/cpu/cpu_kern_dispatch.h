/*
 * cpu_kern_dispatch.h: turns an ISA file's kscore_tpl / vaccum_tpl templates into the
 * per-type entry points of cpu_kernels (ks_<type>, va_<type>), picking the row-count
 * specialisation at run time. ISA-independent: each SIMD file defines its templates, then
 * includes this and instantiates the types it implements with KS_FN / VA_FN.
 */
#ifndef TQ_CPU_KERN_DISPATCH_H
#define TQ_CPU_KERN_DISPATCH_H

/* Key scores: nrp (query rows padded to 1, 2, 4 or 8) selects the register blocking. */
#define KS_FN(T, name)                                                                       \
    static void ks_##name(const float *q, int64_t dk, int nr, int nrp, const uint8_t *k,       \
                          uint64_t krb, int nt, float *s)                                     \
    {                                                                                         \
        switch (nrp) {                                                                        \
        case 1: kscore_tpl(T, 1, q, dk, nr, k, krb, nt, s); break;                            \
        case 2: kscore_tpl(T, 2, q, dk, nr, k, krb, nt, s); break;                            \
        case 4: kscore_tpl(T, 4, q, dk, nr, k, krb, nt, s); break;                            \
        default: kscore_tpl(T, 8, q, dk, nr, k, krb, nt, s); break;                           \
        }                                                                                     \
    }

/* V accumulation: one specialisation per exact row count 1..8. */
#define VA_FN(T, name)                                                                       \
    static void va_##name(const float *p, int nr, int nrp, const uint8_t *v, uint64_t vrb,     \
                          int nt, int64_t dv, float *acc, int64_t as, void *ws)                \
    {                                                                                         \
        switch (nr) {                                                                         \
        case 1: vaccum_tpl(T, 1, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                 \
        case 2: vaccum_tpl(T, 2, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                 \
        case 3: vaccum_tpl(T, 3, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                 \
        case 4: vaccum_tpl(T, 4, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                 \
        case 5: vaccum_tpl(T, 5, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                 \
        case 6: vaccum_tpl(T, 6, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                 \
        case 7: vaccum_tpl(T, 7, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                 \
        default: vaccum_tpl(T, 8, p, nrp, v, vrb, nt, dv, acc, as, ws); break;                \
        }                                                                                     \
    }

#endif /* TQ_CPU_KERN_DISPATCH_H */
