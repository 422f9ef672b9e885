/*
 * Tests for src/scim/normalize.c: value canonicalisation and stored documents, driven by what
 * Okta, Entra ID and Microsoft's SCIM validator actually send.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "scim/schema.h"

#define URN_ENT SCIM_URN_ENTERPRISE

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    cr_assert_not_null(v, "bad test JSON: %s: %s", err.text, text);
    return v;
}

static char *dump(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("(null)");
}

/* Asserts that got equals the JSON text want (or that got is NULL when want is NULL). */
static void expect_json(const json_t *got, const char *want)
{
    json_t *w = want ? parse(want) : NULL;
    char *g = dump(got), *ws = dump(w);
    bool same = want ? json_equal(got, w) : got == NULL;

    cr_expect(same, "got %s, want %s", g, ws);
    free(g);
    free(ws);
    json_decref(w);
}

static const struct scim_attr *user_attr(const char *name)
{
    const struct scim_attr *a = scim_attr_find(scim_schema_user.attrs, name);
    cr_assert_not_null(a);
    return a;
}

/* Normalises text for a and compares with want (NULL: cleared); returns the code. */
static enum md_err norm_expect(const struct scim_attr *a, const char *text, const char *want)
{
    json_t *in = parse(text), *out = NULL;
    struct md_error e = {0};
    enum md_err rc = scim_value_normalize(a, in, &out, &e);

    if (rc == MD_OK)
        expect_json(out, want);
    else
        cr_expect_null(out);
    json_decref(out);
    json_decref(in);
    return rc;
}

/* Builds the stored document; *msg receives the error detail. */
static enum md_err from_json(const struct scim_rtype *rt, const char *body, json_t **doc,
                             char msg[256])
{
    json_t *in = parse(body);
    struct md_error e = {0};
    enum md_err rc = scim_resource_from_json(rt, in, doc, &e);

    if (msg)
        memcpy(msg, e.msg, sizeof e.msg);
    if (rc != MD_OK)
        cr_expect_null(*doc);
    json_decref(in);
    return rc;
}

static void doc_expect(const struct scim_rtype *rt, const char *body, const char *want)
{
    json_t *doc = NULL;
    char msg[256];
    enum md_err rc = from_json(rt, body, &doc, msg);

    cr_assert_eq(rc, MD_OK, "%s: %s", md_err_name(rc), msg);
    expect_json(doc, want);
    json_decref(doc);
}

static void doc_error(const struct scim_rtype *rt, const char *body, enum md_err want,
                      const char *msg_part)
{
    json_t *doc = NULL;
    char msg[256];
    enum md_err rc = from_json(rt, body, &doc, msg);

    cr_expect_eq(rc, want, "got %s (%s) for %s", md_err_name(rc), msg, body);
    if (msg_part)
        cr_expect(strstr(msg, msg_part) != NULL, "message \"%s\" lacks \"%s\"", msg, msg_part);
    json_decref(doc);
}

/* ---- scim_value_normalize: simple types ---- */

