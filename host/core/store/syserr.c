/* SPDX-License-Identifier: MIT */
#include "core/store/syserr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

int ce_disk_full(const char *dir) {
  struct statvfs v;
  if (statvfs(dir, &v) != 0) return 0;
  /* less than a megabyte: a write of a few pages may well have failed */
  return (unsigned long long)v.f_bavail * v.f_frsize < (1u << 20);
}

const char *ce_write_error(int e, const char *dir, char *buf, size_t n) {
  struct rlimit rl;
  if (e == ENOSPC || e == EDQUOT || (e == EIO && ce_disk_full(dir)))
    snprintf(buf, n, "the disk is full (%s)", dir);
  else if (e == EFBIG || (e == EIO && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY))
    snprintf(buf, n, "a file reached the size limit for this process (ulimit -f) (%s)", dir);
  else
    snprintf(buf, n, "%s (%s)", strerror(e), dir);
  return buf;
}
