/*
 * /users and /groups: a read view of what the identity provider pushed through SCIM, with what
 * the access model makes of it (a user's groups and tools, a group's grants). Writes go through
 * SCIM only, so that the identity provider stays the source of truth.
 */
#include <string.h>

#include "access/access.h"
#include "admin/admin_int.h"
#include "core/time.h"
#include "scim/filter.h"
#include "scim/query.h"
#include "scim/schema.h"

static int count_member(void *ctx, const struct store_member *m)
{
    (void)m;
    (*(int64_t *)ctx)++;
    return 0;
}

/* The number of direct members of a group. */
static enum md_err member_count(struct store_conn *c, const char *group_id, int64_t *n,
                                struct md_error *e)
{
    *n = 0;
    return store_member_list(c, group_id, count_member, n, e);
}

/* Adds "created", "modified" and "version" of a row. */
static void add_times(json_t *o, const struct store_row *r)
{
    char t[TIME_RFC3339_LEN];
    time_format_ms(r->created_ms, t);
    json_object_set_new(o, "created", json_string(t));
    time_format_ms(r->modified_ms, t);
    json_object_set_new(o, "modified", json_string(t));
    json_object_set_new(o, "version", json_integer((json_int_t)r->version));
}

/* Sets obj[key] to the string s, or leaves the key out when s is NULL (an unset column). */
static void set_opt_str(json_t *obj, const char *key, const char *s)
{
    if (obj && s)
        json_object_set_new(obj, key, json_string(s));
}

/* A list item: {id, userName, displayName, active} or {id, displayName, members}. */
static json_t *row_item(struct store_conn *c, enum store_kind k, const struct store_row *r,
                        struct md_error *e)
{
    json_t *o;
    int64_t n;
    if (k == STORE_USERS) {
        o = json_pack("{s:s, s:s, s:b}", "id", r->id, "userName", r->user_name ? r->user_name : "",
                      "active", r->active);
        set_opt_str(o, "displayName", r->display_name);
    } else {
        if (member_count(c, r->id, &n, e))
            return NULL;
        o = json_pack("{s:s, s:s, s:I}", "id", r->id, "displayName",
                      r->display_name ? r->display_name : "", "members", (json_int_t)n);
    }
    if (!o)
        md_error_set(e, MD_ERR_NOMEM, "out of memory");
    return o;
}

/*
 * A page of users or groups, optionally filtered with a SCIM filter (RFC 7644 section 3.4.2.2)
 * over the resource's attributes: {"items", "total", "startIndex", "count"}.
 */
