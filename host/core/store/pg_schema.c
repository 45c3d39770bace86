/* SPDX-License-Identifier: MIT */
#include "core/store/pg_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys are text in the "C" collation, so that the server orders them byte
 * by byte as LMDB does (a scan's order is the same on both stores), and
 * scores carry as columns what summaries group and filter on. model_days
 * holds, per day, model and run, how many answers there are, count, are
 * correct and failed, kept by triggers on scores in the transaction that
 * writes them: the 30-day average per model, a trend or the latest runs'
 * accuracies read a few rows per day and model, not millions of scores. */
static const char MIGRATION_1[] =
  "CREATE SCHEMA IF NOT EXISTS causal_eval;"
  "CREATE TABLE causal_eval.runs ("
  "  id text COLLATE \"C\" PRIMARY KEY,"
  "  created_at timestamptz, status text,"
  "  stamp bigint NOT NULL, body text NOT NULL);"
  "CREATE TABLE causal_eval.meta (key bytea PRIMARY KEY, stamp bigint NOT NULL, value bytea NOT NULL);"
  "CREATE TABLE causal_eval.records ("
  "  run_id text COLLATE \"C\" NOT NULL, model text COLLATE \"C\" NOT NULL, question_id text COLLATE \"C\" NOT NULL,"
  "  created_at timestamptz NOT NULL, stamp bigint NOT NULL, body text NOT NULL,"
  "  PRIMARY KEY (run_id, model, question_id));"
  "CREATE TABLE causal_eval.scores ("
  "  run_id text COLLATE \"C\" NOT NULL, model text COLLATE \"C\" NOT NULL, question_id text COLLATE \"C\" NOT NULL,"
  "  created_at timestamptz NOT NULL, day date, family text, difficulty text, rung text,"
  "  correct boolean, unparseable boolean NOT NULL DEFAULT false, error_class text, latency_ms double precision,"
  "  tokens_in bigint, tokens_out bigint, cached boolean NOT NULL DEFAULT false,"
  "  stamp bigint NOT NULL, line text NOT NULL,"
  "  PRIMARY KEY (run_id, model, question_id));"
  "CREATE TABLE causal_eval.model_days ("
  "  day date NOT NULL, model text COLLATE \"C\" NOT NULL, run_id text COLLATE \"C\" NOT NULL,"
  "  answers bigint NOT NULL, counted bigint NOT NULL, correct bigint NOT NULL, errors bigint NOT NULL,"
  "  PRIMARY KEY (day, model, run_id));"
  "CREATE INDEX model_days_run ON causal_eval.model_days (run_id, model);"
  /* each score line as +1 (new) or -1 (old) in its day's totals */
  "CREATE FUNCTION causal_eval.model_days_apply() RETURNS trigger LANGUAGE plpgsql AS $$"
  "BEGIN"
  "  IF TG_OP = 'INSERT' THEN"
  "    INSERT INTO causal_eval.model_days AS t"
  "    SELECT d, model, run_id, count(*), sum(c), sum(k), sum(e) FROM ("
  "      SELECT coalesce(day, (created_at AT TIME ZONE 'UTC')::date) d, model, run_id,"
  "        (error_class IS DISTINCT FROM 'bad_question')::int c,"
  "        (error_class IS DISTINCT FROM 'bad_question' AND coalesce(correct, false))::int k,"
  "        (error_class IS NOT NULL AND error_class <> 'bad_question')::int e FROM new_rows) x"
  "    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
  "    ON CONFLICT (day, model, run_id) DO UPDATE SET answers = t.answers + excluded.answers,"
  "      counted = t.counted + excluded.counted, correct = t.correct + excluded.correct, errors = t.errors + excluded.errors;"
  "  ELSIF TG_OP = 'UPDATE' THEN"
  "    INSERT INTO causal_eval.model_days AS t"
  "    SELECT d, model, run_id, sum(s), sum(s * c), sum(s * k), sum(s * e) FROM ("
  "      SELECT 1 s, coalesce(day, (created_at AT TIME ZONE 'UTC')::date) d, model, run_id,"
  "        (error_class IS DISTINCT FROM 'bad_question')::int c,"
  "        (error_class IS DISTINCT FROM 'bad_question' AND coalesce(correct, false))::int k,"
  "        (error_class IS NOT NULL AND error_class <> 'bad_question')::int e FROM new_rows"
  "      UNION ALL"
  "      SELECT -1, coalesce(day, (created_at AT TIME ZONE 'UTC')::date), model, run_id,"
  "        (error_class IS DISTINCT FROM 'bad_question')::int,"
  "        (error_class IS DISTINCT FROM 'bad_question' AND coalesce(correct, false))::int,"
  "        (error_class IS NOT NULL AND error_class <> 'bad_question')::int FROM old_rows) x"
  "    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
  "    ON CONFLICT (day, model, run_id) DO UPDATE SET answers = t.answers + excluded.answers,"
  "      counted = t.counted + excluded.counted, correct = t.correct + excluded.correct, errors = t.errors + excluded.errors;"
  "  ELSE"
  "    INSERT INTO causal_eval.model_days AS t"
  "    SELECT d, model, run_id, -count(*), -sum(c), -sum(k), -sum(e) FROM ("
  "      SELECT coalesce(day, (created_at AT TIME ZONE 'UTC')::date) d, model, run_id,"
  "        (error_class IS DISTINCT FROM 'bad_question')::int c,"
  "        (error_class IS DISTINCT FROM 'bad_question' AND coalesce(correct, false))::int k,"
  "        (error_class IS NOT NULL AND error_class <> 'bad_question')::int e FROM old_rows) x"
  "    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
  "    ON CONFLICT (day, model, run_id) DO UPDATE SET answers = t.answers + excluded.answers,"
  "      counted = t.counted + excluded.counted, correct = t.correct + excluded.correct, errors = t.errors + excluded.errors;"
  "  END IF;"
  "  RETURN NULL;"
  "END $$;"
  "CREATE TRIGGER scores_added AFTER INSERT ON causal_eval.scores REFERENCING NEW TABLE AS new_rows"
  "  FOR EACH STATEMENT EXECUTE FUNCTION causal_eval.model_days_apply();"
  "CREATE TRIGGER scores_changed AFTER UPDATE ON causal_eval.scores"
  "  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
  "  FOR EACH STATEMENT EXECUTE FUNCTION causal_eval.model_days_apply();"
  "CREATE TRIGGER scores_removed AFTER DELETE ON causal_eval.scores REFERENCING OLD TABLE AS old_rows"
  "  FOR EACH STATEMENT EXECUTE FUNCTION causal_eval.model_days_apply();";

static const char *const MIGRATIONS[CE_PG_SCHEMA_VERSION] = {MIGRATION_1};

/* A table's upsert from its staging twin: a row of a later stamp wins. */
const char *const CE_PG_UPSERT[4] = {
  "INSERT INTO causal_eval.runs AS t SELECT * FROM pg_temp.ce_stage_runs"
  " ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, status = excluded.status,"
  " stamp = excluded.stamp, body = excluded.body WHERE t.stamp < excluded.stamp;",
  "INSERT INTO causal_eval.records AS t SELECT * FROM pg_temp.ce_stage_records"
  " ON CONFLICT (run_id, model, question_id) DO UPDATE SET created_at = excluded.created_at,"
  " stamp = excluded.stamp, body = excluded.body WHERE t.stamp < excluded.stamp;",
  "INSERT INTO causal_eval.meta AS t SELECT * FROM pg_temp.ce_stage_meta"
  " ON CONFLICT (key) DO UPDATE SET stamp = excluded.stamp, value = excluded.value WHERE t.stamp < excluded.stamp;",
  "INSERT INTO causal_eval.scores AS t SELECT * FROM pg_temp.ce_stage_scores"
  " ON CONFLICT (run_id, model, question_id) DO UPDATE SET created_at = excluded.created_at, day = excluded.day,"
  " family = excluded.family, difficulty = excluded.difficulty, rung = excluded.rung, correct = excluded.correct,"
  " unparseable = excluded.unparseable, error_class = excluded.error_class, latency_ms = excluded.latency_ms,"
  " tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out, cached = excluded.cached,"
  " stamp = excluded.stamp, line = excluded.line WHERE t.stamp < excluded.stamp;",
};

/* COPY into a table (direct: its own; else its staging twin), columns in table order */
const char *const CE_PG_COPY[4] = {
  "COPY causal_eval.runs (id, created_at, status, stamp, body) FROM STDIN (FORMAT binary)",
  "COPY causal_eval.records (run_id, model, question_id, created_at, stamp, body) FROM STDIN (FORMAT binary)",
  "COPY causal_eval.meta (key, stamp, value) FROM STDIN (FORMAT binary)",
  ("COPY causal_eval.scores (run_id, model, question_id, created_at, day, family, difficulty, rung, correct,"
   " unparseable, error_class, latency_ms, tokens_in, tokens_out, cached, stamp, line) FROM STDIN (FORMAT binary)"),
};
const char *const CE_PG_COPY_STAGE[4] = {
  "COPY pg_temp.ce_stage_runs FROM STDIN (FORMAT binary)",
  "COPY pg_temp.ce_stage_records FROM STDIN (FORMAT binary)",
  "COPY pg_temp.ce_stage_meta FROM STDIN (FORMAT binary)",
  "COPY pg_temp.ce_stage_scores FROM STDIN (FORMAT binary)",
};

/* temporary twins of the tables, emptied at each commit */
static const char STAGE[] =
  "CREATE TEMP TABLE IF NOT EXISTS ce_stage_runs (LIKE causal_eval.runs) ON COMMIT DELETE ROWS;"
  "CREATE TEMP TABLE IF NOT EXISTS ce_stage_records (LIKE causal_eval.records) ON COMMIT DELETE ROWS;"
  "CREATE TEMP TABLE IF NOT EXISTS ce_stage_meta (LIKE causal_eval.meta) ON COMMIT DELETE ROWS;"
  "CREATE TEMP TABLE IF NOT EXISTS ce_stage_scores (LIKE causal_eval.scores) ON COMMIT DELETE ROWS;";

static int transient(PGconn *c, const char *state) {
  if (PQstatus(c) != CONNECTION_OK || !state) return 1;
  static const char *const RETRY[] = {"57P01", "57P02", "57P03", "40001", "40P01", "55P03", "57014", "25006", NULL};
  if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0) return 1;
  for (int i = 0; RETRY[i]; i++)
    if (strcmp(state, RETRY[i]) == 0) return 1;
  return 0;
}

