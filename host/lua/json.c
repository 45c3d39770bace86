/* SPDX-License-Identifier: MIT */
/* causal_eval.json: JSON for files people diff and runs that must be
 * reproducible. encode sorts object keys and writes the shortest decimal that
 * reads back as the same double, so equal values give equal bytes in every
 * process (Lua's own table order changes from run to run). decode reports
 * name:line:column. null is json.null (a NULL light userdata, equal to
 * cjson.null and yaml.null); json.array(t) marks a table to encode as [] when
 * empty. Integers stay integers both ways. */
#include <lauxlib.h>
#include <lua.h>

#include <stdlib.h>
#include <string.h>

#include "core/util/json.h"
#include "json_encode.h"
#include "modules.h"
#include "udata.h"

#define BUF_MT "causal_eval.json_buffer"
#define ARRAY_MT "causal_eval.json_array"
#define MAX_DEPTH 256

static ce_buf *new_buf(lua_State *L) {
  ce_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
  ce_buf_init(b);
  luaL_setmetatable(L, BUF_MT);
  return b;
}

static int buf_gc(lua_State *L) {
  ce_buf_free(ce_checkudata(L, 1, BUF_MT));
  return 0;
}

/* One buffer per Lua state, an upvalue of encode and decode, used again
 * call after call: a new one each time, grown from nothing, was a fifth of
 * decoding a question. busy: in use (a finalizer run by the collector in
 * the middle of a call could encode too; it gets a buffer of its own). */
typedef struct {
  ce_buf b; /* first: the userdata is also a ce_buf for buf_gc */
  int busy;
} shared_buf;

#define KEEP_BYTES (1u << 20) /* more than this is given back after use */

static ce_buf *take_buf(lua_State *L, shared_buf **held) {
  shared_buf *sb = lua_touserdata(L, lua_upvalueindex(1));
  if (sb && !sb->busy) {
    sb->busy = 1;
    sb->b.len = 0;
    sb->b.oom = 0;
    *held = sb;
    return &sb->b;
  }
  *held = NULL;
  return new_buf(L);
}

static void give_buf(shared_buf *held, ce_buf *b) {
  if (!held) {
    ce_buf_free(b);
    return;
  }
  ce_lua_json_buffer_release(&held->b);
  held->busy = 0;
}

void ce_lua_json_buffer_release(ce_buf *b) {
  if (b->cap > KEEP_BYTES) ce_buf_free(b);
}

/* ---- encode ---- */

/* Where the encoder is, kept as one frame per level and written out only
 * for an error message (.a.b[2]): formatting it for every value cost more
 * than encoding the value. A key points into a string the table being
 * encoded keeps alive. */
typedef struct {
  const char *key; /* NULL: an array index */
  size_t klen;
  lua_Integer index;
} frame;

/* where a top-level key's value lies in the text (json.encode_fields) */
typedef struct {
  const char *key;
  size_t klen, start, end;
} span;
#define MAX_SPANS 64

typedef struct {
  lua_State *L;
  ce_buf *b;
  shared_buf *held; /* b is the state's shared buffer: given back before an error */
  int top; /* frames[1..top] lead to the value being encoded */
  frame frames[MAX_DEPTH + 2];
  span *spans; /* NULL: not asked for */
  int nspans;
} encoder;

#define PATH_MAX_LEN 511 /* longer paths are cut, as they always were */

static int enc_error(encoder *e, const char *what) {
  lua_State *L = e->L;
  give_buf(e->held, e->b);
  e->held = NULL;
  if (e->top == 0) return luaL_error(L, "json.encode: %s at the top level", what);
  luaL_Buffer pb;
  luaL_buffinit(L, &pb);
  size_t len = 0;
  for (int i = 1; i <= e->top && len < PATH_MAX_LEN; i++) {
    char tmp[32];
    const char *part;
    size_t n;
    if (e->frames[i].key) {
      luaL_addchar(&pb, '.');
      len++;
      part = e->frames[i].key;
      n = e->frames[i].klen;
    } else {
      n = (size_t)snprintf(tmp, sizeof tmp, "[%lld]", (long long)e->frames[i].index);
      part = tmp;
    }
    if (len + n > PATH_MAX_LEN) n = PATH_MAX_LEN - len;
    luaL_addlstring(&pb, part, n);
    len += n;
  }
  luaL_pushresult(&pb);
  return luaL_error(L, "json.encode: %s at %s", what, lua_tostring(L, -1));
}

