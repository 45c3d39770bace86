/* SPDX-License-Identifier: MIT */
/* causal_eval.yaml: thin binding over host/core/yaml_tree. Aliases become
 * copies (each visit of a shared node builds fresh tables), nulls become
 * yaml.null (a NULL light userdata, equal to cjson.null) so that keys with null
 * values survive in Lua tables. */
#include <lauxlib.h>
#include <lua.h>

#include <string.h>

#include "core/util/yaml_tree.h"
#include "modules.h"
#include "udata.h"

#define WALK_MT "causal_eval.yaml_walk"

typedef struct {
  ce_yaml_stream *s;    /* owned until the conversion finishes: freed by __gc if it raises */
  int marks;            /* stack index of the marks table, 0 when not wanted */
  char path[1024];
  size_t len;
  int overflow;         /* path too long: stop recording marks below */
} walk;

static void set_mark(lua_State *L, walk *w, const ce_yaml_node *key, const ce_yaml_node *val) {
  if (!w->marks || w->overflow) return;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, val->line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, val->col);
  lua_setfield(L, -2, "column");
  if (key) {
    lua_pushinteger(L, key->line);
    lua_setfield(L, -2, "key_line");
    lua_pushinteger(L, key->col);
    lua_setfield(L, -2, "key_column");
  }
  lua_setfield(L, w->marks, w->path); /* marks[path] = {..} */
}

/* Appends ".seg" (or "seg" at the root); returns the old length to restore. */
static size_t path_push(walk *w, const char *seg, size_t n) {
  size_t old = w->len;
  size_t need = (old ? 1 : 0) + n;
  if (w->overflow || old + need + 1 > sizeof w->path) {
    w->overflow++;
    return old;
  }
  if (old) w->path[w->len++] = '.';
  memcpy(w->path + w->len, seg, n);
  w->len += n;
  w->path[w->len] = '\0';
  return old;
}

static void path_pop(walk *w, size_t old) {
  if (w->overflow) { w->overflow--; return; }
  w->len = old;
  w->path[old] = '\0';
}

static void push_scalar(lua_State *L, const ce_yaml_node *n) {
  switch (n->kind) {
    case CE_YAML_NULL: lua_pushlightuserdata(L, NULL); break;
    case CE_YAML_BOOL: lua_pushboolean(L, n->u.b); break;
    case CE_YAML_INT: lua_pushinteger(L, (lua_Integer)n->u.i); break;
    case CE_YAML_FLOAT: lua_pushnumber(L, (lua_Number)n->u.f); break;
    case CE_YAML_STR: lua_pushlstring(L, n->u.str.s, n->u.str.len); break;
    default: lua_pushnil(L); break;
  }
}

static void key_text(const ce_yaml_node *k, char *buf, size_t size, const char **s, size_t *n) {
  if (k->kind == CE_YAML_STR) { *s = k->u.str.s; *n = k->u.str.len; return; }
  int w = 0;
  if (k->kind == CE_YAML_INT) w = snprintf(buf, size, "%lld", (long long)k->u.i);
  else if (k->kind == CE_YAML_FLOAT) w = snprintf(buf, size, "%.17g", k->u.f);
  else if (k->kind == CE_YAML_BOOL) w = snprintf(buf, size, "%s", k->u.b ? "true" : "false");
  *s = buf;
  *n = w > 0 ? (size_t)w : 0;
}

