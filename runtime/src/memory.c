/*
 * memory.c: per-device memory accounting with C11 atomics.
 *
 * One record per (backend, device) is shared by every context of that device, so the
 * figures are what the device holds, not what one context holds. Contexts of the same
 * device may live on different threads, hence atomics; the peak is maintained with a
 * compare-exchange loop so that concurrent adds never lose a high-water mark.
 */
#include "tq_internal.h"

void tq_mem_record_init(tq_mem_record *rec)
{
    for (int i = 0; i < TQ_MEM_CLASS_COUNT; i++) {
        atomic_init(&rec->current[i], 0);
        atomic_init(&rec->peak[i], 0);
    }
    atomic_init(&rec->current_total, 0);
    atomic_init(&rec->peak_total, 0);
}

static void raise_peak(_Atomic uint64_t *peak, uint64_t value)
{
    uint64_t old = atomic_load(peak);
    while (value > old && !atomic_compare_exchange_weak(peak, &old, value))
        ;
}

/* Subtracts without wrapping below zero: an unbalanced plugin must not turn the figures
 * into 18 EB. Returns false if it had to clamp. */
static bool sub_clamped(_Atomic uint64_t *v, uint64_t d, uint64_t *out_new)
{
    uint64_t old = atomic_load(v), nv;
    do {
        nv = old >= d ? old - d : 0;
    } while (!atomic_compare_exchange_weak(v, &old, nv));
    *out_new = nv;
    return old >= d;
}

void tq_mem_add(tq_mem_record *rec, tq_mem_class cls, int64_t delta)
{
    if ((unsigned)cls >= TQ_MEM_CLASS_COUNT) {
        tq_log(TQ_LOG_ERROR, "memory accounting: class %d is not a tq_mem_class", (int)cls);
        return;
    }
    if (delta >= 0) {
        uint64_t d = (uint64_t)delta;
        uint64_t cur = atomic_fetch_add(&rec->current[cls], d) + d;
        raise_peak(&rec->peak[cls], cur);
        uint64_t tot = atomic_fetch_add(&rec->current_total, d) + d;
        raise_peak(&rec->peak_total, tot);
    } else {
        uint64_t d = (uint64_t)(-(delta + 1)) + 1;   /* |delta| without overflow at INT64_MIN */
        uint64_t nv;
        bool ok = sub_clamped(&rec->current[cls], d, &nv);
        ok = sub_clamped(&rec->current_total, d, &nv) && ok;
        if (!ok)
            tq_log(TQ_LOG_ERROR, "memory accounting: %s freed %llu bytes more than allocated "
                   "(a plugin's mem_add calls are unbalanced)",
                   tq_mem_class_name(cls), (unsigned long long)d);
    }
}

void tq_mem_snapshot(tq_mem_record *rec, tq_memory_stats *out)
{
    for (int i = 0; i < TQ_MEM_CLASS_COUNT; i++) {
        out->current[i] = atomic_load(&rec->current[i]);
        out->peak[i] = atomic_load(&rec->peak[i]);
    }
    out->current_total = atomic_load(&rec->current_total);
    out->peak_total = atomic_load(&rec->peak_total);
}

void tq_mem_reset_peak(tq_mem_record *rec)
{
    /* Peak := current. Racing adds may raise it again right after, which is correct. */
    for (int i = 0; i < TQ_MEM_CLASS_COUNT; i++)
        atomic_store(&rec->peak[i], atomic_load(&rec->current[i]));
    atomic_store(&rec->peak_total, atomic_load(&rec->current_total));
}

TQ_API const char *tq_mem_class_name(tq_mem_class cls)
{
    static const char *const names[TQ_MEM_CLASS_COUNT] = {
        [TQ_MEM_KV] = "kv", [TQ_MEM_SCRATCH] = "scratch", [TQ_MEM_STAGING] = "staging",
        [TQ_MEM_CONSTANTS] = "constants", [TQ_MEM_IO] = "io",
    };
    return (unsigned)cls < TQ_MEM_CLASS_COUNT ? names[cls] : "invalid";
}

TQ_API tq_status tq_context_memory(const tq_context *context, tq_memory_stats *out_stats)
{
    if (!context)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_context_memory: context is NULL");
    if (!out_stats)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_context_memory: out_stats is NULL");
    tq_mem_snapshot(context->mem, out_stats);
    return NULL;
}

TQ_API void tq_context_memory_reset_peak(tq_context *context)
{
    if (context)
        tq_mem_reset_peak(context->mem);
}
