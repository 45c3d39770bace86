/* SPDX-License-Identifier: MIT */
#include "core/util/json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

void ce_buf_init(ce_buf *b) { memset(b, 0, sizeof *b); }

void ce_buf_free(ce_buf *b) {
  free(b->data);
  ce_buf_init(b);
}

/* room for extra more bytes: 0, or -1 with oom set */
static int buf_reserve(ce_buf *b, size_t extra) {
  if (b->oom) return -1;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) { b->oom = 1; return -1; }
    cap *= 2;
  }
  char *d = realloc(b->data, cap);
  if (!d) {
    b->oom = 1;
    return -1;
  }
  b->data = d;
  b->cap = cap;
  return 0;
}

void ce_buf_add_grow(ce_buf *b, const char *s, size_t n) {
  if (buf_reserve(b, n)) return;
  if (n) memcpy(b->data + b->len, s, n); /* s may be NULL when n is 0 (an entry without labels) */
  b->len += n;
  b->data[b->len] = '\0';
}

void ce_buf_addc_grow(ce_buf *b, char c) {
  if (buf_reserve(b, 1)) return;
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

void ce_buf_adds(ce_buf *b, const char *s) { ce_buf_add(b, s, strlen(s)); }

/* ---- writer ---- */

/* 1 for the bytes a JSON string cannot hold as they are, 2 for the first
 * byte of a multi-byte sequence, which must be checked: prompts are long
 * runs of plain text, skipped a table lookup per byte and copied at once */
static const unsigned char needs_escape[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  ['"'] = 1, ['\\'] = 1, [0x7f] = 1, [0x80 ... 0xff] = 2,
};

/* The length (2-4) of the well-formed UTF-8 sequence at s, or minus the
 * length of its maximal ill-formed subpart (Unicode 15, section 3.9, table
 * 3-7: no overlong forms, no surrogates, nothing above U+10FFFF). */
static int utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0], lo = 0x80, hi = 0xbf;
  int need;
  if (c >= 0xc2 && c <= 0xdf) need = 1;
  else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    if (c == 0xe0) lo = 0xa0;
    else if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    if (c == 0xf0) lo = 0x90;
    else if (c == 0xf4) hi = 0x8f;
  } else {
    return -1;
  }
  for (int k = 1; k <= need; k++) {
    if ((size_t)k >= n || s[k] < lo || s[k] > hi) return -k;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

/* The high bit of each of the 8 bytes at p that needs a look (control,
 * '"', '\\', DEL, non-ASCII), 0 when none does: prompts and answers are
 * mostly such runs, and a byte at a time was most of the cost of writing
 * a record. */
static inline uint64_t special8(const char *p) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t x;
  memcpy(&x, p, 8);
  uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\'), del = x ^ (ones * 0x7f);
  uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | ((del - ones) & ~del) | x;
  return hit & high;
}

/* How many of the 8 bytes flagged by hit (special8, special8_text) come
 * before the first that needs a look: the lowest flag is exact in every
 * test above (a borrow only moves upwards, past a byte that matched), so
 * on a little-endian machine its position says where a short string ends
 * without a byte-by-byte walk, which was most of the cost of keys and
 * short values. Elsewhere 0: the byte loop after it finds the place. */
