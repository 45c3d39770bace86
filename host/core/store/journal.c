/* SPDX-License-Identifier: MIT */
#include "core/store/journal.h"
#include "core/store/record.h"
#include "core/store/syserr.h"
#include "core/util/heap_reserve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC 0x314A4543u /* "CEJ1" */
#define FHDR 16
#define IHDR 12
#define MAXITEMS 8
/* files at most: the writer lags by as much as the store's queue holds
 * (4 MB for LMDB, database.buffer_mb up to 64 MB for PostgreSQL, whose
 * writer waits out a lost server); files are made only when needed */
#define NSEG 96
/* a file's room; when it fills the next file takes over, and this one is
 * used again once its records are in (new files would fault in new pages) */
#define SEG_BYTES (1u << 20)

typedef struct {
  int fd, used, sealed;
  unsigned char *map; /* the file, allocated and mapped: a record costs a memcpy, not a write() */
  size_t cap;
  unsigned long long size, pending;
  char path[1100];
} seg;

struct ce_journal {
  char dir[1024];
  int cur;
  unsigned next_no;
  seg s[NSEG];
};

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int journal_fail(ce_journal *j, ce_err *err, const char *what, int e) {
  char m[300];
  ce_err_setf(err, e == ENOSPC || e == EDQUOT ? 3 : 1, NULL, 0, 0, "%s: %s", what, ce_write_error(e, j->dir, m, sizeof m));
  return -1;
}

/* A file's pages mapped writable in one call (ce_mem_populate). A store
 * to a shared page that is not (new, or written back since) faults, and
 * ext4 readies the page for writing: 13 us a page on the VMs here, 1.9 us
 * when done for 256 pages at once, 0.2 us for a page already writable. A
 * kernel before 5.14 refuses, and the stores fault the pages in, as before. */
static void writable(seg *g) { ce_mem_populate(g->map, g->cap); }

/* A new file with room for need bytes. Stores to a shared map of a file
 * reach the page cache at once, so a record copied there survives the
 * process being killed like one written with write(); the room is allocated
 * first, so that a full disk is an error here rather than a SIGBUS later. */
static int start_seg(ce_journal *j, int i, size_t need, ce_err *err) {
  seg *g = &j->s[i];
  const char *dir = j->dir;
  for (int tries = 0; tries < 100; tries++) {
    char path[sizeof g->path];
    snprintf(path, sizeof path, "%s/journal.%d.%u", dir, (int)getpid(), j->next_no++);
    memcpy(g->path, path, sizeof path);
    g->fd = open(g->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (g->fd >= 0 || errno != EEXIST) break;
  }
  if (g->fd < 0) return journal_fail(j, err, "cannot start the store's journal", errno);
  if (flock(g->fd, LOCK_EX | LOCK_NB) != 0) { /* only we know the name: cannot fail but for NFS oddities */
    ce_err_setf(err, 1, NULL, 0, 0, "cannot lock the store's journal %s: %s", g->path, strerror(errno));
    close(g->fd);
    unlink(g->path);
    return -1;
  }
  g->cap = need + FHDR > SEG_BYTES ? (need + FHDR + 4095) & ~(size_t)4095 : SEG_BYTES;
  int e = posix_fallocate(g->fd, 0, (off_t)g->cap);
  void *m = e ? MAP_FAILED : mmap(NULL, g->cap, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
  if (m == MAP_FAILED) {
    if (!e) e = errno;
    close(g->fd);
    unlink(g->path);
    return journal_fail(j, err, "cannot start the store's journal", e);
  }
  g->map = m;
  writable(g);
  g->used = 1;
  g->sealed = 0;
  g->size = g->pending = 0;
  return 0;
}

ce_journal *ce_journal_open(const char *dir, ce_err *err) {
  ce_journal *j = calloc(1, sizeof *j);
  if (!j) {
    ce_err_setf(err, 1, dir, 0, 0, "out of memory");
    return NULL;
  }
  snprintf(j->dir, sizeof j->dir, "%s", dir);
  if (start_seg(j, 0, 0, err) != 0) {
    free(j);
    return NULL;
  }
  return j;
}

static void drop_seg(seg *g) {
  unlink(g->path);
  munmap(g->map, g->cap);
  close(g->fd);
  g->used = 0;
}

int ce_journal_append(ce_journal *j, const ce_jitem *items, int n, ce_err *err) {
  if (n > MAXITEMS) n = MAXITEMS;
  size_t body = 0;
  for (int i = 0; i < n; i++) body += IHDR + items[i].kl + items[i].vl;
  size_t need = FHDR + body;
  seg *g = &j->s[j->cur];
  /* room for the frame and the empty header that ends the file's frames */
  if (g->size + need + FHDR > g->cap) {
    int next = -1;
    for (int i = 0; i < NSEG && next < 0; i++) /* an emptied file, big enough */
      if (i != j->cur && j->s[i].used && !j->s[i].sealed && j->s[i].cap >= need + FHDR) next = i;
    /* its pages may have been written back since it was last used */
    if (next >= 0) writable(&j->s[next]);
    for (int i = 0; i < NSEG && next < 0; i++)
      if (!j->s[i].used) next = start_seg(j, i, need, err) == 0 ? i : -2;
    if (next == -2) return -1;
    if (next < 0) { /* only when the writer lags by NSEG files, which its queue's bound prevents */
      ce_err_setf(err, 1, NULL, 0, 0, "the store's journal is full");
      return -1;
    }
    if (g->pending) g->sealed = 1;
    else g->size = 0;
    j->cur = next;
    g = &j->s[next];
  }
  unsigned char *p = g->map + g->size, *h = p;
  p += FHDR;
  for (int i = 0; i < n; i++) {
    put32(p, (uint32_t)items[i].db);
    put32(p + 4, (uint32_t)items[i].kl);
    put32(p + 8, (uint32_t)items[i].vl);
    memcpy(p + IHDR, items[i].k, items[i].kl);
    memcpy(p + IHDR + items[i].kl, items[i].v, items[i].vl);
    p += IHDR + items[i].kl + items[i].vl;
  }
  memset(p, 0, FHDR); /* older frames past this one are not to be replayed */
  put32(h, MAGIC);
  put32(h + 4, (uint32_t)n);
  put32(h + 8, (uint32_t)body);
  put32(h + 12, ce_crc32c(0, h, 12));
  g->size += need;
  g->pending += (unsigned long long)n;
  return j->cur;
}

void ce_journal_committed(ce_journal *j, int i, int n) {
  seg *g = &j->s[i];
  g->pending -= (unsigned long long)n;
  if (g->pending || !g->size) return;
  memset(g->map, 0, FHDR); /* emptied: nothing to replay; the next frame starts it again */
  g->size = 0;
  g->sealed = 0;
}

void ce_journal_close(ce_journal *j, int keep) {
  if (!j) return;
  for (int i = 0; i < NSEG; i++) {
    seg *g = &j->s[i];
    if (!g->used) continue;
    if (keep && g->pending) { /* the lock goes with the descriptor: a later open replays the file */
      munmap(g->map, g->cap);
      close(g->fd);
    } else {
      drop_seg(g);
    }
  }
  free(j);
}

/* ---- replay ---- */

static unsigned char *slurp(int fd, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) != 0) return NULL;
  size_t n = (size_t)st.st_size;
  unsigned char *buf = malloc(n ? n : 1);
  if (!buf) return NULL;
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  *len = got;
  return buf;
}

