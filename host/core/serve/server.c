/* SPDX-License-Identifier: MIT */
#include "core/serve/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/io/mhd_lazy.h"
#include "core/observe/metrics.h"
#include "core/observe/profile.h"
#include "core/serve/limits.h"
#include "core/util/clock.h"
#include "core/util/json.h"

/* A request's life: its body arrives (RECEIVING), it waits in the queue
 * (QUEUED), a worker holds it (TAKEN), its answer waits for the daemon
 * (READY), the daemon has queued the answer (SENT). */
enum { R_RECEIVING = 0, R_QUEUED, R_TAKEN, R_READY, R_SENT };

/* The id of a request names its slot in the low bits, so a worker's answer
 * finds it without a search; the high bits tell reused slots apart. */
#define SLOT_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define NO_SLOT UINT32_MAX

/* A body streamed past the limit is read and dropped, so the client gets its
 * 413; past this many times the limit the connection is closed instead. */
#define DISCARD_FACTOR 16

enum { M_GET, M_POST, M_HEAD, M_PUT, M_DELETE, M_PATCH, M_OPTIONS, M_OTHER, M_N };
static const char *const METHODS[M_N] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "other"};

/* statuses counted with a series handle kept at hand; the rest are looked up */
static const int STATUSES[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 413, 429, 431, 500, 503, 504};
#define NSTATUS ((int)(sizeof STATUSES / sizeof STATUSES[0]))

typedef struct req {
  ce_server_req pub;
  struct req *next; /* in the queue, or in the shutdown's list */
  struct MHD_Connection *conn;
  struct MHD_Response *resp; /* R_READY: the answer */
  double t0;
  int state, status, route, method;
  int worker_holds; /* taken by a worker that has not answered yet */
  int mhd_done;     /* the daemon is finished with it */
  int gzip_ok, too_large;
  int own;     /* answered by the daemon (/healthz, a public /metrics) once read */
  int linking; /* queued, not yet linked (its connection being suspended) */
  uint32_t slot;
  ce_buf body;
  size_t discarded;
  char *mem; /* method, path, remote, headers and query, one block */
} req;

struct ce_server {
  struct MHD_Daemon *d;
  MHD_socket listen_fd;
  int port;
  size_t max_body, gzip_min, max_header;
  unsigned max_depth;
  int queue_max, metrics_public;
  char **routes; /* [0] "/healthz", [1] "/metrics", then the configured ones; "other" last */
  int nroutes;

  pthread_mutex_t lock;
  pthread_cond_t nonempty, idle;
  req *head, *tail;
  int nqueued; /* linked or about to be */
  req **slots;
  uint32_t nslots, nfree, *free_list;
  uint64_t seq;
  uint64_t taken, live, answered, rejected;
  int closing, stopped, resuming;

  struct MHD_Response *healthz_ok;
  ce_metric *m_requests, *m_duration, *m_rejected, *m_queue, *m_progress, *m_memory;
  _Atomic(ce_series *) *series;   /* [route][method][status index] */
  _Atomic(ce_series *) *durations; /* [route] */
};

/* ---- small helpers ---- */

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int method_of(const char *m) {
  for (int i = 0; i < M_OTHER; i++)
    if (strcmp(m, METHODS[i]) == 0) return i;
  return M_OTHER;
}

/* A template's segment ":name" matches any one segment ("/runs/:id" matches
 * "/runs/ABC"); other segments match themselves. */
static int template_matches(const char *t, const char *path) {
  while (*t && *path) {
    if (*t != '/' || *path != '/') return 0;
    t++, path++;
    const char *te = strchr(t, '/'), *pe = strchr(path, '/');
    size_t tl = te ? (size_t)(te - t) : strlen(t), pl = pe ? (size_t)(pe - path) : strlen(path);
    if (*t == ':') {
      if (pl == 0) return 0;
    } else if (tl != pl || strncmp(t, path, tl) != 0) {
      return 0;
    }
    t += tl, path += pl;
  }
  return !*t && !*path;
}

static int route_of(const ce_server *s, const char *path) {
  for (int i = 0; i < s->nroutes; i++)
    if (template_matches(s->routes[i], path)) return i;
  return s->nroutes; /* "other" */
}

static const char *route_name(const ce_server *s, int i) { return i < s->nroutes ? s->routes[i] : "other"; }

static void deadline_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static void req_free(req *r) {
  if (!r) return;
  if (r->resp) MHD_destroy_response(r->resp);
  ce_buf_free(&r->body);
  free(r->mem);
  free(r);
}

