/*
 * libFuzzer driver for upstream responses as MCP tool results (connect_response_result). The
 * input is: two bytes of HTTP status (big-endian, modulo 600), one byte choosing the connector
 * from a small list (the catalog's vendors, an unknown one, none, and connectors with response
 * rules: Slack's, a GraphQL API's, Sage Intacct's XML ones), one byte choosing the content type,
 * one flag byte, then, when the flag's low bit is set, a Link header up to the first newline,
 * and the body (any bytes: NULs and invalid UTF-8 included). The checks below restate
 * response.h independently of response.c and abort on any violation:
 *
 * - a result is an object with a non-empty content array of text blocks and a boolean isError;
 * - isError is true for every status outside 2xx, and false inside it except for a connector
 *   with error_when rules;
 * - an error has structuredContent.status equal to the status and a text that starts with the
 *   vendor's name and " API error: ", with the vendor's message within its cap;
 * - a success with structuredContent has a first text block that parses back to the JSON it
 *   stands for (the object, less a next_page that was added, or the value under "result"),
 *   and a second block exactly when a next_page was added, holding {"next_page": the same};
 * - the same response gives the same result twice.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connect/response.h"

static const char *const connectors[] = {"github",  "stripe", "jira",    "salesforce",
                                         "zendesk", "sentry", "datadog", "slack",
                                         "acme",    NULL,     "linear",  "sage_intacct"};
static const char *const names[] = {"GitHub",  "Stripe",   "Jira",    "Salesforce",
                                    "Zendesk", "Sentry",   "Datadog", "Slack",
                                    "acme",    "Upstream", "linear",  "sage_intacct"};
/* Each connector's "response" object, as the catalog declares it, or NULL. */
static const char *const rule_texts[] = {
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    "{\"error_when\": {\"pointer\": \"/ok\", \"equals\": false}}",
    "{\"error\": {\"message\": [\"/m\", \"/a/0\"], \"detail\": \"/d\", \"code\": \"/c\"}}",
    NULL,
    "{\"error_when\": [{\"pointer\": \"/errors\", \"present\": true}, {\"pointer\": "
    "\"/responseCode\", \"not_equals\": 200, \"message\": \"/responseMessage\"}], \"error\": "
    "{\"message\": \"/errors/0/message\", \"detail\": "
    "\"/errors/0/extensions/userPresentableMessage\"}}",
    "{\"error_when\": [{\"pointer\": \"/response/control/status\", \"equals\": \"failure\"}, "
    "{\"pointer\": \"/response/operation/result/status\", \"equals\": \"failure\"}], \"error\": "
    "{\"message\": [\"/response/errormessage/error/description2\", "
    "\"/response/operation/result/errormessage/error/description2\"], \"code\": "
    "\"/response/operation/result/errormessage/error/errorno\"}}"};
static json_t *rules[sizeof rule_texts / sizeof rule_texts[0]];
static const char *const types[] = {NULL,
                                    "application/json",
                                    "application/vnd.github+json",
                                    "application/problem+json; charset=utf-8",
                                    "text/plain",
                                    "text/html; charset=utf-8",
                                    "application/octet-stream",
                                    "x/\x01\xff",
                                    "text/xml; charset=UTF-8"};

static const char *block_text(const json_t *content, size_t i)
{
    const json_t *b = json_array_get(content, i);
    const char *type = json_string_value(json_object_get(b, "type"));
    const char *text = json_string_value(json_object_get(b, "text"));
    if (!type || strcmp(type, "text") != 0 || !text)
        abort();
    return text;
}

static void check_error(const json_t *r, int status, size_t conn)
{
    const json_t *sc = json_object_get(r, "structuredContent");
    const char *text = block_text(json_object_get(r, "content"), 0);
    size_t n = strlen(names[conn]);
    if (json_integer_value(json_object_get(sc, "status")) != status)
        abort();
    if (strncmp(text, names[conn], n) != 0 || strncmp(text + n, " API error: ", 12) != 0)
        abort();
    if (strlen(text) > n + 12 + 20 + CONNECT_ERROR_MESSAGE_MAX)
        abort();
}

static void check_success(const json_t *r)
{
    const json_t *content = json_object_get(r, "content");
    json_t *sc = json_object_get(r, "structuredContent"), *shown, *want, *next;
    json_error_t jerr;
    if (!sc) {
        if (json_array_size(content) != 1)
            abort();
        return;
    }
    if (!json_is_object(sc))
        abort();
    shown = json_loads(block_text(content, 0), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!shown)
        abort();
    next = json_object_get(sc, "next_page");
    want = json_deep_copy(sc);
    if (json_array_size(content) == 2) {
        json_t *second = json_loads(block_text(content, 1), 0, &jerr);
        if (!json_is_object(next) || !second ||
            !json_equal(json_object_get(second, "next_page"), next) ||
            json_object_size(second) != 1)
            abort();
        json_decref(second);
        json_object_del(want, "next_page");
    } else if (json_array_size(content) != 1) {
        abort();
    }
    if (!json_equal(shown, want) && !json_equal(shown, json_object_get(want, "result")))
        abort();
    json_decref(want);
    json_decref(shown);
}

/* The rules, parsed once and checked as a connector's are when it is loaded. */
static void rules_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    for (size_t i = 0; i < sizeof rule_texts / sizeof rule_texts[0]; i++) {
        json_error_t jerr;
        if (!rule_texts[i])
            continue;
        rules[i] = json_loads(rule_texts[i], 0, &jerr);
        if (!rules[i] || connect_response_check(rules[i], NULL) != MD_OK)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct connect_response_in in;
    char *link = NULL, *body = NULL;
    const uint8_t *rest;
    size_t conn, left;
    json_t *r, *r2;
    bool err;

    rules_init();
    if (size < 5)
        return 0;
    in.status = ((data[0] << 8) | data[1]) % 600;
    conn = data[2] % (sizeof connectors / sizeof connectors[0]);
    in.connector = connectors[conn];
    in.rules = rules[conn];
    in.content_type = types[data[3] % (sizeof types / sizeof types[0])];
    rest = data + 5;
    left = size - 5;
    if (data[4] & 1) {
        const uint8_t *nl = memchr(rest, '\n', left);
        size_t ln = nl ? (size_t)(nl - rest) : left;
        link = malloc(ln + 1);
        if (!link)
            return 0;
        memcpy(link, rest, ln);
        link[ln] = '\0';
        rest += nl ? ln + 1 : ln;
        left -= nl ? ln + 1 : ln;
    }
    /* An exact-size copy, so that any read past the body is caught. */
    body = left ? malloc(left) : NULL;
    if (left && !body)
        goto out;
    if (left)
        memcpy(body, rest, left);
    in.body = body;
    in.body_len = left;
    in.link = link;

    r = connect_response_result(&in);
    if (!r || !json_is_object(r) || json_array_size(json_object_get(r, "content")) < 1 ||
        !json_is_boolean(json_object_get(r, "isError")))
        abort();
    err = json_is_true(json_object_get(r, "isError"));
    if (in.status < 200 || in.status > 299) {
        if (!err)
            abort();
    } else if (err && !json_object_get(in.rules, "error_when")) {
        abort();
    }
    if (err)
        check_error(r, in.status, conn);
    else
        check_success(r);
    r2 = connect_response_result(&in);
    if (!r2 || !json_equal(r, r2))
        abort();
    json_decref(r2);
    json_decref(r);
out:
    free(body);
    free(link);
    return 0;
}
