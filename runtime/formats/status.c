/*
 * status.c: the tq_status object (code + message).
 *
 * It lives with the formats because it is compiled both into libtq and into the hidden
 * static library tq_formats_static that plugins link: the reference codecs must be able
 * to return statuses in either place. Both copies share this one layout and allocate
 * with malloc, so a status made by a plugin's copy may be freed by libtq's and vice
 * versa. The OOM fallback objects are static; they carry a flag (not an address) that
 * tq_status_free checks, so a fallback from either copy is never passed to free().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq/tq.h"

struct tq_status_s {
    tq_code code;
    unsigned char is_static;   /* 1: an OOM fallback object, never freed */
    char message[];
};

/* Returned when the message cannot be allocated; the code of the original error is lost
 * on purpose (OUT_OF_MEMORY is the truer statement at that point). */
static struct {
    tq_code code;
    unsigned char is_static;
    char message[48];
} oom_status = { TQ_CODE_OUT_OF_MEMORY, 1, "out of memory while reporting an error" };

static const char *const code_names[TQ_CODE_COUNT] = {
    [TQ_CODE_OK] = "OK",
    [TQ_CODE_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [TQ_CODE_OUT_OF_RANGE] = "OUT_OF_RANGE",
    [TQ_CODE_UNSUPPORTED] = "UNSUPPORTED",
    [TQ_CODE_NOT_FOUND] = "NOT_FOUND",
    [TQ_CODE_OUT_OF_MEMORY] = "OUT_OF_MEMORY",
    [TQ_CODE_BACKEND] = "BACKEND",
    [TQ_CODE_ABI] = "ABI",
    [TQ_CODE_IO] = "IO",
    [TQ_CODE_PERMISSION] = "PERMISSION",
    [TQ_CODE_TIMEOUT] = "TIMEOUT",
    [TQ_CODE_INTERNAL] = "INTERNAL",
};

TQ_API const char *tq_code_name(tq_code code)
{
    if ((unsigned)code >= TQ_CODE_COUNT)
        return "UNKNOWN";
    return code_names[code];
}

TQ_API tq_status tq_status_make(tq_code code, const char *fmt, ...)
{
    /* A status always means failure: OK (or garbage) becomes INTERNAL so the caller
     * still sees an error rather than a NULL-that-is-not-NULL. */
    if (code == TQ_CODE_OK || (unsigned)code >= TQ_CODE_COUNT)
        code = TQ_CODE_INTERNAL;
    if (!fmt)
        fmt = "";

    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        len = 0;

    struct tq_status_s *s = malloc(sizeof(*s) + (size_t)len + 1);
    if (!s) {
        va_end(ap2);
        return (tq_status)(void *)&oom_status;
    }
    s->code = code;
    s->is_static = 0;
    if (len > 0)
        vsnprintf(s->message, (size_t)len + 1, fmt, ap2);
    else
        s->message[0] = '\0';
    va_end(ap2);
    return s;
}

TQ_API tq_code tq_status_code(tq_status status)
{
    return status ? status->code : TQ_CODE_OK;
}

TQ_API const char *tq_status_message(tq_status status)
{
    return status ? status->message : "";
}

TQ_API void tq_status_free(tq_status status)
{
    if (status && !status->is_static)
        free(status);
}
