/*
 * What stays inside the admin module: the state of one request as the router hands it to a
 * resource's handler, and the helpers every handler shares (api.c).
 */
#ifndef MANDATE_ADMIN_INT_H
#define MANDATE_ADMIN_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "admin/admin.h"
#include "core/err.h"

/* A path has at most this many segments below /api/v1, each at most ADMIN_SEG_MAX bytes. */
#define ADMIN_MAX_SEGS 4
#define ADMIN_SEG_MAX 256

/* Lists of users and groups: ?startIndex (1-based) and ?count, at most ADMIN_MAX_PAGE. */
#define ADMIN_DEFAULT_PAGE 100
#define ADMIN_MAX_PAGE 1000

struct admin_ctx {
    const struct admin_request *req;
    struct admin_response *resp;
    const char *method; /* the request's, with HEAD read as GET */
    int nseg;
    const char *seg[ADMIN_MAX_SEGS]; /* point into segbuf; seg[0] names the resource */
    bool secret_body;                /* the body holds a secret: errors never quote it */
    char segbuf[ADMIN_MAX_SEGS * (ADMIN_SEG_MAX + 1)];
};

/* A page of a list, from ?startIndex and ?count. */
struct admin_page {
    int64_t start_index;
    int64_t count;
};

/*
 * Whether the request's method is one of allow (e.g. "GET, POST"); otherwise answers 405 with
 * an Allow header and returns false.
 */
bool admin_method_ok(struct admin_ctx *x, const char *allow);
bool admin_is(const struct admin_ctx *x, const char *method);

/*
 * The request body as a JSON object (*out, a new reference): 413 when it was over the cap, 415
 * unless its Content-Type is application/json (or, with merge_patch, also
 * application/merge-patch+json), 400 when it is not JSON or not an object. On failure the
 * response is already the problem and the error is returned.
 */
enum md_err admin_body_object(struct admin_ctx *x, bool merge_patch, json_t **out);