/* with the lock held */
static void slot_release(ce_server *s, req *r) {
  if (r->slot == NO_SLOT) return;
  s->slots[r->slot] = NULL;
  s->free_list[s->nfree++] = r->slot;
  r->slot = NO_SLOT;
}

/* ---- metrics ---- */

static const double DURATION_BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};

static int register_metrics(ce_server *s, ce_err *err) {
  static const char *const req_labels[] = {"route", "method", "status"};
  static const char *const route_label[] = {"route"};
  static const char *const reason_label[] = {"reason"};
  s->m_requests = ce_metric_register(CE_COUNTER, "causal_eval_http_requests_total",
                                     "HTTP requests answered by the API server, per route, method and status",
                                     req_labels, 3, NULL, 0, err);
  if (!s->m_requests) return -1;
  s->m_duration = ce_metric_register(
    CE_HISTOGRAM, "causal_eval_http_request_duration_seconds",
    "Time from a request's headers to its answer being queued for sending, per route", route_label, 1,
    DURATION_BUCKETS, (int)(sizeof DURATION_BUCKETS / sizeof DURATION_BUCKETS[0]), err);
  if (!s->m_duration) return -1;
  s->m_rejected = ce_metric_register(CE_COUNTER, "causal_eval_http_rejected_total",
                                     "Requests the server answered before any worker saw them, per reason "
                                     "(body_too_large, too_deep, queue_full, shutting_down)",
                                     reason_label, 1, NULL, 0, err);
  if (!s->m_rejected) return -1;
  s->m_queue = ce_metric_register(CE_GAUGE, "causal_eval_http_queue_depth", "Requests waiting for a worker", NULL, 0,
                                  NULL, 0, err);
  if (!s->m_queue) return -1;
  s->m_progress = ce_metric_register(CE_GAUGE, "causal_eval_http_requests_in_progress",
                                     "Requests read and not yet answered", NULL, 0, NULL, 0, err);
  if (!s->m_progress) return -1;
  s->m_memory = ce_metric_register(CE_GAUGE, "causal_eval_memory_bytes", "Resident memory of the process", NULL, 0,
                                   NULL, 0, err);
  if (!s->m_memory) return -1;
  return 0;
}

static ce_series *series_of(ce_metric *m, int n, const char *const *values) {
  size_t lens[3];
  for (int i = 0; i < n; i++) lens[i] = strlen(values[i]);
  return ce_metric_series(m, values, lens);
}

static void count_answer(ce_server *s, req *r) {
  int si = NSTATUS;
  for (int i = 0; i < NSTATUS; i++)
    if (STATUSES[i] == r->status) si = i;
  char status[16];
  snprintf(status, sizeof status, "%d", r->status);
  const char *values[3] = {route_name(s, r->route), METHODS[r->method], status};
  ce_series *c;
  if (si < NSTATUS) {
    _Atomic(ce_series *) *slot = &s->series[((size_t)r->route * M_N + (size_t)r->method) * NSTATUS + (size_t)si];
    c = atomic_load_explicit(slot, memory_order_acquire);
    if (!c) {
      c = series_of(s->m_requests, 3, values);
      atomic_store_explicit(slot, c, memory_order_release);
    }
  } else {
    c = series_of(s->m_requests, 3, values);
  }
  ce_series_add(c, 1);
  _Atomic(ce_series *) *dslot = &s->durations[r->route];
  ce_series *d = atomic_load_explicit(dslot, memory_order_acquire);
  if (!d) {
    d = series_of(s->m_duration, 1, values);
    atomic_store_explicit(dslot, d, memory_order_release);
  }
  ce_series_observe(d, ce_clock_mono() - r->t0);
}

static void count_rejected(ce_server *s, const char *reason) {
  ce_series_add(series_of(s->m_rejected, 1, &reason), 1);
  pthread_mutex_lock(&s->lock);
  s->rejected++;
  pthread_mutex_unlock(&s->lock);
}

/* ---- answers the daemon gives itself ---- */

static void add_error_json(ce_buf *b, const char *code, const char *message) {
  ce_buf_adds(b, "{\"error\":{\"code\":");
  ce_json_write_string(b, code, strlen(code));
  ce_buf_adds(b, ",\"message\":");
  ce_json_write_string(b, message, strlen(message));
  ce_buf_adds(b, "}}");
}

