/*
 * Who could do what, when (docs/audit-history.md): GET /access-at?time=T&tool=X and
 * GET /users/{id}/history, both read from the audit log's "scim.change" and "admin.change"
 * events.
 *
 * access-at has no decision engine of its own. It replays the changes recorded up to T into a
 * throwaway SQLite database: users, groups and memberships as SCIM left them, connectors,
 * overrides, packs and grants as the admin API left them, each written through the store API.
 * Then it opens the real access engine on that database and asks it, for every user, what the
 * user was entitled to. Expiry is judged at T by the replay, not by the engine: a grant that had
 * expired at T is not written, and the others are written without their expiry (the engine
 * judges expiry by the clock, which would otherwise judge them now).
 *
 * What the log does not say comes from elsewhere, and the answer says which:
 * - An access object whose first event comes after T was, at T, what that event's "before"
 *   shows (or absent, when the event created it). One that no event describes (the catalog
 *   loaded at first start, grants older than the log) comes from the live database.
 * - A user or group whose creation predates the log is known only from its first event on; its
 *   memberships from before the log are not known. The answer lists such resources, and a
 *   member added while unknown is taken for a user unless the log or the live database says
 *   it is a group.
 * - Events removed by pruning are gone: the answer then says the log was pruned.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "access/access.h"
#include "admin/admin_int.h"
#include "audit/audit.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "store/store.h"

/* Users read from the replay per page while the engine is asked about them. */
#define HIST_PAGE 500
/* Ids listed per kind under "unknown"; the count says how many there are. */
#define HIST_LIST_MAX 100
/* Sentences under "notes" about events the replay could not apply. */
#define HIST_NOTES_MAX 20

#define USER_URN "urn:ietf:params:scim:schemas:core:2.0:User"
#define GROUP_URN "urn:ietf:params:scim:schemas:core:2.0:Group"

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool str_is(const json_t *o, const char *key, const char *want)
{
    const char *v = str_of(o, key);
    return v && strcmp(v, want) == 0;
}

/* An event's time in epoch milliseconds; false when it has none that parses. */
static bool event_ms(const json_t *ev, int64_t *ms)
{
    const char *t = str_of(ev, "time");
    return t && time_parse_rfc3339(t, ms);
}

static json_t *time_json(int64_t ms)
{
    char t[TIME_RFC3339_LEN];
    time_format_ms(ms, t);
    return json_string(t);
}

/* ---- the pure parts (admin_int.h) ---- */

/* The n-th segment (0-based) of a path below /api/v1 into out; false when it has none. */
static bool path_seg(const char *path, int n, char *out, size_t outsz, int *nseg)
{
    const char *p = path;
    bool found = false;
    int i = 0;

    *nseg = 0;
    out[0] = '\0';
    while (p && *p == '/') {
        const char *start = ++p;
        size_t len;
        while (*p && *p != '/')
            p++;
        len = (size_t)(p - start);
        if (len == 0)
            break;
        if (i == n && len < outsz) {
            memcpy(out, start, len);
            out[len] = '\0';
            found = true;
        }
        i++;
    }
    *nseg = i;
    return found;
}

enum admin_hist_kind admin_hist_object(const json_t *ev, char id[64])
{
    const char *path = str_of(ev, "path"), *method = str_of(ev, "method");
    const json_t *after = json_object_get(ev, "after"), *before = json_object_get(ev, "before");
    const char *name = NULL;
    char coll[32], seg[64];
    enum admin_hist_kind k;
    int nseg = 0;

    id[0] = '\0';
    if (!path || !method || !path_seg(path, 0, coll, sizeof coll, &nseg))
        return ADMIN_HIST_NONE;
    if (strcmp(coll, "connectors") == 0)
        k = ADMIN_HIST_CONNECTOR;
    else if (strcmp(coll, "packs") == 0)
        k = ADMIN_HIST_PACK;
    else if (strcmp(coll, "grants") == 0)
        k = ADMIN_HIST_GRANT;
    else
        return ADMIN_HIST_NONE;
    /* /connectors/{name}/credential is a secret in the vault, not part of the access model. */
    if (nseg > 2)
        return ADMIN_HIST_NONE;
    /* The documents name themselves; the path is the fallback (a DELETE has no after). */
    name = str_of(after, k == ADMIN_HIST_GRANT ? "id" : "name");
    if (!name)
        name = str_of(before, k == ADMIN_HIST_GRANT ? "id" : "name");
    if (!name && nseg == 2 && path_seg(path, 1, seg, sizeof seg, &nseg))
        name = seg;
    if (!name || !name[0] || strlen(name) >= 64)
        return ADMIN_HIST_NONE;
    snprintf(id, 64, "%s", name);
    return k;
}

json_t *admin_hist_connector_def(const json_t *view)
{
    return json_is_object(view) ? access_connector_definition(view) : NULL;
}

json_t *admin_hist_grant_at(const json_t *view, int64_t t_ms, bool *expired)
{
    const char *x = str_of(view, "expires");
    int64_t ms;
    json_t *g;

    *expired = false;
    if (!json_is_object(view))
        return NULL;
    if (x && time_parse_rfc3339(x, &ms) && ms <= t_ms) {
        *expired = true;
        return NULL;
    }
    g = json_deep_copy(view);
    if (!g)
        return NULL;
    json_object_del(g, "id");
    json_object_del(g, "version");
    json_object_del(g, "created");
    json_object_del(g, "modified");
    if (x && time_parse_rfc3339(x, &ms))
        json_object_del(g, "expires");
    return g;
}

/* ---- a user's history ---- */

bool admin_hist_user_init(struct admin_hist_user *h, const char *user_id)
{
    memset(h, 0, sizeof *h);
    snprintf(h->id, sizeof h->id, "%s", user_id);
    h->active = -1;
    h->items = json_array();
    h->groups = json_object();
    h->names = json_object();
    if (!h->items || !h->groups || !h->names) {
        admin_hist_user_free(h);
        return false;
    }
    return true;
}

void admin_hist_user_free(struct admin_hist_user *h)
{
    json_decref(h->items);
    json_decref(h->groups);
    json_decref(h->names);
    free(h->user_name);
    memset(h, 0, sizeof *h);
}

