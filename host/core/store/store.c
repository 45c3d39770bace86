/* SPDX-License-Identifier: MIT */
#include "core/store/store.h"
#include "core/observe/profile.h"
#include "core/store/lmdb_map.h"

#include <lmdb.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static const char *const DB_NAMES[CE_STORE_NDB] = {"runs", "records", "meta", "scores"};

typedef struct item {
  struct item *next;
  int db, slot;
  int more; /* the next item belongs to the same transaction */
  unsigned tally;
  size_t kl, vl;
  char data[]; /* key, then value */
} item;

struct ce_store {
  MDB_env *env;
  MDB_dbi dbi[CE_STORE_NDB];
  char path[1024];
  /* writer */
  pthread_t thread;
  int running, stopping;
  pthread_mutex_t lock;
  pthread_cond_t wake, idle;
  item *head, *tail;
  uint64_t queued, enqueued_total, committed_total, commits;
  uint64_t queued_bytes, queued_bytes_peak; /* keys and values of the queued items */
  int batch, flush_ms;
  int failed;
  char fail_msg[700];
  ce_store_tally tally[CE_STORE_SLOTS];
  ce_lmdb_map map; /* trimmed after commits and during scans: see lmdb_map.h */
};

static int lmdb_fail(ce_err *err, const char *path, const char *what, int rc) {
  if (rc == MDB_MAP_FULL)
    ce_err_setf(err, 1, path, 0, 0, "%s: the store is full (raise store.map_size_mb)", what);
  else
    ce_err_setf(err, 1, path, 0, 0, "%s: %s", what, mdb_strerror(rc));
  return -1;
}

static void trim_map(ce_store *s) { ce_lmdb_map_trim(&s->map); }

ce_store *ce_store_open(const char *dir, size_t map_mb, int sync, ce_err *err) {
  ce_err_clear(err);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    ce_err_setf(err, 1, dir, 0, 0, "cannot create the store folder: %s", strerror(errno));
    return NULL;
  }
  ce_store *s = calloc(1, sizeof *s);
  if (!s) {
    ce_err_setf(err, 1, dir, 0, 0, "out of memory");
    return NULL;
  }
  snprintf(s->path, sizeof s->path, "%s", dir);
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->idle, NULL);
  int rc = mdb_env_create(&s->env);
  if (rc == 0) rc = mdb_env_set_maxdbs(s->env, 8);
  if (rc == 0) rc = mdb_env_set_mapsize(s->env, (map_mb ? map_mb : 1024) * (size_t)1024 * 1024);
  if (rc == 0) rc = mdb_env_set_maxreaders(s->env, 256);
  /* NOTLS: read transactions belong to whoever opened them, not to a thread */
  unsigned flags = MDB_NOTLS | (sync ? 0 : MDB_NOSYNC);
  if (rc == 0) rc = mdb_env_open(s->env, dir, flags, 0644);
  if (rc != 0) {
    lmdb_fail(err, dir, "cannot open the store", rc);
    ce_store_free(s);
    return NULL;
  }
  MDB_txn *txn;
  rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  for (int i = 0; rc == 0 && i < CE_STORE_NDB; i++) rc = mdb_dbi_open(txn, DB_NAMES[i], MDB_CREATE, &s->dbi[i]);
  if (rc == 0) rc = mdb_txn_commit(txn);
  else mdb_txn_abort(txn);
  if (rc != 0) {
    lmdb_fail(err, dir, "cannot open the store's databases", rc);
    ce_store_free(s);
    return NULL;
  }
  ce_lmdb_map_find(s->env, &s->map);
  return s;
}

static void *writer_main(void *arg);

int ce_store_writer_start(ce_store *s, int batch, int flush_ms, ce_err *err) {
  if (s->running) return 0;
  s->batch = batch > 0 ? batch : 256;
  s->flush_ms = flush_ms >= 0 ? flush_ms : 5;
  s->running = 1;
  if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
    s->running = 0;
    ce_err_setf(err, 1, s->path, 0, 0, "cannot start the store writer: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static void stop_writer(ce_store *s) {
  if (!s->running) return;
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  s->running = 0;
}

void ce_store_free(void *p) {
  ce_store *s = p;
  if (!s) return;
  stop_writer(s);
  item *it = s->head;
  while (it) {
    item *n = it->next;
    free(it);
    it = n;
  }
  if (s->env) mdb_env_close(s->env);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->idle);
  free(s);
}

