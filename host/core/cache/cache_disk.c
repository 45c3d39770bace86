/* SPDX-License-Identifier: MIT */
#include "core/cache/cache_disk.h"
#include "core/observe/profile.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cache/cache_entry.h"
#include "core/util/paths.h"

/* read transactions kept reset between lookups, for the threads of a run */
#define SPARE_READERS 8

struct ce_diskcache {
  MDB_env *env;
  MDB_dbi entries, age, tags;
  size_t max_bytes;
  char path[1024];
  atomic_ullong evictions;
  pthread_mutex_t spare_lock;
  MDB_txn *spare[SPARE_READERS];
  int nspare;
};

static int fail(ce_err *err, const ce_diskcache *d, const char *what, int rc) {
  if (rc == MDB_MAP_FULL)
    ce_err_setf(err, 1, d->path, 0, 0, "%s: the disk cache is full", what);
  else
    ce_err_setf(err, 1, d->path, 0, 0, "%s: %s", what, mdb_strerror(rc));
  return -1;
}

static void put_time(char out[8], double t) {
  uint64_t us = t > 0 ? (uint64_t)(t * 1e6) : 0;
  for (int i = 7; i >= 0; i--) {
    out[i] = (char)(us & 0xff);
    us >>= 8;
  }
}

/* eviction order: microseconds since the epoch, big-endian, then the key */
static size_t age_key(char *buf, size_t size, double created, const void *k, size_t kl) {
  put_time(buf, created);
  size_t n = kl < size - 8 ? kl : size - 8;
  memcpy(buf + 8, k, n);
  return 8 + n;
}

/* 1 (and err) when the folder's LMDB holds what no cache writes: a results
 * store given as cache.disk.path got the cache's tables beside its own, and
 * the store was then refused as damaged. A cache holds its three named
 * databases and nothing else; an empty folder holds none yet. */
static int foreign(MDB_txn *txn, const char *dir, ce_err *err) {
  MDB_dbi main;
  MDB_cursor *c;
  if (mdb_dbi_open(txn, NULL, 0, &main) != 0 || mdb_cursor_open(txn, main, &c) != 0) return 0;
  MDB_val k, v;
  int found = 0;
  for (int op = MDB_FIRST; !found && mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
    static const char *const mine[] = {"age", "entries", "tags"};
    found = 1;
    for (size_t i = 0; i < sizeof mine / sizeof *mine; i++)
      if (k.mv_size == strlen(mine[i]) && memcmp(k.mv_data, mine[i], k.mv_size) == 0) found = 0;
    if (found)
      ce_err_setf(err, 1, dir, 0, 0, "not a response cache: it holds \"%.*s\", which no cache writes (a results "
                  "store?); give the cache a folder of its own", (int)(k.mv_size > 64 ? 64 : k.mv_size),
                  (const char *)k.mv_data);
  }
  mdb_cursor_close(c);
  return found;
}

ce_diskcache *ce_diskcache_open(const char *dir, size_t max_bytes, ce_err *err) {
  ce_err_clear(err);
  /* the folders above it too (the default's ~/.cache may not exist yet):
   * here, where a shell's `mkdir -p` took a fork and two programs a run */
  ce_err mk;
  if (ce_mkdirs(dir, 0755, &mk) != 0) {
    ce_err_setf(err, 1, dir, 0, 0, "cannot create the cache folder: %s", mk.msg);
    return NULL;
  }
  ce_diskcache *d = calloc(1, sizeof *d);
  if (!d) {
    ce_err_setf(err, 1, dir, 0, 0, "out of memory");
    return NULL;
  }
  snprintf(d->path, sizeof d->path, "%s", dir);
  d->max_bytes = max_bytes;
  pthread_mutex_init(&d->spare_lock, NULL);
  int rc = mdb_env_create(&d->env);
  /* room above the bound so that eviction, not MDB_MAP_FULL, keeps it in size */
  if (rc == 0) rc = mdb_env_set_mapsize(d->env, max_bytes + max_bytes / 2 + (64u << 20));
  if (rc == 0) rc = mdb_env_set_maxdbs(d->env, 4);
  if (rc == 0) rc = mdb_env_set_maxreaders(d->env, 512);
  /* a cache may lose its last writes on a power cut, never its integrity */
  if (rc == 0) rc = mdb_env_open(d->env, dir, MDB_NOTLS | MDB_NOSYNC | MDB_NORDAHEAD, 0644);
  MDB_txn *txn = NULL;
  if (rc == 0) rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc == 0 && foreign(txn, dir, err)) {
    mdb_txn_abort(txn);
    ce_diskcache_free(d);
    return NULL;
  }
  if (rc == 0) rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &d->entries);
  if (rc == 0) rc = mdb_dbi_open(txn, "age", MDB_CREATE, &d->age);
  if (rc == 0) rc = mdb_dbi_open(txn, "tags", MDB_CREATE, &d->tags);
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
    txn = NULL;
  }
  if (rc != 0) {
    if (txn) mdb_txn_abort(txn);
    fail(err, d, "opening the disk cache", rc);
    ce_diskcache_free(d);
    return NULL;
  }
  return d;
}

