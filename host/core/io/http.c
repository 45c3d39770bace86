/* SPDX-License-Identifier: MIT */
#include "core/io/http.h"
#include "core/observe/profile.h"

#include "core/io/curl_lazy.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "core/util/json.h"

typedef struct transfer {
  struct transfer *next, *prev; /* the active list, or (next only) the free list */
  CURL *easy;
  struct curl_slist *headers;
  CURLU *url;     /* the URL the handle sends to, parsed (set as CURLOPT_CURLU) */
  char *url_text; /* ... and as it was given; NULL while the handle takes CURLOPT_URL */
  ce_buf sent; /* the request's body, held for the transfer (its buffer used again) */
  ce_buf body;
  size_t max_body;
  int too_large; /* the body passed max_body: on_body aborted the transfer */
  ce_http_result res;
} transfer;

struct ce_http {
  CURLM *multi;
  transfer *free_list;
  transfer *active; /* in the multi handle: freed by ce_http_free if never finished */
  int inflight;
  size_t max_body;
  char max_body_what[64]; /* the setting named in the too-large message; "" none */
};

int ce_http_global_init(ce_err *err) { return ce_curl_load(err); }

const char *ce_http_error_name(ce_http_error e) {
  switch (e) {
    case CE_HTTP_OK: return "ok";
    case CE_HTTP_ETIMEOUT: return "timeout";
    case CE_HTTP_ECONNECT: return "connect";
    case CE_HTTP_ERESET: return "reset";
    case CE_HTTP_ETOOLARGE: return "too_large";
    case CE_HTTP_EURL: return "bad_url";
    default: return "transport";
  }
}

double ce_http_parse_duration(const char *s) {
  if (!s) return -1;
  while (*s == ' ') s++;
  if (!*s) return -1;
  double total = 0;
  int any = 0;
  while (*s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s) return any ? total : -1;
    any = 1;
    s = end;
    if (*s == 'h') { total += v * 3600; s++; }
    else if (*s == 'm' && s[1] == 's') { total += v / 1000; s += 2; }
    else if (*s == 'm') { total += v * 60; s++; }
    else if (*s == 's') { total += v; s++; }
    else { total += v; break; } /* a bare number: seconds */
  }
  return total;
}

double ce_http_parse_reset(const char *s, double now_epoch) {
  if (!s) return -1;
  while (*s == ' ') s++;
  int y, mo, d, h, mi;
  double sec;
  char tail[16] = "";
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, tail) >= 6) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    double t = (double)timegm(&tm) + sec;
    /* an offset other than Z: "+hh:mm" or "-hh:mm" */
    int oh, om;
    if ((tail[0] == '+' || tail[0] == '-') && sscanf(tail + 1, "%2d:%2d", &oh, &om) == 2)
      t -= (tail[0] == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
    double left = t - now_epoch;
    return left > 0 ? left : 0;
  }
  return ce_http_parse_duration(s);
}

/* Returning less than len aborts the transfer: on out of memory, and as
 * soon as the body passes its bound (a chunked body announces no length for
 * CURLOPT_MAXFILESIZE to refuse up front). */
static size_t on_body(char *ptr, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  if (len > t->max_body - t->body.len) {
    t->too_large = 1;
    return 0;
  }
  ce_buf_add(&t->body, ptr, len);
  return t->body.oom ? 0 : len;
}

static int header_is(const char *line, size_t len, const char *name, const char **value) {
  size_t n = strlen(name);
  if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':') return 0;
  *value = line + n + 1;
  while (**value == ' ') (*value)++;
  return 1;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  char buf[256];
  if (len >= sizeof buf) return len;
  /* the headers read here start with r, x or a; a reply's others (date,
   * server, content-type, ...) were each compared with all twelve names */
  char first = len ? (char)(line[0] | 0x20) : 0;
  if (first != 'r' && first != 'x' && first != 'a') return len;
  memcpy(buf, line, len);
  buf[len] = '\0';
  while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) buf[--len] = '\0';
  const char *v;
  if (header_is(buf, len, "retry-after-ms", &v)) t->res.retry_after = atof(v) / 1000.0;
  else if (header_is(buf, len, "retry-after", &v)) {
    /* seconds; an HTTP date is rare from model APIs and read as "soon" */
    t->res.retry_after = isdigit((unsigned char)*v) ? atof(v) : 1.0;
  } else if (header_is(buf, len, "x-ratelimit-remaining-requests", &v) ||
             header_is(buf, len, "anthropic-ratelimit-requests-remaining", &v)) {
    t->res.remaining_requests = atol(v);
  } else if (header_is(buf, len, "x-ratelimit-remaining-tokens", &v) ||
             header_is(buf, len, "anthropic-ratelimit-tokens-remaining", &v)) {
    t->res.remaining_tokens = atol(v);
  } else if (header_is(buf, len, "x-ratelimit-reset-requests", &v) ||
             header_is(buf, len, "anthropic-ratelimit-requests-reset", &v)) {
    t->res.reset_requests = ce_http_parse_reset(v, (double)time(NULL));
  } else if (header_is(buf, len, "x-ratelimit-reset-tokens", &v) ||
             header_is(buf, len, "anthropic-ratelimit-tokens-reset", &v)) {
    t->res.reset_tokens = ce_http_parse_reset(v, (double)time(NULL));
  }
  return size * n;
}

