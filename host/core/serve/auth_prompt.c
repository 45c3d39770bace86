/* SPDX-License-Identifier: MIT */
#include "core/serve/auth_prompt.h"

#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void put(int fd, const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

int ce_auth_read_secret(int in_fd, int out_fd, const char *prompt, char *buf, size_t size, size_t *len, ce_err *err) {
  struct termios saved, raw;
  if (tcgetattr(in_fd, &saved) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "standard input is not a terminal");
    return -1;
  }
  raw = saved;
  raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | ISIG | IEXTEN);
  raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  put(out_fd, prompt);
  /* TCSAFLUSH: what was typed before the prompt showed is not the password */
  if (tcsetattr(in_fd, TCSAFLUSH, &raw) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "cannot turn off the terminal's echo: %s", strerror(errno));
    return -1;
  }
  size_t n = 0;
  int rc = 0, overflow = 0;
  for (;;) {
    unsigned char c;
    ssize_t got = read(in_fd, &c, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      rc = n ? 1 : 0;
      break;
    }
    if (c == '\r' || c == '\n') {
      rc = 1;
      break;
    }
    if (c == 3) {
      rc = -2;
      break;
    }
    if (c == 4) {
      if (n == 0) break;
      continue;
    }
    if (c == 0x7f || c == 8) { /* one character back: the bytes of a UTF-8 sequence go together */
      while (n && (buf[n - 1] & 0xc0) == 0x80) n--;
      if (n) n--;
      continue;
    }
    if (c == 0x15) {
      n = 0;
      continue;
    }
    if (c < 0x20) continue;
    if (n + 1 < size) buf[n++] = (char)c;
    else overflow = 1;
  }
  tcsetattr(in_fd, TCSAFLUSH, &saved);
  put(out_fd, "\n");
  if (size) buf[n < size ? n : size - 1] = '\0';
  *len = n;
  if (rc == 1 && overflow) {
    memset(buf, 0, size);
    *len = 0;
    ce_err_setf(err, 1, NULL, 0, 0, "longer than %zu bytes", size - 1);
    return -1;
  }
  if (rc != 1) {
    memset(buf, 0, size);
    *len = 0;
  }
  return rc;
}
