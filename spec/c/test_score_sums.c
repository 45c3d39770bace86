/* SPDX-License-Identifier: MIT */
/* ce_score_sums: a score line as a run writes it is added up; one it does
 * not take (a judged line, a number where text belongs, damaged JSON)
 * leaves every sum as it was, for the Lua reading to take it. The Lua
 * side's agreement, to the byte, is spec/summary_lines_spec.lua's. A line
 * as a run writes it is read without the JSON picker; thousands of lines
 * near that shape must add up as the picker's reading of them does. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/store/score_sums.h"

static int add(ce_score_sums *s, const char *line) { return ce_score_sums_add(s, line, strlen(line)); }

static const ce_sums_group *group(const ce_sums_table *t, const char *key) {
  for (int i = 0; i < t->n; i++)
    if (t->g[i].len == strlen(key) && memcmp(t->g[i].key, key, t->g[i].len) == 0) return &t->g[i];
  return NULL;
}

static int same_table(const ce_sums_table *a, const ce_sums_table *b) {
  if (a->n != b->n) return 0;
  for (int i = 0; i < a->n; i++)
    if (a->g[i].len != b->g[i].len || memcmp(a->g[i].key, b->g[i].key, a->g[i].len) != 0 || a->g[i].n != b->g[i].n ||
        a->g[i].correct != b->g[i].correct)
      return 0;
  return 1;
}

static int same_sums(const ce_score_sums *a, const ce_score_sums *b) {
  if (a->lines != b->lines || a->n != b->n || a->scored != b->scored || a->correct != b->correct ||
      a->unparseable != b->unparseable || a->errors != b->errors || a->invalid != b->invalid || a->cached != b->cached ||
      a->tokens_in != b->tokens_in || a->tokens_out != b->tokens_out || a->lat_n != b->lat_n ||
      memcmp(&a->lat_sum, &b->lat_sum, sizeof a->lat_sum) != 0 || a->lat_min != b->lat_min ||
      a->lat_max != b->lat_max || a->bused != b->bused)
    return 0;
  size_t i = 0, j = 0;
  int64_t ka, kb;
  uint64_t na, nb;
  for (;;) {
    int ha = ce_score_sums_bucket(a, &i, &ka, &na), hb = ce_score_sums_bucket(b, &j, &kb, &nb);
    if (ha != hb) return 0;
    if (!ha) break;
    if (ka != kb || na != nb) return 0;
  }
  return same_table(&a->classes, &b->classes) && same_table(&a->fam, &b->fam) && same_table(&a->diff, &b->diff) &&
         same_table(&a->rung, &b->rung);
}

static uint64_t rng_state = 20261206;
static unsigned draw(unsigned n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)(rng_state % n);
}

/* lines near a score line's shape, read plainly and by the picker alone */
static void plain_reading_agrees(double step) {
  static const char *const keys[] = {"c", "cached", "d", "day", "e", "f", "l", "r", "ti", "to", "u", "ft", "j",
                                     "s", "k", "kc", "ag", "zz", "", "C"};
  static const char *const values[] = {
      "1",     "0",    "-0",    "01",     "12.5",   "0.0",  "-0.0", "1e2",  "1.5E3", "2.",  ".5",   "7",
      "123456789012345678", "1234567890123456789", "-3", "true", "false", "null", "[]", "{}", "[1]", "{\"a\":1}",
      "\"easy\"", "\"ladder\"", "\"\"", "\"timeout\"", "\"bad_question\"", "\"caf\\u00e9\"", "\"a\\\"b\"",
      "\"\xc3\xa9\"", "\"tab\there\"", "\"2026-12-06\"", "\"1\"", "0.25", "1.2857204168568612", "-", "tru"};
  ce_score_sums a, b;
  ce_score_sums_init(&a, step, INT64_MIN);
  ce_score_sums_init(&b, step, INT64_MIN);
  b.picker_only = 1;
  int plain = 0;
  for (int n = 0; n < 20000; n++) {
    char line[512];
    size_t len = 0;
    line[len++] = '{';
    int pairs = (int)draw(9);
    for (int i = 0; i < pairs; i++) {
      if (i) len += (size_t)snprintf(line + len, sizeof line - len, "%s", draw(40) ? "," : " , ");
      const char *k = keys[draw(sizeof keys / sizeof *keys)];
      const char *v = draw(3) ? values[draw(4)] : values[draw(sizeof values / sizeof *values)];
      if (k[0] == 'f' || k[0] == 'd' || k[0] == 'e') v = draw(2) ? values[22 + draw(7)] : v;
      if (k[0] == 'l' && draw(2)) v = values[34 + draw(2)];
      len += (size_t)snprintf(line + len, sizeof line - len, "\"%s\":%s%s", k, draw(40) ? "" : " ", v);
    }
    line[len++] = '}';
    if (!draw(30)) len = draw((unsigned)len + 1); /* cut short */
    if (!draw(40)) line[len++] = ' ';
    line[len] = '\0';
    int ra = ce_score_sums_add(&a, line, len), rb = ce_score_sums_add(&b, line, len);
    if (ra != rb || !same_sums(&a, &b)) {
      fprintf(stderr, "plain and picked readings differ after %s\n", line);
      CHECK(0);
      break;
    }
    plain += ra == 1;
  }
  CHECK(plain > 2000);
  ce_score_sums_free(&a);
  ce_score_sums_free(&b);
}

