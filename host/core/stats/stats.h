/* SPDX-License-Identifier: MIT */
/* Resampling statistics, C backend. Every random draw is a pure function of
 * (seed, resample, position) through Philox4x32-10, so any backend (this
 * one, the OpenCL kernels) and any number of threads give the same
 * resamples, and the same intervals, for the same seed:
 *
 *   draw i of resample b: block = philox(ctr = {i / 4, b, TAG, 0}, key = seed),
 *   index = (block.v[i % 4] * n) >> 32   (multiply-shift; bias at most n / 2^32)
 *   the mean: draw i added into partial sum i % 8, the sums added as
 *   ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)), divided by n
 *
 * Scores with two distinct values use the exact multinomial reduction: the
 * resampled mean is a binomial draw, one uniform per resample through the
 * inverse of the binomial CDF (tabulated once). */
#ifndef CE_STATS_H
#define CE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

enum { CE_STATS_TAG_RESAMPLE = 0x73747231u, CE_STATS_TAG_REDUCE = 0x73747232u, CE_STATS_TAG_SIGN = 0x73747233u };

/* Means of `iters` resamples of x (n values) into out[iters]. threads <= 0:
 * all cores. reduce: use the two-value reduction when x has two distinct
 * values (returns 1 when it was used, 0 otherwise, -1 on bad input). */
int ce_stats_boot_means(const double *x, int n, uint64_t seed, int iters, int threads, int reduce, double *out,
                        ce_err *err);
/* The two-value reduction's table, as both backends invert it: when x holds
 * exactly two distinct values, sets *v0 < *v1 and returns the CDF of
 * Binomial(n, share of v1) at 0..n (malloc'd); otherwise (or out of memory) NULL. */
double *ce_stats_two_value_cdf(const double *x, int n, double *v0, double *v1);
/* The index of draw i of resample b (the definition above). */
uint32_t ce_stats_draw(uint64_t seed, uint32_t b, uint32_t i, uint32_t n);

/* Percentile interval (level, e.g. 0.95) from bootstrap means (sorted in place). */
void ce_stats_percentile_ci(double *means, int iters, double level, double *lo, double *hi);
/* BCa interval for the mean of x: bias correction from the bootstrap means,
 * acceleration from the jackknife. means are sorted in place. */
void ce_stats_bca_ci(const double *x, int n, double *means, int iters, double level, double *lo, double *hi);

/* Sign-flip permutation test of mean(d) = 0 for paired differences:
 * two-sided p = (1 + #{|mean_b| >= |mean|}) / (iters + 1). */
double ce_stats_signflip_p(const double *d, int n, uint64_t seed, int iters, int threads);

/* McNemar for paired right/wrong outcomes: b = first right and second wrong,
 * c = the reverse. Exact two-sided binomial when b + c < 25, else the
 * chi-square with continuity correction. *exact tells which. */
double ce_stats_mcnemar(long b, long c, int *exact, double *statistic);

/* One thread's rate of draws for the generator and index computation alone,
 * and for random loads from n scores alone: what bounds the bootstrap. */
void ce_stats_limits(int n, int iters, double *rng_rate, double *gather_rate);

/* Scoring in bulk, one pass. Per question: kind (0 yes/no and choices: the
 * parsed label equals the truth; 1 number: |parsed - truth| <= tolerance),
 * the parsed answer (label, or number; a missing answer is NULL / NaN and
 * scores 0), the truth, the tolerance, a group (0..ngroups-1, or -1). Writes
 * score[i] (0 or 1) and per group the count and the sum of scores. */
typedef struct {
  int kind;
  const char *label, *truth_label;
  double number, truth_number, tolerance;
  int group;
} ce_stats_item;
void ce_stats_score(const ce_stats_item *items, int n, double *score, int ngroups, long *group_n, double *group_sum);

double ce_stats_norm_quantile(double p);

#endif
