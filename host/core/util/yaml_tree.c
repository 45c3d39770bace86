/* SPDX-License-Identifier: MIT */
/* YAML event stream -> node tree. All memory lives in one arena per stream, so a
 * failure anywhere is cleaned up by freeing the arena, and aliases can point at
 * shared nodes without ownership questions. */
#include "core/util/yaml_tree.h"

#include <yaml.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- arena ---- */

typedef struct block { struct block *next; size_t used, size; max_align_t data[]; } block;
typedef struct { block *head; } arena;

static void *arena_alloc(arena *a, size_t n) {
  n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
  block *b = a->head;
  if (!b || b->size - b->used < n) {
    size_t size = n > 65536 ? n : 65536;
    b = malloc(sizeof *b + size);
    if (!b) return NULL;
    b->size = size;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  return p;
}

static void arena_free(arena *a) {
  block *b = a->head;
  while (b) { block *n = b->next; free(b); b = n; }
  a->head = NULL;
}

/* ---- stream ---- */

struct ce_yaml_stream {
  arena a;
  ce_yaml_node **docs;
  size_t ndocs, cap;
};

size_t ce_yaml_ndocs(const ce_yaml_stream *s) { return s ? s->ndocs : 0; }

const ce_yaml_node *ce_yaml_doc(const ce_yaml_stream *s, size_t i) {
  return (s && i < s->ndocs) ? s->docs[i] : NULL;
}

void ce_yaml_free(ce_yaml_stream *s) {
  if (!s) return;
  arena_free(&s->a);
  free(s->docs);
  free(s);
}

/* ---- scalar resolution (YAML 1.2 core schema) ---- */

static int all_in(const char *s, size_t n, const char *set) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr(set, s[i]) || s[i] == '\0') return 0;
  return 1;
}

