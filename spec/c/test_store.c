/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/store/check.h"
#include "core/store/guard.h"
#include "core/store/journal.h"
#include "core/store/pages.h"
#include "core/store/record.h"
#include "core/store/store.h"
#include "core/store/syserr.h"

static char dir[256];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_visit(const char *k, size_t kl, const char *v, size_t vl, void *ud) {
  (void)k, (void)kl, (void)v, (void)vl;
  ++*(int *)ud;
  return 0;
}

typedef struct {
  ce_store *s;
  int id;
} producer;

/* many threads queueing pairs at once: pairs must never be split or lost */
static void *produce(void *arg) {
  producer *p = arg;
  for (int i = 0; i < 5000; i++) {
    char key[64], rec[64], score[16];
    int kl = snprintf(key, sizeof key, "run%c%d%cq%05d", 0, p->id, 0, i);
    int rl = snprintf(rec, sizeof rec, "{\"record\":%d}", i);
    int sl = snprintf(score, sizeof score, "{\"c\":%d}", i % 2);
    ce_store_enqueue_pair(p->s, CE_STORE_RECORDS, rec, (size_t)rl, CE_STORE_SCORES, score, (size_t)sl, key,
                          (size_t)kl, p->id, CE_TALLY_DONE | (i % 2 ? CE_TALLY_CORRECT : 0));
  }
  return NULL;
}

/* ---- record headers ---- */

static void test_record(void) {
  CHECK(ce_crc32c(0, "123456789", 9) == 0xE3069283u); /* the standard check value */
  unsigned char v[CE_REC_HDR + 5];
  ce_rec_header(v, CE_STORE_SCORES, 77, "key", 3, "hello", 5);
  memcpy(v + CE_REC_HDR, "hello", 5);
  const void *p;
  size_t pl;
  uint64_t stamp;
  const char *why;
  CHECK(ce_rec_open(CE_STORE_SCORES, "key", 3, v, sizeof v, &p, &pl, &stamp, &why) == CE_REC_OK);
  CHECK(pl == 5 && memcmp(p, "hello", 5) == 0 && stamp == 77);
  CHECK(ce_rec_db(v, sizeof v) == CE_STORE_SCORES);
  /* the same bytes under another key or database, or with one bit flipped */
  CHECK(ce_rec_open(CE_STORE_SCORES, "kez", 3, v, sizeof v, &p, &pl, &stamp, &why) == CE_REC_DAMAGED);
  CHECK(ce_rec_open(CE_STORE_RECORDS, "key", 3, v, sizeof v, &p, &pl, &stamp, &why) == CE_REC_DAMAGED);
  v[CE_REC_HDR + 2] ^= 4;
  CHECK(ce_rec_open(CE_STORE_SCORES, "key", 3, v, sizeof v, &p, &pl, &stamp, &why) == CE_REC_DAMAGED);
  CHECK_CONTAINS(why, "checksum");
  /* a value written before headers existed reads as it is; a flipped
   * first byte of a header does not pass for one */
  CHECK(ce_rec_open(CE_STORE_RUNS, "r", 1, "{\"a\":1}", 7, &p, &pl, &stamp, &why) == CE_REC_LEGACY && pl == 7);
  v[0] ^= 0x80;
  CHECK(ce_rec_open(CE_STORE_SCORES, "key", 3, v, sizeof v, &p, &pl, &stamp, &why) == CE_REC_DAMAGED);
  CHECK(ce_rec_stamp() < ce_rec_stamp());
}

/* ---- guards ---- */

static const char *volatile bad_addr;
static int read_bad(void *arg) {
  (void)arg;
  return bad_addr[0];
}
static int nested(void *arg) {
  ce_guard inner;
  int r = ce_guard_run(&inner, read_bad, NULL);
  *(int *)arg = inner.sig;
  return r == CE_GUARD_FAULT ? 7 : 0;
}

