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
  uint64_t h;
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

static void add_hash(luaL_Buffer *b, uint64_t h) {
  char hex[17];
  hex[0] = '#';
  ce_hash64_hex(h, hex + 1);
  luaL_addlstring(b, hex, 17);
}

/* luaL_tolstring's text of the value at idx, pushed: a string as it is
 * and a number as Lua writes it without looking for a __tostring first
 * (neither has one: strings share the string library's metatable, numbers
 * have none), which was most of what the call cost */
static const char *tostr(lua_State *L, int idx, size_t *n) {
  int t = lua_type(L, idx);
  if (t != LUA_TSTRING && t != LUA_TNUMBER) return luaL_tolstring(L, idx, n);
  lua_pushvalue(L, idx);
  return lua_tolstring(L, -1, n);
}

/* the string at the top goes below the key and value lua_next left:
 * alive on the stack until the labels are written */
static const char *keep(lua_State *L, size_t *n) {
  const char *s = lua_tolstring(L, -1, n);
  lua_insert(L, -3);
  return s;
}

/* The text a request's cache key hashes (the body, after the adapter and
 * model): hashed beside the labels' longest hashed field when both are made. */
typedef struct {
  uint64_t h;
  const char *s;
  size_t n;
} key_chain;

/* Pushes the labels of adapter, model, body (a table), task, field_json
 * (a table or none) and encode (stack indices), finishing kc's hash when
 * kc is given. Strings it makes stay on the stack below the labels. */
static void push_labels(lua_State *L, int ia, int im, int ibody, int itask, int ijson, int iencode, key_chain *kc) {
  luaL_checktype(L, ibody, LUA_TTABLE);
  int has_json = lua_type(L, ijson) == LUA_TTABLE;
  luaL_checktype(L, iencode, LUA_TFUNCTION);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, ibody)) {
    lua_pop(L, 1);
    n++;
  }
  field *f = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *f, 0);
  /* at most two strings a field stay on the stack (a key's text, a value's) */
  luaL_checkstack(L, 2 * n + 8, "request_labels");
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, ibody)) { /* ... key value */
    field *x = &f[i++];
    if (lua_type(L, -2) == LUA_TSTRING) {
      x->key = lua_tolstring(L, -2, &x->kl); /* alive in body */
    } else if (lua_type(L, -2) == LUA_TNUMBER) {
      lua_pushvalue(L, -2); /* "body." .. k of a number: its text */
      lua_tolstring(L, -1, NULL);
      x->key = keep(L, &x->kl);
    } else {
      luaL_error(L, "request_labels: a body field named by a %s", luaL_typename(L, -2));
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
      x->hashed = 1;
      if (has_json && lua_getfield(L, ijson, x->key) == LUA_TSTRING && strlen(x->key) == x->kl) {
        x->val = lua_tolstring(L, -1, &x->vl); /* alive in field_json */
        lua_pop(L, 1);
      } else {
        if (has_json) lua_pop(L, 1);
        lua_pushvalue(L, iencode);
        lua_pushvalue(L, -2);
        lua_call(L, 1, 1); /* encode(v) */
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "request_labels: encode gave no text");
        x->val = keep(L, &x->vl);
      }
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      x->hashed = 0;
      x->val = lua_tolstring(L, -1, &x->vl); /* alive in body */
    } else {
      tostr(L, -1, NULL); /* tostring(v) */
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
  int longest = -1;
  for (int k = 0; k < n; k++) {
    if (!f[k].hashed) continue;
    if (kc && (longest < 0 || f[k].vl > f[longest].vl)) longest = k;
    f[k].h = ce_hash64_start(0);
  }
  if (kc) {
    if (longest >= 0) {
      ce_hash64_add2(&kc->h, kc->s, kc->n, &f[longest].h, f[longest].val, f[longest].vl);
      f[longest].h = ce_hash64_end(f[longest].h);
    } else {
      kc->h = ce_hash64_add(kc->h, kc->s, kc->n);
    }
    kc->h = ce_hash64_end(kc->h);
  }
  for (int k = 0; k < n; k++)
    if (f[k].hashed && k != longest) f[k].h = ce_hash64_end(ce_hash64_add(f[k].h, f[k].val, f[k].vl));
  size_t al, ml, tl = 0;
  const char *adapter = tostr(L, ia, &al);
  const char *model = tostr(L, im, &ml);
  const char *task = "";
  if (lua_toboolean(L, itask)) task = tostr(L, itask, &tl); /* task or "" */
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "adapter=");
  add_value(&b, adapter, al);
  for (int k = 0; k < n; k++) {
    luaL_addstring(&b, "\nbody.");
    luaL_addlstring(&b, f[k].key, f[k].kl);
    luaL_addchar(&b, '=');
    if (f[k].hashed) add_hash(&b, f[k].h);
    else add_value(&b, f[k].val, f[k].vl);
  }
  luaL_addstring(&b, "\nmodel=");
  add_value(&b, model, ml);
  luaL_addstring(&b, "\ntask=");
  add_value(&b, task, tl);
  luaL_pushresult(&b);
}

int ce_lua_request_labels(lua_State *L) {
  lua_settop(L, 6);
  push_labels(L, 1, 2, 3, 4, 5, 6, NULL);
  return 1;
}

/* The key's hash after the adapter and model, before the body: each with
 * its terminating zero, the "\0" between them */
static uint64_t key_start(const char *adapter, size_t al, const char *model, size_t ml) {
  return ce_hash64_add(ce_hash64_add(ce_hash64_start(0), adapter, al + 1), model, ml + 1);
}

/* "m=MODEL|t=TASK|" and the hash's 16 hex digits */
static void push_key(lua_State *L, const char *model, size_t ml, const char *task, size_t tl, uint64_t h) {
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
  if (lua_toboolean(L, 4)) task = tostr(L, 4, &tl);
  push_key(L, model, ml, task, tl, ce_hash64_end(ce_hash64_add(key_start(adapter, al, model, ml), canonical, cl)));
  return 1;
}

/* cache_core.request_key_labels(adapter, key_model, label_model, canonical,
 * task, body, field_json, encode) -> request_key(adapter, key_model,
 * canonical, task), request_labels(adapter, label_model, body, task,
 * field_json, encode): made together, the key's hash of the body (1.3 KB)
 * and the labels' hash of its messages overlap (two FNV passes an answer
 * were 3.6% of a worker's time) */
int ce_lua_request_key_labels(lua_State *L) {
  size_t al, ml, cl, tl = 0;
  const char *adapter = luaL_checklstring(L, 1, &al);
  const char *model = luaL_checklstring(L, 2, &ml);
  const char *canonical = luaL_checklstring(L, 4, &cl);
  lua_settop(L, 8);
  const char *task = "";
  if (lua_toboolean(L, 5)) task = tostr(L, 5, &tl); /* alive at the top until the end */
  key_chain kc = {key_start(adapter, al, model, ml), canonical, cl};
  push_labels(L, 1, 3, 6, 5, 7, 8, &kc);
  push_key(L, model, ml, task, tl, kc.h);
  lua_insert(L, -2);
  return 2;
}
