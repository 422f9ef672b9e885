/*
 * Tests of src/scim/filter.c against the SCIMMY fixtures (scimmyjs/scimmy
 * test/lib/filter.json), for both parsing and matching. The fixture file is found through
 * $SCIMMY_FIXTURES or the shared conformance directory.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "scim/filter.h"

/*
 * The fixtures give parse results as SCIMMY's disjunctive normal form: a list of OR
 * branches, each an object of attribute -> expression, where nesting an object under an
 * attribute names its sub-attributes (one element of a value path, or dotted names). We
 * flatten both sides to leaves "path op value" (lowercase paths, "not" for negated leaves),
 * sort the leaves of each branch and the branches, and compare the strings.
 *
 * Cases that we deliberately parse otherwise than SCIMMY, following RFC 7644's grammar, are
 * listed in scimmy_parse_deviations with the reason; for those we check our own behaviour
 * instead (refused with MD_ERR_FILTER, or parsed to a different tree).
 */

static const char *fixture_dir_candidates[] = {
    NULL, /* $SCIMMY_FIXTURES */
    "../shared/conformance/scim/scimmy_fixtures",
    "/work/shared/conformance/scim/scimmy_fixtures",
};

static json_t *load_fixture(const char *name)
{
    char path[1024];
    json_error_t je;
    fixture_dir_candidates[0] = getenv("SCIMMY_FIXTURES");
    for (size_t i = 0; i < sizeof fixture_dir_candidates / sizeof fixture_dir_candidates[0]; i++) {
        json_t *v;
        if (!fixture_dir_candidates[i])
            continue;
        snprintf(path, sizeof path, "%s/%s", fixture_dir_candidates[i], name);
        v = json_load_file(path, 0, &je);
        if (v)
            return v;
    }
    cr_assert_fail("SCIMMY fixture %s not found (set SCIMMY_FIXTURES)", name);
    return NULL;
}

/* RFC 7644 ATTRNAME = ALPHA *(nameChar); SCIMMY also takes '$' inside a name, and a leading '-'. */
static const char *const dev_names[] = {"valid$Name eq null", "-valid$Name eq -null", NULL};

/*
 * RFC 7644: *1"not" "(" valFilter ")". SCIMMY takes "not" before any expression; without "("
 * we read "not" as an attribute name, so these fail at the operator.
 */
static const char *const dev_not[] = {
    "NOT id pr",
    "not id pr",
    "email.value ew \"@example.com\" and not userName eq \"Test\"",
    "email.type eq \"work\" or not userName ne \"Test\"",
    "email.type eq \"work\" AND not email.value ew \"@example.com\"",
    "email.type eq \"work\" and not email.value ew \"@example.com\"",
    "NOT email.type eq \"work\" and not email.value ew \"@example.com\"",
    "not email.type eq \"work\" and not email.value ew \"@example.com\"",
    "NOt not sw \"A\" and userName ew \"Z\" and userName co \"m\"",
    "not not sw \"A\" and userName ew \"Z\" and userName co \"m\"",
    "not emails[type eq \"work\"].value pr",
    "not emails[not type eq \"work\"] co \"A\"",
    NULL,
};

/* The same rule makes this one valid but different: attribute "not" eq the bareword "pr". */
static const char *const dev_not_attr[] = {"not eq pr", NULL};

/*
 * SCIMMY's target gives not (A or B) as (not A) or (not B); by De Morgan it is (not A) and
 * (not B), one branch. We parse these, and our normal form differs.
 */
static const char *const dev_de_morgan[] = {
    "userName sw \"A\" and not (userName ew \"Z\" or displayName co \"Bob\")",
    "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co "
    "\"example.org\")",
    NULL,
};

/*
 * RFC 7644 valuePath = attrPath "[" valFilter "]": in a filter nothing may follow the "]",
 * neither a sub-attribute (SCIMMY's "emails[...].value ew ...") nor an operator (SCIMMY's
 * "emails[...] pr").
 */
