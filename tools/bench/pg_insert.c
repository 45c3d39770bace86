/* SPDX-License-Identifier: MIT */
/* Answers written per second into a PostgreSQL results store from one
 * process, the way a run writes them: THREADS workers queue record and
 * score-line pairs (1.2 KB records, score lines as outcome.lua writes
 * them, 5 models, 8 families), the store's writer commits them in batches
 * of BATCH by binary COPY into staging tables and INSERT ... ON CONFLICT
 * (host/core/store/pg.c). The clock runs from the first answer queued to
 * the last one committed (ce_store_sync). tools/bench/pg.sh runs it.
 *
 *   pg_insert URL DIR N THREADS BATCH [WRITERS]   -> one line: "N answers in S s: R answers/s"
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/store.h"
#include "core/util/clock.h"

typedef struct {
  ce_store *s;
  int from, to;
  const char *run;
} part;

static const char *const FAMILIES[] = {"ladder", "intervention", "counterfactual", "chain",
                                       "confounding", "attribution", "corr2cause", "collider"};

static void *produce(void *arg) {
  part *p = arg;
  char rec[1400], line[200], key[120];
  for (int i = p->from; i < p->to; i++) {
    int model = i % 5, correct = (i * 7919) % 10 < 7;
    const char *fam = FAMILIES[(i / 5) % 8];
    int kl = snprintf(key, sizeof key, "%s%cmodel-%d%c%s-%016x", p->run, 0, model, 0, fam, (unsigned)(i / 5));
    int ll = snprintf(line, sizeof line,
                      "{\"c\":%d,\"d\":\"medium\",\"day\":\"2026-12-04\",\"f\":\"%s\",\"l\":%d.%03d,\"r\":%d,"
                      "\"ti\":%d,\"to\":%d}", correct, fam, 200 + i % 800, i % 1000, 1 + i % 3, 150 + i % 90, 1 + i % 4);
    int rl = snprintf(rec, sizeof rec,
                      "{\"answer_type\":\"yes_no\",\"attempts\":1,\"correct\":%s,\"day\":\"2026-12-04\","
                      "\"difficulty\":\"medium\",\"family\":\"%s\",\"finished_at\":1796403550,\"ground_truth\":\"yes\","
                      "\"latency_ms\":%d.%03d,\"model\":\"model-%d\",\"parsed\":\"yes\",\"prompt\":\"%.*s\","
                      "\"question_id\":\"%s-%016x\",\"response\":\"Yes.\",\"run_id\":\"%s\",\"score\":%d,"
                      "\"tokens\":{\"input\":%d,\"output\":%d}}",
                      correct ? "true" : "false", fam, 200 + i % 800, i % 1000, model, 900,
                      "Consider a closed world in which every change has a cause that is written down. A doctor "
                      "gives a treatment to some patients and not to others; recovery is recorded a week later. "
                      "Age affects both whether a patient is treated and whether the patient recovers. Among the "
                      "treated, recovery is more common than among the untreated. Everything else that matters is "
                      "listed here and nothing is hidden from you. If we could intervene and give the treatment to "
                      "everyone, regardless of age, would the recovery rate rise compared with giving it to no one? "
                      "Think about which path carries the effect and which path is only an association that age "
                      "creates. Answer yes or no, and nothing else, on the first line of your reply, please. Thanks "
                      "again for your careful answer to this question about causes and effects in the closed world.",
                      fam, (unsigned)(i / 5), p->run, correct, 150 + i % 90, 1 + i % 4);
    if (ce_store_enqueue_pair(p->s, CE_STORE_RECORDS, rec, (size_t)rl, CE_STORE_SCORES, line, (size_t)ll, key,
                              (size_t)kl, 0, CE_TALLY_DONE) != 0) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: pg_insert URL DIR N THREADS BATCH\n");
    return 2;
  }
  int n = atoi(argv[3]), threads = atoi(argv[4]), batch = atoi(argv[5]);
  if (n < 1 || threads < 1 || threads > 64 || batch < 1) {
    fprintf(stderr, "pg_insert: N, THREADS (1-64) and BATCH must be positive\n");
    return 2;
  }
  int writers = argc > 6 ? atoi(argv[6]) : 2;
  ce_store_pg_cfg cfg = {argv[1], NULL, 5, 10, 30, 3600, 0, 10, 60, 64u << 20, 1, writers};
  ce_err e;
  ce_store *s = ce_store_open_pg(argv[2], &cfg, &e);
  if (!s || ce_store_writer_start(s, batch, 5, &e) != 0) {
    fprintf(stderr, "pg_insert: %s\n", e.msg);
    return 1;
  }
  char run[40];
  snprintf(run, sizeof run, "20261204-000000-%06x", (unsigned)(ce_clock_mono() * 1000) & 0xffffff);
  pthread_t t[64];
  part parts[64];
  double t0 = ce_clock_mono();
  for (int i = 0; i < threads; i++) {
    parts[i] = (part){s, (int)((long)n * i / threads), (int)((long)n * (i + 1) / threads), run};
    pthread_create(&t[i], NULL, produce, &parts[i]);
  }
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  int rc = ce_store_sync(s, &e);
  double took = ce_clock_mono() - t0;
  ce_store_tally tally;
  ce_store_tally_get(s, 0, &tally);
  ce_store_free(s);
  if (rc != 0) {
    fprintf(stderr, "pg_insert: %s\n", e.msg);
    return 1;
  }
  if (tally.done != (uint64_t)n) {
    fprintf(stderr, "pg_insert: %llu of %d answers committed\n", (unsigned long long)tally.done, n);
    return 1;
  }
  printf("%d answers in %.2f s: %.0f answers/s\n", n, took, n / took);
  return 0;
}
