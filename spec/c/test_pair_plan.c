/* SPDX-License-Identifier: MIT */
/* The shared plan of a benchmark's pairs (core/util/pair_plan.h): pairs are
 * recorded in order, a hash belongs to the first pair that had it, and two
 * threads recording the same pairs leave one plan. */
#include <pthread.h>
#include <stdio.h>

#include "check.h"
#include "core/util/pair_plan.h"

#define PAIRS 20000

static ce_plan *shared;

/* every thread records the same pairs, racing: draw p % 7 == 3 ? 2 : 0 */
static void *record_all(void *arg) {
  int *recorded = arg;
  for (;;) {
    int64_t p = ce_plan_upto(shared);
    if (p >= PAIRS) break;
    int rc = ce_plan_accept(shared, p, p % 7 == 3 ? 2 : 0, (uint64_t)(2 * p + 1) * 0x9e3779b97f4a7c15ull,
                            (uint64_t)(2 * p + 2) * 0x9e3779b97f4a7c15ull);
    *recorded += rc == 0 || rc == 1 ? rc : -PAIRS; /* no CHECK here: its counters are not atomic */
  }
  return NULL;
}

int main(void) {
  ce_plan *pl = ce_plan_new();
  CHECK(pl != NULL);
  CHECK(ce_plan_upto(pl) == 0);
  CHECK(ce_plan_draw(pl, 0) == -1);
  CHECK(ce_plan_accept(pl, 1, 0, 5, 6) == -2); /* pair 0 first */
  CHECK(ce_plan_accept(pl, 0, 0, 5, 6) == 1);
  CHECK(ce_plan_accept(pl, 0, 0, 5, 6) == 0); /* another thread's record of the same pair */
  CHECK(ce_plan_accept(pl, 1, 3, 0, 7) == 1); /* a hash of 0 is a hash like any other */
  CHECK(ce_plan_upto(pl) == 2);
  CHECK(ce_plan_draw(pl, 0) == 0 && ce_plan_draw(pl, 1) == 3 && ce_plan_draw(pl, 2) == -1);
  CHECK(ce_plan_redraws(pl) == 1);
  /* seen: by a pair before the one asking */
  CHECK(!ce_plan_seen(pl, 5, 0)); /* pair 0's own question, while pair 0 is planned again */
  CHECK(ce_plan_seen(pl, 5, 1) && ce_plan_seen(pl, 6, 2));
  CHECK(!ce_plan_seen(pl, 0, 1) && ce_plan_seen(pl, 0, 2));
  CHECK(!ce_plan_seen(pl, 8, 100));
  /* a hash repeated by a later pair still belongs to the first */
  CHECK(ce_plan_accept(pl, 2, 0, 5, 9) == 1);
  CHECK(ce_plan_seen(pl, 5, 1) && !ce_plan_seen(pl, 9, 2) && ce_plan_seen(pl, 9, 3));
  ce_plan_free(pl);

  shared = ce_plan_new();
  pthread_t t[4];
  int recorded[4] = {0};
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, record_all, &recorded[i]) == 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(recorded[0] + recorded[1] + recorded[2] + recorded[3] == PAIRS);
  CHECK(ce_plan_upto(shared) == PAIRS);
  int64_t redraws = 0;
  for (int64_t p = 0; p < PAIRS; p++) {
    CHECK(ce_plan_draw(shared, p) == (p % 7 == 3 ? 2 : 0));
    redraws += p % 7 == 3;
    uint64_t ka = (uint64_t)(2 * p + 1) * 0x9e3779b97f4a7c15ull;
    if (!(!ce_plan_seen(shared, ka, p) && ce_plan_seen(shared, ka, p + 1))) {
      fprintf(stderr, "pair %lld: its hash is not its own\n", (long long)p);
      CHECK(0);
    }
  }
  CHECK(ce_plan_redraws(shared) == redraws);
  ce_plan_free(shared);
  return check_report("pair_plan");
}