static const char *const dev_after_bracket[] = {
    "emails[type eq \"work\"].value ew \"@example.org\"",
    "emails[type eq \"work\" or type eq \"home\"].value ew \"@example.org\"",
    "emails[type eq \"work\" or type eq \"home\"].values[domain ew \"@example.org\"]",
    "emails[type eq \"work\" or type eq \"home\"].values[domain ew \"@example.org\" or domain "
    "ew \"@example.com\"]",
    "emails[type eq \"work\" or type eq \"home\"].values[domain ew \"@example.org\" or domain "
    "ew \"@example.com\"].recipient pr",
    "emails[type eq \"work\"].values[domain ew \"@example.org\" or domain ew "
    "\"@example.com\"].recipient pr",
    "userType eq \"Employee\" and emails[type eq \"work\" or (primary eq true and value co "
    "\"@example.com\")].display co \"Work\"",
    "(userType eq \"Employee\" or userType eq \"Manager\") and emails[type eq \"work\" or "
    "(primary eq true and value co \"@example.com\")].display co \"Work\"",
    "userType eq \"Employee\" or emails[type eq \"work\" or (primary eq true and value co "
    "\"@example.com\")].display co \"Work\"",
    "userType eq \"Employee\" or emails[type eq \"work\" and (primary eq false and value co "
    "\"@example.com\")].display co \"Work\"",
    "emails[type eq \"work\"] pr",
    "emails[not type eq \"work\"] pr",
    "emails[type eq \"work\"] co \"A\"",
    "emails[not type eq \"work\"] co \"A\"",
    "userType eq \"Employee\" and emails[type eq \"work\" or primary eq true] pr",
    "userType eq \"Employee\" and emails[type eq \"work\"] pr or userType eq \"Employee\" and "
    "emails[primary eq true] pr",
    NULL,
};

/* Whether a deviation is refused by our parser (true) or parsed to a different tree. */
static const struct {
    const char *const *sources;
    bool rejected;
    const char *why;
} scimmy_parse_deviations[] = {
    {dev_names, true, "attribute name grammar"},
    {dev_not, true, "'not' without '('"},
    {dev_not_attr, false, "'not' without '(' is an attribute name"},
    {dev_de_morgan, false, "SCIMMY's not over or is not De Morgan's"},
    {dev_after_bracket, true, "nothing follows ']' in a filter"},
};

static int find_deviation(const char *source)
{
    for (size_t i = 0; i < sizeof scimmy_parse_deviations / sizeof scimmy_parse_deviations[0]; i++)
        for (const char *const *x = scimmy_parse_deviations[i].sources; *x; x++)
            if (strcmp(*x, source) == 0)
                return (int)i;
    return -1;
}

