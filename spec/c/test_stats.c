/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/stats/philox.h"
#include "core/stats/stats.h"

int main(void) {
  ce_err e;
  /* the fast loop draws exactly the documented indices */
  enum { N = 1003, B = 7 };
  double x[N];
  for (int i = 0; i < N; i++) x[i] = sin(i * 0.7) + i * 1e-3;
  double means[B];
  CHECK(ce_stats_boot_means(x, N, 42, B, 2, 0, means, &e) == 0);
  for (int b = 0; b < B; b++) {
    double s = 0;
    for (int i = 0; i < N; i++) s += x[ce_stats_draw(42, (uint32_t)b, (uint32_t)i, N)];
    CHECK(fabs(s / N - means[b]) < 1e-12);
  }
  /* the vector path and the scalar definition agree to the last bit */
  enum { NV = 5000 };
  static double xv[NV], mv[B], ms[B];
  for (int i = 0; i < NV; i++) xv[i] = cos(i * 0.11) * 3 + 1e-7 * i;
  ce_stats_boot_means(xv, NV - 13, 77, B, 1, 0, mv, &e);
  setenv("CAUSAL_EVAL_STATS_SCALAR", "1", 1);
  ce_stats_boot_means(xv, NV - 13, 77, B, 1, 0, ms, &e);
  unsetenv("CAUSAL_EVAL_STATS_SCALAR");
  for (int b = 0; b < B; b++) CHECK(mv[b] == ms[b]);

  /* any number of threads gives the same resamples */
  double m1[B], m4[B];
  ce_stats_boot_means(x, N, 9, B, 1, 0, m1, &e);
  ce_stats_boot_means(x, N, 9, B, 4, 0, m4, &e);
  for (int b = 0; b < B; b++) CHECK(m1[b] == m4[b]);

  /* two values: the multinomial (binomial) reduction, with the right spread */
  enum { NB = 400, IT = 20000 };
  double y[NB];
  for (int i = 0; i < NB; i++) y[i] = i < 280 ? 1.0 : 0.0; /* p = 0.7 */
  double *bm = malloc(IT * sizeof *bm);
  CHECK(ce_stats_boot_means(y, NB, 1, IT, 0, 1, bm, &e) == 1);
  double mu = 0, var = 0;
  for (int b = 0; b < IT; b++) mu += bm[b];
  mu /= IT;
  for (int b = 0; b < IT; b++) var += (bm[b] - mu) * (bm[b] - mu);
  var /= IT - 1;
  CHECK(fabs(mu - 0.7) < 0.002);
  CHECK(fabs(sqrt(var) - sqrt(0.7 * 0.3 / NB)) < 0.001);
  double lo, hi;
  ce_stats_percentile_ci(bm, IT, 0.95, &lo, &hi);
  CHECK(lo > 0.64 && lo < 0.67 && hi > 0.73 && hi < 0.76);
  free(bm);

  /* bad input is named */
  double bad[3] = {1, NAN, 0};
  CHECK(ce_stats_boot_means(bad, 3, 1, 10, 1, 1, means, &e) == -1);
  CHECK_CONTAINS(e.msg, "score 2 is NaN");
  CHECK(ce_stats_boot_means(x, 0, 1, 10, 1, 1, means, &e) == -1);
  CHECK(ce_stats_boot_means(x, 5, 1, 0, 1, 1, means, &e) == -1);
  CHECK_CONTAINS(e.msg, "iterations must be positive");

  /* McNemar against hand-computed tables */
  int exact;
  double stat;
  /* b = 2, c = 8: 2 * P(X <= 2), X ~ Bin(10, .5) = 2 * 56/1024 */
  CHECK(fabs(ce_stats_mcnemar(2, 8, &exact, &stat) - 112.0 / 1024) < 1e-12 && exact);
  /* b = 30, c = 10: (|30 - 10| - 1)^2 / 40 = 9.025, p = 0.002663 */
  double p = ce_stats_mcnemar(30, 10, &exact, &stat);
  CHECK(!exact && fabs(stat - 9.025) < 1e-12 && fabs(p - 0.0026630) < 1e-6);
  CHECK(ce_stats_mcnemar(0, 0, &exact, &stat) == 1.0);
  CHECK(ce_stats_mcnemar(5, 5, &exact, &stat) == 1.0);

  /* the normal quantile */
  CHECK(fabs(ce_stats_norm_quantile(0.975) - 1.959963984540054) < 1e-9);
  CHECK(fabs(ce_stats_norm_quantile(0.001) + 3.090232306167813) < 1e-9);

  /* sign flips: a clear effect gets a small p, no effect a large one */
  double d[200];
  for (int i = 0; i < 200; i++) d[i] = 0.3 + sin(i);
  CHECK(ce_stats_signflip_p(d, 200, 3, 2000, 0) < 0.01);
  for (int i = 0; i < 200; i++) d[i] = sin(i * 1.3);
  CHECK(ce_stats_signflip_p(d, 200, 3, 2000, 0) > 0.05);
  return check_report("test_stats");
}
