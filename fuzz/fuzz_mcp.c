/*
 * libFuzzer driver for the MCP message layer (mcp_handle: server.c and tools.c) over a real
 * access service on a SQLite store in /tmp, built once, with no connector runtime: every reply
 * must be ready at once. The world: connector fz (a read, b write, c destructive) and zz (q
 * read); fuzz-user and the inactive fuzz-idle in fuzz-group; pack fzpack (fz__* destructive)
 * granted to the group with the condition "amount le 10" on fz__c; zz__q granted to fuzz-user.
 * Pages hold two tools, so that cursors come into play.
 *
 * An input is two bytes of choices and the body:
 *   byte 0  bits 0-2  MCP-Protocol-Version: none, 2025-06-18, 2025-11-25, 2026-07-28 (twice),
 *                     2024-11-05, "", or the body's own _meta version
 *           bits 3-4  Mcp-Method: none, the body's method (twice), "tools/list"
 *           bits 5-6  Mcp-Name: none, the body's params.name, "fz__a", a Base64 sentinel
 *           bit 7     the user: fuzz-user or fuzz-idle
 *   byte 1  bits 0-1  the pack scope: none, "", "fzpack", "nope"
 *
 * Each body also runs a second time with one bit of byte 0 flipped (LLVMFuzzerTestOneInput).
 *
 * What every reply must be (anything else aborts): ready; status 200, 202, 400 or 404; 202
 * exactly for notifications and responses, with no body; else a JSON-RPC 2.0 object with
 * exactly one of result and error, an error code the status allows, "resultType": "complete"
 * exactly on 2026-07-28 results, and a 2026-07-28 reply only when the standard headers agree
 * with the body. tools/list pages are short, ordered and hold valid names; a tools/call result
 * is a tool error, "No connector runtime" only when the access module allows the very call
 * (the whole name, the same user, pack and arguments), and "Unknown tool" only when it does not.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access/access.h"
#include "core/log.h"
#include "mcp/mcp.h"
#include "store/store.h"

#define PAGE_SIZE 2
#define NO_RUNTIME "No connector runtime runs here."
/* Mcp-Name in the Base64 sentinel form (streamable-http, "Value Encoding"), and what it says. */
#define SENTINEL "=?base64?ZnpfX2E=?="
#define SENTINEL_NAME "fz__a"

static char dir[] = "/tmp/mandate-fuzz-mcp-XXXXXX";
static struct store *st;
static struct access *acc;
static struct mcp_server *srv;

/* ---- the world ---- */

static void must(enum md_err rc, const struct md_error *e, const char *what)
{
    if (rc != MD_OK) {
        fprintf(stderr, "fuzz_mcp: %s: %s\n", what, e->msg);
        abort();
    }
}

static void resource(struct store_conn *c, enum store_kind k, const char *id, const char *name,
                     bool active)
{
    struct md_error e = {0};
    struct store_row r;
    json_t *doc = k == STORE_USERS ? json_pack("{s:s}", "userName", name)
                                   : json_pack("{s:s}", "displayName", name);
    char *text = json_dumps(doc, JSON_COMPACT), *nm = strdup(name);

    if (!text || !nm)
        abort();
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    r.doc = text;
    if (k == STORE_USERS)
        r.user_name = nm;
    else
        r.display_name = nm;
    r.active = active;
    must(store_res_insert(c, k, &r, &e), &e, id);
    free(nm);
    free(text);
    json_decref(doc);
}

/* A connector of tools "name:level,..." that take an optional integer amount. */
static void connector(const char *name, const char *const *tools, size_t n)
{
    struct md_error e = {0};
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:{s:s}, s:[]}", "name", name, "title", name, "base_url",
                  "https://api.example.com", "auth", "type", "bearer", "tools");
    bool created;

    for (size_t i = 0; i < n; i += 2)
        json_array_append_new(
            json_object_get(doc, "tools"),
            json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:{s:{s:s}}}, s:{s:s, s:s}}", "name", tools[i],
                      "title", tools[i], "description", "A tool of the fuzzer.", "level",
                      tools[i + 1], "input_schema", "type", "object", "properties", "amount",
                      "type", "integer", "request", "method", "POST", "path", "/v1/x"));
    must(access_connector_put(acc, doc, NULL, &created, &e), &e, name);
    json_decref(doc);
}

