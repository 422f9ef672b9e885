/*
 * Request templates: a tool call (a tool's `request` object and the call's arguments) becomes
 * the description of one HTTP request. The rules are in connect.h; this file holds no network
 * code. Credentials enter only where a body template names them ({{credential.NAME}}); each
 * copy of one made here is wiped before it is freed.
 *
 * The template is validated again here although the catalog validated it on load, because a
 * template reaches this function from the database and the admin API too, and a mistake in it
 * must become an error, never a request to an unintended URL.
 */
#include "connect/connect.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/str.h"

#define NAME_MAX_LEN 64    /* a placeholder name, e.g. issueIdOrKey */
#define FORM_MAX_DEPTH 32  /* nesting of a form-encoded argument */
#define SCALAR_TMP 40      /* room for a rendered integer or double */
#define JSON_BODY_DEPTH 64 /* nesting of a JSON template body, arguments included */

enum body_kind { BODY_NONE, BODY_JSON, BODY_FORM, BODY_GRAPHQL, BODY_TEMPLATE, BODY_FORM_FIELDS };

#define FORM_FIELDS_MAX 64 /* fields of a {"type": "form"} body */
#define FORM_FIELD_NAME_MAX 256
#define QUERY_MAX 64       /* entries of request.query */
#define QUERY_NAME_MAX 128 /* bytes of a query parameter's or its argument's name */

/* How a body template escapes an argument: request.body.escape. */
enum escape_kind { ESCAPE_XML, ESCAPE_JSON, ESCAPE_NONE };

/* The parts of a validated `request` object; every pointer is borrowed from it. */
struct tmpl {
    const char *method;
    const char *path;
    const json_t *query; /* an array of names and {"name", "arg"} objects, or NULL */
    enum body_kind body;
    /* BODY_GRAPHQL */
    const json_t *document;     /* request.body.query, a JSON string */
    const char *operation_name; /* request.body.operation_name, or NULL */
    /* BODY_TEMPLATE */
    const char *content_type; /* request.body.content_type, a checked media type */
    struct slice text;        /* request.body.template */
    enum escape_kind escape;
    /* BODY_FORM_FIELDS: request.body.fields, every field checked */
    const json_t *fields;
};

/* One field of a {"type": "form"} body: a template and its escape. */
struct form_field {
    struct slice text;
    enum escape_kind escape;
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

#define CALLER_PREFIX "caller."
#define CREDENTIAL_PREFIX "credential."

/* The caller attributes a template or a path may name. */
static bool caller_attr_ok(const char *name)
{
    return strcmp(name, "userName") == 0 || strcmp(name, "email") == 0;
}

/* The value of a caller attribute in ctx, or NULL when the call has none. */
static const char *caller_value(const struct connect_request_ctx *ctx, const char *attr)
{
    if (!ctx)
        return NULL;
    if (strcmp(attr, "userName") == 0)
        return ctx->caller_user_name;
    if (strcmp(attr, "email") == 0)
        return ctx->caller_email;
    return NULL;
}

/*
 * Checks the path template: it starts with '/', its literal characters are RFC 3986 pchars or
 * '/', every '%' starts a %XX escape, every '{' opens a placeholder of 1 to NAME_MAX_LEN
 * characters of [A-Za-z0-9_] (or {caller.userName}, {caller.email}) closed by '}', and no
 * segment is a dot segment. A credential never goes in a URL, which servers and proxies log.
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
            size_t j = i + 1, start;
            if (strncmp(path + j, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX)) == 0)
                return md_error_set(e, MD_ERR_VALUE,
                                    "request.path: a credential never goes in a URL; put "
                                    "{{credential.NAME}} in a body template");
            if (strncmp(path + j, CALLER_PREFIX, strlen(CALLER_PREFIX)) == 0)
                j += strlen(CALLER_PREFIX);
            start = j;
            while (is_name_char((unsigned char)path[j]))
                j++;
            if (path[j] != '}' || j == start || j - start > NAME_MAX_LEN)
                return md_error_set(e, MD_ERR_VALUE,
                                    "request.path: a placeholder is {name} with 1 to %d "
                                    "characters of [A-Za-z0-9_], or {caller.userName} or "
                                    "{caller.email}",
                                    NAME_MAX_LEN);
            if (start != i + 1) {
                char attr[NAME_MAX_LEN + 1];
                memcpy(attr, path + start, j - start);
                attr[j - start] = '\0';
                if (!caller_attr_ok(attr))
                    return md_error_set(e, MD_ERR_VALUE,
                                        "request.path: {caller.%s} is not a caller attribute; "
                                        "there are {caller.userName} and {caller.email}",
                                        attr);
            }
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

/* ---- body definitions: GraphQL and templates ---- */

/*
 * A media type, RFC 9110 section 8.3.1: type "/" subtype *( OWS ";" OWS [ parameter ] ) with
 * parameter = token "=" ( token / quoted-string ). Only ASCII is accepted (no obs-text) and no
 * white space at either end, since the text becomes a header value as it is.
 */
struct media {
    struct slice type, subtype;
    struct slice charset; /* the charset parameter's value, unquoted; len 0 when absent */
};

static size_t token_len(const char *s)
{
    size_t n = 0;
    while (is_tchar((unsigned char)s[n]))
        n++;
    return n;
}

static bool is_qdchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c < 0x7f);
}

/* A parameter value at s[*i]: a token or a quoted-string (RFC 9110 section 5.6.4). */
static bool media_value(const char *s, size_t *i, struct slice *val)
{
    size_t j = *i, n;
    if (s[j] != '"') {
        n = token_len(s + j);
        *val = (struct slice){s + j, n};
        *i = j + n;
        return n > 0;
    }
    for (j++; s[j] != '"'; j++) {
        if (s[j] == '\\')
            j++;
        if (!is_qdchar((unsigned char)s[j]))
            return false;
    }
    *val = (struct slice){s + *i + 1, j - *i - 1};
    *i = j + 1;
    return true;
}

