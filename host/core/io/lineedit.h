/* SPDX-License-Identifier: MIT */
/* Line editing for the REPL on libedit's native API (not its readline emulation),
 * so that callbacks get their context through EL_CLIENTDATA instead of globals.
 * Ctrl-C at the prompt is read as a key (ISIG off while editing), which makes
 * "cancel this line" deterministic; while a chunk runs the terminal is cooked
 * again and Ctrl-C is a signal that the caller turns into an interrupt. */
#ifndef CE_LINEEDIT_H
#define CE_LINEEDIT_H

#include <stddef.h>

#include "core/util/err.h"

typedef struct ce_lineedit ce_lineedit;

/* Fills out with candidate words for the word being typed; *typed is how many
 * bytes of that word are already in the buffer. Return 0, or -1 for none. */
typedef struct {
  char **words;
  size_t n, cap;
} ce_completions;
int ce_completions_add(ce_completions *c, const char *word, size_t len);

typedef int (*ce_complete_fn)(void *ud, const char *line, size_t cursor,
                              ce_completions *out, size_t *typed);

typedef struct {
  const char *prog;          /* for ~/.editrc sections */
  const char *history_path;  /* NULL: no persistent history */
  int history_size;          /* 0: default 1000 */
  ce_complete_fn complete;   /* NULL: no completion */
  void *complete_ud;
} ce_lineedit_cfg;

ce_lineedit *ce_lineedit_open(const ce_lineedit_cfg *cfg, ce_err *err);
/* 1: *line set (malloc'd, no trailing newline); 0: end of input; -1: Ctrl-C. */
int ce_lineedit_read(ce_lineedit *le, const char *prompt, char **line);
/* Adds to history and saves the history file; -1 + err when saving fails. */
int ce_lineedit_add_history(ce_lineedit *le, const char *entry, ce_err *err);
int ce_lineedit_is_tty(const ce_lineedit *le);
void ce_lineedit_close(ce_lineedit *le); /* NULL-safe */

#endif
