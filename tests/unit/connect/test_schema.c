/*
 * Tool input schemas: every catalog schema passes the check; every supported keyword has a
 * case that passes and one that fails with its exact message; unsupported keywords and
 * malformed values are refused with the JSON pointer of the place; patterns keep their
 * ECMA-262 meaning or are refused; hostile depth and sizes are bounded.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/schema.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, jerr.text);
    return v;
}

/* Whether s is valid UTF-8 (what jansson needs to make a JSON string of a message). */
static int utf8_valid(const char *s)
{
    json_t *v = json_string(s);
    int ok = v != NULL;
    json_decref(v);
    return ok;
}

/* One validation: a schema, the arguments (NULL: none), the code and the exact message. */
struct vcase {
    const char *schema;
    const char *args;
    enum md_err want;
    const char *msg; /* exact message when want is not MD_OK; NULL: not compared */
};

static void run_vcases(const struct vcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct vcase *c = &cases[i];
        json_t *schema = parse(c->schema);
        json_t *args = c->args ? parse(c->args) : NULL;
        struct md_error e;
        enum md_err rc;
        md_error_clear(&e);
        rc = connect_schema_validate(schema, args, &e);
        cr_expect_eq(rc, c->want, "case %zu: %s with %s gave %s (%s)", i, c->schema,
                     c->args ? c->args : "(none)", md_err_name(rc), e.msg);
        if (c->want != MD_OK && c->msg)
            cr_expect_str_eq(e.msg, c->msg, "case %zu: %s with %s", i, c->schema,
                             c->args ? c->args : "(none)");
        if (rc != MD_OK) {
            cr_expect(strlen(e.msg) > 0 && strlen(e.msg) < 256, "case %zu: message length", i);
            cr_expect(utf8_valid(e.msg), "case %zu: message not UTF-8", i);
        }
        json_decref(args);
        json_decref(schema);
    }
}

/* One check: a schema and the exact message (NULL: it passes). */
struct ccase {
    const char *schema;
    const char *msg;
};

