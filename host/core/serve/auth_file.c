/* SPDX-License-Identifier: MIT */
#include "core/serve/auth_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ce_auth_file_stat(const char *path, unsigned *mode, char *stamp, size_t size, ce_err *err) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) return 0;
    ce_err_setf(err, 1, path, 0, 0, "%s", strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    ce_err_setf(err, 1, path, 0, 0, "not a regular file");
    return -1;
  }
  if (mode) *mode = (unsigned)(st.st_mode & 07777);
  if (stamp)
    snprintf(stamp, size, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
             (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  return 1;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int ce_auth_file_replace(const char *path, const void *data, size_t len, unsigned mode, ce_err *err) {
  struct stat st;
  if (stat(path, &st) == 0) mode = (unsigned)(st.st_mode & 07777);
  size_t n = strlen(path);
  char *tmp = malloc(n + 16);
  if (!tmp) {
    ce_err_setf(err, 1, path, 0, 0, "out of memory");
    return -1;
  }
  snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp); /* 0600 from the start: the secret is never readable by others */
  if (fd < 0) {
    ce_err_setf(err, 1, path, 0, 0, "cannot create a file beside it: %s", strerror(errno));
    free(tmp);
    return -1;
  }
  const char *step = "write";
  if (write_all(fd, data, len) != 0) goto fail;
  step = "set the mode of";
  if (fchmod(fd, (mode_t)mode) != 0) goto fail;
  step = "flush";
  if (fsync(fd) != 0) goto fail;
  step = "close";
  int rc = close(fd);
  fd = -1;
  if (rc != 0) goto fail;
  step = "rename onto";
  if (rename(tmp, path) != 0) goto fail;
  free(tmp);
  /* the rename itself survives a crash only once the folder is on disk */
  char *dir = strdup(path);
  if (dir) {
    char *slash = strrchr(dir, '/');
    const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
    int dfd = open(d, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    free(dir);
  }
  return 0;
fail:
  ce_err_setf(err, 1, path, 0, 0, "cannot %s it: %s", step, strerror(errno));
  if (fd >= 0) close(fd);
  unlink(tmp);
  free(tmp);
  return -1;
}
