/*
 * /grants: who gets which pack or tool, at which level, under which conditions, until when
 * (access.h describes the document). The access module validates them; a grant that names a
 * condition it cannot parse is refused with a message that names the condition.
 */
#include <string.h>

#include "access/access.h"
#include "admin/admin_int.h"

/* Answers a grant just written or read, with its ETag (and Location when created). */
static void reply_grant(struct admin_ctx *x, int status, json_t *grant)
{
    const char *id = json_string_value(json_object_get(grant, "id"));
    admin_set_etag(x, grant);
    if (status == 201 && id)
        admin_set_location(x, "grants", id);
    admin_reply(x, status, grant);
}

static void grant_failed(struct admin_ctx *x, enum md_err rc, const struct md_error *e,
                         const char *id)
{
    if (rc == MD_ERR_NOTFOUND && id)
        admin_failf(x, rc, "no grant has the id \"%.64s\"", id);
    else
        admin_fail(x, rc, e);
}

static void list_grants(struct admin_ctx *x)
{
    const char *subject = admin_query(x, "subject");
    struct md_error e;
    json_t *v = NULL;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_grant_list(x->req->access, subject && *subject ? subject : NULL, &v, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        return;
    }
    if (json_is_array(v)) {
        admin_reply_items(x, v);
    } else if (json_is_object(v) && json_is_array(json_object_get(v, "items"))) {
        admin_reply(x, 200, v);
    } else {
        json_decref(v);
        admin_failf(x, MD_ERR_INTERNAL, "the grants answered a list of an unexpected shape");
    }
}

/* POST /grants (id NULL) or PUT /grants/{id}; the actor is the admin token's id. */
static void write_grant(struct admin_ctx *x, const char *id)
{
    json_t *body = NULL, *out = NULL;
    struct md_error e;
    int64_t version = 0;
    enum md_err rc;

    md_error_clear(&e);
    if ((id && admin_if_match(x, &version)) || admin_body_object(x, false, &body))
        goto out;
    if (id)
        rc = access_grant_put(x->req->access, id, body, version, x->req->actor, &out, &e);
    else
        rc = access_grant_create(x->req->access, body, x->req->actor, &out, &e);
    if (rc) {
        grant_failed(x, rc, &e, id);
        goto out;
    }
    reply_grant(x, id ? 200 : 201, out);
    out = NULL;
out:
    json_decref(out);
    json_decref(body);
}

static void create_grant(struct admin_ctx *x)
{
    write_grant(x, NULL);
}

static void get_grant(struct admin_ctx *x, const char *id)
{
    struct md_error e;
    json_t *v = NULL;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_grant_get(x->req->access, id, &v, &e);
    if (rc)
        grant_failed(x, rc, &e, id);
    else
        reply_grant(x, 200, v);
}

static void delete_grant(struct admin_ctx *x, const char *id)
{
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_grant_delete(x->req->access, id, &e);
    if (rc)
        grant_failed(x, rc, &e, id);
    else
        admin_reply(x, 204, NULL);
}

void admin_route_grants(struct admin_ctx *x)
{
    static const struct admin_resource r = {
        .list = list_grants,
        .create = create_grant,
        .get = get_grant,
        .put = write_grant,
        .del = delete_grant,
    };
    admin_route_resource(x, &r);
}
