/* SPDX-License-Identifier: MIT */
#include "core/cache/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cache/cache_disk.h"
#include "core/cache/cache_mem.h"
#include "core/util/shared.h"

#define MEM_TAGS 256

typedef struct {
  atomic_ullong hits, misses, sets, errors, corrupt, stale;
  ce_hist *latency; /* seconds per get */
} layer_stats;

typedef struct {
  char name[128];
  size_t len;
  uint64_t version;
} mem_tag;

struct ce_cache {
  ce_memcache *mem;
  ce_diskcache *disk;
  ce_rediscache *redis;
  double default_ttl;
  layer_stats st[CE_CACHE_NLAYERS];
  /* the memory layer's tag versions; `epoch` counts invalidations so that an
   * entry stamped with the current epoch needs no tag check */
  pthread_mutex_t tag_lock;
  mem_tag tags[MEM_TAGS];
  int ntags;
  atomic_ullong epoch;
};

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ce_cache *ce_cache_open(const ce_cache_cfg *cfg, ce_err *err) {
  ce_err_clear(err);
  ce_cache *c = calloc(1, sizeof *c);
  if (!c) {
    ce_err_setf(err, 1, "cache", 0, 0, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&c->tag_lock, NULL);
  c->default_ttl = cfg->default_ttl;
  for (int i = 0; i < CE_CACHE_NLAYERS; i++) c->st[i].latency = ce_hist_new();
  if (cfg->memory_max_bytes > 0) {
    c->mem = ce_memcache_new(cfg->memory_max_bytes, cfg->memory_shards > 0 ? cfg->memory_shards : 16);
    if (!c->mem) {
      ce_err_setf(err, 1, "cache", 0, 0, "out of memory");
      ce_cache_free(c);
      return NULL;
    }
  }
  if (cfg->disk_path) {
    c->disk = ce_diskcache_open(cfg->disk_path, cfg->disk_max_bytes, err);
    if (!c->disk) {
      ce_cache_free(c);
      return NULL;
    }
  }
  if (cfg->redis) {
    c->redis = ce_rediscache_new(cfg->redis);
    if (!c->redis) {
      ce_err_setf(err, 1, "cache", 0, 0, "out of memory");
      ce_cache_free(c);
      return NULL;
    }
  }
  return c;
}

void ce_cache_free(void *p) {
  ce_cache *c = p;
  if (!c) return;
  ce_memcache_free(c->mem);
  ce_diskcache_free(c->disk);
  ce_rediscache_free(c->redis);
  for (int i = 0; i < CE_CACHE_NLAYERS; i++) ce_hist_free(c->st[i].latency);
  pthread_mutex_destroy(&c->tag_lock);
  free(c);
}

int ce_cache_has_layer(ce_cache *c, int layer) {
  return (layer == CE_CACHE_MEMORY && c->mem) || (layer == CE_CACHE_DISK && c->disk) ||
         (layer == CE_CACHE_REDIS && c->redis);
}

/* ---- tag versions, per layer ---- */

static mem_tag *mem_tag_find(ce_cache *c, const char *tag, size_t len, int create) {
  for (int i = 0; i < c->ntags; i++)
    if (c->tags[i].len == len && memcmp(c->tags[i].name, tag, len) == 0) return &c->tags[i];
  if (!create || c->ntags >= MEM_TAGS || len >= sizeof c->tags[0].name) return NULL;
  mem_tag *t = &c->tags[c->ntags++];
  memcpy(t->name, tag, len);
  t->len = len;
  t->version = 0;
  return t;
}

static uint64_t tag_version(ce_cache *c, int layer, const char *tag, size_t len) {
  if (layer == CE_CACHE_MEMORY) {
    pthread_mutex_lock(&c->tag_lock);
    mem_tag *t = mem_tag_find(c, tag, len, 0);
    uint64_t v = t ? t->version : 0;
    pthread_mutex_unlock(&c->tag_lock);
    return v;
  }
  if (layer == CE_CACHE_DISK) return ce_diskcache_tag_version(c->disk, tag, len);
  return ce_rediscache_tag_version(c->redis, tag, len);
}

/* 1 when every tag of e still has the version e was made under in that layer. */
static int tags_current(ce_cache *c, int layer, const ce_cache_entry *e) {
  for (int i = 0; i < e->ntags; i++)
    if (tag_version(c, layer, e->tags[i].name, e->tags[i].len) != e->tags[i].version) return 0;
  return 1;
}

int ce_cache_invalidate(ce_cache *c, const char *tag, size_t len) {
  int ok = 0;
  if (c->mem) {
    pthread_mutex_lock(&c->tag_lock);
    mem_tag *t = mem_tag_find(c, tag, len, 1);
    if (t) t->version++;
    atomic_fetch_add(&c->epoch, 1);
    pthread_mutex_unlock(&c->tag_lock);
    if (!t) ce_memcache_clear(c->mem); /* no room to track it: drop everything, still correct */
    ok = 1;
  }
  if (c->disk) {
    ce_err e;
    if (ce_diskcache_tag_bump(c->disk, tag, len, &e) > 0) ok = 1;
  }
  if (c->redis && ce_rediscache_tag_bump(c->redis, tag, len) != UINT64_MAX) ok = 1;
  return ok ? 0 : -1;
}

/* ---- entries ---- */

/* The versions of the tags a batch of entries names in one layer, each
 * read once a batch: the entries of a run's batch share their model's tag,
 * and reading it for each entry cost a disk transaction an entry (a Redis
 * round trip an entry with a Redis layer). */
typedef struct {
  int n;
  struct {
    const char *name;
    size_t len;
    uint64_t version;
  } t[CE_CACHE_MAX_TAGS];
} tag_memo;

static uint64_t memo_version(ce_cache *c, int layer, tag_memo *m, const char *name, size_t len) {
  if (!m) return tag_version(c, layer, name, len);
  for (int i = 0; i < m->n; i++)
    if (m->t[i].len == len && memcmp(m->t[i].name, name, len) == 0) return m->t[i].version;
  uint64_t v = tag_version(c, layer, name, len);
  if (m->n < CE_CACHE_MAX_TAGS) {
    m->t[m->n].name = name;
    m->t[m->n].len = len;
    m->t[m->n++].version = v;
  }
  return v;
}

/* Encodes (k, entry) for one layer: tag versions are that layer's (memo:
 * those a batch read already, or NULL). */
static int encode_for(ce_cache *c, int layer, const ce_cache_entry *src, ce_buf *out, tag_memo *memo) {
  ce_cache_entry e = *src;
  for (int i = 0; i < e.ntags; i++) e.tags[i].version = memo_version(c, layer, memo, e.tags[i].name, e.tags[i].len);
  out->len = 0;
  return ce_cache_entry_encode(&e, out);
}

static void promote(ce_cache *c, int from, const void *k, size_t kl, const ce_cache_entry *e) {
  ce_buf b;
  ce_buf_init(&b);
  if (from > CE_CACHE_DISK && c->disk && encode_for(c, CE_CACHE_DISK, e, &b, NULL) == 0) {
    ce_err err;
    ce_diskcache_set(c->disk, k, kl, b.data, b.len, e->created, &err);
  }
  if (c->mem && encode_for(c, CE_CACHE_MEMORY, e, &b, NULL) == 0)
    ce_memcache_set(c->mem, k, kl, b.data, b.len, e->expires, atomic_load(&c->epoch));
  ce_buf_free(&b);
}

static void layer_del(ce_cache *c, int layer, const void *k, size_t kl) {
  ce_err err;
  if (layer == CE_CACHE_MEMORY) ce_memcache_del(c->mem, k, kl);
  else if (layer == CE_CACHE_DISK) ce_diskcache_del(c->disk, k, kl, &err);
  else ce_rediscache_del(c->redis, k, kl);
}

static int get_upto(ce_cache *c, int nlayers, const void *k, size_t kl, ce_buf *blob, ce_cache_entry *e,
                    int *layer) {
  double now = wall();
  for (int L = 0; L < nlayers; L++) {
    if (!ce_cache_has_layer(c, L)) continue;
    layer_stats *st = &c->st[L];
    double t0 = mono();
    blob->len = 0;
    int r;
    uint64_t stamp = 0;
    ce_err err;
    if (L == CE_CACHE_MEMORY) r = ce_memcache_get(c->mem, k, kl, now, blob, &stamp);
    else if (L == CE_CACHE_DISK) r = ce_diskcache_get(c->disk, k, kl, blob, &err);
    else r = ce_rediscache_get(c->redis, k, kl, blob);
    if (r < 0) {
      atomic_fetch_add(&st->errors, 1);
      continue;
    }
    if (r == 1) {
      /* memory is not corrupted by disks or networks: skip its checksum */
      if (ce_cache_entry_decode(blob->data, blob->len, L != CE_CACHE_MEMORY, e) != 0) {
        atomic_fetch_add(&st->corrupt, 1);
        layer_del(c, L, k, kl);
        r = 0;
      } else if (e->expires > 0 && e->expires <= now) {
        atomic_fetch_add(&st->stale, 1);
        layer_del(c, L, k, kl);
        r = 0;
      } else if (e->ntags > 0 && !(L == CE_CACHE_MEMORY && stamp == atomic_load(&c->epoch)) &&
                 !tags_current(c, L, e)) {
        atomic_fetch_add(&st->stale, 1);
        layer_del(c, L, k, kl);
        r = 0;
      }
    }
    ce_hist_add(st->latency, mono() - t0);
    if (r == 1) {
      atomic_fetch_add(&st->hits, 1);
      if (L > CE_CACHE_MEMORY) {
        /* promotion re-encodes: keep the value alive in its own copy */
        ce_buf copy;
        ce_buf_init(&copy);
        ce_buf_add(&copy, blob->data, blob->len);
        ce_cache_entry ce;
        if (!copy.oom && ce_cache_entry_decode(copy.data, copy.len, 0, &ce) == 0) promote(c, L, k, kl, &ce);
        ce_buf_free(&copy);
      }
      if (layer) *layer = L;
      return 1;
    }
    atomic_fetch_add(&st->misses, 1);
  }
  return 0;
}

int ce_cache_get_entry(ce_cache *c, const void *k, size_t kl, ce_buf *blob, ce_cache_entry *e, int *layer) {
  return get_upto(c, CE_CACHE_NLAYERS, k, kl, blob, e, layer);
}

int ce_cache_get(ce_cache *c, const void *k, size_t kl, ce_buf *value, int *layer) {
  ce_buf blob;
  ce_buf_init(&blob);
  ce_cache_entry e;
  int r = ce_cache_get_entry(c, k, kl, &blob, &e, layer);
  if (r == 1) {
    ce_buf_add(value, e.value, e.value_len);
    if (value->oom) r = 0;
  }
  ce_buf_free(&blob);
  return r;
}

/* The Redis part of a batch: one pipelined round trip for the misses. */
static void redis_batch(ce_cache *c, const char *const *keys, const size_t *lens, int n, ce_buf *values,
                        int *found) {
  const char **mk = malloc((size_t)n * sizeof *mk);
  size_t *ml = malloc((size_t)n * sizeof *ml);
  int *idx = malloc((size_t)n * sizeof *idx), *got = malloc((size_t)n * sizeof *got);
  ce_buf *blobs = malloc((size_t)n * sizeof *blobs);
  if (!mk || !ml || !idx || !got || !blobs) goto done;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (!found[i]) {
      mk[m] = keys[i];
      ml[m] = lens[i];
      idx[m] = i;
      ce_buf_init(&blobs[m]);
      m++;
    }
  if (m == 0) goto done;
  layer_stats *st = &c->st[CE_CACHE_REDIS];
  double t0 = mono(), now = wall();
  if (ce_rediscache_get_many(c->redis, mk, ml, m, blobs, got) != 0) atomic_fetch_add(&st->errors, 1);
  double per = (mono() - t0) / m;
  for (int j = 0; j < m; j++) {
    int i = idx[j];
    ce_cache_entry e;
    ce_hist_add(st->latency, per);
    if (got[j] && ce_cache_entry_decode(blobs[j].data, blobs[j].len, 1, &e) != 0) {
      atomic_fetch_add(&st->corrupt, 1);
      ce_rediscache_del(c->redis, keys[i], lens[i]);
      got[j] = 0;
    } else if (got[j] && ((e.expires > 0 && e.expires <= now) || (e.ntags > 0 && !tags_current(c, CE_CACHE_REDIS, &e)))) {
      atomic_fetch_add(&st->stale, 1);
      got[j] = 0;
    }
    if (got[j]) {
      atomic_fetch_add(&st->hits, 1);
      ce_buf_add(&values[i], e.value, e.value_len);
      found[i] = CE_CACHE_REDIS + 1;
      promote(c, CE_CACHE_REDIS, keys[i], lens[i], &e);
    } else {
      atomic_fetch_add(&st->misses, 1);
    }
    ce_buf_free(&blobs[j]);
  }
done:
  free(mk);
  free(ml);
  free(idx);
  free(got);
  free(blobs);
}

int ce_cache_get_many(ce_cache *c, const char *const *keys, const size_t *lens, int n, ce_buf *values, int *found) {
  /* memory and disk first, one key at a time (each is a few microseconds) */
  ce_cache_entry e;
  ce_buf blob;
  ce_buf_init(&blob);
  for (int i = 0; i < n; i++) {
    int layer;
    found[i] = 0;
    if (get_upto(c, CE_CACHE_REDIS, keys[i], lens[i], &blob, &e, &layer) == 1) {
      ce_buf_add(&values[i], e.value, e.value_len);
      found[i] = layer + 1;
    }
  }
  ce_buf_free(&blob);
  if (c->redis) redis_batch(c, keys, lens, n, values, found);
  return 0;
}

static int fill_entry(ce_cache *c, ce_cache_entry *e, const void *v, size_t vl, const ce_cache_set_opts *o,
                      double *ttl) {
  memset(e, 0, sizeof *e);
  e->created = wall();
  *ttl = o && o->ttl >= 0 ? o->ttl : c->default_ttl;
  e->expires = *ttl > 0 ? e->created + *ttl : 0;
  e->ntags = o ? o->ntags : 0;
  if (e->ntags > CE_CACHE_MAX_TAGS) return -1;
  for (int i = 0; i < e->ntags; i++) {
    e->tags[i].name = o->tags[i];
    e->tags[i].len = o->tag_lens[i];
  }
  e->labels = o && o->labels ? o->labels : "";
  e->labels_len = o && o->labels ? o->labels_len : 0;
  e->value = v;
  e->value_len = vl;
  return 0;
}

/* Memory and disk. Returns how many of them took it. */
static int set_local(ce_cache *c, const void *k, size_t kl, const void *v, size_t vl, const ce_cache_set_opts *o) {
  ce_cache_entry e;
  double ttl;
  if (fill_entry(c, &e, v, vl, o, &ttl) != 0) return 0;
  ce_buf b;
  ce_buf_init(&b);
  int stored = 0;
  if (c->disk && encode_for(c, CE_CACHE_DISK, &e, &b, NULL) == 0) {
    ce_err err;
    if (ce_diskcache_set(c->disk, k, kl, b.data, b.len, e.created, &err) == 0) {
      stored++;
      atomic_fetch_add(&c->st[CE_CACHE_DISK].sets, 1);
    } else {
      atomic_fetch_add(&c->st[CE_CACHE_DISK].errors, 1);
    }
  }
  if (c->mem && encode_for(c, CE_CACHE_MEMORY, &e, &b, NULL) == 0) {
    if (ce_memcache_set(c->mem, k, kl, b.data, b.len, e.expires, atomic_load(&c->epoch)) == 0) {
      stored++;
      atomic_fetch_add(&c->st[CE_CACHE_MEMORY].sets, 1);
    } else {
      atomic_fetch_add(&c->st[CE_CACHE_MEMORY].errors, 1);
    }
  }
  ce_buf_free(&b);
  return stored;
}

int ce_cache_set(ce_cache *c, const void *k, size_t kl, const void *v, size_t vl, const ce_cache_set_opts *o) {
  ce_cache_entry e;
  double ttl;
  if (fill_entry(c, &e, v, vl, o, &ttl) != 0) return -1;
  int stored = 0;
  if (c->redis) {
    ce_buf b;
    ce_buf_init(&b);
    if (encode_for(c, CE_CACHE_REDIS, &e, &b, NULL) == 0 && ce_rediscache_set(c->redis, k, kl, b.data, b.len, ttl) == 0) {
      stored++;
      atomic_fetch_add(&c->st[CE_CACHE_REDIS].sets, 1);
    } else {
      atomic_fetch_add(&c->st[CE_CACHE_REDIS].errors, 1);
    }
    ce_buf_free(&b);
  }
  stored += set_local(c, k, kl, v, vl, o);
  return stored > 0 ? 0 : -1;
}

int ce_cache_set_many(ce_cache *c, const char *const *keys, const size_t *lens, const char *const *values,
                      const size_t *vlens, const char *const *labels, const size_t *label_lens, int n,
                      const ce_cache_set_opts *o) {
  if (n <= 0) return 0;
  ce_cache_set_opts base = {-1, NULL, NULL, 0, NULL, 0};
  if (o) base = *o;
  ce_buf *blobs = calloc((size_t)n, sizeof *blobs);
  const char **bp = malloc((size_t)n * sizeof *bp);
  size_t *bl = malloc((size_t)n * sizeof *bl);
  double *ttls = malloc((size_t)n * sizeof *ttls), *created = malloc((size_t)n * sizeof *created);
  ce_cache_entry *es = malloc((size_t)n * sizeof *es);
  int taken = 0;
  if (!blobs || !bp || !bl || !ttls || !created || !es) goto done;
  for (int i = 0; i < n; i++) {
    ce_cache_set_opts oi = base;
    if (labels && labels[i]) {
      oi.labels = labels[i];
      oi.labels_len = label_lens[i];
    }
    if (fill_entry(c, &es[i], values[i], vlens[i], &oi, &ttls[i]) != 0) goto done;
    created[i] = es[i].created;
    ce_buf_init(&blobs[i]);
  }
  int took_remote = 0, took_disk = 0;
  for (int layer = CE_CACHE_REDIS; layer >= CE_CACHE_DISK; layer--) {
    if (!ce_cache_has_layer(c, layer)) continue;
    int ok = 1;
    tag_memo memo = {0};
    for (int i = 0; ok && i < n; i++) {
      if (encode_for(c, layer, &es[i], &blobs[i], &memo) != 0) ok = 0;
      bp[i] = blobs[i].data;
      bl[i] = blobs[i].len;
    }
    layer_stats *st = &c->st[layer];
    if (layer == CE_CACHE_REDIS) {
      ok = ok && ce_rediscache_set_many(c->redis, keys, lens, bp, bl, ttls, n) == 0;
      took_remote = ok;
    } else {
      ce_err err;
      ok = ok && ce_diskcache_set_many(c->disk, n, keys, lens, bp, bl, created, &err) == 0;
      took_disk = ok;
    }
    if (ok) atomic_fetch_add(&st->sets, (unsigned long long)n);
    else atomic_fetch_add(&st->errors, 1);
  }
  int took_mem = 0;
  tag_memo mem_memo = {0};
  for (int i = 0; c->mem && i < n; i++) {
    if (encode_for(c, CE_CACHE_MEMORY, &es[i], &blobs[i], &mem_memo) == 0 &&
        ce_memcache_set(c->mem, keys[i], lens[i], blobs[i].data, blobs[i].len, es[i].expires,
                        atomic_load(&c->epoch)) == 0) {
      atomic_fetch_add(&c->st[CE_CACHE_MEMORY].sets, 1);
      if (!took_remote && !took_disk) took_mem++;
    }
  }
  taken = took_remote || took_disk ? n : took_mem;
done:
  for (int i = 0; blobs && i < n; i++) ce_buf_free(&blobs[i]);
  free(blobs);
  free(bp);
  free(bl);
  free(ttls);
  free(created);
  free(es);
  return taken;
}

int ce_cache_del(ce_cache *c, const void *k, size_t kl) {
  int any = 0;
  ce_err err;
  if (c->mem && ce_memcache_del(c->mem, k, kl) == 1) any = 1;
  if (c->disk && ce_diskcache_del(c->disk, k, kl, &err) == 1) any = 1;
  if (c->redis && ce_rediscache_del(c->redis, k, kl) == 1) any = 1;
  return any;
}

/* ---- walking the lower layers ---- */

typedef struct {
  ce_cache *c;
  int layer;
  ce_cache_match fn;
  void *ud;
  double now, before;
  int promote, prune;
  long count;
} walk;

static int visit(const char *k, size_t kl, const char *blob, size_t bl, void *ud) {
  walk *w = ud;
  ce_cache_entry e;
  if (ce_cache_entry_decode(blob, bl, 1, &e) != 0) {
    atomic_fetch_add(&w->c->st[w->layer].corrupt, 1);
    return 1; /* delete it */
  }
  int expired = e.expires > 0 && e.expires <= w->now;
  if (w->prune) {
    if (expired || e.created < w->before) {
      w->count++;
      return 1;
    }
    return 0;
  }
  if (expired || (e.ntags > 0 && !tags_current(w->c, w->layer, &e))) return 0;
  if (w->fn && !w->fn(&e, k, kl, w->ud)) return 0;
  w->count++;
  if (w->promote && w->c->mem) {
    ce_buf b;
    ce_buf_init(&b);
    if (encode_for(w->c, CE_CACHE_MEMORY, &e, &b, NULL) == 0)
      ce_memcache_set(w->c->mem, k, kl, b.data, b.len, e.expires, atomic_load(&w->c->epoch));
    ce_buf_free(&b);
  }
  return 0;
}

static long walk_layer(ce_cache *c, int layer, walk *w) {
  w->layer = layer;
  ce_err err;
  if (layer == CE_CACHE_DISK && c->disk) return ce_diskcache_scan(c->disk, visit, w, &err);
  if (layer == CE_CACHE_REDIS && c->redis) return ce_rediscache_scan(c->redis, "*", visit, w);
  return 0;
}

long ce_cache_each(ce_cache *c, int layer, ce_cache_match fn, void *ud) {
  walk w = {c, layer, fn, ud, wall(), 0, 0, 0, 0};
  if (walk_layer(c, layer, &w) < 0) return -1;
  return w.count;
}

long ce_cache_preload(ce_cache *c, ce_cache_match match, void *ud) {
  if (!c->mem) return 0;
  walk w = {c, 0, match, ud, wall(), 0, 1, 0, 0};
  /* Redis first, so that the disk layer's copies (read second) win */
  if (c->redis) walk_layer(c, CE_CACHE_REDIS, &w);
  if (c->disk) walk_layer(c, CE_CACHE_DISK, &w);
  return w.count;
}

long ce_cache_prune(ce_cache *c, double before) {
  walk w = {c, 0, NULL, NULL, wall(), before, 0, 1, 0};
  if (c->disk) walk_layer(c, CE_CACHE_DISK, &w);
  if (c->redis) walk_layer(c, CE_CACHE_REDIS, &w);
  if (c->mem) ce_memcache_clear(c->mem); /* it refills from the layers below */
  return w.count;
}

static int drop_all(const char *k, size_t kl, const char *blob, size_t bl, void *ud) {
  (void)k, (void)kl, (void)blob, (void)bl;
  ++*(long *)ud;
  return 1;
}

int ce_cache_clear(ce_cache *c) {
  int rc = 0;
  if (c->mem) ce_memcache_clear(c->mem);
  if (c->disk) {
    ce_err err;
    if (ce_diskcache_clear(c->disk, &err) != 0) rc = -1;
  }
  if (c->redis) {
    long n = 0;
    if (ce_rediscache_scan(c->redis, "*", drop_all, &n) < 0) rc = -1;
  }
  return rc;
}

void ce_cache_stats(ce_cache *c, int layer, ce_cache_layer_stats *out) {
  memset(out, 0, sizeof *out);
  if (!ce_cache_has_layer(c, layer)) return;
  layer_stats *st = &c->st[layer];
  out->enabled = 1;
  out->up = 1;
  out->hits = atomic_load(&st->hits);
  out->misses = atomic_load(&st->misses);
  out->sets = atomic_load(&st->sets);
  out->errors = atomic_load(&st->errors);
  out->corrupt = atomic_load(&st->corrupt);
  out->stale = atomic_load(&st->stale);
  out->samples = ce_hist_count(st->latency);
  if (out->samples) {
    out->mean_us = ce_hist_mean(st->latency) * 1e6;
    out->p50_us = ce_hist_quantile(st->latency, 0.5) * 1e6;
    out->p95_us = ce_hist_quantile(st->latency, 0.95) * 1e6;
    out->p99_us = ce_hist_quantile(st->latency, 0.99) * 1e6;
  }
  if (layer == CE_CACHE_MEMORY) {
    ce_memcache_stats ms;
    ce_memcache_stats_get(c->mem, &ms);
    out->entries = ms.entries;
    out->bytes = ms.bytes;
    out->evictions = ms.evictions;
  } else if (layer == CE_CACHE_DISK) {
    ce_diskcache_stats ds;
    ce_diskcache_stats_get(c->disk, &ds);
    out->entries = ds.entries;
    out->bytes = ds.bytes;
    out->evictions = ds.evictions;
  } else {
    out->up = ce_rediscache_up(c->redis);
    /* a shared server's count is the scan's: `cache stats` said 0 */
    long n = out->up ? ce_rediscache_count(c->redis) : -1;
    out->entries = n > 0 ? (uint64_t)n : 0;
  }
}
