/* SPDX-License-Identifier: MIT */
/* LMDB reads through a shared map of data.mdb; every page a process touches
 * stays counted in its resident memory although the kernel could drop it at
 * any time (it is clean and in the page cache). A long run would show
 * hundreds of megabytes it does not use. Dropping our view of the map now
 * and then keeps RSS to what is in use; the next access faults the page back
 * from the page cache. LMDB reports the map's address only with
 * MDB_FIXEDMAP, so it is found by the file's inode in /proc/self/maps. */
#ifndef CE_LMDB_MAP_H
#define CE_LMDB_MAP_H

#include <lmdb.h>
#include <stddef.h>

typedef struct {
  void *addr; /* NULL: not found, trimming does nothing */
  size_t len;
} ce_lmdb_map;

void ce_lmdb_map_find(MDB_env *env, ce_lmdb_map *m);
void ce_lmdb_map_trim(const ce_lmdb_map *m);

#endif
