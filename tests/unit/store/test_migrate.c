/*
 * migrate.c: a populated SQLite store copied into an empty one (and into PostgreSQL when
 * MANDATE_TEST_PG names a server), every row compared, access objects and agent tokens
 * included; refusals; the count check; progress; URLs made safe to print.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/migrate.h"
#include "store/store.h"

#define N_USERS 2345 /* three pages of users: two full, one not */
#define N_GROUPS 30
#define N_GRANTS 1234 /* more than a batch */
#define N_TOKENS 4
#define BASE_MS 1700000000000LL
#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

static char dir[64];
static char src_path[128];
static char dst_path[128];

static void remove_db(const char *p)
{
    char f[4200];

    snprintf(f, sizeof f, "%s-wal", p);
    unlink(f);
    snprintf(f, sizeof f, "%s-shm", p);
    unlink(f);
    unlink(p);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-migrate-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(src_path, sizeof src_path, "sqlite:%s/src.db", dir);
    snprintf(dst_path, sizeof dst_path, "%s/dst.db", dir);
}

static void teardown(void)
{
    char p[160];

    snprintf(p, sizeof p, "%s/src.db", dir);
    remove_db(p);
    remove_db(dst_path);
    rmdir(dir);
}

TestSuite(test_migrate, .init = setup, .fini = teardown);

/* store_row's strings are not const, since the store returns heap copies in it; the rows
 * written here borrow literals that the store only reads. */
static char *mut(const char *s)
{
    return (char *)(uintptr_t)s;
}

static struct store *open_store(const char *url, int pool)
{
    struct store *s = NULL;
    struct md_error e = {0};

    cr_assert_eq(store_open(url, pool, &s, &e), MD_OK, "%s", e.msg);
    return s;
}

static struct store_conn *take(struct store *s)
{
    struct store_conn *c = NULL;
    struct md_error e = {0};

    cr_assert_eq(store_acquire(s, &c, &e), MD_OK, "%s", e.msg);
    return c;
}

/* ---- the source: users with extensions, inactive ones, nested groups, tokens ---- */

static void user_row(int i, struct store_row *r, char *doc, size_t docsz, char *un, size_t unsz,
                     char *dn, size_t dnsz, char *xid, size_t xsz)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "u%05d", i);
    snprintf(un, unsz, "User%d@Example.com", i);
    snprintf(dn, dnsz, "User Number %d", i);
    snprintf(xid, xsz, "ext-%d", i);
    if (i % 4 == 0)
        snprintf(doc, docsz,
                 "{\"name\":{\"givenName\":\"G%d\",\"familyName\":\"F\\u00e9%d\"},"
                 "\"emails\":[{\"value\":\"u%d@example.com\",\"type\":\"work\",\"primary\":true}],"
                 "\"" ENT "\":{\"employeeNumber\":\"E%d\",\"department\":\"D%d\","
                 "\"manager\":{\"value\":\"u%05d\"}}}",
                 i, i, i, i, i % 7, i / 2);
    else
        snprintf(doc, docsz, "{\"title\":\"t%d\",\"locale\":\"fr-CA\"}", i);
    r->doc = doc;
    r->user_name = un;
    /* Some without a displayName, and some with an empty one, as clients send them. */
    r->display_name = i % 5 == 1 ? NULL : i % 5 == 2 ? mut("") : dn;
    r->external_id = i % 3 == 0 ? NULL : xid;
    r->active = i % 7 != 3;
    /* Three users share each creation time, so the order falls back to the id. */
    r->created_ms = BASE_MS + (int64_t)(i / 3) * 1000;
    r->modified_ms = r->created_ms + 5;
}

static void add_users(struct store_conn *c)
{
    struct md_error e = {0};
    char doc[512], un[64], dn[64], xid[32];
    struct store_row r;
    int64_t v = 0;
    int i, k;

    for (i = 0; i < N_USERS; i++) {
        user_row(i, &r, doc, sizeof doc, un, sizeof un, dn, sizeof dn, xid, sizeof xid);
        cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_OK, "%s", e.msg);
        /* Versions from 1 to 5, and later modification times. */
        for (k = 0; k < i % 5; k++) {
            r.modified_ms = r.created_ms + 1000 + k;
            cr_assert_eq(store_res_update(c, STORE_USERS, &r, -1, &v, &e), MD_OK, "%s", e.msg);
        }
    }
}

static void add_group(struct store_conn *c, int g)
{
    struct md_error e = {0};
    struct store_row r;
    char doc[128], dn[64], xid[32];
    int64_t v = 0;

    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "g%02d", g);
    snprintf(dn, sizeof dn, "Group %d", g);
    snprintf(xid, sizeof xid, "gx-%d", g);
    snprintf(doc, sizeof doc, "{\"urn:example:ext\":{\"cost\":%d}}", g);
    r.doc = g % 2 ? doc : mut("{}");
    r.display_name = dn;
    r.external_id = g % 3 ? xid : NULL;
    r.active = true;
    r.created_ms = BASE_MS + 5000000 + (int64_t)(g / 2) * 10;
    cr_assert_eq(store_res_insert(c, STORE_GROUPS, &r, &e), MD_OK, "%s", e.msg);
    if (g % 4 == 1)
        cr_assert_eq(store_res_touch(c, STORE_GROUPS, r.id, r.created_ms + 77, &v, &e), MD_OK, "%s",
                     e.msg);
}

