/* SPDX-License-Identifier: MIT */
#include "core/cache/cache_redis.h"
#include "core/observe/profile.h"

#include <hiredis/hiredis.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG_SLOTS 64

typedef struct {
  char name[128];
  size_t len;
  uint64_t version;
  double fetched;
} tag_slot;

struct ce_rediscache {
  pthread_mutex_t lock;
  redisContext *ctx;
  char host[256], password[256], prefix[64], where[280];
  int port, db;
  double timeout;
  double retry_at, backoff;
  int announced_down;
  ce_redis_notice notice;
  void *notice_ud;
  tag_slot tags[TAG_SLOTS];
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

int ce_redis_parse_url(const char *url, ce_redis_cfg *cfg, char *buf, size_t size) {
  if (strncmp(url, "redis://", 8) != 0) return -1;
  if (strlen(url + 8) + 1 > size) return -1;
  strcpy(buf, url + 8);
  char *p = buf;
  char *at = strrchr(p, '@');
  if (at) {
    *at = '\0';
    char *colon = strchr(p, ':');
    /* redis://:password@host and redis://user:password@host (the user is ignored) */
    cfg->password = colon ? colon + 1 : p;
    p = at + 1;
  }
  char *slash = strchr(p, '/');
  if (slash) {
    *slash = '\0';
    if (slash[1]) {
      char *end;
      long db = strtol(slash + 1, &end, 10);
      if (*end || db < 0) return -1;
      cfg->db = (int)db;
    }
  }
  char *colon;
  int v6 = *p == '[';
  if (v6) { /* redis://[::1]:6379 */
    char *close = strchr(p, ']');
    if (!close || (close[1] && close[1] != ':')) return -1;
    *close = '\0';
    colon = close[1] ? close + 1 : NULL;
    p++;
  } else {
    colon = strrchr(p, ':');
  }
  if (colon) {
    *colon = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port <= 0 || port > 65535) return -1;
    cfg->port = (int)port;
  }
  /* a host name or address: "notaurl" is one, "a b" or "h:x:1" are not */
  for (const char *c = p; *c; c++)
    if (!isalnum((unsigned char)*c) && !strchr(v6 ? ":." : "-._", *c)) return -1;
  /* the host is not optional: "redis://" went to 127.0.0.1:6379, db 0 */
  if (!*p) return -1;
  cfg->host = p;
  return 0;
}

ce_rediscache *ce_rediscache_new(const ce_redis_cfg *cfg) {
  ce_rediscache *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  pthread_mutex_init(&r->lock, NULL);
  snprintf(r->host, sizeof r->host, "%s", cfg->host && *cfg->host ? cfg->host : "127.0.0.1");
  snprintf(r->password, sizeof r->password, "%s", cfg->password ? cfg->password : "");
  snprintf(r->prefix, sizeof r->prefix, "%s", cfg->prefix ? cfg->prefix : "ce:");
  r->port = cfg->port > 0 ? cfg->port : 6379;
  r->db = cfg->db;
  r->timeout = cfg->timeout > 0 ? cfg->timeout : 0.25;
  r->notice = cfg->notice;
  r->notice_ud = cfg->notice_ud;
  snprintf(r->where, sizeof r->where, "%s:%d/%d", r->host, r->port, r->db);
  return r;
}

