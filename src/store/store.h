/*
 * The storage interface. Backends (sqlite*.c, pg*.c) implement it; no other module
 * includes sqlite3.h or libpq-fe.h. Tables and their owners (ARCHITECTURE.md): users, groups,
 * group_members (scim), tokens (http). The interface speaks in rows and in a backend-neutral
 * predicate tree, so that SCIM filters are evaluated by the database on indexed columns.
 * The access model's connectors, overrides, packs and grants (access) are JSON documents
 * keyed by id (store_obj_*).
 *
 * Threads: a struct store is shared; a struct store_conn is used by one thread at a time,
 * taken with store_acquire and given back with store_release. A write spans
 * store_begin .. store_commit (or store_rollback) on one connection, and is durable once
 * store_commit returns MD_OK, including against a SIGKILL of the process.
 */
#ifndef MANDATE_STORE_STORE_H
#define MANDATE_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct store;
struct store_conn;

/*
 * Opens (creating and migrating when needed) the database named by url: "sqlite:PATH", a plain
 * PATH (SQLite), or "postgres://..." / "postgresql://..." (a libpq URL). pool_size connections
 * at most (0: a default); PostgreSQL uses one more for the change feed's listener.
 * *out is freed with store_close.
 */
enum md_err store_open(const char *url, int pool_size, struct store **out, struct md_error *e);
void store_close(struct store *s);

/* Takes a connection from the pool (waiting when all are busy). */
enum md_err store_acquire(struct store *s, struct store_conn **out, struct md_error *e);
void store_release(struct store_conn *c);

enum md_err store_begin(struct store_conn *c, struct md_error *e);
enum md_err store_commit(struct store_conn *c, struct md_error *e);
/* Safe to call when no transaction is open. */
void store_rollback(struct store_conn *c);

/* ---- SCIM resources (owned by scim/) ---- */

enum store_kind { STORE_USERS, STORE_GROUPS };

/*
 * One resource. doc is the JSON text of the resource as SCIM represents it, without id, meta,
 * members (groups) and groups (users), which live in columns and in group_members. The other
 * fields are the indexed columns: user_name (users; unique case-insensitively), display_name,
 * external_id (may be NULL), active (users; groups store 1). Times are epoch milliseconds.
 * Strings of a row returned by the store are heap copies freed by store_row_free.
 */
struct store_row {
    char id[64];
    char *doc;
    char *user_name;
    char *display_name;
    char *external_id;
    bool active;
    int64_t created_ms;
    int64_t modified_ms;
    int64_t version; /* starts at 1, incremented by every change, member changes included */
};

void store_row_free(struct store_row *r);

/*
 * Inserts r (id chosen by the caller). The version is r->version when it is > 0, else 1, and
 * created_ms and modified_ms are r's when > 0 (else now, and modified = created): a new
 * resource starts at 1, and a copy (store_migrate, migrate.h) keeps its ETag and meta times.
 * MD_ERR_UNIQUENESS when a user with the same user_name (case-insensitively) or a resource with
 * the same id exists.
 */
enum md_err store_res_insert(struct store_conn *c, enum store_kind k, const struct store_row *r,
                             struct md_error *e);

/*
 * Replaces the resource r->id with r's doc and columns, sets modified_ms, and increments its
 * version; *new_version receives it. When expect_version >= 0 and the stored version differs:
 * MD_ERR_PRECONDITION. MD_ERR_NOTFOUND, MD_ERR_UNIQUENESS as above.
 */
enum md_err store_res_update(struct store_conn *c, enum store_kind k, const struct store_row *r,
                             int64_t expect_version, int64_t *new_version, struct md_error *e);

/* Sets modified_ms and increments the version without other change (membership changes). */
enum md_err store_res_touch(struct store_conn *c, enum store_kind k, const char *id,
                            int64_t modified_ms, int64_t *new_version, struct md_error *e);

/* Deletes the resource and every membership row naming it (as group or as member). */
enum md_err store_res_delete(struct store_conn *c, enum store_kind k, const char *id,
                             struct md_error *e);

/* Fills *out (free with store_row_free). MD_ERR_NOTFOUND when absent. */
enum md_err store_res_get(struct store_conn *c, enum store_kind k, const char *id,
                          struct store_row *out, struct md_error *e);

/* *exists tells whether a resource of kind k with this id exists. */
enum md_err store_res_exists(struct store_conn *c, enum store_kind k, const char *id, bool *exists,
                             struct md_error *e);

/* ---- Queries: a predicate tree that a backend compiles to SQL with bound parameters ---- */

