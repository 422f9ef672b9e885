/*
 * Canonicalisation of client-sent SCIM values and resources (RFC 7643 section 2, RFC 7644
 * sections 3.3 and 3.5.1), tolerant of what Okta and Entra ID actually send:
 *
 *  - attribute and sub-attribute names in any case ("Primary", "Manager": {"Value": ...}) take
 *    their schema spelling;
 *  - booleans sent as the strings "True"/"false" (any case) become JSON booleans;
 *  - null, "" and [] clear an attribute: RFC 7643 section 2.5 makes unassigned, null and an
 *    empty array the same state;
 *  - a single value for a multi-valued attribute is a one-element array;
 *  - a bare value for a single-valued complex attribute that has a "value" sub-attribute is
 *    {"value": ...} (Entra ID sends the enterprise manager as a bare id);
 *  - unknown attributes are ignored, and readOnly ones too, because RFC 7644 section 3.5.1 says
 *    values of readOnly attributes in a request "SHALL be ignored" (Okta PUTs back id, meta and
 *    groups; Entra ID posts meta);
 *  - extension attributes arrive nested under their URN or as top-level
 *    "urn:...:enterprise:2.0:User:department" keys; both land under the URN.
 *
 * A value of the wrong type is an error (MD_ERR_VALUE), not silently dropped: a client that
 * sends "active": "yes" must learn that it was not applied.
 */
#include "scim/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/time.h"

/* Room for "attribute.subAttribute" in error messages; longer names are truncated. */
#define NAME_MAX_LEN 160

/* jansson's iteration macros take a non-const object although they do not modify it. */
static json_t *unconst(const json_t *v)
{
    return (json_t *)(uintptr_t)v;
}

static bool is_empty_string(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) == 0;
}

static enum md_err norm_attr(const struct scim_attr *a, const char *path, const json_t *in,
                             json_t **out, struct md_error *e);

static enum md_err type_error(struct md_error *e, const char *path, const char *what)
{
    return md_error_set(e, MD_ERR_VALUE, "attribute '%s' must be %s", path, what);
}

/* Booleans, also as "true"/"false" in any case: Entra ID sends "True" and "False". */
static enum md_err norm_boolean(const char *path, const json_t *in, json_t **out,
                                struct md_error *e)
{
    const char *s = json_string_value(in);

    if (json_is_boolean(in))
        *out = json_incref(unconst(in));
    else if (s && strcasecmp(s, "true") == 0)
        *out = json_true();
    else if (s && strcasecmp(s, "false") == 0)
        *out = json_false();
    else
        return type_error(e, path, "a boolean");
    return MD_OK;
}

/* A dateTime must parse as xsd:dateTime; it is stored as sent, not reformatted. */
static enum md_err norm_datetime(const char *path, const json_t *in, json_t **out,
                                 struct md_error *e)
{
    int64_t ms;

    if (!json_is_string(in) || !time_parse_rfc3339(json_string_value(in), &ms))
        return type_error(e, path, "a dateTime such as \"2026-01-23T04:56:22Z\"");
    *out = json_incref(unconst(in));
    return MD_OK;
}

static enum md_err norm_complex(const struct scim_attr *a, const char *path, const json_t *in,
                                json_t **out, struct md_error *e);

/* One value of attribute a, whatever its plurality: the element of a multi-valued one. */
static enum md_err norm_single(const struct scim_attr *a, const char *path, const json_t *in,
                               json_t **out, struct md_error *e)
{
    *out = NULL;
    if (json_is_null(in) || is_empty_string(in))
        return MD_OK;
    switch (a->type) {
    case SCIM_T_STRING:
    case SCIM_T_REFERENCE:
    case SCIM_T_BINARY:
        if (!json_is_string(in))
            return type_error(e, path, "a string");
        *out = json_incref(unconst(in));
        return MD_OK;
    case SCIM_T_DATETIME:
        return norm_datetime(path, in, out, e);
    case SCIM_T_BOOLEAN:
        return norm_boolean(path, in, out, e);
    case SCIM_T_INTEGER:
        if (!json_is_integer(in))
            return type_error(e, path, "an integer");
        *out = json_incref(unconst(in));
        return MD_OK;
    case SCIM_T_DECIMAL:
        if (!json_is_number(in))
            return type_error(e, path, "a number");
        *out = json_incref(unconst(in));
        return MD_OK;
    case SCIM_T_COMPLEX:
        return norm_complex(a, path, in, out, e);
    }
    return md_error_set(e, MD_ERR_INTERNAL, "attribute '%s' has an unknown type", path);
}

