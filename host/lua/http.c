/* SPDX-License-Identifier: MIT */
/* causal_eval.http: the HTTP engine (host/core/http) for one thread.
 *
 *   local c = http.client{ max_connections = 64, max_body = 4 << 20 }
 *   c:submit{ tag = 7, url = u, headers = { "Content-Type: application/json" }, body = s,
 *             timeout = 60, connect_timeout = 10 }
 *   for _, r in ipairs(c:poll(0.05)) do ... r.tag, r.status, r.body, r.error ... end
 *   http.request{ url = u }    -- one blocking request, for tools and tests
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>

#include "core/io/http.h"
#include "modules.h"
#include "udata.h"

#define CLIENT_MT "causal_eval.http_client"
#define POLL_MAX 256

/* out: poll's results, allocated on the first poll and kept. A fresh
 * userdata of POLL_MAX results (some 80 KB) per poll was garbage the
 * collector had to chase: with 1,000 coroutines alive (causal_eval.async)
 * its marking took a fifth of the CPU at 1,000 requests/s. */
typedef struct {
  ce_http *h;
  ce_http_result *out;
} LClient;

static LClient *check_lclient(lua_State *L) {
  LClient *u = ce_checkudata(L, 1, CLIENT_MT);
  if (!u->h) luaL_error(L, "attempt to use a closed http client");
  return u;
}

static ce_http *check_client(lua_State *L) { return check_lclient(L)->h; }

/* The setting a too-large reply's message names unless the caller names
 * another: the program's bound on replies. */
#define MAX_BODY_SETTING "run.max_response_mb"

static int new_client(lua_State *L, int max_connections, size_t max_body, const char *what) {
  LClient *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->h = NULL;
  u->out = NULL;
  luaL_setmetatable(L, CLIENT_MT);
  ce_err e;
  u->h = ce_http_new(max_connections, &e);
  if (!u->h) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  ce_http_set_max_body(u->h, max_body, what);
  return 1;
}

/* http.client{ max_connections = 16, max_body = bytes (default 4 MiB),
 *              max_body_setting = "run.max_response_mb" } */
static int http_client(lua_State *L) {
  lua_Integer maxc = 16, max_body = 0;
  const char *what = MAX_BODY_SETTING;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "max_connections") != LUA_TNIL) maxc = luaL_checkinteger(L, -1);
    if (lua_getfield(L, 1, "max_body") != LUA_TNIL) {
      max_body = luaL_checkinteger(L, -1);
      luaL_argcheck(L, max_body >= 1, 1, "max_body must be a positive number of bytes");
    }
    if (lua_getfield(L, 1, "max_body_setting") != LUA_TNIL) what = luaL_checkstring(L, -1);
    lua_pop(L, 3); /* the table keeps the string alive */
  }
  luaL_argcheck(L, maxc >= 1 && maxc <= 65536, 1, "max_connections out of range");
  return new_client(L, (int)maxc, (size_t)max_body, what);
}

/* Reads a request table at idx; headers are kept alive by the table itself. */
static void read_request(lua_State *L, int idx, ce_http_req *r, const char **hdrs, int maxh) {
  memset(r, 0, sizeof *r);
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, "url") != LUA_TSTRING) luaL_error(L, "http request: 'url' must be a string");
  r->url = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "method") != LUA_TNIL) r->method = luaL_checkstring(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "body") != LUA_TNIL) {
    size_t n;
    r->body = luaL_checklstring(L, -1, &n);
    r->body_len = n;
  }
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "tag") != LUA_TNIL) r->tag = (uint64_t)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "timeout") != LUA_TNIL) r->timeout_ms = (long)(luaL_checknumber(L, -1) * 1000);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "connect_timeout") != LUA_TNIL) r->connect_timeout_ms = (long)(luaL_checknumber(L, -1) * 1000);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "headers") == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, -1);
    if (n > maxh) luaL_error(L, "http request: more than %d headers", maxh);
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_rawgeti(L, -1, i) != LUA_TSTRING) luaL_error(L, "http request: headers[%d] must be a string", (int)i);
      hdrs[i - 1] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    r->headers = hdrs;
    r->nheaders = (int)n;
  }
  lua_pop(L, 1);
}

