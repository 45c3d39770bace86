/* SPDX-License-Identifier: MIT */
/* The disk layer of the cache: an LMDB environment shared by every run and
 * every process of a user, bounded in bytes (the oldest entries go first
 * when it is full), with tag versions for O(1) invalidation. Values are
 * opaque blobs (encoded entries, cache_entry.h). */
#ifndef CE_CACHE_DISK_H
#define CE_CACHE_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"
#include "core/util/json.h"

typedef struct ce_diskcache ce_diskcache;

/* dir is created if missing. */
ce_diskcache *ce_diskcache_open(const char *dir, size_t max_bytes, ce_err *err);
void ce_diskcache_free(ce_diskcache *d);
/* 1 hit (blob appended to out), 0 miss, -1 error (err set). */
int ce_diskcache_get(ce_diskcache *d, const void *k, size_t kl, ce_buf *out, ce_err *err);
/* created orders eviction (oldest first). 0 or -1. */
int ce_diskcache_set(ce_diskcache *d, const void *k, size_t kl, const void *blob, size_t bl, double created,
                     ce_err *err);
/* n entries in one transaction (one commit for many writes). 0 or -1. */
int ce_diskcache_set_many(ce_diskcache *d, int n, const char *const *keys, const size_t *klens,
                          const char *const *blobs, const size_t *blens, const double *created, ce_err *err);
int ce_diskcache_del(ce_diskcache *d, const void *k, size_t kl, ce_err *err); /* 1, 0, -1 */
/* The tag's current version (0 when never bumped); bump adds one and returns it. */
uint64_t ce_diskcache_tag_version(ce_diskcache *d, const char *tag, size_t len);
uint64_t ce_diskcache_tag_bump(ce_diskcache *d, const char *tag, size_t len, ce_err *err);
/* Visits every entry in key order; fn returns 1 to delete the entry, 2 to stop. */
typedef int (*ce_diskcache_visit)(const char *k, size_t kl, const char *blob, size_t bl, void *ud);
long ce_diskcache_scan(ce_diskcache *d, ce_diskcache_visit fn, void *ud, ce_err *err);
/* Removes entries created before `before` (seconds since the epoch). Returns the count or -1. */
long ce_diskcache_prune_before(ce_diskcache *d, double before, ce_err *err);
int ce_diskcache_clear(ce_diskcache *d, ce_err *err);

typedef struct {
  uint64_t entries, bytes, max_bytes, evictions;
} ce_diskcache_stats;
void ce_diskcache_stats_get(ce_diskcache *d, ce_diskcache_stats *out);

#endif