static inline unsigned plain_prefix8(uint64_t hit) {
  if (!hit) return 8;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return (unsigned)__builtin_ctzll(hit) >> 3;
#else
  return 0;
#endif
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* 16 bytes a step where the machine has SSE2 (every x86-64): half the
 * steps of special8's, each a few compares. plain_prefix16 flags what
 * special8 does; plain_prefix16_text what special8_text does. Each gives
 * how many bytes at p come before the first flagged, 16 when none is. */
static inline unsigned first_flag16(__m128i hit) {
  unsigned m = (unsigned)_mm_movemask_epi8(hit);
  return m ? (unsigned)__builtin_ctz(m) : 16;
}
static inline unsigned plain_prefix16(const char *p) {
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
  /* signed: below 0x20 is a control byte or one of 0x80 and above */
  __m128i hit = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
  hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
  return first_flag16(_mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));
}
static inline unsigned plain_prefix16_text(const char *p) {
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
  /* x - 0x1f saturating is 0 for the control bytes alone */
  __m128i hit = _mm_cmpeq_epi8(_mm_subs_epu8(x, _mm_set1_epi8(0x1f)), _mm_setzero_si128());
  hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
  return first_flag16(_mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
}
#endif

/* JSON text is UTF-8 (RFC 8259), and a reply may hold any bytes. Each
 * maximal ill-formed subpart becomes U+FFFD, as WHATWG and Unicode
 * recommend: a \u escape names a character, not a byte, so no escape could
 * keep the bytes, and every JSON reader accepts the result. This is the
 * general path, kept apart so that ce_json_write_string's path for short
 * plain text is a small function of its own. */
static __attribute__((noinline)) void write_string_slow(ce_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (buf_reserve(b, n + 2)) return;
  ce_buf_addc(b, '"');
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    /* 16 or 8 bytes at a time up to those that hold one that needs a look */
#if defined(__SSE2__)
    while (i + 16 <= n) {
      unsigned k = plain_prefix16(s + i);
      i += k;
      if (k < 16) break;
    }
    if (i + 16 > n) /* the tail: 8 bytes at a time */
#endif
    while (i + 8 <= n) {
      unsigned k = plain_prefix8(special8(s + i));
      i += k;
      if (k < 8) break;
    }
    while (i < n && !needs_escape[(unsigned char)s[i]]) i++;
    if (i >= n) break;
    unsigned char c = (unsigned char)s[i];
    if (needs_escape[c] == 2) {
      int len = utf8_seq((const unsigned char *)s + i, n - i);
      if (len > 0) {
        i += (size_t)len - 1;
        continue;
      }
      ce_buf_add(b, s + start, i - start);
      ce_buf_add(b, "\xef\xbf\xbd", 3);
      i += (size_t)-len - 1;
      start = i + 1;
      continue;
    }
    const char *esc;
    char u[7];
    if (c == '"') esc = "\\\"";
    else if (c == '\\') esc = "\\\\";
    else if (c == '\n') esc = "\\n";
    else if (c == '\r') esc = "\\r";
    else if (c == '\t') esc = "\\t";
    else if (c == '\b') esc = "\\b";
    else if (c == '\f') esc = "\\f";
    else {
      u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
      u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
      esc = u;
    }
    ce_buf_add(b, s + start, i - start);
    ce_buf_adds(b, esc);
    start = i + 1;
  }
  ce_buf_add(b, s + start, n - start);
  ce_buf_addc(b, '"');
}

void ce_json_write_string(ce_buf *b, const char *s, size_t n) {
  /* Short plain text (keys, labels, a model's name, a yes or a no) checked
   * and copied in one pass: the general path cost about 130 instructions
   * for a string of five bytes, and a record writes some forty such. One
   * that needs a look is written again by the general path, from the same
   * place. */
  if (n <= 16 && !b->oom && b->len + n + 3 <= b->cap) {
    char *d = b->data + b->len;
    size_t i = 0;
    while (i < n && !needs_escape[(unsigned char)s[i]]) {
      d[i + 1] = s[i];
      i++;
    }
    if (i == n) {
      d[0] = '"';
      d[n + 1] = '"';
      d[n + 2] = '\0';
      b->len += n + 2;
      return;
    }
  }
  write_string_slow(b, s, n);
}

/* the powers of ten a double holds exactly */
static const double POW10D[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Fast path: v is the double nearest to r / 10^d for a small d (0..6) and a
 * small integer r, which covers probabilities, percentages and counts. The
 * division is correctly rounded, so r / 10^d == v proves the decimal reads
 * back as v, and it is the shortest once trailing zeros are dropped. */
static int write_short_decimal(ce_buf *b, double v) {
  for (int d = 0; d <= 6; d++) {
    double x = v * POW10D[d];
    if (!(fabs(x) < 9007199254740992.0)) return 0; /* 2^53 */
    double r = nearbyint(x);
    if (r / POW10D[d] != v) continue;
    long long n = (long long)r;
    char digits[32];
    int neg = n < 0 || (n == 0 && signbit(v));
    unsigned long long u = n < 0 ? (unsigned long long)(-(n + 1)) + 1 : (unsigned long long)n;
    int len = snprintf(digits, sizeof digits, "%llu", u);
    char out[48];
    int o = 0;
    if (neg) out[o++] = '-';
    if (d == 0) {
      memcpy(out + o, digits, (size_t)len);
      o += len;
      out[o++] = '.';
      out[o++] = '0';
    } else {
      int intlen = len - d;
      if (intlen <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -intlen; i++) out[o++] = '0';
        memcpy(out + o, digits, (size_t)len);
        o += len;
      } else {
        memcpy(out + o, digits, (size_t)intlen);
        o += intlen;
        out[o++] = '.';
        memcpy(out + o, digits + intlen, (size_t)d);
        o += d;
      }
      while (out[o - 1] == '0' && out[o - 2] != '.') o--; /* d was the smallest: rarely trims */
    }
    ce_buf_add(b, out, (size_t)o);
    return 1;
  }
  return 0;
}

