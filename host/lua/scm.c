/* SPDX-License-Identifier: MIT */
/* causal_eval.scm_core: thin binding over host/core/scm and host/core/dag.
 * Variables are 0-based indices and sets are integer bitmasks here; the Lua
 * module causal_eval.scm turns names and tables into these. */
#include <lauxlib.h>
#include <lua.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/scm.h"
#include "modules.h"
#include "udata.h"

#define SCM_MT "causal_eval.scm_model"

typedef struct { ce_scm *m; } LScm; /* m == NULL: closed */

static ce_scm *check_model(lua_State *L) {
  LScm *u = ce_checkudata(L, 1, SCM_MT);
  if (!u->m) luaL_error(L, "attempt to use a closed model");
  return u->m;
}

static int check_var(lua_State *L, const ce_scm *m, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= 0 && v < ce_scm_size(m), arg, "variable index out of range");
  return (int)v;
}

static uint32_t check_mask(lua_State *L, const ce_scm *m, int arg) {
  lua_Integer v = luaL_optinteger(L, arg, 0);
  uint32_t all = (uint32_t)((1u << ce_scm_size(m)) - 1u);
  luaL_argcheck(L, v >= 0 && ((uint32_t)v & ~all) == 0, arg, "set names a variable outside the model");
  return (uint32_t)v;
}

static int push_result(lua_State *L, int rc, double v, const ce_err *e) {
  if (rc != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e->msg);
    return 2;
  }
  lua_pushnumber(L, v);
  return 1;
}

/* scm_core.new{ {name=, parents={...}, p={...}}, ... } -> model | nil, msg
 * One pass sizes a single scratch block (variables, parent name pointers,
 * table entries), a second fills it: generators build many small models. */
