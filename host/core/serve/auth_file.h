/* SPDX-License-Identifier: MIT */
/* The users file on disk: what version is there (so a running server sees
 * `adduser` without a restart) and replacing it whole. */
#ifndef CE_AUTH_FILE_H
#define CE_AUTH_FILE_H

#include <stddef.h>

#include "core/util/err.h"

/* 1: path is a file, *mode its permission bits and stamp a text that
 * changes when the file does (device, inode, size, modification time);
 * 0: no such file; -1 + err (a folder, no permission). */
int ce_auth_file_stat(const char *path, unsigned *mode, char *stamp, size_t size, ce_err *err);
/* Replaces path with data, atomically: a temporary file in the same folder,
 * written, flushed to disk and renamed over it, so a reader sees the old
 * file or the new one, never a part. A new file gets mode (0600 for
 * secrets); an existing one keeps its own. 0, or -1 + err. */
int ce_auth_file_replace(const char *path, const void *data, size_t len, unsigned mode, ce_err *err);

#endif
