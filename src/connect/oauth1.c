/*
 * OAuth 1.0 request signing (the contract and the RFC 5849 rules are in oauth1.h).
 *
 * The signature covers the query and a form body as the server will decode them, so they are
 * decoded here the same way and encoded again in the one canonical form the RFC defines; an
 * encoding difference between what is sent and what is signed would only ever produce a
 * signature the server refuses.
 */
#include "connect/oauth1.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect/connect.h"
#include "core/crypto.h"

/* Bytes of a base string: the URL and a 1 MiB form body, encoded twice, fit. */
#define BASE_MAX (8 * CONNECT_BODY_MAX)
/* Bytes of the Authorization header's value. */
#define HEADER_MAX CONNECT_HEADER_LINE_MAX

/* One normalized parameter: its name and value, each already encoded (section 3.6). */
struct param {
    char *name;
    size_t nlen;
    char *value;
    size_t vlen;
};

struct params {
    struct param *v;
    size_t n, cap;
    bool oom;
};

/* ---- encoding ---- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 5849 section 3.6: every byte but the unreserved ones as %XX, upper-case hex. */
static void enc(struct buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_unreserved(c)) {
            buf_append_char(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, sizeof esc);
        }
    }
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes an application/x-www-form-urlencoded component (HTML 4.01 section 17.13.4, which
 * RFC 5849 section 3.4.1.3.1 names): '+' is a space and %XX a byte. A '%' that does not start
 * a valid escape stays as it is, as browsers and most servers keep it.
 */
static void form_decode(struct buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '+') {
            buf_append_char(b, ' ');
        } else if (p[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)p[i + 1])) >= 0 &&
                   (lo = hexval((unsigned char)p[i + 2])) >= 0) {
            buf_append_char(b, (char)(hi << 4 | lo));
            i += 2;
        } else {
            buf_append_char(b, p[i]);
        }
    }
}

/* ---- parameters ---- */

static void params_free(struct params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        OPENSSL_cleanse(ps->v[i].name, ps->v[i].nlen);
        OPENSSL_cleanse(ps->v[i].value, ps->v[i].vlen);
        free(ps->v[i].name);
        free(ps->v[i].value);
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

/* Encodes name and value (raw bytes) and adds them. */
static void params_add(struct params *ps, struct slice name, struct slice value)
{
    struct buf bn, bv;
    struct param *p;

    if (ps->oom)
        return;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        struct param *v = realloc(ps->v, cap * sizeof *v);
        if (!v) {
            ps->oom = true;
            return;
        }
        ps->v = v;
        ps->cap = cap;
    }
    buf_init(&bn, BASE_MAX);
    buf_init(&bv, BASE_MAX);
    enc(&bn, name.p, name.len);
    enc(&bv, value.p, value.len);
    if (bn.err || bv.err) {
        buf_free(&bn);
        buf_free(&bv);
        ps->oom = true;
        return;
    }
    p = &ps->v[ps->n++];
    p->nlen = bn.len;
    p->vlen = bv.len;
    p->name = buf_steal(&bn);
    p->value = buf_steal(&bv);
    if (!p->name || !p->value)
        ps->oom = true;
}

/*
 * Adds each name=value pair of a form-encoded string (a query or a body), decoded. An empty
 * pair ("a=1&&b=2") is no parameter; a pair without '=' is a name with an empty value.
 */
