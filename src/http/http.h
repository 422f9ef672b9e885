/*
 * The HTTP front: libmicrohttpd with epoll and a thread pool, routing to the handler modules,
 * bearer-token authentication, request ids and one log line per request.
 */
#ifndef MANDATE_HTTP_HTTP_H
#define MANDATE_HTTP_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct access;
struct mcp_server;
struct connect_vault;

struct http_config {
    const char *host;       /* listen address, e.g. "127.0.0.1" or "::1" */
    uint16_t port;          /* 0: let the OS choose (see http_server_port) */
    int threads;            /* worker threads; 0: one per CPU, at least 2 */
    const char *public_url; /* base of absolute URLs (Location, meta.location); NULL: from Host */
    struct store *store;    /* borrowed; outlives the server */
    struct access *access;  /* borrowed; outlives the server (the admin API and decisions) */
    struct mcp_server *mcp; /* borrowed; NULL: /mcp answers 503 */
    struct connect_vault *vault; /* borrowed; NULL: the admin API keeps no credentials */
    struct audit *audit;         /* borrowed; NULL: nothing is audited */
    /*
     * Origins allowed to call /mcp from a browser, besides the server's own (NULL-terminated;
     * may be NULL). A request whose Origin is neither gets 403 (DNS rebinding protection).
     */
    const char *const *mcp_origins;
    /*
     * Called by http_server_stop once the grace period is over, to complete the answers still
     * pending (e.g. stop the connector runtime); may be NULL.
     */
    void (*cancel_pending)(void *cls);
    void *cancel_cls;
};

struct http_server;

/* Binds and starts serving. *out is stopped and freed by http_server_stop. */
enum md_err http_server_start(const struct http_config *cfg, struct http_server **out,
                              struct md_error *e);
/* The bound port. */
uint16_t http_server_port(const struct http_server *srv);
/*
 * Stops accepting connections, lets in-flight requests finish (up to grace_ms), then stops the
 * threads and frees srv.
 */
void http_server_stop(struct http_server *srv, int grace_ms);

/* ---- Tokens (table tokens, owned by this module) ---- */

#define HTTP_TOKEN_KIND_SCIM "scim"   /* /scim/v2: the identity provider */
#define HTTP_TOKEN_KIND_ADMIN "admin" /* /api/v1: administrators and their scripts */
#define HTTP_TOKEN_KIND_AGENT "agent" /* /mcp: an AI agent acting for one employee */

/*
 * Creates a token: 32 random bytes (256 bits), shown as "mdt_<kind>_<base64url>"; only its
 * SHA-256 is stored. kind is one of the three above. An agent token names the SCIM user it acts
 * for (user_id, required) and may be limited to one pack (pack; NULL or "" for none); the other
 * kinds take neither (NULL or ""). The caller checks that the user and the pack exist.
 * MD_ERR_VALUE for anything else. *plain_out (heap, caller frees) is the only copy of the token,
 * to be shown once. id_out receives the token's id.
 */
enum md_err http_token_create(struct store *s, const char *kind, const char *name,
                              const char *user_id, const char *pack, char **plain_out,
                              char id_out[64], struct md_error *e);

/*
 * Checks a presented token: found by hash, unrevoked, of the given kind, compared in constant
 * time. MD_ERR_UNAUTHORIZED otherwise. out may be NULL.
 */
enum md_err http_token_verify(struct store_conn *c, const char *plain, const char *kind,
                              struct store_token *out, struct md_error *e);

#endif
