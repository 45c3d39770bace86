/* SPDX-License-Identifier: MIT */
/* Opening the store, reads, and one-transaction writes. LMDB writes; reads
 * go through pages.h over our own read-only map of data.mdb, inside an LMDB
 * read transaction (which keeps the pages of its snapshot from being
 * reused), so that a damaged file gives an error naming where it is
 * damaged instead of a crash or a silently short answer. */
#include "core/store/pages.h"
#include "core/store/pg.h"
#include "core/store/record.h"
#include "core/store/store_int.h"
#include "core/store/syserr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const ce_store_db_names[CE_STORE_NDB] = {"runs", "records", "meta", "scores"};

/* A key as a person can read it: the \0 between a run, a model and a
 * question shows as \0, other odd bytes as \xNN. */
static void render_key(const unsigned char *k, size_t kl, char *out, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < kl && o + 8 < n; i++) {
    unsigned char c = k[i];
    if (c == 0) o += (size_t)snprintf(out + o, n - o, "\\0");
    else if (c == '"' || c == '\\') o += (size_t)snprintf(out + o, n - o, "\\%c", c);
    else if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
    else o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
  }
  if (o + 8 >= n && kl) o += (size_t)snprintf(out + o, n - o, "...");
  out[o < n ? o : n - 1] = '\0';
}

static int damaged(ce_store *s, ce_err *err, int db, const ce_pdamage *d) {
  char near[420] = "", key[300];
  if (d->has_near) {
    render_key(d->near, d->nearl, key, sizeof key);
    snprintf(near, sizeof near, ", near key \"%s\"", key);
  }
  ce_err_setf(err, CE_STORE_EDAMAGED, NULL, 0, 0, "%s/data.mdb is damaged (database %s): %s%s", s->path,
              db >= 0 ? ce_store_db_names[db] : db == -1 ? "main" : "free pages", d->what, near);
  return -1;
}

int ce_store_lmdb_fail(ce_store *s, ce_err *err, const char *what, int rc, const ce_guard *g) {
  char m[400];
  const char *path = s ? s->path : "";
  if (rc == CE_GUARD_FAULT || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
      rc == MDB_VERSION_MISMATCH) {
    if (rc == CE_GUARD_FAULT) ce_guard_describe(g, m, sizeof m);
    else snprintf(m, sizeof m, "%s", mdb_strerror(rc));
    ce_err_setf(err, CE_STORE_EDAMAGED, NULL, 0, 0, "%s/data.mdb is damaged: %s: %s", path, what, m);
    if (s) {
      s->damaged = 1;
      snprintf(s->damage_msg, sizeof s->damage_msg, "%s", err->msg);
    }
  } else if (rc == MDB_MAP_FULL) {
    ce_err_setf(err, CE_STORE_EFULL, path, 0, 0, "%s: the store is full (raise store.map_size_mb)", what);
  } else if (rc == ENOSPC || rc == EIO || rc == EFBIG || rc == EDQUOT) {
    ce_write_error(rc, path, m, sizeof m);
    ce_err_setf(err, rc == EIO && !ce_disk_full(path) ? 1 : CE_STORE_EFULL, NULL, 0, 0, "%s: %s", what, m);
  } else {
    ce_err_setf(err, 1, path, 0, 0, "%s: %s", what, mdb_strerror(rc));
  }
  return -1;
}

static int abort_txn(void *arg) {
  mdb_txn_abort(arg);
  return 0;
}

void ce_store_abort_after_fault(MDB_txn *txn) {
  if (!txn) return;
  ce_guard g;
  ce_guard_run(&g, abort_txn, txn);
}

typedef struct {
  ce_store *s;
  MDB_txn *txn;
  unsigned flags;
} begin_args;

static int begin_txn(void *arg) {
  begin_args *a = arg;
  return mdb_txn_begin(a->s->env, NULL, a->flags, &a->txn);
}

static int check_free(ce_store *s, ce_err *err);

/* Before a write: LMDB takes the pages for new data from its list of free
 * pages, so a damaged list would have it overwrite pages in use. */
static int refuse_if_damaged(ce_store *s, ce_err *err) {
  if (!s->damaged && !s->free_checked && check_free(s, err) != 0) {
    s->damaged = 1;
    snprintf(s->damage_msg, sizeof s->damage_msg, "%s", err->msg);
  }
  s->free_checked = 1;
  if (!s->damaged) return 0;
  ce_err_setf(err, CE_STORE_EDAMAGED, NULL, 0, 0, "%s", s->damage_msg);
  return -1;
}

