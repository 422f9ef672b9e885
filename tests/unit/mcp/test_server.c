/*
 * The MCP message layer (server.c), driven through mcp_handle with a real access service on a
 * SQLite store (access_fixture.h) and no connector runtime: which revision a message speaks
 * (the initialize handshake, the MCP-Protocol-Version header, the 2026-07-28 envelope in
 * params._meta and its standard headers), the errors each revision asks for with their HTTP
 * status, server/discover, "resultType" on modern results only, notifications and responses
 * (202, no body) and what the JSON-RPC parser refuses (400 with its code).
 *
 * Every reply is parsed back and checked as JSON; exact text is compared only where the text
 * is the rule (a version, a method name, the parser's own message).
 *
 * The world is small: connector pay (refund destructive, charges read), user u-alice in group
 * g-fin, and grant G1 of pay__charges to g-fin. With no runtime, an allowed call answers the
 * tool error "No connector runtime runs here.", which shows that the call got past the checks.
 */
#include "access/access_fixture.h"

#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"
#include "mcp/mcp_int.h"

#define V06 MCP_VERSION_2025_06
#define V11 MCP_VERSION_2025_11
#define V26 MCP_VERSION_2026_07
#define SERVER_VERSION "9.8.7-test"
#define NO_RUNTIME "No connector runtime runs here."

static struct mcp_server *srv;

static void make_server(const char *server_version, struct mcp_server **out)
{
    struct mcp_config cfg = {0};
    struct md_error e = {0};

    cfg.access = fx.a;
    cfg.rt = NULL;
    cfg.page_size = 0;
    cfg.server_version = server_version;
    cr_assert_eq(mcp_server_new(&cfg, out, &e), MD_OK, "%s", e.msg);
    cr_assert_not_null(*out);
}

static void setup(void)
{
    fx_open();
    fx_connector("pay", "refund:destructive,charges:read");
    fx_group("g-fin", "Finance");
    fx_user("u-alice", "alice", true);
    fx_member("g-fin", "u-alice", STORE_MEMBER_USER);
    fx_grant("G1", "{\"subject\": {\"type\": \"group\", \"id\": \"g-fin\"},"
                   " \"tool\": \"pay__charges\"}");
    make_server(SERVER_VERSION, &srv);
}

static void teardown(void)
{
    mcp_server_free(srv);
    srv = NULL;
    fx_close();
}

TestSuite(test_mcp_server, .init = setup, .fini = teardown);

/* ---- building requests ---- */

/*
 * The text of a request: id (JSON text), method, params (JSON object text, or NULL for none).
 * meta (non-NULL) adds the 2026-07-28 envelope with that protocolVersion. Heap; caller frees.
 */
static char *msg(const char *id, const char *method, const char *params, const char *meta)
{
    json_t *m = json_pack("{s:s, s:o, s:s}", "jsonrpc", "2.0", "id", fx_json(id), "method", method);
    json_t *p = NULL;
    json_error_t jerr;
    char *text;

    cr_assert_not_null(m);
    /* Parsed as the server parses: a \u0000 inside a string is kept. */
    if (params) {
        p = json_loads(params, JSON_ALLOW_NUL, &jerr);
        cr_assert_not_null(p, "bad JSON in the test: %s: %s", jerr.text, params);
    }
    if (meta) {
        if (!p)
            p = json_object();
        json_object_set_new(
            p, "_meta",
            json_pack("{s:s, s:{s:s, s:s}, s:{}}", "io.modelcontextprotocol/protocolVersion", meta,
                      "io.modelcontextprotocol/clientInfo", "name", "tests", "version", "1",
                      "io.modelcontextprotocol/clientCapabilities"));
    }
    if (p)
        json_object_set_new(m, "params", p);
    text = json_dumps(m, JSON_COMPACT);
    cr_assert_not_null(text);
    json_decref(m);
    return text;
}

static void never_called(void *cls, struct mcp_reply *r)
{
    (void)cls;
    (void)r;
    cr_assert_fail("with no runtime, no reply may come later");
}

/* What the HTTP layer hands over besides the body. */
struct hdrs {
    const char *version; /* MCP-Protocol-Version */
    const char *method;  /* Mcp-Method */
    const char *name;    /* Mcp-Name */
};

/*
 * Sends body (len bytes) for u-alice and returns the reply's body parsed (NULL when there is
 * none), after checking that the reply was ready at once and that a body is a JSON-RPC 2.0
 * object of the length the reply says. r keeps the status and the version; its body is freed.
 */
static json_t *send_len(const char *body, size_t len, const struct hdrs *h, struct mcp_reply *r)
{
    struct mcp_request req = {0};
    json_error_t jerr;
    json_t *v = NULL;

    req.body = body;
    req.body_len = len;
    req.h_version = h ? h->version : NULL;
    req.h_method = h ? h->method : NULL;
    req.h_name = h ? h->name : NULL;
    req.user_id = "u-alice";
    req.pack = NULL;
    req.token_id = "tok-test";
    req.request_id = "req-test";
    memset(r, 0x5a, sizeof *r);
    cr_assert(mcp_handle(srv, &req, r, never_called, NULL), "the reply must be ready at once");
    if (r->body) {
        cr_assert_eq(r->body_len, strlen(r->body));
        v = json_loadb(r->body, r->body_len, 0, &jerr);
        cr_assert_not_null(v, "the reply is not JSON: %s: %s", jerr.text, r->body);
        cr_assert_str_eq(json_string_value(json_object_get(v, "jsonrpc")), "2.0", "%s", r->body);
        free(r->body);
        r->body = NULL;
    }
    return v;
}