enum store_pred_kind {
    SP_TRUE,
    SP_FALSE,
    SP_AND,    /* a and b */
    SP_OR,     /* a or b */
    SP_NOT,    /* not a */
    SP_CMP,    /* column-or-path cmp value */
    SP_ANY,    /* some element of the array at path satisfies a (paths in a are element-relative) */
    SP_MEMBER, /* groups: has a member row whose member id cmp value (eq, ne, co, sw, ew, pr) */
    SP_MEMBER_OF, /* users or groups: is a direct member of a group whose id cmp value */
};

enum store_cmp { SC_EQ, SC_NE, SC_CO, SC_SW, SC_EW, SC_PR, SC_GT, SC_GE, SC_LT, SC_LE };

/* An indexed column, or SCOL_DOC for a path into the JSON document. */
enum store_col {
    SCOL_DOC,
    SCOL_ID,
    SCOL_USER_NAME,
    SCOL_DISPLAY_NAME,
    SCOL_EXTERNAL_ID,
    SCOL_ACTIVE,
    SCOL_CREATED,  /* epoch ms; compare with SV_TIME */
    SCOL_MODIFIED, /* epoch ms; compare with SV_TIME */
};

enum store_vtype { SV_NONE, SV_STRING, SV_NUMBER, SV_BOOL, SV_NULL, SV_TIME };

#define STORE_PATH_MAX 3

/*
 * A node of the predicate tree. For SP_CMP on SCOL_DOC, path names object keys from the
 * document root (or from the array element inside SP_ANY): e.g. {"name","familyName"} or
 * {"urn:...:enterprise:2.0:User","manager","value"}; npath 0 inside SP_ANY means the element
 * itself (an array of strings). Keys are spelled exactly as stored. SC_PR holds when the value
 * is present and not null, "", [] or {}. case_exact false compares strings case-insensitively.
 * For SP_ANY, path names the array. Strings are borrowed and outlive the query.
 */
struct store_pred {
    enum store_pred_kind kind;
    struct store_pred *a, *b;
    enum store_col col;
    const char *path[STORE_PATH_MAX];
    int npath;
    enum store_cmp cmp;
    enum store_vtype vtype;
    const char *str; /* SV_STRING */
    double num;      /* SV_NUMBER */
    bool b_val;      /* SV_BOOL */
    int64_t ms;      /* SV_TIME */
    bool case_exact;
};

struct store_sort {
    enum store_col col; /* SCOL_DOC with path, or a column */
    const char *path[STORE_PATH_MAX];
    int npath;
    bool case_exact;
    bool descending;
};

/*
 * A page: where (NULL: every row), optional sort (NULL: by creation, then id), start_index
 * 1-based, count (0: only the total). Results in *rows (n of them), the total matching count in
 * *total. Free with store_rows_free.
 */
struct store_query {
    const struct store_pred *where;
    const struct store_sort *sort;
    int64_t start_index;
    int64_t count;
};

struct store_rows {
    struct store_row *rows;
    size_t n;
    int64_t total;
};

enum md_err store_res_query(struct store_conn *c, enum store_kind k, const struct store_query *q,
                            struct store_rows *out, struct md_error *e);
void store_rows_free(struct store_rows *rs);

/* ---- Group membership (owned by scim/) ---- */

enum store_member_type { STORE_MEMBER_USER, STORE_MEMBER_GROUP };

struct store_member {
    char id[64];
    enum store_member_type type;
    char *display; /* as sent by the client, else the member's displayName or userName; heap */
};

/*
 * Adds member_id to group_id; a no-op (*added false) when already a member. display may be
 * NULL. The caller checks that the member exists.
 */
enum md_err store_member_add(struct store_conn *c, const char *group_id, const char *member_id,
                             enum store_member_type type, const char *display, bool *added,
                             struct md_error *e);
/*
 * Removes one member; *removed false when it was not a member.
 * The change feed hears of a membership change twice: STORE_CHANGE_MEMBERS names the group, and
 * STORE_CHANGE_USER (a user member) or STORE_CHANGE_NESTING (a group member) names the member
 * whose set of groups changed; likewise for every member of a cleared or deleted group.
 */
enum md_err store_member_remove(struct store_conn *c, const char *group_id, const char *member_id,
                                bool *removed, struct md_error *e);
/* Removes every member of the group. */
enum md_err store_member_clear(struct store_conn *c, const char *group_id, struct md_error *e);
enum md_err store_member_has(struct store_conn *c, const char *group_id, const char *member_id,
                             bool *has, struct md_error *e);

/* Calls fn once per member in insertion order; a non-zero return of fn stops the walk. */
typedef int (*store_member_fn)(void *ctx, const struct store_member *m);
enum md_err store_member_list(struct store_conn *c, const char *group_id, store_member_fn fn,
                              void *ctx, struct md_error *e);

/*
 * The groups that member_id belongs to, directly or through nested groups (cycles are
 * harmless): fn gets each group once with its id, displayName and whether the membership is
 * direct.
 */
