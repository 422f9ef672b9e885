/*
 * sqlite.c through the store interface, on a database file in a fresh temporary directory:
 * resources, predicates, paging and sorting, membership, tokens, transactions, concurrency,
 * durability, migrations and the query plans of the hot statements.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/str.h"
#include "store/store.h"
#include "store/store_int.h"

static char dir[64];
static char path[128];
static struct store *S;
static struct store_conn *C;

static void remove_db(void)
{
    char f[160];

    snprintf(f, sizeof f, "%s-wal", path);
    unlink(f);
    snprintf(f, sizeof f, "%s-shm", path);
    unlink(f);
    unlink(path);
}

static void open_store(int pool)
{
    struct md_error e = {0};

    cr_assert_eq(store_open(path, pool, &S, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(S, &C, &e), MD_OK, "%s", e.msg);
}

static void close_store(void)
{
    if (C)
        store_release(C);
    C = NULL;
    if (S)
        store_close(S);
    S = NULL;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-sqlite-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/test.db", dir);
    open_store(4);
}

static void teardown(void)
{
    close_store();
    remove_db();
    rmdir(dir);
}

TestSuite(test_sqlite, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static enum md_err put_user(const char *id, const char *user_name, const char *display,
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

static void put_group(const char *id, const char *display, int64_t created)
{
    struct md_error e = {0};
    struct store_row r = {0};

    snprintf(r.id, sizeof r.id, "%s", id);
    r.display_name = strdup(display);
    r.doc = strdup("{}");
    r.created_ms = created;
    r.modified_ms = created;
    cr_assert_eq(store_res_insert(C, STORE_GROUPS, &r, &e), MD_OK, "%s", e.msg);
    store_row_free(&r);
}

static void add_member(const char *g, const char *m, enum store_member_type t, const char *display)
{
    struct md_error e = {0};
    bool added = false;

    cr_assert_eq(store_member_add(C, g, m, t, display, &added, &e), MD_OK, "%s", e.msg);
    cr_assert(added, "%s was already in %s", m, g);
}

/* The ids of a query's page, comma-separated, in result order; heap. */
static char *query_ids(enum store_kind k, const struct store_pred *where,
                       const struct store_sort *sort, int64_t start, int64_t count, int64_t *total,
                       enum md_err *err)
{
    struct store_query q = {.where = where, .sort = sort, .start_index = start, .count = count};
    struct store_rows rows;
    struct md_error e = {0};
    struct buf b;
    size_t i;

    *err = store_res_query(C, k, &q, &rows, &e);
    buf_init(&b, 0);
    buf_append_cstr(&b, "");
    for (i = 0; i < rows.n; i++) {
        if (i)
            buf_append_char(&b, ',');
        buf_append_cstr(&b, rows.rows[i].id);
    }
    if (total)
        *total = rows.total;
    store_rows_free(&rows);
    return buf_steal(&b);
}

/* Asserts that where selects exactly the ids want (in creation order); why explains. */
static void expect_why(enum store_kind k, const struct store_pred *where, const char *want,
                       const char *why)
{
    enum md_err err;
    int64_t total = -1;
    char *got = query_ids(k, where, NULL, 1, 100, &total, &err);

    cr_assert_eq(err, MD_OK, "query failed: %s", md_err_name(err));
    cr_assert_str_eq(got, want, "%s", why);
    free(got);
}

static void expect(enum store_kind k, const struct store_pred *where, const char *want)
{
    expect_why(k, where, want, "");
}

static void expect_err(enum store_kind k, const struct store_pred *where, enum md_err want)
{
    enum md_err err;
    char *got = query_ids(k, where, NULL, 1, 100, NULL, &err);

    cr_assert_eq(err, want, "got %s", md_err_name(err));
    cr_assert_str_eq(got, "");
    free(got);
}

static struct store_pred str_cmp(enum store_col col, enum store_cmp op, const char *v, bool exact)
{
    return (struct store_pred){
        .kind = SP_CMP, .col = col, .cmp = op, .vtype = SV_STRING, .str = v, .case_exact = exact};
}

/* A leaf on a document path of one key. */
static struct store_pred doc1(const char *key, enum store_cmp op, enum store_vtype vt)
{
    return (struct store_pred){
        .kind = SP_CMP, .col = SCOL_DOC, .path = {key}, .npath = 1, .cmp = op, .vtype = vt};
}

#define ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

/* Four users whose documents cover every type the predicates distinguish. */
static void seed_users(void)
{
    cr_assert_eq(
        put_user("u1", "alice", "Alice Smith", "ext-1", true, 1000,
                 "{\"name\":{\"familyName\":\"Smith\",\"givenName\":\"Alice\"},"
                 "\"emails\":[{\"value\":\"alice@example.com\",\"type\":\"work\",\"primary\":true},"
                 "{\"value\":\"a.smith@home.org\",\"type\":\"home\"}],"
                 "\"title\":\"100% boss_x\",\"nickName\":\"O'Brien \\\"Al\\\"\",\"age\":30,"
                 "\"" ENTERPRISE "\":{\"employeeNumber\":\"701\",\"manager\":{\"value\":\"u2\"}},"
                 "\"tags\":[\"red\",\"Blue\"],\"empty\":\"\",\"emptyArr\":[],\"emptyObj\":{},"
                 "\"nul\":null,\"start\":\"2024-01-02T03:04:05Z\",\"a.b\":\"dot\","
                 "\"back\\\\slash\":\"bs\"}"),
        MD_OK);
    cr_assert_eq(put_user("u2", "bob", "Bob Jones", NULL, false, 2000,
                          "{\"name\":{\"familyName\":\"Jones\"},"
                          "\"emails\":[{\"value\":\"bob@example.com\",\"type\":\"work\"}],"
                          "\"title\":\"100 boss\",\"age\":41.5,\"flag\":true,\"tags\":[],"
                          "\"start\":\"2023-06-01T00:00:00+02:00\",\"empty\":\" \"}"),
                 MD_OK);
    cr_assert_eq(put_user("u3", "Carol_1", NULL, "EXT-1", true, 3000,
                          "{\"title\":\"boss_y\",\"age\":\"30\",\"flag\":false,"
                          "\"emails\":{\"value\":\"notarray@x\"},\"nul\":\"x\"}"),
                 MD_OK);
    cr_assert_eq(put_user("u4", "dave%", "dave", "ext-4", true, 4000,
                          "{\"title\":\"boss\",\"flag\":1,\"emptyArr\":[0]}"),
                 MD_OK);
}

/* ---- resources ---- */

