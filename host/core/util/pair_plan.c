/* SPDX-License-Identifier: MIT */
#include "core/util/pair_plan.h"

#include <pthread.h>
#include <stdlib.h>

/* hash -> first pair with a question of that hash; pair -> draw when not 0.
 * Open addressing; key 0 marks an empty slot, so keys are stored plus one
 * where they may be 0 (a pair index) or remapped (a hash of 0). */
typedef struct { uint64_t *keys; int64_t *vals; size_t cap, n; } u64map;

static uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return k;
}

static int64_t *map_slot(u64map *m, uint64_t key, int *found) {
  size_t i = (size_t)mix(key) & (m->cap - 1);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  *found = m->keys[i] == key;
  m->keys[i] = key;
  return &m->vals[i];
}

static int64_t map_get(const u64map *m, uint64_t key, int64_t missing) {
  if (!m->cap) return missing;
  size_t i = (size_t)mix(key) & (m->cap - 1);
  while (m->keys[i]) {
    if (m->keys[i] == key) return m->vals[i];
    i = (i + 1) & (m->cap - 1);
  }
  return missing;
}

static int map_grow(u64map *m) {
  if ((m->n + 1) * 2 <= m->cap) return 0;
  size_t cap = m->cap ? m->cap * 2 : 1024;
  u64map g = {calloc(cap, sizeof *g.keys), malloc(cap * sizeof *g.vals), cap, m->n};
  if (!g.keys || !g.vals) {
    free(g.keys);
    free(g.vals);
    return -1;
  }
  int found;
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i]) *map_slot(&g, m->keys[i], &found) = m->vals[i];
  free(m->keys);
  free(m->vals);
  *m = g;
  return 0;
}

/* keeps the smaller value: a hash belongs to the first pair that had it */
static int map_put_min(u64map *m, uint64_t key, int64_t v) {
  if (map_grow(m)) return -1;
  int found;
  int64_t *slot = map_slot(m, key, &found);
  if (!found) {
    *slot = v;
    m->n++;
  } else if (v < *slot) {
    *slot = v;
  }
  return 0;
}

/* A pair claimed or proposed ahead of the record: slot p % cap of a window
 * that holds pairs upto .. upto+cap-1, so a slot whose pair is below upto
 * is free. */
typedef struct {
  int64_t pair;
  uint64_t ka, kb;
  int state; /* CE_PLAN_CLAIMED, W_PROPOSED or CE_PLAN_FAILED */
} proposal;
enum { W_PROPOSED = 4 };

struct ce_plan {
  pthread_mutex_t lock;
  int64_t upto, redraws;
  u64map seen, drawn;
  proposal *win;
  size_t wcap;
};

static uint64_t hash_key(uint64_t h) { return h ? h : 0x9e3779b97f4a7c15ull; }

ce_plan *ce_plan_new(void) {
  ce_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return NULL;
  pthread_mutex_init(&pl->lock, NULL);
  return pl;
}

void ce_plan_free(void *p) {
  ce_plan *pl = p;
  if (!pl) return;
  free(pl->seen.keys);
  free(pl->seen.vals);
  free(pl->drawn.keys);
  free(pl->drawn.vals);
  free(pl->win);
  pthread_mutex_destroy(&pl->lock);
  free(pl);
}

int64_t ce_plan_upto(ce_plan *pl) {
  pthread_mutex_lock(&pl->lock);
  int64_t u = pl->upto;
  pthread_mutex_unlock(&pl->lock);
  return u;
}

int ce_plan_seen(ce_plan *pl, uint64_t h, int64_t p) {
  pthread_mutex_lock(&pl->lock);
  int64_t first = map_get(&pl->seen, hash_key(h), INT64_MAX);
  pthread_mutex_unlock(&pl->lock);
  return first < p;
}

static int accept_locked(ce_plan *pl, int64_t p, int64_t c, uint64_t ka, uint64_t kb) {
  if (p < pl->upto) return 0;
  if (p > pl->upto) return -2;
  if (map_put_min(&pl->seen, hash_key(ka), p) || map_put_min(&pl->seen, hash_key(kb), p) ||
      (c != 0 && map_put_min(&pl->drawn, (uint64_t)p + 1, c)))
    return -1;
  pl->upto = p + 1;
  if (c != 0) pl->redraws++;
  return 1;
}

