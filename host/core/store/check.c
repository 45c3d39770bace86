/* SPDX-License-Identifier: MIT */
#include "core/store/check.h"
#include "core/store/guard.h"
#include "core/store/pages.h"
#include "core/store/record.h"
#include "core/store/store.h"
#include "core/store/syserr.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* (database, key) -> the newest stamp seen, and where that copy is */
typedef struct {
  uint64_t h, stamp;
  int db;
  const unsigned char *k, *v;
  size_t kl, vl;
  uint64_t page, ov; /* the leaf it was found on; its first overflow page, or 0 */
} entry;

typedef struct {
  entry *t;
  size_t cap, n;
} table;

enum { DB_MAIN = -1, DB_FREE = -2, DB_FILE = -3 };

typedef struct {
  const char *dir;
  ce_pfile f;
  uint16_t *scratch;
  unsigned char *reached; /* bit per page: used by a tree or the free list */
  unsigned char *good;    /* bit per page: a leaf whose records the walk took */
  ce_buf *rep, line;
  FILE *salv;
  int damaged, have_meta, have_db[CE_STORE_NDB], salv_oom, salv_errno;
  ce_pmeta meta;
  ce_pdb db[CE_STORE_NDB];
  uint64_t read[CE_STORE_NDB], recovered[CE_STORE_NDB], bad[CE_STORE_NDB], legacy, salvaged, bad_pages;
  table seen, raw;
} ck;

static uint64_t key_hash(int db, const void *k, size_t kl) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)(db + 7);
  const unsigned char *p = k;
  for (size_t i = 0; i < kl; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h | 1; /* 0 marks an empty slot */
}

static entry *slot(table *t, uint64_t h) {
  if (t->n * 2 >= t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    entry *nt = calloc(cap, sizeof *nt);
    if (!nt) return NULL;
    for (size_t i = 0; i < t->cap; i++)
      if (t->t[i].h) {
        size_t j = t->t[i].h & (cap - 1);
        while (nt[j].h) j = (j + 1) & (cap - 1);
        nt[j] = t->t[i];
      }
    free(t->t);
    t->t = nt;
    t->cap = cap;
  }
  size_t j = h & (t->cap - 1);
  while (t->t[j].h && t->t[j].h != h) j = (j + 1) & (t->cap - 1);
  return &t->t[j];
}

static const char *db_name(int db) {
  if (db >= 0) return ce_store_db_names[db];
  return db == DB_MAIN ? "main" : db == DB_FREE ? "free" : "file";
}

static int bit(const unsigned char *b, uint64_t i) { return b[i / 8] >> (i % 8) & 1; }
static void set_bit(unsigned char *b, uint64_t i) { b[i / 8] |= (unsigned char)(1u << (i % 8)); }

/* ---- report lines ---- */

static void add_key(ce_buf *b, const char *name, const void *k, size_t kl) {
  ce_buf_adds(b, ",\"");
  ce_buf_adds(b, name);
  ce_buf_adds(b, "\":");
  ce_json_write_string(b, k, kl);
}

static void finding(ck *c, const char *kind, int db, uint64_t page, const char *what, const void *k, size_t kl,
                    const void *lo, size_t lol, const void *hi, size_t hil) {
  c->damaged = 1;
  ce_buf *b = c->rep;
  ce_buf_adds(b, "{\"finding\":\"");
  ce_buf_adds(b, kind);
  ce_buf_adds(b, "\",\"db\":\"");
  ce_buf_adds(b, db_name(db));
  ce_buf_addc(b, '"');
  if (page) {
    ce_buf_adds(b, ",\"page\":");
    ce_json_write_int(b, (int64_t)page);
  }
  ce_buf_adds(b, ",\"what\":");
  ce_json_write_string(b, what, strlen(what));
  if (k) add_key(b, "key", k, kl);
  if (lo) add_key(b, "from", lo, lol);
  if (hi) add_key(b, "to", hi, hil);
  ce_buf_adds(b, "}\n");
}

static int utf8_ok(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i], len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n) return 0;
    for (unsigned j = 1; j < len; j++)
      if ((s[i + j] & 0xC0) != 0x80) return 0;
    i += len;
  }
  return 1;
}

