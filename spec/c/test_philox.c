/* SPDX-License-Identifier: MIT */
#include "check.h"
#include "core/stats/philox.h"

static int kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
               uint32_t r0, uint32_t r1, uint32_t r2, uint32_t r3) {
  ce_philox_ctr c = {{c0, c1, c2, c3}};
  ce_philox_key k = {{k0, k1}};
  ce_philox_ctr o = ce_philox4x32_10(c, k);
  return o.v[0] == r0 && o.v[1] == r1 && o.v[2] == r2 && o.v[3] == r3;
}

int main(void) {
  /* Random123 known-answer vectors (tests/kat_vectors, philox4x32 10) */
  CHECK(kat(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8));
  CHECK(kat(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
            0x41c83b0e, 0xa20bc7c6, 0x6d5451fd));
  CHECK(kat(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
            0x94fdcceb, 0x5001e420, 0x24126ea1));

  /* a stream hands out the blocks in counter order */
  ce_rng r;
  ce_rng_init(&r, 0, 0);
  CHECK(ce_rng_u32(&r) == 0x6627e8d5);
  CHECK(ce_rng_u32(&r) == 0xe169c58d);
  CHECK(ce_rng_u32(&r) == 0xbc57ac4c);
  CHECK(ce_rng_u32(&r) == 0x9b00dbd8);

  /* uniform in [0, 1), bounded integers without bias, streams differ */
  ce_rng_init(&r, 42, 7);
  double sum = 0;
  int counts[6] = {0};
  for (int i = 0; i < 60000; i++) {
    double u = ce_rng_uniform(&r);
    CHECK(u >= 0.0 && u < 1.0);
    sum += u;
    counts[ce_rng_below(&r, 6)]++;
  }
  CHECK(sum / 60000 > 0.49 && sum / 60000 < 0.51);
  for (int i = 0; i < 6; i++) CHECK(counts[i] > 9500 && counts[i] < 10500);
  ce_rng a, b;
  ce_rng_init(&a, 42, 0);
  ce_rng_init(&b, 42, 1);
  CHECK(ce_rng_u64(&a) != ce_rng_u64(&b));

  /* hashes are stable (ids depend on them) */
  CHECK(ce_hash64("", 0, 0) == ce_hash64("", 0, 0));
  CHECK(ce_hash64("abc", 3, 0) != ce_hash64("abd", 3, 0));
  CHECK(ce_hash64("abc", 3, 0) != ce_hash64("abc", 3, 1));
  /* two texts hashed side by side: each as if alone, whichever is longer */
  {
    char t1[300], t2[300];
    for (int i = 0; i < 300; i++) t1[i] = (char)(i * 7 + 1), t2[i] = (char)(i * 13 + 5);
    const unsigned long lens[][2] = {{0, 0}, {0, 5}, {5, 0}, {1, 1}, {299, 17}, {17, 299}, {300, 300}};
    for (int k = 0; k < 7; k++) {
      uint64_t a = ce_hash64_start(3), b = ce_hash64_start(0);
      ce_hash64_add2(&a, t1, lens[k][0], &b, t2, lens[k][1]);
      CHECK(a == ce_hash64_add(ce_hash64_start(3), t1, lens[k][0]));
      CHECK(b == ce_hash64_add(ce_hash64_start(0), t2, lens[k][1]));
    }
  }
  return check_report("test_philox");
}
