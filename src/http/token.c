#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/str.h"
#include "core/time.h"
#include "http/http.h"

#define TOKEN_RANDOM_BYTES 32

enum md_err http_token_create(struct store *s, const char *kind, const char *name, char **plain_out,
                              char id_out[64], struct md_error *e)
{
    unsigned char raw[TOKEN_RANDOM_BYTES];
    char b64[64];
    struct store_token t;
    struct store_conn *c = NULL;
    struct buf plain;
    enum md_err rc;

    *plain_out = NULL;
    buf_init(&plain, 256);
    memset(&t, 0, sizeof t);
    if (strlen(kind) >= sizeof t.kind || (name && strlen(name) >= sizeof t.name))
        return md_error_set(e, MD_ERR_VALUE, "token kind or name too long");
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