static void test_guard(void) {
  char *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(page != MAP_FAILED);
  bad_addr = page;
  ce_guard g;
  CHECK(ce_guard_run(&g, read_bad, NULL) == CE_GUARD_FAULT);
  CHECK(g.sig == SIGSEGV);
  /* twice: the signal is not left blocked by the first */
  CHECK(ce_guard_run(&g, read_bad, NULL) == CE_GUARD_FAULT);
  int inner_sig = 0;
  CHECK(ce_guard_run(&g, nested, &inner_sig) == 7 && inner_sig == SIGSEGV);
  munmap(page, 4096);
  /* past the end of a mapped file: SIGBUS */
  char path[] = "/tmp/ce-test-guard.XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0 && ftruncate(fd, 8192) == 0);
  char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED && ftruncate(fd, 0) == 0);
  bad_addr = m + 4096;
  CHECK(ce_guard_run(&g, read_bad, NULL) == CE_GUARD_FAULT && g.sig == SIGBUS);
  char buf[200];
  CHECK_CONTAINS(ce_guard_describe(&g, buf, sizeof buf), "past the end of the file");
  munmap(m, 8192);
  close(fd);
  unlink(path);
}

/* ---- damage ---- */

static int collect_visit(const char *k, size_t kl, const char *v, size_t vl, void *ud) {
  (void)k, (void)kl, (void)v, (void)vl;
  ++*(int *)ud;
  return 0;
}

static char leaf_dir[300];

/* The bytes of data.mdb, changed by f, written back. */
static void rewrite(const char *d, void (*f)(unsigned char *, size_t, void *), void *ud) {
  snprintf(leaf_dir, sizeof leaf_dir, "%s", d);
  char file[300];
  snprintf(file, sizeof file, "%s/data.mdb", d);
  int fd = open(file, O_RDWR);
  struct stat st;
  CHECK(fd >= 0 && fstat(fd, &st) == 0);
  unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  f(m, (size_t)st.st_size, ud);
  munmap(m, (size_t)st.st_size);
  close(fd);
}

/* The leaf page that holds key k now (pages LMDB freed hold old copies):
 * where a check of the store says it found it. */
static unsigned char *leaf_of(unsigned char *m, size_t len, const char *k) {
  ce_buf rep;
  ce_buf_init(&rep);
  char salv[400], line[4096];
  snprintf(salv, sizeof salv, "%s.salvage", leaf_dir);
  ce_err e;
  long page = -1;
  if (ce_store_check(leaf_dir, salv, &rep, &e) >= 0) {
    FILE *f = fopen(salv, "r");
    while (f && fgets(line, sizeof line, f))
      if (strstr(line, "\"db\":\"records\"") && strstr(line, k)) page = atol(strstr(line, "\"page\":") + 7);
    if (f) fclose(f);
  }
  unlink(salv);
  ce_buf_free(&rep);
  return page > 1 && (size_t)(page + 1) * 4096 <= len ? m + page * 4096 : NULL;
}

static void flip_value(unsigned char *m, size_t len, void *ud) {
  unsigned char *pg = leaf_of(m, len, ud);
  CHECK(pg != NULL);
  if (!pg) return;
  unsigned char *at = memmem(pg, 4096, "payload-17!", 11);
  CHECK(at != NULL);
  if (at) at[8] ^= 1;
}

/* one node offset fewer: LMDB would read the page whole, one record short */
static void drop_node(unsigned char *m, size_t len, void *ud) {
  unsigned char *pg = leaf_of(m, len, ud);
  CHECK(pg != NULL);
  if (!pg) return;
  unsigned lower = pg[12] | pg[13] << 8;
  lower -= 2;
  pg[12] = (unsigned char)lower;
  pg[13] = (unsigned char)(lower >> 8);
}

