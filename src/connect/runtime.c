/*
 * The connector runtime (runtime.h): one tool call from checked arguments to a CallToolResult,
 * across the steps the other files of this module own. A call that needs an OAuth access token
 * waits for it on the transport's thread; one whose upstream answers 401 to a cached token gets
 * a fresh token and is sent once more. A refresh token that the token endpoint rotates is
 * sealed back into the vault (on_rotate) before the access token that came with it is used.
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect/auth.h"
#include "connect/connect.h"
#include "connect/oauth.h"
#include "connect/response.h"
#include "connect/runtime.h"
#include "connect/schema.h"
#include "connect/transport.h"
#include "connect/vault.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"

struct connect_runtime {
    struct connect_transport *t;
    struct connect_oauth *oauth;
    struct connect_vault *vault;
    struct connect_limits lim;
    atomic_int inflight;
    atomic_bool stopped;
};

enum md_err connect_runtime_open(const struct connect_runtime_config *cfg,
                                 struct connect_runtime **out, struct md_error *e)
{
    struct connect_runtime *rt = calloc(1, sizeof *rt);
    struct connect_transport_config tc = {0};
    enum md_err rc;

    *out = NULL;
    if (!rt)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    rt->lim.timeout_ms = cfg->timeout_ms;
    rt->lim.max_response = cfg->max_response;
    tc.max_inflight = cfg->max_inflight;
    tc.allow_http = cfg->allow_http;
    rc = connect_transport_start(&tc, &rt->t, e);
    if (rc == MD_OK)
        rc = connect_oauth_new(rt->t, &rt->oauth, e);
    if (rc == MD_OK && cfg->vault_key)
        rc = connect_vault_open(cfg->store, cfg->vault_key, &rt->vault, e);
    if (rc != MD_OK) {
        connect_runtime_close(rt);
        return rc;
    }
    *out = rt;
    return MD_OK;
}

void connect_runtime_stop(struct connect_runtime *rt)
{
    if (!rt || atomic_exchange(&rt->stopped, true))
        return;
    /*
     * Every call in flight completes with an error, through the callbacks below. The transport
     * itself lives on until close, refusing submissions: the OAuth cache holds it too.
     */
    connect_transport_stop(rt->t);
}

void connect_runtime_close(struct connect_runtime *rt)
{
    if (!rt)
        return;
    connect_runtime_stop(rt);
    connect_oauth_free(rt->oauth);
    connect_transport_free(rt->t);
    connect_vault_close(rt->vault);
    free(rt);
}

struct connect_vault *connect_runtime_vault(struct connect_runtime *rt)
{
    return rt->vault;
}

int connect_runtime_inflight(struct connect_runtime *rt)
{
    return atomic_load(&rt->inflight);
}

/* ---- one call ---- */

#define CONNECT_SCRUB_MAX 12

struct call_state {
    struct connect_runtime *rt;
    connect_result_fn fn;
    void *cls;
    struct connect_outcome o;
    char connector[32];
    char title[64];
    char rid[24];
    json_t *auth;   /* the connector's auth object (a reference) or NULL */
    json_t *rules;  /* the connector's response object (a reference) or NULL */
    json_t *secret; /* OAuth: the client credentials until the token arrives */
    enum connect_auth_type type;
    char subject[256]; /* the caller's userName, for a JWT grant that acts as the caller */
    struct connect_request req;
    struct connect_request retry; /* OAuth: a copy to send again after a 401 */
    bool oauth;
    bool retried;
    struct connect_oauth_params op;
    char *token_url;
    char cache_key[64];
    int64_t t0;
    /* The credential values sent, masked out of whatever the upstream echoes back. */
    char *scrub[CONNECT_SCRUB_MAX];
    int nscrub;
};

static void state_free(struct call_state *st)
{
    for (int i = 0; i < st->nscrub; i++) {
        OPENSSL_cleanse(st->scrub[i], strlen(st->scrub[i]));
        free(st->scrub[i]);
    }
    json_decref(st->auth);
    json_decref(st->rules);
    connect_vault_secret_free(st->secret);
    connect_request_free(&st->req);
    connect_request_free(&st->retry);
    free(st->token_url);
    free(st);
}

/* Delivers the result (taken) and ends the call. */
static void finish(struct call_state *st, json_t *result)
{
    struct connect_runtime *rt = st->rt;
    if (!result)
        result = connect_result_error("mandate ran out of memory while answering this call.");
    st->fn(st->cls, result, &st->o);
    state_free(st);
    atomic_fetch_sub(&rt->inflight, 1);
}

