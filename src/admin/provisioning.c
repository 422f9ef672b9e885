/*
 * GET /provisioning: what the console's Provisioning page shows an admin who connects an
 * identity provider: where to point it (the SCIM base URL), its tokens with when each was
 * last used, how many users and groups it has pushed, and the last SCIM exchanges this node
 * answered, errors apart, so that "Test" in Okta or Entra can be checked from here.
 */
#include <string.h>

#include "admin/admin_int.h"
#include "core/time.h"

struct scim_tokens {
    json_t *items;
    int64_t last_used_ms;
    bool nomem;
};

static int add_scim_token(void *ctx, const struct store_token *t)
{
    struct scim_tokens *st = ctx;
    if (strcmp(t->kind, ADMIN_TOKEN_KIND_SCIM) != 0)
        return 0;
    if (json_array_append_new(st->items, admin_token_json(t)))
        st->nomem = true;
    if (!t->revoked && t->last_used_ms > st->last_used_ms)
        st->last_used_ms = t->last_used_ms;
    return st->nomem;
}

/* The number of users or groups. */
static enum md_err count_rows(struct store_conn *c, enum store_kind k, int64_t *n,
                              struct md_error *e)
{
    struct store_query q;
    struct store_rows rows = {0};
    enum md_err rc;

    memset(&q, 0, sizeof q);
    q.start_index = 1;
    q.count = 0;
    rc = store_res_query(c, k, &q, &rows, e);
    *n = rows.total;
    store_rows_free(&rows);
    return rc;
}

/* The SCIM base URL beside the API's: base_url ends in "/api/v1". */
static json_t *scim_base(const char *api_base)
{
    size_t n = strlen(api_base);
    char url[600];
    if (n >= 7 && strcmp(api_base + n - 7, "/api/v1") == 0)
        n -= 7;
    if (n + sizeof "/scim/v2" > sizeof url)
        return json_null();
    memcpy(url, api_base, n);
    memcpy(url + n, "/scim/v2", sizeof "/scim/v2");
    return json_string(url);
}

void admin_route_provisioning(struct admin_ctx *x)
{
    struct scim_tokens st = {0};
    struct store_conn *c = NULL;
    struct md_error e;
    int64_t users = 0, groups = 0;
    char last[TIME_RFC3339_LEN];
    json_t *activity = NULL, *out = NULL;
    enum md_err rc;

    md_error_clear(&e);
    if (x->nseg != 1) {
        admin_failf(x, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    if (!admin_method_ok(x, "GET"))
        return;
    st.items = json_array();
    if (!st.items) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        return;
    }
    rc = store_acquire(x->req->store, &c, &e);
    if (rc == MD_OK)
        rc = store_token_list(c, add_scim_token, &st, &e);
    if (rc == MD_OK && st.nomem)
        rc = md_error_set(&e, MD_ERR_NOMEM, "out of memory");
    if (rc == MD_OK)
        rc = count_rows(c, STORE_USERS, &users, &e);
    if (rc == MD_OK)
        rc = count_rows(c, STORE_GROUPS, &groups, &e);
    if (c)
        store_release(c);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    if (x->req->scim_activity)
        activity = x->req->scim_activity(x->req->scim_activity_cls);
    if (st.last_used_ms)
        time_format_ms(st.last_used_ms, last);
    out = json_pack("{s:o, s:O, s:I, s:I, s:o, s:o}", "scim_base_url", scim_base(x->req->base_url),
                    "tokens", st.items, "users", (json_int_t)users, "groups", (json_int_t)groups,
                    "last_used", st.last_used_ms ? json_string(last) : json_null(), "activity",
                    activity ? activity : json_null());
    activity = NULL;
    if (!out) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    admin_reply(x, 200, out);
out:
    json_decref(activity);
    json_decref(st.items);
}