int ce_store_check_writable(ce_store *s, ce_err *err) { return refuse_if_damaged(s, err); }

/* ---- our view of data.mdb ---- */

typedef struct {
  MDB_txn *txn;
  ce_pfile f;
  ce_pmeta meta;
  uint64_t t[2]; /* the metas' transaction ids when the view began */
} view;

/* The map, grown to cover len bytes when the file outgrew it. */
static const unsigned char *map_for(ce_store *s, size_t len) {
  pthread_mutex_lock(&s->map_lock);
  if (len > s->rmap_len) {
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, s->fd, 0);
    if (p != MAP_FAILED) {
      struct oldmap *o = malloc(sizeof *o);
      if (o) {
        *o = (struct oldmap){s->old_maps, (void *)s->rmap, s->rmap_len};
        s->old_maps = o;
        s->rmap = p;
        s->rmap_len = len;
      } else {
        munmap(p, len);
      }
    }
  }
  const unsigned char *base = len <= s->rmap_len ? s->rmap : NULL;
  pthread_mutex_unlock(&s->map_lock);
  return base;
}

static size_t file_size(ce_store *s) {
  struct stat st;
  return fstat(s->fd, &st) == 0 ? (size_t)st.st_size : 0;
}

/* 0; -1 + err (LMDB failed); -2 + d (damaged) */
static int view_begin(ce_store *s, view *v, ce_pdamage *d, ce_err *err) {
  memset(v, 0, sizeof *v);
  ce_guard g;
  begin_args b = {s, NULL, MDB_RDONLY};
  int rc = ce_guard_run(&g, begin_txn, &b);
  if (rc) {
    if (rc == CE_GUARD_FAULT) ce_store_abort_after_fault(b.txn);
    return ce_store_lmdb_fail(s, err, "reading", rc, &g);
  }
  MDB_txn *txn = b.txn;
  v->txn = txn;
  size_t len = file_size(s);
  const unsigned char *base = map_for(s, len);
  int use;
  if (!base || ce_pmeta_pick(base, len, &v->meta, &use, d) != 0) {
    if (!base) snprintf(d->what, sizeof d->what, "the file cannot be mapped");
    return -2;
  }
  /* the pages of that snapshot were written before its meta page */
  len = file_size(s);
  if (!(base = map_for(s, len))) {
    snprintf(d->what, sizeof d->what, "the file cannot be mapped");
    return -2;
  }
  v->f = (ce_pfile){base, len / s->psize, s->psize};
  v->t[0] = ce_pmeta_txnid(base, s->psize, 0);
  v->t[1] = ce_pmeta_txnid(base, s->psize, 1);
  if (v->meta.txnid < mdb_txn_id(txn)) {
    snprintf(d->what, sizeof d->what, "its newest meta page is older than LMDB's own view of it");
    return -2;
  }
  return 0;
}

/* A commit since the view began can tear the meta page it read (this
 * process reading it while another writes it): then a retry, not damage. */
static int view_changed(const view *v) {
  if (!v->f.base || v->f.npages < 2) return 0;
  return ce_pmeta_txnid(v->f.base, v->f.psize, 0) != v->t[0] || ce_pmeta_txnid(v->f.base, v->f.psize, 1) != v->t[1];
}

static void view_end(view *v) {
  if (!v->txn) return;
  ce_guard g;
  ce_guard_run(&g, abort_txn, v->txn);
  v->txn = NULL;
}

/* The tree of database db. 0, or -1 + d. */
static int view_db(const view *v, int db, ce_pdb *out, uint16_t *scratch, ce_pdamage *d) {
  ce_pcur c;
  ce_pcur_init(&c, &v->f, &v->meta.main, CE_PK_MAIN, scratch, d);
  const char *name = ce_store_db_names[db];
  size_t nl = strlen(name);
  int r = ce_pcur_seek_ge(&c, name, nl);
  if (r < 0) return -1;
  const unsigned char *k, *val;
  size_t kl, vl;
  if (r == 1) ce_pcur_key(&c, &k, &kl);
  if (r == 0 || kl != nl || memcmp(k, name, nl) != 0) {
    out->root = CE_P_INVALID;
    out->depth = 0;
    out->entries = 0;
    return 1; /* not there: a new store */
  }
  if (ce_pcur_value(&c, &val, &vl) != 0) return -1;
  if (ce_pdb_parse(val, vl, out) != 0) {
    ce_pdamage_near(d, name, nl);
    d->page = c.st[c.top].pgno;
    snprintf(d->what, sizeof d->what, "the record of database %s on page %" PRIu64 " is damaged", name, d->page);
    return -1;
  }
  return 0;
}

