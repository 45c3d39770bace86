/* SPDX-License-Identifier: MIT */
#include "core/store/pages.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HDR 16u          /* page header */
#define NODE 8u          /* node header */
#define MAXKEY 511u      /* LMDB's default key size limit */
#define MDB_MAGIC 0xBEEFC0DEu
#define MDB_DATA_VERSION 1u
#define DBREC 48u        /* sizeof(MDB_db) */

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }
static uint32_t get32(const unsigned char *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static int fail(ce_pdamage *d, uint64_t page, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ce_pdamage *d, uint64_t page, const char *fmt, ...) {
  if (!d) return -1;
  d->page = page;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->what, sizeof d->what, fmt, ap);
  va_end(ap);
  return -1;
}

void ce_pdamage_near(ce_pdamage *d, const void *k, size_t kl) {
  if (!d) return;
  if (kl > sizeof d->near) kl = sizeof d->near;
  memcpy(d->near, k, kl);
  d->nearl = kl;
  d->has_near = 1;
}

int ce_pdb_parse(const unsigned char *p, size_t n, ce_pdb *db) {
  if (n != DBREC) return -1;
  db->flags = get16(p + 4);
  db->depth = get16(p + 6);
  db->branch_pages = get64(p + 8);
  db->leaf_pages = get64(p + 16);
  db->overflow_pages = get64(p + 24);
  db->entries = get64(p + 32);
  db->root = get64(p + 40);
  if (db->root == CE_P_INVALID) return db->depth == 0 && db->entries == 0 ? 0 : -1;
  return db->depth >= 1 && db->depth <= CE_P_MAXDEPTH ? 0 : -1;
}

int ce_pmeta_read(const unsigned char *base, size_t len, int i, unsigned psize, ce_pmeta *m, ce_pdamage *d) {
  if ((size_t)(i + 1) * psize > len) return fail(d, 0, "the file is too short to hold meta page %d", i);
  const unsigned char *p = base + (size_t)i * psize;
  if (get64(p) != (uint64_t)i || get16(p + 10) != CE_P_META) return fail(d, 0, "meta page %d has a damaged header", i);
  const unsigned char *mm = p + HDR;
  if (get32(mm) != MDB_MAGIC || get32(mm + 4) != MDB_DATA_VERSION)
    return fail(d, 0, "meta page %d does not carry LMDB's mark", i);
  m->psize = get32(mm + 24);
  if (m->psize != psize) return fail(d, 0, "meta page %d gives a page size of %u, not %u", i, m->psize, psize);
  if (ce_pdb_parse(mm + 24, DBREC, &m->free) != 0 || ce_pdb_parse(mm + 72, DBREC, &m->main) != 0)
    return fail(d, 0, "meta page %d describes impossible trees", i);
  m->last_pg = get64(mm + 120);
  m->txnid = get64(mm + 128);
  if ((m->main.root != CE_P_INVALID && (m->main.root < 2 || m->main.root > m->last_pg)) ||
      (m->free.root != CE_P_INVALID && (m->free.root < 2 || m->free.root > m->last_pg)))
    return fail(d, 0, "meta page %d points outside the pages in use", i);
  return 0;
}

uint64_t ce_pmeta_txnid(const unsigned char *base, unsigned psize, int i) {
  return get64(base + (size_t)i * psize + HDR + 128);
}

