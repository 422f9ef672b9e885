/*
 * The audit log's rows in PostgreSQL (store.h, "Audit events"). Nodes that share the database
 * write to one chain: store_audit_tail takes a transaction-scoped advisory lock first, so one
 * writer at a time reads the tail and appends after it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/time.h"
#include "store/pg_int.h"

#define AUDIT_COLS "seq, time_ms, type, event_id, prev_hash, hash, doc"
/* The advisory lock's key: "mandate-audit" folded to a bigint, so unlikely to meet another's. */
#define AUDIT_LOCK_KEY "7301946255134917"

static enum md_err row_read(const PGresult *res, int i, struct store_audit_row *r,
                            struct md_error *e)
{
    memset(r, 0, sizeof *r);
    pg__get_i64(res, i, 0, &r->seq);
    pg__get_i64(res, i, 1, &r->time_ms);
    snprintf(r->type, sizeof r->type, "%s", PQgetvalue(res, i, 2));
    snprintf(r->event_id, sizeof r->event_id, "%s", PQgetvalue(res, i, 3));
    snprintf(r->prev_hash, sizeof r->prev_hash, "%s", PQgetvalue(res, i, 4));
    snprintf(r->hash, sizeof r->hash, "%s", PQgetvalue(res, i, 5));
    r->doc = strdup(PQgetvalue(res, i, 6));
    return r->doc ? MD_OK : md_error_set(e, MD_ERR_NOMEM, "out of memory");
}

