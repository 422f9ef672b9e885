/*
 * libFuzzer driver for tool input schemas (connect_schema_check, connect_schema_validate): the
 * input is a schema, a newline, and a call's arguments, both JSON, parsed by the same limited
 * parser as an agent's message (no newline: no arguments). Whatever the schema and the
 * arguments, the calls must keep to what schema.h promises; the checks below restate those
 * promises independently of schema.c and abort on any violation:
 *
 * - the check either accepts or refuses with MD_ERR_VALUE and a message naming a place;
 * - a schema that the check refuses is refused by validate with MD_ERR_INTERNAL;
 * - on an accepted schema, validate gives MD_OK or MD_ERR_VALUE (never MD_ERR_INTERNAL), the
 *   same answer twice, and a message of 1 to 255 bytes of valid UTF-8;
 * - accepted arguments keep the top-level rules that are easy to restate: every required name
 *   is present, no name outside properties when additionalProperties is false, and the
 *   arguments are an object when the type says so.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connect/schema.h"
#include "core/json.h"

static void check_msg(const struct md_error *e)
{
    size_t n = strlen(e->msg);
    json_t *s;
    if (n == 0 || n > 255)
        abort();
    s = json_string(e->msg); /* NULL when not valid UTF-8 */
    if (!s)
        abort();
    json_decref(s);
}

static void check_accepted(const json_t *schema, const json_t *args)
{
    const json_t *req, *props, *m;
    const char *k;
    size_t i;
    if (!json_is_object(schema))
        return;
    k = json_string_value(json_object_get(schema, "type"));
    if (k && strcmp(k, "object") == 0 && args && !json_is_object(args))
        abort();
    if (args && !json_is_object(args))
        return;
    req = json_object_get(schema, "required");
    json_array_foreach(req, i, m)
    {
        if (!args || !json_object_get(args, json_string_value(m)))
            abort();
    }
    props = json_object_get(schema, "properties");
    if (json_is_false(json_object_get(schema, "additionalProperties")) && args) {
        json_object_foreach(json_mut(args), k, m)
        {
            if (!json_object_get(props, k))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t slen = nl ? (size_t)(nl - text) : size;
    json_t *schema = NULL, *args = NULL;
    struct md_error e, e2;
    enum md_err rc, rc2;

    md_error_clear(&e);
    if (json_parse_limited(text, slen, 1 << 20, 40, &schema, &e) != MD_OK)
        return 0;
    if (nl && json_parse_limited(nl + 1, size - slen - 1, 1 << 20, 40, &args, &e) != MD_OK)
        goto out;

    md_error_clear(&e);
    rc = connect_schema_check(schema, &e);
    if (rc != MD_OK) {
        if (rc != MD_ERR_VALUE && rc != MD_ERR_NOMEM)
            abort();
        check_msg(&e);
        rc = connect_schema_validate(schema, args, &e);
        if (rc != MD_ERR_INTERNAL && rc != MD_ERR_NOMEM)
            abort();
        check_msg(&e);
        goto out;
    }
    md_error_clear(&e);
    rc = connect_schema_validate(schema, args, &e);
    if (rc != MD_OK && rc != MD_ERR_VALUE && rc != MD_ERR_NOMEM)
        abort();
    md_error_clear(&e2);
    rc2 = connect_schema_validate(schema, args, &e2);
    if (rc2 != rc || strcmp(e.msg, e2.msg) != 0)
        abort();
    if (rc == MD_OK)
        check_accepted(schema, args);
    else
        check_msg(&e);
out:
    json_decref(args);
    json_decref(schema);
    return 0;
}
