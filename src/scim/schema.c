/*
 * The SCIM schemas as data. Each attribute is one designated initializer whose omitted fields
 * are the RFC 7643 section 2.2 defaults: single-valued, not required, caseExact false,
 * readWrite, returned default, uniqueness none (all of those are the zero values of the enums).
 * The descriptions and characteristics follow the schema representation of RFC 7643 section
 * 8.7.1; where that representation contradicts the prose of section 4 the choice is noted.
 *
 * The second half resolves attribute paths against these tables and renders the discovery
 * documents of RFC 7643 sections 6 and 7.
 */
#include "scim/schema.h"

#include <string.h>
#include <strings.h>

#include "core/str.h"

/* Canonical values and reference types, each NULL-terminated. */
static const char *const canon_email_type[] = {"work", "home", "other", NULL};
static const char *const canon_phone_type[] = {"work",  "home",  "mobile", "fax",
                                               "pager", "other", NULL};
static const char *const canon_im_type[] = {"aim",   "gtalk", "icq",   "xmpp", "msn",
                                            "skype", "qq",    "yahoo", NULL};
static const char *const canon_photo_type[] = {"photo", "thumbnail", NULL};
static const char *const canon_address_type[] = {"work", "home", "other", NULL};
static const char *const canon_group_type[] = {"direct", "indirect", NULL};
static const char *const canon_member_type[] = {"User", "Group", NULL};

static const char *const ref_external[] = {"external", NULL};
static const char *const ref_uri[] = {"uri", NULL};
static const char *const ref_user[] = {"User", NULL};
static const char *const ref_user_group[] = {"User", "Group", NULL};

#define DESC_DISPLAY "A human-readable name, primarily used for display purposes.  READ-ONLY."
/* The description of "primary", with an example (or "") after "for this attribute". */
#define DESC_PRIMARY(eg)                                                                           \
    "A Boolean value indicating the 'primary' or preferred attribute value for this attribute" eg  \
    ".  The primary attribute value 'true' MUST appear no more than once."

/* ---- common attributes (RFC 7643 section 3.1) ---- */

static const struct scim_attr meta_subs[] = {
    {.name = "resourceType",
     .type = SCIM_T_STRING,
     .case_exact = true,
     .mutability = SCIM_MUT_READONLY,
     .description = "The name of the resource type of the resource."},
    {.name = "created",
     .type = SCIM_T_DATETIME,
     .mutability = SCIM_MUT_READONLY,
     .description = "The \"DateTime\" that the resource was added to the service provider."},
    {.name = "lastModified",
     .type = SCIM_T_DATETIME,
     .mutability = SCIM_MUT_READONLY,
     .description = "The most recent DateTime that the details of this resource were updated at "
                    "the service provider."},
    {.name = "location",
     .type = SCIM_T_REFERENCE,
     .case_exact = true,
     .mutability = SCIM_MUT_READONLY,
     .reference_types = ref_uri,
     .description = "The URI of the resource being returned."},
    {.name = "version",
     .type = SCIM_T_STRING,
     .case_exact = true,
     .mutability = SCIM_MUT_READONLY,
     .description = "The version of the resource being returned."},
    {.name = NULL},
};

const struct scim_attr scim_common_attrs[] = {
    {.name = "id",
     .type = SCIM_T_STRING,
     .case_exact = true,
     .mutability = SCIM_MUT_READONLY,
     .returned = SCIM_RET_ALWAYS,
     .uniqueness = SCIM_UNIQ_SERVER,
     .description = "A unique identifier for a SCIM resource as defined by the service provider."},
    {.name = "externalId",
     .type = SCIM_T_STRING,
     .case_exact = true,
     .description = "A String that is an identifier for the resource as defined by the "
                    "provisioning client."},
    {.name = "meta",
     .type = SCIM_T_COMPLEX,
     .mutability = SCIM_MUT_READONLY,
     .subs = meta_subs,
     .description = "A complex attribute containing resource metadata."},
    {.name = NULL},
};

/* ---- core User (RFC 7643 sections 4.1 and 8.7.1) ---- */

