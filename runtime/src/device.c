/*
 * device.c: backend and device queries, device lookup, and backend/device selection.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tq_internal.h"

TQ_API const char *tq_backend_name(const tq_backend *b)
{
    return b ? b->name : "";
}

TQ_API const char *tq_backend_library(const tq_backend *b)
{
    return b ? b->library : "";
}

TQ_API uint32_t tq_backend_device_count(const tq_backend *b)
{
    return b ? b->device_count : 0;
}

TQ_API const char *tq_device_type_name(tq_device_type type)
{
    switch (type) {
    case TQ_DEVICE_CPU: return "cpu";
    case TQ_DEVICE_GPU_DISCRETE: return "discrete-gpu";
    case TQ_DEVICE_GPU_INTEGRATED: return "integrated-gpu";
    case TQ_DEVICE_GPU_VIRTUAL: return "virtual-gpu";
    case TQ_DEVICE_OTHER: return "other";
    }
    return "invalid";
}

/* The plugin always fills the full current struct; the caller gets struct_size bytes of
 * it, so hosts built against an older, smaller tq_device_info keep working. */
TQ_API tq_status tq_backend_device_info(const tq_backend *b, uint32_t device,
                                        tq_device_info *out_info)
{
    if (!b || !out_info)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_backend_device_info: %s is NULL",
                              !b ? "backend" : "out_info");
    uint32_t want = out_info->struct_size;
    if (want < offsetof(tq_device_info, name))
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_backend_device_info: "
                              "out_info->struct_size is %u; set it to sizeof(tq_device_info)",
                              want);
    if (device >= b->device_count)
        return tq_status_make(TQ_CODE_OUT_OF_RANGE, "backend '%s': device %u does not exist "
                              "(it has %u)", b->name, device, b->device_count);
    tq_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    pthread_mutex_lock((pthread_mutex_t *)&b->device_lock);
    tq_status st = b->ops->device_info(b->state, device, &info);
    pthread_mutex_unlock((pthread_mutex_t *)&b->device_lock);
    if (st)
        return st;
    /* Plugins are not trusted to terminate strings. */
    info.name[sizeof info.name - 1] = '\0';
    info.driver[sizeof info.driver - 1] = '\0';
    info.id[sizeof info.id - 1] = '\0';
    info.features[sizeof info.features - 1] = '\0';
    info.default_variant[sizeof info.default_variant - 1] = '\0';
    info.note[sizeof info.note - 1] = '\0';
    info.struct_size = want < sizeof info ? want : (uint32_t)sizeof info;
    memcpy(out_info, &info, info.struct_size);
    return NULL;
}

static bool info_of(const tq_backend *b, uint32_t i, tq_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    tq_status st = tq_backend_device_info(b, i, info);
    if (st) {
        tq_log(TQ_LOG_WARN, "backend '%s': device %u: %s", b->name, i, tq_status_message(st));
        tq_status_free(st);
        return false;
    }
    return true;
}

static bool ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

static void list_devices(const tq_backend *b, tq_sb *sb)
{
    tq_device_info info;
    for (uint32_t i = 0; i < b->device_count; i++) {
        if (info_of(b, i, &info))
            tq_sb_printf(sb, "%s%u: '%s' (id %s, score %d)", i ? "; " : "", i, info.name,
                         info.id, info.score);
        else
            tq_sb_printf(sb, "%s%u: (info failed)", i ? "; " : "", i);
    }
    if (!b->device_count)
        tq_sb_printf(sb, "none");
}

static tq_status device_not_found(const tq_backend *b, const char *why)
{
    tq_sb sb = { 0 };
    tq_sb_printf(&sb, "backend '%s': %s. Devices: ", b->name, why);
    list_devices(b, &sb);
    tq_status st = tq_status_make(TQ_CODE_NOT_FOUND, "%s", tq_sb_str(&sb));
    tq_sb_free(&sb);
    return st;
}

/* Highest score; with automatic_only, only scores >= 0 count. -1 if none. */
static int64_t best_device(const tq_backend *b, bool automatic_only, int32_t *out_score)
{
    int64_t best = -1;
    int32_t best_score = INT32_MIN;
    tq_device_info info;
    for (uint32_t i = 0; i < b->device_count; i++) {
        if (!info_of(b, i, &info))
            continue;
        if (automatic_only && info.score < 0)
            continue;
        if (best < 0 || info.score > best_score) {
            best = i;
            best_score = info.score;
        }
    }
    if (out_score)
        *out_score = best_score;
    return best;
}

