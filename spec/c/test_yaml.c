/* SPDX-License-Identifier: MIT */
/* Unit tests for host/core/yaml_tree: core-schema scalars, collections, anchors,
 * merges, limits and located error messages. No Lua involved. Each failing
 * check prints file:line; the exit status is 1 when any check failed. */
#include "core/util/yaml_tree.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- a tiny check set ---- */

static int failures, checks;

#define CHECK(cond) check_((cond) != 0, __FILE__, __LINE__, "%s", #cond)
#define CHECK_INT(got, want)                                                              \
  do {                                                                                    \
    long long g_ = (long long)(got), w_ = (long long)(want);                              \
    check_(g_ == w_, __FILE__, __LINE__, "%s == %s: got %lld, want %lld", #got, #want, g_, \
           w_);                                                                           \
  } while (0)
#define CHECK_STR(got, want)                                                                \
  do {                                                                                      \
    const char *g_ = (got), *w_ = (want);                                                   \
    check_(g_ && strcmp(g_, w_) == 0, __FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", #got, \
           g_ ? g_ : "(null)", w_);                                                         \
  } while (0)
/* Parse must fail with this code and exactly this message. */
#define CHECK_ERR(text, lim, code, msg) check_err_(__FILE__, __LINE__, (text), (lim), (code), (msg))
/* Parse must succeed; returns document 0 (NULL on failure, reported). */
#define DOC(text) doc_(__FILE__, __LINE__, (text))

static int check_(int ok, const char *file, int line, const char *fmt, ...) {
  checks++;
  if (ok) return 1;
  failures++;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: check failed: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 0;
}

/* this thread's CPU time: the bounds below guard against blow-ups (bombs,
 * quadratic work), and other work on a shared machine must not trip them */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Streams parsed by DOC stay alive until the end of the test so that nodes stay valid. */
static ce_yaml_stream *kept[512];
static size_t nkept;

static void keep(ce_yaml_stream *s) {
  if (nkept < sizeof kept / sizeof *kept) kept[nkept++] = s;
  else ce_yaml_free(s);
}

static void release_all(void) {
  while (nkept) ce_yaml_free(kept[--nkept]);
}

static ce_yaml_stream *parse(const char *text, const ce_yaml_limits *lim, ce_err *e) {
  return ce_yaml_parse(text, strlen(text), NULL, lim, e);
}

static const ce_yaml_node *doc_(const char *file, int line, const char *text) {
  ce_err e;
  ce_yaml_stream *s = parse(text, NULL, &e);
  if (!check_(s != NULL, file, line, "parse \"%.60s\" failed: %s", text, e.msg)) return NULL;
  keep(s);
  const ce_yaml_node *d = ce_yaml_doc(s, 0);
  check_(d != NULL, file, line, "no document in \"%.60s\"", text);
  return d;
}

static void check_err_(const char *file, int line, const char *text, const ce_yaml_limits *lim,
                       int code, const char *msg) {
  ce_err e;
  ce_yaml_stream *s = parse(text, lim, &e);
  if (!check_(s == NULL, file, line, "parse \"%.60s\" succeeded, want error \"%s\"", text, msg)) {
    ce_yaml_free(s);
    return;
  }
  check_(e.code == code, file, line, "\"%.60s\": code %d, want %d (%s)", text, e.code, code, e.msg);
  check_(strcmp(e.msg, msg) == 0, file, line, "\"%.60s\":\n    got  \"%s\"\n    want \"%s\"", text,
         e.msg, msg);
}

/* Value of key (a string) in a mapping node, or NULL. */
static const ce_yaml_node *get(const ce_yaml_node *m, const char *key) {
  if (!m || m->kind != CE_YAML_MAP) return NULL;
  for (size_t i = 0; i + 1 < m->u.seq.n; i += 2) {
    const ce_yaml_node *k = m->u.seq.items[i];
    if (k->kind == CE_YAML_STR && strcmp(k->u.str.s, key) == 0) return m->u.seq.items[i + 1];
  }
  return NULL;
}

static const ce_yaml_node *at(const ce_yaml_node *s, size_t i) {
  if (!s || (s->kind != CE_YAML_SEQ && s->kind != CE_YAML_MAP) || i >= s->u.seq.n) return NULL;
  return s->u.seq.items[i];
}

static int is_int(const ce_yaml_node *n, int64_t v) { return n && n->kind == CE_YAML_INT && n->u.i == v; }
static int is_float(const ce_yaml_node *n, double v) { return n && n->kind == CE_YAML_FLOAT && n->u.f == v; }
static int is_bool(const ce_yaml_node *n, int v) { return n && n->kind == CE_YAML_BOOL && n->u.b == v; }
static int is_null(const ce_yaml_node *n) { return n && n->kind == CE_YAML_NULL; }
static int is_str(const ce_yaml_node *n, const char *v) {
  return n && n->kind == CE_YAML_STR && n->u.str.len == strlen(v) && strcmp(n->u.str.s, v) == 0;
}

/* A growable string for generated documents. */
typedef struct { char *p; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (b->p && (size_t)w < b->cap - b->n) { b->n += (size_t)w; return; }
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->n + (size_t)w + 1) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) { perror("realloc"); exit(2); }
    b->cap = cap;
  }
}

/* n keys "keyI: I", or integer keys I*1024 and a duplicate of the sixth at the end */
static void mapping(sbuf *b, int n, int ints) {
  b->n = 0;
  for (int i = 0; i < n; i++) {
    if (ints) sb_add(b, "%d: x\n", i * 1024);
    else sb_add(b, "key%d: %d\n", i, i);
  }
  if (ints) sb_add(b, "%d.0: dup\n", 5 * 1024);
}

/* best of 3 CPU seconds to parse (and free) a mapping of n keys */
static double parse_cpu(int n, int ints) {
  sbuf b = {0};
  mapping(&b, n, ints);
  double best = 1e9;
  for (int k = 0; k < 5; k++) {
    ce_err e;
    double t0 = now();
    ce_yaml_stream *s = ce_yaml_parse(b.p, b.n, NULL, NULL, &e);
    double dt = now() - t0;
    ce_yaml_free(s);
    if (dt < best) best = dt;
  }
  free(b.p);
  return best;
}

static double growth(int ints) {
  double small = parse_cpu(10000, ints);
  return parse_cpu(100000, ints) / (small > 1e-6 ? small : 1e-6);
}


static char *repeat(const char *unit, size_t n) {
  size_t u = strlen(unit);
  char *s = malloc(u * n + 1);
  for (size_t i = 0; i < n; i++) memcpy(s + i * u, unit, u);
  s[u * n] = '\0';
  return s;
}

/* "[[[...x...]]]" with n brackets around inner (inner may be ""). */
static char *nested(size_t n, const char *inner) {
  char *open = repeat("[", n), *close = repeat("]", n);
  sbuf b = {0};
  sb_add(&b, "%s%s%s", open, inner, close);
  free(open);
  free(close);
  return b.p;
}

