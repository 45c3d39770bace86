/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "core/io/http.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)
#define HUGE_BODY ((size_t)100 << 20)

static void test_parsing(void) {
  /* OpenAI's reset durations */
  CHECK(NEAR(ce_http_parse_duration("1s"), 1));
  CHECK(NEAR(ce_http_parse_duration("6m0s"), 360));
  CHECK(NEAR(ce_http_parse_duration("20ms"), 0.02));
  CHECK(NEAR(ce_http_parse_duration("1h2m3.5s"), 3723.5));
  CHECK(NEAR(ce_http_parse_duration("0.5"), 0.5));
  CHECK(ce_http_parse_duration("") < 0);
  CHECK(ce_http_parse_duration("soon") < 0);
  CHECK(ce_http_parse_duration(NULL) < 0);

  /* Anthropic's reset times, RFC 3339, relative to now */
  double now = 1795651200.0; /* 2026-11-26T00:00:00Z */
  CHECK(NEAR(ce_http_parse_reset("2026-11-26T00:00:30Z", now), 30));
  CHECK(NEAR(ce_http_parse_reset("2026-11-26T00:00:30.25Z", now), 30.25));
  CHECK(NEAR(ce_http_parse_reset("2026-11-26T01:00:30+01:00", now), 30));
  CHECK(NEAR(ce_http_parse_reset("2026-11-25T23:00:00Z", now), 0)); /* past: now */
  CHECK(NEAR(ce_http_parse_reset("250ms", now), 0.25));
  CHECK(ce_http_parse_reset("never", now) < 0);
}

/* ---- a loopback server: one reply per connection, chosen by the path ---- */

static int listen_fd, port;
static atomic_size_t last_sent; /* body bytes the last huge reply got out before the client hung up */

static int send_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
    if (k <= 0) return -1;
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

/* 100 MB of body, with a length or chunked, until the client hangs up */
static void send_huge(int fd, int chunked) {
  static char block[65536];
  memset(block, 'x', sizeof block);
  char head[200];
  snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\n%s\r\nConnection: close\r\n\r\n",
           chunked ? "Transfer-Encoding: chunked" : "Content-Length: 104857600");
  if (send_all(fd, head, strlen(head))) return;
  size_t sent = 0;
  while (sent < HUGE_BODY) {
    if (chunked && send_all(fd, "10000\r\n", 7)) break;
    if (send_all(fd, block, sizeof block)) break;
    if (chunked && send_all(fd, "\r\n", 2)) break;
    sent += sizeof block;
  }
  if (chunked && sent == HUGE_BODY) send_all(fd, "0\r\n\r\n", 5);
  atomic_store(&last_sent, sent);
}

/* a 200 reply of body (bl bytes), then the connection closed */
static void reply_ok(int c, const char *body, int bl) {
  char reply[900];
  int rl = snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%.*s", bl, bl,
                    body);
  send_all(c, reply, (size_t)rl);
  close(c);
}

