/* SPDX-License-Identifier: MIT */
#include "runtime.h"

#include <lauxlib.h>
#include <lualib.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/pool.h"

static const char HOST_KEY = 'h'; /* registry key: its address */

ce_host *ce_host_of(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  ce_host *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return h;
}

/* Accounting allocator: the numbers behind host.memory() and, later, the
 * memory profiler; mem_limit lets tests fail allocations on purpose. Blocks
 * come from the state's pool: Lua's small objects cost malloc 10-20% of a
 * generator's time. */
static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  ce_host *h = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    ce_pool_realloc(h->pool, ptr, osize, 0);
    h->mem_used -= old;
    return NULL;
  }
  if (h->mem_limit && nsize > old && h->mem_used + (nsize - old) > h->mem_limit) return NULL;
  void *p = ce_pool_realloc(h->pool, ptr, osize, nsize);
  if (!p) return NULL;
  h->mem_used = h->mem_used - old + nsize;
  if (h->mem_used > h->mem_peak) h->mem_peak = h->mem_used;
  return p;
}

ce_host *ce_host_fast(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == host_alloc ? ud : NULL;
}

static int host_panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "causal-eval: PANIC: unprotected error in call to Lua API (%s)\n",
          msg ? msg : "error object is not a string");
  fflush(stderr);
  return 0; /* abort */
}

/* Warnings as lauxlib does them: off by default, "@on"/"@off" control messages,
 * pieces of one message joined until the last. */
typedef struct { int on; int cont; } warnstate;
static warnstate *warn_state(lua_State *L);

static void host_warn(void *ud, const char *msg, int tocont) {
  warnstate *w = ud;
  if (!w->cont && *msg == '@') {
    if (strcmp(msg, "@off") == 0) w->on = 0;
    else if (strcmp(msg, "@on") == 0) w->on = 1;
    return;
  }
  if (w->on) {
    if (!w->cont) fputs("Lua warning: ", stderr);
    fputs(msg, stderr);
    if (!tocont) fputc('\n', stderr);
    fflush(stderr);
  }
  w->cont = tocont;
}

static warnstate *warn_state(lua_State *L) {
  warnstate *w = lua_newuserdatauv(L, sizeof *w, 0);
  w->on = 0;
  w->cont = 0;
  lua_setfield(L, LUA_REGISTRYINDEX, "causal_eval.warnstate"); /* keep it alive */
  return w;
}

/* ---- embedded stdlib ---- */

static const ce_stdlib_file *stdlib_find(const char *name) {
  size_t lo = 0, hi = ce_stdlib_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(name, ce_stdlib_files[mid].module);
    if (c == 0) return &ce_stdlib_files[mid];
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}

/* In dev mode, stdlib modules come from <root>/lua/stdlib so edits need no rebuild. */
static int load_dev_file(lua_State *L, const ce_host *h, const ce_stdlib_file *f) {
  lua_pushfstring(L, "%s/%s", h->paths.root, f->path);
  const char *file = lua_tostring(L, -1);
  if (luaL_loadfilex(L, file, "t") != LUA_OK) return 0; /* keep message; caller raises */
  lua_insert(L, -2); /* loader, filename */
  return 2;
}

static int stdlib_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const ce_stdlib_file *f = stdlib_find(name);
  if (!f) {
    lua_pushfstring(L, "no embedded module '%s'", name);
    return 1;
  }
  ce_host *h = ce_host_of(L);
  if (h && h->dev && h->paths.root[0]) {
    int n = load_dev_file(L, h, f);
    if (n) return n;
    return luaL_error(L, "error loading module '%s' (dev mode):\n\t%s", name,
                      lua_tostring(L, -1));
  }
  /* bytecode compiled with the build (cmake/stdlib_compile.c): compiling
   * the source here was a third of the instructions of starting a run. It
   * keeps its line information and names "@path", as the source did. */
  lua_pushfstring(L, "@%s", f->path);
  if (luaL_loadbufferx(L, (const char *)f->bytecode, f->len, lua_tostring(L, -1), "b") != LUA_OK)
    return luaL_error(L, "error loading embedded module '%s':\n\t%s", name, lua_tostring(L, -1));
  lua_pushfstring(L, ":embedded:%s", f->path);
  return 2;
}

/* package.searchers = {preload, stdlib, path, cpath, croot} */
static void install_searcher(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_Integer n = luaL_len(L, -1);
  for (lua_Integer i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1); /* shift up */
  }
  lua_pushcfunction(L, stdlib_searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2); /* searchers, package */
}

static void register_natives(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const ce_native_module *m = ce_native_modules; m->name; m++) {
    lua_pushcfunction(L, m->open);
    lua_setfield(L, -2, m->name); /* preload[name] = open */
  }
  lua_pop(L, 1);
}

