/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/util/json.h"

static const char *enc(ce_buf *b, const char *s, size_t n) {
  b->len = 0;
  ce_json_write_string(b, s, n);
  return b->data;
}
#define ENC(b, lit) enc(b, lit, sizeof lit - 1)

/* Written apart from the encoder: decodes s as UTF-8 and checks every code
 * point (shortest form, no surrogates, at most U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + (size_t)len > n) return 0;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (int k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += (size_t)len;
  }
  return 1;
}

/* ce_json_write_double as it was: each of %.15g, %.16g, %.17g printed and
 * read back. The faster one derives the three from one print and must
 * write the same text for every double. */
static void reference_double(char *out, double v) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, 40, "%.*g", prec, v);
    if (strtod(out, NULL) == v) break;
  }
  if (!strpbrk(out, ".eEn")) strcat(out, ".0");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_u64(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int same_double_text(double v, ce_buf *b) {
  if (!isfinite(v)) return 1;
  char want[48];
  b->len = 0;
  CHECK(ce_json_write_double(b, v) == 0);
  /* values of few decimals take another path first (write_short_decimal) */
  double back = strtod(b->data, NULL);
  if (back != v) {
    fprintf(stderr, "%.17g written as %.*s, which reads back as %.17g\n", v, (int)b->len, b->data, back);
    return 0;
  }
  /* a value of at most 6 decimals takes the short path, which is unchanged */
  static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  for (int d = 0; d <= 6; d++) {
    double x = v * scale[d];
    if (!(fabs(x) < 9007199254740992.0)) break;
    if (nearbyint(x) / scale[d] == v) return 1;
  }
  reference_double(want, v);
  if (strlen(want) == b->len && memcmp(want, b->data, b->len) == 0) return 1;
  fprintf(stderr, "%.17g written as %.*s, was %s\n", v, (int)b->len, b->data, want);
  return 0;
}

static void check_doubles(void) {
  ce_buf b;
  ce_buf_init(&b);
  int bad = 0;
  for (int i = 0; i < 100000 && bad < 5; i++) {
    uint64_t u = next_u64();
    double v;
    memcpy(&v, &u, sizeof v);
    bad += !same_double_text(v, &b);                                                  /* any bit pattern */
    bad += !same_double_text((double)(u >> 11) / 9007199254740992.0 * 1000.0, &b);    /* latencies in ms */
    bad += !same_double_text((double)(u % 100000000) / 1e8 + (double)(u >> 40), &b); /* decimals */
    double p10 = pow(10.0, (double)((int)(u % 40) - 20));
    bad += !same_double_text(p10, &b);
    bad += !same_double_text(nextafter(p10, 0), &b);
    bad += !same_double_text(nextafter(p10, 1e300), &b);
    bad += !same_double_text(9.5 * p10, &b);
    bad += !same_double_text(nextafter(9.9999999999999995 * p10, 0), &b);
    /* near a tie at 15, 16 or 17 digits, where the x87 digits (wide_g)
     * must give way to printf: a decimal of that many digits plus one half
     * in its last place, and the doubles either side */
    int digits = 15 + (int)(u % 3);
    double whole = (double)(u >> 24 | 1) + pow(10.0, digits - 1);
    double tie = (whole + 0.5) * pow(10.0, (double)((int)(u >> 8 & 31) - 16 - digits));
    bad += !same_double_text(tie, &b);
    bad += !same_double_text(nextafter(tie, 0), &b);
    bad += !same_double_text(nextafter(tie, 1e300), &b);
  }
  static const double edge[] = {0.1 + 0.2, 1e23, 2.675, 0.15, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                                123456789012345678.0, 0.000099999999999999991, 1e15 + 0.3, 1e16 + 2, -0.0001234567890123456};
  for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) bad += !same_double_text(edge[i], &b);
  /* the writer keeps its last two slow-path texts: values written again,
   * in turn, and next to a neighbour one bit away, still get their own */
  double pool[5];
  for (int i = 0; i < 5; i++) pool[i] = (double)(next_u64() >> 11) / 9007199254740992.0 * 1000.0;
  pool[1] = nextafter(pool[0], 1e300);
  pool[2] = -pool[0];
  for (int i = 0; i < 2000 && bad < 5; i++) {
    double v = pool[(i * 7 + i / 3) % 5];
    bad += !same_double_text(v, &b);
    if (i % 4 == 0) bad += !same_double_text(v, &b);
  }
  CHECK(bad == 0);
  ce_buf_free(&b);
}

