/* SPDX-License-Identifier: MIT */
/* The shared plan of a benchmark's pairs (core/util/pair_plan.h): pairs are
 * recorded in order, a hash belongs to the first pair that had it, and two
 * threads recording the same pairs leave one plan; proposals of draw 0 are
 * recorded in order once the pairs before them are. */
#include <pthread.h>
#include <stdatomic.h>
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

#define GOLD 0x9e3779b97f4a7c15ull
/* draw c of pair p: draw 0 of p % 11 == 5 repeats pair p-1's first
 * question, draw 0 of p % 13 == 7 gives no pair */
static uint64_t hash_of(int64_t p, int64_t c, int side) {
  if (c == 0 && side == 0 && p % 11 == 5) return (uint64_t)(2 * (p - 1) + 1) * GOLD;
  return ((uint64_t)(2 * p + 1 + side) + (uint64_t)c * 1000003ull) * GOLD;
}
/* the draw pair p takes, planned in order */
static void plan_in_order(ce_plan *pl, int64_t p) {
  for (int64_t c = 0;; c++) {
    if (c == 0 && p % 13 == 7) continue; /* no pair */
    uint64_t ka = hash_of(p, c, 0), kb = hash_of(p, c, 1);
    if (ka == kb || ce_plan_seen(pl, ka, p) || ce_plan_seen(pl, kb, p)) continue;
    ce_plan_accept(pl, p, c, ka, kb);
    return;
  }
}

static atomic_long tickets, claimed_total, planned_here;

/* a run's worker: takes 8 pairs at a time, claims and proposes them, then
 * records every pair up to its last: what others proposed, and the rest
 * planned here */
static void *worker(void *arg) {
  (void)arg;
  for (;;) {
    int64_t first = atomic_fetch_add(&tickets, 8);
    if (first >= PAIRS) break;
    int64_t last = first + 7 < PAIRS ? first + 7 : PAIRS - 1;
    for (int64_t p = first; p <= last; p++) {
      if (ce_plan_claim(shared, p) != 1) continue;
      atomic_fetch_add(&claimed_total, 1);
      if (ce_plan_propose(shared, p, p % 13 != 7, hash_of(p, 0, 0), hash_of(p, 0, 1))) return "oom";
    }
    int state;
    int64_t u = ce_plan_advance(shared, &state);
    while (u <= last) {
      int64_t w = u;
      /* plan it here, as causal_eval.bench does: from draw 1 after a
       * rejected draw 0, else from draw 0 */
      int64_t c = state == CE_PLAN_REJECTED ? 1 : 0;
      for (;; c++) {
        if (c == 0 && w % 13 == 7) continue; /* no pair */
        uint64_t ka = hash_of(w, c, 0), kb = hash_of(w, c, 1);
        if (ka == kb || ce_plan_seen(shared, ka, w) || ce_plan_seen(shared, kb, w)) continue;
        if (ce_plan_accept(shared, w, c, ka, kb) < 0) return "accept failed";
        break;
      }
      atomic_fetch_add(&planned_here, 1);
      u = ce_plan_advance(shared, &state);
    }
  }
  return NULL;
}

