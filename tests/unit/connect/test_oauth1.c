/*
 * OAuth 1.0 signing (oauth1.h) against the worked examples of RFC 5849 and of NetSuite's
 * token-based authentication documentation: the signature base string byte for byte, the
 * HMAC signature, and the Authorization header.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/oauth1.h"

TestSuite(test_oauth1, .timeout = 30);

/* The base string of a request with the protocol parameters given as name, value pairs. */
static char *base_of(const char *method, const char *url, const char *ct, const char *body,
                     const char *const *oauth)
{
    struct connect_oauth1_param ps[16];
    size_t n = 0;
    struct buf b;
    struct md_error e = {0};
    enum md_err err;

    for (; oauth && oauth[2 * n]; n++)
        ps[n] = (struct connect_oauth1_param){slice_from_cstr(oauth[2 * n]),
                                              slice_from_cstr(oauth[2 * n + 1])};
    buf_init(&b, 0);
    err = connect_oauth1_base_string(method, url, ct, body, body ? strlen(body) : 0, ps, n, &b, &e);
    cr_assert_eq(err, MD_OK, "%s", e.msg);
    return buf_steal(&b);
}

/* RFC 5849 section 3.4.1.1: query and form body decoded ('+' too), sorted, encoded again. */
Test(test_oauth1, rfc5849_3_4_1_1_base_string)
{
    static const char *const oauth[] = {"oauth_consumer_key",
                                        "9djdj82h48djs9d2",
                                        "oauth_token",
                                        "kkk9d7dh3k39sjv7",
                                        "oauth_signature_method",
                                        "HMAC-SHA1",
                                        "oauth_timestamp",
                                        "137131201",
                                        "oauth_nonce",
                                        "7d8f3e4a",
                                        NULL};
    char *base = base_of("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
                         "application/x-www-form-urlencoded", "c2&a3=2+q", oauth);

    cr_assert_str_eq(base, "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"
                           "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_"
                           "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m"
                           "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk"
                           "9d7dh3k39sjv7");
    free(base);
}

/*
 * RFC 5849 section 1.2 (the photos example), signed with HMAC-SHA1. The signature printed in
 * the RFC's section 1.2 does not match its own inputs (see the RFC's errata); this is the
 * HMAC-SHA1 of the base string those inputs give, as any HMAC implementation computes it
 * (e.g. Python's hmac module).
 */
