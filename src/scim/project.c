/*
 * Projection of a resource for a response (project.h; RFC 7644 section 3.4.2.5 and 3.9,
 * RFC 7643 section 7).
 *
 * The attributes a list names are kept as pointers into the schema tables (the attribute and,
 * when named, its sub-attribute), so that matching a key of the resource against the list is a
 * pointer comparison after one case-insensitive table lookup of the key.
 *
 * What survives, for each attribute of the resource:
 *   "schemas" always (minus the URNs of extension objects that projection emptied);
 *   returned=never: never;
 *   returned=always (id; RFC 7643 8.7.1 declares userName and Group displayName "default"):
 *       always, whatever the lists say;
 *   with "attributes": the attributes it names, whole when named by themselves, or only the
 *       named sub-attributes (in every element of a multi-valued one) when only
 *       sub-attributes are named; keys the schema does not know go;
 *   otherwise: everything but returned=request attributes (and sub-attributes) and what
 *       "excludedAttributes" names, whole or sub-attribute by sub-attribute.
 * An extension object is projected attribute by attribute the same way, unless a list names
 * its whole URN (attributes=urn:...:enterprise:2.0:User), which keeps or removes it whole.
 */
#include "scim/project.h"

#include <stdlib.h>
#include <string.h>

#include "core/str.h"

/* Bounds on what a client may send; no client sends lists anywhere near them. */
#define ATTR_LIST_MAX_LEN 8192
#define ATTR_PATH_MAX 512

/* One named path: attr within schema (NULL: a common attribute), and maybe one sub. */
struct attr_ref {
    const struct scim_schema *schema;
    const struct scim_attr *attr; /* NULL: the whole extension object of schema */
    const struct scim_attr *sub;  /* NULL: the whole attribute */
    bool extension;               /* schema is an extension of the resource type */
};

struct scim_attr_list {
    size_t n;
    struct attr_ref refs[];
};

/* ---- Parsing ---- */

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * The end of the path that starts at p: the next comma outside brackets and quotes, or the end
 * of the text. A bracket filter (`emails[type eq "a,b"]`) may hold commas of its own.
 */
static const char *path_end(const char *p)
{
    int depth = 0;
    bool quoted = false;

    for (; *p; p++) {
        if (quoted) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                quoted = false;
        } else if (*p == '"') {
            quoted = true;
        } else if (*p == '[') {
            depth++;
        } else if (*p == ']' && depth > 0) {
            depth--;
        } else if (*p == ',' && depth == 0) {
            break;
        }
    }
    return p;
}

/*
 * Copies the path [p, end) into out without surrounding spaces and without bracketed filters,
 * so that `emails[type eq "work"]` reads as emails and `emails[type eq "work"].value` as
 * emails.value. *blank tells whether [p, end) held only spaces. False when it is blank, does
 * not fit or is left empty.
 */
static bool path_clean(const char *p, const char *end, char *out, size_t cap, bool *blank)
{
    size_t n = 0;
    int depth = 0;
    bool quoted = false;

    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;
    *blank = p == end;
    for (; p < end; p++) {
        if (depth > 0) {
            if (quoted) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                else if (*p == '"')
                    quoted = false;
            } else if (*p == '"') {
                quoted = true;
            } else if (*p == '[') {
                depth++;
            } else if (*p == ']') {
                depth--;
            }
            continue;
        }
        if (*p == '[') {
            depth++;
            continue;
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = *p;
    }
    out[n] = '\0';
    return n > 0;
}

/*
 * Resolves one cleaned path into ref. A path that is exactly an extension's URN names the
 * whole extension object. False for what rt does not know.
 */
static bool path_resolve(const struct scim_rtype *rt, const char *path, struct attr_ref *ref)
{
    const struct scim_schema *s = scim_rtype_schema(rt, path);
    struct scim_resolved r;

    if (s) {
        if (s == rt->schema)
            return false;
        ref->schema = s;
        ref->attr = NULL;
        ref->sub = NULL;
        ref->extension = true;
        return true;
    }
    if (scim_resolve_str(rt, path, &r) != MD_OK)
        return false;
    ref->schema = r.schema;
    ref->attr = r.attr;
    ref->sub = r.sub;
    ref->extension = r.extension;
    return true;
}

enum md_err scim_attr_list_parse(const struct scim_rtype *rt, const char *text,
                                 struct scim_attr_list **out, struct md_error *e)
{
    struct scim_attr_list *l = NULL;
    char path[ATTR_PATH_MAX];
    const char *p, *end;
    size_t max = 1, nonempty = 0;
    bool blank;
    enum md_err err = MD_OK;

