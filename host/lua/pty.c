/* SPDX-License-Identifier: MIT */
/* causal_eval.pty: run a program on a pseudo-terminal (host/core/pty). */
#include <lauxlib.h>
#include <lua.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/io/pty.h"
#include "modules.h"
#include "udata.h"

#define PTY_MT "causal_eval.pty"

typedef struct { ce_pty *p; } LPty; /* p == NULL: closed */

static LPty *check_open(lua_State *L) {
  LPty *u = ce_checkudata(L, 1, PTY_MT);
  if (!u->p) luaL_error(L, "attempt to use a closed pty");
  return u;
}

/* Collects strings from the array at idx into a NULL-terminated vector that a
 * userdata at the top of the stack owns, so a later error frees nothing by hand. */
static char **string_vector(lua_State *L, int idx, const char *what) {
  lua_Integer n = luaL_len(L, idx);
  char **v = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *v, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s[%d] must be a string", what, (int)i);
    v[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the table */
  }
  v[n] = NULL;
  return v;
}

static int pty_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, luaL_len(L, 1) >= 1, 1, "command must not be empty");
  int rows = 24, cols = 80;
  char **env = NULL;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "rows") != LUA_TNIL) rows = (int)luaL_checkinteger(L, -1);
    if (lua_getfield(L, 2, "cols") != LUA_TNIL) cols = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 2);
    if (lua_getfield(L, 2, "env") != LUA_TNIL) {
      luaL_checktype(L, -1, LUA_TTABLE);
      int t = lua_gettop(L);
      lua_newtable(L); /* "K=V" strings, kept alive on the stack */
      int list = t + 1, n = 0;
      lua_pushnil(L);
      while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
          return luaL_error(L, "env keys must be strings");
        if (!lua_toboolean(L, -1)) {
          lua_pushvalue(L, -2); /* false: unset KEY */
        } else {
          const char *v = luaL_tolstring(L, -1, NULL);
          lua_pushfstring(L, "%s=%s", lua_tostring(L, -3), v);
          lua_remove(L, -2); /* drop the tolstring copy */
        }
        lua_rawseti(L, list, ++n);
        lua_pop(L, 1);
      }
      env = string_vector(L, list, "env");
    }
  }
  char **argv = string_vector(L, 1, "command");
  LPty *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->p = NULL;
  luaL_setmetatable(L, PTY_MT);
  ce_err e;
  u->p = ce_pty_spawn(argv, env, rows, cols, &e);
  if (!u->p) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  return 1;
}

/* p:read([timeout_s]) -> data | "" on timeout | nil at end of output */
static int pty_read(lua_State *L) {
  LPty *u = check_open(L);
  lua_Number t = luaL_optnumber(L, 2, 0);
  char buf[4096];
  ssize_t n = ce_pty_read(u->p, buf, sizeof buf, (int)(t * 1000));
  if (n < 0) luaL_pushfail(L);
  else lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int pty_write(lua_State *L) {
  LPty *u = check_open(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (ce_pty_write(u->p, s, n) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, "write failed: the program has closed its terminal");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* p:wait([timeout_s]) -> "exit", code | "signal", signo | nil on timeout */
static int pty_wait(lua_State *L) {
  LPty *u = check_open(L);
  lua_Number t = luaL_optnumber(L, 2, 5);
  int st;
  if (!ce_pty_wait(u->p, (int)(t * 1000), &st)) {
    luaL_pushfail(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  if (WIFSIGNALED(st)) {
    lua_pushliteral(L, "signal");
    lua_pushinteger(L, WTERMSIG(st));
  } else {
    lua_pushliteral(L, "exit");
    lua_pushinteger(L, WEXITSTATUS(st));
  }
  return 2;
}

static int pty_kill(lua_State *L) {
  LPty *u = check_open(L);
  int sig = (int)luaL_optinteger(L, 2, SIGTERM);
  lua_pushboolean(L, ce_pty_kill(u->p, sig) == 0);
  return 1;
}

/* p:modes() -> { canonical = bool, echo = bool, signals = bool } | nil, msg */
static int pty_modes(lua_State *L) {
  LPty *u = check_open(L);
  ce_pty_modes m;
  if (ce_pty_modes_get(u->p, &m) != 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "cannot read the terminal's settings");
    return 2;
  }
  lua_createtable(L, 0, 3);
  lua_pushboolean(L, m.canonical);
  lua_setfield(L, -2, "canonical");
  lua_pushboolean(L, m.echo);
  lua_setfield(L, -2, "echo");
  lua_pushboolean(L, m.signals);
  lua_setfield(L, -2, "signals");
  return 1;
}

static int pty_pid(lua_State *L) {
  LPty *u = check_open(L);
  lua_pushinteger(L, ce_pty_pid(u->p));
  return 1;
}

static int pty_close(lua_State *L) {
  LPty *u = ce_checkudata(L, 1, PTY_MT);
  ce_pty_close(u->p);
  u->p = NULL;
  return 0;
}

static int pty_tostring(lua_State *L) {
  LPty *u = ce_checkudata(L, 1, PTY_MT);
  if (u->p) lua_pushfstring(L, "causal_eval.pty (pid %d)", (int)ce_pty_pid(u->p));
  else lua_pushliteral(L, "causal_eval.pty (closed)");
  return 1;
}

static const luaL_Reg pty_funcs[] = {{"spawn", pty_spawn}, {NULL, NULL}};
static const luaL_Reg pty_methods[] = {
  {"read", pty_read}, {"write", pty_write}, {"wait", pty_wait},
  {"kill", pty_kill}, {"pid", pty_pid},     {"close", pty_close},
  {"modes", pty_modes},
  {NULL, NULL}
};
static const luaL_Reg pty_metameths[] = {
  {"__gc", pty_close}, {"__close", pty_close}, {"__tostring", pty_tostring},
  {"__index", NULL},   {NULL, NULL}
};

int luaopen_causal_eval_pty(lua_State *L) {
  luaL_newmetatable(L, PTY_MT);
  luaL_setfuncs(L, pty_metameths, 0);
  luaL_newlib(L, pty_methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = methods */
  lua_pop(L, 1);                   /* pop mt */
  luaL_newlib(L, pty_funcs);
  lua_pushinteger(L, SIGINT);
  lua_setfield(L, -2, "SIGINT");
  lua_pushinteger(L, SIGTERM);
  lua_setfield(L, -2, "SIGTERM");
  lua_pushinteger(L, SIGKILL);
  lua_setfield(L, -2, "SIGKILL");
  return 1;
}
