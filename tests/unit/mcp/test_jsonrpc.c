#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "mcp/jsonrpc.h"

/* Compact text of a borrowed value, for comparing ids; caller frees. */
static char *dump(const json_t *v)
{
    char *s = json_dump_compact(v);
    cr_assert_not_null(s);
    return s;
}

static enum md_err parse_str(const char *body, struct mcp_msg *m, struct mcp_rpc_error *e)
{
    return mcp_jsonrpc_parse(body, strlen(body), m, e);
}

struct valid_case {
    const char *body;
    enum mcp_msg_kind kind;
    const char *method; /* NULL for responses */
    const char *id;     /* the id as compact JSON, NULL when none */
    bool params;
};

static const struct valid_case valid_cases[] = {
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", MCP_MSG_REQUEST, "ping", "1", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":\"a-1\",\"method\":\"tools/list\",\"params\":{}}",
     MCP_MSG_REQUEST, "tools/list", "\"a-1\"", true},
    {" \r\n\t{\"method\":\"tools/"
     "call\",\"params\":{\"name\":\"x\"},\"id\":0,\"jsonrpc\":\"2.0\"}\n",
     MCP_MSG_REQUEST, "tools/call", "0", true},
    {"{\"jsonrpc\":\"2.0\",\"id\":-42,\"method\":\"ping\"}", MCP_MSG_REQUEST, "ping", "-42", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"ping\"}", MCP_MSG_REQUEST,
     "ping", "9223372036854775807", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"ping\"}", MCP_MSG_REQUEST,
     "ping", "-9223372036854775808", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"\"}", MCP_MSG_REQUEST, "", "\"\"", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":\"caf\\u00e9 \\\"q\\\" \\u0000nul\",\"method\":\"ping\"}",
     MCP_MSG_REQUEST, "ping", "\"caf\xc3\xa9 \\\"q\\\" \\u0000nul\"", false},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", MCP_MSG_NOTIFICATION,
     "notifications/initialized", NULL, false},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":3}}",
     MCP_MSG_NOTIFICATION, "notifications/cancelled", NULL, true},
    /* Members JSON-RPC does not define are ignored, as MCP's _meta-style extensions expect. */
    {"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"x-extra\":true}", MCP_MSG_REQUEST, "ping",
     "2", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", MCP_MSG_RESPONSE, NULL, "5", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"error\":{\"code\":-1,\"message\":\"no\",\"data\":[1]}}",
     MCP_MSG_RESPONSE, NULL, "\"s\"", false},
    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}",
     MCP_MSG_RESPONSE, NULL, NULL, false},
    {"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"Invalid Request\"}}",
     MCP_MSG_RESPONSE, NULL, NULL, false},
};

Test(test_jsonrpc, valid_messages_are_classified)
{
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const struct valid_case *c = &valid_cases[i];
        struct mcp_rpc_error e;
        struct mcp_msg m;
        enum md_err rc = parse_str(c->body, &m, &e);

        cr_assert_eq(rc, MD_OK, "case %zu: rc %s (%d: %s)", i, md_err_name(rc), e.code, e.message);
        cr_assert_eq(m.kind, c->kind, "case %zu: kind %d", i, m.kind);
        cr_assert_not_null(m.root);
        if (c->method)
            cr_assert_str_eq(m.method, c->method, "case %zu", i);
        else
            cr_assert_null(m.method, "case %zu", i);
        if (c->id) {
            char *s = dump(m.id);
            cr_assert_str_eq(s, c->id, "case %zu: id %s", i, s);
            free(s);
        } else {
            cr_assert_null(m.id, "case %zu", i);
        }
        cr_assert_eq(m.params != NULL, c->params, "case %zu", i);
        if (m.params)
            cr_assert(json_is_object(m.params));
        if (m.kind == MCP_MSG_RESPONSE)
            cr_assert((m.result != NULL) != (m.error != NULL), "case %zu", i);
        else
            cr_assert(!m.result && !m.error, "case %zu", i);
        mcp_msg_free(&m);
        cr_assert_null(m.root);
    }
}

struct invalid_case {
    const char *body;
    size_t len; /* 0: strlen(body) */
    enum md_err rc;
    int code;
    const char *says; /* a part of the message */
    const char *id;   /* the id to echo as compact JSON, NULL for null */
};

