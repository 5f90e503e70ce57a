/*
 * discover.c: where plugins are looked for, and which of the manifests found get loaded.
 *
 * Search order: TQ_PLUGIN_PATH, then options->plugin_path, then the install dir (the
 * directory libtq itself was loaded from + TQ_INSTALL_PLUGIN_SUBDIR; in the build tree
 * that is build/lib/tq/plugins). Only absolute directories are searched, never the
 * current directory. Every manifest found, loaded or not, gets a report.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "manifest.h"
#include "trust.h"

#ifndef TQ_INSTALL_PLUGIN_SUBDIR
#define TQ_INSTALL_PLUGIN_SUBDIR "tq/plugins"
#endif

typedef struct candidate {
    tq_manifest m;
    tq_status st;              /* why it will not be loaded; NULL = load it */
    uint32_t abi_major, abi_minor;
    bool loaded;
    bool filtered;             /* left out by only_backends: expected, not a warning */
} candidate;

typedef struct discovery {
    tq_runtime *rt;
    char **dirs;               /* resolved directories to scan, deduplicated */
    uint32_t n_dirs;
    char *path;                /* the search path string being built */
    size_t path_len;
    candidate *c;
    uint32_t n_c, cap_c;
    bool oom;
} discovery;

static void path_append(discovery *d, const char *dir)
{
    size_t n = strlen(dir);
    char *p = realloc(d->path, d->path_len + n + 2);
    if (!p) {
        d->oom = true;
        return;
    }
    d->path = p;
    if (d->path_len)
        d->path[d->path_len++] = ':';
    memcpy(d->path + d->path_len, dir, n + 1);
    d->path_len += n;
}

/* Adds one search entry; source names where it came from, for messages. */
static void add_dir(discovery *d, const char *entry, const char *source)
{
    if (!entry[0])
        return;   /* "a::b" or a trailing ':' */
    if (entry[0] != '/') {
        char msg[512];
        snprintf(msg, sizeof msg, "%s entry '%s' is a relative path: refused (only absolute "
                 "directories are searched, never the current directory)", source, entry);
        tq_log(TQ_LOG_WARN, "%s", msg);
        if (!tq_runtime_add_report(d->rt, entry, "", "", 0, 0, 0, false, msg))
            d->oom = true;
        return;
    }
    path_append(d, entry);
    char resolved[PATH_MAX];
    struct stat st;
    if (!realpath(entry, resolved) || stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
        tq_log(TQ_LOG_DEBUG, "plugin directory '%s' (%s) does not exist; skipped", entry, source);
        return;
    }
    for (uint32_t i = 0; i < d->n_dirs; i++)
        if (strcmp(d->dirs[i], resolved) == 0)
            return;   /* same directory twice would report every plugin as a duplicate */
    char **nd = realloc(d->dirs, (d->n_dirs + 1) * sizeof *nd);
    char *copy = tq_strdup(resolved);
    if (!nd || !copy) {
        if (nd)
            d->dirs = nd;
        free(copy);
        d->oom = true;
        return;
    }
    d->dirs = nd;
    d->dirs[d->n_dirs++] = copy;
}

static void add_list(discovery *d, const char *list, const char *source)
{
    if (!list)
        return;
    char *copy = tq_strdup(list);
    if (!copy) {
        d->oom = true;
        return;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
        add_dir(d, tok, source);
    free(copy);
}

static void add_install_dir(discovery *d)
{
    Dl_info info;
    if (!dladdr((void *)&tq_runtime_create, &info) || !info.dli_fname) {
        tq_log(TQ_LOG_WARN, "cannot locate libtq itself (dladdr failed); install dir skipped");
        return;
    }
    char resolved[PATH_MAX];
    if (!realpath(info.dli_fname, resolved)) {
        tq_log(TQ_LOG_WARN, "cannot resolve libtq's path '%s': %s; install dir skipped",
               info.dli_fname, strerror(errno));
        return;
    }
    char *dir = tq_path_dirname(resolved);
    char *plugins = dir ? tq_path_join(dir, TQ_INSTALL_PLUGIN_SUBDIR) : NULL;
    if (plugins)
        add_dir(d, plugins, "install dir");
    else
        d->oom = true;
    free(dir);
    free(plugins);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_manifest_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && l > 5 && strcmp(n + l - 5, ".json") == 0;
}

static candidate *new_candidate(discovery *d)
{
    if (d->n_c == d->cap_c) {
        uint32_t cap = d->cap_c ? d->cap_c * 2 : 8;
        candidate *c = realloc(d->c, cap * sizeof *c);
        if (!c) {
            d->oom = true;
            return NULL;
        }
        d->c = c;
        d->cap_c = cap;
    }
    candidate *c = &d->c[d->n_c];
    memset(c, 0, sizeof *c);
    c->m.order = d->n_c++;
    return c;
}

/* Reads every *.json of dir, in name order. */
static void scan_dir(discovery *d, const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        tq_log(TQ_LOG_WARN, "cannot read plugin directory '%s': %s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!is_manifest_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                d->oom = true;
                break;
            }
            names = nn;
        }
        if (!(names[n] = tq_strdup(e->d_name))) {
            d->oom = true;
            break;
        }
        n++;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);

    for (size_t i = 0; i < n; i++) {
        char *full = tq_path_join(dir, names[i]);
        candidate *c = full ? new_candidate(d) : NULL;
        if (!c) {
            free(full);
            d->oom = true;
            continue;
        }
        char resolved[PATH_MAX];
        if (realpath(full, resolved)) {
            c->m.path = tq_strdup(resolved);
            free(full);
        } else {
            c->m.path = full;
        }
        if (!c->m.path) {
            c->st = tq_status_make(TQ_CODE_OUT_OF_MEMORY, "out of memory");
            continue;
        }
        c->st = tq_manifest_read(c->m.path, &c->m);
        tq_log(TQ_LOG_DEBUG, "manifest '%s': %s", c->m.path,
               c->st ? tq_status_message(c->st) : "valid");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The first manifest by (priority desc, discovery order) wins a name. */
static void resolve_duplicates(discovery *d)
{
    for (uint32_t i = 0; i < d->n_c; i++) {
        candidate *a = &d->c[i];
        if (a->st || !a->m.name)
            continue;
        for (uint32_t j = 0; j < d->n_c; j++) {
            candidate *b = &d->c[j];
            if (j == i || b->st || !b->m.name || strcmp(a->m.name, b->m.name) != 0)
                continue;
            bool b_wins = b->m.priority > a->m.priority ||
                          (b->m.priority == a->m.priority && b->m.order < a->m.order);
            if (b_wins) {
                a->st = tq_status_make(TQ_CODE_INVALID_ARGUMENT,
                                       "manifest '%s': duplicate plugin name '%s'; '%s' "
                                       "(priority %d) takes precedence over this one "
                                       "(priority %d)", a->m.path, a->m.name, b->m.path,
                                       b->m.priority, a->m.priority);
                break;
            }
        }
    }
}

static bool name_in_list(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t l = strcspn(p, ",");
        size_t t = l;
        while (t > 0 && p[t - 1] == ' ')
            t--;
        if (t == n && strncmp(p, name, n) == 0)
            return true;
        p += l;
    }
    return false;
}

