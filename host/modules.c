/* SPDX-License-Identifier: MIT */
/* The native modules the host registers in package.preload: one place to add
 * a module (see ../shared/STYLE.md: "causal_eval.<name>" or "<name>_core"). */
#include "runtime.h"

int luaopen_causal_eval_host(lua_State *L);
int luaopen_causal_eval_yaml(lua_State *L);
int luaopen_causal_eval_lineedit(lua_State *L);
int luaopen_causal_eval_pty(lua_State *L);
int luaopen_causal_eval_rng(lua_State *L);
int luaopen_causal_eval_json(lua_State *L);
int luaopen_causal_eval_http(lua_State *L);
int luaopen_causal_eval_threads(lua_State *L);
int luaopen_causal_eval_shared(lua_State *L);
int luaopen_causal_eval_store_core(lua_State *L);
int luaopen_causal_eval_cache_core(lua_State *L);
int luaopen_causal_eval_metrics(lua_State *L);
int luaopen_causal_eval_profiling_core(lua_State *L);
int luaopen_causal_eval_stats_core(lua_State *L);
int luaopen_causal_eval_process(lua_State *L);
int luaopen_causal_eval_scm_core(lua_State *L);

const ce_native_module ce_native_modules[] = {
  {"causal_eval.host", luaopen_causal_eval_host},
  {"causal_eval.yaml", luaopen_causal_eval_yaml},
  {"causal_eval.lineedit", luaopen_causal_eval_lineedit},
  {"causal_eval.pty", luaopen_causal_eval_pty},
  {"causal_eval.json", luaopen_causal_eval_json},
  {"causal_eval.http", luaopen_causal_eval_http},
  {"causal_eval.threads", luaopen_causal_eval_threads},
  {"causal_eval.shared", luaopen_causal_eval_shared},
  {"causal_eval.store_core", luaopen_causal_eval_store_core},
  {"causal_eval.cache_core", luaopen_causal_eval_cache_core},
  {"causal_eval.metrics", luaopen_causal_eval_metrics},
  {"causal_eval.profiling_core", luaopen_causal_eval_profiling_core},
  {"causal_eval.stats_core", luaopen_causal_eval_stats_core},
  {"causal_eval.process", luaopen_causal_eval_process},
  {"causal_eval.rng", luaopen_causal_eval_rng},
  {"causal_eval.scm_core", luaopen_causal_eval_scm_core},
  {NULL, NULL}
};
