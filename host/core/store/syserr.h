/* SPDX-License-Identifier: MIT */
/* What a failed write means to the person who has to free space: ENOSPC
 * reads "No space left on device" and LMDB turns a short write on a full
 * disk into EIO ("Input/output error"); both become "the disk is full
 * (FOLDER)". */
#ifndef CE_STORE_SYSERR_H
#define CE_STORE_SYSERR_H

#include <stddef.h>

/* 1 when the file system holding dir has (almost) no space left */
int ce_disk_full(const char *dir);
/* A message for errno-like code e met writing in dir, into buf. */
const char *ce_write_error(int e, const char *dir, char *buf, size_t n);

#endif
