/* SPDX-License-Identifier: MIT */
#include "core/engine/dag.h"

#include <string.h>

void ce_dag_init(ce_dag *g, int n) {
  memset(g, 0, sizeof *g);
  g->n = n;
}

void ce_dag_add_edge(ce_dag *g, int from, int to) { g->pa[to] |= CE_BIT(from); }

int ce_dag_random(ce_rng *r, int n, double density, double max_parents, int (*edges)[2]) {
  int npa[CE_DAG_MAX] = {0}, tree[CE_DAG_MAX], k = 0;
  for (int i = 1; i < n; i++) { /* a spanning tree keeps the graph connected */
    int j = (int)ce_rng_below(r, (uint64_t)i);
    edges[k][0] = j;
    edges[k++][1] = i;
    tree[i] = j;
    npa[i] = 1;
  }
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if ((double)npa[j] < max_parents && tree[j] != i && ce_rng_uniform(r) < density) {
        edges[k][0] = i;
        edges[k++][1] = j;
        npa[j]++;
      }
  return k;
}

uint32_t ce_dag_children(const ce_dag *g, int v) {
  uint32_t ch = 0;
  for (int u = 0; u < g->n; u++)
    if (g->pa[u] & CE_BIT(v)) ch |= CE_BIT(u);
  return ch;
}

static int lowest(uint32_t m) { return __builtin_ctz(m); }

int ce_dag_topo(const ce_dag *g, int *order, int *cycle, int *cycle_len) {
  uint32_t done = 0, all = g->n >= 32 ? 0xffffffffu : (CE_BIT(g->n) - 1u);
  int k = 0;
  while (done != all) {
    int next = -1;
    for (int v = 0; v < g->n; v++) {
      if (!(done & CE_BIT(v)) && (g->pa[v] & ~done) == 0) {
        next = v;
        break;
      }
    }
    if (next < 0) break;
    done |= CE_BIT(next);
    if (order) order[k] = next;
    k++;
  }
  if (done == all) return 0;
  if (cycle && cycle_len) {
    /* every remaining node has a remaining parent: walk parents until a repeat */
    int path[CE_DAG_MAX + 1], pos[CE_DAG_MAX];
    for (int i = 0; i < CE_DAG_MAX; i++) pos[i] = -1;
    int v = lowest(all & ~done), len = 0;
    while (pos[v] < 0) {
      pos[v] = len;
      path[len++] = v;
      v = lowest(g->pa[v] & ~done);
    }
    /* path[pos[v]..len-1] follows parent links; reverse it into edge order */
    int n = 0;
    for (int i = len - 1; i >= pos[v]; i--) cycle[n++] = path[i];
    *cycle_len = n;
  }
  return -1;
}

uint32_t ce_dag_ancestors(const ce_dag *g, uint32_t set) {
  uint32_t r = set, prev;
  do {
    prev = r;
    for (uint32_t m = r; m; m &= m - 1) r |= g->pa[lowest(m)];
  } while (r != prev);
  return r;
}

uint32_t ce_dag_descendants(const ce_dag *g, uint32_t set) {
  uint32_t r = set, prev;
  do {
    prev = r;
    for (int v = 0; v < g->n; v++)
      if (g->pa[v] & r) r |= CE_BIT(v);
  } while (r != prev);
  return r;
}

uint32_t ce_dag_mediators(const ce_dag *g, uint32_t x, uint32_t y) {
  return ce_dag_descendants(g, x) & ce_dag_ancestors(g, y) & ~(x | y);
}

/* the graph with every edge out of the nodes of set removed */
static void cut_out(const ce_dag *g, uint32_t set, ce_dag *out) {
  *out = *g;
  for (int v = 0; v < g->n; v++) out->pa[v] &= ~set;
}

void ce_dag_cut_in(const ce_dag *g, uint32_t set, ce_dag *out) {
  *out = *g;
  for (uint32_t m = set; m; m &= m - 1) out->pa[lowest(m)] = 0;
}

/* Reachability as in Koller & Friedman, algorithm 3.1: a trail may pass a
 * collider only when the collider or one of its descendants is observed. */