/* ---- scalars ---- */

static void test_ints(void) {
  CHECK(is_int(DOC("0"), 0));
  CHECK(is_int(DOC("42"), 42));
  CHECK(is_int(DOC("-17"), -17));
  CHECK(is_int(DOC("+17"), 17));
  CHECK(is_int(DOC("012"), 12));               /* core schema: leading zeros are decimal */
  CHECK(is_int(DOC("0o17"), 15));
  CHECK(is_int(DOC("0o0"), 0));
  CHECK(is_int(DOC("0x1F"), 31));
  CHECK(is_int(DOC("0xff"), 255));
  CHECK(is_int(DOC("0x7FFFFFFFFFFFFFFF"), INT64_MAX));
  CHECK(is_int(DOC("0o777777777777777777777"), INT64_MAX));
  CHECK(is_int(DOC("9223372036854775807"), INT64_MAX));
  CHECK(is_int(DOC("-9223372036854775808"), INT64_MIN));
  CHECK(is_int(DOC("+9223372036854775807"), INT64_MAX));
  /* not ints in the 1.2 core schema: they stay strings */
  CHECK(is_str(DOC("0o8"), "0o8"));
  CHECK(is_str(DOC("0x"), "0x"));
  CHECK(is_str(DOC("0xG1"), "0xG1"));
  CHECK(is_str(DOC("-0x10"), "-0x10"));
  CHECK(is_str(DOC("0X10"), "0X10"));
  CHECK(is_str(DOC("1_000"), "1_000"));
  CHECK(is_str(DOC("0b101"), "0b101"));
  CHECK(is_str(at(DOC("[-x, +x]"), 0), "-x"));
  CHECK(is_str(at(DOC("[-x, +x]"), 1), "+x"));
  CHECK(is_str(DOC("+"), "+"));
  CHECK(is_str(DOC("12abc"), "12abc"));
  /* out of range: an error, never a silent wrap or a float */
  CHECK_ERR("9223372036854775808", NULL, CE_YAML_ESCHEMA,
            "<string>:1:1: integer 9223372036854775808 does not fit in 64 bits");
  CHECK_ERR("-9223372036854775809", NULL, CE_YAML_ESCHEMA,
            "<string>:1:1: integer -9223372036854775809 does not fit in 64 bits");
  CHECK_ERR("a:\n  b: 0x8000000000000000\n", NULL, CE_YAML_ESCHEMA,
            "<string>:2:6: integer 0x8000000000000000 does not fit in 64 bits");
  CHECK_ERR("- 0o1000000000000000000000", NULL, CE_YAML_ESCHEMA,
            "<string>:1:3: integer 0o1000000000000000000000 does not fit in 64 bits");
  CHECK_ERR("99999999999999999999999999", NULL, CE_YAML_ESCHEMA,
            "<string>:1:1: integer 99999999999999999999999999 does not fit in 64 bits");
}

static void test_floats(void) {
  CHECK(is_float(DOC("1.5"), 1.5));
  CHECK(is_float(DOC("-1.5"), -1.5));
  CHECK(is_float(DOC(".5"), 0.5));
  CHECK(is_float(DOC("-.5"), -0.5));
  CHECK(is_float(DOC("+.5"), 0.5));
  CHECK(is_float(DOC("1."), 1.0));
  CHECK(is_float(DOC("1.0"), 1.0));
  CHECK(is_float(DOC("1e3"), 1000.0));
  CHECK(is_float(DOC("1E3"), 1000.0));
  CHECK(is_float(DOC("1e+3"), 1000.0));
  CHECK(is_float(DOC("2.5e-1"), 0.25));
  CHECK(is_float(DOC(".5e1"), 5.0));
  CHECK(is_float(DOC("-0.0"), 0.0));
  CHECK(signbit(DOC("-0.0")->u.f));
  CHECK(is_float(DOC("1e400"), INFINITY)); /* overflow rounds, as strtod does */
  CHECK(is_float(DOC(".inf"), INFINITY));
  CHECK(is_float(DOC(".Inf"), INFINITY));
  CHECK(is_float(DOC(".INF"), INFINITY));
  CHECK(is_float(DOC("+.inf"), INFINITY));
  CHECK(is_float(DOC("-.inf"), -INFINITY));
  CHECK(is_float(DOC("-.Inf"), -INFINITY));
  CHECK(is_float(DOC("-.INF"), -INFINITY));
  const char *nans[] = {".nan", ".NaN", ".NAN"};
  for (size_t i = 0; i < 3; i++) {
    const ce_yaml_node *n = DOC(nans[i]);
    CHECK(n && n->kind == CE_YAML_FLOAT && isnan(n->u.f));
  }
  /* near misses stay strings */
  CHECK(is_str(DOC("-.nan"), "-.nan"));
  CHECK(is_str(DOC(".iNf"), ".iNf"));
  CHECK(is_str(DOC("inf"), "inf"));
  CHECK(is_str(DOC("1e"), "1e"));
  CHECK(is_str(DOC("e3"), "e3"));
  CHECK(is_str(DOC("."), "."));
  CHECK(is_str(DOC("1.2.3"), "1.2.3"));
  CHECK(is_str(DOC("1,5"), "1,5"));
  CHECK(is_str(DOC("0x1.8p1"), "0x1.8p1"));
  /* a long float is still a float (it used to fall back to a string past 127 chars) */
  {
    char *digits = repeat("0", 150);
    sbuf b = {0};
    sb_add(&b, "1%s.5", digits);
    CHECK(is_float(DOC(b.p), 1e150));
    free(b.p);
    b = (sbuf){0};
    sb_add(&b, "0.%s1e151", digits);
    CHECK(is_float(DOC(b.p), 1.0));
    free(b.p);
    free(digits);
  }
}

static void test_bools_nulls(void) {
  CHECK(is_bool(DOC("true"), 1));
  CHECK(is_bool(DOC("True"), 1));
  CHECK(is_bool(DOC("TRUE"), 1));
  CHECK(is_bool(DOC("false"), 0));
  CHECK(is_bool(DOC("False"), 0));
  CHECK(is_bool(DOC("FALSE"), 0));
  /* YAML 1.1 booleans are strings in 1.2 */
  CHECK(is_str(DOC("tRUE"), "tRUE"));
  CHECK(is_str(DOC("yes"), "yes"));
  CHECK(is_str(DOC("on"), "on"));
  CHECK(is_str(DOC("y"), "y"));
  CHECK(is_null(DOC("~")));
  CHECK(is_null(DOC("null")));
  CHECK(is_null(DOC("Null")));
  CHECK(is_null(DOC("NULL")));
  CHECK(is_str(DOC("nULL"), "nULL"));
  CHECK(is_str(DOC("none"), "none"));
  const ce_yaml_node *m = DOC("a:\nb: ~\n");
  CHECK(is_null(get(m, "a")));                  /* empty value */
  CHECK(is_null(get(m, "b")));
  /* empty documents are null */
  ce_err e;
  ce_yaml_stream *s = parse("---\n", NULL, &e);
  CHECK(s && ce_yaml_ndocs(s) == 1 && is_null(ce_yaml_doc(s, 0)));
  ce_yaml_free(s);
  s = parse("", NULL, &e);
  CHECK(s && ce_yaml_ndocs(s) == 0 && ce_yaml_doc(s, 0) == NULL);
  ce_yaml_free(s);
  s = parse("# only a comment\n", NULL, &e);
  CHECK(s && ce_yaml_ndocs(s) == 0);
  ce_yaml_free(s);
}

