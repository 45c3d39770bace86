/* SPDX-License-Identifier: MIT */
/* A thread's malloc heap grown and faulted in ahead, in one go.
 *
 * Each page a thread's heap grows into costs a page fault at its first
 * write. On the VMs these runs are measured on a fault costs 12 us, where
 * madvise(MADV_POPULATE_WRITE) makes pages present at 0.5 us each
 * (tools/bench/heap_growth.c), and a run's store writer grows its heap by
 * some 2,500 pages (LMDB copies every page a batch changes into a 4 KB
 * allocation and keeps them for the next batch), each worker by some 500.
 * Reserving takes blocks from the thread's heap up to `bytes`, makes their
 * pages present in one call a block and gives them back; a small block
 * kept after them stops glibc from trimming them off the heap's top, so the
 * thread's allocations find them present. The pages stay the thread's
 * (resident) until the kept block is freed; reserve what the thread would
 * grow to anyway. Where the kernel lacks MADV_POPULATE_WRITE (before 5.14)
 * the pages fault as before; without glibc's thread heaps (a sanitizer's
 * allocator) the call only allocates and frees. */
#ifndef CE_HEAP_RESERVE_H
#define CE_HEAP_RESERVE_H

#include <stddef.h>

/* Call first thing in a new thread (its first allocation picks its heap).
 * Returns the kept block (free it when the thread ends), or NULL. */
void *ce_heap_reserve(size_t bytes);

/* Makes the whole pages of [p, p + len) present and writable in one call,
 * for a large allocation about to be written all over (a hash table's
 * slots, a read buffer), where each page would fault at its first write.
 * A hint: nothing happens where the kernel cannot. */
void ce_mem_populate(void *p, size_t len);

#endif