/* Appends an entry of change at the event's place in the log; the entry is returned to add to. */
static json_t *hist_entry(struct admin_hist_user *h, const json_t *ev, const char *change)
{
    json_t *it = json_pack("{s:O?, s:O?, s:s}", "seq", json_object_get(ev, "seq"), "time",
                           json_object_get(ev, "time"), "change", change);
    if (it)
        json_array_append_new(h->items, it);
    return it;
}

static void hist_group(struct admin_hist_user *h, json_t *it, const char *gid)
{
    json_t *name = json_object_get(h->names, gid);
    if (it)
        json_object_set_new(it, "group",
                            json_pack("{s:s, s:O?}", "id", gid, "displayName", name ? name : NULL));
}

/* A change to the user itself: created, renamed, (de)activated, deleted. */
static void hist_user_change(struct admin_hist_user *h, const json_t *ev, const json_t *ch)
{
    const char *op = str_of(ch, "op");
    const json_t *after = json_object_get(ch, "after");
    const char *name = str_of(after, "userName");
    const json_t *active = json_object_get(after, "active");
    json_t *it;

    if (!op)
        return;
    if (strcmp(op, "delete") == 0) {
        hist_entry(h, ev, "deleted");
        /* Deleting a user removes its memberships: it is in no group any more. */
        json_object_clear(h->groups);
        h->active = -1;
        return;
    }
    if (strcmp(op, "create") == 0 || !h->seen) {
        it = hist_entry(h, ev, strcmp(op, "create") == 0 ? "created" : "first_seen");
        if (it && name)
            json_object_set_new(it, "userName", json_string(name));
        if (it)
            json_object_set_new(it, "active",
                                json_boolean(!json_is_boolean(active) || json_is_true(active)));
        h->created = h->created || strcmp(op, "create") == 0;
    } else {
        if (name && h->user_name && strcmp(name, h->user_name) != 0 &&
            (it = hist_entry(h, ev, "renamed"))) {
            json_object_set_new(it, "from", json_string(h->user_name));
            json_object_set_new(it, "userName", json_string(name));
        }
        if (json_is_boolean(active) && h->active >= 0 && json_is_true(active) != (h->active == 1))
            hist_entry(h, ev, json_is_true(active) ? "activated" : "deactivated");
    }
    if (name) {
        char *copy = strdup(name);
        if (copy) {
            free(h->user_name);
            h->user_name = copy;
        }
    }
    if (json_is_boolean(active))
        h->active = json_is_true(active);
    else if (after && strcmp(op, "create") == 0)
        h->active = 1; /* a user created without "active" is active */
}

/*
 * A change to a group: its name, and what its member operations did to the user's membership.
 * A replace clears the members and adds them again, so only the net effect is an entry.
 */
static void hist_group_change(struct admin_hist_user *h, const json_t *ev, const json_t *ch)
{
    const char *gid = str_of(ch, "id"), *op = str_of(ch, "op");
    const char *display = str_of(json_object_get(ch, "after"), "displayName");
    bool was, now, decided = false;
    size_t i;
    json_t *m;

    if (!gid || !op)
        return;
    if (display)
        json_object_set_new(h->names, gid, json_string(display));
    was = now = json_object_get(h->groups, gid) != NULL;
    if (strcmp(op, "delete") == 0) {
        if (was) {
            json_t *it = hist_entry(h, ev, "left");
            hist_group(h, it, gid);
            if (it)
                json_object_set_new(it, "group_deleted", json_true());
            json_object_del(h->groups, gid);
        }
        return;
    }
    json_array_foreach(json_object_get(ch, "members"), i, m)
    {
        const char *mop = str_of(m, "op"), *mid = str_of(m, "id");
        if (!mop)
            continue;
        if (strcmp(mop, "clear") == 0) {
            now = false;
            decided = true;
        } else if (mid && strcmp(mid, h->id) == 0) {
            /*
             * An add or a remove is recorded only when it changed something, so the first one
             * naming the user tells what the user was, even in a group joined before the log.
             */
            if (!decided)
                was = strcmp(mop, "remove") == 0;
            decided = true;
            now = strcmp(mop, "add") == 0;
        }
    }
    if (was == now)
        return;
    hist_group(h, hist_entry(h, ev, now ? "joined" : "left"), gid);
    if (now)
        json_object_set_new(h->groups, gid, json_true());
    else
        json_object_del(h->groups, gid);
}

void admin_hist_user_step(struct admin_hist_user *h, const json_t *ev)
{
    size_t i;
    json_t *ch;

    if (!str_is(ev, "type", AUDIT_TYPE_SCIM))
        return;
    json_array_foreach(json_object_get(ev, "changes"), i, ch)
    {
        if (str_is(ch, "resource", "User")) {
            if (str_is(ch, "id", h->id)) {
                hist_user_change(h, ev, ch);
                h->seen = true;
            }
        } else if (str_is(ch, "resource", "Group")) {
            hist_group_change(h, ev, ch);
        }
    }
}

/* ---- the replay ---- */

struct replay {
    int64_t t_ms;
    struct store *live;   /* borrowed */
    struct store *rs;     /* the replay's database */
    struct store_conn *c; /* on rs, in one transaction while the log is read */
    char dir[512];
    char path[600];
    /* what the log holds */
    bool any;
    int64_t first_ms;
    int64_t first_seq;
    bool pruned;
    int64_t replayed;   /* SCIM and admin events at or before T */
    int64_t skipped;    /* changes that could not be applied */
    json_t *seen;       /* "kind/id" -> true: access objects written by an event at or before T */
    json_t *initial;    /* "kind/id" -> {"kind", "id", "doc"}: the state at T of one whose first
                           event came after T ("doc" absent: it did not exist) */
    json_t *expires;    /* grant id -> its "expires" as the admin set it */
    json_t *predating;  /* SCIM id -> {"kind": "User" | "Group" | null, "first_seen": time} */
    json_t *unresolved; /* member id -> true: added while the replay knew no such resource */
    json_t *notes;
    enum md_err err; /* the first failure that stops the replay */
    struct md_error *e;
};

