#include "mcp/jsonrpc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static enum md_err refuse(struct mcp_rpc_error *err, enum md_err rc, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills err and returns rc, so that a check can `return refuse(...)`. */
static enum md_err refuse(struct mcp_rpc_error *err, enum md_err rc, int code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return rc;
}

/* MCP request ids are strings or integers (JSON-RPC also allows null and fractions; MCP not). */
static bool id_valid(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

/* A string member's value when it holds no NUL, since callers compare it with strcmp. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * json_parse_limited accepts only an object or an array at the top, so a bare scalar such as
 * `42` fails there as if it were malformed. JSON-RPC wants valid JSON that is not a Request
 * object to be an Invalid Request, not a Parse error, so such a body is parsed once more
 * inside brackets: "[" body "]" is an array of exactly one element only when body is one JSON
 * value with optional whitespace around it.
 */
static bool is_json_scalar(const char *body, size_t len)
{
    struct md_error e;
    json_t *v = NULL;
    char *wrapped;
    bool scalar;

    wrapped = malloc(len + 2);
    if (!wrapped)
        return false;
    wrapped[0] = '[';
    memcpy(wrapped + 1, body, len);
    wrapped[len + 1] = ']';
    scalar = json_parse_limited(wrapped, len + 2, MCP_MAX_MESSAGE + 2, MCP_MAX_DEPTH + 1, &v, &e) ==
                 MD_OK &&
             json_array_size(v) == 1;
    json_decref(v);
    free(wrapped);
    return scalar;
}

/* The checks for a message with a method: a request or a notification. */
static enum md_err classify_call(json_t *root, json_t *id, struct mcp_msg *m,
                                 struct mcp_rpc_error *err)
{
    json_t *method = json_object_get(root, "method");
    json_t *params = json_object_get(root, "params");

    if (json_object_get(root, "result") || json_object_get(root, "error"))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "a message with a method must not have a result or an error");
    m->method = plain_string(method);
    if (!m->method)
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "method must be a string without NUL characters");
    if (id && !m->id)
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "id must be a string or an integer (MCP forbids null)");
    if (json_is_array(params))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_PARAMS,
                      "params must be an object (MCP does not use positional params)");
    if (params && !json_is_object(params))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "params must be an object when present");
    m->params = params;
    m->kind = m->id ? MCP_MSG_REQUEST : MCP_MSG_NOTIFICATION;
    return MD_OK;
}

/* An error member needs an integer code and a string message (JSON-RPC 2.0 section 5.1). */
static bool error_object_valid(const json_t *e)
{
    return json_is_object(e) && json_is_integer(json_object_get(e, "code")) &&
           json_is_string(json_object_get(e, "message"));
}

/*
 * The checks for a message without a method: a response. A result answers a request that had
 * an id, so it needs one; an error may carry a null or no id, which JSON-RPC and MCP 2025-11-25
 * (JSONRPCErrorResponse.id is optional) use when the request's id could not be read.
 */
static enum md_err classify_response(json_t *root, json_t *id, struct mcp_msg *m,
                                     struct mcp_rpc_error *err)
{
    json_t *result = json_object_get(root, "result");
    json_t *error = json_object_get(root, "error");

    if (!result && !error)
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "a message needs a method, a result or an error");
    if (result && error)
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "a response must not have both a result and an error");
    if (id && !m->id && !(error && json_is_null(id)))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "id must be a string or an integer");
    if (result && !m->id)
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "a result response needs the id of its request");
    if (result && !json_is_object(result))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST, "result must be an object");
    if (error && !error_object_valid(error))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "error must be an object with an integer code and a string message");
    m->result = result;
    m->error = error;
    m->kind = MCP_MSG_RESPONSE;
    return MD_OK;
}

/* Classifies a parsed top-level value; m->root already holds it. */
static enum md_err classify(json_t *root, struct mcp_msg *m, struct mcp_rpc_error *err)
{
    json_t *id;
    const char *version;

    /*
     * MCP 2025-06-18 removed JSON-RPC batching (changelog, PR #416), and its Streamable HTTP
     * transport wants one message per POST; 2025-11-25 and 2026-07-28 keep it so. Running the
     * elements one by one would also let a batch slip calls past per-message checks, so an
     * array, empty or not, is refused whole.
     */
    if (json_is_array(root))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "JSON-RPC batches are not supported (removed in MCP 2025-06-18): "
                      "send one message per request");
    if (!json_is_object(root))
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "a JSON-RPC message must be a JSON object");
    /* The id first, so that every later refusal can still echo it. */
    id = json_object_get(root, "id");
    if (id_valid(id))
        m->id = id;
    version = plain_string(json_object_get(root, "jsonrpc"));
    if (!version || strcmp(version, "2.0") != 0)
        return refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                      "jsonrpc must be the string \"2.0\"");
    if (json_object_get(root, "method"))
        return classify_call(root, id, m, err);
    return classify_response(root, id, m, err);
}

enum md_err mcp_jsonrpc_parse(const char *body, size_t len, struct mcp_msg *out,
                              struct mcp_rpc_error *err)
{
    struct md_error e;
    json_t *root = NULL;
    enum md_err rc;
    size_t i;

    memset(out, 0, sizeof *out);
    err->code = 0;
    err->message[0] = '\0';

