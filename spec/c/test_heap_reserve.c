/* SPDX-License-Identifier: MIT */
/* ce_heap_reserve: the pages reserved are present before the thread uses
 * them (one madvise a block, not a page fault a page) and stay in its heap,
 * not trimmed away, so what it allocates next lands on them; without a
 * reserve the same allocations grow the process by as much. Checked where
 * glibc's thread heaps and MADV_POPULATE_WRITE are there (not under a
 * sanitizer's allocator, not before Linux 5.14). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "core/observe/profile.h"
#include "core/util/heap_reserve.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MB (1024 * 1024)

/* AddressSanitizer's allocator stands in for glibc's: its regions look
 * like a thread's heap in /proc/self/maps, so the build says so itself */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#define NBLOCKS 1024 /* of 4,000 bytes: 4 MB */

/* Whether p lies in a writable mapping followed by an inaccessible one:
 * glibc's heap of a thread, with its reserve after it. */
static int in_thread_heap(const void *p) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  char line[512];
  uintptr_t a = (uintptr_t)p, end = 0;
  int yes = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (end && lo == end) {
      yes = strncmp(perms, "---p", 4) == 0;
      break;
    }
    if (a >= lo && a < hi && perms[0] == 'r' && perms[1] == 'w') end = hi;
  }
  fclose(f);
  return yes;
}

typedef struct {
  size_t reserve;
  int glibc_heap, allocs_ok;
  int64_t reserve_growth, alloc_growth;
} probe;

static void *run(void *arg) {
  probe *pr = arg;
  int64_t r0 = ce_rss_bytes();
  void *kept = pr->reserve ? ce_heap_reserve(pr->reserve) : NULL;
  int64_t r1 = ce_rss_bytes();
  void **blocks = malloc(NBLOCKS * sizeof *blocks);
  pr->allocs_ok = blocks != NULL;
  for (int i = 0; blocks && i < NBLOCKS; i++) {
    blocks[i] = malloc(4000);
    if (!blocks[i]) pr->allocs_ok = 0;
    else memset(blocks[i], i & 0xff, 4000);
  }
  int64_t r2 = ce_rss_bytes();
  pr->glibc_heap = blocks && in_thread_heap(blocks[0]);
  pr->reserve_growth = r1 - r0;
  pr->alloc_growth = r2 - r1;
  for (int i = 0; blocks && i < NBLOCKS; i++) free(blocks[i]);
  free(blocks);
  free(kept);
  return NULL;
}

static probe in_thread(size_t reserve) {
  probe pr = {reserve, 0, 0, 0, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, run, &pr) == 0);
  pthread_join(t, NULL);
  return pr;
}

int main(void) {
  /* the kernel makes pages present on request (Linux 5.14) */
  void *probe_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int populate = probe_map != MAP_FAILED && madvise(probe_map, 4096, MADV_POPULATE_WRITE) == 0;
  if (probe_map != MAP_FAILED) munmap(probe_map, 4096);

  /* each in a fresh process's first thread heap would be cleaner; here a
   * later thread may take the heap an earlier one left, so the thread
   * without a reserve goes first */
  probe plain = in_thread(0);
  probe reserved = in_thread(8 * MB);
  CHECK(plain.allocs_ok && reserved.allocs_ok);
  if (UNDER_ASAN || !plain.glibc_heap || !reserved.glibc_heap || !populate) {
    fprintf(stderr, "note: %s: the reserve's effect is not checked\n",
            UNDER_ASAN ? "AddressSanitizer's allocator"
            : !populate ? "no MADV_POPULATE_WRITE (Linux < 5.14)" : "not glibc's thread heaps");
    return check_report("test_heap_reserve");
  }
  /* without a reserve, 4 MB of allocations grow the process by about that */
  CHECK(plain.alloc_growth > 3 * MB);
  /* with one, the pages are there first and the allocations land on them */
  CHECK(reserved.reserve_growth > 6 * MB);
  CHECK(reserved.alloc_growth < MB);

  /* a reserve past glibc's largest heap (64 MB) stops where the heap does */
  probe big = in_thread(200 * MB);
  CHECK(big.allocs_ok);
  return check_report("test_heap_reserve");
}