int ce_dag_random_connected(ce_rng *r, int n, double p, double max_parents, int (*edges)[2]) {
  uint32_t all = n >= 32 ? 0xffffffffu : CE_BIT(n) - 1u;
  for (;;) {
    int npa[CE_DAG_MAX] = {0}, k = 0;
    uint32_t adj[CE_DAG_MAX] = {0};
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++)
        if ((double)npa[j] < max_parents && ce_rng_uniform(r) < p) {
          edges[k][0] = i;
          edges[k++][1] = j;
          npa[j]++;
          adj[i] |= CE_BIT(j);
          adj[j] |= CE_BIT(i);
        }
    uint32_t seen = 1, frontier = 1;
    while (frontier) {
      uint32_t reached = 0;
      for (uint32_t m = frontier; m; m &= m - 1) reached |= adj[lowest(m)];
      frontier = reached & ~seen;
      seen |= reached;
    }
    if (n == 0 || seen == all) return k;
  }
}

/* Bayes ball over sets: the nodes the ball reaches arriving from a child
 * (up) or from a parent (down), a frontier of each at a time. */
uint32_t ce_dag_reachable(const ce_dag *g, uint32_t x, uint32_t z) {
  uint32_t anz = ce_dag_ancestors(g, z);
  uint32_t ch[CE_DAG_MAX] = {0};
  for (int v = 0; v < g->n; v++)
    for (uint32_t m = g->pa[v]; m; m &= m - 1) ch[lowest(m)] |= CE_BIT(v);
  uint32_t seen_up = 0, seen_down = 0, reach = 0;
  uint32_t up = x, down = 0;
  while (up | down) {
    seen_up |= up;
    seen_down |= down;
    reach |= (up | down) & ~z;
    uint32_t next_up = 0, next_down = 0;
    /* from a child through a node not in z: on to its parents and children */
    for (uint32_t m = up & ~z; m; m &= m - 1) {
      int v = lowest(m);
      next_up |= g->pa[v];
      next_down |= ch[v];
    }
    /* from a parent: on to the children of a node not in z, and back up
     * through a collider that is in z or has a descendant there */
    for (uint32_t m = down & ~z; m; m &= m - 1) next_down |= ch[lowest(m)];
    for (uint32_t m = down & anz; m; m &= m - 1) next_up |= g->pa[lowest(m)];
    up = next_up & ~seen_up;
    down = next_down & ~seen_down;
  }
  return reach & ~x;
}

int ce_dag_dsep(const ce_dag *g, uint32_t x, uint32_t y, uint32_t z) {
  return (ce_dag_reachable(g, x, z) & y) == 0;
}

int ce_dag_directed_path(const ce_dag *g, uint32_t x, uint32_t y) {
  uint32_t strict = 0;
  for (uint32_t m = x; m; m &= m - 1) strict |= ce_dag_children(g, lowest(m));
  return (ce_dag_descendants(g, strict) & y) != 0;
}

int ce_dag_backdoor(const ce_dag *g, uint32_t x, uint32_t y, uint32_t z) {
  if (z & (x | y)) return 0;
  if (z & ce_dag_descendants(g, x)) return 0;
  ce_dag cut;
  cut_out(g, x, &cut);
  return ce_dag_dsep(&cut, x, y, z);
}

int ce_dag_frontdoor(const ce_dag *g, uint32_t x, uint32_t y, uint32_t z) {
  if (!z || (z & (x | y))) return 0;
  ce_dag without = *g; /* z removed: no directed x -> y path may remain */
  for (int v = 0; v < g->n; v++) without.pa[v] &= ~z;
  for (uint32_t m = z; m; m &= m - 1) without.pa[lowest(m)] = 0;
  if (ce_dag_directed_path(&without, x, y)) return 0;
  ce_dag cut;
  cut_out(g, x, &cut);
  if (!ce_dag_dsep(&cut, x, z, 0)) return 0; /* an open back-door path x ... z */
  cut_out(g, z, &cut);
  return ce_dag_dsep(&cut, z, y, x);        /* x blocks back-door paths z ... y */
}

int ce_dag_instrument(const ce_dag *g, uint32_t z, uint32_t x, uint32_t y, uint32_t w) {
  if (!z || (z & (x | y | w)) || (w & (x | y))) return 0;
  uint32_t dex = ce_dag_descendants(g, x);
  if ((z | w) & dex) return 0;
  if (w & ce_dag_descendants(g, y)) return 0;
  if (ce_dag_dsep(g, z, x, w)) return 0; /* not relevant to x */
  ce_dag cut;
  cut_out(g, x, &cut);
  return ce_dag_dsep(&cut, z, y, w);
}

static int adjacent(const ce_dag *g, int a, int b) {
  return (g->pa[a] & CE_BIT(b)) || (g->pa[b] & CE_BIT(a));
}

