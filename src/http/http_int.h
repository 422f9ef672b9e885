/* What stays inside the http module: the request and response of one exchange. */
#ifndef MANDATE_HTTP_INT_H
#define MANDATE_HTTP_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "scim/scim.h"
#include "store/store.h"

struct MHD_Connection;
struct access;
struct http_sessions;
struct http_activity;
struct connect_runtime;

struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;  /* the decoded path, without the query */
    const char *body; /* NULL when empty */
    size_t body_len;
    bool body_too_large;
    const char *rid;
    const char *public_url;
    struct store *store;
    struct access *access; /* borrowed, from http_config */
    const struct scim_limits *limits;
    char actor[64];                  /* set by authentication: the token id */
    struct req_ctx *ctx;             /* the connection's state (server.c) */
    struct mcp_server *mcp;          /* from http_config */
    struct connect_vault *vault;     /* from http_config */
    const char *const *origins;      /* from http_config */
    struct store_token token;        /* set by authentication: the token presented */
    unsigned port;                   /* the port this server listens on */
    struct http_sessions *sessions;  /* console sessions (session.h) */
    struct http_activity *activity;  /* recent SCIM exchanges (activity.c) */
    const char *web_dir;             /* from http_config; NULL: no console */
    struct connect_runtime *runtime; /* from http_config; NULL: no connection tests */
    struct audit *audit;             /* from http_config; may be NULL */
};

#define HTTP_MAX_HEADERS 8

struct http_resp {
    int status;
    const char *content_type; /* static string */
    char *body;               /* heap, owned */
    size_t body_len;
    struct {
        char name[48];
        char value[512];
    } headers[HTTP_MAX_HEADERS];
    int nheaders;
    /* Set by a handler whose answer comes later through http_async_complete. */
    bool pending;
};

/*
 * Answering later: a handler takes the request's handle, sets resp->pending and returns; then
 * any thread calls http_async_complete once with the answer (taken), and the connection,
 * suspended meanwhile, is resumed to send it.
 */
struct http_async;
struct http_async *http_req_async(struct http_req *req);
void http_async_complete(struct http_async *a, struct http_resp *resp);

/* A request header or decoded query parameter, or NULL. Borrowed for the request's life. */
const char *http_req_header(const struct http_req *r, const char *name);
const char *http_req_query(const struct http_req *r, const char *name);
/* A cookie of the request (RFC 6265 Cookie header), or NULL. Borrowed likewise. */
const char *http_req_cookie(const struct http_req *r, const char *name);
/*
 * Whether the client reached this server over https: --public-url is https://, or (without
 * one) a TLS-terminating proxy said so in X-Forwarded-Proto.
 */
bool http_req_is_https(const struct http_req *r);

/* Takes ownership of body (heap, may be NULL). */
void http_resp_set_body(struct http_resp *resp, int status, const char *content_type, char *body,
                        size_t len);
void http_resp_add_header(struct http_resp *resp, const char *name, const char *value);
/* Serialises body (borrowed; NULL for none). */
void http_resp_json(struct http_resp *resp, int status, const char *content_type, json_t *body);
void http_resp_problem(struct http_resp *resp, int status, const char *title, const char *detail);

/*
 * Authenticates the request's bearer token as a token of kind (token.c): found by its hash,
 * unrevoked, of that kind. Sets req->actor to the token's id and records its use (at most once
 * a minute). MD_ERR_UNAUTHORIZED with a message otherwise; a token of another kind is as
 * unknown as a wrong one.
 */
enum md_err http_authenticate(struct http_req *req, const char *kind, struct md_error *e);
/*
 * What http_authenticate does once a token has been verified: sets req->actor and req->token,
 * and records the token's use (at most once a minute). c is the connection it was verified on.
 */
void http_token_accepted(struct http_req *req, struct store_conn *c, const struct store_token *t);

