/*
 * The connector runtime: executes one allowed tool call against its upstream API.
 *
 *   arguments --(schema.c)--> checked --(request.c)--> HTTP request --(auth.c, vault.c,
 *   oauth.c)--> with credentials --(transport.c)--> response --(response.c)--> CallToolResult
 *
 * The decision is not made here: the caller (the MCP endpoint) has already decided that the
 * user may call the tool with these arguments. Every failure after that point becomes a tool
 * error result (isError) with a sentence the agent can relay, never a protocol error: a
 * missing credential, an argument the schema refuses, an upstream that is down or answers an
 * error. Credentials never appear in a result, an error or a log line.
 */
#ifndef MANDATE_CONNECT_RUNTIME_H
#define MANDATE_CONNECT_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "store/store.h"

struct connect_vault;

struct connect_runtime_config {
    struct store *store; /* borrowed; outlives the runtime (the vault's table) */
    /*
     * The vault key (32 bytes, copied), or NULL: no vault, and every connector that needs a
     * credential answers a tool error saying so.
     */
    const unsigned char *vault_key;
    bool allow_http;     /* plain http:// upstreams (sandboxes, test fakes); https always */
    long timeout_ms;     /* one upstream exchange; 0: 30 s */
    size_t max_response; /* bytes of an upstream body; 0: 4 MiB */
    int max_inflight;    /* 0: 4096 */
};

struct connect_runtime;

enum md_err connect_runtime_open(const struct connect_runtime_config *cfg,
                                 struct connect_runtime **out, struct md_error *e);
/* Completes every call in flight with a tool error ("shutting down"); then calls fail at once. */
void connect_runtime_stop(struct connect_runtime *rt);
/* Stops (when not yet stopped) and frees. */
void connect_runtime_close(struct connect_runtime *rt);

/* The vault (NULL when the runtime has no key), for the admin API and the CLI. Borrowed. */
struct connect_vault *connect_runtime_vault(struct connect_runtime *rt);

/* Calls in flight now. */
int connect_runtime_inflight(struct connect_runtime *rt);

/* One tool call. Everything is borrowed for the duration of connect_runtime_call only. */
struct connect_call {
    const char *connector;       /* its name */
    const json_t *connector_doc; /* docs/connectors.md */
    const json_t *tool_doc;      /* the tool's object in connector_doc */
    const char *base_url;        /* effective (a deployment's override, else the definition's) */
    const json_t *args;          /* the arguments object; NULL: {} */
    const char *request_id;      /* for log lines */
    /*
     * The calling employee, from the directory (never from the arguments): the SCIM userName,
     * and the primary emails[] value, else the userName. NULL when unknown; a request that uses
     * {caller.userName} / {caller.email} (connect.h) or a JWT grant with "subject": "caller"
     * is then refused.
     */
    const char *caller_user_name;
    const char *caller_email;
    /*
     * A deployment's override of auth.token_url (absolute; checked with
     * connect_auth_token_url_check when it was set), or NULL: the definition's.
     */
    const char *token_url;
};

/* How the call ended, for the caller's log and audit line. */
struct connect_outcome {
    int upstream_status; /* 0 when no upstream response */
    long upstream_ms;    /* time spent upstream */
    bool sent;           /* a request reached the transport */
    char error_kind[32]; /* "" on success; "arguments", "credential", "upstream", ... */
};

/*
 * result: the CallToolResult (a new reference the callee owns and must release); o: borrowed
 * for the call. Called exactly once per connect_runtime_call, either before that function
 * returns (a failure found before anything was sent) or later on the runtime's thread.
 */
typedef void (*connect_result_fn)(void *cls, json_t *result, const struct connect_outcome *o);

void connect_runtime_call(struct connect_runtime *rt, const struct connect_call *call,
                          connect_result_fn fn, void *cls);

#endif
