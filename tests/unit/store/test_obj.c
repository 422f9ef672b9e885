/*
 * The access objects of store.h (store_obj_*) and what came with them (migration 2 of both
 * backends): each case runs twice, on SQLite (a file in a fresh temporary directory, tests
 * named sqlite_*) and on PostgreSQL (a fresh database, pg_fixture.h, tests named pg_*, which
 * fail without MANDATE_TEST_PG unless MANDATE_SKIP_PG=1 skips them, as test_pg.c's do).
 * Cases: put's three modes and versions, copy, get, delete, list order and stop, the four
 * tables, documents kept as written; the change feed's object, user and nesting changes;
 * tokens bound to a user and a pack; an upgrade from migration 1; query plans. On PostgreSQL
 * only: a second node hears the new change kinds through the feed.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"
#include "pg_fixture.h"
#include "store/store.h"
#include "store/store_int.h"

TestSuite(test_obj);

/* ---- the two backends ---- */

static bool on_pg;
static char sq_dir[64];

static void sq_setup(void)
{
    on_pg = false;
    snprintf(sq_dir, sizeof sq_dir, "/tmp/mandate-obj-XXXXXX");
    cr_assert_not_null(mkdtemp(sq_dir));
    snprintf(url, sizeof url, "%s/obj.db", sq_dir);
    open_store(4);
}

static void sq_teardown(void)
{
    char f[1100];

    close_store();
    snprintf(f, sizeof f, "%s-wal", url);
    unlink(f);
    snprintf(f, sizeof f, "%s-shm", url);
    unlink(f);
    unlink(url);
    rmdir(sq_dir);
}

static void pg_setup(void)
{
    on_pg = true;
    setup();
}

/* Runs SQL on the test database behind the store's back; the first value, or "" (heap). */
static char *raw(const char *sql)
{
    return on_pg ? sql_db(sql) : sql_sqlite(url, sql);
}

static void raw_eq(const char *sql, const char *want)
{
    char *v = raw(sql);

    cr_assert_str_eq(v, want, "%s", sql);
    free(v);
}

