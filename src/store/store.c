/*
 * The backend-neutral half of the store: the URL names a backend, a pool hands out its
 * connections, and every store.h call is checked here and dispatched through the backend's
 * vtable (store_int.h).
 */
#include "store/store_int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/time.h"

/* URL schemes, tried in order; anything else with "://" is refused, a plain path is SQLite. */
static const struct {
    const char *prefix;
    const struct store_backend_ops *ops;
} schemes[] = {
    {"postgres://", &store__pg_ops},
    {"postgresql://", &store__pg_ops},
    {"sqlite:", &store__sqlite_ops},
};

static bool id_ok(const char *id)
{
    return id && id[0] && strnlen(id, STORE_ID_MAX + 1) <= STORE_ID_MAX;
}

static bool kind_ok(enum store_kind k)
{
    return k == STORE_USERS || k == STORE_GROUPS;
}

/*
 * Splits url into a backend and the target it opens. "sqlite:PATH" and a plain PATH are SQLite;
 * "sqlite:///abs/path" is accepted too, as URL-minded users write it. The URL itself never goes
 * into a message, because a PostgreSQL URL may carry a password.
 */
static enum md_err parse_url(const char *url, const struct store_backend_ops **ops,
                             const char **target, struct md_error *e)
{
    size_t i;

    if (!url || !url[0])
        return md_error_set(e, MD_ERR_VALUE, "the database URL is empty");
    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) != 0)
            continue;
        *ops = schemes[i].ops;
        *target = url + n;
        if (strncmp(*target, "//", 2) == 0)
            *target += 2;
        goto check;
    }
    if (strstr(url, "://"))
        return md_error_set(e, MD_ERR_UNSUPPORTED,
                            "unknown database URL scheme; use sqlite:PATH or a plain file path");
    *ops = &store__sqlite_ops;
    *target = url;
check:
    if (!(*target)[0])
        return md_error_set(e, MD_ERR_VALUE, "the database URL names no file");
    /* Each pooled connection would get a database of its own. */
    if (strcmp(*target, ":memory:") == 0)
        return md_error_set(e, MD_ERR_VALUE,
                            "an in-memory SQLite database cannot be shared by a connection "
                            "pool; use a file");
    return MD_OK;
}

enum md_err store_open(const char *url, int pool_size, struct store **out, struct md_error *e)
{
    const struct store_backend_ops *ops = NULL;
    const char *target = NULL;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    pthread_condattr_t ca;
    enum md_err err;
    bool opened = false;

    *out = NULL;
    err = parse_url(url, &ops, &target, e);
    if (err)
        goto out;
    if (pool_size < 0 || pool_size > STORE_POOL_MAX) {
        err =
            md_error_set(e, MD_ERR_VALUE, "the pool size must be between 1 and %d", STORE_POOL_MAX);
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    s->ops = ops;
    s->pool_size = pool_size ? pool_size : STORE_POOL_DEFAULT;
    /* The pool waits on the monotonic clock, so that a wall-clock step cannot stall it. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->watch_mu, NULL);

    err = ops->open(s, target, e);
    if (err)
        goto out;
    opened = true;
    /* One connection up front, so that a database that cannot serve fails at start. */
    err = store_acquire(s, &c, e);
    if (err)
        goto out;
    store_release(c);
    *out = s;
    s = NULL;
out:
    if (s) {
        if (opened)
            store_close(s);
        else {
            pthread_cond_destroy(&s->cv);
            pthread_mutex_destroy(&s->mu);
            pthread_mutex_destroy(&s->watch_mu);
            free(s);
        }
    }
    return err;
}

void store_close(struct store *s)
{
    struct store_conn *c;

    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->n_idle != s->n_open)
        log_error("event=store_close_busy taken=%d msg=\"connections still taken at close\"",
                  s->n_open - s->n_idle);
    assert(s->n_idle == s->n_open);
    while ((c = s->idle) != NULL) {
        s->idle = c->next_idle;
        free(c->pending);
        s->ops->conn_close(c);
    }
    s->n_idle = 0;
    pthread_mutex_unlock(&s->mu);
    s->ops->close(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->watch_mu);
    free(s);
}

