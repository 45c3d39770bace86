/* SPDX-License-Identifier: MIT */
/* causal_eval.cache_core: the layered cache (host/core/cache), shared between
 * worker threads by id like the results store.
 *
 *   local c = cache_core.open{ memory_mb = 256, disk_path = "...", disk_gb = 4,
 *                              redis_url = "redis://127.0.0.1:6379/0", ttl = 86400 }
 *   c:set(key, value, { ttl = 60, tags = {"model_update"}, labels = "model=m\ntask=t" })
 *   c:get(key)               -- value, "memory"|"disk"|"redis" | nil
 *   c:get_entry(key)         -- { value, created, expires, labels, tags, layer } | nil
 *   c:get_many(keys)         -- { [i] = value or false }, { [i] = layer or false }
 *   c:set_many({ {key, value [, labels]}, ... }, opts)   -- one disk txn, one Redis round trip
 *   c:delete(key); c:invalidate(tag); c:stats(); c:prune(before); c:clear()
 *   c:preload{ { model = "gpt-4", task = "*" }, ... }   -- label globs
 *   c:each("disk", function(key, entry) ... end)
 *   cache_core.attach(c:id())
 *   cache_core.parse_redis_url(url)   -- { host, port, db } | nil, message
 *   cache_core.request_labels(adapter, model, body, task, field_json)   -- (cache_labels.c)
 *   cache_core.request_key(adapter, model, canonical_body, task)        -- (cache_labels.c)
 *   cache_core.request_key_labels(adapter, key_model, label_model, canonical_body, task, body, field_json)
 *                                                                       -- both at once (cache_labels.c)
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_labels.h"
#include "core/cache/cache.h"
#include "core/util/shared.h"
#include "modules.h"
#include "udata.h"

#define CACHE_MT "causal_eval.cache"

typedef struct { uint64_t id; ce_cache *c; } LCache;

static const char *const LAYERS[] = {"memory", "disk", "redis", NULL};

static ce_cache *check(lua_State *L) {
  LCache *u = ce_checkudata(L, 1, CACHE_MT);
  if (!u->c) luaL_error(L, "attempt to use a closed cache");
  return u->c;
}

/* Redis outages are reported once each, on stderr: the run goes on. */
static void notice(void *ud, int up, const char *msg) {
  (void)ud;
  fprintf(stderr, "causal-eval: %s%s\n", up ? "" : "warning: ", msg);
}

static double opt_number(lua_State *L, int t, const char *k, double d) {
  lua_getfield(L, t, k);
  double v = luaL_optnumber(L, -1, d);
  lua_pop(L, 1);
  return v;
}

static const char *opt_string(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_pop(L, 1); /* the table keeps the string alive */
  return s;
}

static int c_open(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  ce_cache_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.memory_max_bytes = (size_t)(opt_number(L, 1, "memory_mb", 0) * 1024 * 1024);
  cfg.memory_shards = (int)opt_number(L, 1, "shards", 16);
  cfg.disk_path = opt_string(L, 1, "disk_path");
  cfg.disk_max_bytes = (size_t)(opt_number(L, 1, "disk_gb", 1) * 1024 * 1024 * 1024);
  cfg.default_ttl = opt_number(L, 1, "ttl", 0);
  ce_redis_cfg rc;
  memset(&rc, 0, sizeof rc);
  char urlbuf[512];
  const char *url = opt_string(L, 1, "redis_url");
  const char *rhost = opt_string(L, 1, "redis_host");
  if (url || rhost) {
    if (url && ce_redis_parse_url(url, &rc, urlbuf, sizeof urlbuf) != 0)
      return luaL_error(L, "cache: bad redis url '%s' (expected redis://[:password@]host[:port][/db])", url);
    if (rhost) rc.host = rhost;
    int port = (int)opt_number(L, 1, "redis_port", 0);
    if (port) rc.port = port;
    const char *pw = opt_string(L, 1, "redis_password");
    if (pw) rc.password = pw;
    lua_getfield(L, 1, "redis_db");
    if (!lua_isnil(L, -1)) rc.db = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    rc.prefix = opt_string(L, 1, "redis_prefix");
    rc.timeout = opt_number(L, 1, "redis_timeout", 0.25);
    rc.notice = notice;
    cfg.redis = &rc;
  }
  LCache *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->c = NULL;
  u->id = 0;
  luaL_setmetatable(L, CACHE_MT);
  ce_err e;
  ce_cache *c = ce_cache_open(&cfg, &e);
  if (!c) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  u->id = ce_shared_register(c, "cache", ce_cache_free);
  if (!u->id) {
    ce_cache_free(c);
    return luaL_error(L, "cache: out of memory");
  }
  u->c = c;
  return 1;
}