static void test_damage(void) {
  char d[300];
  snprintf(d, sizeof d, "/tmp/ce-test-damage.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (!s) return;
  for (int i = 0; i < 200; i++) {
    char k[32], v[64];
    int kl = snprintf(k, sizeof k, "key-%03d", i), vl = snprintf(v, sizeof v, "{\"x\":\"payload-%d!\"}", i);
    CHECK(ce_store_put(s, CE_STORE_RECORDS, k, (size_t)kl, v, (size_t)vl, &e) == 0);
  }
  ce_store_free(s);
  /* a flipped byte in a value: the read names the key, the scan stops */
  rewrite(d, flip_value, "key-017");
  s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  char *v = NULL;
  size_t vl;
  CHECK(ce_store_get(s, CE_STORE_RECORDS, "key-017", 7, &v, &vl, &e) == -1);
  CHECK(e.code == CE_STORE_EDAMAGED);
  CHECK_CONTAINS(e.msg, "data.mdb is damaged (database records)");
  CHECK_CONTAINS(e.msg, "checksum");
  CHECK_CONTAINS(e.msg, "key-017");
  CHECK(ce_store_get(s, CE_STORE_RECORDS, "key-150", 7, &v, &vl, &e) == 1);
  free(v);
  int n = 0;
  CHECK(ce_store_scan(s, CE_STORE_RECORDS, "", 0, 0, collect_visit, &n, &e) == -1 && n == 17);
  ce_store_free(s);
  /* the check names it, and the salvage has the other 199 */
  ce_buf rep;
  ce_buf_init(&rep);
  char salv[400], how[200];
  snprintf(salv, sizeof salv, "%s/salvage.jsonl", d);
  CHECK(ce_store_check_child(d, salv, &rep, how, sizeof how, &e) == 0 && !how[0]);
  CHECK(rep.data && strstr(rep.data, "\"finding\":\"value\"") && strstr(rep.data, "key-017"));
  ce_buf_free(&rep);
  FILE *f = fopen(salv, "r");
  int lines = 0, c;
  while (f && (c = fgetc(f)) != EOF) lines += c == '\n';
  if (f) fclose(f);
  CHECK(lines == 199);
  /* a leaf that lost a node offset: not one record silently fewer */
  rewrite(d, drop_node, "key-100");
  s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (s) {
    n = 0;
    CHECK(ce_store_scan(s, CE_STORE_RECORDS, "key-1", 5, 0, collect_visit, &n, &e) == -1);
    CHECK_CONTAINS(e.msg, "belong to no node");
    /* nor is a key on that page reported missing */
    CHECK(ce_store_get(s, CE_STORE_RECORDS, "key-100", 7, &v, &vl, &e) == -1);
    ce_store_free(s);
  }
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", d);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d);
}

/* a page number past the file in LMDB's list of free pages */
static void bad_free_page(unsigned char *m, size_t len, void *ud) {
  (void)ud;
  ce_pmeta meta;
  int use;
  CHECK(ce_pmeta_pick(m, len, &meta, &use, NULL) == 0);
  CHECK(meta.free.root != CE_P_INVALID && meta.free.depth == 1);
  if (meta.free.root == CE_P_INVALID) return;
  unsigned char *pg = m + meta.free.root * 4096;
  const unsigned char *v;
  size_t vl;
  ce_pfile f = {m, len / 4096, 4096};
  CHECK(ce_page_value(&f, pg, 0, &v, &vl, NULL) == 0 && vl >= 16);
  memset((unsigned char *)v + 8, 0x7f, 8);
}

/* Writes refuse a store whose list of free pages is damaged: LMDB would
 * hand out pages still in use. Reads go on. */
static void test_free_list(void) {
  char d[300];
  snprintf(d, sizeof d, "/tmp/ce-test-free.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (!s) return;
  for (int i = 0; i < 50; i++) {
    char k[16];
    int kl = snprintf(k, sizeof k, "k%02d", i);
    CHECK(ce_store_put(s, CE_STORE_RUNS, k, (size_t)kl, "{}", 2, &e) == 0);
  }
  ce_store_free(s);
  rewrite(d, bad_free_page, NULL);
  s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (s) {
    char *v;
    size_t vl;
    CHECK(ce_store_get(s, CE_STORE_RUNS, "k07", 3, &v, &vl, &e) == 1);
    free(v);
    CHECK(ce_store_put(s, CE_STORE_RUNS, "k99", 3, "{}", 2, &e) == -1 && e.code == CE_STORE_EDAMAGED);
    CHECK_CONTAINS(e.msg, "(database free pages)");
    CHECK(ce_store_writer_start(s, 16, 1, &e) == -1);
    ce_store_free(s);
  }
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", d);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d);
}

/* A store written before values had headers reads as it always did. */
static void test_legacy(void) {
  char d[300];
  snprintf(d, sizeof d, "/tmp/ce-test-legacy.%d", (int)getpid());
  mkdir(d, 0755);
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 8) == 0 && mdb_env_open(env, d, 0, 0644) == 0);
  CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
  for (int i = 0; i < CE_STORE_NDB; i++) CHECK(mdb_dbi_open(txn, ce_store_db_names[i], MDB_CREATE, &dbi) == 0);
  MDB_val k = {2, "r1"}, v = {9, "{\"old\":1}"};
  CHECK(mdb_dbi_open(txn, "runs", 0, &dbi) == 0 && mdb_put(txn, dbi, &k, &v, 0) == 0);
  CHECK(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
  ce_err e;
  ce_store *s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (s) {
    char *out;
    size_t ol;
    CHECK(ce_store_get(s, CE_STORE_RUNS, "r1", 2, &out, &ol, &e) == 1 && ol == 9 && memcmp(out, "{\"old\":1}", 9) == 0);
    free(out);
    CHECK(ce_store_put(s, CE_STORE_RUNS, "r2", 2, "{}", 2, &e) == 0);
    int n = 0;
    CHECK(ce_store_scan(s, CE_STORE_RUNS, "", 0, 0, collect_visit, &n, &e) == 2);
    ce_store_free(s);
  }
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", d);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d);
}

/* ---- the journal ---- */

static void test_journal(void) {
  char d[300];
  snprintf(d, sizeof d, "/tmp/ce-test-journal.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  ce_store_free(s);
  /* a process that queued 300 records and was killed before its writer
   * committed any: another process holds LMDB's write lock meanwhile */
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t holder = fork();
  if (holder == 0) {
    MDB_env *env;
    MDB_txn *txn;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) || mdb_env_set_mapsize(env, 64u << 20) ||
        mdb_env_open(env, d, 0, 0644) || mdb_txn_begin(env, NULL, 0, &txn))
      _exit(2);
    if (write(ready[1], "x", 1) != 1) _exit(2);
    pause();
    _exit(0);
  }
  char byte;
  CHECK(read(ready[0], &byte, 1) == 1);
  pid_t pid = fork();
  if (pid == 0) {
    ce_store *c = ce_store_open(d, 64, 0, &e);
    if (!c || ce_store_writer_start(c, 256, 1, &e) != 0) _exit(2);
    for (int i = 0; i < 300; i++) {
      char k[32], r[64];
      int kl = snprintf(k, sizeof k, "q%03d", i), rl = snprintf(r, sizeof r, "{\"q\":%d}", i);
      ce_store_enqueue_pair(c, CE_STORE_RECORDS, r, (size_t)rl, CE_STORE_SCORES, "{\"c\":1}", 7, k, (size_t)kl, 0,
                            CE_TALLY_DONE);
    }
    kill(getpid(), SIGKILL);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  kill(holder, SIGKILL); /* LMDB's lock is robust: the next writer takes it over */
  waitpid(holder, NULL, 0);
  close(ready[0]);
  close(ready[1]);
  /* a torn last frame, as a kill in the middle of its copy leaves: its
   * value's last bytes never arrived */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "ls %s/journal.*", d);
  FILE *ls = popen(cmd, "r");
  char jpath[400];
  int torn = 0;
  while (ls && fgets(jpath, sizeof jpath, ls)) {
    jpath[strcspn(jpath, "\n")] = '\0';
    int fd = open(jpath, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) continue;
    unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    size_t off = 0, last = 0;
    while (off + 16 <= (size_t)st.st_size && m[off] == 'C' && m[off + 1] == 'E') {
      last = off;
      off += 16 + (m[off + 8] | m[off + 9] << 8 | m[off + 10] << 16 | (size_t)m[off + 11] << 24);
    }
    if (off > last) {
      memset(m + off - 5, 0, 5);
      torn++;
    }
    munmap(m, (size_t)st.st_size);
    close(fd);
  }
  if (ls) pclose(ls);
  CHECK(torn == 1);
  s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (s) {
    const char *msg;
    CHECK(ce_store_replayed(s, &msg) == 2 * 299);
    CHECK(msg[0] == '\0');
    int n = 0;
    CHECK(ce_store_scan(s, CE_STORE_SCORES, "q", 1, 0, collect_visit, &n, &e) == 299);
    ce_store_free(s);
  }
  /* replayed once, then gone */
  s = ce_store_open(d, 64, 0, &e);
  const char *msg;
  CHECK(s && ce_store_replayed(s, &msg) == 0);
  /* a live process's journal is left alone */
  ce_store *live = s;
  CHECK(ce_store_writer_start(live, 100000, 600000, &e) == 0);
  CHECK(ce_store_enqueue(live, CE_STORE_META, "m", 1, "{}", 2, 0, 0) == 0);
  ce_store *other = ce_store_open(d, 64, 0, &e);
  CHECK(other && ce_store_replayed(other, &msg) == 0);
  ce_store_free(other);
  ce_store_free(live); /* commits, and the journal goes */
  snprintf(cmd, sizeof cmd, "ls %s | grep -c journal", d);
  FILE *p = popen(cmd, "r");
  int count = -1;
  if (p) {
    if (fscanf(p, "%d", &count) != 1) count = -1;
    pclose(p);
  }
  CHECK(count == 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", d);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d);
}

static void test_messages(void) {
  char buf[300];
  CHECK_STR(ce_write_error(ENOSPC, "/data/x", buf, sizeof buf), "the disk is full (/data/x)");
  CHECK_CONTAINS(ce_write_error(EACCES, "/data/x", buf, sizeof buf), "Permission denied");
}

/* The writer lets a batch fill for flush_ms before it commits: records
 * queued one by one a millisecond apart go in one transaction, not one
 * each (every record's queueing woke the writer, which then committed
 * the one record it had). A sync still commits at once. */
static void test_batch_window(void) {
  char d[300];
  snprintf(d, sizeof d, "/tmp/ce-test-store-window.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (!s) return;
  CHECK(ce_store_writer_start(s, 64, 400, &e) == 0);
  uint64_t before = ce_store_commits(s);
  struct timespec ms = {0, 1000000L};
  for (int i = 0; i < 20; i++) {
    char k[16], v[32];
    int kl = snprintf(k, sizeof k, "w%02d", i), vl = snprintf(v, sizeof v, "{\"i\":%d}", i);
    CHECK(ce_store_enqueue_pair(s, CE_STORE_RECORDS, v, (size_t)vl, CE_STORE_SCORES, "{}", 2, k, (size_t)kl, 0,
                                CE_TALLY_DONE) == 0);
    nanosleep(&ms, NULL);
  }
  /* 20 records in well under the window: nothing committed yet, then one commit */
  CHECK(ce_store_commits(s) == before);
  struct timespec wait = {0, 600000000L};
  nanosleep(&wait, NULL);
  uint64_t after = ce_store_commits(s);
  if (after - before != 1) fprintf(stderr, "20 records a millisecond apart took %llu commits\n",
                                   (unsigned long long)(after - before));
  CHECK(after - before == 1);
  ce_store_tally t;
  ce_store_tally_get(s, 0, &t);
  CHECK(t.done == 20);
  /* a full batch does not wait for the window either: enqueue wakes the
   * writer for the first record and for the one that fills the batch, not
   * for every record (which cost a context switch an answer) */
  ce_store_free(s);
  s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (!s) return;
  CHECK(ce_store_writer_start(s, 8, 10000, &e) == 0);
  before = ce_store_commits(s);
  double t_full = now_s();
  struct timespec wait_some = {0, 20000000L};
  for (int i = 0; i < 4; i++) {
    char k[16];
    int kl = snprintf(k, sizeof k, "f%02d", i);
    CHECK(ce_store_enqueue_pair(s, CE_STORE_RECORDS, "{}", 2, CE_STORE_SCORES, "{}", 2, k, (size_t)kl, 0,
                                CE_TALLY_DONE) == 0);
    nanosleep(&wait_some, NULL); /* the writer is in its window by the next one */
  }
  while (ce_store_commits(s) == before && now_s() - t_full < 5) nanosleep(&ms, NULL);
  CHECK(ce_store_commits(s) == before + 1);
  CHECK(now_s() - t_full < 2);
  /* a sync does not wait for the window */
  CHECK(ce_store_enqueue_pair(s, CE_STORE_RECORDS, "{}", 2, CE_STORE_SCORES, "{}", 2, "x", 1, 0, CE_TALLY_DONE) == 0);
  double t0 = now_s();
  CHECK(ce_store_sync(s, &e) == 0);
  CHECK(now_s() - t0 < 0.2);
  ce_store_free(s);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  CHECK(system(cmd) == 0);
}

/* A batch takes at most half the queue's byte bound: its bytes count
 * until its commit ends, so a batch of everything queued held every
 * producer back for the whole commit (a window long enough to fill a batch
 * of 2,048 values of large records reached the bound before the count). */
static void test_batch_bytes(void) {
  char d[300];
  snprintf(d, sizeof d, "/tmp/ce-test-store-batch-bytes.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(d, 256, 0, &e);
  CHECK(s != NULL);
  if (!s) return;
  CHECK(ce_store_writer_start(s, 100000, 10000, &e) == 0);
  enum { BIG = 300 * 1024, N = 60 };
  char *rec = malloc(BIG);
  memset(rec, 'b', BIG);
  for (int i = 0; i < N; i++) {
    char key[32];
    int kl = snprintf(key, sizeof key, "bb%05d", i);
    CHECK(ce_store_enqueue(s, CE_STORE_RECORDS, key, (size_t)kl, rec, BIG, 1, CE_TALLY_DONE) == 0);
  }
  free(rec);
  CHECK(ce_store_sync(s, &e) == 0);
  uint64_t peak = ce_store_batch_bytes_peak(s);
  if (peak > CE_STORE_MAX_QUEUED_BYTES / 2) fprintf(stderr, "a batch took %llu bytes\n", (unsigned long long)peak);
  CHECK(peak >= BIG && peak <= CE_STORE_MAX_QUEUED_BYTES / 2);
  CHECK(ce_store_commits(s) >= (uint64_t)N * BIG / (CE_STORE_MAX_QUEUED_BYTES / 2));
  ce_store_tally t;
  ce_store_tally_get(s, 1, &t);
  CHECK(t.done == N);
  ce_store_free(s);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  CHECK(system(cmd) == 0);
}

/* A database no store writes, beside the store's (a cache's tables, once
 * written into a results store given as cache.disk.path): the reader
 * refuses the store as damaged, and the check must say so too, not
 * "intact". */
static void test_foreign_database(void) {
  char d[300];
  snprintf(d, sizeof d, "/tmp/ce-test-foreign.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(d, 64, 0, &e);
  CHECK(s != NULL);
  if (!s) return;
  CHECK(ce_store_put(s, CE_STORE_RECORDS, "k", 1, "{}", 2, &e) == 0);
  ce_store_free(s);
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  MDB_val k = {3, "one"}, v = {3, "two"};
  CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 && mdb_env_open(env, d, 0, 0644) == 0);
  CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, "age", MDB_CREATE, &dbi) == 0 &&
        mdb_put(txn, dbi, &k, &v, 0) == 0 && mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
  ce_buf rep;
  ce_buf_init(&rep);
  CHECK(ce_store_check(d, NULL, &rep, &e) == 0);
  CHECK(rep.data && strstr(rep.data, "a database the store does not have") && strstr(rep.data, "age"));
  ce_buf_free(&rep);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  CHECK(system(cmd) == 0);
}

int main(void) {
  test_foreign_database();
  test_record();
  test_guard();
  test_damage();
  test_free_list();
  test_legacy();
  test_journal();
  test_messages();
  test_batch_window();
  test_batch_bytes();
  snprintf(dir, sizeof dir, "/tmp/ce-test-store.%d", (int)getpid());
  ce_err e;
  ce_store *s = ce_store_open(dir, 64, 0, &e);
  CHECK(s != NULL);
  if (!s) return check_report("test_store");

  /* one-transaction operations */
  CHECK(ce_store_put(s, CE_STORE_RUNS, "r1", 2, "{\"a\":1}", 7, &e) == 0);
  CHECK(ce_store_put(s, CE_STORE_RUNS, "r2", 2, "{\"a\":2}", 7, &e) == 0);
  char *v = NULL;
  size_t vl = 0;
  CHECK(ce_store_get(s, CE_STORE_RUNS, "r2", 2, &v, &vl, &e) == 1);
  CHECK(vl == 7 && memcmp(v, "{\"a\":2}", 7) == 0);
  free(v);
  CHECK(ce_store_get(s, CE_STORE_RUNS, "zz", 2, &v, &vl, &e) == 0);
  CHECK(ce_store_del(s, CE_STORE_RUNS, "r1", 2, &e) == 0);
  CHECK(ce_store_get(s, CE_STORE_RUNS, "r1", 2, &v, &vl, &e) == 0);

  /* the writer: 4 threads x 5000 pairs, small batches so pairs straddle them */
  CHECK(ce_store_writer_start(s, 7, 1, &e) == 0);
  pthread_t t[4];
  producer p[4];
  for (int i = 0; i < 4; i++) {
    p[i].s = s;
    p[i].id = i;
    pthread_create(&t[i], NULL, produce, &p[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(ce_store_sync(s, &e) == 0);
  CHECK(ce_store_queued(s) == 0);
  for (int i = 0; i < 4; i++) {
    ce_store_tally tl;
    ce_store_tally_get(s, i, &tl);
    CHECK(tl.done == 5000);
    CHECK(tl.correct == 2500);
    CHECK(tl.errors == 0);
  }
  int nrec = 0, nscore = 0;
  CHECK(ce_store_scan(s, CE_STORE_RECORDS, "run", 4, 0, count_visit, &nrec, &e) == 20000);
  CHECK(ce_store_scan(s, CE_STORE_SCORES, "run", 4, 0, count_visit, &nscore, &e) == 20000);
  CHECK(nrec == 20000 && nscore == 20000);
  /* a prefix selects one producer's keys */
  int n1 = 0;
  CHECK(ce_store_scan(s, CE_STORE_SCORES, "run\0" "2\0", 6, 1, count_visit, &n1, &e) == 5000);

  /* large records: the queue is bounded in bytes too, so a writer that
   * commits (and syncs) more slowly than producers fill it holds them back */
  {
    enum { BIG = 200 * 1024, N = 120 };
    char *rec = malloc(BIG);
    memset(rec, 'x', BIG);
    for (int i = 0; i < N; i++) {
      char key[32];
      int kl = snprintf(key, sizeof key, "big%c%05d", 0, i);
      CHECK(ce_store_enqueue(s, CE_STORE_RECORDS, key, (size_t)kl, rec, BIG, 5, CE_TALLY_DONE) == 0);
    }
    free(rec);
    CHECK(ce_store_sync(s, &e) == 0);
    uint64_t now, peak;
    ce_store_queued_bytes(s, &now, &peak);
    CHECK(now == 0);
    CHECK(peak <= CE_STORE_MAX_QUEUED_BYTES);
    CHECK(peak >= BIG);
    ce_store_tally tl;
    ce_store_tally_get(s, 5, &tl);
    CHECK(tl.done == N);
    /* one item over the bound on its own still goes through */
    char *huge = malloc(CE_STORE_MAX_QUEUED_BYTES + 1);
    memset(huge, 'y', CE_STORE_MAX_QUEUED_BYTES + 1);
    CHECK(ce_store_enqueue(s, CE_STORE_RECORDS, "huge", 4, huge, CE_STORE_MAX_QUEUED_BYTES + 1, 6, CE_TALLY_DONE) == 0);
    free(huge);
    CHECK(ce_store_sync(s, &e) == 0);
    ce_store_tally_get(s, 6, &tl);
    CHECK(tl.done == 1);
  }

  ce_store_free(s);
  /* what was committed is there after reopening */
  s = ce_store_open(dir, 64, 0, &e);
  CHECK(s != NULL);
  if (s) {
    int again = 0;
    CHECK(ce_store_scan(s, CE_STORE_RECORDS, "", 0, 0, count_visit, &again, &e) == 20000 + 120 + 1);
    ce_store_free(s);
  }
  /* a path that cannot be a folder names itself */
  CHECK(ce_store_open("/proc/no/such/dir", 64, 0, &e) == NULL);
  CHECK_CONTAINS(e.msg, "cannot create the store folder");

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_report("test_store");
}