typedef struct {
  const char *s;
  size_t n;
  int is_int;
  lua_Integer i;
  int vidx; /* the value's stack index (small objects) */
} keyent;

/* Byte order, as memcmp gives it; most keys of an object differ in their
 * first byte, which is compared here without a call */
static inline int key_cmp(const void *a, const void *b) {
  const keyent *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  if (n && x->s[0] != y->s[0]) return (unsigned char)x->s[0] < (unsigned char)y->s[0] ? -1 : 1;
  int c = memcmp(x->s, y->s, n);
  if (c) return c;
  return (x->n > y->n) - (x->n < y->n);
}

static void encode_value(encoder *e, int idx, int depth);

#define SMALL_OBJECT 32

static void sort_keys(keyent *ks, size_t count) {
  if (count > SMALL_OBJECT) {
    qsort(ks, count, sizeof *ks, key_cmp);
    return;
  }
  for (size_t i = 1; i < count; i++) { /* insertion sort: most objects have a few keys */
    keyent t = ks[i];
    size_t j = i;
    for (; j > 0 && key_cmp(&ks[j - 1], &t) > 0; j--) ks[j] = ks[j - 1];
    ks[j] = t;
  }
}

static void write_key_value(encoder *e, keyent *prev, keyent *k, frame *child, int vidx, int depth) {
  lua_State *L = e->L;
  if (prev) {
    if (key_cmp(prev, k) == 0) enc_error(e, lua_pushfstring(L, "key '%s' given twice (as a string and a number)", k->s));
    ce_buf_addc(e->b, ',');
  }
  ce_json_write_string(e->b, k->s, k->n);
  ce_buf_addc(e->b, ':');
  child->key = k->s;
  child->klen = k->n;
  e->top = depth + 1;
  size_t start = e->b->len;
  encode_value(e, vidx, depth + 1);
  e->top = depth;
  /* a string key stays alive in the table; an integer key's decimal text
   * may not. Lists and objects only: what the labels hash (a number's or a
   * text's span made a string a field, each request, for nothing) */
  if (depth == 0 && e->spans && e->nspans < MAX_SPANS && !k->is_int && lua_type(L, vidx) == LUA_TTABLE)
    e->spans[e->nspans++] = (span){k->s, k->n, start, e->b->len};
}

/* An object of 1..SMALL_OBJECT keys in one traversal: each key and value
 * stays on the stack, so no count pass and no lookup of each value again
 * by its key. 0 (stack as it was) for an empty or bigger table. */
static int encode_small_object(encoder *e, int idx, int depth, frame *child) {
  lua_State *L = e->L;
  luaL_checkstack(L, 2 * SMALL_OBJECT + 8, "json.encode: nested too deep");
  int base = lua_gettop(L);
  keyent ks[SMALL_OBJECT];
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* ... key value */
    if (count == SMALL_OBJECT) {
      lua_settop(L, base);
      return 0;
    }
    lua_pushvalue(L, -2); /* the copy lua_next goes on from: key value key */
    keyent *k = &ks[count];
    k->vidx = lua_gettop(L) - 1;
    if (lua_type(L, -3) == LUA_TSTRING) {
      k->s = lua_tolstring(L, -3, &k->n);
      k->is_int = 0;
    } else if (lua_isinteger(L, -3)) {
      k->is_int = 1;
      k->i = lua_tointeger(L, -3);
      lua_pushfstring(L, "%I", (LUAI_UACINT)k->i);
      lua_replace(L, -4); /* the decimal string takes the key's place */
      k->s = lua_tolstring(L, -3, &k->n);
    } else {
      const char *tn = luaL_typename(L, -3);
      enc_error(e, lua_pushfstring(L, "a table key of type %s (JSON keys are strings)", tn));
    }
    count++;
  }
  if (count == 0) {
    lua_settop(L, base);
    return 0;
  }
  sort_keys(ks, count);
  ce_buf_addc(e->b, '{');
  for (size_t i = 0; i < count; i++) write_key_value(e, i ? &ks[i - 1] : NULL, &ks[i], child, ks[i].vidx, depth);
  ce_buf_addc(e->b, '}');
  lua_settop(L, base);
  return 1;
}

