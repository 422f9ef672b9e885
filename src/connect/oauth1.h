/*
 * OAuth 1.0 request signing (RFC 5849) with HMAC-SHA256 or HMAC-SHA1, as NetSuite's
 * token-based authentication uses it
 * (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4387799721.html):
 * a consumer (key and secret) and an access token (token and token secret) sign each request,
 * and the signature travels in the Authorization header.
 *
 * The signature base string (RFC 5849 section 3.4.1) is
 *
 *   METHOD "&" encode(base string URI) "&" encode(normalized parameters)
 *
 * - METHOD in upper case;
 * - the base string URI: scheme and host in lower case, the port only when it is not the
 *   scheme's default (80 for http, 443 for https), the path as sent ("/" when empty), no query
 *   and no fragment (section 3.4.1.2);
 * - the parameters (section 3.4.1.3): the query's name=value pairs, the body's when its
 *   Content-Type is application/x-www-form-urlencoded (a JSON, XML or other body is not
 *   included), and the protocol parameters (oauth_*, without oauth_signature and realm). Query
 *   and body are decoded as HTML forms are ('+' is a space, %XX a byte). Every name and value
 *   is then encoded (section 3.6: only ALPHA, DIGIT, '-', '.', '_', '~' stay, every other byte
 *   is %XX in upper case), the pairs are sorted by name and then by value in byte order, and
 *   joined as name=value with '&' (section 3.4.1.3.2).
 *
 * The key is encode(consumer secret) "&" encode(token secret) (section 3.4.2), the signature
 * the base64 of the HMAC of the base string under it. The header (section 3.5.1):
 *
 *   OAuth realm="R", oauth_consumer_key="K", oauth_token="T",
 *   oauth_signature_method="HMAC-SHA256", oauth_timestamp="S", oauth_nonce="N",
 *   oauth_version="1.0", oauth_signature="encode(SIGNATURE)"
 *
 * on one line, each value encoded as in section 3.6; realm only when there is one (NetSuite's
 * is the account id, e.g. 123456_SB1).
 */
#ifndef MANDATE_CONNECT_OAUTH1_H
#define MANDATE_CONNECT_OAUTH1_H

#include <stddef.h>

#include "core/err.h"
#include "core/str.h"

#define CONNECT_OAUTH1_NONCE_LEN 32 /* characters of a nonce we draw: 16 random bytes in hex */

/* One request's signing inputs; every string is borrowed for the call. */
struct connect_oauth1 {
    const char *consumer_key;
    const char *consumer_secret;
    const char *token;
    const char *token_secret;
    const char *realm;            /* NULL: no realm in the header */
    const char *signature_method; /* "HMAC-SHA256" or "HMAC-SHA1" */
    const char *timestamp;        /* seconds since the epoch, as digits */
    const char *nonce;            /* unique per timestamp */
};

/* One parameter of the base string: a name and a value as raw bytes (not encoded). */
struct connect_oauth1_param {
    struct slice name;
    struct slice value;
};

/*
 * The signature base string of a request (method, url as sent, the Content-Type header's value
 * or NULL, the body or NULL) with the protocol parameters oauth[0..n_oauth) into out (reset
 * first). MD_ERR_VALUE for a URL that is not http(s)://host..., MD_ERR_TOOLARGE when out's cap
 * is reached, MD_ERR_NOMEM.
 */
enum md_err connect_oauth1_base_string(const char *method, const char *url,
                                       const char *content_type, const char *body, size_t body_len,
                                       const struct connect_oauth1_param *oauth, size_t n_oauth,
                                       struct buf *out, struct md_error *e);

/*
 * The base64 signature of base under consumer_secret and token_secret with method
 * ("HMAC-SHA256" or "HMAC-SHA1") into sig (at least 48 bytes, NUL-terminated). MD_ERR_VALUE for
 * another method.
 */
enum md_err connect_oauth1_sign(const char *method, const char *consumer_secret,
                                const char *token_secret, const char *base, size_t base_len,
                                char sig[48], struct md_error *e);

/*
 * The Authorization header's value for a request signed with p (the request as
 * connect_oauth1_base_string takes it). On MD_OK, *out is a heap string the caller wipes and
 * frees. Errors as above.
 */
enum md_err connect_oauth1_authorization(const char *method, const char *url,
                                         const char *content_type, const char *body,
                                         size_t body_len, const struct connect_oauth1 *p,
                                         char **out, struct md_error *e);

/* A fresh nonce: CONNECT_OAUTH1_NONCE_LEN hex digits and a NUL. MD_ERR_INTERNAL when the
 * random generator fails. */
enum md_err connect_oauth1_nonce(char out[CONNECT_OAUTH1_NONCE_LEN + 1]);

#endif
