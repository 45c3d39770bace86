/* SPDX-License-Identifier: MIT */
/* causal_eval.stats_core: the C backend of causal_eval.stats (host/core/stats).
 *
 *   core.bootstrap(scores, { iters = 10000, seed = 0, method = "percentile"|"bca", level = 0.95,
 *                            full = false, threads = 0 })
 *     -> { mean, low, high, iters, method, reduced }
 *   core.signflip(diffs, { iters, seed, threads }) -> p
 *   core.mcnemar(b, c) -> p, exact, statistic
 */
#include <lauxlib.h>
#include <lua.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats/stats.h"
#include "core/stats/stats_cl.h"
#include "modules.h"

/* a Lua list of numbers into a malloc'd array; errors name the position */
static double *numbers(lua_State *L, int idx, int *n) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer len = luaL_len(L, idx);
  if (len < 1) luaL_error(L, "no scores: at least one is needed");
  if (len > 100000000) luaL_error(L, "too many scores (%d)", (int)len);
  double *x = malloc((size_t)len * sizeof *x);
  if (!x) luaL_error(L, "out of memory");
  for (lua_Integer i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    int isnum;
    x[i - 1] = lua_tonumberx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum) {
      free(x);
      luaL_error(L, "score %d is not a number", (int)i);
    }
  }
  *n = (int)len;
  return x;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer d) {
  if (!lua_istable(L, t)) return d;
  lua_getfield(L, t, k);
  lua_Integer v = luaL_optinteger(L, -1, d);
  lua_pop(L, 1);
  return v;
}

static double opt_num(lua_State *L, int t, const char *k, double d) {
  if (!lua_istable(L, t)) return d;
  lua_getfield(L, t, k);
  double v = luaL_optnumber(L, -1, d);
  lua_pop(L, 1);
  return v;
}

static int s_bootstrap(lua_State *L) {
  int n;
  double *x = numbers(L, 1, &n);
  lua_Integer iters = opt_int(L, 2, "iters", 10000), seed = opt_int(L, 2, "seed", 0);
  int threads = (int)opt_int(L, 2, "threads", 0);
  double level = opt_num(L, 2, "level", 0.95);
  int full = 0, bca = 0, opencl = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "backend");
    opencl = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "opencl") == 0;
    lua_pop(L, 1);
    lua_getfield(L, 2, "full");
    full = lua_toboolean(L, -1);
    lua_getfield(L, 2, "method");
    const char *m = luaL_optstring(L, -1, "percentile");
    if (strcmp(m, "bca") == 0) bca = 1;
    else if (strcmp(m, "percentile") != 0) {
      free(x);
      return luaL_error(L, "method must be percentile or bca, got '%s'", m);
    }
    lua_pop(L, 2);
  }
  if (iters < 1 || iters > 100000000) {
    free(x);
    return luaL_error(L, "iterations must be between 1 and 100000000, got %I", (LUAI_UACINT)iters);
  }
  if (!(level > 0 && level < 1)) {
    free(x);
    return luaL_error(L, "level must be between 0 and 1");
  }
  double *means = malloc((size_t)iters * sizeof *means);
  if (!means) {
    free(x);
    return luaL_error(L, "out of memory");
  }
  ce_err e;
  int reduced;
  if (opencl) {
    /* the same checks as the C backend, then the device */
    reduced = ce_stats_boot_means(x, n, (uint64_t)seed, 1, 1, !full, means, &e);
    if (reduced >= 0) reduced = ce_stats_cl_boot_means(x, n, (uint64_t)seed, (int)iters, !full, means, &e);
  } else {
    reduced = ce_stats_boot_means(x, n, (uint64_t)seed, (int)iters, threads, !full, means, &e);
  }
  if (reduced < 0) {
    free(x);
    free(means);
    return luaL_error(L, "%s", e.msg);
  }
  double sum = 0;
  for (int i = 0; i < n; i++) sum += x[i];
  double lo, hi;
  if (bca) ce_stats_bca_ci(x, n, means, (int)iters, level, &lo, &hi);
  else ce_stats_percentile_ci(means, (int)iters, level, &lo, &hi);
  free(x);
  free(means);
  lua_createtable(L, 0, 7);
  lua_pushnumber(L, sum / n);
  lua_setfield(L, -2, "mean");
  lua_pushnumber(L, lo);
  lua_setfield(L, -2, "low");
  lua_pushnumber(L, hi);
  lua_setfield(L, -2, "high");
  lua_pushinteger(L, iters);
  lua_setfield(L, -2, "iters");
  lua_pushstring(L, bca ? "bca" : "percentile");
  lua_setfield(L, -2, "method");
  lua_pushboolean(L, reduced == 1);
  lua_setfield(L, -2, "reduced");
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "n");
  return 1;
}

