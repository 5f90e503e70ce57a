/*
 * host.c: what the runtime offers plugins (the tq_host_api: statuses, accounting, log)
 * and the runtime's own stderr log, filtered by TQ_LOG, plus two small helpers.
 *
 * Failures are never only logged: every one is also returned as a status or recorded in
 * a plugin report. The log exists for the cases where no status can be returned (a
 * destroy function called in the wrong order) and to trace discovery.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tq_internal.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* Read on every call: cheap, and a test may change TQ_LOG between runtimes. */
static int log_threshold(void)
{
    const char *v = getenv("TQ_LOG");
    if (!v || !*v)
        return TQ_LOG_WARN;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(v, level_names[i]) == 0)
            return i;
    if (strcasecmp(v, "warning") == 0)
        return TQ_LOG_WARN;
    if (strcasecmp(v, "none") == 0 || strcasecmp(v, "off") == 0)
        return -1;
    return TQ_LOG_WARN;
}

bool tq_log_enabled(int level)
{
    return level <= log_threshold();
}

static void vlog(int level, const char *fmt, va_list ap)
{
    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    if (!tq_log_enabled(level))
        return;
    /* One fprintf per line so lines of different threads do not interleave mid-line. */
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "tq: %s: %s\n", level_names[level], line);
}

void tq_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

/* The host API's log entry point (same filter, same format). */
__attribute__((format(printf, 2, 3)))
static void host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

static void host_mem_add(void *acct, tq_mem_class cls, int64_t delta)
{
    if (!acct) {
        tq_log(TQ_LOG_ERROR, "plugin called mem_add with a NULL accounting cookie");
        return;
    }
    tq_mem_add((tq_mem_record *)acct, cls, delta);
}

/* What plugins get in init: statuses are the one status object of libtq. */
const tq_host_api tq_host_api_v1 = {
    .struct_size = sizeof(tq_host_api),
    .abi_major = TQ_PLUGIN_ABI_MAJOR,
    .abi_minor = TQ_PLUGIN_ABI_MINOR,
    .status_new = tq_status_make,
    .mem_add = host_mem_add,
    .log = host_log,
};

bool tq_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

bool tq_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

char *tq_strdup(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void tq_sb_printf(tq_sb *sb, const char *fmt, ...)
{
    if (sb->oom)
        return;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if (sb->len + (size_t)n + 1 > sb->cap) {
        size_t cap = (sb->len + (size_t)n + 1) * 2;
        char *s = realloc(sb->s, cap);
        if (!s) {
            sb->oom = true;
            va_end(ap2);
            return;
        }
        sb->s = s;
        sb->cap = cap;
    }
    vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    sb->len += (size_t)n;
}

const char *tq_sb_str(const tq_sb *sb)
{
    return sb->s && !sb->oom ? sb->s : "";
}

void tq_sb_free(tq_sb *sb)
{
    free(sb->s);
    memset(sb, 0, sizeof *sb);
}
