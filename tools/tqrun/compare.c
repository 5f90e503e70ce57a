/*
 * compare.c: `tqrun compare BASE NEW`: side-by-side table of two sets of tq-results
 * records (files or directories of *.json), keyed by backend / device / op / types / shape.
 *
 * Memory is deterministic and compared exactly. Time is noisy: every sample is kept and a
 * delta is called real only when the Mann-Whitney U test (p < alpha) and a relative
 * threshold both say so; otherwise the verdict is "unsure" (take more samples). Records
 * whose identity (host, driver) differs are refused, not compared. --fail-on turns the
 * comparison into a gate (exit 1). Exit codes: 0 ok, 1 gate failed, 2 usage, 3 bad input.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tqrun.h"
#include "tqrun_compare.h"
#include "tqrun_stats.h"

#define CMP_NMEM 6   /* kv scratch staging constants io total */
static const char *const mem_names[CMP_NMEM] = {"kv", "scratch", "staging", "constants", "io", "total"};

typedef struct cmp_rec {
    char *key;
    char *mkey;               /* the key with the device's name instead of its id */
    char *backend, *device, *op, *types, *shape;
    char *driver, *variant, *file, *host;
    double *samples;
    int n_samples;
    bool has_mem[CMP_NMEM];
    double mem_peak[CMP_NMEM];
    bool has_check, check_pass;
    double check_value, check_limit;
    char check_metric[32];
    bool matched;
} cmp_rec;

typedef struct cmp_side {
    const char *label;        /* "base" / "new" */
    cmp_rec *recs;
    int n, cap;
    char commit[64];
    char host[256];
    bool dirty, mixed_commits;
    int files;
    bool by_model;            /* --by-model: key on the device name, not its id */
} cmp_side;

typedef enum { F_TABLE, F_MARKDOWN, F_CSV, F_HTML } cmp_format;

typedef struct cmp_gate {
    char metric[32];
    bool greater;             /* metric > ratio fails; else metric < ratio fails */
    double ratio;
} cmp_gate;

typedef struct cmp_row {
    const cmp_rec *b, *n;
    char metric[32];
    char base_s[48], new_s[48], ratio_s[32], verdict[48], detail[96];
    double ratio;
    bool significant, changed, refused, gate_failed, gate_unsure;
} cmp_row;

typedef struct cmp_opts {
    double alpha, threshold;
    bool all, allow_mixed, by_model;
    cmp_format format;
    const char *output;
    cmp_gate gates[16];
    int n_gates;
    int unsure_exit;          /* exit status when a gated time delta is unsure; 0 = off */
} cmp_opts;

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

static void side_free(cmp_side *s)
{
    for (int i = 0; i < s->n; i++) {
        cmp_rec *r = &s->recs[i];
        free(r->key); free(r->mkey); free(r->backend); free(r->device); free(r->op); free(r->types);
        free(r->shape); free(r->driver); free(r->variant); free(r->file); free(r->host);
        free(r->samples);
    }
    free(s->recs);
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Canonical "k=v,k=v" of a JSON object with sorted keys (values printed unformatted). */
static char *canon_object(const cJSON *o)
{
    if (!cJSON_IsObject(o))
        return xstrdup(cJSON_IsString(o) ? o->valuestring : "");
    int n = cJSON_GetArraySize(o);
    char **parts = calloc((size_t)n + 1, sizeof *parts);
    size_t total = 1;
    int k = 0;
    for (const cJSON *it = o->child; it && parts; it = it->next) {
        char *val = cJSON_IsString(it) ? xstrdup(it->valuestring) : cJSON_PrintUnformatted(it);
        size_t len = strlen(it->string) + strlen(val ? val : "") + 2;
        parts[k] = malloc(len);
        if (parts[k])
            snprintf(parts[k], len, "%s=%s", it->string, val ? val : "");
        free(val);
        total += len;
        k++;
    }
    if (!parts)
        return NULL;
    qsort(parts, (size_t)k, sizeof *parts, cmp_cstr);
    char *out = calloc(total, 1);
    for (int i = 0; i < k && out; i++) {
        if (i)
            strcat(out, ",");
        if (parts[i])
            strcat(out, parts[i]);
    }
    for (int i = 0; i < k; i++)
        free(parts[i]);
    free(parts);
    return out;
}

static cmp_rec *side_find(cmp_side *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->recs[i].key, key) == 0)
            return &s->recs[i];
    return NULL;
}

static int load_error(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int load_error(const char *file, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tqrun compare: %s: ", file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (buf) {
        buf[len] = 0;
        *out_len = len;
    }
    return buf;
}

