/*
 * Tests of src/scim/filter.c: the filter parser (every operator, precedence, not,
 * parentheses, value paths, URN paths, strings, numbers, barewords and every error), PATCH
 * paths, and the matcher with and without a schema. The comparisons with the SCIMMY fixtures
 * are in test_filter_scimmy.c.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "scim/filter.h"
#include "scim/schema.h"

/* ---- helpers ---- */

static void dump_path(struct buf *b, const struct filter_path *p)
{
    if (p->urn)
        buf_appendf(b, "%s|", p->urn);
    buf_append_cstr(b, p->attr);
    if (p->sub)
        buf_appendf(b, ".%s", p->sub);
}

/*
 * The tree as an S-expression: (eq userName "x"), (pr id), (gt quota #1.5), (and A B),
 * (or A B), (not A), (vp emails A). A URN is written before a '|'.
 */
static void dump(struct buf *b, const struct filter_node *f)
{
    switch (f->kind) {
    case FILTER_AND:
    case FILTER_OR:
        buf_append_cstr(b, f->kind == FILTER_AND ? "(and " : "(or ");
        dump(b, f->left);
        buf_append_char(b, ' ');
        dump(b, f->right);
        buf_append_char(b, ')');
        break;
    case FILTER_NOT:
        buf_append_cstr(b, "(not ");
        dump(b, f->left);
        buf_append_char(b, ')');
        break;
    case FILTER_VALPATH:
        buf_append_cstr(b, "(vp ");
        dump_path(b, &f->path);
        buf_append_char(b, ' ');
        dump(b, f->inner);
        buf_append_char(b, ')');
        break;
    case FILTER_CMP:
        buf_appendf(b, "(%s ", scim_filter_op_name(f->op));
        dump_path(b, &f->path);
        switch (f->value.type) {
        case FVAL_NONE:
            break;
        case FVAL_STRING:
            buf_appendf(b, " \"%s\"", f->value.str);
            break;
        case FVAL_NUMBER:
            buf_appendf(b, " #%s", f->value.str);
            break;
        case FVAL_BOOL:
            buf_append_cstr(b, f->value.b ? " true" : " false");
            break;
        case FVAL_NULL:
            buf_append_cstr(b, " null");
            break;
        }
        buf_append_char(b, ')');
        break;
    }
}

static char *dump_str(const struct filter_node *f)
{
    struct buf b;
    buf_init(&b, 0);
    dump(&b, f);
    cr_assert_eq(b.err, MD_OK);
    return buf_steal(&b);
}

static void check_parse(const char *text, const char *expected)
{
    struct filter_node *f = NULL;
    struct md_error e = {0};
    enum md_err rc = scim_filter_parse(text, strlen(text), &f, &e);
    char *got;

    cr_assert_eq(rc, MD_OK, "parse of [%s] failed: %s", text, e.msg);
    cr_assert_not_null(f);
    got = dump_str(f);
    cr_expect_str_eq(got, expected, "parse of [%s]", text);
    free(got);
    scim_filter_free(f);
}

/* Parses and hands back the tree; the caller frees it. */
static struct filter_node *parse_ok(const char *text)
{
    struct filter_node *f = NULL;
    struct md_error e = {0};
    cr_assert_eq(scim_filter_parse(text, strlen(text), &f, &e), MD_OK, "parse of [%s]: %s", text,
                 e.msg);
    return f;
}

/* The parse fails with MD_ERR_FILTER; if at is not NULL, the message names that offset. */
static void check_error_n(const char *text, size_t len, const char *at)
{
    struct filter_node *f = (struct filter_node *)&f; /* must be reset to NULL */
    struct md_error e = {0};
    enum md_err rc = scim_filter_parse(text, len, &f, &e);

    cr_assert_eq(rc, MD_ERR_FILTER, "parse of [%.*s] gave %s, not MD_ERR_FILTER", (int)len, text,
                 md_err_name(rc));
    cr_assert_null(f);
    cr_assert_eq(e.code, MD_ERR_FILTER);
    cr_assert(strstr(e.msg, "invalid filter") != NULL, "message [%s]", e.msg);
    if (at)
        cr_assert(strstr(e.msg, at) != NULL, "message [%s] lacks [%s]", e.msg, at);
}

static void check_error(const char *text, const char *at)
{
    check_error_n(text, strlen(text), at);
}

static json_t *load_json(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, &je);
    cr_assert_not_null(v, "bad test JSON: %s", je.text);
    return v;
}

static bool match_rt(const char *filter, const char *json, const struct scim_rtype *rt,
                     bool case_exact)
{
    struct filter_node *f = parse_ok(filter);
    json_t *obj = load_json(json);
    bool r = scim_filter_match(f, obj, rt, case_exact);
    json_decref(obj);
    scim_filter_free(f);
    return r;
}

static bool match(const char *filter, const char *json)
{
    return match_rt(filter, json, NULL, false);
}

/* ---- parser: operators and values ---- */

Test(test_filter, every_operator)
{
    check_parse("userName eq \"bjensen\"", "(eq userName \"bjensen\")");
    check_parse("userName ne \"bjensen\"", "(ne userName \"bjensen\")");
    check_parse("name.familyName co \"O'Malley\"", "(co name.familyName \"O'Malley\")");
    check_parse("userName sw \"J\"", "(sw userName \"J\")");
    check_parse("userName ew \"son\"", "(ew userName \"son\")");
    check_parse("title pr", "(pr title)");
    check_parse("meta.lastModified gt \"2011-05-13T04:42:34Z\"",
                "(gt meta.lastModified \"2011-05-13T04:42:34Z\")");
    check_parse("meta.lastModified ge \"2011-05-13T04:42:34Z\"",
                "(ge meta.lastModified \"2011-05-13T04:42:34Z\")");
    check_parse("meta.lastModified lt \"2011-05-13T04:42:34Z\"",
                "(lt meta.lastModified \"2011-05-13T04:42:34Z\")");
    check_parse("meta.lastModified le \"2011-05-13T04:42:34Z\"",
                "(le meta.lastModified \"2011-05-13T04:42:34Z\")");
}

Test(test_filter, operators_and_literals_case_insensitive)
{
    check_parse("userName EQ \"x\"", "(eq userName \"x\")");
    check_parse("userName Eq \"x\" AND title PR", "(and (eq userName \"x\") (pr title))");
    check_parse("a pr Or b pr", "(or (pr a) (pr b))");
    check_parse("active eq TRUE", "(eq active true)");
    check_parse("active eq False", "(eq active false)");
    check_parse("manager eq NULL", "(eq manager null)");
    check_parse("Not (a pr)", "(not (pr a))");
}