static void run_ccases(const struct ccase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *schema = parse(cases[i].schema);
        struct md_error e;
        enum md_err rc;
        md_error_clear(&e);
        rc = connect_schema_check(schema, &e);
        if (!cases[i].msg) {
            cr_expect_eq(rc, MD_OK, "case %zu: %s refused: %s", i, cases[i].schema, e.msg);
        } else {
            cr_expect_eq(rc, MD_ERR_VALUE, "case %zu: %s accepted", i, cases[i].schema);
            cr_expect_str_eq(e.msg, cases[i].msg, "case %zu: %s", i, cases[i].schema);
        }
        json_decref(schema);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(test_connect_schema, every_catalog_schema_passes_the_check)
{
    DIR *d = opendir("catalog/connectors");
    struct dirent *de;
    size_t tools = 0;
    cr_assert_not_null(d, "run from the repository root");
    while ((de = readdir(d)) != NULL) {
        char path[512];
        json_error_t jerr;
        json_t *doc, *t;
        size_t i;
        if (!strstr(de->d_name, ".json"))
            continue;
        snprintf(path, sizeof path, "catalog/connectors/%s", de->d_name);
        doc = json_load_file(path, 0, &jerr);
        cr_assert_not_null(doc, "%s: %s", path, jerr.text);
        json_array_foreach(json_object_get(doc, "tools"), i, t)
        {
            struct md_error e;
            json_t *schema = json_object_get(t, "input_schema");
            md_error_clear(&e);
            cr_expect_eq(connect_schema_check(schema, &e), MD_OK, "%s %s: %s", path,
                         json_string_value(json_object_get(t, "name")), e.msg);
            tools++;
        }
        json_decref(doc);
    }
    closedir(d);
    cr_expect_geq(tools, 30, "only %zu catalog tools found", tools);
}

/* Arguments for a few real catalog tools, as an agent would send them. */
Test(test_connect_schema, catalog_tools_accept_good_and_refuse_bad_arguments)
{
    static const struct {
        const char *file, *tool, *args;
        enum md_err want;
        const char *msg;
    } cases[] = {
        {"github", "list_pull_requests",
         "{\"owner\":\"octocat\",\"repo\":\"hello\",\"per_page\":50}", MD_OK, NULL},
        {"github", "list_pull_requests", "{\"owner\":\"octocat\"}", MD_ERR_VALUE, "repo: required"},
        {"github", "list_pull_requests", "{\"owner\":\"o\",\"repo\":\"r\",\"per_page\":101}",
         MD_ERR_VALUE, "per_page: must be at most 100"},
        {"github", "list_pull_requests", "{\"owner\":\"o\",\"repo\":\"r\",\"colour\":\"red\"}",
         MD_ERR_VALUE, "colour: unknown argument (additionalProperties is false)"},
        {"github", "list_pull_requests", "{\"owner\":\"o\",\"repo\":\"r\",\"state\":\"merged\"}",
         MD_ERR_VALUE, "state: must be one of \"open\", \"closed\", \"all\""},
        {"datadog", "search_logs", "{\"page\":{\"limit\":0}}", MD_ERR_VALUE,
         "page.limit: must be at least 1"},
        {"datadog", "search_logs", "{\"filter\":{\"indexes\":[\"main\",7]}}", MD_ERR_VALUE,
         "filter.indexes[1]: must be a string, not an integer"},
        {"datadog", "search_logs", "{\"filter\":{\"idx\":[]}}", MD_ERR_VALUE,
         "filter.idx: unknown property (additionalProperties is false)"},
        {"salesforce", "update_opportunity", "{\"id\":\"006000000000001AAA\"}", MD_ERR_VALUE,
         "arguments: must have at least 2 properties"},
        {"stripe", "create_refund", "{\"amount\":100,\"metadata\":{\"k\":1}}", MD_ERR_VALUE,
         "metadata.k: must be a string, not an integer"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char path[256];
        json_t *doc, *t, *schema = NULL, *args = parse(cases[i].args);
        struct md_error e;
        enum md_err rc;
        size_t k;
        snprintf(path, sizeof path, "catalog/connectors/%s.json", cases[i].file);
        doc = json_load_file(path, 0, NULL);
        cr_assert_not_null(doc, "%s", path);
        json_array_foreach(json_object_get(doc, "tools"), k, t)
        {
            if (strcmp(json_string_value(json_object_get(t, "name")), cases[i].tool) == 0)
                schema = json_object_get(t, "input_schema");
        }
        cr_assert_not_null(schema, "no tool %s in %s", cases[i].tool, path);
        md_error_clear(&e);
        rc = connect_schema_validate(schema, args, &e);
        cr_expect_eq(rc, cases[i].want, "case %zu: %s", i, e.msg);
        if (cases[i].msg)
            cr_expect_str_eq(e.msg, cases[i].msg, "case %zu", i);
        json_decref(args);
        json_decref(doc);
    }
}

Test(test_connect_schema, type)
{
    static const struct vcase cases[] = {
        {"{\"type\":\"object\"}", "{}", MD_OK, NULL},
        {"{\"type\":\"object\"}", "[]", MD_ERR_VALUE, "arguments: must be an object, not an array"},
        {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":3}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":3.0}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":1e300}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":3.5}", MD_ERR_VALUE,
         "a: must be an integer, not a number"},
        {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":\"3\"}", MD_ERR_VALUE,
         "a: must be an integer, not a string"},
        {"{\"properties\":{\"a\":{\"type\":\"number\"}}}", "{\"a\":3}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":\"number\"}}}", "{\"a\":true}", MD_ERR_VALUE,
         "a: must be a number, not a boolean"},
        {"{\"properties\":{\"a\":{\"type\":\"boolean\"}}}", "{\"a\":false}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":\"boolean\"}}}", "{\"a\":0}", MD_ERR_VALUE,
         "a: must be a boolean, not an integer"},
        {"{\"properties\":{\"a\":{\"type\":\"null\"}}}", "{\"a\":null}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":\"null\"}}}", "{\"a\":{}}", MD_ERR_VALUE,
         "a: must be null, not an object"},
        {"{\"properties\":{\"a\":{\"type\":\"array\"}}}", "{\"a\":[1]}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":null}", MD_ERR_VALUE,
         "a: must be a string, not null"},
        {"{\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]}}}", "{\"a\":null}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"type\":[\"string\",\"integer\",\"null\"]}}}", "{\"a\":1.5}",
         MD_ERR_VALUE, "a: must be a string, an integer or null, not a number"},
    };
    run_vcases(cases, N(cases));
}

Test(test_connect_schema, const_and_enum)
{
    static const struct vcase cases[] = {
        {"{\"properties\":{\"t\":{\"const\":\"doc\"}}}", "{\"t\":\"doc\"}", MD_OK, NULL},
        {"{\"properties\":{\"t\":{\"const\":\"doc\"}}}", "{\"t\":\"Doc\"}", MD_ERR_VALUE,
         "t: must be \"doc\""},
        {"{\"properties\":{\"v\":{\"const\":1}}}", "{\"v\":1.0}", MD_OK, NULL},
        {"{\"properties\":{\"v\":{\"const\":false}}}", "{\"v\":0}", MD_ERR_VALUE,
         "v: must be false"},
        {"{\"properties\":{\"v\":{\"const\":{\"a\":1,\"b\":[1,2]}}}}",
         "{\"v\":{\"b\":[1,2.0],\"a\":1}}", MD_OK, NULL},
        {"{\"properties\":{\"v\":{\"const\":{\"a\":1,\"b\":[1,2]}}}}",
         "{\"v\":{\"b\":[2,1],\"a\":1}}", MD_ERR_VALUE, "v: must be {\"a\":1,\"b\":[1,2]}"},
        {"{\"properties\":{\"s\":{\"enum\":[\"a\",2,null]}}}", "{\"s\":2.0}", MD_OK, NULL},
        {"{\"properties\":{\"s\":{\"enum\":[\"a\",2,null]}}}", "{\"s\":\"b\"}", MD_ERR_VALUE,
         "s: must be one of \"a\", 2, null"},
        {"{\"properties\":{\"s\":{\"enum\":[\"only\"]}}}", "{\"s\":\"b\"}", MD_ERR_VALUE,
         "s: must be \"only\""},
    };
    run_vcases(cases, N(cases));
}

