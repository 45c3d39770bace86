/* SPDX-License-Identifier: MIT */
/* The tables of the PostgreSQL store (schema causal_eval), created and
 * upgraded by the program; the statements that write and read them; and
 * running a statement with an error a person can act on. The version the
 * database is at is in causal_eval.schema_version, one row per migration
 * applied; a database newer than this program is refused. */
#ifndef CE_PG_SCHEMA_H
#define CE_PG_SCHEMA_H

#include "core/store/pg_pool.h"
#include "core/util/err.h"

#define CE_PG_SCHEMA_VERSION 1

/* Creates or upgrades the schema, one migration at a time, under a lock
 * that other processes opening the same database wait on. The version it
 * is at afterwards, or -1 + err (a newer schema: refused). */
int ce_pg_schema_migrate(PGconn *c, const char *server, ce_err *err);
/* The version (0: no schema yet), or -1 + err. */
int ce_pg_schema_read(PGconn *c, const char *server, ce_err *err);
/* This connection's staging tables for COPY (temporary, emptied at each commit). */
int ce_pg_schema_stage(PGconn *c, const char *server, ce_err *err);

/* Per database (store.h's numbers): COPY into its table, COPY into its
 * staging twin, and the twin's rows into the table where a row of a later
 * stamp wins (INSERT ... ON CONFLICT DO UPDATE ... WHERE stamp <). */
extern const char *const CE_PG_COPY[4];
extern const char *const CE_PG_COPY_STAGE[4];
extern const char *const CE_PG_UPSERT[4];

/* Sets err for a failed statement (r may be NULL) and says whether a retry
 * may work: CE_PG_RETRY (-2) when the connection is gone, the server is
 * shutting down or starting, or busy (deadlock, serialization, too many
 * connections, statement_timeout), else -1. */
int ce_pg_fail(PGconn *c, PGresult *r, const char *server, const char *what, ce_err *err);
/* Runs sql (no rows expected). 0, or ce_pg_fail's. */
int ce_pg_exec(PGconn *c, const char *sql, const char *server, const char *what, ce_err *err);

#endif