void ce_rediscache_free(ce_rediscache *r) {
  if (!r) return;
  if (r->ctx) redisFree(r->ctx);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

/* Closes the connection and waits before the next try. A try of a dead
 * server fails at once, but one of a slow or stopped server costs a whole
 * timeout with the lock held, which every other thread waits out: after a
 * timeout the wait is 20 timeouts at least, so tries take a small share of
 * the time. */
static void went_down(ce_rediscache *r, const char *reason, int slow) {
  /* reason may point into the context about to be freed */
  char why[200];
  snprintf(why, sizeof why, "%s", reason);
  if (r->ctx) {
    redisFree(r->ctx);
    r->ctx = NULL;
  }
  double first = slow ? 20 * r->timeout : 0.25;
  double next = r->backoff > 0 ? r->backoff * 2 : first;
  if (next < first) next = first;
  r->backoff = next > 30 ? 30 : next;
  r->retry_at = now_s() + r->backoff;
  if (!r->announced_down) {
    r->announced_down = 1;
    if (r->notice) {
      char msg[600];
      snprintf(msg, sizeof msg, "redis %s unreachable (%s): continuing on the other cache layers", r->where, why);
      r->notice(r->notice_ud, 0, msg);
    }
  }
}

/* A context that failed. hiredis reports a command that timed out as EAGAIN
 * ("Resource temporarily unavailable"), said here in words; that and a
 * connect that timed out mean a slow server, not a dead one. */
static void lost(ce_rediscache *r, redisContext *c) {
  int slow = c->err == REDIS_ERR_IO &&
             (strcmp(c->errstr, strerror(EAGAIN)) == 0 || strcmp(c->errstr, strerror(ETIMEDOUT)) == 0);
  char why[200];
  if (slow) snprintf(why, sizeof why, "no answer within %gs", r->timeout);
  else snprintf(why, sizeof why, "%s", c->errstr[0] ? c->errstr : "connection lost");
  went_down(r, why, slow);
}

/* With the lock held: a usable context, or NULL while Redis is down. A
 * connection counts only once Redis answers on it: a stopped (SIGSTOP) or
 * swamped server still accepts connections, and taking that for a recovery
 * reset the backoff and announced a false "reconnected" every few tenths of
 * a second while each command waited out its timeout. */
static redisContext *conn(ce_rediscache *r) {
  if (r->ctx) return r->ctx;
  if (now_s() < r->retry_at) return NULL;
  redisContext *c = redisConnectWithTimeout(r->host, r->port, tv_of(r->timeout));
  if (!c) {
    went_down(r, "out of memory", 0);
    return NULL;
  }
  r->ctx = c;
  if (c->err) {
    lost(r, c);
    return NULL;
  }
  redisSetTimeout(c, tv_of(r->timeout));
  redisReply *rep = NULL;
  if (r->password[0]) {
    rep = redisCommand(c, "AUTH %s", r->password);
    if (!rep) {
      lost(r, c);
      return NULL;
    }
    int bad = rep->type == REDIS_REPLY_ERROR;
    char why[200];
    snprintf(why, sizeof why, "AUTH: %s", rep->str ? rep->str : "refused");
    freeReplyObject(rep);
    if (bad) {
      went_down(r, why, 0);
      return NULL;
    }
  }
  /* an answer from the server, not just an open socket: SELECT does it for a
   * database other than 0, PING for 0 */
  rep = r->db ? redisCommand(c, "SELECT %d", r->db) : redisCommand(c, "PING");
  if (!rep) {
    lost(r, c);
    return NULL;
  }
  int bad = rep->type == REDIS_REPLY_ERROR;
  freeReplyObject(rep);
  if (bad) {
    went_down(r, r->db ? "SELECT failed" : "PING failed", 0);
    return NULL;
  }
  if (r->announced_down && r->notice) {
    char msg[400];
    snprintf(msg, sizeof msg, "redis %s reconnected", r->where);
    r->notice(r->notice_ud, 1, msg);
  }
  r->announced_down = 0;
  r->backoff = 0;
  return c;
}

/* Runs one command with the lock held; a transport error takes the layer down. */
static redisReply *command(ce_rediscache *r, int argc, const char **argv, const size_t *lens) {
  redisContext *c = conn(r);
  if (!c) return NULL;
  double t0 = ce_io_now();
  redisReply *rep = redisCommandArgv(c, argc, argv, lens);
  size_t bytes = 0;
  for (int i = 0; i < argc; i++) bytes += lens[i];
  if (rep && rep->type == REDIS_REPLY_STRING) bytes += rep->len;
  ce_io_count(CE_IO_REDIS, 1, bytes, ce_io_now() - t0);
  if (!rep) {
    lost(r, c);
    return NULL;
  }
  return rep;
}

static size_t full_key(ce_rediscache *r, char *buf, size_t size, const void *k, size_t kl) {
  size_t pl = strlen(r->prefix);
  if (pl + kl > size) return 0;
  memcpy(buf, r->prefix, pl);
  memcpy(buf + pl, k, kl);
  return pl + kl;
}

int ce_rediscache_get(ce_rediscache *r, const void *k, size_t kl, ce_buf *out) {
  const char *keys[1] = {k};
  int found = 0;
  if (ce_rediscache_get_many(r, keys, &kl, 1, out, &found) != 0) return -1;
  return found;
}

int ce_rediscache_set(ce_rediscache *r, const void *k, size_t kl, const void *blob, size_t bl, double ttl) {
  const char *keys[1] = {k};
  const char *blobs[1] = {blob};
  return ce_rediscache_set_many(r, keys, &kl, blobs, &bl, &ttl, 1);
}

int ce_rediscache_del(ce_rediscache *r, const void *k, size_t kl) {
  char key[640];
  size_t fl = full_key(r, key, sizeof key, k, kl);
  if (!fl) return 0;
  const char *argv[2] = {"UNLINK", key};
  size_t lens[2] = {6, fl};
  pthread_mutex_lock(&r->lock);
  redisReply *rep = command(r, 2, argv, lens);
  int res = -1;
  if (rep) {
    res = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
    freeReplyObject(rep);
  }
  pthread_mutex_unlock(&r->lock);
  return res;
}

int ce_rediscache_get_many(ce_rediscache *r, const char *const *keys, const size_t *lens, int n, ce_buf *outs,
                           int *found) {
  for (int i = 0; i < n; i++) found[i] = 0;
  pthread_mutex_lock(&r->lock);
  redisContext *c = conn(r);
  if (!c) {
    pthread_mutex_unlock(&r->lock);
    return -1;
  }
  char key[640];
  double t0 = ce_io_now();
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    size_t fl = full_key(r, key, sizeof key, keys[i], lens[i]);
    bytes += fl;
    const char *argv[2] = {"GET", key};
    size_t al[2] = {3, fl};
    redisAppendCommandArgv(c, 2, argv, al);
  }
  int res = 0;
  for (int i = 0; i < n; i++) {
    void *v = NULL;
    if (redisGetReply(c, &v) != REDIS_OK || !v) {
      lost(r, c);
      res = -1;
      break;
    }
    redisReply *rep = v;
    if (rep->type == REDIS_REPLY_STRING) {
      ce_buf_add(&outs[i], rep->str, rep->len);
      found[i] = !outs[i].oom;
      bytes += rep->len;
    }
    freeReplyObject(rep);
  }
  ce_io_count(CE_IO_REDIS, (uint64_t)n, bytes, ce_io_now() - t0);
  pthread_mutex_unlock(&r->lock);
  return res;
}

