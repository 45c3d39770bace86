/* SPDX-License-Identifier: MIT */
/* causal_eval.server_core: the API server's core (host/core/serve), shared
 * between the main thread that starts it and the worker threads that answer
 * its requests, by id like causal_eval.shared objects.
 *
 *   local srv = assert(server_core.start{ bind = "127.0.0.1", port = 8000, queue = 256,
 *     max_body = 1 << 20, max_header = 16384, max_connections = 1024, client_timeout = 30,
 *     max_json_depth = 32, gzip_min = 1024, threads = 1, metrics_public = false,
 *     routes = { "/evaluate/single", "/runs/:id" } })
 *   srv:port(); srv:id(); srv:stats(); srv:shutdown(10)   -- grace seconds
 *   local w = assert(server_core.attach(id))              -- in a worker's state
 *   for _, r in ipairs(w:take(16, 0.1) or {}) do           -- nil once shut down
 *     -- r = { id, method, path, query = {k = v}, headers = {name = v}, body, remote }
 *     w:respond(r.id, 200, { ["Content-Type"] = "application/json" }, body)
 *   end
 *   server_core.mtime(path)   -- a file's modification time (api.reload), or nil
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/serve/server.h"
#include "core/util/shared.h"
#include "modules.h"
#include "udata.h"

#define SERVER_MT "causal_eval.server"
#define TAKE_MAX 256
#define MAX_ROUTES 64
#define MAX_HEADERS 64

typedef struct {
  uint64_t id;
  ce_server *s; /* NULL: closed */
} LServer;

static ce_server *check(lua_State *L) {
  LServer *u = ce_checkudata(L, 1, SERVER_MT);
  if (!u->s) luaL_error(L, "attempt to use a closed server");
  return u->s;
}

static void destroy(void *s) { ce_server_free(s); }

static lua_Integer opt_int(lua_State *L, int t, const char *key, lua_Integer def, lua_Integer min, lua_Integer max) {
  lua_Integer v = def;
  if (lua_getfield(L, t, key) != LUA_TNIL) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "server_core.start: '%s' must be an integer", key);
    v = lua_tointeger(L, -1);
    if (v < min || v > max) luaL_error(L, "server_core.start: '%s' must be from %I to %I", key, min, max);
  }
  lua_pop(L, 1);
  return v;
}

/* server_core.start{...} -> server | nil, message */
static int s_start(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  ce_server_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  const char *routes[MAX_ROUTES];
  lua_getfield(L, 1, "bind");
  cfg.bind = luaL_optstring(L, -1, "127.0.0.1"); /* the table keeps it alive */
  lua_pop(L, 1);
  cfg.port = (int)opt_int(L, 1, "port", 8000, 0, 65535);
  cfg.queue_max = (int)opt_int(L, 1, "queue", 256, 1, 1 << 20);
  cfg.max_body = (size_t)opt_int(L, 1, "max_body", 1 << 20, 1, (lua_Integer)1 << 32);
  cfg.max_header = (size_t)opt_int(L, 1, "max_header", 16384, 1024, 1 << 20);
  cfg.max_connections = (unsigned)opt_int(L, 1, "max_connections", 1024, 1, 1 << 18);
  cfg.client_timeout_s = (unsigned)opt_int(L, 1, "client_timeout", 30, 0, 86400);
  cfg.max_json_depth = (unsigned)opt_int(L, 1, "max_json_depth", 32, 1, 100000);
  cfg.gzip_min = (size_t)opt_int(L, 1, "gzip_min", 1024, 0, (lua_Integer)1 << 32);
  cfg.threads = (unsigned)opt_int(L, 1, "threads", 1, 1, 64);
  lua_getfield(L, 1, "metrics_public");
  cfg.metrics_public = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "routes") != LUA_TNIL) {
    luaL_argcheck(L, lua_istable(L, -1), 1, "routes must be a list of path templates");
    lua_Integer n = luaL_len(L, -1);
    luaL_argcheck(L, n <= MAX_ROUTES, 1, "too many routes");
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "server_core.start: routes[%I] must be a string", i);
      routes[cfg.nroutes++] = lua_tostring(L, -1);
      lua_pop(L, 1); /* the routes table keeps the string */
    }
  }
  cfg.routes = routes;
  LServer *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  u->id = 0;
  luaL_setmetatable(L, SERVER_MT);
  ce_err e;
  ce_server *s = ce_server_start(&cfg, &e);
  if (!s) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  u->id = ce_shared_register(s, "server", destroy);
  if (!u->id) {
    ce_server_free(s);
    return luaL_error(L, "server: out of memory");
  }
  u->s = s;
  return 1;
}

/* server_core.attach(id) -> server | nil, message */
static int s_attach(lua_State *L) {
  uint64_t id = (uint64_t)luaL_checkinteger(L, 1);
  LServer *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  u->id = 0;
  luaL_setmetatable(L, SERVER_MT);
  ce_server *s = ce_shared_acquire(id, "server");
  if (!s) {
    luaL_pushfail(L);
    lua_pushfstring(L, "no running server with id %I", (lua_Integer)id);
    return 2;
  }
  u->id = id;
  u->s = s;
  return 1;
}

/* server_core.mtime(path) -> seconds (with nanoseconds) | nil, message */
static int s_mtime(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) return luaL_fileresult(L, 0, path);
  lua_pushnumber(L, (lua_Number)st.st_mtim.tv_sec + (lua_Number)st.st_mtim.tv_nsec * 1e-9);
  return 1;
}

static int m_id(lua_State *L) {
  check(L);
  lua_pushinteger(L, (lua_Integer)((LServer *)lua_touserdata(L, 1))->id);
  return 1;
}

