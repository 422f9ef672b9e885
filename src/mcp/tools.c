/*
 * tools/list and tools/call: the user's entitlements as MCP tools, and a call decided by the
 * access module before the connector runtime executes it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "audit/audit.h"
#include "connect/runtime.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"
#include "mcp/mcp_int.h"

/*
 * How long a client may keep a tools/list page (2026-07-28 "ttlMs"). Calls are decided live,
 * so a stale list costs an agent at most a refused call; a minute keeps lists cheap.
 */
#define LIST_TTL_MS 60000

/* ---- cursors: the hex of the last name of the previous page, opaque to clients ---- */

static void cursor_make(const char *name, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && w + 2 < n; p++) {
        out[w++] = hex[*p >> 4];
        out[w++] = hex[*p & 15];
    }
    out[w] = '\0';
}

/* Decodes a cursor into a tool name; false for anything this server did not make. */
static bool cursor_read(const char *c, char name[ACCESS_TOOL_NAME_MAX + 1])
{
    size_t len = strlen(c), k = 0;
    /* Only what cursor_make writes: lower-case hex. */
    if (len == 0 || len % 2 || len / 2 > ACCESS_TOOL_NAME_MAX ||
        strspn(c, "0123456789abcdef") != len)
        return false;
    for (size_t i = 0; i < len; i += 2) {
        int hi = str_hex_digit(c[i]), lo = str_hex_digit(c[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        name[k++] = (char)(hi << 4 | lo);
    }
    name[k] = '\0';
    return access_tool_name_ok(name);
}

/* ---- tools/list ---- */

/* MCP's tool annotations (2025-06-18 "ToolAnnotations") from the tool's access level. */
static json_t *annotations(const json_t *ent)
{
    const char *level = json_string_value(json_object_get(ent, "level"));
    json_t *a = json_object();
    bool read = level && strcmp(level, "read") == 0;
    bool destructive = level && strcmp(level, "destructive") == 0;

    if (json_is_string(json_object_get(ent, "title")))
        json_object_set(a, "title", json_object_get(ent, "title"));
    json_object_set_new(a, "readOnlyHint", json_boolean(read));
    if (!read)
        json_object_set_new(a, "destructiveHint", json_boolean(destructive));
    json_object_set_new(a, "openWorldHint", json_true());
    return a;
}

static json_t *tool_json(const json_t *ent)
{
    json_t *t = json_object();
    json_object_set(t, "name", json_object_get(ent, "name"));
    if (json_is_string(json_object_get(ent, "title")))
        json_object_set(t, "title", json_object_get(ent, "title"));
    json_object_set(t, "description", json_object_get(ent, "description"));
    json_object_set(t, "inputSchema", json_object_get(ent, "input_schema"));
    json_object_set_new(t, "annotations", annotations(ent));
    return t;
}

void mcp__tools_list(struct mcp_server *m, const struct mcp_request *req, const struct mcp_msg *msg,
                     const char *version, struct mcp_reply *out)
{
    const json_t *jc = json_object_get(msg->params, "cursor");
    char after[ACCESS_TOOL_NAME_MAX + 1] = "";
    json_t *ents = NULL, *tools, *result;
    struct md_error e = {0};
    const json_t *all;
    size_t i, taken = 0;

    if (jc && !json_is_null(jc) &&
        (!json_is_string(jc) || !cursor_read(json_string_value(jc), after))) {
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INVALID_PARAMS, "Invalid cursor", NULL,
                         version);
        return;
    }
    if (access_entitlements(m->cfg.access, req->user_id, req->pack, true, &ents, &e) != MD_OK) {
        char qe[300];
        log_warn("event=mcp_tools_list_failed error=%s", log_quote(e.msg, qe, sizeof qe));
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INTERNAL_ERROR,
                         "the tool list cannot be read now; try again", NULL, version);
        return;
    }
    tools = json_array();
    result = json_pack("{s:o}", "tools", tools);
    all = json_object_get(ents, "tools");
    /* Entitlements come in name order, which makes pages stable and the cursor a name. */
    for (i = 0; i < json_array_size(all); i++) {
        const json_t *ent = json_array_get(all, i);
        const char *name = json_string_value(json_object_get(ent, "name"));
        if (!name || (after[0] && strcmp(name, after) <= 0))
            continue;
        if (taken == (size_t)m->cfg.page_size) {
            char cur[2 * ACCESS_TOOL_NAME_MAX + 1];
            const json_t *last = json_array_get(tools, taken - 1);
            cursor_make(json_string_value(json_object_get(last, "name")), cur, sizeof cur);
            json_object_set_new(result, "nextCursor", json_string(cur));
            break;
        }
        json_array_append_new(tools, tool_json(ent));
        taken++;
    }
    if (strcmp(version, MCP_VERSION_2026_07) == 0) {
        json_object_set_new(result, "ttlMs", json_integer(LIST_TTL_MS));
        json_object_set_new(result, "cacheScope", json_string("private"));
    }
    json_decref(ents);
    mcp__reply_result(out, msg->id, result, version);
}