typedef struct {
  const view *v;
  uint16_t *scratch;
  ce_pdamage *d;
} free_args;

/* Each entry of the free-page list: a count and that many pages, all in the file's range. */
static int walk_free(void *arg) {
  free_args *a = arg;
  ce_pcur c;
  ce_pcur_init(&c, &a->v->f, &a->v->meta.free, CE_PK_FREE, a->scratch, a->d);
  for (int r = ce_pcur_seek_ge(&c, NULL, 0); r != 0; r = ce_pcur_next(&c)) {
    const unsigned char *val;
    size_t vl;
    if (r < 0 || ce_pcur_value(&c, &val, &vl) != 0) return -2;
    uint64_t n;
    if (vl >= 8) memcpy(&n, val, 8);
    int bad = vl < 8 || vl % 8 || n != vl / 8 - 1;
    for (uint64_t i = 1; !bad && i <= n; i++) {
      uint64_t p;
      memcpy(&p, val + 8 * i, 8);
      bad = p < 2 || p > a->v->meta.last_pg;
    }
    if (bad) {
      a->d->page = c.st[c.top].pgno;
      snprintf(a->d->what, sizeof a->d->what, "a list of free pages on page %" PRIu64 " is damaged", a->d->page);
      return -2;
    }
  }
  return 0;
}

static uint16_t *new_scratch(ce_store *s, ce_err *err);

static int check_free(ce_store *s, ce_err *err) {
  uint16_t *scratch = new_scratch(s, err);
  if (!scratch) return -1;
  ce_pdamage d;
  memset(&d, 0, sizeof d);
  view v;
  int rc = view_begin(s, &v, &d, err);
  if (rc == 0) {
    free_args a = {&v, scratch, &d};
    ce_guard g;
    rc = ce_guard_run(&g, walk_free, &a);
    if (rc == CE_GUARD_FAULT) {
      ce_guard_describe(&g, d.what, sizeof d.what);
      rc = -2;
    }
  }
  view_end(&v);
  free(scratch);
  return rc == -2 ? damaged(s, err, -2, &d) : rc;
}

static uint16_t *new_scratch(ce_store *s, ce_err *err) {
  uint16_t *p = malloc(s->psize / 2 * sizeof *p);
  if (!p) ce_err_setf(err, 1, s->path, 0, 0, "out of memory");
  return p;
}

/* ---- open and close ---- */

typedef struct {
  const view *v;
  uint16_t *scratch;
  ce_pdamage *d;
  int db, missing;
} dbs_args;

/* -2 + d when damaged: LMDB's list of databases holds ours and nothing
 * else (all four, or none in a new store), each with a sound record */
static int check_dbs(void *arg) {
  dbs_args *a = arg;
  ce_pcur c;
  ce_pcur_init(&c, &a->v->f, &a->v->meta.main, CE_PK_MAIN, a->scratch, a->d);
  int found = 0;
  for (int r = ce_pcur_seek_ge(&c, NULL, 0); r != 0; r = ce_pcur_next(&c)) {
    if (r < 0) return -2;
    const unsigned char *k, *val;
    size_t kl, vl;
    ce_pcur_key(&c, &k, &kl);
    for (a->db = 0; a->db < CE_STORE_NDB; a->db++)
      if (kl == strlen(ce_store_db_names[a->db]) && memcmp(k, ce_store_db_names[a->db], kl) == 0) break;
    ce_pdb pdb;
    if (a->db == CE_STORE_NDB || ce_pcur_value(&c, &val, &vl) != 0 || ce_pdb_parse(val, vl, &pdb) != 0 ||
        pdb.flags != 0 || (pdb.root != CE_P_INVALID && pdb.root >= a->v->f.npages)) {
      ce_pdamage_near(a->d, k, kl);
      a->d->page = c.st[c.top].pgno;
      snprintf(a->d->what, sizeof a->d->what, "page %" PRIu64 " lists %s", a->d->page,
               a->db == CE_STORE_NDB ? "a database the store does not have" : "a database with a damaged record");
      if (a->db == CE_STORE_NDB) a->db = -1;
      return -2;
    }
    found++;
  }
  a->db = -1;
  a->missing = found == 0;
  if (found && found != CE_STORE_NDB) {
    snprintf(a->d->what, sizeof a->d->what, "only %d of its %d databases are listed", found, CE_STORE_NDB);
    return -2;
  }
  return 0;
}

