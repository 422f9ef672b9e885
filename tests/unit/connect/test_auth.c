/*
 * The static auth schemes (connect/auth.c): validation of auth objects and secrets (errors
 * name the field and never quote a value), and the exact header bytes each scheme adds to a
 * request built by connect_request_build, replacing a static header of the same name. Also the
 * OAuth 2.0 refresh-token and JWT-bearer schemes' settings and secrets, OAuth 1.0 signing of a
 * built request, credential placeholders (a connector's secret fields beyond its scheme's, the
 * token URL's {credential.NAME}), and which fields are masked out of upstream answers.
 */
#include <criterion/criterion.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/auth.h"
#include "connect/connect.h"
#include "connect/oauth1.h"

TestSuite(test_auth);

/* ---- helpers ---- */

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);

    cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
    return v;
}

static enum md_err validate(const char *auth_text, enum connect_auth_type *t, struct md_error *e)
{
    json_t *auth = auth_text ? js(auth_text) : NULL;
    enum md_err err = connect_auth_validate(auth, t, e);

    json_decref(auth);
    return err;
}

static void valid(const char *auth_text, enum connect_auth_type want)
{
    struct md_error e = {0};
    /* Something else than want, so that a function that sets nothing fails. */
    enum connect_auth_type t = want == CONNECT_AUTH_NONE ? CONNECT_AUTH_BEARER : CONNECT_AUTH_NONE;

    cr_assert_eq(validate(auth_text, &t, &e), MD_OK, "%s: %s", auth_text, e.msg);
    cr_assert_eq(t, want, "%s", auth_text);
}

/* auth_text is refused with MD_ERR_VALUE and a message holding want. */
static void invalid(const char *auth_text, const char *want)
{
    struct md_error e = {0};

    cr_assert_eq(validate(auth_text, NULL, &e), MD_ERR_VALUE, "%s accepted", auth_text);
    cr_assert_not_null(strstr(e.msg, want), "%s: message \"%s\" lacks \"%s\"", auth_text, e.msg,
                       want);
}

static enum md_err secret_check(const char *auth_text, const char *secret_text, struct md_error *e)
{
    json_t *auth = js(auth_text), *secret = secret_text ? js(secret_text) : NULL;
    enum md_err err = connect_auth_secret_validate(auth, secret, e);

    json_decref(auth);
    json_decref(secret);
    return err;
}

static void secret_ok(const char *auth_text, const char *secret_text)
{
    struct md_error e = {0};

    cr_assert_eq(secret_check(auth_text, secret_text, &e), MD_OK, "%s: %s", secret_text, e.msg);
}

/* Refused, naming want, and never quoting the marker that every test value carries. */
static void secret_bad(const char *auth_text, const char *secret_text, const char *want)
{
    struct md_error e = {0};

    cr_assert_eq(secret_check(auth_text, secret_text, &e), MD_ERR_VALUE, "%s accepted",
                 secret_text);
    cr_assert_not_null(strstr(e.msg, want), "%s: message \"%s\" lacks \"%s\"", secret_text, e.msg,
                       want);
    cr_assert_null(strstr(e.msg, "SECRET"), "the message echoes a value: %s", e.msg);
}

/* A GET request with the connector's static headers (JSON text or NULL). */
static struct connect_request build(const char *headers_text)
{
    struct connect_request r;
    struct md_error e = {0};
    json_t *hdrs = headers_text ? js(headers_text) : NULL;
    json_t *def = js("{\"method\": \"GET\", \"path\": \"/x\"}");

    cr_assert_eq(connect_request_build("https://api.example.com", hdrs, def, NULL, &r, &e), MD_OK,
                 "%s", e.msg);
    json_decref(hdrs);
    json_decref(def);
    return r;
}

static enum md_err apply(const char *auth_text, const char *secret_text, const char *token,
                         struct connect_request *r, struct md_error *e)
{
    json_t *auth = auth_text ? js(auth_text) : NULL;
    json_t *secret = secret_text ? js(secret_text) : NULL;
    enum md_err err = connect_auth_apply(auth, secret, token, r, e);

    json_decref(auth);
    json_decref(secret);
    return err;
}

static void apply_ok(const char *auth_text, const char *secret_text, const char *token,
                     struct connect_request *r)
{
    struct md_error e = {0};

    cr_assert_eq(apply(auth_text, secret_text, token, r, &e), MD_OK, "%s", e.msg);
}

/* The request's headers as "Name: value\n" lines, in order. */
static void lines(const struct connect_request *r, char *out, size_t size)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < r->n_headers; i++)
        n += (size_t)snprintf(out + n, size - n, "%s: %s\n", r->headers[i].name,
                              r->headers[i].value);
}

static void headers_eq(const struct connect_request *r, const char *want)
{
    char got[4096];

    lines(r, got, sizeof got);
    cr_assert_str_eq(got, want);
}

#define API_KEY_DD "{\"type\": \"api_key\", \"headers\": [\"DD-API-KEY\", \"DD-APPLICATION-KEY\"]}"
#define OAUTH "{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/oauth/token\"}"

/* ---- auth objects ---- */

Test(test_auth, validate_types)
{
    valid(NULL, CONNECT_AUTH_NONE);
    valid("null", CONNECT_AUTH_NONE);
    valid("{\"type\": \"none\"}", CONNECT_AUTH_NONE);
    valid("{\"type\": \"bearer\"}", CONNECT_AUTH_BEARER);
    valid("{\"type\": \"basic\"}", CONNECT_AUTH_BASIC);
    valid(API_KEY_DD, CONNECT_AUTH_API_KEY);
    /* The spelling an early catalog used for api_key is not a scheme. */
    invalid("{\"type\": \"headers\", \"headers\": [\"DD-API-KEY\"]}", "auth.type must be");
    valid(OAUTH, CONNECT_AUTH_OAUTH2_CC);
    valid("{\"type\": \"oauth2_client_credentials\", \"token_url\": "
          "\"https://login.example.com/oauth2/v2.0/token\", \"scope\": \"read:x write:y\", "
          "\"audience\": \"https://api.example.com/\", \"client_auth\": \"post\"}",
          CONNECT_AUTH_OAUTH2_CC);
    cr_assert_str_eq(connect_auth_type_name(CONNECT_AUTH_OAUTH2_CC), "oauth2_client_credentials");
    cr_assert_str_eq(connect_auth_type_name(CONNECT_AUTH_API_KEY), "api_key");
}