/* 1 when t[1..n] are the only keys (n > 0), setting *n. */
static int is_sequence(lua_State *L, int idx, lua_Integer *n) {
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  if (len == 0) return 0;
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1)) { lua_pop(L, 1); return 0; }
    lua_Integer k = lua_tointeger(L, -1);
    if (k < 1 || k > len) { lua_pop(L, 1); return 0; }
    count++;
  }
  *n = len;
  return count == len;
}

static void encode_table(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  if (depth > MAX_DEPTH) enc_error(e, "nested too deep (a cycle?)");
  luaL_checkstack(L, 8, "json.encode: nested too deep");
  frame *child = &e->frames[depth + 1];
  lua_Integer n;
  if (is_sequence(L, idx, &n)) {
    ce_buf_addc(e->b, '[');
    for (lua_Integer i = 1; i <= n; i++) {
      if (i > 1) ce_buf_addc(e->b, ',');
      lua_rawgeti(L, idx, i);
      child->key = NULL;
      child->index = i;
      e->top = depth + 1;
      encode_value(e, lua_gettop(L), depth + 1);
      e->top = depth;
      lua_pop(L, 1);
    }
    ce_buf_addc(e->b, ']');
    return;
  }
  if (encode_small_object(e, idx, depth, child)) return;
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
  }
  if (count == 0) {
    int is_array = 0;
    if (lua_getmetatable(L, idx)) {
      luaL_getmetatable(L, ARRAY_MT);
      is_array = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
    }
    ce_buf_adds(e->b, is_array ? "[]" : "{}");
    return;
  }
  /* big objects sort their keys in a userdata (collected if an error unwinds) */
  keyent small[SMALL_OBJECT];
  keyent *ks = small;
  int pushed = 0;
  if (count > sizeof small / sizeof small[0]) {
    ks = lua_newuserdatauv(L, count * sizeof *ks, 0);
    pushed++;
  }
  int conv = 0; /* a table keeping integer keys' decimal strings alive, made on demand */
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      ks[k].s = lua_tolstring(L, -1, &ks[k].n);
      ks[k].is_int = 0;
    } else if (lua_isinteger(L, -1)) {
      if (!conv) {
        lua_newtable(L);
        lua_insert(L, -2); /* below the iteration key */
        conv = lua_gettop(L) - 1;
        pushed++;
      }
      ks[k].is_int = 1;
      ks[k].i = lua_tointeger(L, -1);
      lua_pushfstring(L, "%I", (LUAI_UACINT)ks[k].i);
      ks[k].s = lua_tolstring(L, -1, &ks[k].n);
      lua_rawseti(L, conv, (lua_Integer)k + 1);
    } else {
      const char *tn = luaL_typename(L, -1); /* the key's type, not the table's below it */
      enc_error(e, lua_pushfstring(L, "a table key of type %s (JSON keys are strings)", tn));
    }
    k++;
  }
  sort_keys(ks, count);
  ce_buf_addc(e->b, '{');
  for (size_t i = 0; i < count; i++) {
    if (ks[i].is_int) lua_pushinteger(L, ks[i].i);
    else lua_pushlstring(L, ks[i].s, ks[i].n);
    lua_rawget(L, idx);
    write_key_value(e, i ? &ks[i - 1] : NULL, &ks[i], child, lua_gettop(L), depth);
    lua_pop(L, 1);
  }
  ce_buf_addc(e->b, '}');
  lua_pop(L, pushed); /* conv and the key array, when made */
}

static void encode_value(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: ce_buf_adds(e->b, "null"); break;
    case LUA_TBOOLEAN: ce_buf_adds(e->b, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) ce_json_write_int(e->b, (int64_t)lua_tointeger(L, idx));
      else if (ce_json_write_double(e->b, (double)lua_tonumber(L, idx)) != 0)
        enc_error(e, "NaN or infinity (not JSON)");
      break;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      ce_json_write_string(e->b, s, n);
      break;
    }
    case LUA_TTABLE: encode_table(e, idx, depth); break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) {
        ce_buf_adds(e->b, "null");
        break;
      }
      /* FALLTHROUGH */
    default: enc_error(e, lua_pushfstring(L, "a value of type %s", luaL_typename(L, idx)));
  }
  if (e->b->oom) enc_error(e, "out of memory");
}

static int json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  encoder e;
  e.top = 0;
  e.L = L;
  e.spans = NULL;
  e.b = take_buf(L, &e.held);
  encode_value(&e, 1, 0);
  lua_pushlstring(L, e.b->data ? e.b->data : "", e.b->len);
  give_buf(e.held, e.b);
  return 1;
}