static void fail(struct call_state *st, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void scrub_body(const struct call_state *st, char *body, size_t len);

static void fail(struct call_state *st, const char *kind, const char *fmt, ...)
{
    char text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* A transport error names the token URL's path, which may hold a credential field. */
    scrub_body(st, text, strlen(text));
    snprintf(st->o.error_kind, sizeof st->o.error_kind, "%s", kind);
    finish(st, connect_result_error(text));
}

static bool request_clone(const struct connect_request *a, struct connect_request *b)
{
    memset(b, 0, sizeof *b);
    b->method = a->method;
    b->url = strdup(a->url);
    b->url_len = a->url_len;
    if (a->body) {
        b->body = malloc(a->body_len + 1);
        if (b->body) {
            memcpy(b->body, a->body, a->body_len + 1);
            b->body_len = a->body_len;
        }
    }
    b->headers = calloc(a->n_headers ? a->n_headers : 1, sizeof *b->headers);
    if (!b->url || (a->body && !b->body) || !b->headers)
        goto fail;
    for (size_t i = 0; i < a->n_headers; i++) {
        b->headers[i].name = strdup(a->headers[i].name);
        b->headers[i].value = strdup(a->headers[i].value);
        b->n_headers = i + 1;
        if (!b->headers[i].name || !b->headers[i].value)
            goto fail;
    }
    return true;
fail:
    connect_request_free(b);
    return false;
}

static void send_request(struct call_state *st);

/* Remembers a credential value to mask; short values are not, as they would mask common text. */
static void remember(struct call_state *st, const char *v, size_t len)
{
    char *copy;
    if (len < 6 || st->nscrub >= CONNECT_SCRUB_MAX)
        return;
    copy = strndup(v, len);
    if (copy)
        st->scrub[st->nscrub++] = copy;
}

/*
 * Everything secret of the credential that went on the wire: the secret's values but the
 * identifiers (connect_auth_field_is_secret), every field that a credential placeholder put in
 * the body or the token URL (names), and the Authorization header's value without its scheme
 * (a Basic header's base64, a bearer token, an OAuth 1.0 header's parameters).
 */
static void remember_credential(struct call_state *st, const json_t *secret, const json_t *names)
{
    const char *k;
    json_t *v;

    json_object_foreach(json_mut(secret), k, v)
    {
        /* Identifiers are not secret, and an upstream rightly shows them (a reporter's email). */
        if (!json_object_get(names, k) && !connect_auth_field_is_secret(st->auth, k))
            continue;
        if (json_is_string(v))
            remember(st, json_string_value(v), json_string_length(v));
    }
    for (size_t i = 0; i < st->req.n_headers; i++) {
        const char *hv = st->req.headers[i].value, *sp;
        if (strcasecmp(st->req.headers[i].name, "Authorization") != 0)
            continue;
        sp = strchr(hv, ' ');
        remember(st, sp ? sp + 1 : hv, strlen(sp ? sp + 1 : hv));
    }
}

/*
 * Masks every remembered credential value in an upstream body with '*': an error page or a
 * debugging endpoint that echoes the request must not hand the credential to the agent.
 */
static void scrub_body(const struct call_state *st, char *body, size_t len)
{
    for (int i = 0; i < st->nscrub; i++) {
        size_t n = strlen(st->scrub[i]);
        char *p = body, *end = body + len;
        while (p < end && (p = memmem(p, (size_t)(end - p), st->scrub[i], n)) != NULL) {
            memset(p, '*', n);
            p += n;
        }
    }
}

static void on_response(void *cls, struct connect_response *resp);

static void on_token(void *cls, enum md_err err, const char *token, const char *error);

static void on_response(void *cls, struct connect_response *resp)
{
    struct call_state *st = cls;
    struct connect_response_in in;

    st->o.upstream_ms += resp->elapsed_ms;
    st->o.upstream_status = resp->status;
    if (resp->err != MD_OK) {
        fail(st, resp->err == MD_ERR_TOOLARGE ? "upstream_too_large" : "upstream_unreachable",
             "The %s API could not be used: %s", st->title, resp->error);
        goto out;
    }
    /* A cached OAuth token the upstream no longer takes: one fresh token, one more try. */
    if (resp->status == 401 && st->oauth && !st->retried && st->retry.url) {
        struct md_error e = {0};
        st->retried = true;
        connect_request_free(&st->req);
        st->req = st->retry;
        memset(&st->retry, 0, sizeof st->retry);
        if (connect_oauth_token(st->rt->oauth, &st->op, true, on_token, st, &e) != MD_OK)
            fail(st, "credential", "Could not get an access token for %s: %s", st->title, e.msg);
        goto out;
    }
    scrub_body(st, resp->body, resp->body_len);
    memset(&in, 0, sizeof in);
    in.status = resp->status;
    in.content_type = connect_response_header(resp, "Content-Type");
    in.body = resp->body;
    in.body_len = resp->body_len;
    in.link = connect_response_header(resp, "Link");
    in.connector = st->connector;
    in.rules = st->rules;
    if (resp->status >= 300)
        snprintf(st->o.error_kind, sizeof st->o.error_kind, "upstream_status");
    finish(st, connect_response_result(&in));
out:
    connect_response_free(resp);
}

static void send_request(struct call_state *st)
{
    struct md_error e = {0};
    struct connect_runtime *rt = st->rt;

    if (atomic_load(&rt->stopped)) {
        fail(st, "stopping", "mandate is shutting down; try again in a moment.");
        return;
    }
    st->o.sent = true;
    /*
     * The transport takes the request either way. Once it is queued, st may be completed and
     * freed on the transport's thread at any moment: nothing here touches it after success.
     */
    if (connect_transport_submit(rt->t, &st->req, &rt->lim, on_response, st, &e) != MD_OK)
        fail(st, "busy", "The %s API could not be called: %s", st->title, e.msg);
}

static void on_token(void *cls, enum md_err err, const char *token, const char *error)
{
    struct call_state *st = cls;
    struct md_error e = {0};

    if (err != MD_OK) {
        fail(st, "credential", "Could not get an access token for %s: %s", st->title,
             error ? error : "the token endpoint failed");
        return;
    }
    if (connect_auth_apply(st->auth, NULL, token, &st->req, &e) != MD_OK) {
        fail(st, "credential", "The %s credential cannot be used: %s", st->title, e.msg);
        return;
    }
    remember(st, token, strlen(token));
    send_request(st);
}

/*
 * Told by the OAuth cache that the token endpoint rotated a refresh token: it replaces the one
 * that was used in the vault, as a compare-and-set (connect_vault_rotate), so that a restart or
 * another node uses it and an older rotation never overwrites a newer one.
 */
static void on_rotate(void *cls, const char *connector, const char *old_token,
                      const char *new_token)
{
    struct connect_runtime *rt = cls;
    struct md_error e = {0};
    char qe[300];
    enum md_err err;

    if (!rt->vault)
        return;
    err = connect_vault_rotate(rt->vault, connector, "refresh_token", old_token, new_token, &e);
    if (err == MD_OK)
        log_info("event=connect_refresh_token_rotated connector=%s outcome=stored", connector);
    else if (err == MD_ERR_PRECONDITION)
        log_info("event=connect_refresh_token_rotated connector=%s outcome=superseded error=%s",
                 connector, log_quote(e.msg, qe, sizeof qe));
    else
        log_warn("event=connect_refresh_token_rotated connector=%s outcome=not_stored error=%s "
                 "hint=\"this node keeps using the new refresh token; after a restart the stored "
                 "one may be refused\"",
                 connector, log_quote(e.msg, qe, sizeof qe));
}

/* The hex SHA-256 of the strings given (NULL ones as empty), each followed by a newline. */
static bool fingerprint(char hex[CRYPTO_SHA256_HEX_LEN], const char *const *parts, size_t n)
{
    struct buf b;
    bool ok;

    buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        buf_append_cstr(&b, parts[i] ? parts[i] : "");
        buf_append_char(&b, '\n');
    }
    ok = b.err == MD_OK && b.p;
    if (ok)
        crypto_sha256_hex(b.p, b.len, hex);
    if (b.p)
        OPENSSL_cleanse(b.p, b.cap);
    buf_free(&b);
    return ok;
}