static void *serve(void *ud) {
  (void)ud;
  for (;;) {
    int c = accept(listen_fd, NULL, NULL);
    if (c < 0) return NULL;
    char req[4096];
    ssize_t n = recv(c, req, sizeof req - 1, 0);
    if (n <= 0) {
      close(c);
      continue;
    }
    req[n] = '\0';
    /* the whole request: its head, then as much body as it announces */
    char *head_end;
    while (!(head_end = strstr(req, "\r\n\r\n")) && (size_t)n < sizeof req - 1) {
      ssize_t k = recv(c, req + n, sizeof req - 1 - (size_t)n, 0);
      if (k <= 0) break;
      req[n += k] = '\0';
    }
    const char *cl = strcasestr(req, "\r\ncontent-length:");
    size_t want = head_end ? (size_t)(head_end + 4 - req) + (cl && cl < head_end ? (size_t)atol(cl + 17) : 0) : 0;
    while ((size_t)n < want && (size_t)n < sizeof req - 1) {
      ssize_t k = recv(c, req + n, sizeof req - 1 - (size_t)n, 0);
      if (k <= 0) break;
      req[n += k] = '\0';
    }
    if (head_end && strstr(req, " /echo ")) {
      /* what the request was: its method, the value of its header X-A (or -), its body */
      char body[600], xa[40] = "-";
      const char *a = strcasestr(req, "\r\nx-a:");
      if (a && a < head_end) {
        a += 7;
        a += strspn(a, " ");
        snprintf(xa, sizeof xa, "a%.*s", (int)strcspn(a, "\r"), a);
      }
      int bl = snprintf(body, sizeof body, "%.*s %s %s", (int)strcspn(req, " "), req, xa, head_end + 4);
      reply_ok(c, body, bl);
      continue;
    }
    if (strncmp(req, "GET /where", 10) == 0) {
      /* the target the request was sent to */
      char body[300];
      int bl = snprintf(body, sizeof body, "%.*s", (int)strcspn(req + 4, " "), req + 4);
      reply_ok(c, body, bl);
      continue;
    }
    if (strncmp(req, "GET http://", 11) == 0) {
      /* a request through this server as a proxy: the target it was asked for */
      char body[300];
      int bl = snprintf(body, sizeof body, "proxied %.*s", (int)strcspn(req + 4, " "), req + 4);
      reply_ok(c, body, bl);
      continue;
    }
    if (strncmp(req, "GET /limits ", 12) == 0) {
      /* a provider's budget headers, in the cases providers write them */
      const char *lim = "HTTP/1.1 429 Too Many Requests\r\nServer: test\r\nRetry-After: 7\r\n"
                        "X-RateLimit-Remaining-Requests: 12\r\nx-ratelimit-remaining-tokens: 345\r\n"
                        "X-Ratelimit-Reset-Requests: 2s\r\nAnthropic-Ratelimit-Tokens-Reset: 1m30s\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n";
      send_all(c, lim, strlen(lim));
      close(c);
      continue;
    }
    if (strncmp(req, "GET /quit ", 10) == 0) {
      close(c);
      return NULL;
    }
    if (strncmp(req, "GET /length ", 12) == 0) send_huge(c, 0);
    else if (strncmp(req, "GET /chunked ", 13) == 0) send_huge(c, 1);
    else if (strncmp(req, "GET /redirect ", 14) == 0) {
      const char *moved = "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      send_all(c, moved, strlen(moved));
    } else {
      const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      send_all(c, ok, strlen(ok));
    }
    close(c);
  }
}

static int start_server(pthread_t *t) {
  listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 16) != 0 ||
      getsockname(listen_fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  port = ntohs(a.sin_port);
  return pthread_create(t, NULL, serve, NULL);
}

/* One blocking request; a refused submit comes back as a result too. */
static ce_http_result perform(ce_http *h, const ce_http_req *r) {
  ce_http_result res;
  memset(&res, 0, sizeof res);
  ce_err e;
  if (ce_http_submit(h, r, &e) != 0) {
    res.error = CE_HTTP_EOTHER;
    snprintf(res.errmsg, sizeof res.errmsg, "submit: %.150s", e.msg);
    return res;
  }
  int n;
  do n = ce_http_poll(h, 100, &res, 1, &e);
  while (n == 0);
  CHECK(n == 1);
  return res;
}

/* a client of one connection, checked */
static ce_http *client(void) {
  ce_err e;
  ce_http *h = ce_http_new(1, &e);
  CHECK(h != NULL);
  return h;
}

static ce_http_result fetch(ce_http *h, const char *path_or_url) {
  char url[300];
  if (strstr(path_or_url, "://")) snprintf(url, sizeof url, "%s", path_or_url);
  else snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path_or_url);
  ce_http_req r;
  memset(&r, 0, sizeof r);
  r.url = url;
  r.timeout_ms = 30000;
  return perform(h, &r);
}

