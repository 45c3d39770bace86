/* SPDX-License-Identifier: MIT */
#include "core/util/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ce_mkdirs(const char *path, int mode, ce_err *err) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf) {
    ce_err_setf(err, 1, path, 0, 0, "path is empty or too long");
    return -1;
  }
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) {
        ce_err_setf(err, 1, buf, 0, 0, "cannot create directory: %s", strerror(errno));
        return -1;
      }
      *p = c;
      if (c == '\0') break;
    }
  }
  return 0;
}

int ce_paths_is_root(const char *dir) {
  char probe[4200];
  int n = snprintf(probe, sizeof probe, "%s/lua/stdlib/causal_eval/init.lua", dir);
  return n > 0 && (size_t)n < sizeof probe && access(probe, R_OK) == 0;
}

static int set_root(ce_paths *p, const char *dir, ce_layout layout) {
  char real[PATH_MAX];
  if (!dir || !*dir || !ce_paths_is_root(dir) || !realpath(dir, real)) return 0;
  snprintf(p->root, sizeof p->root, "%s", real);
  p->layout = layout;
  return 1;
}

const char *ce_layout_name(ce_layout l) {
  switch (l) {
    case CE_LAYOUT_ENV: return "env";
    case CE_LAYOUT_INSTALL: return "install";
    case CE_LAYOUT_SOURCE: return "source";
    default: return "none";
  }
}

static void find_exe(ce_paths *p, const char *argv0) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    snprintf(p->exe, sizeof p->exe, "%s", buf);
    return;
  }
  if (argv0 && strchr(argv0, '/') && realpath(argv0, buf))
    snprintf(p->exe, sizeof p->exe, "%s", buf);
}

void ce_paths_locate(ce_paths *p, const char *argv0, const char *home, const char *source_dir) {
  memset(p, 0, sizeof *p);
  find_exe(p, argv0);
  if (set_root(p, home, CE_LAYOUT_ENV)) return;
  if (p->exe[0]) {
    char dir[4096], cand[4200];
    snprintf(dir, sizeof dir, "%s", p->exe);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    snprintf(cand, sizeof cand, "%s/../share/causal-eval", dir);
    if (set_root(p, cand, CE_LAYOUT_INSTALL)) return;
    /* build/ or build-asan/ or build/sub/ inside a source tree */
    snprintf(cand, sizeof cand, "%s/..", dir);
    if (set_root(p, cand, CE_LAYOUT_SOURCE)) return;
    snprintf(cand, sizeof cand, "%s/../..", dir);
    if (set_root(p, cand, CE_LAYOUT_SOURCE)) return;
  }
  set_root(p, source_dir, CE_LAYOUT_SOURCE);
}
