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
