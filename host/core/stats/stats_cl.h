/* SPDX-License-Identifier: MIT */
/* The OpenCL backend of the resampling statistics: the same draws and the
 * same order of additions as stats.c (see stats.h), in kernels, so that a
 * seed gives bit-identical resampled means on any device. libOpenCL is
 * loaded on first use; kernels are built once per process. */
#ifndef CE_STATS_CL_H
#define CE_STATS_CL_H

#include <stdint.h>

#include "core/util/err.h"

/* Picks a device: `want` is NULL/"" (a GPU if there is one, else any device),
 * a number (the index in the list of all devices), or text found in
 * "platform / device" names; gpu_only: only GPUs count (backend auto).
 * 0, or -1 with err saying why (no library, no platform, no device, build log). */
int ce_stats_cl_init(const char *want, int gpu_only, ce_err *err);
/* "platform / device" of the chosen device. */
const char *ce_stats_cl_device(void);
/* As ce_stats_boot_means on the device. Returns 1 when the two-value
 * reduction was used, 0 when not, -1 on error. */
int ce_stats_cl_boot_means(const double *x, int n, uint64_t seed, int iters, int reduce, double *out, ce_err *err);

#endif