static json_t *send(const char *body, const struct hdrs *h, struct mcp_reply *r)
{
    return send_len(body, strlen(body), h, r);
}

/* Builds with msg, sends, frees the text. */
static json_t *send_msg(const char *id, const char *method, const char *params, const char *meta,
                        const struct hdrs *h, struct mcp_reply *r)
{
    char *text = msg(id, method, params, meta);
    json_t *v = send(text, h, r);
    free(text);
    return v;
}

/* ---- checking replies ---- */

static bool str_is(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* The error of an error response, after checking its code and that it has no result. */
static const json_t *error_of(const json_t *resp, int code, const char *desc)
{
    const json_t *err = json_object_get(resp, "error");

    cr_assert_not_null(err, "%s: no error in the reply", desc);
    cr_assert_null(json_object_get(resp, "result"), "%s", desc);
    cr_assert_eq(json_integer_value(json_object_get(err, "code")), code, "%s: code %lld, not %d",
                 desc, (long long)json_integer_value(json_object_get(err, "code")), code);
    cr_assert(json_is_string(json_object_get(err, "message")), "%s", desc);
    cr_assert_gt(strlen(json_string_value(json_object_get(err, "message"))), 0, "%s", desc);
    return err;
}

static const char *message_of(const json_t *err)
{
    return json_string_value(json_object_get(err, "message"));
}

static const json_t *result_of(const json_t *resp, const char *desc)
{
    const json_t *res = json_object_get(resp, "result");

    cr_assert(json_is_object(res), "%s: no result in the reply", desc);
    cr_assert_null(json_object_get(resp, "error"), "%s", desc);
    return res;
}

static void expect_id(const json_t *resp, const char *id, const char *desc)
{
    json_t *want = fx_json(id);

    cr_assert(fx_json_eq(json_object_get(resp, "id"), want), "%s: id", desc);
    json_decref(want);
}

/* ---- initialize (2025 revisions) ---- */

struct init_case {
    const char *asked;
    const char *granted;
};

static const struct init_case init_cases[] = {
    {V06, V06},
    {V11, V11},
    /* Not spoken here: the latest revision the handshake has. */
    {"2024-11-05", V11},
    {"2025-03-26", V11},
    {"1900-01-01", V11},
    {"", V11},
    /* 2026-07-28 has no handshake; a client that asks for it through one gets the latest. */
    {V26, V11},
};

Test(test_mcp_server, initialize_negotiates_the_revision)
{
    for (size_t i = 0; i < sizeof init_cases / sizeof init_cases[0]; i++) {
        const struct init_case *c = &init_cases[i];
        struct mcp_reply r;
        json_t *params = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", c->asked,
                                   "capabilities", "clientInfo", "name", "t", "version", "1");
        char *ptext = json_dumps(params, JSON_COMPACT);
        json_t *resp = send_msg("\"init-1\"", "initialize", ptext, NULL, NULL, &r);
        const json_t *res = result_of(resp, c->asked);
        json_t *caps = fx_json("{\"tools\": {}}");

        cr_assert_eq(r.status, 200, "%s", c->asked);
        cr_assert(str_is(r.version, c->granted), "%s: reply speaks %s", c->asked,
                  r.version ? r.version : "(null)");
        expect_id(resp, "\"init-1\"", c->asked);
        cr_assert_str_eq(json_string_value(json_object_get(res, "protocolVersion")), c->granted,
                         "asked %s", c->asked);
        cr_assert(fx_json_eq(json_object_get(res, "capabilities"), caps), "%s", c->asked);
        cr_assert_str_eq(
            json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")),
            "mandate");
        cr_assert_str_eq(
            json_string_value(json_object_get(json_object_get(res, "serverInfo"), "version")),
            SERVER_VERSION);
        cr_assert(json_is_string(json_object_get(res, "instructions")));
        cr_assert_null(json_object_get(res, "resultType"), "%s: a 2025 result", c->asked);
        json_decref(caps);
        json_decref(resp);
        free(ptext);
        json_decref(params);
    }
}

Test(test_mcp_server, initialize_needs_protocol_version)
{
    static const char *const params[] = {
        "{}",
        "{\"protocolVersion\": 20250618}",
        "{\"protocolVersion\": null}",
        "{\"protocolVersion\": [\"2025-06-18\"]}",
        "{\"capabilities\": {}, \"clientInfo\": {\"name\": \"t\", \"version\": \"1\"}}",
        NULL, /* no params at all */
    };

    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        const char *desc = params[i] ? params[i] : "(no params)";
        struct mcp_reply r;
        json_t *resp = send_msg("9", "initialize", params[i], NULL, NULL, &r);

        cr_assert_eq(r.status, 200, "%s", desc);
        error_of(resp, MCP_RPC_INVALID_PARAMS, desc);
        expect_id(resp, "9", desc);
        cr_assert(strstr(message_of(json_object_get(resp, "error")), "protocolVersion"), "%s",
                  desc);
        json_decref(resp);
    }
}