ce_http *ce_http_new(int max_connections, ce_err *err) {
  if (ce_http_global_init(err)) return NULL;
  ce_http *h = calloc(1, sizeof *h);
  if (!h) {
    ce_err_setf(err, 1, "http", 0, 0, "out of memory");
    return NULL;
  }
  h->multi = curl_multi_init();
  if (!h->multi) {
    free(h);
    ce_err_setf(err, 1, "http", 0, 0, "curl_multi_init failed");
    return NULL;
  }
  if (max_connections < 1) max_connections = 1;
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_connections);
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)max_connections);
  curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  h->max_body = CE_HTTP_MAX_BODY_DEFAULT;
  return h;
}

void ce_http_set_max_body(ce_http *h, size_t bytes, const char *what) {
  h->max_body = bytes ? bytes : CE_HTTP_MAX_BODY_DEFAULT;
  snprintf(h->max_body_what, sizeof h->max_body_what, "%s", what ? what : "");
}

/* http and https only, for the URL and any redirect: a base URL of
 * file:///... once read a local file into the store. The string form is
 * libcurl 7.85+; older ones (7.66 is the floor) take the bitmask. */
static int only_http(CURL *e) {
  if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
      curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK)
    return 0;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  long mask = CURLPROTO_HTTP | CURLPROTO_HTTPS;
  if (curl_easy_setopt(e, CURLOPT_PROTOCOLS, mask) == CURLE_OK &&
      curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, mask) == CURLE_OK)
    return 0;
#pragma GCC diagnostic pop
  return -1;
}

static void transfer_free(transfer *t) {
  if (!t) return;
  if (t->easy) curl_easy_cleanup(t->easy);
  if (t->url) curl_url_cleanup(t->url);
  free(t->url_text);
  curl_slist_free_all(t->headers);
  ce_buf_free(&t->sent);
  ce_buf_free(&t->body);
  free(t->res.body);
  free(t);
}

static void unlink_active(ce_http *h, transfer *t) {
  if (t->prev) t->prev->next = t->next;
  else h->active = t->next;
  if (t->next) t->next->prev = t->prev;
  t->next = t->prev = NULL;
}

void ce_http_free(ce_http *h) {
  if (!h) return;
  while (h->active) {
    transfer *t = h->active;
    unlink_active(h, t);
    curl_multi_remove_handle(h->multi, t->easy);
    transfer_free(t);
  }
  transfer *t = h->free_list;
  while (t) {
    transfer *next = t->next;
    transfer_free(t);
    t = next;
  }
  if (h->multi) curl_multi_cleanup(h->multi);
  free(h);
}

/* libcurl looks the proxy variables up in the environment for every
 * request (five getenv calls, each a walk of the environment: 1,700
 * instructions a request of `run`). With none of them set, "no proxy" is
 * the answer it would find, said once per handle; with any of them set,
 * libcurl reads them as before. */
