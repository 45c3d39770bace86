/* SPDX-License-Identifier: MIT */
#include "core/observe/profile.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/clock.h"
#include "core/stats/philox.h"

#define MAX_SNAPSHOTS 512

typedef struct entry {
  struct entry *next;
  uint64_t hash, samples;
  int64_t pending;   /* memory: bytes since the last snapshot */
  int64_t *growth;   /* memory: per snapshot */
  int ngrowth;
  size_t len;
  char key[];
} entry;

typedef struct {
  entry **buckets;
  size_t nbuckets, count;
} table;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int active;
static double interval = 0.001;
static table stacks, sites;
static uint64_t total_samples;
static double snap_t[MAX_SNAPSHOTS];
static int64_t snap_total[MAX_SNAPSHOTS];
static int nsnap;

static void table_clear(table *t) {
  for (size_t i = 0; i < t->nbuckets; i++) {
    entry *e = t->buckets[i];
    while (e) {
      entry *n = e->next;
      free(e->growth);
      free(e);
      e = n;
    }
  }
  free(t->buckets);
  t->buckets = NULL;
  t->nbuckets = t->count = 0;
}

static entry *table_get(table *t, const char *key, size_t len) {
  if (!t->buckets) {
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) return NULL;
  }
  uint64_t h = ce_hash64(key, len, 0x70726f66);
  entry **pp = &t->buckets[h & (t->nbuckets - 1)];
  for (entry *e = *pp; e; e = e->next)
    if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) return e;
  entry *e = calloc(1, sizeof *e + len + 1);
  if (!e) return NULL;
  e->hash = h;
  e->len = len;
  memcpy(e->key, key, len);
  e->next = *pp;
  *pp = e;
  t->count++;
  return e;
}

void ce_prof_start(double interval_s) {
  pthread_mutex_lock(&lock);
  table_clear(&stacks);
  table_clear(&sites);
  total_samples = 0;
  nsnap = 0;
  interval = interval_s > 0 ? interval_s : 0.001;
  pthread_mutex_unlock(&lock);
  atomic_store(&active, 1);
}

void ce_prof_stop(void) { atomic_store(&active, 0); }
int ce_prof_active(void) { return atomic_load_explicit(&active, memory_order_relaxed); }
double ce_prof_interval(void) { return interval; }

void ce_prof_add_stack(const char *folded, size_t len, uint64_t samples) {
  pthread_mutex_lock(&lock);
  entry *e = table_get(&stacks, folded, len);
  if (e) e->samples += samples;
  total_samples += samples;
  pthread_mutex_unlock(&lock);
}

void ce_prof_each_stack(ce_prof_stack_visit fn, void *ud) {
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < stacks.nbuckets; i++)
    for (entry *e = stacks.buckets[i]; e; e = e->next)
      if (fn(e->key, e->samples, ud)) goto done;
done:
  pthread_mutex_unlock(&lock);
}

uint64_t ce_prof_total_samples(void) {
  pthread_mutex_lock(&lock);
  uint64_t n = total_samples;
  pthread_mutex_unlock(&lock);
  return n;
}

void ce_prof_add_memory(const char *site, size_t len, int64_t bytes) {
  pthread_mutex_lock(&lock);
  entry *e = table_get(&sites, site, len);
  if (e) e->pending += bytes;
  pthread_mutex_unlock(&lock);
}

void ce_prof_snapshot(double t, int64_t total_bytes) {
  pthread_mutex_lock(&lock);
  if (nsnap < MAX_SNAPSHOTS) {
    snap_t[nsnap] = t;
    snap_total[nsnap] = total_bytes;
    for (size_t i = 0; i < sites.nbuckets; i++)
      for (entry *e = sites.buckets[i]; e; e = e->next) {
        int64_t *g = realloc(e->growth, (size_t)(nsnap + 1) * sizeof *g);
        if (!g) continue;
        for (int k = e->ngrowth; k < nsnap; k++) g[k] = 0; /* a site new since */
        g[nsnap] = e->pending;
        e->growth = g;
        e->ngrowth = nsnap + 1;
        e->pending = 0;
      }
    nsnap++;
  }
  pthread_mutex_unlock(&lock);
}

void ce_prof_each_site(ce_prof_site_visit fn, void *ud) {
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < sites.nbuckets; i++)
    for (entry *e = sites.buckets[i]; e; e = e->next)
      if (e->ngrowth && fn(e->key, e->growth, e->ngrowth, ud)) goto done;
done:
  pthread_mutex_unlock(&lock);
}

int ce_prof_snapshots(double *t, int64_t *total, int max) {
  pthread_mutex_lock(&lock);
  int n = nsnap < max ? nsnap : max;
  for (int i = 0; i < n; i++) {
    t[i] = snap_t[i];
    total[i] = snap_total[i];
  }
  pthread_mutex_unlock(&lock);
  return n;
}

/* ---- I/O ---- */

static struct {
  atomic_ullong ops, bytes, nanos;
} io[CE_IO_NPATHS];

void ce_io_count(int path, uint64_t ops, uint64_t bytes, double seconds) {
  if (path < 0 || path >= CE_IO_NPATHS) return;
  atomic_fetch_add_explicit(&io[path].ops, ops, memory_order_relaxed);
  atomic_fetch_add_explicit(&io[path].bytes, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit(&io[path].nanos, (unsigned long long)(seconds > 0 ? seconds * 1e9 : 0), memory_order_relaxed);
}

void ce_io_get(int path, ce_io_totals *out) {
  out->ops = atomic_load(&io[path].ops);
  out->bytes = atomic_load(&io[path].bytes);
  out->seconds = (double)atomic_load(&io[path].nanos) * 1e-9;
}

const char *ce_io_path_name(int path) {
  static const char *const names[] = {"http", "lmdb", "redis", "file", "smtp"};
  return path >= 0 && path < CE_IO_NPATHS ? names[path] : "?";
}

double ce_io_now(void) { return ce_clock_mono(); }

/* ---- native memory ---- */

static atomic_llong native_bytes[CE_NATIVE_NKINDS];

void ce_native_add(int kind, int64_t delta) {
  if (kind >= 0 && kind < CE_NATIVE_NKINDS) atomic_fetch_add_explicit(&native_bytes[kind], delta, memory_order_relaxed);
}

int64_t ce_native_get(int kind) {
  return kind >= 0 && kind < CE_NATIVE_NKINDS ? atomic_load(&native_bytes[kind]) : 0;
}

const char *ce_native_name(int kind) {
  static const char *const names[] = {"store_queue", "cache_memory"};
  return kind >= 0 && kind < CE_NATIVE_NKINDS ? names[kind] : "?";
}

int64_t ce_rss_bytes(void) {
  long pages = 0, resident = 0, shared = 0; /* shared: file-backed and shmem pages */
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%ld %ld %ld", &pages, &resident, &shared) != 3) resident = shared = 0;
  fclose(f);
  return (int64_t)(resident > shared ? resident - shared : 0) * sysconf(_SC_PAGESIZE);
}