typedef int (*store_group_fn)(void *ctx, const char *group_id, const char *display, bool direct);
enum md_err store_member_groups(struct store_conn *c, const char *member_id, store_group_fn fn,
                                void *ctx, struct md_error *e);

/* ---- Tokens (owned by http/) ---- */

struct store_token {
    char id[64];
    char kind[16]; /* "scim", "admin", "agent" */
    char name[128];
    char user_id[64]; /* agent tokens: the SCIM user the agent acts for; "" otherwise */
    char pack[64];    /* agent tokens: the one pack it is limited to; "" for none */
    char hash[65]; /* lowercase hex SHA-256 of the token */
    int64_t created_ms;
    int64_t last_used_ms; /* 0 when never used */
    bool revoked;
};

/*
 * Inserts t as given: id, kind, name, hash, created_ms (0: now), last_used_ms and revoked (a
 * copy keeps a token's history). MD_ERR_UNIQUENESS when the id or the hash exists.
 */
enum md_err store_token_insert(struct store_conn *c, const struct store_token *t,
                               struct md_error *e);
/* Finds an unrevoked token by hash; MD_ERR_NOTFOUND otherwise. */
enum md_err store_token_find(struct store_conn *c, const char *hash, struct store_token *out,
                             struct md_error *e);
typedef int (*store_token_fn)(void *ctx, const struct store_token *t);
enum md_err store_token_list(struct store_conn *c, store_token_fn fn, void *ctx,
                             struct md_error *e);
/* MD_ERR_NOTFOUND when no token has this id. */
enum md_err store_token_revoke(struct store_conn *c, const char *id, struct md_error *e);
/* Records a use; cheap, and coalesced by the caller to at most once a minute per token. */
enum md_err store_token_touch(struct store_conn *c, const char *id, int64_t when_ms,
                              struct md_error *e);
/* Number of tokens of a kind, revoked or not (first start creates a SCIM token when 0). */
enum md_err store_token_count(struct store_conn *c, const char *kind, int64_t *n,
                              struct md_error *e);

/* ---- Access objects (owned by access/) ----
 *
 * JSON documents keyed by id, one table per kind; the access module validates them, the store
 * only keeps them. A row's id is 1..STORE_ID_MAX bytes.
 */
enum store_obj_kind {
    STORE_OBJ_CONNECTOR, /* table connectors: a connector definition, keyed by its name */
    STORE_OBJ_OVERRIDE,  /* table connector_overrides: a deployment's settings for a connector */
    STORE_OBJ_PACK,      /* table packs, keyed by pack name */
    STORE_OBJ_GRANT,     /* table grants, keyed by a UUID */
    STORE_OBJ_CREDENTIAL, /* table credentials (owned by connect/): a sealed secret per connector */
    STORE_OBJ__COUNT
};

struct store_obj {
    char id[64];
    char *doc; /* heap, freed by store_obj_free */
    int64_t version; /* 1 for a new row, incremented by every put */
    int64_t created_ms;
    int64_t modified_ms;
};

void store_obj_free(struct store_obj *o);

/*
 * Writes doc (valid JSON text) as the row id of kind k. expect_version: -1 inserts or replaces;
 * 0 only inserts (MD_ERR_UNIQUENESS when the id exists); > 0 only replaces a row of that version
 * (MD_ERR_NOTFOUND when absent, MD_ERR_PRECONDITION when its version differs). *new_version (may
 * be NULL) receives the row's version. A copy (store_migrate) uses store_obj_copy instead.
 */
enum md_err store_obj_put(struct store_conn *c, enum store_obj_kind k, const char *id,
                          const char *doc, int64_t expect_version, int64_t *new_version,
                          struct md_error *e);
/* Inserts o as given (version and times kept); MD_ERR_UNIQUENESS when the id exists. */
enum md_err store_obj_copy(struct store_conn *c, enum store_obj_kind k, const struct store_obj *o,
                           struct md_error *e);
/* Fills *out (free with store_obj_free). MD_ERR_NOTFOUND when absent. */
enum md_err store_obj_get(struct store_conn *c, enum store_obj_kind k, const char *id,
                          struct store_obj *out, struct md_error *e);
/* MD_ERR_NOTFOUND when absent. */
enum md_err store_obj_delete(struct store_conn *c, enum store_obj_kind k, const char *id,
                             struct md_error *e);
/* Calls fn once per row, by created_ms then id; a non-zero return of fn stops the walk. */
typedef int (*store_obj_fn)(void *ctx, const struct store_obj *o);
enum md_err store_obj_list(struct store_conn *c, enum store_obj_kind k, store_obj_fn fn, void *ctx,
                           struct md_error *e);
/* The table's name ("connectors"), for messages. */
const char *store_obj_kind_name(enum store_obj_kind k);