int ce_pmeta_pick(const unsigned char *base, size_t len, ce_pmeta *m, int *use, ce_pdamage *d) {
  if (len < 2 * HDR + 160) return fail(d, 0, "the file is too short to be a store (%zu bytes)", len);
  unsigned psize = get32(base + HDR + 24);
  if (psize < 512 || psize > 65536 || (psize & (psize - 1))) return fail(d, 0, "meta page 0 has a damaged page size");
  ce_pmeta m0, m1;
  if (ce_pmeta_read(base, len, 0, psize, &m0, d) != 0 || ce_pmeta_read(base, len, 1, psize, &m1, d) != 0) return -1;
  /* commits alternate between the two meta pages, so their transaction ids
   * differ by one (both 0 before the first commit); anything else means one
   * was damaged, and LMDB may be reading an older snapshot without knowing */
  uint64_t gap = m0.txnid > m1.txnid ? m0.txnid - m1.txnid : m1.txnid - m0.txnid;
  if (gap > 1 || (gap == 0 && m0.txnid != 0))
    return fail(d, 0, "the two meta pages disagree (transactions %" PRIu64 " and %" PRIu64 ")", m0.txnid, m1.txnid);
  *use = m1.txnid > m0.txnid;
  *m = *use ? m1 : m0;
  return 0;
}

const unsigned char *ce_page(const ce_pfile *f, uint64_t pgno) { return f->base + pgno * f->psize; }
unsigned ce_page_nkeys(const unsigned char *pg) { return (get16(pg + 12) - HDR) / 2; }

static const unsigned char *node_at(const unsigned char *pg, unsigned i) { return pg + get16(pg + HDR + 2 * i); }

void ce_page_key(const unsigned char *pg, unsigned i, const unsigned char **k, size_t *kl) {
  const unsigned char *n = node_at(pg, i);
  *kl = get16(n + 6);
  *k = n + NODE;
}

uint64_t ce_page_child(const unsigned char *pg, unsigned i) {
  const unsigned char *n = node_at(pg, i);
  return (uint64_t)get16(n) | (uint64_t)get16(n + 2) << 16 | (uint64_t)get16(n + 4) << 32;
}

int ce_pkey_cmp(int kind, const void *a, size_t al, const void *b, size_t bl) {
  if (kind == CE_PK_FREE && al == 8 && bl == 8) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x < y ? -1 : x > y;
  }
  int c = memcmp(a, b, al < bl ? al : bl);
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

static const char *type_name(unsigned t) {
  switch (t) {
  case CE_P_BRANCH: return "branch";
  case CE_P_LEAF: return "leaf";
  case CE_P_OVERFLOW: return "overflow";
  case CE_P_META: return "meta";
  default: return "unknown";
  }
}

/* The node's size on the page (rounded up to even, as LMDB lays them out), or 0 when its flags are impossible. */
static uint64_t node_size(const unsigned char *n, int leaf, int kind) {
  uint64_t size = NODE + get16(n + 6);
  if (!leaf) return (size + 1) & ~(uint64_t)1;
  unsigned fl = get16(n + 4);
  uint64_t ds = (uint64_t)get16(n) | (uint64_t)get16(n + 2) << 16;
  if (kind == CE_PK_MAIN) {
    if (fl != CE_F_SUBDATA || ds != DBREC) return 0;
  } else if (fl & ~(unsigned)CE_F_BIGDATA) {
    return 0;
  }
  size += fl & CE_F_BIGDATA ? 8 : ds;
  return (size + 1) & ~(uint64_t)1;
}

