/* SPDX-License-Identifier: MIT */
/* A batch of store items as binary COPY streams, one per table (pg_schema.c):
 * records, score lines with the columns read off them, runs with their
 * creation time and status, meta. Binary COPY needs no escaping and no
 * text-to-number parsing in the server. */
#include "core/store/pg.h"
#include "core/store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* microseconds (timestamps) and days (dates) count from 2000-01-01 in PostgreSQL */
#define PG_EPOCH_S 946684800LL
#define PG_EPOCH_DAYS 10957

static void put16(ce_buf *b, int v) {
  unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
  ce_buf_add(b, (const char *)x, 2);
}

static void put32(ce_buf *b, uint32_t v) {
  unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
  ce_buf_add(b, (const char *)x, 4);
}

static void put64(ce_buf *b, uint64_t v) {
  put32(b, (uint32_t)(v >> 32));
  put32(b, (uint32_t)v);
}

static void f_null(ce_buf *b) { put32(b, 0xFFFFFFFFu); }

static void f_bytes(ce_buf *b, const char *p, size_t n) {
  put32(b, (uint32_t)n);
  ce_buf_add(b, p, n);
}

static void f_i64(ce_buf *b, int64_t v) {
  put32(b, 8);
  put64(b, (uint64_t)v);
}

static void f_f64(ce_buf *b, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put32(b, 8);
  put64(b, u);
}

static void f_bool(ce_buf *b, int v) {
  put32(b, 1);
  ce_buf_addc(b, v ? 1 : 0);
}

static void f_date(ce_buf *b, int32_t days_since_1970) {
  put32(b, 4);
  put32(b, (uint32_t)(days_since_1970 - PG_EPOCH_DAYS));
}

static void f_ts_us(ce_buf *b, int64_t us_since_1970) { f_i64(b, us_since_1970 - PG_EPOCH_S * 1000000LL); }

void ce_pg_copy_begin(ce_buf *b) {
  ce_buf_add(b, "PGCOPY\n\377\r\n", 11); /* with its NUL: 11 bytes */
  put32(b, 0);                            /* flags */
  put32(b, 0);                            /* header extension */
}

void ce_pg_copy_end(ce_buf *b) { put16(b, 0xFFFF); }

/* days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

int32_t ce_pg_parse_day(const char *s, size_t n, int *ok) {
  *ok = 0;
  if (n != 10 || s[4] != '-' || s[7] != '-') return 0;
  int v[8], k = 0;
  for (int i = 0; i < 10; i++) {
    if (i == 4 || i == 7) continue;
    if (s[i] < '0' || s[i] > '9') return 0;
    v[k++] = s[i] - '0';
  }
  int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
  unsigned m = (unsigned)(v[4] * 10 + v[5]), d = (unsigned)(v[6] * 10 + v[7]);
  static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return 0;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m == 2 && d == 29 && !leap) return 0;
  *ok = 1;
  return (int32_t)days_from_civil(y, m, d);
}

static int utf8_encode(uint32_t c, char *out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

long ce_pg_prefix_end(const char *p, size_t pl, int utf8, char *out) {
  memcpy(out, p, pl);
  size_t l = pl;
  if (!utf8) {
    while (l > 0 && (unsigned char)out[l - 1] == 0xFF) l--;
    if (!l) return -1;
    out[l - 1] = (char)((unsigned char)out[l - 1] + 1);
    return (long)l;
  }
  /* the last code point one higher (UTF-8 bytes order as code points do) */
  while (l > 0) {
    size_t start = l - 1;
    while (start > 0 && ((unsigned char)out[start] & 0xC0) == 0x80) start--;
    const unsigned char *u = (const unsigned char *)out + start;
    size_t len = l - start;
    uint32_t c;
    if (len == 1) c = u[0];
    else if (len == 2) c = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    else if (len == 3) c = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    else c = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
             (u[3] & 0x3F);
    c++;
    if (c == 0xD800) c = 0xE000;
    if (c <= 0x10FFFF) {
      l = start + (size_t)utf8_encode(c, out + start);
      return (long)l;
    }
    l = start;
  }
  return -1;
}

/* ---- the columns of a score line ---- */

enum { SL_F, SL_D, SL_R, SL_C, SL_U, SL_E, SL_L, SL_TI, SL_TO, SL_CACHED, SL_DAY, SL_CREATED, SL_STATUS, SL_N };
static const char *const SL_KEYS[SL_N] = {"f", "d", "r", "c", "u", "e", "l", "ti", "to", "cached", "day",
                                          "created", "status"};

typedef struct {
  int kind; /* 0 absent, 1 string (text in arena), 2 integer, 3 number, 4 boolean, 5 null */
  size_t off, len;
  int64_t i;
  double d;
} sl_val;

typedef struct {
  int depth, cur;
  sl_val v[SL_N];
  ce_buf *arena;
} sl_ctx;

static int sl_key(void *ud, const char *s, size_t n) {
  sl_ctx *c = ud;
  c->cur = -1;
  if (c->depth != 1) return 0;
  for (int i = 0; i < SL_N; i++)
    if (strlen(SL_KEYS[i]) == n && memcmp(SL_KEYS[i], s, n) == 0) c->cur = i;
  return 0;
}

