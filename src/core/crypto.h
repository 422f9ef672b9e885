/* Crypto wrappers over OpenSSL: randomness, hashing, constant-time comparison, ids. */
#ifndef MANDATE_CORE_CRYPTO_H
#define MANDATE_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define CRYPTO_SHA256_HEX_LEN 65 /* 64 hex digits and a NUL */
#define CRYPTO_UUID_LEN 37       /* 36 characters and a NUL */

/* Fills out with len bytes from the OS CSPRNG. */
enum md_err crypto_random(void *out, size_t len);
/* Lowercase hex SHA-256 of data. */
void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN]);
/* Compares two byte strings in time that depends only on their lengths. */
bool crypto_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* A random RFC 4122 version 4 UUID in lowercase. */
enum md_err crypto_uuid(char out[CRYPTO_UUID_LEN]);
/*
 * base64url without padding of len bytes into out, which must hold 4*ceil(len/3)+1 bytes;
 * returns the number of characters written (without the NUL).
 */
size_t crypto_b64url(const void *data, size_t len, char *out);

#endif
