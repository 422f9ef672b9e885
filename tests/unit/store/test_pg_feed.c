/*
 * pg_feed.c, and what many nodes on one database need of the backend, each test on a fresh
 * database (pg_fixture.h): a change committed on one store is heard on another within a
 * second, also when notifications are lost or the listener reconnects; and a stopped server
 * makes operations fail fast, after which the same store works again without reopening.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"
#include "pg_fixture.h"
#include "store/pg_int.h"
#include "store/store.h"
#include "store/store_int.h"

TestSuite(test_pg_feed, .init = setup, .fini = teardown);

/* Prints a measurement on stderr, where every run of the suite shows it. */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "[test_pg_feed] ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* What a subscriber heard: "kind:id" lines, and when it heard the first of each. */
struct heard {
    pthread_mutex_t mu;
    char log[16384];
    int count;
};

static void on_change(void *ctx, const struct store_change *ch)
{
    struct heard *h = ctx;
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "%d:%s\n", (int)ch->kind, ch->id);
    h->count++;
    pthread_mutex_unlock(&h->mu);
}

static void heard_reset(struct heard *h)
{
    pthread_mutex_lock(&h->mu);
    h->log[0] = '\0';
    h->count = 0;
    pthread_mutex_unlock(&h->mu);
}

static bool heard_has(struct heard *h, const char *line)
{
    bool has;

    pthread_mutex_lock(&h->mu);
    has = strstr(h->log, line) != NULL;
    pthread_mutex_unlock(&h->mu);
    return has;
}

/* Milliseconds until h has line, waiting at most limit_ms; -1 when it never came. */
static int64_t wait_heard(struct heard *h, const char *line, int64_t since, int64_t limit_ms)
{
    while (time_mono_ms() - since < limit_ms) {
        if (heard_has(h, line))
            return time_mono_ms() - since;
        usleep(2000);
    }
    return heard_has(h, line) ? time_mono_ms() - since : -1;
}

static struct heard HA = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct heard HB = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* A second node on the same database, B, whose subscriber is HB; A's is HA. */
static struct store *open_b(void)
{
    struct md_error e = {0};
    struct store *b = NULL;

