/* SPDX-License-Identifier: MIT */
#ifndef CE_LUA_SCORE_SUMS_H
#define CE_LUA_SCORE_SUMS_H

#include <lua.h>

#include "core/store/store.h"

/* st:score_sums(db, prefix, log_step, zero, merge, visit) for store s
 * (score_sums.c says what it does): what it pushes, or -1 and e when the
 * scan failed. */
int ce_lua_score_sums(lua_State *L, ce_store *s, int where, int db, ce_err *e);

#endif
