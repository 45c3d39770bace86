/* SPDX-License-Identifier: MIT */
/* causal_eval.profiling_core: sampling of Lua code in every state that
 * attaches, into the process-wide collection of host/core/profile.
 *
 * A count hook runs every 4000 VM instructions and reads the thread's CPU
 * clock; once a sampling interval of CPU time has passed it records the
 * stack (folded, root first) with as many samples as intervals passed, and
 * the Lua memory allocated or freed since, charged to the running function
 * (leak detection). Time spent inside a native function cannot be seen
 * while it runs (the hook only fires between Lua instructions): when the
 * gap since the last sample is much longer than the interval, the extra
 * samples are charged to the calling stack plus a "[native]" frame.
 *
 *   core.start(interval, snapshot_interval)  -- begin a collection (clears the last), attach this state
 *   core.attach()          -- attach this state to a running collection (worker threads)
 *   core.stop()            -- end it, detach this state
 *   core.stacks()          -- { [folded] = samples }, total
 *   core.sites()           -- { [site] = { growth per snapshot } }
 *   core.snapshots()       -- { {t, bytes}, ... }
 *   core.io()              -- { http = {ops, bytes, seconds}, lmdb = ..., redis, file, smtp }
 */
#include <lauxlib.h>
#include <lua.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/util/clock.h"
#include "core/observe/profile.h"
#include "runtime.h"
#include "modules.h"

#define EVERY 4000
#define MAX_FRAMES 64

static _Thread_local double last_cpu, last_snapshot;
static _Thread_local size_t last_mem;
static double snapshot_every = 0.1; /* seconds between memory snapshots */

static size_t state_memory(lua_State *L) {
  ce_host *h = ce_host_of(L);
  return h ? h->mem_used : (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024;
}

/* "name (source:line)" of one frame into buf; returns its length */
static int frame_name(lua_Debug *ar, char *buf, size_t size) {
  if (*ar->what == 'C') return snprintf(buf, size, "[C] %s", ar->name ? ar->name : "?");
  if (*ar->what == 'm') return snprintf(buf, size, "main (%s)", ar->short_src);
  return snprintf(buf, size, "%s (%s:%d)", ar->name ? ar->name : "function", ar->short_src, ar->linedefined);
}

static void sample(lua_State *L, uint64_t n, int native_extra, size_t mem_now) {
  lua_Debug ar[MAX_FRAMES];
  int depth = 0;
  while (depth < MAX_FRAMES && lua_getstack(L, depth, &ar[depth])) {
    lua_getinfo(L, "Sn", &ar[depth]);
    depth++;
  }
  char folded[4096];
  size_t len = 0;
  char leaf[300] = "?";
  for (int i = depth - 1; i >= 0; i--) {
    char f[300];
    int fl = frame_name(&ar[i], f, sizeof f);
    if (fl < 0) continue;
    if ((size_t)fl >= sizeof f) fl = (int)sizeof f - 1;
    if (len + (size_t)fl + 2 >= sizeof folded) break;
    if (len) folded[len++] = ';';
    memcpy(folded + len, f, (size_t)fl);
    len += (size_t)fl;
    if (i == 0) memcpy(leaf, f, (size_t)fl + 1);
  }
  if (n > 0) ce_prof_add_stack(folded, len, n);
  if (native_extra > 0 && len + 10 < sizeof folded) {
    memcpy(folded + len, ";[native]", 9);
    ce_prof_add_stack(folded, len + 9, (uint64_t)native_extra);
  }
  ce_prof_add_memory(leaf, strlen(leaf), (int64_t)mem_now - (int64_t)last_mem);
}

static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (!ce_prof_active()) {
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  double now = ce_clock_thread_cpu(), interval = ce_prof_interval();
  double gap = now - last_cpu;
  if (gap < interval) return;
  uint64_t n = (uint64_t)(gap / interval);
  /* a gap of several intervals between two hooks a few microseconds of Lua
   * apart was spent in a native call */
  int native = n > 2 ? (int)(n - 1) : 0;
  size_t mem = state_memory(L);
  sample(L, native ? 1 : n, native, mem);
  last_cpu = now;
  last_mem = mem;
  double w = ce_clock_mono();
  if (w - last_snapshot >= snapshot_every) {
    last_snapshot = w;
    ce_prof_snapshot(w, ce_rss_bytes());
    /* the state that started the collection also snapshots its heap (a Lua
     * function registered by causal_eval.profiling), for leak detection */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "causal_eval.profiling.snapshot") == LUA_TFUNCTION) {
      if (lua_pcall(L, 0, 0, 0) != LUA_OK) lua_pop(L, 1);
      /* the profiler's own walk is not the program's time */
      last_cpu = ce_clock_thread_cpu();
      last_mem = state_memory(L);
    } else {
      lua_pop(L, 1);
    }
  }
}