Test(test_connect_schema, numbers)
{
    static const struct vcase cases[] = {
        {"{\"properties\":{\"n\":{\"minimum\":1}}}", "{\"n\":1}", MD_OK, NULL},
        {"{\"properties\":{\"n\":{\"minimum\":1}}}", "{\"n\":0.5}", MD_ERR_VALUE,
         "n: must be at least 1"},
        {"{\"properties\":{\"amount\":{\"maximum\":50000}}}", "{\"amount\":50000}", MD_OK, NULL},
        {"{\"properties\":{\"amount\":{\"maximum\":50000}}}", "{\"amount\":50001}", MD_ERR_VALUE,
         "amount: must be at most 50000"},
        {"{\"properties\":{\"n\":{\"exclusiveMinimum\":0}}}", "{\"n\":0.001}", MD_OK, NULL},
        {"{\"properties\":{\"n\":{\"exclusiveMinimum\":0}}}", "{\"n\":0}", MD_ERR_VALUE,
         "n: must be greater than 0"},
        {"{\"properties\":{\"n\":{\"exclusiveMaximum\":1.5}}}", "{\"n\":1}", MD_OK, NULL},
        {"{\"properties\":{\"n\":{\"exclusiveMaximum\":1.5}}}", "{\"n\":1.5}", MD_ERR_VALUE,
         "n: must be less than 1.5"},
        /* Exact comparison of an integer with a real beyond 2^53. */
        {"{\"properties\":{\"n\":{\"maximum\":9007199254740992.0}}}", "{\"n\":9007199254740993}",
         MD_ERR_VALUE, "n: must be at most 9007199254740992"},
        {"{\"properties\":{\"n\":{\"maximum\":9007199254740992}}}", "{\"n\":9007199254740992}",
         MD_OK, NULL},
        {"{\"properties\":{\"p\":{\"multipleOf\":0.01}}}", "{\"p\":19.99}", MD_OK, NULL},
        {"{\"properties\":{\"p\":{\"multipleOf\":0.01}}}", "{\"p\":19.999}", MD_ERR_VALUE,
         "p: must be a multiple of 0.01"},
        {"{\"properties\":{\"p\":{\"multipleOf\":5}}}", "{\"p\":-15}", MD_OK, NULL},
        {"{\"properties\":{\"p\":{\"multipleOf\":5}}}", "{\"p\":7}", MD_ERR_VALUE,
         "p: must be a multiple of 5"},
        {"{\"properties\":{\"p\":{\"multipleOf\":1e-300}}}", "{\"p\":1e300}", MD_ERR_VALUE,
         "p: must be a multiple of 1e-300"},
        /* Numeric keywords do not apply to other types. */
        {"{\"properties\":{\"n\":{\"minimum\":10}}}", "{\"n\":\"5\"}", MD_OK, NULL},
    };
    run_vcases(cases, N(cases));
}

Test(test_connect_schema, strings_count_code_points)
{
    static const struct vcase cases[] = {
        {"{\"properties\":{\"s\":{\"maxLength\":3}}}", "{\"s\":\"\\u00e9\\u00e9\\u00e9\"}", MD_OK,
         NULL},
        {"{\"properties\":{\"s\":{\"maxLength\":3}}}", "{\"s\":\"\\ud83d\\ude00abc\"}",
         MD_ERR_VALUE, "s: must be at most 3 characters long"},
        {"{\"properties\":{\"s\":{\"minLength\":1}}}", "{\"s\":\"\"}", MD_ERR_VALUE,
         "s: must be at least 1 character long"},
        {"{\"properties\":{\"s\":{\"minLength\":2}}}", "{\"s\":\"\\u20ac\"}", MD_ERR_VALUE,
         "s: must be at least 2 characters long"},
        {"{\"properties\":{\"s\":{\"minLength\":2}}}", "{\"s\":\"ab\"}", MD_OK, NULL},
        {"{\"properties\":{\"s\":{\"format\":\"email\"}}}", "{\"s\":\"not an email\"}", MD_OK,
         NULL},
    };
    run_vcases(cases, N(cases));
}

/* One pattern against strings: 1 must match, 0 must not. */
static void expect_pattern(const char *pattern, const char *subject, int match)
{
    json_t *schema = json_pack("{s:{s:{s:s}}}", "properties", "s", "pattern", pattern);
    json_t *args = json_pack("{s:s}", "s", subject);
    struct md_error e;
    enum md_err rc;
    cr_assert_not_null(schema);
    cr_assert_not_null(args);
    md_error_clear(&e);
    rc = connect_schema_validate(schema, args, &e);
    cr_expect_eq(rc, match ? MD_OK : MD_ERR_VALUE, "/%s/ on \"%s\": %s %s", pattern, subject,
                 md_err_name(rc), e.msg);
    json_decref(args);
    json_decref(schema);
}