static sl_val *sl_slot(sl_ctx *c) {
  if (c->depth != 1 || c->cur < 0) return NULL;
  sl_val *v = &c->v[c->cur];
  c->cur = -1;
  return v;
}

static int sl_string(void *ud, const char *s, size_t n) {
  sl_ctx *c = ud;
  sl_val *v = sl_slot(c);
  if (!v) return 0;
  v->kind = 1;
  v->off = c->arena->len;
  v->len = n;
  ce_buf_add(c->arena, s, n);
  return 0;
}

static int sl_integer(void *ud, int64_t i) {
  sl_val *v = sl_slot(ud);
  if (v) {
    v->kind = 2;
    v->i = i;
    v->d = (double)i;
  }
  return 0;
}

static int sl_number(void *ud, double d) {
  sl_val *v = sl_slot(ud);
  if (v) {
    v->kind = 3;
    v->d = d;
    v->i = (int64_t)d;
  }
  return 0;
}

static int sl_boolean(void *ud, int b) {
  sl_val *v = sl_slot(ud);
  if (v) {
    v->kind = 4;
    v->i = b;
  }
  return 0;
}

static int sl_null(void *ud) {
  sl_val *v = sl_slot(ud);
  if (v) v->kind = 5;
  return 0;
}

static int sl_open(void *ud) {
  sl_ctx *c = ud;
  c->cur = -1; /* a nested value under a known key is not one of its columns */
  c->depth++;
  return 0;
}

static int sl_close(void *ud) {
  ((sl_ctx *)ud)->depth--;
  return 0;
}

static const ce_json_handler SL_HANDLER = {sl_null, sl_boolean, sl_integer, sl_number, sl_string,
                                           sl_open, sl_close,   sl_open,    sl_key,    sl_close};

/* Reads the known top-level fields of a JSON object into c (all absent when it is not one). */
static void sl_read(sl_ctx *c, ce_buf *arena, ce_buf *scratch, const char *text, size_t n) {
  memset(c, 0, sizeof *c);
  c->arena = arena;
  c->cur = -1;
  arena->len = 0;
  ce_err e;
  if (!n || text[0] != '{' || ce_json_parse(text, n, "value", 64, &SL_HANDLER, c, scratch, &e) != 0)
    memset(c->v, 0, sizeof c->v);
}

/* a group column (family, difficulty, rung, error class): text, or a number as text */
static void f_label(ce_buf *b, const sl_ctx *c, int k) {
  const sl_val *v = &c->v[k];
  char num[40];
  if (v->kind == 1) f_bytes(b, c->arena->data + v->off, v->len);
  else if (v->kind == 2) f_bytes(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->i));
  else if (v->kind == 3) f_bytes(b, num, (size_t)snprintf(num, sizeof num, "%.17g", v->d));
  else f_null(b);
}

static int truthy(const sl_val *v) { return (v->kind == 2 || v->kind == 4) ? v->i != 0 : v->kind == 3 ? v->d != 0 : 0; }

static void f_day(ce_buf *b, const sl_ctx *c) {
  const sl_val *v = &c->v[SL_DAY];
  int ok = 0;
  int32_t d = v->kind == 1 ? ce_pg_parse_day(c->arena->data + v->off, v->len, &ok) : 0;
  if (ok) f_date(b, d);
  else f_null(b);
}

static int64_t stamp_us(uint64_t stamp) { return (int64_t)(stamp / 1000); }

/* run \0 model \0 question as three fields; 0 when the key is not one
 * (ce_pg_check_item turns such keys away before they are queued) */
static int key3(ce_buf *b, const ce_pg_item *it) {
  const char *k = it->k, *z1 = memchr(k, 0, it->kl);
  const char *z2 = z1 ? memchr(z1 + 1, 0, it->kl - (size_t)(z1 + 1 - k)) : NULL;
  if (!z2) return 0;
  f_bytes(b, k, (size_t)(z1 - k));
  f_bytes(b, z1 + 1, (size_t)(z2 - z1 - 1));
  f_bytes(b, z2 + 1, it->kl - (size_t)(z2 + 1 - k));
  return 1;
}

/* causal_eval.records: run_id model question_id created_at stamp body */
static int record_row(ce_buf *b, const ce_pg_item *it) {
  size_t mark = b->len;
  put16(b, 6);
  if (!key3(b, it)) {
    b->len = mark;
    return 0;
  }
  f_ts_us(b, stamp_us(it->stamp));
  f_i64(b, (int64_t)it->stamp);
  f_bytes(b, it->v, it->vl);
  return 1;
}

/* causal_eval.scores: run_id model question_id created_at day family
 * difficulty rung correct unparseable error_class latency_ms tokens_in
 * tokens_out cached stamp line */
