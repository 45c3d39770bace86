/* SPDX-License-Identifier: MIT */
#include "core/engine/scm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXV CE_SCM_MAX_VARS
#define MAX_TABLE_PARENTS 20

/* One allocation holds the struct, the names and the tables. */
struct ce_scm {
  int n;
  char *names[MAXV];
  int npa[MAXV];
  int pa[MAXV][MAXV];
  double *tab[MAXV];
  ce_dag g;
  int topo[MAXV];
  int tables; /* every variable has a table */
  char *pool; /* next free byte of the trailing storage */
  max_align_t storage[];
};

/* ---- building ---- */

void ce_scm_free(ce_scm *m) { free(m); }

static void *take(ce_scm *m, size_t n) {
  void *p = m->pool;
  m->pool += (n + 7) & ~(size_t)7;
  return p;
}

static void config_text(const ce_scm *m, int v, int idx, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  int k = m->npa[v];
  for (int j = 0; j < k && len < size; j++) {
    int bit = (idx >> (k - 1 - j)) & 1;
    int w = snprintf(buf + len, size - len, "%s%s=%d", j ? ", " : "", m->names[m->pa[v][j]], bit);
    if (w < 0) break;
    len += (size_t)w;
  }
}

static void parent_list(const ce_scm *m, int v, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (int j = 0; j < m->npa[v] && len < size; j++) {
    int w = snprintf(buf + len, size - len, "%s%s", j ? ", " : "", m->names[m->pa[v][j]]);
    if (w < 0) break;
    len += (size_t)w;
  }
}

ce_scm *ce_scm_new(const ce_scm_var *vars, int n, ce_err *err) {
  ce_err_clear(err);
  if (n < 1 || n > MAXV) {
    ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "a model has 1 to %d variables, got %d", MAXV, n);
    return NULL;
  }
  size_t extra = 0;
  for (int v = 0; v < n; v++) {
    extra += ((vars[v].name ? strlen(vars[v].name) : 0) + 1 + 7) & ~(size_t)7;
    if (vars[v].p1 && vars[v].nparents >= 0 && vars[v].nparents <= MAX_TABLE_PARENTS &&
        vars[v].np1 == ((size_t)1 << vars[v].nparents))
      extra += vars[v].np1 * sizeof(double);
  }
  ce_scm *m = malloc(sizeof *m + extra);
  if (!m) {
    ce_err_setf(err, CE_SCM_ENOMEM, "scm", 0, 0, "out of memory");
    return NULL;
  }
  memset(m, 0, sizeof *m);
  m->pool = (char *)m->storage;
  m->n = n;
  ce_dag_init(&m->g, n);
  for (int v = 0; v < n; v++) {
    const char *name = vars[v].name;
    if (!name || !*name) {
      ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "variable %d has no name", v + 1);
      goto fail;
    }
    for (int u = 0; u < v; u++)
      if (strcmp(m->names[u], name) == 0) {
        ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "duplicate variable '%s'", name);
        goto fail;
      }
    size_t len = strlen(name) + 1;
    m->names[v] = take(m, len);
    memcpy(m->names[v], name, len);
  }
  m->tables = 1;
  for (int v = 0; v < n; v++) {
    const ce_scm_var *d = &vars[v];
    if (d->nparents < 0 || d->nparents > MAXV) {
      ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "variable '%s': %d parents", d->name, d->nparents);
      goto fail;
    }
    m->npa[v] = d->nparents;
    for (int j = 0; j < d->nparents; j++) {
      int p = ce_scm_index(m, d->parents[j]);
      if (p < 0) {
        ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "variable '%s': unknown parent '%s'", d->name,
                    d->parents[j] ? d->parents[j] : "(null)");
        goto fail;
      }
      if (m->g.pa[v] & CE_BIT(p)) {
        ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "variable '%s': parent '%s' listed twice",
                    d->name, d->parents[j]);
        goto fail;
      }
      m->pa[v][j] = p;
      ce_dag_add_edge(&m->g, p, v);
    }
  }
  int cycle[MAXV], clen = 0;
  if (ce_dag_topo(&m->g, m->topo, cycle, &clen) != 0) {
    char buf[512];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i <= clen && len < sizeof buf; i++) {
      int w = snprintf(buf + len, sizeof buf - len, "%s%s", i ? " -> " : "", m->names[cycle[i % clen]]);
      if (w < 0) break;
      len += (size_t)w;
    }
    ce_err_setf(err, CE_SCM_ECYCLE, "scm", 0, 0, "the graph has a cycle: %s", buf);
    goto fail;
  }
  for (int v = 0; v < n; v++) {
    const ce_scm_var *d = &vars[v];
    if (!d->p1) {
      m->tables = 0;
      continue;
    }
    int k = m->npa[v];
    if (k > MAX_TABLE_PARENTS) {
      ce_err_setf(err, CE_SCM_ETABLE, "scm", 0, 0, "variable '%s' has %d parents; tables support at most %d",
                  d->name, k, MAX_TABLE_PARENTS);
      goto fail;
    }
    size_t want = (size_t)1 << k;
    if (d->np1 != want) {
      if (k == 0)
        ce_err_setf(err, CE_SCM_ETABLE, "scm", 0, 0, "variable '%s': table has %zu entries, expected 1 (no parents)",
                    d->name, d->np1);
      else {
        /* written only for the message: generators build many models */
        char plist[400];
        parent_list(m, v, plist, sizeof plist);
        ce_err_setf(err, CE_SCM_ETABLE, "scm", 0, 0,
                    "variable '%s': table has %zu entries, expected %zu (one per configuration of %s)",
                    d->name, d->np1, want, plist);
      }
      goto fail;
    }
    m->tab[v] = take(m, want * sizeof(double));
    for (size_t i = 0; i < want; i++) {
      double p = d->p1[i];
      if (!(p >= 0.0 && p <= 1.0)) {
        char cfg[400];
        config_text(m, v, (int)i, cfg, sizeof cfg);
        ce_err_setf(err, CE_SCM_ETABLE, "scm", 0, 0, "variable '%s': P(%s=1%s%s) = %g is outside [0, 1]",
                    d->name, d->name, k ? " | " : "", cfg, p);
        goto fail;
      }
      m->tab[v][i] = p;
    }
  }
  return m;
