/*
 * json.c: the tq-results document (docs/tqrun.md, "Results JSON"). Versioned and
 * additive: readers must ignore fields they do not know and reject other major versions.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "tqrun.h"

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
            const char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                snprintf(buf, size, "%s", c);
                buf[strcspn(buf, "\n")] = 0;
                break;
            }
        }
    }
    fclose(f);
}

cJSON *tr_json_doc_new(const char *command)
{
    cJSON *doc = cJSON_CreateObject();
    char buf[512];
    cJSON_AddStringToObject(doc, "schema", TR_SCHEMA);
    cJSON_AddStringToObject(doc, "schema_version", TR_SCHEMA_VERSION);
    snprintf(buf, sizeof buf, "tqrun %s", tr_version());
    cJSON_AddStringToObject(doc, "tool", buf);
    cJSON_AddStringToObject(doc, "command", command ? command : "");
    cJSON_AddStringToObject(doc, "commit", tr_build_commit());
    bool known = false;
    bool now_dirty = tr_source_dirty(&known);
    const char *head = tr_source_head();
    cJSON_AddBoolToObject(doc, "dirty", tr_build_dirty() || (known && now_dirty));
    cJSON *src = cJSON_AddObjectToObject(doc, "source");
    cJSON_AddBoolToObject(src, "build_dirty", tr_build_dirty());
    if (known) {
        cJSON_AddBoolToObject(src, "checkout_dirty", now_dirty);
        cJSON_AddStringToObject(src, "checkout_head", head);
        cJSON_AddBoolToObject(src, "checkout_matches_build",
                              strcmp(head, tr_build_commit()) == 0);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(doc, "time", buf);
    cJSON *build = cJSON_AddObjectToObject(doc, "build");
    tr_ident_build(build);
    cJSON *host = cJSON_AddObjectToObject(doc, "host");
    if (gethostname(buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "unknown");
    buf[sizeof buf - 1] = 0;
    cJSON_AddStringToObject(host, "hostname", buf);
    cpu_model(buf, sizeof buf);
    cJSON_AddStringToObject(host, "cpu", buf);
    cJSON_AddNumberToObject(host, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        cJSON_AddStringToObject(host, "os", buf);
    }
    cJSON_AddArrayToObject(doc, "records");
    return doc;
}

cJSON *tr_json_records(cJSON *doc) { return cJSON_GetObjectItemCaseSensitive(doc, "records"); }

cJSON *tr_json_record_new(cJSON *doc, const tr_target *t, const char *variant, const char *op)
{
    cJSON *rec = cJSON_CreateObject();
    if (t) {
        cJSON_AddStringToObject(rec, "backend", tq_backend_name(t->backend));
        cJSON_AddStringToObject(rec, "device", t->info.name);
        cJSON_AddStringToObject(rec, "device_id", t->info.id);
        cJSON_AddStringToObject(rec, "device_type", tq_device_type_name(t->info.type));
        cJSON_AddStringToObject(rec, "driver", t->info.driver);
    } else {
        cJSON_AddStringToObject(rec, "backend", "host");
        cJSON_AddStringToObject(rec, "device", "");
        cJSON_AddStringToObject(rec, "device_id", "");
        cJSON_AddStringToObject(rec, "driver", "");
    }
    cJSON_AddStringToObject(rec, "variant", variant ? variant : "");
    cJSON_AddStringToObject(rec, "op", op);
    /* Run options (forced variant, threads, ...) are part of what was measured: readers
     * key records on "mode" so runs with different options never compare as one case. */
    if (t && t->options[0]) {
        cJSON *mode = cJSON_AddObjectToObject(rec, "mode");
        cJSON_AddStringToObject(mode, "options", t->options);
    }
    if (doc)
        cJSON_AddItemToArray(tr_json_records(doc), rec);
    return rec;
}

/* With --json -, the document owns stdout: tables and messages go to stderr instead, so
 * `tqrun bench --json - | jq` gets clean JSON. */
static FILE *json_stdout;

void tr_json_claim_stdout(void)
{
    if (json_stdout)
        return;
    fflush(stdout);
    int fd = dup(STDOUT_FILENO);
    if (fd < 0)
        return;
    json_stdout = fdopen(fd, "w");
    if (!json_stdout) {
        close(fd);
        return;
    }
    dup2(STDERR_FILENO, STDOUT_FILENO);
}

void tr_json_add_memory(cJSON *rec, const tq_memory_stats *m)
{
    cJSON *mem = cJSON_AddObjectToObject(rec, "memory");
    for (int c = 0; c < TQ_MEM_CLASS_COUNT; c++) {
        cJSON *cls = cJSON_AddObjectToObject(mem, tq_mem_class_name((tq_mem_class)c));
        cJSON_AddNumberToObject(cls, "current", (double)m->current[c]);
        cJSON_AddNumberToObject(cls, "peak", (double)m->peak[c]);
    }
    cJSON *tot = cJSON_AddObjectToObject(mem, "total");
    cJSON_AddNumberToObject(tot, "current", (double)m->current_total);
    cJSON_AddNumberToObject(tot, "peak", (double)m->peak_total);
}

void tr_json_add_check(cJSON *rec, const char *metric, double value, double limit, bool pass)
{
    cJSON *c = cJSON_AddObjectToObject(rec, "check");
    cJSON_AddStringToObject(c, "metric", metric);
    cJSON_AddNumberToObject(c, "value", value);
    cJSON_AddNumberToObject(c, "limit", limit);
    cJSON_AddBoolToObject(c, "pass", pass);
}

bool tr_json_write(const cJSON *doc, const char *path)
{
    char *text = cJSON_Print(doc);
    if (!text) {
        fprintf(stderr, "tqrun: out of memory writing JSON\n");
        return false;
    }
    bool ok = true;
    if (strcmp(path, "-") == 0) {
        FILE *out = json_stdout ? json_stdout : stdout;
        fputs(text, out);
        fputc('\n', out);
        fflush(out);
    } else {
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF) {
            fprintf(stderr, "tqrun: cannot write '%s'\n", path);
            ok = false;
        }
        if (f && fclose(f) != 0 && ok) {
            fprintf(stderr, "tqrun: cannot write '%s'\n", path);
            ok = false;
        }
    }
    free(text);
    return ok;
}