static const struct scim_attr user_name_subs[] = {
    {.name = "formatted",
     .type = SCIM_T_STRING,
     .description = "The full name, including all middle names, titles, and suffixes as "
                    "appropriate, formatted for display (e.g., 'Ms. Barbara J Jensen, III')."},
    {.name = "familyName",
     .type = SCIM_T_STRING,
     .description = "The family name of the User, or last name in most Western languages (e.g., "
                    "'Jensen' given the full name 'Ms. Barbara J Jensen, III')."},
    {.name = "givenName",
     .type = SCIM_T_STRING,
     .description = "The given name of the User, or first name in most Western languages (e.g., "
                    "'Barbara' given the full name 'Ms. Barbara J Jensen, III')."},
    {.name = "middleName",
     .type = SCIM_T_STRING,
     .description = "The middle name(s) of the User (e.g., 'Jane' given the full name 'Ms. "
                    "Barbara J Jensen, III')."},
    {.name = "honorificPrefix",
     .type = SCIM_T_STRING,
     .description = "The honorific prefix(es) of the User, or title in most Western languages "
                    "(e.g., 'Ms.' given the full name 'Ms. Barbara J Jensen, III')."},
    {.name = "honorificSuffix",
     .type = SCIM_T_STRING,
     .description = "The honorific suffix(es) of the User, or suffix in most Western languages "
                    "(e.g., 'III' given the full name 'Ms. Barbara J Jensen, III')."},
    {.name = NULL},
};

static const struct scim_attr user_email_subs[] = {
    {.name = "value",
     .type = SCIM_T_STRING,
     .description = "Email addresses for the user.  The value SHOULD be canonicalized by the "
                    "service provider, e.g., 'bjensen@example.com' instead of "
                    "'bjensen@EXAMPLE.COM'.  Canonical type values of 'work', 'home', and "
                    "'other'."},
    {.name = "display", .type = SCIM_T_STRING, .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical = canon_email_type,
     .description = "A label indicating the attribute's function, e.g., 'work' or 'home'."},
    {.name = "primary",
     .type = SCIM_T_BOOLEAN,
     .description = DESC_PRIMARY(", e.g., the preferred mailing address or primary email address")},
    {.name = NULL},
};

static const struct scim_attr user_phone_subs[] = {
    {.name = "value", .type = SCIM_T_STRING, .description = "Phone number of the User."},
    {.name = "display", .type = SCIM_T_STRING, .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical = canon_phone_type,
     .description = "A label indicating the attribute's function, e.g., 'work', 'home', "
                    "'mobile'."},
    {.name = "primary",
     .type = SCIM_T_BOOLEAN,
     .description = DESC_PRIMARY(", e.g., the preferred phone number or primary phone number")},
    {.name = NULL},
};

static const struct scim_attr user_im_subs[] = {
    {.name = "value",
     .type = SCIM_T_STRING,
     .description = "Instant messaging address for the User."},
    {.name = "display", .type = SCIM_T_STRING, .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical = canon_im_type,
     .description = "A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'."},
    {.name = "primary",
     .type = SCIM_T_BOOLEAN,
     .description = DESC_PRIMARY(", e.g., the preferred messenger or primary messenger")},
    {.name = NULL},
};

static const struct scim_attr user_photo_subs[] = {
    {.name = "value",
     .type = SCIM_T_REFERENCE,
     .reference_types = ref_external,
     .description = "URL of a photo of the User."},
    {.name = "display", .type = SCIM_T_STRING, .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical = canon_photo_type,
     .description = "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'."},
    {.name = "primary",
     .type = SCIM_T_BOOLEAN,
     .description = DESC_PRIMARY(", e.g., the preferred photo or thumbnail")},
    {.name = NULL},
};

/*
 * RFC 7643 section 8.7.1 lists no "primary" for addresses although section 4.1.2 describes
 * one and every identity provider sends it; it is declared here so that it is kept.
 */
