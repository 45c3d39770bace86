/* SPDX-License-Identifier: MIT */
/* causal_eval.lineedit: the REPL's line editor (host/core/lineedit). */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>

#include "core/io/lineedit.h"
#include "modules.h"
#include "udata.h"

#define LINEEDIT_MT "causal_eval.lineedit"

typedef struct {
  ce_lineedit *le;   /* NULL: closed */
  lua_State *L;      /* the thread inside read(), for the completion callback */
  int complete_ref;  /* LUA_NOREF: no completer */
} LEdit;

/* Calls the Lua completer with the text before the cursor; it returns a list
 * of candidate words and how many bytes of the word are already typed. Any
 * error in it means "no completions": the editor must never die on a bug there. */
static int complete_cb(void *ud, const char *line, size_t cursor, ce_completions *out,
                       size_t *typed) {
  LEdit *p = ud;
  lua_State *L = p->L;
  if (!L || p->complete_ref == LUA_NOREF) return -1;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->complete_ref);
  lua_pushlstring(L, line, cursor);
  int rc = -1;
  if (lua_pcall(L, 1, 2, 0) == LUA_OK && lua_istable(L, -2)) {
    lua_Integer t = lua_tointeger(L, -1);
    *typed = t > 0 ? (size_t)t : 0;
    lua_Integer n = luaL_len(L, -2);
    rc = 0;
    for (lua_Integer i = 1; i <= n && rc == 0; i++) {
      size_t len;
      lua_rawgeti(L, -2, i);
      const char *w = lua_tolstring(L, -1, &len);
      if (w && len >= *typed && ce_completions_add(out, w, len) != 0) rc = -1;
      lua_pop(L, 1);
    }
  }
  lua_settop(L, top);
  return rc;
}

static LEdit *check_open(lua_State *L) {
  LEdit *p = ce_checkudata(L, 1, LINEEDIT_MT);
  if (!p->le) luaL_error(L, "attempt to use a closed line editor");
  return p;
}

static int le_open(lua_State *L) {
  const char *hist = NULL;
  lua_Integer size = 0;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "history") != LUA_TNIL) hist = luaL_checkstring(L, -1);
    if (lua_getfield(L, 1, "history_size") != LUA_TNIL) size = luaL_checkinteger(L, -1);
    if (lua_getfield(L, 1, "complete") != LUA_TNIL) luaL_checktype(L, -1, LUA_TFUNCTION);
  } else {
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushnil(L);
  }
  LEdit *p = lua_newuserdatauv(L, sizeof *p, 0);
  p->le = NULL;
  p->L = NULL;
  p->complete_ref = LUA_NOREF;
  luaL_setmetatable(L, LINEEDIT_MT);
  if (!lua_isnil(L, -2)) {
    lua_pushvalue(L, -2);
    p->complete_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  ce_lineedit_cfg cfg = {"causal-eval", hist, (int)size, complete_cb, p};
  ce_err e;
  p->le = ce_lineedit_open(&cfg, &e);
  if (!p->le) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  return 1;
}

static int le_read(lua_State *L) {
  LEdit *p = check_open(L);
  const char *prompt = luaL_optstring(L, 2, "");
  char *line = NULL;
  p->L = L;
  int rc = ce_lineedit_read(p->le, prompt, &line);
  p->L = NULL;
  if (rc > 0) {
    lua_pushstring(L, line);
    free(line);
  } else if (rc < 0) {
    lua_pushboolean(L, 0); /* Ctrl-C: input cancelled */
  } else {
    lua_pushnil(L); /* end of input */
  }
  return 1;
}

static int le_add_history(lua_State *L) {
  LEdit *p = check_open(L);
  const char *s = luaL_checkstring(L, 2);
  ce_err e;
  if (ce_lineedit_add_history(p->le, s, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int le_is_tty(lua_State *L) {
  LEdit *p = check_open(L);
  lua_pushboolean(L, ce_lineedit_is_tty(p->le));
  return 1;
}

static int le_close(lua_State *L) {
  LEdit *p = ce_checkudata(L, 1, LINEEDIT_MT);
  ce_lineedit_close(p->le);
  p->le = NULL;
  if (p->complete_ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, p->complete_ref);
    p->complete_ref = LUA_NOREF;
  }
  return 0;
}

static int le_tostring(lua_State *L) {
  LEdit *p = ce_checkudata(L, 1, LINEEDIT_MT);
  lua_pushfstring(L, "causal_eval.lineedit (%s)", p->le ? "open" : "closed");
  return 1;
}

static const luaL_Reg le_funcs[] = {{"open", le_open}, {NULL, NULL}};
static const luaL_Reg le_methods[] = {
  {"read", le_read},
  {"add_history", le_add_history},
  {"is_tty", le_is_tty},
  {"close", le_close},
  {NULL, NULL}
};
static const luaL_Reg le_metameths[] = {
  {"__gc", le_close},
  {"__close", le_close},
  {"__tostring", le_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

int luaopen_causal_eval_lineedit(lua_State *L) {
  luaL_newmetatable(L, LINEEDIT_MT);
  luaL_setfuncs(L, le_metameths, 0);
  luaL_newlib(L, le_methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = methods */
  lua_pop(L, 1);                   /* pop mt */
  luaL_newlib(L, le_funcs);
  return 1;
}