static const char *kind_name(enum admin_hist_kind k)
{
    return k == ADMIN_HIST_CONNECTOR ? "connector" : k == ADMIN_HIST_PACK ? "pack" : "grant";
}

static void obj_key(enum admin_hist_kind k, const char *id, char out[96])
{
    snprintf(out, 96, "%s/%s", kind_name(k), id);
}

static void note(struct replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct replay *r, const char *fmt, ...)
{
    char text[400];
    va_list ap;

    if (json_array_size(r->notes) >= HIST_NOTES_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_array_append_new(r->notes, json_string(text));
}

/*
 * Whether a failure stops the replay. A change that the replay's database refuses (a name
 * taken, a row missing) is skipped and noted: one odd event must not hide the rest.
 */
static bool failed(struct replay *r, enum md_err rc, const json_t *ev, const char *what,
                   const struct md_error *why)
{
    if (rc == MD_OK)
        return false;
    if (rc == MD_ERR_NOMEM || rc == MD_ERR_IO || rc == MD_ERR_UNAVAILABLE ||
        rc == MD_ERR_INTERNAL) {
        if (!r->err) {
            r->err = rc;
            md_error_set(r->e, rc, "replaying the audit log: %s", why->msg);
        }
        return true;
    }
    r->skipped++;
    note(r, "event %lld: %s was not applied (%s)",
         (long long)json_integer_value(json_object_get(ev, "seq")), what, why->msg);
    return false;
}

static void mark_predating(struct replay *r, const char *id, const char *kind, const char *when)
{
    json_t *p = json_object_get(r->predating, id);
    if (!p) {
        json_object_set_new(r->predating, id,
                            json_pack("{s:s?, s:s?}", "kind", kind, "first_seen", when));
    } else if (kind && !str_of(p, "kind")) {
        json_object_set_new(p, "kind", json_string(kind));
    }
}

static enum md_err exists(struct replay *r, enum store_kind k, const char *id, bool *yes,
                          struct md_error *e)
{
    return store_res_exists(r->c, k, id, yes, e);
}

/* Collects the groups that hold id directly. */
static int direct_cb(void *ctx, const char *group_id, const char *display, bool direct)
{
    (void)display;
    if (direct)
        json_array_append_new(ctx, json_string(group_id));
    return 0;
}

/*
 * Makes id a member of the type it turned out to be in every group that holds it: a member
 * added while the replay did not know it was taken for a user.
 */
static enum md_err retype_member(struct replay *r, const char *id, enum store_member_type t,
                                 struct md_error *e)
{
    json_t *groups = json_array(), *g;
    enum md_err rc;
    size_t i;

    if (!groups)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    rc = store_member_groups(r->c, id, direct_cb, groups, e);
    json_array_foreach(groups, i, g)
    {
        bool removed, added;
        if (rc)
            break;
        rc = store_member_remove(r->c, json_string_value(g), id, &removed, e);
        if (!rc)
            rc = store_member_add(r->c, json_string_value(g), id, t, NULL, &added, e);
    }
    json_decref(groups);
    return rc;
}

/* Removes id from every group that holds it (a resource deleted that the replay never held). */
static enum md_err drop_member(struct replay *r, const char *id, struct md_error *e)
{
    json_t *groups = json_array(), *g;
    enum md_err rc;
    size_t i;

    if (!groups)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    rc = store_member_groups(r->c, id, direct_cb, groups, e);
    json_array_foreach(groups, i, g)
    {
        bool removed;
        if (rc)
            break;
        rc = store_member_remove(r->c, json_string_value(g), id, &removed, e);
    }
    json_decref(groups);
    return rc;
}

/* Writes a user or group as a change's "after" shows it. */
static enum md_err put_resource(struct replay *r, enum store_kind k, const char *id,
                                const json_t *after, int64_t when, bool known, struct md_error *e)
{
    static const char *const keep[] = {"userName", "active", "externalId", "displayName"};
    const json_t *active = json_object_get(after, "active");
    struct store_row row;
    json_t *doc = json_pack("{s:[s]}", "schemas", k == STORE_USERS ? USER_URN : GROUP_URN);
    int64_t v;
    enum md_err rc;

    if (!doc)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *val = json_object_get(after, keep[i]);
        if (val && (k == STORE_USERS || (strcmp(keep[i], "userName") && strcmp(keep[i], "active"))))
            json_object_set(doc, keep[i], val);
    }
    memset(&row, 0, sizeof row);
    snprintf(row.id, sizeof row.id, "%s", id);
    row.user_name = k == STORE_USERS ? (char *)(uintptr_t)str_of(doc, "userName") : NULL;
    row.display_name = (char *)(uintptr_t)str_of(doc, "displayName");
    row.external_id = (char *)(uintptr_t)str_of(doc, "externalId");
    /* As SCIM stores it: a user without "active" is active, and groups store 1. */
    row.active = k == STORE_GROUPS || !json_is_boolean(active) || json_is_true(active);
    row.doc = json_dump_compact(doc);
    if (!row.doc) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    } else if (k == STORE_USERS && !row.user_name) {
        rc = md_error_set(e, MD_ERR_VALUE, "the user has no userName in the event");
    } else if (known) {
        row.modified_ms = when;
        rc = store_res_update(r->c, k, &row, -1, &v, e);
    } else {
        row.created_ms = row.modified_ms = when;
        rc = store_res_insert(r->c, k, &row, e);
    }
    free(row.doc);
    json_decref(doc);
    return rc;
}

/* The type of a member being added: what the replay knows it as, else (for now) a user. */
static enum md_err member_type(struct replay *r, const char *id, const char *when,
                               enum store_member_type *t, struct md_error *e)
{
    bool yes = false;
    enum md_err rc = exists(r, STORE_GROUPS, id, &yes, e);

    *t = yes ? STORE_MEMBER_GROUP : STORE_MEMBER_USER;
    if (rc || yes)
        return rc;
    rc = exists(r, STORE_USERS, id, &yes, e);
    if (!rc && !yes) {
        json_object_set_new(r->unresolved, id, json_true());
        mark_predating(r, id, NULL, when);
    }
    return rc;
}