Test(test_auth, validate_refusals_name_the_field)
{
    invalid("[]", "auth must be an object");
    invalid("{}", "auth.type");
    invalid("{\"type\": \"digest\"}", "auth.type");
    invalid("{\"type\": \"bearer\", \"prefix\": \"token\"}", "auth.prefix");
    invalid("{\"type\": \"basic\", \"headers\": [\"X\"]}", "auth.headers is not a field");
    invalid("{\"type\": \"api_key\"}", "auth.headers");
    invalid("{\"type\": \"api_key\", \"headers\": []}", "auth.headers");
    invalid("{\"type\": \"api_key\", \"headers\": \"DD-API-KEY\"}", "auth.headers");
    invalid("{\"type\": \"api_key\", \"headers\": "
            "[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\",\"G\",\"H\",\"I\"]}",
            "1 to 8");
    invalid("{\"type\": \"api_key\", \"headers\": [\"X-Key\", \"DD API KEY\"]}", "auth.headers[1]");
    invalid("{\"type\": \"api_key\", \"headers\": [\"\"]}", "auth.headers[0]");
    invalid("{\"type\": \"api_key\", \"headers\": [\"X:Y\"]}", "auth.headers[0]");
    invalid("{\"type\": \"api_key\", \"headers\": [3]}", "auth.headers[0]");
    invalid("{\"type\": \"api_key\", \"headers\": [\"X-Key\", \"x-key\"]}", "listed twice");
    invalid("{\"type\": \"api_key\", \"extra\": 1, \"headers\": [\"X\"]}", "auth.extra");
}

Test(test_auth, api_key_reserved_headers)
{
    static const char *const reserved[] = {
        "Host",       "content-type", "Content-Length",     "TRANSFER-ENCODING",
        "Connection", "Cookie",       "Proxy-Authorization"};
    char text[256];

    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        snprintf(text, sizeof text, "{\"type\": \"api_key\", \"headers\": [\"%s\"]}", reserved[i]);
        invalid(text, "set by the runtime");
    }
    /* Authorization is allowed, for APIs that want "Token xyz" as the whole value. */
    valid("{\"type\": \"api_key\", \"headers\": [\"Authorization\"]}", CONNECT_AUTH_API_KEY);
}

Test(test_auth, oauth2_definition)
{
    invalid("{\"type\": \"oauth2_client_credentials\"}", "auth.token_url");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"\"}", "auth.token_url");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"http://x.example/t\"}",
            "https");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"//evil.example/t\"}",
            "single /");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"https:///t\"}", "host");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"ftp://x/t\"}", "https");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"oauth/token\"}", "https");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t#frag\"}", "fragment");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t x\"}", "spaces");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\\r\\nX: y\"}",
            "control");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"scope\": \"\"}",
            "auth.scope");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"scope\": \"a  b\"}",
            "auth.scope");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"scope\": \" a\"}",
            "auth.scope");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"scope\": "
            "\"a\\\"b\"}",
            "auth.scope");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"scope\": 3}",
            "auth.scope");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"audience\": "
            "\"a\\nb\"}",
            "auth.audience");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"client_auth\": "
            "\"jwt\"}",
            "auth.client_auth");
    invalid("{\"type\": \"oauth2_client_credentials\", \"token_url\": \"/t\", \"grant_type\": "
            "\"password\"}",
            "auth.grant_type");
}

/* ---- secrets ---- */

Test(test_auth, secrets_of_each_scheme)
{
    secret_ok("{\"type\": \"none\"}", NULL);
    secret_ok("{\"type\": \"none\"}", "{}");
    secret_ok("{\"type\": \"bearer\"}", "{\"token\": \"ghp_SECRET\"}");
    secret_ok("{\"type\": \"basic\"}",
              "{\"username\": \"jane@example.com\", \"password\": \"p w\"}");
    secret_ok("{\"type\": \"basic\"}",
              "{\"username\": \"jane@example.com/token\", \"password\": \" trailing \"}");
    secret_ok(API_KEY_DD, "{\"DD-API-KEY\": \"a\", \"DD-APPLICATION-KEY\": \"b\"}");
    secret_ok(OAUTH, "{\"client_id\": \"id:with:colons\", \"client_secret\": \"s\"}");
}

