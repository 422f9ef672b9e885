/*
 * Inside the SQLite backend: what sqlite.c (connections, transactions, the statement cache and
 * every operation but queries) and sqlite_query.c (predicate compilation, store_res_query and
 * explain) share. Nothing else includes this header. The functions are described where they
 * are defined.
 */
#ifndef MANDATE_STORE_SQLITE_INT_H
#define MANDATE_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store_int.h"

/* How many compiled queries each connection keeps prepared. */
#define SQ_DYN_MAX 16

/* ---- fixed statements ---- */

/*
 * Users' and groups' variants are adjacent, users first: the groups' one is id + STORE_GROUPS.
 * The access objects' statements come in fours, one per enum store_obj_kind in its order
 * (SQ_OBJ4): the statement for kind k is the connectors' one + k.
 */
#define SQ_OBJ4(q) q##_C, q##_O, q##_P, q##_G, q##_K
/* clang-format off */
enum sq_id {
    Q_BEGIN, Q_BEGIN_READ, Q_COMMIT, Q_ROLLBACK,
    Q_INSERT_U, Q_INSERT_G, Q_UPDATE_U, Q_UPDATE_G, Q_VERSION_U, Q_VERSION_G,
    Q_TOUCH_U, Q_TOUCH_G, Q_DELETE_U, Q_DELETE_G, Q_GET_U, Q_GET_G, Q_EXISTS_U, Q_EXISTS_G,
    Q_MEMBER_ADD, Q_MEMBER_REMOVE, Q_MEMBER_HAS, Q_MEMBER_CLEAR, Q_MEMBER_DROP, Q_MEMBER_LIST,
    Q_MEMBER_GROUPS,
    Q_TOKEN_INSERT, Q_TOKEN_FIND, Q_TOKEN_LIST, Q_TOKEN_REVOKE, Q_TOKEN_TOUCH, Q_TOKEN_COUNT,
    Q_FEED_BUMP,
    SQ_OBJ4(Q_OBJ_INSERT), SQ_OBJ4(Q_OBJ_UPSERT), SQ_OBJ4(Q_OBJ_UPDATE), SQ_OBJ4(Q_OBJ_VERSION),
    SQ_OBJ4(Q_OBJ_GET), SQ_OBJ4(Q_OBJ_DELETE), SQ_OBJ4(Q_OBJ_LIST),
    Q__COUNT
};
/* clang-format on */

/* The columns of a resource row as sqlite__row_read reads them, for users and for groups. */
#define U_COLS                                                                                     \
    "r.id, r.doc, r.user_name, r.display_name, r.external_id, r.active, r.created_ms, "            \
    "r.modified_ms, r.version"
#define G_COLS                                                                                     \
    "r.id, r.doc, NULL, r.display_name, r.external_id, 1, r.created_ms, r.modified_ms, "           \
    "r.version"

/* ---- connections ---- */

/*
 * A prepared statement kept for reuse: slot i < Q__COUNT holds fixed statement i, the others
 * the most recently used compiled queries, keyed by their SQL text (own).
 */
struct sq_cached {
    sqlite3_stmt *st;
    char *own;
    uint64_t used;
    bool busy;
};

/* The backend's state (store.impl). */
struct sq_store {
    char *path;
    /* The change feed's poller (sqlite_feed.c). */
    pthread_t thread;
    bool started, sync_init, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int64_t own_unseen; /* own announced commits the poller has not seen yet */
    int64_t last_seq;           /* the poller's */
};

struct sq_conn {
    struct store_conn base; /* first: store.c sees only this */
    sqlite3 *db;
    bool announced; /* the open transaction bumped the feed counter */
    struct sq_cached cache[Q__COUNT + SQ_DYN_MAX];
    uint64_t tick;
};

/*
 * A statement in use. A cached statement is marked busy while leased, so that a callback that
 * re-enters the store on the same connection (say, from store_member_list) gets a fresh one-off
 * statement instead of resetting the walk under its caller's feet.
 */
struct sq_lease {
    sqlite3_stmt *st;
    bool *busy; /* NULL for a one-off statement, finalized at the end */
};

static inline struct sq_conn *sqlite__conn(struct store_conn *c)
{
    return (struct sq_conn *)c;
}

/* ---- sqlite.c ---- */

enum md_err sqlite__fail(sqlite3 *db, int rc, const char *what, struct md_error *e);
enum md_err sqlite__lease_dyn(struct sq_conn *c, const char *sql, struct sq_lease *l,
                              struct md_error *e);
void sqlite__lease_end(struct sq_lease *l);
enum md_err sqlite__bind_fail(struct sq_conn *c, struct md_error *e);
enum md_err sqlite__run2(struct sq_conn *c, enum sq_id id, const char *a, const char *b,
                         int *changes, bool *row, struct md_error *e);
bool sqlite__in_tx(struct store_conn *bc);
void sqlite__rollback(struct store_conn *bc);
const char *sqlite__col_str(sqlite3_stmt *st, int i);
enum md_err sqlite__row_read(sqlite3_stmt *st, struct store_row *r, struct md_error *e);
const char *sqlite__fixed_sql(const char *name);

/* ---- sqlite_feed.c ---- */

enum md_err sqlite__announce(struct store_conn *bc, const struct store_change *ch, size_t n,
                             struct md_error *e);
/* After a commit of a transaction that may have announced: ok tells whether it committed. */
void sqlite__commit_done(struct store_conn *bc, bool ok);
/* Reads the counter on db (the opening connection) and starts the poller. */
enum md_err sqlite__feed_start(struct store *s, sqlite3 *db, struct md_error *e);
void sqlite__feed_stop(struct store *s);

/* ---- sqlite_query.c ---- */

enum md_err sqlite__res_query(struct store_conn *bc, enum store_kind k,
                              const struct store_query *qq, struct store_rows *out,
                              struct md_error *e);
enum md_err sqlite__explain(struct store_conn *bc, enum store_kind k, const struct store_query *qq,
                            const char *name, char **plan, struct md_error *e);

#endif