    /*
     * An oversized body is refused unread: its text may well be JSON, so this is not a Parse
     * error but a message this server does not accept, an Invalid Request. MD_ERR_TOOLARGE
     * lets the HTTP layer answer 413.
     */
    if (len > MCP_MAX_MESSAGE) {
        rc = refuse(err, MD_ERR_TOOLARGE, MCP_RPC_INVALID_REQUEST,
                    "message of %zu bytes exceeds the limit of %d bytes", len, MCP_MAX_MESSAGE);
        goto out;
    }
    /*
     * Everything json_parse_limited refuses is a Parse error: malformed text, bytes that are not
     * UTF-8 (RFC 8259 section 8.1), duplicate keys (which two parsers could read differently),
     * integers beyond 64 bits, and nesting deeper than MCP_MAX_DEPTH, where the parser gave up
     * on the text before it became a value. Only a well-formed scalar is told apart (see
     * is_json_scalar).
     */
    rc = json_parse_limited(body, len, MCP_MAX_MESSAGE, MCP_MAX_DEPTH, &root, &e);
    if (rc == MD_ERR_NOMEM) {
        rc = refuse(err, MD_ERR_NOMEM, MCP_RPC_INTERNAL_ERROR, "out of memory");
        goto out;
    }
    if (rc != MD_OK) {
        for (i = 0; i < len && is_json_space(body[i]); i++)
            ;
        if (i < len && body[i] != '{' && body[i] != '[' && is_json_scalar(body, len))
            rc = refuse(err, MD_ERR_SYNTAX, MCP_RPC_INVALID_REQUEST,
                        "a JSON-RPC message must be a JSON object");
        else
            rc = refuse(err, MD_ERR_SYNTAX, MCP_RPC_PARSE_ERROR, "Parse error: %s", e.msg);
        goto out;
    }
    out->root = root;
    rc = classify(root, out, err);
out:
    if (rc != MD_OK) {
        json_t *keep_id = out->id;
        json_t *keep_root = out->root;
        memset(out, 0, sizeof *out);
        out->root = keep_root;
        out->id = keep_id;
        out->kind = MCP_MSG_INVALID;
    }
    return rc;
}

void mcp_msg_free(struct mcp_msg *m)
{
    if (!m)
        return;
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

/* The standard message of a pre-defined code (JSON-RPC 2.0 section 5.1). */
static const char *standard_message(int code)
{
    switch (code) {
    case MCP_RPC_PARSE_ERROR:
        return "Parse error";
    case MCP_RPC_INVALID_REQUEST:
        return "Invalid Request";
    case MCP_RPC_METHOD_NOT_FOUND:
        return "Method not found";
    case MCP_RPC_INVALID_PARAMS:
        return "Invalid params";
    case MCP_RPC_INTERNAL_ERROR:
        return "Internal error";
    default:
        return "Server error";
    }
}

/*
 * A JSON string for message. Details are cut to fixed buffers by snprintf, which may split a
 * UTF-8 character; jansson refuses such text, so the cut character is dropped (at most three
 * bytes), and a message that is invalid elsewhere gives way to the standard one.
 */
static json_t *message_string(const char *message, int code)
{
    size_t len = strlen(message);
    json_t *s = NULL;

    for (size_t drop = 0; drop <= 3 && drop <= len && !s; drop++)
        s = json_stringn(message, len - drop);
    if (!s)
        s = json_string(standard_message(code));
    return s;
}

/* Adds "jsonrpc" and "id" (null for NULL) to a new object, in the order they are written. */
static json_t *envelope(const json_t *id)
{
    json_t *o = json_object();

    /* json_object_set_new releases the value also when it fails, and refuses a NULL one. */
    if (!o || json_object_set_new(o, "jsonrpc", json_string("2.0")) != 0 ||
        json_object_set_new(o, "id", id ? json_deep_copy(id) : json_null()) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum md_err mcp_jsonrpc_result(const json_t *id, json_t *result, char **out)
{
    enum md_err rc = MD_ERR_NOMEM;
    json_t *o = NULL;

    *out = NULL;
    if (!id_valid(id) || !json_is_object(result)) {
        rc = MD_ERR_VALUE;
        goto out;
    }
    o = envelope(id);
    if (!o || json_object_set(o, "result", result) != 0)
        goto out;
    *out = json_dump_compact(o);
    if (*out)
        rc = MD_OK;
out:
    json_decref(o);
    return rc;
}

enum md_err mcp_jsonrpc_error(const json_t *id, int code, const char *message, json_t *data,
                              char **out)
{
    enum md_err rc = MD_ERR_NOMEM;
    json_t *o = NULL;
    json_t *e = NULL;

    *out = NULL;
    if ((id && !id_valid(id)) || !message) {
        rc = MD_ERR_VALUE;
        goto out;
    }
    o = envelope(id);
    e = json_object();
    if (!o || !e || json_object_set_new(e, "code", json_integer(code)) != 0 ||
        json_object_set_new(e, "message", message_string(message, code)) != 0 ||
        (data && json_object_set(e, "data", data) != 0))
        goto out;
    if (json_object_set_new(o, "error", e) != 0) {
        e = NULL; /* set_new released it */
        goto out;
    }
    e = NULL;
    *out = json_dump_compact(o);
    if (*out)
        rc = MD_OK;
out:
    json_decref(e);
    json_decref(o);
    return rc;
}
