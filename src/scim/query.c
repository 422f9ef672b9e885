/*
 * SCIM filter and sortBy compilation (query.h).
 *
 * The compiled tree has the filter AST's nodes (the parser bounds their number), except that
 * a comparison on a multi-valued attribute becomes an SP_ANY over the array with an
 * element-relative comparison inside, that some comparisons on attributes that are not in the
 * stored document fold to constants (meta.resourceType) or to membership tests, and that
 * chains of one logical operator are rebalanced (see compile_chain).
 *
 * Where each attribute lives:
 *   id, externalId, userName (User), displayName (User, Group), active (User):
 *       indexed columns, compared as strings (booleans for active);
 *   meta.created, meta.lastModified: columns of epoch milliseconds, compared as times;
 *   meta.resourceType: a constant, the resource type's name, so the comparison folds to
 *       SP_TRUE or SP_FALSE here;
 *   meta.location, meta.version, and meta itself other than "meta pr": not filterable
 *       (MD_ERR_FILTER);
 *   members and members.value (Group): SP_MEMBER over the membership table;
 *   groups and groups.value (User): SP_MEMBER_OF, which tests direct membership only, since
 *       the membership table holds direct rows and a filter that expanded nested groups would
 *       need a recursive query per row;
 *   members.display, members.type, members.$ref, groups.display, groups.type, groups.$ref:
 *       not filterable (MD_ERR_FILTER), since the membership table keeps only the ids;
 *   everything else: a path into the JSON document, spelled as the schema tables spell it,
 *       with extension attributes under their schema URN.
 */
#include "scim/query.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/time.h"

/*
 * Every allocation of a query is one chunk on a singly linked list, freed as a whole. The
 * union keeps the payload that follows the header aligned for any type.
 */
union q_chunk {
    union q_chunk *next;
    max_align_t align;
};

struct scim_query {
    union q_chunk *chunks;
    struct store_pred *where;
    struct store_sort sort;
    bool has_sort;
};

/* Where the leaves of a (sub)filter are compiled. */
enum scope_kind {
    SCOPE_TOP,    /* attribute paths from the resource root */
    SCOPE_ELEM,   /* inside a multi-valued complex attr[...]: element-relative sub-attributes */
    SCOPE_SUB,    /* inside a single-valued complex attr[...]: sub-attributes of attr */
    SCOPE_MEMBER, /* inside members[...] or groups[...]: the membership table */
};

struct scope {
    enum scope_kind kind;
    const struct scim_resolved *outer; /* the bracketed attribute; NULL at the top */
    enum store_pred_kind member_kind;  /* SCOPE_MEMBER: SP_MEMBER or SP_MEMBER_OF */
};

struct ctx {
    struct scim_query *q;
    const struct scim_rtype *rt;
    struct md_error *e;
};

/* ---- Memory ---- */

static void *q_alloc(struct scim_query *q, size_t n)
{
    union q_chunk *c = calloc(1, sizeof *c + n);

    if (!c)
        return NULL;
    c->next = q->chunks;
    q->chunks = c;
    return c + 1;
}

