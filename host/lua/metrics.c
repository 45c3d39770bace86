/* SPDX-License-Identifier: MIT */
/* causal_eval.metrics: the process's metrics registry (host/core/metrics),
 * the same from every thread's Lua state.
 *
 *   local h = metrics.histogram("causal_eval_duration_seconds", "...", {"model_name", "task_type"})
 *   h:observe(0.42, { model_name = "gpt-4", task_type = "ladder" })   -- or h:record_measurement
 *   local s = h:labels("gpt-4", "ladder"); s:observe(0.42)           -- a handle: no lookup
 *   metrics.counter(name, help, labels):inc(1, tags)
 *   metrics.gauge(name, help, labels):set(v, tags)
 *   h:quantile(0.95, tags); metrics.expose(); metrics.serve{ port = 9464, bind = "127.0.0.1" }
 */
#include <lauxlib.h>
#include <lua.h>

#include <math.h>
#include <string.h>

#include "core/observe/metrics.h"
#include "core/observe/metrics_http.h"
#include "modules.h"
#include "udata.h"

#define METRIC_MT "causal_eval.metric"
#define SERIES_MT "causal_eval.metric_series"
#define SERVER_MT "causal_eval.metrics_server"

typedef struct { ce_metric *m; } LMetric;
typedef struct { ce_series *s; ce_metric_kind kind; } LSeries;
typedef struct { ce_metrics_server *s; } LServer;

static int reg(lua_State *L, ce_metric_kind kind) {
  const char *name = luaL_checkstring(L, 1);
  const char *help = luaL_optstring(L, 2, "");
  const char *labels[CE_METRIC_MAX_LABELS];
  int n = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    n = (int)luaL_len(L, 3);
    if (n > CE_METRIC_MAX_LABELS) return luaL_error(L, "%s: at most %d labels", name, CE_METRIC_MAX_LABELS);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, 3, i + 1);
      labels[i] = luaL_checkstring(L, -1);
      lua_pop(L, 1); /* the table keeps it */
    }
  }
  double buckets[CE_METRIC_MAX_BUCKETS];
  int nb = 0;
  if (kind == CE_HISTOGRAM && lua_istable(L, 4)) {
    nb = (int)luaL_len(L, 4);
    if (nb > CE_METRIC_MAX_BUCKETS) return luaL_error(L, "%s: at most %d buckets", name, CE_METRIC_MAX_BUCKETS);
    for (int i = 0; i < nb; i++) {
      lua_rawgeti(L, 4, i + 1);
      buckets[i] = luaL_checknumber(L, -1);
      lua_pop(L, 1);
    }
  }
  ce_err e;
  ce_metric *m = ce_metric_register(kind, name, help, labels, n, nb ? buckets : NULL, nb, &e);
  if (!m) return luaL_error(L, "%s", e.msg);
  LMetric *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->m = m;
  luaL_setmetatable(L, METRIC_MT);
  return 1;
}

static int f_counter(lua_State *L) { return reg(L, CE_COUNTER); }
static int f_gauge(lua_State *L) { return reg(L, CE_GAUGE); }
static int f_histogram(lua_State *L) { return reg(L, CE_HISTOGRAM); }

/* The series for label values given as a table {name = value} at idx, or
 * positionally from idx on. */
static ce_series *series_at(lua_State *L, ce_metric *m, int idx) {
  int n = ce_metric_nlabels(m);
  const char *values[CE_METRIC_MAX_LABELS];
  size_t lens[CE_METRIC_MAX_LABELS];
  if (lua_istable(L, idx)) {
    for (int i = 0; i < n; i++) {
      const char *label = ce_metric_label_name(m, i);
      lua_getfield(L, idx, label);
      if (lua_isnil(L, -1)) luaL_error(L, "missing label '%s'", label);
      values[i] = luaL_tolstring(L, -1, &lens[i]);
      lua_replace(L, -2); /* keep the string on the stack */
    }
  } else {
    if (n > 0 && lua_gettop(L) < idx + n - 1) luaL_error(L, "expected %d label values", n);
    for (int i = 0; i < n; i++) values[i] = luaL_tolstring(L, idx + i, &lens[i]);
  }
  ce_series *s = ce_metric_series(m, values, lens);
  if (!s) luaL_error(L, "metrics: out of memory");
  return s;
}

static ce_metric *check_metric(lua_State *L) { return ((LMetric *)ce_checkudata(L, 1, METRIC_MT))->m; }

static int m_labels(lua_State *L) {
  ce_metric *m = check_metric(L);
  ce_series *s = series_at(L, m, 2);
  LSeries *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = s;
  u->kind = ce_metric_kind_of(m);
  luaL_setmetatable(L, SERIES_MT);
  return 1;
}

static void check_update(lua_State *L, ce_metric_kind kind, const char *op) {
  int ok = (strcmp(op, "observe") == 0) ? kind == CE_HISTOGRAM
           : (strcmp(op, "set") == 0)   ? kind == CE_GAUGE
                                        : kind != CE_HISTOGRAM;
  if (!ok) luaL_error(L, "a %s has no %s", kind == CE_COUNTER ? "counter" : kind == CE_GAUGE ? "gauge" : "histogram", op);
}

static void apply(lua_State *L, ce_series *s, ce_metric_kind kind, const char *op, double v) {
  check_update(L, kind, op);
  if (strcmp(op, "observe") == 0) ce_series_observe(s, v);
  else if (strcmp(op, "set") == 0) ce_series_set(s, v);
  else {
    if (kind == CE_COUNTER && v < 0) luaL_error(L, "a counter only goes up");
    ce_series_add(s, v);
  }
}

