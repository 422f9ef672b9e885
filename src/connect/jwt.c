/*
 * RS256 JSON Web Tokens for the JWT bearer grant (the contract is in jwt.h), over OpenSSL 3's
 * EVP interface.
 */
#include "connect/jwt.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/str.h"

/* Bytes of a JWT: a 16 Kib RSA signature and generous claims still fit. */
#define JWT_MAX (64 * 1024)

/*
 * The passphrase callback of PEM reading. Without one, OpenSSL would prompt on the terminal for
 * an encrypted key; a key in the vault has no passphrase, so an encrypted one is refused.
 */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* The key in pem, or NULL; OpenSSL's error queue is emptied, as nothing reads it. */
static EVP_PKEY *key_read(const char *pem, size_t len)
{
    BIO *bio;
    EVP_PKEY *k = NULL;

    if (len == 0 || len > CONNECT_JWT_KEY_MAX)
        return NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio)
        k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return k;
}

static enum md_err key_usable(EVP_PKEY *k, struct md_error *e)
{
    if (!k)
        return md_error_set(e, MD_ERR_VALUE,
                            "the private key must be an unencrypted PEM private key (BEGIN "
                            "PRIVATE KEY or BEGIN RSA PRIVATE KEY)");
    if (!EVP_PKEY_is_a(k, "RSA"))
        return md_error_set(e, MD_ERR_VALUE, "the private key must be an RSA key (RS256)");
    if (EVP_PKEY_get_bits(k) < CONNECT_JWT_KEY_MIN_BITS)
        return md_error_set(e, MD_ERR_VALUE, "the RSA private key must have at least %d bits",
                            CONNECT_JWT_KEY_MIN_BITS);
    return MD_OK;
}

enum md_err connect_jwt_key_check(const char *pem, size_t len, struct md_error *e)
{
    EVP_PKEY *k = key_read(pem, len);
    enum md_err err = key_usable(k, e);

    EVP_PKEY_free(k);
    return err;
}

/* Appends base64url (unpadded) of n bytes to b. */
static void b64url_append(struct buf *b, const void *p, size_t n)
{
    char *tmp = malloc(4 * ((n + 2) / 3) + 1);
    size_t k;

    if (!tmp) {
        b->err = MD_ERR_NOMEM;
        return;
    }
    k = crypto_b64url(p, n, tmp);
    buf_append(b, tmp, k);
    free(tmp);
}

/* Appends base64url of the compact JSON of v (owned by the caller). */
static void json_segment(struct buf *b, const json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;

    if (!text) {
        b->err = MD_ERR_NOMEM;
        return;
    }
    b64url_append(b, text, strlen(text));
    free(text);
}

/* RS256 of data under k into a new heap signature (*sig, *sig_len). */
static enum md_err rs256(EVP_PKEY *k, const char *data, size_t len, unsigned char **sig,
                         size_t *sig_len, struct md_error *e)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    enum md_err err = MD_OK;

    *sig = NULL;
    *sig_len = 0;
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(ctx, NULL, sig_len, (const unsigned char *)data, len) != 1) {
        err = md_error_set(e, MD_ERR_INTERNAL, "RS256 signing could not start");
        goto out;
    }
    *sig = malloc(*sig_len);
    if (!*sig) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (EVP_DigestSign(ctx, *sig, sig_len, (const unsigned char *)data, len) != 1) {
        free(*sig);
        *sig = NULL;
        err = md_error_set(e, MD_ERR_INTERNAL, "RS256 signing failed");
    }
out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

enum md_err connect_jwt_sign(const char *pem, const char *kid, const struct connect_jwt_claims *c,
                             char **out, struct md_error *e)
{
    EVP_PKEY *k = NULL;
    json_t *header = NULL, *claims = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    struct buf b;
    enum md_err err;

    *out = NULL;
    buf_init(&b, JWT_MAX);
    if (!pem || !kid || !c || !c->iss || !c->aud) {
        err =
            md_error_set(e, MD_ERR_VALUE, "a JWT needs a key, a key id, an issuer and an audience");
        goto out;
    }
    k = key_read(pem, strlen(pem));
    err = key_usable(k, e);
    if (err)
        goto out;
    header = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", kid);
    claims = json_pack("{s:s, s:s, s:I, s:I}", "iss", c->iss, "aud", c->aud, "iat",
                       (json_int_t)c->iat, "exp", (json_int_t)(c->iat + CONNECT_JWT_LIFETIME_S));
    if (claims && c->scope && json_object_set_new(claims, "scope", json_string(c->scope)))
        goto nomem;
    if (claims && c->sub && json_object_set_new(claims, "sub", json_string(c->sub)))
        goto nomem;
    json_segment(&b, header);
    buf_append_char(&b, '.');
    json_segment(&b, claims);
    if (b.err)
        goto nomem;
    err = rs256(k, b.p, b.len, &sig, &sig_len, e);
    if (err)
        goto out;
    buf_append_char(&b, '.');
    b64url_append(&b, sig, sig_len);
    if (b.err)
        goto nomem;
    *out = buf_steal(&b);
    if (!*out)
        goto nomem;
    goto out;
nomem:
    err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
out:
    if (b.p)
        OPENSSL_cleanse(b.p, b.cap);
    buf_free(&b);
    free(sig);
    json_decref(header);
    json_decref(claims);
    EVP_PKEY_free(k);
    return err;
}
