/* SPDX-License-Identifier: MIT */
#include "core/observe/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats/philox.h"

struct ce_metric;
struct ce_series {
  struct ce_series *next;
  struct ce_metric *owner;
  char **values;
  _Atomic uint64_t value; /* the bits of a double: counter or gauge value */
  _Atomic uint64_t sum;   /* histograms: the bits of the sum */
  _Atomic uint64_t count;
  _Atomic uint64_t buckets[CE_METRIC_MAX_BUCKETS + 1]; /* the last is +Inf */
};

struct ce_metric {
  struct ce_metric *next;
  ce_metric_kind kind;
  char *name, *help;
  int nlabels, nbuckets;
  char *labels[CE_METRIC_MAX_LABELS];
  double bounds[CE_METRIC_MAX_BUCKETS];
  pthread_mutex_t lock; /* guards creating series */
  _Atomic(ce_series *) series;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ce_metric *registry;

static const double DEFAULT_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static uint64_t bits(double v) {
  uint64_t b;
  memcpy(&b, &v, 8);
  return b;
}
static double from_bits(uint64_t b) {
  double v;
  memcpy(&v, &b, 8);
  return v;
}

static void atomic_add_double(_Atomic uint64_t *p, double v) {
  uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(p, &old, bits(from_bits(old) + v), memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

static int valid_name(const char *s, int label) {
  if (!s || !*s) return 0;
  for (const char *p = s; *p; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':') ||
             (p > s && c >= '0' && c <= '9');
    if (!ok) return 0;
  }
  return !(label && s[0] == '_' && s[1] == '_');
}

static char *dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

ce_metric *ce_metric_register(ce_metric_kind kind, const char *name, const char *help, const char *const *labels,
                              int nlabels, const double *buckets, int nbuckets, ce_err *err) {
  ce_err_clear(err);
  if (!valid_name(name, 0)) {
    ce_err_setf(err, 1, "metrics", 0, 0, "bad metric name '%s' (letters, digits, _ and :, not starting with a digit)",
                name ? name : "");
    return NULL;
  }
  if (nlabels < 0 || nlabels > CE_METRIC_MAX_LABELS) {
    ce_err_setf(err, 1, "metrics", 0, 0, "%s: at most %d labels", name, CE_METRIC_MAX_LABELS);
    return NULL;
  }
  for (int i = 0; i < nlabels; i++) {
    if (!valid_name(labels[i], 1) || (kind == CE_HISTOGRAM && strcmp(labels[i], "le") == 0)) {
      ce_err_setf(err, 1, "metrics", 0, 0, "%s: bad label name '%s'", name, labels[i] ? labels[i] : "");
      return NULL;
    }
  }
  if (kind == CE_HISTOGRAM) {
    if (!buckets) {
      buckets = DEFAULT_BUCKETS;
      nbuckets = (int)(sizeof DEFAULT_BUCKETS / sizeof DEFAULT_BUCKETS[0]);
    }
    if (nbuckets < 1 || nbuckets > CE_METRIC_MAX_BUCKETS) {
      ce_err_setf(err, 1, "metrics", 0, 0, "%s: 1 to %d buckets", name, CE_METRIC_MAX_BUCKETS);
      return NULL;
    }
    for (int i = 1; i < nbuckets; i++)
      if (!(buckets[i] > buckets[i - 1])) {
        ce_err_setf(err, 1, "metrics", 0, 0, "%s: bucket bounds must increase", name);
        return NULL;
      }
  }
  pthread_mutex_lock(&registry_lock);
  ce_metric *m = registry;
  while (m && strcmp(m->name, name) != 0) m = m->next;
  if (m) {
    int same = m->kind == kind && m->nlabels == nlabels;
    for (int i = 0; same && i < nlabels; i++) same = strcmp(m->labels[i], labels[i]) == 0;
    pthread_mutex_unlock(&registry_lock);
    if (!same) {
      ce_err_setf(err, 1, "metrics", 0, 0, "metric '%s' is already registered with another type or labels", name);
      return NULL;
    }
    return m;
  }
  m = calloc(1, sizeof *m);
  if (!m) {
    pthread_mutex_unlock(&registry_lock);
    ce_err_setf(err, 1, "metrics", 0, 0, "out of memory");
    return NULL;
  }
  m->kind = kind;
  m->name = dup(name);
  m->help = dup(help ? help : "");
  m->nlabels = nlabels;
  for (int i = 0; i < nlabels; i++) m->labels[i] = dup(labels[i]);
  if (kind == CE_HISTOGRAM) {
    m->nbuckets = nbuckets;
    memcpy(m->bounds, buckets, (size_t)nbuckets * sizeof *buckets);
  }
  pthread_mutex_init(&m->lock, NULL);
  m->next = registry;
  registry = m;
  pthread_mutex_unlock(&registry_lock);
  return m;
}

ce_metric_kind ce_metric_kind_of(const ce_metric *m) { return m->kind; }
int ce_metric_nlabels(const ce_metric *m) { return m->nlabels; }
const char *ce_metric_label_name(const ce_metric *m, int i) { return i >= 0 && i < m->nlabels ? m->labels[i] : NULL; }

static int same_values(const ce_series *s, int n, const char *const *values, const size_t *lens) {
  for (int i = 0; i < n; i++)
    if (strlen(s->values[i]) != lens[i] || memcmp(s->values[i], values[i], lens[i]) != 0) return 0;
  return 1;
}

ce_series *ce_metric_series(ce_metric *m, const char *const *values, const size_t *lens) {
  /* the list only grows at its head: readers walk it without the lock */
  for (ce_series *s = atomic_load(&m->series); s; s = s->next)
    if (same_values(s, m->nlabels, values, lens)) return s;
  pthread_mutex_lock(&m->lock);
  ce_series *s;
  for (s = atomic_load(&m->series); s; s = s->next)
    if (same_values(s, m->nlabels, values, lens)) break;
  if (!s) {
    s = calloc(1, sizeof *s);
    if (s) {
      s->owner = m;
      s->values = calloc((size_t)(m->nlabels > 0 ? m->nlabels : 1), sizeof *s->values);
      for (int i = 0; s->values && i < m->nlabels; i++) {
        s->values[i] = malloc(lens[i] + 1);
        if (s->values[i]) {
          memcpy(s->values[i], values[i], lens[i]);
          s->values[i][lens[i]] = '\0';
        }
      }
      s->next = atomic_load(&m->series);
      atomic_store(&m->series, s);
    }
  }
  pthread_mutex_unlock(&m->lock);
  return s;
}

void ce_series_add(ce_series *s, double v) {
  if (s) atomic_add_double(&s->value, v);
}

void ce_series_set(ce_series *s, double v) {
  if (s) atomic_store_explicit(&s->value, bits(v), memory_order_relaxed);
}

static ce_metric *owner_of(ce_series *s);
void ce_series_observe(ce_series *s, double v) {
  if (!s) return;
  ce_metric *m = owner_of(s);
  int nb = m ? m->nbuckets : 0;
  int i = 0;
  while (i < nb && v > m->bounds[i]) i++;
  atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
  atomic_add_double(&s->sum, v);
}

double ce_series_value(ce_series *s) {
  if (!s) return 0;
  ce_metric *m = owner_of(s);
  if (m && m->kind == CE_HISTOGRAM) return (double)atomic_load(&s->count);
  return from_bits(atomic_load(&s->value));
}

double ce_series_sum(ce_series *s) { return s ? from_bits(atomic_load(&s->sum)) : 0; }

static ce_metric *owner_of(ce_series *s) { return s->owner; }

double ce_series_quantile(ce_series *s, double q) {
  ce_metric *m = s ? owner_of(s) : NULL;
  if (!m || m->kind != CE_HISTOGRAM) return NAN;
  uint64_t total = atomic_load(&s->count);
  if (total == 0) return NAN;
  double rank = q * (double)total, cum = 0, lower = 0;
  for (int i = 0; i <= m->nbuckets; i++) {
    double n = (double)atomic_load(&s->buckets[i]);
    if (cum + n >= rank && n > 0) {
      if (i == m->nbuckets) return m->bounds[m->nbuckets - 1]; /* in +Inf: the highest finite bound */
      double upper = m->bounds[i];
      return lower + (upper - lower) * ((rank - cum) / n);
    }
    cum += n;
    if (i < m->nbuckets) lower = m->bounds[i];
  }
  return m->bounds[m->nbuckets - 1];
}

/* ---- exposition ---- */

static void add_escaped(ce_buf *out, const char *s, int label_value) {
  for (; *s; s++) {
    if (*s == '\\') ce_buf_adds(out, "\\\\");
    else if (*s == '\n') ce_buf_adds(out, "\\n");
    else if (*s == '"' && label_value) ce_buf_adds(out, "\\\"");
    else ce_buf_addc(out, *s);
  }
}

static void add_number(ce_buf *out, double v) {
  if (isnan(v)) ce_buf_adds(out, "NaN");
  else if (isinf(v)) ce_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
  else ce_json_write_double(out, v);
}

static void add_labels(ce_buf *out, const ce_metric *m, const ce_series *s, const char *le) {
  if (m->nlabels == 0 && !le) return;
  ce_buf_addc(out, '{');
  for (int i = 0; i < m->nlabels; i++) {
    if (i) ce_buf_addc(out, ',');
    ce_buf_adds(out, m->labels[i]);
    ce_buf_adds(out, "=\"");
    add_escaped(out, s->values[i], 1);
    ce_buf_addc(out, '"');
  }
  if (le) {
    if (m->nlabels) ce_buf_addc(out, ',');
    ce_buf_adds(out, "le=\"");
    ce_buf_adds(out, le);
    ce_buf_addc(out, '"');
  }
  ce_buf_addc(out, '}');
}

void ce_metrics_expose(ce_buf *out) {
  static const char *const TYPES[] = {"counter", "gauge", "histogram"};
  pthread_mutex_lock(&registry_lock);
  /* oldest first: the order they were registered in */
  ce_metric *list[1024];
  int n = 0;
  for (ce_metric *m = registry; m && n < 1024; m = m->next) list[n++] = m;
  pthread_mutex_unlock(&registry_lock);
  for (int k = n - 1; k >= 0; k--) {
    ce_metric *m = list[k];
    ce_buf_adds(out, "# HELP ");
    ce_buf_adds(out, m->name);
    ce_buf_addc(out, ' ');
    add_escaped(out, m->help, 0);
    ce_buf_adds(out, "\n# TYPE ");
    ce_buf_adds(out, m->name);
    ce_buf_addc(out, ' ');
    ce_buf_adds(out, TYPES[m->kind]);
    ce_buf_addc(out, '\n');
    for (ce_series *s = atomic_load(&m->series); s; s = s->next) {
      if (m->kind != CE_HISTOGRAM) {
        ce_buf_adds(out, m->name);
        add_labels(out, m, s, NULL);
        ce_buf_addc(out, ' ');
        add_number(out, from_bits(atomic_load(&s->value)));
        ce_buf_addc(out, '\n');
        continue;
      }
      uint64_t cum = 0;
      char le[40];
      for (int i = 0; i <= m->nbuckets; i++) {
        cum += atomic_load(&s->buckets[i]);
        if (i < m->nbuckets) {
          ce_buf tmp;
          ce_buf_init(&tmp);
          add_number(&tmp, m->bounds[i]);
          snprintf(le, sizeof le, "%.*s", (int)tmp.len, tmp.data ? tmp.data : "");
          ce_buf_free(&tmp);
        } else {
          snprintf(le, sizeof le, "+Inf");
        }
        ce_buf_adds(out, m->name);
        ce_buf_adds(out, "_bucket");
        add_labels(out, m, s, le);
        ce_buf_addc(out, ' ');
        ce_json_write_int(out, (int64_t)cum);
        ce_buf_addc(out, '\n');
      }
      ce_buf_adds(out, m->name);
      ce_buf_adds(out, "_sum");
      add_labels(out, m, s, NULL);
      ce_buf_addc(out, ' ');
      add_number(out, from_bits(atomic_load(&s->sum)));
      ce_buf_addc(out, '\n');
      ce_buf_adds(out, m->name);
      ce_buf_adds(out, "_count");
      add_labels(out, m, s, NULL);
      ce_buf_addc(out, ' ');
      ce_json_write_int(out, (int64_t)atomic_load(&s->count));
      ce_buf_addc(out, '\n');
    }
  }
}

void ce_metrics_reset(void) {
  pthread_mutex_lock(&registry_lock);
  ce_metric *m = registry;
  registry = NULL;
  pthread_mutex_unlock(&registry_lock);
  while (m) {
    ce_metric *next = m->next;
    ce_series *s = atomic_load(&m->series);
    while (s) {
      ce_series *sn = s->next;
      for (int i = 0; s->values && i < m->nlabels; i++) free(s->values[i]);
      free(s->values);
      free(s);
      s = sn;
    }
    for (int i = 0; i < m->nlabels; i++) free(m->labels[i]);
    free(m->name);
    free(m->help);
    pthread_mutex_destroy(&m->lock);
    free(m);
    m = next;
  }
}
