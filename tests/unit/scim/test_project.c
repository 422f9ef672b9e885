/* Unit tests for src/scim/project.c: attributes / excludedAttributes lists and projection. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "scim/project.h"
#include "scim/schema.h"

#define ENT SCIM_URN_ENTERPRISE

/* A full User as the handlers render it before projection. */
static const char *const full_user =
    "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],"
    "\"id\":\"u1\",\"externalId\":\"ext-1\",\"userName\":\"bjensen\","
    "\"name\":{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"},"
    "\"displayName\":\"Babs\",\"active\":true,\"password\":\"hunter2\","
    "\"emails\":[{\"value\":\"b@example.com\",\"type\":\"work\",\"primary\":true},"
    "{\"value\":\"b@home.org\",\"type\":\"home\"}],"
    "\"groups\":[{\"value\":\"g1\",\"display\":\"Sales\"}],"
    "\"" ENT
    "\":{\"department\":\"Sales\",\"manager\":{\"value\":\"m1\",\"displayName\":\"Boss\"}},"
    "\"meta\":{\"resourceType\":\"User\",\"created\":\"2020-01-01T00:00:00Z\","
    "\"lastModified\":\"2020-01-02T00:00:00Z\",\"location\":\"http://h/Users/u1\","
    "\"version\":\"W/\\\"1\\\"\"}}";

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);

    cr_assert_not_null(v, "bad test JSON: %s", je.text);
    return v;
}

static struct scim_attr_list *list(const struct scim_rtype *rt, const char *text)
{
    struct scim_attr_list *l = NULL;
    struct md_error e = {0};

    cr_assert_eq(scim_attr_list_parse(rt, text, &l, &e), MD_OK, "%s: %s", text, e.msg);
    return l;
}

/* Projects res_text with the two lists and compares with want_text. */
static void check(const struct scim_rtype *rt, const char *res_text, const char *attrs,
                  const char *excluded, const char *want_text)
{
    json_t *res = load(res_text), *want = load(want_text);
    struct scim_attr_list *a = list(rt, attrs), *x = list(rt, excluded);
    char *got;

    scim_project(rt, res, a, x);
    got = json_dumps(res, JSON_SORT_KEYS);
    cr_expect(json_equal(res, want), "attributes=%s excluded=%s gave %s", attrs ? attrs : "-",
              excluded ? excluded : "-", got);
    free(got);
    scim_attr_list_free(a);
    scim_attr_list_free(x);
    json_decref(res);
    json_decref(want);
}

Test(test_project, no_lists_drops_only_password)
{
    json_t *want = load(full_user);

    json_object_del(want, "password");
    char *w = json_dumps(want, 0);
    check(&scim_rtype_user, full_user, NULL, NULL, w);
    free(w);
    json_decref(want);
}

Test(test_project, attributes_keep_named_and_always)
{
    check(&scim_rtype_user, full_user, "userName", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"bjensen\"}");
}

Test(test_project, attributes_case_insensitive_and_spaces)
{
    check(&scim_rtype_user, full_user, " USERNAME , Name.FamilyName ", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"bjensen\","
          "\"name\":{\"familyName\":\"Jensen\"}}");
}

Test(test_project, attributes_whole_complex_beats_sub)
{
    check(&scim_rtype_user, full_user, "name.givenName,name", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\","
          "\"name\":{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"}}");
}

Test(test_project, attributes_sub_of_multi_valued)
{
    check(&scim_rtype_user, full_user, "emails.value", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\","
          "\"emails\":[{\"value\":\"b@example.com\"},{\"value\":\"b@home.org\"}]}");
}

Test(test_project, attributes_sub_absent_everywhere_drops_attribute)
{
    check(&scim_rtype_user, full_user, "emails.display,userName", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"bjensen\"}");
}

Test(test_project, attributes_bracket_suffix_microsoft)
{
    check(&scim_rtype_user, full_user, "emails[type eq \"work\"]", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\","
          "\"emails\":[{\"value\":\"b@example.com\",\"type\":\"work\",\"primary\":true},"
          "{\"value\":\"b@home.org\",\"type\":\"home\"}]}");
    /* A comma inside the brackets does not split the list. */
    check(&scim_rtype_user, full_user, "emails[type eq \"a,b\"].value,displayName", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"displayName\":\"Babs\","
          "\"emails\":[{\"value\":\"b@example.com\"},{\"value\":\"b@home.org\"}]}");
}

