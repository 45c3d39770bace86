/* SPDX-License-Identifier: MIT */
/* json.picker(path, ...) -> picker; picker:pick(text [, name]) -> true, v1, ...
 * | false, message. A path is a list of keys and array indices (from 1):
 * { "choices", 1, "message", "content" }; {} is the document itself. Each
 * value is the one at its path (core/util/json_pick.h): a string, number or
 * boolean; json.null for null; json.container for an object or array; nil
 * where the document has none. */
#include <lauxlib.h>
#include <lua.h>

#include "core/util/json_pick.h"
#include "json_encode.h"
#include "udata.h"

#define PICKER_MT "causal_eval.json_picker"

typedef ce_pick_set picker_ud;

static char CONTAINER, STRINGS, SCRATCH;

static int pick(lua_State *L) {
  picker_ud *pu = ce_checkudata(L, 1, PICKER_MT);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  const char *name = luaL_optstring(L, 3, "<json>");
  ce_buf *strings = ce_lua_json_buffer(L, &STRINGS), *scratch = ce_lua_json_buffer(L, &SCRATCH);
  strings->len = 0;
  ce_picked out[CE_PICK_MAX_PATHS];
  ce_err e;
  int rc = ce_json_pick(text, len, name, pu, out, strings, scratch, &e);
  if (rc != 0) {
    ce_lua_json_buffer_release(strings);
    lua_pushboolean(L, 0);
    lua_pushstring(L, e.msg);
    return 2;
  }
  luaL_checkstack(L, pu->npaths + 1, "json picker");
  lua_pushboolean(L, 1);
  for (int k = 0; k < pu->npaths; k++) {
    const ce_picked *v = &out[k];
    switch (v->kind) {
      case CE_PICKED_NULL: lua_pushlightuserdata(L, NULL); break;
      case CE_PICKED_BOOL: lua_pushboolean(L, v->b); break;
      case CE_PICKED_INT: lua_pushinteger(L, (lua_Integer)v->i); break;
      case CE_PICKED_NUM: lua_pushnumber(L, (lua_Number)v->d); break;
      case CE_PICKED_STR: lua_pushlstring(L, strings->data + v->off, v->len); break;
      case CE_PICKED_CONTAINER: lua_pushlightuserdata(L, &CONTAINER); break;
      default: lua_pushnil(L);
    }
  }
  ce_lua_json_buffer_release(strings);
  return pu->npaths + 1;
}

int ce_lua_json_picker(lua_State *L) {
  int n = lua_gettop(L);
  if (n < 1 || n > CE_PICK_MAX_PATHS) return luaL_error(L, "json.picker: 1 to %d paths", CE_PICK_MAX_PATHS);
  picker_ud *pu = lua_newuserdatauv(L, sizeof *pu, 1);
  pu->npaths = n;
  /* the paths' key strings stay alive with the picker */
  lua_createtable(L, n, 0);
  for (int k = 0; k < n; k++) {
    luaL_checktype(L, k + 1, LUA_TTABLE);
    lua_pushvalue(L, k + 1);
    lua_rawseti(L, -2, k + 1);
    ce_pick_path *p = &pu->paths[k];
    p->n = (int)lua_rawlen(L, k + 1);
    if (p->n > CE_PICK_MAX_STEPS) return luaL_argerror(L, k + 1, "a path of at most 8 keys and indices");
    for (int i = 0; i < p->n; i++) {
      int t = lua_rawgeti(L, k + 1, i + 1);
      if (t == LUA_TSTRING) {
        p->steps[i].key = lua_tolstring(L, -1, &p->steps[i].len);
        p->steps[i].index = 0;
      } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
        p->steps[i].key = NULL;
        p->steps[i].len = 0;
        p->steps[i].index = (int64_t)lua_tointeger(L, -1);
      } else {
        return luaL_argerror(L, k + 1, "a path's steps are keys (strings) and indices (integers from 1)");
      }
      lua_pop(L, 1);
    }
  }
  ce_pick_prepare(pu);
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, PICKER_MT)) {
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, pick);
    lua_setfield(L, -2, "pick");
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
  return 1;
}

void ce_lua_json_push_container(lua_State *L) { lua_pushlightuserdata(L, &CONTAINER); }