static int scm_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n <= CE_SCM_MAX_VARS, 1, "a model has 1 to 24 variables");
  size_t npar = 0, nval = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TTABLE) return luaL_error(L, "variable %d: expected a table", (int)i);
    int t = lua_gettop(L);
    if (lua_getfield(L, t, "parents") == LUA_TTABLE) npar += (size_t)luaL_len(L, -1);
    else if (!lua_isnil(L, -1)) return luaL_error(L, "variable %d: 'parents' must be a list of names", (int)i);
    if (lua_getfield(L, t, "p") == LUA_TTABLE) nval += (size_t)luaL_len(L, -1);
    else if (!lua_isnil(L, -1)) return luaL_error(L, "variable %d: 'p' must be a list of numbers", (int)i);
    lua_pop(L, 3);
  }
  size_t size = (size_t)n * sizeof(ce_scm_var) + npar * sizeof(const char *) + nval * sizeof(double);
  char *block = lua_newuserdatauv(L, size ? size : 1, 0); /* scratch, collected later */
  ce_scm_var *vars = (ce_scm_var *)(void *)block;
  double *vals = (double *)(void *)(block + (size_t)n * sizeof(ce_scm_var));
  const char **pars = (const char **)(void *)(vals + nval);
  memset(vars, 0, (size_t)n * sizeof *vars);
  for (lua_Integer i = 1; i <= n; i++) {
    ce_scm_var *d = &vars[i - 1];
    lua_rawgeti(L, 1, i);
    int t = lua_gettop(L);
    if (lua_getfield(L, t, "name") != LUA_TSTRING)
      return luaL_error(L, "variable %d: 'name' must be a string", (int)i);
    d->name = lua_tostring(L, -1); /* kept alive by argument 1 */
    lua_pop(L, 1);
    if (lua_getfield(L, t, "parents") == LUA_TTABLE) {
      lua_Integer k = luaL_len(L, -1);
      if (k >= CE_SCM_MAX_VARS) return luaL_error(L, "variable '%s': too many parents", d->name);
      d->parents = pars;
      d->nparents = (int)k;
      for (lua_Integer j = 1; j <= k; j++) {
        if (lua_rawgeti(L, -1, j) != LUA_TSTRING)
          return luaL_error(L, "variable '%s': parent %d must be a name", d->name, (int)j);
        *pars++ = lua_tostring(L, -1);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
    if (lua_getfield(L, t, "p") == LUA_TTABLE) {
      lua_Integer k = luaL_len(L, -1);
      d->p1 = vals;
      d->np1 = (size_t)k;
      for (lua_Integer j = 1; j <= k; j++) {
        lua_rawgeti(L, -1, j);
        int isnum;
        *vals++ = lua_tonumberx(L, -1, &isnum);
        if (!isnum) return luaL_error(L, "variable '%s': table entry %d is not a number", d->name, (int)j);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 2); /* p, variable */
  }
  LScm *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->m = NULL;
  luaL_setmetatable(L, SCM_MT);
  ce_err e;
  u->m = ce_scm_new(vars, (int)n, &e);
  if (!u->m) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  return 1;
}

static int m_size(lua_State *L) {
  lua_pushinteger(L, ce_scm_size(check_model(L)));
  return 1;
}

static int m_names(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_createtable(L, ce_scm_size(m), 0);
  for (int v = 0; v < ce_scm_size(m); v++) {
    lua_pushstring(L, ce_scm_name(m, v));
    lua_rawseti(L, -2, v + 1);
  }
  return 1;
}

static int m_index(lua_State *L) {
  ce_scm *m = check_model(L);
  int v = ce_scm_index(m, luaL_checkstring(L, 2));
  if (v < 0) luaL_pushfail(L);
  else lua_pushinteger(L, v);
  return 1;
}

static int m_parents(lua_State *L) {
  ce_scm *m = check_model(L);
  int v = check_var(L, m, 2);
  int k = ce_scm_nparents(m, v);
  lua_createtable(L, k, 0);
  for (int j = 0; j < k; j++) {
    lua_pushinteger(L, ce_scm_parent(m, v, j));
    lua_rawseti(L, -2, j + 1);
  }
  return 1;
}

static int m_table(lua_State *L) {
  ce_scm *m = check_model(L);
  int v = check_var(L, m, 2);
  const double *t = ce_scm_table(m, v);
  if (!t) return 0;
  int n = 1 << ce_scm_nparents(m, v);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, t[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int m_topo(lua_State *L) {
  ce_scm *m = check_model(L);
  const int *o = ce_scm_topo(m);
  lua_createtable(L, ce_scm_size(m), 0);
  for (int i = 0; i < ce_scm_size(m); i++) {
    lua_pushinteger(L, o[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int m_has_tables(lua_State *L) {
  lua_pushboolean(L, ce_scm_has_tables(check_model(L)));
  return 1;
}

/* m:prob(event_mask, event_val, given_mask, given_val, do_mask, do_val) */
static int m_prob(lua_State *L) {
  ce_scm *m = check_model(L);
  ce_scm_set ev = {check_mask(L, m, 2), (uint32_t)luaL_optinteger(L, 3, 0)};
  ce_scm_set gv = {check_mask(L, m, 4), (uint32_t)luaL_optinteger(L, 5, 0)};
  ce_scm_set dv = {check_mask(L, m, 6), (uint32_t)luaL_optinteger(L, 7, 0)};
  double r = 0;
  ce_err e;
  int rc = ce_scm_prob(m, ev, gv, dv, &r, &e);
  return push_result(L, rc, r, &e);
}

/* m:counterfactual(event_mask, event_val, do_mask, do_val, evidence_mask, evidence_val) */
static int m_counterfactual(lua_State *L) {
  ce_scm *m = check_model(L);
  ce_scm_set ev = {check_mask(L, m, 2), (uint32_t)luaL_optinteger(L, 3, 0)};
  ce_scm_set dv = {check_mask(L, m, 4), (uint32_t)luaL_optinteger(L, 5, 0)};
  ce_scm_set gv = {check_mask(L, m, 6), (uint32_t)luaL_optinteger(L, 7, 0)};
  double r = 0;
  ce_err e;
  int rc = ce_scm_counterfactual(m, ev, dv, gv, &r, &e);
  return push_result(L, rc, r, &e);
}

typedef int (*effect_fn)(const ce_scm *, int, int, double *, ce_err *);

static int effect(lua_State *L, effect_fn fn) {
  ce_scm *m = check_model(L);
  int x = check_var(L, m, 2), y = check_var(L, m, 3);
  luaL_argcheck(L, x != y, 3, "treatment and outcome must differ");
  double r = 0;
  ce_err e;
  int rc = fn(m, x, y, &r, &e);
  return push_result(L, rc, r, &e);
}

static int m_ate(lua_State *L) { return effect(L, ce_scm_ate); }
static int m_ett(lua_State *L) { return effect(L, ce_scm_ett); }
static int m_nde(lua_State *L) { return effect(L, ce_scm_nde); }
static int m_nie(lua_State *L) { return effect(L, ce_scm_nie); }

static int m_nested(lua_State *L) {
  ce_scm *m = check_model(L);
  int x = check_var(L, m, 2), y = check_var(L, m, 3);
  luaL_argcheck(L, x != y, 3, "treatment and outcome must differ");
  int xd = (int)luaL_checkinteger(L, 4), xm = (int)luaL_checkinteger(L, 5);
  double r = 0;
  ce_err e;
  int rc = ce_scm_nested(m, x, y, xd, xm, &r, &e);
  return push_result(L, rc, r, &e);
}

/* ---- graph queries on the model's DAG ---- */

static int m_pa(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushinteger(L, ce_scm_dag(m)->pa[check_var(L, m, 2)]);
  return 1;
}

static int m_children(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushinteger(L, ce_dag_children(ce_scm_dag(m), check_var(L, m, 2)));
  return 1;
}

static int m_ancestors(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushinteger(L, ce_dag_ancestors(ce_scm_dag(m), check_mask(L, m, 2)));
  return 1;
}

static int m_descendants(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushinteger(L, ce_dag_descendants(ce_scm_dag(m), check_mask(L, m, 2)));
  return 1;
}

static int m_mediators(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushinteger(L, ce_dag_mediators(ce_scm_dag(m), check_mask(L, m, 2), check_mask(L, m, 3)));
  return 1;
}

static int m_reachable(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushinteger(L, ce_dag_reachable(ce_scm_dag(m), check_mask(L, m, 2), check_mask(L, m, 3)));
  return 1;
}

static int m_dsep(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushboolean(L, ce_dag_dsep(ce_scm_dag(m), check_mask(L, m, 2), check_mask(L, m, 3), check_mask(L, m, 4)));
  return 1;
}

/* m:dsep_each(xs, ys, zs) -> { m:dsep(xs[i], ys[i], zs[i]) for each i }:
 * many d-separations of one graph in one call (a corr2cause prompt states a
 * hundred of them). */
static int m_dsep_each(lua_State *L) {
  ce_scm *m = check_model(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
  luaL_argcheck(L, (lua_Integer)lua_rawlen(L, 3) == n && (lua_Integer)lua_rawlen(L, 4) == n, 3,
                "the three lists differ in length");
  uint32_t all = (uint32_t)((1u << ce_scm_size(m)) - 1u);
  const ce_dag *g = ce_scm_dag(m);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    uint32_t set[3];
    for (int a = 0; a < 3; a++) {
      lua_rawgeti(L, 2 + a, i);
      int isint;
      lua_Integer v = lua_tointegerx(L, -1, &isint);
      lua_pop(L, 1);
      if (!isint || v < 0 || ((uint32_t)v & ~all) != 0 || v > (lua_Integer)all)
        return luaL_error(L, "dsep_each: set %d of list %d names a variable outside the model", (int)i, a + 1);
      set[a] = (uint32_t)v;
    }
    lua_pushboolean(L, ce_dag_dsep(g, set[0], set[1], set[2]));
    lua_rawseti(L, -2, i);
  }
  return 1;
}

static int m_directed_path(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushboolean(L, ce_dag_directed_path(ce_scm_dag(m), check_mask(L, m, 2), check_mask(L, m, 3)));
  return 1;
}

static int m_backdoor(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushboolean(L, ce_dag_backdoor(ce_scm_dag(m), check_mask(L, m, 2), check_mask(L, m, 3), check_mask(L, m, 4)));
  return 1;
}

static int m_frontdoor(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushboolean(L, ce_dag_frontdoor(ce_scm_dag(m), check_mask(L, m, 2), check_mask(L, m, 3), check_mask(L, m, 4)));
  return 1;
}

static int m_instrument(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_pushboolean(L, ce_dag_instrument(ce_scm_dag(m), check_mask(L, m, 2), check_mask(L, m, 3),
                                       check_mask(L, m, 4), check_mask(L, m, 5)));
  return 1;
}

static int m_vstructures(lua_State *L) {
  ce_scm *m = check_model(L);
  int vs[CE_DAG_MAX * CE_DAG_MAX][3];
  int n = ce_dag_vstructures(ce_scm_dag(m), vs, CE_DAG_MAX * CE_DAG_MAX);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 3, 0);
    for (int j = 0; j < 3; j++) {
      lua_pushinteger(L, vs[i][j]);
      lua_rawseti(L, -2, j + 1);
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static void push_edges_directed(lua_State *L, int n, const uint32_t *pa) {
  lua_newtable(L);
  int k = 0;
  for (int v = 0; v < n; v++)
    for (int u = 0; u < n; u++)
      if (pa[v] & CE_BIT(u)) {
        lua_createtable(L, 2, 0);
        lua_pushinteger(L, u);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, v);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, ++k);
      }
}

/* m:cpdag() -> directed {{a,b}...}, undirected {{a,b}...} (a < b) */
static int m_cpdag(lua_State *L) {
  ce_scm *m = check_model(L);
  ce_pdag p;
  ce_dag_cpdag(ce_scm_dag(m), &p);
  push_edges_directed(L, p.n, p.pa);
  lua_newtable(L);
  int k = 0;
  for (int u = 0; u < p.n; u++)
    for (int v = u + 1; v < p.n; v++)
      if (p.und[u] & CE_BIT(v)) {
        lua_createtable(L, 2, 0);
        lua_pushinteger(L, u);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, v);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, ++k);
      }
  return 2;
}

typedef struct { lua_State *L; int list; int n; } mec_ctx;

static int mec_visit(const ce_dag *g, void *ud) {
  mec_ctx *c = ud;
  lua_createtable(c->L, g->n, 0); /* parent masks, 1-based by variable index + 1 */
  for (int v = 0; v < g->n; v++) {
    lua_pushinteger(c->L, g->pa[v]);
    lua_rawseti(c->L, -2, v + 1);
  }
  lua_rawseti(c->L, c->list, ++c->n);
  return 0;
}

static void push_masks(lua_State *L, const uint32_t *m, int n, const char *field) {
  lua_createtable(L, n, 0);
  for (int v = 0; v < n; v++) {
    lua_pushinteger(L, m[v]);
    lua_rawseti(L, -2, v + 1);
  }
  lua_setfield(L, -2, field);
}

/* { pa, de, cf, dags } | nil, msg for the class of g: the relations every
 * DAG of the class agrees on (ce_pdag_common), masks 1-based by variable
 * index + 1, and the class's size */
static int push_common(lua_State *L, const ce_dag *g, lua_Integer max) {
  ce_pdag p;
  ce_dag_cpdag(g, &p);
  ce_mec_common c;
  long k = ce_pdag_common(&p, (long)max, &c);
  if (k < 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "the equivalence class has too many undirected edges to enumerate (over 24)");
    return 2;
  }
  lua_createtable(L, 0, 4);
  push_masks(L, c.pa, c.n, "pa");
  push_masks(L, c.de, c.n, "de");
  push_masks(L, c.cf, c.n, "cf");
  lua_pushinteger(L, k);
  lua_setfield(L, -2, "dags");
  return 1;
}

/* m:mec_common([max]) -> { pa, de, cf, dags } | nil, msg (push_common) */
static int m_mec_common(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_Integer max = luaL_optinteger(L, 2, 100000);
  luaL_argcheck(L, max > 0, 2, "max must be positive");
  return push_common(L, ce_scm_dag(m), max);
}

/* m:mec([max]) -> list of DAGs (each a list of parent masks) | nil, msg */
static int m_mec(lua_State *L) {
  ce_scm *m = check_model(L);
  lua_Integer max = luaL_optinteger(L, 2, 100000);
  luaL_argcheck(L, max > 0, 2, "max must be positive");
  ce_pdag p;
  ce_dag_cpdag(ce_scm_dag(m), &p);
  lua_newtable(L);
  mec_ctx c = {L, lua_gettop(L), 0};
  luaL_checkstack(L, 4, NULL);
  long n = ce_pdag_enumerate(&p, (long)max, mec_visit, &c);
  if (n < 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "the equivalence class has too many undirected edges to enumerate (over 24)");
    return 2;
  }
  return 1;
}

static int m_close(lua_State *L) {
  LScm *u = ce_checkudata(L, 1, SCM_MT);
  ce_scm_free(u->m);
  u->m = NULL;
  return 0;
}

static int m_tostring(lua_State *L) {
  LScm *u = ce_checkudata(L, 1, SCM_MT);
  if (u->m) lua_pushfstring(L, "causal_eval.scm model (%d variables)", ce_scm_size(u->m));
  else lua_pushliteral(L, "causal_eval.scm model (closed)");
  return 1;
}

/* scm.topo(n, parents) -> the order a model of this graph gives (0-based
 * indices; ce_dag_topo: parents first, ties by index) | nil, msg. parents:
 * a parent mask per node, 1-based by node index + 1. For a generator that
 * needs the order before it builds the model. */
static int scm_topo(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0 && n <= CE_DAG_MAX, 1, "at most 32 nodes");
  luaL_checktype(L, 2, LUA_TTABLE);
  ce_dag g;
  ce_dag_init(&g, (int)n);
  for (int v = 0; v < n; v++) {
    lua_rawgeti(L, 2, v + 1);
    g.pa[v] = (uint32_t)luaL_optinteger(L, -1, 0) & (n >= 32 ? 0xffffffffu : CE_BIT(n) - 1u);
    lua_pop(L, 1);
  }
  int order[CE_DAG_MAX];
  if (ce_dag_topo(&g, order, NULL, NULL) != 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "the graph has a cycle");
    return 2;
  }
  lua_createtable(L, (int)n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, order[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* scm.mec_common(n, parents [, max]) -> as m:mec_common, for a graph given
 * as parent masks (1-based by node index + 1, as scm.topo takes them): a
 * generator that asks only about the class of a graph it draws many times
 * (corr2cause) needs no model of it. */
static int scm_mec_common(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= CE_SCM_MAX_VARS, 1, "a graph has 1 to 24 nodes");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer max = luaL_optinteger(L, 3, 100000);
  luaL_argcheck(L, max > 0, 3, "max must be positive");
  ce_dag g;
  ce_dag_init(&g, (int)n);
  uint32_t all = CE_BIT(n) - 1u;
  for (int v = 0; v < n; v++) {
    lua_rawgeti(L, 2, v + 1);
    lua_Integer mask = luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    luaL_argcheck(L, mask >= 0 && ((uint32_t)mask & ~all) == 0 && !((uint32_t)mask & CE_BIT(v)), 2,
                  "a parent mask names a node outside the graph, or the node itself");
    g.pa[v] = (uint32_t)mask;
  }
  if (ce_dag_topo(&g, NULL, NULL, NULL) != 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "the graph has a cycle");
    return 2;
  }
  return push_common(L, &g, max);
}

/* m:fields(vars, empty [, cache]) -> nodes, edges, list: a question's fields of the
 * model built from vars (scm.from_list's list, in the engine's order):
 * its names in topological order, its edges {from, to} grouped by child in
 * that order, and the list of {name, parents, p} in that order, sharing
 * vars' parent lists (empty for a variable without parents) and tables.
 * With cache, each edge {from, to} is the one pair cache[from][to] holds
 * (read-only, shared by the questions that have the edge), made there when
 * missing; cache[0] counts those made. Every question a generator makes
 * carries them. */
static int m_fields(lua_State *L) {
  ce_scm *m = check_model(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  int cache = lua_istable(L, 4);
  lua_settop(L, 4);
  int made = 0;
  int n = ce_scm_size(m);
  const int *o = ce_scm_topo(m);
  int ne = 0;
  for (int v = 0; v < n; v++) ne += ce_scm_nparents(m, v);
  lua_createtable(L, n, 0);  /* 5: nodes */
  lua_createtable(L, ne, 0); /* 6: edges */
  lua_createtable(L, n, 0);  /* 7: list */
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (lua_rawgeti(L, 2, o[i] + 1) != LUA_TTABLE) return luaL_error(L, "fields: vars[%d] is not a table", o[i] + 1);
    int var = lua_gettop(L);
    lua_getfield(L, var, "name");
    int name = lua_gettop(L);
    lua_pushvalue(L, name);
    lua_rawseti(L, 5, i + 1);
    if (lua_getfield(L, var, "parents") != LUA_TTABLE) return luaL_error(L, "fields: vars[%d].parents is not a table", o[i] + 1);
    int pa = lua_gettop(L);
    lua_Integer np = (lua_Integer)lua_rawlen(L, pa);
    for (lua_Integer j = 1; j <= np; j++) {
      int from = lua_gettop(L) + 1;
      lua_rawgeti(L, pa, j);
      if (cache) { /* cache[from][to]: the pair, made once */
        lua_pushvalue(L, from);
        if (lua_rawget(L, 4) != LUA_TTABLE) {
          lua_pop(L, 1);
          lua_createtable(L, 0, 4);
          lua_pushvalue(L, from);
          lua_pushvalue(L, -2);
          lua_rawset(L, 4);
        }
        lua_pushvalue(L, name);
        if (lua_rawget(L, -2) == LUA_TTABLE) {
          lua_rawseti(L, 6, ++k);
          lua_settop(L, from - 1);
          continue;
        }
        lua_pop(L, 1);
      }
      lua_createtable(L, 2, 0);
      lua_pushvalue(L, from);
      lua_rawseti(L, -2, 1);
      lua_pushvalue(L, name);
      lua_rawseti(L, -2, 2);
      if (cache) {
        lua_pushvalue(L, name);
        lua_pushvalue(L, -2);
        lua_rawset(L, from + 1);
        made++;
      }
      lua_rawseti(L, 6, ++k);
      lua_settop(L, from - 1);
    }
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, name);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, np == 0 ? 3 : pa);
    lua_setfield(L, -2, "parents");
    lua_getfield(L, var, "p");
    lua_setfield(L, -2, "p");
    lua_rawseti(L, 7, i + 1);
    lua_settop(L, 7);
  }
  if (made) {
    lua_rawgeti(L, 4, 0);
    lua_Integer before = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, before + made);
    lua_rawseti(L, 4, 0);
  }
  return 3;
}

