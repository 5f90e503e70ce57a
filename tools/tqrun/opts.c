/*
 * opts.c: a small long-option parser shared by all subcommands.
 *
 * Why not getopt_long: every subcommand also accepts the common options, unknown options
 * must give tqrun's own message and exit 2, and "--opt=value" and "--opt value" must both
 * work; a table-driven loop does all of that in a few lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tqrun.h"

enum { C_BACKEND = 1000, C_DEVICE, C_OPTIONS, C_JSON, C_PLUGIN_PATH, C_NO_DEFAULT, C_SEED,
       C_VERBOSE };

static const tr_optspec common_spec[] = {
    { "backend", 'b', true, C_BACKEND },
    { "device", 'd', true, C_DEVICE },
    { "options", 'o', true, C_OPTIONS },
    { "json", 0, true, C_JSON },
    { "plugin-path", 0, true, C_PLUGIN_PATH },
    { "no-default-plugins", 0, false, C_NO_DEFAULT },
    { "seed", 0, true, C_SEED },
    { "verbose", 'v', false, C_VERBOSE },
    { NULL, 0, false, 0 },
};

void tr_parser_init(tr_parser *p, const char *cmd, int argc, char **argv)
{
    p->argc = argc;
    p->argv = argv;
    p->index = 0;
    p->cmd = cmd;
}

int tr_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tqrun%s%s: ", cmd && *cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'tqrun%s%s --help'.\n", cmd && *cmd ? " " : "", cmd ? cmd : "");
    return TR_EXIT_USAGE;
}

static const tr_optspec *find_long(const tr_optspec *spec, const char *name, size_t len)
{
    for (; spec && spec->name; spec++)
        if (strlen(spec->name) == len && strncmp(spec->name, name, len) == 0)
            return spec;
    return NULL;
}

static const tr_optspec *find_short(const tr_optspec *spec, char c)
{
    for (; spec && spec->name; spec++)
        if (spec->short_name && spec->short_name == c)
            return spec;
    return NULL;
}

static bool apply_common(tr_parser *p, int id, const char *arg, tr_common *c)
{
    switch (id) {
    case C_BACKEND: c->backends = arg; return true;
    case C_DEVICE: c->device = arg; return true;
    case C_OPTIONS: c->options = arg; return true;
    case C_JSON:
        c->json_path = arg;
        if (strcmp(arg, "-") == 0)
            tr_json_claim_stdout();
        return true;
    case C_PLUGIN_PATH: c->plugin_path = arg; return true;
    case C_NO_DEFAULT: c->no_default_plugins = true; return true;
    case C_VERBOSE: c->verbose++; return true;
    case C_SEED:
        if (!tr_parse_u64(p->cmd, "--seed", arg, &c->seed))
            return false;
        c->seed_set = true;
        return true;
    default: return false;
    }
}

int tr_opt_next(tr_parser *p, const tr_optspec *spec, tr_common *common, const char **out_arg)
{
    for (;;) {
        *out_arg = NULL;
        if (p->index >= p->argc)
            return TR_OPT_END;
        const char *a = p->argv[p->index++];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return TR_OPT_HELP;
        const tr_optspec *o = NULL;
        const char *inline_val = NULL;
        bool from_common = false;
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(spec, name, len);
            if (!o && (o = find_long(common_spec, name, len)) != NULL)
                from_common = true;
            if (!o) {
                tr_usage_error(p->cmd, "unknown option '--%.*s'", (int)len, name);
                return TR_OPT_ERROR;
            }
            if (eq)
                inline_val = eq + 1;
        } else if (a[0] == '-' && a[1] && !a[2]) {
            o = find_short(spec, a[1]);
            if (!o && (o = find_short(common_spec, a[1])) != NULL)
                from_common = true;
            if (!o) {
                tr_usage_error(p->cmd, "unknown option '%s'", a);
                return TR_OPT_ERROR;
            }
        } else {
            tr_usage_error(p->cmd, "unexpected argument '%s'", a);
            return TR_OPT_ERROR;
        }
        if (o->has_arg) {
            if (inline_val) {
                *out_arg = inline_val;
            } else if (p->index < p->argc) {
                *out_arg = p->argv[p->index++];
            } else {
                tr_usage_error(p->cmd, "option '--%s' needs a value", o->name);
                return TR_OPT_ERROR;
            }
        } else if (inline_val) {
            tr_usage_error(p->cmd, "option '--%s' takes no value", o->name);
            return TR_OPT_ERROR;
        }
        if (from_common) {
            if (!apply_common(p, o->id, *out_arg, common))
                return TR_OPT_ERROR;
            continue;
        }
        return o->id;
    }
}

bool tr_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!s || !*s || *s == '-') {
        tr_usage_error(cmd, "%s expects a non-negative integer, got '%s'", opt, s ? s : "");
        return false;
    }
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) {
        tr_usage_error(cmd, "%s expects a non-negative integer, got '%s'", opt, s);
        return false;
    }
    *out = v;
    return true;
}

/* Accepts k/K and m/M suffixes for context lengths: "32k" = 32768. */
bool tr_parse_i64_list(const char *cmd, const char *opt, const char *s, int64_t *out,
                       int max, int *out_n)
{
    int n = 0;
    const char *q = s;
    if (!s || !*s) {
        tr_usage_error(cmd, "%s expects a comma-separated list of positive integers", opt);
        return false;
    }
    while (*q) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(q, &end, 10);
        if (end == q || errno || v <= 0) {
            tr_usage_error(cmd, "%s expects positive integers, got '%s'", opt, s);
            return false;
        }
        if (*end == 'k' || *end == 'K') {
            v *= 1024;
            end++;
        } else if (*end == 'm' || *end == 'M') {
            v *= 1024 * 1024;
            end++;
        }
        if (*end && *end != ',') {
            tr_usage_error(cmd, "%s expects positive integers, got '%s'", opt, s);
            return false;
        }
        if (n >= max) {
            tr_usage_error(cmd, "%s: at most %d values", opt, max);
            return false;
        }
        out[n++] = v;
        q = *end ? end + 1 : end;
    }
    *out_n = n;
    return true;
}