int ce_page_check(const ce_pfile *f, uint64_t pgno, int type, int kind, uint16_t *scratch, ce_pdamage *d) {
  if (pgno < 2) return fail(d, pgno, "a tree points to meta page %" PRIu64, pgno);
  if (pgno >= f->npages)
    return fail(d, pgno, "page %" PRIu64 " is past the end of the file (%" PRIu64 " pages)", pgno, f->npages);
  const unsigned char *pg = ce_page(f, pgno);
  if (get64(pg) != pgno) return fail(d, pgno, "page %" PRIu64 " says it is page %" PRIu64, pgno, get64(pg));
  unsigned flags = get16(pg + 10);
  if (flags != (unsigned)type)
    return fail(d, pgno, "page %" PRIu64 " is a %s page (flags 0x%x) where a %s page belongs", pgno, type_name(flags),
                flags, type_name((unsigned)type));
  unsigned lower = get16(pg + 12), upper = get16(pg + 14), ps = f->psize;
  if (lower < HDR + 2 || (lower & 1) || (upper & 1) || upper > ps || lower > upper)
    return fail(d, pgno, "page %" PRIu64 " has impossible bounds (lower %u, upper %u)", pgno, lower, upper);
  unsigned n = (lower - HDR) / 2;
  int leaf = type == CE_P_LEAF;
  memset(scratch + upper / 2, 0, (ps - upper) / 2 * sizeof *scratch);
  for (unsigned i = 0; i < n; i++) {
    unsigned off = get16(pg + HDR + 2 * i);
    if (off < upper || (off & 1) || off + NODE > ps)
      return fail(d, pgno, "node %u of page %" PRIu64 " lies outside the page's nodes", i, pgno);
    if (scratch[off / 2]) return fail(d, pgno, "nodes %u and %u of page %" PRIu64 " overlap", scratch[off / 2] - 1, i, pgno);
    scratch[off / 2] = (uint16_t)(i + 1);
  }
  /* the nodes must tile the space from upper to the end exactly: a lost
   * offset (a damaged lower bound) leaves a hole, a wrong one an overlap */
  unsigned count = 0;
  for (uint64_t pos = upper; pos < ps;) {
    unsigned idx = scratch[pos / 2];
    if (!idx) return fail(d, pgno, "page %" PRIu64 " has bytes that belong to no node (offset %u)", pgno, (unsigned)pos);
    const unsigned char *nd = pg + pos;
    if (get16(nd + 6) > MAXKEY || (kind == CE_PK_FREE && leaf && get16(nd + 6) != 8))
      return fail(d, pgno, "node %u of page %" PRIu64 " has an impossible key size", idx - 1, pgno);
    uint64_t sz = node_size(nd, leaf, kind);
    if (!sz) return fail(d, pgno, "node %u of page %" PRIu64 " has impossible flags", idx - 1, pgno);
    if (pos + sz > ps) return fail(d, pgno, "node %u of page %" PRIu64 " runs past the page's end", idx - 1, pgno);
    pos += sz;
    count++;
  }
  if (count != n) return fail(d, pgno, "page %" PRIu64 " has overlapping nodes", pgno);
  for (unsigned i = leaf ? 1 : 2; i < n; i++) {
    const unsigned char *a, *b;
    size_t al, bl;
    ce_page_key(pg, i - 1, &a, &al);
    ce_page_key(pg, i, &b, &bl);
    if (ce_pkey_cmp(kind, a, al, b, bl) >= 0) {
      ce_pdamage_near(d, b, bl);
      return fail(d, pgno, "the keys of page %" PRIu64 " are out of order at node %u", pgno, i);
    }
  }
  if (!leaf)
    for (unsigned i = 0; i < n; i++) {
      uint64_t c = ce_page_child(pg, i);
      if (c < 2 || c >= f->npages)
        return fail(d, pgno, "node %u of page %" PRIu64 " points to page %" PRIu64 ", outside the file", i, pgno, c);
    }
  return 0;
}

static int overflow(const ce_pfile *f, uint64_t ov, uint64_t ds, const unsigned char **v, ce_pdamage *d) {
  if (ov < 2 || ov >= f->npages) return fail(d, ov, "a value's overflow page %" PRIu64 " is outside the file", ov);
  const unsigned char *op = ce_page(f, ov);
  if (get64(op) != ov || get16(op + 10) != CE_P_OVERFLOW)
    return fail(d, ov, "overflow page %" PRIu64 " has a damaged header", ov);
  uint64_t need = (HDR - 1 + ds) / f->psize + 1, pages = get32(op + 12);
  if (pages != need)
    return fail(d, ov, "overflow page %" PRIu64 " spans %" PRIu64 " pages, the value needs %" PRIu64, ov, pages, need);
  if (ov + pages > f->npages) return fail(d, ov, "overflow pages from %" PRIu64 " run past the end of the file", ov);
  *v = op + HDR;
  return 0;
}

