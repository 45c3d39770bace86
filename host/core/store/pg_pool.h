/* SPDX-License-Identifier: MIT */
/* Connections to one PostgreSQL server, shared by the threads of a process
 * the way SQLAlchemy's QueuePool shares them: up to pool_size stay open
 * when idle, up to max_overflow more are opened under load and closed when
 * given back, a checkout waits at most pool_timeout seconds for one to come
 * back, and a connection older than pool_recycle seconds is replaced at
 * checkout (a server or proxy may drop long-lived ones). Every connection
 * runs with the pool's statement_timeout. No Lua here. */
#ifndef CE_PG_POOL_H
#define CE_PG_POOL_H

#include "core/store/pq_lazy.h"
#include "core/util/err.h"

typedef struct {
  int pool_size, max_overflow;
  double pool_timeout;      /* seconds */
  double pool_recycle;      /* seconds; <= 0: never */
  double statement_timeout; /* seconds; 0: none */
  double connect_timeout;   /* seconds; 0: libpq's default (none) */
} ce_pg_pool_cfg;

typedef struct ce_pg_conn {
  PGconn *pg;
  double born;   /* monotonic clock at connect */
  int staged;    /* the writer's temporary tables exist on it */
  int broken;    /* set by a user that saw it fail: closed when given back */
  struct ce_pg_conn *next;
} ce_pg_conn;

typedef struct ce_pg_pool ce_pg_pool;

/* Takes no connection yet. url: postgresql://...; app: application_name. */
ce_pg_pool *ce_pg_pool_new(const char *url, const char *app, const ce_pg_pool_cfg *cfg, ce_err *err);
void ce_pg_pool_free(ce_pg_pool *p); /* every connection must be back */
/* A connection, or NULL + err: the server refused or could not be reached
 * (err->code CE_PG_EDOWN), or all were in use for pool_timeout. */
ce_pg_conn *ce_pg_pool_get(ce_pg_pool *p, ce_err *err);
/* Gives c back; a broken one (c->broken, or libpq says so) is closed. */
void ce_pg_pool_put(ce_pg_pool *p, ce_pg_conn *c);
/* The server as messages name it: the URL without its password. */
const char *ce_pg_pool_name(const ce_pg_pool *p);

typedef struct {
  int open, idle, peak_open;
  unsigned long connects, waits, timeouts;
} ce_pg_pool_stats;
void ce_pg_pool_get_stats(ce_pg_pool *p, ce_pg_pool_stats *out);

/* err codes: the server is down or unreachable (a retry may work), or the
 * pool had no free connection in time */
enum { CE_PG_EDOWN = 20, CE_PG_EBUSY = 21 };
/* returned where a retry may work: the server could not be reached, the
 * connection was lost, or it was busy (a deadlock, too many connections) */
enum { CE_PG_RETRY = -2 };

/* A server's message on one line: libpq's newlines and tabs as single spaces, none at the end. */
void ce_pg_one_line(char *m);
/* The URL with any password replaced by "***" (also password=...). */
void ce_pg_redact(const char *url, char *out, size_t n);
/* 0 when url is a postgresql:// (or postgres://) URL libpq can parse;
 * -1 + err naming what is wrong. Loads libpq. */
int ce_pg_check_url(const char *url, ce_err *err);

#endif