int ce_rediscache_set_many(ce_rediscache *r, const char *const *keys, const size_t *lens, const char *const *blobs,
                           const size_t *blens, const double *ttls, int n) {
  pthread_mutex_lock(&r->lock);
  redisContext *c = conn(r);
  if (!c) {
    pthread_mutex_unlock(&r->lock);
    return -1;
  }
  char key[640], ex[32];
  double t0 = ce_io_now();
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    bytes += lens[i] + blens[i];
    size_t fl = full_key(r, key, sizeof key, keys[i], lens[i]);
    if (ttls[i] > 0) {
      /* whole seconds as EX; a fraction needs PX (milliseconds) */
      int whole = ttls[i] >= 1 && ttls[i] == (double)(long)ttls[i];
      long amount = whole ? (long)ttls[i] : (long)(ttls[i] * 1000);
      int el = snprintf(ex, sizeof ex, "%ld", amount > 0 ? amount : 1);
      const char *argv[5] = {"SET", key, blobs[i], whole ? "EX" : "PX", ex};
      size_t al[5] = {3, fl, blens[i], 2, (size_t)el};
      redisAppendCommandArgv(c, 5, argv, al);
    } else {
      const char *argv[3] = {"SET", key, blobs[i]};
      size_t al[3] = {3, fl, blens[i]};
      redisAppendCommandArgv(c, 3, argv, al);
    }
  }
  int res = 0;
  for (int i = 0; i < n; i++) {
    void *v = NULL;
    if (redisGetReply(c, &v) != REDIS_OK || !v) {
      lost(r, c);
      res = -1;
      break;
    }
    if (((redisReply *)v)->type == REDIS_REPLY_ERROR) res = -1;
    freeReplyObject(v);
  }
  ce_io_count(CE_IO_REDIS, (uint64_t)n, bytes, ce_io_now() - t0);
  pthread_mutex_unlock(&r->lock);
  return res;
}

