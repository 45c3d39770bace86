/* SPDX-License-Identifier: MIT */
/* ce_dag_reachable against the node-by-node Bayes ball it replaced: every
 * d-separation the engine answers (dsep, back-door, instruments) and every
 * corr2cause prompt's statements rest on it. */
#include <stdint.h>

#include "check.h"
#include "core/engine/dag.h"

static int lowest(uint32_t m) { return __builtin_ctz(m); }

/* the previous implementation: a stack of (node, direction) */
static uint32_t reachable_ref(const ce_dag *g, uint32_t x, uint32_t z) {
  uint32_t anz = ce_dag_ancestors(g, z);
  uint32_t ch[CE_DAG_MAX];
  for (int v = 0; v < g->n; v++) ch[v] = ce_dag_children(g, v);
  uint32_t seen_up = 0, seen_down = 0, reach = 0;
  int stack_v[2 * CE_DAG_MAX * CE_DAG_MAX], stack_d[2 * CE_DAG_MAX * CE_DAG_MAX];
  int sp = 0;
  for (uint32_t m = x; m; m &= m - 1) {
    stack_v[sp] = lowest(m);
    stack_d[sp++] = 0;
  }
  while (sp > 0) {
    sp--;
    int v = stack_v[sp], up = stack_d[sp] == 0;
    uint32_t b = CE_BIT(v);
    if (up ? (seen_up & b) : (seen_down & b)) continue;
    if (up) seen_up |= b;
    else seen_down |= b;
    if (!(z & b)) reach |= b;
    if (up && !(z & b)) {
      for (uint32_t m = g->pa[v]; m; m &= m - 1) { stack_v[sp] = lowest(m); stack_d[sp++] = 0; }
      for (uint32_t m = ch[v]; m; m &= m - 1) { stack_v[sp] = lowest(m); stack_d[sp++] = 1; }
    } else if (!up) {
      if (!(z & b))
        for (uint32_t m = ch[v]; m; m &= m - 1) { stack_v[sp] = lowest(m); stack_d[sp++] = 1; }
      if (anz & b)
        for (uint32_t m = g->pa[v]; m; m &= m - 1) { stack_v[sp] = lowest(m); stack_d[sp++] = 0; }
    }
  }
  return reach & ~x;
}

static uint64_t state = 88172645463325252ull;
static uint32_t next(void) { /* xorshift64 */
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return (uint32_t)(state >> 16);
}

int main(void) {
  int differ = 0, nonempty = 0;
  for (int round = 0; round < 20000; round++) {
    int n = 1 + (int)(next() % 10);
    ce_dag g;
    ce_dag_init(&g, n);
    /* edges from lower to higher numbers, so no cycle, with density drawn too */
    uint32_t density = next() % 100;
    for (int u = 0; u < n; u++)
      for (int v = u + 1; v < n; v++)
        if (next() % 100 < density) ce_dag_add_edge(&g, u, v);
    uint32_t all = (uint32_t)((1ull << n) - 1);
    uint32_t x = next() & all, z = next() & all & ~x;
    if (round % 3 == 0) x &= -x; /* a single node, as dsep's callers mostly ask */
    if (round % 5 == 0) z = next() & all; /* z overlapping x */
    uint32_t got = ce_dag_reachable(&g, x, z), want = reachable_ref(&g, x, z);
    if (got != want) differ++;
    if (want) nonempty++;
  }
  CHECK(differ == 0);
  CHECK(nonempty > 5000);
  /* a collider opens when its descendant is given: A -> C <- B, C -> D */
  ce_dag g;
  ce_dag_init(&g, 4);
  ce_dag_add_edge(&g, 0, 2);
  ce_dag_add_edge(&g, 1, 2);
  ce_dag_add_edge(&g, 2, 3);
  CHECK(ce_dag_dsep(&g, CE_BIT(0), CE_BIT(1), 0));
  CHECK(!ce_dag_dsep(&g, CE_BIT(0), CE_BIT(1), CE_BIT(3)));
  CHECK(ce_dag_dsep(&g, CE_BIT(0), CE_BIT(3), CE_BIT(2)));
  return check_report("test_dag_reachable");
}
