/*
 * manifest.c: one plugin manifest, read with cJSON and checked against the schema in
 * plugins/manifest.schema.json by hand (the schema is small; a validator would be a
 * dependency larger than the runtime).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "manifest.h"
#include "trust.h"

/* A manifest is a few lines; anything big is not one. */
#define MANIFEST_MAX_BYTES (64 * 1024)

bool tq_manifest_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 31)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

void tq_manifest_clear(tq_manifest *m)
{
    free(m->path);
    free(m->name);
    free(m->library);
    free(m->library_raw);
    memset(m, 0, sizeof *m);
}

static tq_status read_file(const char *path, char **out_text)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tq_status_make(TQ_CODE_IO, "manifest '%s': cannot open: %s", path,
                              strerror(errno));
    char *buf = malloc(MANIFEST_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "manifest '%s': out of memory", path);
    }
    size_t n = fread(buf, 1, MANIFEST_MAX_BYTES + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return tq_status_make(TQ_CODE_IO, "manifest '%s': read error", path);
    }
    if (n > MANIFEST_MAX_BYTES) {
        free(buf);
        return tq_status_make(TQ_CODE_IO, "manifest '%s': larger than %d bytes; not a manifest",
                              path, MANIFEST_MAX_BYTES);
    }
    buf[n] = '\0';
    *out_text = buf;
    return NULL;
}

/* Line and column (1-based) of pos in text, for the parse error message. */
static void position_of(const char *text, const char *pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; *p && p < pos; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* An integer-valued JSON number within [lo, hi]. */
static bool get_int(const cJSON *item, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi)
        return false;
    *out = (int64_t)v;
    return true;
}

static tq_status check_schema(const char *path, const cJSON *root, tq_manifest *m)
{
    if (!cJSON_IsObject(root))
        return tq_status_make(TQ_CODE_IO, "manifest '%s': top level must be a JSON object", path);

    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(name))
        return tq_status_make(TQ_CODE_IO, "manifest '%s': \"name\" must be a string", path);
    m->name = tq_strdup(name->valuestring);
    if (!m->name)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "manifest '%s': out of memory", path);
    if (!tq_manifest_name_valid(m->name))
        return tq_status_make(TQ_CODE_IO, "manifest '%s': name \"%s\" must match [a-z0-9_-]{1,31}",
                              path, m->name);

    const cJSON *lib = cJSON_GetObjectItemCaseSensitive(root, "library");
    if (!cJSON_IsString(lib) || !lib->valuestring[0])
        return tq_status_make(TQ_CODE_IO, "manifest '%s': \"library\" must be a non-empty string",
                              path);
    m->library_raw = tq_strdup(lib->valuestring);
    if (!m->library_raw)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "manifest '%s': out of memory", path);

    const cJSON *abi = cJSON_GetObjectItemCaseSensitive(root, "abi_major");
    if (!get_int(abi, 0, UINT32_MAX, &m->abi_major))
        return tq_status_make(TQ_CODE_IO, "manifest '%s': \"abi_major\" must be a non-negative "
                              "integer", path);

    const cJSON *prio = cJSON_GetObjectItemCaseSensitive(root, "priority");
    int64_t p = 0;
    if (prio && !get_int(prio, INT32_MIN, INT32_MAX, &p))
        return tq_status_make(TQ_CODE_IO, "manifest '%s': \"priority\" must be a 32-bit integer",
                              path);
    m->priority = (int32_t)p;

    /* Unknown keys are allowed (newer manifests may carry more) but worth a note, since
     * a misspelt "priority" would otherwise go unnoticed. */
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *k = it->string;
        if (k && strcmp(k, "name") && strcmp(k, "library") && strcmp(k, "abi_major") &&
            strcmp(k, "priority") && strcmp(k, "description") && strcmp(k, "$schema"))
            tq_log(TQ_LOG_INFO, "manifest '%s': unknown key \"%s\" ignored", path, k);
    }
    return NULL;
}

static tq_status resolve_library(const char *path, tq_manifest *m)
{
    char *joined;
    if (m->library_raw[0] == '/') {
        joined = tq_strdup(m->library_raw);
    } else {
        char *dir = tq_path_dirname(path);
        joined = dir ? tq_path_join(dir, m->library_raw) : NULL;
        free(dir);
    }
    if (!joined)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "manifest '%s': out of memory", path);

    char resolved[PATH_MAX];
    if (!realpath(joined, resolved)) {
        tq_status st = tq_status_make(TQ_CODE_NOT_FOUND,
                                      "library '%s' named by manifest '%s' cannot be found: %s",
                                      joined, path, strerror(errno));
        m->library = joined;   /* report what was looked for */
        return st;
    }
    free(joined);
    m->library = tq_strdup(resolved);
    if (!m->library)
        return tq_status_make(TQ_CODE_OUT_OF_MEMORY, "manifest '%s': out of memory", path);

    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode))
        return tq_status_make(TQ_CODE_NOT_FOUND, "library '%s' named by manifest '%s' is not a "
                              "regular file", resolved, path);
    return tq_trust_check(resolved, "library");
}

tq_status tq_manifest_parse(const char *path, const char *text, tq_manifest *m)
{
    tq_status st;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, true);
    if (!root) {
        int line, col;
        const char *at = end ? end : text;
        position_of(text, at, &line, &col);
        return tq_status_make(TQ_CODE_IO, "manifest '%s': invalid JSON at line %d, column %d "
                              "(byte %ld)", path, line, col, (long)(at - text));
    }

    st = check_schema(path, root, m);
    cJSON_Delete(root);
    if (st)
        return st;

    if (m->abi_major != TQ_PLUGIN_ABI_MAJOR)
        return tq_status_make(TQ_CODE_ABI, "manifest '%s': plugin '%s' is for ABI %lld, this "
                              "libtq implements ABI %d; rebuild the plugin against this tq",
                              path, m->name, (long long)m->abi_major, TQ_PLUGIN_ABI_MAJOR);
    return NULL;
}

tq_status tq_manifest_read(const char *path, tq_manifest *m)
{
    tq_status st = tq_trust_check(path, "manifest");
    if (st)
        return st;
    char *text = NULL;
    st = read_file(path, &text);
    if (st)
        return st;
    st = tq_manifest_parse(path, text, m);
    free(text);
    return st ? st : resolve_library(path, m);
}
