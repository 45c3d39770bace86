/* SPDX-License-Identifier: MIT */
/* YAML loader on libyaml's event API. No Lua here: it builds a read-only tree
 * that bindings walk. Scalars follow the YAML 1.2 core schema; aliases are
 * resolved to their anchored node (the tree is a DAG, so a walker that copies
 * per visit gets alias-as-copy semantics); "<<" merge keys are applied.
 * Every node remembers where it started, so callers can name file:line:col. */
#ifndef CE_YAML_TREE_H
#define CE_YAML_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

typedef enum {
  CE_YAML_NULL,
  CE_YAML_BOOL,
  CE_YAML_INT,
  CE_YAML_FLOAT,
  CE_YAML_STR,
  CE_YAML_SEQ,
  CE_YAML_MAP
} ce_yaml_kind;

typedef struct ce_yaml_node ce_yaml_node;
struct ce_yaml_node {
  ce_yaml_kind kind;
  unsigned line, col;     /* 1-based start of the node in the input */
  union {
    int b;
    int64_t i;
    double f;
    struct { const char *s; size_t len; } str;       /* NUL-terminated too */
    struct { ce_yaml_node **items; size_t n; } seq;  /* MAP: key, value, key, value... */
  } u;
  /* internal bookkeeping, read-only for callers */
  uint64_t expanded;      /* nodes produced when fully expanded, aliases included */
  unsigned height;        /* nesting levels below and including this node */
  size_t cap;             /* capacity of u.seq.items */
  unsigned char open;     /* container not yet closed (an alias to it is recursive) */
  unsigned char merge;    /* plain "<<" key */
};

typedef struct {
  size_t max_size;    /* bytes of input; 0: default (8 MiB) */
  unsigned max_depth; /* nesting levels, aliases expanded; 0: default (64) */
  uint64_t max_nodes; /* nodes after alias and merge expansion, all documents of the
                         stream together; 0: default (1,000,000) */
} ce_yaml_limits;

#define CE_YAML_DEFAULT_MAX_SIZE ((size_t)8 << 20)
#define CE_YAML_DEFAULT_MAX_DEPTH 64u
#define CE_YAML_DEFAULT_MAX_NODES 1000000u

enum { CE_YAML_ESYNTAX = 1, CE_YAML_ESCHEMA, CE_YAML_ELIMIT, CE_YAML_EIO, CE_YAML_ENOMEM };

typedef struct ce_yaml_stream ce_yaml_stream;

/* name is used in messages only ("<string>" when NULL). NULL + err on failure. */
ce_yaml_stream *ce_yaml_parse(const char *text, size_t len, const char *name,
                              const ce_yaml_limits *lim, ce_err *err);
ce_yaml_stream *ce_yaml_parse_file(const char *path, const ce_yaml_limits *lim,
                                   ce_err *err);
size_t ce_yaml_ndocs(const ce_yaml_stream *s);
const ce_yaml_node *ce_yaml_doc(const ce_yaml_stream *s, size_t i); /* NULL if out of range */
void ce_yaml_free(ce_yaml_stream *s);                                /* NULL-safe */

/* Resolves a plain scalar by the core schema into *out (kind and value; strings
 * are not copied: out->u.str points at text). Returns 0, or -1 when the text
 * looks like an int that does not fit 64 bits. Exposed for `--set k=v` parsing. */
int ce_yaml_resolve_plain(const char *text, size_t len, ce_yaml_node *out);

#endif
