/*
 * The PostgreSQL backend's connections (pg_int.h): connecting with the operator's URL, mapping
 * failures to errors, running prepared statements with reconnection, and transactions. The
 * operations themselves are in pg.c.
 *
 * Faults: a statement on a lost connection fails with MD_ERR_UNAVAILABLE ("the database is
 * unavailable") as soon as libpq notices, and a new connection is tried at the next use, with
 * connect_timeout bounding how long that takes. A connection lost while idle in the pool is
 * replaced transparently for a statement that is safe to send twice, outside a transaction. A
 * connection lost inside a transaction fails every statement until the caller rolls back, so
 * that the rest of a half-lost transaction never runs on its own. A commit is reported only
 * when PostgreSQL answered COMMIT to it.
 */
#include "store/pg_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"

/*
 * How long a statement waits for a row lock another transaction holds before the caller hears
 * MD_ERR_UNAVAILABLE ("busy"), as SQLite's busy timeout. Set with SET on each connection (not
 * as a startup option, which connection poolers such as PgBouncer refuse).
 */
#define PG_LOCK_TIMEOUT "SET lock_timeout = '5s'"
/* What the caller hears about a transaction whose connection went (the server discarded it). */
#define PG_LOST_IN_TX                                                                              \
    "the database is unavailable (the connection was lost during the transaction, which was "      \
    "not saved)"
/* PostgreSQL 11: starts_with(), jsonb to numeric casts, identity columns (10). */
#define PG_MIN_SERVER 110000

/* ---- errors ---- */

enum md_err pg__unavailable(struct md_error *e)
{
    return md_error_set(e, MD_ERR_UNAVAILABLE, "the database is unavailable");
}

/* Logs a message of libpq or the server, without the password, on one line. */
void pg__log_libpq(const struct pg_store *ps, const char *event, const char *msg)
{
    struct buf b;
    const char *p, *hit;
    char q[512];

    buf_init(&b, 4096);
    p = msg ? msg : "";
    while (ps && ps->password && ps->password[0] && (hit = strstr(p, ps->password)) != NULL) {
        buf_append(&b, p, (size_t)(hit - p));
        buf_append_cstr(&b, "***");
        p = hit + strlen(ps->password);
    }
    buf_append_cstr(&b, p);
    while (b.p && b.len > 0 && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == ' '))
        b.p[--b.len] = '\0';
    log_warn("event=%s msg=%s", event, log_quote(b.p ? b.p : "", q, sizeof q));
    buf_free(&b);
}

static bool conn_lost(PGconn *db)
{
    return !db || PQstatus(db) != CONNECTION_OK;
}

static enum md_err unique_error(const char *constraint, struct md_error *e)
{
    const char *c = constraint ? constraint : "";

    if (strcmp(c, "users_user_name_lc_key") == 0)
        return md_error_set(e, MD_ERR_UNIQUENESS, "a User with this userName already exists");
    if (strcmp(c, "tokens_hash_key") == 0)
        return md_error_set(e, MD_ERR_UNIQUENESS, "a token with this hash already exists");
    if (strcmp(c, "tokens_pkey") == 0)
        return md_error_set(e, MD_ERR_UNIQUENESS, "a token with this id already exists");
    if (strcmp(c, "users_pkey") == 0 || strcmp(c, "groups_pkey") == 0)
        return md_error_set(e, MD_ERR_UNIQUENESS, "a resource with this id already exists");
    return md_error_set(e, MD_ERR_UNIQUENESS, "a unique value is already taken");
}

static bool state_is(const char *state, const char *prefix)
{
    return strncmp(state, prefix, strlen(prefix)) == 0;
}

/*
 * Maps a failed result (NULL when libpq could not even send) to an error. The client hears a
 * fixed sentence and the SQLSTATE; the server's text, which may quote a value, goes to the log.
 */