static struct MHD_Response *error_response(int closing, const char *code, const char *message) {
  ce_buf b;
  ce_buf_init(&b);
  add_error_json(&b, code, message);
  if (b.oom) {
    ce_buf_free(&b);
    return NULL;
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    ce_buf_free(&b);
    return NULL;
  }
  MHD_add_response_header(resp, "Content-Type", "application/json");
  if (closing) MHD_add_response_header(resp, "Connection", "close");
  return resp;
}

static enum MHD_Result send_response(req *r, unsigned status, struct MHD_Response *resp) {
  if (!resp) return MHD_NO;
  r->status = (int)status;
  enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result reply_error(ce_server *s, req *r, unsigned status, const char *code, const char *message,
                                   const char *retry_after) {
  int closing;
  pthread_mutex_lock(&s->lock);
  closing = s->closing;
  pthread_mutex_unlock(&s->lock);
  struct MHD_Response *resp = error_response(closing, code, message);
  if (resp && retry_after) MHD_add_response_header(resp, "Retry-After", retry_after);
  return send_response(r, status, resp);
}

static enum MHD_Result reply_healthz(ce_server *s, req *r, const char *method) {
  if (r->method != M_GET && r->method != M_HEAD) {
    char msg[160];
    snprintf(msg, sizeof msg, "%.40s /healthz: only GET and HEAD", method);
    struct MHD_Response *resp = error_response(0, "method_not_allowed", msg);
    if (resp) MHD_add_response_header(resp, "Allow", "GET, HEAD");
    return send_response(r, 405, resp);
  }
  r->status = 200;
  return MHD_queue_response(r->conn, 200, s->healthz_ok);
}

static enum MHD_Result reply_metrics(ce_server *s, req *r, const char *method) {
  if (r->method != M_GET && r->method != M_HEAD) {
    char msg[160];
    snprintf(msg, sizeof msg, "%.40s /metrics: only GET and HEAD", method);
    struct MHD_Response *resp = error_response(0, "method_not_allowed", msg);
    if (resp) MHD_add_response_header(resp, "Allow", "GET, HEAD");
    return send_response(r, 405, resp);
  }
  ce_server_stats st;
  ce_server_get_stats(s, &st);
  ce_series_set(ce_metric_series(s->m_queue, NULL, NULL), (double)st.queued);
  ce_series_set(ce_metric_series(s->m_progress, NULL, NULL), (double)(st.queued + st.taken));
  ce_series_set(ce_metric_series(s->m_memory, NULL, NULL), (double)ce_rss_bytes());
  ce_buf out;
  ce_buf_init(&out);
  ce_metrics_expose(&out);
  if (out.oom) {
    ce_buf_free(&out);
    return MHD_NO;
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(out.len, out.data ? out.data : "",
                                                              out.data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    ce_buf_free(&out);
    return MHD_NO;
  }
  MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  return send_response(r, 200, resp);
}

/* ---- a request as workers see it ---- */

typedef struct {
  size_t bytes;
  int n;
  ce_header *out; /* second pass */
  char *at;
  int lower;
} collect_ctx;

static char *put_str(collect_ctx *c, const char *s, int lower) {
  char *d = c->at;
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    d[i] = (lower && ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
  }
  d[n] = '\0';
  c->at += n + 1;
  return d;
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  collect_ctx *c = cls;
  if (!key) return MHD_YES;
  if (!value) value = "";
  if (c->out) {
    c->out[c->n].name = put_str(c, key, c->lower);
    c->out[c->n].value = put_str(c, value, 0);
  } else {
    c->bytes += strlen(key) + strlen(value) + 2;
  }
  c->n++;
  return MHD_YES;
}

static void remote_of(struct MHD_Connection *conn, char *out, size_t size) {
  snprintf(out, size, "unknown");
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)size);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)size);
}

