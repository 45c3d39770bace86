/* SPDX-License-Identifier: MIT */
/* CPU the store's writer thread spends committing one answer (a record of
 * 1,100 bytes and a score line of 120), by how the answers' keys fall:
 *
 *   random    keys as a run makes them (a question id is a family and a
 *             hash): every answer lands in a leaf of its own, in the
 *             records tree and in the scores tree. What a run pays today.
 *   records   the records in the order they come, the score lines at
 *             random keys
 *   index     the records in order, and beside each an 8-byte value at a
 *             random key (what a key -> place index would cost)
 *   ordered   both in the order they come
 *
 * 60,000 answers queued at about 18,000 a second (a run's pace) with the
 * writer settings of a run (2,048 values a transaction, 150 ms window, sync
 * on; BATCH and FLUSH_MS in the environment change them); the writer's CPU
 * is the process's less the queueing thread's. The figures size the case
 * for storing answers in the order they come, and for a run's batch
 * (docs/development.md, the pipeline's own cost).
 *
 *   cc -O2 -Ihost tools/bench/store_writer.c build/libce_core.a -llmdb -lyaml -lhiredis -ledit -lpthread -lm -ldl \
 *      -lcrypto -o /tmp/store_writer && /tmp/store_writer DIR [random|records|index|ordered|all]
 *
 * DIR: a folder on the disk a store would use (not /dev/shm: the page
 * writes are what is measured); a store is created under it and removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/store/store.h"

static double cpu(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { N = 60000 };
static const char *const MODES[] = {"random", "records", "index", "ordered"};

/* writer CPU per answer in mode m, or a negative number on failure */
static double measure(const char *dir, int m) {
  ce_err e;
  ce_store *s = ce_store_open(dir, 4096, 0, &e);
  const char *batch = getenv("BATCH"), *flush = getenv("FLUSH_MS");
  if (!s || ce_store_writer_start(s, batch ? atoi(batch) : 2048, flush ? atoi(flush) : 150, &e) != 0) {
    fprintf(stderr, "%s\n", e.msg);
    return -1;
  }
  static char rec[1100], score[120], place[8];
  memset(rec, 'r', sizeof rec);
  memset(score, 's', sizeof score);
  unsigned long long x = 88172645463325252ull;
  double t0 = cpu(CLOCK_THREAD_CPUTIME_ID), p0 = cpu(CLOCK_PROCESS_CPUTIME_ID);
  for (int i = 0; i < N; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    char hashed[80], seq[80];
    int hl = snprintf(hashed, sizeof hashed, "20261205-000000-abcdef%cmodel%cfamily-%016llx", 0, 0, x);
    int sl = snprintf(seq, sizeof seq, "20261205-000000-abcdef%cmodel%c%016d", 0, 0, i);
    const char *k1 = m == 0 ? hashed : seq, *k2 = m == 3 ? seq : hashed;
    size_t k1l = (size_t)(m == 0 ? hl : sl), k2l = (size_t)(m == 3 ? sl : hl);
    const void *v2 = m == 2 ? (const void *)place : score;
    size_t v2l = m == 2 ? sizeof place : sizeof score;
    if (ce_store_enqueue(s, CE_STORE_RECORDS, k1, k1l, rec, sizeof rec, 0, 0) != 0 ||
        ce_store_enqueue(s, CE_STORE_SCORES, k2, k2l, v2, v2l, 0, CE_TALLY_DONE) != 0) {
      fprintf(stderr, "enqueue failed\n");
      ce_store_free(s);
      return -1;
    }
    if (i % 20 == 0) nanosleep(&(struct timespec){0, 1000000 / 18}, NULL);
  }
  if (ce_store_sync(s, &e) != 0) {
    fprintf(stderr, "%s\n", e.msg);
    ce_store_free(s);
    return -1;
  }
  double t1 = cpu(CLOCK_THREAD_CPUTIME_ID), p1 = cpu(CLOCK_PROCESS_CPUTIME_ID);
  ce_store_free(s);
  return ((p1 - p0) - (t1 - t0)) / N * 1e6;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: store_writer DIR [random|records|index|ordered|all]\n");
    return 2;
  }
  const char *want = argc > 2 ? argv[2] : "all";
  int rc = 0, any = 0;
  for (int m = 0; m < 4; m++) {
    if (strcmp(want, "all") != 0 && strcmp(want, MODES[m]) != 0) continue;
    any = 1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/store-writer-%d-%s", argv[1], (int)getpid(), MODES[m]);
    double us = measure(dir, m);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    if (us < 0) {
      rc = 1;
      continue;
    }
    printf("%-8s %6.2f us of the writer's CPU an answer\n", MODES[m], us);
  }
  if (!any) {
    fprintf(stderr, "unknown mode %s\n", want);
    return 2;
  }
  return rc;
}
