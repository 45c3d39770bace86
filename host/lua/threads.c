/* SPDX-License-Identifier: MIT */
/* causal_eval.threads: worker threads, each with its own Lua state (as wrk
 * and sysbench do). A worker runs require(module).main(config, index) where
 * config is a string (plain data: JSON by convention); it shares nothing Lua
 * with its creator, only native objects it attaches to by id.
 *
 *   local g = threads.start(4, "causal_eval.worker", json.encode(cfg) [, { heap_mb = 6 }])
 *   g:finished()   -- how many have returned
 *   g:join()       -- { {ok = true, result = "..."}, {ok = false, error = "..."}, ... }
 *
 * heap_mb: each thread's malloc heap is grown and made present that far
 * before it starts (core/util/heap_reserve.h): for threads that grow their
 * heap that far anyway, as a run's workers do, where each page grown into
 * one by one cost a page fault.
 */
#include <lauxlib.h>
#include <lua.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/heap_reserve.h"
#include "core/util/thread_name.h"
#include "modules.h"
#include "runtime.h"
#include "udata.h"

#define GROUP_MT "causal_eval.thread_group"

typedef struct {
  pthread_t thread;
  int index, started, ok;
  size_t heap_bytes;     /* to reserve before it starts (0: none) */
  char *module, *config; /* shared by the group: not owned here */
  char *result;          /* malloc'd: the returned string or the error */
  atomic_int *finished;
} worker;

typedef struct {
  int n, joined;
  worker *w;
  char *module, *config;
  atomic_int finished;
} group;

static char *dup_string(lua_State *L, int idx) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (!s) return NULL;
  char *c = malloc(n + 1);
  if (c) {
    memcpy(c, s, n);
    c[n] = '\0';
  }
  return c;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  /* "causal_eval.worker" runs as "worker-1", "worker-2"...: named here, not
   * by the creator, which could do it after the thread looked */
  const char *dot = strrchr(w->module, '.');
  ce_thread_name_indexed(pthread_self(), dot ? dot + 1 : w->module, w->index);
  void *reserved = w->heap_bytes ? ce_heap_reserve(w->heap_bytes) : NULL;
  ce_runtime_opts opts = {NULL, 0};
  lua_State *L = ce_runtime_new(&opts);
  if (!L) {
    w->result = strdup("cannot create a Lua state: not enough memory");
    free(reserved);
    atomic_fetch_add(w->finished, 1);
    return NULL;
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, w->module);
  int status = ce_runtime_pcall_thread(L, 1, 1);
  if (status == LUA_OK) {
    if (lua_getfield(L, -1, "main") != LUA_TFUNCTION) {
      lua_pushfstring(L, "module '%s' has no function main", w->module);
      status = LUA_ERRRUN;
    } else {
      lua_pushstring(L, w->config);
      lua_pushinteger(L, w->index);
      status = ce_runtime_pcall_thread(L, 2, 1);
    }
  }
  w->ok = status == LUA_OK;
  if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) w->result = dup_string(L, -1);
  else if (!w->ok) w->result = strdup("(error object is not a string)");
  ce_runtime_close(L);
  free(reserved);
  atomic_fetch_add(w->finished, 1);
  return NULL;
}

static int group_join_all(group *g) {
  if (g->joined) return 0;
  for (int i = 0; i < g->n; i++)
    if (g->w[i].started) pthread_join(g->w[i].thread, NULL);
  g->joined = 1;
  return 0;
}

static int threads_start(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 1024, 1, "between 1 and 1024 threads");
  luaL_checkstring(L, 2);
  luaL_checkstring(L, 3);
  lua_Integer heap_mb = 0;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_getfield(L, 4, "heap_mb");
    heap_mb = luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    luaL_argcheck(L, heap_mb >= 0 && heap_mb <= 64, 4, "heap_mb: between 0 and 64");
  }
  group *g = lua_newuserdatauv(L, sizeof *g, 0);
  memset(g, 0, sizeof *g);
  atomic_init(&g->finished, 0);
  luaL_setmetatable(L, GROUP_MT);
  g->module = dup_string(L, 2);
  g->config = dup_string(L, 3);
  g->w = calloc((size_t)n, sizeof *g->w);
  if (!g->module || !g->config || !g->w) return luaL_error(L, "threads.start: out of memory");
  g->n = (int)n;
  for (int i = 0; i < g->n; i++) {
    worker *w = &g->w[i];
    w->index = i + 1;
    w->heap_bytes = (size_t)heap_mb << 20;
    w->module = g->module;
    w->config = g->config;
    w->finished = &g->finished;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      w->result = strdup("cannot start a thread");
      atomic_fetch_add(&g->finished, 1);
    } else {
      w->started = 1;
    }
  }
  return 1;
}

static int g_finished(lua_State *L) {
  group *g = ce_checkudata(L, 1, GROUP_MT);
  lua_pushinteger(L, atomic_load(&g->finished));
  return 1;
}

static int g_join(lua_State *L) {
  group *g = ce_checkudata(L, 1, GROUP_MT);
  group_join_all(g);
  lua_createtable(L, g->n, 0);
  for (int i = 0; i < g->n; i++) {
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, g->w[i].ok);
    lua_setfield(L, -2, "ok");
    if (g->w[i].result) {
      lua_pushstring(L, g->w[i].result);
      lua_setfield(L, -2, g->w[i].ok ? "result" : "error");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int g_gc(lua_State *L) {
  group *g = ce_checkudata(L, 1, GROUP_MT);
  if (!g->w) return 0;
  group_join_all(g); /* a group is never dropped while its threads run */
  for (int i = 0; i < g->n; i++) free(g->w[i].result);
  free(g->w);
  g->w = NULL;
  free(g->module);
  free(g->config);
  g->module = g->config = NULL;
  return 0;
}

static const luaL_Reg funcs[] = {{"start", threads_start}, {NULL, NULL}};
static const luaL_Reg methods[] = {{"finished", g_finished}, {"join", g_join}, {NULL, NULL}};

int luaopen_causal_eval_threads(lua_State *L) {
  luaL_newmetatable(L, GROUP_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, g_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
