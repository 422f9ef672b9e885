/*
 * /scim/v2: authenticates the SCIM bearer token, then hands the request to the scim module and
 * writes its response as application/scim+json.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/time.h"
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

/*
 * The bearer token from an Authorization header: the scheme is case-insensitive
 * (RFC 7235), and only "Bearer" is accepted.
 */
static const char *bearer(const char *authz)
{
    if (!authz || strncasecmp(authz, "Bearer ", 7) != 0)
        return NULL;
    authz += 7;
    while (*authz == ' ')
        authz++;
    return *authz ? authz : NULL;
}

static enum md_err authenticate(struct http_req *req, struct md_error *e)
{
    const char *tok = bearer(http_req_header(req, "Authorization"));
    struct store_conn *c = NULL;
    struct store_token t;
    enum md_err rc;

    if (!tok)
        return md_error_set(e, MD_ERR_UNAUTHORIZED,
                            "a SCIM bearer token is required (Authorization: Bearer <token>)");
    rc = store_acquire(req->store, &c, e);
    if (rc)
        return rc;
    rc = http_token_verify(c, tok, HTTP_TOKEN_KIND_SCIM, &t, e);
    if (rc == MD_OK) {
        int64_t now = time_now_ms();
        snprintf(req->actor, sizeof req->actor, "%s", t.id);
        /* "last used" for `mandate token list`, written at most once a minute per token. */
        if (now - t.last_used_ms > 60000) {
            struct md_error ignored;
            if (store_token_touch(c, t.id, now, &ignored))
                log_warn("event=token_touch_failed token=%s", t.id);
        }
    }
    store_release(c);
    return rc;
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
    rc = authenticate(req, &e);
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
    if (req->public_url) {
        snprintf(base, sizeof base, "%s/scim/v2", req->public_url);
    } else {
        const char *host = http_req_header(req, "Host");
        const char *proto = http_req_header(req, "X-Forwarded-Proto");
        if (!proto || (strcmp(proto, "https") != 0 && strcmp(proto, "http") != 0))
            proto = "http";
        if (!host || strlen(host) > 255 || strpbrk(host, "\"<>\\ \t/"))
            host = "localhost";
        snprintf(base, sizeof base, "%s://%s/scim/v2", proto, host);
    }
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
    write_scim(resp, &sr);
    scim_response_clear(&sr);
}
