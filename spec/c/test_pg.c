/* SPDX-License-Identifier: MIT */
/* host/core/store/pg*: the COPY stream of a batch, dates, key ranges, URLs
 * and messages without a server; then against a real PostgreSQL 15 started
 * here (initdb in a temporary folder, run as the unprivileged user
 * `postgres` when this runs as root, a free port on 127.0.0.1, stopped by
 * a watchdog if this process dies first): the pool's bounds, waits,
 * recycling, statement timeout and broken connections under many threads,
 * and batches written twice, stale or with a key twice. */
#include "check.h"
#include "core/store/pg.h"
#include "core/store/pg_schema.h"
#include "core/store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/util/clock.h"

#define PGBIN "/usr/lib/postgresql/15/bin"

/* ---- without a server ---- */

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks a binary COPY stream: rows and fields per row, -1 when malformed;
 * *fields the count of the last row; field i of row r into out (NULL: -1 length). */
static int copy_rows(const ce_buf *b, int *fields, int want_row, int want_field, const char **out, int *outl) {
  const unsigned char *p = (const unsigned char *)b->data, *end = p + b->len;
  if (b->len < 19 || memcmp(p, "PGCOPY\n\377\r\n\0", 11) != 0) return -1;
  p += 19;
  int rows = 0;
  for (;;) {
    if (end - p < 2) return -1;
    int n = (int16_t)(p[0] << 8 | p[1]);
    p += 2;
    if (n == -1) return p == end ? rows : -1;
    *fields = n;
    for (int f = 0; f < n; f++) {
      if (end - p < 4) return -1;
      int32_t len = (int32_t)rd32(p);
      p += 4;
      if (len > end - p) return -1;
      if (rows == want_row && f == want_field) {
        *out = len < 0 ? NULL : (const char *)p;
        *outl = len;
      }
      if (len > 0) p += len;
    }
    rows++;
  }
}

static void test_copy_stream(void) {
  const char k[] = "run\0model\0q1", k2[] = "run\0model\0q2", k0[] = "run\0a\0q9";
  const char *line = "{\"c\":1,\"f\":\"ladder\",\"d\":\"easy\",\"r\":2,\"e\":\"server\",\"l\":12.5,\"ti\":7,\"to\":3,"
                     "\"cached\":1,\"day\":\"2026-03-01\",\"x\":{\"c\":0}}";
  ce_pg_item items[] = {
    {CE_STORE_RECORDS, k2, "{}", sizeof k2 - 1, 2, 101},
    {CE_STORE_SCORES, k, line, sizeof k - 1, strlen(line), 100},
    {CE_STORE_RECORDS, k, "{\"rec\":1}", sizeof k - 1, 9, 100},
    {CE_STORE_SCORES, k2, "not json", sizeof k2 - 1, 8, 102},
    {CE_STORE_SCORES, k, "{\"c\":0}", sizeof k - 1, 7, 50},   /* an older copy of a key: left out */
    {CE_STORE_RUNS, "r1", "{\"created\":1700000000,\"status\":\"running\"}", 2, 41, 103},
    {CE_STORE_META, "m\0\377", "\0v", 3, 2, 104},
    {CE_STORE_RECORDS, k0, "{}", sizeof k0 - 1, 2, 7},           /* sorts first */
  };
  ce_pg_copy cp;
  CHECK(ce_pg_copy_build(items, 8, &cp) == 0);
  CHECK(cp.n[CE_STORE_RECORDS] == 3 && cp.n[CE_STORE_SCORES] == 2 && cp.n[CE_STORE_RUNS] == 1 &&
        cp.n[CE_STORE_META] == 1);
  const char *v = NULL;
  int vl = 0, fields = 0;
  const ce_buf *rec = &cp.rows[CE_STORE_RECORDS], *sco = &cp.rows[CE_STORE_SCORES];
  /* records in key order: q9 of model a, then q1 and q2 of model */
  CHECK(copy_rows(rec, &fields, 0, 1, &v, &vl) == 3 && fields == 6 && vl == 1 && v[0] == 'a');
  CHECK(copy_rows(rec, &fields, 1, 5, &v, &vl) == 3 && vl == 9 && memcmp(v, "{\"rec\":1}", 9) == 0);
  CHECK(copy_rows(rec, &fields, 2, 2, &v, &vl) == 3 && vl == 2 && memcmp(v, "q2", 2) == 0);
  /* the line of q1: the later of its two copies, read for its columns */
  CHECK(copy_rows(sco, &fields, 0, 16, &v, &vl) == 2 && fields == 17 && vl == (int)strlen(line));
  CHECK(copy_rows(sco, &fields, 0, 5, &v, &vl) == 2 && vl == 6 && memcmp(v, "ladder", 6) == 0);
  CHECK(copy_rows(sco, &fields, 0, 7, &v, &vl) == 2 && vl == 1 && v[0] == '2'); /* rung: a number, as text */
  CHECK(copy_rows(sco, &fields, 0, 10, &v, &vl) == 2 && vl == 6 && memcmp(v, "server", 6) == 0);
  CHECK(copy_rows(sco, &fields, 0, 8, &v, &vl) == 2 && vl == 1 && v[0] == 1); /* not the nested "c" */
  CHECK(copy_rows(sco, &fields, 0, 4, &v, &vl) == 2 && vl == 4 && rd32((const unsigned char *)v) == 9556);
  CHECK(copy_rows(sco, &fields, 0, 14, &v, &vl) == 2 && vl == 1 && v[0] == 1); /* cached */
  /* a line that is not JSON: kept, its columns empty */
  CHECK(copy_rows(sco, &fields, 1, 16, &v, &vl) == 2 && vl == 8);
  CHECK(copy_rows(sco, &fields, 1, 5, &v, &vl) == 2 && vl == -1);
  CHECK(copy_rows(sco, &fields, 1, 9, &v, &vl) == 2 && vl == 1 && v[0] == 0); /* unparseable: false */
  CHECK(copy_rows(&cp.rows[CE_STORE_RUNS], &fields, 0, 2, &v, &vl) == 1 && fields == 5 && vl == 7 &&
        memcmp(v, "running", 7) == 0);
  CHECK(copy_rows(&cp.rows[CE_STORE_META], &fields, 0, 0, &v, &vl) == 1 && fields == 3 && vl == 3 &&
        memcmp(v, "m\0\377", 3) == 0);
  ce_pg_copy_free(&cp);
}

