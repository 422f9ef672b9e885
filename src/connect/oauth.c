/*
 * OAuth 2.0 access tokens with a token cache (the contract is in oauth.h).
 *
 * One entry per cache_key holds the current token, its expiry on the monotonic clock, whether
 * a token request is in flight, the callers waiting for it, and for a refresh grant the
 * lineage of refresh tokens (oauth.h). The mutex guards the map and every entry; callbacks
 * always run with it released, so that a callback may call connect_oauth_token again. There
 * is one entry per connector credential, or per (connector, subject) for a JWT grant that acts
 * as each caller: when the map holds more than ENTRIES_SWEEP entries, a new one first drops
 * those that hold no live token and wait for nothing.
 */
#include "connect/oauth.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/jwt.h"
#include "core/hmap.h"
#include "core/json.h"
#include "core/str.h"
#include "core/time.h"

/* The answer of a token endpoint is a small JSON object. */
#define TOKEN_RESPONSE_MAX (64 * 1024)
#define TOKEN_JSON_DEPTH 8
#define TOKEN_CONNECT_TIMEOUT_MS 5000
#define TOKEN_TIMEOUT_MS 15000
/* Bytes of the form body and of the Basic credentials. */
#define FORM_MAX (64 * 1024)
/* Characters of an endpoint's error code or description that an error sentence repeats. */
#define ECHO_MAX 120
/* expires_in beyond this (ten years) is taken as this. */
#define TTL_MAX_S (10LL * 366 * 24 * 3600)
/* Refresh tokens of one lineage remembered (as hashes) to tell a stale one from a new one. */
#define LINEAGE_MAX 8
/* Bytes of a refresh token the cache takes (a vault value's cap). */
#define REFRESH_TOKEN_MAX 4096
/* Entries beyond which a new one first sweeps the dead ones. */
#define ENTRIES_SWEEP 4096

struct waiter {
    struct waiter *next;
    connect_token_fn fn;
    void *cls;
    uint64_t gen; /* the entry's lineage when it came */
};

struct entry {
    char *token;        /* NULL when none */
    int64_t expires_ms; /* time_mono_ms() at which the token expires */
    bool fetching;      /* a token request is in flight */
    struct waiter *head, *tail;
    /* Refresh grant: the newest refresh token issued here (NULL: none yet, use the caller's),
     * the SHA-256 of the lineage's refresh tokens (a ring), and the lineage's generation. */
    char *refresh_token;
    unsigned char lineage[LINEAGE_MAX][32];
    int nlineage, lineage_next;
    uint64_t gen;
};

struct connect_oauth {
    struct connect_transport *t;
    pthread_mutex_t mu;
    struct hmap entries; /* cache_key -> struct entry; guarded by mu */
};

/* A token request in flight: whose it is and when it was sent. */
struct fetch {
    struct connect_oauth *o;
    int64_t sent_ms;
    enum connect_oauth_grant grant;
    uint64_t gen;       /* the entry's lineage when it was sent */
    char *refresh_used; /* refresh grant: the refresh token sent (heap, wiped) */
    connect_rotate_fn rotate;
    void *rotate_cls;
    char rotate_id[64];
    char key[]; /* cache_key */
};

/* ---- secrets in memory ---- */

static void wipe_free(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

static void buf_wipe(struct buf *b)
{
    if (b->p)
        explicit_bzero(b->p, b->cap);
    buf_free(b);
}

static void request_wipe(struct connect_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        wipe_free(r->headers[i].name);
        wipe_free(r->headers[i].value);
        r->headers[i].name = r->headers[i].value = NULL;
    }
    if (r->body)
        explicit_bzero(r->body, r->body_len);
    connect_request_free(r);
}

/* ---- the token request ---- */

/*
 * application/x-www-form-urlencoded as RFC 6749 Appendix B requires (the HTML form
 * serialisation): ASCII letters, digits and "*-._" stay, space is '+', every other byte %XX.
 */
static void form_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '*' || c == '-' || c == '.' || c == '_') {
            buf_append_char(b, (char)c);
        } else if (c == ' ') {
            buf_append_char(b, '+');
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, sizeof esc);
        }
    }
}

