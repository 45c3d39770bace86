/* SPDX-License-Identifier: MIT */
/* The layered cache: memory (cache_mem), disk (cache_disk, LMDB) and Redis
 * (cache_redis), each optional, consulted in that order; a hit in a slower
 * layer is copied into the faster ones. Writes go to every layer. Entries
 * carry a TTL, tags and labels (cache_entry.h): invalidating a tag bumps its
 * version in every layer, which makes every entry made under the old version
 * stale at once without visiting it. A corrupt or undecodable entry is a miss
 * and is deleted. Safe to use from many threads at once. */
#ifndef CE_CACHE_H
#define CE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/cache/cache_entry.h"
#include "core/cache/cache_redis.h"
#include "core/util/err.h"
#include "core/util/json.h"

enum { CE_CACHE_MEMORY = 0, CE_CACHE_DISK, CE_CACHE_REDIS, CE_CACHE_NLAYERS };

typedef struct {
  size_t memory_max_bytes; /* 0: no memory layer */
  int memory_shards;       /* 0: 16 */
  const char *disk_path;   /* NULL: no disk layer */
  size_t disk_max_bytes;
  const ce_redis_cfg *redis; /* NULL: no Redis layer */
  double default_ttl;        /* seconds; 0: entries do not expire */
} ce_cache_cfg;

typedef struct ce_cache ce_cache;

ce_cache *ce_cache_open(const ce_cache_cfg *cfg, ce_err *err);
void ce_cache_free(void *cache);
int ce_cache_has_layer(ce_cache *c, int layer);

/* 1: hit, the value appended to value and *layer set (CE_CACHE_*); 0: miss. */
int ce_cache_get(ce_cache *c, const void *k, size_t kl, ce_buf *value, int *layer);
/* The whole entry of a hit (labels, times, tags) in *e, pointing into blob. */
int ce_cache_get_entry(ce_cache *c, const void *k, size_t kl, ce_buf *blob, ce_cache_entry *e, int *layer);

/* n gets at once: memory and disk key by key, then one pipelined round trip
 * to Redis for what is still missing. found[i] = layer + 1 on a hit (values[i]
 * filled), 0 on a miss. */
int ce_cache_get_many(ce_cache *c, const char *const *keys, const size_t *lens, int n, ce_buf *values, int *found);

typedef struct {
  double ttl; /* < 0: the default TTL; 0: none */
  const char *const *tags;
  const size_t *tag_lens;
  int ntags;
  const char *labels; /* "k=v\n" lines */
  size_t labels_len;
} ce_cache_set_opts;
/* 0, or -1 when no layer took it. */
int ce_cache_set(ce_cache *c, const void *k, size_t kl, const void *v, size_t vl, const ce_cache_set_opts *o);
/* n sets at once: one transaction on disk, one pipelined round trip to Redis.
 * labels (may be NULL, or hold NULLs) give each entry its own labels instead
 * of o->labels. Returns how many some layer took. */
int ce_cache_set_many(ce_cache *c, const char *const *keys, const size_t *lens, const char *const *values,
                      const size_t *vlens, const char *const *labels, const size_t *label_lens, int n,
                      const ce_cache_set_opts *o);
int ce_cache_del(ce_cache *c, const void *k, size_t kl); /* 1 when some layer had it */
/* Makes every entry tagged `tag` stale on every layer. */
int ce_cache_invalidate(ce_cache *c, const char *tag, size_t len);

/* Copies into the memory layer every valid entry of the lower layers that
 * match accepts (labels in e). Returns how many, or -1. */
typedef int (*ce_cache_match)(const ce_cache_entry *e, const char *k, size_t kl, void *ud);
long ce_cache_preload(ce_cache *c, ce_cache_match match, void *ud);
/* Visits every entry of a lower layer (disk, then Redis) that match accepts. */
long ce_cache_each(ce_cache *c, int layer, ce_cache_match fn, void *ud);
/* Deletes entries created before `before` (epoch seconds) or already expired, on every layer. */
long ce_cache_prune(ce_cache *c, double before);
int ce_cache_clear(ce_cache *c);

typedef struct {
  int enabled, up;
  uint64_t hits, misses, sets, evictions, errors, corrupt, stale, entries, bytes;
  uint64_t samples;
  double mean_us, p50_us, p95_us, p99_us;
} ce_cache_layer_stats;
void ce_cache_stats(ce_cache *c, int layer, ce_cache_layer_stats *out);

#endif
