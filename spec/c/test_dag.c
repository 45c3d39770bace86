/* SPDX-License-Identifier: MIT */
#include "check.h"
#include "core/engine/dag.h"

enum { A, B, C, D, E };

static ce_dag graph(int n, const int (*edges)[2], int ne) {
  ce_dag g;
  ce_dag_init(&g, n);
  for (int i = 0; i < ne; i++) ce_dag_add_edge(&g, edges[i][0], edges[i][1]);
  return g;
}

static int count_dags(const ce_dag *g, void *ud) {
  (void)g;
  (*(int *)ud)++;
  return 0;
}

static long mec_size(const ce_dag *g) {
  ce_pdag p;
  ce_dag_cpdag(g, &p);
  int n = 0;
  return ce_pdag_enumerate(&p, 1000000, count_dags, &n);
}

/* the relations common to the class of the DAG with these edges; the class's size */
static long class_common(int n, const int (*edges)[2], int nedges, ce_mec_common *out) {
  ce_dag g;
  ce_dag_init(&g, n);
  for (int i = 0; i < nedges; i++) ce_dag_add_edge(&g, edges[i][0], edges[i][1]);
  ce_pdag p;
  ce_dag_cpdag(&g, &p);
  return ce_pdag_common(&p, 1000, out);
}

