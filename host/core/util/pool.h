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

typedef struct ce_pool ce_pool;

ce_pool *ce_pool_new(void);
/* Frees every block the pool handed out. */
void ce_pool_free(ce_pool *p);

/* Lua's allocator contract: ptr NULL allocates nsize bytes; nsize 0 frees ptr
 * (of osize bytes) and returns NULL; otherwise resizes ptr from osize to nsize
 * bytes, keeping the content. Returns NULL when out of memory (ptr is then
 * untouched). osize must be the size the block was allocated or last resized
 * with. */
void *ce_pool_realloc(ce_pool *p, void *ptr, size_t osize, size_t nsize);

typedef struct {
  size_t chunk_bytes; /* held in chunks for small blocks */
  size_t small_live;  /* bytes of small blocks in use (by rounded size) */
  size_t small_free;  /* bytes of small blocks on the free lists */
} ce_pool_stats;
void ce_pool_get_stats(const ce_pool *p, ce_pool_stats *out);
/* 1 when built under AddressSanitizer: every block is malloc's, stats stay 0 */
int ce_pool_passthrough(void);

#endif
