/* SPDX-License-Identifier: MIT */
/* Password hashes: argon2id through libsodium (crypto_pwhash_argon2id_str),
 * the self-describing "$argon2id$v=19$m=...,t=...,p=1$salt$hash" text that
 * carries its own cost, so a hash made at one strength verifies at any. */
#ifndef CE_AUTH_PASSWORD_H
#define CE_AUTH_PASSWORD_H

#include <stddef.h>

#include "core/util/err.h"

#define CE_PW_HASH_MAX 128 /* crypto_pwhash_argon2id_STRBYTES, NUL included */
#define CE_PW_MAX 1024     /* bytes in a password */

typedef struct {
  unsigned long long ops; /* passes over memory (argon2's t) */
  size_t mem;             /* bytes (argon2's m, in KiB, times 1024) */
} ce_pw_cost;

/* libsodium's named costs: "interactive" (2 passes over 64 MiB), "moderate"
 * (3, 256 MiB), "sensitive" (4, 1 GiB). 0, or -1 for an unknown name. */
int ce_pw_cost_named(const char *name, ce_pw_cost *cost);
/* The cost written in a hash. 0, or -1 (err says why) when text is not an argon2id hash. */
int ce_pw_cost_of(const char *text, ce_pw_cost *cost, ce_err *err);
/* Hashes a password (1..CE_PW_MAX bytes) with a fresh salt. 0, or -1 + err. */
int ce_pw_hash(const char *pw, size_t len, const ce_pw_cost *cost, char out[CE_PW_HASH_MAX], ce_err *err);
/* 1 when pw matches hash, else 0 (a malformed hash matches nothing). */
int ce_pw_verify(const char *hash, const char *pw, size_t len);

#endif