static const char *q_strdup(struct scim_query *q, const char *s)
{
    size_t n = strlen(s);
    char *p = q_alloc(q, n + 1);

    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static enum md_err nomem(struct ctx *c)
{
    return md_error_set(c->e, MD_ERR_NOMEM, "out of memory compiling the filter");
}

/* A zeroed node of kind k, or NULL (with c->e set) when memory runs out. */
static struct store_pred *new_node(struct ctx *c, enum store_pred_kind k)
{
    struct store_pred *p = q_alloc(c->q, sizeof *p);

    if (!p) {
        nomem(c);
        return NULL;
    }
    p->kind = k;
    p->col = SCOL_DOC;
    p->vtype = SV_NONE;
    return p;
}

/* ---- Values ---- */

static enum store_cmp map_op(enum filter_op op)
{
    switch (op) {
    case FOP_EQ:
        return SC_EQ;
    case FOP_NE:
        return SC_NE;
    case FOP_CO:
        return SC_CO;
    case FOP_SW:
        return SC_SW;
    case FOP_EW:
        return SC_EW;
    case FOP_PR:
        return SC_PR;
    case FOP_GT:
        return SC_GT;
    case FOP_GE:
        return SC_GE;
    case FOP_LT:
        return SC_LT;
    case FOP_LE:
        return SC_LE;
    }
    return SC_EQ;
}

static bool op_is_ordering(enum filter_op op)
{
    return op == FOP_GT || op == FOP_GE || op == FOP_LT || op == FOP_LE;
}

static bool op_is_substring(enum filter_op op)
{
    return op == FOP_CO || op == FOP_SW || op == FOP_EW;
}

/*
 * The text of a literal that may stand for a string: a string, or a number as written (so that
 * `externalId eq 12345` finds the string "12345"). NULL for other literals.
 */
static const char *literal_text(const struct filter_value *v)
{
    if ((v->type == FVAL_STRING || v->type == FVAL_NUMBER) && v->str)
        return v->str;
    return NULL;
}

/*
 * Fills the comparison and value of p for an attribute of type t named name (for messages),
 * checking that the operator and the literal suit the type (RFC 7644 section 3.4.2.2):
 * ordering operators are refused on booleans, binaries and complex attributes, substring
 * operators on everything but strings, and a literal of the wrong type is refused rather than
 * silently matching nothing. "eq null" and "ne null" are allowed on every type.
 */
static enum md_err set_value(struct ctx *c, enum scim_type t, bool case_exact, const char *name,
                             enum filter_op op, const struct filter_value *v, struct store_pred *p)
{
    const char *opname = scim_filter_op_name(op);
    const char *text = literal_text(v);

    p->cmp = map_op(op);
    p->case_exact = case_exact;
    if (op == FOP_PR) {
        p->vtype = SV_NONE;
        return MD_OK;
    }
    if (v->type == FVAL_NULL) {
        if (op != FOP_EQ && op != FOP_NE)
            return md_error_set(c->e, MD_ERR_FILTER, "%s null is not a valid comparison for %s",
                                opname, name);
        p->vtype = SV_NULL;
        return MD_OK;
    }
    switch (t) {
    case SCIM_T_BOOLEAN:
        if (op_is_ordering(op) || op_is_substring(op))
            return md_error_set(c->e, MD_ERR_FILTER, "%s is not supported on the boolean %s",
                                opname, name);
        p->vtype = SV_BOOL;
        if (v->type == FVAL_BOOL) {
            p->b_val = v->b;
            return MD_OK;
        }
        /* Entra ID writes booleans as strings: `active eq "False"`. */
        if (v->type == FVAL_STRING && v->str && cstr_ieq(v->str, "true")) {
            p->b_val = true;
            return MD_OK;
        }
        if (v->type == FVAL_STRING && v->str && cstr_ieq(v->str, "false")) {
            p->b_val = false;
            return MD_OK;
        }
        return md_error_set(c->e, MD_ERR_FILTER, "%s is a boolean; compare it with true or false",
                            name);
    case SCIM_T_DATETIME:
        if (op_is_substring(op))
            return md_error_set(c->e, MD_ERR_FILTER, "%s is not supported on the dateTime %s",
                                opname, name);
        if (v->type != FVAL_STRING || !v->str || !time_parse_rfc3339(v->str, &p->ms))
            return md_error_set(c->e, MD_ERR_FILTER,
                                "%s is a dateTime; compare it with a date such as "
                                "\"2015-10-10T14:38:21Z\"",
                                name);
        p->vtype = SV_TIME;
        return MD_OK;
    case SCIM_T_DECIMAL:
    case SCIM_T_INTEGER:
        if (op_is_substring(op))
            return md_error_set(c->e, MD_ERR_FILTER, "%s is not supported on the number %s", opname,
                                name);
        if (v->type != FVAL_NUMBER)
            return md_error_set(c->e, MD_ERR_FILTER, "%s is a number; compare it with a number",
                                name);
        p->vtype = SV_NUMBER;
        p->num = v->num;
        return MD_OK;
    case SCIM_T_BINARY:
        if (op_is_ordering(op))
            return md_error_set(c->e, MD_ERR_FILTER, "%s is not supported on the binary %s", opname,
                                name);
        /* fall through */
    case SCIM_T_STRING:
    case SCIM_T_REFERENCE:
        if (!text)
            return md_error_set(c->e, MD_ERR_FILTER, "%s is a string; compare it with a string",
                                name);
        p->vtype = SV_STRING;
        p->str = q_strdup(c->q, text);
        if (!p->str)
            return nomem(c);
        return MD_OK;
    case SCIM_T_COMPLEX:
        break;
    }
    return md_error_set(c->e, MD_ERR_FILTER,
                        "%s is a complex attribute; only pr applies to it, or name a "
                        "sub-attribute",
                        name);
}

/* ---- Leaves ---- */

/* An SP_CMP on an indexed column. */
static enum md_err column_cmp(struct ctx *c, enum store_col col, enum scim_type t, bool case_exact,
                              const char *name, enum filter_op op, const struct filter_value *v,
                              struct store_pred **out)
{
    struct store_pred *p = new_node(c, SP_CMP);

    if (!p)
        return MD_ERR_NOMEM;
    p->col = col;
    *out = p;
    return set_value(c, t, case_exact, name, op, v, p);
}

/* Compares two strings, ASCII case-insensitively unless case_exact. */
static int cmp_text(const char *a, const char *b, bool case_exact)
{
    if (case_exact)
        return strcmp(a, b);
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z')
            y += 'a' - 'A';
        if (x != y || !x)
            return x - y;
    }
}

