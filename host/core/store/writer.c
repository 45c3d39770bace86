/* SPDX-License-Identifier: MIT */
/* The store's writer: any thread queues records, one thread commits them
 * in batches. A record goes to the journal when it is queued, so a kill
 * before its commit loses nothing that was received (journal.h). */
#include "core/observe/profile.h"
#include "core/store/pg.h"
#include "core/store/record.h"
#include "core/store/store_int.h"
#include "core/util/heap_reserve.h"
#include "core/util/thread_name.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void *writer_main(void *arg);

int ce_store_writer_start(ce_store *s, int batch, int flush_ms, ce_err *err) {
  if (s->running) return 0;
  if (s->pg) {
    /* the server's schema before the first batch; the journal's folder */
    if (ce_pg_prepare_writes(s->pg, err) != 0) return -1;
    if ((mkdir(s->path, 0755) != 0 && errno != EEXIST) || (mkdir(s->jdir, 0755) != 0 && errno != EEXIST)) {
      ce_err_setf(err, 1, s->jdir, 0, 0, "cannot create the journal's folder: %s", strerror(errno));
      return -1;
    }
  } else if (ce_store_check_writable(s, err) != 0) {
    return -1;
  }
  s->batch = batch > 0 ? batch : 256;
  s->flush_ms = flush_ms >= 0 ? flush_ms : 5;
  if (!s->jr && !(s->jr = ce_journal_open(s->jdir, err))) return -1;
  s->running = 1;
  /* PostgreSQL takes several transactions at once: batches committed side
   * by side (their stamps, not their order, say which copy of a key wins) */
  int want = s->pg && s->writers > 1 ? (s->writers < 8 ? s->writers : 8) : 1;
  for (s->nthreads = 0; s->nthreads < want; s->nthreads++) {
    if (pthread_create(&s->thread[s->nthreads], NULL, writer_main, s) == 0) {
      ce_thread_name(s->thread[s->nthreads], "store-writer");
      continue;
    }
    if (s->nthreads > 0) break;
    s->running = 0;
    ce_err_setf(err, 1, s->path, 0, 0, "cannot start the store writer: %s", strerror(errno));
    return -1;
  }
  return 0;
}

void ce_store_stop_writer(ce_store *s) {
  if (s->running) {
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->nthreads; i++) pthread_join(s->thread[i], NULL);
    s->nthreads = 0;
    s->running = 0;
  }
  /* what a failed commit left out stays in the journal for the next open */
  ce_journal_close(s->jr, s->failed);
  s->jr = NULL;
}

void ce_store_free_queue(ce_store *s) {
  item *it = s->head;
  while (it) {
    item *n = it->next;
    free(it);
    it = n;
  }
  s->head = s->tail = NULL;
}

static item *new_item(int db, const void *k, size_t kl, const void *v, size_t vl, int slot, unsigned tally,
                      uint64_t stamp) {
  item *it = malloc(sizeof *it + kl + CE_REC_HDR + vl);
  if (!it) return NULL;
  it->next = NULL;
  it->db = db;
  it->more = 0;
  it->seg = -1;
  it->slot = slot >= 0 && slot < CE_STORE_SLOTS ? slot : 0;
  it->tally = tally;
  it->kl = kl;
  it->vl = CE_REC_HDR + vl;
  memcpy(it->data, k, kl);
  ce_rec_header((unsigned char *)it->data + kl, db, stamp, k, kl, v, vl);
  memcpy(it->data + kl + CE_REC_HDR, v, vl);
  return it;
}

/* Journals then queues the chain first..last (n items) in one step, so no
 * other thread's items come between them. 1 when the store has failed: the
 * writer keeps nothing more, these included. */
static int push(ce_store *s, item *first, item *last, int n) {
  uint64_t bytes = 0;
  ce_jitem ji[2];
  int k = 0;
  for (item *it = first; it; it = it->next) {
    bytes += it->kl + it->vl;
    if (k < 2) ji[k++] = (ce_jitem){it->db, it->data, it->data + it->kl, it->kl, it->vl};
  }
  ce_native_add(CE_NATIVE_STORE_QUEUE, (int64_t)(bytes + (uint64_t)n * sizeof *first));
  pthread_mutex_lock(&s->lock);
  /* durable before anything else happens to it: a kill from here on loses
   * nothing, since the next open replays the journal */
  if (s->jr && !s->failed) {
    ce_err e;
    int seg = ce_journal_append(s->jr, ji, k, &e);
    if (seg >= 0) {
      for (item *it = first; it; it = it->next) it->seg = seg;
    } else {
      /* without its journal the run could lose answers on a kill: stop it
       * the way a failed commit does */
      s->failed = 1;
      snprintf(s->fail_msg, sizeof s->fail_msg, "%s", e.msg);
    }
  }
  /* backpressure: producers faster than the disk wait rather than let the
   * queue (and the process's memory) grow without bound; an item larger
   * than the byte bound still goes through once the queue is empty */
  while (s->running && !s->failed && !s->stopping &&
         (s->queued >= CE_STORE_MAX_QUEUED ||
          (s->queued > 0 && s->queued_bytes + bytes > s->max_queued_bytes))) {
    s->flush_now = 1; /* the writer must not wait for a fuller batch while this one waits */
    pthread_cond_signal(&s->wake);
    pthread_cond_wait(&s->idle, &s->lock);
  }
  s->queued_bytes += bytes;
  if (s->queued_bytes > s->queued_bytes_peak) s->queued_bytes_peak = s->queued_bytes;
  int was_empty = !s->head;
  if (s->tail) s->tail->next = first;
  else s->head = first;
  s->tail = last;
  s->queued += (uint64_t)n;
  s->enqueued_total += (uint64_t)n;
  /* the writer waits for a first record, then for a full batch or the end
   * of its window: woken by every record, it made a context switch an answer */
  if (was_empty || s->queued >= (uint64_t)s->batch) pthread_cond_signal(&s->wake);
  int failed = s->failed;
  pthread_mutex_unlock(&s->lock);
  return failed;
}

