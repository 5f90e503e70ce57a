/*
 * ocl_cache.h: the on-disk cache of built OpenCL program binaries.
 *
 * Location: $TQ_CACHE_DIR/opencl when TQ_CACHE_DIR is set (an absolute path), else
 * $XDG_CACHE_HOME/tq/opencl, else ~/.cache/tq/opencl. TQ_CACHE_DIR=off disables it.
 * A directory writable by others is refused (a planted binary would run as kernels).
 *
 * One file per key (<16 hex digits>.clbin): a header (magic, format version, key, payload
 * size, FNV-1a 64 checksum of the payload) and the driver's program binary. Files are
 * written to a temporary name and renamed, so readers never see half a file; a file
 * whose header, size or checksum does not match is reported and rebuilt, never loaded.
 */
#ifndef TQ_OCL_CACHE_H
#define TQ_OCL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tq/tq_plugin.h"

/* The cache directory, or false (with why) when the cache is off or unusable. */
bool tq_ocl_cache_dir(char *out, size_t cap, char *why, size_t why_cap);

typedef enum tq_ocl_cache_result {
    TQ_OCL_CACHE_MISS = 0,     /* no file */
    TQ_OCL_CACHE_HIT,          /* payload returned */
    TQ_OCL_CACHE_REJECTED      /* a file was there but is corrupt/truncated (why says how) */
} tq_ocl_cache_result;

/* Loads the entry for key; on HIT *out_data (malloc'd, caller frees) and *out_size. */
tq_ocl_cache_result tq_ocl_cache_load(const char *dir, uint64_t key, void **out_data,
                                      size_t *out_size, char *path, size_t path_cap,
                                      char *why, size_t why_cap);
/* Writes the entry atomically; false (with why) on failure, which is only logged. */
bool tq_ocl_cache_store(const char *dir, uint64_t key, const void *data, size_t size,
                        char *why, size_t why_cap);

#endif /* TQ_OCL_CACHE_H */