/* ---- MCP-Protocol-Version on 2025 requests ---- */

struct header_case {
    const char *header; /* NULL: none */
    int status;
    const char *version; /* the reply's revision, NULL when refused */
};

static const struct header_case header_cases[] = {
    /* No header: a client that has not negotiated, or an old one; taken as the latest. */
    {NULL, 200, V11},          {V06, 200, V06},           {V11, 200, V11},
    {"2025-03-26", 400, NULL}, {"2024-11-05", 400, NULL}, {"1900-01-01", 400, NULL},
    {"junk", 400, NULL},       {"", 400, NULL},           {"2025-11-25 ", 400, NULL},
    {"2025-06-1", 400, NULL},
};

Test(test_mcp_server, header_selects_the_2025_revision)
{
    for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
        const struct header_case *c = &header_cases[i];
        const char *desc = c->header ? c->header : "(no header)";
        struct hdrs h = {c->header, NULL, NULL};
        struct mcp_reply r;
        json_t *resp = send_msg("3", "ping", NULL, NULL, &h, &r);

        cr_assert_eq(r.status, c->status, "%s: status %d", desc, r.status);
        cr_assert(str_is(r.version, c->version), "%s: reply speaks %s", desc,
                  r.version ? r.version : "(null)");
        expect_id(resp, "3", desc);
        if (c->status == 200) {
            json_t *empty = json_object();
            /* ping's result is empty on the 2025 revisions: no resultType. */
            cr_assert(fx_json_eq(result_of(resp, desc), empty), "%s", desc);
            json_decref(empty);
        } else {
            const json_t *err = error_of(resp, MCP_RPC_INVALID_REQUEST, desc);
            /* The refusal names what is spoken here, so that a client can pick. */
            cr_assert(strstr(message_of(err), V26) && strstr(message_of(err), V11) &&
                          strstr(message_of(err), V06),
                      "%s: %s", desc, message_of(err));
        }
        json_decref(resp);
    }
}

Test(test_mcp_server, header_revision_reaches_tools_list)
{
    static const char *const versions[] = {V06, V11};

    for (size_t i = 0; i < 2; i++) {
        struct hdrs h = {versions[i], "tools/list", NULL};
        struct mcp_reply r;
        json_t *resp = send_msg("4", "tools/list", "{}", NULL, &h, &r);
        const json_t *res = result_of(resp, versions[i]);

        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.version, versions[i]);
        cr_assert_eq(json_array_size(json_object_get(res, "tools")), 1);
        cr_assert_null(json_object_get(res, "resultType"));
        cr_assert_null(json_object_get(res, "ttlMs"));
        json_decref(resp);
    }
}

/* ---- 2026-07-28: the envelope and the standard headers ---- */

Test(test_mcp_server, modern_request_is_served)
{
    struct hdrs h = {V26, "tools/list", NULL};
    struct mcp_reply r;
    json_t *resp = send_msg("\"m-1\"", "tools/list", NULL, V26, &h, &r);
    const json_t *res = result_of(resp, "tools/list");
    const json_t *tools = json_object_get(res, "tools");

    cr_assert_eq(r.status, 200);
    cr_assert(str_is(r.version, V26));
    expect_id(resp, "\"m-1\"", "tools/list");
    cr_assert_eq(json_array_size(tools), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                     "pay__charges");
    cr_assert_str_eq(json_string_value(json_object_get(res, "resultType")), "complete");
    json_decref(resp);
}

Test(test_mcp_server, modern_tools_call_with_matching_headers_passes)
{
    struct hdrs h = {V26, "tools/call", "pay__charges"};
    struct mcp_reply r;
    json_t *resp =
        send_msg("5", "tools/call", "{\"name\": \"pay__charges\", \"arguments\": {}}", V26, &h, &r);
    const json_t *res = result_of(resp, "tools/call");

    cr_assert_eq(r.status, 200);
    cr_assert(str_is(r.version, V26));
    cr_assert(json_is_true(json_object_get(res, "isError")));
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(res, "content"), 0), "text")),
                     NO_RUNTIME);
    cr_assert_str_eq(json_string_value(json_object_get(res, "resultType")), "complete");
    json_decref(resp);
}

struct mismatch_case {
    const char *desc;
    const char *method;
    const char *params;
    struct hdrs h;
    const char *names; /* the header the message must name */
};