static void params_add_form(struct params *ps, const char *s, size_t n)
{
    struct buf name, value;
    size_t i = 0;

    buf_init(&name, BASE_MAX);
    buf_init(&value, BASE_MAX);
    while (i < n && !ps->oom) {
        const char *pair = s + i, *amp = memchr(pair, '&', n - i), *eq;
        size_t len = amp ? (size_t)(amp - pair) : n - i;

        i += len + 1;
        if (len == 0)
            continue;
        eq = memchr(pair, '=', len);
        buf_reset(&name);
        buf_reset(&value);
        form_decode(&name, pair, eq ? (size_t)(eq - pair) : len);
        if (eq)
            form_decode(&value, eq + 1, len - (size_t)(eq - pair) - 1);
        if (name.err || value.err)
            ps->oom = true;
        else
            params_add(ps, (struct slice){name.p ? name.p : "", name.len},
                       (struct slice){value.p ? value.p : "", value.len});
    }
    if (name.p)
        OPENSSL_cleanse(name.p, name.cap);
    if (value.p)
        OPENSSL_cleanse(value.p, value.cap);
    buf_free(&name);
    buf_free(&value);
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return (an > bn) - (an < bn);
}

/* Section 3.4.1.3.2: by encoded name, then by encoded value, in byte order. */
static int param_cmp(const void *x, const void *y)
{
    const struct param *a = x, *b = y;
    int c = bytes_cmp(a->name, a->nlen, b->name, b->nlen);
    return c ? c : bytes_cmp(a->value, a->vlen, b->value, b->vlen);
}

/* ---- the base string URI ---- */

/* The parts of an http(s) URL that the base string needs. */
struct url_parts {
    bool https;
    struct slice host, port, path, query;
};

static bool url_split(const char *url, struct url_parts *u)
{
    const char *p, *auth_end, *colon = NULL;
    size_t n;

    memset(u, 0, sizeof *u);
    if (strncmp(url, "https://", 8) == 0 || strncmp(url, "HTTPS://", 8) == 0) {
        u->https = true;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "HTTP://", 7) == 0) {
        p = url + 7;
    } else {
        return false;
    }
    auth_end = p + strcspn(p, "/?#");
    if (auth_end == p || memchr(p, '@', (size_t)(auth_end - p)))
        return false;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', (size_t)(auth_end - p));
        if (!close)
            return false;
        if (close + 1 < auth_end) {
            if (close[1] != ':')
                return false;
            colon = close + 1;
        }
    } else {
        for (const char *q = p; q < auth_end; q++) {
            if (*q == ':')
                colon = q;
        }
    }
    u->host = (struct slice){p, (size_t)((colon ? colon : auth_end) - p)};
    if (colon)
        u->port = (struct slice){colon + 1, (size_t)(auth_end - colon - 1)};
    for (size_t i = 0; i < u->port.len; i++) {
        if (u->port.p[i] < '0' || u->port.p[i] > '9')
            return false;
    }
    n = strcspn(auth_end, "?#");
    u->path = (struct slice){auth_end, n};
    if (auth_end[n] == '?') {
        const char *q = auth_end + n + 1;
        u->query = (struct slice){q, strcspn(q, "#")};
    }
    return u->host.len > 0;
}