/* m:inc([n], [tags]) m:add(v, tags) m:set(v, tags) m:observe(v, tags) */
static int m_update(lua_State *L, const char *op, double dflt) {
  ce_metric *m = check_metric(L);
  double v = dflt;
  int tags = 2;
  if (lua_isnumber(L, 2)) {
    v = lua_tonumber(L, 2);
    tags = 3;
  } else if (strcmp(op, "inc") != 0) {
    luaL_checknumber(L, 2);
  }
  ce_series *s = series_at(L, m, tags);
  apply(L, s, ce_metric_kind_of(m), strcmp(op, "inc") == 0 ? "add" : op, v);
  return 0;
}
static int m_inc(lua_State *L) { return m_update(L, "inc", 1); }
static int m_add(lua_State *L) { return m_update(L, "add", 0); }
static int m_set(lua_State *L) { return m_update(L, "set", 0); }
static int m_observe(lua_State *L) { return m_update(L, "observe", 0); }

static int m_value(lua_State *L) {
  ce_metric *m = check_metric(L);
  lua_pushnumber(L, ce_series_value(series_at(L, m, 2)));
  return 1;
}

static int m_quantile(lua_State *L) {
  ce_metric *m = check_metric(L);
  double q = luaL_checknumber(L, 2);
  luaL_argcheck(L, q >= 0 && q <= 1, 2, "a quantile is between 0 and 1");
  double v = ce_series_quantile(series_at(L, m, 3), q);
  if (isnan(v)) lua_pushnil(L);
  else lua_pushnumber(L, v);
  return 1;
}

static int m_sum(lua_State *L) {
  ce_metric *m = check_metric(L);
  lua_pushnumber(L, ce_series_sum(series_at(L, m, 2)));
  return 1;
}

/* ---- series handles ---- */

static LSeries *check_series(lua_State *L) { return ce_checkudata(L, 1, SERIES_MT); }

static int s_update(lua_State *L, const char *op, double dflt) {
  LSeries *u = check_series(L);
  double v = strcmp(op, "inc") == 0 ? luaL_optnumber(L, 2, dflt) : luaL_checknumber(L, 2);
  apply(L, u->s, u->kind, strcmp(op, "inc") == 0 ? "add" : op, v);
  return 0;
}
static int s_inc(lua_State *L) { return s_update(L, "inc", 1); }
static int s_add(lua_State *L) { return s_update(L, "add", 0); }
static int s_set(lua_State *L) { return s_update(L, "set", 0); }
static int s_observe(lua_State *L) { return s_update(L, "observe", 0); }
static int s_value(lua_State *L) {
  lua_pushnumber(L, ce_series_value(check_series(L)->s));
  return 1;
}
static int s_quantile(lua_State *L) {
  double v = ce_series_quantile(check_series(L)->s, luaL_checknumber(L, 2));
  if (isnan(v)) lua_pushnil(L);
  else lua_pushnumber(L, v);
  return 1;
}

/* ---- module ---- */

static int f_expose(lua_State *L) {
  ce_buf out;
  ce_buf_init(&out);
  ce_metrics_expose(&out);
  lua_pushlstring(L, out.data ? out.data : "", out.len);
  ce_buf_free(&out);
  return 1;
}

static int f_serve(lua_State *L) {
  const char *bind = "127.0.0.1";
  int port = 0;
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "bind");
    if (!lua_isnil(L, -1)) bind = luaL_checkstring(L, -1);
    lua_getfield(L, 1, "port");
    port = (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 2); /* bind stays referenced by the table */
  }
  luaL_argcheck(L, port >= 0 && port <= 65535, 1, "port out of range");
  ce_err e;
  ce_metrics_server *s = ce_metrics_serve(bind, port, &e);
  if (!s) {
    luaL_pushfail(L);
    lua_pushstring(L, e.msg);
    return 2;
  }
  LServer *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = s;
  luaL_setmetatable(L, SERVER_MT);
  return 1;
}

static int srv_port(lua_State *L) {
  LServer *u = ce_checkudata(L, 1, SERVER_MT);
  if (!u->s) return luaL_error(L, "the metrics server is stopped");
  lua_pushinteger(L, ce_metrics_server_port(u->s));
  return 1;
}

static int srv_stop(lua_State *L) {
  LServer *u = ce_checkudata(L, 1, SERVER_MT);
  if (u->s) ce_metrics_server_stop(u->s);
  u->s = NULL;
  return 0;
}

static void new_mt(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  if (gc) {
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
}

int luaopen_causal_eval_metrics(lua_State *L) {
  static const luaL_Reg metric_m[] = {
    {"labels", m_labels}, {"inc", m_inc}, {"add", m_add}, {"set", m_set}, {"observe", m_observe},
    {"record_measurement", m_observe}, {"value", m_value}, {"quantile", m_quantile}, {"sum", m_sum}, {NULL, NULL}};
  static const luaL_Reg series_m[] = {{"inc", s_inc}, {"add", s_add}, {"set", s_set}, {"observe", s_observe},
                                      {"value", s_value}, {"quantile", s_quantile}, {NULL, NULL}};
  static const luaL_Reg server_m[] = {{"port", srv_port}, {"stop", srv_stop}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"counter", f_counter}, {"gauge", f_gauge}, {"histogram", f_histogram},
                                   {"expose", f_expose},   {"serve", f_serve}, {NULL, NULL}};
  new_mt(L, METRIC_MT, metric_m, NULL);
  new_mt(L, SERIES_MT, series_m, NULL);
  new_mt(L, SERVER_MT, server_m, srv_stop);
  luaL_newlib(L, funcs);
  return 1;
}
