/* SPDX-License-Identifier: MIT */
/* The API server's core against a real client (libcurl) on loopback: the
 * daemon's own answers, the queue to a worker thread, the limits, gzip,
 * metrics and shutdown with requests in flight. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "core/io/curl_lazy.h"
#include "core/serve/limits.h"
#include "core/serve/server.h"
#include "core/util/json.h"

/* ---- the pure parts ---- */

static void test_limits(void) {
  CHECK(!ce_json_too_deep("{\"a\":[1,[2]]}", 13, 3));
  CHECK(ce_json_too_deep("{\"a\":[1,[2]]}", 13, 2));
  CHECK(!ce_json_too_deep("\"[[[[[[\"", 8, 1));         /* brackets in a string */
  CHECK(!ce_json_too_deep("[\"\\\"[[[\"]", 10, 1));      /* an escaped quote does not end it */
  CHECK(!ce_json_too_deep("]]]]][", 6, 1));             /* not JSON, but no deeper than 1 */
  char deep[2001];
  memset(deep, '[', 2000);
  deep[2000] = '\0';
  CHECK(ce_json_too_deep(deep, 2000, 64));

  CHECK(ce_accepts_gzip("gzip"));
  CHECK(ce_accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
  CHECK(ce_accepts_gzip("br, GZIP"));
  CHECK(ce_accepts_gzip("*"));
  CHECK(ce_accepts_gzip("x-gzip"));
  CHECK(!ce_accepts_gzip("gzip;q=0"));
  CHECK(!ce_accepts_gzip("gzip; q=0.0, *"));
  CHECK(!ce_accepts_gzip("identity"));
  CHECK(!ce_accepts_gzip("*;q=0"));
  CHECK(!ce_accepts_gzip(""));
  CHECK(!ce_accepts_gzip(NULL));

  const char text[] = "to be compressed, to be compressed, to be compressed";
  void *z;
  size_t zn;
  CHECK(ce_gzip(text, sizeof text, 6, &z, &zn) == 0);
  unsigned char back[200];
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  inflateInit2(&zs, 15 + 16);
  zs.next_in = z;
  zs.avail_in = (uInt)zn;
  zs.next_out = back;
  zs.avail_out = sizeof back;
  CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
  CHECK(zs.total_out == sizeof text && memcmp(back, text, sizeof text) == 0);
  inflateEnd(&zs);
  free(z);
}

/* ---- a worker thread: echoes what it was given, or waits when told ---- */

static ce_server *srv;
static atomic_int paused;       /* 1: take nothing */
static atomic_int parked;       /* the worker has seen paused */
static atomic_int delay_ms;     /* before answering */
static atomic_int hold_forever; /* take, and answer only when released */
static atomic_int late_respond_rc = 1;
static atomic_int stop_worker;

static char big[8000];

static void *worker(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_worker)) {
    if (atomic_load(&paused)) {
      atomic_store(&parked, 1);
      usleep(1000);
      continue;
    }
    atomic_store(&parked, 0);
    ce_server_req *reqs[4];
    int n = ce_server_take(srv, reqs, 4, 50);
    if (n < 0) break;
    for (int i = 0; i < n; i++) {
      ce_server_req *r = reqs[i];
      if (atomic_load(&delay_ms)) usleep((useconds_t)atomic_load(&delay_ms) * 1000);
      if (atomic_load(&hold_forever)) {
        while (atomic_load(&hold_forever)) usleep(1000);
        atomic_store(&late_respond_rc, ce_server_respond(srv, r->id, 200, NULL, 0, "{}", 2));
        continue;
      }
      if (strcmp(r->path, "/big") == 0) {
        ce_header h[] = {{"Content-Type", "text/plain"}};
        ce_server_respond(srv, r->id, 200, h, 1, big, sizeof big);
        continue;
      }
      ce_buf b;
      ce_buf_init(&b);
      ce_buf_adds(&b, "{\"method\":");
      ce_json_write_string(&b, r->method, strlen(r->method));
      ce_buf_adds(&b, ",\"path\":");
      ce_json_write_string(&b, r->path, strlen(r->path));
      ce_buf_adds(&b, ",\"body\":");
      ce_json_write_string(&b, r->body, r->body_len);
      ce_buf_adds(&b, ",\"remote\":");
      ce_json_write_string(&b, r->remote, strlen(r->remote));
      for (int k = 0; k < r->nheaders; k++) {
        if (strcmp(r->headers[k].name, "x-test") == 0) {
          ce_buf_adds(&b, ",\"x-test\":");
          ce_json_write_string(&b, r->headers[k].value, strlen(r->headers[k].value));
        }
      }
      for (int k = 0; k < r->nquery; k++) {
        ce_buf_adds(&b, ",\"q.");
        ce_buf_adds(&b, r->query[k].name);
        ce_buf_adds(&b, "\":");
        ce_json_write_string(&b, r->query[k].value, strlen(r->query[k].value));
      }
      ce_buf_adds(&b, "}");
      ce_header h[] = {{"X-Handled", "worker"}};
      ce_server_respond(srv, r->id, 201, h, 1, b.data, b.len);
      ce_buf_free(&b);
    }
  }
  return NULL;
}

