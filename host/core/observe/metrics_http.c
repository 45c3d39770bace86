/* SPDX-License-Identifier: MIT */
#include "core/observe/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/mhd_lazy.h"
#include "core/util/json.h"
#include "core/observe/metrics.h"

/* ---- the listener ---- */

struct ce_metrics_server {
  struct MHD_Daemon *d;
  int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t n) {
  struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)cls, (void)version, (void)upload;
  if (!*con_cls) { /* first call: headers only */
    *con_cls = (void *)1;
    return MHD_YES;
  }
  *upload_size = 0;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    static const char msg[] = "only GET\n";
    return reply(c, 405, "text/plain", msg, sizeof msg - 1);
  }
  if (strcmp(url, "/metrics") != 0) {
    static const char msg[] = "see /metrics\n";
    return reply(c, 404, "text/plain", msg, sizeof msg - 1);
  }
  ce_buf out;
  ce_buf_init(&out);
  ce_metrics_expose(&out);
  enum MHD_Result r = reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "", out.len);
  ce_buf_free(&out);
  return r;
}

ce_metrics_server *ce_metrics_serve(const char *bind, int port, ce_err *err) {
  ce_err_clear(err);
  if (ce_mhd_load(err) != 0) return NULL;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, bind && *bind ? bind : "127.0.0.1", &addr.sin_addr) != 1) {
    ce_err_setf(err, 1, "metrics", 0, 0, "--metrics-bind: '%s' is not an IPv4 address", bind);
    return NULL;
  }
  ce_metrics_server *s = calloc(1, sizeof *s);
  if (!s) {
    ce_err_setf(err, 1, "metrics", 0, 0, "out of memory");
    return NULL;
  }
  s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handle,
                          NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                          (unsigned int)10, MHD_OPTION_END);
  if (!s->d) {
    ce_err_setf(err, 1, "metrics", 0, 0, "cannot listen on %s:%d (in use, or not an address of this machine)",
                bind && *bind ? bind : "127.0.0.1", port);
    free(s);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : port;
  return s;
}

int ce_metrics_server_port(ce_metrics_server *s) { return s->port; }

void ce_metrics_server_stop(ce_metrics_server *s) {
  if (!s) return;
  MHD_stop_daemon(s->d);
  free(s);
}