static void proposals(void) {
  ce_plan *pl = ce_plan_new();
  int state;
  CHECK(ce_plan_advance(pl, &state) == 0 && state == CE_PLAN_OPEN);
  CHECK(ce_plan_claim(pl, 1) == 1);
  CHECK(ce_plan_claim(pl, 1) == 0); /* claimed already */
  CHECK(ce_plan_propose(pl, 1, 1, 11, 12) == 0);
  CHECK(ce_plan_claim(pl, 1) == 0); /* proposed */
  /* pair 1 waits for pair 0 */
  CHECK(ce_plan_advance(pl, &state) == 0 && state == CE_PLAN_OPEN);
  CHECK(ce_plan_claim(pl, 0) == 1);
  CHECK(ce_plan_advance(pl, &state) == 0 && state == CE_PLAN_CLAIMED);
  CHECK(ce_plan_propose(pl, 0, 1, 1, 2) == 0);
  CHECK(ce_plan_advance(pl, &state) == 2 && state == CE_PLAN_OPEN);
  CHECK(ce_plan_draw(pl, 0) == 0 && ce_plan_draw(pl, 1) == 0);
  CHECK(ce_plan_seen(pl, 12, 2) && !ce_plan_seen(pl, 12, 1));
  CHECK(ce_plan_claim(pl, 1) == 0); /* recorded */
  /* a repeated question, the same question twice, no pair */
  CHECK(ce_plan_claim(pl, 2) == 1 && ce_plan_propose(pl, 2, 1, 12, 21) == 0);
  CHECK(ce_plan_advance(pl, &state) == 2 && state == CE_PLAN_REJECTED);
  CHECK(ce_plan_accept(pl, 2, 1, 22, 23) == 1);
  CHECK(ce_plan_claim(pl, 3) == 1 && ce_plan_propose(pl, 3, 1, 31, 31) == 0);
  CHECK(ce_plan_advance(pl, &state) == 3 && state == CE_PLAN_REJECTED);
  CHECK(ce_plan_accept(pl, 3, 2, 32, 33) == 1);
  CHECK(ce_plan_claim(pl, 4) == 1 && ce_plan_propose(pl, 4, 0, 0, 0) == 0);
  CHECK(ce_plan_advance(pl, &state) == 4 && state == CE_PLAN_FAILED);
  CHECK(ce_plan_accept(pl, 4, 1, 41, 42) == 1);
  CHECK(ce_plan_redraws(pl) == 3);
  /* a proposal that comes after its pair was recorded changes nothing */
  CHECK(ce_plan_propose(pl, 4, 1, 1, 2) == 0);
  CHECK(ce_plan_draw(pl, 4) == 1 && ce_plan_upto(pl) == 5);
  /* far ahead: the window grows, and the pairs between land in any order */
  CHECK(ce_plan_claim(pl, 5 + 5000) == 1);
  for (int64_t p = 5 + 4999; p >= 5; p--) {
    CHECK(ce_plan_claim(pl, p) == 1);
    CHECK(ce_plan_propose(pl, p, 1, (uint64_t)(p + 1000) * 4, (uint64_t)(p + 1000) * 4 + 1) == 0);
  }
  CHECK(ce_plan_advance(pl, &state) == 5 + 5000 && state == CE_PLAN_CLAIMED);
  CHECK(ce_plan_propose(pl, 5 + 5000, 1, 7, 8) == 0);
  CHECK(ce_plan_upto(pl) == 5 + 5001 && ce_plan_redraws(pl) == 3);
  ce_plan_free(pl);

  /* a pair claimed and not yet proposed is planned by whoever reaches it;
   * its proposal, when it comes, changes nothing */
  pl = ce_plan_new();
  CHECK(ce_plan_claim(pl, 0) == 1);
  CHECK(ce_plan_advance(pl, &state) == 0 && state == CE_PLAN_CLAIMED);
  CHECK(ce_plan_accept(pl, 0, 0, 1, 2) == 1);
  CHECK(ce_plan_propose(pl, 0, 1, 1, 2) == 0);
  CHECK(ce_plan_advance(pl, &state) == 1 && state == CE_PLAN_OPEN);
  ce_plan_free(pl);
}

int main(void) {
  proposals();
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

  /* workers that claim, propose and plan leave the plan one would make in
   * order, each pair claimed at most once */
  shared = ce_plan_new();
  pthread_t w[4];
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&w[i], NULL, worker, NULL) == 0);
  for (int i = 0; i < 4; i++) {
    void *err;
    pthread_join(w[i], &err);
    if (err) fprintf(stderr, "worker %d: %s\n", i, (const char *)err);
    CHECK(err == NULL);
  }
  CHECK(ce_plan_upto(shared) == PAIRS);
  /* a pair is claimed or planned where it was reached unclaimed, rejected
   * or given no pair (one in 11 and one in 13) */
  long claimed = atomic_load(&claimed_total), here = atomic_load(&planned_here);
  CHECK(claimed <= PAIRS && claimed > PAIRS / 2);
  CHECK(here < PAIRS / 2);
  ce_plan *ref = ce_plan_new();
  for (int64_t p = 0; p < PAIRS; p++) plan_in_order(ref, p);
  int64_t wrong = 0;
  for (int64_t p = 0; p < PAIRS; p++) wrong += ce_plan_draw(shared, p) != ce_plan_draw(ref, p);
  CHECK(wrong == 0);
  CHECK(ce_plan_redraws(shared) == ce_plan_redraws(ref) && ce_plan_redraws(ref) > PAIRS / 20);
  ce_plan_free(ref);
  ce_plan_free(shared);
  return check_report("pair_plan");
}
