/* SPDX-License-Identifier: MIT */
/* cache_core.request_labels(adapter, model, body, task, field_json, encode):
 * the labels causal_eval.cache.request_labels stores with a model call's
 * answer, "adapter=A\nbody.K=V\n...\nmodel=M\ntask=T": the body's fields
 * in the order table.sort gives "body.K", each value as tostring writes it
 * or, for a table, "#" and 16 hex digits of rng.hex of its JSON
 * (field_json[K], the text the request encoded, else encode(v)), and
 * newlines in values as spaces. Made in C since every answer a run stores
 * builds them; in Lua they were a sixth of a worker's time. The call's
 * cache key (cache_core.request_key) is made here too, below. */
#include "cache_labels.h"

#include <lauxlib.h>

#include <stdint.h>
#include <string.h>

#include "core/stats/philox.h"

typedef struct {
  const char *key, *val;
  size_t kl, vl;
  int hashed; /* val is JSON to hash */
} field;

/* as Lua orders two strings (lstring.c l_strcmp: strcoll, part by part
 * past embedded zeros); "body." in front of both changes nothing */
static int lua_order(const field *x, const field *y) {
  const char *l = x->key, *r = y->key;
  size_t ll = x->kl, lr = y->kl;
  for (;;) {
    int c = strcoll(l, r);
    if (c != 0) return c;
    size_t len = strlen(l);
    if (len == lr) return len == ll ? 0 : 1;
    if (len == ll) return -1;
    len++;
    l += len, ll -= len, r += len, lr -= len;
  }
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
  char hex[17];
  hex[0] = '#';
  ce_hash64_hex(ce_hash64(s, n, 0), hex + 1);
  luaL_addlstring(b, hex, 17);
}

/* the string at the top goes below the key and value lua_next left:
 * alive on the stack until the labels are written */
static const char *keep(lua_State *L, size_t *n) {
  const char *s = lua_tolstring(L, -1, n);
  lua_insert(L, -3);
  return s;
}

int ce_lua_request_labels(lua_State *L) {
  luaL_checktype(L, 3, LUA_TTABLE);
  int has_json = lua_type(L, 5) == LUA_TTABLE;
  luaL_checktype(L, 6, LUA_TFUNCTION);
  lua_settop(L, 6);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    lua_pop(L, 1);
    n++;
  }
  field *f = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *f, 0); /* 7 */
  /* at most two strings a field stay on the stack (a key's text, a value's) */
  luaL_checkstack(L, 2 * n + 8, "request_labels");
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, 3)) { /* ... key value */
    field *x = &f[i++];
    if (lua_type(L, -2) == LUA_TSTRING) {
      x->key = lua_tolstring(L, -2, &x->kl); /* alive in body */
    } else if (lua_type(L, -2) == LUA_TNUMBER) {
      lua_pushvalue(L, -2); /* "body." .. k of a number: its text */
      lua_tolstring(L, -1, NULL);
      x->key = keep(L, &x->kl);
    } else {
      return luaL_error(L, "request_labels: a body field named by a %s", luaL_typename(L, -2));
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
      x->hashed = 1;
      if (has_json && lua_getfield(L, 5, x->key) == LUA_TSTRING && strlen(x->key) == x->kl) {
        x->val = lua_tolstring(L, -1, &x->vl); /* alive in field_json */
        lua_pop(L, 1);
      } else {
        if (has_json) lua_pop(L, 1);
        lua_pushvalue(L, 6);
        lua_pushvalue(L, -2);
        lua_call(L, 1, 1); /* encode(v) */
        if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "request_labels: encode gave no text");
        x->val = keep(L, &x->vl);
      }
    } else {
      luaL_tolstring(L, -1, NULL); /* tostring(v) */
      x->hashed = 0;
      x->val = keep(L, &x->vl);
    }
    lua_pop(L, 1);
  }
  /* insertion sort: a request has a handful of fields */
  for (int a = 1; a < n; a++) {
    field t = f[a];
    int b = a;
    for (; b > 0 && lua_order(&f[b - 1], &t) > 0; b--) f[b] = f[b - 1];
    f[b] = t;
  }
  size_t al, ml, tl = 0;
  const char *adapter = luaL_tolstring(L, 1, &al);
  const char *model = luaL_tolstring(L, 2, &ml);
  const char *task = "";
  if (lua_toboolean(L, 4)) task = luaL_tolstring(L, 4, &tl); /* task or "" */
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "adapter=");
  add_value(&b, adapter, al);
  for (int k = 0; k < n; k++) {
    luaL_addstring(&b, "\nbody.");
    luaL_addlstring(&b, f[k].key, f[k].kl);
    luaL_addchar(&b, '=');
    if (f[k].hashed) add_hash(&b, f[k].val, f[k].vl);
    else add_value(&b, f[k].val, f[k].vl);
  }
  luaL_addstring(&b, "\nmodel=");
  add_value(&b, model, ml);
  luaL_addstring(&b, "\ntask=");
  add_value(&b, task, tl);
  luaL_pushresult(&b);
  return 1;
}

/* cache_core.request_key(adapter, model, canonical, task): what
 * causal_eval.cache.request_key gives, ("m=%s|t=%s|%s"):format(model, task
 * or "", rng.hex(adapter .. "\0" .. model .. "\0" .. canonical)), hashing
 * the pieces in place: every question a run asks makes one, and joining
 * them copied the request body (1.3 KB) into a string only hashed */
int ce_lua_request_key(lua_State *L) {
  size_t al, ml, cl, tl = 0;
  const char *adapter = luaL_checklstring(L, 1, &al);
  const char *model = luaL_checklstring(L, 2, &ml);
  const char *canonical = luaL_checklstring(L, 3, &cl);
  const char *task = "";
  if (lua_toboolean(L, 4)) task = luaL_tolstring(L, 4, &tl);
  uint64_t h = ce_hash64_start(0);
  h = ce_hash64_add(h, adapter, al + 1); /* its terminating zero: the "\0" between */
  h = ce_hash64_add(h, model, ml + 1);
  h = ce_hash64_end(ce_hash64_add(h, canonical, cl));
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "m=");
  luaL_addlstring(&b, model, ml);
  luaL_addstring(&b, "|t=");
  luaL_addlstring(&b, task, tl);
  luaL_addchar(&b, '|');
  char hex[16];
  ce_hash64_hex(h, hex);
  luaL_addlstring(&b, hex, 16);
  luaL_pushresult(&b);
  return 1;
}
