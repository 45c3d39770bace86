/* SPDX-License-Identifier: MIT */
/* causal_eval.store_core: the LMDB results store (host/core/store), shared
 * between threads by id like causal_eval.shared objects.
 *
 *   local st = store.open{ path = "causal-eval-data", map_size_mb = 1024, sync = true,
 *                          raise_damage = false }
 *   st:put("runs", id, json); st:get("runs", id); st:delete("meta", "last")
 *   st:scan("records", prefix, function(k, v) ... end, { reverse = true, limit = 10 })
 *   st:start_writer{ batch = 256, flush_ms = 5 }
 *   st:enqueue("records", key, value, slot, tally)   -- from any thread
 *   st:enqueue_record(key, record, score_line, slot, tally) -- records + scores, one transaction
 *   st:sync(); st:tally(slot); st:replayed(); st:dir()
 *   store.attach(st:id())                           -- in another thread's state
 *   store.check(dir, { salvage = "out.jsonl" })     -- report lines, status
 *   store.DATABASES                                 -- { "runs", "records", "meta", "scores" }
 *
 * A failure returns nil, message, kind: kind "damaged" when data.mdb is
 * damaged, "full" when the disk or the map is. With raise_damage, damage
 * raises instead: an error table { damaged = true, message, dir } (its
 * tostring is the message), so that a command reading many records cannot
 * carry on with a partial answer. */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>

#include "core/store/check.h"
#include "core/store/store.h"
#include "core/util/shared.h"
#include "modules.h"

#define STORE_MT "causal_eval.store"
#define DAMAGE_MT "causal_eval.store_damage"

typedef struct { uint64_t id; ce_store *s; int raise_damage; } LStore;

static const char *DBS[CE_STORE_NDB + 1]; /* ce_store_db_names, NULL-ended for luaL_checkoption */

static ce_store *check(lua_State *L) {
  LStore *u = luaL_checkudata(L, 1, STORE_MT);
  if (!u->s) luaL_error(L, "attempt to use a closed store");
  return u->s;
}

static int fail(lua_State *L, const ce_err *e) {
  LStore *u = luaL_testudata(L, 1, STORE_MT);
  if (u && u->raise_damage && e->code == CE_STORE_EDAMAGED) {
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "damaged");
    lua_pushstring(L, e->msg);
    lua_setfield(L, -2, "message");
    if (u->s) {
      lua_pushstring(L, ce_store_dir(u->s));
      lua_setfield(L, -2, "dir");
    }
    luaL_setmetatable(L, DAMAGE_MT);
    return lua_error(L);
  }
  luaL_pushfail(L);
  lua_pushstring(L, e->msg);
  if (e->code == CE_STORE_EDAMAGED) lua_pushliteral(L, "damaged");
  else if (e->code == CE_STORE_EFULL) lua_pushliteral(L, "full");
  else lua_pushnil(L);
  return 3;
}

static int damage_tostring(lua_State *L) {
  lua_getfield(L, 1, "message");
  return 1;
}

static int st_open(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getfield(L, 1, "path") != LUA_TSTRING) return luaL_argerror(L, 1, "path: string expected");
  const char *path = lua_tostring(L, -1);
  lua_getfield(L, 1, "map_size_mb");
  lua_Integer map = luaL_optinteger(L, -1, 1024);
  luaL_argcheck(L, map >= 1, 1, "map_size_mb must be positive");
  lua_getfield(L, 1, "sync");
  int sync = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
  lua_getfield(L, 1, "raise_damage");
  int raise_damage = lua_toboolean(L, -1);
  LStore *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  u->id = 0;
  u->raise_damage = 0;
  luaL_setmetatable(L, STORE_MT);
  ce_err e;
  ce_store *s = ce_store_open(path, (size_t)map, sync, &e);
  if (!s) return fail(L, &e);
  u->raise_damage = raise_damage;
  u->id = ce_shared_register(s, "store", ce_store_free);
  if (!u->id) {
    ce_store_free(s);
    return luaL_error(L, "store: out of memory");
  }
  u->s = s;
  return 1;
}

static int st_attach(lua_State *L) {
  uint64_t id = (uint64_t)luaL_checkinteger(L, 1);
  ce_store *s = ce_shared_acquire(id, "store");
  if (!s) {
    luaL_pushfail(L);
    lua_pushfstring(L, "no open store with id %d", (int)id);
    return 2;
  }
  LStore *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->id = id;
  u->s = s;
  u->raise_damage = 0;
  luaL_setmetatable(L, STORE_MT);
  return 1;
}

static int m_id(lua_State *L) {
  check(L);
  lua_pushinteger(L, (lua_Integer)((LStore *)lua_touserdata(L, 1))->id);
  return 1;
}

