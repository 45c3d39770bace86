/* SPDX-License-Identifier: MIT */
/* libcurl, loaded when the first HTTP client is made rather than when the
 * program starts. Linking libcurl pulls in TLS, Kerberos, LDAP and
 * PKCS#11 libraries whose constructors cost about 5 ms at every start;
 * most invocations (help, generate, validate, the REPL, scripts) never
 * speak HTTP. Include this instead of <curl/curl.h>: the curl_* names
 * below resolve to the loaded library's functions. */
#ifndef CE_CURL_LAZY_H
#define CE_CURL_LAZY_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "core/util/err.h"

typedef struct {
  CURLcode (*global_init)(long);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  CURLcode (*easy_perform)(CURL *);
  void (*easy_reset)(CURL *);
  void (*easy_cleanup)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_perform)(CURLM *, int *);
  CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  CURLMcode (*multi_cleanup)(CURLM *);
  const char *(*multi_strerror)(CURLMcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
  CURLU *(*url)(void);
  CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
  void (*url_cleanup)(CURLU *);
} ce_curl_api;

extern ce_curl_api ce_curl;

/* Loads libcurl once (thread-safe) and runs curl_global_init. 0 or -1. */
int ce_curl_load(ce_err *err);

#ifndef CE_CURL_LAZY_IMPL
/* curl.h defines some of these as macros of its own */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init ce_curl.global_init
#define curl_easy_init ce_curl.easy_init
#define curl_easy_setopt ce_curl.easy_setopt
#define curl_easy_getinfo ce_curl.easy_getinfo
#define curl_easy_perform ce_curl.easy_perform
#define curl_easy_reset ce_curl.easy_reset
#define curl_easy_cleanup ce_curl.easy_cleanup
#define curl_easy_strerror ce_curl.easy_strerror
#define curl_multi_init ce_curl.multi_init
#define curl_multi_setopt ce_curl.multi_setopt
#define curl_multi_add_handle ce_curl.multi_add_handle
#define curl_multi_remove_handle ce_curl.multi_remove_handle
#define curl_multi_perform ce_curl.multi_perform
#define curl_multi_poll ce_curl.multi_poll
#define curl_multi_info_read ce_curl.multi_info_read
#define curl_multi_cleanup ce_curl.multi_cleanup
#define curl_multi_strerror ce_curl.multi_strerror
#define curl_slist_append ce_curl.slist_append
#define curl_url ce_curl.url
#define curl_url_set ce_curl.url_set
#define curl_url_cleanup ce_curl.url_cleanup
#define curl_slist_free_all ce_curl.slist_free_all
#endif

#endif