Test(test_connect_schema, pattern_keeps_ecma_meaning)
{
    const char *sf = "^006[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$";
    expect_pattern(sf, "006000000000001", 1);
    expect_pattern(sf, "006000000000001AAA", 1);
    expect_pattern(sf, "006000000000001AA", 0);
    expect_pattern(sf, "001000000000001", 0);
    /* Unanchored search, and anchors only at the ends (no multiline). */
    expect_pattern("b", "abc", 1);
    expect_pattern("^[a-z]+$", "abc\nrm", 0);
    expect_pattern("^[a-z]+$", "abc", 1);
    /* \d is a digit, never the letter d. */
    expect_pattern("^\\d{4}-\\d{2}-\\d{2}$", "2024-01-31", 1);
    expect_pattern("^\\d+$", "ddd", 0);
    expect_pattern("^\\D+$", "ab", 1);
    expect_pattern("^\\D+$", "a1", 0);
    expect_pattern("^\\w+$", "ab_9", 1);
    expect_pattern("^\\w+$", "a-b", 0);
    expect_pattern("^\\W$", "\xc3\xa9", 1);
    expect_pattern("^a\\sb$", "a\tb", 1);
    expect_pattern("^\\S+$", "a b", 0);
    /* Classes: escapes and metacharacters inside [...] as ECMA-262 reads them. */
    expect_pattern("^[\\d.-]+$", "1.2-3", 1);
    expect_pattern("^[\\d.-]+$", "1,2", 0);
    expect_pattern("^[a\\]]+$", "a]a", 1);
    expect_pattern("^[a\\]]+$", "\\", 0);
    expect_pattern("^[\\\\]$", "\\", 1);
    expect_pattern("^[\\^x]$", "^", 1);
    expect_pattern("^[-a]$", "-", 1);
    expect_pattern("^[a-]$", "-", 1);
    expect_pattern("^[!-\\]]$", "^", 0);
    expect_pattern("^[!-\\]]$", "A", 1);
    expect_pattern("^[^a]$", "\xc3\xa9", 1);
    expect_pattern("^[^a]$", "a", 0);
    /* '.' is one code point and not a line terminator. */
    expect_pattern("^.$", "\xc3\xa9", 1);
    expect_pattern("^.$", "\xf0\x9f\x98\x80", 1);
    expect_pattern("^..$", "\xc3\xa9", 0);
    expect_pattern("^.$", "\n", 0);
    expect_pattern("^\xc3\xa9+$", "\xc3\xa9\xc3\xa9", 1);
    /* Groups, alternation, quantifiers. */
    expect_pattern("^(?:ab)+$", "abab", 1);
    expect_pattern("^(?<year>\\d{4})$", "2024", 1);
    expect_pattern("^(cat|dog)s?$", "dogs", 1);
    expect_pattern("^(cat|dog)s?$", "cow", 0);
    expect_pattern("^a+?$", "aaa", 1);
    expect_pattern("^a{2,3}$", "aaaa", 0);
    expect_pattern("^a{2,}$", "aaaa", 1);
    expect_pattern("^a{,2}$", "a{,2}", 1); /* not a quantifier: literal, as ECMA-262 reads it */
    expect_pattern("^x{1}}$", "x}", 1);
    expect_pattern("^\\.\\*\\/$", ".*/", 1);
    expect_pattern("^\\x41\\u0042$", "AB", 1);
    expect_pattern("\\bfoo\\b", "a foo b", 1);
    expect_pattern("\\bfoo\\b", "afoo", 0);
    expect_pattern("", "anything", 1);
    expect_pattern("^a\\tb\\n$", "a\tb\n", 1);
    expect_pattern("^[\\b]$", "\b", 1);
    expect_pattern("^[\\x41-\\x43]+$", "ABC", 1);
    expect_pattern("^[\\x41-\\x43]+$", "ABD", 0);
    expect_pattern("^\\u00411$", "A1", 1);
    expect_pattern("^(a|)$", "", 1);
}

