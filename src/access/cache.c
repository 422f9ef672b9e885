/*
 * The access service and its caches: the policy snapshot and one entry per user, both kept
 * current by the store's change feed (store_watch).
 *
 * Invalidation, by change kind:
 *  - USER (a user written or deleted, or its direct groups changed): that user's entry goes.
 *  - NESTING (a group's own groups changed) or ALL: every entry is stale (dir_gen moves on),
 *    since any user below that group may have gained or lost groups.
 *  - OBJECT (a connector, override, pack or grant): the policy is stale (policy_gen moves on);
 *    entries keep their groups and recompute their entitlement against the new policy without
 *    reading the store.
 *  - GROUP (a group written, touched or deleted): its name leaves the name cache, so that
 *    explanations name it anew; entries stay (a membership change arrives as USER or NESTING).
 *  - MEMBERS, TOKEN: nothing here.
 * The feed calls us on the committing thread before its request is answered, so the next
 * decision on this node sees the change.
 *
 * A reader that misses reads the store and then publishes its entry only when no invalidation
 * touched that user (or everyone) while it read: the shard's counter and dir_gen are compared
 * before and after. Otherwise it uses what it read for this one decision (a read concurrent
 * with a write may see either side of it) and publishes nothing.
 */
#include "access/access_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"

#define SHARD_BITS 6
#define SHARDS (1 << SHARD_BITS)

struct shard {
    pthread_mutex_t mu;
    struct hmap users; /* id -> struct uentry * */
    uint64_t inval;    /* bumped whenever an entry of this shard is dropped */
};

struct access {
    struct store *store;
    struct shard shards[SHARDS];
    atomic_uint_fast64_t dir_gen;
    atomic_uint_fast64_t policy_gen;

    pthread_rwlock_t policy_mu; /* guards policy; written while one is rebuilt */
    struct policy *policy;

    /* Group ids, interned: id -> the one heap copy that entries point to (until close). */
    pthread_mutex_t greg_mu;
    struct hmap greg;

    /* Group id -> displayName (heap) for explanations; names_gen counts group changes. */
    pthread_rwlock_t names_mu;
    struct hmap names;
    uint64_t names_gen;

    atomic_uint_fast64_t n_decisions, n_hits, n_misses, n_builds, n_inval, n_flush;
    atomic_bool upstream_http; /* overrides may name plain http:// token endpoints */
};

struct store *access_store(const struct access *a)
{
    return a->store;
}

void access_set_upstream_http(struct access *a, bool allow)
{
    atomic_store(&a->upstream_http, allow);
}

bool access__upstream_http(struct access *a)
{
    return atomic_load(&a->upstream_http);
}

/* The shard takes the hash's top bits: each shard's map buckets on its low bits. */
static struct shard *shard_of(struct access *a, const char *id)
{
    return &a->shards[hmap_hash(id) >> (64 - SHARD_BITS)];
}

/* ---- entries ---- */

static void uentry_free(struct uentry *u)
{
    free(u->groups);
    free(u->user_name);
    free(u->email);
    free(u);
}

/*
 * The value of the emails[] entry marked primary (RFC 7643 section 4.1.2: at most one is), as a
 * heap string; NULL when none is, or the resource does not parse. *oom is set when memory ran out.
 */
static char *primary_email(const char *doc, bool *oom)
{
    json_t *res = NULL, *emails, *em;
    struct md_error pe;
    char *out = NULL;
    size_t i;

    if (!doc || json_parse_limited(doc, strlen(doc), 1024 * 1024, 32, &res, &pe) != MD_OK)
        return NULL;
    emails = json_object_get(res, "emails");
    json_array_foreach(emails, i, em)
    {
        const char *v = json_string_value(json_object_get(em, "value"));
        if (v && v[0] && json_is_true(json_object_get(em, "primary"))) {
            out = strdup(v);
            *oom = !out;
            break;
        }
    }
    json_decref(res);
    return out;
}

