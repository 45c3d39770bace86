/* SPDX-License-Identifier: MIT */
/* Running a program with input on stdin, collecting stdout and stderr, with a
 * time limit after which it is killed (the `command` model adapter). */
#ifndef CE_PROC_H
#define CE_PROC_H

#include <stddef.h>

#include "core/util/err.h"
#include "core/util/json.h"

typedef struct {
  int exit_code;   /* -1 when killed by a signal */
  int signal;      /* the signal that ended it, or 0 */
  int timed_out;   /* killed because the time limit passed */
  ce_buf out, err; /* caller frees with ce_proc_result_free */
  double seconds;
} ce_proc_result;

/* argv is NULL-terminated; timeout_ms <= 0: none; max_output caps each stream. */
int ce_proc_run(char *const argv[], const char *input, size_t input_len, long timeout_ms,
                size_t max_output, ce_proc_result *res, ce_err *err);
void ce_proc_result_free(ce_proc_result *r);

#endif