Test(test_auth, secret_refusals_name_fields_not_values)
{
    char big[5000], text[5200];

    secret_bad("{\"type\": \"none\"}", "{\"token\": \"SECRET\"}", "token");
    secret_bad("{\"type\": \"bearer\"}", "[\"SECRET\"]", "JSON object");
    secret_bad("{\"type\": \"bearer\"}", "\"SECRET\"", "JSON object");
    secret_bad("{\"type\": \"bearer\"}", "{}", "secret field token is required");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"SECRET\", \"extra\": \"SECRET\"}",
               "secret field extra is not used");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"\"}", "token must not be empty");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": 42}", "token must be a string");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"SECRET\\r\\nX-Evil: 1\"}",
               "token must not hold control");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"SECRET\\n\"}", "control");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"SECRET\\u0000x\"}", "control");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"SECRET\\tx\"}", "control");
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"SECRET\\u007f\"}", "control");
    /* A value sent raw in a header must not carry spaces that the server would strip. */
    secret_bad("{\"type\": \"bearer\"}", "{\"token\": \"SECRET \"}", "space");
    secret_bad("{\"type\": \"basic\"}", "{\"username\": \"SECRET\"}", "password is required");
    secret_bad("{\"type\": \"basic\"}", "{\"username\": \"SECRET:x\", \"password\": \"SECRET\"}",
               "username must not hold ':'");
    secret_bad(API_KEY_DD, "{\"DD-API-KEY\": \"SECRET\"}", "DD-APPLICATION-KEY is required");
    secret_bad(API_KEY_DD,
               "{\"DD-API-KEY\": \"SECRET\", \"DD-APPLICATION-KEY\": \"SECRET\", \"X\": \"S\"}",
               "secret field X is not used");
    /* Header names are matched as the connector spells them. */
    secret_bad(API_KEY_DD, "{\"dd-api-key\": \"SECRET\", \"DD-APPLICATION-KEY\": \"SECRET\"}",
               "dd-api-key");
    secret_bad(OAUTH, "{\"client_id\": \"SECRET\"}", "client_secret is required");
    /* The auth object is validated as well. */
    secret_bad("{\"type\": \"kerberos\"}", "{\"token\": \"SECRET\"}", "auth.type");

    /* A field name that is not plain text is quoted and escaped, not printed raw. */
    secret_bad("{\"type\": \"bearer\"}", "{\"a\\nb\": \"SECRET\"}", "\\x0a");

    memset(big, 'A', 4097);
    big[4097] = '\0';
    snprintf(text, sizeof text, "{\"token\": \"SECRET%s\"}", big);
    secret_bad("{\"type\": \"bearer\"}", text, "longer than 4096");
    big[4096 - 6] = '\0';
    snprintf(text, sizeof text, "{\"token\": \"SECRET%s\"}", big);
    secret_ok("{\"type\": \"bearer\"}", text);
}

/* ---- headers ---- */

Test(test_auth, bearer_exact_bytes)
{
    struct connect_request r = build("{\"Accept\": \"application/vnd.github+json\"}");

    apply_ok("{\"type\": \"bearer\"}", "{\"token\": \"ghp_abc123\"}", NULL, &r);
    headers_eq(&r, "Accept: application/vnd.github+json\nAuthorization: Bearer ghp_abc123\n");
    connect_request_free(&r);
}

Test(test_auth, basic_rfc7617_example)
{
    struct connect_request r = build(NULL);

    /* RFC 7617 section 2: Aladdin / open sesame. */
    apply_ok("{\"type\": \"basic\"}", "{\"username\": \"Aladdin\", \"password\": \"open sesame\"}",
             NULL, &r);
    headers_eq(&r, "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\n");
    connect_request_free(&r);

    /* A password with ':' and non-ASCII text is sent as its UTF-8 bytes (RFC 7617 section 2.1). */
    r = build(NULL);
    apply_ok("{\"type\": \"basic\"}", "{\"username\": \"test\", \"password\": \"123\\u00a3:x\"}",
             NULL, &r);
    /* base64("test:123\xc2\xa3:x") */
    headers_eq(&r, "Authorization: Basic dGVzdDoxMjPCozp4\n");
    connect_request_free(&r);
}

Test(test_auth, api_key_headers_in_order)
{
    struct connect_request r = build("{\"Accept\": \"application/json\"}");

    apply_ok(API_KEY_DD, "{\"DD-APPLICATION-KEY\": \"app-2\", \"DD-API-KEY\": \"api-1\"}", NULL,
             &r);
    headers_eq(&r, "Accept: application/json\nDD-API-KEY: api-1\nDD-APPLICATION-KEY: app-2\n");
    connect_request_free(&r);

    r = build(NULL);
    apply_ok("{\"type\": \"api_key\", \"headers\": [\"Authorization\"]}",
             "{\"Authorization\": \"Token xyz\"}", NULL, &r);
    headers_eq(&r, "Authorization: Token xyz\n");
    connect_request_free(&r);
}

Test(test_auth, replaces_a_static_header)
{
    struct connect_request r =
        build("{\"dd-api-key\": \"placeholder\", \"Accept\": \"application/json\", "
              "\"DD-API-KEY\": \"again\"}");

    cr_assert_eq(r.n_headers, 3);
    apply_ok(API_KEY_DD, "{\"DD-API-KEY\": \"real\", \"DD-APPLICATION-KEY\": \"app\"}", NULL, &r);
    /* The first of the same name (ignoring case) takes the credential; the other goes. */
    headers_eq(&r, "DD-API-KEY: real\nAccept: application/json\nDD-APPLICATION-KEY: app\n");
    connect_request_free(&r);
}

Test(test_auth, replaces_authorization_in_a_request_with_a_body)
{
    struct connect_request r;
    struct md_error e = {0};
    json_t *def = js("{\"method\": \"POST\", \"path\": \"/x\", \"body\": \"json\"}");
    json_t *args = js("{\"a\": 1}");

    cr_assert_eq(connect_request_build("https://api.example.com", NULL, def, args, &r, &e), MD_OK,
                 "%s", e.msg);
    /* Applying twice (a retry with a refreshed token) leaves one Authorization header. */
    apply_ok(OAUTH, NULL, "tok-1", &r);
    apply_ok(OAUTH, NULL, "tok-2", &r);
    headers_eq(&r, "Content-Type: application/json\nAuthorization: Bearer tok-2\n");
    connect_request_free(&r);
    json_decref(def);
    json_decref(args);
}

