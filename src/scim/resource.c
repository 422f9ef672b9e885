/*
 * Users and Groups: create, read, list, replace, patch and delete, for both resource types
 * through one set of handlers. What differs between them is data: the resource type's schema,
 * its table, and which attribute lives in the membership table (a user's read-only groups, a
 * group's members).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "core/json.h"
#include "core/str.h"
#include "core/time.h"
#include "scim/filter.h"
#include "scim/patch.h"
#include "scim/query.h"
#include "scim/scim_int.h"

/* ---- rendering ---- */

struct render_ctx {
    json_t *arr;
    const char *base;
};

static int add_group(void *ctx, const char *group_id, const char *display, bool direct)
{
    struct render_ctx *r = ctx;
    char ref[700];
    json_t *g;
    snprintf(ref, sizeof ref, "%s/Groups/%s", r->base, group_id);
    g = json_pack("{s:s, s:s, s:s}", "value", group_id, "$ref", ref, "type",
                  direct ? "direct" : "indirect");
    if (!g)
        return 1;
    if (display)
        json_object_set_new(g, "display", json_string(display));
    json_array_append_new(r->arr, g);
    return 0;
}

static int add_member(void *ctx, const struct store_member *m)
{
    struct render_ctx *r = ctx;
    char ref[700];
    json_t *o;
    bool user = m->type == STORE_MEMBER_USER;
    snprintf(ref, sizeof ref, "%s/%s/%s", r->base, user ? "Users" : "Groups", m->id);
    o = json_pack("{s:s, s:s, s:s}", "value", m->id, "$ref", ref, "type", user ? "User" : "Group");
    if (!o)
        return 1;
    if (m->display)
        json_object_set_new(o, "display", json_string(m->display));
    json_array_append_new(r->arr, o);
    return 0;
}

/* Whether the projection lists keep attribute name; decides if a table must be read. */
static bool wanted(const struct scim_attr_list *attrs, const struct scim_attr_list *excluded,
                   const char *name)
{
    if (attrs)
        return scim_attr_list_names(attrs, name);
    return !scim_attr_list_names_whole(excluded, name);
}

json_t *scim_render(struct scim_ctx *x, const struct scim_rtype *rt, const struct store_row *row,
                    const struct scim_attr_list *attrs, const struct scim_attr_list *excluded)
{
    json_t *doc = NULL, *res = NULL, *meta;
    const char *k;
    json_t *v;
    char created[TIME_RFC3339_LEN], modified[TIME_RFC3339_LEN], loc[700], etag[80];
    struct render_ctx rc;
    enum md_err err;

    if (json_parse_limited(row->doc, strlen(row->doc), (size_t)64 << 20, 64, &doc, &x->err)) {
        x->err.code = MD_ERR_INTERNAL;
        return NULL;
    }
    res = json_object();
    json_object_set(res, "schemas", json_object_get(doc, "schemas"));
    json_object_set_new(res, "id", json_string(row->id));
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "schemas") != 0)
            json_object_set(res, k, v);
    }
    rc.base = x->req->base_url;
    if (rt == &scim_rtype_user && wanted(attrs, excluded, "groups")) {
        rc.arr = json_array();
        err = store_member_groups(x->conn, row->id, add_group, &rc, &x->err);
        if (err) {
            json_decref(rc.arr);
            goto fail;
        }
        if (json_array_size(rc.arr))
            json_object_set_new(res, "groups", rc.arr);
        else
            json_decref(rc.arr);
    } else if (rt == &scim_rtype_group && wanted(attrs, excluded, "members")) {
        rc.arr = json_array();
        err = store_member_list(x->conn, row->id, add_member, &rc, &x->err);
        if (err) {
            json_decref(rc.arr);
            goto fail;
        }
        json_object_set_new(res, "members", rc.arr);
    }
    time_format_ms(row->created_ms, created);
    time_format_ms(row->modified_ms, modified);
    snprintf(loc, sizeof loc, "%s%s/%s", x->req->base_url, rt->endpoint, row->id);
    scim_etag(row->version, etag);
    meta = json_pack("{s:s, s:s, s:s, s:s, s:s}", "resourceType", rt->name, "created", created,
                     "lastModified", modified, "location", loc, "version", etag);
    json_object_set_new(res, "meta", meta);
    json_decref(doc);
    scim_project(rt, res, attrs, excluded);
    return res;
