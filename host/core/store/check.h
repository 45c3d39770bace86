/* SPDX-License-Identifier: MIT */
/* `causal-eval results check`: every page and record of a store, read
 * without LMDB (pages.h), with what is damaged and what could still be
 * read; optionally every readable record written out as JSON lines.
 *
 * The walk follows the trees from the newest sound meta page and carries on
 * past a damaged page with its siblings. When anything was damaged, a raw
 * pass over the whole file then reads every leaf the walk could not reach
 * or could not use, node by node: a value whose checksum (record.h) holds
 * is intact wherever it was found, and the header says its database; of
 * several copies of a key (pages LMDB freed keep old ones), the newest wins.
 *
 * It reports JSON lines, one object each:
 *   {"finding":"meta"|"page"|"value"|"missing", "db":..., "page":..., "what":..., "key"|"from"|"to":...}
 *   {"summary":{"intact":true|false, "pages":..., "databases":{NAME:{"expected":..,"read":..,"recovered":..}}, ...}}
 * A salvage line: {"db":NAME,"key":KEY,"value":JSON} ("text":STRING when
 * the value is not JSON), and "stamp" (ns) when the value has one. */
#ifndef CE_STORE_CHECK_H
#define CE_STORE_CHECK_H

#include "core/util/err.h"
#include "core/util/json.h"

/* In this process. report gets the JSON lines. 1 intact, 0 damaged, -1 + err
 * (no store there, the salvage file could not be written). */
int ce_store_check(const char *dir, const char *salvage, ce_buf *report, ce_err *err);

/* The same in a child process, so that nothing a damaged file does can end
 * the caller: *how is "" when the child finished, else how it ended (then
 * report holds what it wrote before). Returns as ce_store_check. */
int ce_store_check_child(const char *dir, const char *salvage, ce_buf *report, char *how, size_t hown, ce_err *err);

#endif