Test(test_sqlite, insert_get_update_delete)
{
    struct md_error e = {0};
    struct store_row r = {0}, got;
    int64_t v = 0;
    bool exists = false;

    cr_assert_eq(put_user("u1", "Alice", "Alice A", "x1", true, 1234, "{\"title\":\"t\"}"), MD_OK);
    cr_assert_eq(store_res_get(C, STORE_USERS, "u1", &got, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(got.id, "u1");
    cr_assert_str_eq(got.user_name, "Alice");
    cr_assert_str_eq(got.display_name, "Alice A");
    cr_assert_str_eq(got.external_id, "x1");
    cr_assert_str_eq(got.doc, "{\"title\":\"t\"}");
    cr_assert(got.active);
    cr_assert_eq(got.created_ms, 1234);
    cr_assert_eq(got.modified_ms, 1234);
    cr_assert_eq(got.version, 1);
    store_row_free(&got);

    snprintf(r.id, sizeof r.id, "u1");
    r.user_name = strdup("alice2");
    r.doc = strdup("{\"title\":\"u\"}");
    r.active = false;
    r.modified_ms = 5000;
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, -1, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 2);
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, 1, &v, &e), MD_ERR_PRECONDITION);
    cr_assert(strstr(e.msg, "version 2") != NULL, "%s", e.msg);
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, 2, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 3);
    cr_assert_eq(store_res_get(C, STORE_USERS, "u1", &got, &e), MD_OK);
    cr_assert_str_eq(got.user_name, "alice2");
    cr_assert_null(got.display_name);
    cr_assert_null(got.external_id);
    cr_assert_not(got.active);
    cr_assert_eq(got.created_ms, 1234, "creation time is kept");
    cr_assert_eq(got.modified_ms, 5000);
    cr_assert_eq(got.version, 3);
    store_row_free(&got);

    cr_assert_eq(store_res_touch(C, STORE_USERS, "u1", 6000, &v, &e), MD_OK);
    cr_assert_eq(v, 4);
    cr_assert_eq(store_res_touch(C, STORE_USERS, "nope", 6000, &v, &e), MD_ERR_NOTFOUND);
    snprintf(r.id, sizeof r.id, "nope");
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, -1, &v, &e), MD_ERR_NOTFOUND);
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, 3, &v, &e), MD_ERR_NOTFOUND);
    store_row_free(&r);

    cr_assert_eq(store_res_exists(C, STORE_USERS, "u1", &exists, &e), MD_OK);
    cr_assert(exists);
    cr_assert_eq(store_res_exists(C, STORE_GROUPS, "u1", &exists, &e), MD_OK);
    cr_assert_not(exists, "kinds are separate tables");
    cr_assert_eq(store_res_delete(C, STORE_USERS, "u1", &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_res_get(C, STORE_USERS, "u1", &got, &e), MD_ERR_NOTFOUND);
    cr_assert_eq(store_res_delete(C, STORE_USERS, "u1", &e), MD_ERR_NOTFOUND);
}

Test(test_sqlite, groups_have_versions_too)
{
    struct md_error e = {0};
    struct store_row r = {0}, got;
    int64_t v = 0;

    put_group("g1", "Admins", 10);
    cr_assert_eq(store_res_get(C, STORE_GROUPS, "g1", &got, &e), MD_OK);
    cr_assert_str_eq(got.display_name, "Admins");
    cr_assert_null(got.user_name);
    cr_assert(got.active);
    cr_assert_eq(got.version, 1);
    store_row_free(&got);
    snprintf(r.id, sizeof r.id, "g1");
    r.display_name = strdup("Admins 2");
    r.doc = strdup("{}");
    cr_assert_eq(store_res_update(C, STORE_GROUPS, &r, 1, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(v, 2);
    cr_assert_eq(store_res_touch(C, STORE_GROUPS, "g1", 0, &v, &e), MD_OK);
    cr_assert_eq(v, 3);
    cr_assert_eq(store_res_insert(C, STORE_GROUPS, &r, &e), MD_ERR_UNIQUENESS);
    cr_assert(strstr(e.msg, "id") != NULL, "%s", e.msg);
    store_row_free(&r);
    cr_assert_eq(store_res_get(C, STORE_GROUPS, "g1", &got, &e), MD_OK);
    cr_assert_str_eq(got.display_name, "Admins 2");
    cr_assert_gt(got.modified_ms, 1000000000000LL, "0 means now");
    store_row_free(&got);
}

Test(test_sqlite, user_name_is_unique_case_insensitively)
{
    struct md_error e = {0};
    struct store_row r = {0};
    int64_t v;

    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    cr_assert_eq(put_user("u2", "ALICE", NULL, NULL, true, 2, "{}"), MD_ERR_UNIQUENESS);
    cr_assert_eq(put_user("u1", "other", NULL, NULL, true, 2, "{}"), MD_ERR_UNIQUENESS);
    cr_assert_eq(put_user("u2", "bob", NULL, NULL, true, 2, "{}"), MD_OK);

    snprintf(r.id, sizeof r.id, "u2");
    r.user_name = strdup("Alice");
    r.doc = strdup("{}");
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, -1, &v, &e), MD_ERR_UNIQUENESS);
    cr_assert(strstr(e.msg, "userName") != NULL, "%s", e.msg);
    free(r.user_name);
    r.user_name = strdup("BOB");
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, -1, &v, &e), MD_OK, "own name re-cased");
    store_row_free(&r);

    cr_assert_eq(
        store_res_insert(
            C, STORE_USERS,
            &(struct store_row){.id = "u3", .user_name = (char[]){"ALICE"}, .doc = (char[]){"{}"}},
            &e),
        MD_ERR_UNIQUENESS);
    cr_assert(strstr(e.msg, "userName") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "ALICE") == NULL, "the message names the attribute, not the value");
}