void uentry_unref(struct uentry *u)
{
    if (u && atomic_fetch_sub(&u->refs, 1) == 1)
        uentry_free(u);
}

static void drop_user(struct access *a, const char *id)
{
    struct shard *sh = shard_of(a, id);
    struct uentry *u;

    pthread_mutex_lock(&sh->mu);
    sh->inval++;
    u = hmap_del(&sh->users, id);
    pthread_mutex_unlock(&sh->mu);
    if (u) {
        atomic_fetch_add(&a->n_inval, 1);
        uentry_unref(u);
    }
}

static void forget_name(struct access *a, const char *id)
{
    pthread_rwlock_wrlock(&a->names_mu);
    a->names_gen++;
    free(id ? hmap_del(&a->names, id) : NULL);
    pthread_rwlock_unlock(&a->names_mu);
}

static void free_name(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    free(value);
}

static void forget_all_names(struct access *a)
{
    pthread_rwlock_wrlock(&a->names_mu);
    a->names_gen++;
    hmap_each(&a->names, free_name, NULL);
    hmap_free(&a->names);
    pthread_rwlock_unlock(&a->names_mu);
}

void access__group_name(struct access *a, const char *id, const char *fallback, char *out, size_t n)
{
    struct store_conn *c = NULL;
    struct store_row row;
    struct md_error e;
    const char *v;
    uint64_t gen;
    bool found = false;

    pthread_rwlock_rdlock(&a->names_mu);
    v = hmap_get(&a->names, id);
    if (v)
        snprintf(out, n, "%s", v);
    gen = a->names_gen;
    pthread_rwlock_unlock(&a->names_mu);
    if (v)
        return;
    /* Once per group and change: read its current name. */
    memset(&row, 0, sizeof row);
    md_error_clear(&e);
    if (store_acquire(a->store, &c, &e) == MD_OK) {
        found = store_res_get(c, STORE_GROUPS, id, &row, &e) == MD_OK;
        store_release(c);
    }
    snprintf(out, n, "%s", found && row.display_name ? row.display_name : fallback);
    if (found) {
        char *copy = strdup(out);
        void *old = NULL;
        pthread_rwlock_wrlock(&a->names_mu);
        /* Cached only when no group changed meanwhile: it might be this one. */
        if (copy && a->names_gen == gen && hmap_put(&a->names, id, copy, &old) == MD_OK)
            copy = NULL;
        pthread_rwlock_unlock(&a->names_mu);
        free(old);
        free(copy);
    }
    store_row_free(&row);
}

static void on_change(void *ctx, const struct store_change *ch)
{
    struct access *a = ctx;

    switch (ch->kind) {
    case STORE_CHANGE_GROUP:
        forget_name(a, ch->id);
        break;
    case STORE_CHANGE_USER:
        drop_user(a, ch->id);
        break;
    case STORE_CHANGE_NESTING:
        atomic_fetch_add(&a->dir_gen, 1);
        atomic_fetch_add(&a->n_flush, 1);
        break;
    case STORE_CHANGE_OBJECT:
        /* Credentials (connect/) are not part of the policy. */
        if (strncmp(ch->id, "credentials/", 12) != 0)
            atomic_fetch_add(&a->policy_gen, 1);
        break;
    case STORE_CHANGE_ALL:
        atomic_fetch_add(&a->dir_gen, 1);
        atomic_fetch_add(&a->policy_gen, 1);
        atomic_fetch_add(&a->n_flush, 1);
        forget_all_names(a);
        break;
    default:
        break;
    }
}

enum md_err access_open(struct store *s, struct access **out, struct md_error *e)
{
    struct access *a = calloc(1, sizeof *a);
    enum md_err err;