static void add_member(struct store_conn *c, const char *g, const char *m, enum store_member_type t,
                       const char *display)
{
    struct md_error e = {0};
    bool added = false;

    cr_assert_eq(store_member_add(c, g, m, t, display, &added, &e), MD_OK, "%s", e.msg);
    cr_assert(added, "%s in %s", m, g);
}

/* Memberships added: returned so that the counts can be checked against what was made. */
static int64_t add_groups(struct store_conn *c)
{
    char id[64], gid[64], disp[64];
    int64_t n = 0;
    int g, i;

    for (g = 0; g < N_GROUPS; g++)
        add_group(c, g);
    /* g00: every user, in an order that is not the id order, across several batches. */
    for (i = N_USERS - 1; i >= 0; i--) {
        snprintf(id, sizeof id, "u%05d", (i * 11) % N_USERS);
        add_member(c, "g00", id, STORE_MEMBER_USER, NULL);
        n++;
    }
    /* Nesting, with a cycle: g01 holds g02 and g03, g02 holds g01. */
    add_member(c, "g01", "g02", STORE_MEMBER_GROUP, NULL);
    add_member(c, "g01", "g03", STORE_MEMBER_GROUP, "Explicit group name");
    add_member(c, "g02", "g01", STORE_MEMBER_GROUP, NULL);
    n += 3;
    /* Displays as clients sent them, and ones they did not send. */
    for (g = 3; g < N_GROUPS; g++) {
        for (i = 0; i < g; i++) {
            snprintf(id, sizeof id, "u%05d", (g * 31 + i * 11) % N_USERS);
            snprintf(gid, sizeof gid, "g%02d", g);
            snprintf(disp, sizeof disp, "Sent %d/%d", g, i);
            add_member(c, gid, id, STORE_MEMBER_USER, i % 2 ? disp : NULL);
            n++;
        }
    }
    return n;
}

static void add_bound_token(struct store_conn *c, const char *id, const char *kind,
                            const char *name, char hexc, int64_t created, int64_t used, bool revoke,
                            const char *user, const char *pack)
{
    struct md_error e = {0};
    struct store_token t;

    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    snprintf(t.kind, sizeof t.kind, "%s", kind);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.user_id, sizeof t.user_id, "%s", user);
    snprintf(t.pack, sizeof t.pack, "%s", pack);
    memset(t.hash, hexc, 64);
    t.created_ms = created;
    t.last_used_ms = used;
    cr_assert_eq(store_token_insert(c, &t, &e), MD_OK, "%s", e.msg);
    if (revoke)
        cr_assert_eq(store_token_revoke(c, id, &e), MD_OK, "%s", e.msg);
}

static void add_token(struct store_conn *c, const char *id, const char *kind, const char *name,
                      char hexc, int64_t created, int64_t used, bool revoke)
{
    add_bound_token(c, id, kind, name, hexc, created, used, revoke, "", "");
}

static void put_obj(struct store_conn *c, enum store_obj_kind k, const char *id, const char *doc,
                    int64_t version, int64_t created, int64_t modified)
{
    struct md_error e = {0};
    struct store_obj o = {.version = version, .created_ms = created, .modified_ms = modified};

    snprintf(o.id, sizeof o.id, "%s", id);
    o.doc = mut(doc);
    cr_assert_eq(store_obj_copy(c, k, &o, &e), MD_OK, "%s: %s", id, e.msg);
}

/*
 * Access objects of every kind: documents whose key order and spacing must survive, versions
 * above 1 (some by store_obj_put), creation times shared so that the order falls back to the
 * id, and more grants than a batch.
 */