static const struct scim_attr user_address_subs[] = {
    {.name = "formatted",
     .type = SCIM_T_STRING,
     .description = "The full mailing address, formatted for display or use with a mailing label. "
                    " This attribute MAY contain newlines."},
    {.name = "streetAddress",
     .type = SCIM_T_STRING,
     .description = "The full street address component, which may include house number, street "
                    "name, P.O. box, and multi-line extended street address information.  This "
                    "attribute MAY contain newlines."},
    {.name = "locality", .type = SCIM_T_STRING, .description = "The city or locality component."},
    {.name = "region", .type = SCIM_T_STRING, .description = "The state or region component."},
    {.name = "postalCode",
     .type = SCIM_T_STRING,
     .description = "The zip code or postal code component."},
    {.name = "country", .type = SCIM_T_STRING, .description = "The country name component."},
    {.name = "type",
     .type = SCIM_T_STRING,
     .canonical = canon_address_type,
     .description = "A label indicating the attribute's function, e.g., 'work' or 'home'."},
    {.name = "primary",
     .type = SCIM_T_BOOLEAN,
     .description = DESC_PRIMARY(", e.g., the preferred mailing address")},
    {.name = NULL},
};

/* The server computes a user's groups from memberships, so every part of it is readOnly. */
static const struct scim_attr user_group_subs[] = {
    {.name = "value",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_READONLY,
     .description = "The identifier of the User's group."},
    {.name = "$ref",
     .type = SCIM_T_REFERENCE,
     .mutability = SCIM_MUT_READONLY,
     .reference_types = ref_user_group,
     .description = "The URI of the corresponding 'Group' resource to which the user belongs."},
    {.name = "display",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_READONLY,
     .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_READONLY,
     .canonical = canon_group_type,
     .description = "A label indicating the attribute's function, e.g., 'direct' or 'indirect'."},
    {.name = NULL},
};

static const struct scim_attr user_entitlement_subs[] = {
    {.name = "value", .type = SCIM_T_STRING, .description = "The value of an entitlement."},
    {.name = "display", .type = SCIM_T_STRING, .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .description = "A label indicating the attribute's function."},
    {.name = "primary", .type = SCIM_T_BOOLEAN, .description = DESC_PRIMARY("")},
    {.name = NULL},
};

static const struct scim_attr user_role_subs[] = {
    {.name = "value", .type = SCIM_T_STRING, .description = "The value of a role."},
    {.name = "display", .type = SCIM_T_STRING, .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .description = "A label indicating the attribute's function."},
    {.name = "primary", .type = SCIM_T_BOOLEAN, .description = DESC_PRIMARY("")},
    {.name = NULL},
};

static const struct scim_attr user_x509_subs[] = {
    {.name = "value", .type = SCIM_T_BINARY, .description = "The value of an X.509 certificate."},
    {.name = "display", .type = SCIM_T_STRING, .description = DESC_DISPLAY},
    {.name = "type",
     .type = SCIM_T_STRING,
     .description = "A label indicating the attribute's function."},
    {.name = "primary", .type = SCIM_T_BOOLEAN, .description = DESC_PRIMARY("")},
    {.name = NULL},
};