/*
 * /api/v1 by console session (route_session.c), for a request that carries no Authorization
 * header: the session cookie must name a live session whose admin token still stands, and a
 * request that may change something (any method but GET, HEAD and OPTIONS) must carry the
 * session's CSRF token in X-CSRF-Token. MD_ERR_UNAUTHORIZED (no session, expired, token
 * revoked: the session is then ended) or MD_ERR_FORBIDDEN (CSRF token missing or wrong).
 */
enum md_err http_session_authenticate(struct http_req *req, struct md_error *e);
/* Whether the request carries a session cookie at all. */
bool http_req_has_session(const struct http_req *req);
/* /api/v1/session: sign in (POST), the session (GET), sign out (DELETE). */
void http_route_session(struct http_req *req, struct http_resp *resp, const char *rest);

/* ---- recent SCIM exchanges, for the console's Provisioning page (activity.c) ---- */

struct http_activity;
enum md_err http_activity_new(struct http_activity **out, struct md_error *e);
void http_activity_free(struct http_activity *a);
/*
 * Records one SCIM exchange: method, path below /scim/v2, status, the token that authenticated
 * it (NULL when none did), and for an error the detail the client was told (never a token).
 */
void http_activity_record(struct http_activity *a, const char *method, const char *path, int status,
                          const struct store_token *token, const char *detail);
/*
 * {"since", "requests", "errors", "last": event|null, "last_error": event|null, "recent":
 * [event...], "recent_errors": [event...]}, newest first; an event is {"time", "method",
 * "path", "status", "token": {"id", "name"}|null, "detail"?}. A new reference, NULL when out of
 * memory. cls is the struct http_activity.
 */
json_t *http_activity_json(void *cls);

/*
 * POST /api/v1/connectors/{name}/test (route_probe.c), once authenticated: one harmless
 * request to the connector's upstream with its credential; answers later (resp->pending).
 */
void http_route_connector_test(struct http_req *req, struct http_resp *resp, const char *name);

/* The console's files below web_dir, with the headers that keep its pages to themselves. */
void http_route_web(struct http_req *req, struct http_resp *resp);

/*
 * The absolute URL of path (e.g. "/scim/v2") on this server: --public-url, else the request's
 * Host and X-Forwarded-Proto (a Host that could forge a URL is replaced by localhost).
 */
void http_base_url(const struct http_req *req, const char *path, char *out, size_t n);

/* /scim/v2...: rest is the path below /scim/v2. */
/* The client's address as text ("127.0.0.1", "::1"), "" when unknown. */
void http_req_client_addr(const struct http_req *req, char *out, size_t n);

/* ---- audit events of the HTTP layer (audit_events.c) ---- */

/*
 * A request refused for its credential (kind: the token kind wanted; detail: why). Recorded at
 * most HTTP_AUDIT_AUTH_RATE a second (bursts of HTTP_AUDIT_AUTH_BURST); the next recorded one
 * carries "suppressed", how many were not, so that a flood of bad tokens cannot flood the log.
 */
#define HTTP_AUDIT_AUTH_RATE 20
#define HTTP_AUDIT_AUTH_BURST 100
void http_audit_auth_failure(struct http_req *req, const char *kind, const char *detail);
/* A SCIM request that changed something (sr->changes set). */
void http_audit_scim(struct http_req *req, const char *path, const struct scim_response *sr);

void http_route_scim(struct http_req *req, struct http_resp *resp, const char *rest);
/* /api/v1...: rest is the path below /api/v1. */
void http_route_api(struct http_req *req, struct http_resp *resp, const char *rest);
/* /mcp...: rest is the path below /mcp ("" or "/packs/{pack}"). */
void http_route_mcp(struct http_req *req, struct http_resp *resp, const char *rest);
/* /.well-known/oauth-protected-resource...: RFC 9728 metadata of the MCP endpoints. */
void http_route_resource_metadata(struct http_req *req, struct http_resp *resp, const char *rest);

#endif
