/*
 * The SCIM endpoint dispatcher: routes a request below /scim/v2 to its handler, and the
 * helpers that every handler shares (errors, bodies, query parameters).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/log.h"
#include "scim/scim_int.h"

const struct scim_limits scim_default_limits = {
    .max_body = 1 << 20,
    .max_depth = 32,
    .max_results = 1000,
    .max_bulk_ops = 1000,
    .max_bulk_payload = 1 << 20,
};

void scim_response_clear(struct scim_response *resp)
{
    json_decref(resp->body);
    resp->body = NULL;
    json_decref(resp->changes);
    resp->changes = NULL;
}

void scim_error(struct scim_response *resp, enum md_err code, const char *detail)
{
    char status[16];
    const char *type = md_err_scim_type(code);
    int http = md_err_http_status(code);
    json_t *body;

    if (http >= 500 && code != MD_ERR_UNAVAILABLE && code != MD_ERR_UNSUPPORTED)
        detail = "internal error; see the server log";
    snprintf(status, sizeof status, "%d", http);
    body = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_URN_ERROR, "status", status, "detail",
                     detail && *detail ? detail : "error");
    if (body && type)
        json_object_set_new(body, "scimType", json_string(type));
    json_decref(resp->body);
    resp->body = body;
    resp->status = http;
    resp->etag[0] = '\0';
    resp->location[0] = '\0';
}

void scim_fail(struct scim_ctx *x, enum md_err code)
{
    if (x->err.code == MD_OK || x->err.code != code) {
        if (!x->err.msg[0] || x->err.code != code)
            md_error_set(&x->err, code, "%s", x->err.msg[0] ? x->err.msg : md_err_name(code));
    }
    if (md_err_http_status(code) >= 500)
        log_error("event=scim_error code=%s detail=\"%s\"", md_err_name(code), x->err.msg);
    scim_error(x->resp, code, x->err.msg);
}

void scim_reply(struct scim_ctx *x, int status, json_t *body)
{
    json_decref(x->resp->body);
    x->resp->status = status;
    x->resp->body = body;
}

const char *scim_query_param(const struct scim_ctx *x, const char *name)
{
    if (!x->req->query)
        return NULL;
    return x->req->query(x->req->query_ctx, name);
}

json_t *scim_parse_body(struct scim_ctx *x)
{
    json_t *v = NULL;
    const char *ct = x->req->content_type;
    enum md_err rc;

    if (ct && !strcasestr(ct, "json")) {
        md_error_set(&x->err, MD_ERR_UNSUPPORTED_MEDIA,
                     "send application/scim+json or application/json, not %.60s", ct);
        scim_fail(x, MD_ERR_UNSUPPORTED_MEDIA);
        return NULL;
    }
    if (!x->req->body || x->req->body_len == 0) {
        md_error_set(&x->err, MD_ERR_SYNTAX, "the request body is empty");
        scim_fail(x, MD_ERR_SYNTAX);
        return NULL;
    }
    rc = json_parse_limited(x->req->body, x->req->body_len, x->limits->max_body,
                            x->limits->max_depth, &v, &x->err);
    if (rc) {
        scim_fail(x, rc);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        md_error_set(&x->err, MD_ERR_SYNTAX, "the request body must be a JSON object");
        scim_fail(x, MD_ERR_SYNTAX);
        return NULL;
    }
    return v;
}

bool scim_require_schema(struct scim_ctx *x, const json_t *body, const char *urn)
{
    const json_t *schemas = json_object_iget(body, "schemas");
    size_t i;
    json_t *s;
    json_array_foreach(schemas, i, s)
    {
        if (json_is_string(s) && strcasecmp(json_string_value(s), urn) == 0)
            return true;
    }
    md_error_set(&x->err, MD_ERR_SYNTAX, "\"schemas\" must contain %s", urn);
    scim_fail(x, MD_ERR_SYNTAX);
    return false;
}

enum store_kind scim_kind(const struct scim_rtype *rt)
{
    return rt == &scim_rtype_group ? STORE_GROUPS : STORE_USERS;
}

void scim_etag(int64_t version, char out[80])
{
    snprintf(out, 80, "W/\"%lld\"", (long long)version);
}

/* Splits "/Users/abc/" into "Users" and "abc", ignoring a trailing slash. */
static bool split_path(const char *path, char *first, size_t first_sz, char *second,
                       size_t second_sz, bool *extra)
{
    const char *p = path;
    size_t n;
    *extra = false;
    first[0] = second[0] = '\0';
    while (*p == '/')
        p++;
    n = strcspn(p, "/");
    if (n >= first_sz)
        return false;
    memcpy(first, p, n);
    first[n] = '\0';
    p += n;
    while (*p == '/')
        p++;
    n = strcspn(p, "/");
    if (n >= second_sz)
        return false;
    memcpy(second, p, n);
    second[n] = '\0';
    p += n;
    while (*p == '/')
        p++;
    *extra = *p != '\0';
    return true;
}

