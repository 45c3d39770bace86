/* SPDX-License-Identifier: MIT */
/* CPU a worker spends queueing one answer to the results store: the record
 * header (CRC32C), the copy into the journal and the queue. 100,000
 * enqueue_pair calls of a 1,500-byte record and a 120-byte score line, on
 * the calling thread's CPU clock; the writer commits meanwhile.
 *
 *   cc -O2 -Ihost tools/bench/store_enqueue.c build/libce_core.a -llmdb -lyaml -lhiredis -ledit -lpthread -lm -ldl \
 *      -o /tmp/store_enqueue && /tmp/store_enqueue /dev/shm/ce-bench-store
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/store/store.h"

static double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: store_enqueue DIR (a store is created there; remove it afterwards)\n");
    return 2;
  }
  enum { N = 100000 };
  ce_err e;
  ce_store *s = ce_store_open(argv[1], 4096, 0, &e);
  if (!s || ce_store_writer_start(s, 256, 5, &e) != 0) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  static char rec[1500], score[120];
  memset(rec, 'r', sizeof rec);
  memset(score, 's', sizeof score);
  double t0 = thread_cpu();
  for (int i = 0; i < N; i++) {
    char key[80];
    int kl = snprintf(key, sizeof key, "20261204-000000-abcdef%cmodel%cq-%08d", 0, 0, i);
    ce_store_enqueue_pair(s, CE_STORE_RECORDS, rec, sizeof rec, CE_STORE_SCORES, score, sizeof score, key,
                          (size_t)kl, 0, CE_TALLY_DONE);
  }
  double t1 = thread_cpu();
  if (ce_store_sync(s, &e) != 0) fprintf(stderr, "%s\n", e.msg);
  printf("%.2f us of CPU per enqueue_pair (the calling thread)\n", (t1 - t0) / N * 1e6);
  ce_store_free(s);
  return 0;
}