static const struct mismatch_case mismatch_cases[] = {
    {"no MCP-Protocol-Version",
     "tools/list",
     NULL,
     {NULL, "tools/list", NULL},
     "MCP-Protocol-Version"},
    {"MCP-Protocol-Version 2025-11-25 against the envelope",
     "tools/list",
     NULL,
     {V11, "tools/list", NULL},
     "MCP-Protocol-Version"},
    {"MCP-Protocol-Version 2025-06-18 against the envelope",
     "tools/list",
     NULL,
     {V06, "tools/list", NULL},
     "MCP-Protocol-Version"},
    {"MCP-Protocol-Version junk against the envelope",
     "tools/list",
     NULL,
     {"junk", "tools/list", NULL},
     "MCP-Protocol-Version"},
    {"no Mcp-Method", "tools/list", NULL, {V26, NULL, NULL}, "Mcp-Method"},
    {"Mcp-Method names another method",
     "tools/list",
     NULL,
     {V26, "tools/call", NULL},
     "Mcp-Method"},
    {"Mcp-Method values are case-sensitive",
     "tools/list",
     NULL,
     {V26, "Tools/List", NULL},
     "Mcp-Method"},
    {"an empty Mcp-Method", "tools/list", NULL, {V26, "", NULL}, "Mcp-Method"},
    {"Mcp-Method on server/discover",
     "server/discover",
     NULL,
     {V26, "tools/list", NULL},
     "Mcp-Method"},
    {"tools/call without Mcp-Name",
     "tools/call",
     "{\"name\": \"pay__charges\"}",
     {V26, "tools/call", NULL},
     "Mcp-Name"},
    {"Mcp-Name names another tool",
     "tools/call",
     "{\"name\": \"pay__charges\"}",
     {V26, "tools/call", "pay__refund"},
     "Mcp-Name"},
    {"Mcp-Name values are case-sensitive",
     "tools/call",
     "{\"name\": \"pay__charges\"}",
     {V26, "tools/call", "PAY__CHARGES"},
     "Mcp-Name"},
    {"an empty Mcp-Name",
     "tools/call",
     "{\"name\": \"pay__charges\"}",
     {V26, "tools/call", ""},
     "Mcp-Name"},
    {"Mcp-Name of a tool the user may not call",
     "tools/call",
     "{\"name\": \"pay__refund\"}",
     {V26, "tools/call", "pay__charges"},
     "Mcp-Name"},
    {"Mcp-Name in Base64 naming another tool",
     "tools/call",
     "{\"name\": \"pay__charges\"}",
     {V26, "tools/call", "=?base64?cGF5X19yZWZ1bmQ=?="},
     "Mcp-Name"},
    {"Mcp-Name in a Base64 sentinel that does not decode",
     "tools/call",
     "{\"name\": \"pay__charges\"}",
     {V26, "tools/call", "=?base64?!!!!?="},
     "Mcp-Name"},
    /* The header holds the name up to the NUL, the body more: they differ. */
    {"a params.name holding NUL",
     "tools/call",
     "{\"name\": \"pay__charges\\u0000x\"}",
     {V26, "tools/call", "pay__charges"},
     "Mcp-Name"},
};

Test(test_mcp_server, modern_headers_must_match_the_body)
{
    for (size_t i = 0; i < sizeof mismatch_cases / sizeof mismatch_cases[0]; i++) {
        const struct mismatch_case *c = &mismatch_cases[i];
        struct mcp_reply r;
        json_t *resp = send_msg("\"h-1\"", c->method, c->params, V26, &c->h, &r);
        const json_t *err = error_of(resp, MCP_RPC_HEADER_MISMATCH, c->desc);

        cr_assert_eq(r.status, 400, "%s: status %d", c->desc, r.status);
        cr_assert(str_is(r.version, V26), "%s", c->desc);
        expect_id(resp, "\"h-1\"", c->desc);
        cr_assert(strstr(message_of(err), c->names), "%s: %s", c->desc, message_of(err));
        json_decref(resp);
    }
}

/*
 * Mcp-Name is REQUIRED on every 2026-07-28 tools/call (streamable-http, "Standard Request
 * Headers"), and a missing required header fails validation with 400 and -32020 ("Server
 * Validation"), whatever the body holds: also when params.name is missing or not a string.
 */
Test(test_mcp_server, modern_tools_call_needs_mcp_name_even_without_params_name)
{
    static const char *const params[] = {"{\"arguments\": {}}", "{\"name\": 5}"};

    for (size_t i = 0; i < 2; i++) {
        struct hdrs h = {V26, "tools/call", NULL};
        struct mcp_reply r;
        json_t *resp = send_msg("6", "tools/call", params[i], V26, &h, &r);

        cr_assert_eq(r.status, 400, "%s: status %d", params[i], r.status);
        error_of(resp, MCP_RPC_HEADER_MISMATCH, params[i]);
        json_decref(resp);
    }
}

/*
 * A client may send Mcp-Name in the Base64 sentinel form "=?base64?...?=", and servers MUST
 * decode it before comparing it with params.name (streamable-http, "Value Encoding").
 */
Test(test_mcp_server, modern_mcp_name_in_base64_is_decoded)
{
    struct hdrs h = {V26, "tools/call", "=?base64?cGF5X19jaGFyZ2Vz?="}; /* pay__charges */
    struct mcp_reply r;
    json_t *resp = send_msg("7", "tools/call", "{\"name\": \"pay__charges\"}", V26, &h, &r);
    const json_t *res;

    cr_assert_eq(r.status, 200, "status %d", r.status);
    res = result_of(resp, "base64 Mcp-Name");
    cr_assert(json_is_true(json_object_get(res, "isError")));
    json_decref(resp);
}