fail:
    json_decref(doc);
    json_decref(res);
    return NULL;
}

/* ---- shared pieces ---- */

struct lists {
    struct scim_attr_list *attrs;
    struct scim_attr_list *excluded;
};

static void lists_free(struct lists *l)
{
    scim_attr_list_free(l->attrs);
    scim_attr_list_free(l->excluded);
}

static enum md_err lists_parse(struct scim_ctx *x, const struct scim_rtype *rt, const char *attrs,
                               const char *excluded, struct lists *out)
{
    enum md_err rc;
    memset(out, 0, sizeof *out);
    rc = scim_attr_list_parse(rt, attrs, &out->attrs, &x->err);
    if (rc == MD_OK)
        rc = scim_attr_list_parse(rt, excluded, &out->excluded, &x->err);
    if (rc)
        lists_free(out);
    return rc;
}

static enum md_err lists_from_query(struct scim_ctx *x, const struct scim_rtype *rt,
                                    struct lists *out)
{
    return lists_parse(x, rt, scim_query_param(x, "attributes"),
                       scim_query_param(x, "excludedAttributes"), out);
}

/* Fills the indexed columns of row from doc; the strings are borrowed from doc. */
static void columns_from_doc(const struct scim_rtype *rt, const json_t *doc, struct store_row *row)
{
    const json_t *active = json_object_get(doc, "active");
    row->user_name = rt == &scim_rtype_user
                         ? (char *)(uintptr_t)json_string_value(json_object_get(doc, "userName"))
                         : NULL;
    row->display_name = (char *)(uintptr_t)json_string_value(json_object_get(doc, "displayName"));
    row->external_id = (char *)(uintptr_t)json_string_value(json_object_get(doc, "externalId"));
    /* A user without "active" is taken as active, as identity providers treat it. */
    row->active = json_is_boolean(active) ? json_is_true(active) : true;
}

/* Checks If-Match against the current version: MD_ERR_PRECONDITION when none matches. */
static enum md_err check_if_match(struct scim_ctx *x, int64_t version)
{
    const char *h = x->req->if_match;
    char want[80];
    if (!h || !*h)
        return MD_OK;
    if (strcmp(h, "*") == 0)
        return MD_OK;
    scim_etag(version, want);
    /* want is W/"n"; a client may send the strong form "n" too. */
    if (strstr(h, want) || strstr(h, want + 2))
        return MD_OK;
    return md_error_set(&x->err, MD_ERR_PRECONDITION,
                        "If-Match does not match the current version %s", want);
}

static bool if_none_match_hits(struct scim_ctx *x, int64_t version)
{
    const char *h = x->req->if_none_match;
    char want[80];
    if (!h || !*h)
        return false;
    if (strcmp(h, "*") == 0)
        return true;
    scim_etag(version, want);
    return strstr(h, want) || strstr(h, want + 2);
}

static void reply_resource(struct scim_ctx *x, const struct scim_rtype *rt, int status,
                           const struct store_row *row, const struct lists *l)
{
    json_t *res = scim_render(x, rt, row, l->attrs, l->excluded);
    if (!res) {
        scim_fail(x, x->err.code ? x->err.code : MD_ERR_INTERNAL);
        return;
    }
    scim_reply(x, status, res);
    scim_etag(row->version, x->resp->etag);
    if (status == 201)
        snprintf(x->resp->location, sizeof x->resp->location, "%s%s/%s", x->req->base_url,
                 rt->endpoint, row->id);
}

static bool id_ok(const char *id)
{
    return id && *id && strlen(id) < sizeof(((struct store_row *)0)->id);
}

