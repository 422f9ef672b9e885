/*
 * Request templates: real tools from catalog/connectors (Stripe, GitHub) and inline templates,
 * each case a tool call in and the exact HTTP request (or the exact refusal) out.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect.h"

#define BASE "https://api.example.com"

/* One call: a catalog tool (connector + tool) or an inline template (def), and what it gives. */
struct rcase {
    const char *connector; /* catalog/connectors/<connector>.json, or NULL for def */
    const char *tool;
    const char *def; /* an inline `request` object, against BASE and no headers */
    const char *args;
    enum md_err want;
    const char *method;       /* on MD_OK */
    const char *url;          /* on MD_OK */
    const char *body;         /* on MD_OK; NULL: no body */
    const char *content_type; /* on MD_OK; NULL: none */
    const char *msg_has;      /* on error: a substring of the message (e.g. the argument) */
};

static json_t *load_connector(const char *name)
{
    char path[256];
    json_error_t jerr;
    json_t *doc;
    snprintf(path, sizeof path, "catalog/connectors/%s.json", name);
    doc = json_load_file(path, 0, &jerr);
    cr_assert_not_null(doc, "%s: %s", path, jerr.text);
    return doc;
}

static json_t *find_tool_request(json_t *doc, const char *tool)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tools"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), tool) == 0)
            return json_object_get(t, "request");
    }
    cr_assert_fail("no tool %s", tool);
    return NULL;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, jerr.text);
    return v;
}

static const char *header_get(const struct connect_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

static void run_cases(const struct rcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct rcase *c = &cases[i];
        json_t *doc = c->connector ? load_connector(c->connector) : NULL;
        json_t *def = doc ? json_incref(find_tool_request(doc, c->tool)) : parse(c->def);
        const char *base = doc ? json_string_value(json_object_get(doc, "base_url")) : BASE;
        json_t *hdrs = doc ? json_object_get(doc, "headers") : NULL;
        json_t *args = parse(c->args);
        struct connect_request r;
        struct md_error e;
        enum md_err rc;

        md_error_clear(&e);
        rc = connect_request_build(base, hdrs, def, args, &r, &e);
        cr_expect_eq(rc, c->want, "case %zu (%s): got %s (%s)", i, c->args, md_err_name(rc), e.msg);
        if (rc == MD_OK && c->want == MD_OK) {
            cr_expect_str_eq(r.method, c->method, "case %zu", i);
            cr_expect_str_eq(r.url, c->url, "case %zu", i);
            cr_expect_eq(r.url_len, strlen(r.url), "case %zu", i);
            if (c->body) {
                cr_expect_not_null(r.body, "case %zu", i);
                if (r.body) {
                    cr_expect_str_eq(r.body, c->body, "case %zu", i);
                    cr_expect_eq(r.body_len, strlen(c->body), "case %zu", i);
                }
            } else {
                cr_expect_null(r.body, "case %zu", i);
            }
            if (c->content_type)
                cr_expect_str_eq(header_get(&r, "Content-Type"), c->content_type, "case %zu", i);
            else
                cr_expect_null(header_get(&r, "Content-Type"), "case %zu", i);
        } else if (rc != MD_OK) {
            /* A refusal leaves nothing behind and says why. */
            cr_expect_null(r.url, "case %zu", i);
            cr_expect_null(r.body, "case %zu", i);
            cr_expect_null(r.headers, "case %zu", i);
            cr_expect_neq(e.msg[0], '\0', "case %zu", i);
            if (c->msg_has)
                cr_expect(strstr(e.msg, c->msg_has) != NULL, "case %zu: message \"%s\" lacks %s", i,
                          e.msg, c->msg_has);
        }
        connect_request_free(&r);
        json_decref(args);
        json_decref(def);
        json_decref(doc);
    }
}

#define FORM "application/x-www-form-urlencoded"
#define JSONCT "application/json"