Test(test_filter, op_names)
{
    const char *want[] = {"eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"};
    enum filter_op ops[] = {FOP_EQ, FOP_NE, FOP_CO, FOP_SW, FOP_EW,
                            FOP_PR, FOP_GT, FOP_GE, FOP_LT, FOP_LE};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        cr_expect_str_eq(scim_filter_op_name(ops[i]), want[i]);
    cr_expect_str_eq(scim_filter_op_name((enum filter_op)99), "?");
}

Test(test_filter, values_in_the_tree)
{
    struct filter_node *f = parse_ok("quota ge -1.5e2");
    cr_assert_eq(f->kind, FILTER_CMP);
    cr_assert_eq(f->op, FOP_GE);
    cr_assert_eq(f->value.type, FVAL_NUMBER);
    cr_assert_str_eq(f->value.str, "-1.5e2");
    cr_assert_float_eq(f->value.num, -150.0, 1e-9);
    cr_assert_null(f->path.urn);
    cr_assert_str_eq(f->path.attr, "quota");
    cr_assert_null(f->path.sub);
    scim_filter_free(f);

    f = parse_ok("active eq true");
    cr_assert_eq(f->value.type, FVAL_BOOL);
    cr_assert(f->value.b);
    cr_assert_null(f->value.str);
    scim_filter_free(f);

    f = parse_ok("x pr");
    cr_assert_eq(f->op, FOP_PR);
    cr_assert_eq(f->value.type, FVAL_NONE);
    scim_filter_free(f);

    f = parse_ok("x eq null");
    cr_assert_eq(f->value.type, FVAL_NULL);
    scim_filter_free(f);
}

Test(test_filter, numbers)
{
    static const struct {
        const char *text;
        double num;
    } cases[] = {
        {"n eq 0", 0},
        {"n eq 42", 42},
        {"n eq -7", -7},
        {"n eq 1.5", 1.5},
        {"n eq -0.25", -0.25},
        {"n eq 2e2", 200},
        {"n eq 1E-3", 0.001},
        {"n eq 6.02e+23", 6.02e23},
        {"n eq -0", 0},
        {"n eq 123", 123},
        {"n eq 9007199254740993", 9007199254740993.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct filter_node *f = parse_ok(cases[i].text);
        cr_expect_eq(f->value.type, FVAL_NUMBER, "%s", cases[i].text);
        cr_expect_float_eq(f->value.num, cases[i].num,
                           1e-9 * (1 + (cases[i].num < 0 ? -cases[i].num : cases[i].num)), "%s",
                           cases[i].text);
        cr_expect_str_eq(f->value.str, cases[i].text + 5);
        scim_filter_free(f);
    }
    /* Not JSON numbers, so strings. */
    check_parse("n eq 0123", "(eq n \"0123\")");
    check_parse("n eq 1.", "(eq n \"1.\")");
    check_parse("n eq .5", "(eq n \".5\")");
    check_parse("n eq +1", "(eq n \"+1\")");
    check_parse("n eq 1e", "(eq n \"1e\")");
    check_parse("n eq -", "(eq n \"-\")");
    check_parse("value eq 123abc", "(eq value \"123abc\")");
    check_parse("value eq 123abc5e4", "(eq value \"123abc5e4\")");
    /* Quoted digits stay a string. */
    check_parse("n eq \"123\"", "(eq n \"123\")");
}

Test(test_filter, string_escapes)
{
    struct filter_node *f =
        parse_ok("s eq \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00\"");
    cr_assert_eq(f->value.type, FVAL_STRING);
    cr_assert_str_eq(f->value.str, "q\" b\\ s/ \b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    scim_filter_free(f);

    /* Raw UTF-8 passes through; the empty string is a string. */
    check_parse("name.givenName eq \"J\xc3\xb6rg\"", "(eq name.givenName \"J\xc3\xb6rg\")");
    f = parse_ok("s eq \"\"");
    cr_assert_eq(f->value.type, FVAL_STRING);
    cr_assert_str_eq(f->value.str, "");
    scim_filter_free(f);
    /* Inside quotes, keywords and brackets are text. */
    check_parse("s eq \"a) and (b or ]\"", "(eq s \"a) and (b or ]\")");
    check_parse("s eq \"true\"", "(eq s \"true\")");
    check_parse("s eq \"null\"", "(eq s \"null\")");
}

Test(test_filter, barewords)
{
    check_parse("userName sw O", "(sw userName \"O\")");
    check_parse("meta.Created gt 2015-10-10T14:38:21.8617979-07:00",
                "(gt meta.Created \"2015-10-10T14:38:21.8617979-07:00\")");
    check_parse("externalId eq abc-123", "(eq externalId \"abc-123\")");
    check_parse("name.FamilyName eq Employee and (emails.Value co example.com or "
                "emails.Value co example.org)",
                "(and (eq name.FamilyName \"Employee\") (or (co emails.Value \"example.com\") "
                "(co emails.Value \"example.org\")))");
    /* A bareword ends at ')' and ']'. */
    check_parse("(a eq b)", "(eq a \"b\")");
    check_parse("emails[type eq work]", "(vp emails (eq type \"work\"))");
    check_parse("a eq O'Brien", "(eq a \"O'Brien\")");
    check_parse("a eq -null", "(eq a \"-null\")");
    check_parse("a eq truth", "(eq a \"truth\")");
    check_parse("a eq J\xc3\xb6rg", "(eq a \"J\xc3\xb6rg\")");
}

/* ---- parser: structure ---- */

Test(test_filter, precedence)
{
    check_parse("a pr or b pr and c pr", "(or (pr a) (and (pr b) (pr c)))");
    check_parse("a pr and b pr or c pr", "(or (and (pr a) (pr b)) (pr c))");
    check_parse("a pr and b pr and c pr", "(and (and (pr a) (pr b)) (pr c))");
    check_parse("a pr or b pr or c pr", "(or (or (pr a) (pr b)) (pr c))");
    check_parse("a pr and b pr or c pr and d pr", "(or (and (pr a) (pr b)) (and (pr c) (pr d)))");
}

Test(test_filter, parentheses)
{
    check_parse("(a pr or b pr) and c pr", "(and (or (pr a) (pr b)) (pr c))");
    check_parse("a pr and (b pr or c pr)", "(and (pr a) (or (pr b) (pr c)))");
    check_parse("((a pr))", "(pr a)");
    check_parse("(a pr)and(b pr)", "(and (pr a) (pr b))");
    check_parse("userType eq \"Employee\" and (emails co \"example.com\" or emails.value co "
                "\"example.org\")",
                "(and (eq userType \"Employee\") (or (co emails \"example.com\") "
                "(co emails.value \"example.org\")))");
}

Test(test_filter, not_operator)
{
    check_parse("not (a pr)", "(not (pr a))");
    check_parse("not(a pr)", "(not (pr a))");
    check_parse("not \t (a pr or b pr)", "(not (or (pr a) (pr b)))");
    check_parse("a pr and not (b pr)", "(and (pr a) (not (pr b)))");
    check_parse("not (not (a pr))", "(not (not (pr a)))");
    check_parse("userType eq \"Employee\" and not (emails co \"example.com\" or "
                "emails.value co \"example.org\")",
                "(and (eq userType \"Employee\") (not (or (co emails \"example.com\") "
                "(co emails.value \"example.org\"))))");
    /* Without "(", "not" is an attribute name, as the RFC's grammar has it. */
    check_parse("not eq pr", "(eq not \"pr\")");
    check_parse("not pr", "(pr not)");
    check_parse("nothing eq 1", "(eq nothing #1)");
    check_error("NOT id pr", "must be followed by '('");
    check_error("a pr and not b pr", "must be followed by '('");
}

Test(test_filter, whitespace)
{
    check_parse("   userName eq \"x\"   ", "(eq userName \"x\")");
    check_parse("\tuserName\t\teq\t\"x\"\t", "(eq userName \"x\")");
    check_parse("a pr    and     b pr", "(and (pr a) (pr b))");
    check_parse("( a pr )", "(pr a)");
    check_parse("emails[ type eq \"work\" ]", "(vp emails (eq type \"work\"))");
    check_parse("a eq\"x\"", "(eq a \"x\")");
}

Test(test_filter, attribute_names)
{
    check_parse("$ref eq null", "(eq $ref null)");
    check_parse("members[$ref pr]", "(vp members (pr $ref))");
    check_parse("x-y_z9 pr", "(pr x-y_z9)");
    check_parse("pr pr", "(pr pr)");
    check_parse("and pr and or pr", "(and (pr and) (pr or))");
    check_parse("UserType eq null", "(eq UserType null)");
    check_parse("groups.$ref pr", "(pr groups.$ref)");
}

Test(test_filter, urn_paths)
{
    check_parse("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
                "(sw urn:ietf:params:scim:schemas:core:2.0:User|userName \"J\")");
    check_parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "
                "\"26118915\"",
                "(eq urn:ietf:params:scim:schemas:extension:enterprise:2.0:User|manager.value "
                "\"26118915\")");
    check_parse("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName pr",
                "(pr urn:ietf:params:scim:schemas:core:2.0:User|name.familyName)");
    check_parse("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"]",
                "(vp urn:ietf:params:scim:schemas:core:2.0:User|emails (eq type \"work\"))");
    check_parse("URN:foo:bar pr", "(pr URN:foo|bar)");
}