Test(test_sqlite, invalid_json_is_refused)
{
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{not json"), MD_ERR_VALUE);
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
}

/* ---- predicates ---- */

Test(test_sqlite, user_name_comparisons)
{
    struct store_pred p;

    seed_users();
    p = str_cmp(SCOL_USER_NAME, SC_EQ, "ALICE", false);
    expect(STORE_USERS, &p, "u1");
    p = str_cmp(SCOL_USER_NAME, SC_EQ, "ALICE", true);
    expect(STORE_USERS, &p, "");
    p = str_cmp(SCOL_USER_NAME, SC_EQ, "alice", true);
    expect(STORE_USERS, &p, "u1");
    p = str_cmp(SCOL_USER_NAME, SC_NE, "alice", false);
    expect(STORE_USERS, &p, "u2,u3,u4");
    p = str_cmp(SCOL_USER_NAME, SC_CO, "%", false);
    expect(STORE_USERS, &p, "u4");
    p = str_cmp(SCOL_USER_NAME, SC_CO, "_", false);
    expect(STORE_USERS, &p, "u3");
    p = str_cmp(SCOL_USER_NAME, SC_SW, "CAROL_", false);
    expect(STORE_USERS, &p, "u3");
    p = str_cmp(SCOL_USER_NAME, SC_SW, "CAROL_", true);
    expect(STORE_USERS, &p, "");
    p = str_cmp(SCOL_USER_NAME, SC_EW, "_1", false);
    expect(STORE_USERS, &p, "u3");
    p = str_cmp(SCOL_USER_NAME, SC_EW, "", false);
    expect(STORE_USERS, &p, "u1,u2,u3,u4");
    p = str_cmp(SCOL_USER_NAME, SC_GT, "BOB", false);
    expect(STORE_USERS, &p, "u3,u4");
    p = str_cmp(SCOL_USER_NAME, SC_GE, "BOB", false);
    expect(STORE_USERS, &p, "u2,u3,u4");
    p = str_cmp(SCOL_USER_NAME, SC_LT, "b", true);
    expect_why(STORE_USERS, &p, "u1,u3", "exact: 'C' sorts before 'b'");
    p = str_cmp(SCOL_USER_NAME, SC_LE, "bob", false);
    expect(STORE_USERS, &p, "u1,u2");
    p = (struct store_pred){.kind = SP_CMP, .col = SCOL_USER_NAME, .cmp = SC_PR};
    expect(STORE_USERS, &p, "u1,u2,u3,u4");
}

Test(test_sqlite, column_comparisons)
{
    struct store_pred p, a, b;

    seed_users();
    p = str_cmp(SCOL_EXTERNAL_ID, SC_EQ, "ext-1", true);
    expect(STORE_USERS, &p, "u1");
    p = str_cmp(SCOL_EXTERNAL_ID, SC_EQ, "ext-1", false);
    expect(STORE_USERS, &p, "u1,u3");
    p = str_cmp(SCOL_EXTERNAL_ID, SC_NE, "ext-1", true);
    expect_why(STORE_USERS, &p, "u3,u4", "an absent externalId is neither eq nor ne");
    p = (struct store_pred){
        .kind = SP_CMP, .col = SCOL_EXTERNAL_ID, .cmp = SC_EQ, .vtype = SV_NULL};
    expect(STORE_USERS, &p, "u2");
    p = (struct store_pred){.kind = SP_CMP, .col = SCOL_EXTERNAL_ID, .cmp = SC_PR};
    expect(STORE_USERS, &p, "u1,u3,u4");
    p = str_cmp(SCOL_ID, SC_EQ, "u3", true);
    expect(STORE_USERS, &p, "u3");
    p = str_cmp(SCOL_ID, SC_EQ, "U3", false);
    expect_why(STORE_USERS, &p, "", "ids are caseExact");
    p = str_cmp(SCOL_DISPLAY_NAME, SC_EQ, "alice SMITH", false);
    expect(STORE_USERS, &p, "u1");
    p = str_cmp(SCOL_DISPLAY_NAME, SC_CO, "O", false);
    expect(STORE_USERS, &p, "u2");
    p = (struct store_pred){.kind = SP_CMP, .col = SCOL_DISPLAY_NAME, .cmp = SC_PR};
    expect(STORE_USERS, &p, "u1,u2,u4");
    p = (struct store_pred){
        .kind = SP_CMP, .col = SCOL_ACTIVE, .cmp = SC_EQ, .vtype = SV_BOOL, .b_val = false};
    expect(STORE_USERS, &p, "u2");
    p.cmp = SC_NE;
    expect(STORE_USERS, &p, "u1,u3,u4");
    a = (struct store_pred){
        .kind = SP_CMP, .col = SCOL_CREATED, .cmp = SC_GE, .vtype = SV_TIME, .ms = 2000};
    b = (struct store_pred){
        .kind = SP_CMP, .col = SCOL_CREATED, .cmp = SC_LT, .vtype = SV_TIME, .ms = 4000};
    p = (struct store_pred){.kind = SP_AND, .a = &a, .b = &b};
    expect(STORE_USERS, &p, "u2,u3");
    a.col = SCOL_MODIFIED;
    a.cmp = SC_EQ;
    expect(STORE_USERS, &a, "u2");
    p = (struct store_pred){.kind = SP_TRUE};
    expect(STORE_USERS, &p, "u1,u2,u3,u4");
    p = (struct store_pred){.kind = SP_FALSE};
    expect(STORE_USERS, &p, "");
}

Test(test_sqlite, document_strings_and_special_characters)
{
    struct store_pred p;

    seed_users();
    p = doc1("title", SC_CO, SV_STRING);
    p.str = "%";
    expect(STORE_USERS, &p, "u1");
    p.str = "_";
    expect(STORE_USERS, &p, "u1,u3");
    p.cmp = SC_SW;
    p.str = "100";
    expect(STORE_USERS, &p, "u1,u2");
    p.cmp = SC_EW;
    p.str = "BOSS";
    expect(STORE_USERS, &p, "u2,u4");
    p.case_exact = true;
    expect(STORE_USERS, &p, "");
    p.case_exact = false;
    p.cmp = SC_GT;
    p.str = "boss";
    expect(STORE_USERS, &p, "u3");
    p.cmp = SC_GE;
    p.str = "BOSS";
    expect(STORE_USERS, &p, "u3,u4");
    p.cmp = SC_LT;
    p.str = "2";
    expect(STORE_USERS, &p, "u1,u2");
    p = doc1("nickName", SC_EQ, SV_STRING);
    p.str = "o'brien \"al\"";
    expect(STORE_USERS, &p, "u1");
    p = doc1("a.b", SC_EQ, SV_STRING);
    p.str = "dot";
    expect_why(STORE_USERS, &p, "u1", "a dot in a key is literal");
    p = doc1("back\\slash", SC_EQ, SV_STRING);
    p.str = "bs";
    expect(STORE_USERS, &p, "u1");
    p = doc1("qu\"ote", SC_EQ, SV_STRING);
    p.str = "x";
    expect_why(STORE_USERS, &p, "", "a quote in a key is harmless");
    p = (struct store_pred){.kind = SP_CMP,
                            .col = SCOL_DOC,
                            .path = {"name", "familyName"},
                            .npath = 2,
                            .cmp = SC_NE,
                            .vtype = SV_STRING,
                            .str = "smith"};
    expect_why(STORE_USERS, &p, "u2", "absent is neither eq nor ne");
    p.cmp = SC_EQ;
    expect(STORE_USERS, &p, "u1");
    p = (struct store_pred){.kind = SP_CMP,
                            .col = SCOL_DOC,
                            .path = {ENTERPRISE, "manager", "value"},
                            .npath = 3,
                            .cmp = SC_EQ,
                            .vtype = SV_STRING,
                            .str = "u2",
                            .case_exact = true};
    expect(STORE_USERS, &p, "u1");
    p = doc1("age", SC_EQ, SV_STRING);
    p.str = "30";
    expect_why(STORE_USERS, &p, "u3", "a string never matches a number");
}

Test(test_sqlite, document_numbers_booleans_nulls_and_times)
{
    struct store_pred p;

    seed_users();
    p = doc1("age", SC_EQ, SV_NUMBER);
    p.num = 30;
    expect_why(STORE_USERS, &p, "u1", "the string \"30\" is no number");
    p.cmp = SC_GT;
    p.num = 35;
    expect(STORE_USERS, &p, "u2");
    p.cmp = SC_LE;
    p.num = 41.5;
    expect(STORE_USERS, &p, "u1,u2");
    p.cmp = SC_NE;
    p.num = 30;
    expect_why(STORE_USERS, &p, "u2,u3", "the string \"30\" is ne 30; an absent age is not");
    p = doc1("flag", SC_EQ, SV_BOOL);
    p.b_val = true;
    expect_why(STORE_USERS, &p, "u2", "the number 1 is not true");
    p.b_val = false;
    expect(STORE_USERS, &p, "u3");
    p.cmp = SC_NE;
    p.b_val = true;
    expect_why(STORE_USERS, &p, "u3,u4", "false and the number 1 are ne true; absent is not");
    p = doc1("nul", SC_EQ, SV_NULL);
    expect_why(STORE_USERS, &p, "u1,u2,u4", "null or absent");
    p.cmp = SC_NE;
    expect(STORE_USERS, &p, "u3");
    p = doc1("start", SC_GT, SV_TIME);
    p.ms = 1704067200000LL; /* 2024-01-01T00:00:00Z */
    expect(STORE_USERS, &p, "u1");
    p.cmp = SC_EQ;
    p.ms = 1685570400000LL; /* 2023-05-31T22:00:00Z, written with a +02:00 offset */
    expect(STORE_USERS, &p, "u2");
    p.ms = 1704164645000LL; /* 2024-01-02T03:04:05Z */
    expect(STORE_USERS, &p, "u1");
}

Test(test_sqlite, presence)
{
    struct store_pred p;

    seed_users();
    p = doc1("title", SC_PR, SV_NONE);
    expect(STORE_USERS, &p, "u1,u2,u3,u4");
    p = doc1("empty", SC_PR, SV_NONE);
    expect_why(STORE_USERS, &p, "u2", "\"\" is not present, \" \" is");
    p = doc1("emptyArr", SC_PR, SV_NONE);
    expect_why(STORE_USERS, &p, "u4", "[] is not present, [0] is");
    p = doc1("emptyObj", SC_PR, SV_NONE);
    expect(STORE_USERS, &p, "");
    p = doc1("nul", SC_PR, SV_NONE);
    expect(STORE_USERS, &p, "u3");
    p = doc1("name", SC_PR, SV_NONE);
    expect(STORE_USERS, &p, "u1,u2");
    p = doc1("flag", SC_PR, SV_NONE);
    expect_why(STORE_USERS, &p, "u2,u3,u4", "false is present");
}

Test(test_sqlite, multi_valued_attributes)
{
    struct store_pred v, t, both, p;

    seed_users();
    v = doc1("value", SC_EW, SV_STRING);
    v.str = "EXAMPLE.COM";
    t = doc1("type", SC_EQ, SV_STRING);
    t.str = "work";
    both = (struct store_pred){.kind = SP_AND, .a = &v, .b = &t};
    p = (struct store_pred){.kind = SP_ANY, .path = {"emails"}, .npath = 1, .a = &both};
    expect(STORE_USERS, &p, "u1,u2");
    t.str = "home";
    expect_why(STORE_USERS, &p, "", "both conditions on the same element");
    p.a = &t;
    expect(STORE_USERS, &p, "u1");
    v = doc1("value", SC_CO, SV_STRING);
    v.str = "notarray";
    p.a = &v;
    expect_why(STORE_USERS, &p, "", "an object is not an array of values");
    v = doc1("primary", SC_EQ, SV_BOOL);
    v.b_val = true;
    expect(STORE_USERS, &p, "u1");
    /* Elements that are strings: npath 0 means the element itself. */
    v = (struct store_pred){.kind = SP_CMP,
                            .col = SCOL_DOC,
                            .npath = 0,
                            .cmp = SC_EQ,
                            .vtype = SV_STRING,
                            .str = "blue"};
    p = (struct store_pred){.kind = SP_ANY, .path = {"tags"}, .npath = 1, .a = &v};
    expect(STORE_USERS, &p, "u1");
    v.case_exact = true;
    expect(STORE_USERS, &p, "");
    v = (struct store_pred){.kind = SP_CMP, .col = SCOL_DOC, .cmp = SC_PR};
    expect_why(STORE_USERS, &p, "u1", "an empty array has no element");
    /* A sub-path on string elements matches nothing and raises no error. */
    v = doc1("value", SC_EQ, SV_STRING);
    v.str = "red";
    expect(STORE_USERS, &p, "");
    /* A column test inside SP_ANY still refers to the row. */
    t = str_cmp(SCOL_USER_NAME, SC_EQ, "bob", false);
    v = doc1("type", SC_EQ, SV_STRING);
    v.str = "work";
    both = (struct store_pred){.kind = SP_AND, .a = &v, .b = &t};
    p = (struct store_pred){.kind = SP_ANY, .path = {"emails"}, .npath = 1, .a = &both};
    expect(STORE_USERS, &p, "u2");
    /* not (emails[type eq "home"]) */
    t = doc1("type", SC_EQ, SV_STRING);
    t.str = "home";
    p.a = &t;
    v = (struct store_pred){.kind = SP_NOT, .a = &p};
    expect(STORE_USERS, &v, "u2,u3,u4");
}

Test(test_sqlite, logic)
{
    struct store_pred a, b, p, n;

    seed_users();
    a = str_cmp(SCOL_USER_NAME, SC_EQ, "alice", false);
    b = str_cmp(SCOL_USER_NAME, SC_EQ, "bob", false);
    p = (struct store_pred){.kind = SP_OR, .a = &a, .b = &b};
    expect(STORE_USERS, &p, "u1,u2");
    n = (struct store_pred){.kind = SP_NOT, .a = &p};
    expect(STORE_USERS, &n, "u3,u4");
    /* not over an absent attribute: unknown becomes false, so not gives true. */
    a = doc1("flag", SC_EQ, SV_BOOL);
    a.b_val = true;
    n = (struct store_pred){.kind = SP_NOT, .a = &a};
    expect(STORE_USERS, &n, "u1,u3,u4");
    a = doc1("title", SC_CO, SV_STRING);
    a.str = "boss";
    n = (struct store_pred){.kind = SP_NOT, .a = &a};
    expect(STORE_USERS, &n, "");
}

Test(test_sqlite, unsupported_and_malformed_predicates)
{
    struct store_pred a, b, p, chain[80];
    static struct store_pred wide[2100];
    int i;

    seed_users();
    put_group("g1", "G", 1);
    a = doc1("value", SC_EQ, SV_STRING);
    a.str = "x";
    b = (struct store_pred){.kind = SP_ANY, .path = {"inner"}, .npath = 1, .a = &a};
    p = (struct store_pred){.kind = SP_ANY, .path = {"emails"}, .npath = 1, .a = &b};
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = (struct store_pred){.kind = SP_MEMBER, .cmp = SC_EQ, .vtype = SV_STRING, .str = "x"};
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = str_cmp(SCOL_USER_NAME, SC_EQ, "x", false);
    expect_err(STORE_GROUPS, &p, MD_ERR_FILTER);
    p = (struct store_pred){.kind = SP_CMP, .col = SCOL_ACTIVE, .cmp = SC_EQ, .vtype = SV_BOOL};
    expect_err(STORE_GROUPS, &p, MD_ERR_FILTER);
    p = doc1("flag", SC_GT, SV_BOOL);
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = doc1("age", SC_CO, SV_NUMBER);
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = doc1("x", SC_GT, SV_NULL);
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = str_cmp(SCOL_ACTIVE, SC_EQ, "true", false);
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = (struct store_pred){.kind = SP_CMP, .col = SCOL_DOC, .npath = 0, .cmp = SC_PR};
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = doc1(NULL, SC_PR, SV_NONE);
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = str_cmp(SCOL_USER_NAME, SC_EQ, NULL, false);
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = (struct store_pred){.kind = SP_AND, .a = &a};
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = (struct store_pred){.kind = (enum store_pred_kind)99};
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
    p = str_cmp(SCOL_USER_NAME, (enum store_cmp)99, "x", false);
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);

    /* Too deep: a chain of 79 nots. 38 or 39 are fine (and they alternate). */
    chain[79] = (struct store_pred){.kind = SP_TRUE};
    for (i = 78; i >= 0; i--)
        chain[i] = (struct store_pred){.kind = SP_NOT, .a = &chain[i + 1]};
    expect_err(STORE_USERS, &chain[0], MD_ERR_FILTER);
    expect(STORE_USERS, &chain[41], "u1,u2,u3,u4");
    expect(STORE_USERS, &chain[40], "");

    /* A long chain of one operator is written flat, however the tree leans. */
    for (i = 0; i < 200; i++) {
        if (i < 199)
            wide[i] = (struct store_pred){.kind = SP_OR, .a = &wide[i + 1], .b = &wide[1000 + i]};
        else
            wide[i] = str_cmp(SCOL_USER_NAME, SC_EQ, "bob", false);
        wide[1000 + i] = str_cmp(SCOL_USER_NAME, SC_EQ, i == 50 ? "alice" : "nobody", false);
    }
    expect(STORE_USERS, &wide[0], "u1,u2");
    /* Alternating operators nest; a tree within the depth limit that is still too deep for
     * SQLite's parser is a filter error too, never a database error. */
    for (i = 0; i < 62; i++) {
        if (i % 3 == 0)
            wide[i] = (struct store_pred){.kind = SP_NOT, .a = &wide[i + 1]};
        else
            wide[i] = (struct store_pred){
                .kind = i % 3 == 1 ? SP_AND : SP_OR, .a = &wide[1000], .b = &wide[i + 1]};
    }
    wide[62] = (struct store_pred){.kind = SP_ANY, .path = {"emails"}, .npath = 1, .a = &a};
    expect_err(STORE_USERS, &wide[0], MD_ERR_FILTER);
    expect(STORE_USERS, &wide[30], "u1,u2,u3,u4");

    /* Too many nodes: a balanced tree of ors, 11 levels deep and over 2000 nodes. */
    for (i = 0; i < 2047; i++) {
        if (2 * i + 2 < 2047)
            wide[i] =
                (struct store_pred){.kind = SP_OR, .a = &wide[2 * i + 1], .b = &wide[2 * i + 2]};
        else
            wide[i] = str_cmp(SCOL_USER_NAME, SC_EQ, "nobody", false);
    }
    expect_err(STORE_USERS, &wide[0], MD_ERR_FILTER);
    expect_why(STORE_USERS, &wide[3], "", "a subtree of 255 nodes is fine");
}

