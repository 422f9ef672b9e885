/*
 * The router of /api/v1 and what every resource shares: problem details (RFC 9457), the
 * checks on request bodies, pages, If-Match, Location and ETag.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "audit/audit.h"
#include "admin/admin_int.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"

const char *admin_reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* A sentence for an error that came without one, so that "detail" always says something. */
static const char *default_detail(enum md_err rc)
{
    switch (rc) {
    case MD_ERR_NOTFOUND:
        return "no such resource";
    case MD_ERR_NOMEM:
        return "out of memory";
    case MD_ERR_UNAVAILABLE:
        return "the database is unavailable";
    case MD_ERR_UNAUTHORIZED:
        return "an admin bearer token is required";
    default:
        return "the request failed";
    }
}

void admin_problem(struct admin_response *resp, enum md_err code, const char *detail)
{
    int status = md_err_http_status(code);
    json_decref(resp->body);
    resp->raw = NULL;
    resp->status = status;
    resp->problem = true;
    resp->location[0] = '\0';
    resp->etag[0] = '\0';
    resp->body = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
                           admin_reason_phrase(status), "status", status, "detail",
                           detail && *detail ? detail : default_detail(code));
}

void admin_response_clear(struct admin_response *resp)
{
    json_decref(resp->body);
    resp->body = NULL;
}

bool admin_is_public(const char *method, const char *path)
{
    return path && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
           (strcmp(path, "/openapi.json") == 0);
}

/* ---- helpers for the handlers ---- */

bool admin_is(const struct admin_ctx *x, const char *method)
{
    return strcmp(x->method, method) == 0;
}

bool admin_method_ok(struct admin_ctx *x, const char *allow)
{
    size_t n = strlen(x->method);
    /* allow is a list like "GET, POST": match whole words only. */
    for (const char *p = allow; (p = strstr(p, x->method)) != NULL; p += n) {
        bool start = p == allow || p[-1] == ' ' || p[-1] == ',';
        bool end = p[n] == '\0' || p[n] == ',';
        if (start && end)
            return true;
    }
    admin_failf(x, MD_ERR_METHOD, "%s is not allowed here; use %s", x->method, allow);
    snprintf(x->resp->allow, sizeof x->resp->allow, "%s", allow);
    return false;
}

void admin_reply(struct admin_ctx *x, int status, json_t *body)
{
    json_decref(x->resp->body);
    x->resp->status = status;
    x->resp->body = body;
    x->resp->problem = false;
}

void admin_reply_items(struct admin_ctx *x, json_t *items)
{
    json_t *o;
    if (!items) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        return;
    }
    o = json_pack("{s:o}", "items", items);
    if (!o) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        return;
    }
    admin_reply(x, 200, o);
}

void admin_fail(struct admin_ctx *x, enum md_err rc, const struct md_error *e)
{
    if (md_err_http_status(rc) >= 500)
        log_error("event=admin_error code=%s detail=\"%s\"", md_err_name(rc), e ? e->msg : "");
    admin_problem(x->resp, rc, e ? e->msg : NULL);
}

void admin_failf(struct admin_ctx *x, enum md_err rc, const char *fmt, ...)
{
    struct md_error e;
    va_list ap;
    e.code = rc;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    admin_fail(x, rc, &e);
}

const char *admin_query(const struct admin_ctx *x, const char *name)
{
    return x->req->query ? x->req->query(x->req->query_ctx, name) : NULL;
}

