/* SPDX-License-Identifier: MIT */
/* The keyed token buckets behind the API's rate limits: counts, refill,
 * giving back, the bound on keys, and one count across threads. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>

#include "check.h"
#include "core/serve/auth_limit.h"

static void check_bucket(void) {
  ce_limit *l = ce_limit_new(6, 100); /* 6 a minute: one back every 10 s */
  ce_limit_state st;
  for (int i = 0; i < 6; i++) {
    CHECK(ce_limit_take(l, "alice", 5, 100.0, &st) == 1);
    CHECK(st.remaining == 5 - i);
    CHECK(st.limit == 6);
  }
  CHECK(fabs(st.reset - 60) < 1e-9); /* empty: a minute to full */
  CHECK(ce_limit_take(l, "alice", 5, 100.0, &st) == 0);
  CHECK(st.remaining == 0);
  CHECK(fabs(st.retry_after - 10) < 1e-9);
  CHECK(ce_limit_take(l, "bob", 3, 100.0, &st) == 1); /* keys apart */
  CHECK(ce_limit_take(l, "alice", 5, 104.0, &st) == 0);
  CHECK(fabs(st.retry_after - 6) < 1e-9);
  CHECK(ce_limit_take(l, "alice", 5, 110.0, &st) == 1); /* 10 s: one back */
  CHECK(ce_limit_take(l, "alice", 5, 110.0, &st) == 0);
  CHECK(ce_limit_take(l, "alice", 5, 5000.0, &st) == 1); /* long after: full, not more than full */
  CHECK(st.remaining == 5);
  /* a clock that goes back does not mint tokens */
  CHECK(ce_limit_take(l, "alice", 5, 10.0, &st) == 1);
  CHECK(st.remaining == 4);
  CHECK(ce_limit_take(l, "alice", 5, 5000.0, &st) == 1);
  CHECK(st.remaining == 3);
  ce_limit_free(l);
}

static void check_give(void) {
  ce_limit *l = ce_limit_new(2, 100);
  CHECK(ce_limit_take(l, "k", 1, 0, NULL) == 1);
  CHECK(ce_limit_take(l, "k", 1, 0, NULL) == 1);
  CHECK(ce_limit_take(l, "k", 1, 0, NULL) == 0);
  ce_limit_give(l, "k", 1, 0);
  CHECK(ce_limit_take(l, "k", 1, 0, NULL) == 1);
  ce_limit_give(l, "k", 1, 0);
  ce_limit_give(l, "k", 1, 0);
  ce_limit_give(l, "k", 1, 0); /* never beyond full */
  ce_limit_state st;
  CHECK(ce_limit_take(l, "k", 1, 0, &st) == 1);
  CHECK(st.remaining == 1);
  ce_limit_give(l, "unknown", 7, 0); /* a key without a bucket: nothing to give back to */
  CHECK(ce_limit_size(l) == 1);
  ce_limit_free(l);
}

/* However many keys a client invents, the table holds max_keys buckets, and
 * a key that was charged is not the one forgotten. */
static void check_bound(void) {
  ce_limit *l = ce_limit_new(60, 64);
  for (int i = 0; i < 10; i++) ce_limit_take(l, "victim", 6, 0, NULL); /* 50 left */
  char key[32];
  for (int i = 0; i < 5000; i++) {
    int n = snprintf(key, sizeof key, "spray-%d", i);
    CHECK(ce_limit_take(l, key, (size_t)n, 0, NULL) == 1);
    CHECK(ce_limit_size(l) <= 64);
  }
  ce_limit_state st;
  ce_limit_take(l, "victim", 6, 0, &st);
  CHECK(st.remaining == 49);
  /* a minute later every bucket has refilled: room without evicting anyone charged */
  for (int i = 0; i < 70; i++) {
    int n = snprintf(key, sizeof key, "late-%d", i);
    ce_limit_take(l, key, (size_t)n, 61, NULL);
  }
  CHECK(ce_limit_size(l) <= 64);
  ce_limit_free(l);
}

static void check_unlimited(void) {
  ce_limit *l = ce_limit_new(0, 10);
  ce_limit_state st;
  for (int i = 0; i < 1000; i++) CHECK(ce_limit_take(l, "x", 1, 0, &st) == 1);
  CHECK(isinf(st.remaining));
  CHECK(ce_limit_size(l) == 0);
  ce_limit_free(l);
  ce_limit_free(NULL);
}

static ce_limit *shared;
static void *hammer(void *arg) {
  int *won = arg;
  for (int i = 0; i < 5000; i++) *won += ce_limit_take(shared, "one key", 7, 1.0, NULL);
  return NULL;
}

/* Four threads on one key: exactly the bucket's size gets through. */
static void check_threads(void) {
  shared = ce_limit_new(1000, 100);
  pthread_t t[4];
  int won[4] = {0};
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, &won[i]);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(won[0] + won[1] + won[2] + won[3] == 1000);
  ce_limit_free(shared);
}

int main(void) {
  check_bucket();
  check_give();
  check_bound();
  check_unlimited();
  check_threads();
  return check_report("test_auth_limit");
}
