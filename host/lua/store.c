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
 *   st:enqueue_record(key, record, score_line, slot, tally) -- records + scores, one transaction;
 *                          true, or false when the store has failed and keeps nothing more
 *   st:sync(); st:tally(slot); st:replayed(); st:dir()
 *   store.attach(st:id())                           -- in another thread's state
 *   store.check(dir, { salvage = "out.jsonl" })     -- report lines, status
 *   store.DATABASES                                 -- { "runs", "records", "meta", "scores" }
 *   store.score_line(rec)                           -- a record's score line (score_line.h), or nil
 *
 * PostgreSQL instead of LMDB (host/core/store/pg.h), the same methods:
 *   store.open{ path = DIR, url = "postgresql://...", read_url = REPLICA, writes = true,
 *               reads = "replica", pool_size =, max_overflow =, pool_timeout =, pool_recycle =,
 *               statement_timeout =, connect_timeout =, retry_for =, buffer_mb =, writers = }
 *   st:reader()            -- the same store, its reads sent to the replica
 *   store.attach(id, { reader = true })
 *   st:backend()           -- "lmdb" or "postgresql"
 *   st:trouble()           -- nil, or message and "retrying" / "failed"
 *   st:totals{ by = "model" | "model_day" | "run_model", since = "YYYY-MM-DD", runs = { id, ... } }
 *   st:pool()              -- { open, idle, peak_open, connects, waits, timeouts } of the server reads go to
 *   store.check_url(url)   -- true, or nil and what is wrong with it
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
#include "core/store/pg.h"
#include "core/store/store.h"
#include "core/util/json.h"
#include "core/util/shared.h"
#include "json_encode.h"
#include "modules.h"
#include "score_line.h"
#include "score_sums.h"
#include "udata.h"

#define STORE_MT "causal_eval.store"
#define DAMAGE_MT "causal_eval.store_damage"

typedef struct { uint64_t id; ce_store *s; int raise_damage, replica; } LStore;

static const char *DBS[CE_STORE_NDB + 1]; /* ce_store_db_names, NULL-ended for luaL_checkoption */

static ce_store *check(lua_State *L) {
  LStore *u = ce_checkudata(L, 1, STORE_MT);
  if (!u->s) luaL_error(L, "attempt to use a closed store");
  return u->s;
}

static int fail(lua_State *L, const ce_err *e) {
  LStore *u = ce_testudata(L, 1, STORE_MT);
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

static double num_field(lua_State *L, const char *name, double dflt, double min) {
  lua_getfield(L, 1, name);
  double v = luaL_optnumber(L, -1, dflt);
  lua_pop(L, 1);
  if (v < min) luaL_error(L, "store.open: %s must be >= %g", name, min);
  return v;
}

static const char *str_field(lua_State *L, const char *name) {
  lua_getfield(L, 1, name);
  const char *v = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_pop(L, 1); /* the table still holds the string */
  return v && *v ? v : NULL;
}

/* Everything checked before the store is opened: luaL_error must not skip its release. */
static int pg_config(lua_State *L, ce_store_pg_cfg *c) {
  memset(c, 0, sizeof *c);
  c->url = str_field(L, "url");
  if (!c->url) return 0;
  c->read_url = str_field(L, "read_url");
  c->pool_size = (int)num_field(L, "pool_size", 5, 1);
  c->max_overflow = (int)num_field(L, "max_overflow", 10, 0);
  c->pool_timeout = num_field(L, "pool_timeout", 30, 0);
  c->pool_recycle = num_field(L, "pool_recycle", 3600, -1);
  c->statement_timeout = num_field(L, "statement_timeout", 60, 0);
  c->connect_timeout = num_field(L, "connect_timeout", 10, 0);
  c->retry_for = num_field(L, "retry_for", 60, 0);
  c->buffer_bytes = (size_t)(num_field(L, "buffer_mb", 64, 1) * 1024 * 1024);
  c->writers = (int)num_field(L, "writers", 2, 1);
  if (c->writers > 8) luaL_error(L, "store.open: writers must be <= 8");
  lua_getfield(L, 1, "writes");
  c->writes = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
  lua_pop(L, 1);
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
  lua_getfield(L, 1, "reads");
  int replica = luaL_checkoption(L, -1, "primary", (const char *const[]){"primary", "replica", NULL});
  ce_store_pg_cfg pc;
  int pg = pg_config(L, &pc);
  LStore *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  u->id = 0;
  u->raise_damage = 0;
  u->replica = 0;
  luaL_setmetatable(L, STORE_MT);
  ce_err e;
  ce_store *s = pg ? ce_store_open_pg(path, &pc, &e) : ce_store_open(path, (size_t)map, sync, &e);
  if (!s) return fail(L, &e);
  u->raise_damage = raise_damage;
  u->replica = replica;
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
  int replica = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "reader");
    replica = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
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
  u->replica = replica;
  luaL_setmetatable(L, STORE_MT);
  return 1;
}