int main(void) {
  ce_score_sums s;
  double step = log(1 + 1.0 / 1024);
  ce_score_sums_init(&s, step, INT64_MIN);
  CHECK(add(&s, "{\"c\":1,\"d\":\"easy\",\"f\":\"ladder\",\"l\":12.5,\"r\":2,\"ti\":100,\"to\":3}") == 1);
  CHECK(add(&s, "{\"c\":0,\"cached\":1,\"d\":\"easy\",\"f\":\"ladder\",\"l\":0.0,\"r\":2,\"u\":1}") == 1);
  CHECK(add(&s, "{\"c\":null,\"e\":\"timeout\",\"f\":\"corr2cause\",\"l\":99.0,\"ti\":7}") == 1);
  CHECK(add(&s, "{\"e\":\"bad_question\",\"l\":5}") == 1);
  CHECK(s.lines == 4 && s.n == 3 && s.invalid == 1);
  CHECK(s.scored == 1 && s.unparseable == 1 && s.errors == 1 && s.correct == 1 && s.cached == 1);
  CHECK(s.tokens_in == 107 && s.tokens_out == 3);
  /* an error's latency is not one */
  CHECK(s.lat_n == 2 && s.lat_sum == 12.5 && s.lat_min == 0.0 && s.lat_max == 12.5);
  const ce_sums_group *g = group(&s.fam, "ladder");
  CHECK(g && g->n == 2 && g->correct == 1);
  g = group(&s.rung, "2");
  CHECK(g && g->n == 2);
  g = group(&s.classes, "timeout");
  CHECK(g && g->n == 1);
  /* the buckets: 12.5 ms in its own, 0 ms in the bucket of none above zero */
  size_t i = 0;
  int64_t k;
  uint64_t n;
  int buckets = 0, zero = 0, twelve = 0;
  while (ce_score_sums_bucket(&s, &i, &k, &n)) {
    buckets++;
    if (k == INT64_MIN) zero = (int)n;
    if (k == (int64_t)floor(log(12.5) / step)) twelve = (int)n;
  }
  CHECK(buckets == 2 && zero == 1 && twelve == 1);
  /* lines not taken: nothing changes */
  ce_score_sums before = s;
  static const char *const refused[] = {
      "{\"ft\":1,\"j\":1,\"s\":0.5}", "{\"c\":1,\"l\":50}",  "{\"ti\":2.5}", "{\"ti\":\"7\"}", "{\"r\":2.5}",
      "{\"f\":true}",                 "{\"e\":null}",        "{\"e\":5}",    "{\"c\":1",       "5",
  };
  for (size_t j = 0; j < sizeof refused / sizeof *refused; j++) {
    int r = add(&s, refused[j]);
    if (r != 0) fprintf(stderr, "took %s\n", refused[j]);
    CHECK(r == 0);
  }
  CHECK(s.lines == before.lines && s.n == before.n && s.lat_sum == before.lat_sum && s.bused == before.bused);
  CHECK(s.fam.n == before.fam.n && s.classes.n == before.classes.n);
  /* a table full of keys takes no new one */
  int taken = 0;
  for (int j = 0; j < CE_SUMS_GROUPS + 5; j++) {
    char line[80];
    snprintf(line, sizeof line, "{\"c\":1,\"f\":\"family%d\"}", j);
    taken += add(&s, line);
  }
  CHECK(s.fam.n == CE_SUMS_GROUPS && taken == CE_SUMS_GROUPS - 2); /* (ladder and corr2cause were there) */
  CHECK(add(&s, "{\"c\":1,\"f\":\"one more family\"}") == 0);
  CHECK(add(&s, "{\"c\":1,\"f\":\"ladder\"}") == 1);
  ce_score_sums_free(&s);
  plain_reading_agrees(step);
  return check_report("test_score_sums");
}
