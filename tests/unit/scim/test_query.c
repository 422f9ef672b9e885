/* Unit tests for src/scim/query.c: SCIM filters and sortBy compiled to store predicates. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/str.h"
#include "core/time.h"

#include "scim/filter.h"
#include "scim/query.h"
#include "scim/schema.h"
#include "store/store.h"

#define ENT SCIM_URN_ENTERPRISE

/* Parses and compiles text for rt; returns the compile result, *q set on success. */
static enum md_err compile(const struct scim_rtype *rt, const char *text, struct scim_query **q,
                           struct md_error *e)
{
    struct filter_node *f = NULL;
    enum md_err err;

    memset(e, 0, sizeof *e);
    *q = NULL;
    err = scim_filter_parse(text, strlen(text), &f, e);
    cr_assert_eq(err, MD_OK, "parse %s: %s", text, e->msg);
    err = scim_query_compile(rt, f, q, e);
    /* The query must not borrow from the filter tree: free it before anyone looks. */
    scim_filter_free(f);
    if (err != MD_OK)
        cr_expect_null(*q);
    return err;
}

/* Compiles text, which must succeed, and returns its predicate. */
static const struct store_pred *ok(const struct scim_rtype *rt, const char *text,
                                   struct scim_query **q)
{
    struct md_error e;

    cr_assert_eq(compile(rt, text, q, &e), MD_OK, "%s: %s", text, e.msg);
    cr_assert_not_null(scim_query_where(*q), "%s", text);
    return scim_query_where(*q);
}

/* Compiling text must fail with MD_ERR_FILTER and a message containing part. */
static void fails(const struct scim_rtype *rt, const char *text, const char *part)
{
    struct scim_query *q;
    struct md_error e;

    cr_expect_eq(compile(rt, text, &q, &e), MD_ERR_FILTER, "%s compiled", text);
    cr_expect(strstr(e.msg, part) != NULL, "%s: message '%s' lacks '%s'", text, e.msg, part);
    scim_query_free(q);
}

static void expect_path(const struct store_pred *p, int n, const char *p0, const char *p1,
                        const char *p2)
{
    const char *want[3] = {p0, p1, p2};
    int i;

    cr_assert_eq(p->npath, n);
    for (i = 0; i < n; i++)
        cr_expect_str_eq(p->path[i], want[i]);
}

static void expect_str_cmp(const struct store_pred *p, enum store_col col, enum store_cmp cmp,
                           const char *s, bool case_exact)
{
    cr_assert_eq(p->kind, SP_CMP);
    cr_expect_eq(p->col, col);
    cr_expect_eq(p->cmp, cmp);
    cr_assert_eq(p->vtype, SV_STRING);
    cr_expect_str_eq(p->str, s);
    cr_expect_eq(p->case_exact, case_exact);
}

Test(test_query, no_filter)
{
    struct scim_query *q = NULL;
    struct md_error e = {0};

    cr_assert_eq(scim_query_compile(&scim_rtype_user, NULL, &q, &e), MD_OK);
    cr_expect_null(scim_query_where(q));
    cr_expect_null(scim_query_sort_spec(q));
    scim_query_free(q);
}

Test(test_query, indexed_columns)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_user, "userName eq \"A@x\"", &q);
    expect_str_cmp(p, SCOL_USER_NAME, SC_EQ, "A@x", false);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "ID eq \"abc\"", &q);
    expect_str_cmp(p, SCOL_ID, SC_EQ, "abc", true);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "externalId sw \"e-\"", &q);
    expect_str_cmp(p, SCOL_EXTERNAL_ID, SC_SW, "e-", true);
    scim_query_free(q);

    p = ok(&scim_rtype_group, "displayName co \"sal\"", &q);
    expect_str_cmp(p, SCOL_DISPLAY_NAME, SC_CO, "sal", false);
    scim_query_free(q);

    p = ok(&scim_rtype_user, SCIM_URN_USER ":displayName ew \"s\"", &q);
    expect_str_cmp(p, SCOL_DISPLAY_NAME, SC_EW, "s", false);
    scim_query_free(q);

    /* Microsoft's bareword value. */
    p = ok(&scim_rtype_user, "userName sw O", &q);
    expect_str_cmp(p, SCOL_USER_NAME, SC_SW, "O", false);
    scim_query_free(q);

    /* A number literal against a string attribute compares as its text. */
    p = ok(&scim_rtype_user, "externalId eq 12345", &q);
    expect_str_cmp(p, SCOL_EXTERNAL_ID, SC_EQ, "12345", true);
    scim_query_free(q);
}