static int is_word(const char *s, size_t n, const char *const *words) {
  for (; *words; words++)
    if (strlen(*words) == n && memcmp(*words, s, n) == 0) return 1;
  return 0;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float_syntax(const char *s, size_t n) {
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') { i++; digits++; }
  if (i < n && s[i] == '.') {
    i++;
    size_t frac = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') { i++; frac++; }
    if (digits == 0 && frac == 0) return 0;
  } else if (digits == 0) {
    return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') { i++; e++; }
    if (e == 0) return 0;
  }
  return i == n;
}

/* Parses digits in base into int64 with sign; -1 on overflow. */
static int parse_int(const char *s, size_t n, int base, int neg, int64_t *out) {
  uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (size_t i = 0; i < n; i++) {
    int d = (s[i] >= '0' && s[i] <= '9') ? s[i] - '0'
          : (s[i] >= 'a' && s[i] <= 'f') ? s[i] - 'a' + 10
          : s[i] - 'A' + 10;
    if (v > (limit - (uint64_t)d) / (uint64_t)base) return -1;
    v = v * (uint64_t)base + (uint64_t)d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

int ce_yaml_resolve_plain(const char *s, size_t n, ce_yaml_node *out) {
  static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
  static const char *const trues[] = {"true", "True", "TRUE", NULL};
  static const char *const falses[] = {"false", "False", "FALSE", NULL};
  static const char *const infs[] = {".inf", ".Inf", ".INF", NULL};
  static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
  memset(&out->u, 0, sizeof out->u);
  if (n == 0 || is_word(s, n, nulls)) { out->kind = CE_YAML_NULL; return 0; }
  if (is_word(s, n, trues)) { out->kind = CE_YAML_BOOL; out->u.b = 1; return 0; }
  if (is_word(s, n, falses)) { out->kind = CE_YAML_BOOL; out->u.b = 0; return 0; }
  if (n > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, n - 2, "01234567")) {
    out->kind = CE_YAML_INT;
    return parse_int(s + 2, n - 2, 8, 0, &out->u.i);
  }
  if (n > 2 && s[0] == '0' && s[1] == 'x' && all_in(s + 2, n - 2, "0123456789abcdefABCDEF")) {
    out->kind = CE_YAML_INT;
    return parse_int(s + 2, n - 2, 16, 0, &out->u.i);
  }
  {
    size_t sign = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (all_in(s + sign, n - sign, "0123456789")) {
      out->kind = CE_YAML_INT;
      return parse_int(s + sign, n - sign, 10, s[0] == '-', &out->u.i);
    }
    if (is_word(s + sign, n - sign, infs)) {
      out->kind = CE_YAML_FLOAT;
      out->u.f = s[0] == '-' ? -INFINITY : INFINITY;
      return 0;
    }
  }
  if (is_word(s, n, nans)) { out->kind = CE_YAML_FLOAT; out->u.f = NAN; return 0; }
  if (is_float_syntax(s, n)) {
    /* strtod needs a terminated copy; long ones (many digits) go on the heap */
    char small[128], *buf = n < sizeof small ? small : malloc(n + 1);
    if (buf) {
      memcpy(buf, s, n);
      buf[n] = '\0';
      out->kind = CE_YAML_FLOAT;
      out->u.f = strtod(buf, NULL);
      if (buf != small) free(buf);
      return 0;
    }
  }
  out->kind = CE_YAML_STR;
  out->u.str.s = s;
  out->u.str.len = n;
  return 0;
}

/* ---- builder ---- */

/* Anchors live in an open-addressing table keyed by name. A slot belongs to the
 * current document only when its gen matches, so a new document empties the table
 * in O(1) however large an earlier one made it. */
typedef struct { const char *name; uint64_t hash, gen; ce_yaml_node *node; } anchor;

typedef struct {
  ce_yaml_stream *st;
  const char *name;
  ce_yaml_limits lim;
  ce_err *err;
  ce_yaml_node *stack[CE_YAML_DEFAULT_MAX_DEPTH * 4 + 2];
  unsigned depth;
  ce_yaml_node *root;
  uint64_t total;          /* expanded nodes so far, all documents together */
  size_t ndocs_seen;       /* documents started, for messages */
  anchor *anchors;         /* capanchors slots, a power of two */
  size_t nanchors, capanchors;
  uint64_t gen;            /* current document's anchor generation (slots with 0 are empty) */
  const char *text;        /* the input, to place reader errors */
  size_t len;
} builder;

static int fail(builder *b, int code, unsigned line, unsigned col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int fail(builder *b, int code, unsigned line, unsigned col, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ce_err_setf(b->err, code, b->name, line, col, "%s", msg);
  return -1;
}

static int nomem(builder *b) { return fail(b, CE_YAML_ENOMEM, 0, 0, "out of memory"); }

static ce_yaml_node *new_node(builder *b, ce_yaml_kind kind, yaml_mark_t m) {
  ce_yaml_node *n = arena_alloc(&b->st->a, sizeof *n);
  if (!n) return NULL;
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->line = (unsigned)m.line + 1;
  n->col = (unsigned)m.column + 1;
  n->expanded = 1;
  n->height = 1;
  return n;
}

static int push_item(builder *b, ce_yaml_node *c, ce_yaml_node *item) {
  if (c->u.seq.n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    ce_yaml_node **items = arena_alloc(&b->st->a, cap * sizeof *items);
    if (!items) return nomem(b);
    if (c->u.seq.n) memcpy(items, c->u.seq.items, c->u.seq.n * sizeof *items);
    c->u.seq.items = items;
    c->cap = cap;
  }
  c->u.seq.items[c->u.seq.n++] = item;
  return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

/* Counts a node into the document's expansion total and depth before it is
 * attached, so an alias bomb stops at the first alias over the bound. */
static int account(builder *b, const ce_yaml_node *n, uint64_t expanded, unsigned line,
                   unsigned col) {
  b->total = sat_add(b->total, expanded);
  if (b->total > b->lim.max_nodes)
    return fail(b, CE_YAML_ELIMIT, line, col,
                "%s to more than %llu nodes (alias expansion bound, max_nodes)",
                b->ndocs_seen > 1 ? "documents together expand" : "document expands",
                (unsigned long long)b->lim.max_nodes);
  if (b->depth + n->height > b->lim.max_depth)
    return fail(b, CE_YAML_ELIMIT, line, col,
                "document nested deeper than %u levels (max_depth)", b->lim.max_depth);
  return 0;
}

static int attach(builder *b, ce_yaml_node *n, unsigned line, unsigned col) {
  if (b->depth == 0) {
    if (b->root) return fail(b, CE_YAML_ESYNTAX, line, col, "more than one root node");
    b->root = n;
    return 0;
  }
  ce_yaml_node *parent = b->stack[b->depth - 1];
  if (parent->kind == CE_YAML_MAP && parent->u.seq.n % 2 == 0) {
    if (n->kind == CE_YAML_SEQ || n->kind == CE_YAML_MAP)
      return fail(b, CE_YAML_ESCHEMA, line, col, "mapping keys must be scalars");
    if (n->kind == CE_YAML_NULL)
      return fail(b, CE_YAML_ESCHEMA, line, col, "null mapping key is not supported");
    if (n->kind == CE_YAML_FLOAT && isnan(n->u.f))
      return fail(b, CE_YAML_ESCHEMA, line, col, "NaN mapping key is not supported");
  }
  return push_item(b, parent, n);
}

static const char *tag_suffix(const char *tag) {
  static const char prefix[] = "tag:yaml.org,2002:";
  if (tag && strncmp(tag, prefix, sizeof prefix - 1) == 0) return tag + sizeof prefix - 1;
  return NULL;
}

static int add_anchor(builder *b, const char *name, ce_yaml_node *n);

static int scalar_event(builder *b, const yaml_event_t *ev) {
  const char *val = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
  ce_yaml_node *n = new_node(b, CE_YAML_STR, ev->start_mark);
  if (!n) return nomem(b);
  char *copy = arena_alloc(&b->st->a, len + 1);
  if (!copy) return nomem(b);
  memcpy(copy, val, len);
  copy[len] = '\0';

  if (tag == NULL && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
    if (ce_yaml_resolve_plain(copy, len, n) != 0)
      return fail(b, CE_YAML_ESCHEMA, line, col, "integer %s does not fit in 64 bits", copy);
    if (len == 2 && memcmp(copy, "<<", 2) == 0) n->merge = 1;
  } else if (tag == NULL || strcmp(tag, "!") == 0) {
    n->kind = CE_YAML_STR;
    n->u.str.s = copy;
    n->u.str.len = len;
  } else {
    const char *t = tag_suffix(tag);
    if (t && strcmp(t, "str") == 0) {
      n->kind = CE_YAML_STR;
      n->u.str.s = copy;
      n->u.str.len = len;
    } else if (t && (!strcmp(t, "int") || !strcmp(t, "float") || !strcmp(t, "bool") ||
                     !strcmp(t, "null"))) {
      if (ce_yaml_resolve_plain(copy, len, n) != 0)
        return fail(b, CE_YAML_ESCHEMA, line, col, "integer %s does not fit in 64 bits", copy);
      int ok = (!strcmp(t, "int") && n->kind == CE_YAML_INT) ||
               (!strcmp(t, "float") && (n->kind == CE_YAML_FLOAT || n->kind == CE_YAML_INT)) ||
               (!strcmp(t, "bool") && n->kind == CE_YAML_BOOL) ||
               (!strcmp(t, "null") && n->kind == CE_YAML_NULL);
      if (!ok) return fail(b, CE_YAML_ESCHEMA, line, col, "'%.60s' is not a valid !!%s", copy, t);
      if (!strcmp(t, "float") && n->kind == CE_YAML_INT) {
        n->kind = CE_YAML_FLOAT;
        n->u.f = (double)n->u.i;
      }
    } else {
      return fail(b, CE_YAML_ESCHEMA, line, col, "unsupported tag %.100s", tag);
    }
  }
  if (account(b, n, 1, line, col)) return -1;
  if (attach(b, n, line, col)) return -1;
  return add_anchor(b, (const char *)ev->data.scalar.anchor, n);
}

static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
  return h;
}

/* The slot holding name in the current document, or the empty slot where it goes. */
static anchor *anchor_slot(builder *b, const char *name, uint64_t h) {
  size_t mask = b->capanchors - 1, i = (size_t)h & mask;
  while (b->anchors[i].gen == b->gen) {
    if (b->anchors[i].hash == h && strcmp(b->anchors[i].name, name) == 0) break;
    i = (i + 1) & mask;
  }
  return &b->anchors[i];
}

static int add_anchor(builder *b, const char *name, ce_yaml_node *n) {
  if (!name) return 0;
  if ((b->nanchors + 1) * 2 > b->capanchors) { /* keep the load under one half */
    size_t cap = b->capanchors ? b->capanchors * 2 : 16;
    anchor *old = b->anchors;
    size_t oldcap = b->capanchors;
    b->anchors = calloc(cap, sizeof *b->anchors);
    if (!b->anchors) { b->anchors = old; return nomem(b); }
    b->capanchors = cap;
    for (size_t i = 0; i < oldcap; i++)
      if (old[i].gen == b->gen) *anchor_slot(b, old[i].name, old[i].hash) = old[i];
    free(old);
  }
  uint64_t h = name_hash(name);
  anchor *a = anchor_slot(b, name, h);
  if (a->gen == b->gen) { a->node = n; return 0; } /* redefined: later aliases see this one */
  size_t len = strlen(name);
  char *copy = arena_alloc(&b->st->a, len + 1);
  if (!copy) return nomem(b);
  memcpy(copy, name, len + 1);
  a->name = copy;
  a->hash = h;
  a->gen = b->gen;
  a->node = n;
  b->nanchors++;
  return 0;
}

static ce_yaml_node *find_anchor(builder *b, const char *name) {
  if (b->nanchors == 0) return NULL;
  anchor *a = anchor_slot(b, name, name_hash(name));
  return a->gen == b->gen ? a->node : NULL;
}

static int alias_event(builder *b, const yaml_event_t *ev) {
  const char *name = (const char *)ev->data.alias.anchor;
  unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
  ce_yaml_node *t = find_anchor(b, name);
  if (!t) return fail(b, CE_YAML_ESCHEMA, line, col, "alias *%.100s names no anchor", name);
  if (t->open)
    return fail(b, CE_YAML_ESCHEMA, line, col, "alias *%.100s refers to its own enclosing node", name);
  if (account(b, t, t->expanded, line, col)) return -1;
  ce_yaml_node *parent = b->depth ? b->stack[b->depth - 1] : NULL;
  if (parent && parent->kind == CE_YAML_MAP && parent->u.seq.n % 2 == 0 &&
      t->kind != CE_YAML_SEQ && t->kind != CE_YAML_MAP) {
    /* a key written as an alias: a copy placed at the alias, so that duplicate-key
     * errors and marks point where the key is written, not at its anchor */
    ce_yaml_node *k = arena_alloc(&b->st->a, sizeof *k);
    if (!k) return nomem(b);
    *k = *t;
    k->line = line;
    k->col = col;
    t = k;
  }
  return attach(b, t, line, col);
}

static int start_container(builder *b, const yaml_event_t *ev, ce_yaml_kind kind) {
  const char *tag = (const char *)(kind == CE_YAML_SEQ ? ev->data.sequence_start.tag
                                                       : ev->data.mapping_start.tag);
  const char *anch = (const char *)(kind == CE_YAML_SEQ ? ev->data.sequence_start.anchor
                                                        : ev->data.mapping_start.anchor);
  unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
  if (tag && strcmp(tag, "!") != 0) {
    const char *t = tag_suffix(tag);
    if (!t || strcmp(t, kind == CE_YAML_SEQ ? "seq" : "map") != 0)
      return fail(b, CE_YAML_ESCHEMA, line, col, "unsupported tag %.100s", tag);
  }
  if (b->depth >= b->lim.max_depth)
    return fail(b, CE_YAML_ELIMIT, line, col, "document nested deeper than %u levels (max_depth)",
                b->lim.max_depth);
  ce_yaml_node *n = new_node(b, kind, ev->start_mark);
  if (!n) return nomem(b);
  n->open = 1;
  if (account(b, n, 1, line, col)) return -1;
  if (attach(b, n, line, col)) return -1;
  if (add_anchor(b, anch, n)) return -1;
  b->stack[b->depth++] = n;
  return 0;
}

/* ---- mapping keys: duplicate detection and merges ---- */

/* Keys that Lua would store in the same slot must be the same key: 1 and 1.0 collide. */
static int key_norm(const ce_yaml_node *k, int *kind, int64_t *iv, double *fv) {
  *kind = (int)k->kind;
  *iv = 0;
  *fv = 0;
  switch (k->kind) {
    case CE_YAML_BOOL: *iv = k->u.b; return 0;
    case CE_YAML_INT: *iv = k->u.i; return 0;
    case CE_YAML_FLOAT:
      /* the test lua_numbertointeger makes: integral and in [-2^63, 2^63) */
      if (k->u.f == floor(k->u.f) && k->u.f >= -9223372036854775808.0 &&
          k->u.f < 9223372036854775808.0) {
        *kind = CE_YAML_INT;
        *iv = (int64_t)k->u.f;
      } else {
        *fv = k->u.f;
      }
      return 0;
    default: return 0;
  }
}

static int key_eq(const ce_yaml_node *a, const ce_yaml_node *b) {
  int ka, kb;
  int64_t ia, ib;
  double fa, fb;
  key_norm(a, &ka, &ia, &fa);
  key_norm(b, &kb, &ib, &fb);
  if (ka != kb) return 0;
  if (ka == CE_YAML_STR)
    return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
  if (ka == CE_YAML_FLOAT) return fa == fb;
  return ia == ib;
}

static uint64_t key_hash(const ce_yaml_node *k) {
  int kind;
  int64_t iv;
  double fv;
  key_norm(k, &kind, &iv, &fv);
  uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
  const unsigned char *p;
  size_t n;
  if (kind == CE_YAML_STR) { p = (const unsigned char *)k->u.str.s; n = k->u.str.len; }
  else if (kind == CE_YAML_FLOAT) { p = (const unsigned char *)&fv; n = sizeof fv; }
  else { p = (const unsigned char *)&iv; n = sizeof iv; }
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
  return h;
}

typedef struct { const ce_yaml_node **slots; size_t mask; } keyset;

static int keyset_init(keyset *s, size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  s->slots = calloc(cap, sizeof *s->slots);
  s->mask = cap - 1;
  return s->slots ? 0 : -1;
}

/* 1 if inserted, 0 if an equal key was present (*dup set). */
static int keyset_add(keyset *s, const ce_yaml_node *k, const ce_yaml_node **dup) {
  size_t i = (size_t)key_hash(k) & s->mask;
  while (s->slots[i]) {
    if (key_eq(s->slots[i], k)) { *dup = s->slots[i]; return 0; }
    i = (i + 1) & s->mask;
  }
  s->slots[i] = k;
  return 1;
}

/* at is the "<<" key: the value may be an alias, whose node sits at its anchor. */
static int merge_source(builder *b, const ce_yaml_node *src, const ce_yaml_node *at) {
  if (src->kind != CE_YAML_MAP)
    return fail(b, CE_YAML_ESCHEMA, at->line, at->col,
                "merge key << expects a mapping or a sequence of mappings");
  return 0;
}

static int close_map(builder *b, ce_yaml_node *m) {
  size_t n = m->u.seq.n, merged_pairs = 0;
  int has_merge = 0;
  for (size_t i = 0; i < n; i += 2) {
    if (!m->u.seq.items[i]->merge) continue;
    has_merge = 1;
    const ce_yaml_node *v = m->u.seq.items[i + 1];
    if (v->kind == CE_YAML_SEQ) {
      for (size_t j = 0; j < v->u.seq.n; j++) {
        if (merge_source(b, v->u.seq.items[j], m->u.seq.items[i])) return -1;
        merged_pairs += v->u.seq.items[j]->u.seq.n / 2;
      }
    } else {
      if (merge_source(b, v, m->u.seq.items[i])) return -1;
      merged_pairs += v->u.seq.n / 2;
    }
  }
  keyset ks;
  if (keyset_init(&ks, n / 2 + merged_pairs)) return nomem(b);
  const ce_yaml_node *dup;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i += 2) {
    const ce_yaml_node *k = m->u.seq.items[i];
    if (k->merge) continue;
    if (!keyset_add(&ks, k, &dup)) {
      if (k->kind == CE_YAML_STR)
        rc = fail(b, CE_YAML_ESCHEMA, k->line, k->col, "duplicate key '%.100s' (first at line %u)",
                  k->u.str.s, dup->line);
      else
        rc = fail(b, CE_YAML_ESCHEMA, k->line, k->col, "duplicate key (first at line %u)",
                  dup->line);
    }
  }
  if (rc == 0 && has_merge) {
    /* explicit keys win over merged ones; among merged mappings the first wins */
    ce_yaml_node **old = m->u.seq.items;
    ce_yaml_node tmp = *m;
    tmp.u.seq.items = NULL;
    tmp.u.seq.n = 0;
    tmp.cap = 0;
    for (size_t i = 0; i < n && rc == 0; i += 2) {
      if (old[i]->merge) continue;
      if (push_item(b, &tmp, old[i]) || push_item(b, &tmp, old[i + 1])) rc = -1;
    }
    for (size_t i = 0; i < n && rc == 0; i += 2) {
      if (!old[i]->merge) continue;
      const ce_yaml_node *v = old[i + 1];
      size_t nsrc = v->kind == CE_YAML_SEQ ? v->u.seq.n : 1;
      for (size_t s = 0; s < nsrc && rc == 0; s++) {
        const ce_yaml_node *src = v->kind == CE_YAML_SEQ ? v->u.seq.items[s] : v;
        for (size_t j = 0; j < src->u.seq.n && rc == 0; j += 2) {
          if (!keyset_add(&ks, src->u.seq.items[j], &dup)) continue;
          if (push_item(b, &tmp, src->u.seq.items[j]) ||
              push_item(b, &tmp, src->u.seq.items[j + 1]))
            rc = -1;
          else if (account(b, src->u.seq.items[j + 1],
                           src->u.seq.items[j]->expanded + src->u.seq.items[j + 1]->expanded,
                           m->line, m->col))
            rc = -1;
        }
      }
    }
    m->u.seq.items = tmp.u.seq.items;
    m->u.seq.n = tmp.u.seq.n;
    m->cap = tmp.cap;
  }
  free(ks.slots);
  return rc;
}

static int end_container(builder *b) {
  ce_yaml_node *c = b->stack[--b->depth];
  if (c->kind == CE_YAML_MAP && close_map(b, c)) return -1;
  uint64_t total = 1;
  unsigned h = 0;
  for (size_t i = 0; i < c->u.seq.n; i++) {
    total = sat_add(total, c->u.seq.items[i]->expanded);
    if (c->u.seq.items[i]->height > h) h = c->u.seq.items[i]->height;
  }
  c->expanded = total;
  c->height = h + 1;
  c->open = 0;
  return 0;
}

static int add_doc(builder *b, ce_yaml_node *root) {
  ce_yaml_stream *s = b->st;
  if (s->ndocs == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    ce_yaml_node **d = realloc(s->docs, cap * sizeof *d);
    if (!d) return nomem(b);
    s->docs = d;
    s->cap = cap;
  }
  s->docs[s->ndocs++] = root;
  return 0;
}

/* libyaml places reader errors (bad bytes, bad encoding) by byte offset only, and
 * decodes ahead of the scanner, so its marks say nothing about where they are.
 * Counts lines and characters up to off the way libyaml's marks do: CR LF is one
 * break, as are CR, LF, NEL, LS and PS; a leading BOM takes no column. */
static void offset_mark(const char *text, size_t len, size_t off, yaml_encoding_t enc,
                        unsigned *line, unsigned *col) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  unsigned l = 1, c = 1;
  if (off > len) off = len;
  if (enc == YAML_UTF16LE_ENCODING || enc == YAML_UTF16BE_ENCODING) {
    int hi = enc == YAML_UTF16BE_ENCODING ? 0 : 1;
    if (len >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF))) i = 2;
#define UNIT(j) ((unsigned)s[(j) + (size_t)hi] << 8 | s[(j) + 1 - (size_t)hi])
    while (i < off && i + 1 < len) {
      unsigned u = UNIT(i);
      i += 2;
      if (u >= 0xD800 && u <= 0xDBFF && i < off && i + 1 < len) i += 2; /* surrogate pair */
      if (u == '\r' && i < off && i + 1 < len && UNIT(i) == '\n') i += 2;
      if (u == '\r' || u == '\n' || u == 0x85 || u == 0x2028 || u == 0x2029) { l++; c = 1; }
      else c++;
    }
#undef UNIT
  } else {
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) i = 3;
    for (; i < off; i++) {
      if ((s[i] & 0xC0) == 0x80) continue; /* continuation byte: same character */
      if (s[i] == '\r' && i + 1 < off && s[i + 1] == '\n') i++;
      if (s[i] == '\r' || s[i] == '\n' || (s[i] == 0xC2 && i + 1 < len && s[i + 1] == 0x85) ||
          (s[i] == 0xE2 && i + 2 < len && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))) {
        l++;
        c = 1;
      } else {
        c++;
      }
    }
  }
  *line = l;
  *col = c;
}