static void deadline_after_ms(struct timespec *ts, long ms)
{
    *ts = time_deadline(CLOCK_MONOTONIC, ms);
}

/*
 * Connections are opened lazily up to pool_size. A slot is reserved (n_open++) before the
 * open, which runs outside the lock, so that a slow open does not hold up other threads.
 */
enum md_err store_acquire(struct store *s, struct store_conn **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    struct timespec deadline;
    enum md_err err = MD_OK;
    int rc;

    *out = NULL;
    deadline_after_ms(&deadline, STORE_ACQUIRE_TIMEOUT_MS);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->idle) {
            c = s->idle;
            s->idle = c->next_idle;
            s->n_idle--;
            break;
        }
        if (s->n_open < s->pool_size) {
            s->n_open++;
            break;
        }
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &deadline);
        if (rc == ETIMEDOUT && !s->idle && s->n_open >= s->pool_size) {
            pthread_mutex_unlock(&s->mu);
            return md_error_set(e, MD_ERR_UNAVAILABLE,
                                "no database connection became free in time");
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (!c) {
        err = s->ops->conn_open(s, &c, e);
        if (err) {
            pthread_mutex_lock(&s->mu);
            s->n_open--;
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->mu);
            return err;
        }
        c->store = s;
    }
    c->next_idle = NULL;
    *out = c;
    return MD_OK;
}

/* A transaction left open would hold the database's write lock forever: roll it back. */
void store_release(struct store_conn *c)
{
    struct store *s;

    if (!c)
        return;
    s = c->store;
    if (s->ops->in_tx(c)) {
        log_warn("event=store_release_open_tx msg=\"transaction rolled back at release\"");
        s->ops->rollback(c);
    }
    store__feed_discard(c);
    pthread_mutex_lock(&s->mu);
    c->next_idle = s->idle;
    s->idle = c;
    s->n_idle++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

enum md_err store_begin(struct store_conn *c, struct md_error *e)
{
    return c->store->ops->begin(c, e);
}

/* The changes are announced inside the transaction, and told to this node once it commits. */
enum md_err store_commit(struct store_conn *c, struct md_error *e)
{
    enum md_err rc = store__feed_announce(c, e);
    if (rc == MD_OK)
        rc = c->store->ops->commit(c, e);
    if (rc == MD_OK)
        store__feed_committed(c);
    else
        store__feed_discard(c);
    return rc;
}

void store_rollback(struct store_conn *c)
{
    if (c) {
        c->store->ops->rollback(c);
        store__feed_discard(c);
    }
}

/*
 * A change runs in the caller's transaction, or in one of its own, so that it is announced
 * by a commit like every other. own tells auto_end which it was.
 */
static enum md_err auto_begin(struct store_conn *c, bool *own, struct md_error *e)
{
    *own = !c->store->ops->in_tx(c);
    return *own ? store_begin(c, e) : MD_OK;
}

static enum md_err auto_end(struct store_conn *c, bool own, enum md_err rc, struct md_error *e)
{
    if (!own)
        return rc;
    if (rc == MD_OK)
        return store_commit(c, e);
    store_rollback(c);
    return rc;
}

static enum store_change_kind change_kind(enum store_kind k)
{
    return k == STORE_USERS ? STORE_CHANGE_USER : STORE_CHANGE_GROUP;
}

/* What a membership change means for the member: its set of groups changed. */
static void record_member_side(struct store_conn *c, enum store_member_type type, const char *id)
{
    store__feed_record(c, type == STORE_MEMBER_GROUP ? STORE_CHANGE_NESTING : STORE_CHANGE_USER,
                       id);
}

static int record_member_cb(void *ctx, const struct store_member *m)
{
    record_member_side(ctx, m->type, m->id);
    return 0;
}

/* Records a member-side change for every member of group_id (before they are removed). */
static enum md_err record_all_members(struct store_conn *c, const char *group_id,
                                      struct md_error *e)
{
    return c->store->ops->member_list(c, group_id, record_member_cb, c, e);
}

void store_row_free(struct store_row *r)
{
    if (!r)
        return;
    free(r->doc);
    free(r->user_name);
    free(r->display_name);
    free(r->external_id);
    r->doc = r->user_name = r->display_name = r->external_id = NULL;
}

void store_rows_free(struct store_rows *rs)
{
    size_t i;

    if (!rs)
        return;
    for (i = 0; i < rs->n; i++)
        store_row_free(&rs->rows[i]);
    free(rs->rows);
    rs->rows = NULL;
    rs->n = 0;
    rs->total = 0;
}

/* ---- resources ---- */

static enum md_err bad_kind(struct md_error *e)
{
    return md_error_set(e, MD_ERR_INTERNAL, "unknown resource kind");
}

static enum md_err bad_id(struct md_error *e)
{
    return md_error_set(e, MD_ERR_VALUE, "an id must have 1 to %d bytes", STORE_ID_MAX);
}

static enum md_err not_found(enum store_kind k, struct md_error *e)
{
    return md_error_set(e, MD_ERR_NOTFOUND, "%s not found", k == STORE_USERS ? "User" : "Group");
}

enum md_err store_res_insert(struct store_conn *c, enum store_kind k, const struct store_row *r,
                             struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!kind_ok(k))
        return bad_kind(e);
    if (!id_ok(r->id))
        return bad_id(e);
    if (k == STORE_USERS && (!r->user_name || !r->user_name[0]))
        return md_error_set(e, MD_ERR_VALUE, "a User needs a userName");
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->res_insert(c, k, r, e);
    if (rc == MD_OK)
        store__feed_record(c, change_kind(k), r->id);
    return auto_end(c, own, rc, e);
}