static bool has_at(const char *s, size_t at, const char *part, bool case_exact)
{
    size_t n = strlen(part);
    size_t i;

    for (i = 0; i < n; i++) {
        int x = (unsigned char)s[at + i], y = (unsigned char)part[i];
        if (!case_exact) {
            if (x >= 'A' && x <= 'Z')
                x += 'a' - 'A';
            if (y >= 'A' && y <= 'Z')
                y += 'a' - 'A';
        }
        if (x != y)
            return false;
    }
    return true;
}

static bool text_holds(const char *have, enum filter_op op, const char *lit, bool case_exact)
{
    size_t hn = strlen(have), ln = strlen(lit), i;

    switch (op) {
    case FOP_EQ:
        return cmp_text(have, lit, case_exact) == 0;
    case FOP_NE:
        return cmp_text(have, lit, case_exact) != 0;
    case FOP_GT:
        return cmp_text(have, lit, case_exact) > 0;
    case FOP_GE:
        return cmp_text(have, lit, case_exact) >= 0;
    case FOP_LT:
        return cmp_text(have, lit, case_exact) < 0;
    case FOP_LE:
        return cmp_text(have, lit, case_exact) <= 0;
    case FOP_SW:
        return ln <= hn && has_at(have, 0, lit, case_exact);
    case FOP_EW:
        return ln <= hn && has_at(have, hn - ln, lit, case_exact);
    case FOP_CO:
        for (i = 0; ln <= hn && i <= hn - ln; i++)
            if (has_at(have, i, lit, case_exact))
                return true;
        return false;
    case FOP_PR:
        return true;
    }
    return false;
}

/*
 * A comparison with a value known here, folded to SP_TRUE or SP_FALSE: meta.resourceType,
 * which is the resource type's name on every resource of the endpoint.
 */
static enum md_err const_cmp(struct ctx *c, const char *have, bool case_exact, const char *name,
                             enum filter_op op, const struct filter_value *v,
                             struct store_pred **out)
{
    const char *text = literal_text(v);
    bool holds;

    if (op == FOP_PR)
        holds = true;
    else if (v->type == FVAL_NULL && (op == FOP_EQ || op == FOP_NE))
        holds = op == FOP_NE;
    else if (text)
        holds = text_holds(have, op, text, case_exact);
    else
        return md_error_set(c->e, MD_ERR_FILTER, "%s is a string; compare it with a string", name);
    *out = new_node(c, holds ? SP_TRUE : SP_FALSE);
    return *out ? MD_OK : MD_ERR_NOMEM;
}

/*
 * members or groups, optionally with sub: a test on the membership table, which knows only
 * the member (or group) ids, so only the value sub-attribute can be filtered and only with
 * the operators the store offers there. "eq null" means no member at all.
 */
static enum md_err member_cmp(struct ctx *c, enum store_pred_kind kind,
                              const struct scim_attr *attr, const struct scim_attr *sub,
                              enum filter_op op, const struct filter_value *v,
                              struct store_pred **out)
{
    const struct scim_attr *leaf = sub ? sub : scim_attr_find(attr->subs, "value");
    const char *text = literal_text(v);
    struct store_pred *p, *n;