static void replay_members(struct replay *r, const json_t *ev, const char *gid, const json_t *ch,
                           const char *when)
{
    struct md_error e;
    size_t i;
    json_t *m;

    json_array_foreach(json_object_get(ch, "members"), i, m)
    {
        const char *op = str_of(m, "op"), *mid = str_of(m, "id");
        enum store_member_type t;
        bool changed;
        enum md_err rc;

        md_error_clear(&e);
        if (!op)
            continue;
        if (strcmp(op, "clear") == 0)
            rc = store_member_clear(r->c, gid, &e);
        else if (!mid || !mid[0] || strlen(mid) >= 64)
            continue;
        else if (strcmp(op, "remove") == 0)
            rc = store_member_remove(r->c, gid, mid, &changed, &e);
        else if ((rc = member_type(r, mid, when, &t, &e)) == MD_OK)
            rc = store_member_add(r->c, gid, mid, t, NULL, &changed, &e);
        if (failed(r, rc, ev, "a membership change", &e))
            return;
    }
}

/* One element of a scim.change event's "changes". */
static void replay_scim_change(struct replay *r, const json_t *ev, const json_t *ch, int64_t when)
{
    const char *res = str_of(ch, "resource"), *id = str_of(ch, "id"), *op = str_of(ch, "op");
    const char *stamp = str_of(ev, "time");
    const json_t *after = json_object_get(ch, "after");
    bool user = res && strcmp(res, "User") == 0, known = false;
    enum store_kind k = user ? STORE_USERS : STORE_GROUPS;
    struct md_error e;
    enum md_err rc;

    md_error_clear(&e);
    if (!res || !id || !op || (!user && strcmp(res, "Group") != 0) || strlen(id) >= 64)
        return;
    rc = exists(r, k, id, &known, &e);
    if (failed(r, rc, ev, "a SCIM change", &e))
        return;
    if (strcmp(op, "delete") == 0) {
        /* Deleting removes the resource's memberships, whether the replay held it or not. */
        rc = known ? store_res_delete(r->c, k, id, &e) : drop_member(r, id, &e);
        if (!known)
            mark_predating(r, id, res, stamp);
        json_object_del(r->unresolved, id);
        failed(r, rc, ev, "a deletion", &e);
        return;
    }
    if (!known && strcmp(op, "create") != 0)
        mark_predating(r, id, res, stamp);
    if (json_is_object(after)) {
        rc = put_resource(r, k, id, after, when, known, &e);
        if (failed(r, rc, ev, user ? "a user's change" : "a group's change", &e))
            return;
        known = known || rc == MD_OK;
        if (!rc && json_object_get(r->unresolved, id)) {
            json_object_del(r->unresolved, id);
            if (!user && (rc = retype_member(r, id, STORE_MEMBER_GROUP, &e)) &&
                failed(r, rc, ev, "a nested group", &e))
                return;
        }
    } else if (user || !known) {
        /* Without "after" a user's active is unknown (events from before it was recorded). */
        r->skipped++;
        note(r, "event %lld: the %s %s changed, and the event does not say how",
             (long long)json_integer_value(json_object_get(ev, "seq")), res, id);
    }
    if (!user && known)
        replay_members(r, ev, id, ch, stamp);
}

/* Writes an access object as an admin view shows it (NULL: it does not exist). */
static enum md_err put_object(struct replay *r, enum admin_hist_kind k, const char *id,
                              const json_t *view, struct md_error *e)
{
    json_t *doc = NULL;
    char *text = NULL;
    enum md_err rc = MD_OK;

    if (k == ADMIN_HIST_GRANT) {
        bool expired = false;
        struct store_obj o;
        rc = store_obj_delete(r->c, STORE_OBJ_GRANT, id, e);
        if (rc == MD_ERR_NOTFOUND)
            rc = MD_OK;
        json_object_del(r->expires, id);
        if (rc || !view)
            return rc;
        if (str_of(view, "expires"))
            json_object_set(r->expires, id, json_object_get(view, "expires"));
        doc = admin_hist_grant_at(view, r->t_ms, &expired);
        if (expired)
            return MD_OK;
        text = doc ? json_dump_compact(doc) : NULL;
        if (!text) {
            json_decref(doc);
            return md_error_set(e, MD_ERR_NOMEM, "out of memory");
        }
        /* The grant's own times and version: grants are decided in creation order. */
        memset(&o, 0, sizeof o);
        snprintf(o.id, sizeof o.id, "%s", id);
        o.doc = text;
        o.version = json_integer_value(json_object_get(view, "version"));
        if (o.version < 1)
            o.version = 1;
        if (!str_of(view, "created") || !time_parse_rfc3339(str_of(view, "created"), &o.created_ms))
            o.created_ms = r->t_ms;
        if (!str_of(view, "modified") ||
            !time_parse_rfc3339(str_of(view, "modified"), &o.modified_ms))
            o.modified_ms = o.created_ms;
        rc = store_obj_copy(r->c, STORE_OBJ_GRANT, &o, e);
        goto out;
    }
    if (!view) {
        rc = store_obj_delete(r->c, k == ADMIN_HIST_PACK ? STORE_OBJ_PACK : STORE_OBJ_CONNECTOR, id,
                              e);
        if (rc == MD_ERR_NOTFOUND)
            rc = MD_OK;
        if (!rc && k == ADMIN_HIST_CONNECTOR &&
            (rc = store_obj_delete(r->c, STORE_OBJ_OVERRIDE, id, e)) == MD_ERR_NOTFOUND)
            rc = MD_OK;
        return rc;
    }
    if (k == ADMIN_HIST_PACK) {
        doc = json_deep_copy(view);
        if (doc) {
            json_object_del(doc, "version");
            json_object_del(doc, "created");
            json_object_del(doc, "modified");
        }
    } else {
        doc = admin_hist_connector_def(view);
    }
    text = doc ? json_dump_compact(doc) : NULL;
    if (!text) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = store_obj_put(r->c, k == ADMIN_HIST_PACK ? STORE_OBJ_PACK : STORE_OBJ_CONNECTOR, id, text,
                       -1, NULL, e);
    if (!rc && k == ADMIN_HIST_CONNECTOR) {
        /* A connector's view carries the deployment's overrides of it. */
        const json_t *ov = json_object_get(view, "overrides");
        free(text);
        text = json_is_object(ov) && json_object_size(ov) ? json_dump_compact(ov) : NULL;
        if (text)
            rc = store_obj_put(r->c, STORE_OBJ_OVERRIDE, id, text, -1, NULL, e);
        else if ((rc = store_obj_delete(r->c, STORE_OBJ_OVERRIDE, id, e)) == MD_ERR_NOTFOUND)
            rc = MD_OK;
    }
out:
    free(text);
    json_decref(doc);
    return rc;
}

