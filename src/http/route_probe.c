/*
 * POST /api/v1/connectors/{name}/test: the console's "test connection". It sends one harmless
 * request to the connector's upstream exactly as a tool call would go (effective base URL,
 * static headers, the credential from the vault, OAuth included), and tells the admin whether
 * the upstream answered and accepted the credential, without showing the credential.
 *
 * The request is the connector's first read tool that is a GET and needs no argument (Stripe's
 * list_charges, Datadog's list_monitors): such a call proves both reachability and the
 * credential. A connector without one gets GET on its base URL, which proves reachability and
 * shows what the upstream answers there. The answer comes later (the connection is suspended
 * while the upstream call runs, as for /mcp), so no server thread waits on the network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access/access.h"
#include "admin/admin.h"
#include "connect/runtime.h"
#include "core/json.h"
#include "core/log.h"
#include "http/http_int.h"

struct probe {
    struct http_async *async;
    char connector[64];
    char tool[96]; /* the tool used, or "" for GET on the base URL */
    char path[256];
};

static void problem(struct http_resp *resp, enum md_err rc, const char *detail)
{
    struct admin_response ar;
    memset(&ar, 0, sizeof ar);
    admin_problem(&ar, rc, detail);
    http_resp_json(resp, ar.status, "application/problem+json", ar.body);
    admin_response_clear(&ar);
}

/* Whether a tool can be called with no arguments and has no side effect: a read GET. */
static bool harmless(const json_t *tool)
{
    const json_t *req = json_object_get(tool, "request");
    const json_t *schema = json_object_get(tool, "input_schema");
    const json_t *required = json_object_get(schema, "required");
    const char *level = json_string_value(json_object_get(tool, "level"));
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *path = json_string_value(json_object_get(req, "path"));

    return level && strcmp(level, "read") == 0 && method && strcmp(method, "GET") == 0 && path &&
           !strchr(path, '{') && (!required || json_array_size(required) == 0);
}

/* The first text of a CallToolResult: what the runtime says happened, never a credential. */
static const char *result_text(const json_t *result)
{
    const json_t *content = json_object_get(result, "content");
    return json_string_value(json_object_get(json_array_get(content, 0), "text"));
}

static void on_result(void *cls, json_t *result, const struct connect_outcome *o)
{
    struct probe *p = cls;
    struct http_resp resp;
    const char *text = result_text(result);
    bool is_error = json_is_true(json_object_get(result, "isError"));
    bool reached = o->upstream_status > 0;
    /*
     * 401 and 403 are the upstream refusing the credential; anything else that came back
     * proves the way there works. A 404 on the bare base URL is a normal answer of many APIs.
     */
    bool refused = o->upstream_status == 401 || o->upstream_status == 403;
    bool ok = reached && !refused && o->upstream_status < 500 && (!p->tool[0] || !is_error);
    char message[600];
    json_t *out;

    memset(&resp, 0, sizeof resp);
    if (ok)
        snprintf(message, sizeof message, "The upstream answered HTTP %d in %ld ms.",
                 o->upstream_status, o->upstream_ms);
    else if (refused)
        snprintf(message, sizeof message,
                 "The upstream refused the credential (HTTP %d). Set the credential again.%s%.400s",
                 o->upstream_status, text ? " " : "", text ? text : "");
    else
        snprintf(message, sizeof message, "%.590s",
                 text ? text : "The upstream could not be reached.");
    out = json_pack(
        "{s:s, s:b, s:b, s:o, s:I, s:s, s:{s:o, s:s, s:s}}", "connector", p->connector, "ok", ok,
        "reached", reached, "status", reached ? json_integer(o->upstream_status) : json_null(),
        "ms", (json_int_t)o->upstream_ms, "message", message, "request", "tool",
        p->tool[0] ? json_string(p->tool) : json_null(), "method", "GET", "path", p->path);
    if (out)
        http_resp_json(&resp, 200, "application/json", out);
    else
        problem(&resp, MD_ERR_NOMEM, "out of memory");
    json_decref(out);
    json_decref(result);
    log_info("event=connector_test connector=%s ok=%s status=%d error=%s", p->connector,
             ok ? "true" : "false", o->upstream_status, o->error_kind[0] ? o->error_kind : "-");
    http_async_complete(p->async, &resp);
    free(p);
}

void http_route_connector_test(struct http_req *req, struct http_resp *resp, const char *name)
{
    struct connect_call call;
    struct probe *p = NULL;
    struct md_error e;
    json_t *conn = NULL, *fallback = NULL, *tool = NULL, *t;
    size_t i;
    enum md_err rc;

    md_error_clear(&e);
    if (strcmp(req->method, "POST") != 0) {
        http_resp_add_header(resp, "Allow", "POST");
        problem(resp, MD_ERR_METHOD, "use POST to test a connector's connection");
        return;
    }
    /* The test takes no parameters: a body, if any, is an empty JSON object. */
    if (req->body_len > 0 || req->body_too_large) {
        const char *ct = http_req_header(req, "Content-Type");
        json_t *b = NULL;
        if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
            problem(resp, MD_ERR_UNSUPPORTED_MEDIA, "a request body must be application/json");
            return;
        }
        if (req->body_too_large ||
            json_parse_limited(req->body, req->body_len, 4096, 2, &b, &e) != MD_OK ||
            !json_is_object(b) || json_object_size(b) != 0) {
            json_decref(b);
            problem(resp, MD_ERR_VALUE, "the test takes no parameters: send no body, or {}");
            return;
        }
        json_decref(b);
    }
    if (!req->runtime) {
        problem(resp, MD_ERR_UNAVAILABLE, "the connector runtime is not running on this server");
        return;
    }
    rc = access_connector_get(req->access, name, &conn, &e);
    if (rc == MD_ERR_NOTFOUND) {
        char detail[160];
        snprintf(detail, sizeof detail, "no connector is named \"%.64s\"", name);
        problem(resp, rc, detail);
        goto out;
    }
    if (rc) {
        problem(resp, rc, e.msg);
        goto out;
    }
    json_array_foreach(json_object_get(conn, "tools"), i, t)
    {
        if (harmless(t)) {
            tool = t;
            break;
        }
    }
    if (!tool) {
        fallback = json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "name", "connection_test",
                             "title", "Connection test", "level", "read", "input_schema", "type",
                             "object", "request", "method", "GET", "path", "/");
        if (!fallback) {
            problem(resp, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
        tool = fallback;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        problem(resp, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    p->async = http_req_async(req);
    snprintf(p->connector, sizeof p->connector, "%s", name);
    if (!fallback)
        snprintf(p->tool, sizeof p->tool, "%s",
                 json_string_value(json_object_get(tool, "full_name"))
                     ? json_string_value(json_object_get(tool, "full_name"))
                     : "");
    snprintf(p->path, sizeof p->path, "%s",
             json_string_value(json_object_get(json_object_get(tool, "request"), "path")));
    memset(&call, 0, sizeof call);
    call.connector = name;
    call.connector_doc = conn;
    call.tool_doc = tool;
    call.base_url = json_string_value(json_object_get(conn, "base_url"));
    call.token_url =
        json_string_value(json_object_get(json_object_get(conn, "overrides"), "token_url"));
    call.args = NULL;
    call.request_id = req->rid;
    resp->pending = true;
    /* on_result may run before this returns (a missing credential): the server handles both. */
    connect_runtime_call(req->runtime, &call, on_result, p);
out:
    json_decref(fallback);
    json_decref(conn);
}
