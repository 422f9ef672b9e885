/*
 * The one error enum of mandate. Every fallible function returns an enum md_err and
 * delivers its results through out-parameters. A struct md_error carries the code and a
 * human-readable detail for the client. The mapping from codes to HTTP status, SCIM scimType
 * and JSON-RPC error codes lives here, in one place.
 */
#ifndef MANDATE_CORE_ERR_H
#define MANDATE_CORE_ERR_H

#include <stddef.h>

enum md_err {
    MD_OK = 0,
    MD_ERR_NOMEM,             /* allocation failed */
    MD_ERR_INTERNAL,          /* a bug or an unexpected library failure */
    MD_ERR_IO,                /* disk or database failure */
    MD_ERR_UNAVAILABLE,       /* a dependency (database) is down: 503 */
    MD_ERR_SYNTAX,            /* malformed request body: 400 invalidSyntax */
    MD_ERR_FILTER,            /* malformed or unsupported filter: 400 invalidFilter */
    MD_ERR_PATH,              /* malformed PATCH path: 400 invalidPath */
    MD_ERR_NOTARGET,          /* PATCH path matched nothing where it must: 400 noTarget */
    MD_ERR_VALUE,             /* a value of the wrong type or shape: 400 invalidValue */
    MD_ERR_MUTABILITY,        /* write to a readOnly/immutable attribute: 400 mutability */
    MD_ERR_UNIQUENESS,        /* unique attribute already taken: 409 uniqueness */
    MD_ERR_TOOMANY,           /* too many results: 400 tooMany */
    MD_ERR_NOTFOUND,          /* 404 */
    MD_ERR_PRECONDITION,      /* If-Match failed: 412 */
    MD_ERR_NOTMODIFIED,       /* If-None-Match matched: 304 */
    MD_ERR_TOOLARGE,          /* body over the limit: 413 */
    MD_ERR_UNAUTHORIZED,      /* 401 */
    MD_ERR_FORBIDDEN,         /* 403 */
    MD_ERR_METHOD,            /* 405 */
    MD_ERR_UNSUPPORTED,       /* a feature this server does not offer: 501 */
    MD_ERR_UNSUPPORTED_MEDIA, /* 415 */
    MD_ERR__COUNT
};

/* A code and a detail sentence safe to show to the client (never a secret). */
struct md_error {
    enum md_err code;
    char msg[256];
};

/* The symbolic name of a code, e.g. "MD_ERR_FILTER". Never NULL. */
const char *md_err_name(enum md_err code);

/*
 * Sets e (when not NULL) to code and a printf-formatted detail; returns code, so that a
 * function can `return md_error_set(e, MD_ERR_FILTER, "...")`.
 */
enum md_err md_error_set(struct md_error *e, enum md_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The HTTP status for a code (MD_OK: 200). */
int md_err_http_status(enum md_err code);

/* The SCIM scimType (RFC 7644 section 3.12) for a code, or NULL when it has none. */
const char *md_err_scim_type(enum md_err code);

/*
 * The JSON-RPC 2.0 error code (https://www.jsonrpc.org/specification section 5.1) for a code
 * that an MCP method handler returns, once the message itself was well formed (MD_OK: 0, no
 * error). Parse errors (-32700) and malformed messages (-32600) are found by mcp/jsonrpc.c
 * itself, which sets those codes directly.
 * - -32602 Invalid params: MD_ERR_SYNTAX, MD_ERR_VALUE, MD_ERR_FILTER, MD_ERR_PATH,
 *   MD_ERR_NOTARGET, MD_ERR_MUTABILITY, MD_ERR_TOOMANY, MD_ERR_UNIQUENESS: the params are wrong.
 *   MD_ERR_NOTFOUND too: what is missing is named in the params (a tool, a cursor), and the MCP
 *   tools specification answers an unknown tool with -32602 ("Error Handling"). MD_ERR_FORBIDDEN
 *   likewise, so that a tool the caller may not use cannot be told from one that does not exist.
 * - -32601 Method not found: MD_ERR_UNSUPPORTED (the dispatcher's answer to an unknown or
 *   unoffered method) and MD_ERR_METHOD.
 * - -32600 Invalid Request: MD_ERR_TOOLARGE, MD_ERR_UNSUPPORTED_MEDIA: the message as sent is
 *   refused, whatever it asks for.
 * - -32000 (implementation-defined server error): MD_ERR_UNAUTHORIZED, MD_ERR_PRECONDITION,
 *   MD_ERR_NOTMODIFIED: refusals that come from outside the message and are normally answered
 *   at the HTTP level before JSON-RPC is involved.
 * - -32603 Internal error: MD_ERR_NOMEM, MD_ERR_INTERNAL, MD_ERR_IO, MD_ERR_UNAVAILABLE and any
 *   unknown code.
 */
int md_err_jsonrpc_code(enum md_err code);

/* Resets e to MD_OK with an empty detail. */
void md_error_clear(struct md_error *e);

#endif
