/*
 * /mcp and /mcp/packs/{pack}: the Streamable HTTP transport of the MCP endpoint, and the RFC 9728
 * metadata that tells a client how to authenticate to it.
 *
 * Checks, in order, each answered in HTTP with a JSON-RPC error body (id null):
 *   Origin     a browser's Origin other than this server's or an allowed one: 403 (the
 *              transport's DNS rebinding protection)
 *   method     only POST: GET (no server-initiated stream is offered) and DELETE (there are no
 *              sessions to end) answer 405 with Allow: POST
 *   token      an agent token: 401 with WWW-Authenticate naming the resource metadata; also
 *              when its user has been deactivated or deleted since, at once
 *   pack       /mcp/packs/{pack} for a pack that does not exist: 404; a token limited to one
 *              pack used on another's URL: 403
 *   media      Content-Type application/json (415), an Accept that admits JSON (406), at most
 *              the body cap (413)
 * Then mcp_handle answers the message; a tool call suspends the connection until its upstream
 * answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access/access.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"

static void rpc_error(struct http_resp *resp, int status, int code, const char *message)
{
    char *text = NULL;
    mcp_jsonrpc_error(NULL, code, message, NULL, &text);
    http_resp_set_body(resp, status, "application/json", text, text ? strlen(text) : 0);
}

/* The URL of the resource metadata for the endpoint at path (RFC 9728 section 3.1). */
static void metadata_url(const struct http_req *req, const char *path, char *out, size_t n)
{
    char p[300];
    snprintf(p, sizeof p, "/.well-known/oauth-protected-resource%s", path);
    http_base_url(req, p, out, n);
}

static void unauthorized(struct http_req *req, struct http_resp *resp, const char *path,
                         bool presented, const char *why)
{
    char url[700], h[900];
    metadata_url(req, path, url, sizeof url);
    if (presented)
        snprintf(h, sizeof h, "Bearer resource_metadata=\"%s\", error=\"invalid_token\"", url);
    else
        snprintf(h, sizeof h, "Bearer resource_metadata=\"%s\"", url);
    http_resp_add_header(resp, "WWW-Authenticate", h);
    rpc_error(resp, 401, MCP_RPC_UNAUTHORIZED, why);
}

/* "scheme://host[:port]" of a URL, lower-cased; false when it has none. */
static bool origin_of(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    size_t len;
    if (!p)
        return false;
    p += 3;
    len = (size_t)(p - url) + strcspn(p, "/?#");
    if (len + 1 > n)
        return false;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)((url[i] >= 'A' && url[i] <= 'Z') ? url[i] + 32 : url[i]);
    out[len] = '\0';
    return true;
}

/*
 * A browser's Origin is accepted when it is this server's public URL, a loopback name on this
 * server's port, or one an administrator allowed (--mcp-origin). The Host header cannot vouch
 * for it: under DNS rebinding the attacker's name is the Host.
 */
static bool origin_ok(const struct http_req *req, const char *origin)
{
    char o[300], own[300];
    static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};

    if (!origin_of(origin, o, sizeof o))
        return false;
    if (req->public_url && origin_of(req->public_url, own, sizeof own) && strcmp(o, own) == 0)
        return true;
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
        for (int s = 0; s < 2; s++) {
            snprintf(own, sizeof own, "%s://%s:%u", s ? "https" : "http", loopback[i],
                     (unsigned)req->port);
            if (strcmp(o, own) == 0)
                return true;
        }
    }
    for (const char *const *a = req->origins; a && *a; a++)
        if (origin_of(*a, own, sizeof own) && strcmp(o, own) == 0)
            return true;
    return false;
}

/* The media type of a header value, without parameters, compared case-insensitively. */
static bool media_is(const char *value, const char *type)
{
    size_t n = strlen(type);
    while (*value == ' ')
        value++;
    return strncasecmp(value, type, n) == 0 &&
           (value[n] == '\0' || value[n] == ';' || value[n] == ' ');
}

