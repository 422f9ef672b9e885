/*
 * /tokens: the bearer tokens of SCIM clients, admins and agents. A token's value is shown once,
 * in the answer to its creation; listings show what it is, never its value or its hash.
 */
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "admin/admin_int.h"
#include "core/time.h"

/* A token as the API shows it (admin_int.h). */
json_t *admin_token_json(const struct store_token *t)
{
    char created[TIME_RFC3339_LEN], used[TIME_RFC3339_LEN];
    json_t *o;

    time_format_ms(t->created_ms, created);
    if (t->last_used_ms)
        time_format_ms(t->last_used_ms, used);
    o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b}", "id", t->id, "kind", t->kind, "name", t->name,
                  "created", created, "last_used",
                  t->last_used_ms ? json_string(used) : json_null(), "revoked", t->revoked);
    if (o && t->user_id[0])
        json_object_set_new(o, "user_id", json_string(t->user_id));
    if (o && t->pack[0])
        json_object_set_new(o, "pack", json_string(t->pack));
    return o;
}

struct walk {
    const char *want; /* NULL: every token into items */
    json_t *items;
    bool found;
    struct store_token tok;
    bool nomem;
};

static int walk_token(void *ctx, const struct store_token *t)
{
    struct walk *w = ctx;
    if (w->want) {
        if (strcmp(t->id, w->want) != 0)
            return 0;
        w->tok = *t;
        w->found = true;
        return 1;
    }
    if (json_array_append_new(w->items, admin_token_json(t)))
        w->nomem = true;
    return w->nomem;
}

/* Walks the tokens table once with w. */
static enum md_err walk_tokens(struct admin_ctx *x, struct walk *w, struct md_error *e)
{
    struct store_conn *c = NULL;
    enum md_err rc = store_acquire(x->req->store, &c, e);
    if (rc)
        return rc;
    rc = store_token_list(c, walk_token, w, e);
    store_release(c);
    if (rc == MD_OK && w->nomem)
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    return rc;
}

static void list_tokens(struct admin_ctx *x)
{
    struct walk w;
    struct md_error e;
    enum md_err rc;

    memset(&w, 0, sizeof w);
    md_error_clear(&e);
    w.items = json_array();
    if (!w.items) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        return;
    }
    rc = walk_tokens(x, &w, &e);
    if (rc) {
        json_decref(w.items);
        admin_fail(x, rc, &e);
        return;
    }
    admin_reply_items(x, w.items);
}

/* Finds the token with this id into w->tok; answers 404 (or the failure) and returns false. */
static bool find_token(struct admin_ctx *x, const char *id, struct walk *w)
{
    struct md_error e;
    enum md_err rc;
    memset(w, 0, sizeof *w);
    md_error_clear(&e);
    w->want = id;
    rc = walk_tokens(x, w, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        return false;
    }
    if (!w->found) {
        admin_failf(x, MD_ERR_NOTFOUND, "no token has the id \"%.64s\"", id);
        return false;
    }
    return true;
}

