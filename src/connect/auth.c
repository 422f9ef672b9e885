/*
 * The static auth schemes of the connector runtime (auth.h): validation of a connector's `auth`
 * object and of the secret it needs, and the headers they produce on a built request.
 *
 * Secrets pass through here as plain strings on their way into a header. Every buffer that
 * held one is wiped (OPENSSL_cleanse) before it is freed, and no message ever quotes a value:
 * errors name the field and say what is wrong with it.
 */
#include "connect/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/jwt.h"
#include "connect/oauth1.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"

#define FIELD_MSG_MAX 72 /* a field name quoted in a message */

/* One scheme: its spellings, the auth fields it reads and the secret fields it needs. */
struct scheme {
    const char *name;
    enum connect_auth_type type;
    const char *const *auth_fields;   /* NULL-terminated, "type" included */
    const char *const *secret_fields; /* NULL-terminated; api_key's come from auth.headers */
    const char *const *optional;      /* NULL-terminated secret fields that may be absent */
    bool raw;                         /* secret values are sent as is in a header */
    bool extras;                      /* other string members are allowed (a key file's) */
};

static const char *const f_type[] = {"type", NULL};
static const char *const f_api_key[] = {"type", "headers", NULL};
static const char *const f_oauth[] = {"type",     "token_url",   "scope",
                                      "audience", "client_auth", NULL};
static const char *const s_none[] = {NULL};
static const char *const s_bearer[] = {"token", NULL};
static const char *const s_basic[] = {"username", "password", NULL};
static const char *const s_oauth[] = {"client_id", "client_secret", NULL};
static const char *const f_refresh[] = {"type", "token_url", "scope", "client_auth", NULL};
static const char *const s_refresh[] = {"client_id", "client_secret", "refresh_token", NULL};
static const char *const f_jwt[] = {"type", "token_url", "scope", "subject", NULL};
static const char *const s_jwt[] = {"client_email", "private_key", "private_key_id", NULL};
static const char *const f_oauth1[] = {"type", "signature_method", NULL};
static const char *const s_oauth1[] = {"consumer_key", "consumer_secret", "token",
                                       "token_secret", "realm",           NULL};
static const char *const o_oauth1[] = {"realm", NULL};

static const struct scheme schemes[] = {
    {"none", CONNECT_AUTH_NONE, f_type, s_none, s_none, false, false},
    {"bearer", CONNECT_AUTH_BEARER, f_type, s_bearer, s_none, true, false},
    {"basic", CONNECT_AUTH_BASIC, f_type, s_basic, s_none, false, false},
    {"api_key", CONNECT_AUTH_API_KEY, f_api_key, NULL, s_none, true, false},
    {"oauth2_client_credentials", CONNECT_AUTH_OAUTH2_CC, f_oauth, s_oauth, s_none, false, false},
    {"oauth2_refresh_token", CONNECT_AUTH_OAUTH2_REFRESH, f_refresh, s_refresh, s_none, false,
     false},
    {"oauth2_jwt_bearer", CONNECT_AUTH_OAUTH2_JWT, f_jwt, s_jwt, s_none, false, true},
    {"oauth1", CONNECT_AUTH_OAUTH1, f_oauth1, s_oauth1, o_oauth1, false, false},
};

/*
 * The fields whose values are identifiers, not secrets: an upstream rightly shows them, so they
 * are not masked out of its answers. A service account key file's other members are not
 * secret either (its project id, its URLs); its private key and key id are.
 */
static const char *const identifiers[] = {"username", "client_id", "client_email", "realm", NULL};

#define NSCHEMES (sizeof schemes / sizeof schemes[0])

bool connect_auth_is_oauth2(enum connect_auth_type t)
{
    return t == CONNECT_AUTH_OAUTH2_CC || t == CONNECT_AUTH_OAUTH2_REFRESH ||
           t == CONNECT_AUTH_OAUTH2_JWT;
}

const char *connect_auth_type_name(enum connect_auth_type t)
{
    for (size_t i = 0; i < NSCHEMES; i++) {
        if (schemes[i].type == t)
            return schemes[i].name;
    }
    return "unknown";
}

/* ---- characters ---- */

/* RFC 9110 section 5.6.2: tchar, the characters of a header name. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
static bool is_scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/* A field name as a message may show it: quoted and escaped when it is not plain. */
static const char *field_text(const char *name, char out[FIELD_MSG_MAX])
{
    return log_quote(name, out, FIELD_MSG_MAX);
}

/* Headers that the runtime or the transport set, or that carry other credentials. */
static bool header_reserved(const char *name)
{
    static const char *const owned[] = {
        "Host",       "Content-Type", "Content-Length",     "Transfer-Encoding",
        "Connection", "Cookie",       "Proxy-Authorization"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        if (cstr_ieq(name, owned[i]))
            return true;
    }
    return false;
}

