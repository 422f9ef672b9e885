/*
 * The MCP message layer (mcp.h): which revision a message speaks, the checks that revision
 * asks of it, and the dispatch of its method. tools.c answers tools/list and tools/call.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_int.h"

static const char *const legacy_versions[] = {MCP_VERSION_2025_11, MCP_VERSION_2025_06};

enum md_err mcp_server_new(const struct mcp_config *cfg, struct mcp_server **out,
                           struct md_error *e)
{
    struct mcp_server *m = calloc(1, sizeof *m);

    *out = NULL;
    if (!m)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    m->cfg = *cfg;
    pthread_mutex_init(&m->clients_mu, NULL);
    if (m->cfg.page_size <= 0)
        m->cfg.page_size = 100;
    snprintf(m->version, sizeof m->version, "%s", cfg->server_version ? cfg->server_version : "0");
    *out = m;
    return MD_OK;
}

void mcp_server_free(struct mcp_server *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->clients_mu);
    free(m);
}

/* Copies s into out (n bytes), cut at a UTF-8 boundary when too long. */
static void copy_cut(char *out, size_t n, const char *s)
{
    size_t k = str_utf8_cut(s, strlen(s), n - 1);
    memcpy(out, s, k);
    out[k] = '\0';
}

static struct mcp_client_info *client_slot(struct mcp_server *m, const char *token_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = token_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return &m->clients[h % MCP_CLIENTS];
}

void mcp__client_remember(struct mcp_server *m, const char *token_id, const json_t *client_info)
{
    const char *name = json_string_value(json_object_get(client_info, "name"));
    const char *version = json_string_value(json_object_get(client_info, "version"));
    struct mcp_client_info *c;

    if (!token_id || !token_id[0] || !name)
        return;
    c = client_slot(m, token_id);
    pthread_mutex_lock(&m->clients_mu);
    snprintf(c->token_id, sizeof c->token_id, "%s", token_id);
    copy_cut(c->name, sizeof c->name, name);
    copy_cut(c->version, sizeof c->version, version ? version : "");
    pthread_mutex_unlock(&m->clients_mu);
}

json_t *mcp__client_recall(struct mcp_server *m, const char *token_id)
{
    struct mcp_client_info *c;
    json_t *out = NULL;

    if (!token_id || !token_id[0])
        return NULL;
    c = client_slot(m, token_id);
    pthread_mutex_lock(&m->clients_mu);
    if (strcmp(c->token_id, token_id) == 0)
        out = json_pack("{s:s, s:s}", "name", c->name, "version", c->version);
    pthread_mutex_unlock(&m->clients_mu);
    return out;
}

/* ---- replies ---- */

static void reply_text(struct mcp_reply *out, int status, char *text, const char *version)
{
    out->status = text ? status : 500;
    out->body = text;
    out->body_len = text ? strlen(text) : 0;
    out->version = version;
}

void mcp__reply_error(struct mcp_reply *out, int status, const json_t *id, int code,
                      const char *message, json_t *data, const char *version)
{
    char *text = NULL;
    mcp_jsonrpc_error(id, code, message, data, &text);
    reply_text(out, status, text, version);
}

/* Takes result. Modern replies say they are complete (2026-07-28 "resultType"). */
void mcp__reply_result(struct mcp_reply *out, const json_t *id, json_t *result, const char *version)
{
    char *text = NULL;
    if (result && version && strcmp(version, MCP_VERSION_2026_07) == 0)
        json_object_set_new(result, "resultType", json_string("complete"));
    if (result)
        mcp_jsonrpc_result(id, result, &text);
    json_decref(result);
    reply_text(out, 200, text, version);
}

/* ---- the methods that are the same for every tool ---- */

static json_t *server_info(const struct mcp_server *m)
{
    return json_pack("{s:s, s:s, s:s}", "name", "mandate", "title",
                     "mandate: the company's business tools, within this employee's access",
                     "version", m->version);
}

/* Tools only, and no list_changed notifications: mandate keeps no stream to send them on. */
static json_t *capabilities(void)
{
    return json_pack("{s:{}}", "tools");
}

static const char *const instructions =
    "The tools of the company's business applications that this employee may use, at the "
    "access level their groups grant. A tool that is not listed is not available to them. A "
    "result with isError true that starts with \"Denied by policy\" names the grant and the "
    "condition that blocked the call: tell the employee, who can ask an administrator.";

static void do_initialize(struct mcp_server *m, const struct mcp_request *req,
                          const struct mcp_msg *msg, struct mcp_reply *out)
{
    const char *asked = json_string_value(json_object_get(msg->params, "protocolVersion"));
    const char *v = MCP_VERSION_2025_11;
    json_t *r;

    if (!asked) {
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INVALID_PARAMS,
                         "initialize needs params.protocolVersion", NULL, NULL);
        return;
    }
    /* The client's revision when this server speaks it, else the latest the handshake has. */
    for (size_t i = 0; i < sizeof legacy_versions / sizeof legacy_versions[0]; i++)
        if (strcmp(asked, legacy_versions[i]) == 0)
            v = legacy_versions[i];
    mcp__client_remember(m, req->token_id, json_object_get(msg->params, "clientInfo"));
    r = json_pack("{s:s, s:o, s:o, s:s}", "protocolVersion", v, "capabilities", capabilities(),
                  "serverInfo", server_info(m), "instructions", instructions);
    mcp__reply_result(out, msg->id, r, v);
}