int ce_plan_accept(ce_plan *pl, int64_t p, int64_t c, uint64_t ka, uint64_t kb) {
  pthread_mutex_lock(&pl->lock);
  int rc = accept_locked(pl, p, c, ka, kb);
  pthread_mutex_unlock(&pl->lock);
  return rc;
}

static proposal *slot_of(ce_plan *pl, int64_t p) {
  if (!pl->wcap || p < pl->upto || p - pl->upto >= (int64_t)pl->wcap) return NULL;
  proposal *e = &pl->win[(size_t)p & (pl->wcap - 1)];
  return e->pair == p ? e : NULL;
}

/* room in the window for pair p (p >= upto) */
static int window_fit(ce_plan *pl, int64_t p) {
  if (pl->wcap && p - pl->upto < (int64_t)pl->wcap) return 0;
  size_t cap = pl->wcap ? pl->wcap : 64;
  while ((int64_t)cap <= p - pl->upto) cap *= 2;
  proposal *w = malloc(cap * sizeof *w);
  if (!w) return -1;
  for (size_t i = 0; i < cap; i++) w[i].pair = -1;
  for (size_t i = 0; i < pl->wcap; i++)
    if (pl->win[i].pair >= pl->upto) w[(size_t)pl->win[i].pair & (cap - 1)] = pl->win[i];
  free(pl->win);
  pl->win = w;
  pl->wcap = cap;
  return 0;
}

int ce_plan_claim(ce_plan *pl, int64_t p) {
  int rc = 0;
  pthread_mutex_lock(&pl->lock);
  if (p >= pl->upto && !slot_of(pl, p)) {
    if (window_fit(pl, p)) {
      rc = -1;
    } else {
      pl->win[(size_t)p & (pl->wcap - 1)] = (proposal){p, 0, 0, CE_PLAN_CLAIMED};
      rc = 1;
    }
  }
  pthread_mutex_unlock(&pl->lock);
  return rc;
}

/* records the proposals that pass the check of draw 0 in order; the state
 * of the pair after them, or -1 (out of memory) */
static int advance_locked(ce_plan *pl) {
  for (;;) {
    proposal *e = slot_of(pl, pl->upto);
    if (!e) return CE_PLAN_OPEN;
    if (e->state != W_PROPOSED) return e->state;
    if (e->ka == e->kb || map_get(&pl->seen, hash_key(e->ka), -1) >= 0 || map_get(&pl->seen, hash_key(e->kb), -1) >= 0)
      return CE_PLAN_REJECTED;
    if (accept_locked(pl, pl->upto, 0, e->ka, e->kb) < 0) return -1;
  }
}

int ce_plan_propose(ce_plan *pl, int64_t p, int ok, uint64_t ka, uint64_t kb) {
  int rc = 0;
  pthread_mutex_lock(&pl->lock);
  proposal *e = slot_of(pl, p);
  if (e) {
    *e = (proposal){p, ka, kb, ok ? W_PROPOSED : CE_PLAN_FAILED};
    if (advance_locked(pl) < 0) rc = -1;
  }
  pthread_mutex_unlock(&pl->lock);
  return rc;
}

int64_t ce_plan_advance(ce_plan *pl, int *state) {
  pthread_mutex_lock(&pl->lock);
  int st = advance_locked(pl);
  int64_t u = pl->upto;
  pthread_mutex_unlock(&pl->lock);
  *state = st;
  return st < 0 ? -1 : u;
}

int64_t ce_plan_draw(ce_plan *pl, int64_t p) {
  pthread_mutex_lock(&pl->lock);
  int64_t c = p < 0 || p >= pl->upto ? -1 : map_get(&pl->drawn, (uint64_t)p + 1, 0);
  pthread_mutex_unlock(&pl->lock);
  return c;
}

int64_t ce_plan_redraws(ce_plan *pl) {
  pthread_mutex_lock(&pl->lock);
  int64_t r = pl->redraws;
  pthread_mutex_unlock(&pl->lock);
  return r;
}