/* Whether an Accept header admits a JSON answer (absent: anything goes). */
static bool accepts_json(const char *accept)
{
    if (!accept)
        return true;
    for (const char *p = accept; *p;) {
        size_t len = strcspn(p, ",");
        char item[128];
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        if (media_is(item, "application/json") || media_is(item, "*/*") ||
            media_is(item, "application/*"))
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

static void reply_to_resp(struct mcp_reply *r, struct http_resp *resp)
{
    if (r->status == 202 || !r->body) {
        free(r->body);
        http_resp_set_body(resp, r->status ? r->status : 500, NULL, NULL, 0);
    } else {
        http_resp_set_body(resp, r->status, "application/json", r->body, r->body_len);
    }
    r->body = NULL;
    if (r->version)
        http_resp_add_header(resp, "MCP-Protocol-Version", r->version);
}

static void on_reply(void *cls, struct mcp_reply *r)
{
    struct http_resp resp;
    memset(&resp, 0, sizeof resp);
    reply_to_resp(r, &resp);
    http_async_complete(cls, &resp);
}

/*
 * The pack of "/packs/{pack}" into out; "" for the root. false for any other path, and for a
 * segment that cannot be a pack name (1..63 of [a-z0-9_-]), so that only names go into URLs
 * and headers.
 */
static bool pack_of(const char *rest, char *out, size_t n)
{
    size_t len;
    out[0] = '\0';
    if (rest[0] == '\0' || strcmp(rest, "/") == 0)
        return true;
    if (strncmp(rest, "/packs/", 7) != 0)
        return false;
    rest += 7;
    len = strlen(rest);
    if (len == 0 || len > 63 || len >= n ||
        strspn(rest, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len)
        return false;
    snprintf(out, n, "%s", rest);
    return true;
}

void http_route_mcp(struct http_req *req, struct http_resp *resp, const char *rest)
{
    const char *origin = http_req_header(req, "Origin");
    const char *ctype = http_req_header(req, "Content-Type");
    char pack[64], path[128];
    struct mcp_request mq;
    char addr[64];
    struct mcp_reply reply;
    struct md_error e;
    bool exists, active;
    enum md_err rc;

    md_error_clear(&e);
    if (!pack_of(rest, pack, sizeof pack)) {
        rpc_error(resp, 404, MCP_RPC_INVALID_REQUEST,
                  "Not Found: the MCP endpoints are /mcp "
                  "and /mcp/packs/{pack}");
        return;
    }
    snprintf(path, sizeof path, "/mcp%s%s", pack[0] ? "/packs/" : "", pack);
    if (origin && !origin_ok(req, origin)) {
        log_warn("event=mcp_origin_refused origin_len=%zu", strlen(origin));
        rpc_error(resp, 403, MCP_RPC_INVALID_REQUEST,
                  "Forbidden: this Origin may not call mandate");
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        http_resp_add_header(resp, "Allow", "POST");
        rpc_error(resp, 405, MCP_RPC_INVALID_REQUEST,
                  "Method Not Allowed: POST one JSON-RPC message; mandate offers no stream and "
                  "no session to end");
        return;
    }
    if (!req->mcp || !req->access) {
        rpc_error(resp, 503, MCP_RPC_INTERNAL_ERROR, "the MCP endpoint is not running");
        return;
    }
    rc = http_authenticate(req, HTTP_TOKEN_KIND_AGENT, &e);
    if (rc == MD_ERR_UNAUTHORIZED) {
        unauthorized(req, resp, path, http_req_header(req, "Authorization") != NULL,
                     "Unauthorized: an agent token is required (Authorization: Bearer <token>)");
        return;
    }
    if (rc) {
        log_error("event=auth_error code=%s detail=\"%s\"", md_err_name(rc), e.msg);
        rpc_error(resp, 503, MCP_RPC_INTERNAL_ERROR, "the token cannot be checked now");
        return;
    }
    rc = access_user_status(req->access, req->token.user_id, &exists, &active, &e);
    if (rc) {
        rpc_error(resp, 503, MCP_RPC_INTERNAL_ERROR, "the user cannot be checked now");
        return;
    }
    if (!exists || !active) {
        http_audit_auth_failure(req, HTTP_TOKEN_KIND_AGENT,
                                exists ? "the employee this token acts for is deactivated"
                                       : "the employee this token acts for no longer exists");
        unauthorized(req, resp, path, true,
                     exists ? "Unauthorized: the employee this token acts for is deactivated"
                            : "Unauthorized: the employee this token acts for no longer exists");
        return;
    }
    if (pack[0]) {
        bool known = false;
        if (access_pack_exists(req->access, pack, &known, &e) != MD_OK) {
            rpc_error(resp, 503, MCP_RPC_INTERNAL_ERROR, "the packs cannot be read now");
            return;
        }
        if (!known) {
            rpc_error(resp, 404, MCP_RPC_INVALID_REQUEST, "Not Found: no such pack");
            return;
        }
        if (req->token.pack[0] && strcmp(req->token.pack, pack) != 0) {
            rpc_error(resp, 403, MCP_RPC_INVALID_REQUEST,
                      "Forbidden: this token is limited to another pack");
            return;
        }
    }
    if (!ctype || !media_is(ctype, "application/json")) {
        rpc_error(resp, 415, MCP_RPC_INVALID_REQUEST,
                  "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    if (!accepts_json(http_req_header(req, "Accept"))) {
        rpc_error(resp, 406, MCP_RPC_INVALID_REQUEST,
                  "Not Acceptable: the client must accept application/json");
        return;
    }
    if (req->body_too_large) {
        rpc_error(resp, 413, MCP_RPC_INVALID_REQUEST, "Payload Too Large: at most 1 MiB");
        return;
    }
    memset(&mq, 0, sizeof mq);
    mq.body = req->body ? req->body : "";
    mq.body_len = req->body_len;
    mq.h_version = http_req_header(req, "MCP-Protocol-Version");
    mq.h_method = http_req_header(req, "Mcp-Method");
    mq.h_name = http_req_header(req, "Mcp-Name");
    mq.user_id = req->token.user_id;
    mq.pack = pack[0] ? pack : req->token.pack;
    mq.token_id = req->token.id;
    mq.request_id = req->rid;
    mq.endpoint = req->url;
    mq.token_name = req->token.name;
    mq.user_agent = http_req_header(req, "User-Agent");
    http_req_client_addr(req, addr, sizeof addr);
    mq.client_addr = addr;
    if (mcp_handle(req->mcp, &mq, &reply, on_reply, http_req_async(req)))
        reply_to_resp(&reply, resp);
    else
        resp->pending = true;
}

/*
 * RFC 9728: the protected resource's metadata, at the well-known path with the resource's path
 * appended ("/mcp", "/mcp/packs/x") or bare. mandate's agent tokens are issued by its admins
 * (`mandate token create --kind agent`), not by an authorization server, so none is named.
 */
void http_route_resource_metadata(struct http_req *req, struct http_resp *resp, const char *rest)
{
    char pack[64], resource[700];
    json_t *doc;

    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_resp_add_header(resp, "Allow", "GET, HEAD");
        http_resp_problem(resp, 405, "Method Not Allowed", "use GET");
        return;
    }
    if (rest[0] == '\0')
        rest = "/mcp";
    if (strncmp(rest, "/mcp", 4) != 0 || !pack_of(rest + 4, pack, sizeof pack)) {
        http_resp_problem(resp, 404, "Not Found", "no such protected resource");
        return;
    }
    {
        char path[128];
        snprintf(path, sizeof path, "/mcp%s%s", pack[0] ? "/packs/" : "", pack);
        http_base_url(req, path, resource, sizeof resource);
    }
    doc = json_pack("{s:s, s:[s], s:s}", "resource", resource, "bearer_methods_supported", "header",
                    "resource_name", "mandate MCP gateway");
    http_resp_json(resp, 200, "application/json", doc);
    json_decref(doc);
}
