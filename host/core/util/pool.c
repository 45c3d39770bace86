/* SPDX-License-Identifier: MIT */
#include "core/util/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GRAIN CE_POOL_GRAIN
#define CLASSES CE_POOL_CLASSES
#define CHUNK (64 * 1024)
#define POOL_PASSTHROUGH CE_POOL_PASSTHROUGH

typedef ce_pool_block block;
typedef struct ce_pool_chunk { struct ce_pool_chunk *next; } chunk;

/* header room at the start of each chunk, kept a multiple of GRAIN so blocks
 * stay 16-byte aligned as malloc's are */
#define CHUNK_HEAD ((sizeof(chunk) + GRAIN - 1) / GRAIN * GRAIN)

ce_pool *ce_pool_new(void) { return calloc(1, sizeof(ce_pool)); }

void ce_pool_free(ce_pool *p) {
  if (!p) return;
  for (chunk *c = p->chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(p);
}

/* a small block of class k; the free list empty or not */
static void *small_alloc(ce_pool *p, size_t n) {
  size_t k = ce_pool_class(n), size = (k + 1) * GRAIN;
  void *b = ce_pool_take(p, k);
  if (b) return b;
  if ((size_t)(p->end - p->cur) < size) {
    /* the tail of the old chunk goes to the free lists, in the largest
     * classes that fit, so nothing is stranded */
    while ((size_t)(p->end - p->cur) >= GRAIN) {
      size_t left = (size_t)(p->end - p->cur);
      size_t j = ce_pool_class(left < CE_POOL_MAX_SMALL ? left / GRAIN * GRAIN : CE_POOL_MAX_SMALL);
      block *t = (block *)(void *)p->cur;
      t->next = p->free_list[j];
      p->free_list[j] = t;
      p->cur += (j + 1) * GRAIN;
      p->carved += (j + 1) * GRAIN;
    }
    chunk *c = malloc(CHUNK);
    if (!c) return NULL;
    c->next = p->chunks;
    p->chunks = c;
    p->chunk_bytes += CHUNK;
    p->cur = (char *)c + CHUNK_HEAD;
    p->end = (char *)c + CHUNK;
  }
  void *r = p->cur;
  p->cur += size;
  p->carved += size;
  p->small_live += size;
  return r;
}

static void small_free(ce_pool *p, void *ptr, size_t n) { ce_pool_give(p, ptr, ce_pool_class(n)); }

void *ce_pool_realloc_slow(ce_pool *p, void *ptr, size_t osize, size_t nsize) {
  if (POOL_PASSTHROUGH) {
    if (nsize == 0) {
      free(ptr);
      return NULL;
    }
    return realloc(ptr, nsize);
  }
  if (ptr && osize == 0) osize = 1; /* Lua never allocates 0 bytes; be safe with class_of */
  int was_small = ptr && osize <= CE_POOL_MAX_SMALL, small = nsize <= CE_POOL_MAX_SMALL;
  if (nsize == 0) {
    if (!ptr) return NULL;
    if (was_small) small_free(p, ptr, osize);
    else free(ptr);
    return NULL;
  }
  if (!ptr) return small ? small_alloc(p, nsize) : malloc(nsize);
  if (!was_small && !small) return realloc(ptr, nsize);
  if (was_small && small && ce_pool_class(osize) == ce_pool_class(nsize)) return ptr;
  void *q = small ? small_alloc(p, nsize) : malloc(nsize);
  if (!q) return was_small && nsize < osize ? ptr : NULL; /* a small block can stay where it is */
  memcpy(q, ptr, osize < nsize ? osize : nsize);
  if (was_small) small_free(p, ptr, osize);
  else free(ptr);
  return q;
}

void ce_pool_get_stats(const ce_pool *p, ce_pool_stats *out) {
  out->chunk_bytes = p->chunk_bytes;
  out->small_live = p->small_live;
  out->small_free = p->carved - p->small_live; /* what was cut and is not in use is on the free lists */
}

int ce_pool_passthrough(void) { return POOL_PASSTHROUGH; }
