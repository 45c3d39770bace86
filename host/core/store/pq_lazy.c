/* SPDX-License-Identifier: MIT */
#define CE_PQ_LAZY_IMPL 1
#include "core/store/pq_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

ce_pq_api ce_pq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[400];

static void load(void) {
  void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libpq.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    snprintf(failure, sizeof failure, "cannot load libpq, the PostgreSQL client library (install libpq5): %s",
             why ? why : "not found");
    return;
  }
  struct {
    const char *name;
    void **slot;
  } syms[] = {
    {"PQconnectdbParams", (void **)&ce_pq.connectdbParams},
    {"PQstatus", (void **)&ce_pq.status},
    {"PQerrorMessage", (void **)&ce_pq.errorMessage},
    {"PQfinish", (void **)&ce_pq.finish},
    {"PQexec", (void **)&ce_pq.exec},
    {"PQexecParams", (void **)&ce_pq.execParams},
    {"PQresultStatus", (void **)&ce_pq.resultStatus},
    {"PQresultErrorField", (void **)&ce_pq.resultErrorField},
    {"PQresultErrorMessage", (void **)&ce_pq.resultErrorMessage},
    {"PQclear", (void **)&ce_pq.clear},
    {"PQntuples", (void **)&ce_pq.ntuples},
    {"PQgetvalue", (void **)&ce_pq.getvalue},
    {"PQgetlength", (void **)&ce_pq.getlength},
    {"PQgetisnull", (void **)&ce_pq.getisnull},
    {"PQputCopyData", (void **)&ce_pq.putCopyData},
    {"PQputCopyEnd", (void **)&ce_pq.putCopyEnd},
    {"PQgetResult", (void **)&ce_pq.getResult},
    {"PQconninfoParse", (void **)&ce_pq.conninfoParse},
    {"PQconninfoFree", (void **)&ce_pq.conninfoFree},
    {"PQfreemem", (void **)&ce_pq.freemem},
    {"PQtransactionStatus", (void **)&ce_pq.transactionStatus},
    {"PQsetNoticeProcessor", (void **)&ce_pq.setNoticeProcessor},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(h, syms[i].name);
    if (!*syms[i].slot) {
      snprintf(failure, sizeof failure, "libpq lacks %s (libpq 10 or later is needed)", syms[i].name);
      return;
    }
  }
}

int ce_pq_load(ce_err *err) {
  pthread_once(&once, load);
  if (failure[0]) {
    ce_err_setf(err, 1, "postgresql", 0, 0, "%s", failure);
    return -1;
  }
  return 0;
}
