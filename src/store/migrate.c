/*
 * store_migrate: copies one store into another through store.h (migrate.h says what is kept).
 *
 * Order matters: users and groups first, since a membership row names its group (a foreign key
 * in every backend), then memberships group by group in their listed order, so that the target
 * numbers them in the same order, then tokens, then the access objects kind by kind (they
 * name users, groups and each other only inside their documents, which the store does not
 * read). Each source read of resources is paged by creation time and id, the order
 * store_res_query gives when no sort is asked for, inside the one source transaction that
 * makes the pages consistent with each other; objects are walked whole, in the same order.
 * The audit log comes last, row for row with its seq and hashes, so that the copy verifies as
 * the original did (the sinks' positions are not copied: they deliver again from the start).
 */
#include "store/migrate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One copy in progress. */
struct mig {
    struct store_conn *src;
    struct store_conn *dst;
    store_migrate_fn progress;
    void *ctx;
    struct store_migrate_counts copied;
    int in_batch;  /* rows written in the target's open transaction */
    bool dst_open; /* a transaction is open on the target */
    bool wrote;    /* a batch was committed: the target is no longer empty */
};

const char *store_migrate_phase_name(enum store_migrate_phase p)
{
    switch (p) {
    case STORE_MIGRATE_USERS:
        return "users";
    case STORE_MIGRATE_GROUPS:
        return "groups";
    case STORE_MIGRATE_MEMBERS:
        return "memberships";
    case STORE_MIGRATE_TOKENS:
        return "tokens";
    case STORE_MIGRATE_OBJECTS:
        return "access objects";
    case STORE_MIGRATE_AUDIT:
        return "audit events";
    }
    return "rows";
}

static void tell(const struct mig *m, enum store_migrate_phase p, int64_t done, int64_t total)
{
    if (m->progress)
        m->progress(m->ctx, p, done, total);
}

/*
 * Puts a sentence in front of e's message, so that an error deep in a backend says which row
 * it was copying. The code is kept.
 */