typedef struct {
  ce_store *s;
  MDB_txn *txn;
  int missing;
} dbi_args;

static int open_dbis(void *arg) {
  dbi_args *a = arg;
  int r = mdb_txn_begin(a->s->env, NULL, a->missing ? 0 : MDB_RDONLY, &a->txn);
  for (int i = 0; r == 0 && i < CE_STORE_NDB; i++)
    r = mdb_dbi_open(a->txn, ce_store_db_names[i], a->missing ? MDB_CREATE : 0, &a->s->dbi[i]);
  if (r == 0) r = mdb_txn_commit(a->txn);
  else if (a->txn) mdb_txn_abort(a->txn);
  a->txn = NULL;
  return r;
}

static int open_dbs(ce_store *s, ce_err *err) {
  uint16_t *scratch = new_scratch(s, err);
  if (!scratch) return -1;
  ce_pdamage d;
  view v = {0};
  dbs_args a = {&v, scratch, &d, -1, 0};
  int rc = 0;
  for (int attempt = 0; attempt < 4; attempt++) {
    memset(&d, 0, sizeof d);
    a.missing = 0;
    a.db = -1;
    rc = view_begin(s, &v, &d, err);
    if (rc == -1) break;
    if (rc == 0) {
      ce_guard g;
      rc = ce_guard_run(&g, check_dbs, &a);
      if (rc == CE_GUARD_FAULT) {
        ce_guard_describe(&g, d.what, sizeof d.what);
        rc = -2;
      }
    }
    int again = rc == -2 && view_changed(&v);
    view_end(&v);
    if (!again) break;
  }
  free(scratch);
  if (rc == -1) return -1;
  if (rc == -2) return damaged(s, err, a.db, &d);
  /* a read transaction when every database exists: opening a store to read
   * it writes nothing */
  ce_guard g;
  dbi_args b = {s, NULL, a.missing};
  int r = ce_guard_run(&g, open_dbis, &b);
  if (r == CE_GUARD_FAULT) ce_store_abort_after_fault(b.txn);
  return r ? ce_store_lmdb_fail(s, err, "opening the store's databases", r, &g) : 0;
}

static int replay_journals(ce_store *s);

typedef struct {
  MDB_env *env;
  const char *dir;
  unsigned flags;
} env_args;

static int open_env(void *arg) {
  env_args *a = arg;
  return mdb_env_open(a->env, a->dir, a->flags, 0644);
}

const char *ce_store_dir(const ce_store *s) { return s->path; }

static ce_store *open_locked(const char *dir, size_t map_mb, int sync, ce_err *err);

/* Opens are one at a time across processes (an flock on DIR/open.lock,
 * held until the databases are open): LMDB starts a data.mdb it finds
 * empty afresh in every process that does, so processes creating a store
 * together (a queue's workers started at once) overwrote each other's
 * first commit (MDB_NOTFOUND) or saw the file empty and called it damaged. */
ce_store *ce_store_open(const char *dir, size_t map_mb, int sync, ce_err *err) {
  ce_err_clear(err);
  char m[400];
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    ce_err_setf(err, errno == ENOSPC ? CE_STORE_EFULL : 1, dir, 0, 0, "cannot create the store folder: %s",
                errno == ENOSPC ? ce_write_error(errno, dir, m, sizeof m) : strerror(errno));
    return NULL;
  }
  char lock[1100];
  snprintf(lock, sizeof lock, "%s/open.lock", dir);
  int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  /* a store on read-only media opens unlocked: nothing can create it there */
  if (lfd >= 0) {
    while (flock(lfd, LOCK_EX) != 0 && errno == EINTR) {}
  }
  ce_store *s = open_locked(dir, map_mb, sync, err);
  if (lfd >= 0) close(lfd); /* drops the flock */
  return s;
}

