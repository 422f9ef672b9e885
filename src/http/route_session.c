/*
 * /api/v1/session and the session authentication of /api/v1 (session.h says what a session
 * is). Sign-in takes an admin token once and answers a cookie; from then on the console sends
 * the cookie, and its CSRF token on every change, never the admin token.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/admin.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "http/http.h"
#include "http/http_int.h"
#include "http/session.h"

/* Sign-in bodies are small: a token is under 100 bytes. */
#define SIGNIN_MAX_BODY 4096

bool http_req_is_https(const struct http_req *r)
{
    const char *proto;
    if (r->public_url)
        return strncasecmp(r->public_url, "https://", 8) == 0;
    proto = http_req_header(r, "X-Forwarded-Proto");
    return proto && strcasecmp(proto, "https") == 0;
}

/*
 * The session cookie: the __Host- one (set over https) first, then the plain one. Over https
 * the plain name is not read, so that a cookie planted over plain http cannot stand in for it.
 */
static const char *session_cookie(const struct http_req *req)
{
    const char *v = http_req_cookie(req, HTTP_SESSION_COOKIE_SECURE);
    if (v)
        return v;
    return http_req_is_https(req) ? NULL : http_req_cookie(req, HTTP_SESSION_COOKIE);
}

bool http_req_has_session(const struct http_req *req)
{
    return session_cookie(req) != NULL;
}

static bool safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* Sets (value non-NULL) or clears the session cookie. */
static void set_cookie(const struct http_req *req, struct http_resp *resp, const char *value)
{
    char line[256];
    bool https = http_req_is_https(req);
    snprintf(line, sizeof line, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
             https ? HTTP_SESSION_COOKIE_SECURE : HTTP_SESSION_COOKIE, value ? value : "",
             https ? "; Secure" : "", value ? "" : "; Max-Age=0");
    http_resp_add_header(resp, "Set-Cookie", line);
    OPENSSL_cleanse(line, sizeof line);
}

enum md_err http_session_authenticate(struct http_req *req, struct md_error *e)
{
    const char *secret = session_cookie(req);
    struct http_session_info si;
    struct store_conn *c = NULL;
    struct store_token t;
    enum md_err rc;

    if (!req->sessions || !secret)
        return md_error_set(e, MD_ERR_UNAUTHORIZED,
                            "sign in to the console, or send an admin bearer token");
    rc = http_session_find(req->sessions, secret, time_now_ms(), &si, e);
    if (rc)
        return rc;
    rc = store_acquire(req->store, &c, e);
    if (rc)
        return rc;
    rc = http_token_verify_hash(c, si.token_hash, HTTP_TOKEN_KIND_ADMIN, &t, e);
    if (rc == MD_ERR_UNAUTHORIZED) {
        /* The admin token was revoked: every session it opened ends with it. */
        size_t n = http_session_end_token(req->sessions, si.token_id);
        log_info("event=console_sessions_ended reason=token_revoked token=%s sessions=%zu",
                 si.token_id, n);
        md_error_set(e, MD_ERR_UNAUTHORIZED,
                     "the admin token of this console session was revoked; sign in again");
        goto out;
    }
    if (rc)
        goto out;
    if (!safe_method(req->method) &&
        !http_session_csrf_ok(secret, http_req_header(req, HTTP_CSRF_HEADER))) {
        rc = md_error_set(e, MD_ERR_FORBIDDEN,
                          "the " HTTP_CSRF_HEADER " header is missing or does not match this "
                          "console session; reload the console");
        http_audit_auth_failure(req, "console session", e->msg);
        goto out;
    }
    http_token_accepted(req, c, &t);
out:
    store_release(c);
    return rc;
}

/* Answers a problem (RFC 9457), as the rest of /api/v1 does. */
static void problem(struct http_resp *resp, enum md_err rc, const char *detail)
{
    struct admin_response ar;
    memset(&ar, 0, sizeof ar);
    admin_problem(&ar, rc, detail);
    http_resp_json(resp, ar.status, "application/problem+json", ar.body);
    admin_response_clear(&ar);
}