/* Adds one record to the side, merging samples with an existing record of the same key. */
static int add_record(cmp_side *s, const cJSON *rec, const char *file, const char *host, int idx)
{
    if (!cJSON_IsObject(rec))
        return load_error(file, "records[%d] is not an object", idx);
    const char *op = jstr(rec, "op");
    if (!*op)
        return load_error(file, "records[%d] has no \"op\"", idx);
    char *types = canon_object(cJSON_GetObjectItemCaseSensitive(rec, "types"));
    char *shape = canon_object(cJSON_GetObjectItemCaseSensitive(rec, "shape"));
    const char *dev_id = jstr(rec, "device_id");
    const char *name = jstr(rec, "device");
    const char *dev = *dev_id && !s->by_model ? dev_id : name;
    char *mode = canon_object(cJSON_GetObjectItemCaseSensitive(rec, "mode"));
    size_t klen = strlen(jstr(rec, "backend")) + strlen(dev) + strlen(name) + strlen(op) +
                  strlen(types ? types : "") + strlen(shape ? shape : "") + strlen(mode ? mode : "") + 8;
    char *key = malloc(klen), *mkey = malloc(klen);
    if (!types || !shape || !mode || !key || !mkey) {
        free(types); free(shape); free(mode); free(key); free(mkey);
        return load_error(file, "out of memory");
    }
    snprintf(key, klen, "%s|%s|%s|%s|%s|%s", jstr(rec, "backend"), dev, op, types, shape, mode);
    snprintf(mkey, klen, "%s|%s|%s|%s|%s|%s", jstr(rec, "backend"), name, op, types, shape, mode);
    free(mode);

    cmp_rec *r = side_find(s, key);
    if (r) {
        free(key);
        free(mkey);
        free(types);
        free(shape);
    } else {
        if (s->n == s->cap) {
            int cap = s->cap ? s->cap * 2 : 64;
            cmp_rec *nr = realloc(s->recs, (size_t)cap * sizeof *nr);
            if (!nr)
                return load_error(file, "out of memory");
            s->recs = nr;
            s->cap = cap;
        }
        r = &s->recs[s->n++];
        memset(r, 0, sizeof *r);
        r->key = key;
        r->mkey = mkey;
        r->backend = xstrdup(jstr(rec, "backend"));
        r->device = xstrdup(jstr(rec, "device"));
        r->op = xstrdup(op);
        r->types = types;
        r->shape = shape;
        r->driver = xstrdup(jstr(rec, "driver"));
        r->variant = xstrdup(jstr(rec, "variant"));
        r->file = xstrdup(file);
        r->host = xstrdup(host);
    }
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(rec, "samples_ns");
    if (samples) {
        if (!cJSON_IsArray(samples))
            return load_error(file, "records[%d].samples_ns is not an array", idx);
        int n = cJSON_GetArraySize(samples);
        double *ns = realloc(r->samples, (size_t)(r->n_samples + n + 1) * sizeof *ns);
        if (!ns)
            return load_error(file, "out of memory");
        r->samples = ns;
        const cJSON *it;
        cJSON_ArrayForEach(it, samples) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || !isfinite(it->valuedouble))
                return load_error(file, "records[%d].samples_ns holds a non-numeric or negative value", idx);
            r->samples[r->n_samples++] = it->valuedouble;
        }
    }
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(rec, "memory");
    if (cJSON_IsObject(mem)) {
        for (int c = 0; c < CMP_NMEM; c++) {
            const cJSON *cls = cJSON_GetObjectItemCaseSensitive(mem, mem_names[c]);
            const cJSON *peak = cJSON_GetObjectItemCaseSensitive(cls, "peak");
            if (cJSON_IsNumber(peak)) {
                /* several runs of one key: keep the largest peak seen */
                if (!r->has_mem[c] || peak->valuedouble > r->mem_peak[c])
                    r->mem_peak[c] = peak->valuedouble;
                r->has_mem[c] = true;
            }
        }
    }
    const cJSON *chk = cJSON_GetObjectItemCaseSensitive(rec, "check");
    if (cJSON_IsObject(chk)) {
        const cJSON *pass = cJSON_GetObjectItemCaseSensitive(chk, "pass");
        bool p = cJSON_IsTrue(pass);
        r->check_pass = r->has_check ? (r->check_pass && p) : p;
        r->has_check = true;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(chk, "value");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(chk, "limit");
        r->check_value = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        r->check_limit = cJSON_IsNumber(l) ? l->valuedouble : NAN;
        snprintf(r->check_metric, sizeof r->check_metric, "%s", jstr(chk, "metric"));
    }
    return 0;
}