static void test_days_and_ranges(void) {
  int ok;
  CHECK(ce_pg_parse_day("1970-01-01", 10, &ok) == 0 && ok);
  CHECK(ce_pg_parse_day("2000-01-01", 10, &ok) == 10957 && ok);
  CHECK(ce_pg_parse_day("2024-02-29", 10, &ok) == 19782 && ok);
  ce_pg_parse_day("2023-02-29", 10, &ok);
  CHECK(!ok);
  ce_pg_parse_day("2023-13-01", 10, &ok);
  CHECK(!ok);
  ce_pg_parse_day("2023-1-01", 9, &ok);
  CHECK(!ok);
  char out[16];
  CHECK(ce_pg_prefix_end("ab", 2, 1, out) == 2 && memcmp(out, "ac", 2) == 0);
  CHECK(ce_pg_prefix_end("a\xc3\xa9", 3, 1, out) == 3 && memcmp(out, "a\xc3\xaa", 3) == 0);         /* é -> ê */
  CHECK(ce_pg_prefix_end("a\x7f", 2, 1, out) == 3 && memcmp(out, "a\xc2\x80", 3) == 0);             /* DEL -> U+0080 */
  CHECK(ce_pg_prefix_end("a\xf4\x8f\xbf\xbf", 5, 1, out) == 1 && out[0] == 'b');                 /* U+10FFFF: carry */
  CHECK(ce_pg_prefix_end("\xed\x9f\xbf", 3, 1, out) == 3 && memcmp(out, "\xee\x80\x80", 3) == 0); /* over the surrogates */
  CHECK(ce_pg_prefix_end("", 0, 1, out) == -1);
  CHECK(ce_pg_prefix_end("a\xff\xff", 3, 0, out) == 1 && out[0] == 'b');
  CHECK(ce_pg_prefix_end("\xff", 1, 0, out) == -1);
}