static void test_quoted_and_tags(void) {
  CHECK(is_str(DOC("'1'"), "1"));
  CHECK(is_str(DOC("\"1\""), "1"));
  CHECK(is_str(DOC("'true'"), "true"));
  CHECK(is_str(DOC("\"null\""), "null"));
  CHECK(is_str(DOC("'~'"), "~"));
  CHECK(is_str(DOC("''"), ""));
  CHECK(is_str(DOC("\".inf\""), ".inf"));
  CHECK(is_str(DOC("|\n  123\n"), "123\n"));
  CHECK(is_str(DOC(">-\n  true\n"), "true"));
  {
    const ce_yaml_node *n = DOC("\"a\\0b\"");    /* NUL inside: length counts it */
    CHECK(n && n->kind == CE_YAML_STR && n->u.str.len == 3 && memcmp(n->u.str.s, "a\0b", 4) == 0);
  }
  CHECK(is_str(DOC("!!str 1"), "1"));
  CHECK(is_str(DOC("!!str true"), "true"));
  CHECK(is_str(DOC("!!str"), ""));
  CHECK(is_str(DOC("! 12"), "12"));            /* non-specific tag: a string */
  CHECK(is_int(DOC("!!int 12"), 12));
  CHECK(is_int(DOC("!!int '0x10'"), 16));      /* explicit tag resolves quoted text too */
  CHECK(is_float(DOC("!!float 1"), 1.0));
  CHECK(is_float(DOC("!!float .5"), 0.5));
  CHECK(is_bool(DOC("!!bool \"false\""), 0));
  CHECK(is_null(DOC("!!null ''")));
  CHECK(is_null(DOC("!<tag:yaml.org,2002:null> ~")));
  CHECK(DOC("!!seq [1]") && DOC("!!seq [1]")->kind == CE_YAML_SEQ);
  CHECK(DOC("!!map {a: 1}") && DOC("!!map {a: 1}")->kind == CE_YAML_MAP);
  CHECK_ERR("!!int abc", NULL, CE_YAML_ESCHEMA, "<string>:1:1: 'abc' is not a valid !!int");
  CHECK_ERR("a: !!int 1.5", NULL, CE_YAML_ESCHEMA, "<string>:1:4: '1.5' is not a valid !!int");
  CHECK_ERR("- !!bool 1", NULL, CE_YAML_ESCHEMA, "<string>:1:3: '1' is not a valid !!bool");
  CHECK_ERR("- !!float x", NULL, CE_YAML_ESCHEMA, "<string>:1:3: 'x' is not a valid !!float");
  CHECK_ERR("- !!null 0", NULL, CE_YAML_ESCHEMA, "<string>:1:3: '0' is not a valid !!null");
  CHECK_ERR("!!int 99999999999999999999", NULL, CE_YAML_ESCHEMA,
            "<string>:1:1: integer 99999999999999999999 does not fit in 64 bits");
  CHECK_ERR("a:\n  b: !custom x\n", NULL, CE_YAML_ESCHEMA, "<string>:2:6: unsupported tag !custom");
  CHECK_ERR("!!binary aGk=", NULL, CE_YAML_ESCHEMA,
            "<string>:1:1: unsupported tag tag:yaml.org,2002:binary");
  CHECK_ERR("!!timestamp 2001-12-14", NULL, CE_YAML_ESCHEMA,
            "<string>:1:1: unsupported tag tag:yaml.org,2002:timestamp");
  CHECK_ERR("!!map [1]", NULL, CE_YAML_ESCHEMA, "<string>:1:1: unsupported tag tag:yaml.org,2002:map");
  CHECK_ERR("x: !!seq {a: 1}", NULL, CE_YAML_ESCHEMA,
            "<string>:1:4: unsupported tag tag:yaml.org,2002:seq");
  CHECK_ERR("!!set {a: 1}", NULL, CE_YAML_ESCHEMA, "<string>:1:1: unsupported tag tag:yaml.org,2002:set");
  CHECK_ERR("!!int [1]", NULL, CE_YAML_ESCHEMA, "<string>:1:1: unsupported tag tag:yaml.org,2002:int");
}

static void test_resolve_plain(void) {
  ce_yaml_node n;
  const char *t = "12";
  CHECK(ce_yaml_resolve_plain(t, 2, &n) == 0 && is_int(&n, 12));
  t = "12345";                                  /* only len counts, no NUL needed */
  CHECK(ce_yaml_resolve_plain(t, 2, &n) == 0 && is_int(&n, 12));
  t = "hello";
  CHECK(ce_yaml_resolve_plain(t, 5, &n) == 0 && n.kind == CE_YAML_STR && n.u.str.s == t &&
        n.u.str.len == 5);
  CHECK(ce_yaml_resolve_plain("", 0, &n) == 0 && n.kind == CE_YAML_NULL);
  CHECK(ce_yaml_resolve_plain("1.25", 4, &n) == 0 && is_float(&n, 1.25));
  CHECK(ce_yaml_resolve_plain("1.25x", 4, &n) == 0 && is_float(&n, 1.25));
  CHECK(ce_yaml_resolve_plain("False", 5, &n) == 0 && is_bool(&n, 0));
  CHECK(ce_yaml_resolve_plain("1\0" "2", 3, &n) == 0 && n.kind == CE_YAML_STR);
  CHECK(ce_yaml_resolve_plain("18446744073709551616", 20, &n) == -1);
}

/* ---- collections ---- */