/* a reader that skips the value of every key named "skip" and counts the
 * callbacks it gets */
typedef struct { int values, keys; } tally;
static int t_null(void *ud) { ((tally *)ud)->values++; return 0; }
static int t_bool(void *ud, int v) { (void)v; ((tally *)ud)->values++; return 0; }
static int t_int(void *ud, int64_t v) { (void)v; ((tally *)ud)->values++; return 0; }
static int t_num(void *ud, double v) { (void)v; ((tally *)ud)->values++; return 0; }
static int t_str(void *ud, const char *s, size_t n) { (void)s, (void)n; ((tally *)ud)->values++; return 0; }
static int t_open(void *ud) { ((tally *)ud)->values++; return 0; }
static int t_close(void *ud) { (void)ud; return 0; }
static int t_key(void *ud, const char *s, size_t n) {
  ((tally *)ud)->keys++;
  return n == 4 && memcmp(s, "skip", 4) == 0 ? CE_JSON_SKIP : 0;
}
static const ce_json_handler SKIPPER = {t_null, t_bool, t_int, t_num, t_str, t_open, t_close, t_open, t_key, t_close};
static const ce_json_handler NOSKIP = {t_null, t_bool, t_int, t_num, t_str, t_open, t_close, t_open, NULL, t_close};

/* What a reader saw outside the values of "skip" keys, as a hash of its
 * events: the reader that skips them (SEEN_SKIP), and one that reads them
 * and leaves them out itself (SEEN_READ). */
typedef struct { uint64_t h; int pending, inside; } seen;
static void mixin(seen *v, uint64_t x) { v->h = (v->h ^ x) * 0x100000001b3ull; }
static int hidden(seen *v, int opens, int closes) {
  if (v->inside) {
    v->inside += opens - closes;
    return 1;
  }
  if (v->pending) {
    v->pending = 0;
    v->inside = opens;
    return 1;
  }
  return 0;
}
static int s_null(void *ud) { if (!hidden(ud, 0, 0)) mixin(ud, 1); return 0; }
static int s_bool(void *ud, int b) { if (!hidden(ud, 0, 0)) mixin(ud, 2 + (uint64_t)b); return 0; }
static int s_int(void *ud, int64_t i) { if (!hidden(ud, 0, 0)) mixin(ud, 4 + (uint64_t)i * 7); return 0; }
static int s_num(void *ud, double d) {
  uint64_t x;
  memcpy(&x, &d, 8);
  if (!hidden(ud, 0, 0)) mixin(ud, 5 + x);
  return 0;
}
static int s_str(void *ud, const char *s, size_t n) {
  if (hidden(ud, 0, 0)) return 0;
  mixin(ud, 6);
  for (size_t i = 0; i < n; i++) mixin(ud, (unsigned char)s[i]);
  return 0;
}
static int s_open(void *ud) { if (!hidden(ud, 1, 0)) mixin(ud, 8); return 0; }
static int s_close(void *ud) { if (!hidden(ud, 0, 1)) mixin(ud, 9); return 0; }
static int s_key(void *ud, const char *s, size_t n, int skip) {
  seen *v = ud;
  if (v->inside) return 0;
  if (n == 4 && memcmp(s, "skip", 4) == 0) {
    if (skip) return CE_JSON_SKIP;
    v->pending = 1;
    return 0;
  }
  mixin(ud, 10);
  for (size_t i = 0; i < n; i++) mixin(ud, (unsigned char)s[i]);
  return 0;
}
static int s_key_skip(void *ud, const char *s, size_t n) { return s_key(ud, s, n, 1); }
static int s_key_read(void *ud, const char *s, size_t n) { return s_key(ud, s, n, 0); }
static const ce_json_handler SEEN_SKIP = {s_null, s_bool, s_int, s_num, s_str, s_open, s_close, s_open, s_key_skip, s_close};
static const ce_json_handler SEEN_READ = {s_null, s_bool, s_int, s_num, s_str, s_open, s_close, s_open, s_key_read, s_close};

