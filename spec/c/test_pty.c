/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "core/io/pty.h"

/* Reads until needle shows up or 5 s pass; returns 1 when found. */
static int read_until(ce_pty *p, const char *needle, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < 100; i++) {
    ssize_t n = ce_pty_read(p, buf + len, size - len - 1, 50);
    if (n < 0) break;
    len += (size_t)n;
    buf[len] = '\0';
    if (strstr(buf, needle)) return 1;
  }
  return 0;
}

int main(void) {
  ce_err e;
  char buf[4096];

  char *echo[] = {"sh", "-c", "echo hello from $CE_PTY_VAR; test -t 0 && echo on-a-tty", NULL};
  char *env[] = {"CE_PTY_VAR=the-env", NULL};
  ce_pty *p = ce_pty_spawn(echo, env, 24, 80, &e);
  CHECK(p != NULL);
  if (p) {
    CHECK(read_until(p, "on-a-tty", buf, sizeof buf));
    CHECK_CONTAINS(buf, "hello from the-env");
    int st = -1;
    CHECK(ce_pty_wait(p, 5000, &st) == 1);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ce_pty_close(p);
  }

  char *cat[] = {"sh", "-c", "read line; echo got:$line; exit 3", NULL};
  p = ce_pty_spawn(cat, NULL, 0, 0, &e);
  CHECK(p != NULL);
  if (p) {
    CHECK(ce_pty_write(p, "abc\n", 4) == 0);
    CHECK(read_until(p, "got:abc", buf, sizeof buf));
    int st = -1;
    CHECK(ce_pty_wait(p, 5000, &st) == 1);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    ce_pty_close(p);
  }

  char *sleeper[] = {"sleep", "30", NULL};
  p = ce_pty_spawn(sleeper, NULL, 0, 0, &e);
  CHECK(p != NULL);
  if (p) {
    int st = -1;
    CHECK(ce_pty_wait(p, 50, &st) == 0); /* still running */
    CHECK(ce_pty_read(p, buf, sizeof buf, 50) == 0); /* timeout, not EOF */
    CHECK(ce_pty_kill(p, SIGTERM) == 0);
    CHECK(ce_pty_wait(p, 5000, &st) == 1);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    ce_pty_close(p);
  }

  char *missing[] = {"/nonexistent/program", NULL};
  p = ce_pty_spawn(missing, NULL, 0, 0, &e);
  CHECK(p == NULL);
  CHECK_CONTAINS(e.msg, "/nonexistent/program: cannot run: No such file or directory");

  char *empty[] = {NULL};
  CHECK(ce_pty_spawn(empty, NULL, 0, 0, &e) == NULL);
  CHECK_CONTAINS(e.msg, "empty command");

  ce_pty_close(NULL); /* NULL-safe */
  return check_report("test_pty");
}