int ce_page_value(const ce_pfile *f, const unsigned char *pg, unsigned i, const unsigned char **v, size_t *vl,
                  ce_pdamage *d) {
  const unsigned char *n = node_at(pg, i);
  unsigned ks = get16(n + 6);
  uint64_t ds = (uint64_t)get16(n) | (uint64_t)get16(n + 2) << 16;
  *vl = (size_t)ds;
  if (!(get16(n + 4) & CE_F_BIGDATA)) {
    *v = n + NODE + ks;
    return 0;
  }
  return overflow(f, get64(n + NODE + ks), ds, v, d);
}

uint64_t ce_page_overflow(const unsigned char *pg, unsigned i) {
  const unsigned char *n = node_at(pg, i);
  return get16(n + 4) & CE_F_BIGDATA ? get64(n + NODE + get16(n + 6)) : 0;
}

int ce_page_node_raw(const ce_pfile *f, const unsigned char *pg, unsigned i, const unsigned char **k, size_t *kl,
                     const unsigned char **v, size_t *vl) {
  unsigned ps = f->psize, off = get16(pg + HDR + 2 * i);
  if (HDR + 2 * i + 2 > ps || off < HDR || off + NODE > ps) return -1;
  const unsigned char *n = pg + off;
  unsigned ks = get16(n + 6), fl = get16(n + 4);
  uint64_t ds = (uint64_t)get16(n) | (uint64_t)get16(n + 2) << 16;
  if (off + NODE + ks > ps) return -1;
  *k = n + NODE;
  *kl = ks;
  *v = NULL;
  *vl = 0;
  if (fl & CE_F_BIGDATA) {
    if (off + NODE + ks + 8 > ps || overflow(f, get64(n + NODE + ks), ds, v, NULL) != 0) {
      *v = NULL;
      return 0;
    }
  } else {
    if (off + NODE + ks + ds > ps) return 0;
    *v = n + NODE + ks;
  }
  *vl = (size_t)ds;
  return 0;
}

/* ---- the cursor ---- */

void ce_pcur_init(ce_pcur *c, const ce_pfile *f, const ce_pdb *db, int kind, uint16_t *scratch, ce_pdamage *d) {
  c->f = f;
  c->db = *db;
  c->kind = kind;
  c->top = -1;
  c->scratch = scratch;
  c->d = d;
}

static void key_of(const ce_pcur *c, int l, int i, const unsigned char **k, size_t *kl) {
  ce_page_key(c->st[l].pg, (unsigned)i, k, kl);
}

/* The range the page at level l must keep to: the nearest separators on
 * either side among its ancestors. */
static void bounds(const ce_pcur *c, int l, const unsigned char **lo, size_t *lol, const unsigned char **hi,
                   size_t *hil) {
  *lo = *hi = NULL;
  *lol = *hil = 0;
  for (int a = l - 1; a >= 0 && !*lo; a--)
    if (c->st[a].i > 0) key_of(c, a, c->st[a].i, lo, lol);
  for (int a = l - 1; a >= 0 && !*hi; a--)
    if (c->st[a].i + 1 < c->st[a].n) key_of(c, a, c->st[a].i + 1, hi, hil);
}