/* scm.random_dag(r, n, density, max_parents, names) -> nodes, edges:
 * ctx:random_dag's graph over names[1..n] drawn from the stream r (a
 * causal_eval.rng) by ce_dag_random; nothing when r is not such a stream or
 * n is not an integer in 1..32 (the caller then draws it itself).
 * Generators draw several graphs a question. */
static int scm_random_dag(lua_State *L) {
  ce_rng *r = ce_testudata(L, 1, "causal_eval.rng"); /* host/lua/rng.c's streams */
  if (!r || !lua_isinteger(L, 2) || lua_type(L, 3) != LUA_TNUMBER || lua_type(L, 4) != LUA_TNUMBER) return 0;
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_Integer n = lua_tointeger(L, 2);
  if (n < 1 || n > CE_DAG_MAX) return 0;
  int edges[CE_DAG_MAX * (CE_DAG_MAX - 1) / 2][2];
  int k = ce_dag_random(r, (int)n, lua_tonumber(L, 3), lua_tonumber(L, 4), edges);
  lua_settop(L, 5);
  lua_createtable(L, (int)n, 0);
  int nodes = lua_gettop(L);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 5, i + 1);
    lua_rawseti(L, nodes, i + 1);
  }
  lua_createtable(L, k, 0);
  for (int e = 0; e < k; e++) {
    lua_createtable(L, 2, 0);
    lua_rawgeti(L, nodes, edges[e][0] + 1);
    lua_rawseti(L, -2, 1);
    lua_rawgeti(L, nodes, edges[e][1] + 1);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, e + 1);
  }
  return 2;
}