Test(test_connect_schema, pattern_refusals_at_check)
{
    static const struct ccase cases[] = {
        {"{\"pattern\":\"(?=a)\"}",
         "/pattern: unsupported pattern: lookaround and other (?...) groups are not supported"},
        {"{\"pattern\":\"(a)\\\\1\"}",
         "/pattern: unsupported pattern: back-references and \\0 are not supported"},
        {"{\"pattern\":\"\\\\p{L}\"}", "/pattern: unsupported pattern: unsupported escape \\p"},
        {"{\"pattern\":\"[\\u00e9]\"}",
         "/pattern: unsupported pattern: non-ASCII characters inside [...] are not supported"},
        {"{\"pattern\":\"a{1001}\"}",
         "/pattern: unsupported pattern: repetition bounds over 1000 are not supported"},
        {"{\"pattern\":\"a{3,2}\"}",
         "/pattern: unsupported pattern: repetition bounds out of order"},
        {"{\"pattern\":\"((a{100}){100})\"}",
         "/pattern: unsupported pattern: expands beyond 1000 atoms"},
        {"{\"pattern\":\"(a\"}", "/pattern: unsupported pattern: unterminated group"},
        {"{\"pattern\":\"a)\"}", "/pattern: unsupported pattern: unmatched )"},
        {"{\"pattern\":\"[a\"}", "/pattern: unsupported pattern: unterminated ["},
        {"{\"pattern\":\"*a\"}", "/pattern: unsupported pattern: nothing to repeat before '*'"},
        {"{\"pattern\":\"a**\"}", "/pattern: unsupported pattern: nothing to repeat before '*'"},
        {"{\"pattern\":\"a\\\\\"}", "/pattern: unsupported pattern: ends with a backslash"},
        {"{\"pattern\":\"[z-a]\"}", "/pattern: unsupported pattern: range out of order in [...]"},
        {"{\"pattern\":\"a\\u0000\"}", "/pattern: unsupported pattern: holds U+0000"},
        {"{\"pattern\":7}", "/pattern: must be a string"},
        {"{\"pattern\":\"\\\\x4\"}", "/pattern: unsupported pattern: malformed \\x escape"},
        {"{\"pattern\":\"\\\\xe9\"}",
         "/pattern: unsupported pattern: \\x escapes must be ASCII characters other than U+0000"},
        {"{\"pattern\":\"\\\\\u00e9\"}",
         "/pattern: unsupported pattern: escaped non-ASCII characters are not supported"},
        {"{\"pattern\":\"[\\\\D]\"}",
         "/pattern: unsupported pattern: \\D inside [...] is not supported"},
        {"{\"pattern\":\"[a-\\\\d]\"}",
         "/pattern: unsupported pattern: a range cannot end in a class escape"},
        {"{\"pattern\":\"[]\"}",
         "/pattern: unsupported pattern: empty classes [] and [^] are not supported"},
        {"{\"pattern\":\"(?<n-x>a)\"}", "/pattern: unsupported pattern: malformed group name"},
        {"{\"pattern\":\"(?<n\"}", "/pattern: unsupported pattern: unterminated group name"},
        {"{\"pattern\":\"((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))\"}",
         "/pattern: unsupported pattern: groups nested deeper than 32"},
        {"{\"pattern\":\"^\\\\b*\"}",
         "/pattern: unsupported pattern: nothing to repeat before '*'"},
        {"{\"pattern\":\"^[a-z]{1,10}(\\\\.[a-z]+)*$\"}", NULL},
    };
    run_ccases(cases, N(cases));
}

Test(test_connect_schema, pattern_length_and_subjects_bounded)
{
    char pat[300], msg[64];
    json_t *schema, *args;
    struct md_error e;
    char *big;
    memset(pat, 'a', 257);
    pat[257] = '\0';
    schema = json_pack("{s:s}", "pattern", pat);
    cr_expect_eq(connect_schema_check(schema, &e), MD_ERR_VALUE);
    cr_expect_str_eq(e.msg, "/pattern: unsupported pattern: longer than 256 bytes");
    json_decref(schema);

    /* A NUL inside the subject would end regexec's view of it: refused, not matched. */
    schema = parse("{\"properties\":{\"s\":{\"pattern\":\"^[a-z]+$\"}}}");
    args = parse("{\"s\":\"abc\\u0000../../x\"}");
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_ERR_VALUE);
    cr_expect_str_eq(e.msg, "s: must match the pattern ^[a-z]+$ (a string holding U+0000 never "
                            "matches)");
    json_decref(args);

    big = malloc(70000);
    cr_assert_not_null(big);
    memset(big, 'a', 69999);
    big[69999] = '\0';
    args = json_pack("{s:s}", "s", big);
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_ERR_VALUE);
    snprintf(msg, sizeof msg, "s: must match the pattern ^[a-z]+$ (strings");
    cr_expect(strncmp(e.msg, msg, strlen(msg)) == 0, "%s", e.msg);
    json_decref(args);
    free(big);
    json_decref(schema);
}

