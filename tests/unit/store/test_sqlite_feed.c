/*
 * The SQLite change feed across processes (sqlite_feed.c): two struct store on one file stand
 * for two processes, each with its own poller. A commit on one is told to its own subscribers
 * at once, and to the other's as "everything changed" within two poll periods; a process never
 * takes its own commits for another's.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"
#include "store/store.h"

struct rec {
    atomic_int all;
    atomic_int object;
};

static void on_change(void *ctx, const struct store_change *ch)
{
    struct rec *r = ctx;
    if (ch->kind == STORE_CHANGE_ALL)
        atomic_fetch_add(&r->all, 1);
    else if (ch->kind == STORE_CHANGE_OBJECT)
        atomic_fetch_add(&r->object, 1);
}

static char dir[64], url[128];
static struct store *a, *b;
static struct rec ra, rb;

static void setup(void)
{
    struct md_error e = {0};

    snprintf(dir, sizeof dir, "/tmp/mandate-sqfeed-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:%s/feed.db", dir);
    atomic_init(&ra.all, 0);
    atomic_init(&ra.object, 0);
    atomic_init(&rb.all, 0);
    atomic_init(&rb.object, 0);
    cr_assert_eq(store_open(url, 2, &a, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_open(url, 2, &b, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_watch(a, on_change, &ra, &e), MD_OK);
    cr_assert_eq(store_watch(b, on_change, &rb, &e), MD_OK);
}

static void teardown(void)
{
    char cmd[160];
    store_close(a);
    store_close(b);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void put(struct store *s, const char *id)
{
    struct store_conn *c = NULL;
    struct md_error e = {0};

    cr_assert_eq(store_acquire(s, &c, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_obj_put(c, STORE_OBJ_PACK, id, "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    store_release(c);
}

/* Waits up to ms for *v to reach at least want; returns the time it took, or -1. */
static int64_t wait_for(atomic_int *v, int want, int64_t ms)
{
    int64_t t0 = time_mono_ms();
    while (atomic_load(v) < want) {
        if (time_mono_ms() - t0 > ms)
            return -1;
        usleep(5000);
    }
    return time_mono_ms() - t0;
}

Test(test_sqlite_feed, another_process_hears_of_a_commit, .init = setup, .fini = teardown)
{
    int64_t took;

    put(a, "p1");
    /* The committing process's subscribers hear the change itself, before the call returns. */
    cr_assert_eq(atomic_load(&ra.object), 1);
    took = wait_for(&rb.all, 1, 2000);
    cr_assert(took >= 0, "the other process never heard of the commit");
    cr_assert(took <= 600, "the other process heard of the commit after %lld ms", (long long)took);
    cr_assert_eq(atomic_load(&rb.object), 0, "across processes it hears 'everything', not what");
    /* And the other way round. */
    put(b, "p2");
    cr_assert(wait_for(&ra.all, 1, 2000) >= 0, "the first process never heard of the second");
}

Test(test_sqlite_feed, own_commits_are_not_taken_for_another_process, .init = setup,
     .fini = teardown)
{
    char id[32];

    /* Commits spread over several poll periods, some landing while a poll runs. */
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "own%d", i);
        put(a, id);
        usleep(15000);
    }
    usleep(600000);
    cr_assert_eq(atomic_load(&ra.object), 60);
    cr_assert_eq(atomic_load(&ra.all), 0, "own commits were taken for another process's");
    cr_assert(atomic_load(&rb.all) >= 1, "the other process heard nothing");
}
