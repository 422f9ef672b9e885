/* Tests for src/scim/schema.c: the tables, path resolution and the discovery documents. */
#include <criterion/criterion.h>
#include <string.h>

#include "scim/schema.h"

#define URN_ENT SCIM_URN_ENTERPRISE

static size_t attr_count(const struct scim_attr *attrs)
{
    size_t n = 0;
    while (attrs && attrs[n].name)
        n++;
    return n;
}

/* The element of a JSON array of attribute objects whose "name" is name, or NULL. */
static json_t *attr_json(const json_t *attrs, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "name")), name) == 0)
            return a;
    }
    return NULL;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- tables ---- */

Test(test_schema, user_has_every_rfc7643_attribute_in_order)
{
    static const char *const want[] = {
        "userName",         "name",         "displayName",  "nickName",
        "profileUrl",       "title",        "userType",     "preferredLanguage",
        "locale",           "timezone",     "active",       "password",
        "emails",           "phoneNumbers", "ims",          "photos",
        "addresses",        "groups",       "entitlements", "roles",
        "x509Certificates",
    };
    const struct scim_attr *a = scim_schema_user.attrs;
    size_t n = sizeof want / sizeof want[0];

    cr_assert_eq(attr_count(a), n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(a[i].name, want[i]);
    cr_assert_eq(attr_count(scim_schema_enterprise_user.attrs), 6);
    cr_assert_eq(attr_count(scim_schema_group.attrs), 2);
    cr_assert_eq(attr_count(scim_common_attrs), 3);
}

/* Every attribute, at any depth: described, complex exactly when it has sub-attributes. */
static void check_attrs(const struct scim_attr *attrs, int depth)
{
    for (const struct scim_attr *a = attrs; a->name; a++) {
        cr_assert(a->description && a->description[0], "%s has no description", a->name);
        cr_assert_eq(a->type == SCIM_T_COMPLEX, a->subs != NULL, "%s subs/type mismatch", a->name);
        if (a->type == SCIM_T_REFERENCE)
            cr_assert(a->reference_types && a->reference_types[0], "%s lacks referenceTypes",
                      a->name);
        if (a->subs) {
            cr_assert_lt(depth, 1, "complex %s nested in a complex", a->name);
            check_attrs(a->subs, depth + 1);
        }
    }
}

Test(test_schema, tables_are_well_formed)
{
    size_t n = 0;
    for (const struct scim_schema *const *s = scim_schemas; *s; s++, n++)
        check_attrs((*s)->attrs, 0);
    cr_assert_eq(n, 3);
    check_attrs(scim_common_attrs, 0);
    n = 0;
    for (const struct scim_rtype *const *r = scim_rtypes; *r; r++)
        n++;
    cr_assert_eq(n, 2);
    cr_assert_eq(scim_rtype_user.schema, &scim_schema_user);
    cr_assert_eq(scim_rtype_user.extensions[0], &scim_schema_enterprise_user);
    cr_assert_null(scim_rtype_user.extensions[1]);
    cr_assert_null(scim_rtype_group.extensions[0]);
    cr_assert_str_eq(scim_rtype_group.endpoint, "/Groups");
}

Test(test_schema, characteristics_follow_rfc7643)
{
    const struct scim_attr *u = scim_schema_user.attrs;
    const struct scim_attr *a;

    a = scim_attr_find(u, "userName");
    cr_assert(a->required && !a->case_exact && a->uniqueness == SCIM_UNIQ_SERVER);
    a = scim_attr_find(u, "password");
    cr_assert(a->mutability == SCIM_MUT_WRITEONLY && a->returned == SCIM_RET_NEVER);
    a = scim_attr_find(u, "groups");
    cr_assert(a->multi && a->mutability == SCIM_MUT_READONLY);
    cr_assert_eq(scim_attr_find(a->subs, "type")->mutability, SCIM_MUT_READONLY);
    cr_assert_str_eq(scim_attr_find(a->subs, "type")->canonical[1], "indirect");
    a = scim_attr_find(u, "active");
    cr_assert_eq(a->type, SCIM_T_BOOLEAN);
    a = scim_attr_find(u, "x509Certificates");
    cr_assert_eq(scim_attr_find(a->subs, "value")->type, SCIM_T_BINARY);
    a = scim_attr_find(scim_common_attrs, "id");
    cr_assert(a->case_exact && a->mutability == SCIM_MUT_READONLY &&
              a->returned == SCIM_RET_ALWAYS && a->uniqueness == SCIM_UNIQ_SERVER);
    a = scim_attr_find(scim_common_attrs, "meta");
    cr_assert_eq(scim_attr_find(a->subs, "lastModified")->type, SCIM_T_DATETIME);
    a = scim_attr_find(scim_schema_group.attrs, "members");
    cr_assert(a->multi && a->mutability == SCIM_MUT_READWRITE);
    cr_assert_eq(scim_attr_find(a->subs, "value")->mutability, SCIM_MUT_IMMUTABLE);
    a = scim_attr_find(scim_schema_enterprise_user.attrs, "manager");
    cr_assert_eq(scim_attr_find(a->subs, "displayName")->mutability, SCIM_MUT_READONLY);
}

Test(test_schema, attr_find_is_case_insensitive)
{
    cr_assert_str_eq(scim_attr_find(scim_schema_user.attrs, "USERNAME")->name, "userName");
    cr_assert_str_eq(scim_attr_find(scim_schema_user.attrs, "x509certificates")->name,
                     "x509Certificates");
    cr_assert_null(scim_attr_find(scim_schema_user.attrs, "userNam"));
    cr_assert_null(scim_attr_find(scim_schema_user.attrs, NULL));
    cr_assert_null(scim_attr_find(NULL, "userName"));
}

Test(test_schema, rtype_schema_matches_core_and_extensions)
{
    cr_assert_eq(scim_rtype_schema(&scim_rtype_user, SCIM_URN_USER), &scim_schema_user);
    cr_assert_eq(scim_rtype_schema(&scim_rtype_user,
                                   "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER"),
                 &scim_schema_enterprise_user);
    cr_assert_null(scim_rtype_schema(&scim_rtype_user, SCIM_URN_GROUP));
    cr_assert_null(scim_rtype_schema(&scim_rtype_group, URN_ENT));
    cr_assert_eq(scim_rtype_schema(&scim_rtype_group, SCIM_URN_GROUP), &scim_schema_group);
}

/* ---- scim_resolve ---- */

Test(test_schema, resolve_core_common_and_extension_without_urn)
{
    struct scim_resolved r;

    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "USERNAME", NULL, &r), MD_OK);
    cr_assert_eq(r.schema, &scim_schema_user);
    cr_assert_str_eq(r.attr->name, "userName");
    cr_assert_null(r.sub);
    cr_assert_not(r.extension);

    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "Id", NULL, &r), MD_OK);
    cr_assert_null(r.schema);
    cr_assert_str_eq(r.attr->name, "id");

    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "meta", "LASTMODIFIED", &r), MD_OK);
    cr_assert_null(r.schema);
    cr_assert_str_eq(r.sub->name, "lastModified");

    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "department", NULL, &r), MD_OK);
    cr_assert_eq(r.schema, &scim_schema_enterprise_user);
    cr_assert(r.extension);

    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "name", "givenname", &r), MD_OK);
    cr_assert_str_eq(r.attr->name, "name");
    cr_assert_str_eq(r.sub->name, "givenName");
    cr_assert_not(r.extension);
}

