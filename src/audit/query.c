/*
 * Reading the log: a SCIM filter over event fields (`user.userName eq "ann@example.com" and
 * tool sw "stripe__"`), a time range and paging by seq; one event by seq; and pruning.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "core/log.h"
#include "scim/filter.h"
#include "store/store.h"

/* The stored document with its chain columns, as the API shows an event. */
static json_t *event_json(const struct store_audit_row *row)
{
    json_t *ev = json_loads(row->doc, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        /* A damaged row is shown as such rather than hidden: verify names it. */
        ev = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)row->seq, "type", row->type, "damaged",
                       "the stored document does not parse");
        if (!ev)
            return NULL;
    }
    json_object_set_new(ev, "prev_hash", json_string(row->prev_hash));
    json_object_set_new(ev, "hash", json_string(row->hash));
    return ev;
}

struct run {
    const struct audit_query *q;
    struct filter_node *f;
    audit_event_fn fn;
    void *ctx;
    int64_t n;
    int64_t last_seq;
    bool nomem;
};

static int visit(void *ctx, const struct store_audit_row *row)
{
    struct run *r = ctx;
    json_t *ev = event_json(row);
    int stop;

    if (!ev) {
        r->nomem = true;
        return 1;
    }
    if (r->f && !scim_filter_match(r->f, ev, NULL, false)) {
        json_decref(ev);
        return 0;
    }
    r->last_seq = row->seq;
    stop = r->fn(r->ctx, ev);
    json_decref(ev);
    r->n++;
    return stop || (r->q->limit > 0 && r->n >= r->q->limit);
}

enum md_err audit_query_run(struct store *s, const struct audit_query *q, audit_event_fn fn,
                            void *ctx, int64_t *last_seq, struct md_error *e)
{
    struct run r = {.q = q, .fn = fn, .ctx = ctx};
    struct store_audit_range range = {
        .since_ms = q->since_ms,
        .until_ms = q->until_ms,
        .desc = !q->oldest_first,
    };
    struct store_conn *c = NULL;
    enum md_err rc;

    if (last_seq)
        *last_seq = 0;
    if (q->filter && q->filter[0] &&
        (rc = scim_filter_parse(q->filter, strlen(q->filter), &r.f, e)))
        return rc;
    if (q->oldest_first)
        range.from_seq = q->after_seq > 0 ? q->after_seq + 1 : 0;
    else
        range.to_seq = q->before_seq > 0 ? q->before_seq - 1 : 0;
    if (!q->oldest_first && q->before_seq == 1)
        goto out; /* nothing is older than event 1 */
    if ((rc = store_acquire(s, &c, e)))
        goto out;
    rc = store_audit_scan(c, &range, visit, &r, e);
    store_release(c);
    if (!rc && r.nomem)
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
out:
    scim_filter_free(r.f);
    if (last_seq)
        *last_seq = r.last_seq;
    return rc;
}

enum md_err audit_get(struct store *s, int64_t seq, json_t **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    struct store_audit_row row;
    enum md_err rc;

    *out = NULL;
    if ((rc = store_acquire(s, &c, e)))
        return rc;
    rc = store_audit_get(c, seq, &row, e);
    store_release(c);
    if (rc)
        return rc;
    *out = event_json(&row);
    store_audit_row_free(&row);
    return *out ? MD_OK : md_error_set(e, MD_ERR_NOMEM, "out of memory");
}

/* The first event at or after before_ms: everything before it goes. */
struct cut {
    int64_t before_ms;
    int64_t below; /* the first seq kept */
    int64_t last_seq;
    char last_hash[STORE_AUDIT_HASH_MAX];
};

static int find_cut(void *ctx, const struct store_audit_row *row)
{
    struct cut *c = ctx;
    if (row->time_ms >= c->before_ms) {
        c->below = row->seq;
        return 1;
    }
    c->last_seq = row->seq;
    snprintf(c->last_hash, sizeof c->last_hash, "%s", row->hash);
    return 0;
}

enum md_err audit_prune(struct audit *a, int64_t before_ms, int64_t *removed, struct md_error *e)
{
    struct store *s = audit__store(a);
    struct cut cut = {.before_ms = before_ms};
    struct store_conn *c = NULL;
    unsigned char key[AUDIT_KEY_LEN];
    char mac[65] = "";
    json_t *ev;
    enum md_err rc;

    *removed = 0;
    /* Everything recorded so far is in the database, so the cut sees all of it. */
    if ((rc = audit_flush(a, e)))
        return rc;
    if ((rc = store_acquire(s, &c, e)))
        return rc;
    rc = store_audit_scan(c, NULL, find_cut, &cut, e);
    store_release(c);
    if (rc || cut.last_seq == 0 || cut.below == 0)
        return rc; /* nothing older, or everything is: the newest event always stays */
    if (audit__key(a, key)) {
        audit_checkpoint_mac(key, cut.last_seq, cut.last_hash, mac);
        explicit_bzero(key, sizeof key);
    }
    /* The record goes first: a crash between the two leaves a log that still verifies. */
    ev = json_pack("{s:s, s:I, s:s, s:s?}", "type", AUDIT_TYPE_PRUNED, "below_seq",
                   (json_int_t)cut.below, "last_removed_hash", cut.last_hash, "mac",
                   mac[0] ? mac : NULL);
    if (!ev)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    audit_record(a, ev);
    if ((rc = audit_flush(a, e)))
        return rc;
    if ((rc = store_acquire(s, &c, e)))
        return rc;
    rc = store_audit_prune(c, cut.below, removed, e);
    store_release(c);
    if (rc == MD_OK)
        log_info("event=audit_pruned below_seq=%" PRId64 " removed=%" PRId64, cut.below, *removed);
    return rc;
}