/*
 * The sub-attributes of one complex value. Unknown and readOnly sub-attributes are dropped;
 * when the same sub-attribute is sent twice in different cases, the later one wins (and a
 * later null or "" clears it). A value left with nothing in it is *out = NULL.
 */
static enum md_err norm_object(const struct scim_attr *a, const char *path, const json_t *in,
                               json_t **out, struct md_error *e)
{
    char name[NAME_MAX_LEN];
    json_t *res = json_object();
    const char *key;
    json_t *v;
    enum md_err rc = MD_OK;

    if (!res)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    json_object_foreach(unconst(in), key, v)
    {
        const struct scim_attr *sub = scim_attr_find(a->subs, key);
        json_t *nv = NULL;

        if (!sub || sub->mutability == SCIM_MUT_READONLY)
            continue;
        snprintf(name, sizeof name, "%s.%s", path, sub->name);
        rc = norm_attr(sub, name, v, &nv, e);
        if (rc != MD_OK)
            goto out;
        if (!nv) {
            json_object_del(res, sub->name);
            continue;
        }
        if (json_object_set_new(res, sub->name, nv) != 0) {
            rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (json_object_size(res) > 0) {
        *out = res;
        res = NULL;
    }
out:
    json_decref(res);
    return rc;
}

static enum md_err norm_complex(const struct scim_attr *a, const char *path, const json_t *in,
                                json_t **out, struct md_error *e)
{
    json_t *wrapped;
    enum md_err rc;

    if (json_is_object(in))
        return norm_object(a, path, in, out, e);
    /* Entra ID sends the enterprise manager as a bare id: read it as {"value": id}. */
    if (!a->multi && !json_is_array(in) && scim_attr_find(a->subs, "value")) {
        wrapped = json_pack("{sO}", "value", unconst(in));
        if (!wrapped)
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        rc = norm_object(a, path, wrapped, out, e);
        json_decref(wrapped);
        return rc;
    }
    return type_error(e, path, "an object");
}

/*
 * RFC 7643 section 2.4 allows "primary": true on at most one element. Rejecting a request
 * for a second one would break provisioning over a cosmetic flag, so the first element
 * marked primary keeps it and later ones are set to false.
 */
static void single_primary(json_t *arr)
{
    bool seen = false;
    size_t i;
    json_t *el;

    json_array_foreach(arr, i, el)
    {
        json_t *p = json_object_get(el, "primary");
        if (!json_is_true(p))
            continue;
        if (seen)
            json_object_set_new(el, "primary", json_false());
        seen = true;
    }
}

/*
 * A multi-valued attribute: an array, or a single value taken as a one-element array.
 * Elements that normalise to nothing are dropped, and an array left empty is *out = NULL.
 */
static enum md_err norm_multi(const struct scim_attr *a, const char *path, const json_t *in,
                              json_t **out, struct md_error *e)
{
    bool is_arr = json_is_array(in);
    size_t n = is_arr ? json_array_size(in) : 1;
    json_t *res = NULL;
    enum md_err rc = MD_OK;

    if (json_is_null(in) || is_empty_string(in))
        return MD_OK;
    res = json_array();
    if (!res)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *el = is_arr ? json_array_get(in, i) : in;
        json_t *nv = NULL;

        if (json_is_array(el)) {
            rc = md_error_set(e, MD_ERR_VALUE, "attribute '%s' must not contain nested arrays",
                              path);
            goto out;
        }
        rc = norm_single(a, path, el, &nv, e);
        if (rc != MD_OK)
            goto out;
        if (nv && json_array_append_new(res, nv) != 0) {
            rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (a->type == SCIM_T_COMPLEX)
        single_primary(res);
    if (json_array_size(res) > 0) {
        *out = res;
        res = NULL;
    }
out:
    json_decref(res);
    return rc;
}

static enum md_err norm_attr(const struct scim_attr *a, const char *path, const json_t *in,
                             json_t **out, struct md_error *e)
{
    *out = NULL;
    if (!in)
        return MD_OK;
    return a->multi ? norm_multi(a, path, in, out, e) : norm_single(a, path, in, out, e);
}

enum md_err scim_value_normalize(const struct scim_attr *a, const json_t *in, json_t **out,
                                 struct md_error *e)
{
    if (!out)
        return md_error_set(e, MD_ERR_INTERNAL, "no output for a normalised value");
    *out = NULL;
    if (!a)
        return md_error_set(e, MD_ERR_INTERNAL, "no attribute to normalise against");
    return norm_attr(a, a->name, in, out, e);
}

/* ---- whole resources ---- */

/*
 * "schemas" may be absent (then the core URN is assumed); when present it is an array of
 * strings that names the core schema. Other URNs are accepted and not stored: the extensions
 * present are recomputed from the attributes, and Entra ID adds its ADSCIM group schema.
 */
static enum md_err check_schemas(const struct scim_rtype *rt, const json_t *body,
                                 struct md_error *e)
{
    const json_t *schemas = json_object_iget(body, "schemas");
    bool core = false;
    size_t i;
    json_t *v;

    if (!schemas)
        return MD_OK;
    if (!json_is_array(schemas))
        return md_error_set(e, MD_ERR_SYNTAX, "\"schemas\" must be an array of URNs");
    json_array_foreach(unconst(schemas), i, v)
    {
        if (!json_is_string(v))
            return md_error_set(e, MD_ERR_SYNTAX, "\"schemas\" must be an array of URNs");
        if (strcasecmp(json_string_value(v), rt->schema->id) == 0)
            core = true;
    }
    if (!core)
        return md_error_set(e, MD_ERR_SYNTAX, "\"schemas\" must include \"%s\"", rt->schema->id);
    return MD_OK;
}

/*
 * Whether the stored document leaves out a resolved attribute: readOnly ones (id, meta, a
 * user's groups) are the server's to set; the writeOnly password is dropped because mandate
 * never stores or returns passwords (it authenticates no one with them, and keeping a copy
 * would only make a target); a group's members live in their own table, and the caller
 * applies them.
 */
static bool not_stored(const struct scim_resolved *r)
{
    const struct scim_attr *a = r->sub ? r->sub : r->attr;

    if (r->attr->mutability == SCIM_MUT_READONLY || r->attr->mutability == SCIM_MUT_WRITEONLY)
        return true;
    if (a->mutability == SCIM_MUT_READONLY || a->mutability == SCIM_MUT_WRITEONLY)
        return true;
    return r->schema == &scim_schema_group &&
           r->attr == scim_attr_find(r->schema->attrs, "members");
}

/* The object that holds r's attribute: doc itself, or doc[urn] for an extension (created). */
static json_t *container(json_t *doc, const struct scim_resolved *r, struct md_error *e)
{
    json_t *c;

    if (!r->extension)
        return doc;
    c = json_object_get(doc, r->schema->id);
    if (c)
        return c;
    c = json_object();
    if (!c || json_object_set_new(doc, r->schema->id, c) != 0) {
        md_error_set(e, MD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return c;
}

/* Sets obj[key] to v (consumed), or removes obj[key] when v is NULL. */
static enum md_err set_or_clear(json_t *obj, const char *key, json_t *v, struct md_error *e)
{
    if (!v) {
        json_object_del(obj, key);
        return MD_OK;
    }
    if (json_object_set_new(obj, key, v) != 0)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    return MD_OK;
}

/*
 * Stores one attribute value (or, for a "urn:...:manager.value" key, one sub-attribute of a
 * single-valued complex attribute) into doc. A later key overwrites an earlier one that
 * named the same attribute, in whatever spelling.
 */
static enum md_err put_resolved(json_t *doc, const struct scim_resolved *r, const json_t *val,
                                struct md_error *e)
{
    char name[NAME_MAX_LEN];
    json_t *c, *parent, *nv = NULL;
    enum md_err rc;

    if (not_stored(r))
        return MD_OK;
    /* A sub-attribute of a multi-valued attribute names no single value to set. */
    if (r->sub && r->attr->multi)
        return MD_OK;
    c = container(doc, r, e);
    if (!c)
        return MD_ERR_NOMEM;
    if (!r->sub) {
        rc = norm_attr(r->attr, r->attr->name, val, &nv, e);
        return rc != MD_OK ? rc : set_or_clear(c, r->attr->name, nv, e);
    }
    snprintf(name, sizeof name, "%s.%s", r->attr->name, r->sub->name);
    rc = norm_attr(r->sub, name, val, &nv, e);
    if (rc != MD_OK)
        return rc;
    parent = json_object_get(c, r->attr->name);
    if (!parent) {
        if (!nv)
            return MD_OK;
        parent = json_object();
        if (!parent || json_object_set_new(c, r->attr->name, parent) != 0) {
            json_decref(nv);
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        }
    }
    rc = set_or_clear(parent, r->sub->name, nv, e);
    if (rc == MD_OK && json_object_size(parent) == 0)
        json_object_del(c, r->attr->name);
    return rc;
}

/* Every attribute of an extension's (or the core schema's) object, sent nested under its URN. */
static enum md_err put_schema_object(json_t *doc, const struct scim_rtype *rt,
                                     const struct scim_schema *s, const json_t *obj,
                                     struct md_error *e)
{
    const char *key;
    json_t *v;
    enum md_err rc;

    if (json_is_null(obj) || is_empty_string(obj)) {
        json_object_del(doc, s->id);
        return MD_OK;
    }
    if (!json_is_object(obj))
        return md_error_set(e, MD_ERR_VALUE, "\"%s\" must be an object", s->id);
    json_object_foreach(unconst(obj), key, v)
    {
        struct scim_resolved r;
        if (scim_resolve(rt, s->id, key, NULL, &r) != MD_OK)
            continue;
        rc = put_resolved(doc, &r, v, e);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/*
 * One top-level key of the body: "schemas" (checked apart), a schema URN holding that schema's
 * attributes, a "urn:...:attr[.sub]" path, or a plain core or common attribute name. Plain
 * names are not looked up in the extensions, whose attributes nest under their URN (RFC 7643
 * section 3.3). Anything else is unknown and ignored.
 */
static enum md_err put_key(json_t *doc, const struct scim_rtype *rt, const char *key,
                           const json_t *v, struct md_error *e)
{
    const struct scim_schema *s;
    struct scim_resolved r;

    if (strcasecmp(key, "schemas") == 0)
        return MD_OK;
    s = scim_rtype_schema(rt, key);
    if (s)
        return put_schema_object(doc, rt, s, v, e);
    if (strchr(key, ':')) {
        if (scim_resolve_str(rt, key, &r) != MD_OK)
            return MD_OK;
    } else if (scim_resolve(rt, rt->schema->id, key, NULL, &r) != MD_OK) {
        return MD_OK;
    }
    return put_resolved(doc, &r, v, e);
}

/* The required attributes of s, looked for in obj. */
static enum md_err check_required(const struct scim_schema *s, const json_t *obj,
                                  struct md_error *e)
{
    for (const struct scim_attr *a = s->attrs; a->name; a++) {
        if (!a->required || a->mutability == SCIM_MUT_READONLY)
            continue;
        if (!json_object_get(obj, a->name))
            return md_error_set(e, MD_ERR_VALUE, "attribute '%s' is required", a->name);
    }
    return MD_OK;
}

/*
 * Lists the extensions that hold something after the core URN in "schemas", drops the
 * extension objects left empty, and checks the required attributes of each schema present.
 */
static enum md_err finish(json_t *doc, const struct scim_rtype *rt, json_t *schemas,
                          struct md_error *e)
{
    enum md_err rc = check_required(rt->schema, doc, e);

    for (const struct scim_schema *const *x = rt->extensions; rc == MD_OK && x && *x; x++) {
        json_t *obj = json_object_get(doc, (*x)->id);
        if (!obj)
            continue;
        if (json_object_size(obj) == 0) {
            json_object_del(doc, (*x)->id);
            continue;
        }
        rc = check_required(*x, obj, e);
        if (rc == MD_OK && json_array_append_new(schemas, json_string((*x)->id)) != 0)
            rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    return rc;
}

enum md_err scim_resource_from_json(const struct scim_rtype *rt, const json_t *body,
                                    json_t **doc_out, struct md_error *e)
{
    json_t *doc = NULL, *schemas;
    const char *key;
    json_t *v;
    enum md_err rc;

    *doc_out = NULL;
    if (!json_is_object(body))
        return md_error_set(e, MD_ERR_SYNTAX, "the request body must be a JSON object");
    rc = check_schemas(rt, body, e);
    if (rc != MD_OK)
        return rc;
    /* "schemas" goes in first so that it leads the stored and returned document. */
    doc = json_object();
    schemas = json_pack("[s]", rt->schema->id);
    if (!doc || !schemas) {
        json_decref(schemas);
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (json_object_set_new(doc, "schemas", schemas) != 0) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    json_object_foreach(unconst(body), key, v)
    {
        rc = put_key(doc, rt, key, v, e);
        if (rc != MD_OK)
            goto out;
    }
    rc = finish(doc, rt, schemas, e);
    if (rc != MD_OK)
        goto out;
    *doc_out = doc;
    doc = NULL;
out:
    json_decref(doc);
    return rc;
}