static void test_urls_and_items(void) {
  char m[200];
  ce_pg_redact("postgresql://u:s3cret@db:5432/x?sslmode=require&password=p2", m, sizeof m);
  CHECK_STR(m, "postgresql://u:***@db:5432/x?sslmode=require&password=***");
  ce_pg_redact("postgresql://u@db/x", m, sizeof m);
  CHECK_STR(m, "postgresql://u@db/x");
  ce_pg_redact("postgresql://u:p@ss@db/x", m, sizeof m); /* the authority ends at its last '@' */
  CHECK_STR(m, "postgresql://u:***@db/x");
  ce_pg_redact("postgresql://u:secret@db/x", m, 20);
  CHECK(strlen(m) == 19 && !strstr(m, "sec"));
  snprintf(m, sizeof m, "a\n\tb  c\n");
  ce_pg_one_line(m);
  CHECK_STR(m, "a b c");
  ce_err e;
  CHECK(ce_pg_check_url("postgresql://u@127.0.0.1:5/db", &e) == 0);
  CHECK(ce_pg_check_url("postgres://h/db", &e) == 0);
  CHECK(ce_pg_check_url("redis://h/0", &e) == -1);
  CHECK_CONTAINS(e.msg, "'redis://h/0' is not a PostgreSQL URL");
  CHECK(ce_pg_check_url("postgresql://u:pw@h/db?bogus=1", &e) == -1);
  CHECK_CONTAINS(e.msg, "PostgreSQL URL 'postgresql://u:***@h/db?bogus=1': invalid URI query parameter");
  CHECK(ce_pg_check_item(CE_STORE_SCORES, "r\0m\0q", 5, "{}", 2, &e) == 0);
  CHECK(ce_pg_check_item(CE_STORE_SCORES, "r\0m", 3, "{}", 2, &e) == -1);
  CHECK_CONTAINS(e.msg, "its key is not run \\0 model \\0 question (key \"r\\0m\")");
  CHECK(ce_pg_check_item(CE_STORE_RECORDS, "r\0m\0q\0x", 7, "{}", 2, &e) == -1);
  CHECK(ce_pg_check_item(CE_STORE_RUNS, "r\xc0\xaf", 3, "{}", 2, &e) == -1); /* an overlong '/' */
  CHECK_CONTAINS(e.msg, "its key is not UTF-8 text");
  CHECK(ce_pg_check_item(CE_STORE_RUNS, "r", 1, "\xed\xa0\x80", 3, &e) == -1); /* a surrogate */
  CHECK(ce_pg_check_item(CE_STORE_META, "\0\377", 2, "\0", 1, &e) == 0);  /* bytea: anything */
}

/* ---- a real server ---- */

static char root[128], url[200];

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* cmd as the server's user: postgres refuses to run as root */
static int as_server_user(const char *cmd) {
  char full[1200];
  if (geteuid() == 0) snprintf(full, sizeof full, "runuser -u postgres -- sh -c '%s' >>%s/setup.log 2>&1", cmd, root);
  else snprintf(full, sizeof full, "sh -c '%s' >>%s/setup.log 2>&1", cmd, root);
  return system(full);
}

static int start_server(void) {
  snprintf(root, sizeof root, "/tmp/ce-test-pg.XXXXXX");
  if (!mkdtemp(root)) return -1;
  char cmd[1000];
  if (geteuid() == 0) {
    snprintf(cmd, sizeof cmd, "chown postgres %s", root);
    if (system(cmd) != 0) return -1;
  }
  /* stops the server and removes the folder once this process is gone */
  snprintf(cmd, sizeof cmd,
           "setsid sh -c 'while kill -0 %d 2>/dev/null && [ -d %s ]; do sleep 0.5; done; "
           "%s %s/pg_ctl -D %s/data -m immediate stop >/dev/null 2>&1; rm -rf %s' >/dev/null 2>&1 </dev/null &",
           (int)getpid(), root, geteuid() == 0 ? "runuser -u postgres --" : "", PGBIN, root, root);
  if (system(cmd) != 0) return -1;
  snprintf(cmd, sizeof cmd, "%s/initdb -D %s/data -A trust -U causal -E UTF8 --locale=C --no-sync --no-instructions", PGBIN,
           root);
  if (as_server_user(cmd) != 0) return -1;
  int port = free_port();
  snprintf(cmd, sizeof cmd,
           "%s/pg_ctl -D %s/data -l %s/server.log -w -t 60 -o \"-p %d -c listen_addresses=127.0.0.1 -k %s "
           "-c fsync=off -c max_connections=40\" start",
           PGBIN, root, root, port, root);
  if (as_server_user(cmd) != 0) return -1;
  snprintf(url, sizeof url, "postgresql://causal@127.0.0.1:%d/postgres", port);
  return 0;
}