/* ---- the auth object ---- */

static const struct scheme *scheme_find(const char *name)
{
    for (size_t i = 0; name && i < NSCHEMES; i++) {
        if (strcmp(schemes[i].name, name) == 0)
            return &schemes[i];
    }
    return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++) {
        if (strcmp(*list, s) == 0)
            return true;
    }
    return false;
}

static enum md_err headers_check(const json_t *hdrs, struct md_error *e)
{
    size_t i;
    json_t *h;

    if (!json_is_array(hdrs) || json_array_size(hdrs) == 0 ||
        json_array_size(hdrs) > CONNECT_AUTH_HEADERS_MAX)
        return md_error_set(e, MD_ERR_VALUE,
                            "auth.headers must be an array of 1 to %d header names",
                            CONNECT_AUTH_HEADERS_MAX);
    json_array_foreach(hdrs, i, h)
    {
        const char *name = json_string_value(h);
        size_t n = name ? json_string_length(h) : 0;
        bool ok = n > 0 && n <= CONNECT_AUTH_HEADER_NAME_MAX && strlen(name) == n;

        for (size_t k = 0; ok && k < n; k++)
            ok = is_tchar((unsigned char)name[k]);
        if (!ok)
            return md_error_set(e, MD_ERR_VALUE,
                                "auth.headers[%zu] must be an HTTP header name (an RFC 9110 "
                                "token of 1 to %d characters)",
                                i, CONNECT_AUTH_HEADER_NAME_MAX);
        if (header_reserved(name))
            return md_error_set(e, MD_ERR_VALUE,
                                "auth.headers[%zu]: %.60s is set by the runtime and cannot carry "
                                "a credential",
                                i, name);
        for (size_t k = 0; k < i; k++) {
            if (cstr_ieq(json_string_value(json_array_get(hdrs, k)), name))
                return md_error_set(e, MD_ERR_VALUE, "auth.headers[%zu]: %.60s is listed twice", i,
                                    name);
        }
    }
    return MD_OK;
}

#define CRED_PREFIX "{credential."
#define CRED_NAME_MAX 64

static bool is_name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * The length of the placeholder {credential.NAME} at u (NAME: 1 to CRED_NAME_MAX characters of
 * [A-Za-z0-9_]), its name in name (CRED_NAME_MAX + 1 bytes); 0 when u holds none there.
 */
static size_t cred_placeholder(const char *u, char *name)
{
    size_t p = sizeof CRED_PREFIX - 1, j = p;

    if (strncmp(u, CRED_PREFIX, p) != 0)
        return 0;
    while (is_name_char((unsigned char)u[j]))
        j++;
    if (u[j] != '}' || j == p || j - p > CRED_NAME_MAX)
        return 0;
    memcpy(name, u + p, j - p);
    name[j - p] = '\0';
    return j + 1;
}

/*
 * token_url: an absolute https URL or a path on the connector's base URL. A path must not start
 * with "//" (a network-path reference, RFC 3986 section 4.2, would name another host), and
 * the client secret is never sent over plain http. {credential.NAME} may stand in the path or
 * the query, never in the scheme or the host, so that a credential's value cannot choose where
 * the client secret goes; any other '{' or '}' is refused.
 *
 * what names the value in messages. A deployment's override (connect_auth_token_url_check)
 * must be absolute, and may be http:// when the server allows plain-http upstreams; names, when
 * not NULL, receives each placeholder's NAME.
 */
