/*
 * runtime.c: the runtime object, its plugin reports and backend lookup by name.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tq_internal.h"

bool tq_runtime_add_report(tq_runtime *rt, const char *manifest_path, const char *library_path,
                           const char *name, int32_t priority, uint32_t abi_major,
                           uint32_t abi_minor, bool loaded, const char *message)
{
    if (rt->report_count == rt->report_cap) {
        uint32_t cap = rt->report_cap ? rt->report_cap * 2 : 8;
        tq_report_entry *r = realloc(rt->reports, cap * sizeof *r);
        if (!r)
            return false;
        rt->reports = r;
        rt->report_cap = cap;
    }
    tq_report_entry *e = &rt->reports[rt->report_count];
    memset(e, 0, sizeof *e);
    e->manifest_path = tq_strdup(manifest_path);
    e->library_path = tq_strdup(library_path);
    e->name = tq_strdup(name);
    e->message = tq_strdup(message);
    if (!e->manifest_path || !e->library_path || !e->name || !e->message) {
        free(e->manifest_path);
        free(e->library_path);
        free(e->name);
        free(e->message);
        return false;
    }
    e->report.manifest_path = e->manifest_path;
    e->report.library_path = e->library_path;
    e->report.name = e->name;
    e->report.priority = priority;
    e->report.abi_major = abi_major;
    e->report.abi_minor = abi_minor;
    e->report.loaded = loaded;
    e->report.message = e->message;
    rt->report_count++;
    return true;
}

TQ_API tq_status tq_runtime_create(const tq_runtime_options *options, tq_runtime **out_runtime)
{
    if (!out_runtime)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_runtime_create: out_runtime is NULL");
    *out_runtime = NULL;

    /* Options of an older, smaller layout are read up to their struct_size; the rest
     * keeps its default. */
    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    if (options) {
        if (options->struct_size < offsetof(tq_runtime_options, plugin_path))
            return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_runtime_create: "
                                  "options->struct_size is %u; set it to "
                                  "sizeof(tq_runtime_options)", options->struct_size);
        size_t n = options->struct_size < sizeof o ? options->struct_size : sizeof o;
        memcpy(&o, options, n);
    }
    o.struct_size = sizeof o;

    tq_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "tq_runtime_create: out of memory");
    tq_status st = tq_loader_discover(rt, &o);
    if (st) {
        tq_runtime_destroy(rt);
        return st;
    }
    *out_runtime = rt;
    return NULL;
}

TQ_API void tq_runtime_destroy(tq_runtime *rt)
{
    if (!rt)
        return;
    /* Unload in reverse order of loading priority: nothing depends on it, but it keeps
     * plugin shutdown logs in a predictable order. */
    for (uint32_t i = rt->backend_count; i-- > 0;)
        tq_backend_unload(rt->backends[i]);
    free(rt->backends);
    for (uint32_t i = 0; i < rt->report_count; i++) {
        tq_report_entry *e = &rt->reports[i];
        free(e->manifest_path);
        free(e->library_path);
        free(e->name);
        free(e->message);
    }
    free(rt->reports);
    free(rt->search_path);
    free(rt);
}

TQ_API uint32_t tq_runtime_plugin_count(const tq_runtime *rt)
{
    return rt ? rt->report_count : 0;
}

TQ_API const tq_plugin_report *tq_runtime_plugin_report(const tq_runtime *rt, uint32_t index)
{
    if (!rt || index >= rt->report_count)
        return NULL;
    return &rt->reports[index].report;
}

TQ_API const char *tq_runtime_search_path(const tq_runtime *rt)
{
    return rt && rt->search_path ? rt->search_path : "";
}

TQ_API uint32_t tq_runtime_backend_count(const tq_runtime *rt)
{
    return rt ? rt->backend_count : 0;
}

TQ_API tq_backend *tq_runtime_backend_get(const tq_runtime *rt, uint32_t index)
{
    if (!rt || index >= rt->backend_count)
        return NULL;
    return rt->backends[index];
}

/* "cpu, ref" or "none". */
static void list_loaded(const tq_runtime *rt, tq_sb *sb)
{
    for (uint32_t i = 0; i < rt->backend_count; i++)
        tq_sb_printf(sb, "%s%s", i ? ", " : "", rt->backends[i]->name);
    if (!rt->backend_count)
        tq_sb_printf(sb, "none");
}

static tq_backend *find_loaded(const tq_runtime *rt, const char *name)
{
    for (uint32_t i = 0; i < rt->backend_count; i++)
        if (strcmp(rt->backends[i]->name, name) == 0)
            return rt->backends[i];
    return NULL;
}

static tq_status not_found(const tq_runtime *rt, const char *name, const char *context)
{
    tq_sb sb = { 0 };
    tq_sb_printf(&sb, "%sno backend named '%s' is loaded", context, name);
    bool any = false;
    for (uint32_t i = 0; i < rt->report_count; i++) {
        const tq_plugin_report *r = &rt->reports[i].report;
        if (!r->loaded && strcmp(r->name, name) == 0) {
            tq_sb_printf(&sb, "%s%s", any ? "; also: " : ": ", r->message);
            any = true;
        }
    }
    tq_sb_printf(&sb, ". Loaded backends: ");
    list_loaded(rt, &sb);
    bool failed = false;
    for (uint32_t i = 0; i < rt->report_count; i++) {
        const tq_plugin_report *r = &rt->reports[i].report;
        if (!r->loaded && r->name[0] && strcmp(r->name, name) != 0) {
            tq_sb_printf(&sb, "%s%s", failed ? ", " : ". Not loaded: ", r->name);
            failed = true;
        }
    }
    tq_sb_printf(&sb, ". Searched: %s", rt->search_path[0] ? rt->search_path : "(nothing)");
    tq_status st = tq_status_make(TQ_CODE_NOT_FOUND, "%s", tq_sb_str(&sb));
    tq_sb_free(&sb);
    return st;
}

TQ_API tq_status tq_runtime_backend_find(const tq_runtime *rt, const char *name,
                                         tq_backend **out_backend)
{
    if (!rt || !name || !out_backend)
        return tq_status_make(TQ_CODE_INVALID_ARGUMENT, "tq_runtime_backend_find: %s is NULL",
                              !rt ? "runtime" : !name ? "name" : "out_backend");
    *out_backend = find_loaded(rt, name);
    return *out_backend ? NULL : not_found(rt, name, "");
}