/* cache_core.parse_redis_url(url) -> { host, port, db } | nil, message:
 * what the configuration checks a url with, before anything connects */
static int c_parse_redis_url(lua_State *L) {
  const char *url = luaL_checkstring(L, 1);
  ce_redis_cfg rc;
  memset(&rc, 0, sizeof rc);
  char buf[512];
  if (ce_redis_parse_url(url, &rc, buf, sizeof buf) != 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "expected redis://[:password@]host[:port][/db]");
    return 2;
  }
  lua_createtable(L, 0, 3);
  lua_pushstring(L, rc.host ? rc.host : "127.0.0.1");
  lua_setfield(L, -2, "host");
  lua_pushinteger(L, rc.port ? rc.port : 6379);
  lua_setfield(L, -2, "port");
  lua_pushinteger(L, rc.db);
  lua_setfield(L, -2, "db");
  return 1;
}

static int c_attach(lua_State *L) {
  uint64_t id = (uint64_t)luaL_checkinteger(L, 1);
  ce_cache *c = ce_shared_acquire(id, "cache");
  if (!c) {
    luaL_pushfail(L);
    lua_pushfstring(L, "no open cache with id %d", (int)id);
    return 2;
  }
  LCache *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->id = id;
  u->c = c;
  luaL_setmetatable(L, CACHE_MT);
  return 1;
}

static int m_id(lua_State *L) {
  check(L);
  lua_pushinteger(L, (lua_Integer)((LCache *)lua_touserdata(L, 1))->id);
  return 1;
}

static int m_has_layer(lua_State *L) {
  ce_cache *c = check(L);
  lua_pushboolean(L, ce_cache_has_layer(c, luaL_checkoption(L, 2, NULL, LAYERS)));
  return 1;
}

static int m_get(lua_State *L) {
  ce_cache *c = check(L);
  size_t kl;
  const char *k = luaL_checklstring(L, 2, &kl);
  ce_buf v;
  ce_buf_init(&v);
  int layer;
  if (ce_cache_get(c, k, kl, &v, &layer) != 1) {
    ce_buf_free(&v);
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, v.data ? v.data : "", v.len);
  ce_buf_free(&v);
  lua_pushstring(L, LAYERS[layer]);
  return 2;
}

static void push_entry(lua_State *L, const ce_cache_entry *e) {
  lua_createtable(L, 0, 6);
  lua_pushlstring(L, e->value, e->value_len);
  lua_setfield(L, -2, "value");
  lua_pushnumber(L, e->created);
  lua_setfield(L, -2, "created");
  if (e->expires > 0) {
    lua_pushnumber(L, e->expires);
    lua_setfield(L, -2, "expires");
  }
  lua_pushlstring(L, e->labels, e->labels_len);
  lua_setfield(L, -2, "labels");
  lua_createtable(L, e->ntags, 0);
  for (int i = 0; i < e->ntags; i++) {
    lua_pushlstring(L, e->tags[i].name, e->tags[i].len);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "tags");
}

static int m_get_entry(lua_State *L) {
  ce_cache *c = check(L);
  size_t kl;
  const char *k = luaL_checklstring(L, 2, &kl);
  ce_buf blob;
  ce_buf_init(&blob);
  ce_cache_entry e;
  int layer;
  if (ce_cache_get_entry(c, k, kl, &blob, &e, &layer) != 1) {
    ce_buf_free(&blob);
    lua_pushnil(L);
    return 1;
  }
  push_entry(L, &e);
  lua_pushstring(L, LAYERS[layer]);
  lua_setfield(L, -2, "layer");
  ce_buf_free(&blob);
  return 1;
}

static int m_get_many(lua_State *L) {
  ce_cache *c = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = (int)luaL_len(L, 2);
  const char **keys = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *keys, 0);
  size_t *lens = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *lens, 0);
  int *found = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *found, 0);
  ce_buf *vals = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *vals, 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    keys[i] = luaL_checklstring(L, -1, &lens[i]);
    lua_pop(L, 1); /* the keys table keeps it alive */
    ce_buf_init(&vals[i]);
  }
  ce_cache_get_many(c, keys, lens, n, vals, found);
  lua_createtable(L, n, 0);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    if (found[i]) {
      lua_pushlstring(L, vals[i].data ? vals[i].data : "", vals[i].len);
      lua_rawseti(L, -3, i + 1);
      lua_pushstring(L, LAYERS[found[i] - 1]);
      lua_rawseti(L, -2, i + 1);
    } else {
      lua_pushboolean(L, 0);
      lua_rawseti(L, -3, i + 1);
      lua_pushboolean(L, 0);
      lua_rawseti(L, -2, i + 1);
    }
    ce_buf_free(&vals[i]);
  }
  return 2;
}

