/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/store/store.h"

static char dir[256];

static int count_visit(const char *k, size_t kl, const char *v, size_t vl, void *ud) {
  (void)k, (void)kl, (void)v, (void)vl;
  ++*(int *)ud;
  return 0;
}

typedef struct {
  ce_store *s;
  int id;
} producer;

/* many threads queueing pairs at once: pairs must never be split or lost */
static void *produce(void *arg) {
  producer *p = arg;
  for (int i = 0; i < 5000; i++) {
    char key[64], rec[64], score[16];
    int kl = snprintf(key, sizeof key, "run%c%d%cq%05d", 0, p->id, 0, i);
    int rl = snprintf(rec, sizeof rec, "{\"record\":%d}", i);
    int sl = snprintf(score, sizeof score, "{\"c\":%d}", i % 2);
    ce_store_enqueue_pair(p->s, CE_STORE_RECORDS, rec, (size_t)rl, CE_STORE_SCORES, score, (size_t)sl, key,
                          (size_t)kl, p->id, CE_TALLY_DONE | (i % 2 ? CE_TALLY_CORRECT : 0));
  }
  return NULL;
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/ce-test-store.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(dir, 64, 0, &e);
  CHECK(s != NULL);
  if (!s) return check_report("test_store");

  /* one-transaction operations */
  CHECK(ce_store_put(s, CE_STORE_RUNS, "r1", 2, "{\"a\":1}", 7, &e) == 0);
  CHECK(ce_store_put(s, CE_STORE_RUNS, "r2", 2, "{\"a\":2}", 7, &e) == 0);
  char *v = NULL;
  size_t vl = 0;
  CHECK(ce_store_get(s, CE_STORE_RUNS, "r2", 2, &v, &vl, &e) == 1);
  CHECK(vl == 7 && memcmp(v, "{\"a\":2}", 7) == 0);
  free(v);
  CHECK(ce_store_get(s, CE_STORE_RUNS, "zz", 2, &v, &vl, &e) == 0);
  CHECK(ce_store_del(s, CE_STORE_RUNS, "r1", 2, &e) == 0);
  CHECK(ce_store_get(s, CE_STORE_RUNS, "r1", 2, &v, &vl, &e) == 0);

  /* the writer: 4 threads x 5000 pairs, small batches so pairs straddle them */
  CHECK(ce_store_writer_start(s, 7, 1, &e) == 0);
  pthread_t t[4];
  producer p[4];
  for (int i = 0; i < 4; i++) {
    p[i].s = s;
    p[i].id = i;
    pthread_create(&t[i], NULL, produce, &p[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(ce_store_sync(s, &e) == 0);
  CHECK(ce_store_queued(s) == 0);
  for (int i = 0; i < 4; i++) {
    ce_store_tally tl;
    ce_store_tally_get(s, i, &tl);
    CHECK(tl.done == 5000);
    CHECK(tl.correct == 2500);
    CHECK(tl.errors == 0);
  }
  int nrec = 0, nscore = 0;
  CHECK(ce_store_scan(s, CE_STORE_RECORDS, "run", 4, 0, count_visit, &nrec, &e) == 20000);
  CHECK(ce_store_scan(s, CE_STORE_SCORES, "run", 4, 0, count_visit, &nscore, &e) == 20000);
  CHECK(nrec == 20000 && nscore == 20000);
  /* a prefix selects one producer's keys */
  int n1 = 0;
  CHECK(ce_store_scan(s, CE_STORE_SCORES, "run\0" "2\0", 6, 1, count_visit, &n1, &e) == 5000);

  /* large records: the queue is bounded in bytes too, so a writer that
   * commits (and syncs) more slowly than producers fill it holds them back */
  {
    enum { BIG = 200 * 1024, N = 120 };
    char *rec = malloc(BIG);
    memset(rec, 'x', BIG);
    for (int i = 0; i < N; i++) {
      char key[32];
      int kl = snprintf(key, sizeof key, "big%c%05d", 0, i);
      CHECK(ce_store_enqueue(s, CE_STORE_RECORDS, key, (size_t)kl, rec, BIG, 5, CE_TALLY_DONE) == 0);
    }
    free(rec);
    CHECK(ce_store_sync(s, &e) == 0);
    uint64_t now, peak;
    ce_store_queued_bytes(s, &now, &peak);
    CHECK(now == 0);
    CHECK(peak <= CE_STORE_MAX_QUEUED_BYTES);
    CHECK(peak >= BIG);
    ce_store_tally tl;
    ce_store_tally_get(s, 5, &tl);
    CHECK(tl.done == N);
    /* one item over the bound on its own still goes through */
    char *huge = malloc(CE_STORE_MAX_QUEUED_BYTES + 1);
    memset(huge, 'y', CE_STORE_MAX_QUEUED_BYTES + 1);
    CHECK(ce_store_enqueue(s, CE_STORE_RECORDS, "huge", 4, huge, CE_STORE_MAX_QUEUED_BYTES + 1, 6, CE_TALLY_DONE) == 0);
    free(huge);
    CHECK(ce_store_sync(s, &e) == 0);
    ce_store_tally_get(s, 6, &tl);
    CHECK(tl.done == 1);
  }

  ce_store_free(s);
  /* what was committed is there after reopening */
  s = ce_store_open(dir, 64, 0, &e);
  CHECK(s != NULL);
  if (s) {
    int again = 0;
    CHECK(ce_store_scan(s, CE_STORE_RECORDS, "", 0, 0, count_visit, &again, &e) == 20000 + 120 + 1);
    ce_store_free(s);
  }
  /* a path that cannot be a folder names itself */
  CHECK(ce_store_open("/proc/no/such/dir", 64, 0, &e) == NULL);
  CHECK_CONTAINS(e.msg, "cannot create the store folder");

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_report("test_store");
}
