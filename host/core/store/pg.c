/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store: the store's operations (store.h) as statements on
 * the tables of pg_schema.c, through a pool per server (pg_pool.h). */
#include "core/store/pg.h"
#include "core/store/pg_schema.h"
#include "core/store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ce_pg {
  ce_pg_pool *primary, *replica; /* replica NULL: every read goes to the primary */
  pthread_mutex_t lock;
  int migrated;
};

static ce_pg_pool *pool_for(const ce_pg *pg, int where) {
  return where == CE_PG_REPLICA && pg->replica ? pg->replica : pg->primary;
}

const char *ce_pg_name(const ce_pg *pg, int where) { return ce_pg_pool_name(pool_for(pg, where)); }

void ce_pg_stats(ce_pg *pg, int where, ce_pg_pool_stats *out) { ce_pg_pool_get_stats(pool_for(pg, where), out); }

/* a connection, or NULL + err (CE_PG_RETRY in *rc when a retry may work) */
static ce_pg_conn *take(ce_pg *pg, int where, ce_err *err, int *rc) {
  ce_pg_conn *c = ce_pg_pool_get(pool_for(pg, where), err);
  if (!c) *rc = err->code == CE_PG_EDOWN || err->code == CE_PG_EBUSY ? CE_PG_RETRY : -1;
  return c;
}

static void give(ce_pg *pg, int where, ce_pg_conn *c, int failed) {
  if (failed) c->broken = c->broken || PQstatus(c->pg) != CONNECTION_OK;
  ce_pg_pool_put(pool_for(pg, where), c);
}

int ce_pg_schema_version(ce_pg *pg, int where, ce_err *err) {
  int rc;
  ce_pg_conn *c = take(pg, where, err, &rc);
  if (!c) return -1;
  int v = ce_pg_schema_read(c->pg, ce_pg_name(pg, where), err);
  give(pg, where, c, v < 0);
  return v < 0 ? -1 : v;
}

int ce_pg_prepare_writes(ce_pg *pg, ce_err *err) {
  pthread_mutex_lock(&pg->lock);
  int done = pg->migrated;
  pthread_mutex_unlock(&pg->lock);
  if (done) return 0;
  int rc;
  ce_pg_conn *c = take(pg, CE_PG_PRIMARY, err, &rc);
  if (!c) return -1;
  int v = ce_pg_schema_migrate(c->pg, ce_pg_name(pg, CE_PG_PRIMARY), err);
  give(pg, CE_PG_PRIMARY, c, v < 0);
  if (v < 0) return -1;
  pthread_mutex_lock(&pg->lock);
  pg->migrated = 1;
  pthread_mutex_unlock(&pg->lock);
  return 0;
}

void ce_pg_free(ce_pg *pg) {
  if (!pg) return;
  ce_pg_pool_free(pg->primary);
  ce_pg_pool_free(pg->replica);
  pthread_mutex_destroy(&pg->lock);
  free(pg);
}

ce_pg *ce_pg_open(const ce_pg_cfg *cfg, ce_err *err) {
  ce_err_clear(err);
  if (ce_pq_load(err) != 0) return NULL;
  ce_pg *pg = calloc(1, sizeof *pg);
  if (!pg) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&pg->lock, NULL);
  const char *app = cfg->app ? cfg->app : "causal-eval";
  if (!(pg->primary = ce_pg_pool_new(cfg->url, app, &cfg->pool, err)) ||
      (cfg->read_url && *cfg->read_url && !(pg->replica = ce_pg_pool_new(cfg->read_url, app, &cfg->pool, err)))) {
    ce_pg_free(pg);
    return NULL;
  }
  if (cfg->migrate) {
    if (ce_pg_prepare_writes(pg, err) != 0) {
      ce_pg_free(pg);
      return NULL;
    }
    return pg;
  }
  int v = ce_pg_schema_version(pg, CE_PG_REPLICA, err);
  if (v > CE_PG_SCHEMA_VERSION) {
    ce_err_setf(err, 1, NULL, 0, 0,
                "PostgreSQL at %s holds results in schema version %d, newer than this causal-eval knows (%d): "
                "use a causal-eval as new as the one that wrote them", ce_pg_name(pg, CE_PG_REPLICA), v,
                CE_PG_SCHEMA_VERSION);
    v = -1;
  } else if (v == 0) {
    ce_err_setf(err, 1, NULL, 0, 0,
                "PostgreSQL at %s holds no causal-eval results (no schema causal_eval): "
                "`causal-eval run --store URL` creates it", ce_pg_name(pg, CE_PG_REPLICA));
    v = -1;
  }
  if (v < 0) {
    ce_pg_free(pg);
    return NULL;
  }
  return pg;
}

