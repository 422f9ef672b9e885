/*
 * The admin API's router and shared checks (src/admin/api.c): problem details, 404 and 405,
 * the checks on bodies (413, 415, 400), If-Match, pages and Location, and the embedded OpenAPI
 * document. Every request here fails or is answered before the access service or the store is
 * needed, so none is opened.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/admin_int.h"

struct q {
    const char *names[4];
    const char *values[4];
};

static const char *query(void *ctx, const char *name)
{
    const struct q *q = ctx;
    for (int i = 0; i < 4 && q && q->names[i]; i++)
        if (strcmp(q->names[i], name) == 0)
            return q->values[i];
    return NULL;
}

static struct admin_request req(const char *method, const char *path, const char *ct,
                                const char *body)
{
    struct admin_request r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.path = path;
    r.content_type = ct;
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    r.query = query;
    r.actor = "actor-1";
    r.base_url = "http://h/api/v1";
    return r;
}

/* Asserts resp is problem details with this status and, when given, a detail containing it. */
static void assert_problem(const struct admin_response *resp, int status, const char *needle)
{
    const char *detail = json_string_value(json_object_get(resp->body, "detail"));
    cr_assert_eq(resp->status, status, "status %d, expected %d", resp->status, status);
    cr_assert(resp->problem);
    cr_assert_str_eq(json_string_value(json_object_get(resp->body, "type")), "about:blank");
    cr_assert_str_eq(json_string_value(json_object_get(resp->body, "title")),
                     admin_reason_phrase(status));
    cr_assert_eq(json_integer_value(json_object_get(resp->body, "status")), status);
    cr_assert_not_null(detail);
    cr_assert(detail[0] != '\0');
    if (needle)
        cr_assert(strstr(detail, needle) != NULL, "detail \"%s\" lacks \"%s\"", detail, needle);
}

static void handle(struct admin_request *r, struct admin_response *resp)
{
    admin_handle(r, resp);
}

Test(test_api, unknown_paths_are_404_problems)
{
    static const char *const paths[] = {"",
                                        "/",
                                        "/nothing",
                                        "/tokens/a/b",
                                        "//tokens",
                                        "/users/x/y",
                                        "/users/x/entitlements/z",
                                        "tokens",
                                        "/a/b/c/d/e"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct admin_request r = req("GET", paths[i], NULL, NULL);
        struct admin_response resp;
        handle(&r, &resp);
        assert_problem(&resp, 404, NULL);
        admin_response_clear(&resp);
    }
}

Test(test_api, wrong_methods_are_405_with_allow)
{
    static const char *const cases[][3] = {
        {"DELETE", "/tokens", "GET, POST"},
        {"PUT", "/tokens/x", "GET, DELETE"},
        {"POST", "/users", "GET"},
        {"PATCH", "/groups/x", "GET"},
        {"DELETE", "/connectors/x", "GET, PUT, PATCH"},
        {"POST", "/packs/x", "GET, PUT, DELETE"},
        {"PATCH", "/grants", "GET, POST"},
        {"GET", "/decisions", "POST"},
        {"POST", "/openapi.json", "GET"},
        {"GETS", "/tokens", "GET, POST"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct admin_request r = req(cases[i][0], cases[i][1], "application/json", "{}");
        struct admin_response resp;
        handle(&r, &resp);
        assert_problem(&resp, 405, cases[i][0]);
        cr_assert_str_eq(resp.allow, cases[i][2], "%s %s", cases[i][0], cases[i][1]);
        admin_response_clear(&resp);
    }
}

Test(test_api, bodies_must_be_json_objects_under_the_cap)
{
    static const char *const bad_types[] = {NULL, "text/plain", "application/scim+json",
                                            "application/jsonx", "application/merge-patch+json"};
    static const char *const bad_bodies[] = {"", "{", "[]", "\"x\"", "{\"a\":1,\"a\":2}", "nul"};
    struct admin_response resp;
    struct admin_request r;

    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        r = req("POST", "/decisions", bad_types[i], "{\"user\":\"u\",\"tool\":\"a__b\"}");
        handle(&r, &resp);
        assert_problem(&resp, 415, "application/json");
        admin_response_clear(&resp);
    }
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        r = req("POST", "/decisions", "application/json; charset=utf-8", bad_bodies[i]);
        handle(&r, &resp);
        assert_problem(&resp, 400, NULL);
        admin_response_clear(&resp);
    }
    r = req("POST", "/decisions", "application/json", "{}");
    r.body_too_large = true;
    handle(&r, &resp);
    assert_problem(&resp, 413, NULL);
    admin_response_clear(&resp);
}