Test(test_schema, resolve_with_urn)
{
    struct scim_resolved r;

    cr_assert_eq(scim_resolve(&scim_rtype_user, URN_ENT, "Manager", "value", &r), MD_OK);
    cr_assert_eq(r.schema, &scim_schema_enterprise_user);
    cr_assert(r.extension);
    cr_assert_str_eq(r.attr->name, "manager");
    cr_assert_str_eq(r.sub->name, "value");

    cr_assert_eq(scim_resolve(&scim_rtype_user, "urn:ietf:params:scim:schemas:core:2.0:user",
                              "emails", "type", &r),
                 MD_OK);
    cr_assert_eq(r.schema, &scim_schema_user);
    cr_assert_not(r.extension);

    /* The core URN also reaches the common attributes. */
    cr_assert_eq(scim_resolve(&scim_rtype_user, SCIM_URN_USER, "externalId", NULL, &r), MD_OK);
    cr_assert_null(r.schema);
    cr_assert_not(r.extension);
}

Test(test_schema, resolve_unknown_is_notfound)
{
    struct scim_resolved r = {0};

    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "nosuch", NULL, &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_user, URN_ENT, "userName", NULL, &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_user, URN_ENT, "id", NULL, &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_user, "urn:x:y", "userName", NULL, &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_user, SCIM_URN_GROUP, "displayName", NULL, &r),
                 MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "userName", "x", &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "name", "nosuch", &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_user, NULL, "", NULL, &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_group, NULL, "department", NULL, &r), MD_ERR_NOTFOUND);
    cr_assert_eq(scim_resolve(&scim_rtype_group, NULL, "userName", NULL, &r), MD_ERR_NOTFOUND);
    cr_assert_null(r.attr, "out must be untouched on failure");
}

