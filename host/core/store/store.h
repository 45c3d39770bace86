/* SPDX-License-Identifier: MIT */
/* The results store: an LMDB environment with a few named databases, and an
 * asynchronous writer. Any thread queues records; one writer thread commits
 * them in batches, and only after a commit are they counted (the tallies a
 * progress display reads), so a counted result is always on disk. */
#ifndef CE_STORE_H
#define CE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

/* runs: one entry per run; records: one per question and model (prompt,
 * response, score...); scores: the same keys with a compact summary, for
 * tables without reading whole records; meta: small facts ("last" run).
 * The names are LMDB's and every layer takes them from here. */
enum { CE_STORE_RUNS = 0, CE_STORE_RECORDS, CE_STORE_META, CE_STORE_SCORES, CE_STORE_NDB };
extern const char *const ce_store_db_names[CE_STORE_NDB];

/* ce_err codes beside 1 (any other failure) */
enum { CE_STORE_EDAMAGED = 2, CE_STORE_EFULL = 3 };

/* tally bits of a queued record */
enum { CE_TALLY_DONE = 1, CE_TALLY_ERROR = 2, CE_TALLY_CORRECT = 4, CE_TALLY_UNPARSEABLE = 8 };
#define CE_STORE_SLOTS 64
/* queued records, or bytes of them, beyond which enqueue waits for the
 * writer: records carry prompts and answers (1-2 KB, or far more), so a
 * bound on their count alone let a lagging writer's queue reach 16 MB. A
 * batch takes at most half the bytes (a batch's bytes count until its
 * commit ends), so producers go on queueing while a full batch commits */
#define CE_STORE_MAX_QUEUED 16384
#define CE_STORE_MAX_QUEUED_BYTES (4u << 20)

typedef struct ce_store ce_store;

/* dir is created if missing. map_mb bounds the database size. sync = 0 trades
 * durability on power loss (not on a crash of the process) for speed.
 * Opening puts into LMDB what the journals of processes that were killed
 * hold (journal.h). A damaged data.mdb fails with CE_STORE_EDAMAGED and a
 * message naming the file, the database, the page and a key near the fault;
 * so does any later read that meets damage (reads check every page they
 * touch and every value's checksum: pages.h, record.h). */
ce_store *ce_store_open(const char *dir, size_t map_mb, int sync, ce_err *err);
void ce_store_free(void *store); /* stops the writer after it commits what is queued */
const char *ce_store_dir(const ce_store *s); /* the folder it was opened with */
/* Records a journal replay put back at open (0 when none), and its failure message ("" when none). */
long ce_store_replayed(ce_store *s, const char **msg);

/* The same store on a PostgreSQL server (pg.h): url names the primary,
 * read_url (optional) a replica that reads made with CE_STORE_REPLICA go
 * to. dir still holds the journal (in a folder of its own per server) and
 * what the callers keep beside the store (run locks). With writes, the
 * server's schema is created or upgraded at open; without, it is only
 * checked. When the server cannot be reached, the writer retries a batch
 * with growing pauses for retry_for seconds, answers queue in memory up to
 * buffer_bytes (then enqueue waits), and then the store fails with a
 * message saying so (ce_store_trouble). */
typedef struct {
  const char *url, *read_url;
  int pool_size, max_overflow;
  double pool_timeout, pool_recycle, statement_timeout, connect_timeout;
  double retry_for;
  size_t buffer_bytes;
  int writes;
  int writers; /* threads committing batches side by side, each on a connection of its own (1-8) */
} ce_store_pg_cfg;
ce_store *ce_store_open_pg(const char *dir, const ce_store_pg_cfg *cfg, ce_err *err);
/* "lmdb" or "postgresql" */
const char *ce_store_backend(const ce_store *s);
struct ce_pg *ce_store_pg(ce_store *s); /* NULL for LMDB */
/* 0: all is well; 1: the writer is retrying (msg says why); 2: the store failed (msg) */
int ce_store_trouble(ce_store *s, char *msg, size_t n);

/* One-transaction operations, usable from any thread. */
int ce_store_put(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, ce_err *err);
/* 1 found (*v malloc'd), 0 missing, -1 error */
int ce_store_get(ce_store *s, int db, const void *k, size_t kl, char **v, size_t *vl, ce_err *err);
int ce_store_del(ce_store *s, int db, const void *k, size_t kl, ce_err *err);
/* Visits keys starting with prefix in order (reverse: descending); fn returns
 * nonzero to stop. Returns the number visited or -1. */
typedef int (*ce_store_visit)(const char *k, size_t kl, const char *v, size_t vl, void *ud);
long ce_store_scan(ce_store *s, int db, const void *prefix, size_t pl, int reverse, ce_store_visit fn,
                   void *ud, ce_err *err);
/* Reads from a replica when the store has one (PostgreSQL with read_url):
 * what analysis reads, where a write just made may not be seen yet. */
enum { CE_STORE_PRIMARY = 0, CE_STORE_REPLICA = 1 };
int ce_store_get_at(ce_store *s, int where, int db, const void *k, size_t kl, char **v, size_t *vl, ce_err *err);
long ce_store_scan_at(ce_store *s, int where, int db, const void *prefix, size_t pl, int reverse, ce_store_visit fn,
                      void *ud, ce_err *err);

/* The writer. batch: records a transaction takes at most; flush_ms: how long
 * the writer waits for a fuller batch. */
int ce_store_writer_start(ce_store *s, int batch, int flush_ms, ce_err *err);
/* Queues a copy, written to the journal first; slot (0..63) and tally say
 * how to count it once committed. 0; 1 when the store has failed (a commit
 * did: nothing queued from then on is kept); -1 when out of memory. */
int ce_store_enqueue(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, int slot,
                     unsigned tally);
/* Queues two values under one key (db1 then db2) that are committed in the
 * same transaction: a results record and its score line. tally counts the
 * pair once. Returns as ce_store_enqueue. */
int ce_store_enqueue_pair(ce_store *s, int db1, const void *v1, size_t v1l, int db2, const void *v2, size_t v2l,
                          const void *k, size_t kl, int slot, unsigned tally);
/* Blocks until everything queued so far is committed. 0, or -1 + err when a commit failed. */
int ce_store_sync(ce_store *s, ce_err *err);

typedef struct {
  uint64_t done, errors, correct, unparseable;
} ce_store_tally;
void ce_store_tally_get(ce_store *s, int slot, ce_store_tally *out);
uint64_t ce_store_queued(ce_store *s); /* waiting for a commit */
/* bytes of them (keys and values), and the most there have been at once */
void ce_store_queued_bytes(ce_store *s, uint64_t *now, uint64_t *peak);
uint64_t ce_store_commits(ce_store *s);
/* the most bytes (keys and values) one commit has taken */
uint64_t ce_store_batch_bytes_peak(ce_store *s);

#endif
