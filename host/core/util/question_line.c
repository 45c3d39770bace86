/* SPDX-License-Identifier: MIT */
#include "core/util/question_line.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/util/json_pick.h"

/* The scan's picker (question_file.lua's CHECK) and the worker's
 * (question_file.lua's PICKED): the document itself, then the fields. */
static const char *const SCAN_FIELDS[] = {"id",        "prompt",    "answer_type", "ground_truth",
                                          "tolerance", "reference", "rubric_notes"};
enum { S_TOP, S_ID, S_PROMPT, S_AT, S_GT, S_TOL, S_REF, S_NOTES, S_N };
const char *const CE_QL_ASKED_FIELDS[CE_QL_NASKED] = {
    "id", "prompt", "answer_type", "ground_truth", "tolerance", "choices", "family", "domain", "difficulty", "rung",
    "reference", "rubric_notes"};

static ce_pick_set scan_set, asked_set;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_one(ce_pick_set *set, const char *const *fields, int n) {
  set->npaths = n + 1;
  set->paths[0].n = 0;
  for (int k = 0; k < n; k++) {
    set->paths[k + 1].n = 1;
    set->paths[k + 1].steps[0].key = fields[k];
    set->paths[k + 1].steps[0].len = strlen(fields[k]);
  }
  ce_pick_prepare(set);
}

static void make_sets(void) {
  make_one(&scan_set, SCAN_FIELDS, S_N - 1);
  make_one(&asked_set, CE_QL_ASKED_FIELDS, CE_QL_NASKED);
}

void ce_question_line_init(ce_question_line *q) {
  pthread_once(&once, make_sets);
  ce_buf_init(&q->strings);
  ce_buf_init(&q->scratch);
}

void ce_question_line_free(ce_question_line *q) {
  ce_buf_free(&q->strings);
  ce_buf_free(&q->scratch);
}

const char *ce_question_line_str(const ce_question_line *q, const ce_picked *v) {
  return v->len ? q->strings.data + v->off : "";
}

static int is(const ce_question_line *q, const ce_picked *v, const char *want) {
  return v->kind == CE_PICKED_STR && v->len == strlen(want) && memcmp(ce_question_line_str(q, v), want, v->len) == 0;
}

/* Lua's s:find("%S"): a byte other than isspace's six */
static int has_text(const ce_question_line *q, const ce_picked *v) {
  const char *s = ce_question_line_str(q, v);
  for (size_t i = 0; i < v->len; i++)
    if (!strchr(" \t\n\v\f\r", s[i]) || s[i] == '\0') return 1;
  return 0;
}

/* an object, as line:find("^%s*{") says (whitespace: Lua's %s) */
static int starts_object(const char *line, size_t len) {
  size_t i = 0;
  while (i < len && line[i] && strchr(" \t\n\v\f\r", line[i])) i++;
  return i < len && line[i] == '{';
}

/* The fields question_file.lua's check reads, as the picks found them:
 * 1 when the Lua would take the question as it is, with its id. */
typedef struct {
  const ce_picked *id, *prompt, *at, *gt, *tol, *ref, *notes;
} checked;

static int valid(ce_question_line *q, const checked *c, const char **id, size_t *id_len) {
  /* the id: a string of at least a byte, or an integer (as its text) */
  if (c->id->kind == CE_PICKED_STR && c->id->len > 0) {
    *id = ce_question_line_str(q, c->id);
    *id_len = c->id->len;
  } else if (c->id->kind == CE_PICKED_INT) {
    *id_len = (size_t)snprintf(q->id, sizeof q->id, "%lld", (long long)c->id->i);
    *id = q->id;
  } else {
    return 0;
  }
  if (c->prompt->kind != CE_PICKED_STR || !has_text(q, c->prompt)) return 0;
  if (is(q, c->at, "free_text")) {
    if (c->ref->kind != CE_PICKED_STR || !has_text(q, c->ref)) return 0;
    return c->notes->kind == CE_PICKED_NONE || c->notes->kind == CE_PICKED_STR;
  }
  if (is(q, c->at, "yes_no")) return is(q, c->gt, "yes") || is(q, c->gt, "no");
  if (is(q, c->at, "number")) {
    if (c->gt->kind != CE_PICKED_INT && c->gt->kind != CE_PICKED_NUM) return 0;
    const ce_picked *t = c->tol;
    if (t->kind == CE_PICKED_NONE) return 1;
    return (t->kind == CE_PICKED_INT && t->i >= 0) || (t->kind == CE_PICKED_NUM && t->d >= 0);
  }
  return 0; /* a choice question, or an answer_type that is none: the Lua's */
}

/* 0 unless the line is a JSON object with no list or object at any of the
 * n fields after the document's own pick */
static int picked_flat(ce_question_line *q, const ce_pick_set *set, const char *line, size_t len, ce_picked *v, int n) {
  if (!starts_object(line, len)) return 0;
  ce_err err;
  q->strings.len = 0;
  if (ce_json_pick(line, len, "<line>", set, v, &q->strings, &q->scratch, &err) != 0) return 0;
  if (v[0].kind != CE_PICKED_CONTAINER) return 0;
  for (int k = 1; k <= n; k++)
    if (v[k].kind == CE_PICKED_CONTAINER) return 0;
  return 1;
}

int ce_question_line_ok(ce_question_line *q, const char *line, size_t len, const char **id, size_t *id_len) {
  ce_picked v[S_N];
  if (!picked_flat(q, &scan_set, line, len, v, S_N - 1)) return 0;
  checked c = {&v[S_ID], &v[S_PROMPT], &v[S_AT], &v[S_GT], &v[S_TOL], &v[S_REF], &v[S_NOTES]};
  return valid(q, &c, id, id_len);
}

int ce_question_line_asked(ce_question_line *q, const char *line, size_t len, ce_picked out[CE_QL_NASKED],
                           const char **id, size_t *id_len) {
  ce_picked v[CE_QL_NASKED + 1];
  if (!picked_flat(q, &asked_set, line, len, v, CE_QL_NASKED)) return 0;
  memcpy(out, v + 1, sizeof(ce_picked) * CE_QL_NASKED);
  checked c = {&out[CE_QL_ID],        &out[CE_QL_PROMPT],    &out[CE_QL_ANSWER_TYPE], &out[CE_QL_GROUND_TRUTH],
               &out[CE_QL_TOLERANCE], &out[CE_QL_REFERENCE], &out[CE_QL_RUBRIC_NOTES]};
  return valid(q, &c, id, id_len);
}