/* ---- the client ---- */

typedef struct {
  long status;
  ce_buf body, headers;
  CURLcode rc;
} reply;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  ce_buf_add(ud, p, size * n);
  return size * n;
}

static CURL *prepare(const char *method, const char *path, const char *body, long body_len,
                     struct curl_slist *hdrs, reply *out) {
  char url[8192]; /* room for a long query string */
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", ce_server_port(srv), path);
  CURL *c = curl_easy_init();
  memset(out, 0, sizeof *out);
  ce_buf_init(&out->body);
  ce_buf_init(&out->headers);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body_len);
  }
  if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  return c;
}

static void finish(CURL *c, reply *out) {
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  ce_buf_addc(&out->body, '\0');
  ce_buf_addc(&out->headers, '\0');
  curl_easy_cleanup(c);
}

static void fetch(const char *method, const char *path, const char *body, struct curl_slist *hdrs, reply *out) {
  CURL *c = prepare(method, path, body, body ? (long)strlen(body) : 0, hdrs, out);
  out->rc = curl_easy_perform(c);
  finish(c, out);
}

static void reply_free(reply *r) {
  ce_buf_free(&r->body);
  ce_buf_free(&r->headers);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int raw_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)ce_server_port(srv));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void start_server(int metrics_public) {
  static const char *const routes[] = {"/echo", "/runs/:id", "/big"};
  ce_server_cfg cfg = {
    .bind = "127.0.0.1", .port = 0, .queue_max = 2, .max_body = 1000, .max_header = 4096,
    .max_connections = 64, .client_timeout_s = 1, .max_json_depth = 4, .gzip_min = 1024,
    .threads = 1, .metrics_public = metrics_public, .routes = routes, .nroutes = 3,
  };
  ce_err e;
  srv = ce_server_start(&cfg, &e);
  CHECK(srv != NULL);
  if (!srv) {
    fprintf(stderr, "%s\n", e.msg);
    exit(1);
  }
  CHECK(ce_server_port(srv) > 0);
}

/* Two requests on one connection: the daemon's own answers keep it open. */
static void test_keepalive(const char *path) {
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", ce_server_port(srv), path);
  CURL *c = curl_easy_init();
  ce_buf body, headers;
  ce_buf_init(&body);
  ce_buf_init(&headers);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &headers);
  long connects = -1, status = 0;
  CHECK(curl_easy_perform(c) == CURLE_OK);
  CHECK(curl_easy_perform(c) == CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
  CHECK(status == 200 || status == 201);
  CHECK(connects == 0); /* the second request reused the first one's connection */
  ce_buf_addc(&headers, '\0');
  CHECK(!strstr(headers.data, "Connection: close"));
  curl_easy_cleanup(c);
  ce_buf_free(&body);
  ce_buf_free(&headers);
}

