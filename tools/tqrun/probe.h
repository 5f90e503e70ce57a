/*
 * probe.h: loading each plugin once in a child process before `tqrun list` loads it, so a
 * plugin whose init (or device query, or shutdown) crashes or hangs is named with the
 * reason instead of taking the listing down.
 */
#ifndef TQRUN_PROBE_H
#define TQRUN_PROBE_H

#include <stdbool.h>

#include "tqrun.h"

typedef struct tr_probe {
    char name[32];          /* plugin name from its manifest */
    bool ok;                /* loaded (or failed cleanly) in the child: safe to load here */
    char reason[160];       /* why not: "crashed (signal 11: Segmentation fault) ..." */
} tr_probe;

typedef struct tr_probe_set {
    tr_probe *p;
    int n;
    char *only;             /* "cpu,ref,...": the names that probed ok (only_backends) */
    int timeout_s;          /* 0: probing disabled (TQ_PROBE_TIMEOUT=0) */
} tr_probe_set;

/* Probes every plugin name the search path of c has a manifest for, all children at once,
 * each killed after TQ_PROBE_TIMEOUT seconds (default 10). false only if it could not
 * run at all (message printed). */
bool tr_probe_plugins(const tr_common *c, tr_probe_set *out);
/* The probe of name, or NULL if it was not probed / probed ok. */
const tr_probe *tr_probe_failure(const tr_probe_set *s, const char *name);
/* Opens the runtime loading only the plugins that probed ok. */
bool tr_probe_runtime_open(const tr_common *c, const tr_probe_set *s, tq_runtime **out);
void tr_probe_free(tr_probe_set *s);

#endif /* TQRUN_PROBE_H */
