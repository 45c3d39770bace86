/* SPDX-License-Identifier: MIT */
#include "check.h"
#include "core/stats/philox.h"
#include "core/util/pool.h"

#include <stdint.h>
#include <stdlib.h>

#define SLOTS 2000

typedef struct {
  unsigned char *p;
  size_t n;
  unsigned char tag;
} slot;

static size_t rounded(size_t n) { return n <= CE_POOL_MAX_SMALL ? (n + 15) / 16 * 16 : 0; }

static int intact(const slot *s) {
  for (size_t i = 0; i < s->n; i++)
    if (s->p[i] != (unsigned char)(s->tag + i)) return 0;
  return 1;
}

static void fill(slot *s) {
  for (size_t i = 0; i < s->n; i++) s->p[i] = (unsigned char)(s->tag + i);
}

int main(void) {
  ce_pool *p = ce_pool_new();
  CHECK(p != NULL);
  int pooled = !ce_pool_passthrough();

  /* a freed small block is reused by its class; blocks are 16-byte aligned */
  void *a = ce_pool_realloc(p, NULL, 0, 40);
  void *b = ce_pool_realloc(p, NULL, 0, 48);
  CHECK(((uintptr_t)a & 15) == 0 && ((uintptr_t)b & 15) == 0);
  CHECK((char *)b >= (char *)a + 48 || (char *)a >= (char *)b + 48);
  CHECK(ce_pool_realloc(p, a, 40, 0) == NULL);
  void *c = ce_pool_realloc(p, NULL, 0, 33); /* 33..48: a's class */
  if (pooled) CHECK(c == a);
  /* a resize within the class stays in place; a larger one moves and keeps the bytes */
  memset(c, 0x5a, 33);
  void *d = ce_pool_realloc(p, c, 33, 48);
  if (pooled) CHECK(d == c);
  void *e = ce_pool_realloc(p, d, 48, 3000);
  CHECK(e != NULL);
  int same = 1;
  for (int i = 0; i < 33; i++) same &= ((unsigned char *)e)[i] == 0x5a;
  CHECK(same);
  e = ce_pool_realloc(p, e, 3000, 20); /* large back to small */
  CHECK(e != NULL && ((unsigned char *)e)[19] == 0x5a);
  ce_pool_realloc(p, e, 20, 0);
  ce_pool_realloc(p, b, 48, 0);
  ce_pool_stats st;
  ce_pool_get_stats(p, &st);
  CHECK(st.small_live == 0);
  if (pooled) CHECK(st.small_free + 16 >= 96 && st.chunk_bytes == 64 * 1024);

  /* random allocations, resizes and frees against a shadow copy: no block
   * overlaps another, content survives resizes, the counts add up */
  static slot s[SLOTS];
  ce_rng r;
  ce_rng_init(&r, 7, 0);
  int bad = 0;
  for (int step = 0; step < 400000; step++) {
    slot *x = &s[ce_rng_below(&r, SLOTS)];
    uint64_t op = ce_rng_below(&r, 10);
    /* mostly small sizes, as Lua's; some past the small limit */
    size_t n = op < 9 ? 1 + ce_rng_below(&r, CE_POOL_MAX_SMALL) : 1 + ce_rng_below(&r, 4000);
    if (!x->p) {
      x->p = ce_pool_realloc(p, NULL, 5 /* a type tag, as Lua passes */, n);
      x->n = n;
      x->tag = (unsigned char)step;
      fill(x);
    } else if (op < 4) {
      bad += !intact(x);
      ce_pool_realloc(p, x->p, x->n, 0);
      x->p = NULL;
    } else {
      bad += !intact(x);
      x->p = ce_pool_realloc(p, x->p, x->n, n);
      size_t keep = x->n < n ? x->n : n;
      x->n = keep;
      bad += !intact(x);
      x->n = n;
      fill(x);
    }
  }
  size_t live = 0;
  for (int i = 0; i < SLOTS; i++)
    if (s[i].p) {
      bad += !intact(&s[i]);
      live += rounded(s[i].n);
    }
  CHECK(bad == 0);
  ce_pool_get_stats(p, &st);
  if (pooled) {
    CHECK(st.small_live == live);
    CHECK(st.small_live + st.small_free <= st.chunk_bytes);
    /* the free lists and the chunks' tails account for all but the headers */
    CHECK(st.chunk_bytes - (st.small_live + st.small_free) < st.chunk_bytes / 64 * 2);
  }
  ce_pool_free(p); /* frees the small blocks still live; the large are malloc's */
  for (int i = 0; i < SLOTS; i++)
    if (s[i].p && (s[i].n > CE_POOL_MAX_SMALL || !pooled)) free(s[i].p);
  ce_pool_free(NULL);

  return check_report("pool");
}