/* ---- tools/call ---- */

/* A tool error result: the agent sees it, the protocol does not fail. */
static json_t *tool_error(const char *text, json_t *structured)
{
    json_t *r =
        json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", 1);
    if (structured)
        json_object_set_new(r, "structuredContent", structured);
    return r;
}

/*
 * Whether a denial comes from a condition: the user holds a grant of the tool at its level,
 * and that grant's condition refused these arguments. Any other denial means the tool is not
 * the user's (no grant, an expired one, a ceiling below the tool), which tools/list also hides.
 */
static bool denied_by_condition(const struct access_decision *d)
{
    if (d->reason != ACCESS_GRANTS_FAILED)
        return false;
    for (size_t i = 0; i < d->ncands; i++)
        if (d->cands[i].outcome == ACCESS_OUTCOME_CONDITION_FALSE ||
            d->cands[i].outcome == ACCESS_OUTCOME_CONDITION_ERROR)
            return true;
    return false;
}

/* "Denied by policy: ..." naming every grant whose condition refused, and why. */
static json_t *policy_denial(const struct access_decision *d)
{
    char text[2048];
    size_t w;
    json_t *policies = json_array();

    w = (size_t)snprintf(text, sizeof text,
                         "Denied by policy: %s may not be called with these "
                         "arguments.",
                         d->tool);
    for (size_t i = 0; i < d->ncands; i++) {
        const struct access_candidate *c = &d->cands[i];
        const char *who = c->subject_type == ACCESS_SUBJECT_EVERYONE ? "everyone"
                          : c->subject_name[0]                       ? c->subject_name
                                                                     : c->subject_id;
        if (c->outcome != ACCESS_OUTCOME_CONDITION_FALSE &&
            c->outcome != ACCESS_OUTCOME_CONDITION_ERROR)
            continue;
        if (w < sizeof text)
            w +=
                (size_t)snprintf(text + w, sizeof text - w, " Grant %s (to %s%s%s): %s.",
                                 c->grant_id, who, c->pack[0] ? ", pack " : "", c->pack, c->detail);
        json_array_append_new(policies,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "grant", c->grant_id,
                                        "subject", who, "pack", c->pack, "outcome",
                                        access_outcome_name(c->outcome), "detail", c->detail));
    }
    if (w < sizeof text)
        snprintf(text + w, sizeof text - w,
                 " Ask an administrator if this call should be allowed.");
    return tool_error(text, json_pack("{s:s, s:s, s:o}", "decision", "denied", "tool", d->tool,
                                      "policies", policies));
}

/*
 * The audit event of a tools/call, as far as the decision knows it: who (the user and their
 * groups at this moment, the agent token, the client), where (endpoint, pack), what (the tool,
 * its level, the arguments with the connector's redactions and the SHA-256 of all of them) and
 * the decision (the grant that allowed it, or the reason and the candidates that failed).
 * NULL when the server keeps no audit log.
 */
static json_t *call_event(struct mcp_server *m, const struct mcp_request *req,
                          const struct mcp_msg *msg, const struct access_decision *d,
                          const json_t *args, const json_t *tool_def)
{
    const json_t *meta = json_object_get(msg->params, "_meta");
    const json_t *given = json_object_get(meta, "io.modelcontextprotocol/clientInfo");
    json_t *client = given ? json_incref(json_mut(given)) : mcp__client_recall(m, req->token_id);
    json_t *ev, *user = NULL, *decision, *redacted;
    struct md_error e = {0};
    char sha[65];

    if (!m->cfg.audit)
        return NULL;
    if (access_user_snapshot(m->cfg.access, req->user_id, &user, &e) != MD_OK)
        user = json_pack("{s:s, s:s}", "id", req->user_id, "error", e.msg);
    redacted = audit_redact_args(args, json_object_get(tool_def, "redact"), sha);
    if (d->allowed)
        decision = json_pack("{s:b, s:s, s:s}", "allowed", 1, "grant", d->cands[0].grant_id,
                             "reason", "allowed");
    else
        decision = access_decision_json(d);
    ev =
        json_pack("{s:s, s:s?, s:s?, s:s?, s:o?, s:O?, s:{s:s?, s:s?, s:o?, s:s?, s:s?}, s:s, "
                  "s:s, s:o?, s:s, s:o?}",
                  "type", d->allowed ? AUDIT_TYPE_TOOL_CALL : AUDIT_TYPE_TOOL_DENIED, "request_id",
                  req->request_id, "endpoint", req->endpoint, "pack",
                  req->pack && req->pack[0] ? req->pack : NULL, "user", user, "groups",
                  json_object_get(user, "groups"), "agent", "token_id", req->token_id, "token_name",
                  req->token_name, "client", client, "user_agent", req->user_agent, "address",
                  req->client_addr, "tool", d->tool, "level", access_level_name(d->level),
                  "decision", decision, "arguments_sha256", sha, "arguments", redacted);
    if (ev && user)
        json_object_del(json_object_get(ev, "user"), "groups");
    return ev;
}

