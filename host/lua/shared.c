/* SPDX-License-Identifier: MIT */
/* causal_eval.shared: native objects several worker threads use together
 * (host/core/shared). A state creates one and hands its id to another, which
 * attaches to it: nothing Lua crosses threads.
 *
 *   local c = shared.counter(0, 1000)      -- c:next() -> 0, 1, ... 999, then nil
 *   local f = shared.flag()                -- f:set(code, msg), f:get()
 *   local b = shared.bucket(50)            -- b:take() -> 0 or seconds to wait
 *   local l = shared.lines("q.jsonl")      -- l:next() -> line, number
 *   local s = shared.sum()                 -- s:add(x) -> total
 *   local p = shared.plan()                -- a benchmark's pair plan (core/util/pair_plan.h)
 *   shared.attach("counter", c:id())       -- the same counter, in another state
 */
#include <lauxlib.h>
#include <lua.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/pair_plan.h"
#include "core/util/question_line.h"
#include "core/util/shared.h"
#include "modules.h"
#include "udata.h"

typedef struct { uint64_t id; void *obj; } LShared; /* obj == NULL: released */

static const char *const KINDS[] = {"counter", "flag", "bucket", "lines", "sum", "set", "histogram", "ring", "plan", NULL};
static const char *const MTS[] = {"causal_eval.shared_counter", "causal_eval.shared_flag",
                                  "causal_eval.shared_bucket", "causal_eval.shared_lines",
                                  "causal_eval.shared_sum", "causal_eval.shared_set",
                                  "causal_eval.shared_histogram", "causal_eval.shared_ring",
                                  "causal_eval.shared_plan"};

static void *check(lua_State *L, int kind) {
  LShared *u = ce_checkudata(L, 1, MTS[kind]);
  if (!u->obj) luaL_error(L, "attempt to use a released %s", KINDS[kind]);
  return u->obj;
}

static int push_shared(lua_State *L, int kind, void *obj, ce_shared_destroy destroy) {
  if (!obj) return luaL_error(L, "shared.%s: out of memory", KINDS[kind]);
  LShared *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->obj = NULL;
  u->id = 0;
  luaL_setmetatable(L, MTS[kind]);
  u->id = ce_shared_register(obj, KINDS[kind], destroy);
  if (!u->id) {
    destroy(obj);
    return luaL_error(L, "shared.%s: out of memory", KINDS[kind]);
  }
  u->obj = obj;
  return 1;
}

static int s_counter(lua_State *L) {
  lua_Integer start = luaL_optinteger(L, 1, 0), limit = luaL_optinteger(L, 2, -1);
  return push_shared(L, 0, ce_counter_new(start, limit), ce_counter_free);
}
static int s_flag(lua_State *L) { return push_shared(L, 1, ce_flag_new(), ce_flag_free); }
static int s_bucket(lua_State *L) {
  lua_Number rate = luaL_optnumber(L, 1, 0), burst = luaL_optnumber(L, 2, 0);
  return push_shared(L, 2, ce_bucket_new(rate, burst), ce_bucket_free);
}
static int s_lines(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ce_err e;
  ce_lines *l = ce_lines_open(path, &e);
  if (!l) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  return push_shared(L, 3, l, ce_lines_free);
}
static int s_sum(lua_State *L) { return push_shared(L, 4, ce_sum_new(), ce_sum_free); }
static int s_set(lua_State *L) { return push_shared(L, 5, ce_set_new(), ce_set_free); }
static int s_hist(lua_State *L) { return push_shared(L, 6, ce_hist_new(), ce_hist_free); }

static int s_attach(lua_State *L) {
  int kind = luaL_checkoption(L, 1, NULL, KINDS);
  uint64_t id = (uint64_t)luaL_checkinteger(L, 2);
  void *obj = ce_shared_acquire(id, KINDS[kind]);
  if (!obj) {
    luaL_pushfail(L);
    lua_pushfstring(L, "no shared %s with id %d", KINDS[kind], (int)id);
    return 2;
  }
  LShared *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->id = id;
  u->obj = obj;
  luaL_setmetatable(L, MTS[kind]);
  return 1;
}