/* ---- what the tables can hold ---- */

/* well-formed UTF-8 without NUL bytes: what a text column takes */
static int utf8_ok(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c == 0) return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!len || c > 0xF4 || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
      if ((p[i + k] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[i + 1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && p[i + 1] >= 0xA0) return 0; /* surrogate */
    if (c == 0xF0 && p[i + 1] < 0x90) return 0;
    if (c == 0xF4 && p[i + 1] >= 0x90) return 0;
    i += len;
  }
  return 1;
}

static void shown_key(const char *k, size_t kl, char *out, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < kl && o + 6 < n; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c == 0) o += (size_t)snprintf(out + o, n - o, "\\0");
    else if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
    else o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
  }
  out[o] = '\0';
}

int ce_pg_check_item(int db, const void *k, size_t kl, const void *v, size_t vl, ce_err *err) {
  char key[200];
  if (db == CE_STORE_META) return 0;
  const char *why = NULL;
  if (db == CE_STORE_RECORDS || db == CE_STORE_SCORES) {
    const char *z1 = memchr(k, 0, kl), *z2 = z1 ? memchr(z1 + 1, 0, kl - (size_t)(z1 + 1 - (const char *)k)) : NULL;
    if (!z2 || memchr(z2 + 1, 0, kl - (size_t)(z2 + 1 - (const char *)k)))
      why = "its key is not run \\0 model \\0 question";
    else if (!utf8_ok(k, (size_t)(z1 - (const char *)k)) || !utf8_ok((const unsigned char *)z1 + 1, (size_t)(z2 - z1 - 1)) ||
             !utf8_ok((const unsigned char *)z2 + 1, kl - (size_t)(z2 + 1 - (const char *)k)))
      why = "its key is not UTF-8 text";
  } else if (!utf8_ok(k, kl)) {
    why = "its key is not UTF-8 text";
  }
  if (!why && !utf8_ok(v, vl)) why = "its value is not UTF-8 text";
  if (!why) return 0;
  shown_key(k, kl, key, sizeof key);
  ce_err_setf(err, 1, NULL, 0, 0, "the PostgreSQL store cannot hold this %s entry: %s (key \"%s\")",
              ce_store_db_names[db], why, key);
  return -1;
}

/* ---- writes ---- */

/* a key the table holds already: the direct COPY gives way to the upsert */
enum { EXISTS = -3 };

static int copy_in(PGconn *c, const char *sql, const ce_buf *b, const char *server, ce_err *err) {
  PGresult *r = PQexec(c, sql);
  if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
    int rc = ce_pg_fail(c, r, server, "starting COPY", err);
    PQclear(r);
    return rc;
  }
  PQclear(r);
  int ok = 1;
  for (size_t off = 0; ok && off < b->len;) {
    size_t chunk = b->len - off < (1u << 20) ? b->len - off : (1u << 20);
    ok = PQputCopyData(c, b->data + off, (int)chunk) == 1;
    off += chunk;
  }
  if (PQputCopyEnd(c, ok ? NULL : "sending failed") != 1) ok = 0;
  int rc = 0;
  while ((r = PQgetResult(c))) {
    if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
      const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      rc = state && strcmp(state, "23505") == 0 ? EXISTS : ce_pg_fail(c, r, server, "writing a batch (COPY)", err);
    }
    PQclear(r);
  }
  if (rc == 0 && !ok) rc = ce_pg_fail(c, NULL, server, "writing a batch (COPY)", err);
  return rc;
}