    if (sub && !cstr_ieq(sub->name, "value"))
        return md_error_set(c->e, MD_ERR_FILTER,
                            "filtering on %s.%s is not supported; filter on %s.value", attr->name,
                            sub->name, attr->name);
    if (op_is_ordering(op))
        return md_error_set(c->e, MD_ERR_FILTER, "%s is not supported on %s",
                            scim_filter_op_name(op), attr->name);
    p = new_node(c, kind);
    if (!p)
        return MD_ERR_NOMEM;
    p->cmp = map_op(op);
    p->case_exact = leaf ? leaf->case_exact : true;
    *out = p;
    if (op == FOP_PR)
        return MD_OK;
    if (v->type == FVAL_NULL) {
        /* "members ne null" is "has a member"; "members eq null" its negation. */
        if (op != FOP_EQ && op != FOP_NE)
            return md_error_set(c->e, MD_ERR_FILTER, "%s null is not a valid comparison",
                                scim_filter_op_name(op));
        p->cmp = SC_PR;
        if (op == FOP_NE)
            return MD_OK;
        n = new_node(c, SP_NOT);
        if (!n)
            return MD_ERR_NOMEM;
        n->a = p;
        *out = n;
        return MD_OK;
    }
    if (!text)
        return md_error_set(c->e, MD_ERR_FILTER, "%s.value is a string; compare it with a string",
                            attr->name);
    p->vtype = SV_STRING;
    p->str = q_strdup(c->q, text);
    return p->str ? MD_OK : nomem(c);
}

/* The membership test that attribute r names, if any: Group members, User groups. */
static bool membership_kind(const struct scim_resolved *r, enum store_pred_kind *kind)
{
    if (!r->schema || r->extension)
        return false;
    if (cstr_ieq(r->schema->id, SCIM_URN_GROUP) && cstr_ieq(r->attr->name, "members")) {
        *kind = SP_MEMBER;
        return true;
    }
    if (cstr_ieq(r->schema->id, SCIM_URN_USER) && cstr_ieq(r->attr->name, "groups")) {
        *kind = SP_MEMBER_OF;
        return true;
    }
    return false;
}

/* id, externalId and meta, which live in columns or nowhere rather than in the document. */
static enum md_err common_cmp(struct ctx *c, const struct scim_resolved *r, enum filter_op op,
                              const struct filter_value *v, struct store_pred **out)
{
    const struct scim_attr *a = r->attr, *s = r->sub;

    if (cstr_ieq(a->name, "id"))
        return column_cmp(c, SCOL_ID, SCIM_T_STRING, a->case_exact, a->name, op, v, out);
    if (cstr_ieq(a->name, "externalId"))
        return column_cmp(c, SCOL_EXTERNAL_ID, SCIM_T_STRING, a->case_exact, a->name, op, v, out);
    if (cstr_ieq(a->name, "meta") && !s) {
        if (op != FOP_PR)
            return md_error_set(c->e, MD_ERR_FILTER,
                                "meta is a complex attribute; name a sub-attribute");
        *out = new_node(c, SP_TRUE); /* every resource has meta */
        return *out ? MD_OK : MD_ERR_NOMEM;
    }
    if (cstr_ieq(a->name, "meta") && cstr_ieq(s->name, "created"))
        return column_cmp(c, SCOL_CREATED, SCIM_T_DATETIME, false, "meta.created", op, v, out);
    if (cstr_ieq(a->name, "meta") && cstr_ieq(s->name, "lastModified"))
        return column_cmp(c, SCOL_MODIFIED, SCIM_T_DATETIME, false, "meta.lastModified", op, v,
                          out);
    if (cstr_ieq(a->name, "meta") && cstr_ieq(s->name, "resourceType"))
        return const_cmp(c, c->rt->name, s->case_exact, "meta.resourceType", op, v, out);
    return md_error_set(c->e, MD_ERR_FILTER, "filtering on %s%s%s is not supported", a->name,
                        s ? "." : "", s ? s->name : "");
}

/*
 * An attribute of the document. A multi-valued attribute is tested element by element
 * (SP_ANY): on the named sub-attribute, on its "value" sub-attribute when none is named, or
 * on the element itself for an array of simple values. "pr", "eq null" and "ne null" without
 * a sub-attribute test the attribute as a whole (present and not empty, or absent).
 */
