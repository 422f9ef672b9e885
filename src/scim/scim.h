/*
 * The SCIM 2.0 service provider (RFC 7644): Users, Groups, /.search, /Bulk and the discovery
 * endpoints. It knows nothing of HTTP servers: the http module turns a request into a
 * struct scim_request, and the struct scim_response back into bytes.
 */
#ifndef MANDATE_SCIM_SCIM_H
#define MANDATE_SCIM_SCIM_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

/* Limits, advertised in /ServiceProviderConfig. */
struct scim_limits {
    size_t max_body;         /* bytes of a request body (413 above) */
    int max_depth;           /* JSON nesting */
    int64_t max_results;     /* page size cap and filter.maxResults */
    int max_bulk_ops;        /* bulk.maxOperations */
    size_t max_bulk_payload; /* bulk.maxPayloadSize */
};

/* The defaults: 1 MiB bodies, depth 32, 1000 results a page, 1000 bulk ops, 1 MiB bulk. */
extern const struct scim_limits scim_default_limits;

struct scim_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* below the base URL: "/Users/2819c223", "/Users/", "/users" */
    const char *body;   /* may be NULL */
    size_t body_len;
    const char *content_type; /* NULL when absent */
    const char *if_match;
    const char *if_none_match;
    /* A query parameter, already percent- and '+'-decoded, or NULL. */
    const char *(*query)(void *ctx, const char *name);
    void *query_ctx;
    const char *base_url; /* e.g. "http://127.0.0.1:8080/scim/v2", no trailing slash */
    const char *actor;    /* who asks, for logs: the token's id */
    struct store *store;
    const struct scim_limits *limits;
};

struct scim_response {
    int status;
    json_t *body; /* owned; NULL for no body */
    char location[512];
    char etag[80];  /* W/"<version>" or "" */
    char allow[64]; /* for 405 */
    /*
     * What a successful change did, for the audit log (NULL when nothing changed): an array of
     * {"resource": "User"|"Group", "id", "op": "create"|"replace"|"patch"|"delete", "after":
     * {userName, active, externalId, displayName} (as stored, whatever the response shows; a
     * user's active always, externalId and displayName when set; none for delete), "members":
     * [{"op": "add"|"remove", "id"} | {"op": "clear"}] (a group's membership changes, in
     * order)}. One element per resource changed (a Bulk request may change several). Owned.
     */
    json_t *changes;
};

/* Handles one request; never fails (errors become SCIM Error responses). */
void scim_handle(const struct scim_request *req, struct scim_response *resp);

/* Releases resp->body. */
void scim_response_clear(struct scim_response *resp);

/* Fills resp with a SCIM Error (RFC 7644 section 3.12) for an error code and detail. */
void scim_error(struct scim_response *resp, enum md_err code, const char *detail);

#endif
