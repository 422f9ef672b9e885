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
    if (!admin_is_public(req->method, rest)) {
        rc = http_authenticate(req, HTTP_TOKEN_KIND_ADMIN, &e);
        if (rc) {
            if (rc == MD_ERR_UNAUTHORIZED)
                http_resp_add_header(resp, "WWW-Authenticate", "Bearer realm=\"mandate-admin\"");
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
    admin_handle(&aq, &ar);
out:
    write_admin(resp, &ar);
    admin_response_clear(&ar);
}
