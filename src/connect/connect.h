/*
 * The connector runtime: how a tool call becomes an upstream HTTP request.
 *
 * This header starts with the request template (request.c): a pure function from a connector's
 * base URL and static headers, a tool's `request` object (docs/connectors.md) and the call's
 * arguments to a description of the HTTP request (method, URL, headers, body). It does no I/O
 * and adds no credentials: authentication is a later, separate step on the description.
 *
 * Encoding rules, so that a caller can predict the request exactly:
 *
 * - Path: each `{name}` is replaced by the argument `name`, a string, number or boolean,
 *   percent-encoded per RFC 3986 section 2.1: only unreserved characters (section 2.3:
 *   A-Z a-z 0-9 - . _ ~) stay literal, every other byte (UTF-8 bytes of non-ASCII text, '/',
 *   '%', '?', '#', space, ...) becomes %XX with upper-case hex. An argument therefore never
 *   adds a '/'; a substitution that would leave a "." or ".." segment (RFC 3986 section 3.3,
 *   removed by dot-segment normalisation, section 5.2.4) is refused, as is an empty one. A
 *   path argument that is absent, null, an object or an array is refused.
 * - Scalars render as JSON renders them: strings as their text, integers without a decimal
 *   point, other numbers in the shortest form that reads back to the same double (as
 *   ECMAScript's JSON.stringify does), booleans as true / false.
 * - Query: the arguments named in `query` that are present, in the listed order, as
 *   name=value pairs joined by '&', names and values percent-encoded like path arguments
 *   (space is %20, never '+'). An array of scalars repeats the name once per element
 *   (`ids=1&ids=2`, the OpenAPI 3 default for query arrays: style form, explode true); an
 *   empty array sends nothing. A null argument is treated as absent. An object, or an array
 *   holding an object or an array, is refused. An entry is an argument name, sent as the
 *   parameter of that name, or {"name": PARAMETER, "arg": ARGUMENT} for a parameter whose name
 *   is no argument an LLM API accepts ("statuses[]", "$top"): the argument ARGUMENT sent as
 *   PARAMETER (`statuses%5B%5D=triggered&statuses%5B%5D=acknowledged`, `%24top=10`). At most
 *   64 entries, names of 1 to 128 bytes; an argument or a parameter listed twice, and an
 *   argument that is also a path placeholder, are template errors.
 * - Body "json": the arguments not used by the path or the query, as one compact JSON object
 *   (jansson, in the arguments' order); Content-Type: application/json.
 * - Body "form": the same arguments as application/x-www-form-urlencoded in Stripe's
 *   convention: nested objects as `metadata[key]=v`, arrays of scalars as
 *   `expand[]=a&expand[]=b`, arrays holding objects or arrays with indexes
 *   (`items[0][price]=x`), null and empty objects or arrays as `key=` (Stripe reads an empty
 *   value as "unset"). The brackets are literal; key segments and values are percent-encoded
 *   as above. An object key that is empty or holds '[' or ']' is refused (Stripe does not
 *   allow brackets in metadata keys). Content-Type: application/x-www-form-urlencoded.
 * - Body {"type": "graphql", "query": DOCUMENT, "operation_name"?: NAME} (GraphQL over HTTP,
 *   POST only): Content-Type: application/json and the body {"query": DOCUMENT, "variables":
 *   {the arguments not used by the path or the query, in the arguments' order},
 *   "operationName": NAME} (operationName only when the template names one; variables always,
 *   {} when empty). An argument never enters the document's text. One that the document does
 *   not name as $name (outside comments and strings) is refused, since a GraphQL server
 *   ignores undeclared variables. operation_name is a GraphQL Name ([_A-Za-z][_0-9A-Za-z]*).
 * - Body {"type": "template", "content_type": MEDIA TYPE, "template": TEXT, "escape": E}:
 *   Content-Type is content_type as written (an RFC 9110 media type, ASCII, charset utf-8 if
 *   any), the body is TEXT with each placeholder replaced. {{name}} is the argument name
 *   (1 to 64 characters of [A-Za-z0-9_]), {{name?}} the same when it may be absent; "{{{{" is
 *   a literal "{{"; any other "{{" is a template error; '}' and a lone '{' are literal.
 *   E must suit the content type:
 *   - "xml" (application/xml, text/xml, any +xml, text/html): the argument rendered as a
 *     scalar (the path's rules) with & < > " ' written &amp; &lt; &gt; &quot; &#39;; a C0
 *     control other than tab, LF and CR, U+FFFE or U+FFFF is refused. Absent or null:
 *     refused, or nothing for {{name?}}. Objects and arrays are refused.
 *   - "json" (application/json, application/...+json): the argument as a compact JSON value as
 *     the "json" body writes it (strings quoted and escaped, objects and arrays whole); null
 *     stays null; absent: refused, or null for {{name?}}. A placeholder stands where a JSON
 *     value goes: one inside a string literal is a template error, and the template with each
 *     placeholder read as null must be a JSON object or array without duplicate keys. The
 *     built body is parsed again (at most 64 levels deep) before it is sent.
 *   - "none" (text/plain only): the scalar as it is; a value holding CR, LF, DEL or any other
 *     control character but tab is refused. Absent or null as for "xml".
 *   An argument used by neither the path, the query nor the template is refused, as without
 *   a body. A placeholder may repeat, and may name an argument that the path or query uses.
 * - Body {"type": "form", "fields": {NAME: FIELD, ...}} (1 to 64 fields): Content-Type
 *   application/x-www-form-urlencoded and the body NAME=VALUE&... in the fields' order, name
 *   and value percent-encoded as in the "form" body. FIELD is a template string (escape
 *   "none") or {"template": TEXT, "escape": "xml" | "json" | "none"}; VALUE is the template
 *   filled in as a body template is (a "json" one checked and parsed the same way). Expensify
 *   sends its JSON job description this way (requestJobDescription=<JSON>). Arguments that
 *   no placeholder, path or query uses are refused, as with a template.
 * - The calling employee and the credential (struct connect_request_ctx): {caller.userName}
 *   and {caller.email} in the path, {{caller.userName}}, {{caller.email}} and
 *   {{credential.NAME}} in a template (or a form field), are replaced by the directory's
 *   values and the connector's secret's field, never by an argument (an argument of that name
 *   does not count); they are escaped like an argument of that string value. A call without
 *   the value (no calling user, no such credential field) is refused. They cannot be optional.
 *   {credential.NAME} in the path is a template error: a credential never goes in a URL.
 * - No body: an argument that neither the path nor the query uses is refused (MD_ERR_VALUE),
 *   so that an agent never believes it set something that was not sent.
 * - Headers: the connector's static headers in their order, then Content-Type when there is a
 *   body. Names must be RFC 9110 tokens and values free of control characters; names that the
 *   runtime owns or that carry credentials (Authorization, Proxy-Authorization, Cookie, Host,
 *   Content-Type, Content-Length, Transfer-Encoding, Connection) are refused.
 */