/* What "%.{prec}g" prints, from the 17 significant digits d (each '0'..'9')
 * of the value's "%.16e" and its exponent: the digits rounded to prec,
 * then printed as %g does. 0 when the rounding is a tie at 17 digits,
 * where rounding the exact value and rounding its 17 digits may differ. */
static int g_from_digits(char *out, int neg, const char *d17, int exp10, int prec) {
  char d[18];
  memcpy(d, d17, 17);
  if (prec < 17) {
    int tail_zero = 1;
    for (int i = prec + 1; i < 17; i++) tail_zero &= d[i] == '0';
    if (d[prec] == '5' && tail_zero) return 0;
    if (d[prec] >= '5') {
      int i = prec - 1;
      while (i >= 0 && d[i] == '9') d[i--] = '0';
      if (i >= 0) {
        d[i]++;
      } else { /* 9.99... rounds up to 10.0...: one digit more in front */
        memmove(d + 1, d, (size_t)prec - 1);
        d[0] = '1';
        exp10++;
      }
    }
  }
  int n = prec;
  while (n > 1 && d[n - 1] == '0') n--; /* %g drops trailing zeros */
  char *o = out;
  if (neg) *o++ = '-';
  if (exp10 < -4 || exp10 >= prec) {
    *o++ = d[0];
    if (n > 1) {
      *o++ = '.';
      memcpy(o, d + 1, (size_t)n - 1);
      o += n - 1;
    }
    int e = exp10 < 0 ? -exp10 : exp10;
    *o++ = 'e';
    *o++ = exp10 < 0 ? '-' : '+';
    if (e >= 100) *o++ = (char)('0' + e / 100);
    *o++ = (char)('0' + e / 10 % 10);
    *o++ = (char)('0' + e % 10);
  } else if (exp10 >= 0) {
    int whole = exp10 + 1;
    for (int i = 0; i < whole; i++) *o++ = i < n ? d[i] : '0';
    if (n > whole) {
      *o++ = '.';
      memcpy(o, d + whole, (size_t)(n - whole));
      o += n - whole;
    }
  } else {
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -exp10 - 1; i++) *o++ = '0';
    memcpy(o, d, (size_t)n);
    o += n;
  }
  *o = 0;
  return 1;
}

#if LDBL_MANT_DIG >= 64
/* The %.{prec}g text of v from x87-wide arithmetic, without printf: 0 when
 * this cannot be sure of it (the caller prints it then). Each of prec 15,
 * 16 and 17 is tried as the slow path below does; a latency takes 16 or 17
 * digits, and the print and reads back were most of writing one. */