static int s_signflip(lua_State *L) {
  int n;
  double *d = numbers(L, 1, &n);
  lua_Integer iters = opt_int(L, 2, "iters", 10000), seed = opt_int(L, 2, "seed", 0);
  int threads = (int)opt_int(L, 2, "threads", 0);
  for (int i = 0; i < n; i++)
    if (!isfinite(d[i])) {
      free(d);
      return luaL_error(L, "difference %d is not finite", i + 1);
    }
  /* the count goes on as an int: 2^32 + 5000 was 5000 resamples */
  if (iters < 1 || iters > 100000000) {
    free(d);
    return luaL_error(L, "iterations must be between 1 and 100000000, got %I", (LUAI_UACINT)iters);
  }
  double p = ce_stats_signflip_p(d, n, (uint64_t)seed, (int)iters, threads);
  free(d);
  lua_pushnumber(L, p);
  return 1;
}

static int s_mcnemar(lua_State *L) {
  lua_Integer b = luaL_checkinteger(L, 1), c = luaL_checkinteger(L, 2);
  luaL_argcheck(L, b >= 0 && c >= 0, 1, "counts must be >= 0");
  int exact;
  double stat;
  double p = ce_stats_mcnemar((long)b, (long)c, &exact, &stat);
  lua_pushnumber(L, p);
  lua_pushboolean(L, exact);
  lua_pushnumber(L, stat);
  return 3;
}

static int s_norm_quantile(lua_State *L) {
  lua_pushnumber(L, ce_stats_norm_quantile(luaL_checknumber(L, 1)));
  return 1;
}

/* core.cl_init(want, gpu_only) -> "platform / device" | nil, why */
static int s_cl_init(lua_State *L) {
  const char *want = luaL_optstring(L, 1, NULL);
  ce_err e;
  if (ce_stats_cl_init(want, lua_toboolean(L, 2), &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushstring(L, ce_stats_cl_device());
  return 1;
}

/* core.boot_means(scores, { iters, seed, backend, full }) -> { means... }, reduced (for tests) */
static int s_boot_means(lua_State *L) {
  int n;
  double *x = numbers(L, 1, &n);
  lua_Integer iters = opt_int(L, 2, "iters", 100), seed = opt_int(L, 2, "seed", 0);
  int opencl = 0, full = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "backend");
    opencl = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "opencl") == 0;
    lua_getfield(L, 2, "full");
    full = lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  double *m = malloc((size_t)(iters > 0 ? iters : 1) * sizeof *m);
  ce_err e;
  int r = opencl ? ce_stats_cl_boot_means(x, n, (uint64_t)seed, (int)iters, !full, m, &e)
                 : ce_stats_boot_means(x, n, (uint64_t)seed, (int)iters, 0, !full, m, &e);
  free(x);
  if (r < 0) {
    free(m);
    return luaL_error(L, "%s", e.msg);
  }
  lua_createtable(L, (int)iters, 0);
  for (lua_Integer i = 0; i < iters; i++) {
    lua_pushnumber(L, m[i]);
    lua_rawseti(L, -2, i + 1);
  }
  free(m);
  lua_pushboolean(L, r == 1);
  return 2;
}

/* core.score(items) with items = { answer_type = {...}, parsed = {...}, truth = {...},
 * tolerance = {...} | number, group = {...} } -> scores, { [group] = { n, sum } } */