Test(test_query, booleans)
{
    static const char *const texts[] = {"active eq true", "active eq \"True\"",
                                        "active eq \"TRUE\"", "active ne false",
                                        "active ne \"False\""};
    struct scim_query *q;
    const struct store_pred *p;
    size_t i;

    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        p = ok(&scim_rtype_user, texts[i], &q);
        cr_assert_eq(p->kind, SP_CMP);
        cr_expect_eq(p->col, SCOL_ACTIVE, "%s", texts[i]);
        cr_assert_eq(p->vtype, SV_BOOL, "%s", texts[i]);
        cr_expect_eq(p->b_val, i < 3, "%s", texts[i]);
        cr_expect_eq(p->cmp, i < 3 ? SC_EQ : SC_NE, "%s", texts[i]);
        scim_query_free(q);
    }
    p = ok(&scim_rtype_user, "emails[primary eq \"true\"]", &q);
    cr_assert_eq(p->kind, SP_ANY);
    cr_assert_eq(p->a->vtype, SV_BOOL);
    cr_expect(p->a->b_val);
    scim_query_free(q);

    fails(&scim_rtype_user, "active eq \"yes\"", "boolean");
    fails(&scim_rtype_user, "active eq 1", "boolean");
    fails(&scim_rtype_user, "active gt true", "gt");
    fails(&scim_rtype_user, "active co \"t\"", "co");
    fails(&scim_rtype_user, "emails.primary le false", "le");
}

Test(test_query, date_times)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_user, "meta.created gt \"2000-01-01T00:00:00Z\"", &q);
    cr_assert_eq(p->kind, SP_CMP);
    cr_expect_eq(p->col, SCOL_CREATED);
    cr_expect_eq(p->cmp, SC_GT);
    cr_assert_eq(p->vtype, SV_TIME);
    cr_expect_eq(p->ms, 946684800000LL);
    scim_query_free(q);

    /* Entra's bareword with seven fractional digits and an offset. */
    p = ok(&scim_rtype_group, "meta.lastModified ge 2015-10-10T14:38:21.8617979-07:00", &q);
    cr_expect_eq(p->col, SCOL_MODIFIED);
    cr_expect_eq(p->cmp, SC_GE);
    cr_assert_eq(p->vtype, SV_TIME);
    cr_expect_eq(p->ms, 1444513101861LL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "meta[created lt \"2000-01-01T00:00:00Z\"]", &q);
    cr_expect_eq(p->col, SCOL_CREATED);
    cr_expect_eq(p->cmp, SC_LT);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "meta.created pr", &q);
    cr_expect_eq(p->col, SCOL_CREATED);
    cr_expect_eq(p->cmp, SC_PR);
    cr_expect_eq(p->vtype, SV_NONE);
    scim_query_free(q);

    fails(&scim_rtype_user, "meta.created gt \"yesterday\"", "dateTime");
    fails(&scim_rtype_user, "meta.created gt 5", "dateTime");
    fails(&scim_rtype_user, "meta.created co \"2015\"", "co");
}

Test(test_query, meta_constants_and_unsupported)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_user, "meta.resourceType eq \"User\"", &q);
    cr_expect_eq(p->kind, SP_TRUE);
    scim_query_free(q);
    p = ok(&scim_rtype_user, "meta.resourceType eq \"Group\"", &q);
    cr_expect_eq(p->kind, SP_FALSE);
    scim_query_free(q);
    /* resourceType is caseExact. */
    p = ok(&scim_rtype_group, "meta.resourceType eq \"group\"", &q);
    cr_expect_eq(p->kind, SP_FALSE);
    scim_query_free(q);
    p = ok(&scim_rtype_group, "meta.resourceType sw \"Gr\"", &q);
    cr_expect_eq(p->kind, SP_TRUE);
    scim_query_free(q);
    p = ok(&scim_rtype_group, "meta.resourceType ne \"Group\"", &q);
    cr_expect_eq(p->kind, SP_FALSE);
    scim_query_free(q);
    p = ok(&scim_rtype_user, "meta pr", &q);
    cr_expect_eq(p->kind, SP_TRUE);
    scim_query_free(q);

    fails(&scim_rtype_user, "meta.location eq \"http://x\"", "not supported");
    fails(&scim_rtype_user, "meta.version eq \"W/1\"", "not supported");
    fails(&scim_rtype_user, "meta eq \"x\"", "meta");
}

