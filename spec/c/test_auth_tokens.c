/* SPDX-License-Identifier: MIT */
/* The token store: tokens are random and shown once, found by their hash,
 * expire, are swept, revoked, capped per user, and shared by threads. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/serve/auth_tokens.h"

static void check_issue(void) {
  ce_tokens *t = ce_tokens_new(60, 100);
  char a[CE_TOKEN_TEXT], b[CE_TOKEN_TEXT];
  ce_token_info ia, ib, got;
  CHECK(ce_tokens_issue(t, "alice", 1000, a, &ia) == 0);
  CHECK(ce_tokens_issue(t, "alice", 1000, b, &ib) == 0);
  CHECK(strlen(a) == 43);
  CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
  CHECK(strcmp(a, b) != 0);
  CHECK(memcmp(ia.hash, ib.hash, CE_TOKEN_HASH) != 0);
  CHECK(ia.expires == 1060);
  CHECK_STR(ia.user, "alice");

  CHECK(ce_tokens_check(t, a, 43, 1001, &got) == 1);
  CHECK_STR(got.user, "alice");
  CHECK(memcmp(got.hash, ia.hash, CE_TOKEN_HASH) == 0);
  /* one character off, cut short, too long, not base64url: unknown */
  char c[CE_TOKEN_TEXT];
  memcpy(c, a, sizeof c);
  c[10] = c[10] == 'A' ? 'B' : 'A';
  CHECK(ce_tokens_check(t, c, 43, 1001, NULL) == 0);
  CHECK(ce_tokens_check(t, a, 42, 1001, NULL) == 0);
  CHECK(ce_tokens_check(t, "", 0, 1001, NULL) == 0);
  char longer[64];
  snprintf(longer, sizeof longer, "%sAA", a);
  CHECK(ce_tokens_check(t, longer, strlen(longer), 1001, NULL) == 0);
  CHECK(ce_tokens_check(t, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", 43, 1001, NULL) == 0);
  /* the store keeps no text that would let a token be rebuilt */
  CHECK(ce_tokens_count(t) == 2);
  ce_tokens_free(t);
}

static void check_expiry(void) {
  ce_tokens *t = ce_tokens_new(10, 100);
  char a[CE_TOKEN_TEXT];
  ce_tokens_issue(t, "bob", 0, a, NULL);
  CHECK(ce_tokens_check(t, a, 43, 9.9, NULL) == 1);
  ce_token_info info;
  CHECK(ce_tokens_check(t, a, 43, 10, &info) == -1); /* expired, and said so */
  CHECK_STR(info.user, "bob");
  CHECK(ce_tokens_check(t, a, 43, 10 + CE_TOKEN_GRACE - 1, NULL) == -1);
  /* past the grace time a lookup's sweep forgets it */
  CHECK(ce_tokens_check(t, a, 43, 10 + CE_TOKEN_GRACE + 60, NULL) == 0);
  CHECK(ce_tokens_count(t) == 0);
  ce_tokens_free(t);
}

static void check_revoke(void) {
  ce_tokens *t = ce_tokens_new(60, 100);
  char a[CE_TOKEN_TEXT], b[CE_TOKEN_TEXT], c[CE_TOKEN_TEXT];
  ce_tokens_issue(t, "alice", 0, a, NULL);
  ce_tokens_issue(t, "alice", 0, b, NULL);
  ce_tokens_issue(t, "carol", 0, c, NULL);
  CHECK(ce_tokens_revoke(t, a, 43) == 1);
  CHECK(ce_tokens_revoke(t, a, 43) == 0);
  CHECK(ce_tokens_check(t, a, 43, 1, NULL) == 0);
  CHECK(ce_tokens_revoke_user(t, "alice") == 1);
  CHECK(ce_tokens_check(t, b, 43, 1, NULL) == 0);
  CHECK(ce_tokens_check(t, c, 43, 1, NULL) == 1);
  ce_tokens_free(t);
}

/* A user's live tokens are capped: the oldest goes, others' stay. */
static void check_cap(void) {
  ce_tokens *t = ce_tokens_new(1000, 3);
  char tok[5][CE_TOKEN_TEXT], other[CE_TOKEN_TEXT];
  ce_tokens_issue(t, "zed", 0, other, NULL);
  for (int i = 0; i < 5; i++) ce_tokens_issue(t, "dave", i, tok[i], NULL);
  CHECK(ce_tokens_check(t, tok[0], 43, 10, NULL) == 0);
  CHECK(ce_tokens_check(t, tok[1], 43, 10, NULL) == 0);
  for (int i = 2; i < 5; i++) CHECK(ce_tokens_check(t, tok[i], 43, 10, NULL) == 1);
  CHECK(ce_tokens_check(t, other, 43, 10, NULL) == 1);
  CHECK(ce_tokens_count(t) == 4);
  ce_tokens_free(t);
}

/* Many tokens: the table grows and every one is still found. */
static void check_many(void) {
  ce_tokens *t = ce_tokens_new(1000, 100000);
  static char tok[5000][CE_TOKEN_TEXT];
  for (int i = 0; i < 5000; i++) CHECK(ce_tokens_issue(t, "eve", 0, tok[i], NULL) == 0);
  int found = 0;
  for (int i = 0; i < 5000; i++) found += ce_tokens_check(t, tok[i], 43, 1, NULL) == 1;
  CHECK(found == 5000);
  ce_tokens_free(t);
  ce_tokens_free(NULL);
}

static ce_tokens *shared;
static void *churn(void *arg) {
  int *ok = arg;
  char name[16], tok[CE_TOKEN_TEXT];
  snprintf(name, sizeof name, "user%d", ok[1]);
  for (int i = 0; i < 2000; i++) {
    ce_token_info info;
    ce_tokens_issue(shared, name, i, tok, NULL);
    if (ce_tokens_check(shared, tok, 43, i, &info) == 1 && strcmp(info.user, name) == 0) ok[0]++;
    if (i % 3 == 0) ce_tokens_revoke(shared, tok, 43);
  }
  return NULL;
}

static void check_threads(void) {
  shared = ce_tokens_new(100000, 100000);
  pthread_t th[4];
  int ok[4][2];
  for (int i = 0; i < 4; i++) {
    ok[i][0] = 0;
    ok[i][1] = i;
    pthread_create(&th[i], NULL, churn, ok[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) CHECK(ok[i][0] == 2000);
  CHECK(ce_tokens_count(shared) == 4 * (2000 - 667));
  ce_tokens_free(shared);
}

int main(void) {
  check_issue();
  check_expiry();
  check_revoke();
  check_cap();
  check_many();
  check_threads();
  return check_report("test_auth_tokens");
}