static enum md_err url_syntax(const char *u, size_t n, const char *what, bool absolute,
                              bool allow_http, json_t *names, struct md_error *e)
{
    size_t host_end;
    char name[CRED_NAME_MAX + 1];

    if (!u || n == 0 || n > CONNECT_AUTH_URL_MAX || strlen(u) != n)
        return md_error_set(e, MD_ERR_VALUE,
                            absolute ? "%s must be an https:// URL of at most %d bytes"
                                     : "%s is required: an https:// URL or a path starting "
                                       "with / of at most %d bytes",
                            what, CONNECT_AUTH_URL_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\')
            return md_error_set(e, MD_ERR_VALUE,
                                "%s must not hold spaces, control characters, "
                                "backslashes or non-ASCII bytes",
                                what);
    }
    if (strchr(u, '#'))
        return md_error_set(e, MD_ERR_VALUE, "%s must not have a fragment (RFC 6749 section 3.2)",
                            what);
    if (u[0] == '/' && !absolute) {
        if (u[1] == '/')
            return md_error_set(e, MD_ERR_VALUE, "%s: a path must start with a single /", what);
        host_end = 0;
    } else if (strncmp(u, "http://", 7) == 0 && !allow_http) {
        return md_error_set(e, MD_ERR_VALUE,
                            absolute ? "%s must use https: the client secret is sent to it "
                                       "(http:// only when the server runs with "
                                       "MANDATE_UPSTREAM_HTTP=1)"
                                     : "%s must use https: the client secret is sent to it",
                            what);
    } else {
        size_t k = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;
        if (k == 0 || !u[k] || strchr("/?@:", u[k]) || memchr(u + k, '@', strcspn(u + k, "/?")))
            return md_error_set(e, MD_ERR_VALUE,
                                absolute ? "%s must be an https:// URL with a host"
                                         : "%s must be an https:// URL with a host, or a path "
                                           "starting with /",
                                what);
        host_end = k + strcspn(u + k, "/?");
    }
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (u[i] != '{' && u[i] != '}')
            continue;
        k = u[i] == '{' ? cred_placeholder(u + i, name) : 0;
        if (k == 0)
            return md_error_set(e, MD_ERR_VALUE,
                                "%s: '{' and '}' only make {credential.NAME} (NAME: 1 "
                                "to %d characters of [A-Za-z0-9_])",
                                what, CRED_NAME_MAX);
        if (i < host_end)
            return md_error_set(e, MD_ERR_VALUE,
                                "%s: {credential.%s} may stand in the path or the "
                                "query, not in the scheme or the host",
                                what, name);
        if (names && json_object_set_new(names, name, json_null()))
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        i += k - 1;
    }
    return MD_OK;
}

static enum md_err token_url_check(const json_t *v, struct md_error *e)
{
    return url_syntax(json_string_value(v), json_is_string(v) ? json_string_length(v) : 0,
                      "auth.token_url", false, false, NULL, e);
}

/* RFC 6749 section 3.3: scope = scope-token *( SP scope-token ). */
static enum md_err scope_check(const json_t *v, struct md_error *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    bool ok =
        n > 0 && n <= CONNECT_AUTH_VALUE_MAX && strlen(s) == n && s[0] != ' ' && s[n - 1] != ' ';

    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ok = is_scope_char(c) || (c == ' ' && s[i + 1] != ' ');
    }
    if (!ok)
        return md_error_set(e, MD_ERR_VALUE,
                            "auth.scope must be scope tokens separated by single spaces "
                            "(RFC 6749 section 3.3)");
    return MD_OK;
}

static enum md_err oauth_check(const json_t *auth, enum connect_auth_type type, struct md_error *e)
{
    const json_t *v;
    enum md_err err = token_url_check(json_object_get(auth, "token_url"), e);

    if (err)
        return err;
    v = json_object_get(auth, "scope");
    if (!v && type == CONNECT_AUTH_OAUTH2_JWT)
        return md_error_set(e, MD_ERR_VALUE,
                            "auth.scope is required by oauth2_jwt_bearer: the token endpoint "
                            "issues no token without one");
    if (v && (err = scope_check(v, e)))
        return err;
    v = json_object_get(auth, "subject");
    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "caller") == 0))
        return md_error_set(e, MD_ERR_VALUE,
                            "auth.subject must be \"caller\" (the calling employee's userName "
                            "becomes the JWT's sub) or absent");
    v = json_object_get(auth, "audience");
    if (v && (!json_is_string(v) || json_string_length(v) == 0 ||
              json_string_length(v) > CONNECT_AUTH_VALUE_MAX ||
              has_control(json_string_value(v), json_string_length(v))))
        return md_error_set(e, MD_ERR_VALUE,
                            "auth.audience must be a non-empty string without control "
                            "characters");
    v = json_object_get(auth, "client_auth");
    if (v && !(json_is_string(v) && (strcmp(json_string_value(v), "basic") == 0 ||
                                     strcmp(json_string_value(v), "post") == 0)))
        return md_error_set(e, MD_ERR_VALUE, "auth.client_auth must be \"basic\" or \"post\"");
    return MD_OK;
}

/* The OAuth 1.0 signature method: HMAC-SHA256 when absent. */
static const char *oauth1_method(const json_t *auth)
{
    const char *m = json_string_value(json_object_get(auth, "signature_method"));
    return m ? m : "HMAC-SHA256";
}

static enum md_err oauth1_check(const json_t *auth, struct md_error *e)
{
    const json_t *v = json_object_get(auth, "signature_method");
    const char *m = json_string_value(v);

    if (v && !(m && (strcmp(m, "HMAC-SHA256") == 0 || strcmp(m, "HMAC-SHA1") == 0)))
        return md_error_set(e, MD_ERR_VALUE,
                            "auth.signature_method must be \"HMAC-SHA256\" or \"HMAC-SHA1\"");
    return MD_OK;
}

