/*
 * JSON Pointers into upstream answers (locate.c): their syntax, RFC 6901's evaluation over JSON,
 * and the element paths over XML that the response rules read, each case a document and a
 * pointer in and the exact value (or its absence) out.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect_int.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(test_locate, pointer_syntax)
{
    static const struct {
        const char *p;
        bool ok;
    } cases[] = {
        {"", true},
        {"/", true},
        {"/a/0/b", true},
        {"/a~0b/~1", true},
        {"/o:errorDetails/0/o:errorCode", true},
        {"a", false},
        {"/a~", false},
        {"/a~2", false},
        {"#/a", false},
    };
    char long_ptr[CONNECT__POINTER_MAX + 2];

    for (size_t i = 0; i < N(cases); i++)
        cr_expect_eq(connect__pointer_ok(cases[i].p, strlen(cases[i].p)), cases[i].ok, "%s",
                     cases[i].p);
    /* A NUL inside, and one byte over the cap, are refused. */
    cr_expect(!connect__pointer_ok("/a\0b", 4));
    memset(long_ptr, 'x', sizeof long_ptr - 1);
    long_ptr[0] = '/';
    long_ptr[sizeof long_ptr - 1] = '\0';
    cr_expect(!connect__pointer_ok(long_ptr, strlen(long_ptr)));
    long_ptr[CONNECT__POINTER_MAX] = '\0';
    cr_expect(connect__pointer_ok(long_ptr, CONNECT__POINTER_MAX));
}

Test(test_locate, json_pointers)
{
    /* RFC 6901 section 5's example document, and arrays. */
    static const char doc_text[] =
        "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, \"e^f\": 3, \"g|h\": 4, "
        "\"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, \"m~n\": 8, \"x\": {\"y\": [{\"z\": true}]}}";
    static const struct {
        const char *p;
        const char *want; /* compact JSON, or NULL for none */
    } cases[] = {
        {"/foo", "[\"bar\",\"baz\"]"},
        {"/foo/0", "\"bar\""},
        {"/", "0"},
        {"/a~1b", "1"},
        {"/c%d", "2"},
        {"/e^f", "3"},
        {"/g|h", "4"},
        {"/i\\j", "5"},
        {"/k\"l", "6"},
        {"/ ", "7"},
        {"/m~0n", "8"},
        {"/x/y/0/z", "true"},
        {"/foo/2", NULL},
        {"/foo/01", NULL},
        {"/foo/-", NULL},
        {"/foo/0/x", NULL},
        {"/nope", NULL},
        {"/x/y/z", NULL},
    };
    json_error_t jerr;
    json_t *doc = json_loads(doc_text, 0, &jerr);

    cr_assert_not_null(doc, "%s", jerr.text);
    cr_expect_eq(connect__json_at(doc, ""), doc, "\"\" is the whole document");
    for (size_t i = 0; i < N(cases); i++) {
        const json_t *v = connect__json_at(doc, cases[i].p);
        char *got = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (cases[i].want)
            cr_expect(got && strcmp(got, cases[i].want) == 0, "%s: got %s, want %s", cases[i].p,
                      got ? got : "(none)", cases[i].want);
        else
            cr_expect_null(v, "%s: got %s", cases[i].p, got);
        free(got);
    }
    cr_expect_null(connect__json_at(doc, "foo"), "not a pointer");
    cr_expect_null(connect__json_at(NULL, "/foo"));
    json_decref(doc);
}

/* The text of the element at p, or NULL when there is none (a static buffer). */
static const char *xml_at(const char *doc, const char *p)
{
    static char out[512];
    struct buf b;
    bool found;
    buf_init(&b, 0);
    found = connect__xml_at(doc, strlen(doc), p, &b);
    snprintf(out, sizeof out, "%s", b.p ? b.p : "");
    buf_free(&b);
    return found ? out : NULL;
}

Test(test_locate, xml_paths)
{
    static const char doc[] =
        "<?xml version=\"1.0\"?>\n<!-- a comment with <tags> -->\n<?pi data?>"
        "<r:response xmlns:r=\"urn:x\"><a>one</a><a>two</a><b note=\"x > y\" q='\"'>"
        "<c>&lt;3 &amp; &quot;&apos; &#65;&#x42; &bogus; &#0;</c><c>second</c><e/>"
        "<d>t<![CDATA[<raw>&amp;]]>u<x>v</x></d></b></r:response>";
    static const struct {
        const char *p;
        const char *want; /* NULL: no such element */
    } cases[] = {
        {"/r:response/a", "one"},    {"/r:response/b/c", "<3 & \"' AB &bogus; &#0;"},
        {"/r:response/b/e", ""},     {"/r:response/b/d", "t<raw>&amp;uv"},
        {"/r:response/b/d/x", "v"},  {"/r:response/b/f", NULL},
        {"/r:response/b/e/x", NULL}, {"/response/a", NULL},
        {"/r:response/a/b", NULL},   {"", "onetwo<3 & \"' AB &bogus; &#0;secondt<raw>&amp;uv"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *got = xml_at(doc, cases[i].p);
        if (cases[i].want)
            cr_expect(got && strcmp(got, cases[i].want) == 0, "%s: got %s, want %s", cases[i].p,
                      got ? got : "(none)", cases[i].want);
        else
            cr_expect_null(got, "%s: got %s", cases[i].p, got);
    }
}

Test(test_locate, xml_that_is_not_read)
{
    static const char *const docs[] = {
        "<!DOCTYPE a [<!ENTITY x \"boom\">]><a><b>&x;</b></a>", /* never read: no entities */
        "<a><b>x</a>",                                          /* ends early */
        "<a><b>unterminated",
        "<a><b attr=\"open>x</b></a>",
        "<a><!-- open comment <b>x</b></a>",
        "<a><![CDATA[x</a>",
        "<a></>",
        "not xml at all",
        "",
    };
    size_t cap = 8 * (CONNECT__XML_DEPTH + 2) + 32, n = 0;
    char *deep = malloc(cap);

    for (size_t i = 0; i < N(docs); i++)
        cr_expect_null(xml_at(docs[i], "/a/b"), "doc %zu", i);
    /*
     * Elements open at once: CONNECT__XML_DEPTH are read, one more is refused rather than
     * followed, even where the element looked for comes after them.
     */
    cr_assert_not_null(deep);
    for (int extra = 0; extra < 2; extra++) {
        n = (size_t)snprintf(deep, cap, "<a>");
        for (int i = 0; i < CONNECT__XML_DEPTH - 1 + extra; i++)
            n += (size_t)snprintf(deep + n, cap - n, "<c>");
        for (int i = 0; i < CONNECT__XML_DEPTH - 1 + extra; i++)
            n += (size_t)snprintf(deep + n, cap - n, "</c>");
        snprintf(deep + n, cap - n, "<b>x</b></a>");
        if (extra)
            cr_expect_null(xml_at(deep, "/a/b"), "%d deep", CONNECT__XML_DEPTH + 1);
        else
            cr_expect_str_eq(xml_at(deep, "/a/b"), "x", "%d deep", CONNECT__XML_DEPTH);
    }
    free(deep);
}
