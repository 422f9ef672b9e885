/*
 * Grants (access.h): validated against the directory and the catalog when written, so that a
 * typo is refused with a message instead of silently granting nothing, or more than meant.
 * Unknown fields are refused for the same reason ("condition" for "conditions" would otherwise
 * drop a limit on refunds).
 */
#include "access/access_int.h"

#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/time.h"

#define GRANT_REASON_MAX 1000

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static enum md_err check_subject(struct store_conn *c, const json_t *subj, struct md_error *e)
{
    const char *type = str_of(subj, "type");
    const char *id = str_of(subj, "id");
    bool exists = false;
    enum md_err err;
    enum store_kind k;

    if (!json_is_object(subj) || !type)
        return md_error_set(e, MD_ERR_VALUE,
                            "\"subject\" must be {\"type\": \"group\" | \"user\" | \"everyone\", "
                            "\"id\": ...}");
    if (strcmp(type, "everyone") == 0) {
        if (json_object_size(subj) != 1)
            return md_error_set(e, MD_ERR_VALUE, "a subject of type everyone has no id");
        return MD_OK;
    }
    if (strcmp(type, "group") == 0)
        k = STORE_GROUPS;
    else if (strcmp(type, "user") == 0)
        k = STORE_USERS;
    else
        return md_error_set(e, MD_ERR_VALUE,
                            "\"subject.type\" must be \"group\", \"user\" or \"everyone\"");
    if (!id || json_object_size(subj) != 2)
        return md_error_set(e, MD_ERR_VALUE, "\"subject\" needs the SCIM \"id\" of the %s", type);
    err = store_res_exists(c, k, id, &exists, e);
    if (err)
        return err;
    if (!exists)
        return md_error_set(e, MD_ERR_VALUE, "no %s has the id %.64s", type, id);
    return MD_OK;
}

/* Whether the grant's target (pack entries or single tool) covers tool. */
static bool covers(const json_t *pack_doc, const char *single, const char *tool)
{
    size_t i;
    json_t *it;

    if (single)
        return strcmp(single, tool) == 0;
    json_array_foreach(json_object_get(pack_doc, "tools"), i, it)
    {
        const char *pat = str_of(it, "tool");
        if (pat && access__pattern_matches(pat, tool))
            return true;
    }
    return false;
}

static enum md_err check_conditions(const json_t *conds, const json_t *pack_doc, const char *single,
                                    struct md_error *e)
{
    const char *tool;
    json_t *v;

    if (!json_is_object(conds))
        return md_error_set(e, MD_ERR_VALUE,
                            "\"conditions\" maps tool names to SCIM filters over the arguments");
    json_object_foreach(json_mut(conds), tool, v)
    {
        struct filter_node *f = NULL;
        struct md_error fe;
        const char *text = json_string_value(v);

        if (!access_tool_name_ok(tool) || !covers(pack_doc, single, tool))
            return md_error_set(e, MD_ERR_VALUE,
                                "the condition on %.64s names a tool that this grant does not "
                                "cover",
                                tool);
        if (!text || !text[0])
            return md_error_set(e, MD_ERR_VALUE, "the condition on %.64s must be a filter string",
                                tool);
        md_error_clear(&fe);
        if (scim_filter_parse(text, strlen(text), &f, &fe) != MD_OK)
            return md_error_set(e, MD_ERR_VALUE, "the condition on %.64s is not a valid filter: %s",
                                tool, fe.msg);
        scim_filter_free(f);
    }
    return MD_OK;
}

/*
 * Checks doc and writes the grant as it is stored into *stored: the known fields, plus
 * created_by. Reads the store on c (subject, pack) and the policy p (tools).
 */