static void not_found(struct scim_ctx *x, const struct scim_rtype *rt, const char *id)
{
    md_error_set(&x->err, MD_ERR_NOTFOUND, "%s %.80s not found", rt->name, id);
    scim_fail(x, MD_ERR_NOTFOUND);
}

/* Adds the members of a POST or PUT body of a group. */
static enum md_err add_body_members(struct scim_ctx *x, const char *group_id, const json_t *body)
{
    const json_t *members = json_object_iget(body, "members");
    struct scim_members_ctx m = {x, group_id};
    if (!members || json_is_null(members))
        return MD_OK;
    if (!json_is_array(members))
        return md_error_set(&x->err, MD_ERR_VALUE, "members must be an array");
    return scim_members_add(&m, members, &x->err);
}

/* ---- handlers ---- */

static void handle_get(struct scim_ctx *x, const struct scim_rtype *rt, const char *id)
{
    struct store_row row;
    struct lists l;
    enum md_err rc;

    memset(&row, 0, sizeof row);
    if (lists_from_query(x, rt, &l)) {
        scim_fail(x, x->err.code);
        return;
    }
    rc = store_res_get(x->conn, scim_kind(rt), id, &row, &x->err);
    if (rc == MD_ERR_NOTFOUND) {
        not_found(x, rt, id);
    } else if (rc) {
        scim_fail(x, rc);
    } else if (if_none_match_hits(x, row.version)) {
        x->resp->status = 304;
        scim_etag(row.version, x->resp->etag);
    } else {
        reply_resource(x, rt, 200, &row, &l);
    }
    store_row_free(&row);
    lists_free(&l);
}

/*
 * Notes what a change stored, for the audit log (note_change): userName, active (users),
 * externalId and displayName from the row as written. The response cannot be used for this: a
 * PATCH answers 204 without a body, and ?attributes= may leave active out of any answer, yet a
 * reader of the log (who could do what, when) needs the state after every change.
 */
static void note_after(struct scim_ctx *x, const struct scim_rtype *rt, const struct store_row *row)
{
    json_t *a = json_object();

    if (!a)
        return;
    if (rt == &scim_rtype_user) {
        json_object_set_new(a, "userName", json_string(row->user_name ? row->user_name : ""));
        json_object_set_new(a, "active", json_boolean(row->active));
    }
    if (row->external_id)
        json_object_set_new(a, "externalId", json_string(row->external_id));
    if (row->display_name)
        json_object_set_new(a, "displayName", json_string(row->display_name));
    json_decref(x->after);
    x->after = a;
}

static void handle_create(struct scim_ctx *x, const struct scim_rtype *rt)
{
    json_t *body = NULL, *doc = NULL;
    struct store_row row;
    struct lists l = {0};
    enum md_err rc;

    memset(&row, 0, sizeof row);
    if (lists_from_query(x, rt, &l)) {
        scim_fail(x, x->err.code);
        return;
    }
    body = scim_parse_body(x);
    if (!body)
        goto out;
    rc = scim_resource_from_json(rt, body, &doc, &x->err);
    if (rc)
        goto fail;
    if ((rc = crypto_uuid(row.id)))
        goto fail;
    columns_from_doc(rt, doc, &row);
    row.doc = json_dump_compact(doc);
    row.created_ms = row.modified_ms = time_now_ms();
    row.version = 1;
    if (!row.doc) {
        rc = MD_ERR_NOMEM;
        goto fail;
    }
    if ((rc = store_begin(x->conn, &x->err)))
        goto fail;
    rc = store_res_insert(x->conn, scim_kind(rt), &row, &x->err);
    if (rc == MD_OK && rt == &scim_rtype_group)
        rc = add_body_members(x, row.id, body);
    if (rc == MD_OK)
        rc = store_commit(x->conn, &x->err);
    if (rc) {
        store_rollback(x->conn);
        goto fail;
    }
    note_after(x, rt, &row);
    reply_resource(x, rt, 201, &row, &l);
    goto out;
fail:
    scim_fail(x, rc);
out:
    free(row.doc);
    json_decref(doc);
    json_decref(body);
    lists_free(&l);
}

