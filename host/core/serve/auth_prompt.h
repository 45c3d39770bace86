/* SPDX-License-Identifier: MIT */
/* Reading a password from a terminal without showing it. The terminal goes
 * to raw input with echo off for the read and back as it was afterwards,
 * whatever happens: Ctrl-C is read as a key (cancel) rather than a signal
 * that would leave the terminal silent. */
#ifndef CE_AUTH_PROMPT_H
#define CE_AUTH_PROMPT_H

#include <stddef.h>

#include "core/util/err.h"

/* Writes prompt to out_fd and reads a line from the terminal in_fd into
 * buf (NUL-terminated, *len bytes). Backspace and Ctrl-U edit; Enter ends.
 * 1: read; 0: end of input (Ctrl-D on an empty line); -2: cancelled
 * (Ctrl-C); -1: error in err (not a terminal, longer than size - 1 bytes). */
int ce_auth_read_secret(int in_fd, int out_fd, const char *prompt, char *buf, size_t size, size_t *len, ce_err *err);

#endif