static void from_text(const char *what, const char *text, bool grant)
{
    struct md_error e = {0};
    json_t *doc = json_loads(text, 0, NULL);

    if (!doc)
        abort();
    if (grant)
        must(access_grant_create(acc, doc, "fuzz", NULL, &e), &e, what);
    else
        must(access_pack_create(acc, doc, NULL, &e), &e, what);
    json_decref(doc);
}

static void cleanup(void)
{
    DIR *d;
    struct dirent *de;
    char path[256];

    mcp_server_free(srv);
    access_close(acc);
    store_close(st);
    d = opendir(dir);
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const fz[] = {"a", "read", "b", "write", "c", "destructive"};
    static const char *const zz[] = {"q", "read"};
    struct md_error e = {0};
    struct mcp_config cfg = {0};
    struct store_conn *c = NULL;
    char url[128];
    bool added;

    (void)argc;
    (void)argv;
    /* A line per denied call would cost more than the call. */
    log_set_level(LOG_ERROR);
    if (!mkdtemp(dir))
        abort();
    snprintf(url, sizeof url, "sqlite:%s/f.db", dir);
    must(store_open(url, 2, &st, &e), &e, "store_open");
    must(access_open(st, &acc, &e), &e, "access_open");
    atexit(cleanup);
    must(store_acquire(st, &c, &e), &e, "store_acquire");
    resource(c, STORE_USERS, "fuzz-user", "fuzz", true);
    resource(c, STORE_USERS, "fuzz-idle", "idle", false);
    resource(c, STORE_GROUPS, "fuzz-group", "Fuzzers", true);
    must(store_member_add(c, "fuzz-group", "fuzz-user", STORE_MEMBER_USER, NULL, &added, &e), &e,
         "member");
    must(store_member_add(c, "fuzz-group", "fuzz-idle", STORE_MEMBER_USER, NULL, &added, &e), &e,
         "member");
    store_release(c);
    connector("fz", fz, sizeof fz / sizeof fz[0]);
    connector("zz", zz, sizeof zz / sizeof zz[0]);
    from_text("pack",
              "{\"name\": \"fzpack\", \"title\": \"Fuzz\","
              " \"tools\": [{\"tool\": \"fz__*\", \"level\": \"destructive\"}]}",
              false);
    from_text("group grant",
              "{\"subject\": {\"type\": \"group\", \"id\": \"fuzz-group\"},"
              " \"pack\": \"fzpack\", \"conditions\": {\"fz__c\": \"amount le 10\"}}",
              true);
    from_text("user grant",
              "{\"subject\": {\"type\": \"user\", \"id\": \"fuzz-user\"},"
              " \"tool\": \"zz__q\"}",
              true);
    cfg.access = acc;
    cfg.rt = NULL;
    cfg.page_size = PAGE_SIZE;
    cfg.server_version = "fuzz";
    must(mcp_server_new(&cfg, &srv, &e), &e, "mcp_server_new");
    return 0;
}

/* ---- the checks ---- */

static void never_called(void *cls, struct mcp_reply *r)
{
    (void)cls;
    (void)r;
    abort(); /* with no runtime, every reply is ready at once */
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool is_version(const char *v)
{
    return str_eq(v, MCP_VERSION_2025_06) || str_eq(v, MCP_VERSION_2025_11) ||
           str_eq(v, MCP_VERSION_2026_07);
}

/* A JSON string's whole value as a C string: NULL when it is not a string or holds NUL. */
static const char *whole_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* What the request asked, read by the driver itself (NULL members when the body is not JSON). */
struct asked {
    json_t *root;
    const char *method;
    const json_t *params;
    const char *meta_version;
};

static void read_asked(const uint8_t *body, size_t len, struct asked *a)
{
    memset(a, 0, sizeof *a);
    a->root = json_loadb((const char *)body, len, JSON_ALLOW_NUL, NULL);
    a->method = whole_string(json_object_get(a->root, "method"));
    a->params = json_object_get(a->root, "params");
    a->meta_version = json_string_value(json_object_get(json_object_get(a->params, "_meta"),
                                                        "io.modelcontextprotocol/protocolVersion"));
}

static void check_error(int status, const json_t *err)
{
    json_int_t code = json_integer_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));

    if (!json_is_integer(json_object_get(err, "code")) || !msg || !msg[0])
        abort();
    switch (status) {
    case 404:
        if (code != -32601)
            abort();
        break;
    case 400:
        if (code != -32700 && code != -32600 && code != -32602 && code != -32020 && code != -32022)
            abort();
        break;
    case 200:
        if (code != -32601 && code != -32602 && code != -32603)
            abort();
        break;
    default:
        abort();
    }
}