Test(test_auth, none_adds_nothing)
{
    struct connect_request r = build("{\"Accept\": \"text/plain\"}");

    apply_ok(NULL, NULL, NULL, &r);
    apply_ok("{\"type\": \"none\"}", NULL, NULL, &r);
    /* A secret left over from an earlier scheme is not used. */
    apply_ok("{\"type\": \"none\"}", "{\"token\": \"old\"}", NULL, &r);
    headers_eq(&r, "Accept: text/plain\n");
    connect_request_free(&r);

    /* An empty request (no headers array yet) works too. */
    memset(&r, 0, sizeof r);
    apply_ok("{\"type\": \"bearer\"}", "{\"token\": \"t\"}", NULL, &r);
    headers_eq(&r, "Authorization: Bearer t\n");
    connect_request_free(&r);
}

Test(test_auth, apply_refusals_leave_the_request_unchanged)
{
    struct connect_request r = build("{\"Accept\": \"application/json\"}");
    struct md_error e = {0};
    char long_token[9000];

    cr_assert_eq(apply("{\"type\": \"bearer\"}", "{}", NULL, &r, &e), MD_ERR_VALUE);
    cr_assert_not_null(strstr(e.msg, "token"), "%s", e.msg);
    cr_assert_eq(apply("{\"type\": \"bearer\"}", "{\"token\": \"SECRET\\r\\n\"}", NULL, &r, &e),
                 MD_ERR_VALUE);
    cr_assert_null(strstr(e.msg, "SECRET"), "%s", e.msg);
    cr_assert_eq(apply(API_KEY_DD, "{\"DD-API-KEY\": \"SECRET\"}", NULL, &r, &e), MD_ERR_VALUE);
    cr_assert_eq(apply("{\"type\": \"bogus\"}", "{}", NULL, &r, &e), MD_ERR_VALUE);
    /* An access token is for oauth2 only, and oauth2 needs one. */
    cr_assert_eq(apply("{\"type\": \"bearer\"}", "{\"token\": \"t\"}", "tok", &r, &e),
                 MD_ERR_INTERNAL);
    cr_assert_eq(apply(OAUTH, "{\"client_id\": \"a\", \"client_secret\": \"b\"}", NULL, &r, &e),
                 MD_ERR_INTERNAL);
    cr_assert_eq(apply(OAUTH, NULL, "SECRET\nX: y", &r, &e), MD_ERR_VALUE);
    cr_assert_null(strstr(e.msg, "SECRET"), "%s", e.msg);
    cr_assert_eq(apply(OAUTH, NULL, "", &r, &e), MD_ERR_VALUE);
    memset(long_token, 'a', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    cr_assert_eq(apply(OAUTH, NULL, long_token, &r, &e), MD_ERR_VALUE);
    headers_eq(&r, "Accept: application/json\n");
    connect_request_free(&r);
}

Test(test_auth, oauth2_sends_the_access_token)
{
    struct connect_request r = build(NULL);
    char jwt[6001];

    /* An access token (often a JWT) may be longer than a static secret's 4 KiB. */
    memset(jwt, 'e', sizeof jwt - 1);
    jwt[sizeof jwt - 1] = '\0';
    apply_ok(OAUTH, NULL, jwt, &r);
    cr_assert_eq(r.n_headers, 1);
    cr_assert_str_eq(r.headers[0].name, "Authorization");
    cr_assert_eq(strncmp(r.headers[0].value, "Bearer eee", 10), 0);
    cr_assert_eq(strlen(r.headers[0].value), 7 + 6000);
    connect_request_free(&r);
}

Test(test_auth, basic_too_long_for_one_header)
{
    char user[4100], pass[4100], text[8400];

    memset(user, 'u', 4000);
    user[4000] = '\0';
    memset(pass, 'p', 4000);
    pass[4000] = '\0';
    /* 8001 bytes encode to 10,668 characters: more than one header line may hold. */
    snprintf(text, sizeof text, "{\"username\": \"%s\", \"password\": \"SECRET%s\"}", user, pass);
    secret_bad("{\"type\": \"basic\"}", text, "too long together");
}

/* ---- OAuth 2.0 refresh token, JWT bearer, OAuth 1.0 ---- */

#define REFRESH                                                                                    \
    "{\"type\": \"oauth2_refresh_token\", \"token_url\": "                                         \
    "\"https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer\", \"client_auth\": \"basic\"}"
#define JWT_AUTH                                                                                   \
    "{\"type\": \"oauth2_jwt_bearer\", \"token_url\": \"https://oauth2.googleapis.com/token\", "   \
    "\"scope\": \"https://www.googleapis.com/auth/gmail.readonly\", \"subject\": \"caller\"}"
#define OAUTH1 "{\"type\": \"oauth1\", \"signature_method\": \"HMAC-SHA256\"}"

Test(test_auth, validate_new_types)
{
    valid(REFRESH, CONNECT_AUTH_OAUTH2_REFRESH);
    valid("{\"type\": \"oauth2_refresh_token\", \"token_url\": \"/oauth/token\", \"scope\": "
          "\"offline_access Mail.Read\", \"client_auth\": \"post\"}",
          CONNECT_AUTH_OAUTH2_REFRESH);
    valid(JWT_AUTH, CONNECT_AUTH_OAUTH2_JWT);
    valid(
        "{\"type\": \"oauth2_jwt_bearer\", \"token_url\": \"https://oauth2.googleapis.com/token\", "
        "\"scope\": \"a b\"}",
        CONNECT_AUTH_OAUTH2_JWT);
    valid(OAUTH1, CONNECT_AUTH_OAUTH1);
    valid("{\"type\": \"oauth1\"}", CONNECT_AUTH_OAUTH1);
    valid("{\"type\": \"oauth1\", \"signature_method\": \"HMAC-SHA1\"}", CONNECT_AUTH_OAUTH1);
    cr_assert(connect_auth_is_oauth2(CONNECT_AUTH_OAUTH2_REFRESH));
    cr_assert(connect_auth_is_oauth2(CONNECT_AUTH_OAUTH2_JWT));
    cr_assert(!connect_auth_is_oauth2(CONNECT_AUTH_OAUTH1));
    cr_assert_str_eq(connect_auth_type_name(CONNECT_AUTH_OAUTH2_JWT), "oauth2_jwt_bearer");

    invalid("{\"type\": \"oauth2_refresh_token\"}", "auth.token_url is required");
    invalid("{\"type\": \"oauth2_refresh_token\", \"token_url\": \"/t\", \"audience\": \"x\"}",
            "auth.audience is not a field of auth type oauth2_refresh_token");
    invalid("{\"type\": \"oauth2_jwt_bearer\", \"token_url\": \"/t\"}", "auth.scope is required");
    invalid("{\"type\": \"oauth2_jwt_bearer\", \"token_url\": \"/t\", \"scope\": \"s\", "
            "\"subject\": \"alice@example.com\"}",
            "auth.subject must be \"caller\"");
    invalid("{\"type\": \"oauth2_jwt_bearer\", \"token_url\": \"/t\", \"scope\": \"s\", "
            "\"client_auth\": \"post\"}",
            "auth.client_auth is not a field");
    invalid("{\"type\": \"oauth1\", \"signature_method\": \"PLAINTEXT\"}",
            "auth.signature_method must be");
    invalid("{\"type\": \"oauth1\", \"token_url\": \"/t\"}", "auth.token_url is not a field");
}

Test(test_auth, token_url_credential_placeholders)
{
    valid("{\"type\": \"oauth2_refresh_token\", \"token_url\": "
          "\"https://login.microsoftonline.com/{credential.tenant_id}/oauth2/v2.0/token\"}",
          CONNECT_AUTH_OAUTH2_REFRESH);
    valid("{\"type\": \"oauth2_client_credentials\", \"token_url\": "
          "\"/{credential.tenant}/token?realm={credential.realm_1}\"}",
          CONNECT_AUTH_OAUTH2_CC);
    /* A credential's value must not choose where the client secret goes. */
    invalid("{\"type\": \"oauth2_refresh_token\", \"token_url\": "
            "\"https://{credential.host}/token\"}",
            "not in the scheme or the host");
    invalid("{\"type\": \"oauth2_refresh_token\", \"token_url\": "
            "\"https://login.{credential.d}.com/token\"}",
            "not in the scheme or the host");
    invalid("{\"type\": \"oauth2_refresh_token\", \"token_url\": \"/a/{tenant_id}/token\"}",
            "only make {credential.NAME}");
    invalid("{\"type\": \"oauth2_refresh_token\", \"token_url\": \"/a/{credential.}/token\"}",
            "only make {credential.NAME}");
    invalid("{\"type\": \"oauth2_refresh_token\", \"token_url\": \"/a/}/token\"}",
            "only make {credential.NAME}");
    invalid("{\"type\": \"oauth2_refresh_token\", \"token_url\": "
            "\"http://login.example.com/{credential.t}/token\"}",
            "must use https");
}

Test(test_auth, token_url_filled_in)
{
    json_t *auth = js("{\"type\": \"oauth2_refresh_token\", \"token_url\": "
                      "\"https://login.microsoftonline.com/{credential.tenant_id}/oauth2/v2.0/"
                      "token\"}");
    json_t *path = js("{\"type\": \"oauth2_refresh_token\", \"token_url\": "
                      "\"/{credential.tenant_id}/token\"}");
    json_t *secret = js("{\"tenant_id\": \"contoso.onmicrosoft.com\", \"client_id\": \"c\"}");
    json_t *odd = js("{\"tenant_id\": \"a/b?c d\"}");
    json_t *dots = js("{\"tenant_id\": \"..\"}");
    json_t *none = js("{}");
    struct md_error e = {0};
    char *u = NULL;

    cr_assert_eq(connect_auth_token_url(auth, "https://graph.microsoft.com", secret, &u, &e), MD_OK,
                 "%s", e.msg);
    cr_assert_str_eq(u, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/"
                        "token");
    free(u);
    cr_assert_eq(connect_auth_token_url(path, "https://api.example.com/v1", secret, &u, &e), MD_OK);
    cr_assert_str_eq(u, "https://api.example.com/v1/contoso.onmicrosoft.com/token");
    free(u);
    /* A value is percent-encoded like a path argument: it cannot add a segment or a query. */
    cr_assert_eq(connect_auth_token_url(auth, NULL, odd, &u, &e), MD_OK);
    cr_assert_str_eq(u, "https://login.microsoftonline.com/a%2Fb%3Fc%20d/oauth2/v2.0/token");
    free(u);
    cr_assert_eq(connect_auth_token_url(auth, NULL, dots, &u, &e), MD_ERR_VALUE);
    cr_assert_null(u);
    cr_assert_eq(connect_auth_token_url(auth, NULL, none, &u, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "tenant_id") != NULL, "%s", e.msg);
    json_decref(auth);
    json_decref(path);
    json_decref(secret);
    json_decref(odd);
    json_decref(dots);
    json_decref(none);
}

/* A fresh RSA key's PEM as a JSON string literal's content (newlines escaped). */
static char *rsa_pem_json(int bits)
{
    EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long n;
    size_t o = 0;

    cr_assert_eq(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    out = malloc(2 * (size_t)n + 1);
    for (long i = 0; i < n; i++) {
        if (data[i] == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = data[i];
        }
    }
    out[o] = '\0';
    BIO_free(bio);
    EVP_PKEY_free(k);
    return out;
}

Test(test_auth, new_secrets)
{
    char *pem = rsa_pem_json(2048), *small = rsa_pem_json(1024);
    char text[12000];

    secret_ok(REFRESH, "{\"client_id\": \"ABc\", \"client_secret\": \"s\", \"refresh_token\": "
                       "\"AB11-x\"}");
    secret_bad(REFRESH, "{\"client_id\": \"ABc\", \"client_secret\": \"SECRET\"}",
               "refresh_token is required");

    secret_ok(OAUTH1, "{\"consumer_key\": \"a\", \"consumer_secret\": \"b\", \"token\": \"c\", "
                      "\"token_secret\": \"d\", \"realm\": \"123456_SB1\"}");
    /* realm is optional (an OAuth 1.0 API other than NetSuite may have none). */
    secret_ok(OAUTH1, "{\"consumer_key\": \"a\", \"consumer_secret\": \"b\", \"token\": \"c\", "
                      "\"token_secret\": \"d\"}");
    secret_bad(OAUTH1,
               "{\"consumer_key\": \"a\", \"consumer_secret\": \"SECRET\", \"token\": "
               "\"c\"}",
               "token_secret is required");

    /* A service account key file, as Google issues it: its other members are kept. */
    snprintf(text, sizeof text,
             "{\"type\": \"service_account\", \"project_id\": \"p\", \"private_key_id\": \"abc\", "
             "\"private_key\": \"%s\", \"client_email\": \"m@p.iam.gserviceaccount.com\", "
             "\"client_id\": \"1\", \"token_uri\": \"https://oauth2.googleapis.com/token\", "
             "\"universe_domain\": \"googleapis.com\"}",
             pem);
    secret_ok(JWT_AUTH, text);
    snprintf(text, sizeof text,
             "{\"private_key_id\": \"abc\", \"private_key\": \"%s\", \"client_email\": \"m@p\", "
             "\"extra\": 42}",
             pem);
    secret_bad(JWT_AUTH, text, "extra must be a string");
    snprintf(text, sizeof text, "{\"private_key\": \"%s\", \"client_email\": \"m@p\"}", pem);
    secret_bad(JWT_AUTH, text, "private_key_id is required");
    snprintf(text, sizeof text,
             "{\"private_key_id\": \"abc\", \"private_key\": \"%s\", \"client_email\": \"m@p\"}",
             small);
    secret_bad(JWT_AUTH, text, "at least 2048 bits");
    secret_bad(JWT_AUTH,
               "{\"private_key_id\": \"a\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nSECRET"
               "\\n-----END PRIVATE KEY-----\\n\", \"client_email\": \"m@p\"}",
               "private_key");
    free(pem);
    free(small);
}

Test(test_auth, fields_masked_from_answers)
{
    json_t *basic = js("{\"type\": \"basic\"}"), *jwt = js(JWT_AUTH), *o1 = js(OAUTH1);
    json_t *refresh = js(REFRESH);

    cr_assert(!connect_auth_field_is_secret(basic, "username"));
    cr_assert(connect_auth_field_is_secret(basic, "password"));
    cr_assert(!connect_auth_field_is_secret(refresh, "client_id"));
    cr_assert(connect_auth_field_is_secret(refresh, "client_secret"));
    cr_assert(connect_auth_field_is_secret(refresh, "refresh_token"));
    cr_assert(!connect_auth_field_is_secret(jwt, "client_email"));
    cr_assert(connect_auth_field_is_secret(jwt, "private_key"));
    cr_assert(connect_auth_field_is_secret(jwt, "private_key_id"));
    /* A key file's project id and URLs are not secret: masking them would garble answers. */
    cr_assert(!connect_auth_field_is_secret(jwt, "project_id"));
    cr_assert(!connect_auth_field_is_secret(jwt, "universe_domain"));
    cr_assert(!connect_auth_field_is_secret(o1, "realm"));
    cr_assert(connect_auth_field_is_secret(o1, "token"));
    cr_assert(connect_auth_field_is_secret(o1, "token_secret"));
    json_decref(basic);
    json_decref(jwt);
    json_decref(o1);
    json_decref(refresh);
}

/* A connector document with auth and one tool whose request is given. */
static json_t *connector_with(const char *auth, const char *request)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"name\": \"c\", \"auth\": %s, \"tools\": [{\"name\": \"t\", \"request\": %s}]}",
             auth, request);
    return js(text);
}