static int push(ce_pcur *c, int l, uint64_t pgno) {
  int leaf = l == (int)c->db.depth - 1;
  const unsigned char *lo, *hi;
  size_t lol, hil;
  bounds(c, l, &lo, &lol, &hi, &hil);
  if (l >= CE_P_MAXDEPTH || l >= (int)c->db.depth) {
    if (lo) ce_pdamage_near(c->d, lo, lol);
    return fail(c->d, pgno, "the tree is deeper than its record says");
  }
  if (ce_page_check(c->f, pgno, leaf ? CE_P_LEAF : CE_P_BRANCH, c->kind, c->scratch, c->d) != 0) {
    if (c->d && !c->d->has_near) {
      if (lo) ce_pdamage_near(c->d, lo, lol);
      else if (hi) ce_pdamage_near(c->d, hi, hil);
    }
    return -1;
  }
  const unsigned char *pg = ce_page(c->f, pgno);
  int n = (int)ce_page_nkeys(pg), first = leaf ? 0 : 1;
  c->st[l].pg = pg;
  c->st[l].pgno = pgno;
  c->st[l].n = n;
  c->st[l].i = 0;
  if (n > first) {
    const unsigned char *a, *b;
    size_t al, bl;
    key_of(c, l, first, &a, &al);
    key_of(c, l, n - 1, &b, &bl);
    if ((lo && ce_pkey_cmp(c->kind, a, al, lo, lol) < 0) || (hi && ce_pkey_cmp(c->kind, b, bl, hi, hil) >= 0)) {
      ce_pdamage_near(c->d, a, al);
      return fail(c->d, pgno, "page %" PRIu64 " holds keys outside the range its parent gives it", pgno);
    }
  }
  return 0;
}

/* From level l (a branch, positioned) down to a leaf, leftmost or rightmost. */
static int descend(ce_pcur *c, int l, int rightmost) {
  for (int m = l + 1; m < (int)c->db.depth; m++) {
    if (push(c, m, ce_page_child(c->st[m - 1].pg, (unsigned)c->st[m - 1].i)) != 0) return -1;
    c->st[m].i = rightmost ? c->st[m].n - 1 : 0;
  }
  c->top = (int)c->db.depth - 1;
  return 0;
}

int ce_pcur_next(ce_pcur *c) {
  int l = c->top;
  if (l < 0) return 0;
  if (++c->st[l].i < c->st[l].n) return 1;
  while (--l >= 0)
    if (c->st[l].i + 1 < c->st[l].n) break;
  if (l < 0) {
    c->st[c->top].i = c->st[c->top].n;
    return 0;
  }
  c->st[l].i++;
  return descend(c, l, 0) == 0 ? 1 : -1;
}

int ce_pcur_prev(ce_pcur *c) {
  int l = c->top;
  if (l < 0) return 0;
  if (--c->st[l].i >= 0) return 1;
  while (--l >= 0)
    if (c->st[l].i > 0) break;
  if (l < 0) {
    c->st[c->top].i = -1;
    return 0;
  }
  c->st[l].i--;
  return descend(c, l, 1) == 0 ? 1 : -1;
}

void ce_pcur_key(const ce_pcur *c, const unsigned char **k, size_t *kl) { key_of(c, c->top, c->st[c->top].i, k, kl); }

int ce_pcur_value(ce_pcur *c, const unsigned char **v, size_t *vl) {
  if (ce_page_value(c->f, c->st[c->top].pg, (unsigned)c->st[c->top].i, v, vl, c->d) == 0) return 0;
  const unsigned char *k;
  size_t kl;
  ce_pcur_key(c, &k, &kl);
  ce_pdamage_near(c->d, k, kl);
  return -1;
}