/* The batch on c, in one transaction: records and scores straight into
 * their tables when none of their keys is there yet, else (and runs and
 * meta always: the latest run's key is written again and again) through
 * the staging tables and an upsert. */
static int write_batch(PGconn *c, const ce_pg_copy *cp, const char *server, ce_err *err) {
  static const int DIRECT[] = {CE_STORE_RECORDS, CE_STORE_SCORES};
  int direct = cp->n[CE_STORE_RECORDS] || cp->n[CE_STORE_SCORES];
  int rc = ce_pg_exec(c, direct ? "BEGIN; SAVEPOINT direct" : "BEGIN", server, "writing a batch", err);
  int upsert[4] = {cp->n[CE_STORE_RUNS] > 0, 0, cp->n[CE_STORE_META] > 0, 0};
  for (int i = 0; rc == 0 && i < 2; i++)
    if (cp->n[DIRECT[i]]) rc = copy_in(c, CE_PG_COPY[DIRECT[i]], &cp->rows[DIRECT[i]], server, err);
  if (rc == EXISTS) {
    rc = ce_pg_exec(c, "ROLLBACK TO SAVEPOINT direct", server, "writing a batch", err);
    for (int i = 0; i < 2; i++) upsert[DIRECT[i]] = cp->n[DIRECT[i]] > 0;
  }
  ce_buf sql;
  ce_buf_init(&sql);
  for (int db = 0; rc == 0 && db < 4; db++) {
    if (!upsert[db]) continue;
    rc = copy_in(c, CE_PG_COPY_STAGE[db], &cp->rows[db], server, err);
    if (rc == EXISTS) rc = ce_pg_fail(c, NULL, server, "writing a batch (a staging table)", err);
    ce_buf_adds(&sql, CE_PG_UPSERT[db]);
  }
  ce_buf_adds(&sql, "COMMIT");
  if (rc == 0 && sql.oom) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory writing a batch to PostgreSQL");
    rc = -1;
  }
  if (rc == 0) rc = ce_pg_exec(c, sql.data, server, "writing a batch", err);
  ce_buf_free(&sql);
  if (rc != 0 && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE) {
    ce_err keep = *err;
    ce_pg_exec(c, "ROLLBACK", server, "rolling back", err);
    *err = keep;
  }
  return rc;
}

int ce_pg_commit(ce_pg *pg, const ce_pg_item *items, int n, ce_err *err) {
  if (n <= 0) return 0;
  if (ce_pg_prepare_writes(pg, err) != 0) return err->code == CE_PG_EDOWN ? CE_PG_RETRY : -1;
  ce_pg_copy cp;
  if (ce_pg_copy_build(items, n, &cp) != 0) {
    ce_pg_copy_free(&cp);
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory writing a batch to PostgreSQL");
    return -1;
  }
  int rc;
  ce_pg_conn *c = take(pg, CE_PG_PRIMARY, err, &rc);
  if (c) {
    const char *server = ce_pg_name(pg, CE_PG_PRIMARY);
    rc = 0;
    if (!c->staged) {
      rc = ce_pg_schema_stage(c->pg, server, err);
      c->staged = rc == 0;
    }
    if (rc == 0) rc = write_batch(c->pg, &cp, server, err);
    give(pg, CE_PG_PRIMARY, c, rc != 0);
  }
  ce_pg_copy_free(&cp);
  return rc;
}

/* ---- keys as statement parameters ---- */

static const char *const TABLE[CE_STORE_NDB] = {"causal_eval.runs", "causal_eval.records", "causal_eval.meta",
                                                "causal_eval.scores"};
static const char *const VALUE[CE_STORE_NDB] = {"body", "body", "value", "line"};

typedef struct {
  const char *v[8];
  int len[8], fmt[8];
  char *own[8];
  int n;
} params;