enum md_err pg__fail(const struct pg_store *ps, PGconn *db, const PGresult *res, const char *what,
                     struct md_error *e)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (!res || conn_lost(db) || !state || state_is(state, "08") || state_is(state, "53") ||
        state_is(state, "57P")) {
        pg__log_libpq(ps, "pg_unavailable", res ? PQresultErrorMessage(res) : PQerrorMessage(db));
        return pg__unavailable(e);
    }
    if (strcmp(state, "23505") == 0)
        return unique_error(PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME), e);
    if (strcmp(state, "23503") == 0)
        return md_error_set(e, MD_ERR_NOTFOUND, "the group does not exist");
    if (state_is(state, "22") || strcmp(state, "23502") == 0 || strcmp(state, "23514") == 0)
        return md_error_set(e, MD_ERR_VALUE,
                            "a value is not accepted by the database (%s, SQLSTATE %s)", what,
                            state);
    if (state_is(state, "40"))
        return md_error_set(e, MD_ERR_UNAVAILABLE,
                            "the database cancelled the transaction because of a conflict; "
                            "try again");
    if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
        return md_error_set(e, MD_ERR_UNAVAILABLE, "the database is busy; try again");
    if (strcmp(state, "25P02") == 0)
        return md_error_set(e, MD_ERR_IO,
                            "an earlier statement of this transaction failed; roll it back");
    pg__log_libpq(ps, "pg_error", PQresultErrorMessage(res));
    return md_error_set(e, MD_ERR_IO, "database error in %s (SQLSTATE %s)", what, state);
}

/* ---- connecting ---- */

/*
 * libpq prints the server's notices and asynchronous errors (a FATAL message when the server
 * shuts down) on stderr unless told otherwise: warnings and worse go to the log instead, and
 * the chatter below WARNING ("relation already exists, skipping") is dropped.
 */