/* Answers status with body (stolen; NULL for none). */
void admin_reply(struct admin_ctx *x, int status, json_t *body);
/* Answers {"items": items} (stolen; NULL means out of memory). */
void admin_reply_items(struct admin_ctx *x, json_t *items);
/* Answers the problem for rc and e's detail (a default sentence when e has none). */
void admin_fail(struct admin_ctx *x, enum md_err rc, const struct md_error *e);
/* Answers the problem for rc and a detail given here. */
void admin_failf(struct admin_ctx *x, enum md_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A query parameter or NULL. */
const char *admin_query(const struct admin_ctx *x, const char *name);

/* Reads ?startIndex and ?count (400 for junk; clamped to 1.. and 0..ADMIN_MAX_PAGE). */
enum md_err admin_page_parse(struct admin_ctx *x, struct admin_page *p);

/*
 * The version an If-Match header asks for: 0 when absent or "*"; N for N, "N" or W/"N".
 * Anything else answers 400 and returns MD_ERR_VALUE.
 */
enum md_err admin_if_match(struct admin_ctx *x, int64_t *version);

/* Sets Location to base_url + "/" + collection + "/" + id (percent-encoded). */
void admin_set_location(struct admin_ctx *x, const char *collection, const char *id);
/* Sets ETag to W/"<version>" from doc's integer "version" member, when it has one. */
void admin_set_etag(struct admin_ctx *x, const json_t *doc);

/*
 * Checks that obj has only the members in allowed (a NULL-terminated list); otherwise answers
 * 400 naming the first unknown member and returns MD_ERR_VALUE.
 */
enum md_err admin_only_members(struct admin_ctx *x, json_t *obj, const char *const *allowed);

/*
 * A collection (/name) and its items (/name/{id}), by the handlers it has (NULL: the method is
 * not served there). admin_route_resource answers 404 for a deeper path and 405 with the Allow
 * header made from the handlers, so that a resource lists what it does once.
 */
struct admin_resource {
    void (*list)(struct admin_ctx *x);   /* GET /name */
    void (*create)(struct admin_ctx *x); /* POST /name */
    void (*get)(struct admin_ctx *x, const char *id);
    void (*put)(struct admin_ctx *x, const char *id);
    void (*patch)(struct admin_ctx *x, const char *id);
    void (*del)(struct admin_ctx *x, const char *id);
};
void admin_route_resource(struct admin_ctx *x, const struct admin_resource *r);

/* The resources, one per file. Each checks its own segments and methods. */
void admin_route_openapi(struct admin_ctx *x);    /* openapi.c */
void admin_route_tokens(struct admin_ctx *x);     /* tokens.c */
void admin_route_users(struct admin_ctx *x);      /* directory.c */
void admin_route_groups(struct admin_ctx *x);     /* directory.c */
void admin_route_connectors(struct admin_ctx *x); /* catalog.c */
void admin_route_packs(struct admin_ctx *x);      /* catalog.c */
void admin_route_grants(struct admin_ctx *x);     /* grants.c */
void admin_route_decisions(struct admin_ctx *x);  /* decisions.c */
void admin_route_audit(struct admin_ctx *x);      /* audit.c */

/* ---- history.c: who could do what, when, from the audit log ---- */

void admin_route_access_at(struct admin_ctx *x);                    /* GET /access-at */
void admin_route_user_history(struct admin_ctx *x, const char *id); /* GET /users/{id}/history */

/* The access objects that an admin.change event may describe. */
enum admin_hist_kind { ADMIN_HIST_NONE, ADMIN_HIST_CONNECTOR, ADMIN_HIST_PACK, ADMIN_HIST_GRANT };

/*
 * Which access object an admin.change event wrote or deleted, from its method, path, after and
 * before: id receives the connector's or pack's name or the grant's id. ADMIN_HIST_NONE for an
 * event about anything else (tokens, credentials, decisions) or whose object cannot be told.
 */
enum admin_hist_kind admin_hist_object(const json_t *ev, char id[64]);

/*
 * A connector's definition as the store keeps it, from the admin view of it that an event
 * records (GET /connectors/{name}): the fields the view adds removed, each tool's defined level
 * and the defined base URL put back. A new reference; NULL when view is not an object.
 */
json_t *admin_hist_connector_def(const json_t *view);

/*
 * A grant as the replay stores it to be judged at t_ms, from its admin view or its stored
 * document: without the view's id, version, created and modified, and without "expires", since
 * the engine judges expiry by the clock and the replay judges it at t_ms. NULL with *expired
 * set when it had expired at t_ms (NULL without it: out of memory). An "expires" that does not
 * parse is kept, so that the engine refuses the grant as it would have.
 */
json_t *admin_hist_grant_at(const json_t *view, int64_t t_ms, bool *expired);

/*
 * One user's history (GET /users/{id}/history), built by feeding every event of the log,
 * oldest first, to admin_hist_user_step. items receives entries oldest first: {"seq", "time",
 * "change": "created" | "first_seen" | "activated" | "deactivated" | "renamed" | "joined" |
 * "left" | "deleted", and "group": {id, displayName} or "userName"/"active"/"from" as the change
 * needs}. Direct memberships only: the groups a group joins are their own events.
 */
struct admin_hist_user {
    char id[64];
    json_t *items;   /* the entries, oldest first */
    json_t *groups;  /* group id -> true: the user's direct groups, as far as the log shows */
    json_t *names;   /* group id -> displayName, as the log last showed it */
    char *user_name; /* heap; NULL until an event shows it */
    int active;      /* -1: no event has shown it yet */
    bool created;    /* the log holds the user's creation */
    bool seen;       /* some event named the user */
};

/* false when out of memory. */
bool admin_hist_user_init(struct admin_hist_user *h, const char *user_id);
/* Applies one event (any type; only scim.change events matter). */
void admin_hist_user_step(struct admin_hist_user *h, const json_t *ev);
void admin_hist_user_free(struct admin_hist_user *h);

#endif