static const long double POW10L[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
    1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
static const uint64_t POW10U[18] = {1ull,
    10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull};

/* av (> 0) rounded to prec significant digits, as an integer of prec
 * digits, and the decimal exponent of its first digit (*e10 in: a guess
 * within one below). 10^k up to 10^27 is exact in a 64-bit mantissa, so
 * av * 10^k is off by at most 2^-7 (it stays below 2^57): a fraction that
 * close to one half could round either way, and is left to printf. */
static int wide_digits(double av, int prec, int *e10, uint64_t *out) {
  int e = *e10;
  for (int tries = 0; tries < 4; tries++) {
    int k = prec - 1 - e;
    if (k > 27 || k < -27) return 0;
    long double x = k >= 0 ? (long double)av * POW10L[k] : (long double)av / POW10L[-k];
    uint64_t whole = (uint64_t)x; /* x > 0: truncation is the floor */
    long double f = x - (long double)whole;
    if (f > 0.5L - 0x1p-6L && f < 0.5L + 0x1p-6L) return 0;
    uint64_t d = whole + (f > 0.5L);
    if (d >= POW10U[prec]) e++; /* the guess was low, or the rounding carried to a new digit */
    else if (d < POW10U[prec - 1]) e--;
    else {
      *e10 = e;
      *out = d;
      return 1;
    }
  }
  return 0;
}

static int wide_g(char *out, double v) {
  double av = fabs(v);
  int b2;
  frexp(av, &b2);
  int guess = (int)floor((b2 - 1) * 0.30102999566398120);
  for (int prec = 15; prec <= 17; prec++) {
    int e = guess;
    uint64_t d;
    if (!wide_digits(av, prec, &e, &d)) return 0;
    if (prec < 17) {
      /* whether the decimal reads back as v: d and 10^k are exact doubles
       * here, so one correctly rounded division is what strtod gives */
      int k = prec - 1 - e;
      if (d > (1ull << 53) || k > 22 || k < -22) return 0;
      double back = k >= 0 ? (double)d / POW10D[k] : (double)d * POW10D[-k];
      if (back != av) continue;
    }
    char d17[17];
    memset(d17, '0', sizeof d17);
    for (int i = prec - 1; i >= 0; i--, d /= 10) d17[i] = (char)('0' + d % 10);
    return g_from_digits(out, signbit(v) != 0, d17, e, prec);
  }
  return 0;
}
#else
static int wide_g(char *out, double v) {
  (void)out, (void)v;
  return 0;
}
#endif

/* The last two doubles this thread wrote by the slow path below, with
 * their text: a run writes each answer's latency twice, in its record and
 * in its score line, and the slow path is a print of 17 digits and up to
 * two reads back. Compared bit for bit, so -0.0 is not 0.0. */
typedef struct {
  uint64_t bits;
  size_t len;
  char text[40];
} double_memo;
static _Thread_local double_memo memo[2];
static _Thread_local unsigned memo_next;

int ce_json_write_double(ce_buf *b, double v) {
  if (!isfinite(v)) return -1;
  if (write_short_decimal(b, v)) return 0;
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 2; i++)
    if (memo[i].len && memo[i].bits == bits) {
      ce_buf_add(b, memo[i].text, memo[i].len);
      return 0;
    }
  char tmp[40], e17[40];
  if (!wide_g(tmp, v)) {
    /* a double nearest a decimal of <= 15 digits prints as that decimal at
     * %.15g; otherwise 16 or 17 digits round-trip. The three are derived from
     * one print of 17 digits: printing three times was most of a record's
     * encoding where it held a latency. */
    snprintf(e17, sizeof e17, "%.16e", v);
    int neg = e17[0] == '-';
    const char *m = e17 + neg; /* d.dddddddddddddddde[+-]XX */
    char d17[17];
    d17[0] = m[0];
    memcpy(d17 + 1, m + 2, 16);
    int exp10 = atoi(m + 19);
    for (int prec = 15; prec <= 17; prec++) {
      if (!g_from_digits(tmp, neg, d17, exp10, prec)) snprintf(tmp, sizeof tmp, "%.*g", prec, v);
      if (prec == 17 || strtod(tmp, NULL) == v) break;
    }
  }
  size_t n = strlen(tmp);
  if (!strpbrk(tmp, ".eEn")) {
    memcpy(tmp + n, ".0", 3);
    n += 2;
  }
  ce_buf_add(b, tmp, n);
  double_memo *slot = &memo[memo_next++ & 1];
  slot->bits = bits;
  slot->len = n;
  memcpy(slot->text, tmp, n);
  return 0;
}

void ce_json_write_int(ce_buf *b, int64_t v) {
  /* by hand: snprintf was a tenth of encoding a record */
  char tmp[24];
  char *end = tmp + sizeof tmp, *p = end;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  ce_buf_add(b, p, (size_t)(end - p));
}

/* ---- parser ---- */

typedef struct {
  const char *s, *end, *start;
  const char *name;
  unsigned max_depth, depth;
  const ce_json_handler *h;
  void *ud;
  ce_err *err;
  ce_buf *scratch;
  int skip_next; /* the key just read asked for its value to be skipped */
  int quiet;     /* inside a skipped value: checked, not reported */
} parser;

static const ce_json_handler QUIET; /* no callbacks: a skipped value's */