static int parser_error(builder *b, const yaml_parser_t *p) {
  const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->mark;
  unsigned line = (unsigned)m->line + 1, col = (unsigned)m->column + 1;
  const char *problem = p->problem ? p->problem : "malformed YAML";
  if (p->error == YAML_MEMORY_ERROR) return nomem(b);
  if (p->error == YAML_READER_ERROR) {
    offset_mark(b->text, b->len, p->problem_offset, p->encoding, &line, &col);
    if (p->problem_value >= 0)
      return fail(b, CE_YAML_ESYNTAX, line, col, "%s (#x%X)", problem, (unsigned)p->problem_value);
    return fail(b, CE_YAML_ESYNTAX, line, col, "%s", problem);
  }
  if (p->context)
    return fail(b, CE_YAML_ESYNTAX, line, col, "%s (%s at line %u)", problem, p->context,
                (unsigned)p->context_mark.line + 1);
  return fail(b, CE_YAML_ESYNTAX, line, col, "%s", problem);
}

static int run(builder *b, yaml_parser_t *p) {
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(p, &ev)) return parser_error(b, p);
    int rc = 0, done = 0;
    switch (ev.type) {
      case YAML_STREAM_END_EVENT: done = 1; break;
      case YAML_DOCUMENT_START_EVENT:
        /* b->total runs on: a caller that walks every document walks them all */
        b->root = NULL;
        b->ndocs_seen++;
        b->gen++;        /* anchors are scoped to their document */
        b->nanchors = 0;
        break;
      case YAML_DOCUMENT_END_EVENT: {
        ce_yaml_node *root = b->root;
        if (!root) {
          root = new_node(b, CE_YAML_NULL, ev.start_mark);
          if (!root) { rc = nomem(b); break; }
        }
        rc = add_doc(b, root);
        break;
      }
      case YAML_SCALAR_EVENT:
        rc = scalar_event(b, &ev);
        break;
      case YAML_ALIAS_EVENT: rc = alias_event(b, &ev); break;
      case YAML_SEQUENCE_START_EVENT: rc = start_container(b, &ev, CE_YAML_SEQ); break;
      case YAML_MAPPING_START_EVENT: rc = start_container(b, &ev, CE_YAML_MAP); break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: rc = end_container(b); break;
      default: break;
    }
    yaml_event_delete(&ev);
    if (rc) return rc;
    if (done) return 0;
  }
}

