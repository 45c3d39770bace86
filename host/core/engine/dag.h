/* SPDX-License-Identifier: MIT */
/* Directed acyclic graphs over at most 32 nodes, as bitmasks of parents, and
 * the graph questions causal inference asks of them: ancestry, d-separation
 * (reachability, "Bayes ball"), the back-door and front-door criteria,
 * instruments, v-structures, and the Markov equivalence class (CPDAG, and the
 * DAGs it stands for). No probabilities and no Lua here. */
#ifndef CE_DAG_H
#define CE_DAG_H

#include <stdint.h>

#include "core/stats/philox.h"

#define CE_DAG_MAX 32

typedef struct {
  int n;
  uint32_t pa[CE_DAG_MAX]; /* pa[v]: bit u set when u -> v */
} ce_dag;

#define CE_BIT(v) ((uint32_t)1u << (v))

void ce_dag_init(ce_dag *g, int n);
void ce_dag_add_edge(ce_dag *g, int from, int to);
uint32_t ce_dag_children(const ce_dag *g, int v);

/* Topological order into order[n] (parents first, ties by index). 0, or -1 when
 * the graph has a cycle; then cycle[] (if not NULL) holds one cycle's nodes in
 * order, its length in *cycle_len. */
int ce_dag_topo(const ce_dag *g, int *order, int *cycle, int *cycle_len);

/* A random connected DAG over nodes 0..n-1 (n <= CE_DAG_MAX), in that
 * topological order, drawn from r as benchmark generators draw it
 * (ctx:random_dag): first a spanning tree, node i's parent uniform among
 * 0..i-1 for i = 1..n-1 (ce_rng_below(r, i)), then each other forward pair
 * (i, j), i < j in order, with probability density (ce_rng_uniform(r) <
 * density), drawn only while j has fewer than max_parents parents. Writes
 * the edges in the order drawn to edges (room for n(n-1)/2) and returns
 * how many. */
int ce_dag_random(ce_rng *r, int n, double density, double max_parents, int (*edges)[2]);

/* A connected DAG over nodes 0..n-1 (n <= CE_DAG_MAX) as corr2cause draws
 * one: each pair (i, j), i < j in order, joined i -> j when
 * ce_rng_uniform(r) < p, drawn only while j has fewer than max_parents
 * parents; the whole graph drawn again until it is connected. Writes the
 * edges in the order drawn to edges (room for n(n-1)/2) and returns how
 * many. */
int ce_dag_random_connected(ce_rng *r, int n, double p, double max_parents, int (*edges)[2]);

/* Sets include their own members: an(S) ⊇ S, de(S) ⊇ S. */
uint32_t ce_dag_ancestors(const ce_dag *g, uint32_t set);
uint32_t ce_dag_descendants(const ce_dag *g, uint32_t set);
/* Nodes on a directed path from a member of x to a member of y, x and y excluded. */
uint32_t ce_dag_mediators(const ce_dag *g, uint32_t x, uint32_t y);

/* The graph with every edge into the nodes of set removed. */
void ce_dag_cut_in(const ce_dag *g, uint32_t set, ce_dag *out);

/* Nodes d-connected to some member of x given z (members of z excluded). */
uint32_t ce_dag_reachable(const ce_dag *g, uint32_t x, uint32_t z);
/* 1 when x and y are d-separated by z (sets; x, y, z disjoint). */
int ce_dag_dsep(const ce_dag *g, uint32_t x, uint32_t y, uint32_t z);
/* 1 when there is a directed path from a member of x to a member of y. */
int ce_dag_directed_path(const ce_dag *g, uint32_t x, uint32_t y);

/* Pearl's back-door criterion for adjustment set z relative to (x, y):
 * no member of z descends from x, and z blocks every path between x and y
 * that starts with an arrow into x. */
int ce_dag_backdoor(const ce_dag *g, uint32_t x, uint32_t y, uint32_t z);
/* Front-door criterion: z intercepts every directed path x -> y, no back-door
 * path from x to z is open, and x blocks every back-door path from z to y. */
int ce_dag_frontdoor(const ce_dag *g, uint32_t x, uint32_t y, uint32_t z);
/* z is an instrument for x -> y given w: z is d-connected to x given w, and z is
 * d-separated from y given w once the edges out of x are removed; no member of
 * w descends from x or y. */
int ce_dag_instrument(const ce_dag *g, uint32_t z, uint32_t x, uint32_t y, uint32_t w);

/* Unshielded colliders a -> c <- b (a < b, a and b not adjacent). Writes up to
 * max triples into out (a, c, b) and returns how many exist. */
int ce_dag_vstructures(const ce_dag *g, int (*out)[3], int max);

/* A partially directed graph: directed edges as parent masks, undirected
 * edges as symmetric neighbour masks. */
typedef struct {
  int n;
  uint32_t pa[CE_DAG_MAX];
  uint32_t und[CE_DAG_MAX];
} ce_pdag;

/* The completed partially directed graph of g's Markov equivalence class:
 * skeleton, v-structures, then Meek's rules 1-3 to a fixed point. */
void ce_dag_cpdag(const ce_dag *g, ce_pdag *out);

/* Calls fn for every DAG in the class of the CPDAG (every orientation of its
 * undirected edges that is acyclic and adds no v-structure), at most max
 * times. Returns the number of DAGs visited, or -1 when the class has more
 * undirected edges than can be enumerated (over 24). fn returns nonzero to stop. */
long ce_pdag_enumerate(const ce_pdag *p, long max, int (*fn)(const ce_dag *g, void *ud), void *ud);

/* What every DAG of a class agrees on: the relations a hypothesis about a
 * hidden DAG can state (corr2cause), as one mask per node. */
typedef struct {
  int n;
  uint32_t pa[CE_DAG_MAX]; /* bit u of pa[v]: u -> v */
  uint32_t de[CE_DAG_MAX]; /* bit u of de[v]: u is a strict descendant of v */
  /* bit b of cf[a]: a and b share a cause, some z (neither a nor b) with a
   * directed path to a that avoids b and one to b that avoids a */
  uint32_t cf[CE_DAG_MAX];
} ce_mec_common;

/* The relations of one DAG, as ce_mec_common holds them. */
void ce_dag_relations(const ce_dag *g, ce_mec_common *out);
/* Their intersection over the class of the CPDAG p (at most max DAGs).
 * Returns the number of DAGs, or -1 as ce_pdag_enumerate. */
long ce_pdag_common(const ce_pdag *p, long max, ce_mec_common *out);

#endif