/* Standard base64 with padding (RFC 4648 section 4), as HTTP Basic uses it. */
static void base64_append(struct buf *b, const unsigned char *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t n = len - i < 3 ? len - i : 3;
        char out[4];
        if (n > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (n > 2)
            v |= in[i + 2];
        out[0] = tab[(v >> 18) & 63];
        out[1] = tab[(v >> 12) & 63];
        out[2] = n > 1 ? tab[(v >> 6) & 63] : '=';
        out[3] = n > 2 ? tab[v & 63] : '=';
        buf_append(b, out, sizeof out);
    }
}

/* "Basic " + base64(form(id) ":" form(secret)), RFC 6749 section 2.3.1. */
static char *basic_credentials(const struct connect_oauth_params *p)
{
    struct buf pair, out;
    char *v = NULL;

    buf_init(&pair, FORM_MAX);
    buf_init(&out, FORM_MAX * 2);
    form_encode(&pair, p->client_id);
    buf_append_char(&pair, ':');
    form_encode(&pair, p->client_secret);
    buf_append_cstr(&out, "Basic ");
    if (pair.err == MD_OK)
        base64_append(&out, (const unsigned char *)pair.p, pair.len);
    if (pair.err == MD_OK && out.err == MD_OK)
        v = buf_steal(&out);
    buf_wipe(&pair);
    buf_wipe(&out);
    return v;
}

static bool header_set(struct connect_header *h, const char *name, char *value)
{
    h->name = strdup(name);
    h->value = value;
    return h->name && h->value;
}

/* A JWT for the JWT bearer grant, signed now. */
static enum md_err jwt_assertion(const struct connect_oauth_params *p, char **out,
                                 struct md_error *e)
{
    struct connect_jwt_claims c = {.iss = p->jwt_issuer,
                                   .scope = p->scope,
                                   .aud = p->token_url,
                                   .sub = p->jwt_subject,
                                   .iat = time_now_ms() / 1000};
    return connect_jwt_sign(p->jwt_key, p->jwt_key_id, &c, out, e);
}

/*
 * The token request for p into req (empty on error, nothing to free); refresh_token is the
 * refresh token to send with a refresh grant.
 */
static enum md_err token_request(const struct connect_oauth_params *p, const char *refresh_token,
                                 struct connect_request *req, struct md_error *e)
{
    struct buf body;
    enum md_err err = MD_OK;
    bool client_auth = p->grant != CONNECT_GRANT_JWT_BEARER;
    size_t n = client_auth && !p->client_secret_post ? 3 : 2;
    char *jwt = NULL;

    memset(req, 0, sizeof *req);
    buf_init(&body, FORM_MAX);
    if (p->grant == CONNECT_GRANT_JWT_BEARER) {
        err = jwt_assertion(p, &jwt, e);
        if (err)
            goto out;
        /* RFC 7523 section 2.1; the scope travels in the JWT (Google's service accounts). */
        buf_append_cstr(&body, "grant_type=");
        form_encode(&body, "urn:ietf:params:oauth:grant-type:jwt-bearer");
        buf_append_cstr(&body, "&assertion=");
        form_encode(&body, jwt);
    } else if (p->grant == CONNECT_GRANT_REFRESH_TOKEN) {
        buf_append_cstr(&body, "grant_type=refresh_token&refresh_token=");
        form_encode(&body, refresh_token);
        if (p->scope) {
            buf_append_cstr(&body, "&scope=");
            form_encode(&body, p->scope);
        }
    } else {
        buf_append_cstr(&body, "grant_type=client_credentials");
        if (p->scope) {
            buf_append_cstr(&body, "&scope=");
            form_encode(&body, p->scope);
        }
        if (p->audience) {
            buf_append_cstr(&body, "&audience=");
            form_encode(&body, p->audience);
        }
    }
    if (client_auth && p->client_secret_post) {
        buf_append_cstr(&body, "&client_id=");
        form_encode(&body, p->client_id);
        buf_append_cstr(&body, "&client_secret=");
        form_encode(&body, p->client_secret);
    }
    if (body.err != MD_OK) {
        err = md_error_set(e, body.err, "the token request does not fit");
        goto out;
    }
    req->method = "POST";
    req->url = strdup(p->token_url);
    req->headers = calloc(n, sizeof *req->headers);
    if (!req->url || !req->headers)
        goto nomem;
    req->url_len = strlen(req->url);
    req->n_headers = n;
    if (!header_set(&req->headers[0], "Content-Type",
                    strdup("application/x-www-form-urlencoded")) ||
        !header_set(&req->headers[1], "Accept", strdup("application/json")) ||
        (n == 3 && !header_set(&req->headers[2], "Authorization", basic_credentials(p))))
        goto nomem;
    req->body_len = body.len;
    req->body = buf_steal(&body);
    if (!req->body)
        goto nomem;
    goto out;
nomem:
    err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
out:
    wipe_free(jwt);
    buf_wipe(&body);
    if (err != MD_OK)
        request_wipe(req);
    return err;
}