struct version_case {
    const char *desc;
    const char *meta; /* the _meta protocolVersion, as JSON text */
    struct hdrs h;
    int code;
    const char *requested; /* data.requested for -32022, NULL: not checked */
};

static const struct version_case version_cases[] = {
    {"a 2025 revision in the envelope",
     "\"2025-11-25\"",
     {V11, "tools/list", NULL},
     MCP_RPC_UNSUPPORTED_VERSION,
     V11},
    {"2025-06-18 in the envelope",
     "\"2025-06-18\"",
     {V06, "tools/list", NULL},
     MCP_RPC_UNSUPPORTED_VERSION,
     V06},
    {"an unknown version",
     "\"1900-01-01\"",
     {"1900-01-01", "tools/list", NULL},
     MCP_RPC_UNSUPPORTED_VERSION,
     "1900-01-01"},
    {"an unknown version, no header",
     "\"1900-01-01\"",
     {NULL, "tools/list", NULL},
     MCP_RPC_UNSUPPORTED_VERSION,
     "1900-01-01"},
    {"a version that is not a string",
     "20260728",
     {NULL, "tools/list", NULL},
     MCP_RPC_UNSUPPORTED_VERSION,
     NULL},
    /* A header that contradicts the envelope is a mismatch before it is a version. */
    {"an unknown version, a 2026-07-28 header",
     "\"1900-01-01\"",
     {V26, "tools/list", NULL},
     MCP_RPC_HEADER_MISMATCH,
     NULL},
};

Test(test_mcp_server, modern_unsupported_version_lists_the_supported)
{
    json_t *supported = fx_json("[\"" V26 "\", \"" V11 "\", \"" V06 "\"]");

    for (size_t i = 0; i < sizeof version_cases / sizeof version_cases[0]; i++) {
        const struct version_case *c = &version_cases[i];
        char params[256];
        struct mcp_reply r;
        json_t *resp;
        const json_t *err, *data;

        snprintf(params, sizeof params,
                 "{\"_meta\": {\"io.modelcontextprotocol/protocolVersion\": %s,"
                 " \"io.modelcontextprotocol/clientCapabilities\": {}}}",
                 c->meta);
        resp = send_msg("8", "tools/list", params, NULL, &c->h, &r);
        err = error_of(resp, c->code, c->desc);
        cr_assert_eq(r.status, 400, "%s: status %d", c->desc, r.status);
        expect_id(resp, "8", c->desc);
        if (c->code == MCP_RPC_UNSUPPORTED_VERSION) {
            data = json_object_get(err, "data");
            cr_assert(fx_json_eq(json_object_get(data, "supported"), supported), "%s", c->desc);
            cr_assert(json_is_string(json_object_get(data, "requested")), "%s", c->desc);
            if (c->requested)
                cr_assert_str_eq(json_string_value(json_object_get(data, "requested")),
                                 c->requested, "%s", c->desc);
            cr_assert_null(r.version, "%s: the revision is unknown", c->desc);
        } else {
            cr_assert(str_is(r.version, V26), "%s", c->desc);
        }
        json_decref(resp);
    }
    json_decref(supported);
}

/*
 * The envelope's version is the whole JSON string: "2026-07-28\u0000x" is not 2026-07-28 and
 * does not equal the header (the parser keeps the NUL; a C string of the value stops at it).
 * It must be refused as a mismatch or an unsupported version, never served.
 */
Test(test_mcp_server, modern_envelope_version_holding_nul_is_not_2026)
{
    struct hdrs h = {V26, "tools/list", NULL};
    struct mcp_reply r;
    json_t *resp = send_msg("14", "tools/list",
                            "{\"_meta\": {\"io.modelcontextprotocol/protocolVersion\":"
                            " \"2026-07-28\\u0000x\","
                            " \"io.modelcontextprotocol/clientCapabilities\": {}}}",
                            NULL, &h, &r);
    json_int_t code = json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));

    cr_assert_eq(r.status, 400, "status %d", r.status);
    cr_assert(code == MCP_RPC_HEADER_MISMATCH || code == MCP_RPC_UNSUPPORTED_VERSION, "code %lld",
              (long long)code);
    json_decref(resp);
}

Test(test_mcp_server, modern_envelope_needs_client_capabilities)
{
    static const char *const metas[] = {
        "{\"io.modelcontextprotocol/protocolVersion\": \"2026-07-28\"}",
        "{\"io.modelcontextprotocol/protocolVersion\": \"2026-07-28\","
        " \"io.modelcontextprotocol/clientCapabilities\": []}",
        "{\"io.modelcontextprotocol/protocolVersion\": \"2026-07-28\","
        " \"io.modelcontextprotocol/clientCapabilities\": \"all\"}",
        "{\"io.modelcontextprotocol/protocolVersion\": \"2026-07-28\","
        " \"io.modelcontextprotocol/clientCapabilities\": null}",
    };

    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
        struct hdrs h = {V26, "tools/list", NULL};
        char params[512];
        struct mcp_reply r;
        json_t *resp;

        snprintf(params, sizeof params, "{\"_meta\": %s}", metas[i]);
        resp = send_msg("10", "tools/list", params, NULL, &h, &r);
        error_of(resp, MCP_RPC_INVALID_PARAMS, metas[i]);
        cr_assert_eq(r.status, 400, "%s", metas[i]);
        cr_assert(str_is(r.version, V26), "%s", metas[i]);
        cr_assert(strstr(message_of(json_object_get(resp, "error")), "clientCapabilities"), "%s",
                  metas[i]);
        json_decref(resp);
    }
}

