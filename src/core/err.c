#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const names[MD_ERR__COUNT] = {
    [MD_OK] = "MD_OK",
    [MD_ERR_NOMEM] = "MD_ERR_NOMEM",
    [MD_ERR_INTERNAL] = "MD_ERR_INTERNAL",
    [MD_ERR_IO] = "MD_ERR_IO",
    [MD_ERR_UNAVAILABLE] = "MD_ERR_UNAVAILABLE",
    [MD_ERR_SYNTAX] = "MD_ERR_SYNTAX",
    [MD_ERR_FILTER] = "MD_ERR_FILTER",
    [MD_ERR_PATH] = "MD_ERR_PATH",
    [MD_ERR_NOTARGET] = "MD_ERR_NOTARGET",
    [MD_ERR_VALUE] = "MD_ERR_VALUE",
    [MD_ERR_MUTABILITY] = "MD_ERR_MUTABILITY",
    [MD_ERR_UNIQUENESS] = "MD_ERR_UNIQUENESS",
    [MD_ERR_TOOMANY] = "MD_ERR_TOOMANY",
    [MD_ERR_NOTFOUND] = "MD_ERR_NOTFOUND",
    [MD_ERR_PRECONDITION] = "MD_ERR_PRECONDITION",
    [MD_ERR_NOTMODIFIED] = "MD_ERR_NOTMODIFIED",
    [MD_ERR_TOOLARGE] = "MD_ERR_TOOLARGE",
    [MD_ERR_UNAUTHORIZED] = "MD_ERR_UNAUTHORIZED",
    [MD_ERR_FORBIDDEN] = "MD_ERR_FORBIDDEN",
    [MD_ERR_METHOD] = "MD_ERR_METHOD",
    [MD_ERR_UNSUPPORTED] = "MD_ERR_UNSUPPORTED",
    [MD_ERR_UNSUPPORTED_MEDIA] = "MD_ERR_UNSUPPORTED_MEDIA",
};

const char *md_err_name(enum md_err code)
{
    if ((int)code < 0 || code >= MD_ERR__COUNT || !names[code])
        return "MD_ERR_UNKNOWN";
    return names[code];
}

enum md_err md_error_set(struct md_error *e, enum md_err code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void md_error_clear(struct md_error *e)
{
    if (e) {
        e->code = MD_OK;
        e->msg[0] = '\0';
    }
}

int md_err_http_status(enum md_err code)
{
    switch (code) {
    case MD_OK:
        return 200;
    case MD_ERR_SYNTAX:
    case MD_ERR_FILTER:
    case MD_ERR_PATH:
    case MD_ERR_NOTARGET:
    case MD_ERR_VALUE:
    case MD_ERR_MUTABILITY:
    case MD_ERR_TOOMANY:
        return 400;
    case MD_ERR_UNAUTHORIZED:
        return 401;
    case MD_ERR_FORBIDDEN:
        return 403;
    case MD_ERR_NOTFOUND:
        return 404;
    case MD_ERR_METHOD:
        return 405;
    case MD_ERR_UNIQUENESS:
        return 409;
    case MD_ERR_PRECONDITION:
        return 412;
    case MD_ERR_TOOLARGE:
        return 413;
    case MD_ERR_UNSUPPORTED_MEDIA:
        return 415;
    case MD_ERR_NOTMODIFIED:
        return 304;
    case MD_ERR_UNSUPPORTED:
        return 501;
    case MD_ERR_UNAVAILABLE:
        return 503;
    case MD_ERR_NOMEM:
    case MD_ERR_INTERNAL:
    case MD_ERR_IO:
    case MD_ERR__COUNT:
        break;
    }
    return 500;
}

const char *md_err_scim_type(enum md_err code)
{
    switch (code) {
    case MD_ERR_SYNTAX:
        return "invalidSyntax";
    case MD_ERR_FILTER:
        return "invalidFilter";
    case MD_ERR_PATH:
        return "invalidPath";
    case MD_ERR_NOTARGET:
        return "noTarget";
    case MD_ERR_VALUE:
        return "invalidValue";
    case MD_ERR_MUTABILITY:
        return "mutability";
    case MD_ERR_UNIQUENESS:
        return "uniqueness";
    case MD_ERR_TOOMANY:
        return "tooMany";
    default:
        return NULL;
    }
}

int md_err_jsonrpc_code(enum md_err code)
{
    switch (code) {
    case MD_OK:
        return 0;
    case MD_ERR_SYNTAX:
    case MD_ERR_VALUE:
    case MD_ERR_FILTER:
    case MD_ERR_PATH:
    case MD_ERR_NOTARGET:
    case MD_ERR_MUTABILITY:
    case MD_ERR_TOOMANY:
    case MD_ERR_UNIQUENESS:
    case MD_ERR_NOTFOUND:
    case MD_ERR_FORBIDDEN:
        return -32602;
    case MD_ERR_UNSUPPORTED:
    case MD_ERR_METHOD:
        return -32601;
    case MD_ERR_TOOLARGE:
    case MD_ERR_UNSUPPORTED_MEDIA:
        return -32600;
    case MD_ERR_UNAUTHORIZED:
    case MD_ERR_PRECONDITION:
    case MD_ERR_NOTMODIFIED:
        return -32000;
    case MD_ERR_NOMEM:
    case MD_ERR_INTERNAL:
    case MD_ERR_IO:
    case MD_ERR_UNAVAILABLE:
    case MD_ERR__COUNT:
        break;
    }
    return -32603;
}