/* A value as it appears in a leaf: JSON text, numbers through %.17g so 2e2 equals 200. */
static void leaf_value(struct buf *b, const json_t *v)
{
    if (json_is_number(v)) {
        buf_appendf(b, " %.17g", json_number_value(v));
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        buf_appendf(b, " %s", s);
        free(s);
    }
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static json_t *leaf_of_node(const char *prefix, const struct filter_node *f, bool neg)
{
    struct buf b;
    json_t *v = NULL, *leaf;
    char *s;
    buf_init(&b, 0);
    buf_append_cstr(&b, prefix);
    if (f->path.urn)
        buf_appendf(&b, "%s:", f->path.urn);
    buf_append_cstr(&b, f->path.attr);
    if (f->path.sub)
        buf_appendf(&b, ".%s", f->path.sub);
    lower(b.p);
    buf_appendf(&b, "%s %s", neg ? " not" : "", scim_filter_op_name(f->op));
    switch (f->value.type) {
    case FVAL_STRING:
        v = json_string(f->value.str);
        break;
    case FVAL_NUMBER:
        v = json_real(f->value.num);
        break;
    case FVAL_BOOL:
        v = json_boolean(f->value.b);
        break;
    case FVAL_NULL:
        v = json_null();
        break;
    case FVAL_NONE:
        break;
    }
    if (v)
        leaf_value(&b, v);
    json_decref(v);
    s = buf_steal(&b);
    leaf = json_pack("[[s]]", s);
    free(s);
    return leaf;
}

/* Every a ++ b for a in l, b in r. */
static json_t *cross(json_t *l, json_t *r)
{
    json_t *out = json_array(), *a, *bb;
    size_t i, j;
    json_array_foreach(l, i, a)
    {
        json_array_foreach(r, j, bb)
        {
            json_t *c = json_copy(a);
            json_array_extend(c, bb);
            json_array_append_new(out, c);
        }
    }
    json_decref(l);
    json_decref(r);
    return out;
}

/* Our tree in disjunctive normal form, with not pushed to the leaves; NULL if impossible. */
static json_t *dnf(const struct filter_node *f, bool neg, const char *prefix)
{
    json_t *l, *r;
    char *p;
    switch (f->kind) {
    case FILTER_CMP:
        return leaf_of_node(prefix, f, neg);
    case FILTER_NOT:
        return dnf(f->left, !neg, prefix);
    case FILTER_AND:
    case FILTER_OR:
        l = dnf(f->left, neg, prefix);
        r = dnf(f->right, neg, prefix);
        if (!l || !r) {
            json_decref(l);
            json_decref(r);
            return NULL;
        }
        if ((f->kind == FILTER_AND) != neg)
            return cross(l, r);
        json_array_extend(l, r);
        json_decref(r);
        return l;
    case FILTER_VALPATH: {
        struct buf b;
        json_t *d;
        if (neg)
            return NULL;
        buf_init(&b, 0);
        buf_appendf(&b, "%s%s.", prefix, f->path.attr);
        lower(b.p);
        p = buf_steal(&b);
        d = dnf(f->inner, false, p);
        free(p);
        return d;
    }
    }
    return NULL;
}

/* Leaves of one SCIMMY expression (["op", v], ["not", "op", v], ["pr"]) under path. */
static bool scimmy_expr_leaf(const char *path, const json_t *e, json_t *branch)
{
    struct buf b;
    size_t i = 0;
    bool neg = false;
    const char *op;
    char *s;

    if (!json_is_array(e) || !json_is_string(json_array_get(e, 0)))
        return false;
    if (strcasecmp(json_string_value(json_array_get(e, 0)), "not") == 0) {
        neg = true;
        i = 1;
    }
    op = json_string_value(json_array_get(e, i));
    if (!op)
        return false;
    buf_init(&b, 0);
    buf_appendf(&b, "%s%s ", path, neg ? " not" : "");
    buf_append_cstr(&b, op);
    lower(b.p + strlen(path));
    if (json_array_size(e) > i + 1)
        leaf_value(&b, json_array_get(e, i + 1));
    s = buf_steal(&b);
    json_array_append_new(branch, json_string(s));
    free(s);
    return true;
}

/* Appends the leaves of a SCIMMY branch object to branch; false when not representable. */
static bool scimmy_leaves(const json_t *obj, const char *prefix, json_t *branch)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v)
    {
        char path[512];
        snprintf(path, sizeof path, "%s%s", prefix, k);
        lower(path);
        if (json_is_object(v)) {
            char sub[520];
            snprintf(sub, sizeof sub, "%s.", path);
            if (!scimmy_leaves(v, sub, branch))
                return false;
        } else if (json_is_array(v) && json_is_array(json_array_get(v, 0))) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!scimmy_expr_leaf(path, e, branch))
                    return false;
            }
        } else if (!scimmy_expr_leaf(path, v, branch)) {
            return false;
        }
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "l1 & l2 | l3" with leaves and branches sorted. Caller frees. */
static char *canon(const json_t *branches)
{
    size_t nb = json_array_size(branches), i, j;
    char **bs = calloc(nb + 1, sizeof *bs);
    struct buf out;
    buf_init(&out, 0);
    for (i = 0; i < nb; i++) {
        const json_t *br = json_array_get(branches, i);
        size_t nl = json_array_size(br);
        const char **ls = calloc(nl + 1, sizeof *ls);
        struct buf b;
        buf_init(&b, 0);
        for (j = 0; j < nl; j++)
            ls[j] = json_string_value(json_array_get(br, j));
        qsort(ls, nl, sizeof *ls, cmp_str);
        for (j = 0; j < nl; j++)
            buf_appendf(&b, "%s%s", j ? " & " : "", ls[j]);
        buf_append(&b, "", 0);
        bs[i] = buf_steal(&b);
        free(ls);
    }
    qsort(bs, nb, sizeof *bs, cmp_str);
    for (i = 0; i < nb; i++) {
        buf_appendf(&out, "%s%s", i ? " | " : "", bs[i]);
        free(bs[i]);
    }
    free(bs);
    buf_append(&out, "", 0);
    return buf_steal(&out);
}

/* SCIMMY's target (array of branch objects) in canonical form, or NULL. */
static char *scimmy_canon(const json_t *target)
{
    json_t *branches = json_array(), *br;
    size_t i;
    char *s = NULL;
    json_array_foreach(target, i, br)
    {
        json_t *leaves = json_array();
        if (!scimmy_leaves(br, "", leaves)) {
            json_decref(leaves);
            goto out;
        }
        json_array_append_new(branches, leaves);
    }
    s = canon(branches);
out:
    json_decref(branches);
    return s;
}

struct tally {
    int run, deviations;
};