typedef struct {
  ce_cache_set_opts o;
  const char *tags[CE_CACHE_MAX_TAGS];
  size_t tl[CE_CACHE_MAX_TAGS];
} set_args;

/* { ttl = , tags = {...}, labels = "" } at idx (strings stay owned by that table) */
static void read_set_opts(lua_State *L, int idx, set_args *a) {
  ce_cache_set_opts o = {-1, NULL, NULL, 0, NULL, 0};
  a->o = o;
  if (!lua_istable(L, idx)) return;
  a->o.ttl = opt_number(L, idx, "ttl", -1);
  if (lua_getfield(L, idx, "tags") == LUA_TTABLE) {
    int n = (int)luaL_len(L, -1);
    if (n > CE_CACHE_MAX_TAGS) luaL_error(L, "cache: at most %d tags", CE_CACHE_MAX_TAGS);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, -1, i + 1);
      a->tags[i] = luaL_checklstring(L, -1, &a->tl[i]);
      lua_pop(L, 1);
    }
    a->o.tags = a->tags;
    a->o.tag_lens = a->tl;
    a->o.ntags = n;
  }
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "labels") == LUA_TSTRING) a->o.labels = lua_tolstring(L, -1, &a->o.labels_len);
  lua_pop(L, 1);
}

static int m_set(lua_State *L) {
  ce_cache *c = check(L);
  size_t kl, vl;
  const char *k = luaL_checklstring(L, 2, &kl), *v = luaL_checklstring(L, 3, &vl);
  luaL_argcheck(L, kl > 0 && kl <= 500, 2, "a cache key has 1 to 500 bytes");
  set_args a;
  read_set_opts(L, 4, &a);
  lua_pushboolean(L, ce_cache_set(c, k, kl, v, vl, &a.o) == 0);
  return 1;
}

/* c:set_many({ {key, value [, labels]}, ... }, opts) -> how many were stored.
 * One disk transaction and one Redis round trip for all of them. */
static int m_set_many(lua_State *L) {
  ce_cache *c = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = (int)luaL_len(L, 2);
  size_t cells = (size_t)(n > 0 ? n : 1);
  const char **keys = lua_newuserdatauv(L, cells * sizeof *keys, 0);
  const char **vals = lua_newuserdatauv(L, cells * sizeof *vals, 0);
  const char **labels = lua_newuserdatauv(L, cells * sizeof *labels, 0);
  size_t *kl = lua_newuserdatauv(L, cells * sizeof *kl, 0);
  size_t *vl = lua_newuserdatauv(L, cells * sizeof *vl, 0);
  size_t *ll = lua_newuserdatauv(L, cells * sizeof *ll, 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    luaL_argcheck(L, lua_istable(L, -1), 2, "a list of {key, value [, labels]}");
    lua_rawgeti(L, -1, 1);
    keys[i] = luaL_checklstring(L, -1, &kl[i]);
    luaL_argcheck(L, kl[i] > 0 && kl[i] <= 500, 2, "a cache key has 1 to 500 bytes");
    lua_rawgeti(L, -2, 2);
    vals[i] = luaL_checklstring(L, -1, &vl[i]);
    lua_rawgeti(L, -3, 3);
    labels[i] = lua_isstring(L, -1) ? lua_tolstring(L, -1, &ll[i]) : NULL;
    if (!labels[i]) ll[i] = 0;
    lua_pop(L, 4); /* the item tables keep the strings alive */
  }
  set_args a;
  read_set_opts(L, 3, &a);
  lua_pushinteger(L, ce_cache_set_many(c, keys, kl, vals, vl, labels, ll, n, &a.o));
  return 1;
}

static int m_delete(lua_State *L) {
  ce_cache *c = check(L);
  size_t kl;
  const char *k = luaL_checklstring(L, 2, &kl);
  lua_pushboolean(L, ce_cache_del(c, k, kl));
  return 1;
}

static int m_invalidate(lua_State *L) {
  ce_cache *c = check(L);
  size_t tl;
  const char *t = luaL_checklstring(L, 2, &tl);
  lua_pushboolean(L, ce_cache_invalidate(c, t, tl) == 0);
  return 1;
}

/* ---- preload and each: label globs and a Lua visitor ---- */

typedef struct {
  lua_State *L;
  int patterns; /* stack index of the list of {label = glob} */
  int fn;       /* stack index of the visitor, or 0 */
  int error;
} match_ctx;

