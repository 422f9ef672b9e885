/*
 * Upstream HTTP responses as MCP tool results. response.h is the specification; the comments
 * here say why.
 */
#include "connect/response.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect/connect_int.h"
#include "core/json.h"
#include "core/str.h"

#define VENDOR_NAME_MAX 64
#define CONTENT_TYPE_SHOWN_MAX 100
#define TITLE_SCAN_MAX (64 * 1024) /* bytes of an HTML body searched for <title> */
#define NEXT_PAGE_PARAMS_MAX 64
#define LINK_VALUE_MAX 256      /* bytes kept of one Link parameter value */
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

/* --- UTF-8 ------------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    if (c < 0xE0)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0; /* overlong, or a UTF-16 surrogate */
        return 3;
    }
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
        return 0;
    if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
        return 0; /* overlong, or beyond U+10FFFF */
    return 4;
}

/* Whether s[0..n) is valid UTF-8 without NUL: text that can be shown as it is. */
static bool utf8_text(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0, k; i < n; i += k) {
        if (u[i] == 0 || (k = utf8_seq(u + i, n - i)) == 0)
            return false;
    }
    return true;
}
/* Appends s[0..n) to b with every invalid UTF-8 sequence and NUL replaced by U+FFFD. */
static void buf_append_utf8(struct buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0, k; i < n; i += k) {
        k = u[i] ? utf8_seq(u + i, n - i) : 0;
        if (k) {
            buf_append(b, s + i, k);
        } else {
            buf_append_cstr(b, "\xef\xbf\xbd");
            k = 1;
        }
    }
}

/* --- building results --------------------------------------------------------------------- */

static json_t *text_block(const char *s, size_t n)
{
    return json_pack("{s:s, s:s%}", "type", "text", "text", s, n);
}

/* {"content": [blocks...], "structuredContent": sc, "isError": is_error}; steals both. */
static json_t *result_new(json_t *content, json_t *sc, bool is_error)
{
    json_t *r = NULL;
    if (!content)
        goto out;
    r = json_pack("{s:O, s:b}", "content", content, "isError", is_error);
    if (r && sc && json_object_set(r, "structuredContent", sc) != 0) {
        json_decref(r);
        r = NULL;
    }
out:
    json_decref(content);
    json_decref(sc);
    return r;
}

/* A result of one text block; text is any bytes (made valid UTF-8). */
static json_t *text_result(const char *text, size_t n, json_t *sc, bool is_error)
{
    struct buf b;
    json_t *block;
    buf_init(&b, 0);
    buf_append_utf8(&b, text, n);
    block = b.err ? NULL : text_block(b.p ? b.p : "", b.len);
    buf_free(&b);
    if (!block) {
        json_decref(sc);
        return NULL;
    }
    return result_new(json_pack("[o]", block), sc, is_error);
}

json_t *connect_result_error(const char *msg)
{
    if (!msg)
        msg = "error";
    return text_result(msg, strlen(msg), NULL, true);
}

/* --- content types and bodies ---------------------------------------------------------- */

/* The media type of a Content-Type value, without parameters or surrounding space. */
static struct slice media_type(const char *ct)
{
    struct slice s = {"", 0};
    size_t end;
    if (!ct)
        return s;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    end = strcspn(ct, ";");
    while (end > 0 && (ct[end - 1] == ' ' || ct[end - 1] == '\t'))
        end--;
    s.p = ct;
    s.len = end;
    return s;
}

