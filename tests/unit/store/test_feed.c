#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static char dir[64];
static struct store *st;
static struct store_conn *C;

/* What the subscriber heard, as "kind:id" lines. */
static char heard[64 * 1024];
static int calls;

static void on_change(void *ctx, const struct store_change *ch)
{
    size_t n = strlen(heard);
    (void)ctx;
    calls++;
    snprintf(heard + n, sizeof heard - n, "%d:%s\n", (int)ch->kind, ch->id);
}

static void setup(void)
{
    char path[128];
    struct md_error e;
    snprintf(dir, sizeof dir, "/tmp/mandate-feed-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f.db", dir);
    cr_assert_eq(store_open(path, 2, &st, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_watch(st, on_change, NULL, &e), MD_OK);
    cr_assert_eq(store_acquire(st, &C, &e), MD_OK);
    heard[0] = '\0';
    calls = 0;
}

static void teardown(void)
{
    char cmd[160];
    store_release(C);
    store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(test_feed, .init = setup, .fini = teardown);

static struct store_row row(const char *id, const char *name)
{
    struct store_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    r.doc = (char *)(uintptr_t) "{}";
    r.user_name = (char *)(uintptr_t)name;
    r.display_name = (char *)(uintptr_t)name;
    r.active = true;
    return r;
}

Test(test_feed, subscribers_hear_committed_changes_only)
{
    struct md_error e;
    struct store_row u = row("u1", "ann"), g = row("g1", "sales");
    bool added;
    uint64_t epoch = store_change_epoch(st);

    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(store_res_insert(C, STORE_USERS, &u, &e), MD_OK);
    cr_assert_eq(store_res_insert(C, STORE_GROUPS, &g, &e), MD_OK);
    cr_assert_eq(store_member_add(C, "g1", "u1", STORE_MEMBER_USER, NULL, &added, &e), MD_OK);
    cr_assert_eq(calls, 0, "nothing is told before the commit");
    cr_assert_eq(store_commit(C, &e), MD_OK);
    cr_assert_str_eq(heard, "1:u1\n2:g1\n3:g1\n");
    cr_assert_gt(store_change_epoch(st), epoch);

    heard[0] = '\0';
    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(store_res_delete(C, STORE_USERS, "u1", &e), MD_OK);
    store_rollback(C);
    cr_assert_str_eq(heard, "", "a rolled-back change is never told");
}

Test(test_feed, a_change_outside_a_transaction_is_told_too)
{
    struct md_error e;
    struct store_row g = row("g2", "eng");
    bool removed;

    cr_assert_eq(store_res_insert(C, STORE_GROUPS, &g, &e), MD_OK);
    cr_assert_str_eq(heard, "2:g2\n");
    heard[0] = '\0';
    cr_assert_eq(store_member_remove(C, "g2", "nobody", &removed, &e), MD_OK);
    cr_assert_not(removed);
    cr_assert_str_eq(heard, "", "removing a non-member changes nothing");
    cr_assert_eq(store_member_clear(C, "g2", &e), MD_OK);
    cr_assert_str_eq(heard, "3:g2\n");
}

Test(test_feed, a_large_transaction_is_told_as_everything)
{
    struct md_error e;
    char id[16];
    cr_assert_eq(store_begin(C, &e), MD_OK);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "u%d", i);
        struct store_row u = row(id, id);
        cr_assert_eq(store_res_insert(C, STORE_USERS, &u, &e), MD_OK, "%s", e.msg);
    }
    cr_assert_eq(store_commit(C, &e), MD_OK);
    cr_assert_eq(calls, 1);
    cr_assert_str_eq(heard, "0:\n");
}