static void replay_admin(struct replay *r, const json_t *ev)
{
    const char *method = str_of(ev, "method");
    enum admin_hist_kind k;
    struct md_error e;
    char id[64], key[96];
    enum md_err rc;

    k = admin_hist_object(ev, id);
    if (k == ADMIN_HIST_NONE || !method)
        return;
    obj_key(k, id, key);
    json_object_set_new(r->seen, key, json_true());
    json_object_del(r->initial, key);
    md_error_clear(&e);
    rc = put_object(r, k, id, strcmp(method, "DELETE") == 0 ? NULL : json_object_get(ev, "after"),
                    &e);
    failed(r, rc, ev, "an admin change", &e);
}

/*
 * An admin change after T: the first one about an object tells what the object was until then,
 * and so at T: what its "before" shows, or nothing when the change created it.
 */
static void note_initial(struct replay *r, const json_t *ev)
{
    const char *method = str_of(ev, "method");
    const json_t *before = json_object_get(ev, "before");
    enum admin_hist_kind k;
    char id[64], key[96];
    json_t *init;

    k = admin_hist_object(ev, id);
    if (k == ADMIN_HIST_NONE || !method)
        return;
    obj_key(k, id, key);
    if (json_object_get(r->seen, key) || json_object_get(r->initial, key))
        return;
    init = json_pack("{s:i, s:s}", "kind", (int)k, "id", id);
    if (init && strcmp(method, "POST") != 0 &&
        json_integer_value(json_object_get(ev, "status")) != 201 && json_is_object(before))
        json_object_set(init, "doc", json_mut(before));
    if (init)
        json_object_set_new(r->initial, key, init);
}

static int replay_event(void *ctx, json_t *ev)
{
    struct replay *r = ctx;
    const char *type = str_of(ev, "type");
    int64_t when = 0, seq = json_integer_value(json_object_get(ev, "seq"));
    size_t i;
    json_t *ch;

    if (json_object_get(ev, "damaged") || !type || !event_ms(ev, &when)) {
        /* A row that does not parse may have been a change: the answer cannot vouch for it. */
        r->skipped++;
        note(r, "event %lld cannot be read (mandate audit verify tells more)", (long long)seq);
        return 0;
    }
    if (!r->any) {
        r->any = true;
        r->first_ms = when;
        r->first_seq = seq;
        /* The chain starts at 1: a later first event means older ones were pruned. */
        r->pruned = seq > 1;
    }
    if (strcmp(type, AUDIT_TYPE_PRUNED) == 0)
        r->pruned = true;
    if (when > r->t_ms) {
        if (strcmp(type, AUDIT_TYPE_ADMIN) == 0)
            note_initial(r, ev);
        return 0;
    }
    if (strcmp(type, AUDIT_TYPE_SCIM) == 0) {
        r->replayed++;
        json_array_foreach(json_object_get(ev, "changes"), i, ch)
        {
            replay_scim_change(r, ev, ch, when);
            if (r->err)
                return 1;
        }
    } else if (strcmp(type, AUDIT_TYPE_ADMIN) == 0) {
        r->replayed++;
        replay_admin(r, ev);
    }
    return r->err ? 1 : 0;
}

/* Copies the live database's access objects that no event describes. */
struct live_copy {
    struct replay *r;
    enum store_obj_kind kind;
    int64_t newer; /* objects created after T, left out */
    enum md_err rc;
    struct md_error *e;
};

static int live_obj_cb(void *ctx, const struct store_obj *o)
{
    struct live_copy *l = ctx;
    struct replay *r = l->r;
    enum admin_hist_kind k = l->kind == STORE_OBJ_GRANT  ? ADMIN_HIST_GRANT
                             : l->kind == STORE_OBJ_PACK ? ADMIN_HIST_PACK
                                                         : ADMIN_HIST_CONNECTOR;
    char key[96];

    obj_key(k, o->id, key);
    if (json_object_get(r->seen, key) || json_object_get(r->initial, key))
        return 0;
    if (o->created_ms > r->t_ms) {
        l->newer++;
        return 0;
    }
    if (k == ADMIN_HIST_GRANT) {
        json_t *g = json_loads(o->doc, 0, NULL), *view;
        if (!json_is_object(g)) {
            json_decref(g);
            return 0;
        }
        view =
            json_pack("{s:s, s:I, s:o, s:o}", "id", o->id, "version", (json_int_t)o->version,
                      "created", time_json(o->created_ms), "modified", time_json(o->modified_ms));
        if (view)
            json_object_update_missing(view, g);
        l->rc = view ? put_object(r, k, o->id, view, l->e)
                     : md_error_set(l->e, MD_ERR_NOMEM, "out of memory");
        json_decref(view);
        json_decref(g);
    } else {
        l->rc = store_obj_copy(r->c, l->kind, o, l->e);
    }
    return l->rc != MD_OK;
}

static enum md_err copy_live(struct replay *r, struct md_error *e)
{
    static const enum store_obj_kind kinds[] = {STORE_OBJ_CONNECTOR, STORE_OBJ_OVERRIDE,
                                                STORE_OBJ_PACK, STORE_OBJ_GRANT};
    struct store_conn *c = NULL;
    enum md_err rc = store_acquire(r->live, &c, e);
    int64_t newer = 0;