int ce_store_put(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc) return lmdb_fail(err, s->path, "begin", rc);
  MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
  rc = mdb_put(txn, s->dbi[db], &key, &val, 0);
  if (rc) {
    mdb_txn_abort(txn);
    return lmdb_fail(err, s->path, "put", rc);
  }
  rc = mdb_txn_commit(txn);
  return rc ? lmdb_fail(err, s->path, "commit", rc) : 0;
}

int ce_store_get(ce_store *s, int db, const void *k, size_t kl, char **v, size_t *vl, ce_err *err) {
  *v = NULL;
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
  if (rc) return lmdb_fail(err, s->path, "begin", rc);
  MDB_val key = {kl, (void *)k}, val;
  rc = mdb_get(txn, s->dbi[db], &key, &val);
  int found = 0;
  if (rc == 0) {
    *v = malloc(val.mv_size + 1);
    if (*v) {
      memcpy(*v, val.mv_data, val.mv_size);
      (*v)[val.mv_size] = '\0';
      *vl = val.mv_size;
      found = 1;
    } else {
      ce_err_setf(err, 1, s->path, 0, 0, "out of memory");
      found = -1;
    }
  } else if (rc != MDB_NOTFOUND) {
    found = lmdb_fail(err, s->path, "get", rc);
  }
  mdb_txn_abort(txn);
  return found;
}

int ce_store_del(ce_store *s, int db, const void *k, size_t kl, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc) return lmdb_fail(err, s->path, "begin", rc);
  MDB_val key = {kl, (void *)k};
  rc = mdb_del(txn, s->dbi[db], &key, NULL);
  if (rc && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return lmdb_fail(err, s->path, "delete", rc);
  }
  rc = mdb_txn_commit(txn);
  return rc ? lmdb_fail(err, s->path, "commit", rc) : 0;
}

static int has_prefix(const MDB_val *k, const void *p, size_t pl) {
  return k->mv_size >= pl && memcmp(k->mv_data, p, pl) == 0;
}

