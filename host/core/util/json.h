/* SPDX-License-Identifier: MIT */
/* JSON without Lua types: an event parser (the caller builds its own values
 * from callbacks, so nothing is built twice), and the pieces of a writer
 * (string escaping, shortest round-trip numbers) over a growable buffer. */
#ifndef CE_JSON_H
#define CE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

/* ---- growable byte buffer ---- */
typedef struct {
  char *data;
  size_t len, cap;
  int oom; /* an append failed: the content is incomplete */
} ce_buf;

void ce_buf_init(ce_buf *b);
void ce_buf_free(ce_buf *b);
void ce_buf_adds(ce_buf *b, const char *s);
/* appends that must grow the buffer (json.c) */
void ce_buf_add_grow(ce_buf *b, const char *s, size_t n);
void ce_buf_addc_grow(ce_buf *b, char c);

/* Appends, inline while there is room: an encoder appends a few bytes at a
 * time (quotes, commas, colons), and a call per append was a tenth of
 * writing a record. The content stays NUL-terminated. */
static inline void ce_buf_add(ce_buf *b, const char *s, size_t n) {
  if (b->oom || b->len + n + 1 > b->cap) {
    ce_buf_add_grow(b, s, n);
    return;
  }
  if (n) __builtin_memcpy(b->data + b->len, s, n); /* s may be NULL when n is 0 */
  b->len += n;
  b->data[b->len] = '\0';
}

static inline void ce_buf_addc(ce_buf *b, char c) {
  if (b->oom || b->len + 2 > b->cap) {
    ce_buf_addc_grow(b, c);
    return;
  }
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

/* ---- writing ---- */
/* "..." with the escapes JSON requires; UTF-8 passes through, and each
 * ill-formed sequence in s becomes U+FFFD, so the output is always UTF-8. */
void ce_json_write_string(ce_buf *b, const char *s, size_t n);
/* The shortest decimal that reads back as the same double; integral values
 * keep a ".0" so a float stays a float. NaN and infinities are not JSON:
 * returns -1 and writes nothing. */
int ce_json_write_double(ce_buf *b, double v);
void ce_json_write_int(ce_buf *b, int64_t v);

/* ---- parsing ---- */
/* What key() returns to have the key's value checked but not reported: no
 * callback for it or anything in it, and no number in it converted (a
 * reader that keeps a few fields of a large object skips the rest at the
 * cost of a syntax check). */
#define CE_JSON_SKIP (-1)
typedef struct {
  /* each returns 0 to go on, nonzero to stop with an error ("stopped by
   * caller"); key() may also return CE_JSON_SKIP */
  int (*null)(void *ud);
  int (*boolean)(void *ud, int v);
  int (*integer)(void *ud, int64_t v);  /* a number without fraction or exponent that fits */
  int (*number)(void *ud, double v);
  int (*string)(void *ud, const char *s, size_t n);
  int (*begin_array)(void *ud);
  int (*end_array)(void *ud);
  int (*begin_object)(void *ud);
  int (*key)(void *ud, const char *s, size_t n);
  int (*end_object)(void *ud);
} ce_json_handler;

enum { CE_JSON_ESYNTAX = 1, CE_JSON_EDEPTH, CE_JSON_ESTOP, CE_JSON_ENOMEM };

/* Parses exactly one value (surrounding whitespace allowed). name prefixes
 * messages ("file:line:col: ..."). max_depth 0 means 512. scratch holds
 * decoded strings; pass a buffer the caller frees (so a callback that never
 * returns, e.g. a Lua error, leaks nothing), or NULL for an internal one. */
int ce_json_parse(const char *text, size_t len, const char *name, unsigned max_depth,
                  const ce_json_handler *h, void *ud, ce_buf *scratch, ce_err *err);

#endif
