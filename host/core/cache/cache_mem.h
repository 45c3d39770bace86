/* SPDX-License-Identifier: MIT */
/* The memory layer of the cache: an LRU bounded in bytes, split into shards
 * with a lock each so that worker threads rarely wait for one another. It
 * stores encoded entries (cache_entry.h) as opaque blobs with an expiry time. */
#ifndef CE_CACHE_MEM_H
#define CE_CACHE_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

typedef struct ce_memcache ce_memcache;

/* shards: independent LRUs (1 gives one exact LRU order; 16 suits many threads),
 * each bounded by max_bytes / shards. */
ce_memcache *ce_memcache_new(size_t max_bytes, int shards);
void ce_memcache_free(ce_memcache *m);
/* 1: hit, the blob appended to out and *stamp set; 0: miss (expired entries are dropped). */
int ce_memcache_get(ce_memcache *m, const void *k, size_t kl, double now, ce_buf *out, uint64_t *stamp);
/* Stores a copy (replacing any entry of that key); evicts the least recently
 * used entries of its shard to stay within the bound. 0, or -1 when out of
 * memory or larger than a shard. */
int ce_memcache_set(ce_memcache *m, const void *k, size_t kl, const void *blob, size_t bl, double expires,
                    uint64_t stamp);
int ce_memcache_del(ce_memcache *m, const void *k, size_t kl); /* 1 removed, 0 absent */
void ce_memcache_clear(ce_memcache *m);

typedef struct {
  uint64_t entries, bytes, evictions, expired;
} ce_memcache_stats;
void ce_memcache_stats_get(ce_memcache *m, ce_memcache_stats *out);

#endif