static bool is_json_type(const char *ct)
{
    struct slice m = media_type(ct);
    return slice_ieq_cstr(m, "application/json") ||
           (m.len > 5 && strncasecmp(m.p + m.len - 5, "+json", 5) == 0);
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/*
 * A scalar body (42, "ok", true): json_parse_limited takes only arrays and objects, so the
 * body is parsed inside brackets and must turn out to be exactly one value.
 */
static json_t *parse_scalar(const char *body, size_t len)
{
    struct md_error e;
    json_t *arr = NULL, *v = NULL;
    char *w;
    if (len > CONNECT_RESPONSE_JSON_MAX)
        return NULL;
    w = malloc(len + 2);
    if (!w)
        return NULL;
    w[0] = '[';
    memcpy(w + 1, body, len);
    w[len + 1] = ']';
    if (json_parse_limited(w, len + 2, CONNECT_RESPONSE_JSON_MAX + 2, 1, &arr, &e) == MD_OK &&
        json_array_size(arr) == 1)
        v = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    free(w);
    return v;
}

/* The body's JSON value (a new reference), or NULL when it is not JSON. */
static json_t *parse_json(const char *body, size_t len)
{
    const char *p = skip_ws(body, body + len);
    struct md_error e;
    json_t *v = NULL;
    if (p == body + len)
        return NULL;
    if (*p != '{' && *p != '[')
        return parse_scalar(body, len);
    if (json_parse_limited(body, len, CONNECT_RESPONSE_JSON_MAX, CONNECT_RESPONSE_JSON_DEPTH, &v,
                           &e) != MD_OK)
        return NULL;
    return v;
}

/* Whether to try the body as JSON: by its type, or, for errors, by its first character. */
static bool json_candidate(const struct connect_response_in *in, bool ok)
{
    const char *p;
    if (!in->content_type || is_json_type(in->content_type))
        return true;
    if (ok)
        return false;
    p = skip_ws(in->body, in->body + in->body_len);
    return p < in->body + in->body_len && (*p == '{' || *p == '[');
}

/* --- error messages ------------------------------------------------------------------------ */

/* A message of at most CONNECT_ERROR_MESSAGE_MAX bytes, cut on a UTF-8 boundary. */
struct msg {
    char p[CONNECT_ERROR_MESSAGE_MAX + 1];
    size_t len;
    bool cut;
};

/* Appends valid UTF-8 text, control characters as spaces, clipped at the maximum. */
static void msg_add(struct msg *m, const char *s, size_t n)
{
    size_t room = CONNECT_ERROR_MESSAGE_MAX - m->len;
    if (n > room) {
        n = str_utf8_cut(s, n, room);
        m->cut = true;
    }
    for (size_t i = 0; i < n; i++)
        m->p[m->len++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    m->p[m->len] = '\0';
}

static void msg_cstr(struct msg *m, const char *s)
{
    msg_add(m, s, strlen(s));
}

/* Appends sep (when m is not empty) and s, unless m already ends with s (title == detail). */
static void msg_part(struct msg *m, const char *sep, const char *s, size_t n)
{
    if (n == 0 || (m->len >= n && memcmp(m->p + m->len - n, s, n) == 0))
        return;
    if (m->len)
        msg_cstr(m, sep);
    msg_add(m, s, n);
}

/* msg_part for a JSON string member; anything else is skipped. */
static void msg_str(struct msg *m, const char *sep, const json_t *v)
{
    if (json_is_string(v))
        msg_part(m, sep, json_string_value(v), json_string_length(v));
}

/* Appends sub as " (sub)", or as the whole message when m is empty. */
static void msg_paren(struct msg *m, const struct msg *sub)
{
    if (!sub->len)
        return;
    if (m->len) {
        msg_cstr(m, " (");
        msg_add(m, sub->p, sub->len);
        msg_cstr(m, ")");
    } else {
        msg_add(m, sub->p, sub->len);
    }
}

static void msg_init(struct msg *m)
{
    m->len = 0;
    m->cut = false;
    m->p[0] = '\0';
}

/* Ends a cut message with an ellipsis, within the maximum. */
static void msg_finish(struct msg *m)
{
    size_t e = strlen(ELLIPSIS);
    while (m->len && m->p[m->len - 1] == ' ')
        m->len--;
    m->p[m->len] = '\0';
    if (!m->cut)
        return;
    m->len = str_utf8_cut(m->p, m->len, CONNECT_ERROR_MESSAGE_MAX - e);
    memcpy(m->p + m->len, ELLIPSIS, e + 1);
    m->len += e;
}

/* Each string of an array, joined by sep. */
static void msg_strings(struct msg *m, const char *sep, const json_t *arr)
{
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        msg_str(m, sep, s);
    }
}

/* GitHub's errors[]: {"resource", "field", "code"}, {"message"}, or a plain string. */
static void github_error_item(struct msg *m, const json_t *it)
{
    const json_t *res = json_object_get(it, "resource"), *field = json_object_get(it, "field");
    struct msg one;
    if (json_is_string(it) || json_is_string(json_object_get(it, "message"))) {
        msg_str(m, "; ", json_is_string(it) ? it : json_object_get(it, "message"));
        return;
    }
    msg_init(&one);
    msg_str(&one, "", res);
    msg_str(&one, ".", field);
    msg_str(&one, ": ", json_object_get(it, "code"));
    if (one.len)
        msg_part(m, "; ", one.p, one.len);
}

static void ex_github(struct msg *m, const json_t *v)
{
    const json_t *errs = json_object_get(v, "errors");
    struct msg sub;
    size_t i;
    json_t *it;
    msg_str(m, "", json_object_get(v, "message"));
    msg_init(&sub);
    json_array_foreach(errs, i, it)
    {
        github_error_item(&sub, it);
    }
    msg_paren(m, &sub);
}

static void ex_stripe(struct msg *m, const json_t *v)
{
    const json_t *err = json_object_get(v, "error"), *code, *param;
    struct msg sub;
    if (!json_is_object(err))
        return;
    msg_str(m, "", json_object_get(err, "message"));
    msg_init(&sub);
    code = json_object_get(err, "code");
    msg_str(&sub, ", ", json_is_string(code) ? code : json_object_get(err, "type"));
    msg_str(&sub, ", ", json_object_get(err, "decline_code"));
    param = json_object_get(err, "param");
    if (json_is_string(param) && json_string_length(param)) {
        msg_part(&sub, ", ", "param ", 6);
        msg_add(&sub, json_string_value(param), json_string_length(param));
    }
    msg_paren(m, &sub);
}

/* {"field": "message", ...} as "field: message; ...". */
static void msg_field_map(struct msg *m, const char *sep, const json_t *obj)
{
    const char *k;
    json_t *val;
    json_object_foreach(json_mut(obj), k, val)
    {
        if (!json_is_string(val))
            continue;
        msg_part(m, sep, k, strlen(k));
        msg_cstr(m, ": ");
        msg_add(m, json_string_value(val), json_string_length(val));
    }
}

static void ex_jira(struct msg *m, const json_t *v)
{
    msg_strings(m, "; ", json_object_get(v, "errorMessages"));
    msg_field_map(m, "; ", json_object_get(v, "errors"));
}

static void ex_salesforce(struct msg *m, const json_t *v)
{
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        struct msg one;
        msg_init(&one);
        msg_str(&one, "", json_object_get(it, "errorCode"));
        msg_str(&one, ": ", json_object_get(it, "message"));
        if (!one.len)
            msg_str(&one, "", it);
        if (one.len)
            msg_part(m, "; ", one.p, one.len);
    }
}