int ce_dag_vstructures(const ce_dag *g, int (*out)[3], int max) {
  int n = 0;
  for (int c = 0; c < g->n; c++) {
    for (uint32_t ma = g->pa[c]; ma; ma &= ma - 1) {
      int a = lowest(ma);
      for (uint32_t mb = ma & (ma - 1); mb; mb &= mb - 1) {
        int b = lowest(mb);
        if (adjacent(g, a, b)) continue;
        if (out && n < max) {
          out[n][0] = a;
          out[n][1] = c;
          out[n][2] = b;
        }
        n++;
      }
    }
  }
  return n;
}

static void orient(ce_pdag *p, int u, int v) {
  p->pa[v] |= CE_BIT(u);
  p->und[u] &= ~CE_BIT(v);
  p->und[v] &= ~CE_BIT(u);
}

static uint32_t pdag_adj(const ce_pdag *p, int v) {
  uint32_t a = p->pa[v] | p->und[v];
  for (int u = 0; u < p->n; u++)
    if (p->pa[u] & CE_BIT(v)) a |= CE_BIT(u);
  return a;
}

void ce_dag_cpdag(const ce_dag *g, ce_pdag *out) {
  memset(out, 0, sizeof *out);
  out->n = g->n;
  for (int v = 0; v < g->n; v++) {
    uint32_t adj = g->pa[v] | ce_dag_children(g, v);
    out->und[v] = adj;
  }
  for (int c = 0; c < g->n; c++)
    for (uint32_t ma = g->pa[c]; ma; ma &= ma - 1)
      for (uint32_t mb = ma & (ma - 1); mb; mb &= mb - 1) {
        int a = lowest(ma), b = lowest(mb);
        if (adjacent(g, a, b)) continue;
        orient(out, a, c);
        orient(out, b, c);
      }
  int changed = 1;
  while (changed) {
    changed = 0;
    for (int b = 0; b < g->n; b++) {
      /* R1: a -> b - c, a and c not adjacent => b -> c */
      for (uint32_t mc = out->und[b]; mc; mc &= mc - 1) {
        int c = lowest(mc);
        uint32_t into_b = out->pa[b];
        for (uint32_t ma = into_b; ma; ma &= ma - 1) {
          int a = lowest(ma);
          if (a != c && !(pdag_adj(out, a) & CE_BIT(c))) {
            orient(out, b, c);
            changed = 1;
            break;
          }
        }
      }
    }
    for (int a = 0; a < g->n; a++) {
      for (uint32_t mc = out->und[a]; mc; mc &= mc - 1) {
        int c = lowest(mc);
        /* R2: a -> b -> c and a - c => a -> c */
        int done = 0;
        for (int b = 0; b < g->n && !done; b++)
          if ((out->pa[b] & CE_BIT(a)) && (out->pa[c] & CE_BIT(b))) {
            orient(out, a, c);
            changed = done = 1;
          }
        if (done) continue;
        /* R3: a - d1, a - d2, d1 -> c <- d2, d1 and d2 not adjacent, a - c => a -> c */
        uint32_t cand = out->und[a] & out->pa[c];
        for (uint32_t m1 = cand; m1 && !done; m1 &= m1 - 1)
          for (uint32_t m2 = m1 & (m1 - 1); m2 && !done; m2 &= m2 - 1) {
            int d1 = lowest(m1), d2 = lowest(m2);
            if (!(pdag_adj(out, d1) & CE_BIT(d2))) {
              orient(out, a, c);
              changed = done = 1;
            }
          }
      }
    }
  }
}

/* Backtracking over the undirected edges: after each orientation the partial
 * graph must stay acyclic and must not gain a v-structure (two arrows into a
 * node from non-adjacent tails), so dead branches end early. A class with
 * 10 undirected edges takes tens of steps, not 2^10 full checks. */
typedef struct {
  const ce_pdag *p;
  int k, eu[CE_DAG_MAX * CE_DAG_MAX / 2], ev[CE_DAG_MAX * CE_DAG_MAX / 2];
  ce_dag g;
  uint32_t adj[CE_DAG_MAX];
  long max, visited;
  int stop;
  int (*fn)(const ce_dag *g, void *ud);
  void *ud;
} enum_state;

/* adding u -> v: a new v-structure at v? (the original ones are all directed
 * in the CPDAG and already present) */
static int new_vstructure(const enum_state *st, int u, int v) {
  uint32_t others = st->g.pa[v] & ~CE_BIT(u);
  return (others & ~st->adj[u]) != 0;
}

/* adding u -> v closes a cycle when v already reaches u */
static int reaches(const ce_dag *g, int from, int to) {
  uint32_t seen = CE_BIT(from), frontier = CE_BIT(from);
  while (frontier) {
    uint32_t next = 0;
    for (int w = 0; w < g->n; w++)
      if (g->pa[w] & frontier) next |= CE_BIT(w);
    if (next & CE_BIT(to)) return 1;
    frontier = next & ~seen;
    seen |= next;
  }
  return 0;
}

