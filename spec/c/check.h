/* SPDX-License-Identifier: MIT */
/* Minimal checks for the C unit tests: report every failure with its
 * location, keep going, exit non-zero at the end if anything failed. */
#ifndef CE_CHECK_H
#define CE_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    check_count++;                                                         \
    if (!(cond)) {                                                         \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

#define CHECK_STR(a, b)                                                    \
  do {                                                                     \
    const char *a_ = (a), *b_ = (b);                                       \
    check_count++;                                                         \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                               \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, \
              b_ ? b_ : "(null)", a_ ? a_ : "(null)");                     \
    }                                                                      \
  } while (0)

#define CHECK_CONTAINS(hay, needle)                                        \
  do {                                                                     \
    const char *h_ = (hay), *n_ = (needle);                                \
    check_count++;                                                         \
    if (!h_ || !strstr(h_, n_)) {                                          \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
              h_ ? h_ : "(null)", n_);                                     \
    }                                                                      \
  } while (0)

static int check_report(const char *name) {
  if (check_failures) {
    fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures, check_count);
    return 1;
  }
  printf("%s: %d checks passed\n", name, check_count);
  return 0;
}

#endif
