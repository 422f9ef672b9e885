/*
 * The fixture of the PostgreSQL backend's tests (test_pg.c, test_pg_feed.c, test_obj.c's pg_*
 * tests): each test gets a fresh database (CREATE DATABASE with a random name, dropped at the
 * end) on the server named by MANDATE_TEST_PG (e.g.
 * postgres://postgres@127.0.0.1:55432/postgres), with a store S of four connections and one of
 * them, C, taken.
 *
 * Without MANDATE_TEST_PG every test fails, unless MANDATE_SKIP_PG=1 skips them. A fault test
 * stops the server (MANDATE_TEST_PG_CTL, a command prefix taking "stop" or "start"): it takes
 * an exclusive lock on PG_LOCK_FILE, and every test a shared one in its setup, so that tests
 * running in parallel never see the server go away. No test sets a Criterion timeout: in
 * Criterion 2.4 they leak in the runner under --jobs, which fails LeakSanitizer; every wait
 * in the code under test is bounded instead.
 *
 * Everything here is static (inline, so that a file need not use all of it): each test file
 * that includes it has its own copy, as the test binaries are linked into one.
 */
#ifndef MANDATE_TESTS_STORE_PG_FIXTURE_H
#define MANDATE_TESTS_STORE_PG_FIXTURE_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/crypto.h"
#include "store/store.h"
#include "store/store_int.h"

#define PG_LOCK_FILE "/tmp/mandate-pg-tests.lock"

static char dbname[64];
static char url[1024];
static int lock_fd = -1;
static struct store *S;
static struct store_conn *C;

/* ---- the server and a fresh database ---- */

static inline const char *base_url(void)
{
    const char *u = getenv("MANDATE_TEST_PG");
    const char *skip = getenv("MANDATE_SKIP_PG");

    if (!u || !u[0]) {
        if (skip && strcmp(skip, "1") == 0)
            cr_skip_test("MANDATE_TEST_PG is not set (MANDATE_SKIP_PG=1)");
        cr_assert_fail("MANDATE_TEST_PG is not set");
    }
    return u;
}

/* The base URL with its database name replaced by name. */
static inline void url_for(const char *name, char *out, size_t size)
{
    const char *u = base_url();
    const char *auth = strstr(u, "://");
    const char *slash, *query;

    cr_assert_not_null(auth, "MANDATE_TEST_PG must be a postgres:// URL");
    auth += 3;
    query = strchr(auth, '?');
    slash = strchr(auth, '/');
    if (slash && query && slash > query)
        slash = NULL;
    if (!slash)
        slash = query ? query : auth + strlen(auth);
    snprintf(out, size, "%.*s/%s%s", (int)(slash - u), u, name, query ? query : "");
}

static inline PGconn *connect_to(const char *name)
{
    char u[1024];
    PGconn *db;

    if (name)
        url_for(name, u, sizeof u);
    else
        snprintf(u, sizeof u, "%s", base_url());
    db = PQconnectdb(u);
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "cannot connect: %s", PQerrorMessage(db));
    return db;
}

/* Runs SQL (no parameters) on db; the result's first value, or "" (heap). */
static inline char *sql_on(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(r);
    char *v;

    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    v = strdup(PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

/* Runs SQL on the test database through a connection of its own. */
static inline char *sql_db(const char *sql)
{
    PGconn *db = connect_to(dbname);
    char *v = sql_on(db, sql);

    PQfinish(db);
    return v;
}

/*
 * The same for a SQLite test database, the file at path: several statements run in turn (all
 * but the last for their effect); the last one's first value, or "" (heap).
 */
static inline char *sql_sqlite(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *v;
    int rc;

    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    while (sql && *sql) {
        const char *tail = NULL;

        sqlite3_finalize(st);
        st = NULL;
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, &tail), SQLITE_OK, "%s: %s", sql,
                     sqlite3_errmsg(db));
        sql = tail;
        while (sql && (*sql == ' ' || *sql == ';' || *sql == '\n'))
            sql++;
        if (!st)
            continue;
        rc = sqlite3_step(st);
        cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s", sqlite3_errmsg(db));
    }
    v = strdup(st && sqlite3_data_count(st) > 0 && sqlite3_column_text(st, 0)
                   ? (const char *)sqlite3_column_text(st, 0)
                   : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static inline void open_store(int pool)
{
    struct md_error e = {0};

    cr_assert_eq(store_open(url, pool, &S, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(S, &C, &e), MD_OK, "%s", e.msg);
}

static inline void close_store(void)
{
    if (C)
        store_release(C);
    C = NULL;
    if (S)
        store_close(S);
    S = NULL;
}

static inline void setup(void)
{
    unsigned char rnd[6];
    char cmd[160];
    PGconn *db;
    int i;

    base_url();
    lock_fd = open(PG_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    cr_assert_geq(lock_fd, 0);
    cr_assert_eq(flock(lock_fd, LOCK_SH), 0);
    cr_assert_eq(crypto_random(rnd, sizeof rnd), MD_OK);
    snprintf(dbname, sizeof dbname, "mandate_t_");
    for (i = 0; i < (int)sizeof rnd; i++)
        snprintf(dbname + strlen(dbname), 3, "%02x", rnd[i]);
    db = connect_to(NULL);
    snprintf(cmd, sizeof cmd, "CREATE DATABASE %s", dbname);
    free(sql_on(db, cmd));
    PQfinish(db);
    url_for(dbname, url, sizeof url);
    open_store(4);
}

/* Whether a fault test stopped the server and has not started it again yet. */
static bool server_stopped;

static inline int server_ctl_run(const char *what)
{
    const char *ctl = getenv("MANDATE_TEST_PG_CTL");
    char cmd[1200];

    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", ctl, what);
    return system(cmd);
}

static inline void server_ctl(const char *what)
{
    server_stopped = strcmp(what, "stop") == 0;
    cr_assert_eq(server_ctl_run(what), 0, "%s %s failed", getenv("MANDATE_TEST_PG_CTL"), what);
}

static inline void teardown(void)
{
    char cmd[160];
    PGconn *db;

    /* A fault test that failed half-way must not leave the server down for the others. */
    if (server_stopped && server_ctl_run("start") == 0)
        server_stopped = false;
    close_store();
    db = connect_to(NULL);
    snprintf(cmd, sizeof cmd, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    free(sql_on(db, cmd));
    PQfinish(db);
    if (lock_fd >= 0)
        close(lock_fd);
    lock_fd = -1;
}

static inline enum md_err put_user(const char *id, const char *user_name, const char *display,
                                   const char *ext, bool active, int64_t created, const char *doc)
{
    struct md_error e = {0};
    struct store_row r = {0};
    enum md_err err;

    snprintf(r.id, sizeof r.id, "%s", id);
    r.user_name = user_name ? strdup(user_name) : NULL;
    r.display_name = display ? strdup(display) : NULL;
    r.external_id = ext ? strdup(ext) : NULL;
    r.doc = strdup(doc);
    r.active = active;
    r.created_ms = created;
    r.modified_ms = created;
    err = store_res_insert(C, STORE_USERS, &r, &e);
    store_row_free(&r);
    return err;
}

#endif
