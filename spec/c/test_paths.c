/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/util/paths.h"

static void make_root(const char *dir) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/lua/stdlib/causal_eval' && touch '%s/lua/stdlib/causal_eval/init.lua'",
           dir, dir);
  CHECK(system(cmd) == 0);
}

int main(void) {
  char tmpl[] = "/tmp/ce-test-paths.XXXXXX";
  char *base = mkdtemp(tmpl);
  CHECK(base != NULL);
  if (!base) return check_report("test_paths");
  char root[512], notroot[512];
  snprintf(root, sizeof root, "%s/root", base);
  snprintf(notroot, sizeof notroot, "%s/empty", base);
  make_root(root);
  mkdir(notroot, 0700);

  CHECK(ce_paths_is_root(root));
  CHECK(!ce_paths_is_root(notroot));
  CHECK(!ce_paths_is_root("/nonexistent/dir"));

  ce_paths p;
  /* the running test binary is in the build folder, no tree beside it:
   * the compile-time source folder is the last resort */
  ce_paths_locate(&p, "test_paths", NULL, root);
  CHECK(p.exe[0] == '/');
  CHECK(p.layout == CE_LAYOUT_SOURCE || p.layout == CE_LAYOUT_INSTALL);

  ce_paths_locate(&p, "test_paths", root, NULL);
  CHECK(p.layout == CE_LAYOUT_ENV);
  CHECK_STR(p.root, root);
  CHECK_STR(ce_layout_name(p.layout), "env");

  /* a home without the stdlib is not trusted; with no source dir either the
   * result depends on where the test binary sits, but never names notroot */
  ce_paths_locate(&p, "test_paths", notroot, root);
  CHECK(strcmp(p.root, notroot) != 0);

  ce_paths_locate(&p, "test_paths", notroot, "/nonexistent");
  CHECK(p.layout != CE_LAYOUT_ENV);

  CHECK_STR(ce_layout_name(CE_LAYOUT_NONE), "none");
  CHECK_STR(ce_layout_name(CE_LAYOUT_INSTALL), "install");
  CHECK_STR(ce_layout_name(CE_LAYOUT_SOURCE), "source");

  char cmd[1024];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  CHECK(system(cmd) == 0);
  return check_report("test_paths");
}