/* One parse case: text parsed by us, compared with SCIMMY's normal form. */
static void scimmy_parse_case(const char *text, const json_t *target, struct tally *t)
{
    struct filter_node *f = NULL;
    struct md_error e = {0};
    enum md_err rc = scim_filter_parse(text, strlen(text), &f, &e);
    int dev = find_deviation(text);
    char *want = scimmy_canon(target), *got = NULL;
    json_t *d;

    if (dev >= 0) {
        t->deviations++;
        if (scimmy_parse_deviations[dev].rejected) {
            cr_expect_eq(rc, MD_ERR_FILTER, "[%s] (%s) should be refused", text,
                         scimmy_parse_deviations[dev].why);
        } else {
            cr_assert_eq(rc, MD_OK, "[%s]: %s", text, e.msg);
            d = dnf(f, false, "");
            got = d ? canon(d) : NULL;
            json_decref(d);
            cr_expect(got && (!want || strcmp(got, want) != 0),
                      "[%s] (%s) unexpectedly equals SCIMMY's", text,
                      scimmy_parse_deviations[dev].why);
        }
    } else {
        t->run++;
        cr_assert_not_null(want, "cannot read SCIMMY target of [%s]", text);
        cr_assert_eq(rc, MD_OK, "SCIMMY case [%s]: %s", text, e.msg);
        d = dnf(f, false, "");
        cr_assert_not_null(d, "[%s] has no normal form", text);
        got = canon(d);
        json_decref(d);
        cr_expect_str_eq(got, want, "SCIMMY case [%s]", text);
    }
    free(got);
    free(want);
    scim_filter_free(f);
}

Test(test_filter_scimmy, scimmy_parse)
{
    json_t *fx = load_fixture("filter.json"), *group, *c;
    const char *gname;
    struct tally t = {0};
    size_t i;

    /* "parse": source text -> target tree. */
    json_object_foreach(json_object_get(fx, "parse"), gname, group)
    {
        json_array_foreach(group, i, c)
        {
            scimmy_parse_case(json_string_value(json_object_get(c, "source")),
                              json_object_get(c, "target"), &t);
        }
    }
    /* "expression": tree -> text; we check it backwards, parsing the text. */
    json_object_foreach(json_object_get(fx, "expression"), gname, group)
    {
        json_array_foreach(group, i, c)
        {
            scimmy_parse_case(json_string_value(json_object_get(c, "target")),
                              json_object_get(c, "source"), &t);
        }
    }
    /* 56 + 31 cases in the fixture; keep the count honest if it changes. */
    cr_assert_gt(t.run, 0);
    cr_expect_eq(t.run + t.deviations, 87, "run %d, deviations %d", t.run, t.deviations);
    cr_expect_eq(t.run, 50, "run %d", t.run);
    cr_expect_eq(t.deviations, 37, "deviations %d", t.deviations);
    json_decref(fx);
}

/*
 * Match cases: SCIMMY's expression objects are written back as filter text (an object's
 * entries joined by "and", a list of objects by "or", a nested object with one entry as a
 * dotted path and with several as a value path, ["np"] as "not (x pr)", ["not", ...] as
 * "not (...)", and [{filter}, ["pr"]] as "x[filter]"), parsed, and run against the source
 * resources. SCIMMY's matcher has no schema and compares strings exactly, so these run with
 * rt = NULL and case_exact_default = true.
 *
 * Deviation: SCIMMY reads the strings "True" and "False" as booleans when compared with a
 * boolean. Without a schema we keep JSON types (a string is not a boolean); with a schema
 * that says the attribute is boolean we do the same as SCIMMY (see schema_coercions in
 * test_filter.c).
 */
static const char *const scimmy_match_deviations[] = {
    "exists eq \"True\"",
    "exists eq \"False\"",
};

static bool scimmy_to_text(const json_t *expr, struct buf *b);

static bool scimmy_expr_text(const char *path, const json_t *e, struct buf *b)
{
    const char *op = json_string_value(json_array_get(e, 0));
    if (!op)
        return false;
    if (strcasecmp(op, "not") == 0) {
        json_t *rest = json_array();
        bool ok;
        for (size_t i = 1; i < json_array_size(e); i++)
            json_array_append(rest, json_array_get(e, i));
        buf_append_cstr(b, "not (");
        ok = scimmy_expr_text(path, rest, b);
        buf_append_char(b, ')');
        json_decref(rest);
        return ok;
    }
    if (strcasecmp(op, "np") == 0) {
        buf_appendf(b, "not (%s pr)", path);
        return true;
    }
    buf_appendf(b, "%s %s", path, op);
    if (json_array_size(e) > 1) {
        char *s = json_dumps(json_array_get(e, 1), JSON_ENCODE_ANY);
        buf_appendf(b, " %s", s);
        free(s);
    }
    return true;
}