static const char *secret_str(const struct call_state *st, const char *field)
{
    return json_string_value(json_object_get(st->secret, field));
}

/*
 * Starts the OAuth step: a token from the cache or the token endpoint (token_url: a deployment's
 * override, or NULL), then send_request.
 */
static void start_oauth(struct call_state *st, const char *base_url, const char *token_url)
{
    struct md_error e = {0};
    char hex[CRYPTO_SHA256_HEX_LEN];
    const char *scope = json_string_value(json_object_get(st->auth, "scope"));
    const char *client_auth = json_string_value(json_object_get(st->auth, "client_auth"));
    const char *subject = json_string_value(json_object_get(st->auth, "subject"));
    bool ok;

    st->oauth = true;
    if (connect_auth_token_url_at(st->auth, token_url, base_url, st->secret, &st->token_url, &e) !=
        MD_OK) {
        fail(st, "credential", "The %s connector's OAuth settings cannot be used: %s", st->title,
             e.msg);
        return;
    }
    st->op.token_url = st->token_url;
    st->op.scope = scope;
    st->op.client_secret_post = client_auth && strcmp(client_auth, "post") == 0;
    /*
     * One cached token per connector, client, token endpoint (and subject): a rotated secret gets
     * its own. A refresh grant's key leaves the refresh token out: the cache follows its
     * rotations itself (oauth.h), and a key that changed with each one would never hit.
     */
    if (st->type == CONNECT_AUTH_OAUTH2_JWT) {
        const char *parts[] = {st->connector,
                               st->token_url,
                               secret_str(st, "client_email"),
                               secret_str(st, "private_key_id"),
                               secret_str(st, "private_key"),
                               scope,
                               st->subject};
        if (subject && !st->subject[0]) {
            fail(st, "credential",
                 "The %s connector acts as the calling employee, and this call has none.",
                 st->title);
            return;
        }
        st->op.grant = CONNECT_GRANT_JWT_BEARER;
        st->op.jwt_key = parts[4];
        st->op.jwt_key_id = parts[3];
        st->op.jwt_issuer = parts[2];
        st->op.jwt_subject = subject ? st->subject : NULL;
        ok = parts[2] && parts[3] && parts[4] && fingerprint(hex, parts, 7);
    } else {
        const char *parts[] = {st->connector, st->token_url, secret_str(st, "client_id"),
                               secret_str(st, "client_secret"), scope};
        st->op.client_id = parts[2];
        st->op.client_secret = parts[3];
        if (st->type == CONNECT_AUTH_OAUTH2_REFRESH) {
            st->op.grant = CONNECT_GRANT_REFRESH_TOKEN;
            st->op.refresh_token = secret_str(st, "refresh_token");
            st->op.rotate = on_rotate;
            st->op.rotate_cls = st->rt;
            st->op.rotate_id = st->connector;
        } else {
            st->op.audience = json_string_value(json_object_get(st->auth, "audience"));
        }
        ok = parts[2] && parts[3] &&
             (st->type != CONNECT_AUTH_OAUTH2_REFRESH || st->op.refresh_token) &&
             fingerprint(hex, parts, st->type == CONNECT_AUTH_OAUTH2_REFRESH ? 5 : 4);
    }
    if (!ok) {
        fail(st, "credential", "The %s connector's OAuth settings are incomplete.", st->title);
        return;
    }
    snprintf(st->cache_key, sizeof st->cache_key, "%s:%.24s", st->connector, hex);
    st->op.cache_key = st->cache_key;
    if (!request_clone(&st->req, &st->retry))
        memset(&st->retry, 0, sizeof st->retry);
    if (connect_oauth_token(st->rt->oauth, &st->op, false, on_token, st, &e) != MD_OK)
        fail(st, "credential", "Could not get an access token for %s: %s", st->title, e.msg);
}