static bool parse_type_n(const char *cmd, const char *opt, const char *s, size_t len,
                         tq_type *out)
{
    char name[32];
    if (len == 0 || len >= sizeof name) {
        tr_usage_error(cmd, "%s: empty or too long type name in '%s'", opt, s);
        return false;
    }
    memcpy(name, s, len);
    name[len] = 0;
    tq_status st = tq_type_from_name(name, out);
    if (st) {
        tq_status_free(st);
        tr_usage_error(cmd, "%s: unknown type '%s' (types: f32 f16 q8_0 q4_0 turbo2 turbo3 "
                       "turbo4)", opt, name);
        return false;
    }
    return true;
}

bool tr_parse_type_list(const char *cmd, const char *opt, const char *s, tq_type *out,
                        int max, int *out_n)
{
    int n = 0;
    if (!s || !*s)
        return tr_usage_error(cmd, "%s expects a list of types", opt), false;
    if (strcmp(s, "all") == 0) {
        for (int t = 0; t < TQ_TYPE_COUNT && t < max; t++)
            out[n++] = (tq_type)t;
        *out_n = n;
        return true;
    }
    for (const char *q = s; *q;) {
        size_t len = strcspn(q, ",");
        if (n >= max)
            return tr_usage_error(cmd, "%s: too many types", opt), false;
        if (!parse_type_n(cmd, opt, q, len, &out[n++]))
            return false;
        q += len;
        if (*q == ',')
            q++;
    }
    *out_n = n;
    return true;
}

bool tr_parse_pair_list(const char *cmd, const char *opt, const char *s, tq_type *out_k,
                        tq_type *out_v, int max, int *out_n)
{
    int n = 0;
    if (!s || !*s)
        return tr_usage_error(cmd, "%s expects K/V type pairs such as q8_0/turbo4", opt), false;
    for (const char *q = s; *q;) {
        size_t len = strcspn(q, ",");
        const char *slash = memchr(q, '/', len);
        if (n >= max)
            return tr_usage_error(cmd, "%s: too many type pairs", opt), false;
        if (slash) {
            if (!parse_type_n(cmd, opt, q, (size_t)(slash - q), &out_k[n]) ||
                !parse_type_n(cmd, opt, slash + 1, len - (size_t)(slash - q) - 1, &out_v[n]))
                return false;
        } else {
            if (!parse_type_n(cmd, opt, q, len, &out_k[n]))
                return false;
            out_v[n] = out_k[n];
        }
        n++;
        q += len;
        if (*q == ',')
            q++;
    }
    *out_n = n;
    return true;
}

bool tr_parse_heads(const char *cmd, const char *opt, const char *s, int64_t *out_h,
                    int64_t *out_kvh)
{
    char *end = NULL;
    long long h = strtoll(s, &end, 10), kvh = h;
    if (end != s && *end == '/') {
        const char *k = end + 1;
        kvh = strtoll(k, &end, 10);
        if (end == k)
            kvh = 0;
    }
    if (end == s || *end || h <= 0 || kvh <= 0 || h % kvh) {
        tr_usage_error(cmd, "%s expects HEADS or HEADS/KV_HEADS with HEADS a multiple of "
                       "KV_HEADS, got '%s'", opt, s);
        return false;
    }
    *out_h = h;
    *out_kvh = kvh;
    return true;
}
