#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_test_util.h"

char *rt_mkdtemp(void)
{
    char tmpl[] = "/tmp/tq_rt_XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

void rt_rmtree(char *path)
{
    DIR *dh = opendir(path);
    if (dh) {
        struct dirent *e;
        while ((e = readdir(dh))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            unlink(p);
        }
        closedir(dh);
    }
    rmdir(path);
    free(path);
}

void rt_write(const char *dir, const char *name, const char *text)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

void rt_manifest(const char *dir, const char *file, const char *name, const char *library,
                 int abi_major, int priority)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\n  \"name\": \"%s\",\n  \"library\": \"%s\",\n  \"abi_major\": %d,\n"
             "  \"priority\": %d\n}\n", name, library, abi_major, priority);
    rt_write(dir, file, text);
}

tq_runtime *rt_open_dir(const char *dir)
{
    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_path = dir;
    o.skip_install_dir = true;
    o.skip_env = true;
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(&o, &rt));
    return rt;
}

const tq_plugin_report *rt_report(const tq_runtime *rt, const char *suffix)
{
    size_t ls = strlen(suffix);
    for (uint32_t i = 0; i < tq_runtime_plugin_count(rt); i++) {
        const tq_plugin_report *r = tq_runtime_plugin_report(rt, i);
        size_t l = strlen(r->manifest_path);
        if (l >= ls && strcmp(r->manifest_path + l - ls, suffix) == 0)
            return r;
    }
    return NULL;
}

tq_runtime *rt_open_ref(tq_backend **out_ref)
{
    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.skip_env = true;
    o.only_backends = "ref";
    tq_runtime *rt = NULL;
    RT_OK(tq_runtime_create(&o, &rt));
    RT_OK(tq_runtime_backend_find(rt, "ref", out_ref));
    return rt;
}

tq_context *rt_ref_context(tq_backend *ref)
{
    tq_context *c = NULL;
    RT_OK(tq_context_create(ref, 0, NULL, &c));
    return c;
}

void rt_ok(tq_status st, const char *file, int line)
{
    if (st) {
        print_error("%s:%d: unexpected status %s: %s\n", file, line,
                    tq_code_name(tq_status_code(st)), tq_status_message(st));
        tq_status_free(st);
        fail();
    }
}

void rt_expect(tq_status st, tq_code code, ...)
{
    if (!st) {
        print_error("expected %s, got OK\n", tq_code_name(code));
        fail();
    }
    const char *msg = tq_status_message(st);
    if (tq_status_code(st) != code) {
        print_error("expected %s, got %s: %s\n", tq_code_name(code),
                    tq_code_name(tq_status_code(st)), msg);
        tq_status_free(st);
        fail();
    }
    va_list ap;
    va_start(ap, code);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
        if (!strstr(msg, s)) {
            print_error("message \"%s\" lacks \"%s\"\n", msg, s);
            va_end(ap);
            tq_status_free(st);
            fail();
        }
    }
    va_end(ap);
    tq_status_free(st);
}

tq_tensor *rt_tensor(tq_context *c, tq_type type, int64_t n0, int64_t n1, int64_t n2,
                     int64_t n3, tq_mem_class cls)
{
    const int64_t ne[4] = { n0, n1, n2, n3 };
    tq_tensor *t = NULL;
    RT_OK(tq_tensor_create(c, type, ne, cls, &t));
    return t;
}