Test(test_filter, value_paths)
{
    check_parse("emails[type eq \"work\" and value co \"@example.com\"]",
                "(vp emails (and (eq type \"work\") (co value \"@example.com\")))");
    check_parse("emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq "
                "\"xmpp\" and value co \"@foo.com\"]",
                "(or (vp emails (and (eq type \"work\") (co value \"@example.com\"))) "
                "(vp ims (and (eq type \"xmpp\") (co value \"@foo.com\"))))");
    check_parse("userType eq \"Employee\" and emails[type eq \"work\" or (primary eq true and "
                "value co \"@example.com\")]",
                "(and (eq userType \"Employee\") (vp emails (or (eq type \"work\") (and (eq "
                "primary true) (co value \"@example.com\")))))");
    check_parse("emails[not (type eq \"work\")]", "(vp emails (not (eq type \"work\")))");
    check_parse("not (emails[type eq \"work\"])", "(not (vp emails (eq type \"work\")))");
    check_parse("x[y[z pr]]", "(vp x (vp y (pr z)))");
    check_parse("name.x[y pr]", "(vp name.x (pr y))");
}

Test(test_filter, inner_paths_are_relative)
{
    struct filter_node *f = parse_ok("emails[type eq \"work\"]");
    cr_assert_eq(f->kind, FILTER_VALPATH);
    cr_assert_str_eq(f->path.attr, "emails");
    cr_assert_null(f->path.sub);
    cr_assert_not_null(f->inner);
    cr_assert_eq(f->inner->kind, FILTER_CMP);
    cr_assert_str_eq(f->inner->path.attr, "type");
    cr_assert_null(f->left);
    cr_assert_null(f->right);
    scim_filter_free(f);
}

/* ---- parser: errors ---- */

Test(test_filter, errors_structure)
{
    check_error("", NULL);
    check_error("   \t ", NULL);
    check_error("userName", "at byte 8");
    check_error("userName eq", "at byte 11");
    check_error("userName eq ", "at byte 12");
    check_error("userName xx \"a\"", "at byte 9");
    check_error("userName \"a\"", "at byte 9");
    check_error("userName pr \"a\"", "at byte 12");
    check_error("id pr 5", "at byte 6");
    check_error("(userName pr", "at byte 12");
    check_error("userName pr)", "unbalanced ')'");
    check_error("userName pr]", "unbalanced ']'");
    check_error("userName pr and", "at byte 15");
    check_error("userName eq \"a\" or", "at byte 18");
    check_error("and", "at byte 3");
    check_error("or pr or", "at byte 8");
    check_error("not (userName pr", "at byte 16");
    check_error("not", "at byte 3");
    check_error("()", "at byte 1");
    check_error("emails[]", "at byte 7");
    check_error("emails[type eq \"work\"", "expected ']'");
    check_error("emails[type eq \"work\")", "expected ']'");
    check_error("(a pr]", "expected ')'");
    check_error("userName eq )", "at byte 12");
    check_error("userName eq \"a\"b", "at byte 15");
    check_error("userName eq ab\"c", "at byte 14");
    check_error("userName eq f(x)", "at byte 13");
    check_error("a pr andb pr", "at byte 5");
    check_error("a pr a pr", "at byte 5");
    check_error("a pr && b pr", "at byte 5");
    check_error("userName=\"x\"", "at byte 8");
    check_error("userNameeq \"x\"", "at byte 11");
    check_error("\"x\" eq userName", "at byte 0");
}