static void test_collections(void) {
  const ce_yaml_node *s = DOC("[1, two, 3.0, [], {}]");
  CHECK(s && s->kind == CE_YAML_SEQ && s->u.seq.n == 5);
  CHECK(is_int(at(s, 0), 1) && is_str(at(s, 1), "two") && is_float(at(s, 2), 3.0));
  CHECK(at(s, 3) && at(s, 3)->kind == CE_YAML_SEQ && at(s, 3)->u.seq.n == 0);
  CHECK(at(s, 4) && at(s, 4)->kind == CE_YAML_MAP && at(s, 4)->u.seq.n == 0);

  const ce_yaml_node *m = DOC("name: demo\nlist:\n  - a\n  - b: 1\n    c: [x, y]\nn: 3\n");
  CHECK(m && m->kind == CE_YAML_MAP && m->u.seq.n == 6);
  CHECK(is_str(at(m, 0), "name") && is_str(at(m, 1), "demo"));   /* order kept */
  CHECK(is_str(at(m, 2), "list") && is_str(at(m, 4), "n"));
  const ce_yaml_node *l = get(m, "list");
  CHECK(l && l->kind == CE_YAML_SEQ && l->u.seq.n == 2);
  CHECK(is_str(at(l, 0), "a"));
  CHECK(is_int(get(at(l, 1), "b"), 1));
  CHECK(is_str(at(get(at(l, 1), "c"), 1), "y"));
  CHECK(is_int(get(m, "n"), 3));
  /* positions: 1-based line and column of where each node starts */
  CHECK_INT(m->line, 1);
  CHECK_INT(m->col, 1);
  CHECK_INT(at(m, 2)->line, 2);                 /* key "list" */
  CHECK_INT(l->line, 3);
  CHECK_INT(l->col, 3);
  CHECK_INT(at(l, 1)->line, 4);
  CHECK_INT(at(l, 1)->col, 5);
  CHECK_INT(get(at(l, 1), "c")->line, 5);
  CHECK_INT(get(at(l, 1), "c")->col, 8);
  CHECK_INT(at(get(at(l, 1), "c"), 1)->col, 12);

  /* keys: any scalar but null and NaN; the types are kept */
  m = DOC("1: int\n1.5: float\ntrue: bool\n'1': str\n.inf: inf\n");
  CHECK(m && m->u.seq.n == 10);
  CHECK(is_int(at(m, 0), 1) && is_float(at(m, 2), 1.5) && is_bool(at(m, 4), 1) &&
        is_str(at(m, 6), "1") && is_float(at(m, 8), INFINITY));
  CHECK_ERR("? [a]\n: 1\n", NULL, CE_YAML_ESCHEMA, "<string>:1:3: mapping keys must be scalars");
  CHECK_ERR("a: 1\n{b: 1}: 2\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: mapping keys must be scalars");
  CHECK_ERR("a: 1\n~: 2\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: null mapping key is not supported");
  CHECK_ERR("{a: 1, ~: 2}", NULL, CE_YAML_ESCHEMA, "<string>:1:8: null mapping key is not supported");
  CHECK_ERR("{? : 1}", NULL, CE_YAML_ESCHEMA, "<string>:1:4: null mapping key is not supported");
  CHECK_ERR("x:\n  .nan: 1\n", NULL, CE_YAML_ESCHEMA, "<string>:2:3: NaN mapping key is not supported");
  CHECK_ERR("s: &s [1]\nm: {*s : 1}\n", NULL, CE_YAML_ESCHEMA,
            "<string>:2:5: mapping keys must be scalars");
}

/* ---- anchors and aliases ---- */

static void test_aliases(void) {
  const ce_yaml_node *m = DOC("a: &x [1, 2]\nb: *x\nc: &s hello\nd: *s\n");
  CHECK(get(m, "a") && get(m, "a") == get(m, "b")); /* the same node, not a copy */
  CHECK(get(m, "c") && get(m, "c") == get(m, "d"));
  CHECK(is_str(get(m, "d"), "hello"));
  /* an alias node keeps the anchored node's position */
  CHECK_INT(get(m, "b")->line, 1);
  /* a redefined anchor: later aliases see the latest definition */
  const ce_yaml_node *s = DOC("- &a 1\n- *a\n- &a 2\n- *a\n");
  CHECK(is_int(at(s, 1), 1) && is_int(at(s, 3), 2));
  /* an alias as a key */
  m = DOC("k: &k name\n*k : v\n");
  CHECK(is_str(get(m, "name"), "v"));
  /* anchored empty node and anchored collection inside a flow */
  s = DOC("[&e , *e, &m {a: 1}, *m]");
  CHECK(is_null(at(s, 0)) && at(s, 1) == at(s, 0) && at(s, 3) == at(s, 2));

  CHECK_ERR("a: *nope\n", NULL, CE_YAML_ESCHEMA, "<string>:1:4: alias *nope names no anchor");
  CHECK_ERR("- 1\n- - *late\n  - &late 2\n", NULL, CE_YAML_ESCHEMA,
            "<string>:2:5: alias *late names no anchor");
  /* anchors do not cross documents */
  CHECK_ERR("a: &x 1\n---\nb: *x\n", NULL, CE_YAML_ESCHEMA, "<string>:3:4: alias *x names no anchor");
  /* recursion: an alias inside the node it names */
  CHECK_ERR("&a [*a]", NULL, CE_YAML_ESCHEMA, "<string>:1:5: alias *a refers to its own enclosing node");
  CHECK_ERR("a: &x\n  b:\n    c: *x\n", NULL, CE_YAML_ESCHEMA,
            "<string>:3:8: alias *x refers to its own enclosing node");
  CHECK_ERR("&r {k: [1, {z: *r}]}", NULL, CE_YAML_ESCHEMA,
            "<string>:1:16: alias *r refers to its own enclosing node");

  /* many anchors: looking one up must not scan them all (was quadratic) */
  sbuf b = {0};
  const int n = 100000;
  for (int i = 0; i < n; i++) sb_add(&b, "- &anchor%d %d\n", i, i);
  for (int i = 0; i < n; i++) sb_add(&b, "- *anchor%d\n", i % 7);
  double t0 = now();
  ce_err e;
  ce_yaml_stream *st = ce_yaml_parse(b.p, b.n, NULL, NULL, &e);
  double dt = now() - t0;
  CHECK(st && ce_yaml_doc(st, 0)->u.seq.n == (size_t)n * 2);
  CHECK(st && is_int(at(ce_yaml_doc(st, 0), (size_t)n + 3), 3));
  check_(dt < 3.0, __FILE__, __LINE__, "%d anchors + %d aliases took %.2f s", n, n, dt);
  ce_yaml_free(st);
  free(b.p);
}

/* ---- merge keys ---- */