TQ_API tq_status tq_backend_device_find(const tq_backend *b, const char *query,
                                        uint32_t *out_device)
{
    if (!b || !out_device)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_backend_device_find: %s is NULL",
                              !b ? "backend" : "out_device");
    if (!query || !*query) {
        int64_t i = best_device(b, true, NULL);
        if (i < 0)
            return device_not_found(b, "no device is chosen automatically (none has a score "
                                       ">= 0); ask for one by index, id or name");
        *out_device = (uint32_t)i;
        return NULL;
    }

    bool digits = true;
    for (const char *p = query; *p; p++)
        if (!isdigit((unsigned char)*p))
            digits = false;
    if (digits) {
        char *end = NULL;
        unsigned long v = strtoul(query, &end, 10);
        if (v < b->device_count) {
            *out_device = (uint32_t)v;
            return NULL;
        }
        char why[96];
        snprintf(why, sizeof why, "no device with index %s", query);
        return device_not_found(b, why);
    }

    tq_device_info info;
    for (uint32_t i = 0; i < b->device_count; i++) {
        if (info_of(b, i, &info) && strcmp(info.id, query) == 0) {
            *out_device = i;
            return NULL;
        }
    }
    for (uint32_t i = 0; i < b->device_count; i++) {
        if (info_of(b, i, &info) && ci_contains(info.name, query)) {
            *out_device = i;
            return NULL;
        }
    }
    tq_sb sb = { 0 };
    tq_sb_printf(&sb, "no device whose id is '%s' or whose name contains it", query);
    tq_status st = device_not_found(b, tq_sb_str(&sb));
    tq_sb_free(&sb);
    return st;
}

/* For a backend named on purpose, a device query of NULL/"" may take a device that is
 * never automatic (ref, llvmpipe): naming the backend is asking for it. */
static tq_status pick_device(const tq_backend *b, const char *query, uint32_t *out)
{
    if (query && *query)
        return tq_backend_device_find(b, query, out);
    int64_t i = best_device(b, true, NULL);
    if (i < 0)
        i = best_device(b, false, NULL);
    if (i < 0)
        return device_not_found(b, "it has no usable device");
    *out = (uint32_t)i;
    return NULL;
}

static tq_status select_named(const tq_runtime *rt, const char *name, const char *query,
                              const char *origin, tq_backend **out_b, uint32_t *out_d)
{
    tq_backend *b = NULL;
    tq_status st = tq_runtime_backend_find(rt, name, &b);
    if (!st)
        st = pick_device(b, query, out_d);
    if (st) {
        tq_status w = tq_status_make(tq_status_code(st), "%s: %s", origin,
                                     tq_status_message(st));
        tq_status_free(st);
        return w;
    }
    *out_b = b;
    return NULL;
}

TQ_API tq_status tq_runtime_select(const tq_runtime *rt, const char *backend_name,
                                   const char *device_query, tq_backend **out_backend,
                                   uint32_t *out_device)
{
    if (!rt || !out_backend || !out_device)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_runtime_select: %s is NULL",
                              !rt ? "runtime" : !out_backend ? "out_backend" : "out_device");
    if (backend_name && *backend_name)
        return select_named(rt, backend_name, device_query, "requested backend", out_backend,
                            out_device);

    const char *env = getenv("TQ_BACKEND");
    if (env && *env) {
        char name[64];
        size_t n = strcspn(env, ":");
        if (n >= sizeof name)
            return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "TQ_BACKEND='%s': backend name too "
                                  "long", env);
        memcpy(name, env, n);
        name[n] = '\0';
        const char *dev = device_query && *device_query ? device_query
                          : env[n] == ':' ? env + n + 1 : NULL;
        char origin[160];
        snprintf(origin, sizeof origin, "TQ_BACKEND='%s'", env);
        return select_named(rt, name, dev, origin, out_backend, out_device);
    }

    /* Automatic: the best-scored device of any backend but ref (the oracle is slow on
     * purpose); ties go to the backend with the higher manifest priority. */
    tq_backend *best_b = NULL;
    uint32_t best_d = 0;
    int32_t best_score = INT32_MIN;
    tq_sb tried = { 0 };
    for (uint32_t i = 0; i < rt->backend_count; i++) {
        tq_backend *b = rt->backends[i];
        if (strcmp(b->name, "ref") == 0)
            continue;
        uint32_t d = 0;
        int32_t score = INT32_MIN;
        tq_status st = NULL;
        if (device_query && *device_query) {
            st = tq_backend_device_find(b, device_query, &d);
            tq_device_info info;
            if (!st && info_of(b, d, &info))
                score = info.score;
        } else {
            int64_t bd = best_device(b, true, &score);
            if (bd < 0)
                st = tq_status_make(TQ_CODE_NOT_FOUND, "no device with score >= 0");
            else
                d = (uint32_t)bd;
        }
        tq_sb_printf(&tried, "%s%s (%s)", tried.len ? "; " : "", b->name,
                     st ? tq_status_message(st) : "candidate");
        if (!st && (!best_b || score > best_score)) {
            best_b = b;
            best_d = d;
            best_score = score;
        }
        tq_status_free(st);
    }
    if (!best_b) {
        tq_status st = tq_status_make(TQ_CODE_NOT_FOUND, "no backend has a device for automatic "
                                      "use%s%s; tried: %s. Name a backend (ref is never chosen "
                                      "automatically) or set TQ_BACKEND=name[:device]",
                                      device_query && *device_query ? " matching " : "",
                                      device_query && *device_query ? device_query : "",
                                      tried.len ? tq_sb_str(&tried) : "no backends loaded");
        tq_sb_free(&tried);
        return st;
    }
    tq_sb_free(&tried);
    *out_backend = best_b;
    *out_device = best_d;
    return NULL;
}