static void test_body_limit(void) {
  ce_http *h = client();
  if (!h) return;

  /* the default: 4 MiB, refused while it arrives (a chunked body has no length to refuse up front) */
  ce_http_result r = fetch(h, "/chunked");
  CHECK(r.error == CE_HTTP_ETOOLARGE);
  CHECK_STR(ce_http_error_name(r.error), "too_large");
  CHECK_CONTAINS(r.errmsg, "larger than the 4 MiB limit");
  CHECK(r.body_len == 0);
  CHECK(r.bytes_received <= CE_HTTP_MAX_BODY_DEFAULT);
  usleep(100000); /* the server notices the hang-up */
  CHECK(atomic_load(&last_sent) < HUGE_BODY / 4);
  ce_http_result_free(&r);

  /* a bound set by a setting, which the message names */
  ce_http_set_max_body(h, (size_t)1 << 20, "run.max_response_mb");
  r = fetch(h, "/length");
  CHECK(r.error == CE_HTTP_ETOOLARGE);
  CHECK_CONTAINS(r.errmsg, "larger than the 1 MiB limit (setting run.max_response_mb)");
  CHECK(r.bytes_received <= (size_t)1 << 20);
  ce_http_result_free(&r);
  r = fetch(h, "/chunked");
  CHECK(r.error == CE_HTTP_ETOOLARGE);
  CHECK(r.bytes_received <= (size_t)1 << 20);
  ce_http_result_free(&r);

  /* a body that fits, on the same handle after the cut-off ones */
  ce_http_set_max_body(h, 2, NULL);
  r = fetch(h, "/small");
  CHECK(r.error == CE_HTTP_OK && r.status == 200 && r.body_len == 2);
  ce_http_result_free(&r);
  ce_http_set_max_body(h, 1, NULL);
  r = fetch(h, "/small");
  CHECK(r.error == CE_HTTP_ETOOLARGE);
  CHECK_CONTAINS(r.errmsg, "larger than the 1 bytes limit: cut off");
  ce_http_result_free(&r);
  ce_http_free(h);
}

/* One request with the method, a header and a body given or not. */
static ce_http_result ask(ce_http *h, const char *method, const char *header, const char *body) {
  char url[100];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
  ce_http_req r;
  memset(&r, 0, sizeof r);
  r.url = url;
  r.method = method;
  r.headers = &header;
  r.nheaders = header ? 1 : 0;
  r.body = body;
  r.body_len = body ? strlen(body) : 0;
  r.timeout_ms = 30000;
  return perform(h, &r);
}

/* A handle is reused without resetting it: nothing of one request (its
 * body, method or headers) carries over to the next. */
static void test_reuse(void) {
  ce_http *h = client();
  if (!h) return;
  static const struct {
    const char *method, *header, *body, *want;
  } steps[] = {
      {NULL, "X-A: 1", "{\"q\":1}", "POST a1 {\"q\":1}"},
      {NULL, NULL, NULL, "GET - "},
      {"DELETE", NULL, NULL, "DELETE - "},
      {NULL, "X-A: 2", "second", "POST a2 second"},
      {NULL, "X-A: 2", "2nd", "POST a2 2nd"}, /* the same headers, a shorter body */
      {NULL, "X-A: 3", "3rd", "POST a3 3rd"},
      {NULL, "X-A: 3", NULL, "GET a3 "},
      {NULL, "X-A: 3", "", "POST a3 "},
      {"PUT", NULL, "third", "PUT - third"},
      {NULL, NULL, "fourth", "POST - fourth"},
      {NULL, NULL, NULL, "GET - "},
  };
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    ce_http_result r = ask(h, steps[i].method, steps[i].header, steps[i].body);
    CHECK(r.error == CE_HTTP_OK && r.status == 200);
    if (r.body_len != strlen(steps[i].want) || memcmp(r.body, steps[i].want, r.body_len) != 0) {
      fprintf(stderr, "request %zu: the server saw \"%.*s\", not \"%s\"\n", i, (int)r.body_len, r.body, steps[i].want);
      CHECK(0);
    }
    ce_http_result_free(&r);
  }
  ce_http_free(h);
}

/* A handle keeps its URL parsed while its requests go there: each request
 * still goes where it was sent, after another URL, a URL that does not
 * parse, or one that parses but is refused. */
static void test_url_reuse(void) {
  ce_http *h = client();
  if (!h) return;
  static const char *const steps[] = {
      "/where/a", "/where/a", "/where/b?x=1", "http://[bad", "/where/c", "file:///etc/passwd", "/where/a",
      "/where/a?x=2#frag", "/where/a",
  };
  static const char *const want[] = {
      "/where/a", "/where/a", "/where/b?x=1", NULL, "/where/c", NULL, "/where/a", "/where/a?x=2", "/where/a",
  };
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    ce_http_result r = fetch(h, steps[i]);
    if (!want[i]) {
      CHECK(r.error == CE_HTTP_EURL && r.body_len == 0);
    } else if (r.error != CE_HTTP_OK || r.body_len != strlen(want[i]) || memcmp(r.body, want[i], r.body_len) != 0) {
      fprintf(stderr, "request %zu to %s: error %d, the server saw \"%.*s\"\n", i, steps[i], (int)r.error,
              (int)r.body_len, r.body ? r.body : "");
      CHECK(0);
    }
    ce_http_result_free(&r);
  }
  ce_http_free(h);
}

