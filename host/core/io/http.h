/* SPDX-License-Identifier: MIT */
/* An HTTP engine for one thread: a libcurl multi handle keeping many requests
 * in flight over reused connections (keep-alive; HTTP/2 multiplexing where a
 * TLS server offers it). Requests go in with a caller's tag; completed
 * results come out of poll() with the status, body, timings, an error class
 * for transport failures, and the rate-limit hints providers send. */
#ifndef CE_HTTP_H
#define CE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

typedef struct ce_http ce_http;

typedef struct {
  const char *method;               /* NULL: POST when there is a body, else GET */
  const char *url;
  const char *const *headers;       /* "Name: value" */
  int nheaders;
  const char *body;
  size_t body_len;
  long connect_timeout_ms;          /* 0: 10 s */
  long timeout_ms;                  /* total; 0: 60 s */
  uint64_t tag;                     /* returned with the result */
} ce_http_req;

typedef enum {
  CE_HTTP_OK = 0,       /* a response arrived (any status) */
  CE_HTTP_ETIMEOUT,     /* connect or total timeout */
  CE_HTTP_ECONNECT,     /* could not connect or resolve */
  CE_HTTP_ERESET,       /* the connection dropped: nothing or a partial response */
  CE_HTTP_ETOOLARGE,    /* the body passed the client's limit: cut off, nothing kept */
  CE_HTTP_EURL,         /* not an http:// or https:// URL libcurl can use */
  CE_HTTP_EOTHER
} ce_http_error;

/* The default bound on a response body. A model's answer is a few KB; a
 * runaway or hostile server could otherwise fill memory, the store and the
 * cache (two 100 MB replies took 1.24 GB). */
#define CE_HTTP_MAX_BODY_DEFAULT ((size_t)4 << 20)

typedef struct {
  uint64_t tag;
  int status;                       /* HTTP status; 0 without a response */
  ce_http_error error;
  char errmsg[200];
  char *body;                       /* owned, NUL-terminated; ce_http_result_free */
  size_t body_len;
  double retry_after;               /* seconds (Retry-After / retry-after-ms); -1 none */
  long remaining_requests;          /* x-ratelimit-remaining-requests, anthropic-ratelimit-requests-remaining; -1 */
  long remaining_tokens;            /* x-ratelimit-remaining-tokens, anthropic-ratelimit-tokens-remaining; -1 */
  double reset_requests;            /* seconds until the request budget resets; -1 */
  double reset_tokens;              /* seconds until the token budget resets; -1 */
  double total_time, connect_time;  /* seconds */
  long http_version;                /* 1 (1.x), 2, 3; 0 unknown */
  uint64_t bytes_sent, bytes_received;
} ce_http_result;

/* Once per process, before any thread uses the engine. */
int ce_http_global_init(ce_err *err);

/* Only http:// and https:// URLs are fetched, and no redirect leaves them. */
ce_http *ce_http_new(int max_connections, ce_err *err);
/* Bounds every later response body of h at bytes (0: the default). A larger
 * body is aborted while it arrives, never buffered whole, and fails with
 * CE_HTTP_ETOOLARGE; the message names the limit and, when given, the
 * setting that chose it (what, e.g. "run.max_response_mb"). */
void ce_http_set_max_body(ce_http *h, size_t bytes, const char *what);
void ce_http_free(ce_http *h); /* aborts what is in flight; NULL-safe */
int ce_http_submit(ce_http *h, const ce_http_req *req, ce_err *err);
int ce_http_inflight(const ce_http *h);
/* Runs transfers for up to timeout_ms (returns early when one completes) and
 * moves up to max completed results into out. Returns how many, or -1 + err. */
int ce_http_poll(ce_http *h, int timeout_ms, ce_http_result *out, int max, ce_err *err);
void ce_http_result_free(ce_http_result *r);

const char *ce_http_error_name(ce_http_error e); /* "timeout", "connect", "reset", "too_large", "bad_url", ... */

/* "1.5s", "6m0s", "20ms", "3" (seconds) as provider headers write durations: seconds or -1 */
double ce_http_parse_duration(const char *s);
/* A rate-limit reset header: a duration ("1s", "6m0s", "20ms", "0.5") or
 * an RFC 3339 time ("2026-11-26T23:40:12Z", Anthropic's form), as seconds
 * from now (never negative); -1 when unreadable. */
double ce_http_parse_reset(const char *s, double now_epoch);

/* Sends one e-mail over SMTP (smtp:// or smtps:// URL; user and password
 * may be NULL): message is the whole RFC 5322 text, headers included.
 * Blocking, within timeout_ms. 0, or -1 with err naming the server's reason. */
int ce_http_send_mail(const char *url, const char *from, const char *const *to, int nto, const char *message,
                      size_t len, long timeout_ms, const char *user, const char *password, ce_err *err);

#endif