/* Validates auth and finds its scheme (none for NULL or null). */
static enum md_err auth_parse(const json_t *auth, const struct scheme **out, struct md_error *e)
{
    const struct scheme *sc;
    const char *key;
    json_t *v;
    char qk[FIELD_MSG_MAX];

    *out = &schemes[0];
    if (!auth || json_is_null(auth))
        return MD_OK;
    if (!json_is_object(auth))
        return md_error_set(e, MD_ERR_VALUE, "auth must be an object");
    sc = scheme_find(json_string_value(json_object_get(auth, "type")));
    if (!sc)
        return md_error_set(e, MD_ERR_VALUE,
                            "auth.type must be \"none\", \"bearer\", \"basic\", \"api_key\", "
                            "\"oauth2_client_credentials\", \"oauth2_refresh_token\", "
                            "\"oauth2_jwt_bearer\" or \"oauth1\"");
    /* A setting that this code would not apply is an error, not something silently skipped. */
    json_object_foreach(json_mut(auth), key, v)
    {
        if (!in_list(sc->auth_fields, key))
            return md_error_set(e, MD_ERR_VALUE, "auth.%s is not a field of auth type %s",
                                field_text(key, qk), sc->name);
    }
    if (sc->type == CONNECT_AUTH_API_KEY) {
        enum md_err err = headers_check(json_object_get(auth, "headers"), e);
        if (err)
            return err;
    } else if (connect_auth_is_oauth2(sc->type)) {
        enum md_err err = oauth_check(auth, sc->type, e);
        if (err)
            return err;
    } else if (sc->type == CONNECT_AUTH_OAUTH1) {
        enum md_err err = oauth1_check(auth, e);
        if (err)
            return err;
    }
    *out = sc;
    return MD_OK;
}

enum md_err connect_auth_validate(const json_t *auth, enum connect_auth_type *type,
                                  struct md_error *e)
{
    const struct scheme *sc;
    enum md_err err = auth_parse(auth, &sc, e);

    if (!err && type)
        *type = sc->type;
    return err;
}

/* ---- the secret ---- */

/*
 * Checks one secret value; raw says that it is sent as is in a header, where leading or
 * trailing spaces would be stripped by the server (RFC 9110 section 5.5).
 */
static enum md_err value_check(const json_t *v, const char *field, bool raw, struct md_error *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    char qf[FIELD_MSG_MAX];

    if (!s)
        return md_error_set(e, MD_ERR_VALUE, "secret field %s must be a string",
                            field_text(field, qf));
    if (n == 0)
        return md_error_set(e, MD_ERR_VALUE, "secret field %s must not be empty",
                            field_text(field, qf));
    if (n > CONNECT_AUTH_VALUE_MAX)
        return md_error_set(e, MD_ERR_VALUE, "secret field %s is longer than %d bytes",
                            field_text(field, qf), CONNECT_AUTH_VALUE_MAX);
    if (strlen(s) != n || has_control(s, n))
        return md_error_set(e, MD_ERR_VALUE,
                            "secret field %s must not hold control characters (CR, LF, NUL, "
                            "TAB, ...)",
                            field_text(field, qf));
    if (raw && (s[0] == ' ' || s[n - 1] == ' '))
        return md_error_set(e, MD_ERR_VALUE, "secret field %s must not start or end with a space",
                            field_text(field, qf));
    return MD_OK;
}

/* The secret fields of a scheme: its static list, or the api_key header names (at most 8). */
static size_t fields_of(const struct scheme *sc, const json_t *auth,
                        const char *out[CONNECT_AUTH_HEADERS_MAX])
{
    size_t n = 0;

    if (sc->type == CONNECT_AUTH_API_KEY) {
        const json_t *hdrs = json_object_get(auth, "headers");
        for (size_t i = 0; i < json_array_size(hdrs) && i < CONNECT_AUTH_HEADERS_MAX; i++)
            out[n++] = json_string_value(json_array_get(hdrs, i));
        return n;
    }
    for (const char *const *f = sc->secret_fields; *f; f++)
        out[n++] = *f;
    return n;
}

/* The length of base64 text for n bytes, with padding (RFC 4648 section 4). */
static size_t b64_len(size_t n)
{
    return 4 * ((n + 2) / 3);
}