static json_t *supported_versions(void)
{
    return json_pack("[s,s,s]", MCP_VERSION_2026_07, MCP_VERSION_2025_11, MCP_VERSION_2025_06);
}

static void do_discover(struct mcp_server *m, const struct mcp_msg *msg, const char *version,
                        struct mcp_reply *out)
{
    json_t *r =
        json_pack("{s:o, s:o, s:o, s:s, s:i, s:s}", "supportedVersions", supported_versions(),
                  "capabilities", capabilities(), "serverInfo", server_info(m), "instructions",
                  instructions, "ttlMs", 0, "cacheScope", "private");
    json_object_set_new(r, "_meta",
                        json_pack("{s:o}", "io.modelcontextprotocol/serverInfo", server_info(m)));
    mcp__reply_result(out, msg->id, r, version);
}

/* ---- revisions ---- */

static bool legacy_version_ok(const char *v)
{
    for (size_t i = 0; i < sizeof legacy_versions / sizeof legacy_versions[0]; i++)
        if (strcmp(v, legacy_versions[i]) == 0)
            return true;
    return false;
}

/*
 * A standard header's value as the client meant it: a value that HTTP cannot carry as it is
 * comes in the Base64 sentinel form "=?base64?<standard base64>?=" (SEP-2243, "Value
 * Encoding"). Decodes into out (NUL-terminated, *len its length, which may count NULs); false
 * for a sentinel that does not decode.
 */
static bool header_value(const char *h, char *out, size_t n, size_t *len)
{
    size_t hl = strlen(h), bl, pad = 0;
    int dl;

    if (hl < 12 || strncmp(h, "=?base64?", 9) != 0 || strcmp(h + hl - 2, "?=") != 0) {
        if (hl >= n)
            return false;
        memcpy(out, h, hl + 1);
        *len = hl;
        return true;
    }
    bl = hl - 11;
    if (bl % 4 || bl / 4 * 3 + 1 > n)
        return false;
    if (bl && h[9 + bl - 1] == '=')
        pad++;
    if (bl > 1 && h[9 + bl - 2] == '=')
        pad++;
    dl = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)h + 9, (int)bl);
    if (dl < 0 || (size_t)dl < pad)
        return false;
    *len = (size_t)dl - pad;
    out[*len] = '\0';
    return true;
}

/*
 * 2026-07-28's standard headers: present on every request and equal to the body's values
 * (SEP-2243); tools/call always carries Mcp-Name. Returns false with the error reply made.
 */
static bool modern_headers_ok(const struct mcp_request *req, const struct mcp_msg *msg,
                              const char *version, struct mcp_reply *out)
{
    char why[200];
    const json_t *jname = json_object_get(msg->params, "name");
    const char *name = json_string_value(jname);

    why[0] = '\0';
    if (!req->h_version)
        snprintf(why, sizeof why, "the MCP-Protocol-Version header is missing");
    else if (strcmp(req->h_version, version) != 0)
        snprintf(why, sizeof why, "the MCP-Protocol-Version header does not match params._meta");
    else if (!req->h_method)
        snprintf(why, sizeof why, "the Mcp-Method header is missing");
    else if (strcmp(req->h_method, msg->method) != 0)
        snprintf(why, sizeof why, "the Mcp-Method header does not match the method");
    else if (strcmp(msg->method, "tools/call") == 0) {
        char hv[512];
        size_t hlen = 0;
        if (!req->h_name)
            snprintf(why, sizeof why, "the Mcp-Name header is missing; it must equal params.name");
        else if (!header_value(req->h_name, hv, sizeof hv, &hlen))
            snprintf(why, sizeof why, "the Mcp-Name header is not valid Base64 sentinel text");
        else if (!name || hlen != json_string_length(jname) || memcmp(hv, name, hlen) != 0)
            snprintf(why, sizeof why, "the Mcp-Name header does not match params.name");
    }
    if (!why[0])
        return true;
    mcp__reply_error(out, 400, msg->id, MCP_RPC_HEADER_MISMATCH, why, NULL, version);
    return false;
}

/*
 * Works out the revision of a request: the 2026-07-28 envelope in params._meta, else the
 * MCP-Protocol-Version header of the 2025 revisions (absent: the latest of them, as a client
 * that has not negotiated yet, or an old one, sends none). Returns NULL with the error reply
 * made.
 */