ce_yaml_stream *ce_yaml_parse(const char *text, size_t len, const char *name,
                              const ce_yaml_limits *lim, ce_err *err) {
  builder b;
  memset(&b, 0, sizeof b);
  b.name = name ? name : "<string>";
  b.err = err;
  b.text = text;
  b.len = len;
  b.lim.max_size = lim && lim->max_size ? lim->max_size : CE_YAML_DEFAULT_MAX_SIZE;
  b.lim.max_depth = lim && lim->max_depth ? lim->max_depth : CE_YAML_DEFAULT_MAX_DEPTH;
  if (b.lim.max_depth > CE_YAML_DEFAULT_MAX_DEPTH * 4) b.lim.max_depth = CE_YAML_DEFAULT_MAX_DEPTH * 4;
  b.lim.max_nodes = lim && lim->max_nodes ? lim->max_nodes : CE_YAML_DEFAULT_MAX_NODES;
  ce_err_clear(err);
  if (len > b.lim.max_size) {
    fail(&b, CE_YAML_ELIMIT, 0, 0, "input is %zu bytes, over the limit of %zu bytes (max_size)",
         len, b.lim.max_size);
    return NULL;
  }
  b.st = calloc(1, sizeof *b.st);
  if (!b.st) { nomem(&b); return NULL; }
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    nomem(&b);
    ce_yaml_free(b.st);
    return NULL;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int rc = run(&b, &p);
  yaml_parser_delete(&p);
  free(b.anchors);
  if (rc) {
    ce_yaml_free(b.st);
    return NULL;
  }
  return b.st;
}