static int s_score(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "truth");
  luaL_argcheck(L, lua_istable(L, -1), 1, "truth: a list");
  int n = (int)luaL_len(L, -1);
  int t_truth = lua_gettop(L);
  lua_getfield(L, 1, "parsed");
  int t_parsed = lua_gettop(L);
  lua_getfield(L, 1, "answer_type");
  int t_type = lua_gettop(L);
  lua_getfield(L, 1, "tolerance");
  int t_tol = lua_gettop(L);
  lua_getfield(L, 1, "group");
  int t_group = lua_gettop(L);
  luaL_argcheck(L, lua_istable(L, t_parsed), 1, "parsed: a list");
  if ((int)luaL_len(L, t_parsed) > n) luaL_error(L, "more parsed answers (%d) than truths (%d)", (int)luaL_len(L, t_parsed), n);
  ce_stats_item *items = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *items, 0);
  double *score = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *score, 0);
  /* groups: labels to numbers, in order of appearance */
  lua_newtable(L);
  int t_gid = lua_gettop(L);
  lua_newtable(L);
  int t_gnames = lua_gettop(L);
  int ngroups = 0;
  for (int i = 0; i < n; i++) {
    ce_stats_item *it = &items[i];
    memset(it, 0, sizeof *it);
    lua_rawgeti(L, t_type, i + 1);
    const char *kind = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, t_truth, i + 1);
    lua_rawgeti(L, t_parsed, i + 1);
    it->kind = (kind && strcmp(kind, "number") == 0) || (!kind && lua_type(L, -2) == LUA_TNUMBER);
    if (it->kind == 1) {
      if (lua_type(L, -2) != LUA_TNUMBER) luaL_error(L, "question %d: a number answer needs a number truth", i + 1);
      it->truth_number = lua_tonumber(L, -2);
      it->number = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
      if (lua_istable(L, t_tol)) {
        lua_rawgeti(L, t_tol, i + 1);
        it->tolerance = luaL_optnumber(L, -1, 0.01);
        lua_pop(L, 1);
      } else {
        it->tolerance = lua_isnumber(L, t_tol) ? lua_tonumber(L, t_tol) : 0.01;
      }
    } else {
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "question %d: a label answer needs a label truth", i + 1);
      it->truth_label = lua_tostring(L, -2); /* the tables keep the strings */
      it->label = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    }
    lua_pop(L, 2);
    it->group = -1;
    if (lua_istable(L, t_group)) {
      lua_rawgeti(L, t_group, i + 1);
      if (!lua_isnil(L, -1)) {
        lua_pushvalue(L, -1);
        if (lua_rawget(L, t_gid) == LUA_TNIL) {
          lua_pop(L, 1);
          lua_pushvalue(L, -1);
          lua_pushinteger(L, ngroups);
          lua_rawset(L, t_gid);
          lua_pushvalue(L, -1);
          lua_rawseti(L, t_gnames, ngroups + 1);
          it->group = ngroups++;
        } else {
          it->group = (int)lua_tointeger(L, -1);
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
    }
  }
  long *gn = lua_newuserdatauv(L, (size_t)(ngroups > 0 ? ngroups : 1) * sizeof *gn, 0);
  double *gs = lua_newuserdatauv(L, (size_t)(ngroups > 0 ? ngroups : 1) * sizeof *gs, 0);
  ce_stats_score(items, n, score, ngroups, gn, gs);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, score[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_createtable(L, 0, ngroups);
  for (int g = 0; g < ngroups; g++) {
    lua_rawgeti(L, t_gnames, g + 1);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, gn[g]);
    lua_setfield(L, -2, "n");
    lua_pushnumber(L, gs[g]);
    lua_setfield(L, -2, "sum");
    lua_rawset(L, -3);
  }
  return 2;
}

int luaopen_causal_eval_stats_core(lua_State *L) {
  static const luaL_Reg funcs[] = {{"bootstrap", s_bootstrap}, {"score", s_score}, {"cl_init", s_cl_init}, {"boot_means", s_boot_means}, {"signflip", s_signflip}, {"mcnemar", s_mcnemar},
                                   {"norm_quantile", s_norm_quantile}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