/* A skipped value is checked as a read one is: the same error, at the
 * same place, or none; and what comes after it is read the same. */
static int same_verdict(const char *text) {
  ce_err a, b;
  tally t = {0, 0};
  int ra = ce_json_parse(text, strlen(text), "t", 0, &SKIPPER, &t, NULL, &a);
  int rb = ce_json_parse(text, strlen(text), "t", 0, &NOSKIP, &t, NULL, &b);
  if (ra != rb || (ra && strcmp(a.msg, b.msg) != 0)) {
    fprintf(stderr, "%s: skipped %d '%s', read %d '%s'\n", text, ra, ra ? a.msg : "", rb, rb ? b.msg : "");
    return 0;
  }
  if (ra == 0) {
    seen vs = {0xcbf29ce484222325ull, 0, 0}, vr = vs;
    ce_json_parse(text, strlen(text), "t", 0, &SEEN_SKIP, &vs, NULL, &a);
    ce_json_parse(text, strlen(text), "t", 0, &SEEN_READ, &vr, NULL, &b);
    if (vs.h != vr.h) {
      fprintf(stderr, "%s: read otherwise after a skipped value\n", text);
      return 0;
    }
  }
  return 1;
}

/* the string a parse reported, kept */
typedef struct {
  char s[128];
  size_t n;
  int strings;
} got_string;
static int g_str(void *ud, const char *s, size_t n) {
  got_string *g = ud;
  g->strings++;
  if (n > sizeof g->s) return 1;
  memcpy(g->s, s, n);
  g->n = n;
  return 0;
}
static const ce_json_handler STRING_ONLY = {NULL, NULL, NULL, NULL, g_str, NULL, NULL, NULL, NULL, NULL};

/* A byte that ends a run of string text is caught in every lane of the
 * 16- and 8-byte scans and in the byte-wise tail: strings of 40 and 47
 * bytes (two 16-byte steps, then 8 and 7 or 15 bytes) with the byte at each
 * place. An escape decodes, a raw control byte is an error at its column,
 * a quote ends the string there, and other bytes pass as they are. */
static void check_parse_lanes(void) {
  static const unsigned char probe[] = {0x00, 0x01, 0x1f, 0x20, 0x21, '"', 0x23, '[', '\\', ']', 0x7e, 0x7f, 0x80, 0xc3};
  int ok = 1;
  for (size_t k = 0; k < sizeof probe; k++) {
    for (size_t len = 40; len <= 47; len += 7) {
      for (size_t pos = 0; pos < len; pos++) {
        char text[64];
        size_t w = 0;
        text[w++] = '"';
        memset(text + w, 'a', pos), w += pos;
        unsigned char c = probe[k];
        if (c == '\\') text[w++] = '\\', text[w++] = 'n'; /* decodes to a newline */
        else text[w++] = (char)c;
        memset(text + w, 'b', len - pos - 1), w += len - pos - 1;
        text[w++] = '"';
        got_string g = {{0}, 0, 0};
        ce_err e;
        int rc = ce_json_parse(text, w, "t", 0, &STRING_ONLY, &g, NULL, &e);
        if (c < 0x20) {
          char want[64];
          snprintf(want, sizeof want, "t:1:%zu: control character in string (escape it)", pos + 2);
          if (rc == 0 || strcmp(e.msg, want) != 0) ok = 0;
        } else if (c == '"') {
          /* the string ends at the quote and what follows is not JSON */
          if (rc == 0 || g.strings != 1 || g.n != pos) ok = 0;
        } else {
          char want[64];
          memset(want, 'a', pos);
          want[pos] = c == '\\' ? '\n' : (char)c;
          memset(want + pos + 1, 'b', len - pos - 1);
          if (rc != 0 || g.strings != 1 || g.n != len || memcmp(g.s, want, len) != 0) ok = 0;
        }
        if (!ok) {
          fprintf(stderr, "parse lanes: byte 0x%02x at %zu of %zu\n", c, pos, len);
          CHECK(ok);
          return;
        }
      }
    }
  }
  CHECK(ok);
}