/* ---- the token response ---- */

/* Copies what an endpoint said into out as printable ASCII, cut to ECHO_MAX characters. */
static void echo_text(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n && k < ECHO_MAX; s++)
        out[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[k] = '\0';
}

/* What a grant presents to the endpoint, for messages. */
static const char *grant_what(enum connect_oauth_grant g)
{
    switch (g) {
    case CONNECT_GRANT_REFRESH_TOKEN:
        return "the refresh token";
    case CONNECT_GRANT_JWT_BEARER:
        return "the service account's signed assertion";
    default:
        return "the client credentials";
    }
}

/* An RFC 6749 5.2 error response, or any other refusal. */
static enum md_err token_refusal(enum connect_oauth_grant g, int status, const json_t *doc,
                                 char *msg, size_t n)
{
    const char *code = doc ? json_string_value(json_object_get(doc, "error")) : NULL;
    const char *desc = doc ? json_string_value(json_object_get(doc, "error_description")) : NULL;
    char c[ECHO_MAX + 1], d[ECHO_MAX + 1];
    const char *what = "the request";
    enum md_err err = MD_ERR_UNAVAILABLE;

    if (!code) {
        if (status == 401) {
            snprintf(msg, n, "token endpoint refused %s (HTTP 401)", grant_what(g));
            return MD_ERR_UNAUTHORIZED;
        }
        snprintf(msg, n, "token endpoint answered HTTP %d", status);
        return MD_ERR_UNAVAILABLE;
    }
    echo_text(code, c, sizeof c);
    echo_text(desc, d, sizeof d);
    if (strcmp(code, "invalid_client") == 0 || strcmp(code, "unauthorized_client") == 0 ||
        strcmp(code, "invalid_grant") == 0) {
        what = grant_what(g);
        err = MD_ERR_UNAUTHORIZED;
    } else if (strcmp(code, "invalid_scope") == 0) {
        what = "the scope";
        err = MD_ERR_FORBIDDEN;
    }
    snprintf(msg, n, "token endpoint refused %s: %s%s%s%s", what, c, d[0] ? " (" : "", d,
             d[0] ? ")" : "");
    return err;
}

/* A token goes into an Authorization header: printable ASCII, no spaces (RFC 6750 b64token). */
static bool token_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f)
            return false;
    }
    return true;
}

/* expires_in as a number of seconds; the default when absent or not a number. */
static long long token_ttl(const json_t *v)
{
    long long ttl = CONNECT_OAUTH_DEFAULT_TTL_S;
    if (json_is_integer(v)) {
        ttl = (long long)json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) >= 0 &&
               json_real_value(v) < (double)TTL_MAX_S) {
        ttl = (long long)json_real_value(v);
    } else if (json_is_string(v)) {
        long long n;
        /* Some providers send it as a string of digits. */
        if (str_to_ll(json_string_value(v), json_string_length(v), 0, TTL_MAX_S, &n))
            ttl = n;
    }
    if (ttl < 0)
        ttl = 0;
    return ttl > TTL_MAX_S ? TTL_MAX_S : ttl;
}

/* A refresh token the cache can keep and the vault can seal: no control characters. */
static bool refresh_token_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > REFRESH_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

/*
 * Reads a token response: *token (heap) and *ttl_s on MD_OK, and *refresh (heap, or NULL) when
 * a refresh grant's answer carries a refresh token; else a sentence in msg.
 */