int ce_store_enqueue(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, int slot,
                     unsigned tally) {
  item *it = new_item(db, k, kl, v, vl, slot, tally, ce_rec_stamp());
  if (!it) return -1;
  return push(s, it, it, 1);
}

int ce_store_enqueue_pair(ce_store *s, int db1, const void *v1, size_t v1l, int db2, const void *v2, size_t v2l,
                          const void *k, size_t kl, int slot, unsigned tally) {
  uint64_t stamp = ce_rec_stamp();
  item *a = new_item(db1, k, kl, v1, v1l, slot, 0, stamp);
  item *b = new_item(db2, k, kl, v2, v2l, slot, tally, stamp);
  if (!a || !b) {
    free(a);
    free(b);
    return -1;
  }
  a->more = 1;
  a->next = b;
  return push(s, a, b, 2);
}

typedef struct {
  ce_store *s;
  MDB_txn *txn;
  item *batch;
  uint64_t bytes;
} commit_args;

static int put_batch(void *arg) {
  commit_args *a = arg;
  ce_store *s = a->s;
  int rc = mdb_txn_begin(s->env, NULL, 0, &a->txn);
  for (item *it = a->batch; rc == 0 && it; it = it->next) {
    MDB_val key = {it->kl, it->data}, val = {it->vl, it->data + it->kl};
    rc = mdb_put(a->txn, s->dbi[it->db], &key, &val, 0);
    a->bytes += it->kl + it->vl;
  }
  if (rc == 0) rc = mdb_txn_commit(a->txn);
  else if (a->txn) mdb_txn_abort(a->txn);
  a->txn = NULL;
  return rc;
}

static int commit(ce_store *s, item *batch, int n, ce_err *err) {
  if (s->pg) return ce_store_pg_commit(s, batch, n, err);
  double t0 = ce_io_now();
  commit_args a = {s, NULL, batch, 0};
  ce_guard g;
  int rc = ce_guard_run(&g, put_batch, &a);
  if (rc == CE_GUARD_FAULT) ce_store_abort_after_fault(a.txn);
  ce_io_count(CE_IO_LMDB, (uint64_t)n, a.bytes, ce_io_now() - t0);
  if (!rc) return 0;
  int r = ce_store_lmdb_fail(s, err, "committing results", rc, &g);
  /* the run's own summary then counts none of them, and a later `results
   * show` (opening the store with room, replaying the journal) counts them
   * all: the message says where they are */
  if (rc == MDB_MAP_FULL) {
    size_t l = strlen(err->msg);
    snprintf(err->msg + l, sizeof err->msg - l,
             "; the answers not written are kept in its journal, and written when the store next opens with "
             "room: a resume with a larger store.map_size_mb");
  }
  return r;
}

/* about 5 KB a value of a batch (the 4 KB copies of the pages it changes,
 * 1.2 a value in a run's trees, and their allocations' headers); at most
 * 32 MB */
static size_t writer_heap_bytes(int batch) {
  size_t b = batch > 0 ? (size_t)batch * 5120 : 0;
  return b < (32u << 20) ? b : (32u << 20);
}

