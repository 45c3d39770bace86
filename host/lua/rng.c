/* SPDX-License-Identifier: MIT */
/* causal_eval.rng: Philox4x32-10 streams and stable hashes (host/core/philox).
 * Generators seeded alike give the same numbers on every machine, so
 * benchmark questions and resampling are reproducible by seed. */
#include <lauxlib.h>
#include <lua.h>

#include <string.h>

#include "core/stats/philox.h"
#include "modules.h"
#include "udata.h"

#define RNG_MT "causal_eval.rng"

/* The functions and methods hold the metatable as upvalue 1: a generator is
 * told by it without luaL_checkudata's lookup of the name in the registry
 * (2% of generating a question, which draws a few dozen numbers). */
static ce_rng *check_rng(lua_State *L) {
  ce_rng *r = lua_touserdata(L, 1);
  if (r && lua_getmetatable(L, 1)) {
    int ours = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (ours) return r;
  }
  return ce_checkudata(L, 1, RNG_MT); /* not one: the usual error */
}

/* A seed is an integer, or a string hashed to one. */
static uint64_t seed_arg(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, arg, &len);
    return ce_hash64(s, len, 0);
  }
  return (uint64_t)luaL_checkinteger(L, arg);
}

/* rng.new(seed [, stream]) */
static int rng_new(lua_State *L) {
  uint64_t seed = seed_arg(L, 1);
  lua_Integer stream = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, stream >= 0 && stream <= 0xffffffffLL, 2, "stream must fit 32 bits");
  ce_rng *r = lua_newuserdatauv(L, sizeof *r, 0);
  ce_rng_init(r, seed, (uint32_t)stream);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  return 1;
}

/* r:uniform() in [0, 1); r:uniform(a, b) in [a, b) */
static int r_uniform(lua_State *L) {
  ce_rng *r = check_rng(L);
  double u = ce_rng_uniform(r);
  if (lua_gettop(L) >= 3) {
    lua_Number a = luaL_checknumber(L, 2), b = luaL_checknumber(L, 3);
    u = a + (b - a) * u;
  }
  lua_pushnumber(L, u);
  return 1;
}

/* r:int(n) in [1, n]; r:int(a, b) in [a, b] */
static int r_int(lua_State *L) {
  ce_rng *r = check_rng(L);
  lua_Integer lo = 1, hi;
  if (lua_gettop(L) >= 3) {
    lo = luaL_checkinteger(L, 2);
    hi = luaL_checkinteger(L, 3);
  } else {
    hi = luaL_checkinteger(L, 2);
  }
  luaL_argcheck(L, lo <= hi, 2, "empty interval");
  uint64_t span = (uint64_t)hi - (uint64_t)lo + 1u;
  uint64_t x = span == 0 ? ce_rng_u64(r) : ce_rng_below(r, span);
  lua_pushinteger(L, (lua_Integer)((uint64_t)lo + x));
  return 1;
}

static int r_bernoulli(lua_State *L) {
  ce_rng *r = check_rng(L);
  lua_Number p = luaL_checknumber(L, 2);
  lua_pushboolean(L, ce_rng_uniform(r) < p);
  return 1;
}

static int r_pick(lua_State *L) {
  ce_rng *r = check_rng(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 2);
  luaL_argcheck(L, n > 0, 2, "empty list");
  lua_rawgeti(L, 2, 1 + (lua_Integer)ce_rng_below(r, (uint64_t)n));
  return 1;
}

/* Fisher-Yates, in place; returns the list. */
static int r_shuffle(lua_State *L) {
  ce_rng *r = check_rng(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = n; i > 1; i--) {
    lua_Integer j = 1 + (lua_Integer)ce_rng_below(r, (uint64_t)i);
    lua_rawgeti(L, 2, i);
    lua_rawgeti(L, 2, j);
    lua_rawseti(L, 2, i);
    lua_rawseti(L, 2, j);
  }
  lua_settop(L, 2);
  return 1;
}

/* r:probs(n, lo_pct, hi_pct) -> n probabilities k/100, k uniform in [lo, hi]:
 * the tables of a random model in one call (generators make many). */
static int r_probs(lua_State *L) {
  ce_rng *r = check_rng(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  lua_Integer lo = luaL_optinteger(L, 3, 5), hi = luaL_optinteger(L, 4, 95);
  luaL_argcheck(L, n >= 0 && n <= (1 << 24), 2, "count out of range");
  luaL_argcheck(L, lo >= 0 && lo <= hi && hi <= 100, 3, "need 0 <= lo <= hi <= 100");
  uint64_t span = (uint64_t)(hi - lo) + 1u;
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_pushnumber(L, (lua_Number)(lo + (lua_Integer)ce_rng_below(r, span)) / 100.0);
    lua_rawseti(L, -2, i);
  }
  return 1;
}

static int r_u32(lua_State *L) {
  lua_pushinteger(L, ce_rng_u32(check_rng(L)));
  return 1;
}

static int r_tostring(lua_State *L) {
  ce_rng *r = check_rng(L);
  lua_pushfstring(L, "causal_eval.rng (stream %d, block %d)", (int)r->ctr.v[3], (int)r->ctr.v[0]);
  return 1;
}

/* rng.hash(s [, seed]) -> 64-bit integer */
static int rng_hash(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  uint64_t seed = (uint64_t)luaL_optinteger(L, 2, 0);
  lua_pushinteger(L, (lua_Integer)ce_hash64(s, len, seed));
  return 1;
}

/* rng.hex(s [, seed]) -> 16 lowercase hex digits */
static int rng_hex(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  uint64_t seed = (uint64_t)luaL_optinteger(L, 2, 0);
  char buf[16];
  ce_hash64_hex(ce_hash64(s, len, seed), buf);
  lua_pushlstring(L, buf, 16);
  return 1;
}

/* rng.philox(c0, c1, c2, c3, k0, k1) -> four 32-bit words (known-answer tests) */
static int rng_philox(lua_State *L) {
  ce_philox_ctr c;
  ce_philox_key k;
  for (int i = 0; i < 4; i++) c.v[i] = (uint32_t)luaL_checkinteger(L, i + 1);
  for (int i = 0; i < 2; i++) k.v[i] = (uint32_t)luaL_checkinteger(L, i + 5);
  ce_philox_ctr o = ce_philox4x32_10(c, k);
  for (int i = 0; i < 4; i++) lua_pushinteger(L, o.v[i]);
  return 4;
}

static const luaL_Reg rng_funcs[] = {
  {"new", rng_new}, {"hash", rng_hash}, {"hex", rng_hex}, {"philox", rng_philox}, {NULL, NULL}
};
static const luaL_Reg rng_methods[] = {
  {"uniform", r_uniform}, {"int", r_int},     {"bernoulli", r_bernoulli},
  {"pick", r_pick},       {"shuffle", r_shuffle}, {"u32", r_u32},
  {"probs", r_probs},
  {NULL, NULL}
};

int luaopen_causal_eval_rng(lua_State *L) {
  luaL_newmetatable(L, RNG_MT); /* mt */
  luaL_newlibtable(L, rng_methods);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, rng_methods, 1); /* each method: mt as upvalue 1 */
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, r_tostring, 1);
  lua_setfield(L, -2, "__tostring");
  luaL_newlibtable(L, rng_funcs);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, rng_funcs, 1); /* rng.new sets mt */
  lua_remove(L, -2);
  return 1;
}
