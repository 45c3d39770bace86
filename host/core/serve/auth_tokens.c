/* SPDX-License-Identifier: MIT */
#include "core/serve/auth_tokens.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SWEEP_EVERY 30.0 /* seconds between sweeps driven by lookups */

typedef struct entry {
  ce_token_info info;
  double issued;
  struct entry *next;
} entry;

struct ce_tokens {
  pthread_mutex_t lock;
  double ttl, last_sweep;
  size_t max_per_user;
  entry **chains;
  size_t mask, n;
};

ce_tokens *ce_tokens_new(double ttl, size_t max_per_user) {
  if (sodium_init() < 0) return NULL;
  ce_tokens *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->chains = calloc(64, sizeof *t->chains);
  if (!t->chains) {
    free(t);
    return NULL;
  }
  pthread_mutex_init(&t->lock, NULL);
  t->ttl = ttl;
  t->max_per_user = max_per_user ? max_per_user : 1;
  t->mask = 63;
  return t;
}

static size_t chain_of(const ce_tokens *t, const unsigned char *hash) {
  uint64_t h;
  memcpy(&h, hash, sizeof h);
  return (size_t)h & t->mask;
}

static void grow(ce_tokens *t) {
  size_t n = (t->mask + 1) * 2;
  entry **chains = calloc(n, sizeof *chains);
  if (!chains) return; /* longer chains, still correct */
  entry **old = t->chains;
  size_t old_n = t->mask + 1;
  t->chains = chains;
  t->mask = n - 1;
  for (size_t i = 0; i < old_n; i++)
    for (entry *e = old[i], *next; e; e = next) {
      next = e->next;
      size_t c = chain_of(t, e->info.hash);
      e->next = chains[c];
      chains[c] = e;
    }
  free(old);
}

static void drop(ce_tokens *t, entry **p) {
  entry *e = *p;
  *p = e->next;
  sodium_memzero(e, sizeof *e);
  free(e);
  t->n--;
}

/* One pass: forgets tokens past their grace time and finds the given
 * user's live tokens (how many, and the oldest). */
static size_t sweep(ce_tokens *t, double now, const char *user, entry ***oldest) {
  size_t live = 0;
  for (size_t i = 0; i <= t->mask; i++)
    for (entry **p = &t->chains[i]; *p;) {
      entry *e = *p;
      if (e->info.expires + CE_TOKEN_GRACE < now) {
        drop(t, p);
        continue;
      }
      if (user && e->info.expires > now && strcmp(e->info.user, user) == 0) {
        live++;
        if (!*oldest || e->issued < (**oldest)->issued) *oldest = p;
      }
      p = &e->next;
    }
  t->last_sweep = now;
  return live;
}

int ce_tokens_issue(ce_tokens *t, const char *user, double now, char text[CE_TOKEN_TEXT], ce_token_info *info) {
  entry *e = calloc(1, sizeof *e);
  if (!e) return -1;
  unsigned char raw[CE_TOKEN_BYTES];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(text, CE_TOKEN_TEXT, raw, sizeof raw, B64);
  crypto_generichash(e->info.hash, CE_TOKEN_HASH, raw, sizeof raw, NULL, 0);
  sodium_memzero(raw, sizeof raw);
  snprintf(e->info.user, sizeof e->info.user, "%s", user);
  e->info.expires = now + t->ttl;
  e->issued = now;

  pthread_mutex_lock(&t->lock);
  entry **oldest = NULL;
  if (sweep(t, now, e->info.user, &oldest) >= t->max_per_user && oldest) drop(t, oldest);
  if (t->n + 1 > 2 * (t->mask + 1)) grow(t);
  size_t c = chain_of(t, e->info.hash);
  e->next = t->chains[c];
  t->chains[c] = e;
  t->n++;
  if (info) *info = e->info;
  pthread_mutex_unlock(&t->lock);
  return 0;
}

/* The stored hash of a presented text, or -1 when it cannot be a token. */
static int hash_text(const char *text, size_t len, unsigned char hash[CE_TOKEN_HASH]) {
  if (len != CE_TOKEN_TEXT - 1) return -1;
  unsigned char raw[CE_TOKEN_BYTES];
  size_t got;
  const char *end;
  int rc = sodium_base642bin(raw, sizeof raw, text, len, NULL, &got, &end, B64);
  if (rc == 0 && got == CE_TOKEN_BYTES && end == text + len) crypto_generichash(hash, CE_TOKEN_HASH, raw, sizeof raw, NULL, 0);
  else rc = -1;
  sodium_memzero(raw, sizeof raw);
  return rc;
}

static entry **find(ce_tokens *t, const unsigned char *hash) {
  entry **p = &t->chains[chain_of(t, hash)];
  while (*p && sodium_memcmp((*p)->info.hash, hash, CE_TOKEN_HASH) != 0) p = &(*p)->next;
  return p;
}

int ce_tokens_check(ce_tokens *t, const char *text, size_t len, double now, ce_token_info *info) {
  unsigned char hash[CE_TOKEN_HASH];
  if (hash_text(text, len, hash) != 0) return 0;
  pthread_mutex_lock(&t->lock);
  if (now - t->last_sweep > SWEEP_EVERY) {
    entry **none = NULL;
    sweep(t, now, NULL, &none);
  }
  entry *e = *find(t, hash);
  int rc = 0;
  if (e) {
    rc = e->info.expires > now ? 1 : -1;
    if (info) *info = e->info;
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

int ce_tokens_revoke(ce_tokens *t, const char *text, size_t len) {
  unsigned char hash[CE_TOKEN_HASH];
  if (hash_text(text, len, hash) != 0) return 0;
  pthread_mutex_lock(&t->lock);
  entry **p = find(t, hash);
  int known = *p != NULL;
  if (known) drop(t, p);
  pthread_mutex_unlock(&t->lock);
  return known;
}

size_t ce_tokens_revoke_user(ce_tokens *t, const char *user) {
  size_t gone = 0;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i <= t->mask; i++)
    for (entry **p = &t->chains[i]; *p;) {
      if (strcmp((*p)->info.user, user) == 0) {
        drop(t, p);
        gone++;
      } else p = &(*p)->next;
    }
  pthread_mutex_unlock(&t->lock);
  return gone;
}

size_t ce_tokens_count(ce_tokens *t) {
  pthread_mutex_lock(&t->lock);
  size_t n = t->n;
  pthread_mutex_unlock(&t->lock);
  return n;
}

void ce_tokens_free(ce_tokens *t) {
  if (!t) return;
  for (size_t i = 0; i <= t->mask; i++)
    while (t->chains[i]) drop(t, &t->chains[i]);
  free(t->chains);
  pthread_mutex_destroy(&t->lock);
  free(t);
}