static int proxy_env_set(void) {
  static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                     "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

/* The options every request of a handle shares, set once when it is made:
 * a handle is reused without curl_easy_reset, which cleared them all and
 * had them set again (the protocol list parsed from text each time) for
 * every request. What differs between requests is set in ce_http_submit,
 * each time, absent ones included. */
static int set_constant(transfer *t) {
  CURL *e = t->easy;
  if (only_http(e) != 0) return -1;
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  if (!proxy_env_set()) {
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
  return 0;
}

/* 1 when l is the list of headers req sends (ending with "Expect:" when it
 * sends a body): a run's requests to one model send the same, and a
 * handle keeps its list rather than making it again, two allocations a
 * header a request. */
static int same_headers(const struct curl_slist *l, const ce_http_req *req) {
  for (int i = 0; i < req->nheaders; i++, l = l->next)
    if (!l || strcmp(l->data, req->headers[i]) != 0) return 0;
  if (req->body) {
    if (!l || strcmp(l->data, "Expect:") != 0) return 0;
    l = l->next;
  }
  return l == NULL;
}

/* Points the handle at url, parsed once for as long as its requests go
 * there: given as text (CURLOPT_URL), the URL was parsed again for every
 * request, a sixth of libcurl's instructions a request (tools/bench/
 * http_floor.c under callgrind). With the flags libcurl parses a URL text
 * with, so the parts are the same. 0 when url does not parse: the handle
 * then takes the text, and libcurl's refusal of it is the request's error,
 * as before. */
static int point_at(transfer *t, const char *url) {
  if (t->url_text && strcmp(t->url_text, url) == 0) return 1;
  free(t->url_text);
  t->url_text = NULL;
  if (!t->url && !(t->url = curl_url())) return 0;
  char *copy = strdup(url);
  if (!copy || curl_url_set(t->url, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    free(copy);
    curl_easy_setopt(t->easy, CURLOPT_CURLU, NULL);
    return 0;
  }
  t->url_text = copy;
  curl_easy_setopt(t->easy, CURLOPT_CURLU, t->url);
  return 1;
}

int ce_http_submit(ce_http *h, const ce_http_req *req, ce_err *err) {
  transfer *t = h->free_list;
  if (t) {
    h->free_list = t->next;
  } else {
    t = calloc(1, sizeof *t);
    if (!t || !(t->easy = curl_easy_init())) {
      free(t);
      ce_err_setf(err, 1, "http", 0, 0, "out of memory");
      return -1;
    }
    ce_buf_init(&t->body);
    ce_buf_init(&t->sent);
    if (set_constant(t) != 0) {
      transfer_free(t);
      ce_err_setf(err, 1, "http", 0, 0, "libcurl cannot restrict requests to http and https");
      return -1;
    }
  }
  t->next = NULL;
  t->body.len = 0;
  t->body.oom = 0;
  t->max_body = h->max_body;
  t->too_large = 0;
  if (!same_headers(t->headers, req)) {
    curl_slist_free_all(t->headers);
    t->headers = NULL;
  }
  memset(&t->res, 0, sizeof t->res);
  t->res.tag = req->tag;
  t->res.retry_after = -1;
  t->res.remaining_requests = -1;
  t->res.remaining_tokens = -1;
  t->res.reset_requests = -1;
  t->res.reset_tokens = -1;

  CURL *e = t->easy;
  if (!point_at(t, req->url)) curl_easy_setopt(e, CURLOPT_URL, req->url);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
  int ok = 1;
  if (!t->headers) { /* (a list kept from the last request is the same) */
    for (int i = 0; i < req->nheaders && ok; i++) {
      struct curl_slist *l = curl_slist_append(t->headers, req->headers[i]);
      if (!l) ok = 0;
      else t->headers = l;
    }
    if (ok && req->body) {
      /* no "Expect: 100-continue" round trip before a large body */
      struct curl_slist *l = curl_slist_append(t->headers, "Expect:");
      if (!l) ok = 0;
      else t->headers = l;
    }
  }
  if (ok && req->body) {
    t->sent.len = 0;
    t->sent.oom = 0; /* (a buffer that once ran out refuses every append after) */
    ce_buf_add(&t->sent, req->body, req->body_len);
    if (t->sent.oom) ok = 0;
  }
  if (!ok) {
    t->next = h->free_list;
    h->free_list = t;
    ce_err_setf(err, 1, "http", 0, 0, "out of memory");
    return -1;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  if (req->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->sent.data ? t->sent.data : "");
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* the handle's last request may have been a POST */
  }
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method); /* NULL: the method the body implies */
  CURLMcode mc = curl_multi_add_handle(h->multi, e);
  if (mc != CURLM_OK) {
    t->next = h->free_list;
    h->free_list = t;
    ce_err_setf(err, 1, "http", 0, 0, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    return -1;
  }
  t->prev = NULL;
  t->next = h->active;
  if (h->active) h->active->prev = t;
  h->active = t;
  h->inflight++;
  return 0;
}

int ce_http_inflight(const ce_http *h) { return h->inflight; }

static ce_http_error classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OK: return CE_HTTP_OK;
    case CURLE_OPERATION_TIMEDOUT: return CE_HTTP_ETIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return CE_HTTP_ECONNECT;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return CE_HTTP_ERESET;
    case CURLE_FILESIZE_EXCEEDED: return CE_HTTP_ETOOLARGE;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return CE_HTTP_EURL;
    default: return CE_HTTP_EOTHER;
  }
}

static void too_large_message(const ce_http *h, const transfer *t, char *out, size_t size) {
  char limit[48];
  if (t->max_body % (1u << 20) == 0) snprintf(limit, sizeof limit, "%zu MiB", t->max_body >> 20);
  else snprintf(limit, sizeof limit, "%zu bytes", t->max_body);
  if (h->max_body_what[0])
    snprintf(out, size, "the reply is larger than the %s limit (setting %s): cut off", limit, h->max_body_what);
  else
    snprintf(out, size, "the reply is larger than the %s limit: cut off", limit);
}

static void finish(ce_http *h, CURLMsg *msg, ce_http_result *out) {
  CURL *e = msg->easy_handle;
  transfer *t = NULL;
  curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
  CURLcode rc = msg->data.result;
  ce_http_result *r = &t->res;
  r->error = t->too_large ? CE_HTTP_ETOOLARGE : classify(rc);
  if (r->error == CE_HTTP_ETOOLARGE) too_large_message(h, t, r->errmsg, sizeof r->errmsg);
  else if (rc != CURLE_OK) snprintf(r->errmsg, sizeof r->errmsg, "%s", curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  r->status = rc == CURLE_OK ? (int)status : 0;
  curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &r->total_time);
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME, &r->connect_time);
  long ver = 0;
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver);
  r->http_version = ver == CURL_HTTP_VERSION_2_0 ? 2 : ver == CURL_HTTP_VERSION_3 ? 3 : ver ? 1 : 0;
  curl_off_t up = 0, down = 0;
  curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
  r->bytes_sent = (uint64_t)up;
  r->bytes_received = (uint64_t)down;
  ce_io_count(CE_IO_HTTP, 1, (uint64_t)up + (uint64_t)down, r->total_time);
  /* hand the body over without copying; the transfer keeps an empty buffer */
  if (t->body.data && !t->body.oom && r->error != CE_HTTP_ETOOLARGE) {
    r->body = t->body.data;
    r->body_len = t->body.len;
    ce_buf_init(&t->body);
  } else {
    r->body = calloc(1, 1);
    r->body_len = 0;
    if (t->body.oom) {
      r->error = CE_HTTP_EOTHER;
      snprintf(r->errmsg, sizeof r->errmsg, "out of memory reading the response");
    }
    ce_buf_free(&t->body);
  }
  *out = *r;
  r->body = NULL;
  curl_multi_remove_handle(h->multi, e);
  unlink_active(h, t);
  t->next = h->free_list; /* the easy handle is reused: its connection stays pooled */
  h->free_list = t;
  h->inflight--;
}

