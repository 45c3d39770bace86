/* SPDX-License-Identifier: MIT */
/* libmicrohttpd, loaded when the first listener starts rather than when the
 * program starts (like libcurl in curl_lazy.h): linking it pulls in GnuTLS
 * and its dependencies, whose constructors would cost every start of the
 * program, and most invocations never listen. Include this instead of
 * <microhttpd.h>: the MHD_* names below resolve to the loaded library's
 * functions once ce_mhd_load() has succeeded. */
#ifndef CE_MHD_LAZY_H
#define CE_MHD_LAZY_H

#include <microhttpd.h>

#include "core/util/err.h"

typedef struct {
  struct MHD_Daemon *(*start_daemon)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                     MHD_AccessHandlerCallback, void *, ...);
  void (*stop_daemon)(struct MHD_Daemon *);
  MHD_socket (*quiesce_daemon)(struct MHD_Daemon *);
  const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...);
  struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
  enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
  enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
  void (*destroy_response)(struct MHD_Response *);
  void (*suspend_connection)(struct MHD_Connection *);
  void (*resume_connection)(struct MHD_Connection *);
  int (*get_connection_values)(struct MHD_Connection *, enum MHD_ValueKind, MHD_KeyValueIterator, void *);
  const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind, const char *);
  const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *, enum MHD_ConnectionInfoType, ...);
} ce_mhd_api;

extern ce_mhd_api ce_mhd;

/* Loads libmicrohttpd once (thread-safe). 0, or -1 with err naming the
 * package to install. */
int ce_mhd_load(ce_err *err);

#ifndef CE_MHD_LAZY_IMPL
#define MHD_start_daemon ce_mhd.start_daemon
#define MHD_stop_daemon ce_mhd.stop_daemon
#define MHD_quiesce_daemon ce_mhd.quiesce_daemon
#define MHD_get_daemon_info ce_mhd.get_daemon_info
#define MHD_create_response_from_buffer ce_mhd.create_response_from_buffer
#define MHD_add_response_header ce_mhd.add_response_header
#define MHD_queue_response ce_mhd.queue_response
#define MHD_destroy_response ce_mhd.destroy_response
#define MHD_suspend_connection ce_mhd.suspend_connection
#define MHD_resume_connection ce_mhd.resume_connection
#define MHD_get_connection_values ce_mhd.get_connection_values
#define MHD_lookup_connection_value ce_mhd.lookup_connection_value
#define MHD_get_connection_info ce_mhd.get_connection_info
#endif

#endif
