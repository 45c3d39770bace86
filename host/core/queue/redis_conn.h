/* SPDX-License-Identifier: MIT */
/* One connection to Redis for the work queue (Redis Streams consumer
 * groups), used by one thread. Commands are argument vectors, replies are
 * hiredis's reply trees. Unlike the cache's Redis layer, which hides an
 * outage from its callers, a queue must know: every call says whether Redis
 * answered, and the call after a lost connection connects again first. */
#ifndef CE_QUEUE_REDIS_CONN_H
#define CE_QUEUE_REDIS_CONN_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "core/util/err.h"

/* ce_err codes */
enum { CE_RCONN_EURL = 2, CE_RCONN_EIO = 3, CE_RCONN_EAUTH = 4 };

typedef struct ce_rconn ce_rconn;

/* Checks a redis://[:password@]host[:port][/db] url: 0, or -1 + err
 * (CE_RCONN_EURL) naming it. */
int ce_rconn_check_url(const char *url, ce_err *err);
/* Connects (timeout: seconds for the connect and each reply, <= 0: 1 s).
 * NULL + err (CE_RCONN_EURL, CE_RCONN_EIO, CE_RCONN_EAUTH) saying which
 * server and why. */
ce_rconn *ce_rconn_open(const char *url, double timeout, ce_err *err);
/* "host:port/db", for messages. */
const char *ce_rconn_where(const ce_rconn *c);
/* Sends n commands in one round trip and reads their n replies into
 * replies[] (each freed by the caller with freeReplyObject; an error reply
 * is a reply). wait > 0: seconds this call may wait for its replies instead
 * of the connection's timeout (a blocking read). 0, or -1 + err
 * (CE_RCONN_EIO) when the connection failed: then no reply is left to free,
 * and the next call connects again (after a failed connect, calls fail at
 * once with its message for 0.25 s, doubling up to 5 s). */
int ce_rconn_exec(ce_rconn *c, int n, const int *argcs, const char *const *const *argvs,
                  const size_t *const *lens, double wait, redisReply **replies, ce_err *err);
void ce_rconn_close(ce_rconn *c); /* NULL-safe */

#endif
