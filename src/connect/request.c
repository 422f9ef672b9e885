/*
 * Request templates: a tool call (a tool's `request` object and the call's arguments) becomes
 * the description of one HTTP request. The rules are in connect.h; this file holds no network
 * code and no credentials.
 *
 * The template is validated again here although the catalog validated it on load, because a
 * template reaches this function from the database and the admin API too, and a mistake in it
 * must become an error, never a request to an unintended URL.
 */
#include "connect/connect.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/str.h"

#define NAME_MAX_LEN 64   /* a placeholder name, e.g. issueIdOrKey */
#define FORM_MAX_DEPTH 32 /* nesting of a form-encoded argument */
#define SCALAR_TMP 40     /* room for a rendered integer or double */

enum body_kind { BODY_NONE, BODY_JSON, BODY_FORM };

/* The parts of a validated `request` object; every pointer is borrowed from it. */
struct tmpl {
    const char *method;
    const char *path;
    const json_t *query; /* an array of strings, or NULL */
    enum body_kind body;
};

/* ---- characters ---- */

/* RFC 3986 section 2.3: the only characters that are never percent-encoded here. */
static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A literal character of a path template: RFC 3986 pchar without '%' (checked apart), or '/'. */
static bool is_path_char(unsigned char c)
{
    return is_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=:@/", c) != NULL);
}

static bool is_name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* RFC 9110 section 5.6.2: tchar, the characters of a header name. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void pct_encode(struct buf *b, const char *p, size_t n)
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

/*
 * Whether a path segment is "." or ".." once percent-decoded (RFC 3986 section 5.2.4 removes
 * those; the WHATWG URL parser also treats "%2e" as a dot). Such a segment moves the request
 * to another resource, so neither a template nor an argument may produce one.
 */
static bool is_dot_segment(const char *p, size_t n)
{
    size_t dots = 0, i = 0;
    while (i < n) {
        if (p[i] == '.') {
            i++;
        } else if (i + 3 <= n && p[i] == '%' && p[i + 1] == '2' &&
                   (p[i + 2] == 'e' || p[i + 2] == 'E')) {
            i += 3;
        } else {
            return false;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

/* ---- scalars ---- */

/*
 * Renders a string, number or boolean as text, into tmp for numbers and booleans, or as a
 * borrowed view of the JSON string. Returns false for null, objects and arrays.
 */
static bool scalar_text(const json_t *v, char tmp[SCALAR_TMP], struct slice *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        *out = (struct slice){json_string_value(v), json_string_length(v)};
        return true;
    case JSON_INTEGER:
        snprintf(tmp, SCALAR_TMP, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: {
        /* The shortest precision that reads back to the same double, as JSON.stringify. */
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, SCALAR_TMP, "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        break;
    }
    case JSON_TRUE:
        snprintf(tmp, SCALAR_TMP, "true");
        break;
    case JSON_FALSE:
        snprintf(tmp, SCALAR_TMP, "false");
        break;
    default:
        return false;
    }
    *out = slice_from_cstr(tmp);
    return true;
}

static bool is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

/* ---- the template ---- */

/*
 * Checks the path template: it starts with '/', its literal characters are RFC 3986 pchars or
 * '/', every '%' starts a %XX escape, every '{' opens a placeholder of 1 to NAME_MAX_LEN
 * characters of [A-Za-z0-9_] closed by '}', and no segment is a dot segment.
 */
static enum md_err path_check(const char *path, struct md_error *e)
{
    size_t seg = 1;
    if (path[0] != '/')
        return md_error_set(e, MD_ERR_VALUE, "request.path must start with /");
    for (size_t i = 1;; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '\0' || c == '/') {
            if (is_dot_segment(path + seg, i - seg))
                return md_error_set(e, MD_ERR_VALUE,
                                    "request.path must not hold a \".\" or \"..\" segment");
            if (c == '\0')
                return MD_OK;
            seg = i + 1;
        } else if (c == '{') {
            size_t j = i + 1;
            while (is_name_char((unsigned char)path[j]))
                j++;
            if (path[j] != '}' || j == i + 1 || j - i - 1 > NAME_MAX_LEN)
                return md_error_set(e, MD_ERR_VALUE,
                                    "request.path: a placeholder is {name} with 1 to %d "
                                    "characters of [A-Za-z0-9_]",
                                    NAME_MAX_LEN);
            i = j;
        } else if (c == '%') {
            if (!is_hex((unsigned char)path[i + 1]) || !is_hex((unsigned char)path[i + 2]))
                return md_error_set(e, MD_ERR_VALUE, "request.path: %% must start a %%XX escape");
            i += 2;
        } else if (!is_path_char(c)) {
            return md_error_set(e, MD_ERR_VALUE,
                                "request.path: character 0x%02x is not allowed (a query goes "
                                "in request.query)",
                                c);
        }
    }
}

/* Whether path has the placeholder {name} (path already checked). */
static bool path_has_placeholder(const char *path, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '}')
            return true;
    }
    return false;
}

