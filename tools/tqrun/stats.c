/*
 * stats.c: the statistics behind `tqrun compare`: medians and the two-sided
 * Mann-Whitney U test, exact for small samples and with the normal approximation
 * (tie-corrected, continuity-corrected) for larger ones. Time deltas are called real only
 * when this test and a practical threshold agree (docs/bisecting.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tqrun_stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tr_median(const double *x, int n)
{
    if (n <= 0)
        return NAN;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = (n % 2) ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

double tr_min(const double *x, int n)
{
    double m = INFINITY;
    for (int i = 0; i < n; i++)
        m = x[i] < m ? x[i] : m;
    return n > 0 ? m : NAN;
}

/* Probability, under H0, that U <= u for sample sizes m, n without ties: counts of
 * arrangements by U via f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u), in doubles. */
static double exact_cdf(int m, int n, double u)
{
    int umax = m * n;
    /* table[j][k]: counts for sizes (i, j) with U = k, rolled over i. */
    size_t w = (size_t)umax + 1;
    double *prev = calloc((size_t)(n + 1) * w, sizeof *prev);
    double *cur = calloc((size_t)(n + 1) * w, sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return NAN;
    }
    for (int j = 0; j <= n; j++)
        prev[(size_t)j * w] = 1.0;                 /* i = 0: one arrangement, U = 0 */
    for (int i = 1; i <= m; i++) {
        memset(cur, 0, (size_t)(n + 1) * w * sizeof *cur);
        cur[0] = 1.0;                              /* j = 0 */
        for (int j = 1; j <= n; j++)
            for (int k = 0; k <= i * j; k++) {
                double a = k >= j ? prev[(size_t)j * w + (size_t)(k - j)] : 0.0;
                double b = cur[(size_t)(j - 1) * w + (size_t)k];
                cur[(size_t)j * w + (size_t)k] = a + b;
            }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    double total = 0.0, below = 0.0;
    for (int k = 0; k <= umax; k++) {
        double c = prev[(size_t)n * w + (size_t)k];
        total += c;
        if (k <= u + 1e-9)
            below += c;
    }
    free(prev);
    free(cur);
    return below / total;
}

double tr_mann_whitney_p(const double *a, int na, const double *b, int nb)
{
    if (na < 1 || nb < 1)
        return NAN;
    int n = na + nb;
    struct item { double v; int from_a; } *all = malloc((size_t)n * sizeof *all);
    double *rank = malloc((size_t)n * sizeof *rank);
    if (!all || !rank) {
        free(all);
        free(rank);
        return NAN;
    }
    for (int i = 0; i < na; i++)
        all[i] = (struct item){a[i], 1};
    for (int i = 0; i < nb; i++)
        all[na + i] = (struct item){b[i], 0};
    /* insertion sort keeps this dependency-free; samples are at most a few thousand */
    for (int i = 1; i < n; i++) {
        struct item x = all[i];
        int j = i - 1;
        while (j >= 0 && all[j].v > x.v) {
            all[j + 1] = all[j];
            j--;
        }
        all[j + 1] = x;
    }
    double tie_term = 0.0;
    int ties = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && all[j + 1].v == all[i].v)
            j++;
        double r = 0.5 * (double)(i + j) + 1.0;  /* average rank, 1-based */
        for (int k = i; k <= j; k++)
            rank[k] = r;
        double t = (double)(j - i + 1);
        if (t > 1) {
            tie_term += t * t * t - t;
            ties = 1;
        }
        i = j + 1;
    }
    double ra = 0.0;
    for (int i = 0; i < n; i++)
        if (all[i].from_a)
            ra += rank[i];
    free(all);
    free(rank);
    double ua = ra - (double)na * (na + 1) / 2.0;
    double ub = (double)na * nb - ua;
    double u = ua < ub ? ua : ub;
    if (!ties && n <= 40) {
        double p = 2.0 * exact_cdf(na, nb, u);
        return p > 1.0 ? 1.0 : p;
    }
    double mu = (double)na * nb / 2.0;
    double var = (double)na * nb / 12.0 * ((n + 1) - tie_term / ((double)n * (n - 1)));
    if (var <= 0.0)
        return 1.0;   /* every sample identical: no evidence of a difference */
    double z = (fabs(u - mu) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    double p = erfc(z / sqrt(2.0));
    return p > 1.0 ? 1.0 : p;
}