int main(void) {
  /* chain A -> B -> C */
  const int chain_e[][2] = {{A, B}, {B, C}};
  ce_dag chain = graph(3, chain_e, 2);
  int order[3];
  CHECK(ce_dag_topo(&chain, order, NULL, NULL) == 0);
  CHECK(order[0] == A && order[1] == B && order[2] == C);
  CHECK(!ce_dag_dsep(&chain, CE_BIT(A), CE_BIT(C), 0));
  CHECK(ce_dag_dsep(&chain, CE_BIT(A), CE_BIT(C), CE_BIT(B)));
  CHECK(ce_dag_ancestors(&chain, CE_BIT(C)) == (CE_BIT(A) | CE_BIT(B) | CE_BIT(C)));
  CHECK(ce_dag_descendants(&chain, CE_BIT(B)) == (CE_BIT(B) | CE_BIT(C)));
  CHECK(ce_dag_mediators(&chain, CE_BIT(A), CE_BIT(C)) == CE_BIT(B));
  CHECK(ce_dag_directed_path(&chain, CE_BIT(A), CE_BIT(C)));
  CHECK(!ce_dag_directed_path(&chain, CE_BIT(C), CE_BIT(A)));
  CHECK(mec_size(&chain) == 3); /* A-B-C: three orientations without a collider */

  /* collider A -> C <- B, C -> D */
  const int coll_e[][2] = {{A, C}, {B, C}, {C, D}};
  ce_dag coll = graph(4, coll_e, 3);
  CHECK(ce_dag_dsep(&coll, CE_BIT(A), CE_BIT(B), 0));
  CHECK(!ce_dag_dsep(&coll, CE_BIT(A), CE_BIT(B), CE_BIT(C)));
  CHECK(!ce_dag_dsep(&coll, CE_BIT(A), CE_BIT(B), CE_BIT(D))); /* a descendant of the collider */
  int vs[8][3];
  CHECK(ce_dag_vstructures(&coll, vs, 8) == 1);
  CHECK(vs[0][0] == A && vs[0][1] == C && vs[0][2] == B);
  ce_pdag p;
  ce_dag_cpdag(&coll, &p);
  CHECK(p.pa[D] == CE_BIT(C)); /* Meek R1 orients C -> D */
  CHECK(p.und[C] == 0 && p.und[D] == 0);
  CHECK(mec_size(&coll) == 1);

  /* a triangle has no v-structure: all 6 acyclic orientations are equivalent */
  const int tri_e[][2] = {{A, B}, {B, C}, {A, C}};
  ce_dag tri = graph(3, tri_e, 3);
  CHECK(mec_size(&tri) == 6);

  /* confounding: Z(=A) -> X(=B), Z -> Y(=C), X -> Y; mediator M(=D): X -> D -> C */
  const int conf_e[][2] = {{A, B}, {A, C}, {B, C}, {B, D}, {D, C}};
  ce_dag conf = graph(4, conf_e, 5);
  CHECK(ce_dag_backdoor(&conf, CE_BIT(B), CE_BIT(C), CE_BIT(A)));
  CHECK(!ce_dag_backdoor(&conf, CE_BIT(B), CE_BIT(C), 0));
  CHECK(!ce_dag_backdoor(&conf, CE_BIT(B), CE_BIT(C), CE_BIT(A) | CE_BIT(D))); /* D descends from X */

  /* front door: U(=A) -> X(=B), U -> Y(=D), X -> M(=C) -> Y */
  const int fd_e[][2] = {{A, B}, {A, D}, {B, C}, {C, D}};
  ce_dag fd = graph(4, fd_e, 4);
  CHECK(ce_dag_frontdoor(&fd, CE_BIT(B), CE_BIT(D), CE_BIT(C)));
  CHECK(!ce_dag_frontdoor(&fd, CE_BIT(B), CE_BIT(D), CE_BIT(A)));
  CHECK(!ce_dag_backdoor(&fd, CE_BIT(B), CE_BIT(D), 0));
  CHECK(ce_dag_backdoor(&fd, CE_BIT(B), CE_BIT(D), CE_BIT(A)));
  /* a direct X -> Y edge breaks the front door */
  ce_dag fd2 = fd;
  ce_dag_add_edge(&fd2, B, D);
  CHECK(!ce_dag_frontdoor(&fd2, CE_BIT(B), CE_BIT(D), CE_BIT(C)));

  /* instrument: Z(=A) -> X(=B) -> Y(=C), U(=D) -> X, U -> Y */
  const int iv_e[][2] = {{A, B}, {B, C}, {D, B}, {D, C}};
  ce_dag iv = graph(4, iv_e, 4);
  CHECK(ce_dag_instrument(&iv, CE_BIT(A), CE_BIT(B), CE_BIT(C), 0));
  CHECK(!ce_dag_instrument(&iv, CE_BIT(D), CE_BIT(B), CE_BIT(C), 0)); /* confounder, not instrument */
  ce_dag iv2 = iv;
  ce_dag_add_edge(&iv2, A, C); /* Z -> Y violates exclusion */
  CHECK(!ce_dag_instrument(&iv2, CE_BIT(A), CE_BIT(B), CE_BIT(C), 0));

  /* cycles are found and reported in edge order */
  const int cyc_e[][2] = {{A, B}, {B, C}, {C, B}};
  ce_dag cyc = graph(3, cyc_e, 3);
  int cycle[4], clen = 0;
  CHECK(ce_dag_topo(&cyc, NULL, cycle, &clen) == -1);
  CHECK(clen == 2);
  CHECK((cycle[0] == B && cycle[1] == C) || (cycle[0] == C && cycle[1] == B));

  /* reachable: from A in the chain given nothing reaches B and C */
  CHECK(ce_dag_reachable(&chain, CE_BIT(A), 0) == (CE_BIT(B) | CE_BIT(C)));
  /* relations common to a class: W -> Z <- V pins Z, and Meek's first rule
   * orients Z -> X and Z -> Y, so X and Y share the cause Z in the one DAG */
  {
    enum { W, V, Z, X, Y };
    const int e[][2] = {{W, Z}, {V, Z}, {Z, X}, {Z, Y}};
    ce_mec_common c;
    CHECK(class_common(5, e, 4, &c) == 1);
    CHECK(c.pa[Z] == (CE_BIT(W) | CE_BIT(V)) && c.pa[X] == CE_BIT(Z));
    CHECK(c.de[W] == (CE_BIT(Z) | CE_BIT(X) | CE_BIT(Y)) && c.de[X] == 0);
    CHECK(c.cf[X] == CE_BIT(Y) && c.cf[Y] == CE_BIT(X));
    CHECK(c.cf[W] == 0 && c.cf[Z] == 0); /* W and V meet only at Z: no shared cause */
  }
  /* A - B - C: three DAGs, which agree on no edge and no shared cause (B is
   * one in A <- B -> C only) */
  {
    const int e[][2] = {{0, 1}, {1, 2}};
    ce_mec_common c;
    CHECK(class_common(3, e, 2, &c) == 3);
    int none = 1;
    for (int v = 0; v < 3; v++) none &= c.pa[v] == 0 && c.de[v] == 0 && c.cf[v] == 0;
    CHECK(none);
    ce_dag fork;
    ce_dag_init(&fork, 3);
    ce_dag_add_edge(&fork, 1, 0);
    ce_dag_add_edge(&fork, 1, 2);
    ce_mec_common one;
    ce_dag_relations(&fork, &one);
    CHECK(one.cf[0] == CE_BIT(2) && one.de[1] == (CE_BIT(0) | CE_BIT(2)));
  }
  return check_report("test_dag");
}