enum md_err store_res_update(struct store_conn *c, enum store_kind k, const struct store_row *r,
                             int64_t expect_version, int64_t *new_version, struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!kind_ok(k))
        return bad_kind(e);
    if (!id_ok(r->id))
        return not_found(k, e);
    if (k == STORE_USERS && (!r->user_name || !r->user_name[0]))
        return md_error_set(e, MD_ERR_VALUE, "a User needs a userName");
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->res_update(c, k, r, expect_version, new_version, e);
    if (rc == MD_OK)
        store__feed_record(c, change_kind(k), r->id);
    return auto_end(c, own, rc, e);
}

enum md_err store_res_touch(struct store_conn *c, enum store_kind k, const char *id,
                            int64_t modified_ms, int64_t *new_version, struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!kind_ok(k))
        return bad_kind(e);
    if (!id_ok(id))
        return not_found(k, e);
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->res_touch(c, k, id, modified_ms, new_version, e);
    if (rc == MD_OK)
        store__feed_record(c, change_kind(k), id);
    return auto_end(c, own, rc, e);
}

enum md_err store_res_delete(struct store_conn *c, enum store_kind k, const char *id,
                             struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!kind_ok(k))
        return bad_kind(e);
    if (!id_ok(id))
        return not_found(k, e);
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = k == STORE_GROUPS ? record_all_members(c, id, e) : MD_OK;
    if (rc == MD_OK)
        rc = c->store->ops->res_delete(c, k, id, e);
    if (rc == MD_OK)
        store__feed_record(c, change_kind(k), id);
    return auto_end(c, own, rc, e);
}

enum md_err store_res_get(struct store_conn *c, enum store_kind k, const char *id,
                          struct store_row *out, struct md_error *e)
{
    memset(out, 0, sizeof *out);
    if (!kind_ok(k))
        return bad_kind(e);
    if (!id_ok(id))
        return not_found(k, e);
    return c->store->ops->res_get(c, k, id, out, e);
}

enum md_err store_res_exists(struct store_conn *c, enum store_kind k, const char *id, bool *exists,
                             struct md_error *e)
{
    *exists = false;
    if (!kind_ok(k))
        return bad_kind(e);
    if (!id_ok(id))
        return MD_OK;
    return c->store->ops->res_exists(c, k, id, exists, e);
}

enum md_err store_res_query(struct store_conn *c, enum store_kind k, const struct store_query *q,
                            struct store_rows *out, struct md_error *e)
{
    memset(out, 0, sizeof *out);
    if (!kind_ok(k))
        return bad_kind(e);
    return c->store->ops->res_query(c, k, q, out, e);
}

