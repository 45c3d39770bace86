/* SPDX-License-Identifier: MIT */
/* store_core.score_line(rec) -> text | nil: a record's score line, the text
 * json.encode(results.score_fields(rec)) gives, written from the record
 * without building the line's table. Every answer a run stores has one,
 * and the table, its sort and its encoding were 10,000 instructions of a
 * question. nil where a field holds what the writer below does not take
 * (a table, a function, a NaN): results.score_line then encodes the table,
 * with json.encode's message for what JSON cannot hold.
 * results.score_fields says what a line holds; a spec checks the two agree
 * (spec/score_line_spec.lua). */
#include <lauxlib.h>
#include <lua.h>

#include <string.h>

#include "core/util/json.h"
#include "json_encode.h"
#include "score_line.h"

static char LINE_BUF; /* its address is the registry key of the buffer */

/* ,"key": (no comma first) */
static void key(ce_buf *b, const char *k) {
  if (b->len > 1) ce_buf_addc(b, ',');
  ce_buf_addc(b, '"');
  ce_buf_adds(b, k);
  ce_buf_adds(b, "\":");
}

/* the value at idx as json.encode writes it; 0 for one it leaves to json.encode */
static int value(lua_State *L, ce_buf *b, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: ce_buf_adds(b, lua_toboolean(L, idx) ? "true" : "false"); return 1;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        ce_json_write_int(b, (int64_t)lua_tointeger(L, idx));
        return 1;
      }
      return ce_json_write_double(b, (double)lua_tonumber(L, idx)) == 0;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      ce_json_write_string(b, s, n);
      return 1;
    }
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) != NULL) return 0;
      ce_buf_adds(b, "null");
      return 1;
    default: return 0;
  }
}

/* "key":rec[field] unless it is nil (a table constructor leaves it out) */
static int field(lua_State *L, ce_buf *b, int rec, const char *k, const char *f) {
  int ok = 1;
  if (lua_getfield(L, rec, f) != LUA_TNIL) {
    key(b, k);
    ok = value(L, b, -1);
  }
  lua_pop(L, 1);
  return ok;
}

/* "key":1 when rec[f] is true in Lua's sense */
static void flag(lua_State *L, ce_buf *b, int rec, const char *k, const char *f) {
  lua_getfield(L, rec, f);
  if (lua_toboolean(L, -1)) {
    key(b, k);
    ce_buf_addc(b, '1');
  }
  lua_pop(L, 1);
}

/* "key":t[f] for `t and t[f] or nil`: nothing where either is false or nil */
static int sub_field(lua_State *L, ce_buf *b, int t, const char *k, const char *f) {
  if (!lua_toboolean(L, t)) return 1;
  if (lua_type(L, t) != LUA_TTABLE) return 0; /* indexing it is Lua's business */
  int ok = 1;
  lua_getfield(L, t, f);
  if (lua_toboolean(L, -1)) {
    key(b, k);
    ok = value(L, b, -1);
  }
  lua_pop(L, 1);
  return ok;
}

/* The line of the record at rec, its keys in json.encode's (byte) order:
 * ag c cached d day e f ft j k kc l r s ti to u. */
static int write_line(lua_State *L, int rec, ce_buf *b) {
  int top = lua_gettop(L);
  ce_buf_addc(b, '{');
  int ok = 1;
  int samples = lua_getfield(L, rec, "n_samples") != LUA_TNIL && lua_toboolean(L, -1); /* top+1 */
  lua_getfield(L, rec, "answer_type");                                                  /* top+2 */
  size_t atl = 0;
  const char *at = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &atl) : NULL;
  int free_text = at && atl == 9 && memcmp(at, "free_text", 9) == 0;
  int judged = 0;
  if (free_text) {
    lua_getfield(L, rec, "judged");
    judged = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (samples) ok &= field(L, b, rec, "ag", "agreement");
  if (lua_getfield(L, rec, "correct") == LUA_TNIL) { /* top+3 */
    key(b, "c");
    ce_buf_adds(b, "null");
  } else {
    key(b, "c");
    ce_buf_addc(b, lua_toboolean(L, -1) ? '1' : '0');
  }
  flag(L, b, rec, "cached", "cached");
  ok &= field(L, b, rec, "d", "difficulty");
  ok &= field(L, b, rec, "day", "day");
  lua_getfield(L, rec, "error"); /* top+4 */
  ok &= sub_field(L, b, top + 4, "e", "class");
  ok &= field(L, b, rec, "f", "family");
  if (free_text) {
    key(b, "ft");
    ce_buf_addc(b, '1');
    if (judged) {
      key(b, "j");
      ce_buf_addc(b, '1');
    }
  }
  if (samples) {
    key(b, "k");
    ok &= value(L, b, top + 1);
    ok &= field(L, b, rec, "kc", "samples_correct");
  }
  ok &= field(L, b, rec, "l", "latency_ms");
  ok &= field(L, b, rec, "r", "rung");
  if (judged) ok &= field(L, b, rec, "s", "score");
  lua_getfield(L, rec, "tokens"); /* top+5 */
  ok &= sub_field(L, b, top + 5, "ti", "input");
  ok &= sub_field(L, b, top + 5, "to", "output");
  flag(L, b, rec, "u", "unparseable");
  ce_buf_addc(b, '}');
  lua_settop(L, top);
  return ok && !b->oom;
}

int ce_lua_score_line(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  ce_buf *b = ce_lua_json_buffer(L, &LINE_BUF);
  b->len = 0;
  if (write_line(L, 1, b)) lua_pushlstring(L, b->data, b->len);
  else lua_pushnil(L);
  ce_lua_json_buffer_release(b);
  return 1;
}
