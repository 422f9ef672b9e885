/*
 * The catalog: connector definitions, a deployment's overrides of them, and tool packs
 * (docs/connectors.md). Every document is validated before it is written, so that the policy
 * snapshot can trust what it reads; connectors may carry fields this module does not know (the
 * connector runtime's), packs may not (a misspelt field would silently grant or withhold).
 */
#include "access/access_int.h"
#include "connect/auth.h"
#include "connect/connect.h"
#include "connect/response.h"
#include "connect/schema.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/time.h"

/* ---- names and small helpers ---- */

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool access__connector_name_ok(const char *s)
{
    size_t n;

    if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    n = strnlen(s, 31);
    if (n > 30 || s[n - 1] == '_' || strstr(s, "__"))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '_')
            return false;
    return true;
}

bool access__pack_name_ok(const char *s)
{
    size_t n;

    if (!s || !lower_alnum(s[0]))
        return false;
    n = strnlen(s, 64);
    if (n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

json_t *access__time_json(int64_t ms)
{
    char buf[TIME_RFC3339_LEN];
    size_t n;

    time_format_ms(ms, buf);
    /* "...:00.000Z" -> "...:00Z": a whole second is written as an admin would write it. */
    n = strlen(buf);
    if (ms % 1000 == 0 && n > 5 && strcmp(buf + n - 5, ".000Z") == 0)
        memcpy(buf + n - 5, "Z", 2);
    return json_string(buf);
}

static bool is_str(const json_t *o, const char *key)
{
    return json_is_string(json_object_get(o, key)) &&
           json_string_length(json_object_get(o, key)) > 0;
}

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool url_ok(const char *u)
{
    size_t n = u ? strlen(u) : 0;
    if (n < 8 || n > 2048)
        return false;
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return false;
    if (u[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
            return false;
    return true;
}

static void add_meta(json_t *o, const struct store_obj *row)
{
    json_object_set_new(o, "version", json_integer(row->version));
    json_object_set_new(o, "created", access__time_json(row->created_ms));
    json_object_set_new(o, "modified", access__time_json(row->modified_ms));
}

static json_t *parse_row(const struct store_obj *row)
{
    json_t *o = json_loads(row->doc, 0, NULL);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* ---- connectors ---- */

static enum md_err bad(struct md_error *e, const char *what, const char *fmt_detail)
{
    return md_error_set(e, MD_ERR_VALUE, "%s: %s", what, fmt_detail);
}

static enum md_err validate_tool(const char *conn, const json_t *t, size_t i, struct md_error *e)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    const char *name = str_of(t, "name");
    const json_t *schema = json_object_get(t, "input_schema");
    const json_t *req = json_object_get(t, "request");
    const char *method = str_of(req, "method");
    const char *path = str_of(req, "path");
    char where[128], full[ACCESS_TOOL_NAME_MAX + 8];
    enum access_level lv;
    bool method_ok = false;

    snprintf(where, sizeof where, "tools[%zu]%s%.40s", i, name ? " " : "", name ? name : "");
    if (!json_is_object(t))
        return bad(e, where, "a tool is an object");
    if (!name || !(name[0] >= 'a' && name[0] <= 'z'))
        return bad(e, where, "\"name\" must start with a lowercase letter");
    if ((size_t)snprintf(full, sizeof full, "%s__%s", conn, name) >= sizeof full ||
        !access_tool_name_ok(full))
        return md_error_set(e, MD_ERR_VALUE,
                            "%s: the full name %s__%s must be at most %d characters of [a-z0-9_]",
                            where, conn, name, ACCESS_TOOL_NAME_MAX);
    if (!is_str(t, "title") || !is_str(t, "description"))
        return bad(e, where, "\"title\" and \"description\" are required strings");
    if (!access_level_parse(str_of(t, "level"), &lv))
        return bad(e, where, "\"level\" must be \"read\", \"write\" or \"destructive\"");
    if (!json_is_object(schema) || !json_is_string(json_object_get(schema, "type")) ||
        strcmp(str_of(schema, "type"), "object") != 0)
        return bad(e, where, "\"input_schema\" must be a JSON Schema with \"type\": \"object\"");
    {
        /* The runtime validates arguments with it: a keyword it cannot check is refused now. */
        struct md_error se = {0};
        if (connect_schema_check(schema, &se) != MD_OK)
            return md_error_set(e, MD_ERR_VALUE, "%s: \"input_schema\"%s", where, se.msg);
    }
    if (!json_is_object(req))
        return bad(e, where, "\"request\" is required: {\"method\", \"path\"}");
    for (size_t k = 0; method && k < sizeof methods / sizeof methods[0]; k++)
        method_ok |= strcmp(method, methods[k]) == 0;
    if (!method_ok)
        return bad(e, where, "\"request.method\" must be GET, POST, PUT, PATCH or DELETE");
    if (!path || path[0] != '/')
        return bad(e, where, "\"request.path\" must start with /");
    {
        /* The runtime builds every call from it: a template it would refuse is refused now. */
        struct md_error re = {0};
        if (connect_request_check(req, &re) != MD_OK)
            return md_error_set(e, MD_ERR_VALUE, "%s: %s", where, re.msg);
    }
    if (json_object_get(t, "redact") && !json_is_array(json_object_get(t, "redact")))
        return bad(e, where, "\"redact\" must be an array of argument names");
    return MD_OK;
}

static enum md_err validate_connector(const json_t *doc, struct md_error *e)
{
    const char *name = str_of(doc, "name");
    const json_t *tools = json_object_get(doc, "tools");
    const json_t *headers = json_object_get(doc, "headers");
    const json_t *auth = json_object_get(doc, "auth");
    json_t *seen;
    size_t i;
    json_t *t;
    enum md_err err = MD_OK;

    if (!json_is_object(doc))
        return md_error_set(e, MD_ERR_VALUE, "a connector is a JSON object");
    if (!access__connector_name_ok(name))
        return md_error_set(e, MD_ERR_VALUE,
                            "\"name\" must be 1 to 30 characters of [a-z0-9_], starting with a "
                            "letter, without \"__\" and not ending in \"_\"");
    if (!is_str(doc, "title"))
        return md_error_set(e, MD_ERR_VALUE, "\"title\" is a required string");
    if (!url_ok(str_of(doc, "base_url")))
        return md_error_set(e, MD_ERR_VALUE,
                            "\"base_url\" must be an http:// or https:// URL without a trailing /");
    if (auth && !(json_is_object(auth) && is_str(auth, "type")))
        return md_error_set(e, MD_ERR_VALUE, "\"auth\" must be an object with a \"type\"");
    if (auth) {
        struct md_error ae = {0};
        if (connect_auth_validate(auth, NULL, &ae) != MD_OK)
            return md_error_set(e, MD_ERR_VALUE, "\"auth\": %s", ae.msg);
    }
    if (json_object_get(doc, "response")) {
        struct md_error re = {0};
        if (connect_response_check(json_object_get(doc, "response"), &re) != MD_OK)
            return md_error_set(e, MD_ERR_VALUE, "%s", re.msg);
    }
    if (headers) {
        const char *k;
        json_t *v;
        if (!json_is_object(headers))
            return md_error_set(e, MD_ERR_VALUE, "\"headers\" must be an object of strings");
        json_object_foreach(json_mut(headers), k, v)
        {
            if (!json_is_string(v))
                return md_error_set(e, MD_ERR_VALUE, "header %.60s must be a string", k);
        }
    }
    if (!json_is_array(tools) || json_array_size(tools) == 0)
        return md_error_set(e, MD_ERR_VALUE, "\"tools\" must be a non-empty array");
    seen = json_object();
    json_array_foreach(tools, i, t)
    {
        err = validate_tool(name, t, i, e);
        if (err)
            break;
        if (json_object_get(seen, str_of(t, "name"))) {
            err = md_error_set(e, MD_ERR_VALUE, "tools[%zu]: the name %s is used twice", i,
                               str_of(t, "name"));
            break;
        }
        json_object_set_new(seen, str_of(t, "name"), json_true());
    }
    json_decref(seen);
    return err;
}

/* The admin's view of a connector: its definition, with overrides applied and shown. */
static json_t *connector_view(const json_t *def, const json_t *ov, bool schemas)
{
    json_t *v = json_deep_copy(def), *tools = json_object_get(v, "tools");
    const json_t *levels = json_object_get(ov, "levels");
    const char *name = str_of(def, "name");
    size_t i;
    json_t *t;

    if (!v)
        return NULL;
    if (json_is_string(json_object_get(ov, "base_url"))) {
        json_object_set(v, "base_url", json_object_get(ov, "base_url"));
        json_object_set(v, "defined_base_url", json_object_get(def, "base_url"));
    }
    json_object_set_new(v, "overrides", ov ? json_deep_copy(ov) : json_object());
    json_array_foreach(tools, i, t)
    {
        char full[ACCESS_TOOL_NAME_MAX + 8];
        const char *lv;
        snprintf(full, sizeof full, "%s__%s", name, str_of(t, "name"));
        json_object_set_new(t, "full_name", json_string(full));
        json_object_set(t, "defined_level", json_object_get(t, "level"));
        lv = str_of(levels, full);
        if (lv)
            json_object_set_new(t, "level", json_string(lv));
        if (!schemas)
            json_object_del(t, "input_schema");
    }
    return v;
}

static enum md_err load_override(struct store_conn *c, const char *name, json_t **ov,
                                 int64_t *version, struct md_error *e)
{
    struct store_obj row;
    enum md_err err = store_obj_get(c, STORE_OBJ_OVERRIDE, name, &row, e);

    *ov = NULL;
    if (version)
        *version = 0;
    if (err == MD_ERR_NOTFOUND)
        return MD_OK;
    if (err)
        return err;
    *ov = parse_row(&row);
    if (version)
        *version = row.version;
    store_obj_free(&row);
    return MD_OK;
}

static enum md_err get_view(struct store_conn *c, const char *name, json_t **out,
                            struct md_error *e)
{
    struct store_obj row;
    json_t *def = NULL, *ov = NULL;
    enum md_err err;

    *out = NULL;
    err = store_obj_get(c, STORE_OBJ_CONNECTOR, name, &row, e);
    if (err == MD_ERR_NOTFOUND)
        return md_error_set(e, MD_ERR_NOTFOUND, "no connector is named %.64s", name);
    if (err)
        return err;
    def = parse_row(&row);
    err = load_override(c, name, &ov, NULL, e);
    if (!err && def) {
        *out = connector_view(def, ov, true);
        if (*out)
            add_meta(*out, &row);
    }
    if (!err && !*out)
        err = md_error_set(e, MD_ERR_INTERNAL, "the stored connector %.64s is not readable", name);
    json_decref(def);
    json_decref(ov);
    store_obj_free(&row);
    return err;
}

static enum md_err put_doc(struct store_conn *c, enum store_obj_kind k, const char *id,
                           const json_t *doc, int64_t expect, int64_t *version, struct md_error *e)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    enum md_err err;

    if (!text)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err = store_obj_put(c, k, id, text, expect, version, e);
    free(text);
    return err;
}

/*
 * The definition in a document that may be a connector as access_connector_get shows it (an
 * admin's GET, edited, PUT back): the fields the view adds go, and a tool's defined level and
 * the defined base URL come back, so that an override never becomes the definition.
 */
json_t *access_connector_definition(const json_t *doc)
{
    json_t *d = json_deep_copy(doc), *tools, *t;
    size_t i;

    if (!d || !json_is_object(d))
        return d;
    if (json_is_string(json_object_get(d, "defined_base_url")))
        json_object_set(d, "base_url", json_object_get(d, "defined_base_url"));
    json_object_del(d, "defined_base_url");
    json_object_del(d, "overrides");
    json_object_del(d, "version");
    json_object_del(d, "created");
    json_object_del(d, "modified");
    tools = json_object_get(d, "tools");
    json_array_foreach(tools, i, t)
    {
        if (!json_is_object(t))
            continue;
        if (json_object_get(t, "defined_level"))
            json_object_set(t, "level", json_object_get(t, "defined_level"));
        json_object_del(t, "defined_level");
        json_object_del(t, "full_name");
    }
    return d;
}

enum md_err access_connector_put(struct access *a, const json_t *given, json_t **out, bool *created,
                                 struct md_error *e)
{
    struct store_conn *c = NULL;
    struct store_obj row;
    json_t *doc = access_connector_definition(given);
    enum md_err err;

    if (out)
        *out = NULL;
    *created = false;
    if (!doc)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err = validate_connector(doc, e);
    if (err) {
        json_decref(doc);
        return err;
    }
    err = store_acquire(access_store(a), &c, e);
    if (err) {
        json_decref(doc);
        return err;
    }
    err = store_begin(c, e);
    if (err)
        goto out;
    err = store_obj_get(c, STORE_OBJ_CONNECTOR, str_of(doc, "name"), &row, e);
    *created = err == MD_ERR_NOTFOUND;
    store_obj_free(&row);
    if (err == MD_ERR_NOTFOUND || err == MD_OK)
        err = put_doc(c, STORE_OBJ_CONNECTOR, str_of(doc, "name"), doc, -1, NULL, e);
    if (!err)
        err = store_commit(c, e);
    if (!err && out)
        err = get_view(c, str_of(doc, "name"), out, e);
out:
    store_rollback(c);
    store_release(c);
    json_decref(doc);
    return err;
}

enum md_err access_connector_get(struct access *a, const char *name, json_t **out,
                                 struct md_error *e)
{
    struct store_conn *c = NULL;
    enum md_err err = store_acquire(access_store(a), &c, e);

    *out = NULL;
    if (err)
        return err;
    err = get_view(c, name, out, e);
    store_release(c);
    return err;
}

struct list_ctx {
    struct store_conn *c;
    json_t *items;
    enum md_err err;
    struct md_error *e;
};

static int connector_list_cb(void *ctx, const struct store_obj *row)
{
    struct list_ctx *l = ctx;
    json_t *def = parse_row(row), *ov = NULL, *v;

    if (!def)
        return 0;
    /* store_obj_list holds a statement on this connection; a nested read gets its own. */
    l->err = load_override(l->c, row->id, &ov, NULL, l->e);
    v = l->err ? NULL : connector_view(def, ov, false);
    if (v) {
        add_meta(v, row);
        json_array_append_new(l->items, v);
    }
    json_decref(def);
    json_decref(ov);
    return l->err != MD_OK;
}

static int name_cmp(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    const char *na = str_of(a, "name"), *nb = str_of(b, "name");
    return strcmp(na ? na : "", nb ? nb : "");
}

/* Sorts an array of objects by their "name". */
static void sort_by_name(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = calloc(n + 1, sizeof *v);

    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, name_cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

enum md_err access_connector_list(struct access *a, json_t **out, struct md_error *e)
{
    struct list_ctx l = {NULL, json_array(), MD_OK, e};
    enum md_err err;

    *out = NULL;
    err = store_acquire(access_store(a), &l.c, e);
    if (err) {
        json_decref(l.items);
        return err;
    }
    err = store_obj_list(l.c, STORE_OBJ_CONNECTOR, connector_list_cb, &l, e);
    if (!err)
        err = l.err;
    store_release(l.c);
    if (err) {
        json_decref(l.items);
        return err;
    }
    sort_by_name(l.items);
    *out = l.items;
    return MD_OK;
}

/* Whether the connector definition def has a tool of this full name. */
static bool defines_tool(const json_t *def, const char *full)
{
    const char *name = str_of(def, "name");
    size_t n = strlen(name), i;
    json_t *t;

    if (strncmp(full, name, n) != 0 || strncmp(full + n, "__", 2) != 0)
        return false;
    json_array_foreach(json_object_get(def, "tools"), i, t)
    {
        if (json_is_string(json_object_get(t, "name")) &&
            strcmp(str_of(t, "name"), full + n + 2) == 0)
            return true;
    }
    return false;
}

/* Applies patch to ov (both objects), checking it against the definition. */
static enum md_err merge_override(const json_t *def, json_t *ov, const json_t *patch,
                                  bool allow_http, struct md_error *e)
{
    const char *k;
    json_t *v;

    if (!json_is_object(patch))
        return md_error_set(e, MD_ERR_VALUE, "the overrides are a JSON object");
    json_object_foreach(json_mut(patch), k, v)
    {
        if (strcmp(k, "base_url") == 0) {
            if (json_is_null(v)) {
                json_object_del(ov, "base_url");
            } else if (url_ok(json_string_value(v))) {
                json_object_set(ov, "base_url", v);
            } else {
                return md_error_set(e, MD_ERR_VALUE,
                                    "\"base_url\" must be an http:// or https:// URL without a "
                                    "trailing /, or null");
            }
        } else if (strcmp(k, "token_url") == 0) {
            struct md_error te = {0};
            if (json_is_null(v)) {
                json_object_del(ov, "token_url");
            } else if (!json_is_string(v)) {
                return md_error_set(e, MD_ERR_VALUE,
                                    "\"token_url\" must be an https:// URL, or null");
            } else if (connect_auth_token_url_check(json_object_get(def, "auth"),
                                                    json_string_value(v), allow_http,
                                                    &te) != MD_OK) {
                return md_error_set(e, te.code, "%s", te.msg);
            } else {
                json_object_set(ov, "token_url", v);
            }
        } else if (strcmp(k, "levels") == 0) {
            json_t *levels = json_object_get(ov, "levels");
            const char *tool;
            json_t *lv;
            enum access_level l;

            if (!json_is_object(v))
                return md_error_set(e, MD_ERR_VALUE, "\"levels\" maps tool names to levels");
            if (!levels) {
                levels = json_object();
                json_object_set_new(ov, "levels", levels);
            }
            json_object_foreach(v, tool, lv)
            {
                if (!defines_tool(def, tool))
                    return md_error_set(e, MD_ERR_VALUE, "the connector %s defines no tool %.64s",
                                        str_of(def, "name"), tool);
                if (json_is_null(lv))
                    json_object_del(levels, tool);
                else if (access_level_parse(json_string_value(lv), &l))
                    json_object_set(levels, tool, lv);
                else
                    return md_error_set(e, MD_ERR_VALUE,
                                        "the level of %.64s must be \"read\", \"write\" or "
                                        "\"destructive\", or null",
                                        tool);
            }
        } else {
            return md_error_set(e, MD_ERR_VALUE,
                                "unknown override \"%.40s\" (known: base_url, token_url, levels)",
                                k);
        }
    }
    return MD_OK;
}

enum md_err access_connector_override(struct access *a, const char *name, const json_t *patch,
                                      json_t **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    struct store_obj row;
    json_t *def = NULL, *ov = NULL;
    enum md_err err;

    if (out)
        *out = NULL;
    memset(&row, 0, sizeof row);
    err = store_acquire(access_store(a), &c, e);
    if (err)
        return err;
    err = store_begin(c, e);
    if (!err)
        err = store_obj_get(c, STORE_OBJ_CONNECTOR, name, &row, e);
    if (err == MD_ERR_NOTFOUND)
        err = md_error_set(e, MD_ERR_NOTFOUND, "no connector is named %.64s", name);
    if (err)
        goto out;
    def = parse_row(&row);
    err = load_override(c, name, &ov, NULL, e);
    if (!err && !ov)
        ov = json_object();
    if (!err && (!def || !ov))
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (!err)
        err = merge_override(def, ov, patch, access__upstream_http(a), e);
    if (!err)
        err = put_doc(c, STORE_OBJ_OVERRIDE, name, ov, -1, NULL, e);
    if (!err)
        err = store_commit(c, e);
    if (!err && out)
        err = get_view(c, name, out, e);
out:
    store_rollback(c);
    store_release(c);
    store_obj_free(&row);
    json_decref(def);
    json_decref(ov);
    return err;
}

/* ---- packs ---- */

static enum md_err validate_pack(const json_t *doc, struct md_error *e)
{
    const json_t *tools = json_object_get(doc, "tools");
    const char *k;
    json_t *v;
    size_t i;

    if (!json_is_object(doc))
        return md_error_set(e, MD_ERR_VALUE, "a pack is a JSON object");
    json_object_foreach(json_mut(doc), k, v)
    {
        if (strcmp(k, "name") && strcmp(k, "title") && strcmp(k, "description") &&
            strcmp(k, "tools") && strcmp(k, "version") && strcmp(k, "created") &&
            strcmp(k, "modified"))
            return md_error_set(e, MD_ERR_VALUE,
                                "unknown field \"%.40s\" (known: name, title, description, tools)",
                                k);
    }
    if (!access__pack_name_ok(str_of(doc, "name")))
        return md_error_set(e, MD_ERR_VALUE,
                            "\"name\" must be 1 to 63 characters of [a-z0-9_-], starting with a "
                            "letter or digit");
    if (!is_str(doc, "title"))
        return md_error_set(e, MD_ERR_VALUE, "\"title\" is a required string");
    if (json_object_get(doc, "description") && !json_is_string(json_object_get(doc, "description")))
        return md_error_set(e, MD_ERR_VALUE, "\"description\" must be a string");
    if (!json_is_array(tools))
        return md_error_set(e, MD_ERR_VALUE, "\"tools\" must be an array of {tool, level}");
    json_array_foreach(tools, i, v)
    {
        const char *pat = str_of(v, "tool");
        enum access_level lv;
        size_t n = pat ? strlen(pat) : 0;
        bool whole = n > 3 && strcmp(pat + n - 3, "__*") == 0;
        char conn[40];

        if (whole)
            snprintf(conn, sizeof conn, "%.*s", (int)(n - 3), pat);
        if (!json_is_object(v) || !pat ||
            (whole ? !access__connector_name_ok(conn) || n - 3 >= sizeof conn
                   : !access_tool_name_ok(pat)))
            return md_error_set(e, MD_ERR_VALUE,
                                "tools[%zu]: \"tool\" must be a full tool name "
                                "(connector__tool) or a whole connector (connector__*)",
                                i);
        if (!access_level_parse(str_of(v, "level"), &lv))
            return md_error_set(e, MD_ERR_VALUE,
                                "tools[%zu]: \"level\" (the ceiling) must be \"read\", \"write\" "
                                "or \"destructive\"",
                                i);
        if (json_object_size(v) != 2)
            return md_error_set(e, MD_ERR_VALUE, "tools[%zu]: only \"tool\" and \"level\"", i);
    }
    return MD_OK;
}

/* The pack as stored: the document without the fields the service adds. */
static json_t *pack_stored(const json_t *doc)
{
    json_t *d = json_deep_copy(doc);
    if (d) {
        json_object_del(d, "version");
        json_object_del(d, "created");
        json_object_del(d, "modified");
    }
    return d;
}

static enum md_err pack_read(struct store_conn *c, const char *name, json_t **out,
                             struct md_error *e)
{
    struct store_obj row;
    enum md_err err = store_obj_get(c, STORE_OBJ_PACK, name, &row, e);

    *out = NULL;
    if (err == MD_ERR_NOTFOUND)
        return md_error_set(e, MD_ERR_NOTFOUND, "no pack is named %.64s", name);
    if (err)
        return err;
    *out = parse_row(&row);
    if (*out)
        add_meta(*out, &row);
    else
        err = md_error_set(e, MD_ERR_INTERNAL, "the stored pack %.64s is not readable", name);
    store_obj_free(&row);
    return err;
}

static enum md_err pack_write(struct access *a, const char *name, const json_t *doc, int64_t expect,
                              json_t **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    json_t *stored = NULL;
    enum md_err err;

    if (out)
        *out = NULL;
    err = validate_pack(doc, e);
    if (err)
        return err;
    if (name && strcmp(name, str_of(doc, "name")) != 0)
        return md_error_set(e, MD_ERR_VALUE, "the pack's \"name\" differs from the one in the URL");
    stored = pack_stored(doc);
    if (!stored)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err = store_acquire(access_store(a), &c, e);
    if (err)
        goto out;
    err = put_doc(c, STORE_OBJ_PACK, str_of(doc, "name"), stored, expect, NULL, e);
    if (err == MD_ERR_UNIQUENESS)
        err = md_error_set(e, MD_ERR_UNIQUENESS, "a pack named %.64s exists", str_of(doc, "name"));
    else if (err == MD_ERR_NOTFOUND)
        err = md_error_set(e, MD_ERR_NOTFOUND, "no pack is named %.64s", str_of(doc, "name"));
    else if (err == MD_ERR_PRECONDITION)
        err = md_error_set(e, MD_ERR_PRECONDITION, "the pack has changed since version %lld",
                           (long long)expect);
    if (!err && out)
        err = pack_read(c, str_of(doc, "name"), out, e);
    store_release(c);
out:
    json_decref(stored);
    return err;
}

enum md_err access_pack_create(struct access *a, const json_t *doc, json_t **out,
                               struct md_error *e)
{
    return pack_write(a, NULL, doc, 0, out, e);
}

enum md_err access_pack_put(struct access *a, const char *name, const json_t *doc,
                            int64_t expect_version, json_t **out, struct md_error *e)
{
    if (!access__pack_name_ok(name))
        return md_error_set(e, MD_ERR_NOTFOUND, "no pack is named %.64s", name);
    /* A replace needs the pack to exist: expect_version 0 would mean "create". */
    if (expect_version <= 0) {
        struct store_conn *c = NULL;
        struct store_obj row;
        enum md_err err = store_acquire(access_store(a), &c, e);
        if (err)
            return err;
        err = store_obj_get(c, STORE_OBJ_PACK, name, &row, e);
        expect_version = err ? 0 : row.version;
        store_obj_free(&row);
        store_release(c);
        if (err == MD_ERR_NOTFOUND)
            return md_error_set(e, MD_ERR_NOTFOUND, "no pack is named %.64s", name);
        if (err)
            return err;
    }
    return pack_write(a, name, doc, expect_version, out, e);
}

enum md_err access_pack_get(struct access *a, const char *name, json_t **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    enum md_err err = store_acquire(access_store(a), &c, e);

    *out = NULL;
    if (err)
        return err;
    err = pack_read(c, name, out, e);
    store_release(c);
    return err;
}

static int pack_list_cb(void *ctx, const struct store_obj *row)
{
    struct list_ctx *l = ctx;
    json_t *p = parse_row(row);
    if (p) {
        add_meta(p, row);
        json_array_append_new(l->items, p);
    }
    return 0;
}

enum md_err access_pack_list(struct access *a, json_t **out, struct md_error *e)
{
    struct list_ctx l = {NULL, json_array(), MD_OK, e};
    enum md_err err = store_acquire(access_store(a), &l.c, e);

    *out = NULL;
    if (!err) {
        err = store_obj_list(l.c, STORE_OBJ_PACK, pack_list_cb, &l, e);
        store_release(l.c);
    }
    if (err) {
        json_decref(l.items);
        return err;
    }
    sort_by_name(l.items);
    *out = l.items;
    return MD_OK;
}

struct uses_ctx {
    const char *pack;
    char grant[64];
};

static int uses_cb(void *ctx, const struct store_obj *row)
{
    struct uses_ctx *u = ctx;
    json_t *g = parse_row(row);
    const char *p = str_of(g, "pack");
    bool uses = p && strcmp(p, u->pack) == 0;

    if (uses)
        snprintf(u->grant, sizeof u->grant, "%s", row->id);
    json_decref(g);
    return uses;
}

enum md_err access_pack_delete(struct access *a, const char *name, struct md_error *e)
{
    struct store_conn *c = NULL;
    struct uses_ctx u = {name, ""};
    enum md_err err = store_acquire(access_store(a), &c, e);

    if (err)
        return err;
    err = store_begin(c, e);
    /* The pack's row first: on PostgreSQL this locks it, so a grant of it being written
     * commits before the list below, or finds the pack gone. */
    if (!err) {
        struct store_obj row;
        err = store_obj_get(c, STORE_OBJ_PACK, name, &row, e);
        store_obj_free(&row);
    }
    if (!err)
        err = store_obj_list(c, STORE_OBJ_GRANT, uses_cb, &u, e);
    if (!err && u.grant[0])
        err = md_error_set(e, MD_ERR_VALUE, "grant %s gives this pack; delete or change it first",
                           u.grant);
    if (!err)
        err = store_obj_delete(c, STORE_OBJ_PACK, name, e);
    if (err == MD_ERR_NOTFOUND)
        err = md_error_set(e, MD_ERR_NOTFOUND, "no pack is named %.64s", name);
    if (!err)
        err = store_commit(c, e);
    store_rollback(c);
    store_release(c);
    return err;
}

/* ---- loading a catalog directory ---- */

struct file_list {
    char **v;
    size_t n;
};

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void files_free(struct file_list *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

/* The *.json files of dir/sub, sorted; a missing directory has none. */
static enum md_err list_json(const char *dir, const char *sub, struct file_list *out,
                             struct md_error *e)
{
    char path[4096];
    DIR *d;
    struct dirent *de;

    out->v = NULL;
    out->n = 0;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    d = opendir(path);
    if (!d)
        return MD_OK;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char **nv, *full;
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
            continue;
        nv = realloc(out->v, (out->n + 1) * sizeof *nv);
        full = malloc(strlen(path) + n + 2);
        if (!nv || !full) {
            free(full);
            if (nv)
                out->v = nv;
            closedir(d);
            files_free(out);
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        }
        out->v = nv;
        snprintf(full, strlen(path) + n + 2, "%s/%s", path, de->d_name);
        out->v[out->n++] = full;
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, str_cmp);
    return MD_OK;
}

static enum md_err load_file(const char *path, json_t **out, struct md_error *e)
{
    json_error_t jerr;

    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out)
        return md_error_set(e, MD_ERR_SYNTAX, "%.200s:%d: %.100s", path, jerr.line, jerr.text);
    return MD_OK;
}

/* Prefixes e's message with the file it is about. */
static enum md_err in_file(const char *path, enum md_err err, struct md_error *e)
{
    char msg[sizeof e->msg];
    snprintf(msg, sizeof msg, "%s", e->msg);
    return md_error_set(e, err, "%.120s: %s", path, msg);
}

enum md_err access_catalog_load(struct store *s, const char *dir, struct access_load_stats *st,
                                struct md_error *e)
{
    struct file_list conns = {0}, packs = {0};
    struct store_conn *c = NULL;
    enum md_err err;

    memset(st, 0, sizeof *st);
    err = list_json(dir, "connectors", &conns, e);
    if (!err)
        err = list_json(dir, "packs", &packs, e);
    if (!err && conns.n == 0 && packs.n == 0)
        err = md_error_set(e, MD_ERR_NOTFOUND, "%.200s has no connectors/*.json or packs/*.json",
                           dir);
    if (!err)
        err = store_acquire(s, &c, e);
    if (!err)
        err = store_begin(c, e);
    for (size_t i = 0; !err && i < conns.n; i++) {
        json_t *doc = NULL;
        err = load_file(conns.v[i], &doc, e);
        if (!err && (err = validate_connector(doc, e)))
            err = in_file(conns.v[i], err, e);
        if (!err)
            err = put_doc(c, STORE_OBJ_CONNECTOR, str_of(doc, "name"), doc, -1, NULL, e);
        if (!err)
            st->connectors++;
        json_decref(doc);
    }
    for (size_t i = 0; !err && i < packs.n; i++) {
        json_t *doc = NULL, *stored = NULL;
        err = load_file(packs.v[i], &doc, e);
        if (!err && (err = validate_pack(doc, e)))
            err = in_file(packs.v[i], err, e);
        if (!err) {
            stored = pack_stored(doc);
            err = stored ? put_doc(c, STORE_OBJ_PACK, str_of(doc, "name"), stored, 0, NULL, e)
                         : md_error_set(e, MD_ERR_NOMEM, "out of memory");
        }
        if (err == MD_ERR_UNIQUENESS) {
            err = MD_OK;
            st->packs_kept++;
        } else if (!err) {
            st->packs_created++;
        }
        json_decref(stored);
        json_decref(doc);
    }
    if (!err)
        err = store_commit(c, e);
    if (c) {
        store_rollback(c);
        store_release(c);
    }
    files_free(&conns);
    files_free(&packs);
    return err;
}

static int any_cb(void *ctx, const struct store_obj *row)
{
    (void)row;
    *(bool *)ctx = false;
    return 1;
}

enum md_err access_catalog_empty(struct store *s, bool *empty, struct md_error *e)
{
    struct store_conn *c = NULL;
    enum md_err err = store_acquire(s, &c, e);

    *empty = true;
    if (err)
        return err;
    err = store_obj_list(c, STORE_OBJ_CONNECTOR, any_cb, empty, e);
    store_release(c);
    return err;
}