static void add_objects(struct store_conn *c)
{
    struct md_error e = {0};
    char id[64], doc[128];
    int64_t v = 0;
    int i;

    put_obj(c, STORE_OBJ_CONNECTOR, "github", "{\"name\": \"github\", \"b\":1, \"a\":2}", 3,
            BASE_MS + 10, BASE_MS + 20);
    put_obj(c, STORE_OBJ_CONNECTOR, "jira", "{\"z\":[1,2,{\"q\":null}]}", 1, BASE_MS + 10,
            BASE_MS + 10);
    put_obj(c, STORE_OBJ_OVERRIDE, "github", "{\"url\":\"https://ghe.example.com\"}", 9,
            BASE_MS + 30, BASE_MS + 40);
    cr_assert_eq(store_obj_put(c, STORE_OBJ_PACK, "readonly", "{\"tools\":[\"x\"]}", -1, &v, &e),
                 MD_OK, "%s", e.msg);
    cr_assert_eq(
        store_obj_put(c, STORE_OBJ_PACK, "readonly", "{\"tools\":[\"x\",\"y\"]}", 1, &v, &e), MD_OK,
        "%s", e.msg);
    cr_assert_eq(v, 2);
    put_obj(c, STORE_OBJ_PACK, "admin", "{}", 1, BASE_MS, BASE_MS);
    put_obj(c, STORE_OBJ_PACK, "\u00e9t\u00e9", "{\"s\":\"\\u00e9\"}", 2, BASE_MS, BASE_MS + 1);
    for (i = 0; i < N_GRANTS; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", (i * 7) % N_GRANTS);
        snprintf(doc, sizeof doc, "{\"user\":\"u%05d\",\"pack\":\"readonly\"}", i);
        put_obj(c, STORE_OBJ_GRANT, id, doc, 1 + i % 3, BASE_MS + (int64_t)(i / 4), BASE_MS + i);
    }
}

/* Objects per kind, as populate makes them. */
static const int64_t N_OBJECTS[STORE_OBJ__COUNT] = {2, 1, 3, N_GRANTS};

struct made {
    int64_t members;
};

static struct made populate(struct store *s)
{
    struct store_conn *c = take(s);
    struct md_error e = {0};
    struct made m;

    cr_assert_eq(store_begin(c, &e), MD_OK, "%s", e.msg);
    add_users(c);
    m.members = add_groups(c);
    add_token(c, "t-okta", "scim", "okta", 'a', BASE_MS + 1, BASE_MS + 999999, false);
    add_token(c, "t-old", "scim", "old entra", 'b', BASE_MS + 2, 0, true);
    add_token(c, "t-admin", "admin", "", 'c', BASE_MS + 3, 0, false);
    add_bound_token(c, "t-agent", "agent", "claude", 'd', BASE_MS + 4, BASE_MS + 5, false, "u00007",
                    "readonly");
    add_objects(c);
    cr_assert_eq(store_commit(c, &e), MD_OK, "%s", e.msg);
    store_release(c);
    return m;
}

/* ---- comparing every row ---- */

static void assert_str_eq_null(const char *a, const char *b, const char *what, const char *id)
{
    if (!a || !b)
        cr_assert(a == b, "%s of %s: %s vs %s", what, id, a ? a : "NULL", b ? b : "NULL");
    else
        cr_assert_str_eq(a, b, "%s of %s", what, id);
}

/*
 * The same JSON value: a backend may keep the document in its own form (PostgreSQL's jsonb
 * orders keys and spaces them), which is not a change of the resource.
 */
static void assert_doc_eq(const char *a, const char *b, const char *id)
{
    json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);

    cr_assert_not_null(ja, "doc of %s: %s", id, a);
    cr_assert_not_null(jb, "doc of %s: %s", id, b);
    cr_assert(json_equal(ja, jb), "doc of %s: %s vs %s", id, a, b);
    json_decref(ja);
    json_decref(jb);
}

static void assert_row_eq(const struct store_row *a, const struct store_row *b)
{
    cr_assert_str_eq(a->id, b->id);
    assert_doc_eq(a->doc, b->doc, a->id);
    assert_str_eq_null(a->user_name, b->user_name, "userName", a->id);
    assert_str_eq_null(a->display_name, b->display_name, "displayName", a->id);
    assert_str_eq_null(a->external_id, b->external_id, "externalId", a->id);
    cr_assert_eq(a->active, b->active, "active of %s", a->id);
    cr_assert_eq(a->created_ms, b->created_ms, "created of %s", a->id);
    cr_assert_eq(a->modified_ms, b->modified_ms, "modified of %s", a->id);
    cr_assert_eq(a->version, b->version, "version of %s: %lld vs %lld", a->id,
                 (long long)a->version, (long long)b->version);
}

struct mlist {
    struct store_member v[N_USERS + 8];
    size_t n;
};

static int collect(void *ctx, const struct store_member *m)
{
    struct mlist *l = ctx;

    cr_assert_lt(l->n, sizeof l->v / sizeof l->v[0]);
    l->v[l->n] = *m;
    l->v[l->n].display = m->display ? strdup(m->display) : NULL;
    l->n++;
    return 0;
}

static void mlist_free(struct mlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].display);
    l->n = 0;
}

