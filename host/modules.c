/* SPDX-License-Identifier: MIT */
/* The native modules the host registers in package.preload; the list itself
 * is in modules.h. Names are "causal_eval.<name>", or "<name>_core" when a
 * Lua module of the same name builds on it (docs/host.md). */
#include "modules.h"
#include "runtime.h"

#define CE_MODULE_ENTRY(name) {"causal_eval." #name, luaopen_causal_eval_##name},
const ce_native_module ce_native_modules[] = {
  CE_NATIVE_MODULES(CE_MODULE_ENTRY)
  {NULL, NULL}
};
