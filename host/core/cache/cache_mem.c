/* SPDX-License-Identifier: MIT */
#include "core/cache/cache_mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cache/cache_entry.h"
#include "core/observe/profile.h"

#define MAX_SHARDS 64

typedef struct node {
  struct node *chain;       /* next in the hash bucket */
  struct node *prev, *next; /* LRU: head is the most recent */
  uint64_t hash, stamp;
  double expires;
  size_t kl, bl;
  char data[]; /* key, then blob */
} node;

typedef struct {
  pthread_mutex_t lock;
  node **buckets;
  size_t nbuckets, count, bytes, max_bytes;
  node *head, *tail;
  uint64_t evictions, expired;
} shard;

struct ce_memcache {
  int nshards;
  shard s[MAX_SHARDS];
};

static size_t cost(const node *n) { return sizeof *n + n->kl + n->bl; }

ce_memcache *ce_memcache_new(size_t max_bytes, int shards) {
  if (shards < 1) shards = 1;
  if (shards > MAX_SHARDS) shards = MAX_SHARDS;
  ce_memcache *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->nshards = shards;
  for (int i = 0; i < shards; i++) {
    shard *sh = &m->s[i];
    pthread_mutex_init(&sh->lock, NULL);
    sh->max_bytes = max_bytes / (size_t)shards;
    sh->nbuckets = 64;
    sh->buckets = calloc(sh->nbuckets, sizeof *sh->buckets);
    if (!sh->buckets) {
      ce_memcache_free(m);
      return NULL;
    }
  }
  return m;
}

static void lru_unlink(shard *sh, node *n) {
  if (n->prev) n->prev->next = n->next;
  else sh->head = n->next;
  if (n->next) n->next->prev = n->prev;
  else sh->tail = n->prev;
  n->prev = n->next = NULL;
}

static void lru_push_front(shard *sh, node *n) {
  n->prev = NULL;
  n->next = sh->head;
  if (sh->head) sh->head->prev = n;
  sh->head = n;
  if (!sh->tail) sh->tail = n;
}

static node **find_slot(shard *sh, uint64_t h, const void *k, size_t kl) {
  node **pp = &sh->buckets[h & (sh->nbuckets - 1)];
  while (*pp && !((*pp)->hash == h && (*pp)->kl == kl && memcmp((*pp)->data, k, kl) == 0)) pp = &(*pp)->chain;
  return pp;
}

static void remove_node(shard *sh, node **pp) {
  node *n = *pp;
  *pp = n->chain;
  lru_unlink(sh, n);
  sh->count--;
  sh->bytes -= cost(n);
  ce_native_add(CE_NATIVE_CACHE_MEMORY, -(int64_t)cost(n));
  free(n);
}

static void grow(shard *sh) {
  size_t nb = sh->nbuckets * 2;
  node **b = calloc(nb, sizeof *b);
  if (!b) return; /* longer chains, still correct */
  for (size_t i = 0; i < sh->nbuckets; i++) {
    node *n = sh->buckets[i];
    while (n) {
      node *next = n->chain;
      n->chain = b[n->hash & (nb - 1)];
      b[n->hash & (nb - 1)] = n;
      n = next;
    }
  }
  free(sh->buckets);
  sh->buckets = b;
  sh->nbuckets = nb;
}

static shard *shard_of(ce_memcache *m, uint64_t h) { return &m->s[(h >> 40) % (uint64_t)m->nshards]; }

