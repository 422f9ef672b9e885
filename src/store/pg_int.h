/*
 * Inside the PostgreSQL backend: what pg.c (schema, migrations and every operation but
 * queries), pg_conn.c (connecting, errors, running statements, transactions), pg_query.c
 * (predicate compilation, store_res_query and explain) and pg_feed.c (the change feed:
 * announce and the listener thread) share. Nothing else includes
 * this header, except the backend's unit tests. The functions are described where they are
 * defined.
 */
#ifndef MANDATE_STORE_PG_INT_H
#define MANDATE_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store_int.h"

/* How many compiled queries each connection keeps prepared. */
#define PG_DYN_MAX 16
/* The LISTEN/NOTIFY channel of the change feed. */
#define PG_CHANNEL "mandate_changes"
/* A node id: 16 lowercase hex digits. */
#define PG_NODE_LEN 16

/* ---- fixed statements ---- */

/*
 * Users' and groups' variants are adjacent, users first: the groups' one is id + STORE_GROUPS.
 * The access objects' statements come in fours, one per enum store_obj_kind in its order
 * (PG_OBJ4): the statement for kind k is the connectors' one + k.
 */
#define PG_OBJ4(q) q##_C, q##_O, q##_P, q##_G, q##_K
/* clang-format off */
enum pg_id {
    P_INSERT_U, P_INSERT_G, P_UPDATE_U, P_UPDATE_G, P_DIAG_U, P_DIAG_G,
    P_TOUCH_U, P_TOUCH_G, P_DELETE_U, P_DELETE_G, P_GET_U, P_GET_G, P_LOCK_U, P_LOCK_G,
    P_EXISTS_U, P_EXISTS_G,
    P_MEMBER_ADD, P_MEMBER_REMOVE, P_MEMBER_HAS, P_MEMBER_CLEAR, P_MEMBER_LIST,
    P_MEMBER_GROUPS,
    P_TOKEN_INSERT, P_TOKEN_ID_TAKEN, P_TOKEN_FIND, P_TOKEN_LIST, P_TOKEN_REVOKE,
    P_TOKEN_TOUCH, P_TOKEN_COUNT,
    PG_OBJ4(P_OBJ_INSERT), PG_OBJ4(P_OBJ_UPSERT), PG_OBJ4(P_OBJ_UPDATE), PG_OBJ4(P_OBJ_VERSION),
    PG_OBJ4(P_OBJ_GET), PG_OBJ4(P_OBJ_LOCK), PG_OBJ4(P_OBJ_DELETE), PG_OBJ4(P_OBJ_LIST),
    P_ANNOUNCE,
    P__COUNT
};
/* clang-format on */

/* A fixed statement: its name (explain, messages), its SQL, and whether it may be sent a second
 * time when the first attempt finds the connection lost outside a transaction. */
struct pg_fixed {
    const char *name;
    const char *sql;
    bool retry;
};

/* The columns of a resource row as pg__row_read reads them, for users and for groups. */
#define PG_U_COLS                                                                                  \
    "r.id, r.doc::text, r.user_name, r.display_name, r.external_id, r.active, r.created_ms, "      \
    "r.modified_ms, r.version"
#define PG_G_COLS                                                                                  \
    "r.id, r.doc::text, NULL, r.display_name, r.external_id, true, r.created_ms, "                 \
    "r.modified_ms, r.version"

/* ---- the backend's state (store.impl) ---- */

struct pg_store {
    char *conninfo; /* "postgresql://" + the target: may hold a password, never logged */
    char *password; /* the password in it (NULL: none), to scrub it from libpq's messages */
    char node[PG_NODE_LEN + 1]; /* this node's id in the change feed, random at open */

    /* The listener thread (pg_feed.c). */
    pthread_t thread;
    bool thread_started;
    int wake[2]; /* a pipe: a byte written to wake[1] stops the listener */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready; /* the listener has made its first connection attempt */
    /* Tests: notifications are dropped as if lost, so that only the fallback works. */
    _Atomic bool mute;
    _Atomic int connects; /* how many times the listener has (re)connected */
};