Test(test_api, deep_nesting_is_refused)
{
    char body[200];
    struct admin_response resp;
    struct admin_request r;
    size_t n = 0;

    n += (size_t)snprintf(body, sizeof body, "{\"user\":\"u\",\"tool\":\"a__b\",\"arguments\":");
    for (int i = 0; i < 40; i++)
        body[n++] = '[';
    for (int i = 0; i < 40; i++)
        body[n++] = ']';
    body[n++] = '}';
    body[n] = '\0';
    r = req("POST", "/decisions", "application/json", body);
    handle(&r, &resp);
    assert_problem(&resp, 400, NULL);
    admin_response_clear(&resp);
}

Test(test_api, decision_requests_are_checked_before_deciding)
{
    static const char *const cases[][2] = {
        {"{\"tool\":\"a__b\"}", "user"},
        {"{\"user\":\"u\"}", "tool"},
        {"{\"user\":\"\",\"tool\":\"a__b\"}", "user"},
        {"{\"user\":5,\"tool\":\"a__b\"}", "user"},
        {"{\"user\":\"u\",\"tool\":\"a__b\",\"arguments\":[]}", "arguments"},
        {"{\"user\":\"u\",\"tool\":\"a__b\",\"arguments\":null}", "arguments"},
        {"{\"user\":\"u\",\"tool\":\"a__b\",\"args\":{}}", "args"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct admin_request r = req("POST", "/decisions", "application/json", cases[i][0]);
        struct admin_response resp;
        handle(&r, &resp);
        assert_problem(&resp, 400, cases[i][1]);
        admin_response_clear(&resp);
    }
}

Test(test_api, token_requests_are_checked_before_creating)
{
    static const char *const cases[][2] = {
        {"{}", "kind"},
        {"{\"kind\":\"root\"}", "root"},
        {"{\"kind\":1}", "kind"},
        {"{\"kind\":\"scim\",\"user\":\"u\"}", "user"},
        {"{\"kind\":\"admin\",\"pack\":\"p\"}", "pack"},
        {"{\"kind\":\"agent\"}", "user"},
        {"{\"kind\":\"scim\",\"secret\":\"x\"}", "secret"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct admin_request r = req("POST", "/tokens", "application/json", cases[i][0]);
        struct admin_response resp;
        handle(&r, &resp);
        assert_problem(&resp, 400, cases[i][1]);
        admin_response_clear(&resp);
    }
}

Test(test_api, if_match_forms)
{
    static const struct {
        const char *h;
        int64_t v;
        bool ok;
    } cases[] = {
        {NULL, 0, true},        {"*", 0, true},         {"7", 7, true},   {"\"7\"", 7, true},
        {"W/\"12\"", 12, true}, {" W/\"3\" ", 3, true}, {"0", 0, false},  {"-1", 0, false},
        {"W/7x", 0, false},     {"\"\"", 0, false},     {"W/", 0, false}, {"yesterday", 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct admin_request r = req("PUT", "/packs/p", "application/json", "{}");
        struct admin_response resp;
        struct admin_ctx x;
        int64_t v = -5;
        memset(&resp, 0, sizeof resp);
        memset(&x, 0, sizeof x);
        r.if_match = cases[i].h;
        x.req = &r;
        x.resp = &resp;
        x.method = "PUT";
        cr_assert_eq(admin_if_match(&x, &v) == MD_OK, cases[i].ok, "If-Match %s", cases[i].h);
        if (cases[i].ok)
            cr_assert_eq(v, cases[i].v, "If-Match %s gave %lld", cases[i].h, (long long)v);
        else
            assert_problem(&resp, 400, "If-Match");
        admin_response_clear(&resp);
    }
}

Test(test_api, a_bad_if_match_on_a_pack_is_400)
{
    struct admin_request r = req("PUT", "/packs/p", "application/json", "{}");
    struct admin_response resp;
    r.if_match = "W/\"x\"";
    handle(&r, &resp);
    assert_problem(&resp, 400, "If-Match");
    admin_response_clear(&resp);
}

Test(test_api, pages_clamp_and_refuse_junk)
{
    struct q q1 = {{"startIndex", "count"}, {"-4", "5000"}};
    struct q q2 = {{"count"}, {"12abc"}};
    struct q q3 = {{NULL}, {NULL}};
    struct admin_request r = req("GET", "/users", NULL, NULL);
    struct admin_response resp;
    struct admin_ctx x;
    struct admin_page p;

    memset(&resp, 0, sizeof resp);
    memset(&x, 0, sizeof x);
    x.req = &r;
    x.resp = &resp;
    x.method = "GET";
    r.query_ctx = &q1;
    cr_assert_eq(admin_page_parse(&x, &p), MD_OK);
    cr_assert_eq(p.start_index, 1);
    cr_assert_eq(p.count, ADMIN_MAX_PAGE);
    r.query_ctx = &q3;
    cr_assert_eq(admin_page_parse(&x, &p), MD_OK);
    cr_assert_eq(p.start_index, 1);
    cr_assert_eq(p.count, ADMIN_DEFAULT_PAGE);
    r.query_ctx = &q2;
    cr_assert_eq(admin_page_parse(&x, &p), MD_ERR_VALUE);
    assert_problem(&resp, 400, "count");
    admin_response_clear(&resp);
}

Test(test_api, location_is_percent_encoded)
{
    struct admin_request r = req("POST", "/packs", NULL, NULL);
    struct admin_response resp;
    struct admin_ctx x;

    memset(&resp, 0, sizeof resp);
    memset(&x, 0, sizeof x);
    x.req = &r;
    x.resp = &resp;
    admin_set_location(&x, "grants", "a b/c?d~e_f-g.h");
    cr_assert_str_eq(resp.location, "http://h/api/v1/grants/a%20b%2Fc%3Fd~e_f-g.h");
}

Test(test_api, openapi_is_public_and_embedded)
{
    struct admin_request r = req("GET", "/openapi.json", NULL, NULL);
    struct admin_response resp;
    json_error_t je;
    json_t *doc;

    cr_assert(admin_is_public("GET", "/openapi.json"));
    cr_assert(admin_is_public("HEAD", "/openapi.json"));
    cr_assert_not(admin_is_public("POST", "/openapi.json"));
    cr_assert_not(admin_is_public("GET", "/tokens"));
    cr_assert_not(admin_is_public("GET", "/openapi.json/"));
    r.actor = "";
    handle(&r, &resp);
    cr_assert_eq(resp.status, 200);
    cr_assert_not(resp.problem);
    cr_assert_not_null(resp.raw);
    cr_assert_eq(resp.raw, admin_openapi());
    doc = json_loads(resp.raw, 0, &je);
    cr_assert_not_null(doc, "openapi.json: %s at line %d", je.text, je.line);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    cr_assert_not_null(json_object_get(json_object_get(doc, "paths"), "/decisions"));
    cr_assert_not_null(
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Problem"));
    json_decref(doc);
    admin_response_clear(&resp);
}

Test(test_api, reason_phrases)
{
    cr_assert_str_eq(admin_reason_phrase(404), "Not Found");
    cr_assert_str_eq(admin_reason_phrase(413), "Content Too Large");
    cr_assert_str_eq(admin_reason_phrase(415), "Unsupported Media Type");
    cr_assert_str_eq(admin_reason_phrase(599), "Error");
}

Test(test_api, problems_of_errors_without_detail_still_say_something)
{
    struct admin_response resp;
    memset(&resp, 0, sizeof resp);
    admin_problem(&resp, MD_ERR_NOTFOUND, NULL);
    assert_problem(&resp, 404, NULL);
    admin_problem(&resp, MD_ERR_UNAVAILABLE, "");
    assert_problem(&resp, 503, NULL);
    admin_problem(&resp, MD_ERR_PRECONDITION, "the pack has changed");
    assert_problem(&resp, 412, "changed");
    admin_response_clear(&resp);
}
