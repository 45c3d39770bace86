/* SPDX-License-Identifier: MIT */
/* The store on a PostgreSQL server: opening it, its journal's replay, and
 * the writer's commits, retried while the server cannot be reached. The
 * queue, the journal and the tallies are the store's own (writer.c), so a
 * run counts, resumes and survives a kill -9 the same on either backend. */
#include "core/store/pg.h"
#include "core/store/record.h"
#include "core/store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/util/clock.h"

const char *ce_store_backend(const ce_store *s) { return s->pg ? "postgresql" : "lmdb"; }

struct ce_pg *ce_store_pg(ce_store *s) { return s->pg; }

int ce_store_trouble(ce_store *s, char *msg, size_t n) {
  pthread_mutex_lock(&s->lock);
  int state = s->failed ? 2 : s->retrying ? 1 : 0;
  snprintf(msg, n, "%s", s->failed ? s->fail_msg : s->retrying ? s->trouble : "");
  pthread_mutex_unlock(&s->lock);
  return state;
}

/* ---- the journals of killed processes, into the server ---- */

typedef struct {
  ce_store *s;
  ce_pg_item *items;
  char **copies;
  int n, cap;
  int oom;
  ce_err err;
} replay_ctx;

static int replay_frame(void *ud, const ce_jitem *it, int n) {
  replay_ctx *c = ud;
  for (int i = 0; i < n && !c->oom; i++) {
    const void *v;
    size_t vl;
    uint64_t stamp;
    const char *why;
    if (it[i].db < 0 || it[i].db >= CE_STORE_NDB ||
        ce_rec_open(it[i].db, it[i].k, it[i].kl, it[i].v, it[i].vl, &v, &vl, &stamp, &why) != CE_REC_OK)
      continue;
    if (c->n == c->cap) {
      int cap = c->cap ? c->cap * 2 : 256;
      ce_pg_item *ni = realloc(c->items, (size_t)cap * sizeof *ni);
      if (ni) c->items = ni;
      char **nc = realloc(c->copies, (size_t)cap * sizeof *nc);
      if (nc) c->copies = nc;
      if (!ni || !nc) {
        c->oom = 1;
        break;
      }
      c->cap = cap;
    }
    /* the frame's bytes go when the file does: keep a copy */
    char *copy = malloc(it[i].kl + vl + 1);
    if (!copy) {
      c->oom = 1;
      break;
    }
    memcpy(copy, it[i].k, it[i].kl);
    memcpy(copy + it[i].kl, v, vl);
    c->copies[c->n] = copy;
    c->items[c->n] = (ce_pg_item){it[i].db, copy, copy + it[i].kl, it[i].kl, vl, stamp};
    c->n++;
  }
  return c->oom;
}

static void replay_reset(replay_ctx *c) {
  for (int i = 0; i < c->n; i++) free(c->copies[i]);
  c->n = 0;
}

/* A file's records in one transaction; the stamps keep a copy already
 * written, or older than what the server holds, from changing anything. */
static int replay_finish(void *ud, int ok) {
  replay_ctx *c = ud;
  int rc = ok && !c->oom ? 0 : -1;
  for (int i = 0; rc == 0 && i < c->n; i++)
    if (ce_pg_check_item(c->items[i].db, c->items[i].k, c->items[i].kl, c->items[i].v, c->items[i].vl, &c->err) != 0)
      c->items[i].db = -1; /* could never be written: left out */
  int kept = 0;
  for (int i = 0; rc == 0 && i < c->n; i++)
    if (c->items[i].db >= 0) c->items[kept++] = c->items[i];
  if (rc == 0 && kept && ce_pg_commit(c->s->pg, c->items, kept, &c->err) != 0) rc = -1;
  replay_reset(c);
  return rc;
}

static void replay(ce_store *s) {
  struct stat st;
  if (stat(s->jdir, &st) != 0) return;
  replay_ctx c;
  memset(&c, 0, sizeof c);
  c.s = s;
  ce_err e;
  long n = ce_journal_replay(s->jdir, replay_frame, replay_finish, &c, &e);
  replay_reset(&c);
  free(c.items);
  free(c.copies);
  if (n < 0) {
    /* the server's reason is the better news */
    snprintf(s->replay_msg, sizeof s->replay_msg, "%s", c.err.msg[0] ? c.err.msg : e.msg);
    return;
  }
  s->replayed = n;
}