Test(test_filter, errors_value_paths)
{
    /* RFC 7644 valuePath has no trailing sub-attribute or operator inside a filter. */
    check_error("emails[type eq \"work\"].value ew \"@example.org\"", "at byte 22");
    check_error("emails[type eq \"work\"] pr", "at byte 23");
    check_error("emails[type eq \"work\"] co \"A\"", "at byte 23");
    check_error("emails [type eq \"work\"]", "at byte 7");
}

Test(test_filter, errors_names)
{
    check_error("valid$Name eq null", "at byte 0");
    check_error("-valid eq 1", "at byte 0");
    check_error("9lives eq 1", "at byte 0");
    check_error("_x pr", "at byte 0");
    check_error("a.b.c pr", "at byte 0");
    check_error("a. pr", "at byte 0");
    check_error(".a pr", "at byte 0");
    check_error("foo:bar eq 1", "a ':' may only follow a schema URN");
    check_error("urn:bar pr", "at byte 0");
    check_error("urn:a:b: pr", "at byte 0");
    check_error("urn:ietf:params:scim:schemas:core:2.0:User: pr", "at byte 0");
    check_error("a.$reff pr", "at byte 0");
    check_error("@x pr", "at byte 0");
}

Test(test_filter, errors_strings)
{
    check_error("s eq \"abc", "unterminated string");
    check_error("s eq \"a\\q\"", "unknown escape");
    check_error("s eq \"\\u12\"", "four hex digits");
    check_error("s eq \"\\u12G4\"", "four hex digits");
    check_error("s eq \"\\ud83d\"", "low surrogate");
    check_error("s eq \"\\ud83dx\"", "low surrogate");
    check_error("s eq \"\\ud83d\\u0041\"", "low surrogate");
    check_error("s eq \"\\ude00\"", "without a high surrogate");
    check_error("s eq \"\\u0000\"", "not allowed");
    check_error("s eq \"a\tb\"", "control characters");
    check_error("s eq \"a\nb\"", "control characters");
    check_error("s eq \"\xff\"", "UTF-8");
    check_error("s eq \"\xc0\xaf\"", "UTF-8");         /* overlong '/' */
    check_error("s eq \"\xed\xa0\x80\"", "UTF-8");     /* encoded surrogate */
    check_error("s eq \"\xf4\x90\x80\x80\"", "UTF-8"); /* above U+10FFFF */
    check_error("s eq \"\xe2\x82\"", "UTF-8");         /* truncated */
    check_error("s eq \xff", "UTF-8");
    check_error("s eq a\x01", "at byte 6");
    check_error("s eq \"abc\\", "unterminated string");
}

Test(test_filter, errors_numbers)
{
    check_error("n gt 1e999", "out of range");
    check_error("n gt -1e999", "out of range");
}

Test(test_filter, errors_nul_and_null_error_struct)
{
    struct filter_node *f = NULL;
    check_error_n("a eq \"x\0y\"", 10, "NUL byte");
    check_error_n("a pr\0", 5, "at byte 4");
    /* Without an error struct the parser still reports the code. */
    cr_assert_eq(scim_filter_parse("a eq", 4, &f, NULL), MD_ERR_FILTER);
    cr_assert_null(f);
    cr_assert_eq(scim_filter_parse(NULL, 0, &f, NULL), MD_ERR_FILTER);
    scim_filter_free(NULL);
}