    *out = NULL;
    if (!text)
        goto out;
    if (strlen(text) > ATTR_LIST_MAX_LEN) {
        err = md_error_set(e, MD_ERR_VALUE, "the attribute list is longer than %d bytes",
                           ATTR_LIST_MAX_LEN);
        goto out;
    }
    for (p = text; *p; p++)
        max += *p == ',';
    l = calloc(1, sizeof *l + max * sizeof l->refs[0]);
    if (!l) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory parsing the attribute list");
        goto out;
    }
    for (p = text;; p = end + 1) {
        end = path_end(p);
        /* Unknown attributes are ignored, as RFC 7644 lets a server do. */
        if (path_clean(p, end, path, sizeof path, &blank) && path_resolve(rt, path, &l->refs[l->n]))
            l->n++;
        nonempty += !blank;
        if (!*end)
            break;
    }
    /* Only spaces and commas: no list at all, like an absent parameter. */
    if (nonempty == 0) {
        free(l);
        l = NULL;
    }
    *out = l;
out:
    return err;
}

void scim_attr_list_free(struct scim_attr_list *l)
{
    free(l);
}

/* Does l name attr (a core attribute), whole or, unless whole_only, through a sub-attribute? */
static bool list_names(const struct scim_attr_list *l, const char *attr, bool whole_only)
{
    size_t i;

    if (!l || !attr)
        return false;
    for (i = 0; i < l->n; i++) {
        const struct attr_ref *r = &l->refs[i];
        if (r->attr && !r->extension && (!whole_only || !r->sub) && cstr_ieq(r->attr->name, attr))
            return true;
    }
    return false;
}

bool scim_attr_list_names(const struct scim_attr_list *l, const char *attr)
{
    return list_names(l, attr, false);
}

bool scim_attr_list_names_whole(const struct scim_attr_list *l, const char *attr)
{
    return list_names(l, attr, true);
}

/* ---- Matching ---- */

/* How a list names attribute a: not at all, through some sub-attributes, or whole. */
enum naming { NAMED_NOT, NAMED_SUBS, NAMED_WHOLE };

static enum naming list_naming(const struct scim_attr_list *l, const struct scim_attr *a)
{
    enum naming best = NAMED_NOT;
    size_t i;

    for (i = 0; l && i < l->n; i++) {
        if (l->refs[i].attr != a)
            continue;
        if (!l->refs[i].sub)
            return NAMED_WHOLE;
        best = NAMED_SUBS;
    }
    return best;
}

static bool list_names_sub(const struct scim_attr_list *l, const struct scim_attr *a,
                           const struct scim_attr *s)
{
    size_t i;

    for (i = 0; l && i < l->n; i++)
        if (l->refs[i].attr == a && l->refs[i].sub == s)
            return true;
    return false;
}

static bool list_names_ext(const struct scim_attr_list *l, const struct scim_schema *s)
{
    size_t i;

    for (i = 0; l && i < l->n; i++)
        if (!l->refs[i].attr && l->refs[i].schema == s)
            return true;
    return false;
}

/* ---- Projection ---- */

/*
 * How sub-attributes of a kept complex attribute are chosen:
 *   SUBS_ALL: all but returned=never (the attribute is returned=always, or named whole);
 *   SUBS_NAMED: only those "attributes" names, and returned=always ones;
 *   SUBS_DEFAULT: all but returned=never, returned=request and those "excludedAttributes"
 *       names.
 */
enum subs_mode { SUBS_ALL, SUBS_NAMED, SUBS_DEFAULT };

struct proj {
    const struct scim_attr_list *attrs;
    const struct scim_attr_list *excluded;
};

static bool sub_keep(const struct proj *pj, const struct scim_attr *a, const char *key,
                     enum subs_mode mode)
{
    const struct scim_attr *s = scim_attr_find(a->subs, key);

    if (!s)
        return mode != SUBS_NAMED;
    if (s->returned == SCIM_RET_NEVER)
        return false;
    if (s->returned == SCIM_RET_ALWAYS)
        return true;
    switch (mode) {
    case SUBS_ALL:
        return true;
    case SUBS_NAMED:
        return list_names_sub(pj->attrs, a, s);
    case SUBS_DEFAULT:
        return s->returned != SCIM_RET_REQUEST && !list_names_sub(pj->excluded, a, s);
    }
    return true;
}

/* Removes the sub-attributes of one complex value that mode does not keep; true if any. */
static bool project_object(const struct proj *pj, const struct scim_attr *a, json_t *obj,
                           enum subs_mode mode)
{
    const char *key;
    json_t *v;
    void *tmp;
    bool changed = false;

    json_object_foreach_safe(obj, tmp, key, v)
    {
        if (!sub_keep(pj, a, key, mode)) {
            json_object_del(obj, key);
            changed = true;
        }
    }
    return changed;
}

