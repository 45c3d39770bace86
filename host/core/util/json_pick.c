/* SPDX-License-Identifier: MIT */
#include "core/util/json_pick.h"

#include <string.h>

/* Where the parser is, as sets of paths (bit k: paths[k]): under[d] holds
 * the paths whose first d steps lead to the container open at depth d (or,
 * past a key, to that key's value). Deeper than any path, every set is
 * empty, and an object's keys there are skipped unread. */
#define LEVELS (CE_PICK_MAX_STEPS + 2)

typedef struct {
  const ce_pick_set *set;
  ce_picked *out;
  ce_buf *strings;
  int depth;                 /* containers open */
  uint32_t under[LEVELS];    /* paths matched down to the value read next at depth d */
  char is_array[LEVELS];
  int64_t index[LEVELS];     /* items read so far of an array open at depth d */
  uint32_t ends[LEVELS];     /* paths of exactly d steps */
} picker;

/* the paths of the level below whose next step is item i of the array */
static uint32_t by_index(const picker *pk, int d, uint32_t from, int64_t i) {
  uint32_t m = 0;
  for (uint32_t left = from; left; left &= left - 1) {
    int k = __builtin_ctz(left);
    const ce_pick_path *pp = &pk->set->paths[k];
    if (pp->n > d && !pp->steps[d].key && pp->steps[d].index == i) m |= 1u << k;
  }
  return m;
}

static uint64_t word_of(const char *s, size_t n) {
  uint64_t w = 0;
  memcpy(&w, s, n < 8 ? n : 8);
  return w;
}

/* the last 8 bytes of a key longer than 8 (what tells "answer_type" from
 * "answer_text" without a memcmp) */
static uint64_t tail_of(const char *s, size_t n) {
  uint64_t w = 0;
  if (n > 8) memcpy(&w, s + n - 8, 8);
  return w;
}

static unsigned slot_of(uint64_t w, uint64_t t, size_t n) {
  return (unsigned)(((w ^ (t * 0xff51afd7ed558ccdull) ^ n) * 0x9e3779b97f4a7c15ull) >> 58);
}

/* the paths of set whose first step is key s: one probe of the index for
 * any key (the keys of a question line are mostly longer than 8 bytes, and
 * comparing each with every such path was a fifth of reading the line) */
static uint32_t by_first_key(const ce_pick_set *set, const char *s, size_t n) {
  if (n == 0) return set->empty_first;
  uint64_t w = word_of(s, n), t = tail_of(s, n);
  for (unsigned i = slot_of(w, t, n);; i = (i + 1) & 63) {
    if (!set->first[i].mask) return 0;
    if (set->first[i].word == w && set->first[i].len == n && set->first[i].tail == t &&
        (n <= 16 || memcmp(set->first[i].key + 8, s + 8, n - 16) == 0))
      return set->first[i].mask;
  }
}

/* ... whose next step is key s */
static uint32_t by_key(const picker *pk, int d, uint32_t from, const char *s, size_t n) {
  if (d == 0) return by_first_key(pk->set, s, n) & from;
  uint32_t m = 0;
  uint64_t w = n && n <= 8 ? word_of(s, n) : 0;
  for (uint32_t left = from; left; left &= left - 1) {
    int k = __builtin_ctz(left);
    const ce_pick_path *pp = &pk->set->paths[k];
    if (pp->n <= d) continue;
    const ce_pick_step *st = &pp->steps[d];
    if (st->key && st->len == n && (n && n <= 8 ? st->word == w : memcmp(st->key, s, n) == 0)) m |= 1u << k;
  }
  return m;
}

void ce_pick_prepare(ce_pick_set *set) {
  memset(set->first, 0, sizeof set->first);
  set->empty_first = 0;
  for (int k = 0; k < set->npaths; k++) {
    ce_pick_path *path = &set->paths[k];
    for (int i = 0; i < path->n; i++) {
      ce_pick_step *st = &path->steps[i];
      st->word = st->key && st->len <= 8 ? word_of(st->key, st->len) : 0;
    }
    if (path->n == 0) continue;
    const ce_pick_step *st = &path->steps[0];
    if (!st->key) continue; /* an array index: no key matches it */
    if (st->len == 0) {
      set->empty_first |= 1u << k;
      continue;
    }
    /* at most CE_PICK_MAX_PATHS (32) keys in 64 slots: a probe ends */
    uint64_t w = word_of(st->key, st->len), t = tail_of(st->key, st->len);
    unsigned i = slot_of(w, t, st->len);
    while (set->first[i].mask && !(set->first[i].word == w && set->first[i].tail == t && set->first[i].len == st->len &&
                                   (st->len <= 16 || memcmp(set->first[i].key + 8, st->key + 8, st->len - 16) == 0)))
      i = (i + 1) & 63;
    set->first[i].word = w;
    set->first[i].tail = t;
    set->first[i].key = st->key;
    set->first[i].len = (uint32_t)st->len;
    set->first[i].mask |= 1u << k;
  }
}

