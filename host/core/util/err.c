/* SPDX-License-Identifier: MIT */
#include "core/util/err.h"

#include <stdio.h>
#include <string.h>

void ce_err_clear(ce_err *e) {
  if (!e) return;
  e->code = 0;
  e->line = e->col = 0;
  e->msg[0] = '\0';
}

void ce_err_setf(ce_err *e, int code, const char *name, unsigned line, unsigned col,
                 const char *fmt, ...) {
  if (!e) return;
  size_t n = 0;
  int w;
  e->code = code ? code : 1;
  e->line = line;
  e->col = col;
  if (name && *name) {
    if (line && col) w = snprintf(e->msg, sizeof e->msg, "%s:%u:%u: ", name, line, col);
    else if (line) w = snprintf(e->msg, sizeof e->msg, "%s:%u: ", name, line);
    else w = snprintf(e->msg, sizeof e->msg, "%s: ", name);
    n = (w > 0 && (size_t)w < sizeof e->msg) ? (size_t)w : 0;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
  va_end(ap);
}
