/*
 * The PATCH engine of RFC 7644 section 3.5.2, over the stored document form (see patch.h).
 *
 * An operation is resolved to a target: an attribute of the resource type (core, common, or an
 * extension's, which nests under its URN), optionally a sub-attribute, optionally a valuePath
 * filter selecting elements of a multi-valued complex attribute. Every client value goes
 * through scim_value_normalize for the attribute it lands on, so the document keeps canonical
 * names and types whatever spelling the client used. null and "" clear the target (Entra ID
 * clears with ""); a complex value is merged one sub-attribute at a time, so that a
 * sub-attribute sent as null or "" is cleared while one not sent stays; replacing a
 * multi-valued attribute with nothing ([]) clears it, adding nothing changes nothing.
 *
 * Choices where RFC 7644 is silent or where clients need more than it says, each tested:
 *  - add or replace of `attr[filter].sub` that matches no element creates one element from the
 *    filter's "eq" terms plus the sub-attribute (Entra ID and Okta rely on this); a replace of
 *    `attr[filter]` without a sub-attribute that matches nothing is noTarget (section 3.5.2.3);
 *  - remove with a filter that matches nothing is not an error: the state asked for holds;
 *  - remove of a multi-valued attribute with a value removes the elements the value describes
 *    (every sub-attribute it gives is equal), as SCIMMY and Entra ID's group members expect;
 *  - removing or clearing a required attribute (userName, a group's displayName) is
 *    MD_ERR_MUTABILITY, as section 3.5.2.2 says ("scimType" mutability);
 *  - replace of a single complex attribute merges: sub-attributes not given stay (3.5.2.3);
 *  - writeOnly attributes (password) are accepted and dropped: the stored document never holds
 *    them, as scim_resource_from_json drops them;
 *  - in a pathless value, "id", "meta" and "schemas" are ignored (Okta echoes the group's id),
 *    every other key is applied as the operation with that key as its path;
 *  - when an operation leaves an element of a multi-valued attribute with "primary": true, every
 *    other element that says primary is set to false (RFC 7643 section 2.4: at most one);
 *  - an extension object left empty is removed, and its URN with it from "schemas".
 */
#include "scim/patch.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/str.h"

enum patch_op { PATCH_ADD, PATCH_REPLACE, PATCH_REMOVE };

/* What every step of one operation needs. e is the engine's own error, which scim_patch_apply
 * copies to the caller's with the operation's index in front. */
struct patch_ctx {
    const struct scim_rtype *rt;
    json_t *doc;
    const struct scim_patch_members *members;
    struct md_error *e;
};

/* A resolved PATCH target: the attribute, the sub-attribute written (a dotted path's or the one
 * after a bracket), and the valuePath filter. */
struct patch_target {
    struct scim_resolved r;
    const struct filter_node *filter;
};

static const char *op_name(enum patch_op op)
{
    return op == PATCH_ADD ? "add" : op == PATCH_REPLACE ? "replace" : "remove";
}

static bool op_parse(const char *s, enum patch_op *out)
{
    if (cstr_ieq(s, "add"))
        *out = PATCH_ADD;
    else if (cstr_ieq(s, "replace"))
        *out = PATCH_REPLACE;
    else if (cstr_ieq(s, "remove"))
        *out = PATCH_REMOVE;
    else
        return false;
    return true;
}

/* Sets obj[key] to a new reference to v, removing any other spelling of key first, so that the
 * document keeps one canonical key. */
static enum md_err obj_put(json_t *obj, const char *key, json_t *v)
{
    json_object_idel(obj, key);
    if (json_object_set(obj, key, v) != 0)
        return MD_ERR_NOMEM;
    return MD_OK;
}

/* As obj_put, but obj takes v's reference, also on failure. */
static enum md_err obj_put_new(json_t *obj, const char *key, json_t *v)
{
    enum md_err rc;
    if (!v)
        return MD_ERR_NOMEM;
    rc = obj_put(obj, key, v);
    json_decref(v);
    return rc;
}

static bool is_primary(const json_t *el)
{
    return json_is_object(el) && json_is_true(json_object_iget(el, "primary"));
}

/*
 * RFC 7643 section 2.4: at most one element of a multi-valued attribute is primary. winner is
 * the element the operation just made primary (or NULL); every other element saying primary
 * true is set to false.
 */
static enum md_err fix_primary(json_t *arr, json_t *winner)
{
    size_t i;
    json_t *el;

    if (!winner || !json_is_array(arr))
        return MD_OK;
    json_array_foreach(arr, i, el)
    {
        if (el != winner && is_primary(el) && obj_put(el, "primary", json_false()) != MD_OK)
            return MD_ERR_NOMEM;
    }
    return MD_OK;
}

/* ---- "schemas" and the objects that hold attributes ---- */

static enum md_err schemas_add(struct patch_ctx *c, const char *urn)
{
    json_t *s = json_object_iget(c->doc, "schemas");
    json_t *v;
    size_t i;

    if (!json_is_array(s)) {
        s = json_array();
        if (!s || json_array_append_new(s, json_string(c->rt->schema->id)) != 0 ||
            obj_put_new(c->doc, "schemas", s) != MD_OK)
            return MD_ERR_NOMEM;
    }
    json_array_foreach(s, i, v)
    {
        if (cstr_ieq(json_string_value(v), urn))
            return MD_OK;
    }
    return json_array_append_new(s, json_string(urn)) == 0 ? MD_OK : MD_ERR_NOMEM;
}