Test(test_oauth1, rfc5849_1_2_signature)
{
    static const char *const oauth[] = {"oauth_consumer_key",
                                        "dpf43f3p2l4k3l03",
                                        "oauth_token",
                                        "nnch734d00sl2jdk",
                                        "oauth_signature_method",
                                        "HMAC-SHA1",
                                        "oauth_timestamp",
                                        "137131202",
                                        "oauth_nonce",
                                        "chapoH",
                                        NULL};
    char *base = base_of("GET", "http://photos.example.net/photos?file=vacation.jpg&size=original",
                         NULL, NULL, oauth);
    char sig[48];
    struct md_error e = {0};

    cr_assert_str_eq(base, "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg"
                           "%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH"
                           "%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202"
                           "%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal");
    cr_assert_eq(connect_oauth1_sign("HMAC-SHA1", "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", base,
                                     strlen(base), sig, &e),
                 MD_OK, "%s", e.msg);
    cr_assert_str_eq(sig, "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
    free(base);
}

/*
 * NetSuite's worked example, "Constructing the Signature for Step One of the TBA Authorization
 * Flow" (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157652390285.html):
 * the role travels as a query parameter and oauth_callback as a protocol parameter; the
 * documented base string is reproduced exactly.
 */
Test(test_oauth1, netsuite_step_one_base_string)
{
    static const char *const oauth[] = {
        "oauth_callback",
        "https://my.example.com/TBA/?callbackRequest",
        "oauth_consumer_key",
        "60712990bc09623786e7047c226bcb3f86d49dca0b04efc21001dc76d97a81f5",
        "oauth_nonce",
        "bUvpxBX93OWo0FLswq5M",
        "oauth_signature_method",
        "HMAC-SHA256",
        "oauth_timestamp",
        "1575998103",
        "oauth_version",
        "1.0",
        NULL};
    char *base =
        base_of("POST", "https://1234567.restlets.api.netsuite.com/rest/requesttoken?role=45678",
                NULL, NULL, oauth);

    cr_assert_str_eq(
        base, "POST&https%3A%2F%2F1234567.restlets.api.netsuite.com%2Frest%2Frequesttoken&"
              "oauth_callback%3Dhttps%253A%252F%252Fmy.example.com%252FTBA%252F%253FcallbackRequest"
              "%26oauth_consumer_key%3D60712990bc09623786e7047c226bcb3f86d49dca0b04efc21001dc76d97a"
              "81f5%26oauth_nonce%3DbUvpxBX93OWo0FLswq5M%26oauth_signature_method%3DHMAC-SHA256%26"
              "oauth_timestamp%3D1575998103%26oauth_version%3D1.0%26role%3D45678");
    free(base);
}

/* Section 3.4.1.2: scheme and host in lower case, the default port dropped, another kept. */
Test(test_oauth1, base_string_uri)
{
    char *a = base_of("get", "HTTPS://Api.Example.COM:443/A/b%20c?x=1#frag", NULL, NULL, NULL);
    char *b = base_of("GET", "http://example.com:8080", NULL, NULL, NULL);
    char *c = base_of("GET", "http://[::1]:80/p", NULL, NULL, NULL);

    cr_assert_str_eq(a, "GET&https%3A%2F%2Fapi.example.com%2FA%2Fb%2520c&x%3D1");
    cr_assert_str_eq(b, "GET&http%3A%2F%2Fexample.com%3A8080%2F&");
    cr_assert_str_eq(c, "GET&http%3A%2F%2F%5B%3A%3A1%5D%2Fp&");
    free(a);
    free(b);
    free(c);
}

/* A JSON body is not a parameter; a form body is, with a charset parameter too. */
Test(test_oauth1, which_bodies_are_signed)
{
    char *json = base_of("POST", "https://x.test/r", "application/json", "{\"a\":1}", NULL);
    char *form = base_of("POST", "https://x.test/r",
                         "Application/X-WWW-Form-Urlencoded; charset=utf-8", "b=%7E+x&a", NULL);

    cr_assert_str_eq(json, "POST&https%3A%2F%2Fx.test%2Fr&");
    /* "~" decoded from %7E stays unreserved; "+" is a space, written %20, then %2520. */
    cr_assert_str_eq(form, "POST&https%3A%2F%2Fx.test%2Fr&a%3D%26b%3D~%2520x");
    free(json);
    free(form);
}

Test(test_oauth1, refusals)
{
    struct buf b;
    struct md_error e = {0};
    char sig[48];

    buf_init(&b, 0);
    cr_assert_eq(connect_oauth1_base_string("GET", "ftp://x/y", NULL, NULL, 0, NULL, 0, &b, &e),
                 MD_ERR_VALUE);
    cr_assert_eq(
        connect_oauth1_base_string("GET", "https://user@x/y", NULL, NULL, 0, NULL, 0, &b, &e),
        MD_ERR_VALUE);
    cr_assert_eq(connect_oauth1_sign("PLAINTEXT", "a", "b", "x", 1, sig, &e), MD_ERR_VALUE);
    buf_free(&b);
}

/*
 * The header: every parameter of section 3.5.1 on one line, values encoded, realm first and
 * only when there is one; the signature is the HMAC-SHA256 of the base string with the same
 * parameters (recomputed here from the parts), so that a server that recomputes it agrees.
 */
Test(test_oauth1, authorization_header)
{
    struct connect_oauth1 p = {.consumer_key = "ck",
                               .consumer_secret = "cs&1",
                               .token = "tk",
                               .token_secret = "ts 2",
                               .realm = "123456_SB1",
                               .signature_method = "HMAC-SHA256",
                               .timestamp = "1700000000",
                               .nonce = "n0nce"};
    static const char *const oauth[] = {"oauth_consumer_key",
                                        "ck",
                                        "oauth_token",
                                        "tk",
                                        "oauth_signature_method",
                                        "HMAC-SHA256",
                                        "oauth_timestamp",
                                        "1700000000",
                                        "oauth_nonce",
                                        "n0nce",
                                        "oauth_version",
                                        "1.0",
                                        NULL};
    struct md_error e = {0};
    char *h = NULL, *base, sig[48], want[512], enc_sig[128];
    size_t k = 0;

    cr_assert_eq(connect_oauth1_authorization("GET",
                                              "https://123456-sb1.suitetalk.api.netsuite.com"
                                              "/services/rest/record/v1/customer/7?expand=a%20b",
                                              NULL, NULL, 0, &p, &h, &e),
                 MD_OK, "%s", e.msg);
    base = base_of("GET",
                   "https://123456-sb1.suitetalk.api.netsuite.com/services/rest/record/v1"
                   "/customer/7?expand=a%20b",
                   NULL, NULL, oauth);
    cr_assert_eq(connect_oauth1_sign("HMAC-SHA256", "cs&1", "ts 2", base, strlen(base), sig, &e),
                 MD_OK);
    cr_assert_eq(strlen(sig), 44);
    for (const char *s = sig; *s; s++) {
        if (*s == '+' || *s == '/' || *s == '=')
            k += (size_t)snprintf(enc_sig + k, sizeof enc_sig - k, "%%%02X", (unsigned char)*s);
        else
            enc_sig[k++] = *s;
        enc_sig[k] = '\0';
    }
    snprintf(want, sizeof want,
             "OAuth realm=\"123456_SB1\", oauth_consumer_key=\"ck\", oauth_token=\"tk\", "
             "oauth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"1700000000\", "
             "oauth_nonce=\"n0nce\", oauth_version=\"1.0\", oauth_signature=\"%s\"",
             enc_sig);
    cr_assert_str_eq(h, want);
    free(h);

    /* Without a realm, none is sent. */
    p.realm = NULL;
    cr_assert_eq(connect_oauth1_authorization("GET", "https://x.test/", NULL, NULL, 0, &p, &h, &e),
                 MD_OK);
    cr_assert(strncmp(h, "OAuth oauth_consumer_key=\"ck\", ", 31) == 0, "%s", h);
    free(h);
    free(base);
}

Test(test_oauth1, nonces_differ)
{
    char a[CONNECT_OAUTH1_NONCE_LEN + 1], b[CONNECT_OAUTH1_NONCE_LEN + 1];
    cr_assert_eq(connect_oauth1_nonce(a), MD_OK);
    cr_assert_eq(connect_oauth1_nonce(b), MD_OK);
    cr_assert_eq(strlen(a), CONNECT_OAUTH1_NONCE_LEN);
    cr_assert_str_neq(a, b);
}