void ce_lua_json_encode_into(lua_State *L, int idx, ce_buf *out) {
  encoder e;
  e.top = 0;
  e.L = L;
  e.spans = NULL;
  e.held = NULL;
  e.b = out;
  out->len = 0;
  out->oom = 0;
  encode_value(&e, lua_absindex(L, idx), 0);
}

/* json.encode_fields(t) -> text, { key = the text of t[key] in it } for the
 * string keys of a top-level object (the first 64) whose value is a table
 * (a list or object): json.encode(t[key]) for each, without encoding any of
 * them again (a request's cache labels hash its messages as encoded in the
 * body; its other fields they write as tostring does). */
static int json_encode_fields(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  span spans[MAX_SPANS];
  encoder e;
  e.top = 0;
  e.L = L;
  e.spans = spans;
  e.nspans = 0;
  e.b = take_buf(L, &e.held);
  encode_value(&e, 1, 0);
  const char *text = e.b->data ? e.b->data : "";
  lua_pushlstring(L, text, e.b->len);
  lua_createtable(L, 0, e.nspans);
  /* the keys point into strings t holds: t is still at index 1 */
  for (int i = 0; i < e.nspans; i++) {
    lua_pushlstring(L, spans[i].key, spans[i].klen);
    lua_pushlstring(L, text + spans[i].start, spans[i].end - spans[i].start);
    lua_rawset(L, -3);
  }
  give_buf(e.held, e.b);
  return 2;
}

/* ---- decode ---- */

#define MAX_KEEP 32

typedef struct {
  lua_State *L;
  int depth;
  /* keep: only these keys of a top-level object are built (nkeep >= 0);
   * the others are still parsed (CE_JSON_SKIP), so the text is checked all
   * the same */
  int nkeep;
  const char *keep[MAX_KEEP];
  size_t keep_len[MAX_KEEP];
  char is_object[512];
  lua_Integer count[512]; /* items already in the level's table */
  int slot[512];          /* the level's stack slot: nil until its table is made */
} decoder;

/* A container's items wait on the stack above its slot, and go into a
 * table made at its close with room for all of them: tables grown a key
 * at a time were rehashed over and over (a question is mostly small
 * objects and arrays). A long container moves its items every FLUSH_AT. */
#define FLUSH_AT 256

static void flush(decoder *d, int level) {
  lua_State *L = d->L;
  int slot = d->slot[level], top = lua_gettop(L);
  int obj = d->is_object[level];
  int n = obj ? (top - slot) / 2 : top - slot;
  if (lua_isnil(L, slot)) {
    lua_createtable(L, obj ? 0 : n, obj ? n : 0);
    lua_replace(L, slot);
  }
  if (obj) {
    for (int i = slot + 1; i < top; i += 2) {
      lua_pushvalue(L, i);
      lua_pushvalue(L, i + 1);
      lua_rawset(L, slot);
    }
  } else {
    for (int i = slot + 1; i <= top; i++) {
      lua_pushvalue(L, i);
      lua_rawseti(L, slot, ++d->count[level]);
    }
  }
  lua_settop(L, slot);
}

/* the value on top stays on the stack as an item of the container below */
static int store(decoder *d) {
  if (d->depth == 0) return 0; /* the top-level value stays on the stack */
  int level = d->depth - 1;
  if (lua_gettop(d->L) - d->slot[level] >= FLUSH_AT) flush(d, level);
  return 0;
}

/* room for a key and a value more */
static int room(decoder *d) { return lua_checkstack(d->L, 4) ? 0 : 1; }

