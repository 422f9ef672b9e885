/*
 * libFuzzer driver for grant conditions as a decision evaluates them: the input is a condition
 * (a SCIM filter) and, after the first newline, a tool call's arguments as an agent sends them.
 * The arguments go through the same limited JSON parser as a request body; the condition, when
 * it parses, is evaluated over them as access_decide does (access_condition_eval), and by the
 * SCIM matcher too. A parse error must be MD_ERR_FILTER (or MD_ERR_NOMEM) with a message;
 * anything else, or a crash, aborts.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "core/json.h"
#include "scim/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t clen = nl ? (size_t)(nl - text) : size;
    struct filter_node *f = NULL;
    json_t *args = NULL;
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    rc = scim_filter_parse(text, clen, &f, &e);
    if (rc != MD_OK && ((rc != MD_ERR_FILTER && rc != MD_ERR_NOMEM) || !e.msg[0]))
        abort();
    if (nl) {
        md_error_clear(&e);
        rc = json_parse_limited(nl + 1, size - clen - 1, 1 << 20, 32, &args, &e);
        if (rc != MD_OK && !e.msg[0])
            abort();
    }
    if (f) {
        json_t *obj = args && json_is_object(args) ? args : NULL;
        json_t *empty = obj ? NULL : json_object();
        bool a = scim_filter_match(f, obj ? obj : empty, NULL, true);
        bool b = scim_filter_match(f, obj ? obj : empty, NULL, true);
        enum access_cond_result c = access_condition_eval(f, obj ? obj : empty);
        enum access_cond_result d = access_condition_eval(f, obj ? obj : empty);
        /* Both are pure functions of their inputs, and a result is one of the three. */
        if (a != b || c != d ||
            (c != ACCESS_COND_TRUE && c != ACCESS_COND_FALSE && c != ACCESS_COND_ERROR))
            abort();
        json_decref(empty);
    }
    scim_filter_free(f);
    json_decref(args);
    return 0;
}