/* Fills r->pub from the connection: one allocation for every string. */
static int build_public(req *r, const char *url, const char *method) {
  char remote[INET6_ADDRSTRLEN + 1];
  remote_of(r->conn, remote, sizeof remote);
  collect_ctx h = {0, 0, NULL, NULL, 1}, q = {0, 0, NULL, NULL, 0};
  MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect, &h);
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &q);
  size_t arrays = (size_t)(h.n + q.n) * sizeof(ce_header);
  size_t strings = strlen(url) + strlen(method) + strlen(remote) + 3 + h.bytes + q.bytes;
  char *mem = malloc(arrays + strings);
  if (!mem) return -1;
  ce_header *hs = (ce_header *)(void *)mem, *qs = hs + h.n;
  int nh = h.n, nq = q.n;
  collect_ctx c = {0, 0, hs, mem + arrays, 1};
  MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect, &c);
  nh = c.n < nh ? c.n : nh;
  collect_ctx cq = {0, 0, qs, c.at, 0};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &cq);
  nq = cq.n < nq ? cq.n : nq;
  collect_ctx rest = {0, 0, NULL, cq.at, 0};
  r->pub.method = put_str(&rest, method, 0);
  r->pub.path = put_str(&rest, url, 0);
  r->pub.remote = put_str(&rest, remote, 0);
  r->pub.headers = hs;
  r->pub.nheaders = nh;
  r->pub.query = qs;
  r->pub.nquery = nq;
  r->pub.body = r->body.data ? r->body.data : "";
  r->pub.body_len = r->body.len;
  r->mem = mem;
  return 0;
}

/* ---- the daemon's callbacks ---- */

enum { QUEUED_OK = 0, QUEUE_FULL, QUEUE_STOPPED };

/* Queues r for the workers. */
static int enqueue(ce_server *s, req *r) {
  pthread_mutex_lock(&s->lock);
  if (s->stopped) {
    pthread_mutex_unlock(&s->lock);
    return QUEUE_STOPPED;
  }
  if (s->nqueued >= s->queue_max || s->nfree == 0) {
    pthread_mutex_unlock(&s->lock);
    return QUEUE_FULL;
  }
  r->slot = s->free_list[--s->nfree];
  s->slots[r->slot] = r;
  r->pub.id = (++s->seq << SLOT_BITS) | r->slot;
  r->state = R_QUEUED;
  r->linking = 1; /* the shutdown leaves it to us until it is linked */
  s->nqueued++;   /* reserved: linked below, once the connection is suspended */
  pthread_mutex_unlock(&s->lock);
  /* outside our lock: libmicrohttpd takes its own, and calls us with it held */
  MHD_suspend_connection(r->conn);
  pthread_mutex_lock(&s->lock);
  r->linking = 0;
  if (s->stopped) { /* the grace time ended meanwhile: answered like the rest */
    s->nqueued--;
    r->resp = error_response(1, "shutting_down", "the server shut down before this request was answered");
    r->status = 503;
    r->state = R_READY;
    s->resuming++;
    pthread_mutex_unlock(&s->lock);
    MHD_resume_connection(r->conn);
    pthread_mutex_lock(&s->lock);
    if (--s->resuming == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    return QUEUED_OK;
  }
  r->next = NULL;
  if (s->tail) s->tail->next = r;
  else s->head = r;
  s->tail = r;
  pthread_cond_signal(&s->nonempty);
  pthread_mutex_unlock(&s->lock);
  return QUEUED_OK;
}

static enum MHD_Result add_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  /* "Key: value\r\n", as the client sent it */
  *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
  return MHD_YES;
}

typedef struct {
  const char *first;
  int conflict;
} content_lengths;

static enum MHD_Result count_lengths(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  content_lengths *l = cls;
  if (strcasecmp(key, "Content-Length") != 0) return MHD_YES;
  if (!l->first) l->first = value ? value : "";
  else if (strcmp(l->first, value ? value : "") != 0) l->conflict = 1;
  return MHD_YES;
}