static int m_port(lua_State *L) {
  lua_pushinteger(L, ce_server_port(check(L)));
  return 1;
}

static void push_pairs(lua_State *L, const ce_header *h, int n) {
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    /* a name given twice: its values joined, as HTTP reads a repeated header */
    if (lua_getfield(L, -1, h[i].name) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushstring(L, h[i].value);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, h[i].value);
    }
    lua_setfield(L, -2, h[i].name);
  }
}

/* srv:take(max, timeout_seconds) -> list of requests (maybe empty), or nil once shut down */
static int m_take(lua_State *L) {
  ce_server *s = check(L);
  lua_Integer max = luaL_optinteger(L, 2, 16);
  lua_Number timeout = luaL_optnumber(L, 3, 0);
  luaL_argcheck(L, max >= 1 && max <= TAKE_MAX, 2, "between 1 and 256 requests");
  luaL_argcheck(L, timeout >= 0 && timeout <= 3600, 3, "a timeout from 0 to 3600 seconds");
  ce_server_req *reqs[TAKE_MAX];
  lua_checkstack(L, 8);
  int n = ce_server_take(s, reqs, (int)max, (int)(timeout * 1000));
  if (n < 0) {
    lua_pushnil(L);
    return 1;
  }
  /* the requests are ours until answered: copying them cannot race with the daemon */
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    const ce_server_req *r = reqs[i];
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, (lua_Integer)r->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, r->method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, r->path);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, r->remote);
    lua_setfield(L, -2, "remote");
    lua_pushlstring(L, r->body, r->body_len);
    lua_setfield(L, -2, "body");
    push_pairs(L, r->headers, r->nheaders);
    lua_setfield(L, -2, "headers");
    push_pairs(L, r->query, r->nquery);
    lua_setfield(L, -2, "query");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* srv:respond(id, status, headers, body) -> true, or false when the request
 * was answered already (the shutdown's grace time ran out) */
static int m_respond(lua_State *L) {
  ce_server *s = check(L);
  lua_Integer id = luaL_checkinteger(L, 2);
  lua_Integer status = luaL_checkinteger(L, 3);
  luaL_argcheck(L, status >= 100 && status <= 599, 3, "an HTTP status from 100 to 599");
  size_t len = 0;
  const char *body = luaL_optlstring(L, 5, "", &len);
  ce_header h[MAX_HEADERS];
  int nh = 0;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 4)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "respond: headers must map names to strings");
      if (nh == MAX_HEADERS) return luaL_error(L, "respond: more than %d headers", MAX_HEADERS);
      const char *name = lua_tostring(L, -2), *value = lua_tostring(L, -1);
      /* a line break in a header would let a value write headers of its own */
      if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return luaL_error(L, "respond: header '%s' contains a line break or a colon", name);
      h[nh].name = name;
      h[nh].value = value; /* the table keeps both alive */
      nh++;
      lua_pop(L, 1);
    }
  }
  lua_pushboolean(L, ce_server_respond(s, (uint64_t)id, (int)status, h, nh, body, len) == 0);
  return 1;
}

/* srv:shutdown(grace_seconds): stop accepting, let requests finish, stop */
static int m_shutdown(lua_State *L) {
  ce_server *s = check(L);
  lua_Number grace = luaL_optnumber(L, 2, 10);
  luaL_argcheck(L, grace >= 0 && grace <= 86400, 2, "a grace time from 0 to 86400 seconds");
  ce_server_shutdown(s, (int)(grace * 1000));
  return 0;
}

static int m_stats(lua_State *L) {
  ce_server_stats st;
  ce_server_get_stats(check(L), &st);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)st.queued);
  lua_setfield(L, -2, "queued");
  lua_pushinteger(L, (lua_Integer)st.taken);
  lua_setfield(L, -2, "taken");
  lua_pushinteger(L, (lua_Integer)st.live);
  lua_setfield(L, -2, "live");
  lua_pushinteger(L, (lua_Integer)st.answered);
  lua_setfield(L, -2, "answered");
  lua_pushinteger(L, (lua_Integer)st.rejected);
  lua_setfield(L, -2, "rejected");
  lua_pushboolean(L, st.closing);
  lua_setfield(L, -2, "closing");
  return 1;
}

/* __gc, __close and :close(): this state lets go; the last one frees it */
static int m_close(lua_State *L) {
  LServer *u = ce_checkudata(L, 1, SERVER_MT);
  if (u->s) {
    ce_shared_release(u->id);
    u->s = NULL;
  }
  return 0;
}

static int m_tostring(lua_State *L) {
  LServer *u = ce_checkudata(L, 1, SERVER_MT);
  if (u->s) lua_pushfstring(L, "causal_eval.server (port %d)", ce_server_port(u->s));
  else lua_pushliteral(L, "causal_eval.server (closed)");
  return 1;
}

static const luaL_Reg funcs[] = {{"start", s_start}, {"attach", s_attach}, {"mtime", s_mtime}, {NULL, NULL}};
static const luaL_Reg methods[] = {{"id", m_id},           {"port", m_port},   {"take", m_take},
                                   {"respond", m_respond}, {"shutdown", m_shutdown}, {"stats", m_stats},
                                   {"close", m_close},     {NULL, NULL}};
static const luaL_Reg metameths[] = {{"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring}, {NULL, NULL}};

int luaopen_causal_eval_server_core(lua_State *L) {
  luaL_newmetatable(L, SERVER_MT);
  luaL_setfuncs(L, metameths, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = methods */
  lua_pop(L, 1);                  /* mt */
  luaL_newlib(L, funcs);
  return 1;
}