Test(test_project, attributes_meta_sub)
{
    check(&scim_rtype_user, full_user, "meta.created", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\","
          "\"meta\":{\"created\":\"2020-01-01T00:00:00Z\"}}");
}

Test(test_project, attributes_unknown_ignored)
{
    check(&scim_rtype_user, full_user, "nosuch,name.nosuch,userName", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"bjensen\"}");
    /* A list of only unknown names still restricts to the always-returned attributes. */
    check(&scim_rtype_user, full_user, "nosuch", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\"}");
    /* So does one whose only name is too long to be an attribute. */
    char long_name[1200];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    check(&scim_rtype_user, full_user, long_name, NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\"}");
}

Test(test_project, attributes_password_never)
{
    check(&scim_rtype_user, full_user, "password,userName", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"bjensen\"}");
}

Test(test_project, attributes_extension_attribute)
{
    check(&scim_rtype_user, full_user, ENT ":department", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
          "\"" ENT "\":{\"department\":\"Sales\"}}");
    check(&scim_rtype_user, full_user, ENT ":manager.value", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
          "\"" ENT "\":{\"manager\":{\"value\":\"m1\"}}}");
    /* Unqualified extension attribute names resolve too. */
    check(&scim_rtype_user, full_user, "Department", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
          "\"" ENT "\":{\"department\":\"Sales\"}}");
}

Test(test_project, attributes_whole_extension_by_urn)
{
    check(&scim_rtype_user, full_user, ENT, NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
          "\"" ENT "\":{\"department\":\"Sales\",\"manager\":{\"value\":\"m1\","
          "\"displayName\":\"Boss\"}}}");
}

Test(test_project, qualified_core_attribute)
{
    check(&scim_rtype_user, full_user, SCIM_URN_USER ":userName", NULL,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"bjensen\"}");
}

Test(test_project, excluded_removes_named)
{
    check(&scim_rtype_user,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"b\","
          "\"emails\":[{\"value\":\"x\"}],\"meta\":{\"created\":\"2020-01-01T00:00:00Z\"}}",
          NULL, "emails,META",
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"b\"}");
}

Test(test_project, excluded_never_removes_always)
{
    check(&scim_rtype_user,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"b\"}", NULL,
          "id,schemas,userName", "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\"}");
}

Test(test_project, excluded_sub_attribute)
{
    check(&scim_rtype_user,
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\","
          "\"name\":{\"givenName\":\"B\",\"familyName\":\"J\"},"
          "\"emails\":[{\"value\":\"x\",\"type\":\"work\"},{\"type\":\"home\"}]}",
          NULL, "name.familyName,emails.type",
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"name\":{\"givenName\":\"B\"},"
          "\"emails\":[{\"value\":\"x\"}]}");
}

Test(test_project, excluded_empties_extension)
{
    check(&scim_rtype_user,
          "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
          "\"" ENT "\":{\"department\":\"Sales\"}}",
          NULL, ENT ":department", "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\"}");
    check(&scim_rtype_user,
          "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
          "\"" ENT "\":{\"department\":\"Sales\",\"costCenter\":\"c\"}}",
          NULL, ENT, "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\"}");
}

Test(test_project, group_members)
{
    const char *g = "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g1\",\"displayName\":\"S\","
                    "\"members\":[{\"value\":\"u1\",\"display\":\"B\",\"type\":\"User\"}],"
                    "\"meta\":{\"resourceType\":\"Group\"}}";

    check(&scim_rtype_group, g, "displayName", NULL,
          "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g1\",\"displayName\":\"S\"}");
    check(&scim_rtype_group, g, NULL, "members",
          "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g1\",\"displayName\":\"S\","
          "\"meta\":{\"resourceType\":\"Group\"}}");
    check(&scim_rtype_group, g, "members.value", NULL,
          "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g1\",\"members\":[{\"value\":\"u1\"}]}");
}

Test(test_project, attributes_win_over_excluded)
{
    check(&scim_rtype_user, full_user, "userName", "userName",
          "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"u1\",\"userName\":\"bjensen\"}");
}

