/*
 * Inside the store: the backend vtable and the parts of struct store and struct store_conn that
 * every backend shares (the connection pool). store.c parses the URL, runs the pool and
 * dispatches each store.h call through the vtable; a backend (sqlite.c, later pg.c) implements
 * the operations on one connection. Nothing outside src/store includes this header, except the
 * store's own unit tests.
 *
 * Contracts between store.c and a backend:
 *  - store.c checks arguments before dispatching: connections, kinds and output pointers are
 *    valid, ids and member ids are NUL-terminated strings of 1..STORE_ID_MAX bytes (an id that
 *    is too long to exist is answered "not found" by store.c without a backend call), rows to
 *    insert or update carry an id of that size. A backend may assert these.
 *  - A backend's connection structure starts with a struct store_conn (its first member), so
 *    that store.c can keep it in the pool and the backend can cast back.
 *  - Every operation runs on the caller's connection, inside the caller's transaction when one
 *    is open; an operation made of several statements is atomic on its own when none is.
 */
#ifndef MANDATE_STORE_STORE_INT_H
#define MANDATE_STORE_STORE_INT_H

#include <pthread.h>

#include "store/store.h"

/*
 * What a predicate means, in every backend (store.h gives the tree; these are the corners):
 *  - An absent attribute makes a comparison unknown, which counts as false, and "not" of an
 *    unknown is true: not (a) holds wherever a does not. ne needs a value: it holds where the
 *    attribute is present, not null, and not equal, so an absent attribute satisfies neither
 *    eq nor ne (as scim_filter_match has it); `not (a eq v)` includes absent attributes.
 *  - Types are not coerced: SV_STRING matches only a JSON string, SV_NUMBER only a JSON number,
 *    SV_BOOL only JSON true or false, SV_NULL with eq means absent or JSON null (ne: present and
 *    not null). SV_TIME against a JSON string compares the instant it spells (RFC 3339).
 *  - SC_PR: present and not null, "", [] or {}.
 *  - Strings order by code point; case-insensitive comparisons fold both sides first. co, sw
 *    and ew take every character of the value literally.
 *  - Ids (SCOL_ID, member and group ids of SP_MEMBER / SP_MEMBER_OF) are caseExact (RFC 7643
 *    section 3.1): eq and ne compare them exactly whatever case_exact says.
 *  - SP_ANY needs an array at its path; its leaves may not hold another SP_ANY.
 *  - A tree deeper than STORE_PRED_MAX_DEPTH (a flat chain of one operator counts once) or
 *    larger than STORE_PRED_MAX_NODES, or one the backend cannot run, is MD_ERR_FILTER.
 */

/* Longest id, member id or group id (bytes, without the NUL), as store_row.id allows. */
#define STORE_ID_MAX 63
#define STORE_POOL_DEFAULT 8
#define STORE_POOL_MAX 256
/* How long store_acquire waits for a free connection before answering MD_ERR_UNAVAILABLE. */
#define STORE_ACQUIRE_TIMEOUT_MS 30000
/* Predicate trees deeper or larger than this are refused with MD_ERR_FILTER. */
#define STORE_PRED_MAX_DEPTH 64
#define STORE_PRED_MAX_NODES 1024

/* A backend's audit log operations (store.h); store.c has checked pointers and strings. */
struct store_audit_ops {
    enum md_err (*tail)(struct store_conn *c, int64_t *seq, char *hash, struct md_error *e);
    enum md_err (*insert)(struct store_conn *c, const struct store_audit_row *r,
                          struct md_error *e);
    enum md_err (*get)(struct store_conn *c, int64_t seq, struct store_audit_row *out,
                       struct md_error *e);
    enum md_err (*scan)(struct store_conn *c, const struct store_audit_range *q,
                        store_audit_fn fn, void *ctx, struct md_error *e);
    enum md_err (*has_event)(struct store_conn *c, const char *event_id, bool *has,
                             struct md_error *e);
    enum md_err (*prune)(struct store_conn *c, int64_t below, int64_t *deleted,
                         struct md_error *e);
    enum md_err (*cursor_get)(struct store_conn *c, const char *name, int64_t *seq,
                              struct md_error *e);
    enum md_err (*cursor_set)(struct store_conn *c, const char *name, int64_t seq,
                              struct md_error *e);
};