/* a parameter: text (NUL-terminated copy) or bytes (binary format) */
static int param(params *p, const char *s, size_t n, int binary) {
  char *copy = malloc(n + 1);
  if (!copy) return -1;
  memcpy(copy, s, n);
  copy[n] = '\0';
  p->own[p->n] = copy;
  p->v[p->n] = copy;
  p->len[p->n] = (int)n;
  p->fmt[p->n] = binary;
  p->n++;
  return 0;
}

static void params_free(params *p) {
  for (int i = 0; i < p->n; i++) free(p->own[i]);
  p->n = 0;
}

/* run \0 model \0 question in three parts; 0 when k is not such a key */
static int split3(const char *k, size_t kl, const char *part[3], size_t len[3]) {
  const char *z1 = memchr(k, 0, kl);
  const char *z2 = z1 ? memchr(z1 + 1, 0, kl - (size_t)(z1 + 1 - k)) : NULL;
  if (!z2) return 0;
  part[0] = k, len[0] = (size_t)(z1 - k);
  part[1] = z1 + 1, len[1] = (size_t)(z2 - z1 - 1);
  part[2] = z2 + 1, len[2] = kl - (size_t)(z2 + 1 - k);
  return !memchr(part[2], 0, len[2]);
}

/* "WHERE ..." for one key into sql with its parameters; 0 when no stored key can be k */
static int key_where(int db, const char *k, size_t kl, ce_buf *sql, params *p) {
  if (db == CE_STORE_RECORDS || db == CE_STORE_SCORES) {
    const char *part[3];
    size_t len[3];
    if (!split3(k, kl, part, len)) return 0;
    for (int i = 0; i < 3; i++)
      if (!utf8_ok((const unsigned char *)part[i], len[i]) || param(p, part[i], len[i], 0)) return 0;
    ce_buf_adds(sql, " WHERE run_id = $1 AND model = $2 AND question_id = $3");
    return 1;
  }
  if (db == CE_STORE_RUNS) {
    if (!utf8_ok((const unsigned char *)k, kl) || param(p, k, kl, 0)) return 0;
    ce_buf_adds(sql, " WHERE id = $1");
    return 1;
  }
  if (param(p, k, kl, 1)) return 0;
  ce_buf_adds(sql, " WHERE key = $1");
  return 1;
}

static PGresult *run_params(PGconn *c, const char *sql, const params *p, int binary_result) {
  return PQexecParams(c, sql, p->n, NULL, p->v, p->len, p->fmt, binary_result);
}

int ce_pg_del(ce_pg *pg, int db, const void *k, size_t kl, ce_err *err) {
  if (ce_pg_prepare_writes(pg, err) != 0) return -1;
  ce_buf sql;
  ce_buf_init(&sql);
  params p = {0};
  ce_buf_adds(&sql, "DELETE FROM ");
  ce_buf_adds(&sql, TABLE[db]);
  int rc = 0;
  if (key_where(db, k, kl, &sql, &p) && !sql.oom) {
    ce_pg_conn *c = take(pg, CE_PG_PRIMARY, err, &rc);
    if (c) {
      PGresult *r = run_params(c->pg, sql.data, &p, 0);
      if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) rc = ce_pg_fail(c->pg, r, ce_pg_name(pg, CE_PG_PRIMARY), "delete", err);
      PQclear(r);
      give(pg, CE_PG_PRIMARY, c, rc != 0);
    }
  }
  params_free(&p);
  ce_buf_free(&sql);
  return rc ? -1 : 0;
}