static void test_requests(void) {
  reply r;
  fetch("GET", "/healthz", NULL, NULL, &r);
  CHECK(r.status == 200);
  CHECK_STR(r.body.data, "{\"status\":\"ok\"}");
  reply_free(&r);
  test_keepalive("/healthz");
  test_keepalive("/metrics");
  test_keepalive("/echo");

  fetch("POST", "/healthz", "x", NULL, &r);
  CHECK(r.status == 405);
  CHECK_CONTAINS(r.body.data, "\"code\":\"method_not_allowed\"");
  reply_free(&r);

  struct curl_slist *h = curl_slist_append(NULL, "X-Test: Value 1");
  fetch("POST", "/echo?a=1&b=two%20words&flag", "{\"q\":[1,2]}", h, &r);
  curl_slist_free_all(h);
  CHECK(r.status == 201);
  CHECK_CONTAINS(r.body.data, "\"method\":\"POST\"");
  CHECK_CONTAINS(r.body.data, "\"path\":\"/echo\"");
  CHECK_CONTAINS(r.body.data, "\"body\":\"{\\\"q\\\":[1,2]}\"");
  CHECK_CONTAINS(r.body.data, "\"remote\":\"127.0.0.1\"");
  CHECK_CONTAINS(r.body.data, "\"x-test\":\"Value 1\"");
  CHECK_CONTAINS(r.body.data, "\"q.b\":\"two words\"");
  CHECK_CONTAINS(r.body.data, "\"q.flag\":\"\"");
  CHECK_CONTAINS(r.headers.data, "X-Handled: worker");
  CHECK_CONTAINS(r.headers.data, "Content-Type: application/json");
  reply_free(&r);

}

static void test_metrics_to_worker(void) {
  /* /metrics is a worker's unless the daemon is told to answer it */
  reply r;
  fetch("GET", "/metrics", NULL, NULL, &r);
  CHECK(r.status == 201);
  CHECK_CONTAINS(r.body.data, "\"path\":\"/metrics\"");
  reply_free(&r);
}