static void list_rows(struct admin_ctx *x, enum store_kind k)
{
    const struct scim_rtype *rt = k == STORE_USERS ? &scim_rtype_user : &scim_rtype_group;
    const char *filter = admin_query(x, "filter");
    struct filter_node *f = NULL;
    struct scim_query *q = NULL;
    struct store_conn *c = NULL;
    struct store_rows rows = {0};
    struct store_query sq;
    struct admin_page page;
    struct md_error e;
    json_t *items = NULL, *out;
    enum md_err rc;

    md_error_clear(&e);
    if (admin_page_parse(x, &page))
        return;
    if (filter && *filter) {
        rc = scim_filter_parse(filter, strlen(filter), &f, &e);
        if (rc)
            goto fail;
    }
    rc = scim_query_compile(rt, f, &q, &e);
    if (rc)
        goto fail;
    memset(&sq, 0, sizeof sq);
    sq.where = scim_query_where(q);
    sq.sort = scim_query_sort_spec(q);
    sq.start_index = page.start_index;
    sq.count = page.count;
    rc = store_acquire(x->req->store, &c, &e);
    if (rc)
        goto fail;
    rc = store_res_query(c, k, &sq, &rows, &e);
    if (rc)
        goto fail;
    items = json_array();
    if (!items) {
        rc = md_error_set(&e, MD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < rows.n; i++) {
        json_t *it = row_item(c, k, &rows.rows[i], &e);
        if (!it) {
            rc = e.code ? e.code : MD_ERR_NOMEM;
            goto fail;
        }
        json_array_append_new(items, it);
    }
    out = json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total", (json_int_t)rows.total,
                    "startIndex", (json_int_t)page.start_index, "count",
                    (json_int_t)json_array_size(items));
    items = NULL;
    if (!out) {
        rc = md_error_set(&e, MD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    admin_reply(x, 200, out);
    goto out;
fail:
    admin_fail(x, rc, &e);
out:
    json_decref(items);
    store_rows_free(&rows);
    if (c)
        store_release(c);
    scim_query_free(q);
    scim_filter_free(f);
}

/* Resolves a user by SCIM id or userName; answers 404 (or the failure) and returns false. */
static bool resolve_user(struct admin_ctx *x, const char *id_or_name, char id[64])
{
    struct md_error e;
    enum md_err rc;
    md_error_clear(&e);
    rc = access_user_resolve(x->req->access, id_or_name, id, &e);
    if (rc == MD_ERR_NOTFOUND)
        admin_failf(x, rc, "no user has the id or userName \"%.64s\"", id_or_name);
    else if (rc)
        admin_fail(x, rc, &e);
    return rc == MD_OK;
}

/*
 * One user: its indexed attributes, "groups" (direct and nested) and "entitlements" (the tools
 * it may call, with the grants that give them), from the access model's view of the user.
 */
static void get_user(struct admin_ctx *x, const char *id_or_name)
{
    struct store_conn *c = NULL;
    struct store_row row;
    struct md_error e;
    json_t *ent = NULL, *out = NULL, *groups, *tools;
    char id[64];
    enum md_err rc;

    memset(&row, 0, sizeof row);
    md_error_clear(&e);
    if (!resolve_user(x, id_or_name, id))
        return;
    rc = store_acquire(x->req->store, &c, &e);
    if (rc == MD_OK)
        rc = store_res_get(c, STORE_USERS, id, &row, &e);
    /* The access service takes connections of its own: never hold one while calling it. */
    if (c)
        store_release(c);
    c = NULL;
    if (rc == MD_OK)
        rc = access_entitlements(x->req->access, id, NULL, false, &ent, &e);
    if (rc)
        goto fail;
    groups = json_object_get(ent, "groups");
    tools = json_object_get(ent, "tools");
    out = json_pack("{s:s, s:s, s:b}", "id", row.id, "userName", row.user_name ? row.user_name : "",
                    "active", row.active);
    if (!out) {
        rc = md_error_set(&e, MD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    set_opt_str(out, "displayName", row.display_name);
    set_opt_str(out, "externalId", row.external_id);
    json_object_set_new(out, "groups", groups ? json_incref(groups) : json_array());
    json_object_set_new(out, "entitlements", tools ? json_incref(tools) : json_array());
    add_times(out, &row);
    admin_reply(x, 200, out);
    goto out;
fail:
    if (rc == MD_ERR_NOTFOUND)
        admin_failf(x, rc, "no user has the id \"%.64s\"", id);
    else
        admin_fail(x, rc, &e);
out:
    json_decref(ent);
    store_row_free(&row);
    if (c)
        store_release(c);
}

/* What access_entitlements says of a user; ?pack keeps one pack's tools. */
static void get_entitlements(struct admin_ctx *x, const char *id_or_name)
{
    const char *pack = admin_query(x, "pack");
    struct md_error e;
    json_t *ent = NULL;
    char id[64];
    enum md_err rc;

    md_error_clear(&e);
    if (!resolve_user(x, id_or_name, id))
        return;
    rc = access_entitlements(x->req->access, id, pack && *pack ? pack : NULL, false, &ent, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        return;
    }
    admin_reply(x, 200, ent);
}

void admin_route_users(struct admin_ctx *x)
{
    if (x->nseg > 3 || (x->nseg == 3 && strcmp(x->seg[2], "entitlements") != 0 &&
                        strcmp(x->seg[2], "history") != 0)) {
        admin_failf(x, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    if (!admin_method_ok(x, "GET"))
        return;
    if (x->nseg == 1)
        list_rows(x, STORE_USERS);
    else if (x->nseg == 2)
        get_user(x, x->seg[1]);
    else if (strcmp(x->seg[2], "history") == 0)
        admin_route_user_history(x, x->seg[1]); /* history.c */
    else
        get_entitlements(x, x->seg[1]);
}

/* One group: its attributes, its number of direct members and the grants made to it. */
static void get_group(struct admin_ctx *x, const char *id)
{
    struct store_conn *c = NULL;
    struct store_row row;
    struct md_error e;
    json_t *grants = NULL, *out;
    int64_t n = 0;
    enum md_err rc;

    memset(&row, 0, sizeof row);
    md_error_clear(&e);
    rc = store_acquire(x->req->store, &c, &e);
    if (rc == MD_OK)
        rc = store_res_get(c, STORE_GROUPS, id, &row, &e);
    if (rc == MD_OK)
        rc = member_count(c, id, &n, &e);
    if (c)
        store_release(c);
    c = NULL;
    if (rc == MD_OK)
        rc = access_grant_list(x->req->access, id, &grants, &e);
    if (rc)
        goto fail;
    out = json_pack("{s:s, s:s, s:I, s:O}", "id", row.id, "displayName",
                    row.display_name ? row.display_name : "", "members", (json_int_t)n, "grants",
                    grants);
    if (!out) {
        rc = md_error_set(&e, MD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    set_opt_str(out, "externalId", row.external_id);
    add_times(out, &row);
    admin_reply(x, 200, out);
    goto out;
fail:
    if (rc == MD_ERR_NOTFOUND)
        admin_failf(x, rc, "no group has the id \"%.64s\"", id);
    else
        admin_fail(x, rc, &e);
out:
    json_decref(grants);
    store_row_free(&row);
    if (c)
        store_release(c);
}

static void list_groups(struct admin_ctx *x)
{
    list_rows(x, STORE_GROUPS);
}

void admin_route_groups(struct admin_ctx *x)
{
    static const struct admin_resource r = {.list = list_groups, .get = get_group};
    admin_route_resource(x, &r);
}