static enum md_err conn_secret(json_t *conn, const char *secret_text, struct md_error *e)
{
    json_t *secret = js(secret_text);
    enum md_err err = connect_auth_secret_validate_connector(conn, secret, e);
    json_decref(secret);
    return err;
}

Test(test_auth, connector_credential_fields)
{
    /* Sage Intacct's XML API: the credentials travel in the body; no header scheme. */
    json_t *intacct = connector_with(
        "{\"type\": \"none\"}",
        "{\"method\": \"POST\", \"path\": \"/ia/xml/xmlgw.phtml\", \"body\": {\"type\": "
        "\"template\", \"content_type\": \"application/xml\", \"escape\": \"xml\", \"template\": "
        "\"<login><userid>{{credential.user_id}}</userid><password>{{credential.user_password}}"
        "</password></login><q>{{q}}</q>\"}}");
    json_t *ms = connector_with("{\"type\": \"oauth2_refresh_token\", \"token_url\": "
                                "\"https://login.microsoftonline.com/{credential.tenant_id}/oauth2/"
                                "v2.0/token\"}",
                                "{\"method\": \"GET\", \"path\": \"/v1.0/me\"}");
    struct md_error e = {0};
    json_t *names = json_object();

    cr_assert_eq(conn_secret(intacct, "{\"user_id\": \"u\", \"user_password\": \"p\"}", &e), MD_OK,
                 "%s", e.msg);
    cr_assert_eq(conn_secret(intacct, "{\"user_id\": \"u\"}", &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "user_password is required") != NULL, "%s", e.msg);
    cr_assert_eq(conn_secret(intacct,
                             "{\"user_id\": \"u\", \"user_password\": \"p\", \"x\": \"SECRET\"}",
                             &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "x is not used") != NULL, "%s", e.msg);
    cr_assert_eq(conn_secret(intacct, "{\"user_id\": \"u\", \"user_password\": \"SECRET\\n\"}", &e),
                 MD_ERR_VALUE);
    cr_assert_null(strstr(e.msg, "SECRET"));
    /* The token URL's field is required beside the scheme's. */
    cr_assert_eq(conn_secret(ms,
                             "{\"client_id\": \"a\", \"client_secret\": \"b\", "
                             "\"refresh_token\": \"c\", \"tenant_id\": \"t\"}",
                             &e),
                 MD_OK, "%s", e.msg);
    cr_assert_eq(conn_secret(ms,
                             "{\"client_id\": \"a\", \"client_secret\": \"b\", "
                             "\"refresh_token\": \"c\"}",
                             &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "tenant_id") != NULL, "%s", e.msg);
    /* The auth object alone does not know the templates' fields. */
    secret_bad("{\"type\": \"none\"}", "{\"user_id\": \"SECRET\"}", "user_id is not used");

    cr_assert_eq(connect_auth_credential_fields(json_object_get(ms, "auth"), names, &e), MD_OK);
    cr_assert_eq(json_object_size(names), 1);
    cr_assert_not_null(json_object_get(names, "tenant_id"));
    json_decref(names);
    json_decref(intacct);
    json_decref(ms);
}

