/*
 * cpu_tables.c: format geometry and the rotation sign tables, shared by all variants.
 * The tables are expanded from the one definition in kernels/tq_format_constants.h.
 */
#include <pthread.h>

#include "cpu_kernels.h"
#include "tq_format_constants.h"

static cpu_sign_tables g_signs;
static pthread_once_t g_signs_once = PTHREAD_ONCE_INIT;

static void signs_init(void)
{
    static const uint32_t w1[4] = { TQ_TURBO_S1_WORDS };
    static const uint32_t w2[4] = { TQ_TURBO_S2_WORDS };
    for (int j = 0; j < 128; j++) {
        uint32_t b1 = (w1[j / 32] >> (j % 32)) & 1u, b2 = (w2[j / 32] >> (j % 32)) & 1u;
        g_signs.s1[j] = b1 ? -1.0f : 1.0f;
        g_signs.s2[j] = b2 ? -1.0f : 1.0f;
        g_signs.m1[j] = b1 << 31;
        g_signs.m2[j] = b2 << 31;
    }
}

const cpu_sign_tables *cpu_signs(void)
{
    pthread_once(&g_signs_once, signs_init);
    return &g_signs;
}

bool cpu_type_is_turbo(tq_type type)
{
    return type == TQ_TYPE_TURBO2 || type == TQ_TYPE_TURBO3 || type == TQ_TYPE_TURBO4;
}

int64_t cpu_padded_elems(tq_type type, int64_t n)
{
    if (cpu_type_is_turbo(type))
        return (n + TQ_TURBO_GROUP - 1) / TQ_TURBO_GROUP * TQ_TURBO_GROUP;
    return n;
}

uint64_t cpu_row_bytes(tq_type type, int64_t n)
{
    switch (type) {
    case TQ_TYPE_F32: return (uint64_t)n * 4;
    case TQ_TYPE_F16: return (uint64_t)n * 2;
    case TQ_TYPE_Q8_0: return (uint64_t)(n / TQ_QK8_0) * TQ_Q8_0_BLOCK_BYTES;
    case TQ_TYPE_Q4_0: return (uint64_t)(n / TQ_QK4_0) * TQ_Q4_0_BLOCK_BYTES;
    case TQ_TYPE_TURBO2: return (uint64_t)(cpu_padded_elems(type, n) / 128) * TQ_TURBO2_BLOCK_BYTES;
    case TQ_TYPE_TURBO3: return (uint64_t)(cpu_padded_elems(type, n) / 128) * TQ_TURBO3_BLOCK_BYTES;
    case TQ_TYPE_TURBO4: return (uint64_t)(cpu_padded_elems(type, n) / 128) * TQ_TURBO4_BLOCK_BYTES;
    default: return 0;
    }
}
