/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "core/io/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct ce_pty {
  int fd;
  pid_t pid;
  int reaped;
  int status;
};

static void child_setenv(char *const setenv_kv[]) {
  for (char *const *kv = setenv_kv; kv && *kv; kv++) {
    const char *eq = strchr(*kv, '=');
    if (!eq) {
      unsetenv(*kv);
      continue;
    }
    char key[256];
    size_t klen = (size_t)(eq - *kv);
    if (klen >= sizeof key) continue;
    memcpy(key, *kv, klen);
    key[klen] = '\0';
    setenv(key, eq + 1, 1);
  }
}

ce_pty *ce_pty_spawn(char *const argv[], char *const setenv_kv[], int rows, int cols,
                     ce_err *err) {
  ce_err_clear(err);
  if (!argv || !argv[0]) {
    ce_err_setf(err, 1, "pty", 0, 0, "empty command");
    return NULL;
  }
  ce_pty *p = calloc(1, sizeof *p);
  if (!p) {
    ce_err_setf(err, 1, "pty", 0, 0, "out of memory");
    return NULL;
  }
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)(rows > 0 ? rows : 24);
  ws.ws_col = (unsigned short)(cols > 0 ? cols : 80);
  /* the close-on-exec pipe reports a failed exec (errno) or a good one (EOF) */
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) {
    ce_err_setf(err, 1, argv[0], 0, 0, "pipe: %s", strerror(errno));
    free(p);
    return NULL;
  }
  pid_t pid = forkpty(&p->fd, NULL, NULL, &ws);
  if (pid < 0) {
    ce_err_setf(err, 1, argv[0], 0, 0, "forkpty: %s", strerror(errno));
    close(errpipe[0]);
    close(errpipe[1]);
    free(p);
    return NULL;
  }
  if (pid == 0) {
    close(errpipe[0]);
    child_setenv(setenv_kv);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    execvp(argv[0], argv);
    int e = errno;
    ssize_t w = write(errpipe[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  close(errpipe[1]);
  int child_errno = 0;
  ssize_t r;
  do r = read(errpipe[0], &child_errno, sizeof child_errno);
  while (r < 0 && errno == EINTR);
  close(errpipe[0]);
  p->pid = pid;
  if (r == (ssize_t)sizeof child_errno) {
    ce_err_setf(err, 1, argv[0], 0, 0, "cannot run: %s", strerror(child_errno));
    ce_pty_close(p);
    return NULL;
  }
  return p;
}

ssize_t ce_pty_read(ce_pty *p, char *buf, size_t n, int timeout_ms) {
  struct pollfd pfd = {p->fd, POLLIN, 0};
  int rc;
  do rc = poll(&pfd, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) return 0;
  if (rc < 0) return -1;
  ssize_t got;
  do got = read(p->fd, buf, n);
  while (got < 0 && errno == EINTR);
  return got > 0 ? got : -1; /* EIO once the child side is closed */
}

int ce_pty_write(ce_pty *p, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(p->fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int ce_pty_wait(ce_pty *p, int timeout_ms, int *status) {
  if (p->reaped) {
    *status = p->status;
    return 1;
  }
  double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  for (;;) {
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
      p->reaped = 1;
      *status = p->status;
      return 1;
    }
    if (now_ms() >= deadline) return 0;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

int ce_pty_kill(ce_pty *p, int sig) { return p->reaped ? -1 : kill(p->pid, sig); }

pid_t ce_pty_pid(const ce_pty *p) { return p->pid; }

int ce_pty_modes_get(ce_pty *p, ce_pty_modes *m) {
  struct termios t;
  if (tcgetattr(p->fd, &t) != 0) return -1; /* on the master: the shared tty's settings */
  m->canonical = (t.c_lflag & ICANON) != 0;
  m->echo = (t.c_lflag & ECHO) != 0;
  m->signals = (t.c_lflag & ISIG) != 0;
  return 0;
}

void ce_pty_close(ce_pty *p) {
  if (!p) return;
  if (p->fd >= 0) close(p->fd);
  if (p->pid > 0 && !p->reaped) {
    int st;
    if (!ce_pty_wait(p, 200, &st)) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, &st, 0);
    }
  }
  free(p);
}