/* ---- Audit events (owned by audit/) ----
 *
 * An append-only log: one row per event, numbered 1, 2, ... by seq in the order they were
 * written, each holding the hash of the one before (audit/ computes and checks them; the store
 * only keeps them). Rows are never updated; store_audit_prune removes the oldest.
 */
#define STORE_AUDIT_HASH_MAX 72

struct store_audit_row {
    int64_t seq;
    int64_t time_ms;
    char type[32];
    char event_id[40];
    char prev_hash[STORE_AUDIT_HASH_MAX];
    char hash[STORE_AUDIT_HASH_MAX];
    char *doc; /* heap, freed by store_audit_row_free; NUL-terminated JSON text */
};

void store_audit_row_free(struct store_audit_row *r);

/*
 * Inside a transaction: takes the log's writer lock until commit (SQLite: the write lock that
 * store_begin holds already; PostgreSQL: a transaction-scoped advisory lock), so that events
 * of several nodes get one order, and reads the last row's seq and hash (0 and "" when the log
 * is empty).
 */
enum md_err store_audit_tail(struct store_conn *c, int64_t *seq, char hash[STORE_AUDIT_HASH_MAX],
                             struct md_error *e);
/* Appends r (doc must be set). MD_ERR_UNIQUENESS when its seq or event_id exists. */
enum md_err store_audit_insert(struct store_conn *c, const struct store_audit_row *r,
                               struct md_error *e);
/* Fills *out (free with store_audit_row_free). MD_ERR_NOTFOUND when absent. */
enum md_err store_audit_get(struct store_conn *c, int64_t seq, struct store_audit_row *out,
                            struct md_error *e);

/* Which rows store_audit_scan walks: all bounds optional (0). */
struct store_audit_range {
    int64_t from_seq; /* seq >= from_seq */
    int64_t to_seq;   /* seq <= to_seq */
    int64_t since_ms; /* time_ms >= since_ms */
    int64_t until_ms; /* time_ms < until_ms */
    bool desc;        /* newest first */
};

/*
 * Calls fn once per row in the range, by seq; a non-zero return stops the walk. Rows are read
 * in pages, so a walk over millions of rows holds one page in memory; fn must not use c.
 */
typedef int (*store_audit_fn)(void *ctx, const struct store_audit_row *r);
enum md_err store_audit_scan(struct store_conn *c, const struct store_audit_range *q,
                             store_audit_fn fn, void *ctx, struct md_error *e);
enum md_err store_audit_has_event(struct store_conn *c, const char *event_id, bool *has,
                                  struct md_error *e);
/* Deletes the rows with seq < below; *deleted (may be NULL) counts them. */
enum md_err store_audit_prune(struct store_conn *c, int64_t below, int64_t *deleted,
                              struct md_error *e);
/* A sink's position: the last seq it delivered (0 when it has none). */
enum md_err store_audit_cursor_get(struct store_conn *c, const char *name, int64_t *seq,
                                   struct md_error *e);
enum md_err store_audit_cursor_set(struct store_conn *c, const char *name, int64_t seq,
                                   struct md_error *e);

/* ---- Change feed ----
 *
 * Every committed change to users, groups, memberships and tokens is announced to the
 * subscribers of every node that shares the database: in-process for SQLite, and through
 * LISTEN/NOTIFY (with a polled change counter as a fallback) for PostgreSQL. Caches subscribe
 * here rather than each inventing its own invalidation. A node hears its own changes when
 * store_commit returns, before the caller answers its request; other nodes' changes within the
 * backend's bound (about a second for PostgreSQL).
 */
enum store_change_kind {
    STORE_CHANGE_ALL,     /* anything may have changed (missed notifications): drop caches */
    STORE_CHANGE_USER,    /* a user was created, replaced, patched or deleted, or the set of
                             groups it is a direct member of changed */
    STORE_CHANGE_GROUP,   /* a group was created, changed or deleted */
    STORE_CHANGE_MEMBERS, /* a group's member list changed (id: the group) */
    STORE_CHANGE_TOKEN,   /* a token was created or revoked */
    STORE_CHANGE_NESTING, /* the set of groups a group is a direct member of changed (id: it) */
    STORE_CHANGE_OBJECT,  /* an access object was written or deleted (id: "<table>/<id>") */
};

struct store_change {
    enum store_change_kind kind;
    char id[96]; /* "" for STORE_CHANGE_ALL */
};

/*
 * fn runs on the committing thread or on the backend's listener thread: it must be quick,
 * thread-safe and must not call the store. At most STORE_WATCHERS_MAX subscribers.
 */
typedef void (*store_change_fn)(void *ctx, const struct store_change *ch);
#define STORE_WATCHERS_MAX 8
enum md_err store_watch(struct store *s, store_change_fn fn, void *ctx, struct md_error *e);

/* A number that grows with every change this node has heard of; cheap to compare. */
uint64_t store_change_epoch(struct store *s);

#endif
