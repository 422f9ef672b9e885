/*
 * An upstream HTTP response as an MCP tool result (CallToolResult, MCP 2025-06-18): what the
 * agent sees of every tool call.
 */
#ifndef MANDATE_CONNECT_RESPONSE_H
#define MANDATE_CONNECT_RESPONSE_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

/* Bytes of the vendor's message inside an error text (cut on a UTF-8 boundary, then "…"). */
#define CONNECT_ERROR_MESSAGE_MAX 1000
/* Limits for parsing an upstream JSON body: above the transport's 4 MiB cap, and deeper than
   an agent's arguments because vendors' documents (Jira's ADF) nest deeply. */
#define CONNECT_RESPONSE_JSON_MAX ((size_t)8 << 20)
#define CONNECT_RESPONSE_JSON_DEPTH 64

struct connect_response_in { /* what the transport got; all borrowed */
    int status;
    const char *content_type; /* may be NULL */
    const char *body;         /* may hold NULs and invalid UTF-8; NULL when body_len 0 */
    size_t body_len;
    const char *link;      /* the Link header (RFC 8288) or NULL */
    const char *connector; /* e.g. "slack": vendor error shapes and name; may be NULL */
    /*
     * The connector's "response" object (docs/connectors.md), or NULL: its error_when rules and
     * its error message pointers. Checked by connect_response_check beforehand; a member that
     * does not have its documented shape is not applied.
     */
    const json_t *rules;
};

/*
 * Checks a connector's "response" object (NULL: none; all borrowed):
 *
 *   {"error_when": RULE | [RULE, ...] (1 to 16),
 *    "error": {"message": P | [P, ...], "detail": P | [P, ...], "code": P | [P, ...]}}
 *   RULE: {"pointer": P, "equals": SCALAR} | {"pointer": P, "not_equals": SCALAR}
 *         | {"pointer": P, "present": true}, and optionally "message": P | [P, ...]
 *
 * P is a JSON Pointer (RFC 6901, at most 256 bytes; lists hold 1 to 16), SCALAR a string,
 * number, boolean or null. Both members are optional, "error" must name at least one list, and
 * an unknown member anywhere is refused: a rule this code would not apply must not be silently
 * ignored. MD_OK, or MD_ERR_VALUE with a sentence naming the member ("response.error_when[1]
 * must have exactly one of ...").
 */
enum md_err connect_response_check(const json_t *def, struct md_error *e);

