/*
 * JSON Web Tokens for the OAuth 2.0 JWT bearer grant (RFC 7523 section 2.1), the way Google
 * service accounts get access tokens
 * (https://developers.google.com/identity/protocols/oauth2/service-account#httprest).
 *
 * A JWT here is always signed with RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 section
 * 3.3) under an RSA private key given in PEM (PKCS #8 "BEGIN PRIVATE KEY", as a service
 * account key file holds it, or PKCS #1 "BEGIN RSA PRIVATE KEY"):
 *
 *   base64url(header) "." base64url(claims) "." base64url(signature)
 *   header: {"alg": "RS256", "typ": "JWT", "kid": KEY ID}
 *   claims: {"iss": ISSUER, "scope": SCOPE, "aud": AUDIENCE, "iat": T, "exp": T + 3600,
 *            "sub": SUBJECT (only when there is one)}
 *
 * base64url is RFC 4648 section 5 without padding (RFC 7515 section 2). The private key is
 * parsed for each signature and freed (and wiped by OpenSSL) at once; it is never kept, logged
 * or quoted in a message.
 */
#ifndef MANDATE_CONNECT_JWT_H
#define MANDATE_CONNECT_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CONNECT_JWT_LIFETIME_S 3600     /* exp - iat; Google takes at most an hour */
#define CONNECT_JWT_KEY_MAX (16 * 1024) /* bytes of a PEM private key */
#define CONNECT_JWT_KEY_MIN_BITS 2048   /* RFC 7518 section 3.3: 2048 bits or larger */

/* What a JWT asserts; every string is borrowed for the call. */
struct connect_jwt_claims {
    const char *iss;   /* the issuer: a service account's client_email */
    const char *scope; /* space-separated scopes; NULL: no scope claim */
    const char *aud;   /* the audience: the token endpoint's URL */
    const char *sub;   /* the subject (the user to act as); NULL: no sub claim */
    int64_t iat;       /* issued at, seconds since the epoch; exp is iat + 3600 */
};

/*
 * Checks that pem (len bytes) is an unencrypted RSA private key of at least
 * CONNECT_JWT_KEY_MIN_BITS bits that can sign. MD_ERR_VALUE with a sentence that never quotes
 * the key.
 */
enum md_err connect_jwt_key_check(const char *pem, size_t len, struct md_error *e);

/*
 * Signs claims with the key pem (NUL-terminated) under the key id kid. On MD_OK, *out is the
 * compact JWT (heap, NUL-terminated), a secret until it expires: the caller wipes and frees it.
 * MD_ERR_VALUE (a bad key or a missing claim), MD_ERR_NOMEM, MD_ERR_INTERNAL.
 */
enum md_err connect_jwt_sign(const char *pem, const char *kid, const struct connect_jwt_claims *c,
                             char **out, struct md_error *e);

#endif