/* One results document held in memory (len bytes; path names it in messages). */
static int load_text(cmp_side *s, const char *path, const char *text, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc) {
        const char *at = cJSON_GetErrorPtr();
        long off = (at && at >= text && at <= text + len) ? (long)(at - text) : -1;
        if (off >= (long)len - 1 || len == 0)
            return load_error(path, "not valid JSON: the document ends early (truncated file?)");
        return load_error(path, "not valid JSON near byte %ld", off);
    }
    int rc = 0;
    const char *schema = jstr(doc, "schema");
    const char *ver = jstr(doc, "schema_version");
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(doc, "records");
    if (strcmp(schema, TR_SCHEMA) != 0) {
        rc = load_error(path, "not a tq results file (schema \"%s\", expected \"%s\")", schema, TR_SCHEMA);
    } else if (atoi(ver) != atoi(TR_SCHEMA_VERSION) || !*ver) {
        rc = load_error(path, "schema_version \"%s\" is not readable by this tqrun (reads %d.x)%s",
                        ver, atoi(TR_SCHEMA_VERSION),
                        atoi(ver) > atoi(TR_SCHEMA_VERSION) ? "; use a newer tqrun" : "");
    } else if (!cJSON_IsArray(recs)) {
        rc = load_error(path, "has no \"records\" array");
    } else {
        const cJSON *host = cJSON_GetObjectItemCaseSensitive(doc, "host");
        char hostid[256];
        snprintf(hostid, sizeof hostid, "%s / %s", jstr(host, "hostname"), jstr(host, "cpu"));
        const char *commit = jstr(doc, "commit");
        if (s->files == 0) {
            snprintf(s->commit, sizeof s->commit, "%s", commit);
            snprintf(s->host, sizeof s->host, "%s", hostid);
        } else {
            if (strcmp(s->commit, commit) != 0)
                s->mixed_commits = true;
            if (strcmp(s->host, hostid) != 0)
                snprintf(s->host, sizeof s->host, "(several hosts)");
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "dirty")))
            s->dirty = true;
        s->files++;
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, recs) {
            if (add_record(s, it, path, hostid, i++) != 0) {
                rc = -1;
                break;
            }
        }
    }
    cJSON_Delete(doc);
    return rc;
}

static int load_file(cmp_side *s, const char *path)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text)
        return load_error(path, "cannot read: %s", strerror(errno ? errno : EIO));
    int rc = load_text(s, path, text, len);
    free(text);
    return rc;
}

