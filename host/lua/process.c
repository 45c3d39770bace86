/* SPDX-License-Identifier: MIT */
/* causal_eval.process: run a program with input and a time limit.
 *   local r = process.run{ argv = { "./model.sh", "--flag" }, input = prompt, timeout = 30 }
 *   r.code, r.signal, r.timed_out, r.stdout, r.stderr, r.seconds     (or nil, message) */
#include <lauxlib.h>
#include <lua.h>

#include <string.h>

#include "core/io/proc.h"
#include "modules.h"

static int p_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getfield(L, 1, "argv") != LUA_TTABLE) return luaL_argerror(L, 1, "argv: list of strings expected");
  lua_Integer n = luaL_len(L, -1);
  luaL_argcheck(L, n >= 1 && n <= 256, 1, "argv: 1 to 256 words");
  char **argv = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *argv, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, -2, i) != LUA_TSTRING) return luaL_argerror(L, 1, "argv: list of strings expected");
    argv[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  size_t inlen = 0;
  const char *input = NULL;
  if (lua_getfield(L, 1, "input") != LUA_TNIL) input = luaL_checklstring(L, -1, &inlen);
  lua_getfield(L, 1, "timeout");
  lua_Number timeout = luaL_optnumber(L, -1, 0);
  lua_getfield(L, 1, "max_output");
  lua_Integer maxout = luaL_optinteger(L, -1, 1 << 20);
  ce_proc_result r;
  ce_err e;
  if (ce_proc_run(argv, input, inlen, (long)(timeout * 1000), (size_t)maxout, &r, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, r.exit_code);
  lua_setfield(L, -2, "code");
  lua_pushinteger(L, r.signal);
  lua_setfield(L, -2, "signal");
  lua_pushboolean(L, r.timed_out);
  lua_setfield(L, -2, "timed_out");
  lua_pushlstring(L, r.out.data ? r.out.data : "", r.out.len);
  lua_setfield(L, -2, "stdout");
  lua_pushlstring(L, r.err.data ? r.err.data : "", r.err.len);
  lua_setfield(L, -2, "stderr");
  lua_pushnumber(L, r.seconds);
  lua_setfield(L, -2, "seconds");
  ce_proc_result_free(&r);
  return 1;
}

static const luaL_Reg funcs[] = {{"run", p_run}, {NULL, NULL}};

int luaopen_causal_eval_process(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