static const struct scim_attr user_attrs[] = {
    {.name = "userName",
     .type = SCIM_T_STRING,
     .required = true,
     .uniqueness = SCIM_UNIQ_SERVER,
     .description = "Unique identifier for the User, typically used by the user to directly "
                    "authenticate to the service provider.  Each User MUST include a non-empty "
                    "userName value.  This identifier MUST be unique across the service "
                    "provider's entire set of Users.  REQUIRED."},
    {.name = "name",
     .type = SCIM_T_COMPLEX,
     .subs = user_name_subs,
     .description = "The components of the user's real name.  Providers MAY return just the full "
                    "name as a single string in the formatted sub-attribute, or they MAY return "
                    "just the individual component attributes using the other sub-attributes, or "
                    "they MAY return both.  If both variants are returned, they SHOULD be "
                    "describing the same name, with the formatted name indicating how the "
                    "component attributes should be combined."},
    {.name = "displayName",
     .type = SCIM_T_STRING,
     .description = "The name of the User, suitable for display to end-users.  The name SHOULD be "
                    "the full name of the User being described, if known."},
    {.name = "nickName",
     .type = SCIM_T_STRING,
     .description = "The casual way to address the user in real life, e.g., 'Bob' or 'Bobby' "
                    "instead of 'Robert'.  This attribute SHOULD NOT be used to represent a "
                    "User's username (e.g., 'bjensen' or 'mpepperidge')."},
    {.name = "profileUrl",
     .type = SCIM_T_REFERENCE,
     .reference_types = ref_external,
     .description = "A fully qualified URL pointing to a page representing the User's online "
                    "profile."},
    {.name = "title",
     .type = SCIM_T_STRING,
     .description = "The user's title, such as \"Vice President.\""},
    {.name = "userType",
     .type = SCIM_T_STRING,
     .description = "Used to identify the relationship between the organization and the user.  "
                    "Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', "
                    "'External', and 'Unknown', but any value may be used."},
    {.name = "preferredLanguage",
     .type = SCIM_T_STRING,
     .description = "Indicates the User's preferred written or spoken language.  Generally used "
                    "for selecting a localized user interface; e.g., 'en_US' specifies the "
                    "language English and country US."},
    {.name = "locale",
     .type = SCIM_T_STRING,
     .description = "Used to indicate the User's default location for purposes of localizing "
                    "items such as currency, date time format, or numerical representations."},
    {.name = "timezone",
     .type = SCIM_T_STRING,
     .description = "The User's time zone in the 'Olson' time zone database format, e.g., "
                    "'America/Los_Angeles'."},
    {.name = "active",
     .type = SCIM_T_BOOLEAN,
     .description = "A Boolean value indicating the User's administrative status."},
    {.name = "password",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_WRITEONLY,
     .returned = SCIM_RET_NEVER,
     .description = "The User's cleartext password.  This attribute is intended to be used as a "
                    "means to specify an initial password when creating a new User or to reset "
                    "an existing User's password."},
    {.name = "emails",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_email_subs,
     .description = "Email addresses for the user.  The value SHOULD be canonicalized by the "
                    "service provider, e.g., 'bjensen@example.com' instead of "
                    "'bjensen@EXAMPLE.COM'.  Canonical type values of 'work', 'home', and "
                    "'other'."},
    {.name = "phoneNumbers",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_phone_subs,
     .description = "Phone numbers for the User.  The value SHOULD be canonicalized by the "
                    "service provider according to the format specified in RFC 3966, e.g., "
                    "'tel:+1-201-555-0123'.  Canonical type values of 'work', 'home', 'mobile', "
                    "'fax', 'pager', and 'other'."},
    {.name = "ims",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_im_subs,
     .description = "Instant messaging addresses for the User."},
    {.name = "photos",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_photo_subs,
     .description = "URLs of photos of the User."},
    {.name = "addresses",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_address_subs,
     .description = "A physical mailing address for this User.  Canonical type values of "
                    "'work', 'home', and 'other'.  This attribute is a complex type with the "
                    "following sub-attributes."},
    {.name = "groups",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .mutability = SCIM_MUT_READONLY,
     .subs = user_group_subs,
     .description = "A list of groups to which the user belongs, either through direct "
                    "membership, through nested groups, or dynamically calculated."},
    {.name = "entitlements",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_entitlement_subs,
     .description = "A list of entitlements for the User that represent a thing the User has."},
    {.name = "roles",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_role_subs,
     .description = "A list of roles for the User that collectively represent who the User is, "
                    "e.g., 'Student', 'Faculty'."},
    {.name = "x509Certificates",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = user_x509_subs,
     .description = "A list of certificates issued to the User."},
    {.name = NULL},
};

const struct scim_schema scim_schema_user = {
    .id = SCIM_URN_USER,
    .name = "User",
    .description = "User Account",
    .attrs = user_attrs,
};

/* ---- Enterprise User extension (RFC 7643 sections 4.3 and 8.7.1) ---- */

/*
 * RFC 7643 calls manager.value and manager.$ref "REQUIRED" in prose but declares them
 * required false; Entra ID sends a manager with only a value, so neither is enforced.
 */
