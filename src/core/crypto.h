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
/* HMAC-SHA-256 (RFC 2104) of data under key into out (32 bytes). */
#define CRYPTO_HMAC_SHA256_LEN 32
void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        unsigned char out[CRYPTO_HMAC_SHA256_LEN]);
/* Lowercase hex of len bytes into out (2 * len + 1 bytes). */
void crypto_hex(const void *data, size_t len, char *out);
/* Compares two byte strings in time that depends only on their lengths. */
bool crypto_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* A random RFC 4122 version 4 UUID in lowercase. */
enum md_err crypto_uuid(char out[CRYPTO_UUID_LEN]);
/*
 * base64url without padding of len bytes into out, which must hold 4*ceil(len/3)+1 bytes;
 * returns the number of characters written (without the NUL).
 */
size_t crypto_b64url(const void *data, size_t len, char *out);

/*
 * Authenticated encryption with AES-256-GCM, for secrets at rest (the credential vault). A
 * sealed box is nonce (12 random bytes) || ciphertext || tag (16 bytes); aad (may be NULL when
 * aad_len is 0) is authenticated but not stored, e.g. what the secret belongs to, so that a box
 * moved to another record does not open.
 */
#define CRYPTO_AEAD_KEY_LEN 32
#define CRYPTO_AEAD_NONCE_LEN 12
#define CRYPTO_AEAD_TAG_LEN 16
#define CRYPTO_AEAD_OVERHEAD (CRYPTO_AEAD_NONCE_LEN + CRYPTO_AEAD_TAG_LEN)

/* Seals len bytes of pt into out (len + CRYPTO_AEAD_OVERHEAD bytes), *out_len its length. */
enum md_err crypto_aead_seal(const unsigned char key[CRYPTO_AEAD_KEY_LEN], const void *aad,
                             size_t aad_len, const void *pt, size_t len, unsigned char *out,
                             size_t *out_len);
/*
 * Opens a sealed box into pt (at least box_len - CRYPTO_AEAD_OVERHEAD bytes); *pt_len its
 * length. MD_ERR_FORBIDDEN when the box does not authenticate under this key and aad (a wrong
 * key, a changed byte, another record's box); pt is then zeroed.
 */
enum md_err crypto_aead_open(const unsigned char key[CRYPTO_AEAD_KEY_LEN], const void *aad,
                             size_t aad_len, const unsigned char *box, size_t box_len,
                             unsigned char *pt, size_t *pt_len);

#endif
