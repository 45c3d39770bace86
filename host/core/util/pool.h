/* SPDX-License-Identifier: MIT */
/* A small-block allocator for one Lua state (one thread at a time).
 * Lua allocates and frees vast numbers of small objects (strings, tables,
 * closures) and always says how big a block is when it frees or resizes it,
 * so blocks need no header: small sizes are rounded to 16-byte classes, cut
 * from 64 KiB chunks and kept on one free list per class; larger blocks go to
 * malloc. Freed small blocks are reused by their class and the chunks return
 * to the system only when the pool is freed (with the state), so a pool holds
 * the peak of each class. Under AddressSanitizer every block goes to malloc,
 * so that ASan still sees each one. */
#ifndef CE_POOL_H
#define CE_POOL_H

#include <stddef.h>

#define CE_POOL_MAX_SMALL 512 /* largest size served from the chunks */

#if defined(__SANITIZE_ADDRESS__)
#define CE_POOL_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CE_POOL_PASSTHROUGH 1
#endif
#endif
#ifndef CE_POOL_PASSTHROUGH
#define CE_POOL_PASSTHROUGH 0
#endif

#define CE_POOL_GRAIN 16
#define CE_POOL_CLASSES (CE_POOL_MAX_SMALL / CE_POOL_GRAIN)

/* The fields are the pool's own: they are here so that the allocation and
 * free of a small block (some 400 of each for a generated question) take
 * the inline path below, not two calls. */
typedef struct ce_pool_block { struct ce_pool_block *next; } ce_pool_block;
typedef struct ce_pool {
  ce_pool_block *free_list[CE_POOL_CLASSES];
  char *cur, *end; /* the unused tail of the newest chunk */
  struct ce_pool_chunk *chunks;
  size_t chunk_bytes, small_live, carved;
} ce_pool;

ce_pool *ce_pool_new(void);
/* Frees every block the pool handed out. */
void ce_pool_free(ce_pool *p);

/* The cases ce_pool_realloc does not take inline: a new chunk, a large
 * block, a resize. */
void *ce_pool_realloc_slow(ce_pool *p, void *ptr, size_t osize, size_t nsize);

/* The size class of a small block of n bytes (1 .. CE_POOL_MAX_SMALL), and
 * taking a block from its free list (NULL when empty) or putting one back:
 * the inline path below and the rest of the pool (pool.c) share them. */
static inline size_t ce_pool_class(size_t n) { return (n - 1) / CE_POOL_GRAIN; }
static inline void *ce_pool_take(ce_pool *p, size_t k) {
  ce_pool_block *b = p->free_list[k];
  if (b) {
    p->free_list[k] = b->next;
    p->small_live += (k + 1) * CE_POOL_GRAIN;
  }
  return b;
}
static inline void ce_pool_give(ce_pool *p, void *ptr, size_t k) {
  ce_pool_block *b = (ce_pool_block *)ptr;
  b->next = p->free_list[k];
  p->free_list[k] = b;
  p->small_live -= (k + 1) * CE_POOL_GRAIN;
}

/* Lua's allocator contract: ptr NULL allocates nsize bytes; nsize 0 frees ptr
 * (of osize bytes) and returns NULL; otherwise resizes ptr from osize to nsize
 * bytes, keeping the content. Returns NULL when out of memory (ptr is then
 * untouched). osize must be the size the block was allocated or last resized
 * with. */
static inline void *ce_pool_realloc(ce_pool *p, void *ptr, size_t osize, size_t nsize) {
  if (!CE_POOL_PASSTHROUGH) {
    if (!ptr && nsize - 1 < CE_POOL_MAX_SMALL) {
      void *b = ce_pool_take(p, ce_pool_class(nsize));
      if (b) return b;
    } else if (nsize == 0 && ptr && osize - 1 < CE_POOL_MAX_SMALL) {
      ce_pool_give(p, ptr, ce_pool_class(osize));
      return NULL;
    }
  }
  return ce_pool_realloc_slow(p, ptr, osize, nsize);
}

typedef struct {
  size_t chunk_bytes; /* held in chunks for small blocks */
  size_t small_live;  /* bytes of small blocks in use (by rounded size) */
  size_t small_free;  /* bytes of small blocks on the free lists */
} ce_pool_stats;
void ce_pool_get_stats(const ce_pool *p, ce_pool_stats *out);
/* 1 when built under AddressSanitizer: every block is malloc's, stats stay 0 */
int ce_pool_passthrough(void);

#endif
