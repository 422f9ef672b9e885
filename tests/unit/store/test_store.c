/*
 * store.c: URL parsing, the connection pool, argument checks before dispatch.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"

static char dir[64];
static char path[128];

static void remove_db(const char *p)
{
    char f[160];

    snprintf(f, sizeof f, "%s-wal", p);
    unlink(f);
    snprintf(f, sizeof f, "%s-shm", p);
    unlink(f);
    unlink(p);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
}

static void teardown(void)
{
    remove_db(path);
    rmdir(dir);
}

TestSuite(test_store, .init = setup, .fini = teardown);

static enum md_err open_url(const char *url, int pool, struct md_error *e)
{
    struct store *s = NULL;
    enum md_err err = store_open(url, pool, &s, e);

    if (err == MD_OK) {
        cr_assert_not_null(s);
        store_close(s);
    } else {
        cr_assert_null(s);
    }
    return err;
}

Test(test_store, database_urls_never_echo_a_password)
{
    struct md_error e = {0};

    /* Nothing listens on port 1: PostgreSQL is unavailable, and the message keeps the secret. */
    cr_assert_eq(open_url("postgres://admin:s3cr3t@127.0.0.1:1/m?connect_timeout=1", 0, &e),
                 MD_ERR_UNAVAILABLE);
    cr_assert(strstr(e.msg, "s3cr3t") == NULL, "%s", e.msg);
    cr_assert_eq(open_url("postgresql://u:pw@h/db?bogus=1", 0, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "pw") == NULL, "%s", e.msg);
    cr_assert_eq(open_url("mysql://u:pw@h/db", 0, &e), MD_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "pw@") == NULL, "%s", e.msg);
}

Test(test_store, bad_urls_and_pool_sizes_are_refused)
{
    struct md_error e = {0};
    struct store *s = NULL;

    cr_assert_eq(store_open(NULL, 0, &s, &e), MD_ERR_VALUE);
    cr_assert_eq(open_url("", 0, &e), MD_ERR_VALUE);
    cr_assert_eq(open_url("sqlite:", 0, &e), MD_ERR_VALUE);
    cr_assert_eq(open_url(":memory:", 0, &e), MD_ERR_VALUE);
    cr_assert_eq(open_url("sqlite::memory:", 0, &e), MD_ERR_VALUE);
    cr_assert_eq(open_url(path, -1, &e), MD_ERR_VALUE);
    cr_assert_eq(open_url(path, STORE_POOL_MAX + 1, &e), MD_ERR_VALUE);
}