static int score_row(ce_buf *b, const ce_pg_item *it, sl_ctx *c, ce_buf *arena, ce_buf *scratch) {
  size_t mark = b->len;
  put16(b, 17);
  if (!key3(b, it)) {
    b->len = mark;
    return 0;
  }
  f_ts_us(b, stamp_us(it->stamp));
  sl_read(c, arena, scratch, it->v, it->vl);
  f_day(b, c);
  f_label(b, c, SL_F);
  f_label(b, c, SL_D);
  f_label(b, c, SL_R);
  const sl_val *cv = &c->v[SL_C];
  if (cv->kind == 2 || cv->kind == 3 || cv->kind == 4) f_bool(b, truthy(cv));
  else f_null(b);
  f_bool(b, truthy(&c->v[SL_U]));
  if (c->v[SL_E].kind == 1) f_label(b, c, SL_E);
  else f_null(b);
  if (c->v[SL_L].kind == 2 || c->v[SL_L].kind == 3) f_f64(b, c->v[SL_L].d);
  else f_null(b);
  for (int k = SL_TI; k <= SL_TO; k++) {
    if (c->v[k].kind == 2 || c->v[k].kind == 3) f_i64(b, c->v[k].i);
    else f_null(b);
  }
  f_bool(b, truthy(&c->v[SL_CACHED]));
  f_i64(b, (int64_t)it->stamp);
  f_bytes(b, it->v, it->vl);
  return 1;
}

/* causal_eval.runs: id created_at status stamp body */
static int run_row(ce_buf *b, const ce_pg_item *it, sl_ctx *c, ce_buf *arena, ce_buf *scratch) {
  put16(b, 5);
  f_bytes(b, it->k, it->kl);
  sl_read(c, arena, scratch, it->v, it->vl);
  const sl_val *cr = &c->v[SL_CREATED];
  if (cr->kind == 2 || cr->kind == 3) f_ts_us(b, (int64_t)(cr->d * 1e6));
  else f_null(b);
  if (c->v[SL_STATUS].kind == 1) f_bytes(b, c->arena->data + c->v[SL_STATUS].off, c->v[SL_STATUS].len);
  else f_null(b);
  f_i64(b, (int64_t)it->stamp);
  f_bytes(b, it->v, it->vl);
  return 1;
}

/* causal_eval.meta: key stamp value */
static int meta_row(ce_buf *b, const ce_pg_item *it) {
  put16(b, 3);
  f_bytes(b, it->k, it->kl);
  f_i64(b, (int64_t)it->stamp);
  f_bytes(b, it->v, it->vl);
  return 1;
}

/* the batch in (db, key) order, and of a key's copies the later stamp last */
static int by_key(const void *a, const void *b) {
  const ce_pg_item *x = *(const ce_pg_item *const *)a, *y = *(const ce_pg_item *const *)b;
  if (x->db != y->db) return x->db < y->db ? -1 : 1;
  size_t n = x->kl < y->kl ? x->kl : y->kl;
  int c = memcmp(x->k, y->k, n);
  if (c) return c;
  if (x->kl != y->kl) return x->kl < y->kl ? -1 : 1;
  return x->stamp < y->stamp ? -1 : x->stamp > y->stamp;
}

int ce_pg_copy_build(const ce_pg_item *items, int n, ce_pg_copy *out) {
  memset(out, 0, sizeof *out);
  for (int d = 0; d < CE_STORE_NDB; d++) ce_buf_init(&out->rows[d]);
  const ce_pg_item **order = malloc((size_t)(n ? n : 1) * sizeof *order);
  if (!order) return -1;
  for (int i = 0; i < n; i++) order[i] = &items[i];
  /* sorted, a batch meets the tables' keys in their order, and a key
   * written twice in it goes once (an INSERT ... ON CONFLICT may not touch
   * a row twice), the later copy */
  qsort(order, (size_t)n, sizeof *order, by_key);
  sl_ctx c;
  ce_buf arena, scratch;
  ce_buf_init(&arena);
  ce_buf_init(&scratch);
  for (int d = 0; d < CE_STORE_NDB; d++) ce_pg_copy_begin(&out->rows[d]);
  for (int i = 0; i < n; i++) {
    const ce_pg_item *it = order[i];
    if (it->db < 0 || it->db >= CE_STORE_NDB) continue;
    if (i + 1 < n && order[i + 1]->db == it->db && order[i + 1]->kl == it->kl && memcmp(order[i + 1]->k, it->k, it->kl) == 0)
      continue;
    ce_buf *b = &out->rows[it->db];
    int added = it->db == CE_STORE_RECORDS ? record_row(b, it)
                : it->db == CE_STORE_SCORES ? score_row(b, it, &c, &arena, &scratch)
                : it->db == CE_STORE_RUNS   ? run_row(b, it, &c, &arena, &scratch)
                                            : meta_row(b, it);
    out->n[it->db] += added;
  }
  int oom = 0;
  for (int d = 0; d < CE_STORE_NDB; d++) {
    ce_pg_copy_end(&out->rows[d]);
    oom |= out->rows[d].oom;
  }
  ce_buf_free(&arena);
  ce_buf_free(&scratch);
  free(order);
  return oom ? -1 : 0;
}

void ce_pg_copy_free(ce_pg_copy *c) {
  for (int d = 0; d < CE_STORE_NDB; d++) ce_buf_free(&c->rows[d]);
}