static void *writer_main(void *arg) {
  ce_store *s = arg;
  /* LMDB copies every page a batch changes into a 4 KB allocation, kept
   * for the next batch: a batch of 2,048 values changes up to 2,500 pages
   * once the trees are large (a run's writer grew its heap by 3,200 pages,
   * one fault each). PostgreSQL's writers keep no pages. */
  void *reserved = s->pg ? NULL : ce_heap_reserve(writer_heap_bytes(s->batch));
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->head && !s->stopping) pthread_cond_wait(&s->wake, &s->lock);
    if (!s->head && s->stopping) break;
    if (s->queued < (uint64_t)s->batch && !s->stopping && !s->flush_now && s->flush_ms > 0) {
      /* let a batch fill for flush_ms: one fsync, and one write of the pages
       * the records share, for many records. The wait ends when the batch is
       * full (enqueue wakes the writer then), the time is up, or a sync or a
       * producer held back by the queue's bound asks for a commit */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += (long)s->flush_ms * 1000000L;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      while (s->queued < (uint64_t)s->batch && !s->stopping && !s->flush_now)
        if (pthread_cond_timedwait(&s->wake, &s->lock, &ts) == ETIMEDOUT) break;
      if (!s->head) continue; /* another writer took it meanwhile */
    }
    s->flush_now = 0;
    item *batch = s->head, *last = NULL;
    int n = 0;
    uint64_t bytes = 0;
    for (item *it = s->head; it; it = it->next) {
      if ((n >= s->batch || (n > 0 && bytes + it->kl + it->vl > s->max_queued_bytes / 2)) && !(last && last->more))
        break;
      last = it;
      n++;
      bytes += it->kl + it->vl;
    }
    if (bytes > s->batch_bytes_peak) s->batch_bytes_peak = bytes;
    s->head = last->next;
    if (!s->head) s->tail = NULL;
    last->next = NULL;
    int slot = 0;
    while (slot < 7 && s->inflight_used[slot]) slot++; /* as many slots as writers */
    s->inflight_used[slot] = 1;
    s->inflight_first[slot] = s->taken_total;
    s->taken_total += (uint64_t)n;
    int failed = s->failed;
    pthread_mutex_unlock(&s->lock);

    ce_err e;
    int rc = failed ? 0 : commit(s, batch, n, &e);
    pthread_mutex_lock(&s->lock);
    if (rc != 0 && !s->failed) {
      s->failed = 1;
      snprintf(s->fail_msg, sizeof s->fail_msg, "%s", e.msg);
    }
    for (item *it = batch; it;) {
      item *next = it->next;
      ce_native_add(CE_NATIVE_STORE_QUEUE, -(int64_t)(sizeof *it + it->kl + it->vl));
      s->queued_bytes -= it->kl + it->vl;
      if (!s->failed) {
        ce_store_tally *t = &s->tally[it->slot];
        if (it->tally & CE_TALLY_DONE) t->done++;
        if (it->tally & CE_TALLY_ERROR) t->errors++;
        if (it->tally & CE_TALLY_CORRECT) t->correct++;
        if (it->tally & CE_TALLY_UNPARSEABLE) t->unparseable++;
        if (it->seg >= 0 && s->jr) ce_journal_committed(s->jr, it->seg, 1);
      }
      free(it);
      it = next;
    }
    s->queued -= (uint64_t)n;
    s->committed_total += (uint64_t)n;
    s->inflight_used[slot] = 0;
    uint64_t prefix = s->taken_total;
    for (int i = 0; i < 8; i++)
      if (s->inflight_used[i] && s->inflight_first[i] < prefix) prefix = s->inflight_first[i];
    if (prefix > s->committed_prefix) s->committed_prefix = prefix;
    s->commits++;
    pthread_cond_broadcast(&s->idle);
  }
  pthread_mutex_unlock(&s->lock);
  free(reserved);
  return NULL;
}

int ce_store_sync(ce_store *s, ce_err *err) {
  pthread_mutex_lock(&s->lock);
  uint64_t target = s->enqueued_total;
  if (s->running) {
    /* until the sync is over: a writer that takes part of the queue waits no window for the rest */
    while (s->committed_prefix < target && !s->failed) {
      s->flush_now = 1;
      pthread_cond_signal(&s->wake);
      pthread_cond_wait(&s->idle, &s->lock);
    }
  }
  int failed = s->failed;
  if (failed) ce_err_setf(err, 1, NULL, 0, 0, "%s", s->fail_msg);
  pthread_mutex_unlock(&s->lock);
  return failed ? -1 : 0;
}

void ce_store_tally_get(ce_store *s, int slot, ce_store_tally *out) {
  pthread_mutex_lock(&s->lock);
  *out = s->tally[slot >= 0 && slot < CE_STORE_SLOTS ? slot : 0];
  pthread_mutex_unlock(&s->lock);
}

uint64_t ce_store_queued(ce_store *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t q = s->queued;
  pthread_mutex_unlock(&s->lock);
  return q;
}

void ce_store_queued_bytes(ce_store *s, uint64_t *now, uint64_t *peak) {
  pthread_mutex_lock(&s->lock);
  *now = s->queued_bytes;
  *peak = s->queued_bytes_peak;
  pthread_mutex_unlock(&s->lock);
}

uint64_t ce_store_commits(ce_store *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t c = s->commits;
  pthread_mutex_unlock(&s->lock);
  return c;
}

uint64_t ce_store_batch_bytes_peak(ce_store *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t b = s->batch_bytes_peak;
  pthread_mutex_unlock(&s->lock);
  return b;
}