/*
 * The credential fields that the tool's request body and the connector's token URL use as
 * placeholders, into names; a request or auth that does not parse adds none here (building the
 * request says what is wrong with it).
 */
static bool credential_fields(const json_t *request_def, const json_t *auth, json_t *names)
{
    struct md_error e = {0};
    bool oom = connect_request_credential_fields(request_def, names, &e) == MD_ERR_NOMEM;
    oom |= connect_auth_credential_fields(auth, names, &e) == MD_ERR_NOMEM;
    return !oom;
}

void connect_runtime_call(struct connect_runtime *rt, const struct connect_call *call,
                          connect_result_fn fn, void *cls)
{
    struct call_state *st = calloc(1, sizeof *st);
    const json_t *tool = call->tool_doc;
    const char *tname = json_string_value(json_object_get(tool, "name"));
    const char *title = json_string_value(json_object_get(call->connector_doc, "title"));
    const json_t *request_def = json_object_get(tool, "request");
    enum connect_auth_type type = CONNECT_AUTH_NONE;
    struct connect_request_ctx ctx = {0};
    struct md_error e = {0};
    json_t *secret = NULL, *names = NULL;
    enum md_err rc;

    if (!st) {
        struct connect_outcome o = {0};
        fn(cls, connect_result_error("mandate ran out of memory while answering this call."), &o);
        return;
    }
    atomic_fetch_add(&rt->inflight, 1);
    st->rt = rt;
    st->fn = fn;
    st->cls = cls;
    st->t0 = time_mono_ms();
    snprintf(st->connector, sizeof st->connector, "%s", call->connector ? call->connector : "");
    snprintf(st->title, sizeof st->title, "%s", title ? title : st->connector);
    snprintf(st->rid, sizeof st->rid, "%s", call->request_id ? call->request_id : "-");
    snprintf(st->subject, sizeof st->subject, "%s",
             call->caller_user_name ? call->caller_user_name : "");
    if (atomic_load(&rt->stopped)) {
        fail(st, "stopping", "mandate is shutting down; try again in a moment.");
        return;
    }
    if (connect_schema_validate(json_object_get(tool, "input_schema"), call->args, &e) != MD_OK) {
        fail(st, "arguments", "Invalid arguments for %s: %s", tname ? tname : "this tool", e.msg);
        return;
    }
    st->auth = json_incref(json_object_get(call->connector_doc, "auth"));
    if (connect_auth_validate(st->auth, &type, &e) != MD_OK) {
        fail(st, "credential", "The %s connector's auth settings are invalid: %s", st->title,
             e.msg);
        return;
    }
    st->type = type;
    st->rules = json_incref(json_object_get(call->connector_doc, "response"));
    if (connect_response_check(st->rules, &e) != MD_OK) {
        fail(st, "internal", "The %s connector's response settings are invalid: %s", st->title,
             e.msg);
        return;
    }
    names = json_object();
    if (!names || !credential_fields(request_def, st->auth, names)) {
        json_decref(names);
        fail(st, "internal", "mandate ran out of memory while answering this call.");
        return;
    }
    /* The secret is read first when the request itself uses some of it. */
    if (type != CONNECT_AUTH_NONE || json_object_size(names) > 0) {
        if (!rt->vault) {
            fail(st, "credential",
                 "The %s connector needs a credential, and this mandate server has no vault key "
                 "(MANDATE_VAULT_KEY or --vault-key-file). Tell an administrator.",
                 st->title);
            goto out;
        }
        rc = connect_vault_get(rt->vault, st->connector, &secret, &e);
        if (rc == MD_ERR_NOTFOUND) {
            fail(st, "credential",
                 "No credential is set for the %s connector. An administrator sets one with "
                 "`mandate credential set %s` or PUT /api/v1/connectors/%s/credential.",
                 st->title, st->connector, st->connector);
            goto out;
        }
        if (rc != MD_OK) {
            fail(st, "credential", "The %s credential cannot be used: %s", st->title, e.msg);
            goto out;
        }
    }
    ctx.caller_user_name = call->caller_user_name;
    ctx.caller_email = call->caller_email;
    ctx.credential = secret;
    rc = connect_request_build_ctx(call->base_url, json_object_get(call->connector_doc, "headers"),
                                   request_def, call->args, &ctx, &st->req, &e);
    if (rc != MD_OK) {
        fail(st, "arguments", "The call cannot be made: %s", e.msg);
        goto out;
    }
    if (type == CONNECT_AUTH_NONE) {
        remember_credential(st, secret, names);
        send_request(st);
        goto out;
    }
    if (connect_auth_is_oauth2(type)) {
        st->secret = secret;
        secret = NULL;
        remember_credential(st, st->secret, names);
        start_oauth(st, call->base_url, call->token_url);
        goto out;
    }
    rc = connect_auth_apply(st->auth, secret, NULL, &st->req, &e);
    if (rc == MD_OK)
        remember_credential(st, secret, names);
    if (rc != MD_OK) {
        fail(st, "credential", "The %s credential cannot be used: %s", st->title, e.msg);
        goto out;
    }
    send_request(st);
out:
    /* st may be gone by now (finished, or handed to the transport): only locals are touched. */
    connect_vault_secret_free(secret);
    json_decref(names);
}