Test(test_query, document_paths)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_user, "name.familyName sw \"sm\"", &q);
    expect_str_cmp(p, SCOL_DOC, SC_SW, "sm", false);
    expect_path(p, 2, "name", "familyName", NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "NAME.GIVENNAME eq \"x\"", &q);
    expect_path(p, 2, "name", "givenName", NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "title eq null", &q);
    cr_assert_eq(p->kind, SP_CMP);
    expect_path(p, 1, "title", NULL, NULL);
    cr_expect_eq(p->cmp, SC_EQ);
    cr_expect_eq(p->vtype, SV_NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "name pr", &q);
    cr_assert_eq(p->kind, SP_CMP);
    cr_expect_eq(p->cmp, SC_PR);
    expect_path(p, 1, "name", NULL, NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "name[givenName eq \"x\" or familyName pr]", &q);
    cr_assert_eq(p->kind, SP_OR);
    expect_path(p->a, 2, "name", "givenName", NULL);
    expect_path(p->b, 2, "name", "familyName", NULL);
    cr_expect_eq(p->b->cmp, SC_PR);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "name eq null", &q);
    cr_assert_eq(p->kind, SP_CMP);
    expect_path(p, 1, "name", NULL, NULL);
    cr_expect_eq(p->vtype, SV_NULL);
    scim_query_free(q);

    fails(&scim_rtype_user, "name eq \"x\"", "complex");
    fails(&scim_rtype_user, "name gt \"x\"", "complex");
    fails(&scim_rtype_user, "title eq true", "string");
    fails(&scim_rtype_user, "title gt null", "null");
}

Test(test_query, extension_paths)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_user, ENT ":department eq \"Sales\"", &q);
    expect_str_cmp(p, SCOL_DOC, SC_EQ, "Sales", false);
    expect_path(p, 2, ENT, "department", NULL);
    scim_query_free(q);

    /* Unqualified, the extension attribute is still found, under its URN. */
    p = ok(&scim_rtype_user, "department eq \"Sales\"", &q);
    expect_path(p, 2, ENT, "department", NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, ENT ":manager.value eq \"m1\"", &q);
    expect_path(p, 3, ENT, "manager", "value");
    scim_query_free(q);

    /* A complex attribute with a value sub-attribute compares on it. */
    p = ok(&scim_rtype_user, ENT ":manager eq \"m1\"", &q);
    expect_path(p, 3, ENT, "manager", "value");
    scim_query_free(q);

    p = ok(&scim_rtype_user, ENT ":manager[value eq \"m1\"]", &q);
    expect_path(p, 3, ENT, "manager", "value");
    scim_query_free(q);
}

Test(test_query, multi_valued)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_user, "emails.value co \"@example.com\"", &q);
    cr_assert_eq(p->kind, SP_ANY);
    expect_path(p, 1, "emails", NULL, NULL);
    cr_assert_not_null(p->a);
    expect_str_cmp(p->a, SCOL_DOC, SC_CO, "@example.com", false);
    expect_path(p->a, 1, "value", NULL, NULL);
    scim_query_free(q);

    /* Without a sub-attribute, a multi-valued complex compares its value. */
    p = ok(&scim_rtype_user, "emails co \"x\"", &q);
    cr_assert_eq(p->kind, SP_ANY);
    expect_path(p, 1, "emails", NULL, NULL);
    expect_path(p->a, 1, "value", NULL, NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "emails.type eq \"work\"", &q);
    cr_assert_eq(p->kind, SP_ANY);
    expect_path(p->a, 1, "type", NULL, NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "emails pr", &q);
    cr_assert_eq(p->kind, SP_CMP);
    cr_expect_eq(p->cmp, SC_PR);
    expect_path(p, 1, "emails", NULL, NULL);
    scim_query_free(q);

    /* Without a sub-attribute, null speaks of the whole array. */
    p = ok(&scim_rtype_user, "emails ne null", &q);
    cr_assert_eq(p->kind, SP_CMP);
    expect_path(p, 1, "emails", NULL, NULL);
    cr_expect_eq(p->cmp, SC_NE);
    cr_expect_eq(p->vtype, SV_NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "emails.display eq null", &q);
    cr_assert_eq(p->kind, SP_ANY);
    expect_path(p->a, 1, "display", NULL, NULL);
    cr_expect_eq(p->a->vtype, SV_NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "emails.value pr", &q);
    cr_assert_eq(p->kind, SP_ANY);
    cr_expect_eq(p->a->cmp, SC_PR);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "emails[type eq \"work\" and value co \"@x\"]", &q);
    cr_assert_eq(p->kind, SP_ANY);
    expect_path(p, 1, "emails", NULL, NULL);
    cr_assert_eq(p->a->kind, SP_AND);
    expect_str_cmp(p->a->a, SCOL_DOC, SC_EQ, "work", false);
    expect_path(p->a->a, 1, "type", NULL, NULL);
    expect_str_cmp(p->a->b, SCOL_DOC, SC_CO, "@x", false);
    expect_path(p->a->b, 1, "value", NULL, NULL);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "addresses[not (country eq \"US\")]", &q);
    cr_assert_eq(p->kind, SP_ANY);
    cr_assert_eq(p->a->kind, SP_NOT);
    expect_path(p->a->a, 1, "country", NULL, NULL);
    scim_query_free(q);

    /* schemas is an array of strings in every document. */
    p = ok(&scim_rtype_user, "schemas eq \"" ENT "\"", &q);
    cr_assert_eq(p->kind, SP_ANY);
    expect_path(p, 1, "schemas", NULL, NULL);
    cr_assert_eq(p->a->kind, SP_CMP);
    cr_expect_eq(p->a->npath, 0);
    cr_expect_str_eq(p->a->str, ENT);
    scim_query_free(q);

    fails(&scim_rtype_user, "emails[nosuch eq \"x\"]", "unknown attribute");
    fails(&scim_rtype_user, "emails[name.givenName eq \"x\"]", "sub-attribute");
    fails(&scim_rtype_user, "userName[value eq \"x\"]", "complex");
}

