/*
 * tools/list and tools/call (tools.c), driven through mcp_handle over the standard world of
 * access_fixture.h, with no connector runtime: the list holds the user's entitled tools only,
 * in name order, paginated with an opaque cursor, under the pack scope, with annotations from
 * the levels and the input schemas of the definitions; a call is decided first, so that a tool
 * the user may not call reads exactly like a tool that does not exist, a condition refusal is
 * a tool error naming the grant, and an allowed call reaches the (absent) runtime, which
 * answers "No connector runtime runs here." at once.
 *
 * What the standard world gives each user (grants in access_fixture.h):
 *   u-alice  code__read_file (G5), pay__charges (G1 via g-finapp > g-fin),
 *            pay__refund (G2, condition amount le 50000)
 *   u-bob    code__read_file (G3 at read, G5)
 *   u-carol  nothing: inactive
 *   u-erin   code__read_file (G5), pay__note (G6); pay__refund only under an expired grant and
 *            pay__charges only under a condition that does not parse, so neither is listed
 *   u-frank  code__read_file (G5), code__write_file (G4 through the g-cya/g-cyb cycle)
 *   u-gina   code__read_file (G5)
 *   u-hank   code__read_file (G5), pay__refund (G9 currency eq "usd", G10 amount le 100)
 */
#include "access/access_fixture.h"

#include "core/json.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"

#define V11 MCP_VERSION_2025_11
#define V26 MCP_VERSION_2026_07
#define NO_RUNTIME "No connector runtime runs here."

static struct mcp_server *srv;

/* Replaces the server with one of page_size tools a page (0: the default). */
static void server_with_page_size(int page_size)
{
    struct mcp_config cfg = {0};
    struct md_error e = {0};

    mcp_server_free(srv);
    srv = NULL;
    cfg.access = fx.a;
    cfg.rt = NULL;
    cfg.page_size = page_size;
    cfg.server_version = "1";
    cr_assert_eq(mcp_server_new(&cfg, &srv, &e), MD_OK, "%s", e.msg);
}

static void setup(void)
{
    fx_world();
    server_with_page_size(0);
}

static void teardown(void)
{
    mcp_server_free(srv);
    srv = NULL;
    fx_close();
}

TestSuite(test_mcp_tools, .init = setup, .fini = teardown);

/* ---- sending ---- */

static void never_called(void *cls, struct mcp_reply *r)
{
    (void)cls;
    (void)r;
    cr_assert_fail("with no runtime, no reply may come later");
}

/* Who asks, under which scope and revision. */
struct who {
    const char *user;
    const char *pack; /* NULL: every pack */
    bool modern;      /* the 2026-07-28 envelope and headers, else none (2025-11-25) */
};

/*
 * Sends method with params (a JSON object, borrowed; NULL: none) as id 1 and returns the reply
 * parsed, after checking that it was ready at once, with the status expected, speaking the
 * revision asked for. A modern request mirrors the method and params.name (when a string) into
 * the standard headers. r keeps the status and the version; its body is freed.
 */
static json_t *call_status(const struct who *w, const char *method, const json_t *params,
                           int status, struct mcp_reply *r)
{
    struct mcp_request req = {0};
    json_t *m = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1, "method", method);
    json_t *p = params ? json_deep_copy(params) : NULL;
    const char *name = json_string_value(json_object_get(params, "name"));
    json_error_t jerr;
    char *text;
    json_t *v;

    cr_assert_not_null(m);
    if (w->modern) {
        if (!p)
            p = json_object();
        json_object_set_new(p, "_meta",
                            json_pack("{s:s, s:{}}", "io.modelcontextprotocol/protocolVersion", V26,
                                      "io.modelcontextprotocol/clientCapabilities"));
        req.h_version = V26;
        req.h_method = method;
        req.h_name = name;
    }
    if (p)
        json_object_set_new(m, "params", p);
    text = json_dumps(m, JSON_COMPACT);
    cr_assert_not_null(text);
    req.body = text;
    req.body_len = strlen(text);
    req.user_id = w->user;
    req.pack = w->pack;
    req.token_id = "tok-test";
    req.request_id = "req-test";
    cr_assert(mcp_handle(srv, &req, r, never_called, NULL), "the reply must be ready at once");
    cr_assert_eq(r->status, status, "%s for %s: status %d: %s", method, w->user, r->status,
                 r->body ? r->body : "");
    cr_assert_not_null(r->version);
    cr_assert_str_eq(r->version, w->modern ? V26 : V11);
    cr_assert_not_null(r->body);
    v = json_loadb(r->body, r->body_len, 0, &jerr);
    cr_assert_not_null(v, "%s: %s", jerr.text, r->body);
    cr_assert_str_eq(json_string_value(json_object_get(v, "jsonrpc")), "2.0");
    cr_assert_eq(json_integer_value(json_object_get(v, "id")), 1);
    free(r->body);
    r->body = NULL;
    json_decref(m);
    free(text);
    return v;
}

