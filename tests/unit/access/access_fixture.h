/*
 * Shared fixture of the access module's tests (test_decide.c, test_catalog.c, test_grants.c,
 * test_policy.c): a fresh SQLite store in a temporary directory, an access service over it, a
 * directory written with the store API directly (so that the change feed reports it as SCIM
 * would), and a small catalog of two connectors.
 *
 * Every helper asserts success, so a test reads as the story it tells. The helpers are static
 * inline because each test file includes this header and uses only some of them: a file that
 * does not use one must not warn.
 *
 * The standard world (fx_world_*), on which the decision tables run:
 *
 *   connectors  pay:  refund (destructive), charges (read), note (write)
 *               code: read_file (read), write_file (write), delete_repo (destructive)
 *   groups      g-fin "Finance" > g-finapp "Finance Approved" (g-finapp is a member of g-fin)
 *               g-eng "Engineering"; g-cya "Cycle A" and g-cyb "Cycle B", each in the other;
 *               g-cur "Currency"; g-sub "Sub" (in nothing, for nesting changes)
 *   users       alice (g-finapp), alice2 (g-finapp), bob (g-eng), carol (g-eng, inactive),
 *               erin (none), frank (g-cya), gina (none), hank (g-cur), ivan (g-sub)
 *   packs       payread  [pay__* read]
 *               finance  [pay__refund destructive]
 *               notes    [pay__note read, pay__note write]      (two entries: the highest wins)
 *               code     [code__* write]
 *   grants      G1  group g-fin    pack payread
 *               G2  group g-finapp pack finance   condition pay__refund: amount le 50000
 *               G3  group g-eng    pack code      grant ceiling read
 *               G4  group g-cyb    tool code__write_file
 *               G5  everyone       tool code__read_file
 *               G6  user erin      pack notes
 *               G7  user erin      tool pay__refund   expired (written to the store directly)
 *               G8  user erin      tool pay__charges  a condition that does not parse (directly)
 *               G9  group g-cur    tool pay__refund   condition currency eq "usd"
 *               G10 user hank      tool pay__refund   condition amount le 100
 */
#ifndef MANDATE_TESTS_ACCESS_FIXTURE_H
#define MANDATE_TESTS_ACCESS_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access/access.h"
#include "access/access_int.h"
#include "store/store.h"

#define FX_GRANTS_MAX 32

struct fx_grant_id {
    char label[16];
    char id[64];
};

struct fx_state {
    char dir[64];
    char db[128];
    struct store *s;
    struct access *a;
    struct fx_grant_id grants[FX_GRANTS_MAX];
    int ngrants;
};

static struct fx_state fx;

/* ---- lifetime ---- */