static bool scimmy_obj_text(const json_t *obj, const char *prefix, struct buf *b)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v)
    {
        char path[512];
        snprintf(path, sizeof path, "%s%s", prefix, k);
        if (!first)
            buf_append_cstr(b, " and ");
        first = false;
        if (json_is_object(v) && json_object_size(v) == 1) {
            char sub[520];
            snprintf(sub, sizeof sub, "%s.", path);
            if (!scimmy_obj_text(v, sub, b))
                return false;
        } else if (json_is_object(v)) {
            buf_appendf(b, "%s[", path);
            if (!scimmy_obj_text(v, "", b))
                return false;
            buf_append_char(b, ']');
        } else if (json_is_object(json_array_get(v, 0))) {
            const json_t *tail = json_array_get(v, 1);
            if (!tail || json_array_size(tail) != 1 ||
                strcmp(json_string_value(json_array_get(tail, 0)), "pr") != 0)
                return false;
            buf_appendf(b, "%s[", path);
            if (!scimmy_obj_text(json_array_get(v, 0), "", b))
                return false;
            buf_append_char(b, ']');
        } else if (json_is_array(json_array_get(v, 0))) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (i)
                    buf_append_cstr(b, " and ");
                if (!scimmy_expr_text(path, e, b))
                    return false;
            }
        } else if (!scimmy_expr_text(path, v, b)) {
            return false;
        }
    }
    return true;
}

static bool scimmy_to_text(const json_t *expr, struct buf *b)
{
    size_t i;
    json_t *o;
    if (json_is_object(expr))
        return scimmy_obj_text(expr, "", b);
    json_array_foreach(expr, i, o)
    {
        buf_append_cstr(b, i ? " or (" : "(");
        if (!scimmy_obj_text(o, "", b))
            return false;
        buf_append_char(b, ')');
    }
    return true;
}

Test(test_filter_scimmy, scimmy_match)
{
    json_t *fx = load_fixture("filter.json");
    json_t *match_fx = json_object_get(fx, "match");
    json_t *sources = json_object_get(match_fx, "source"), *group, *c, *src;
    const char *gname;
    int run = 0, deviations = 0, refused = 0;
    size_t i, k;

    cr_assert(json_array_size(sources) > 0);
    json_object_foreach(json_object_get(match_fx, "targets"), gname, group)
    {
        json_array_foreach(group, i, c)
        {
            struct buf text, got, want;
            struct filter_node *f = NULL;
            struct md_error e = {0};
            bool deviation = false;
            json_t *id;

            buf_init(&text, 0);
            buf_init(&got, 0);
            buf_init(&want, 0);
            cr_assert(scimmy_to_text(json_object_get(c, "expression"), &text), "%s[%zu]", gname, i);
            buf_append(&text, "", 0);
            json_array_foreach(json_object_get(c, "expected"), k, id)
                buf_appendf(&want, "%lld ", (long long)json_integer_value(id));
            buf_append(&want, "", 0);
            for (k = 0; k < sizeof scimmy_match_deviations / sizeof scimmy_match_deviations[0]; k++)
                deviation = deviation || strcmp(text.p, scimmy_match_deviations[k]) == 0;
            if (scim_filter_parse(text.p, text.len, &f, &e) != MD_OK) {
                /* Only the unknown operator "un" may be refused; it matches nothing. */
                cr_expect(strstr(text.p, " un ") != NULL, "[%s]: %s", text.p, e.msg);
                cr_expect_str_eq(want.p, "", "[%s]", text.p);
                refused++;
            } else {
                json_array_foreach(sources, k, src)
                {
                    if (scim_filter_match(f, src, NULL, true))
                        buf_appendf(&got, "%lld ",
                                    (long long)json_integer_value(json_object_get(src, "id")));
                }
                buf_append(&got, "", 0);
                if (deviation) {
                    deviations++;
                    cr_expect_str_eq(got.p, "", "[%s] (strings are not booleans)", text.p);
                } else {
                    run++;
                    cr_expect_str_eq(got.p, want.p, "SCIMMY %s [%s]", gname, text.p);
                }
                scim_filter_free(f);
            }
            buf_free(&text);
            buf_free(&got);
            buf_free(&want);
        }
    }
    cr_assert_gt(run, 0);
    cr_expect_eq(run, 56, "run %d", run);
    cr_expect_eq(deviations, 2);
    cr_expect_eq(refused, 1);
    json_decref(fx);
}
