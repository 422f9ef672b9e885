/*
 * libFuzzer driver for the MCP JSON-RPC message parser and the response builders. Every input
 * is parsed; a refusal must carry a pre-defined code and a message, and the error response built
 * for it must parse back as an error response with that code and the same id (or null). An
 * accepted message must have what its kind promises; when it has an id, the result response
 * built for it must parse back as a result response with an equal id. An accepted message,
 * serialised by json_text, must be byte for byte what json_dumps writes (compact, with and
 * without JSON_ENSURE_ASCII, and with sorted keys). Anything else aborts.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "mcp/jsonrpc.h"

static void check_id(const json_t *id)
{
    if (id && !json_is_string(id) && !json_is_integer(id))
        abort();
}

/* What each kind of an accepted message promises, and nothing it does not. */
static void check_msg(const struct mcp_msg *m)
{
    if (!json_is_object(m->root))
        abort();
    check_id(m->id);
    if (m->params && !json_is_object(m->params))
        abort();
    switch (m->kind) {
    case MCP_MSG_REQUEST:
        if (!m->method || !m->id || m->result || m->error)
            abort();
        break;
    case MCP_MSG_NOTIFICATION:
        if (!m->method || m->id || m->result || m->error)
            abort();
        break;
    case MCP_MSG_RESPONSE:
        if (m->method || m->params || (m->result != NULL) == (m->error != NULL))
            abort();
        if (m->result && (!m->id || !json_is_object(m->result)))
            abort();
        if (m->error && !json_is_integer(json_object_get(m->error, "code")))
            abort();
        break;
    default:
        abort();
    }
}

/* Parses text back; it must be a response with the same id (NULL: id null). */
static struct mcp_msg reparse_response(const char *text, const json_t *id)
{
    struct mcp_rpc_error e;
    struct mcp_msg back;

    if (!text || mcp_jsonrpc_parse(text, strlen(text), &back, &e) != MD_OK)
        abort();
    if (back.kind != MCP_MSG_RESPONSE)
        abort();
    if (id ? !json_equal(back.id, id) : back.id != NULL)
        abort();
    return back;
}

static void check_refusal(enum md_err rc, const struct mcp_msg *m, const struct mcp_rpc_error *e)
{
    struct mcp_msg back;
    char *text = NULL;

    if (rc != MD_ERR_SYNTAX && rc != MD_ERR_TOOLARGE && rc != MD_ERR_NOMEM)
        abort();
    if (e->code != MCP_RPC_PARSE_ERROR && e->code != MCP_RPC_INVALID_REQUEST &&
        e->code != MCP_RPC_INVALID_PARAMS && e->code != MCP_RPC_INTERNAL_ERROR)
        abort();
    if (!e->message[0] || m->kind != MCP_MSG_INVALID || m->method || m->params)
        abort();
    check_id(m->id);
    if (mcp_jsonrpc_error(m->id, e->code, e->message, NULL, &text) != MD_OK)
        abort();
    back = reparse_response(text, m->id);
    if (!back.error || json_integer_value(json_object_get(back.error, "code")) != e->code)
        abort();
    mcp_msg_free(&back);
    free(text);
}

static void check_echo(const struct mcp_msg *m)
{
    struct mcp_msg back;
    json_t *result;
    char *text = NULL;

    if (!m->id)
        return;
    result = json_pack("{s:b}", "echo", 1);
    if (!result || mcp_jsonrpc_result(m->id, result, &text) != MD_OK)
        abort();
    back = reparse_response(text, m->id);
    if (!back.result || !json_equal(back.result, result))
        abort();
    mcp_msg_free(&back);
    free(text);
    json_decref(result);
}

/* json_text is json_dumps, faster: the same bytes, or a refusal by both. */
static void check_text(const json_t *v)
{
    static const size_t flags[] = {JSON_COMPACT, JSON_COMPACT | JSON_ENSURE_ASCII,
                                   JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII};

    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        char *want = json_dumps(v, flags[i]);
        size_t len = 0;
        char *got = json_text(v, flags[i], &len);
        if ((want == NULL) != (got == NULL) || (want && (strcmp(want, got) || len != strlen(want))))
            abort();
        free(want);
        free(got);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mcp_rpc_error e;
    struct mcp_msg m;
    enum md_err rc;

    rc = mcp_jsonrpc_parse((const char *)data, size, &m, &e);
    if (rc != MD_OK) {
        check_refusal(rc, &m, &e);
    } else {
        check_msg(&m);
        check_echo(&m);
        check_text(m.root);
    }
    mcp_msg_free(&m);
    return 0;
}
