/* SPDX-License-Identifier: MIT */
/* Structural causal models over binary variables, queried exactly.
 *
 * A model is a DAG of at most 24 variables, each with a table P(V=1 | parents)
 * (a deterministic structural equation is a table of 0s and 1s). Every query
 * enumerates the joint distribution depth-first in topological order, over
 * only the variables the query can depend on, and never stores it: memory
 * stays constant whatever the model size.
 *
 * Interventions replace a variable's table by a constant (do(X=x)).
 * Counterfactuals use the canonical threshold model of each table: one
 * uniform noise U_V per variable, V = [U_V < P(V=1 | parents)], shared by
 * the factual and counterfactual worlds (abduction, action, prediction on a
 * twin network). Natural direct and indirect effects are Pearl's (every
 * variable has its own independent noise).
 *
 * Variables are binary today; the table layout (first parent most
 * significant) and the per-variable index arithmetic are where finite
 * domains would go. */
#ifndef CE_SCM_H
#define CE_SCM_H

#include <stddef.h>
#include <stdint.h>

#include "core/engine/dag.h"
#include "core/util/err.h"

#define CE_SCM_MAX_VARS 24

typedef struct ce_scm ce_scm;

/* One variable as declared: parents by name, in the order the table uses.
 * p1 holds P(V=1 | parents) for each parent configuration, index
 * sum_j value(parent_j) << (k-1-j); NULL declares a graph-only variable. */
typedef struct {
  const char *name;
  int nparents;
  const char *const *parents;
  const double *p1;
  size_t np1;
} ce_scm_var;

enum { CE_SCM_EINVAL = 1, CE_SCM_ECYCLE, CE_SCM_ETABLE, CE_SCM_EZERO, CE_SCM_ENOMEM };

/* Builds and checks a model: unique names, known parents, no cycle (the
 * message names it), tables of 2^k entries within [0, 1]. NULL + err. */
ce_scm *ce_scm_new(const ce_scm_var *vars, int n, ce_err *err);
void ce_scm_free(ce_scm *m); /* NULL-safe */

int ce_scm_size(const ce_scm *m);
const char *ce_scm_name(const ce_scm *m, int v);
int ce_scm_index(const ce_scm *m, const char *name); /* -1 when unknown */
const ce_dag *ce_scm_dag(const ce_scm *m);
int ce_scm_nparents(const ce_scm *m, int v);
int ce_scm_parent(const ce_scm *m, int v, int j);
const double *ce_scm_table(const ce_scm *m, int v); /* NULL for graph-only */
const int *ce_scm_topo(const ce_scm *m);           /* topological order */
int ce_scm_has_tables(const ce_scm *m);

/* An assignment to some variables: those in mask take the bits of value. */
typedef struct {
  uint32_t mask, value;
} ce_scm_set;

/* P(event | given) in the model mutilated by do. err when P(given) = 0 or a
 * table is missing. */
int ce_scm_prob(const ce_scm *m, ce_scm_set event, ce_scm_set given, ce_scm_set doset,
                double *out, ce_err *err);

/* P(Y=1 | do(X=1)) - P(Y=1 | do(X=0)) */
int ce_scm_ate(const ce_scm *m, int x, int y, double *out, ce_err *err);
/* E[Y_{X=1} - Y_{X=0} | X=1] */
int ce_scm_ett(const ce_scm *m, int x, int y, double *out, ce_err *err);
/* E[Y_{X=x, M=M_{X=xm}}] for M the mediators of x -> y (Pearl's nested
 * counterfactual with independent noises). */
int ce_scm_nested(const ce_scm *m, int x, int y, int x_direct, int x_mediators, double *out,
                  ce_err *err);
/* NDE = E[Y_{1,M_0}] - E[Y_0] and NIE = E[Y_{0,M_1}] - E[Y_0] */
int ce_scm_nde(const ce_scm *m, int x, int y, double *out, ce_err *err);
int ce_scm_nie(const ce_scm *m, int x, int y, double *out, ce_err *err);

/* Counterfactual P(event in the world do(doset) | evidence in the factual
 * world), by abduction-action-prediction on the twin network. */
int ce_scm_counterfactual(const ce_scm *m, ce_scm_set event, ce_scm_set doset,
                          ce_scm_set evidence, double *out, ce_err *err);

#endif