static bool media_parse(const char *s, struct media *m)
{
    size_t i, n = strlen(s);
    memset(m, 0, sizeof *m);
    if (n == 0 || s[n - 1] == ' ' || s[n - 1] == '\t')
        return false;
    n = token_len(s);
    if (n == 0 || s[n] != '/')
        return false;
    m->type = (struct slice){s, n};
    i = n + 1;
    n = token_len(s + i);
    if (n == 0)
        return false;
    m->subtype = (struct slice){s + i, n};
    for (i += n;;) {
        struct slice name, val;
        while (s[i] == ' ' || s[i] == '\t')
            i++;
        if (s[i] == '\0')
            return true;
        if (s[i++] != ';')
            return false;
        while (s[i] == ' ' || s[i] == '\t')
            i++;
        n = token_len(s + i);
        if (n == 0)
            continue; /* an empty parameter, which the grammar allows */
        name = (struct slice){s + i, n};
        i += n;
        if (s[i++] != '=' || !media_value(s, &i, &val))
            return false;
        if (slice_ieq_cstr(name, "charset"))
            m->charset = val;
    }
}

static bool slice_ends_with(struct slice s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && slice_ieq_cstr((struct slice){s.p + s.len - n, n}, suffix);
}

/* application/json and every structured syntax suffix +json (RFC 6839 section 3.1). */
static bool media_is_json(const struct media *m)
{
    return slice_ieq_cstr(m->type, "application") &&
           (slice_ieq_cstr(m->subtype, "json") || slice_ends_with(m->subtype, "+json"));
}

/* XML (RFC 7303: application/xml, text/xml, +xml) and HTML, which share their escapes. */
static bool media_is_xml(const struct media *m)
{
    bool app = slice_ieq_cstr(m->type, "application"), text = slice_ieq_cstr(m->type, "text");
    return ((app || text) && slice_ieq_cstr(m->subtype, "xml")) ||
           slice_ends_with(m->subtype, "+xml") || (text && slice_ieq_cstr(m->subtype, "html"));
}

static bool media_is_plain(const struct media *m)
{
    return slice_ieq_cstr(m->type, "text") && slice_ieq_cstr(m->subtype, "plain");
}

/* Where a placeholder's value comes from. */
enum piece_src {
    SRC_ARG,        /* {{name}}: the agent's argument */
    SRC_CALLER,     /* {{caller.userName}}, {{caller.email}}: the directory's */
    SRC_CREDENTIAL, /* {{credential.NAME}}: a field of the connector's secret */
};

/*
 * One piece of a body template: literal bytes, or a placeholder {{name}} / {{name?}} /
 * {{caller.ATTR}} / {{credential.NAME}}. The template syntax is defined by piece_next alone, so
 * that checking and expanding a template cannot disagree.
 */
struct piece {
    bool is_arg;   /* a placeholder (of an argument or of src) */
    bool optional; /* {{name?}} */
    enum piece_src src;
    struct slice text;           /* literal bytes, borrowed from the template */
    char name[NAME_MAX_LEN + 1]; /* the argument, caller attribute or credential field */
};

/*
 * Reads the piece at s[*i] (of n bytes) and moves *i past it. "{{{{" is a literal "{{"; any
 * other "{{" must open {{name}} or {{name?}}, name being 1 to NAME_MAX_LEN characters of
 * [A-Za-z0-9_]; a single '{' and every '}' outside a placeholder are literal. Returns false
 * on a "{{" that is neither.
 */
static bool piece_next(const char *s, size_t n, size_t *i, struct piece *pc)
{
    size_t at = *i, j, start;
    pc->is_arg = pc->optional = false;
    pc->src = SRC_ARG;
    if (n - at >= 4 && memcmp(s + at, "{{{{", 4) == 0) {
        pc->text = (struct slice){s + at, 2};
        *i = at + 4;
        return true;
    }
    if (n - at >= 2 && s[at] == '{' && s[at + 1] == '{') {
        start = at + 2;
        if (n - start > strlen(CALLER_PREFIX) &&
            memcmp(s + start, CALLER_PREFIX, strlen(CALLER_PREFIX)) == 0) {
            pc->src = SRC_CALLER;
            start += strlen(CALLER_PREFIX);
        } else if (n - start > strlen(CREDENTIAL_PREFIX) &&
                   memcmp(s + start, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX)) == 0) {
            pc->src = SRC_CREDENTIAL;
            start += strlen(CREDENTIAL_PREFIX);
        }
        for (j = start; j < n && is_name_char((unsigned char)s[j]);)
            j++;
        if (j == start || j - start > NAME_MAX_LEN)
            return false;
        memcpy(pc->name, s + start, j - start);
        pc->name[j - start] = '\0';
        if (j < n && s[j] == '?') {
            pc->optional = true;
            j++;
        }
        if (n - j < 2 || s[j] != '}' || s[j + 1] != '}')
            return false;
        pc->is_arg = true;
        *i = j + 2;
        return true;
    }
    for (j = at + 1; j < n && !(s[j] == '{' && j + 1 < n && s[j + 1] == '{');)
        j++;
    pc->text = (struct slice){s + at, j - at};
    *i = j;
    return true;
}

/* Where a JSON template's text leaves the scanner: inside a string literal, after a '\'. */
struct json_scan {
    bool in_string, escaped;
};

static void json_scan_text(struct json_scan *js, struct slice t)
{
    for (size_t i = 0; i < t.len; i++) {
        if (js->escaped)
            js->escaped = false;
        else if (js->in_string && t.p[i] == '\\')
            js->escaped = true;
        else if (t.p[i] == '"')
            js->in_string = !js->in_string;
    }
}

/*
 * An escape "json" template: no placeholder inside a string literal (an argument is a whole
 * JSON value, never part of a string), and the text with every placeholder read as null is a
 * JSON object or array without duplicate keys. Since a placeholder can then only stand where
 * null stands, any JSON value put there leaves the body valid JSON.
 */