struct store_backend_ops {
    const char *name; /* "sqlite", for messages */

    /*
     * Opens (creating and migrating when needed) the database at target, the URL without its
     * scheme, and sets s->impl. Called once, before any conn_open.
     */
    enum md_err (*open)(struct store *s, const char *target, struct md_error *e);
    /* Frees s->impl; every connection has been closed already. */
    void (*close)(struct store *s);
    /* A new connection; store.c fills in the struct store_conn part. */
    enum md_err (*conn_open)(struct store *s, struct store_conn **out, struct md_error *e);
    void (*conn_close)(struct store_conn *c);
    /* Whether a transaction is open on c (store_release rolls back a forgotten one). */
    bool (*in_tx)(struct store_conn *c);

    enum md_err (*begin)(struct store_conn *c, struct md_error *e);
    enum md_err (*commit)(struct store_conn *c, struct md_error *e);
    void (*rollback)(struct store_conn *c);

    enum md_err (*res_insert)(struct store_conn *c, enum store_kind k, const struct store_row *r,
                              struct md_error *e);
    enum md_err (*res_update)(struct store_conn *c, enum store_kind k, const struct store_row *r,
                              int64_t expect_version, int64_t *new_version, struct md_error *e);
    enum md_err (*res_touch)(struct store_conn *c, enum store_kind k, const char *id,
                             int64_t modified_ms, int64_t *new_version, struct md_error *e);
    enum md_err (*res_delete)(struct store_conn *c, enum store_kind k, const char *id,
                              struct md_error *e);
    enum md_err (*res_get)(struct store_conn *c, enum store_kind k, const char *id,
                           struct store_row *out, struct md_error *e);
    enum md_err (*res_exists)(struct store_conn *c, enum store_kind k, const char *id, bool *exists,
                              struct md_error *e);
    enum md_err (*res_query)(struct store_conn *c, enum store_kind k, const struct store_query *q,
                             struct store_rows *out, struct md_error *e);

    enum md_err (*member_add)(struct store_conn *c, const char *group_id, const char *member_id,
                              enum store_member_type type, const char *display, bool *added,
                              struct md_error *e);
    /* *type receives the removed member's type when *removed. */
    enum md_err (*member_remove)(struct store_conn *c, const char *group_id, const char *member_id,
                                 bool *removed, enum store_member_type *type, struct md_error *e);
    enum md_err (*member_clear)(struct store_conn *c, const char *group_id, struct md_error *e);
    enum md_err (*member_has)(struct store_conn *c, const char *group_id, const char *member_id,
                              bool *has, struct md_error *e);
    enum md_err (*member_list)(struct store_conn *c, const char *group_id, store_member_fn fn,
                               void *ctx, struct md_error *e);
    enum md_err (*member_groups)(struct store_conn *c, const char *member_id, store_group_fn fn,
                                 void *ctx, struct md_error *e);

    enum md_err (*token_insert)(struct store_conn *c, const struct store_token *t,
                                struct md_error *e);
    enum md_err (*token_find)(struct store_conn *c, const char *hash, struct store_token *out,
                              struct md_error *e);
    enum md_err (*token_list)(struct store_conn *c, store_token_fn fn, void *ctx,
                              struct md_error *e);
    enum md_err (*token_revoke)(struct store_conn *c, const char *id, struct md_error *e);
    enum md_err (*token_touch)(struct store_conn *c, const char *id, int64_t when_ms,
                               struct md_error *e);
    enum md_err (*token_count)(struct store_conn *c, const char *kind, int64_t *n,
                               struct md_error *e);