/* The session as the console sees it; NULL when out of memory. */
static json_t *session_json(const struct http_req *req, const struct http_session_info *si,
                            const char *secret)
{
    char csrf[HTTP_SESSION_SECRET_LEN], created[TIME_RFC3339_LEN], expires[TIME_RFC3339_LEN];
    char scim[600], mcp[600], api[600];
    json_t *o;

    http_session_csrf(secret, csrf);
    time_format_ms(si->created_ms, created);
    time_format_ms(si->expires_ms, expires);
    http_base_url(req, "/scim/v2", scim, sizeof scim);
    http_base_url(req, "/mcp", mcp, sizeof mcp);
    http_base_url(req, "/api/v1", api, sizeof api);
    o = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:s}, s:{s:s, s:s, s:s}}", "csrf_token", csrf,
                  "created", created, "expires", expires, "idle_timeout_s",
                  (json_int_t)(HTTP_SESSION_IDLE_MS / 1000), "admin_token", "id", si->token_id,
                  "name", si->token_name, "urls", "scim", scim, "mcp", mcp, "api", api);
    OPENSSL_cleanse(csrf, sizeof csrf);
    return o;
}

/* POST /session {"token": "mdt_admin_..."}: checks the token and starts a session. */
static void sign_in(struct http_req *req, struct http_resp *resp)
{
    char client[INET6_ADDRSTRLEN + 1], secret[HTTP_SESSION_SECRET_LEN] = "";
    const char *ct = http_req_header(req, "Content-Type");
    struct http_session_info si;
    struct store_conn *c = NULL;
    struct store_token t;
    struct md_error e;
    json_t *body = NULL, *out = NULL, *tok;
    int64_t retry_ms = 0;
    enum md_err rc;

    md_error_clear(&e);
    http_req_client_addr(req, client, sizeof client);
    if (!http_signin_attempt(req->sessions, client, time_now_ms(), &retry_ms)) {
        char retry[24], qc[80];
        snprintf(retry, sizeof retry, "%lld", (long long)((retry_ms + 999) / 1000));
        http_resp_add_header(resp, "Retry-After", retry);
        http_resp_problem(resp, 429, "Too Many Requests",
                          "too many sign-in attempts from this address; wait and try again");
        log_warn("event=console_signin_limited client=%s", log_quote(client, qc, sizeof qc));
        http_audit_auth_failure(req, "console sign-in", "too many sign-in attempts");
        goto out;
    }
    /*
     * A JSON body only: a cross-site form cannot send application/json without a preflight
     * that this server never grants, so no other site can sign a browser in.
     */
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        problem(resp, MD_ERR_UNSUPPORTED_MEDIA, "the request body must be application/json");
        goto out;
    }
    if (req->body_too_large || !req->body || req->body_len > SIGNIN_MAX_BODY ||
        json_parse_limited(req->body, req->body_len, SIGNIN_MAX_BODY, 4, &body, &e) ||
        !json_is_object(body)) {
        /* The parser would quote the text near an error: never for a body holding a token. */
        problem(resp, MD_ERR_SYNTAX, "the request body must be a JSON object {\"token\": ...}");
        goto out;
    }
    tok = json_object_get(body, "token");
    if (!json_is_string(tok) || json_string_length(tok) == 0) {
        problem(resp, MD_ERR_VALUE, "\"token\" is required: an admin token (mdt_admin_...)");
        goto out;
    }
    rc = store_acquire(req->store, &c, &e);
    if (rc == MD_OK)
        rc = http_token_verify(c, json_string_value(tok), HTTP_TOKEN_KIND_ADMIN, &t, &e);
    if (rc == MD_ERR_UNAUTHORIZED) {
        http_audit_auth_failure(req, "console sign-in", e.msg);
        http_resp_add_header(resp, "WWW-Authenticate", "Bearer realm=\"mandate-admin\"");
        problem(resp, rc,
                "that is not a valid admin token: it is unknown, revoked, or of another kind "
                "(create one with `mandate token create --kind admin`)");
        goto out;
    }
    if (rc == MD_OK) {
        /* A new sign-in never keeps a session id the browser had before (session fixation). */
        const char *old = session_cookie(req);
        if (old)
            http_session_end(req->sessions, old);
        rc = http_session_create(req->sessions, &t, time_now_ms(), secret, &si, &e);
    }
    if (rc) {
        if (md_err_http_status(rc) >= 500)
            log_error("event=console_signin_error code=%s detail=\"%s\"", md_err_name(rc), e.msg);
        problem(resp, rc, e.msg);
        goto out;
    }
    http_token_accepted(req, c, &t);
    out = session_json(req, &si, secret);
    if (!out) {
        http_session_end(req->sessions, secret);
        problem(resp, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    set_cookie(req, resp, secret);
    http_resp_json(resp, 201, "application/json", out);
    log_info("event=console_signin token=%s", t.id);
out:
    if (c)
        store_release(c);
    OPENSSL_cleanse(secret, sizeof secret);
    if (body)
        json_object_clear(body); /* drop the token's string now */
    json_decref(body);
    json_decref(out);
}

/* GET /session: the session of the cookie, with its CSRF token (for a reloaded console). */
static void get_session(struct http_req *req, struct http_resp *resp)
{
    const char *secret = session_cookie(req);
    struct http_session_info si;
    struct md_error e;
    json_t *out;

    md_error_clear(&e);
    if (http_session_authenticate(req, &e)) {
        if (e.code == MD_ERR_UNAUTHORIZED)
            http_resp_add_header(resp, "WWW-Authenticate", "Bearer realm=\"mandate-admin\"");
        problem(resp, e.code ? e.code : MD_ERR_UNAUTHORIZED, e.msg);
        return;
    }
    if (http_session_find(req->sessions, secret, time_now_ms(), &si, &e)) {
        problem(resp, MD_ERR_UNAUTHORIZED, e.msg);
        return;
    }
    out = session_json(req, &si, secret);
    if (!out) {
        problem(resp, MD_ERR_NOMEM, "out of memory");
        return;
    }
    http_resp_json(resp, 200, "application/json", out);
    json_decref(out);
}

/*
 * DELETE /session: signs out. Without a live session there is nothing to end, and the answer
 * still clears the cookie; with one, the CSRF token is required, so that no other site can
 * sign an admin out.
 */
static void sign_out(struct http_req *req, struct http_resp *resp)
{
    const char *secret = session_cookie(req);
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    rc = http_session_authenticate(req, &e);
    if (rc == MD_ERR_FORBIDDEN) {
        problem(resp, rc, e.msg);
        return;
    }
    if (rc == MD_OK) {
        http_session_end(req->sessions, secret);
        log_info("event=console_signout token=%s", req->actor);
    }
    set_cookie(req, resp, NULL);
    http_resp_set_body(resp, 204, NULL, NULL, 0);
}

void http_route_session(struct http_req *req, struct http_resp *resp, const char *rest)
{
    if (*rest && strcmp(rest, "/") != 0) {
        problem(resp, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    if (!req->sessions) {
        problem(resp, MD_ERR_UNAVAILABLE, "console sessions are not available on this server");
        return;
    }
    if (strcmp(req->method, "POST") == 0)
        sign_in(req, resp);
    else if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        get_session(req, resp);
    else if (strcmp(req->method, "DELETE") == 0)
        sign_out(req, resp);
    else {
        http_resp_add_header(resp, "Allow", "GET, POST, DELETE");
        problem(resp, MD_ERR_METHOD,
                "use POST to sign in, GET to read the session, DELETE to "
                "sign out");
    }
}