static enum md_err json_template_check(struct slice text, const char *where, struct md_error *e)
{
    struct json_scan js = {false, false};
    struct piece pc;
    struct buf b;
    struct md_error pe;
    json_t *v = NULL;
    enum md_err err = MD_OK;

    buf_init(&b, CONNECT_BODY_MAX);
    for (size_t i = 0; i < text.len && !err;) {
        piece_next(text.p, text.len, &i, &pc);
        if (!pc.is_arg) {
            json_scan_text(&js, pc.text);
            buf_append(&b, pc.text.p, pc.text.len);
        } else if (js.in_string) {
            err = md_error_set(e, MD_ERR_VALUE,
                               "%s: {{%s%s}} is inside a JSON string; a placeholder stands for "
                               "a whole JSON value",
                               where,
                               pc.src == SRC_CALLER       ? CALLER_PREFIX
                               : pc.src == SRC_CREDENTIAL ? CREDENTIAL_PREFIX
                                                          : "",
                               pc.name);
        } else {
            buf_append_cstr(&b, "null");
        }
    }
    if (!err && b.err)
        err = md_error_set(e, MD_ERR_TOOLARGE, "%s is too long", where);
    if (!err && json_parse_limited(b.p ? b.p : "", b.len, CONNECT_BODY_MAX, JSON_BODY_DEPTH, &v,
                                   &pe) != MD_OK)
        err = md_error_set(e, MD_ERR_VALUE,
                           "%s must be a JSON object or array once each placeholder is a "
                           "value: %s",
                           where, pe.msg);
    json_decref(v);
    buf_free(&b);
    return err;
}

/*
 * Every "{{" of the template opens a well-formed placeholder or is the literal "{{{{"; a
 * caller placeholder names an attribute there is, and only an argument may be optional (the
 * directory and the credential always have theirs). where names the template in messages.
 */
static enum md_err template_syntax_check(struct slice text, const char *where, struct md_error *e)
{
    struct piece pc;
    for (size_t i = 0; i < text.len;) {
        size_t at = i;
        if (!piece_next(text.p, text.len, &i, &pc))
            return md_error_set(e, MD_ERR_VALUE,
                                "%s: \"{{\" at byte %zu must open {{name}}, {{name?}}, "
                                "{{caller.userName}}, {{caller.email}} or {{credential.NAME}} "
                                "(name: 1 to %d characters of [A-Za-z0-9_]); a literal \"{{\" is "
                                "written \"{{{{\"",
                                where, at, NAME_MAX_LEN);
        if (pc.is_arg && pc.src == SRC_CALLER && !caller_attr_ok(pc.name))
            return md_error_set(e, MD_ERR_VALUE,
                                "%s: {{caller.%s}} is not a caller attribute; there are "
                                "{{caller.userName}} and {{caller.email}}",
                                where, pc.name);
        if (pc.is_arg && pc.src != SRC_ARG && pc.optional)
            return md_error_set(e, MD_ERR_VALUE, "%s: {{%s%s?}}: only an argument may be optional",
                                where, pc.src == SRC_CALLER ? CALLER_PREFIX : CREDENTIAL_PREFIX,
                                pc.name);
    }
    return MD_OK;
}