static enum md_err tmpl_parse(const json_t *def, struct tmpl *t, struct md_error *e)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    const char *key;
    json_t *v;
    size_t i;
    enum md_err err;

    memset(t, 0, sizeof *t);
    if (!json_is_object(def))
        return md_error_set(e, MD_ERR_VALUE, "request must be an object");
    /* A field that this code would not apply is an error, not something silently skipped. */
    json_object_foreach(json_mut(def), key, v)
    {
        if (strcmp(key, "method") && strcmp(key, "path") && strcmp(key, "query") &&
            strcmp(key, "body"))
            return md_error_set(e, MD_ERR_VALUE, "request.%.60s is not a known field", key);
    }
    v = json_object_get(def, "method");
    for (i = 0; json_is_string(v) && i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(json_string_value(v), methods[i]) == 0)
            t->method = methods[i];
    }
    if (!t->method)
        return md_error_set(e, MD_ERR_VALUE,
                            "request.method must be GET, POST, PUT, PATCH or DELETE");
    v = json_object_get(def, "path");
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return md_error_set(e, MD_ERR_VALUE, "request.path must be a string");
    t->path = json_string_value(v);
    err = path_check(t->path, e);
    if (err)
        return err;

    v = json_object_get(def, "query");
    if (v) {
        json_t *q;
        if (!json_is_array(v))
            return md_error_set(e, MD_ERR_VALUE, "request.query must be an array of names");
        json_array_foreach(v, i, q)
        {
            const char *name = json_string_value(q);
            if (!name || !name[0] || strlen(name) != json_string_length(q))
                return md_error_set(e, MD_ERR_VALUE,
                                    "request.query[%zu] must be a non-empty string", i);
            if (path_has_placeholder(t->path, name))
                return md_error_set(e, MD_ERR_VALUE,
                                    "request.query: %.60s is also a path placeholder", name);
            for (size_t k = 0; k < i; k++) {
                if (strcmp(json_string_value(json_array_get(v, k)), name) == 0)
                    return md_error_set(e, MD_ERR_VALUE, "request.query: %.60s is listed twice",
                                        name);
            }
        }
        t->query = v;
    }

    v = json_object_get(def, "body");
    if (!v)
        t->body = BODY_NONE;
    else if (json_is_string(v) && strcmp(json_string_value(v), "json") == 0)
        t->body = BODY_JSON;
    else if (json_is_string(v) && strcmp(json_string_value(v), "form") == 0)
        t->body = BODY_FORM;
    else
        return md_error_set(e, MD_ERR_VALUE, "request.body must be \"json\" or \"form\"");
    return MD_OK;
}

/*
 * The base URL: http:// or https://, a host without userinfo, no trailing '/', printable ASCII,
 * no ? or #.
 */
static enum md_err base_url_check(const char *base, struct md_error *e)
{
    const char *rest;
    size_t n;
    if (!base)
        return md_error_set(e, MD_ERR_VALUE, "the connector has no base URL");
    if (strncmp(base, "https://", 8) == 0)
        rest = base + 8;
    else if (strncmp(base, "http://", 7) == 0)
        rest = base + 7;
    else
        return md_error_set(e, MD_ERR_VALUE, "the base URL must start with http:// or https://");
    n = strlen(rest);
    if (n == 0 || rest[0] == '/' || rest[n - 1] == '/')
        return md_error_set(e, MD_ERR_VALUE, "the base URL needs a host and no trailing /");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rest[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '\\')
            return md_error_set(e, MD_ERR_VALUE,
                                "the base URL holds a character that a URL root cannot hold");
    }
    /* user:password@ in the authority would put a credential in every URL and log line. */
    if (memchr(rest, '@', strcspn(rest, "/")))
        return md_error_set(e, MD_ERR_VALUE,
                            "the base URL must not hold credentials (user@); use the vault");
    return MD_OK;
}

/* ---- headers ---- */