static int fail(parser *p, const char *at, int code, const char *what) {
  unsigned line = 1, col = 1;
  for (const char *c = p->start; c < at && c < p->end; c++) {
    if (*c == '\n') { line++; col = 1; }
    else if (((unsigned char)*c & 0xC0) != 0x80) col++;
  }
  ce_err_setf(p->err, code, p->name, line, col, "%s", what);
  return -1;
}

/* a byte above the space is never white space: one compare for almost every byte */
static inline int is_ws(char c) { return (unsigned char)c <= 0x20 && (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d); }

static void skip_ws(parser *p) {
  while (p->s < p->end && is_ws(*p->s)) p->s++;
}

static int stop(parser *p, const char *at) { return fail(p, at, CE_JSON_ESTOP, "rejected by the reader"); }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* the four hex digits at at, which the caller has checked are there */
static int hex4(const char *at, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval((unsigned char)at[i]);
    if (h < 0) return -1;
    v = v * 16 + (unsigned)h;
  }
  *out = v;
  return 0;
}

/* The \\u escape at s (on its backslash), with the low half of a surrogate
 * pair after it: its length (6 or 12) and code point, 0 for four bad hex
 * digits, -1 for a lone surrogate. The reader and the skip share it. */
static int u_escape(const char *s, const char *end, unsigned *cp) {
  if (end - s < 6 || hex4(s + 2, cp)) return 0;
  if (*cp >= 0xDC00 && *cp <= 0xDFFF) return -1;
  if (*cp < 0xD800 || *cp > 0xDBFF) return 6;
  unsigned lo;
  if (end - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) return -1;
  *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
  return 12;
}

static void put_utf8(ce_buf *b, unsigned cp) {
  char o[4];
  size_t n;
  if (cp < 0x80) { o[0] = (char)cp; n = 1; }
  else if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
  else if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
  } else {
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
  }
  ce_buf_add(b, o, n);
}

/* The high bit of each of the 8 bytes at p that ends a run of string text
 * (control, '"', '\\'), as special8 does for the writer. */
static inline uint64_t special8_text(const char *p) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t x;
  memcpy(&x, p, 8);
  uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
  uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
  return hit & high;
}

/* Reads a string at p->s (on the quote); hands it to emit (string or key). */
static int parse_string(parser *p, int is_key) {
  const char *q = ++p->s, *run = q;
  int escaped = 0;
  p->scratch->len = 0;
  for (;;) {
    if (q >= p->end) return fail(p, p->s - 1, CE_JSON_ESYNTAX, "unterminated string");
    /* 16 or 8 bytes at a time up to those that hold the byte ending the run */
#if defined(__SSE2__)
    while (p->end - q >= 16) {
      unsigned k = plain_prefix16_text(q);
      q += k;
      if (k < 16) break;
    }
    if (p->end - q < 16) /* the tail: 8 bytes at a time */
#endif
    while (q + 8 <= p->end) {
      unsigned k = plain_prefix8(special8_text(q));
      q += k;
      if (k < 8) break;
    }
    unsigned char c = 0;
    while (q < p->end && (c = (unsigned char)*q) != '"' && c != '\\' && c >= 0x20) q++;
    if (q >= p->end) return fail(p, p->s - 1, CE_JSON_ESYNTAX, "unterminated string");
    if (c == '"') break;
    if (c < 0x20) return fail(p, q, CE_JSON_ESYNTAX, "control character in string (escape it)");
    escaped = 1;
    ce_buf_add(p->scratch, run, (size_t)(q - run));
    if (q + 1 >= p->end) return fail(p, q, CE_JSON_ESYNTAX, "unterminated string");
    char e = q[1];
    q += 2;
    switch (e) {
      case '"': ce_buf_addc(p->scratch, '"'); break;
      case '\\': ce_buf_addc(p->scratch, '\\'); break;
      case '/': ce_buf_addc(p->scratch, '/'); break;
      case 'b': ce_buf_addc(p->scratch, '\b'); break;
      case 'f': ce_buf_addc(p->scratch, '\f'); break;
      case 'n': ce_buf_addc(p->scratch, '\n'); break;
      case 'r': ce_buf_addc(p->scratch, '\r'); break;
      case 't': ce_buf_addc(p->scratch, '\t'); break;
      case 'u': {
        unsigned cp;
        int n = u_escape(q - 2, p->end, &cp);
        if (n == 0) return fail(p, q - 2, CE_JSON_ESYNTAX, "bad \\u escape (four hex digits)");
        if (n < 0) return fail(p, q - 2, CE_JSON_ESYNTAX, "lone UTF-16 surrogate in \\u escape");
        q += n - 2;
        put_utf8(p->scratch, cp);
        break;
      }
      default: return fail(p, q - 2, CE_JSON_ESYNTAX, "unknown escape in string");
    }
    run = q;
  }
  const char *s;
  size_t n;
  if (escaped) {
    ce_buf_add(p->scratch, run, (size_t)(q - run));
    if (p->scratch->oom) return fail(p, q, CE_JSON_ENOMEM, "out of memory");
    s = p->scratch->data ? p->scratch->data : "";
    n = p->scratch->len;
  } else {
    s = p->s;
    n = (size_t)(q - p->s);
  }
  const char *at = p->s - 1;
  p->s = q + 1;
  int rc = is_key ? (p->h->key ? p->h->key(p->ud, s, n) : 0) : (p->h->string ? p->h->string(p->ud, s, n) : 0);
  if (rc == CE_JSON_SKIP && is_key) {
    p->skip_next = 1;
    return 0;
  }
  return rc ? stop(p, at) : 0;
}