static tag_slot *tag_find(ce_rediscache *r, const char *tag, size_t len, int create) {
  tag_slot *oldest = &r->tags[0];
  for (int i = 0; i < TAG_SLOTS; i++) {
    tag_slot *t = &r->tags[i];
    if (t->len == len && memcmp(t->name, tag, len) == 0) return t;
    if (t->fetched < oldest->fetched) oldest = t;
  }
  if (!create || len >= sizeof oldest->name) return NULL;
  memcpy(oldest->name, tag, len);
  oldest->len = len;
  oldest->fetched = -1;
  return oldest;
}

static uint64_t tag_command(ce_rediscache *r, const char *cmd, const char *tag, size_t len) {
  char key[300];
  int kl = snprintf(key, sizeof key, "%stag:%.*s", r->prefix, (int)(len < 200 ? len : 200), tag);
  const char *argv[2] = {cmd, key};
  size_t lens[2] = {strlen(cmd), (size_t)kl};
  redisReply *rep = command(r, 2, argv, lens);
  if (!rep) return UINT64_MAX;
  uint64_t v = 0;
  if (rep->type == REDIS_REPLY_INTEGER) v = (uint64_t)rep->integer;
  else if (rep->type == REDIS_REPLY_STRING) v = strtoull(rep->str, NULL, 10);
  freeReplyObject(rep);
  return v;
}

uint64_t ce_rediscache_tag_version(ce_rediscache *r, const char *tag, size_t len) {
  pthread_mutex_lock(&r->lock);
  double t = now_s();
  tag_slot *s = tag_find(r, tag, len, 1);
  uint64_t v;
  if (s && s->fetched >= 0 && t - s->fetched < 1.0) {
    v = s->version;
  } else {
    v = tag_command(r, "GET", tag, len);
    if (s && v != UINT64_MAX) {
      s->version = v;
      s->fetched = t;
    }
  }
  pthread_mutex_unlock(&r->lock);
  return v;
}

uint64_t ce_rediscache_tag_bump(ce_rediscache *r, const char *tag, size_t len) {
  pthread_mutex_lock(&r->lock);
  uint64_t v = tag_command(r, "INCR", tag, len);
  tag_slot *s = tag_find(r, tag, len, 1);
  if (s && v != UINT64_MAX) {
    s->version = v;
    s->fetched = now_s();
  }
  pthread_mutex_unlock(&r->lock);
  return v;
}

/* One SCAN page's entries, copied out so that the visitor runs without the
 * lock: it checks tag versions and may delete, both of which take the lock
 * (a visitor called under it hung `cache preload` and `cache explain`). */
typedef struct {
  size_t koff, klen, voff, vlen;
} page_item;

/* With the lock held: the next page's non-tag entries into data/items.
 * Returns their count, or -1 when Redis went away. */