ce_yaml_stream *ce_yaml_parse_file(const char *path, const ce_yaml_limits *lim, ce_err *err) {
  size_t max = lim && lim->max_size ? lim->max_size : CE_YAML_DEFAULT_MAX_SIZE;
  ce_err_clear(err);
  FILE *f = fopen(path, "rb");
  if (!f) {
    ce_err_setf(err, CE_YAML_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    ce_err_setf(err, CE_YAML_EIO, path, 0, 0, "is a directory");
    return NULL;
  }
  /* read at most max + 1 bytes: enough to know the file is too large, even for pipes */
  size_t stop = max < SIZE_MAX ? max + 1 : SIZE_MAX;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (len == cap) {
      if (cap >= stop) break;
      size_t ncap = cap > stop / 2 ? stop : cap * 2;
      char *nb = realloc(buf, ncap);
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int ioerr = ferror(f);
  fclose(f);
  if (!buf) {
    ce_err_setf(err, CE_YAML_ENOMEM, path, 0, 0, "out of memory");
    return NULL;
  }
  if (ioerr) {
    free(buf);
    ce_err_setf(err, CE_YAML_EIO, path, 0, 0, "read error");
    return NULL;
  }
  if (len > max) {
    free(buf);
    ce_err_setf(err, CE_YAML_ELIMIT, path, 1, 1,
                "file is over the limit of %zu bytes (max_size)", max);
    return NULL;
  }
  ce_yaml_stream *s = ce_yaml_parse(buf, len, path, lim, err);
  free(buf);
  return s;
}