/* The end of the number at s, whether it has a fraction or exponent
 * (not *is_int) and an exponent; NULL and *what for one JSON does not
 * allow. The reader and the skip share it. */
static const char *number_end(const char *s, const char *end, int *is_int, int *has_exp, const char **what) {
  const char *q = s;
  *is_int = 1;
  *has_exp = 0;
  if (q < end && *q == '-') q++;
  if (q >= end || !(*q >= '0' && *q <= '9')) return *what = "bad number", NULL;
  if (*q == '0') {
    q++;
    if (q < end && *q >= '0' && *q <= '9') return *what = "number with a leading zero", NULL;
  } else {
    while (q < end && *q >= '0' && *q <= '9') q++;
  }
  if (q < end && *q == '.') {
    *is_int = 0;
    q++;
    if (q >= end || !(*q >= '0' && *q <= '9')) return *what = "bad number (digits after '.')", NULL;
    while (q < end && *q >= '0' && *q <= '9') q++;
  }
  if (q < end && (*q == 'e' || *q == 'E')) {
    *is_int = 0;
    *has_exp = 1;
    q++;
    if (q < end && (*q == '+' || *q == '-')) q++;
    if (q >= end || !(*q >= '0' && *q <= '9')) return *what = "bad number (exponent)", NULL;
    while (q < end && *q >= '0' && *q <= '9') q++;
  }
  return q;
}

static int parse_number(parser *p) {
  const char *at = p->s, *what;
  int is_int, has_exp;
  const char *q = number_end(at, p->end, &is_int, &has_exp, &what);
  if (!q) return fail(p, at, CE_JSON_ESYNTAX, what);
  size_t n = (size_t)(q - at);
  /* a skipped number is converted only where it could be out of range (an
   * exponent, or more digits than a double spans), to fail as a read one does */
  if (p->quiet && !has_exp && n < 300) {
    p->s = q;
    return 0;
  }
  char tmp[64];
  char *num = tmp;
  if (n >= sizeof tmp) { /* absurdly long digits: spell them out in the scratch buffer */
    p->scratch->len = 0;
    ce_buf_add(p->scratch, at, n);
    if (p->scratch->oom) return fail(p, at, CE_JSON_ENOMEM, "out of memory");
    num = p->scratch->data;
  } else {
    memcpy(num, at, n);
    num[n] = '\0';
  }
  p->s = q;
  int rc = 0;
  if (is_int) {
    errno = 0;
    long long v = strtoll(num, NULL, 10);
    if (errno == ERANGE) is_int = 0;
    else rc = p->h->integer ? p->h->integer(p->ud, (int64_t)v) : 0;
  }
  if (!is_int) {
    double d = strtod(num, NULL);
    /* 1e309 reads as infinity, which JSON cannot hold: a value the reader
     * accepted and the writer then refused (a 500 in serve, found by the fuzzer) */
    if (isinf(d)) return fail(p, at, CE_JSON_ESYNTAX, "number out of range (beyond a double)");
    rc = p->h->number ? p->h->number(p->ud, d) : 0;
  }
  return rc ? stop(p, at) : 0;
}

static int literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0)
    return fail(p, p->s, CE_JSON_ESYNTAX, "unexpected character");
  p->s += n;
  return 0;
}

