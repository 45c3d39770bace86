/* SPDX-License-Identifier: MIT */
#include "core/util/question_line.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/util/json_pick.h"

/* the scan's picker (question_file.lua's CHECK) */
static const char *const FIELDS[] = {"id", "prompt", "answer_type", "ground_truth", "tolerance", "reference", "rubric_notes"};
enum { TOP, ID, PROMPT, AT, GT, TOL, REF, NOTES, NPICK };

static ce_pick_set set;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_set(void) {
  set.npaths = NPICK;
  set.paths[TOP].n = 0;
  for (int k = 1; k < NPICK; k++) {
    set.paths[k].n = 1;
    set.paths[k].steps[0].key = FIELDS[k - 1];
    set.paths[k].steps[0].len = strlen(FIELDS[k - 1]);
  }
  ce_pick_prepare(&set);
}

void ce_question_line_init(ce_question_line *q) {
  pthread_once(&once, make_set);
  ce_buf_init(&q->strings);
  ce_buf_init(&q->scratch);
}

void ce_question_line_free(ce_question_line *q) {
  ce_buf_free(&q->strings);
  ce_buf_free(&q->scratch);
}

static const char *str(const ce_question_line *q, const ce_picked *v) { return v->len ? q->strings.data + v->off : ""; }

static int is(const ce_question_line *q, const ce_picked *v, const char *want) {
  return v->kind == CE_PICKED_STR && v->len == strlen(want) && memcmp(str(q, v), want, v->len) == 0;
}

/* Lua's s:find("%S"): a byte other than isspace's six */
static int has_text(const ce_question_line *q, const ce_picked *v) {
  const char *s = str(q, v);
  for (size_t i = 0; i < v->len; i++)
    if (!strchr(" \t\n\v\f\r", s[i]) || s[i] == '\0') return 1;
  return 0;
}

int ce_question_line_ok(ce_question_line *q, const char *line, size_t len, const char **id, size_t *id_len) {
  /* an object, as line:find("^%s*{") says (whitespace: Lua's %s) */
  size_t i = 0;
  while (i < len && line[i] && strchr(" \t\n\v\f\r", line[i])) i++;
  if (i >= len || line[i] != '{') return 0;
  ce_picked v[NPICK];
  ce_err err;
  q->strings.len = 0;
  if (ce_json_pick(line, len, "<line>", &set, v, &q->strings, &q->scratch, &err) != 0) return 0;
  if (v[TOP].kind != CE_PICKED_CONTAINER) return 0;
  for (int k = ID; k < NPICK; k++)
    if (v[k].kind == CE_PICKED_CONTAINER) return 0;
  /* the id: a string of at least a byte, or an integer (as its text) */
  if (v[ID].kind == CE_PICKED_STR && v[ID].len > 0) {
    *id = str(q, &v[ID]);
    *id_len = v[ID].len;
  } else if (v[ID].kind == CE_PICKED_INT) {
    *id_len = (size_t)snprintf(q->id, sizeof q->id, "%lld", (long long)v[ID].i);
    *id = q->id;
  } else {
    return 0;
  }
  if (v[PROMPT].kind != CE_PICKED_STR || !has_text(q, &v[PROMPT])) return 0;
  if (is(q, &v[AT], "free_text")) {
    if (v[REF].kind != CE_PICKED_STR || !has_text(q, &v[REF])) return 0;
    return v[NOTES].kind == CE_PICKED_NONE || v[NOTES].kind == CE_PICKED_STR;
  }
  if (is(q, &v[AT], "yes_no")) return is(q, &v[GT], "yes") || is(q, &v[GT], "no");
  if (is(q, &v[AT], "number")) {
    if (v[GT].kind != CE_PICKED_INT && v[GT].kind != CE_PICKED_NUM) return 0;
    const ce_picked *t = &v[TOL];
    if (t->kind == CE_PICKED_NONE) return 1;
    return (t->kind == CE_PICKED_INT && t->i >= 0) || (t->kind == CE_PICKED_NUM && t->d >= 0);
  }
  return 0; /* a choice question, or an answer_type that is none: the Lua's */
}
