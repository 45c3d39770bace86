/* SPDX-License-Identifier: MIT */
#define CE_CURL_LAZY_IMPL 1
#include "core/io/curl_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

ce_curl_api ce_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[400];

/* Debian's libcurl4 (OpenSSL) first, then the GnuTLS build, then a dev symlink. */
static const char *const NAMES[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so", NULL};

static void load(void) {
  void *h = NULL;
  const char *why = "";
  for (int i = 0; NAMES[i] && !h; i++) {
    h = dlopen(NAMES[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) why = dlerror();
  }
  if (!h) {
    snprintf(failure, sizeof failure, "cannot load libcurl (install libcurl4): %s", why ? why : "not found");
    return;
  }
  struct {
    const char *name;
    void **slot;
  } syms[] = {
    {"curl_global_init", (void **)&ce_curl.global_init},
    {"curl_easy_init", (void **)&ce_curl.easy_init},
    {"curl_easy_setopt", (void **)&ce_curl.easy_setopt},
    {"curl_easy_getinfo", (void **)&ce_curl.easy_getinfo},
    {"curl_easy_perform", (void **)&ce_curl.easy_perform},
    {"curl_easy_reset", (void **)&ce_curl.easy_reset},
    {"curl_easy_cleanup", (void **)&ce_curl.easy_cleanup},
    {"curl_easy_strerror", (void **)&ce_curl.easy_strerror},
    {"curl_multi_init", (void **)&ce_curl.multi_init},
    {"curl_multi_setopt", (void **)&ce_curl.multi_setopt},
    {"curl_multi_add_handle", (void **)&ce_curl.multi_add_handle},
    {"curl_multi_remove_handle", (void **)&ce_curl.multi_remove_handle},
    {"curl_multi_perform", (void **)&ce_curl.multi_perform},
    {"curl_multi_poll", (void **)&ce_curl.multi_poll},
    {"curl_multi_info_read", (void **)&ce_curl.multi_info_read},
    {"curl_multi_cleanup", (void **)&ce_curl.multi_cleanup},
    {"curl_multi_strerror", (void **)&ce_curl.multi_strerror},
    {"curl_slist_append", (void **)&ce_curl.slist_append},
    {"curl_slist_free_all", (void **)&ce_curl.slist_free_all},
    {"curl_url", (void **)&ce_curl.url},
    {"curl_url_set", (void **)&ce_curl.url_set},
    {"curl_url_cleanup", (void **)&ce_curl.url_cleanup},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(h, syms[i].name);
    if (!*syms[i].slot) {
      snprintf(failure, sizeof failure, "libcurl lacks %s (curl 7.66 or later is needed)", syms[i].name);
      return;
    }
  }
  CURLcode rc = ce_curl.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) snprintf(failure, sizeof failure, "curl_global_init: %s", ce_curl.easy_strerror(rc));
}

int ce_curl_load(ce_err *err) {
  pthread_once(&once, load);
  if (failure[0]) {
    ce_err_setf(err, 1, "http", 0, 0, "%s", failure);
    return -1;
  }
  return 0;
}