/* A service account's private key: PEM text (line breaks allowed) that OpenSSL can sign with. */
static enum md_err pem_check(const json_t *v, struct md_error *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    struct md_error ke = {0};

    if (!s || n == 0)
        return md_error_set(e, MD_ERR_VALUE, "secret field private_key must be a non-empty string");
    if (n > CONNECT_JWT_KEY_MAX || strlen(s) != n)
        return md_error_set(e, MD_ERR_VALUE,
                            "secret field private_key must be PEM text of at most %d bytes",
                            CONNECT_JWT_KEY_MAX);
    if (connect_jwt_key_check(s, n, &ke) != MD_OK)
        return md_error_set(e, MD_ERR_VALUE, "secret field private_key: %s", ke.msg);
    return MD_OK;
}

/*
 * Checks secret against the scheme. extra (an object used as a set, or NULL) names the fields
 * that the connector's credential placeholders need besides the scheme's. lenient (applying a
 * secret from the database) lets fields pass that neither names: they were checked when set.
 */
static enum md_err secret_check(const struct scheme *sc, const json_t *auth, const json_t *secret,
                                const json_t *extra, bool lenient, struct md_error *e)
{
    const char *fields[CONNECT_AUTH_HEADERS_MAX];
    size_t nf = fields_of(sc, auth, fields);
    const char *key;
    json_t *v;
    char qk[FIELD_MSG_MAX];
    enum md_err err;

    if (sc->type == CONNECT_AUTH_NONE && json_object_size(extra) == 0 &&
        (!secret || json_is_null(secret)))
        return MD_OK;
    if (!json_is_object(secret))
        return md_error_set(e, MD_ERR_VALUE, "the secret must be a JSON object");
    json_object_foreach(json_mut(secret), key, v)
    {
        bool known = json_object_get(extra, key) != NULL;
        for (size_t i = 0; i < nf && !known; i++)
            known = strcmp(fields[i], key) == 0;
        if (!known && sc->extras) {
            /* A key file's other members: kept as they are, never sent. */
            if (!json_is_string(v))
                return md_error_set(e, MD_ERR_VALUE, "secret field %s must be a string",
                                    field_text(key, qk));
            continue;
        }
        if (!known && !lenient)
            return md_error_set(e, MD_ERR_VALUE, "secret field %s is not used by auth type %s",
                                field_text(key, qk), sc->name);
    }
    for (size_t i = 0; i < nf; i++) {
        v = json_object_get(secret, fields[i]);
        if (!v) {
            if (in_list(sc->optional, fields[i]))
                continue;
            return md_error_set(e, MD_ERR_VALUE, "secret field %s is required by auth type %s",
                                field_text(fields[i], qk), sc->name);
        }
        if (sc->type == CONNECT_AUTH_OAUTH2_JWT && strcmp(fields[i], "private_key") == 0)
            err = pem_check(v, e);
        else
            err = value_check(v, fields[i], sc->raw, e);
        if (err)
            return err;
    }
    json_object_foreach(json_mut(extra), key, v)
    {
        const json_t *val = json_object_get(secret, key);
        if (!val)
            return md_error_set(e, MD_ERR_VALUE,
                                "secret field %s is required: the connector uses it as "
                                "{credential.%s}",
                                field_text(key, qk), key);
        err = value_check(val, key, false, e);
        if (err)
            return err;
    }
    if (sc->type == CONNECT_AUTH_BASIC) {
        const json_t *u = json_object_get(secret, "username");
        const json_t *p = json_object_get(secret, "password");
        size_t line = strlen("Authorization") + strlen("Basic ") +
                      b64_len(json_string_length(u) + 1 + json_string_length(p));

        /* RFC 7617 section 2: the user-id cannot hold a colon; the server splits at the first. */
        if (strchr(json_string_value(u), ':'))
            return md_error_set(e, MD_ERR_VALUE,
                                "secret field username must not hold ':' "
                                "(RFC 7617 section 2)");
        if (line > CONNECT_HEADER_LINE_MAX)
            return md_error_set(e, MD_ERR_VALUE,
                                "secret fields username and password are too long together for "
                                "one header of %d bytes",
                                CONNECT_HEADER_LINE_MAX);
    }
    return MD_OK;
}

enum md_err connect_auth_secret_validate(const json_t *auth, const json_t *secret,
                                         struct md_error *e)
{
    const struct scheme *sc;
    enum md_err err = auth_parse(auth, &sc, e);

    if (err)
        return err;
    return secret_check(sc, auth, secret, NULL, false, e);
}

enum md_err connect_auth_credential_fields(const json_t *auth, json_t *names, struct md_error *e)
{
    const struct scheme *sc;
    const char *u;
    char name[CRED_NAME_MAX + 1];
    enum md_err err = auth_parse(auth, &sc, e);

    if (err)
        return err;
    u = json_string_value(json_object_get(auth, "token_url"));
    for (; u && *u; u++) {
        size_t k = *u == '{' ? cred_placeholder(u, name) : 0;
        if (k == 0)
            continue;
        if (json_object_set_new(names, name, json_null()))
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        u += k - 1;
    }
    return MD_OK;
}

