/*
 * Upstream responses as MCP tool results: JSON successes with structured content and the next
 * page from the Link header, other bodies (text, binary, empty), Slack's HTTP 200 errors, and
 * each vendor's documented error shape, each case a response in and the exact result out.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/response.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define JSON_CT "application/json; charset=utf-8"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, jerr.text);
    return v;
}

/* The rules of the current case (a connector's "response" object), or NULL. */
static json_t *rules;

static json_t *run(int status, const char *ct, const char *body, size_t len, const char *link,
                   const char *connector)
{
    struct connect_response_in in = {.status = status,
                                     .content_type = ct,
                                     .body = body,
                                     .body_len = len,
                                     .link = link,
                                     .connector = connector,
                                     .rules = rules};
    json_t *r = connect_response_result(&in);
    cr_assert_not_null(r, "no result for HTTP %d", status);
    return r;
}

static json_t *runs(int status, const char *ct, const char *body, const char *link,
                    const char *connector)
{
    return run(status, ct, body, body ? strlen(body) : 0, link, connector);
}

static const char *text_of(const json_t *r, size_t i)
{
    const json_t *b = json_array_get(json_object_get(r, "content"), i);
    cr_assert_str_eq(json_string_value(json_object_get(b, "type")), "text");
    return json_string_value(json_object_get(b, "text"));
}

static void expect_json(const json_t *got, const char *want_text, const char *what)
{
    json_t *want = parse(want_text);
    char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    cr_expect(json_equal(got, want), "%s: got %s, want %s", what, g ? g : "(none)", want_text);
    free(g);
    json_decref(want);
}

/* One response and the exact text and structuredContent ("" for none) it must give. */
struct rcase {
    int status;
    const char *ct;
    const char *body;
    const char *connector;
    int is_error;
    const char *text;
    const char *sc; /* "": none on success, not compared on error (which always has one) */
};

/* Sets the rules that the next cases run with (JSON text, or NULL for none). */
static void use_rules(const char *text)
{
    json_decref(rules);
    rules = text ? parse(text) : NULL;
    if (rules) {
        struct md_error e;
        md_error_clear(&e);
        cr_assert_eq(connect_response_check(rules, &e), MD_OK, "rules %s: %s", text, e.msg);
    }
}

static void run_rcases(const struct rcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct rcase *c = &cases[i];
        json_t *r = runs(c->status, c->ct, c->body, NULL, c->connector);
        const json_t *sc = json_object_get(r, "structuredContent");
        cr_expect_eq(json_is_true(json_object_get(r, "isError")), c->is_error, "case %zu", i);
        cr_expect(json_is_boolean(json_object_get(r, "isError")), "case %zu", i);
        cr_expect_str_eq(text_of(r, 0), c->text, "case %zu", i);
        if (c->is_error)
            cr_expect_eq(json_integer_value(json_object_get(sc, "status")), c->status,
                         "case %zu: structuredContent.status", i);
        if (c->sc[0])
            expect_json(sc, c->sc, c->text);
        else if (!c->is_error)
            cr_expect_null(sc, "case %zu: unexpected structuredContent", i);
        json_decref(r);
    }
}

Test(test_connect_response, json_successes)
{
    static const struct rcase cases[] = {
        {200, JSON_CT, "{\"id\": 7, \"title\": \"x\"}", "github", 0, "{\"id\":7,\"title\":\"x\"}",
         "{\"id\":7,\"title\":\"x\"}"},
        {200, "application/vnd.github+json", "[1, 2]", "github", 0, "[1,2]", "{\"result\":[1,2]}"},
        {201, "application/problem+json", "{}", "acme", 0, "{}", "{}"},
        {200, JSON_CT, " 42 ", "acme", 0, "42", "{\"result\":42}"},
        {200, JSON_CT, "\"ok\"", "acme", 0, "\"ok\"", "{\"result\":\"ok\"}"},
        {200, JSON_CT, "null", "acme", 0, "null", "{\"result\":null}"},
        /* Without a content type, a body that parses is JSON. */
        {200, NULL, "{\"a\":[true]}", "acme", 0, "{\"a\":[true]}", "{\"a\":[true]}"},
        {200, NULL, "hello", "acme", 0, "hello", ""},
        /* 1,2 is not one JSON value. */
        {200, NULL, "1,2", "acme", 0, "1,2", ""},
        /* A declared text type stays text even when it looks like JSON. */
        {200, "text/plain", "{\"a\":1}", "acme", 0, "{\"a\":1}", ""},
        {200, "text/html", "<p>hi</p>", "acme", 0, "<p>hi</p>", ""},
        /* Malformed JSON under a JSON type: shown as the text it is. */
        {200, JSON_CT, "{\"a\":", "acme", 0, "{\"a\":", ""},
        {204, NULL, NULL, "github", 0, "(no content, HTTP 204)", ""},
        {200, JSON_CT, "", "github", 0, "(no content, HTTP 200)", ""},
        /* Slack: ok:true is a success; ok:false only counts for the slack connector. */
        {200, JSON_CT, "{\"ok\":true,\"channel\":\"C1\"}", "slack", 0,
         "{\"ok\":true,\"channel\":\"C1\"}", "{\"ok\":true,\"channel\":\"C1\"}"},
        {200, JSON_CT, "{\"ok\":false,\"error\":\"x\"}", "acme", 0,
         "{\"ok\":false,\"error\":\"x\"}", "{\"ok\":false,\"error\":\"x\"}"},
    };
    run_rcases(cases, N(cases));
}

