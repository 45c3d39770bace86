/* SPDX-License-Identifier: MIT */
/* The header the store puts in front of every value it writes, so that a
 * reader can tell an intact value from a damaged one (LMDB keeps no
 * checksums) and, when a key turns up more than once in a damaged file,
 * which copy is the newest:
 *
 *   0xFF 0xCE  version  db  crc32c(4, LE)  stamp(8, LE)  value...
 *
 * The CRC covers the version, db, stamp, key and value, so a value read
 * under the wrong key or from the wrong database fails too. Values written
 * before the header existed are JSON or run ids: they start with a printable
 * byte, which a header never does (0xFF is not UTF-8), and read unchecked. */
#ifndef CE_STORE_RECORD_H
#define CE_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define CE_REC_HDR 16
#define CE_REC_VERSION 1

uint32_t ce_crc32c(uint32_t crc, const void *p, size_t n);

/* A stamp later than any this process handed out before: wall-clock
 * nanoseconds, so copies written by different processes order too. */
uint64_t ce_rec_stamp(void);

void ce_rec_header(unsigned char hdr[CE_REC_HDR], int db, uint64_t stamp, const void *k, size_t kl, const void *v,
                   size_t vl);

enum { CE_REC_DAMAGED = -1, CE_REC_LEGACY = 0, CE_REC_OK = 1 };
/* Checks a stored value read under key k in database db. CE_REC_OK: *v and
 * *vl are the value without its header, *stamp its stamp; CE_REC_LEGACY: an
 * unframed value (returned whole, stamp 0); CE_REC_DAMAGED: *why says what is wrong. */
int ce_rec_open(int db, const void *k, size_t kl, const void *stored, size_t sl, const void **v, size_t *vl,
                uint64_t *stamp, const char **why);
/* The database a framed value says it belongs to, or -1 (legacy, too short). */
int ce_rec_db(const void *stored, size_t sl);

#endif