/* Each case as two tests, one per backend. */
#define BOTH(name)                                                                                 \
    Test(test_obj, sqlite_##name, .init = sq_setup, .fini = sq_teardown)                           \
    {                                                                                              \
        case_##name();                                                                             \
    }                                                                                              \
    Test(test_obj, pg_##name, .init = pg_setup, .fini = teardown)                                  \
    {                                                                                              \
        case_##name();                                                                             \
    }

/* ---- helpers ---- */

static enum md_err put(enum store_obj_kind k, const char *id, const char *doc, int64_t expect,
                       int64_t *v, struct md_error *e)
{
    return store_obj_put(C, k, id, doc, expect, v, e);
}

static struct store_obj get_ok(enum store_obj_kind k, const char *id)
{
    struct md_error e = {0};
    struct store_obj o;

    cr_assert_eq(store_obj_get(C, k, id, &o, &e), MD_OK, "%s/%s: %s", store_obj_kind_name(k), id,
                 e.msg);
    return o;
}

static void copy_ok(enum store_obj_kind k, const char *id, const char *doc, int64_t version,
                    int64_t created, int64_t modified)
{
    struct md_error e = {0};
    struct store_obj o = {.version = version, .created_ms = created, .modified_ms = modified};

    snprintf(o.id, sizeof o.id, "%s", id);
    o.doc = strdup(doc);
    cr_assert_eq(store_obj_copy(C, k, &o, &e), MD_OK, "%s: %s", id, e.msg);
    store_obj_free(&o);
}

/* What store_obj_list gave: "id@version," for each object, up to stop_after of them. */
struct walk {
    char ids[1024];
    int calls;
    int stop_after; /* 0: never stop */
    bool reenter;   /* get each object again on the same connection from inside the walk */
};

static int on_obj(void *ctx, const struct store_obj *o)
{
    struct walk *w = ctx;
    size_t n = strlen(w->ids);

    cr_assert_not_null(o->doc);
    snprintf(w->ids + n, sizeof w->ids - n, "%s@%lld,", o->id, (long long)o->version);
    w->calls++;
    if (w->reenter) {
        struct store_obj again = get_ok(STORE_OBJ_GRANT, o->id);
        cr_assert_str_eq(again.doc, o->doc);
        store_obj_free(&again);
    }
    return w->stop_after > 0 && w->calls >= w->stop_after;
}

static void walk(enum store_obj_kind k, struct walk *w)
{
    struct md_error e = {0};

    w->ids[0] = '\0';
    w->calls = 0;
    cr_assert_eq(store_obj_list(C, k, on_obj, w, &e), MD_OK, "%s", e.msg);
}

/* A subscriber's log, "kind:id" lines; STORE_CHANGE_ALL (a listener's fallback) only counted. */
struct heard {
    pthread_mutex_t mu;
    char log[8192];
    int alls;
};

static struct heard HA = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct heard HB = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_change(void *ctx, const struct store_change *ch)
{
    struct heard *h = ctx;
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = strlen(h->log);
    if (ch->kind == STORE_CHANGE_ALL)
        h->alls++;
    else
        snprintf(h->log + n, sizeof h->log - n, "%d:%s\n", (int)ch->kind, ch->id);
    pthread_mutex_unlock(&h->mu);
}

static void heard_reset(struct heard *h)
{
    pthread_mutex_lock(&h->mu);
    h->log[0] = '\0';
    h->alls = 0;
    pthread_mutex_unlock(&h->mu);
}

static void heard_eq(struct heard *h, const char *want, const char *why)
{
    pthread_mutex_lock(&h->mu);
    cr_assert_str_eq(h->log, want, "%s: heard\n%s", why, h->log);
    h->log[0] = '\0';
    pthread_mutex_unlock(&h->mu);
}

/* Waits (at most 2 s) until h's log holds want; false when it never did. */
static bool heard_wait(struct heard *h, const char *want)
{
    int64_t t0 = time_mono_ms();
    bool has = false;

    while (!has && time_mono_ms() - t0 < 2000) {
        pthread_mutex_lock(&h->mu);
        has = strstr(h->log, want) != NULL;
        pthread_mutex_unlock(&h->mu);
        if (!has)
            usleep(2000);
    }
    return has;
}

static void add_group(const char *id, const char *name)
{
    struct md_error e = {0};
    struct store_row g = {0};

    snprintf(g.id, sizeof g.id, "%s", id);
    g.display_name = strdup(name);
    g.doc = strdup("{}");
    cr_assert_eq(store_res_insert(C, STORE_GROUPS, &g, &e), MD_OK, "%s", e.msg);
    store_row_free(&g);
}

static void member_add(const char *g, const char *m, enum store_member_type t)
{
    struct md_error e = {0};
    bool added = false;

    cr_assert_eq(store_member_add(C, g, m, t, NULL, &added, &e), MD_OK, "%s", e.msg);
    cr_assert(added);
}

static void member_remove(const char *g, const char *m)
{
    struct md_error e = {0};
    bool removed = false;

    cr_assert_eq(store_member_remove(C, g, m, &removed, &e), MD_OK, "%s", e.msg);
    cr_assert(removed);
}

/* ---- put, get, delete ---- */

static void case_put_modes_and_versions(void)
{
    /* Key order and spacing as written: the document is text in both backends. */
    const char *d1 = "{\"z\": 1, \"a\": [true, null], \"m\": {\"y\": \"\\u00e9\"}}";
    const char *d2 = "{\"b\":2,\"a\":1}";
    struct md_error e = {0};
    struct store_obj o;
    int64_t v = -1, created;

    /* -1 inserts a new row at version 1, with both times now. */
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d1, -1, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 1);
    o = get_ok(STORE_OBJ_PACK, "p1");
    cr_assert_str_eq(o.id, "p1");
    cr_assert_str_eq(o.doc, d1);
    cr_assert_eq(o.version, 1);
    cr_assert_gt(o.created_ms, 1600000000000LL);
    cr_assert_eq(o.modified_ms, o.created_ms);
    created = o.created_ms;
    store_obj_free(&o);
    cr_assert_null(o.doc, "store_obj_free clears the document");

    /* -1 replaces: the version goes up, created stays, modified moves. */
    usleep(5000);
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d2, -1, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 2);
    o = get_ok(STORE_OBJ_PACK, "p1");
    cr_assert_str_eq(o.doc, d2);
    cr_assert_eq(o.version, 2);
    cr_assert_eq(o.created_ms, created);
    cr_assert_gt(o.modified_ms, created);
    store_obj_free(&o);

    /* 0 only inserts. */
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d1, 0, &v, &e), MD_ERR_UNIQUENESS);
    cr_assert_eq(v, 0);
    cr_assert(strstr(e.msg, "packs") != NULL, "%s", e.msg);
    cr_assert_eq(put(STORE_OBJ_PACK, "p2", d1, 0, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 1);

    /* > 0 only replaces that version. */
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d1, 2, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 3);
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d2, 2, &v, &e), MD_ERR_PRECONDITION);
    cr_assert(strstr(e.msg, "version 3") != NULL, "%s", e.msg);
    cr_assert_eq(put(STORE_OBJ_PACK, "nope", d2, 1, &v, &e), MD_ERR_NOTFOUND);
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d2, 3, NULL, &e), MD_OK, "%s", e.msg);
    o = get_ok(STORE_OBJ_PACK, "p1");
    cr_assert_str_eq(o.doc, d2);
    cr_assert_eq(o.version, 4);
    cr_assert_eq(o.created_ms, created);
    store_obj_free(&o);
    /* The refused writes changed nothing. */
    o = get_ok(STORE_OBJ_PACK, "p2");
    cr_assert_eq(o.version, 1);
    store_obj_free(&o);
    cr_assert_eq(store_obj_get(C, STORE_OBJ_PACK, "nope", &o, &e), MD_ERR_NOTFOUND);

    /* In a transaction too, and a rollback undoes it. */
    cr_assert_eq(store_begin(C, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d1, 4, &v, &e), MD_OK, "%s", e.msg);
    o = get_ok(STORE_OBJ_PACK, "p1");
    cr_assert_eq(o.version, 5);
    store_obj_free(&o);
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", d1, 4, &v, &e), MD_ERR_PRECONDITION);
    store_rollback(C);
    o = get_ok(STORE_OBJ_PACK, "p1");
    cr_assert_eq(o.version, 4);
    store_obj_free(&o);
}
BOTH(put_modes_and_versions)

