/*
 * SCIM schemas (RFC 7643) as declarative tables: the core User, the Enterprise User
 * extension, Group, and the attributes common to every resource. Everything that needs to know
 * an attribute's type, plurality, caseExact, mutability or returned-ness asks here: the filter
 * compiler, the PATCH engine, the resource handlers and the discovery endpoints.
 */
#ifndef MANDATE_SCIM_SCHEMA_H
#define MANDATE_SCIM_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

#define SCIM_URN_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_URN_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_URN_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_URN_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_URN_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_URN_PATCHOP "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_URN_SEARCH "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
#define SCIM_URN_BULKREQ "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#define SCIM_URN_BULKRESP "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
#define SCIM_URN_SPC "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
#define SCIM_URN_RESOURCETYPE "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
#define SCIM_URN_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:Schema"
/* Entra ID sends this extra schema on groups; it carries nothing we store. */
#define SCIM_URN_ADSCIM_GROUP                                                                      \
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"

enum scim_type {
    SCIM_T_STRING,
    SCIM_T_BOOLEAN,
    SCIM_T_DECIMAL,
    SCIM_T_INTEGER,
    SCIM_T_DATETIME,
    SCIM_T_BINARY,
    SCIM_T_REFERENCE,
    SCIM_T_COMPLEX,
};

enum scim_mutability {
    SCIM_MUT_READWRITE,
    SCIM_MUT_READONLY,
    SCIM_MUT_IMMUTABLE,
    SCIM_MUT_WRITEONLY
};
enum scim_returned { SCIM_RET_DEFAULT, SCIM_RET_ALWAYS, SCIM_RET_NEVER, SCIM_RET_REQUEST };
enum scim_uniqueness { SCIM_UNIQ_NONE, SCIM_UNIQ_SERVER, SCIM_UNIQ_GLOBAL };

/* One attribute; arrays of them end with an entry whose name is NULL. */
struct scim_attr {
    const char *name;
    enum scim_type type;
    bool multi;
    bool required;
    bool case_exact;
    enum scim_mutability mutability;
    enum scim_returned returned;
    enum scim_uniqueness uniqueness;
    const char *description;
    const char *const *canonical;       /* NULL-terminated, or NULL */
    const char *const *reference_types; /* NULL-terminated, or NULL */
    const struct scim_attr *subs;       /* sub-attributes of a complex attribute, or NULL */
};

struct scim_schema {
    const char *id; /* the URN */
    const char *name;
    const char *description;
    const struct scim_attr *attrs;
};

struct scim_rtype {
    const char *id;       /* "User" */
    const char *name;     /* "User" */
    const char *endpoint; /* "/Users" */
    const char *description;
    const struct scim_schema *schema;
    const struct scim_schema *const *extensions; /* NULL-terminated; none required */
};

/* The attributes every resource has (id, externalId, meta; RFC 7643 section 3.1). */
extern const struct scim_attr scim_common_attrs[];
extern const struct scim_schema scim_schema_user;
extern const struct scim_schema scim_schema_enterprise_user;
extern const struct scim_schema scim_schema_group;
extern const struct scim_rtype scim_rtype_user;
extern const struct scim_rtype scim_rtype_group;
/* NULL-terminated lists for discovery. */
extern const struct scim_rtype *const scim_rtypes[];
extern const struct scim_schema *const scim_schemas[];

/* The attribute named name (case-insensitively) in a NULL-name-terminated array, or NULL. */
const struct scim_attr *scim_attr_find(const struct scim_attr *attrs, const char *name);

/* The schema with this URN (case-insensitively) among the resource type's core and extensions. */
const struct scim_schema *scim_rtype_schema(const struct scim_rtype *rt, const char *urn);

/*
 * What an attribute path names in a resource type. A path is an optional schema URN, an
 * attribute and an optional sub-attribute, matched case-insensitively. Without a URN the core
 * schema and the common attributes are searched first, then each extension.
 *   attr: the attribute (never NULL on success); sub: the sub-attribute, or NULL.
 *   schema: the schema holding attr, or NULL for a common attribute (id, externalId, meta).
 *   extension: true when schema is an extension, whose attributes nest under its URN.
 */
struct scim_resolved {
    const struct scim_schema *schema;
    const struct scim_attr *attr;
    const struct scim_attr *sub;
    bool extension;
};

/*
 * Resolves urn (may be NULL), attr and sub (may be NULL) in rt. A path naming a URN whose
 * schema holds no such attribute, or an unknown attribute, gives MD_ERR_NOTFOUND (the caller
 * maps it to invalidFilter or invalidPath); a sub-attribute of a simple attribute likewise.
 */
enum md_err scim_resolve(const struct scim_rtype *rt, const char *urn, const char *attr,
                         const char *sub, struct scim_resolved *out);

/*
 * Splits a full attribute path such as "name.familyName",
 * "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value" or "emails"
 * and resolves it as above. Used for sortBy, attributes and excludedAttributes.
 */
enum md_err scim_resolve_str(const struct scim_rtype *rt, const char *path,
                             struct scim_resolved *out);

/*
 * Canonicalises a client-sent value for attribute a: attribute and sub-attribute names take
 * their schema spelling (matched case-insensitively), "True"/"False" strings become booleans
 * for boolean attributes (Entra ID sends them), unknown and readOnly sub-attributes are
 * dropped, a single value for a multi-valued attribute becomes a one-element array, and values
 * of the wrong type give MD_ERR_VALUE. null, "" and an empty complex value give *out = NULL,
 * which means "clear the attribute". Otherwise *out is a new reference.
 */
enum md_err scim_value_normalize(const struct scim_attr *a, const json_t *in, json_t **out,
                                 struct md_error *e);

/*
 * Builds the stored document from a client-sent resource (a POST or PUT body): "schemas" as
 * the core URN plus each extension present; every known attribute under its schema spelling,
 * normalised as above; extension attributes under their URN key (also when sent as
 * "urn:...:User:department" keys); id, meta, readOnly attributes (groups on users, and
 * members on groups, which the caller handles), unknown attributes and the writeOnly password
 * dropped. A required attribute missing gives MD_ERR_VALUE; a body that is not an object or
 * whose "schemas" lacks the core URN gives MD_ERR_SYNTAX (when "schemas" is absent it is
 * assumed). *doc_out is a new reference.
 */
enum md_err scim_resource_from_json(const struct scim_rtype *rt, const json_t *body,
                                    json_t **doc_out, struct md_error *e);

/* Discovery documents (new references; location uses base_url, e.g. "http://h/scim/v2"). */
json_t *scim_schema_to_json(const struct scim_schema *s, const char *base_url);
json_t *scim_rtype_to_json(const struct scim_rtype *rt, const char *base_url);

#endif
