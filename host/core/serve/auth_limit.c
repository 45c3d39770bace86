/* SPDX-License-Identifier: MIT */
#include "core/serve/auth_limit.h"

#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST 16

typedef struct node {
  unsigned char digest[DIGEST];
  double tokens, stamp; /* tokens as of stamp */
  struct node *next;
} node;

struct ce_limit {
  pthread_mutex_t lock;
  double size, rate; /* tokens, tokens per second */
  unsigned char secret[crypto_generichash_KEYBYTES];
  node **chains;
  size_t mask, n, max;
};

ce_limit *ce_limit_new(double per_minute, size_t max_keys) {
  if (sodium_init() < 0) return NULL;
  ce_limit *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  size_t nchains = 16;
  if (max_keys < 1) max_keys = 1;
  while (nchains < max_keys && nchains < ((size_t)1 << 20)) nchains <<= 1;
  l->chains = calloc(nchains, sizeof *l->chains);
  if (!l->chains) {
    free(l);
    return NULL;
  }
  pthread_mutex_init(&l->lock, NULL);
  l->size = per_minute > 0 ? per_minute : 0;
  l->rate = l->size / 60.0;
  l->mask = nchains - 1;
  l->max = max_keys;
  randombytes_buf(l->secret, sizeof l->secret);
  return l;
}

static void refill(const ce_limit *l, node *b, double now) {
  if (now <= b->stamp) return; /* a clock that went back mints nothing, now or later */
  b->tokens = fmin(l->size, b->tokens + (now - b->stamp) * l->rate);
  b->stamp = now;
}

static node **find(ce_limit *l, const unsigned char *d) {
  uint64_t h;
  memcpy(&h, d, sizeof h);
  node **p = &l->chains[h & l->mask];
  while (*p && sodium_memcmp((*p)->digest, d, DIGEST) != 0) p = &(*p)->next;
  return p;
}

/* Room for one more bucket: drop every bucket that has refilled (it means
 * nothing a missing key would not), else the fullest one, which loses the
 * least a client has been charged. */
static void make_room(ce_limit *l, double now) {
  node **fullest = NULL;
  for (size_t i = 0; i <= l->mask; i++)
    for (node **p = &l->chains[i]; *p;) {
      refill(l, *p, now);
      if ((*p)->tokens >= l->size) {
        node *dead = *p;
        *p = dead->next;
        free(dead);
        l->n--;
        continue;
      }
      if (!fullest || (*p)->tokens > (*fullest)->tokens) fullest = p;
      p = &(*p)->next;
    }
  if (l->n >= l->max && fullest) {
    node *dead = *fullest;
    *fullest = dead->next;
    free(dead);
    l->n--;
  }
}

static void fill_state(const ce_limit *l, const node *b, ce_limit_state *st) {
  if (!st) return;
  st->limit = l->size;
  st->remaining = b ? floor(b->tokens) : l->size;
  st->retry_after = b && b->tokens < 1 ? (1 - b->tokens) / l->rate : 0;
  st->reset = b ? (l->size - b->tokens) / l->rate : 0;
}

int ce_limit_take(ce_limit *l, const void *key, size_t len, double now, ce_limit_state *st) {
  if (l->size <= 0) {
    if (st) *st = (ce_limit_state){0, INFINITY, 0, 0};
    return 1;
  }
  unsigned char d[DIGEST];
  crypto_generichash(d, DIGEST, key, len, l->secret, sizeof l->secret);
  pthread_mutex_lock(&l->lock);
  node **p = find(l, d);
  node *b = *p;
  if (b) refill(l, b, now);
  else {
    if (l->n >= l->max) {
      make_room(l, now);
      p = find(l, d);
    }
    b = malloc(sizeof *b);
    if (!b) { /* out of memory: refuse, as a full table of hostile keys would */
      pthread_mutex_unlock(&l->lock);
      if (st) *st = (ce_limit_state){l->size, 0, 1, 1};
      return 0;
    }
    memcpy(b->digest, d, DIGEST);
    b->tokens = l->size;
    b->stamp = now;
    b->next = NULL;
    *p = b;
    l->n++;
  }
  int ok = b->tokens >= 1;
  if (ok) b->tokens -= 1;
  fill_state(l, b, st);
  pthread_mutex_unlock(&l->lock);
  return ok;
}

void ce_limit_give(ce_limit *l, const void *key, size_t len, double now) {
  if (l->size <= 0) return;
  unsigned char d[DIGEST];
  crypto_generichash(d, DIGEST, key, len, l->secret, sizeof l->secret);
  pthread_mutex_lock(&l->lock);
  node *b = *find(l, d);
  if (b) {
    refill(l, b, now);
    b->tokens = fmin(l->size, b->tokens + 1);
  }
  pthread_mutex_unlock(&l->lock);
}

size_t ce_limit_size(ce_limit *l) {
  pthread_mutex_lock(&l->lock);
  size_t n = l->n;
  pthread_mutex_unlock(&l->lock);
  return n;
}

void ce_limit_free(ce_limit *l) {
  if (!l) return;
  for (size_t i = 0; i <= l->mask; i++)
    for (node *b = l->chains[i], *next; b; b = next) {
      next = b->next;
      free(b);
    }
  free(l->chains);
  pthread_mutex_destroy(&l->lock);
  sodium_memzero(l->secret, sizeof l->secret);
  free(l);
}