static enum md_err validate(const struct policy *p, struct store_conn *c, const json_t *doc,
                            const char *actor, json_t **stored, struct md_error *e)
{
    static const char *const known[] = {"subject",    "pack",    "tool",     "level",
                                        "conditions", "expires", "reason",   "id",
                                        "created_by", "created", "modified", "version"};
    const char *pack = str_of(doc, "pack"), *tool = str_of(doc, "tool"), *k;
    const json_t *conds = json_object_get(doc, "conditions");
    json_t *v, *pack_doc = NULL, *out = NULL;
    enum access_level lv;
    enum md_err err;

    *stored = NULL;
    if (!json_is_object(doc))
        return md_error_set(e, MD_ERR_VALUE, "a grant is a JSON object");
    json_object_foreach(json_mut(doc), k, v)
    {
        size_t i;
        for (i = 0; i < sizeof known / sizeof known[0] && strcmp(k, known[i]) != 0; i++)
            ;
        if (i == sizeof known / sizeof known[0])
            return md_error_set(e, MD_ERR_VALUE,
                                "unknown field \"%.40s\" (known: subject, pack, tool, level, "
                                "conditions, expires, reason)",
                                k);
    }
    err = check_subject(c, json_object_get(doc, "subject"), e);
    if (err)
        return err;
    if (!!pack == !!tool || (json_object_get(doc, "pack") && !pack) ||
        (json_object_get(doc, "tool") && !tool))
        return md_error_set(e, MD_ERR_VALUE, "a grant gives exactly one of \"pack\" or \"tool\"");
    if (json_object_get(doc, "level") && !access_level_parse(str_of(doc, "level"), &lv))
        return md_error_set(e, MD_ERR_VALUE,
                            "\"level\" (the ceiling) must be \"read\", \"write\" or "
                            "\"destructive\"");
    if (json_object_get(doc, "reason") &&
        (!json_is_string(json_object_get(doc, "reason")) ||
         json_string_length(json_object_get(doc, "reason")) > GRANT_REASON_MAX))
        return md_error_set(e, MD_ERR_VALUE, "\"reason\" must be a string of at most %d bytes",
                            GRANT_REASON_MAX);
    if (json_object_get(doc, "expires")) {
        const char *x = str_of(doc, "expires");
        int64_t ms;
        if (!x || !time_parse_rfc3339(x, &ms))
            return md_error_set(e, MD_ERR_VALUE,
                                "\"expires\" must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z");
        if (ms <= time_now_ms())
            return md_error_set(e, MD_ERR_VALUE, "\"expires\" lies in the past");
    }
    if (pack) {
        struct store_obj row;
        err = store_obj_get(c, STORE_OBJ_PACK, pack, &row, e);
        if (err == MD_ERR_NOTFOUND)
            return md_error_set(e, MD_ERR_VALUE, "no pack is named %.64s", pack);
        if (err)
            return err;
        pack_doc = json_loads(row.doc, 0, NULL);
        store_obj_free(&row);
    } else if (!p || !policy_tool(p, tool)) {
        return md_error_set(e, MD_ERR_VALUE, "no connector defines the tool %.64s", tool);
    }
    if (conds)
        err = check_conditions(conds, pack_doc, tool, e);
    if (!err) {
        static const char *const keep[] = {"subject",    "pack",    "tool",  "level",
                                           "conditions", "expires", "reason"};
        out = json_object();
        for (size_t i = 0; out && i < sizeof keep / sizeof keep[0]; i++)
            if (json_object_get(doc, keep[i]))
                json_object_set(out, keep[i], json_object_get(doc, keep[i]));
        if (out)
            json_object_set_new(out, "created_by", json_string(actor ? actor : ""));
        if (!out)
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    json_decref(pack_doc);
    *stored = out;
    return err;
}

static json_t *grant_view(const struct store_obj *row)
{
    json_t *g = json_loads(row->doc, 0, NULL);

    if (!g || !json_is_object(g)) {
        json_decref(g);
        return NULL;
    }
    json_object_set_new(g, "id", json_string(row->id));
    json_object_set_new(g, "version", json_integer(row->version));
    json_object_set_new(g, "created", access__time_json(row->created_ms));
    json_object_set_new(g, "modified", access__time_json(row->modified_ms));
    return g;
}

static enum md_err read_grant(struct store_conn *c, const char *id, json_t **out,
                              struct md_error *e)
{
    struct store_obj row;
    enum md_err err = store_obj_get(c, STORE_OBJ_GRANT, id, &row, e);

    *out = NULL;
    if (err == MD_ERR_NOTFOUND)
        return md_error_set(e, MD_ERR_NOTFOUND, "no grant has the id %.64s", id);
    if (err)
        return err;
    *out = grant_view(&row);
    store_obj_free(&row);
    return *out ? MD_OK : md_error_set(e, MD_ERR_INTERNAL, "the stored grant is not readable");
}

static enum md_err write_grant(struct access *a, const char *id, const json_t *doc, int64_t expect,
                               const char *actor, json_t **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    struct policy *p = NULL;
    json_t *stored = NULL;
    char *text = NULL;
    enum md_err err;

    if (out)
        *out = NULL;
    /*
     * The policy first: rebuilding it takes a connection of its own, which must not be waited
     * for while this one is held (a pool of one, or every connection held by a grant write).
     */
    if (json_is_string(json_object_get(doc, "tool"))) {
        err = access__policy(a, &p, e);
        if (err)
            return err;
    }
    err = store_acquire(access_store(a), &c, e);
    if (err) {
        policy_unref(p);
        return err;
    }
    err = store_begin(c, e);
    if (!err && expect != 0) {
        /* A replace keeps who made the grant first. */
        struct store_obj row;
        err = store_obj_get(c, STORE_OBJ_GRANT, id, &row, e);
        if (err == MD_ERR_NOTFOUND)
            err = md_error_set(e, MD_ERR_NOTFOUND, "no grant has the id %.64s", id);
        if (!err) {
            json_t *old = json_loads(row.doc, 0, NULL);
            if (expect < 0)
                expect = row.version;
            const char *first = str_of(old, "created_by");
            err = validate(p, c, doc, first ? first : actor, &stored, e);
            json_decref(old);
        }
        store_obj_free(&row);
    } else if (!err) {
        err = validate(p, c, doc, actor, &stored, e);
    }
    if (!err) {
        text = json_dumps(stored, JSON_COMPACT);
        err = text ? store_obj_put(c, STORE_OBJ_GRANT, id, text, expect, NULL, e)
                   : md_error_set(e, MD_ERR_NOMEM, "out of memory");
        if (err == MD_ERR_PRECONDITION)
            err = md_error_set(e, MD_ERR_PRECONDITION, "the grant has changed since version %lld",
                               (long long)expect);
    }
    if (!err)
        err = store_commit(c, e);
    if (!err && out)
        err = read_grant(c, id, out, e);
    store_rollback(c);
    store_release(c);
    policy_unref(p);
    free(text);
    json_decref(stored);
    return err;
}

enum md_err access_grant_create(struct access *a, const json_t *doc, const char *actor,
                                json_t **out, struct md_error *e)
{
    char id[CRYPTO_UUID_LEN];
    enum md_err err = crypto_uuid(id);

    if (err)
        return md_error_set(e, err, "no randomness for an id");
    return write_grant(a, id, doc, 0, actor, out, e);
}

enum md_err access_grant_put(struct access *a, const char *id, const json_t *doc,
                             int64_t expect_version, const char *actor, json_t **out,
                             struct md_error *e)
{
    return write_grant(a, id, doc, expect_version > 0 ? expect_version : -1, actor, out, e);
}

enum md_err access_grant_get(struct access *a, const char *id, json_t **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    enum md_err err = store_acquire(access_store(a), &c, e);

    *out = NULL;
    if (err)
        return err;
    err = read_grant(c, id, out, e);
    store_release(c);
    return err;
}

struct glist {
    const char *subject;
    json_t *items;
};

static int glist_cb(void *ctx, const struct store_obj *row)
{
    struct glist *l = ctx;
    json_t *g = grant_view(row);
    const char *sid;

    if (!g)
        return 0;
    sid = str_of(json_object_get(g, "subject"), "id");
    if (!l->subject || (sid && strcmp(sid, l->subject) == 0))
        json_array_append(l->items, g);
    json_decref(g);
    return 0;
}

enum md_err access_grant_list(struct access *a, const char *subject_id, json_t **out,
                              struct md_error *e)
{
    struct store_conn *c = NULL;
    struct glist l = {subject_id, json_array()};
    enum md_err err = store_acquire(access_store(a), &c, e);

    *out = NULL;
    if (!err) {
        err = store_obj_list(c, STORE_OBJ_GRANT, glist_cb, &l, e);
        store_release(c);
    }
    if (err) {
        json_decref(l.items);
        return err;
    }
    *out = l.items;
    return MD_OK;
}

enum md_err access_grant_delete(struct access *a, const char *id, struct md_error *e)
{
    struct store_conn *c = NULL;
    enum md_err err = store_acquire(access_store(a), &c, e);

    if (err)
        return err;
    err = store_obj_delete(c, STORE_OBJ_GRANT, id, e);
    if (err == MD_ERR_NOTFOUND)
        err = md_error_set(e, MD_ERR_NOTFOUND, "no grant has the id %.64s", id);
    store_release(c);
    return err;
}