long ce_store_scan(ce_store *s, int db, const void *prefix, size_t pl, int reverse, ce_store_visit fn,
                   void *ud, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
  if (rc) return lmdb_fail(err, s->path, "begin", rc);
  MDB_cursor *cur;
  rc = mdb_cursor_open(txn, s->dbi[db], &cur);
  if (rc) {
    mdb_txn_abort(txn);
    return lmdb_fail(err, s->path, "cursor", rc);
  }
  MDB_val key = {pl, (void *)prefix}, val;
  long n = 0;
  if (!reverse) {
    rc = pl ? mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) : mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (rc == 0 && has_prefix(&key, prefix, pl)) {
      n++;
      if (fn(key.mv_data, key.mv_size, val.mv_data, val.mv_size, ud)) break;
      if (n % 64 == 0) trim_map(s);
      rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
  } else {
    /* start after the last key with the prefix: the prefix with its last byte bumped */
    int positioned = 0;
    if (pl) {
      char *after = malloc(pl);
      size_t al = pl;
      if (after) {
        memcpy(after, prefix, pl);
        while (al > 0 && (unsigned char)after[al - 1] == 0xff) al--;
        if (al > 0) {
          after[al - 1]++;
          MDB_val a = {al, after};
          rc = mdb_cursor_get(cur, &a, &val, MDB_SET_RANGE);
          key = a;
          if (rc == 0) rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
          else rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
          positioned = 1;
        }
        free(after);
      }
    }
    if (!positioned) rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    while (rc == 0 && has_prefix(&key, prefix, pl)) {
      n++;
      if (fn(key.mv_data, key.mv_size, val.mv_data, val.mv_size, ud)) break;
      if (n % 64 == 0) trim_map(s);
      rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    }
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  if (n >= 64) trim_map(s);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_fail(err, s->path, "scan", rc);
  return n;
}

static item *new_item(int db, const void *k, size_t kl, const void *v, size_t vl, int slot, unsigned tally) {
  item *it = malloc(sizeof *it + kl + vl);
  if (!it) return NULL;
  it->next = NULL;
  it->db = db;
  it->more = 0;
  it->slot = slot >= 0 && slot < CE_STORE_SLOTS ? slot : 0;
  it->tally = tally;
  it->kl = kl;
  it->vl = vl;
  memcpy(it->data, k, kl);
  memcpy(it->data + kl, v, vl);
  return it;
}

/* Queues the chain first..last (n items) in one step, so no other thread's
 * items come between them. */
static void push(ce_store *s, item *first, item *last, int n) {
  uint64_t bytes = 0;
  for (item *it = first; it; it = it->next) bytes += it->kl + it->vl;
  ce_native_add(CE_NATIVE_STORE_QUEUE, (int64_t)(bytes + (uint64_t)n * sizeof *first));
  pthread_mutex_lock(&s->lock);
  /* backpressure: producers faster than the disk wait rather than let the
   * queue (and the process's memory) grow without bound; an item larger
   * than the byte bound still goes through once the queue is empty */
  while (s->running && !s->failed && !s->stopping &&
         (s->queued >= CE_STORE_MAX_QUEUED ||
          (s->queued > 0 && s->queued_bytes + bytes > CE_STORE_MAX_QUEUED_BYTES)))
    pthread_cond_wait(&s->idle, &s->lock);
  s->queued_bytes += bytes;
  if (s->queued_bytes > s->queued_bytes_peak) s->queued_bytes_peak = s->queued_bytes;
  if (s->tail) s->tail->next = first;
  else s->head = first;
  s->tail = last;
  s->queued += (uint64_t)n;
  s->enqueued_total += (uint64_t)n;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
}

int ce_store_enqueue(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, int slot,
                     unsigned tally) {
  item *it = new_item(db, k, kl, v, vl, slot, tally);
  if (!it) return -1;
  push(s, it, it, 1);
  return 0;
}

int ce_store_enqueue_pair(ce_store *s, int db1, const void *v1, size_t v1l, int db2, const void *v2, size_t v2l,
                          const void *k, size_t kl, int slot, unsigned tally) {
  item *a = new_item(db1, k, kl, v1, v1l, slot, 0);
  item *b = new_item(db2, k, kl, v2, v2l, slot, tally);
  if (!a || !b) {
    free(a);
    free(b);
    return -1;
  }
  a->more = 1;
  a->next = b;
  push(s, a, b, 2);
  return 0;
}

static void *writer_main(void *arg) {
  ce_store *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->head && !s->stopping) pthread_cond_wait(&s->wake, &s->lock);
    if (!s->head && s->stopping) break;
    if (s->queued < (uint64_t)s->batch && !s->stopping && s->flush_ms > 0) {
      /* let a batch fill: one fsync for many records */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += (long)s->flush_ms * 1000000L;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    item *batch = s->head, *last = NULL;
    int n = 0;
    for (item *it = s->head; it; it = it->next) {
      if (n >= s->batch && !(last && last->more)) break;
      last = it;
      n++;
    }
    s->head = last->next;
    if (!s->head) s->tail = NULL;
    last->next = NULL;
    pthread_mutex_unlock(&s->lock);

    int rc = 0;
    MDB_txn *txn;
    if (!s->failed) {
      double t0 = ce_io_now();
      uint64_t bytes = 0;
      rc = mdb_txn_begin(s->env, NULL, 0, &txn);
      long puts = 0;
      for (item *it = batch; rc == 0 && it; it = it->next) {
        MDB_val key = {it->kl, it->data}, val = {it->vl, it->data + it->kl};
        rc = mdb_put(txn, s->dbi[it->db], &key, &val, 0);
        bytes += it->kl + it->vl;
        /* keys arrive in no order, so each put may read a leaf page no other
         * has, and the kernel maps up to 16 pages around each one it faults
         * in: a batch of 512 puts could add 32 MB to RSS before the commit */
        if (++puts % 32 == 0) trim_map(s);
      }
      if (rc == 0) rc = mdb_txn_commit(txn);
      else mdb_txn_abort(txn);
      ce_io_count(CE_IO_LMDB, (uint64_t)n, bytes, ce_io_now() - t0);
      trim_map(s);
    }
    pthread_mutex_lock(&s->lock);
    if (rc != 0 && !s->failed) {
      s->failed = 1;
      ce_err e;
      lmdb_fail(&e, s->path, "committing results", rc);
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
      }
      free(it);
      it = next;
    }
    s->queued -= (uint64_t)n;
    s->committed_total += (uint64_t)n;
    s->commits++;
    pthread_cond_broadcast(&s->idle);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

int ce_store_sync(ce_store *s, ce_err *err) {
  pthread_mutex_lock(&s->lock);
  uint64_t target = s->enqueued_total;
  if (s->running) {
    pthread_cond_signal(&s->wake);
    while (s->committed_total < target && !s->failed) pthread_cond_wait(&s->idle, &s->lock);
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
