/* SPDX-License-Identifier: MIT */
/* causal_eval.queue_core: a Redis connection for the work queue
 * (host/core/queue/redis_conn), one per thread; the queue's logic (streams,
 * consumer groups, scripts) is Lua's, in causal_eval.queue.
 *
 *   local c = assert(queue_core.connect("redis://127.0.0.1:6379/0", 1.0))
 *   c:call("XADD", key, "*", "t", 7)       -- reply | nil, message, "io"|"redis"
 *   c:wait(1.0, "XREADGROUP", ...)         -- the same, waiting up to 1 s more for the reply
 *   c:pipeline{ {"HGET", k, f}, {"XACK", ...} }   -- { reply, ... } | nil, message, "io"
 *   c:where(); c:close()                   -- also __gc and __close
 *   queue_core.check_url(url)              -- true | nil, message
 *   queue_core.node()                      -- this machine's name, for consumer names
 *
 * Replies: a status or string is a string, an integer an integer, a nil
 * reply false, an array a table; an error reply fails the call (call, wait)
 * or is { err = message } (pipeline, and inside arrays).
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/queue/redis_conn.h"
#include "modules.h"
#include "udata.h"

#define CONN_MT "causal_eval.redis_conn"
#define MAX_ARGS 4096
#define MAX_PIPELINE 4096

typedef struct { ce_rconn *c; } LConn; /* c == NULL: closed */

static ce_rconn *check(lua_State *L) {
  LConn *u = ce_checkudata(L, 1, CONN_MT);
  if (!u->c) luaL_error(L, "attempt to use a closed redis connection");
  return u->c;
}

static int fail(lua_State *L, const ce_err *e, const char *kind) {
  luaL_pushfail(L);
  lua_pushstring(L, e->msg);
  lua_pushstring(L, kind);
  return 3;
}

static int q_connect(lua_State *L) {
  const char *url = luaL_checkstring(L, 1);
  double timeout = luaL_optnumber(L, 2, 1.0);
  LConn *u = lua_newuserdatauv(L, sizeof *u, 0); /* created closed: __gc never sees half a connection */
  u->c = NULL;
  luaL_setmetatable(L, CONN_MT);
  ce_err e;
  ce_err_clear(&e);
  u->c = ce_rconn_open(url, timeout, &e);
  if (!u->c) return fail(L, &e, e.code == CE_RCONN_EURL ? "url" : e.code == CE_RCONN_EAUTH ? "auth" : "io");
  return 1;
}

