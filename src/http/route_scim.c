/*
 * /scim/v2: authenticates the SCIM bearer token, then hands the request to the scim module and
 * writes its response as application/scim+json.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"
#include "scim/scim.h"

static const char *query_cb(void *ctx, const char *name)
{
    return http_req_query(ctx, name);
}

static void write_scim(struct http_resp *resp, struct scim_response *sr)
{
    if (sr->location[0])
        http_resp_add_header(resp, "Location", sr->location);
    if (sr->etag[0])
        http_resp_add_header(resp, "ETag", sr->etag);
    if (sr->allow[0])
        http_resp_add_header(resp, "Allow", sr->allow);
    http_resp_json(resp, sr->status, "application/scim+json", sr->body);
}

void http_route_scim(struct http_req *req, struct http_resp *resp, const char *rest)
{
    struct scim_response sr;
    struct scim_request sq;
    struct md_error e;
    char base[600];
    enum md_err rc;

    memset(&sr, 0, sizeof sr);
    md_error_clear(&e);
    rc = http_authenticate(req, HTTP_TOKEN_KIND_SCIM, &e);
    if (rc) {
        if (rc == MD_ERR_UNAUTHORIZED)
            http_resp_add_header(resp, "WWW-Authenticate", "Bearer realm=\"mandate-scim\"");
        else
            log_error("event=auth_error code=%s detail=\"%s\"", md_err_name(rc), e.msg);
        scim_error(&sr, rc, e.msg);
        write_scim(resp, &sr);
        scim_response_clear(&sr);
        return;
    }
    if (req->body_too_large) {
        scim_error(&sr, MD_ERR_TOOLARGE, "the request body exceeds the maximum payload size");
        write_scim(resp, &sr);
        scim_response_clear(&sr);
        return;
    }
    http_base_url(req, "/scim/v2", base, sizeof base);
    memset(&sq, 0, sizeof sq);
    sq.method = req->method;
    sq.path = rest;
    sq.body = req->body;
    sq.body_len = req->body_len;
    sq.content_type = http_req_header(req, "Content-Type");
    sq.if_match = http_req_header(req, "If-Match");
    sq.if_none_match = http_req_header(req, "If-None-Match");
    sq.query = query_cb;
    sq.query_ctx = req;
    sq.base_url = base;
    sq.actor = req->actor;
    sq.store = req->store;
    sq.limits = req->limits;
    scim_handle(&sq, &sr);
    http_audit_scim(req, rest, &sr);
    write_scim(resp, &sr);
    scim_response_clear(&sr);
}