static void method_not_allowed(struct scim_ctx *x, const char *allow)
{
    md_error_set(&x->err, MD_ERR_METHOD, "%s is not supported here; use %s", x->req->method, allow);
    scim_fail(x, MD_ERR_METHOD);
    snprintf(x->resp->allow, sizeof x->resp->allow, "%s", allow);
}

/* Is method one of the comma-separated list allow ("GET, POST")? */
static bool method_in(const char *method, const char *allow)
{
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += n) {
        if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
            return true;
    }
    return false;
}

enum endpoint { EP_NONE, EP_RESOURCE, EP_SEARCH, EP_BULK, EP_DISCOVERY, EP_ME };

static void route(struct scim_ctx *x)
{
    char first[64], second[512];
    bool extra;
    const struct scim_rtype *rt = NULL;
    enum endpoint ep = EP_NONE;
    const char *allow = "";

    if (split_path(x->req->path, first, sizeof first, second, sizeof second, &extra) && !extra) {
        if (strcasecmp(first, "Users") == 0)
            rt = &scim_rtype_user;
        else if (strcasecmp(first, "Groups") == 0)
            rt = &scim_rtype_group;
        if (rt && strcmp(second, ".search") == 0)
            ep = EP_SEARCH, allow = "POST";
        else if (rt)
            ep = EP_RESOURCE, allow = second[0] ? "GET, PUT, PATCH, DELETE" : "GET, POST";
        else if (strcmp(first, ".search") == 0 && !second[0])
            ep = EP_SEARCH, allow = "POST";
        else if (strcasecmp(first, "Bulk") == 0 && !second[0])
            ep = EP_BULK, allow = "POST";
        else if (strcasecmp(first, "ServiceProviderConfig") == 0 ||
                 strcasecmp(first, "ResourceTypes") == 0 || strcasecmp(first, "Schemas") == 0)
            ep = EP_DISCOVERY, allow = "GET";
        else if (strcasecmp(first, "Me") == 0)
            ep = EP_ME;
    }
    if (ep == EP_NONE) {
        md_error_set(&x->err, MD_ERR_NOTFOUND, "no such endpoint");
        scim_fail(x, MD_ERR_NOTFOUND);
        return;
    }
    if (ep == EP_ME) {
        md_error_set(&x->err, MD_ERR_UNSUPPORTED, "/Me is not supported: tokens are not users");
        scim_fail(x, MD_ERR_UNSUPPORTED);
        return;
    }
    if (!method_in(x->req->method, allow)) {
        method_not_allowed(x, allow);
        return;
    }
    switch (ep) {
    case EP_RESOURCE:
        scim_resource_handle(x, rt, second[0] ? second : NULL);
        break;
    case EP_SEARCH:
        scim_search_handle(x, rt);
        break;
    case EP_BULK:
        scim_bulk_handle(x);
        break;
    default:
        scim_discovery_handle(x, first, second[0] ? second : NULL);
        break;
    }
}

void scim_handle(const struct scim_request *req, struct scim_response *resp)
{
    struct scim_ctx x;
    enum md_err rc;

    memset(&x, 0, sizeof x);
    memset(resp, 0, sizeof *resp);
    x.req = req;
    x.resp = resp;
    x.limits = req->limits ? req->limits : &scim_default_limits;
    rc = store_acquire(req->store, &x.conn, &x.err);
    if (rc) {
        scim_fail(&x, rc);
        return;
    }
    route(&x);
    store_rollback(x.conn); /* a no-op unless a handler left a transaction open */
    store_release(x.conn);
}
