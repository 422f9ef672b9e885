/*
 * OAuth 2.0 client credentials (RFC 6749 section 4.4) with an in-memory token cache.
 *
 * A connector that authenticates with client credentials gets its access token here, before
 * each upstream call: from the cache while the token has more than CONNECT_OAUTH_MIN_TTL_S
 * seconds left, else by one token request on the transport. Callers that need the same token
 * while its request is in flight wait for that one request, so that a burst of tool calls
 * after expiry costs one round trip to the token endpoint, not one each.
 *
 * Secrets: the client secret is copied into the token request only (an Authorization header or
 * the form body), which the transport wipes when done; it is not kept here. Access tokens live
 * in memory only, and are wiped when replaced or freed. Neither the secret nor a token ever
 * appears in an error sentence or a log line.
 */
#ifndef MANDATE_CONNECT_OAUTH_H
#define MANDATE_CONNECT_OAUTH_H

#include <stdbool.h>

#include "connect/transport.h"
#include "core/err.h"

/* A cached token is used only while it has more than this many seconds left. */
#define CONNECT_OAUTH_MIN_TTL_S 60
/* The lifetime assumed when the token response has no expires_in (RFC 6749 5.1: optional). */
#define CONNECT_OAUTH_DEFAULT_TTL_S 3600

/* A cache of access tokens, per connector. Thread-safe. */
struct connect_oauth;

/*
 * A new, empty cache that requests tokens on t (borrowed: t must outlive it). On MD_OK, *out
 * is released by connect_oauth_free. Errors: MD_ERR_NOMEM, MD_ERR_INTERNAL.
 */
enum md_err connect_oauth_new(struct connect_transport *t, struct connect_oauth **out,
                              struct md_error *e);

/*
 * Frees the cache and wipes its tokens; o may be NULL. No token request may be in flight:
 * stop the transport first (connect_transport_stop completes every request, which calls back
 * into o), then free o.
 */
void connect_oauth_free(struct connect_oauth *o);

/* What a token request needs; every string is borrowed for the duration of the call only. */
struct connect_oauth_params {
    const char *cache_key; /* e.g. the connector's name plus a fingerprint of the credential;
                              a different key never shares a token */
    const char *token_url; /* absolute https:// (or http:// when the transport allows it) */
    const char *client_id;
    const char *client_secret;
    const char *scope;       /* NULL: none sent */
    const char *audience;    /* NULL: none sent (some providers want it) */
    bool client_secret_post; /* false (default): HTTP Basic client authentication (RFC 6749
                                2.3.1: id and secret each form-urlencoded, then joined by ':'
                                and base64-encoded, as the RFC says); true: client_id and
                                client_secret in the form body */
};

/*
 * The outcome of a token request. access_token is borrowed for the duration of the call (copy
 * it to keep it) and NULL when err != MD_OK; error is a sentence for a person when
 * err != MD_OK, else NULL.
 */
typedef void (*connect_token_fn)(void *cls, enum md_err err, const char *access_token,
                                 const char *error);

/*
 * Gets a valid access token for p and passes it to fn, exactly once:
 * - from the cache when it has more than CONNECT_OAUTH_MIN_TTL_S seconds left: fn is called
 *   at once, on the calling thread, before this returns;
 * - else by a token request on the transport: fn is called on the transport's thread. Callers
 *   for the same cache_key while a token request is in flight join that request (no
 *   thundering herd): all of their callbacks are called, in the order they came, when it
 *   completes.
 * force_refresh drops the cached token first (the caller got a 401 from the upstream with it);
 * it joins a request already in flight, which yields a fresh token anyway.
 *
 * The token request: POST token_url, Content-Type application/x-www-form-urlencoded, Accept
 * application/json, body grant_type=client_credentials[&scope=..][&audience=..]
 * [&client_id=..&client_secret=.. with client_secret_post], else Authorization: Basic. Its
 * answer (RFC 6749 5.1) must be JSON with access_token (printable ASCII without spaces, so
 * that it fits in a header) and token_type Bearer (case-insensitive); expires_in (seconds, a
 * number or a string of digits) is optional, CONNECT_OAUTH_DEFAULT_TTL_S when absent, and
 * counts from when the request was sent.
 *
 * Errors passed to fn:
 * - MD_ERR_UNAUTHORIZED: the endpoint refused the credentials (RFC 6749 5.2 invalid_client,
 *   unauthorized_client, invalid_grant, or a 401 without a usable error body), e.g.
 *   "token endpoint refused the client credentials: invalid_client (Bad secret)".
 * - MD_ERR_FORBIDDEN: it refused the scope (invalid_scope).
 * - MD_ERR_UNAVAILABLE: any other refusal (invalid_request, unsupported_grant_type, another
 *   status), a malformed answer (not JSON, no access_token, a token_type other than Bearer),
 *   or the transport's own failures (unreachable, timed out, shutting down).
 * - MD_ERR_VALUE (an unfollowed redirect), MD_ERR_TOOLARGE (an answer over 64 KiB),
 *   MD_ERR_NOMEM: from the transport.
 * A failure is not cached: the next call asks the endpoint again.
 *
 * Return value: MD_OK when fn was or will be called. Otherwise fn is NOT called: MD_ERR_VALUE
 * (a missing parameter; a token_url the transport refuses), MD_ERR_UNAVAILABLE (the transport
 * is full or stopping), MD_ERR_NOMEM.
 */
enum md_err connect_oauth_token(struct connect_oauth *o, const struct connect_oauth_params *p,
                                bool force_refresh, connect_token_fn fn, void *cls,
                                struct md_error *e);

#endif
