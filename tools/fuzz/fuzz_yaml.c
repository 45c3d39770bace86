/* SPDX-License-Identifier: MIT */
/* libFuzzer target for host/core/yaml_tree: parses the input, then walks every
 * distinct node of the tree and checks the invariants bindings rely on. Aliases
 * make the tree a DAG, so the walk visits each node once (a pointer set) and
 * recurses at most root->height levels, which the loader bounds by max_depth.
 * Any broken invariant traps, which libFuzzer reports as a crash.
 * Build and run: tools/fuzz/run.sh SECONDS */
#include "core/util/yaml_tree.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

/* ---- a set of visited nodes ---- */

typedef struct { const ce_yaml_node **slots; size_t cap, n; } ptrset;

static size_t ptr_hash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (size_t)x;
}

/* 1 if p was added, 0 if it was there already. */
static int ptrset_add(ptrset *s, const ce_yaml_node *p) {
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    const ce_yaml_node **slots = calloc(cap, sizeof *slots);
    REQUIRE(slots);
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->slots[i]) continue;
      size_t j = ptr_hash(s->slots[i]) & (cap - 1);
      while (slots[j]) j = (j + 1) & (cap - 1);
      slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  size_t j = ptr_hash(p) & (s->cap - 1);
  while (s->slots[j]) {
    if (s->slots[j] == p) return 0;
    j = (j + 1) & (s->cap - 1);
  }
  s->slots[j] = p;
  s->n++;
  return 1;
}

/* ---- key equality as Lua stores keys ---- */

static int key_as_int(const ce_yaml_node *k, int64_t *iv) {
  if (k->kind == CE_YAML_INT) { *iv = k->u.i; return 1; }
  if (k->kind == CE_YAML_FLOAT && k->u.f == floor(k->u.f) && k->u.f >= -9223372036854775808.0 &&
      k->u.f < 9223372036854775808.0) {
    *iv = (int64_t)k->u.f;
    return 1;
  }
  return 0;
}

static int same_key(const ce_yaml_node *a, const ce_yaml_node *b) {
  int64_t ia, ib;
  int na = key_as_int(a, &ia), nb = key_as_int(b, &ib);
  if (na || nb) return na && nb && ia == ib;
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
    case CE_YAML_BOOL: return a->u.b == b->u.b;
    case CE_YAML_FLOAT: return a->u.f == b->u.f;
    case CE_YAML_STR:
      return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    default: return 0;
  }
}

/* ---- the walk ---- */

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

static volatile uint64_t sink; /* keeps reads of scalar values from being optimized out */

static void walk(const ce_yaml_node *n, unsigned level, unsigned limit, ptrset *seen) {
  REQUIRE(n);
  REQUIRE(level <= limit);              /* recursion is bounded by the root's height */
  REQUIRE(n->line >= 1 && n->col >= 1);
  REQUIRE(!n->open);
  REQUIRE(n->height >= 1 && level + n->height - 1 <= limit);
  if (!ptrset_add(seen, n)) return;     /* shared by an alias: checked already */
  switch (n->kind) {
    case CE_YAML_NULL: REQUIRE(n->height == 1 && n->expanded == 1); return;
    case CE_YAML_BOOL: REQUIRE(n->u.b == 0 || n->u.b == 1); sink += (uint64_t)n->u.b; break;
    case CE_YAML_INT: sink += (uint64_t)n->u.i; break;
    case CE_YAML_FLOAT: sink += (uint64_t)isnan(n->u.f); break;
    case CE_YAML_STR:
      REQUIRE(n->u.str.s && n->u.str.s[n->u.str.len] == '\0');
      if (n->u.str.len) sink += (unsigned char)n->u.str.s[n->u.str.len - 1];
      break;
    case CE_YAML_SEQ:
    case CE_YAML_MAP: {
      REQUIRE(n->u.seq.n == 0 || n->u.seq.items);
      REQUIRE(n->u.seq.n <= n->cap || n->u.seq.n == 0);
      uint64_t expanded = 1;
      unsigned h = 0;
      for (size_t i = 0; i < n->u.seq.n; i++) {
        const ce_yaml_node *c = n->u.seq.items[i];
        walk(c, level + 1, limit, seen);
        expanded = sat_add(expanded, c->expanded);
        if (c->height > h) h = c->height;
      }
      REQUIRE(n->expanded == expanded);
      REQUIRE(n->height == h + 1);
      if (n->kind == CE_YAML_MAP) {
        REQUIRE(n->u.seq.n % 2 == 0);
        for (size_t i = 0; i < n->u.seq.n; i += 2) {
          const ce_yaml_node *k = n->u.seq.items[i];
          REQUIRE(k->kind != CE_YAML_SEQ && k->kind != CE_YAML_MAP && k->kind != CE_YAML_NULL);
          REQUIRE(!(k->kind == CE_YAML_FLOAT && isnan(k->u.f)));
          REQUIRE(!k->merge);           /* merge keys are applied, never left behind */
        }
        if (n->u.seq.n <= 2 * 64) {     /* quadratic, so only on small mappings */
          for (size_t i = 0; i < n->u.seq.n; i += 2)
            for (size_t j = i + 2; j < n->u.seq.n; j += 2)
              REQUIRE(!same_key(n->u.seq.items[i], n->u.seq.items[j]));
        }
      }
      return;
    }
    default: REQUIRE(0);
  }
  REQUIRE(n->height == 1 && n->expanded == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ce_yaml_limits lim = {0};
  ce_err err;
  ce_yaml_stream *s = ce_yaml_parse((const char *)data, size, "fuzz", &lim, &err);
  if (!s) {
    REQUIRE(err.code >= CE_YAML_ESYNTAX && err.code <= CE_YAML_ENOMEM);
    REQUIRE(strncmp(err.msg, "fuzz:", 5) == 0);
    REQUIRE(memchr(err.msg, '\0', sizeof err.msg) != NULL);
    return 0;
  }
  REQUIRE(err.code == 0);
  ptrset seen = {0};
  uint64_t total = 0;
  for (size_t i = 0; i < ce_yaml_ndocs(s); i++) {
    const ce_yaml_node *d = ce_yaml_doc(s, i);
    REQUIRE(d && d->height <= CE_YAML_DEFAULT_MAX_DEPTH);
    walk(d, 1, d->height, &seen);
    total = sat_add(total, d->expanded);
  }
  REQUIRE(ce_yaml_doc(s, ce_yaml_ndocs(s)) == NULL);
  /* the expansion bound covers the stream; merges are accounted conservatively */
  REQUIRE(total <= CE_YAML_DEFAULT_MAX_NODES);
  free(seen.slots);
  ce_yaml_free(s);

  /* the scalar resolver on its own, as `--set k=v` uses it */
  ce_yaml_node n;
  size_t len = size < 200 ? size : 200;
  if (ce_yaml_resolve_plain((const char *)data, len, &n) == 0 && n.kind == CE_YAML_STR)
    REQUIRE(n.u.str.s == (const char *)data && n.u.str.len == len);
  return 0;
}