    *out = NULL;
    if (!a)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    a->store = s;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&a->shards[i].mu, NULL);
    pthread_rwlock_init(&a->policy_mu, NULL);
    pthread_rwlock_init(&a->names_mu, NULL);
    pthread_mutex_init(&a->greg_mu, NULL);
    /* Generation 0 is never current, so that the first use reads the store. */
    atomic_init(&a->dir_gen, 1);
    atomic_init(&a->policy_gen, 1);
    err = store_watch(s, on_change, a, e);
    if (err) {
        access_close(a);
        return err;
    }
    *out = a;
    return MD_OK;
}

static void unref_cb(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    uentry_unref(value);
}

/*
 * store_watch has no unsubscribe: the store must stop publishing first, so access_close is
 * called after store_close (whose listener or poller may otherwise call on_change on a freed
 * service).
 */
void access_close(struct access *a)
{
    if (!a)
        return;
    for (int i = 0; i < SHARDS; i++) {
        hmap_each(&a->shards[i].users, unref_cb, NULL);
        hmap_free(&a->shards[i].users);
        pthread_mutex_destroy(&a->shards[i].mu);
    }
    policy_unref(a->policy);
    pthread_rwlock_destroy(&a->policy_mu);
    hmap_each(&a->names, free_name, NULL);
    hmap_free(&a->names);
    pthread_rwlock_destroy(&a->names_mu);
    hmap_each(&a->greg, free_name, NULL);
    hmap_free(&a->greg);
    pthread_mutex_destroy(&a->greg_mu);
    free(a);
}

/* ---- the policy ---- */

enum md_err access__policy(struct access *a, struct policy **out, struct md_error *e)
{
    uint64_t gen;
    struct policy *p = NULL, *old = NULL;
    enum md_err err = MD_OK;

    /* The common case: the policy is current; readers share the lock. */
    pthread_rwlock_rdlock(&a->policy_mu);
    gen = atomic_load(&a->policy_gen);
    if (a->policy && a->policy->gen == gen) {
        policy_ref(a->policy);
        *out = a->policy;
        pthread_rwlock_unlock(&a->policy_mu);
        return MD_OK;
    }
    pthread_rwlock_unlock(&a->policy_mu);

    pthread_rwlock_wrlock(&a->policy_mu);
    gen = atomic_load(&a->policy_gen);
    if (!a->policy || a->policy->gen != gen) {
        /* gen is read before the store: a write during the read moves it on again. */
        err = policy_build(a->store, gen, &p, e);
        if (err == MD_OK) {
            atomic_fetch_add(&a->n_builds, 1);
            old = a->policy;
            a->policy = p;
        }
    }
    if (err == MD_OK) {
        policy_ref(a->policy);
        *out = a->policy;
    }
    pthread_rwlock_unlock(&a->policy_mu);
    /* Freeing a policy takes time (its entitlements): not while others wait for the lock. */
    policy_unref(old);
    return err;
}

/* ---- reading a user ---- */

struct groups_acc {
    struct access *a;
    struct ugroup *v;
    size_t n, cap;
    bool oom;
    uint64_t names_gen; /* the name cache's generation before the read */
};

/* The interned copy of a group id (one per group for the life of the service). */
static const char *intern_group(struct access *a, const char *id)
{
    char *v;

    pthread_mutex_lock(&a->greg_mu);
    v = hmap_get(&a->greg, id);
    if (!v) {
        v = strdup(id);
        if (v && hmap_put(&a->greg, id, v, NULL)) {
            free(v);
            v = NULL;
        }
    }
    pthread_mutex_unlock(&a->greg_mu);
    return v;
}

/* Seeds the name cache with a name just read, unless a group changed since the read began. */
static void seed_name(struct access *a, const char *id, const char *name, uint64_t gen)
{
    char *copy;

    pthread_rwlock_wrlock(&a->names_mu);
    if (a->names_gen == gen && !hmap_get(&a->names, id) && (copy = strdup(name)) &&
        hmap_put(&a->names, id, copy, NULL))
        free(copy);
    pthread_rwlock_unlock(&a->names_mu);
}

