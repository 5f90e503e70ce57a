/*
 * trust.h: which files the runtime is willing to load code or configuration from.
 */
#ifndef TQ_TRUST_H
#define TQ_TRUST_H

#include "tq_internal.h"

/* NULL if path (absolute, already resolved with realpath) may be trusted: the file and
 * its directory are not world-writable, and no ancestor directory is world-writable
 * without the sticky bit (a sticky /tmp cannot have our entries replaced by others, a
 * plain world-writable directory can). what ("manifest", "library") names it in the
 * PERMISSION message. */
TQ_HIDDEN tq_status tq_trust_check(const char *path, const char *what);

/* Joins dir and name with one '/'; NULL on OOM. */
TQ_HIDDEN char *tq_path_join(const char *dir, const char *name);
/* The directory part of an absolute path ("/a/b.json" -> "/a", "/x" -> "/"); NULL on OOM. */
TQ_HIDDEN char *tq_path_dirname(const char *path);

#endif /* TQ_TRUST_H */