static void push_node(lua_State *L, const ce_yaml_node *n, walk *w) {
  luaL_checkstack(L, 6, "YAML document too deep");
  if (n->kind == CE_YAML_SEQ) {
    lua_createtable(L, (int)n->u.seq.n, 0);
    for (size_t i = 0; i < n->u.seq.n; i++) {
      char idx[32];
      int len = snprintf(idx, sizeof idx, "%zu", i + 1);
      size_t old = path_push(w, idx, (size_t)len);
      set_mark(L, w, NULL, n->u.seq.items[i]);
      push_node(L, n->u.seq.items[i], w);
      lua_rawseti(L, -2, (lua_Integer)i + 1); /* t[i] = v */
      path_pop(w, old);
    }
  } else if (n->kind == CE_YAML_MAP) {
    lua_createtable(L, 0, (int)(n->u.seq.n / 2));
    for (size_t i = 0; i + 1 < n->u.seq.n; i += 2) {
      const ce_yaml_node *k = n->u.seq.items[i], *v = n->u.seq.items[i + 1];
      char buf[64];
      const char *s;
      size_t len;
      key_text(k, buf, sizeof buf, &s, &len);
      size_t old = path_push(w, s, len);
      set_mark(L, w, k, v);
      push_scalar(L, k);
      push_node(L, v, w);
      lua_rawset(L, -3); /* t[k] = v */
      path_pop(w, old);
    }
  } else {
    push_scalar(L, n);
  }
}

/* The option on top of the stack as an integer. luaL_checkinteger would blame
 * "argument #-1"; this names the options argument and the field. */
static lua_Integer opt_integer(lua_State *L, int idx, const char *field) {
  int isint;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (!isint) {
    const char *msg = lua_type(L, -1) == LUA_TNUMBER
        ? lua_pushfstring(L, "%s must be an integer", field)
        : lua_pushfstring(L, "%s: integer expected, got %s", field, luaL_typename(L, -1));
    luaL_argerror(L, idx, msg);
  }
  return v;
}

/* A misspelled option must not be silently ignored. */
static void check_option_names(lua_State *L, int idx, int with_filename) {
  static const char *const known[] = {"max_size", "max_depth", "max_nodes", "marks", "filename", NULL};
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (int i = 0; known[i]; i++)
        if (strcmp(k, known[i]) == 0 && (with_filename || strcmp(k, "filename") != 0)) ok = 1;
    }
    if (!ok)
      luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'", luaL_tolstring(L, -1, NULL)));
  }
}

static void read_limits(lua_State *L, int idx, ce_yaml_limits *lim, int *marks,
                        const char **name) {
  memset(lim, 0, sizeof *lim);
  *marks = 0;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  check_option_names(L, idx, name != NULL);
  if (lua_getfield(L, idx, "max_size") != LUA_TNIL) {
    lua_Integer v = opt_integer(L, idx, "max_size");
    luaL_argcheck(L, v > 0, idx, "max_size must be positive");
    lim->max_size = (size_t)v;
  }
  if (lua_getfield(L, idx, "max_depth") != LUA_TNIL) {
    lua_Integer v = opt_integer(L, idx, "max_depth");
    luaL_argcheck(L, v > 0 && v <= 256, idx, "max_depth must be in 1..256");
    lim->max_depth = (unsigned)v;
  }
  if (lua_getfield(L, idx, "max_nodes") != LUA_TNIL) {
    lua_Integer v = opt_integer(L, idx, "max_nodes");
    luaL_argcheck(L, v > 0, idx, "max_nodes must be positive");
    lim->max_nodes = (uint64_t)v;
  }
  *marks = lua_getfield(L, idx, "marks") != LUA_TNIL && lua_toboolean(L, -1);
  if (name && lua_getfield(L, idx, "filename") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, idx, lua_pushfstring(L, "filename: string expected, got %s",
                                            luaL_typename(L, -1)));
    *name = lua_tostring(L, -1);
  }
  lua_pop(L, name ? 5 : 4);
}

static int push_error(lua_State *L, const ce_err *e) {
  static const char *const kinds[] = {"error", "syntax", "schema", "limit", "io", "memory"};
  luaL_pushfail(L);
  lua_pushstring(L, e->msg);
  lua_pushstring(L, e->code >= 0 && e->code <= CE_YAML_ENOMEM ? kinds[e->code] : "error");
  return 3;
}

/* Pushes the result of a parsed stream: one document (all == 0) or a list. */
static walk *new_walk(lua_State *L) {
  walk *w = lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  luaL_setmetatable(L, WALK_MT);
  return w;
}

