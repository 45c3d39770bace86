/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "check.h"
#include "core/io/proc.h"

int main(void) {
  ce_proc_result r;
  ce_err e;
  char *cat[] = {"cat", NULL};
  CHECK(ce_proc_run(cat, "hello\n", 6, 5000, 1 << 20, &r, &e) == 0);
  CHECK(r.exit_code == 0 && !r.timed_out);
  CHECK(r.out.len == 6 && memcmp(r.out.data, "hello\n", 6) == 0);
  ce_proc_result_free(&r);

  /* a large input and output both flow without deadlock */
  static char big[1 << 20];
  memset(big, 'x', sizeof big);
  CHECK(ce_proc_run(cat, big, sizeof big, 10000, 4 << 20, &r, &e) == 0);
  CHECK(r.out.len == sizeof big);
  ce_proc_result_free(&r);

  /* a program that exits without reading its input: the parent's write
   * fails with EPIPE, and the SIGPIPE it raises must not kill the caller
   * (a command: model that ignored its prompt ended a whole run, exit 141) */
  char *deaf[] = {"sh", "-c", "exit 0", NULL};
  for (int i = 0; i < 20; i++) {
    CHECK(ce_proc_run(deaf, big, sizeof big, 10000, 1 << 20, &r, &e) == 0);
    CHECK(r.exit_code == 0);
    ce_proc_result_free(&r);
  }

  char *fail[] = {"sh", "-c", "echo oops >&2; exit 3", NULL};
  CHECK(ce_proc_run(fail, NULL, 0, 5000, 1 << 20, &r, &e) == 0);
  CHECK(r.exit_code == 3);
  CHECK(r.err.len == 5 && memcmp(r.err.data, "oops\n", 5) == 0);
  ce_proc_result_free(&r);

  /* past the time limit it is killed and says so */
  char *slow[] = {"sleep", "10", NULL};
  CHECK(ce_proc_run(slow, NULL, 0, 200, 1 << 20, &r, &e) == 0);
  CHECK(r.timed_out);
  CHECK(r.seconds < 2);
  ce_proc_result_free(&r);

  /* a missing program is an error that names it, or exit status 127 */
  char *missing[] = {"/no/such/program", NULL};
  int rc = ce_proc_run(missing, NULL, 0, 5000, 1 << 20, &r, &e);
  if (rc == 0) {
    CHECK(r.exit_code == 127);
    ce_proc_result_free(&r);
  } else {
    CHECK_CONTAINS(e.msg, "/no/such/program");
  }
  return check_report("test_proc");
}
