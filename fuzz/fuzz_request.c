/*
 * libFuzzer driver for request templates (connect_request_build): the input is a tool's
 * `request` object, a newline, and a call's arguments, both JSON, parsed by the same limited
 * parser as an agent's message. Whatever the template and the arguments, a built request must
 * keep to what connect.h promises; the checks below restate those promises independently of
 * request.c and abort on any violation:
 *
 * - the URL is the base URL followed by '/', printable ASCII without space, '#' or a stray
 *   '%', at most one '?', within CONNECT_URL_MAX;
 * - its path has exactly as many '/' as the template's path (an argument never adds one) and
 *   no "." or ".." segment, even percent-encoded (an argument never climbs the path);
 * - no header name or value holds CR, LF or NUL, and none is Authorization;
 * - a body comes with a Content-Type and vice versa; a JSON body parses as an object; a form
 *   body holds only unreserved characters, %XX, '[', ']', '=' and '&';
 * - a GraphQL body is {"query", "variables", "operationName"?} whose query is the template's,
 *   byte for byte (an argument never enters it), and whose variables are arguments unchanged;
 * - a template body has the template's content type; with escape "json" it parses as an
 *   object or array; with "xml" it holds exactly as many < > " ' as the template (an argument
 *   never adds markup); with "none" exactly as many CR and LF as the template;
 * - building twice gives the same request; a refusal leaves the output empty and says why.
 *
 * Every build has a calling employee and a credential (connect_request_ctx) whose values hold
 * the characters that each escape must neutralise, so that {caller.*}, {{caller.*}} and
 * {{credential.*}} are held to the same promises as arguments; a credential value must never
 * reach the URL.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect/connect.h"
#include "core/json.h"

#define BASE "https://api.example.com"
#define CRED_MARK "cr3d"

static const struct connect_request_ctx *fuzz_ctx(void)
{
    static struct connect_request_ctx ctx;
    static json_t *cred;
    if (!cred) {
        cred = json_pack("{s:s, s:s, s:s}", "key", CRED_MARK "<s>&\"'{{x}}", "user",
                         CRED_MARK "/../u", "tenant", CRED_MARK ".onmicrosoft.com");
        ctx.caller_user_name = "o'brien+<x>@example.com";
        ctx.caller_email = "a\"b/c@example.com";
        ctx.credential = cred;
    }
    return &ctx;
}

static bool hexdig(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool unreserved(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* "." or ".." once %2e / %2E are read as dots. */
static bool dot_segment(const char *p, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n; dots++) {
        if (p[i] == '.')
            i++;
        else if (n - i >= 3 && p[i] == '%' && p[i + 1] == '2' && (p[i + 2] | 0x20) == 'e')
            i += 3;
        else
            return false;
    }
    return dots == 1 || dots == 2;
}

static size_t count_char(const char *p, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == c;
    return k;
}

/* Whether the fuzzer's own input holds the credential marker (then the URL may too). */
static bool input_has_mark;

static void check_url(const struct connect_request *r, const char *tmpl_path)
{
    const char *url = r->url, *path, *q;
    size_t base_len = strlen(BASE), path_len;

    if (!url || strlen(url) != r->url_len || r->url_len > CONNECT_URL_MAX)
        abort();
    /* A credential never goes in a URL (unless the template or an argument wrote the marker). */
    if (!input_has_mark && strstr(url, CRED_MARK))
        abort();
    if (strncmp(url, BASE, base_len) != 0 || url[base_len] != '/')
        abort();
    for (size_t i = 0; i < r->url_len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            abort();
        if (c == '%' && (!hexdig(url[i + 1]) || !hexdig(url[i + 2])))
            abort();
    }
    if (count_char(url, r->url_len, '?') > 1)
        abort();
    path = url + base_len;
    q = strchr(path, '?');
    path_len = q ? (size_t)(q - path) : strlen(path);
    if (count_char(path, path_len, '/') != count_char(tmpl_path, strlen(tmpl_path), '/'))
        abort();
    for (size_t s = 1, i = 1; i <= path_len; i++) {
        if (i == path_len || path[i] == '/') {
            if (dot_segment(path + s, i - s))
                abort();
            s = i + 1;
        }
    }
}

static const char *check_headers(const struct connect_request *r)
{
    const char *ct = NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *n = r->headers[i].name, *v = r->headers[i].value;
        if (!n || !v || strpbrk(n, "\r\n") || strpbrk(v, "\r\n") ||
            strcasecmp(n, "Authorization") == 0)
            abort();
        if (strcasecmp(n, "Content-Type") == 0)
            ct = v;
    }
    return ct;
}