static int load_path(cmp_side *s, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return load_error(path, "%s", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return load_file(s, path);
    DIR *d = opendir(path);
    if (!d)
        return load_error(path, "%s", strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_cstr);
    int rc = n ? 0 : load_error(path, "directory holds no *.json results");
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (rc == 0 && load_file(s, full) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

static bool parse_gate(const char *s, cmp_gate *g)
{
    const char *op = strpbrk(s, "<>");
    if (!op || op == s || (size_t)(op - s) >= sizeof g->metric)
        return false;
    memcpy(g->metric, s, (size_t)(op - s));
    g->metric[op - s] = 0;
    g->greater = *op == '>';
    char *end;
    g->ratio = strtod(op + 1, &end);
    if (end == op + 1 || *end || !(g->ratio > 0))
        return false;
    static const char *const known[] = {"time", "min_time", "kv", "scratch", "staging",
                                        "constants", "io", "total", NULL};
    for (int i = 0; known[i]; i++)
        if (strcmp(g->metric, known[i]) == 0)
            return true;
    return false;
}

/* MiB from 1 MiB up (the figure people quote), KiB or bytes below, so a small scratch
 * that grew 14x does not print as "0.0 MiB -> 0.3 MiB". */
/* Not tr_fmt_bytes: a comparison keeps both sides in one unit and does not switch to GiB,
 * so a regression reads "scratch 489.0 MiB -> 8480.0 MiB  x17.34" (tests/compare pins it). */
static const char *fmt_mib(double bytes, char *buf, size_t size)
{
    if (bytes >= 1024.0 * 1024.0)
        snprintf(buf, size, "%.1f MiB", bytes / (1024.0 * 1024.0));
    else if (bytes >= 1024.0)
        snprintf(buf, size, "%.1f KiB", bytes / 1024.0);
    else
        snprintf(buf, size, "%.0f bytes", bytes);
    return buf;
}

static void gate_check(cmp_row *row, const cmp_opts *o)
{
    for (int i = 0; i < o->n_gates; i++) {
        const cmp_gate *g = &o->gates[i];
        if (strcmp(g->metric, row->metric) != 0)
            continue;
        bool timing = strcmp(row->metric, "time") == 0 || strcmp(row->metric, "min_time") == 0;
        bool bad = g->greater ? row->ratio > g->ratio : row->ratio < g->ratio;
        if (timing && !row->significant) {
            /* noise never fails a gate; a delta past the gate that the rank test cannot
             * confirm is "unsure" (a bisection step skips instead of blaming) */
            if (bad)
                row->gate_unsure = true;
            continue;
        }
        if (bad)
            row->gate_failed = true;
    }
}

/* Builds the rows for one matched pair of records. */
static int pair_rows(const cmp_rec *b, const cmp_rec *n, const cmp_opts *o, cmp_row *rows, int max)
{
    int k = 0;
    if (strcmp(b->driver, n->driver) != 0 || strcmp(b->host, n->host) != 0) {
        if (o->allow_mixed)
            goto compare;
        cmp_row *r = &rows[k++];
        memset(r, 0, sizeof *r);
        r->b = b;
        r->n = n;
        snprintf(r->metric, sizeof r->metric, "identity");
        snprintf(r->base_s, sizeof r->base_s, "%.47s", b->driver);
        snprintf(r->new_s, sizeof r->new_s, "%.47s", n->driver);
        snprintf(r->ratio_s, sizeof r->ratio_s, "-");
        snprintf(r->verdict, sizeof r->verdict, "refused");
        snprintf(r->detail, sizeof r->detail, "driver or host differs: not comparable");
        r->refused = r->changed = true;
        return k;
    }
compare:
    if (b->n_samples > 0 && n->n_samples > 0 && k < max) {
        for (int which = 0; which < 2 && k < max; which++) {
            bool med = which == 0;
            double bv = med ? tr_median(b->samples, b->n_samples) : tr_min(b->samples, b->n_samples);
            double nv = med ? tr_median(n->samples, n->n_samples) : tr_min(n->samples, n->n_samples);
            cmp_row *r = &rows[k];
            memset(r, 0, sizeof *r);
            r->b = b;
            r->n = n;
            snprintf(r->metric, sizeof r->metric, med ? "time" : "min_time");
            tr_fmt_ns(bv, r->base_s, sizeof r->base_s);
            tr_fmt_ns(nv, r->new_s, sizeof r->new_s);
            r->ratio = bv > 0 ? nv / bv : (nv > 0 ? INFINITY : 1.0);
            snprintf(r->ratio_s, sizeof r->ratio_s, "x%.3f", r->ratio);
            double p = tr_mann_whitney_p(b->samples, b->n_samples, n->samples, n->n_samples);
            bool big = fabs(r->ratio - 1.0) >= o->threshold;
            snprintf(r->detail, sizeof r->detail, "p=%.3g n=%d/%d", p, b->n_samples, n->n_samples);
            if (!med) {
                /* min-of-N is shown for reference; the verdict belongs to the median row */
                snprintf(r->verdict, sizeof r->verdict, "%s", big ? (r->ratio > 1 ? "(slower)" : "(faster)") : "(same)");
                r->significant = big && p < o->alpha;
                if (!o->all)
                    continue;   /* not printed unless --all; the gate still sees the median */
            } else if (!big) {
                snprintf(r->verdict, sizeof r->verdict, "same");
            } else if (p < o->alpha) {
                snprintf(r->verdict, sizeof r->verdict, r->ratio > 1 ? "SLOWER" : "faster");
                r->significant = true;
                r->changed = true;
            } else {
                snprintf(r->verdict, sizeof r->verdict, "unsure");
                r->changed = true;
            }
            gate_check(r, o);
            k++;
        }
    }
    for (int c = 0; c < CMP_NMEM && k < max; c++) {
        if (!b->has_mem[c] && !n->has_mem[c])
            continue;
        double bv = b->has_mem[c] ? b->mem_peak[c] : 0.0;
        double nv = n->has_mem[c] ? n->mem_peak[c] : 0.0;
        cmp_row *r = &rows[k];
        memset(r, 0, sizeof *r);
        r->b = b;
        r->n = n;
        snprintf(r->metric, sizeof r->metric, "%s", mem_names[c]);
        fmt_mib(bv, r->base_s, sizeof r->base_s);
        fmt_mib(nv, r->new_s, sizeof r->new_s);
        r->ratio = bv > 0 ? nv / bv : (nv > 0 ? INFINITY : 1.0);
        if (isinf(r->ratio))
            snprintf(r->ratio_s, sizeof r->ratio_s, "new");
        else
            snprintf(r->ratio_s, sizeof r->ratio_s, "x%.2f", r->ratio);
        r->changed = bv != nv;
        r->significant = r->changed;   /* memory is exact: any delta is real */
        snprintf(r->verdict, sizeof r->verdict, "%s", !r->changed ? "same" : nv > bv ? "LARGER" : "smaller");
        snprintf(r->detail, sizeof r->detail, "%+.0f bytes", nv - bv);
        gate_check(r, o);
        if (r->changed || r->gate_failed || o->all)
            k++;
    }
    if ((b->has_check || n->has_check) && k < max) {
        cmp_row *r = &rows[k];
        memset(r, 0, sizeof *r);
        r->b = b;
        r->n = n;
        snprintf(r->metric, sizeof r->metric, "check");
        snprintf(r->base_s, sizeof r->base_s, "%s", !b->has_check ? "-" : b->check_pass ? "pass" : "FAIL");
        snprintf(r->new_s, sizeof r->new_s, "%s", !n->has_check ? "-" : n->check_pass ? "pass" : "FAIL");
        snprintf(r->ratio_s, sizeof r->ratio_s, "-");
        bool regressed = n->has_check && !n->check_pass;
        r->changed = strcmp(r->base_s, r->new_s) != 0;
        snprintf(r->verdict, sizeof r->verdict, "%s",
                 regressed ? (b->has_check && b->check_pass ? "REGRESSED" : "still failing")
                           : r->changed ? "fixed" : "same");
        snprintf(r->detail, sizeof r->detail, "%s %.3g (limit %.3g)", n->check_metric,
                 n->check_value, n->check_limit);
        r->gate_failed = regressed;   /* a failing check always fails the gate */
        if (r->changed || regressed || o->all)
            k++;
    }
    return k;
}

/* ------------------------------------------------------------ output */

static void csv_cell(FILE *f, const char *s, bool last)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
    fputc(last ? '\n' : ',', f);
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *const headers[] = {"backend", "device", "op", "types", "shape", "metric",
                                      "base", "new", "ratio", "verdict", "detail"};
#define NCOLS 11

static void row_cells(const cmp_row *r, const char *cells[NCOLS], char *verdict, size_t size)
{
    /* a row that failed a --fail-on gate keeps its verdict and says so */
    snprintf(verdict, size, "%s%s", r->verdict, r->gate_failed ? " [gate]" : "");
    cells[0] = r->b->backend;
    cells[1] = r->b->device;
    cells[2] = r->b->op;
    cells[3] = r->b->types;
    cells[4] = r->b->shape;
    cells[5] = r->metric;
    cells[6] = r->base_s;
    cells[7] = r->new_s;
    cells[8] = r->ratio_s;
    cells[9] = verdict;
    cells[10] = r->detail;
}

static void print_html(FILE *f, const cmp_side *b, const cmp_side *n, const cmp_row *rows, int nrows,
                       const cmp_side *only[2], int only_count[2])
{
    fputs("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>tqrun compare</title><style>"
          "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
          "td,th{border:1px solid #ccc;padding:3px 6px}th{background:#eee}"
          ".bad{background:#fdd}.good{background:#dfd}.unsure{background:#ffd}"
          "</style></head><body><h1>tqrun compare</h1>\n", f);
    fprintf(f, "<p>base: commit <code>");
    html_escape(f, b->commit);
    fprintf(f, "</code>%s, %d file(s), host ", b->dirty ? " (dirty)" : "", b->files);
    html_escape(f, b->host);
    fprintf(f, "<br>new: commit <code>");
    html_escape(f, n->commit);
    fprintf(f, "</code>%s, %d file(s), host ", n->dirty ? " (dirty)" : "", n->files);
    html_escape(f, n->host);
    fputs("</p>\n", f);
    /* chart: one bar per row, log2 ratio around 1.0, in a self-contained SVG */
    int h = 18 * nrows + 30;
    fprintf(f, "<h2>Ratios new/base</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"%d\">\n", h);
    fputs("<line x1=\"600\" y1=\"0\" x2=\"600\" y2=\"100%\" stroke=\"#000\"/>"
          "<text x=\"600\" y=\"12\" font-size=\"11\" text-anchor=\"middle\">x1.0</text>\n", f);
    for (int i = 0; i < nrows; i++) {
        const cmp_row *r = &rows[i];
        double lr = (r->ratio > 0 && isfinite(r->ratio)) ? log2(r->ratio) : (r->ratio > 0 ? 4 : -4);
        if (lr > 4) lr = 4;
        if (lr < -4) lr = -4;
        double w = fabs(lr) * 70.0;
        double x = lr >= 0 ? 600 : 600 - w;
        const char *col = r->gate_failed || strcmp(r->verdict, "SLOWER") == 0 || strcmp(r->verdict, "LARGER") == 0 ||
                          strcmp(r->verdict, "REGRESSED") == 0 ? "#d33"
                          : strcmp(r->verdict, "unsure") == 0 ? "#cc3" : r->changed ? "#3a3" : "#999";
        int y = 20 + 18 * i;
        fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"%s\"/>", x, y, w < 1 ? 1 : w, col);
        fprintf(f, "<text x=\"4\" y=\"%d\" font-size=\"11\">", y + 11);
        char label[160];
        snprintf(label, sizeof label, "%s %s %s %s", r->b->backend, r->b->op, r->b->types, r->metric);
        html_escape(f, label);
        fprintf(f, " %s</text>\n", r->ratio_s);
    }
    fputs("</svg>\n<h2>Rows</h2><table><tr>", f);
    for (int c = 0; c < NCOLS; c++)
        fprintf(f, "<th>%s</th>", headers[c]);
    fputs("</tr>\n", f);
    for (int i = 0; i < nrows; i++) {
        const char *cells[NCOLS];
        char verdict[64];
        row_cells(&rows[i], cells, verdict, sizeof verdict);
        const char *v = rows[i].verdict;
        const char *cls = rows[i].gate_failed || strcmp(v, "SLOWER") == 0 ||
                          strcmp(v, "LARGER") == 0 || strcmp(v, "REGRESSED") == 0 ? "bad"
                          : strcmp(v, "unsure") == 0 ? "unsure"
                          : rows[i].changed ? "good" : "";
        fprintf(f, "<tr class=\"%s\">", cls);
        for (int c = 0; c < NCOLS; c++) {
            fputs("<td>", f);
            html_escape(f, cells[c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    for (int s = 0; s < 2; s++) {
        if (!only_count[s])
            continue;
        fprintf(f, "<h2>Only in %s</h2><ul>", s == 0 ? "base" : "new");
        for (int i = 0; i < only[s]->n; i++) {
            if (only[s]->recs[i].matched)
                continue;
            fputs("<li><code>", f);
            html_escape(f, only[s]->recs[i].key);
            fputs("</code></li>", f);
        }
        fputs("</ul>\n", f);
    }
    fputs("</body></html>\n", f);
}

static void usage(FILE *f)
{
    fputs("usage: tqrun compare [options] BASE NEW\n"
          "       tqrun compare [options] --base PATH... --new PATH...\n"
          "\n"
          "Compares two sets of tq-results (files, or directories of *.json) record by record,\n"
          "keyed by backend, device, op, types and shape. Memory (peak bytes per class) is\n"
          "compared exactly. A time delta is called real only when the Mann-Whitney U test over\n"
          "the repeats (p < alpha) and the relative threshold both agree; otherwise \"unsure\".\n"
          "Records whose driver or host differ are refused, not compared.\n"
          "\n"
          "options:\n"
          "  --base PATH          add a base file or directory (repeatable)\n"
          "  --new PATH           add a new file or directory (repeatable)\n"
          "  --format F           table (default), markdown, csv or html\n"
          "  --output FILE        write there instead of stdout\n"
          "  --threshold R        relative time change that counts (default 0.05)\n"
          "  --alpha P            significance level of the rank test (default 0.05)\n"
          "  --fail-on 'M>R'      exit 1 when metric M's new/base ratio is > R (or < R with '<');\n"
          "                       M: time min_time kv scratch staging constants io total;\n"
          "                       time gates fire only on significant deltas (repeatable).\n"
          "                       A check that fails in NEW always makes the exit status 1.\n"
          "  --unsure-exit N      exit N when a gated time delta is past its ratio but not\n"
          "                       significant (git bisect run: 125 = skip this commit)\n"
          "  --all                also print unchanged memory rows, min_time and check rows\n"
          "  --allow-mixed        compare records even if driver or host differ\n"
          "  --by-model           match devices by name, not by id: compares results from\n"
          "                       different units of one GPU model (cloud machines); the\n"
          "                       driver and host must still agree\n"
          "\n"
          "exit status: 0 no gate failed, 1 a gate or check failed, 2 usage error, 3 unreadable input,\n"
          "             or the --unsure-exit status\n"
          "\n"
          "examples:\n"
          "  tqrun compare before.json after.json\n"
          "  tqrun compare --fail-on 'scratch>1.0' --fail-on 'time>1.10' base/ new/\n"
          "  tqrun compare --format html --output report.html a.json b.json\n", f);
}

int tr_cmd_compare(int argc, char **argv)
{
    cmp_opts o = {.alpha = 0.05, .threshold = 0.05, .format = F_TABLE};
    const char *base_paths[64], *new_paths[64], *pos[64];
    int nb = 0, nn = 0, np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
#define NEEDVAL() do { if (!val) return tr_usage_error("compare", "%s needs a value", a); i++; } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return TR_EXIT_OK;
        } else if (strcmp(a, "--base") == 0) {
            NEEDVAL();
            if (nb < 64) base_paths[nb++] = val;
        } else if (strcmp(a, "--new") == 0) {
            NEEDVAL();
            if (nn < 64) new_paths[nn++] = val;
        } else if (strcmp(a, "--format") == 0) {
            NEEDVAL();
            if (strcmp(val, "table") == 0) o.format = F_TABLE;
            else if (strcmp(val, "markdown") == 0 || strcmp(val, "md") == 0) o.format = F_MARKDOWN;
            else if (strcmp(val, "csv") == 0) o.format = F_CSV;
            else if (strcmp(val, "html") == 0) o.format = F_HTML;
            else return tr_usage_error("compare", "unknown --format '%s' (table, markdown, csv, html)", val);
        } else if (strcmp(a, "--output") == 0 || strcmp(a, "-o") == 0) {
            NEEDVAL();
            o.output = val;
        } else if (strcmp(a, "--threshold") == 0 || strcmp(a, "--alpha") == 0) {
            NEEDVAL();
            char *end;
            double v = strtod(val, &end);
            if (*end || !(v > 0 && v < 1))
                return tr_usage_error("compare", "%s wants a number between 0 and 1, not '%s'", a, val);
            if (a[2] == 't') o.threshold = v; else o.alpha = v;
        } else if (strcmp(a, "--fail-on") == 0) {
            NEEDVAL();
            if (o.n_gates == 16)
                return tr_usage_error("compare", "too many --fail-on (16 at most)");
            if (!parse_gate(val, &o.gates[o.n_gates]))
                return tr_usage_error("compare", "bad --fail-on '%s': want METRIC>RATIO or METRIC<RATIO, "
                                      "METRIC one of time min_time kv scratch staging constants io total", val);
            o.n_gates++;
        } else if (strcmp(a, "--unsure-exit") == 0) {
            NEEDVAL();
            char *end;
            long v = strtol(val, &end, 10);
            if (*end || v < 1 || v > 255)
                return tr_usage_error("compare", "--unsure-exit wants 1..255, not '%s'", val);
            o.unsure_exit = (int)v;
        } else if (strcmp(a, "--all") == 0) {
            o.all = true;
        } else if (strcmp(a, "--allow-mixed") == 0) {
            o.allow_mixed = true;
        } else if (strcmp(a, "--by-model") == 0) {
            o.by_model = true;
        } else if (a[0] == '-' && a[1]) {
            return tr_usage_error("compare", "unknown option '%s'", a);
        } else if (np < 64) {
            pos[np++] = a;
        }
#undef NEEDVAL
    }
    if (np == 2 && nb == 0 && nn == 0) {
        base_paths[nb++] = pos[0];
        new_paths[nn++] = pos[1];
    } else if (np != 0 || nb == 0 || nn == 0) {
        return tr_usage_error("compare", "give BASE and NEW (two paths), or --base and --new");
    }

    cmp_side base = {.label = "base", .by_model = o.by_model},
             neu = {.label = "new", .by_model = o.by_model};
    int rc = TR_EXIT_OK;
    for (int i = 0; i < nb && rc == 0; i++)
        if (load_path(&base, base_paths[i]) != 0)
            rc = TR_EXIT_ENV;
    for (int i = 0; i < nn && rc == 0; i++)
        if (load_path(&neu, new_paths[i]) != 0)
            rc = TR_EXIT_ENV;
    cmp_row *rows = NULL;
    int nrows = 0;
    FILE *out = stdout;
    if (rc != 0)
        goto done;
    rows = calloc((size_t)base.n * (2 + CMP_NMEM + 2) + 1, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "tqrun compare: out of memory\n");
        rc = TR_EXIT_ENV;
        goto done;
    }
    for (int i = 0; i < base.n; i++) {
        cmp_rec *nr = side_find(&neu, base.recs[i].key);
        if (!nr)
            continue;
        base.recs[i].matched = nr->matched = true;
        nrows += pair_rows(&base.recs[i], nr, &o, rows + nrows, 2 + CMP_NMEM + 2);
    }
    int only_count[2] = {0, 0};
    const cmp_side *only[2] = {&base, &neu};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < only[s]->n; i++)
            only_count[s] += !only[s]->recs[i].matched;

    if (o.output && !(out = fopen(o.output, "w"))) {
        fprintf(stderr, "tqrun compare: cannot write %s: %s\n", o.output, strerror(errno));
        rc = TR_EXIT_ENV;
        out = stdout;
        goto done;
    }
    int failed = 0, refused = 0, unsure = 0;
    for (int i = 0; i < nrows; i++) {
        failed += rows[i].gate_failed;
        refused += rows[i].refused;
        unsure += rows[i].gate_unsure;
    }
    if (o.format == F_HTML) {
        print_html(out, &base, &neu, rows, nrows, only, only_count);
    } else if (o.format == F_CSV) {
        for (int c = 0; c < NCOLS; c++)
            csv_cell(out, headers[c], c == NCOLS - 1);
        for (int i = 0; i < nrows; i++) {
            const char *cells[NCOLS];
            char verdict[64];
            row_cells(&rows[i], cells, verdict, sizeof verdict);
            for (int c = 0; c < NCOLS; c++)
                csv_cell(out, cells[c], c == NCOLS - 1);
        }
    } else {
        fprintf(out, "%sbase: commit %s%s%s, %d file(s), host %s\n", o.format == F_MARKDOWN ? "- " : "",
                base.commit, base.dirty ? " (dirty)" : "", base.mixed_commits ? " (mixed commits)" : "",
                base.files, base.host);
        fprintf(out, "%snew:  commit %s%s%s, %d file(s), host %s\n\n", o.format == F_MARKDOWN ? "- " : "",
                neu.commit, neu.dirty ? " (dirty)" : "", neu.mixed_commits ? " (mixed commits)" : "",
                neu.files, neu.host);
        if (o.format == F_MARKDOWN) {
            fputs("|", out);
            for (int c = 0; c < NCOLS; c++)
                fprintf(out, " %s |", headers[c]);
            fputs("\n|", out);
            for (int c = 0; c < NCOLS; c++)
                fputs("---|", out);
            fputs("\n", out);
            for (int i = 0; i < nrows; i++) {
                const char *cells[NCOLS];
                char verdict[64];
                row_cells(&rows[i], cells, verdict, sizeof verdict);
                fputs("|", out);
                for (int c = 0; c < NCOLS; c++) {
                    fputc(' ', out);
                    for (const char *p = cells[c]; *p; p++) {
                        if (*p == '|')
                            fputc('\\', out);
                        fputc(*p, out);
                    }
                    fputs(" |", out);
                }
                fputs("\n", out);
            }
        } else {
            tr_table *t = tr_table_new(NCOLS, headers);
            for (int i = 0; i < nrows && t; i++) {
                const char *cells[NCOLS];
                char verdict[64];
                row_cells(&rows[i], cells, verdict, sizeof verdict);
                tr_table_row(t, cells);
            }
            if (t)
                tr_table_print(t, out);
            tr_table_free(t);
            /* memory changes said plainly, e.g. "scratch 489.0 MiB -> 8480.0 MiB  x17.34" */
            for (int i = 0; i < nrows; i++) {
                const cmp_row *r = &rows[i];
                bool mem = strcmp(r->metric, "time") && strcmp(r->metric, "min_time") &&
                           strcmp(r->metric, "check") && strcmp(r->metric, "identity");
                if (mem && r->changed)
                    fprintf(out, "%s %s %s: %s %s -> %s  %s\n", r->b->backend, r->b->op, r->b->types,
                            r->metric, r->base_s, r->new_s, r->ratio_s);
            }
        }
        for (int s = 0; s < 2; s++) {
            if (!only_count[s])
                continue;
            fprintf(out, "\n%d record(s) only in %s:\n", only_count[s], s == 0 ? "base" : "new");
            for (int i = 0; i < only[s]->n; i++)
                if (!only[s]->recs[i].matched)
                    fprintf(out, "  %s\n", only[s]->recs[i].key);
        }
        /* Cloud machines hand out a different unit of the same GPU model from session to
         * session, and the device id names the unit: say so instead of only listing the
         * records as unmatched. */
        int units = 0;
        for (int i = 0; i < base.n && !o.by_model; i++) {
            if (base.recs[i].matched)
                continue;
            for (int j = 0; j < neu.n; j++)
                if (!neu.recs[j].matched && strcmp(base.recs[i].mkey, neu.recs[j].mkey) == 0) {
                    units++;
                    break;
                }
        }
        if (units)
            fprintf(out, "\n%d record(s) only in base have a record of the same device model in "
                    "new on another unit (device_id differs); --by-model compares them\n", units);
        if (refused)
            fprintf(out, "\n%d record(s) refused: driver or host differ (use --allow-mixed to compare anyway)\n", refused);
        if (nrows == 0 && only_count[0] + only_count[1] == 0)
            fprintf(out, "no records to compare\n");
    }
    if (failed) {
        fprintf(stderr, "tqrun compare: %d row(s) failed the gate\n", failed);
        rc = TR_EXIT_FAIL;
    } else if (unsure && o.unsure_exit) {
        fprintf(stderr, "tqrun compare: %d gated time row(s) unsure: take more samples\n", unsure);
        rc = o.unsure_exit;
    }
done:
    if (out != stdout)
        fclose(out);
    free(rows);
    side_free(&base);
    side_free(&neu);
    return rc;
}

int tr_compare_load_buffer(const char *text, size_t len)
{
    cmp_side side = {.label = "fuzz"};
    cmp_opts o = {.alpha = 0.05, .threshold = 0.05, .format = F_TABLE};
    int rc = load_text(&side, "(buffer)", text, len);
    if (rc == 0 && side.n > 0) {
        /* Every record against itself: the pairing and statistics see what was read. */
        cmp_row *rows = calloc((size_t)side.n * (2 + CMP_NMEM + 2) + 1, sizeof *rows);
        for (int i = 0, k = 0; rows && i < side.n; i++)
            k += pair_rows(&side.recs[i], &side.recs[i], &o, rows + k, 2 + CMP_NMEM + 2);
        free(rows);
    }
    side_free(&side);
    return rc;
}