/* The string member name of body, or NULL when absent; false (400 answered) when not a string. */
static bool opt_string(struct admin_ctx *x, json_t *body, const char *name, const char **out)
{
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v)
        return true;
    if (!json_is_string(v)) {
        admin_failf(x, MD_ERR_VALUE, "\"%s\" must be a string", name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static const char *const create_members[] = {"kind", "name", "user", "pack", NULL};

/*
 * Checks a creation request and resolves an agent's user and pack: kind is one of the three,
 * the name fits, and only agent tokens name a user (required) and a pack (optional, existing).
 */
static bool check_create(struct admin_ctx *x, json_t *body, const char **kind, const char **name,
                         char user_id[64], const char **pack)
{
    const char *user;
    struct md_error e;
    enum md_err rc;
    json_t *p = NULL;
    bool agent;

    md_error_clear(&e);
    if (admin_only_members(x, body, create_members) || !opt_string(x, body, "kind", kind) ||
        !opt_string(x, body, "name", name) || !opt_string(x, body, "user", &user) ||
        !opt_string(x, body, "pack", pack))
        return false;
    if (!*kind) {
        admin_failf(x, MD_ERR_VALUE, "\"kind\" is required: scim, admin or agent");
        return false;
    }
    if (strcmp(*kind, ADMIN_TOKEN_KIND_SCIM) != 0 && strcmp(*kind, ADMIN_TOKEN_KIND_ADMIN) != 0 &&
        strcmp(*kind, ADMIN_TOKEN_KIND_AGENT) != 0) {
        admin_failf(x, MD_ERR_VALUE, "\"kind\" must be scim, admin or agent, not \"%.32s\"", *kind);
        return false;
    }
    if (*name && strlen(*name) >= sizeof((struct store_token *)0)->name) {
        admin_failf(x, MD_ERR_VALUE, "\"name\" is longer than %zu bytes",
                    sizeof((struct store_token *)0)->name - 1);
        return false;
    }
    agent = strcmp(*kind, ADMIN_TOKEN_KIND_AGENT) == 0;
    if (!agent && (user || *pack)) {
        admin_failf(x, MD_ERR_VALUE, "\"%s\" is only for agent tokens", user ? "user" : "pack");
        return false;
    }
    user_id[0] = '\0';
    if (!agent)
        return true;
    if (!user || !*user) {
        admin_failf(x, MD_ERR_VALUE,
                    "an agent token needs \"user\": the SCIM id or userName of "
                    "the employee it acts for");
        return false;
    }
    rc = access_user_resolve(x->req->access, user, user_id, &e);
    if (rc == MD_ERR_NOTFOUND) {
        admin_failf(x, MD_ERR_VALUE, "\"user\": no user has the id or userName \"%.64s\"", user);
        return false;
    }
    if (rc) {
        admin_fail(x, rc, &e);
        return false;
    }
    if (*pack && **pack) {
        rc = access_pack_get(x->req->access, *pack, &p, &e);
        json_decref(p);
        if (rc == MD_ERR_NOTFOUND) {
            admin_failf(x, MD_ERR_VALUE, "\"pack\": no pack is named \"%.64s\"", *pack);
            return false;
        }
        if (rc) {
            admin_fail(x, rc, &e);
            return false;
        }
    }
    return true;
}

static void create_token(struct admin_ctx *x)
{
    const char *kind = NULL, *name = NULL, *pack = NULL;
    char user_id[64], id[64];
    char *plain = NULL;
    json_t *body = NULL, *out = NULL;
    struct md_error e;
    struct walk w;
    enum md_err rc;

    md_error_clear(&e);
    if (admin_body_object(x, false, &body))
        goto out;
    if (!check_create(x, body, &kind, &name, user_id, &pack))
        goto out;
    if (!x->req->token_create) {
        admin_failf(x, MD_ERR_UNSUPPORTED, "tokens cannot be created here");
        goto out;
    }
    rc = x->req->token_create(x->req->store, kind, name ? name : "", user_id, pack ? pack : "",
                              &plain, id, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    if (!find_token(x, id, &w))
        goto out;
    out = admin_token_json(&w.tok);
    if (!out || json_object_set_new(out, "token", json_string(plain))) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    admin_set_location(x, "tokens", id);
    admin_reply(x, 201, out);
    out = NULL;
out:
    if (plain) {
        /* The only copy of the secret besides the answer: do not leave it in freed memory. */
        memset(plain, 0, strlen(plain));
        free(plain);
    }
    json_decref(out);
    json_decref(body);
}

static void revoke_token(struct admin_ctx *x, const char *id)
{
    struct store_conn *c = NULL;
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    rc = store_acquire(x->req->store, &c, &e);
    if (rc)
        goto out;
    rc = store_begin(c, &e);
    if (rc == MD_OK)
        rc = store_token_revoke(c, id, &e);
    if (rc == MD_OK)
        rc = store_commit(c, &e);
    if (rc)
        store_rollback(c);
out:
    if (c)
        store_release(c);
    if (rc == MD_ERR_NOTFOUND)
        admin_failf(x, rc, "no token has the id \"%.64s\"", id);
    else if (rc)
        admin_fail(x, rc, &e);
    else
        admin_reply(x, 204, NULL);
}

static void get_token(struct admin_ctx *x, const char *id)
{
    struct walk w;

    if (find_token(x, id, &w))
        admin_reply(x, 200, admin_token_json(&w.tok));
}

void admin_route_tokens(struct admin_ctx *x)
{
    static const struct admin_resource r = {
        .list = list_tokens,
        .create = create_token,
        .get = get_token,
        .del = revoke_token,
    };
    admin_route_resource(x, &r);
}