static void test_merges(void) {
  const ce_yaml_node *r = DOC("base: &b {x: 1, y: 2}\n"
                              "m:\n"
                              "  <<: *b\n"
                              "  y: 3\n");
  const ce_yaml_node *m = get(r, "m");
  CHECK(m && m->u.seq.n == 4);                 /* x and y, no "<<" left */
  CHECK(is_int(get(m, "x"), 1));
  CHECK(is_int(get(m, "y"), 3));               /* the explicit key wins, even after the merge */
  CHECK(get(m, "<<") == NULL);
  CHECK(is_int(get(get(r, "base"), "y"), 2));  /* the source is left alone */

  /* a list of mappings: the first one that has a key wins */
  r = DOC("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*a, *b], w: 0}\n");
  m = get(r, "m");
  CHECK(m && m->u.seq.n == 6);
  CHECK(is_int(get(m, "x"), 1) && is_int(get(m, "z"), 3) && is_int(get(m, "w"), 0));
  r = DOC("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*b, *a]}\n");
  CHECK(is_int(get(get(r, "m"), "x"), 2));

  /* inline mappings, an empty merge, nested merges, a quoted "<<" is a plain key */
  CHECK(is_int(get(DOC("<<: {k: 5}\n"), "k"), 5));
  CHECK(DOC("<<: {}\na: 1\n")->u.seq.n == 2);
  CHECK(DOC("<<: []\n")->u.seq.n == 0);
  r = DOC("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n");
  m = get(r, "c");
  CHECK(is_int(get(m, "x"), 1) && is_int(get(m, "y"), 2) && is_int(get(m, "z"), 3));
  CHECK(is_int(get(DOC("'<<': 1\n"), "<<"), 1));
  CHECK(is_int(get(DOC("!!str <<: 1\n"), "<<"), 1));
  /* two merge keys: both apply, the first one wins */
  m = DOC("<<: {a: 1}\n<<: {a: 2, b: 2}\n");
  CHECK(is_int(get(m, "a"), 1) && is_int(get(m, "b"), 2));
  /* merged keys do not trip the duplicate check, explicit ones still do */
  m = DOC("<<: {a: 1, 1: x}\n1.0: y\n");
  CHECK(m && m->u.seq.n == 4);

  /* a merge of anything but mappings is an error located at the "<<" key */
  CHECK_ERR("s: &s 1\nm:\n  <<: *s\n", NULL, CE_YAML_ESCHEMA,
            "<string>:3:3: merge key << expects a mapping or a sequence of mappings");
  CHECK_ERR("m: {<<: [{a: 1}, 2]}", NULL, CE_YAML_ESCHEMA,
            "<string>:1:5: merge key << expects a mapping or a sequence of mappings");
  CHECK_ERR("a: 1\n<<: ~\n", NULL, CE_YAML_ESCHEMA,
            "<string>:2:1: merge key << expects a mapping or a sequence of mappings");
  CHECK_ERR("<<: [[{a: 1}]]\n", NULL, CE_YAML_ESCHEMA,
            "<string>:1:1: merge key << expects a mapping or a sequence of mappings");
  CHECK_ERR("&m {<<: *m}", NULL, CE_YAML_ESCHEMA, "<string>:1:9: alias *m refers to its own enclosing node");
}

/* ---- documents ---- */

static void test_documents(void) {
  ce_err e;
  ce_yaml_stream *s = parse("a: 1\n---\nb: 2\n...\n---\n- x\n--- 7\n", NULL, &e);
  CHECK(s != NULL);
  CHECK_INT(ce_yaml_ndocs(s), 4);
  CHECK(is_int(get(ce_yaml_doc(s, 0), "a"), 1));
  CHECK(is_int(get(ce_yaml_doc(s, 1), "b"), 2));
  CHECK(is_str(at(ce_yaml_doc(s, 2), 0), "x"));
  CHECK(is_int(ce_yaml_doc(s, 3), 7));
  CHECK_INT(ce_yaml_doc(s, 1)->line, 3);
  CHECK(ce_yaml_doc(s, 4) == NULL);
  CHECK(ce_yaml_doc(s, (size_t)-1) == NULL);
  ce_yaml_free(s);
  CHECK(ce_yaml_ndocs(NULL) == 0 && ce_yaml_doc(NULL, 0) == NULL);
  ce_yaml_free(NULL);
  /* an error in a later document fails the whole stream, located there */
  CHECK_ERR("a: 1\n---\nb: [\n", NULL, CE_YAML_ESYNTAX,
            "<string>:4:1: did not find expected node content (while parsing a flow node at line 4)");
  /* many small documents */
  sbuf b = {0};
  for (int i = 0; i < 1000; i++) sb_add(&b, "--- %d\n", i);
  s = ce_yaml_parse(b.p, b.n, NULL, NULL, &e);
  CHECK(s && ce_yaml_ndocs(s) == 1000 && is_int(ce_yaml_doc(s, 999), 999));
  ce_yaml_free(s);
  free(b.p);
  /* an empty document in the middle is null */
  s = parse("--- 1\n---\n--- 3\n", NULL, &e);
  CHECK(s && ce_yaml_ndocs(s) == 3 && is_null(ce_yaml_doc(s, 1)));
  ce_yaml_free(s);
}

/* ---- duplicate keys ---- */

static void test_duplicates(void) {
  CHECK_ERR("a: 1\na: 2\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: duplicate key 'a' (first at line 1)");
  CHECK_ERR("x:\n  k: 1\n  j: 2\n  k: 3\n", NULL, CE_YAML_ESCHEMA,
            "<string>:4:3: duplicate key 'k' (first at line 2)");
  CHECK_ERR("{a: 1, \"a\": 2}", NULL, CE_YAML_ESCHEMA, "<string>:1:8: duplicate key 'a' (first at line 1)");
  /* the same key as Lua stores it: 1 and 1.0, 16 and 0x10, true and True */
  CHECK_ERR("1: a\n1.0: b\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: duplicate key (first at line 1)");
  CHECK_ERR("0x10: a\n16: b\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: duplicate key (first at line 1)");
  CHECK_ERR("0: a\n-0.0: b\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: duplicate key (first at line 1)");
  CHECK_ERR("true: a\nTrue: b\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: duplicate key (first at line 1)");
  CHECK_ERR(".inf: a\n.Inf: b\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: duplicate key (first at line 1)");
  CHECK_ERR("1e2: a\n100: b\n", NULL, CE_YAML_ESCHEMA, "<string>:2:1: duplicate key (first at line 1)");
  /* floats that Lua turns into integer keys, up to the edge of int64 */
  CHECK_ERR("9220000000000000000: a\n9.22e18: b\n", NULL, CE_YAML_ESCHEMA,
            "<string>:2:1: duplicate key (first at line 1)");
  CHECK_ERR("-9223372036854775808: a\n-9.223372036854775808e18: b\n", NULL, CE_YAML_ESCHEMA,
            "<string>:2:1: duplicate key (first at line 1)");
  /* a key written as an alias is located where the alias is */
  CHECK_ERR("a: &k x\nx: 1\n*k : 2\n", NULL, CE_YAML_ESCHEMA,
            "<string>:3:1: duplicate key 'x' (first at line 2)");
  /* different keys for Lua too */
  const ce_yaml_node *m = DOC("1: a\n'1': b\ntrue: c\n1.5: d\n9.3e18: e\n");
  CHECK(m && m->u.seq.n == 10);
  m = DOC("9223372036854775807: a\n9.223372036854775807e18: b\n"); /* 2^63 as a float: not an int */
  CHECK(m && m->u.seq.n == 4);
  /* same key in different mappings is fine */
  CHECK(DOC("a: {k: 1}\nb: {k: 2}\n") != NULL);

  /* a large mapping stays linear: CPU time (this thread's: other work on
   * the machine does not count) of 100,000 keys against 10,000, best of 5;
   * linear is about 10 times, a quadratic duplicate check 100. The bound
   * leaves room for cache misses: the larger table falls out of a cache
   * that other work on a loaded machine shares (35.7 times seen in CI) */
  double r1 = growth(0), r2 = growth(1);
  check_(r1 < 55, __FILE__, __LINE__, "100,000 keys took %.1f times the CPU of 10,000", r1);
  check_(r2 < 55, __FILE__, __LINE__, "100,000 integer keys took %.1f times the CPU of 10,000", r2);
  sbuf b = {0};
  mapping(&b, 100000, 0);
  ce_err e;
  ce_yaml_stream *s = ce_yaml_parse(b.p, b.n, NULL, NULL, &e);
  CHECK(s && ce_yaml_doc(s, 0)->u.seq.n == (size_t)100000 * 2);
  ce_yaml_free(s);
  /* with integer keys, and with a duplicate at the very end */
  mapping(&b, 100000, 1);
  s = ce_yaml_parse(b.p, b.n, NULL, NULL, &e);
  CHECK(s == NULL && e.code == CE_YAML_ESCHEMA);
  CHECK_STR(e.msg, "<string>:100001:1: duplicate key (first at line 6)");
  free(b.p);
}