int ce_http_poll(ce_http *h, int timeout_ms, ce_http_result *out, int max, ce_err *err) {
  int running = 0, got = 0;
  CURLMcode mc = curl_multi_perform(h->multi, &running);
  if (mc != CURLM_OK) {
    ce_err_setf(err, 1, "http", 0, 0, "curl_multi_perform: %s", curl_multi_strerror(mc));
    return -1;
  }
  for (int round = 0; round < 2; round++) {
    CURLMsg *msg;
    int left;
    while (got < max && (msg = curl_multi_info_read(h->multi, &left)) != NULL) {
      if (msg->msg == CURLMSG_DONE) finish(h, msg, &out[got++]);
    }
    if (got > 0 || h->inflight == 0 || round == 1) break;
    mc = curl_multi_poll(h->multi, NULL, 0, timeout_ms, NULL);
    if (mc == CURLM_OK) mc = curl_multi_perform(h->multi, &running);
    if (mc != CURLM_OK) {
      ce_err_setf(err, 1, "http", 0, 0, "curl_multi_poll: %s", curl_multi_strerror(mc));
      return -1;
    }
  }
  return got;
}

void ce_http_result_free(ce_http_result *r) {
  if (!r) return;
  free(r->body);
  r->body = NULL;
}

/* ---- e-mail ---- */

typedef struct {
  const char *data;
  size_t len, pos;
} mail_src;

static size_t mail_read(char *buf, size_t size, size_t n, void *ud) {
  mail_src *m = ud;
  size_t room = size * n, left = m->len - m->pos;
  size_t k = left < room ? left : room;
  memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return k;
}

int ce_http_send_mail(const char *url, const char *from, const char *const *to, int nto, const char *message,
                      size_t len, long timeout_ms, const char *user, const char *password, ce_err *err) {
  if (ce_http_global_init(err)) return -1;
  CURL *e = curl_easy_init();
  if (!e) {
    ce_err_setf(err, 1, "mail", 0, 0, "curl_easy_init failed");
    return -1;
  }
  struct curl_slist *rcpt = NULL;
  for (int i = 0; i < nto; i++) rcpt = curl_slist_append(rcpt, to[i]);
  mail_src src = {message, len, 0};
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, mail_read);
  curl_easy_setopt(e, CURLOPT_READDATA, &src);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  if (user) curl_easy_setopt(e, CURLOPT_USERNAME, user);
  if (password) curl_easy_setopt(e, CURLOPT_PASSWORD, password);
  double t0 = ce_io_now();
  CURLcode rc = curl_easy_perform(e);
  ce_io_count(CE_IO_SMTP, 1, len, ce_io_now() - t0);
  if (rc != CURLE_OK)
    ce_err_setf(err, 1, "mail", 0, 0, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(e);
  return rc == CURLE_OK ? 0 : -1;
}