static void case_documents_must_be_json(void)
{
    struct md_error e = {0};
    int64_t v;

    cr_assert_eq(put(STORE_OBJ_CONNECTOR, "c1", "{\"a\":", -1, &v, &e), MD_ERR_VALUE);
    cr_assert_eq(put(STORE_OBJ_CONNECTOR, "c1", "not json", 0, &v, &e), MD_ERR_VALUE);
    cr_assert_eq(put(STORE_OBJ_CONNECTOR, "c1", "", -1, &v, &e), MD_ERR_VALUE);
    cr_assert_eq(put(STORE_OBJ_CONNECTOR, "c1", "[1,2]", -1, &v, &e), MD_OK, "%s", e.msg);
    /* A string with U+0000 is JSON, which jsonb would refuse. */
    cr_assert_eq(put(STORE_OBJ_CONNECTOR, "c2", "{\"s\":\"a\\u0000b\"}", -1, &v, &e), MD_OK, "%s",
                 e.msg);
    raw_eq("SELECT count(*) FROM connectors", "2");
}
BOTH(documents_must_be_json)

static void case_each_kind_has_its_table(void)
{
    static const char *const tables[] = {"connectors", "connector_overrides", "packs", "grants",
                                         "credentials"};
    struct md_error e = {0};
    struct store_obj o;
    char doc[64], sql[128];
    int k;

    for (k = 0; k < STORE_OBJ__COUNT; k++) {
        cr_assert_str_eq(store_obj_kind_name((enum store_obj_kind)k), tables[k]);
        snprintf(doc, sizeof doc, "{\"kind\":%d}", k);
        cr_assert_eq(put((enum store_obj_kind)k, "same", doc, 0, NULL, &e), MD_OK, "%s", e.msg);
    }
    for (k = 0; k < STORE_OBJ__COUNT; k++) {
        snprintf(doc, sizeof doc, "{\"kind\":%d}", k);
        o = get_ok((enum store_obj_kind)k, "same");
        cr_assert_str_eq(o.doc, doc);
        store_obj_free(&o);
        snprintf(sql, sizeof sql, "SELECT doc FROM %s WHERE id = 'same'", tables[k]);
        raw_eq(sql, doc);
    }
    /* Deleting from one table leaves the others alone. */
    cr_assert_eq(store_obj_delete(C, STORE_OBJ_PACK, "same", &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_obj_get(C, STORE_OBJ_PACK, "same", &o, &e), MD_ERR_NOTFOUND);
    cr_assert_eq(store_obj_delete(C, STORE_OBJ_PACK, "same", &e), MD_ERR_NOTFOUND);
    cr_assert(strstr(e.msg, "packs") != NULL, "%s", e.msg);
    o = get_ok(STORE_OBJ_GRANT, "same");
    store_obj_free(&o);
    o = get_ok(STORE_OBJ_OVERRIDE, "same");
    store_obj_free(&o);
    raw_eq("SELECT count(*) FROM packs", "0");
    raw_eq("SELECT count(*) FROM connectors", "1");
    /* An id too long to exist is not found; a kind out of range is refused. */
    cr_assert_eq(store_obj_get(C, STORE_OBJ_GRANT,
                               "0123456789012345678901234567890123456789012345678901234567890123",
                               &o, &e),
                 MD_ERR_NOTFOUND);
    cr_assert_neq(store_obj_get(C, STORE_OBJ__COUNT, "same", &o, &e), MD_OK);
}
BOTH(each_kind_has_its_table)

/* ---- copy and list ---- */

static void case_copy_keeps_version_and_times(void)
{
    struct md_error e = {0};
    struct store_obj o;
    int64_t v;

    copy_ok(STORE_OBJ_GRANT, "g-1", "{\"who\":\"u1\"}", 7, 1000, 2000);
    o = get_ok(STORE_OBJ_GRANT, "g-1");
    cr_assert_str_eq(o.doc, "{\"who\":\"u1\"}");
    cr_assert_eq(o.version, 7);
    cr_assert_eq(o.created_ms, 1000);
    cr_assert_eq(o.modified_ms, 2000);
    store_obj_free(&o);
    /* A copy never overwrites. */
    o = (struct store_obj){.id = "g-1", .version = 1, .created_ms = 5, .modified_ms = 5};
    o.doc = strdup("{}");
    cr_assert_eq(store_obj_copy(C, STORE_OBJ_GRANT, &o, &e), MD_ERR_UNIQUENESS);
    store_obj_free(&o);
    /* A later put goes on from the copied version and keeps the copied creation time. */
    cr_assert_eq(put(STORE_OBJ_GRANT, "g-1", "{}", 7, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 8);
    o = get_ok(STORE_OBJ_GRANT, "g-1");
    cr_assert_eq(o.created_ms, 1000);
    cr_assert_gt(o.modified_ms, 2000);
    store_obj_free(&o);
}
BOTH(copy_keeps_version_and_times)

static void case_list_order_and_stop(void)
{
    struct md_error e = {0};
    struct walk w = {0};

    walk(STORE_OBJ_GRANT, &w);
    cr_assert_eq(w.calls, 0, "an empty table");
    /* By creation time, then by id (byte order: "Z" before "b"). */
    copy_ok(STORE_OBJ_GRANT, "a", "{}", 1, 300, 300);
    copy_ok(STORE_OBJ_GRANT, "z", "{}", 2, 100, 100);
    copy_ok(STORE_OBJ_GRANT, "b", "{}", 3, 100, 100);
    copy_ok(STORE_OBJ_GRANT, "Z", "{}", 4, 100, 100);
    copy_ok(STORE_OBJ_GRANT, "m", "{}", 5, 200, 900);
    copy_ok(STORE_OBJ_PACK, "other", "{}", 1, 1, 1);
    walk(STORE_OBJ_GRANT, &w);
    cr_assert_str_eq(w.ids, "Z@4,b@3,z@2,m@5,a@1,");
    w.stop_after = 2;
    walk(STORE_OBJ_GRANT, &w);
    cr_assert_str_eq(w.ids, "Z@4,b@3,", "a non-zero return stops the walk");
    /* The walk's callback may use the store on the same connection, in a transaction too. */
    w.stop_after = 0;
    w.reenter = true;
    walk(STORE_OBJ_GRANT, &w);
    cr_assert_eq(w.calls, 5);
    cr_assert_eq(store_begin(C, &e), MD_OK, "%s", e.msg);
    walk(STORE_OBJ_GRANT, &w);
    cr_assert_eq(w.calls, 5);
    store_rollback(C);
    /* A put keeps the place in the list (creation time is kept). */
    cr_assert_eq(put(STORE_OBJ_GRANT, "z", "{\"x\":1}", -1, NULL, &e), MD_OK, "%s", e.msg);
    w.reenter = false;
    walk(STORE_OBJ_GRANT, &w);
    cr_assert_str_eq(w.ids, "Z@4,b@3,z@3,m@5,a@1,");
}
BOTH(list_order_and_stop)

/* ---- the change feed ---- */

static void case_objects_are_announced(void)
{
    struct md_error e = {0};

    cr_assert_eq(store_watch(S, on_change, &HA, &e), MD_OK);
    heard_reset(&HA);
    cr_assert_eq(put(STORE_OBJ_PACK, "p1", "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "6:packs/p1\n", "a put");
    cr_assert_eq(put(STORE_OBJ_OVERRIDE, "github", "{}", 0, NULL, &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "6:connector_overrides/github\n", "an insert");
    copy_ok(STORE_OBJ_CONNECTOR, "jira", "{}", 3, 10, 10);
    heard_eq(&HA, "6:connectors/jira\n", "a copy");
    cr_assert_eq(store_obj_delete(C, STORE_OBJ_PACK, "p1", &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "6:packs/p1\n", "a delete");

    /* Failed writes, reads and rolled-back writes are not changes. */
    cr_assert_eq(store_obj_delete(C, STORE_OBJ_PACK, "p1", &e), MD_ERR_NOTFOUND);
    cr_assert_eq(put(STORE_OBJ_OVERRIDE, "github", "{}", 7, NULL, &e), MD_ERR_PRECONDITION);
    cr_assert_eq(put(STORE_OBJ_OVERRIDE, "github", "{}", 0, NULL, &e), MD_ERR_UNIQUENESS);
    cr_assert_eq(put(STORE_OBJ_GRANT, "x", "{", -1, NULL, &e), MD_ERR_VALUE);
    cr_assert_eq(store_begin(C, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(put(STORE_OBJ_GRANT, "x", "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    store_rollback(C);
    heard_eq(&HA, "", "nothing changed");

    /* A transaction's changes are told at its commit, once each. */
    cr_assert_eq(store_begin(C, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(put(STORE_OBJ_GRANT, "x", "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(put(STORE_OBJ_GRANT, "x", "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(put(STORE_OBJ_PACK, "x", "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "", "nothing before the commit");
    cr_assert_eq(store_commit(C, &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "6:grants/x\n6:packs/x\n", "the commit");
}
BOTH(objects_are_announced)

/*
 * A membership change names the group (3, members) and the member whose groups changed: a
 * user (1) or a group (5, nesting). The member's type comes from the backend when a member is
 * removed (member_remove's new out-parameter).
 */
static void case_membership_names_the_member(void)
{
    struct md_error e = {0};
    bool removed = true;

    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    add_group("g1", "One");
    add_group("g2", "Two");
    cr_assert_eq(store_watch(S, on_change, &HA, &e), MD_OK);
    heard_reset(&HA);

    member_add("g1", "u1", STORE_MEMBER_USER);
    heard_eq(&HA, "3:g1\n1:u1\n", "a user added");
    member_add("g1", "g2", STORE_MEMBER_GROUP);
    heard_eq(&HA, "3:g1\n5:g2\n", "a group added");
    member_remove("g1", "g2");
    heard_eq(&HA, "3:g1\n5:g2\n", "a group removed");
    member_remove("g1", "u1");
    heard_eq(&HA, "3:g1\n1:u1\n", "a user removed");
    cr_assert_eq(store_member_remove(C, "g1", "u1", &removed, &e), MD_OK, "%s", e.msg);
    cr_assert_not(removed);
    heard_eq(&HA, "", "nothing removed");

    member_add("g1", "g2", STORE_MEMBER_GROUP);
    member_add("g1", "u1", STORE_MEMBER_USER);
    heard_reset(&HA);
    cr_assert_eq(store_member_clear(C, "g1", &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "5:g2\n1:u1\n3:g1\n", "a group cleared");

    member_add("g1", "u1", STORE_MEMBER_USER);
    member_add("g1", "g2", STORE_MEMBER_GROUP);
    member_add("g2", "u1", STORE_MEMBER_USER);
    heard_reset(&HA);
    cr_assert_eq(store_res_delete(C, STORE_GROUPS, "g1", &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "1:u1\n5:g2\n2:g1\n", "a group deleted");
    /* A group that is itself a member: deleting it tells its own members only. */
    member_add("g2", "g2", STORE_MEMBER_GROUP);
    heard_reset(&HA);
    cr_assert_eq(store_res_delete(C, STORE_GROUPS, "g2", &e), MD_OK, "%s", e.msg);
    heard_eq(&HA, "1:u1\n5:g2\n2:g2\n", "a nested group deleted");
}
BOTH(membership_names_the_member)

/* ---- tokens ---- */

static void token(struct store_token *t, const char *id, const char *kind, const char *user,
                  const char *pack, char hexc)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    snprintf(t->name, sizeof t->name, "%s token", id);
    snprintf(t->user_id, sizeof t->user_id, "%s", user);
    snprintf(t->pack, sizeof t->pack, "%s", pack);
    memset(t->hash, hexc, 64);
    t->created_ms = 1000 + hexc;
}

static int collect_tokens(void *ctx, const struct store_token *t)
{
    char *out = ctx;
    size_t n = strlen(out);

    snprintf(out + n, 512 - n, "%s:%s:%s:%s,", t->id, t->kind, t->user_id, t->pack);
    return 0;
}

static void case_tokens_keep_user_and_pack(void)
{
    struct md_error e = {0};
    struct store_token t, got;
    char list[512] = "";
    /* The longest values that fit. */
    char long_user[64], long_pack[64];

    memset(long_user, 'u', 63);
    long_user[63] = '\0';
    memset(long_pack, 'p', 63);
    long_pack[63] = '\0';
    token(&t, "t-agent", "agent", "2819c223-7f76-453a-919d-413861904646", "github-readonly", 'a');
    cr_assert_eq(store_token_insert(C, &t, &e), MD_OK, "%s", e.msg);
    token(&t, "t-scim", "scim", "", "", 'b');
    cr_assert_eq(store_token_insert(C, &t, &e), MD_OK, "%s", e.msg);
    token(&t, "t-user", "agent", long_user, "", 'c');
    cr_assert_eq(store_token_insert(C, &t, &e), MD_OK, "%s", e.msg);
    token(&t, "t-long", "agent", long_user, long_pack, 'd');
    cr_assert_eq(store_token_insert(C, &t, &e), MD_OK, "%s", e.msg);

    memset(t.hash, 'a', 64);
    cr_assert_eq(store_token_find(C, t.hash, &got, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(got.id, "t-agent");
    cr_assert_str_eq(got.user_id, "2819c223-7f76-453a-919d-413861904646");
    cr_assert_str_eq(got.pack, "github-readonly");
    cr_assert_str_eq(got.kind, "agent");
    memset(t.hash, 'b', 64);
    cr_assert_eq(store_token_find(C, t.hash, &got, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(got.user_id, "");
    cr_assert_str_eq(got.pack, "");
    memset(t.hash, 'd', 64);
    cr_assert_eq(store_token_find(C, t.hash, &got, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(got.user_id, long_user);
    cr_assert_str_eq(got.pack, long_pack);

    cr_assert_eq(store_token_list(C, collect_tokens, list, &e), MD_OK, "%s", e.msg);
    cr_assert(strstr(list, "t-agent:agent:2819c223-7f76-453a-919d-413861904646:github-readonly,"
                           "t-scim:scim::,") == list,
              "%s", list);
    cr_assert(strstr(list, ",t-user:agent:uuu") != NULL, "%s", list);
    /* Unbound is stored as NULL, as a token of migration 1 has it. */
    raw_eq("SELECT count(*) FROM tokens WHERE user_id IS NULL", "1");
    raw_eq("SELECT count(*) FROM tokens WHERE pack IS NULL", "2");
}
BOTH(tokens_keep_user_and_pack)

/* ---- migration 2 over a database of migration 1 ---- */

static void case_a_database_of_migration_1_is_upgraded(void)
{
    struct md_error e = {0};
    struct store_token got;
    struct store_obj o;
    char hash[65];

    /* SQLite has a migration 3 (the feed counter), PostgreSQL has not; both then add the
     * credentials table (SQLite 4, PostgreSQL 3) and the audit log's tables (5, 4). */
    const char *all = on_pg ? "4" : "5";
    char both[8];

    snprintf(both, sizeof both, "%s,%s", all, all);
    close_store();
    /* Back to migration 1: what the later migrations add goes, an old token comes. */
    free(raw("DROP TABLE connectors; DROP TABLE connector_overrides; DROP TABLE packs; "
             "DROP TABLE grants; DROP TABLE IF EXISTS feed_counter; DROP TABLE credentials; "
             "DROP TABLE audit_events; DROP TABLE audit_cursors; "
             "ALTER TABLE tokens DROP COLUMN user_id; "
             "ALTER TABLE tokens DROP COLUMN pack; DELETE FROM schema_version WHERE version >= 2; "
             "INSERT INTO tokens (id, kind, name, hash, created_ms, last_used_ms, revoked) "
             "VALUES ('old', 'scim', 'okta', "
             "'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 5, 0, "
             "false)"));
    raw_eq("SELECT count(*) FROM schema_version", "1");
    open_store(2);
    raw_eq("SELECT count(*) || ',' || max(version) FROM schema_version", both);
    memset(hash, 'e', 64);
    hash[64] = '\0';
    cr_assert_eq(store_token_find(C, hash, &got, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(got.id, "old");
    cr_assert_str_eq(got.user_id, "");
    cr_assert_str_eq(got.pack, "");
    cr_assert_eq(put(STORE_OBJ_CONNECTOR, "c", "{}", 0, NULL, &e), MD_OK, "%s", e.msg);
    o = get_ok(STORE_OBJ_CONNECTOR, "c");
    store_obj_free(&o);
    /* Opening again applies nothing twice. */
    close_store();
    open_store(1);
    raw_eq("SELECT count(*) FROM schema_version", all);
    raw_eq("SELECT count(*) FROM connectors", "1");
}
BOTH(a_database_of_migration_1_is_upgraded)

/* ---- query plans ---- */

static char *plan_of(const char *name)
{
    struct md_error e = {0};
    char *plan = NULL;

    cr_assert_eq(store__explain(C, STORE_USERS, NULL, name, &plan, &e), MD_OK, "%s: %s", name,
                 e.msg);
    return plan;
}

static void expect_plan(const char *name, const char *must)
{
    char *plan = plan_of(name);

    cr_assert(strstr(plan, must) != NULL, "%s: wanted %s in:\n%s", name, must, plan);
    cr_assert(strstr(plan, "Seq Scan") == NULL, "%s scans:\n%s", name, plan);
    free(plan);
}

static void case_statements_use_the_indexes(void)
{
    int k;

    if (on_pg)
        free(raw("INSERT INTO packs (id, doc, version, created_ms, modified_ms) "
                 "SELECT 'p' || i, '{}', 1, i, i FROM generate_series(1, 3000) AS i; "
                 "INSERT INTO grants (id, doc, version, created_ms, modified_ms) "
                 "SELECT 'g' || i, '{}', 1, i, i FROM generate_series(1, 3000) AS i; ANALYZE"));
    expect_plan("pack_get", on_pg ? "packs_pkey" : "sqlite_autoindex_packs_1");
    expect_plan("grant_update", on_pg ? "grants_pkey" : "sqlite_autoindex_grants_1");
    expect_plan("pack_list", "packs_created");
    /* Every statement of every kind exists and prepares. */
    for (k = 0; k < STORE_OBJ__COUNT; k++) {
        static const char *const pre[] = {"connector_", "override_", "pack_", "grant_",
                                          "credential_"};
        static const char *const ops[] = {"insert", "upsert", "update", "version",
                                          "get",    "delete", "list"};
        char name[32];

        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            snprintf(name, sizeof name, "%s%s", pre[k], ops[i]);
            free(plan_of(name));
        }
    }
}
BOTH(statements_use_the_indexes)

/* ---- PostgreSQL: another node hears the new kinds ---- */

Test(test_obj, pg_another_node_hears_objects_and_nesting, .init = pg_setup, .fini = teardown)
{
    struct md_error e = {0};
    struct store *b = NULL;
    char id[64], line[256];

    cr_assert_eq(store_open(url, 2, &b, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_watch(b, on_change, &HB, &e), MD_OK);
    cr_assert_eq(store_watch(S, on_change, &HA, &e), MD_OK);
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    add_group("g1", "One");
    add_group("g2", "Two");
    cr_assert(heard_wait(&HB, "2:g2\n"), "B heard: %s", HB.log);
    heard_reset(&HA);
    heard_reset(&HB);

    cr_assert_eq(put(STORE_OBJ_PACK, "p1", "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    cr_assert(heard_wait(&HB, "6:packs/p1\n"), "B heard: %s", HB.log);
    /* The longest change id: an override's table and a 63-byte id, with escaped bytes. */
    memset(id, 'o', 63);
    id[63] = '\0';
    memcpy(id + 10, "a b%c", 5);
    cr_assert_eq(put(STORE_OBJ_OVERRIDE, id, "{}", -1, NULL, &e), MD_OK, "%s", e.msg);
    snprintf(line, sizeof line, "6:connector_overrides/%s\n", id);
    cr_assert_eq(strlen(line), 2 + 20 + 63 + 1);
    cr_assert(heard_wait(&HB, line), "B heard: %s", HB.log);

    member_add("g1", "g2", STORE_MEMBER_GROUP);
    cr_assert(heard_wait(&HB, "3:g1\n5:g2\n"), "B heard: %s", HB.log);
    member_remove("g1", "g2");
    member_add("g1", "u1", STORE_MEMBER_USER);
    cr_assert(heard_wait(&HB, "3:g1\n5:g2\n3:g1\n1:u1\n"), "B heard: %s", HB.log);
    cr_assert_eq(store_obj_delete(C, STORE_OBJ_PACK, "p1", &e), MD_OK, "%s", e.msg);
    cr_assert(heard_wait(&HB, "1:u1\n6:packs/p1\n"), "B heard: %s", HB.log);

    /* A heard its own changes once, at commit, and not again from its listener. */
    usleep(700 * 1000);
    snprintf(line, sizeof line,
             "6:packs/p1\n6:connector_overrides/%s\n3:g1\n5:g2\n3:g1\n5:g2\n3:g1\n1:u1\n"
             "6:packs/p1\n",
             id);
    heard_eq(&HA, line, "A's own changes");
    heard_eq(&HB, line, "B heard the same, in order");
    cr_assert_eq(HB.alls, 0, "no fallback was needed");
    store_close(b);
}
