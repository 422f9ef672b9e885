/*
 * libFuzzer driver for the PATCH engine: arbitrary bytes as a PATCH body, parsed as the HTTP
 * layer parses it (json_parse_limited), then applied to a copy of a fixed user, and to a copy
 * of a fixed group whose members live in a small in-memory table behind the callbacks.
 *
 * Beyond "no crash, no leak, no sanitizer report", a successful PATCH must leave documents
 * that keep the stored form's invariants, checked after every run:
 *  - "schemas" lists the core URN, and an extension URN exactly when its object is present;
 *  - no multi-valued attribute has more than one element with "primary": true.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "core/json.h"
#include "scim/filter.h"
#include "scim/patch.h"
#include "scim/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX (64 * 1024)

static const char user_text[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
    "\"userName\":\"bjensen\",\"displayName\":\"Babs\",\"active\":true,"
    "\"name\":{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"},"
    "\"emails\":[{\"value\":\"b@work.example\",\"type\":\"work\",\"primary\":true},"
    "{\"value\":\"b@home.example\",\"type\":\"home\"}],"
    "\"addresses\":[{\"type\":\"work\",\"locality\":\"Oslo\"}],"
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
    "{\"department\":\"Tour\",\"manager\":{\"value\":\"m1\"}}}";

static const char group_text[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"Eng\"}";

static const char members_text[] = "[{\"value\":\"a\"},{\"value\":\"b\",\"display\":\"B\"}]";

/* The membership table of the group: an array of member objects. */
static enum md_err m_add(void *ctx, const json_t *values, struct md_error *e)
{
    json_t *list = ctx, *v;
    size_t i;

    (void)e;
    json_array_foreach(values, i, v)
    {
        if (json_array_size(list) < 64)
            json_array_append_new(list, json_deep_copy(v));
    }
    return MD_OK;
}

static enum md_err m_remove(void *ctx, const struct filter_node *f, struct md_error *e)
{
    json_t *list = ctx;

    (void)e;
    for (size_t i = json_array_size(list); i-- > 0;) {
        if (!f || scim_filter_match(f, json_array_get(list, i), NULL, false))
            json_array_remove(list, i);
    }
    return MD_OK;
}

static enum md_err m_remove_values(void *ctx, const json_t *values, struct md_error *e)
{
    json_t *list = ctx, *v;
    size_t i;

    (void)e;
    json_array_foreach(values, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "value"));
        /* The engine promises every member has a string value. */
        if (!id)
            abort();
        for (size_t j = json_array_size(list); j-- > 0;) {
            if (json_equal(json_object_get(json_array_get(list, j), "value"),
                           json_object_get(v, "value")))
                json_array_remove(list, j);
        }
    }
    return MD_OK;
}

static enum md_err m_replace(void *ctx, const json_t *values, struct md_error *e)
{
    json_t *list = ctx;

    json_array_clear(list);
    return m_add(ctx, values, e);
}

/* Traps when a successfully patched document breaks the stored form's invariants. */
static void check_doc(const struct scim_rtype *rt, const json_t *doc)
{
    const json_t *schemas = json_object_get(doc, "schemas");
    const char *k;
    json_t *v, *el, *s;
    size_t i, j, primaries;
    int core = 0;

    json_array_foreach(schemas, i, s)
    {
        if (json_is_string(s) && strcasecmp(json_string_value(s), rt->schema->id) == 0)
            core = 1;
    }
    if (!core)
        abort();
    for (i = 0; rt->extensions && rt->extensions[i]; i++) {
        int listed = 0;
        json_array_foreach(schemas, j, s)
        {
            if (json_is_string(s) && strcasecmp(json_string_value(s), rt->extensions[i]->id) == 0)
                listed = 1;
        }
        if (listed != (json_object_iget(doc, rt->extensions[i]->id) != NULL))
            abort();
    }
    json_object_foreach((json_t *)(uintptr_t)doc, k, v)
    {
        primaries = 0;
        json_array_foreach(v, j, el)
        {
            if (json_is_true(json_object_get(el, "primary")))
                primaries++;
        }
        if (primaries > 1)
            abort();
    }
}

static void run(const struct scim_rtype *rt, const char *doc_text, const json_t *body,
                bool with_members)
{
    struct scim_patch_members m = {m_add, m_remove, m_remove_values, m_replace, NULL};
    struct md_error e;
    json_t *doc = json_loads(doc_text, 0, NULL);
    json_t *list = json_loads(members_text, 0, NULL);
    char *out;

    if (!doc || !list)
        abort();
    m.ctx = list;
    if (scim_patch_apply(rt, doc, body, with_members ? &m : NULL, &e) == MD_OK)
        check_doc(rt, doc);
    else if (e.code == MD_OK || !e.msg[0])
        abort(); /* an error always comes with its code and a message */
    out = json_dump_compact(doc);
    free(out);
    json_decref(list);
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_error e;
    json_t *body = NULL;

    if (json_parse_limited((const char *)data, size, BODY_MAX, JSON_MAX_DEPTH_DEFAULT, &body, &e) !=
        MD_OK)
        return 0;
    run(&scim_rtype_user, user_text, body, false);
    run(&scim_rtype_group, group_text, body, true);
    run(&scim_rtype_group, group_text, body, false);
    json_decref(body);
    return 0;
}
