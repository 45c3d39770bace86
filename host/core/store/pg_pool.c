/* SPDX-License-Identifier: MIT */
#include "core/store/pg_pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/clock.h"

struct ce_pg_pool {
  char *url;
  char name[512];
  char app[64];
  ce_pg_pool_cfg cfg;
  pthread_mutex_t lock;
  pthread_cond_t back;
  ce_pg_conn *idle;
  int nidle, open, peak_open;
  unsigned long connects, waits, timeouts;
};

void ce_pg_redact(const char *url, char *out, size_t n) {
  if (!n) return;
  if (!url) url = "";
  /* the password of postgresql://user:password@host: up to the authority's last '@' */
  const char *pw_from = NULL, *pw_to = NULL, *scheme = strstr(url, "://");
  if (scheme) {
    const char *auth = scheme + 3, *at = NULL;
    for (const char *q = auth; *q && !strchr("/?#", *q); q++)
      if (*q == '@') at = q;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon && at > colon + 1) pw_from = colon + 1, pw_to = at;
  }
  size_t o = 0;
  for (const char *q = url; *q;) {
    const char *mask = NULL;
    if (q == pw_from) {
      mask = "***";
      q = pw_to;
    } else if (strncmp(q, "password=", 9) == 0 && (q == url || strchr("?& ", q[-1]))) {
      mask = "password=***";
      q += 9;
      q += strcspn(q, "& ");
    }
    if (mask) {
      for (; *mask && o + 1 < n; mask++) out[o++] = *mask;
      continue;
    }
    if (o + 1 < n) out[o++] = *q;
    q++;
  }
  out[o] = '\0';
}

void ce_pg_one_line(char *m) {
  size_t o = 0;
  for (size_t i = 0; m[i]; i++) {
    char c = m[i] == '\n' || m[i] == '\t' || m[i] == '\r' ? ' ' : m[i];
    if (c == ' ' && (o == 0 || m[o - 1] == ' ')) continue;
    m[o++] = c;
  }
  while (o && m[o - 1] == ' ') o--;
  m[o] = '\0';
}

int ce_pg_check_url(const char *url, ce_err *err) {
  char shown[512];
  ce_pg_redact(url, shown, sizeof shown);
  if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "'%s' is not a PostgreSQL URL (postgresql://[user[:password]@]host[:port]/database)",
                shown);
    return -1;
  }
  if (ce_pq_load(err) != 0) return -1;
  char *why = NULL;
  PQconninfoOption *o = PQconninfoParse(url, &why);
  if (!o) {
    char m[300] = "cannot be parsed";
    if (why) {
      snprintf(m, sizeof m, "%s", why);
      ce_pg_one_line(m);
      PQfreemem(why);
    }
    ce_err_setf(err, 1, NULL, 0, 0, "PostgreSQL URL '%s': %s", shown, m);
    return -1;
  }
  PQconninfoFree(o);
  return 0;
}

ce_pg_pool *ce_pg_pool_new(const char *url, const char *app, const ce_pg_pool_cfg *cfg, ce_err *err) {
  if (ce_pg_check_url(url, err) != 0) return NULL;
  ce_pg_pool *p = calloc(1, sizeof *p);
  if (!p || !(p->url = strdup(url))) {
    free(p);
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return NULL;
  }
  ce_pg_redact(url, p->name, sizeof p->name);
  snprintf(p->app, sizeof p->app, "%s", app && *app ? app : "causal-eval");
  p->cfg = *cfg;
  if (p->cfg.pool_size < 1) p->cfg.pool_size = 1;
  if (p->cfg.max_overflow < 0) p->cfg.max_overflow = 0;
  pthread_mutex_init(&p->lock, NULL);
  /* waits are timed on the monotonic clock: a clock step cannot stretch them */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->back, &ca);
  pthread_condattr_destroy(&ca);
  return p;
}

static void drop(ce_pg_conn *c) {
  if (!c) return;
  PQfinish(c->pg);
  free(c);
}

void ce_pg_pool_free(ce_pg_pool *p) {
  if (!p) return;
  for (ce_pg_conn *c = p->idle; c;) {
    ce_pg_conn *n = c->next;
    drop(c);
    c = n;
  }
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->back);
  free(p->url);
  free(p);
}

const char *ce_pg_pool_name(const ce_pg_pool *p) { return p->name; }

/* The server's notices ("relation already exists, skipping") are not news
 * for a person running an evaluation. */