/*
 * The first steps of every change to an existing resource: open the write transaction, load
 * the current row, and check If-Match. On MD_ERR_NOTFOUND the response is already set (404);
 * on any error the transaction is rolled back.
 */
static enum md_err begin_change(struct scim_ctx *x, const struct scim_rtype *rt, const char *id,
                                struct store_row *cur)
{
    enum md_err rc = store_begin(x->conn, &x->err);
    if (rc)
        return rc;
    rc = store_res_get(x->conn, scim_kind(rt), id, cur, &x->err);
    if (rc == MD_ERR_NOTFOUND)
        not_found(x, rt, id);
    else if (rc == MD_OK)
        rc = check_if_match(x, cur->version);
    if (rc)
        store_rollback(x->conn);
    return rc;
}

/*
 * Writes doc as the new state of cur's resource: its indexed columns, lastModified and the next
 * version (into row, whose doc text the caller frees).
 */
static enum md_err save_doc(struct scim_ctx *x, const struct scim_rtype *rt,
                            const struct store_row *cur, const json_t *doc, struct store_row *row)
{
    snprintf(row->id, sizeof row->id, "%s", cur->id);
    columns_from_doc(rt, doc, row);
    row->doc = json_dump_compact(doc);
    if (!row->doc)
        return md_error_set(&x->err, MD_ERR_NOMEM, "out of memory");
    row->created_ms = cur->created_ms;
    row->modified_ms = time_now_ms();
    return store_res_update(x->conn, scim_kind(rt), row, cur->version, &row->version, &x->err);
}

/* Ends a change: commits when rc is MD_OK, else rolls back and answers with the error. */
static enum md_err end_change(struct scim_ctx *x, enum md_err rc)
{
    if (rc == MD_OK)
        rc = store_commit(x->conn, &x->err);
    if (rc) {
        store_rollback(x->conn);
        scim_fail(x, rc);
    }
    return rc;
}

static void handle_replace(struct scim_ctx *x, const struct scim_rtype *rt, const char *id)
{
    json_t *body = NULL, *doc = NULL;
    struct store_row cur, row;
    struct lists l = {0};
    enum md_err rc;

    memset(&cur, 0, sizeof cur);
    memset(&row, 0, sizeof row);
    if (lists_from_query(x, rt, &l)) {
        scim_fail(x, x->err.code);
        return;
    }
    body = scim_parse_body(x);
    if (!body)
        goto out;
    rc = scim_resource_from_json(rt, body, &doc, &x->err);
    if (rc) {
        scim_fail(x, rc);
        goto out;
    }
    rc = begin_change(x, rt, id, &cur);
    if (rc) {
        if (rc != MD_ERR_NOTFOUND)
            scim_fail(x, rc);
        goto out;
    }
    rc = save_doc(x, rt, &cur, doc, &row);
    /* PUT replaces the whole resource, members included. */
    if (rc == MD_OK && rt == &scim_rtype_group) {
        rc = store_member_clear(x->conn, row.id, &x->err);
        if (rc == MD_OK) {
            scim_member_log(x, "clear", NULL);
            rc = add_body_members(x, row.id, body);
        }
    }
    if (end_change(x, rc) == MD_OK) {
        note_after(x, rt, &row);
        reply_resource(x, rt, 200, &row, &l);
    }
out:
    store_row_free(&cur);
    free(row.doc);
    json_decref(doc);
    json_decref(body);
    lists_free(&l);
}

/* A required attribute that a PATCH removed or emptied. */
static enum md_err check_required(struct scim_ctx *x, const struct scim_rtype *rt,
                                  const json_t *doc)
{
    const char *name = rt == &scim_rtype_user ? "userName" : "displayName";
    const char *v = json_string_value(json_object_get(doc, name));
    if (!v || !*v)
        return md_error_set(&x->err, MD_ERR_VALUE, "%s is required", name);
    return MD_OK;
}

