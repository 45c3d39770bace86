/* SPDX-License-Identifier: MIT */
/* API tokens, shared by all worker threads. A token is 32 random bytes
 * shown once to its owner as base64url text; the store keeps only its
 * BLAKE2b hash, the user and the expiry, so a copy of the server's memory
 * lets no one in. A lookup hashes the presented text and finds the hash:
 * the chain it walks depends on the hash, never on the secret, and the
 * comparisons are constant-time. Expired tokens are answered "expired" for
 * a grace time, then swept. */
#ifndef CE_AUTH_TOKENS_H
#define CE_AUTH_TOKENS_H

#include <stddef.h>

#define CE_TOKEN_BYTES 32
#define CE_TOKEN_TEXT 44 /* 43 base64url characters and a NUL */
#define CE_TOKEN_HASH 32
#define CE_USER_MAX 64   /* bytes in a user name */
#define CE_TOKEN_GRACE 600.0 /* seconds an expired token is still known as expired */

typedef struct ce_tokens ce_tokens;

typedef struct {
  char user[CE_USER_MAX + 1];
  double expires;                     /* wall clock, seconds since the epoch */
  unsigned char hash[CE_TOKEN_HASH];  /* names the token without revealing it */
} ce_token_info;

/* ttl: seconds a token lives. max_per_user: live tokens a user may hold;
 * a login beyond it retires that user's oldest. NULL when out of memory. */
ce_tokens *ce_tokens_new(double ttl, size_t max_per_user);
/* A new token for user (at most CE_USER_MAX bytes) at wall time now: its
 * text goes to text, its details to info. 0, or -1 when out of memory. */
int ce_tokens_issue(ce_tokens *t, const char *user, double now, char text[CE_TOKEN_TEXT], ce_token_info *info);
/* 1: valid (info filled); 0: unknown (bad text, revoked, swept); -1: expired. */
int ce_tokens_check(ce_tokens *t, const char *text, size_t len, double now, ce_token_info *info);
int ce_tokens_revoke(ce_tokens *t, const char *text, size_t len); /* 1 when it was known */
size_t ce_tokens_revoke_user(ce_tokens *t, const char *user);      /* how many went */
size_t ce_tokens_count(ce_tokens *t);                              /* held, expired ones included */
void ce_tokens_free(ce_tokens *t);                                 /* NULL-safe */

#endif