static long scan_page(ce_rediscache *r, char *cursor, size_t csize, const char *match, ce_buf *data,
                      page_item **items, size_t *cap) {
  const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "200"};
  size_t lens[6] = {4, strlen(cursor), 5, strlen(match), 5, 3};
  redisReply *rep = command(r, 6, argv, lens);
  if (!rep) return -1;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING) {
    freeReplyObject(rep);
    snprintf(cursor, csize, "0");
    return 0;
  }
  snprintf(cursor, csize, "%s", rep->element[0]->str);
  redisReply *keys = rep->element[1];
  size_t pl = strlen(r->prefix);
  redisContext *c = r->ctx;
  size_t asked = 0;
  for (size_t i = 0; i < keys->elements; i++) {
    redisReply *k = keys->element[i];
    if (k->len < pl || (k->len >= pl + 4 && memcmp(k->str + pl, "tag:", 4) == 0)) continue;
    const char *a[2] = {"GET", k->str};
    size_t l[2] = {3, k->len};
    redisAppendCommandArgv(c, 2, a, l);
    asked++;
  }
  if (asked > *cap) {
    page_item *grown = realloc(*items, asked * sizeof **items);
    if (!grown) {
      freeReplyObject(rep);
      went_down(r, "out of memory", 0);
      return -1;
    }
    *items = grown;
    *cap = asked;
  }
  data->len = 0;
  long n = 0;
  size_t got = 0;
  for (size_t i = 0; i < keys->elements && got < asked; i++) {
    redisReply *k = keys->element[i];
    if (k->len < pl || (k->len >= pl + 4 && memcmp(k->str + pl, "tag:", 4) == 0)) continue;
    got++;
    void *v = NULL;
    if (redisGetReply(c, &v) != REDIS_OK || !v) {
      freeReplyObject(rep);
      lost(r, c);
      return -1;
    }
    redisReply *val = v;
    if (val->type == REDIS_REPLY_STRING) {
      page_item *it = &(*items)[n++];
      it->koff = data->len;
      it->klen = k->len - pl;
      ce_buf_add(data, k->str + pl, it->klen);
      ce_buf_addc(data, '\0'); /* visitors get NUL-terminated keys and values, as from hiredis */
      it->voff = data->len;
      it->vlen = val->len;
      ce_buf_add(data, val->str, val->len);
      ce_buf_addc(data, '\0');
    }
    freeReplyObject(val);
  }
  freeReplyObject(rep);
  if (data->oom) {
    went_down(r, "out of memory", 0);
    return -1;
  }
  return n;
}

long ce_rediscache_scan(ce_rediscache *r, const char *glob, ce_rediscache_visit fn, void *ud) {
  char match[600], cursor[32] = "0";
  snprintf(match, sizeof match, "%s%s", r->prefix, glob && *glob ? glob : "*");
  ce_buf data;
  ce_buf_init(&data);
  page_item *items = NULL;
  size_t cap = 0;
  long n = 0;
  int stop = 0;
  do {
    pthread_mutex_lock(&r->lock);
    long got = scan_page(r, cursor, sizeof cursor, match, &data, &items, &cap);
    pthread_mutex_unlock(&r->lock);
    if (got < 0) {
      n = -1;
      break;
    }
    for (long i = 0; i < got && !stop; i++) {
      const page_item *it = &items[i];
      n++;
      int what = fn(data.data + it->koff, it->klen, data.data + it->voff, it->vlen, ud);
      if (what == 1) ce_rediscache_del(r, data.data + it->koff, it->klen);
      else if (what == 2) stop = 1;
    }
  } while (!stop && strcmp(cursor, "0") != 0);
  ce_buf_free(&data);
  free(items);
  return n;
}

long ce_rediscache_count(ce_rediscache *r) {
  char match[600], cursor[32] = "0";
  snprintf(match, sizeof match, "%s*", r->prefix);
  size_t pl = strlen(r->prefix);
  long n = 0;
  do {
    const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
    size_t lens[6] = {4, strlen(cursor), 5, strlen(match), 5, 4};
    pthread_mutex_lock(&r->lock);
    redisReply *rep = command(r, 6, argv, lens);
    pthread_mutex_unlock(&r->lock);
    if (!rep) return -1;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING) {
      freeReplyObject(rep);
      return -1;
    }
    snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
    redisReply *keys = rep->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
      redisReply *k = keys->element[i];
      if (k->len >= pl && !(k->len >= pl + 4 && memcmp(k->str + pl, "tag:", 4) == 0)) n++;
    }
    freeReplyObject(rep);
  } while (strcmp(cursor, "0") != 0);
  return n;
}

int ce_rediscache_up(ce_rediscache *r) {
  pthread_mutex_lock(&r->lock);
  int up = conn(r) != NULL;
  pthread_mutex_unlock(&r->lock);
  return up;
}
