/*
 * /connectors and /packs: the catalog (docs/connectors.md). The access module validates and
 * stores the documents; this file maps them onto HTTP: a name in the path that the body must
 * agree with, 201 with Location for what is new, ETag and If-Match for packs.
 */
#include <string.h>

#include "access/access.h"
#include "admin/admin_int.h"
#include "connect/auth.h"
#include "connect/vault.h"

/*
 * Answers a list from the access module: an array becomes {"items": [...]}, an object that is
 * already {"items": [...]} is passed on.
 */
static void reply_list(struct admin_ctx *x, json_t *v)
{
    if (json_is_array(v)) {
        admin_reply_items(x, v);
        return;
    }
    if (json_is_object(v) && json_is_array(json_object_get(v, "items"))) {
        admin_reply(x, 200, v);
        return;
    }
    json_decref(v);
    admin_failf(x, MD_ERR_INTERNAL, "the catalog answered a list of an unexpected shape");
}

/*
 * The path names the document: a "name" in the body must be the same, and an absent one is
 * taken from the path. False (400 answered) when they differ.
 */
static bool name_matches_path(struct admin_ctx *x, json_t *body, const char *name)
{
    json_t *v = json_object_get(body, "name");
    if (!v) {
        if (json_object_set_new(body, "name", json_string(name)) == 0)
            return true;
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        return false;
    }
    if (!json_is_string(v) || strcmp(json_string_value(v), name) != 0) {
        admin_failf(x, MD_ERR_VALUE, "\"name\" must be \"%.64s\", as in the path", name);
        return false;
    }
    return true;
}

/* ---- connectors ---- */

