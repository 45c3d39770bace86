/* SPDX-License-Identifier: MIT */
/* The writer commits records in batches, a few milliseconds after they are
 * queued: a process killed in between lost answers it had already received.
 * So each record is also copied to a journal when it is queued, and a later
 * process that opens the store puts what the journal holds into LMDB. The
 * journal is a file of 2 MB allocated up front and mapped shared: a copy
 * into it is in the page cache at once, which a kill -9 cannot undo (power
 * loss can: no fsync), at the price of a memcpy rather than a write() per
 * record (about 8 us of CPU less per record on this machine). Each process
 * has its own files (journal.PID.N in the store's folder), locked with flock
 * for as long as it lives, so a live process's journal is never replayed.
 * Once all of a file's records are committed the file starts over; when it
 * fills while records are still waiting, the next file is started and this
 * one removed once they are in.
 *
 * A frame: "CEJ1" n(4) len(4) crc32c-of-those(4), then n items of
 * db(4) kl(4) vl(4) key value, then 16 zero bytes (the end, until the next
 * frame overwrites them); each value carries its record header (record.h),
 * whose checksum tells a torn last frame from a whole one. */
#ifndef CE_STORE_JOURNAL_H
#define CE_STORE_JOURNAL_H

#include <stddef.h>

#include "core/util/err.h"

typedef struct {
  int db;
  const void *k, *v; /* v: a framed value (record.h) */
  size_t kl, vl;
} ce_jitem;

typedef struct ce_journal ce_journal;

ce_journal *ce_journal_open(const char *dir, ce_err *err);
/* Appends n items in one write. The file it went to (>= 0), or -1 + err
 * (the journal stays usable; the frame is not in it). Not thread-safe. */
int ce_journal_append(ce_journal *j, const ce_jitem *items, int n, ce_err *err);
/* n records appended to file seg are committed */
void ce_journal_committed(ce_journal *j, int seg, int n);
/* keep: leave the files for a later process to replay (a commit failed) */
void ce_journal_close(ce_journal *j, int keep);

/* Replays the journals of processes that are gone: for each file, frame()
 * per whole frame (nonzero: stop), then finish(ud, ok), which commits what
 * the frames put when ok and returns 0 when that worked: only then does
 * the file go. Returns the records replayed, or -1 + err. */
typedef int (*ce_journal_frame_fn)(void *ud, const ce_jitem *items, int n);
typedef int (*ce_journal_finish_fn)(void *ud, int ok);
long ce_journal_replay(const char *dir, ce_journal_frame_fn frame, ce_journal_finish_fn finish, void *ud, ce_err *err);

#endif
