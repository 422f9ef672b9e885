/*
 * JSON-RPC 2.0 messages as MCP uses them, with no transport in sight: one message in, classified
 * as a request, a notification or a response, or refused with the JSON-RPC error code and a
 * sentence; and the response texts going out. The Streamable HTTP layer maps the md_err that
 * parsing returns to an HTTP status and sends the error response built from mcp_rpc_error.
 *
 * The rules, besides JSON-RPC 2.0 (https://www.jsonrpc.org/specification):
 * - MCP 2025-06-18 and later: a request id is a string or an integer, never null; a
 *   notification has no id; a response sets exactly one of result and error; params and result
 *   are objects (basic/index, "Messages"; schema.ts).
 * - MCP 2025-06-18 removed JSON-RPC batching (changelog, "Major changes" 1, PR #416), so a
 *   JSON array is refused as an Invalid Request instead of being taken apart.
 */
#ifndef MANDATE_MCP_JSONRPC_H
#define MANDATE_MCP_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

/* The largest message accepted and its deepest nesting; larger or deeper is never parsed. */
#define MCP_MAX_MESSAGE (1024 * 1024)
#define MCP_MAX_DEPTH 32

/* The pre-defined JSON-RPC 2.0 error codes (section 5.1). */
enum mcp_rpc_code {
    MCP_RPC_PARSE_ERROR = -32700,      /* the bytes are not JSON text */
    MCP_RPC_INVALID_REQUEST = -32600,  /* JSON, but not a valid message */
    MCP_RPC_METHOD_NOT_FOUND = -32601, /* chosen by the dispatcher, never by the parser */
    MCP_RPC_INVALID_PARAMS = -32602,
    MCP_RPC_INTERNAL_ERROR = -32603,
};

enum mcp_msg_kind {
    MCP_MSG_INVALID = 0,  /* parsing failed: see the mcp_rpc_error */
    MCP_MSG_REQUEST,      /* method and id: answer with a response carrying the same id */
    MCP_MSG_NOTIFICATION, /* method, no id: never answered */
    MCP_MSG_RESPONSE,     /* result or error, from a client answering a server's request */
};

/*
 * One parsed message. Every pointer is borrowed from root, which the struct owns: they stay
 * valid until mcp_msg_free. id is kept as the parsed value so that a response echoes it
 * exactly (a string with its escapes, an integer of any size that fits 64 bits).
 */
struct mcp_msg {
    enum mcp_msg_kind kind;
    const char *method; /* REQUEST and NOTIFICATION: NUL-terminated, no embedded NUL */
    json_t *id;         /* a string or an integer, or NULL (notification; id null or absent) */
    json_t *params;     /* an object, or NULL when the message has none */
    json_t *result;     /* RESPONSE: an object, or NULL when the response is an error */
    json_t *error;      /* RESPONSE: {code: integer, message: string, data?}, or NULL */
    json_t *root;       /* owned: the whole parsed message */
};

/* Why a message was refused: a JSON-RPC error code and a sentence for the client. */
struct mcp_rpc_error {
    int code;
    char message[256];
};

/*
 * Parses one message of len bytes (not NUL-terminated; read, not kept) into *out and classifies
 * it. *out is always initialised, and must always be released with mcp_msg_free, also on error.
 *
 * Returns MD_OK, or sets *err and returns:
 * - MD_ERR_TOOLARGE: more than MCP_MAX_MESSAGE bytes (err->code MCP_RPC_INVALID_REQUEST).
 * - MD_ERR_SYNTAX: not a valid message; err->code is MCP_RPC_PARSE_ERROR (not JSON text, nested
 *   deeper than MCP_MAX_DEPTH, a duplicate key, bytes that are not UTF-8),
 *   MCP_RPC_INVALID_REQUEST (not an object, a batch, a wrong member) or MCP_RPC_INVALID_PARAMS
 *   (params an array: valid JSON-RPC, but MCP params are objects).
 * - MD_ERR_NOMEM (err->code MCP_RPC_INTERNAL_ERROR).
 * On an error, out->kind is MCP_MSG_INVALID and out->id is the message's id when it could be
 * read as a string or an integer, else NULL: the error response echoes it (or says null).
 */
enum md_err mcp_jsonrpc_parse(const char *body, size_t len, struct mcp_msg *out,
                              struct mcp_rpc_error *err);

/* Releases what m owns and empties it; m may be NULL or already freed. */
void mcp_msg_free(struct mcp_msg *m);

/*
 * Builds the text of {"jsonrpc":"2.0","id":id,"result":result} into *out (heap, NUL-terminated,
 * caller frees with free()). id (a string or an integer) and result (an object) are borrowed.
 * MD_ERR_VALUE when id or result is missing or of another type; MD_ERR_NOMEM.
 */
enum md_err mcp_jsonrpc_result(const json_t *id, json_t *result, char **out);

/*
 * Builds the text of {"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message,
 * "data":data}} into *out (heap, caller frees with free()). id is borrowed and NULL means the
 * id could not be read, which JSON-RPC 2.0 section 5 writes as "id": null; data is borrowed and
 * left out when NULL. A message that is not valid UTF-8 (a detail cut mid-character) is cut back
 * to its valid start, or replaced by the standard text for the code.
 * MD_ERR_VALUE when id is not NULL, a string or an integer, or message is NULL; MD_ERR_NOMEM.
 */
enum md_err mcp_jsonrpc_error(const json_t *id, int code, const char *message, json_t *data,
                              char **out);

#endif
