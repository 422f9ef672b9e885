/*
 * Console sessions and the sign-in rate limit (session.h): a table in memory keyed by the
 * SHA-256 of the cookie's value, and a bucket of attempts per client address.
 */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/hmap.h"
#include "core/str.h"
#include "http/session.h"

struct session {
    struct http_session_info info;
    char hash[CRYPTO_SHA256_HEX_LEN]; /* the key: SHA-256 of the cookie's value */
};

struct bucket {
    int credits;
    int64_t last_ms; /* when the credits were last topped up */
};

struct http_sessions {
    pthread_mutex_t mu;
    struct hmap by_hash; /* hash -> struct session */
    struct hmap buckets; /* client address -> struct bucket */
};

/* A prefix that makes the CSRF token a different hash of the secret than the table's key. */
static const char csrf_prefix[] = "mandate-console-csrf\n";

enum md_err http_sessions_new(struct http_sessions **out, struct md_error *e)
{
    struct http_sessions *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    hmap_init(&s->by_hash);
    hmap_init(&s->buckets);
    *out = s;
    return MD_OK;
}

static void free_value(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    free(value);
}

void http_sessions_free(struct http_sessions *s)
{
    if (!s)
        return;
    hmap_each(&s->by_hash, free_value, NULL);
    hmap_free(&s->by_hash);
    hmap_each(&s->buckets, free_value, NULL);
    hmap_free(&s->buckets);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void expiry(struct http_session_info *i)
{
    int64_t idle = i->last_ms + HTTP_SESSION_IDLE_MS, max = i->created_ms + HTTP_SESSION_MAX_MS;
    i->expires_ms = idle < max ? idle : max;
}

/* The least recently used session, to make room for a new one. */
struct lru {
    const char *key;
    int64_t last_ms;
};

static void find_lru(void *ctx, const char *key, void *value)
{
    struct lru *l = ctx;
    const struct session *ss = value;
    if (!l->key || ss->info.last_ms < l->last_ms) {
        l->key = key;
        l->last_ms = ss->info.last_ms;
    }
}

enum md_err http_session_create(struct http_sessions *s, const struct store_token *admin,
                                int64_t now_ms, char secret_out[HTTP_SESSION_SECRET_LEN],
                                struct http_session_info *info, struct md_error *e)
{
    unsigned char raw[32];
    struct session *ss;
    void *old = NULL;
    enum md_err rc;

    secret_out[0] = '\0';
    if (crypto_random(raw, sizeof raw))
        return md_error_set(e, MD_ERR_INTERNAL, "no randomness available");
    ss = calloc(1, sizeof *ss);
    if (!ss)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    crypto_b64url(raw, sizeof raw, secret_out);
    OPENSSL_cleanse(raw, sizeof raw);
    crypto_sha256_hex(secret_out, strlen(secret_out), ss->hash);
    snprintf(ss->info.token_id, sizeof ss->info.token_id, "%s", admin->id);
    snprintf(ss->info.token_name, sizeof ss->info.token_name, "%s", admin->name);
    snprintf(ss->info.token_hash, sizeof ss->info.token_hash, "%s", admin->hash);
    ss->info.created_ms = now_ms;
    ss->info.last_ms = now_ms;
    expiry(&ss->info);

    pthread_mutex_lock(&s->mu);
    if (s->by_hash.n >= HTTP_SESSION_MAX_COUNT) {
        struct lru l = {NULL, 0};
        hmap_each(&s->by_hash, find_lru, &l);
        if (l.key) {
            char key[CRYPTO_SHA256_HEX_LEN];
            snprintf(key, sizeof key, "%s", l.key);
            free(hmap_del(&s->by_hash, key));
        }
    }
    rc = hmap_put(&s->by_hash, ss->hash, ss, &old);
    pthread_mutex_unlock(&s->mu);
    /* 256 random bits do not collide; an old value here would be a broken generator. */
    free(old);
    if (rc) {
        free(ss);
        OPENSSL_cleanse(secret_out, HTTP_SESSION_SECRET_LEN);
        secret_out[0] = '\0';
        return md_error_set(e, rc, "out of memory");
    }
    if (info)
        *info = ss->info;
    return MD_OK;
}

/* Whether a cookie value has the shape of one this table hands out. */
static bool secret_shape_ok(const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n != HTTP_SESSION_SECRET_LEN - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = secret[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

enum md_err http_session_find(struct http_sessions *s, const char *secret, int64_t now_ms,
                              struct http_session_info *out, struct md_error *e)
{
    char hash[CRYPTO_SHA256_HEX_LEN];
    struct session *ss;
    enum md_err rc = MD_OK;

    if (!secret_shape_ok(secret))
        return md_error_set(e, MD_ERR_UNAUTHORIZED, "no console session; sign in again");
    crypto_sha256_hex(secret, strlen(secret), hash);
    pthread_mutex_lock(&s->mu);
    ss = hmap_get(&s->by_hash, hash);
    if (!ss) {
        rc = md_error_set(e, MD_ERR_UNAUTHORIZED, "no console session; sign in again");
        goto out;
    }
    if (now_ms >= ss->info.expires_ms) {
        free(hmap_del(&s->by_hash, hash));
        rc = md_error_set(e, MD_ERR_UNAUTHORIZED, "the console session has expired; sign in again");
        goto out;
    }
    ss->info.last_ms = now_ms;
    expiry(&ss->info);
    if (out)
        *out = ss->info;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

bool http_session_end(struct http_sessions *s, const char *secret)
{
    char hash[CRYPTO_SHA256_HEX_LEN];
    void *v;

    if (!secret_shape_ok(secret))
        return false;
    crypto_sha256_hex(secret, strlen(secret), hash);
    pthread_mutex_lock(&s->mu);
    v = hmap_del(&s->by_hash, hash);
    pthread_mutex_unlock(&s->mu);
    free(v);
    return v != NULL;
}

/* The keys of the sessions of one token, gathered first: hmap_each must not see the map change. */
struct of_token {
    const char *token_id;
    char (*keys)[CRYPTO_SHA256_HEX_LEN];
    size_t n, cap;
};

static void collect_token(void *ctx, const char *key, void *value)
{
    struct of_token *t = ctx;
    const struct session *ss = value;
    if (strcmp(ss->info.token_id, t->token_id) != 0 || t->n >= t->cap)
        return;
    snprintf(t->keys[t->n++], CRYPTO_SHA256_HEX_LEN, "%s", key);
}

size_t http_session_end_token(struct http_sessions *s, const char *token_id)
{
    struct of_token t = {token_id, NULL, 0, 0};

    pthread_mutex_lock(&s->mu);
    t.cap = s->by_hash.n;
    t.keys = t.cap ? calloc(t.cap, sizeof *t.keys) : NULL;
    if (t.keys) {
        hmap_each(&s->by_hash, collect_token, &t);
        for (size_t i = 0; i < t.n; i++)
            free(hmap_del(&s->by_hash, t.keys[i]));
    }
    pthread_mutex_unlock(&s->mu);
    free(t.keys);
    return t.n;
}

size_t http_session_count(struct http_sessions *s)
{
    size_t n;
    pthread_mutex_lock(&s->mu);
    n = s->by_hash.n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void http_session_csrf(const char *secret, char out[HTTP_SESSION_SECRET_LEN])
{
    char material[sizeof csrf_prefix + HTTP_SESSION_SECRET_LEN];
    char hex[CRYPTO_SHA256_HEX_LEN];
    unsigned char raw[32];

    snprintf(material, sizeof material, "%s%s", csrf_prefix, secret ? secret : "");
    crypto_sha256_hex(material, strlen(material), hex);
    OPENSSL_cleanse(material, sizeof material);
    for (int i = 0; i < 32; i++)
        raw[i] = (unsigned char)(str_hex_digit(hex[2 * i]) << 4 | str_hex_digit(hex[2 * i + 1]));
    crypto_b64url(raw, sizeof raw, out);
    OPENSSL_cleanse(hex, sizeof hex);
    OPENSSL_cleanse(raw, sizeof raw);
}

bool http_session_csrf_ok(const char *secret, const char *presented)
{
    char want[HTTP_SESSION_SECRET_LEN];
    bool ok;

    if (!secret_shape_ok(secret) || !presented)
        return false;
    http_session_csrf(secret, want);
    ok = crypto_ct_equal(want, strlen(want), presented, strlen(presented));
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

/* ---- the sign-in rate limit ---- */

static void refill(struct bucket *b, int64_t now_ms)
{
    int64_t n;
    if (now_ms <= b->last_ms)
        return;
    n = (now_ms - b->last_ms) / HTTP_SIGNIN_REFILL_MS;
    if (n <= 0)
        return;
    if (b->credits + n >= HTTP_SIGNIN_BURST) {
        b->credits = HTTP_SIGNIN_BURST;
        b->last_ms = now_ms;
    } else {
        b->credits += (int)n;
        b->last_ms += n * HTTP_SIGNIN_REFILL_MS;
    }
}

/* Buckets that have refilled completely say nothing a new bucket would not: they go first. */
struct prune {
    int64_t now_ms;
    char (*keys)[64];
    size_t n, cap;
};

static void collect_full(void *ctx, const char *key, void *value)
{
    struct prune *p = ctx;
    struct bucket *b = value;
    refill(b, p->now_ms);
    if (b->credits >= HTTP_SIGNIN_BURST && p->n < p->cap)
        snprintf(p->keys[p->n++], 64, "%s", key);
}

bool http_signin_attempt(struct http_sessions *s, const char *client, int64_t now_ms,
                         int64_t *retry_ms)
{
    char key[64];
    struct bucket *b;
    bool ok = false;

    if (retry_ms)
        *retry_ms = HTTP_SIGNIN_REFILL_MS;
    snprintf(key, sizeof key, "%s", client && *client ? client : "-");
    pthread_mutex_lock(&s->mu);
    b = hmap_get(&s->buckets, key);
    if (!b) {
        if (s->buckets.n >= HTTP_SIGNIN_CLIENTS_MAX) {
            struct prune p = {now_ms, NULL, 0, s->buckets.n};
            p.keys = calloc(p.cap, sizeof *p.keys);
            if (p.keys) {
                hmap_each(&s->buckets, collect_full, &p);
                for (size_t i = 0; i < p.n; i++)
                    free(hmap_del(&s->buckets, p.keys[i]));
            }
            free(p.keys);
        }
        /* Still full: so many clients are failing at once that refusing is the safe answer. */
        if (s->buckets.n >= HTTP_SIGNIN_CLIENTS_MAX)
            goto out;
        b = calloc(1, sizeof *b);
        if (!b)
            goto out;
        b->credits = HTTP_SIGNIN_BURST;
        b->last_ms = now_ms;
        if (hmap_put(&s->buckets, key, b, NULL)) {
            free(b);
            goto out;
        }
    }
    refill(b, now_ms);
    if (b->credits > 0) {
        b->credits--;
        ok = true;
    } else if (retry_ms) {
        *retry_ms = b->last_ms + HTTP_SIGNIN_REFILL_MS - now_ms;
        if (*retry_ms < 1)
            *retry_ms = 1;
    }
out:
    pthread_mutex_unlock(&s->mu);
    return ok;
}
