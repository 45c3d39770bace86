/* SPDX-License-Identifier: MIT */
/* libpq, loaded when a store first names a PostgreSQL server rather than
 * when the program starts: libpq brings OpenSSL, Kerberos and LDAP with it,
 * and a user of the embedded LMDB store (the default) needs none of them,
 * nor libpq installed at all. Include this instead of <libpq-fe.h>: the PQ*
 * names below resolve to the loaded library's functions. */
#ifndef CE_PQ_LAZY_H
#define CE_PQ_LAZY_H

#include <libpq-fe.h>

#include "core/util/err.h"

typedef struct {
  PGconn *(*connectdbParams)(const char *const *, const char *const *, int);
  ConnStatusType (*status)(const PGconn *);
  char *(*errorMessage)(const PGconn *);
  void (*finish)(PGconn *);
  PGresult *(*exec)(PGconn *, const char *);
  PGresult *(*execParams)(PGconn *, const char *, int, const Oid *, const char *const *, const int *, const int *,
                          int);
  ExecStatusType (*resultStatus)(const PGresult *);
  char *(*resultErrorField)(const PGresult *, int);
  char *(*resultErrorMessage)(const PGresult *);
  void (*clear)(PGresult *);
  int (*ntuples)(const PGresult *);
  char *(*getvalue)(const PGresult *, int, int);
  int (*getlength)(const PGresult *, int, int);
  int (*getisnull)(const PGresult *, int, int);
  int (*putCopyData)(PGconn *, const char *, int);
  int (*putCopyEnd)(PGconn *, const char *);
  PGresult *(*getResult)(PGconn *);
  PQconninfoOption *(*conninfoParse)(const char *, char **);
  void (*conninfoFree)(PQconninfoOption *);
  void (*freemem)(void *);
  PGTransactionStatusType (*transactionStatus)(const PGconn *);
  PQnoticeProcessor (*setNoticeProcessor)(PGconn *, PQnoticeProcessor, void *);
} ce_pq_api;

extern ce_pq_api ce_pq;

/* Loads libpq once (thread-safe). 0, or -1 + err naming what to install. */
int ce_pq_load(ce_err *err);

#ifndef CE_PQ_LAZY_IMPL
#define PQconnectdbParams ce_pq.connectdbParams
#define PQstatus ce_pq.status
#define PQerrorMessage ce_pq.errorMessage
#define PQfinish ce_pq.finish
#define PQexec ce_pq.exec
#define PQexecParams ce_pq.execParams
#define PQresultStatus ce_pq.resultStatus
#define PQresultErrorField ce_pq.resultErrorField
#define PQresultErrorMessage ce_pq.resultErrorMessage
#define PQclear ce_pq.clear
#define PQntuples ce_pq.ntuples
#define PQgetvalue ce_pq.getvalue
#define PQgetlength ce_pq.getlength
#define PQgetisnull ce_pq.getisnull
#define PQputCopyData ce_pq.putCopyData
#define PQputCopyEnd ce_pq.putCopyEnd
#define PQgetResult ce_pq.getResult
#define PQconninfoParse ce_pq.conninfoParse
#define PQconninfoFree ce_pq.conninfoFree
#define PQfreemem ce_pq.freemem
#define PQtransactionStatus ce_pq.transactionStatus
#define PQsetNoticeProcessor ce_pq.setNoticeProcessor
#endif

#endif
