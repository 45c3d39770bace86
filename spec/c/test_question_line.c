/* SPDX-License-Identifier: MIT */
/* ce_question_line_ok: a line that plainly is a question is told with its
 * id; anything the Lua must read (a choice question, a field of the wrong
 * kind, damaged JSON) is not. Its agreement with the Lua reading over
 * thousands of lines is spec/question_file_spec.lua's. ce_question_line_asked:
 * the same lines, with the fields a worker reads, none of them a list or
 * an object. */
#include <string.h>

#include "check.h"
#include "core/util/question_line.h"

static ce_question_line q;

static int ok(const char *line, const char *want_id) {
  const char *id = NULL;
  size_t n = 0;
  int r = ce_question_line_ok(&q, line, strlen(line), &id, &n);
  if (r && want_id && (n != strlen(want_id) || memcmp(id, want_id, n) != 0)) {
    fprintf(stderr, "%s: id %.*s, not %s\n", line, (int)n, id, want_id);
    return 0;
  }
  return r;
}

/* the worker's reading of line: 1 with its id and fields, else 0 */
static int asked(const char *line, const char *want_id, const char *want_family, int64_t want_rung) {
  ce_picked v[CE_QL_NASKED];
  const char *id = NULL;
  size_t n = 0;
  if (!ce_question_line_asked(&q, line, strlen(line), v, &id, &n)) return 0;
  CHECK(n == strlen(want_id) && memcmp(id, want_id, n) == 0);
  const ce_picked *fam = &v[CE_QL_FAMILY], *rung = &v[CE_QL_RUNG];
  if (want_family)
    CHECK(fam->kind == CE_PICKED_STR && fam->len == strlen(want_family) &&
          memcmp(ce_question_line_str(&q, fam), want_family, fam->len) == 0);
  else
    CHECK(fam->kind == CE_PICKED_NONE);
  CHECK(want_rung < 0 ? rung->kind == CE_PICKED_NONE : rung->kind == CE_PICKED_INT && rung->i == want_rung);
  CHECK(v[CE_QL_PROMPT].kind == CE_PICKED_STR);
  return 1;
}

#define YES_NO "\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\""

int main(void) {
  ce_question_line_init(&q);
  CHECK(ok("{\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\"}", "a"));
  CHECK(ok(" \t{\"id\":7,\"prompt\":\" x\",\"answer_type\":\"number\",\"ground_truth\":0.5,\"tolerance\":0}", "7"));
  CHECK(ok("{\"id\":-3,\"prompt\":\"p\",\"answer_type\":\"number\",\"ground_truth\":2,\"graph\":{\"a\":[1]}}", "-3"));
  CHECK(ok("{\"id\":\"f\",\"prompt\":\"p\",\"answer_type\":\"free_text\",\"reference\":\"r\",\"rubric_notes\":\"n\"}", "f"));
  CHECK(ok("{\"id\":\"caf\\u00e9\",\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"no\"}", "caf\xc3\xa9"));
  static const char *const not_taken[] = {
      "{\"id\":\"c\",\"prompt\":\"p\",\"answer_type\":\"choice\",\"ground_truth\":\"A\",\"choices\":[\"A\"]}",
      "{\"id\":\"\",\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\"}",
      "{\"id\":2.5,\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\"}",
      "{\"id\":\"a\",\"prompt\":\" \\n\",\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\"}",
      "{\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"Yes\"}",
      "{\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"number\",\"ground_truth\":1,\"tolerance\":-1}",
      "{\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"number\",\"ground_truth\":\"1\"}",
      "{\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"free_text\",\"reference\":\"r\",\"rubric_notes\":null}",
      "{\"id\":\"a\",\"prompt\":[\"p\"],\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\"}",
      "{\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\"",
      "[\"id\",\"a\"]",
      "x{\"id\":\"a\",\"prompt\":\"p\",\"answer_type\":\"yes_no\",\"ground_truth\":\"yes\"}",
  };
  for (size_t i = 0; i < sizeof not_taken / sizeof *not_taken; i++) {
    int r = ok(not_taken[i], NULL);
    if (r) fprintf(stderr, "took %s\n", not_taken[i]);
    CHECK(!r);
  }
  CHECK(asked("{" YES_NO "}", "a", NULL, -1));
  CHECK(asked("{\"family\":\"ladder\",\"graph\":{\"nodes\":[\"A\"]},\"id\":12,\"prompt\":\"p\",\"rung\":2,"
              "\"answer_type\":\"number\",\"ground_truth\":1,\"query\":{\"choices\":[]}}",
              "12", "ladder", 2));
  /* a list or object where a worker wants a value: the Lua's to read */
  CHECK(!asked("{" YES_NO ",\"family\":[1]}", "a", NULL, -1));
  CHECK(!asked("{" YES_NO ",\"rung\":{}}", "a", NULL, -1));
  CHECK(!asked("{" YES_NO ",\"choices\":[]}", "a", NULL, -1));
  CHECK(!asked("{" YES_NO ",\"rubric_notes\":[]}", "a", NULL, -1));
  for (size_t i = 0; i < sizeof not_taken / sizeof *not_taken; i++) CHECK(!asked(not_taken[i], "", NULL, -1));
  ce_question_line_free(&q);
  return check_report("test_question_line");
}
