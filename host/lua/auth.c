/* SPDX-License-Identifier: MIT */
/* causal_eval.auth: the API's users, tokens and rate limits
 * (host/core/serve/auth), shared by every worker thread of a server: one
 * state makes it, the others attach by id. causal_eval.serve.security is
 * the Lua face of it.
 *
 *   local a = auth.new{ token_ttl = 3600, max_tokens_per_user = 10000,
 *                       rate_per_minute = 600, logins_per_minute = 10 }
 *   a:set_users({ alice = "$argon2id$..." }, stamp [, expect])   -- true | false (newer ones set) | nil, msg
 *   a:login(name, password, addr)   -- "ok", token, user, expires | "bad" | "limited", retry_after
 *   a:login_start(name, password, addr) -- job: job:done(), job:result() (as login): no wait here
 *   a:check(authorization)          -- "ok", user, expires, key | "missing" | "invalid" | "expired", user
 *   a:limit(key)                    -- ok, limit, remaining, reset, retry_after
 *   auth.attach(a:id())             -- the same, in another state
 *   auth.hash(password, "interactive" | { ops =, mem = }), auth.verify(hash, password)
 *   auth.read_secret(prompt)        -- from the terminal, echo off
 *   auth.file_stat(path), auth.replace_file(path, data, mode)
 */
#include <lauxlib.h>
#include <lua.h>

#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/serve/auth.h"
#include "core/serve/auth_file.h"
#include "core/serve/auth_prompt.h"
#include "core/util/clock.h"
#include "core/util/shared.h"
#include "modules.h"
#include "udata.h"

#define AUTH_MT "causal_eval.auth"
#define JOB_MT "causal_eval.auth_login"
#define SHARED_TYPE "auth"

typedef struct {
  uint64_t id;
  ce_auth *a; /* NULL: closed */
} LAuth;

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static ce_auth *check_auth(lua_State *L) {
  LAuth *u = ce_checkudata(L, 1, AUTH_MT);
  if (!u->a) luaL_error(L, "attempt to use a closed auth store");
  return u->a;
}

static LAuth *new_handle(lua_State *L) {
  LAuth *u = lua_newuserdatauv(L, sizeof *u, 0); /* created closed: __gc never sees half a store */
  u->id = 0;
  u->a = NULL;
  luaL_setmetatable(L, AUTH_MT);
  return u;
}

static double opt_field(lua_State *L, const char *k, double def, double min) {
  lua_getfield(L, 1, k);
  int isnum = 1;
  double v = lua_isnil(L, -1) ? def : lua_tonumberx(L, -1, &isnum);
  if (!lua_isnil(L, -1) && (!isnum || v < min))
    luaL_error(L, "auth.new: %s must be a number >= %f", k, min);
  lua_pop(L, 1);
  return v;
}

/* auth.new(cfg) -> store (shared; its id is what other states attach to) */
static int a_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  ce_auth_cfg cfg = {
    .token_ttl = opt_field(L, "token_ttl", 3600, 1),
    .max_tokens_per_user = (size_t)opt_field(L, "max_tokens_per_user", 10000, 1),
    .rate_per_minute = opt_field(L, "rate_per_minute", 0, 0),
    .logins_per_minute = opt_field(L, "logins_per_minute", 0, 0),
    .hash_slots = (int)opt_field(L, "hash_slots", 0, 0),
  };
  LAuth *u = new_handle(L);
  ce_err e;
  ce_auth *a = ce_auth_new(&cfg, &e);
  if (!a) return luaL_error(L, "auth.new: %s", e.msg);
  u->id = ce_shared_register(a, SHARED_TYPE, ce_auth_free);
  if (!u->id) {
    ce_auth_free(a);
    return luaL_error(L, "auth.new: out of memory");
  }
  u->a = a;
  return 1;
}

static int a_attach(lua_State *L) {
  lua_Integer id = luaL_checkinteger(L, 1);
  LAuth *u = new_handle(L);
  ce_auth *a = id > 0 ? ce_shared_acquire((uint64_t)id, SHARED_TYPE) : NULL;
  if (!a) {
    luaL_pushfail(L);
    lua_pushfstring(L, "no auth store with id %I", id);
    return 2;
  }
  u->id = (uint64_t)id;
  u->a = a;
  return 1;
}