fail:
  ce_scm_free(m);
  return NULL;
}

int ce_scm_size(const ce_scm *m) { return m->n; }
const char *ce_scm_name(const ce_scm *m, int v) { return v >= 0 && v < m->n ? m->names[v] : NULL; }
const ce_dag *ce_scm_dag(const ce_scm *m) { return &m->g; }
int ce_scm_nparents(const ce_scm *m, int v) { return m->npa[v]; }
int ce_scm_parent(const ce_scm *m, int v, int j) { return m->pa[v][j]; }
const double *ce_scm_table(const ce_scm *m, int v) { return m->tab[v]; }
const int *ce_scm_topo(const ce_scm *m) { return m->topo; }
int ce_scm_has_tables(const ce_scm *m) { return m->tables; }

int ce_scm_index(const ce_scm *m, const char *name) {
  if (!name) return -1;
  for (int v = 0; v < m->n; v++)
    if (m->names[v] && strcmp(m->names[v], name) == 0) return v;
  return -1;
}

/* ---- enumeration ---- */

static inline int config(const ce_scm *m, int v, uint32_t state) {
  int idx = 0;
  for (int j = 0; j < m->npa[v]; j++) idx = (idx << 1) | (int)((state >> m->pa[v][j]) & 1u);
  return idx;
}

typedef struct walker walker;
struct walker {
  const ce_scm *m;
  int order[MAXV];
  int norder;
  uint32_t do_mask, do_val; /* intervened variables: fixed, no factor */
  uint32_t ev_mask, ev_val; /* observed variables: one branch, its probability */
  void (*visit)(walker *w, uint32_t state, double p);
  double num, den;         /* sums over up to 2^24 states: compensated (Neumaier) */
  double num_c, den_c;
  /* query-specific */
  ce_scm_set event;
  int x, y, x_direct;
  int cf_order[MAXV];
  int ncf;
  ce_scm_set cf_do;
};

static inline void acc(double *sum, double *comp, double x) {
  double t = *sum + x;
  if (fabs(*sum) >= fabs(x)) *comp += (*sum - t) + x;
  else *comp += (x - t) + *sum;
  *sum = t;
}

/* Depth-first over w->order; branches of probability zero are never taken,
 * which is what keeps deterministic models cheap. */
static void walk(walker *w, int level, uint32_t state, double p) {
  const ce_scm *m = w->m;
  while (level < w->norder) {
    int v = w->order[level];
    uint32_t b = CE_BIT(v);
    if (w->do_mask & b) {
      state |= w->do_val & b;
      level++;
      continue;
    }
    double p1 = m->tab[v][config(m, v, state)];
    if (w->ev_mask & b) {
      if (w->ev_val & b) {
        p *= p1;
        state |= b;
      } else {
        p *= 1.0 - p1;
      }
      if (p == 0.0) return;
      level++;
      continue;
    }
    if (p1 > 0.0) walk(w, level + 1, state | b, p * p1);
    if (p1 < 1.0) walk(w, level + 1, state, p * (1.0 - p1));
    return;
  }
  w->visit(w, state, p);
}

