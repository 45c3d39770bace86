/* SPDX-License-Identifier: MIT */
/* The metrics registry: counters, gauges and histograms with labels, one per
 * process, updated from any thread without a lock (atomics on each series;
 * a lock only when a new label combination first appears), and written out
 * in the Prometheus text exposition format. */
#ifndef CE_METRICS_H
#define CE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"
#include "core/util/json.h"

typedef enum { CE_COUNTER = 0, CE_GAUGE, CE_HISTOGRAM } ce_metric_kind;

#define CE_METRIC_MAX_LABELS 8
#define CE_METRIC_MAX_BUCKETS 32

typedef struct ce_metric ce_metric;
typedef struct ce_series ce_series;

/* Registers a metric family in the process's registry, or returns the one
 * already registered under that name when kind and label names agree (so
 * every thread may register the same metric). buckets: upper bounds in
 * increasing order for histograms (NULL: the Prometheus defaults). NULL and
 * err set on a bad name, a conflict or too many labels. */
ce_metric *ce_metric_register(ce_metric_kind kind, const char *name, const char *help, const char *const *labels,
                              int nlabels, const double *buckets, int nbuckets, ce_err *err);
ce_metric_kind ce_metric_kind_of(const ce_metric *m);
int ce_metric_nlabels(const ce_metric *m);
const char *ce_metric_label_name(const ce_metric *m, int i);

/* The series of one combination of label values (as many as the metric has
 * labels); created on first use. The pointer stays valid for the process. */
ce_series *ce_metric_series(ce_metric *m, const char *const *values, const size_t *lens);

void ce_series_add(ce_series *s, double v);     /* counters (v >= 0) and gauges */
void ce_series_set(ce_series *s, double v);     /* gauges */
void ce_series_observe(ce_series *s, double v); /* histograms */
double ce_series_value(ce_series *s);           /* counter or gauge value; histogram: count */
double ce_series_sum(ce_series *s);             /* histogram sum */
/* A quantile of a histogram series, interpolated within its bucket (as
 * Prometheus's histogram_quantile does); NaN when empty. */
double ce_series_quantile(ce_series *s, double q);

/* Appends every metric in the text exposition format (version 0.0.4). */
void ce_metrics_expose(ce_buf *out);
/* Forgets every metric (tests). Not safe while other threads use them. */
void ce_metrics_reset(void);

#endif