static void schemas_del(struct patch_ctx *c, const char *urn)
{
    json_t *s = json_object_iget(c->doc, "schemas");
    size_t i;

    if (!json_is_array(s))
        return;
    for (i = json_array_size(s); i-- > 0;) {
        if (cstr_ieq(json_string_value(json_array_get(s, i)), urn))
            json_array_remove(s, i);
    }
}

/*
 * The object holding the target's attribute: the document for core and common attributes, the
 * extension's object under its URN otherwise. With create, a missing extension object is
 * made and its URN added to "schemas"; holder_tidy undoes that when nothing was written.
 * NULL without create means the extension is absent; NULL with create means no memory.
 */
static json_t *holder_get(struct patch_ctx *c, const struct scim_resolved *r, bool create)
{
    json_t *h;

    if (!r->extension)
        return c->doc;
    h = json_object_iget(c->doc, r->schema->id);
    if (json_is_object(h) || !create)
        return json_is_object(h) ? h : NULL;
    h = json_object();
    if (obj_put_new(c->doc, r->schema->id, h) != MD_OK)
        return NULL;
    if (schemas_add(c, r->schema->id) != MD_OK)
        return NULL;
    return h;
}

/* An extension object left empty goes, with its URN in "schemas" (the stored form lists exactly
 * the extensions present). */
static void holder_tidy(struct patch_ctx *c, const struct scim_resolved *r)
{
    json_t *h;

    if (!r->extension)
        return;
    h = json_object_iget(c->doc, r->schema->id);
    if (json_is_object(h) && json_object_size(h) > 0)
        return;
    json_object_idel(c->doc, r->schema->id);
    schemas_del(c, r->schema->id);
}

/* ---- values ---- */

static bool has_value_sub(const struct scim_attr *a)
{
    return a->type == SCIM_T_COMPLEX && a->subs && scim_attr_find(a->subs, "value");
}

/* A bare scalar where a complex value with a "value" sub-attribute belongs becomes
 * {"value": scalar}: Entra ID sends the enterprise manager as the manager's id. */