static json_t *call(const struct who *w, const char *method, const json_t *params,
                    struct mcp_reply *r)
{
    return call_status(w, method, params, 200, r);
}

/* call with params given as JSON text (NULL: none). */
static json_t *call_text(const struct who *w, const char *method, const char *params,
                         struct mcp_reply *r)
{
    json_t *p = params ? fx_json(params) : NULL;
    json_t *v = call(w, method, p, r);

    json_decref(p);
    return v;
}

static const json_t *result_of(const json_t *resp, const char *desc)
{
    const json_t *res = json_object_get(resp, "result");

    cr_assert(json_is_object(res), "%s: no result", desc);
    cr_assert_null(json_object_get(resp, "error"), "%s", desc);
    return res;
}

static const json_t *error_of(const json_t *resp, int code, const char *desc)
{
    const json_t *err = json_object_get(resp, "error");

    cr_assert_not_null(err, "%s: no error", desc);
    cr_assert_null(json_object_get(resp, "result"), "%s", desc);
    cr_assert_eq(json_integer_value(json_object_get(err, "code")), code, "%s: code %lld", desc,
                 (long long)json_integer_value(json_object_get(err, "code")));
    return err;
}

static const char *message_of(const json_t *err)
{
    const char *s = json_string_value(json_object_get(err, "message"));

    cr_assert_not_null(s);
    return s;
}

/* ---- tools/list ---- */

/* The names of a page's tools, "a,b,c", into buf. */
static void names_of(const json_t *tools, char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    cr_assert(json_is_array(tools));
    for (size_t i = 0; i < json_array_size(tools) && len < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(tools, i), "name"));
        cr_assert_not_null(name, "a tool without a name");
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "", name);
    }
}

/* One page: cursor NULL for the first. The reply is returned for the caller to release. */
static json_t *list_page(const struct who *w, const char *cursor, struct mcp_reply *r)
{
    json_t *p = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
    json_t *v = call(w, "tools/list", p, r);

    json_decref(p);
    return v;
}

/*
 * Walks every page, checking that each page but the last is full and has a nextCursor, and
 * that the last has none. Returns every tool, in the order served (new reference).
 */
static json_t *list_all(const struct who *w, int page_size)
{
    json_t *all = json_array();
    char *cursor = NULL;

    for (int pages = 0;; pages++) {
        struct mcp_reply r;
        json_t *resp = list_page(w, cursor, &r);
        const json_t *res = result_of(resp, "tools/list");
        const json_t *tools = json_object_get(res, "tools");
        const json_t *next = json_object_get(res, "nextCursor");

        cr_assert_lt(pages, 100, "the pages never end");
        cr_assert(json_is_array(tools));
        cr_assert_leq(json_array_size(tools), (size_t)page_size);
        json_array_extend(all, json_mut(tools));
        free(cursor);
        cursor = NULL;
        if (!next) {
            json_decref(resp);
            break;
        }
        cr_assert(json_is_string(next));
        cr_assert_eq(json_array_size(tools), (size_t)page_size, "a short page with a next one");
        cursor = strdup(json_string_value(next));
        json_decref(resp);
    }
    return all;
}

struct list_case {
    const char *user;
    const char *pack;
    const char *names; /* every tool, in order */
};

static const struct list_case list_cases[] = {
    {"u-alice", NULL, "code__read_file,pay__charges,pay__refund"},
    {"u-bob", NULL, "code__read_file"},
    {"u-carol", NULL, ""},
    {"u-erin", NULL, "code__read_file,pay__note"},
    {"u-frank", NULL, "code__read_file,code__write_file"},
    {"u-gina", NULL, "code__read_file"},
    {"u-hank", NULL, "code__read_file,pay__refund"},
    /* An empty scope is no scope. */
    {"u-alice", "", "code__read_file,pay__charges,pay__refund"},
    /* The pack scope keeps the tools granted through that pack. */
    {"u-alice", "finance", "pay__refund"},
    {"u-alice", "payread", "pay__charges"},
    {"u-alice", "code", ""},
    {"u-alice", "nope", ""},
    {"u-bob", "code", "code__read_file"},
    {"u-bob", "payread", ""},
    {"u-erin", "notes", "pay__note"},
    {"u-gina", "code", ""},
    {"u-carol", "code", ""},
};

Test(test_mcp_tools, list_offers_entitled_tools_in_name_order)
{
    for (int modern = 0; modern < 2; modern++) {
        for (size_t i = 0; i < sizeof list_cases / sizeof list_cases[0]; i++) {
            const struct list_case *c = &list_cases[i];
            struct who w = {c->user, c->pack, modern};
            struct mcp_reply r;
            json_t *resp = list_page(&w, NULL, &r);
            const json_t *res = result_of(resp, c->user);
            char names[512];

            names_of(json_object_get(res, "tools"), names, sizeof names);
            cr_assert_str_eq(names, c->names, "%s under %s", c->user, c->pack ? c->pack : "-");
            cr_assert_null(json_object_get(res, "nextCursor"), "%s", c->user);
            json_decref(resp);
        }
    }
}