static enum MHD_Result on_first_call(ce_server *s, struct MHD_Connection *c, const char *url, const char *method,
                                     void **con_cls) {
  req *r = calloc(1, sizeof *r);
  if (!r) return MHD_NO;
  r->t0 = ce_clock_mono();
  r->conn = c;
  r->slot = NO_SLOT;
  r->route = route_of(s, url);
  r->method = method_of(method);
  ce_buf_init(&r->body);
  *con_cls = r;
  pthread_mutex_lock(&s->lock);
  s->live++;
  int closing = s->closing;
  pthread_mutex_unlock(&s->lock);
  if (closing) {
    count_rejected(s, "shutting_down");
    return reply_error(s, r, 503, "shutting_down", "the server is shutting down", "1");
  }
  /* answered once the request is read: an answer queued now would also
   * close the connection (libmicrohttpd cannot tell the body is empty) */
  /* libmicrohttpd answers headers over its pool with its own HTML page;
   * those over the limit that fit get the JSON every other error has */
  size_t hbytes = strlen(method) + strlen(url) + 12;
  MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_bytes, &hbytes);
  /* url is the path alone: a query string of 31 KB went through a 16 KB limit */
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_header_bytes, &hbytes);
  if (s->max_header && hbytes > s->max_header) {
    char msg[200];
    snprintf(msg, sizeof msg, "request line and headers of %zu bytes are over the limit of %zu bytes (api.max_header_kb)",
             hbytes, s->max_header);
    count_rejected(s, "headers_too_large");
    return reply_error(s, r, 431, "headers_too_large", msg, NULL);
  }
  if (r->route == 0 || (r->route == 1 && s->metrics_public)) {
    r->own = 1;
    return MHD_YES;
  }
  /* two lengths that disagree: libmicrohttpd takes the first, a proxy in
   * front may have taken the other, and the rest of the body would be read
   * as a request of its own (RFC 9112 6.3: an error) */
  content_lengths cls = {NULL, 0};
  MHD_get_connection_values(c, MHD_HEADER_KIND, count_lengths, &cls);
  if (cls.conflict) {
    count_rejected(s, "bad_request");
    return reply_error(s, r, 400, "bad_request", "Content-Length given twice with different values", NULL);
  }
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
  if (cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno == 0 && end != cl && n > s->max_body) {
      char msg[200];
      snprintf(msg, sizeof msg, "request body of %llu bytes is over the limit of %zu bytes (api.max_body_kb)", n,
               s->max_body);
      count_rejected(s, "body_too_large");
      return reply_error(s, r, 413, "payload_too_large", msg, NULL);
    }
  }
  r->gzip_ok = ce_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding"));
  return MHD_YES;
}

static enum MHD_Result on_ready(ce_server *s, req *r) {
  pthread_mutex_lock(&s->lock);
  struct MHD_Response *resp = r->resp;
  r->resp = NULL;
  r->state = R_SENT;
  pthread_mutex_unlock(&s->lock);
  if (!resp) return MHD_NO;
  enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result on_body_done(ce_server *s, req *r, const char *url, const char *method) {
  char msg[200];
  if (r->too_large) {
    snprintf(msg, sizeof msg, "request body is over the limit of %zu bytes (api.max_body_kb)", s->max_body);
    count_rejected(s, "body_too_large");
    return reply_error(s, r, 413, "payload_too_large", msg, NULL);
  }
  if (r->body.oom) return MHD_NO;
  if (ce_json_too_deep(r->body.data ? r->body.data : "", r->body.len, s->max_depth)) {
    snprintf(msg, sizeof msg, "request body: JSON nested deeper than %u levels (api.max_json_depth)", s->max_depth);
    count_rejected(s, "too_deep");
    return reply_error(s, r, 400, "too_deep", msg, NULL);
  }
  if (build_public(r, url, method) != 0) return MHD_NO;
  int refused = enqueue(s, r);
  if (refused == QUEUED_OK) return MHD_YES;
  if (refused == QUEUE_STOPPED) {
    count_rejected(s, "shutting_down");
    return reply_error(s, r, 503, "shutting_down", "the server is shutting down", "1");
  }
  count_rejected(s, "queue_full");
  return reply_error(s, r, 503, "queue_full", "every worker is busy and the queue is full: try again shortly", "1");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)version;
  ce_server *s = cls;
  req *r = *con_cls;
  if (!r) return on_first_call(s, c, url, method, con_cls);
  if (r->state == R_READY) return on_ready(s, r);
  if (r->status) { /* answered already (413 before the body): drop what still arrives */
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->own) return MHD_YES; /* a body sent to /healthz: dropped */
    if (!r->too_large && r->body.len + n > s->max_body) {
      r->too_large = 1;
      ce_buf_free(&r->body);
      ce_buf_init(&r->body);
    }
    if (r->too_large) {
      r->discarded += n;
      return r->discarded > s->max_body * DISCARD_FACTOR ? MHD_NO : MHD_YES;
    }
    ce_buf_add(&r->body, upload, n);
    return MHD_YES;
  }
  if (r->own) return r->route == 0 ? reply_healthz(s, r, method) : reply_metrics(s, r, method);
  return on_body_done(s, r, url, method);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)c, (void)toe;
  ce_server *s = cls;
  req *r = *con_cls;
  if (!r) return;
  *con_cls = NULL;
  if (r->status) count_answer(s, r);
  pthread_mutex_lock(&s->lock);
  if (r->status) s->answered++;
  if (r->state == R_QUEUED) { /* not expected: the daemon closed a queued request's connection */
    req **p = &s->head, *prev = NULL;
    while (*p && *p != r) {
      prev = *p;
      p = &(*p)->next;
    }
    if (*p) {
      *p = r->next;
      if (s->tail == r) s->tail = prev;
      s->nqueued--;
    }
  }
  r->mhd_done = 1;
  int free_it = !r->worker_holds;
  if (free_it) slot_release(s, r);
  s->live--;
  if (s->live == 0) pthread_cond_broadcast(&s->idle);
  pthread_mutex_unlock(&s->lock);
  if (free_it) req_free(r);
}