enum md_err connect_auth_secret_validate_connector(const json_t *connector, const json_t *secret,
                                                   struct md_error *e)
{
    const json_t *auth = json_object_get(connector, "auth");
    const json_t *tools = json_object_get(connector, "tools");
    const struct scheme *sc;
    json_t *names = json_object(), *t;
    size_t i;
    enum md_err err;

    if (!names)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err = auth_parse(auth, &sc, e);
    if (!err)
        err = connect_auth_credential_fields(auth, names, e);
    json_array_foreach(tools, i, t)
    {
        struct md_error te = {0};
        if (err)
            break;
        /* A tool whose request does not build says so at its call; here only its names count. */
        if (connect_request_credential_fields(json_object_get(t, "request"), names, &te) ==
            MD_ERR_NOMEM)
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    if (!err)
        err = secret_check(sc, auth, secret, names, false, e);
    json_decref(names);
    return err;
}

bool connect_auth_field_is_secret(const json_t *auth, const char *field)
{
    const struct scheme *sc;

    if (!field || auth_parse(auth, &sc, NULL) != MD_OK)
        return true;
    if (in_list(identifiers, field))
        return false;
    if (sc->extras && !in_list(sc->secret_fields, field))
        return false;
    return true;
}

enum md_err connect_auth_token_url_check(const json_t *auth, const char *url, bool allow_http,
                                         struct md_error *e)
{
    const struct scheme *sc;
    json_t *defined = NULL, *used = NULL;
    const char *name;
    json_t *v;
    enum md_err err = auth_parse(auth, &sc, NULL);

    if (err || !connect_auth_is_oauth2(sc->type))
        return md_error_set(e, MD_ERR_VALUE,
                            "\"token_url\": this connector's auth (%s) has no OAuth 2.0 token "
                            "endpoint to point elsewhere",
                            err ? "invalid" : sc->name);
    defined = json_object();
    used = json_object();
    if (!defined || !used) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = connect_auth_credential_fields(auth, defined, e);
    if (!err)
        err = url_syntax(url, url ? strlen(url) : 0, "\"token_url\"", true, allow_http, used, e);
    if (err)
        goto out;
    /*
     * An override may move the endpoint, not widen what goes into its URL: a credential field
     * there (a secret in a URL that servers and proxies log) only where the connector puts one.
     */
    json_object_foreach(used, name, v)
    {
        if (!json_object_get(defined, name)) {
            err = md_error_set(e, MD_ERR_VALUE,
                               "\"token_url\": {credential.%.64s} is not in the connector's own "
                               "auth.token_url, so it may not be in an override either",
                               name);
            goto out;
        }
    }
out:
    json_decref(defined);
    json_decref(used);
    return err;
}

enum md_err connect_auth_token_url(const json_t *auth, const char *base_url, const json_t *secret,
                                   char **out, struct md_error *e)
{
    return connect_auth_token_url_at(auth, NULL, base_url, secret, out, e);
}

enum md_err connect_auth_token_url_at(const json_t *auth, const char *override,
                                      const char *base_url, const json_t *secret, char **out,
                                      struct md_error *e)
{
    const char *u = override ? override : json_string_value(json_object_get(auth, "token_url"));
    static const char hex[] = "0123456789ABCDEF";
    char name[CRED_NAME_MAX + 1];
    struct buf b;
    enum md_err err = MD_OK;

    *out = NULL;
    if (!u)
        return md_error_set(e, MD_ERR_VALUE, "the connector's auth has no token_url");
    buf_init(&b, CONNECT_URL_MAX);
    if (u[0] == '/')
        buf_append_cstr(&b, base_url ? base_url : "");
    for (; *u && !err; u++) {
        size_t k = *u == '{' ? cred_placeholder(u, name) : 0;
        const json_t *v;
        const char *val;
        size_t n;

        if (k == 0) {
            buf_append_char(&b, *u);
            continue;
        }
        v = json_object_get(secret, name);
        val = json_string_value(v);
        n = val ? json_string_length(v) : 0;
        /* A value of dots would climb out of the endpoint's path (RFC 3986 section 5.2.4). */
        if (n == 0 || (n == 1 && val[0] == '.') || (n == 2 && val[0] == '.' && val[1] == '.')) {
            err = md_error_set(e, MD_ERR_VALUE,
                               "the credential has no usable field %s for the token URL's "
                               "{credential.%s}",
                               name, name);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)val[i];
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~') {
                buf_append_char(&b, (char)c);
            } else {
                char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
                buf_append(&b, esc, sizeof esc);
            }
        }
        u += k - 1;
    }
    if (!err && b.err)
        err = md_error_set(
            e, b.err, b.err == MD_ERR_TOOLARGE ? "the token URL is too long" : "out of memory");
    if (!err) {
        *out = buf_steal(&b);
        if (!*out)
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    if (b.p)
        OPENSSL_cleanse(b.p, b.cap);
    buf_free(&b);
    return err;
}

