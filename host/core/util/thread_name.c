/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "core/util/thread_name.h"

#include <stdio.h>
#include <string.h>

void ce_thread_name(pthread_t t, const char *name) {
#ifdef __linux__
  char n[16];
  snprintf(n, sizeof n, "%s", name);
  pthread_setname_np(t, n);
#else
  (void)t;
  (void)name;
#endif
}

void ce_thread_name_indexed(pthread_t t, const char *name, int index) {
  char suffix[16], n[16];
  size_t sl = (size_t)snprintf(suffix, sizeof suffix, "-%d", index);
  if (sl >= sizeof n) sl = sizeof n - 1;
  size_t keep = strlen(name);
  if (keep > sizeof n - 1 - sl) keep = sizeof n - 1 - sl;
  memcpy(n, name, keep);
  memcpy(n + keep, suffix, sl);
  n[keep + sl] = '\0';
  ce_thread_name(t, n);
}