/* ---- the API ---- */

ce_server *ce_server_start(const ce_server_cfg *cfg, ce_err *err) {
  ce_err_clear(err);
  if (ce_mhd_load(err) != 0) return NULL;
  const char *bind = cfg->bind && *cfg->bind ? cfg->bind : "127.0.0.1";
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)cfg->port);
  if (inet_pton(AF_INET, bind, &addr.sin_addr) != 1) {
    ce_err_setf(err, 1, NULL, 0, 0, "bind address '%s' is not an IPv4 address (--bind, api.bind)", bind);
    return NULL;
  }
  if (cfg->port < 0 || cfg->port > 65535) {
    ce_err_setf(err, 1, NULL, 0, 0, "port %d is not a port (0-65535)", cfg->port);
    return NULL;
  }
  ce_server *s = calloc(1, sizeof *s);
  if (!s) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return NULL;
  }
  s->listen_fd = MHD_INVALID_SOCKET;
  s->max_body = cfg->max_body;
  s->max_header = cfg->max_header;
  s->gzip_min = cfg->gzip_min;
  s->max_depth = cfg->max_json_depth ? cfg->max_json_depth : 64;
  s->queue_max = cfg->queue_max > 0 ? cfg->queue_max : 1;
  s->metrics_public = cfg->metrics_public;
  unsigned maxc = cfg->max_connections ? cfg->max_connections : 1024;
  if (maxc > SLOT_MASK / 2) maxc = SLOT_MASK / 2;
  pthread_mutex_init(&s->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->nonempty, &ca);
  pthread_cond_init(&s->idle, &ca);
  pthread_condattr_destroy(&ca);

  /* a request outlives its connection only while a worker holds it during
   * shutdown: twice the connections is room enough */
  s->nslots = maxc * 2;
  s->slots = calloc(s->nslots, sizeof *s->slots);
  s->free_list = malloc(s->nslots * sizeof *s->free_list);
  s->routes = calloc((size_t)cfg->nroutes + 2, sizeof *s->routes);
  int ok = s->slots && s->free_list && s->routes;
  for (uint32_t i = 0; ok && i < s->nslots; i++) s->free_list[i] = s->nslots - 1 - i;
  s->nfree = s->nslots;
  if (ok) {
    s->routes[0] = dup_str("/healthz");
    s->routes[1] = dup_str("/metrics");
    s->nroutes = 2;
    ok = s->routes[0] && s->routes[1];
    for (int i = 0; ok && i < cfg->nroutes; i++) {
      if (!cfg->routes[i] || strcmp(cfg->routes[i], "/healthz") == 0 || strcmp(cfg->routes[i], "/metrics") == 0)
        continue;
      ok = (s->routes[s->nroutes++] = dup_str(cfg->routes[i])) != NULL;
    }
  }
  if (ok) {
    size_t nr = (size_t)s->nroutes + 1;
    s->series = calloc(nr * M_N * NSTATUS, sizeof *s->series);
    s->durations = calloc(nr, sizeof *s->durations);
    ok = s->series && s->durations;
  }
  if (!ok) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    ce_server_free(s);
    return NULL;
  }
  if (register_metrics(s, err) != 0) {
    ce_server_free(s);
    return NULL;
  }
  static const char healthz[] = "{\"status\":\"ok\"}";
  s->healthz_ok = MHD_create_response_from_buffer(sizeof healthz - 1, (void *)healthz, MHD_RESPMEM_PERSISTENT);
  if (!s->healthz_ok) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    ce_server_free(s);
    return NULL;
  }
  MHD_add_response_header(s->healthz_ok, "Content-Type", "application/json");

  /* libmicrohttpd keeps the request line and headers in the connection's
   * memory pool, along with its read and write buffers: a pool of twice the
   * header limit lets headers up to the limit through and refuses larger
   * ones with 431 */
  size_t pool = cfg->max_header ? cfg->max_header * 2 : 32768;
  if (pool < 8192) pool = 8192;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  unsigned threads = cfg->threads ? cfg->threads : 1;
  s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                          (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT, cfg->client_timeout_s,
                          MHD_OPTION_CONNECTION_LIMIT, maxc, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                          MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                          MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u, MHD_OPTION_END);
  if (!s->d) {
    ce_err_setf(err, 1, NULL, 0, 0, "cannot listen on %s:%d (in use, or not an address of this machine)", bind,
                cfg->port);
    ce_server_free(s);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : cfg->port;
  return s;
}

