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

#define CE_PICK_MAX_PATHS 32
#define CE_PICK_MAX_STEPS 8

/* One step down: a key of an object, or (key NULL) item `index` (from 1)
 * of an array. */
typedef struct {
  const char *key;
  size_t len;
  int64_t index;
  uint64_t word; /* a key of up to 8 bytes as one number (ce_pick_prepare) */
} ce_pick_step;

typedef struct {
  ce_pick_step steps[CE_PICK_MAX_STEPS];
  int n; /* 0 (the document itself) .. CE_PICK_MAX_STEPS */
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

/* The paths a picker reads, with an index of their first keys: a score
 * line has a dozen keys and the summary a dozen paths, and comparing each
 * key with each path was most of reading it. */
typedef struct {
  ce_pick_path paths[CE_PICK_MAX_PATHS];
  int npaths;
  struct {
    uint64_t word, tail; /* the key's first and last 8 bytes as numbers */
    const char *key;
    uint32_t len, mask;
  } first[64];            /* first keys -> the paths they start */
  uint32_t empty_first;   /* paths whose first step is the key "" */
} ce_pick_set;

/* Fills in the index: call once paths and npaths are set. */
void ce_pick_prepare(ce_pick_set *set);

/* Reads text once and fills out[k] for set->paths[k]. 0, or ce_json_parse's
 * error (name for its messages). */
int ce_json_pick(const char *text, size_t len, const char *name, const ce_pick_set *set, ce_picked *out,
                 ce_buf *strings, ce_buf *scratch, ce_err *err);

#endif