/*
 * Builds the CallToolResult for the response, a new JSON object that the caller owns. Never
 * NULL except when memory runs out. Every string in it is valid UTF-8.
 *
 * JSON bodies. A body is JSON when its content type is application/json or any type with the
 * +json suffix (application/vnd.github+json, application/problem+json), or, without a content
 * type, when it parses as JSON. It is parsed by json_parse_limited within
 * CONNECT_RESPONSE_JSON_MAX and CONNECT_RESPONSE_JSON_DEPTH; a scalar body (42, "ok") counts. A
 * body that does not parse (malformed, invalid UTF-8 which jansson refuses, too deep) is
 * treated as not JSON.
 *
 * Success, 2xx with a JSON body:
 *   {"content": [{"type": "text", "text": <the body's JSON, compact>}],
 *    "structuredContent": <the value when it is an object, else {"result": value}>,
 *    "isError": false}
 * as MCP's "Structured content" asks (structured content, and its JSON in a TextContent).
 * Pagination: when the Link header has a link with relation type "next" (RFC 8288: rel may
 * list several space-separated types, compared case-insensitively; only a link's first rel
 * counts; targets may hold commas; parameter values may be tokens or quoted strings with
 * backslash escapes) and that link does not say results="false" (Sentry always sends a next
 * link and says so when it is empty), the query parameters of its target, percent-decoded
 * with '+' as a space (the form encoding that Rails and Django servers write), become
 * structuredContent.next_page, e.g. {"cursor": "0:100:0", "per_page": "30", "page": "2"} (all
 * values strings; a repeated name keeps its first value; at most 64 parameters). It is added
 * only when structuredContent is an object without a "next_page" member and the query has at
 * least one parameter. Not in _meta: the agent must see it. Because many clients show the
 * model only the content blocks, a second text block then carries the same object:
 * {"next_page": {...}}.
 *
 * Success with another body: one text block with the body when it is valid UTF-8 without NUL
 * bytes (text/plain, HTML, a JSON body under a text/plain type), else
 * "(N bytes of binary content, type T)"; no structuredContent. An empty body or status 204:
 * "(no content, HTTP 204)".
 *
 * Errors inside a 2xx answer (rules->error_when). Some APIs answer a failure with HTTP 200:
 * Slack {"ok": false, "error": "channel_not_found"}, Expensify {"responseCode": 410, ...},
 * Sage Intacct <status>failure</status>, GraphQL {"errors": [...]}. A 2xx answer with a body is
 * an error when one of the connector's rules matches it, tried in order:
 *   equals      the value at the pointer is present and equal to the rule's (JSON equality,
 *               numbers by value: 200 equals 200.0);
 *   not_equals  the value is present and differs from it (a missing value never matches);
 *   present     the value is present and neither null, "", [] nor {}.
 * The pointer reads the body's JSON; a body that is not JSON is read as XML (locate.c: the
 * first token names the root element, each later one the first child element of that name),
 * an element's text (trimmed) compared as a string, or as a number when the rule's value is a
 * number; a body that is neither never matches. Such an answer is an error whose text has no
 * HTTP status (the HTTP exchange succeeded): "<Vendor> API error: <message>", e.g. "Slack API
 * error: channel_not_found", and whose structuredContent is {"status", "error"} as below.
 *
 * Errors, any status outside 200..299, and 2xx answers that a rule made errors: * Errors, any
 * status outside 200..299:
 *   {"content": [{"type": "text", "text": "<Vendor> API error: HTTP <status>: <message>"}],
 *    "structuredContent": {"status": <status>, "error": <the body when it is JSON>},
 *    "isError": true}
 * An error body is also read as JSON when it starts with '{' or '[' whatever its content type.
 * The message is, first, what the connector declares (rules->error, the same pointers over JSON
 * or XML): the first pointer of the matching rule's "message", then of error.message, that
 * holds text (a string, a number or boolean as JSON writes it, an array's strings joined by
 * "; ", an XML element's text), then ": " and the text of each error.detail pointer that has
 * some (a detail that repeats the message and says more replaces it; one that the message
 * already ends with is dropped), then " (code X)" with the first error.code that has text; or
 * the vendor's documented error shape that this file knows:
 *   github      {"message", "errors": [{"resource", "field", "code"} | {"message"} | string]}
 *   stripe      {"error": {"message", "code", "decline_code", "param", "type"}}
 *   jira        {"errorMessages": [...], "errors": {"field": "message"}}
 *   salesforce  [{"message", "errorCode", "fields"}]
 *   zendesk     {"error": "RecordInvalid", "description", "details": {"field": [{"description"}]}}
 *               or {"error": {"title", "message"}}
 *   sentry      {"detail": string | {"message"}}, or Django REST field errors {"field": [...]}
 *   datadog     {"errors": [string | {"title", "detail"}]}
 *   slack       {"error", "needed", "response_metadata": {"messages": [...]}}
 *               (Slack's ok:false is an error through the rule in catalog/connectors/slack.json)
 * and, for other connectors or when the vendor's shape is absent, from the generic members:
 * error (a string or an object with message / title), title, message, error_description,
 * description, detail, errors. Without any: the HTML <title> of an HTML body, or a text body
 * (trimmed, line breaks as spaces), or else the status's reason phrase ("Not Found"), or
 * nothing ("... API error: HTTP 599"). The message is cut at CONNECT_ERROR_MESSAGE_MAX bytes.
 * Vendor is the connector's proper name for the catalog's connectors (github -> GitHub,
 * salesforce -> Salesforce, ...), else the connector name as it is, or "Upstream" without one.
 */
json_t *connect_response_result(const struct connect_response_in *in);

/*
 * A tool error for a failure before or without an upstream response (refused arguments, a
 * timeout): {"content": [{"type": "text", "text": msg}], "isError": true}, a new object that
 * the caller owns; NULL only when memory runs out. msg is borrowed; invalid UTF-8 in it is
 * replaced by U+FFFD, NULL reads as "error".
 */
json_t *connect_result_error(const char *msg);

#endif