static json_t *wrap_scalar(const json_t *v)
{
    json_t *o = json_object();
    if (o && json_object_set(o, "value", (json_t *)(uintptr_t)v) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* A new reference to v, with bare scalars wrapped as above (also inside an array). */
static json_t *wrap_bare(const struct scim_attr *a, const json_t *v)
{
    json_t *out, *el;
    size_t i;

    if (!has_value_sub(a) || !v)
        return json_incref((json_t *)(uintptr_t)v);
    if (json_is_string(v) || json_is_number(v) || json_is_boolean(v))
        return wrap_scalar(v);
    if (!json_is_array(v))
        return json_incref((json_t *)(uintptr_t)v);
    out = json_array();
    json_array_foreach(v, i, el)
    {
        json_t *w = (json_is_string(el) || json_is_number(el) || json_is_boolean(el))
                        ? wrap_scalar(el)
                        : json_incref(el);
        if (!out || json_array_append_new(out, w) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Normalises a client value for attribute a (see scim_value_normalize); *out NULL: clear. */
static enum md_err normalize(struct patch_ctx *c, const struct scim_attr *a, const json_t *in,
                             json_t **out)
{
    json_t *w;
    enum md_err rc;

    *out = NULL;
    if (!in || json_is_null(in))
        return MD_OK;
    w = wrap_bare(a, in);
    if (!w)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    rc = scim_value_normalize(a, w, out, c->e);
    json_decref(w);
    if (rc != MD_OK && c->e->code != rc)
        md_error_set(c->e, rc, "invalid value for \"%s\"", a->name);
    return rc;
}

/* Copies every member of src into dst (deep copies: one value may land in several elements,
 * which must not share children that a later operation changes in place). */
static enum md_err merge_into(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)(uintptr_t)src, k, v)
    {
        if (obj_put_new(dst, k, json_deep_copy(v)) != MD_OK)
            return MD_ERR_NOMEM;
    }
    return MD_OK;
}

/* null and "": the values that clear what they target (RFC 7643 section 2.5). */
static bool is_clear(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/*
 * Merges a client's complex value src into the object dst one sub-attribute at a time, each
 * normalised for its sub-attribute: a sub-attribute given as null or "" is removed, one not
 * given stays (RFC 7644 3.5.2.1, 3.5.2.3), and unknown, readOnly and writeOnly ones are ignored
 * as scim_value_normalize ignores them. Merging the normalised whole instead would lose the
 * difference between "clear givenName" and "givenName not given".
 */
static enum md_err merge_complex(struct patch_ctx *c, const struct scim_attr *a, json_t *dst,
                                 const json_t *src)
{
    const struct scim_attr *sub;
    const char *k;
    json_t *v, *nv;
    enum md_err rc;

    json_object_foreach((json_t *)(uintptr_t)src, k, v)
    {
        sub = a->subs ? scim_attr_find(a->subs, k) : NULL;
        if (!sub || sub->mutability == SCIM_MUT_READONLY || sub->mutability == SCIM_MUT_WRITEONLY)
            continue;
        rc = normalize(c, sub, v, &nv);
        if (rc != MD_OK)
            return rc;
        if (!nv) {
            json_object_idel(dst, sub->name);
            continue;
        }
        if (obj_put_new(dst, sub->name, nv) != MD_OK)
            return md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    }
    return MD_OK;
}

/*
 * One complex value from a client value: an object, a bare scalar read as {"value": scalar}
 * (see wrap_bare), or for an element of a multi-valued attribute a one-element array. A new
 * reference, or an MD_ERR_VALUE.
 */
static enum md_err complex_value(struct patch_ctx *c, const struct scim_attr *a,
                                 const json_t *value, json_t **out)
{
    json_t *w = wrap_bare(a, value), *el = w;

    *out = NULL;
    if (!w)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    if (a->multi && json_is_array(w) && json_array_size(w) == 1)
        el = json_array_get(w, 0);
    if (json_is_object(el))
        *out = json_incref(el);
    json_decref(w);
    if (!*out)
        return md_error_set(c->e, MD_ERR_VALUE, "the value for \"%s\" must be one object", a->name);
    return MD_OK;
}

/* ---- filters over elements ---- */

/*
 * Does element el of the multi-valued attribute a match f (NULL: every element)? The element is
 * matched as the resource {a: [el]} against a[f], so that the matcher resolves the filter's
 * sub-attributes in their attribute and honours their caseExact.
 */
static bool elem_matches(struct patch_ctx *c, const struct patch_target *t, const json_t *el)
{
    struct filter_node vp;
    char name[128];
    json_t *scope, *one;
    bool ok;

    if (!json_is_object(el))
        return false;
    if (!t->filter)
        return true;
    if (t->r.extension)
        return scim_filter_match(t->filter, el, NULL, false);
    snprintf(name, sizeof name, "%s", t->r.attr->name);
    memset(&vp, 0, sizeof vp);
    vp.kind = FILTER_VALPATH;
    vp.path.attr = name;
    memcpy(&vp.inner, &t->filter, sizeof vp.inner);
    scope = json_object();
    one = json_array();
    if (!scope || !one || json_array_append(one, (json_t *)(uintptr_t)el) != 0 ||
        json_object_set(scope, name, one) != 0) {
        json_decref(scope);
        json_decref(one);
        return false;
    }
    ok = scim_filter_match(&vp, scope, c->rt, false);
    json_decref(one);
    json_decref(scope);
    return ok;
}

static json_t *filter_value_json(const struct filter_value *v)
{
    switch (v->type) {
    case FVAL_STRING:
        return v->str ? json_string(v->str) : NULL;
    case FVAL_BOOL:
        return json_boolean(v->b);
    case FVAL_NUMBER:
        /* Integral values within json_int_t's exact range stay integers; NaN and the
         * infinities fail both tests and give NULL through json_real. */
        if (v->num > -9.0e15 && v->num < 9.0e15 && (double)(json_int_t)v->num == v->num)
            return json_integer((json_int_t)v->num);
        return json_real(v->num);
    default:
        return NULL;
    }
}

/*
 * Collects the "eq" terms of a filter made only of eq comparisons joined by "and" into obj:
 * `type eq "work" and primary eq true` gives {"type": "work", "primary": true}. False when the
 * filter has any other shape, since then no element can be said to be the one it names.
 */
static bool eq_terms(const struct filter_node *f, json_t *obj, int depth)
{
    json_t *v;

    if (!f || depth > SCIM_FILTER_MAX_DEPTH * 2)
        return false;
    if (f->kind == FILTER_AND)
        return eq_terms(f->left, obj, depth + 1) && eq_terms(f->right, obj, depth + 1);
    if (f->kind != FILTER_CMP || f->op != FOP_EQ || f->path.urn || f->path.sub || !f->path.attr)
        return false;
    v = filter_value_json(&f->value);
    if (!v)
        return false;
    return json_object_set_new(obj, f->path.attr, v) == 0;
}

/* ---- the operations on attributes of the document ---- */

/* Removes the whole attribute; a required one cannot be unassigned (RFC 7644 3.5.2.2). */
static enum md_err clear_attr(struct patch_ctx *c, const struct patch_target *t, json_t *holder)
{
    if (t->r.attr->required)
        return md_error_set(c->e, MD_ERR_MUTABILITY, "\"%s\" is required and cannot be removed",
                            t->r.attr->name);
    if (holder)
        json_object_idel(holder, t->r.attr->name);
    return MD_OK;
}

/* Does value v describe element el: equal, or for objects every member of v equal in el? */
static bool value_covers(const json_t *v, const json_t *el)
{
    const char *k;
    json_t *x;

    if (!json_is_object(v) || !json_is_object(el))
        return json_equal(v, el);
    json_object_foreach((json_t *)(uintptr_t)v, k, x)
    {
        if (!json_equal(x, json_object_iget(el, k)))
            return false;
    }
    return true;
}

/* remove of a multi-valued attribute with a value: drops the elements the value describes. */
static enum md_err remove_values(struct patch_ctx *c, const struct patch_target *t, json_t *holder,
                                 const json_t *value)
{
    json_t *nv, *arr, *v;
    enum md_err rc;
    size_t i, j;

    rc = normalize(c, t->r.attr, value, &nv);
    if (rc != MD_OK || !nv)
        return rc; /* a value that describes no element removes none */
    arr = holder ? json_object_iget(holder, t->r.attr->name) : NULL;
    for (i = json_array_size(arr); i-- > 0;) {
        json_array_foreach(nv, j, v)
        {
            if (value_covers(v, json_array_get(arr, i))) {
                json_array_remove(arr, i);
                break;
            }
        }
    }
    json_decref(nv);
    if (json_is_array(arr) && json_array_size(arr) == 0)
        return clear_attr(c, t, holder);
    return MD_OK;
}

/* Appends the elements of nv not already present (equal) to the array arr. */
static enum md_err append_new(json_t *arr, const json_t *nv, json_t **winner)
{
    size_t i, j;
    json_t *v, *old;
    bool dup;

    json_array_foreach(nv, i, v)
    {
        dup = false;
        json_array_foreach(arr, j, old)
        {
            if (json_equal(old, v)) {
                dup = true;
                break;
            }
        }
        if (dup)
            continue;
        if (json_array_append_new(arr, json_deep_copy(v)) != 0)
            return MD_ERR_NOMEM;
        if (is_primary(v))
            *winner = json_array_get(arr, json_array_size(arr) - 1);
    }
    return MD_OK;
}

/* The last element of arr that is primary, or NULL. */
static json_t *last_primary(json_t *arr)
{
    json_t *w = NULL, *el;
    size_t i;

    json_array_foreach(arr, i, el)
    {
        if (is_primary(el))
            w = el;
    }
    return w;
}

/* add or replace of a single-valued complex attribute: merges (see merge_complex). An
 * attribute left with no sub-attribute is unassigned. */
static enum md_err set_complex(struct patch_ctx *c, const struct patch_target *t, json_t *holder,
                               const json_t *value)
{
    json_t *src = NULL, *cur;
    enum md_err rc;

    rc = complex_value(c, t->r.attr, value, &src);
    if (rc != MD_OK)
        return rc;
    cur = json_object_iget(holder, t->r.attr->name);
    if (!json_is_object(cur)) {
        cur = json_object();
        if (obj_put_new(holder, t->r.attr->name, cur) != MD_OK) {
            rc = md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = merge_complex(c, t->r.attr, cur, src);
    if (rc == MD_OK && json_object_size(cur) == 0)
        rc = clear_attr(c, t, holder);
out:
    json_decref(src);
    return rc;
}

/*
 * An operation on a whole attribute (no sub-attribute, no filter). add appends to a
 * multi-valued attribute and merges into a complex one; replace sets a multi-valued attribute
 * to the value and merges into a complex one (3.5.2.3: sub-attributes not given stay); both set
 * a simple attribute. remove unassigns, or with a value on a multi-valued attribute removes the
 * elements described.
 */
static enum md_err op_whole(struct patch_ctx *c, enum patch_op op, const struct patch_target *t,
                            json_t *holder, const json_t *value)
{
    const struct scim_attr *a = t->r.attr;
    json_t *nv = NULL, *cur, *winner = NULL;
    enum md_err rc;

    if (op == PATCH_REMOVE) {
        if (a->multi && !is_clear(value))
            return remove_values(c, t, holder, value);
        return clear_attr(c, t, holder);
    }
    if (is_clear(value))
        return clear_attr(c, t, holder);
    if (!a->multi && a->type == SCIM_T_COMPLEX)
        return set_complex(c, t, holder, value);
    rc = normalize(c, a, value, &nv);
    if (rc != MD_OK)
        return rc;
    /* Replacing with nothing ([], or elements that are all empty) clears; adding it adds
     * nothing. */
    if (!nv)
        return op == PATCH_REPLACE ? clear_attr(c, t, holder) : MD_OK;
    cur = json_object_iget(holder, a->name);
    if (a->multi && json_is_array(nv)) {
        if (op == PATCH_ADD && json_is_array(cur)) {
            rc = append_new(cur, nv, &winner);
        } else {
            rc = obj_put(holder, a->name, nv);
            cur = nv;
            winner = last_primary(nv);
        }
        if (rc == MD_OK)
            rc = fix_primary(cur, winner);
    } else {
        rc = obj_put(holder, a->name, nv);
    }
    json_decref(nv);
    if (rc == MD_ERR_NOMEM)
        md_error_set(c->e, rc, "out of memory");
    return rc;
}

/* An operation on a sub-attribute of a single-valued complex attribute (`name.givenName`). */
static enum md_err op_sub(struct patch_ctx *c, enum patch_op op, const struct patch_target *t,
                          json_t *holder, const json_t *value)
{
    const struct scim_attr *a = t->r.attr, *sub = t->r.sub;
    json_t *nv = NULL, *cur = json_object_iget(holder, a->name);
    enum md_err rc = MD_OK;

    if (op != PATCH_REMOVE) {
        rc = normalize(c, sub, value, &nv);
        if (rc != MD_OK)
            return rc;
    }
    if (!nv) {
        if (!json_is_object(cur))
            return MD_OK;
        json_object_idel(cur, sub->name);
        return json_object_size(cur) == 0 ? clear_attr(c, t, holder) : MD_OK;
    }
    if (!json_is_object(cur)) {
        cur = json_object();
        rc = obj_put_new(holder, a->name, cur);
    }
    if (rc == MD_OK)
        rc = obj_put(cur, sub->name, nv);
    json_decref(nv);
    return rc == MD_OK ? MD_OK : md_error_set(c->e, rc, "out of memory");
}

/* remove of the elements of a multi-valued attribute that t selects, or of their
 * sub-attribute; an element left empty goes, and so does an attribute left without elements. */
static enum md_err remove_selected(struct patch_ctx *c, const struct patch_target *t,
                                   json_t *holder)
{
    json_t *arr = holder ? json_object_iget(holder, t->r.attr->name) : NULL;
    json_t *el;
    size_t i;

    if (!json_is_array(arr))
        return MD_OK;
    for (i = json_array_size(arr); i-- > 0;) {
        el = json_array_get(arr, i);
        if (!elem_matches(c, t, el))
            continue;
        if (t->r.sub) {
            json_object_idel(el, t->r.sub->name);
            if (json_object_size(el) > 0)
                continue;
        }
        json_array_remove(arr, i);
    }
    if (json_array_size(arr) == 0)
        return clear_attr(c, t, holder);
    return MD_OK;
}

/*
 * Makes the element that `attr[filter].sub` (or `attr[filter]`) names when none matches: the
 * filter's eq terms, then the value on top, normalised as an element of attr. *out is one
 * normalised element (a new reference). The filter must be eq terms joined by "and" (else
 * noTarget: there is no telling what the element would be).
 */
static enum md_err make_element(struct patch_ctx *c, const struct patch_target *t, const json_t *nv,
                                json_t **out)
{
    json_t *raw = json_object(), *norm = NULL;
    enum md_err rc;

    *out = NULL;
    if (!raw)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    if (t->filter && !eq_terms(t->filter, raw, 0)) {
        rc = md_error_set(c->e, MD_ERR_NOTARGET,
                          "no element of \"%s\" matches the filter, and it does not name one "
                          "to create (only eq terms joined by and do)",
                          t->r.attr->name);
        goto out;
    }
    if (t->r.sub)
        rc = obj_put(raw, t->r.sub->name, (json_t *)(uintptr_t)nv);
    else
        rc = merge_into(raw, nv);
    if (rc != MD_OK) {
        md_error_set(c->e, rc, "out of memory");
        goto out;
    }
    rc = normalize(c, t->r.attr, raw, &norm);
    if (rc != MD_OK)
        goto out;
    if (!json_is_array(norm) || json_array_size(norm) != 1) {
        rc = md_error_set(c->e, MD_ERR_VALUE, "invalid element for \"%s\"", t->r.attr->name);
        goto out;
    }
    *out = json_incref(json_array_get(norm, 0));
out:
    json_decref(norm);
    json_decref(raw);
    return rc;
}

/* Writes nv (a sub-attribute value, or for a whole element the new element) into element el. */
static enum md_err write_element(struct patch_ctx *c, enum patch_op op,
                                 const struct patch_target *t, json_t *arr, size_t i,
                                 const json_t *nv)
{
    json_t *el = json_array_get(arr, i);

    if (t->r.sub)
        return obj_put_new(el, t->r.sub->name, json_deep_copy(nv));
    if (op == PATCH_ADD)
        return merge_complex(c, t->r.attr, el, nv);
    /* 3.5.2.3: "all matching record values SHALL be replaced". */
    return json_array_set_new(arr, i, json_deep_copy(nv)) == 0 ? MD_OK : MD_ERR_NOMEM;
}

/*
 * The value an operation on selected elements writes, *out NULL meaning clear (null or ""):
 *  - with a sub-attribute, its normalised value;
 *  - add of whole elements: the client's object, merged into each match by merge_complex;
 *  - replace of whole elements: exactly one normalised element.
 */
static enum md_err selected_value(struct patch_ctx *c, enum patch_op op,
                                  const struct patch_target *t, const json_t *value, json_t **out)
{
    json_t *nv = NULL;
    enum md_err rc;

    *out = NULL;
    if (is_clear(value))
        return MD_OK;
    if (t->r.sub)
        return normalize(c, t->r.sub, value, out);
    if (op == PATCH_ADD)
        return complex_value(c, t->r.attr, value, out);
    rc = normalize(c, t->r.attr, value, &nv);
    if (rc != MD_OK || !nv)
        return rc;
    if (json_array_size(nv) == 1 && json_is_object(json_array_get(nv, 0)))
        *out = json_incref(json_array_get(nv, 0));
    json_decref(nv);
    if (!*out)
        return md_error_set(c->e, MD_ERR_VALUE,
                            "a value path selects elements of \"%s\": the value must be one "
                            "element",
                            t->r.attr->name);
    return MD_OK;
}

/*
 * add or replace on the elements of a multi-valued complex attribute that t selects (all of
 * them without a filter), or on their sub-attribute. add merges into a whole element, replace
 * replaces it. When nothing matches, the element is created (see make_element), except for a
 * replace of whole elements under a filter, which is noTarget (3.5.2.3).
 */
static enum md_err set_selected(struct patch_ctx *c, enum patch_op op, const struct patch_target *t,
                                json_t *holder, const json_t *value)
{
    json_t *nv = NULL, *arr, *el, *winner = NULL, *made = NULL;
    size_t i, matched = 0;
    enum md_err rc;

    rc = selected_value(c, op, t, value, &nv);
    if (rc != MD_OK)
        return rc;
    if (!nv)
        return remove_selected(c, t, holder);
    arr = json_object_iget(holder, t->r.attr->name);
    for (i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
        if (!elem_matches(c, t, json_array_get(arr, i)))
            continue;
        matched++;
        rc = write_element(c, op, t, arr, i, nv);
        if (rc != MD_OK) {
            if (rc == MD_ERR_NOMEM)
                md_error_set(c->e, rc, "out of memory");
            goto out;
        }
        el = json_array_get(arr, i);
        if (is_primary(el))
            winner = el;
    }
    if (matched == 0) {
        if (op == PATCH_REPLACE && !t->r.sub && t->filter) {
            rc = md_error_set(c->e, MD_ERR_NOTARGET, "no element of \"%s\" matches the filter",
                              t->r.attr->name);
            goto out;
        }
        rc = make_element(c, t, nv, &made);
        if (rc != MD_OK)
            goto out;
        if (!json_is_array(arr)) {
            arr = json_array();
            rc = obj_put_new(holder, t->r.attr->name, arr);
        }
        if (rc == MD_OK && json_array_append(arr, made) != 0)
            rc = MD_ERR_NOMEM;
        if (rc != MD_OK) {
            md_error_set(c->e, rc, "out of memory");
            goto out;
        }
        if (is_primary(made))
            winner = made;
    }
    rc = fix_primary(arr, winner);
    /* A merge that cleared every sub-attribute of an element leaves nothing to keep. */
    for (i = json_array_size(arr); rc == MD_OK && i-- > 0;) {
        el = json_array_get(arr, i);
        if (json_is_object(el) && json_object_size(el) == 0)
            json_array_remove(arr, i);
    }
    if (rc == MD_OK && json_array_size(arr) == 0)
        rc = clear_attr(c, t, holder);
out:
    json_decref(made);
    json_decref(nv);
    return rc;
}

/* ---- group members, which go to the caller's callbacks ---- */

/* One member as the callbacks take it: {"value", "display"?, "type"?} from an object whose keys
 * may be in any case ("Value") and whose "$ref" may be null, or from a bare id string (as
 * Microsoft's test collection sends). */
static enum md_err member_one(struct patch_ctx *c, const json_t *in, size_t idx, json_t **out)
{
    json_t *m = json_object();
    const char *k;
    json_t *v;
    enum md_err rc = MD_OK;

    *out = NULL;
    if (!m)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    if (json_is_string(in) && json_string_length(in) > 0) {
        rc = obj_put(m, "value", (json_t *)(uintptr_t)in);
        goto done;
    }
    if (!json_is_object(in)) {
        rc = md_error_set(c->e, MD_ERR_VALUE, "member %zu is not an object", idx);
        goto done;
    }
    json_object_foreach((json_t *)(uintptr_t)in, k, v)
    {
        const char *canon = cstr_ieq(k, "value")         ? "value"
                            : cstr_ieq(k, "display")     ? "display"
                            : cstr_ieq(k, "displayName") ? "display"
                            : cstr_ieq(k, "type")        ? "type"
                                                         : NULL;
        /* "$ref" is derived from "value", and unknown sub-attributes are ignored. Microsoft's
         * test collection names the display "displayName"; "display" wins over it. */
        if (!canon || json_is_null(v) ||
            (cstr_ieq(k, "displayName") && json_object_get(m, "display")))
            continue;
        if (!json_is_string(v)) {
            rc =
                md_error_set(c->e, MD_ERR_VALUE, "member %zu: \"%s\" must be a string", idx, canon);
            goto done;
        }
        rc = obj_put(m, canon, v);
        if (rc != MD_OK)
            goto done;
    }
    if (json_string_length(json_object_get(m, "value")) == 0)
        rc = md_error_set(c->e, MD_ERR_VALUE, "member %zu has no \"value\"", idx);
done:
    if (rc == MD_OK)
        *out = m;
    else
        json_decref(m);
    return rc;
}

/* The member array for the callbacks from a value: an array, one member, or null (none). */
static enum md_err member_values(struct patch_ctx *c, const json_t *value, json_t **out)
{
    json_t *arr = json_array(), *m, *v;
    enum md_err rc = MD_OK;
    size_t i;

    *out = NULL;
    if (!arr)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    if (json_is_array(value)) {
        json_array_foreach(value, i, v)
        {
            rc = member_one(c, v, i, &m);
            if (rc != MD_OK)
                break;
            if (json_array_append_new(arr, m) != 0) {
                rc = md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
                break;
            }
        }
    } else if (value && !json_is_null(value) &&
               !(json_is_string(value) && json_string_length(value) == 0)) {
        rc = member_one(c, value, 0, &m);
        if (rc == MD_OK && json_array_append_new(arr, m) != 0)
            rc = md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    }
    if (rc != MD_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return MD_OK;
}

static bool is_members(const struct scim_rtype *rt, const struct scim_resolved *r)
{
    return r->schema == rt->schema && cstr_ieq(r->attr->name, "members");
}

/*
 * An operation on a group's members: add (path "members"), replace (the whole list), remove
 * (all, those matching `members[filter]`, or those a value names, as Entra ID sends). Member
 * sub-attributes cannot be written: a member is a row of the membership table.
 */
static enum md_err op_members(struct patch_ctx *c, enum patch_op op, const struct patch_target *t,
                              const json_t *value)
{
    const struct scim_patch_members *m = c->members;
    json_t *vals = NULL;
    enum md_err rc;

    if (!m)
        return md_error_set(c->e, MD_ERR_PATH, "\"members\" cannot be patched here");
    if (t->r.sub || (t->filter && op != PATCH_REMOVE))
        return md_error_set(c->e, MD_ERR_PATH,
                            "members can only be added, replaced, or removed whole "
                            "(by filter or by value)");
    if (!m->add || !m->remove || !m->remove_values || !m->replace)
        return md_error_set(c->e, MD_ERR_INTERNAL, "members callbacks are missing");
    if (op == PATCH_REMOVE && t->filter)
        return m->remove(m->ctx, t->filter, c->e);
    if (op == PATCH_REMOVE && (!value || json_is_null(value)))
        return m->remove(m->ctx, NULL, c->e);
    rc = member_values(c, value, &vals);
    if (rc != MD_OK)
        return rc;
    if (op == PATCH_REMOVE)
        rc = json_array_size(vals) ? m->remove_values(m->ctx, vals, c->e) : MD_OK;
    else if (op == PATCH_ADD)
        rc = json_array_size(vals) ? m->add(m->ctx, vals, c->e) : MD_OK;
    else
        rc = m->replace(m->ctx, vals, c->e);
    json_decref(vals);
    return rc;
}

/* ---- paths ---- */

static enum md_err apply_path(struct patch_ctx *c, enum patch_op op, const char *text, size_t len,
                              const json_t *value);

/* The extension schema of rt whose URN is exactly text, or NULL. */
static const struct scim_schema *extension_named(const struct scim_rtype *rt, const char *text,
                                                 size_t len)
{
    size_t i;

    if (strlen(text) != len)
        return NULL;
    for (i = 0; rt->extensions && rt->extensions[i]; i++) {
        if (cstr_ieq(rt->extensions[i]->id, text))
            return rt->extensions[i];
    }
    return NULL;
}

/*
 * A path that is an extension's URN: remove drops the whole extension; add and replace apply
 * each member of the object value as the operation on "URN:member".
 */
static enum md_err op_extension(struct patch_ctx *c, enum patch_op op, const struct scim_schema *s,
                                const json_t *value)
{
    struct buf path;
    const char *k;
    json_t *v;
    enum md_err rc = MD_OK;

    if (op == PATCH_REMOVE || is_clear(value)) {
        json_object_idel(c->doc, s->id);
        schemas_del(c, s->id);
        return MD_OK;
    }
    if (!json_is_object(value))
        return md_error_set(c->e, MD_ERR_VALUE, "the value for \"%s\" must be an object", s->id);
    buf_init(&path, 4096);
    json_object_foreach((json_t *)(uintptr_t)value, k, v)
    {
        buf_reset(&path);
        buf_appendf(&path, "%s:%s", s->id, k);
        if (path.err != MD_OK) {
            rc = md_error_set(c->e, MD_ERR_PATH, "attribute name too long");
            break;
        }
        rc = apply_path(c, op, path.p, path.len, v);
        if (rc != MD_OK)
            break;
    }
    buf_free(&path);
    return rc;
}

/* Resolves a parsed path in rt. Errors are MD_ERR_PATH. */
static enum md_err target_resolve(struct patch_ctx *c, const struct scim_patch_path *p,
                                  struct patch_target *t)
{
    const char *sub = p->filter ? p->sub_after : p->path.sub;

    memset(t, 0, sizeof *t);
    if (!p->path.attr || (p->filter && p->path.sub))
        return md_error_set(c->e, MD_ERR_PATH, "malformed path");
    if (scim_resolve(c->rt, p->path.urn, p->path.attr, sub, &t->r) != MD_OK || !t->r.attr)
        return md_error_set(c->e, MD_ERR_PATH, "\"%.64s%s%.64s\" is not an attribute of %s",
                            p->path.attr, sub ? "." : "", sub ? sub : "", c->rt->name);
    t->filter = p->filter;
    if (t->filter && (!t->r.attr->multi || t->r.attr->type != SCIM_T_COMPLEX))
        return md_error_set(c->e, MD_ERR_PATH,
                            "a value filter needs a multi-valued complex attribute, and \"%s\" "
                            "is not one",
                            t->r.attr->name);
    return MD_OK;
}

/*
 * RFC 7644 3.5.2: readOnly attributes cannot be written; an immutable attribute only gets a
 * value when it has none. *skip is set for writeOnly attributes, which are never stored.
 */
static enum md_err check_mutability(struct patch_ctx *c, enum patch_op op,
                                    const struct patch_target *t, bool *skip)
{
    const struct scim_attr *a = t->r.attr, *s = t->r.sub;
    json_t *holder, *cur;

    *skip = false;
    if (a->mutability == SCIM_MUT_READONLY || (s && s->mutability == SCIM_MUT_READONLY))
        return md_error_set(c->e, MD_ERR_MUTABILITY, "\"%s%s%s\" is readOnly", a->name,
                            s ? "." : "", s ? s->name : "");
    if (a->mutability == SCIM_MUT_WRITEONLY || (s && s->mutability == SCIM_MUT_WRITEONLY)) {
        *skip = true;
        return MD_OK;
    }
    if (a->mutability != SCIM_MUT_IMMUTABLE && !(s && s->mutability == SCIM_MUT_IMMUTABLE))
        return MD_OK;
    holder = holder_get(c, &t->r, false);
    cur = holder ? json_object_iget(holder, a->name) : NULL;
    if (cur && !json_is_null(cur))
        return md_error_set(c->e, MD_ERR_MUTABILITY, "\"%s\" is immutable", a->name);
    if (op == PATCH_REMOVE)
        *skip = true;
    return MD_OK;
}

/* Applies one operation with a path (the op's, or a pathless value's key). */
static enum md_err apply_path(struct patch_ctx *c, enum patch_op op, const char *text, size_t len,
                              const json_t *value)
{
    const struct scim_schema *ext;
    struct scim_patch_path *p = NULL;
    struct patch_target t;
    json_t *holder;
    bool skip;
    enum md_err rc;

    ext = extension_named(c->rt, text, len);
    if (ext)
        return op_extension(c, op, ext, value);
    if (strlen(text) == len && cstr_ieq(text, "schemas"))
        return md_error_set(c->e, MD_ERR_MUTABILITY, "\"schemas\" is set by the server");
    rc = scim_patch_path_parse(text, len, &p, c->e);
    if (rc != MD_OK) {
        /* The parser's message stays; its code is invalidPath whatever it said. */
        if (rc != MD_ERR_NOMEM)
            rc = c->e->code = MD_ERR_PATH;
        if (!c->e->msg[0])
            md_error_set(c->e, rc, "malformed path");
        goto out;
    }
    rc = target_resolve(c, p, &t);
    if (rc != MD_OK)
        goto out;
    if (is_members(c->rt, &t.r)) {
        rc = op_members(c, op, &t, value);
        goto out;
    }
    rc = check_mutability(c, op, &t, &skip);
    if (rc != MD_OK || skip)
        goto out;
    holder = holder_get(c, &t.r, op != PATCH_REMOVE);
    if (!holder && op != PATCH_REMOVE) {
        rc = md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!t.r.sub && !t.filter)
        rc = op_whole(c, op, &t, holder, value);
    else if (op == PATCH_REMOVE && t.r.attr->multi)
        rc = remove_selected(c, &t, holder);
    else if (t.r.attr->multi)
        rc = set_selected(c, op, &t, holder, value);
    else
        rc = op_sub(c, op, &t, holder, value);
    holder_tidy(c, &t.r);
out:
    scim_patch_path_free(p);
    return rc;
}

/*
 * One member of a pathless value. "id", "meta" and "schemas" are ignored (readOnly, and
 * clients echo them); the core schema's URN with an object value stands for its members; any
 * other key is a path.
 */
static enum md_err apply_key(struct patch_ctx *c, enum patch_op op, const char *k, const json_t *v,
                             bool core_urn_ok)
{
    const char *ck;
    json_t *cv;
    enum md_err rc;

    if (cstr_ieq(k, "id") || cstr_ieq(k, "meta") || cstr_ieq(k, "schemas"))
        return MD_OK;
    if (core_urn_ok && cstr_ieq(k, c->rt->schema->id)) {
        if (!json_is_object(v))
            return md_error_set(c->e, MD_ERR_VALUE, "the value for \"%s\" must be an object", k);
        json_object_foreach((json_t *)(uintptr_t)v, ck, cv)
        {
            rc = apply_key(c, op, ck, cv, false);
            if (rc != MD_OK)
                return rc;
        }
        return MD_OK;
    }
    return apply_path(c, op, k, strlen(k), v);
}

/* add or replace without a path: the value is an object of attributes (3.5.2.1, 3.5.2.3). */
static enum md_err apply_pathless(struct patch_ctx *c, enum patch_op op, const json_t *value)
{
    const char *k;
    json_t *v;
    enum md_err rc;

    if (!json_is_object(value))
        return md_error_set(c->e, MD_ERR_VALUE,
                            "without a path, the value must be an object of attributes");
    json_object_foreach((json_t *)(uintptr_t)value, k, v)
    {
        rc = apply_key(c, op, k, v, true);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* One element of "Operations": {"op", "path"?, "value"?}, member names in any case. */
static enum md_err apply_one(struct patch_ctx *c, const json_t *o)
{
    const json_t *opv, *path, *value;
    enum patch_op op;

    if (!json_is_object(o))
        return md_error_set(c->e, MD_ERR_SYNTAX, "an operation must be an object");
    opv = json_object_iget(o, "op");
    if (!json_is_string(opv) || !op_parse(json_string_value(opv), &op))
        return md_error_set(c->e, MD_ERR_SYNTAX,
                            "\"op\" must be \"add\", \"replace\" or \"remove\"");
    path = json_object_iget(o, "path");
    if (json_is_null(path))
        path = NULL;
    if (path && !json_is_string(path))
        return md_error_set(c->e, MD_ERR_PATH, "\"path\" must be a string");
    value = json_object_iget(o, "value");
    if (op != PATCH_REMOVE && !value)
        return md_error_set(c->e, MD_ERR_SYNTAX, "%s requires a \"value\"", op_name(op));
    if (!path && op == PATCH_REMOVE)
        return md_error_set(c->e, MD_ERR_NOTARGET, "remove requires a \"path\"");
    if (!path)
        return apply_pathless(c, op, value);
    return apply_path(c, op, json_string_value(path), json_string_length(path), value);
}

/* Does the body's "schemas" list the PatchOp message URN? */
static bool is_patchop(const json_t *body)
{
    const json_t *s = json_object_iget(body, "schemas");
    json_t *v;
    size_t i;

    json_array_foreach(s, i, v)
    {
        if (cstr_ieq(json_string_value(v), SCIM_URN_PATCHOP))
            return true;
    }
    return false;
}

enum md_err scim_patch_apply(const struct scim_rtype *rt, json_t *doc, const json_t *body,
                             const struct scim_patch_members *members, struct md_error *e)
{
    struct md_error le;
    struct patch_ctx c = {rt, doc, members, &le};
    const json_t *ops;
    size_t i, n;
    enum md_err rc = MD_OK;

    md_error_clear(&le);
    if (!rt || !rt->schema || !json_is_object(doc))
        return md_error_set(e, MD_ERR_INTERNAL, "no resource to patch");
    if (!json_is_object(body))
        return md_error_set(e, MD_ERR_SYNTAX, "the PATCH body must be a JSON object");
    if (!is_patchop(body))
        return md_error_set(e, MD_ERR_SYNTAX, "\"schemas\" must list %s", SCIM_URN_PATCHOP);
    ops = json_object_iget(body, "Operations");
    if (!json_is_array(ops))
        return md_error_set(e, MD_ERR_SYNTAX, "\"Operations\" must be an array");
    n = json_array_size(ops);
    if (n > SCIM_PATCH_MAX_OPS)
        return md_error_set(e, MD_ERR_TOOMANY, "%zu operations exceed the limit of %d", n,
                            SCIM_PATCH_MAX_OPS);
    for (i = 0; i < n; i++) {
        md_error_clear(&le);
        rc = apply_one(&c, json_array_get(ops, i));
        if (rc != MD_OK) {
            md_error_set(e, rc, "Operations[%zu]: %s", i, le.msg[0] ? le.msg : md_err_name(rc));
            break;
        }
    }
    return rc;
}
