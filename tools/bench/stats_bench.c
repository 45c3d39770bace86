/* SPDX-License-Identifier: MIT */
/* Full-resampling bootstrap speed (tools/bench/stats.sh runs it):
 *   stats_bench [N] [ITERS] [THREADS]
 * N continuous scores, ITERS resamples, end to end (draws, gathers, sums,
 * sort, interval); then the Philox draw rate alone, the machine's limit for
 * the random numbers the bootstrap needs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/stats/philox.h"
#include "core/stats/stats.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000, iters = argc > 2 ? atoi(argv[2]) : 100000;
  int threads = argc > 3 ? atoi(argv[3]) : 0;
  double *x = malloc((size_t)n * sizeof *x), *means = malloc((size_t)iters * sizeof *means);
  for (int i = 0; i < n; i++) x[i] = fabs(sin(i * 0.37)) * 3.0 + (i % 7) * 0.01; /* continuous scores */
  ce_err e;
  double t0 = now();
  ce_stats_boot_means(x, n, 12345, iters, threads, 0, means, &e);
  double lo, hi;
  ce_stats_percentile_ci(means, iters, 0.95, &lo, &hi);
  double t1 = now();
  double draws = (double)n * iters;
  printf("bootstrap: N=%d, %d resamples, full resampling: %.3f s end to end, %.3g draws/s, CI [%.5f, %.5f]\n", n,
         iters, t1 - t0, draws / (t1 - t0), lo, hi);
  /* the machine's limit for what the bootstrap does: generate + gather */
  double rng_rate, gather_rate;
  ce_stats_limits(n, iters / 20 > 100 ? iters / 20 : 100, &rng_rate, &gather_rate);
  long ncores = sysconf(_SC_NPROCESSORS_ONLN);
  int used = threads > 0 ? threads : (int)ncores;
  /* if generating and loading overlapped perfectly, the slower of the two on every thread */
  double limit = used * (rng_rate < gather_rate ? rng_rate : gather_rate);
  printf("limits, one thread: Philox4x32-10 + index %.3g draws/s, random loads %.3g/s; on %d threads, overlapped: %.3g draws/s\n",
         rng_rate, gather_rate, used, limit);
  printf("achieved: %.0f%% of that limit\n", 100 * draws / (t1 - t0) / limit);
  free(x);
  free(means);
  return 0;
}