static void check_skip(void) {
  const char *text = "{\"a\":1,\"skip\":{\"x\":[1.5,2e3,\"s\\n\",true,null,{\"skip\":3}],\"y\":-0.25},\"b\":[0.5]}";
  tally t = {0, 0};
  ce_err e;
  CHECK(ce_json_parse(text, strlen(text), "t", 0, &SKIPPER, &t, NULL, &e) == 0);
  /* the top object, a, b's array and its number; nothing of the skipped value */
  CHECK(t.values == 4);
  CHECK(t.keys == 3);
  static const char *const bad[] = {
    "{\"skip\":1e999}", "{\"skip\":[-1e400]}", "{\"skip\":01}", "{\"skip\":1.}", "{\"skip\":1e}",
    "{\"skip\":\"\\q\"}", "{\"skip\":\"\\ud800\"}", "{\"skip\":\"a\nb\"}", "{\"skip\":[1,]}",
    "{\"skip\":{\"k\" 1}}", "{\"skip\":tru}", "{\"skip\":[[[[[[[[", "{\"skip\":\"open",
    "{\"skip\":1.5e308, \"n\":2}", "{\"skip\":123456789012345678901234567890,\"z\":1}", "{\"skip\":1}x",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(same_verdict(bad[i]));
  /* more digits than a double spans, without an exponent: out of range all the same */
  char big[420] = "{\"skip\":";
  size_t n = strlen(big);
  big[n++] = '1';
  while (n < 400) big[n++] = '0';
  big[n++] = '}';
  big[n] = 0;
  CHECK(same_verdict(big));
  ce_err be;
  CHECK(ce_json_parse(big, strlen(big), "t", 0, &SKIPPER, &t, NULL, &be) != 0);
  /* too deep is too deep, skipped or not */
  char deep[1200] = "{\"skip\":";
  n = strlen(deep);
  for (int i = 0; i < 600; i++) deep[n++] = '[';
  deep[n] = 0;
  CHECK(same_verdict(deep));
  /* a question's line with its graph and model skipped, damaged a byte or
   * three at a time: the fast skip and the careful read agree on every one */
  const char *seed =
    "{\"id\":\"q-1\",\"skip\":{\"edges\":[[\"B\",\"C\"],[\"C\",\"A\"]],\"nodes\":[\"B\",\"C\",\"A\"],"
    "\"model\":[{\"name\":\"B\",\"p\":[0.16],\"parents\":[]},{\"name\":\"C\",\"p\":[0.8,-0.14,1e-3],"
    "\"parents\":[\"B\"]}],\"t\":true,\"f\":false,\"n\":null,\"s\":\"a \\\"quoted\\\" \\u00e9 word\",\"z\":0,"
    "\"deep\":[[[{}]],[]],\"w\":\"\xc3\xa9t\xc3\xa9\"},\"prompt\":\"Does A cause B?\",\"rung\":2}";
  static const char alphabet[] = "{}[]\":,\\ \t\n0123456789.eE+-tfnulrsa\x01\x1f\x7f\xc3\xff";
  char doc[600];
  int disagree = 0;
  CHECK(same_verdict(seed));
  for (int i = 0; i < 30000 && disagree < 5; i++) {
    size_t len = strlen(seed);
    memcpy(doc, seed, len + 1);
    int edits = 1 + (int)(next_u64() % 3);
    for (int k = 0; k < edits && len > 0; k++) {
      size_t at = (size_t)(next_u64() % len);
      char c = alphabet[next_u64() % (sizeof alphabet - 1)];
      switch (next_u64() % 4) {
        case 0: doc[at] = c; break;
        case 1: memmove(doc + at, doc + at + 1, len - at); len--; break;
        case 2: memmove(doc + at + 1, doc + at, len - at + 1); doc[at] = c; len++; break;
        default: doc[at] = 0; len = at; break;
      }
    }
    disagree += !same_verdict(doc);
  }
  CHECK(disagree == 0);
}

/* what a parse reported of a number: its kind and value */
typedef struct {
  int kind; /* 1 integer, 2 double */
  int64_t i;
  double d;
} got_number;
static int n_int(void *ud, int64_t v) {
  got_number *g = ud;
  g->kind = 1;
  g->i = v;
  return 0;
}
static int n_num(void *ud, double v) {
  got_number *g = ud;
  g->kind = 2;
  g->d = v;
  return 0;
}
static const ce_json_handler NUMBER_ONLY = {NULL, NULL, n_int, n_num, NULL, NULL, NULL, NULL, NULL, NULL};

/* Numbers read as strtoll and strtod read them, bit for bit: the short
 * ones the parser sums itself, the others it hands to libc. */
static void check_numbers(void) {
  char text[64];
  int bad = 0;
  for (int i = 0; i < 400000 && bad < 5; i++) {
    size_t n = 0;
    if (next_u64() % 3 == 0) text[n++] = '-';
    int ints = 1 + (int)(next_u64() % 20), fracs = (int)(next_u64() % 4 == 0 ? 0 : next_u64() % 20);
    int zero_lead = next_u64() % 4 == 0;
    if (zero_lead) text[n++] = '0';
    else
      for (int k = 0; k < ints; k++) text[n++] = (char)('0' + (k == 0 ? 1 + next_u64() % 9 : next_u64() % 10));
    if (fracs) {
      text[n++] = '.';
      for (int k = 0; k < fracs; k++) text[n++] = (char)('0' + next_u64() % (k % 3 == 0 ? 2 : 10));
    }
    text[n] = 0;
    got_number g = {0, 0, 0};
    ce_err e;
    if (ce_json_parse(text, n, "n", 0, &NUMBER_ONLY, &g, NULL, &e) != 0) {
      fprintf(stderr, "%s: %s\n", text, e.msg);
      bad++;
      continue;
    }
    int ok;
    if (!fracs) {
      errno = 0;
      long long v = strtoll(text, NULL, 10);
      ok = errno == ERANGE ? g.kind == 2 && g.d == strtod(text, NULL) : g.kind == 1 && g.i == v;
    } else {
      double v = strtod(text, NULL);
      ok = g.kind == 2 && memcmp(&g.d, &v, sizeof v) == 0;
    }
    if (!ok) {
      fprintf(stderr, "%s: read %s %lld / %.17g\n", text, g.kind == 1 ? "integer" : "double", (long long)g.i, g.d);
      bad++;
    }
  }
  CHECK(bad == 0);
}

int main(void) {
  ce_buf b;
  ce_buf_init(&b);
  /* what JSON needs escaped, and well-formed UTF-8 as it is */
  CHECK_STR(ENC(&b, "a\"b\\c\n\x01\x7f"), "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
  CHECK_STR(ENC(&b, "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
            "\"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
  /* each maximal ill-formed subpart becomes one U+FFFD (Unicode 3.9) */
#define R "\xef\xbf\xbd"
  CHECK_STR(ENC(&b, "a\xffz"), "\"a" R "z\"");
  CHECK_STR(ENC(&b, "\xe2\x82x"), "\"" R "x\"");                   /* cut short */
  CHECK_STR(ENC(&b, "\xf0\x9f\x98"), "\"" R "\"");                 /* cut short at the end */
  CHECK_STR(ENC(&b, "\xc0\x80"), "\"" R R "\"");                   /* overlong */
  CHECK_STR(ENC(&b, "\xe0\x80\x80"), "\"" R R R "\"");             /* overlong */
  CHECK_STR(ENC(&b, "\xed\xa0\x80"), "\"" R R R "\"");             /* a surrogate */
  CHECK_STR(ENC(&b, "\xf4\x90\x80\x80"), "\"" R R R R "\"");       /* above U+10FFFF */
  CHECK_STR(ENC(&b, "\x80\xbf"), "\"" R R "\"");                   /* stray continuations */
  CHECK_STR(ENC(&b, "\xe2\x86\xe2\x86\x92"), "\"" R "\xe2\x86\x92\""); /* a good one right after */
#undef R
  /* whatever the bytes, the output is UTF-8 */
  static const unsigned char pool[] = {'a', '"', 0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe2, 0xed,
                                       0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0, 0x8f, 0x90};
  uint64_t x = 88172645463325252ull;
  int all_valid = 1;
  for (int round = 0; round < 20000; round++) {
    unsigned char s[12];
    for (size_t i = 0; i < sizeof s; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s[i] = pool[x % sizeof pool];
    }
    size_t n = (size_t)(x >> 40) % (sizeof s + 1);
    enc(&b, (const char *)s, n);
    if (b.oom || !valid_utf8((const unsigned char *)b.data, b.len)) all_valid = 0;
  }
  CHECK(all_valid);
  /* a byte that needs escaping is caught in every lane of the 16- and 8-byte scans,
   * and its neighbours in value pass as they are */
  static const unsigned char probe[] = {0x00, 0x01, 0x1f, 0x20, 0x21, '"', 0x23, '[', '\\', ']', 0x7e, 0x7f, 0x80, 0xc3};
  int lanes_ok = 1;
  for (size_t k = 0; k < sizeof probe; k++) {
    char one[1] = {(char)probe[k]};
    enc(&b, one, 1);
    char esc[16];
    size_t elen = b.len - 2;
    memcpy(esc, b.data + 1, elen);
    /* up to 17 bytes: the short strings' one-pass copy and its way back to
     * the scans; 40 and 47: 16-byte steps, then 8 and 7 or 15 bytes */
    static const size_t lens[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 40, 47};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
      for (size_t len = lens[li], pos = 0; pos < len; pos++) {
        char s[47], want[72];
        memset(s, 'a', len);
        s[pos] = (char)probe[k];
        size_t w = 0;
        want[w++] = '"';
        memset(want + w, 'a', pos), w += pos;
        memcpy(want + w, esc, elen), w += elen;
        memset(want + w, 'a', len - pos - 1), w += len - pos - 1;
        want[w++] = '"';
        enc(&b, s, len);
        if (b.len != w || memcmp(b.data, want, w) != 0) lanes_ok = 0;
      }
  }
  CHECK(lanes_ok);
  ce_buf_free(&b);
  /* short text written into a buffer at every fill up to and past its
   * end: the one-pass copy takes only the room it has, and the text that
   * came before stays as it was, NUL-terminated */
  int fill_ok = 1;
  for (size_t before = 240; before <= 256; before++) {
    ce_buf f;
    ce_buf_init(&f);
    char pre[256];
    memset(pre, 'p', before);
    ce_buf_add(&f, pre, before);
    ce_json_write_string(&f, "yes-no", 6);
    ce_json_write_string(&f, "a\"b", 3);
    const char *want = "\"yes-no\"\"a\\\"b\"";
    if (f.oom || f.len != before + strlen(want) || memcmp(f.data, pre, before) != 0 ||
        strcmp(f.data + before, want) != 0)
      fill_ok = 0;
    ce_buf_free(&f);
  }
  CHECK(fill_ok);
  check_skip();
  check_numbers();
  check_parse_lanes();
  check_doubles();
  return check_report("test_json");
}
