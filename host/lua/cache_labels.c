/* SPDX-License-Identifier: MIT */
/* cache_core.request_labels(adapter, model, body, task [, field_json]): the
 * labels causal_eval.cache.request_labels stores with a model call's
 * answer, made in one call: every answer a run stores builds them, and in
 * Lua they were a sixth of a worker's time. The text is what that function
 * writes ("adapter=..\nbody.K=..\n..\nmodel=..\ntask=..", body fields
 * sorted as table.sort sorts them, a table as "#" and 16 hex digits of
 * rng.hex of its JSON, newlines in values as spaces). Returns nil for what
 * it leaves to the Lua code: a key that is not a string, a table field
 * whose JSON field_json does not give, more than 32 fields. */
#include "cache_labels.h"

#include <lauxlib.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats/philox.h"

#define MAX_FIELDS 32

typedef struct {
  const char *key, *val;
  size_t kl, vl;
  int hashed; /* val is JSON to hash */
} field;

/* as Lua orders two strings without embedded zeros (lstring.c l_strcmp) */
static int key_cmp(const void *a, const void *b) {
  const field *x = a, *y = b;
  return strcoll(x->key, y->key);
}

/* a value on one line: newlines as spaces */
static void add_value(luaL_Buffer *b, const char *s, size_t n) {
  const char *nl;
  while (n > 0 && (nl = memchr(s, '\n', n)) != NULL) {
    luaL_addlstring(b, s, (size_t)(nl - s));
    luaL_addchar(b, ' ');
    n -= (size_t)(nl - s) + 1;
    s = nl + 1;
  }
  luaL_addlstring(b, s, n);
}

static void add_hash(luaL_Buffer *b, const char *s, size_t n) {
  static const char digits[] = "0123456789abcdef";
  uint64_t h = ce_hash64(s, n, 0);
  char hex[17];
  hex[0] = '#';
  for (int i = 16; i >= 1; i--) {
    hex[i] = digits[h & 15];
    h >>= 4;
  }
  luaL_addlstring(b, hex, 17);
}

int ce_lua_request_labels(lua_State *L) {
  luaL_checktype(L, 3, LUA_TTABLE);
  int has_json = lua_type(L, 5) == LUA_TTABLE;
  lua_settop(L, 5);
  field f[MAX_FIELDS];
  int n = 0;
  /* the strings stay alive: keys in body, values in body or field_json, or
   * (numbers, booleans) as strings left on the stack above the table */
  luaL_checkstack(L, MAX_FIELDS + 8, "request_labels");
  lua_pushnil(L);
  while (lua_next(L, 3)) { /* ... key value */
    if (lua_type(L, -2) != LUA_TSTRING || n == MAX_FIELDS) {
      lua_pushnil(L);
      return 1;
    }
    field *x = &f[n];
    x->key = lua_tolstring(L, -2, &x->kl);
    if (strlen(x->key) != x->kl) { /* an embedded zero: Lua compares past it */
      lua_pushnil(L);
      return 1;
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
      if (!has_json || lua_getfield(L, 5, x->key) != LUA_TSTRING) {
        lua_pushnil(L);
        return 1;
      }
      x->val = lua_tolstring(L, -1, &x->vl); /* alive in field_json */
      x->hashed = 1;
      lua_pop(L, 2);
    } else {
      x->val = luaL_tolstring(L, -1, &x->vl); /* tostring(v): kept on the stack */
      x->hashed = 0;
      lua_insert(L, -3); /* below the key and value: ... str key value */
      lua_pop(L, 1);
    }
    n++;
  }
  qsort(f, (size_t)n, sizeof *f, key_cmp);
  size_t al, ml, tl;
  const char *adapter = luaL_tolstring(L, 1, &al);
  const char *model = luaL_tolstring(L, 2, &ml);
  const char *task = "";
  tl = 0;
  if (lua_toboolean(L, 4)) task = luaL_tolstring(L, 4, &tl); /* task or "" */
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "adapter=");
  add_value(&b, adapter, al);
  for (int i = 0; i < n; i++) {
    luaL_addstring(&b, "\nbody.");
    luaL_addlstring(&b, f[i].key, f[i].kl);
    luaL_addchar(&b, '=');
    if (f[i].hashed) add_hash(&b, f[i].val, f[i].vl);
    else add_value(&b, f[i].val, f[i].vl);
  }
  luaL_addstring(&b, "\nmodel=");
  add_value(&b, model, ml);
  luaL_addstring(&b, "\ntask=");
  add_value(&b, task, tl);
  luaL_pushresult(&b);
  return 1;
}
