/*
 * OAuth 2.0 access tokens with an in-memory cache, for three grants: client credentials (RFC
 * 6749 section 4.4), refresh token (RFC 6749 section 6) and JWT bearer (RFC 7523 section 2.1).
 *
 * A connector that authenticates with OAuth 2.0 gets its access token here, before each
 * upstream call: from the cache while the token has more than CONNECT_OAUTH_MIN_TTL_S seconds
 * left, else by one token request on the transport. Callers that need the same token while its
 * request is in flight wait for that one request, so that a burst of tool calls after expiry
 * costs one round trip to the token endpoint, not one each.
 *
 * Refresh tokens that rotate. A token endpoint may answer a refresh with a new refresh token
 * (Intuit does, and may stop taking the old one). The cache entry of a refresh grant keeps the
 * newest refresh token it was issued and the SHA-256 of the last few of its lineage, and every
 * refresh on this node uses the newest one, whatever the caller brought: a call that read the
 * vault just before a rotation was written back never refreshes with the stale token. Refreshes
 * of one entry are serialized (one request in flight, the others wait for it), so two
 * refreshes on one node never race with the same refresh token. A caller whose refresh token is
 * not of the entry's lineage (an administrator set a new credential) starts a new lineage: the
 * cached access token and the newest refresh token are dropped. The new refresh token is handed
 * to the rotate callback, before any waiter gets the access token, to be sealed into the vault
 * (runtime.c does it with connect_vault_rotate, a compare-and-set: it replaces the stored
 * refresh token only while the stored one is still the one that was used, so an older
 * rotation, another node's or a stale one, never overwrites a newer one).
 *
 * Secrets: the client secret, the refresh token and the signed JWT are copied into the token
 * request only (an Authorization header or the form body), which the transport wipes when
 * done. Access tokens and the newest refresh token live in memory only, and are wiped when
 * replaced or freed. No secret or token ever appears in an error sentence or a log line.
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

/* The grant a token request uses. */
enum connect_oauth_grant {
    CONNECT_GRANT_CLIENT_CREDENTIALS = 0, /* RFC 6749 section 4.4 */
    CONNECT_GRANT_REFRESH_TOKEN,          /* RFC 6749 section 6 */
    CONNECT_GRANT_JWT_BEARER,             /* RFC 7523 section 2.1 */
};

/*
 * Told of a refresh token that the endpoint rotated: id is the params' rotate_id, old_token the
 * refresh token that the request used, new_token the one the endpoint issued. Called on the
 * transport's thread, without locks held, before the waiters get the access token; it may
 * block briefly (a store write). Its strings are borrowed for the call.
 */
typedef void (*connect_rotate_fn)(void *cls, const char *id, const char *old_token,
                                  const char *new_token);

/* What a token request needs; every string is borrowed for the duration of the call only. */
struct connect_oauth_params {
    const char *cache_key; /* e.g. the connector's name plus a fingerprint of the credential;
                              a different key never shares a token */
    const char *token_url; /* absolute https:// (or http:// when the transport allows it); the
                              JWT's aud too */
    enum connect_oauth_grant grant; /* 0: client credentials */
    /* Client credentials and refresh token: the client and how it authenticates. */
    const char *client_id;
    const char *client_secret;
    const char *scope;       /* NULL: none sent (JWT bearer: the JWT's scope claim) */
    const char *audience;    /* client credentials: NULL, or sent (some providers want it) */
    bool client_secret_post; /* false (default): HTTP Basic client authentication (RFC 6749
                                2.3.1: id and secret each form-urlencoded, then joined by ':'
                                and base64-encoded, as the RFC says); true: client_id and
                                client_secret in the form body */
    /* Refresh token. */
    const char *refresh_token; /* the one the vault holds */
    connect_rotate_fn rotate;  /* NULL: a rotated refresh token is kept in memory only */
    void *rotate_cls;          /* must outlive the cache */
    const char *rotate_id;     /* for rotate (e.g. the connector's name); copied */
    /* JWT bearer (jwt.h): the JWT is signed when a token request is made. */
    const char *jwt_key;     /* PEM RSA private key */
    const char *jwt_key_id;  /* the header's kid */
    const char *jwt_issuer;  /* iss: a service account's client_email */
    const char *jwt_subject; /* sub, or NULL: none (cache_key must then differ per subject) */
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
 * application/json, and the body
 * - client credentials: grant_type=client_credentials[&scope=..][&audience=..]
 *   [&client_id=..&client_secret=.. with client_secret_post], else Authorization: Basic;
 * - refresh token: grant_type=refresh_token&refresh_token=..[&scope=..], the client
 *   authenticated as above;
 * - JWT bearer: grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<the JWT>,
 *   signed now (iat: the wall clock; exp: an hour later), no client authentication.
 * Its answer (RFC 6749 5.1) must be JSON with access_token (printable ASCII without spaces, so
 * that it fits in a header) and token_type Bearer (case-insensitive); expires_in (seconds, a
 * number or a string of digits) is optional, CONNECT_OAUTH_DEFAULT_TTL_S when absent, and
 * counts from when the request was sent. A refresh answer may carry a new refresh_token (see
 * above).
 *
 * Errors passed to fn:
 * - MD_ERR_UNAUTHORIZED: the endpoint refused the credentials (RFC 6749 5.2 invalid_client,
 *   unauthorized_client, invalid_grant, or a 401 without a usable error body), e.g.
 *   "token endpoint refused the client credentials: invalid_client (Bad secret)", or "...
 *   refused the refresh token: invalid_grant" for a refresh.
 * - MD_ERR_FORBIDDEN: it refused the scope (invalid_scope).
 * - MD_ERR_UNAVAILABLE: any other refusal (invalid_request, unsupported_grant_type, another
 *   status), a malformed answer (not JSON, no access_token, a token_type other than Bearer),
 *   the transport's own failures (unreachable, timed out, shutting down), or, to a caller of
 *   a refresh grant that joined a request of the lineage its credential replaced, "the
 *   credential changed while a token was fetched".
 * - MD_ERR_VALUE (an unfollowed redirect), MD_ERR_TOOLARGE (an answer over 64 KiB),
 *   MD_ERR_NOMEM: from the transport.
 * A failure is not cached: the next call asks the endpoint again.
 *
 * Return value: MD_OK when fn was or will be called. Otherwise fn is NOT called: MD_ERR_VALUE
 * (a missing parameter; a token_url the transport refuses; a JWT key that cannot sign),
 * MD_ERR_UNAVAILABLE (the transport is full or stopping), MD_ERR_NOMEM.
 */
enum md_err connect_oauth_token(struct connect_oauth *o, const struct connect_oauth_params *p,
                                bool force_refresh, connect_token_fn fn, void *cls,
                                struct md_error *e);

#endif
