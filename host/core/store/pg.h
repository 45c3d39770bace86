/* SPDX-License-Identifier: MIT */
/* The results store's second backend: a PostgreSQL server (store.url),
 * with an optional read replica (store.read_url), through libpq. It keeps
 * the store's model (store.h): the databases runs, records, scores and meta,
 * keys run \0 model \0 question for records and scores, prefix scans in key
 * order. In the server they are tables of schema causal_eval with real
 * columns for what is queried (pg_schema.h); store.c and writer.c call in
 * here when a store was opened with a URL. No Lua here. */
#ifndef CE_STORE_PG_H
#define CE_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "core/store/pg_pool.h"
#include "core/util/err.h"
#include "core/util/json.h"

typedef struct {
  const char *url;      /* the primary: every write */
  const char *read_url; /* a replica for reads made with CE_PG_REPLICA; NULL: the primary */
  ce_pg_pool_cfg pool;  /* each server gets a pool of its own with these settings */
  int migrate;          /* create or upgrade the schema on the primary (else: only check its version) */
  const char *app;      /* application_name */
} ce_pg_cfg;

/* where a read goes */
enum { CE_PG_PRIMARY = 0, CE_PG_REPLICA = 1 };

typedef struct ce_pg ce_pg;

/* A value to write: db (store.h), key, value without the store's record
 * header, and its stamp (of two writes of a key, the higher stamp stays). */
typedef struct {
  int db;
  const char *k, *v;
  size_t kl, vl;
  uint64_t stamp;
} ce_pg_item;

/* Connects to the server the reads need first (the replica when read_url
 * is set and migrate is 0, else the primary) and checks the schema: with
 * migrate, creates or upgrades it; a schema newer than this program knows
 * is refused. NULL + err. */
ce_pg *ce_pg_open(const ce_pg_cfg *cfg, ce_err *err);
void ce_pg_free(ce_pg *pg);
/* The server reads at `where` go to, as messages name it (no password). */
const char *ce_pg_name(const ce_pg *pg, int where);
/* Creates or upgrades the schema on the primary unless that was done (0 or -1 + err). */
int ce_pg_prepare_writes(ce_pg *pg, ce_err *err);

/* 0 when the item can be stored: text keys and values (runs, records,
 * scores) must be UTF-8 without NUL bytes, and records and scores keys
 * must be run \0 model \0 question. -1 + err naming the key otherwise. */
int ce_pg_check_item(int db, const void *k, size_t kl, const void *v, size_t vl, ce_err *err);

/* One transaction: the items, of two copies of a key the later stamp
 * kept, a write never replacing a stored value of a later stamp (so a batch
 * written twice, or a journal replayed twice, changes nothing). Records
 * and score lines are copied into their tables at once; when a key is
 * there already (a replay, a retry, an answer asked again) that is undone
 * and they go through staging tables and INSERT ... ON CONFLICT instead.
 * 0, CE_PG_RETRY + err, or -1 + err. */
int ce_pg_commit(ce_pg *pg, const ce_pg_item *items, int n, ce_err *err);
int ce_pg_del(ce_pg *pg, int db, const void *k, size_t kl, ce_err *err);
/* 1 found (*v malloc'd, NUL-terminated), 0 missing, -1 error */
int ce_pg_get(ce_pg *pg, int where, int db, const void *k, size_t kl, char **v, size_t *vl, ce_err *err);
typedef int (*ce_pg_visit)(const char *k, size_t kl, const char *v, size_t vl, void *ud);
/* Keys starting with prefix, in key order (reverse: descending), read a
 * page at a time; fn returns nonzero to stop. The count visited, or -1. */
long ce_pg_scan(ce_pg *pg, int where, int db, const void *prefix, size_t pl, int reverse, ce_pg_visit fn, void *ud,
                ce_err *err);

/* Answers counted per model (and day, or run) from the daily totals the
 * server keeps (table model_days): since a day (YYYY-MM-DD, or NULL), for
 * some runs (or all: nruns 0). by: "model", "model_day" or "run_model".
 * answers: every score line; counted: those that count (not bad_question);
 * correct and errors among those; runs: how many runs had answers that count. */
typedef struct {
  const char *model, *day, *run; /* NULL when not grouped by it */
  int64_t answers, counted, correct, errors, runs;
} ce_pg_total;
typedef int (*ce_pg_total_fn)(const ce_pg_total *t, void *ud);
long ce_pg_totals(ce_pg *pg, int where, const char *by, const char *since_day, const char *const *runs, int nruns,
                  ce_pg_total_fn fn, void *ud, ce_err *err);

/* The schema version of the server at where (0: none yet), or -1 + err. */
int ce_pg_schema_version(ce_pg *pg, int where, ce_err *err);
void ce_pg_stats(ce_pg *pg, int where, ce_pg_pool_stats *out);

/* ---- pg_rows.c: the COPY stream of a batch (no server involved) ---- */

/* The binary COPY data of a batch, one stream per table (rows[db], in the
 * column order of pg_schema.c's tables), n[db] rows each: in key order, of
 * two copies of a key only the later stamp. Score lines and run bodies are
 * read for their columns; a value that is not JSON leaves them NULL.
 * 0, or -1 when out of memory. */
typedef struct {
  ce_buf rows[4];
  int n[4];
} ce_pg_copy;
int ce_pg_copy_build(const ce_pg_item *items, int n, ce_pg_copy *out);
void ce_pg_copy_free(ce_pg_copy *c);
void ce_pg_copy_begin(ce_buf *b);
void ce_pg_copy_end(ce_buf *b);
/* The days since 1970-01-01 of "YYYY-MM-DD", or 0 with ok = 0 when it is not a date. */
int32_t ce_pg_parse_day(const char *s, size_t n, int *ok);
/* The smallest string above every string that starts with p (UTF-8 when p
 * is, for text keys), in out (size pl + 4); its length, or -1 when there is
 * none (p empty, or all 0xFF bytes in binary mode). */
long ce_pg_prefix_end(const char *p, size_t pl, int utf8, char *out);

#endif
