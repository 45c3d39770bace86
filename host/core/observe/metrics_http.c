/* SPDX-License-Identifier: MIT */
#include "core/observe/metrics_http.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/json.h"
#include "core/observe/metrics.h"

/* ---- libmicrohttpd, loaded on first use ---- */

static struct {
  struct MHD_Daemon *(*start_daemon)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *, MHD_AccessHandlerCallback,
                                     void *, ...);
  void (*stop_daemon)(struct MHD_Daemon *);
  struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
  enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
  enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
  void (*destroy_response)(struct MHD_Response *);
  const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...);
} mhd;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[300];

static void load(void) {
  void *h = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libmicrohttpd.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(load_error, sizeof load_error, "cannot load libmicrohttpd (install libmicrohttpd12): %s", dlerror());
    return;
  }
  struct {
    const char *name;
    void **slot;
  } syms[] = {
    {"MHD_start_daemon", (void **)&mhd.start_daemon},
    {"MHD_stop_daemon", (void **)&mhd.stop_daemon},
    {"MHD_create_response_from_buffer", (void **)&mhd.create_response_from_buffer},
    {"MHD_add_response_header", (void **)&mhd.add_response_header},
    {"MHD_queue_response", (void **)&mhd.queue_response},
    {"MHD_destroy_response", (void **)&mhd.destroy_response},
    {"MHD_get_daemon_info", (void **)&mhd.get_daemon_info},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(h, syms[i].name);
    if (!*syms[i].slot) {
      snprintf(load_error, sizeof load_error, "libmicrohttpd lacks %s", syms[i].name);
      return;
    }
  }
}

/* ---- the listener ---- */

struct ce_metrics_server {
  struct MHD_Daemon *d;
  int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t n) {
  struct MHD_Response *r = mhd.create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  mhd.add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = mhd.queue_response(c, status, r);
  mhd.destroy_response(r);
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
  pthread_once(&once, load);
  if (load_error[0]) {
    ce_err_setf(err, 1, "metrics", 0, 0, "%s", load_error);
    return NULL;
  }
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
  s->d = mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handle,
                          NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                          (unsigned int)10, MHD_OPTION_END);
  if (!s->d) {
    ce_err_setf(err, 1, "metrics", 0, 0, "cannot listen on %s:%d (in use, or not an address of this machine)",
                bind && *bind ? bind : "127.0.0.1", port);
    free(s);
    return NULL;
  }
  const union MHD_DaemonInfo *info = mhd.get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : port;
  return s;
}

int ce_metrics_server_port(ce_metrics_server *s) { return s->port; }

void ce_metrics_server_stop(ce_metrics_server *s) {
  if (!s) return;
  mhd.stop_daemon(s->d);
  free(s);
}