Test(test_auth, apply_with_extra_fields_and_access_tokens)
{
    struct connect_request r = build(NULL);
    struct md_error e = {0};

    /* Fields that a template uses ride along with the scheme's. */
    apply_ok("{\"type\": \"bearer\"}", "{\"token\": \"t\", \"tenant\": \"x\"}", NULL, &r);
    headers_eq(&r, "Authorization: Bearer t\n");
    apply_ok(REFRESH, NULL, "at-1", &r);
    headers_eq(&r, "Authorization: Bearer at-1\n");
    apply_ok(JWT_AUTH, NULL, "ya29.x", &r);
    headers_eq(&r, "Authorization: Bearer ya29.x\n");
    cr_assert_eq(apply(REFRESH, "{}", NULL, &r, &e), MD_ERR_INTERNAL);
    cr_assert_eq(apply(OAUTH1, NULL, "tok", &r, &e), MD_ERR_INTERNAL);
    connect_request_free(&r);
}

/* Copies s up to the character end into out; 1 when end was found, else 0. */
static int copy_until(const char *s, char end, char *out, size_t n)
{
    const char *q = strchr(s, end);
    if (!q || (size_t)(q - s) >= n)
        return 0;
    memcpy(out, s, (size_t)(q - s));
    out[q - s] = '\0';
    return 1;
}