struct bare_case {
    const char *method;
    const char *params;
};

/* A 2026-07-28 header over a body without the envelope: 400 and -32602, whatever the method. */
static const struct bare_case bare_cases[] = {
    {"tools/list", NULL},
    {"tools/list", "{\"cursor\": null}"},
    {"ping", NULL},
    {"server/discover", NULL},
    {"initialize", "{\"protocolVersion\": \"2025-11-25\"}"},
    {"tools/call", "{\"name\": \"pay__charges\"}"},
    {"nope", NULL},
    /* An envelope without its version is no envelope. */
    {"tools/list", "{\"_meta\": {\"io.modelcontextprotocol/clientCapabilities\": {}}}"},
    {"tools/list", "{\"_meta\": \"2026-07-28\"}"},
};

Test(test_mcp_server, modern_header_without_envelope)
{
    for (size_t i = 0; i < sizeof bare_cases / sizeof bare_cases[0]; i++) {
        const struct bare_case *c = &bare_cases[i];
        struct hdrs h = {V26, c->method, "pay__charges"};
        struct mcp_reply r;
        json_t *resp = send_msg("11", c->method, c->params, NULL, &h, &r);

        cr_assert_eq(r.status, 400, "%s %s: status %d", c->method, c->params, r.status);
        error_of(resp, MCP_RPC_INVALID_PARAMS, c->method);
        cr_assert(str_is(r.version, V26), "%s", c->method);
        expect_id(resp, "11", c->method);
        json_decref(resp);
    }
}

Test(test_mcp_server, modern_removed_and_unknown_methods_are_404)
{
    static const char *const methods[] = {
        "initialize", "ping", "resources/list", "logging/setLevel", "prompts/get", "nope", ""};

    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct hdrs h = {V26, methods[i], NULL};
        struct mcp_reply r;
        json_t *resp = send_msg(
            "\"u\"", methods[i],
            strcmp(methods[i], "initialize") == 0 ? "{\"protocolVersion\": \"2025-11-25\"}" : NULL,
            V26, &h, &r);

        cr_assert_eq(r.status, 404, "%s: status %d", methods[i], r.status);
        error_of(resp, MCP_RPC_METHOD_NOT_FOUND, methods[i]);
        cr_assert(str_is(r.version, V26), "%s", methods[i]);
        expect_id(resp, "\"u\"", methods[i]);
        json_decref(resp);
    }
}

Test(test_mcp_server, legacy_unknown_methods_are_200)
{
    static const char *const methods[] = {"resources/list", "prompts/list", "nope", ""};

    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct mcp_reply r;
        json_t *resp = send_msg("12", methods[i], NULL, NULL, NULL, &r);

        cr_assert_eq(r.status, 200, "%s: status %d", methods[i], r.status);
        error_of(resp, MCP_RPC_METHOD_NOT_FOUND, methods[i]);
        cr_assert(str_is(r.version, V11), "%s", methods[i]);
        json_decref(resp);
    }
}

/* ---- resultType and the reply's revision ---- */

struct rt_case {
    const char *desc;
    const char *method;
    const char *params;
    const char *meta; /* envelope version, or NULL */
    struct hdrs h;
    const char *version; /* the reply's revision */
};

static const struct rt_case rt_cases[] = {
    {"ping", "ping", NULL, NULL, {NULL, NULL, NULL}, V11},
    {"ping 2025-06-18", "ping", NULL, NULL, {V06, NULL, NULL}, V06},
    {"initialize",
     "initialize",
     "{\"protocolVersion\": \"2025-06-18\"}",
     NULL,
     {NULL, NULL, NULL},
     V06},
    {"tools/list", "tools/list", NULL, NULL, {V11, NULL, NULL}, V11},
    {"tools/call", "tools/call", "{\"name\": \"pay__charges\"}", NULL, {V06, NULL, NULL}, V06},
    {"server/discover without the envelope",
     "server/discover",
     NULL,
     NULL,
     {NULL, NULL, NULL},
     V11},
    {"modern server/discover", "server/discover", NULL, V26, {V26, "server/discover", NULL}, V26},
    {"modern tools/list", "tools/list", "{\"cursor\": null}", V26, {V26, "tools/list", NULL}, V26},
    {"modern tools/call",
     "tools/call",
     "{\"name\": \"pay__charges\"}",
     V26,
     {V26, "tools/call", "pay__charges"},
     V26},
    {"modern tools/call of a tool refused",
     "tools/call",
     "{\"name\": \"pay__refund\"}",
     V26,
     {V26, "tools/call", "pay__refund"},
     V26},
};