/*
 * One tools/call in flight. Two parties finish it: the upstream call's completion (call_done)
 * and the request thread, which builds the audit event while the upstream works, so that the
 * event costs the answer nothing but its last fields. Whichever comes second answers.
 */
struct call_ctx {
    struct mcp_server *m;
    atomic_int parties;        /* 2 at start; the one that takes it to 0 answers */
    struct audit_draft *event; /* the audit event, completed at the answer; NULL: none */
    json_t *result;            /* call_done's CallToolResult, until the answer */
    struct connect_outcome outcome;
    bool has_outcome;
    json_t *id;
    const char *version;
    mcp_reply_fn fn;
    void *cls;
    char rid[24];
    char user[64];
    char tool[ACCESS_TOOL_NAME_MAX + 1];
    char grant[64];
    int64_t t0;
};

/* A caller attribute of the decision, or NULL when empty or possibly cut to fit cap bytes. */
static const char *caller_value(const char *v, size_t cap)
{
    size_t n = strnlen(v, cap);
    return n == 0 || n >= cap - 1 ? NULL : v;
}

/* Answers the call: its log line, its audit event (before the answer leaves), the reply. */
static void call_finish(struct call_ctx *cx)
{
    const struct connect_outcome *o = cx->has_outcome ? &cx->outcome : NULL;
    bool is_error = json_is_true(json_object_get(cx->result, "isError"));
    struct mcp_reply r;

    log_set_request_id(cx->rid);
    log_info("mcp_call user=%s tool=%s decision=allowed grant=%s outcome=%s upstream_status=%d "
             "upstream_ms=%ld ms=%lld",
             cx->user, cx->tool, cx->grant,
             !is_error               ? "ok"
             : o && o->error_kind[0] ? o->error_kind
                                     : "error",
             o ? o->upstream_status : 0, o ? o->upstream_ms : 0L,
             (long long)(time_mono_ms() - cx->t0));
    memset(&r, 0, sizeof r);
    mcp__reply_result(&r, cx->id, cx->result, cx->version);
    cx->result = NULL;
    if (cx->event) {
        /* Recorded before the answer leaves, so that an answered call is never unaudited. */
        audit_draft_record(cx->m->cfg.audit, cx->event,
                           json_pack("{s:s, s:{s:i, s:I, s:I}, s:I}", "outcome",
                                     !is_error               ? "ok"
                                     : o && o->error_kind[0] ? o->error_kind
                                                             : "tool_error",
                                     "upstream", "status", o ? o->upstream_status : 0, "ms",
                                     (json_int_t)(o ? o->upstream_ms : 0), "result_bytes",
                                     (json_int_t)r.body_len, "ms",
                                     (json_int_t)(time_mono_ms() - cx->t0)));
        cx->event = NULL;
    }
    log_set_request_id(NULL);
    json_decref(cx->id);
    cx->fn(cx->cls, &r);
    free(cx);
}

/* The upstream call ended: keep its result; answer if the event is built already. */
static void call_done(void *cls, json_t *result, const struct connect_outcome *o)
{
    struct call_ctx *cx = cls;

    cx->result = result;
    if (o) {
        cx->outcome = *o;
        cx->has_outcome = true;
    }
    if (atomic_fetch_sub(&cx->parties, 1) == 1)
        call_finish(cx);
}