static int u_id(lua_State *L) {
  LShared *u = lua_touserdata(L, 1);
  luaL_argcheck(L, u != NULL, 1, "shared object expected");
  lua_pushinteger(L, (lua_Integer)u->id);
  return 1;
}

static int u_release(lua_State *L) {
  LShared *u = lua_touserdata(L, 1);
  if (u && u->obj) {
    ce_shared_release(u->id);
    u->obj = NULL;
  }
  return 0;
}

/* counter:next([n]) -> first, count (n at a time, fewer at the limit) | fail */
static int c_next(lua_State *L) {
  ce_counter *c = check(L, 0);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, n >= 1, 2, "must be positive");
  int64_t got;
  int64_t v = ce_counter_take(c, n, &got);
  if (v < 0) {
    luaL_pushfail(L);
    return 1;
  }
  lua_pushinteger(L, v);
  lua_pushinteger(L, got);
  return 2;
}
static int c_get(lua_State *L) {
  lua_pushinteger(L, ce_counter_get(check(L, 0)));
  return 1;
}
static int c_add(lua_State *L) {
  ce_counter_add(check(L, 0), luaL_checkinteger(L, 2));
  return 0;
}

static int f_set(lua_State *L) {
  ce_flag *f = check(L, 1);
  lua_pushboolean(L, ce_flag_set(f, (int)luaL_optinteger(L, 2, 1), luaL_optstring(L, 3, "")));
  return 1;
}
static int f_get(lua_State *L) {
  char msg[512];
  int code = ce_flag_get(check(L, 1), msg, sizeof msg);
  if (!code) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushinteger(L, code);
  lua_pushstring(L, msg);
  return 2;
}

static int b_take(lua_State *L) {
  lua_pushnumber(L, ce_bucket_take(check(L, 2)));
  return 1;
}
static int b_set(lua_State *L) {
  ce_bucket_set_rate(check(L, 2), luaL_checknumber(L, 2), luaL_optnumber(L, 3, 0));
  return 0;
}

/* A state's buffer for the lines it reads: one allocation, grown to the
 * longest line, where getline's own made and grew one a line (five
 * reallocations for a question of 2 KB) */
typedef struct {
  char *p;
  size_t cap;
  int has_ql;
  ce_question_line ql; /* lines:next_question's picks, once it is used */
} line_buf;
static const char LINE_BUF = 0; /* its registry key */

static int line_buf_gc(lua_State *L) {
  line_buf *b = lua_touserdata(L, 1);
  free(b->p);
  b->p = NULL;
  b->cap = 0;
  if (b->has_ql) ce_question_line_free(&b->ql);
  b->has_ql = 0;
  return 0;
}

static line_buf *state_line_buf(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &LINE_BUF) == LUA_TUSERDATA) {
    line_buf *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return b;
  }
  lua_pop(L, 1);
  line_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  b->cap = 0;
  b->has_ql = 0;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, line_buf_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &LINE_BUF);
  return b;
}

/* The state's reader of question lines (its buffers kept in b, so an error
 * raised while its picks are pushed leaks nothing) */
static ce_question_line *state_question_line(line_buf *b) {
  if (!b->has_ql) {
    ce_question_line_init(&b->ql);
    b->has_ql = 1;
  }
  return &b->ql;
}

/* The next line of lines into b: 0, or at the end or a read error what
 * was pushed (fail, and the error's message) */
static int read_line(lua_State *L, line_buf *b, size_t *len, long *no) {
  int rc = ce_lines_next(check(L, 3), &b->p, &b->cap, len, no);
  if (rc > 0) return 0;
  luaL_pushfail(L);
  if (rc == 0) return 1;
  lua_pushfstring(L, "read error: %s", strerror(errno));
  return 2;
}

static int l_next(lua_State *L) {
  line_buf *b = state_line_buf(L);
  size_t len;
  long no;
  int pushed = read_line(L, b, &len, &no);
  if (pushed) return pushed;
  lua_pushlstring(L, b->p, len);
  lua_pushinteger(L, no);
  return 2;
}

/* lines:next_question() -> q, line, no | false, line, no | nil [, message]:
 * the next line, as a worker of a question file reads it
 * (causal_eval.question_file.source): q is the table
 * question_file.pick_asked would make of a line that plainly is a question
 * (core/util/question_line.h), its fields in the same order, its id as
 * text; false leaves the line to the Lua. The picks, the table and the
 * check in Lua cost 7,100 more instructions a question of `run
 * --questions` (tools/bench/instructions.sh). */
