/*
 * /api/v1: authenticates an admin bearer token, then hands the request to the admin module and
 * writes its answer as application/json, or application/problem+json for errors (RFC 9457).
 * Only the OpenAPI document is served without a token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"

static const char *query_cb(void *ctx, const char *name)
{
    return http_req_query(ctx, name);
}

/*
 * The connector name of "/connectors/{name}/test" into out, or false for any other path. The
 * test calls the upstream, so it is answered here, where answers may come later, rather than
 * by the admin module.
 */
static bool connector_test_path(const char *rest, char *out, size_t n)
{
    static const char prefix[] = "/connectors/", suffix[] = "/test";
    const char *name = rest + sizeof prefix - 1, *end;
    size_t len;

    if (strncmp(rest, prefix, sizeof prefix - 1) != 0)
        return false;
    end = strchr(name, '/');
    if (!end || strcmp(end, suffix) != 0)
        return false;
    len = (size_t)(end - name);
    if (len == 0 || len >= n)
        return false;
    memcpy(out, name, len);
    out[len] = '\0';
    return true;
}

static void write_admin(struct http_resp *resp, struct admin_response *ar)
{
    if (ar->location[0])
        http_resp_add_header(resp, "Location", ar->location);
    if (ar->etag[0])
        http_resp_add_header(resp, "ETag", ar->etag);
    if (ar->allow[0])
        http_resp_add_header(resp, "Allow", ar->allow);
    if (ar->raw) {
        size_t len = strlen(ar->raw);
        char *copy = malloc(len + 1);
        if (!copy) {
            http_resp_problem(resp, 500, "Internal Server Error", "out of memory");
            return;
        }
        memcpy(copy, ar->raw, len + 1);
        http_resp_set_body(resp, ar->status, "application/json", copy, len);
        return;
    }
    http_resp_json(resp, ar->status, ar->problem ? "application/problem+json" : "application/json",
                   ar->body);
}

void http_route_api(struct http_req *req, struct http_resp *resp, const char *rest)
{
    struct admin_response ar;
    struct admin_request aq;
    struct md_error e;
    char base[600];
    enum md_err rc;

    memset(&ar, 0, sizeof ar);
    md_error_clear(&e);
    if (strncmp(rest, "/session", 8) == 0 && (rest[8] == '\0' || rest[8] == '/')) {
        http_route_session(req, resp, rest + 8);
        return;
    }
    if (!admin_is_public(req->method, rest)) {
        /*
         * A bearer token when one is sent (scripts), else the console's session cookie, which
         * also demands the CSRF token on changes.
         */
        if (!http_req_header(req, "Authorization") && http_req_has_session(req))
            rc = http_session_authenticate(req, &e);
        else
            rc = http_authenticate(req, HTTP_TOKEN_KIND_ADMIN, &e);
        if (rc) {
            if (rc == MD_ERR_UNAUTHORIZED)
                http_resp_add_header(resp, "WWW-Authenticate", "Bearer realm=\"mandate-admin\"");
            else if (rc == MD_ERR_FORBIDDEN)
                log_warn("event=csrf_refused detail=\"%s\"", e.msg);
            else
                log_error("event=auth_error code=%s detail=\"%s\"", md_err_name(rc), e.msg);
            admin_problem(&ar, rc, e.msg);
            goto out;
        }
        if (!req->access) {
            admin_problem(&ar, MD_ERR_UNAVAILABLE, "the access service is not running");
            goto out;
        }
    }
    {
        char name[64];
        if (connector_test_path(rest, name, sizeof name)) {
            http_route_connector_test(req, resp, name);
            return;
        }
    }
    http_base_url(req, "/api/v1", base, sizeof base);
    memset(&aq, 0, sizeof aq);
    aq.method = req->method;
    aq.path = rest;
    aq.body = req->body;
    aq.body_len = req->body_len;
    aq.body_too_large = req->body_too_large;
    aq.content_type = http_req_header(req, "Content-Type");
    aq.if_match = http_req_header(req, "If-Match");
    aq.query = query_cb;
    aq.query_ctx = req;
    aq.actor = req->actor;
    aq.base_url = base;
    aq.store = req->store;
    aq.access = req->access;
    aq.vault = req->vault;
    aq.token_create = http_token_create;
    aq.audit = req->audit;
    aq.request_id = req->rid;
    aq.scim_activity = http_activity_json;
    aq.scim_activity_cls = req->activity;
    admin_handle(&aq, &ar);
out:
    write_admin(resp, &ar);
    admin_response_clear(&ar);
}