    for (size_t i = 0; rc == MD_OK && i < sizeof kinds / sizeof kinds[0]; i++) {
        struct live_copy l = {r, kinds[i], 0, MD_OK, e};
        rc = store_obj_list(c, kinds[i], live_obj_cb, &l, e);
        if (!rc)
            rc = l.rc;
        if (kinds[i] != STORE_OBJ_OVERRIDE)
            newer += l.newer;
    }
    /* The members that were added while unknown: a group in the live database is a group. */
    if (rc == MD_OK) {
        const char *id;
        json_t *v;
        json_object_foreach(r->unresolved, id, v)
        {
            bool group = false, user = false;
            if ((rc = store_res_exists(c, STORE_GROUPS, id, &group, e)) ||
                (rc = store_res_exists(c, STORE_USERS, id, &user, e)))
                break;
            if (group && (rc = retype_member(r, id, STORE_MEMBER_GROUP, e)))
                break;
            if (group || user)
                mark_predating(r, id, group ? "Group" : "User", NULL);
        }
    }
    if (c)
        store_release(c);
    if (newer)
        note(r,
             "%lld connectors, packs or grants were created after T without an audit event (the "
             "command line, or before the log): they are left out",
             (long long)newer);
    return rc;
}

static void replay_free(struct replay *r)
{
    if (r->c) {
        store_rollback(r->c);
        store_release(r->c);
    }
    if (r->rs)
        store_close(r->rs);
    if (r->path[0]) {
        char f[640];
        static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
            snprintf(f, sizeof f, "%s%s", r->path, sfx[i]);
            unlink(f);
        }
    }
    if (r->dir[0])
        rmdir(r->dir);
    json_decref(r->seen);
    json_decref(r->initial);
    json_decref(r->expires);
    json_decref(r->predating);
    json_decref(r->unresolved);
    json_decref(r->notes);
}

/* The replay's database: SQLite in a directory of its own, which replay_free removes. */
static enum md_err replay_open(struct replay *r, struct md_error *e)
{
    const char *tmp = getenv("TMPDIR");
    char url[640];
    enum md_err rc;

    snprintf(r->dir, sizeof r->dir, "%s/mandate-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir)) {
        int err = errno;
        r->dir[0] = '\0';
        return md_error_set(e, MD_ERR_IO, "cannot create a directory for the replay: %s",
                            strerror(err));
    }
    snprintf(r->path, sizeof r->path, "%s/replay.db", r->dir);
    snprintf(url, sizeof url, "sqlite:%s", r->path);
    /*
     * The replay holds one connection in its transaction; then the engine rebuilds its policy
     * on one while a user is read on another.
     */
    rc = store_open(url, 4, &r->rs, e);
    if (!rc)
        rc = store_acquire(r->rs, &r->c, e);
    if (!rc)
        rc = store_begin(r->c, e);
    return rc;
}

/* ---- the answer ---- */

static int all_cb(void *ctx, const char *group_id, const char *display, bool direct)
{
    (void)display;
    (void)direct;
    json_object_set_new(ctx, group_id, json_true());
    return 0;
}

/* The groups that group_id is in, directly or through others, cached in anc. Borrowed. */
static json_t *ancestors(struct store *s, json_t *anc, const char *group_id)
{
    json_t *set = json_object_get(anc, group_id);
    struct store_conn *c = NULL;
    struct md_error e;

    if (set)
        return set;
    set = json_object();
    md_error_clear(&e);
    if (set && store_acquire(s, &c, &e) == MD_OK) {
        store_member_groups(c, group_id, all_cb, set, &e);
        store_release(c);
    }
    json_object_set_new(anc, group_id, set ? set : json_object());
    return json_object_get(anc, group_id);
}

/*
 * A user's grants of the tool, from the engine's entitlements: each with the original expiry,
 * and for a grant to a group that the user is in through other groups, "via" the user's own
 * groups that lead to it.
 */
static json_t *user_grants(struct replay *r, json_t *anc, const json_t *ent, const json_t *tool)
{
    json_t *grants = json_deep_copy(json_object_get(tool, "grants")), *g;
    size_t i;

    json_array_foreach(grants, i, g)
    {
        const char *gid = str_of(g, "id");
        const json_t *subj = json_object_get(g, "subject");
        json_t *x = gid ? json_object_get(r->expires, gid) : NULL;
        if (x)
            json_object_set(g, "expires", x);
        if (str_is(subj, "type", "group") && json_is_true(json_object_get(subj, "nested"))) {
            json_t *via = json_array(), *ug;
            size_t k;
            json_array_foreach(json_object_get(ent, "groups"), k, ug)
            {
                const char *d = str_of(ug, "id");
                if (d && json_is_true(json_object_get(ug, "direct")) &&
                    json_object_get(ancestors(r->rs, anc, d), str_of(subj, "id")))
                    json_array_append_new(via, json_pack("{s:s, s:O?}", "id", d, "displayName",
                                                         json_object_get(ug, "displayName")));
            }
            json_object_set_new(g, "via", via);
        }
    }
    return grants;
}

/* The users of the replay, in creation order: [{id, userName, active}]. */
static enum md_err replay_users(struct replay *r, json_t *out, struct md_error *e)
{
    int64_t start = 1;
    enum md_err rc = MD_OK;

    for (;;) {
        struct store_query q = {.start_index = start, .count = HIST_PAGE};
        struct store_rows rows = {0};
        struct store_conn *c = NULL;

        if ((rc = store_acquire(r->rs, &c, e)))
            break;
        rc = store_res_query(c, STORE_USERS, &q, &rows, e);
        store_release(c);
        if (rc)
            break;
        for (size_t i = 0; i < rows.n; i++)
            json_array_append_new(out,
                                  json_pack("{s:s, s:s, s:b}", "id", rows.rows[i].id, "userName",
                                            rows.rows[i].user_name ? rows.rows[i].user_name : "",
                                            "active", rows.rows[i].active));
        start += (int64_t)rows.n;
        store_rows_free(&rows);
        if (rows.n < HIST_PAGE)
            break;
    }
    return rc;
}

/* Asks the engine, over the replayed database, who may use tool: the answer's "users". */
static enum md_err entitled(struct replay *r, struct access *a, const char *tool, json_t *users,
                            struct md_error *e)
{
    json_t *all = json_array(), *anc = json_object(), *u;
    enum md_err rc;
    size_t i;