/* A page: at most PAGE_SIZE valid names in increasing order; a cursor of lower-case hex. */
static void check_list(const json_t *res, const char *user)
{
    const json_t *tools = json_object_get(res, "tools");
    const json_t *next = json_object_get(res, "nextCursor");
    const char *prev = "";

    if (!json_is_array(tools) || json_array_size(tools) > PAGE_SIZE)
        abort();
    if (strcmp(user, "fuzz-idle") == 0 && json_array_size(tools) != 0)
        abort();
    for (size_t i = 0; i < json_array_size(tools); i++) {
        const json_t *t = json_array_get(tools, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!access_tool_name_ok(name) || strcmp(name, prev) <= 0)
            abort();
        if (!json_is_object(json_object_get(t, "inputSchema")) ||
            !json_is_object(json_object_get(t, "annotations")))
            abort();
        prev = name;
    }
    if (next) {
        const char *c = json_string_value(next);
        size_t n = c ? strlen(c) : 0;
        if (n == 0 || n % 2 || json_array_size(tools) != PAGE_SIZE)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f')))
                abort();
    }
}

/* Whether access_decide allows the call as the driver reads it. */
static bool allowed(const struct mcp_request *req, const char *name, const json_t *args)
{
    struct access_decision *d = malloc(sizeof *d);
    struct md_error e = {0};
    bool ok;

    if (!d)
        abort();
    if (json_is_null(args))
        args = NULL;
    ok = access_decide(acc, req->user_id, name, req->pack, args, d, &e) == MD_OK && d->allowed;
    free(d);
    return ok;
}

/* A tools/call result: always a tool error here, and the one the decision asks for. */
static void check_call_result(const struct mcp_request *req, const struct asked *a,
                              const json_t *res)
{
    const char *name = whole_string(json_object_get(a->params, "name"));
    const json_t *first = json_array_get(json_object_get(res, "content"), 0);
    const char *text = json_string_value(json_object_get(first, "text"));

    if (!json_is_true(json_object_get(res, "isError")) || !text)
        abort();
    if (strcmp(text, NO_RUNTIME) == 0) {
        if (!name || !allowed(req, name, json_object_get(a->params, "arguments")))
            abort();
    } else if (strncmp(text, "Denied by policy", 16) == 0) {
        const json_t *pol = json_object_get(json_object_get(res, "structuredContent"), "policies");
        if (!name || json_array_size(pol) == 0)
            abort();
        if (allowed(req, name, json_object_get(a->params, "arguments")))
            abort();
    } else {
        abort();
    }
}

/* "Unknown tool: NAME" must never hide a call the access module allows. */
static void check_call_error(const struct mcp_request *req, const struct asked *a,
                             const json_t *err)
{
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *name = whole_string(json_object_get(a->params, "name"));
    const json_t *args = json_object_get(a->params, "arguments");

    if (!msg || strncmp(msg, "Unknown tool: ", 14) != 0 || !name)
        return;
    if ((!args || json_is_object(args) || json_is_null(args)) && allowed(req, name, args))
        abort();
}

