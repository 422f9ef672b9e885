/*
 * The access model: the catalog (connectors and their tools, tool packs), grants, the decision
 * engine with its explanations, and the per-user entitlement cache (ARCHITECTURE.md, "The
 * decision"). It owns the tables connectors, connector_overrides, packs and grants (through
 * store_obj_*), and reads users and memberships through the store.
 *
 * A decision is served from memory: an immutable policy snapshot (catalog, packs, grants,
 * compiled conditions) and one cache entry per user (active, groups). Both are invalidated by
 * the store's change feed, which tells this node of its own commits before the request that
 * made them is answered, so a SCIM deactivation, a membership change or a grant change is seen
 * by the very next decision; other nodes hear it within the feed's bound.
 *
 * Documents are JSON (docs/connectors.md for connectors and packs; grants below). Every write
 * validates first and changes nothing when it fails (MD_ERR_VALUE with a message that names
 * the field), and every json_t returned through an out-parameter is a new reference the caller
 * releases with json_decref.
 */
#ifndef MANDATE_ACCESS_ACCESS_H
#define MANDATE_ACCESS_ACCESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* ---- levels ---- */

enum access_level { ACCESS_NONE = 0, ACCESS_READ = 1, ACCESS_WRITE = 2, ACCESS_DESTRUCTIVE = 3 };

/* "read", "write", "destructive" ("none" for ACCESS_NONE). */
const char *access_level_name(enum access_level l);
/* Parses one of the three names; false otherwise. */
bool access_level_parse(const char *s, enum access_level *out);

/* ---- conditions ---- */

struct filter_node;

enum access_cond_result { ACCESS_COND_FALSE, ACCESS_COND_TRUE, ACCESS_COND_ERROR };

/*
 * Evaluates a grant condition (a parsed SCIM filter, scim_filter_parse) over a tool call's
 * arguments (a JSON object; anything else is an error), strictly: argument names and strings
 * match exactly, an absent argument makes a comparison false, and comparing an array or an
 * object outside `attr[...]` is an error (condition.c says why). An error denies.
 */
enum access_cond_result access_condition_eval(const struct filter_node *f, const json_t *args);

/* Tool names: "<connector>__<tool>", at most 64 characters of [a-z0-9_]. */
#define ACCESS_TOOL_NAME_MAX 64
bool access_tool_name_ok(const char *name);

/* ---- the service ---- */

struct access;

/*
 * Opens the access service over s (borrowed; outlives it) and subscribes its caches to the
 * change feed. The policy is read from the store on first use. Free with access_close.
 */
enum md_err access_open(struct store *s, struct access **out, struct md_error *e);
void access_close(struct access *a);

/* The store the service reads (borrowed). */
struct store *access_store(const struct access *a);

/*
 * Whether a deployment's token URL override may be a plain http:// URL (the server runs with
 * MANDATE_UPSTREAM_HTTP=1, for sandboxes and test fakes). Off by default: https only.
 */
void access_set_upstream_http(struct access *a, bool allow);

/* ---- catalog: connectors, overrides, packs ---- */

/*
 * Validates a connector document (docs/connectors.md) and stores it, replacing the definition
 * of the same name; a deployment's overrides of it are kept. *created tells whether it is new.
 * *out (may be NULL) receives the connector as access_connector_get shows it.
 */
enum md_err access_connector_put(struct access *a, const json_t *doc, json_t **out, bool *created,
                                 struct md_error *e);

/*
 * A connector as admins see it: the definition's fields, "base_url" the effective one,
 * "overrides" ({"base_url": ..., "token_url": ..., "levels": {tool: level}}), and each tool with
 * "full_name", "level" (effective) and "defined_level". The definition's auth is shown as it
 * is: a token URL override is in "overrides". MD_ERR_NOTFOUND for an unknown name.
 */
/*
 * The definition in a document that may be a connector as access_connector_get shows it (an
 * admin's GET, edited, PUT back; or an audit event's before/after): the fields the view adds
 * go, and a tool's defined level and the defined base URL come back. A new reference (NULL
 * when out of memory); a non-object comes back as a copy.
 */
json_t *access_connector_definition(const json_t *doc);
enum md_err access_connector_get(struct access *a, const char *name, json_t **out,
                                 struct md_error *e);
/* Every connector, by name, as access_connector_get shows it but without input schemas. */
enum md_err access_connector_list(struct access *a, json_t **out, struct md_error *e);

/*
 * Changes a deployment's overrides of connector name: patch is an object with "base_url"
 * (a string https:// or http:// URL, or null to use the definition's), "token_url" (where an
 * OAuth 2.0 connector gets its access tokens: an absolute https:// URL, http:// only with
 * access_set_upstream_http, checked by connect_auth_token_url_check; or null to use the
 * definition's auth.token_url) and/or "levels" (an object of full tool name -> level name, or
 * null to drop that override). Unknown tools and levels are refused, and so is a token_url for
 * a connector without an OAuth 2.0 token endpoint. All or nothing. *out (may be NULL) as
 * access_connector_get.
 */