/* st:reader() -> the same store (another reference), reading from the replica */
static int m_reader(lua_State *L) {
  check(L);
  LStore *me = lua_touserdata(L, 1);
  LStore *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  u->id = 0;
  u->raise_damage = me->raise_damage;
  u->replica = 1;
  luaL_setmetatable(L, STORE_MT);
  ce_store *s = ce_shared_acquire(me->id, "store");
  if (!s) return luaL_error(L, "store: the store was closed");
  u->id = me->id;
  u->s = s;
  return 1;
}

static int where(lua_State *L) {
  LStore *u = ce_checkudata(L, 1, STORE_MT);
  return u->replica ? CE_STORE_REPLICA : CE_STORE_PRIMARY;
}

/* A write the server's tables could not hold (not UTF-8 text): nil, message */
static int storable(ce_store *s, int db, const char *k, size_t kl, const char *v, size_t vl, ce_err *e) {
  return !ce_store_pg(s) || ce_pg_check_item(db, k, kl, v, vl, e) == 0;
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
  if (!storable(s, db, k, kl, v, vl, &e) || ce_store_put(s, db, k, kl, v, vl, &e) != 0) return fail(L, &e);
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
  int rc = ce_store_get_at(s, where(L), db, k, kl, &v, &vl, &e);
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

int ce_lua_scan_call(lua_State *L, int fn, const char *k, size_t kl, const char *v, size_t vl, int *stop) {
  lua_pushvalue(L, fn);
  lua_pushlstring(L, k, kl);
  lua_pushlstring(L, v, vl);
  /* a raising callback would longjmp over the open transaction: catch it here */
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) return 1;
  *stop = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return 0;
}

static int visit(const char *k, size_t kl, const char *v, size_t vl, void *ud) {
  scan_ctx *c = ud;
  int stop;
  if (ce_lua_scan_call(c->L, c->fn, k, kl, v, vl, &stop)) {
    c->err = 1;
    return 1;
  }
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
  long n = ce_store_scan_at(s, where(L), db, prefix, pl, reverse, visit, &c, &e);
  if (c.err) return lua_error(L); /* the callback's error, now that the transaction is closed */
  if (n < 0) return fail(L, &e);
  lua_pushinteger(L, c.n);
  return 1;
}

/* st:score_sums(db, prefix, log_step, zero, merge, visit) -> count: score_sums.c */
static int m_score_sums(lua_State *L) {
  ce_store *s = check(L);
  int db = luaL_checkoption(L, 2, NULL, DBS);
  ce_err e;
  int r = ce_lua_score_sums(L, s, where(L), db, &e);
  return r < 0 ? fail(L, &e) : r;
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
  ce_err e;
  if (!storable(s, db, k, kl, v, vl, &e)) return luaL_error(L, "%s", e.msg);
  int rc = ce_store_enqueue(s, db, k, kl, v, vl, (int)slot, (unsigned)tally);
  if (rc < 0) return luaL_error(L, "store: out of memory queueing a record");
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* The text at idx, or a table's JSON (json.encode's) written into out:
 * encoded here, a record goes to the store's queue without a Lua string
 * made, copied and collected for each answer. */
static const char *text_or_json(lua_State *L, int idx, ce_buf *out, size_t *len) {
  if (lua_type(L, idx) != LUA_TTABLE) return luaL_checklstring(L, idx, len);
  ce_lua_json_encode_into(L, idx, out);
  if (out->oom) luaL_error(L, "store: out of memory encoding a record");
  *len = out->len;
  return out->data ? out->data : "";
}

/* the state's buffers for a record and its score line encoded here */
static char RECORD_BUF, LINE_BUF; /* their addresses are the registry keys */

/* st:enqueue_record(key, record, score_line, slot, tally): a results
 * record and its score line, committed together (records, scores); each
 * is text, or a table to store as json.encode would write it */
static int m_enqueue_record(lua_State *L) {
  ce_store *s = check(L);
  size_t kl, rl, sl;
  const char *k = luaL_checklstring(L, 2, &kl);
  ce_buf *encoded[2] = {ce_lua_json_buffer(L, &RECORD_BUF), ce_lua_json_buffer(L, &LINE_BUF)};
  const char *rec = text_or_json(L, 3, encoded[0], &rl);
  const char *line = text_or_json(L, 4, encoded[1], &sl);
  lua_Integer slot = luaL_optinteger(L, 5, 0), tally = luaL_optinteger(L, 6, 0);
  luaL_argcheck(L, slot >= 0 && slot < CE_STORE_SLOTS, 5, "slot out of range");
  ce_err e;
  if (!storable(s, CE_STORE_RECORDS, k, kl, rec, rl, &e) || !storable(s, CE_STORE_SCORES, k, kl, line, sl, &e))
    return luaL_error(L, "%s", e.msg);
  int rc = ce_store_enqueue_pair(s, CE_STORE_RECORDS, rec, rl, CE_STORE_SCORES, line, sl, k, kl, (int)slot,
                                 (unsigned)tally);
  for (int i = 0; i < 2; i++) ce_lua_json_buffer_release(encoded[i]);
  if (rc < 0) return luaL_error(L, "store: out of memory queueing a record");
  lua_pushboolean(L, rc == 0);
  return 1;
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

static int m_backend(lua_State *L) {
  lua_pushstring(L, ce_store_backend(check(L)));
  return 1;
}

/* st:trouble() -> nil when all is well; message, "retrying" | "failed" */
static int m_trouble(lua_State *L) {
  char m[700];
  int state = ce_store_trouble(check(L), m, sizeof m);
  if (!state) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, m);
  lua_pushstring(L, state == 1 ? "retrying" : "failed");
  return 2;
}