Test(test_query, membership)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_group, "members eq \"u1\"", &q);
    cr_assert_eq(p->kind, SP_MEMBER);
    cr_expect_eq(p->cmp, SC_EQ);
    cr_assert_eq(p->vtype, SV_STRING);
    cr_expect_str_eq(p->str, "u1");
    scim_query_free(q);

    p = ok(&scim_rtype_group, "members.value pr", &q);
    cr_assert_eq(p->kind, SP_MEMBER);
    cr_expect_eq(p->cmp, SC_PR);
    scim_query_free(q);

    p = ok(&scim_rtype_group, "members[value eq \"a\" or value eq \"b\"]", &q);
    cr_assert_eq(p->kind, SP_OR);
    cr_expect_eq(p->a->kind, SP_MEMBER);
    cr_expect_str_eq(p->a->str, "a");
    cr_expect_eq(p->b->kind, SP_MEMBER);
    cr_expect_str_eq(p->b->str, "b");
    scim_query_free(q);

    p = ok(&scim_rtype_group, "members eq null", &q);
    cr_assert_eq(p->kind, SP_NOT);
    cr_assert_eq(p->a->kind, SP_MEMBER);
    cr_expect_eq(p->a->cmp, SC_PR);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "groups.value eq \"g1\"", &q);
    cr_assert_eq(p->kind, SP_MEMBER_OF);
    cr_expect_str_eq(p->str, "g1");
    scim_query_free(q);

    p = ok(&scim_rtype_user, "groups eq \"g1\"", &q);
    cr_assert_eq(p->kind, SP_MEMBER_OF);
    scim_query_free(q);

    fails(&scim_rtype_group, "members.display eq \"x\"", "not supported");
    fails(&scim_rtype_group, "members.type eq \"User\"", "not supported");
    fails(&scim_rtype_user, "groups.display eq \"x\"", "not supported");
    fails(&scim_rtype_group, "members[value eq \"a\" and value eq \"b\"]", "or");
    fails(&scim_rtype_group, "members gt \"a\"", "gt");
}

Test(test_query, logic)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&scim_rtype_user, "not (userName eq \"x\")", &q);
    cr_assert_eq(p->kind, SP_NOT);
    expect_str_cmp(p->a, SCOL_USER_NAME, SC_EQ, "x", false);
    scim_query_free(q);

    /* "and" binds tighter than "or". */
    p = ok(&scim_rtype_user, "userName eq \"a\" or title eq \"b\" and active eq true", &q);
    cr_assert_eq(p->kind, SP_OR);
    cr_expect_eq(p->a->col, SCOL_USER_NAME);
    cr_assert_eq(p->b->kind, SP_AND);
    expect_path(p->b->a, 1, "title", NULL, NULL);
    cr_expect_eq(p->b->b->col, SCOL_ACTIVE);
    scim_query_free(q);

    p = ok(&scim_rtype_user, "(userName eq \"a\" or title eq \"b\") and active eq true", &q);
    cr_assert_eq(p->kind, SP_AND);
    cr_expect_eq(p->a->kind, SP_OR);
    scim_query_free(q);
}