static void salvage(ck *c, const entry *e) {
  if (!c->salv) return;
  int db = e->db;
  const unsigned char *k = e->k, *v = e->v;
  size_t kl = e->kl, vl = e->vl;
  ce_buf *b = &c->line;
  b->len = 0;
  ce_buf_adds(b, "{\"db\":\"");
  ce_buf_adds(b, db_name(db));
  ce_buf_addc(b, '"');
  add_key(b, "key", k, kl);
  static const ce_json_handler none = {0};
  ce_err jerr;
  if (vl && utf8_ok(v, vl) && ce_json_parse((const char *)v, vl, "value", 0, &none, NULL, NULL, &jerr) == 0) {
    ce_buf_adds(b, ",\"value\":");
    ce_buf_add(b, (const char *)v, vl);
  } else {
    add_key(b, "text", v, vl);
  }
  if (e->stamp) {
    ce_buf_adds(b, ",\"stamp\":");
    ce_json_write_int(b, (int64_t)e->stamp);
  }
  ce_buf_adds(b, ",\"page\":");
  ce_json_write_int(b, (int64_t)e->page);
  if (e->ov) {
    ce_buf_adds(b, ",\"overflow\":[");
    ce_json_write_int(b, (int64_t)e->ov);
    ce_buf_addc(b, ',');
    ce_json_write_int(b, (int64_t)((16 - 1 + e->vl + CE_REC_HDR * (e->stamp != 0)) / c->f.psize + 1));
    ce_buf_addc(b, ']');
  }
  ce_buf_adds(b, "}\n");
  if (fwrite(b->data, 1, b->len, c->salv) != b->len && !c->salv_errno) c->salv_errno = errno;
  c->salvaged++;
}

/* ---- the walk ---- */

static void reach(ck *c, int db, uint64_t first, uint64_t n, const unsigned char *k, size_t kl) {
  for (uint64_t p = first; p < first + n && p < c->f.npages; p++) {
    if (bit(c->reached, p)) {
      char what[120];
      snprintf(what, sizeof what, "page %" PRIu64 " is used twice", p);
      finding(c, "page", db, p, what, k, kl, NULL, 0, NULL, 0);
    }
    set_bit(c->reached, p);
  }
}

static void take_leaf(ck *c, int db, int kind, const unsigned char *pg) {
  unsigned n = ce_page_nkeys(pg);
  for (unsigned i = 0; i < n; i++) {
    const unsigned char *k, *v;
    size_t kl, vl;
    ce_pdamage d;
    memset(&d, 0, sizeof d);
    ce_page_key(pg, i, &k, &kl);
    if (ce_page_value(&c->f, pg, i, &v, &vl, &d) != 0) {
      if (db >= 0) c->bad[db]++;
      finding(c, "value", db, d.page, d.what, k, kl, NULL, 0, NULL, 0);
      continue;
    }
    uint64_t ov = ce_page_overflow(pg, i);
    if (ov) reach(c, db, ov, (16 - 1 + vl) / c->f.psize + 1, k, kl);
    if (kind == CE_PK_MAIN) {
      int known = 0;
      for (int j = 0; j < CE_STORE_NDB; j++) {
        if (kl != strlen(ce_store_db_names[j]) || memcmp(k, ce_store_db_names[j], kl) != 0) continue;
        known = 1;
        if (ce_pdb_parse(v, vl, &c->db[j]) == 0 && c->db[j].flags == 0) c->have_db[j] = 1;
        else finding(c, "value", j, 0, "the database's record is damaged", k, kl, NULL, 0, NULL, 0);
      }
      /* the reader refuses such a store as damaged: the check must not call it intact */
      if (!known) finding(c, "value", DB_MAIN, 0, "a database the store does not have", k, kl, NULL, 0, NULL, 0);
      continue;
    }
    if (kind == CE_PK_FREE) {
      uint64_t cnt;
      if (vl < 8 || (memcpy(&cnt, v, 8), vl != 8 * (cnt + 1))) {
        finding(c, "value", db, 0, "a free-page list has the wrong length", k, kl, NULL, 0, NULL, 0);
        continue;
      }
      for (uint64_t j = 1; j <= cnt; j++) {
        uint64_t p;
        memcpy(&p, v + 8 * j, 8);
        if (p < 2 || p > c->meta.last_pg) {
          finding(c, "value", db, 0, "a free-page list names a page outside the store", k, kl, NULL, 0, NULL, 0);
          break;
        }
        reach(c, db, p, 1, k, kl);
      }
      continue;
    }
    const void *pv;
    size_t pl;
    uint64_t stamp;
    const char *why;
    int r = ce_rec_open(db, k, kl, v, vl, &pv, &pl, &stamp, &why);
    if (r == CE_REC_DAMAGED) {
      c->bad[db]++;
      char what[200];
      snprintf(what, sizeof what, "the value fails its check (%s)", why);
      finding(c, "value", db, (uint64_t)(pg - c->f.base) / c->f.psize, what, k, kl, NULL, 0, NULL, 0);
      continue;
    }
    c->read[db]++;
    if (r == CE_REC_LEGACY) c->legacy++;
    uint64_t h = key_hash(db, k, kl);
    entry *e = slot(&c->seen, h);
    if (e && !e->h) {
      *e = (entry){h, stamp, db, k, pv, kl, pl, (uint64_t)(pg - c->f.base) / c->f.psize, ov};
      c->seen.n++;
    }
  }
}

