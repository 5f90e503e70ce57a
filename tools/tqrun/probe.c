/*
 * probe.c: each plugin is loaded first in a forked child (init, every device's info,
 * shutdown), all children at once; `tqrun list` then loads only the plugins whose child
 * came back. A plugin that crashes or hangs costs its own listing line, not the whole
 * command. The fork happens before any plugin is opened in this process, so the child
 * starts from a process with no plugin threads or state.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define PROBE_DEFAULT_TIMEOUT_S 10

static tq_status open_runtime(const tr_common *c, const char *only, tq_runtime **out)
{
    tq_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_path = c->plugin_path;
    o.skip_install_dir = c->no_default_plugins;
    o.skip_env = c->no_default_plugins;
    o.only_backends = only;
    return tq_runtime_create(&o, out);
}

/* The child: load one plugin the way the parent would, touch every device, unload. */
static void __attribute__((noreturn)) child_main(const tr_common *c, const char *name)
{
    setpgid(0, 0);   /* so a timeout kills whatever the plugin started, too */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
        dup2(devnull, STDOUT_FILENO);
    /* The parent reports load failures itself; the child only has to survive. */
    if (!getenv("TQ_LOG"))
        setenv("TQ_LOG", "error", 1);
    tq_runtime *rt = NULL;
    tq_status st = open_runtime(c, name, &rt);
    if (st) {
        tq_status_free(st);
        _exit(0);
    }
    for (uint32_t b = 0; b < tq_runtime_backend_count(rt); b++) {
        tq_backend *be = tq_runtime_backend_get(rt, b);
        for (uint32_t d = 0; d < tq_backend_device_count(be); d++) {
            tq_device_info info;
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            tq_status_free(tq_backend_device_info(be, d, &info));
        }
    }
    tq_runtime_destroy(rt);
    _exit(0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int probe_timeout(void)
{
    const char *v = getenv("TQ_PROBE_TIMEOUT");
    if (!v || !*v)
        return PROBE_DEFAULT_TIMEOUT_S;
    char *end = NULL;
    long t = strtol(v, &end, 10);
    if (*end || t < 0 || t > 3600) {
        fprintf(stderr, "tqrun: TQ_PROBE_TIMEOUT='%s' is not a number of seconds (0-3600); "
                "using %d\n", v, PROBE_DEFAULT_TIMEOUT_S);
        return PROBE_DEFAULT_TIMEOUT_S;
    }
    return (int)t;
}

static void describe(tr_probe *p, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        p->ok = true;
        return;
    }
    if (WIFSIGNALED(status))
        snprintf(p->reason, sizeof p->reason, "crashed (signal %d: %s) while loading in a probe "
                 "process; not loaded", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else   /* sanitizers turn a crash into an exit status */
        snprintf(p->reason, sizeof p->reason, "crashed (exit status %d) while loading in a "
                 "probe process; not loaded", WEXITSTATUS(status));
}

/* Unique plugin names of the manifests found, from a runtime that opened no library. */
static bool collect_names(const tr_common *c, tr_probe_set *s)
{
    tq_runtime *scan = NULL;
    if (tr_report("cannot create the runtime", open_runtime(c, "", &scan)))
        return false;
    uint32_t np = tq_runtime_plugin_count(scan);
    s->p = calloc(np ? np : 1, sizeof *s->p);
    if (!s->p) {
        tq_runtime_destroy(scan);
        return false;
    }
    for (uint32_t i = 0; i < np; i++) {
        const tq_plugin_report *r = tq_runtime_plugin_report(scan, i);
        /* Names that break the manifest rule never load, so need no probe (and could
         * not be put in an only_backends list). */
        if (!r || !r->name || !r->name[0] || strlen(r->name) >= sizeof s->p[0].name ||
            r->name[strspn(r->name, "abcdefghijklmnopqrstuvwxyz0123456789_-")])
            continue;
        bool seen = false;
        for (int j = 0; j < s->n && !seen; j++)
            seen = strcmp(s->p[j].name, r->name) == 0;
        if (!seen)
            snprintf(s->p[s->n++].name, sizeof s->p[0].name, "%s", r->name);
    }
    tq_runtime_destroy(scan);
    return true;
}

bool tr_probe_plugins(const tr_common *c, tr_probe_set *s)
{
    memset(s, 0, sizeof *s);
    s->timeout_s = probe_timeout();
    if (s->timeout_s == 0)
        return true;
    if (!collect_names(c, s))
        return false;

    pid_t *pid = calloc((size_t)(s->n ? s->n : 1), sizeof *pid);
    size_t only_cap = 1;
    for (int i = 0; i < s->n; i++)
        only_cap += strlen(s->p[i].name) + 1;
    s->only = calloc(only_cap, 1);
    if (!pid || !s->only) {
        free(pid);
        fprintf(stderr, "tqrun: out of memory\n");
        return false;
    }
    fflush(NULL);   /* the child must not flush the parent's buffered output again */
    for (int i = 0; i < s->n; i++) {
        pid[i] = fork();
        if (pid[i] == 0)
            child_main(c, s->p[i].name);
        if (pid[i] < 0) {
            /* Cannot isolate it: say so, and do not risk loading it here. */
            snprintf(s->p[i].reason, sizeof s->p[i].reason, "not probed (fork failed: %s); "
                     "not loaded", strerror(errno));
        }
    }

    double deadline = now_s() + s->timeout_s;
    int pending = 0;
    for (int i = 0; i < s->n; i++)
        pending += pid[i] > 0;
    while (pending > 0 && now_s() < deadline) {
        for (int i = 0; i < s->n; i++) {
            int status = 0;
            if (pid[i] > 0 && waitpid(pid[i], &status, WNOHANG) == pid[i]) {
                describe(&s->p[i], status);
                pid[i] = 0;
                pending--;
            }
        }
        if (pending)
            nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
    }
    for (int i = 0; i < s->n; i++) {
        if (pid[i] <= 0)
            continue;
        kill(-pid[i], SIGKILL);
        kill(pid[i], SIGKILL);
        waitpid(pid[i], NULL, 0);
        snprintf(s->p[i].reason, sizeof s->p[i].reason, "hung: killed after %d s while "
                 "loading in a probe process (TQ_PROBE_TIMEOUT); not loaded", s->timeout_s);
    }
    free(pid);

    for (int i = 0; i < s->n; i++) {
        if (!s->p[i].ok)
            continue;
        if (s->only[0])
            strcat(s->only, ",");
        strcat(s->only, s->p[i].name);
    }
    return true;
}

const tr_probe *tr_probe_failure(const tr_probe_set *s, const char *name)
{
    for (int i = 0; name && i < s->n; i++)
        if (!s->p[i].ok && strcmp(s->p[i].name, name) == 0)
            return &s->p[i];
    return NULL;
}

bool tr_probe_runtime_open(const tr_common *c, const tr_probe_set *s, tq_runtime **out)
{
    /* Probing off: load everything, as every other subcommand does. */
    const char *only = s->timeout_s ? s->only : NULL;
    return !tr_report("cannot create the runtime", open_runtime(c, only, out));
}

void tr_probe_free(tr_probe_set *s)
{
    free(s->p);
    free(s->only);
    memset(s, 0, sizeof *s);
}