static int group_cb(void *ctx, const char *group_id, const char *display, bool direct)
{
    struct groups_acc *g = ctx;

    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        struct ugroup *nv = realloc(g->v, cap * sizeof *nv);
        if (!nv) {
            g->oom = true;
            return 1;
        }
        g->v = nv;
        g->cap = cap;
    }
    g->v[g->n].id = intern_group(g->a, group_id);
    g->v[g->n].direct = direct;
    if (!g->v[g->n].id) {
        g->oom = true;
        return 1;
    }
    if (display)
        seed_name(g->a, group_id, display, g->names_gen);
    g->n++;
    return 0;
}

/* Reads the user's row and groups from the store into a new entry (no entitlement yet). */
static enum md_err read_user(struct access *a, const char *id, struct uentry **out,
                             struct md_error *e)
{
    struct uentry *u = calloc(1, sizeof *u);
    struct store_conn *c = NULL;
    struct store_row row;
    struct groups_acc g = {0};
    enum md_err err;

    *out = NULL;
    memset(&row, 0, sizeof row);
    g.a = a;
    pthread_rwlock_rdlock(&a->names_mu);
    g.names_gen = a->names_gen;
    pthread_rwlock_unlock(&a->names_mu);
    if (!u)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    atomic_init(&u->refs, 1);
    snprintf(u->id, sizeof u->id, "%s", id);
    err = store_acquire(a->store, &c, e);
    if (err)
        goto out;
    err = store_res_get(c, STORE_USERS, id, &row, e);
    if (err == MD_ERR_NOTFOUND) {
        err = MD_OK; /* a user that does not exist is cached too: it is denied */
        goto out;
    }
    if (err)
        goto out;
    u->exists = true;
    u->active = row.active;
    u->user_name = strdup(row.user_name ? row.user_name : "");
    u->email = primary_email(row.doc, &g.oom);
    err = store_member_groups(c, id, group_cb, &g, e);
    if (!err && (g.oom || !u->user_name))
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
out:
    if (c)
        store_release(c);
    store_row_free(&row);
    u->groups = g.v;
    u->ngroups = g.n;
    if (err) {
        uentry_free(u);
        return err;
    }
    *out = u;
    return MD_OK;
}

