/* SPDX-License-Identifier: MIT */
/* LMDB's file format (0.9, 64-bit), read by us rather than by LMDB. LMDB
 * trusts every byte of data.mdb; this reader trusts none: each page it
 * reaches is checked before use (its number, type, free-space bounds, that
 * its nodes tile the page exactly and lie inside it, that its keys are in
 * order and inside the range its parent gives them, that overflow pages are
 * where and as long as the node says). A damaged store thus gives an error
 * that names the page and a key near it, never a crash, and a page that lost
 * nodes (a flipped free-space bound) cannot silently drop records.
 *
 * Page layout: pgno(8) pad(2) flags(2) lower(2) upper(2) | node offsets...
 * free ... | nodes. Node: lo(2) hi(2) flags(2) ksize(2) key data; in a
 * branch lo|hi|flags is the child's page number, in a leaf lo|hi is the
 * data size (F_BIGDATA: the data is the number of its first overflow page). */
#ifndef CE_STORE_PAGES_H
#define CE_STORE_PAGES_H

#include <stddef.h>
#include <stdint.h>

#define CE_P_INVALID UINT64_MAX /* the root of an empty database */
#define CE_P_MAXDEPTH 32        /* LMDB's own cursor limit */

enum { CE_P_BRANCH = 0x01, CE_P_LEAF = 0x02, CE_P_OVERFLOW = 0x04, CE_P_META = 0x08 };
enum { CE_F_BIGDATA = 0x01, CE_F_SUBDATA = 0x02, CE_F_DUPDATA = 0x04 };

/* how a tree's keys compare and what its leaves may hold */
enum { CE_PK_USER = 0, CE_PK_MAIN, CE_PK_FREE };

typedef struct {
  const unsigned char *base; /* data.mdb, mapped read-only */
  uint64_t npages;           /* whole pages in the file */
  unsigned psize;
} ce_pfile;

typedef struct {
  uint64_t root; /* CE_P_INVALID: empty */
  unsigned depth, flags;
  uint64_t entries, branch_pages, leaf_pages, overflow_pages;
} ce_pdb;

typedef struct {
  uint64_t txnid, last_pg;
  unsigned psize;
  ce_pdb free, main;
} ce_pmeta;

/* What went wrong and where, filled by every failing call below. */
typedef struct {
  uint64_t page;             /* 0: not a page's fault */
  char what[200];
  unsigned char near[200];   /* a key at or next to the fault */
  size_t nearl;
  int has_near;
} ce_pdamage;

void ce_pdamage_near(ce_pdamage *d, const void *k, size_t kl);

/* Meta page i (0 or 1) of a file with at least that much data. 0, or -1 + d. */
int ce_pmeta_read(const unsigned char *base, size_t len, int i, unsigned psize, ce_pmeta *m, ce_pdamage *d);
/* Checks the two metas against each other and picks the one LMDB would use.
 * 0 (*use: 0 or 1), or -1 + d. */
int ce_pmeta_pick(const unsigned char *base, size_t len, ce_pmeta *m, int *use, ce_pdamage *d);
int ce_pdb_parse(const unsigned char *p, size_t n, ce_pdb *db); /* an MDB_db record; -1 when not one */
/* the transaction id meta page i holds, unchecked (to notice a commit) */
uint64_t ce_pmeta_txnid(const unsigned char *base, unsigned psize, int i);

/* Checks page pgno on its own: type (CE_P_LEAF or CE_P_BRANCH), bounds, the
 * tiling of its nodes and the order of its keys. scratch: psize/2 uint16_t.
 * 0, or -1 + d. */
int ce_page_check(const ce_pfile *f, uint64_t pgno, int type, int kind, uint16_t *scratch, ce_pdamage *d);
const unsigned char *ce_page(const ce_pfile *f, uint64_t pgno);
unsigned ce_page_nkeys(const unsigned char *pg);
void ce_page_key(const unsigned char *pg, unsigned i, const unsigned char **k, size_t *kl);
uint64_t ce_page_child(const unsigned char *pg, unsigned i);
/* A leaf node's value, following overflow pages (checked). 0, or -1 + d. */
int ce_page_value(const ce_pfile *f, const unsigned char *pg, unsigned i, const unsigned char **v, size_t *vl,
                  ce_pdamage *d);
/* The first overflow page of leaf node i, or 0 when its value is in the node. */
uint64_t ce_page_overflow(const unsigned char *pg, unsigned i);
/* The raw node i of a page that may be damaged: 0 when the node lies inside
 * the page (key set; value set when it could be found), -1 otherwise. */
int ce_page_node_raw(const ce_pfile *f, const unsigned char *pg, unsigned i, const unsigned char **k, size_t *kl,
                     const unsigned char **v, size_t *vl);
int ce_pkey_cmp(int kind, const void *a, size_t al, const void *b, size_t bl);

/* A cursor over one tree, validating every page it enters. */
typedef struct {
  const ce_pfile *f;
  ce_pdb db;
  int kind;
  int top; /* the leaf's level; -1: not positioned */
  struct {
    const unsigned char *pg;
    uint64_t pgno;
    int n, i;
  } st[CE_P_MAXDEPTH];
  uint16_t *scratch;
  ce_pdamage *d;
} ce_pcur;

/* scratch: psize/2 uint16_t. */
void ce_pcur_init(ce_pcur *c, const ce_pfile *f, const ce_pdb *db, int kind, uint16_t *scratch, ce_pdamage *d);
/* Positions at the first key >= k (k NULL: the first key), having checked
 * that the key before it is < k, so no key >= k can hide behind a damaged
 * separator. 1 positioned, 0 no such key, -1 damaged (d). */
int ce_pcur_seek_ge(ce_pcur *c, const void *k, size_t kl);
/* Positions at the last key < k (k NULL: the last key), the key after it
 * checked to be >= k. 1, 0 or -1 as above. */
int ce_pcur_seek_lt(ce_pcur *c, const void *k, size_t kl);
int ce_pcur_next(ce_pcur *c); /* 1 moved, 0 at the end, -1 damaged */
int ce_pcur_prev(ce_pcur *c);
void ce_pcur_key(const ce_pcur *c, const unsigned char **k, size_t *kl);
int ce_pcur_value(ce_pcur *c, const unsigned char **v, size_t *vl); /* 0 or -1 */

#endif
