/*
 * Tokens: created from 256 random bits, kept only as SHA-256 hashes, verified in constant time.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"
#include "http/http.h"
#include "http/http_int.h"

#define TOKEN_RANDOM_BYTES 32

/* Whether kind is one of the three token kinds. */
static bool kind_known(const char *kind)
{
    return strcmp(kind, HTTP_TOKEN_KIND_SCIM) == 0 || strcmp(kind, HTTP_TOKEN_KIND_ADMIN) == 0 ||
           strcmp(kind, HTTP_TOKEN_KIND_AGENT) == 0;
}

enum md_err http_token_create(struct store *s, const char *kind, const char *name,
                              const char *user_id, const char *pack, char **plain_out,
                              char id_out[64], struct md_error *e)
{
    unsigned char raw[TOKEN_RANDOM_BYTES];
    char b64[64];
    struct store_token t;
    struct store_conn *c = NULL;
    struct buf plain;
    bool agent;
    enum md_err rc;

    *plain_out = NULL;
    memset(&t, 0, sizeof t);
    if (!user_id)
        user_id = "";
    if (!pack)
        pack = "";
    if (!kind || !kind_known(kind))
        return md_error_set(e, MD_ERR_VALUE, "unknown token kind (known: scim, admin, agent)");
    if (name && strlen(name) >= sizeof t.name)
        return md_error_set(e, MD_ERR_VALUE, "token name longer than %zu bytes", sizeof t.name - 1);
    agent = strcmp(kind, HTTP_TOKEN_KIND_AGENT) == 0;
    /* A token that acts for nobody in particular must not look as if it did, and vice versa. */
    if (agent && !*user_id)
        return md_error_set(e, MD_ERR_VALUE, "an agent token needs the user it acts for");
    if (!agent && (*user_id || *pack))
        return md_error_set(e, MD_ERR_VALUE, "only agent tokens name a user or a pack");
    if (strlen(user_id) >= sizeof t.user_id || strlen(pack) >= sizeof t.pack)
        return md_error_set(e, MD_ERR_VALUE, "user id or pack name too long");
    buf_init(&plain, 256);
    rc = crypto_random(raw, sizeof raw);
    if (rc)
        return md_error_set(e, rc, "no randomness available");
    crypto_b64url(raw, sizeof raw, b64);
    buf_appendf(&plain, "mdt_%s_%s", kind, b64);
    if (plain.err) {
        rc = md_error_set(e, plain.err, "out of memory");
        goto out;
    }
    rc = crypto_uuid(t.id);
    if (rc)
        goto out;
    memcpy(t.kind, kind, strlen(kind) + 1);
    if (name)
        memcpy(t.name, name, strlen(name) + 1);
    memcpy(t.user_id, user_id, strlen(user_id) + 1);
    memcpy(t.pack, pack, strlen(pack) + 1);
    crypto_sha256_hex(plain.p, plain.len, t.hash);
    t.created_ms = time_now_ms();
    rc = store_acquire(s, &c, e);
    if (rc)
        goto out;
    rc = store_begin(c, e);
    if (rc)
        goto out;
    rc = store_token_insert(c, &t, e);
    if (rc) {
        store_rollback(c);
        goto out;
    }
    rc = store_commit(c, e);
    if (rc)
        goto out;
    memcpy(id_out, t.id, sizeof t.id);
    *plain_out = buf_steal(&plain);
out:
    if (c)
        store_release(c);
    buf_free(&plain);
    return rc;
}

enum md_err http_token_verify(struct store_conn *c, const char *plain, const char *kind,
                              struct store_token *out, struct md_error *e)
{
    char hash[CRYPTO_SHA256_HEX_LEN];
    struct store_token t;
    enum md_err rc;
    size_t len = plain ? strlen(plain) : 0;

    if (len == 0 || len > 512)
        return md_error_set(e, MD_ERR_UNAUTHORIZED, "invalid bearer token");
    crypto_sha256_hex(plain, len, hash);
    rc = store_token_find(c, hash, &t, e);
    if (rc == MD_ERR_NOTFOUND)
        return md_error_set(e, MD_ERR_UNAUTHORIZED, "invalid bearer token");
    if (rc)
        return rc;
    if (!crypto_ct_equal(t.hash, strlen(t.hash), hash, strlen(hash)) || t.revoked ||
        strcmp(t.kind, kind) != 0)
        return md_error_set(e, MD_ERR_UNAUTHORIZED, "invalid bearer token");
    if (out)
        *out = t;
    return MD_OK;
}

/* The bearer token of an Authorization header: the scheme is case-insensitive (RFC 7235). */
static const char *bearer(const char *authz)
{
    if (!authz || strncasecmp(authz, "Bearer ", 7) != 0)
        return NULL;
    authz += 7;
    while (*authz == ' ')
        authz++;
    return *authz ? authz : NULL;
}

enum md_err http_authenticate(struct http_req *req, const char *kind, struct md_error *e)
{
    const char *tok = bearer(http_req_header(req, "Authorization"));
    struct store_conn *c = NULL;
    struct store_token t;
    enum md_err rc;

    if (!tok) {
        md_error_set(e, MD_ERR_UNAUTHORIZED,
                     "a bearer token of kind %s is required (Authorization: Bearer <token>)", kind);
        http_audit_auth_failure(req, kind, e->msg);
        return MD_ERR_UNAUTHORIZED;
    }
    rc = store_acquire(req->store, &c, e);
    if (rc)
        return rc;
    rc = http_token_verify(c, tok, kind, &t, e);
    if (rc == MD_OK) {
        int64_t now = time_now_ms();
        snprintf(req->actor, sizeof req->actor, "%s", t.id);
        req->token = t;
        /* "last used" for `mandate token list`, written at most once a minute per token. */
        if (now - t.last_used_ms > 60000) {
            struct md_error ignored;
            if (store_token_touch(c, t.id, now, &ignored))
                log_warn("event=token_touch_failed token=%s", t.id);
        }
    } else if (rc == MD_ERR_UNAUTHORIZED || rc == MD_ERR_FORBIDDEN) {
        http_audit_auth_failure(req, kind, e->msg);
    }
    store_release(c);
    return rc;
}
