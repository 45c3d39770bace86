/* SPDX-License-Identifier: MIT */
#include "core/stats/philox.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

ce_philox_ctr ce_philox4x32_10(ce_philox_ctr c, ce_philox_key k) {
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(PHILOX_M0, c.v[0], &hi0);
    uint32_t lo1 = mulhilo(PHILOX_M1, c.v[2], &hi1);
    ce_philox_ctr n;
    n.v[0] = hi1 ^ c.v[1] ^ k.v[0];
    n.v[1] = lo1;
    n.v[2] = hi0 ^ c.v[3] ^ k.v[1];
    n.v[3] = lo0;
    c = n;
    k.v[0] += PHILOX_W0;
    k.v[1] += PHILOX_W1;
  }
  return c;
}

void ce_rng_init(ce_rng *r, uint64_t seed, uint32_t stream) {
  r->key.v[0] = (uint32_t)seed;
  r->key.v[1] = (uint32_t)(seed >> 32);
  r->ctr.v[0] = r->ctr.v[1] = r->ctr.v[2] = 0;
  r->ctr.v[3] = stream;
  r->used = 4;
}

uint32_t ce_rng_u32(ce_rng *r) {
  if (r->used == 4) {
    r->block = ce_philox4x32_10(r->ctr, r->key);
    if (++r->ctr.v[0] == 0 && ++r->ctr.v[1] == 0) ++r->ctr.v[2];
    r->used = 0;
  }
  return r->block.v[r->used++];
}

uint64_t ce_rng_u64(ce_rng *r) {
  uint64_t hi = ce_rng_u32(r);
  return (hi << 32) | ce_rng_u32(r);
}

double ce_rng_uniform(ce_rng *r) { return (double)(ce_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t ce_rng_below(ce_rng *r, uint64_t bound) {
  /* reject the top sliver so every residue is equally likely */
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = ce_rng_u64(r);
  while (x >= limit);
  return x % bound;
}

uint64_t ce_hash64_start(uint64_t seed) { return 0xcbf29ce484222325ull ^ seed; }

uint64_t ce_hash64_add(uint64_t h, const void *data, unsigned long len) {
  const unsigned char *p = data;
  for (unsigned long i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* FNV's multiply waits on the one before it; two texts hashed in one loop
 * overlap their multiplies, so the pair costs about as much as the longer */
void ce_hash64_add2(uint64_t *h1, const void *d1, unsigned long n1, uint64_t *h2, const void *d2, unsigned long n2) {
  const unsigned char *p = d1, *q = d2;
  uint64_t a = *h1, b = *h2;
  unsigned long both = n1 < n2 ? n1 : n2;
  for (unsigned long i = 0; i < both; i++) {
    a = (a ^ p[i]) * 0x100000001b3ull;
    b = (b ^ q[i]) * 0x100000001b3ull;
  }
  *h1 = ce_hash64_add(a, p + both, n1 - both);
  *h2 = ce_hash64_add(b, q + both, n2 - both);
}

uint64_t ce_hash64(const void *data, unsigned long len, uint64_t seed) {
  return ce_hash64_end(ce_hash64_add(ce_hash64_start(seed), data, len));
}

void ce_hash64_hex(uint64_t h, char out[16]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, h >>= 4) out[i] = digits[h & 15];
}

uint64_t ce_hash64_end(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}
