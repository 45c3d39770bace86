/* SPDX-License-Identifier: MIT */
/* The Redis layer of the cache, shared by a team: hiredis to a real
 * redis-server, TTL with SET ... EX, pipelined batch reads and writes. It
 * never fails a caller: when Redis is unreachable or lost, calls answer
 * "unavailable" at once and the layer reconnects with backoff in the
 * background of later calls. */
#ifndef CE_CACHE_REDIS_H
#define CE_CACHE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

typedef struct ce_rediscache ce_rediscache;

/* Reports "unreachable" (once per outage) and "reconnected" events. */
typedef void (*ce_redis_notice)(void *ud, int up, const char *message);

typedef struct {
  const char *host; /* default 127.0.0.1 */
  int port;         /* default 6379 */
  const char *password;
  int db;
  const char *prefix; /* key prefix, default "ce:" */
  double timeout;     /* connect and command timeout, seconds; default 0.25 */
  ce_redis_notice notice;
  void *notice_ud;
} ce_redis_cfg;

ce_rediscache *ce_rediscache_new(const ce_redis_cfg *cfg);
void ce_rediscache_free(ce_rediscache *r);
/* Parses redis://[:password@]host[:port][/db] into cfg (strings point into buf). 0 or -1. */
int ce_redis_parse_url(const char *url, ce_redis_cfg *cfg, char *buf, size_t size);

/* 1 hit, 0 miss, -1 unavailable. */
int ce_rediscache_get(ce_rediscache *r, const void *k, size_t kl, ce_buf *out);
/* ttl <= 0: no expiry. 0 or -1 (unavailable). */
int ce_rediscache_set(ce_rediscache *r, const void *k, size_t kl, const void *blob, size_t bl, double ttl);
int ce_rediscache_del(ce_rediscache *r, const void *k, size_t kl);
/* Pipelined: n gets in one round trip. found[i] = 1 and outs[i] filled on a hit. 0 or -1. */
int ce_rediscache_get_many(ce_rediscache *r, const char *const *keys, const size_t *lens, int n, ce_buf *outs,
                           int *found);
int ce_rediscache_set_many(ce_rediscache *r, const char *const *keys, const size_t *lens, const char *const *blobs,
                           const size_t *blens, const double *ttls, int n);
/* The tag's version (0 when never bumped; read through a one-second local
 * copy), or UINT64_MAX when unavailable; bump increments it. */
uint64_t ce_rediscache_tag_version(ce_rediscache *r, const char *tag, size_t len);
uint64_t ce_rediscache_tag_bump(ce_rediscache *r, const char *tag, size_t len);
/* Visits entries whose key (without the prefix) matches glob; fn returns 1
 * to delete the entry, 2 to stop. fn runs without the layer's lock, a page
 * of entries at a time, so it may call the layer again (tag versions).
 * Returns the count visited or -1. */
typedef int (*ce_rediscache_visit)(const char *k, size_t kl, const char *blob, size_t bl, void *ud);
long ce_rediscache_scan(ce_rediscache *r, const char *glob, ce_rediscache_visit fn, void *ud);
/* The entries under the cache's prefix (not its tags' versions), by SCAN
 * without reading them; -1 when Redis is away. */
long ce_rediscache_count(ce_rediscache *r);
int ce_rediscache_up(ce_rediscache *r); /* 1 connected now */

#endif