/* masks as a list, 1-based */
static void push_list(lua_State *L, const uint32_t *m, int n) {
  lua_createtable(L, n, 0);
  for (int v = 0; v < n; v++) {
    lua_pushinteger(L, m[v]);
    lua_rawseti(L, -2, v + 1);
  }
}

/* scm.any_dag(r, n [, p, max_parents]) -> from, to, count, pa, adj: a
 * connected DAG over nodes 1..n drawn from the stream r by
 * ce_dag_random_connected (p 1/2 and 3 parents unless given): its edges
 * in the order drawn as two lists of node numbers and their count, and each
 * node's parent and neighbour masks (bit i - 1 for node i); nothing when r
 * is not a causal_eval.rng or n not an integer in 1..32. */
static int scm_any_dag(lua_State *L) {
  ce_rng *r = ce_testudata(L, 1, "causal_eval.rng"); /* host/lua/rng.c's streams */
  if (!r || !lua_isinteger(L, 2)) return 0;
  lua_Integer n = lua_tointeger(L, 2);
  if (n < 1 || n > CE_DAG_MAX) return 0;
  double p = luaL_optnumber(L, 3, 0.5), maxp = luaL_optnumber(L, 4, 3);
  int edges[CE_DAG_MAX * (CE_DAG_MAX - 1) / 2][2];
  int k = ce_dag_random_connected(r, (int)n, p, maxp, edges);
  uint32_t pa[CE_DAG_MAX] = {0}, adj[CE_DAG_MAX] = {0};
  lua_createtable(L, k, 0);
  lua_createtable(L, k, 0);
  for (int e = 0; e < k; e++) {
    int i = edges[e][0], j = edges[e][1];
    lua_pushinteger(L, i + 1);
    lua_rawseti(L, -3, e + 1);
    lua_pushinteger(L, j + 1);
    lua_rawseti(L, -2, e + 1);
    pa[j] |= CE_BIT(i);
    adj[i] |= CE_BIT(j);
    adj[j] |= CE_BIT(i);
  }
  lua_pushinteger(L, k);
  push_list(L, pa, (int)n);
  push_list(L, adj, (int)n);
  return 5;
}