/*
 * Projects the sub-attributes of value v of complex attribute a: the object itself, or each
 * object element of an array. An element emptied by projection is removed. True when v is left
 * empty by projection, so that the caller removes the attribute.
 */
static bool project_subs(const struct proj *pj, const struct scim_attr *a, json_t *v,
                         enum subs_mode mode)
{
    size_t i;
    bool changed = false;

    if (a->type != SCIM_T_COMPLEX)
        return false;
    if (json_is_object(v))
        return project_object(pj, a, v, mode) && json_object_size(v) == 0;
    if (!json_is_array(v))
        return false;
    for (i = 0; i < json_array_size(v);) {
        json_t *el = json_array_get(v, i);
        if (json_is_object(el) && project_object(pj, a, el, mode)) {
            changed = true;
            if (json_object_size(el) == 0) {
                json_array_remove(v, i);
                continue;
            }
        }
        i++;
    }
    return changed && json_array_size(v) == 0;
}

/*
 * Decides whether attribute a (NULL: a key the schema does not know), whose value is v, stays,
 * and projects its sub-attributes. whole_named: "attributes" named the enclosing extension by
 * its URN, which names each of its attributes whole.
 */
static bool attr_keep(const struct proj *pj, const struct scim_attr *a, bool is_id, json_t *v,
                      bool whole_named)
{
    enum naming n;

    if (!a)
        return !pj->attrs || whole_named;
    if (a->returned == SCIM_RET_NEVER)
        return false;
    if (a->returned == SCIM_RET_ALWAYS || is_id)
        return !project_subs(pj, a, v, SUBS_ALL);
    if (pj->attrs) {
        n = whole_named ? NAMED_WHOLE : list_naming(pj->attrs, a);
        if (n == NAMED_NOT)
            return false;
        return !project_subs(pj, a, v, n == NAMED_WHOLE ? SUBS_ALL : SUBS_NAMED);
    }
    if (a->returned == SCIM_RET_REQUEST)
        return false;
    if (list_naming(pj->excluded, a) == NAMED_WHOLE)
        return false;
    return !project_subs(pj, a, v, SUBS_DEFAULT);
}

/*
 * Projects the extension object obj of schema s. True when it should go: named whole in
 * "excludedAttributes", or left empty.
 */
static bool project_extension(const struct proj *pj, const struct scim_schema *s, json_t *obj)
{
    bool whole = pj->attrs && list_names_ext(pj->attrs, s);
    const char *key;
    json_t *v;
    void *tmp;

    if (!pj->attrs && list_names_ext(pj->excluded, s))
        return true;
    if (!json_is_object(obj))
        return pj->attrs && !whole;
    json_object_foreach_safe(obj, tmp, key, v)
    {
        if (!attr_keep(pj, scim_attr_find(s->attrs, key), false, v, whole))
            json_object_del(obj, key);
    }
    return json_object_size(obj) == 0;
}

/* The extension of rt whose URN is key, or NULL. */
static const struct scim_schema *extension_of(const struct scim_rtype *rt, const char *key)
{
    const struct scim_schema *s = scim_rtype_schema(rt, key);

    return s == rt->schema ? NULL : s;
}

/* Removes urn (case-insensitively) from the "schemas" array of res. */
static void schemas_remove(json_t *res, const char *urn)
{
    json_t *schemas = json_object_get(res, "schemas");
    size_t i;

    if (!json_is_array(schemas))
        return;
    for (i = 0; i < json_array_size(schemas);) {
        const char *s = json_string_value(json_array_get(schemas, i));
        if (s && cstr_ieq(s, urn)) {
            json_array_remove(schemas, i);
            continue;
        }
        i++;
    }
}

void scim_project(const struct scim_rtype *rt, json_t *res, const struct scim_attr_list *attrs,
                  const struct scim_attr_list *excluded)
{
    struct proj pj = {attrs, excluded};
    const struct scim_schema *ext;
    const struct scim_attr *a;
    const char *key;
    json_t *v;
    void *tmp;

    if (!rt || !json_is_object(res))
        return;
    json_object_foreach_safe(res, tmp, key, v)
    {
        if (strcmp(key, "schemas") == 0)
            continue;
        ext = extension_of(rt, key);
        if (ext) {
            if (project_extension(&pj, ext, v)) {
                schemas_remove(res, ext->id);
                json_object_del(res, key);
            }
            continue;
        }
        a = scim_attr_find(rt->schema->attrs, key);
        if (!a)
            a = scim_attr_find(scim_common_attrs, key);
        if (!attr_keep(&pj, a, cstr_ieq(key, "id"), v, false))
            json_object_del(res, key);
    }
}
