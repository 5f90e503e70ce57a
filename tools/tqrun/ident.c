/*
 * ident.c: who produced a result: tqrun version, the commit it was built from, whether
 * the tree was dirty (at build time, and now if the source checkout is still there).
 * A result without its identity cannot be compared or bisected.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tqrun.h"
#include "tqrun_build_info.h"

#ifndef TQRUN_VERSION
#define TQRUN_VERSION "0.0.0"
#endif

const char *tr_version(void) { return TQRUN_VERSION; }
const char *tr_build_commit(void) { return TQRUN_COMMIT; }
bool tr_build_dirty(void) { return TQRUN_DIRTY != 0; }

/* Runs a git command in the source dir; the first line of output into buf. */
static bool git_line(const char *args, char *buf, size_t size, bool *out_any)
{
    const char *dir = TQRUN_SOURCE_DIR;
    char path[4096];
    struct stat sb;
    if (strchr(dir, '\'') || snprintf(path, sizeof path, "%s/.git", dir) >= (int)sizeof path ||
        stat(path, &sb) != 0)
        return false;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "git -C '%s' %s 2>/dev/null", dir, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    buf[0] = 0;
    bool any = fgets(buf, (int)size, p) != NULL;
    while (any && fgetc(p) != EOF) {
    }
    int rc = pclose(p);
    buf[strcspn(buf, "\n")] = 0;
    if (out_any)
        *out_any = any;
    return rc == 0;
}

bool tr_source_dirty(bool *out_known)
{
    static int cached = -1;
    char line[512];
    if (cached < 0) {
        bool any = false;
        if (git_line("status --porcelain --untracked-files=no", line, sizeof line, &any))
            cached = any ? 1 : 0;
        else
            cached = 2;
    }
    if (out_known)
        *out_known = cached != 2;
    return cached == 1;
}

const char *tr_source_head(void)
{
    static char head[128];
    static bool done;
    if (!done) {
        done = true;
        if (!git_line("rev-parse HEAD", head, sizeof head, NULL))
            head[0] = 0;
    }
    return head;
}

void tr_ident_build(cJSON *build)
{
    cJSON_AddStringToObject(build, "type", TQRUN_BUILD_TYPE);
    cJSON_AddStringToObject(build, "flags", TQRUN_C_FLAGS);
    cJSON_AddStringToObject(build, "sanitize", TQRUN_SANITIZE);
    cJSON_AddStringToObject(build, "compiler", TQRUN_COMPILER);
    cJSON_AddStringToObject(build, "describe", TQRUN_DESCRIBE);
}