/* The node list's place of a string: the last node it equals (as a Lua
 * table keyed by the nodes would have it), 1-based; 0 when none. */
static int place_of(const char *const *name, const size_t *len, int n, const char *s, size_t l) {
  for (int i = n - 1; i >= 0; i--)
    if (len[i] == l && memcmp(name[i], s, l) == 0) return i + 1;
  return 0;
}

/* The nodes of a plain graph, the list at idx: their count, their names in
 * name/len (kept alive by the list); -1 when one is not a name, is named
 * twice, or there are more than max. */
static int plain_nodes(lua_State *L, int idx, const char **name, size_t *len, int max) {
  int n = 0;
  while (lua_rawgeti(L, idx, n + 1) != LUA_TNIL) {
    if (n == max || lua_type(L, -1) != LUA_TSTRING) return -1;
    name[n] = lua_tolstring(L, -1, &len[n]);
    lua_pop(L, 1);
    if (place_of(name, len, n, name[n], len[n])) return -1;
    n++;
  }
  lua_pop(L, 1);
  return n;
}

/* Edge k of the list at idx as the places (1-based) of its two nodes in
 * at: 1; 0 past the last edge; -1 when it is not two of the n nodes. */
static int plain_edge(lua_State *L, int idx, lua_Integer k, const char *const *name, const size_t *len, int n,
                      int at[2]) {
  int t = lua_rawgeti(L, idx, k);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (t != LUA_TTABLE) return -1;
  for (int side = 0; side < 2; side++) {
    size_t l;
    const char *s = lua_rawgeti(L, -1, side + 1) == LUA_TSTRING ? lua_tolstring(L, -1, &l) : NULL;
    at[side] = s ? place_of(name, len, n, s, l) : 0;
    lua_pop(L, 1);
    if (!at[side]) return -1;
  }
  lua_pop(L, 1);
  return 1;
}

/* m:names_index() -> names, index: the variables' names in order, and a
 * table from name to 0-based index (causal_eval.scm keeps both on its
 * model; built here at their size, as every model a generator makes needs
 * them). */
static int m_names_index(lua_State *L) {
  ce_scm *m = check_model(L);
  int n = ce_scm_size(m);
  lua_createtable(L, n, 0);
  lua_createtable(L, 0, n);
  for (int v = 0; v < n; v++) {
    lua_pushstring(L, ce_scm_name(m, v));
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, v + 1);
    lua_pushinteger(L, v);
    lua_rawset(L, -3);
  }
  return 2;
}

#define GRAPH_MAX_NODES 64

/* scm.graph_vars(nodes, edges) -> vars: the list { {name =, parents = {...}},
 * ... } of a graph {nodes, edges} in the order of nodes, each parent list in
 * the order of edges (what ctx:random_model hands scm.from_list, built at
 * its size); nil when the graph is not plain (a node that is not a name, or
 * named twice, an edge that is not two nodes, over 64 nodes): the caller
 * then builds it, and reports what is wrong. */
static int scm_graph_vars(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *name[GRAPH_MAX_NODES];
  size_t len[GRAPH_MAX_NODES];
  int n = plain_nodes(L, 1, name, len, GRAPH_MAX_NODES);
  if (n < 0) return 0;
  /* edges as node places, to count each node's parents first */
  int np[GRAPH_MAX_NODES] = {0};
  lua_Integer ne = 0;
  for (;; ne++) {
    int at[2], got = plain_edge(L, 2, ne + 1, name, len, n, at);
    if (got == 0) break;
    if (got < 0) return 0;
    np[at[1] - 1]++;
  }
  lua_settop(L, 2);
  lua_createtable(L, n, 0); /* 3: vars */
  for (int v = 0; v < n; v++) {
    lua_createtable(L, 0, 3); /* name, parents and, later, p */
    lua_rawgeti(L, 1, v + 1);
    lua_setfield(L, -2, "name");
    lua_createtable(L, np[v], 0);
    lua_setfield(L, -2, "parents");
    lua_rawseti(L, 3, v + 1);
  }
  for (lua_Integer k = 1; k <= ne; k++) {
    lua_rawgeti(L, 2, k);       /* edge */
    lua_rawgeti(L, -1, 2);      /* to */
    size_t l;
    const char *s = lua_tolstring(L, -1, &l);
    int to = place_of(name, len, n, s, l);
    lua_pop(L, 1);
    lua_rawgeti(L, 3, to);
    lua_getfield(L, -1, "parents"); /* edge, var, parents */
    lua_rawgeti(L, -3, 1);          /* from */
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 3);
  }
  return 1;
}

/* scm.random_model(r, nodes, edges, lo, hi [, tables]) -> model, vars,
 * names, index: ctx:random_model's model of a graph {nodes, edges} in one
 * call, with what causal_eval.scm keeps of it (scm.wrap): vars as
 * graph_vars builds them, each with p: tables[name] when given, else the
 * 2^k probabilities r:probs(2^k, lo, hi) draws, node by node (none when r is
 * nil: graph only). nil, msg when the engine refuses the model (as
 * scm_core.new); nothing, and nothing drawn, when the graph is not plain
 * (see graph_vars), has over 24 nodes or a node over 23 parents, a table
 * given is not a list of numbers, or lo, hi are out of range: the caller
 * then builds it itself. */
