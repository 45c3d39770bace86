/* SPDX-License-Identifier: MIT */
#include "core/queue/redis_conn.h"
#include "core/cache/cache_redis.h"
#include "core/observe/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

struct ce_rconn {
  redisContext *ctx;
  char host[256], password[256], where[300];
  int port, db;
  double timeout;
  /* after a failed connect: no new try before retry_at, the failure told
   * again meanwhile (a lost server would cost every call a connect, a
   * whole timeout each when its packets are dropped) */
  double retry_at, backoff;
  char last[sizeof(((ce_err *)0)->msg)];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct timeval tv_of(double s) {
  struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
  return tv;
}

/* the password never goes into a message */
static void url_error(ce_err *err, const char *url) {
  const char *at = strrchr(url, '@');
  ce_err_setf(err, CE_RCONN_EURL, NULL, 0, 0,
              "bad redis url '%s%s' (expected redis://[:password@]host[:port][/db])", at ? "redis://***@" : "",
              at ? at + 1 : url);
}

static int parse(const char *url, ce_redis_cfg *rc, char *buf, size_t size, ce_err *err) {
  memset(rc, 0, sizeof *rc);
  if (!url || ce_redis_parse_url(url, rc, buf, size) != 0) {
    url_error(err, url ? url : "");
    return -1;
  }
  return 0;
}

int ce_rconn_check_url(const char *url, ce_err *err) {
  ce_redis_cfg rc;
  char buf[1024];
  return parse(url, &rc, buf, sizeof buf, err);
}

/* hiredis says a timed-out read with EAGAIN's words */
static const char *why_of(redisContext *c, double timeout, char *buf, size_t size) {
  if (c->err == REDIS_ERR_IO && (strcmp(c->errstr, strerror(EAGAIN)) == 0 || strcmp(c->errstr, strerror(ETIMEDOUT)) == 0)) {
    snprintf(buf, size, "no answer within %gs", timeout);
    return buf;
  }
  return c->errstr[0] ? c->errstr : "connection lost";
}

static void drop(ce_rconn *c) {
  if (c->ctx) redisFree(c->ctx);
  c->ctx = NULL;
}

/* A reply to one command on a fresh context, or -1 + err (the context is dropped). */
static int handshake(ce_rconn *c, int argc, const char **argv, ce_err *err) {
  redisReply *rep = redisCommandArgv(c->ctx, argc, argv, NULL);
  char why[200];
  if (!rep) {
    ce_err_setf(err, CE_RCONN_EIO, NULL, 0, 0, "redis %s: %s", c->where, why_of(c->ctx, c->timeout, why, sizeof why));
    drop(c);
    return -1;
  }
  int bad = rep->type == REDIS_REPLY_ERROR;
  if (bad) ce_err_setf(err, CE_RCONN_EAUTH, NULL, 0, 0, "redis %s: %s refused: %s", c->where, argv[0], rep->str);
  freeReplyObject(rep);
  if (bad) drop(c);
  return bad ? -1 : 0;
}

static int connect_once(ce_rconn *c, ce_err *err) {
  c->ctx = redisConnectWithTimeout(c->host, c->port, tv_of(c->timeout));
  if (!c->ctx) {
    ce_err_setf(err, CE_RCONN_EIO, NULL, 0, 0, "redis %s: out of memory", c->where);
    return -1;
  }
  if (c->ctx->err) {
    char why[200];
    ce_err_setf(err, CE_RCONN_EIO, NULL, 0, 0, "redis %s: %s", c->where, why_of(c->ctx, c->timeout, why, sizeof why));
    drop(c);
    return -1;
  }
  redisSetTimeout(c->ctx, tv_of(c->timeout));
  if (c->password[0]) {
    const char *argv[2] = {"AUTH", c->password};
    if (handshake(c, 2, argv, err) != 0) return -1;
  }
  /* an answer, not just an open socket: a stopped server still accepts connections */
  char db[16];
  snprintf(db, sizeof db, "%d", c->db);
  const char *sel[2] = {"SELECT", db};
  const char *ping[1] = {"PING"};
  return c->db ? handshake(c, 2, sel, err) : handshake(c, 1, ping, err);
}

/* Connects, or fails at once with the last failure while it is recent:
 * tries are 0.25 s apart at first, doubling up to 5 s. */
static int connect_now(ce_rconn *c, ce_err *err) {
  double t = now_s();
  if (t < c->retry_at) {
    ce_err_setf(err, CE_RCONN_EIO, NULL, 0, 0, "%s", c->last);
    return -1;
  }
  if (connect_once(c, err) == 0) {
    c->backoff = 0;
    return 0;
  }
  c->backoff = c->backoff > 0 ? (c->backoff * 2 < 5 ? c->backoff * 2 : 5) : 0.25;
  c->retry_at = t + c->backoff;
  snprintf(c->last, sizeof c->last, "%s", err->msg);
  return -1;
}

ce_rconn *ce_rconn_open(const char *url, double timeout, ce_err *err) {
  ce_redis_cfg rc;
  char buf[1024];
  if (parse(url, &rc, buf, sizeof buf, err) != 0) return NULL;
  ce_rconn *c = calloc(1, sizeof *c);
  if (!c) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return NULL;
  }
  snprintf(c->host, sizeof c->host, "%s", rc.host && *rc.host ? rc.host : "127.0.0.1");
  snprintf(c->password, sizeof c->password, "%s", rc.password ? rc.password : "");
  c->port = rc.port > 0 ? rc.port : 6379;
  c->db = rc.db;
  c->timeout = timeout > 0 ? timeout : 1.0;
  snprintf(c->where, sizeof c->where, "%s:%d/%d", c->host, c->port, c->db);
  if (connect_now(c, err) != 0) {
    free(c);
    return NULL;
  }
  return c;
}

const char *ce_rconn_where(const ce_rconn *c) { return c->where; }

int ce_rconn_exec(ce_rconn *c, int n, const int *argcs, const char *const *const *argvs,
                  const size_t *const *lens, double wait, redisReply **replies, ce_err *err) {
  for (int i = 0; i < n; i++) replies[i] = NULL;
  if (!c->ctx && connect_now(c, err) != 0) return -1;
  double t0 = ce_io_now();
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    for (int a = 0; a < argcs[i]; a++) bytes += lens[i] ? lens[i][a] : strlen(argvs[i][a]);
    redisAppendCommandArgv(c->ctx, argcs[i], (const char **)argvs[i], lens[i]);
  }
  if (wait > 0) redisSetTimeout(c->ctx, tv_of(wait + c->timeout));
  int rc = 0;
  for (int i = 0; i < n; i++) {
    void *v = NULL;
    if (redisGetReply(c->ctx, &v) != REDIS_OK || !v) {
      char why[200];
      ce_err_setf(err, CE_RCONN_EIO, NULL, 0, 0, "redis %s: %s", c->where,
                  why_of(c->ctx, wait > 0 ? wait + c->timeout : c->timeout, why, sizeof why));
      for (int j = 0; j < i; j++) {
        freeReplyObject(replies[j]);
        replies[j] = NULL;
      }
      drop(c);
      rc = -1;
      break;
    }
    replies[i] = v;
    if (replies[i]->type == REDIS_REPLY_STRING) bytes += replies[i]->len;
  }
  if (rc == 0 && wait > 0) redisSetTimeout(c->ctx, tv_of(c->timeout));
  ce_io_count(CE_IO_REDIS, (uint64_t)n, bytes, ce_io_now() - t0);
  return rc;
}

void ce_rconn_close(ce_rconn *c) {
  if (!c) return;
  drop(c);
  free(c);
}