/* The headers that say how much a provider allows are read whatever
 * their case; the others are passed over. */
static void test_limit_headers(void) {
  ce_http *h = client();
  if (!h) return;
  ce_http_result r = fetch(h, "/limits");
  CHECK(r.error == CE_HTTP_OK && r.status == 429);
  CHECK(fabs(r.retry_after - 7) < 1e-9);
  CHECK(r.remaining_requests == 12);
  CHECK(r.remaining_tokens == 345);
  CHECK(fabs(r.reset_requests - 2) < 1e-9);
  CHECK(fabs(r.reset_tokens - 90) < 1e-9);
  ce_http_result_free(&r);
  /* a reply without them leaves them unset */
  r = fetch(h, "/small");
  CHECK(r.error == CE_HTTP_OK && r.retry_after < 0 && r.remaining_requests < 0 && r.reset_tokens < 0);
  ce_http_result_free(&r);
  ce_http_free(h);
}

static void test_protocols(void) {
  ce_http *h = client();
  if (!h) return;
  /* a base URL of file:/// once read a local file into the store */
  ce_http_result r = fetch(h, "file:///etc/passwd");
  CHECK(r.error == CE_HTTP_EURL);
  CHECK_STR(ce_http_error_name(r.error), "bad_url");
  CHECK(r.body_len == 0);
  ce_http_result_free(&r);
  char url[100];
  snprintf(url, sizeof url, "ftp://127.0.0.1:%d/", port);
  r = fetch(h, url);
  CHECK(r.error == CE_HTTP_EURL);
  ce_http_result_free(&r);
  /* a redirect is not followed, and could not reach file:// if it were */
  r = fetch(h, "/redirect");
  CHECK(r.error == CE_HTTP_OK && r.status == 302 && r.body_len == 0);
  ce_http_result_free(&r);
  ce_http_free(h);
}

/* The proxy variables still reach libcurl: a handle made while they are
 * set goes through the proxy they name, and around it for no_proxy's
 * hosts (a handle made without them says "no proxy" once, not libcurl
 * looking them up every request). */
static void test_proxy_env(void) {
  /* only the variables set here (a machine's own NO_PROXY could cover 127.0.0.2) */
  static const char *const vars[] = {"HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                     "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  char proxy[100];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", port);
  setenv("http_proxy", proxy, 1);
  ce_http *h = client();
  if (h) {
    ce_http_result r = fetch(h, "http://127.0.0.2:9/where");
    CHECK(r.error == CE_HTTP_OK && r.status == 200);
    CHECK(r.body && strcmp(r.body, "proxied http://127.0.0.2:9/where") == 0);
    ce_http_result_free(&r);
    ce_http_free(h);
  }
  setenv("no_proxy", "127.0.0.2", 1);
  h = client();
  if (h) {
    /* straight to 127.0.0.2:9, where nothing listens */
    ce_http_result r = fetch(h, "http://127.0.0.2:9/where");
    CHECK(r.error == CE_HTTP_ECONNECT);
    ce_http_result_free(&r);
    ce_http_free(h);
  }
  unsetenv("no_proxy");
  unsetenv("http_proxy");
  h = client();
  if (h) {
    ce_http_result r = fetch(h, "/echo");
    CHECK(r.error == CE_HTTP_OK && r.status == 200);
    ce_http_result_free(&r);
    ce_http_free(h);
  }
}

int main(void) {
  test_parsing();
  pthread_t server;
  if (start_server(&server) != 0) {
    fprintf(stderr, "test_http: cannot listen on loopback\n");
    return 1;
  }
  test_body_limit();
  test_reuse();
  test_url_reuse();
  test_limit_headers();
  test_protocols();
  test_proxy_env();
  ce_err e;
  ce_http *h = ce_http_new(1, &e);
  if (h) {
    ce_http_result r = fetch(h, "/quit");
    ce_http_result_free(&r);
    ce_http_free(h);
  }
  pthread_join(server, NULL);
  close(listen_fd);
  return check_report("test_http");
}