enum md_err access_connector_override(struct access *a, const char *name, const json_t *patch,
                                      json_t **out, struct md_error *e);

/*
 * Packs. create refuses an existing name (MD_ERR_UNIQUENESS); put replaces an existing one
 * (MD_ERR_NOTFOUND when absent), and when expect_version > 0 only that version
 * (MD_ERR_PRECONDITION). The stored pack has "version", "created" and "modified" added.
 * Deleting a pack that grants refer to is refused (MD_ERR_VALUE naming a grant).
 */
enum md_err access_pack_create(struct access *a, const json_t *doc, json_t **out,
                               struct md_error *e);
enum md_err access_pack_put(struct access *a, const char *name, const json_t *doc,
                            int64_t expect_version, json_t **out, struct md_error *e);
enum md_err access_pack_get(struct access *a, const char *name, json_t **out, struct md_error *e);
enum md_err access_pack_list(struct access *a, json_t **out, struct md_error *e);
enum md_err access_pack_delete(struct access *a, const char *name, struct md_error *e);

/* Which catalog writes access_catalog_load made. */
struct access_load_stats {
    int connectors;    /* definitions written */
    int packs_created; /* packs that did not exist */
    int packs_kept;    /* packs left as they are, because they exist (admins may have edited) */
};

/*
 * Loads dir/connectors/ *.json (each validated and upserted) and dir/packs/ *.json (created when
 * absent), in one transaction: a file that fails validation fails the load, naming the file,
 * and nothing is written. Works on a bare store (the CLI) as well as under a running service.
 */
enum md_err access_catalog_load(struct store *s, const char *dir, struct access_load_stats *st,
                                struct md_error *e);

/* Whether the store holds no connector yet (a first start loads the catalog). */
enum md_err access_catalog_empty(struct store *s, bool *empty, struct md_error *e);

/* ---- grants ----
 *
 * A grant document:
 *   {"subject": {"type": "group" | "user" | "everyone", "id": "<SCIM id>"},
 *    "pack": "<pack name>"  or  "tool": "<full tool name>",
 *    "level": "read" | "write" | "destructive",          optional ceiling
 *    "conditions": {"<full tool name>": "<SCIM filter over the arguments>"},   optional
 *    "expires": "<RFC 3339 time>",                        optional
 *    "reason": "<why>"}                                   optional
 * The service adds "id", "created_by" (the actor), "created", "modified" and "version". The
 * subject must exist when the grant is written (a user or a group; no id for everyone), the
 * pack or tool must exist, each condition must parse and name a tool the grant covers, and
 * expires must lie in the future.
 */
enum md_err access_grant_create(struct access *a, const json_t *doc, const char *actor,
                                json_t **out, struct md_error *e);
/* Replaces the grant's fields (id, created and created_by kept); expect_version as for packs. */
enum md_err access_grant_put(struct access *a, const char *id, const json_t *doc,
                             int64_t expect_version, const char *actor, json_t **out,
                             struct md_error *e);
enum md_err access_grant_get(struct access *a, const char *id, json_t **out, struct md_error *e);
/* Every grant, oldest first; subject_id (may be NULL) keeps the grants to that user or group. */
enum md_err access_grant_list(struct access *a, const char *subject_id, json_t **out,
                              struct md_error *e);
enum md_err access_grant_delete(struct access *a, const char *id, struct md_error *e);

/* ---- decisions ---- */

enum access_reason {
    ACCESS_ALLOWED,
    ACCESS_NO_USER,       /* no user with this id (never was, or deleted) */
    ACCESS_INACTIVE,      /* the user is not active */
    ACCESS_UNKNOWN_TOOL,  /* no connector defines the tool */
    ACCESS_NO_GRANT,      /* no grant covers the tool for this user */
    ACCESS_GRANTS_FAILED, /* grants cover it, and each one failed (see the candidates) */
};

enum access_outcome {
    ACCESS_OUTCOME_ALLOWS,
    ACCESS_OUTCOME_EXPIRED,
    ACCESS_OUTCOME_ABOVE_CEILING,   /* the tool's level is above a ceiling on the grant's path */
    ACCESS_OUTCOME_CONDITION_FALSE, /* a condition does not hold for the arguments */
    ACCESS_OUTCOME_CONDITION_ERROR, /* a condition could not be evaluated (fails closed) */
};

enum access_subject { ACCESS_SUBJECT_USER, ACCESS_SUBJECT_GROUP, ACCESS_SUBJECT_EVERYONE };

/* One grant considered for the decision, and what became of it. */
struct access_candidate {
    char grant_id[64];
    enum access_subject subject_type;
    char subject_id[64];    /* "" for everyone */
    char subject_name[128]; /* the group's displayName or the user's userName, when known */
    bool nested;            /* a group the user belongs to through another group */
    char pack[64];          /* "" for a grant of a single tool */
    enum access_outcome outcome;
    enum access_level ceiling; /* the lowest ceiling on the path */
    char detail[320];          /* a sentence: what failed, or the condition that held */
};

#define ACCESS_CANDIDATES_MAX 16