static int int_cmp(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* The grants that reach u under p: to u, to one of its groups, or to everyone. */
static enum md_err resolve_entitlement(struct policy *p, struct uentry *u)
{
    size_t cap = p->everyone->n + 1, n = 0;
    const struct idx_list *l;
    int *idx;

    u->policy_gen = p->gen;
    u->ent = NULL;
    if (!u->exists)
        return MD_OK;
    l = hmap_get(&p->by_subject, u->id);
    cap += l ? l->n : 0;
    for (size_t i = 0; i < u->ngroups; i++) {
        l = hmap_get(&p->by_subject, u->groups[i].id);
        cap += l ? l->n : 0;
    }
    idx = malloc(cap * sizeof *idx);
    if (!idx)
        return MD_ERR_NOMEM;
    n = p->everyone->n;
    if (n)
        memcpy(idx, p->everyone->v, n * sizeof *idx);
    for (size_t i = 0; i <= u->ngroups; i++) {
        l = hmap_get(&p->by_subject, i == u->ngroups ? u->id : u->groups[i].id);
        if (l) {
            memcpy(idx + n, l->v, l->n * sizeof *idx);
            n += l->n;
        }
    }
    qsort(idx, n, sizeof *idx, int_cmp);
    u->ent = policy_entitlement(p, idx, n);
    free(idx);
    return u->ent ? MD_OK : MD_ERR_NOMEM;
}

/* A copy of old's user facts evaluated under p (the directory did not change, the policy did). */
static enum md_err reevaluate(const struct uentry *old, struct policy *p, struct uentry **out)
{
    struct uentry *u = calloc(1, sizeof *u);

    *out = NULL;
    if (!u)
        return MD_ERR_NOMEM;
    atomic_init(&u->refs, 1);
    memcpy(u->id, old->id, sizeof u->id);
    u->exists = old->exists;
    u->active = old->active;
    u->dir_gen = old->dir_gen;
    u->user_name = old->user_name ? strdup(old->user_name) : NULL;
    u->email = old->email ? strdup(old->email) : NULL;
    u->groups = calloc(old->ngroups + 1, sizeof *u->groups);
    if ((old->user_name && !u->user_name) || (old->email && !u->email) || !u->groups)
        goto fail;
    if (old->ngroups)
        memcpy(u->groups, old->groups, old->ngroups * sizeof *u->groups);
    u->ngroups = old->ngroups;
    if (resolve_entitlement(p, u))
        goto fail;
    *out = u;
    return MD_OK;
fail:
    uentry_free(u);
    return MD_ERR_NOMEM;
}

enum md_err access__user(struct access *a, const char *user_id, struct uentry **out,
                         struct policy **pout, struct md_error *e)
{
    struct shard *sh = shard_of(a, user_id);
    struct policy *p = NULL;
    struct uentry *u, *fresh = NULL;
    uint64_t dir, inval;
    enum md_err err;

    *out = NULL;
    if (pout)
        *pout = NULL;
    err = access__policy(a, &p, e);
    if (err)
        return err;
    pthread_mutex_lock(&sh->mu);
    dir = atomic_load(&a->dir_gen);
    inval = sh->inval;
    u = hmap_get(&sh->users, user_id);
    if (u && u->dir_gen == dir && u->policy_gen == p->gen) {
        atomic_fetch_add(&u->refs, 1);
        pthread_mutex_unlock(&sh->mu);
        atomic_fetch_add(&a->n_hits, 1);
        goto done;
    }
    if (u && u->dir_gen == dir)
        atomic_fetch_add(&u->refs, 1);
    else
        u = NULL;
    pthread_mutex_unlock(&sh->mu);

    if (u) {
        /* Only the policy changed: no store read. */
        err = reevaluate(u, p, &fresh);
        uentry_unref(u);
        if (err)
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    } else {
        atomic_fetch_add(&a->n_misses, 1);
        err = read_user(a, user_id, &fresh, e);
        if (!err) {
            fresh->dir_gen = dir;
            if (resolve_entitlement(p, fresh))
                err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        }
    }
    if (err) {
        policy_unref(p);
        uentry_unref(fresh);
        return err;
    }
    pthread_mutex_lock(&sh->mu);
    /* A user that does not exist is not kept: any string would otherwise grow the cache. */
    if (fresh->exists && sh->inval == inval && atomic_load(&a->dir_gen) == dir) {
        struct uentry *old = NULL;
        atomic_fetch_add(&fresh->refs, 1);
        if (hmap_put(&sh->users, user_id, fresh, (void **)&old))
            atomic_fetch_sub(&fresh->refs, 1);
        else
            uentry_unref(old);
    }
    pthread_mutex_unlock(&sh->mu);
    u = fresh;
done:
    *out = u;
    if (pout)
        *pout = p;
    else
        policy_unref(p);
    return MD_OK;
}

void access_stats_get(struct access *a, struct access_stats *out)
{
    memset(out, 0, sizeof *out);
    out->decisions = atomic_load(&a->n_decisions);
    out->user_hits = atomic_load(&a->n_hits);
    out->user_misses = atomic_load(&a->n_misses);
    out->policy_builds = atomic_load(&a->n_builds);
    out->invalidations = atomic_load(&a->n_inval);
    out->flushes = atomic_load(&a->n_flush);
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&a->shards[i].mu);
        out->users_cached += a->shards[i].users.n;
        pthread_mutex_unlock(&a->shards[i].mu);
    }
}

void access__count_decision(struct access *a)
{
    atomic_fetch_add(&a->n_decisions, 1);
}
