/*
 * An upstream HTTP response as an MCP tool result (CallToolResult, MCP 2025-06-18): what the
 * agent sees of every tool call.
 */
#ifndef MANDATE_CONNECT_RESPONSE_H
#define MANDATE_CONNECT_RESPONSE_H

#include <jansson.h>
#include <stddef.h>

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
};

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
 * Slack answers errors with HTTP 200 and {"ok": false, "error": "channel_not_found"}: for the
 * connector "slack", such a body is an error, with the text "Slack API error:
 * channel_not_found" (no HTTP status: the HTTP exchange succeeded).
 *
 * Errors, any status outside 200..299:
 *   {"content": [{"type": "text", "text": "<Vendor> API error: HTTP <status>: <message>"}],
 *    "structuredContent": {"status": <status>, "error": <the body when it is JSON>},
 *    "isError": true}
 * An error body is also read as JSON when it starts with '{' or '[' whatever its content type.
 * The message is taken from the vendor's documented error shape:
 *   github      {"message", "errors": [{"resource", "field", "code"} | {"message"} | string]}
 *   stripe      {"error": {"message", "code", "decline_code", "param", "type"}}
 *   jira        {"errorMessages": [...], "errors": {"field": "message"}}
 *   salesforce  [{"message", "errorCode", "fields"}]
 *   zendesk     {"error": "RecordInvalid", "description", "details": {"field": [{"description"}]}}
 *               or {"error": {"title", "message"}}
 *   sentry      {"detail": string | {"message"}}, or Django REST field errors {"field": [...]}
 *   datadog     {"errors": [string | {"title", "detail"}]}
 *   slack       {"error", "needed", "response_metadata": {"messages": [...]}}
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