static enum md_err token_parse(enum connect_oauth_grant g, const struct connect_response *r,
                               char **token, char **refresh, long long *ttl_s, char *msg, size_t n)
{
    json_t *doc = NULL;
    struct md_error je;
    const char *tok, *type, *rt;
    enum md_err err = MD_ERR_UNAVAILABLE;

    *token = NULL;
    *refresh = NULL;
    if (r->err != MD_OK) {
        snprintf(msg, n, "token request failed: %s", r->error);
        return r->err;
    }
    if (json_parse_limited(r->body, r->body_len, TOKEN_RESPONSE_MAX, TOKEN_JSON_DEPTH, &doc, &je) !=
            MD_OK ||
        !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    if (r->status / 100 != 2 || (doc && json_object_get(doc, "error"))) {
        err = token_refusal(g, r->status, doc, msg, n);
        goto out;
    }
    if (!doc) {
        snprintf(msg, n, "token endpoint answered with something other than a JSON object");
        goto out;
    }
    tok = json_string_value(json_object_get(doc, "access_token"));
    type = json_string_value(json_object_get(doc, "token_type"));
    if (!token_ok(tok)) {
        snprintf(msg, n, "token endpoint answered without a usable access_token");
        goto out;
    }
    if (!type || !cstr_ieq(type, "Bearer")) {
        char t[ECHO_MAX + 1];
        echo_text(type ? type : "none", t, sizeof t);
        snprintf(msg, n, "token endpoint issued a token of type %s; only Bearer is supported", t);
        goto out;
    }
    *ttl_s = token_ttl(json_object_get(doc, "expires_in"));
    *token = strdup(tok);
    rt = json_string_value(json_object_get(doc, "refresh_token"));
    /* A refresh token that could not be sealed or sent again is not taken: the old one stays. */
    if (g == CONNECT_GRANT_REFRESH_TOKEN && refresh_token_ok(rt))
        *refresh = strdup(rt);
    if (!*token || (refresh_token_ok(rt) && g == CONNECT_GRANT_REFRESH_TOKEN && !*refresh)) {
        wipe_free(*token);
        wipe_free(*refresh);
        *token = *refresh = NULL;
        snprintf(msg, n, "out of memory");
        err = MD_ERR_NOMEM;
        goto out;
    }
    err = MD_OK;
out:
    json_decref(doc);
    return err;
}

/* ---- refresh token lineages ---- */

static void rt_hash(const char *rt, unsigned char out[32])
{
    unsigned int n = 0;
    EVP_Digest(rt, strlen(rt), out, &n, EVP_sha256(), NULL);
}

static bool lineage_has(const struct entry *en, const unsigned char h[32])
{
    for (int i = 0; i < en->nlineage; i++) {
        if (memcmp(en->lineage[i], h, 32) == 0)
            return true;
    }
    return false;
}

static void lineage_add(struct entry *en, const unsigned char h[32])
{
    if (lineage_has(en, h))
        return;
    memcpy(en->lineage[en->lineage_next], h, 32);
    en->lineage_next = (en->lineage_next + 1) % LINEAGE_MAX;
    if (en->nlineage < LINEAGE_MAX)
        en->nlineage++;
}

/*
 * A caller of a refresh grant brings refresh token rt (from the vault). One of the entry's
 * lineage (the one it started from, or one it was issued since) joins it; any other was set
 * by an administrator since: a new lineage begins, and nothing of the old one is used again.
 */
static void lineage_enter(struct entry *en, const char *rt)
{
    unsigned char h[32];

    rt_hash(rt, h);
    if (en->nlineage && !lineage_has(en, h)) {
        wipe_free(en->token);
        wipe_free(en->refresh_token);
        en->token = en->refresh_token = NULL;
        en->nlineage = en->lineage_next = 0;
        en->gen++;
    }
    lineage_add(en, h);
    explicit_bzero(h, sizeof h);
}

static void fetch_free(struct fetch *f)
{
    if (f) {
        wipe_free(f->refresh_used);
        free(f);
    }
}

/* The transport's callback for a token request: fills the cache, then calls every waiter. */
static void on_token(void *cls, struct connect_response *resp)
{
    struct fetch *f = cls;
    struct connect_oauth *o = f->o;
    struct entry *en;
    struct waiter *w, *next;
    char msg[512] = "";
    char *tok = NULL, *refresh = NULL;
    long long ttl_s = 0;
    bool current, rotated = false;
    enum md_err err = token_parse(f->grant, resp, &tok, &refresh, &ttl_s, msg, sizeof msg);

    if (resp->body)
        explicit_bzero(resp->body, resp->body_len);
    connect_response_free(resp);

    pthread_mutex_lock(&o->mu);
    en = hmap_get(&o->entries, f->key);
    /* A lineage that a new credential replaced meanwhile keeps nothing of this answer. */
    current = en->gen == f->gen;
    if (err == MD_OK && current) {
        wipe_free(en->token);
        /* The cache keeps its own copy: another thread may replace it while we call back. */
        en->token = strdup(tok);
        en->expires_ms = f->sent_ms + ttl_s * 1000;
        if (refresh && f->refresh_used && strcmp(refresh, f->refresh_used) != 0) {
            unsigned char h[32];
            char *copy = strdup(refresh);
            if (copy) {
                wipe_free(en->refresh_token);
                en->refresh_token = copy;
                rt_hash(refresh, h);
                lineage_add(en, h);
                rotated = true;
            }
        }
    }
    w = en->head;
    en->head = en->tail = NULL;
    en->fetching = false;
    pthread_mutex_unlock(&o->mu);

    /* Sealed into the vault before anyone uses the access token that came with it. */
    if (rotated && f->rotate)
        f->rotate(f->rotate_cls, f->rotate_id, f->refresh_used, refresh);
    for (; w; w = next) {
        next = w->next;
        if (w->gen != f->gen)
            w->fn(w->cls, MD_ERR_UNAVAILABLE, NULL,
                  "the credential changed while a token was fetched; try again");
        else
            w->fn(w->cls, err, err == MD_OK ? tok : NULL, err == MD_OK ? NULL : msg);
        free(w);
    }
    wipe_free(tok);
    wipe_free(refresh);
    fetch_free(f);
}

/* ---- the interface ---- */

enum md_err connect_oauth_new(struct connect_transport *t, struct connect_oauth **out,
                              struct md_error *e)
{
    struct connect_oauth *o;

    *out = NULL;
    if (!t)
        return md_error_set(e, MD_ERR_VALUE, "no transport");
    o = calloc(1, sizeof *o);
    if (!o)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&o->mu, NULL) != 0) {
        free(o);
        return md_error_set(e, MD_ERR_INTERNAL, "cannot create a mutex");
    }
    o->t = t;
    hmap_init(&o->entries);
    *out = o;
    return MD_OK;
}