/*
 * oauth1 signs the request as built: the header's signature is the HMAC-SHA256 of the base
 * string of this method, URL and form body with the header's own timestamp and nonce.
 */
Test(test_auth, oauth1_signs_the_built_request)
{
    json_t *def = js("{\"method\": \"POST\", \"path\": \"/services/rest/record/v1/{rec}\", "
                     "\"query\": [\"expand\"], \"body\": \"form\"}");
    json_t *args = js("{\"rec\": \"customer\", \"expand\": \"a b\", \"name\": \"Acme & Co\"}");
    struct connect_request r;
    struct md_error e = {0};
    char ts[32] = "", nonce[64] = "", sig[64] = "", want_sig[48], *base;
    const char *h, *p;
    struct connect_oauth1_param ps[6];
    struct buf b;

    cr_assert_eq(connect_request_build("https://123456-sb1.suitetalk.api.netsuite.com", NULL, def,
                                       args, &r, &e),
                 MD_OK, "%s", e.msg);
    apply_ok(OAUTH1,
             "{\"consumer_key\": \"ck\", \"consumer_secret\": \"cs\", \"token\": \"tk\", "
             "\"token_secret\": \"ts\", \"realm\": \"123456_SB1\"}",
             NULL, &r);
    h = r.headers[r.n_headers - 1].value;
    cr_assert_str_eq(r.headers[r.n_headers - 1].name, "Authorization");
    cr_assert(strncmp(h,
                      "OAuth realm=\"123456_SB1\", oauth_consumer_key=\"ck\", "
                      "oauth_token=\"tk\", oauth_signature_method=\"HMAC-SHA256\", "
                      "oauth_timestamp=\"",
                      strlen("OAuth realm=\"123456_SB1\", oauth_consumer_key=\"ck\", "
                             "oauth_token=\"tk\", oauth_signature_method=\"HMAC-SHA256\", "
                             "oauth_timestamp=\"")) == 0,
              "%s", h);
    p = strstr(h, "oauth_timestamp=\"");
    cr_assert_eq(copy_until(p + 17, '"', ts, sizeof ts), 1);
    p = strstr(h, "oauth_nonce=\"");
    cr_assert_eq(copy_until(p + 13, '"', nonce, sizeof nonce), 1);
    p = strstr(h, "oauth_signature=\"");
    cr_assert_eq(copy_until(p + 17, '"', sig, sizeof sig), 1);
    cr_assert_not_null(strstr(h, "oauth_version=\"1.0\""));

    ps[0] = (struct connect_oauth1_param){SLICE_LIT("oauth_consumer_key"), SLICE_LIT("ck")};
    ps[1] = (struct connect_oauth1_param){SLICE_LIT("oauth_token"), SLICE_LIT("tk")};
    ps[2] = (struct connect_oauth1_param){SLICE_LIT("oauth_signature_method"),
                                          SLICE_LIT("HMAC-SHA256")};
    ps[3] = (struct connect_oauth1_param){SLICE_LIT("oauth_timestamp"), slice_from_cstr(ts)};
    ps[4] = (struct connect_oauth1_param){SLICE_LIT("oauth_nonce"), slice_from_cstr(nonce)};
    ps[5] = (struct connect_oauth1_param){SLICE_LIT("oauth_version"), SLICE_LIT("1.0")};
    buf_init(&b, 0);
    cr_assert_eq(connect_oauth1_base_string("POST", r.url, "application/x-www-form-urlencoded",
                                            r.body, r.body_len, ps, 6, &b, &e),
                 MD_OK);
    base = b.p;
    /* The form body's parameters are in it (name=Acme & Co), and the query's. */
    cr_assert_not_null(strstr(base, "name%3DAcme%2520%2526%2520Co"), "%s", base);
    cr_assert_not_null(strstr(base, "expand%3Da%2520b"), "%s", base);
    cr_assert_eq(connect_oauth1_sign("HMAC-SHA256", "cs", "ts", base, b.len, want_sig, &e), MD_OK);
    {
        /* The header carries the signature percent-encoded. */
        char enc[128];
        size_t k = 0;
        for (const char *s = want_sig; *s; s++)
            k += (size_t)snprintf(enc + k, sizeof enc - k,
                                  (*s == '+' || *s == '/' || *s == '=') ? "%%%02X" : "%c",
                                  (unsigned char)*s);
        cr_assert_str_eq(sig, enc);
    }
    buf_free(&b);
    connect_request_free(&r);
    json_decref(def);
    json_decref(args);
}

