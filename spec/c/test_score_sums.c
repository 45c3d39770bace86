/* SPDX-License-Identifier: MIT */
/* ce_score_sums: a score line as a run writes it is added up; one it does
 * not take (a judged line, a number where text belongs, damaged JSON)
 * leaves every sum as it was, for the Lua reading to take it. The Lua
 * side's agreement, to the byte, is spec/summary_lines_spec.lua's. */
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
  return check_report("test_score_sums");
}
