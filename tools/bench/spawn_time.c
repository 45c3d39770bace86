/* SPDX-License-Identifier: MIT */
/* Times a command from fork to exit, N times, with no shell in between:
 *   spawn_time N command [args...]
 * prints the median, min, max and mean wall time in milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s N command [args...]\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[1]);
  if (n < 1) n = 1;
  double *t = calloc((size_t)n, sizeof *t);
  if (!t) return 1;
  for (int i = 0; i < n; i++) {
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
      execvp(argv[2], argv + 2);
      _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) return 1;
    t[i] = now_ms() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "%s: command failed (status %d)\n", argv[0], st);
      return 1;
    }
  }
  qsort(t, (size_t)n, sizeof *t, cmp);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += t[i];
  double median = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  printf("runs %d  median %.3f ms  min %.3f ms  max %.3f ms  mean %.3f ms\n", n, median, t[0],
         t[n - 1], sum / n);
  free(t);
  return 0;
}
