/*
 * The admin REST API, /api/v1: tokens, a read view of the directory (users and groups with
 * what they are entitled to), the catalog (connectors and tool packs), grants, decisions on
 * demand, and the OpenAPI document that describes all of it (src/admin/openapi.json).
 *
 * Like the scim module, it knows nothing of HTTP servers: the http module authenticates the
 * admin token, turns the exchange into a struct admin_request and writes the struct
 * admin_response back. Errors are RFC 9457 problem details; lists are {"items": [...]}.
 */
#ifndef MANDATE_ADMIN_ADMIN_H
#define MANDATE_ADMIN_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

struct access;
struct connect_vault;

/* The token kinds the API creates; the http module defines the same strings. */
#define ADMIN_TOKEN_KIND_SCIM "scim"
#define ADMIN_TOKEN_KIND_ADMIN "admin"
#define ADMIN_TOKEN_KIND_AGENT "agent"

/*
 * Creates a token, as http_token_create does: *plain_out (heap, caller frees) is the only copy
 * of the token; id_out receives its id. Tokens belong to the http module, which the admin
 * module does not call, so the http module hands its function in.
 */
typedef enum md_err (*admin_token_create_fn)(struct store *s, const char *kind, const char *name,
                                             const char *user_id, const char *pack,
                                             char **plain_out, char id_out[64], struct md_error *e);

struct audit;

struct admin_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* below /api/v1: "/tokens", "/packs/support"; "" or "/" for the root */
    const char *body;   /* may be NULL */
    size_t body_len;
    bool body_too_large;      /* the body was over the cap and dropped: 413 */
    const char *content_type; /* NULL when absent */
    const char *if_match;     /* NULL when absent */
    /* A query parameter, already percent-decoded, or NULL. */
    const char *(*query)(void *ctx, const char *name);
    void *query_ctx;
    const char *actor;           /* the admin token's id; "" for the unauthenticated openapi.json */
    const char *base_url;        /* e.g. "http://127.0.0.1:8080/api/v1", no trailing slash */
    struct store *store;         /* borrowed */
    struct access *access;       /* borrowed */
    struct connect_vault *vault; /* borrowed; NULL when the server has no vault key */
    admin_token_create_fn token_create;
    /* Changes are recorded here (admin.change, with before and after); NULL: not audited. */
    struct audit *audit;
    const char *request_id; /* for the audit event; may be NULL */
};

struct admin_response {
    int status;
    json_t *body;    /* owned; NULL for no body (204) or when raw is set */
    const char *raw; /* static text sent as is (the OpenAPI document); NULL otherwise */
    bool problem;    /* body is problem details: Content-Type application/problem+json */
    char location[512];
    char etag[80];  /* W/"<version>" or "" */
    char allow[64]; /* for 405 */
};

/* Request bodies are capped at 1 MiB (413 above) and parsed to a depth of 32. */
#define ADMIN_MAX_BODY (1024 * 1024)
#define ADMIN_MAX_DEPTH 32

/* Handles one request; never fails (errors become problem details in resp). */
void admin_handle(const struct admin_request *req, struct admin_response *resp);

/* Whether a request is served without a token: only GET (or HEAD) /openapi.json. */
bool admin_is_public(const char *method, const char *path);

/* Releases resp->body. */
void admin_response_clear(struct admin_response *resp);

/*
 * Fills resp with problem details (RFC 9457) for an error code and detail:
 * {"type": "about:blank", "title": <reason phrase>, "status": N, "detail": detail}.
 */
void admin_problem(struct admin_response *resp, enum md_err code, const char *detail);

/* The reason phrase of an HTTP status ("Not Found"); "Error" for one it does not know. */
const char *admin_reason_phrase(int status);

/* The OpenAPI 3.1 document, NUL-terminated, embedded in the binary. */
const char *admin_openapi(void);

/*
 * Which users were entitled to tool at time (RFC 3339), reconstructed from the audit log in s
 * (docs/audit-history.md): the answer of GET /api/v1/access-at as *out (a new reference). live
 * (may be NULL) is the access service over s, asked whether a tool that no connector defined
 * at time is defined now. MD_ERR_VALUE, with a sentence for people, for a time that is missing,
 * not RFC 3339 or in the future, and for a tool that no connector defines, then or now.
 * Replays into a temporary SQLite database in $TMPDIR (else /tmp), removed before it returns.
 */
enum md_err admin_access_at(struct store *s, struct access *live, const char *time,
                            const char *tool, json_t **out, struct md_error *e);

#endif