static enum md_err wrap(struct md_error *e, enum md_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum md_err wrap(struct md_error *e, enum md_err rc, const char *fmt, ...)
{
    char head[160];
    char cause[sizeof e->msg];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    snprintf(cause, sizeof cause, "%s", e->msg);
    return md_error_set(e, rc, "%s: %s", head, cause);
}

/* ---- writing the target in batches ---- */

/* Opens a transaction on the target unless one is open. */
static enum md_err dst_begin(struct mig *m, struct md_error *e)
{
    enum md_err rc;

    if (m->dst_open)
        return MD_OK;
    rc = store_begin(m->dst, e);
    if (rc == MD_OK) {
        m->dst_open = true;
        m->in_batch = 0;
    }
    return rc;
}

/* Commits the target's open transaction, if any. A failed commit leaves none open. */
static enum md_err dst_flush(struct mig *m, struct md_error *e)
{
    enum md_err rc;

    if (!m->dst_open)
        return MD_OK;
    m->dst_open = false;
    m->in_batch = 0;
    rc = store_commit(m->dst, e);
    if (rc == MD_OK)
        m->wrote = true;
    return rc;
}

/* Counts one row written; a full batch is committed. *flushed tells whether it was. */
static enum md_err dst_row_done(struct mig *m, bool *flushed, struct md_error *e)
{
    *flushed = false;
    if (++m->in_batch < STORE_MIGRATE_BATCH)
        return MD_OK;
    *flushed = true;
    return dst_flush(m, e);
}

/* ---- counting, on either side ---- */

static enum md_err count_res(struct store_conn *c, enum store_kind k, int64_t *n,
                             struct md_error *e)
{
    struct store_query q = {NULL, NULL, 1, 0};
    struct store_rows rs = {0};
    enum md_err rc = store_res_query(c, k, &q, &rs, e);

    *n = rc == MD_OK ? rs.total : 0;
    store_rows_free(&rs);
    return rc;
}

static int count_token(void *ctx, const struct store_token *t)
{
    int64_t *n = ctx;

    (void)t;
    (*n)++;
    return 0;
}

static int count_member(void *ctx, const struct store_member *mem)
{
    int64_t *n = ctx;

    (void)mem;
    (*n)++;
    return 0;
}

/* Membership rows: there is no count in store.h, so every group's list is walked. */
static enum md_err count_members(struct store_conn *c, int64_t *n, struct md_error *e)
{
    struct store_query q = {NULL, NULL, 1, STORE_MIGRATE_BATCH};
    struct store_rows rs = {0};
    enum md_err rc;
    size_t i;

    *n = 0;
    for (;;) {
        rc = store_res_query(c, STORE_GROUPS, &q, &rs, e);
        if (rc || rs.n == 0)
            break;
        for (i = 0; i < rs.n && rc == MD_OK; i++)
            rc = store_member_list(c, rs.rows[i].id, count_member, n, e);
        if (rc)
            break;
        q.start_index += (int64_t)rs.n;
        store_rows_free(&rs);
    }
    store_rows_free(&rs);
    return rc;
}

static int count_obj(void *ctx, const struct store_obj *o)
{
    int64_t *n = ctx;

    (void)o;
    (*n)++;
    return 0;
}

/* Access objects of every kind, into n[kind]. */
static enum md_err count_objects(struct store_conn *c, int64_t n[STORE_OBJ__COUNT],
                                 struct md_error *e)
{
    enum md_err rc = MD_OK;
    int k;

    for (k = 0; k < STORE_OBJ__COUNT && rc == MD_OK; k++) {
        n[k] = 0;
        rc = store_obj_list(c, (enum store_obj_kind)k, count_obj, &n[k], e);
    }
    return rc;
}

static int64_t objects_total(const struct store_migrate_counts *n)
{
    int64_t t = 0;
    int k;

    for (k = 0; k < STORE_OBJ__COUNT; k++)
        t += n->objects[k];
    return t;
}

static int count_audit_row(void *ctx, const struct store_audit_row *r)
{
    (void)r;
    (*(int64_t *)ctx)++;
    return 0;
}

static enum md_err count_audit(struct store_conn *c, int64_t *n, struct md_error *e)
{
    *n = 0;
    return store_audit_scan(c, NULL, count_audit_row, n, e);
}

static enum md_err count_all(struct store_conn *c, struct store_migrate_counts *n,
                             struct md_error *e)
{
    enum md_err rc;

    memset(n, 0, sizeof *n);
    rc = count_res(c, STORE_USERS, &n->users, e);
    if (rc == MD_OK)
        rc = count_res(c, STORE_GROUPS, &n->groups, e);
    if (rc == MD_OK)
        rc = count_members(c, &n->members, e);
    if (rc == MD_OK)
        rc = store_token_list(c, count_token, &n->tokens, e);
    if (rc == MD_OK)
        rc = count_objects(c, n->objects, e);
    if (rc == MD_OK)
        rc = count_audit(c, &n->audit_events, e);
    return rc;
}

/*
 * A target that holds anything would mix two directories (and might hold the same ids), so the
 * copy only goes into an empty one. Memberships need groups, so they need no check of their own.
 */
static enum md_err check_empty(struct store_conn *c, struct md_error *e)
{
    struct store_migrate_counts n;
    int64_t objects;
    enum md_err rc;

    memset(&n, 0, sizeof n);
    rc = count_res(c, STORE_USERS, &n.users, e);
    if (rc == MD_OK)
        rc = count_res(c, STORE_GROUPS, &n.groups, e);
    if (rc == MD_OK)
        rc = store_token_list(c, count_token, &n.tokens, e);
    if (rc == MD_OK)
        rc = count_objects(c, n.objects, e);
    if (rc == MD_OK)
        rc = count_audit(c, &n.audit_events, e);
    if (rc)
        return wrap(e, rc, "cannot read the target database");
    objects = objects_total(&n);
    if (n.users || n.groups || n.tokens || objects || n.audit_events)
        return md_error_set(e, MD_ERR_VALUE,
                            "the target database is not empty (%lld users, %lld groups, %lld "
                            "tokens, %lld access objects, %lld audit events); migrate into a new, "
                            "empty database",
                            (long long)n.users, (long long)n.groups, (long long)n.tokens,
                            (long long)objects, (long long)n.audit_events);
    return MD_OK;
}

/* ---- users and groups ---- */

/*
 * Copies every resource of kind k, a page at a time; a page is one transaction on the target.
 * The rows carry their version and times, which store_res_insert keeps.
 */
static enum md_err copy_res(struct mig *m, enum store_kind k, enum store_migrate_phase p,
                            int64_t total, int64_t *copied, struct md_error *e)
{
    struct store_query q = {NULL, NULL, 1, STORE_MIGRATE_BATCH};
    struct store_rows rs = {0};
    enum md_err rc = MD_OK;
    bool flushed;
    size_t i;

    tell(m, p, 0, total);
    for (;;) {
        rc = store_res_query(m->src, k, &q, &rs, e);
        if (rc) {
            rc = wrap(e, rc, "cannot read the source's %s", store_migrate_phase_name(p));
            goto out;
        }
        if (rs.n == 0)
            break;
        for (i = 0; i < rs.n; i++) {
            rc = dst_begin(m, e);
            if (rc == MD_OK)
                rc = store_res_insert(m->dst, k, &rs.rows[i], e);
            if (rc) {
                rc = wrap(e, rc, "cannot copy %s %s", k == STORE_USERS ? "User" : "Group",
                          rs.rows[i].id);
                goto out;
            }
            (*copied)++;
            rc = dst_row_done(m, &flushed, e);
            if (rc)
                goto out;
            if (flushed)
                tell(m, p, *copied, total);
        }
        q.start_index += (int64_t)rs.n;
        store_rows_free(&rs);
    }
    rc = dst_flush(m, e);
out:
    store_rows_free(&rs);
    if (rc == MD_OK)
        tell(m, p, *copied, total);
    return rc;
}

/* ---- memberships ---- */

/* One group's members, copied out of the source's walk so that the store can be called again. */
struct member_vec {
    struct store_member *v;
    size_t n;
    size_t cap;
    bool oom;
};

static void member_vec_free(struct member_vec *mv)
{
    size_t i;

    for (i = 0; i < mv->n; i++)
        free(mv->v[i].display);
    free(mv->v);
    memset(mv, 0, sizeof *mv);
}

static int collect_member(void *ctx, const struct store_member *mem)
{
    struct member_vec *mv = ctx;
    struct store_member *slot;

    if (mv->n == mv->cap) {
        size_t cap = mv->cap ? mv->cap * 2 : 64;
        struct store_member *v = realloc(mv->v, cap * sizeof *v);
        if (!v) {
            mv->oom = true;
            return 1;
        }
        mv->v = v;
        mv->cap = cap;
    }
    slot = &mv->v[mv->n];
    *slot = *mem;
    slot->display = NULL;
    if (mem->display && !(slot->display = strdup(mem->display))) {
        mv->oom = true;
        return 1;
    }
    mv->n++;
    return 0;
}

/*
 * The display to copy. store_member_list reports the display a client sent, or, when it sent
 * none, the member's current displayName (its userName for a user without one). Copying the
 * latter would freeze it: the target would go on showing the old name after the member is
 * renamed, where the source follows the rename. So a display equal to the one that the store
 * derives is copied as "none sent" (*out NULL). A client-sent display that happens to equal
 * the member's current name then follows later renames in the target; until one, the member
 * looks the same in both.
 */
static enum md_err member_display(struct mig *m, const struct store_member *mem, const char **out,
                                  struct md_error *e)
{
    struct store_row r;
    const char *derived;
    enum md_err rc;

    *out = mem->display;
    if (!mem->display)
        return MD_OK;
    rc = store_res_get(m->src, mem->type == STORE_MEMBER_GROUP ? STORE_GROUPS : STORE_USERS,
                       mem->id, &r, e);
    if (rc == MD_ERR_NOTFOUND) {
        md_error_clear(e);
        return MD_OK; /* nothing to derive from: the display can only have been sent */
    }
    if (rc)
        return rc;
    if (mem->type == STORE_MEMBER_USER)
        derived = r.display_name && r.display_name[0] ? r.display_name : r.user_name;
    else
        derived = r.display_name;
    if (derived && strcmp(derived, mem->display) == 0)
        *out = NULL;
    store_row_free(&r);
    return MD_OK;
}

/* Copies one group's members in their order; batches may end in the middle of a group. */
static enum md_err copy_group_members(struct mig *m, const char *group_id, int64_t total,
                                      struct md_error *e)
{
    struct member_vec mv = {0};
    enum md_err rc;
    bool added, flushed;
    size_t i;

    rc = store_member_list(m->src, group_id, collect_member, &mv, e);
    if (rc == MD_OK && mv.oom)
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (rc) {
        rc = wrap(e, rc, "cannot read the members of Group %s", group_id);
        goto out;
    }
    for (i = 0; i < mv.n; i++) {
        const char *display = NULL;

        rc = member_display(m, &mv.v[i], &display, e);
        if (rc == MD_OK)
            rc = dst_begin(m, e);
        if (rc == MD_OK)
            rc = store_member_add(m->dst, group_id, mv.v[i].id, mv.v[i].type, display, &added, e);
        if (rc) {
            rc = wrap(e, rc, "cannot copy member %s of Group %s", mv.v[i].id, group_id);
            goto out;
        }
        if (added)
            m->copied.members++;
        rc = dst_row_done(m, &flushed, e);
        if (rc)
            goto out;
        if (flushed)
            tell(m, STORE_MIGRATE_MEMBERS, m->copied.members, total);
    }
out:
    member_vec_free(&mv);
    return rc;
}

static enum md_err copy_members(struct mig *m, int64_t total, struct md_error *e)
{
    struct store_query q = {NULL, NULL, 1, STORE_MIGRATE_BATCH};
    struct store_rows rs = {0};
    enum md_err rc = MD_OK;
    size_t i;

    tell(m, STORE_MIGRATE_MEMBERS, 0, total);
    for (;;) {
        rc = store_res_query(m->src, STORE_GROUPS, &q, &rs, e);
        if (rc) {
            rc = wrap(e, rc, "cannot read the source's groups");
            goto out;
        }
        if (rs.n == 0)
            break;
        for (i = 0; i < rs.n; i++) {
            rc = copy_group_members(m, rs.rows[i].id, total, e);
            if (rc)
                goto out;
        }
        q.start_index += (int64_t)rs.n;
        store_rows_free(&rs);
    }
    rc = dst_flush(m, e);
out:
    store_rows_free(&rs);
    if (rc == MD_OK)
        tell(m, STORE_MIGRATE_MEMBERS, m->copied.members, total);
    return rc;
}

/* ---- tokens ---- */

struct token_vec {
    struct store_token *v;
    size_t n;
    size_t cap;
    bool oom;
};

static int collect_token(void *ctx, const struct store_token *t)
{
    struct token_vec *tv = ctx;

    if (tv->n == tv->cap) {
        size_t cap = tv->cap ? tv->cap * 2 : 16;
        struct store_token *v = realloc(tv->v, cap * sizeof *v);
        if (!v) {
            tv->oom = true;
            return 1;
        }
        tv->v = v;
        tv->cap = cap;
    }
    tv->v[tv->n++] = *t;
    return 0;
}

/*
 * Tokens keep their id, hash, times and revocation, so that the identity provider's token
 * works on the target unchanged and a revoked one stays revoked.
 */
static enum md_err copy_tokens(struct mig *m, int64_t total, struct md_error *e)
{
    struct token_vec tv = {0};
    enum md_err rc;
    bool flushed;
    size_t i;

    tell(m, STORE_MIGRATE_TOKENS, 0, total);
    rc = store_token_list(m->src, collect_token, &tv, e);
    if (rc == MD_OK && tv.oom)
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (rc) {
        rc = wrap(e, rc, "cannot read the source's tokens");
        goto out;
    }
    for (i = 0; i < tv.n; i++) {
        rc = dst_begin(m, e);
        if (rc == MD_OK)
            rc = store_token_insert(m->dst, &tv.v[i], e);
        if (rc) {
            rc = wrap(e, rc, "cannot copy token %s", tv.v[i].id);
            goto out;
        }
        m->copied.tokens++;
        rc = dst_row_done(m, &flushed, e);
        if (rc)
            goto out;
        if (flushed)
            tell(m, STORE_MIGRATE_TOKENS, m->copied.tokens, total);
    }
    rc = dst_flush(m, e);
out:
    free(tv.v);
    if (rc == MD_OK)
        tell(m, STORE_MIGRATE_TOKENS, m->copied.tokens, total);
    return rc;
}

/* ---- access objects ---- */

/* The walk over one kind of the source, writing each object into the target as it goes. */
struct obj_walk {
    struct mig *m;
    enum store_obj_kind kind;
    int64_t total;
    enum md_err rc;
    struct md_error *e;
};

/*
 * Objects keep their id, document, version and times (store_obj_copy), so that an
 * administrator's If-Match on an object stays valid. The target is a different connection, so
 * it may be written from inside the source's walk.
 */
static int copy_one_obj(void *ctx, const struct store_obj *o)
{
    struct obj_walk *w = ctx;
    struct mig *m = w->m;
    bool flushed;

    w->rc = dst_begin(m, w->e);
    if (w->rc == MD_OK)
        w->rc = store_obj_copy(m->dst, w->kind, o, w->e);
    if (w->rc) {
        w->rc = wrap(w->e, w->rc, "cannot copy %s %s", store_obj_kind_name(w->kind), o->id);
        return 1;
    }
    m->copied.objects[w->kind]++;
    w->rc = dst_row_done(m, &flushed, w->e);
    if (w->rc)
        return 1;
    if (flushed)
        tell(m, STORE_MIGRATE_OBJECTS, objects_total(&m->copied), w->total);
    return 0;
}

static enum md_err copy_objects(struct mig *m, int64_t total, struct md_error *e)
{
    struct obj_walk w = {m, STORE_OBJ_CONNECTOR, total, MD_OK, e};
    enum md_err rc = MD_OK;
    int k;

    tell(m, STORE_MIGRATE_OBJECTS, 0, total);
    for (k = 0; k < STORE_OBJ__COUNT && rc == MD_OK; k++) {
        w.kind = (enum store_obj_kind)k;
        w.rc = MD_OK;
        rc = store_obj_list(m->src, w.kind, copy_one_obj, &w, e);
        if (rc)
            rc = wrap(e, rc, "cannot read the source's %s", store_obj_kind_name(w.kind));
        else
            rc = w.rc;
    }
    if (rc == MD_OK)
        rc = dst_flush(m, e);
    if (rc == MD_OK)
        tell(m, STORE_MIGRATE_OBJECTS, objects_total(&m->copied), total);
    return rc;
}

/* ---- the audit log ---- */

struct audit_walk {
    struct mig *m;
    int64_t total;
    enum md_err rc;
    struct md_error *e;
};

/* Each row as it is (seq, time, hashes, document): the chain does not depend on the backend. */
static int copy_one_event(void *ctx, const struct store_audit_row *r)
{
    struct audit_walk *w = ctx;
    bool flushed;

    w->rc = dst_begin(w->m, w->e);
    if (w->rc == MD_OK)
        w->rc = store_audit_insert(w->m->dst, r, w->e);
    if (w->rc) {
        w->rc = wrap(w->e, w->rc, "cannot copy audit event %lld", (long long)r->seq);
        return 1;
    }
    w->m->copied.audit_events++;
    w->rc = dst_row_done(w->m, &flushed, w->e);
    if (w->rc)
        return 1;
    if (flushed)
        tell(w->m, STORE_MIGRATE_AUDIT, w->m->copied.audit_events, w->total);
    return 0;
}

static enum md_err copy_audit(struct mig *m, int64_t total, struct md_error *e)
{
    struct audit_walk w = {m, total, MD_OK, e};
    enum md_err rc;

    tell(m, STORE_MIGRATE_AUDIT, 0, total);
    rc = store_audit_scan(m->src, NULL, copy_one_event, &w, e);
    if (rc)
        rc = wrap(e, rc, "cannot read the source's audit log");
    else
        rc = w.rc;
    if (rc == MD_OK)
        rc = dst_flush(m, e);
    if (rc == MD_OK)
        tell(m, STORE_MIGRATE_AUDIT, m->copied.audit_events, total);
    return rc;
}

/* ---- the copy ---- */

static enum md_err compare(const struct store_migrate_counts *a,
                           const struct store_migrate_counts *b, struct md_error *e)
{
    const char *names[5 + STORE_OBJ__COUNT] = {"users", "groups", "memberships", "tokens",
                                               "audit events"};
    int64_t x[5 + STORE_OBJ__COUNT] = {a->users, a->groups, a->members, a->tokens, a->audit_events};
    int64_t y[5 + STORE_OBJ__COUNT] = {b->users, b->groups, b->members, b->tokens, b->audit_events};
    size_t i;
    int k;

    for (k = 0; k < STORE_OBJ__COUNT; k++) {
        names[5 + k] = store_obj_kind_name((enum store_obj_kind)k);
        x[5 + k] = a->objects[k];
        y[5 + k] = b->objects[k];
    }
    for (i = 0; i < sizeof x / sizeof x[0]; i++) {
        if (x[i] != y[i])
            return md_error_set(e, MD_ERR_INTERNAL,
                                "the counts differ after the copy: %s %lld in the source, %lld in "
                                "the target",
                                names[i], (long long)x[i], (long long)y[i]);
    }
    return MD_OK;
}

static enum md_err copy_all(struct mig *m, const struct store_migrate_counts *src_n,
                            struct md_error *e)
{
    enum md_err rc;

    rc = copy_res(m, STORE_USERS, STORE_MIGRATE_USERS, src_n->users, &m->copied.users, e);
    if (rc == MD_OK)
        rc = copy_res(m, STORE_GROUPS, STORE_MIGRATE_GROUPS, src_n->groups, &m->copied.groups, e);
    if (rc == MD_OK)
        rc = copy_members(m, src_n->members, e);
    if (rc == MD_OK)
        rc = copy_tokens(m, src_n->tokens, e);
    if (rc == MD_OK)
        rc = copy_objects(m, objects_total(src_n), e);
    if (rc == MD_OK)
        rc = copy_audit(m, src_n->audit_events, e);
    return rc;
}

enum md_err store_migrate(struct store *from, struct store *to, store_migrate_fn progress,
                          void *ctx, struct store_migrate_counts *out, struct md_error *e)
{
    struct mig m;
    struct store_migrate_counts src_n, dst_n;
    enum md_err rc;

    memset(&m, 0, sizeof m);
    m.progress = progress;
    m.ctx = ctx;
    if (out)
        memset(out, 0, sizeof *out);
    if (from == to)
        return md_error_set(e, MD_ERR_VALUE, "the source and the target are the same store");
    rc = store_acquire(from, &m.src, e);
    if (rc == MD_OK)
        rc = store_acquire(to, &m.dst, e);
    if (rc == MD_OK)
        rc = check_empty(m.dst, e);
    if (rc)
        goto out;
    /* The snapshot: every read of the source from here on sees the same moment. */
    rc = store_begin(m.src, e);
    if (rc == MD_OK)
        rc = count_all(m.src, &src_n, e);
    if (rc) {
        rc = wrap(e, rc, "cannot read the source database");
        goto out;
    }
    rc = copy_all(&m, &src_n, e);
    if (rc) {
        if (m.dst_open)
            store_rollback(m.dst);
        m.dst_open = false;
        if (m.wrote)
            wrap(e, rc,
                 "the copy stopped part-way, and the target holds what was copied until "
                 "then (start again with an empty database)");
        goto out;
    }
    /* Nothing was written to the source: ending its transaction either way is the same. */
    store_rollback(m.src);
    /* Counted again from the committed target, not from what this copy believes it wrote. */
    rc = count_all(m.dst, &dst_n, e);
    if (rc) {
        rc = wrap(e, rc, "cannot count the rows of the target database");
        goto out;
    }
    rc = compare(&src_n, &dst_n, e);
    if (rc == MD_OK && out)
        *out = m.copied;
out:
    store_rollback(m.src);
    store_release(m.src);
    store_release(m.dst);
    return rc;
}

/* ---- URLs for messages ---- */

/* A bounded writer into a caller's buffer of n > 0 bytes, always NUL-terminated. */
struct sink {
    char *p;
    size_t n;
    size_t len;
};

static void put(struct sink *s, const char *p, size_t len)
{
    while (len-- > 0 && s->len + 1 < s->n)
        s->p[s->len++] = *p++;
    s->p[s->len] = '\0';
}

static void put_cstr(struct sink *s, const char *p)
{
    put(s, p, strlen(p));
}

static bool ends_with_password(const char *name, size_t len)
{
    static const char word[] = "password";
    size_t wl = sizeof word - 1;

    return len >= wl && strncasecmp(name + len - wl, word, wl) == 0;
}

/* Copies a query string (after '?', up to '#' or the end), hiding password values. */
static void put_query(struct sink *s, const char *q, size_t len)
{
    const char *end = q + len;

    while (q < end) {
        size_t plen = strcspn(q, "&#");
        const char *eq;
        size_t nlen;

        if ((size_t)(end - q) < plen)
            plen = (size_t)(end - q);
        eq = memchr(q, '=', plen);
        nlen = eq ? (size_t)(eq - q) : plen;
        if (eq && ends_with_password(q, nlen)) {
            put(s, q, nlen);
            put_cstr(s, "=***");
        } else {
            put(s, q, plen);
        }
        q += plen;
        if (q < end && *q == '&') {
            put(s, "&", 1);
            q++;
        }
    }
}

void store_url_redact(const char *url, char *out, size_t n)
{
    struct sink s = {out, n, 0};
    const char *sep, *auth, *auth_end, *host, *p, *q, *frag;

    if (!out || n == 0)
        return;
    out[0] = '\0';
    if (!url)
        return;
    sep = strstr(url, "://");
    if (!sep) {
        put_cstr(&s, url);
        return;
    }
    auth = sep + 3;
    put(&s, url, (size_t)(auth - url));
    auth_end = auth + strcspn(auth, "/?#");
    /* The last '@' ends the user information: a password may contain an '@' of its own. */
    host = auth;
    for (p = auth; p < auth_end; p++) {
        if (*p == '@')
            host = p + 1;
    }
    put(&s, host, (size_t)(auth_end - host));
    q = strchr(auth_end, '?');
    frag = strchr(auth_end, '#');
    if (!q || (frag && frag < q)) {
        put_cstr(&s, auth_end);
        return;
    }
    put(&s, auth_end, (size_t)(q + 1 - auth_end));
    put_query(&s, q + 1, frag ? (size_t)(frag - q - 1) : strlen(q + 1));
    if (frag)
        put_cstr(&s, frag);
}
