/* SPDX-License-Identifier: MIT */
/* Token buckets by key, shared by threads: "N per minute" for each user,
 * remote address or API token. A bucket holds up to per_minute tokens and
 * refills at per_minute/60 a second. A key without a bucket counts as a full
 * one, so buckets that have refilled are dropped when room is needed and the
 * table stays within max_keys whatever keys a client invents. Keys are
 * hashed with a secret key of the table's own, so a client cannot aim many
 * keys at one chain. */
#ifndef CE_AUTH_LIMIT_H
#define CE_AUTH_LIMIT_H

#include <stddef.h>

typedef struct ce_limit ce_limit;

typedef struct {
  double limit;       /* per_minute: the bucket's size */
  double remaining;   /* whole tokens left after this call */
  double retry_after; /* refused: seconds until a token is back */
  double reset;       /* seconds until the bucket is full again */
} ce_limit_state;

/* per_minute <= 0: no limit (every take succeeds). NULL when out of memory. */
ce_limit *ce_limit_new(double per_minute, size_t max_keys);
/* Takes one token from key's bucket at time now (seconds, monotonic).
 * 1: taken; 0: refused (st->retry_after says how long to wait). st may be NULL. */
int ce_limit_take(ce_limit *l, const void *key, size_t len, double now, ce_limit_state *st);
/* Gives back the token a take took (a login that turned out right). */
void ce_limit_give(ce_limit *l, const void *key, size_t len, double now);
size_t ce_limit_size(ce_limit *l); /* buckets held */
void ce_limit_free(ce_limit *l);   /* NULL-safe */

#endif