static bool header_reserved(const char *name)
{
    static const char *const owned[] = {
        "Authorization",  "Proxy-Authorization", "Cookie",     "Host", "Content-Type",
        "Content-Length", "Transfer-Encoding",   "Connection",
    };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        if (cstr_ieq(name, owned[i]))
            return true;
    }
    return false;
}

/* RFC 9110 section 5.5: a field value is VCHAR, obs-text, SP and HTAB; never CR, LF or NUL. */
static bool header_value_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static enum md_err header_add(struct connect_request *r, const char *name, const char *value,
                              struct md_error *e)
{
    struct connect_header *h = &r->headers[r->n_headers];
    h->name = strdup(name);
    h->value = strdup(value);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        h->name = h->value = NULL;
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    r->n_headers++;
    return MD_OK;
}

/* Copies the connector's static headers, with room for one more (Content-Type). */
static enum md_err headers_build(const json_t *hdrs, struct connect_request *r, struct md_error *e)
{
    const char *name;
    json_t *v;
    size_t n = 0;
    enum md_err err;

    if (hdrs && !json_is_object(hdrs))
        return md_error_set(e, MD_ERR_VALUE, "the connector's headers must be an object");
    if (hdrs)
        n = json_object_size(hdrs);
    if (n > CONNECT_HEADERS_MAX)
        return md_error_set(e, MD_ERR_VALUE, "a connector has at most %d static headers",
                            CONNECT_HEADERS_MAX);
    r->headers = calloc(n + 1, sizeof *r->headers);
    if (!r->headers)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (!hdrs)
        return MD_OK;
    json_object_foreach(json_mut(hdrs), name, v)
    {
        const char *value = json_string_value(v);
        size_t nlen = strlen(name);
        bool name_ok = nlen > 0;
        for (size_t i = 0; i < nlen; i++)
            name_ok = name_ok && is_tchar((unsigned char)name[i]);
        if (!name_ok)
            return md_error_set(e, MD_ERR_VALUE, "header name %.60s is not an HTTP token", name);
        if (header_reserved(name))
            return md_error_set(e, MD_ERR_VALUE,
                                "header %.60s is set by the runtime, not by a connector", name);
        if (!value || !header_value_ok(value, json_string_length(v)))
            return md_error_set(e, MD_ERR_VALUE,
                                "header %.60s must be a string without control characters", name);
        if (nlen + json_string_length(v) > CONNECT_HEADER_LINE_MAX)
            return md_error_set(e, MD_ERR_TOOLARGE, "header %.60s is longer than %d bytes", name,
                                CONNECT_HEADER_LINE_MAX);
        err = header_add(r, name, value, e);
        if (err)
            return err;
    }
    return MD_OK;
}

/* ---- URL ---- */

static enum md_err buf_error(const struct buf *b, const char *what, size_t max, struct md_error *e)
{
    if (b->err == MD_ERR_TOOLARGE)
        return md_error_set(e, MD_ERR_TOOLARGE, "the %s would be longer than %zu bytes", what, max);
    return md_error_set(e, b->err, "out of memory");
}

/*
 * Appends the path with every placeholder replaced, and records each placeholder's argument
 * in used. seg_start and seg_arg track the current segment so that an argument can never
 * leave an empty or dot segment behind.
 */
static enum md_err path_expand(struct buf *url, const char *path, const json_t *args, json_t *used,
                               struct md_error *e)
{
    size_t seg_start = url->len + 1;
    bool seg_arg = false;
    char name[NAME_MAX_LEN + 1];

    for (size_t i = 0;; i++) {
        char c = path[i];
        if (c == '\0' || c == '/') {
            /* path_check let no literal dot segment through: this one is an argument's. */
            if (seg_arg &&
                (url->len == seg_start || is_dot_segment(url->p + seg_start, url->len - seg_start)))
                return md_error_set(e, MD_ERR_VALUE,
                                    "argument %s would make an empty, \".\" or \"..\" path "
                                    "segment",
                                    name);
            if (c == '\0')
                return MD_OK;
            buf_append_char(url, '/');
            seg_start = url->len;
            seg_arg = false;
        } else if (c == '{') {
            const char *end = strchr(path + i, '}');
            size_t n = (size_t)(end - path) - i - 1;
            char tmp[SCALAR_TMP];
            struct slice s;
            const json_t *v;

            memcpy(name, path + i + 1, n);
            name[n] = '\0';
            v = args ? json_object_get(args, name) : NULL;
            if (!v || !scalar_text(v, tmp, &s))
                return md_error_set(e, MD_ERR_VALUE,
                                    "path argument %s is required and must be a string, a "
                                    "number or a boolean",
                                    name);
            if (s.len == 0)
                return md_error_set(e, MD_ERR_VALUE, "path argument %s must not be empty", name);
            pct_encode(url, s.p, s.len);
            if (json_object_set_new(used, name, json_null()))
                return md_error_set(e, MD_ERR_NOMEM, "out of memory");
            /* name stays set to the segment's last placeholder, for the message above. */
            seg_arg = true;
            i = (size_t)(end - path);
        } else {
            buf_append_char(url, c);
        }
    }
}