static int check_tables(const ce_scm *m, uint32_t vars, uint32_t fixed, ce_err *err) {
  for (int v = 0; v < m->n; v++)
    if ((vars & CE_BIT(v)) && !(fixed & CE_BIT(v)) && !m->tab[v]) {
      ce_err_setf(err, CE_SCM_ETABLE, "scm", 0, 0, "variable '%s' has no table", m->names[v]);
      return -1;
    }
  return 0;
}

static void set_order(walker *w, uint32_t vars) {
  w->norder = 0;
  for (int i = 0; i < w->m->n; i++) {
    int v = w->m->topo[i];
    if (vars & CE_BIT(v)) w->order[w->norder++] = v;
  }
}

static int check_set(const ce_scm *m, ce_scm_set s, const char *what, ce_err *err) {
  uint32_t all = m->n >= 32 ? 0xffffffffu : (CE_BIT(m->n) - 1u);
  if (s.mask & ~all) {
    ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "%s names a variable outside the model", what);
    return -1;
  }
  return 0;
}

static void visit_prob(walker *w, uint32_t state, double p) {
  acc(&w->den, &w->den_c, p);
  if (((state ^ w->event.value) & w->event.mask) == 0) acc(&w->num, &w->num_c, p);
}

static int finish_ratio(const walker *w, double *out, const char *what, ce_err *err) {
  double num = w->num + w->num_c, den = w->den + w->den_c;
  if (!(den > 0.0)) {
    ce_err_setf(err, CE_SCM_EZERO, "scm", 0, 0, "%s: the evidence has probability zero", what);
    return -1;
  }
  double r = num / den;
  *out = r > 1.0 ? 1.0 : r; /* rounding can overshoot by an ulp */
  return 0;
}

int ce_scm_prob(const ce_scm *m, ce_scm_set event, ce_scm_set given, ce_scm_set doset,
                double *out, ce_err *err) {
  ce_err_clear(err);
  if (check_set(m, event, "event", err) || check_set(m, given, "evidence", err) ||
      check_set(m, doset, "intervention", err))
    return -1;
  walker w;
  memset(&w, 0, sizeof w);
  w.m = m;
  w.do_mask = doset.mask;
  w.do_val = doset.value & doset.mask;
  w.ev_mask = given.mask & ~doset.mask;
  w.ev_val = given.value & w.ev_mask;
  /* observing an intervened variable only checks its value */
  if ((given.mask & doset.mask & (given.value ^ doset.value))) {
    ce_err_setf(err, CE_SCM_EZERO, "scm", 0, 0, "the evidence contradicts the intervention");
    return -1;
  }
  w.event = event;
  w.visit = visit_prob;
  ce_dag cut;
  ce_dag_cut_in(&m->g, doset.mask, &cut);
  uint32_t vars = ce_dag_ancestors(&cut, event.mask | given.mask);
  if (check_tables(m, vars, doset.mask, err)) return -1;
  set_order(&w, vars);
  walk(&w, 0, 0, 1.0);
  return finish_ratio(&w, out, "probability", err);
}

static int check_xy(const ce_scm *m, int x, int y, ce_err *err) {
  if (x < 0 || x >= m->n || y < 0 || y >= m->n || x == y) {
    ce_err_setf(err, CE_SCM_EINVAL, "scm", 0, 0, "treatment and outcome must be two variables of the model");
    return -1;
  }
  return 0;
}

int ce_scm_ate(const ce_scm *m, int x, int y, double *out, ce_err *err) {
  if (check_xy(m, x, y, err)) return -1;
  ce_scm_set ev = {CE_BIT(y), CE_BIT(y)}, none = {0, 0};
  ce_scm_set d1 = {CE_BIT(x), CE_BIT(x)}, d0 = {CE_BIT(x), 0};
  double p1, p0;
  if (ce_scm_prob(m, ev, none, d1, &p1, err) || ce_scm_prob(m, ev, none, d0, &p0, err)) return -1;
  *out = p1 - p0;
  return 0;
}

/* E[Y_{x_direct, M_{x}}]: walk the world do(X = x) over Y's ancestors, and
 * read Y's own table with X switched to x_direct. */
static void visit_nested(walker *w, uint32_t state, double p) {
  uint32_t bx = CE_BIT(w->x);
  uint32_t s2 = (state & ~bx) | (w->x_direct ? bx : 0);
  acc(&w->den, &w->den_c, p);
  acc(&w->num, &w->num_c, p * w->m->tab[w->y][config(w->m, w->y, s2)]);
}