Test(test_auth, token_url_override_checked)
{
    json_t *ms = js("{\"type\": \"oauth2_client_credentials\", \"client_auth\": \"post\", "
                    "\"token_url\": \"https://login.microsoftonline.com/{credential.tenant_id}/"
                    "oauth2/v2.0/token\", \"scope\": \"https://graph.microsoft.com/.default\"}");
    json_t *google = js("{\"type\": \"oauth2_jwt_bearer\", \"token_url\": "
                        "\"https://oauth2.googleapis.com/token\", \"scope\": \"s\"}");
    json_t *bearer = js("{\"type\": \"bearer\"}");
    static const struct {
        int auth; /* 0 ms, 1 google, 2 bearer */
        const char *url;
        bool allow_http;
        const char *msg_has; /* NULL: accepted */
    } cases[] = {
        /* A national cloud keeps the tenant placeholder; a sandbox or a fake moves the host. */
        {0, "https://login.microsoftonline.us/{credential.tenant_id}/oauth2/v2.0/token", false,
         NULL},
        {0, "https://login.partner.microsoftonline.cn/contoso/oauth2/v2.0/token", false, NULL},
        {1, "https://oauth2.sandbox.example/token?x=1", false, NULL},
        {1, "http://127.0.0.1:8080/token", true, NULL},
        {1, "http://127.0.0.1:8080/token", false, "MANDATE_UPSTREAM_HTTP=1"},
        {1, "/token", false, "must be an https:// URL"},
        {1, "ftp://x/token", false, "must be an https:// URL with a host"},
        {1, "https://", false, "with a host"},
        {1, "https://user:pw@evil.example/token", false, "with a host"},
        {1, "https://x/token#frag", false, "fragment"},
        {1, "https://x/to ken", false, "spaces"},
        {1, "", false, "https:// URL"},
        /* Only the credential fields the connector itself puts in its token URL. */
        {0, "https://login.microsoftonline.us/{credential.client_secret}/token", false,
         "{credential.client_secret} is not in the connector's own auth.token_url"},
        {1, "https://x/{credential.tenant_id}/token", false, "not in the connector's own"},
        {0, "https://{credential.tenant_id}.example/token", false, "not in the scheme or the host"},
        {0, "https://x/{tenant}/token", false, "only make {credential.NAME}"},
        {2, "https://x/token", false,
         "this connector's auth (bearer) has no OAuth 2.0 token endpoint"},
    };
    json_t *auths[] = {ms, google, bearer};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct md_error e = {0};
        enum md_err rc = connect_auth_token_url_check(auths[cases[i].auth], cases[i].url,
                                                      cases[i].allow_http, &e);
        if (!cases[i].msg_has) {
            cr_expect_eq(rc, MD_OK, "case %zu: %s", i, e.msg);
        } else {
            cr_expect_eq(rc, MD_ERR_VALUE, "case %zu", i);
            cr_expect(strstr(e.msg, cases[i].msg_has) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
                      e.msg, cases[i].msg_has);
            cr_expect(strstr(e.msg, "token_url") != NULL, "case %zu names the field: %s", i, e.msg);
        }
    }
    cr_expect_eq(connect_auth_token_url_check(google, NULL, false, NULL), MD_ERR_VALUE);
    json_decref(ms);
    json_decref(google);
    json_decref(bearer);
}

Test(test_auth, token_url_override_used)
{
    json_t *auth = js("{\"type\": \"oauth2_client_credentials\", \"token_url\": "
                      "\"https://login.microsoftonline.com/{credential.tenant_id}/oauth2/v2.0/"
                      "token\"}");
    json_t *secret = js("{\"tenant_id\": \"contoso\", \"client_id\": \"c\", \"client_secret\": "
                        "\"s\"}");
    struct md_error e = {0};
    char *u = NULL;

    /* The override stands for auth.token_url, placeholders filled in the same way. */
    cr_assert_eq(connect_auth_token_url_at(auth,
                                           "https://login.microsoftonline.us/"
                                           "{credential.tenant_id}/oauth2/v2.0/token",
                                           "https://graph.microsoft.us", secret, &u, &e),
                 MD_OK, "%s", e.msg);
    cr_expect_str_eq(u, "https://login.microsoftonline.us/contoso/oauth2/v2.0/token");
    free(u);
    /* Without one, the definition's. */
    cr_assert_eq(connect_auth_token_url_at(auth, NULL, NULL, secret, &u, &e), MD_OK);
    cr_expect_str_eq(u, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token");
    free(u);
    json_decref(auth);
    json_decref(secret);
}