static const struct scim_attr enterprise_manager_subs[] = {
    {.name = "value",
     .type = SCIM_T_STRING,
     .description = "The id of the SCIM resource representing the User's manager.  REQUIRED."},
    {.name = "$ref",
     .type = SCIM_T_REFERENCE,
     .reference_types = ref_user,
     .description = "The URI of the SCIM resource representing the User's manager.  REQUIRED."},
    {.name = "displayName",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_READONLY,
     .description = "The displayName of the User's manager.  OPTIONAL and READ-ONLY."},
    {.name = NULL},
};

static const struct scim_attr enterprise_attrs[] = {
    {.name = "employeeNumber",
     .type = SCIM_T_STRING,
     .description = "Numeric or alphanumeric identifier assigned to a person, typically based on "
                    "order of hire or association with an organization."},
    {.name = "costCenter",
     .type = SCIM_T_STRING,
     .description = "Identifies the name of a cost center."},
    {.name = "organization",
     .type = SCIM_T_STRING,
     .description = "Identifies the name of an organization."},
    {.name = "division",
     .type = SCIM_T_STRING,
     .description = "Identifies the name of a division."},
    {.name = "department",
     .type = SCIM_T_STRING,
     .description = "Identifies the name of a department."},
    {.name = "manager",
     .type = SCIM_T_COMPLEX,
     .subs = enterprise_manager_subs,
     .description = "The User's manager.  A complex type that optionally allows service providers "
                    "to represent organizational hierarchy by referencing the 'id' attribute of "
                    "another User."},
    {.name = NULL},
};

const struct scim_schema scim_schema_enterprise_user = {
    .id = SCIM_URN_ENTERPRISE,
    .name = "EnterpriseUser",
    .description = "Enterprise User",
    .attrs = enterprise_attrs,
};

/* ---- Group (RFC 7643 sections 4.2 and 8.7.1) ---- */

/*
 * The member sub-attributes are immutable: a member is added or removed, never edited in
 * place. "display" is not in section 8.7.1 but every identity provider sends it and section
 * 4.2's examples return it.
 */
static const struct scim_attr group_member_subs[] = {
    {.name = "value",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_IMMUTABLE,
     .description = "Identifier of the member of this Group."},
    {.name = "$ref",
     .type = SCIM_T_REFERENCE,
     .mutability = SCIM_MUT_IMMUTABLE,
     .reference_types = ref_user_group,
     .description = "The URI corresponding to a SCIM resource that is a member of this Group."},
    {.name = "type",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_IMMUTABLE,
     .canonical = canon_member_type,
     .description = "A label indicating the type of resource, e.g., 'User' or 'Group'."},
    {.name = "display",
     .type = SCIM_T_STRING,
     .mutability = SCIM_MUT_IMMUTABLE,
     .description = "A human-readable name, primarily used for display purposes."},
    {.name = NULL},
};

/*
 * Section 8.7.1 declares displayName required false while its description and section 4.2
 * say REQUIRED; the prose wins, as every identity provider sends one.
 */
static const struct scim_attr group_attrs[] = {
    {.name = "displayName",
     .type = SCIM_T_STRING,
     .required = true,
     .description = "A human-readable name for the Group.  REQUIRED."},
    {.name = "members",
     .type = SCIM_T_COMPLEX,
     .multi = true,
     .subs = group_member_subs,
     .description = "A list of members of the Group."},
    {.name = NULL},
};

const struct scim_schema scim_schema_group = {
    .id = SCIM_URN_GROUP,
    .name = "Group",
    .description = "Group",
    .attrs = group_attrs,
};

/* ---- resource types and discovery lists ---- */

static const struct scim_schema *const user_extensions[] = {&scim_schema_enterprise_user, NULL};
static const struct scim_schema *const no_extensions[] = {NULL};

const struct scim_rtype scim_rtype_user = {
    .id = "User",
    .name = "User",
    .endpoint = "/Users",
    .description = "User Account",
    .schema = &scim_schema_user,
    .extensions = user_extensions,
};

