/* SPDX-License-Identifier: MIT */
/* Where the program's own files are: the folder holding lua/stdlib, benchmarks/,
 * adapters/ and configs/, found relative to the executable so that a build
 * tree, an installed prefix and a moved copy all work without configuration. */
#ifndef CE_PATHS_H
#define CE_PATHS_H

#include <stddef.h>

#include "core/util/err.h"

typedef enum {
  CE_LAYOUT_NONE,    /* nothing found: only the embedded stdlib is available */
  CE_LAYOUT_ENV,     /* $CAUSAL_EVAL_HOME */
  CE_LAYOUT_INSTALL, /* <prefix>/bin/causal-eval with <prefix>/share/causal-eval */
  CE_LAYOUT_SOURCE   /* a build folder inside (or beside) the source tree */
} ce_layout;

typedef struct {
  char exe[4096];  /* absolute path of the running executable ("" if unknown) */
  char root[4096]; /* data root ("" when layout is NONE) */
  ce_layout layout;
} ce_paths;

/* home: value of $CAUSAL_EVAL_HOME or NULL; source_dir: compile-time source
 * tree or NULL. Never fails: unknown parts stay empty. */
void ce_paths_locate(ce_paths *p, const char *argv0, const char *home, const char *source_dir);
const char *ce_layout_name(ce_layout l);
/* 1 when dir holds lua/stdlib/causal_eval/init.lua */
int ce_paths_is_root(const char *dir);
/* mkdir -p: path and the folders above it, those made with mode; 0, or -1
 * and err naming the folder that could not be made */
int ce_mkdirs(const char *path, int mode, ce_err *err);

#endif