ce_store *ce_store_open_pg(const char *dir, const ce_store_pg_cfg *cfg, ce_err *err) {
  ce_err_clear(err);
  /* a writer's run locks and journal live there; a reader needs none */
  if (cfg->writes && mkdir(dir, 0755) != 0 && errno != EEXIST) {
    ce_err_setf(err, 1, dir, 0, 0, "cannot create the store folder: %s", strerror(errno));
    return NULL;
  }
  ce_store *s = calloc(1, sizeof *s);
  if (!s) {
    ce_err_setf(err, 1, dir, 0, 0, "out of memory");
    return NULL;
  }
  s->fd = -1;
  snprintf(s->path, sizeof s->path, "%s", dir);
  /* a journal per server: what a killed run queued for one goes to that one
   * (named without the password, which may change between runs) */
  char shown[1024];
  ce_pg_redact(cfg->url, shown, sizeof shown);
  uint32_t h = ce_crc32c(0, shown, strlen(shown));
  snprintf(s->jdir, sizeof s->jdir, "%s/pg-%08x", dir, (unsigned)h);
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->map_lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->idle, NULL);
  s->retry_for = cfg->retry_for > 0 ? cfg->retry_for : 0;
  s->writers = cfg->writers;
  /* the journal holds what the queue does, and no more than 64 MB of it (journal.c) */
  s->max_queued_bytes = cfg->buffer_bytes ? cfg->buffer_bytes : CE_STORE_MAX_QUEUED_BYTES;
  if (s->max_queued_bytes > (64u << 20)) s->max_queued_bytes = 64u << 20;
  ce_pg_cfg pc = {
    cfg->url, cfg->read_url,
    {cfg->pool_size, cfg->max_overflow, cfg->pool_timeout, cfg->pool_recycle, cfg->statement_timeout,
     cfg->connect_timeout},
    cfg->writes, "causal-eval"};
  if (!(s->pg = ce_pg_open(&pc, err))) {
    ce_store_free(s);
    return NULL;
  }
  replay(s);
  return s;
}

int ce_store_pg_put(ce_store *s, int db, const void *k, size_t kl, const void *v, size_t vl, ce_err *err) {
  if (ce_pg_check_item(db, k, kl, v, vl, err) != 0) return -1;
  ce_pg_item it = {db, k, v, kl, vl, ce_rec_stamp()};
  return ce_pg_commit(s->pg, &it, 1, err) == 0 ? 0 : -1;
}

/* ---- the writer's commits ---- */

static void pause_s(double sec) {
  struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int ce_store_pg_commit(ce_store *s, item *batch, int n, ce_err *err) {
  ce_pg_item stack[64], *items = n <= 64 ? stack : malloc((size_t)n * sizeof *items);
  if (!items) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory writing a batch");
    return -1;
  }
  int k = 0;
  for (item *it = batch; it; it = it->next) {
    const unsigned char *hdr = (const unsigned char *)it->data + it->kl;
    uint64_t stamp = 0;
    for (int b = 7; b >= 0; b--) stamp = stamp << 8 | hdr[8 + b]; /* record.h: stamp(8, LE) at 8 */
    items[k++] = (ce_pg_item){it->db, it->data, it->data + it->kl + CE_REC_HDR, it->kl, it->vl - CE_REC_HDR, stamp};
  }
  double start = ce_clock_mono(), pause = 0.05;
  int rc;
  for (;;) {
    rc = ce_pg_commit(s->pg, items, k, err);
    if (rc != CE_PG_RETRY) break;
    double waited = ce_clock_mono() - start;
    if (waited >= s->retry_for) {
      char m[sizeof err->msg];
      snprintf(m, sizeof m, "%s", err->msg);
      ce_err_setf(err, 1, NULL, 0, 0,
                  "%s; retried for %.0f s (database.retry_for): the answers not written are kept in the journal "
                  "in %s, and a resume (causal-eval run --resume RUN_ID) writes them once the server is back",
                  m, waited, s->jdir);
      break;
    }
    pthread_mutex_lock(&s->lock);
    s->retrying = 1;
    snprintf(s->trouble, sizeof s->trouble, "%s; retrying for up to %.0f s", err->msg, s->retry_for);
    pthread_mutex_unlock(&s->lock);
    pause_s(pause < s->retry_for - waited ? pause : s->retry_for - waited);
    pause = pause * 2 < 2 ? pause * 2 : 2;
  }
  pthread_mutex_lock(&s->lock);
  s->retrying = 0;
  pthread_mutex_unlock(&s->lock);
  if (items != stack) free(items);
  return rc == 0 ? 0 : -1;
}
