/* tqrun_stats.h: medians and the Mann-Whitney U test used by `tqrun compare`. */
#ifndef TQRUN_STATS_H
#define TQRUN_STATS_H

double tr_median(const double *x, int n);   /* NAN for n <= 0 */
double tr_min(const double *x, int n);
/* Two-sided p-value that samples a and b come from the same distribution. Exact for
 * n_a + n_b <= 40 without ties, normal approximation otherwise; NAN for empty input. */
double tr_mann_whitney_p(const double *a, int na, const double *b, int nb);

#endif