/* a value starts at the current depth: the paths it ends */
static uint32_t value_here(picker *pk) {
  int d = pk->depth;
  if (d == 0) return pk->under[0] & pk->ends[0]; /* the document itself */
  if (d >= LEVELS) return 0;
  if (pk->is_array[d - 1]) {
    pk->index[d - 1]++;
    pk->under[d] = by_index(pk, d - 1, pk->under[d - 1], pk->index[d - 1]);
  }
  return pk->under[d] & pk->ends[d];
}

static void set_all(picker *pk, uint32_t hit, ce_picked v) {
  for (int k = 0; hit; k++, hit >>= 1)
    if (hit & 1u) pk->out[k] = v;
}

static int on_null(void *ud) {
  picker *pk = ud;
  set_all(pk, value_here(pk), (ce_picked){CE_PICKED_NULL, 0, 0, 0, 0, 0});
  return 0;
}
static int on_bool(void *ud, int v) {
  picker *pk = ud;
  set_all(pk, value_here(pk), (ce_picked){CE_PICKED_BOOL, v, 0, 0, 0, 0});
  return 0;
}
static int on_int(void *ud, int64_t v) {
  picker *pk = ud;
  set_all(pk, value_here(pk), (ce_picked){CE_PICKED_INT, 0, v, 0, 0, 0});
  return 0;
}
static int on_num(void *ud, double v) {
  picker *pk = ud;
  set_all(pk, value_here(pk), (ce_picked){CE_PICKED_NUM, 0, 0, v, 0, 0});
  return 0;
}
static int on_str(void *ud, const char *s, size_t n) {
  picker *pk = ud;
  uint32_t hit = value_here(pk);
  if (!hit) return 0;
  size_t off = pk->strings->len;
  ce_buf_add(pk->strings, s, n); /* s lives only through this call */
  if (pk->strings->oom) return 1;
  set_all(pk, hit, (ce_picked){CE_PICKED_STR, 0, 0, 0, off, n});
  return 0;
}
static int open_level(picker *pk, int array) {
  set_all(pk, value_here(pk), (ce_picked){CE_PICKED_CONTAINER, 0, 0, 0, 0, 0});
  int d = ++pk->depth;
  if (d < LEVELS) {
    pk->is_array[d - 1] = (char)array;
    pk->index[d - 1] = 0;
  }
  return 0;
}
static int on_begin_array(void *ud) { return open_level(ud, 1); }
static int on_begin_object(void *ud) { return open_level(ud, 0); }
static int on_end(void *ud) {
  ((picker *)ud)->depth--;
  return 0;
}
static int on_key(void *ud, const char *s, size_t n) {
  picker *pk = ud;
  int d = pk->depth;
  uint32_t m = d < LEVELS ? by_key(pk, d - 1, pk->under[d - 1], s, n) : 0;
  if (!m) return CE_JSON_SKIP; /* no path goes through this key */
  pk->under[d] = m;
  /* a key given again replaces its value: what was found under the first
   * is forgotten */
  for (uint32_t left = m; left; left &= left - 1) pk->out[__builtin_ctz(left)].kind = CE_PICKED_NONE;
  return 0;
}

static const ce_json_handler HANDLER = {
  on_null, on_bool, on_int, on_num, on_str, on_begin_array, on_end, on_begin_object, on_key, on_end,
};

int ce_json_pick(const char *text, size_t len, const char *name, const ce_pick_set *set, ce_picked *out,
                 ce_buf *strings, ce_buf *scratch, ce_err *err) {
  picker pk;
  memset(&pk, 0, sizeof pk);
  pk.set = set;
  pk.out = out;
  pk.strings = strings;
  for (int k = 0; k < set->npaths; k++) {
    out[k] = (ce_picked){CE_PICKED_NONE, 0, 0, 0, 0, 0};
    pk.under[0] |= 1u << k;
    pk.ends[set->paths[k].n] |= 1u << k;
  }
  return ce_json_parse(text, len, name, 500, &HANDLER, &pk, scratch, err);
}