/* A 2026-07-28 answer means the standard headers agreed with the body. */
static void check_modern(const struct mcp_request *req, const struct asked *a, const json_t *res)
{
    if (!str_eq(req->h_version, MCP_VERSION_2026_07) || !str_eq(a->meta_version, req->h_version))
        abort();
    if (!whole_string(json_object_get(json_object_get(a->params, "_meta"),
                                      "io.modelcontextprotocol/protocolVersion")))
        abort(); /* "2026-07-28\u0000..." is another version than the header's */
    if (!str_eq(req->h_method, a->method))
        abort();
    if (res && str_eq(a->method, "tools/call")) {
        const char *name = whole_string(json_object_get(a->params, "name"));
        const char *said = str_eq(req->h_name, SENTINEL) ? SENTINEL_NAME : req->h_name;
        if (name && !str_eq(said, name))
            abort();
    }
}

static void check_reply(const struct mcp_request *req, const struct asked *a,
                        const struct mcp_reply *r)
{
    json_t *v;
    const json_t *res, *err;

    if (r->version && !is_version(r->version))
        abort();
    if (r->status == 202) {
        if (r->body || r->body_len)
            abort();
        return;
    }
    if (r->status != 200 && r->status != 400 && r->status != 404)
        abort();
    if (!r->body || r->body_len != strlen(r->body))
        abort();
    v = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(v) || !str_eq(json_string_value(json_object_get(v, "jsonrpc")), "2.0"))
        abort();
    if (!json_object_get(v, "id"))
        abort();
    res = json_object_get(v, "result");
    err = json_object_get(v, "error");
    if ((res != NULL) == (err != NULL))
        abort();
    if (err)
        check_error(r->status, err);
    if (res) {
        const char *rt = json_string_value(json_object_get(res, "resultType"));
        bool modern = str_eq(r->version, MCP_VERSION_2026_07);
        if (r->status != 200 || !json_is_object(res) || !is_version(r->version))
            abort();
        if (modern ? !str_eq(rt, "complete") : json_object_get(res, "resultType") != NULL)
            abort();
        if (str_eq(a->method, "tools/list"))
            check_list(res, req->user_id);
        if (str_eq(a->method, "tools/call"))
            check_call_result(req, a, res);
    }
    if (err && str_eq(a->method, "tools/call"))
        check_call_error(req, a, err);
    if (r->status == 200 && str_eq(r->version, MCP_VERSION_2026_07))
        check_modern(req, a, res);
    json_decref(v);
}

/* One message under the header choices c (byte 0's layout) and the pack choice p. */
static void run_one(const uint8_t *body, size_t len, uint8_t c, uint8_t p)
{
    static const char *const versions[] = {NULL,
                                           MCP_VERSION_2025_06,
                                           MCP_VERSION_2025_11,
                                           MCP_VERSION_2026_07,
                                           MCP_VERSION_2026_07,
                                           "2024-11-05",
                                           "",
                                           NULL};
    static const char *const packs[] = {NULL, "", "fzpack", "nope"};
    struct mcp_request req = {0};
    struct mcp_reply r;
    struct asked a;
    unsigned m, n;

    read_asked(body, len, &a);
    req.body = (const char *)body;
    req.body_len = len;
    req.h_version = (c & 7) == 7 ? a.meta_version : versions[c & 7];
    m = (c >> 3) & 3;
    req.h_method = m == 0 ? NULL : m == 3 ? "tools/list" : a.method;
    n = (c >> 5) & 3;
    req.h_name = n == 0   ? NULL
                 : n == 1 ? json_string_value(json_object_get(a.params, "name"))
                 : n == 2 ? "fz__a"
                          : SENTINEL;
    req.user_id = c & 0x80 ? "fuzz-idle" : "fuzz-user";
    req.pack = packs[p & 3];
    req.token_id = "fuzz-token";
    req.request_id = "fuzz";
    if (!mcp_handle(srv, &req, &r, never_called, NULL))
        abort();
    check_reply(&req, &a, &r);
    free(r.body);
    json_decref(a.root);
}

/*
 * The body runs under the choices of byte 0, then under those with one bit flipped (which bit
 * follows from the size): mutations seldom touch byte 0 of a long input, and this way every
 * body also meets its neighbouring headers, a wrong one among them.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    run_one(data + 2, size - 2, data[0], data[1]);
    run_one(data + 2, size - 2, (uint8_t)(data[0] ^ (1u << (size % 8))), data[1]);
    return 0;
}
