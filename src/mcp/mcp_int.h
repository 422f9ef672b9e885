/* Inside the mcp module: the server and what server.c and tools.c share. */
#ifndef MANDATE_MCP_MCP_INT_H
#define MANDATE_MCP_MCP_INT_H

#include <jansson.h>
#include <pthread.h>

#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"

/*
 * The clientInfo an agent token's client gave at initialize (2025 revisions send it only
 * there), so that the audit events of its later calls can name the client. Direct-mapped by the
 * token id's hash: a newer token in the same slot replaces an older one, which then has none.
 */
#define MCP_CLIENTS 1024

struct mcp_client_info {
    char token_id[64];
    char name[64];
    char version[32];
};

struct mcp_server {
    struct mcp_config cfg;
    char version[32];
    pthread_mutex_t clients_mu;
    struct mcp_client_info clients[MCP_CLIENTS];
};

/* Remembers clientInfo (name, version) for token_id; a no-op for NULLs or a bad shape. */
void mcp__client_remember(struct mcp_server *m, const char *token_id, const json_t *client_info);
/* The clientInfo remembered for token_id as a new {"name", "version"}, or NULL. */
json_t *mcp__client_recall(struct mcp_server *m, const char *token_id);

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