static ce_store *open_locked(const char *dir, size_t map_mb, int sync, ce_err *err) {
  char file[1100];
  snprintf(file, sizeof file, "%s/data.mdb", dir);
  struct stat st;
  /* LMDB would take an empty data.mdb for a new store and start afresh */
  if (stat(file, &st) == 0 && st.st_size == 0) {
    ce_err_setf(err, CE_STORE_EDAMAGED, NULL, 0, 0, "%s is damaged: the file is empty", file);
    return NULL;
  }
  ce_store *s = calloc(1, sizeof *s);
  if (!s) {
    ce_err_setf(err, 1, dir, 0, 0, "out of memory");
    return NULL;
  }
  s->fd = -1;
  s->max_queued_bytes = CE_STORE_MAX_QUEUED_BYTES;
  snprintf(s->path, sizeof s->path, "%s", dir);
  snprintf(s->jdir, sizeof s->jdir, "%s", dir);
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->map_lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->idle, NULL);
  int rc = mdb_env_create(&s->env);
  if (rc == 0) rc = mdb_env_set_assert(s->env, ce_guard_lmdb_assert);
  if (rc == 0) rc = mdb_env_set_maxdbs(s->env, 8);
  if (rc == 0) rc = mdb_env_set_mapsize(s->env, (map_mb ? map_mb : 1024) * (size_t)1024 * 1024);
  if (rc == 0) rc = mdb_env_set_maxreaders(s->env, 256);
  /* NOTLS: read transactions belong to whoever opened them, not to a thread */
  unsigned flags = MDB_NOTLS | (sync ? 0 : MDB_NOSYNC);
  ce_guard g;
  env_args ea = {s->env, dir, flags};
  if (rc == 0) rc = ce_guard_run(&g, open_env, &ea);
  if (rc != 0) {
    ce_store_lmdb_fail(s, err, "cannot open the store", rc, &g);
    ce_store_free(s);
    return NULL;
  }
  MDB_stat ms;
  MDB_envinfo info;
  if (mdb_env_get_fd(s->env, &s->fd) != 0 || mdb_env_stat(s->env, &ms) != 0 || mdb_env_info(s->env, &info) != 0) {
    ce_err_setf(err, 1, dir, 0, 0, "cannot open the store: LMDB gives no file");
    ce_store_free(s);
    return NULL;
  }
  s->psize = ms.ms_psize;
  size_t len = info.me_mapsize > file_size(s) ? info.me_mapsize : file_size(s);
  void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, s->fd, 0);
  if (p == MAP_FAILED) {
    ce_err_setf(err, 1, dir, 0, 0, "cannot map the store: %s", strerror(errno));
    ce_store_free(s);
    return NULL;
  }
  s->rmap = p;
  s->rmap_len = len;
  if (open_dbs(s, err) != 0) {
    ce_store_free(s);
    return NULL;
  }
  replay_journals(s);
  return s;
}

long ce_store_replayed(ce_store *s, const char **msg) {
  *msg = s->replay_msg;
  return s->replayed;
}

void ce_store_free(void *p) {
  ce_store *s = p;
  if (!s) return;
  ce_store_stop_writer(s);
  ce_store_free_queue(s);
  ce_pg_free(s->pg);
  if (s->env) mdb_env_close(s->env);
  if (s->rmap) munmap((void *)s->rmap, s->rmap_len);
  for (struct oldmap *o = s->old_maps; o;) {
    struct oldmap *n = o->next;
    munmap(o->p, o->len);
    free(o);
    o = n;
  }
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->map_lock);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->idle);
  free(s);
}

/* ---- journals of processes that were killed ---- */

typedef struct {
  ce_store *s;
  MDB_txn *txn;
  int rc, ok, refused;
  const ce_jitem *it;
  int n;
  ce_guard g;
  ce_err why;
} replay_ctx;

/* Puts a journaled record unless the store holds a newer copy (a later
 * process wrote that key again). */
