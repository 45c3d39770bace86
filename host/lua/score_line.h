/* SPDX-License-Identifier: MIT */
#ifndef CE_LUA_SCORE_LINE_H
#define CE_LUA_SCORE_LINE_H

#include <lua.h>

/* store_core.score_line(rec) -> text | nil (score_line.c) */
int ce_lua_score_line(lua_State *L);

#endif
