/* SPDX-License-Identifier: MIT */
/* A run's summary adds up its score lines (causal_eval.results.summarize):
 * counts, tokens, latencies, errors by class, accuracy by family,
 * difficulty and rung. Each line was picked and handed to Lua, which added
 * it up: 19,000 instructions a line, most of them the Lua. These sums take
 * the lines as that Lua would, for the lines whose every field has the type
 * a score line is written with; a line with anything else (a damaged one, a
 * judged one) is not taken, and the caller adds it and the rest in Lua
 * after these sums, in the same order, so the floating-point sums are the
 * same to the bit. */
#ifndef CE_SCORE_SUMS_H
#define CE_SCORE_SUMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"
#include "core/util/json_pick.h"

#define CE_SUMS_KEY 64   /* a group key or an error class longer than this is not taken */
#define CE_SUMS_GROUPS 64 /* distinct keys a table takes */

typedef struct {
  char key[CE_SUMS_KEY];
  size_t len;
  uint64_t n, correct; /* (an error class counts in n only) */
} ce_sums_group;

typedef struct {
  ce_sums_group g[CE_SUMS_GROUPS];
  int n;
} ce_sums_table;

typedef struct {
  uint64_t lines; /* taken */
  uint64_t n, scored, correct, unparseable, errors, invalid, cached;
  int64_t tokens_in, tokens_out;
  uint64_t lat_n;
  double lat_sum, lat_min, lat_max;
  /* latency buckets: k = floor(log(v) / log_step), or zero_bucket for v <= 0 */
  int64_t *bk;
  uint64_t *bn;
  size_t bcap, bused; /* open addressing; bk[i] == INT64_MIN + 1 marks a free slot */
  ce_sums_table classes, fam, diff, rung;
  double log_step;
  int64_t zero_bucket;
  ce_pick_set set;
  ce_buf strings, scratch;
  int picker_only; /* every line through the picker (a test's check of the plain reading) */
} ce_score_sums;

/* log_step and zero_bucket: the Lua summary's LOG_STEP and ZERO. */
void ce_score_sums_init(ce_score_sums *s, double log_step, int64_t zero_bucket);
void ce_score_sums_free(ce_score_sums *s);
/* Adds score line v: 1; 0 when the line is not one these sums take (the
 * sums are as they were); -1 out of memory (likewise). */
int ce_score_sums_add(ce_score_sums *s, const char *v, size_t vl);
/* The buckets in use, one at a time: i from 0 while it returns 1. */
int ce_score_sums_bucket(const ce_score_sums *s, size_t *i, int64_t *k, uint64_t *n);

#endif