Test(test_connect_schema, arrays)
{
    static const struct vcase cases[] = {
        {"{\"properties\":{\"a\":{\"minItems\":1}}}", "{\"a\":[]}", MD_ERR_VALUE,
         "a: must have at least 1 item"},
        {"{\"properties\":{\"a\":{\"minItems\":1}}}", "{\"a\":[0]}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"maxItems\":2}}}", "{\"a\":[1,2,3]}", MD_ERR_VALUE,
         "a: must have at most 2 items"},
        {"{\"properties\":{\"a\":{\"items\":{\"type\":\"string\"}}}}", "{\"a\":[\"x\",\"y\"]}",
         MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"items\":{\"type\":\"string\"}}}}", "{\"a\":[\"x\",{}]}",
         MD_ERR_VALUE, "a[1]: must be a string, not an object"},
        {"{\"properties\":{\"a\":{\"items\":{\"properties\":{\"p\":{\"type\":\"string\"}},"
         "\"required\":[\"p\"]}}}}",
         "{\"a\":[{\"p\":\"x\"},{\"q\":1}]}", MD_ERR_VALUE, "a[1].p: required"},
        {"{\"properties\":{\"a\":{\"uniqueItems\":true}}}", "{\"a\":[1,\"1\",[1],{\"1\":1}]}",
         MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"uniqueItems\":true}}}", "{\"a\":[1,2,3,1.0]}", MD_ERR_VALUE,
         "a: must have unique items ([0] equals [3])"},
        {"{\"properties\":{\"a\":{\"uniqueItems\":true}}}",
         "{\"a\":[{\"x\":1,\"y\":2},{\"y\":2,\"x\":1}]}", MD_ERR_VALUE,
         "a: must have unique items ([0] equals [1])"},
        {"{\"properties\":{\"a\":{\"uniqueItems\":false}}}", "{\"a\":[1,1]}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"uniqueItems\":true}}}",
         "{\"a\":[true,false,null,1.5,0,\"\",[],{}]}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"uniqueItems\":true}}}", "{\"a\":[true,false,null,1.5,null]}",
         MD_ERR_VALUE, "a: must have unique items ([2] equals [4])"},
        {"{\"properties\":{\"a\":{\"uniqueItems\":true}}}", "{\"a\":[0.5,1.5,2.5,1.5]}",
         MD_ERR_VALUE, "a: must have unique items ([1] equals [3])"},
        {"{\"properties\":{\"a\":{\"items\":false}}}", "{\"a\":[]}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{\"items\":false}}}", "{\"a\":[1]}", MD_ERR_VALUE,
         "a[0]: not allowed (the schema is false)"},
    };
    run_vcases(cases, N(cases));
}

Test(test_connect_schema, unique_items_scales)
{
    json_t *schema = parse("{\"properties\":{\"a\":{\"uniqueItems\":true}}}");
    json_t *arr = json_array(), *args;
    struct md_error e;
    for (int i = 0; i < 50000; i++)
        json_array_append_new(arr, json_integer(i));
    args = json_pack("{s:o}", "a", arr);
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_OK, "%s", e.msg);
    json_array_append_new(arr, json_real(49999.0));
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_ERR_VALUE);
    cr_expect_str_eq(e.msg, "a: must have unique items ([49999] equals [50000])");
    json_decref(args);
    json_decref(schema);
}

Test(test_connect_schema, objects)
{
    static const struct vcase cases[] = {
        {"{\"required\":[\"owner\"]}", NULL, MD_ERR_VALUE, "owner: required"},
        {"{\"required\":[\"owner\"]}", "{\"owner\":null}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "{\"a\":1}", MD_OK, NULL},
        {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "{\"a\":1,\"colour\":2}",
         MD_ERR_VALUE, "colour: unknown argument (additionalProperties is false)"},
        {"{\"additionalProperties\":{\"type\":\"string\"}}", "{\"k\":\"v\"}", MD_OK, NULL},
        {"{\"additionalProperties\":{\"type\":\"string\"}}", "{\"k\":\"v\",\"n\":1}", MD_ERR_VALUE,
         "n: must be a string, not an integer"},
        {"{\"minProperties\":1}", "{}", MD_ERR_VALUE, "arguments: must have at least 1 property"},
        {"{\"maxProperties\":1}", "{\"a\":1,\"b\":2}", MD_ERR_VALUE,
         "arguments: must have at most 1 property"},
        {"{\"properties\":{\"m\":{\"maxProperties\":2}}}", "{\"m\":{\"a\":1,\"b\":2,\"c\":3}}",
         MD_ERR_VALUE, "m: must have at most 2 properties"},
        {"{\"properties\":{\"x\":false}}", "{\"x\":1}", MD_ERR_VALUE,
         "x: not allowed (the schema is false)"},
        {"{\"properties\":{\"x\":true}}", "{\"x\":1}", MD_OK, NULL},
        /* Failures come in the order of the arguments. */
        {"{\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}}}",
         "{\"b\":1,\"a\":2}", MD_ERR_VALUE, "b: must be a string, not an integer"},
        {"true", "{\"anything\":[1]}", MD_OK, NULL},
        {"false", "{}", MD_ERR_VALUE, "arguments: not allowed (the schema is false)"},
    };
    run_vcases(cases, N(cases));
}

Test(test_connect_schema, combinators)
{
    static const struct vcase cases[] = {
        {"{\"properties\":{\"n\":{\"allOf\":[{\"minimum\":1},{\"maximum\":5}]}}}", "{\"n\":3}",
         MD_OK, NULL},
        {"{\"properties\":{\"n\":{\"allOf\":[{\"minimum\":1},{\"maximum\":5}]}}}", "{\"n\":6}",
         MD_ERR_VALUE, "n: must be at most 5"},
        {"{\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}}",
         "{\"v\":4}", MD_OK, NULL},
        {"{\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}}",
         "{\"v\":true}", MD_ERR_VALUE,
         "v: must match at least one of the 2 schemas of anyOf; the first fails with: v: must be "
         "a string, not a boolean"},
        {"{\"properties\":{\"v\":{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":10}]}}}",
         "{\"v\":3}", MD_OK, NULL},
        {"{\"properties\":{\"v\":{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":10}]}}}",
         "{\"v\":12}", MD_ERR_VALUE,
         "v: must match exactly one of the 2 schemas of oneOf, but matches #1 and #2"},
        {"{\"properties\":{\"v\":{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":10}]}}}",
         "{\"v\":2.5}", MD_ERR_VALUE,
         "v: must match exactly one of the 2 schemas of oneOf; the first fails with: v: must be "
         "an integer, not a number"},
        {"{\"properties\":{\"v\":{\"not\":{\"type\":\"null\"}}}}", "{\"v\":1}", MD_OK, NULL},
        {"{\"properties\":{\"v\":{\"not\":{\"type\":\"null\"}}}}", "{\"v\":null}", MD_ERR_VALUE,
         "v: must not match the schema under \"not\""},
    };
    run_vcases(cases, N(cases));
}