const struct scim_rtype scim_rtype_group = {
    .id = "Group",
    .name = "Group",
    .endpoint = "/Groups",
    .description = "Group",
    .schema = &scim_schema_group,
    .extensions = no_extensions,
};

const struct scim_rtype *const scim_rtypes[] = {&scim_rtype_user, &scim_rtype_group, NULL};
const struct scim_schema *const scim_schemas[] = {&scim_schema_user, &scim_schema_enterprise_user,
                                                  &scim_schema_group, NULL};

/* ---- lookups ---- */

const struct scim_attr *scim_attr_find(const struct scim_attr *attrs, const char *name)
{
    if (!attrs || !name)
        return NULL;
    for (const struct scim_attr *a = attrs; a->name; a++)
        if (strcasecmp(a->name, name) == 0)
            return a;
    return NULL;
}

const struct scim_schema *scim_rtype_schema(const struct scim_rtype *rt, const char *urn)
{
    if (!rt || !urn)
        return NULL;
    if (strcasecmp(rt->schema->id, urn) == 0)
        return rt->schema;
    for (const struct scim_schema *const *x = rt->extensions; x && *x; x++)
        if (strcasecmp((*x)->id, urn) == 0)
            return *x;
    return NULL;
}

/* Finds attr in s, or among the common attributes when s is NULL. */
static bool find_in(const struct scim_schema *s, const char *attr, struct scim_resolved *r)
{
    const struct scim_attr *a = scim_attr_find(s ? s->attrs : scim_common_attrs, attr);
    if (!a)
        return false;
    r->schema = s;
    r->attr = a;
    return true;
}

/*
 * A URN that names the core schema also reaches the common attributes, so that a fully
 * qualified "urn:...:core:2.0:User:meta.lastModified" in a sortBy works as clients expect.
 */
enum md_err scim_resolve(const struct scim_rtype *rt, const char *urn, const char *attr,
                         const char *sub, struct scim_resolved *out)
{
    struct scim_resolved r = {0};
    bool found = false;

    if (!rt || !attr || !*attr || !out)
        return MD_ERR_NOTFOUND;
    if (urn) {
        const struct scim_schema *s = scim_rtype_schema(rt, urn);
        if (!s)
            return MD_ERR_NOTFOUND;
        found = find_in(s, attr, &r) || (s == rt->schema && find_in(NULL, attr, &r));
        r.extension = found && s != rt->schema;
    } else {
        found = find_in(NULL, attr, &r) || find_in(rt->schema, attr, &r);
        for (const struct scim_schema *const *x = rt->extensions; !found && x && *x; x++) {
            found = find_in(*x, attr, &r);
            r.extension = found;
        }
    }
    if (!found)
        return MD_ERR_NOTFOUND;
    if (sub) {
        if (r.attr->type != SCIM_T_COMPLEX)
            return MD_ERR_NOTFOUND;
        r.sub = scim_attr_find(r.attr->subs, sub);
        if (!r.sub)
            return MD_ERR_NOTFOUND;
    }
    *out = r;
    return MD_OK;
}

/* Longest names in our tables are well under this; a longer segment cannot resolve. */
#define PATH_SEG_MAX 128

/*
 * The schema of rt whose URN, followed by ':', prefixes path (case-insensitively), or NULL.
 * Matching the known URNs, instead of splitting at a ':', is what copes with the '.' in
 * "2.0": a URN is never split, whatever it contains.
 */
static void try_prefix(const struct scim_schema *s, const char *path,
                       const struct scim_schema **best, size_t *best_len)
{
    size_t n = strlen(s->id);
    if (n > *best_len && strncasecmp(path, s->id, n) == 0 && path[n] == ':') {
        *best = s;
        *best_len = n;
    }
}

static const struct scim_schema *urn_prefix(const struct scim_rtype *rt, const char *path,
                                            size_t *urn_len)
{
    const struct scim_schema *best = NULL;

    *urn_len = 0;
    try_prefix(rt->schema, path, &best, urn_len);
    for (const struct scim_schema *const *x = rt->extensions; x && *x; x++)
        try_prefix(*x, path, &best, urn_len);
    return best;
}

