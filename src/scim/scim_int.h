/* What stays inside the scim module: the shared pieces of the endpoint handlers. */
#ifndef MANDATE_SCIM_INT_H
#define MANDATE_SCIM_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "scim/project.h"
#include "scim/schema.h"
#include "scim/scim.h"
#include "store/store.h"

/* bulkId references resolved so far within one /Bulk request ("bulkId:x" -> id). */
struct scim_bulk_ids;

/* One request's context, passed to every handler. */
struct scim_ctx {
    const struct scim_request *req;
    struct scim_response *resp;
    struct store_conn *conn; /* acquired for the request */
    const struct scim_limits *limits;
    struct scim_bulk_ids *bulk_ids; /* within /Bulk, else NULL */
    json_t *member_log;             /* membership changes of this request (members.c), or NULL */
    json_t *after; /* the changed resource's attributes as stored, for the audit log, or NULL */
    struct md_error err;
};

/* Endpoint handlers (resource.c). id is NULL for the collection. */
void scim_resource_handle(struct scim_ctx *x, const struct scim_rtype *rt, const char *id);
/* POST {collection}/.search and /.search (rt NULL: every resource type). */
void scim_search_handle(struct scim_ctx *x, const struct scim_rtype *rt);
/* discovery.c */
void scim_discovery_handle(struct scim_ctx *x, const char *endpoint, const char *id);
/* bulk.c */
void scim_bulk_handle(struct scim_ctx *x);

/* A query parameter, or NULL. */
const char *scim_query_param(const struct scim_ctx *x, const char *name);

/* Parses the request body as JSON under the limits; on error fills the response, NULL. */
json_t *scim_parse_body(struct scim_ctx *x);

/*
 * Checks that a request message's "schemas" holds urn (RFC 7644 section 3.1 and 8.2); on
 * failure fills the response with 400 invalidSyntax and returns false.
 */
bool scim_require_schema(struct scim_ctx *x, const json_t *body, const char *urn);

/* Sets an error response from x->err (or code and msg when x->err is clear). */
void scim_fail(struct scim_ctx *x, enum md_err code);

/* Sets a JSON response; takes ownership of body. */
void scim_reply(struct scim_ctx *x, int status, json_t *body);

/* The kind of table of a resource type. */
enum store_kind scim_kind(const struct scim_rtype *rt);

/*
 * Renders a stored row as the full SCIM representation (id, meta, and groups for users or
 * members for groups unless the lists leave them out), then projects it. New reference, or NULL
 * with x->err set.
 */
json_t *scim_render(struct scim_ctx *x, const struct scim_rtype *rt, const struct store_row *row,
                    const struct scim_attr_list *attrs, const struct scim_attr_list *excluded);

/* W/"<version>" */
void scim_etag(int64_t version, char out[80]);

/* Group membership (members.c): replaces bulkId references, checks members exist. */
struct scim_members_ctx {
    struct scim_ctx *x;
    const char *group_id;
};
/* Notes a membership change in x->member_log (op "add", "remove" or "clear"; id NULL for clear). */
void scim_member_log(struct scim_ctx *x, const char *op, const char *id);
/* Adds each element of values ({"value", "display"?}) to the group. */
enum md_err scim_members_add(struct scim_members_ctx *m, const json_t *values, struct md_error *e);
/* Fills the PATCH engine's callbacks for m. */
struct scim_patch_members;
void scim_members_callbacks(struct scim_members_ctx *m, struct scim_patch_members *cb);

/* bulk.c: the id created for "bulkId:<ref>" so far, or NULL. */
const char *scim_bulk_lookup(const struct scim_bulk_ids *ids, const char *ref);

#endif