/* Whether a Content-Type header names media (parameters such as charset are ignored). */
static bool media_is(const char *ct, const char *media)
{
    size_t n = 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    while (ct[n] && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
        n++;
    return slice_ieq_cstr((struct slice){ct, n}, media);
}

enum md_err admin_body_object(struct admin_ctx *x, bool merge_patch, json_t **out)
{
    const struct admin_request *r = x->req;
    struct md_error e;
    json_t *v = NULL;
    enum md_err rc;

    *out = NULL;
    md_error_clear(&e);
    if (r->body_too_large) {
        admin_failf(x, MD_ERR_TOOLARGE, "the request body exceeds %d bytes", ADMIN_MAX_BODY);
        return MD_ERR_TOOLARGE;
    }
    if (!r->content_type ||
        !(media_is(r->content_type, "application/json") ||
          (merge_patch && media_is(r->content_type, "application/merge-patch+json")))) {
        admin_failf(x, MD_ERR_UNSUPPORTED_MEDIA, "the request body must be application/json%s",
                    merge_patch ? " (or application/merge-patch+json)" : "");
        return MD_ERR_UNSUPPORTED_MEDIA;
    }
    if (!r->body || r->body_len == 0) {
        admin_failf(x, MD_ERR_SYNTAX, "a JSON object is required as the request body");
        return MD_ERR_SYNTAX;
    }
    rc = json_parse_limited(r->body, r->body_len, ADMIN_MAX_BODY, ADMIN_MAX_DEPTH, &v, &e);
    if (rc) {
        /* Everything but a size refusal is a malformed body: 400, never a 500. */
        if (rc != MD_ERR_TOOLARGE && rc != MD_ERR_NOMEM)
            rc = MD_ERR_SYNTAX;
        /* The parser quotes the text near the error: never for a body that holds a secret. */
        if (x->secret_body)
            admin_failf(x, rc, "the request body is not valid JSON");
        else
            admin_fail(x, rc, &e);
        return rc;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        admin_failf(x, MD_ERR_SYNTAX, "the request body must be a JSON object");
        return MD_ERR_SYNTAX;
    }
    *out = v;
    return MD_OK;
}

static enum md_err page_param(struct admin_ctx *x, const char *name, int64_t *out)
{
    const char *s = admin_query(x, name);
    long long v;
    if (!s)
        return MD_OK;
    if (!str_to_ll(s, strlen(s), INT32_MIN, INT32_MAX, &v)) {
        admin_failf(x, MD_ERR_VALUE, "%s must be an integer", name);
        return MD_ERR_VALUE;
    }
    *out = v;
    return MD_OK;
}

enum md_err admin_page_parse(struct admin_ctx *x, struct admin_page *p)
{
    enum md_err rc;
    p->start_index = 1;
    p->count = ADMIN_DEFAULT_PAGE;
    rc = page_param(x, "startIndex", &p->start_index);
    if (rc == MD_OK)
        rc = page_param(x, "count", &p->count);
    if (rc)
        return rc;
    /* As in SCIM (RFC 7644 section 3.4.2.4): below 1 reads as 1, a negative count as 0. */
    if (p->start_index < 1)
        p->start_index = 1;
    if (p->count < 0)
        p->count = 0;
    if (p->count > ADMIN_MAX_PAGE)
        p->count = ADMIN_MAX_PAGE;
    return MD_OK;
}

enum md_err admin_if_match(struct admin_ctx *x, int64_t *version)
{
    const char *s = x->req->if_match;
    size_t n;
    long long v;

    *version = 0;
    if (!s)
        return MD_OK;
    while (*s == ' ')
        s++;
    n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    if (n == 1 && s[0] == '*')
        return MD_OK;
    if (n >= 2 && s[0] == 'W' && s[1] == '/') {
        s += 2;
        n -= 2;
    }
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (!str_to_ll(s, n, 1, INT64_MAX, &v)) {
        admin_failf(x, MD_ERR_VALUE, "If-Match must be a version: N, \"N\" or W/\"N\"");
        return MD_ERR_VALUE;
    }
    *version = v;
    return MD_OK;
}

void admin_set_location(struct admin_ctx *x, const char *collection, const char *id)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b;
    buf_init(&b, sizeof x->resp->location - 1);
    buf_appendf(&b, "%s/%s/", x->req->base_url, collection);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf_append_char(&b, (char)*p);
        } else {
            buf_append_char(&b, '%');
            buf_append_char(&b, hex[*p >> 4]);
            buf_append_char(&b, hex[*p & 15]);
        }
    }
    /* A Location that does not fit is left out rather than cut short. */
    if (!b.err && b.p)
        snprintf(x->resp->location, sizeof x->resp->location, "%s", b.p);
    buf_free(&b);
}

void admin_set_etag(struct admin_ctx *x, const json_t *doc)
{
    const json_t *v = json_object_get(doc, "version");
    if (json_is_integer(v))
        snprintf(x->resp->etag, sizeof x->resp->etag, "W/\"%lld\"",
                 (long long)json_integer_value(v));
}

enum md_err admin_only_members(struct admin_ctx *x, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool known = false;
        (void)v;
        for (const char *const *a = allowed; *a; a++)
            known = known || strcmp(key, *a) == 0;
        if (!known) {
            admin_failf(x, MD_ERR_VALUE, "unknown member \"%.64s\"", key);
            return MD_ERR_VALUE;
        }
    }
    return MD_OK;
}

/* ---- the router ---- */

void admin_route_resource(struct admin_ctx *x, const struct admin_resource *r)
{
    const bool item = x->nseg == 2;
    const struct {
        const char *method;
        bool has;
    } m[] = {
        {"GET", item ? r->get != NULL : r->list != NULL},
        {"POST", !item && r->create},
        {"PUT", item && r->put},
        {"PATCH", item && r->patch},
        {"DELETE", item && r->del},
    };
    char allow[64] = "";
    size_t len = 0;

    if (x->nseg > 2) {
        admin_failf(x, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i].has)
            len += (size_t)snprintf(allow + len, sizeof allow - len, "%s%s", len ? ", " : "",
                                    m[i].method);
    if (!admin_method_ok(x, allow))
        return;
    if (!item)
        (admin_is(x, "POST") ? r->create : r->list)(x);
    else if (admin_is(x, "PUT"))
        r->put(x, x->seg[1]);
    else if (admin_is(x, "PATCH"))
        r->patch(x, x->seg[1]);
    else if (admin_is(x, "DELETE"))
        r->del(x, x->seg[1]);
    else
        r->get(x, x->seg[1]);
}