struct access_decision {
    bool allowed;
    enum access_reason reason;
    char user_id[64];
    char user_name[256];
    /* The user's primary emails[] value, else the userName ("" when the user does not exist);
     * what the connector runtime's {caller.email} is. */
    char user_email[256];
    char tool[ACCESS_TOOL_NAME_MAX + 1];
    char pack[64];           /* the scope asked for; "" for none */
    enum access_level level; /* the tool's effective level; ACCESS_NONE when unknown */
    /*
     * Allowed: cands[0] is the grant that allowed it. Denied by grants: every candidate (up to
     * ACCESS_CANDIDATES_MAX; ncands_total counts them all), in grant order.
     */
    struct access_candidate cands[ACCESS_CANDIDATES_MAX];
    size_t ncands;
    size_t ncands_total;
};

/*
 * Decides whether the user with SCIM id user_id may call tool with args (a JSON object, or NULL
 * for no arguments). pack (NULL or "": none) narrows the decision to grants that give that
 * pack, as /mcp/packs/{pack} and an agent token bound to a pack need: other grants are not
 * candidates. Fills *out with the decision and its explanation. Fails (and the caller must
 * deny) only when the policy or the user cannot be read (MD_ERR_UNAVAILABLE, ...).
 * Thread-safe; served from the caches after the first decision for a user.
 */
enum md_err access_decide(struct access *a, const char *user_id, const char *tool, const char *pack,
                          const json_t *args, struct access_decision *out, struct md_error *e);

/*
 * The decision as JSON: {"allowed", "reason", "message", "user": {id, userName}, "tool",
 * "level", "grant" (allowed), "candidates" (denied by grants)}. NULL only when out of memory.
 */
json_t *access_decision_json(const struct access_decision *d);

/* The reason's name in JSON ("user_inactive") and a sentence for people. */
const char *access_reason_name(enum access_reason r);
const char *access_outcome_name(enum access_outcome o);

/*
 * The user's effective tools: {"user": {id, userName, active}, "groups": [{id, displayName,
 * direct}], "tools": [{"name", "title", "level", "grants": [{"id", "subject", "pack",
 * "ceiling", "condition"?, "expires"?}]}]}, tools by name, only tools the user may call at
 * their level under some unexpired grant (conditions still apply per call). pack (NULL or "":
 * none) keeps the tools of that pack (with with_definitions, as MCP lists them: "description" and
 * "input_schema" added). MD_ERR_NOTFOUND for an unknown user.
 */
enum md_err access_entitlements(struct access *a, const char *user_id, const char *pack,
                                bool with_definitions, json_t **out, struct md_error *e);

/*
 * Whether the user exists and is active, from the user cache (the change feed keeps it current,
 * so a SCIM deactivation or deletion is seen by the next call). The MCP endpoint asks this of
 * every request, so that a token whose user is gone stops working at once.
 */
enum md_err access_user_status(struct access *a, const char *user_id, bool *exists, bool *active,
                               struct md_error *e);

/* Whether a pack of this name exists, from the policy snapshot (no store read). */
/*
 * The user as a decision sees it now, for the audit log: {"id", "userName", "active",
 * "exists", "groups": [{"id", "display", "direct"}]} (groups: every group the user is in,
 * nested ones included). Served from the user cache.
 */
enum md_err access_user_snapshot(struct access *a, const char *user_id, json_t **out,
                                 struct md_error *e);
enum md_err access_pack_exists(struct access *a, const char *name, bool *exists,
                               struct md_error *e);

/* What the connector runtime needs to execute a tool: references into the current policy. */
struct access_tool {
    json_t *connector; /* the connector's document (a reference; never modify it) */
    json_t *tool;      /* the tool's object in that document (a reference) */
    char *base_url;    /* the effective base URL: the override, else the definition's (heap) */
    char *token_url;   /* the deployment's token URL override (heap), or NULL: the definition's */
    enum access_level level; /* effective */
};

/*
 * The definition of tool (a full name) under the current policy. MD_ERR_NOTFOUND when no
 * connector defines it. Release *out with access_tool_release (also after an error).
 */
enum md_err access_tool_get(struct access *a, const char *tool, struct access_tool *out,
                            struct md_error *e);
void access_tool_release(struct access_tool *t);

/*
 * Finds a user by SCIM id or, failing that, by userName (case-insensitively); id_out receives
 * the id. MD_ERR_NOTFOUND when neither matches.
 */
enum md_err access_user_resolve(struct access *a, const char *id_or_name, char id_out[64],
                                struct md_error *e);

/* Cache statistics, for /metrics and the benchmarks. */
struct access_stats {
    uint64_t decisions;
    uint64_t user_hits;
    uint64_t user_misses;   /* entries read from the store */
    uint64_t policy_builds; /* policy snapshots read from the store */
    uint64_t invalidations; /* entries dropped by the change feed */
    uint64_t flushes;       /* every entry made stale at once (nesting, everything changed) */
    size_t users_cached;
};
void access_stats_get(struct access *a, struct access_stats *out);

#endif
