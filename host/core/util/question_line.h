/* SPDX-License-Identifier: MIT */
/* The scan of a question file before a run reads every line for its id and
 * whether it is a question (causal_eval.question_file.scan_line): a JSON
 * object whose id, prompt, answer_type and ground_truth (or a free_text
 * question's reference) are as causal_eval.question_file.check wants them.
 * The lines that plainly are (not a choice question, whose labels are
 * lists) are told here, without Lua; every other line goes to the Lua,
 * which says what is wrong with it as before. */
#ifndef CE_QUESTION_LINE_H
#define CE_QUESTION_LINE_H

#include <stddef.h>

#include "core/util/json.h"
#include "core/util/json_pick.h"

typedef struct {
  ce_buf strings, scratch;
  char id[32]; /* an integer id's text */
} ce_question_line;

void ce_question_line_init(ce_question_line *q);
void ce_question_line_free(ce_question_line *q);
/* 1 when line is a question the Lua would take as it is, with *id, *id_len
 * its id (valid until the next call); 0 for any other line. */
int ce_question_line_ok(ce_question_line *q, const char *line, size_t len, const char **id, size_t *id_len);

/* The fields a worker asks and scores by (question_file.lua's PICKED, in
 * this order). */
enum {
  CE_QL_ID, CE_QL_PROMPT, CE_QL_ANSWER_TYPE, CE_QL_GROUND_TRUTH, CE_QL_TOLERANCE, CE_QL_CHOICES, CE_QL_FAMILY,
  CE_QL_DOMAIN, CE_QL_DIFFICULTY, CE_QL_RUNG, CE_QL_REFERENCE, CE_QL_RUBRIC_NOTES, CE_QL_NASKED
};
extern const char *const CE_QL_ASKED_FIELDS[CE_QL_NASKED];

/* 1 when line is a question ce_question_line_ok takes with no list or
 * object in any of those fields: out[CE_QL_*] holds what it has of each (a
 * string's bytes: ce_question_line_str, valid until the next call), *id its
 * id as text. 0 for any other line. */
int ce_question_line_asked(ce_question_line *q, const char *line, size_t len, ce_picked out[CE_QL_NASKED],
                           const char **id, size_t *id_len);
/* the bytes of a string out[] holds */
const char *ce_question_line_str(const ce_question_line *q, const ce_picked *v);

#endif