static enum md_err doc_cmp(struct ctx *c, const struct scim_resolved *r, enum filter_op op,
                           const struct filter_value *v, struct store_pred **out)
{
    const struct scim_attr *a = r->attr, *leaf;
    const char *path[STORE_PATH_MAX];
    char name[160];
    int n = 0, i;
    bool whole;
    struct store_pred *p, *any = NULL;

    if (r->extension)
        path[n++] = r->schema->id;
    path[n++] = a->name;

    /* "pr", "eq null" and "ne null" without a sub-attribute speak of the whole attribute. */
    whole = !r->sub && (op == FOP_PR || v->type == FVAL_NULL);
    leaf = r->sub;
    if (!leaf && !whole && a->type == SCIM_T_COMPLEX) {
        leaf = scim_attr_find(a->subs, "value");
        if (!leaf)
            return md_error_set(c->e, MD_ERR_FILTER,
                                "%s is a complex attribute without a value; name a "
                                "sub-attribute",
                                a->name);
    }
    snprintf(name, sizeof name, "%s%s%s", a->name, leaf ? "." : "", leaf ? leaf->name : "");

    p = new_node(c, SP_CMP);
    if (!p)
        return MD_ERR_NOMEM;
    if (a->multi && !whole) {
        any = new_node(c, SP_ANY);
        if (!any)
            return MD_ERR_NOMEM;
        for (i = 0; i < n; i++)
            any->path[i] = path[i];
        any->npath = n;
        any->a = p;
        if (leaf)
            p->path[p->npath++] = leaf->name;
    } else {
        for (i = 0; i < n; i++)
            p->path[i] = path[i];
        p->npath = n;
        if (leaf)
            p->path[p->npath++] = leaf->name;
    }
    *out = any ? any : p;
    if (!leaf)
        leaf = a;
    return set_value(c, leaf->type, leaf->case_exact, name, op, v, p);
}

/* A comparison on an attribute already resolved against the resource type. */
static enum md_err resolved_cmp(struct ctx *c, const struct scim_resolved *r, enum filter_op op,
                                const struct filter_value *v, struct store_pred **out)
{
    const struct scim_attr *a = r->attr;
    enum store_pred_kind kind;
    bool user, group;

    if (!r->schema)
        return common_cmp(c, r, op, v, out);
    if (membership_kind(r, &kind))
        return member_cmp(c, kind, a, r->sub, op, v, out);
    user = !r->extension && cstr_ieq(r->schema->id, SCIM_URN_USER);
    group = !r->extension && cstr_ieq(r->schema->id, SCIM_URN_GROUP);
    if (user && cstr_ieq(a->name, "userName"))
        return column_cmp(c, SCOL_USER_NAME, SCIM_T_STRING, a->case_exact, a->name, op, v, out);
    if ((user || group) && cstr_ieq(a->name, "displayName"))
        return column_cmp(c, SCOL_DISPLAY_NAME, SCIM_T_STRING, a->case_exact, a->name, op, v, out);
    if (user && cstr_ieq(a->name, "active"))
        return column_cmp(c, SCOL_ACTIVE, SCIM_T_BOOLEAN, false, a->name, op, v, out);
    return doc_cmp(c, r, op, v, out);
}

/*
 * "schemas" is not an attribute of the schema tables but is in every stored document, as an
 * array of URNs, so a filter may test it (`schemas eq "urn:...:enterprise:2.0:User"`). URNs
 * compare case-insensitively.
 */
static enum md_err schemas_cmp(struct ctx *c, enum filter_op op, const struct filter_value *v,
                               struct store_pred **out)
{
    struct store_pred *p = new_node(c, SP_CMP), *any;

    if (!p)
        return MD_ERR_NOMEM;
    if (op == FOP_PR) {
        p->path[0] = "schemas";
        p->npath = 1;
        *out = p;
        return set_value(c, SCIM_T_STRING, false, "schemas", op, v, p);
    }
    any = new_node(c, SP_ANY);
    if (!any)
        return MD_ERR_NOMEM;
    any->path[0] = "schemas";
    any->npath = 1;
    any->a = p;
    *out = any;
    return set_value(c, SCIM_T_STRING, false, "schemas", op, v, p);
}

/* A comparison at the top level: resolve its path against the resource type. */
static enum md_err top_cmp(struct ctx *c, const struct filter_node *f, struct store_pred **out)
{
    const struct filter_path *fp = &f->path;
    struct scim_resolved r;

    if (scim_resolve(c->rt, fp->urn, fp->attr, fp->sub, &r) == MD_OK)
        return resolved_cmp(c, &r, f->op, &f->value, out);
    if (!fp->urn && !fp->sub && fp->attr && cstr_ieq(fp->attr, "schemas"))
        return schemas_cmp(c, f->op, &f->value, out);
    return md_error_set(c->e, MD_ERR_FILTER, "unknown attribute %s%s%s%s%s", fp->urn ? fp->urn : "",
                        fp->urn ? ":" : "", fp->attr ? fp->attr : "", fp->sub ? "." : "",
                        fp->sub ? fp->sub : "");
}

/*
 * A comparison inside attr[...]: its path names a sub-attribute of attr, with neither a URN
 * nor a further sub-attribute.
 */
static enum md_err scoped_cmp(struct ctx *c, const struct scope *sc, const struct filter_node *f,
                              struct store_pred **out)
{
    const struct scim_resolved *outer = sc->outer;
    const struct filter_path *fp = &f->path;
    const struct scim_attr *sub;
    struct scim_resolved r;
    struct store_pred *p;