/* ---- paging and sorting ---- */

Test(test_sqlite, paging_and_total)
{
    enum md_err err;
    int64_t total = 0;
    char *got;
    struct store_pred p = str_cmp(SCOL_USER_NAME, SC_NE, "alice", false);

    seed_users();
    got = query_ids(STORE_USERS, NULL, NULL, 2, 2, &total, &err);
    cr_assert_eq(err, MD_OK);
    cr_assert_str_eq(got, "u2,u3");
    cr_assert_eq(total, 4);
    free(got);
    got = query_ids(STORE_USERS, NULL, NULL, 1, 0, &total, &err);
    cr_assert_str_eq(got, "", "count 0 returns only the total");
    cr_assert_eq(total, 4);
    free(got);
    got = query_ids(STORE_USERS, NULL, NULL, -5, 1, &total, &err);
    cr_assert_str_eq(got, "u1", "start_index below 1 is 1");
    free(got);
    got = query_ids(STORE_USERS, NULL, NULL, 0, 100, &total, &err);
    cr_assert_str_eq(got, "u1,u2,u3,u4");
    free(got);
    got = query_ids(STORE_USERS, NULL, NULL, 10, 5, &total, &err);
    cr_assert_str_eq(got, "");
    cr_assert_eq(total, 4);
    free(got);
    got = query_ids(STORE_USERS, &p, NULL, 3, 10, &total, &err);
    cr_assert_str_eq(got, "u4");
    cr_assert_eq(total, 3, "the total counts the filter's matches, not the page");
    free(got);
    got = query_ids(STORE_GROUPS, NULL, NULL, 1, 10, &total, &err);
    cr_assert_str_eq(got, "");
    cr_assert_eq(total, 0);
    free(got);
}