    if (!all || !anc) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = replay_users(r, all, e);
    json_array_foreach(all, i, u)
    {
        const char *uid = str_of(u, "id");
        json_t *ent = NULL, *t;
        size_t k;

        if (rc)
            break;
        /* An inactive user may call nothing, so it is entitled to nothing. */
        if (!json_is_true(json_object_get(u, "active")))
            continue;
        rc = access_entitlements(a, uid, NULL, false, &ent, e);
        if (rc)
            break;
        json_array_foreach(json_object_get(ent, "tools"), k, t)
        {
            json_t *entry;
            if (!str_is(t, "name", tool))
                continue;
            entry =
                json_pack("{s:s, s:O, s:o}", "id", uid, "userName", json_object_get(u, "userName"),
                          "grants", user_grants(r, anc, ent, t));
            if (entry && json_object_get(r->predating, uid))
                json_object_set_new(entry, "predates_log", json_true());
            json_array_append_new(users, entry);
            break;
        }
        json_decref(ent);
    }
out:
    json_decref(all);
    json_decref(anc);
    return rc;
}

/* "unknown": the resources at or before T whose creation predates the log. */
static json_t *unknown_json(const struct replay *r)
{
    json_t *o = json_object(), *users = json_array(), *groups = json_array(), *other = json_array();
    int64_t n = 0;
    const char *id;
    json_t *p;

    json_object_foreach(r->predating, id, p)
    {
        const char *kind = str_of(p, "kind");
        json_t *list = !kind ? other : strcmp(kind, "User") == 0 ? users : groups;
        n++;
        if (json_array_size(list) < HIST_LIST_MAX)
            json_array_append_new(list, json_string(id));
    }
    json_object_set_new(o, "count", json_integer((json_int_t)n));
    json_object_set_new(o, "users", users);
    json_object_set_new(o, "groups", groups);
    if (json_array_size(other))
        json_object_set(o, "members", other);
    json_decref(other);
    json_object_set_new(o, "note",
                        json_string("these users and groups were created before the audit log "
                                    "begins: they are known from their first event on, and their "
                                    "memberships from before the log are not"));
    return o;
}

static enum md_err check_time(const char *time, int64_t *t_ms, struct md_error *e)
{
    if (!time || !time[0])
        return md_error_set(e, MD_ERR_VALUE,
                            "time is required: an RFC 3339 time such as 2026-01-31T09:00:00Z");
    if (!time_parse_rfc3339(time, t_ms))
        return md_error_set(e, MD_ERR_VALUE,
                            "time \"%.64s\" is not an RFC 3339 time such as "
                            "2026-01-31T09:00:00Z",
                            time);
    if (*t_ms > time_now_ms())
        return md_error_set(e, MD_ERR_VALUE,
                            "time %.64s lies in the future: the log tells only what was", time);
    return MD_OK;
}

enum md_err admin_access_at(struct store *s, struct access *live, const char *time,
                            const char *tool, json_t **out, struct md_error *e)
{
    struct replay r;
    struct access *ra = NULL;
    struct access_tool at;
    struct audit_query q = {.oldest_first = true};
    json_t *o = NULL, *users = NULL;
    int64_t t_ms = 0;
    bool at_t = false;
    enum md_err rc;

    *out = NULL;
    memset(&r, 0, sizeof r);
    memset(&at, 0, sizeof at);
    if ((rc = check_time(time, &t_ms, e)))
        return rc;
    if (!tool || !tool[0])
        return md_error_set(e, MD_ERR_VALUE,
                            "tool is required: a full tool name such as github__create_issue");
    if (!access_tool_name_ok(tool))
        return md_error_set(e, MD_ERR_VALUE,
                            "no connector defines the tool \"%.80s\": a tool is named "
                            "connector__tool, in [a-z0-9_]",
                            tool);
    r.t_ms = t_ms;
    r.live = s;
    r.e = e;
    r.seen = json_object();
    r.initial = json_object();
    r.expires = json_object();
    r.predating = json_object();
    r.unresolved = json_object();
    r.notes = json_array();
    users = json_array();
    if (!r.seen || !r.initial || !r.expires || !r.predating || !r.unresolved || !r.notes ||
        !users) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = replay_open(&r, e)))
        goto out;
    /* The whole log: events after T still tell what an object was until they changed it. */
    rc = audit_query_run(s, &q, replay_event, &r, NULL, e);
    if (!rc && r.err)
        rc = r.err;
    if (rc)
        goto out;
    /* The access objects whose first event came after T, as they were until then. */
    {
        const char *key;
        json_t *init;
        json_object_foreach(r.initial, key, init)
        {
            const json_t *doc = json_object_get(init, "doc");
            if (doc &&
                (rc = put_object(
                     &r, (enum admin_hist_kind)json_integer_value(json_object_get(init, "kind")),
                     str_of(init, "id"), doc, e)))
                goto out;
        }
    }
    if ((rc = copy_live(&r, e)) || (rc = store_commit(r.c, e)))
        goto out;
    store_release(r.c);
    r.c = NULL;

    if ((rc = access_open(r.rs, &ra, e)))
        goto out;
    rc = access_tool_get(ra, tool, &at, e);
    at_t = rc == MD_OK;
    if (rc == MD_ERR_NOTFOUND) {
        struct access_tool now;
        bool defined_now;
        md_error_clear(e);
        memset(&now, 0, sizeof now);
        defined_now = live && access_tool_get(live, tool, &now, e) == MD_OK;
        access_tool_release(&now);
        md_error_clear(e);
        rc = MD_OK;
        if (!defined_now) {
            rc = md_error_set(e, MD_ERR_VALUE,
                              "no connector defines the tool %.80s, now or at %.64s", tool, time);
            goto out;
        }
        note(&r, "no connector defined the tool at T (it was defined later): nobody could use it");
    }
    if (rc)
        goto out;
    if (at_t && r.any && t_ms >= r.first_ms && (rc = entitled(&r, ra, tool, users, e)))
        goto out;

    if (!r.any)
        note(&r, "the audit log is empty: nothing is known of any time");
    else if (t_ms < r.first_ms)
        note(&r, "T is before the first event of the log (history_starts): nothing is known of "
                 "that time");
    /* Complete: every change up to T is in the log, and each could be applied. */
    o = json_pack("{s:o, s:s, s:s?, s:o, s:b, s:I, s:O}", "time", time_json(t_ms), "tool", tool,
                  "level", at_t ? access_level_name(at.level) : NULL, "history_starts",
                  r.any ? time_json(r.first_ms) : json_null(), "complete",
                  r.any && t_ms >= r.first_ms && !r.pruned && !json_object_size(r.predating) &&
                      !r.skipped,
                  "events_replayed", (json_int_t)r.replayed, "users", users);
    if (!o) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (r.skipped)
        json_object_set_new(o, "events_skipped", json_integer((json_int_t)r.skipped));
    if (r.pruned) {
        json_object_set_new(o, "pruned",
                            json_pack("{s:I, s:o, s:s}", "first_seq", (json_int_t)r.first_seq,
                                      "history_starts", time_json(r.first_ms), "note",
                                      "the log was pruned: events before history_starts were "
                                      "deleted, so what they did is not known"));
    }
    if (json_object_size(r.predating))
        json_object_set_new(o, "unknown", unknown_json(&r));
    json_object_set(o, "notes", r.notes);
    *out = o;