/* A fresh store of pool connections at most, and the service over it. */
static inline void fx_open_pool(int pool)
{
    struct md_error e = {0};
    char url[160];

    memset(&fx, 0, sizeof fx);
    snprintf(fx.dir, sizeof fx.dir, "/tmp/mandate-access-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir));
    snprintf(fx.db, sizeof fx.db, "%s/db", fx.dir);
    snprintf(url, sizeof url, "sqlite:%s", fx.db);
    cr_assert_eq(store_open(url, pool, &fx.s, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(access_open(fx.s, &fx.a, &e), MD_OK, "%s", e.msg);
}

static inline void fx_open(void)
{
    fx_open_pool(4);
}

/* Removes every plain file of dir (the database and its -wal, -shm), then dir. */
static inline void fx_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[1024];

    if (!d)
        return;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* access_close before store_close: the store publishes to the service until it is closed. */
static inline void fx_close(void)
{
    access_close(fx.a);
    store_close(fx.s);
    fx.a = NULL;
    fx.s = NULL;
    fx_rmdir(fx.dir);
}

/* ---- JSON ---- */

static inline json_t *fx_json(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    cr_assert_not_null(v, "bad JSON in the test: %s: %s", jerr.text, text);
    return v;
}

/* Whether two JSON values are equal; prints both when not, to make a failure readable. */
static inline bool fx_json_eq(const json_t *a, const json_t *b)
{
    if (json_equal(a, b))
        return true;
    {
        char *ta = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
        char *tb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        cr_log_error("JSON differs:\n  %s\n  %s", ta ? ta : "(null)", tb ? tb : "(null)");
        free(ta);
        free(tb);
    }
    return false;
}

/* ---- the directory, through the store API ---- */

static inline struct store_conn *fx_conn(void)
{
    struct md_error e = {0};
    struct store_conn *c = NULL;

    cr_assert_eq(store_acquire(fx.s, &c, &e), MD_OK, "%s", e.msg);
    return c;
}

static inline void fx_res(enum store_kind k, const char *id, const char *name, bool active)
{
    struct md_error e = {0};
    struct store_conn *c = fx_conn();
    struct store_row r;
    json_t *doc = k == STORE_USERS ? json_pack("{ss}", "userName", name)
                                   : json_pack("{ss}", "displayName", name);
    char *text = json_dumps(doc, JSON_COMPACT);
    char *nm = strdup(name);

    cr_assert(doc && text && nm);
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    r.doc = text;
    if (k == STORE_USERS)
        r.user_name = nm;
    else
        r.display_name = nm;
    r.active = k == STORE_USERS ? active : true;
    cr_assert_eq(store_res_insert(c, k, &r, &e), MD_OK, "%s: %s", id, e.msg);
    store_release(c);
    free(nm);
    free(text);
    json_decref(doc);
}

static inline void fx_user(const char *id, const char *user_name, bool active)
{
    fx_res(STORE_USERS, id, user_name, active);
}

static inline void fx_group(const char *id, const char *display_name)
{
    fx_res(STORE_GROUPS, id, display_name, true);
}

/* Rewrites the user's row with active set as given (as a SCIM PATCH of active would). */
static inline void fx_set_active(const char *id, bool active)
{
    struct md_error e = {0};
    struct store_conn *c = fx_conn();
    struct store_row r;

    cr_assert_eq(store_res_get(c, STORE_USERS, id, &r, &e), MD_OK, "%s", e.msg);
    r.active = active;
    cr_assert_eq(store_res_update(c, STORE_USERS, &r, -1, NULL, &e), MD_OK, "%s", e.msg);
    store_row_free(&r);
    store_release(c);
}

static inline void fx_delete(enum store_kind k, const char *id)
{
    struct md_error e = {0};
    struct store_conn *c = fx_conn();

    cr_assert_eq(store_res_delete(c, k, id, &e), MD_OK, "%s", e.msg);
    store_release(c);
}

static inline void fx_member(const char *group, const char *member, enum store_member_type t)
{
    struct md_error e = {0};
    struct store_conn *c = fx_conn();
    bool added = false;

    cr_assert_eq(store_member_add(c, group, member, t, NULL, &added, &e), MD_OK, "%s", e.msg);
    cr_assert(added, "%s was already in %s", member, group);
    store_release(c);
}

static inline void fx_unmember(const char *group, const char *member)
{
    struct md_error e = {0};
    struct store_conn *c = fx_conn();
    bool removed = false;

    cr_assert_eq(store_member_remove(c, group, member, &removed, &e), MD_OK, "%s", e.msg);
    cr_assert(removed, "%s was not in %s", member, group);
    store_release(c);
}

/* ---- the catalog ---- */

/*
 * A valid connector document: name, and tools as "tool:level,tool:level". Each tool takes an
 * optional "amount" and "currency", so that conditions have something to test. New reference.
 */
static inline json_t *fx_connector_doc(const char *name, const char *tools)
{
    json_t *doc =
        json_pack("{ss ss ss s{ss} s[]}", "name", name, "title", "Test connector", "base_url",
                  "https://api.example.com", "auth", "type", "bearer", "tools");
    char spec[512], *it, *next;

    cr_assert_not_null(doc);
    snprintf(spec, sizeof spec, "%s", tools);
    for (it = spec; it; it = next) {
        char *colon = strchr(it, ':');
        json_t *t;

        next = strchr(it, ',');
        if (next)
            *next++ = '\0';
        cr_assert_not_null(colon, "tool spec %s", it);
        *colon = '\0';
        t = json_pack("{ss ss ss ss s{ss s{s{ss} s{ss}}} s{ss ss}}", "name", it, "title", it,
                      "description", "A tool of the tests.", "level", colon + 1, "input_schema",
                      "type", "object", "properties", "amount", "type", "integer", "currency",
                      "type", "string", "request", "method", "POST", "path", "/v1/things");
        cr_assert_not_null(t);
        json_array_append_new(json_object_get(doc, "tools"), t);
    }
    return doc;
}

static inline void fx_connector(const char *name, const char *tools)
{
    struct md_error e = {0};
    json_t *doc = fx_connector_doc(name, tools);
    bool created = false;

    cr_assert_eq(access_connector_put(fx.a, doc, NULL, &created, &e), MD_OK, "%s", e.msg);
    json_decref(doc);
}

static inline void fx_pack(const char *text)
{
    struct md_error e = {0};
    json_t *doc = fx_json(text);

    cr_assert_eq(access_pack_create(fx.a, doc, NULL, &e), MD_OK, "%s: %s", e.msg, text);
    json_decref(doc);
}

/* ---- grants ---- */

/*
 * Grants are listed, and tried, by creation time then id, and ids are random: two grants made
 * in the same millisecond could come in either order. The fixture waits a few milliseconds
 * after each one so that the tables can name the grant that decides.
 */
static inline void fx_tick(void)
{
    struct timespec ts = {0, 3 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static inline void fx_remember(const char *label, const char *id)
{
    cr_assert_lt(fx.ngrants, FX_GRANTS_MAX);
    snprintf(fx.grants[fx.ngrants].label, sizeof fx.grants[0].label, "%s", label);
    snprintf(fx.grants[fx.ngrants].id, sizeof fx.grants[0].id, "%s", id);
    fx.ngrants++;
}

/* The id of the grant made under label. */
static inline const char *fx_gid(const char *label)
{
    for (int i = 0; i < fx.ngrants; i++)
        if (strcmp(fx.grants[i].label, label) == 0)
            return fx.grants[i].id;
    cr_assert_fail("no grant is labelled %s", label);
    return NULL;
}

static inline void fx_grant(const char *label, const char *text)
{
    struct md_error e = {0};
    json_t *doc = fx_json(text), *out = NULL;

    cr_assert_eq(access_grant_create(fx.a, doc, "tester", &out, &e), MD_OK, "%s: %s", e.msg, text);
    cr_assert(json_is_string(json_object_get(out, "id")));
    fx_remember(label, json_string_value(json_object_get(out, "id")));
    json_decref(out);
    json_decref(doc);
    fx_tick();
}

/*
 * Writes a grant document straight into the store, past validation: what access_grant_create
 * refuses (an expiry in the past) or what may become true later (a condition that no longer
 * parses after the filter grammar changed).
 */
static inline void fx_raw_grant(const char *label, const char *id, const char *text)
{
    struct md_error e = {0};
    struct store_conn *c = fx_conn();

    cr_assert_eq(store_obj_put(c, STORE_OBJ_GRANT, id, text, -1, NULL, &e), MD_OK, "%s", e.msg);
    store_release(c);
    fx_remember(label, id);
    fx_tick();
}

/* ---- the standard world ---- */

static inline void fx_world_catalog(void)
{
    fx_connector("pay", "refund:destructive,charges:read,note:write");
    fx_connector("code", "read_file:read,write_file:write,delete_repo:destructive");
    fx_pack("{\"name\": \"payread\", \"title\": \"Pay, read\","
            " \"tools\": [{\"tool\": \"pay__*\", \"level\": \"read\"}]}");
    fx_pack("{\"name\": \"finance\", \"title\": \"Refunds\","
            " \"tools\": [{\"tool\": \"pay__refund\", \"level\": \"destructive\"}]}");
    fx_pack("{\"name\": \"notes\", \"title\": \"Notes\","
            " \"tools\": [{\"tool\": \"pay__note\", \"level\": \"read\"},"
            "             {\"tool\": \"pay__note\", \"level\": \"write\"}]}");
    fx_pack("{\"name\": \"code\", \"title\": \"Code\","
            " \"tools\": [{\"tool\": \"code__*\", \"level\": \"write\"}]}");
}

static inline void fx_world_directory(void)
{
    fx_group("g-fin", "Finance");
    fx_group("g-finapp", "Finance Approved");
    fx_group("g-eng", "Engineering");
    fx_group("g-cya", "Cycle A");
    fx_group("g-cyb", "Cycle B");
    fx_group("g-cur", "Currency");
    fx_group("g-sub", "Sub");
    fx_member("g-fin", "g-finapp", STORE_MEMBER_GROUP);
    fx_member("g-cya", "g-cyb", STORE_MEMBER_GROUP);
    fx_member("g-cyb", "g-cya", STORE_MEMBER_GROUP);

    fx_user("u-alice", "alice", true);
    fx_user("u-alice2", "alice2", true);
    fx_user("u-bob", "bob", true);
    fx_user("u-carol", "carol", false);
    fx_user("u-erin", "erin", true);
    fx_user("u-frank", "frank", true);
    fx_user("u-gina", "gina", true);
    fx_user("u-hank", "hank", true);
    fx_user("u-ivan", "ivan", true);
    fx_member("g-finapp", "u-alice", STORE_MEMBER_USER);
    fx_member("g-finapp", "u-alice2", STORE_MEMBER_USER);
    fx_member("g-eng", "u-bob", STORE_MEMBER_USER);
    fx_member("g-eng", "u-carol", STORE_MEMBER_USER);
    fx_member("g-cya", "u-frank", STORE_MEMBER_USER);
    fx_member("g-cur", "u-hank", STORE_MEMBER_USER);
    fx_member("g-sub", "u-ivan", STORE_MEMBER_USER);
}

static inline void fx_world_grants(void)
{
    fx_grant("G1",
             "{\"subject\": {\"type\": \"group\", \"id\": \"g-fin\"}, \"pack\": \"payread\"}");
    fx_grant("G2", "{\"subject\": {\"type\": \"group\", \"id\": \"g-finapp\"},"
                   " \"pack\": \"finance\","
                   " \"conditions\": {\"pay__refund\": \"amount le 50000\"}}");
    fx_grant("G3", "{\"subject\": {\"type\": \"group\", \"id\": \"g-eng\"}, \"pack\": \"code\","
                   " \"level\": \"read\"}");
    fx_grant("G4", "{\"subject\": {\"type\": \"group\", \"id\": \"g-cyb\"},"
                   " \"tool\": \"code__write_file\"}");
    fx_grant("G5", "{\"subject\": {\"type\": \"everyone\"}, \"tool\": \"code__read_file\"}");
    fx_grant("G6", "{\"subject\": {\"type\": \"user\", \"id\": \"u-erin\"}, \"pack\": \"notes\"}");
    fx_raw_grant("G7", "00000000-0000-4000-8000-000000000007",
                 "{\"subject\": {\"type\": \"user\", \"id\": \"u-erin\"},"
                 " \"tool\": \"pay__refund\", \"expires\": \"2020-01-01T00:00:00Z\","
                 " \"created_by\": \"tester\"}");
    fx_raw_grant("G8", "00000000-0000-4000-8000-000000000008",
                 "{\"subject\": {\"type\": \"user\", \"id\": \"u-erin\"},"
                 " \"tool\": \"pay__charges\", \"conditions\": {\"pay__charges\": \"amount le\"},"
                 " \"created_by\": \"tester\"}");
    fx_grant("G9", "{\"subject\": {\"type\": \"group\", \"id\": \"g-cur\"},"
                   " \"tool\": \"pay__refund\","
                   " \"conditions\": {\"pay__refund\": \"currency eq \\\"usd\\\"\"}}");
    fx_grant("G10", "{\"subject\": {\"type\": \"user\", \"id\": \"u-hank\"},"
                    " \"tool\": \"pay__refund\","
                    " \"conditions\": {\"pay__refund\": \"amount le 100\"}}");
}

static inline void fx_world(void)
{
    fx_open();
    fx_world_catalog();
    fx_world_directory();
    fx_world_grants();
}

/* ---- decisions ---- */

/* Decides, asserting that the engine answered (a denial is an answer). */
static inline void fx_decide(const char *user, const char *tool, const char *args,
                             struct access_decision *d)
{
    struct md_error e = {0};
    json_t *a = args ? fx_json(args) : NULL;

    memset(d, 0x5a, sizeof *d); /* garbage: the engine must fill every field it reports */
    cr_assert_eq(access_decide(fx.a, user, tool, NULL, a, d, &e), MD_OK, "%s", e.msg);
    json_decref(a);
}

/* The outcomes of the decision's candidates, as "name,name" in their order. */
static inline void fx_outcomes(const struct access_decision *d, char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < d->ncands && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "",
                                access_outcome_name(d->cands[i].outcome));
}

#endif