Test(test_mcp_tools, list_follows_the_policy_at_once)
{
    struct who w = {"u-alice", NULL, false};
    struct mcp_reply r;
    json_t *resp;
    char names[512];

    /* Deactivated through SCIM: the next list is empty. */
    fx_set_active("u-alice", false);
    resp = list_page(&w, NULL, &r);
    names_of(json_object_get(result_of(resp, "inactive"), "tools"), names, sizeof names);
    cr_assert_str_eq(names, "");
    json_decref(resp);

    fx_set_active("u-alice", true);
    fx_unmember("g-finapp", "u-alice");
    resp = list_page(&w, NULL, &r);
    names_of(json_object_get(result_of(resp, "out of the group"), "tools"), names, sizeof names);
    cr_assert_str_eq(names, "code__read_file");
    json_decref(resp);
}

/* A connector of seven read tools granted to gina: eight tools with code__read_file. */
static void big_world(void)
{
    fx_connector("big", "a:read,b:read,c:read,d:read,e:read,f:read,g:read");
    fx_pack("{\"name\": \"bigpack\", \"title\": \"Big\","
            " \"tools\": [{\"tool\": \"big__*\", \"level\": \"read\"}]}");
    fx_grant("GB",
             "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"}, \"pack\": \"bigpack\"}");
}

#define BIG_NAMES "big__a,big__b,big__c,big__d,big__e,big__f,big__g,code__read_file"

Test(test_mcp_tools, list_pages_concatenate_to_the_whole_list)
{
    static const int sizes[] = {1, 2, 3, 7, 8, 9, 100};

    big_world();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int modern = 0; modern < 2; modern++) {
            struct who w = {"u-gina", NULL, modern};
            json_t *all;
            char names[512];

            server_with_page_size(sizes[i]);
            all = list_all(&w, sizes[i]);
            names_of(all, names, sizeof names);
            cr_assert_str_eq(names, BIG_NAMES, "page size %d", sizes[i]);
            json_decref(all);
        }
    }
    /* Scoped to the pack, paged by two: the seven of the pack, in four pages. */
    {
        struct who w = {"u-gina", "bigpack", false};
        json_t *all;
        char names[512];

        server_with_page_size(2);
        all = list_all(&w, 2);
        names_of(all, names, sizeof names);
        cr_assert_str_eq(names, "big__a,big__b,big__c,big__d,big__e,big__f,big__g");
        json_decref(all);
    }
}

Test(test_mcp_tools, list_pages_by_two_are_the_expected_pages)
{
    static const char *const pages[] = {"big__a,big__b", "big__c,big__d", "big__e,big__f",
                                        "big__g,code__read_file"};
    struct who w = {"u-gina", NULL, true};
    char *cursor = NULL;

    big_world();
    server_with_page_size(2);
    for (size_t i = 0; i < 4; i++) {
        struct mcp_reply r;
        json_t *resp = list_page(&w, cursor, &r);
        const json_t *res = result_of(resp, pages[i]);
        const json_t *next = json_object_get(res, "nextCursor");
        char names[256];

        names_of(json_object_get(res, "tools"), names, sizeof names);
        cr_assert_str_eq(names, pages[i]);
        /* Every page of a modern list carries the cache hints. */
        cr_assert_str_eq(json_string_value(json_object_get(res, "cacheScope")), "private");
        cr_assert_gt(json_integer_value(json_object_get(res, "ttlMs")), 0);
        free(cursor);
        cursor = NULL;
        if (i < 3) {
            cr_assert(json_is_string(next), "page %zu has no nextCursor", i);
            cursor = strdup(json_string_value(next));
        } else {
            cr_assert_null(next, "the last page has a nextCursor");
        }
        json_decref(resp);
    }
}

Test(test_mcp_tools, list_cursor_outlives_a_change_of_the_list)
{
    struct who w = {"u-gina", NULL, false};
    struct mcp_reply r;
    json_t *resp;
    char *cursor, names[256];

    big_world();
    server_with_page_size(2);
    resp = list_page(&w, NULL, &r);
    cursor = strdup(json_string_value(json_object_get(result_of(resp, "first"), "nextCursor")));
    json_decref(resp);
    /* The cursor names a place in the order, not an offset: a tool added before it is skipped. */
    fx_connector("aaa", "x:read");
    fx_grant("GA", "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"}, \"tool\": \"aaa__x\"}");
    resp = list_page(&w, cursor, &r);
    names_of(json_object_get(result_of(resp, "second"), "tools"), names, sizeof names);
    cr_assert_str_eq(names, "big__c,big__d");
    json_decref(resp);
    free(cursor);
}

struct cursor_case {
    const char *desc;
    const char *cursor; /* JSON text */
};