Test(test_mcp_server, result_type_complete_only_on_2026)
{
    for (size_t i = 0; i < sizeof rt_cases / sizeof rt_cases[0]; i++) {
        const struct rt_case *c = &rt_cases[i];
        struct mcp_reply r;
        json_t *resp = send_msg("13", c->method, c->params, c->meta, &c->h, &r);
        bool modern = strcmp(c->version, V26) == 0;
        const json_t *res = json_object_get(resp, "result");

        cr_assert_eq(r.status, 200, "%s: status %d", c->desc, r.status);
        cr_assert(str_is(r.version, c->version), "%s: reply speaks %s", c->desc,
                  r.version ? r.version : "(null)");
        if (res && modern)
            cr_assert_str_eq(json_string_value(json_object_get(res, "resultType")), "complete",
                             "%s", c->desc);
        else if (res)
            cr_assert_null(json_object_get(res, "resultType"), "%s", c->desc);
        else
            /* Only the refused call answers an error, and errors carry no resultType. */
            cr_assert(strstr(c->desc, "refused"), "%s: no result", c->desc);
        json_decref(resp);
    }
}

/* ---- server/discover ---- */

Test(test_mcp_server, discover_answers_versions_capabilities_and_server)
{
    struct hdrs h = {V26, "server/discover", NULL};
    struct mcp_reply r;
    json_t *resp = send_msg("\"d\"", "server/discover", NULL, V26, &h, &r);
    const json_t *res = result_of(resp, "server/discover");
    json_t *want_versions = fx_json("[\"" V26 "\", \"" V11 "\", \"" V06 "\"]");
    json_t *want_caps = fx_json("{\"tools\": {}}");
    const json_t *info = json_object_get(res, "serverInfo");
    const json_t *meta = json_object_get(res, "_meta");

    cr_assert_eq(r.status, 200);
    cr_assert(str_is(r.version, V26));
    expect_id(resp, "\"d\"", "discover");
    cr_assert(fx_json_eq(json_object_get(res, "supportedVersions"), want_versions));
    cr_assert(fx_json_eq(json_object_get(res, "capabilities"), want_caps));
    cr_assert_str_eq(json_string_value(json_object_get(info, "name")), "mandate");
    cr_assert_str_eq(json_string_value(json_object_get(info, "version")), SERVER_VERSION);
    cr_assert(json_is_string(json_object_get(info, "title")));
    cr_assert(fx_json_eq(json_object_get(meta, "io.modelcontextprotocol/serverInfo"), info));
    cr_assert(json_is_string(json_object_get(res, "instructions")));
    cr_assert(strstr(json_string_value(json_object_get(res, "instructions")), "Denied by policy"));
    cr_assert_str_eq(json_string_value(json_object_get(res, "cacheScope")), "private");
    cr_assert(json_is_integer(json_object_get(res, "ttlMs")));
    cr_assert_str_eq(json_string_value(json_object_get(res, "resultType")), "complete");
    json_decref(want_caps);
    json_decref(want_versions);
    json_decref(resp);
}

Test(test_mcp_server, server_version_defaults_and_is_cut)
{
    static const struct {
        const char *given;
        const char *shown;
    } cases[] = {
        {NULL, "0"},
        {"1.2.3", "1.2.3"},
        /* The server keeps 31 bytes of it. */
        {"0123456789abcdef0123456789abcdefXYZ", "0123456789abcdef0123456789abcde"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mcp_server *keep = srv;
        struct mcp_reply r;
        json_t *resp;

        make_server(cases[i].given, &srv);
        resp = send_msg("1", "initialize", "{\"protocolVersion\": \"2025-11-25\"}", NULL, NULL, &r);
        cr_assert_str_eq(
            json_string_value(json_object_get(
                json_object_get(result_of(resp, "initialize"), "serverInfo"), "version")),
            cases[i].shown);
        json_decref(resp);
        mcp_server_free(srv);
        srv = keep;
    }
}

/* ---- notifications, responses, refusals of the parser ---- */

struct quiet_case {
    const char *body;
    struct hdrs h;
};

static const struct quiet_case quiet_cases[] = {
    {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", {NULL, NULL, NULL}},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\",\"params\":{}}",
     {V11, NULL, NULL}},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}",
     {"junk", "x", "y"}},
    /* Headers that would refuse a request do not matter: a notification is never answered. */
    {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"_meta\":"
     "{\"io.modelcontextprotocol/protocolVersion\":\"1900-01-01\"}}}",
     {V26, "tools/list", NULL}},
    {"{\"jsonrpc\":\"2.0\",\"method\":\"tools/list\"}", {NULL, NULL, NULL}},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", {NULL, NULL, NULL}},
    {"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"content\":[]}}", {V26, NULL, NULL}},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\"no\"}}",
     {NULL, NULL, NULL}},
    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}",
     {NULL, NULL, NULL}},
};