int ce_pg_get(ce_pg *pg, int where, int db, const void *k, size_t kl, char **v, size_t *vl, ce_err *err) {
  *v = NULL;
  ce_buf sql;
  ce_buf_init(&sql);
  params p = {0};
  ce_buf_adds(&sql, "SELECT ");
  ce_buf_adds(&sql, VALUE[db]);
  ce_buf_adds(&sql, " FROM ");
  ce_buf_adds(&sql, TABLE[db]);
  int found = 0, rc = 0;
  if (key_where(db, k, kl, &sql, &p) && !sql.oom) {
    ce_pg_conn *c = take(pg, where, err, &rc);
    if (c) {
      PGresult *r = run_params(c->pg, sql.data, &p, 1);
      if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ce_pg_fail(c->pg, r, ce_pg_name(pg, where), "reading", err);
      } else if (PQntuples(r) == 1) {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        if ((*v = malloc(n + 1))) {
          memcpy(*v, PQgetvalue(r, 0, 0), n);
          (*v)[n] = '\0';
          *vl = n;
          found = 1;
        } else {
          rc = -1;
          ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
        }
      }
      PQclear(r);
      give(pg, where, c, rc != 0);
    }
  }
  params_free(&p);
  ce_buf_free(&sql);
  return rc ? -1 : found;
}

/* ---- scans ---- */

typedef struct {
  int db, reverse, ncols; /* key columns: 3 (records, scores) or 1 */
  const char *cols[3];
  int binary; /* meta: bytea keys */
} scan_shape;

static void add_param_ref(ce_buf *sql, int i) {
  char s[16];
  snprintf(s, sizeof s, "$%d", i);
  ce_buf_adds(sql, s);
}

/* The statement for the next page: the prefix's range, after the last key
 * seen (last: its parts, or NULL on the first page). 0 when no stored key
 * can start with prefix. */
static int scan_sql(const scan_shape *sh, const char *prefix, size_t pl, const char *const *last,
                    const size_t *lastl, int page, ce_buf *sql, params *p) {
  ce_buf_adds(sql, "SELECT ");
  for (int i = 0; i < sh->ncols; i++) {
    ce_buf_adds(sql, sh->cols[i]);
    ce_buf_adds(sql, ", ");
  }
  ce_buf_adds(sql, VALUE[sh->db]);
  ce_buf_adds(sql, " FROM ");
  ce_buf_adds(sql, TABLE[sh->db]);
  ce_buf_adds(sql, " WHERE true");
  /* full parts of the prefix are equalities, the partial last one a range */
  const char *part = prefix;
  size_t rest = pl;
  int col = 0;
  if (sh->ncols == 3) {
    const char *z;
    while ((z = memchr(part, 0, rest))) {
      if (col >= 2) return 0;
      size_t n = (size_t)(z - part);
      if (!utf8_ok((const unsigned char *)part, n) || param(p, part, n, 0)) return 0;
      ce_buf_adds(sql, " AND ");
      ce_buf_adds(sql, sh->cols[col]);
      ce_buf_adds(sql, " = ");
      add_param_ref(sql, p->n);
      col++;
      rest -= n + 1;
      part = z + 1;
    }
  }
  if (rest) {
    int text = !sh->binary;
    if (text && !utf8_ok((const unsigned char *)part, rest)) return 0;
    if (param(p, part, rest, sh->binary)) return 0;
    ce_buf_adds(sql, " AND ");
    ce_buf_adds(sql, sh->cols[col]);
    ce_buf_adds(sql, " >= ");
    add_param_ref(sql, p->n);
    char *end = malloc(rest + 4);
    if (!end) return 0;
    long el = ce_pg_prefix_end(part, rest, text, end);
    if (el > 0) {
      int bad = param(p, end, (size_t)el, sh->binary);
      free(end);
      if (bad) return 0;
      ce_buf_adds(sql, " AND ");
      ce_buf_adds(sql, sh->cols[col]);
      ce_buf_adds(sql, " < ");
      add_param_ref(sql, p->n);
    } else {
      free(end);
    }
  }
  if (last) {
    ce_buf_adds(sql, " AND (");
    for (int i = 0; i < sh->ncols; i++) {
      if (i) ce_buf_adds(sql, ", ");
      ce_buf_adds(sql, sh->cols[i]);
    }
    ce_buf_adds(sql, sh->reverse ? ") < (" : ") > (");
    for (int i = 0; i < sh->ncols; i++) {
      if (param(p, last[i], lastl[i], sh->binary)) return 0;
      if (i) ce_buf_adds(sql, ", ");
      add_param_ref(sql, p->n);
    }
    ce_buf_adds(sql, ")");
  }
  ce_buf_adds(sql, " ORDER BY ");
  for (int i = 0; i < sh->ncols; i++) {
    if (i) ce_buf_adds(sql, ", ");
    ce_buf_adds(sql, sh->cols[i]);
    if (sh->reverse) ce_buf_adds(sql, " DESC");
  }
  char lim[32];
  snprintf(lim, sizeof lim, " LIMIT %d", page);
  ce_buf_adds(sql, lim);
  return !sql->oom;
}