static int cmp_backend(const void *pa, const void *pb)
{
    const tq_backend *a = *(tq_backend *const *)pa, *b = *(tq_backend *const *)pb;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    return strcmp(a->name, b->name);
}

tq_status tq_loader_discover(tq_runtime *rt, const tq_runtime_options *o)
{
    discovery d;
    memset(&d, 0, sizeof d);
    d.rt = rt;

    if (!o->skip_env)
        add_list(&d, secure_getenv("TQ_PLUGIN_PATH"), "TQ_PLUGIN_PATH");   /* not for setuid */
    add_list(&d, o->plugin_path, "plugin_path option");
    if (!o->skip_install_dir)
        add_install_dir(&d);
    for (uint32_t i = 0; i < d.n_dirs; i++)
        scan_dir(&d, d.dirs[i]);
    resolve_duplicates(&d);

    if (o->only_backends) {
        for (uint32_t i = 0; i < d.n_c; i++) {
            candidate *c = &d.c[i];
            if (!c->st && !name_in_list(c->m.name, o->only_backends)) {
                c->filtered = true;
                c->st = tq_status_make(TQ_CODE_NOT_FOUND, "not opened: '%s' is not in "
                                       "only_backends (\"%s\")", c->m.name, o->only_backends);
            }
        }
    }

    rt->backends = calloc(d.n_c ? d.n_c : 1, sizeof *rt->backends);
    if (!rt->backends)
        d.oom = true;
    for (uint32_t i = 0; i < d.n_c && rt->backends; i++) {
        candidate *c = &d.c[i];
        if (c->st)
            continue;
        tq_backend *b = NULL;
        c->st = tq_backend_load(rt, c->m.name, c->m.library, c->m.path, c->m.priority,
                                &c->abi_major, &c->abi_minor, &b);
        if (!c->st) {
            c->loaded = true;
            rt->backends[rt->backend_count++] = b;
        }
    }
    if (rt->backend_count > 1)
        qsort(rt->backends, rt->backend_count, sizeof *rt->backends, cmp_backend);

    for (uint32_t i = 0; i < d.n_c; i++) {
        candidate *c = &d.c[i];
        const char *msg = c->loaded ? "loaded" : tq_status_message(c->st);
        if (c->loaded)
            tq_log(TQ_LOG_INFO, "plugin '%s' loaded from '%s'", c->m.name, c->m.library);
        else
            tq_log(c->filtered ? TQ_LOG_DEBUG : TQ_LOG_WARN, "plugin not loaded: %s", msg);
        if (!tq_runtime_add_report(rt, c->m.path ? c->m.path : "", c->m.library ? c->m.library : "",
                                   c->m.name ? c->m.name : "", c->m.priority, c->abi_major,
                                   c->abi_minor, c->loaded, msg))
            d.oom = true;
        tq_status_free(c->st);
        tq_manifest_clear(&c->m);
    }
    free(d.c);
    for (uint32_t i = 0; i < d.n_dirs; i++)
        free(d.dirs[i]);
    free(d.dirs);
    rt->search_path = d.path ? d.path : tq_strdup("");
    if (d.oom || !rt->search_path)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "out of memory during plugin discovery");
    return NULL;
}