Test(test_filter, length_limit)
{
    char *s = malloc(SCIM_FILTER_MAX_LEN + 2);
    struct filter_node *f = NULL;
    struct md_error e = {0};
    size_t n;

    /* "a eq "xxx...x"" exactly at the limit parses; one byte more does not. */
    cr_assert_not_null(s);
    memcpy(s, "a eq \"", 6);
    n = SCIM_FILTER_MAX_LEN - 1;
    memset(s + 6, 'x', n - 6);
    s[n] = '"';
    s[n + 1] = '\0';
    cr_assert_eq(strlen(s), SCIM_FILTER_MAX_LEN);
    cr_assert_eq(scim_filter_parse(s, strlen(s), &f, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(strlen(f->value.str), SCIM_FILTER_MAX_LEN - 7);
    scim_filter_free(f);
    memmove(s + 1, s, SCIM_FILTER_MAX_LEN + 1);
    s[0] = ' ';
    check_error(s, "longer than 4096");
    free(s);
}

/* Nesting of n levels of prefix, "a pr", then n times suffix. */
static char *nest(int n, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix), len = (size_t)n * (pl + sl) + 5;
    char *s = malloc(len + 1), *p = s;
    for (int i = 0; i < n; i++, p += pl)
        memcpy(p, prefix, pl);
    memcpy(p, "a pr", 4);
    p += 4;
    for (int i = 0; i < n; i++, p += sl)
        memcpy(p, suffix, sl);
    *p = '\0';
    return s;
}

Test(test_filter, depth_limit)
{
    struct filter_node *f;
    char *s;
    const char *pre[] = {"(", "not (", "x["};
    const char *suf[] = {")", ")", "]"};

    for (int k = 0; k < 3; k++) {
        s = nest(SCIM_FILTER_MAX_DEPTH, pre[k], suf[k]);
        f = parse_ok(s);
        scim_filter_free(f);
        free(s);
        s = nest(SCIM_FILTER_MAX_DEPTH + 1, pre[k], suf[k]);
        check_error(s, "nested deeper than 32");
        free(s);
    }
    /* Mixed kinds count together. */
    s = nest(SCIM_FILTER_MAX_DEPTH / 2 + 1, "(x[", "])");
    check_error(s, "nested deeper");
    free(s);
}

Test(test_filter, hostile_inputs)
{
    size_t n = 100000;
    char *s = malloc(n + 1);
    memset(s, '(', n);
    s[n] = '\0';
    /* Longer than the limit: refused before parsing. */
    check_error(s, "longer than");
    /* Within the limit: refused at the depth limit, without deep recursion. */
    check_error_n(s, SCIM_FILTER_MAX_LEN, "nested deeper");
    memset(s, '[', n);
    check_error_n(s, SCIM_FILTER_MAX_LEN, "at byte 0");
    for (size_t i = 0; i + 2 <= SCIM_FILTER_MAX_LEN; i += 2)
        memcpy(s + i, "a[", 2);
    check_error_n(s, SCIM_FILTER_MAX_LEN, "nested deeper");
    free(s);
}

Test(test_filter, long_chains)
{
    /* The longest chain that fits: "a pr and a pr and ..." parses, matches and frees. */
    struct buf b;
    struct filter_node *f;
    json_t *obj = load_json("{\"a\": 1}");
    buf_init(&b, 0);
    buf_append_cstr(&b, "a pr");
    while (b.len + 9 <= SCIM_FILTER_MAX_LEN)
        buf_append_cstr(&b, " and a pr");
    f = parse_ok(b.p);
    cr_assert(scim_filter_match(f, obj, NULL, false));
    scim_filter_free(f);
    buf_reset(&b);
    buf_append_cstr(&b, "b pr");
    while (b.len + 8 <= SCIM_FILTER_MAX_LEN)
        buf_append_cstr(&b, " or b pr");
    f = parse_ok(b.p);
    cr_assert_not(scim_filter_match(f, obj, NULL, false));
    scim_filter_free(f);
    buf_free(&b);
    json_decref(obj);
}

/* ---- PATCH paths ---- */

static struct scim_patch_path *pp_ok(const char *text)
{
    struct scim_patch_path *p = NULL;
    struct md_error e = {0};
    cr_assert_eq(scim_patch_path_parse(text, strlen(text), &p, &e), MD_OK, "[%s]: %s", text, e.msg);
    cr_assert_not_null(p);
    return p;
}

static void check_pp(const char *text, const char *urn, const char *attr, const char *sub,
                     const char *filter, const char *sub_after)
{
    struct scim_patch_path *p = pp_ok(text);
    if (urn)
        cr_expect_str_eq(p->path.urn, urn, "%s", text);
    else
        cr_expect_null(p->path.urn, "%s", text);
    cr_expect_str_eq(p->path.attr, attr, "%s", text);
    if (sub)
        cr_expect_str_eq(p->path.sub, sub, "%s", text);
    else
        cr_expect_null(p->path.sub, "%s", text);
    if (filter) {
        char *d;
        cr_assert_not_null(p->filter, "%s", text);
        d = dump_str(p->filter);
        cr_expect_str_eq(d, filter, "%s", text);
        free(d);
    } else {
        cr_expect_null(p->filter, "%s", text);
    }
    if (sub_after)
        cr_expect_str_eq(p->sub_after, sub_after, "%s", text);
    else
        cr_expect_null(p->sub_after, "%s", text);
    scim_patch_path_free(p);
}

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define CORE "urn:ietf:params:scim:schemas:core:2.0:User"

Test(test_filter, patch_paths)
{
    check_pp("members", NULL, "members", NULL, NULL, NULL);
    check_pp("name.familyName", NULL, "name", "familyName", NULL, NULL);
    check_pp("emails[type eq \"work\"]", NULL, "emails", NULL, "(eq type \"work\")", NULL);
    check_pp("emails[type eq \"work\"].value", NULL, "emails", NULL, "(eq type \"work\")", "value");
    check_pp("members[value eq \"2819c223\"]", NULL, "members", NULL, "(eq value \"2819c223\")",
             NULL);
    check_pp(ENT ":employeeNumber", ENT, "employeeNumber", NULL, NULL, NULL);
    check_pp(ENT ":manager.value", ENT, "manager", "value", NULL, NULL);
    check_pp(CORE ":name.givenName", CORE, "name", "givenName", NULL, NULL);
    check_pp(CORE ":emails[type eq \"work\"].display", CORE, "emails", NULL, "(eq type \"work\")",
             "display");
    check_pp("members[value eq 123abc].$ref", NULL, "members", NULL, "(eq value \"123abc\")",
             "$ref");
    check_pp("members[$ref eq null and value eq \"f648f8d5ea4e4cd38e9c\"]", NULL, "members", NULL,
             "(and (eq $ref null) (eq value \"f648f8d5ea4e4cd38e9c\"))", NULL);
    check_pp("addresses[type eq \"work\" and (primary eq true or region pr)].streetAddress", NULL,
             "addresses", NULL, "(and (eq type \"work\") (or (eq primary true) (pr region)))",
             "streetAddress");
    check_pp("  Emails[Type EQ \"work\"].Value  ", NULL, "Emails", NULL, "(eq Type \"work\")",
             "Value");
}

static void check_pp_error(const char *text, const char *needle)
{
    struct scim_patch_path *p = (struct scim_patch_path *)&p;
    struct md_error e = {0};
    enum md_err rc = scim_patch_path_parse(text, strlen(text), &p, &e);
    cr_assert_eq(rc, MD_ERR_PATH, "[%s] gave %s", text, md_err_name(rc));
    cr_assert_null(p);
    cr_assert_eq(e.code, MD_ERR_PATH);
    cr_assert(strstr(e.msg, "invalid path") != NULL, "[%s]", e.msg);
    if (needle)
        cr_assert(strstr(e.msg, needle) != NULL, "[%s] lacks [%s]", e.msg, needle);
}

Test(test_filter, patch_path_errors)
{
    check_pp_error("", "empty");
    check_pp_error("  ", "empty");
    check_pp_error("emails[", "at byte 7");
    check_pp_error("emails[type eq \"work\"", "expected ']'");
    check_pp_error("emails[type eq \"work\"].", "at byte 23");
    check_pp_error("emails[type eq \"work\"].a.b", "at byte 23");
    check_pp_error("emails[type eq \"work\"]x", "at byte 22");
    check_pp_error("emails[type eq \"work\"] .value", "at byte 23");
    check_pp_error("emails[type eq \"work\"][x pr]", "at byte 22");
    check_pp_error("emails[bad]", "at byte 10");
    check_pp_error("emails[type xx \"work\"]", "at byte 12");
    check_pp_error("name.a.b", "at byte 0");
    check_pp_error("name.familyName[x pr]", "at byte 15");
    check_pp_error("members value", "at byte 8");
    check_pp_error("emails type eq \"work\"", "at byte 7");
    check_pp_error("(members)", "at byte 0");
    check_pp_error("urn:x:", "at byte 0");
    check_pp_error("a[b[c[d pr]]", "expected ']'");
    check_pp_error("emails[type eq \"wo\\x\"]", "unknown escape");
    {
        char *s = nest(SCIM_FILTER_MAX_DEPTH + 1, "x[", "]");
        check_pp_error(s, "nested deeper");
        free(s);
    }
    {
        char *s = malloc(SCIM_FILTER_MAX_LEN + 2);
        memset(s, 'a', SCIM_FILTER_MAX_LEN + 1);
        s[SCIM_FILTER_MAX_LEN + 1] = '\0';
        check_pp_error(s, "longer than");
        free(s);
    }
    scim_patch_path_free(NULL);
}

/* ---- the matcher without a schema ---- */

static const char *const user_json =
    "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
    " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
    " \"id\": \"2819c223-7f76-453a-919d-413861904646\","
    " \"externalId\": \"701984\","
    " \"userName\": \"bjensen@example.com\","
    " \"name\": {\"formatted\": \"Ms. Barbara J Jensen, III\", \"familyName\": \"Jensen\","
    "           \"givenName\": \"Barbara\"},"
    " \"displayName\": \"Babs Jensen\", \"nickName\": \"\", \"title\": null,"
    " \"active\": true, \"logins\": 42, \"quota\": 1.5, \"big\": 9007199254740993,"
    " \"tags\": [\"Alpha\", \"beta\"], \"empty\": [], \"obj\": {},"
    " \"emails\": [{\"value\": \"bjensen@example.com\", \"type\": \"work\", \"primary\": true},"
    "              {\"value\": \"babs@jensen.org\", \"type\": \"home\"}],"
    " \"phoneNumbers\": [{\"value\": \"555-555-8377\", \"type\": \"work\"}],"
    " \"meta\": {\"resourceType\": \"User\", \"created\": \"2010-01-23T04:56:22Z\","
    "          \"lastModified\": \"2011-05-13T04:42:34Z\"},"
    " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\": {"
    "   \"employeeNumber\": \"701984\", \"department\": \"Tour Operations\","
    "   \"manager\": {\"value\": \"26118915-6090-4610-87e4-49d8ca9f808d\","
    "                 \"displayName\": \"John Smith\"}}}";

Test(test_filter, match_strings)
{
    cr_expect(match("userName eq \"bjensen@example.com\"", user_json));
    cr_expect(match("USERNAME eq \"BJensen@Example.COM\"", user_json));
    cr_expect_not(match_rt("userName eq \"BJensen@Example.COM\"", user_json, NULL, true));
    cr_expect(match_rt("userName eq \"bjensen@example.com\"", user_json, NULL, true));
    cr_expect(match("userName ne \"someone\"", user_json));
    cr_expect_not(match("userName ne \"BJENSEN@example.com\"", user_json));
    cr_expect(match("userName co \"JENSEN@\"", user_json));
    cr_expect_not(match_rt("userName co \"JENSEN@\"", user_json, NULL, true));
    cr_expect(match("userName co \"\"", user_json));
    cr_expect_not(match("userName co \"nope\"", user_json));
    cr_expect(match("userName sw \"BJ\"", user_json));
    cr_expect(match("userName sw \"bjensen@example.com\"", user_json));
    cr_expect_not(match("userName sw \"bjensen@example.com.\"", user_json));
    cr_expect_not(match("userName sw \"example\"", user_json));
    cr_expect(match("userName ew \".COM\"", user_json));
    cr_expect_not(match("userName ew \"bjensen\"", user_json));
    cr_expect(match("userName gt \"a\"", user_json));
    cr_expect(match("userName gt \"BJ\"", user_json));
    cr_expect_not(match_rt("userName gt \"c\"", user_json, NULL, true));
    cr_expect(match("userName ge \"bjensen@example.com\"", user_json));
    cr_expect(match("userName le \"BJENSEN@EXAMPLE.COM\"", user_json));
    cr_expect_not(match("userName lt \"BJENSEN@EXAMPLE.COM\"", user_json));
    cr_expect(match("userName lt \"bjensen@example.comz\"", user_json));
    cr_expect(match("name.familyName eq \"jensen\"", user_json));
    cr_expect(match("NAME.FAMILYNAME sw jen", user_json));
    cr_expect_not(match("name.middleName eq \"x\"", user_json));
}

Test(test_filter, match_present)
{
    cr_expect(match("userName pr", user_json));
    cr_expect(match("active pr", user_json));
    cr_expect(match("name pr", user_json));
    cr_expect(match("emails pr", user_json));
    cr_expect(match("emails.type pr", user_json));
    cr_expect_not(match("emails.display pr", user_json));
    cr_expect_not(match("nickName pr", user_json)); /* "" */
    cr_expect_not(match("title pr", user_json));    /* null */
    cr_expect_not(match("empty pr", user_json));    /* [] */
    cr_expect_not(match("obj pr", user_json));      /* {} */
    cr_expect_not(match("missing pr", user_json));
    cr_expect(match("active pr", "{\"active\": false}"));
    cr_expect(match("n pr", "{\"n\": 0}"));
    cr_expect_not(match("a pr", "{\"a\": [null, \"\"]}"));
    cr_expect(match("a pr", "{\"a\": [null, \"x\"]}"));
    /* eq null is "not pr"; ne null is "pr". */
    cr_expect(match("title eq null", user_json));
    cr_expect(match("missing eq null", user_json));
    cr_expect(match("nickName eq null", user_json));
    cr_expect_not(match("userName eq null", user_json));
    cr_expect(match("userName ne null", user_json));
    cr_expect_not(match("title ne null", user_json));
    cr_expect_not(match("userName gt null", user_json));
    cr_expect_not(match("userName co null", user_json));
}

Test(test_filter, match_absent_and_ne)
{
    /* An absent attribute satisfies neither eq nor ne; not (eq) includes it. */
    cr_expect_not(match("missing eq \"x\"", user_json));
    cr_expect_not(match("missing ne \"x\"", user_json));
    cr_expect(match("not (missing eq \"x\")", user_json));
    cr_expect_not(match("title ne \"x\"", user_json));
    cr_expect_not(match("name.missing ne \"x\"", user_json));
    cr_expect_not(match("missing.sub ne \"x\"", user_json));
}

Test(test_filter, match_numbers)
{
    cr_expect(match("logins eq 42", user_json));
    cr_expect(match("logins eq 42.0", user_json));
    cr_expect(match("logins eq 4.2e1", user_json));
    cr_expect(match("logins gt 41.5", user_json));
    cr_expect(match("logins ge 42", user_json));
    cr_expect(match("logins le 42", user_json));
    cr_expect_not(match("logins lt 42", user_json));
    cr_expect(match("logins ne 43", user_json));
    cr_expect(match("quota lt 2", user_json));
    cr_expect(match("quota gt -1", user_json));
    cr_expect(match("quota eq 1.5", user_json));
    cr_expect(match("quota eq 15e-1", user_json));
    /* Integers compare exactly, beyond double precision. */
    cr_expect(match("big eq 9007199254740993", user_json));
    cr_expect_not(match("big eq 9007199254740992", user_json));
    cr_expect(match("big gt 9007199254740992", user_json));
    /* Mismatched types: never equal, never ordered. */
    cr_expect_not(match("logins eq \"42\"", user_json));
    cr_expect(match("logins ne \"42\"", user_json));
    cr_expect_not(match("logins gt \"1\"", user_json));
    cr_expect_not(match("logins co \"4\"", user_json));
    cr_expect_not(match("externalId eq 701984", user_json));
    cr_expect_not(match("externalId gt 1", user_json));
}

Test(test_filter, match_booleans)
{
    cr_expect(match("active eq true", user_json));
    cr_expect_not(match("active eq false", user_json));
    cr_expect(match("active ne false", user_json));
    cr_expect_not(match("active ne true", user_json));
    cr_expect_not(match("active gt false", user_json));
    cr_expect_not(match("active ge true", user_json));
    cr_expect_not(match("active le true", user_json));
    cr_expect_not(match("active lt true", user_json));
    cr_expect_not(match("active co \"t\"", user_json));
    cr_expect_not(match("active eq \"true\"", user_json));
    cr_expect_not(match("active eq 1", user_json));
    cr_expect_not(match("userName eq true", user_json));
    cr_expect(match("emails.primary eq true", user_json));
}

Test(test_filter, match_multi_valued)
{
    /* Some element: simple values, and the "value" of complex ones. */
    cr_expect(match("tags eq \"alpha\"", user_json));
    cr_expect(match("tags eq \"beta\"", user_json));
    cr_expect_not(match("tags eq \"gamma\"", user_json));
    cr_expect(match("tags ne \"alpha\"", user_json)); /* "beta" is not "alpha" */
    cr_expect_not(match("tags ne \"x\"", "{\"tags\": []}"));
    cr_expect(match("emails co \"jensen.org\"", user_json));
    cr_expect(match("emails eq \"bjensen@example.com\"", user_json));
    cr_expect(match("emails.value ew \".org\"", user_json));
    cr_expect(match("emails.type eq \"home\"", user_json));
    cr_expect_not(match("emails.type eq \"other\"", user_json));
    cr_expect(match("emails.type eq \"work\" and emails.value ew \".org\"", user_json));
    cr_expect(match("phoneNumbers sw \"555\"", user_json));
    cr_expect(match("a.b eq 1", "{\"a\": [{\"b\": [0, 1]}]}"));
    cr_expect_not(match("a eq 1", "{\"a\": [[1]]}"));
    cr_expect_not(match("name eq \"x\"", user_json));
}

Test(test_filter, match_value_paths)
{
    /* The same element must satisfy every condition inside the brackets. */
    cr_expect_not(match("emails[type eq \"work\" and value ew \".org\"]", user_json));
    cr_expect(match("emails[type eq \"home\" and value ew \".org\"]", user_json));
    cr_expect(match("emails[type eq \"work\" and primary eq true]", user_json));
    cr_expect_not(match("emails[type eq \"home\" and primary eq true]", user_json));
    cr_expect(match("emails[not (primary eq true)]", user_json));
    cr_expect(match("emails[type eq \"work\"] and userName sw \"bj\"", user_json));
    cr_expect(match("emails[type eq \"other\"] or userName sw \"bj\"", user_json));
    cr_expect_not(match("emails[type eq \"other\"] or userName sw \"zz\"", user_json));
    cr_expect(match("not (emails[type eq \"other\"])", user_json));
    /* A single complex value is the one element. */
    cr_expect(match("name[givenName eq \"barbara\" and familyName eq \"jensen\"]", user_json));
    cr_expect_not(match("name[givenName eq \"barbara\" and familyName eq \"smith\"]", user_json));
    /* Not objects, or absent: nothing to match. */
    cr_expect_not(match("tags[value eq \"alpha\"]", user_json));
    cr_expect_not(match("missing[x pr]", user_json));
    cr_expect_not(match("userName[x pr]", user_json));
    /* Nested, relative to each element. */
    cr_expect(match("a[b[c eq 2]]", "{\"a\": [{\"b\": [{\"c\": 1}]}, {\"b\": {\"c\": 2}}]}"));
    cr_expect_not(match("a[b[c eq 3]]", "{\"a\": [{\"b\": [{\"c\": 1}]}, {\"b\": {\"c\": 2}}]}"));
    cr_expect(match("a.b[c eq 1]", "{\"a\": {\"b\": [{\"c\": 1}]}}"));
}

Test(test_filter, match_logic)
{
    cr_expect(match("userName pr and active eq true", user_json));
    cr_expect_not(match("userName pr and active eq false", user_json));
    cr_expect(match("missing pr or active eq true", user_json));
    cr_expect_not(match("missing pr or active eq false", user_json));
    cr_expect(match("not (active eq false)", user_json));
    cr_expect_not(match("not (active eq true)", user_json));
    cr_expect(match("active eq false or active eq true and userName pr", user_json));
    cr_expect_not(match("(active eq false or active eq true) and missing pr", user_json));
}

Test(test_filter, match_urn_without_schema)
{
    /* A URN whose key holds an object is an extension; otherwise it is ignored. */
    cr_expect(match(ENT ":employeeNumber eq \"701984\"", user_json));
    cr_expect(match(ENT ":manager.value sw \"26118915\"", user_json));
    cr_expect(match(ENT ":manager[displayName eq \"john smith\"]", user_json));
    cr_expect_not(match(ENT ":userName pr", user_json));
    cr_expect(match(CORE ":userName sw \"bjensen\"", user_json));
    cr_expect(match(CORE ":name.familyName eq \"Jensen\"", user_json));
    cr_expect_not(match("employeeNumber pr", user_json));
}

Test(test_filter, match_not_an_object)
{
    struct filter_node *f = parse_ok("a pr");
    json_t *arr = load_json("[{\"a\": 1}]");
    cr_expect_not(scim_filter_match(f, arr, NULL, false));
    cr_expect_not(scim_filter_match(f, NULL, NULL, false));
    json_decref(arr);
    scim_filter_free(f);
}

Test(test_filter, match_strings_with_nul_and_utf8)
{
    cr_expect(match("s co \"b\"", "{\"s\": \"a\\u0000b\"}"));
    cr_expect(match("s ew \"b\"", "{\"s\": \"a\\u0000b\"}"));
    cr_expect(match("s eq \"J\\u00f6rg\"", "{\"s\": \"J\xc3\xb6rg\"}"));
    /* Only ASCII folds: no Unicode case mapping. */
    cr_expect_not(match("s eq \"\xc3\x96\"", "{\"s\": \"\xc3\xb6\"}"));
    cr_expect(match("s gt \"z\"", "{\"s\": \"\xc3\xb6\"}"));
}

/* ---- the matcher with a schema ---- */

static bool umatch(const char *filter, bool case_exact)
{
    return match_rt(filter, user_json, &scim_rtype_user, case_exact);
}

Test(test_filter, schema_case_exact)
{
    /* userName is not caseExact, whatever the default. */
    cr_expect(umatch("userName eq \"BJENSEN@EXAMPLE.COM\"", true));
    /* id and externalId are caseExact, whatever the default. */
    cr_expect(umatch("id eq \"2819c223-7f76-453a-919d-413861904646\"", false));
    cr_expect_not(umatch("id eq \"2819C223-7F76-453A-919D-413861904646\"", false));
    cr_expect_not(umatch("id sw \"2819C\"", false));
    cr_expect(umatch("meta.resourceType eq \"User\"", false));
    cr_expect_not(umatch("meta.resourceType eq \"user\"", false));
    /* Sub-attributes inside a value path take the outer attribute's schema. */
    cr_expect(umatch("emails[type eq \"WORK\" and value co \"EXAMPLE\"]", true));
    cr_expect(umatch("emails.type eq \"HOME\"", true));
    cr_expect(umatch("emails co \"BJENSEN\"", true));
    cr_expect(umatch("name.familyName eq \"JENSEN\"", true));
    /* Attributes the schema does not know follow the default. */
    cr_expect(umatch("tags eq \"alpha\"", false));
    cr_expect_not(umatch("tags eq \"alpha\"", true));
}

Test(test_filter, schema_datetime)
{
    /* 2010-01-23T04:56:22Z is 2010-01-22T23:56:22-05:00: equal as times, not as text. */
    cr_expect(umatch("meta.created eq \"2010-01-22T23:56:22-05:00\"", false));
    cr_expect(umatch("meta.created ge \"2010-01-22T23:56:22-05:00\"", false));
    cr_expect_not(umatch("meta.created gt \"2010-01-22T23:56:22-05:00\"", false));
    cr_expect_not(match("meta.created eq \"2010-01-22T23:56:22-05:00\"", user_json));
    cr_expect(match("meta.created gt \"2010-01-22T23:56:22-05:00\"", user_json));
    cr_expect(umatch("meta.created lt \"2010-01-23T04:56:22.001Z\"", false));
    cr_expect(umatch("meta.created gt \"2010-01-23\"", false));
    /* Entra ID's bareword form. */
    cr_expect_not(umatch("meta.Created gt 2015-10-10T14:38:21.8617979-07:00", false));
    cr_expect(umatch("meta.lastModified lt 2015-10-10T14:38:21.8617979-07:00", false));
    /* Not a time: compared as text. */
    cr_expect(umatch("meta.created lt \"2011\"", false));
    cr_expect(umatch("meta.created sw \"2010-01\"", false));
}

Test(test_filter, schema_coercions)
{
    /* An unquoted number against a string attribute compares as its text. */
    cr_expect(umatch("externalId eq 701984", false));
    cr_expect(umatch(ENT ":employeeNumber eq 701984", false));
    cr_expect_not(umatch("externalId eq 701984.0", false));
    cr_expect(umatch("externalId sw 7019", false));
    /* "true"/"false" strings against a boolean attribute compare as booleans. */
    cr_expect(umatch("active eq \"True\"", false));
    cr_expect_not(umatch("active eq \"False\"", false));
    cr_expect(umatch("emails[primary eq \"true\"]", false));
    cr_expect_not(umatch("active eq \"yes\"", false));
    cr_expect_not(umatch("active gt \"false\"", false));
}

Test(test_filter, schema_extension_paths)
{
    cr_expect(umatch(ENT ":employeeNumber eq \"701984\"", false));
    cr_expect(umatch("employeeNumber eq \"701984\"", false));
    cr_expect(umatch("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:DEPARTMENT "
                     "co \"tour\"",
                     true));
    cr_expect(umatch(ENT ":manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\"", false));
    cr_expect(umatch("manager.displayName eq \"John Smith\"", false));
    cr_expect(umatch(ENT ":manager[value pr]", false));
    cr_expect_not(umatch(ENT ":userName pr", false));
    cr_expect(umatch(ENT ":costCenter eq null", false));
    /* The core URN is the resource itself; an unknown URN names nothing. */
    cr_expect(umatch(CORE ":userName eq \"bjensen@example.com\"", false));
    cr_expect(umatch(CORE ":meta.created pr", false));
    cr_expect_not(umatch("urn:example:unknown:2.0:User:userName pr", false));
    cr_expect(umatch("urn:example:unknown:2.0:User:userName eq null", false));
    /* Without the extension object, its attributes are absent. */
    cr_expect(match_rt("employeeNumber eq null", "{\"userName\": \"x\"}", &scim_rtype_user, false));
    cr_expect_not(
        match_rt("employeeNumber pr", "{\"employeeNumber\": \"1\"}", &scim_rtype_user, false));
}

Test(test_filter, schema_groups)
{
    const char *g = "{\"displayName\": \"Tour Guides\", \"members\": ["
                    "{\"value\": \"2819c223\", \"$ref\": \"https://x/Users/2819c223\","
                    " \"type\": \"User\"},"
                    "{\"value\": \"902c246b\", \"type\": \"Group\"}]}";
    cr_expect(match_rt("displayName eq \"tour guides\"", g, &scim_rtype_group, true));
    cr_expect(match_rt("members[value eq \"2819c223\"]", g, &scim_rtype_group, false));
    cr_expect(match_rt("members eq \"902c246b\"", g, &scim_rtype_group, false));
    cr_expect(match_rt("members[$ref pr and type eq \"User\"]", g, &scim_rtype_group, false));
    cr_expect_not(match_rt("members[$ref pr and type eq \"Group\"]", g, &scim_rtype_group, false));
}