/* ---- membership ---- */

enum md_err store_member_add(struct store_conn *c, const char *group_id, const char *member_id,
                             enum store_member_type type, const char *display, bool *added,
                             struct md_error *e)
{
    bool own;
    enum md_err rc;

    *added = false;
    if (!id_ok(group_id) || !id_ok(member_id))
        return bad_id(e);
    if (type != STORE_MEMBER_USER && type != STORE_MEMBER_GROUP)
        return md_error_set(e, MD_ERR_VALUE, "unknown member type");
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->member_add(c, group_id, member_id, type, display, added, e);
    if (rc == MD_OK && *added) {
        store__feed_record(c, STORE_CHANGE_MEMBERS, group_id);
        record_member_side(c, type, member_id);
    }
    return auto_end(c, own, rc, e);
}

enum md_err store_member_remove(struct store_conn *c, const char *group_id, const char *member_id,
                                bool *removed, struct md_error *e)
{
    enum store_member_type type = STORE_MEMBER_USER;
    bool own;
    enum md_err rc;

    *removed = false;
    if (!id_ok(group_id) || !id_ok(member_id))
        return MD_OK;
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->member_remove(c, group_id, member_id, removed, &type, e);
    if (rc == MD_OK && *removed) {
        store__feed_record(c, STORE_CHANGE_MEMBERS, group_id);
        record_member_side(c, type, member_id);
    }
    return auto_end(c, own, rc, e);
}

enum md_err store_member_clear(struct store_conn *c, const char *group_id, struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!id_ok(group_id))
        return MD_OK;
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = record_all_members(c, group_id, e);
    if (rc == MD_OK)
        rc = c->store->ops->member_clear(c, group_id, e);
    if (rc == MD_OK)
        store__feed_record(c, STORE_CHANGE_MEMBERS, group_id);
    return auto_end(c, own, rc, e);
}

enum md_err store_member_has(struct store_conn *c, const char *group_id, const char *member_id,
                             bool *has, struct md_error *e)
{
    *has = false;
    if (!id_ok(group_id) || !id_ok(member_id))
        return MD_OK;
    return c->store->ops->member_has(c, group_id, member_id, has, e);
}

enum md_err store_member_list(struct store_conn *c, const char *group_id, store_member_fn fn,
                              void *ctx, struct md_error *e)
{
    if (!id_ok(group_id))
        return MD_OK;
    return c->store->ops->member_list(c, group_id, fn, ctx, e);
}

enum md_err store_member_groups(struct store_conn *c, const char *member_id, store_group_fn fn,
                                void *ctx, struct md_error *e)
{
    if (!id_ok(member_id))
        return MD_OK;
    return c->store->ops->member_groups(c, member_id, fn, ctx, e);
}

/* ---- tokens ---- */

enum md_err store_token_insert(struct store_conn *c, const struct store_token *t,
                               struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!id_ok(t->id) || !t->kind[0] || !t->hash[0])
        return md_error_set(e, MD_ERR_VALUE, "a token needs an id, a kind and a hash");
    if (strnlen(t->kind, sizeof t->kind) == sizeof t->kind ||
        strnlen(t->name, sizeof t->name) == sizeof t->name ||
        strnlen(t->hash, sizeof t->hash) == sizeof t->hash ||
        strnlen(t->user_id, sizeof t->user_id) == sizeof t->user_id ||
        strnlen(t->pack, sizeof t->pack) == sizeof t->pack)
        return md_error_set(e, MD_ERR_VALUE, "a token field is not terminated");
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->token_insert(c, t, e);
    if (rc == MD_OK)
        store__feed_record(c, STORE_CHANGE_TOKEN, t->id);
    return auto_end(c, own, rc, e);
}

enum md_err store_token_find(struct store_conn *c, const char *hash, struct store_token *out,
                             struct md_error *e)
{
    memset(out, 0, sizeof *out);
    if (!hash || !hash[0] || strnlen(hash, sizeof out->hash) >= sizeof out->hash)
        return md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    return c->store->ops->token_find(c, hash, out, e);
}

