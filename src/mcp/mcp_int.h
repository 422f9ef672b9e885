/* Inside the mcp module: the server and what server.c and tools.c share. */
#ifndef MANDATE_MCP_MCP_INT_H
#define MANDATE_MCP_MCP_INT_H

#include <jansson.h>

#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"

struct mcp_server {
    struct mcp_config cfg;
    char version[32];
};

/*
 * Replies (server.c). id is borrowed; version is the revision the reply speaks (static, or
 * NULL). A result is taken; a modern one gets "resultType": "complete".
 */
void mcp__reply_error(struct mcp_reply *out, int status, const json_t *id, int code,
                      const char *message, json_t *data, const char *version);
void mcp__reply_result(struct mcp_reply *out, const json_t *id, json_t *result,
                       const char *version);

/* tools/list and tools/call (tools.c); version is the request's revision. */
void mcp__tools_list(struct mcp_server *m, const struct mcp_request *req, const struct mcp_msg *msg,
                     const char *version, struct mcp_reply *out);
/* Returns true when *out is the reply, false when fn(cls, reply) delivers it (see mcp_handle). */
bool mcp__tools_call(struct mcp_server *m, const struct mcp_request *req, const struct mcp_msg *msg,
                     const char *version, struct mcp_reply *out, mcp_reply_fn fn, void *cls);

#endif
