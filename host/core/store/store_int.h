/* SPDX-License-Identifier: MIT */
/* The store's insides, shared by store.c (open, reads, single writes) and
 * writer.c (the queue, its journal and the writer thread). */
#ifndef CE_STORE_INT_H
#define CE_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>

#include "core/store/guard.h"
#include "core/store/journal.h"
#include "core/store/store.h"

typedef struct item {
  struct item *next;
  int db, slot, seg; /* seg: the journal file holding it, -1 none */
  int more;          /* the next item belongs to the same transaction */
  unsigned tally;
  size_t kl, vl;     /* vl counts the record header */
  char data[];       /* key, then the framed value */
} item;

struct ce_store {
  MDB_env *env;
  MDB_dbi dbi[CE_STORE_NDB];
  char path[1024];
  int fd;          /* LMDB's data.mdb */
  unsigned psize;
  /* our read-only map of data.mdb (pages.h reads through it); maps the
   * file outgrew are kept until close, since a reader may still use them */
  pthread_mutex_t map_lock;
  const unsigned char *rmap;
  size_t rmap_len;
  struct oldmap { struct oldmap *next; void *p; size_t len; } *old_maps;
  int damaged; /* a write met damage: no more writes, which could spread it */
  int free_checked; /* LMDB's list of free pages was found sound, before a first write */
  char damage_msg[640];
  long replayed;
  char replay_msg[640];
  /* writer */
  ce_journal *jr;
  pthread_t thread[8]; /* one for LMDB (one write transaction at a time); PostgreSQL: writers */
  int nthreads, writers;
  int running, stopping;
  pthread_mutex_t lock;
  pthread_cond_t wake, idle;
  item *head, *tail;
  uint64_t queued, enqueued_total, committed_total, commits;
  /* items are taken off the queue in order, a batch at a time; with several
   * writers batches commit out of order, so sync waits for a prefix: every
   * item before the first one of a batch still in flight */
  uint64_t taken_total, committed_prefix;
  uint64_t inflight_first[8];
  int inflight_used[8];
  uint64_t queued_bytes, queued_bytes_peak; /* keys and values of the queued items */
  uint64_t batch_bytes_peak;                 /* of the items one commit took */
  int batch, flush_ms;
  int flush_now; /* a sync or a producer held back by the queue's bound: commit without waiting for a batch */
  int failed;
  char fail_msg[700];
  size_t max_queued_bytes;
  /* PostgreSQL (pg.h) instead of LMDB: env is NULL */
  struct ce_pg *pg;
  char jdir[1100];      /* its journal's folder */
  double retry_for;     /* seconds a batch is retried while the server cannot be reached */
  int retrying;         /* the writer is waiting to try again: trouble says why */
  char trouble[700];
  ce_store_tally tally[CE_STORE_SLOTS];
};

/* Sets err for LMDB's rc (or a guard's fault) met doing what. */
int ce_store_lmdb_fail(ce_store *s, ce_err *err, const char *what, int rc, const ce_guard *g);
/* 0 when the store may be written: not damaged, its list of free pages sound (checked once). */
int ce_store_check_writable(ce_store *s, ce_err *err);
/* Releases a write transaction a fault cut short (its lock above all). */
void ce_store_abort_after_fault(MDB_txn *txn);
void ce_store_stop_writer(ce_store *s);
void ce_store_free_queue(ce_store *s);
/* store_pg.c: a single write, and the writer's commit of a batch (retried
 * while the server cannot be reached, for retry_for seconds) */
int ce_store_pg_put(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, ce_err *err);
int ce_store_pg_commit(ce_store *s, item *batch, int n, ce_err *err);

#endif