void ce_diskcache_free(ce_diskcache *d) {
  if (!d) return;
  for (int i = 0; i < d->nspare; i++) mdb_txn_abort(d->spare[i]);
  if (d->env) mdb_env_close(d->env);
  pthread_mutex_destroy(&d->spare_lock);
  free(d);
}

/* A read transaction: a spare one renewed, else a new one. Beginning one
 * took a reader slot under the lock file's mutex (MDB_NOTLS: a thread does
 * not keep its slot) and allocated the transaction, a quarter of a miss's
 * instructions, with a run's workers taking turns at that mutex for every
 * question; a reset one keeps its slot and its memory. */
static int read_begin(ce_diskcache *d, MDB_txn **txn) {
  MDB_txn *t = NULL;
  pthread_mutex_lock(&d->spare_lock);
  if (d->nspare > 0) t = d->spare[--d->nspare];
  pthread_mutex_unlock(&d->spare_lock);
  if (t) {
    if (mdb_txn_renew(t) == 0) {
      *txn = t;
      return 0;
    }
    mdb_txn_abort(t);
  }
  return mdb_txn_begin(d->env, NULL, MDB_RDONLY, txn);
}

/* Ends a read transaction, kept reset for the next (a reset one holds no
 * pages back from reuse). */
static void read_end(ce_diskcache *d, MDB_txn *txn) {
  mdb_txn_reset(txn);
  pthread_mutex_lock(&d->spare_lock);
  if (d->nspare < SPARE_READERS) {
    d->spare[d->nspare++] = txn;
    txn = NULL;
  }
  pthread_mutex_unlock(&d->spare_lock);
  if (txn) mdb_txn_abort(txn);
}

int ce_diskcache_get(ce_diskcache *d, const void *k, size_t kl, ce_buf *out, ce_err *err) {
  double t0 = ce_io_now();
  size_t before = out->len;
  MDB_txn *txn;
  int rc = read_begin(d, &txn);
  if (rc != 0) return fail(err, d, "reading the disk cache", rc);
  MDB_val key = {kl, (void *)k}, val;
  rc = mdb_get(txn, d->entries, &key, &val);
  int found = 0;
  if (rc == 0) {
    ce_buf_add(out, val.mv_data, val.mv_size);
    found = out->oom ? 0 : 1;
  } else if (rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return fail(err, d, "reading the disk cache", rc);
  }
  read_end(d, txn);
  ce_io_count(CE_IO_LMDB, 1, out->len - before, ce_io_now() - t0);
  return found;
}

