/* SPDX-License-Identifier: MIT */
#ifndef CE_LUA_SCORE_SUMS_H
#define CE_LUA_SCORE_SUMS_H

#include <lua.h>

#include "core/store/store.h"

/* st:score_sums(db, prefix, log_step, zero, merge, visit) for store s
 * (score_sums.c says what it does): what it pushes, or -1 and e when the
 * scan failed. */
int ce_lua_score_sums(lua_State *L, ce_store *s, int where, int db, ce_err *e);

/* (store.c) fn(key, value) at stack index fn, as a scan calls it: 1 when it
 * raised (its error on the stack), else 0 and *stop its result's truth */
int ce_lua_scan_call(lua_State *L, int fn, const char *k, size_t kl, const char *v, size_t vl, int *stop);

#endif
