/* SPDX-License-Identifier: MIT */
/* The native modules, listed once: package.preload's table (modules.c) and
 * each binding's prototype come from this list, so a module added here is
 * declared, registered and type-checked against its definition together. */
#ifndef CE_MODULES_H
#define CE_MODULES_H

#include <lua.h>

/* X(name): the module "causal_eval.<name>", opened by luaopen_causal_eval_<name> */
#define CE_NATIVE_MODULES(X)                                                                                    \
  X(host) X(yaml) X(lineedit) X(pty) X(json) X(http) X(threads) X(shared) X(store_core) X(cache_core)          \
  X(metrics) X(profiling_core) X(stats_core) X(process) X(rng) X(scm_core) X(lockfile) X(auth) X(server_core) \
  X(queue_core)

#define CE_DECLARE_OPEN(name) int luaopen_causal_eval_##name(lua_State *L);
CE_NATIVE_MODULES(CE_DECLARE_OPEN)
#undef CE_DECLARE_OPEN

#endif
