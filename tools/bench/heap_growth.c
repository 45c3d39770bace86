/* SPDX-License-Identifier: MIT */
/* What a new thread's heap growth costs, page by page and after
 * ce_heap_reserve (core/util/heap_reserve.h): a thread allocates N blocks of
 * 4,000 bytes (LMDB's dirty pages, a Lua state's objects), each written
 * once, and the CPU time it took is printed, with the time the reserve took
 * beforehand. Growing page by page costs a page fault a page (12 us on the
 * VMs this project is measured on) and an mprotect every few; the reserve
 * makes the pages present with one madvise a block. Rounds alternate the two
 * ways, each in a fresh process (a heap keeps its pages once it has them).
 *
 *   cc -O2 -Ihost tools/bench/heap_growth.c build/libce_core.a -lpthread -lm -o /tmp/heap_growth
 *   /tmp/heap_growth [N=2000] [ROUNDS=5]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util/heap_reserve.h"

static int n = 2000;

static double cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *grow(void *arg) {
  int reserve = *(int *)arg;
  double t0 = cpu();
  void *kept = reserve ? ce_heap_reserve((size_t)n * 4096 + (1u << 20)) : NULL;
  double t1 = cpu();
  char **v = malloc((size_t)n * sizeof *v);
  for (int i = 0; i < n && v; i++) {
    v[i] = malloc(4000);
    if (v[i]) v[i][0] = 1;
  }
  double t2 = cpu();
  printf("%-9s %8.2f ms to allocate %d x 4,000 B (%.2f us each), %.2f ms reserving\n",
         reserve ? "reserved" : "page-wise", (t2 - t1) * 1e3, n, (t2 - t1) / n * 1e6, (t1 - t0) * 1e3);
  fflush(stdout);
  for (int i = 0; i < n && v; i++) free(v[i]);
  free(v);
  free(kept);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) n = atoi(argv[1]);
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (n <= 0 || rounds <= 0) {
    fprintf(stderr, "usage: heap_growth [N] [ROUNDS]\n");
    return 2;
  }
  for (int r = 0; r < 2 * rounds; r++) {
    pid_t pid = fork();
    if (pid == 0) {
      int reserve = r % 2;
      pthread_t t;
      if (pthread_create(&t, NULL, grow, &reserve) != 0) _exit(1);
      pthread_join(t, NULL);
      _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
  }
  return 0;
}