enum md_err store_token_list(struct store_conn *c, store_token_fn fn, void *ctx, struct md_error *e)
{
    return c->store->ops->token_list(c, fn, ctx, e);
}

enum md_err store_token_revoke(struct store_conn *c, const char *id, struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!id_ok(id))
        return md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->token_revoke(c, id, e);
    if (rc == MD_OK)
        store__feed_record(c, STORE_CHANGE_TOKEN, id);
    return auto_end(c, own, rc, e);
}

enum md_err store_token_touch(struct store_conn *c, const char *id, int64_t when_ms,
                              struct md_error *e)
{
    if (!id_ok(id))
        return md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    return c->store->ops->token_touch(c, id, when_ms, e);
}

enum md_err store_token_count(struct store_conn *c, const char *kind, int64_t *n,
                              struct md_error *e)
{
    *n = 0;
    if (!kind)
        return md_error_set(e, MD_ERR_VALUE, "a token kind is needed");
    return c->store->ops->token_count(c, kind, n, e);
}

/* ---- access objects ---- */

static const char *const obj_tables[STORE_OBJ__COUNT] = {
    [STORE_OBJ_CONNECTOR] = "connectors",
    [STORE_OBJ_OVERRIDE] = "connector_overrides",
    [STORE_OBJ_PACK] = "packs",
    [STORE_OBJ_GRANT] = "grants",
    [STORE_OBJ_CREDENTIAL] = "credentials",
};

const char *store_obj_kind_name(enum store_obj_kind k)
{
    return (unsigned)k < STORE_OBJ__COUNT ? obj_tables[k] : "unknown";
}

static bool obj_kind_ok(enum store_obj_kind k)
{
    return (unsigned)k < STORE_OBJ__COUNT;
}

static void record_obj(struct store_conn *c, enum store_obj_kind k, const char *id)
{
    char name[96];
    snprintf(name, sizeof name, "%s/%s", obj_tables[k], id);
    store__feed_record(c, STORE_CHANGE_OBJECT, name);
}

void store_obj_free(struct store_obj *o)
{
    if (o) {
        free(o->doc);
        o->doc = NULL;
    }
}

enum md_err store_obj_put(struct store_conn *c, enum store_obj_kind k, const char *id,
                          const char *doc, int64_t expect_version, int64_t *new_version,
                          struct md_error *e)
{
    int64_t v = 0;
    bool own;
    enum md_err rc;

    if (new_version)
        *new_version = 0;
    if (!obj_kind_ok(k))
        return bad_kind(e);
    if (!id_ok(id))
        return bad_id(e);
    if (!doc || !doc[0])
        return md_error_set(e, MD_ERR_VALUE, "a document is needed");
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->obj_put(c, k, id, doc, expect_version, &v, e);
    if (rc == MD_OK) {
        record_obj(c, k, id);
        if (new_version)
            *new_version = v;
    }
    return auto_end(c, own, rc, e);
}

enum md_err store_obj_copy(struct store_conn *c, enum store_obj_kind k, const struct store_obj *o,
                           struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!obj_kind_ok(k))
        return bad_kind(e);
    if (!id_ok(o->id))
        return bad_id(e);
    if (!o->doc || !o->doc[0])
        return md_error_set(e, MD_ERR_VALUE, "a document is needed");
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->obj_copy(c, k, o, e);
    if (rc == MD_OK)
        record_obj(c, k, o->id);
    return auto_end(c, own, rc, e);
}

enum md_err store_obj_get(struct store_conn *c, enum store_obj_kind k, const char *id,
                          struct store_obj *out, struct md_error *e)
{
    memset(out, 0, sizeof *out);
    if (!obj_kind_ok(k))
        return bad_kind(e);
    if (!id_ok(id))
        return md_error_set(e, MD_ERR_NOTFOUND, "not found in %s", obj_tables[k]);
    return c->store->ops->obj_get(c, k, id, out, e);
}

enum md_err store_obj_delete(struct store_conn *c, enum store_obj_kind k, const char *id,
                             struct md_error *e)
{
    bool own;
    enum md_err rc;