/* ---- limits ---- */

static void test_alias_bomb(void) {
  const char *lol = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
                    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
  double t0 = now();
  ce_err e;
  ce_yaml_stream *s = parse(lol, NULL, &e);
  double dt = now() - t0;
  CHECK(s == NULL);
  CHECK_INT(e.code, CE_YAML_ELIMIT);
  /* f's items expand to 111,111 nodes each; the 8th one crosses 1,000,000 */
  CHECK_STR(e.msg, "<string>:6:29: document expands to more than 1000000 nodes "
                   "(alias expansion bound, max_nodes)");
  check_(dt < 0.5, __FILE__, __LINE__, "billion laughs took %.2f s", dt);
  ce_yaml_free(s);
  /* the same bomb through merge keys */
  const char *mbomb = "a: &a {a0: 0, a1: 1, a2: 2, a3: 3, a4: 4, a5: 5, a6: 6, a7: 7, a8: 8, a9: 9}\n"
                      "b: &b {b0: *a, b1: *a, b2: *a, b3: *a, b4: *a, b5: *a, b6: *a, b7: *a, b8: *a, b9: *a}\n"
                      "c: &c {c0: *b, c1: *b, c2: *b, c3: *b, c4: *b, c5: *b, c6: *b, c7: *b, c8: *b, c9: *b}\n"
                      "d: &d {d0: *c, d1: *c, d2: *c, d3: *c, d4: *c, d5: *c, d6: *c, d7: *c, d8: *c, d9: *c}\n"
                      "e: &e {e0: *d, e1: *d, e2: *d, e3: *d, e4: *d, e5: *d, e6: *d, e7: *d, e8: *d, e9: *d}\n"
                      "m0: {<<: *e}\nm1: {<<: *e}\nm2: {<<: *e}\nm3: {<<: *e}\nm4: {<<: *e}\n"
                      "m5: {<<: *e}\nm6: {<<: *e}\nm7: {<<: *e}\nm8: {<<: *e}\nm9: {<<: *e}\n";
  t0 = now();
  s = parse(mbomb, NULL, &e);
  dt = now() - t0;
  CHECK(s == NULL && e.code == CE_YAML_ELIMIT && strstr(e.msg, "max_nodes"));
  check_(dt < 0.5, __FILE__, __LINE__, "merge bomb took %.2f s", dt);
  ce_yaml_free(s);

  /* a custom bound, counted per node: the sequence and 9 items fit in 10 */
  ce_yaml_limits lim = {.max_nodes = 10};
  s = parse("[a, b, c, d, e, f, g, h, i]", &lim, &e);
  CHECK(s != NULL);
  ce_yaml_free(s);
  CHECK_ERR("[a, b, c, d, e, f, g, h, i, j]", &lim, CE_YAML_ELIMIT,
            "<string>:1:29: document expands to more than 10 nodes (alias expansion bound, max_nodes)");
  CHECK_ERR("a: &a [1, 2, 3]\nb: *a\n", &lim, CE_YAML_ELIMIT,
            "<string>:2:4: document expands to more than 10 nodes (alias expansion bound, max_nodes)");
  /* the bound covers the whole stream: load_all walks every document */
  CHECK_ERR("[1, 2, 3, 4, 5]\n---\n[1, 2, 3, 4, 5]\n", &lim, CE_YAML_ELIMIT,
            "<string>:3:11: documents together expand to more than 10 nodes (alias expansion bound, max_nodes)");
  /* empty documents are nulls (libyaml places them where the next line starts), and count too */
  lim.max_nodes = 2;
  CHECK_ERR("--- 1\n---\n---\n", &lim, CE_YAML_ELIMIT,
            "<string>:4:1: documents together expand to more than 2 nodes (alias expansion bound, max_nodes)");
  lim.max_nodes = 10;
  {
    /* a stream of documents that each stay under the default bound but together blow up */
    sbuf b = {0};
    for (int d = 0; d < 20; d++) {
      sb_add(&b, "---\na: &a [x,x,x,x,x,x,x,x,x,x]\n");
      sb_add(&b, "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n");
      sb_add(&b, "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n");
      sb_add(&b, "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n");
      sb_add(&b, "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n");
    }
    s = ce_yaml_parse(b.p, b.n, NULL, NULL, &e);
    CHECK(s == NULL && e.code == CE_YAML_ELIMIT);
    ce_yaml_free(s);
    free(b.p);
  }
}