int ce_server_port(const ce_server *s) { return s->port; }

int ce_server_take(ce_server *s, ce_server_req **out, int max, int timeout_ms) {
  pthread_mutex_lock(&s->lock);
  if (!s->head && !s->stopped && timeout_ms > 0) {
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    while (!s->head && !s->stopped)
      if (pthread_cond_timedwait(&s->nonempty, &s->lock, &ts) == ETIMEDOUT) break;
  }
  int n = 0;
  while (n < max && s->head) {
    req *r = s->head;
    s->head = r->next;
    if (!s->head) s->tail = NULL;
    r->next = NULL;
    r->state = R_TAKEN;
    r->worker_holds = 1;
    s->nqueued--;
    s->taken++;
    out[n++] = &r->pub;
  }
  if (s->head) pthread_cond_signal(&s->nonempty); /* more for another worker */
  int ret = (n == 0 && s->stopped) ? -1 : n;
  pthread_mutex_unlock(&s->lock);
  return ret;
}

static int has_header(const ce_header *h, int nh, const char *name) {
  for (int i = 0; i < nh; i++)
    if (h[i].name && strcasecmp(h[i].name, name) == 0) return 1;
  return 0;
}

/* The answer's response object; gzip'ed here, on the worker's thread. */
static struct MHD_Response *build_response(ce_server *s, req *r, const ce_header *h, int nh, const void *body,
                                           size_t len) {
  void *data = NULL;
  size_t n = len;
  int compressible = len > s->gzip_min && !has_header(h, nh, "Content-Encoding");
  int gzipped = 0;
  if (compressible && r->gzip_ok && ce_gzip(body, len, 6, &data, &n) == 0) gzipped = 1;
  if (!gzipped) {
    data = malloc(len ? len : 1);
    if (!data) return NULL;
    if (len) memcpy(data, body, len);
    n = len;
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(data);
    return NULL;
  }
  for (int i = 0; i < nh; i++)
    if (h[i].name && h[i].value) MHD_add_response_header(resp, h[i].name, h[i].value);
  if (!has_header(h, nh, "Content-Type")) MHD_add_response_header(resp, "Content-Type", "application/json");
  if (gzipped) MHD_add_response_header(resp, "Content-Encoding", "gzip");
  /* the same URL answers gzip'ed or not depending on this header: caches must know */
  if (compressible) MHD_add_response_header(resp, "Vary", "Accept-Encoding");
  return resp;
}

int ce_server_respond(ce_server *s, uint64_t id, int status, const ce_header *h, int nh, const void *body,
                      size_t len) {
  uint32_t slot = (uint32_t)(id & SLOT_MASK);
  pthread_mutex_lock(&s->lock);
  req *r = slot < s->nslots ? s->slots[slot] : NULL;
  if (!r || r->pub.id != id || !r->worker_holds) {
    pthread_mutex_unlock(&s->lock);
    return -1;
  }
  int closing = s->closing;
  pthread_mutex_unlock(&s->lock);
  /* the worker holds r: it stays until the worker lets go below */
  struct MHD_Response *resp = build_response(s, r, h, nh, body, len);
  if (resp && closing) MHD_add_response_header(resp, "Connection", "close");
  if (!resp) { /* out of memory: the client still gets an answer */
    static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    status = 500;
  }
  pthread_mutex_lock(&s->lock);
  r->worker_holds = 0;
  if (r->state != R_TAKEN || r->mhd_done) {
    int free_it = r->mhd_done;
    if (free_it) slot_release(s, r);
    pthread_mutex_unlock(&s->lock);
    if (resp) MHD_destroy_response(resp);
    if (free_it) req_free(r);
    return -1;
  }
  struct MHD_Connection *conn = r->conn;
  r->resp = resp;
  r->status = status;
  r->state = R_READY;
  s->taken--;
  s->resuming++;
  pthread_mutex_unlock(&s->lock);
  MHD_resume_connection(conn);
  pthread_mutex_lock(&s->lock);
  if (--s->resuming == 0) pthread_cond_broadcast(&s->idle);
  pthread_mutex_unlock(&s->lock);
  return 0;
}