static void stop_server(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "%s/pg_ctl -D %s/data -m immediate stop", PGBIN, root);
  as_server_user(cmd);
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
}

static long query_long(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  long v = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
  PQclear(r);
  return v;
}

typedef struct {
  ce_pg_pool *p;
  double hold;
  int ok;
} worker_arg;

static void nap(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

static void *hold_one(void *arg) {
  worker_arg *a = arg;
  for (int i = 0; i < 4; i++) {
    ce_err e;
    ce_pg_conn *c = ce_pg_pool_get(a->p, &e);
    if (!c) continue;
    a->ok += query_long(c->pg, "SELECT 1") == 1;
    nap(a->hold);
    ce_pg_pool_put(a->p, c);
  }
  return NULL;
}

static void test_pool(void) {
  ce_pg_pool_cfg cfg = {2, 1, 5, -1, 0, 5};
  ce_err e;
  ce_pg_pool *p = ce_pg_pool_new(url, "test_pg", &cfg, &e);
  CHECK(p != NULL);
  if (!p) return;
  /* eight threads, three connections at most: the others wait their turn */
  pthread_t t[8];
  worker_arg a[8];
  for (int i = 0; i < 8; i++) {
    a[i] = (worker_arg){p, 0.02, 0};
    pthread_create(&t[i], NULL, hold_one, &a[i]);
  }
  int ok = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    ok += a[i].ok;
  }
  ce_pg_pool_stats st;
  ce_pg_pool_get_stats(p, &st);
  CHECK(ok == 32);
  CHECK(st.peak_open == 3);
  CHECK(st.waits > 0);
  CHECK(st.open == 2 && st.idle == 2); /* the overflow one closed when given back */
  /* all three out: a fourth waits pool_timeout, then fails naming the bound */
  ce_pg_pool_free(p);
  cfg.pool_timeout = 0.3;
  p = ce_pg_pool_new(url, "test_pg", &cfg, &e);
  ce_pg_conn *c[3];
  for (int i = 0; i < 3; i++) c[i] = ce_pg_pool_get(p, &e);
  CHECK(c[0] && c[1] && c[2]);
  double t0 = ce_clock_mono();
  ce_pg_conn *more = ce_pg_pool_get(p, &e);
  double waited = ce_clock_mono() - t0;
  CHECK(!more && e.code == CE_PG_EBUSY);
  CHECK(waited >= 0.29 && waited < 2);
  CHECK_CONTAINS(e.msg, "all 3 connections to PostgreSQL at postgresql://causal@127.0.0.1:");
  for (int i = 0; i < 3; i++) ce_pg_pool_put(p, c[i]);
  /* a connection the server dropped is closed when given back, not reused */
  ce_pg_conn *a1 = ce_pg_pool_get(p, &e), *a2 = ce_pg_pool_get(p, &e);
  char kill[100];
  snprintf(kill, sizeof kill, "SELECT pg_terminate_backend(%ld)", query_long(a1->pg, "SELECT pg_backend_pid()"));
  CHECK(query_long(a2->pg, kill) != -1);
  CHECK(query_long(a1->pg, "SELECT 1") == -1);
  ce_pg_pool_put(p, a1);
  ce_pg_pool_get_stats(p, &st);
  CHECK(st.open == 1);
  ce_pg_pool_put(p, a2);
  ce_pg_pool_free(p);
  /* recycled after pool_recycle seconds: another backend */
  cfg = (ce_pg_pool_cfg){1, 0, 5, 0.2, 0.3, 5};
  p = ce_pg_pool_new(url, "test_pg", &cfg, &e);
  ce_pg_conn *r1 = ce_pg_pool_get(p, &e);
  long pid1 = query_long(r1->pg, "SELECT pg_backend_pid()");
  ce_pg_pool_put(p, r1);
  r1 = ce_pg_pool_get(p, &e);
  CHECK(query_long(r1->pg, "SELECT pg_backend_pid()") == pid1);
  ce_pg_pool_put(p, r1);
  nap(0.3);
  r1 = ce_pg_pool_get(p, &e);
  CHECK(query_long(r1->pg, "SELECT pg_backend_pid()") != pid1);
  /* statement_timeout (0.3 s) cancels a longer statement */
  PGresult *res = PQexec(r1->pg, "SELECT pg_sleep(2)");
  CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
  int rc = ce_pg_fail(r1->pg, res, "here", "sleeping", &e);
  PQclear(res);
  CHECK(rc == CE_PG_RETRY);
  CHECK_CONTAINS(e.msg, "canceling statement due to statement timeout (SQLSTATE 57014)");
  CHECK(query_long(r1->pg, "SHOW statement_timeout") == 300);
  ce_pg_pool_put(p, r1);
  ce_pg_pool_get_stats(p, &st);
  CHECK(st.connects == 2);
  ce_pg_pool_free(p);
}