Test(test_schema, resolve_group_members)
{
    struct scim_resolved r;

    cr_assert_eq(scim_resolve(&scim_rtype_group, NULL, "members", "$REF", &r), MD_OK);
    cr_assert_eq(r.schema, &scim_schema_group);
    cr_assert_str_eq(r.sub->name, "$ref");
    cr_assert_eq(r.sub->type, SCIM_T_REFERENCE);
}

/* ---- scim_resolve_str ---- */

Test(test_schema, resolve_str_plain_paths)
{
    struct scim_resolved r;

    cr_assert_eq(scim_resolve_str(&scim_rtype_user, "name.familyName", &r), MD_OK);
    cr_assert_str_eq(r.attr->name, "name");
    cr_assert_str_eq(r.sub->name, "familyName");

    cr_assert_eq(scim_resolve_str(&scim_rtype_user, "Emails", &r), MD_OK);
    cr_assert_str_eq(r.attr->name, "emails");
    cr_assert_null(r.sub);

    cr_assert_eq(scim_resolve_str(&scim_rtype_user, "meta.created", &r), MD_OK);
    cr_assert_null(r.schema);
    cr_assert_str_eq(r.sub->name, "created");

    cr_assert_eq(scim_resolve_str(&scim_rtype_user, "employeeNumber", &r), MD_OK);
    cr_assert(r.extension);
}

Test(test_schema, resolve_str_with_urns)
{
    struct scim_resolved r;

    cr_assert_eq(scim_resolve_str(&scim_rtype_user, URN_ENT ":manager.value", &r), MD_OK);
    cr_assert_eq(r.schema, &scim_schema_enterprise_user);
    cr_assert(r.extension);
    cr_assert_str_eq(r.attr->name, "manager");
    cr_assert_str_eq(r.sub->name, "value");

    cr_assert_eq(scim_resolve_str(&scim_rtype_user,
                                  "URN:ietf:params:scim:schemas:extension:enterprise:2.0:user:"
                                  "DEPARTMENT",
                                  &r),
                 MD_OK);
    cr_assert_str_eq(r.attr->name, "department");
    cr_assert_null(r.sub);

    cr_assert_eq(scim_resolve_str(&scim_rtype_user, SCIM_URN_USER ":name.givenName", &r), MD_OK);
    cr_assert_eq(r.schema, &scim_schema_user);
    cr_assert_str_eq(r.sub->name, "givenName");

    cr_assert_eq(scim_resolve_str(&scim_rtype_group, SCIM_URN_GROUP ":members.value", &r), MD_OK);
    cr_assert_str_eq(r.attr->name, "members");
}