void ce_server_get_stats(ce_server *s, ce_server_stats *out) {
  pthread_mutex_lock(&s->lock);
  out->queued = (uint64_t)s->nqueued;
  out->taken = s->taken;
  out->live = s->live;
  out->answered = s->answered;
  out->rejected = s->rejected;
  out->closing = s->closing;
  pthread_mutex_unlock(&s->lock);
}

/* With the lock held: waits on idle until pred holds or the deadline passes. */
#define WAIT_UNTIL(s, pred, ts)                                                          \
  while (!(pred))                                                                       \
    if (pthread_cond_timedwait(&(s)->idle, &(s)->lock, (ts)) == ETIMEDOUT) break;

void ce_server_shutdown(ce_server *s, int grace_ms) {
  if (!s || !s->d) return;
  pthread_mutex_lock(&s->lock);
  if (s->closing) {
    pthread_mutex_unlock(&s->lock);
    return;
  }
  s->closing = 1;
  pthread_mutex_unlock(&s->lock);
  /* no new connections: refused at once rather than left in the backlog */
  s->listen_fd = MHD_quiesce_daemon(s->d);
  if (s->listen_fd != MHD_INVALID_SOCKET) shutdown(s->listen_fd, SHUT_RDWR);

  struct timespec ts;
  deadline_in(&ts, grace_ms > 0 ? grace_ms : 0);
  pthread_mutex_lock(&s->lock);
  WAIT_UNTIL(s, s->live == 0, &ts);
  s->stopped = 1;
  pthread_cond_broadcast(&s->nonempty);
  /* the grace time is over: what still waits for a worker is answered 503 */
  req *forced = NULL;
  for (uint32_t i = 0; i < s->nslots; i++) {
    req *r = s->slots[i];
    if (!r || r->mhd_done || r->linking || (r->state != R_QUEUED && r->state != R_TAKEN)) continue;
    if (r->state == R_TAKEN) s->taken--;
    else s->nqueued--;
    r->resp = error_response(1, "shutting_down", "the server shut down before this request was answered");
    r->status = 503;
    r->state = R_READY;
    r->next = forced;
    forced = r;
    s->resuming++;
  }
  s->head = s->tail = NULL;
  pthread_mutex_unlock(&s->lock);
  for (req *r = forced; r;) {
    req *next = r->next; /* read before resuming: once sent, r may be freed */
    MHD_resume_connection(r->conn);
    pthread_mutex_lock(&s->lock);
    s->resuming--;
    pthread_mutex_unlock(&s->lock);
    r = next;
  }
  /* a moment for those answers to leave, and for answers being resumed */
  deadline_in(&ts, 1000);
  pthread_mutex_lock(&s->lock);
  WAIT_UNTIL(s, s->live == 0 && s->resuming == 0, &ts);
  while (s->resuming > 0) { /* never stop the daemon under a resume in progress */
    pthread_mutex_unlock(&s->lock);
    sched_yield();
    pthread_mutex_lock(&s->lock);
  }
  pthread_mutex_unlock(&s->lock);
  MHD_stop_daemon(s->d);
  s->d = NULL;
  if (s->listen_fd != MHD_INVALID_SOCKET) close(s->listen_fd);
  s->listen_fd = MHD_INVALID_SOCKET;
}

void ce_server_free(ce_server *s) {
  if (!s) return;
  if (s->d) {
    ce_server_shutdown(s, 0);
    if (s->d) MHD_stop_daemon(s->d);
  }
  for (uint32_t i = 0; s->slots && i < s->nslots; i++) req_free(s->slots[i]);
  free(s->slots);
  free(s->free_list);
  for (int i = 0; s->routes && i < s->nroutes; i++) free(s->routes[i]);
  free(s->routes);
  free(s->series);
  free(s->durations);
  if (s->healthz_ok) MHD_destroy_response(s->healthz_ok);
  pthread_cond_destroy(&s->nonempty);
  pthread_cond_destroy(&s->idle);
  pthread_mutex_destroy(&s->lock);
  free(s);
}