/* ---- skipped values ----
 * A reader that keeps a few fields of a question line (2 KB) skips the
 * rest: its graph, model and variables, a few hundred short tokens. Through
 * parse_value each token cost a call, the handler checks and the string
 * set-up (15,000 instructions a line, twice a question: the scan before a
 * run, then the worker). skip_fast checks such a value in one loop and
 * says only whether it is well-formed; whatever it does not take (an
 * error, an exponent, nesting past its stack) goes through parse_value
 * again, so errors and their places are parse_value's. */

/* past the string at s (on its quote), or NULL */
static const char *skip_str(const char *s, const char *end) {
  const char *q = s + 1;
  for (;;) {
#if defined(__SSE2__)
    while (end - q >= 16) {
      unsigned k = plain_prefix16_text(q);
      q += k;
      if (k < 16) break;
    }
#endif
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
    if (q >= end || (unsigned char)*q < 0x20) return NULL;
    if (*q == '"') return q + 1;
    if (end - q < 2) return NULL;
    char e = q[1];
    if (e == 'u') {
      unsigned cp;
      int n = u_escape(q, end, &cp);
      if (n <= 0) return NULL;
      q += n;
    } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
      q += 2;
    } else {
      return NULL;
    }
  }
}

/* past the number at s, or NULL (also for an exponent or 300 characters:
 * such a number is converted to be checked, which parse_number does) */
static const char *skip_num(const char *s, const char *end) {
  int is_int, has_exp;
  const char *what, *q = number_end(s, end, &is_int, &has_exp, &what);
  return q && !has_exp && q - s < 300 ? q : NULL;
}

/* past an object's key and its colon at s (after whitespace), or NULL */
static const char *skip_key(const char *s, const char *end) {
  while (s < end && is_ws(*s)) s++;
  if (s >= end || *s != '"' || !(s = skip_str(s, end))) return NULL;
  while (s < end && is_ws(*s)) s++;
  return s < end && *s == ':' ? s + 1 : NULL;
}

static const char *skip_word(const char *s, const char *end, const char *w, size_t n) {
  return (size_t)(end - s) >= n && memcmp(s, w, n) == 0 ? s + n : NULL;
}

/* Checks the value at p->s and moves past it: 1; 0 (p->s unchanged) for
 * parse_value to read it instead. */
static int skip_fast(parser *p) {
  const char *s = p->s, *end = p->end;
  uint64_t objects = 0; /* bit i: the container open at local depth i+1 is an object */
  unsigned n = 0;       /* containers open here */
  for (;;) {
    while (s < end && is_ws(*s)) s++;
    if (s >= end) return 0;
    char c = *s;
    if (c == '{' || c == '[') {
      if (n >= 64 || p->depth + n + 1 > p->max_depth) return 0;
      objects = (objects << 1) | (uint64_t)(c == '{');
      n++;
      s++;
      while (s < end && is_ws(*s)) s++;
      if (s >= end) return 0;
      if (*s == (c == '{' ? '}' : ']')) {
        s++;
        n--;
        objects >>= 1;
      } else {
        if (c == '{' && !(s = skip_key(s, end))) return 0;
        continue; /* the first item */
      }
    } else if (c == '"') {
      if (!(s = skip_str(s, end))) return 0;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      if (!(s = skip_num(s, end))) return 0;
    } else if (c == 't') {
      if (!(s = skip_word(s, end, "true", 4))) return 0;
    } else if (c == 'f') {
      if (!(s = skip_word(s, end, "false", 5))) return 0;
    } else if (c == 'n') {
      if (!(s = skip_word(s, end, "null", 4))) return 0;
    } else {
      return 0;
    }
    /* after a value: the next item, or the ends of containers */
    for (;;) {
      if (n == 0) {
        p->s = s;
        return 1;
      }
      while (s < end && is_ws(*s)) s++;
      if (s >= end) return 0;
      int in_object = (int)(objects & 1u);
      if (*s == ',') {
        s++;
        if (in_object && !(s = skip_key(s, end))) return 0;
        break;
      }
      if (*s != (in_object ? '}' : ']')) return 0;
      s++;
      n--;
      objects >>= 1;
    }
  }
}

static int parse_value(parser *p);