Test(test_schema, resolve_str_rejects_bad_paths)
{
    static const char *const bad[] = {
        "",
        ".",
        "name.",
        ".givenName",
        "name.givenName.x",
        "nosuch",
        "userName.x",
        SCIM_URN_USER,
        URN_ENT,
        URN_ENT ":",
        URN_ENT ":userName",
        "urn:ietf:params:scim:schemas:extension:other:2.0:User:department",
        SCIM_URN_GROUP ":displayName",
        "urn:userName",
    };
    struct scim_resolved r;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(scim_resolve_str(&scim_rtype_user, bad[i], &r), MD_ERR_NOTFOUND,
                     "path \"%s\" resolved", bad[i]);
}

/* ---- discovery ---- */

Test(test_schema, user_schema_json)
{
    json_t *j = scim_schema_to_json(&scim_schema_user, "http://h/scim/v2");
    json_t *attrs, *a, *subs;

    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "schemas"), 0)),
                     SCIM_URN_SCHEMA);
    cr_assert_str_eq(jstr(j, "id"), SCIM_URN_USER);
    cr_assert_str_eq(jstr(j, "name"), "User");
    cr_assert_str_eq(jstr(j, "description"), "User Account");
    attrs = json_object_get(j, "attributes");
    cr_assert_eq(json_array_size(attrs), 21);

    a = attr_json(attrs, "userName");
    cr_assert_str_eq(jstr(a, "type"), "string");
    cr_assert(json_is_false(json_object_get(a, "multiValued")));
    cr_assert(json_is_true(json_object_get(a, "required")));
    cr_assert(json_is_false(json_object_get(a, "caseExact")));
    cr_assert_str_eq(jstr(a, "mutability"), "readWrite");
    cr_assert_str_eq(jstr(a, "returned"), "default");
    cr_assert_str_eq(jstr(a, "uniqueness"), "server");
    cr_assert_null(json_object_get(a, "subAttributes"));

    a = attr_json(attrs, "password");
    cr_assert_str_eq(jstr(a, "mutability"), "writeOnly");
    cr_assert_str_eq(jstr(a, "returned"), "never");

    a = attr_json(attrs, "active");
    cr_assert_str_eq(jstr(a, "type"), "boolean");
    cr_assert_null(json_object_get(a, "caseExact"));

    a = attr_json(attrs, "profileUrl");
    cr_assert_str_eq(jstr(a, "type"), "reference");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(a, "referenceTypes"), 0)),
                     "external");

    a = attr_json(attrs, "emails");
    cr_assert_str_eq(jstr(a, "type"), "complex");
    cr_assert(json_is_true(json_object_get(a, "multiValued")));
    subs = json_object_get(a, "subAttributes");
    cr_assert_eq(json_array_size(subs), 4);
    a = attr_json(subs, "type");
    cr_assert_eq(json_array_size(json_object_get(a, "canonicalValues")), 3);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(a, "canonicalValues"), 2)),
                     "other");

    a = attr_json(attrs, "groups");
    cr_assert_str_eq(jstr(a, "mutability"), "readOnly");
    a = attr_json(json_object_get(a, "subAttributes"), "$ref");
    cr_assert_str_eq(jstr(a, "mutability"), "readOnly");
    cr_assert_eq(json_array_size(json_object_get(a, "referenceTypes")), 2);

    a = attr_json(attrs, "name");
    cr_assert_eq(json_array_size(json_object_get(a, "subAttributes")), 6);

    a = json_object_get(j, "meta");
    cr_assert_str_eq(jstr(a, "resourceType"), "Schema");
    cr_assert_str_eq(jstr(a, "location"), "http://h/scim/v2/Schemas/" SCIM_URN_USER);
    json_decref(j);
}