    cr_assert_eq(store_open(url, 2, &b, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_watch(b, on_change, &HB, &e), MD_OK);
    cr_assert_eq(store_watch(S, on_change, &HA, &e), MD_OK);
    heard_reset(&HA);
    heard_reset(&HB);
    return b;
}

Test(test_pg_feed, a_change_on_a_is_heard_on_b_within_a_second)
{
    struct md_error e = {0};
    struct store *b = open_b();
    struct store_row g = {.id = "g1"};
    char dn[] = "Admins", doc[] = "{}";
    int64_t t0, ms;
    bool added;

    t0 = time_mono_ms();
    cr_assert_eq(put_user("u 1%", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    ms = wait_heard(&HB, "1:u 1%\n", t0, 2000);
    cr_assert(ms >= 0 && ms < 1000, "B heard the new user after %lld ms", (long long)ms);
    note("a change on A was heard on B after %lld ms", (long long)ms);

    g.display_name = dn;
    g.doc = doc;
    t0 = time_mono_ms();
    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(store_res_insert(C, STORE_GROUPS, &g, &e), MD_OK);
    cr_assert_eq(store_member_add(C, "g1", "u 1%", STORE_MEMBER_USER, NULL, &added, &e), MD_OK);
    cr_assert_eq(store_commit(C, &e), MD_OK);
    ms = wait_heard(&HB, "3:g1\n", t0, 2000);
    cr_assert(ms >= 0 && ms < 1000, "B heard the members after %lld ms", (long long)ms);
    cr_assert(heard_has(&HB, "2:g1\n"));

    /* A heard its own changes once, at commit, and not again from its listener (the member's
     * own change, 1:u 1%, comes again: that was another transaction's). */
    usleep(700 * 1000);
    cr_assert_str_eq(HA.log, "1:u 1%\n2:g1\n3:g1\n1:u 1%\n");
    cr_assert_not(heard_has(&HB, "0:\n"), "no fallback was needed: %s", HB.log);

    /* A rolled-back change is told to nobody. */
    heard_reset(&HB);
    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(put_user("u2", "bob", NULL, NULL, true, 1, "{}"), MD_OK);
    store_rollback(C);
    usleep(700 * 1000);
    cr_assert_eq(HB.count, 0, "%s", HB.log);
    store_close(b);
}

Test(test_pg_feed, a_large_transaction_is_heard_as_everything)
{
    struct md_error e = {0};
    struct store *b = open_b();
    char id[64];
    int64_t t0, ms;
    int i;

    t0 = time_mono_ms();
    cr_assert_eq(store_begin(C, &e), MD_OK);
    /* 200 changes (under STORE_PENDING_MAX) whose list is longer than a notification. */
    for (i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "a-rather-long-user-id-to-fill-the-payload-of-a-notify-%03u",
                 (unsigned)i % 1000u);
        cr_assert_eq(put_user(id, id, NULL, NULL, true, 1, "{}"), MD_OK);
    }
    cr_assert_eq(store_commit(C, &e), MD_OK);
    ms = wait_heard(&HB, "0:\n", t0, 2000);
    cr_assert(ms >= 0 && ms < 1000, "B heard everything after %lld ms", (long long)ms);
    cr_assert_eq(HB.count, 1, "%s", HB.log);
    store_close(b);
}

/* With notifications lost, the polled counter still tells B within a second. */
Test(test_pg_feed, lost_notifications_fall_back_to_the_counter)
{
    struct store *b = open_b();
    int64_t t0, ms;
    int i;

    pg__test_mute(b, true);
    for (i = 0; i < 3; i++) {
        heard_reset(&HB);
        t0 = time_mono_ms();
        char id[16];

        snprintf(id, sizeof id, "u%d", i);
        cr_assert_eq(put_user(id, id, NULL, NULL, true, 1, "{}"), MD_OK);
        ms = wait_heard(&HB, "0:\n", t0, 2000);
        cr_assert(ms >= 0 && ms < 1000, "B heard everything after %lld ms", (long long)ms);
        note("with notifications lost, B heard everything after %lld ms", (long long)ms);
        cr_assert_not(heard_has(&HB, "1:u"), "the notification was dropped");
    }
    /* Notifications again: the first one after the loss is in sequence, nothing spurious. */
    pg__test_mute(b, false);
    usleep(600 * 1000);
    heard_reset(&HB);
    t0 = time_mono_ms();
    cr_assert_eq(put_user("u4", "d", NULL, NULL, true, 1, "{}"), MD_OK);
    ms = wait_heard(&HB, "1:u4\n", t0, 2000);
    cr_assert(ms >= 0 && ms < 1000, "%lld ms", (long long)ms);
    usleep(700 * 1000);
    cr_assert_str_eq(HB.log, "1:u4\n");
    store_close(b);
}

/* A listener whose connection is killed reconnects and tells everything, within a second of
 * a change it could not hear. */
Test(test_pg_feed, a_reconnected_listener_tells_everything)
{
    struct store *b = open_b();
    int connects = pg__test_connects(b);
    int64_t t0, ms;
    char cmd[256];

    snprintf(cmd, sizeof cmd,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
             "application_name = 'mandate-listener' AND datname = '%s'",
             dbname);
    free(sql_db(cmd));
    t0 = time_mono_ms();
    cr_assert_eq(put_user("u1", "a", NULL, NULL, true, 1, "{}"), MD_OK);
    ms = wait_heard(&HB, "0:\n", t0, 2000);
    cr_assert(ms >= 0 && ms < 1000, "B heard everything after %lld ms", (long long)ms);
    cr_assert_gt(pg__test_connects(b), connects, "B's listener reconnected");
    /* And it hears notifications again. */
    usleep(300 * 1000);
    t0 = time_mono_ms();
    cr_assert_eq(put_user("u2", "b", NULL, NULL, true, 1, "{}"), MD_OK);
    ms = wait_heard(&HB, "1:u2\n", t0, 2000);
    cr_assert(ms >= 0 && ms < 1000, "%lld ms", (long long)ms);
    store_close(b);
}

/* ---- faults ---- */

/* Terminates the server process behind a pooled connection. */
static void kill_backend(struct store_conn *c)
{
    char cmd[96];

    snprintf(cmd, sizeof cmd, "SELECT pg_terminate_backend(%d)", PQbackendPID(pg__conn(c)->db));
    free(sql_db(cmd));
}

/*
 * A connection lost in a transaction fails the rest of it, its commit included, and is
 * replaced only once the caller has rolled back; one lost while idle is replaced unseen.
 */
Test(test_pg_feed, a_connection_lost_in_a_transaction_is_not_reused)
{
    struct md_error e = {0};
    struct store_row got;
    bool exists = true;

    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    kill_backend(C);
    cr_assert_eq(put_user("u2", "bob", NULL, NULL, true, 1, "{}"), MD_ERR_UNAVAILABLE);
    cr_assert_eq(store_res_get(C, STORE_USERS, "u1", &got, &e), MD_ERR_UNAVAILABLE,
                 "no statement of the lost transaction runs on a new connection");
    cr_assert(S->ops->in_tx(C), "the caller still has to end it");
    cr_assert_eq(store_commit(C, &e), MD_ERR_UNAVAILABLE);
    cr_assert(strstr(e.msg, "not saved") != NULL, "%s", e.msg);
    cr_assert_not(S->ops->in_tx(C));
    cr_assert_eq(store_res_exists(C, STORE_USERS, "u1", &exists, &e), MD_OK, "%s", e.msg);
    cr_assert_not(exists);

    /* Lost while idle: the next read and the next write both just work. */
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    kill_backend(C);
    cr_assert_eq(store_res_exists(C, STORE_USERS, "u1", &exists, &e), MD_OK, "%s", e.msg);
    cr_assert(exists);
    kill_backend(C);
    cr_assert_eq(put_user("u2", "bob", NULL, NULL, true, 1, "{}"), MD_OK);
    /* And a rollback of a lost transaction leaves the connection clean too. */
    cr_assert_eq(store_begin(C, &e), MD_OK);
    kill_backend(C);
    store_rollback(C);
    cr_assert_eq(store_begin(C, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(put_user("u3", "carol", NULL, NULL, true, 1, "{}"), MD_OK);
    cr_assert_eq(store_commit(C, &e), MD_OK, "%s", e.msg);
}

Test(test_pg_feed, a_stopped_server_fails_fast_and_the_store_recovers)
{
    struct md_error e = {0};
    struct store_conn *c2 = NULL;
    struct store_row got;
    bool exists = true;
    int64_t t0, ms;

    if (!getenv("MANDATE_TEST_PG_CTL") || !getenv("MANDATE_TEST_PG_CTL")[0])
        cr_skip_test("MANDATE_TEST_PG_CTL is not set: cannot stop and start the server");
    /* Wait for every other test on this server to finish, and keep new ones out. */
    cr_assert_eq(flock(lock_fd, LOCK_EX), 0);
    cr_assert_eq(store_watch(S, on_change, &HA, &e), MD_OK);
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);

    /* A transaction under way when the server goes cannot commit. */
    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(put_user("u2", "bob", NULL, NULL, true, 1, "{}"), MD_OK);
    server_ctl("stop");
    t0 = time_mono_ms();
    cr_assert_eq(put_user("u3", "carol", NULL, NULL, true, 1, "{}"), MD_ERR_UNAVAILABLE);
    cr_assert_eq(store_commit(C, &e), MD_ERR_UNAVAILABLE);
    cr_assert_not(S->ops->in_tx(C));
    cr_assert_eq(store_res_get(C, STORE_USERS, "u1", &got, &e), MD_ERR_UNAVAILABLE);
    cr_assert_str_eq(e.msg, "the database is unavailable");
    cr_assert_eq(store_begin(C, &e), MD_ERR_UNAVAILABLE);
    cr_assert_eq(store_acquire(S, &c2, &e), MD_ERR_UNAVAILABLE, "no new connection either");
    ms = time_mono_ms() - t0;
    cr_assert_lt(ms, 3000, "failures took %lld ms", (long long)ms);
    note("with the server down, five operations failed in %lld ms", (long long)ms);

    heard_reset(&HA);
    server_ctl("start");
    t0 = time_mono_ms();
    cr_assert_eq(store_res_get(C, STORE_USERS, "u1", &got, &e), MD_OK, "%s", e.msg);
    store_row_free(&got);
    cr_assert_eq(store_res_exists(C, STORE_USERS, "u2", &exists, &e), MD_OK);
    cr_assert_not(exists, "the unacknowledged write was not saved");
    cr_assert_eq(put_user("u3", "carol", NULL, NULL, true, 1, "{}"), MD_OK);
    ms = wait_heard(&HA, "0:\n", t0, 3000);
    cr_assert_geq(ms, 0, "the listener reconnected and told everything");

    /* A server restarted while connections sat idle: their next use just works. */
    server_ctl("stop");
    server_ctl("start");
    cr_assert_eq(store_res_exists(C, STORE_USERS, "u3", &exists, &e), MD_OK, "%s", e.msg);
    cr_assert(exists);
    cr_assert_eq(put_user("u4", "dave", NULL, NULL, true, 1, "{}"), MD_OK, "a write too");
}
