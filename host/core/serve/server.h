/* SPDX-License-Identifier: MIT */
/* The HTTP server of `causal-eval serve`: a libmicrohttpd daemon that reads
 * requests, applies the limits (body and header size, JSON depth, slow
 * clients, a bounded queue), answers /healthz and /metrics itself, and hands
 * every other request to worker threads through a queue. A worker takes
 * requests, answers each by id, and the daemon sends the answer (gzip'ed
 * when the client accepts it and the body is large enough). The connection
 * waits suspended meanwhile, so a slow handler holds no daemon thread.
 *
 *   ce_server *s = ce_server_start(&cfg, &err);
 *   ce_server_req *reqs[16];
 *   int n = ce_server_take(s, reqs, 16, 100);     // in each worker thread
 *   ce_server_respond(s, reqs[0]->id, 200, hdrs, nh, body, len);
 *   ce_server_shutdown(s, 10000);                  // quiesce, drain, stop
 *   ce_server_free(s);
 */
#ifndef CE_SERVER_H
#define CE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

typedef struct {
  const char *name, *value;
} ce_header;

typedef struct {
  const char *bind;          /* IPv4 address; NULL or "": 127.0.0.1 */
  int port;                  /* 0: any free port */
  int queue_max;             /* requests waiting for a worker; one more is answered 503 */
  size_t max_body;           /* bytes; a larger body is answered 413 */
  size_t max_header;         /* bytes of request line and headers; larger: 431 (JSON; over twice it, libmicrohttpd's page) */
  unsigned max_connections;  /* open connections at once */
  unsigned client_timeout_s; /* a connection idle this long is closed (slow clients); 0: never */
  unsigned max_json_depth;   /* a body nested deeper is answered 400 before any worker sees it; 0: 64 */
  size_t gzip_min;           /* bodies longer than this are gzip'ed when the client accepts gzip */
  unsigned threads;          /* daemon threads reading sockets (0: 1) */
  int metrics_public;        /* 1: GET /metrics answered by the daemon, no token; 0: a worker answers it */
  const char *const *routes; /* path templates naming requests in metrics ("/runs/:id"); others "other" */
  int nroutes;
} ce_server_cfg;

/* A request as a worker sees it. Everything it points to stays valid until
 * the worker answers it (ce_server_respond with its id). */
typedef struct {
  uint64_t id;
  const char *method, *path, *remote;
  const ce_header *headers; /* names in lower case */
  int nheaders;
  const ce_header *query; /* decoded ?k=v pairs; a key without value has "" */
  int nquery;
  const char *body;
  size_t body_len;
} ce_server_req;

typedef struct {
  uint64_t queued;   /* waiting for a worker */
  uint64_t taken;    /* held by workers */
  uint64_t live;     /* requests read and not yet finished sending */
  uint64_t answered; /* answers sent since start */
  uint64_t rejected; /* answered by the daemon with 413, 400 (depth) or 503 */
  int closing;       /* shutdown has begun */
} ce_server_stats;

typedef struct ce_server ce_server;

/* Starts listening. NULL and err (the address and port named) on failure. */
ce_server *ce_server_start(const ce_server_cfg *cfg, ce_err *err);
int ce_server_port(const ce_server *s);

/* Up to max requests into out, waiting up to timeout_ms for the first (0:
 * no wait). Returns how many; -1 once the server is shut down and nothing
 * is left to take. */
int ce_server_take(ce_server *s, ce_server_req **out, int max, int timeout_ms);

/* Answers request id: status, headers (Content-Type defaults to
 * application/json), body (copied). 0 when sent; -1 when the request is no
 * longer waiting (the shutdown's grace time ran out and it was answered
 * 503), in which case nothing is sent. Either way, req is no longer the
 * caller's. */
int ce_server_respond(ce_server *s, uint64_t id, int status, const ce_header *h, int nh, const void *body,
                      size_t len);

/* Stops accepting connections, lets requests in progress finish for up to
 * grace_ms, answers what is left 503, and stops the daemon. Takers then get
 * -1. Idempotent. */
void ce_server_shutdown(ce_server *s, int grace_ms);

void ce_server_get_stats(ce_server *s, ce_server_stats *out);

/* Shuts down (no grace) if still running, and frees. NULL-safe. */
void ce_server_free(ce_server *s);

#endif