Test(test_connect_schema, check_refuses_unsupported_and_malformed)
{
    static const struct ccase cases[] = {
        {"{\"$ref\":\"#/$defs/x\"}", "/$ref: unsupported keyword"},
        {"{\"properties\":{\"x\":{\"patternProperties\":{}}}}",
         "/properties/x/patternProperties: unsupported keyword"},
        {"{\"properties\":{\"a/b~c\":{\"if\":{}}}}", "/properties/a~1b~0c/if: unsupported keyword"},
        {"{\"properties\":{\"amount\":{\"minimum\":\"1\"}}}",
         "/properties/amount/minimum: must be a number"},
        {"{\"exclusiveMinimum\":true}", "/exclusiveMinimum: must be a number"},
        {"{\"multipleOf\":0}", "/multipleOf: must be a number greater than 0"},
        {"{\"maxLength\":-1}", "/maxLength: must be a non-negative integer"},
        {"{\"minItems\":1.5}", "/minItems: must be a non-negative integer"},
        {"{\"minItems\":2.0}", NULL},
        {"{\"type\":\"int\"}", "/type: unknown type \"int\""},
        {"{\"type\":[]}", "/type: must be a type name or a non-empty array of type names"},
        {"{\"type\":[\"string\",\"string\"]}", "/type: must not name a type twice"},
        {"{\"required\":\"a\"}", "/required: must be an array of property names"},
        {"{\"required\":[\"a\",\"a\"]}", "/required: must not name a property twice"},
        {"{\"enum\":[]}", "/enum: must be a non-empty array"},
        {"{\"items\":[{}]}",
         "/items: must be a schema (the array form is prefixItems, not supported)"},
        {"{\"items\":3}", "/items: must be a schema (an object or a boolean)"},
        {"{\"additionalProperties\":\"no\"}",
         "/additionalProperties: must be a schema (an object or a boolean)"},
        {"{\"anyOf\":[]}", "/anyOf: must be a non-empty array of schemas"},
        {"{\"oneOf\":[{},{\"foo\":1}]}", "/oneOf/1/foo: unsupported keyword"},
        {"{\"properties\":[]}", "/properties: must be an object of schemas"},
        {"{\"uniqueItems\":1}", "/uniqueItems: must be a boolean"},
        {"{\"description\":7}", "/description: must be a string"},
        {"{\"examples\":{}}", "/examples: must be an array"},
        {"{\"$schema\":\"http://json-schema.org/draft-07/schema#\"}",
         "/$schema: only JSON Schema 2020-12 (\"https://json-schema.org/draft/2020-12/schema\") "
         "is supported"},
        {"7", "(root): must be a schema (an object or a boolean)"},
        {"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"x\","
         "\"$comment\":\"c\",\"title\":\"t\",\"description\":\"d\",\"default\":{},"
         "\"examples\":[1],\"deprecated\":false,\"readOnly\":true,\"writeOnly\":false,"
         "\"contentMediaType\":\"text/plain\",\"format\":\"date\",\"const\":null}",
         NULL},
        {"true", NULL},
    };
    run_ccases(cases, N(cases));
}

/* {"properties":{"a":{"properties":{"a": ... }}}} with depth subschemas. */
static json_t *nested_schema(int depth)
{
    json_t *s = json_object();
    for (int i = 1; i < depth; i++)
        s = json_pack("{s:{s:o}}", "properties", "a", s);
    return s;
}

/* {"a":{"a":{...}}} with depth objects. */
static json_t *nested_args(int depth)
{
    json_t *v = json_object();
    for (int i = 1; i < depth; i++)
        v = json_pack("{s:o}", "a", v);
    return v;
}

