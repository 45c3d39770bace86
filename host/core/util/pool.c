/* SPDX-License-Identifier: MIT */
#include "core/util/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOL_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_PASSTHROUGH 1
#endif
#endif
#ifndef POOL_PASSTHROUGH
#define POOL_PASSTHROUGH 0
#endif

#define GRAIN 16
#define CLASSES (CE_POOL_MAX_SMALL / GRAIN)
#define CHUNK (64 * 1024)

typedef struct block { struct block *next; } block;
typedef struct chunk { struct chunk *next; } chunk;

struct ce_pool {
  block *free_list[CLASSES];
  char *cur, *end; /* the unused tail of the newest chunk */
  chunk *chunks;
  size_t chunk_bytes, small_live, small_free;
};

/* header room at the start of each chunk, kept a multiple of GRAIN so blocks
 * stay 16-byte aligned as malloc's are */
#define CHUNK_HEAD ((sizeof(chunk) + GRAIN - 1) / GRAIN * GRAIN)

static size_t class_of(size_t n) { return (n + GRAIN - 1) / GRAIN - 1; }

ce_pool *ce_pool_new(void) { return calloc(1, sizeof(ce_pool)); }

void ce_pool_free(ce_pool *p) {
  if (!p) return;
  for (chunk *c = p->chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(p);
}

static void *small_alloc(ce_pool *p, size_t n) {
  size_t k = class_of(n), size = (k + 1) * GRAIN;
  block *b = p->free_list[k];
  if (b) {
    p->free_list[k] = b->next;
    p->small_free -= size;
    p->small_live += size;
    return b;
  }
  if ((size_t)(p->end - p->cur) < size) {
    /* the tail of the old chunk goes to the free lists, in the largest
     * classes that fit, so nothing is stranded */
    while ((size_t)(p->end - p->cur) >= GRAIN) {
      size_t left = (size_t)(p->end - p->cur);
      size_t j = class_of(left < CE_POOL_MAX_SMALL ? left / GRAIN * GRAIN : CE_POOL_MAX_SMALL);
      block *t = (block *)(void *)p->cur;
      t->next = p->free_list[j];
      p->free_list[j] = t;
      p->cur += (j + 1) * GRAIN;
      p->small_free += (j + 1) * GRAIN;
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
  p->small_live += size;
  return r;
}

static void small_free(ce_pool *p, void *ptr, size_t n) {
  size_t k = class_of(n), size = (k + 1) * GRAIN;
  block *b = ptr;
  b->next = p->free_list[k];
  p->free_list[k] = b;
  p->small_live -= size;
  p->small_free += size;
}

void *ce_pool_realloc(ce_pool *p, void *ptr, size_t osize, size_t nsize) {
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
  if (was_small && small && class_of(osize) == class_of(nsize)) return ptr;
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
  out->small_free = p->small_free;
}

int ce_pool_passthrough(void) { return POOL_PASSTHROUGH; }
