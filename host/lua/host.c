/* SPDX-License-Identifier: MIT */
/* causal_eval.host: what the running program knows about itself (version,
 * where its files are, which modules it carries), a monotonic clock, memory
 * accounting, and interruptible protected calls for the REPL. */
#include <lauxlib.h>
#include <lua.h>

#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/observe/profile.h"
#include "runtime.h"
#include "modules.h"
#include "udata.h"

static ce_host *host(lua_State *L) {
  ce_host *h = ce_host_of(L);
  if (!h) luaL_error(L, "causal_eval.host: this state was not created by the host");
  return h;
}

static int h_exe(lua_State *L) {
  ce_host *h = host(L);
  if (h->paths.exe[0]) lua_pushstring(L, h->paths.exe);
  else luaL_pushfail(L);
  return 1;
}

static int h_root(lua_State *L) {
  ce_host *h = host(L);
  if (h->paths.root[0]) lua_pushstring(L, h->paths.root);
  else luaL_pushfail(L);
  return 1;
}

static int h_layout(lua_State *L) {
  lua_pushstring(L, ce_layout_name(host(L)->paths.layout));
  return 1;
}

static int h_dev(lua_State *L) {
  lua_pushboolean(L, host(L)->dev);
  return 1;
}

static int h_ignore_env(lua_State *L) {
  lua_pushboolean(L, host(L)->ignore_env);
  return 1;
}

static int h_stdlib_modules(lua_State *L) {
  lua_createtable(L, (int)ce_stdlib_count, 0);
  for (size_t i = 0; i < ce_stdlib_count; i++) {
    lua_pushstring(L, ce_stdlib_files[i].module);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int h_native_modules(lua_State *L) {
  lua_newtable(L);
  int i = 0;
  for (const ce_native_module *m = ce_native_modules; m->name; m++) {
    lua_pushstring(L, m->name);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

static int h_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static int h_memory(lua_State *L) {
  ce_host *h = host(L);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)h->mem_used);
  lua_setfield(L, -2, "used");
  lua_pushinteger(L, (lua_Integer)h->mem_peak);
  lua_setfield(L, -2, "peak");
  lua_pushinteger(L, (lua_Integer)h->mem_limit);
  lua_setfield(L, -2, "limit");
  return 1;
}

/* host.set_memory_limit(bytes | nil): allocations past it fail (out of memory). */
static int h_set_memory_limit(lua_State *L) {
  ce_host *h = host(L);
  lua_Integer n = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, n >= 0, 1, "limit must be >= 0");
  h->mem_limit = (size_t)n;
  return 0;
}

/* host.interruptible(f, ...) -> true, ... | false, message-with-traceback */
static int h_interruptible(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int n = lua_gettop(L) - 1;
  int status = ce_runtime_pcall(L, n, LUA_MULTRET);
  lua_pushboolean(L, status == LUA_OK);
  lua_insert(L, 1);
  return lua_gettop(L);
}

static int h_isatty(lua_State *L) {
  int fd;
  if (lua_isinteger(L, 1)) {
    fd = (int)lua_tointeger(L, 1);
  } else {
    luaL_Stream *s = ce_checkudata(L, 1, LUA_FILEHANDLE);
    luaL_argcheck(L, s->closef != NULL && s->f != NULL, 1, "closed file");
    fd = fileno(s->f);
  }
  lua_pushboolean(L, isatty(fd));
  return 1;
}

extern char **environ;

/* host.environ() -> { NAME = value, ... }: Lua has no way to list variables. */
static int h_environ(lua_State *L) {
  lua_newtable(L);
  for (char **e = environ; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq || eq == *e) continue;
    lua_pushlstring(L, *e, (size_t)(eq - *e));
    lua_pushstring(L, eq + 1);
    lua_rawset(L, -3);
  }
  return 1;
}

/* host.listdir(path) -> sorted names (without . and ..) | nil, msg */
static int h_listdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (!d) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  lua_newtable(L);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, -2, ++n);
  }
  closedir(d);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  return 1;
}

/* host.file_kind(path) -> "file" | "directory" | "fifo" | "char" | "block" |
 * "socket" | "other", or nil, message: what path names, following links (a
 * pipe given as a file, <(cmd) or /dev/stdin, reads only once) */