/* ---- connections ---- */

/* A compiled query prepared on one connection, named "d<serial>". */
struct pg_dyn {
    char *sql; /* NULL: a free slot */
    char name[24];
    uint64_t used;
};

struct pg_conn {
    struct store_conn base; /* first: store.c sees only this */
    PGconn *db;
    struct pg_store *ps;
    bool prepared[P__COUNT]; /* fixed statement i is prepared as "f<i>" */
    struct pg_dyn dyn[PG_DYN_MAX];
    uint64_t tick, serial;
    /*
     * A transaction is open: BEGIN succeeded and neither COMMIT nor ROLLBACK has been sent.
     * Kept here rather than asked of libpq, because a connection that broke in a transaction
     * reports no transaction at all, and must fail every statement until the caller ends it.
     */
    bool tx;
};

static inline struct pg_conn *pg__conn(struct store_conn *c)
{
    return (struct pg_conn *)c;
}

/* ---- pg.c ---- */

const struct pg_fixed *pg__fixed(enum pg_id id);
const char *pg__fixed_sql(const char *name);
bool pg__get_i64(const PGresult *res, int row, int col, int64_t *out);
enum md_err pg__row_read(const PGresult *res, int row, int col0, struct store_row *r,
                         struct md_error *e);

/* ---- pg_conn.c ---- */

/* Room for every connection parameter of pg__conn_params, with the terminating NULL. */
#define PG_CONN_PARAMS 12

void pg__conn_params(const struct pg_store *ps, const char *app, const char *keys[PG_CONN_PARAMS],
                     const char *vals[PG_CONN_PARAMS]);
enum md_err pg__connect(struct pg_store *ps, const char *app, PGconn **out, struct md_error *e);
void pg__quiet(const struct pg_store *ps, PGconn *db);
enum md_err pg__unavailable(struct md_error *e);
void pg__log_libpq(const struct pg_store *ps, const char *event, const char *msg);
enum md_err pg__fail(const struct pg_store *ps, PGconn *db, const PGresult *res, const char *what,
                     struct md_error *e);
enum md_err pg__exec(struct pg_conn *c, enum pg_id id, const char *const *args, int n,
                     PGresult **res, struct md_error *e);
enum md_err pg__exec_dyn(struct pg_conn *c, const char *sql, const char *const *args, int n,
                         PGresult **res, struct md_error *e);
enum md_err pg__exec_once(struct pg_conn *c, const char *sql, const char *const *args, int n,
                          PGresult **res, struct md_error *e);
bool pg__res_ok(const PGresult *r);
enum md_err pg__conn_open(struct store *s, struct store_conn **out, struct md_error *e);
void pg__conn_close(struct store_conn *bc);
bool pg__in_tx(struct store_conn *bc);
enum md_err pg__begin(struct store_conn *bc, struct md_error *e);
enum md_err pg__commit(struct store_conn *bc, struct md_error *e);
void pg__rollback(struct store_conn *bc);

/* ---- pg_query.c ---- */

enum md_err pg__res_query(struct store_conn *bc, enum store_kind k, const struct store_query *qq,
                          struct store_rows *out, struct md_error *e);
enum md_err pg__explain(struct store_conn *bc, enum store_kind k, const struct store_query *qq,
                        const char *name, char **plan, struct md_error *e);

/* ---- pg_feed.c ---- */

enum md_err pg__feed_start(struct store *s, struct md_error *e);
void pg__feed_stop(struct store *s);
enum md_err pg__announce(struct store_conn *bc, const struct store_change *ch, size_t n,
                         struct md_error *e);
/* Tests: drop (true) or deliver (false) the notifications the listener receives. */
void pg__test_mute(struct store *s, bool mute);
/* Tests: how many times the listener has connected so far. */
int pg__test_connects(struct store *s);

#endif