static const struct cursor_case bad_cursors[] = {
    {"empty", "\"\""},
    {"odd length", "\"6\""},
    {"odd length, longer", "\"62696\""},
    {"not hex", "\"zz\""},
    {"upper-case hex is not what the server makes", "\"6269675F5F61\""},
    {"hex of a name without a connector", "\"6e6f\""},       /* "no" */
    {"hex of a name with upper case", "\"4249475f5f61\""},   /* "BIG__a" */
    {"hex of a name with a slash", "\"612f5f5f62\""},        /* "a/__b" */
    {"hex of a name ending in the separator", "\"615f5f\""}, /* "a__" */
    {"hex of a name that is too long",
     "\"61616161616161616161616161616161616161616161616161616161616161615f5f"
     "62626262626262626262626262626262626262626262626262626262626262626262\""},
    {"a number", "12"},
    {"an object", "{}"},
    {"an array", "[\"6269675f5f61\"]"},
    {"a boolean", "true"},
    {"text around hex", "\" 6269675f5f61\""},
};

Test(test_mcp_tools, list_refuses_cursors_it_did_not_make)
{
    for (int modern = 0; modern < 2; modern++) {
        for (size_t i = 0; i < sizeof bad_cursors / sizeof bad_cursors[0]; i++) {
            const struct cursor_case *c = &bad_cursors[i];
            struct who w = {"u-alice", NULL, modern};
            struct mcp_reply r;
            char params[512];
            json_t *resp;
            const json_t *err;

            snprintf(params, sizeof params, "{\"cursor\": %s}", c->cursor);
            resp = call_text(&w, "tools/list", params, &r);
            err = error_of(resp, MCP_RPC_INVALID_PARAMS, c->desc);
            cr_assert_str_eq(message_of(err), "Invalid cursor", "%s", c->desc);
            json_decref(resp);
        }
    }
}

Test(test_mcp_tools, list_takes_a_null_cursor_as_none_and_its_own_cursors)
{
    struct who w = {"u-alice", NULL, false};
    struct mcp_reply r;
    json_t *resp;
    char names[256];

    resp = call_text(&w, "tools/list", "{\"cursor\": null}", &r);
    names_of(json_object_get(result_of(resp, "null"), "tools"), names, sizeof names);
    cr_assert_str_eq(names, "code__read_file,pay__charges,pay__refund");
    json_decref(resp);
    /* The hex of "code__read_file": what follows it. */
    resp = call_text(&w, "tools/list", "{\"cursor\": \"636f64655f5f726561645f66696c65\"}", &r);
    names_of(json_object_get(result_of(resp, "after code__read_file"), "tools"), names,
             sizeof names);
    cr_assert_str_eq(names, "pay__charges,pay__refund");
    json_decref(resp);
    /* Past the end: an empty last page. */
    resp = call_text(&w, "tools/list", "{\"cursor\": \"7a7a5f5f7a\"}", &r); /* zz__z */
    names_of(json_object_get(result_of(resp, "past the end"), "tools"), names, sizeof names);
    cr_assert_str_eq(names, "");
    cr_assert_null(json_object_get(result_of(resp, "past the end"), "nextCursor"));
    json_decref(resp);
}

/* A connector with one tool of each level, granted to gina through a pack at destructive. */
static void levels_world(void)
{
    fx_connector("lv", "d:destructive,r:read,w:write");
    fx_pack("{\"name\": \"lvpack\", \"title\": \"Levels\","
            " \"tools\": [{\"tool\": \"lv__*\", \"level\": \"destructive\"}]}");
    fx_grant("GL", "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"}, \"pack\": \"lvpack\"}");
}

struct annot_case {
    const char *tool;
    const char *annotations; /* JSON text */
};

/*
 * MCP ToolAnnotations from the level: read is read-only; write is neither read-only nor
 * destructive; destructive is destructive. Every tool reaches an outside system.
 */
static const struct annot_case annot_cases[] = {
    {"lv__d", "{\"title\": \"d\", \"readOnlyHint\": false, \"destructiveHint\": true,"
              " \"openWorldHint\": true}"},
    {"lv__r", "{\"title\": \"r\", \"readOnlyHint\": true, \"openWorldHint\": true}"},
    {"lv__w", "{\"title\": \"w\", \"readOnlyHint\": false, \"destructiveHint\": false,"
              " \"openWorldHint\": true}"},
};

Test(test_mcp_tools, list_annotations_follow_the_level)
{
    struct who w = {"u-gina", "lvpack", false};
    struct mcp_reply r;
    json_t *resp;
    const json_t *tools;

    levels_world();
    resp = list_page(&w, NULL, &r);
    tools = json_object_get(result_of(resp, "levels"), "tools");
    cr_assert_eq(json_array_size(tools), 3);
    for (size_t i = 0; i < 3; i++) {
        const json_t *t = json_array_get(tools, i);
        json_t *want = fx_json(annot_cases[i].annotations);

        cr_assert_str_eq(json_string_value(json_object_get(t, "name")), annot_cases[i].tool);
        cr_assert(fx_json_eq(json_object_get(t, "annotations"), want), "%s", annot_cases[i].tool);
        json_decref(want);
    }
    json_decref(resp);
}

