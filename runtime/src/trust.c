/*
 * trust.c: refuse code and manifests that someone other than their owner could swap.
 *
 * dlopen runs the library's constructors with the host's privileges, so a manifest or
 * library anyone can write is arbitrary code execution. The rule is deliberately simple
 * (world-writable only; see docs/architecture.md, "Trust rules") and applied to the
 * resolved path, so a symlink cannot route around it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trust.h"

char *tq_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    bool slash = a > 0 && dir[a - 1] == '/';
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    if (!slash)
        p[a++] = '/';
    memcpy(p + a, name, b + 1);
    return p;
}

char *tq_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return tq_strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

tq_status tq_trust_check(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return tq_status_make(TQ_CODE_NOT_FOUND, "%s '%s': %s", what, path, strerror(errno));
    if (st.st_mode & S_IWOTH)
        return tq_status_make(TQ_CODE_PERMISSION,
                              "%s '%s' is world-writable: refused (chmod o-w it)", what, path);

    char *dir = tq_path_dirname(path);
    if (!dir)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "out of memory checking '%s'", path);
    tq_status result = NULL;
    bool first = true;   /* the directory that holds the file: sticky does not help there */
    for (;;) {
        if (stat(dir, &st) != 0) {
            result = tq_status_make(TQ_CODE_NOT_FOUND, "%s '%s': directory '%s': %s", what,
                                    path, dir, strerror(errno));
            break;
        }
        if ((st.st_mode & S_IWOTH) && (first || !(st.st_mode & S_ISVTX))) {
            result = tq_status_make(TQ_CODE_PERMISSION,
                                    "%s '%s' is in world-writable directory '%s': refused "
                                    "(anyone could replace it; chmod o-w '%s')",
                                    what, path, dir, dir);
            break;
        }
        first = false;
        if (strcmp(dir, "/") == 0)
            break;
        char *up = tq_path_dirname(dir);
        free(dir);
        dir = up;
        if (!dir)
            return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "out of memory checking '%s'", path);
    }
    free(dir);
    return result;
}