    if (!obj_kind_ok(k))
        return bad_kind(e);
    if (!id_ok(id))
        return md_error_set(e, MD_ERR_NOTFOUND, "not found in %s", obj_tables[k]);
    if ((rc = auto_begin(c, &own, e)))
        return rc;
    rc = c->store->ops->obj_delete(c, k, id, e);
    if (rc == MD_OK)
        record_obj(c, k, id);
    return auto_end(c, own, rc, e);
}

enum md_err store_obj_list(struct store_conn *c, enum store_obj_kind k, store_obj_fn fn, void *ctx,
                           struct md_error *e)
{
    if (!obj_kind_ok(k))
        return bad_kind(e);
    return c->store->ops->obj_list(c, k, fn, ctx, e);
}

enum md_err store__explain(struct store_conn *c, enum store_kind k, const struct store_query *q,
                           const char *name, char **plan, struct md_error *e)
{
    *plan = NULL;
    if (!kind_ok(k))
        return bad_kind(e);
    if (!c->store->ops->explain)
        return md_error_set(e, MD_ERR_UNSUPPORTED, "this backend has no query plans");
    return c->store->ops->explain(c, k, q, name, plan, e);
}

/* ---- audit events ---- */

void store_audit_row_free(struct store_audit_row *r)
{
    if (!r)
        return;
    free(r->doc);
    r->doc = NULL;
}

enum md_err store_audit_tail(struct store_conn *c, int64_t *seq, char hash[STORE_AUDIT_HASH_MAX],
                             struct md_error *e)
{
    *seq = 0;
    hash[0] = '\0';
    if (!c->store->ops->in_tx(c))
        return md_error_set(e, MD_ERR_INTERNAL, "store_audit_tail needs a transaction");
    return c->store->ops->audit->tail(c, seq, hash, e);
}

enum md_err store_audit_insert(struct store_conn *c, const struct store_audit_row *r,
                               struct md_error *e)
{
    if (!r->doc || r->seq < 1 || !r->event_id[0] || !r->hash[0])
        return md_error_set(e, MD_ERR_INTERNAL, "an audit row needs seq, event_id, hash and doc");
    return c->store->ops->audit->insert(c, r, e);
}

enum md_err store_audit_get(struct store_conn *c, int64_t seq, struct store_audit_row *out,
                            struct md_error *e)
{
    memset(out, 0, sizeof *out);
    if (seq < 1)
        return md_error_set(e, MD_ERR_NOTFOUND, "no audit event %lld", (long long)seq);
    return c->store->ops->audit->get(c, seq, out, e);
}

enum md_err store_audit_scan(struct store_conn *c, const struct store_audit_range *q,
                             store_audit_fn fn, void *ctx, struct md_error *e)
{
    static const struct store_audit_range all = {0};
    return c->store->ops->audit->scan(c, q ? q : &all, fn, ctx, e);
}

enum md_err store_audit_has_event(struct store_conn *c, const char *event_id, bool *has,
                                  struct md_error *e)
{
    *has = false;
    if (!event_id || !event_id[0])
        return MD_OK;
    return c->store->ops->audit->has_event(c, event_id, has, e);
}

enum md_err store_audit_prune(struct store_conn *c, int64_t below, int64_t *deleted,
                              struct md_error *e)
{
    int64_t n = 0;
    enum md_err rc = below > 1 ? c->store->ops->audit->prune(c, below, &n, e) : MD_OK;
    if (deleted)
        *deleted = n;
    return rc;
}

enum md_err store_audit_cursor_get(struct store_conn *c, const char *name, int64_t *seq,
                                   struct md_error *e)
{
    *seq = 0;
    if (!name || !name[0])
        return md_error_set(e, MD_ERR_VALUE, "a cursor needs a name");
    return c->store->ops->audit->cursor_get(c, name, seq, e);
}

enum md_err store_audit_cursor_set(struct store_conn *c, const char *name, int64_t seq,
                                   struct md_error *e)
{
    if (!name || !name[0])
        return md_error_set(e, MD_ERR_VALUE, "a cursor needs a name");
    return c->store->ops->audit->cursor_set(c, name, seq, e);
}
