/*
 * OAuth 2.0 client credentials with a token cache (the contract is in oauth.h).
 *
 * One entry per cache_key holds the current token, its expiry on the monotonic clock, whether
 * a token request is in flight, and the callers waiting for it. The mutex guards the map and
 * every entry; callbacks always run with it released, so that a callback may call
 * connect_oauth_token again. Entries live until connect_oauth_free: there is one per connector
 * credential, a small and bounded set.
 */
#include "connect/oauth.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct waiter {
    struct waiter *next;
    connect_token_fn fn;
    void *cls;
};

struct entry {
    char *token;        /* NULL when none */
    int64_t expires_ms; /* time_mono_ms() at which the token expires */
    bool fetching;      /* a token request is in flight */
    struct waiter *head, *tail;
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

/* The token request for p into req (empty on error, nothing to free). */
static enum md_err token_request(const struct connect_oauth_params *p, struct connect_request *req,
                                 struct md_error *e)
{
    struct buf body;
    enum md_err err = MD_OK;
    size_t n = p->client_secret_post ? 2 : 3;

    memset(req, 0, sizeof *req);
    buf_init(&body, FORM_MAX);
    buf_append_cstr(&body, "grant_type=client_credentials");
    if (p->scope) {
        buf_append_cstr(&body, "&scope=");
        form_encode(&body, p->scope);
    }
    if (p->audience) {
        buf_append_cstr(&body, "&audience=");
        form_encode(&body, p->audience);
    }
    if (p->client_secret_post) {
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

/* An RFC 6749 5.2 error response, or any other refusal. */
static enum md_err token_refusal(int status, const json_t *doc, char *msg, size_t n)
{
    const char *code = doc ? json_string_value(json_object_get(doc, "error")) : NULL;
    const char *desc = doc ? json_string_value(json_object_get(doc, "error_description")) : NULL;
    char c[ECHO_MAX + 1], d[ECHO_MAX + 1];
    const char *what = "the request";
    enum md_err err = MD_ERR_UNAVAILABLE;

    if (!code) {
        if (status == 401) {
            snprintf(msg, n, "token endpoint refused the client credentials (HTTP 401)");
            return MD_ERR_UNAUTHORIZED;
        }
        snprintf(msg, n, "token endpoint answered HTTP %d", status);
        return MD_ERR_UNAVAILABLE;
    }
    echo_text(code, c, sizeof c);
    echo_text(desc, d, sizeof d);
    if (strcmp(code, "invalid_client") == 0 || strcmp(code, "unauthorized_client") == 0 ||
        strcmp(code, "invalid_grant") == 0) {
        what = "the client credentials";
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

/* Reads a token response: *token (heap) and *ttl_s on MD_OK, else a sentence in msg. */
static enum md_err token_parse(const struct connect_response *r, char **token, long long *ttl_s,
                               char *msg, size_t n)
{
    json_t *doc = NULL;
    struct md_error je;
    const char *tok, *type;
    enum md_err err = MD_ERR_UNAVAILABLE;

    *token = NULL;
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
        err = token_refusal(r->status, doc, msg, n);
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
    if (!*token) {
        snprintf(msg, n, "out of memory");
        err = MD_ERR_NOMEM;
        goto out;
    }
    err = MD_OK;
out:
    json_decref(doc);
    return err;
}

/* The transport's callback for a token request: fills the cache, then calls every waiter. */
static void on_token(void *cls, struct connect_response *resp)
{
    struct fetch *f = cls;
    struct connect_oauth *o = f->o;
    struct entry *en;
    struct waiter *w, *next;
    char msg[512] = "";
    char *tok = NULL;
    long long ttl_s = 0;
    enum md_err err = token_parse(resp, &tok, &ttl_s, msg, sizeof msg);

    if (resp->body)
        explicit_bzero(resp->body, resp->body_len);
    connect_response_free(resp);

    pthread_mutex_lock(&o->mu);
    en = hmap_get(&o->entries, f->key);
    if (err == MD_OK) {
        wipe_free(en->token);
        /* The cache keeps its own copy: another thread may replace it while we call back. */
        en->token = strdup(tok);
        en->expires_ms = f->sent_ms + ttl_s * 1000;
    }
    w = en->head;
    en->head = en->tail = NULL;
    en->fetching = false;
    pthread_mutex_unlock(&o->mu);

    for (; w; w = next) {
        next = w->next;
        w->fn(w->cls, err, err == MD_OK ? tok : NULL, err == MD_OK ? NULL : msg);
        free(w);
    }
    wipe_free(tok);
    free(f);
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

static void entry_free(void *ctx, const char *key, void *value)
{
    struct entry *en = value;
    struct waiter *w, *next;
    (void)ctx;
    (void)key;
    for (w = en->head; w; w = next) {
        next = w->next;
        free(w);
    }
    wipe_free(en->token);
    free(en);
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

/* The entry of key, created empty when absent; NULL when out of memory. Called locked. */
static struct entry *entry_get(struct connect_oauth *o, const char *key)
{
    struct entry *en = hmap_get(&o->entries, key);
    if (en)
        return en;
    en = calloc(1, sizeof *en);
    if (en && hmap_put(&o->entries, key, en, NULL) != MD_OK) {
        free(en);
        en = NULL;
    }
    return en;
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
    enum md_err err = MD_OK;
    int64_t now = time_mono_ms();
    size_t klen;

    if (!o || !p || !fn || !p->cache_key || !p->token_url || !p->client_id || !p->client_secret)
        return md_error_set(e, MD_ERR_VALUE, "incomplete OAuth client credentials");
    pthread_mutex_lock(&o->mu);
    en = entry_get(o, p->cache_key);
    if (!en) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
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
    if (en->fetching) {
        waiter_add(en, w);
        goto out;
    }
    klen = strlen(p->cache_key);
    f = malloc(sizeof *f + klen + 1);
    if (!f) {
        free(w);
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    f->o = o;
    f->sent_ms = now;
    memcpy(f->key, p->cache_key, klen + 1);
    err = token_request(p, &req, e);
    /*
     * Submitted under the mutex, so that no caller joins a request whose submission may still
     * fail. The transport calls back on its own thread, never from inside submit.
     */
    if (err == MD_OK)
        err = connect_transport_submit(o->t, &req, &lim, on_token, f, e);
    if (err != MD_OK) {
        free(w);
        free(f);
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
