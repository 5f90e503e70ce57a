/*
 * ocl_cache.c: the on-disk program-binary cache (see ocl_cache.h for the contract).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocl_cache.h"
#include "ocl_internal.h"

#define CACHE_MAGIC "TQCLPRG\0"
#define CACHE_VERSION 1u

typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t key;
    uint64_t payload_size;
    uint64_t checksum;         /* FNV-1a 64 of the payload */
    uint64_t reserved;
} cache_header;

/* mkdir -p with 0700 for the parts it creates. */
static bool make_dirs(const char *path)
{
    char tmp[512];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return false;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return mkdir(tmp, 0700) == 0 || errno == EEXIST;
}

bool tq_ocl_cache_dir(char *out, size_t cap, char *why, size_t why_cap)
{
    const char *env = getenv("TQ_CACHE_DIR");
    int n;
    if (env && env[0]) {
        if (strcmp(env, "off") == 0 || strcmp(env, "0") == 0) {
            snprintf(why, why_cap, "disabled by TQ_CACHE_DIR=%s", env);
            return false;
        }
        if (env[0] != '/') {
            snprintf(why, why_cap, "TQ_CACHE_DIR='%s' is not an absolute path; cache off", env);
            return false;
        }
        n = snprintf(out, cap, "%s/opencl", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            n = snprintf(out, cap, "%s/tq/opencl", xdg);
        else if (home && home[0] == '/')
            n = snprintf(out, cap, "%s/.cache/tq/opencl", home);
        else {
            snprintf(why, why_cap, "neither TQ_CACHE_DIR, XDG_CACHE_HOME nor HOME is set");
            return false;
        }
    }
    if (n < 0 || (size_t)n >= cap) {
        snprintf(why, why_cap, "cache path too long");
        return false;
    }
    if (!make_dirs(out)) {
        snprintf(why, why_cap, "cannot create %s: %s", out, strerror(errno));
        return false;
    }
    struct stat sb;
    if (stat(out, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, why_cap, "%s is not a directory", out);
        return false;
    }
    if (sb.st_mode & S_IWOTH) {
        snprintf(why, why_cap, "%s is world-writable; refusing to load binaries from it", out);
        return false;
    }
    return true;
}

static void entry_path(char *path, size_t cap, const char *dir, uint64_t key)
{
    snprintf(path, cap, "%s/%016llx.clbin", dir, (unsigned long long)key);
}

tq_ocl_cache_result tq_ocl_cache_load(const char *dir, uint64_t key, void **out_data,
                                      size_t *out_size, char *path, size_t path_cap,
                                      char *why, size_t why_cap)
{
    *out_data = NULL;
    *out_size = 0;
    entry_path(path, path_cap, dir, key);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_cap, "no entry %s", path);
        return TQ_OCL_CACHE_MISS;
    }
    tq_ocl_cache_result res = TQ_OCL_CACHE_REJECTED;
    void *data = NULL;
    cache_header h;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        snprintf(why, why_cap, "cannot stat %s", path);
        goto out;
    }
    if (sb.st_uid != getuid()) {
        snprintf(why, why_cap, "%s belongs to another user", path);
        goto out;
    }
    if (fread(&h, sizeof h, 1, f) != 1) {
        snprintf(why, why_cap, "%s is truncated (%lld bytes, header needs %zu)", path,
                 (long long)sb.st_size, sizeof h);
        goto out;
    }
    if (memcmp(h.magic, CACHE_MAGIC, sizeof h.magic) != 0 || h.header_size != sizeof h) {
        snprintf(why, why_cap, "%s has a bad header", path);
        goto out;
    }
    if (h.version != CACHE_VERSION || h.key != key) {
        snprintf(why, why_cap, "%s is for another version/key", path);
        goto out;
    }
    if ((uint64_t)sb.st_size != sizeof h + h.payload_size || h.payload_size == 0) {
        snprintf(why, why_cap, "%s is truncated or padded (%lld bytes, header says %llu)", path,
                 (long long)sb.st_size, (unsigned long long)(sizeof h + h.payload_size));
        goto out;
    }
    data = malloc((size_t)h.payload_size);
    if (!data) {
        snprintf(why, why_cap, "out of memory reading %s", path);
        goto out;
    }
    if (fread(data, 1, (size_t)h.payload_size, f) != h.payload_size) {
        snprintf(why, why_cap, "%s: short read", path);
        goto out;
    }
    if (tq_ocl_fnv1a(TQ_OCL_FNV_INIT, data, (size_t)h.payload_size) != h.checksum) {
        snprintf(why, why_cap, "%s is corrupt (checksum mismatch)", path);
        goto out;
    }
    *out_data = data;
    *out_size = (size_t)h.payload_size;
    data = NULL;
    res = TQ_OCL_CACHE_HIT;
    snprintf(why, why_cap, "%s", path);
out:
    free(data);
    fclose(f);
    return res;
}

bool tq_ocl_cache_store(const char *dir, uint64_t key, const void *data, size_t size,
                        char *why, size_t why_cap)
{
    char path[600], tmp[640];
    entry_path(path, sizeof path, dir, key);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, why_cap, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, sizeof h.magic);
    h.version = CACHE_VERSION;
    h.header_size = sizeof h;
    h.key = key;
    h.payload_size = size;
    h.checksum = tq_ocl_fnv1a(TQ_OCL_FNV_INIT, data, size);
    bool ok = write(fd, &h, sizeof h) == (ssize_t)sizeof h;
    const char *p = data;
    size_t left = size;
    while (ok && left) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) {
            ok = false;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(why, why_cap, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    snprintf(why, why_cap, "%s", path);
    return true;
}
