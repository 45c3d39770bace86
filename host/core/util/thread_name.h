/* SPDX-License-Identifier: MIT */
/* Names a thread as top -H, perf and /proc/PID/task/TID/comm show it, so a
 * profile or tools/bench/rusage.c can tell workers from the store's writer. */
#ifndef CE_THREAD_NAME_H
#define CE_THREAD_NAME_H

#include <pthread.h>

/* At most 15 bytes are kept (the kernel's limit); elsewhere than Linux, nothing. */
void ce_thread_name(pthread_t t, const char *name);
/* name, then "-" and index: "worker-2", cut to fit */
void ce_thread_name_indexed(pthread_t t, const char *name, int index);

#endif
