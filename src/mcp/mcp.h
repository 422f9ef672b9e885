/*
 * The MCP endpoint: one POSTed JSON-RPC message in, one reply out, for an agent acting for one
 * employee. It speaks the Streamable HTTP transport's message layer for three protocol
 * revisions and offers one capability, tools, whose list and calls are decided per user by the
 * access module and executed by the connector runtime.
 *
 * Revisions (MCP_VERSIONS):
 * - 2025-06-18 and 2025-11-25: the initialize handshake negotiates the version (the client's
 *   when supported, else the latest of these two); later requests carry MCP-Protocol-Version
 *   (an unsupported value: HTTP 400; none: taken as the negotiated default). mandate keeps no
 *   session: each POST stands alone, so no Mcp-Session-Id is issued or needed.
 * - 2026-07-28: stateless. Every request carries params._meta
 *   "io.modelcontextprotocol/protocolVersion" (with clientInfo and clientCapabilities), and the
 *   headers MCP-Protocol-Version, Mcp-Method and, for tools/call, Mcp-Name, which must agree
 *   with the body (else HTTP 400, JSON-RPC -32020 HeaderMismatch). server/discover answers the
 *   supported versions; results carry "resultType": "complete"; tools/list carries the cache
 *   hints ttlMs and cacheScope "private" (the list is the caller's own). An unknown version in
 *   _meta: -32022 UnsupportedProtocolVersion with data {supported, requested}.
 *
 * Access: tools/list offers only the tools the user may call (under the pack scope), in name
 * order, paginated with an opaque cursor. tools/call decides first: a tool the user is not
 * entitled to gets the very error an unknown tool gets (-32602 "Unknown tool: NAME"), so that
 * nothing tells an agent which tools exist for others; a call that a grant's condition refuses
 * gets a tool error result (isError) naming the grant and its condition, so the agent can tell
 * the employee what blocked it and whom to ask.
 */
#ifndef MANDATE_MCP_MCP_H
#define MANDATE_MCP_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct access;
struct connect_runtime;
struct audit;

#define MCP_VERSION_2025_06 "2025-06-18"
#define MCP_VERSION_2025_11 "2025-11-25"
#define MCP_VERSION_2026_07 "2026-07-28"

/* JSON-RPC error codes MCP defines besides JSON-RPC's own (jsonrpc.h). */
#define MCP_RPC_UNAUTHORIZED (-32001)        /* a bearer token is missing or not valid */
#define MCP_RPC_HEADER_MISMATCH (-32020)     /* 2026-07-28: a standard header disagrees */
#define MCP_RPC_UNSUPPORTED_VERSION (-32022) /* 2026-07-28: data {supported, requested} */

struct mcp_config {
    struct access *access;      /* borrowed */
    struct connect_runtime *rt; /* borrowed; NULL: every call answers a tool error */
    int page_size;              /* tools per tools/list page; 0: 100 */
    const char *server_version; /* serverInfo.version */
    struct audit *audit;        /* borrowed; NULL: tool calls are not audited */
};

struct mcp_server;

enum md_err mcp_server_new(const struct mcp_config *cfg, struct mcp_server **out,
                           struct md_error *e);
void mcp_server_free(struct mcp_server *m);

/* One POST, after the HTTP layer checked the method, media types, Origin and the token. */
struct mcp_request {
    const char *body; /* not NUL-terminated */
    size_t body_len;
    const char *h_version; /* MCP-Protocol-Version, or NULL */
    const char *h_method;  /* Mcp-Method, or NULL */
    const char *h_name;    /* Mcp-Name, or NULL */
    const char *user_id;   /* the SCIM user the agent token acts for */
    const char *pack;      /* the pack scope ("" or NULL: every pack) */
    const char *token_id;  /* the agent token's id, for log lines */
    const char *request_id;
    /* For the audit log (each may be NULL): */
    const char *endpoint;    /* the path asked: "/mcp", "/mcp/packs/sales" */
    const char *token_name;  /* the agent token's name */
    const char *user_agent;  /* the User-Agent header */
    const char *client_addr; /* the client's address */
};

/* The reply: an HTTP status and a body (NULL for 202 Accepted). */
struct mcp_reply {
    int status;
    char *body; /* heap, application/json; owned by the receiver */
    size_t body_len;
    const char *version; /* the revision the reply speaks, static; NULL when unknown */
};

typedef void (*mcp_reply_fn)(void *cls, struct mcp_reply *r);

/*
 * Handles one message. Returns true with *out filled when the reply is ready now; returns false
 * when it will be delivered later, exactly once, through fn(cls, reply) on another thread (a
 * tool call waiting on its upstream). fn may also run before mcp_handle returns false, so the
 * caller must be ready for it as soon as it calls (see http/route_mcp.c).
 */
bool mcp_handle(struct mcp_server *m, const struct mcp_request *req, struct mcp_reply *out,
                mcp_reply_fn fn, void *cls);

#endif