static long count(ce_pg *pg, const char *sql) {
  ce_err e;
  ce_pg_pool_cfg cfg = {1, 0, 5, -1, 0, 5};
  ce_pg_pool *p = ce_pg_pool_new(url, "count", &cfg, &e);
  ce_pg_conn *c = ce_pg_pool_get(p, &e);
  long v = c ? query_long(c->pg, sql) : -1;
  ce_pg_pool_put(p, c);
  ce_pg_pool_free(p);
  (void)pg;
  return v;
}

static void test_batches(void) {
  ce_pg_cfg cfg = {url, NULL, {2, 2, 5, -1, 10, 5}, 1, "test_pg"};
  ce_err e;
  ce_pg *pg = ce_pg_open(&cfg, &e);
  CHECK(pg != NULL);
  if (!pg) {
    fprintf(stderr, "%s\n", e.msg);
    return;
  }
  enum { N = 300 };
  static char keys[N][32];
  ce_pg_item items[2 * N];
  for (int i = 0; i < N; i++) {
    int kl = snprintf(keys[i], sizeof keys[i], "run%c%s%cq%03d", 0, i % 2 ? "a" : "b", 0, i);
    items[2 * i] = (ce_pg_item){CE_STORE_RECORDS, keys[i], "{\"v\":1}", (size_t)kl, 7, 1000 + (uint64_t)i};
    items[2 * i + 1] = (ce_pg_item){CE_STORE_SCORES, keys[i], i % 3 ? "{\"c\":1,\"day\":\"2026-01-02\"}" : "{\"c\":0}",
                                    (size_t)kl, i % 3 ? 26 : 7, 1000 + (uint64_t)i};
  }
  CHECK(ce_pg_commit(pg, items, 2 * N, &e) == 0);
  /* the same batch again: nothing changes, nothing is counted twice */
  CHECK(ce_pg_commit(pg, items, 2 * N, &e) == 0);
  CHECK(count(pg, "SELECT count(*) FROM causal_eval.scores") == N);
  CHECK(count(pg, "SELECT count(*) FROM causal_eval.records") == N);
  CHECK(count(pg, "SELECT sum(answers) FROM causal_eval.model_days") == N);
  CHECK(count(pg, "SELECT sum(correct) FROM causal_eval.model_days") == 200);
  /* a stale copy (an older stamp) changes nothing; a newer one wins, in the totals too */
  ce_pg_item stale[2] = {{CE_STORE_RECORDS, keys[1], "{\"v\":0}", items[2].kl, 7, 5},
                         {CE_STORE_SCORES, keys[1], "{\"c\":0}", items[2].kl, 7, 5}};
  CHECK(ce_pg_commit(pg, stale, 2, &e) == 0);
  CHECK(count(pg, "SELECT sum(correct) FROM causal_eval.model_days") == 200);
  char *v = NULL;
  size_t vl;
  CHECK(ce_pg_get(pg, CE_PG_PRIMARY, CE_STORE_RECORDS, keys[1], items[2].kl, &v, &vl, &e) == 1 && strcmp(v, "{\"v\":1}") == 0);
  free(v);
  /* a key twice in one batch: the later stamp, whatever the order */
  ce_pg_item twice[3] = {{CE_STORE_SCORES, keys[1], "{\"c\":0,\"e\":\"server\"}", items[2].kl, 20, 3000},
                         {CE_STORE_SCORES, keys[1], "{\"c\":0,\"e\":\"timeout\"}", items[2].kl, 21, 2000},
                         {CE_STORE_META, "last", "run", 4, 3, 2000}};
  CHECK(ce_pg_commit(pg, twice, 3, &e) == 0);
  CHECK(ce_pg_get(pg, CE_PG_PRIMARY, CE_STORE_SCORES, keys[1], items[2].kl, &v, &vl, &e) == 1 &&
        strstr(v, "server") != NULL);
  free(v);
  CHECK(count(pg, "SELECT sum(correct) FROM causal_eval.model_days") == 199);
  CHECK(count(pg, "SELECT sum(errors) FROM causal_eval.model_days") == 1);
  CHECK(count(pg, "SELECT sum(answers) FROM causal_eval.model_days") == N);
  /* the schema is made once: a second open finds it */
  ce_pg *again = ce_pg_open(&cfg, &e);
  CHECK(again != NULL && ce_pg_schema_version(again, CE_PG_PRIMARY, &e) == CE_PG_SCHEMA_VERSION);
  ce_pg_free(again);
  ce_pg_free(pg);
}

