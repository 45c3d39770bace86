/* SPDX-License-Identifier: MIT */
/* causal_eval.lockfile: an exclusive lock of this process on a file
 * (host/core/util/lockfile), dropped by the kernel when the process ends.
 *
 *   local lk, err, pid = lockfile.take(path)   -- nil, message, holder's pid when a live process has it
 *   lk:release()                               -- also on __gc and __close; removes the file
 *   lockfile.holder(path)                      -- pid of the live process holding it, or false
 */
#include <lauxlib.h>
#include <lua.h>

#include "core/util/lockfile.h"
#include "modules.h"
#include "udata.h"

#define LOCK_MT "causal_eval.lockfile"

typedef struct { ce_lockfile *l; } LLock; /* l == NULL: released */

static int lk_take(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  LLock *u = lua_newuserdatauv(L, sizeof *u, 0); /* created released: __gc never sees half a lock */
  u->l = NULL;
  luaL_setmetatable(L, LOCK_MT);
  ce_err e;
  long holder = 0;
  int rc = ce_lockfile_take(path, &u->l, &holder, &e);
  if (rc == 1) return 1;
  luaL_pushfail(L);
  if (rc == 0) {
    if (holder > 0) lua_pushfstring(L, "%s: held by process %d", path, (int)holder);
    else lua_pushfstring(L, "%s: held by another process", path);
    lua_pushinteger(L, holder);
    return 3;
  }
  lua_pushstring(L, e.msg);
  return 2;
}

static int lk_holder(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ce_err e;
  long holder = 0;
  int rc = ce_lockfile_holder(path, &holder, &e);
  if (rc < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  if (rc == 0) lua_pushboolean(L, 0);
  else lua_pushinteger(L, holder);
  return 1;
}

static int lk_release(lua_State *L) { /* release, __gc, __close */
  LLock *u = ce_checkudata(L, 1, LOCK_MT);
  ce_lockfile_release(u->l);
  u->l = NULL;
  return 0;
}

static int lk_tostring(lua_State *L) {
  LLock *u = ce_checkudata(L, 1, LOCK_MT);
  lua_pushstring(L, u->l ? "lockfile (held)" : "lockfile (released)");
  return 1;
}

static const luaL_Reg metameths[] = {
  {"__gc", lk_release}, {"__close", lk_release}, {"__tostring", lk_tostring}, {"__index", NULL}, {NULL, NULL}
};
static const luaL_Reg methods[] = {{"release", lk_release}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"take", lk_take}, {"holder", lk_holder}, {NULL, NULL}};

int luaopen_causal_eval_lockfile(lua_State *L) {
  luaL_newmetatable(L, LOCK_MT);
  luaL_setfuncs(L, metameths, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = methods */
  lua_pop(L, 1);                  /* pop mt */
  luaL_newlib(L, funcs);
  return 1;
}