/* ---- headers ---- */

/* A credential header about to be added: name borrowed from a static or the auth object. */
struct cred {
    const char *name;
    char *value; /* heap, a secret: wiped before it is freed */
};

static void wipe_free(char *p)
{
    if (p) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

/* prefix + a + sep + b as one heap string, or NULL. b and sep may be NULL. */
static char *join(const char *prefix, const char *a, const char *sep, const char *b)
{
    size_t lp = strlen(prefix), la = strlen(a), ls = sep ? strlen(sep) : 0;
    size_t lb = b ? strlen(b) : 0;
    char *s = malloc(lp + la + ls + lb + 1);

    if (!s)
        return NULL;
    memcpy(s, prefix, lp);
    memcpy(s + lp, a, la);
    if (ls)
        memcpy(s + lp + la, sep, ls);
    if (lb)
        memcpy(s + lp + la + ls, b, lb);
    s[lp + la + ls + lb] = '\0';
    return s;
}

/* "Basic " + base64(user ":" pass), RFC 7617 section 2. */
static char *basic_value(const char *user, const char *pass)
{
    char *pair = join("", user, ":", pass);
    size_t n, enc;
    char *out = NULL;

    if (!pair)
        return NULL;
    n = strlen(pair);
    enc = b64_len(n);
    out = malloc(6 + enc + 1);
    if (out) {
        memcpy(out, "Basic ", 6);
        /* EVP_EncodeBlock writes padded standard base64 without newlines, and a NUL. */
        EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)pair, (int)n);
    }
    OPENSSL_cleanse(pair, n);
    free(pair);
    return out;
}

/* The access token of oauth2_client_credentials: it goes raw after "Bearer ". */
static enum md_err token_check(const char *tok, struct md_error *e)
{
    size_t n = strlen(tok);

    if (n == 0 || n > CONNECT_HEADER_LINE_MAX - strlen("AuthorizationBearer ") ||
        has_control(tok, n) || tok[0] == ' ' || tok[n - 1] == ' ')
        return md_error_set(e, MD_ERR_VALUE,
                            "the OAuth access token is empty, too long or holds control "
                            "characters or surrounding spaces");
    return MD_OK;
}

/* Fills creds with the scheme's headers; *n their number. Values are heap secrets. */
/* The value of a request's header name (the first one), or NULL. */
static const char *header_value(const struct connect_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (cstr_ieq(req->headers[i].name, name))
            return req->headers[i].value;
    }
    return NULL;
}

/* The OAuth 1.0 Authorization header of req, signed now with a fresh nonce. */
static enum md_err oauth1_value(const json_t *auth, const json_t *secret,
                                const struct connect_request *req, char **out, struct md_error *e)
{
    struct connect_oauth1 p;
    char nonce[CONNECT_OAUTH1_NONCE_LEN + 1], ts[24];

    *out = NULL;
    if (!req->method || !req->url)
        return md_error_set(e, MD_ERR_INTERNAL, "OAuth 1.0 signs a built request");
    if (connect_oauth1_nonce(nonce) != MD_OK)
        return md_error_set(e, MD_ERR_INTERNAL, "no random nonce for OAuth 1.0");
    snprintf(ts, sizeof ts, "%lld", (long long)(time_now_ms() / 1000));
    p.consumer_key = json_string_value(json_object_get(secret, "consumer_key"));
    p.consumer_secret = json_string_value(json_object_get(secret, "consumer_secret"));
    p.token = json_string_value(json_object_get(secret, "token"));
    p.token_secret = json_string_value(json_object_get(secret, "token_secret"));
    p.realm = json_string_value(json_object_get(secret, "realm"));
    p.signature_method = oauth1_method(auth);
    p.timestamp = ts;
    p.nonce = nonce;
    return connect_oauth1_authorization(req->method, req->url, header_value(req, "Content-Type"),
                                        req->body, req->body_len, &p, out, e);
}

static enum md_err creds_build(const struct scheme *sc, const json_t *auth, const json_t *secret,
                               const char *bearer_token, const struct connect_request *req,
                               struct cred *creds, size_t *n, struct md_error *e)
{
    const char *fields[CONNECT_AUTH_HEADERS_MAX];
    size_t nf;