typedef struct { lua_State *L; int out; lua_Integer n; } totals_ctx;

static void set_int(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static int total_row(const ce_pg_total *t, void *ud) {
  totals_ctx *c = ud;
  lua_State *L = c->L;
  lua_createtable(L, 0, 8);
  lua_pushstring(L, t->model);
  lua_setfield(L, -2, "model");
  if (t->day) {
    lua_pushstring(L, t->day);
    lua_setfield(L, -2, "day");
  }
  if (t->run) {
    lua_pushstring(L, t->run);
    lua_setfield(L, -2, "run");
  }
  set_int(L, "answers", t->answers);
  set_int(L, "counted", t->counted);
  set_int(L, "correct", t->correct);
  set_int(L, "errors", t->errors);
  set_int(L, "runs", t->runs);
  lua_rawseti(L, c->out, ++c->n);
  return 0;
}

/* st:totals{ by =, since =, runs = } -> list of { model, day?, run?, answers,
 * counted, correct, errors, runs } (PostgreSQL: its daily totals) */
static int m_totals(lua_State *L) {
  ce_store *s = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  struct ce_pg *pg = ce_store_pg(s);
  if (!pg) return luaL_error(L, "store: totals are kept by the PostgreSQL store only");
  lua_getfield(L, 2, "by");
  static const char *const BY[] = {"model", "model_day", "run_model", NULL};
  const char *by = BY[luaL_checkoption(L, -1, "model", BY)];
  lua_getfield(L, 2, "since");
  const char *since = luaL_optstring(L, -1, NULL);
  lua_getfield(L, 2, "runs");
  int nruns = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
  const char **runs = nruns ? lua_newuserdatauv(L, (size_t)nruns * sizeof *runs, 0) : NULL;
  for (int i = 0; i < nruns; i++) {
    lua_rawgeti(L, -1 - (runs ? 1 : 0), i + 1);
    runs[i] = luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the runs table keeps it */
  }
  lua_newtable(L);
  totals_ctx c = {L, lua_gettop(L), 0};
  ce_err e;
  long n = ce_pg_totals(pg, where(L) == CE_STORE_REPLICA ? CE_PG_REPLICA : CE_PG_PRIMARY, by, since, runs, nruns,
                        total_row, &c, &e);
  if (n < 0) return fail(L, &e);
  return 1;
}

static int m_pool(lua_State *L) {
  ce_store *s = check(L);
  struct ce_pg *pg = ce_store_pg(s);
  if (!pg) {
    lua_pushnil(L);
    return 1;
  }
  ce_pg_pool_stats st;
  ce_pg_stats(pg, where(L) == CE_STORE_REPLICA ? CE_PG_REPLICA : CE_PG_PRIMARY, &st);
  lua_createtable(L, 0, 6);
  set_int(L, "open", st.open);
  set_int(L, "idle", st.idle);
  set_int(L, "peak_open", st.peak_open);
  set_int(L, "connects", (int64_t)st.connects);
  set_int(L, "waits", (int64_t)st.waits);
  set_int(L, "timeouts", (int64_t)st.timeouts);
  lua_pushstring(L, ce_pg_name(pg, where(L) == CE_STORE_REPLICA ? CE_PG_REPLICA : CE_PG_PRIMARY));
  lua_setfield(L, -2, "server");
  return 1;
}

/* store.check_url(url) -> true | nil, message */
static int st_check_url(lua_State *L) {
  const char *url = luaL_checkstring(L, 1);
  ce_err e;
  if (ce_pg_check_url(url, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int m_close(lua_State *L) {
  LStore *u = ce_checkudata(L, 1, STORE_MT);
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

static const luaL_Reg funcs[] = {{"open", st_open}, {"attach", st_attach}, {"check", st_check},
                                 {"check_url", st_check_url}, {"score_line", ce_lua_score_line}, {NULL, NULL}};
static const luaL_Reg methods[] = {
  {"id", m_id},       {"put", m_put},       {"get", m_get},       {"delete", m_delete},
  {"scan", m_scan},   {"score_sums", m_score_sums}, {"start_writer", m_start_writer}, {"enqueue", m_enqueue},
  {"enqueue_record", m_enqueue_record}, {"replayed", m_replayed}, {"dir", m_dir},
  {"sync", m_sync},   {"tally", m_tally},   {"queued", m_queued}, {"close", m_close},
  {"reader", m_reader}, {"backend", m_backend}, {"trouble", m_trouble}, {"totals", m_totals}, {"pool", m_pool},
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