Test(test_schema, enterprise_and_group_schema_json)
{
    json_t *j = scim_schema_to_json(&scim_schema_enterprise_user, "https://x/scim/v2");
    json_t *a;

    cr_assert_not_null(j);
    cr_assert_str_eq(jstr(j, "name"), "EnterpriseUser");
    cr_assert_eq(json_array_size(json_object_get(j, "attributes")), 6);
    a = attr_json(json_object_get(j, "attributes"), "manager");
    a = attr_json(json_object_get(a, "subAttributes"), "displayName");
    cr_assert_str_eq(jstr(a, "mutability"), "readOnly");
    cr_assert_str_eq(jstr(json_object_get(j, "meta"), "location"),
                     "https://x/scim/v2/Schemas/" SCIM_URN_ENTERPRISE);
    json_decref(j);

    j = scim_schema_to_json(&scim_schema_group, "");
    cr_assert_not_null(j);
    a = attr_json(json_object_get(j, "attributes"), "displayName");
    cr_assert(json_is_true(json_object_get(a, "required")));
    a = attr_json(json_object_get(j, "attributes"), "members");
    cr_assert_str_eq(jstr(a, "mutability"), "readWrite");
    a = attr_json(json_object_get(a, "subAttributes"), "type");
    cr_assert_str_eq(jstr(a, "mutability"), "immutable");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(a, "canonicalValues"), 0)),
                     "User");
    cr_assert_str_eq(jstr(json_object_get(j, "meta"), "location"), "/Schemas/" SCIM_URN_GROUP);
    json_decref(j);
}

Test(test_schema, resource_type_json)
{
    json_t *j = scim_rtype_to_json(&scim_rtype_user, "http://h/scim/v2");
    json_t *ext;

    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "schemas"), 0)),
                     SCIM_URN_RESOURCETYPE);
    cr_assert_str_eq(jstr(j, "id"), "User");
    cr_assert_str_eq(jstr(j, "name"), "User");
    cr_assert_str_eq(jstr(j, "endpoint"), "/Users");
    cr_assert_str_eq(jstr(j, "schema"), SCIM_URN_USER);
    ext = json_object_get(j, "schemaExtensions");
    cr_assert_eq(json_array_size(ext), 1);
    cr_assert_str_eq(jstr(json_array_get(ext, 0), "schema"), SCIM_URN_ENTERPRISE);
    cr_assert(json_is_false(json_object_get(json_array_get(ext, 0), "required")));
    cr_assert_str_eq(jstr(json_object_get(j, "meta"), "resourceType"), "ResourceType");
    cr_assert_str_eq(jstr(json_object_get(j, "meta"), "location"),
                     "http://h/scim/v2/ResourceTypes/User");
    json_decref(j);

    j = scim_rtype_to_json(&scim_rtype_group, "http://h/scim/v2");
    cr_assert_not_null(j);
    cr_assert_str_eq(jstr(j, "endpoint"), "/Groups");
    cr_assert_str_eq(jstr(j, "schema"), SCIM_URN_GROUP);
    cr_assert_null(json_object_get(j, "schemaExtensions"));
    json_decref(j);
}

/* Every type name of section 7 appears where the tables use that type. */
Test(test_schema, type_names)
{
    json_t *j = scim_schema_to_json(&scim_schema_user, "");
    json_t *attrs = json_object_get(j, "attributes");
    json_t *x509 = json_object_get(attr_json(attrs, "x509Certificates"), "subAttributes");

    cr_assert_str_eq(jstr(attr_json(x509, "value"), "type"), "binary");
    cr_assert_str_eq(jstr(attr_json(x509, "primary"), "type"), "boolean");
    cr_assert_str_eq(jstr(attr_json(attrs, "addresses"), "type"), "complex");
    json_decref(j);
    cr_assert_null(scim_schema_to_json(NULL, ""));
    cr_assert_null(scim_rtype_to_json(NULL, ""));
}
