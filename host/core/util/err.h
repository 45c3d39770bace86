/* SPDX-License-Identifier: MIT */
/* Error reports shared by every host/core module: a located message a person can act on. */
#ifndef CE_ERR_H
#define CE_ERR_H

#include <stdarg.h>

typedef struct ce_err {
  int code;          /* 0: no error; otherwise module-specific, > 0 */
  unsigned line;     /* 1-based; 0 when the error has no position */
  unsigned col;      /* 1-based; 0 when the error has no position */
  char msg[640];     /* complete message, already prefixed with "where: " */
} ce_err;

void ce_err_clear(ce_err *e);
/* Formats "name:line:col: message" (position parts omitted when 0). NULL-safe on e. */
void ce_err_setf(ce_err *e, int code, const char *name, unsigned line, unsigned col,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

#endif