static void test_depth(void) {
  ce_err e;
  ce_yaml_stream *s;
  char *t;
  /* 64 levels (containers, plus the scalar leaf when there is one) are fine */
  t = nested(64, "");
  s = parse(t, NULL, &e);
  CHECK(s != NULL);
  ce_yaml_free(s);
  free(t);
  t = nested(63, "1");
  s = parse(t, NULL, &e);
  CHECK(s != NULL);
  ce_yaml_free(s);
  free(t);
  /* 65 are not, located at the node that goes one level too deep */
  t = nested(65, "");
  CHECK_ERR(t, NULL, CE_YAML_ELIMIT, "<string>:1:65: document nested deeper than 64 levels (max_depth)");
  free(t);
  t = nested(64, "1");
  CHECK_ERR(t, NULL, CE_YAML_ELIMIT, "<string>:1:65: document nested deeper than 64 levels (max_depth)");
  free(t);
  /* block style, a custom bound */
  ce_yaml_limits lim = {.max_depth = 3};
  s = parse("a:\n  b: 1\n", &lim, &e);
  CHECK(s != NULL);
  ce_yaml_free(s);
  CHECK_ERR("a:\n  b:\n    c: 1\n", &lim, CE_YAML_ELIMIT,
            "<string>:3:5: document nested deeper than 3 levels (max_depth)");
  CHECK_ERR("a:\n  b:\n    - 1\n", &lim, CE_YAML_ELIMIT,
            "<string>:3:7: document nested deeper than 3 levels (max_depth)");
  /* aliases count with the depth of what they expand to */
  CHECK_ERR("x: &x [1]\ny: *x\nz: [*x]\n", &lim, CE_YAML_ELIMIT,
            "<string>:3:5: document nested deeper than 3 levels (max_depth)");
  lim.max_depth = 4;
  CHECK_ERR("x: &x [[1]]\ny: [[*x]]\n", &lim, CE_YAML_ELIMIT,
            "<string>:2:6: document nested deeper than 4 levels (max_depth)");
  {
    /* 62 levels under a root mapping is 63; aliased at level 3 it would reach 65 */
    char *deep = nested(62, "");
    sbuf b = {0};
    sb_add(&b, "a: &a %s\nb: *a\nc: [*a]\nd: [[*a]]\n", deep);
    CHECK_ERR(b.p, NULL, CE_YAML_ELIMIT,
              "<string>:4:6: document nested deeper than 64 levels (max_depth)");
    free(b.p);
    free(deep);
  }
  /* max_depth is capped at 256 */
  lim.max_depth = 100000;
  t = nested(256, "");
  s = parse(t, &lim, &e);
  CHECK(s != NULL);
  ce_yaml_free(s);
  free(t);
  t = nested(300, "");
  CHECK_ERR(t, &lim, CE_YAML_ELIMIT, "<string>:1:257: document nested deeper than 256 levels (max_depth)");
  free(t);
}

static void test_max_size(void) {
  ce_yaml_limits lim = {.max_size = 8};
  ce_err e;
  ce_yaml_stream *s = parse("a: 12345", &lim, &e); /* exactly 8 bytes */
  CHECK(s != NULL);
  ce_yaml_free(s);
  CHECK_ERR("a: 123456", &lim, CE_YAML_ELIMIT,
            "<string>: input is 9 bytes, over the limit of 8 bytes (max_size)");
  s = ce_yaml_parse("a: 1", 4, "conf.yaml", &lim, &e);
  CHECK(s != NULL);
  ce_yaml_free(s);
  s = ce_yaml_parse("a: 1 # long comment", 19, "conf.yaml", &lim, &e);
  CHECK(s == NULL && e.code == CE_YAML_ELIMIT);
  CHECK_STR(e.msg, "conf.yaml: input is 19 bytes, over the limit of 8 bytes (max_size)");
}

/* ---- syntax errors and their positions ---- */

static void test_syntax_errors(void) {
  CHECK_ERR("key: value: x\n", NULL, CE_YAML_ESYNTAX,
            "<string>:1:11: mapping values are not allowed in this context");
  CHECK_ERR("a: 1\n b: 2\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:3: mapping values are not allowed in this context");
  CHECK_ERR("a: [1, 2\nb: 3\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:2: did not find expected ',' or ']' (while parsing a flow sequence at line 1)");
  CHECK_ERR("a:\n  - 1\n - 2\n", NULL, CE_YAML_ESYNTAX,
            "<string>:3:2: did not find expected key (while parsing a block mapping at line 1)");
  CHECK_ERR("a: \"abc\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:1: found unexpected end of stream (while scanning a quoted scalar at line 1)");
  CHECK_ERR("- a\nb: 1\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:1: did not find expected '-' indicator (while parsing a block collection at line 1)");
  CHECK_ERR("a: 1\n\tb: 2\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:1: found a tab character that violates indentation (while scanning a plain scalar at line 1)");
  CHECK_ERR("ok: 1\nbad: @x\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:6: found character that cannot start any token (while scanning for the next token at line 2)");
  CHECK_ERR("a: &\n", NULL, CE_YAML_ESYNTAX,
            "<string>:1:5: did not find expected alphabetic or numeric character (while scanning an anchor at line 1)");
  /* bad bytes: the position is where they are, not the start of the input */
  CHECK_ERR("a: 1\nb: x\x01y\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:5: control characters are not allowed (#x1)");
  CHECK_ERR("a: 1\nb: \xff\n", NULL, CE_YAML_ESYNTAX,
            "<string>:2:4: invalid leading UTF-8 octet (#xFF)");
  CHECK_ERR("a: 1\r\nb: 2\r\nc: \xc3\xa9\xc3\xa9\xe2\n", NULL, CE_YAML_ESYNTAX,
            "<string>:3:6: incomplete UTF-8 octet sequence");
  CHECK_ERR("a: 1\rb: 2\rc: \xe2\x28\xa1 x\n", NULL, CE_YAML_ESYNTAX,
            "<string>:3:5: invalid trailing UTF-8 octet (#x28)");
  CHECK_ERR("\xef\xbb\xbf" "a: 1\nb: \x02\n", NULL, CE_YAML_ESYNTAX,  /* a BOM takes no column */
            "<string>:2:4: control characters are not allowed (#x2)");
  CHECK_ERR("a: \xc2\x85" "b: \x03\n", NULL, CE_YAML_ESYNTAX,  /* NEL breaks a line for libyaml */
            "<string>:2:4: control characters are not allowed (#x3)");
  /* UTF-16 input: positions count characters, not bytes */
  {
    const char u16[] = "\xff\xfe" "a\0:\0 \0""1\0\n\0""b\0:\0 \0\x01\0\n\0";
    ce_err e;
    ce_yaml_stream *s = ce_yaml_parse(u16, sizeof u16 - 1, NULL, NULL, &e);
    CHECK(s == NULL);
    CHECK_STR(e.msg, "<string>:2:4: control characters are not allowed (#x1)");
    const char u16ok[] = "\xfe\xff" "\0a\0:\0 \0""1";
    s = ce_yaml_parse(u16ok, sizeof u16ok - 1, NULL, NULL, &e);
    CHECK(s && is_int(get(ce_yaml_doc(s, 0), "a"), 1));
    ce_yaml_free(s);
  }
  {
    /* a bad byte far past libyaml's first read */
    sbuf b = {0};
    for (int i = 0; i < 5000; i++) sb_add(&b, "k%d: v\n", i);
    sb_add(&b, "last: \x7f\n");
    ce_err e;
    ce_yaml_stream *s = ce_yaml_parse(b.p, b.n, "big.yaml", NULL, &e);
    CHECK(s == NULL);
    CHECK_STR(e.msg, "big.yaml:5001:7: control characters are not allowed (#x7F)");
    CHECK_INT(e.line, 5001);
    CHECK_INT(e.col, 7);
    free(b.p);
  }
  /* the name given is used, and err carries the position too */
  ce_err e;
  ce_yaml_stream *s = ce_yaml_parse("x: [\n", 5, "cfg/x.yaml", NULL, &e);
  CHECK(s == NULL);
  CHECK_STR(e.msg, "cfg/x.yaml:2:1: did not find expected node content (while parsing a flow node at line 2)");
  CHECK_INT(e.line, 2);
  CHECK_INT(e.col, 1);
  CHECK_INT(e.code, CE_YAML_ESYNTAX);
  /* input with a NUL byte inside */
  s = ce_yaml_parse("a: 1\0b: 2", 9, NULL, NULL, &e);
  CHECK(s == NULL && e.code == CE_YAML_ESYNTAX);
  CHECK_STR(e.msg, "<string>:1:5: control characters are not allowed (#x0)");
}

