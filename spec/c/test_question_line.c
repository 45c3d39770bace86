/* SPDX-License-Identifier: MIT */
/* ce_question_line_ok: a line that plainly is a question is told with its
 * id; anything the Lua must read (a choice question, a field of the wrong
 * kind, damaged JSON) is not. Its agreement with the Lua reading over
 * thousands of lines is spec/question_file_spec.lua's. */
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
  ce_question_line_free(&q);
  return check_report("test_question_line");
}