/* Index of the last key in [first, n) that is < k (or <= k), or first - 1. */
static int last_below(const ce_pcur *c, int l, int first, const void *k, size_t kl, int or_equal) {
  int lo = first, hi = c->st[l].n - 1, ans = first - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const unsigned char *mk;
    size_t ml;
    key_of(c, l, mid, &mk, &ml);
    int cmp = ce_pkey_cmp(c->kind, mk, ml, k, kl);
    if (cmp < 0 || (or_equal && cmp == 0)) {
      ans = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return ans;
}

typedef struct {
  int top;
  int i[CE_P_MAXDEPTH];
  const unsigned char *pg[CE_P_MAXDEPTH];
  uint64_t pgno[CE_P_MAXDEPTH];
  int n[CE_P_MAXDEPTH];
} saved;

static void save(const ce_pcur *c, saved *s) {
  s->top = c->top;
  for (int l = 0; l <= c->top; l++) {
    s->i[l] = c->st[l].i;
    s->pg[l] = c->st[l].pg;
    s->pgno[l] = c->st[l].pgno;
    s->n[l] = c->st[l].n;
  }
}

static void restore(ce_pcur *c, const saved *s) {
  c->top = s->top;
  for (int l = 0; l <= s->top; l++) {
    c->st[l].i = s->i[l];
    c->st[l].pg = s->pg[l];
    c->st[l].pgno = s->pgno[l];
    c->st[l].n = s->n[l];
  }
}

static int misplaced(ce_pcur *c, const char *how) {
  const unsigned char *k;
  size_t kl;
  ce_pcur_key(c, &k, &kl);
  ce_pdamage_near(c->d, k, kl);
  return fail(c->d, c->st[c->top].pgno, "page %" PRIu64 " holds a key %s the range its parents give it", c->st[c->top].pgno,
              how);
}

/* After a seek to k: the key on the other side of the cursor (before it
 * for seek_ge, after it for seek_lt) must be outside the range sought;
 * otherwise a damaged separator sent the search past keys that belong to
 * it. 1 (the cursor where it was), or -1 + damage. */
static int check_neighbour(ce_pcur *c, const void *k, size_t kl, int before) {
  saved s;
  save(c, &s);
  int r = before ? ce_pcur_prev(c) : ce_pcur_next(c);
  if (r < 0) return -1;
  if (r == 1) {
    const unsigned char *nk;
    size_t nl;
    ce_pcur_key(c, &nk, &nl);
    int cmp = ce_pkey_cmp(c->kind, nk, nl, k, kl);
    if (before ? cmp >= 0 : cmp < 0) return misplaced(c, before ? "above" : "below");
  }
  restore(c, &s);
  return 1;
}

int ce_pcur_seek_ge(ce_pcur *c, const void *k, size_t kl) {
  c->top = -1;
  if (c->db.root == CE_P_INVALID) return 0;
  if (push(c, 0, c->db.root) != 0) return -1;
  int depth = (int)c->db.depth;
  for (int l = 0; l < depth - 1; l++) {
    int i = k ? last_below(c, l, 1, k, kl, 1) : 0;
    c->st[l].i = i < 1 ? 0 : i;
    if (push(c, l + 1, ce_page_child(c->st[l].pg, (unsigned)c->st[l].i)) != 0) return -1;
  }
  int l = depth - 1;
  c->top = l;
  int i = k ? last_below(c, l, 0, k, kl, 0) + 1 : 0;
  int r = 1;
  if (i >= c->st[l].n) {
    c->st[l].i = c->st[l].n - 1;
    r = ce_pcur_next(c);
    if (r < 0) return -1;
  } else {
    c->st[l].i = i;
  }
  if (!k || r == 0) return r;
  return check_neighbour(c, k, kl, 1);
}

int ce_pcur_seek_lt(ce_pcur *c, const void *k, size_t kl) {
  c->top = -1;
  if (c->db.root == CE_P_INVALID) return 0;
  if (push(c, 0, c->db.root) != 0) return -1;
  int depth = (int)c->db.depth;
  for (int l = 0; l < depth - 1; l++) {
    int i = k ? last_below(c, l, 1, k, kl, 0) : c->st[l].n - 1;
    c->st[l].i = i < 1 ? 0 : i;
    if (push(c, l + 1, ce_page_child(c->st[l].pg, (unsigned)c->st[l].i)) != 0) return -1;
  }
  int l = depth - 1;
  c->top = l;
  int i = k ? last_below(c, l, 0, k, kl, 0) : c->st[l].n - 1;
  int r = 1;
  if (i < 0) {
    c->st[l].i = 0;
    r = ce_pcur_prev(c);
    if (r < 0) return -1;
  } else {
    c->st[l].i = i;
  }
  if (!k || r == 0) return r;
  return check_neighbour(c, k, kl, 0);
}