#ifndef MANDATE_CONNECT_CONNECT_H
#define MANDATE_CONNECT_CONNECT_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

/* Caps on what one tool call may produce; over them, MD_ERR_TOOLARGE. */
#define CONNECT_URL_MAX 8192           /* bytes of the whole URL, base URL included */
#define CONNECT_BODY_MAX (1024 * 1024) /* bytes of the request body */
#define CONNECT_HEADERS_MAX 32         /* static headers of one connector */
#define CONNECT_HEADER_LINE_MAX 8192   /* bytes of one header name plus value */

/* One header; both strings are owned by the struct connect_request that holds them. */
struct connect_header {
    char *name;
    char *value;
};

/*
 * An HTTP request ready for the auth step and the transport. Everything is owned by the
 * struct and released by connect_request_free, except method, which is a static string.
 */
struct connect_request {
    const char *method; /* "GET", "POST", "PUT", "PATCH" or "DELETE" */
    char *url;          /* base URL + path + "?" query; no CR, LF or space */
    size_t url_len;
    struct connect_header *headers; /* static headers, then Content-Type with a body */
    size_t n_headers;
    char *body; /* NULL when the request has no body; NUL-terminated */
    size_t body_len;
};

/*
 * Builds the HTTP request for one tool call. base_url is the connector's (possibly overridden)
 * root, http:// or https:// without a trailing '/'; connector_headers is the connector's
 * `headers` object or NULL; request_def is the tool's `request` object; args is the call's
 * arguments object (NULL means none). All inputs are borrowed and not kept.
 *
 * On MD_OK, *out holds a request the caller releases with connect_request_free. On error,
 * *out is left empty (safe to pass to connect_request_free) and e says why:
 * MD_ERR_VALUE for a bad template, base URL, header or argument (naming it),
 * MD_ERR_TOOLARGE when the URL or body (or a body template or GraphQL document) would exceed
 * its cap, MD_ERR_NOMEM.
 */
enum md_err connect_request_build(const char *base_url, const json_t *connector_headers,
                                  const json_t *request_def, const json_t *args,
                                  struct connect_request *out, struct md_error *e);

/*
 * Checks a tool's request object as connect_request_build reads it (method, path, query, body
 * and every template in it), without arguments: what a connector's definition is checked with
 * when it is loaded. MD_OK, or MD_ERR_VALUE / MD_ERR_TOOLARGE naming the field, as
 * connect_request_build would say it for every call. request_def is borrowed.
 */
enum md_err connect_request_check(const json_t *request_def, struct md_error *e);

/*
 * What a request may use besides the agent's arguments; borrowed for the call. A NULL member
 * (or a NULL ctx) means that the call has no such value, and a template that needs it is
 * refused.
 */
struct connect_request_ctx {
    const char *caller_user_name; /* the calling employee's SCIM userName */
    const char *caller_email;     /* the primary emails[] value, else the userName */
    const json_t *credential;     /* the connector's secret: an object of strings */
};

/* connect_request_build with a context (ctx may be NULL: as connect_request_build). */
enum md_err connect_request_build_ctx(const char *base_url, const json_t *connector_headers,
                                      const json_t *request_def, const json_t *args,
                                      const struct connect_request_ctx *ctx,
                                      struct connect_request *out, struct md_error *e);

/*
 * Adds to names (an object used as a set) each NAME that request_def's body uses as
 * {{credential.NAME}}. MD_ERR_VALUE when request_def is not a valid request, MD_ERR_NOMEM.
 */
enum md_err connect_request_credential_fields(const json_t *request_def, json_t *names,
                                              struct md_error *e);

/* Releases what r owns (wiping its body) and empties it; r may be empty or NULL. */
void connect_request_free(struct connect_request *r);

#endif