    *n = 0;
    switch (sc->type) {
    case CONNECT_AUTH_NONE:
        return MD_OK;
    case CONNECT_AUTH_BEARER:
        creds[0].name = "Authorization";
        creds[0].value =
            join("Bearer ", json_string_value(json_object_get(secret, "token")), NULL, NULL);
        *n = 1;
        break;
    case CONNECT_AUTH_BASIC:
        creds[0].name = "Authorization";
        creds[0].value = basic_value(json_string_value(json_object_get(secret, "username")),
                                     json_string_value(json_object_get(secret, "password")));
        *n = 1;
        break;
    case CONNECT_AUTH_API_KEY:
        nf = fields_of(sc, auth, fields);
        for (size_t i = 0; i < nf; i++) {
            creds[i].name = fields[i];
            creds[i].value =
                join("", json_string_value(json_object_get(secret, fields[i])), NULL, NULL);
            *n = i + 1;
            if (!creds[i].value)
                break;
        }
        break;
    case CONNECT_AUTH_OAUTH2_CC:
    case CONNECT_AUTH_OAUTH2_REFRESH:
    case CONNECT_AUTH_OAUTH2_JWT:
        creds[0].name = "Authorization";
        creds[0].value = join("Bearer ", bearer_token, NULL, NULL);
        *n = 1;
        break;
    case CONNECT_AUTH_OAUTH1: {
        enum md_err err = oauth1_value(auth, secret, req, &creds[0].value, e);
        creds[0].name = "Authorization";
        *n = 1;
        if (err)
            return err;
        break;
    }
    }
    for (size_t i = 0; i < *n; i++) {
        if (!creds[i].value)
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    return MD_OK;
}

/* Removes header i of req, freeing its strings. */
static void header_remove(struct connect_request *req, size_t i)
{
    free(req->headers[i].name);
    free(req->headers[i].value);
    memmove(&req->headers[i], &req->headers[i + 1],
            (req->n_headers - i - 1) * sizeof req->headers[0]);
    req->n_headers--;
}

/*
 * Puts the credential headers into req: each replaces the first header of the same name (and
 * any later ones go), or is appended. Everything that can fail (the name copies, the larger
 * array) happens before req changes; the values move from creds into req.
 */
static enum md_err creds_merge(struct connect_request *req, struct cred *creds, size_t n,
                               struct md_error *e)
{
    char *names[CONNECT_AUTH_HEADERS_MAX] = {0};
    struct connect_header *h;
    enum md_err err = MD_OK;

    if (n == 0)
        return MD_OK;
    for (size_t i = 0; i < n; i++) {
        names[i] = strdup(creds[i].name);
        if (!names[i]) {
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    h = realloc(req->headers, (req->n_headers + n) * sizeof *h);
    if (!h) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    req->headers = h;
    for (size_t i = 0; i < n; i++) {
        size_t at = req->n_headers;

        for (size_t j = 0; j < req->n_headers; j++) {
            if (!cstr_ieq(req->headers[j].name, names[i]))
                continue;
            if (at == req->n_headers) {
                at = j;
            } else {
                header_remove(req, j);
                j--;
            }
        }
        if (at == req->n_headers) {
            req->n_headers++;
        } else {
            free(req->headers[at].name);
            free(req->headers[at].value);
        }
        req->headers[at].name = names[i];
        req->headers[at].value = creds[i].value;
        names[i] = NULL;
        creds[i].value = NULL;
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return err;
}

enum md_err connect_auth_apply(const json_t *auth, const json_t *secret, const char *bearer_token,
                               struct connect_request *req, struct md_error *e)
{
    const struct scheme *sc;
    struct cred creds[CONNECT_AUTH_HEADERS_MAX] = {{0}};
    size_t n = 0;
    enum md_err err = auth_parse(auth, &sc, e);

    if (err)
        goto out;
    if (connect_auth_is_oauth2(sc->type)) {
        if (!bearer_token) {
            err = md_error_set(e, MD_ERR_INTERNAL, "%s needs an access token to apply", sc->name);
            goto out;
        }
        err = token_check(bearer_token, e);
    } else if (bearer_token) {
        err = md_error_set(e, MD_ERR_INTERNAL, "auth type %s takes no access token", sc->name);
    } else if (sc->type != CONNECT_AUTH_NONE) {
        /* A secret left behind when a connector's scheme became "none" is simply not used. */
        err = secret_check(sc, auth, secret, NULL, true, e);
    }
    if (err)
        goto out;
    err = creds_build(sc, auth, secret, bearer_token, req, creds, &n, e);
    if (!err)
        err = creds_merge(req, creds, n, e);
out:
    for (size_t i = 0; i < n; i++)
        wipe_free(creds[i].value);
    return err;
}