    if (fp->urn || fp->sub || !fp->attr)
        return md_error_set(c->e, MD_ERR_FILTER,
                            "inside %s[...] name a sub-attribute of %s, without a prefix",
                            outer->attr->name, outer->attr->name);
    sub = scim_attr_find(outer->attr->subs, fp->attr);
    if (!sub)
        return md_error_set(c->e, MD_ERR_FILTER, "unknown attribute %s.%s", outer->attr->name,
                            fp->attr);
    switch (sc->kind) {
    case SCOPE_MEMBER:
        return member_cmp(c, sc->member_kind, outer->attr, sub, f->op, &f->value, out);
    case SCOPE_SUB:
        r = *outer;
        r.sub = sub;
        return resolved_cmp(c, &r, f->op, &f->value, out);
    case SCOPE_ELEM:
        p = new_node(c, SP_CMP);
        if (!p)
            return MD_ERR_NOMEM;
        p->path[0] = sub->name;
        p->npath = 1;
        *out = p;
        return set_value(c, sub->type, sub->case_exact, sub->name, f->op, &f->value, p);
    case SCOPE_TOP:
        break;
    }
    return md_error_set(c->e, MD_ERR_INTERNAL, "filter scope");
}

/* ---- The tree ---- */

static enum md_err compile_node(struct ctx *c, const struct scope *sc, const struct filter_node *f,
                                struct store_pred **out);

/*
 * attr[inner]. On a multi-valued attribute: some element satisfies inner (SP_ANY). On a
 * single-valued complex attribute: inner with its paths read as attr.sub. On members or
 * groups: only comparisons joined by "or" can be expressed, as one membership test each,
 * because the store tests one membership row per SP_MEMBER and "and" or "not" inside the
 * brackets would speak of the same row.
 */
static enum md_err compile_valpath(struct ctx *c, const struct scope *sc,
                                   const struct filter_node *f, struct store_pred **out)
{
    const struct filter_path *fp = &f->path;
    struct scim_resolved r;
    struct scope inner = {SCOPE_TOP, NULL, SP_MEMBER};
    struct store_pred *any;
    enum md_err err;

    if (sc->kind != SCOPE_TOP)
        return md_error_set(c->e, MD_ERR_FILTER, "a [...] filter cannot nest inside another");
    if (!f->inner)
        return md_error_set(c->e, MD_ERR_FILTER, "empty [...] filter");
    if (fp->sub)
        return md_error_set(c->e, MD_ERR_FILTER, "%s.%s[...] names a sub-attribute; write %s[...]",
                            fp->attr, fp->sub, fp->attr);
    if (scim_resolve(c->rt, fp->urn, fp->attr, NULL, &r) != MD_OK)
        return md_error_set(c->e, MD_ERR_FILTER, "unknown attribute %s%s%s", fp->urn ? fp->urn : "",
                            fp->urn ? ":" : "", fp->attr ? fp->attr : "");
    if (r.attr->type != SCIM_T_COMPLEX)
        return md_error_set(c->e, MD_ERR_FILTER,
                            "%s is not a complex attribute; [...] does not apply to it",
                            r.attr->name);
    inner.outer = &r;
    if (membership_kind(&r, &inner.member_kind)) {
        inner.kind = SCOPE_MEMBER;
        return compile_node(c, &inner, f->inner, out);
    }
    if (!r.attr->multi || !r.schema) {
        inner.kind = SCOPE_SUB;
        return compile_node(c, &inner, f->inner, out);
    }
    inner.kind = SCOPE_ELEM;
    any = new_node(c, SP_ANY);
    if (!any)
        return MD_ERR_NOMEM;
    if (r.extension)
        any->path[any->npath++] = r.schema->id;
    any->path[any->npath++] = r.attr->name;
    err = compile_node(c, &inner, f->inner, &any->a);
    if (err == MD_OK)
        *out = any;
    return err;
}

/* ---- Chains of "and" and "or" ---- */

/*
 * The parser builds `a or b or c ...` as a left-leaning chain, as deep as it is long. The
 * store bounds the depth of the trees it accepts (a client that filters on a hundred ids with
 * "or" would exceed it), so a chain of one operator is compiled as a balanced tree of the same
 * operands in the same order, which means the same, since "and" and "or" are associative.
 */
static size_t chain_count(const struct filter_node *f, enum filter_kind k)
{
    if (f && f->kind == k)
        return chain_count(f->left, k) + chain_count(f->right, k);
    return 1;
}