enum md_err scim_resolve_str(const struct scim_rtype *rt, const char *path,
                             struct scim_resolved *out)
{
    char attr[PATH_SEG_MAX];
    char sub[PATH_SEG_MAX];
    const struct scim_schema *s = NULL;
    const char *rest, *dot;
    size_t urn_len = 0, alen;

    if (!rt || !path || !out)
        return MD_ERR_NOTFOUND;
    s = urn_prefix(rt, path, &urn_len);
    rest = s ? path + urn_len + 1 : path;
    /* A path that starts like a URN but names no schema of rt cannot be an attribute name. */
    if (!s && strchr(path, ':'))
        return MD_ERR_NOTFOUND;
    dot = strchr(rest, '.');
    alen = dot ? (size_t)(dot - rest) : strlen(rest);
    if (alen == 0 || alen >= sizeof attr)
        return MD_ERR_NOTFOUND;
    memcpy(attr, rest, alen);
    attr[alen] = '\0';
    if (dot) {
        size_t slen = strlen(dot + 1);
        if (slen == 0 || slen >= sizeof sub || strchr(dot + 1, '.'))
            return MD_ERR_NOTFOUND;
        memcpy(sub, dot + 1, slen + 1);
    }
    return scim_resolve(rt, s ? s->id : NULL, attr, dot ? sub : NULL, out);
}

/* ---- discovery documents ---- */

static const char *type_name(enum scim_type t)
{
    switch (t) {
    case SCIM_T_STRING:
        return "string";
    case SCIM_T_BOOLEAN:
        return "boolean";
    case SCIM_T_DECIMAL:
        return "decimal";
    case SCIM_T_INTEGER:
        return "integer";
    case SCIM_T_DATETIME:
        return "dateTime";
    case SCIM_T_BINARY:
        return "binary";
    case SCIM_T_REFERENCE:
        return "reference";
    case SCIM_T_COMPLEX:
        return "complex";
    }
    return "string";
}

static const char *mutability_name(enum scim_mutability m)
{
    switch (m) {
    case SCIM_MUT_READWRITE:
        return "readWrite";
    case SCIM_MUT_READONLY:
        return "readOnly";
    case SCIM_MUT_IMMUTABLE:
        return "immutable";
    case SCIM_MUT_WRITEONLY:
        return "writeOnly";
    }
    return "readWrite";
}

static const char *returned_name(enum scim_returned r)
{
    switch (r) {
    case SCIM_RET_DEFAULT:
        return "default";
    case SCIM_RET_ALWAYS:
        return "always";
    case SCIM_RET_NEVER:
        return "never";
    case SCIM_RET_REQUEST:
        return "request";
    }
    return "default";
}

static const char *uniqueness_name(enum scim_uniqueness u)
{
    switch (u) {
    case SCIM_UNIQ_NONE:
        return "none";
    case SCIM_UNIQ_SERVER:
        return "server";
    case SCIM_UNIQ_GLOBAL:
        return "global";
    }
    return "none";
}

/*
 * Sets key to a new value in obj, remembering a failure in *ok so that a builder checks once
 * at the end; jansson releases v when the set fails, and a NULL v is a failed allocation.
 */
static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        *ok = false;
}

static void push(json_t *arr, json_t *v, bool *ok)
{
    if (!v || json_array_append_new(arr, v) != 0)
        *ok = false;
}