static int m_put(lua_State *L) {
  ce_store *s = check(L);
  int db = luaL_checkoption(L, 2, NULL, DBS);
  size_t kl, vl;
  const char *k = luaL_checklstring(L, 3, &kl), *v = luaL_checklstring(L, 4, &vl);
  ce_err e;
  if (ce_store_put(s, db, k, kl, v, vl, &e) != 0) return fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_get(lua_State *L) {
  ce_store *s = check(L);
  int db = luaL_checkoption(L, 2, NULL, DBS);
  size_t kl;
  const char *k = luaL_checklstring(L, 3, &kl);
  char *v;
  size_t vl;
  ce_err e;
  int rc = ce_store_get(s, db, k, kl, &v, &vl, &e);
  if (rc < 0) return fail(L, &e);
  if (rc == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, v, vl);
  free(v);
  return 1;
}

static int m_delete(lua_State *L) {
  ce_store *s = check(L);
  int db = luaL_checkoption(L, 2, NULL, DBS);
  size_t kl;
  const char *k = luaL_checklstring(L, 3, &kl);
  ce_err e;
  if (ce_store_del(s, db, k, kl, &e) != 0) return fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

typedef struct { lua_State *L; int fn; long limit, n; int err; } scan_ctx;

static int visit(const char *k, size_t kl, const char *v, size_t vl, void *ud) {
  scan_ctx *c = ud;
  lua_State *L = c->L;
  lua_pushvalue(L, c->fn);
  lua_pushlstring(L, k, kl);
  lua_pushlstring(L, v, vl);
  /* a raising callback would longjmp over the open transaction: catch it here */
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    c->err = 1;
    return 1;
  }
  int stop = lua_toboolean(L, -1);
  lua_pop(L, 1);
  c->n++;
  return stop || (c->limit > 0 && c->n >= c->limit);
}

/* st:scan(db, prefix, fn(key, value) -> stop?, { reverse, limit }) -> count */
static int m_scan(lua_State *L) {
  ce_store *s = check(L);
  int db = luaL_checkoption(L, 2, NULL, DBS);
  size_t pl;
  const char *prefix = luaL_checklstring(L, 3, &pl);
  luaL_checktype(L, 4, LUA_TFUNCTION);
  int reverse = 0;
  long limit = 0;
  if (lua_istable(L, 5)) {
    lua_getfield(L, 5, "reverse");
    reverse = lua_toboolean(L, -1);
    lua_getfield(L, 5, "limit");
    limit = (long)luaL_optinteger(L, -1, 0);
    lua_pop(L, 2);
  }
  scan_ctx c = {L, 4, limit, 0, 0};
  ce_err e;
  long n = ce_store_scan(s, db, prefix, pl, reverse, visit, &c, &e);
  if (c.err) return lua_error(L); /* the callback's error, now that the transaction is closed */
  if (n < 0) return fail(L, &e);
  lua_pushinteger(L, c.n);
  return 1;
}

static int m_start_writer(lua_State *L) {
  ce_store *s = check(L);
  int batch = 256, flush = 5;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "batch");
    batch = (int)luaL_optinteger(L, -1, 256);
    lua_getfield(L, 2, "flush_ms");
    flush = (int)luaL_optinteger(L, -1, 5);
    lua_pop(L, 2);
  }
  ce_err e;
  if (ce_store_writer_start(s, batch, flush, &e) != 0) return fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_enqueue(lua_State *L) {
  ce_store *s = check(L);
  int db = luaL_checkoption(L, 2, NULL, DBS);
  size_t kl, vl;
  const char *k = luaL_checklstring(L, 3, &kl), *v = luaL_checklstring(L, 4, &vl);
  lua_Integer slot = luaL_optinteger(L, 5, 0), tally = luaL_optinteger(L, 6, 0);
  luaL_argcheck(L, slot >= 0 && slot < CE_STORE_SLOTS, 5, "slot out of range");
  if (ce_store_enqueue(s, db, k, kl, v, vl, (int)slot, (unsigned)tally) != 0)
    return luaL_error(L, "store: out of memory queueing a record");
  return 0;
}

/* st:enqueue_record(key, record, score_line, slot, tally): a results
 * record and its score line, committed together (records, scores) */