Test(test_store, sqlite_prefix_plain_path_and_url_form_open_the_same_file)
{
    struct md_error e = {0};
    char url[200];
    struct store *s;
    struct store_conn *c;
    char un[] = "alice", doc[] = "{}";
    struct store_row r = {.id = "u1", .user_name = un, .doc = doc, .active = true};
    bool exists = false;

    snprintf(url, sizeof url, "sqlite:%s", path);
    cr_assert_eq(store_open(url, 2, &s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(s, &c, &e), MD_OK);
    cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_OK, "%s", e.msg);
    store_release(c);
    store_close(s);

    cr_assert_eq(store_open(path, 0, &s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(s->pool_size, STORE_POOL_DEFAULT);
    cr_assert_eq(store_acquire(s, &c, &e), MD_OK);
    cr_assert_eq(store_res_exists(c, STORE_USERS, "u1", &exists, &e), MD_OK);
    cr_assert(exists);
    store_release(c);
    store_close(s);

    snprintf(url, sizeof url, "sqlite://%s", path); /* sqlite:///tmp/... */
    cr_assert_eq(store_open(url, 1, &s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(s, &c, &e), MD_OK);
    exists = false;
    cr_assert_eq(store_res_exists(c, STORE_USERS, "u1", &exists, &e), MD_OK);
    cr_assert(exists);
    store_release(c);
    store_close(s);
}

Test(test_store, a_missing_directory_is_a_clear_error)
{
    struct md_error e = {0};
    char p[200];

    snprintf(p, sizeof p, "%s/no/such/dir/t.db", dir);
    cr_assert_eq(open_url(p, 0, &e), MD_ERR_IO);
    cr_assert(strstr(e.msg, "directory") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "cannot open") != NULL, "%s", e.msg);
}

Test(test_store, the_pool_reuses_connections)
{
    struct md_error e = {0};
    struct store *s;
    struct store_conn *a, *b, *c2;

    cr_assert_eq(store_open(path, 3, &s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(s, &a, &e), MD_OK);
    cr_assert_eq(store_acquire(s, &b, &e), MD_OK);
    cr_assert_neq(a, b);
    store_release(b);
    cr_assert_eq(store_acquire(s, &c2, &e), MD_OK);
    cr_assert_eq(c2, b, "the idle connection is handed out again");
    cr_assert_leq(s->n_open, 3);
    store_release(c2);
    store_release(a);
    cr_assert_eq(s->n_idle, s->n_open);
    store_close(s);
}

struct waiter {
    struct store *s;
    struct store_conn *got;
    volatile int done;
};

static void *wait_for_conn(void *arg)
{
    struct waiter *w = arg;
    struct md_error e = {0};

    cr_assert_eq(store_acquire(w->s, &w->got, &e), MD_OK);
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

Test(test_store, acquire_waits_when_every_connection_is_taken)
{
    struct md_error e = {0};
    struct store *s;
    struct store_conn *c;
    struct waiter w = {0};
    pthread_t t;

    cr_assert_eq(store_open(path, 1, &s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(s, &c, &e), MD_OK);
    w.s = s;
    cr_assert_eq(pthread_create(&t, NULL, wait_for_conn, &w), 0);
    usleep(150 * 1000);
    cr_assert_eq(__atomic_load_n(&w.done, __ATOMIC_SEQ_CST), 0, "acquire did not wait");
    store_release(c);
    pthread_join(t, NULL);
    cr_assert_eq(w.done, 1);
    cr_assert_eq(w.got, c);
    cr_assert_eq(s->n_open, 1);
    store_release(w.got);
    store_close(s);
}

Test(test_store, release_rolls_back_a_forgotten_transaction)
{
    struct md_error e = {0};
    struct store *s;
    struct store_conn *c;
    char un[] = "alice", doc[] = "{}";
    struct store_row r = {.id = "u1", .user_name = un, .doc = doc};
    bool exists = true;

    cr_assert_eq(store_open(path, 1, &s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(s, &c, &e), MD_OK);
    cr_assert_eq(store_begin(c, &e), MD_OK);
    cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_OK, "%s", e.msg);
    store_release(c);
    cr_assert_eq(store_acquire(s, &c, &e), MD_OK);
    cr_assert_eq(store_begin(c, &e), MD_OK, "the connection came back without a transaction");
    store_rollback(c);
    cr_assert_eq(store_res_exists(c, STORE_USERS, "u1", &exists, &e), MD_OK);
    cr_assert_not(exists);
    store_release(c);
    store_close(s);
}

Test(test_store, arguments_are_checked_before_the_backend)
{
    struct md_error e = {0};
    struct store *s;
    struct store_conn *c;
    char long_id[100];
    char un[] = "x", doc[] = "{}";
    struct store_row r = {.user_name = un, .doc = doc};
    struct store_row got;
    struct store_token t = {.id = "t1", .kind = "scim", .name = "n"};
    bool b = true;

    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    cr_assert_eq(store_open(path, 1, &s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(s, &c, &e), MD_OK);
    cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_ERR_VALUE, "an empty id");
    snprintf(r.id, sizeof r.id, "u1");
    r.user_name = NULL;
    cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_ERR_VALUE, "no userName");
    cr_assert_eq(store_res_get(c, STORE_USERS, long_id, &got, &e), MD_ERR_NOTFOUND);
    cr_assert_eq(store_res_exists(c, STORE_GROUPS, long_id, &b, &e), MD_OK);
    cr_assert_not(b);
    cr_assert_eq(store_res_get(c, (enum store_kind)7, "u1", &got, &e), MD_ERR_INTERNAL);
    cr_assert_eq(store_member_add(c, "g", long_id, STORE_MEMBER_USER, NULL, &b, &e), MD_ERR_VALUE);
    cr_assert_eq(store_token_insert(c, &t, &e), MD_ERR_VALUE, "a token without a hash");
    cr_assert_eq(store_token_find(c, "", &t, &e), MD_ERR_NOTFOUND);
    store_release(c);
    store_close(s);
}
