/* SPDX-License-Identifier: MIT */
#include "core/store/guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static __thread ce_guard *current;
static struct sigaction old_segv, old_bus;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  ce_guard *g = current;
  if (g) {
    current = g->prev;
    g->sig = sig;
    siglongjmp(g->jb, 1);
  }
  /* not a guarded read: the handler that was there before decides */
  struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
  if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
    old->sa_sigaction(sig, si, ctx);
    return;
  }
  if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  /* NODEFER: the handler leaves by siglongjmp without restoring the signal
   * mask, and a fault while its own signal is blocked kills the process */
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

int ce_guard_run(ce_guard *g, int (*fn)(void *), void *arg) {
  pthread_once(&installed, install);
  g->sig = 0;
  g->what[0] = '\0';
  g->prev = current;
  current = g;
  int r;
  if (sigsetjmp(g->jb, 0) == 0) {
    r = fn(arg);
    current = g->prev;
  } else {
    r = CE_GUARD_FAULT; /* the handler has unlinked g */
  }
  return r;
}

void ce_guard_lmdb_assert(MDB_env *env, const char *msg) {
  (void)env;
  ce_guard *g = current;
  if (!g) return; /* LMDB aborts, as it would without us */
  current = g->prev;
  g->sig = SIGABRT;
  snprintf(g->what, sizeof g->what, "%s", msg);
  siglongjmp(g->jb, 1);
}

const char *ce_guard_describe(const ce_guard *g, char *buf, size_t n) {
  if (g->sig == SIGABRT) snprintf(buf, n, "LMDB failed a check (%s)", g->what);
  else if (g->sig == SIGBUS) snprintf(buf, n, "a read past the end of the file (SIGBUS)");
  else snprintf(buf, n, "a read through a bad page pointer (SIGSEGV)");
  return buf;
}