/*
 * The PATCH engine ignores "id" inside a pathless value, as Okta sends the resource's own id
 * there when it renames a group; a different id is an attempt to change a readOnly attribute.
 */
static enum md_err check_id_unchanged(struct scim_ctx *x, const json_t *body, const char *id)
{
    const json_t *ops = json_object_iget(body, "Operations");
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const json_t *path = json_object_iget(op, "path");
        const char *v = json_istr(json_object_iget(op, "value"), "id");
        if ((!path || json_is_null(path) || json_string_length(path) == 0) && v &&
            strcmp(v, id) != 0)
            return md_error_set(&x->err, MD_ERR_MUTABILITY,
                                "Operations[%zu]: id is readOnly and cannot be changed", i);
    }
    return MD_OK;
}

static void handle_patch(struct scim_ctx *x, const struct scim_rtype *rt, const char *id)
{
    json_t *body = NULL, *doc = NULL;
    struct store_row cur, row;
    struct lists l = {0};
    struct scim_members_ctx mctx = {x, id};
    struct scim_patch_members cb;
    enum md_err rc;

    memset(&cur, 0, sizeof cur);
    memset(&row, 0, sizeof row);
    if (lists_from_query(x, rt, &l)) {
        scim_fail(x, x->err.code);
        return;
    }
    body = scim_parse_body(x);
    if (!body)
        goto out;
    rc = begin_change(x, rt, id, &cur);
    if (rc) {
        if (rc != MD_ERR_NOTFOUND)
            scim_fail(x, rc);
        goto out;
    }
    rc = check_id_unchanged(x, body, id);
    if (rc == MD_OK)
        rc = json_parse_limited(cur.doc, strlen(cur.doc), (size_t)64 << 20, 64, &doc, &x->err);
    scim_members_callbacks(&mctx, &cb);
    if (rc == MD_OK)
        rc = scim_patch_apply(rt, doc, body, rt == &scim_rtype_group ? &cb : NULL, &x->err);
    if (rc == MD_OK)
        rc = check_required(x, rt, doc);
    if (rc == MD_OK)
        rc = save_doc(x, rt, &cur, doc, &row);
    if (end_change(x, rc) != MD_OK)
        goto out;
    note_after(x, rt, &row);
    /*
     * 204 unless the client asked for attributes: identity providers do not read the body,
     * and rendering a large group on every membership change would make it cost O(members).
     */
    if (l.attrs || l.excluded) {
        reply_resource(x, rt, 200, &row, &l);
    } else {
        x->resp->status = 204;
        scim_etag(row.version, x->resp->etag);
    }
out:
    store_row_free(&cur);
    free(row.doc);
    json_decref(doc);
    json_decref(body);
    lists_free(&l);
}

static int collect_direct(void *ctx, const char *group_id, const char *display, bool direct)
{
    (void)display;
    if (direct && json_array_append_new(ctx, json_string(group_id)) != 0)
        return 1;
    return 0;
}

/*
 * Deleting a resource removes its membership rows, which changes the groups that held it: their
 * version and lastModified move, so that an ETag never vouches for a stale member list.
 */
static enum md_err delete_and_touch_groups(struct scim_ctx *x, const struct scim_rtype *rt,
                                           const char *id)
{
    json_t *groups = json_array();
    size_t i;
    json_t *g;
    int64_t now = time_now_ms(), v;
    enum md_err rc;

    if (!groups)
        return MD_ERR_NOMEM;
    rc = store_member_groups(x->conn, id, collect_direct, groups, &x->err);
    if (rc == MD_OK)
        rc = store_res_delete(x->conn, scim_kind(rt), id, &x->err);
    json_array_foreach(groups, i, g)
    {
        if (rc)
            break;
        rc = store_res_touch(x->conn, STORE_GROUPS, json_string_value(g), now, &v, &x->err);
        if (rc == MD_ERR_NOTFOUND) /* the group was the resource itself (a cycle) */
            rc = MD_OK;
    }
    json_decref(groups);
    return rc;
}