static void test_limits_over_http(void) {
  reply r;
  /* Content-Length over the limit: 413 before the body is read */
  char body[1500];
  memset(body, ' ', sizeof body - 1);
  body[0] = '[';
  body[sizeof body - 2] = ']';
  body[sizeof body - 1] = '\0';
  fetch("POST", "/echo", body, NULL, &r);
  CHECK(r.status == 413);
  CHECK_CONTAINS(r.body.data, "\"code\":\"payload_too_large\"");
  CHECK_CONTAINS(r.body.data, "api.max_body_kb");
  reply_free(&r);

  /* a chunked body (no length) that grows past the limit: 413 at its end */
  struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
  fetch("POST", "/echo", body, h, &r);
  curl_slist_free_all(h);
  CHECK(r.status == 413);
  CHECK_CONTAINS(r.body.data, "\"code\":\"payload_too_large\"");
  reply_free(&r);

  /* exactly at the limit passes */
  body[999] = '\0';
  body[998] = ']';
  fetch("POST", "/echo", body, NULL, &r);
  CHECK(r.status == 201);
  reply_free(&r);

  /* nested deeper than max_json_depth: 400 naming the setting */
  fetch("POST", "/echo", "{\"a\":[[[[1]]]]}", NULL, &r);
  CHECK(r.status == 400);
  CHECK_CONTAINS(r.body.data, "\"code\":\"too_deep\"");
  CHECK_CONTAINS(r.body.data, "api.max_json_depth");
  reply_free(&r);
  fetch("POST", "/echo", "{\"a\":[[[1]]]}", NULL, &r);
  CHECK(r.status == 201);
  reply_free(&r);

  /* headers over the limit that fit the connection's pool: our JSON 431 */
  char hv6[6000];
  memcpy(hv6, "X-Big: ", 7);
  memset(hv6 + 7, 'b', sizeof hv6 - 8);
  hv6[sizeof hv6 - 1] = '\0';
  h = curl_slist_append(NULL, hv6);
  fetch("GET", "/echo", NULL, h, &r);
  curl_slist_free_all(h);
  CHECK(r.status == 431);
  CHECK_CONTAINS(r.body.data, "\"code\":\"headers_too_large\"");
  CHECK_CONTAINS(r.body.data, "api.max_header_kb");
  reply_free(&r);
  /* one just under the limit passes */
  memset(hv6 + 7, 'c', 3900 - 8);
  hv6[3900 - 1] = '\0';
  h = curl_slist_append(NULL, hv6);
  fetch("GET", "/echo", NULL, h, &r);
  curl_slist_free_all(h);
  CHECK(r.status == 200 || r.status == 201);
  reply_free(&r);

  /* a query string counts too: url is the path alone, and 6 KB of query
   * went through a 4 KB limit */
  char q6[6000];
  memcpy(q6, "/echo?x=", 8);
  memset(q6 + 8, 'q', sizeof q6 - 9);
  q6[sizeof q6 - 1] = '\0';
  fetch("GET", q6, NULL, NULL, &r);
  CHECK(r.status == 431);
  CHECK_CONTAINS(r.body.data, "\"code\":\"headers_too_large\"");
  reply_free(&r);

  /* headers over the pool: libmicrohttpd's own 431 */
  char *hv = malloc(9000);
  memcpy(hv, "X-Big: ", 7);
  memset(hv + 7, 'a', 8990);
  hv[8997] = '\0';
  h = curl_slist_append(NULL, hv);
  fetch("GET", "/echo", NULL, h, &r);
  curl_slist_free_all(h);
  free(hv);
  CHECK(r.status == 431);
  reply_free(&r);

  /* two Content-Lengths that disagree: 400, not the first one taken (a
   * proxy that took the other would see the rest as a request of its own) */
  int cfd = raw_connect();
  CHECK(cfd >= 0);
  if (cfd >= 0) {
    const char *twice = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}";
    CHECK(send(cfd, twice, strlen(twice), MSG_NOSIGNAL) == (ssize_t)strlen(twice));
    char ans[2048];
    size_t have = 0;
    struct pollfd p = {cfd, POLLIN, 0};
    while (have < sizeof ans - 1 && poll(&p, 1, 5000) == 1) {
      ssize_t got = recv(cfd, ans + have, sizeof ans - 1 - have, 0);
      if (got <= 0) break;
      have += (size_t)got;
    }
    ans[have] = '\0';
    CHECK_CONTAINS(ans, "HTTP/1.1 400");
    CHECK_CONTAINS(ans, "Content-Length given twice with different values");
    close(cfd);
  }

  /* a slow client: half a request line, then nothing; closed after the timeout */
  int fd = raw_connect();
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK(send(fd, "GET /echo HT", 12, MSG_NOSIGNAL) == 12);
    double t0 = now();
    struct pollfd p = {fd, POLLIN, 0};
    int ready = poll(&p, 1, 5000);
    char buf[64];
    ssize_t got = ready > 0 ? recv(fd, buf, sizeof buf, 0) : -2;
    CHECK(ready == 1 && got <= 0); /* closed (0) or reset (-1), without an answer */
    CHECK(now() - t0 < 4);
    close(fd);
  }
}

static int inflate_equals(const ce_buf *z, const char *want, size_t n) {
  char *out = malloc(n + 16);
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  inflateInit2(&zs, 15 + 16);
  zs.next_in = (Bytef *)z->data;
  zs.avail_in = (uInt)(z->len - 1); /* the '\0' finish() added */
  zs.next_out = (Bytef *)out;
  zs.avail_out = (uInt)(n + 16);
  int ok = inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out == n && memcmp(out, want, n) == 0;
  inflateEnd(&zs);
  free(out);
  return ok;
}

