/* SPDX-License-Identifier: MIT */
/* LMDB trusts its file: on a damaged data.mdb it may read past the end of
 * the file (SIGBUS), follow a wild pointer (SIGSEGV) or fail one of its
 * assertions (abort). A guard turns each of those, while the calling thread
 * is inside LMDB, into an ordinary error:
 *
 *   static int get(void *arg) { struct args *a = arg; return mdb_get(a->txn, ...); }
 *   ce_guard g;
 *   int rc = ce_guard_run(&g, get, &args);   (CE_GUARD_FAULT after a fault)
 *
 * fn must only read the store and call LMDB: a Lua error or another
 * longjmp out of it would leave the guard armed. What fn stores through
 * arg before a fault is still there after it.
 * Faults outside a guard go to whatever handler was there before (the
 * default action, or AddressSanitizer's report). */
#ifndef CE_STORE_GUARD_H
#define CE_STORE_GUARD_H

#include <lmdb.h>
#include <setjmp.h>

typedef struct ce_guard {
  sigjmp_buf jb;
  struct ce_guard *prev;
  volatile int sig;  /* SIGSEGV, SIGBUS, or SIGABRT for an LMDB assertion */
  char what[160];    /* LMDB's assertion text, when there was one */
} ce_guard;

/* a return code for LMDB calls a guard cut short, beside LMDB's own */
#define CE_GUARD_FAULT (-31000)

int ce_guard_run(ce_guard *g, int (*fn)(void *), void *arg);
/* "SIGBUS (reading past the end of the file)", or LMDB's assertion */
const char *ce_guard_describe(const ce_guard *g, char *buf, size_t n);

/* for mdb_env_set_assert */
void ce_guard_lmdb_assert(MDB_env *env, const char *msg);

#endif