static void chain_collect(const struct filter_node *f, enum filter_kind k,
                          const struct filter_node **ops, size_t *n)
{
    if (f && f->kind == k) {
        chain_collect(f->left, k, ops, n);
        chain_collect(f->right, k, ops, n);
        return;
    }
    ops[(*n)++] = f;
}

/* A balanced tree of kind k over preds[lo, hi), which is not empty. */
static struct store_pred *chain_build(struct ctx *c, enum store_pred_kind k,
                                      struct store_pred **preds, size_t lo, size_t hi)
{
    size_t mid = lo + (hi - lo) / 2;
    struct store_pred *p;

    if (hi - lo == 1)
        return preds[lo];
    p = new_node(c, k);
    if (!p)
        return NULL;
    p->a = chain_build(c, k, preds, lo, mid);
    p->b = chain_build(c, k, preds, mid, hi);
    return p->a && p->b ? p : NULL;
}

static enum md_err compile_chain(struct ctx *c, const struct scope *sc, const struct filter_node *f,
                                 struct store_pred **out)
{
    size_t n = chain_count(f, f->kind), got = 0, i;
    const struct filter_node **ops = calloc(n, sizeof *ops);
    struct store_pred **preds = calloc(n, sizeof *preds);
    enum md_err err = MD_OK;

    if (!ops || !preds) {
        err = nomem(c);
        goto out;
    }
    chain_collect(f, f->kind, ops, &got);
    for (i = 0; i < n && err == MD_OK; i++) {
        if (!ops[i])
            err = md_error_set(c->e, MD_ERR_FILTER, "incomplete filter");
        else
            err = compile_node(c, sc, ops[i], &preds[i]);
    }
    if (err != MD_OK)
        goto out;
    *out = chain_build(c, f->kind == FILTER_AND ? SP_AND : SP_OR, preds, 0, n);
    if (!*out)
        err = MD_ERR_NOMEM;
out:
    free(ops);
    free(preds);
    return err;
}

static enum md_err compile_node(struct ctx *c, const struct scope *sc, const struct filter_node *f,
                                struct store_pred **out)
{
    struct store_pred *p;
    enum md_err err;

    switch (f->kind) {
    case FILTER_AND:
    case FILTER_OR:
    case FILTER_NOT:
        if (sc->kind == SCOPE_MEMBER && f->kind != FILTER_OR)
            return md_error_set(c->e, MD_ERR_FILTER,
                                "inside %s[...] only comparisons of value joined by or are "
                                "supported",
                                sc->outer->attr->name);
        if (f->kind != FILTER_NOT)
            return compile_chain(c, sc, f, out);
        if (!f->left)
            return md_error_set(c->e, MD_ERR_FILTER, "incomplete filter");
        p = new_node(c, SP_NOT);
        if (!p)
            return MD_ERR_NOMEM;
        err = compile_node(c, sc, f->left, &p->a);
        if (err == MD_OK)
            *out = p;
        return err;
    case FILTER_CMP:
        if (sc->kind == SCOPE_TOP)
            return top_cmp(c, f, out);
        return scoped_cmp(c, sc, f, out);
    case FILTER_VALPATH:
        return compile_valpath(c, sc, f, out);
    }
    return md_error_set(c->e, MD_ERR_FILTER, "unknown filter node");
}

enum md_err scim_query_compile(const struct scim_rtype *rt, const struct filter_node *f,
                               struct scim_query **out, struct md_error *e)
{
    struct scim_query *q = calloc(1, sizeof *q);
    struct scope top = {SCOPE_TOP, NULL, SP_MEMBER};
    struct ctx c = {q, rt, e};
    enum md_err err = MD_OK;

    *out = NULL;
    if (!q) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory compiling the filter");
        goto out;
    }
    if (f)
        err = compile_node(&c, &top, f, &q->where);
out:
    if (err != MD_OK) {
        scim_query_free(q);
        return err;
    }
    *out = q;
    return MD_OK;
}

/* ---- Sorting ---- */

/*
 * RFC 7644 section 3.4.2.3 sorts a multi-valued attribute by its primary (else first) value.
 * The store's sort is a column or a path of object keys, which cannot say "the primary
 * element", so sortBy on a multi-valued attribute (emails, members, groups, ...) is refused
 * with MD_ERR_VALUE rather than sorted in some other order. meta.resourceType is the same on
 * every row, so it sorts as the default order; meta.location and meta.version are not stored
 * as columns and are refused.
 */