static void attach(lua_State *L) {
  last_cpu = ce_clock_thread_cpu();
  last_mem = state_memory(L);
  last_snapshot = ce_clock_mono();
  lua_sethook(L, hook, LUA_MASKCOUNT, EVERY);
}

static int p_start(lua_State *L) {
  double interval = luaL_optnumber(L, 1, 0.001);
  luaL_argcheck(L, interval > 0, 1, "the sampling interval must be positive");
  double snap = luaL_optnumber(L, 2, 0.1);
  luaL_argcheck(L, snap > 0, 2, "the snapshot interval must be positive");
  snapshot_every = snap;
  ce_prof_start(interval);
  attach(L);
  return 0;
}

static int p_attach(lua_State *L) {
  if (ce_prof_active()) attach(L);
  lua_pushboolean(L, ce_prof_active());
  return 1;
}

static int p_active(lua_State *L) {
  lua_pushboolean(L, ce_prof_active());
  return 1;
}

/* core.on_snapshot(fn): fn() runs in this state at each memory snapshot */
static int p_on_snapshot(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "causal_eval.profiling.snapshot");
  return 0;
}

static int p_stop(lua_State *L) {
  ce_prof_stop();
  lua_sethook(L, NULL, 0, 0);
  return 0;
}

static int add_stack(const char *folded, uint64_t samples, void *ud) {
  lua_State *L = ud;
  lua_pushinteger(L, (lua_Integer)samples);
  lua_setfield(L, -2, folded);
  return 0;
}

static int p_stacks(lua_State *L) {
  lua_newtable(L);
  ce_prof_each_stack(add_stack, L);
  lua_pushinteger(L, (lua_Integer)ce_prof_total_samples());
  return 2;
}

static int add_site(const char *site, const int64_t *growth, int n, void *ud) {
  lua_State *L = ud;
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)growth[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, site);
  return 0;
}

static int p_sites(lua_State *L) {
  lua_newtable(L);
  ce_prof_each_site(add_site, L);
  return 1;
}

static int p_snapshots(lua_State *L) {
  double t[512];
  int64_t total[512];
  int n = ce_prof_snapshots(t, total, 512);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, t[i]);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, (lua_Integer)total[i]);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int p_io(lua_State *L) {
  lua_createtable(L, 0, CE_IO_NPATHS);
  for (int p = 0; p < CE_IO_NPATHS; p++) {
    ce_io_totals t;
    ce_io_get(p, &t);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)t.ops);
    lua_setfield(L, -2, "ops");
    lua_pushinteger(L, (lua_Integer)t.bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushnumber(L, t.seconds);
    lua_setfield(L, -2, "seconds");
    lua_setfield(L, -2, ce_io_path_name(p));
  }
  return 1;
}

/* core.native() -> { store_queue = bytes, cache_memory = bytes } */
static int p_native(lua_State *L) {
  lua_createtable(L, 0, CE_NATIVE_NKINDS);
  for (int k = 0; k < CE_NATIVE_NKINDS; k++) {
    lua_pushinteger(L, (lua_Integer)ce_native_get(k));
    lua_setfield(L, -2, ce_native_name(k));
  }
  return 1;
}

int luaopen_causal_eval_profiling_core(lua_State *L) {
  static const luaL_Reg funcs[] = {{"start", p_start},   {"attach", p_attach}, {"active", p_active},
                                   {"stop", p_stop},     {"stacks", p_stacks}, {"sites", p_sites},
                                   {"snapshots", p_snapshots}, {"io", p_io}, {"on_snapshot", p_on_snapshot}, {"native", p_native},
                                   {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