static int d_null(void *ud) {
  decoder *d = ud;
  if (room(d)) return 1;
  lua_pushlightuserdata(d->L, NULL);
  return store(d);
}
static int d_bool(void *ud, int v) {
  decoder *d = ud;
  if (room(d)) return 1;
  lua_pushboolean(d->L, v);
  return store(d);
}
static int d_int(void *ud, int64_t v) {
  decoder *d = ud;
  if (room(d)) return 1;
  lua_pushinteger(d->L, (lua_Integer)v);
  return store(d);
}
static int d_num(void *ud, double v) {
  decoder *d = ud;
  if (room(d)) return 1;
  lua_pushnumber(d->L, (lua_Number)v);
  return store(d);
}
static int d_str(void *ud, const char *s, size_t n) {
  decoder *d = ud;
  if (room(d)) return 1;
  lua_pushlstring(d->L, s, n);
  return store(d);
}
static int d_key(void *ud, const char *s, size_t n) {
  decoder *d = ud;
  if (d->depth == 1 && d->nkeep >= 0) {
    int kept = 0;
    for (int i = 0; i < d->nkeep && !kept; i++) kept = d->keep_len[i] == n && memcmp(d->keep[i], s, n) == 0;
    if (!kept) return CE_JSON_SKIP;
  }
  if (room(d)) return 1;
  lua_pushlstring(d->L, s, n);
  return 0;
}
static int d_open(decoder *d, int is_object) {
  if (d->depth >= 511 || room(d)) return 1;
  lua_pushnil(d->L);
  d->slot[d->depth] = lua_gettop(d->L);
  d->is_object[d->depth] = (char)is_object;
  d->count[d->depth] = 0;
  d->depth++;
  return 0;
}
static int d_begin_array(void *ud) { return d_open(ud, 0); }
static int d_begin_object(void *ud) { return d_open(ud, 1); }
static int d_close(void *ud) {
  decoder *d = ud;
  d->depth--;
  flush(d, d->depth);
  /* an empty array stays an array when encoded again */
  if (!d->is_object[d->depth] && d->count[d->depth] == 0) luaL_setmetatable(d->L, ARRAY_MT);
  return store(d);
}

static const ce_json_handler handler = {
  d_null, d_bool, d_int, d_num, d_str, d_begin_array, d_close, d_begin_object, d_key, d_close,
};

/* json.decode(text [, name [, keep]]) -> value | nil, "name:line:column: message".
 * keep, a list of key names: of a top-level object only those keys are
 * built (a reader that needs a few fields of a large object skips making
 * the rest; the whole text is still checked). */
static int json_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "<json>");
  int has_keep = !lua_isnoneornil(L, 3);
  if (has_keep) luaL_checktype(L, 3, LUA_TTABLE);
  decoder dec, *d = &dec; /* on the C stack: nothing in it needs freeing if an error unwinds */
  d->L = L;
  d->depth = 0;
  d->nkeep = -1;
  if (has_keep) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
    if (n > MAX_KEEP) return luaL_argerror(L, 3, "more than 32 keys to keep");
    d->nkeep = 0;
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, 3, i);
      if (lua_type(L, -1) != LUA_TSTRING) return luaL_argerror(L, 3, "a list of key names");
      /* the strings stay alive in the keep table */
      d->keep[d->nkeep] = lua_tolstring(L, -1, &d->keep_len[d->nkeep]);
      d->nkeep++;
      lua_pop(L, 1);
    }
  }
  shared_buf *held;
  ce_buf *scratch = take_buf(L, &held);
  int base = lua_gettop(L);
  ce_err e;
  int rc = ce_json_parse(text, len, name, 500, &handler, d, scratch, &e);
  give_buf(held, scratch);
  if (rc != 0) {
    lua_settop(L, base);
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  return 1;
}

/* json.array(t) -> t, marked to encode as [] even when empty */
static int json_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_setmetatable(L, ARRAY_MT);
  return 1;
}

static const luaL_Reg json_funcs[] = {
  {"encode", json_encode}, {"encode_fields", json_encode_fields}, {"decode", json_decode}, {"array", json_array},
  {"picker", ce_lua_json_picker}, {"null", NULL}, {"container", NULL}, {NULL, NULL}
};

/* the metatable that frees a buffer userdata's bytes, made once per state */
static void buffer_metatable(lua_State *L) {
  if (luaL_newmetatable(L, BUF_MT)) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
}

ce_buf *ce_lua_json_buffer(lua_State *L, const void *key) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TUSERDATA) {
    ce_buf *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return b;
  }
  lua_pop(L, 1);
  buffer_metatable(L);
  ce_buf *b = new_buf(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  return b;
}

int luaopen_causal_eval_json(lua_State *L) {
  buffer_metatable(L);
  luaL_newmetatable(L, ARRAY_MT);
  lua_pop(L, 1);
  luaL_newlibtable(L, json_funcs);
  shared_buf *sb = lua_newuserdatauv(L, sizeof *sb, 0);
  ce_buf_init(&sb->b);
  sb->busy = 0;
  luaL_setmetatable(L, BUF_MT);
  luaL_setfuncs(L, json_funcs, 1);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  ce_lua_json_push_container(L);
  lua_setfield(L, -2, "container");
  return 1;
}
