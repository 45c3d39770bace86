/* SPDX-License-Identifier: MIT */
/* The API's security state, one per server and shared by its worker
 * threads: the users and their password hashes, the tokens handed out, and
 * three rate limits (failed logins per user, failed logins per remote
 * address, requests per token). Every call is thread-safe. Times are passed
 * in (mono: monotonic seconds for the limits, wall: seconds since the epoch
 * for expiries), so tests can move the clock. */
#ifndef CE_AUTH_H
#define CE_AUTH_H

#include <stddef.h>

#include "core/serve/auth_limit.h"
#include "core/serve/auth_password.h"
#include "core/serve/auth_tokens.h"
#include "core/util/err.h"

typedef struct ce_auth ce_auth;

typedef struct {
  double token_ttl;           /* seconds a token lives */
  size_t max_tokens_per_user; /* live tokens per user; beyond it the oldest goes */
  double rate_per_minute;     /* requests per token; <= 0: no limit */
  double logins_per_minute;   /* failed logins per user and per address; <= 0: no limit */
  int hash_slots;             /* password checks at once (each holds its memory cost); 0: online CPUs */
} ce_auth_cfg;

ce_auth *ce_auth_new(const ce_auth_cfg *cfg, ce_err *err);
void ce_auth_free(void *a); /* NULL-safe; a ce_shared_destroy */

/* Replaces the users (names of 1..CE_USER_MAX bytes, argon2id hashes) and
 * remembers stamp, the version of the file they came from. A user removed
 * or given a new hash loses its tokens. Unknown names are checked against a
 * dummy hash of the users' most common cost, made here when that cost
 * changes (one hash's time). expect (NULL: any) is the stamp the caller
 * saw before reading the file: when another thread has set newer users
 * since, nothing changes, so a slow reader never puts back an old file.
 * 0, 1 when skipped for expect, or -1 + err (bad hash, out of memory). */
int ce_auth_set_users(ce_auth *a, const char *const *names, const char *const *hashes, size_t n, const char *stamp,
                      const char *expect, ce_err *err);
/* Copies the stamp given with the users ("" before any). */
void ce_auth_stamp(ce_auth *a, char *buf, size_t size);
size_t ce_auth_user_count(ce_auth *a);

typedef enum { CE_LOGIN_OK, CE_LOGIN_BAD, CE_LOGIN_LIMITED } ce_login_status;

typedef struct {
  ce_login_status status;
  char token[CE_TOKEN_TEXT]; /* OK: the token, shown once */
  ce_token_info info;        /* OK: its user and expiry */
  double retry_after;        /* LIMITED: seconds */
} ce_login_result;

/* Checks a user name and password. A failed attempt costs a token of the
 * user's and of the address's bucket (addr may be NULL or ""; IPv6
 * addresses count by their /64, which one client usually holds whole); a
 * right one costs nothing. An unknown name is verified against the dummy
 * hash, so it takes as long as a known one and gets the same answer.
 * 0 with r filled, or -1 + err (out of memory). */
int ce_auth_login(ce_auth *a, const char *user, size_t user_len, const char *pw, size_t pwlen, const char *addr,
                  double mono, double wall, ce_login_result *r, ce_err *err);

/* The same login on a thread of its own, for a caller that must not block
 * for a password check (a worker serving other requests meanwhile): poll
 * done, then take the result. The inputs are copied; the store waits for
 * running jobs before it is freed. NULL only when out of memory. */
typedef struct ce_login_job ce_login_job;
ce_login_job *ce_auth_login_start(ce_auth *a, const char *user, size_t user_len, const char *pw, size_t pwlen,
                                  const char *addr, double mono, double wall, ce_err *err);
int ce_login_job_done(ce_login_job *j); /* 1 once finished */
/* Waits until finished; then as ce_auth_login. */
int ce_login_job_result(ce_login_job *j, ce_login_result *r, ce_err *err);
void ce_login_job_free(ce_login_job *j); /* NULL-safe; a running job finishes and frees itself */

typedef enum { CE_CHECK_OK, CE_CHECK_MISSING, CE_CHECK_INVALID, CE_CHECK_EXPIRED } ce_check_status;
/* Checks an Authorization header's value ("Bearer <token>"; NULL: none). */
ce_check_status ce_auth_check(ce_auth *a, const char *header, double wall, ce_token_info *info);
/* Forgets the token of an Authorization header. 1 when it was known. */
int ce_auth_revoke(ce_auth *a, const char *header);

/* Takes one request from the bucket of key (a token's hash). 1 or 0 (refused). */
int ce_auth_limit(ce_auth *a, const void *key, size_t len, double mono, ce_limit_state *st);

size_t ce_auth_token_count(ce_auth *a);

#endif