static int h_file_kind(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  const char *kind = S_ISREG(st.st_mode)    ? "file"
                     : S_ISDIR(st.st_mode)  ? "directory"
                     : S_ISFIFO(st.st_mode) ? "fifo"
                     : S_ISCHR(st.st_mode)  ? "char"
                     : S_ISBLK(st.st_mode)  ? "block"
                     : S_ISSOCK(st.st_mode) ? "socket"
                                            : "other";
  lua_pushstring(L, kind);
  return 1;
}

/* host.realpath(path) -> the absolute path with no link, "." or ".." in it,
 * or nil, message (path must exist) */
static int h_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *r = realpath(path, NULL);
  if (!r) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  lua_pushstring(L, r);
  free(r);
  return 1;
}

static int h_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* host.sleep(seconds): the worker loops' nap while everything waits. */
static int h_sleep(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  if (s <= 0) return 0;
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

/* host.rss() -> current anonymous resident memory (core/observe/profile.h),
 * and the peak of all resident memory, file-backed pages included (bytes) */
static int h_rss(lua_State *L) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  lua_pushinteger(L, (lua_Integer)ce_rss_bytes());
  lua_pushinteger(L, (lua_Integer)ru.ru_maxrss * 1024);
  return 2;
}

/* host.cpu_time() -> user + system seconds of the whole process. */
static int h_cpu_time(lua_State *L) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  lua_pushnumber(L, (lua_Number)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
                        (lua_Number)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6);
  return 1;
}

/* Long runs catch SIGINT/SIGTERM as a request to stop cleanly: the handler
 * only counts, and the run's main loop polls host.interrupts(). A second
 * signal while trapped is the user insisting: restore the default action. */
static atomic_int interrupts, first_signal; /* the first one names the stop: Ctrl-C or a kill */
static struct sigaction old_int, old_term;
static int trapped;

static void on_signal(int sig) {
  int none = 0;
  atomic_compare_exchange_strong(&first_signal, &none, sig);
  if (atomic_fetch_add(&interrupts, 1) >= 1) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

static int h_trap_signals(lua_State *L) {
  if (!trapped) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    trapped = 1;
  }
  atomic_store(&interrupts, 0);
  atomic_store(&first_signal, 0);
  (void)L;
  return 0;
}

static int h_untrap_signals(lua_State *L) {
  if (trapped) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    trapped = 0;
  }
  (void)L;
  return 0;
}

/* host.interrupts() -> count, "SIGINT" | "SIGTERM" (the first, when count > 0) */
static int h_interrupts(lua_State *L) {
  lua_pushinteger(L, atomic_load(&interrupts));
  int sig = atomic_load(&first_signal);
  if (sig == SIGTERM) lua_pushliteral(L, "SIGTERM");
  else if (sig == SIGINT) lua_pushliteral(L, "SIGINT");
  else lua_pushnil(L);
  return 2;
}

static const luaL_Reg host_funcs[] = {
  {"sleep", h_sleep},
  {"rss", h_rss},
  {"cpu_time", h_cpu_time},
  {"trap_signals", h_trap_signals},
  {"untrap_signals", h_untrap_signals},
  {"interrupts", h_interrupts},
  {"exe", h_exe},
  {"root", h_root},
  {"layout", h_layout},
  {"dev", h_dev},
  {"ignore_env", h_ignore_env},
  {"stdlib_modules", h_stdlib_modules},
  {"native_modules", h_native_modules},
  {"clock", h_clock},
  {"memory", h_memory},
  {"set_memory_limit", h_set_memory_limit},
  {"interruptible", h_interruptible},
  {"isatty", h_isatty},
  {"getpid", h_getpid},
  {"environ", h_environ},
  {"listdir", h_listdir},
  {"file_kind", h_file_kind},
  {"realpath", h_realpath},
  {"version", NULL},
  {"lua_version", NULL},
  {NULL, NULL}
};

int luaopen_causal_eval_host(lua_State *L) {
  luaL_newlib(L, host_funcs);
  lua_pushliteral(L, CE_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushliteral(L, LUA_RELEASE);
  lua_setfield(L, -2, "lua_version");
  return 1;
}