static int put_frame(void *arg) {
  replay_ctx *c = arg;
  int rc = 0;
  if (!c->txn) rc = mdb_txn_begin(c->s->env, NULL, 0, &c->txn);
  for (int i = 0; rc == 0 && i < c->n; i++) {
    const ce_jitem *it = &c->it[i];
    if (it->db < 0 || it->db >= CE_STORE_NDB) continue;
    MDB_val key = {it->kl, (void *)it->k}, old, val = {it->vl, (void *)it->v};
    const void *pv;
    size_t pl;
    uint64_t have = 0, mine = 0;
    const char *why;
    ce_rec_open(it->db, it->k, it->kl, it->v, it->vl, &pv, &pl, &mine, &why);
    int g = mdb_get(c->txn, c->s->dbi[it->db], &key, &old);
    if (g == 0 && ce_rec_open(it->db, it->k, it->kl, old.mv_data, old.mv_size, &pv, &pl, &have, &why) == CE_REC_OK &&
        have >= mine)
      continue;
    if (g != 0 && g != MDB_NOTFOUND) rc = g;
    else rc = mdb_put(c->txn, c->s->dbi[it->db], &key, &val, 0);
  }
  return rc;
}

static int replay_frame(void *ud, const ce_jitem *it, int n) {
  replay_ctx *c = ud;
  if (c->rc || c->refused) return 1;
  if (!c->txn && ce_store_check_writable(c->s, &c->why) != 0) {
    c->refused = 1;
    return 1;
  }
  c->it = it;
  c->n = n;
  c->rc = ce_guard_run(&c->g, put_frame, c);
  if (c->rc == CE_GUARD_FAULT) {
    ce_store_abort_after_fault(c->txn);
    c->txn = NULL;
  }
  return c->rc != 0;
}

static int end_replay(void *arg) {
  replay_ctx *c = arg;
  int rc = 0;
  if (c->ok && c->rc == 0) rc = mdb_txn_commit(c->txn);
  else mdb_txn_abort(c->txn);
  c->txn = NULL;
  return rc;
}

static int replay_finish(void *ud, int ok) {
  replay_ctx *c = ud;
  if (c->txn) {
    c->ok = ok;
    int rc = ce_guard_run(&c->g, end_replay, c);
    if (rc == CE_GUARD_FAULT) ce_store_abort_after_fault(c->txn);
    c->txn = NULL;
    if (!c->rc) c->rc = rc;
  }
  return ok && c->rc == 0 ? 0 : -1;
}

static int replay_journals(ce_store *s) {
  replay_ctx c;
  memset(&c, 0, sizeof c);
  c.s = s;
  ce_err e;
  long n = ce_journal_replay(s->path, replay_frame, replay_finish, &c, &e);
  if (n < 0) {
    /* the journal stays for the next open; what LMDB said is the better news */
    if (c.refused) e = c.why;
    else if (c.rc) ce_store_lmdb_fail(s, &e, "replaying the journal of a run that was killed", c.rc, &c.g);
    snprintf(s->replay_msg, sizeof s->replay_msg, "%s", e.msg);
    return -1;
  }
  s->replayed = n;
  return 0;
}

/* ---- one-transaction writes ---- */

typedef struct {
  ce_store *s;
  MDB_txn *txn;
  int db, del;
  const void *k, *v;
  size_t kl, vl;
  const unsigned char *hdr;
} put_args;

static int put_one(void *arg) {
  put_args *a = arg;
  int rc = mdb_txn_begin(a->s->env, NULL, 0, &a->txn);
  if (rc) return rc;
  MDB_val key = {a->kl, (void *)a->k}, val = {CE_REC_HDR + a->vl, NULL};
  if (a->del) {
    rc = mdb_del(a->txn, a->s->dbi[a->db], &key, NULL);
    if (rc == MDB_NOTFOUND) rc = 0;
  } else {
    rc = mdb_put(a->txn, a->s->dbi[a->db], &key, &val, MDB_RESERVE);
    if (rc == 0) {
      memcpy(val.mv_data, a->hdr, CE_REC_HDR);
      memcpy((char *)val.mv_data + CE_REC_HDR, a->v, a->vl);
    }
  }
  if (rc == 0) rc = mdb_txn_commit(a->txn);
  else mdb_txn_abort(a->txn);
  a->txn = NULL;
  return rc;
}

static int write_one(ce_store *s, put_args *a, const char *what, ce_err *err) {
  if (refuse_if_damaged(s, err)) return -1;
  ce_guard g;
  int rc = ce_guard_run(&g, put_one, a);
  if (rc == CE_GUARD_FAULT) ce_store_abort_after_fault(a->txn);
  return rc ? ce_store_lmdb_fail(s, err, what, rc, &g) : 0;
}

