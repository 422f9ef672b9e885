#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum md_err crypto_random(void *out, size_t len)
{
    if (len > (size_t)2147483647 || RAND_bytes(out, (int)len) != 1)
        return MD_ERR_INTERNAL;
    return MD_OK;
}

void crypto_hex(const void *data, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * len] = '\0';
}

void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    crypto_hex(md, sizeof md, out);
}

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        unsigned char out[CRYPTO_HMAC_SHA256_LEN])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n))
        memset(out, 0, CRYPTO_HMAC_SHA256_LEN);
}

bool crypto_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

enum md_err crypto_uuid(char out[CRYPTO_UUID_LEN])
{
    unsigned char r[16];
    if (crypto_random(r, sizeof r))
        return MD_ERR_INTERNAL;
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, CRYPTO_UUID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    return MD_OK;
}

size_t crypto_b64url(const void *data, size_t len, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

/* ---- AES-256-GCM ---- */

#define INT_OK(n) ((n) <= (size_t)2147483647)

enum md_err crypto_aead_seal(const unsigned char key[CRYPTO_AEAD_KEY_LEN], const void *aad,
                             size_t aad_len, const void *pt, size_t len, unsigned char *out,
                             size_t *out_len)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *nonce = out, *ct = out + CRYPTO_AEAD_NONCE_LEN;
    enum md_err err = MD_ERR_INTERNAL;
    int n = 0, fin = 0;

    *out_len = 0;
    if (!INT_OK(len) || !INT_OK(aad_len))
        return MD_ERR_TOOLARGE;
    /* A random 96-bit nonce per box: with one key, collisions stay negligible far beyond the
     * number of secrets a deployment keeps (NIST SP 800-38D, section 8.3). */
    if (crypto_random(nonce, CRYPTO_AEAD_NONCE_LEN))
        return MD_ERR_INTERNAL;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
        goto out;
    if (aad_len && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_AEAD_TAG_LEN, ct + n + fin) != 1)
        goto out;
    *out_len = CRYPTO_AEAD_NONCE_LEN + (size_t)n + (size_t)fin + CRYPTO_AEAD_TAG_LEN;
    err = MD_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return err;
}

enum md_err crypto_aead_open(const unsigned char key[CRYPTO_AEAD_KEY_LEN], const void *aad,
                             size_t aad_len, const unsigned char *box, size_t box_len,
                             unsigned char *pt, size_t *pt_len)
{
    EVP_CIPHER_CTX *ctx = NULL;
    const unsigned char *nonce = box, *ct = box + CRYPTO_AEAD_NONCE_LEN;
    size_t ct_len;
    enum md_err err = MD_ERR_FORBIDDEN;
    int n = 0, fin = 0;

    *pt_len = 0;
    if (box_len < CRYPTO_AEAD_OVERHEAD)
        return MD_ERR_FORBIDDEN;
    ct_len = box_len - CRYPTO_AEAD_OVERHEAD;
    if (!INT_OK(ct_len) || !INT_OK(aad_len))
        return MD_ERR_TOOLARGE;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1) {
        err = MD_ERR_INTERNAL;
        goto out;
    }
    if (aad_len && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ct_len) != 1)
        goto out;
    /* OpenSSL's API wants a non-const tag; it only reads it. */
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_AEAD_TAG_LEN,
                            (void *)(uintptr_t)(ct + ct_len)) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1)
        goto out;
    *pt_len = (size_t)n + (size_t)fin;
    err = MD_OK;
out:
    if (err && ct_len)
        OPENSSL_cleanse(pt, ct_len);
    EVP_CIPHER_CTX_free(ctx);
    return err;
}