static int l_next_question(lua_State *L) {
  line_buf *b = state_line_buf(L);
  size_t len;
  long no;
  int pushed = read_line(L, b, &len, &no);
  if (pushed) return pushed;
  ce_question_line *ql = state_question_line(b);
  ce_picked v[CE_QL_NASKED];
  const char *id;
  size_t idl;
  if (!ce_question_line_asked(ql, b->p, len, v, &id, &idl)) {
    lua_pushboolean(L, 0);
  } else {
    /* as the table constructor of pick_asked: sized for all, nils left out */
    lua_createtable(L, 0, CE_QL_NASKED);
    for (int k = 0; k < CE_QL_NASKED; k++) {
      const ce_picked *x = &v[k];
      switch (x->kind) {
        case CE_PICKED_NULL: lua_pushlightuserdata(L, NULL); break; /* json.null */
        case CE_PICKED_BOOL: lua_pushboolean(L, x->b); break;
        case CE_PICKED_INT: lua_pushinteger(L, (lua_Integer)x->i); break;
        case CE_PICKED_NUM: lua_pushnumber(L, (lua_Number)x->d); break;
        case CE_PICKED_STR: lua_pushlstring(L, ce_question_line_str(ql, x), x->len); break;
        default: continue;
      }
      lua_setfield(L, -2, CE_QL_ASKED_FIELDS[k]);
    }
    if (v[CE_QL_ID].kind != CE_PICKED_STR) { /* an integer id: the text the run knows it by */
      lua_pushlstring(L, id, idl);
      lua_setfield(L, -2, "id");
    }
  }
  lua_pushlstring(L, b->p, len);
  lua_pushinteger(L, no);
  return 3;
}

/* lines:scan_questions(ids, max) -> taken [, line, no | nil, no, id | nil,
 * message]: the scan of a question file (causal_eval.question_file.scan)
 * reads up to max lines (-1: all) here while each is plainly a question
 * (core/util/question_line.h) whose id is new to set ids, adding the ids;
 * it stops at a line for the Lua to read (line, no), at a question whose
 * id ids holds (nil, no, id), at the end (nothing more) or a read error
 * (nil, message). A scan made each line's table and checked it in Lua:
 * a third of its 34,000 instructions a line. */
static int l_scan_questions(lua_State *L) {
  ce_lines *l = check(L, 3);
  LShared *su = ce_checkudata(L, 2, MTS[5]);
  if (!su->obj) return luaL_error(L, "attempt to use a released set");
  lua_Integer max = luaL_checkinteger(L, 3);
  line_buf *b = state_line_buf(L);
  ce_question_line *q = state_question_line(b);
  lua_Integer taken = 0;
  while (max < 0 || taken < max) {
    size_t len;
    long no;
    int rc = ce_lines_next(l, &b->p, &b->cap, &len, &no);
    if (rc < 0) {
      lua_pushinteger(L, taken);
      lua_pushnil(L);
      lua_pushfstring(L, "read error: %s", strerror(errno));
      return 3;
    }
    if (rc == 0) break;
    const char *id;
    size_t idl;
    if (!ce_question_line_ok(q, b->p, len, &id, &idl)) {
      lua_pushinteger(L, taken);
      lua_pushlstring(L, b->p, len);
      lua_pushinteger(L, no);
      return 3;
    }
    int added = ce_set_add(su->obj, id, idl);
    if (added < 0) return luaL_error(L, "shared set: out of memory");
    if (!added) {
      lua_pushinteger(L, taken);
      lua_pushnil(L);
      lua_pushinteger(L, no);
      lua_pushlstring(L, id, idl);
      return 4;
    }
    taken++;
  }
  lua_pushinteger(L, taken);
  return 1;
}

static int sum_add(lua_State *L) {
  lua_pushnumber(L, ce_sum_add(check(L, 4), luaL_checknumber(L, 2)));
  return 1;
}
static int sum_get(lua_State *L) {
  lua_pushnumber(L, ce_sum_get(check(L, 4)));
  return 1;
}

