/*
 * types.c: names, block geometry and row sizes of the tensor types.
 */
#include <stdint.h>
#include <strings.h>

#include "tq/tq.h"
#include "tq_blocks.h"

_Static_assert(TQ_TYPE_F32 == TQ_TYPE_ID_F32 && TQ_TYPE_F16 == TQ_TYPE_ID_F16 &&
               TQ_TYPE_Q8_0 == TQ_TYPE_ID_Q8_0 && TQ_TYPE_Q4_0 == TQ_TYPE_ID_Q4_0 &&
               TQ_TYPE_TURBO2 == TQ_TYPE_ID_TURBO2 && TQ_TYPE_TURBO3 == TQ_TYPE_ID_TURBO3 &&
               TQ_TYPE_TURBO4 == TQ_TYPE_ID_TURBO4 && TQ_TYPE_COUNT == TQ_TYPE_ID_COUNT,
               "tq_type values match the kernel type ids");

typedef struct type_traits {
    const char *name;
    uint32_t block_elems;
    uint32_t block_bytes;
} type_traits;

static const type_traits traits[TQ_TYPE_COUNT] = {
    [TQ_TYPE_F32]    = { "f32",    1,              sizeof(float) },
    [TQ_TYPE_F16]    = { "f16",    1,              sizeof(uint16_t) },
    [TQ_TYPE_Q8_0]   = { "q8_0",   TQ_QK8_0,       sizeof(tq_block_q8_0) },
    [TQ_TYPE_Q4_0]   = { "q4_0",   TQ_QK4_0,       sizeof(tq_block_q4_0) },
    [TQ_TYPE_TURBO2] = { "turbo2", TQ_TURBO_GROUP, sizeof(tq_block_turbo2) },
    [TQ_TYPE_TURBO3] = { "turbo3", TQ_TURBO_GROUP, sizeof(tq_block_turbo3) },
    [TQ_TYPE_TURBO4] = { "turbo4", TQ_TURBO_GROUP, sizeof(tq_block_turbo4) },
};

TQ_API bool tq_type_is_valid(tq_type type)
{
    return (unsigned)type < TQ_TYPE_COUNT;
}

TQ_API bool tq_type_is_turbo(tq_type type)
{
    return type == TQ_TYPE_TURBO2 || type == TQ_TYPE_TURBO3 || type == TQ_TYPE_TURBO4;
}

TQ_API const char *tq_type_name(tq_type type)
{
    return tq_type_is_valid(type) ? traits[type].name : "invalid";
}

TQ_API tq_status tq_type_from_name(const char *name, tq_type *out_type)
{
    if (!name || !out_type)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                              "tq_type_from_name: %s is NULL", !name ? "name" : "out_type");
    for (int t = 0; t < TQ_TYPE_COUNT; t++) {
        if (strcasecmp(name, traits[t].name) == 0) {
            *out_type = (tq_type)t;
            return NULL;
        }
    }
    return tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                          "unknown type '%s' (known: f32, f16, q8_0, q4_0, turbo2, turbo3, turbo4)",
                          name);
}

TQ_API uint32_t tq_type_block_elems(tq_type type)
{
    return tq_type_is_valid(type) ? traits[type].block_elems : 0;
}

TQ_API uint32_t tq_type_block_bytes(tq_type type)
{
    return tq_type_is_valid(type) ? traits[type].block_bytes : 0;
}

TQ_API int64_t tq_type_padded_elems(tq_type type, int64_t ne0)
{
    if (!tq_type_is_valid(type) || ne0 <= 0)
        return 0;
    /* Bound rows so that padded elements and row bytes never overflow (2^48 elements is
     * far beyond any head size; anything larger is a caller's bug). */
    if (ne0 > ((int64_t)1 << 48))
        return 0;
    if (tq_type_is_turbo(type))
        return (ne0 + TQ_TURBO_GROUP - 1) / TQ_TURBO_GROUP * TQ_TURBO_GROUP;
    uint32_t be = traits[type].block_elems;
    return ne0 % be == 0 ? ne0 : 0;
}

TQ_API uint64_t tq_type_row_bytes(tq_type type, int64_t ne0)
{
    int64_t padded = tq_type_padded_elems(type, ne0);
    if (padded == 0)
        return 0;
    return (uint64_t)padded / traits[type].block_elems * traits[type].block_bytes;
}