static int c_submit(lua_State *L) {
  ce_http *h = check_client(L);
  const char *hdrs[64];
  ce_http_req r;
  read_request(L, 2, &r, hdrs, 64);
  ce_err e;
  if (ce_http_submit(h, &r, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static void push_result(lua_State *L, const ce_http_result *r) {
  lua_createtable(L, 0, 14);
  lua_pushinteger(L, (lua_Integer)r->tag);
  lua_setfield(L, -2, "tag");
  lua_pushinteger(L, r->status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, r->body ? r->body : "", r->body_len);
  lua_setfield(L, -2, "body");
  if (r->error != CE_HTTP_OK) {
    lua_pushstring(L, ce_http_error_name(r->error));
    lua_setfield(L, -2, "error");
    lua_pushstring(L, r->errmsg);
    lua_setfield(L, -2, "message");
  }
  if (r->retry_after >= 0) { lua_pushnumber(L, r->retry_after); lua_setfield(L, -2, "retry_after"); }
  if (r->remaining_requests >= 0) { lua_pushinteger(L, r->remaining_requests); lua_setfield(L, -2, "remaining_requests"); }
  if (r->remaining_tokens >= 0) { lua_pushinteger(L, r->remaining_tokens); lua_setfield(L, -2, "remaining_tokens"); }
  if (r->reset_requests >= 0) { lua_pushnumber(L, r->reset_requests); lua_setfield(L, -2, "reset_requests"); }
  if (r->reset_tokens >= 0) { lua_pushnumber(L, r->reset_tokens); lua_setfield(L, -2, "reset_tokens"); }
  lua_pushnumber(L, r->total_time);
  lua_setfield(L, -2, "time");
  lua_pushnumber(L, r->connect_time);
  lua_setfield(L, -2, "connect_time");
  lua_pushinteger(L, r->http_version);
  lua_setfield(L, -2, "http_version");
  lua_pushinteger(L, (lua_Integer)r->bytes_sent);
  lua_setfield(L, -2, "bytes_sent");
  lua_pushinteger(L, (lua_Integer)r->bytes_received);
  lua_setfield(L, -2, "bytes_received");
}

/* c:poll([timeout_s]) -> list of results (empty when nothing finished) */
static int c_poll(lua_State *L) {
  LClient *u = check_lclient(L);
  lua_Number t = luaL_optnumber(L, 2, 0);
  int ms = t <= 0 ? 0 : (int)(t * 1000 + 0.5);
  if (!u->out && !(u->out = malloc(sizeof(ce_http_result) * POLL_MAX))) return luaL_error(L, "http poll: out of memory");
  ce_http_result *out = u->out;
  ce_err e;
  int n = ce_http_poll(u->h, ms, out, POLL_MAX, &e);
  if (n < 0) return luaL_error(L, "http poll: %s", e.msg);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    push_result(L, &out[i]);
    ce_http_result_free(&out[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int c_inflight(lua_State *L) {
  lua_pushinteger(L, ce_http_inflight(check_client(L)));
  return 1;
}

static int c_close(lua_State *L) {
  LClient *u = ce_checkudata(L, 1, CLIENT_MT);
  ce_http_free(u->h);
  u->h = NULL;
  free(u->out);
  u->out = NULL;
  return 0;
}

/* http.request{...} -> result table: one blocking request */
static int http_request(lua_State *L) {
  const char *hdrs[64];
  ce_http_req r;
  read_request(L, 1, &r, hdrs, 64);
  if (new_client(L, 1, 0, MAX_BODY_SETTING) != 1) return 2;
  LClient *u = lua_touserdata(L, -1);
  ce_err e;
  if (ce_http_submit(u->h, &r, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  ce_http_result res;
  int n;
  do n = ce_http_poll(u->h, 100, &res, 1, &e);
  while (n == 0);
  if (n < 0) return luaL_error(L, "http request: %s", e.msg);
  push_result(L, &res);
  ce_http_result_free(&res);
  ce_http_free(u->h);
  u->h = NULL;
  return 1;
}

/* http.send_mail{ url = "smtp://127.0.0.1:25", from = "a@b", to = {"c@d"}, message = "...",
 *                 timeout = 10, user = , password = } -> true | nil, message */
static int http_send_mail(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "url");
  const char *url = luaL_checkstring(L, -1);
  lua_getfield(L, 1, "from");
  const char *from = luaL_checkstring(L, -1);
  lua_getfield(L, 1, "message");
  size_t len;
  const char *msg = luaL_checklstring(L, -1, &len);
  lua_getfield(L, 1, "timeout");
  long timeout_ms = (long)(luaL_optnumber(L, -1, 10) * 1000);
  lua_getfield(L, 1, "user");
  const char *user = luaL_optstring(L, -1, NULL);
  lua_getfield(L, 1, "password");
  const char *password = luaL_optstring(L, -1, NULL);
  lua_getfield(L, 1, "to");
  luaL_argcheck(L, lua_istable(L, -1), 1, "to: a list of addresses");
  int n = (int)luaL_len(L, -1);
  luaL_argcheck(L, n >= 1 && n <= 64, 1, "to: 1 to 64 addresses");
  const char *to[64];
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, -1, i + 1);
    to[i] = luaL_checkstring(L, -1);
    lua_pop(L, 1);
  }
  ce_err e;
  if (ce_http_send_mail(url, from, to, n, msg, len, timeout_ms, user, password, &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"client", http_client}, {"request", http_request}, {"send_mail", http_send_mail}, {NULL, NULL}};
static const luaL_Reg methods[] = {
  {"submit", c_submit}, {"poll", c_poll}, {"inflight", c_inflight}, {"close", c_close}, {NULL, NULL}
};

int luaopen_causal_eval_http(lua_State *L) {
  ce_err e;
  if (ce_http_global_init(&e) != 0) return luaL_error(L, "%s", e.msg);
  luaL_newmetatable(L, CLIENT_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, c_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, c_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