static int set_add(lua_State *L) {
  size_t n;
  const char *k = luaL_checklstring(L, 2, &n);
  int rc = ce_set_add(check(L, 5), k, n);
  if (rc < 0) return luaL_error(L, "shared set: out of memory");
  lua_pushboolean(L, rc);
  return 1;
}
static int set_has(lua_State *L) {
  size_t n;
  const char *k = luaL_checklstring(L, 2, &n);
  lua_pushboolean(L, ce_set_has(check(L, 5), k, n));
  return 1;
}
static int set_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ce_set_size(check(L, 5)));
  return 1;
}
/* set:digest() -> 16 hex digits (ce_set_digest) */
static int set_digest(lua_State *L) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ce_set_digest(check(L, 5)));
  lua_pushlstring(L, hex, 16);
  return 1;
}

static int h_add(lua_State *L) {
  lua_Number v = luaL_checknumber(L, 2);
  ce_hist_add(check(L, 6), v < 0 ? 0 : v);
  return 0;
}
static int h_quantile(lua_State *L) {
  double q = ce_hist_quantile(check(L, 6), luaL_checknumber(L, 2));
  if (q < 0) luaL_pushfail(L);
  else lua_pushnumber(L, q);
  return 1;
}
static int h_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ce_hist_count(check(L, 6)));
  return 1;
}
static int h_mean(lua_State *L) {
  double m = ce_hist_mean(check(L, 6));
  if (m < 0) luaL_pushfail(L);
  else lua_pushnumber(L, m);
  return 1;
}

static const luaL_Reg counter_m[] = {{"next", c_next}, {"get", c_get}, {"add", c_add}, {NULL, NULL}};
static const luaL_Reg flag_m[] = {{"set", f_set}, {"get", f_get}, {NULL, NULL}};
static const luaL_Reg bucket_m[] = {{"take", b_take}, {"set", b_set}, {NULL, NULL}};
static const luaL_Reg lines_m[] = {{"next", l_next}, {"scan_questions", l_scan_questions},
                                   {"next_question", l_next_question}, {NULL, NULL}};
static const luaL_Reg sum_m[] = {{"add", sum_add}, {"get", sum_get}, {NULL, NULL}};
static const luaL_Reg set_m[] = {{"add", set_add}, {"has", set_has}, {"size", set_size}, {"digest", set_digest}, {NULL, NULL}};
static int h_reset(lua_State *L) {
  ce_hist_reset(check(L, 6));
  return 0;
}
static const luaL_Reg hist_m[] = {
  {"add", h_add}, {"quantile", h_quantile}, {"count", h_count}, {"mean", h_mean}, {"reset", h_reset}, {NULL, NULL}
};
static int r_push(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  ce_ring_push(check(L, 7), s, n);
  return 0;
}
static int r_pop(lua_State *L) {
  size_t n;
  char *s = ce_ring_pop(check(L, 7), &n);
  if (!s) return 0;
  lua_pushlstring(L, s, n);
  free(s);
  return 1;
}
static void r_add(const char *s, size_t n, void *ud) {
  lua_State *L = ud;
  lua_pushlstring(L, s, n);
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
}
static int r_last(lua_State *L) {
  ce_ring *r = check(L, 7);
  int n = (int)luaL_optinteger(L, 2, 10);
  lua_newtable(L);
  ce_ring_last(r, n, r_add, L);
  return 1;
}
static const luaL_Reg ring_m[] = {{"push", r_push}, {"pop", r_pop}, {"last", r_last}, {NULL, NULL}};
static int s_ring(lua_State *L) {
  return push_shared(L, 7, ce_ring_new((int)luaL_optinteger(L, 1, 100)), ce_ring_free);
}

/* plan:upto(), plan:seen_before(h, p), plan:accept(p, c, ka, kb) -> true |
 * false (another thread recorded the pair first: the same draw, by
 * determinism), plan:draw(p) -> c of a recorded pair, plan:redraws(): the
 * methods causal_eval.bench's own plan has; plan:claim(p) -> bool,
 * plan:propose(p [, ka, kb]) (no hashes: draw 0 gave no pair),
 * plan:advance() -> upto, state (core/util/pair_plan.h:
 * 0 open, 1 claimed, 2 rejected, 3 failed) */