static void handle_delete(struct scim_ctx *x, const struct scim_rtype *rt, const char *id)
{
    struct store_row cur;
    enum md_err rc;

    memset(&cur, 0, sizeof cur);
    rc = begin_change(x, rt, id, &cur);
    if (rc) {
        if (rc != MD_ERR_NOTFOUND)
            scim_fail(x, rc);
        goto out;
    }
    if (end_change(x, delete_and_touch_groups(x, rt, id)) == MD_OK)
        x->resp->status = 204;
out:
    store_row_free(&cur);
}

/* ---- list and search ---- */

struct list_params {
    const char *filter;
    const char *sort_by;
    const char *sort_order;
    int64_t start_index;
    int64_t count;
    const char *attrs;
    const char *excluded;
};

static enum md_err parse_int_param(struct scim_ctx *x, const char *name, const char *s,
                                   int64_t *out)
{
    long long v;
    if (!s)
        return MD_OK;
    if (!str_to_ll(s, strlen(s), -((long long)1 << 53), (long long)1 << 53, &v))
        return md_error_set(&x->err, MD_ERR_VALUE, "%s must be an integer", name);
    *out = v;
    return MD_OK;
}

/* One resource type's page of a list: rows start_index .. start_index+count-1. */
static enum md_err query_type(struct scim_ctx *x, const struct scim_rtype *rt,
                              const struct filter_node *f, const struct list_params *p,
                              int64_t start_index, int64_t count, const struct lists *l,
                              json_t *resources, int64_t *total)
{
    struct scim_query *q = NULL;
    struct store_query sq;
    struct store_rows rows = {0};
    enum md_err rc;

    rc = scim_query_compile(rt, f, &q, &x->err);
    if (rc == MD_OK && p->sort_by)
        rc = scim_query_sort(q, rt, p->sort_by, p->sort_order, &x->err);
    if (rc)
        goto out;
    memset(&sq, 0, sizeof sq);
    sq.where = scim_query_where(q);
    sq.sort = scim_query_sort_spec(q);
    sq.start_index = start_index;
    sq.count = count;
    rc = store_res_query(x->conn, scim_kind(rt), &sq, &rows, &x->err);
    if (rc)
        goto out;
    *total = rows.total;
    for (size_t i = 0; i < rows.n; i++) {
        json_t *res = scim_render(x, rt, &rows.rows[i], l->attrs, l->excluded);
        if (!res) {
            rc = x->err.code ? x->err.code : MD_ERR_INTERNAL;
            goto out;
        }
        json_array_append_new(resources, res);
    }
out:
    store_rows_free(&rows);
    scim_query_free(q);
    return rc;
}

static void list(struct scim_ctx *x, const struct scim_rtype *rt, struct list_params *p)
{
    struct filter_node *f = NULL;
    struct lists l = {0};
    json_t *resources = json_array(), *out;
    int64_t total = 0, total2 = 0;
    enum md_err rc;

    if (p->start_index < 1)
        p->start_index = 1;
    if (p->count < 0)
        p->count = 0;
    if (p->count > x->limits->max_results)
        p->count = x->limits->max_results;
    if (p->filter && *p->filter) {
        rc = scim_filter_parse(p->filter, strlen(p->filter), &f, &x->err);
        if (rc)
            goto fail;
    }
    if (rt) {
        if ((rc = lists_parse(x, rt, p->attrs, p->excluded, &l)))
            goto fail;
        rc = query_type(x, rt, f, p, p->start_index, p->count, &l, resources, &total);
        if (rc)
            goto fail;
    } else {
        /* /.search over every type: users first, then groups, paged as one list. */
        struct lists lg = {0};
        enum md_err ru, rg;
        size_t n_users;
        if ((rc = lists_parse(x, &scim_rtype_user, p->attrs, p->excluded, &l)))
            goto fail;
        if ((rc = lists_parse(x, &scim_rtype_group, p->attrs, p->excluded, &lg)))
            goto fail;
        ru = query_type(x, &scim_rtype_user, f, p, p->start_index, p->count, &l, resources, &total);
        if (ru && ru != MD_ERR_FILTER) {
            lists_free(&lg);
            rc = ru;
            goto fail;
        }
        n_users = json_array_size(resources);
        {
            int64_t gstart = p->start_index > total ? p->start_index - total : 1;
            int64_t gcount = p->count - (int64_t)n_users;
            rg = query_type(x, &scim_rtype_group, f, p, gstart, gcount < 0 ? 0 : gcount, &lg,
                            resources, &total2);
        }
        lists_free(&lg);
        if (rg && rg != MD_ERR_FILTER) {
            rc = rg;
            goto fail;
        }
        if (ru && rg) {
            rc = ru;
            goto fail;
        }
        md_error_clear(&x->err);
        total += total2;
    }
    out = json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_URN_LIST, "totalResults",
                    (json_int_t)total, "itemsPerPage", (json_int_t)json_array_size(resources),
                    "startIndex", (json_int_t)p->start_index, "Resources", resources);
    resources = NULL;
    scim_reply(x, 200, out);
    goto out;