/* A GraphQL body: the template's document unchanged, the arguments as variables. */
static void check_graphql(const struct connect_request *r, const json_t *gql, const json_t *args)
{
    json_t *v = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, NULL);
    json_t *vars = json_object_get(v, "variables"), *op = json_object_get(v, "operationName");
    const char *name;
    json_t *val;
    if (!json_is_object(v) ||
        !json_equal(json_object_get(v, "query"), json_object_get(gql, "query")) ||
        !json_is_object(vars) || json_object_size(v) != 2 + (op != NULL) ||
        ((op || json_object_get(gql, "operation_name")) &&
         !json_equal(op, json_object_get(gql, "operation_name"))))
        abort();
    json_object_foreach(vars, name, val)
    {
        if (!json_equal(val, json_object_get(args, name)))
            abort();
    }
    json_decref(v);
}

/* A template body: what its escape promises, restated by counting characters. */
static void check_template(const struct connect_request *r, const json_t *tpl)
{
    const char *esc = json_string_value(json_object_get(tpl, "escape"));
    const char *text = json_string_value(json_object_get(tpl, "template"));
    size_t tlen = json_string_length(json_object_get(tpl, "template"));
    const char *counted = strcmp(esc, "xml") == 0    ? "<>\"'"
                          : strcmp(esc, "none") == 0 ? "\r\n"
                                                     : "";

    if (strcmp(esc, "json") == 0) {
        json_t *v = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(v) && !json_is_array(v))
            abort();
        json_decref(v);
    }
    for (const char *c = counted; *c; c++) {
        if (count_char(r->body, r->body_len, *c) != count_char(text, tlen, *c))
            abort();
    }
}

static void check_body(const struct connect_request *r, const char *ct, const json_t *def,
                       const json_t *args)
{
    const json_t *body = json_object_get(def, "body");
    const char *type = json_string_value(json_object_get(body, "type"));

    if (!r->body) {
        if (ct || r->body_len)
            abort();
        return;
    }
    if (!ct || strlen(r->body) != r->body_len || r->body_len > CONNECT_BODY_MAX)
        abort();
    if (type && strcmp(type, "graphql") == 0) {
        if (strcmp(ct, "application/json") != 0)
            abort();
        check_graphql(r, body, args);
    } else if (type && strcmp(type, "template") == 0) {
        if (strcmp(ct, json_string_value(json_object_get(body, "content_type"))) != 0)
            abort();
        check_template(r, body);
    } else if (strcmp(ct, "application/json") == 0) {
        json_t *v = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(v))
            abort();
        json_decref(v);
    } else if (strcmp(ct, "application/x-www-form-urlencoded") == 0) {
        for (size_t i = 0; i < r->body_len; i++) {
            char c = r->body[i];
            if (c == '%' && (!hexdig(r->body[i + 1]) || !hexdig(r->body[i + 2])))
                abort();
            if (!unreserved(c) && !strchr("%[]=&", c))
                abort();
        }
    } else {
        abort();
    }
}

static bool same(const struct connect_request *a, const struct connect_request *b)
{
    if (a->method != b->method || a->url_len != b->url_len || a->body_len != b->body_len ||
        a->n_headers != b->n_headers || strcmp(a->url, b->url) != 0 ||
        (a->body && memcmp(a->body, b->body, a->body_len) != 0))
        return false;
    for (size_t i = 0; i < a->n_headers; i++) {
        if (strcmp(a->headers[i].name, b->headers[i].name) ||
            strcmp(a->headers[i].value, b->headers[i].value))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t dlen = nl ? (size_t)(nl - text) : size;
    json_t *def = NULL, *args = NULL, *hdrs = NULL;
    struct connect_request r, r2;
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    if (json_parse_limited(text, dlen, 1 << 20, 32, &def, &e) != MD_OK)
        return 0;
    input_has_mark = memmem(data, size, CRED_MARK, strlen(CRED_MARK)) != NULL;
    if (nl && json_parse_limited(nl + 1, size - dlen - 1, 1 << 20, 32, &args, &e) != MD_OK)
        goto out;
    hdrs = json_pack("{s:s, s:s}", "Accept", "application/json", "X-Api-Version", "2024-01-01");
    if (!hdrs)
        goto out;

    md_error_clear(&e);
    rc = connect_request_build_ctx(BASE, hdrs, def, args, fuzz_ctx(), &r, &e);
    if (rc != MD_OK) {
        if ((rc != MD_ERR_VALUE && rc != MD_ERR_TOOLARGE && rc != MD_ERR_NOMEM) || !e.msg[0] ||
            r.url || r.body || r.headers || r.n_headers)
            abort();
        goto out;
    }
    check_url(&r, json_string_value(json_object_get(def, "path")));
    check_body(&r, check_headers(&r), def, args);
    if (connect_request_build_ctx(BASE, hdrs, def, args, fuzz_ctx(), &r2, &e) != MD_OK ||
        !same(&r, &r2))
        abort();
    connect_request_free(&r2);
    connect_request_free(&r);
out:
    json_decref(hdrs);
    json_decref(args);
    json_decref(def);
    return 0;
}