bool mcp__tools_call(struct mcp_server *m, const struct mcp_request *req, const struct mcp_msg *msg,
                     const char *version, struct mcp_reply *out, mcp_reply_fn fn, void *cls)
{
    const json_t *jname = json_object_get(msg->params, "name");
    const char *name = json_string_value(jname);
    const json_t *args = json_object_get(msg->params, "arguments");
    struct access_decision *d = NULL;
    struct access_tool tool = {0};
    struct md_error e = {0};
    struct call_ctx *cx = NULL;
    char unknown[128];
    bool ready = true;

    if (!name) {
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INVALID_PARAMS,
                         "params.name must be the tool's name", NULL, version);
        goto out;
    }
    /* A NUL inside the name would end it early, and name another tool than the message does. */
    if (strlen(name) != json_string_length(jname))
        name = "(a name holding NUL)";
    if (json_is_null(args))
        args = NULL;
    if (args && !json_is_object(args)) {
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INVALID_PARAMS,
                         "params.arguments must be an object", NULL, version);
        goto out;
    }
    snprintf(unknown, sizeof unknown, "Unknown tool: %.64s", name);
    d = malloc(sizeof *d);
    if (!d || access_decide(m->cfg.access, req->user_id, name, req->pack, args, d, &e) != MD_OK) {
        char qe[300];
        log_warn("mcp_call user=%s decision=error error=%s", req->user_id,
                 log_quote(e.msg, qe, sizeof qe));
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INTERNAL_ERROR,
                         "the decision cannot be made now; try again", NULL, version);
        goto out;
    }
    if (!d->allowed) {
        char qtool[2 * ACCESS_TOOL_NAME_MAX + 8];
        /* The name is the agent's: quoted, so that it cannot forge a log line. */
        log_info("mcp_call user=%s tool=%s decision=denied reason=%s", req->user_id,
                 log_quote(d->tool, qtool, sizeof qtool), access_reason_name(d->reason));
        if (m->cfg.audit) {
            struct md_error te = {0};
            /* A known tool's redactions apply to a refused call's arguments too. */
            bool known = access_tool_get(m->cfg.access, d->tool, &tool, &te) == MD_OK;
            json_t *ev = call_event(m, req, msg, d, args, known ? tool.tool : NULL);
            json_object_set_new(ev, "outcome", json_string("denied"));
            audit_record(m->cfg.audit, ev);
        }
        if (denied_by_condition(d))
            mcp__reply_result(out, msg->id, policy_denial(d), version);
        else
            mcp__reply_error(out, 200, msg->id, MCP_RPC_INVALID_PARAMS, unknown, NULL, version);
        goto out;
    }
    if (access_tool_get(m->cfg.access, name, &tool, &e) != MD_OK) {
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INVALID_PARAMS, unknown, NULL, version);
        goto out;
    }
    if (!m->cfg.rt) {
        mcp__reply_result(out, msg->id, tool_error("No connector runtime runs here.", NULL),
                          version);
        goto out;
    }
    cx = calloc(1, sizeof *cx);
    if (!cx) {
        mcp__reply_error(out, 200, msg->id, MCP_RPC_INTERNAL_ERROR, "out of memory", NULL, version);
        goto out;
    }
    cx->m = m;
    atomic_init(&cx->parties, 2);
    cx->id = json_incref(msg->id);
    cx->version = version;
    cx->fn = fn;
    cx->cls = cls;
    cx->t0 = time_mono_ms();
    snprintf(cx->rid, sizeof cx->rid, "%s", req->request_id ? req->request_id : "-");
    snprintf(cx->user, sizeof cx->user, "%s", req->user_id);
    snprintf(cx->tool, sizeof cx->tool, "%s", d->tool);
    snprintf(cx->grant, sizeof cx->grant, "%s", d->cands[0].grant_id);
    {
        struct connect_call call = {
            .connector = json_string_value(json_object_get(tool.connector, "name")),
            .connector_doc = tool.connector,
            .tool_doc = tool.tool,
            .base_url = tool.base_url,
            .token_url = tool.token_url,
            .args = args,
            .request_id = req->request_id,
            /*
             * The directory's, as the decision resolved the user: never the agent's word. A
             * value that filled its buffer may have been cut, and a cut name could name
             * someone else: such a call has no caller (a tool that needs one is refused).
             */
            .caller_user_name = caller_value(d->user_name, sizeof d->user_name),
            .caller_email = caller_value(d->user_email, sizeof d->user_email),
        };
        /*
         * From here the reply belongs to whichever of call_done and this thread finishes
         * second; call_done may run before connect_runtime_call returns. Meanwhile this thread
         * builds the audit event (everything it reads stays valid until this function returns).
         */
        ready = false;
        connect_runtime_call(m->cfg.rt, &call, call_done, cx);
        cx->event = audit_draft_new(m->cfg.audit, call_event(m, req, msg, d, args, tool.tool));
        if (atomic_fetch_sub(&cx->parties, 1) == 1)
            call_finish(cx);
    }
out:
    access_tool_release(&tool);
    free(d);
    return ready;
}