static void walk(ck *c, int db, int kind, const ce_pdb *t, uint64_t pgno, int level, const unsigned char *lo,
                 size_t lol, const unsigned char *hi, size_t hil) {
  ce_pdamage d;
  memset(&d, 0, sizeof d);
  if (pgno < c->f.npages && pgno >= 2 && bit(c->reached, pgno)) {
    char what[120];
    snprintf(what, sizeof what, "page %" PRIu64 " is reached twice", pgno);
    finding(c, "page", db, pgno, what, NULL, 0, lo, lol, hi, hil);
    return;
  }
  if (pgno < c->f.npages) set_bit(c->reached, pgno);
  int leaf = level == (int)t->depth - 1;
  if (level >= (int)t->depth || ce_page_check(&c->f, pgno, leaf ? CE_P_LEAF : CE_P_BRANCH, kind, c->scratch, &d) != 0) {
    if (level >= (int)t->depth) snprintf(d.what, sizeof d.what, "the tree is deeper than its record says");
    c->bad_pages++;
    finding(c, "page", db, pgno, d.what, NULL, 0, lo, lol, hi, hil);
    return;
  }
  const unsigned char *pg = ce_page(&c->f, pgno);
  unsigned n = ce_page_nkeys(pg), first = leaf ? 0 : 1;
  if (n > first) {
    const unsigned char *a, *b;
    size_t al, bl;
    ce_page_key(pg, first, &a, &al);
    ce_page_key(pg, n - 1, &b, &bl);
    if ((lo && ce_pkey_cmp(kind, a, al, lo, lol) < 0) || (hi && ce_pkey_cmp(kind, b, bl, hi, hil) >= 0)) {
      char what[160];
      snprintf(what, sizeof what, "page %" PRIu64 " holds keys outside the range its parent gives it", pgno);
      c->bad_pages++;
      finding(c, "page", db, pgno, what, NULL, 0, lo, lol, hi, hil);
      return;
    }
  }
  if (leaf) {
    take_leaf(c, db, kind, pg);
    set_bit(c->good, pgno);
    return;
  }
  for (unsigned i = 0; i < n; i++) {
    const unsigned char *clo = lo, *chi = hi;
    size_t clol = lol, chil = hil;
    if (i > 0) ce_page_key(pg, i, &clo, &clol);
    if (i + 1 < n) ce_page_key(pg, i + 1, &chi, &chil);
    walk(c, db, kind, t, ce_page_child(pg, i), level + 1, clo, clol, chi, chil);
  }
}

static void walk_tree(ck *c, int db, int kind, const ce_pdb *t) {
  if (t->root != CE_P_INVALID) walk(c, db, kind, t, t->root, 0, NULL, 0, NULL, 0);
}

/* ---- the raw pass ---- */