struct route {
    const char *name;
    void (*fn)(struct admin_ctx *x);
};

static const struct route routes[] = {
    {"openapi.json", admin_route_openapi},  {"tokens", admin_route_tokens},
    {"users", admin_route_users},           {"groups", admin_route_groups},
    {"connectors", admin_route_connectors}, {"packs", admin_route_packs},
    {"grants", admin_route_grants},         {"decisions", admin_route_decisions},
    {"audit", admin_route_audit},
    {"access-at", admin_route_access_at},
};

/*
 * Splits path into segments: "/packs/support" -> {"packs", "support"}. One trailing slash is
 * tolerated; empty segments in the middle, too many or too long ones are not a path we serve.
 */
static bool split_path(struct admin_ctx *x, const char *path)
{
    char *w = x->segbuf;
    size_t n = strlen(path);
    const char *p = path;

    x->nseg = 0;
    if (n && path[n - 1] == '/')
        n--;
    if (n == 0)
        return true;
    if (*p != '/')
        return false;
    while (p < path + n) {
        const char *start = ++p;
        size_t len;
        while (p < path + n && *p != '/')
            p++;
        len = (size_t)(p - start);
        if (len == 0 || len > ADMIN_SEG_MAX || x->nseg == ADMIN_MAX_SEGS)
            return false;
        memcpy(w, start, len);
        w[len] = '\0';
        x->seg[x->nseg++] = w;
        w += len + 1;
    }
    return true;
}

static void dispatch(const struct admin_request *req, struct admin_response *resp)
{
    struct admin_ctx x;

    memset(resp, 0, sizeof *resp);
    memset(&x, 0, sizeof x);
    x.req = req;
    x.resp = resp;
    /* HEAD is GET without the body, which the HTTP layer drops. */
    x.method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    if (!split_path(&x, req->path ? req->path : "") || x.nseg == 0) {
        admin_failf(&x, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(x.seg[0], routes[i].name) == 0) {
            routes[i].fn(&x);
            if (!resp->status)
                admin_failf(&x, MD_ERR_INTERNAL, "no response");
            return;
        }
    }
    admin_failf(&x, MD_ERR_NOTFOUND, "no such endpoint");
}

/*
 * Whether a request changes something: every write method, except the decision check and the
 * audit log's own "verify now", which read.
 */
static bool is_change(const struct admin_request *req)
{
    const char *m = req->method;
    const char *p = req->path ? req->path : "";
    if (strcmp(m, "POST") != 0 && strcmp(m, "PUT") != 0 && strcmp(m, "PATCH") != 0 &&
        strcmp(m, "DELETE") != 0)
        return false;
    return strncmp(p, "/decisions", 10) != 0 && strncmp(p, "/audit", 6) != 0;
}

/* The resource as a GET of the same path shows it now (secrets scrubbed), or NULL. */
static json_t *snapshot(const struct admin_request *req)
{
    struct admin_request g = *req;
    struct admin_response r;
    json_t *out = NULL;

    g.method = "GET";
    g.body = NULL;
    g.body_len = 0;
    g.body_too_large = false;
    g.content_type = NULL;
    g.if_match = NULL;
    g.audit = NULL;
    dispatch(&g, &r);
    if (r.status == 200 && r.body)
        out = audit_scrub(r.body);
    admin_response_clear(&r);
    return out;
}

void admin_handle(const struct admin_request *req, struct admin_response *resp)
{
    json_t *before = NULL, *ev;
    const char *p = req->path ? req->path : "";

    if (!req->audit || !is_change(req)) {
        dispatch(req, resp);
        return;
    }
    /* A collection (POST /grants) has no before; an item (PUT /packs/x) has its old self. */
    if (strcmp(req->method, "POST") != 0)
        before = snapshot(req);
    dispatch(req, resp);
    if (resp->status < 200 || resp->status >= 300) {
        json_decref(before);
        return;
    }
    ev = json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s?}, s:o*, s:o*}", "type", AUDIT_TYPE_ADMIN,
                   "method", req->method, "path", p, "status", resp->status, "actor", "kind",
                   "admin_token", "token_id", req->actor && req->actor[0] ? req->actor : NULL,
                   "before", before, "after", resp->body ? audit_scrub(resp->body) : NULL);
    if (ev && req->request_id)
        json_object_set_new(ev, "request_id", json_string(req->request_id));
    audit_record(req->audit, ev);
}