static int q_check_url(lua_State *L) {
  ce_err e;
  if (ce_rconn_check_url(luaL_checkstring(L, 1), &e) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int q_node(lua_State *L) {
  char name[256];
  if (gethostname(name, sizeof name) != 0) strcpy(name, "localhost");
  name[sizeof name - 1] = '\0';
  lua_pushstring(L, name);
  return 1;
}

/* Replies of the queue's commands nest 4 deep at most; a deeper one is
 * refused before anything is pushed (a raise would leak the replies). */
static int too_deep(const redisReply *r, int depth) {
  if (r->type != REDIS_REPLY_ARRAY) return 0;
  if (depth > 16) return 1;
  for (size_t i = 0; i < r->elements; i++)
    if (too_deep(r->element[i], depth + 1)) return 1;
  return 0;
}

static void push_reply(lua_State *L, const redisReply *r, int depth) {
  lua_checkstack(L, 3);
  switch (r->type) {
  case REDIS_REPLY_STRING:
  case REDIS_REPLY_STATUS: lua_pushlstring(L, r->str, r->len); break;
  case REDIS_REPLY_INTEGER: lua_pushinteger(L, (lua_Integer)r->integer); break;
  case REDIS_REPLY_ARRAY:
    lua_createtable(L, (int)r->elements, 0);
    for (size_t i = 0; i < r->elements; i++) {
      push_reply(L, r->element[i], depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  case REDIS_REPLY_ERROR:
    lua_createtable(L, 0, 1);
    lua_pushlstring(L, r->str, r->len);
    lua_setfield(L, -2, "err");
    break;
  default: lua_pushboolean(L, 0); break; /* nil */
  }
}

/* Pops the replies and pushes the first (a call) or all of them (a pipeline). */
static int run(lua_State *L, ce_rconn *c, int n, const int *argcs, const char *const *const *argvs,
               const size_t *const *lens, double wait, int as_list) {
  redisReply **replies = calloc((size_t)n, sizeof *replies);
  if (!replies) return luaL_error(L, "redis: out of memory");
  ce_err e;
  if (ce_rconn_exec(c, n, argcs, argvs, lens, wait, replies, &e) != 0) {
    free(replies);
    return fail(L, &e, "io");
  }
  int nret = 1, deep = 0;
  for (int i = 0; i < n; i++) deep |= too_deep(replies[i], 0);
  if (deep) {
    luaL_pushfail(L);
    lua_pushliteral(L, "redis: a reply nested deeper than 16 arrays");
    lua_pushliteral(L, "redis");
    nret = 3;
  } else if (!as_list && replies[0]->type == REDIS_REPLY_ERROR) {
    luaL_pushfail(L);
    lua_pushlstring(L, replies[0]->str, replies[0]->len);
    lua_pushliteral(L, "redis");
    nret = 3;
  } else if (!as_list) {
    push_reply(L, replies[0], 0);
  } else {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
      push_reply(L, replies[i], 0);
      lua_rawseti(L, -2, i + 1);
    }
  }
  for (int i = 0; i < n; i++) freeReplyObject(replies[i]);
  free(replies);
  return nret;
}

/* The command is the stack from index first on; every word is checked
 * before anything is allocated, so a raised error leaks nothing. */
static int call_from(lua_State *L, int first, double wait) {
  ce_rconn *c = check(L);
  int last = lua_gettop(L);
  int argc = last - first + 1;
  if (argc < 1) return luaL_error(L, "redis: a command needs a name");
  if (argc > MAX_ARGS) return luaL_error(L, "redis: more than %d words in one command", MAX_ARGS);
  for (int i = first; i <= last; i++) {
    int t = lua_type(L, i);
    if (t != LUA_TSTRING && t != LUA_TNUMBER) return luaL_argerror(L, i, "string or number expected");
  }
  const char **argv = malloc(sizeof *argv * (size_t)argc);
  size_t *lens = malloc(sizeof *lens * (size_t)argc);
  if (!argv || !lens) {
    free(argv);
    free(lens);
    return luaL_error(L, "redis: out of memory");
  }
  for (int i = 0; i < argc; i++) argv[i] = lua_tolstring(L, first + i, &lens[i]); /* a number becomes a string in its slot */
  const char *const *argvs[1] = {argv};
  const size_t *lensv[1] = {lens};
  int r = run(L, c, 1, &argc, argvs, lensv, wait, 0);
  free(argv);
  free(lens);
  return r;
}

static int m_call(lua_State *L) { return call_from(L, 2, 0); }

static int m_wait(lua_State *L) {
  double wait = luaL_checknumber(L, 2);
  luaL_argcheck(L, wait >= 0, 2, "must be >= 0");
  return call_from(L, 3, wait > 0 ? wait : 0);
}

/* Every word of every command is checked before anything is allocated, so
 * an error raised for a bad argument leaks nothing. */
static int m_pipeline(lua_State *L) {
  ce_rconn *c = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  double wait = luaL_optnumber(L, 3, 0);
  lua_Integer n = luaL_len(L, 2);
  luaL_argcheck(L, n >= 1 && n <= MAX_PIPELINE, 2, "1 to 4096 commands");
  size_t total = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 2, i) != LUA_TTABLE) luaL_error(L, "redis pipeline: command %d is not a table", (int)i);
    lua_Integer words = luaL_len(L, -1);
    if (words < 1 || words > MAX_ARGS) luaL_error(L, "redis pipeline: command %d has %d words", (int)i, (int)words);
    for (lua_Integer a = 1; a <= words; a++) {
      int t = lua_rawgeti(L, -1, a);
      if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_error(L, "redis pipeline: command %d, word %d is a %s", (int)i, (int)a, lua_typename(L, t));
      lua_pop(L, 1);
    }
    total += (size_t)words;
    lua_pop(L, 1);
  }
  int *argcs = malloc(sizeof *argcs * (size_t)n);
  const char ***argvs = malloc(sizeof *argvs * (size_t)n);
  size_t **lens = malloc(sizeof *lens * (size_t)n);
  const char **words = malloc(sizeof *words * total);
  size_t *wlens = malloc(sizeof *wlens * total);
  if (!argcs || !argvs || !lens || !words || !wlens) {
    free(argcs);
    free(argvs);
    free(lens);
    free(words);
    free(wlens);
    return luaL_error(L, "redis: out of memory");
  }
  /* the strings stay alive in the argument table; a number is converted
   * in place inside it, so its string lives there too */
  size_t at = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    int nw = (int)luaL_len(L, -1);
    argcs[i - 1] = nw;
    argvs[i - 1] = &words[at];
    lens[i - 1] = &wlens[at];
    for (int a = 1; a <= nw; a++) {
      lua_rawgeti(L, -1, a);
      if (lua_type(L, -1) == LUA_TNUMBER) {
        lua_pushvalue(L, -1);
        lua_tostring(L, -1);
        lua_rawseti(L, -3, a); /* the table now holds the string */
      }
      lua_pop(L, 1);
      lua_rawgeti(L, -1, a);
      words[at] = lua_tolstring(L, -1, &wlens[at]);
      lua_pop(L, 1);
      at++;
    }
    lua_pop(L, 1);
  }
  int r = run(L, c, (int)n, argcs, (const char *const *const *)argvs, (const size_t *const *)lens, wait, 1);
  free(argcs);
  free(argvs);
  free(lens);
  free(words);
  free(wlens);
  return r;
}

static int m_where(lua_State *L) {
  lua_pushstring(L, ce_rconn_where(check(L)));
  return 1;
}

static int m_close(lua_State *L) { /* close, __gc, __close */
  LConn *u = ce_checkudata(L, 1, CONN_MT);
  ce_rconn_close(u->c);
  u->c = NULL;
  return 0;
}

static int m_tostring(lua_State *L) {
  LConn *u = ce_checkudata(L, 1, CONN_MT);
  if (u->c) lua_pushfstring(L, "redis connection (%s)", ce_rconn_where(u->c));
  else lua_pushliteral(L, "redis connection (closed)");
  return 1;
}

static const luaL_Reg funcs[] = {{"connect", q_connect}, {"check_url", q_check_url}, {"node", q_node}, {NULL, NULL}};
static const luaL_Reg methods[] = {{"call", m_call},   {"wait", m_wait},   {"pipeline", m_pipeline},
                                   {"where", m_where}, {"close", m_close}, {NULL, NULL}};
static const luaL_Reg metameths[] = {{"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring},
                                     {"__index", NULL}, {NULL, NULL}};

int luaopen_causal_eval_queue_core(lua_State *L) {
  luaL_newmetatable(L, CONN_MT);
  luaL_setfuncs(L, metameths, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index"); /* mt.__index = methods */
  lua_pop(L, 1);                  /* pop mt */
  luaL_newlib(L, funcs);
  return 1;
}