static int p_upto(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ce_plan_upto(check(L, 8)));
  return 1;
}
static int p_seen(lua_State *L) {
  ce_plan *pl = check(L, 8);
  lua_pushboolean(L, ce_plan_seen(pl, (uint64_t)luaL_checkinteger(L, 2), (int64_t)luaL_checkinteger(L, 3)));
  return 1;
}
static int p_accept(lua_State *L) {
  ce_plan *pl = check(L, 8);
  int rc = ce_plan_accept(pl, (int64_t)luaL_checkinteger(L, 2), (int64_t)luaL_checkinteger(L, 3),
                          (uint64_t)luaL_checkinteger(L, 4), (uint64_t)luaL_checkinteger(L, 5));
  if (rc == -1) return luaL_error(L, "shared plan: out of memory");
  if (rc == -2) return luaL_error(L, "shared plan: pair %d recorded before the pairs ahead of it",
                                  (int)luaL_checkinteger(L, 2));
  lua_pushboolean(L, rc);
  return 1;
}
static int p_draw(lua_State *L) {
  lua_Integer p = luaL_checkinteger(L, 2);
  int64_t c = ce_plan_draw(check(L, 8), (int64_t)p);
  if (c < 0) return luaL_error(L, "shared plan: pair %d is not recorded yet", (int)p);
  lua_pushinteger(L, (lua_Integer)c);
  return 1;
}
static int p_redraws(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ce_plan_redraws(check(L, 8)));
  return 1;
}
static int p_claim(lua_State *L) {
  int rc = ce_plan_claim(check(L, 8), (int64_t)luaL_checkinteger(L, 2));
  if (rc < 0) return luaL_error(L, "shared plan: out of memory");
  lua_pushboolean(L, rc);
  return 1;
}
static int p_propose(lua_State *L) {
  ce_plan *pl = check(L, 8);
  int ok = !lua_isnoneornil(L, 3);
  if (ce_plan_propose(pl, (int64_t)luaL_checkinteger(L, 2), ok, ok ? (uint64_t)luaL_checkinteger(L, 3) : 0,
                      ok ? (uint64_t)luaL_checkinteger(L, 4) : 0))
    return luaL_error(L, "shared plan: out of memory");
  return 0;
}
static int push_upto(lua_State *L, int64_t upto, int state) {
  if (upto < 0) return luaL_error(L, "shared plan: out of memory");
  lua_pushinteger(L, (lua_Integer)upto);
  lua_pushinteger(L, state);
  return 2;
}
static int p_advance(lua_State *L) {
  int state;
  int64_t u = ce_plan_advance(check(L, 8), &state);
  return push_upto(L, u, state);
}
static const luaL_Reg plan_m[] = {
  {"upto", p_upto},       {"seen_before", p_seen}, {"accept", p_accept}, {"draw", p_draw},
  {"redraws", p_redraws}, {"claim", p_claim},      {"propose", p_propose}, {"advance", p_advance},
  {NULL, NULL}
};
static int s_plan(lua_State *L) { return push_shared(L, 8, ce_plan_new(), ce_plan_free); }

static const luaL_Reg *const METHODS[] = {counter_m, flag_m, bucket_m, lines_m, sum_m, set_m, hist_m, ring_m, plan_m};

static const luaL_Reg funcs[] = {
  {"counter", s_counter}, {"flag", s_flag}, {"bucket", s_bucket}, {"lines", s_lines},
  {"sum", s_sum},         {"set", s_set},       {"histogram", s_hist},
  {"ring", s_ring},       {"plan", s_plan},       {"attach", s_attach},   {NULL, NULL}
};

int luaopen_causal_eval_shared(lua_State *L) {
  for (int k = 0; KINDS[k]; k++) {
    luaL_newmetatable(L, MTS[k]);
    lua_newtable(L);
    luaL_setfuncs(L, METHODS[k], 0);
    lua_pushcfunction(L, u_id);
    lua_setfield(L, -2, "id");
    lua_pushcfunction(L, u_release);
    lua_setfield(L, -2, "release");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, u_release);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
  }
  luaL_newlib(L, funcs);
  return 1;
}