static const struct invalid_case invalid_cases[] = {
    /* Not JSON text: Parse error, id null. */
    {"", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    {"   ", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR,
     "Parse error", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR,
     "Parse error", NULL},
    {"{'jsonrpc':'2.0'}", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    {"nope", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    {"1 2", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    {"\"a\", \"b\"", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    /* A later duplicate would change the method under a reader that keeps the last one. */
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"method\":\"tools/call\"}", 0,
     MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "duplicate", NULL},
    /* Bytes that are not UTF-8 (a lone continuation byte, an overlong '/'). */
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\x80ng\"}", 0, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR,
     "Parse error", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    {"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    /* An embedded NUL byte outside a string. */
    {"{\"jsonrpc\":\"2.0\",\0\"id\":1}", sizeof("{\"jsonrpc\":\"2.0\",\0\"id\":1}") - 1,
     MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error", NULL},
    /* jansson holds integers in 64 bits, so a larger id fails the parse itself. */
    {"{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_PARSE_ERROR, "Parse error", NULL},

    /* JSON, but not a message object: Invalid Request, id null. */
    {"42", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "must be a JSON object", NULL},
    {" \"ping\" ", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "must be a JSON object", NULL},
    {"null", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "must be a JSON object", NULL},
    {"true", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "must be a JSON object", NULL},
    /* Batches, MCP 2025-06-18 and later. */
    {"[]", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "batches are not supported", NULL},
    {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]",
     0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "batches are not supported", NULL},
    {"[1]", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "batches are not supported", NULL},
    /* The version member. */
    {"{\"id\":1,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "jsonrpc", "1"},
    {"{\"jsonrpc\":\"1.0\",\"id\":\"k\",\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "jsonrpc", "\"k\""},
    {"{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "jsonrpc", "1"},
    {"{\"jsonrpc\":\"2.0\\u0000\",\"id\":1,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "jsonrpc", "1"},
    /* The method member. */
    {"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":1}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "method must be a string", "7"},
    {"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":null}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "method must be a string", "7"},
    {"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\\u0000x\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "NUL", "7"},
    {"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"result\":{}}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "must not have a result", "7"},
    /* Request ids of a wrong type: null is forbidden by MCP, fractions and others by both. */
    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "id must be a string or an integer", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "id must be", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "id must be", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":1e3,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "id must be", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "id must be", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "id must be", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "id must be", NULL},
    /* params: structured (JSON-RPC 4.2), and an object for MCP. */
    {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":\"x\"}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "params must be an object", "3"},
    {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":null}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "params must be an object", "3"},
    {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":[1,2]}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_PARAMS, "positional", "3"},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\",\"params\":[]}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_PARAMS, "positional", NULL},
    /* Responses. */
    {"{\"jsonrpc\":\"2.0\",\"id\":4}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "needs a method, a result or an error", "4"},
    {"{\"jsonrpc\":\"2.0\"}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "needs a method, a result or an error", NULL},
    {"{}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "jsonrpc", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{},\"error\":{\"code\":1,\"message\":\"m\"}}", 0,
     MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "both a result and an error", "4"},
    {"{\"jsonrpc\":\"2.0\",\"result\":{}}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "needs the id", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "id must be", NULL},
    {"{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":[]}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "result must be an object", "4"},
    {"{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":1.5,\"message\":\"m\"}}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "integer code", "4"},
    {"{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":1}}", 0, MD_ERR_SYNTAX,
     MCP_RPC_INVALID_REQUEST, "string message", "4"},
    {"{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":\"bad\"}", 0, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
     "error must be an object", "4"},
    {"{\"jsonrpc\":\"2.0\",\"id\":false,\"error\":{\"code\":1,\"message\":\"m\"}}", 0,
     MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "id must be", NULL},
};

Test(test_jsonrpc, invalid_messages_get_code_message_and_id)
{
    for (size_t i = 0; i < sizeof invalid_cases / sizeof invalid_cases[0]; i++) {
        const struct invalid_case *c = &invalid_cases[i];
        size_t len = c->len ? c->len : strlen(c->body);
        struct mcp_rpc_error e;
        struct mcp_msg m;
        enum md_err rc = mcp_jsonrpc_parse(c->body, len, &m, &e);

        cr_assert_eq(rc, c->rc, "case %zu: rc %s", i, md_err_name(rc));
        cr_assert_eq(e.code, c->code, "case %zu: code %d (%s)", i, e.code, e.message);
        cr_assert(strstr(e.message, c->says) != NULL, "case %zu: message \"%s\"", i, e.message);
        cr_assert_eq(m.kind, MCP_MSG_INVALID, "case %zu", i);
        cr_assert(!m.method && !m.params && !m.result && !m.error, "case %zu", i);
        if (c->id) {
            char *s = dump(m.id);
            cr_assert_str_eq(s, c->id, "case %zu", i);
            free(s);
        } else {
            cr_assert_null(m.id, "case %zu", i);
        }
        mcp_msg_free(&m);
    }
}

/*
 * An error response for a refused message parses back as a response with that code and id.
 * This is what the transport will do for every refusal.
 */
Test(test_jsonrpc, refusals_build_error_responses_that_parse_back)
{
    for (size_t i = 0; i < sizeof invalid_cases / sizeof invalid_cases[0]; i++) {
        const struct invalid_case *c = &invalid_cases[i];
        size_t len = c->len ? c->len : strlen(c->body);
        struct mcp_rpc_error e, e2;
        struct mcp_msg m, back;
        char *text = NULL;

        cr_assert_neq(mcp_jsonrpc_parse(c->body, len, &m, &e), MD_OK);
        cr_assert_eq(mcp_jsonrpc_error(m.id, e.code, e.message, NULL, &text), MD_OK);
        cr_assert_eq(parse_str(text, &back, &e2), MD_OK, "case %zu: %s", i, text);
        cr_assert_eq(back.kind, MCP_MSG_RESPONSE);
        cr_assert_eq(json_integer_value(json_object_get(back.error, "code")), c->code);
        cr_assert_str_eq(json_string_value(json_object_get(back.error, "message")), e.message);
        if (m.id)
            cr_assert(json_equal(back.id, m.id), "case %zu", i);
        else
            cr_assert(json_is_null(json_object_get(back.root, "id")), "case %zu: %s", i, text);
        free(text);
        mcp_msg_free(&back);
        mcp_msg_free(&m);
    }
}

/* A request whose params member holds levels nested arrays; returns its length. */
static size_t nested_request(char *buf, size_t cap, int levels)
{
    int n = snprintf(buf, cap, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"p\":");
    size_t len = (size_t)n;

    cr_assert(n > 0 && len + 2 * (size_t)levels + 1 <= cap);
    memset(buf + len, '[', (size_t)levels);
    len += (size_t)levels;
    memset(buf + len, ']', (size_t)levels);
    len += (size_t)levels;
    buf[len++] = '}';
    return len;
}

Test(test_jsonrpc, oversized_and_deep_bodies)
{
    size_t big = MCP_MAX_MESSAGE + 1;
    char *body = malloc(big);
    struct mcp_rpc_error e;
    struct mcp_msg m;
    char deep[2 * MCP_MAX_DEPTH + 64];
    size_t n;

    cr_assert_not_null(body);
    /* A well-formed request padded with whitespace to one byte over the limit. */
    memset(body, ' ', big);
    memcpy(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", 40);
    cr_assert_eq(mcp_jsonrpc_parse(body, big, &m, &e), MD_ERR_TOOLARGE);
    cr_assert_eq(e.code, MCP_RPC_INVALID_REQUEST);
    cr_assert(strstr(e.message, "exceeds the limit") != NULL, "%s", e.message);
    cr_assert_null(m.root);
    mcp_msg_free(&m);
    /* Exactly at the limit it is accepted. */
    cr_assert_eq(mcp_jsonrpc_parse(body, big - 1, &m, &e), MD_OK, "%s", e.message);
    cr_assert_eq(m.kind, MCP_MSG_REQUEST);
    mcp_msg_free(&m);
    free(body);

    /* params nested one level deeper than allowed: the whole message is at depth 33. */
    n = nested_request(deep, sizeof deep, MCP_MAX_DEPTH);
    cr_assert_eq(mcp_jsonrpc_parse(deep, n, &m, &e), MD_ERR_SYNTAX);
    cr_assert_eq(e.code, MCP_RPC_PARSE_ERROR);
    cr_assert(strstr(e.message, "deeper") != NULL, "%s", e.message);
    cr_assert_null(m.id, "the id of a message that was not parsed cannot be echoed");
    mcp_msg_free(&m);
    /* One level less is fine. */
    n = nested_request(deep, sizeof deep, MCP_MAX_DEPTH - 1);
    cr_assert_eq(mcp_jsonrpc_parse(deep, n, &m, &e), MD_OK, "%.*s: %s", (int)n, deep, e.message);
    cr_assert_eq(m.kind, MCP_MSG_REQUEST);
    mcp_msg_free(&m);
}

Test(test_jsonrpc, result_builder_echoes_ids_exactly)
{
    static const char *const ids[] = {
        "1",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "\"abc\"",
        "\"\"",
        "\"\\u0000\\n\\\"\\\\ \xe2\x82\xac\"",
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char req[256];
        struct mcp_rpc_error e;
        struct mcp_msg m, back;
        json_t *result = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", "hi");
        char *text = NULL, *want = NULL, *got = NULL;
        int n = snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}",
                         ids[i]);

        cr_assert(n > 0 && (size_t)n < sizeof req);
        cr_assert_eq(parse_str(req, &m, &e), MD_OK, "id %s: %s", ids[i], e.message);
        cr_assert_eq(mcp_jsonrpc_result(m.id, result, &text), MD_OK);
        cr_assert_eq(parse_str(text, &back, &e), MD_OK, "%s", text);
        cr_assert_eq(back.kind, MCP_MSG_RESPONSE);
        cr_assert(json_equal(back.result, result));
        want = dump(m.id);
        got = dump(back.id);
        cr_assert_str_eq(got, want);
        /* The envelope in its written order, so the text itself can be checked. */
        cr_assert(strncmp(text, "{\"jsonrpc\":\"2.0\",\"id\":", 22) == 0, "%s", text);
        cr_assert_eq(json_object_size(back.root), 3);
        free(want);
        free(got);
        free(text);
        json_decref(result);
        mcp_msg_free(&back);
        mcp_msg_free(&m);
    }
}

Test(test_jsonrpc, result_builder_text_is_exact)
{
    json_t *id = json_integer(7);
    json_t *result = json_object();
    char *text = NULL;

    cr_assert_eq(mcp_jsonrpc_result(id, result, &text), MD_OK);
    cr_assert_str_eq(text, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}");
    free(text);
    /* The caller keeps its references. */
    cr_assert_eq(id->refcount, 1);
    cr_assert_eq(result->refcount, 1);
    json_decref(id);
    json_decref(result);
}

Test(test_jsonrpc, result_builder_refuses_what_is_not_a_response)
{
    json_t *id = json_string("x");
    json_t *bad_id = json_real(1.5);
    json_t *null_id = json_null();
    json_t *obj = json_object();
    json_t *arr = json_array();
    char *text = (char *)(uintptr_t)1;

    cr_assert_eq(mcp_jsonrpc_result(NULL, obj, &text), MD_ERR_VALUE);
    cr_assert_null(text);
    cr_assert_eq(mcp_jsonrpc_result(bad_id, obj, &text), MD_ERR_VALUE);
    cr_assert_eq(mcp_jsonrpc_result(null_id, obj, &text), MD_ERR_VALUE);
    cr_assert_eq(mcp_jsonrpc_result(id, arr, &text), MD_ERR_VALUE);
    cr_assert_eq(mcp_jsonrpc_result(id, NULL, &text), MD_ERR_VALUE);
    cr_assert_null(text);
    json_decref(id);
    json_decref(bad_id);
    json_decref(null_id);
    json_decref(obj);
    json_decref(arr);
}

Test(test_jsonrpc, error_builder_text_and_data)
{
    json_t *id = json_string("r-1");
    json_t *data = json_pack("{s:s}", "tool", "github__list_issues");
    char *text = NULL;
    struct mcp_rpc_error e;
    struct mcp_msg back;

    cr_assert_eq(mcp_jsonrpc_error(NULL, MCP_RPC_PARSE_ERROR, "Parse error", NULL, &text), MD_OK);
    cr_assert_str_eq(text, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
                           "\"message\":\"Parse error\"}}");
    free(text);

    cr_assert_eq(mcp_jsonrpc_error(id, MCP_RPC_INVALID_PARAMS, "Unknown tool", data, &text), MD_OK);
    cr_assert_str_eq(text, "{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"error\":{\"code\":-32602,"
                           "\"message\":\"Unknown tool\",\"data\":{\"tool\":"
                           "\"github__list_issues\"}}}");
    cr_assert_eq(parse_str(text, &back, &e), MD_OK);
    cr_assert_eq(back.kind, MCP_MSG_RESPONSE);
    cr_assert(json_equal(json_object_get(back.error, "data"), data));
    mcp_msg_free(&back);
    free(text);
    cr_assert_eq(data->refcount, 1);

    /* Refusals: an id of a wrong type, no message. */
    cr_assert_eq(mcp_jsonrpc_error(data, -32603, "x", NULL, &text), MD_ERR_VALUE);
    cr_assert_null(text);
    cr_assert_eq(mcp_jsonrpc_error(id, -32603, NULL, NULL, &text), MD_ERR_VALUE);
    cr_assert_null(text);
    json_decref(id);
    json_decref(data);
}

Test(test_jsonrpc, error_builder_repairs_messages_that_are_not_utf8)
{
    char *text = NULL;
    json_t *v;

    /* A euro sign cut after its second byte, as snprintf into a fixed buffer may leave it. */
    cr_assert_eq(mcp_jsonrpc_error(NULL, -32602, "price in \xe2\x82", NULL, &text), MD_OK);
    v = json_loads(text, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                     "price in ");
    json_decref(v);
    free(text);
    /* Invalid in the middle: the standard text for the code. */
    cr_assert_eq(mcp_jsonrpc_error(NULL, -32602, "a\xffz and more", NULL, &text), MD_OK);
    v = json_loads(text, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                     "Invalid params");
    json_decref(v);
    free(text);
    cr_assert_eq(mcp_jsonrpc_error(NULL, -32001, "\xff\xff\xff\xff\xff", NULL, &text), MD_OK);
    cr_assert(strstr(text, "\"Server error\"") != NULL, "%s", text);
    free(text);
}

Test(test_jsonrpc, free_is_safe_twice_and_on_null)
{
    struct mcp_rpc_error e;
    struct mcp_msg m;

    cr_assert_eq(parse_str("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &m, &e), MD_OK);
    mcp_msg_free(&m);
    mcp_msg_free(&m);
    mcp_msg_free(NULL);
    cr_assert_null(m.root);
    cr_assert_eq(m.kind, MCP_MSG_INVALID);
}

Test(test_jsonrpc, jsonrpc_codes_for_handler_errors)
{
    cr_assert_eq(md_err_jsonrpc_code(MD_OK), 0);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_VALUE), MCP_RPC_INVALID_PARAMS);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_SYNTAX), MCP_RPC_INVALID_PARAMS);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_FILTER), MCP_RPC_INVALID_PARAMS);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_NOTFOUND), MCP_RPC_INVALID_PARAMS);
    /* Not entitled and not existing must look the same. */
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_FORBIDDEN), md_err_jsonrpc_code(MD_ERR_NOTFOUND));
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_UNSUPPORTED), MCP_RPC_METHOD_NOT_FOUND);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_METHOD), MCP_RPC_METHOD_NOT_FOUND);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_TOOLARGE), MCP_RPC_INVALID_REQUEST);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_UNAUTHORIZED), -32000);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_NOMEM), MCP_RPC_INTERNAL_ERROR);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_IO), MCP_RPC_INTERNAL_ERROR);
    cr_assert_eq(md_err_jsonrpc_code(MD_ERR_UNAVAILABLE), MCP_RPC_INTERNAL_ERROR);
    cr_assert_eq(md_err_jsonrpc_code((enum md_err)999), MCP_RPC_INTERNAL_ERROR);
    /* Every code maps into the range JSON-RPC reserves, or to 0 for success only. */
    for (int c = 1; c < MD_ERR__COUNT; c++) {
        int j = md_err_jsonrpc_code((enum md_err)c);
        cr_assert(j >= -32768 && j <= -32000, "%s -> %d", md_err_name((enum md_err)c), j);
    }
}