static int pred_depth(const struct store_pred *p)
{
    int a, b;

    if (!p)
        return 0;
    a = pred_depth(p->a);
    b = pred_depth(p->b);
    return 1 + (a > b ? a : b);
}

/* Appends the string values of the leaves of p, left to right, to b. */
static void pred_leaves(const struct store_pred *p, struct buf *b)
{
    if (!p)
        return;
    if (p->kind == SP_CMP && p->str) {
        buf_append_cstr(b, p->str);
        buf_append_char(b, ',');
    }
    pred_leaves(p->a, b);
    pred_leaves(p->b, b);
}

Test(test_query, long_chains_are_balanced)
{
    struct buf text, want, got;
    struct scim_query *q;
    const struct store_pred *p;
    int i;

    buf_init(&text, 0);
    buf_init(&want, 0);
    buf_init(&got, 0);
    for (i = 0; i < 200; i++) {
        buf_appendf(&text, "%sid eq \"i%d\"", i ? " or " : "", i);
        buf_appendf(&want, "i%d,", i);
    }
    cr_assert_eq(text.err, MD_OK);
    p = ok(&scim_rtype_user, text.p, &q);
    cr_expect_eq(p->kind, SP_OR);
    /* 200 leaves: a balanced tree is 9 levels deep; the parser's chain was 200. */
    cr_expect_leq(pred_depth(p), 9, "depth %d", pred_depth(p));
    pred_leaves(p, &got);
    cr_assert_eq(got.err, MD_OK);
    cr_expect_str_eq(got.p, want.p, "operands reordered");
    scim_query_free(q);
    buf_free(&text);
    buf_free(&want);
    buf_free(&got);
}

Test(test_query, unknown_attributes)
{
    fails(&scim_rtype_user, "nosuch eq \"x\"", "unknown attribute nosuch");
    fails(&scim_rtype_user, "name.nosuch eq \"x\"", "unknown attribute");
    fails(&scim_rtype_user, "userName.sub eq \"x\"", "unknown attribute");
    fails(&scim_rtype_group, "userName eq \"x\"", "unknown attribute");
    fails(&scim_rtype_user, "urn:nosuch:Schema:userName eq \"x\"", "unknown attribute");
    fails(&scim_rtype_user, SCIM_URN_GROUP ":displayName eq \"x\"", "unknown attribute");
}

/* A made-up resource type for the types the core tables lack (numbers, binary). */
static const struct scim_attr thing_attrs[] = {
    {.name = "count", .type = SCIM_T_INTEGER},
    {.name = "ratio", .type = SCIM_T_DECIMAL},
    {.name = "blob", .type = SCIM_T_BINARY, .case_exact = true},
    {.name = "when", .type = SCIM_T_DATETIME},
    {.name = NULL},
};
static const struct scim_schema thing_schema = {
    .id = "urn:test:Thing", .name = "Thing", .attrs = thing_attrs};
static const struct scim_schema *const thing_ext[] = {NULL};
static const struct scim_rtype thing_rtype = {.id = "Thing",
                                              .name = "Thing",
                                              .endpoint = "/Things",
                                              .schema = &thing_schema,
                                              .extensions = thing_ext};

Test(test_query, numbers_binary_datetime_in_document)
{
    struct scim_query *q;
    const struct store_pred *p;

    p = ok(&thing_rtype, "count ge 3", &q);
    cr_assert_eq(p->kind, SP_CMP);
    cr_expect_eq(p->col, SCOL_DOC);
    cr_expect_eq(p->cmp, SC_GE);
    cr_assert_eq(p->vtype, SV_NUMBER);
    cr_expect_float_eq(p->num, 3.0, 1e-9);
    scim_query_free(q);

    p = ok(&thing_rtype, "ratio lt 0.5", &q);
    cr_assert_eq(p->vtype, SV_NUMBER);
    cr_expect_float_eq(p->num, 0.5, 1e-9);
    scim_query_free(q);

    p = ok(&thing_rtype, "when le \"2020-01-01T00:00:00Z\"", &q);
    cr_expect_eq(p->col, SCOL_DOC);
    cr_assert_eq(p->vtype, SV_TIME);
    cr_expect_eq(p->ms, 1577836800000LL);
    scim_query_free(q);

    p = ok(&thing_rtype, "blob eq \"AAEC\"", &q);
    expect_str_cmp(p, SCOL_DOC, SC_EQ, "AAEC", true);
    scim_query_free(q);

    fails(&thing_rtype, "count co 3", "co");
    fails(&thing_rtype, "count eq \"3\"", "number");
    fails(&thing_rtype, "blob gt \"A\"", "gt");
}

