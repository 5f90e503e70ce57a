/*
 * rt_test_util.h: helpers shared by the runtime tests (temporary plugin directories,
 * manifests, status assertions, a context on the ref backend).
 */
#ifndef RT_TEST_UTIL_H
#define RT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tq/tq.h"

/* A fresh 0700 directory under /tmp; free with rt_rmtree. */
char *rt_mkdtemp(void);
/* Removes the files of a flat directory, then the directory; frees path. */
void rt_rmtree(char *path);
/* Writes text to dir/name. */
void rt_write(const char *dir, const char *name, const char *text);
/* Writes a manifest dir/<file> with the given fields. */
void rt_manifest(const char *dir, const char *file, const char *name, const char *library,
                 int abi_major, int priority);

/* A runtime searching only dir (no env, no install dir). */
tq_runtime *rt_open_dir(const char *dir);
/* The report whose manifest path ends with suffix, or NULL. */
const tq_plugin_report *rt_report(const tq_runtime *rt, const char *suffix);

/* The ref backend from the build tree (install-dir discovery only). */
tq_runtime *rt_open_ref(tq_backend **out_ref);
tq_context *rt_ref_context(tq_backend *ref);

/* Asserts st has code and that its message contains each of the NULL-terminated
 * substrings; frees st. */
void rt_expect(tq_status st, tq_code code, ...);
#define RT_EXPECT(st, code, ...) rt_expect((st), (code), __VA_ARGS__, (const char *)NULL)
/* Asserts st is NULL, printing its message otherwise. */
#define RT_OK(st) rt_ok((st), __FILE__, __LINE__)
void rt_ok(tq_status st, const char *file, int line);

tq_tensor *rt_tensor(tq_context *c, tq_type type, int64_t n0, int64_t n1, int64_t n2,
                     int64_t n3, tq_mem_class cls);

#endif