    /* Access objects (store.h); store.c has checked kinds, ids and doc. */
    enum md_err (*obj_put)(struct store_conn *c, enum store_obj_kind k, const char *id,
                           const char *doc, int64_t expect_version, int64_t *new_version,
                           struct md_error *e);
    enum md_err (*obj_copy)(struct store_conn *c, enum store_obj_kind k, const struct store_obj *o,
                            struct md_error *e);
    enum md_err (*obj_get)(struct store_conn *c, enum store_obj_kind k, const char *id,
                           struct store_obj *out, struct md_error *e);
    enum md_err (*obj_delete)(struct store_conn *c, enum store_obj_kind k, const char *id,
                              struct md_error *e);
    enum md_err (*obj_list)(struct store_conn *c, enum store_obj_kind k, store_obj_fn fn,
                            void *ctx, struct md_error *e);

    /* The audit log (store.h), in a file of its own in each backend. */
    const struct store_audit_ops *audit;

    /*
     * Diagnostics: the backend's query plan, one step a line, for the page statement that
     * res_query would run for (k, q) when name is NULL, else for the fixed statement of that
     * name (e.g. "user_get", "member_add"; see the backend). *plan is heap, caller frees.
     * MD_ERR_NOTFOUND for an unknown name. May be NULL in a backend that has no plans.
     */
    /*
     * Announces the changes of the open transaction to the other nodes, inside that
     * transaction, so that they are announced if and only if it commits (PostgreSQL: NOTIFY and
     * the change counter; SQLite: a counter that other processes on the file poll). On failure
     * the backend has rolled the transaction back.
     */
    enum md_err (*announce)(struct store_conn *c, const struct store_change *ch, size_t n,
                            struct md_error *e);

    enum md_err (*explain)(struct store_conn *c, enum store_kind k, const struct store_query *q,
                           const char *name, char **plan, struct md_error *e);
};

/* Changes a transaction may list one by one before it announces "everything" instead. */
#define STORE_PENDING_MAX 256

/* The shared part of every backend's connection; the first member of the backend's struct. */
struct store_conn {
    struct store *store;
    struct store_conn *next_idle; /* link in store.idle while pooled */
    /* The changes of the open transaction, announced at commit (feed.c). */
    struct store_change *pending;
    size_t npending;
    bool pending_all;
};

struct store {
    const struct store_backend_ops *ops;
    void *impl; /* the backend's state, owned by it */

    /* The pool: up to pool_size connections, opened on demand, idle ones on a stack. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pool_size;
    int n_open; /* connections that exist, idle or taken (and ones being opened) */
    int n_idle;
    struct store_conn *idle;

    /* The change feed's subscribers (feed.c). */
    pthread_mutex_t watch_mu;
    struct {
        store_change_fn fn;
        void *ctx;
    } watchers[STORE_WATCHERS_MAX];
    int nwatchers;
    _Atomic uint64_t epoch;
};

/* feed.c: records a change of c's open transaction. */
void store__feed_record(struct store_conn *c, enum store_change_kind kind, const char *id);
/* feed.c: announces c's pending changes to other nodes (before the backend's commit). */
enum md_err store__feed_announce(struct store_conn *c, struct md_error *e);
/* feed.c: after a commit, tells this node's subscribers; forgets the pending changes. */
void store__feed_committed(struct store_conn *c);
/* feed.c: forgets the pending changes (rollback). */
void store__feed_discard(struct store_conn *c);
/* feed.c: tells this node's subscribers of changes (a backend's listener calls it for changes
 * made on other nodes). */
void store__publish(struct store *s, const struct store_change *ch, size_t n);

extern const struct store_backend_ops store__sqlite_ops;
extern const struct store_audit_ops sqlite__audit_ops;
extern const struct store_audit_ops pg__audit_ops;
/* Rows a backend reads per page in audit_scan. */
#define STORE_AUDIT_PAGE 512
extern const struct store_backend_ops store__pg_ops;

/* Dispatches to c's backend explain operation (see above). */
enum md_err store__explain(struct store_conn *c, enum store_kind k, const struct store_query *q,
                           const char *name, char **plan, struct md_error *e);

#endif
