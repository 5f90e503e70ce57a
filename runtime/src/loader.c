/*
 * loader.c: opening one plugin library and checking it before trusting any pointer it
 * returns. Order matters: nothing of the plugin is called before its descriptor's ABI
 * major and struct sizes are known to be what this runtime was built for.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tq_internal.h"

/* Everything up to and including seq_timing is required at ABI 1.0; get_extra is an
 * optional trailing member. */
#define OPS_MIN_SIZE (offsetof(tq_backend_ops, seq_timing) + sizeof(void *))
#define DESC_MIN_SIZE (offsetof(tq_plugin_desc, ops) + sizeof(void *))

static const char *missing_callback(const tq_backend_ops *o)
{
#define REQUIRE(f) if (!o->f) return #f
    REQUIRE(init);
    REQUIRE(device_count);
    REQUIRE(device_info);
    REQUIRE(context_create);
    REQUIRE(context_destroy);
    REQUIRE(buffer_alloc);
    REQUIRE(buffer_free);
    REQUIRE(buffer_write);
    REQUIRE(buffer_read);
    REQUIRE(seq_create);
    REQUIRE(seq_destroy);
    REQUIRE(seq_record);
    REQUIRE(seq_submit);
    REQUIRE(seq_wait);
    REQUIRE(seq_reset);
    REQUIRE(seq_timing);
#undef REQUIRE
    return NULL;   /* shutdown, supports and get_extra may be NULL */
}

/* Checks the descriptor; NULL if it is usable. */
static tq_status check_desc(const tq_plugin_desc *d, const char *name, const char *library,
                            uint32_t *abi_major, uint32_t *abi_minor)
{
    if (!d)
        return tq_status_make(TQ_CODE_ABI, "%s: tq_plugin_query() returned NULL", library);
    /* abi_major, abi_minor and struct_size lead the struct in every ABI version. */
    *abi_major = d->abi_major;
    *abi_minor = d->abi_minor;
    if (d->abi_major != TQ_PLUGIN_ABI_MAJOR)
        return tq_status_make(TQ_CODE_ABI, "%s: plugin ABI %u.%u, this libtq implements ABI "
                              "%d.%d; rebuild the plugin against this tq's tq_plugin.h",
                              library, d->abi_major, d->abi_minor, TQ_PLUGIN_ABI_MAJOR,
                              TQ_PLUGIN_ABI_MINOR);
    if (d->struct_size < DESC_MIN_SIZE)
        return tq_status_make(TQ_CODE_ABI, "%s: tq_plugin_desc.struct_size is %u, need at least "
                              "%zu", library, d->struct_size, (size_t)DESC_MIN_SIZE);
    if (!d->name || strcmp(d->name, name) != 0)
        return tq_status_make(TQ_CODE_ABI, "%s: plugin calls itself '%s' but its manifest says "
                              "'%s'", library, d->name ? d->name : "(null)", name);
    if (!d->ops)
        return tq_status_make(TQ_CODE_ABI, "%s: tq_plugin_desc.ops is NULL", library);
    if (d->ops->struct_size < OPS_MIN_SIZE)
        return tq_status_make(TQ_CODE_ABI, "%s: tq_backend_ops.struct_size is %u, need at least "
                              "%zu", library, d->ops->struct_size, (size_t)OPS_MIN_SIZE);
    const char *missing = missing_callback(d->ops);
    if (missing)
        return tq_status_make(TQ_CODE_ABI, "%s: required callback ops->%s is NULL", library,
                              missing);
    return NULL;
}

tq_status tq_backend_load(tq_runtime *rt, const char *name, const char *library,
                          const char *manifest, int32_t priority, uint32_t *abi_major,
                          uint32_t *abi_minor, tq_backend **out_backend)
{
    *abi_major = *abi_minor = 0;
    dlerror();
    void *dl = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        return tq_status_make(TQ_CODE_BACKEND, "cannot load '%s': %s", library,
                              e ? e : "dlopen failed");
    }

    tq_status st = NULL;
    dlerror();
    void *sym = dlsym(dl, TQ_PLUGIN_QUERY_SYMBOL);
    if (!sym) {
        st = tq_status_make(TQ_CODE_NOT_FOUND, "%s does not export %s(): not a tq plugin, or "
                            "the symbol is hidden (mark it TQ_PLUGIN_EXPORT)", library,
                            TQ_PLUGIN_QUERY_SYMBOL);
        goto fail;
    }
    tq_plugin_query_fn query;
    memcpy(&query, &sym, sizeof query);   /* object -> function pointer, as POSIX allows */
    const tq_plugin_desc *desc = query();
    st = check_desc(desc, name, library, abi_major, abi_minor);
    if (st)
        goto fail;

    tq_backend *b = calloc(1, sizeof *b);
    if (!b) {
        st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "out of memory loading '%s'", library);
        goto fail;
    }
    b->runtime = rt;
    b->dl = dl;
    b->desc = desc;
    b->ops = desc->ops;
    b->priority = priority;
    atomic_init(&b->live_contexts, 0);
    pthread_mutex_init(&b->device_lock, NULL);
    b->name = tq_strdup(name);
    b->library = tq_strdup(library);
    b->manifest = tq_strdup(manifest);
    if (!b->name || !b->library || !b->manifest) {
        st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "out of memory loading '%s'", library);
        goto fail_b;
    }

    tq_status ist = b->ops->init(&tq_host_api_v1, &b->state);
    if (ist) {
        st = tq_status_make(tq_status_code(ist), "%s: plugin '%s' failed to initialise: %s",
                            library, name, tq_status_message(ist));
        tq_status_free(ist);
        goto fail_b;
    }
    b->device_count = b->ops->device_count(b->state);
    if (b->device_count) {
        b->mem = calloc(b->device_count, sizeof *b->mem);
        if (!b->mem) {
            st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "out of memory loading '%s'", library);
            if (b->ops->shutdown)
                b->ops->shutdown(b->state);
            goto fail_b;
        }
        for (uint32_t i = 0; i < b->device_count; i++)
            tq_mem_record_init(&b->mem[i]);
    }
    *out_backend = b;
    return NULL;

fail_b:
    pthread_mutex_destroy(&b->device_lock);
    free(b->name);
    free(b->library);
    free(b->manifest);
    free(b);
fail:
    dlclose(dl);
    return st;
}

void tq_backend_unload(tq_backend *b)
{
    if (!b)
        return;
    uint32_t live = atomic_load(&b->live_contexts);
    if (live) {
        /* Unmapping the library now would leave those contexts pointing into nothing. */
        tq_log(TQ_LOG_ERROR, "tq_runtime_destroy: backend '%s' still has %u context(s); "
               "destroy contexts before the runtime. The plugin stays loaded (leaked).",
               b->name, live);
        return;
    }
    if (b->ops->shutdown)
        b->ops->shutdown(b->state);
    free(b->mem);
    pthread_mutex_destroy(&b->device_lock);
    dlclose(b->dl);
    free(b->name);
    free(b->library);
    free(b->manifest);
    free(b);
}
