/* SPDX-License-Identifier: MIT */
/* Clocks in seconds, as doubles: one definition for the core and bindings. */
#ifndef CE_CLOCK_H
#define CE_CLOCK_H

#include <time.h>

/* monotonic: intervals and timeouts */
static inline double ce_clock_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread */
static inline double ce_clock_thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
