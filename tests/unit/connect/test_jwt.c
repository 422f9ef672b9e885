/*
 * RS256 JWTs for the JWT bearer grant (jwt.h): a token signed with a key made here is taken
 * apart and its signature verified with the public key, as Google's token endpoint does; keys
 * that cannot sign RS256 are refused without being quoted.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "connect/jwt.h"

TestSuite(test_jwt, .timeout = 60);

/* The PEM (PKCS #8) of k, heap; with a passphrase, encrypted. */
static char *pem_of(EVP_PKEY *k, const char *pass)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long n;

    cr_assert_not_null(bio);
    if (pass)
        cr_assert_eq(PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), pass,
                                                   (int)strlen(pass), NULL, NULL),
                     1);
    else
        cr_assert_eq(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    out = strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

/* Decodes unpadded base64url (n characters) into a new buffer; *len its length. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *len)
{
    size_t cap = n + 4;
    char *std = malloc(cap);
    unsigned char *out = malloc(cap);
    size_t k;
    int got;

    for (k = 0; k < n; k++)
        std[k] = s[k] == '-' ? '+' : s[k] == '_' ? '/' : s[k];
    while (k % 4)
        std[k++] = '=';
    got = EVP_DecodeBlock(out, (unsigned char *)std, (int)k);
    cr_assert_geq(got, 0, "not base64url");
    /* EVP_DecodeBlock counts the padding's zero bytes too. */
    *len = (size_t)got - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
    free(std);
    return out;
}

static json_t *segment_json(const char *s, size_t n)
{
    size_t len;
    unsigned char *raw = b64url_decode(s, n, &len);
    json_t *v = json_loadb((const char *)raw, len, 0, NULL);
    cr_assert_not_null(v, "a JWT segment is not JSON");
    free(raw);
    return v;
}

Test(test_jwt, signs_rs256_that_the_public_key_verifies)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    char *pem = pem_of(k, NULL), *jwt = NULL;
    struct connect_jwt_claims c = {.iss = "mandate@proj.iam.gserviceaccount.com",
                                   .scope = "https://www.googleapis.com/auth/gmail.readonly",
                                   .aud = "https://oauth2.googleapis.com/token",
                                   .sub = "alice@example.com",
                                   .iat = 1700000000};
    struct md_error e = {0};
    const char *dot1, *dot2;
    json_t *hdr, *cl;
    unsigned char *sig;
    size_t sig_len;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    cr_assert_eq(connect_jwt_key_check(pem, strlen(pem), &e), MD_OK, "%s", e.msg);
    cr_assert_eq(connect_jwt_sign(pem, "key-id-1", &c, &jwt, &e), MD_OK, "%s", e.msg);
    dot1 = strchr(jwt, '.');
    cr_assert_not_null(dot1);
    dot2 = strchr(dot1 + 1, '.');
    cr_assert_not_null(dot2);
    cr_assert_null(strchr(jwt, '='), "base64url without padding");

    hdr = segment_json(jwt, (size_t)(dot1 - jwt));
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "RS256");
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "typ")), "JWT");
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "kid")), "key-id-1");
    cl = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    cr_assert_str_eq(json_string_value(json_object_get(cl, "iss")), c.iss);
    cr_assert_str_eq(json_string_value(json_object_get(cl, "scope")), c.scope);
    cr_assert_str_eq(json_string_value(json_object_get(cl, "aud")), c.aud);
    cr_assert_str_eq(json_string_value(json_object_get(cl, "sub")), c.sub);
    cr_assert_eq(json_integer_value(json_object_get(cl, "iat")), 1700000000);
    cr_assert_eq(json_integer_value(json_object_get(cl, "exp")), 1700003600);

    /* RS256 over "header.claims", with the public half of the key. */
    sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig_len);
    cr_assert_eq(sig_len, 256);
    cr_assert_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    cr_assert_eq(
        EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt, (size_t)(dot2 - jwt)), 1,
        "the signature does not verify");
    /* One flipped byte of the claims and it no longer does. */
    jwt[dot1 - jwt + 3] ^= 1;
    cr_assert_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    cr_assert_neq(
        EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);

    json_decref(hdr);
    json_decref(cl);
    free(sig);
    free(jwt);
    free(pem);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
}

Test(test_jwt, no_subject_no_sub_claim)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    char *pem = pem_of(k, NULL), *jwt = NULL;
    struct connect_jwt_claims c = {.iss = "a@b", .scope = "s", .aud = "https://t/x", .iat = 5};
    struct md_error e = {0};
    const char *dot1, *dot2;
    json_t *cl;

    cr_assert_eq(connect_jwt_sign(pem, "k", &c, &jwt, &e), MD_OK, "%s", e.msg);
    dot1 = strchr(jwt, '.');
    dot2 = strchr(dot1 + 1, '.');
    cl = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    cr_assert_null(json_object_get(cl, "sub"));
    cr_assert_eq(json_object_size(cl), 5);
    json_decref(cl);
    free(jwt);
    free(pem);
    EVP_PKEY_free(k);
}

Test(test_jwt, keys_that_cannot_sign_rs256_are_refused)
{
    EVP_PKEY *small = EVP_RSA_gen(1024), *ec = EVP_EC_gen("P-256"), *rsa = EVP_RSA_gen(2048);
    char *p_small = pem_of(small, NULL), *p_ec = pem_of(ec, NULL);
    char *p_enc = pem_of(rsa, "passphrase"), *jwt = NULL;
    struct connect_jwt_claims c = {.iss = "a", .aud = "b", .iat = 1};
    struct md_error e = {0};

    cr_assert_eq(connect_jwt_key_check(p_small, strlen(p_small), &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "2048") != NULL, "%s", e.msg);
    cr_assert_eq(connect_jwt_key_check(p_ec, strlen(p_ec), &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "RSA") != NULL, "%s", e.msg);
    /* An encrypted key would need a passphrase prompt: refused, never prompted for. */
    cr_assert_eq(connect_jwt_key_check(p_enc, strlen(p_enc), &e), MD_ERR_VALUE);
    cr_assert_eq(connect_jwt_key_check("-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE "
                                       "KEY-----\n",
                                       60, &e),
                 MD_ERR_VALUE);
    cr_assert_null(strstr(e.msg, "SECRET"), "%s", e.msg);
    cr_assert_eq(connect_jwt_sign(p_ec, "k", &c, &jwt, &e), MD_ERR_VALUE);
    cr_assert_null(jwt);
    free(p_small);
    free(p_ec);
    free(p_enc);
    EVP_PKEY_free(small);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
}