int ce_scm_nested(const ce_scm *m, int x, int y, int x_direct, int x_mediators, double *out,
                  ce_err *err) {
  ce_err_clear(err);
  if (check_xy(m, x, y, err)) return -1;
  walker w;
  memset(&w, 0, sizeof w);
  w.m = m;
  w.x = x;
  w.y = y;
  w.x_direct = x_direct ? 1 : 0;
  w.do_mask = CE_BIT(x);
  w.do_val = x_mediators ? CE_BIT(x) : 0;
  w.visit = visit_nested;
  ce_dag cut;
  ce_dag_cut_in(&m->g, CE_BIT(x), &cut);
  uint32_t vars = ce_dag_ancestors(&cut, m->g.pa[y]) | CE_BIT(x);
  if (check_tables(m, vars | CE_BIT(y), CE_BIT(x), err)) return -1;
  set_order(&w, vars & ~CE_BIT(y));
  walk(&w, 0, 0, 1.0);
  return finish_ratio(&w, out, "natural effect", err);
}

int ce_scm_nde(const ce_scm *m, int x, int y, double *out, ce_err *err) {
  double a, b;
  if (ce_scm_nested(m, x, y, 1, 0, &a, err) || ce_scm_nested(m, x, y, 0, 0, &b, err)) return -1;
  *out = a - b;
  return 0;
}

int ce_scm_nie(const ce_scm *m, int x, int y, double *out, ce_err *err) {
  double a, b;
  if (ce_scm_nested(m, x, y, 0, 1, &a, err) || ce_scm_nested(m, x, y, 0, 0, &b, err)) return -1;
  *out = a - b;
  return 0;
}

/* ---- counterfactuals: the twin network ---- */

/* For one factual world, assigns the counterfactual copies of the changed
 * variables in topological order. With V = [U < p] and V* = [U < p*] for the
 * same U: P(V*=1 | V=1) = min(p, p*)/p and P(V*=1 | V=0) = max(0, p* - p)/(1 - p). */
static void cf_walk(walker *w, int level, uint32_t fstate, uint32_t cstate, double p) {
  const ce_scm *m = w->m;
  if (level == w->ncf) {
    if (((cstate ^ w->event.value) & w->event.mask) == 0) acc(&w->num, &w->num_c, p);
    return;
  }
  int v = w->cf_order[level];
  uint32_t b = CE_BIT(v);
  double pf = m->tab[v][config(m, v, fstate)];
  double pc = m->tab[v][config(m, v, cstate)];
  double q;
  if (fstate & b) q = pf > 0.0 ? (pf < pc ? pf : pc) / pf : pc;
  else q = pf < 1.0 ? (pc > pf ? pc - pf : 0.0) / (1.0 - pf) : pc;
  if (q > 0.0) cf_walk(w, level + 1, fstate, cstate | b, p * q);
  if (q < 1.0) cf_walk(w, level + 1, fstate, cstate & ~b, p * (1.0 - q));
}

static void visit_cf(walker *w, uint32_t state, double p) {
  acc(&w->den, &w->den_c, p);
  uint32_t cstate = (state & ~w->cf_do.mask) | (w->cf_do.value & w->cf_do.mask);
  cf_walk(w, 0, state, cstate, p);
}

int ce_scm_counterfactual(const ce_scm *m, ce_scm_set event, ce_scm_set doset,
                          ce_scm_set evidence, double *out, ce_err *err) {
  ce_err_clear(err);
  if (check_set(m, event, "event", err) || check_set(m, evidence, "evidence", err) ||
      check_set(m, doset, "intervention", err))
    return -1;
  walker w;
  memset(&w, 0, sizeof w);
  w.m = m;
  w.ev_mask = evidence.mask;
  w.ev_val = evidence.value & evidence.mask;
  w.event = event;
  w.cf_do.mask = doset.mask;
  w.cf_do.value = doset.value & doset.mask;
  w.visit = visit_cf;
  uint32_t changed = ce_dag_descendants(&m->g, doset.mask) & ~doset.mask;
  uint32_t cf_vars = changed & ce_dag_ancestors(&m->g, event.mask);
  uint32_t vars = ce_dag_ancestors(&m->g, event.mask | evidence.mask);
  if (check_tables(m, vars, 0, err)) return -1;
  set_order(&w, vars);
  w.ncf = 0;
  for (int i = 0; i < m->n; i++) {
    int v = m->topo[i];
    if (cf_vars & CE_BIT(v)) w.cf_order[w.ncf++] = v;
  }
  walk(&w, 0, 0, 1.0);
  return finish_ratio(&w, out, "counterfactual", err);
}

int ce_scm_ett(const ce_scm *m, int x, int y, double *out, ce_err *err) {
  if (check_xy(m, x, y, err)) return -1;
  ce_scm_set ev_y = {CE_BIT(y), CE_BIT(y)}, x1 = {CE_BIT(x), CE_BIT(x)}, x0 = {CE_BIT(x), 0};
  ce_scm_set none = {0, 0};
  double fact, cf;
  if (ce_scm_prob(m, ev_y, x1, none, &fact, err)) return -1;
  if (ce_scm_counterfactual(m, ev_y, x0, x1, &cf, err)) return -1;
  *out = fact - cf;
  return 0;
}
