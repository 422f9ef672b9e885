/*
 * Console sessions: an admin signs in once with an admin token and then holds a session
 * cookie instead of the token, so that the token never has to live in the browser's storage.
 *
 * - A session is 256 random bits, handed to the browser once in a cookie (HttpOnly,
 *   SameSite=Strict, Secure when the console is served over https). Only its SHA-256 is kept,
 *   in this node's memory: a copy of the table leaks no usable cookie. Sessions do not outlive
 *   a restart, and behind a load balancer each node knows only the sessions signed in on it
 *   (docs/console.md: use session affinity, or sign in again).
 * - A session expires after HTTP_SESSION_IDLE_MS without a request and HTTP_SESSION_MAX_MS after
 *   sign-in, whichever comes first. It ends at once when its admin token is revoked: every
 *   request checks the token again (http_session_authenticate).
 * - Every request that changes something carries the session's CSRF token in the header
 *   X-CSRF-Token. The CSRF token is derived from the session's secret (SHA-256 with a distinct
 *   prefix), so it needs no storage and cannot be computed from the stored hash; it is compared
 *   in constant time.
 * - Sign-in attempts are rate limited per client address: a bucket of HTTP_SIGNIN_BURST
 *   attempts that refills one attempt every HTTP_SIGNIN_REFILL_MS.
 *
 * The table is thread-safe (one mutex). Neither the cookie nor the CSRF token is ever logged.
 */
#ifndef MANDATE_HTTP_SESSION_H
#define MANDATE_HTTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define HTTP_SESSION_IDLE_MS (30LL * 60 * 1000)     /* 30 minutes without a request */
#define HTTP_SESSION_MAX_MS (12LL * 60 * 60 * 1000) /* 12 hours after sign-in */
#define HTTP_SESSION_MAX_COUNT 4096                 /* the oldest session goes beyond it */
#define HTTP_SIGNIN_BURST 10                        /* attempts a client may make at once */
#define HTTP_SIGNIN_REFILL_MS 6000                  /* one more attempt every 6 s: 10 a minute */
#define HTTP_SIGNIN_CLIENTS_MAX 16384               /* client addresses tracked at once */

/* The cookie's value and the CSRF token: base64url of 32 bytes, 43 characters and a NUL. */
#define HTTP_SESSION_SECRET_LEN 44

/* The cookie's name over http, and over https (the __Host- prefix pins it to this host). */
#define HTTP_SESSION_COOKIE "mandate_session"
#define HTTP_SESSION_COOKIE_SECURE "__Host-mandate_session"
#define HTTP_CSRF_HEADER "X-CSRF-Token"

/* What a session knows of itself. */
struct http_session_info {
    char token_id[64];    /* the admin token signed in with */
    char token_name[128]; /* its name, for the console's header */
    char token_hash[65];  /* its SHA-256, to check on every request that it still stands */
    int64_t created_ms;   /* sign-in (wall clock) */
    int64_t last_ms;      /* the last request */
    int64_t expires_ms;   /* the earlier of the idle and the absolute expiry */
};

struct http_sessions;

/* An empty table; free with http_sessions_free. */
enum md_err http_sessions_new(struct http_sessions **out, struct md_error *e);
void http_sessions_free(struct http_sessions *s);

/*
 * Starts a session for admin (an admin token already verified). secret_out receives the
 * cookie's value, the only copy; info (may be NULL) what the session knows. When the table is
 * full, the session used least recently is ended to make room.
 */
enum md_err http_session_create(struct http_sessions *s, const struct store_token *admin,
                                int64_t now_ms, char secret_out[HTTP_SESSION_SECRET_LEN],
                                struct http_session_info *info, struct md_error *e);

/*
 * The session of a cookie value, refreshed to now_ms: MD_ERR_UNAUTHORIZED when there is none or
 * it has expired (an expired one is removed).
 */
enum md_err http_session_find(struct http_sessions *s, const char *secret, int64_t now_ms,
                              struct http_session_info *out, struct md_error *e);

/* Ends the session of a cookie value; false when there was none. */
bool http_session_end(struct http_sessions *s, const char *secret);

/* Ends every session signed in with the admin token token_id; returns how many. */
size_t http_session_end_token(struct http_sessions *s, const char *token_id);

/* The number of live sessions (expired ones are not counted once found). */
size_t http_session_count(struct http_sessions *s);

/* The CSRF token of the session whose cookie value is secret. */
void http_session_csrf(const char *secret, char out[HTTP_SESSION_SECRET_LEN]);

/* Whether presented is the CSRF token of that session, compared in constant time. */
bool http_session_csrf_ok(const char *secret, const char *presented);

/*
 * Takes one sign-in attempt from client's bucket (client: its address as text). False when the
 * bucket is empty; *retry_ms (may be NULL) then says when the next attempt will be allowed.
 */
bool http_signin_attempt(struct http_sessions *s, const char *client, int64_t now_ms,
                         int64_t *retry_ms);

#endif