Test(test_connect_schema, depth_limits)
{
    json_t *s32 = nested_schema(32), *s33 = nested_schema(33);
    json_t *a32 = nested_args(32), *a33 = nested_args(33), *deep_const;
    struct md_error e;
    cr_expect_eq(connect_schema_check(s32, &e), MD_OK, "%s", e.msg);
    cr_expect_eq(connect_schema_check(s33, &e), MD_ERR_VALUE);
    cr_expect(strstr(e.msg, "schemas nested deeper than 32 levels") != NULL, "%s", e.msg);
    cr_expect_eq(connect_schema_validate(s33, a32, &e), MD_ERR_INTERNAL);
    cr_expect(strncmp(e.msg, "the tool's input_schema is invalid: ", 36) == 0, "%s", e.msg);

    cr_expect_eq(connect_schema_validate(json_true(), a32, &e), MD_OK, "%s", e.msg);
    cr_expect_eq(connect_schema_validate(json_true(), a33, &e), MD_ERR_VALUE);
    cr_expect_str_eq(e.msg, "arguments: nested deeper than 32 levels");
    cr_expect_eq(connect_schema_validate(s32, a32, &e), MD_OK, "%s", e.msg);

    deep_const = json_pack("{s:O}", "const", a33);
    cr_expect_eq(connect_schema_check(deep_const, &e), MD_ERR_VALUE);
    cr_expect_str_eq(e.msg, "/const: nested deeper than 32 levels");
    json_decref(deep_const);
    json_decref(s32);
    json_decref(s33);
    json_decref(a32);
    json_decref(a33);
}

Test(test_connect_schema, messages_stay_short_and_utf8)
{
    char key[600];
    json_t *schema, *args;
    struct md_error e;
    /* A long property name of multibyte characters, cut inside the message. */
    for (size_t i = 0; i + 2 < sizeof key; i += 2) {
        key[i] = (char)0xc3;
        key[i + 1] = (char)0xa9;
        key[i + 2] = '\0';
    }
    schema = parse("{\"additionalProperties\":false}");
    args = json_pack("{s:i}", key, 1);
    cr_assert_not_null(args);
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_ERR_VALUE);
    cr_expect(strlen(e.msg) < 256);
    cr_expect(utf8_valid(e.msg), "not UTF-8: %s", e.msg);
    cr_expect(strstr(e.msg, "unknown argument (additionalProperties is false)") != NULL, "%s",
              e.msg);
    json_decref(args);
    json_decref(schema);

    /* An enum too long to show whole. */
    schema =
        parse("{\"properties\":{\"s\":{\"enum\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
              "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"cccccccccccccccccccccccccccccc\","
              "\"dddddddddddddddddddddddddddddddd\",\"\\u00e9\\u00e9\\u00e9\\u00e9\"]}}}");
    args = parse("{\"s\":\"x\"}");
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_ERR_VALUE);
    cr_expect(strncmp(e.msg, "s: must be one of \"aaaa", 23) == 0, "%s", e.msg);
    cr_expect(utf8_valid(e.msg), "not UTF-8: %s", e.msg);
    json_decref(args);
    json_decref(schema);
}

Test(test_connect_schema, null_arguments_and_invalid_schema)
{
    json_t *schema = parse("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}");
    json_t *bad = parse("{\"type\":\"object\",\"$ref\":\"#\"}");
    struct md_error e;
    cr_expect_eq(connect_schema_validate(schema, NULL, &e), MD_OK);
    cr_expect_eq(connect_schema_validate(bad, NULL, &e), MD_ERR_INTERNAL);
    cr_expect_str_eq(e.msg, "the tool's input_schema is invalid: /$ref: unsupported keyword");
    cr_expect_eq(connect_schema_validate(NULL, NULL, &e), MD_ERR_INTERNAL);
    cr_expect_eq(connect_schema_check(NULL, &e), MD_ERR_VALUE);
    json_decref(bad);
    json_decref(schema);
}

Test(test_connect_schema, work_is_bounded)
{
    /* 120,000 items against an anyOf of 40 branches: past the step budget, refused. */
    json_t *branches = json_array(), *schema, *arr = json_array(), *args;
    struct md_error e;
    for (int i = 0; i < 40; i++)
        json_array_append_new(branches, json_pack("{s:s}", "type", "string"));
    json_array_append_new(branches, json_pack("{s:s}", "type", "integer"));
    schema = json_pack("{s:{s:{s:{s:o}}}}", "properties", "a", "items", "anyOf", branches);
    for (int i = 0; i < 120000; i++)
        json_array_append_new(arr, json_integer(i));
    args = json_pack("{s:o}", "a", arr);
    cr_assert_not_null(schema);
    cr_assert_not_null(args);
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_ERR_VALUE);
    cr_expect(strstr(e.msg, "too complex to validate against the tool's schema") != NULL, "%s",
              e.msg);
    /* A tenth of it validates. */
    while (json_array_size(arr) > 12000)
        json_array_remove(arr, json_array_size(arr) - 1);
    cr_expect_eq(connect_schema_validate(schema, args, &e), MD_OK, "%s", e.msg);
    json_decref(args);
    json_decref(schema);
}
