/* SPDX-License-Identifier: MIT */
/* luaL_testudata and luaL_checkudata, with the metatable remembered by the
 * address of the type's name: a method call checks its userdata, and
 * luaL_testudata looks the metatable up by name (the name hashed, a strcmp
 * against the string cache, a registry lookup): 320 instructions, a third
 * of a million calls in a run of 12,000 questions. The first check of a
 * type in a state asks lauxlib and keeps the metatable's address in the
 * state's host (runtime.h), which lives as long as the state and so does
 * the metatable (the registry holds it); later checks compare addresses.
 * Two copies of a name at different addresses get an entry each; a full
 * table, a state not made by the runtime, or a failed check go to lauxlib,
 * which also gives the message. */
#ifndef CE_LUA_UDATA_H
#define CE_LUA_UDATA_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "runtime.h"

/* the userdata at idx when its metatable is tname's, else NULL */
static inline void *ce_testudata(lua_State *L, int idx, const char *tname) {
  void *p = lua_touserdata(L, idx);
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  const void *mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  ce_host *h = ce_host_fast(L);
  unsigned n = sizeof h->udata / sizeof h->udata[0];
  /* tname's entry, else the free slot it takes (none when all are used) */
  ce_udata_entry *slot = NULL;
  for (unsigned probes = 0, i = (unsigned)((uintptr_t)tname >> 3) % n; h && probes < n; probes++, i = (i + 1) % n) {
    if (h->udata[i].name == tname) return h->udata[i].mt == mt ? p : NULL;
    if (!h->udata[i].name) {
      slot = &h->udata[i];
      break;
    }
  }
  if (!luaL_testudata(L, idx, tname)) return NULL;
  if (slot) {
    slot->name = tname;
    slot->mt = mt;
  }
  return p;
}

static inline void *ce_checkudata(lua_State *L, int idx, const char *tname) {
  void *p = ce_testudata(L, idx, tname);
  return p ? p : luaL_checkudata(L, idx, tname); /* raises lauxlib's error */
}

#endif