/* A field of request.body that is a string without U+0000, or NULL. */
static const char *body_string(const json_t *body, const char *field, size_t *len)
{
    const json_t *v = json_object_get(body, field);
    const char *s = json_string_value(v);
    if (!s || strlen(s) != json_string_length(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return s;
}

/* A field of request.body that this code would not apply is an error, as in request. */
static enum md_err body_fields_check(const json_t *body, const char *const *known, size_t n,
                                     struct md_error *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(json_mut(body), key, v)
    {
        size_t k = 0;
        while (k < n && strcmp(key, known[k]) != 0)
            k++;
        if (k == n)
            return md_error_set(e, MD_ERR_VALUE, "request.body.%.60s is not a known field", key);
    }
    return MD_OK;
}

/* GraphQL's Name (GraphQL spec section 2.1.9): [_A-Za-z][_0-9A-Za-z]*. */
static bool is_graphql_name(const char *s)
{
    if (!s[0] || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (; *s; s++) {
        if (!is_name_char((unsigned char)*s))
            return false;
    }
    return true;
}

static enum md_err graphql_parse(const json_t *body, struct tmpl *t, struct md_error *e)
{
    static const char *const known[] = {"type", "query", "operation_name"};
    const char *query;
    enum md_err err = body_fields_check(body, known, sizeof known / sizeof known[0], e);

    if (err)
        return err;
    /* GraphQL over HTTP: a server must accept POST; a GET would carry the query in the URL. */
    if (strcmp(t->method, "POST") != 0)
        return md_error_set(e, MD_ERR_VALUE, "a GraphQL request.body needs request.method POST");
    query = body_string(body, "query", NULL);
    if (!query || !query[0])
        return md_error_set(e, MD_ERR_VALUE,
                            "request.body.query must be a non-empty string (a GraphQL document)");
    if (json_string_length(json_object_get(body, "query")) > CONNECT_BODY_MAX)
        return md_error_set(e, MD_ERR_TOOLARGE, "request.body.query is longer than %d bytes",
                            CONNECT_BODY_MAX);
    t->document = json_object_get(body, "query");
    if (json_object_get(body, "operation_name")) {
        t->operation_name = body_string(body, "operation_name", NULL);
        if (!t->operation_name || !is_graphql_name(t->operation_name))
            return md_error_set(e, MD_ERR_VALUE,
                                "request.body.operation_name must be a GraphQL name "
                                "([_A-Za-z][_0-9A-Za-z]*)");
    }
    t->body = BODY_GRAPHQL;
    return MD_OK;
}

/* request.body.content_type and request.body.escape, and whether they go together. */
static enum md_err content_type_parse(const json_t *body, struct tmpl *t, struct md_error *e)
{
    const char *ct = body_string(body, "content_type", NULL);
    const char *esc = body_string(body, "escape", NULL);
    struct media m;

    if (!ct || !media_parse(ct, &m))
        return md_error_set(e, MD_ERR_VALUE,
                            "request.body.content_type must be a media type such as "
                            "application/xml or text/plain; charset=utf-8");
    if (strlen(ct) + sizeof "Content-Type" > CONNECT_HEADER_LINE_MAX)
        return md_error_set(e, MD_ERR_VALUE, "request.body.content_type is too long");
    /* Arguments are JSON strings, so the body is UTF-8 whatever the template says. */
    if (m.charset.len && !slice_ieq_cstr(m.charset, "utf-8"))
        return md_error_set(e, MD_ERR_VALUE,
                            "request.body.content_type: the charset can only be utf-8");
    t->content_type = ct;
    if (esc && strcmp(esc, "xml") == 0 && media_is_xml(&m))
        t->escape = ESCAPE_XML;
    else if (esc && strcmp(esc, "json") == 0 && media_is_json(&m))
        t->escape = ESCAPE_JSON;
    else if (esc && strcmp(esc, "none") == 0 && media_is_plain(&m))
        t->escape = ESCAPE_NONE;
    else
        return md_error_set(e, MD_ERR_VALUE,
                            "request.body.escape must be \"xml\" for an XML or HTML "
                            "content_type, \"json\" for application/json or application/*+json, "
                            "\"none\" for text/plain");
    return MD_OK;
}

static enum md_err template_parse(const json_t *body, struct tmpl *t, struct md_error *e)
{
    static const char *const known[] = {"type", "content_type", "template", "escape"};
    enum md_err err = body_fields_check(body, known, sizeof known / sizeof known[0], e);

    if (!err)
        err = content_type_parse(body, t, e);
    if (err)
        return err;
    t->text.p = body_string(body, "template", &t->text.len);
    if (!t->text.p)
        return md_error_set(e, MD_ERR_VALUE,
                            "request.body.template must be a string without U+0000");
    if (t->text.len > CONNECT_BODY_MAX)
        return md_error_set(e, MD_ERR_TOOLARGE, "request.body.template is longer than %d bytes",
                            CONNECT_BODY_MAX);
    err = template_syntax_check(t->text, "request.body.template", e);
    if (!err && t->escape == ESCAPE_JSON)
        err = json_template_check(t->text, "request.body.template", e);
    if (!err)
        t->body = BODY_TEMPLATE;
    return err;
}

/*
 * One field of a {"type": "form"} body: a string is a template with escape "none"; an object is
 * {"template": TEXT, "escape": "xml" | "json" | "none"}. The field's value is built as a body
 * template is (same placeholders, same escapes, a "json" one parsed again), then
 * form-encoded whole, so no argument can add a field.
 */
static enum md_err form_field_parse(const char *name, const json_t *v, struct form_field *f,
                                    struct md_error *e)
{
    static const char *const known[] = {"template", "escape"};
    char where[96];
    const char *esc;
    enum md_err err;

    snprintf(where, sizeof where, "request.body.fields.%.60s", name);
    memset(f, 0, sizeof *f);
    f->escape = ESCAPE_NONE;
    if (json_is_string(v)) {
        f->text = (struct slice){json_string_value(v), json_string_length(v)};
    } else if (json_is_object(v)) {
        err = body_fields_check(v, known, sizeof known / sizeof known[0], e);
        if (err)
            return err;
        f->text.p = body_string(v, "template", &f->text.len);
        esc = body_string(v, "escape", NULL);
        if (esc && strcmp(esc, "xml") == 0)
            f->escape = ESCAPE_XML;
        else if (esc && strcmp(esc, "json") == 0)
            f->escape = ESCAPE_JSON;
        else if (!esc || strcmp(esc, "none") != 0)
            return md_error_set(e, MD_ERR_VALUE, "%s.escape must be \"xml\", \"json\" or \"none\"",
                                where);
        if (!f->text.p)
            return md_error_set(e, MD_ERR_VALUE, "%s.template must be a string", where);
    } else {
        return md_error_set(e, MD_ERR_VALUE,
                            "%s must be a string or {\"template\": ..., \"escape\": ...}", where);
    }
    if (strlen(f->text.p) != f->text.len)
        return md_error_set(e, MD_ERR_VALUE, "%s must not hold U+0000", where);
    if (f->text.len > CONNECT_BODY_MAX)
        return md_error_set(e, MD_ERR_TOOLARGE, "%s is longer than %d bytes", where,
                            CONNECT_BODY_MAX);
    err = template_syntax_check(f->text, where, e);
    if (!err && f->escape == ESCAPE_JSON)
        err = json_template_check(f->text, where, e);
    return err;
}

static enum md_err form_fields_parse(const json_t *body, struct tmpl *t, struct md_error *e)
{
    static const char *const known[] = {"type", "fields"};
    const json_t *fields = json_object_get(body, "fields");
    const char *name;
    json_t *v;
    struct form_field f;
    enum md_err err = body_fields_check(body, known, sizeof known / sizeof known[0], e);

    if (err)
        return err;
    if (!json_is_object(fields) || json_object_size(fields) == 0 ||
        json_object_size(fields) > FORM_FIELDS_MAX)
        return md_error_set(e, MD_ERR_VALUE,
                            "request.body.fields must be an object of 1 to %d form fields",
                            FORM_FIELDS_MAX);
    json_object_foreach(json_mut(fields), name, v)
    {
        if (!name[0] || strlen(name) > FORM_FIELD_NAME_MAX)
            return md_error_set(e, MD_ERR_VALUE,
                                "request.body.fields: a field name is 1 to %d bytes",
                                FORM_FIELD_NAME_MAX);
        err = form_field_parse(name, v, &f, e);
        if (err)
            return err;
    }
    t->fields = fields;
    t->body = BODY_FORM_FIELDS;
    return MD_OK;
}

/*
 * request.body: "json", "form", or an object whose type is "graphql", "template" or "form".
 */
static enum md_err body_parse(const json_t *v, struct tmpl *t, struct md_error *e)
{
    const char *type;
    if (!v) {
        t->body = BODY_NONE;
        return MD_OK;
    }
    if (json_is_string(v) && strcmp(json_string_value(v), "json") == 0) {
        t->body = BODY_JSON;
        return MD_OK;
    }
    if (json_is_string(v) && strcmp(json_string_value(v), "form") == 0) {
        t->body = BODY_FORM;
        return MD_OK;
    }
    type = json_string_value(json_object_get(v, "type"));
    if (json_is_object(v) && type && strcmp(type, "graphql") == 0)
        return graphql_parse(v, t, e);
    if (json_is_object(v) && type && strcmp(type, "template") == 0)
        return template_parse(v, t, e);
    if (json_is_object(v) && type && strcmp(type, "form") == 0)
        return form_fields_parse(v, t, e);
    return md_error_set(e, MD_ERR_VALUE,
                        "request.body must be \"json\", \"form\", or an object whose type is "
                        "\"graphql\", \"template\" or \"form\"");
}

/*
 * One entry of request.query: an argument name, sent as a parameter of the same name, or
 * {"name": PARAMETER, "arg": ARGUMENT} for a parameter whose name an argument cannot have
 * ("statuses[]", "$top"). *name and *arg borrow from q.
 */
static enum md_err query_entry(const json_t *q, size_t i, const char **name, const char **arg,
                               struct md_error *e)
{
    const char *k;
    json_t *v;

    *name = *arg = "";
    if (json_is_string(q)) {
        if (json_string_length(q) == 0 || json_string_length(q) > QUERY_NAME_MAX ||
            strlen(json_string_value(q)) != json_string_length(q))
            return md_error_set(e, MD_ERR_VALUE,
                                "request.query[%zu] must be a non-empty string of at most %d "
                                "bytes",
                                i, QUERY_NAME_MAX);
        *name = *arg = json_string_value(q);
        return MD_OK;
    }
    if (!json_is_object(q))
        return md_error_set(e, MD_ERR_VALUE,
                            "request.query[%zu] must be an argument name or {\"name\", \"arg\"}",
                            i);
    json_object_foreach(json_mut(q), k, v)
    {
        if ((strcmp(k, "name") && strcmp(k, "arg")) || !json_is_string(v) ||
            json_string_length(v) == 0 || json_string_length(v) > QUERY_NAME_MAX ||
            strlen(json_string_value(v)) != json_string_length(v))
            return md_error_set(e, MD_ERR_VALUE,
                                "request.query[%zu] must be {\"name\": PARAMETER, \"arg\": "
                                "ARGUMENT}, two non-empty strings of at most %d bytes",
                                i, QUERY_NAME_MAX);
    }
    if (!json_object_get(q, "name") || !json_object_get(q, "arg"))
        return md_error_set(e, MD_ERR_VALUE,
                            "request.query[%zu] must have both \"name\" (the parameter) and "
                            "\"arg\" (the argument)",
                            i);
    *name = json_string_value(json_object_get(q, "name"));
    *arg = json_string_value(json_object_get(q, "arg"));
    return MD_OK;
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
        if (!json_is_array(v) || json_array_size(v) > QUERY_MAX)
            return md_error_set(e, MD_ERR_VALUE,
                                "request.query must be an array of at most %d argument names or "
                                "{\"name\", \"arg\"} objects",
                                QUERY_MAX);
        json_array_foreach(v, i, q)
        {
            const char *name, *arg;
            err = query_entry(q, i, &name, &arg, e);
            if (err)
                return err;
            if (path_has_placeholder(t->path, arg))
                return md_error_set(e, MD_ERR_VALUE,
                                    "request.query: %.60s is also a path placeholder", arg);
            for (size_t k = 0; k < i; k++) {
                const char *n2, *a2;
                query_entry(json_array_get(v, k), k, &n2, &a2, NULL);
                if (strcmp(a2, arg) == 0)
                    return md_error_set(e, MD_ERR_VALUE,
                                        "request.query: the argument %.60s is listed twice", arg);
                if (strcmp(n2, name) == 0)
                    return md_error_set(e, MD_ERR_VALUE,
                                        "request.query: the parameter %.60s is listed twice", name);
            }
        }
        t->query = v;
    }

    return body_parse(json_object_get(def, "body"), t, e);
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
static enum md_err path_expand(struct buf *url, const char *path, const json_t *args,
                               const struct connect_request_ctx *ctx, json_t *used,
                               struct md_error *e)
{
    size_t seg_start = url->len + 1;
    bool seg_arg = false;
    char name[NAME_MAX_LEN + sizeof CALLER_PREFIX];

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
            if (strncmp(name, CALLER_PREFIX, strlen(CALLER_PREFIX)) == 0) {
                /* The directory's value, never an argument's: marked as no argument's use. */
                const char *cv = caller_value(ctx, name + strlen(CALLER_PREFIX));
                if (!cv || !cv[0])
                    return md_error_set(e, MD_ERR_VALUE,
                                        "request.path uses {%s}, and this call has no calling "
                                        "user with one",
                                        name);
                pct_encode(url, cv, strlen(cv));
                seg_arg = true;
                i = (size_t)(end - path);
                continue;
            }
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
        const char *name, *arg;
        const json_t *v;
        char tmp[SCALAR_TMP];
        struct slice s;

        /* tmpl_parse checked every entry. */
        query_entry(q, i, &name, &arg, NULL);
        v = args ? json_object_get(args, arg) : NULL;
        if (!v)
            continue;
        if (json_object_set_new(used, arg, json_null()))
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
                                        arg);
                query_pair(url, &first, name, s);
            }
            continue;
        }
        if (!scalar_text(v, tmp, &s))
            return md_error_set(e, MD_ERR_VALUE,
                                "query argument %.60s must be a string, a number, a boolean "
                                "or an array of them",
                                arg);
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

/* ---- GraphQL and template bodies ---- */

/*
 * Adds to vars (an object used as a set) each variable that the GraphQL document names as
 * $name outside comments and strings (GraphQL spec section 2.1: '#' starts a comment that runs
 * to the end of the line; a string is "..." with backslash escapes, or a block string """..."""
 * in which \""" is an escaped delimiter). "$ name", which the grammar allows, is not seen: its
 * argument is then refused, never silently dropped.
 */
static enum md_err graphql_variables(const char *d, size_t n, json_t *vars, struct md_error *e)
{
    size_t i = 0, j;
    while (i < n) {
        if (d[i] == '#') {
            while (i < n && d[i] != '\n' && d[i] != '\r')
                i++;
        } else if (n - i >= 3 && memcmp(d + i, "\"\"\"", 3) == 0) {
            for (i += 3; i < n && !(n - i >= 3 && memcmp(d + i, "\"\"\"", 3) == 0);)
                i += n - i >= 4 && memcmp(d + i, "\\\"\"\"", 4) == 0 ? 4 : 1;
            i += 3;
        } else if (d[i] == '"') {
            for (i++; i < n && d[i] != '"' && d[i] != '\n' && d[i] != '\r'; i++) {
                if (d[i] == '\\')
                    i++;
            }
            i++;
        } else if (d[i] == '$') {
            for (j = ++i; j < n && is_name_char((unsigned char)d[j]);)
                j++;
            if (j > i && !(d[i] >= '0' && d[i] <= '9') &&
                json_object_setn_new(vars, d + i, j - i, json_null()))
                return md_error_set(e, MD_ERR_NOMEM, "out of memory");
            i = j;
        } else {
            i++;
        }
    }
    return MD_OK;
}

/*
 * The GraphQL over HTTP request body: {"query": the document, "variables": the arguments that
 * the path and the query did not use, "operationName": when the template names one}. An
 * argument never enters the document's text, and one that the document does not name as a
 * variable is refused, as GraphQL servers ignore variables that no operation declares.
 */
static enum md_err graphql_body(const struct tmpl *t, json_t *rest, struct buf *body,
                                struct md_error *e)
{
    const char *name;
    json_t *v, *doc = NULL, *vars = json_object();
    enum md_err err;

    if (!vars)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err =
        graphql_variables(json_string_value(t->document), json_string_length(t->document), vars, e);
    json_object_foreach(rest, name, v)
    {
        if (err || json_object_get(vars, name))
            continue;
        err = md_error_set(e, MD_ERR_VALUE,
                           "argument %.60s is not sent: neither this tool's path nor its query "
                           "uses it, and its GraphQL query has no variable $%.60s",
                           name, name);
    }
    if (!err) {
        /* A copy of the document, so that the template's reference count is never touched. */
        doc = json_object();
        if (!doc ||
            json_object_set_new(
                doc, "query",
                json_stringn(json_string_value(t->document), json_string_length(t->document))) ||
            json_object_set(doc, "variables", rest) ||
            (t->operation_name &&
             json_object_set_new(doc, "operationName", json_string(t->operation_name))))
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    if (!err && (json_dump_callback(doc, dump_to_buf, body, JSON_COMPACT) != 0 || body->err))
        err = buf_error(body, "request body", CONNECT_BODY_MAX, e);
    json_decref(doc);
    json_decref(vars);
    return err;
}

/*
 * Appends s escaped for XML and HTML text and attribute values (XML 1.0 section 2.4, and
 * &#39; because HTML 4 has no &apos;). False when s holds a character that XML 1.0 (section
 * 2.2, Char) cannot carry even as a reference: C0 controls other than tab, LF and CR, and
 * U+FFFE, U+FFFF (jansson has already refused surrogates and malformed UTF-8).
 */
static bool xml_escape(struct buf *b, struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return false;
        if (c == 0xEF && s.len - i >= 3 && (unsigned char)s.p[i + 1] == 0xBF &&
            ((unsigned char)s.p[i + 2] & 0xFE) == 0xBE)
            return false;
        switch (c) {
        case '&':
            buf_append_cstr(b, "&amp;");
            break;
        case '<':
            buf_append_cstr(b, "&lt;");
            break;
        case '>':
            buf_append_cstr(b, "&gt;");
            break;
        case '"':
            buf_append_cstr(b, "&quot;");
            break;
        case '\'':
            buf_append_cstr(b, "&#39;");
            break;
        default:
            buf_append_char(b, (char)c);
        }
    }
    return true;
}

/*
 * text/plain has no escapes: a value goes in as it is, so one that holds CR or LF (which
 * could forge lines of a line-based format) or another control character but tab is refused.
 */
static bool plain_ok(struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/*
 * One placeholder of an escape "xml" or "none" template; v may be NULL (absent). what names it
 * in messages ("argument title", "{{caller.email}}"); no message quotes a value.
 */
static enum md_err template_scalar(enum escape_kind esc, const struct piece *pc, const json_t *v,
                                   const char *what, struct buf *body, struct md_error *e)
{
    char tmp[SCALAR_TMP];
    struct slice s;

    /* A null argument is an absent one, as in the query: there is no text for it. */
    if (!v || json_is_null(v)) {
        if (pc->optional)
            return MD_OK;
        return md_error_set(e, MD_ERR_VALUE, "%s is required by the body template", what);
    }
    if (!scalar_text(v, tmp, &s))
        return md_error_set(e, MD_ERR_VALUE,
                            "%s must be a string, a number or a boolean to be put in the body "
                            "template",
                            what);
    if (esc == ESCAPE_XML && !xml_escape(body, s))
        return md_error_set(e, MD_ERR_VALUE,
                            "%s holds a character that XML cannot carry (a control character, "
                            "U+FFFE or U+FFFF)",
                            what);
    if (esc == ESCAPE_NONE) {
        if (!plain_ok(s))
            return md_error_set(e, MD_ERR_VALUE,
                                "%s holds CR, LF or another control character, which a "
                                "text/plain template cannot escape",
                                what);
        buf_append(body, s.p, s.len);
    }
    return MD_OK;
}

/* One placeholder of an escape "json" template: the value as a JSON value, or null. */
static enum md_err template_json(const struct piece *pc, const json_t *v, const char *what,
                                 struct buf *body, struct md_error *e)
{
    if (!v && !pc->optional)
        return md_error_set(e, MD_ERR_VALUE, "%s is required by the body template", what);
    if (!v)
        buf_append_cstr(body, "null");
    else if (json_dump_callback(v, dump_to_buf, body, JSON_COMPACT | JSON_ENCODE_ANY) != 0 &&
             !body->err)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    return MD_OK;
}

/*
 * The value of one placeholder: an argument (borrowed; NULL when absent), a field of the
 * credential (borrowed) or a caller attribute (a new string in *tmp, which the caller
 * releases). what receives its name for messages.
 */
static enum md_err piece_value(const struct piece *pc, const json_t *args,
                               const struct connect_request_ctx *ctx, const json_t **v,
                               json_t **tmp, char *what, size_t what_len, struct md_error *e)
{
    const char *cv;

    *v = NULL;
    *tmp = NULL;
    switch (pc->src) {
    case SRC_ARG:
        snprintf(what, what_len, "argument %s", pc->name);
        *v = args ? json_object_get(args, pc->name) : NULL;
        return MD_OK;
    case SRC_CALLER:
        snprintf(what, what_len, "{{caller.%s}}", pc->name);
        cv = caller_value(ctx, pc->name);
        if (!cv || !cv[0])
            return md_error_set(e, MD_ERR_VALUE,
                                "the body template uses %s, and this call has no calling user "
                                "with one",
                                what);
        *tmp = json_string(cv);
        if (!*tmp)
            return md_error_set(e, MD_ERR_VALUE, "%s is not valid UTF-8", what);
        *v = *tmp;
        return MD_OK;
    case SRC_CREDENTIAL:
        snprintf(what, what_len, "{{credential.%s}}", pc->name);
        *v = ctx && ctx->credential ? json_object_get(ctx->credential, pc->name) : NULL;
        if (!json_is_string(*v))
            return md_error_set(e, MD_ERR_VALUE,
                                "the body template uses %s, and the connector's credential has "
                                "no field %s (set it with the credential)",
                                what, pc->name);
        return MD_OK;
    }
    return md_error_set(e, MD_ERR_INTERNAL, "unknown placeholder");
}

/*
 * Fills the template text into body: its literal text, each placeholder replaced by its value
 * escaped as esc says. A JSON result is parsed once more at the end: the template's check
 * proved that it must parse, and this makes that a checked fact rather than an argument. Its
 * parser's message is left out when the text holds a credential, which it could quote.
 */
static enum md_err template_render(struct slice text, enum escape_kind esc, const json_t *args,
                                   const struct connect_request_ctx *ctx, struct buf *body,
                                   struct md_error *e)
{
    struct piece pc;
    struct md_error pe;
    json_t *parsed = NULL;
    bool has_credential = false;
    enum md_err err = MD_OK;

    for (size_t i = 0; i < text.len && !err;) {
        const json_t *v;
        json_t *tmp;
        char what[NAME_MAX_LEN + 32];

        piece_next(text.p, text.len, &i, &pc);
        if (!pc.is_arg) {
            buf_append(body, pc.text.p, pc.text.len);
            continue;
        }
        has_credential |= pc.src == SRC_CREDENTIAL;
        err = piece_value(&pc, args, ctx, &v, &tmp, what, sizeof what, e);
        if (!err && esc == ESCAPE_JSON)
            err = template_json(&pc, v, what, body, e);
        else if (!err)
            err = template_scalar(esc, &pc, v, what, body, e);
        json_decref(tmp);
    }
    if (!err && body->err)
        err = buf_error(body, "request body", CONNECT_BODY_MAX, e);
    if (!err && esc == ESCAPE_JSON &&
        json_parse_limited(body->p ? body->p : "", body->len, CONNECT_BODY_MAX, JSON_BODY_DEPTH,
                           &parsed, &pe) != MD_OK)
        err = md_error_set(e, MD_ERR_VALUE, "the JSON body does not parse once filled in%s%s",
                           has_credential ? "" : ": ", has_credential ? "" : pe.msg);
    json_decref(parsed);
    return err;
}

static enum md_err template_body(const struct tmpl *t, const json_t *args,
                                 const struct connect_request_ctx *ctx, struct buf *body,
                                 struct md_error *e)
{
    return template_render(t->text, t->escape, args, ctx, body, e);
}

/*
 * A {"type": "form"} body: each field's template filled in, then form-encoded as name=value
 * (the "form" body's percent-encoding), in the fields' order.
 */
static enum md_err form_fields_body(const struct tmpl *t, const json_t *args,
                                    const struct connect_request_ctx *ctx, struct buf *body,
                                    struct md_error *e)
{
    const char *name;
    json_t *v;
    struct form_field f;
    struct buf val;
    enum md_err err = MD_OK;

    buf_init(&val, CONNECT_BODY_MAX);
    json_object_foreach(json_mut(t->fields), name, v)
    {
        buf_reset(&val);
        err = form_field_parse(name, v, &f, e);
        if (!err)
            err = template_render(f.text, f.escape, args, ctx, &val, e);
        if (err)
            break;
        if (body->len)
            buf_append_char(body, '&');
        pct_encode(body, name, strlen(name));
        buf_append_char(body, '=');
        pct_encode(body, val.p ? val.p : "", val.len);
    }
    if (!err && body->err)
        err = buf_error(body, "request body", CONNECT_BODY_MAX, e);
    if (val.p)
        OPENSSL_cleanse(val.p, val.cap);
    buf_free(&val);
    return err;
}

/* Records the arguments that a template text's placeholders name in used: those are sent. */
static enum md_err text_mark_used(struct slice text, json_t *used, struct md_error *e)
{
    struct piece pc;
    for (size_t i = 0; i < text.len;) {
        piece_next(text.p, text.len, &i, &pc);
        if (pc.is_arg && pc.src == SRC_ARG && json_object_set_new(used, pc.name, json_null()))
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    return MD_OK;
}

/* Records the template's (or every form field's) placeholders in used. */
static enum md_err template_mark_used(const struct tmpl *t, json_t *used, struct md_error *e)
{
    const char *name;
    json_t *v;
    struct form_field f;
    enum md_err err = MD_OK;

    if (t->body == BODY_TEMPLATE)
        return text_mark_used(t->text, used, e);
    json_object_foreach(json_mut(t->fields), name, v)
    {
        err = form_field_parse(name, v, &f, e);
        if (!err)
            err = text_mark_used(f.text, used, e);
        if (err)
            break;
    }
    return err;
}

/*
 * The arguments that neither the path, the query nor a body template used, as a new object in
 * *out; without a body, or with a template, the refusal of the first such argument.
 */
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
            if (kind == BODY_NONE || kind == BODY_TEMPLATE || kind == BODY_FORM_FIELDS) {
                json_decref(rest);
                return md_error_set(e, MD_ERR_VALUE,
                                    kind == BODY_NONE
                                        ? "argument %.60s is not sent: this tool's request has "
                                          "no body and neither its path nor its query uses it"
                                        : "argument %.60s is not sent: neither this tool's path, "
                                          "its query nor its body template uses it",
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

/* The body of any kind from the arguments (all of them, and rest: those not yet used). */
static enum md_err body_dispatch(const struct tmpl *t, const json_t *args,
                                 const struct connect_request_ctx *ctx, json_t *rest,
                                 struct buf *body, struct md_error *e)
{
    switch (t->body) {
    case BODY_GRAPHQL:
        return graphql_body(t, rest, body, e);
    case BODY_TEMPLATE:
        return template_body(t, args, ctx, body, e);
    case BODY_FORM_FIELDS:
        return form_fields_body(t, args, ctx, body, e);
    default:
        return body_build(t->body, rest, body, e);
    }
}

static const char *content_type_of(const struct tmpl *t)
{
    switch (t->body) {
    case BODY_FORM:
    case BODY_FORM_FIELDS:
        return "application/x-www-form-urlencoded";
    case BODY_TEMPLATE:
        return t->content_type;
    default:
        return "application/json"; /* BODY_JSON and BODY_GRAPHQL (GraphQL over HTTP) */
    }
}

enum md_err connect_request_check(const json_t *request_def, struct md_error *e)
{
    struct tmpl t;
    return tmpl_parse(request_def, &t, e);
}

enum md_err connect_request_build(const char *base_url, const json_t *connector_headers,
                                  const json_t *request_def, const json_t *args,
                                  struct connect_request *out, struct md_error *e)
{
    return connect_request_build_ctx(base_url, connector_headers, request_def, args, NULL, out, e);
}

enum md_err connect_request_credential_fields(const json_t *request_def, json_t *names,
                                              struct md_error *e)
{
    struct tmpl t;
    struct piece pc;
    struct form_field f;
    const char *name;
    json_t *v;
    enum md_err err = tmpl_parse(request_def, &t, e);
    struct slice texts[FORM_FIELDS_MAX];
    size_t n = 0;

    if (err)
        return err;
    if (t.body == BODY_TEMPLATE)
        texts[n++] = t.text;
    json_object_foreach(json_mut(t.fields), name, v)
    {
        if (n < FORM_FIELDS_MAX && form_field_parse(name, v, &f, NULL) == MD_OK)
            texts[n++] = f.text;
    }
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < texts[k].len;) {
            piece_next(texts[k].p, texts[k].len, &i, &pc);
            if (pc.is_arg && pc.src == SRC_CREDENTIAL &&
                json_object_set_new(names, pc.name, json_null()))
                return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        }
    }
    return MD_OK;
}

enum md_err connect_request_build_ctx(const char *base_url, const json_t *connector_headers,
                                      const json_t *request_def, const json_t *args,
                                      const struct connect_request_ctx *ctx,
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
    err = path_expand(&url, t.path, args, ctx, used, e);
    if (!err && t.query)
        err = query_append(&url, t.query, args, used, e);
    if (err)
        goto out;
    if (url.err) {
        err = buf_error(&url, "URL", CONNECT_URL_MAX, e);
        goto out;
    }

    if (t.body == BODY_TEMPLATE || t.body == BODY_FORM_FIELDS)
        err = template_mark_used(&t, used, e);
    if (!err)
        err = rest_collect(args, used, t.body, &rest, e);
    if (err)
        goto out;
    if (t.body != BODY_NONE) {
        err = body_dispatch(&t, args, ctx, rest, &body, e);
        if (!err)
            err = header_add(out, "Content-Type", content_type_of(&t), e);
        if (err)
            goto out;
        out->body_len = body.len;
        out->body = buf_steal(&body);
        if (!out->body) {
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    out->method = t.method;
    out->url_len = url.len;
    out->url = buf_steal(&url);

out:
    json_decref(used);
    json_decref(rest);
    buf_free(&url);
    if (body.p)
        OPENSSL_cleanse(body.p, body.cap);
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
    /* A body template may have put a credential in it. */
    if (r->body)
        OPENSSL_cleanse(r->body, r->body_len);
    free(r->body);
    memset(r, 0, sizeof *r);
}