long ce_pg_scan(ce_pg *pg, int where, int db, const void *prefix, size_t pl, int reverse, ce_pg_visit fn, void *ud,
                ce_err *err) {
  scan_shape sh = {db, reverse, 1, {NULL, NULL, NULL}, db == CE_STORE_META};
  if (db == CE_STORE_RECORDS || db == CE_STORE_SCORES) {
    sh.ncols = 3;
    sh.cols[0] = "run_id", sh.cols[1] = "model", sh.cols[2] = "question_id";
  } else {
    sh.cols[0] = db == CE_STORE_RUNS ? "id" : "key";
  }
  /* pages grow: a reader that stops after a few keys (the latest runs)
   * fetches few, one that reads a whole run pays few round trips */
  int page = 64;
  long n = 0;
  ce_buf key, lastbuf;
  ce_buf_init(&key);
  ce_buf_init(&lastbuf);
  const char *last[3];
  size_t lastl[3];
  int have_last = 0, stop = 0, rc = 0;
  while (!stop) {
    ce_buf sql;
    ce_buf_init(&sql);
    params p = {0};
    if (!scan_sql(&sh, prefix, pl, have_last ? last : NULL, lastl, page, &sql, &p)) {
      int oom = sql.oom;
      params_free(&p);
      ce_buf_free(&sql);
      if (oom) {
        rc = -1;
        ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
      }
      break;
    }
    PGresult *r = NULL;
    ce_pg_conn *c = take(pg, where, err, &rc);
    if (c) {
      r = run_params(c->pg, sql.data, &p, 1);
      if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ce_pg_fail(c->pg, r, ce_pg_name(pg, where), "reading", err);
        PQclear(r);
        r = NULL;
      }
      give(pg, where, c, rc != 0); /* back before the callbacks, which may read too */
    }
    params_free(&p);
    ce_buf_free(&sql);
    if (!r) break;
    int rows = PQntuples(r);
    for (int i = 0; i < rows && !stop; i++) {
      key.len = 0;
      for (int k = 0; k < sh.ncols; k++) {
        if (k) ce_buf_addc(&key, '\0');
        ce_buf_add(&key, PQgetvalue(r, i, k), (size_t)PQgetlength(r, i, k));
      }
      if (key.oom) {
        rc = -1;
        ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
        break;
      }
      n++;
      stop = fn(key.data, key.len, PQgetvalue(r, i, sh.ncols), (size_t)PQgetlength(r, i, sh.ncols), ud);
    }
    if (rc == 0 && !stop && rows == page) {
      /* the page's last key, kept past PQclear */
      lastbuf.len = 0;
      size_t off[3];
      for (int k = 0; k < sh.ncols; k++) {
        off[k] = lastbuf.len;
        lastl[k] = (size_t)PQgetlength(r, rows - 1, k);
        ce_buf_add(&lastbuf, PQgetvalue(r, rows - 1, k), lastl[k]);
      }
      for (int k = 0; k < sh.ncols && !lastbuf.oom; k++) last[k] = lastbuf.data + off[k];
      have_last = !lastbuf.oom;
      if (lastbuf.oom) {
        rc = -1;
        ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
      }
      if (page < 4096) page *= 4;
    } else {
      stop = 1;
    }
    PQclear(r);
    if (rc) break;
  }
  ce_buf_free(&key);
  ce_buf_free(&lastbuf);
  return rc ? -1 : n;
}