static struct scim_query *empty_query(void)
{
    struct scim_query *q = NULL;
    struct md_error e = {0};

    cr_assert_eq(scim_query_compile(&scim_rtype_user, NULL, &q, &e), MD_OK);
    return q;
}

Test(test_query, sort)
{
    struct scim_query *q = empty_query();
    struct md_error e = {0};
    const struct store_sort *s;

    cr_assert_eq(scim_query_sort(q, &scim_rtype_user, "userName", NULL, &e), MD_OK, "%s", e.msg);
    s = scim_query_sort_spec(q);
    cr_assert_not_null(s);
    cr_expect_eq(s->col, SCOL_USER_NAME);
    cr_expect_not(s->descending);
    cr_expect_not(s->case_exact);

    cr_assert_eq(scim_query_sort(q, &scim_rtype_user, "name.familyName", "DESCENDING", &e), MD_OK,
                 "%s", e.msg);
    s = scim_query_sort_spec(q);
    cr_assert_not_null(s);
    cr_expect_eq(s->col, SCOL_DOC);
    cr_assert_eq(s->npath, 2);
    cr_expect_str_eq(s->path[0], "name");
    cr_expect_str_eq(s->path[1], "familyName");
    cr_expect(s->descending);

    cr_assert_eq(scim_query_sort(q, &scim_rtype_user, "meta.lastModified", "ascending", &e), MD_OK);
    s = scim_query_sort_spec(q);
    cr_expect_eq(s->col, SCOL_MODIFIED);
    cr_expect_not(s->descending);

    cr_assert_eq(scim_query_sort(q, &scim_rtype_user, ENT ":manager", NULL, &e), MD_OK);
    s = scim_query_sort_spec(q);
    cr_assert_eq(s->npath, 3);
    cr_expect_str_eq(s->path[0], ENT);
    cr_expect_str_eq(s->path[1], "manager");
    cr_expect_str_eq(s->path[2], "value");

    cr_assert_eq(scim_query_sort(q, &scim_rtype_user, "id", NULL, &e), MD_OK);
    cr_expect_eq(scim_query_sort_spec(q)->col, SCOL_ID);
    cr_expect(scim_query_sort_spec(q)->case_exact);

    cr_assert_eq(scim_query_sort(q, &scim_rtype_group, "displayName", NULL, &e), MD_OK);
    cr_expect_eq(scim_query_sort_spec(q)->col, SCOL_DISPLAY_NAME);

    /* No sortBy: the store's default order. */
    cr_assert_eq(scim_query_sort(q, &scim_rtype_user, NULL, NULL, &e), MD_OK);
    cr_expect_null(scim_query_sort_spec(q));
    scim_query_free(q);
}

Test(test_query, sort_errors)
{
    struct scim_query *q = empty_query();
    struct md_error e = {0};

    cr_expect_eq(scim_query_sort(q, &scim_rtype_user, "nosuch", NULL, &e), MD_ERR_VALUE);
    cr_expect_eq(scim_query_sort(q, &scim_rtype_user, "userName", "sideways", &e), MD_ERR_VALUE);
    cr_expect_eq(scim_query_sort(q, &scim_rtype_user, "emails", NULL, &e), MD_ERR_VALUE);
    cr_expect_eq(scim_query_sort(q, &scim_rtype_user, "emails.value", NULL, &e), MD_ERR_VALUE);
    cr_expect_eq(scim_query_sort(q, &scim_rtype_user, "name", NULL, &e), MD_ERR_VALUE);
    cr_expect_eq(scim_query_sort(q, &scim_rtype_group, "members", NULL, &e), MD_ERR_VALUE);
    cr_expect_eq(scim_query_sort(q, &scim_rtype_user, "meta.version", NULL, &e), MD_ERR_VALUE);
    cr_expect_null(scim_query_sort_spec(q));
    scim_query_free(q);
}

/* ---- End to end: compiled filters executed by the SQLite store ---- */

struct e2e {
    char dir[64];
    char path[96];
    struct store *st;
    struct store_conn *c;
};

static int64_t ms_of(const char *t)
{
    int64_t ms = 0;

    cr_assert(time_parse_rfc3339(t, &ms), "%s", t);
    return ms;
}

static void insert(struct e2e *x, enum store_kind k, const char *id, const char *doc,
                   const char *user_name, const char *display, bool active, const char *created)
{
    struct store_row r = {0};
    struct md_error e = {0};

    snprintf(r.id, sizeof r.id, "%s", id);
    r.doc = (char *)(uintptr_t)doc;
    r.user_name = (char *)(uintptr_t)user_name;
    r.display_name = (char *)(uintptr_t)display;
    r.active = active;
    r.created_ms = ms_of(created);
    r.modified_ms = r.created_ms;
    cr_assert_eq(store_res_insert(x->c, k, &r, &e), MD_OK, "insert %s: %s", id, e.msg);
}