/* Appends name=value for one query parameter, preceded by '?' or '&'. */
static void query_pair(struct buf *url, bool *first, const char *name, struct slice value)
{
    buf_append_char(url, *first ? '?' : '&');
    *first = false;
    pct_encode(url, name, strlen(name));
    buf_append_char(url, '=');
    pct_encode(url, value.p, value.len);
}

static enum md_err query_append(struct buf *url, const json_t *query, const json_t *args,
                                json_t *used, struct md_error *e)
{
    bool first = true;
    size_t i;
    json_t *q;

    json_array_foreach(query, i, q)
    {
        const char *name = json_string_value(q);
        const json_t *v = args ? json_object_get(args, name) : NULL;
        char tmp[SCALAR_TMP];
        struct slice s;

        if (!v)
            continue;
        if (json_object_set_new(used, name, json_null()))
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        if (json_is_null(v))
            continue;
        if (json_is_array(v)) {
            size_t k;
            json_t *item;
            json_array_foreach(v, k, item)
            {
                if (!scalar_text(item, tmp, &s))
                    return md_error_set(e, MD_ERR_VALUE,
                                        "query argument %.60s: array items must be strings, "
                                        "numbers or booleans",
                                        name);
                query_pair(url, &first, name, s);
            }
            continue;
        }
        if (!scalar_text(v, tmp, &s))
            return md_error_set(e, MD_ERR_VALUE,
                                "query argument %.60s must be a string, a number, a boolean "
                                "or an array of them",
                                name);
        query_pair(url, &first, name, s);
    }
    return MD_OK;
}

/* ---- bodies ---- */

static int dump_to_buf(const char *p, size_t n, void *data)
{
    struct buf *b = data;
    buf_append(b, p, n);
    return b->err ? -1 : 0;
}

/* One key=value pair of a form body; key is already encoded. */
static void form_pair(struct buf *body, const struct buf *key, struct slice value)
{
    if (body->len)
        buf_append_char(body, '&');
    buf_append(body, key->p, key->len);
    buf_append_char(body, '=');
    pct_encode(body, value.p, value.len);
}

/*
 * Appends v under the (encoded) key in key, recursively: objects as key[k], arrays of scalars
 * as key[], other arrays as key[i]. key is restored to its length on entry before returning.
 */
static enum md_err form_value(struct buf *body, struct buf *key, const json_t *v, int depth,
                              const char *top, struct md_error *e)
{
    size_t key_len = key->len;
    char tmp[SCALAR_TMP];
    struct slice s;
    enum md_err err = MD_OK;

    if (depth > FORM_MAX_DEPTH)
        return md_error_set(e, MD_ERR_VALUE, "argument %.60s is nested too deeply for a form", top);
    if (json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0) ||
        (json_is_array(v) && json_array_size(v) == 0)) {
        form_pair(body, key, SLICE_LIT(""));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *item;
        json_object_foreach(json_mut(v), k, item)
        {
            if (!k[0] || strpbrk(k, "[]"))
                return md_error_set(e, MD_ERR_VALUE,
                                    "argument %.60s: a key sent in a form must be non-empty "
                                    "and hold no [ or ]",
                                    top);
            buf_append_char(key, '[');
            pct_encode(key, k, strlen(k));
            buf_append_char(key, ']');
            err = form_value(body, key, item, depth + 1, top, e);
            key->len = key_len;
            if (err)
                return err;
        }
    } else if (json_is_array(v)) {
        bool scalars = true;
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            scalars = scalars && (is_scalar(item) || json_is_null(item));
        }
        json_array_foreach(v, i, item)
        {
            if (scalars)
                buf_append_cstr(key, "[]");
            else
                buf_appendf(key, "[%zu]", i);
            err = form_value(body, key, item, depth + 1, top, e);
            key->len = key_len;
            if (err)
                return err;
        }
    } else if (scalar_text(v, tmp, &s)) {
        form_pair(body, key, s);
    }
    return err;
}