fail:
    scim_fail(x, rc);
out:
    json_decref(resources);
    scim_filter_free(f);
    lists_free(&l);
}

#define DEFAULT_PAGE 100

static void handle_list(struct scim_ctx *x, const struct scim_rtype *rt)
{
    struct list_params p;
    enum md_err rc;
    memset(&p, 0, sizeof p);
    p.start_index = 1;
    p.count = DEFAULT_PAGE;
    p.filter = scim_query_param(x, "filter");
    p.sort_by = scim_query_param(x, "sortBy");
    p.sort_order = scim_query_param(x, "sortOrder");
    p.attrs = scim_query_param(x, "attributes");
    p.excluded = scim_query_param(x, "excludedAttributes");
    rc = parse_int_param(x, "startIndex", scim_query_param(x, "startIndex"), &p.start_index);
    if (rc == MD_OK)
        rc = parse_int_param(x, "count", scim_query_param(x, "count"), &p.count);
    if (rc) {
        scim_fail(x, rc);
        return;
    }
    list(x, rt, &p);
}

/* A SearchRequest's attribute list (an array of strings) as one comma-separated string. */
static enum md_err join_list(struct scim_ctx *x, const json_t *v, const char *name, struct buf *b,
                             const char **out)
{
    size_t i;
    json_t *s;
    if (!v || json_is_null(v))
        return MD_OK;
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return MD_OK;
    }
    if (!json_is_array(v))
        return md_error_set(&x->err, MD_ERR_SYNTAX, "%s must be an array of strings", name);
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return md_error_set(&x->err, MD_ERR_SYNTAX, "%s must be an array of strings", name);
        if (i)
            buf_append_char(b, ',');
        buf_append_cstr(b, json_string_value(s));
    }
    if (b->err)
        return b->err;
    *out = b->p ? b->p : "";
    return MD_OK;
}

static enum md_err search_int(struct scim_ctx *x, const json_t *body, const char *name,
                              int64_t *out)
{
    const json_t *v = json_object_iget(body, name);
    if (!v || json_is_null(v))
        return MD_OK;
    if (!json_is_integer(v))
        return md_error_set(&x->err, MD_ERR_SYNTAX, "%s must be an integer", name);
    *out = json_integer_value(v);
    return MD_OK;
}

static enum md_err search_str(struct scim_ctx *x, const json_t *body, const char *name,
                              const char **out)
{
    const json_t *v = json_object_iget(body, name);
    if (!v || json_is_null(v))
        return MD_OK;
    if (!json_is_string(v))
        return md_error_set(&x->err, MD_ERR_SYNTAX, "%s must be a string", name);
    *out = json_string_value(v);
    return MD_OK;
}