static void on_notice(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    if (sev && (strcmp(sev, "WARNING") == 0 || strcmp(sev, "ERROR") == 0 ||
                strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        pg__log_libpq(arg, "pg_notice", PQresultErrorMessage(res));
}

void pg__quiet(const struct pg_store *ps, PGconn *db)
{
    PQsetNoticeReceiver(db, on_notice, (void *)(uintptr_t)ps);
}

/* Why a connection failed, in words that cannot quote the URL. */
static enum md_err connect_error(const char *msg, struct md_error *e)
{
    if (strstr(msg, "authentication failed") || strstr(msg, "no password supplied") ||
        strstr(msg, "password"))
        return md_error_set(e, MD_ERR_UNAVAILABLE,
                            "the database is unavailable: it refused the credentials");
    if (strstr(msg, "does not exist"))
        return md_error_set(e, MD_ERR_UNAVAILABLE,
                            "the database is unavailable: the database or role in the URL "
                            "does not exist");
    return pg__unavailable(e);
}

/* What every pooled connection sets once it is up (again). */
static enum md_err conn_setup(const struct pg_store *ps, PGconn *db, struct md_error *e)
{
    PGresult *r = PQexec(db, PG_LOCK_TIMEOUT);
    enum md_err err = MD_OK;

    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        err = pg__fail(ps, db, r, "connection setup", e);
    PQclear(r);
    return err;
}

/*
 * The parameters of every connection, for PQconnectdbParams with expand_dbname: entries before
 * dbname are defaults that the URL may override, those after it are forced. app, when not NULL,
 * is forced as the application_name (the listener's connection is told apart by it).
 */
void pg__conn_params(const struct pg_store *ps, const char *app, const char *keys[PG_CONN_PARAMS],
                     const char *vals[PG_CONN_PARAMS])
{
    /* tcp_user_timeout bounds how long a request waits on a server that vanished without
     * closing its connections (keepalives alone take tens of seconds). */
    static const char *const k[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle",          "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "fallback_application_name"};
    static const char *const v[] = {"2", "1", "10", "5", "3", "10000", "mandate"};
    int i, n = (int)(sizeof k / sizeof k[0]);

    for (i = 0; i < n; i++) {
        keys[i] = k[i];
        vals[i] = v[i];
    }
    keys[n] = "dbname";
    vals[n++] = ps->conninfo;
    keys[n] = "client_encoding";
    vals[n++] = "UTF8";
    keys[n] = app ? "application_name" : NULL;
    vals[n++] = app;
    keys[n] = NULL;
    vals[n] = NULL;
}

/*
 * Opens a connection (blocking, at most connect_timeout). app, when not NULL, is forced as the
 * application_name (the listener's connection is told apart by it).
 */
enum md_err pg__connect(struct pg_store *ps, const char *app, PGconn **out, struct md_error *e)
{
    const char *keys[PG_CONN_PARAMS], *vals[PG_CONN_PARAMS];
    PGconn *db;
    enum md_err err = MD_OK;

    *out = NULL;
    pg__conn_params(ps, app, keys, vals);
    db = PQconnectdbParams(keys, vals, 1);
    if (!db)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (PQstatus(db) != CONNECTION_OK) {
        pg__log_libpq(ps, "pg_connect_failed", PQerrorMessage(db));
        err = connect_error(PQerrorMessage(db), e);
        goto out;
    }
    pg__quiet(ps, db);
    if (PQserverVersion(db) < PG_MIN_SERVER) {
        err = md_error_set(e, MD_ERR_UNSUPPORTED, "PostgreSQL 11 or later is needed");
        goto out;
    }
    err = conn_setup(ps, db, e);
    if (err)
        goto out;
    *out = db;
    db = NULL;
out:
    PQfinish(db);
    return err;
}

/* ---- statements ---- */

bool pg__res_ok(const PGresult *r)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Forgets what was prepared on a connection that is being replaced. */
static void forget_prepared(struct pg_conn *c)
{
    int i;

    memset(c->prepared, 0, sizeof c->prepared);
    for (i = 0; i < PG_DYN_MAX; i++) {
        free(c->dyn[i].sql);
        c->dyn[i].sql = NULL;
    }
}

/*
 * Makes c usable for a statement. A connection lost outside a transaction is replaced (PQreset
 * connects again with the same parameters); one lost inside a transaction stays lost until the
 * caller ends the transaction.
 */
static enum md_err conn_ready(struct pg_conn *c, struct md_error *e)
{
    if (!conn_lost(c->db))
        return MD_OK;
    if (c->tx)
        return md_error_set(e, MD_ERR_UNAVAILABLE, "%s", PG_LOST_IN_TX);
    forget_prepared(c);
    PQreset(c->db);
    pg__quiet(c->ps, c->db);
    if (conn_lost(c->db)) {
        pg__log_libpq(c->ps, "pg_reconnect_failed", PQerrorMessage(c->db));
        return pg__unavailable(e);
    }
    log_info("event=pg_reconnected");
    return conn_setup(c->ps, c->db, e);
}

/* A statement to run: fixed statement id, or compiled SQL (dyn not NULL), which once runs
 * without preparing it (diagnostics, which should not take a slot of the cache). */
struct stmt {
    enum pg_id id;
    const char *dyn;
    bool once;
};

/*
 * The prepared statement's name for st on c, preparing it when needed; NULL with *res set to
 * the failed result (or NULL) when preparing failed. A compiled query takes a free slot of the
 * cache or the least recently used one, whose statement is deallocated first.
 */
static const char *prepare(struct pg_conn *c, struct stmt st, char name[24], PGresult **res)
{
    struct pg_dyn *d = NULL;
    const char *sql;
    PGresult *r;
    int i;

    *res = NULL;
    if (!st.dyn) {
        snprintf(name, 24, "f%d", (int)st.id);
        if (c->prepared[st.id])
            return name;
        sql = pg__fixed(st.id)->sql;
    } else {
        for (i = 0; i < PG_DYN_MAX; i++) {
            if (c->dyn[i].sql && strcmp(c->dyn[i].sql, st.dyn) == 0) {
                c->dyn[i].used = ++c->tick;
                snprintf(name, 24, "%s", c->dyn[i].name);
                return name;
            }
        }
        for (i = 0; i < PG_DYN_MAX; i++) {
            if (!c->dyn[i].sql) {
                d = &c->dyn[i];
                break;
            }
            if (!d || c->dyn[i].used < d->used)
                d = &c->dyn[i];
        }
        /* In an aborted transaction DEALLOCATE would fail too: the evicted statement then
         * stays on the server until the connection closes, harmless as names never repeat. */
        if (d->sql) {
            char cmd[48];
            snprintf(cmd, sizeof cmd, "DEALLOCATE %s", d->name);
            if (PQtransactionStatus(c->db) != PQTRANS_INERROR)
                PQclear(PQexec(c->db, cmd));
            free(d->sql);
        }
        d->sql = strdup(st.dyn);
        if (!d->sql)
            return NULL;
        snprintf(d->name, sizeof d->name, "d%llu", (unsigned long long)++c->serial);
        d->used = ++c->tick;
        sql = st.dyn;
    }
    r = PQprepare(c->db, st.dyn ? d->name : name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        if (d) {
            free(d->sql);
            d->sql = NULL;
        }
        *res = r;
        return NULL;
    }
    PQclear(r);
    if (!st.dyn) {
        c->prepared[st.id] = true;
        return name;
    }
    snprintf(name, 24, "%s", d->name);
    return name;
}

/*
 * Runs st with text parameters args[0..n). On MD_OK *res holds the result, which the caller
 * clears. A statement that may be sent twice runs again once on a new connection when the first
 * attempt found the connection lost outside a transaction: after a restart of PostgreSQL, the
 * first use of each pooled connection succeeds instead of failing.
 */
static enum md_err run(struct pg_conn *c, struct stmt st, const char *const *args, int n,
                       PGresult **res, struct md_error *e)
{
    bool retry = st.dyn ? true : pg__fixed(st.id)->retry;
    const char *what = st.dyn ? "query" : pg__fixed(st.id)->name;
    PGresult *r = NULL;
    char name[24];
    enum md_err err;
    int attempt;

    *res = NULL;
    for (attempt = 0;; attempt++) {
        const char *nm;

        err = conn_ready(c, e);
        if (err)
            return err;
        if (st.once) {
            r = PQexecParams(c->db, st.dyn, n, NULL, args, NULL, NULL, 0);
            if (!r && !conn_lost(c->db))
                return md_error_set(e, MD_ERR_NOMEM, "out of memory");
            nm = NULL;
        } else {
            nm = prepare(c, st, name, &r);
        }
        if (nm)
            r = PQexecPrepared(c->db, nm, n, args, NULL, NULL, 0);
        else if (!r && !conn_lost(c->db))
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        if (pg__res_ok(r)) {
            *res = r;
            return MD_OK;
        }
        if (!(retry && attempt == 0 && !c->tx && conn_lost(c->db)))
            break;
        PQclear(r);
        r = NULL;
    }
    err = pg__fail(c->ps, c->db, r, what, e);
    PQclear(r);
    return err;
}

enum md_err pg__exec(struct pg_conn *c, enum pg_id id, const char *const *args, int n,
                     PGresult **res, struct md_error *e)
{
    return run(c, (struct stmt){.id = id}, args, n, res, e);
}

enum md_err pg__exec_dyn(struct pg_conn *c, const char *sql, const char *const *args, int n,
                         PGresult **res, struct md_error *e)
{
    return run(c, (struct stmt){.dyn = sql}, args, n, res, e);
}

enum md_err pg__exec_once(struct pg_conn *c, const char *sql, const char *const *args, int n,
                          PGresult **res, struct md_error *e)
{
    return run(c, (struct stmt){.dyn = sql, .once = true}, args, n, res, e);
}

enum md_err pg__conn_open(struct store *s, struct store_conn **out, struct md_error *e)
{
    struct pg_conn *c;
    enum md_err err;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    c->ps = s->impl;
    err = pg__connect(c->ps, NULL, &c->db, e);
    if (err) {
        free(c);
        return err;
    }
    *out = &c->base;
    return MD_OK;
}

void pg__conn_close(struct store_conn *bc)
{
    struct pg_conn *c = pg__conn(bc);

    forget_prepared(c);
    PQfinish(c->db);
    free(c);
}

/* ---- transactions ---- */

bool pg__in_tx(struct store_conn *bc)
{
    return pg__conn(bc)->tx;
}

/* A simple command without parameters (BEGIN, COMMIT, ROLLBACK); the result is the caller's. */
static enum md_err simple(struct pg_conn *c, const char *sql, bool retry, PGresult **res,
                          struct md_error *e)
{
    PGresult *r = NULL;
    enum md_err err;
    int attempt;

    *res = NULL;
    for (attempt = 0;; attempt++) {
        err = conn_ready(c, e);
        if (err)
            return err;
        r = PQexec(c->db, sql);
        if (pg__res_ok(r)) {
            *res = r;
            return MD_OK;
        }
        if (!(retry && attempt == 0 && !c->tx && conn_lost(c->db)))
            break;
        PQclear(r);
    }
    err = pg__fail(c->ps, c->db, r, sql, e);
    PQclear(r);
    return err;
}

enum md_err pg__begin(struct store_conn *bc, struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    PGresult *r;
    enum md_err err;

    if (c->tx)
        return md_error_set(e, MD_ERR_INTERNAL, "a transaction is already open");
    err = simple(c, "BEGIN", true, &r, e);
    PQclear(r);
    if (!err)
        c->tx = true;
    return err;
}

/*
 * Ends the transaction. On a lost connection there is nothing to send: the server rolled it
 * back when the connection went. A connection that somehow stays in a transaction after
 * ROLLBACK is replaced, so that no stale state reaches the next user of the connection.
 */
void pg__rollback(struct store_conn *bc)
{
    struct pg_conn *c = pg__conn(bc);

    if (!c->tx)
        return;
    c->tx = false;
    if (conn_lost(c->db))
        return;
    PQclear(PQexec(c->db, "ROLLBACK"));
    if (!conn_lost(c->db) && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        log_warn("event=pg_rollback_failed msg=\"connection replaced\"");
        forget_prepared(c);
        PQreset(c->db);
        if (!conn_lost(c->db))
            conn_setup(c->ps, c->db, NULL);
    }
}

/*
 * Success only when PostgreSQL answered COMMIT: an aborted transaction answers ROLLBACK to it,
 * and a connection lost during the commit leaves its fate unknown, which is no success either.
 */
enum md_err pg__commit(struct store_conn *bc, struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    PGresult *r;
    enum md_err err = MD_OK;

    if (!c->tx)
        return md_error_set(e, MD_ERR_INTERNAL, "no transaction is open");
    if (conn_lost(c->db)) {
        c->tx = false;
        return md_error_set(e, MD_ERR_UNAVAILABLE, "%s", PG_LOST_IN_TX);
    }
    r = PQexec(c->db, "COMMIT");
    c->tx = false;
    if (pg__res_ok(r) && strcmp(PQcmdStatus(r), "COMMIT") == 0)
        goto out;
    if (pg__res_ok(r))
        err = md_error_set(e, MD_ERR_IO,
                           "the transaction was rolled back because one of its statements "
                           "failed");
    else if (conn_lost(c->db))
        err = md_error_set(e, MD_ERR_UNAVAILABLE,
                           "the database is unavailable (the connection was lost during the "
                           "commit; the change may not have been saved)");
    else
        err = pg__fail(c->ps, c->db, r, "commit", e);
    if (!conn_lost(c->db) && PQtransactionStatus(c->db) != PQTRANS_IDLE)
        PQclear(PQexec(c->db, "ROLLBACK"));
out:
    PQclear(r);
    return err;
}