int ce_pg_fail(PGconn *c, PGresult *r, const char *server, const char *what, ce_err *err) {
  char m[420];
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  snprintf(m, sizeof m, "%s", primary ? primary : PQerrorMessage(c));
  ce_pg_one_line(m);
  if (!m[0]) snprintf(m, sizeof m, "the connection was lost");
  int retry = transient(c, state);
  ce_err_setf(err, retry ? CE_PG_EDOWN : 1, NULL, 0, 0, "PostgreSQL at %s: %s: %s%s%s%s", server, what, m,
              state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
  return retry ? CE_PG_RETRY : -1;
}

int ce_pg_exec(PGconn *c, const char *sql, const char *server, const char *what, ce_err *err) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : ce_pg_fail(c, r, server, what, err);
  PQclear(r);
  return rc;
}

static int query_int(PGconn *c, const char *sql, const char *server, const char *what, long *out, ce_err *err) {
  PGresult *r = PQexec(c, sql);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    int rc = ce_pg_fail(c, r, server, what, err);
    PQclear(r);
    return rc;
  }
  *out = PQgetisnull(r, 0, 0) ? 0 : strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return 0;
}

int ce_pg_schema_read(PGconn *c, const char *server, ce_err *err) {
  long has = 0, v = 0;
  int rc = query_int(c, "SELECT (to_regclass('causal_eval.schema_version') IS NOT NULL)::int", server,
                     "reading the schema version", &has, err);
  if (rc == 0 && has)
    rc = query_int(c, "SELECT max(version) FROM causal_eval.schema_version", server, "reading the schema version", &v,
                   err);
  if (rc != 0) return rc < -1 ? rc : -1;
  return (int)v;
}

