/*
 * Group membership, kept in the group_members table so that adding or removing one member costs
 * the same in a group of ten and of a million. These are the PATCH engine's callbacks and the
 * member handling of POST and PUT.
 */
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "scim/filter.h"
#include "scim/patch.h"
#include "scim/scim_int.h"

void scim_member_log(struct scim_ctx *x, const char *op, const char *id)
{
    if (!x->member_log && !(x->member_log = json_array()))
        return;
    json_array_append_new(x->member_log, id ? json_pack("{s:s, s:s}", "op", op, "id", id)
                                            : json_pack("{s:s}", "op", op));
}

/* The member's id from a {"value": ...} element (any key case), or NULL. */
static const char *member_value(const json_t *el)
{
    if (json_is_string(el))
        return json_string_value(el);
    return json_istr(el, "value");
}

static enum md_err add_one(struct scim_members_ctx *m, const json_t *el, struct md_error *e)
{
    const char *id = member_value(el);
    const char *display = json_is_object(el) ? json_istr(el, "display") : NULL;
    const char *type = json_is_object(el) ? json_istr(el, "type") : NULL;
    enum store_member_type t = STORE_MEMBER_USER;
    bool exists = false, added;
    enum md_err rc;

    if (json_is_object(el) && !display)
        display = json_istr(el, "displayName"); /* Microsoft's test collection sends this */
    if (!id || !*id || strlen(id) >= 64)
        return md_error_set(e, MD_ERR_VALUE,
                            "a member needs a \"value\" holding the id of a "
                            "User or Group");
    /* The type a client declares is a hint; what the id names decides. */
    if (!type || !cstr_ieq(type, "Group")) {
        rc = store_res_exists(m->x->conn, STORE_USERS, id, &exists, e);
        if (rc)
            return rc;
    }
    if (!exists) {
        rc = store_res_exists(m->x->conn, STORE_GROUPS, id, &exists, e);
        if (rc)
            return rc;
        t = STORE_MEMBER_GROUP;
    }
    if (!exists && type && cstr_ieq(type, "Group")) {
        rc = store_res_exists(m->x->conn, STORE_USERS, id, &exists, e);
        if (rc)
            return rc;
        t = STORE_MEMBER_USER;
    }
    /*
     * A member that names no User or Group is skipped rather than refused: identity providers
     * (and Microsoft's validation suite) send members that were never provisioned here, and a
     * dangling row could never match a user, since ids are assigned by this server.
     */
    if (!exists) {
        log_warn("event=member_skipped group=%s reason=unknown_id", m->group_id);
        return MD_OK;
    }
    if (t == STORE_MEMBER_GROUP && strcmp(id, m->group_id) == 0)
        return md_error_set(e, MD_ERR_VALUE, "a group cannot be a member of itself");
    rc = store_member_add(m->x->conn, m->group_id, id, t, display, &added, e);
    if (rc == MD_OK && added)
        scim_member_log(m->x, "add", id);
    return rc;
}

enum md_err scim_members_add(struct scim_members_ctx *m, const json_t *values, struct md_error *e)
{
    size_t i;
    json_t *el;
    enum md_err rc;
    if (json_is_object(values))
        return add_one(m, values, e);
    if (!json_is_array(values))
        return md_error_set(e, MD_ERR_VALUE, "members must be an array of {\"value\": id}");
    json_array_foreach(values, i, el)
    {
        if ((rc = add_one(m, el, e)))
            return rc;
    }
    return MD_OK;
}

static enum md_err cb_add(void *ctx, const json_t *values, struct md_error *e)
{
    return scim_members_add(ctx, values, e);
}

struct match_ctx {
    const struct filter_node *filter;
    json_t *matched; /* ids */
};

static int collect_match(void *ctx, const struct store_member *mem)
{
    struct match_ctx *mc = ctx;
    json_t *o = json_pack("{s:s, s:s}", "value", mem->id, "type",
                          mem->type == STORE_MEMBER_USER ? "User" : "Group");
    if (!o)
        return 1;
    if (mem->display)
        json_object_set_new(o, "display", json_string(mem->display));
    if (scim_filter_match(mc->filter, o, NULL, false))
        json_array_append_new(mc->matched, json_string(mem->id));
    json_decref(o);
    return 0;
}

/*
 * The id that `value eq "<id>"` names, the form every identity provider sends; such a filter is
 * served from the table's key without listing the group.
 */
static const char *value_eq(const struct filter_node *f)
{
    if (f->kind != FILTER_CMP || f->op != FOP_EQ || f->value.type != FVAL_STRING || f->path.urn ||
        f->path.sub || !cstr_ieq(f->path.attr, "value"))
        return NULL;
    return f->value.str;
}

static enum md_err remove_one(struct scim_members_ctx *m, const char *id, struct md_error *e)
{
    bool removed = false;
    enum md_err rc = store_member_remove(m->x->conn, m->group_id, id, &removed, e);
    if (rc == MD_OK && removed)
        scim_member_log(m->x, "remove", id);
    return rc;
}

static enum md_err clear_all(struct scim_members_ctx *m, struct md_error *e)
{
    enum md_err rc = store_member_clear(m->x->conn, m->group_id, e);
    if (rc == MD_OK)
        scim_member_log(m->x, "clear", NULL);
    return rc;
}

static enum md_err cb_remove(void *ctx, const struct filter_node *filter, struct md_error *e)
{
    struct scim_members_ctx *m = ctx;
    struct match_ctx mc;
    const char *id;
    size_t i;
    json_t *v;
    enum md_err rc;

    if (!filter)
        return clear_all(m, e);
    id = value_eq(filter);
    if (id)
        return remove_one(m, id, e);
    mc.filter = filter;
    mc.matched = json_array();
    if (!mc.matched)
        return MD_ERR_NOMEM;
    rc = store_member_list(m->x->conn, m->group_id, collect_match, &mc, e);
    json_array_foreach(mc.matched, i, v)
    {
        if (rc)
            break;
        rc = remove_one(m, json_string_value(v), e);
    }
    json_decref(mc.matched);
    return rc;
}

static enum md_err cb_remove_values(void *ctx, const json_t *values, struct md_error *e)
{
    struct scim_members_ctx *m = ctx;
    size_t i;
    json_t *el;
    enum md_err rc;
    if (json_is_object(values) || json_is_string(values)) {
        const char *id = member_value(values);
        if (!id)
            return md_error_set(e, MD_ERR_VALUE, "a member to remove needs a \"value\"");
        return remove_one(m, id, e);
    }
    json_array_foreach(values, i, el)
    {
        const char *id = member_value(el);
        if (!id)
            return md_error_set(e, MD_ERR_VALUE, "a member to remove needs a \"value\"");
        if ((rc = remove_one(m, id, e)))
            return rc;
    }
    return MD_OK;
}

static enum md_err cb_replace(void *ctx, const json_t *values, struct md_error *e)
{
    struct scim_members_ctx *m = ctx;
    enum md_err rc = clear_all(m, e);
    if (rc == MD_OK && values && !json_is_null(values))
        rc = scim_members_add(m, values, e);
    return rc;
}

void scim_members_callbacks(struct scim_members_ctx *m, struct scim_patch_members *cb)
{
    cb->add = cb_add;
    cb->remove = cb_remove;
    cb->remove_values = cb_remove_values;
    cb->replace = cb_replace;
    cb->ctx = m;
}
