/*
 * manifest.h: reading and validating one plugin manifest (plugins/manifest.schema.json).
 */
#ifndef TQ_MANIFEST_H
#define TQ_MANIFEST_H

#include "tq_internal.h"

typedef struct tq_manifest {
    char *path;          /* absolute manifest path (resolved) */
    char *name;          /* NULL until parsed */
    char *library;       /* absolute, resolved with realpath; NULL if not resolved */
    char *library_raw;   /* as written in the manifest (for messages) */
    int32_t priority;    /* 0 when absent */
    int64_t abi_major;
    uint32_t order;      /* position in discovery order: ties of priority keep it */
} tq_manifest;

/* Reads the manifest at path (absolute) into out, filling as many fields as it could
 * even on failure (so the report can still name the plugin). NULL if the manifest is
 * valid, trusted, for this ABI major, and its library exists and is trusted. */
TQ_HIDDEN tq_status tq_manifest_read(const char *path, tq_manifest *out);
TQ_HIDDEN void tq_manifest_clear(tq_manifest *m);
/* The file-independent part of tq_manifest_read: JSON, schema and ABI major of text (NUL-
 * terminated; path only names it in messages). Fills name, library_raw and priority;
 * resolves nothing on disk. Exposed for the fuzz target (tests/fuzz). */
TQ_HIDDEN tq_status tq_manifest_parse(const char *path, const char *text, tq_manifest *m);

/* [a-z0-9_-]{1,31} */
TQ_HIDDEN bool tq_manifest_name_valid(const char *name);

#endif /* TQ_MANIFEST_H */