static int labels_match(lua_State *L, int pattern, const ce_cache_entry *e) {
  int ok = 1;
  lua_pushnil(L);
  while (ok && lua_next(L, pattern)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
      size_t len;
      const char *v = ce_cache_entry_label(e, lua_tostring(L, -2), &len);
      if (!v || !ce_cache_glob(lua_tostring(L, -1), v, len)) ok = 0;
    }
    lua_pop(L, 1);
  }
  if (!ok) lua_pop(L, 1); /* the key lua_next left */
  return ok;
}

static int match(const ce_cache_entry *e, const char *k, size_t kl, void *ud) {
  match_ctx *m = ud;
  lua_State *L = m->L;
  if (m->error) return 0;
  if (m->fn) {
    lua_pushvalue(L, m->fn);
    lua_pushlstring(L, k, kl);
    push_entry(L, e);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
      m->error = 1;
      return 0; /* the message stays on the stack */
    }
    int r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
  }
  int n = (int)luaL_len(L, m->patterns);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, m->patterns, i);
    int ok = lua_istable(L, -1) && labels_match(L, lua_gettop(L), e);
    lua_pop(L, 1);
    if (ok) return 1;
  }
  return 0;
}

static int m_preload(lua_State *L) {
  ce_cache *c = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  match_ctx m = {L, 2, 0, 0};
  long n = ce_cache_preload(c, match, &m);
  if (m.error) return lua_error(L);
  lua_pushinteger(L, n);
  return 1;
}

static int m_each(lua_State *L) {
  ce_cache *c = check(L);
  int layer = luaL_checkoption(L, 2, NULL, LAYERS);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  match_ctx m = {L, 0, 3, 0};
  long n = ce_cache_each(c, layer, match, &m);
  if (m.error) return lua_error(L);
  lua_pushinteger(L, n);
  return 1;
}

static int m_prune(lua_State *L) {
  ce_cache *c = check(L);
  lua_pushinteger(L, ce_cache_prune(c, luaL_checknumber(L, 2)));
  return 1;
}

static int m_clear(lua_State *L) {
  lua_pushboolean(L, ce_cache_clear(check(L)) == 0);
  return 1;
}

static void set_int(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static int m_stats(lua_State *L) {
  ce_cache *c = check(L);
  lua_createtable(L, 0, 3);
  for (int layer = 0; layer < CE_CACHE_NLAYERS; layer++) {
    ce_cache_layer_stats s;
    ce_cache_stats(c, layer, &s);
    if (!s.enabled) continue;
    lua_createtable(L, 0, 14);
    lua_pushboolean(L, s.up);
    lua_setfield(L, -2, "up");
    set_int(L, "hits", s.hits);
    set_int(L, "misses", s.misses);
    set_int(L, "sets", s.sets);
    set_int(L, "evictions", s.evictions);
    set_int(L, "errors", s.errors);
    set_int(L, "corrupt", s.corrupt);
    set_int(L, "stale", s.stale);
    set_int(L, "entries", s.entries);
    set_int(L, "bytes", s.bytes);
    set_int(L, "samples", s.samples);
    set_num(L, "mean_us", s.mean_us);
    set_num(L, "p50_us", s.p50_us);
    set_num(L, "p95_us", s.p95_us);
    set_num(L, "p99_us", s.p99_us);
    lua_setfield(L, -2, LAYERS[layer]);
  }
  return 1;
}

static int m_close(lua_State *L) {
  LCache *u = ce_checkudata(L, 1, CACHE_MT);
  if (u->c) {
    ce_shared_release(u->id);
    u->c = NULL;
  }
  return 0;
}

static const luaL_Reg funcs[] = {
  {"open", c_open}, {"attach", c_attach}, {"parse_redis_url", c_parse_redis_url},
  {"request_labels", ce_lua_request_labels}, {"request_key", ce_lua_request_key},
    {"request_key_labels", ce_lua_request_key_labels}, {NULL, NULL}};
static const luaL_Reg methods[] = {
  {"id", m_id},           {"has_layer", m_has_layer}, {"get", m_get},       {"get_entry", m_get_entry},
  {"get_many", m_get_many}, {"set", m_set},           {"set_many", m_set_many},           {"delete", m_delete}, {"invalidate", m_invalidate},
  {"preload", m_preload}, {"each", m_each},           {"prune", m_prune},   {"clear", m_clear},
  {"stats", m_stats},     {"close", m_close},         {NULL, NULL}
};

int luaopen_causal_eval_cache_core(lua_State *L) {
  luaL_newmetatable(L, CACHE_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, m_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, m_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
