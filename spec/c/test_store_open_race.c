/* SPDX-License-Identifier: MIT */
/* Several processes opening one new store at the same moment, as the
 * workers of a queue started together on one machine do: every one of
 * them opens it (LMDB starts an empty data.mdb afresh in each process that
 * finds it so: before opens were serialised, 4 processes at once failed
 * with MDB_NOTFOUND or "the file is empty" in 1 round of 10 to 20). */
#include "check.h"
#include "core/store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 100
#define PROCS 4

int main(void) {
  char base[] = "/tmp/causal-eval-open-race.XXXXXX";
  if (!mkdtemp(base)) {
    perror("mkdtemp");
    return 1;
  }
  int failed = 0;
  for (int r = 0; r < ROUNDS; r++) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/s%d", base, r);
    pid_t kids[PROCS];
    for (int i = 0; i < PROCS; i++) {
      kids[i] = fork();
      if (kids[i] == 0) {
        ce_err e;
        ce_store *s = ce_store_open(dir, 64, 0, &e);
        if (!s) {
          fprintf(stderr, "round %d, process %d: %s\n", r, i, e.msg);
          _exit(1);
        }
        const char k[] = "k", v[] = "v";
        int ok = ce_store_put(s, CE_STORE_META, k, 1, v, 1, &e) == 0;
        if (!ok) fprintf(stderr, "round %d, process %d: %s\n", r, i, e.msg);
        ce_store_free(s);
        _exit(ok ? 0 : 1);
      }
    }
    for (int i = 0; i < PROCS; i++) {
      int st = 0;
      waitpid(kids[i], &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
    }
  }
  CHECK(failed == 0);
  if (failed) fprintf(stderr, "%d of %d opens failed\n", failed, ROUNDS * PROCS);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", base);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
  return check_report("test_store_open_race");
}