static void enum_rec(enum_state *st, int i) {
  if (st->stop || st->visited >= st->max) return;
  if (i == st->k) {
    st->visited++;
    if (st->fn && st->fn(&st->g, st->ud)) st->stop = 1;
    return;
  }
  for (int dir = 0; dir < 2 && !st->stop; dir++) {
    int u = dir ? st->ev[i] : st->eu[i], v = dir ? st->eu[i] : st->ev[i];
    if (new_vstructure(st, u, v) || reaches(&st->g, v, u)) continue;
    st->g.pa[v] |= CE_BIT(u);
    enum_rec(st, i + 1);
    st->g.pa[v] &= ~CE_BIT(u);
  }
}

long ce_pdag_enumerate(const ce_pdag *p, long max, int (*fn)(const ce_dag *g, void *ud), void *ud) {
  enum_state st;
  memset(&st, 0, sizeof st);
  st.p = p;
  st.max = max;
  st.fn = fn;
  st.ud = ud;
  for (int u = 0; u < p->n; u++)
    for (uint32_t m = p->und[u]; m; m &= m - 1) {
      int v = lowest(m);
      if (u < v) {
        if (st.k >= 24) return -1;
        st.eu[st.k] = u;
        st.ev[st.k] = v;
        st.k++;
      }
    }
  ce_dag_init(&st.g, p->n);
  for (int v = 0; v < p->n; v++) {
    st.g.pa[v] = p->pa[v];
    st.adj[v] = pdag_adj(p, v);
  }
  enum_rec(&st, 0);
  return st.visited;
}

/* nodes reachable from z by directed paths of one or more edges that do not
 * pass through w (w != z) */
static uint32_t reach_avoiding(const uint32_t *ch, int z, int w) {
  uint32_t keep = ~CE_BIT(w), r = ch[z] & keep, frontier = r;
  while (frontier) {
    uint32_t next = 0;
    for (uint32_t m = frontier; m; m &= m - 1) next |= ch[lowest(m)];
    frontier = next & keep & ~r;
    r |= frontier;
  }
  return r;
}

void ce_dag_relations(const ce_dag *g, ce_mec_common *out) {
  int n = g->n;
  uint32_t ch[CE_DAG_MAX];
  out->n = n;
  for (int v = 0; v < n; v++) ch[v] = ce_dag_children(g, v);
  for (int v = 0; v < n; v++) {
    out->pa[v] = g->pa[v];
    out->de[v] = ce_dag_descendants(g, ch[v]);
    out->cf[v] = 0;
  }
  /* r[z][w]: reach_avoiding(z, w); r[z][z] unused */
  uint32_t r[CE_DAG_MAX][CE_DAG_MAX];
  for (int z = 0; z < n; z++)
    for (int w = 0; w < n; w++)
      if (w != z) r[z][w] = reach_avoiding(ch, z, w);
  for (int a = 0; a < n; a++)
    for (int b = a + 1; b < n; b++)
      for (int z = 0; z < n; z++)
        if (z != a && z != b && (r[z][b] & CE_BIT(a)) && (r[z][a] & CE_BIT(b))) {
          out->cf[a] |= CE_BIT(b);
          out->cf[b] |= CE_BIT(a);
          break;
        }
}

typedef struct {
  ce_mec_common *acc;
  long seen;
} common_state;

static int common_visit(const ce_dag *g, void *ud) {
  common_state *st = ud;
  ce_mec_common one;
  ce_dag_relations(g, &one);
  for (int v = 0; v < g->n; v++) {
    st->acc->pa[v] &= one.pa[v];
    st->acc->de[v] &= one.de[v];
    st->acc->cf[v] &= one.cf[v];
  }
  st->seen++;
  return 0;
}

long ce_pdag_common(const ce_pdag *p, long max, ce_mec_common *out) {
  out->n = p->n;
  for (int v = 0; v < p->n; v++) out->pa[v] = out->de[v] = out->cf[v] = 0xffffffffu;
  common_state st = {out, 0};
  long k = ce_pdag_enumerate(p, max, common_visit, &st);
  uint32_t all = p->n >= 32 ? 0xffffffffu : CE_BIT(p->n) - 1u;
  for (int v = 0; v < p->n; v++) {
    out->pa[v] &= all;
    out->de[v] &= all;
    out->cf[v] &= all;
  }
  return k;
}
