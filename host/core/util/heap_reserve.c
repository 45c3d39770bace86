/* SPDX-License-Identifier: MIT */
#include "core/util/heap_reserve.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* under glibc's smallest mmap threshold (128 KB), so each block comes from
 * the thread's heap and grows it by one step */
#define STEP (120u << 10)
#define MAX_STEPS 256

void ce_mem_populate(void *p, size_t len) {
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
  uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
  if (p && hi > lo) (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

void *ce_heap_reserve(size_t bytes) {
  void *blocks[MAX_STEPS + 1];
  size_t n = 0;
  /* one block more than the reserve: it stays, cut to a few bytes, between
   * the freed blocks and the heap's top, so glibc never trims them away */
  for (size_t got = 0; got < bytes + STEP && n <= MAX_STEPS; got += STEP) {
    blocks[n] = malloc(STEP);
    if (!blocks[n]) break;
    n++;
  }
  if (n < 2) {
    while (n > 0) free(blocks[--n]);
    return NULL;
  }
  /* the pages in one call a block, where touching them faulted one by one */
  for (size_t i = 0; i + 1 < n; i++) ce_mem_populate(blocks[i], STEP);
  void *keep = realloc(blocks[n - 1], 16);
  if (!keep) keep = blocks[n - 1];
  for (size_t i = n - 1; i > 0; i--) free(blocks[i - 1]);
  return keep;
}