static void quiet(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

static ce_pg_conn *connect_one(ce_pg_pool *p, ce_err *err) {
  char timeout[32];
  snprintf(timeout, sizeof timeout, "%d", p->cfg.connect_timeout > 0 ? (int)(p->cfg.connect_timeout + 0.999) : 0);
  /* the URL comes after our defaults, so an application_name or
   * connect_timeout it names wins */
  const char *keys[] = {"application_name", "connect_timeout", "dbname", NULL};
  const char *vals[] = {p->app, timeout, p->url, NULL};
  PGconn *pg = PQconnectdbParams(keys, vals, 1);
  if (!pg || PQstatus(pg) != CONNECTION_OK) {
    char m[400];
    snprintf(m, sizeof m, "%s", pg ? PQerrorMessage(pg) : "out of memory");
    ce_pg_one_line(m);
    PQfinish(pg);
    ce_err_setf(err, CE_PG_EDOWN, NULL, 0, 0, "cannot connect to PostgreSQL at %s: %s", p->name, m);
    return NULL;
  }
  PQsetNoticeProcessor(pg, quiet, NULL);
  char set[160];
  /* UTC: days and times the store derives are the same from any client */
  snprintf(set, sizeof set, "SET statement_timeout = %ld; SET TimeZone = 'UTC'",
           (long)(p->cfg.statement_timeout * 1000 + 0.5));
  PGresult *r = PQexec(pg, set);
  int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) {
    char m[400];
    snprintf(m, sizeof m, "%s", PQerrorMessage(pg));
    ce_pg_one_line(m);
    ce_err_setf(err, CE_PG_EDOWN, NULL, 0, 0, "PostgreSQL at %s: setting statement_timeout failed: %s", p->name, m);
    PQfinish(pg);
    return NULL;
  }
  ce_pg_conn *c = calloc(1, sizeof *c);
  if (!c) {
    PQfinish(pg);
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return NULL;
  }
  c->pg = pg;
  c->born = ce_clock_mono();
  return c;
}

ce_pg_conn *ce_pg_pool_get(ce_pg_pool *p, ce_err *err) {
  double deadline = ce_clock_mono() + p->cfg.pool_timeout;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (p->idle) {
      ce_pg_conn *c = p->idle;
      p->idle = c->next;
      p->nidle--;
      int old = p->cfg.pool_recycle > 0 && ce_clock_mono() - c->born > p->cfg.pool_recycle;
      if (!old && PQstatus(c->pg) == CONNECTION_OK) {
        pthread_mutex_unlock(&p->lock);
        c->next = NULL;
        c->broken = 0;
        return c;
      }
      p->open--;
      pthread_mutex_unlock(&p->lock);
      drop(c); /* outside the lock: closing talks to the server */
      pthread_mutex_lock(&p->lock);
    }
    if (p->open < p->cfg.pool_size + p->cfg.max_overflow) {
      p->open++; /* taken now, so other threads count it while it connects */
      if (p->open > p->peak_open) p->peak_open = p->open;
      p->connects++;
      pthread_mutex_unlock(&p->lock);
      ce_pg_conn *c = connect_one(p, err);
      if (!c) {
        pthread_mutex_lock(&p->lock);
        p->open--;
        pthread_cond_signal(&p->back);
        pthread_mutex_unlock(&p->lock);
      }
      return c;
    }
    double now = ce_clock_mono();
    if (now >= deadline) {
      p->timeouts++;
      int n = p->open;
      pthread_mutex_unlock(&p->lock);
      ce_err_setf(err, CE_PG_EBUSY, NULL, 0, 0,
                  "all %d connections to PostgreSQL at %s were in use for %g s (database.pool_size + max_overflow; "
                  "pool_timeout)", n, p->name, p->cfg.pool_timeout);
      return NULL;
    }
    p->waits++;
    struct timespec ts;
    ts.tv_sec = (time_t)deadline;
    ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&p->back, &p->lock, &ts);
  }
}

void ce_pg_pool_put(ce_pg_pool *p, ce_pg_conn *c) {
  if (!c) return;
  /* a connection left inside a transaction (a failed user) is not reused */
  int bad = c->broken || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE;
  pthread_mutex_lock(&p->lock);
  if (bad || p->nidle >= p->cfg.pool_size) {
    /* broken, or an overflow connection: closed, not kept */
    p->open--;
    pthread_cond_signal(&p->back);
    pthread_mutex_unlock(&p->lock);
    drop(c);
    return;
  }
  c->next = p->idle;
  p->idle = c;
  p->nidle++;
  pthread_cond_signal(&p->back);
  pthread_mutex_unlock(&p->lock);
}

void ce_pg_pool_get_stats(ce_pg_pool *p, ce_pg_pool_stats *out) {
  pthread_mutex_lock(&p->lock);
  out->open = p->open;
  out->idle = p->nidle;
  out->peak_open = p->peak_open;
  out->connects = p->connects;
  out->waits = p->waits;
  out->timeouts = p->timeouts;
  pthread_mutex_unlock(&p->lock);
}