static void entry_destroy(struct entry *en)
{
    struct waiter *w, *next;
    for (w = en->head; w; w = next) {
        next = w->next;
        free(w);
    }
    wipe_free(en->token);
    wipe_free(en->refresh_token);
    explicit_bzero(en->lineage, sizeof en->lineage);
    free(en);
}

static void entry_free(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    entry_destroy(value);
}

void connect_oauth_free(struct connect_oauth *o)
{
    if (!o)
        return;
    hmap_each(&o->entries, entry_free, NULL);
    hmap_free(&o->entries);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

static void waiter_add(struct entry *en, struct waiter *w)
{
    if (en->tail)
        en->tail->next = w;
    else
        en->head = w;
    en->tail = w;
}

/* The keys of entries that a sweep may drop: no live token, nothing in flight or waiting. */
struct sweep {
    int64_t now;
    char **keys;
    size_t n, cap;
};

static void sweep_collect(void *ctx, const char *key, void *value)
{
    struct sweep *sw = ctx;
    struct entry *en = value;

    if (en->fetching || en->head || en->refresh_token || (en->token && en->expires_ms > sw->now))
        return;
    if (sw->n == sw->cap) {
        size_t cap = sw->cap ? 2 * sw->cap : 64;
        char **k = realloc(sw->keys, cap * sizeof *k);
        if (!k)
            return;
        sw->keys = k;
        sw->cap = cap;
    }
    sw->keys[sw->n] = strdup(key);
    if (sw->keys[sw->n])
        sw->n++;
}

/*
 * Drops the entries that hold nothing worth keeping, so that a JWT grant acting as each caller
 * does not grow the map without end. A refresh grant's entry is kept while it holds a newer
 * refresh token than the vault may have. Called locked.
 */
static void sweep(struct connect_oauth *o, int64_t now)
{
    struct sweep sw = {.now = now};

    hmap_each(&o->entries, sweep_collect, &sw);
    for (size_t i = 0; i < sw.n; i++) {
        struct entry *en = hmap_del(&o->entries, sw.keys[i]);
        if (en)
            entry_destroy(en);
        free(sw.keys[i]);
    }
    free(sw.keys);
}

/* The entry of key, created empty when absent; NULL when out of memory. Called locked. */
static struct entry *entry_get(struct connect_oauth *o, const char *key, int64_t now)
{
    struct entry *en = hmap_get(&o->entries, key);
    if (en)
        return en;
    if (o->entries.n >= ENTRIES_SWEEP)
        sweep(o, now);
    en = calloc(1, sizeof *en);
    if (en && hmap_put(&o->entries, key, en, NULL) != MD_OK) {
        free(en);
        en = NULL;
    }
    return en;
}

static bool params_ok(const struct connect_oauth_params *p)
{
    if (!p->cache_key || !p->token_url)
        return false;
    switch (p->grant) {
    case CONNECT_GRANT_CLIENT_CREDENTIALS:
        return p->client_id && p->client_secret;
    case CONNECT_GRANT_REFRESH_TOKEN:
        return p->client_id && p->client_secret && p->refresh_token && p->refresh_token[0];
    case CONNECT_GRANT_JWT_BEARER:
        return p->jwt_key && p->jwt_key_id && p->jwt_issuer;
    }
    return false;
}

enum md_err connect_oauth_token(struct connect_oauth *o, const struct connect_oauth_params *p,
                                bool force_refresh, connect_token_fn fn, void *cls,
                                struct md_error *e)
{
    const struct connect_limits lim = {.connect_timeout_ms = TOKEN_CONNECT_TIMEOUT_MS,
                                       .timeout_ms = TOKEN_TIMEOUT_MS,
                                       .max_response = TOKEN_RESPONSE_MAX};
    struct connect_request req;
    struct entry *en;
    struct waiter *w = NULL;
    struct fetch *f = NULL;
    char *cached = NULL;
    const char *rt = NULL;
    enum md_err err = MD_OK;
    int64_t now = time_mono_ms();
    size_t klen;

    if (!o || !p || !fn || !params_ok(p))
        return md_error_set(e, MD_ERR_VALUE, "incomplete OAuth parameters");
    pthread_mutex_lock(&o->mu);
    en = entry_get(o, p->cache_key, now);
    if (!en) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (p->grant == CONNECT_GRANT_REFRESH_TOKEN)
        lineage_enter(en, p->refresh_token);
    if (force_refresh) {
        wipe_free(en->token);
        en->token = NULL;
    }
    if (en->token && en->expires_ms - now > CONNECT_OAUTH_MIN_TTL_S * 1000LL) {
        cached = strdup(en->token);
        if (!cached)
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    w->fn = fn;
    w->cls = cls;
    w->gen = en->gen;
    if (en->fetching) {
        waiter_add(en, w);
        goto out;
    }
    klen = strlen(p->cache_key);
    f = calloc(1, sizeof *f + klen + 1);
    if (!f) {
        free(w);
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    f->o = o;
    f->sent_ms = now;
    f->grant = p->grant;
    f->gen = en->gen;
    f->rotate = p->rotate;
    f->rotate_cls = p->rotate_cls;
    snprintf(f->rotate_id, sizeof f->rotate_id, "%s", p->rotate_id ? p->rotate_id : "");
    memcpy(f->key, p->cache_key, klen + 1);
    if (p->grant == CONNECT_GRANT_REFRESH_TOKEN) {
        /* The newest of the lineage: the caller's may be one that was rotated away. */
        rt = en->refresh_token ? en->refresh_token : p->refresh_token;
        f->refresh_used = strdup(rt);
        if (!f->refresh_used) {
            free(w);
            fetch_free(f);
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    err = token_request(p, rt, &req, e);
    /*
     * Submitted under the mutex, so that no caller joins a request whose submission may still
     * fail. The transport calls back on its own thread, never from inside submit.
     */
    if (err == MD_OK)
        err = connect_transport_submit(o->t, &req, &lim, on_token, f, e);
    if (err != MD_OK) {
        free(w);
        fetch_free(f);
        goto out;
    }
    en->fetching = true;
    waiter_add(en, w);
out:
    pthread_mutex_unlock(&o->mu);
    if (cached) {
        fn(cls, MD_OK, cached, NULL);
        wipe_free(cached);
    }
    return err;
}