/* A made-up resource type with returned=request attributes, which the core tables lack. */
static const struct scim_attr req_subs[] = {
    {.name = "plain", .type = SCIM_T_STRING},
    {.name = "hidden", .type = SCIM_T_STRING, .returned = SCIM_RET_REQUEST},
    {.name = "secret", .type = SCIM_T_STRING, .returned = SCIM_RET_NEVER},
    {.name = NULL},
};
static const struct scim_attr req_attrs[] = {
    {.name = "shown", .type = SCIM_T_STRING},
    {.name = "onRequest", .type = SCIM_T_STRING, .returned = SCIM_RET_REQUEST},
    {.name = "box", .type = SCIM_T_COMPLEX, .subs = req_subs},
    {.name = NULL},
};
static const struct scim_schema req_schema = {
    .id = "urn:test:Thing", .name = "Thing", .attrs = req_attrs};
static const struct scim_schema *const req_ext[] = {NULL};
static const struct scim_rtype req_rtype = {.id = "Thing",
                                            .name = "Thing",
                                            .endpoint = "/Things",
                                            .schema = &req_schema,
                                            .extensions = req_ext};

Test(test_project, returned_request)
{
    const char *t =
        "{\"schemas\":[\"urn:test:Thing\"],\"id\":\"t\",\"shown\":\"s\","
        "\"onRequest\":\"r\",\"box\":{\"plain\":\"p\",\"hidden\":\"h\",\"secret\":\"s\"}}";

    check(&req_rtype, t, NULL, NULL,
          "{\"schemas\":[\"urn:test:Thing\"],\"id\":\"t\",\"shown\":\"s\","
          "\"box\":{\"plain\":\"p\"}}");
    check(&req_rtype, t, "onRequest,box.hidden", NULL,
          "{\"schemas\":[\"urn:test:Thing\"],\"id\":\"t\",\"onRequest\":\"r\","
          "\"box\":{\"hidden\":\"h\"}}");
    check(&req_rtype, t, "box.secret,shown", NULL,
          "{\"schemas\":[\"urn:test:Thing\"],\"id\":\"t\",\"shown\":\"s\"}");
    check(&req_rtype, t, "box", NULL,
          "{\"schemas\":[\"urn:test:Thing\"],\"id\":\"t\","
          "\"box\":{\"plain\":\"p\",\"hidden\":\"h\"}}");
}

Test(test_project, parse_empty_is_no_list)
{
    struct scim_attr_list *l = (struct scim_attr_list *)&l;
    struct md_error e = {0};

    cr_assert_eq(scim_attr_list_parse(&scim_rtype_user, NULL, &l, &e), MD_OK);
    cr_expect_null(l);
    l = (struct scim_attr_list *)&l;
    cr_assert_eq(scim_attr_list_parse(&scim_rtype_user, "", &l, &e), MD_OK);
    cr_expect_null(l);
    l = (struct scim_attr_list *)&l;
    cr_assert_eq(scim_attr_list_parse(&scim_rtype_user, " , ,", &l, &e), MD_OK);
    cr_expect_null(l);
}

Test(test_project, parse_too_long)
{
    struct scim_attr_list *l = NULL;
    struct md_error e = {0};
    size_t n = 10000;
    char *text = malloc(n + 1);

    cr_assert_not_null(text);
    memset(text, 'a', n);
    text[n] = '\0';
    cr_expect_eq(scim_attr_list_parse(&scim_rtype_user, text, &l, &e), MD_ERR_VALUE);
    cr_expect_null(l);
    free(text);
}

Test(test_project, names)
{
    struct scim_attr_list *l = list(&scim_rtype_group, "members.value,displayName");

    cr_expect(scim_attr_list_names(l, "members"));
    cr_expect(scim_attr_list_names(l, "MEMBERS"));
    cr_expect(scim_attr_list_names(l, "displayName"));
    cr_expect_not(scim_attr_list_names(l, "externalId"));
    cr_expect_not(scim_attr_list_names(NULL, "members"));
    scim_attr_list_free(l);

    l = list(&scim_rtype_user, ENT ":manager.value,groups");
    cr_expect(scim_attr_list_names(l, "groups"));
    /* manager is an extension attribute, not a core one. */
    cr_expect_not(scim_attr_list_names(l, "manager"));
    scim_attr_list_free(l);
}