/* Bytes held by live pages of the three databases. */
static uint64_t live_bytes(ce_diskcache *d, MDB_txn *txn) {
  uint64_t total = 0;
  MDB_dbi dbs[3] = {d->entries, d->age, d->tags};
  for (int i = 0; i < 3; i++) {
    MDB_stat st;
    if (mdb_stat(txn, dbs[i], &st) == 0)
      total += (uint64_t)st.ms_psize * (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
  }
  return total;
}

static int delete_in(ce_diskcache *d, MDB_txn *txn, const void *k, size_t kl) {
  MDB_val key = {kl, (void *)k}, val;
  int rc = mdb_get(txn, d->entries, &key, &val);
  if (rc != 0) return rc;
  ce_cache_entry e;
  if (ce_cache_entry_decode(val.mv_data, val.mv_size, 0, &e) == 0) {
    char ak[520];
    MDB_val akey = {age_key(ak, sizeof ak, e.created, k, kl), ak};
    mdb_del(txn, d->age, &akey, NULL);
  }
  return mdb_del(txn, d->entries, &key, NULL);
}

/* Evictions of every process that wrote the cache, kept beside the tags'
 * versions under a name no tag has (a tag is text): `cache stats`, a
 * process of its own, always said 0. */
static const MDB_val EVICTIONS_KEY = {10, "\0evictions"};

static uint64_t evictions_stored(ce_diskcache *d, MDB_txn *txn) {
  MDB_val v;
  uint64_t n = 0;
  if (mdb_get(txn, d->tags, (MDB_val *)&EVICTIONS_KEY, &v) == 0 && v.mv_size == 8) memcpy(&n, v.mv_data, 8);
  return n;
}

/* Oldest first until live pages are under 90% of the bound. */
static int evict(ce_diskcache *d, MDB_txn *txn, size_t incoming) {
  uint64_t target = d->max_bytes - d->max_bytes / 10;
  if (live_bytes(d, txn) + incoming <= d->max_bytes) return 0;
  MDB_cursor *c;
  int rc = mdb_cursor_open(txn, d->age, &c);
  if (rc != 0) return rc;
  MDB_val ak, av;
  int n = 0;
  while ((rc = mdb_cursor_get(c, &ak, &av, MDB_FIRST)) == 0) {
    const char *key = (const char *)ak.mv_data + 8;
    size_t kl = ak.mv_size - 8;
    MDB_val key_v = {kl, (void *)key};
    mdb_del(txn, d->entries, &key_v, NULL);
    mdb_cursor_del(c, 0);
    atomic_fetch_add(&d->evictions, 1);
    /* live_bytes walks three stats: check it every 32 deletions */
    if (++n % 32 == 0 && live_bytes(d, txn) + incoming <= target) break;
  }
  mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND && rc != 0) return rc;
  if (n > 0) {
    uint64_t total = evictions_stored(d, txn) + (uint64_t)n;
    MDB_val v = {8, &total};
    rc = mdb_put(txn, d->tags, (MDB_val *)&EVICTIONS_KEY, &v, 0);
    if (rc != 0) return rc;
  }
  return 0;
}

int ce_diskcache_set(ce_diskcache *d, const void *k, size_t kl, const void *blob, size_t bl, double created,
                     ce_err *err) {
  if (kl == 0 || kl > 500) {
    ce_err_setf(err, 1, d->path, 0, 0, "cache keys must have 1 to 500 bytes");
    return -1;
  }
  double t0 = ce_io_now();
  MDB_txn *txn;
  int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc != 0) return fail(err, d, "writing the disk cache", rc);
  rc = delete_in(d, txn, k, kl);
  if (rc == MDB_NOTFOUND) rc = 0;
  if (rc == 0) rc = evict(d, txn, bl + kl);
  char ak[520];
  MDB_val key = {kl, (void *)k}, val = {bl, (void *)blob};
  MDB_val akey = {age_key(ak, sizeof ak, created, k, kl), ak}, empty = {0, ""};
  if (rc == 0) rc = mdb_put(txn, d->entries, &key, &val, 0);
  if (rc == 0) rc = mdb_put(txn, d->age, &akey, &empty, 0);
  if (rc == MDB_MAP_FULL) {
    /* the bound is near the map's size: make room for certain and try once more */
    mdb_txn_abort(txn);
    rc = mdb_txn_begin(d->env, NULL, 0, &txn);
    if (rc != 0) return fail(err, d, "writing the disk cache", rc);
    size_t saved = d->max_bytes;
    d->max_bytes = d->max_bytes / 2;
    rc = evict(d, txn, bl + kl);
    d->max_bytes = saved;
    if (rc == 0) rc = mdb_put(txn, d->entries, &key, &val, 0);
    if (rc == 0) rc = mdb_put(txn, d->age, &akey, &empty, 0);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return fail(err, d, "writing the disk cache", rc);
  }
  rc = mdb_txn_commit(txn);
  ce_io_count(CE_IO_LMDB, 1, kl + bl, ce_io_now() - t0);
  return rc == 0 ? 0 : fail(err, d, "writing the disk cache", rc);
}