static int too_new(int v, const char *server, ce_err *err) {
  ce_err_setf(err, 1, NULL, 0, 0,
              "PostgreSQL at %s holds results in schema version %d, newer than this causal-eval knows (%d): "
              "use a causal-eval as new as the one that wrote them", server, v, CE_PG_SCHEMA_VERSION);
  return -1;
}

int ce_pg_schema_migrate(PGconn *c, const char *server, ce_err *err) {
  int v = ce_pg_schema_read(c, server, err);
  if (v < 0) return -1;
  if (v > CE_PG_SCHEMA_VERSION) return too_new(v, server, err);
  if (v == CE_PG_SCHEMA_VERSION) return v;
  /* processes starting together take turns; each reads the version again
   * once it holds the lock, in a transaction begun after it got it: one
   * begun before the wait kept the server's cached "no such table" from
   * before another process made the schema (it then failed with "relation
   * schema_version already exists") */
  if (ce_pg_exec(c, "SELECT pg_advisory_lock(8243016730911275043)", server, "locking the schema", err)) return -1;
  if (ce_pg_exec(c, "BEGIN", server, "locking the schema", err)) {
    ce_err saved = *err;
    ce_pg_exec(c, "SELECT pg_advisory_unlock(8243016730911275043)", server, "unlocking the schema", err);
    *err = saved;
    return -1;
  }
  v = ce_pg_schema_read(c, server, err);
  int rc = v < 0 ? -1 : 0;
  if (rc == 0 && v > CE_PG_SCHEMA_VERSION) rc = too_new(v, server, err);
  if (rc == 0 && v == 0)
    rc = ce_pg_exec(c,
                    "CREATE SCHEMA IF NOT EXISTS causal_eval;"
                    "CREATE TABLE causal_eval.schema_version (version integer PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now(), program text NOT NULL)",
                    server, "creating the schema causal_eval", err);
  for (int m = v + 1; rc == 0 && m <= CE_PG_SCHEMA_VERSION; m++) {
    char what[64], note[160];
    snprintf(what, sizeof what, "upgrading the schema to version %d", m);
    rc = ce_pg_exec(c, MIGRATIONS[m - 1], server, what, err);
    snprintf(note, sizeof note, "INSERT INTO causal_eval.schema_version (version, program) VALUES (%d, 'causal-eval')",
             m);
    if (rc == 0) rc = ce_pg_exec(c, note, server, what, err);
  }
  if (rc == 0) rc = ce_pg_exec(c, "COMMIT", server, "committing the schema", err);
  if (rc != 0) {
    ce_err saved = *err;
    ce_pg_exec(c, "ROLLBACK", server, "rolling back", err);
    ce_pg_exec(c, "SELECT pg_advisory_unlock(8243016730911275043)", server, "unlocking the schema", err);
    *err = saved;
    return -1;
  }
  /* a failed unlock leaves the lock to the connection's end */
  ce_err ignored;
  ce_pg_exec(c, "SELECT pg_advisory_unlock(8243016730911275043)", server, "unlocking the schema", &ignored);
  return CE_PG_SCHEMA_VERSION;
}

int ce_pg_schema_stage(PGconn *c, const char *server, ce_err *err) {
  return ce_pg_exec(c, STAGE, server, "creating the staging tables", err);
}