static void test_gzip(void) {
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
  reply r;
  struct curl_slist *h = curl_slist_append(NULL, "Accept-Encoding: gzip");
  fetch("GET", "/big", NULL, h, &r);
  curl_slist_free_all(h);
  CHECK(r.status == 200);
  CHECK_CONTAINS(r.headers.data, "Content-Encoding: gzip");
  CHECK_CONTAINS(r.headers.data, "Vary: Accept-Encoding");
  CHECK_CONTAINS(r.headers.data, "Content-Type: text/plain");
  CHECK(r.body.len - 1 < sizeof big / 4);
  CHECK(inflate_equals(&r.body, big, sizeof big));
  reply_free(&r);

  h = curl_slist_append(NULL, "Accept-Encoding: gzip;q=0, identity");
  fetch("GET", "/big", NULL, h, &r);
  curl_slist_free_all(h);
  CHECK(r.status == 200);
  CHECK(!strstr(r.headers.data, "Content-Encoding"));
  CHECK_CONTAINS(r.headers.data, "Vary: Accept-Encoding");
  CHECK(r.body.len - 1 == sizeof big);
  reply_free(&r);

  /* small bodies are sent as they are */
  h = curl_slist_append(NULL, "Accept-Encoding: gzip");
  fetch("GET", "/echo", NULL, h, &r);
  curl_slist_free_all(h);
  CHECK(r.status == 201);
  CHECK(!strstr(r.headers.data, "Content-Encoding"));
  CHECK(!strstr(r.headers.data, "Vary"));
  reply_free(&r);
}

/* Several requests at once on a multi handle: statuses in the order added. */
static void fetch_many(int n, const char *path, reply *out) {
  CURLM *m = curl_multi_init();
  CURL *c[8];
  for (int i = 0; i < n; i++) {
    c[i] = prepare("GET", path, NULL, 0, NULL, &out[i]);
    curl_multi_add_handle(m, c[i]);
  }
  int running = 1;
  while (running) {
    curl_multi_perform(m, &running);
    if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  for (int i = 0; i < n; i++) {
    curl_multi_remove_handle(m, c[i]);
    finish(c[i], &out[i]);
  }
  curl_multi_cleanup(m);
}

typedef struct {
  int n;
  const char *path;
  reply out[8];
} batch;

static void *batch_thread(void *arg) {
  batch *b = arg;
  fetch_many(b->n, b->path, b->out);
  return NULL;
}

static void test_queue_full(void) {
  /* the worker takes nothing: two wait in the queue, the third is refused */
  atomic_store(&paused, 1);
  while (!atomic_load(&parked)) usleep(1000);
  batch b = {3, "/echo", {{0}}};
  pthread_t t;
  pthread_create(&t, NULL, batch_thread, &b);
  ce_server_stats st;
  for (int i = 0; i < 500; i++) {
    ce_server_get_stats(srv, &st);
    if (st.queued == 2 && st.rejected > 0) break;
    usleep(10000);
  }
  CHECK(st.queued == 2);
  atomic_store(&paused, 0);
  pthread_join(t, NULL);
  int ok = 0, full = 0;
  for (int i = 0; i < 3; i++) {
    if (b.out[i].status == 201) ok++;
    if (b.out[i].status == 503) {
      full++;
      CHECK_CONTAINS(b.out[i].body.data, "\"code\":\"queue_full\"");
      CHECK_CONTAINS(b.out[i].headers.data, "Retry-After: 1");
    }
    reply_free(&b.out[i]);
  }
  CHECK(ok == 2 && full == 1);
}

static void test_metrics(void) {
  reply r;
  fetch("GET", "/healthz", NULL, NULL, &r);
  reply_free(&r);
  fetch("GET", "/runs/abc", NULL, NULL, &r);
  reply_free(&r);
  fetch("GET", "/metrics", NULL, NULL, &r);
  CHECK(r.status == 200);
  CHECK_CONTAINS(r.headers.data, "Content-Type: text/plain; version=0.0.4");
  CHECK_CONTAINS(r.body.data, "causal_eval_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}");
  CHECK_CONTAINS(r.body.data, "causal_eval_http_requests_total{route=\"/runs/:id\",method=\"GET\",status=\"201\"}");
  CHECK_CONTAINS(r.body.data, "causal_eval_http_request_duration_seconds_bucket{route=\"/runs/:id\",le=\"0.5\"}");
  CHECK_CONTAINS(r.body.data, "causal_eval_http_rejected_total{reason=\"queue_full\"} 1");
  CHECK_CONTAINS(r.body.data, "causal_eval_http_queue_depth 0");
  CHECK_CONTAINS(r.body.data, "causal_eval_memory_bytes ");
  reply_free(&r);
}

typedef struct {
  reply r;
} one;

static void *one_thread(void *arg) {
  one *o = arg;
  fetch("POST", "/echo", "{\"slow\":true}", NULL, &o->r);
  return NULL;
}

static void test_shutdown(void) {
  /* a request in flight when shutdown begins completes; new connections are refused */
  atomic_store(&delay_ms, 400);
  one o;
  pthread_t t;
  pthread_create(&t, NULL, one_thread, &o);
  ce_server_stats st;
  for (int i = 0; i < 500; i++) {
    ce_server_get_stats(srv, &st);
    if (st.taken == 1) break;
    usleep(2000);
  }
  CHECK(st.taken == 1);
  int port = ce_server_port(srv);
  double t0 = now();
  ce_server_shutdown(srv, 5000);
  double took = now() - t0;
  pthread_join(t, NULL);
  CHECK(o.r.status == 201);
  CHECK_CONTAINS(o.r.body.data, "\"slow\\\":true");
  CHECK_CONTAINS(o.r.headers.data, "Connection: close");
  CHECK(took < 3);
  reply_free(&o.r);
  atomic_store(&delay_ms, 0);
  ce_server_req *reqs[1];
  CHECK(ce_server_take(srv, reqs, 1, 10) == -1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) != 0);
  close(fd);
}