static void raw_pass(ck *c) {
  unsigned ps = c->f.psize;
  for (uint64_t p = 2; p < c->f.npages; p++) {
    if (bit(c->good, p)) continue;
    const unsigned char *pg = ce_page(&c->f, p);
    unsigned flags = (unsigned)pg[10] | (unsigned)pg[11] << 8;
    if (!(flags & CE_P_LEAF) || (flags & ~(unsigned)(CE_P_LEAF | 0x10)) != 0) continue;
    unsigned lower = (unsigned)pg[12] | (unsigned)pg[13] << 8;
    unsigned n = lower >= 16 && lower <= ps ? (lower - 16) / 2 : (ps - 16) / 2;
    for (unsigned i = 0; i < n; i++) {
      const unsigned char *k, *v;
      size_t kl, vl;
      if (ce_page_node_raw(&c->f, pg, i, &k, &kl, &v, &vl) != 0 || !v) continue;
      int db = ce_rec_db(v, vl);
      if (db < 0 || db >= CE_STORE_NDB) continue;
      const void *pv;
      size_t pl;
      uint64_t stamp;
      const char *why;
      if (ce_rec_open(db, k, kl, v, vl, &pv, &pl, &stamp, &why) != CE_REC_OK) continue;
      uint64_t h = key_hash(db, k, kl);
      entry *e = slot(&c->seen, h);
      if (!e) continue;
      /* pages LMDB freed keep older copies: the newest one wins, also over
       * the one the walk found (an older snapshot's, when a meta page was lost) */
      if (e->h && e->stamp >= stamp) continue;
      if (!e->h) {
        c->seen.n++;
        c->recovered[db]++;
      }
      uint64_t ov = (uint64_t)(v - c->f.base) / ps == p ? 0 : (uint64_t)(v - c->f.base) / ps;
      *e = (entry){h, stamp, db, k, pv, kl, pl, p, ov};
    }
  }
}

static int by_key(const void *a, const void *b) {
  const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
  if (x->db != y->db) return x->db - y->db;
  return ce_pkey_cmp(CE_PK_USER, x->k, x->kl, y->k, y->kl);
}

/* Every record read, by database and key. */
static void write_salvage(ck *c) {
  if (!c->salv || !c->seen.n) return;
  const entry **all = malloc(c->seen.n * sizeof *all);
  if (!all) {
    c->salv_oom = 1;
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < c->seen.cap; i++)
    if (c->seen.t[i].h) all[n++] = &c->seen.t[i];
  qsort(all, n, sizeof *all, by_key);
  for (size_t i = 0; i < n; i++) salvage(c, all[i]);
  free(all);
}

/* ---- the whole check ---- */

static void summary(ck *c) {
  ce_buf *b = c->rep;
  char head[400];
  snprintf(head, sizeof head,
           "{\"summary\":{\"intact\":%s,\"bytes\":%" PRIu64 ",\"page_size\":%u,\"pages\":%" PRIu64 ",\"transaction\":",
           c->damaged ? "false" : "true", (uint64_t)c->f.npages * c->f.psize, c->f.psize, c->f.npages);
  ce_buf_adds(b, head);
  if (c->have_meta) ce_json_write_int(b, (int64_t)c->meta.txnid);
  else ce_buf_adds(b, "null");
  ce_buf_adds(b, ",\"databases\":{");
  for (int i = 0; i < CE_STORE_NDB; i++) {
    char row[300];
    char expected[32] = "null";
    if (c->have_db[i]) snprintf(expected, sizeof expected, "%" PRIu64, c->db[i].entries);
    snprintf(row, sizeof row, "%s\"%s\":{\"expected\":%s,\"read\":%" PRIu64 ",\"recovered\":%" PRIu64 ",\"damaged\":%" PRIu64 "}",
             i ? "," : "", ce_store_db_names[i], expected, c->read[i], c->recovered[i], c->bad[i]);
    ce_buf_adds(b, row);
  }
  snprintf(head, sizeof head, "},\"legacy\":%" PRIu64 ",\"damaged_pages\":%" PRIu64 ",\"salvaged\":%" PRIu64 "}}\n",
           c->legacy, c->bad_pages, c->salvaged);
  ce_buf_adds(b, head);
}

/* Holds an LMDB read transaction on the store while the check runs, so that
 * a run writing meanwhile cannot reuse the pages being read; without it
 * (LMDB cannot open the file) the check reads the file as it is. */
typedef struct {
  const char *dir;
  MDB_env *env;
  MDB_txn *txn;
} pin_args;