out:
    access_tool_release(&at);
    json_decref(users);
    /* The store first: its poller may still publish to the engine's caches. */
    if (r.c) {
        store_rollback(r.c);
        store_release(r.c);
        r.c = NULL;
    }
    if (r.rs) {
        store_close(r.rs);
        r.rs = NULL;
    }
    access_close(ra);
    replay_free(&r);
    return rc;
}

/* ---- the routes ---- */

void admin_route_access_at(struct admin_ctx *x)
{
    struct md_error e;
    json_t *out = NULL;
    enum md_err rc;

    if (x->nseg != 1) {
        admin_failf(x, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    if (!admin_method_ok(x, "GET"))
        return;
    md_error_clear(&e);
    rc = admin_access_at(x->req->store, x->req->access, admin_query(x, "time"),
                         admin_query(x, "tool"), &out, &e);
    if (rc)
        admin_fail(x, rc, &e);
    else
        admin_reply(x, 200, out);
}

/* Finds the id of a user that exists no more, by id or userName, from the log. */
struct find_user {
    const char *given;
    char id[64];
};

static int find_user_cb(void *ctx, json_t *ev)
{
    struct find_user *f = ctx;
    size_t i;
    json_t *ch;

    if (!str_is(ev, "type", AUDIT_TYPE_SCIM))
        return 0;
    json_array_foreach(json_object_get(ev, "changes"), i, ch)
    {
        const char *id = str_of(ch, "id");
        const char *name = str_of(json_object_get(ch, "after"), "userName");
        if (!str_is(ch, "resource", "User") || !id || strlen(id) >= sizeof f->id)
            continue;
        /* The last user to hold a userName is the one meant. */
        if (strcmp(id, f->given) == 0 || (name && strcasecmp(name, f->given) == 0))
            snprintf(f->id, sizeof f->id, "%s", id);
    }
    return 0;
}

struct hist_run {
    struct admin_hist_user h;
    bool any;
    int64_t first_ms;
    bool pruned;
};

static int hist_cb(void *ctx, json_t *ev)
{
    struct hist_run *hr = ctx;
    int64_t when;

    if (!hr->any && event_ms(ev, &when)) {
        hr->any = true;
        hr->first_ms = when;
        hr->pruned = json_integer_value(json_object_get(ev, "seq")) > 1;
    }
    if (str_is(ev, "type", AUDIT_TYPE_PRUNED))
        hr->pruned = true;
    admin_hist_user_step(&hr->h, ev);
    return 0;
}

void admin_route_user_history(struct admin_ctx *x, const char *id_or_name)
{
    struct audit_query q = {.oldest_first = true};
    struct find_user f = {.given = id_or_name};
    struct hist_run hr;
    struct admin_page page;
    struct md_error e;
    json_t *items, *out = NULL;
    int64_t total, from;
    enum md_err rc;

    memset(&hr, 0, sizeof hr);
    md_error_clear(&e);
    if (admin_page_parse(x, &page))
        return;
    rc = access_user_resolve(x->req->access, id_or_name, f.id, &e);
    if (rc == MD_ERR_NOTFOUND) {
        /* A deleted user has a history too: the log knows its id and userName. */
        md_error_clear(&e);
        f.id[0] = '\0';
        rc = audit_query_run(x->req->store, &q, find_user_cb, &f, NULL, &e);
        if (rc == MD_OK && !f.id[0]) {
            admin_failf(x, MD_ERR_NOTFOUND,
                        "no user has the id or userName \"%.64s\", now or in the audit log",
                        id_or_name);
            return;
        }
    }
    if (rc) {
        admin_fail(x, rc, &e);
        return;
    }
    if (!admin_hist_user_init(&hr.h, f.id)) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        return;
    }
    rc = audit_query_run(x->req->store, &q, hist_cb, &hr, NULL, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    /* Newest first, one page of it. */
    total = (int64_t)json_array_size(hr.h.items);
    items = json_array();
    from = total - page.start_index;
    for (int64_t i = from; items && i >= 0 && i > from - page.count; i--)
        json_array_append(items, json_array_get(hr.h.items, (size_t)i));
    out = json_pack(
        "{s:{s:s, s:s?}, s:o, s:o, s:I, s:I, s:I, s:b}", "user", "id", hr.h.id, "userName",
        hr.h.user_name, "history_starts", hr.any ? time_json(hr.first_ms) : json_null(), "items",
        items, "total", (json_int_t)total, "startIndex", (json_int_t)page.start_index, "count",
        (json_int_t)json_array_size(items), "complete", hr.any && hr.h.created && !hr.pruned);
    if (!out) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!hr.h.created)
        json_object_set_new(out, "note",
                            json_string(hr.pruned ? "the log was pruned: events before "
                                                    "history_starts were deleted"
                                                  : "the user was created before the audit log "
                                                    "begins: its groups from before then are "
                                                    "not known"));
    admin_reply(x, 200, out);
out:
    admin_hist_user_free(&hr.h);
}