/* Section 3.4.1.2: scheme://host[:port]/path, scheme and host in lower case. */
static void base_uri(struct buf *b, const struct url_parts *u)
{
    const char *dflt = u->https ? "443" : "80";
    struct slice port = u->port;

    buf_append_cstr(b, u->https ? "https://" : "http://");
    for (size_t i = 0; i < u->host.len; i++) {
        char c = u->host.p[i];
        buf_append_char(b, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
    }
    /* Leading zeros do not make another port: "0443" is 443. */
    while (port.len > 1 && port.p[0] == '0') {
        port.p++;
        port.len--;
    }
    if (port.len && !slice_eq_cstr(port, dflt)) {
        buf_append_char(b, ':');
        buf_append(b, port.p, port.len);
    }
    if (u->path.len)
        buf_append(b, u->path.p, u->path.len);
    else
        buf_append_char(b, '/');
}

/* Whether a Content-Type value names application/x-www-form-urlencoded (parameters aside). */
static bool is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;

    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return strncasecmp(ct, form, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

enum md_err connect_oauth1_base_string(const char *method, const char *url,
                                       const char *content_type, const char *body, size_t body_len,
                                       const struct connect_oauth1_param *oauth, size_t n_oauth,
                                       struct buf *out, struct md_error *e)
{
    struct url_parts u;
    struct params ps = {0};
    struct buf uri, norm;
    enum md_err err = MD_OK;

    buf_reset(out);
    buf_init(&uri, CONNECT_URL_MAX * 2);
    buf_init(&norm, BASE_MAX);
    if (!method || !url || !url_split(url, &u)) {
        err = md_error_set(e, MD_ERR_VALUE, "OAuth 1.0 signs only http:// and https:// URLs");
        goto out;
    }
    if (u.query.len)
        params_add_form(&ps, u.query.p, u.query.len);
    if (body && body_len && is_form(content_type))
        params_add_form(&ps, body, body_len);
    for (size_t i = 0; i < n_oauth; i++)
        params_add(&ps, oauth[i].name, oauth[i].value);
    if (ps.oom) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ps.n)
        qsort(ps.v, ps.n, sizeof *ps.v, param_cmp);
    for (size_t i = 0; i < ps.n; i++) {
        if (i)
            buf_append_char(&norm, '&');
        buf_append(&norm, ps.v[i].name, ps.v[i].nlen);
        buf_append_char(&norm, '=');
        buf_append(&norm, ps.v[i].value, ps.v[i].vlen);
    }
    base_uri(&uri, &u);
    for (const char *m = method; *m; m++)
        buf_append_char(out, (*m >= 'a' && *m <= 'z') ? (char)(*m - 'a' + 'A') : *m);
    buf_append_char(out, '&');
    enc(out, uri.p ? uri.p : "", uri.len);
    buf_append_char(out, '&');
    enc(out, norm.p ? norm.p : "", norm.len);
    if (uri.err || norm.err || out->err) {
        enum md_err be = out->err ? out->err : uri.err ? uri.err : norm.err;
        err = md_error_set(e, be,
                           be == MD_ERR_TOOLARGE ? "the OAuth 1.0 signature base string is too long"
                                                 : "out of memory");
    }
out:
    if (norm.p)
        OPENSSL_cleanse(norm.p, norm.cap);
    buf_free(&norm);
    buf_free(&uri);
    params_free(&ps);
    return err;
}

enum md_err connect_oauth1_sign(const char *method, const char *consumer_secret,
                                const char *token_secret, const char *base, size_t base_len,
                                char sig[48], struct md_error *e)
{
    const EVP_MD *md;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    struct buf key;
    enum md_err err = MD_OK;

    sig[0] = '\0';
    if (method && strcmp(method, "HMAC-SHA256") == 0)
        md = EVP_sha256();
    else if (method && strcmp(method, "HMAC-SHA1") == 0)
        md = EVP_sha1();
    else
        return md_error_set(e, MD_ERR_VALUE,
                            "the OAuth 1.0 signature method must be HMAC-SHA256 or HMAC-SHA1");
    /* Section 3.4.2: the two secrets, each encoded, joined by '&' (an empty one stays empty). */
    buf_init(&key, 4 * CONNECT_HEADER_LINE_MAX);
    enc(&key, consumer_secret ? consumer_secret : "",
        consumer_secret ? strlen(consumer_secret) : 0);
    buf_append_char(&key, '&');
    enc(&key, token_secret ? token_secret : "", token_secret ? strlen(token_secret) : 0);
    if (key.err) {
        err = md_error_set(e, key.err, "the OAuth 1.0 secrets are too long");
        goto out;
    }
    if (!HMAC(md, key.p, (int)key.len, (const unsigned char *)base, base_len, mac, &mac_len)) {
        err = md_error_set(e, MD_ERR_INTERNAL, "HMAC failed");
        goto out;
    }
    /* Standard base64 with padding: 44 characters for SHA-256, 28 for SHA-1. */
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)mac_len);
out:
    OPENSSL_cleanse(mac, sizeof mac);
    if (key.p)
        OPENSSL_cleanse(key.p, key.cap);
    buf_free(&key);
    return err;
}