Test(test_mcp_server, notifications_and_responses_get_202_without_body)
{
    for (size_t i = 0; i < sizeof quiet_cases / sizeof quiet_cases[0]; i++) {
        const struct quiet_case *c = &quiet_cases[i];
        struct mcp_reply r;
        json_t *resp = send(c->body, &c->h, &r);

        cr_assert_null(resp, "%s: a body", c->body);
        cr_assert_eq(r.status, 202, "%s: status %d", c->body, r.status);
        cr_assert_null(r.body, "%s", c->body);
        cr_assert_eq(r.body_len, 0, "%s", c->body);
    }
}

static const char *const bad_bodies[] = {
    "",
    "   ",
    "not json",
    "{",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"",
    "\"ping\"",
    "42",
    "null",
    "[]",
    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
    "{}",
    "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
    "{\"id\":1,\"method\":\"ping\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":5}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"ping\",\"params\":[1]}",
    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\",\"params\":\"x\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{},\"error\":{\"code\":1,\"message\":\"x\"}}",
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"a\\u0000b\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"\xff\"}",
};

/* Sends body; the reply must be the parser's own refusal, with HTTP 400. */
static void expect_refusal(const char *body, size_t len, const struct hdrs *h, const char *desc)
{
    struct mcp_rpc_error perr;
    struct mcp_msg m;
    struct mcp_reply r;
    json_t *resp, *want_id;
    const json_t *err;

    cr_assert_neq(mcp_jsonrpc_parse(body, len, &m, &perr), MD_OK, "%s: the parser accepts it",
                  desc);
    want_id = m.id ? json_incref(m.id) : json_null();
    mcp_msg_free(&m);
    resp = send_len(body, len, h, &r);
    cr_assert_eq(r.status, 400, "%s: status %d", desc, r.status);
    cr_assert_null(r.version, "%s", desc);
    err = error_of(resp, perr.code, desc);
    cr_assert_str_eq(message_of(err), perr.message, "%s", desc);
    cr_assert(fx_json_eq(json_object_get(resp, "id"), want_id), "%s: id", desc);
    json_decref(want_id);
    json_decref(resp);
}

Test(test_mcp_server, parse_errors_get_400_with_the_parsers_code)
{
    struct hdrs modern = {V26, "tools/list", NULL};

    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        expect_refusal(bad_bodies[i], strlen(bad_bodies[i]), NULL, bad_bodies[i]);
        expect_refusal(bad_bodies[i], strlen(bad_bodies[i]), &modern, bad_bodies[i]);
    }
}

Test(test_mcp_server, parse_errors_cover_every_parser_code)
{
    /* The table above must reach each code the parser gives for bad input. */
    bool seen_parse = false, seen_request = false, seen_params = false;

    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        struct mcp_rpc_error perr;
        struct mcp_msg m;

        if (mcp_jsonrpc_parse(bad_bodies[i], strlen(bad_bodies[i]), &m, &perr) != MD_OK) {
            seen_parse |= perr.code == MCP_RPC_PARSE_ERROR;
            seen_request |= perr.code == MCP_RPC_INVALID_REQUEST;
            seen_params |= perr.code == MCP_RPC_INVALID_PARAMS;
        }
        mcp_msg_free(&m);
    }
    cr_assert(seen_parse && seen_request && seen_params);
}

Test(test_mcp_server, oversized_and_deep_bodies_get_400)
{
    size_t big = MCP_MAX_MESSAGE + 1, n = 0;
    char *body = malloc(big + 1);
    char deep[4 * (MCP_MAX_DEPTH + 8) + 64];

    cr_assert_not_null(body);
    /* A valid request padded past the limit: refused for its size, never parsed. */
    memset(body, ' ', big);
    memcpy(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", 40);
    body[big] = '\0';
    expect_refusal(body, big, NULL, "oversized");
    free(body);

    n = (size_t)snprintf(deep, sizeof deep,
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
                         "\"params\":{\"a\":");
    for (int i = 0; i < MCP_MAX_DEPTH + 4; i++)
        deep[n++] = '[';
    for (int i = 0; i < MCP_MAX_DEPTH + 4; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n++] = '}';
    deep[n] = '\0';
    expect_refusal(deep, n, NULL, "deep");
}

/* ---- ids ---- */

Test(test_mcp_server, ids_are_echoed_exactly)
{
    static const char *const ids[] = {"0",
                                      "-7",
                                      "9007199254740993",
                                      "9223372036854775807",
                                      "\"\"",
                                      "\"a\\\"b\\\\c\"",
                                      "\"caf\\u00e9\""};

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct mcp_reply r;
        json_t *ok = send_msg(ids[i], "ping", NULL, NULL, NULL, &r);
        json_t *bad = send_msg(ids[i], "nope", NULL, NULL, NULL, &r);
        struct hdrs h = {V26, "nope", NULL};
        json_t *modern = send_msg(ids[i], "nope", NULL, V26, &h, &r);

        result_of(ok, ids[i]);
        expect_id(ok, ids[i], ids[i]);
        error_of(bad, MCP_RPC_METHOD_NOT_FOUND, ids[i]);
        expect_id(bad, ids[i], ids[i]);
        error_of(modern, MCP_RPC_METHOD_NOT_FOUND, ids[i]);
        expect_id(modern, ids[i], ids[i]);
        json_decref(ok);
        json_decref(bad);
        json_decref(modern);
    }
}