int ce_memcache_get(ce_memcache *m, const void *k, size_t kl, double now, ce_buf *out, uint64_t *stamp) {
  uint64_t h = ce_cache_hash(k, kl, 0);
  shard *sh = shard_of(m, h);
  pthread_mutex_lock(&sh->lock);
  node **pp = find_slot(sh, h, k, kl);
  node *n = *pp;
  if (!n) {
    pthread_mutex_unlock(&sh->lock);
    return 0;
  }
  if (n->expires > 0 && n->expires <= now) {
    remove_node(sh, pp);
    sh->expired++;
    pthread_mutex_unlock(&sh->lock);
    return 0;
  }
  if (sh->head != n) {
    lru_unlink(sh, n);
    lru_push_front(sh, n);
  }
  ce_buf_add(out, n->data + n->kl, n->bl);
  if (stamp) *stamp = n->stamp;
  pthread_mutex_unlock(&sh->lock);
  return out->oom ? 0 : 1;
}

int ce_memcache_set(ce_memcache *m, const void *k, size_t kl, const void *blob, size_t bl, double expires,
                    uint64_t stamp) {
  uint64_t h = ce_cache_hash(k, kl, 0);
  shard *sh = shard_of(m, h);
  node *n = malloc(sizeof *n + kl + bl);
  if (!n) return -1;
  n->chain = n->prev = n->next = NULL;
  n->hash = h;
  n->stamp = stamp;
  n->expires = expires;
  n->kl = kl;
  n->bl = bl;
  memcpy(n->data, k, kl);
  memcpy(n->data + kl, blob, bl);
  if (cost(n) > sh->max_bytes) {
    free(n);
    return -1;
  }
  pthread_mutex_lock(&sh->lock);
  node **pp = find_slot(sh, h, k, kl);
  if (*pp) remove_node(sh, pp);
  while (sh->tail && sh->bytes + cost(n) > sh->max_bytes) {
    node *victim = sh->tail;
    remove_node(sh, find_slot(sh, victim->hash, victim->data, victim->kl));
    sh->evictions++;
  }
  if (sh->count >= sh->nbuckets) grow(sh);
  pp = &sh->buckets[h & (sh->nbuckets - 1)];
  n->chain = *pp;
  *pp = n;
  lru_push_front(sh, n);
  sh->count++;
  sh->bytes += cost(n);
  ce_native_add(CE_NATIVE_CACHE_MEMORY, (int64_t)cost(n));
  pthread_mutex_unlock(&sh->lock);
  return 0;
}

int ce_memcache_del(ce_memcache *m, const void *k, size_t kl) {
  uint64_t h = ce_cache_hash(k, kl, 0);
  shard *sh = shard_of(m, h);
  pthread_mutex_lock(&sh->lock);
  node **pp = find_slot(sh, h, k, kl);
  int found = *pp != NULL;
  if (found) remove_node(sh, pp);
  pthread_mutex_unlock(&sh->lock);
  return found;
}

static void clear_shard(shard *sh) {
  node *n = sh->head;
  while (n) {
    node *next = n->next;
    ce_native_add(CE_NATIVE_CACHE_MEMORY, -(int64_t)cost(n));
    free(n);
    n = next;
  }
  sh->head = sh->tail = NULL;
  if (sh->buckets) memset(sh->buckets, 0, sh->nbuckets * sizeof *sh->buckets);
  sh->count = sh->bytes = 0;
}

void ce_memcache_clear(ce_memcache *m) {
  for (int i = 0; i < m->nshards; i++) {
    pthread_mutex_lock(&m->s[i].lock);
    clear_shard(&m->s[i]);
    pthread_mutex_unlock(&m->s[i].lock);
  }
}

void ce_memcache_free(ce_memcache *m) {
  if (!m) return;
  for (int i = 0; i < m->nshards; i++) {
    clear_shard(&m->s[i]);
    free(m->s[i].buckets);
    pthread_mutex_destroy(&m->s[i].lock);
  }
  free(m);
}

void ce_memcache_stats_get(ce_memcache *m, ce_memcache_stats *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < m->nshards; i++) {
    shard *sh = &m->s[i];
    pthread_mutex_lock(&sh->lock);
    out->entries += sh->count;
    out->bytes += sh->bytes;
    out->evictions += sh->evictions;
    out->expired += sh->expired;
    pthread_mutex_unlock(&sh->lock);
  }
}
