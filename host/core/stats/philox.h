/* SPDX-License-Identifier: MIT */
/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011): a counter-based generator. The n-th block of a stream is a pure
 * function of (key, counter), so any thread, process or GPU kernel computes
 * the same numbers for the same seed without sharing state, and question i of
 * a benchmark can be generated without generating questions 0..i-1. */
#ifndef CE_PHILOX_H
#define CE_PHILOX_H

#include <stdint.h>

typedef struct { uint32_t v[4]; } ce_philox_ctr;
typedef struct { uint32_t v[2]; } ce_philox_key;

/* Ten rounds of the Philox4x32 bijection: out = philox(key, ctr). */
ce_philox_ctr ce_philox4x32_10(ce_philox_ctr ctr, ce_philox_key key);

/* A stream: fixed key, counter advancing block by block, four words a block. */
typedef struct {
  ce_philox_key key;
  ce_philox_ctr ctr;
  ce_philox_ctr block;
  int used; /* words of block already handed out (4: none left) */
} ce_rng;

/* key from a 64-bit seed; the stream index goes in the counter's top word so
 * streams of one seed never overlap. */
void ce_rng_init(ce_rng *r, uint64_t seed, uint32_t stream);
uint32_t ce_rng_u32(ce_rng *r);
uint64_t ce_rng_u64(ce_rng *r);
double ce_rng_uniform(ce_rng *r);                 /* [0, 1), 53 random bits */
uint64_t ce_rng_below(ce_rng *r, uint64_t bound); /* uniform in [0, bound), no bias; bound > 0 */

/* Stable 64-bit hash of bytes (FNV-1a, then a splitmix64 finaliser), for
 * question ids and seeds derived from names. */
uint64_t ce_hash64(const void *data, unsigned long len, uint64_t seed);
/* ce_hash64 of a text given in pieces, without joining them:
 * h = ce_hash64_start(seed); h = ce_hash64_add(h, piece, len)...;
 * ce_hash64_end(h) */
uint64_t ce_hash64_start(uint64_t seed);
uint64_t ce_hash64_add(uint64_t h, const void *data, unsigned long len);
uint64_t ce_hash64_end(uint64_t h);
/* *h1 = ce_hash64_add(*h1, d1, n1) and *h2 = ce_hash64_add(*h2, d2, n2),
 * in about the time of the longer one alone */
void ce_hash64_add2(uint64_t *h1, const void *d1, unsigned long n1, uint64_t *h2, const void *d2, unsigned long n2);
/* h as rng.hex writes it: 16 lowercase hex digits, no terminator */
void ce_hash64_hex(uint64_t h, char out[16]);

#endif
