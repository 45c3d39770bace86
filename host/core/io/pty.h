/* SPDX-License-Identifier: MIT */
/* A child process on a pseudo-terminal, for driving interactive programs (the
 * REPL, progress lines) from tests exactly as a person at a terminal would. */
#ifndef CE_PTY_H
#define CE_PTY_H

#include <stddef.h>
#include <sys/types.h>

#include "core/util/err.h"

typedef struct ce_pty ce_pty;

/* argv is NULL-terminated; setenv_kv is NULL or a NULL-terminated list of
 * "KEY=VALUE" (added to the inherited environment; "KEY" alone unsets). */
ce_pty *ce_pty_spawn(char *const argv[], char *const setenv_kv[], int rows, int cols,
                     ce_err *err);
/* >0 bytes read; 0 on timeout; -1 at end of output (child closed the terminal). */
ssize_t ce_pty_read(ce_pty *p, char *buf, size_t n, int timeout_ms);
int ce_pty_write(ce_pty *p, const char *buf, size_t n);  /* 0 or -1 */
/* 1: exited, *status is a waitpid status; 0: still running after timeout_ms. */
int ce_pty_wait(ce_pty *p, int timeout_ms, int *status);
int ce_pty_kill(ce_pty *p, int sig);
/* The terminal's current line discipline as the child left it: canonical
 * (line-buffered) input, echo, and signal keys. 0 or -1 when it cannot be read.
 * Lets a driver wait until a line editor has switched to raw input. */
typedef struct { int canonical, echo, signals; } ce_pty_modes;
int ce_pty_modes_get(ce_pty *p, ce_pty_modes *m);
pid_t ce_pty_pid(const ce_pty *p);
void ce_pty_close(ce_pty *p); /* kills a running child (SIGKILL) and reaps it; NULL-safe */

#endif