/*
 * Three users (created in the order u2, u1, u3, which is the default result order) and one
 * group holding u1, in a fresh database in a temporary directory.
 */
static void e2e_open(struct e2e *x)
{
    struct md_error e = {0};
    bool added = false;

    memset(x, 0, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/mandate-test-query.XXXXXX");
    cr_assert_not_null(mkdtemp(x->dir));
    snprintf(x->path, sizeof x->path, "%s/db.sqlite", x->dir);
    cr_assert_eq(store_open(x->path, 1, &x->st, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_acquire(x->st, &x->c, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_begin(x->c, &e), MD_OK, "%s", e.msg);
    insert(x, STORE_USERS, "u1",
           "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"userName\":\"A@x\","
           "\"name\":{\"familyName\":\"Smith\"},\"active\":true,"
           "\"emails\":[{\"value\":\"a@example.com\",\"type\":\"work\",\"primary\":true},"
           "{\"value\":\"a@home.org\",\"type\":\"home\"}],"
           "\"" ENT "\":{\"department\":\"Sales\",\"manager\":{\"value\":\"u2\"}}}",
           "A@x", NULL, true, "2001-01-01T00:00:00Z");
    insert(x, STORE_USERS, "u2",
           "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"userName\":\"b@x\","
           "\"name\":{\"familyName\":\"Jones\"},\"active\":false,"
           "\"emails\":[{\"value\":\"b@other.com\",\"type\":\"work\"}],"
           "\"" ENT "\":{\"department\":\"Eng\"}}",
           "b@x", NULL, false, "1999-06-01T00:00:00Z");
    insert(x, STORE_USERS, "u3",
           "{\"schemas\":[\"" SCIM_URN_USER "\"],\"userName\":\"c@x\",\"title\":\"Boss\","
           "\"name\":{\"familyName\":\"smythe\"},\"active\":true,"
           "\"emails\":[{\"value\":\"c@example.com\",\"type\":\"home\"}]}",
           "c@x", NULL, true, "2010-01-01T00:00:00Z");
    insert(x, STORE_GROUPS, "g1",
           "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"Sales\"}", NULL, "Sales", true,
           "2005-01-01T00:00:00Z");
    cr_assert_eq(store_member_add(x->c, "g1", "u1", STORE_MEMBER_USER, NULL, &added, &e), MD_OK,
                 "%s", e.msg);
    cr_assert_eq(store_commit(x->c, &e), MD_OK, "%s", e.msg);
}

static void e2e_close(struct e2e *x)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char f[128];
    size_t i;

    store_release(x->c);
    store_close(x->st);
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(f, sizeof f, "%s%s", x->path, suffixes[i]);
        unlink(f);
    }
    rmdir(x->dir);
}

/* Runs filter (and sort) against kind k and returns the ids found, comma-separated. */
static char *run(struct e2e *x, const struct scim_rtype *rt, enum store_kind k, const char *filter,
                 const char *sort_by, const char *sort_order)
{
    struct filter_node *f = NULL;
    struct scim_query *q = NULL;
    struct store_query sq = {0};
    struct store_rows rows = {0};
    struct md_error e = {0};
    struct buf b;
    size_t i;

    if (filter)
        cr_assert_eq(scim_filter_parse(filter, strlen(filter), &f, &e), MD_OK, "%s: %s", filter,
                     e.msg);
    cr_assert_eq(scim_query_compile(rt, f, &q, &e), MD_OK, "%s: %s", filter, e.msg);
    cr_assert_eq(scim_query_sort(q, rt, sort_by, sort_order, &e), MD_OK, "%s", e.msg);
    sq.where = scim_query_where(q);
    sq.sort = scim_query_sort_spec(q);
    sq.start_index = 1;
    sq.count = 100;
    cr_assert_eq(store_res_query(x->c, k, &sq, &rows, &e), MD_OK, "%s: %s", filter, e.msg);
    buf_init(&b, 0);
    for (i = 0; i < rows.n; i++)
        buf_appendf(&b, "%s%s", i ? "," : "", rows.rows[i].id);
    buf_append_cstr(&b, "");
    cr_assert_eq(b.err, MD_OK);
    cr_expect_eq(rows.total, (int64_t)rows.n, "%s", filter);
    store_rows_free(&rows);
    scim_query_free(q);
    scim_filter_free(f);
    return buf_steal(&b);
}

static void expect_users(struct e2e *x, const char *filter, const char *want)
{
    char *got = run(x, &scim_rtype_user, STORE_USERS, filter, NULL, NULL);

    cr_expect_str_eq(got, want, "filter %s", filter);
    free(got);
}

Test(test_query, e2e_sqlite_filters)
{
    struct e2e x;

    e2e_open(&x);
    expect_users(&x, NULL, "u2,u1,u3");
    expect_users(&x, "userName eq \"a@X\"", "u1");
    expect_users(&x, "USERNAME Eq \"A@x\"", "u1");
    expect_users(&x, "emails[type eq \"work\" and value co \"@example.com\"]", "u1");
    expect_users(&x, "emails.value co \"@EXAMPLE.com\"", "u1,u3");
    expect_users(&x, "emails co \"@other\"", "u2");
    expect_users(&x, "emails[primary eq true]", "u1");
    expect_users(&x, "name.familyName sw \"sm\"", "u1,u3");
    expect_users(&x, "name[familyName ew \"ES\"]", "u2");
    expect_users(&x, "meta.created gt \"2000-01-01T00:00:00Z\"", "u1,u3");
    expect_users(&x, "meta.lastModified le 2001-01-01T01:00:00+01:00", "u2,u1");
    expect_users(&x, ENT ":department eq \"Sales\"", "u1");
    expect_users(&x, "department eq \"eng\"", "u2");
    expect_users(&x, ENT ":manager eq \"u2\"", "u1");
    expect_users(&x, "active eq \"False\"", "u2");
    expect_users(&x, "active eq true", "u1,u3");
    expect_users(&x, "not (userName eq \"a@x\")", "u2,u3");
    expect_users(&x, "userName eq \"b@x\" or userName eq \"c@x\" and active eq false", "u2");
    expect_users(&x, "(userName eq \"b@x\" or userName eq \"c@x\") and active eq true", "u3");
    expect_users(&x, "title pr", "u3");
    expect_users(&x, "title eq null", "u2,u1");
    expect_users(&x, "schemas eq \"" ENT "\"", "u2,u1");
    expect_users(&x, "groups eq \"g1\"", "u1");
    expect_users(&x, "meta.resourceType eq \"User\"", "u2,u1,u3");
    expect_users(&x, "meta.resourceType eq \"Group\"", "");
    expect_users(&x, "id eq \"u3\" or externalId pr", "u3");
    e2e_close(&x);
}

Test(test_query, e2e_sqlite_long_or_chain)
{
    struct e2e x;
    struct buf text;
    char *got;
    int i;

    e2e_open(&x);
    buf_init(&text, 0);
    for (i = 0; i < 150; i++)
        buf_appendf(&text, "%sid eq \"x%d\"", i ? " or " : "", i);
    buf_append_cstr(&text, " or id eq \"u2\"");
    cr_assert_eq(text.err, MD_OK);
    got = run(&x, &scim_rtype_user, STORE_USERS, text.p, NULL, NULL);
    cr_expect_str_eq(got, "u2");
    free(got);
    buf_free(&text);
    e2e_close(&x);
}

Test(test_query, e2e_sqlite_groups_and_sort)
{
    struct e2e x;
    char *got;

    e2e_open(&x);
    got = run(&x, &scim_rtype_group, STORE_GROUPS, "members eq \"u1\"", NULL, NULL);
    cr_expect_str_eq(got, "g1");
    free(got);
    got = run(&x, &scim_rtype_group, STORE_GROUPS, "members[value eq \"u2\" or value eq \"u3\"]",
              NULL, NULL);
    cr_expect_str_eq(got, "");
    free(got);
    got = run(&x, &scim_rtype_group, STORE_GROUPS, "displayName eq \"sales\"", NULL, NULL);
    cr_expect_str_eq(got, "g1");
    free(got);

    got = run(&x, &scim_rtype_user, STORE_USERS, NULL, "userName", "descending");
    cr_expect_str_eq(got, "u3,u2,u1");
    free(got);
    /* familyName is not caseExact: Jones, Smith, smythe. */
    got = run(&x, &scim_rtype_user, STORE_USERS, NULL, "name.familyName", NULL);
    cr_expect_str_eq(got, "u2,u1,u3");
    free(got);
    got = run(&x, &scim_rtype_user, STORE_USERS, "active eq true", "meta.created", "Descending");
    cr_expect_str_eq(got, "u3,u1");
    free(got);
    e2e_close(&x);
}