static int pin(void *arg) {
  pin_args *a = arg;
  int rc = mdb_env_create(&a->env);
  if (rc) return rc;
  mdb_env_set_assert(a->env, ce_guard_lmdb_assert);
  mdb_env_set_mapsize(a->env, 1u << 20); /* grown to the file by LMDB */
  mdb_env_set_maxdbs(a->env, 8);
  rc = mdb_env_open(a->env, a->dir, MDB_RDONLY | MDB_NOTLS, 0644);
  if (rc == 0) rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &a->txn);
  return rc;
}

static void check_file(ck *c) {
  const unsigned char *base = c->f.base;
  size_t len = (size_t)c->f.npages * c->f.psize;
  ce_pdamage d;
  memset(&d, 0, sizeof d);
  if (ce_pmeta_pick(base, len, &c->meta, &(int){0}, &d) == 0) {
    c->have_meta = 1;
  } else {
    finding(c, "meta", DB_FILE, 0, d.what, NULL, 0, NULL, 0, NULL, 0);
    /* the sounder of the two, when one is */
    for (int i = 0; i < 2; i++) {
      ce_pmeta m;
      if (ce_pmeta_read(base, len, i, c->f.psize, &m, NULL) == 0 && (!c->have_meta || m.txnid > c->meta.txnid)) {
        c->meta = m;
        c->have_meta = 1;
      }
    }
  }
  if (c->have_meta) {
    set_bit(c->reached, 0);
    set_bit(c->reached, 1);
    walk_tree(c, DB_MAIN, CE_PK_MAIN, &c->meta.main);
    for (int i = 0; i < CE_STORE_NDB; i++) {
      if (c->have_db[i]) walk_tree(c, i, CE_PK_USER, &c->db[i]);
      else if (!c->damaged) finding(c, "meta", i, 0, "the database is missing", NULL, 0, NULL, 0, NULL, 0);
    }
    walk_tree(c, DB_FREE, CE_PK_FREE, &c->meta.free);
  }
  if (c->damaged) raw_pass(c);
  write_salvage(c);
  for (int i = 0; i < CE_STORE_NDB; i++) {
    if (!c->have_db[i]) continue;
    uint64_t got = c->read[i] + c->recovered[i];
    if (got < c->db[i].entries) {
      char what[200];
      snprintf(what, sizeof what, "%" PRIu64 " of its %" PRIu64 " records could not be read", c->db[i].entries - got,
               c->db[i].entries);
      finding(c, "missing", i, 0, what, NULL, 0, NULL, 0, NULL, 0);
    } else if (c->read[i] != c->db[i].entries) {
      char what[200];
      snprintf(what, sizeof what, "it holds %" PRIu64 " records where its count says %" PRIu64, c->read[i],
               c->db[i].entries);
      finding(c, "missing", i, 0, what, NULL, 0, NULL, 0, NULL, 0);
    }
  }
}