void scim_search_handle(struct scim_ctx *x, const struct scim_rtype *rt)
{
    struct list_params p;
    struct buf ab, eb;
    json_t *body = scim_parse_body(x);
    enum md_err rc;

    if (!body)
        return;
    if (!scim_require_schema(x, body, SCIM_URN_SEARCH)) {
        json_decref(body);
        return;
    }
    memset(&p, 0, sizeof p);
    buf_init(&ab, 64 * 1024);
    buf_init(&eb, 64 * 1024);
    p.start_index = 1;
    p.count = DEFAULT_PAGE;
    rc = search_str(x, body, "filter", &p.filter);
    if (rc == MD_OK)
        rc = search_str(x, body, "sortBy", &p.sort_by);
    if (rc == MD_OK)
        rc = search_str(x, body, "sortOrder", &p.sort_order);
    if (rc == MD_OK)
        rc = search_int(x, body, "startIndex", &p.start_index);
    if (rc == MD_OK)
        rc = search_int(x, body, "count", &p.count);
    if (rc == MD_OK)
        rc = join_list(x, json_object_iget(body, "attributes"), "attributes", &ab, &p.attrs);
    if (rc == MD_OK)
        rc = join_list(x, json_object_iget(body, "excludedAttributes"), "excludedAttributes", &eb,
                       &p.excluded);
    if (rc)
        scim_fail(x, rc);
    else
        list(x, rt, &p);
    buf_free(&ab);
    buf_free(&eb);
    json_decref(body);
}

/*
 * After a change that succeeded: what it did, for the audit log (scim.h, changes). The after
 * state is what the change stored (note_after); a member list never goes in (it may be a
 * million ids), only the membership changes made.
 */
static void note_change(struct scim_ctx *x, const struct scim_rtype *rt, const char *id)
{
    static const char *const keep[] = {"userName", "active", "externalId", "displayName"};
    const char *m = x->req->method;
    const char *op = strcmp(m, "POST") == 0    ? "create"
                     : strcmp(m, "PUT") == 0   ? "replace"
                     : strcmp(m, "PATCH") == 0 ? "patch"
                                               : "delete";
    const json_t *body = x->resp->body;
    json_t *rec, *after;

    if (!id)
        id = json_string_value(json_object_get(body, "id"));
    rec = json_pack("{s:s, s:s?, s:s}", "resource", rt->name, "id", id, "op", op);
    if (!rec)
        return;
    if (x->after) {
        json_object_set_new(rec, "after", x->after);
        x->after = NULL;
    } else if (json_is_object(body) && (after = json_object())) {
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            json_t *v = json_object_get(body, keep[i]);
            if (v)
                json_object_set(after, keep[i], v);
        }
        json_object_set_new(rec, "after", after);
    }
    if (x->member_log) {
        json_object_set_new(rec, "members", x->member_log);
        x->member_log = NULL;
    }
    if (!x->resp->changes && !(x->resp->changes = json_array())) {
        json_decref(rec);
        return;
    }
    json_array_append_new(x->resp->changes, rec);
}

void scim_resource_handle(struct scim_ctx *x, const struct scim_rtype *rt, const char *id)
{
    const char *m = x->req->method;
    if (!id) {
        if (strcmp(m, "POST") == 0)
            handle_create(x, rt);
        else
            handle_list(x, rt);
    } else if (!id_ok(id)) {
        not_found(x, rt, id);
    } else if (strcmp(m, "GET") == 0) {
        handle_get(x, rt, id);
    } else if (strcmp(m, "PUT") == 0) {
        handle_replace(x, rt, id);
    } else if (strcmp(m, "PATCH") == 0) {
        handle_patch(x, rt, id);
    } else {
        handle_delete(x, rt, id);
    }
    if (strcmp(m, "GET") != 0 && (id || strcmp(m, "POST") == 0) && x->resp->status >= 200 &&
        x->resp->status < 300)
        note_change(x, rt, id);
    json_decref(x->member_log);
    x->member_log = NULL;
    json_decref(x->after);
    x->after = NULL;
}