static void expect_sorted_why(const struct store_sort *s, const char *want, const char *why)
{
    enum md_err err;
    char *got = query_ids(STORE_USERS, NULL, s, 1, 10, NULL, &err);

    cr_assert_eq(err, MD_OK, "%s", md_err_name(err));
    cr_assert_str_eq(got, want, "%s", why);
    free(got);
}

static void expect_sorted(const struct store_sort *s, const char *want)
{
    expect_sorted_why(s, want, "");
}

Test(test_sqlite, sorting)
{
    struct store_sort s = {.col = SCOL_USER_NAME};
    enum md_err err;
    char *got;

    seed_users();
    expect_sorted(&s, "u1,u2,u3,u4");
    s.case_exact = true;
    expect_sorted(&s, "u3,u1,u2,u4");
    s.case_exact = false;
    s.descending = true;
    expect_sorted(&s, "u4,u3,u2,u1");
    s = (struct store_sort){.col = SCOL_DISPLAY_NAME};
    expect_sorted(&s, "u1,u2,u4,u3");
    s.descending = true;
    expect_sorted_why(&s, "u4,u2,u1,u3", "NULLs stay last when descending");
    s = (struct store_sort){.col = SCOL_DOC, .path = {"age"}, .npath = 1};
    expect_sorted(&s, "u1,u2,u3,u4");
    s = (struct store_sort){.col = SCOL_DOC, .path = {"title"}, .npath = 1};
    expect_sorted(&s, "u2,u1,u4,u3");
    s.descending = true;
    expect_sorted(&s, "u3,u4,u1,u2");
    s = (struct store_sort){.col = SCOL_EXTERNAL_ID};
    expect_sorted_why(&s, "u1,u3,u4,u2", "ext-1 and EXT-1 tie, broken by creation");
    s = (struct store_sort){.col = SCOL_CREATED, .descending = true};
    expect_sorted(&s, "u4,u3,u2,u1");
    s = (struct store_sort){.col = SCOL_ACTIVE};
    expect_sorted(&s, "u2,u1,u3,u4");
    s = (struct store_sort){.col = SCOL_USER_NAME};
    got = query_ids(STORE_GROUPS, NULL, &s, 1, 10, NULL, &err);
    cr_assert_eq(err, MD_ERR_VALUE);
    free(got);
}

/* ---- membership ---- */

struct list {
    struct buf b;
    int stop_after;
    int seen;
};

static int collect_member(void *ctx, const struct store_member *m)
{
    struct list *l = ctx;

    buf_appendf(&l->b, "%s%s:%s:%s", l->seen ? "," : "", m->id,
                m->type == STORE_MEMBER_GROUP ? "G" : "U", m->display ? m->display : "-");
    return ++l->seen == l->stop_after;
}

static char *members_of(const char *g, int stop_after)
{
    struct md_error e = {0};
    struct list l = {.stop_after = stop_after};

    buf_init(&l.b, 0);
    cr_assert_eq(store_member_list(C, g, collect_member, &l, &e), MD_OK, "%s", e.msg);
    return buf_steal(&l.b);
}

static int collect_group(void *ctx, const char *id, const char *display, bool direct)
{
    struct list *l = ctx;

    buf_appendf(&l->b, "%s%s:%s:%s", l->seen ? "," : "", id, display ? display : "-",
                direct ? "direct" : "nested");
    l->seen++;
    return 0;
}

static char *groups_of(const char *m)
{
    struct md_error e = {0};
    struct list l = {0};

    buf_init(&l.b, 0);
    cr_assert_eq(store_member_groups(C, m, collect_group, &l, &e), MD_OK, "%s", e.msg);
    return buf_steal(&l.b);
}