/* Pushes "dir/?.lua;dir/?/init.lua;" for a folder ("dir/?.so;" for C), or the
 * entry as is when it is already a template (contains '?'). */
static void push_path_entry(lua_State *L, const char *entry, size_t len, int c_path) {
  luaL_checkstack(L, 2, "too many path entries");
  while (len > 1 && entry[len - 1] == '/') len--;
  if (memchr(entry, '?', len)) {
    lua_pushlstring(L, entry, len);
    lua_pushliteral(L, ";");
    lua_concat(L, 2);
    return;
  }
  lua_pushlstring(L, entry, len);
  const char *dir = lua_tostring(L, -1);
  if (c_path) lua_pushfstring(L, "%s/?.so;", dir);
  else lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
  lua_remove(L, -2);
}

/* package.path = $CAUSAL_EVAL_PATH, <root> (for benchmarks.x, adapters.x),
 * <root>/lua/stdlib, then what Lua itself chose (LUA_PATH or the system default,
 * so busted and lua-cjson load). */
static void set_paths(lua_State *L, const ce_host *h) {
  const char *extra = h->ignore_env ? NULL : getenv("CAUSAL_EVAL_PATH");
  lua_getglobal(L, "package");
  int pkg = lua_gettop(L);
  for (int c = 0; c < 2; c++) {
    const char *field = c ? "cpath" : "path";
    for (const char *s = extra; s && *s;) {
      const char *e = strchr(s, ';');
      size_t len = e ? (size_t)(e - s) : strlen(s);
      if (len) push_path_entry(L, s, len, c);
      s = e ? e + 1 : NULL;
    }
    if (h->paths.root[0] && !c) {
      push_path_entry(L, h->paths.root, strlen(h->paths.root), 0);
      lua_pushfstring(L, "%s/lua/stdlib", h->paths.root);
      push_path_entry(L, lua_tostring(L, -1), lua_rawlen(L, -1), 0);
      lua_remove(L, -2);
    }
    lua_getfield(L, pkg, field);
    lua_concat(L, lua_gettop(L) - pkg);
    lua_setfield(L, pkg, field);
  }
  lua_pop(L, 1); /* package */
}

lua_State *ce_runtime_new(const ce_runtime_opts *opts) {
  ce_host *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->pool = ce_pool_new();
  if (!h->pool) {
    free(h);
    return NULL;
  }
  h->ignore_env = opts && opts->ignore_env;
  const char *home = h->ignore_env ? NULL : getenv("CAUSAL_EVAL_HOME");
#ifdef CE_SOURCE_DIR
  const char *src = CE_SOURCE_DIR;
#else
  const char *src = NULL;
#endif
  ce_paths_locate(&h->paths, opts ? opts->argv0 : NULL, home, src);
  const char *dev = h->ignore_env ? NULL : getenv("CAUSAL_EVAL_DEV");
  h->dev = dev && *dev && strcmp(dev, "0") != 0;

  lua_State *L = lua_newstate(host_alloc, h);
  if (!L) {
    ce_pool_free(h->pool);
    free(h);
    return NULL;
  }
  lua_atpanic(L, host_panic);
  lua_setwarnf(L, host_warn, warn_state(L));
  lua_pushlightuserdata(L, h);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  if (h->ignore_env) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV"); /* loadlib.c skips LUA_PATH */
  }
  lua_gc(L, LUA_GCGEN, 0, 0);
  luaL_openlibs(L);
  register_natives(L);
  install_searcher(L);
  set_paths(L, h);
  return L;
}

void ce_runtime_close(lua_State *L) {
  if (!L) return;
  ce_host *h = ce_host_of(L);
  lua_close(L);
  ce_pool_free(h->pool);
  free(h);
}

/* ---- protected calls with Ctrl-C ---- */

/* A signal handler cannot be given context, so the state being interrupted is
 * the one thing kept in a file-level variable (as lua.c's globalL). */
static lua_State *volatile interrupted_L = NULL;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void on_sigint(int sig) {
  signal(sig, SIG_DFL); /* a second Ctrl-C before Lua notices ends the process */
  lua_State *L = interrupted_L;
  if (L) lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int ce_runtime_pcall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  lua_State *prev_L = interrupted_L;
  interrupted_L = L;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  int status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  interrupted_L = prev_L;
  lua_sethook(L, NULL, 0, 0); /* a Ctrl-C that came too late must not fire later */
  lua_remove(L, base);
  return status;
}

int ce_runtime_pcall_thread(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}

int ce_runtime_report(lua_State *L, int status, const char *progname) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
    if (progname) fprintf(stderr, "%s: ", progname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}