/* w is at the top of the stack and owns the stream s. */
static int push_stream(lua_State *L, walk *w, ce_yaml_stream *s, int all, int marks, const char *name) {
  size_t nd = ce_yaml_ndocs(s);
  if (!all && nd > 1) {
    const ce_yaml_node *d = ce_yaml_doc(s, 1);
    ce_err e;
    ce_err_setf(&e, CE_YAML_ESCHEMA, name, d->line, d->col,
                "expected one document, found %zu (use load_all)", nd);
    ce_yaml_free(s);
    w->s = NULL;
    return push_error(L, &e);
  }
  int base = lua_gettop(L);
  if (marks) {
    lua_newtable(L);
    w->marks = lua_gettop(L);
  }
  if (all) {
    lua_createtable(L, (int)nd, 0);
    for (size_t i = 0; i < nd; i++) {
      char idx[32];
      int len = snprintf(idx, sizeof idx, "%zu", i + 1);
      w->len = 0;
      w->path[0] = '\0';
      size_t old = path_push(w, idx, (size_t)len);
      set_mark(L, w, NULL, ce_yaml_doc(s, i));
      push_node(L, ce_yaml_doc(s, i), w);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
      path_pop(w, old);
    }
  } else if (nd == 0) {
    lua_pushlightuserdata(L, NULL);
  } else {
    set_mark(L, w, NULL, ce_yaml_doc(s, 0));
    push_node(L, ce_yaml_doc(s, 0), w);
  }
  ce_yaml_free(s);
  w->s = NULL;
  if (marks) {
    lua_pushvalue(L, base + 1); /* marks after the value */
    lua_remove(L, base + 1);
    return 2;
  }
  return 1;
}

static int load_text(lua_State *L, int all) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  ce_yaml_limits lim;
  int marks;
  const char *name = "<string>";
  read_limits(L, 2, &lim, &marks, &name);
  walk *w = new_walk(L); /* before parsing: the stream always has an owner */
  ce_err e;
  ce_yaml_stream *s = ce_yaml_parse(text, len, name, &lim, &e);
  if (!s) return push_error(L, &e);
  w->s = s;
  return push_stream(L, w, s, all, marks, name);
}

static int load_file(lua_State *L, int all) {
  const char *path = luaL_checkstring(L, 1);
  ce_yaml_limits lim;
  int marks;
  read_limits(L, 2, &lim, &marks, NULL);
  walk *w = new_walk(L);
  ce_err e;
  ce_yaml_stream *s = ce_yaml_parse_file(path, &lim, &e);
  if (!s) return push_error(L, &e);
  w->s = s;
  return push_stream(L, w, s, all, marks, path);
}

static int yaml_load(lua_State *L) { return load_text(L, 0); }
static int yaml_load_all(lua_State *L) { return load_text(L, 1); }
static int yaml_load_file(lua_State *L) { return load_file(L, 0); }
static int yaml_load_file_all(lua_State *L) { return load_file(L, 1); }

/* Core-schema resolution of one plain scalar, as `--set key=value` needs. */
static int yaml_resolve(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  ce_yaml_node n;
  memset(&n, 0, sizeof n);
  if (ce_yaml_resolve_plain(s, len, &n) != 0) {
    luaL_pushfail(L);
    lua_pushfstring(L, "integer %s does not fit in 64 bits", s);
    return 2;
  }
  if (n.kind == CE_YAML_STR) lua_pushvalue(L, 1);
  else push_scalar(L, &n);
  return 1;
}

static const luaL_Reg yaml_funcs[] = {
  {"load", yaml_load},
  {"load_all", yaml_load_all},
  {"load_file", yaml_load_file},
  {"load_file_all", yaml_load_file_all},
  {"resolve", yaml_resolve},
  {"null", NULL},
  {NULL, NULL}
};

static int walk_gc(lua_State *L) {
  walk *w = ce_checkudata(L, 1, WALK_MT);
  ce_yaml_free(w->s);
  w->s = NULL;
  return 0;
}

int luaopen_causal_eval_yaml(lua_State *L) {
  luaL_newmetatable(L, WALK_MT);
  lua_pushcfunction(L, walk_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, yaml_funcs);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
