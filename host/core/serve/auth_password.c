/* SPDX-License-Identifier: MIT */
#include "core/serve/auth_password.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

_Static_assert(CE_PW_HASH_MAX == crypto_pwhash_argon2id_STRBYTES, "hash text size");

int ce_pw_cost_named(const char *name, ce_pw_cost *cost) {
  if (strcmp(name, "interactive") == 0)
    *cost = (ce_pw_cost){crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
  else if (strcmp(name, "moderate") == 0)
    *cost = (ce_pw_cost){crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
  else if (strcmp(name, "sensitive") == 0)
    *cost = (ce_pw_cost){crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE, crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE};
  else return -1;
  return 0;
}

int ce_pw_cost_of(const char *text, ce_pw_cost *cost, ce_err *err) {
  unsigned v, m, t, p;
  int used = 0;
  if (strncmp(text, "$argon2id$", 10) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "not an argon2id hash (it must start with $argon2id$)");
    return -1;
  }
  if (sscanf(text, "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &v, &m, &t, &p, &used) != 4 || !used || m == 0 || t == 0 ||
      strlen(text) >= CE_PW_HASH_MAX ||
      crypto_pwhash_argon2id_str_needs_rehash(text, t, (size_t)m * 1024) < 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "malformed argon2id hash");
    return -1;
  }
  cost->ops = t;
  cost->mem = (size_t)m * 1024;
  return 0;
}

int ce_pw_hash(const char *pw, size_t len, const ce_pw_cost *cost, char out[CE_PW_HASH_MAX], ce_err *err) {
  if (sodium_init() < 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "libsodium failed to start");
    return -1;
  }
  if (len == 0 || len > CE_PW_MAX) {
    ce_err_setf(err, 1, NULL, 0, 0, "a password must have 1 to %d bytes", CE_PW_MAX);
    return -1;
  }
  if (crypto_pwhash_argon2id_str(out, pw, len, cost->ops, cost->mem) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "not enough memory to hash a password (%zu MiB needed)", cost->mem >> 20);
    return -1;
  }
  return 0;
}

int ce_pw_verify(const char *hash, const char *pw, size_t len) {
  if (sodium_init() < 0 || len > CE_PW_MAX || strnlen(hash, CE_PW_HASH_MAX) >= CE_PW_HASH_MAX) return 0;
  return crypto_pwhash_argon2id_str_verify(hash, pw, len) == 0;
}
