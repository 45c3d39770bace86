/* SPDX-License-Identifier: MIT */
#include "core/store/journal.h"
#include "core/store/record.h"
#include "core/store/syserr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAGIC 0x314A4543u /* "CEJ1" */
#define FHDR 16
#define IHDR 12
#define MAXITEMS 8
#define NSEG 8
/* a file past this size is left for the next once its records are in */
#define SEG_BYTES (4u << 20)

typedef struct {
  int fd, used, sealed;
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

static int start_seg(ce_journal *j, int i, ce_err *err) {
  seg *g = &j->s[i];
  const char *dir = j->dir;
  for (int tries = 0; tries < 100; tries++) {
    char path[sizeof g->path];
    snprintf(path, sizeof path, "%s/journal.%d.%u", dir, (int)getpid(), j->next_no++);
    memcpy(g->path, path, sizeof path);
    g->fd = open(g->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (g->fd >= 0 || errno != EEXIST) break;
  }
  if (g->fd < 0) {
    char m[300];
    ce_err_setf(err, 1, NULL, 0, 0, "cannot start the store's journal: %s", ce_write_error(errno, j->dir, m, sizeof m));
    return -1;
  }
  if (flock(g->fd, LOCK_EX | LOCK_NB) != 0) { /* only we know the name: cannot fail but for NFS oddities */
    ce_err_setf(err, 1, NULL, 0, 0, "cannot lock the store's journal %s: %s", g->path, strerror(errno));
    close(g->fd);
    unlink(g->path);
    return -1;
  }
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
  if (start_seg(j, 0, err) != 0) {
    free(j);
    return NULL;
  }
  return j;
}

static void drop_seg(seg *g) {
  unlink(g->path);
  close(g->fd);
  g->used = 0;
}

int ce_journal_append(ce_journal *j, const ce_jitem *items, int n, ce_err *err) {
  seg *g = &j->s[j->cur];
  if (g->size >= SEG_BYTES && g->pending > 0) {
    for (int i = 0; i < NSEG; i++)
      if (!j->s[i].used) {
        ce_err e2;
        if (start_seg(j, i, &e2) == 0) {
          g->sealed = 1;
          j->cur = i;
          g = &j->s[i];
        }
        break;
      }
  }
  unsigned char fh[FHDR], ih[MAXITEMS][IHDR];
  struct iovec iov[1 + 3 * MAXITEMS];
  int k = 0;
  size_t body = 0;
  if (n > MAXITEMS) n = MAXITEMS;
  iov[k++] = (struct iovec){fh, FHDR};
  for (int i = 0; i < n; i++) {
    put32(ih[i], (uint32_t)items[i].db);
    put32(ih[i] + 4, (uint32_t)items[i].kl);
    put32(ih[i] + 8, (uint32_t)items[i].vl);
    iov[k++] = (struct iovec){ih[i], IHDR};
    iov[k++] = (struct iovec){(void *)items[i].k, items[i].kl};
    iov[k++] = (struct iovec){(void *)items[i].v, items[i].vl};
    body += IHDR + items[i].kl + items[i].vl;
  }
  put32(fh, MAGIC);
  put32(fh + 4, (uint32_t)n);
  put32(fh + 8, (uint32_t)body);
  put32(fh + 12, ce_crc32c(0, fh, 12));
  ssize_t w = writev(g->fd, iov, k);
  if (w != (ssize_t)(FHDR + body)) {
    int e = w < 0 ? errno : ENOSPC; /* a short write to a regular file: out of space */
    /* a torn frame would hide the frames after it from a replay */
    if (w > 0 && ftruncate(g->fd, (off_t)g->size) != 0) { /* the replay stops at it: nothing else to do */
    }
    char m[300];
    ce_err_setf(err, 1, NULL, 0, 0, "writing the store's journal: %s", ce_write_error(e, j->dir, m, sizeof m));
    return -1;
  }
  g->size += (unsigned long long)w;
  g->pending += (unsigned long long)n;
  return j->cur;
}

void ce_journal_committed(ce_journal *j, int i, int n) {
  seg *g = &j->s[i];
  g->pending -= (unsigned long long)n;
  if (g->pending) return;
  if (g->sealed) drop_seg(g);
  else if (g->size >= (64u << 10) && ftruncate(g->fd, 0) == 0) g->size = 0; /* emptied: the next frame starts it again */
}

void ce_journal_close(ce_journal *j, int keep) {
  if (!j) return;
  for (int i = 0; i < NSEG; i++) {
    seg *g = &j->s[i];
    if (!g->used) continue;
    if (keep && g->pending) close(g->fd); /* the lock goes with it: a later open replays the file */
    else drop_seg(g);
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