static const char *revision(const struct mcp_request *req, const struct mcp_msg *msg,
                            struct mcp_reply *out)
{
    const json_t *meta = json_object_get(msg->params, "_meta");
    const json_t *pv = json_object_get(meta, "io.modelcontextprotocol/protocolVersion");

    if (pv) {
        const char *v = json_string_value(pv);
        if (v && strlen(v) != json_string_length(pv))
            v = "(a version holding NUL)";
        /* A header that contradicts the envelope is a mismatch before it is a version. */
        if (v && req->h_version && strcmp(req->h_version, v) != 0) {
            mcp__reply_error(out, 400, msg->id, MCP_RPC_HEADER_MISMATCH,
                             "the MCP-Protocol-Version header does not match params._meta", NULL,
                             MCP_VERSION_2026_07);
            return NULL;
        }
        if (v && strcmp(v, MCP_VERSION_2026_07) == 0 &&
            !json_is_object(json_object_get(meta, "io.modelcontextprotocol/clientCapabilities"))) {
            mcp__reply_error(out, 400, msg->id, MCP_RPC_INVALID_PARAMS,
                             "params._meta must carry io.modelcontextprotocol/clientCapabilities",
                             NULL, MCP_VERSION_2026_07);
            return NULL;
        }
        if (!v || strcmp(v, MCP_VERSION_2026_07) != 0) {
            json_t *data =
                json_pack("{s:o, s:s}", "supported", supported_versions(), "requested", v ? v : "");
            mcp__reply_error(out, 400, msg->id, MCP_RPC_UNSUPPORTED_VERSION,
                             "Unsupported protocol version", data, NULL);
            json_decref(data);
            return NULL;
        }
        return modern_headers_ok(req, msg, MCP_VERSION_2026_07, out) ? MCP_VERSION_2026_07 : NULL;
    }
    if (req->h_version && strcmp(req->h_version, MCP_VERSION_2026_07) == 0) {
        /* The header claims the stateless revision, the body lacks its envelope. */
        mcp__reply_error(out, 400, msg->id, MCP_RPC_INVALID_PARAMS,
                         "a 2026-07-28 request carries params._meta with "
                         "io.modelcontextprotocol/protocolVersion and clientCapabilities",
                         NULL, MCP_VERSION_2026_07);
        return NULL;
    }
    if (strcmp(msg->method, "initialize") == 0)
        return MCP_VERSION_2025_11; /* the handshake itself negotiates */
    if (!req->h_version)
        return MCP_VERSION_2025_11;
    if (legacy_version_ok(req->h_version))
        return strcmp(req->h_version, MCP_VERSION_2025_06) == 0 ? MCP_VERSION_2025_06
                                                                : MCP_VERSION_2025_11;
    {
        char msgtext[160];
        snprintf(msgtext, sizeof msgtext,
                 "Bad Request: unsupported protocol version %.40s (supported: %s, %s, %s)",
                 req->h_version, MCP_VERSION_2026_07, MCP_VERSION_2025_11, MCP_VERSION_2025_06);
        mcp__reply_error(out, 400, msg->id, MCP_RPC_INVALID_REQUEST, msgtext, NULL, NULL);
    }
    return NULL;
}

/* ---- one message ---- */

bool mcp_handle(struct mcp_server *m, const struct mcp_request *req, struct mcp_reply *out,
                mcp_reply_fn fn, void *cls)
{
    struct mcp_msg msg;
    struct mcp_rpc_error rerr;
    const char *v;
    bool ready = true, modern;

    memset(out, 0, sizeof *out);
    if (mcp_jsonrpc_parse(req->body, req->body_len, &msg, &rerr) != MD_OK) {
        mcp__reply_error(out, 400, msg.id, rerr.code, rerr.message, NULL, NULL);
        goto out;
    }
    if (msg.kind != MCP_MSG_REQUEST) {
        /* Notifications and responses are accepted and need no answer (202, no body). */
        out->status = 202;
        goto out;
    }
    v = revision(req, &msg, out);
    if (!v)
        goto out;
    modern = strcmp(v, MCP_VERSION_2026_07) == 0;
    if (strcmp(msg.method, "initialize") == 0 && !modern)
        do_initialize(m, req, &msg, out);
    else if (strcmp(msg.method, "ping") == 0 && !modern)
        mcp__reply_result(out, msg.id, json_object(), v);
    else if (strcmp(msg.method, "server/discover") == 0)
        do_discover(m, &msg, v, out);
    else if (strcmp(msg.method, "tools/list") == 0)
        mcp__tools_list(m, req, &msg, v, out);
    else if (strcmp(msg.method, "tools/call") == 0)
        ready = mcp__tools_call(m, req, &msg, v, out, fn, cls);
    else
        /* 2026-07-28 answers an unknown (or removed) method with 404 as well. */
        mcp__reply_error(out, modern ? 404 : 200, msg.id, MCP_RPC_METHOD_NOT_FOUND,
                         "Method not found", NULL, v);
out:
    mcp_msg_free(&msg);
    return ready;
}