/* ---- totals ---- */

long ce_pg_totals(ce_pg *pg, int where, const char *by, const char *since_day, const char *const *runs, int nruns,
                  ce_pg_total_fn fn, void *ud, ce_err *err) {
  const char *cols, *group;
  if (strcmp(by, "model") == 0) cols = "model, NULL, NULL", group = "model";
  else if (strcmp(by, "model_day") == 0) cols = "model, to_char(day, 'YYYY-MM-DD'), NULL", group = "model, day";
  else if (strcmp(by, "run_model") == 0) cols = "model, NULL, run_id", group = "run_id, model";
  else {
    ce_err_setf(err, 1, NULL, 0, 0, "totals by '%s': expected model, model_day or run_model", by);
    return -1;
  }
  ce_buf sql;
  ce_buf_init(&sql);
  params p = {0};
  ce_buf_adds(&sql, "SELECT ");
  ce_buf_adds(&sql, cols);
  ce_buf_adds(&sql, ", sum(answers), sum(counted), sum(correct), sum(errors),"
                    " count(DISTINCT run_id) FILTER (WHERE counted > 0)"
                    " FROM causal_eval.model_days WHERE true");
  int bad = 0;
  if (since_day) {
    bad |= param(&p, since_day, strlen(since_day), 0);
    ce_buf_adds(&sql, " AND day >= $1::date");
  }
  if (nruns > 0) {
    /* one text[] parameter, however many runs: {"id","id",...} */
    ce_buf arr;
    ce_buf_init(&arr);
    ce_buf_addc(&arr, '{');
    for (int i = 0; i < nruns; i++) {
      if (!utf8_ok((const unsigned char *)runs[i], strlen(runs[i]))) continue; /* no stored run has that id */
      if (arr.len > 1) ce_buf_addc(&arr, ',');
      ce_buf_addc(&arr, '"');
      for (const char *q = runs[i]; *q; q++) {
        if (*q == '"' || *q == '\\') ce_buf_addc(&arr, '\\');
        ce_buf_addc(&arr, *q);
      }
      ce_buf_addc(&arr, '"');
    }
    ce_buf_addc(&arr, '}');
    bad |= arr.oom || param(&p, arr.data, arr.len, 0);
    ce_buf_free(&arr);
    ce_buf_adds(&sql, " AND run_id = ANY(");
    add_param_ref(&sql, p.n);
    ce_buf_adds(&sql, "::text[])");
  }
  ce_buf_adds(&sql, " GROUP BY ");
  ce_buf_adds(&sql, group);
  ce_buf_adds(&sql, " HAVING sum(answers) > 0 ORDER BY ");
  ce_buf_adds(&sql, group);
  long n = -1;
  int rc = 0;
  if (bad || sql.oom) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
  } else {
    ce_pg_conn *c = take(pg, where, err, &rc);
    if (c) {
      PGresult *r = run_params(c->pg, sql.data, &p, 0);
      if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = ce_pg_fail(c->pg, r, ce_pg_name(pg, where), "reading the daily totals", err);
      } else {
        n = 0;
        for (int i = 0; i < PQntuples(r); i++) {
          ce_pg_total t = {
            PQgetvalue(r, i, 0), PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1),
            PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2), strtoll(PQgetvalue(r, i, 3), NULL, 10),
            strtoll(PQgetvalue(r, i, 4), NULL, 10), strtoll(PQgetvalue(r, i, 5), NULL, 10),
            strtoll(PQgetvalue(r, i, 6), NULL, 10), strtoll(PQgetvalue(r, i, 7), NULL, 10)};
          n++;
          if (fn(&t, ud)) break;
        }
      }
      PQclear(r);
      give(pg, where, c, rc != 0);
    }
  }
  params_free(&p);
  ce_buf_free(&sql);
  return rc ? -1 : n;
}
