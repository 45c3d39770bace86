/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "core/observe/metrics.h"

static ce_series *hot;

static void *bump(void *arg) {
  (void)arg;
  for (int i = 0; i < 100000; i++) ce_series_add(hot, 1);
  return NULL;
}

int main(void) {
  ce_err e;
  const char *labels[] = {"model_name", "task_type"};
  ce_metric *c = ce_metric_register(CE_COUNTER, "ce_requests_total", "Requests", labels, 2, NULL, 0, &e);
  CHECK(c != NULL);
  /* the same registration from elsewhere gets the same family */
  CHECK(ce_metric_register(CE_COUNTER, "ce_requests_total", "Requests", labels, 2, NULL, 0, &e) == c);
  /* a conflicting one is refused with the reason */
  CHECK(ce_metric_register(CE_GAUGE, "ce_requests_total", "", labels, 2, NULL, 0, &e) == NULL);
  CHECK_CONTAINS(e.msg, "already registered");
  CHECK(ce_metric_register(CE_GAUGE, "9bad", "", NULL, 0, NULL, 0, &e) == NULL);
  CHECK_CONTAINS(e.msg, "bad metric name");
  const char *bad[] = {"__reserved"};
  CHECK(ce_metric_register(CE_GAUGE, "ok_name", "", bad, 1, NULL, 0, &e) == NULL);
  const char *le[] = {"le"};
  CHECK(ce_metric_register(CE_HISTOGRAM, "h_le", "", le, 1, NULL, 0, &e) == NULL);
  double down[] = {1, 0.5};
  CHECK(ce_metric_register(CE_HISTOGRAM, "h_down", "", NULL, 0, down, 2, &e) == NULL);

  /* lock-free adds from many threads lose nothing */
  const char *v[] = {"gpt-4", "ladder"};
  size_t vl[] = {5, 6};
  hot = ce_metric_series(c, v, vl);
  CHECK(ce_metric_series(c, v, vl) == hot);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, bump, NULL);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(ce_series_value(hot) == 400000);

  /* histograms: buckets, sum, count and interpolated quantiles */
  double b[] = {0.1, 0.5, 1, 5};
  ce_metric *h = ce_metric_register(CE_HISTOGRAM, "ce_latency_seconds", "Latency", NULL, 0, b, 4, &e);
  ce_series *hs = ce_metric_series(h, NULL, NULL);
  for (int i = 0; i < 10; i++) ce_series_observe(hs, 0.05);  /* le 0.1 */
  for (int i = 0; i < 80; i++) ce_series_observe(hs, 0.3);   /* le 0.5 */
  for (int i = 0; i < 10; i++) ce_series_observe(hs, 3.0);   /* le 5 */
  CHECK(ce_series_value(hs) == 100);
  CHECK(fabs(ce_series_sum(hs) - (0.5 + 24 + 30)) < 1e-9);
  CHECK(fabs(ce_series_quantile(hs, 0.5) - (0.1 + 0.4 * (40.0 / 80))) < 1e-9);
  CHECK(fabs(ce_series_quantile(hs, 0.95) - (1 + 4 * (5.0 / 10))) < 1e-9);
  ce_metric *empty = ce_metric_register(CE_HISTOGRAM, "ce_empty", "", NULL, 0, NULL, 0, &e);
  CHECK(isnan(ce_series_quantile(ce_metric_series(empty, NULL, NULL), 0.5)));

  /* gauges */
  ce_metric *g = ce_metric_register(CE_GAUGE, "ce_inflight", "In \"flight\"\nnow", NULL, 0, NULL, 0, &e);
  ce_series *gs = ce_metric_series(g, NULL, NULL);
  ce_series_set(gs, 7);
  ce_series_add(gs, -2);
  CHECK(ce_series_value(gs) == 5);

  /* exposition: HELP, TYPE, escaped label values and help, cumulative buckets */
  const char *qv[] = {"a\"b\\c\nd", "x"};
  size_t ql[] = {7, 1};
  ce_series_add(ce_metric_series(c, qv, ql), 2);
  ce_buf out;
  ce_buf_init(&out);
  ce_metrics_expose(&out);
  ce_buf_addc(&out, '\0');
  CHECK_CONTAINS(out.data, "# TYPE ce_requests_total counter\n");
  CHECK_CONTAINS(out.data, "ce_requests_total{model_name=\"gpt-4\",task_type=\"ladder\"} 400000");
  CHECK_CONTAINS(out.data, "ce_requests_total{model_name=\"a\\\"b\\\\c\\nd\",task_type=\"x\"} 2");
  CHECK_CONTAINS(out.data, "# HELP ce_inflight In \"flight\"\\nnow\n");
  CHECK_CONTAINS(out.data, "ce_latency_seconds_bucket{le=\"0.5\"} 90\n");
  CHECK_CONTAINS(out.data, "ce_latency_seconds_bucket{le=\"+Inf\"} 100\n");
  CHECK_CONTAINS(out.data, "ce_latency_seconds_count 100\n");
  /* registration order is kept */
  CHECK(strstr(out.data, "ce_requests_total") < strstr(out.data, "ce_latency_seconds"));
  ce_buf_free(&out);
  ce_metrics_reset();
  return check_report("test_metrics");
}