Test(test_request, stripe_tools)
{
    static const struct rcase cases[] = {
        {"stripe", "create_refund", NULL, "{\"charge\":\"ch_1\",\"amount\":500}", MD_OK, "POST",
         "https://api.stripe.com/v1/refunds", "charge=ch_1&amount=500", FORM, NULL},
        {"stripe", "create_refund", NULL,
         "{\"charge\":\"ch_1\",\"amount\":500,\"reason\":\"requested_by_customer\","
         "\"metadata\":{\"zendesk_ticket\":\"12345\",\"approved by\":\"jane & co=1\"}}",
         MD_OK, "POST", "https://api.stripe.com/v1/refunds",
         "charge=ch_1&amount=500&reason=requested_by_customer&metadata[zendesk_ticket]=12345&"
         "metadata[approved%20by]=jane%20%26%20co%3D1",
         FORM, NULL},
        /* Stripe reads an empty value as "unset". */
        {"stripe", "create_refund", NULL, "{\"amount\":1,\"metadata\":{}}", MD_OK, "POST",
         "https://api.stripe.com/v1/refunds", "amount=1&metadata=", FORM, NULL},
        {"stripe", "create_refund", NULL, "{\"amount\":1,\"reason\":null}", MD_OK, "POST",
         "https://api.stripe.com/v1/refunds", "amount=1&reason=", FORM, NULL},
        /* An empty call still has a (empty) form body. */
        {"stripe", "create_refund", NULL, "{}", MD_OK, "POST", "https://api.stripe.com/v1/refunds",
         "", FORM, NULL},
        /* Brackets in a key would change the structure that Stripe decodes. */
        {"stripe", "create_refund", NULL, "{\"amount\":1,\"metadata\":{\"a][b\":\"x\"}}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "metadata"},
        {"stripe", "create_refund", NULL, "{\"amount\":1,\"metadata\":{\"\":\"x\"}}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "metadata"},
        {"stripe", "create_refund", NULL, "{\"amount\":1,\"x[y]\":\"z\"}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "x[y]"},
        /* Query parameters follow the order of request.query, not of the arguments. */
        {"stripe", "list_charges", NULL, "{\"limit\":10,\"customer\":\"cus_1\"}", MD_OK, "GET",
         "https://api.stripe.com/v1/charges?customer=cus_1&limit=10", NULL, NULL, NULL},
        {"stripe", "list_charges", NULL, "{}", MD_OK, "GET", "https://api.stripe.com/v1/charges",
         NULL, NULL, NULL},
        {"stripe", "list_charges", NULL, "{\"customer\":\"cus_1\",\"expand\":[\"data.customer\"]}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "expand"},
        {"stripe", "search_customers", NULL,
         "{\"query\":\"email:'jane@example.com' AND name~'Jane Doe'\",\"page\":\"a+b/c==\"}", MD_OK,
         "GET",
         "https://api.stripe.com/v1/customers/search?query=email%3A%27jane%40example.com%27%20AND"
         "%20name~%27Jane%20Doe%27&page=a%2Bb%2Fc%3D%3D",
         NULL, NULL, NULL},
        {"stripe", "retrieve_charge", NULL, "{\"charge\":\"ch_3MmlLrLkdIwHu7ix0snN0B15\"}", MD_OK,
         "GET", "https://api.stripe.com/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15", NULL, NULL, NULL},
        {"stripe", "retrieve_charge", NULL, "{\"charge\":123}", MD_OK, "GET",
         "https://api.stripe.com/v1/charges/123", NULL, NULL, NULL},
        {"stripe", "retrieve_charge", NULL, "{\"charge\":true}", MD_OK, "GET",
         "https://api.stripe.com/v1/charges/true", NULL, NULL, NULL},
        {"stripe", "retrieve_charge", NULL, "{\"charge\":0.1}", MD_OK, "GET",
         "https://api.stripe.com/v1/charges/0.1", NULL, NULL, NULL},
        {"stripe", "retrieve_charge", NULL, "{\"charge\":-2.5e-7}", MD_OK, "GET",
         "https://api.stripe.com/v1/charges/-2.5e-07", NULL, NULL, NULL},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, github_tools)
{
    static const struct rcase cases[] = {
        {"github", "create_issue", NULL,
         "{\"owner\":\"octocat\",\"repo\":\"hello-world\",\"title\":\"Found a bug\","
         "\"body\":\"Steps:\\n1. run\",\"labels\":[\"bug\",\"ui\"],\"milestone\":3}",
         MD_OK, "POST", "https://api.github.com/repos/octocat/hello-world/issues",
         "{\"title\":\"Found a bug\",\"body\":\"Steps:\\n1. run\",\"labels\":[\"bug\",\"ui\"],"
         "\"milestone\":3}",
         JSONCT, NULL},
        /* Only the path arguments: the JSON body is an empty object, not nothing. */
        {"github", "merge_pull_request", NULL,
         "{\"owner\":\"o\",\"repo\":\"r\",\"pull_number\":42}", MD_OK, "PUT",
         "https://api.github.com/repos/o/r/pulls/42/merge", "{}", JSONCT, NULL},
        {"github", "merge_pull_request", NULL,
         "{\"owner\":\"o\",\"repo\":\"r\",\"pull_number\":42,\"sha\":\"abc\","
         "\"merge_method\":\"squash\"}",
         MD_OK, "PUT", "https://api.github.com/repos/o/r/pulls/42/merge",
         "{\"sha\":\"abc\",\"merge_method\":\"squash\"}", JSONCT, NULL},
        {"github", "create_pull_request_review", NULL,
         "{\"owner\":\"o\",\"repo\":\"r\",\"pull_number\":7,\"event\":\"COMMENT\",\"body\":\"ok\","
         "\"comments\":[{\"path\":\"src/a.c\",\"body\":\"nit\",\"line\":3}]}",
         MD_OK, "POST", "https://api.github.com/repos/o/r/pulls/7/reviews",
         "{\"event\":\"COMMENT\",\"body\":\"ok\",\"comments\":[{\"path\":\"src/a.c\","
         "\"body\":\"nit\",\"line\":3}]}",
         JSONCT, NULL},
        {"github", "list_pull_requests", NULL,
         "{\"owner\":\"o\",\"repo\":\"r\",\"page\":2,\"state\":\"all\",\"per_page\":100,"
         "\"head\":\"octocat:feature x\"}",
         MD_OK, "GET",
         "https://api.github.com/repos/o/r/pulls?state=all&head=octocat%3Afeature%20x&"
         "per_page=100&page=2",
         NULL, NULL, NULL},
        {"github", "get_issue", NULL, "{\"owner\":\"o\",\"repo\":\"r\"}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "issue_number"},
        {"github", "get_issue", NULL,
         "{\"owner\":\"o\",\"repo\":\"r\",\"issue_number\":1,\"state\":\"open\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "state"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* No argument can change which resource the path names. */
Test(test_request, path_traversal_is_encoded_or_refused)
{
    static const struct rcase cases[] = {
        {"github", "get_issue", NULL, "{\"owner\":\"../admin\",\"repo\":\"x\",\"issue_number\":1}",
         MD_OK, "GET", "https://api.github.com/repos/..%2Fadmin/x/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL, "{\"owner\":\"o\",\"repo\":\"a/b\",\"issue_number\":1}",
         MD_OK, "GET", "https://api.github.com/repos/o/a%2Fb/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL, "{\"owner\":\"o\",\"repo\":\"%2e%2e\",\"issue_number\":1}",
         MD_OK, "GET", "https://api.github.com/repos/o/%252e%252e/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL,
         "{\"owner\":\"o\",\"repo\":\"..\\\\..\\\\x\",\"issue_number\":1}", MD_OK, "GET",
         "https://api.github.com/repos/o/..%5C..%5Cx/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL,
         "{\"owner\":\"o\",\"repo\":\"r?admin=1#frag\",\"issue_number\":1}", MD_OK, "GET",
         "https://api.github.com/repos/o/r%3Fadmin%3D1%23frag/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL,
         "{\"owner\":\"o\",\"repo\":\"caf\\u00e9 \\u20ac\",\"issue_number\":1}", MD_OK, "GET",
         "https://api.github.com/repos/o/caf%C3%A9%20%E2%82%AC/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL,
         "{\"owner\":\"o\",\"repo\":\"r\\r\\nX-Evil: 1\",\"issue_number\":1}", MD_OK, "GET",
         "https://api.github.com/repos/o/r%0D%0AX-Evil%3A%201/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL, "{\"owner\":\"...\",\"repo\":\".a\",\"issue_number\":1}",
         MD_OK, "GET", "https://api.github.com/repos/.../.a/issues/1", NULL, NULL, NULL},
        {"github", "get_issue", NULL, "{\"owner\":\"..\",\"repo\":\"x\",\"issue_number\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "owner"},
        {"github", "get_issue", NULL, "{\"owner\":\".\",\"repo\":\"x\",\"issue_number\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "owner"},
        {"github", "get_issue", NULL, "{\"owner\":\"\",\"repo\":\"x\",\"issue_number\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "owner"},
        {"github", "get_issue", NULL, "{\"owner\":null,\"repo\":\"x\",\"issue_number\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "owner"},
        {"github", "get_issue", NULL, "{\"owner\":{\"a\":1},\"repo\":\"x\",\"issue_number\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "owner"},
        {"github", "get_issue", NULL, "{\"owner\":[\"o\"],\"repo\":\"x\",\"issue_number\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "owner"},
        /* Two placeholders in one segment cannot make ".." together either. */
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/{a}{b}/y\"}", "{\"a\":\".\",\"b\":\".\"}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "b"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/.{a}\"}", "{\"a\":\".\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "a"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/%2e{a}\"}", "{\"a\":\".\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "a"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/v{a}\"}", "{\"a\":\".\"}", MD_OK, "GET",
         BASE "/x/v.", NULL, NULL, NULL},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, query_encoding)
{
    static const struct rcase cases[] = {
        /* Arrays repeat the name; null is absent; unreserved characters stay literal. */
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"ids\",\"q\",\"t\"]}",
         "{\"t\":\"A-Z_a.z~0\",\"ids\":[1,\"two\",true,1.5],\"q\":null}", MD_OK, "GET",
         BASE "/s?ids=1&ids=two&ids=true&ids=1.5&t=A-Z_a.z~0", NULL, NULL, NULL},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"ids\"]}", "{\"ids\":[]}",
         MD_OK, "GET", BASE "/s", NULL, NULL, NULL},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"a b\"]}",
         "{\"a b\":\"x&y=z+w\"}", MD_OK, "GET", BASE "/s?a%20b=x%26y%3Dz%2Bw", NULL, NULL, NULL},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"f\"]}", "{\"f\":{\"a\":1}}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "f"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"f\"]}", "{\"f\":[[1]]}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "f"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"f\"]}",
         "{\"f\":[{\"a\":1}]}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "f"},
        /* A query on a POST with a JSON body: the rest goes to the body. */
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/m/{id}/mute\",\"query\":[\"scope\"],\"body\":\"json\"}",
         "{\"id\":9,\"scope\":\"host:a\",\"end\":17}", MD_OK, "POST",
         BASE "/m/9/mute?scope=host%3Aa", "{\"end\":17}", JSONCT, NULL},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, nested_form_encoding)
{
    static const struct rcase cases[] = {
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/v1/subscriptions\",\"body\":\"form\"}",
         "{\"customer\":\"cus_1\",\"items\":[{\"price\":\"price_1\",\"quantity\":2}],"
         "\"expand\":[\"latest_invoice.payment_intent\",\"customer\"],\"metadata\":{\"k\":\"v\"}}",
         MD_OK, "POST", BASE "/v1/subscriptions",
         "customer=cus_1&items[0][price]=price_1&items[0][quantity]=2&"
         "expand[]=latest_invoice.payment_intent&expand[]=customer&metadata[k]=v",
         FORM, NULL},
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/f\",\"body\":\"form\"}",
         "{\"a\":[[1,2],[3]],\"b\":true,\"n\":null,\"r\":2.5,\"e\":[],"
         "\"o\":{\"p\":{\"q\":\"\\u00fc\"}}}",
         MD_OK, "POST", BASE "/f", "a[0][]=1&a[0][]=2&a[1][]=3&b=true&n=&r=2.5&e=&o[p][q]=%C3%BC",
         FORM, NULL},
        /* Mixed arrays are indexed throughout, so that items keep their positions. */
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/f\",\"body\":\"form\"}",
         "{\"m\":[\"x\",{\"y\":1}]}", MD_OK, "POST", BASE "/f", "m[0]=x&m[1][y]=1", FORM, NULL},
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/f/{id}\",\"body\":\"form\"}",
         "{\"id\":\"a b\",\"k y\":\"v&w\"}", MD_OK, "POST", BASE "/f/a%20b", "k%20y=v%26w", FORM,
         NULL},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, templates_are_validated)
{
    static const struct rcase cases[] = {
        {NULL, NULL, "{\"method\":\"TRACE\",\"path\":\"/x\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "method"},
        {NULL, NULL, "{\"method\":\"get\",\"path\":\"/x\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "method"},
        {NULL, NULL, "{\"path\":\"/x\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "method"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"x\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/{bad-name}\"}", "{\"bad-name\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "placeholder"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/{}\"}", "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "placeholder"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/{a\"}", "{\"a\":1}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "placeholder"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/a}\"}", "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/{a{b}}\"}", "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "placeholder"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/../y\"}", "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "segment"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/%2e%2E/y\"}", "{}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "segment"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/.\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "segment"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x?y=1\"}", "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x#y\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x y\"}", "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/%zz\"}", "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/%2\"}", "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x\\u0000/y\"}", "{}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "path"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x\",\"body\":\"xml\"}", "{}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "body"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x\",\"headers\":{}}", "{}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "headers"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x\",\"query\":\"a\"}", "{}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "query"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x\",\"query\":[\"a\",\"a\"]}", "{}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "twice"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x\",\"query\":[\"\"]}", "{}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "query"},
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x/{a}\",\"query\":[\"a\"]}", "{\"a\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "placeholder"},
        {NULL, NULL, "[1]", "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, NULL},
        /* A placeholder whose argument is not given. */
        {NULL, NULL, "{\"method\":\"DELETE\",\"path\":\"/x/{nope}\"}", "{\"other\":1}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "nope"},
        /* Arguments must be an object. */
        {NULL, NULL, "{\"method\":\"GET\",\"path\":\"/x\"}", "[]", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "object"},
        {NULL, NULL, "{\"method\":\"PATCH\",\"path\":\"/\"}", "{}", MD_OK, "PATCH", BASE "/", NULL,
         NULL, NULL},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static enum md_err build_simple(const char *base, const char *headers, const char *def,
                                const json_t *args, struct connect_request *r, struct md_error *e)
{
    json_t *h = headers ? parse(headers) : NULL;
    json_t *d = parse(def);
    enum md_err rc;
    md_error_clear(e);
    rc = connect_request_build(base, h, d, args, r, e);
    json_decref(h);
    json_decref(d);
    return rc;
}

Test(test_request, headers_are_static_and_clean)
{
    static const struct {
        const char *headers;
        enum md_err want;
    } cases[] = {
        {"{\"Authorization\":\"Bearer x\"}", MD_ERR_VALUE},
        {"{\"authorization\":\"Bearer x\"}", MD_ERR_VALUE},
        {"{\"Cookie\":\"a=b\"}", MD_ERR_VALUE},
        {"{\"Content-Type\":\"text/plain\"}", MD_ERR_VALUE},
        {"{\"Host\":\"evil.example\"}", MD_ERR_VALUE},
        {"{\"X-A\":\"a\\r\\nX-B: b\"}", MD_ERR_VALUE},
        {"{\"X-A\":\"a\\nb\"}", MD_ERR_VALUE},
        {"{\"Bad Name\":\"x\"}", MD_ERR_VALUE},
        {"{\"X-A:\":\"x\"}", MD_ERR_VALUE},
        {"{\"\":\"x\"}", MD_ERR_VALUE},
        {"{\"X-A\":1}", MD_ERR_VALUE},
        {"[\"X-A\"]", MD_ERR_VALUE},
        {"{\"X-A\":\"tab\\tand space ok\"}", MD_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct connect_request r;
        struct md_error e;
        enum md_err rc = build_simple(BASE, cases[i].headers, "{\"method\":\"GET\",\"path\":\"/\"}",
                                      NULL, &r, &e);
        cr_expect_eq(rc, cases[i].want, "case %zu: %s (%s)", i, md_err_name(rc), e.msg);
        connect_request_free(&r);
    }

    /* The GitHub connector's headers, in order, then Content-Type for the JSON body. */
    {
        json_t *doc = load_connector("github");
        json_t *args = parse("{\"owner\":\"o\",\"repo\":\"r\",\"title\":\"t\"}");
        struct connect_request r;
        struct md_error e;
        enum md_err rc = connect_request_build(
            json_string_value(json_object_get(doc, "base_url")), json_object_get(doc, "headers"),
            find_tool_request(doc, "create_issue"), args, &r, &e);
        cr_assert_eq(rc, MD_OK, "%s", e.msg);
        cr_assert_eq(r.n_headers, 3);
        cr_expect_str_eq(r.headers[0].name, "Accept");
        cr_expect_str_eq(r.headers[0].value, "application/vnd.github+json");
        cr_expect_str_eq(r.headers[1].name, "X-GitHub-Api-Version");
        cr_expect_str_eq(r.headers[1].value, "2022-11-28");
        cr_expect_str_eq(r.headers[2].name, "Content-Type");
        cr_expect_str_eq(r.headers[2].value, "application/json");
        cr_expect_str_eq(r.body, "{\"title\":\"t\"}");
        connect_request_free(&r);
        connect_request_free(&r); /* freeing twice is harmless */
        json_decref(args);
        json_decref(doc);
    }
}

Test(test_request, base_url_is_checked)
{
    static const struct {
        const char *base;
        enum md_err want;
        const char *url; /* on MD_OK */
    } cases[] = {
        {NULL, MD_ERR_VALUE, NULL},
        {"", MD_ERR_VALUE, NULL},
        {"ftp://x.example", MD_ERR_VALUE, NULL},
        {"https://", MD_ERR_VALUE, NULL},
        {"https://api.example.com/", MD_ERR_VALUE, NULL},
        {"https://a b.example", MD_ERR_VALUE, NULL},
        {"https://a.example?x=1", MD_ERR_VALUE, NULL},
        {"https://a.example#f", MD_ERR_VALUE, NULL},
        {"https://a.example\r\nHost: b", MD_ERR_VALUE, NULL},
        {"https://user:secret@a.example", MD_ERR_VALUE, NULL},
        {"https://a.example/@v1", MD_OK, "https://a.example/@v1/v1"},
        {"http://127.0.0.1:8081/fake/stripe", MD_OK, "http://127.0.0.1:8081/fake/stripe/v1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct connect_request r;
        struct md_error e;
        enum md_err rc = build_simple(cases[i].base, NULL, "{\"method\":\"GET\",\"path\":\"/v1\"}",
                                      NULL, &r, &e);
        cr_expect_eq(rc, cases[i].want, "case %zu: %s (%s)", i, md_err_name(rc), e.msg);
        if (rc == MD_OK && cases[i].url)
            cr_expect_str_eq(r.url, cases[i].url, "case %zu", i);
        connect_request_free(&r);
    }
}

/* A string of n copies of c, as a JSON string value. */
static json_t *long_string(size_t n, char c)
{
    char *s = malloc(n + 1);
    json_t *v;
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    v = json_string(s);
    free(s);
    return v;
}

Test(test_request, oversized_inputs_are_refused)
{
    struct connect_request r;
    struct md_error e;
    json_t *args = json_object();
    enum md_err rc;

    /* Path: 3,000 spaces become 9,000 bytes of %20, over the URL cap. */
    json_object_set_new(args, "id", long_string(3000, ' '));
    rc = build_simple(BASE, NULL, "{\"method\":\"GET\",\"path\":\"/x/{id}\"}", args, &r, &e);
    cr_expect_eq(rc, MD_ERR_TOOLARGE, "%s", e.msg);
    cr_expect_null(r.url);
    connect_request_free(&r);

    /* Just under the cap is fine: base (23) + "/x/" (3) + 8,166 = 8,192. */
    json_object_set_new(args, "id", long_string(CONNECT_URL_MAX - strlen(BASE) - 3, 'a'));
    rc = build_simple(BASE, NULL, "{\"method\":\"GET\",\"path\":\"/x/{id}\"}", args, &r, &e);
    cr_expect_eq(rc, MD_OK, "%s", e.msg);
    cr_expect_eq(r.url_len, CONNECT_URL_MAX);
    connect_request_free(&r);

    /* Query. */
    json_object_clear(args);
    json_object_set_new(args, "q", long_string(CONNECT_URL_MAX, 'q'));
    rc = build_simple(BASE, NULL, "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"q\"]}", args,
                      &r, &e);
    cr_expect_eq(rc, MD_ERR_TOOLARGE, "%s", e.msg);
    connect_request_free(&r);

    /* JSON body. */
    json_object_clear(args);
    json_object_set_new(args, "text", long_string(CONNECT_BODY_MAX, 'x'));
    rc = build_simple(BASE, NULL, "{\"method\":\"POST\",\"path\":\"/s\",\"body\":\"json\"}", args,
                      &r, &e);
    cr_expect_eq(rc, MD_ERR_TOOLARGE, "%s", e.msg);
    cr_expect_null(r.body);
    cr_expect_null(r.headers);
    connect_request_free(&r);

    /* Form body: each '&' triples, so a third of the cap in text is over it. */
    json_object_set_new(args, "text", long_string(CONNECT_BODY_MAX / 3 + 1, '&'));
    rc = build_simple(BASE, NULL, "{\"method\":\"POST\",\"path\":\"/s\",\"body\":\"form\"}", args,
                      &r, &e);
    cr_expect_eq(rc, MD_ERR_TOOLARGE, "%s", e.msg);
    connect_request_free(&r);

    /* Form nesting deeper than the limit. */
    {
        json_t *deep = json_string("v");
        for (int i = 0; i < 40; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "k", deep);
            deep = o;
        }
        json_object_clear(args);
        json_object_set_new(args, "d", deep);
        rc = build_simple(BASE, NULL, "{\"method\":\"POST\",\"path\":\"/s\",\"body\":\"form\"}",
                          args, &r, &e);
        cr_expect_eq(rc, MD_ERR_VALUE, "%s", e.msg);
        connect_request_free(&r);
    }

    /* Too many static headers. */
    {
        json_t *h = json_object();
        char name[16];
        for (int i = 0; i <= CONNECT_HEADERS_MAX; i++) {
            snprintf(name, sizeof name, "X-H%d", i);
            json_object_set_new(h, name, json_string("v"));
        }
        json_t *d = parse("{\"method\":\"GET\",\"path\":\"/\"}");
        rc = connect_request_build(BASE, h, d, NULL, &r, &e);
        cr_expect_eq(rc, MD_ERR_VALUE, "%s", e.msg);
        connect_request_free(&r);
        json_decref(d);
        json_decref(h);
    }
    json_decref(args);
}

/* ---- GraphQL bodies ---- */

#define GQL_DEF(extra)                                                                             \
    "{\"method\":\"POST\",\"path\":\"/graphql\",\"body\":{\"type\":\"graphql\",\"query\":"          \
    "\"query($id: ID!) { issue(id: $id) { title } }\"" extra "}}"
#define GQL_QUERY "\"query\":\"query($id: ID!) { issue(id: $id) { title } }\""

Test(test_request, graphql_bodies)
{
    static const struct rcase cases[] = {
        {NULL, NULL, GQL_DEF(""), "{\"id\":\"I_1\"}", MD_OK, "POST", BASE "/graphql",
         "{" GQL_QUERY ",\"variables\":{\"id\":\"I_1\"}}", JSONCT, NULL},
        /* operationName comes after the variables, and only when the template names one. */
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/graphql\",\"body\":{\"type\":\"graphql\","
         "\"query\":\"query GetIssue($id: ID!) { issue(id: $id) { title } }\","
         "\"operation_name\":\"GetIssue\"}}",
         "{\"id\":7}", MD_OK, "POST", BASE "/graphql",
         "{\"query\":\"query GetIssue($id: ID!) { issue(id: $id) { title } }\","
         "\"variables\":{\"id\":7},\"operationName\":\"GetIssue\"}",
         JSONCT, NULL},
        /* An argument that tries to close the query and open a mutation stays a variable. */
        {NULL, NULL, GQL_DEF(""),
         "{\"id\":\"1\\\") { title } } mutation { deleteRepo(id: \\\"r\\\") { ok } } #\"}", MD_OK,
         "POST", BASE "/graphql",
         "{" GQL_QUERY ",\"variables\":{\"id\":\"1\\\") { title } } mutation { deleteRepo(id: "
         "\\\"r\\\") { ok } } #\"}}",
         JSONCT, NULL},
        {NULL, NULL, GQL_DEF(""), "{\"id\":\"$id\\\"}\\n\\u0000\"}", MD_OK, "POST", BASE "/graphql",
         "{" GQL_QUERY ",\"variables\":{\"id\":\"$id\\\"}\\n\\u0000\"}}", JSONCT, NULL},
        /* No argument: the variables are an empty object, never left out. */
        {NULL, NULL, GQL_DEF(""), "{}", MD_OK, "POST", BASE "/graphql",
         "{" GQL_QUERY ",\"variables\":{}}", JSONCT, NULL},
        /* Objects, arrays and null are variables as they are; path and query take theirs. */
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/t/{tenant}/graphql\",\"query\":[\"trace\"],"
         "\"body\":{\"type\":\"graphql\",\"query\":\"mutation($input: IssueInput!, $n: Int) "
         "{ create(input: $input, n: $n) { id } }\"}}",
         "{\"tenant\":\"acme co\",\"input\":{\"title\":\"t\",\"labels\":[\"a\",\"b\"]},\"n\":null,"
         "\"trace\":true}",
         MD_OK, "POST", BASE "/t/acme%20co/graphql?trace=true",
         "{\"query\":\"mutation($input: IssueInput!, $n: Int) { create(input: $input, n: $n) { id "
         "} }\",\"variables\":{\"input\":{\"title\":\"t\",\"labels\":[\"a\",\"b\"]},\"n\":null}}",
         JSONCT, NULL},
        /* An argument that the document does not name as a variable would be ignored upstream. */
        {NULL, NULL, GQL_DEF(""), "{\"id\":\"1\",\"state\":\"open\"}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "state"},
        /* $name inside a comment, a string or a block string is not a variable. */
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\",\"query\":"
         "\"query($id: ID!) { a(id: $id) # $x\\n }\"}}",
         "{\"id\":1,\"x\":2}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "$x"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\",\"query\":"
         "\"query($id: ID!) { a(id: $id, s: \\\"\\\\\\\" $x\\\") }\"}}",
         "{\"id\":1,\"x\":2}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "x"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\",\"query\":"
         "\"query($id: ID!) { a(id: $id, s: \\\"\\\"\\\" \\\\\\\"\\\"\\\" $x \\\"\\\"\\\") }\"}}",
         "{\"id\":1,\"x\":2}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "x"},
        /* ... while one after the string is. */
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\",\"query\":"
         "\"query($id: ID!, $x: Int) { a(id: $id, s: \\\"$\\\", x: $x) }\"}}",
         "{\"id\":1,\"x\":2}", MD_OK, "POST", BASE "/g",
         "{\"query\":\"query($id: ID!, $x: Int) { a(id: $id, s: \\\"$\\\", x: $x) }\","
         "\"variables\":{\"id\":1,\"x\":2}}",
         JSONCT, NULL},
        /* $id is not $i: names are whole. */
        {NULL, NULL, GQL_DEF(""), "{\"i\":1}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "$i"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, graphql_templates_are_validated)
{
    static const struct rcase cases[] = {
        {NULL, NULL,
         "{\"method\":\"GET\",\"path\":\"/graphql\",\"body\":{\"type\":\"graphql\","
         "\"query\":\"{ a }\"}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "POST"},
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\"}}", "{}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body.query"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\",\"query\":\"\"}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body.query"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\",\"query\":7}}", "{}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body.query"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"graphql\","
         "\"query\":\"{ a }\\u0000\"}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body.query"},
        {NULL, NULL, GQL_DEF(",\"operation_name\":\"1st\""), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "operation_name"},
        {NULL, NULL, GQL_DEF(",\"operation_name\":\"get-issue\""), "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "operation_name"},
        {NULL, NULL, GQL_DEF(",\"operation_name\":\"\""), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "operation_name"},
        {NULL, NULL, GQL_DEF(",\"operation_name\":null"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "operation_name"},
        {NULL, NULL, GQL_DEF(",\"variables\":{}"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "request.body.variables"},
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{\"type\":\"soap\"}}", "{}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body"},
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/g\",\"body\":{}}", "{}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "request.body"},
        {NULL, NULL, "{\"method\":\"POST\",\"path\":\"/g\",\"body\":[\"json\"]}", "{}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body"},
        {NULL, NULL, GQL_DEF(",\"operation_name\":\"_Get_1\""), "{}", MD_OK, "POST",
         BASE "/graphql", "{" GQL_QUERY ",\"variables\":{},\"operationName\":\"_Get_1\"}", JSONCT,
         NULL},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* ---- template bodies ---- */

/* A POST to /t whose body is the given template, content type and escape. */
#define TPL(ct, tpl, esc)                                                                          \
    "{\"method\":\"POST\",\"path\":\"/t\",\"body\":{\"type\":\"template\",\"content_type\":\"" ct \
    "\",\"template\":\"" tpl "\",\"escape\":\"" esc "\"}}"
#define XML "application/xml"

Test(test_request, xml_templates)
{
    static const struct rcase cases[] = {
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"Jane\"}", MD_OK, "POST",
         BASE "/t", "<a>Jane</a>", XML, NULL},
        /* Markup in an argument comes out as text. */
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"</a><b>\"}", MD_OK, "POST",
         BASE "/t", "<a>&lt;/a&gt;&lt;b&gt;</a>", XML, NULL},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"),
         "{\"name\":\"]]><!ENTITY x SYSTEM 'file:///etc/passwd'>&x;\"}", MD_OK, "POST", BASE "/t",
         "<a>]]&gt;&lt;!ENTITY x SYSTEM &#39;file:///etc/passwd&#39;&gt;&amp;x;</a>", XML, NULL},
        /* Attribute values cannot be closed by either quote. */
        {NULL, NULL, TPL(XML, "<a href=\\\"{{u}}\\\" t='{{t}}'/>", "xml"),
         "{\"u\":\"x\\\" onclick=\\\"y\",\"t\":\"'&'\"}", MD_OK, "POST", BASE "/t",
         "<a href=\"x&quot; onclick=&quot;y\" t='&#39;&amp;&#39;'/>", XML, NULL},
        /* Scalars render as in the path; non-ASCII text, tab, CR and LF pass unchanged. */
        {NULL, NULL, TPL(XML, "<n i=\\\"{{i}}\\\" r=\\\"{{r}}\\\" b=\\\"{{b}}\\\">{{s}}</n>", "xml"),
         "{\"i\":42,\"r\":0.1,\"b\":false,\"s\":\"caf\\u00e9\\t\\r\\n\\u20ac\"}", MD_OK, "POST",
         BASE "/t", "<n i=\"42\" r=\"0.1\" b=\"false\">caf\xc3\xa9\t\r\n\xe2\x82\xac</n>", XML,
         NULL},
        /* A placeholder may repeat, and may use an argument that the path uses too. */
        {NULL, NULL,
         "{\"method\":\"PUT\",\"path\":\"/t/{id}\",\"body\":{\"type\":\"template\","
         "\"content_type\":\"application/soap+xml; charset=utf-8\",\"template\":"
         "\"<r id='{{id}}'>{{id}}{{id}}</r>\",\"escape\":\"xml\"}}",
         "{\"id\":\"a<b\"}", MD_OK, "PUT", BASE "/t/a%3Cb", "<r id='a&lt;b'>a&lt;ba&lt;b</r>",
         "application/soap+xml; charset=utf-8", NULL},
        /* {{name?}}: absent or null is empty; {{name}} refuses both. */
        {NULL, NULL, TPL(XML, "<a>{{x?}}</a><b>{{y?}}</b>", "xml"), "{\"y\":null}", MD_OK, "POST",
         BASE "/t", "<a></a><b></b>", XML, NULL},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "name"},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":null}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "name"},
        /* Only scalars fit in text. */
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":{\"a\":1}}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "name"},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":[\"a\"]}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "name"},
        /* What XML 1.0 cannot carry at all is refused, not dropped. */
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"a\\u0001b\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "name"},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"a\\u0000b\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "name"},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"\\uffff\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "name"},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"\\ufffe\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "name"},
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"\\ufffd\\ud83d\\ude00\"}",
         MD_OK, "POST", BASE "/t", "<a>\xef\xbf\xbd\xf0\x9f\x98\x80</a>", XML, NULL},
        /* An argument that the template does not use is refused, as without a body. */
        {NULL, NULL, TPL(XML, "<a>{{name}}</a>", "xml"), "{\"name\":\"n\",\"admin\":true}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "admin"},
        /* "{{{{" is a literal "{{"; '}' and a lone '{' are literal. */
        {NULL, NULL, TPL(XML, "<a>{{{{x}} {y} }}</a>{{x}}", "xml"), "{\"x\":1}", MD_OK, "POST",
         BASE "/t", "<a>{{x}} {y} }}</a>1", XML, NULL},
        {NULL, NULL, TPL("text/html", "<p title='{{t}}'>{{t}}</p>", "xml"), "{\"t\":\"<i>\"}",
         MD_OK, "POST", BASE "/t", "<p title='&lt;i&gt;'>&lt;i&gt;</p>", "text/html", NULL},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, json_templates)
{
    static const struct rcase cases[] = {
        /* Strings are quoted and escaped: an argument cannot close one and add a key. */
        {NULL, NULL, TPL(JSONCT, "{\\\"msg\\\": {{text}}, \\\"n\\\": {{n}}}", "json"),
         "{\"text\":\"\\\"}, \\\"admin\\\": true, \\\"x\\\": {\\\"\",\"n\":2.5}", MD_OK, "POST",
         BASE "/t", "{\"msg\": \"\\\"}, \\\"admin\\\": true, \\\"x\\\": {\\\"\", \"n\": 2.5}", JSONCT,
         NULL},
        /* Numbers, booleans, null, objects and arrays are JSON as the json body writes them. */
        {NULL, NULL,
         TPL("application/vnd.api+json",
             "{\\\"data\\\":{\\\"type\\\":\\\"issues\\\",\\\"attributes\\\":{{attrs}}},"
             "\\\"meta\\\":[{{i}},{{b}},{{z}},{{s}}]}",
             "json"),
         "{\"attrs\":{\"title\":\"<t>\",\"tags\":[1,\"\\u00e9\"]},\"i\":-3,\"b\":true,\"z\":null,"
         "\"s\":\"\\u0000\\n\"}",
         MD_OK, "POST", BASE "/t",
         "{\"data\":{\"type\":\"issues\",\"attributes\":{\"title\":\"<t>\",\"tags\":[1,"
         "\"\xc3\xa9\"]}},\"meta\":[-3,true,null,\"\\u0000\\n\"]}",
         "application/vnd.api+json", NULL},
        /* {{name?}} absent is null; {{name}} absent is refused. */
        {NULL, NULL, TPL(JSONCT, "[{{a?}},{{b}}]", "json"), "{\"b\":1}", MD_OK, "POST", BASE "/t",
         "[null,1]", JSONCT, NULL},
        {NULL, NULL, TPL(JSONCT, "[{{a?}},{{b}}]", "json"), "{\"a\":1}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "b"},
        {NULL, NULL, TPL(JSONCT, "[{{a}}]", "json"), "{\"a\":1,\"c\":2}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "c"},
        /* "{{{{" inside a JSON string is a literal "{{", not a placeholder. */
        {NULL, NULL, TPL(JSONCT, "{\\\"t\\\":\\\"{{{{x}}\\\",\\\"x\\\":{{x}}}", "json"),
         "{\"x\":\"}}\"}", MD_OK, "POST", BASE "/t", "{\"t\":\"{{x}}\",\"x\":\"}}\"}", JSONCT,
         NULL},
        /* A placeholder inside a string would let an argument end it: refused when built. */
        {NULL, NULL, TPL(JSONCT, "{\\\"t\\\":\\\"Bug: {{t}}\\\"}", "json"), "{}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "inside a JSON string"},
        {NULL, NULL, TPL(JSONCT, "{\\\"t\\\":\\\"\\\\\\\"{{t}}\\\"}", "json"), "{}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "inside a JSON string"},
        /* The template must be JSON with the placeholders as values. */
        {NULL, NULL, TPL(JSONCT, "{{{t}}: 1}", "json"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "template"},
        {NULL, NULL, TPL(JSONCT, "{ {{t}}: 1}", "json"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "template"},
        {NULL, NULL, TPL(JSONCT, "{\\\"a\\\":{{t}}", "json"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "template"},
        {NULL, NULL, TPL(JSONCT, "{\\\"a\\\":{{t}},\\\"a\\\":1}", "json"), "{}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "template"},
        {NULL, NULL, TPL(JSONCT, "{{t}}", "json"), "{\"t\":{}}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "template"},
        {NULL, NULL, TPL(JSONCT, "[{{t}} {{u}}]", "json"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "template"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, plain_templates)
{
    static const struct rcase cases[] = {
        {NULL, NULL, TPL("text/plain", "Hello {{name}},\\r\\nyour code is {{code}}.\\n", "none"),
         "{\"name\":\"J\\u00f6 <&> \\\"x\\\"\\t\",\"code\":1234}", MD_OK, "POST", BASE "/t",
         "Hello J\xc3\xb6 <&> \"x\"\t,\r\nyour code is 1234.\n", "text/plain", NULL},
        {NULL, NULL, TPL("text/plain; charset=\\\"UTF-8\\\"", "{{a?}}", "none"), "{}", MD_OK,
         "POST", BASE "/t", "", "text/plain; charset=\"UTF-8\"", NULL},
        /* No line of a line-based format can be forged. */
        {NULL, NULL, TPL("text/plain", "To: {{to}}\\n", "none"),
         "{\"to\":\"a@example.com\\r\\nBcc: all@example.com\"}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "to"},
        {NULL, NULL, TPL("text/plain", "{{to}}", "none"), "{\"to\":\"a\\nb\"}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "to"},
        {NULL, NULL, TPL("text/plain", "{{to}}", "none"), "{\"to\":\"a\\u0000b\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "to"},
        {NULL, NULL, TPL("text/plain", "{{to}}", "none"), "{\"to\":\"a\\u007fb\"}", MD_ERR_VALUE,
         NULL, NULL, NULL, NULL, "to"},
        {NULL, NULL, TPL("text/plain", "{{to}}", "none"), "{\"to\":[1]}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "to"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, body_templates_are_validated)
{
    static const struct rcase cases[] = {
        /* The escape must suit the content type: no "none" for a structured one. */
        {NULL, NULL, TPL(XML, "<a/>", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "escape"},
        {NULL, NULL, TPL(XML, "<a/>", "json"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "escape"},
        {NULL, NULL, TPL(JSONCT, "[]", "xml"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "escape"},
        {NULL, NULL, TPL(JSONCT, "[]", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "escape"},
        {NULL, NULL, TPL("text/csv", "a,b", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "escape"},
        {NULL, NULL, TPL("text/plain", "a", "xml"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "escape"},
        {NULL, NULL, TPL("text/plain", "a", "html"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "escape"},
        {NULL, NULL, TPL("application/x-www-form-urlencoded", "a={{a}}", "none"), "{}",
         MD_ERR_VALUE, NULL, NULL, NULL, NULL, "escape"},
        /* Media types (RFC 9110 section 8.3.1). */
        {NULL, NULL, TPL("text", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "content_type"},
        {NULL, NULL, TPL("text/", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "content_type"},
        {NULL, NULL, TPL("/plain", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "content_type"},
        {NULL, NULL, TPL("text/pl ain", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "content_type"},
        {NULL, NULL, TPL("text/plain ", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "content_type"},
        {NULL, NULL, TPL("text/plain;charset", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "content_type"},
        {NULL, NULL, TPL("text/plain; a=\\\"b", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "content_type"},
        {NULL, NULL, TPL("text/plain; a=\\\"\\r\\n\\\"", "a", "none"), "{}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "content_type"},
        {NULL, NULL, TPL("text/plain\\r\\nX-Evil: 1", "a", "none"), "{}", MD_ERR_VALUE, NULL, NULL,
         NULL, NULL, "content_type"},
        {NULL, NULL, TPL("text/plain; charset=iso-8859-1", "a", "none"), "{}", MD_ERR_VALUE, NULL,
         NULL, NULL, NULL, "utf-8"},
        {NULL, NULL, TPL("text/plain;; q=\\\"a\\\\\\\"b\\\" ;x=y", "a", "none"), "{}", MD_OK,
         "POST", BASE "/t", "a", "text/plain;; q=\"a\\\"b\" ;x=y", NULL},
        {NULL, NULL, TPL("Text/Plain", "a", "none"), "{}", MD_OK, "POST", BASE "/t", "a",
         "Text/Plain", NULL},
        /* Placeholder syntax. */
        {NULL, NULL, TPL("text/plain", "{{}}", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "{{name}}"},
        {NULL, NULL, TPL("text/plain", "{{a b}}", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "{{name}}"},
        {NULL, NULL, TPL("text/plain", "{{a}", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "{{name}}"},
        {NULL, NULL, TPL("text/plain", "x{{a", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL,
         "byte 1"},
        {NULL, NULL, TPL("text/plain", "{{{a}}}", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "{{name}}"},
        {NULL, NULL, TPL("text/plain", "{{a??}}", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "{{name}}"},
        {NULL, NULL, TPL("text/plain", "{{a-b}}", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "{{name}}"},
        {NULL, NULL,
         TPL("text/plain", "{{a234567890123456789012345678901234567890123456789012345678901234?}}",
             "none"),
         "{}", MD_OK, "POST", BASE "/t", "", "text/plain", NULL},
        {NULL, NULL,
         TPL("text/plain", "{{a2345678901234567890123456789012345678901234567890123456789012345}}",
             "none"),
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "{{name}}"},
        /* Fields. */
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/t\",\"body\":{\"type\":\"template\","
         "\"content_type\":\"text/plain\",\"escape\":\"none\"}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body.template"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/t\",\"body\":{\"type\":\"template\","
         "\"content_type\":\"text/plain\",\"template\":[\"a\"],\"escape\":\"none\"}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body.template"},
        {NULL, NULL, TPL("text/plain", "a\\u0000b", "none"), "{}", MD_ERR_VALUE, NULL, NULL, NULL,
         NULL, "request.body.template"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/t\",\"body\":{\"type\":\"template\","
         "\"template\":\"a\",\"escape\":\"none\"}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "content_type"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/t\",\"body\":{\"type\":\"template\","
         "\"content_type\":\"text/plain\",\"template\":\"a\"}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "escape"},
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/t\",\"body\":{\"type\":\"template\","
         "\"content_type\":\"text/plain\",\"template\":\"a\",\"escape\":\"none\",\"x\":1}}",
         "{}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "request.body.x"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, oversized_template_bodies_are_refused)
{
    struct connect_request r;
    struct md_error e;
    json_t *args = json_object();
    enum md_err rc;

    /* Each '&' becomes "&amp;": a fifth of the cap in text is over it once escaped. */
    json_object_set_new(args, "a", long_string(CONNECT_BODY_MAX / 5 + 1, '&'));
    rc = build_simple(BASE, NULL, TPL(XML, "<a>{{a}}</a>", "xml"), args, &r, &e);
    cr_expect_eq(rc, MD_ERR_TOOLARGE, "%s", e.msg);
    cr_expect_null(r.body);
    connect_request_free(&r);

    /* JSON: each quote becomes \" and the whole is quoted. */
    json_object_set_new(args, "a", long_string(CONNECT_BODY_MAX / 2, '"'));
    rc = build_simple(BASE, NULL, TPL(JSONCT, "[{{a}}]", "json"), args, &r, &e);
    cr_expect_eq(rc, MD_ERR_TOOLARGE, "%s", e.msg);
    connect_request_free(&r);

    /* GraphQL: the variables count towards the body. */
    json_object_set_new(args, "id", long_string(CONNECT_BODY_MAX, 'x'));
    json_object_del(args, "a");
    rc = build_simple(BASE, NULL, GQL_DEF(""), args, &r, &e);
    cr_expect_eq(rc, MD_ERR_TOOLARGE, "%s", e.msg);
    connect_request_free(&r);

    /* Just under the cap is fine: "<a>" + text + "</a>". */
    json_object_clear(args);
    json_object_set_new(args, "a", long_string(CONNECT_BODY_MAX - 7, 'a'));
    rc = build_simple(BASE, NULL, TPL(XML, "<a>{{a}}</a>", "xml"), args, &r, &e);
    cr_expect_eq(rc, MD_OK, "%s", e.msg);
    cr_expect_eq(r.body_len, CONNECT_BODY_MAX);
    connect_request_free(&r);

    /* A JSON argument nested deeper than the body's parse limit is refused, not sent. */
    {
        json_t *deep = json_integer(1);
        for (int i = 0; i < 70; i++) {
            json_t *a = json_array();
            json_array_append_new(a, deep);
            deep = a;
        }
        json_object_clear(args);
        json_object_set_new(args, "a", deep);
        rc = build_simple(BASE, NULL, TPL(JSONCT, "[{{a}}]", "json"), args, &r, &e);
        cr_expect_eq(rc, MD_ERR_VALUE, "%s", e.msg);
        cr_expect_null(r.body);
        connect_request_free(&r);
    }
    json_decref(args);
}

/* ---- the calling employee, credential fields and form fields ---- */

/* One build with a context: the request on MD_OK, the message on error (in e). */
static enum md_err build_ctx(const char *def_text, const char *args_text,
                             const struct connect_request_ctx *ctx, struct connect_request *r,
                             struct md_error *e)
{
    json_t *def = parse(def_text), *args = parse(args_text);
    enum md_err err = connect_request_build_ctx(BASE, NULL, def, args, ctx, r, e);
    json_decref(def);
    json_decref(args);
    return err;
}

static const struct connect_request_ctx ALICE = {.caller_user_name = "alice@example.com",
                                                 .caller_email = "alice.smith@example.com"};

Test(test_request, caller_in_the_path)
{
    struct connect_request r;
    struct md_error e = {0};

    /* Microsoft Graph: only the caller's own mailbox; '@' percent-encoded like any argument. */
    cr_assert_eq(build_ctx("{\"method\": \"GET\", \"path\": "
                           "\"/v1.0/users/{caller.userName}/messages\", \"query\": [\"$top\"]}",
                           "{\"$top\": 5}", &ALICE, &r, &e),
                 MD_OK, "%s", e.msg);
    cr_assert_str_eq(r.url, BASE "/v1.0/users/alice%40example.com/messages?%24top=5");
    connect_request_free(&r);
    cr_assert_eq(
        build_ctx("{\"method\": \"GET\", \"path\": \"/m/{caller.email}\"}", "{}", &ALICE, &r, &e),
        MD_OK, "%s", e.msg);
    cr_assert_str_eq(r.url, BASE "/m/alice.smith%40example.com");
    connect_request_free(&r);

    /* An argument of that name changes nothing, and is refused as unsent. */
    cr_assert_eq(build_ctx("{\"method\": \"GET\", \"path\": \"/u/{caller.userName}\"}",
                           "{\"caller.userName\": \"mallory@example.com\"}", &ALICE, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "is not sent") != NULL, "%s", e.msg);
    /* Without a caller, refused. */
    cr_assert_eq(
        build_ctx("{\"method\": \"GET\", \"path\": \"/u/{caller.userName}\"}", "{}", NULL, &r, &e),
        MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "no calling user") != NULL, "%s", e.msg);
    /* Only the two attributes; never a credential in a URL. */
    cr_assert_eq(
        build_ctx("{\"method\": \"GET\", \"path\": \"/u/{caller.id}\"}", "{}", &ALICE, &r, &e),
        MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "caller.id") != NULL, "%s", e.msg);
    cr_assert_eq(
        build_ctx("{\"method\": \"GET\", \"path\": \"/u/{credential.key}\"}", "{}", &ALICE, &r, &e),
        MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "never goes in a URL") != NULL, "%s", e.msg);
    /* A userName of dots would climb the path: refused like such an argument. */
    {
        struct connect_request_ctx dots = {.caller_user_name = "..", .caller_email = ".."};
        cr_assert_eq(build_ctx("{\"method\": \"GET\", \"path\": \"/u/{caller.userName}/x\"}", "{}",
                               &dots, &r, &e),
                     MD_ERR_VALUE);
    }
}

Test(test_request, caller_and_credential_in_templates)
{
    struct connect_request r;
    struct md_error e = {0};
    json_t *cred = parse("{\"partnerUserID\": \"aa_api\", \"partnerUserSecret\": \"s\\\"3<&\"}");
    struct connect_request_ctx ctx = ALICE;

    ctx.credential = cred;
    /* XML: escaped like an argument. */
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"template\", \"content_type\": \"application/xml\", \"escape\": "
                           "\"xml\", \"template\": \"<a u='{{caller.userName}}'>"
                           "<p>{{credential.partnerUserSecret}}</p><n>{{n}}</n></a>\"}}",
                           "{\"n\": 1}", &ctx, &r, &e),
                 MD_OK, "%s", e.msg);
    cr_assert_str_eq(r.body, "<a u='alice@example.com'><p>s&quot;3&lt;&amp;</p><n>1</n></a>");
    connect_request_free(&r);
    /* JSON: a quoted string where a value goes. */
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"template\", \"content_type\": \"application/json\", \"escape\": "
                           "\"json\", \"template\": \"{\\\"who\\\": {{caller.email}}, "
                           "\\\"secret\\\": {{credential.partnerUserSecret}}}\"}}",
                           "{}", &ctx, &r, &e),
                 MD_OK, "%s", e.msg);
    cr_assert_str_eq(r.body, "{\"who\": \"alice.smith@example.com\", \"secret\": \"s\\\"3<&\"}");
    connect_request_free(&r);

    /* A field the credential lacks is refused, naming the field. */
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"template\", \"content_type\": \"text/plain\", \"escape\": \"none\", "
                           "\"template\": \"{{credential.nope}}\"}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "nope") != NULL, "%s", e.msg);
    /* No credential at all: the same. */
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"template\", \"content_type\": \"text/plain\", \"escape\": \"none\", "
                           "\"template\": \"{{credential.partnerUserID}}\"}}",
                           "{}", &ALICE, &r, &e),
                 MD_ERR_VALUE);
    /* Neither can be optional; an unknown caller attribute is a template error. */
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"template\", \"content_type\": \"text/plain\", \"escape\": \"none\", "
                           "\"template\": \"{{caller.email?}}\"}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "only an argument may be optional") != NULL, "%s", e.msg);
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"template\", \"content_type\": \"text/plain\", \"escape\": \"none\", "
                           "\"template\": \"{{caller.manager}}\"}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "caller.manager") != NULL, "%s", e.msg);
    /* Inside a JSON string literal, refused like an argument's placeholder. */
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"template\", \"content_type\": \"application/json\", \"escape\": "
                           "\"json\", \"template\": \"{\\\"a\\\": \\\"{{credential.x}}\\\"}\"}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "inside a JSON string") != NULL, "%s", e.msg);
    json_decref(cred);
}

/*
 * Expensify's Integration Server wants requestJobDescription=<JSON> as a form body; the JSON
 * carries the partner credentials and the agent's arguments, each escaped as JSON, and the
 * whole value is form-encoded, so no argument can add a field.
 */
Test(test_request, form_fields_body)
{
    static const char def[] =
        "{\"method\": \"POST\", \"path\": \"/Integration-Server/ExpensifyIntegrations\", "
        "\"body\": {\"type\": \"form\", \"fields\": {\"requestJobDescription\": {\"template\": "
        "\"{\\\"type\\\": \\\"get\\\", \\\"credentials\\\": {\\\"partnerUserID\\\": "
        "{{credential.partnerUserID}}, \\\"partnerUserSecret\\\": "
        "{{credential.partnerUserSecret}}}, \\\"inputSettings\\\": {\\\"type\\\": "
        "\\\"policyList\\\", \\\"adminOnly\\\": {{admin_only}}}}\", \"escape\": \"json\"}, "
        "\"note\": \"by {{caller.email}}\"}}}";
    json_t *cred = parse("{\"partnerUserID\": \"aa_api\", \"partnerUserSecret\": \"x&y=z\"}");
    struct connect_request_ctx ctx = ALICE;
    struct connect_request r;
    struct md_error e = {0};

    ctx.credential = cred;
    cr_assert_eq(build_ctx(def, "{\"admin_only\": true}", &ctx, &r, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(header_get(&r, "Content-Type"), "application/x-www-form-urlencoded");
    cr_assert_str_eq(
        r.body, "requestJobDescription=%7B%22type%22%3A%20%22get%22%2C%20%22credentials%22%3A%20%7B"
                "%22partnerUserID%22%3A%20%22aa_api%22%2C%20%22partnerUserSecret%22%3A%20%22x%26y%3"
                "Dz%22%7D%2C%20%22inputSettings%22%3A%20%7B%22type%22%3A%20%22policyList%22%2C%20%2"
                "2adminOnly%22%3A%20true%7D%7D&note=by%20alice.smith%40example.com");
    connect_request_free(&r);

    /* An argument no field uses is refused, as with a template. */
    cr_assert_eq(build_ctx(def, "{\"admin_only\": true, \"extra\": 1}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "extra") != NULL, "%s", e.msg);
    /* A "json" field's template is checked like a JSON template. */
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"form\", \"fields\": {\"j\": {\"template\": \"{\\\"a\\\": }\", "
                           "\"escape\": \"json\"}}}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "request.body.fields.j") != NULL, "%s", e.msg);
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"form\", \"fields\": {}}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"form\", \"fields\": {\"a\": 1}}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert_eq(build_ctx("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                           "\"form\", \"fields\": {\"a\": {\"template\": \"x\", \"escape\": "
                           "\"html\"}}}}",
                           "{}", &ctx, &r, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "escape") != NULL, "%s", e.msg);
    json_decref(cred);
}

Test(test_request, credential_fields_listed)
{
    json_t *def = parse("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": \"form\", "
                        "\"fields\": {\"a\": \"{{credential.one}} {{arg}} {{caller.email}}\", "
                        "\"b\": {\"template\": \"[{{credential.two}}]\", \"escape\": \"json\"}}}}");
    json_t *tpl = parse("{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": "
                        "\"template\", \"content_type\": \"text/xml\", \"escape\": \"xml\", "
                        "\"template\": \"<a>{{credential.three}}{{{{credential.no}}</a>\"}}");
    json_t *names = json_object();
    struct md_error e = {0};

    cr_assert_eq(connect_request_credential_fields(def, names, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(connect_request_credential_fields(tpl, names, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(json_object_size(names), 3);
    cr_assert_not_null(json_object_get(names, "one"));
    cr_assert_not_null(json_object_get(names, "two"));
    cr_assert_not_null(json_object_get(names, "three"));
    json_decref(names);
    json_decref(def);
    json_decref(tpl);
}

Test(test_request, query_parameters_named_apart_from_arguments)
{
    static const struct rcase cases[] = {
        /* PagerDuty's statuses[]: the array repeats the bracketed name; plain entries mix in. */
        {NULL, NULL,
         "{\"method\":\"GET\",\"path\":\"/"
         "incidents\",\"query\":[\"since\",{\"name\":\"statuses[]\","
         "\"arg\":\"statuses\"},{\"name\":\"urgencies[]\",\"arg\":\"urgencies\"}]}",
         "{\"statuses\":[\"triggered\",\"acknowledged\"],\"since\":\"2024-06-01\",\"urgencies\":[]"
         "}",
         MD_OK, "GET",
         BASE "/incidents?since=2024-06-01&statuses%5B%5D=triggered&statuses%5B%5D=acknowledged",
         NULL, NULL, NULL},
        /* Graph's $top and $search: the name is encoded like any other. */
        {NULL, NULL,
         "{\"method\":\"GET\",\"path\":\"/me/messages\",\"query\":[{\"name\":\"$search\",\"arg\":"
         "\"query\"},{\"name\":\"$top\",\"arg\":\"top\"}]}",
         "{\"top\":5,\"query\":\"\\\"a b\\\"\"}", MD_OK, "GET",
         BASE "/me/messages?%24search=%22a%20b%22&%24top=5", NULL, NULL, NULL},
        /* An absent or null argument sends nothing. */
        {NULL, NULL,
         "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[{\"name\":\"$top\",\"arg\":\"top\"}]}",
         "{\"top\":null}", MD_OK, "GET", BASE "/s", NULL, NULL, NULL},
        /* Only the argument's name counts: an argument named like the parameter is not sent. */
        {NULL, NULL,
         "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[{\"name\":\"$top\",\"arg\":\"top\"}]}",
         "{\"$top\":5}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "$top"},
        /* The argument the query uses is not in the JSON body too. */
        {NULL, NULL,
         "{\"method\":\"POST\",\"path\":\"/x\",\"query\":[{\"name\":\"ids[]\",\"arg\":\"ids\"}],"
         "\"body\":\"json\"}",
         "{\"ids\":[1,2],\"note\":\"n\"}", MD_OK, "POST", BASE "/x?ids%5B%5D=1&ids%5B%5D=2",
         "{\"note\":\"n\"}", JSONCT, NULL},
        /* Objects are refused as for any query argument, naming the argument. */
        {NULL, NULL,
         "{\"method\":\"GET\",\"path\":\"/s\",\"query\":[{\"name\":\"f[]\",\"arg\":\"f\"}]}",
         "{\"f\":[{\"a\":1}]}", MD_ERR_VALUE, NULL, NULL, NULL, NULL, "query argument f:"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(test_request, query_entries_are_validated)
{
    static const struct {
        const char *def;
        const char *msg_has;
    } cases[] = {
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":[{\"name\":\"a[]\"}]}",
         "request.query[0] must have both \"name\" (the parameter) and \"arg\""},
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":[{\"arg\":\"a\"}]}", "request.query[0]"},
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"x\",{\"name\":\"a[]\",\"arg\":\"a\","
         "\"explode\":false}]}",
         "request.query[1] must be {\"name\": PARAMETER, \"arg\": ARGUMENT}"},
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":[{\"name\":\"\",\"arg\":\"a\"}]}",
         "request.query[0]"},
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":[{\"name\":\"a\",\"arg\":7}]}",
         "request.query[0]"},
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":[7]}", "request.query[0]"},
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":[\"a\",{\"name\":\"a[]\",\"arg\":\"a\"}]}",
         "the argument a is listed twice"},
        {"{\"method\":\"GET\",\"path\":\"/"
         "s\",\"query\":[\"top\",{\"name\":\"top\",\"arg\":\"n\"}]}",
         "the parameter top is listed twice"},
        {"{\"method\":\"GET\",\"path\":\"/s/"
         "{id}\",\"query\":[{\"name\":\"ids[]\",\"arg\":\"id\"}]}",
         "id is also a path placeholder"},
        {"{\"method\":\"GET\",\"path\":\"/s\",\"query\":{\"a\":\"b\"}}",
         "request.query must be an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *def = parse(cases[i].def);
        struct md_error e;
        md_error_clear(&e);
        /* The check a connector gets when it is loaded says what every call would say. */
        cr_expect_eq(connect_request_check(def, &e), MD_ERR_VALUE, "case %zu", i);
        cr_expect(strstr(e.msg, cases[i].msg_has) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
                  e.msg, cases[i].msg_has);
        json_decref(def);
    }
}

Test(test_request, request_check_reads_every_template)
{
    static const char *const good[] = {
        "{\"method\":\"GET\",\"path\":\"/a/"
        "{b}\",\"query\":[\"c\",{\"name\":\"$d\",\"arg\":\"d\"}]}",
        "{\"method\":\"POST\",\"path\":\"/x\",\"body\":{\"type\":\"template\",\"content_type\":"
        "\"application/xml\",\"escape\":\"xml\",\"template\":\"<a>{{b}}</a>\"}}",
    };
    static const char *const bad[] = {
        "{\"method\":\"POST\",\"path\":\"/x\",\"body\":{\"type\":\"template\",\"content_type\":"
        "\"text/csv\",\"escape\":\"none\",\"template\":\"{{b}}\"}}",
        "{\"method\":\"POST\",\"path\":\"/x\",\"body\":{\"type\":\"template\",\"content_type\":"
        "\"application/json\",\"escape\":\"json\",\"template\":\"{\\\"a\\\": \\\"{{b}}\\\"}\"}}",
        "{\"method\":\"GET\",\"path\":\"/x\",\"extra\":1}",
    };
    struct md_error e;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *def = parse(good[i]);
        md_error_clear(&e);
        cr_expect_eq(connect_request_check(def, &e), MD_OK, "good %zu: %s", i, e.msg);
        json_decref(def);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *def = parse(bad[i]);
        md_error_clear(&e);
        cr_expect_eq(connect_request_check(def, &e), MD_ERR_VALUE, "bad %zu", i);
        cr_expect_neq(e.msg[0], '\0');
        json_decref(def);
    }
}
