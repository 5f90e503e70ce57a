/*
 * util.c: deterministic data, byte/time formatting, aligned tables and the progress line.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tqrun.h"

/* ------------------------------------------------------------ PRNG: xoshiro256** */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void tr_rng_seed(tr_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tr_rng_next(tr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tr_rng_uniform(tr_rng *r) { return (double)(tr_rng_next(r) >> 11) * 0x1.0p-53; }

/* Box-Muller without caching the second value: simpler and still deterministic. */
float tr_rng_gauss(tr_rng *r)
{
    double u1 = tr_rng_uniform(r), u2 = tr_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void tr_fill_gauss(tr_rng *r, float *x, int64_t n, float sigma)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = sigma * tr_rng_gauss(r);
}

uint64_t tr_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

uint64_t tr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ formatting */

const char *tr_fmt_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f %s", v, unit[u]);
    return buf;
}

const char *tr_fmt_ns(double ns, char *buf, size_t size)
{
    if (ns < 1e3)
        snprintf(buf, size, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, size, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, size, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, size, "%.2f s", ns / 1e9);
    return buf;
}

/* ------------------------------------------------------------ tables */

struct tr_table {
    int ncols, nrows, cap;
    char **cells;   /* (nrows + 1) * ncols, row 0 = headers */
};

tr_table *tr_table_new(int ncols, const char *const *headers)
{
    tr_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    tr_table_row(t, headers);
    return t;
}

void tr_table_row(tr_table *t, const char *const *cells)
{
    if (!t)
        return;
    if (t->nrows + 1 > t->cap) {
        int cap = t->cap ? t->cap * 2 : 32;
        char **c = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *c);
        if (!c)
            return;
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[(size_t)t->nrows * (size_t)t->ncols + (size_t)i] =
            strdup(cells[i] ? cells[i] : "");
    t->nrows++;
}

int tr_table_rows(const tr_table *t) { return t ? t->nrows - 1 : 0; }

void tr_table_print(const tr_table *t, FILE *f)
{
    if (!t || t->nrows == 0)
        return;
    size_t *w = calloc((size_t)t->ncols, sizeof *w);
    if (!w)
        return;
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
            size_t l = s ? strlen(s) : 0;
            if (l > w[c])
                w[c] = l;
        }
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                fprintf(f, "%s", s ? s : "");
            else
                fprintf(f, "%-*s  ", (int)w[c], s ? s : "");
        }
        fputc('\n', f);
        if (r == 0) {
            for (int c = 0; c < t->ncols; c++) {
                for (size_t i = 0; i < w[c]; i++)
                    fputc('-', f);
                if (c != t->ncols - 1)
                    fputs("  ", f);
            }
            fputc('\n', f);
        }
    }
    free(w);
}

void tr_table_free(tr_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < (size_t)t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ------------------------------------------------------------ progress */

static int progress_active;
static uint64_t progress_last_ns, progress_start_ns;

void tr_progress(const char *fmt, ...)
{
    bool tty = isatty(STDERR_FILENO);
    uint64_t now = tr_now_ns();
    /* Plain lines (logs, CI) at most every 2 s; a tty redraws at most 10 times a second. */
    uint64_t gap = tty ? 100000000ull : 2000000000ull;
    if (!progress_start_ns)
        progress_start_ns = now;
    /* Short phases print nothing in logs; long ones a line every 2 s. */
    if (!tty && now - progress_start_ns < gap)
        return;
    if (progress_last_ns && now - progress_last_ns < gap)
        return;
    progress_last_ns = now;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (tty) {
        fprintf(stderr, "\r%-100.100s", line);
        progress_active = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void tr_progress_done(void)
{
    if (progress_active) {
        fprintf(stderr, "\r%-100s\r", "");
        fflush(stderr);
    }
    progress_active = 0;
    progress_last_ns = 0;
    progress_start_ns = 0;
}

uint64_t tr_device_room(const tq_device_info *info)
{
    return (info->memory_free ? info->memory_free : info->memory_total) / 10 * 9;
}
