/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "core/io/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ce_proc_result_free(ce_proc_result *r) {
  if (!r) return;
  ce_buf_free(&r->out);
  ce_buf_free(&r->err);
}

int ce_proc_run(char *const argv[], const char *input, size_t input_len, long timeout_ms,
                size_t max_output, ce_proc_result *res, ce_err *err) {
  memset(res, 0, sizeof *res);
  ce_buf_init(&res->out);
  ce_buf_init(&res->err);
  ce_err_clear(err);
  if (!argv || !argv[0]) {
    ce_err_setf(err, 1, "command", 0, 0, "empty command");
    return -1;
  }
  int in[2], out[2], er[2], ex[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) {
    ce_err_setf(err, 1, argv[0], 0, 0, "pipe: %s", strerror(errno));
    return -1;
  }
  double start = now_ms();
  pid_t pid = fork();
  if (pid < 0) {
    ce_err_setf(err, 1, argv[0], 0, 0, "fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(er[1], 2);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    int e = errno;
    ssize_t w = write(ex[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(er[1]);
  close(ex[1]);
  int child_errno = 0;
  ssize_t r;
  do r = read(ex[0], &child_errno, sizeof child_errno);
  while (r < 0 && errno == EINTR);
  close(ex[0]);
  if (r == (ssize_t)sizeof child_errno) {
    close(in[1]);
    close(out[0]);
    close(er[0]);
    waitpid(pid, NULL, 0);
    ce_err_setf(err, 1, argv[0], 0, 0, "cannot run: %s", strerror(child_errno));
    return -1;
  }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  /* A child that exits without reading its input makes our write fail with
   * EPIPE and raises SIGPIPE, whose default action would end the whole
   * process (every worker, the run). It is blocked on this thread while we
   * write, and one raised here is taken off the queue before unblocking;
   * SIGPIPE stays fatal elsewhere, as `causal-eval ... | head` expects. */
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  int broken_pipe = 0;
  size_t written = 0;
  int in_open = 1, out_open = 1, err_open = 1;
  if (!input || input_len == 0) {
    close(in[1]);
    in_open = 0;
  }
  char buf[8192];
  while (out_open || err_open) {
    struct pollfd fds[3];
    int n = 0, iin = -1, iout = -1, ierr = -1;
    if (in_open) { fds[n] = (struct pollfd){in[1], POLLOUT, 0}; iin = n++; }
    if (out_open) { fds[n] = (struct pollfd){out[0], POLLIN, 0}; iout = n++; }
    if (err_open) { fds[n] = (struct pollfd){er[0], POLLIN, 0}; ierr = n++; }
    int wait = -1;
    if (timeout_ms > 0) {
      double left = (double)timeout_ms - (now_ms() - start);
      if (left <= 0) {
        res->timed_out = 1;
        break;
      }
      wait = (int)left + 1;
    }
    int rc = poll(fds, (nfds_t)n, wait);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) continue;
    if (iin >= 0 && (fds[iin].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in[1], input + written, input_len - written);
      if (w > 0) written += (size_t)w;
      if (w < 0 && errno == EPIPE) broken_pipe = 1;
      if (w < 0 && errno != EAGAIN) written = input_len;
      if (written >= input_len) {
        close(in[1]);
        in_open = 0;
      }
    }
    if (iout >= 0 && (fds[iout].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(out[0], buf, sizeof buf);
      if (got > 0) {
        if (res->out.len < max_output) ce_buf_add(&res->out, buf, (size_t)got);
      } else if (got == 0 || errno != EINTR) {
        close(out[0]);
        out_open = 0;
      }
    }
    if (ierr >= 0 && (fds[ierr].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(er[0], buf, sizeof buf);
      if (got > 0) {
        if (res->err.len < max_output) ce_buf_add(&res->err, buf, (size_t)got);
      } else if (got == 0 || errno != EINTR) {
        close(er[0]);
        err_open = 0;
      }
    }
  }
  if (broken_pipe && !sigismember(&old_set, SIGPIPE)) {
    static const struct timespec no_wait = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &no_wait) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &old_set, NULL);
  if (in_open) close(in[1]);
  if (out_open) close(out[0]);
  if (err_open) close(er[0]);
  if (res->timed_out) kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  res->seconds = (now_ms() - start) / 1000.0;
  if (WIFSIGNALED(st)) {
    res->exit_code = -1;
    res->signal = WTERMSIG(st);
  } else {
    res->exit_code = WEXITSTATUS(st);
  }
  return 0;
}