int ce_store_check(const char *dir, const char *salvage_path, ce_buf *report, ce_err *err) {
  ce_err_clear(err);
  char file[1100], tmp[1200];
  snprintf(file, sizeof file, "%s/data.mdb", dir);
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "no results store in %s (%s)", dir, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  ck c;
  memset(&c, 0, sizeof c);
  c.dir = dir;
  c.rep = report;
  ce_buf_init(&c.line);
  pin_args pa = {dir, NULL, NULL};
  ce_guard g;
  if (ce_guard_run(&g, pin, &pa) == CE_GUARD_FAULT) pa.env = NULL, pa.txn = NULL; /* best effort; left as it is */
  unsigned psize = 4096;
  unsigned char hdr[64];
  if (pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr) {
    unsigned p = (unsigned)hdr[40] | (unsigned)hdr[41] << 8 | (unsigned)hdr[42] << 16 | (unsigned)hdr[43] << 24;
    if (p >= 512 && p <= 65536 && !(p & (p - 1))) psize = p;
  }
  size_t len = (size_t)st.st_size;
  void *map = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : NULL;
  close(fd);
  if (len && map == MAP_FAILED) {
    ce_err_setf(err, 1, NULL, 0, 0, "cannot map %s: %s", file, strerror(errno));
    return -1;
  }
  c.f = (ce_pfile){map, len / psize, psize};
  c.scratch = malloc(psize / 2 * sizeof *c.scratch);
  c.reached = calloc(c.f.npages / 8 + 1, 1);
  c.good = calloc(c.f.npages / 8 + 1, 1);
  int rc = -1;
  if (!c.scratch || !c.reached || !c.good) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory checking %s", file);
    goto done;
  }
  if (salvage_path) {
    snprintf(tmp, sizeof tmp, "%s.tmp", salvage_path);
    if (!(c.salv = fopen(tmp, "wb"))) {
      char m[300];
      ce_err_setf(err, 1, salvage_path, 0, 0, "%s", ce_write_error(errno, salvage_path, m, sizeof m));
      goto done;
    }
  }
  if (len < 2 * (size_t)psize) {
    char what[120];
    snprintf(what, sizeof what, "the file is %zu bytes long, too short to hold the store", len);
    finding(&c, "meta", DB_FILE, 0, what, NULL, 0, NULL, 0, NULL, 0);
  } else {
    check_file(&c);
  }
  summary(&c);
  rc = c.damaged ? 0 : 1;
  if (c.salv) {
    int bad = ferror(c.salv) || c.salv_oom || c.salv_errno;
    int e = c.salv_errno ? c.salv_errno : c.salv_oom ? ENOMEM : EIO;
    if (fflush(c.salv) != 0 && !c.salv_errno) {
      bad = 1;
      e = errno;
    }
    if (fclose(c.salv) != 0 && !bad) {
      bad = 1;
      e = errno;
    }
    c.salv = NULL;
    if (bad || rename(tmp, salvage_path) != 0) {
      char m[300], folder[1100];
      if (!bad) e = errno;
      unlink(tmp);
      snprintf(folder, sizeof folder, "%s", salvage_path);
      char *slash = strrchr(folder, '/');
      if (slash) *slash = '\0';
      else snprintf(folder, sizeof folder, ".");
      ce_err_setf(err, 1, NULL, 0, 0, "cannot write %s: %s", salvage_path, ce_write_error(e, folder, m, sizeof m));
      rc = -1;
    }
  }
done:
  if (c.salv) {
    fclose(c.salv);
    unlink(tmp);
  }
  free(c.scratch);
  free(c.reached);
  free(c.good);
  free(c.seen.t);
  free(c.raw.t);
  ce_buf_free(&c.line);
  if (map && map != MAP_FAILED) munmap(map, len);
  if (pa.txn) mdb_txn_abort(pa.txn);
  if (pa.env) mdb_env_close(pa.env);
  return rc;
}

int ce_store_check_child(const char *dir, const char *salvage_path, ce_buf *report, char *how, size_t hown, ce_err *err) {
  how[0] = '\0';
  int fds[2], efd[2];
  if (pipe(fds) != 0 || pipe(efd) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "cannot start the check: %s", strerror(errno));
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "cannot start the check: %s", strerror(errno));
    close(fds[0]), close(fds[1]), close(efd[0]), close(efd[1]);
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    close(efd[0]);
    ce_buf rep;
    ce_buf_init(&rep);
    ce_err e;
    int rc = ce_store_check(dir, salvage_path, &rep, &e);
    for (size_t off = 0; off < rep.len;) {
      ssize_t w = write(fds[1], rep.data + off, rep.len - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
    if (rc < 0 && write(efd[1], e.msg, strlen(e.msg)) < 0) rc = -1;
    _exit(rc < 0 ? 3 : rc == 1 ? 0 : 1); /* skips atexit and the leak check of a copy of the parent */
  }
  close(fds[1]);
  close(efd[1]);
  char chunk[65536];
  ssize_t r;
  while ((r = read(fds[0], chunk, sizeof chunk)) > 0 || (r < 0 && errno == EINTR))
    if (r > 0) ce_buf_add(report, chunk, (size_t)r);
  close(fds[0]);
  char emsg[sizeof err->msg];
  size_t el = 0;
  while (el < sizeof emsg - 1 && (r = read(efd[0], emsg + el, sizeof emsg - 1 - el)) > 0) el += (size_t)r;
  emsg[el] = '\0';
  close(efd[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    snprintf(how, hown, "the check stopped on signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (salvage_path) {
      char tmp[1200];
      snprintf(tmp, sizeof tmp, "%s.tmp", salvage_path);
      unlink(tmp);
    }
    return 0;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
  if (code == 3) {
    ce_err_setf(err, 1, NULL, 0, 0, "%s", el ? emsg : "the check failed");
    return -1;
  }
  return code == 0 ? 1 : 0;
}