static int scm_random_model(lua_State *L) {
  ce_rng *r = NULL;
  if (!lua_isnil(L, 1) && !(r = ce_testudata(L, 1, "causal_eval.rng"))) return 0;
  if (!lua_istable(L, 2) || !lua_istable(L, 3) || !lua_isinteger(L, 4) || !lua_isinteger(L, 5)) return 0;
  lua_Integer lo = lua_tointeger(L, 4), hi = lua_tointeger(L, 5);
  if (r && !(lo >= 0 && lo <= hi && hi <= 100)) return 0;
  if (!lua_isnoneornil(L, 6) && !lua_istable(L, 6)) return 0;
  int tables = lua_istable(L, 6);
  lua_settop(L, 6);
  const char *name[CE_SCM_MAX_VARS];
  size_t len[CE_SCM_MAX_VARS];
  int n = plain_nodes(L, 2, name, len, CE_SCM_MAX_VARS);
  if (n <= 0) return 0;
  enum { MAX_EDGES = CE_SCM_MAX_VARS * CE_SCM_MAX_VARS };
  int from[MAX_EDGES], to[MAX_EDGES], np[CE_SCM_MAX_VARS] = {0}, ne = 0;
  for (;; ne++) {
    int at[2], got = plain_edge(L, 3, ne + 1, name, len, n, at);
    if (got == 0) break;
    if (got < 0 || ne == MAX_EDGES) return 0;
    from[ne] = at[0] - 1;
    to[ne] = at[1] - 1;
    if (++np[to[ne]] >= CE_SCM_MAX_VARS) return 0;
  }
  lua_settop(L, 6);
  /* the tables given (tables[name]): lists of numbers, or the caller
   * builds the model itself */
  lua_Integer fixed[CE_SCM_MAX_VARS] = {0}; /* entries + 1 when given */
  for (int v = 0; tables && v < n; v++) {
    lua_rawgeti(L, 2, v + 1);
    int t = lua_gettable(L, 6);
    if (t == LUA_TTABLE) {
      lua_Integer k = luaL_len(L, -1);
      for (lua_Integer i = 1; i <= k; i++) {
        lua_rawgeti(L, -1, i);
        int isnum;
        lua_tonumberx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum) return 0;
      }
      fixed[v] = k + 1;
    } else if (lua_toboolean(L, -1)) {
      return 0;
    }
    lua_pop(L, 1);
  }
  /* nothing is refused from here on before the engine's own checks */
  size_t nval = 0;
  for (int v = 0; v < n; v++) nval += fixed[v] ? (size_t)(fixed[v] - 1) : r ? (size_t)1 << np[v] : 0;
  ce_scm_var vars[CE_SCM_MAX_VARS];
  const char *pars[MAX_EDGES];
  double *vals = lua_newuserdatauv(L, (nval ? nval : 1) * sizeof(double), 0); /* 7: scratch */
  lua_createtable(L, n, 0);                                                      /* 8: vars */
  int start[CE_SCM_MAX_VARS], off = 0;
  for (int v = 0; v < n; v++) {
    vars[v] = (ce_scm_var){0};
    vars[v].name = name[v];
    vars[v].parents = pars + off;
    start[v] = off;
    off += np[v];
    lua_createtable(L, 0, 3);
    lua_rawgeti(L, 2, v + 1);
    lua_setfield(L, -2, "name");
    lua_createtable(L, np[v], 0);
    lua_setfield(L, -2, "parents");
    lua_rawseti(L, 8, v + 1);
  }
  for (int e = 0; e < ne; e++) {
    ce_scm_var *d = &vars[to[e]];
    pars[start[to[e]] + d->nparents++] = name[from[e]];
    lua_rawgeti(L, 8, to[e] + 1);
    lua_getfield(L, -1, "parents");
    lua_rawgeti(L, 2, from[e] + 1);
    lua_rawseti(L, -2, d->nparents);
    lua_pop(L, 2);
  }
  {
    uint64_t span = (uint64_t)(hi - lo) + 1u;
    double *p = vals;
    for (int v = 0; v < n; v++) {
      if (fixed[v]) { /* the table given, as it is */
        size_t k = (size_t)(fixed[v] - 1);
        lua_rawgeti(L, 8, v + 1);
        lua_rawgeti(L, 2, v + 1);
        lua_gettable(L, 6);
        for (size_t i = 0; i < k; i++) {
          lua_rawgeti(L, -1, (lua_Integer)i + 1);
          p[i] = (double)lua_tonumber(L, -1);
          lua_pop(L, 1);
        }
        lua_setfield(L, -2, "p");
        lua_pop(L, 1);
        vars[v].p1 = p;
        vars[v].np1 = k;
        p += k;
        continue;
      }
      if (!r) continue;
      size_t k = (size_t)1 << np[v]; /* r:probs(2^k, lo, hi), node by node */
      lua_rawgeti(L, 8, v + 1);
      lua_createtable(L, (int)k, 0);
      for (size_t i = 0; i < k; i++) {
        p[i] = (lua_Number)(lo + (lua_Integer)ce_rng_below(r, span)) / 100.0;
        lua_pushnumber(L, p[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_setfield(L, -2, "p");
      lua_pop(L, 1);
      vars[v].p1 = p;
      vars[v].np1 = k;
      p += k;
    }
  }
  LScm *u = lua_newuserdatauv(L, sizeof *u, 0); /* 9 */
  u->m = NULL;
  luaL_setmetatable(L, SCM_MT);
  ce_err err;
  u->m = ce_scm_new(vars, n, &err);
  if (!u->m) {
    luaL_pushfail(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushvalue(L, 8);
  lua_createtable(L, n, 0);
  lua_createtable(L, 0, n);
  for (int v = 0; v < n; v++) {
    lua_rawgeti(L, 2, v + 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, v + 1);
    lua_pushinteger(L, v);
    lua_rawset(L, -3);
  }
  return 4;
}

/* bench.pct: "35%", or "35.5%" for a value off the whole percents */
static size_t pct_text(char *out, size_t size, double p) {
  double v = p * 100.0, r = floor(v + 0.5);
  int w;
  if (fabs(v - r) < 1e-9 && r >= 0.0 && r <= 100.0) w = snprintf(out, size, "%d%%", (int)r);
  else w = snprintf(out, size, "%.1f%%", v);
  return w < 0 ? 0 : (size_t)w;
}

#define TEXT_MAX_ROWS 1024
#define TEXT_MAX_PARENTS 256

/* a string field of words[name]; NULL when there is none */
static const char *word_of(lua_State *L, int words, int name, const char *field, size_t *len) {
  lua_pushvalue(L, name);
  const char *s = NULL;
  if (lua_rawget(L, words) == LUA_TTABLE && lua_getfield(L, -1, field) == LUA_TSTRING) s = lua_tolstring(L, -1, len);
  else lua_pushnil(L);
  lua_pop(L, 2); /* the string stays alive in words */
  return s;
}

/* scm.describe_tables(topo, vars, index, words, unit) -> text: the sentences
 * ctx:describe_tables writes for a model (see there), every table in words;
 * nothing when something it needs is missing or not a string or number
 * (the caller then writes them, and says what is wrong). Every prompt that
 * states its numbers has them. */
static int scm_describe_tables(lua_State *L) {
  for (int a = 1; a <= 4; a++)
    if (!lua_istable(L, a)) return 0;
  size_t ulen;
  if (lua_type(L, 5) != LUA_TSTRING) return 0;
  const char *unit = lua_tolstring(L, 5, &ulen);
  lua_settop(L, 5);
  /* everything read first (the tables keep the strings alive), then written */
  const char *yes[CE_SCM_MAX_VARS], *pyes[TEXT_MAX_PARENTS], *pno[TEXT_MAX_PARENTS];
  size_t yl[CE_SCM_MAX_VARS], pyl[TEXT_MAX_PARENTS], pnl[TEXT_MAX_PARENTS];
  int np[CE_SCM_MAX_VARS], rows[CE_SCM_MAX_VARS], n = 0, total = 0, pk = 0;
  double val[TEXT_MAX_ROWS];
  while (lua_rawgeti(L, 1, n + 1) != LUA_TNIL) {
    if (n == CE_SCM_MAX_VARS) return 0;
    int name = lua_gettop(L);
    lua_pushvalue(L, name);
    if (lua_rawget(L, 3) != LUA_TNUMBER || lua_rawgeti(L, 2, lua_tointeger(L, -1) + 1) != LUA_TTABLE) return 0;
    int var = lua_gettop(L);
    if ((yes[n] = word_of(L, 4, name, "yes", &yl[n])) == NULL) return 0;
    if (lua_getfield(L, var, "p") != LUA_TTABLE || lua_getfield(L, var, "parents") != LUA_TTABLE) return 0;
    int t = var + 1, pa = var + 2;
    int k = (int)lua_rawlen(L, pa);
    lua_Integer m = luaL_len(L, t);
    if (k >= CE_SCM_MAX_VARS || pk + k > TEXT_MAX_PARENTS || m < 0 || total + m > TEXT_MAX_ROWS) return 0;
    for (int j = 1; j <= k; j++) {
      lua_rawgeti(L, pa, j);
      int pn = lua_gettop(L);
      if ((pyes[pk] = word_of(L, 4, pn, "yes", &pyl[pk])) == NULL) return 0;
      if ((pno[pk] = word_of(L, 4, pn, "no", &pnl[pk])) == NULL) return 0;
      pk++;
      lua_pop(L, 1);
    }
    for (lua_Integer i = 1; i <= m; i++) {
      lua_rawgeti(L, t, i);
      int isnum;
      val[total + i - 1] = (double)lua_tonumberx(L, -1, &isnum);
      lua_pop(L, 1);
      if (!isnum) return 0;
    }
    np[n] = k;
    rows[n] = (int)m;
    total += (int)m;
    lua_settop(L, 5);
    n++;
  }
  lua_settop(L, 5);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char num[64];
  int at = 0, pat = 0;
  for (int v = 0; v < n; v++) {
    int k = np[v];
    if (k == 0) {
      /* as the Lua code: a node without parents states its first entry */
      luaL_addstring(&b, "The probability that a ");
      luaL_addlstring(&b, unit, ulen);
      luaL_addchar(&b, ' ');
      luaL_addlstring(&b, yes[v], yl[v]);
      luaL_addstring(&b, " is ");
      if (rows[v] < 1) { /* t[1] is nil there: the Lua code raises */
        luaL_pushresult(&b);
        return 0;
      }
      luaL_addlstring(&b, num, pct_text(num, sizeof num, val[at]));
      luaL_addstring(&b, ". ");
    } else {
      for (int i = 0; i < rows[v]; i++) {
        luaL_addstring(&b, "For a ");
        luaL_addlstring(&b, unit, ulen);
        luaL_addstring(&b, " that ");
        for (int j = 0; j < k; j++) {
          if (j > 0) luaL_addstring(&b, j == k - 1 ? " and " : ", ");
          if ((i >> (k - 1 - j)) & 1) luaL_addlstring(&b, pyes[pat + j], pyl[pat + j]);
          else luaL_addlstring(&b, pno[pat + j], pnl[pat + j]);
        }
        luaL_addstring(&b, ", the probability that the ");
        luaL_addlstring(&b, unit, ulen);
        luaL_addchar(&b, ' ');
        luaL_addlstring(&b, yes[v], yl[v]);
        luaL_addstring(&b, " is ");
        luaL_addlstring(&b, num, pct_text(num, sizeof num, val[at + i]));
        luaL_addstring(&b, ". ");
      }
    }
    at += rows[v];
    pat += k;
  }
  if (luaL_bufflen(&b) > 0) luaL_buffsub(&b, 1); /* no trailing space */
  luaL_pushresult(&b);
  return 1;
}

#define IDENTITY_MAX_NODES 64

/* decimal digits of v >= 0 into out; their number */
static size_t put_uint(char *out, unsigned long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

/* scm.identity(nodes, model, tables, query_json [, shows [, as_hash]]) -> the string
 * bench.identity builds for a question (see there): #nodes, then for each
 * entry of model "|", its parents' places "i," and, when tables, its table
 * v.p as packed doubles (string.pack "d..."), then "|", query_json with
 * every string that names a node replaced by "#place" (as
 * query_json:gsub('"([^"\\]*)"', names) does), then "|" .. shows when
 * given; with as_hash, rng.hash of that string instead. Every question
 * of a generator builds one, to tell repeats apart. */
static int scm_identity(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  int tables = lua_toboolean(L, 3);
  size_t qlen, slen = 0;
  const char *q = luaL_checklstring(L, 4, &qlen);
  const char *shows = luaL_optlstring(L, 5, NULL, &slen);
  int as_hash = lua_toboolean(L, 6);
  lua_settop(L, 5);
  const char *name[IDENTITY_MAX_NODES];
  size_t len[IDENTITY_MAX_NODES];
  int n = 0;
  while (lua_rawgeti(L, 1, n + 1) != LUA_TNIL) {
    if (n == IDENTITY_MAX_NODES) return luaL_error(L, "identity: more than %d nodes", IDENTITY_MAX_NODES);
    if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "identity: node %d is not a name", n + 1);
    name[n] = lua_tolstring(L, -1, &len[n]); /* kept alive by nodes */
    lua_pop(L, 1);
    n++;
  }
  lua_pop(L, 1);
  lua_Integer nnodes = luaL_len(L, 1);
  /* the model's part first, into a scratch string (a userdata, so that an
   * error leaves nothing behind): per entry '|', each parent's place and
   * ',', and the packed table */
  size_t cap = 256, used = 0;
  char *buf = lua_newuserdatauv(L, cap, 0); /* 6 */
  for (lua_Integer i = 1;; i++) {
    if (lua_rawgeti(L, 2, i) == LUA_TNIL) {
      lua_pop(L, 1);
      break;
    }
    if (lua_type(L, -1) != LUA_TTABLE) return luaL_error(L, "identity: model[%d] is not a table", (int)i);
    int v = lua_gettop(L);
    lua_getfield(L, v, "parents"); /* v + 1 */
    lua_Integer k = luaL_len(L, v + 1);
    lua_Integer np = 0;
    if (tables) {
      int t = lua_getfield(L, v, "p"); /* v + 2 */
      if (t == LUA_TTABLE) np = luaL_len(L, v + 2);
      else if (lua_toboolean(L, v + 2)) return luaL_error(L, "identity: model[%d].p is not a table", (int)i);
    }
    size_t need = 1 + (size_t)k * 12 + (size_t)np * sizeof(double);
    if (used + need > cap) {
      while (used + need > cap) cap *= 2;
      char *grown = lua_newuserdatauv(L, cap, 0);
      memcpy(grown, buf, used);
      lua_replace(L, 6);
      buf = grown;
    }
    buf[used++] = '|';
    for (lua_Integer j = 1; j <= k; j++) {
      lua_rawgeti(L, v + 1, j);
      size_t pl;
      const char *pn = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &pl) : NULL;
      int at = pn ? place_of(name, len, n, pn, pl) : 0;
      lua_pop(L, 1);
      if (!at) return luaL_error(L, "identity: model[%d].parents[%d] is not a node", (int)i, (int)j);
      used += put_uint(buf + used, (unsigned long)at);
      buf[used++] = ',';
    }
    for (lua_Integer j = 1; j <= np; j++) {
      lua_rawgeti(L, v + 2, j);
      int isnum;
      double d = (double)lua_tonumberx(L, -1, &isnum);
      lua_pop(L, 1);
      if (!isnum) return luaL_error(L, "identity: model[%d].p[%d] is not a number", (int)i, (int)j);
      memcpy(buf + used, &d, sizeof d); /* string.pack("d"): native order */
      used += sizeof d;
    }
    lua_settop(L, 6);
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char num[32];
  luaL_addlstring(&b, num, put_uint(num, (unsigned long)nnodes));
  luaL_addlstring(&b, buf, used);
  luaL_addchar(&b, '|');
  /* gsub's scan: a match starts at a quote and runs to the next quote when
   * no backslash comes first; elsewhere a character is copied as it is */
  size_t at = 0, plain = 0; /* q[plain..at) is copied when a match or the end comes */
  while (at < qlen) {
    if (q[at] == '"') {
      size_t e = at + 1;
      while (e < qlen && q[e] != '"' && q[e] != '\\') e++;
      if (e < qlen && q[e] == '"') {
        int place = place_of(name, len, n, q + at + 1, e - at - 1);
        if (place) {
          luaL_addlstring(&b, q + plain, at - plain);
          num[0] = '"';
          num[1] = '#';
          size_t w = 2 + put_uint(num + 2, (unsigned long)place);
          num[w++] = '"';
          luaL_addlstring(&b, num, w);
          plain = e + 1;
        }
        at = e + 1;
        continue;
      }
    }
    at++;
  }
  luaL_addlstring(&b, q + plain, qlen - plain);
  if (shows) {
    luaL_addchar(&b, '|');
    luaL_addlstring(&b, shows, slen);
  }
  if (as_hash) { /* rng.hash of the string, which is not made */
    lua_Integer h = (lua_Integer)ce_hash64(luaL_buffaddr(&b), luaL_bufflen(&b), 0);
    lua_pushinteger(L, h);
    return 1;
  }
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg scm_funcs[] = {
  {"new", scm_new}, {"topo", scm_topo}, {"mec_common", scm_mec_common}, {"identity", scm_identity},
  {"graph_vars", scm_graph_vars}, {"random_dag", scm_random_dag},
  {"random_model", scm_random_model}, {"any_dag", scm_any_dag},
  {"describe_tables", scm_describe_tables}, {NULL, NULL}};
static const luaL_Reg scm_methods[] = {
  {"size", m_size},         {"names", m_names},
  {"index", m_index},       {"parents", m_parents},
  {"table", m_table},       {"topo", m_topo},
  {"has_tables", m_has_tables},
  {"prob", m_prob},         {"counterfactual", m_counterfactual},
  {"ate", m_ate},           {"ett", m_ett},
  {"nde", m_nde},           {"nie", m_nie},
  {"nested", m_nested},     {"pa", m_pa},
  {"children", m_children}, {"ancestors", m_ancestors},
  {"descendants", m_descendants}, {"mediators", m_mediators},
  {"reachable", m_reachable}, {"dsep", m_dsep},
  {"directed_path", m_directed_path}, {"backdoor", m_backdoor},
  {"frontdoor", m_frontdoor}, {"instrument", m_instrument},
  {"vstructures", m_vstructures}, {"cpdag", m_cpdag},
  {"mec", m_mec},
  {"mec_common", m_mec_common},
  {"names_index", m_names_index},
  {"fields", m_fields},
  {"dsep_each", m_dsep_each},
  {"close", m_close},
  {NULL, NULL}
};
static const luaL_Reg scm_metameths[] = {
  {"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring}, {"__index", NULL}, {NULL, NULL}
};

int luaopen_causal_eval_scm_core(lua_State *L) {
  luaL_newmetatable(L, SCM_MT);
  luaL_setfuncs(L, scm_metameths, 0);
  luaL_newlib(L, scm_methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = methods */
  lua_pop(L, 1);                   /* pop mt */
  luaL_newlib(L, scm_funcs);
  lua_pushinteger(L, CE_SCM_MAX_VARS);
  lua_setfield(L, -2, "MAX_VARS");
  return 1;
}