/* Zendesk's details: {"field": [{"description": "..."}, ...], ...}. */
static void zendesk_details(struct msg *m, const json_t *details)
{
    const char *k;
    json_t *list, *it;
    size_t i;
    json_object_foreach(json_mut(details), k, list)
    {
        json_array_foreach(list, i, it)
        {
            const json_t *d = json_is_string(it) ? it : json_object_get(it, "description");
            if (!json_is_string(d))
                continue;
            msg_part(m, "; ", k, strlen(k));
            msg_cstr(m, ": ");
            msg_add(m, json_string_value(d), json_string_length(d));
        }
    }
}

static void ex_zendesk(struct msg *m, const json_t *v)
{
    const json_t *err = json_object_get(v, "error");
    struct msg sub;
    if (json_is_object(err)) {
        msg_str(m, "", json_object_get(err, "title"));
        msg_str(m, ": ", json_object_get(err, "message"));
        return;
    }
    msg_str(m, "", err);
    msg_str(m, ": ", json_object_get(v, "description"));
    msg_init(&sub);
    zendesk_details(&sub, json_object_get(v, "details"));
    msg_paren(m, &sub);
}

static void ex_sentry(struct msg *m, const json_t *v)
{
    const json_t *d = json_object_get(v, "detail");
    const char *k;
    json_t *val;
    if (json_is_string(d) || json_is_object(d)) {
        msg_str(m, "", json_is_string(d) ? d : json_object_get(d, "message"));
        return;
    }
    /* Django REST framework's field errors: {"query": ["Invalid query"], ...}. */
    json_object_foreach(json_mut(v), k, val)
    {
        if (!json_is_array(val) || !json_is_string(json_array_get(val, 0)))
            continue;
        msg_part(m, "; ", k, strlen(k));
        msg_cstr(m, ": ");
        msg_add(m, json_string_value(json_array_get(val, 0)),
                json_string_length(json_array_get(val, 0)));
    }
}

static void ex_datadog(struct msg *m, const json_t *v)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(v, "errors"), i, it)
    {
        struct msg one;
        msg_init(&one);
        msg_str(&one, "", json_is_string(it) ? it : json_object_get(it, "title"));
        msg_str(&one, ": ", json_object_get(it, "detail"));
        if (one.len)
            msg_part(m, "; ", one.p, one.len);
    }
}

static void ex_slack(struct msg *m, const json_t *v)
{
    const json_t *needed = json_object_get(v, "needed");
    struct msg sub;
    msg_str(m, "", json_object_get(v, "error"));
    msg_init(&sub);
    if (json_is_string(needed)) {
        msg_cstr(&sub, "needed scope: ");
        msg_add(&sub, json_string_value(needed), json_string_length(needed));
    }
    msg_strings(&sub, "; ", json_object_get(json_object_get(v, "response_metadata"), "messages"));
    msg_paren(m, &sub);
}

/* Common members, for connectors without a vendor shape and bodies that are not in it. */
static void ex_generic(struct msg *m, const json_t *v)
{
    const json_t *err = json_object_get(v, "error"), *d = json_object_get(v, "detail");
    if (json_is_array(v)) {
        ex_salesforce(m, v);
        return;
    }
    if (json_is_object(err)) {
        msg_str(m, "", json_object_get(err, "title"));
        msg_str(m, ": ", json_object_get(err, "message"));
        if (!m->len)
            msg_str(m, "", json_object_get(err, "code"));
        return;
    }
    msg_str(m, ": ", err);
    msg_str(m, ": ", json_object_get(v, "title"));
    msg_str(m, ": ", json_object_get(v, "message"));
    msg_str(m, ": ", json_object_get(v, "error_description"));
    if (json_is_string(err))
        msg_str(m, ": ", json_object_get(v, "description"));
    msg_str(m, ": ", json_is_object(d) ? json_object_get(d, "message") : d);
    if (m->len)
        return;
    if (json_is_object(json_object_get(v, "errors")) || json_object_get(v, "errorMessages"))
        ex_jira(m, v);
    else
        ex_datadog(m, v);
}

static const struct vendor {
    const char *connector;
    const char *name;
    void (*extract)(struct msg *m, const json_t *v);
} vendors[] = {
    {"github", "GitHub", ex_github},    {"stripe", "Stripe", ex_stripe},
    {"jira", "Jira", ex_jira},          {"salesforce", "Salesforce", ex_salesforce},
    {"zendesk", "Zendesk", ex_zendesk}, {"sentry", "Sentry", ex_sentry},
    {"datadog", "Datadog", ex_datadog}, {"slack", "Slack", ex_slack},
};

static const struct vendor *vendor_find(const char *connector)
{
    for (size_t i = 0; connector && i < sizeof vendors / sizeof vendors[0]; i++) {
        if (strcmp(vendors[i].connector, connector) == 0)
            return &vendors[i];
    }
    return NULL;
}

/* Case-insensitive search for an ASCII needle in n bytes. */
static const char *find_ci(const char *h, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (strncasecmp(h + i, needle, k) == 0)
            return h + i;
    }
    return NULL;
}

/* The text of an HTML page's <title>, white space collapsed. */
static void html_title(struct msg *m, const char *body, size_t len)
{
    const char *end = body + (len < TITLE_SCAN_MAX ? len : TITLE_SCAN_MAX);
    const char *t = find_ci(body, (size_t)(end - body), "<title"), *close;
    bool space = false;
    if (!t || !(t = memchr(t, '>', (size_t)(end - t))))
        return;
    t++;
    close = find_ci(t, (size_t)(end - t), "</title");
    if (!close)
        return;
    for (t = skip_ws(t, close); t < close; t++) {
        if (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n') {
            space = true;
            continue;
        }
        if (space && m->len)
            msg_cstr(m, " ");
        space = false;
        msg_add(m, t, 1);
    }
}