int ce_store_put(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, ce_err *err) {
  if (s->pg) return ce_store_pg_put(s, db, k, kl, v, vl, err);
  unsigned char hdr[CE_REC_HDR];
  ce_rec_header(hdr, db, ce_rec_stamp(), k, kl, v, vl);
  put_args a = {s, NULL, db, 0, k, v, kl, vl, hdr};
  return write_one(s, &a, "put", err);
}

int ce_store_del(ce_store *s, int db, const void *k, size_t kl, ce_err *err) {
  if (s->pg) return ce_pg_del(s->pg, db, k, kl, err);
  put_args a = {s, NULL, db, 1, k, NULL, kl, 0, NULL};
  return write_one(s, &a, "delete", err);
}

/* ---- reads ---- */

typedef struct {
  char *p;
  size_t cap;
} buf;

static int buf_set(buf *b, const void *src, size_t n) {
  if (n + 1 > b->cap) {
    size_t cap = (n + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p, src, n);
  b->p[n] = '\0';
  return 0;
}

/* The value under the cursor, checked against its header and copied
 * into vb. 0, or -1 + d. */
static int take_value(ce_pcur *c, int db, buf *kb, buf *vb, size_t *kl, size_t *vl) {
  const unsigned char *k, *raw;
  size_t rl;
  ce_pcur_key(c, &k, kl);
  if (ce_pcur_value(c, &raw, &rl) != 0) return -1;
  const void *v;
  uint64_t stamp;
  const char *why;
  if (ce_rec_open(db, k, *kl, raw, rl, &v, vl, &stamp, &why) == CE_REC_DAMAGED) {
    ce_pdamage_near(c->d, k, *kl);
    c->d->page = c->st[c->top].pgno;
    snprintf(c->d->what, sizeof c->d->what, "a value on page %" PRIu64 " is damaged (%s)", c->d->page, why);
    return -1;
  }
  if (buf_set(kb, k, *kl) != 0 || buf_set(vb, v, *vl) != 0) {
    snprintf(c->d->what, sizeof c->d->what, "out of memory");
    return -1;
  }
  return 0;
}

static int has_prefix(const char *k, size_t kl, const void *p, size_t pl) {
  return kl >= pl && memcmp(k, p, pl) == 0;
}

typedef struct {
  const view *v;
  ce_pcur *c;
  int db, reverse, step;
  uint16_t *scratch;
  ce_pdamage *d;
  const void *from;
  size_t fl;
  buf *kb, *vb;
  size_t kl, vl;
} read_args;

/* 1 positioned, 0 no key there, -2 damaged */
static int seek(void *arg) {
  read_args *a = arg;
  ce_pdb pdb;
  if (view_db(a->v, a->db, &pdb, a->scratch, a->d) < 0) return -2;
  ce_pcur_init(a->c, &a->v->f, &pdb, CE_PK_USER, a->scratch, a->d);
  int r = a->reverse ? ce_pcur_seek_lt(a->c, a->from, a->fl) : ce_pcur_seek_ge(a->c, a->from, a->fl);
  return r < 0 ? -2 : r;
}

/* 0 with the key and value copied, -2 damaged */
static int take(void *arg) {
  read_args *a = arg;
  return take_value(a->c, a->db, a->kb, a->vb, &a->kl, &a->vl) == 0 ? 0 : -2;
}

static int step(void *arg) {
  read_args *a = arg;
  int r = a->reverse ? ce_pcur_prev(a->c) : ce_pcur_next(a->c);
  return r < 0 ? -2 : r;
}

/* fn under a guard: a fault (the file cut while it is read) is damage too */
static int guarded(read_args *a, int (*fn)(void *)) {
  ce_guard g;
  int r = ce_guard_run(&g, fn, a);
  if (r == CE_GUARD_FAULT) {
    ce_guard_describe(&g, a->d->what, sizeof a->d->what);
    r = -2;
  }
  return r;
}

/* Positions a cursor on database db for a read: forward at the first key
 * >= from, or backward at the last key < from (NULL: the end). 1, 0 (none),
 * -1 + err. The view stays open when it returns >= 0. */
static int position(ce_store *s, read_args *a, view *v, ce_err *err) {
  for (int attempt = 0;; attempt++) {
    memset(a->d, 0, sizeof *a->d);
    int rc = view_begin(s, v, a->d, err);
    if (rc == -1) return -1;
    if (rc == 0) {
      a->v = v;
      rc = guarded(a, seek);
      if (rc >= 0) return rc;
    }
    int again = attempt < 3 && view_changed(v);
    view_end(v);
    if (!again) return damaged(s, err, a->db, a->d);
  }
}

int ce_store_get(ce_store *s, int db, const void *k, size_t kl, char **v, size_t *vl, ce_err *err) {
  return ce_store_get_at(s, CE_STORE_PRIMARY, db, k, kl, v, vl, err);
}

int ce_store_get_at(ce_store *s, int where, int db, const void *k, size_t kl, char **v, size_t *vl, ce_err *err) {
  if (s->pg) return ce_pg_get(s->pg, where == CE_STORE_REPLICA ? CE_PG_REPLICA : CE_PG_PRIMARY, db, k, kl, v, vl, err);
  *v = NULL;
  uint16_t *scratch = new_scratch(s, err);
  if (!scratch) return -1;
  view vw = {0};
  ce_pcur c;
  ce_pdamage d;
  buf kb = {0}, vb = {0};
  read_args a = {&vw, &c, db, 0, 0, scratch, &d, k, kl, &kb, &vb, 0, 0};
  int r = position(s, &a, &vw, err);
  if (r == 1) {
    if (guarded(&a, take) != 0) r = damaged(s, err, db, &d);
    else if (a.kl != kl || memcmp(kb.p, k, kl) != 0) r = 0;
    else {
      *v = vb.p;
      *vl = a.vl;
      vb.p = NULL;
    }
  }
  view_end(&vw);
  free(kb.p);
  free(vb.p);
  free(scratch);
  return r;
}

long ce_store_scan(ce_store *s, int db, const void *prefix, size_t pl, int reverse, ce_store_visit fn, void *ud,
                   ce_err *err) {
  return ce_store_scan_at(s, CE_STORE_PRIMARY, db, prefix, pl, reverse, fn, ud, err);
}

long ce_store_scan_at(ce_store *s, int where, int db, const void *prefix, size_t pl, int reverse, ce_store_visit fn,
                      void *ud, ce_err *err) {
  if (s->pg)
    return ce_pg_scan(s->pg, where == CE_STORE_REPLICA ? CE_PG_REPLICA : CE_PG_PRIMARY, db, prefix, pl, reverse, fn, ud,
                      err);
  uint16_t *scratch = new_scratch(s, err);
  if (!scratch) return -1;
  view vw = {0};
  ce_pcur c;
  ce_pdamage d;
  buf kb = {0}, vb = {0};
  read_args a = {&vw, &c, db, reverse, 0, scratch, &d, pl ? prefix : NULL, pl, &kb, &vb, 0, 0};
  /* backward: start below the first key after the prefix's range, which is
   * the prefix with its last byte (not 0xff) bumped */
  char *after = NULL;
  if (reverse && pl) {
    after = malloc(pl);
    if (!after) {
      free(scratch);
      ce_err_setf(err, 1, s->path, 0, 0, "out of memory");
      return -1;
    }
    memcpy(after, prefix, pl);
    size_t al = pl;
    while (al > 0 && (unsigned char)after[al - 1] == 0xff) al--;
    if (al > 0) after[al - 1]++;
    a.from = al ? after : NULL;
    a.fl = al;
  }
  int r = position(s, &a, &vw, err);
  long n = 0;
  int complete = 0;
  while (r == 1) {
    if (guarded(&a, take) != 0) {
      r = damaged(s, err, db, &d);
      break;
    }
    if (!has_prefix(kb.p, a.kl, prefix, pl)) {
      r = 0;
      break;
    }
    n++;
    if (fn(kb.p, a.kl, vb.p, a.vl, ud)) break;
    r = guarded(&a, step);
    if (r == -2) r = damaged(s, err, db, &d);
    complete = r == 0;
  }
  /* a whole database read: as many records as LMDB counted in it, or some
   * went missing without breaking a page */
  if (r == 0 && complete && !pl && !reverse && (uint64_t)n != c.db.entries) {
    memset(&d, 0, sizeof d);
    snprintf(d.what, sizeof d.what, "it holds %ld records where its count says %" PRIu64, n, c.db.entries);
    r = damaged(s, err, db, &d);
  }
  view_end(&vw);
  free(after);
  free(kb.p);
  free(vb.p);
  free(scratch);
  return r < 0 ? -1 : n;
}
