/* SPDX-License-Identifier: MIT */
/* An exclusive lock held by this process on a file (a POSIX record lock),
 * with the holder's pid written in it. The kernel drops the lock when the
 * process ends, however it ends, so a file left by a dead process never
 * blocks anyone: only a live holder does. */
#ifndef CE_LOCKFILE_H
#define CE_LOCKFILE_H

#include "core/util/err.h"

typedef struct ce_lockfile ce_lockfile;

/* Takes the lock on path (created if missing). 1: taken, *out set; 0: a
 * live process holds it, *holder its pid (0 if it could not be learnt);
 * -1: error in err. Taking a lock this process already holds succeeds
 * (record locks belong to the process): callers keep one per path. */
int ce_lockfile_take(const char *path, ce_lockfile **out, long *holder, ce_err *err);
/* Whether a live process holds the lock on path, without taking it:
 * 1 and *holder its pid, 0 when none does (or the file is missing), -1 on
 * error. A lock this very process holds counts as none (record locks do
 * not conflict within a process). */
int ce_lockfile_holder(const char *path, long *holder, ce_err *err);
/* Removes the file and drops the lock. NULL-safe. */
void ce_lockfile_release(ce_lockfile *l);

#endif