/* Frames up to the first that is not whole; returns the records in them, or -1 when frame() failed. */
static long replay_buf(const unsigned char *b, size_t len, ce_journal_frame_fn frame, void *ud) {
  long records = 0;
  size_t off = 0;
  while (len - off >= FHDR) {
    const unsigned char *h = b + off;
    uint32_t n = get32(h + 4), body = get32(h + 8);
    if (get32(h) != MAGIC || get32(h + 12) != ce_crc32c(0, h, 12) || n == 0 || n > MAXITEMS || body > len - off - FHDR)
      break;
    ce_jitem it[MAXITEMS];
    size_t p = off + FHDR, end = p + body;
    int ok = 1;
    for (uint32_t i = 0; i < n && ok; i++) {
      if (end - p < IHDR) {
        ok = 0;
        break;
      }
      it[i].db = (int)get32(b + p);
      it[i].kl = get32(b + p + 4);
      it[i].vl = get32(b + p + 8);
      p += IHDR;
      if (it[i].kl > end - p || it[i].vl > end - p - it[i].kl) {
        ok = 0;
        break;
      }
      it[i].k = b + p;
      it[i].v = b + p + it[i].kl;
      p += it[i].kl + it[i].vl;
      const void *v;
      size_t vl;
      uint64_t stamp;
      const char *why;
      if (ce_rec_open(it[i].db, it[i].k, it[i].kl, it[i].v, it[i].vl, &v, &vl, &stamp, &why) != CE_REC_OK) ok = 0;
    }
    if (!ok || p != end) break; /* torn: the process died in this write */
    if (frame(ud, it, (int)n) != 0) return -1;
    records += n;
    off = end;
  }
  return records;
}

long ce_journal_replay(const char *dir, ce_journal_frame_fn frame, ce_journal_finish_fn finish, void *ud, ce_err *err) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  long total = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "journal.", 8) != 0) continue;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    /* locked: its process lives; unlinked meanwhile: another process replayed it */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 || st.st_nlink == 0) {
      close(fd);
      continue;
    }
    size_t len = 0;
    unsigned char *buf = slurp(fd, &len);
    long n = buf ? replay_buf(buf, len, frame, ud) : -1;
    free(buf);
    if (finish(ud, n >= 0) != 0 || n < 0) {
      close(fd);
      closedir(d);
      ce_err_setf(err, 1, path, 0, 0, "could not replay the journal of a process that ended (kept for the next try)");
      return -1;
    }
    unlink(path);
    close(fd);
    total += n;
  }
  closedir(d);
  return total;
}