/* ---- files ---- */

static char tmpdir[256];

static char *write_tmp(const char *name, const char *text, size_t len) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  if (!f) { perror(path); exit(2); }
  fwrite(text, 1, len, f);
  fclose(f);
  return path;
}

static void test_files(void) {
  snprintf(tmpdir, sizeof tmpdir, "%s/ce_test_yaml_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) { perror("mkdtemp"); exit(2); }
  ce_err e;
  ce_yaml_stream *s;

  s = ce_yaml_parse_file("/nonexistent/dir/x.yaml", NULL, &e);
  CHECK(s == NULL);
  CHECK_INT(e.code, CE_YAML_EIO);
  CHECK_STR(e.msg, "/nonexistent/dir/x.yaml: cannot open: No such file or directory");

  s = ce_yaml_parse_file(tmpdir, NULL, &e);
  CHECK(s == NULL);
  CHECK_INT(e.code, CE_YAML_EIO);
  char want[600];
  snprintf(want, sizeof want, "%s: is a directory", tmpdir);
  CHECK_STR(e.msg, want);

  const char *ok = "a: 1\nb: [x, y]\n";
  char *p = write_tmp("ok.yaml", ok, strlen(ok));
  s = ce_yaml_parse_file(p, NULL, &e);
  CHECK(s && is_str(at(get(ce_yaml_doc(s, 0), "b"), 1), "y"));
  ce_yaml_free(s);

  const char *bad = "a: 1\nb: [x, y\n";
  p = write_tmp("bad.yaml", bad, strlen(bad));
  s = ce_yaml_parse_file(p, NULL, &e);
  CHECK(s == NULL && e.code == CE_YAML_ESYNTAX);
  snprintf(want, sizeof want, "%s:3:1: did not find expected ',' or ']' (while parsing a flow sequence at line 2)", p);
  CHECK_STR(e.msg, want);
  unlink(p);

  p = write_tmp("dup.yaml", "a: 1\na: 2\n", 10);
  s = ce_yaml_parse_file(p, NULL, &e);
  snprintf(want, sizeof want, "%s:2:1: duplicate key 'a' (first at line 1)", p);
  CHECK(s == NULL);
  CHECK_STR(e.msg, want);
  unlink(p);

  /* max_size: exactly at the limit is fine, one byte over is not */
  ce_yaml_limits lim = {.max_size = 16};
  p = write_tmp("sized.yaml", "a: 123456789012\n", 16);
  s = ce_yaml_parse_file(p, &lim, &e);
  CHECK(s != NULL);
  ce_yaml_free(s);
  unlink(p);
  p = write_tmp("sized.yaml", "a: 1234567890123\n", 17);
  s = ce_yaml_parse_file(p, &lim, &e);
  CHECK(s == NULL && e.code == CE_YAML_ELIMIT);
  snprintf(want, sizeof want, "%s:1:1: file is over the limit of 16 bytes (max_size)", p);
  CHECK_STR(e.msg, want);
  /* a large file and a limit of SIZE_MAX (no overflow in the read loop) */
  {
    sbuf b = {0};
    for (int i = 0; i < 20000; i++) sb_add(&b, "k%d: %d\n", i, i);
    p = write_tmp("large.yaml", b.p, b.n);
    lim.max_size = SIZE_MAX;
    double t0 = now();
    s = ce_yaml_parse_file(p, &lim, &e);
    double dt = now() - t0;
    CHECK(s && ce_yaml_doc(s, 0)->u.seq.n == 40000);
    check_(dt < 2.0, __FILE__, __LINE__, "reading %zu bytes with max_size SIZE_MAX took %.2f s", b.n, dt);
    ce_yaml_free(s);
    lim.max_size = b.n - 1;
    s = ce_yaml_parse_file(p, &lim, &e);
    CHECK(s == NULL && e.code == CE_YAML_ELIMIT);
    unlink(p);
    free(b.p);
  }
  /* an empty file has no documents */
  p = write_tmp("empty.yaml", "", 0);
  s = ce_yaml_parse_file(p, NULL, &e);
  CHECK(s && ce_yaml_ndocs(s) == 0);
  ce_yaml_free(s);
  unlink(p);
  /* /dev/null reads as empty; no size from stat needed */
  s = ce_yaml_parse_file("/dev/null", NULL, &e);
  CHECK(s && ce_yaml_ndocs(s) == 0);
  ce_yaml_free(s);
  rmdir(tmpdir);
}

/* err may be NULL: failure is still reported by the return value */
static void test_null_err(void) {
  CHECK(ce_yaml_parse("[", 1, NULL, NULL, NULL) == NULL);
  CHECK(ce_yaml_parse_file("/nonexistent", NULL, NULL) == NULL);
  ce_yaml_stream *s = ce_yaml_parse("a", 1, NULL, NULL, NULL);
  CHECK(s != NULL);
  ce_yaml_free(s);
}

int main(void) {
  struct { const char *name; void (*fn)(void); } tests[] = {
    {"ints", test_ints},
    {"floats", test_floats},
    {"bools_nulls", test_bools_nulls},
    {"quoted_and_tags", test_quoted_and_tags},
    {"resolve_plain", test_resolve_plain},
    {"collections", test_collections},
    {"aliases", test_aliases},
    {"merges", test_merges},
    {"documents", test_documents},
    {"duplicates", test_duplicates},
    {"alias_bomb", test_alias_bomb},
    {"depth", test_depth},
    {"max_size", test_max_size},
    {"syntax_errors", test_syntax_errors},
    {"files", test_files},
    {"null_err", test_null_err},
  };
  for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
    int before = failures;
    tests[i].fn();
    release_all();
    printf("%-16s %s\n", tests[i].name, failures == before ? "ok" : "FAILED");
  }
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