int ce_diskcache_set_many(ce_diskcache *d, int n, const char *const *keys, const size_t *klens,
                          const char *const *blobs, const size_t *blens, const double *created, ce_err *err) {
  size_t incoming = 0;
  for (int i = 0; i < n; i++) {
    if (klens[i] == 0 || klens[i] > 500) {
      ce_err_setf(err, 1, d->path, 0, 0, "cache keys must have 1 to 500 bytes");
      return -1;
    }
    incoming += klens[i] + blens[i];
  }
  double t0 = ce_io_now();
  MDB_txn *txn;
  int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc != 0) return fail(err, d, "writing the disk cache", rc);
  rc = evict(d, txn, incoming);
  for (int i = 0; rc == 0 && i < n; i++) {
    /* a new key, as an answer just missed is, goes in at once; one already
     * there is taken out first with its age key (looking every key up
     * before putting it was a seventh of a worker's cache writes) */
    MDB_val key = {klens[i], (void *)keys[i]}, val = {blens[i], (void *)blobs[i]};
    rc = mdb_put(txn, d->entries, &key, &val, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
      rc = delete_in(d, txn, keys[i], klens[i]);
      val = (MDB_val){blens[i], (void *)blobs[i]}; /* the refused put pointed it at the old value */
      if (rc == 0) rc = mdb_put(txn, d->entries, &key, &val, 0);
    }
    char ak[520];
    MDB_val akey = {age_key(ak, sizeof ak, created[i], keys[i], klens[i]), ak}, empty = {0, ""};
    if (rc == 0) rc = mdb_put(txn, d->age, &akey, &empty, 0);
  }
  if (rc == MDB_MAP_FULL) {
    /* near the map's size: the single-entry path makes room more firmly */
    mdb_txn_abort(txn);
    for (int i = 0; i < n; i++)
      if (ce_diskcache_set(d, keys[i], klens[i], blobs[i], blens[i], created[i], err) != 0) return -1;
    return 0;
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return fail(err, d, "writing the disk cache", rc);
  }
  rc = mdb_txn_commit(txn);
  ce_io_count(CE_IO_LMDB, (uint64_t)n, incoming, ce_io_now() - t0);
  return rc == 0 ? 0 : fail(err, d, "writing the disk cache", rc);
}

int ce_diskcache_del(ce_diskcache *d, const void *k, size_t kl, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc != 0) return fail(err, d, "deleting from the disk cache", rc);
  rc = delete_in(d, txn, k, kl);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return 0;
  }
  if (rc == 0) rc = mdb_txn_commit(txn);
  else mdb_txn_abort(txn);
  return rc == 0 ? 1 : fail(err, d, "deleting from the disk cache", rc);
}

uint64_t ce_diskcache_tag_version(ce_diskcache *d, const char *tag, size_t len) {
  MDB_txn *txn;
  if (read_begin(d, &txn) != 0) return 0;
  MDB_val key = {len, (void *)tag}, val;
  uint64_t v = 0;
  if (mdb_get(txn, d->tags, &key, &val) == 0 && val.mv_size == 8) memcpy(&v, val.mv_data, 8);
  read_end(d, txn);
  return v;
}