static void put_connector(struct admin_ctx *x, const char *name)
{
    json_t *body = NULL, *out = NULL;
    struct md_error e;
    bool created = false;
    enum md_err rc;

    md_error_clear(&e);
    if (admin_body_object(x, false, &body) || !name_matches_path(x, body, name))
        goto out;
    rc = access_connector_put(x->req->access, body, &out, &created, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    if (created)
        admin_set_location(x, "connectors", name);
    admin_reply(x, created ? 201 : 200, out);
    out = NULL;
out:
    json_decref(out);
    json_decref(body);
}

static const char *const override_members[] = {"base_url", "token_url", "levels", NULL};

static void patch_connector(struct admin_ctx *x, const char *name)
{
    json_t *body = NULL, *out = NULL;
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    if (admin_body_object(x, true, &body) || admin_only_members(x, body, override_members))
        goto out;
    rc = access_connector_override(x->req->access, name, body, &out, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    admin_reply(x, 200, out);
    out = NULL;
out:
    json_decref(out);
    json_decref(body);
}

static void list_connectors(struct admin_ctx *x)
{
    struct md_error e;
    json_t *v = NULL;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_connector_list(x->req->access, &v, &e);
    if (rc)
        admin_fail(x, rc, &e);
    else
        reply_list(x, v);
}

static void get_connector(struct admin_ctx *x, const char *name)
{
    struct md_error e;
    json_t *v = NULL;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_connector_get(x->req->access, name, &v, &e);
    if (rc == MD_ERR_NOTFOUND)
        admin_failf(x, rc, "no connector is named \"%.64s\"", name);
    else if (rc)
        admin_fail(x, rc, &e);
    else
        admin_reply(x, 200, v);
}

/*
 * /connectors/{name}/credential: the connector's secret, sealed in the vault. It can be set
 * (and so rotated) and deleted, never read back: GET shows whether one is set, which fields it
 * has, who set it and when.
 */
static void route_credential(struct admin_ctx *x, const char *name)
{
    struct connect_vault *v = x->req->vault;
    json_t *conn = NULL, *body = NULL, *out = NULL;
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    if (!admin_method_ok(x, "GET, PUT, DELETE"))
        return;
    rc = access_connector_get(x->req->access, name, &conn, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    if (!v) {
        admin_failf(x, MD_ERR_UNAVAILABLE,
                    "this server has no vault key (MANDATE_VAULT_KEY or --vault-key-file), so it "
                    "keeps no credentials");
        goto out;
    }
    if (admin_is(x, "GET")) {
        rc = connect_vault_info(v, name, &out, &e);
        if (rc == MD_ERR_NOTFOUND)
            admin_failf(x, rc, "no credential is set for connector \"%.64s\"", name);
        else if (rc)
            admin_fail(x, rc, &e);
        else
            admin_reply(x, 200, json_incref(out));
        goto out;
    }
    if (admin_is(x, "DELETE")) {
        rc = connect_vault_delete(v, name, &e);
        if (rc == MD_ERR_NOTFOUND)
            admin_failf(x, rc, "no credential is set for connector \"%.64s\"", name);
        else if (rc)
            admin_fail(x, rc, &e);
        else
            admin_reply(x, 204, NULL);
        goto out;
    }
    x->secret_body = true;
    if (admin_body_object(x, false, &body))
        goto out;
    rc = connect_auth_secret_validate_connector(conn, body, &e);
    if (rc == MD_OK)
        rc = connect_vault_set(v, name, body, x->req->actor, &out, &e);
    if (rc)
        admin_fail(x, rc, &e);
    else
        admin_reply(x, 200, json_incref(out));
out:
    if (body)
        json_object_clear(body); /* drop the secret's strings now */
    json_decref(body);
    json_decref(out);
    json_decref(conn);
}

void admin_route_connectors(struct admin_ctx *x)
{
    static const struct admin_resource r = {
        .list = list_connectors,
        .get = get_connector,
        .put = put_connector,
        .patch = patch_connector,
    };
    if (x->nseg == 3 && strcmp(x->seg[2], "credential") == 0) {
        route_credential(x, x->seg[1]);
        return;
    }
    admin_route_resource(x, &r);
}

/* ---- packs ---- */

/* Answers a pack just written or read, with its ETag (and Location when created). */
static void reply_pack(struct admin_ctx *x, int status, json_t *pack)
{
    const char *name = json_string_value(json_object_get(pack, "name"));
    admin_set_etag(x, pack);
    if (status == 201 && name)
        admin_set_location(x, "packs", name);
    admin_reply(x, status, pack);
}

static void pack_failed(struct admin_ctx *x, enum md_err rc, const struct md_error *e,
                        const char *name)
{
    if (rc == MD_ERR_NOTFOUND && name)
        admin_failf(x, rc, "no pack is named \"%.64s\"", name);
    else
        admin_fail(x, rc, e);
}

static void create_pack(struct admin_ctx *x)
{
    json_t *body = NULL, *out = NULL;
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    if (admin_body_object(x, false, &body))
        goto out;
    rc = access_pack_create(x->req->access, body, &out, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    reply_pack(x, 201, out);
    out = NULL;
out:
    json_decref(out);
    json_decref(body);
}

static void put_pack(struct admin_ctx *x, const char *name)
{
    json_t *body = NULL, *out = NULL;
    struct md_error e;
    int64_t version;
    enum md_err rc;

    md_error_clear(&e);
    if (admin_if_match(x, &version) || admin_body_object(x, false, &body) ||
        !name_matches_path(x, body, name))
        goto out;
    rc = access_pack_put(x->req->access, name, body, version, &out, &e);
    if (rc) {
        pack_failed(x, rc, &e, name);
        goto out;
    }
    reply_pack(x, 200, out);
    out = NULL;
out:
    json_decref(out);
    json_decref(body);
}

static void list_packs(struct admin_ctx *x)
{
    struct md_error e;
    json_t *v = NULL;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_pack_list(x->req->access, &v, &e);
    if (rc)
        admin_fail(x, rc, &e);
    else
        reply_list(x, v);
}

static void get_pack(struct admin_ctx *x, const char *name)
{
    struct md_error e;
    json_t *v = NULL;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_pack_get(x->req->access, name, &v, &e);
    if (rc)
        pack_failed(x, rc, &e, name);
    else
        reply_pack(x, 200, v);
}

static void delete_pack(struct admin_ctx *x, const char *name)
{
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    rc = access_pack_delete(x->req->access, name, &e);
    if (rc)
        pack_failed(x, rc, &e, name);
    else
        admin_reply(x, 204, NULL);
}

void admin_route_packs(struct admin_ctx *x)
{
    static const struct admin_resource r = {
        .list = list_packs,
        .create = create_pack,
        .get = get_pack,
        .put = put_pack,
        .del = delete_pack,
    };
    admin_route_resource(x, &r);
}
