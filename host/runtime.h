/* SPDX-License-Identifier: MIT */
/* Lua states for the main thread and for every worker thread
 * (causal_eval.threads): standard libraries, the native modules of modules.h
 * in package.preload, the embedded stdlib searcher, module paths, an
 * accounting allocator over a small-block pool, and protected calls with
 * tracebacks (Ctrl-C interruption on the main thread only). */
#ifndef CE_RUNTIME_H
#define CE_RUNTIME_H

#include <lua.h>
#include <stddef.h>

#include "core/util/paths.h"

#ifndef CE_VERSION
#define CE_VERSION "0.0.0"
#endif

/* A native type's metatable in a state, by the address of its name
 * (host/lua/udata.h). */
typedef struct {
  const char *name;
  const void *mt;
} ce_udata_entry;

/* Per-state context; hangs off the registry (see ce_host_of). */
typedef struct ce_host {
  ce_paths paths;
  int dev;            /* load lua/stdlib from the source tree, not the embedded copy */
  int ignore_env;     /* -E: ignore LUA_PATH, LUA_INIT, CAUSAL_EVAL_PATH... */
  size_t mem_used;    /* bytes the allocator has handed out and not freed */
  size_t mem_peak;
  size_t mem_limit;   /* 0: none; allocations beyond it fail as out of memory */
  struct ce_pool *pool; /* the state's small blocks (core/util/pool.h) */
  ce_udata_entry udata[32];
} ce_host;

typedef struct {
  const char *argv0;
  int ignore_env;
} ce_runtime_opts;

/* NULL only when memory is exhausted. */
lua_State *ce_runtime_new(const ce_runtime_opts *opts);
void ce_runtime_close(lua_State *L);
ce_host *ce_host_of(lua_State *L);
/* The host of a state made by ce_runtime_new, found without a lookup (the
 * allocator's data); NULL for any other state. */
ce_host *ce_host_fast(lua_State *L);

/* lua_pcall with a traceback handler; while it runs, SIGINT raises
 * "interrupted!" inside the running Lua code instead of killing the process. */
int ce_runtime_pcall(lua_State *L, int narg, int nres);
/* The same with no Ctrl-C handling, for worker threads: signal handlers are
 * process-wide and belong to the main thread. */
int ce_runtime_pcall_thread(lua_State *L, int narg, int nres);
/* Prints the error at the top of the stack to stderr (prefixed with progname) and pops it. */
int ce_runtime_report(lua_State *L, int status, const char *progname);

/* Native modules and embedded stdlib, for introspection. */
typedef struct { const char *name; lua_CFunction open; } ce_native_module;
extern const ce_native_module ce_native_modules[];

typedef struct {
  const char *module;   /* "causal_eval.config" */
  const char *path;     /* "lua/stdlib/causal_eval/config.lua" */
  const unsigned char *bytecode; /* compiled at build time (cmake/stdlib_compile.c) */
  size_t len;
} ce_stdlib_file;
extern const ce_stdlib_file ce_stdlib_files[]; /* sorted by module */
extern const size_t ce_stdlib_count;

#endif
