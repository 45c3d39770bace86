/* SPDX-License-Identifier: MIT */
#include "core/util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ce_lockfile {
  int fd;
  char *path;
};

/* fcntl record locks rather than flock: F_GETLK names the holder even when
 * it has not written its pid yet, and a child process (the command adapter
 * forks) does not inherit the lock, so it cannot outlive the run. */
static int lock_fd(int fd, long *holder) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_SETLK, &fl) == 0) return 1;
  if (errno != EACCES && errno != EAGAIN) return -1;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  *holder = 0;
  if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) *holder = (long)fl.l_pid;
  return 0;
}

int ce_lockfile_take(const char *path, ce_lockfile **out, long *holder, ce_err *err) {
  *out = NULL;
  *holder = 0;
  /* A holder that releases removes the file; if that happens between our
   * open and our lock we hold a lock on a name nobody else sees: check that
   * the path is still our file, else start again. */
  for (int attempt = 0; attempt < 16; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      ce_err_setf(err, 1, path, 0, 0, "cannot open the lock file: %s", strerror(errno));
      return -1;
    }
    long pid = 0;
    int rc = lock_fd(fd, &pid);
    if (rc < 0) {
      ce_err_setf(err, 1, path, 0, 0, "cannot lock: %s", strerror(errno));
      close(fd);
      return -1;
    }
    if (rc == 0) {
      close(fd);
      if (pid == 0) continue; /* released between the two calls */
      *holder = pid;
      return 0;
    }
    struct stat mine, named;
    if (fstat(fd, &mine) != 0 || stat(path, &named) != 0 || mine.st_ino != named.st_ino ||
        mine.st_dev != named.st_dev) {
      close(fd);
      continue;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
      ce_err_setf(err, 1, path, 0, 0, "cannot write the lock file: %s", strerror(errno));
      unlink(path);
      close(fd);
      return -1;
    }
    ce_lockfile *l = malloc(sizeof *l);
    char *p = strdup(path);
    if (!l || !p) {
      free(l);
      free(p);
      unlink(path);
      close(fd);
      ce_err_setf(err, 1, path, 0, 0, "out of memory");
      return -1;
    }
    l->fd = fd;
    l->path = p;
    *out = l;
    return 1;
  }
  ce_err_setf(err, 1, path, 0, 0, "cannot lock: the file keeps being replaced");
  return -1;
}

int ce_lockfile_holder(const char *path, long *holder, ce_err *err) {
  *holder = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    ce_err_setf(err, 1, path, 0, 0, "cannot open the lock file: %s", strerror(errno));
    return -1;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int rc = fcntl(fd, F_GETLK, &fl);
  int e = errno;
  close(fd);
  if (rc != 0) {
    ce_err_setf(err, 1, path, 0, 0, "cannot test the lock: %s", strerror(e));
    return -1;
  }
  if (fl.l_type == F_UNLCK) return 0;
  *holder = (long)fl.l_pid;
  return 1;
}

void ce_lockfile_release(ce_lockfile *l) {
  if (!l) return;
  /* unlink first, while the lock still keeps others out (see take) */
  unlink(l->path);
  close(l->fd);
  free(l->path);
  free(l);
}