static void assert_members_eq(struct store_conn *a, struct store_conn *b, const char *gid)
{
    static struct mlist la, lb; /* large: not on the stack */
    struct md_error e = {0};

    cr_assert_eq(store_member_list(a, gid, collect, &la, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_member_list(b, gid, collect, &lb, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(la.n, lb.n, "members of %s: %zu vs %zu", gid, la.n, lb.n);
    for (size_t i = 0; i < la.n; i++) {
        cr_assert_str_eq(la.v[i].id, lb.v[i].id, "member %zu of %s", i, gid);
        cr_assert_eq(la.v[i].type, lb.v[i].type, "type of member %zu of %s", i, gid);
        assert_str_eq_null(la.v[i].display, lb.v[i].display, "display", la.v[i].id);
    }
    mlist_free(&la);
    mlist_free(&lb);
}

/* Every row of kind k in a, found in b with equal fields; members too for groups. */
static int64_t assert_kind_eq(struct store_conn *a, struct store_conn *b, enum store_kind k)
{
    struct store_query q = {NULL, NULL, 1, 500};
    struct store_rows rs = {0};
    struct md_error e = {0};
    int64_t seen = 0;

    for (;;) {
        cr_assert_eq(store_res_query(a, k, &q, &rs, &e), MD_OK, "%s", e.msg);
        if (rs.n == 0)
            break;
        for (size_t i = 0; i < rs.n; i++) {
            struct store_row got;
            cr_assert_eq(store_res_get(b, k, rs.rows[i].id, &got, &e), MD_OK, "%s: %s",
                         rs.rows[i].id, e.msg);
            assert_row_eq(&rs.rows[i], &got);
            store_row_free(&got);
            if (k == STORE_GROUPS)
                assert_members_eq(a, b, rs.rows[i].id);
            seen++;
        }
        q.start_index += (int64_t)rs.n;
        store_rows_free(&rs);
    }
    store_rows_free(&rs);
    return seen;
}

struct tlist {
    struct store_token v[8];
    size_t n;
};

static int collect_token(void *ctx, const struct store_token *t)
{
    struct tlist *l = ctx;

    cr_assert_lt(l->n, 8u);
    l->v[l->n++] = *t;
    return 0;
}

static void assert_tokens_eq(struct store_conn *a, struct store_conn *b, size_t want)
{
    struct tlist la = {0}, lb = {0};
    struct md_error e = {0};

    cr_assert_eq(store_token_list(a, collect_token, &la, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_token_list(b, collect_token, &lb, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(la.n, want);
    cr_assert_eq(lb.n, want);
    for (size_t i = 0; i < la.n; i++) {
        cr_assert_str_eq(la.v[i].id, lb.v[i].id);
        cr_assert_str_eq(la.v[i].kind, lb.v[i].kind, "%s", la.v[i].id);
        cr_assert_str_eq(la.v[i].name, lb.v[i].name, "%s", la.v[i].id);
        cr_assert_str_eq(la.v[i].hash, lb.v[i].hash, "%s", la.v[i].id);
        cr_assert_eq(la.v[i].created_ms, lb.v[i].created_ms, "%s", la.v[i].id);
        cr_assert_eq(la.v[i].last_used_ms, lb.v[i].last_used_ms, "%s", la.v[i].id);
        cr_assert_eq(la.v[i].revoked, lb.v[i].revoked, "%s", la.v[i].id);
        cr_assert_str_eq(la.v[i].user_id, lb.v[i].user_id, "%s", la.v[i].id);
        cr_assert_str_eq(la.v[i].pack, lb.v[i].pack, "%s", la.v[i].id);
    }
}

/* Every object of kind k in a is in b, the same to the byte, with its version and times. */
struct ocmp {
    struct store_conn *other;
    enum store_obj_kind kind;
    int64_t seen;
};

static int compare_obj(void *ctx, const struct store_obj *o)
{
    struct ocmp *w = ctx;
    struct md_error e = {0};
    struct store_obj got;

    cr_assert_eq(store_obj_get(w->other, w->kind, o->id, &got, &e), MD_OK, "%s %s: %s",
                 store_obj_kind_name(w->kind), o->id, e.msg);
    cr_assert_str_eq(got.doc, o->doc, "the document of %s as written", o->id);
    cr_assert_eq(got.version, o->version, "version of %s", o->id);
    cr_assert_eq(got.created_ms, o->created_ms, "created of %s", o->id);
    cr_assert_eq(got.modified_ms, o->modified_ms, "modified of %s", o->id);
    store_obj_free(&got);
    w->seen++;
    return 0;
}

static int64_t assert_objects_eq(struct store_conn *a, struct store_conn *b, enum store_obj_kind k)
{
    struct ocmp w = {b, k, 0};
    struct md_error e = {0};

    cr_assert_eq(store_obj_list(a, k, compare_obj, &w, &e), MD_OK, "%s", e.msg);
    return w.seen;
}

/* The source really holds what populate meant to make, so that equal copies mean something. */
static void assert_source_shape(struct store_conn *c)
{
    struct md_error e = {0};
    struct store_row r;
    struct store_obj o;
    struct store_token t;
    char hash[65];

    cr_assert_eq(store_res_get(c, STORE_USERS, "u00004", &r, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(r.version, 5);
    cr_assert(strstr(r.doc, "employeeNumber") != NULL, "%s", r.doc);
    store_row_free(&r);
    cr_assert_eq(store_res_get(c, STORE_USERS, "u00003", &r, &e), MD_OK, "%s", e.msg);
    cr_assert(!r.active);
    cr_assert_null(r.external_id);
    store_row_free(&r);
    cr_assert_eq(store_res_get(c, STORE_GROUPS, "g01", &r, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(r.version, 2);
    store_row_free(&r);
    memset(hash, 'b', 64);
    hash[64] = '\0';
    cr_assert_eq(store_token_find(c, hash, &t, &e), MD_ERR_NOTFOUND, "revoked token found");
    memset(hash, 'd', 64);
    cr_assert_eq(store_token_find(c, hash, &t, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(t.pack, "readonly");
    cr_assert_eq(store_obj_get(c, STORE_OBJ_PACK, "readonly", &o, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(o.version, 2);
    cr_assert_geq(o.modified_ms, o.created_ms);
    store_obj_free(&o);
    cr_assert_eq(store_obj_get(c, STORE_OBJ_CONNECTOR, "github", &o, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(o.version, 3);
    store_obj_free(&o);
}

/* Compares everything; the counts are what populate made. */
static void assert_copy(struct store *src, struct store *dst, const struct made *m,
                        const struct store_migrate_counts *n)
{
    struct store_conn *a = take(src), *b = take(dst);
    struct md_error e = {0};
    struct store_token t;
    char hash[65];

    assert_source_shape(a);
    cr_assert_eq(n->users, N_USERS);
    cr_assert_eq(n->groups, N_GROUPS);
    cr_assert_eq(n->members, m->members);
    cr_assert_eq(n->tokens, N_TOKENS);
    for (int k = 0; k < STORE_OBJ__COUNT; k++) {
        cr_assert_eq(n->objects[k], N_OBJECTS[k], "%s", store_obj_kind_name(k));
        cr_assert_eq(assert_objects_eq(a, b, (enum store_obj_kind)k), N_OBJECTS[k]);
        cr_assert_eq(assert_objects_eq(b, a, (enum store_obj_kind)k), N_OBJECTS[k]);
    }
    cr_assert_eq(assert_kind_eq(a, b, STORE_USERS), N_USERS);
    cr_assert_eq(assert_kind_eq(a, b, STORE_GROUPS), N_GROUPS);
    /* And the other way round: the target holds nothing more. */
    cr_assert_eq(assert_kind_eq(b, a, STORE_USERS), N_USERS);
    cr_assert_eq(assert_kind_eq(b, a, STORE_GROUPS), N_GROUPS);
    assert_tokens_eq(a, b, N_TOKENS);
    /* The identity provider's token is found on the target; the revoked one is not. */
    memset(hash, 'a', 64);
    hash[64] = '\0';
    cr_assert_eq(store_token_find(b, hash, &t, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(t.id, "t-okta");
    memset(hash, 'b', 64);
    cr_assert_eq(store_token_find(b, hash, &t, &e), MD_ERR_NOTFOUND);
    store_release(a);
    store_release(b);
}

/* ---- progress ---- */

struct event {
    enum store_migrate_phase phase;
    int64_t done, total;
};

struct events {
    struct event v[256];
    size_t n;
};

static void record(void *ctx, enum store_migrate_phase p, int64_t done, int64_t total)
{
    struct events *ev = ctx;

    cr_assert_lt(ev->n, 256u);
    ev->v[ev->n++] = (struct event){p, done, total};
}

/* ---- tests ---- */

Test(test_migrate, copies_every_row_of_a_populated_sqlite_store)
{
    struct store *src = open_store(src_path, 2), *dst = open_store(dst_path, 2);
    struct store_migrate_counts n;
    struct md_error e = {0};
    struct made m = populate(src);

    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_OK, "%s", e.msg);
    assert_copy(src, dst, &m, &n);
    store_close(dst);
    store_close(src);

    /* What was committed is on disk: a fresh open sees the same. */
    src = open_store(src_path, 2);
    dst = open_store(dst_path, 2);
    assert_copy(src, dst, &m, &n);
    store_close(dst);
    store_close(src);
}

Test(test_migrate, progress_runs_through_each_phase_in_order)
{
    struct store *src = open_store(src_path, 2), *dst = open_store(dst_path, 2);
    static struct events ev;
    struct store_migrate_counts n;
    struct md_error e = {0};
    struct made m = populate(src);
    const int64_t totals[] = {N_USERS, N_GROUPS, m.members, N_TOKENS, 2 + 1 + 3 + N_GRANTS, 0};
    size_t i, starts = 0;
    bool saw_users_page = false, saw_objects_batch = false;

    ev.n = 0;
    cr_assert_eq(store_migrate(src, dst, record, &ev, &n, &e), MD_OK, "%s", e.msg);
    cr_assert_gt(ev.n, 8u);
    for (i = 0; i < ev.n; i++) {
        const struct event *x = &ev.v[i];
        cr_assert_eq(x->total, totals[x->phase], "phase %d total %lld", (int)x->phase,
                     (long long)x->total);
        cr_assert_leq(x->done, x->total);
        if (x->done == 0 && (i == 0 || ev.v[i - 1].phase != x->phase)) {
            cr_assert_eq((size_t)x->phase, starts, "phase %d started out of order", (int)x->phase);
            starts++;
        } else {
            cr_assert_eq(x->phase, ev.v[i - 1].phase);
            cr_assert_geq(x->done, ev.v[i - 1].done, "progress went back");
        }
        if (i + 1 == ev.n || ev.v[i + 1].phase != x->phase)
            cr_assert_eq(x->done, x->total, "phase %d ended at %lld", (int)x->phase,
                         (long long)x->done);
        if (x->phase == STORE_MIGRATE_USERS && x->done == 2 * STORE_MIGRATE_BATCH)
            saw_users_page = true;
        if (x->phase == STORE_MIGRATE_OBJECTS && x->done == STORE_MIGRATE_BATCH)
            saw_objects_batch = true;
    }
    cr_assert_eq(starts, 6u);
    cr_assert(saw_users_page, "no progress between the pages of users");
    cr_assert(saw_objects_batch, "no progress between the batches of objects");
    store_close(dst);
    store_close(src);
}

Test(test_migrate, refuses_a_target_that_is_not_empty)
{
    struct store *src = open_store(src_path, 2), *dst = open_store(dst_path, 2);
    struct store_conn *c;
    struct md_error e = {0};
    struct store_migrate_counts n;
    int64_t users = -1;
    struct store_query q = {NULL, NULL, 1, 0};
    struct store_rows rs = {0};

    populate(src);
    /* A token alone is enough to refuse. */
    c = take(dst);
    add_token(c, "t-there", "scim", "there", 'd', BASE_MS, 0, false);
    store_release(c);
    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "the target database is not empty") != NULL, "%s", e.msg);
    cr_assert_eq(n.users, 0);
    c = take(dst);
    cr_assert_eq(store_res_query(c, STORE_USERS, &q, &rs, &e), MD_OK, "%s", e.msg);
    users = rs.total;
    store_rows_free(&rs);
    store_release(c);
    cr_assert_eq(users, 0, "a refused copy wrote %lld users", (long long)users);

    /* An access object alone is enough too. */
    store_close(dst);
    remove_db(dst_path);
    dst = open_store(dst_path, 2);
    c = take(dst);
    put_obj(c, STORE_OBJ_GRANT, "there", "{}", 1, BASE_MS, BASE_MS);
    store_release(c);
    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "1 access objects") != NULL, "%s", e.msg);

    /* A source migrated once cannot be migrated again into the same target. */
    store_close(dst);
    remove_db(dst_path);
    dst = open_store(dst_path, 2);
    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "the target database is not empty") != NULL, "%s", e.msg);
    /* Nor the other way round, into a populated source. */
    cr_assert_eq(store_migrate(dst, src, NULL, NULL, &n, &e), MD_ERR_VALUE);
    cr_assert_eq(store_migrate(src, src, NULL, NULL, &n, &e), MD_ERR_VALUE);
    store_close(dst);
    store_close(src);
}

/* Writes a user (or, at the objects, a grant) into the target behind the copy's back, when
 * phase starts. */
struct sneak {
    struct store *dst;
    enum store_migrate_phase phase;
    bool done;
};

static void sneak_in(void *ctx, enum store_migrate_phase p, int64_t done, int64_t total)
{
    struct sneak *s = ctx;
    struct store_conn *c;
    struct md_error e = {0};
    struct store_row r;

    (void)total;
    if (s->done || p != s->phase || done != 0)
        return;
    s->done = true;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "intruder");
    r.user_name = mut("intruder@example.com");
    r.doc = mut("{}");
    c = take(s->dst);
    if (p == STORE_MIGRATE_OBJECTS)
        put_obj(c, STORE_OBJ_GRANT, "intruder", "{}", 1, 1, 1);
    else
        cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_OK, "%s", e.msg);
    store_release(c);
}

Test(test_migrate, a_count_that_differs_after_the_copy_is_an_error)
{
    struct store *src = open_store(src_path, 2), *dst = open_store(dst_path, 2);
    struct sneak s = {dst, STORE_MIGRATE_TOKENS, false};
    struct store_migrate_counts n;
    struct md_error e = {0};

    populate(src);
    cr_assert_eq(store_migrate(src, dst, sneak_in, &s, &n, &e), MD_ERR_INTERNAL);
    cr_assert(s.done);
    cr_assert(strstr(e.msg, "users 2345 in the source, 2346 in the target") != NULL, "%s", e.msg);
    /* And for access objects, by kind. */
    store_close(dst);
    remove_db(dst_path);
    dst = open_store(dst_path, 2);
    s = (struct sneak){dst, STORE_MIGRATE_OBJECTS, false};
    cr_assert_eq(store_migrate(src, dst, sneak_in, &s, &n, &e), MD_ERR_INTERNAL);
    cr_assert(s.done);
    cr_assert(strstr(e.msg, "grants 1234 in the source, 1235 in the target") != NULL, "%s", e.msg);
    store_close(dst);
    store_close(src);
}

Test(test_migrate, an_empty_source_copies_nothing)
{
    struct store *src = open_store(src_path, 1), *dst = open_store(dst_path, 1);
    struct store_migrate_counts n = {1, 1, 1, 1, {1, 1, 1, 1}, 1};
    struct md_error e = {0};
    static struct events ev;

    ev.n = 0;
    cr_assert_eq(store_migrate(src, dst, record, &ev, &n, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(n.users + n.groups + n.members + n.tokens, 0);
    for (int k = 0; k < STORE_OBJ__COUNT; k++)
        cr_assert_eq(n.objects[k], 0);
    cr_assert_eq(n.audit_events, 0);
    /* Each phase still starts and ends. */
    cr_assert_eq(ev.n, 12u);
    for (size_t i = 0; i < ev.n; i++)
        cr_assert_eq(ev.v[i].done, 0);
    store_close(dst);
    store_close(src);
}

/*
 * A member whose display the client did not send shows the member's current name; the copy
 * must go on following renames, and a display that was sent must stay as sent.
 */
Test(test_migrate, derived_member_displays_follow_renames_on_the_target)
{
    struct store *src = open_store(src_path, 2), *dst = open_store(dst_path, 2);
    struct store_migrate_counts n;
    struct md_error e = {0};
    struct store_conn *cs, *cd;
    char doc[512], un[64], dn[64], xid[32];
    struct store_row r;
    struct mlist *l = calloc(1, sizeof *l);
    int64_t v;
    int i;

    cr_assert_not_null(l);
    cs = take(src);
    for (i = 0; i < 3; i++) {
        user_row(i, &r, doc, sizeof doc, un, sizeof un, dn, sizeof dn, xid, sizeof xid);
        r.display_name = dn;
        cr_assert_eq(store_res_insert(cs, STORE_USERS, &r, &e), MD_OK, "%s", e.msg);
    }
    add_group(cs, 0);
    add_group(cs, 1);
    add_member(cs, "g00", "u00000", STORE_MEMBER_USER, NULL);
    add_member(cs, "g00", "u00001", STORE_MEMBER_USER, "Sent by Okta");
    add_member(cs, "g00", "g01", STORE_MEMBER_GROUP, NULL);
    /* Sent, and equal to the current name: looks the same either way until a rename. */
    add_member(cs, "g00", "u00002", STORE_MEMBER_USER, "User Number 2");
    store_release(cs);
    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(n.members, 4);

    cd = take(dst);
    cs = take(src);
    cr_assert_eq(store_member_list(cd, "g00", collect, l, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(l->n, 4u);
    cr_assert_str_eq(l->v[0].display, "User Number 0");
    cr_assert_str_eq(l->v[1].display, "Sent by Okta");
    cr_assert_str_eq(l->v[2].display, "Group 1");
    cr_assert_eq(l->v[2].type, STORE_MEMBER_GROUP);
    cr_assert_str_eq(l->v[3].display, "User Number 2");
    mlist_free(l);
    /* Rename users 0 and 1 and group 1 on both sides: both lists change alike. */
    for (i = 0; i < 2; i++) {
        user_row(i, &r, doc, sizeof doc, un, sizeof un, dn, sizeof dn, xid, sizeof xid);
        snprintf(dn, sizeof dn, "Renamed %d", i);
        cr_assert_eq(store_res_update(cs, STORE_USERS, &r, -1, &v, &e), MD_OK, "%s", e.msg);
        cr_assert_eq(store_res_update(cd, STORE_USERS, &r, -1, &v, &e), MD_OK, "%s", e.msg);
    }
    cr_assert_eq(store_res_get(cs, STORE_GROUPS, "g01", &r, &e), MD_OK, "%s", e.msg);
    free(r.display_name);
    r.display_name = strdup("Renamed group");
    cr_assert_eq(store_res_update(cs, STORE_GROUPS, &r, -1, &v, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_res_update(cd, STORE_GROUPS, &r, -1, &v, &e), MD_OK, "%s", e.msg);
    store_row_free(&r);
    assert_members_eq(cs, cd, "g00");
    cr_assert_eq(store_member_list(cd, "g00", collect, l, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(l->v[0].display, "Renamed 0");
    cr_assert_str_eq(l->v[1].display, "Sent by Okta");
    cr_assert_str_eq(l->v[2].display, "Renamed group");
    mlist_free(l);
    free(l);
    store_release(cs);
    store_release(cd);
    store_close(dst);
    store_close(src);
}

/* The interface change that the copy rests on: an insert keeps a version it is given. */
Test(test_migrate, insert_keeps_a_given_version_and_times)
{
    struct store *s = open_store(dst_path, 1);
    struct store_conn *c = take(s);
    struct md_error e = {0};
    struct store_row r, got;

    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "kept");
    r.user_name = mut("kept@example.com");
    r.doc = mut("{}");
    r.version = 42;
    r.created_ms = 1000;
    r.modified_ms = 2000;
    cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_res_get(c, STORE_USERS, "kept", &got, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(got.version, 42);
    cr_assert_eq(got.created_ms, 1000);
    cr_assert_eq(got.modified_ms, 2000);
    store_row_free(&got);
    snprintf(r.id, sizeof r.id, "fresh");
    r.user_name = mut("fresh@example.com");
    r.version = 0;
    r.display_name = mut("Fresh");
    cr_assert_eq(store_res_insert(c, STORE_GROUPS, &r, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_res_get(c, STORE_GROUPS, "fresh", &got, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(got.version, 1);
    store_row_free(&got);
    store_release(c);
    store_close(s);
}

Test(test_migrate, urls_lose_their_passwords)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"postgres://mandate:s3cr3t@db.internal:5432/mandate",
         "postgres://db.internal:5432/mandate"},
        {"postgresql://user@host/db", "postgresql://host/db"},
        {"postgres://u:p@ss@h/db", "postgres://h/db"},
        {"postgres://h/db?sslmode=require&password=s3cr3t&application_name=x",
         "postgres://h/db?sslmode=require&password=***&application_name=x"},
        {"postgres://h/db?sslpassword=k#frag", "postgres://h/db?sslpassword=***#frag"},
        {"postgres://u:pw@h", "postgres://h"},
        {"postgres://h/db#a@b", "postgres://h/db#a@b"},
        {"sqlite:/var/lib/mandate/mandate.db", "sqlite:/var/lib/mandate/mandate.db"},
        {"./var/mandate.db", "./var/mandate.db"},
        {"", ""},
    };
    char out[128], small[12];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        store_url_redact(cases[i].in, out, sizeof out);
        cr_assert_str_eq(out, cases[i].out, "for %s", cases[i].in);
    }
    store_url_redact("postgres://u:secret@hostname.example.com/db", small, sizeof small);
    cr_assert_str_eq(small, "postgres://");
    store_url_redact(NULL, out, sizeof out);
    cr_assert_str_eq(out, "");
    cr_assert_str_eq(store_migrate_phase_name(STORE_MIGRATE_MEMBERS), "memberships");
    cr_assert_str_eq(store_migrate_phase_name(STORE_MIGRATE_OBJECTS), "access objects");
}

/* ---- SQLite into PostgreSQL ---- */

/* base with its database name (the path) replaced by name. */
static void pg_url_with_db(const char *base, const char *name, char *out, size_t n)
{
    const char *auth = strstr(base, "://");
    const char *path, *query;

    cr_assert_not_null(auth, "MANDATE_TEST_PG is not a URL");
    auth += 3;
    path = auth + strcspn(auth, "/?");
    query = strchr(path, '?');
    snprintf(out, n, "%.*s/%s%s", (int)(path - base), base, name, query ? query : "");
}

static int psql(const char *url, const char *sql)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd,
             "PGOPTIONS='-c client_min_messages=warning' psql '%s' -v ON_ERROR_STOP=1 -qAtc '%s' "
             ">/dev/null",
             url, sql);
    return system(cmd);
}

Test(test_migrate, sqlite_into_postgresql)
{
    const char *pg = getenv("MANDATE_TEST_PG");
    struct store *src, *dst = NULL;
    struct store_migrate_counts n;
    struct md_error e = {0};
    char name[64], url[512], sql[128];
    struct made m;
    enum md_err rc;

    if (!pg || !*pg)
        cr_skip_test("MANDATE_TEST_PG is not set: SQLite into PostgreSQL not tested");
    cr_assert_lt(strlen(pg), 400u);
    cr_assert_null(strchr(pg, '\''), "MANDATE_TEST_PG holds a quote");
    snprintf(name, sizeof name, "mandate_migrate_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "drop database if exists %s", name);
    psql(pg, sql);
    snprintf(sql, sizeof sql, "create database %s", name);
    cr_assert_eq(psql(pg, sql), 0, "psql could not create database %s", name);
    pg_url_with_db(pg, name, url, sizeof url);
    rc = store_open(url, 2, &dst, &e);
    if (rc == MD_ERR_UNSUPPORTED) {
        snprintf(sql, sizeof sql, "drop database %s", name);
        psql(pg, sql);
        cr_skip_test("this build has no PostgreSQL backend yet: %s", e.msg);
    }
    cr_assert_eq(rc, MD_OK, "%s", e.msg);
    src = open_store(src_path, 2);
    m = populate(src);
    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_OK, "%s", e.msg);
    assert_copy(src, dst, &m, &n);
    cr_assert_eq(store_migrate(src, dst, NULL, NULL, &n, &e), MD_ERR_VALUE);
    store_close(src);
    store_close(dst);
    snprintf(sql, sizeof sql, "drop database %s", name);
    cr_assert_eq(psql(pg, sql), 0);
}
