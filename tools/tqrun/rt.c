/*
 * rt.c: runtime creation and --backend/--device resolution with errors that say why.
 *
 * A backend the user asks for that is not there is the most common confusion ("I built
 * with Vulkan, why is it not used?"), so the message names the plugin report's reason
 * and lists what did load.
 */
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

bool tr_report(const char *prefix, tq_status st)
{
    if (!st)
        return false;
    fprintf(stderr, "tqrun: %s%s%s [%s]\n", prefix ? prefix : "", prefix ? ": " : "",
            tq_status_message(st), tq_code_name(tq_status_code(st)));
    tq_status_free(st);
    return true;
}

bool tr_runtime_open(const tr_common *c, tq_runtime **out)
{
    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_path = c->plugin_path;
    o.skip_install_dir = c->no_default_plugins;
    o.skip_env = c->no_default_plugins;
    return !tr_report("cannot create the runtime", tq_runtime_create(&o, out));
}

/* "ref, cpu" into buf. */
static void loaded_names(tq_runtime *rt, char *buf, size_t size)
{
    buf[0] = 0;
    uint32_t n = tq_runtime_backend_count(rt);
    for (uint32_t i = 0; i < n; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, "%s%s", i ? ", " : "",
                 tq_backend_name(tq_runtime_backend_get(rt, i)));
    }
    if (!n)
        snprintf(buf, size, "none");
}

static void explain_missing(tq_runtime *rt, const char *name)
{
    char loaded[512];
    loaded_names(rt, loaded, sizeof loaded);
    uint32_t np = tq_runtime_plugin_count(rt);
    for (uint32_t i = 0; i < np; i++) {
        const tq_plugin_report *r = tq_runtime_plugin_report(rt, i);
        if (r && r->name && strcmp(r->name, name) == 0 && !r->loaded) {
            fprintf(stderr, "tqrun: backend '%s' did not load: %s (manifest %s)\n"
                    "       loaded backends: %s\n",
                    name, r->message ? r->message : "?", r->manifest_path, loaded);
            return;
        }
    }
    fprintf(stderr, "tqrun: no backend named '%s' was found; loaded backends: %s\n"
            "       plugin search path: %s\n       (see 'tqrun list' for every manifest "
            "and why it did or did not load)\n",
            name, loaded, tq_runtime_search_path(rt));
}

static bool pick_device(tq_backend *b, const char *query, tr_target *t)
{
    uint32_t dev = 0;
    tq_status st = tq_backend_device_find(b, query, &dev);
    t->backend = b;
    t->note[0] = 0;
    if (st && (!query || !*query) && tq_backend_device_count(b) > 0) {
        /* No automatic choice (e.g. only llvmpipe/PoCL): for a tool run on purpose,
         * take the best-scored device anyway and say so. */
        tq_status_free(st);
        st = NULL;
        int32_t best = INT32_MIN;
        for (uint32_t i = 0; i < tq_backend_device_count(b); i++) {
            tq_device_info info;
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            tq_status s2 = tq_backend_device_info(b, i, &info);
            if (!s2 && info.score > best) {
                best = info.score;
                dev = i;
            }
            tq_status_free(s2);
        }
        snprintf(t->note, sizeof t->note, "no automatic device; using best-scored device %u",
                 dev);
    }
    if (st) {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "backend '%s': device '%s'", tq_backend_name(b),
                 query ? query : "(automatic)");
        tr_report(prefix, st);
        return false;
    }
    t->device = dev;
    memset(&t->info, 0, sizeof t->info);
    t->info.struct_size = sizeof t->info;
    if (tr_report(tq_backend_name(b), tq_backend_device_info(b, dev, &t->info)))
        return false;
    if (!t->note[0])
        snprintf(t->note, sizeof t->note, "%s", query && *query ? "requested" : "automatic");
    return true;
}

bool tr_targets_select(tq_runtime *rt, const tr_common *c, bool include_ref,
                       tr_target **out, int *out_n)
{
    uint32_t nb = tq_runtime_backend_count(rt);
    tr_target *t = calloc(nb + 16, sizeof *t);
    int n = 0;
    if (!t)
        return false;
    if (c->backends && *c->backends) {
        for (const char *q = c->backends; *q;) {
            size_t len = strcspn(q, ",");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)len, q);
            q += len;
            if (*q == ',')
                q++;
            if (!name[0])
                continue;
            tq_backend *b = NULL;
            tq_status st = tq_runtime_backend_find(rt, name, &b);
            if (st) {
                tq_status_free(st);
                explain_missing(rt, name);
                free(t);
                return false;
            }
            if (n >= (int)nb + 16)
                break;
            if (!pick_device(b, c->device, &t[n])) {
                free(t);
                return false;
            }
            n++;
        }
    } else {
        for (uint32_t i = 0; i < nb; i++) {
            tq_backend *b = tq_runtime_backend_get(rt, i);
            if (!include_ref && strcmp(tq_backend_name(b), "ref") == 0)
                continue;
            if (tq_backend_device_count(b) == 0) {
                fprintf(stderr, "tqrun: backend '%s' has no devices; skipped\n",
                        tq_backend_name(b));
                continue;
            }
            if (!pick_device(b, c->device, &t[n])) {
                free(t);
                return false;
            }
            n++;
        }
    }
    if (n == 0) {
        char loaded[512];
        loaded_names(rt, loaded, sizeof loaded);
        fprintf(stderr, "tqrun: no backend to run (loaded: %s); see 'tqrun list'\n", loaded);
        free(t);
        return false;
    }
    for (int i = 0; i < n; i++)
        snprintf(t[i].options, sizeof t[i].options, "%s", c->options ? c->options : "");
    *out = t;
    *out_n = n;
    return true;
}

bool tr_ref_find(tq_runtime *rt, tr_target *out)
{
    tq_backend *b = NULL;
    tq_status st = tq_runtime_backend_find(rt, "ref", &b);
    if (st) {
        tq_status_free(st);
        fprintf(stderr, "tqrun: the 'ref' backend (the scalar reference every result is "
                "compared with) is not loaded, so nothing can be checked.\n");
        explain_missing(rt, "ref");
        return false;
    }
    memset(out, 0, sizeof *out);
    out->backend = b;
    out->device = 0;
    out->info.struct_size = sizeof out->info;
    if (tr_report("ref", tq_backend_device_info(b, 0, &out->info)))
        return false;
    snprintf(out->note, sizeof out->note, "oracle");
    return true;
}
