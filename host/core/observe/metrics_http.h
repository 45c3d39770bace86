/* SPDX-License-Identifier: MIT */
/* Prometheus exposition over HTTP: GET /metrics on a libmicrohttpd listener
 * (loaded on first use, like libcurl: its TLS dependencies would cost every
 * start of the program). */
#ifndef CE_METRICS_HTTP_H
#define CE_METRICS_HTTP_H

#include "core/util/err.h"

typedef struct ce_metrics_server ce_metrics_server;

/* bind: an IPv4 address ("127.0.0.1" by default); port 0 picks a free one. */
ce_metrics_server *ce_metrics_serve(const char *bind, int port, ce_err *err);
int ce_metrics_server_port(ce_metrics_server *s);
void ce_metrics_server_stop(ce_metrics_server *s);

#endif
