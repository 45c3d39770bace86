/* SPDX-License-Identifier: MIT */
#ifndef CE_LUA_JSON_ENCODE_H
#define CE_LUA_JSON_ENCODE_H

#include <lua.h>

#include "core/util/json.h"

/* The text json.encode gives for the value at idx, written into out (its
 * length set to 0 first): for a binding that hands the text on to C, such as
 * the store, with no Lua string made. Raises json.encode's errors (out is
 * then freed). (json.c) */
void ce_lua_json_encode_into(lua_State *L, int idx, ce_buf *out);
/* A buffer of the state's, one per key (the address of a static of the
 * caller's): kept in the registry and freed with the state, like the one
 * json.encode uses. (json.c) */
ce_buf *ce_lua_json_buffer(lua_State *L, const void *key);
/* After a use of such a buffer: one a huge value grew past 1 MB gives its
 * bytes back, as json.encode's own does. (json.c) */
void ce_lua_json_buffer_release(ce_buf *b);
/* json.picker (json_pick.c), and the value it gives for an object or an
 * array (json.container). */
int ce_lua_json_picker(lua_State *L);
void ce_lua_json_push_container(lua_State *L);

#endif
