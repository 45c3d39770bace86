/* SPDX-License-Identifier: MIT */
#include "core/store/lmdb_map.h"

#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

void ce_lmdb_map_find(MDB_env *env, ce_lmdb_map *m) {
  m->addr = NULL;
  m->len = 0;
  int fd;
  struct stat st;
  if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0) return;
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return;
  char line[1200];
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, inode;
    char perms[8], dev[32];
    if (sscanf(line, "%lx-%lx %7s %lx %31s %lu", &lo, &hi, perms, &off, dev, &inode) == 6 &&
        inode == (unsigned long)st.st_ino && off == 0) {
      m->addr = (void *)lo;
      m->len = hi - lo;
      break;
    }
  }
  fclose(f);
}

void ce_lmdb_map_trim(const ce_lmdb_map *m) {
  if (m->addr) madvise(m->addr, m->len, MADV_DONTNEED);
}