Test(test_connect_response, binary_and_nul_bodies)
{
    static const char bin[] = {'\xff', '\xd8', '\x00', '\x10'};
    static const char nul_text[] = {'a', 'b', '\0', 'c'};
    static const char bad_json[] = "{\"a\":\"\xc3\x28\"}";
    json_t *r = run(200, "image/jpeg", bin, sizeof bin, NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(4 bytes of binary content, type image/jpeg)");
    cr_expect_null(json_object_get(r, "structuredContent"));
    json_decref(r);

    r = run(200, "text/plain; charset=utf-8", nul_text, sizeof nul_text, NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(4 bytes of binary content, type text/plain)");
    json_decref(r);

    r = run(200, NULL, bin, sizeof bin, NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(4 bytes of binary content, type unknown)");
    json_decref(r);

    /* jansson refuses invalid UTF-8, so this JSON body is binary. */
    r = run(200, JSON_CT, bad_json, strlen(bad_json), NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(10 bytes of binary content, type application/json)");
    cr_expect_null(json_object_get(r, "structuredContent"));
    json_decref(r);

    /* A content type with control bytes is shown printable. */
    r = run(200, "x/\x01y", bin, sizeof bin, NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(4 bytes of binary content, type x/?y)");
    json_decref(r);

    /* Four-byte characters are text; a UTF-16 surrogate or an overlong form is not. */
    r = runs(200, "text/plain", "\xf0\x9f\x98\x80 ok", NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "\xf0\x9f\x98\x80 ok");
    json_decref(r);
    r = runs(200, "text/plain", "\xed\xa0\x80", NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(3 bytes of binary content, type text/plain)");
    json_decref(r);
    r = runs(200, "text/plain", "\xf0\x80\x80\x80", NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(4 bytes of binary content, type text/plain)");
    json_decref(r);
    r = runs(200, "text/plain", "\xf4\x90\x80\x80", NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "(4 bytes of binary content, type text/plain)");
    json_decref(r);

    /* A NUL inside a JSON string is fine (escaped). */
    r = runs(200, JSON_CT, "{\"a\":\"x\\u0000y\"}", NULL, "acme");
    cr_expect_eq(json_string_length(json_object_get(json_object_get(r, "structuredContent"), "a")),
                 3);
    json_decref(r);
}

Test(test_connect_response, deep_json_body_is_text)
{
    char body[300];
    size_t n = 0;
    json_t *r;
    for (int i = 0; i < 65; i++)
        body[n++] = '[';
    for (int i = 0; i < 65; i++)
        body[n++] = ']';
    body[n] = '\0';
    r = runs(200, JSON_CT, body, NULL, "jira");
    cr_expect_str_eq(text_of(r, 0), body);
    cr_expect_null(json_object_get(r, "structuredContent"));
    json_decref(r);
    body[64] = '\0'; /* 32 + 32: within the depth */
    memset(body, '[', 32);
    memset(body + 32, ']', 32);
    r = runs(200, JSON_CT, body, NULL, "jira");
    cr_expect_not_null(json_object_get(r, "structuredContent"));
    json_decref(r);
}

Test(test_connect_response, vendor_errors)
{
    static const struct rcase cases[] = {
        {422, JSON_CT,
         "{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"Issue\",\"field\":"
         "\"title\",\"code\":\"missing_field\"}],\"documentation_url\":\"https://"
         "docs.github.com\"}",
         "github", 1, "GitHub API error: HTTP 422: Validation Failed (Issue.title: missing_field)",
         "{\"status\":422,\"error\":{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":"
         "\"Issue\",\"field\":\"title\",\"code\":\"missing_field\"}],\"documentation_url\":"
         "\"https://docs.github.com\"}}"},
        {422, JSON_CT,
         "{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"PullRequest\",\"code\":"
         "\"custom\",\"message\":\"A pull request already exists for o:b.\"},\"plain\"]}",
         "github", 1,
         "GitHub API error: HTTP 422: Validation Failed (A pull request already exists for o:b.; "
         "plain)",
         ""},
        {404, "application/json", "{\"message\":\"Not Found\",\"documentation_url\":\"u\"}",
         "github", 1, "GitHub API error: HTTP 404: Not Found", ""},
        {402, JSON_CT,
         "{\"error\":{\"code\":\"card_declined\",\"decline_code\":\"insufficient_funds\","
         "\"message\":\"Your card has insufficient funds.\",\"type\":\"card_error\"}}",
         "stripe", 1,
         "Stripe API error: HTTP 402: Your card has insufficient funds. (card_declined, "
         "insufficient_funds)",
         ""},
        {400, JSON_CT,
         "{\"error\":{\"message\":\"Invalid integer: abc\",\"param\":\"amount\",\"type\":"
         "\"invalid_request_error\"}}",
         "stripe", 1,
         "Stripe API error: HTTP 400: Invalid integer: abc (invalid_request_error, param amount)",
         ""},
        {400, JSON_CT,
         "{\"errorMessages\":[],\"errors\":{\"summary\":\"You must specify a summary of the "
         "issue.\"}}",
         "jira", 1, "Jira API error: HTTP 400: summary: You must specify a summary of the issue.",
         ""},
        {404, JSON_CT,
         "{\"errorMessages\":[\"Issue does not exist or you do not have permission to see it.\"],"
         "\"errors\":{}}",
         "jira", 1,
         "Jira API error: HTTP 404: Issue does not exist or you do not have permission to see it.",
         ""},
        {401, JSON_CT,
         "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]",
         "salesforce", 1,
         "Salesforce API error: HTTP 401: INVALID_SESSION_ID: Session expired or invalid",
         "{\"status\":401,\"error\":[{\"message\":\"Session expired or invalid\",\"errorCode\":"
         "\"INVALID_SESSION_ID\"}]}"},
        {400, JSON_CT,
         "[{\"message\":\"Amount: bad value\",\"errorCode\":\"INVALID_FIELD\",\"fields\":["
         "\"Amount\"]},{\"message\":\"Stage missing\",\"errorCode\":"
         "\"REQUIRED_FIELD_MISSING\"}]",
         "salesforce", 1,
         "Salesforce API error: HTTP 400: INVALID_FIELD: Amount: bad value; "
         "REQUIRED_FIELD_MISSING: Stage missing",
         ""},
        {422, JSON_CT,
         "{\"error\":\"RecordInvalid\",\"description\":\"Record validation errors\",\"details\":{"
         "\"value\":[{\"description\":\"Value: is too short\",\"error\":\"BlankValue\"}]}}",
         "zendesk", 1,
         "Zendesk API error: HTTP 422: RecordInvalid: Record validation errors (value: Value: is "
         "too short)",
         ""},
        {404, JSON_CT, "{\"error\":\"RecordNotFound\",\"description\":\"Not found\"}", "zendesk", 1,
         "Zendesk API error: HTTP 404: RecordNotFound: Not found", ""},
        {403, JSON_CT,
         "{\"error\":{\"title\":\"Forbidden\",\"message\":\"You do not have access to this "
         "page.\"}}",
         "zendesk", 1,
         "Zendesk API error: HTTP 403: Forbidden: You do not have access to this page.", ""},
        {403, JSON_CT, "{\"detail\":\"You do not have permission to perform this action.\"}",
         "sentry", 1,
         "Sentry API error: HTTP 403: You do not have permission to perform this action.", ""},
        {400, JSON_CT, "{\"query\":[\"Invalid query. Unknown field.\"],\"x\":3}", "sentry", 1,
         "Sentry API error: HTTP 400: query: Invalid query. Unknown field.", ""},
        {403, JSON_CT, "{\"errors\":[\"Forbidden\"]}", "datadog", 1,
         "Datadog API error: HTTP 403: Forbidden", ""},
        {400, JSON_CT,
         "{\"errors\":[{\"status\":\"400\",\"title\":\"Bad Request\",\"detail\":\"invalid "
         "query\"},\"also\"]}",
         "datadog", 1, "Datadog API error: HTTP 400: Bad Request: invalid query; also", ""},
        {429, JSON_CT, "{\"ok\":false,\"error\":\"ratelimited\"}", "slack", 1,
         "Slack API error: HTTP 429: ratelimited", ""},
    };
    run_rcases(cases, N(cases));
}

#define SLACK_RULES "{\"error_when\": {\"pointer\": \"/ok\", \"equals\": false}}"

Test(test_connect_response, slack_ok_false_is_an_error)
{
    static const struct rcase cases[] = {
        {200, JSON_CT, "{\"ok\":false,\"error\":\"channel_not_found\"}", "slack", 1,
         "Slack API error: channel_not_found",
         "{\"status\":200,\"error\":{\"ok\":false,\"error\":\"channel_not_found\"}}"},
        {200, JSON_CT,
         "{\"ok\":false,\"error\":\"missing_scope\",\"needed\":\"chat:write\",\"provided\":"
         "\"channels:read\"}",
         "slack", 1, "Slack API error: missing_scope (needed scope: chat:write)", ""},
        {200, JSON_CT,
         "{\"ok\":false,\"error\":\"invalid_arguments\",\"response_metadata\":{\"messages\":["
         "\"[ERROR] missing required field: channel\"]}}",
         "slack", 1, "Slack API error: invalid_arguments ([ERROR] missing required field: channel)",
         ""},
        {200, JSON_CT, "{\"ok\":true,\"channel\":\"C1\"}", "slack", 0,
         "{\"ok\":true,\"channel\":\"C1\"}", "{\"ok\":true,\"channel\":\"C1\"}"},
    };
    /* Slack's rule, as catalog/connectors/slack.json declares it: nothing about Slack is built in.
     */
    use_rules(SLACK_RULES);
    run_rcases(cases, N(cases));
    use_rules(NULL);
    {
        /* Without the rule, ok:false is a success like any other 200. */
        json_t *r =
            runs(200, JSON_CT, "{\"ok\":false,\"error\":\"channel_not_found\"}", NULL, "slack");
        cr_expect(json_is_false(json_object_get(r, "isError")));
        json_decref(r);
    }
}

Test(test_connect_response, generic_and_text_errors)
{
    static const struct rcase cases[] = {
        {400, JSON_CT, "{\"error\":\"invalid_grant\",\"error_description\":\"Token expired\"}",
         "hubspot", 1, "hubspot API error: HTTP 400: invalid_grant: Token expired", ""},
        {404, "application/problem+json", "{\"title\":\"Not Found\",\"detail\":\"No such widget\"}",
         "acme", 1, "acme API error: HTTP 404: Not Found: No such widget", ""},
        {404, "application/problem+json", "{\"title\":\"Not Found\",\"detail\":\"Not Found\"}",
         "acme", 1, "acme API error: HTTP 404: Not Found", ""},
        {500, JSON_CT, "{\"message\":\"boom\"}", "acme", 1, "acme API error: HTTP 500: boom", ""},
        {500, JSON_CT, "{\"error\":{\"message\":\"inner\",\"code\":9}}", "acme", 1,
         "acme API error: HTTP 500: inner", ""},
        /* A vendor connector whose body is in another shape falls back to the generic one. */
        {401, JSON_CT, "{\"error\":\"invalid_token\",\"error_description\":\"expired\"}", "github",
         1, "GitHub API error: HTTP 401: invalid_token: expired", ""},
        {409, JSON_CT, "{\"foo\":\"bar\"}", "acme", 1,
         "acme API error: HTTP 409: {\"foo\":\"bar\"}",
         "{\"status\":409,\"error\":{\"foo\":\"bar\"}}"},
        /* JSON under a text type is still read for an error. */
        {400, "text/plain", " {\"message\":\"m\"}", "acme", 1, "acme API error: HTTP 400: m", ""},
        {429, "text/plain", "Rate limit exceeded\r\n", "zendesk", 1,
         "Zendesk API error: HTTP 429: Rate limit exceeded", "{\"status\":429}"},
        {502, "text/html",
         "<html><head><TITLE>\n 502   Bad\tGateway </title></head><body>x</body></html>", "jira", 1,
         "Jira API error: HTTP 502: 502 Bad Gateway", "{\"status\":502}"},
        {500, "text/html", "<html><body>oops</body></html>", "jira", 1,
         "Jira API error: HTTP 500: Internal Server Error", ""},
        {500, NULL, "<!DOCTYPE html>\n<HTML><head><title>Oops</title>", "acme", 1,
         "acme API error: HTTP 500: Oops", ""},
        {500, "application/xml", "<Error><Message>Bad key</Message></Error>", "acme", 1,
         "acme API error: HTTP 500: <Error><Message>Bad key</Message></Error>", ""},
        {503, NULL, NULL, "stripe", 1, "Stripe API error: HTTP 503: Service Unavailable",
         "{\"status\":503}"},
        {599, NULL, "", "stripe", 1, "Stripe API error: HTTP 599", ""},
        {404, NULL, "", NULL, 1, "Upstream API error: HTTP 404: Not Found", ""},
        {301, NULL, "", "github", 1, "GitHub API error: HTTP 301", ""},
        {404, JSON_CT, "{}", "acme", 1, "acme API error: HTTP 404: Not Found", ""},
        /* Vendor shapes reach other connectors through the generic reading. */
        {400, JSON_CT, "[{\"message\":\"x\",\"errorCode\":\"E\"},\"y\"]", "acme", 1,
         "acme API error: HTTP 400: E: x; y", ""},
        {400, JSON_CT, "{\"errorMessages\":[\"m1\",\"m2\"]}", "acme", 1,
         "acme API error: HTTP 400: m1; m2", ""},
        {400, JSON_CT, "{\"errors\":{\"f\":\"bad\"}}", "acme", 1,
         "acme API error: HTTP 400: f: bad", ""},
        {400, JSON_CT, "{\"errors\":[\"e1\"]}", "acme", 1, "acme API error: HTTP 400: e1", ""},
        {500, JSON_CT, "{\"error\":{\"code\":\"E42\"}}", "acme", 1, "acme API error: HTTP 500: E42",
         ""},
        {400, JSON_CT, "{\"detail\":{\"message\":\"dm\",\"code\":\"c\"}}", "sentry", 1,
         "Sentry API error: HTTP 400: dm", ""},
        {422, JSON_CT,
         "{\"errors\":[{\"resource\":\"Issue\",\"field\":\"title\",\"code\":\"invalid\"}]}",
         "github", 1, "GitHub API error: HTTP 422: Issue.title: invalid", ""},
        {422, JSON_CT,
         "{\"error\":\"RecordInvalid\",\"details\":{\"base\":[\"plain\",{\"x\":1}],\"n\":3}}",
         "zendesk", 1, "Zendesk API error: HTTP 422: RecordInvalid (base: plain)", ""},
        {400, " application/json ; charset=utf-8", "{\"message\":\"spaced\"}", "acme", 1,
         "acme API error: HTTP 400: spaced", ""},
    };
    run_rcases(cases, N(cases));
}

Test(test_connect_response, binary_error_body)
{
    static const char bin[] = {'\xff', '\x00', 'x'};
    json_t *r = run(500, "application/octet-stream", bin, sizeof bin, NULL, "acme");
    cr_expect_str_eq(text_of(r, 0), "acme API error: HTTP 500: Internal Server Error");
    expect_json(json_object_get(r, "structuredContent"), "{\"status\":500}", "binary error");
    json_decref(r);
}

Test(test_connect_response, long_messages_cut_on_utf8_boundary)
{
    size_t n = 3000;
    char *msg = malloc(n * 2 + 1);
    json_t *body, *r;
    char *text;
    const char *t, *colon;
    cr_assert_not_null(msg);
    for (size_t i = 0; i < n; i++)
        memcpy(msg + 2 * i, "\xc3\xa9", 2);
    msg[2 * n] = '\0';
    body = json_pack("{s:s}", "message", msg);
    text = json_dumps(body, JSON_COMPACT);
    r = runs(400, JSON_CT, text, NULL, "github");
    t = text_of(r, 0);
    colon = strstr(t, "HTTP 400: ");
    cr_assert_not_null(colon);
    colon += strlen("HTTP 400: ");
    cr_expect_leq(strlen(colon), CONNECT_ERROR_MESSAGE_MAX);
    cr_expect_geq(strlen(colon), CONNECT_ERROR_MESSAGE_MAX - 4);
    cr_expect(strcmp(colon + strlen(colon) - 3, "\xe2\x80\xa6") == 0, "no ellipsis");
    cr_expect(strncmp(colon, "\xc3\xa9\xc3\xa9", 4) == 0);
    json_decref(r);
    free(text);
    json_decref(body);

    /* A 2xx body is kept whole. */
    body = json_pack("{s:s}", "message", msg);
    text = json_dumps(body, JSON_COMPACT);
    r = runs(200, JSON_CT, text, NULL, "github");
    cr_expect_str_eq(text_of(r, 0), text);
    json_decref(r);
    free(text);
    json_decref(body);
    free(msg);
}

/* The next_page that a Link header gives on a 200 object body; NULL: none. */
static void expect_next(const char *link, const char *want)
{
    json_t *r = runs(200, JSON_CT, "{\"data\":[]}", link, "sentry");
    const json_t *sc = json_object_get(r, "structuredContent");
    const json_t *next = json_object_get(sc, "next_page");
    if (!want) {
        cr_expect_null(next, "Link %s: unexpected next_page", link);
        cr_expect_eq(json_array_size(json_object_get(r, "content")), 1, "Link %s", link);
    } else {
        json_t *w = parse(want), *block = json_pack("{s:O}", "next_page", w);
        json_t *got_block;
        expect_json(next, want, link);
        cr_assert_eq(json_array_size(json_object_get(r, "content")), 2, "Link %s", link);
        got_block = parse(text_of(r, 1));
        cr_expect(json_equal(got_block, block), "second block of %s: %s", link, text_of(r, 1));
        json_decref(got_block);
        json_decref(block);
        json_decref(w);
    }
    cr_expect_str_eq(text_of(r, 0), "{\"data\":[]}");
    json_decref(r);
}

Test(test_connect_response, link_header_next_page)
{
    /* GitHub. */
    expect_next("<https://api.github.com/repositories/1/pulls?page=2&per_page=30>; rel=\"next\", "
                "<https://api.github.com/repositories/1/pulls?page=5&per_page=30>; rel=\"last\"",
                "{\"page\":\"2\",\"per_page\":\"30\"}");
    expect_next(
        "<https://api.github.com/x?page=1>; rel=\"prev\", <https://api.github.com/x?page=3>;"
        " rel=\"next\"",
        "{\"page\":\"3\"}");
    /* Sentry: a next link always, with results="true" only when there is a page. */
    expect_next("<https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:0:1>; "
                "rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", "
                "<https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:100:0>; "
                "rel=\"next\"; results=\"true\"; cursor=\"0:100:0\"",
                "{\"cursor\":\"0:100:0\"}");
    expect_next("<https://sentry.io/api/0/x/?&cursor=0:0:1>; rel=\"previous\"; results=\"false\", "
                "<https://sentry.io/api/0/x/?&cursor=0:100:0>; rel=\"next\"; results=\"false\"",
                NULL);
    /* Tokens, several relation types, case. */
    expect_next("<https://x/?a=1>; rel=next", "{\"a\":\"1\"}");
    expect_next("<https://x/?a=1>;rel=\"prev next\"", "{\"a\":\"1\"}");
    expect_next("<https://x/?a=1> ; REL = \"NEXT\"", "{\"a\":\"1\"}");
    expect_next("<https://x/?a=1>; rel=\"nextpage\"", NULL);
    /* A comma inside a target, a quoted value holding a comma, a quote and "rel=next". */
    expect_next("<https://x/?ids=1,2&p=2>; rel=\"next\"", "{\"ids\":\"1,2\",\"p\":\"2\"}");
    expect_next("<https://x/?a=0>; title=\"a, \\\"b\\\"; rel=next\"; rel=\"prev\", "
                "<https://x/?a=1>; rel=\"next\"",
                "{\"a\":\"1\"}");
    /* Only the first rel of a link counts. */
    expect_next("<https://x/?a=1>; rel=\"prev\"; rel=\"next\"", NULL);
    /* Percent-decoding, '+' as space; undecodable pairs skipped; first of a repeated name. */
    expect_next("<https://api.github.com/search/issues?q=repo%3Afoo+is%3Aopen&after=Y3Vy%2B%3D>; "
                "rel=\"next\"",
                "{\"q\":\"repo:foo is:open\",\"after\":\"Y3Vy+=\"}");
    expect_next("<https://x/?a=%FF&b=2&b=3&c&=4&d=%zz#frag>; rel=\"next\"",
                "{\"b\":\"2\",\"c\":\"\",\"d\":\"%zz\"}");
    /* Nothing usable. */
    expect_next("<https://x/?b=%3a%3A>; rel=\"next\"", "{\"b\":\"::\"}");
    expect_next("<https://x/no-query>; rel=\"next\"", NULL);
    expect_next("<https://x/?=1&&a=%FF>; rel=\"next\"", NULL);
    expect_next("<https://x/?a=1>; rel=\"next\" x", NULL);
    expect_next("<https://x/?a=1>; =x; rel=\"next\"", NULL);
    expect_next("garbage", NULL);
    expect_next("<https://x/?a=1; rel=\"next\"", NULL);
    expect_next("<https://x/?a=1>; rel=\"next", NULL);
    expect_next("", NULL);
}

Test(test_connect_response, next_page_on_arrays_and_existing_key)
{
    json_t *r =
        runs(200, JSON_CT, "[{\"number\":1}]", "<https://x/?page=2>; rel=\"next\"", "github");
    expect_json(json_object_get(r, "structuredContent"),
                "{\"result\":[{\"number\":1}],\"next_page\":{\"page\":\"2\"}}", "array");
    cr_expect_str_eq(text_of(r, 0), "[{\"number\":1}]");
    json_decref(r);

    r = runs(200, JSON_CT, "{\"next_page\":\"abc\"}", "<https://x/?page=2>; rel=\"next\"",
             "stripe");
    expect_json(json_object_get(r, "structuredContent"), "{\"next_page\":\"abc\"}", "kept");
    cr_expect_eq(json_array_size(json_object_get(r, "content")), 1);
    json_decref(r);

    /* Errors carry no next page. */
    r = runs(404, JSON_CT, "{\"message\":\"Not Found\"}", "<https://x/?page=2>; rel=\"next\"",
             "github");
    cr_expect_null(json_object_get(json_object_get(r, "structuredContent"), "next_page"));
    json_decref(r);
}

Test(test_connect_response, result_error)
{
    json_t *r = connect_result_error("amount: must be at most 50000");
    cr_assert_not_null(r);
    expect_json(r,
                "{\"content\":[{\"type\":\"text\",\"text\":\"amount: must be at most 50000\"}],"
                "\"isError\":true}",
                "result_error");
    json_decref(r);
    r = connect_result_error("bad \xff byte");
    cr_assert_not_null(r);
    cr_expect_str_eq(text_of(r, 0), "bad \xef\xbf\xbd byte");
    json_decref(r);
    r = connect_result_error(NULL);
    cr_assert_not_null(r);
    cr_expect_str_eq(text_of(r, 0), "error");
    json_decref(r);
}

Test(test_connect_response, vendor_names)
{
    static const struct {
        const char *connector, *prefix;
    } cases[] = {
        {"github", "GitHub API error"},           {"salesforce", "Salesforce API error"},
        {"datadog", "Datadog API error"},         {"jira", "Jira API error"},
        {"sentry", "Sentry API error"},           {"slack", "Slack API error"},
        {"stripe", "Stripe API error"},           {"zendesk", "Zendesk API error"},
        {"my_crm", "my_crm API error"},           {"", "Upstream API error"},
        {"bad\xff", "bad\xef\xbf\xbd API error"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        json_t *r = runs(500, NULL, "", NULL, cases[i].connector);
        cr_expect(strncmp(text_of(r, 0), cases[i].prefix, strlen(cases[i].prefix)) == 0, "%s: %s",
                  cases[i].connector, text_of(r, 0));
        json_decref(r);
    }
}

/* ---- the connector's response rules (connect_response_check, error_when, error) ---------- */

Test(test_connect_response, rules_are_checked)
{
    static const struct {
        const char *def;
        const char *msg_has; /* NULL: valid */
    } cases[] = {
        {"{}", NULL},
        {"{\"error_when\": {\"pointer\": \"/ok\", \"equals\": false}}", NULL},
        {"{\"error_when\": [{\"pointer\": \"/responseCode\", \"not_equals\": 200}, {\"pointer\": "
         "\"/errors\", \"present\": true, \"message\": [\"/errors/0/message\"]}], \"error\": "
         "{\"message\": \"/m\", \"detail\": [\"/d\", \"\"], \"code\": \"/a~1b/~0c\"}}",
         NULL},
        {"[]", "response must be an object"},
        {"{\"errors\": {}}", "response.errors is not a known field"},
        {"{\"error_when\": {\"equals\": false}}", "response.error_when.pointer is required"},
        {"{\"error_when\": {\"pointer\": \"ok\", \"equals\": false}}", "JSON Pointer"},
        {"{\"error_when\": {\"pointer\": \"/a~2\", \"equals\": false}}", "JSON Pointer"},
        {"{\"error_when\": {\"pointer\": \"/ok\"}}", "exactly one of"},
        {"{\"error_when\": {\"pointer\": \"/ok\", \"equals\": false, \"present\": true}}",
         "exactly one of"},
        {"{\"error_when\": {\"pointer\": \"/ok\", \"equals\": {\"a\": 1}}}",
         "response.error_when.equals must be a string, a number, a boolean or null"},
        {"{\"error_when\": {\"pointer\": \"/ok\", \"present\": false}}",
         "response.error_when.present must be true"},
        {"{\"error_when\": {\"pointer\": \"/ok\", \"equals\": 1, \"when\": 2}}",
         "response.error_when.when is not a known field"},
        {"{\"error_when\": []}", "an array of 1 to 16 rules"},
        {"{\"error_when\": [{\"pointer\": \"/ok\", \"equals\": 1}, 7]}", "response.error_when[1]"},
        {"{\"error\": {}}", "response.error must be an object"},
        {"{\"error\": {\"title\": \"/t\"}}", "response.error.title is not a known field"},
        {"{\"error\": {\"message\": []}}", "response.error.message must be a JSON Pointer or an "
                                           "array"},
        {"{\"error\": {\"message\": [\"/a\", 3]}}", "response.error.message[1]"},
        {"{\"error\": {\"code\": 5}}", "response.error.code"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        json_t *def = parse(cases[i].def);
        struct md_error e;
        enum md_err rc;
        md_error_clear(&e);
        rc = connect_response_check(def, &e);
        if (!cases[i].msg_has) {
            cr_expect_eq(rc, MD_OK, "case %zu: %s", i, e.msg);
        } else {
            cr_expect_eq(rc, MD_ERR_VALUE, "case %zu", i);
            cr_expect(strstr(e.msg, cases[i].msg_has) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
                      e.msg, cases[i].msg_has);
        }
        json_decref(def);
    }
    cr_expect_eq(connect_response_check(NULL, NULL), MD_OK);
}

Test(test_connect_response, json_errors_inside_2xx)
{
    /* Expensify: every job answers HTTP 200 with a responseCode. */
    static const struct rcase expensify[] = {
        {200, JSON_CT, "{\"responseMessage\":\"Policy X not found\",\"responseCode\":404}",
         "expensify", 1, "expensify API error: Policy X not found (code 404)",
         "{\"status\":200,\"error\":{\"responseMessage\":\"Policy X not found\","
         "\"responseCode\":404}}"},
        /* 200 and 200.0 are the same number; a missing responseCode never matches. */
        {200, JSON_CT, "{\"policyList\":[],\"responseCode\":200.0}", "expensify", 0,
         "{\"policyList\":[],\"responseCode\":200.0}",
         "{\"policyList\":[],\"responseCode\":200.0}"},
        {200, JSON_CT, "{\"policyList\":[]}", "expensify", 0, "{\"policyList\":[]}",
         "{\"policyList\":[]}"},
        /* A string "200" is not the number 200. */
        {200, JSON_CT, "{\"responseCode\":\"200\"}", "expensify", 1,
         "expensify API error: code 200", ""},
        /* An HTTP error reads the same pointers. */
        {503, JSON_CT, "{\"responseMessage\":\"Maintenance\",\"responseCode\":503}", "expensify", 1,
         "expensify API error: HTTP 503: Maintenance (code 503)", ""},
    };
    /* GraphQL: errors[] present (not null, not empty) is an error, even beside data. */
    static const struct rcase graphql[] = {
        {200, JSON_CT,
         "{\"data\":{\"issue\":null},\"errors\":[{\"message\":\"Entity not found: Issue\","
         "\"extensions\":{\"userPresentableMessage\":\"Could not find referenced Issue.\"}}]}",
         "linear", 1, "linear API error: Entity not found: Issue: Could not find referenced Issue.",
         ""},
        {200, JSON_CT, "{\"data\":{\"a\":1},\"errors\":[]}", "linear", 0,
         "{\"data\":{\"a\":1},\"errors\":[]}", "{\"data\":{\"a\":1},\"errors\":[]}"},
        {200, JSON_CT, "{\"data\":{\"a\":1},\"errors\":null}", "linear", 0,
         "{\"data\":{\"a\":1},\"errors\":null}", "{\"data\":{\"a\":1},\"errors\":null}"},
        /* The userPresentableMessage that repeats the message is not said twice. */
        {400, JSON_CT,
         "{\"errors\":[{\"message\":\"Bad input\",\"extensions\":"
         "{\"userPresentableMessage\":\"Bad input\"}}]}",
         "linear", 1, "linear API error: HTTP 400: Bad input", ""},
        /* A body that is not JSON is no match for a JSON rule (nor XML: no such element). */
        {200, "text/plain", "errors everywhere", "linear", 0, "errors everywhere", ""},
    };
    /* Several rules: the first that matches gives its own message pointers first. */
    static const struct rcase ordered[] = {
        {200, JSON_CT, "{\"status\":\"failed\",\"reason\":\"quota\",\"msg\":\"generic\"}", "acme",
         1, "acme API error: quota", ""},
        {200, JSON_CT, "{\"status\":\"ok\",\"warning\":\"w\",\"msg\":\"generic\"}", "acme", 1,
         "acme API error: generic", ""},
        {200, JSON_CT, "{\"status\":\"ok\"}", "acme", 0, "{\"status\":\"ok\"}",
         "{\"status\":\"ok\"}"},
        /* A rule without any message found: the body's common members, then the body. */
        {200, JSON_CT, "{\"status\":\"ok\",\"warning\":[1]}", "acme", 1,
         "acme API error: {\"status\":\"ok\",\"warning\":[1]}", ""},
    };

    use_rules("{\"error_when\": {\"pointer\": \"/responseCode\", \"not_equals\": 200}, "
              "\"error\": {\"message\": \"/responseMessage\", \"code\": \"/responseCode\"}}");
    run_rcases(expensify, N(expensify));
    use_rules("{\"error_when\": {\"pointer\": \"/errors\", \"present\": true}, \"error\": "
              "{\"message\": \"/errors/0/message\", \"detail\": "
              "\"/errors/0/extensions/userPresentableMessage\"}}");
    run_rcases(graphql, N(graphql));
    use_rules("{\"error_when\": [{\"pointer\": \"/status\", \"equals\": \"failed\", \"message\": "
              "\"/reason\"}, {\"pointer\": \"/warning\", \"present\": true}], \"error\": "
              "{\"message\": [\"/nothing\", \"/msg\"]}}");
    run_rcases(ordered, N(ordered));
    use_rules(NULL);
}

#define INTACCT_RULES                                                                              \
    "{\"error_when\": [{\"pointer\": \"/response/control/status\", \"equals\": \"failure\"}, "     \
    "{\"pointer\": \"/response/operation/result/status\", \"equals\": \"failure\"}], "             \
    "\"error\": {\"message\": [\"/response/errormessage/error/description2\", "                    \
    "\"/response/operation/result/errormessage/error/description2\"], \"detail\": "                \
    "[\"/response/operation/result/errormessage/error/correction\"], \"code\": "                   \
    "[\"/response/errormessage/error/errorno\", "                                                  \
    "\"/response/operation/result/errormessage/error/errorno\"]}}"

Test(test_connect_response, xml_errors_inside_2xx)
{
    static const struct rcase cases[] = {
        /* The function's result failed: its errormessage, entities decoded, spaces collapsed. */
        {200, "text/xml; charset=UTF-8",
         "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- gateway -->\n"
         "<response><control><status>success</status></control><operation>"
         "<authentication><status>success</status></authentication>"
         "<result><status>failure</status><function>readByQuery</function><errormessage><error>"
         "<errorno>BL01001973</errorno><description/><description2>Query &amp; fields\n\t"
         "failed &lt;here&gt; &#x263A;</description2><correction><![CDATA[Check <the> query.]]>"
         "</correction></error></errormessage></result></operation></response>",
         "sage_intacct", 1,
         "sage_intacct API error: Query & fields failed <here> \xe2\x98\xba: Check <the> query. "
         "(code BL01001973)",
         "{\"status\":200}"},
        /* The sender was refused: the control section's status, its own errormessage. */
        {200, "text/xml",
         "<response><control><status>failure</status></control><errormessage><error>"
         "<errorno>XL03000006</errorno><description2>Incorrect Intacct XML Partner ID or "
         "password.</description2></error></errormessage></response>",
         "sage_intacct", 1,
         "sage_intacct API error: Incorrect Intacct XML Partner ID or password. (code XL03000006)",
         ""},
        /* Success: the XML as text. Attributes may hold '>' and quotes. */
        {200, "text/xml",
         "<response><control><status>success</status></control><operation><result>"
         "<status>success</status><data count=\"1\" note='a > b'><X/></data></result>"
         "</operation></response>",
         "sage_intacct", 0,
         "<response><control><status>success</status></control><operation><result>"
         "<status>success</status><data count=\"1\" note='a > b'><X/></data></result>"
         "</operation></response>",
         ""},
        /* Only the first <result> is looked into, as the first member of a JSON object would. */
        {200, "text/xml",
         "<response><control><status>success</status></control><operation><result><status>"
         "success</status></result><result><status>failure</status></result></operation>"
         "</response>",
         "sage_intacct", 0,
         "<response><control><status>success</status></control><operation><result><status>"
         "success</status></result><result><status>failure</status></result></operation>"
         "</response>",
         ""},
        /* A DOCTYPE is never read: no entity is defined or expanded, and nothing matches. */
        {200, "text/xml",
         "<!DOCTYPE response [<!ENTITY f \"failure\">]><response><control><status>&f;</status>"
         "</control></response>",
         "sage_intacct", 0,
         "<!DOCTYPE response [<!ENTITY f \"failure\">]><response><control><status>&f;</status>"
         "</control></response>",
         ""},
        /* Another root element, or a malformed document, is no match. */
        {200, "text/xml", "<other><control><status>failure</status></control></other>",
         "sage_intacct", 0, "<other><control><status>failure</status></control></other>", ""},
        {200, "text/xml", "<response><control><status>failure", "sage_intacct", 0,
         "<response><control><status>failure", ""},
        /* Text around the status is trimmed before it is compared. */
        {200, "application/xml",
         "<response>\n  <control>\n    <status> failure </status>\n  </control>\n</response>",
         "sage_intacct", 1,
         "sage_intacct API error: <response>   <control>     <status> failure </status>   "
         "</control> </response>",
         ""},
    };
    use_rules(INTACCT_RULES);
    run_rcases(cases, N(cases));
    use_rules(NULL);
}

Test(test_connect_response, declared_error_messages)
{
    /* QuickBooks: a Detail that repeats the Message and says more stands for both. */
    static const struct rcase quickbooks[] = {
        {400, JSON_CT,
         "{\"Fault\":{\"Error\":[{\"Message\":\"Object Not Found\",\"Detail\":\"Object Not Found : "
         "Something you're trying to use has been made inactive.\",\"code\":\"610\"}],"
         "\"type\":\"ValidationFault\"}}",
         "quickbooks", 1,
         "quickbooks API error: HTTP 400: Object Not Found : Something you're trying to use has "
         "been made inactive. (code 610)",
         ""},
        /* Members of another shape: the common ones, as without a declaration. */
        {401, JSON_CT, "{\"error\":\"invalid_client\"}", "quickbooks", 1,
         "quickbooks API error: HTTP 401: invalid_client", ""},
    };
    /* PagerDuty: error.errors, an array of strings, joined after the message. */
    static const struct rcase pagerduty[] = {
        {400, JSON_CT,
         "{\"error\":{\"message\":\"Invalid Input Provided\",\"code\":2001,\"errors\":[\"Title "
         "must not be empty\",\" Service not found \",7]}}",
         "pagerduty", 1,
         "pagerduty API error: HTTP 400: Invalid Input Provided: Title must not be empty; Service "
         "not found",
         ""},
        {404, JSON_CT, "{\"error\":{\"message\":\"Not Found\",\"code\":2100}}", "pagerduty", 1,
         "pagerduty API error: HTTP 404: Not Found", ""},
    };
    /* ServiceNow: a detail laid out for a screen reads as one line. */
    static const struct rcase servicenow[] = {
        {403, JSON_CT,
         "{\"error\":{\"message\":\"Operation Failed\",\"detail\":\"Data Policy Exception: "
         "\\n\\tThe "
         "following fields are mandatory: On hold reason\\n\"},\"status\":\"failure\"}",
         "servicenow", 1,
         "servicenow API error: HTTP 403: Operation Failed: Data Policy Exception: The following "
         "fields are mandatory: On hold reason",
         ""},
    };
    /* A known vendor keeps its own shape when the declared pointers find nothing. */
    static const struct rcase github[] = {
        {422, JSON_CT,
         "{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"Issue\","
         "\"field\":\"title\",\"code\":\"missing_field\"}]}",
         "github", 1, "GitHub API error: HTTP 422: Validation Failed (Issue.title: missing_field)",
         ""},
        {422, JSON_CT, "{\"why\":\"declared\"}", "github", 1,
         "GitHub API error: HTTP 422: declared", ""},
    };

    use_rules("{\"error\": {\"message\": \"/Fault/Error/0/Message\", \"detail\": "
              "\"/Fault/Error/0/Detail\", \"code\": \"/Fault/Error/0/code\"}}");
    run_rcases(quickbooks, N(quickbooks));
    use_rules("{\"error\": {\"message\": \"/error/message\", \"detail\": \"/error/errors\"}}");
    run_rcases(pagerduty, N(pagerduty));
    use_rules("{\"error\": {\"message\": \"/error/message\", \"detail\": \"/error/detail\"}}");
    run_rcases(servicenow, N(servicenow));
    use_rules("{\"error\": {\"message\": \"/why\"}}");
    run_rcases(github, N(github));
    use_rules(NULL);
}

Test(test_connect_response, declared_message_is_capped)
{
    char body[5000];
    const char *t;
    json_t *r;
    memcpy(body, "{\"m\":\"", 6);
    memset(body + 6, 'x', 3000);
    memcpy(body + 3006, "\",\"c\":\"C1\"}", 12);
    use_rules("{\"error\": {\"message\": \"/m\", \"code\": \"/c\"}}");
    r = runs(500, JSON_CT, body, NULL, "acme");
    t = text_of(r, 0);
    cr_expect(strlen(t) <= strlen("acme API error: HTTP 500: ") + CONNECT_ERROR_MESSAGE_MAX,
              "%zu bytes", strlen(t));
    cr_expect(strcmp(t + strlen(t) - 3, "\xe2\x80\xa6") == 0, "ends with an ellipsis");
    json_decref(r);
    use_rules(NULL);
}