static void test_grace_runs_out(void) {
  /* a handler that never answers: the grace time ends it with 503 */
  atomic_store(&hold_forever, 1);
  one o;
  pthread_t t;
  pthread_create(&t, NULL, one_thread, &o);
  ce_server_stats st;
  for (int i = 0; i < 500; i++) {
    ce_server_get_stats(srv, &st);
    if (st.taken == 1) break;
    usleep(2000);
  }
  CHECK(st.taken == 1);
  double t0 = now();
  ce_server_shutdown(srv, 300);
  double took = now() - t0;
  pthread_join(t, NULL);
  CHECK(took >= 0.25 && took < 3);
  CHECK(o.r.status == 503);
  CHECK_CONTAINS(o.r.body.data, "\"code\":\"shutting_down\"");
  reply_free(&o.r);
  atomic_store(&hold_forever, 0);
  for (int i = 0; i < 500 && atomic_load(&late_respond_rc) == 1; i++) usleep(2000);
  CHECK(atomic_load(&late_respond_rc) == -1); /* the late answer goes nowhere */
}

int main(void) {
  test_limits();
  ce_err e;
  if (ce_curl_load(&e) != 0) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  start_server(1);
  pthread_t w;
  pthread_create(&w, NULL, worker, NULL);
  test_requests();
  test_limits_over_http();
  test_gzip();
  test_queue_full();
  test_metrics();
  test_shutdown();
  atomic_store(&stop_worker, 1);
  pthread_join(w, NULL);

  ce_server_free(srv);
  start_server(0);
  atomic_store(&stop_worker, 0);
  pthread_create(&w, NULL, worker, NULL);
  test_metrics_to_worker();
  test_grace_runs_out();
  atomic_store(&stop_worker, 1);
  pthread_join(w, NULL);
  ce_server_free(srv);
  return check_report("test_server");
}