/* Each listed tool is its definition: name, title, description, inputSchema. */
Test(test_mcp_tools, list_tools_carry_their_definitions)
{
    struct who w = {"u-alice", NULL, true};
    struct mcp_reply r;
    json_t *resp = list_page(&w, NULL, &r);
    const json_t *tools = json_object_get(result_of(resp, "alice"), "tools");

    cr_assert_eq(json_array_size(tools), 3);
    for (size_t i = 0; i < json_array_size(tools); i++) {
        const json_t *t = json_array_get(tools, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        struct access_tool def = {0};
        struct md_error e = {0};
        const char *k;
        const json_t *v;

        cr_assert_eq(access_tool_get(fx.a, name, &def, &e), MD_OK, "%s: %s", name, e.msg);
        cr_assert(fx_json_eq(json_object_get(t, "inputSchema"),
                             json_object_get(def.tool, "input_schema")),
                  "%s", name);
        cr_assert(json_is_object(json_object_get(t, "inputSchema")), "%s", name);
        cr_assert(
            fx_json_eq(json_object_get(t, "description"), json_object_get(def.tool, "description")),
            "%s", name);
        cr_assert(fx_json_eq(json_object_get(t, "title"), json_object_get(def.tool, "title")), "%s",
                  name);
        /* Nothing of the access model leaks into the tool: no level, no grants. */
        json_object_foreach(json_mut(t), k, v)
        {
            (void)v;
            cr_assert(strcmp(k, "name") == 0 || strcmp(k, "title") == 0 ||
                          strcmp(k, "description") == 0 || strcmp(k, "inputSchema") == 0 ||
                          strcmp(k, "annotations") == 0,
                      "%s has %s", name, k);
        }
        access_tool_release(&def);
    }
    json_decref(resp);
}

Test(test_mcp_tools, list_cache_hints_only_on_2026)
{
    for (int modern = 0; modern < 2; modern++) {
        struct who w = {"u-alice", NULL, modern};
        struct mcp_reply r;
        json_t *resp = list_page(&w, NULL, &r);
        const json_t *res = result_of(resp, "alice");

        if (modern) {
            cr_assert_str_eq(json_string_value(json_object_get(res, "cacheScope")), "private");
            cr_assert(json_is_integer(json_object_get(res, "ttlMs")));
            cr_assert_gt(json_integer_value(json_object_get(res, "ttlMs")), 0);
            cr_assert_str_eq(json_string_value(json_object_get(res, "resultType")), "complete");
        } else {
            cr_assert_null(json_object_get(res, "cacheScope"));
            cr_assert_null(json_object_get(res, "ttlMs"));
            cr_assert_null(json_object_get(res, "resultType"));
        }
        json_decref(resp);
    }
}

/* ---- tools/call ---- */

struct bad_call {
    const char *params;
    const char *says; /* a phrase of the message */
};

static const struct bad_call bad_calls[] = {
    {"{}", "params.name"},
    {"{\"arguments\": {}}", "params.name"},
    {"{\"name\": null}", "params.name"},
    {"{\"name\": 5, \"arguments\": {}}", "params.name"},
    {"{\"name\": [\"code__read_file\"]}", "params.name"},
    {"{\"name\": {\"tool\": \"code__read_file\"}}", "params.name"},
    {"{\"name\": true}", "params.name"},
    {"{\"name\": \"code__read_file\", \"arguments\": \"x\"}", "params.arguments"},
    {"{\"name\": \"code__read_file\", \"arguments\": [1]}", "params.arguments"},
    {"{\"name\": \"code__read_file\", \"arguments\": 3}", "params.arguments"},
    {"{\"name\": \"code__read_file\", \"arguments\": false}", "params.arguments"},
    /* Arguments are checked before the name is looked up: nothing is learned of the tool. */
    {"{\"name\": \"nope__x\", \"arguments\": []}", "params.arguments"},
};

Test(test_mcp_tools, call_refuses_bad_params)
{
    struct mcp_reply r;
    json_t *resp, *params;

    for (int modern = 0; modern < 2; modern++) {
        for (size_t i = 0; i < sizeof bad_calls / sizeof bad_calls[0]; i++) {
            const struct bad_call *c = &bad_calls[i];
            struct who w = {"u-gina", NULL, modern};
            /*
             * On 2026-07-28 a name that is not a string has no Mcp-Name to mirror it, and a
             * tools/call without Mcp-Name fails the header check first (400, -32020).
             */
            bool no_header = modern && strcmp(c->says, "params.name") == 0;
            const json_t *err;

            params = fx_json(c->params);
            resp = call_status(&w, "tools/call", params, no_header ? 400 : 200, &r);
            err = error_of(resp, no_header ? MCP_RPC_HEADER_MISMATCH : MCP_RPC_INVALID_PARAMS,
                           c->params);
            if (!no_header)
                cr_assert(strstr(message_of(err), c->says), "%s: %s", c->params, message_of(err));
            json_decref(resp);
            json_decref(params);
        }
    }
    /* No params at all. */
    {
        struct who w = {"u-gina", NULL, false};
        resp = call_text(&w, "tools/call", NULL, &r);
        error_of(resp, MCP_RPC_INVALID_PARAMS, "no params");
        json_decref(resp);
    }
}

/* The error object with the tool's name taken out of the message (new reference). */
static json_t *error_without_name(const json_t *resp, const char *name)
{
    json_t *err = json_deep_copy(json_object_get(resp, "error"));
    const char *msgtext = json_string_value(json_object_get(err, "message"));
    const char *at = msgtext ? strstr(msgtext, name) : NULL;
    char buf[256];

    cr_assert_not_null(at, "the message does not name %s: %s", name, msgtext ? msgtext : "");
    snprintf(buf, sizeof buf, "%.*s<NAME>%s", (int)(at - msgtext), msgtext, at + strlen(name));
    json_object_set_new(err, "message", json_string(buf));
    return err;
}

struct hidden_case {
    const char *desc;
    const char *user;
    const char *pack;
    const char *tool;
};

/* Each of these must read exactly as a tool that does not exist. */
static const struct hidden_case hidden_cases[] = {
    {"an unknown tool", "u-gina", NULL, "nope__x"},
    {"an unknown tool of a known connector", "u-gina", NULL, "pay__nope"},
    {"a name that is no tool name", "u-gina", NULL, "Pay Charges"},
    {"a pattern", "u-alice", NULL, "pay__*"},
    {"a tool of no grant", "u-gina", NULL, "pay__charges"},
    {"a tool above the grant's ceiling", "u-bob", NULL, "code__write_file"},
    {"a tool above the pack entry's ceiling", "u-alice", NULL, "pay__note"},
    {"a tool under an expired grant only", "u-erin", NULL, "pay__refund"},
    {"a tool of another pack than the scope", "u-alice", "finance", "pay__charges"},
    {"a tool of an unknown pack scope", "u-alice", "nope", "pay__charges"},
    {"any tool of an inactive user", "u-carol", NULL, "code__read_file"},
    {"any tool of an unknown user", "u-nobody", NULL, "code__read_file"},
};

Test(test_mcp_tools, call_of_a_tool_not_entitled_reads_as_unknown)
{
    json_t *reference = NULL;

    for (int modern = 0; modern < 2; modern++) {
        for (size_t i = 0; i < sizeof hidden_cases / sizeof hidden_cases[0]; i++) {
            const struct hidden_case *c = &hidden_cases[i];
            struct who w = {c->user, c->pack, modern};
            struct mcp_reply r;
            json_t *args = json_pack("{s:i}", "amount", 1);
            json_t *params = json_pack("{s:s, s:o}", "name", c->tool, "arguments", args);
            json_t *resp = call(&w, "tools/call", params, &r);
            json_t *err;
            char want[128];

            err = json_deep_copy(error_of(resp, MCP_RPC_INVALID_PARAMS, c->desc));
            snprintf(want, sizeof want, "Unknown tool: %s", c->tool);
            cr_assert_str_eq(message_of(err), want, "%s", c->desc);
            json_decref(err);
            err = error_without_name(resp, c->tool);
            if (!reference)
                reference = json_incref(err);
            cr_assert(fx_json_eq(err, reference), "%s", c->desc);
            json_decref(err);
            json_decref(resp);
            json_decref(params);
        }
    }
    json_decref(reference);
}

/* The one tool error text of a result, after checking the result's shape. */
static const char *tool_error_text(const json_t *res, const char *desc)
{
    const json_t *content = json_object_get(res, "content");
    const json_t *first = json_array_get(content, 0);

    cr_assert(json_is_true(json_object_get(res, "isError")), "%s: not a tool error", desc);
    cr_assert_eq(json_array_size(content), 1, "%s", desc);
    cr_assert_str_eq(json_string_value(json_object_get(first, "type")), "text", "%s", desc);
    cr_assert(json_is_string(json_object_get(first, "text")), "%s", desc);
    return json_string_value(json_object_get(first, "text"));
}

struct deny_case {
    const char *desc;
    const char *user;
    const char *pack;
    const char *tool;
    const char *args;
    const char *grants;   /* labels of the grants named, in order, "a|b" */
    const char *outcome;  /* of every policy named */
    const char *subjects; /* of the policies, "a|b" */
    const char *packs;    /* of the policies, "a|b" */
};

static const struct deny_case deny_cases[] = {
    {"a number above the bound", "u-alice", NULL, "pay__refund", "{\"amount\": 60000}", "G2",
     "condition_false", "Finance Approved", "finance"},
    {"an absent argument", "u-alice", NULL, "pay__refund", "{}", "G2", "condition_false",
     "Finance Approved", "finance"},
    {"no arguments at all", "u-alice", NULL, "pay__refund", NULL, "G2", "condition_false",
     "Finance Approved", "finance"},
    {"under the pack scope", "u-alice", "finance", "pay__refund", "{\"amount\": 60000}", "G2",
     "condition_false", "Finance Approved", "finance"},
    {"a condition that cannot be evaluated", "u-alice", NULL, "pay__refund", "{\"amount\": [1]}",
     "G2", "condition_error", "Finance Approved", "finance"},
    {"two grants, both refuse", "u-hank", NULL, "pay__refund",
     "{\"currency\": \"eur\", \"amount\": 500}", "G9|G10", "condition_false", "Currency|hank", "|"},
};

/* Item k of "a|b|c" into buf; NULL past the last one. */
static const char *item(const char *list, size_t k, char *buf, size_t n)
{
    const char *p = list, *bar;

    for (size_t i = 0; i < k; i++) {
        p = strchr(p, '|');
        if (!p)
            return NULL;
        p++;
    }
    bar = strchr(p, '|');
    snprintf(buf, n, "%.*s", (int)(bar ? (size_t)(bar - p) : strlen(p)), p);
    return buf;
}

static bool listed(const char *list, const char *label)
{
    char buf[64];

    for (size_t k = 0; item(list, k, buf, sizeof buf); k++)
        if (strcmp(buf, label) == 0)
            return true;
    return false;
}

static void check_denial(const struct deny_case *c, bool modern)
{
    struct who w = {c->user, c->pack, modern};
    struct mcp_reply r;
    json_t *params = json_pack("{s:s}", "name", c->tool);
    json_t *resp;
    const json_t *res, *sc, *policies;
    const char *text;
    char label[16];
    size_t k;

    if (c->args)
        json_object_set_new(params, "arguments", fx_json(c->args));
    resp = call(&w, "tools/call", params, &r);
    res = result_of(resp, c->desc);
    text = tool_error_text(res, c->desc);
    cr_assert_eq(strncmp(text, "Denied by policy", 16), 0, "%s: %s", c->desc, text);
    cr_assert(strstr(text, c->tool), "%s: %s", c->desc, text);
    sc = json_object_get(res, "structuredContent");
    cr_assert_str_eq(json_string_value(json_object_get(sc, "decision")), "denied");
    cr_assert_str_eq(json_string_value(json_object_get(sc, "tool")), c->tool);
    policies = json_object_get(sc, "policies");
    for (k = 0; item(c->grants, k, label, sizeof label); k++) {
        const json_t *p = json_array_get(policies, k);
        char buf[128];

        cr_assert_not_null(p, "%s: policy %zu is missing", c->desc, k);
        cr_assert_str_eq(json_string_value(json_object_get(p, "grant")), fx_gid(label), "%s",
                         c->desc);
        cr_assert(strstr(text, fx_gid(label)), "%s: the text does not name %s", c->desc, label);
        cr_assert_str_eq(json_string_value(json_object_get(p, "outcome")), c->outcome, "%s",
                         c->desc);
        cr_assert_str_eq(json_string_value(json_object_get(p, "subject")),
                         item(c->subjects, k, buf, sizeof buf), "%s", c->desc);
        cr_assert_str_eq(json_string_value(json_object_get(p, "pack")),
                         item(c->packs, k, buf, sizeof buf), "%s", c->desc);
        cr_assert(json_is_string(json_object_get(p, "detail")), "%s", c->desc);
        cr_assert(strstr(text, json_string_value(json_object_get(p, "detail"))), "%s", c->desc);
    }
    cr_assert_eq(json_array_size(policies), k, "%s: %zu policies", c->desc,
                 json_array_size(policies));
    /* Grants that did not fail on a condition are not named (alice's G1 is above ceiling). */
    for (int i = 0; i < fx.ngrants; i++)
        if (!listed(c->grants, fx.grants[i].label))
            cr_assert_null(strstr(text, fx.grants[i].id), "%s: names %s", c->desc,
                           fx.grants[i].label);
    cr_assert(modern ? json_is_string(json_object_get(res, "resultType"))
                     : !json_object_get(res, "resultType"),
              "%s", c->desc);
    json_decref(resp);
    json_decref(params);
}

Test(test_mcp_tools, call_refused_by_a_condition_names_the_grant)
{
    for (int modern = 0; modern < 2; modern++)
        for (size_t i = 0; i < sizeof deny_cases / sizeof deny_cases[0]; i++)
            check_denial(&deny_cases[i], modern);
}

struct allow_case {
    const char *desc;
    const char *user;
    const char *pack;
    const char *tool;
    const char *args; /* JSON text; NULL: no arguments */
};

static const struct allow_case allow_cases[] = {
    {"a grant to everyone", "u-gina", NULL, "code__read_file", "{}"},
    {"no arguments", "u-gina", NULL, "code__read_file", NULL},
    {"null arguments are no arguments", "u-gina", NULL, "code__read_file", "null"},
    {"a condition that holds", "u-alice", NULL, "pay__refund", "{\"amount\": 100}"},
    {"a condition at its bound", "u-alice", NULL, "pay__refund", "{\"amount\": 50000}"},
    {"under the pack scope", "u-alice", "finance", "pay__refund", "{\"amount\": 1}"},
    {"through a parent group, under its pack", "u-alice", "payread", "pay__charges", "{}"},
    {"the second grant allows", "u-hank", NULL, "pay__refund",
     "{\"currency\": \"eur\", \"amount\": 50}"},
    {"a user grant", "u-erin", "notes", "pay__note", "{\"note\": \"hello\"}"},
    {"through a cycle of groups", "u-frank", NULL, "code__write_file", "{}"},
};

Test(test_mcp_tools, call_allowed_reaches_the_missing_runtime)
{
    for (int modern = 0; modern < 2; modern++) {
        for (size_t i = 0; i < sizeof allow_cases / sizeof allow_cases[0]; i++) {
            const struct allow_case *c = &allow_cases[i];
            struct who w = {c->user, c->pack, modern};
            struct mcp_reply r;
            json_t *params = json_pack("{s:s}", "name", c->tool);
            json_t *resp;
            const json_t *res;

            if (c->args)
                json_object_set_new(params, "arguments", fx_json(c->args));
            resp = call(&w, "tools/call", params, &r);
            res = result_of(resp, c->desc);
            cr_assert_str_eq(tool_error_text(res, c->desc), NO_RUNTIME, "%s", c->desc);
            cr_assert_null(json_object_get(res, "structuredContent"), "%s", c->desc);
            if (modern)
                cr_assert_str_eq(json_string_value(json_object_get(res, "resultType")), "complete",
                                 "%s", c->desc);
            else
                cr_assert_null(json_object_get(res, "resultType"), "%s", c->desc);
            json_decref(resp);
            json_decref(params);
        }
    }
}

Test(test_mcp_tools, call_follows_the_policy_at_once)
{
    struct who w = {"u-alice", NULL, false};
    struct mcp_reply r;
    json_t *resp;

    resp = call_text(&w, "tools/call", "{\"name\": \"pay__charges\"}", &r);
    cr_assert_str_eq(tool_error_text(result_of(resp, "before"), "before"), NO_RUNTIME);
    json_decref(resp);
    fx_set_active("u-alice", false);
    resp = call_text(&w, "tools/call", "{\"name\": \"pay__charges\"}", &r);
    cr_assert_str_eq(message_of(error_of(resp, MCP_RPC_INVALID_PARAMS, "inactive")),
                     "Unknown tool: pay__charges");
    json_decref(resp);
}

/*
 * A name is the whole JSON string: "code__read_file\u0000x" is no tool name, so it must read
 * as an unknown tool. jansson keeps the NUL (the parser allows it), and a C string of the
 * value stops at it, so the call must not be decided, or run, as code__read_file.
 */
Test(test_mcp_tools, call_name_with_an_embedded_nul_is_unknown)
{
    static const char name[] = "code__read_file\0x";
    struct who w = {"u-gina", NULL, false};
    struct mcp_reply r;
    json_t *params = json_pack("{s:s#}", "name", name, sizeof name - 1);
    json_t *resp = call(&w, "tools/call", params, &r);

    error_of(resp, MCP_RPC_INVALID_PARAMS, "embedded NUL");
    json_decref(resp);
    json_decref(params);
}

/* Runs one tools/call with stderr sent to a temporary file; returns what was logged (heap). */
static char *logged_by_call(const struct who *w, const json_t *params)
{
    char path[] = "/tmp/mandate-mcp-log-XXXXXX";
    int fd = mkstemp(path), saved;
    struct mcp_reply r;
    json_t *resp;
    char *text = calloc(1, 65536);
    ssize_t n;

    cr_assert(fd >= 0 && text);
    fflush(stderr);
    saved = dup(2);
    cr_assert(saved >= 0 && dup2(fd, 2) == 2);
    resp = call(w, "tools/call", params, &r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    json_decref(resp);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    n = read(fd, text, 65535);
    cr_assert(n >= 0);
    close(fd);
    unlink(path);
    return text;
}

/*
 * A log line is one event (STYLE.md, core/log.h): a tool name is the agent's text, so one with
 * a line break must not start a line of its own in the log.
 */
Test(test_mcp_tools, call_log_line_cannot_be_forged_by_a_tool_name)
{
    static const char name[] = "nope__x\nforged=1 level=error";
    struct who w = {"u-gina", NULL, false};
    json_t *params = json_pack("{s:s}", "name", name);
    json_t *warm = json_pack("{s:s}", "name", "nope__y");
    char *log, *line;
    int lines = 0;

    /* A first call builds the policy and the user's cache, which may log lines of their own. */
    free(logged_by_call(&w, warm));
    log = logged_by_call(&w, params);
    cr_assert(strstr(log, "mcp_call"), "the denial is not logged: %s", log);
    for (line = log; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        cr_assert_neq(strncmp(line, "forged=", 7), 0, "a forged log line: %s", log);
        lines++;
    }
    cr_assert_eq(lines, 1, "one event, %d lines: %s", lines, log);
    free(log);
    json_decref(warm);
    json_decref(params);
}