static enum md_err pg_audit_tail(struct store_conn *bc, int64_t *seq, char *hash,
                                 struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    PGresult *res;
    enum md_err err;

    err = pg__exec_dyn(c, "SELECT pg_advisory_xact_lock(" AUDIT_LOCK_KEY ")", NULL, 0, &res, e);
    if (err)
        return err;
    PQclear(res);
    err = pg__exec_dyn(c, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1", NULL, 0,
                       &res, e);
    if (err)
        return err;
    if (PQntuples(res) > 0) {
        pg__get_i64(res, 0, 0, seq);
        snprintf(hash, STORE_AUDIT_HASH_MAX, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return MD_OK;
}

static enum md_err pg_audit_insert(struct store_conn *bc, const struct store_audit_row *r,
                                   struct md_error *e)
{
    char seq[24], t[24];
    const char *args[7] = {seq, t, r->type, r->event_id, r->prev_hash, r->hash, r->doc};
    PGresult *res;
    enum md_err err;

    snprintf(seq, sizeof seq, "%" PRId64, r->seq);
    snprintf(t, sizeof t, "%" PRId64, r->time_ms);
    err = pg__exec_dyn(pg__conn(bc),
                       "INSERT INTO audit_events (" AUDIT_COLS ") VALUES ($1::bigint, "
                       "$2::bigint, $3, $4, $5, $6, $7)",
                       args, 7, &res, e);
    if (err == MD_ERR_UNIQUENESS)
        return md_error_set(e, MD_ERR_UNIQUENESS, "audit event %" PRId64 " or %s exists already",
                            r->seq, r->event_id);
    if (!err)
        PQclear(res);
    return err;
}

static enum md_err pg_audit_get(struct store_conn *bc, int64_t seq, struct store_audit_row *out,
                                struct md_error *e)
{
    char s[24];
    const char *args[1] = {s};
    PGresult *res;
    enum md_err err;

    snprintf(s, sizeof s, "%" PRId64, seq);
    err =
        pg__exec_dyn(pg__conn(bc), "SELECT " AUDIT_COLS " FROM audit_events WHERE seq = $1::bigint",
                     args, 1, &res, e);
    if (err)
        return err;
    if (PQntuples(res) > 0)
        err = row_read(res, 0, out, e);
    else
        err = md_error_set(e, MD_ERR_NOTFOUND, "no audit event %" PRId64, seq);
    if (err)
        store_audit_row_free(out);
    PQclear(res);
    return err;
}

static enum md_err pg_audit_scan(struct store_conn *bc, const struct store_audit_range *q,
                                 store_audit_fn fn, void *ctx, struct md_error *e)
{
    static const char asc[] =
        "SELECT " AUDIT_COLS " FROM audit_events WHERE seq > $1::bigint "
        "AND ($2::bigint = 0 OR seq <= $2::bigint) AND ($3::bigint = 0 OR time_ms >= $3::bigint) "
        "AND ($4::bigint = 0 OR time_ms < $4::bigint) ORDER BY seq LIMIT $5::bigint";
    static const char desc[] =
        "SELECT " AUDIT_COLS " FROM audit_events WHERE seq < $1::bigint "
        "AND ($2::bigint = 0 OR seq >= $2::bigint) AND ($3::bigint = 0 OR time_ms >= $3::bigint) "
        "AND ($4::bigint = 0 OR time_ms < $4::bigint) ORDER BY seq DESC LIMIT $5::bigint";
    char cur[24], bound[24], since[24], until[24], page[24];
    const char *args[5] = {cur, bound, since, until, page};
    int64_t cursor;
    bool more = true;
    enum md_err err = MD_OK;

    if (q->desc)
        cursor = q->to_seq > 0 ? q->to_seq + 1 : INT64_MAX;
    else
        cursor = q->from_seq > 0 ? q->from_seq - 1 : 0;
    snprintf(bound, sizeof bound, "%" PRId64, q->desc ? q->from_seq : q->to_seq);
    snprintf(since, sizeof since, "%" PRId64, q->since_ms);
    snprintf(until, sizeof until, "%" PRId64, q->until_ms);
    snprintf(page, sizeof page, "%d", STORE_AUDIT_PAGE);
    while (more && !err) {
        PGresult *res;
        int n, i;

        snprintf(cur, sizeof cur, "%" PRId64, cursor);
        err = pg__exec_dyn(pg__conn(bc), q->desc ? desc : asc, args, 5, &res, e);
        if (err)
            break;
        n = PQntuples(res);
        more = n == STORE_AUDIT_PAGE;
        for (i = 0; i < n && !err; i++) {
            struct store_audit_row r;
            if ((err = row_read(res, i, &r, e)) == MD_OK) {
                cursor = r.seq;
                if (fn(ctx, &r))
                    more = false, i = n;
            }
            store_audit_row_free(&r);
        }
        PQclear(res);
    }
    return err;
}

static enum md_err pg_audit_has_event(struct store_conn *bc, const char *event_id, bool *has,
                                      struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec_dyn(pg__conn(bc), "SELECT 1 FROM audit_events WHERE event_id = $1",
                                   &event_id, 1, &res, e);
    if (err)
        return err;
    *has = PQntuples(res) > 0;
    PQclear(res);
    return MD_OK;
}

static enum md_err pg_audit_prune(struct store_conn *bc, int64_t below, int64_t *deleted,
                                  struct md_error *e)
{
    char b[24];
    const char *args[1] = {b};
    PGresult *res;
    enum md_err err;

    snprintf(b, sizeof b, "%" PRId64, below);
    err = pg__exec_dyn(pg__conn(bc), "DELETE FROM audit_events WHERE seq < $1::bigint", args, 1,
                       &res, e);
    if (err)
        return err;
    {
        const char *n = PQcmdTuples(res);
        *deleted = n && *n ? strtoll(n, NULL, 10) : 0;
    }
    PQclear(res);
    return MD_OK;
}

static enum md_err pg_audit_cursor_get(struct store_conn *bc, const char *name, int64_t *seq,
                                       struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec_dyn(pg__conn(bc), "SELECT seq FROM audit_cursors WHERE name = $1",
                                   &name, 1, &res, e);
    if (err)
        return err;
    if (PQntuples(res) > 0)
        pg__get_i64(res, 0, 0, seq);
    PQclear(res);
    return MD_OK;
}

static enum md_err pg_audit_cursor_set(struct store_conn *bc, const char *name, int64_t seq,
                                       struct md_error *e)
{
    char s[24], t[24];
    const char *args[3] = {name, s, t};
    PGresult *res;
    enum md_err err;

    snprintf(s, sizeof s, "%" PRId64, seq);
    snprintf(t, sizeof t, "%" PRId64, time_now_ms());
    err = pg__exec_dyn(pg__conn(bc),
                       "INSERT INTO audit_cursors (name, seq, modified_ms) VALUES ($1, $2::bigint, "
                       "$3::bigint) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, "
                       "modified_ms = excluded.modified_ms",
                       args, 3, &res, e);
    if (!err)
        PQclear(res);
    return err;
}

const struct store_audit_ops pg__audit_ops = {
    .tail = pg_audit_tail,
    .insert = pg_audit_insert,
    .get = pg_audit_get,
    .scan = pg_audit_scan,
    .has_event = pg_audit_has_event,
    .prune = pg_audit_prune,
    .cursor_get = pg_audit_cursor_get,
    .cursor_set = pg_audit_cursor_set,
};