static enum md_err sort_target(const struct scim_resolved *r, const char *sort_by,
                               struct store_sort *s, bool *constant, struct md_error *e)
{
    const struct scim_attr *a = r->attr, *leaf = r->sub;
    bool user = r->schema && !r->extension && cstr_ieq(r->schema->id, SCIM_URN_USER);
    bool group = r->schema && !r->extension && cstr_ieq(r->schema->id, SCIM_URN_GROUP);

    *constant = false;
    s->col = SCOL_DOC;
    s->case_exact = (leaf ? leaf : a)->case_exact;
    if (a->multi)
        return md_error_set(e, MD_ERR_VALUE,
                            "sortBy %s names a multi-valued attribute, which this server "
                            "cannot sort by",
                            sort_by);
    if (!r->schema) {
        if (cstr_ieq(a->name, "id"))
            s->col = SCOL_ID;
        else if (cstr_ieq(a->name, "externalId"))
            s->col = SCOL_EXTERNAL_ID;
        else if (leaf && cstr_ieq(leaf->name, "created"))
            s->col = SCOL_CREATED;
        else if (leaf && cstr_ieq(leaf->name, "lastModified"))
            s->col = SCOL_MODIFIED;
        else if (leaf && cstr_ieq(leaf->name, "resourceType"))
            *constant = true;
        else
            return md_error_set(e, MD_ERR_VALUE, "sorting by %s is not supported", sort_by);
        return MD_OK;
    }
    if (user && cstr_ieq(a->name, "userName")) {
        s->col = SCOL_USER_NAME;
        return MD_OK;
    }
    if ((user || group) && cstr_ieq(a->name, "displayName")) {
        s->col = SCOL_DISPLAY_NAME;
        return MD_OK;
    }
    if (user && cstr_ieq(a->name, "active")) {
        s->col = SCOL_ACTIVE;
        return MD_OK;
    }
    if (!leaf && a->type == SCIM_T_COMPLEX) {
        leaf = scim_attr_find(a->subs, "value");
        if (!leaf)
            return md_error_set(e, MD_ERR_VALUE,
                                "sortBy %s names a complex attribute; name a sub-attribute",
                                sort_by);
        s->case_exact = leaf->case_exact;
    }
    if (r->extension)
        s->path[s->npath++] = r->schema->id;
    s->path[s->npath++] = a->name;
    if (leaf)
        s->path[s->npath++] = leaf->name;
    return MD_OK;
}

/* sortOrder: NULL or "" (ascending), "ascending" or "descending" in any case. */
static enum md_err sort_order_parse(const char *sort_order, bool *descending, struct md_error *e)
{
    *descending = false;
    if (!sort_order || !*sort_order || cstr_ieq(sort_order, "ascending"))
        return MD_OK;
    if (cstr_ieq(sort_order, "descending")) {
        *descending = true;
        return MD_OK;
    }
    return md_error_set(e, MD_ERR_VALUE, "sortOrder must be ascending or descending");
}

/*
 * A NULL or empty sortBy leaves the default order (by creation), whatever sortOrder says,
 * since RFC 7644 ties sortOrder to sortBy; sortOrder is still checked.
 */
enum md_err scim_query_sort(struct scim_query *q, const struct scim_rtype *rt, const char *sort_by,
                            const char *sort_order, struct md_error *e)
{
    struct store_sort s = {0};
    struct scim_resolved r;
    bool descending, constant;
    enum md_err err;

    err = sort_order_parse(sort_order, &descending, e);
    if (err != MD_OK)
        goto out;
    q->has_sort = false;
    if (!sort_by || !*sort_by)
        goto out;
    if (scim_resolve_str(rt, sort_by, &r) != MD_OK) {
        err = md_error_set(e, MD_ERR_VALUE, "sortBy names an unknown attribute %s", sort_by);
        goto out;
    }
    err = sort_target(&r, sort_by, &s, &constant, e);
    if (err != MD_OK || constant)
        goto out;
    s.descending = descending;
    q->sort = s;
    q->has_sort = true;
out:
    return err;
}

const struct store_pred *scim_query_where(const struct scim_query *q)
{
    return q ? q->where : NULL;
}

const struct store_sort *scim_query_sort_spec(const struct scim_query *q)
{
    return q && q->has_sort ? &q->sort : NULL;
}

void scim_query_free(struct scim_query *q)
{
    union q_chunk *c, *next;

    if (!q)
        return;
    for (c = q->chunks; c; c = next) {
        next = c->next;
        free(c);
    }
    free(q);
}
