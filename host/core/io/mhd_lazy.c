/* SPDX-License-Identifier: MIT */
#define CE_MHD_LAZY_IMPL 1
#include "core/io/mhd_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

ce_mhd_api ce_mhd;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[300];

static void load(void) {
  void *h = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libmicrohttpd.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(failure, sizeof failure, "cannot load libmicrohttpd (install libmicrohttpd12): %s", dlerror());
    return;
  }
  struct {
    const char *name;
    void **slot;
  } syms[] = {
    {"MHD_start_daemon", (void **)&ce_mhd.start_daemon},
    {"MHD_stop_daemon", (void **)&ce_mhd.stop_daemon},
    {"MHD_quiesce_daemon", (void **)&ce_mhd.quiesce_daemon},
    {"MHD_get_daemon_info", (void **)&ce_mhd.get_daemon_info},
    {"MHD_create_response_from_buffer", (void **)&ce_mhd.create_response_from_buffer},
    {"MHD_add_response_header", (void **)&ce_mhd.add_response_header},
    {"MHD_queue_response", (void **)&ce_mhd.queue_response},
    {"MHD_destroy_response", (void **)&ce_mhd.destroy_response},
    {"MHD_suspend_connection", (void **)&ce_mhd.suspend_connection},
    {"MHD_resume_connection", (void **)&ce_mhd.resume_connection},
    {"MHD_get_connection_values", (void **)&ce_mhd.get_connection_values},
    {"MHD_lookup_connection_value", (void **)&ce_mhd.lookup_connection_value},
    {"MHD_get_connection_info", (void **)&ce_mhd.get_connection_info},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(h, syms[i].name);
    if (!*syms[i].slot) {
      snprintf(failure, sizeof failure, "libmicrohttpd lacks %s (0.9.71 or later is needed)", syms[i].name);
      return;
    }
  }
}

int ce_mhd_load(ce_err *err) {
  pthread_once(&once, load);
  if (failure[0]) {
    ce_err_setf(err, 1, "http server", 0, 0, "%s", failure);
    return -1;
  }
  return 0;
}