static json_t *str_list(const char *const *list)
{
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (; ok && list && *list; list++)
        push(arr, json_string(*list), &ok);
    if (!ok) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *attrs_to_json(const struct scim_attr *attrs);

/*
 * One attribute as section 7 describes it. caseExact is given for the string-like types only,
 * as in section 8.7.1 (it means nothing for booleans, numbers and complex values); canonical
 * values and reference types only when there are some.
 */
static json_t *attr_to_json(const struct scim_attr *a)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    bool stringy = a->type == SCIM_T_STRING || a->type == SCIM_T_REFERENCE ||
                   a->type == SCIM_T_BINARY || a->type == SCIM_T_DATETIME;

    if (!ok)
        return NULL;
    put(o, "name", json_string(a->name), &ok);
    put(o, "type", json_string(type_name(a->type)), &ok);
    put(o, "multiValued", json_boolean(a->multi), &ok);
    put(o, "description", json_string(a->description ? a->description : ""), &ok);
    put(o, "required", json_boolean(a->required), &ok);
    if (stringy)
        put(o, "caseExact", json_boolean(a->case_exact), &ok);
    if (a->canonical)
        put(o, "canonicalValues", str_list(a->canonical), &ok);
    if (a->reference_types)
        put(o, "referenceTypes", str_list(a->reference_types), &ok);
    put(o, "mutability", json_string(mutability_name(a->mutability)), &ok);
    put(o, "returned", json_string(returned_name(a->returned)), &ok);
    put(o, "uniqueness", json_string(uniqueness_name(a->uniqueness)), &ok);
    if (a->type == SCIM_T_COMPLEX && a->subs)
        put(o, "subAttributes", attrs_to_json(a->subs), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *attrs_to_json(const struct scim_attr *attrs)
{
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (const struct scim_attr *a = attrs; ok && a && a->name; a++)
        push(arr, attr_to_json(a), &ok);
    if (!ok) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* {"resourceType": kind, "location": base + "/" + dir + "/" + id}. */
static json_t *meta_json(const char *kind, const char *base_url, const char *dir, const char *id)
{
    struct buf b;
    json_t *m = json_object();
    bool ok = m != NULL;

    buf_init(&b, 0);
    buf_appendf(&b, "%s/%s/%s", base_url ? base_url : "", dir, id);
    if (b.err != MD_OK || !b.p)
        ok = false;
    if (ok) {
        put(m, "resourceType", json_string(kind), &ok);
        put(m, "location", json_string(b.p), &ok);
    }
    buf_free(&b);
    if (!ok) {
        json_decref(m);
        return NULL;
    }
    return m;
}

static json_t *one_string_array(const char *s)
{
    const char *list[] = {s, NULL};
    return str_list(list);
}

json_t *scim_schema_to_json(const struct scim_schema *s, const char *base_url)
{
    json_t *o;
    bool ok;

    if (!s)
        return NULL;
    o = json_object();
    ok = o != NULL;
    if (!ok)
        return NULL;
    put(o, "schemas", one_string_array(SCIM_URN_SCHEMA), &ok);
    put(o, "id", json_string(s->id), &ok);
    put(o, "name", json_string(s->name), &ok);
    put(o, "description", json_string(s->description), &ok);
    put(o, "attributes", attrs_to_json(s->attrs), &ok);
    put(o, "meta", meta_json("Schema", base_url, "Schemas", s->id), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Section 6: extensions are listed with required false (none of ours is required). */
static json_t *extensions_json(const struct scim_rtype *rt)
{
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (const struct scim_schema *const *x = rt->extensions; ok && x && *x; x++) {
        json_t *e = json_object();
        if (!e) {
            ok = false;
            break;
        }
        put(e, "schema", json_string((*x)->id), &ok);
        put(e, "required", json_false(), &ok);
        push(arr, e, &ok);
    }
    if (!ok) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *scim_rtype_to_json(const struct scim_rtype *rt, const char *base_url)
{
    json_t *o;
    bool ok;

    if (!rt)
        return NULL;
    o = json_object();
    ok = o != NULL;
    if (!ok)
        return NULL;
    put(o, "schemas", one_string_array(SCIM_URN_RESOURCETYPE), &ok);
    put(o, "id", json_string(rt->id), &ok);
    put(o, "name", json_string(rt->name), &ok);
    put(o, "endpoint", json_string(rt->endpoint), &ok);
    put(o, "description", json_string(rt->description), &ok);
    put(o, "schema", json_string(rt->schema->id), &ok);
    /* Section 8.6 omits schemaExtensions for a type that has none (Group). */
    if (rt->extensions && rt->extensions[0])
        put(o, "schemaExtensions", extensions_json(rt), &ok);
    put(o, "meta", meta_json("ResourceType", base_url, "ResourceTypes", rt->id), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
