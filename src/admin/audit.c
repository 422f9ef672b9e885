/*
 * /audit: reading the audit log (docs/audit.md).
 *   GET  /audit?filter=F&since=T&until=T&count=N&cursor=C&order=desc|asc   a page of events
 *   GET  /audit/{seq}                                                       one event
 *   GET  /audit/status                                                      the writer's state
 *   GET  /audit/verify                                                      walk the chain now
 * F is a SCIM filter over event fields (`user.userName eq "ann@example.com" and tool sw
 * "stripe__"`), T an RFC 3339 time; pages are newest first unless order=asc, and cursor is the
 * next_cursor of the page before (an event's seq, opaque to clients).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin_int.h"
#include "audit/audit.h"
#include "core/str.h"
#include "core/time.h"

/* An RFC 3339 time parameter into *ms (0 when absent); false (400 answered) when bad. */
static bool time_param(struct admin_ctx *x, const char *name, int64_t *ms)
{
    const char *v = admin_query(x, name);
    *ms = 0;
    if (!v || !*v)
        return true;
    if (!time_parse_rfc3339(v, ms)) {
        admin_failf(x, MD_ERR_VALUE, "\"%s\" must be an RFC 3339 time such as 2026-01-31T00:00:00Z",
                    name);
        return false;
    }
    return true;
}

static int collect(void *ctx, json_t *ev)
{
    return json_array_append(ctx, ev) != 0;
}

static void list(struct admin_ctx *x)
{
    struct audit_query q = {0};
    const char *order = admin_query(x, "order");
    const char *cursor = admin_query(x, "cursor");
    struct admin_page page;
    json_t *events = json_array(), *out;
    int64_t last = 0;
    long long c = 0;
    struct md_error e = {0};
    enum md_err rc;

    if (!events) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        return;
    }
    if (admin_page_parse(x, &page) || !time_param(x, "since", &q.since_ms) ||
        !time_param(x, "until", &q.until_ms))
        goto out;
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        admin_failf(x, MD_ERR_VALUE,
                    "\"order\" is \"desc\" (newest first, the default) or \"asc\"");
        goto out;
    }
    if (cursor && *cursor && !str_to_ll(cursor, strlen(cursor), 1, INT64_MAX, &c)) {
        admin_failf(x, MD_ERR_VALUE, "\"cursor\" must be the next_cursor of a previous page");
        goto out;
    }
    q.oldest_first = order && strcmp(order, "asc") == 0;
    q.after_seq = q.oldest_first ? c : 0;
    q.before_seq = q.oldest_first ? 0 : c;
    q.filter = admin_query(x, "filter");
    q.limit = page.count;
    if (page.count > 0 &&
        (rc = audit_query_run(x->req->store, &q, collect, events, &last, &e)) != MD_OK) {
        admin_fail(x, rc, &e);
        goto out;
    }
    out = json_pack("{s:O, s:I}", "events", events, "count", (json_int_t)json_array_size(events));
    if (out && page.count > 0 && (int64_t)json_array_size(events) == page.count && last > 0) {
        char next[24];
        snprintf(next, sizeof next, "%" PRId64, last);
        json_object_set_new(out, "next_cursor", json_string(next));
    } else if (out) {
        json_object_set_new(out, "next_cursor", json_null());
    }
    if (!out)
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
    else
        admin_reply(x, 200, out);
out:
    json_decref(events);
}

static void get_one(struct admin_ctx *x, const char *id)
{
    long long seq = 0;
    json_t *ev = NULL;
    struct md_error e = {0};
    enum md_err rc;

    if (!str_to_ll(id, strlen(id), 1, INT64_MAX, &seq)) {
        admin_failf(x, MD_ERR_NOTFOUND, "no audit event %.40s: events are numbered 1, 2, 3...", id);
        return;
    }
    rc = audit_get(x->req->store, seq, &ev, &e);
    if (rc)
        admin_fail(x, rc, &e);
    else
        admin_reply(x, 200, ev);
}

static void status(struct admin_ctx *x)
{
    struct audit_stats st;
    struct audit_query q = {.filter = "type eq \"audit.checkpoint\"", .limit = 1};
    json_t *cp = json_array(), *out;
    struct md_error e = {0};
    enum md_err rc;

    audit_stats_get(x->req->audit, &st);
    if (!cp || (rc = audit_query_run(x->req->store, &q, collect, cp, NULL, &e)) != MD_OK) {
        json_decref(cp);
        admin_fail(x, cp ? rc : MD_ERR_NOMEM, &e);
        return;
    }
    out = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "last_checkpoint",
                    json_array_size(cp) ? json_incref(json_array_get(cp, 0)) : json_null(),
                    "writer", "recorded", (json_int_t)st.recorded, "stored", (json_int_t)st.stored,
                    "batches", (json_int_t)st.batches, "failures", (json_int_t)st.failures,
                    "queued", (json_int_t)st.queued, "last_seq", (json_int_t)st.last_seq);
    json_decref(cp);
    if (!out)
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
    else
        admin_reply(x, 200, out);
}

static void verify(struct admin_ctx *x)
{
    struct audit_verify_report r;
    struct md_error e = {0};
    json_t *out;
    enum md_err rc;

    if (!x->req->audit) {
        admin_failf(x, MD_ERR_UNAVAILABLE, "this server keeps no audit log");
        return;
    }
    rc = audit_verify_live(x->req->audit, &r, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        return;
    }
    out = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "ok", r.ok, "events", (json_int_t)r.events,
                    "first_seq", (json_int_t)r.first_seq, "last_seq", (json_int_t)r.last_seq,
                    "checkpoints", (json_int_t)r.checkpoints, "last_checkpoint_seq",
                    (json_int_t)r.last_checkpoint_seq);
    if (out && r.bad_seq)
        json_object_set_new(out, "bad_seq", json_integer(r.bad_seq));
    if (out && r.problem[0])
        json_object_set_new(out, "problem", json_string(r.problem));
    if (out && r.warning[0])
        json_object_set_new(out, "warning", json_string(r.warning));
    if (!out)
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
    else
        admin_reply(x, 200, out);
}

void admin_route_audit(struct admin_ctx *x)
{
    if (x->nseg == 1) {
        if (admin_method_ok(x, "GET"))
            list(x);
    } else if (x->nseg == 2 && strcmp(x->seg[1], "status") == 0) {
        if (admin_method_ok(x, "GET"))
            status(x);
    } else if (x->nseg == 2 && strcmp(x->seg[1], "verify") == 0) {
        if (admin_method_ok(x, "GET"))
            verify(x);
    } else if (x->nseg == 2) {
        if (admin_method_ok(x, "GET"))
            get_one(x, x->seg[1]);
    } else {
        admin_failf(x, MD_ERR_NOTFOUND, "no such endpoint");
    }
}