static int a_close(lua_State *L) { /* close, __gc, __close */
  LAuth *u = ce_checkudata(L, 1, AUTH_MT);
  if (u->a) ce_shared_release(u->id);
  u->a = NULL;
  return 0;
}

static int a_id(lua_State *L) {
  check_auth(L);
  lua_pushinteger(L, (lua_Integer)((LAuth *)lua_touserdata(L, 1))->id);
  return 1;
}

/* a:set_users({ name = hash, ... }, stamp [, expect]) -> true | false (skipped: not at expect) | nil, message */
static int a_set_users(lua_State *L) {
  ce_auth *a = check_auth(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *stamp = luaL_optstring(L, 3, "");
  const char *expect = luaL_optstring(L, 4, NULL);
  size_t n = 0;
  for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      return luaL_argerror(L, 2, "expected a table of user names to hash strings");
    n++;
  }
  /* userdata-owned arrays: freed by the collector even if a push below raises */
  const char **names = lua_newuserdatauv(L, (n ? n : 1) * sizeof *names, 0);
  const char **hashes = lua_newuserdatauv(L, (n ? n : 1) * sizeof *hashes, 0);
  size_t i = 0;
  for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
    names[i] = lua_tostring(L, -2); /* strings anchored by the table at 2 */
    hashes[i] = lua_tostring(L, -1);
    i++;
  }
  ce_err e;
  int rc = ce_auth_set_users(a, names, hashes, n, stamp, expect, &e);
  if (rc < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int a_stamp(lua_State *L) {
  char buf[128];
  ce_auth_stamp(check_auth(L), buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

static int push_login(lua_State *L, int rc, ce_login_result *rp, const ce_err *e) {
  ce_login_result r = *rp;
  sodium_memzero(rp, sizeof *rp);
  if (rc != 0) return luaL_error(L, "login: %s", e->msg);
  switch (r.status) {
  case CE_LOGIN_OK:
    lua_pushliteral(L, "ok");
    lua_pushstring(L, r.token);
    lua_pushstring(L, r.info.user);
    lua_pushnumber(L, r.info.expires);
    sodium_memzero(&r, sizeof r);
    return 4;
  case CE_LOGIN_LIMITED:
    lua_pushliteral(L, "limited");
    lua_pushnumber(L, r.retry_after);
    return 2;
  default:
    lua_pushliteral(L, "bad");
    return 1;
  }
}

/* a:login(name, password [, addr]) -> "ok", token, user, expires | "bad" | "limited", retry_after */
static int a_login(lua_State *L) {
  ce_auth *a = check_auth(L);
  size_t nl, pl;
  const char *name = luaL_checklstring(L, 2, &nl);
  const char *pw = luaL_checklstring(L, 3, &pl);
  const char *addr = luaL_optstring(L, 4, NULL);
  ce_login_result r;
  ce_err e;
  int rc = ce_auth_login(a, name, nl, pw, pl, addr, ce_clock_mono(), wall_now(), &r, &e);
  return push_login(L, rc, &r, &e);
}

typedef struct { ce_login_job *j; } LJob; /* j == NULL: taken or freed */

/* a:login_start(name, password [, addr]) -> job (its password check runs on a thread of its own) */
static int a_login_start(lua_State *L) {
  ce_auth *a = check_auth(L);
  size_t nl, pl;
  const char *name = luaL_checklstring(L, 2, &nl);
  const char *pw = luaL_checklstring(L, 3, &pl);
  const char *addr = luaL_optstring(L, 4, NULL);
  LJob *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->j = NULL;
  luaL_setmetatable(L, JOB_MT);
  ce_err e;
  u->j = ce_auth_login_start(a, name, nl, pw, pl, addr, ce_clock_mono(), wall_now(), &e);
  if (!u->j) return luaL_error(L, "login: %s", e.msg);
  return 1;
}

static int j_done(lua_State *L) {
  LJob *u = ce_checkudata(L, 1, JOB_MT);
  lua_pushboolean(L, !u->j || ce_login_job_done(u->j));
  return 1;
}

/* job:result() -> as a:login (waits when not done); once only */
static int j_result(lua_State *L) {
  LJob *u = ce_checkudata(L, 1, JOB_MT);
  if (!u->j) return luaL_error(L, "this login's result was already taken");
  ce_login_result r;
  ce_err e;
  int rc = ce_login_job_result(u->j, &r, &e);
  ce_login_job_free(u->j);
  u->j = NULL;
  return push_login(L, rc, &r, &e);
}

static int j_gc(lua_State *L) {
  LJob *u = ce_checkudata(L, 1, JOB_MT);
  ce_login_job_free(u->j);
  u->j = NULL;
  return 0;
}

/* a:check(authorization) -> "ok", user, expires, key | "missing" | "invalid" | "expired", user, expires */
static int a_check(lua_State *L) {
  ce_auth *a = check_auth(L);
  const char *h = luaL_optstring(L, 2, NULL);
  ce_token_info info;
  ce_check_status st = ce_auth_check(a, h, wall_now(), &info);
  static const char *const names[] = {"ok", "missing", "invalid", "expired"};
  lua_pushstring(L, names[st]);
  if (st != CE_CHECK_OK && st != CE_CHECK_EXPIRED) return 1;
  lua_pushstring(L, info.user);
  lua_pushnumber(L, info.expires);
  if (st != CE_CHECK_OK) return 3;
  lua_pushlstring(L, (const char *)info.hash, sizeof info.hash); /* names the token for the rate limit */
  return 4;
}

static int a_revoke(lua_State *L) {
  ce_auth *a = check_auth(L);
  lua_pushboolean(L, ce_auth_revoke(a, luaL_checkstring(L, 2)));
  return 1;
}

/* a:limit(key) -> ok, limit, remaining, reset, retry_after (limit 0: none) */
static int a_limit(lua_State *L) {
  ce_auth *a = check_auth(L);
  size_t n;
  const char *key = luaL_checklstring(L, 2, &n);
  ce_limit_state st;
  int ok = ce_auth_limit(a, key, n, ce_clock_mono(), &st);
  lua_pushboolean(L, ok);
  lua_pushnumber(L, st.limit);
  lua_pushnumber(L, st.remaining);
  lua_pushnumber(L, st.reset);
  lua_pushnumber(L, st.retry_after);
  return 5;
}

static int a_counts(lua_State *L) {
  ce_auth *a = check_auth(L);
  lua_pushinteger(L, (lua_Integer)ce_auth_user_count(a));
  lua_pushinteger(L, (lua_Integer)ce_auth_token_count(a));
  return 2;
}

static int a_tostring(lua_State *L) {
  LAuth *u = ce_checkudata(L, 1, AUTH_MT);
  if (u->a) lua_pushfstring(L, "auth store %I", (lua_Integer)u->id);
  else lua_pushliteral(L, "auth store (closed)");
  return 1;
}

/* ---- functions without a store ---- */

static void check_cost(lua_State *L, int idx, ce_pw_cost *cost) {
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "ops");
    lua_getfield(L, idx, "mem");
    lua_Integer ops = luaL_checkinteger(L, -2), mem = luaL_checkinteger(L, -1);
    luaL_argcheck(L, ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN && mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN, idx,
                  "cost below argon2id's minimum (ops 1, mem 8192)");
    lua_pop(L, 2);
    *cost = (ce_pw_cost){(unsigned long long)ops, (size_t)mem};
    return;
  }
  const char *name = luaL_optstring(L, idx, "interactive");
  if (ce_pw_cost_named(name, cost) != 0)
    luaL_argerror(L, idx, lua_pushfstring(L, "unknown strength '%s' (interactive, moderate, sensitive)", name));
}

/* auth.hash(password [, strength | { ops =, mem = }]) -> hash | nil, message */
static int f_hash(lua_State *L) {
  size_t n;
  const char *pw = luaL_checklstring(L, 1, &n);
  ce_pw_cost cost;
  check_cost(L, 2, &cost);
  char out[CE_PW_HASH_MAX];
  ce_err e;
  if (ce_pw_hash(pw, n, &cost, out, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushstring(L, out);
  return 1;
}

static int f_verify(lua_State *L) {
  size_t n;
  const char *hash = luaL_checkstring(L, 1);
  const char *pw = luaL_checklstring(L, 2, &n);
  lua_pushboolean(L, ce_pw_verify(hash, pw, n));
  return 1;
}

/* auth.cost(hash) -> { ops =, mem = } | nil, message */
static int f_cost(lua_State *L) {
  ce_pw_cost c;
  ce_err e;
  if (ce_pw_cost_of(luaL_checkstring(L, 1), &c, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)c.ops);
  lua_setfield(L, -2, "ops");
  lua_pushinteger(L, (lua_Integer)c.mem);
  lua_setfield(L, -2, "mem");
  return 1;
}

/* auth.read_secret(prompt) -> text | nil, message, "eof" | "cancel" | "error"
 * (stdin must be a terminal; the prompt goes to stderr) */
static int f_read_secret(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "Password: ");
  char *buf = lua_newuserdatauv(L, CE_PW_MAX + 1, 0);
  size_t n;
  ce_err e;
  int rc = ce_auth_read_secret(STDIN_FILENO, STDERR_FILENO, prompt, buf, CE_PW_MAX + 1, &n, &e);
  if (rc == 1) {
    lua_pushlstring(L, buf, n);
    sodium_memzero(buf, CE_PW_MAX + 1);
    return 1;
  }
  luaL_pushfail(L);
  if (rc == 0) lua_pushliteral(L, "end of input"), lua_pushliteral(L, "eof");
  else if (rc == -2) lua_pushliteral(L, "cancelled"), lua_pushliteral(L, "cancel");
  else lua_pushstring(L, e.msg), lua_pushliteral(L, "error");
  return 3;
}

/* auth.file_stat(path) -> mode, stamp | false (no such file) | nil, message */
static int f_file_stat(lua_State *L) {
  unsigned mode;
  char stamp[128];
  ce_err e;
  int rc = ce_auth_file_stat(luaL_checkstring(L, 1), &mode, stamp, sizeof stamp, &e);
  if (rc < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  if (rc == 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushinteger(L, mode);
  lua_pushstring(L, stamp);
  return 2;
}

/* auth.replace_file(path, data [, mode = 0600 for a new file]) -> true | nil, message */
static int f_replace_file(lua_State *L) {
  size_t n;
  const char *path = luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &n);
  lua_Integer mode = luaL_optinteger(L, 3, 0600);
  luaL_argcheck(L, mode >= 0 && mode <= 07777, 3, "not a file mode");
  ce_err e;
  if (ce_auth_file_replace(path, data, n, (unsigned)mode, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg metameths[] = {
  {"__gc", a_close}, {"__close", a_close}, {"__tostring", a_tostring}, {"__index", NULL}, {NULL, NULL}
};
static const luaL_Reg methods[] = {
  {"id", a_id},       {"set_users", a_set_users}, {"stamp", a_stamp}, {"login", a_login},
  {"login_start", a_login_start}, {"check", a_check},
  {"revoke", a_revoke}, {"limit", a_limit},       {"counts", a_counts}, {"close", a_close}, {NULL, NULL}
};
static const luaL_Reg job_metameths[] = {{"__gc", j_gc}, {"__close", j_gc}, {"__index", NULL}, {NULL, NULL}};
static const luaL_Reg job_methods[] = {{"done", j_done}, {"result", j_result}, {NULL, NULL}};
static const luaL_Reg funcs[] = {
  {"new", a_new},        {"attach", a_attach},           {"hash", f_hash},
  {"verify", f_verify},  {"cost", f_cost},               {"read_secret", f_read_secret},
  {"file_stat", f_file_stat}, {"replace_file", f_replace_file}, {NULL, NULL}
};

int luaopen_causal_eval_auth(lua_State *L) {
  luaL_newmetatable(L, AUTH_MT);
  luaL_setfuncs(L, metameths, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = methods */
  lua_pop(L, 1);                  /* pop mt */
  luaL_newmetatable(L, JOB_MT);
  luaL_setfuncs(L, job_metameths, 0);
  luaL_newlib(L, job_methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = job methods */
  lua_pop(L, 1);                  /* pop job mt */
  luaL_newlib(L, funcs);
  return 1;
}
