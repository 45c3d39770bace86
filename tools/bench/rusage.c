/* SPDX-License-Identifier: MIT */
/* Runs a command and writes what it cost, for tools/bench/pipeline.sh:
 *   rusage OUTFILE command [args...]
 * OUTFILE gets one line:
 *   wall_s user_s sys_s maxrss_kb peak_anon_kb peak_file_kb
 * user/sys/maxrss come from wait4() (exact, the child and its threads);
 * peak_anon/peak_file are the largest RssAnon/RssFile seen in
 * /proc/PID/status, sampled every 20 ms (so they tell heap from mapped
 * files such as the LMDB store). OUTFILE.threads gets the CPU seconds of
 * each kind of thread, "NAME SECONDS" a line, most first: the threads' names
 * (comm; "worker-2" counts as "worker") with the CPU each was last seen to
 * have used in /proc/PID/task/TID/schedstat, sampled with the rest (so a
 * thread's last 20 ms may be missing). SIGINT, SIGTERM and SIGHUP are passed on to
 * the child, so killing this process never leaves the command behind.
 * Exit status: the command's. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child = 0;

static void forward(int sig) {
  if (child > 0) kill((pid_t)child, sig);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sample(pid_t pid, long *anon, long *file) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return;
  long v;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "RssAnon: %ld", &v) == 1 && v > *anon) *anon = v;
    else if (sscanf(line, "RssFile: %ld", &v) == 1 && v > *file) *file = v;
  }
  fclose(f);
}

/* the CPU each thread was last seen to have used */
#define MAX_THREADS 1024
static struct {
  long tid;
  char name[16];
  double cpu_s;
} seen[MAX_THREADS];
static int nseen;

static void sample_threads(pid_t pid) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    long tid = strtol(e->d_name, NULL, 10);
    if (tid <= 0) continue;
    char name[16] = "?";
    unsigned long long ns = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%ld/comm", (int)pid, tid);
    FILE *f = fopen(path, "r");
    if (f) {
      if (fgets(name, sizeof name, f)) name[strcspn(name, "\n")] = '\0';
      fclose(f);
    }
    snprintf(path, sizeof path, "/proc/%d/task/%ld/schedstat", (int)pid, tid);
    f = fopen(path, "r");
    if (!f || fscanf(f, "%llu", &ns) != 1) {
      if (f) fclose(f);
      continue;
    }
    fclose(f);
    int i = 0;
    while (i < nseen && seen[i].tid != tid) i++;
    if (i == nseen) {
      if (nseen == MAX_THREADS) continue;
      nseen++;
      seen[i].tid = tid;
    }
    snprintf(seen[i].name, sizeof seen[i].name, "%s", name);
    seen[i].cpu_s = (double)ns / 1e9;
  }
  closedir(d);
}

typedef struct {
  char name[16];
  double secs;
} kind;

static int most_first(const void *a, const void *b) {
  double x = ((const kind *)a)->secs, y = ((const kind *)b)->secs;
  return (x < y) - (x > y);
}

/* OUTFILE.threads: the seconds of each name, a worker's index left out */
static void write_threads(const char *outfile) {
  static kind kinds[MAX_THREADS];
  int n = 0;
  for (int i = 0; i < nseen; i++) {
    char k[16];
    snprintf(k, sizeof k, "%s", seen[i].name);
    size_t l = strlen(k);
    while (l > 0 && isdigit((unsigned char)k[l - 1])) l--;
    if (l > 0 && l < strlen(k) && k[l - 1] == '-') k[l - 1] = '\0';
    int j = 0;
    while (j < n && strcmp(kinds[j].name, k) != 0) j++;
    if (j == n) {
      memcpy(kinds[n].name, k, sizeof k);
      kinds[n++].secs = 0;
    }
    kinds[j].secs += seen[i].cpu_s;
  }
  qsort(kinds, (size_t)n, sizeof *kinds, most_first);
  char path[4096];
  snprintf(path, sizeof path, "%s.threads", outfile);
  FILE *out = fopen(path, "w");
  if (!out) return;
  for (int i = 0; i < n; i++) fprintf(out, "%s %.6f\n", kinds[i].name, kinds[i].secs);
  fclose(out);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUTFILE command [args...]\n", argv[0]);
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  double t0 = now_s();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    fprintf(stderr, "rusage: cannot run %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  child = pid;
  long anon = 0, file = 0;
  int status = 0;
  struct rusage ru;
  for (;;) {
    pid_t r = wait4(pid, &status, WNOHANG, &ru);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      perror("wait4");
      return 2;
    }
    sample(pid, &anon, &file);
    sample_threads(pid);
    struct timespec nap = { 0, 20 * 1000 * 1000 };
    nanosleep(&nap, NULL);
  }
  double wall = now_s() - t0;
  FILE *out = fopen(argv[1], "w");
  if (!out) {
    perror(argv[1]);
    return 2;
  }
  fprintf(out, "%.6f %.6f %.6f %ld %ld %ld\n", wall,
          (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
          ru.ru_maxrss, anon, file);
  fclose(out);
  write_threads(argv[1]);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}