static int parse_array(parser *p) {
  const char *at = p->s++;
  if (++p->depth > p->max_depth) return fail(p, at, CE_JSON_EDEPTH, "nested too deep");
  if (p->h->begin_array && p->h->begin_array(p->ud)) return stop(p, at);
  skip_ws(p);
  if (p->s < p->end && *p->s == ']') {
    p->s++;
  } else {
    for (;;) {
      if (parse_value(p)) return -1;
      skip_ws(p);
      if (p->s < p->end && *p->s == ',') { p->s++; continue; }
      if (p->s < p->end && *p->s == ']') { p->s++; break; }
      return fail(p, p->s, CE_JSON_ESYNTAX, p->s < p->end ? "expected ',' or ']'" : "unterminated array");
    }
  }
  p->depth--;
  return p->h->end_array && p->h->end_array(p->ud) ? stop(p, at) : 0;
}

static int parse_object(parser *p) {
  const char *at = p->s++;
  if (++p->depth > p->max_depth) return fail(p, at, CE_JSON_EDEPTH, "nested too deep");
  if (p->h->begin_object && p->h->begin_object(p->ud)) return stop(p, at);
  skip_ws(p);
  if (p->s < p->end && *p->s == '}') {
    p->s++;
  } else {
    for (;;) {
      skip_ws(p);
      if (p->s >= p->end || *p->s != '"')
        return fail(p, p->s, CE_JSON_ESYNTAX, p->s < p->end ? "expected a string key" : "unterminated object");
      if (parse_string(p, 1)) return -1;
      skip_ws(p);
      if (p->s >= p->end || *p->s != ':') return fail(p, p->s, CE_JSON_ESYNTAX, "expected ':' after the key");
      p->s++;
      if (p->skip_next) {
        const ce_json_handler *h = p->h;
        p->skip_next = 0;
        if (skip_fast(p)) goto next_item;
        p->h = &QUIET;
        p->quiet++;
        int rc = parse_value(p);
        p->quiet--;
        p->h = h;
        if (rc) return -1;
      } else if (parse_value(p)) {
        return -1;
      }
    next_item:
      skip_ws(p);
      if (p->s < p->end && *p->s == ',') { p->s++; continue; }
      if (p->s < p->end && *p->s == '}') { p->s++; break; }
      return fail(p, p->s, CE_JSON_ESYNTAX, p->s < p->end ? "expected ',' or '}'" : "unterminated object");
    }
  }
  p->depth--;
  return p->h->end_object && p->h->end_object(p->ud) ? stop(p, at) : 0;
}

static int parse_value(parser *p) {
  skip_ws(p);
  if (p->s >= p->end) return fail(p, p->s, CE_JSON_ESYNTAX, "unexpected end of input");
  const char *at = p->s;
  switch (*p->s) {
    case '{': return parse_object(p);
    case '[': return parse_array(p);
    case '"': return parse_string(p, 0);
    case 't':
      if (literal(p, "true")) return -1;
      return p->h->boolean && p->h->boolean(p->ud, 1) ? stop(p, at) : 0;
    case 'f':
      if (literal(p, "false")) return -1;
      return p->h->boolean && p->h->boolean(p->ud, 0) ? stop(p, at) : 0;
    case 'n':
      if (literal(p, "null")) return -1;
      return p->h->null && p->h->null(p->ud) ? stop(p, at) : 0;
    default:
      if (*p->s == '-' || (*p->s >= '0' && *p->s <= '9')) return parse_number(p);
      return fail(p, p->s, CE_JSON_ESYNTAX, "unexpected character");
  }
}

int ce_json_parse(const char *text, size_t len, const char *name, unsigned max_depth,
                  const ce_json_handler *h, void *ud, ce_buf *scratch, ce_err *err) {
  ce_err_clear(err);
  parser p;
  memset(&p, 0, sizeof p);
  p.s = p.start = text;
  p.end = text + len;
  p.name = name ? name : "<json>";
  p.max_depth = max_depth ? max_depth : 512;
  p.h = h;
  p.ud = ud;
  p.err = err;
  ce_buf own;
  ce_buf_init(&own);
  p.scratch = scratch ? scratch : &own;
  int rc = parse_value(&p);
  if (rc == 0) {
    skip_ws(&p);
    if (p.s < p.end) rc = fail(&p, p.s, CE_JSON_ESYNTAX, "unexpected text after the value");
  }
  ce_buf_free(&own);
  return rc;
}
