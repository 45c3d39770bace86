/* SPDX-License-Identifier: MIT */
/* st:score_sums(db, prefix, log_step, zero, merge, visit) -> count: the
 * summary's scan of one model's score lines (causal_eval.results), added up
 * in C (core/store/score_sums.h) while the lines are as a score line is
 * written. merge(sums) is called once, with what was added up: at the first
 * line the sums do not take, or at the end; that line and every one after
 * it go to visit(key, value), as st:scan would give them, in the same scan. */
#include "score_sums.h"

#include <lauxlib.h>

#include "core/store/score_sums.h"

typedef struct {
  lua_State *L;
  int merge, visit;
  ce_score_sums sums;
  int merged, err, oom;
  long n;
} ctx;

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void push_table(lua_State *L, const ce_sums_table *t, int with_correct) {
  lua_createtable(L, 0, t->n);
  for (int i = 0; i < t->n; i++) {
    lua_pushlstring(L, t->g[i].key, t->g[i].len);
    if (with_correct) {
      lua_createtable(L, 0, 2);
      set_int(L, "n", (lua_Integer)t->g[i].n);
      set_int(L, "correct", (lua_Integer)t->g[i].correct);
    } else {
      lua_pushinteger(L, (lua_Integer)t->g[i].n);
    }
    lua_rawset(L, -3);
  }
}

static void push_sums(lua_State *L, const ce_score_sums *s) {
  lua_createtable(L, 0, 20);
  set_int(L, "n", (lua_Integer)s->n);
  set_int(L, "scored", (lua_Integer)s->scored);
  set_int(L, "correct", (lua_Integer)s->correct);
  set_int(L, "unparseable", (lua_Integer)s->unparseable);
  set_int(L, "errors", (lua_Integer)s->errors);
  set_int(L, "invalid", (lua_Integer)s->invalid);
  set_int(L, "cached", (lua_Integer)s->cached);
  set_int(L, "tokens_in", (lua_Integer)s->tokens_in);
  set_int(L, "tokens_out", (lua_Integer)s->tokens_out);
  set_int(L, "lat_n", (lua_Integer)s->lat_n);
  lua_pushnumber(L, s->lat_sum);
  lua_setfield(L, -2, "lat_sum");
  lua_pushnumber(L, s->lat_min);
  lua_setfield(L, -2, "lat_min");
  lua_pushnumber(L, s->lat_max);
  lua_setfield(L, -2, "lat_max");
  lua_createtable(L, 0, (int)s->bused);
  size_t i = 0;
  int64_t k;
  uint64_t n;
  while (ce_score_sums_bucket(s, &i, &k, &n)) {
    lua_pushinteger(L, (lua_Integer)n);
    lua_rawseti(L, -2, (lua_Integer)k);
  }
  lua_setfield(L, -2, "buckets");
  push_table(L, &s->classes, 0);
  lua_setfield(L, -2, "classes");
  push_table(L, &s->fam, 1);
  lua_setfield(L, -2, "fam");
  push_table(L, &s->diff, 1);
  lua_setfield(L, -2, "diff");
  push_table(L, &s->rung, 1);
  lua_setfield(L, -2, "rung");
}

/* merge(sums), made and called in protected mode: an allocation that
 * fails must not longjmp over the scan's open transaction */
static int call_merge(lua_State *L) {
  const ctx *c = lua_touserdata(L, 2);
  lua_settop(L, 1);
  push_sums(L, &c->sums);
  lua_call(L, 1, 0);
  return 0;
}

/* merge(sums), once; 0, or 1 when it raised (its error on the stack) */
static int merge(ctx *c) {
  c->merged = 1;
  lua_pushcfunction(c->L, call_merge);
  lua_pushvalue(c->L, c->merge);
  lua_pushlightuserdata(c->L, c);
  return lua_pcall(c->L, 2, 0, 0) != LUA_OK;
}

static int visit(const char *k, size_t kl, const char *v, size_t vl, void *ud) {
  ctx *c = ud;
  lua_State *L = c->L;
  c->n++;
  if (!c->merged) {
    int r = ce_score_sums_add(&c->sums, v, vl);
    if (r == 1) return 0;
    if (r < 0) {
      c->oom = 1;
      return 1;
    }
    /* (a raising callback would longjmp over the open transaction) */
    if (merge(c)) {
      c->err = 1;
      return 1;
    }
  }
  int stop;
  if (ce_lua_scan_call(L, c->visit, k, kl, v, vl, &stop)) {
    c->err = 1;
    return 1;
  }
  return stop;
}

int ce_lua_score_sums(lua_State *L, ce_store *s, int where, int db, ce_err *e) {
  size_t pl;
  const char *prefix = luaL_checklstring(L, 3, &pl);
  double log_step = luaL_checknumber(L, 4);
  lua_Integer zero = luaL_checkinteger(L, 5);
  luaL_checktype(L, 6, LUA_TFUNCTION);
  luaL_checktype(L, 7, LUA_TFUNCTION);
  ctx *c = lua_newuserdatauv(L, sizeof *c, 0); /* (freed by the collector; its buffers below) */
  c->L = L;
  c->merge = 6;
  c->visit = 7;
  c->merged = c->err = c->oom = 0;
  c->n = 0;
  ce_score_sums_init(&c->sums, log_step, (int64_t)zero);
  long n = ce_store_scan_at(s, where, db, prefix, pl, 0, visit, c, e);
  int failed = c->err || c->oom || n < 0;
  if (!failed && !c->merged && merge(c)) c->err = failed = 1;
  ce_score_sums_free(&c->sums);
  if (c->err) return lua_error(L);
  if (c->oom) return luaL_error(L, "out of memory adding up the score lines");
  if (n < 0) return -1;
  lua_pushinteger(L, c->n);
  return 1;
}
