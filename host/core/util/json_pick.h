/* SPDX-License-Identifier: MIT */
/* The values at a few fixed paths of a JSON document, read without building
 * the document: a model's reply is a small tree of which an adapter reads
 * four or five leaves, and building it was most of reading it (1.3 µs for a
 * 200-byte chat completion, five tables and some twenty strings). The whole
 * text is still checked, as ce_json_parse checks it. */
#ifndef CE_JSON_PICK_H
#define CE_JSON_PICK_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

#define CE_PICK_MAX_PATHS 16
#define CE_PICK_MAX_STEPS 8

/* One step down: a key of an object, or (key NULL) item `index` (from 1)
 * of an array. */
typedef struct {
  const char *key;
  size_t len;
  int64_t index;
} ce_pick_step;

typedef struct {
  ce_pick_step steps[CE_PICK_MAX_STEPS];
  int n; /* 1 .. CE_PICK_MAX_STEPS */
} ce_pick_path;

enum { CE_PICKED_NONE, CE_PICKED_NULL, CE_PICKED_BOOL, CE_PICKED_INT, CE_PICKED_NUM, CE_PICKED_STR, CE_PICKED_CONTAINER };

/* What a path found: nothing, or a value; a string's bytes are in the
 * strings buffer (at off, len bytes). Where a key repeats, the last one
 * counts, as a decoder that builds the object keeps the last. */
typedef struct {
  int kind;
  int b;
  int64_t i;
  double d;
  size_t off, len;
} ce_picked;

/* Reads text once and fills out[k] for paths[k] (npaths <= CE_PICK_MAX_PATHS).
 * 0, or ce_json_parse's error (name for its messages). */
int ce_json_pick(const char *text, size_t len, const char *name, const ce_pick_path *paths, int npaths,
                 ce_picked *out, ce_buf *strings, ce_buf *scratch, ce_err *err);

#endif