static int m_enqueue_record(lua_State *L) {
  ce_store *s = check(L);
  size_t kl, rl, sl;
  const char *k = luaL_checklstring(L, 2, &kl);
  const char *rec = luaL_checklstring(L, 3, &rl);
  const char *line = luaL_checklstring(L, 4, &sl);
  lua_Integer slot = luaL_optinteger(L, 5, 0), tally = luaL_optinteger(L, 6, 0);
  luaL_argcheck(L, slot >= 0 && slot < CE_STORE_SLOTS, 5, "slot out of range");
  if (ce_store_enqueue_pair(s, CE_STORE_RECORDS, rec, rl, CE_STORE_SCORES, line, sl, k, kl, (int)slot,
                            (unsigned)tally) != 0)
    return luaL_error(L, "store: out of memory queueing a record");
  return 0;
}

/* st:dir() -> the folder the store was opened with */
static int m_dir(lua_State *L) {
  lua_pushstring(L, ce_store_dir(check(L)));
  return 1;
}

/* st:replayed() -> records a journal gave back at open, and a message when
 * a journal could not be replayed (nil otherwise) */
static int m_replayed(lua_State *L) {
  const char *msg;
  lua_pushinteger(L, (lua_Integer)ce_store_replayed(check(L), &msg));
  if (*msg) lua_pushstring(L, msg);
  else lua_pushnil(L);
  return 2;
}

static int m_sync(lua_State *L) {
  ce_store *s = check(L);
  ce_err e;
  if (ce_store_sync(s, &e) != 0) return fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_tally(lua_State *L) {
  ce_store *s = check(L);
  lua_Integer slot = luaL_optinteger(L, 2, 0);
  ce_store_tally t;
  ce_store_tally_get(s, (int)slot, &t);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)t.done);
  lua_setfield(L, -2, "done");
  lua_pushinteger(L, (lua_Integer)t.errors);
  lua_setfield(L, -2, "errors");
  lua_pushinteger(L, (lua_Integer)t.correct);
  lua_setfield(L, -2, "correct");
  lua_pushinteger(L, (lua_Integer)t.unparseable);
  lua_setfield(L, -2, "unparseable");
  return 1;
}

static int m_queued(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ce_store_queued(check(L)));
  return 1;
}

static int m_close(lua_State *L) {
  LStore *u = luaL_checkudata(L, 1, STORE_MT);
  if (u->s) {
    ce_shared_release(u->id);
    u->s = NULL;
  }
  return 0;
}

/* store.check(dir, { salvage = FILE }) -> report (JSON lines), intact,
 * how (nil, or how the check's process ended when it did not finish);
 * nil, message when there is nothing to check or the salvage file cannot
 * be written. The walk runs in a child process. */
static int st_check(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  const char *salvage = NULL;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "salvage");
    salvage = luaL_optstring(L, -1, NULL);
  }
  ce_buf rep;
  ce_buf_init(&rep);
  char how[200];
  ce_err e;
  int rc = ce_store_check_child(dir, salvage, &rep, how, sizeof how, &e);
  if (rc < 0) {
    ce_buf_free(&rep);
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushlstring(L, rep.data ? rep.data : "", rep.len);
  ce_buf_free(&rep);
  lua_pushboolean(L, rc == 1 && !how[0]);
  if (how[0]) lua_pushstring(L, how);
  else lua_pushnil(L);
  return 3;
}

static const luaL_Reg funcs[] = {{"open", st_open}, {"attach", st_attach}, {"check", st_check}, {NULL, NULL}};
static const luaL_Reg methods[] = {
  {"id", m_id},       {"put", m_put},       {"get", m_get},       {"delete", m_delete},
  {"scan", m_scan},   {"start_writer", m_start_writer}, {"enqueue", m_enqueue},
  {"enqueue_record", m_enqueue_record}, {"replayed", m_replayed}, {"dir", m_dir},
  {"sync", m_sync},   {"tally", m_tally},   {"queued", m_queued}, {"close", m_close},
  {NULL, NULL}
};

int luaopen_causal_eval_store_core(lua_State *L) {
  for (int i = 0; i < CE_STORE_NDB; i++) DBS[i] = ce_store_db_names[i];
  luaL_newmetatable(L, DAMAGE_MT);
  lua_pushcfunction(L, damage_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newmetatable(L, STORE_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, m_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, m_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_createtable(L, CE_STORE_NDB, 0);
  for (int i = 0; i < CE_STORE_NDB; i++) {
    lua_pushstring(L, ce_store_db_names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "DATABASES");
  lua_pushinteger(L, CE_TALLY_DONE);
  lua_setfield(L, -2, "DONE");
  lua_pushinteger(L, CE_TALLY_ERROR);
  lua_setfield(L, -2, "ERROR");
  lua_pushinteger(L, CE_TALLY_CORRECT);
  lua_setfield(L, -2, "CORRECT");
  lua_pushinteger(L, CE_TALLY_UNPARSEABLE);
  lua_setfield(L, -2, "UNPARSEABLE");
  return 1;
}