Test(test_sqlite, membership_add_remove_clear_and_list)
{
    struct md_error e = {0};
    bool b = false;
    char *s;

    seed_users();
    put_group("g1", "Admins", 1);
    put_group("g5", "Everyone", 5);
    add_member("g5", "u3", STORE_MEMBER_USER, NULL);
    add_member("g5", "u1", STORE_MEMBER_USER, NULL);
    add_member("g5", "g1", STORE_MEMBER_GROUP, NULL);
    add_member("g5", "u2", STORE_MEMBER_USER, "Bobby");
    cr_assert_eq(store_member_add(C, "g5", "u1", STORE_MEMBER_USER, "x", &b, &e), MD_OK);
    cr_assert_not(b, "adding a member twice is a no-op");
    s = members_of("g5", 0);
    cr_assert_str_eq(s, "u3:U:Carol_1,u1:U:Alice Smith,g1:G:Admins,u2:U:Bobby");
    free(s);
    s = members_of("g5", 2);
    cr_assert_str_eq(s, "u3:U:Carol_1,u1:U:Alice Smith", "a non-zero return stops the walk");
    free(s);

    cr_assert_eq(store_member_has(C, "g5", "u1", &b, &e), MD_OK);
    cr_assert(b);
    cr_assert_eq(store_member_remove(C, "g5", "u1", &b, &e), MD_OK);
    cr_assert(b);
    cr_assert_eq(store_member_remove(C, "g5", "u1", &b, &e), MD_OK);
    cr_assert_not(b);
    cr_assert_eq(store_member_has(C, "g5", "u1", &b, &e), MD_OK);
    cr_assert_not(b);
    add_member("g5", "u1", STORE_MEMBER_USER, NULL);
    s = members_of("g5", 0);
    cr_assert_str_eq(s, "u3:U:Carol_1,g1:G:Admins,u2:U:Bobby,u1:U:Alice Smith",
                     "a member added again goes last");
    free(s);

    cr_assert_eq(store_member_add(C, "nogroup", "u1", STORE_MEMBER_USER, NULL, &b, &e),
                 MD_ERR_NOTFOUND);
    cr_assert_eq(store_member_clear(C, "g5", &e), MD_OK);
    s = members_of("g5", 0);
    cr_assert_str_eq(s, "");
    free(s);
    cr_assert_eq(store_member_has(C, "g1", "u1", &b, &e), MD_OK);
    cr_assert_not(b);
}

/* A member's display follows the resource when the client sent none. */
Test(test_sqlite, member_display_falls_back_to_the_resource)
{
    struct md_error e = {0};
    struct store_row r = {0};
    int64_t v;
    char *s;

    seed_users();
    put_group("g1", "Admins", 1);
    add_member("g1", "u2", STORE_MEMBER_USER, NULL);
    add_member("g1", "ghost", STORE_MEMBER_USER, NULL);
    snprintf(r.id, sizeof r.id, "u2");
    r.user_name = strdup("bob");
    r.display_name = strdup("Robert");
    r.doc = strdup("{}");
    cr_assert_eq(store_res_update(C, STORE_USERS, &r, -1, &v, &e), MD_OK);
    store_row_free(&r);
    s = members_of("g1", 0);
    cr_assert_str_eq(s, "u2:U:Robert,ghost:U:-");
    free(s);
}

Test(test_sqlite, nested_groups_with_a_cycle)
{
    char *s;

    seed_users();
    put_group("g1", "Admins", 1);
    put_group("g2", "Engineering", 2);
    put_group("g3", "All", 3);
    add_member("g1", "u1", STORE_MEMBER_USER, NULL);
    add_member("g1", "u2", STORE_MEMBER_USER, NULL);
    add_member("g2", "u2", STORE_MEMBER_USER, NULL);
    add_member("g2", "g1", STORE_MEMBER_GROUP, NULL);
    add_member("g3", "g2", STORE_MEMBER_GROUP, NULL);

    s = groups_of("u1");
    cr_assert_str_eq(s, "g1:Admins:direct,g3:All:nested,g2:Engineering:nested");
    free(s);
    s = groups_of("u2");
    cr_assert_str_eq(s, "g1:Admins:direct,g3:All:nested,g2:Engineering:direct");
    free(s);
    s = groups_of("u4");
    cr_assert_str_eq(s, "");
    free(s);

    add_member("g1", "g3", STORE_MEMBER_GROUP, NULL); /* g1 -> g2 -> g3 -> g1 */
    s = groups_of("u1");
    cr_assert_str_eq(s, "g1:Admins:direct,g3:All:nested,g2:Engineering:nested");
    free(s);
    s = groups_of("g1");
    cr_assert_str_eq(s, "g3:All:nested,g2:Engineering:direct", "a group is not its own group");
    free(s);
}

Test(test_sqlite, member_predicates)
{
    struct store_pred p;

    seed_users();
    put_group("g1", "Admins", 1);
    put_group("g2", "Engineering", 2);
    put_group("g3", "All", 3);
    put_group("g4", "Empty", 4);
    add_member("g1", "u1", STORE_MEMBER_USER, NULL);
    add_member("g1", "u2", STORE_MEMBER_USER, NULL);
    add_member("g2", "u2", STORE_MEMBER_USER, NULL);
    add_member("g2", "g1", STORE_MEMBER_GROUP, NULL);
    add_member("g3", "g2", STORE_MEMBER_GROUP, NULL);

    p = (struct store_pred){.kind = SP_MEMBER, .cmp = SC_EQ, .vtype = SV_STRING, .str = "u1"};
    expect(STORE_GROUPS, &p, "g1");
    p.str = "u2";
    expect(STORE_GROUPS, &p, "g1,g2");
    p.str = "g1";
    expect(STORE_GROUPS, &p, "g2");
    p.str = "U1";
    expect_why(STORE_GROUPS, &p, "", "member ids are exact");
    p.cmp = SC_NE;
    p.str = "u1";
    expect_why(STORE_GROUPS, &p, "g1,g2,g3", "a member other than u1");
    p.cmp = SC_SW;
    p.str = "G";
    expect(STORE_GROUPS, &p, "g2,g3");
    p = (struct store_pred){.kind = SP_MEMBER, .cmp = SC_PR};
    expect(STORE_GROUPS, &p, "g1,g2,g3");
    p = (struct store_pred){.kind = SP_MEMBER_OF, .cmp = SC_EQ, .vtype = SV_STRING, .str = "g1"};
    expect(STORE_USERS, &p, "u1,u2");
    p.str = "g2";
    expect(STORE_GROUPS, &p, "g1");
    expect_why(STORE_USERS, &p, "u2", "direct membership only");
    p = (struct store_pred){.kind = SP_MEMBER_OF, .cmp = SC_PR};
    expect(STORE_USERS, &p, "u1,u2");
    p = (struct store_pred){.kind = SP_MEMBER_OF, .cmp = SC_EQ, .vtype = SV_NUMBER};
    expect_err(STORE_USERS, &p, MD_ERR_FILTER);
}

Test(test_sqlite, delete_cascades_to_membership)
{
    struct md_error e = {0};
    bool b = true;
    char *s;

    seed_users();
    put_group("g1", "Admins", 1);
    put_group("g2", "Engineering", 2);
    add_member("g1", "u1", STORE_MEMBER_USER, NULL);
    add_member("g1", "u2", STORE_MEMBER_USER, NULL);
    add_member("g2", "g1", STORE_MEMBER_GROUP, NULL);
    add_member("g2", "u2", STORE_MEMBER_USER, NULL);

    cr_assert_eq(store_res_delete(C, STORE_USERS, "u2", &e), MD_OK, "%s", e.msg);
    s = members_of("g1", 0);
    cr_assert_str_eq(s, "u1:U:Alice Smith");
    free(s);
    s = members_of("g2", 0);
    cr_assert_str_eq(s, "g1:G:Admins");
    free(s);

    cr_assert_eq(store_res_delete(C, STORE_GROUPS, "g1", &e), MD_OK, "%s", e.msg);
    s = members_of("g2", 0);
    cr_assert_str_eq(s, "", "the group left the groups it was in");
    free(s);
    s = groups_of("u1");
    cr_assert_str_eq(s, "", "its own member rows are gone");
    free(s);
    cr_assert_eq(store_member_has(C, "g1", "u1", &b, &e), MD_OK);
    cr_assert_not(b);
}