/* The message of a body that is not JSON: an HTML title, or the text itself. */
static void text_message(struct msg *m, const struct connect_response_in *in)
{
    const char *p = skip_ws(in->body, in->body + in->body_len), *end = in->body + in->body_len;
    if (!utf8_text(in->body, in->body_len))
        return;
    /* An HTML page says little but its title; other markup (an XML error) is shown as text. */
    if (slice_ieq_cstr(media_type(in->content_type), "text/html") ||
        find_ci(p, (size_t)(end - p) < 1024 ? (size_t)(end - p) : 1024, "<html")) {
        html_title(m, in->body, in->body_len);
        return;
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    msg_add(m, p, (size_t)(end - p));
}

static const char *reason_phrase(int status)
{
    static const struct {
        int status;
        const char *text;
    } phrases[] = {
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {423, "Locked"},
        {424, "Failed Dependency"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        if (phrases[i].status == status)
            return phrases[i].text;
    }
    return NULL;
}

/* --- the connector's response rules (connect_response_check) --------------------------- */

#define RULES_MAX 16    /* rules in error_when */
#define POINTERS_MAX 16 /* pointers in one list */

static bool is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

/* A pointer, or an array of 1 to POINTERS_MAX pointers. */
static enum md_err pointers_check(const json_t *v, const char *where, struct md_error *e)
{
    size_t i;
    json_t *p;
    if (json_is_string(v)) {
        if (!connect__pointer_ok(json_string_value(v), json_string_length(v)))
            return md_error_set(e, MD_ERR_VALUE,
                                "%s must be a JSON Pointer (\"\" or \"/a/0/b\", RFC 6901) of at "
                                "most %d bytes",
                                where, CONNECT__POINTER_MAX);
        return MD_OK;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > POINTERS_MAX)
        return md_error_set(e, MD_ERR_VALUE,
                            "%s must be a JSON Pointer or an array of 1 to %d of them", where,
                            POINTERS_MAX);
    json_array_foreach(v, i, p)
    {
        if (!json_is_string(p) || !connect__pointer_ok(json_string_value(p), json_string_length(p)))
            return md_error_set(e, MD_ERR_VALUE,
                                "%s[%zu] must be a JSON Pointer (\"\" or \"/a/0/b\", RFC 6901) "
                                "of at most %d bytes",
                                where, i, CONNECT__POINTER_MAX);
    }
    return MD_OK;
}

static enum md_err rule_check(const json_t *r, const char *where, struct md_error *e)
{
    const char *k;
    json_t *v;
    int tests = 0;

    if (!json_is_object(r))
        return md_error_set(e, MD_ERR_VALUE,
                            "%s must be an object {\"pointer\", \"equals\" | \"not_equals\" | "
                            "\"present\"}",
                            where);
    json_object_foreach(json_mut(r), k, v)
    {
        char at[96];
        enum md_err err = MD_OK;
        snprintf(at, sizeof at, "%s.%s", where, k);
        if (strcmp(k, "pointer") == 0) {
            if (!json_is_string(v))
                return md_error_set(e, MD_ERR_VALUE, "%s must be a JSON Pointer", at);
            err = pointers_check(v, at, e);
        } else if (strcmp(k, "message") == 0) {
            err = pointers_check(v, at, e);
        } else if (strcmp(k, "equals") == 0 || strcmp(k, "not_equals") == 0) {
            tests++;
            if (!is_scalar(v))
                err = md_error_set(e, MD_ERR_VALUE,
                                   "%s must be a string, a number, a boolean or null", at);
        } else if (strcmp(k, "present") == 0) {
            tests++;
            if (!json_is_true(v))
                err = md_error_set(e, MD_ERR_VALUE, "%s must be true", at);
        } else {
            /* A rule this code would not apply must not be silently ignored. */
            err = md_error_set(e, MD_ERR_VALUE,
                               "%.90s is not a known field (known: pointer, equals, not_equals, "
                               "present, message)",
                               at);
        }
        if (err)
            return err;
    }
    if (!json_object_get(r, "pointer"))
        return md_error_set(e, MD_ERR_VALUE, "%s.pointer is required", where);
    if (tests != 1)
        return md_error_set(e, MD_ERR_VALUE,
                            "%s must have exactly one of \"equals\", \"not_equals\" and "
                            "\"present\"",
                            where);
    return MD_OK;
}

enum md_err connect_response_check(const json_t *def, struct md_error *e)
{
    const json_t *when, *err_def;
    const char *k;
    json_t *v;
    size_t i;
    enum md_err err;

    if (!def)
        return MD_OK;
    if (!json_is_object(def))
        return md_error_set(e, MD_ERR_VALUE,
                            "response must be an object with \"error_when\" and/or \"error\"");
    json_object_foreach(json_mut(def), k, v)
    {
        if (strcmp(k, "error_when") && strcmp(k, "error"))
            return md_error_set(e, MD_ERR_VALUE,
                                "response.%.60s is not a known field (known: error_when, error)",
                                k);
    }
    when = json_object_get(def, "error_when");
    if (json_is_array(when)) {
        if (json_array_size(when) == 0 || json_array_size(when) > RULES_MAX)
            return md_error_set(e, MD_ERR_VALUE,
                                "response.error_when must be a rule or an array of 1 to %d rules",
                                RULES_MAX);
        json_array_foreach(when, i, v)
        {
            char where[48];
            snprintf(where, sizeof where, "response.error_when[%zu]", i);
            if ((err = rule_check(v, where, e)) != MD_OK)
                return err;
        }
    } else if (when && (err = rule_check(when, "response.error_when", e)) != MD_OK) {
        return err;
    }
    err_def = json_object_get(def, "error");
    if (!err_def)
        return MD_OK;
    if (!json_is_object(err_def) || json_object_size(err_def) == 0)
        return md_error_set(e, MD_ERR_VALUE,
                            "response.error must be an object with \"message\", \"detail\" "
                            "and/or \"code\"");
    json_object_foreach(json_mut(err_def), k, v)
    {
        char where[48];
        if (strcmp(k, "message") && strcmp(k, "detail") && strcmp(k, "code"))
            return md_error_set(e, MD_ERR_VALUE,
                                "response.error.%.40s is not a known field (known: message, "
                                "detail, code)",
                                k);
        snprintf(where, sizeof where, "response.error.%s", k);
        if ((err = pointers_check(v, where, e)) != MD_OK)
            return err;
    }
    return MD_OK;
}

/* The upstream's body as the rules read it: its JSON, else (text that may be XML) its bytes. */
struct body_view {
    const json_t *json;
    const char *xml;
    size_t xml_len;
};

/* White space trimmed from both ends of s[0..n). */
static struct slice trimmed(const char *s, size_t n)
{
    struct slice t = {s, n};
    while (t.len && (t.p[0] == ' ' || t.p[0] == '\t' || t.p[0] == '\r' || t.p[0] == '\n')) {
        t.p++;
        t.len--;
    }
    while (t.len && (t.p[t.len - 1] == ' ' || t.p[t.len - 1] == '\t' || t.p[t.len - 1] == '\r' ||
                     t.p[t.len - 1] == '\n'))
        t.len--;
    return t;
}

/*
 * The text of the XML element at pointer p, trimmed, into b (initialised by the caller); false
 * when there is no such element. Text that is not valid UTF-8 counts as absent.
 */
static bool xml_text(const struct body_view *bv, const char *p, struct buf *b, struct slice *out)
{
    if (!bv->xml || !connect__xml_at(bv->xml, bv->xml_len, p, b) || b->err)
        return false;
    *out = trimmed(b->p ? b->p : "", b->len);
    return utf8_text(out->p, out->len);
}

/* A JSON scalar as text: a string as it is, numbers as JSON writes them, true / false. */
static bool scalar_shown(const json_t *v, char *tmp, size_t cap, struct slice *out)
{
    if (json_is_string(v)) {
        *out = (struct slice){json_string_value(v), json_string_length(v)};
        return true;
    }
    if (json_is_integer(v))
        snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(tmp, cap, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(tmp, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        return false;
    *out = slice_from_cstr(tmp);
    return true;
}

/*
 * Appends s[0..n) with each run of white space and control characters as one space: a vendor's
 * text may be laid out for a screen (ServiceNow's "Data Policy Exception: \n\tThe following
 * fields ...", an XML element's indentation).
 */
static void msg_add_collapsed(struct msg *m, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        if ((unsigned char)s[i] <= 0x20) {
            while (j < n && (unsigned char)s[j] <= 0x20)
                j++;
            msg_add(m, " ", 1);
        } else {
            while (j < n && (unsigned char)s[j] > 0x20)
                j++;
            msg_add(m, s + i, j - i);
        }
        i = j;
    }
}

/* The text at pointer p, appended to m as one piece; whether there was any. */
static bool piece_at(const struct body_view *bv, const char *p, struct msg *m)
{
    size_t before = m->len;
    if (bv->json) {
        const json_t *v = connect__json_at(bv->json, p), *it;
        char tmp[64];
        struct slice s;
        size_t i;
        if (json_is_array(v)) {
            /* A list of messages (PagerDuty's error.errors): each string, joined. */
            json_array_foreach(json_mut(v), i, it)
            {
                if (json_is_string(it)) {
                    s = trimmed(json_string_value(it), json_string_length(it));
                    if (s.len && m->len > before)
                        msg_cstr(m, "; ");
                    msg_add_collapsed(m, s.p, s.len);
                }
            }
        } else if (scalar_shown(v, tmp, sizeof tmp, &s)) {
            s = trimmed(s.p, s.len);
            msg_add_collapsed(m, s.p, s.len);
        }
    } else {
        struct buf b;
        struct slice s;
        buf_init(&b, 0);
        if (xml_text(bv, p, &b, &s))
            msg_add_collapsed(m, s.p, s.len);
        buf_free(&b);
    }
    return m->len > before;
}

/* The first pointer of list (a pointer or an array of them) that has text, into m. */
static bool first_piece(const struct body_view *bv, const json_t *list, struct msg *m)
{
    size_t i;
    json_t *p;
    if (json_is_string(list))
        return piece_at(bv, json_string_value(list), m);
    json_array_foreach(json_mut(list), i, p)
    {
        if (json_is_string(p) && piece_at(bv, json_string_value(p), m))
            return true;
    }
    return false;
}

/*
 * Appends one more part: as the message when m is empty, instead of it when the part repeats
 * it and says more (QuickBooks' Detail "Object Not Found : ..." after its Message "Object Not
 * Found"), not at all when m already ends with it, else after sep.
 */
static void msg_join(struct msg *m, const char *sep, const struct msg *part)
{
    if (!part->len)
        return;
    if (m->len && part->len > m->len && memcmp(part->p, m->p, m->len) == 0) {
        msg_init(m);
        msg_add(m, part->p, part->len);
        m->cut = part->cut;
        return;
    }
    msg_part(m, sep, part->p, part->len);
}

/*
 * The message that the connector declares for an error: the rule's message pointers, then
 * response.error.message, the first with text; each response.error.detail with text after it;
 * the first response.error.code with text as " (code X)". m stays empty when none has text.
 */
static void declared_message(struct msg *m, const struct body_view *bv, const json_t *rule,
                             const json_t *err_def)
{
    const json_t *detail = json_object_get(err_def, "detail"), *code;
    struct msg *part = malloc(sizeof *part);
    size_t i;
    json_t *p;

    if (!part)
        return;
    msg_init(part);
    if (!first_piece(bv, json_object_get(rule, "message"), part))
        first_piece(bv, json_object_get(err_def, "message"), part);
    msg_join(m, "", part);
    if (json_is_string(detail)) {
        msg_init(part);
        piece_at(bv, json_string_value(detail), part);
        msg_join(m, ": ", part);
    }
    json_array_foreach(detail, i, p)
    {
        msg_init(part);
        if (json_is_string(p))
            piece_at(bv, json_string_value(p), part);
        msg_join(m, ": ", part);
    }
    code = json_object_get(err_def, "code");
    msg_init(part);
    if (code && first_piece(bv, code, part)) {
        bool alone = m->len == 0;
        msg_cstr(m, alone ? "code " : " (code ");
        msg_add(m, part->p, part->len);
        if (!alone)
            msg_cstr(m, ")");
    }
    free(part);
}

/* Whether two JSON scalars are equal, numbers by value (200 equals 200.0). */
static bool scalar_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

/* Whether an element's text equals a rule's scalar: as a number for a number, else as text. */
static bool xml_equal(struct slice text, const json_t *want)
{
    char tmp[64], *end;
    struct slice s;
    if (json_is_number(want)) {
        char num[64];
        double d;
        if (text.len == 0 || text.len >= sizeof num)
            return false;
        memcpy(num, text.p, text.len);
        num[text.len] = '\0';
        d = strtod(num, &end);
        return *end == '\0' && d == json_number_value(want);
    }
    if (!scalar_shown(want, tmp, sizeof tmp, &s))
        return false; /* null: an element's text is never null */
    return s.len == text.len && memcmp(s.p, text.p, s.len) == 0;
}

/* Whether one rule of error_when says that this answer is an error. */
static bool rule_matches(const struct body_view *bv, const json_t *rule)
{
    const char *p = json_string_value(json_object_get(rule, "pointer"));
    const json_t *eq = json_object_get(rule, "equals"), *ne = json_object_get(rule, "not_equals");
    bool hit = false;

    if (!p)
        return false;
    if (bv->json) {
        const json_t *v = connect__json_at(bv->json, p);
        if (!v)
            return false;
        if (eq)
            return scalar_equal(v, eq);
        if (ne)
            return !scalar_equal(v, ne);
        /* present: a value that says something (GraphQL's errors, when there are any). */
        return !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0) &&
               !(json_is_array(v) && json_array_size(v) == 0) &&
               !(json_is_object(v) && json_object_size(v) == 0);
    } else {
        struct buf b;
        struct slice text;
        buf_init(&b, 0);
        if (xml_text(bv, p, &b, &text))
            hit = eq ? xml_equal(text, eq) : ne ? !xml_equal(text, ne) : text.len > 0;
        buf_free(&b);
    }
    return hit;
}

/* The first rule of the connector's error_when that matches, or NULL. */
static const json_t *error_rule(const struct connect_response_in *in, const struct body_view *bv)
{
    const json_t *when = json_object_get(in->rules, "error_when");
    size_t i;
    json_t *r;
    if (json_is_object(when))
        return rule_matches(bv, when) ? when : NULL;
    json_array_foreach(json_mut(when), i, r)
    {
        if (rule_matches(bv, r))
            return r;
    }
    return NULL;
}

/*
 * The vendor's message for an error response; v is the body's JSON or NULL, rule the error_when
 * rule that made a 2xx answer an error (or NULL). What the connector declares comes first, then
 * the vendor's shape that this file knows, then the common members.
 */
static void error_message(struct msg *m, const struct connect_response_in *in, const json_t *v,
                          const struct vendor *vd, const json_t *rule)
{
    const char *phrase;
    if (in->rules) {
        struct body_view bv = {v, v ? NULL : in->body, v ? 0 : in->body_len};
        declared_message(m, &bv, rule, json_object_get(in->rules, "error"));
    }
    if (v && vd && !m->len)
        vd->extract(m, v);
    if (v && !m->len)
        ex_generic(m, v);
    if (v && !m->len) {
        /* An unknown shape: the body itself tells the agent more than the status alone. */
        char *dump = json_dump_compact(v);
        if (dump && strcmp(dump, "{}") != 0 && strcmp(dump, "[]") != 0)
            msg_cstr(m, dump);
        free(dump);
    }
    if (!v && in->body_len && !m->len)
        text_message(m, in);
    if (!m->len && (phrase = reason_phrase(in->status)) != NULL)
        msg_cstr(m, phrase);
    msg_finish(m);
}

/* The vendor's proper name, or the connector name made printable, or "Upstream". */
static void vendor_name(const char *connector, const struct vendor *vd, struct buf *b)
{
    size_t n;
    if (vd) {
        buf_append_cstr(b, vd->name);
        return;
    }
    if (!connector || !*connector) {
        buf_append_cstr(b, "Upstream");
        return;
    }
    n = strlen(connector);
    buf_append_utf8(b, connector, n < VENDOR_NAME_MAX ? n : VENDOR_NAME_MAX);
}

/*
 * An error result; v (borrowed) is the body's JSON or NULL; rule (borrowed) the error_when rule
 * that made a 2xx answer an error, which then has no HTTP status in its text: the HTTP exchange
 * itself succeeded.
 */
static json_t *error_result(const struct connect_response_in *in, const json_t *v,
                            const json_t *rule)
{
    const struct vendor *vd = vendor_find(in->connector);
    struct msg *m = malloc(sizeof *m);
    json_t *sc = NULL, *r = NULL;
    struct buf b;

    buf_init(&b, 0);
    if (!m)
        goto out;
    msg_init(m);
    error_message(m, in, v, vd, rule);
    vendor_name(in->connector, vd, &b);
    if (rule)
        buf_appendf(&b, " API error: %s", m->len ? m->p : "the answer reports a failure");
    else if (m->len)
        buf_appendf(&b, " API error: HTTP %d: %s", in->status, m->p);
    else
        buf_appendf(&b, " API error: HTTP %d", in->status);
    sc = v ? json_pack("{s:i, s:O}", "status", in->status, "error", v)
           : json_pack("{s:i}", "status", in->status);
    if (!sc || b.err)
        goto out;
    r = text_result(b.p, b.len, sc, true);
    sc = NULL;
out:
    json_decref(sc);
    buf_free(&b);
    free(m);
    return r;
}

/* --- Link header (RFC 8288) and the next page ------------------------------------------- */

struct lscan {
    const char *p;
    size_t n, i;
};

static void ls_ows(struct lscan *s)
{
    while (s->i < s->n && (s->p[s->i] == ' ' || s->p[s->i] == '\t'))
        s->i++;
}

/* RFC 9110 tchar. */
static bool tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A token or a quoted-string (backslash escapes), the first cap - 1 bytes kept. */
static bool ls_value(struct lscan *s, char *out, size_t cap)
{
    size_t k = 0;
    if (s->i < s->n && s->p[s->i] == '"') {
        for (s->i++;; s->i++) {
            char c;
            if (s->i >= s->n)
                return false;
            c = s->p[s->i];
            if (c == '"')
                break;
            if (c == '\\' && ++s->i >= s->n)
                return false;
            if (k + 1 < cap)
                out[k++] = s->p[s->i];
        }
        s->i++;
    } else {
        while (s->i < s->n && tchar(s->p[s->i])) {
            if (k + 1 < cap)
                out[k++] = s->p[s->i];
            s->i++;
        }
    }
    out[k] = '\0';
    return true;
}

/* Whether a rel value lists "next" among its space-separated relation types. */
static bool rel_has_next(const char *rel)
{
    for (const char *p = rel; *p;) {
        size_t n;
        while (*p == ' ')
            p++;
        n = strcspn(p, " ");
        if (n == 4 && strncasecmp(p, "next", 4) == 0)
            return true;
        p += n;
    }
    return false;
}

/*
 * Reads the parameters of one link-value (after its "<target>") up to the next ',' or the end:
 * *next when its first rel lists "next" and it does not say results="false". False when the
 * header is malformed from here on, which ends the search.
 */
static bool ls_params(struct lscan *s, bool *next)
{
    char value[LINK_VALUE_MAX];
    bool rel_seen = false, is_next = false, no_results = false;
    for (;;) {
        struct slice name;
        ls_ows(s);
        if (s->i >= s->n || s->p[s->i] == ',')
            break;
        if (s->p[s->i] != ';')
            return false;
        s->i++;
        ls_ows(s);
        name.p = s->p + s->i;
        while (s->i < s->n && tchar(s->p[s->i]))
            s->i++;
        name.len = (size_t)(s->p + s->i - name.p);
        if (name.len == 0)
            return false;
        ls_ows(s);
        value[0] = '\0';
        if (s->i < s->n && s->p[s->i] == '=') {
            s->i++;
            ls_ows(s);
            if (!ls_value(s, value, sizeof value))
                return false;
        }
        if (slice_ieq_cstr(name, "rel") && !rel_seen) {
            rel_seen = true; /* RFC 8288 section 3.3: later rel parameters are ignored */
            is_next = rel_has_next(value);
        } else if (slice_ieq_cstr(name, "results")) {
            no_results = strcasecmp(value, "false") == 0;
        }
    }
    *next = is_next && !no_results;
    return true;
}

/* The target of the first link with relation "next"; false when there is none. */
static bool link_next(const char *h, struct slice *target)
{
    struct lscan s = {h, strlen(h), 0};
    for (;;) {
        const char *gt;
        bool next = false;
        while (s.i < s.n && (s.p[s.i] == ' ' || s.p[s.i] == '\t' || s.p[s.i] == ','))
            s.i++;
        if (s.i >= s.n || s.p[s.i] != '<')
            return false;
        gt = memchr(s.p + s.i + 1, '>', s.n - s.i - 1);
        if (!gt)
            return false;
        target->p = s.p + s.i + 1;
        target->len = (size_t)(gt - target->p);
        s.i = (size_t)(gt - s.p) + 1;
        if (!ls_params(&s, &next))
            return false;
        if (next)
            return true;
    }
}

/* Percent-decodes s into out (room for s.len bytes), '+' as a space; the decoded length. */
static size_t pct_decode(struct slice s, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < s.len; i++) {
        int hi, lo;
        if (s.p[i] == '+') {
            out[k++] = ' ';
        } else if (s.p[i] == '%' && i + 2 < s.len && (hi = str_hex_digit(s.p[i + 1])) >= 0 &&
                   (lo = str_hex_digit(s.p[i + 2])) >= 0) {
            out[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[k++] = s.p[i];
        }
    }
    return k;
}

/* Adds one name=value pair of a query to obj, when both decode to text and name is new. */
static void query_pair(json_t *obj, struct slice pair, char *name, char *value)
{
    const char *eq = memchr(pair.p, '=', pair.len);
    struct slice n = {pair.p, eq ? (size_t)(eq - pair.p) : pair.len};
    struct slice v = {eq ? eq + 1 : pair.p + pair.len, eq ? pair.len - n.len - 1 : 0};
    size_t nl = pct_decode(n, name), vl = pct_decode(v, value);
    name[nl] = '\0';
    if (nl == 0 || !utf8_text(name, nl) || !utf8_text(value, vl) || json_object_get(obj, name))
        return;
    json_object_set_new(obj, name, json_stringn(value, vl));
}

/* The query parameters of a URL as an object of strings; NULL when there are none. */
static json_t *query_params(struct slice url)
{
    const char *q = memchr(url.p, '?', url.len), *end = url.p + url.len, *hash;
    char *name = NULL, *value = NULL;
    json_t *obj = NULL;
    if (!q)
        return NULL;
    q++;
    hash = memchr(q, '#', (size_t)(end - q));
    if (hash)
        end = hash;
    name = malloc((size_t)(end - q) + 1);
    value = malloc((size_t)(end - q) + 1);
    obj = json_object();
    if (!name || !value || !obj)
        goto fail;
    while (q < end && json_object_size(obj) < NEXT_PAGE_PARAMS_MAX) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        struct slice pair = {q, (size_t)((amp ? amp : end) - q)};
        if (pair.len)
            query_pair(obj, pair, name, value);
        q = amp ? amp + 1 : end;
    }
    if (json_object_size(obj) == 0)
        goto fail;
    free(name);
    free(value);
    return obj;
fail:
    json_decref(obj);
    free(name);
    free(value);
    return NULL;
}

/* --- successes ------------------------------------------------------------------------- */

/* structuredContent.next_page and its text block, when the Link header has a next page. */
static bool add_next_page(const struct connect_response_in *in, json_t *sc, json_t *content)
{
    struct slice target;
    json_t *next, *wrap;
    char *text;
    bool ok = false;
    if (!in->link || !link_next(in->link, &target) || json_object_get(sc, "next_page"))
        return true;
    next = query_params(target);
    if (!next)
        return true;
    wrap = json_pack("{s:O}", "next_page", next);
    text = wrap ? json_dump_compact(wrap) : NULL;
    if (text && json_object_set(sc, "next_page", next) == 0 &&
        json_array_append_new(content, text_block(text, strlen(text))) == 0)
        ok = true;
    free(text);
    json_decref(wrap);
    json_decref(next);
    return ok;
}

/* A 2xx JSON body: its text, structuredContent, and the next page. v is borrowed. */
static json_t *json_result(const struct connect_response_in *in, json_t *v)
{
    char *text = json_dump_compact(v);
    json_t *sc = NULL, *content = NULL;
    if (!text)
        goto fail;
    sc = json_is_object(v) ? json_incref(v) : json_pack("{s:O}", "result", v);
    content = json_pack("[o]", text_block(text, strlen(text)));
    free(text);
    if (!sc || !content || !add_next_page(in, sc, content))
        goto fail;
    return result_new(content, sc, false);
fail:
    json_decref(content);
    json_decref(sc);
    return NULL;
}

/* A 2xx body that is not JSON: the text itself, or what it is when it is not text. */
static json_t *other_result(const struct connect_response_in *in)
{
    struct buf b;
    struct slice ct = media_type(in->content_type);
    json_t *r;
    if (utf8_text(in->body, in->body_len))
        return text_result(in->body, in->body_len, NULL, false);
    buf_init(&b, 0);
    buf_appendf(&b, "(%zu bytes of binary content, type ", in->body_len);
    if (ct.len == 0)
        buf_append_cstr(&b, "unknown");
    for (size_t i = 0; i < ct.len && i < CONTENT_TYPE_SHOWN_MAX; i++)
        buf_append_char(&b, ct.p[i] >= 0x20 && ct.p[i] < 0x7f ? ct.p[i] : '?');
    buf_append_char(&b, ')');
    r = b.err ? NULL : text_result(b.p, b.len, NULL, false);
    buf_free(&b);
    return r;
}

json_t *connect_response_result(const struct connect_response_in *in)
{
    struct connect_response_in r = *in;
    bool ok = in->status >= 200 && in->status <= 299;
    json_t *v = NULL, *res;
    const json_t *rule = NULL;
    char text[64];

    if (!r.body)
        r.body_len = 0;
    if (!r.body_len)
        r.body = "";
    if (ok && (r.status == 204 || r.body_len == 0)) {
        snprintf(text, sizeof text, "(no content, HTTP %d)", r.status);
        return text_result(text, strlen(text), NULL, false);
    }
    if (r.body_len && json_candidate(&r, ok))
        v = parse_json(r.body, r.body_len);
    if (ok && json_object_get(r.rules, "error_when")) {
        struct body_view bv = {v, v ? NULL : r.body, v ? 0 : r.body_len};
        rule = error_rule(&r, &bv);
    }
    if (rule)
        res = error_result(&r, v, rule);
    else if (ok)
        res = v ? json_result(&r, v) : other_result(&r);
    else
        res = error_result(&r, v, NULL);
    json_decref(v);
    return res;
}