enum md_err connect_oauth1_nonce(char out[CONNECT_OAUTH1_NONCE_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[CONNECT_OAUTH1_NONCE_LEN / 2];

    out[0] = '\0';
    if (crypto_random(r, sizeof r) != MD_OK)
        return MD_ERR_INTERNAL;
    for (size_t i = 0; i < sizeof r; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[CONNECT_OAUTH1_NONCE_LEN] = '\0';
    return MD_OK;
}

/* Appends `name="encode(value)"` to the header, after ", " unless it is the first. */
static void header_param(struct buf *h, const char *name, const char *value)
{
    if (h->len > strlen("OAuth "))
        buf_append_cstr(h, ", ");
    buf_append_cstr(h, name);
    buf_append_cstr(h, "=\"");
    enc(h, value, strlen(value));
    buf_append_char(h, '"');
}

enum md_err connect_oauth1_authorization(const char *method, const char *url,
                                         const char *content_type, const char *body,
                                         size_t body_len, const struct connect_oauth1 *p,
                                         char **out, struct md_error *e)
{
    struct connect_oauth1_param oauth[6];
    struct buf base, h;
    char sig[48];
    enum md_err err;

    *out = NULL;
    if (!p->consumer_key || !p->consumer_secret || !p->token || !p->token_secret ||
        !p->signature_method || !p->timestamp || !p->nonce)
        return md_error_set(e, MD_ERR_VALUE, "incomplete OAuth 1.0 credentials");
    oauth[0] = (struct connect_oauth1_param){SLICE_LIT("oauth_consumer_key"),
                                             slice_from_cstr(p->consumer_key)};
    oauth[1] = (struct connect_oauth1_param){SLICE_LIT("oauth_token"), slice_from_cstr(p->token)};
    oauth[2] = (struct connect_oauth1_param){SLICE_LIT("oauth_signature_method"),
                                             slice_from_cstr(p->signature_method)};
    oauth[3] =
        (struct connect_oauth1_param){SLICE_LIT("oauth_timestamp"), slice_from_cstr(p->timestamp)};
    oauth[4] = (struct connect_oauth1_param){SLICE_LIT("oauth_nonce"), slice_from_cstr(p->nonce)};
    oauth[5] = (struct connect_oauth1_param){SLICE_LIT("oauth_version"), SLICE_LIT("1.0")};
    buf_init(&base, BASE_MAX);
    buf_init(&h, HEADER_MAX);
    err = connect_oauth1_base_string(method, url, content_type, body, body_len, oauth, 6, &base, e);
    if (!err)
        err = connect_oauth1_sign(p->signature_method, p->consumer_secret, p->token_secret,
                                  base.p ? base.p : "", base.len, sig, e);
    if (err)
        goto out;
    buf_append_cstr(&h, "OAuth ");
    if (p->realm)
        header_param(&h, "realm", p->realm);
    header_param(&h, "oauth_consumer_key", p->consumer_key);
    header_param(&h, "oauth_token", p->token);
    header_param(&h, "oauth_signature_method", p->signature_method);
    header_param(&h, "oauth_timestamp", p->timestamp);
    header_param(&h, "oauth_nonce", p->nonce);
    header_param(&h, "oauth_version", "1.0");
    header_param(&h, "oauth_signature", sig);
    if (h.err) {
        err =
            md_error_set(e, h.err,
                         h.err == MD_ERR_TOOLARGE ? "the OAuth 1.0 Authorization header is too long"
                                                  : "out of memory");
        goto out;
    }
    *out = buf_steal(&h);
    if (!*out)
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
out:
    OPENSSL_cleanse(sig, sizeof sig);
    if (base.p)
        OPENSSL_cleanse(base.p, base.cap);
    if (h.p)
        OPENSSL_cleanse(h.p, h.cap);
    buf_free(&base);
    buf_free(&h);
    return err;
}