/* ---- sync with several writers ---- */

typedef struct {
  ce_store *s;
  volatile int done, rc;
} sync_arg;

static void *run_sync(void *arg) {
  sync_arg *a = arg;
  ce_err e;
  a->rc = ce_store_sync(a->s, &e);
  __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* A sync waits for everything queued before it, whatever order the
 * writers' batches commit in: batch A is held up by another transaction's
 * row of the same key while later ones commit. Counting committed items, a sync ended once as
 * many had committed as were queued at its start, A among them or not. */
static void test_sync_with_writers(void) {
  char dir[200];
  snprintf(dir, sizeof dir, "%s/store", root);
  ce_store_pg_cfg cfg = {.url = url, .pool_size = 4, .pool_timeout = 10, .pool_recycle = -1, .connect_timeout = 5,
                         .retry_for = 10, .buffer_bytes = 1u << 20, .writes = 1, .writers = 2};
  ce_err e;
  ce_store *s = ce_store_open_pg(dir, &cfg, &e);
  CHECK(s != NULL);
  if (!s) {
    fprintf(stderr, "%s\n", e.msg);
    return;
  }
  CHECK(ce_store_writer_start(s, 1, 0, &e) == 0);
  ce_pg_pool_cfg pcfg = {1, 0, 5, -1, 0, 5};
  ce_pg_pool *pool = ce_pg_pool_new(url, "blocker", &pcfg, &e);
  ce_pg_conn *bc = pool ? ce_pg_pool_get(pool, &e) : NULL;
  CHECK(bc != NULL);
  if (!bc) return;
  PGconn *blocker = bc->pg;
  CHECK(query_long(blocker, "SELECT 1") == 1);
  /* an uncommitted row of the same key: A's upsert waits for this transaction, nothing else does */
  PQclear(PQexec(blocker, "BEGIN; INSERT INTO causal_eval.meta (key, stamp, value) "
                          "VALUES ('\\x68656c64'::bytea, 1, '\\x30'::bytea)"));
  CHECK(ce_store_enqueue(s, CE_STORE_META, "held", 4, "1", 1, 0, 0) == 0);     /* A: waits for the lock */
  nap(0.2);
  CHECK(ce_store_enqueue(s, CE_STORE_RUNS, "run-b", 5, "{}", 2, 0, 0) == 0);   /* B: commits */
  sync_arg a = {s, 0, -1};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, run_sync, &a) == 0);
  nap(0.2);
  CHECK(ce_store_enqueue(s, CE_STORE_RUNS, "run-c", 5, "{}", 2, 0, 0) == 0);   /* C: after the sync began */
  nap(1.0); /* B and C commit; A cannot */
  CHECK(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE) == 0);
  PQclear(PQexec(blocker, "ROLLBACK"));
  pthread_join(t, NULL);
  CHECK(a.done == 1 && a.rc == 0);
  char *v = NULL;
  size_t vl = 0;
  CHECK(ce_store_get(s, CE_STORE_META, "held", 4, &v, &vl, &e) == 1);
  free(v);
  ce_pg_pool_put(pool, bc);
  ce_pg_pool_free(pool);
  ce_store_free(s);
}

int main(void) {
  test_copy_stream();
  test_days_and_ranges();
  test_urls_and_items();
  if (start_server() != 0) {
    fprintf(stderr, "could not start PostgreSQL (" PGBIN "; tools/install-deps.sh installs it): see %s/setup.log\n", root);
    return 1;
  }
  test_pool();
  test_batches();
  test_sync_with_writers();
  stop_server();
  return check_report("test_pg");
}
