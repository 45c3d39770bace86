/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/util/lockfile.h"

static char *slurp(const char *path) {
  static char buf[64];
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

int main(void) {
  char dir[] = "/tmp/ce-lockfile-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[256];
  snprintf(path, sizeof path, "%s/run.lock", dir);
  ce_err e;
  ce_lockfile *l;
  long holder;

  /* another live process holds it: refused, naming that process */
  int up[2], down[2];
  if (pipe(up) || pipe(down)) return 1;
  pid_t child = fork();
  if (child == 0) {
    ce_lockfile *c;
    long h;
    char ok = ce_lockfile_take(path, &c, &h, &e) == 1 ? 'y' : 'n';
    if (write(up[1], &ok, 1) != 1) _exit(2);
    char go;
    if (read(down[0], &go, 1) != 1) _exit(2);
    _exit(0); /* dies holding it, as a killed run would */
  }
  char ok = 0;
  CHECK(read(up[0], &ok, 1) == 1 && ok == 'y');
  CHECK(ce_lockfile_take(path, &l, &holder, &e) == 0);
  CHECK(l == NULL);
  CHECK(holder == (long)child);
  char want[32];
  snprintf(want, sizeof want, "%ld\n", (long)child);
  CHECK_STR(slurp(path), want);
  /* asked without taking it: the live holder */
  CHECK(ce_lockfile_holder(path, &holder, &e) == 1);
  CHECK(holder == (long)child);

  /* the holder died without releasing: its file is left, and does not block */
  CHECK(write(down[1], "x", 1) == 1);
  int status;
  waitpid(child, &status, 0);
  struct stat st;
  CHECK(stat(path, &st) == 0);
  CHECK(ce_lockfile_holder(path, &holder, &e) == 0);
  CHECK(ce_lockfile_take(path, &l, &holder, &e) == 1);
  CHECK(l != NULL);
  snprintf(want, sizeof want, "%ld\n", (long)getpid());
  CHECK_STR(slurp(path), want);

  /* released: the file is gone, and nobody holds it */
  ce_lockfile_release(l);
  CHECK(stat(path, &st) != 0);
  CHECK(ce_lockfile_holder(path, &holder, &e) == 0);
  ce_lockfile_release(NULL);

  /* a folder that does not exist: an error naming the file */
  char bad[300];
  snprintf(bad, sizeof bad, "%s/no/such/run.lock", dir);
  CHECK(ce_lockfile_take(bad, &l, &holder, &e) == -1);
  CHECK_CONTAINS(e.msg, bad);
  CHECK_CONTAINS(e.msg, "No such file");

  rmdir(dir);
  return check_report("test_lockfile");
}