Test(test_normalize, strings)
{
    const struct scim_attr *a = user_attr("displayName");

    cr_expect_eq(norm_expect(a, "\"Babs\"", "\"Babs\""), MD_OK);
    cr_expect_eq(norm_expect(a, "\"\"", NULL), MD_OK);
    cr_expect_eq(norm_expect(a, "null", NULL), MD_OK);
    cr_expect_eq(norm_expect(a, "5", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(a, "true", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(a, "{\"value\": \"x\"}", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(a, "[\"x\"]", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(user_attr("profileUrl"), "\"https://x/p\"", "\"https://x/p\""), MD_OK);
}

Test(test_normalize, booleans_also_as_strings)
{
    const struct scim_attr *a = user_attr("active");

    cr_expect_eq(norm_expect(a, "true", "true"), MD_OK);
    /* false is a value, not a clear: Okta deactivates with {"active": false}. */
    cr_expect_eq(norm_expect(a, "false", "false"), MD_OK);
    cr_expect_eq(norm_expect(a, "\"True\"", "true"), MD_OK);
    cr_expect_eq(norm_expect(a, "\"False\"", "false"), MD_OK);
    cr_expect_eq(norm_expect(a, "\"true\"", "true"), MD_OK);
    cr_expect_eq(norm_expect(a, "\"FALSE\"", "false"), MD_OK);
    cr_expect_eq(norm_expect(a, "\"\"", NULL), MD_OK);
    cr_expect_eq(norm_expect(a, "\"yes\"", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(a, "1", NULL), MD_ERR_VALUE);
}

Test(test_normalize, numbers_and_datetimes)
{
    static const struct scim_attr num[] = {
        {.name = "count", .type = SCIM_T_INTEGER, .description = "c"},
        {.name = "ratio", .type = SCIM_T_DECIMAL, .description = "r"},
        {.name = "when", .type = SCIM_T_DATETIME, .description = "w"},
        {.name = NULL},
    };

    cr_expect_eq(norm_expect(&num[0], "42", "42"), MD_OK);
    cr_expect_eq(norm_expect(&num[0], "4.5", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(&num[0], "\"42\"", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(&num[1], "4.5", "4.5"), MD_OK);
    cr_expect_eq(norm_expect(&num[1], "4", "4"), MD_OK);
    cr_expect_eq(norm_expect(&num[1], "\"4.5\"", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(&num[2], "\"2026-01-23T04:56:22Z\"", "\"2026-01-23T04:56:22Z\""),
                 MD_OK);
    cr_expect_eq(
        norm_expect(&num[2], "\"2026-01-23T04:56:22.5+02:00\"", "\"2026-01-23T04:56:22.5+02:00\""),
        MD_OK);
    cr_expect_eq(norm_expect(&num[2], "\"yesterday\"", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(&num[2], "1700000000", NULL), MD_ERR_VALUE);
}

Test(test_normalize, error_names_the_attribute)
{
    json_t *in = parse("[{\"value\": 5}]"), *out = NULL;
    struct md_error e = {0};

    cr_assert_eq(scim_value_normalize(user_attr("emails"), in, &out, &e), MD_ERR_VALUE);
    cr_expect_eq(e.code, MD_ERR_VALUE);
    cr_expect(strstr(e.msg, "emails.value") != NULL, "%s", e.msg);
    cr_expect_null(out);
    json_decref(in);
}

/* ---- scim_value_normalize: complex and multi-valued ---- */

Test(test_normalize, complex_names_take_schema_spelling)
{
    cr_expect_eq(norm_expect(user_attr("name"),
                             "{\"GivenName\": \"Barbara\", \"FAMILYNAME\": \"Jensen\", "
                             "\"nickname\": \"unknown here\", \"middleName\": null}",
                             "{\"givenName\": \"Barbara\", \"familyName\": \"Jensen\"}"),
                 MD_OK);
    cr_expect_eq(norm_expect(user_attr("name"), "{}", NULL), MD_OK);
    cr_expect_eq(norm_expect(user_attr("name"), "{\"formatted\": \"\"}", NULL), MD_OK);
    cr_expect_eq(norm_expect(user_attr("name"), "\"Barbara Jensen\"", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(user_attr("name"), "{\"givenName\": 1}", NULL), MD_ERR_VALUE);
}

Test(test_normalize, entra_multi_valued_emails)
{
    cr_expect_eq(norm_expect(user_attr("emails"),
                             "[{\"Primary\": \"True\", \"Type\": \"work\", \"Value\": \"a@x.io\", "
                             "\"extra\": 1}]",
                             "[{\"primary\": true, \"type\": \"work\", \"value\": \"a@x.io\"}]"),
                 MD_OK);
}

Test(test_normalize, single_value_wrapped_and_empties_dropped)
{
    const struct scim_attr *a = user_attr("emails");

    cr_expect_eq(norm_expect(a, "{\"value\": \"a@x.io\"}", "[{\"value\": \"a@x.io\"}]"), MD_OK);
    cr_expect_eq(norm_expect(a, "[]", NULL), MD_OK);
    cr_expect_eq(norm_expect(a, "[null, {}, {\"value\": \"\"}]", NULL), MD_OK);
    cr_expect_eq(norm_expect(a, "[null, {\"value\": \"b@x.io\"}, {}]", "[{\"value\": \"b@x.io\"}]"),
                 MD_OK);
    cr_expect_eq(norm_expect(a, "\"a@x.io\"", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(a, "[[{\"value\": \"a@x.io\"}]]", NULL), MD_ERR_VALUE);
    cr_expect_eq(norm_expect(a, "[{\"primary\": \"maybe\"}]", NULL), MD_ERR_VALUE);
}

Test(test_normalize, only_the_first_primary_stays_primary)
{
    cr_expect_eq(norm_expect(user_attr("phoneNumbers"),
                             "[{\"value\": \"1\", \"primary\": false},"
                             " {\"value\": \"2\", \"primary\": true},"
                             " {\"value\": \"3\", \"primary\": \"True\"}]",
                             "[{\"value\": \"1\", \"primary\": false},"
                             " {\"value\": \"2\", \"primary\": true},"
                             " {\"value\": \"3\", \"primary\": false}]"),
                 MD_OK);
}

Test(test_normalize, enterprise_manager_forms)
{
    const struct scim_attr *m = scim_attr_find(scim_schema_enterprise_user.attrs, "manager");

    cr_expect_eq(norm_expect(m, "\"mgr-1\"", "{\"value\": \"mgr-1\"}"), MD_OK);
    cr_expect_eq(norm_expect(m, "{\"Value\": \"mgr-1\"}", "{\"value\": \"mgr-1\"}"), MD_OK);
    /* displayName is readOnly: ignored, and a manager with nothing else is a clear. */
    cr_expect_eq(
        norm_expect(m, "{\"value\": \"m\", \"displayName\": \"Boss\"}", "{\"value\": \"m\"}"),
        MD_OK);
    cr_expect_eq(norm_expect(m, "{\"displayName\": \"Boss\"}", NULL), MD_OK);
    cr_expect_eq(norm_expect(m, "\"\"", NULL), MD_OK);
    cr_expect_eq(norm_expect(m, "7", NULL), MD_ERR_VALUE);
}

Test(test_normalize, readonly_sub_attributes_dropped)
{
    cr_expect_eq(
        norm_expect(user_attr("groups"), "[{\"value\": \"g1\", \"display\": \"G\"}]", NULL), MD_OK);
}

Test(test_normalize, group_members_keep_immutable_subs)
{
    const struct scim_attr *m = scim_attr_find(scim_schema_group.attrs, "members");

    cr_expect_eq(norm_expect(m, "[{\"Value\": \"u1\", \"Display\": \"U\", \"TYPE\": \"User\"}]",
                             "[{\"value\": \"u1\", \"display\": \"U\", \"type\": \"User\"}]"),
                 MD_OK);
}

Test(test_normalize, null_arguments)
{
    json_t *out = (json_t *)1;
    struct md_error e = {0};

    cr_expect_eq(scim_value_normalize(user_attr("title"), NULL, &out, &e), MD_OK);
    cr_expect_null(out);
    cr_expect_eq(scim_value_normalize(NULL, json_null(), &out, &e), MD_ERR_INTERNAL);
    cr_expect_null(out);
}

/* ---- scim_resource_from_json: Okta ---- */

Test(test_normalize, okta_create_user)
{
    doc_expect(&scim_rtype_user,
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
               " \"userName\": \"ann@x.io\","
               " \"name\": {\"givenName\": \"Ann\", \"familyName\": \"Lee\"},"
               " \"emails\": [{\"primary\": true, \"value\": \"ann@x.io\", \"type\": \"work\"}],"
               " \"displayName\": \"Ann Lee\", \"locale\": \"en-US\", \"externalId\": \"00u1\","
               " \"groups\": [], \"password\": \"xG8#placeholder\", \"active\": true}",
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
               " \"userName\": \"ann@x.io\","
               " \"name\": {\"givenName\": \"Ann\", \"familyName\": \"Lee\"},"
               " \"emails\": [{\"primary\": true, \"value\": \"ann@x.io\", \"type\": \"work\"}],"
               " \"displayName\": \"Ann Lee\", \"locale\": \"en-US\", \"externalId\": \"00u1\","
               " \"active\": true}");
}

Test(test_normalize, okta_put_ignores_id_meta_groups)
{
    doc_expect(&scim_rtype_user,
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
               " \"id\": \"abc\", \"userName\": \"ann@x.io\", \"active\": false,"
               " \"groups\": [{\"value\": \"g1\", \"display\": \"Eng\"}],"
               " \"meta\": {\"resourceType\": \"User\", \"created\": \"2020-01-01T00:00:00Z\"}}",
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
               " \"userName\": \"ann@x.io\", \"active\": false}");
}

Test(test_normalize, schemas_absent_is_assumed)
{
    doc_expect(&scim_rtype_user, "{\"userName\": \"u\"}",
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
               " \"userName\": \"u\"}");
}

/* ---- scim_resource_from_json: Entra ID ---- */

Test(test_normalize, entra_create_user)
{
    doc_expect(&scim_rtype_user,
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
               "  \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
               " \"externalId\": \"0a21f0f2\", \"UserName\": \"Test_User@contoso.com\","
               " \"Active\": \"True\", \"displayName\": \"Test User\","
               " \"emails\": [{\"Primary\": \"true\", \"type\": \"work\","
               "   \"value\": \"Test_User@contoso.com\"}],"
               " \"meta\": {\"resourceType\": \"User\"}, \"roles\": [],"
               " \"name\": {\"formatted\": \"givenName familyName\", \"familyName\": \"f\","
               "   \"givenName\": \"g\"},"
               " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\": {"
               "   \"Department\": \"Sales\", \"Manager\": {\"Value\": \"m1\"}}}",
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
               "  \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
               " \"externalId\": \"0a21f0f2\", \"userName\": \"Test_User@contoso.com\","
               " \"active\": true, \"displayName\": \"Test User\","
               " \"emails\": [{\"primary\": true, \"type\": \"work\","
               "   \"value\": \"Test_User@contoso.com\"}],"
               " \"name\": {\"formatted\": \"givenName familyName\", \"familyName\": \"f\","
               "   \"givenName\": \"g\"},"
               " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\": {"
               "   \"department\": \"Sales\", \"manager\": {\"value\": \"m1\"}}}");
}

Test(test_normalize, entra_extension_as_top_level_keys)
{
    doc_expect(&scim_rtype_user,
               "{\"userName\": \"u\","
               " \"" URN_ENT ":department\": \"Sales\","
               " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Manager\": \"m1\","
               " \"" URN_ENT ":employeeNumber\": \"701984\"}",
               "{\"schemas\": [\"" SCIM_URN_USER "\", \"" URN_ENT "\"],"
               " \"userName\": \"u\","
               " \"" URN_ENT "\": {\"department\": \"Sales\", \"manager\": {\"value\": \"m1\"},"
               "   \"employeeNumber\": \"701984\"}}");
}

Test(test_normalize, extension_sub_attribute_keys)
{
    doc_expect(&scim_rtype_user,
               "{\"userName\": \"u\", \"" URN_ENT ":manager.value\": \"m2\","
               " \"" URN_ENT ":manager.displayName\": \"ignored\","
               " \"" SCIM_URN_USER ":name.givenName\": \"G\"}",
               "{\"schemas\": [\"" SCIM_URN_USER "\", \"" URN_ENT "\"], \"userName\": \"u\","
               " \"name\": {\"givenName\": \"G\"},"
               " \"" URN_ENT "\": {\"manager\": {\"value\": \"m2\"}}}");
}

Test(test_normalize, nested_and_top_level_extension_keys_merge)
{
    doc_expect(&scim_rtype_user,
               "{\"userName\": \"u\", \"" URN_ENT
               "\": {\"department\": \"A\", \"division\": \"D\"},"
               " \"" URN_ENT ":department\": \"B\"}",
               "{\"schemas\": [\"" SCIM_URN_USER "\", \"" URN_ENT "\"], \"userName\": \"u\","
               " \"" URN_ENT "\": {\"department\": \"B\", \"division\": \"D\"}}");
}

Test(test_normalize, clearing_with_empty_and_null)
{
    doc_expect(&scim_rtype_user,
               "{\"userName\": \"u\", \"displayName\": \"\", \"title\": null,"
               " \"name\": {\"givenName\": \"\"}, \"emails\": [],"
               " \"" URN_ENT "\": {\"department\": \"\", \"manager\": \"\"}}",
               "{\"schemas\": [\"" SCIM_URN_USER "\"], \"userName\": \"u\"}");
    doc_expect(&scim_rtype_user, "{\"userName\": \"u\", \"" URN_ENT "\": null}",
               "{\"schemas\": [\"" SCIM_URN_USER "\"], \"userName\": \"u\"}");
}

Test(test_normalize, entra_group_with_adscim_schema)
{
    doc_expect(&scim_rtype_group,
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\","
               "  \"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group\"],"
               " \"externalId\": \"8aa1a0c0\", \"displayName\": \"Group1DisplayName\","
               " \"members\": [{\"value\": \"u1\"}], \"meta\": {\"resourceType\": \"Group\"}}",
               "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
               " \"externalId\": \"8aa1a0c0\", \"displayName\": \"Group1DisplayName\"}");
}

/* ---- scim_resource_from_json: Microsoft's test collection and errors ---- */

Test(test_normalize, unknown_attributes_ignored_any_case)
{
    doc_expect(&scim_rtype_user,
               "{\"USERNAME\": \"u\", \"NickName\": \"n\", \"bogus\": 1, \"name.givenName\": \"x\","
               " \"urn:example:ext:1.0:User\": {\"a\": 1}, \"urn:example:ext:1.0:User:a\": 1,"
               " \"department\": \"not an extension key\","
               " \"name\": {\"bogus\": 1, \"GIVENNAME\": \"G\"},"
               " \"" URN_ENT "\": {\"bogus\": 2}}",
               "{\"schemas\": [\"" SCIM_URN_USER "\"], \"userName\": \"u\", \"nickName\": \"n\","
               " \"name\": {\"givenName\": \"G\"}}");
}

Test(test_normalize, required_attributes)
{
    doc_error(&scim_rtype_user, "{\"displayName\": \"x\"}", MD_ERR_VALUE, "userName");
    doc_error(&scim_rtype_user, "{\"userName\": \"\"}", MD_ERR_VALUE, "userName");
    doc_error(&scim_rtype_user, "{\"userName\": null}", MD_ERR_VALUE, "userName");
    doc_error(&scim_rtype_group, "{\"members\": []}", MD_ERR_VALUE, "displayName");
    doc_error(&scim_rtype_group, "{\"displayName\": \"\"}", MD_ERR_VALUE, "displayName");
}

Test(test_normalize, type_errors)
{
    doc_error(&scim_rtype_user, "{\"userName\": \"u\", \"active\": \"yes\"}", MD_ERR_VALUE,
              "active");
    doc_error(&scim_rtype_user, "{\"userName\": 7}", MD_ERR_VALUE, "userName");
    doc_error(&scim_rtype_user, "{\"userName\": \"u\", \"emails\": [{\"value\": 5}]}", MD_ERR_VALUE,
              "emails.value");
    doc_error(&scim_rtype_user, "{\"userName\": \"u\", \"name\": \"Ann\"}", MD_ERR_VALUE, "name");
    doc_error(&scim_rtype_user, "{\"userName\": \"u\", \"" URN_ENT "\": \"Sales\"}", MD_ERR_VALUE,
              URN_ENT);
    doc_error(&scim_rtype_user, "{\"userName\": \"u\", \"" URN_ENT ":department\": 3}",
              MD_ERR_VALUE, "department");
}

Test(test_normalize, syntax_errors)
{
    doc_error(&scim_rtype_user, "[]", MD_ERR_SYNTAX, NULL);
    doc_error(&scim_rtype_user, "\"x\"", MD_ERR_SYNTAX, NULL);
    doc_error(&scim_rtype_user, "{\"schemas\": \"" SCIM_URN_USER "\", \"userName\": \"u\"}",
              MD_ERR_SYNTAX, "schemas");
    doc_error(&scim_rtype_user, "{\"schemas\": [\"" URN_ENT "\"], \"userName\": \"u\"}",
              MD_ERR_SYNTAX, SCIM_URN_USER);
    doc_error(&scim_rtype_user, "{\"schemas\": [1], \"userName\": \"u\"}", MD_ERR_SYNTAX, NULL);
    doc_error(&scim_rtype_group, "{\"schemas\": [\"" SCIM_URN_USER "\"], \"displayName\": \"g\"}",
              MD_ERR_SYNTAX, SCIM_URN_GROUP);
}

Test(test_normalize, schemas_urn_case_insensitive)
{
    doc_expect(
        &scim_rtype_user,
        "{\"Schemas\": [\"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER\"], \"userName\": \"u\","
        " \"x509Certificates\": [{\"value\": \"MIIB\"}]}",
        "{\"schemas\": [\"" SCIM_URN_USER "\"], \"userName\": \"u\","
        " \"x509Certificates\": [{\"value\": \"MIIB\"}]}");
}

Test(test_normalize, readonly_manager_display_name_dropped)
{
    doc_expect(&scim_rtype_user,
               "{\"userName\": \"u\", \"" URN_ENT "\": {\"manager\": {\"value\": \"m\","
               " \"displayName\": \"Boss\", \"$ref\": \"../Users/m\"}}}",
               "{\"schemas\": [\"" SCIM_URN_USER "\", \"" URN_ENT "\"], \"userName\": \"u\","
               " \"" URN_ENT "\": {\"manager\": {\"value\": \"m\", \"$ref\": \"../Users/m\"}}}");
}
