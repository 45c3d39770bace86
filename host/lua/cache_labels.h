/* SPDX-License-Identifier: MIT */
#ifndef CE_LUA_CACHE_LABELS_H
#define CE_LUA_CACHE_LABELS_H

#include <lua.h>

/* cache_core.request_labels(adapter, model, body, task, field_json) (cache_labels.c) */
int ce_lua_request_labels(lua_State *L);
/* cache_core.request_key(adapter, model, canonical_body, task) (cache_labels.c) */
int ce_lua_request_key(lua_State *L);
/* cache_core.request_key_labels(adapter, key_model, label_model, canonical,
 * task, body, field_json, encode) -> key, labels (cache_labels.c) */
int ce_lua_request_key_labels(lua_State *L);

#endif