uint64_t ce_diskcache_tag_bump(ce_diskcache *d, const char *tag, size_t len, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc != 0) {
    fail(err, d, "invalidating in the disk cache", rc);
    return 0;
  }
  MDB_val key = {len, (void *)tag}, val;
  uint64_t v = 0;
  if (mdb_get(txn, d->tags, &key, &val) == 0 && val.mv_size == 8) memcpy(&v, val.mv_data, 8);
  v++;
  MDB_val nv = {8, &v};
  rc = mdb_put(txn, d->tags, &key, &nv, 0);
  if (rc == 0) rc = mdb_txn_commit(txn);
  else mdb_txn_abort(txn);
  if (rc != 0) {
    fail(err, d, "invalidating in the disk cache", rc);
    return 0;
  }
  return v;
}

long ce_diskcache_scan(ce_diskcache *d, ce_diskcache_visit fn, void *ud, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc != 0) return fail(err, d, "scanning the disk cache", rc);
  MDB_cursor *c;
  rc = mdb_cursor_open(txn, d->entries, &c);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return fail(err, d, "scanning the disk cache", rc);
  }
  long n = 0, deleted = 0;
  MDB_val k, v;
  rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  while (rc == 0) {
    n++;
    int what = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, ud);
    if (what == 2) break;
    if (what == 1) {
      ce_cache_entry e;
      if (ce_cache_entry_decode(v.mv_data, v.mv_size, 0, &e) == 0) {
        char ak[520];
        MDB_val akey = {age_key(ak, sizeof ak, e.created, k.mv_data, k.mv_size), ak};
        mdb_del(txn, d->age, &akey, NULL);
      }
      rc = mdb_cursor_del(c, 0);
      if (rc != 0) break;
      deleted++;
      rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
      if (rc == EINVAL || rc == MDB_NOTFOUND) rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
      continue;
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return fail(err, d, "scanning the disk cache", rc);
  }
  if (deleted) rc = mdb_txn_commit(txn);
  else {
    mdb_txn_abort(txn);
    rc = 0;
  }
  return rc == 0 ? n : fail(err, d, "scanning the disk cache", rc);
}

long ce_diskcache_prune_before(ce_diskcache *d, double before, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc != 0) return fail(err, d, "pruning the disk cache", rc);
  MDB_cursor *c;
  rc = mdb_cursor_open(txn, d->age, &c);
  long n = 0;
  char limit[8];
  put_time(limit, before);
  MDB_val ak, av;
  while (rc == 0 && (rc = mdb_cursor_get(c, &ak, &av, MDB_FIRST)) == 0) {
    if (ak.mv_size < 8 || memcmp(ak.mv_data, limit, 8) >= 0) break;
    MDB_val key = {ak.mv_size - 8, (char *)ak.mv_data + 8};
    mdb_del(txn, d->entries, &key, NULL);
    rc = mdb_cursor_del(c, 0);
    n++;
  }
  if (rc == 0 || rc == MDB_NOTFOUND) {
    mdb_cursor_close(c);
    rc = mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
  return rc == 0 ? n : fail(err, d, "pruning the disk cache", rc);
}

int ce_diskcache_clear(ce_diskcache *d, ce_err *err) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(d->env, NULL, 0, &txn);
  if (rc == 0) rc = mdb_drop(txn, d->entries, 0);
  if (rc == 0) rc = mdb_drop(txn, d->age, 0);
  if (rc == 0) rc = mdb_txn_commit(txn);
  else if (txn) mdb_txn_abort(txn);
  return rc == 0 ? 0 : fail(err, d, "clearing the disk cache", rc);
}

void ce_diskcache_stats_get(ce_diskcache *d, ce_diskcache_stats *out) {
  memset(out, 0, sizeof *out);
  out->max_bytes = d->max_bytes;
  out->evictions = atomic_load(&d->evictions);
  MDB_txn *txn;
  if (mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn) != 0) return;
  MDB_stat st;
  if (mdb_stat(txn, d->entries, &st) == 0) out->entries = st.ms_entries;
  out->evictions = evictions_stored(d, txn);
  out->bytes = live_bytes(d, txn);
  mdb_txn_abort(txn);
}
