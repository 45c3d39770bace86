/* SPDX-License-Identifier: MIT */
#include "core/util/json_pick.h"

#include <string.h>

/* Where the parser is, as sets of paths (bit k: paths[k]): under[d] holds
 * the paths whose first d steps lead to the container open at depth d (or,
 * past a key, to that key's value). Deeper than any path, every set is
 * empty, and an object's keys there are skipped unread. */
#define LEVELS (CE_PICK_MAX_STEPS + 2)

typedef struct {
  const ce_pick_path *paths;
  int npaths;
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
  for (int k = 0; k < pk->npaths; k++)
    if ((from >> k & 1u) && pk->paths[k].n > d && !pk->paths[k].steps[d].key && pk->paths[k].steps[d].index == i)
      m |= 1u << k;
  return m;
}

static uint32_t by_key(const picker *pk, int d, uint32_t from, const char *s, size_t n) {
  uint32_t m = 0;
  for (int k = 0; k < pk->npaths; k++) {
    const ce_pick_step *st = &pk->paths[k].steps[d];
    if ((from >> k & 1u) && pk->paths[k].n > d && st->key && st->len == n && memcmp(st->key, s, n) == 0)
      m |= 1u << k;
  }
  return m;
}

/* a value starts at the current depth: the paths it ends */
static uint32_t value_here(picker *pk) {
  int d = pk->depth;
  if (d == 0 || d >= LEVELS) return 0;
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
  for (int k = 0; k < pk->npaths; k++)
    if (m >> k & 1u) pk->out[k].kind = CE_PICKED_NONE;
  return 0;
}

static const ce_json_handler HANDLER = {
  on_null, on_bool, on_int, on_num, on_str, on_begin_array, on_end, on_begin_object, on_key, on_end,
};

int ce_json_pick(const char *text, size_t len, const char *name, const ce_pick_path *paths, int npaths,
                 ce_picked *out, ce_buf *strings, ce_buf *scratch, ce_err *err) {
  picker pk;
  memset(&pk, 0, sizeof pk);
  pk.paths = paths;
  pk.npaths = npaths;
  pk.out = out;
  pk.strings = strings;
  for (int k = 0; k < npaths; k++) {
    out[k] = (ce_picked){CE_PICKED_NONE, 0, 0, 0, 0, 0};
    pk.under[0] |= 1u << k;
    if (paths[k].n < LEVELS) pk.ends[paths[k].n] |= 1u << k;
  }
  return ce_json_parse(text, len, name, 500, &HANDLER, &pk, scratch, err);
}