/*
 * The body from the arguments that the path and query did not use (rest, in the arguments'
 * order), or, without a body, the refusal of the first such argument.
 */
static enum md_err body_build(enum body_kind kind, const json_t *rest, struct buf *body,
                              struct md_error *e)
{
    const char *name;
    json_t *v;
    struct buf key;
    enum md_err err = MD_OK;

    if (kind == BODY_JSON) {
        if (json_dump_callback(rest, dump_to_buf, body, JSON_COMPACT) != 0 || body->err)
            return buf_error(body, "request body", CONNECT_BODY_MAX, e);
        return MD_OK;
    }
    buf_init(&key, CONNECT_BODY_MAX);
    json_object_foreach(json_mut(rest), name, v)
    {
        if (!name[0] || strpbrk(name, "[]")) {
            err = md_error_set(e, MD_ERR_VALUE,
                               "argument %.60s cannot be sent in a form: its name is empty or "
                               "holds [ or ]",
                               name);
            break;
        }
        buf_reset(&key);
        pct_encode(&key, name, strlen(name));
        err = form_value(body, &key, v, 0, name, e);
        if (err)
            break;
        if (key.err || body->err) {
            err = buf_error(key.err ? &key : body, "request body", CONNECT_BODY_MAX, e);
            break;
        }
    }
    buf_free(&key);
    if (!err && body->err)
        err = buf_error(body, "request body", CONNECT_BODY_MAX, e);
    return err;
}

/* The arguments that neither the path nor the query used, as a new object in *out. */
static enum md_err rest_collect(const json_t *args, const json_t *used, enum body_kind kind,
                                json_t **out, struct md_error *e)
{
    const char *name;
    json_t *v;
    json_t *rest = json_object();

    if (!rest)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (args) {
        json_object_foreach(json_mut(args), name, v)
        {
            if (json_object_get(used, name))
                continue;
            if (kind == BODY_NONE) {
                json_decref(rest);
                return md_error_set(e, MD_ERR_VALUE,
                                    "argument %.60s is not sent: this tool's request has no "
                                    "body and neither its path nor its query uses it",
                                    name);
            }
            if (json_object_set(rest, name, v)) {
                json_decref(rest);
                return md_error_set(e, MD_ERR_NOMEM, "out of memory");
            }
        }
    }
    *out = rest;
    return MD_OK;
}

/* ---- the request ---- */

enum md_err connect_request_build(const char *base_url, const json_t *connector_headers,
                                  const json_t *request_def, const json_t *args,
                                  struct connect_request *out, struct md_error *e)
{
    struct tmpl t;
    struct buf url, body;
    json_t *used = NULL, *rest = NULL;
    enum md_err err;

    memset(out, 0, sizeof *out);
    buf_init(&url, CONNECT_URL_MAX);
    buf_init(&body, CONNECT_BODY_MAX);
    if (args && !json_is_object(args)) {
        err = md_error_set(e, MD_ERR_VALUE, "the arguments must be a JSON object");
        goto out;
    }
    err = base_url_check(base_url, e);
    if (err)
        goto out;
    err = tmpl_parse(request_def, &t, e);
    if (err)
        goto out;
    err = headers_build(connector_headers, out, e);
    if (err)
        goto out;
    used = json_object();
    if (!used) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }

    buf_append_cstr(&url, base_url);
    err = path_expand(&url, t.path, args, used, e);
    if (!err && t.query)
        err = query_append(&url, t.query, args, used, e);
    if (err)
        goto out;
    if (url.err) {
        err = buf_error(&url, "URL", CONNECT_URL_MAX, e);
        goto out;
    }

    err = rest_collect(args, used, t.body, &rest, e);
    if (err)
        goto out;
    if (t.body != BODY_NONE) {
        err = body_build(t.body, rest, &body, e);
        if (!err)
            err = header_add(
                out, "Content-Type",
                t.body == BODY_JSON ? "application/json" : "application/x-www-form-urlencoded", e);
        if (err)
            goto out;
        out->body_len = body.len;
        out->body = buf_steal(&body);
    }
    out->method = t.method;
    out->url_len = url.len;
    out->url = buf_steal(&url);

out:
    json_decref(used);
    json_decref(rest);
    buf_free(&url);
    buf_free(&body);
    if (err)
        connect_request_free(out);
    return err;
}

void connect_request_free(struct connect_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->url);
    free(r->body);
    memset(r, 0, sizeof *r);
}