/* ---- tokens ---- */

static void make_token(struct store_token *t, const char *id, const char *kind, const char *hash,
                       int64_t created)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    snprintf(t->name, sizeof t->name, "token %s", id);
    snprintf(t->hash, sizeof t->hash, "%s", hash);
    t->created_ms = created;
}

static int collect_token(void *ctx, const struct store_token *t)
{
    struct list *l = ctx;

    buf_appendf(&l->b, "%s%s:%s:%s:%lld", l->seen++ ? "," : "", t->id, t->kind,
                t->revoked ? "revoked" : "live", (long long)t->last_used_ms);
    return 0;
}

Test(test_sqlite, tokens)
{
    struct md_error e = {0};
    struct store_token t, got;
    struct list l = {0};
    int64_t n = -1;
    char *s;

    make_token(&t, "t1", "scim", "aa11", 100);
    cr_assert_eq(store_token_insert(C, &t, &e), MD_OK, "%s", e.msg);
    make_token(&t, "t2", "scim", "bb22", 200);
    cr_assert_eq(store_token_insert(C, &t, &e), MD_OK);
    make_token(&t, "t3", "admin", "cc33", 150);
    cr_assert_eq(store_token_insert(C, &t, &e), MD_OK);
    make_token(&t, "t4", "scim", "aa11", 300);
    cr_assert_eq(store_token_insert(C, &t, &e), MD_ERR_UNIQUENESS);
    cr_assert(strstr(e.msg, "hash") != NULL, "%s", e.msg);
    make_token(&t, "t1", "scim", "dd44", 300);
    cr_assert_eq(store_token_insert(C, &t, &e), MD_ERR_UNIQUENESS);

    cr_assert_eq(store_token_find(C, "bb22", &got, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(got.id, "t2");
    cr_assert_str_eq(got.kind, "scim");
    cr_assert_str_eq(got.name, "token t2");
    cr_assert_str_eq(got.hash, "bb22");
    cr_assert_eq(got.created_ms, 200);
    cr_assert_eq(got.last_used_ms, 0);
    cr_assert_not(got.revoked);
    cr_assert_eq(store_token_find(C, "ffff", &got, &e), MD_ERR_NOTFOUND);

    cr_assert_eq(store_token_touch(C, "t2", 999, &e), MD_OK);
    cr_assert_eq(store_token_touch(C, "nope", 999, &e), MD_ERR_NOTFOUND);
    cr_assert_eq(store_token_revoke(C, "t1", &e), MD_OK);
    cr_assert_eq(store_token_revoke(C, "nope", &e), MD_ERR_NOTFOUND);
    cr_assert_eq(store_token_find(C, "aa11", &got, &e), MD_ERR_NOTFOUND, "revoked is not found");

    buf_init(&l.b, 0);
    cr_assert_eq(store_token_list(C, collect_token, &l, &e), MD_OK);
    s = buf_steal(&l.b);
    cr_assert_str_eq(s, "t1:scim:revoked:0,t3:admin:live:0,t2:scim:live:999");
    free(s);
    cr_assert_eq(store_token_count(C, "scim", &n, &e), MD_OK);
    cr_assert_eq(n, 2, "revoked tokens count");
    cr_assert_eq(store_token_count(C, "agent", &n, &e), MD_OK);
    cr_assert_eq(n, 0);
}

/* ---- transactions, connections, durability ---- */

Test(test_sqlite, transactions_commit_and_roll_back)
{
    struct md_error e = {0};
    struct store_conn *c2;
    bool exists = true;

    cr_assert_eq(store_begin(C, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_begin(C, &e), MD_ERR_INTERNAL, "no nesting");
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    store_rollback(C);
    store_rollback(C); /* harmless without a transaction */
    cr_assert_eq(store_res_exists(C, STORE_USERS, "u1", &exists, &e), MD_OK);
    cr_assert_not(exists, "rollback discards");
    cr_assert_eq(store_commit(C, &e), MD_ERR_INTERNAL, "nothing to commit");

    cr_assert_eq(store_acquire(S, &c2, &e), MD_OK);
    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    cr_assert_eq(store_res_exists(c2, STORE_USERS, "u1", &exists, &e), MD_OK);
    cr_assert_not(exists, "uncommitted data is invisible to other connections");
    cr_assert_eq(put_user("u2", "ALICE", NULL, NULL, true, 1, "{}"), MD_ERR_UNIQUENESS);
    cr_assert_eq(store_commit(C, &e), MD_OK, "a failed statement does not doom the rest");
    cr_assert_eq(store_res_exists(c2, STORE_USERS, "u1", &exists, &e), MD_OK);
    cr_assert(exists, "a second connection sees committed data");
    store_release(c2);
}

Test(test_sqlite, a_writer_waits_for_another)
{
    struct md_error e = {0};
    struct store_conn *c2;
    struct store_row r = {.id = "u9"};
    char un[] = "zed", doc[] = "{}";

    r.user_name = un;
    r.doc = doc;
    cr_assert_eq(store_acquire(S, &c2, &e), MD_OK);
    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(put_user("u1", "alice", NULL, NULL, true, 1, "{}"), MD_OK);
    cr_assert_eq(store_commit(C, &e), MD_OK);
    cr_assert_eq(store_begin(c2, &e), MD_OK);
    cr_assert_eq(store_res_insert(c2, STORE_USERS, &r, &e), MD_OK);
    cr_assert_eq(store_commit(c2, &e), MD_OK);
    store_release(c2);
}

/* The writer lock held past the busy timeout (5 s) is "unavailable", not an I/O error. */
Test(test_sqlite, a_writer_blocked_past_the_timeout_is_unavailable, .timeout = 30)
{
    struct md_error e = {0};
    struct store_conn *c2;
    bool exists = true;

    cr_assert_eq(store_acquire(S, &c2, &e), MD_OK);
    cr_assert_eq(store_begin(C, &e), MD_OK);
    cr_assert_eq(store_begin(c2, &e), MD_ERR_UNAVAILABLE, "%s", e.msg);
    cr_assert(strstr(e.msg, "busy") != NULL, "%s", e.msg);
    cr_assert_not(S->ops->in_tx(c2), "the failed begin left no transaction");
    cr_assert_eq(store_res_exists(c2, STORE_USERS, "u1", &exists, &e), MD_OK, "readers go on");
    cr_assert_not(exists);
    store_rollback(C);
    cr_assert_eq(store_begin(c2, &e), MD_OK, "%s", e.msg);
    store_rollback(c2);
    store_release(c2);
}

#define THREADS 6
#define PER_THREAD 40

struct worker {
    int n;
    enum md_err err;
    char msg[256];
};

static void *insert_many(void *arg)
{
    struct worker *w = arg;
    struct md_error e = {0};
    int i;

    for (i = 0; i < PER_THREAD && !w->err; i++) {
        struct store_conn *c = NULL;
        struct store_row r = {0};
        char un[32], doc[] = "{\"title\":\"w\"}";
        bool added = false;

        snprintf(r.id, sizeof r.id, "w%d-%d", w->n, i);
        snprintf(un, sizeof un, "User-%d-%d", w->n, i);
        r.user_name = un;
        r.doc = doc;
        w->err = store_acquire(S, &c, &e);
        if (w->err)
            break;
        w->err = store_begin(c, &e);
        if (!w->err)
            w->err = store_res_insert(c, STORE_USERS, &r, &e);
        if (!w->err)
            w->err = store_member_add(c, "big", r.id, STORE_MEMBER_USER, NULL, &added, &e);
        if (!w->err)
            w->err = store_commit(c, &e);
        store_release(c);
    }
    if (w->err)
        snprintf(w->msg, sizeof w->msg, "%s", e.msg);
    return NULL;
}

Test(test_sqlite, concurrent_inserts_through_the_pool)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    enum md_err err;
    int64_t total = 0;
    char *s;
    struct store_pred p = {.kind = SP_MEMBER_OF, .cmp = SC_EQ, .vtype = SV_STRING, .str = "big"};
    int i;

    put_group("big", "Big", 1);
    store_release(C); /* let the workers have every connection */
    C = NULL;
    for (i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.n = i};
        cr_assert_eq(pthread_create(&t[i], NULL, insert_many, &w[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].err, MD_OK, "worker %d: %s", i, w[i].msg);
    }
    cr_assert_leq(S->n_open, 4, "the pool never grows past its size");
    cr_assert_eq(store_acquire(S, &C, NULL), MD_OK);
    s = query_ids(STORE_USERS, &p, NULL, 1, 0, &total, &err);
    cr_assert_eq(err, MD_OK);
    cr_assert_eq(total, THREADS * PER_THREAD);
    free(s);
}

Test(test_sqlite, data_survives_reopen_and_migrations_are_idempotent)
{
    struct md_error e = {0};
    struct store_row got;
    sqlite3 *db;
    sqlite3_stmt *st;
    int i;

    cr_assert_eq(put_user("u1", "alice", "A", NULL, true, 1, "{\"x\":1}"), MD_OK);
    for (i = 0; i < 3; i++) {
        close_store();
        open_store(2);
    }
    cr_assert_eq(store_res_get(C, STORE_USERS, "u1", &got, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(got.doc, "{\"x\":1}");
    store_row_free(&got);

    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_prepare_v2(db, "SELECT count(*), max(version) FROM schema_version", -1, &st, NULL),
        SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 5, "each migration is recorded once");
    cr_assert_eq(sqlite3_column_int(st, 1), 5);
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* A schema newer than the program is refused rather than misread. */
    cr_assert_eq(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99, 0)", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    close_store();
    cr_assert_eq(store_open(path, 1, &S, &e), MD_ERR_IO);
    cr_assert(strstr(e.msg, "newer") != NULL, "%s", e.msg);
    cr_assert_null(S);
}

Test(test_sqlite, a_commit_survives_sigkill)
{
    pid_t pid;
    int status;
    bool exists = false;
    struct md_error e = {0};

    close_store();
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct store *s;
        struct store_conn *c;
        struct store_row r = {.id = "k1"};
        char un[] = "killed", doc[] = "{}";

        r.user_name = un;
        r.doc = doc;
        if (store_open(path, 1, &s, NULL) || store_acquire(s, &c, NULL) || store_begin(c, NULL) ||
            store_res_insert(c, STORE_USERS, &r, NULL) || store_commit(c, NULL))
            _exit(2);
        raise(SIGKILL);
        _exit(3);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
    open_store(1);
    cr_assert_eq(store_res_exists(C, STORE_USERS, "k1", &exists, &e), MD_OK);
    cr_assert(exists);
}

/* ---- query plans: indexed lookups never scan a table ---- */

static char *plan_of(enum store_kind k, const struct store_pred *where, const char *name)
{
    struct md_error e = {0};
    struct store_query q = {.where = where, .start_index = 1, .count = 10};
    char *plan = NULL;

    cr_assert_eq(store__explain(C, k, name ? NULL : &q, name, &plan, &e), MD_OK, "%s", e.msg);
    return plan;
}

static void expect_plan(enum store_kind k, const struct store_pred *where, const char *name,
                        const char *must)
{
    char *plan = plan_of(k, where, name);

    cr_assert(strstr(plan, must) != NULL, "%s: wanted %s in:\n%s", name ? name : "query", must,
              plan);
    cr_assert(strstr(plan, "SCAN r") == NULL && strstr(plan, "SCAN users") == NULL &&
                  strstr(plan, "SCAN groups") == NULL && strstr(plan, "SCAN group_members") == NULL,
              "%s scans:\n%s", name ? name : "query", plan);
    free(plan);
}

Test(test_sqlite, hot_statements_use_indexes)
{
    struct md_error e = {0};
    struct store_pred p;
    char *plan = NULL;

    expect_plan(STORE_USERS, NULL, "user_get", "SEARCH");
    expect_plan(STORE_USERS, NULL, "group_get", "SEARCH");
    expect_plan(STORE_USERS, NULL, "member_add", "group_members_seq");
    expect_plan(STORE_USERS, NULL, "member_remove", "PRIMARY KEY");
    expect_plan(STORE_USERS, NULL, "member_has", "PRIMARY KEY");
    expect_plan(STORE_USERS, NULL, "member_list", "group_members_seq");
    expect_plan(STORE_USERS, NULL, "member_groups", "group_members_member");
    expect_plan(STORE_USERS, NULL, "member_drop", "group_members_member");
    expect_plan(STORE_USERS, NULL, "token_find", "SEARCH");
    expect_plan(STORE_USERS, NULL, "user_update", "SEARCH");

    p = str_cmp(SCOL_USER_NAME, SC_EQ, "alice", false);
    expect_plan(STORE_USERS, &p, NULL, "INDEX sqlite_autoindex_users_2");
    p.case_exact = true;
    expect_plan(STORE_USERS, &p, NULL, "INDEX sqlite_autoindex_users_2");
    p = str_cmp(SCOL_EXTERNAL_ID, SC_EQ, "x", true);
    expect_plan(STORE_USERS, &p, NULL, "users_external_id");
    expect_plan(STORE_GROUPS, &p, NULL, "groups_external_id");
    p = str_cmp(SCOL_ID, SC_EQ, "x", true);
    expect_plan(STORE_USERS, &p, NULL, "SEARCH r");
    p = str_cmp(SCOL_DISPLAY_NAME, SC_EQ, "x", false);
    expect_plan(STORE_GROUPS, &p, NULL, "groups_display_name");
    p = (struct store_pred){.kind = SP_MEMBER_OF, .cmp = SC_EQ, .vtype = SV_STRING, .str = "g"};
    expect_plan(STORE_USERS, &p, NULL, "SEARCH m1 USING COVERING INDEX group_members_seq");
    p.kind = SP_MEMBER;
    expect_plan(STORE_GROUPS, &p, NULL, "SEARCH m1 USING COVERING INDEX group_members_member");
    plan = plan_of(STORE_USERS, NULL, NULL);
    cr_assert(strstr(plan, "users_created") != NULL, "paging walks the creation index: %s", plan);
    free(plan);
    cr_assert_eq(store__explain(C, STORE_USERS, NULL, "no_such", &plan, &e), MD_ERR_NOTFOUND);
}
