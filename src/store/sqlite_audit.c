/*
 * The audit log's rows in SQLite (store.h, "Audit events"). The writer lock is the database's
 * own: store_begin opens BEGIN IMMEDIATE, so a transaction that reads the tail is the only
 * writer until it commits, in this process or any other on the same file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/time.h"
#include "store/sqlite_int.h"

#define AUDIT_COLS "seq, time_ms, type, event_id, prev_hash, hash, doc"

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t n)
{
    snprintf(out, n, "%s", sqlite__col_str(st, i));
}

static enum md_err row_read(sqlite3_stmt *st, struct store_audit_row *r, struct md_error *e)
{
    memset(r, 0, sizeof *r);
    r->seq = sqlite3_column_int64(st, 0);
    r->time_ms = sqlite3_column_int64(st, 1);
    copy_col(st, 2, r->type, sizeof r->type);
    copy_col(st, 3, r->event_id, sizeof r->event_id);
    copy_col(st, 4, r->prev_hash, sizeof r->prev_hash);
    copy_col(st, 5, r->hash, sizeof r->hash);
    r->doc = strdup(sqlite__col_str(st, 6));
    return r->doc ? MD_OK : md_error_set(e, MD_ERR_NOMEM, "out of memory");
}

/* Leases sql and takes its first step; on failure the lease is ended. */
static enum md_err start(struct sq_conn *c, struct sq_lease *l, int *rc, const char *what,
                         struct md_error *e)
{
    *rc = sqlite3_step(l->st);
    if (*rc == SQLITE_ROW || *rc == SQLITE_DONE)
        return MD_OK;
    sqlite__lease_end(l);
    return sqlite__fail(c->db, *rc, what, e);
}

static enum md_err sq_audit_tail(struct store_conn *bc, int64_t *seq, char *hash,
                                 struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    static const char sql[] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1";
    struct sq_lease l;
    enum md_err err;
    int rc;

    if ((err = sqlite__lease_dyn(c, sql, &l, e)) || (err = start(c, &l, &rc, "audit tail", e)))
        return err;
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(l.st, 0);
        snprintf(hash, STORE_AUDIT_HASH_MAX, "%s", sqlite__col_str(l.st, 1));
    }
    sqlite__lease_end(&l);
    return MD_OK;
}

static enum md_err sq_audit_insert(struct store_conn *bc, const struct store_audit_row *r,
                                   struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    static const char sql[] =
        "INSERT INTO audit_events (" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    struct sq_lease l;
    enum md_err err;
    int rc, b = 0;

    if ((err = sqlite__lease_dyn(c, sql, &l, e)))
        return err;
    b |= sqlite3_bind_int64(l.st, 1, r->seq);
    b |= sqlite3_bind_int64(l.st, 2, r->time_ms);
    b |= sqlite3_bind_text(l.st, 3, r->type, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(l.st, 4, r->event_id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(l.st, 5, r->prev_hash, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(l.st, 6, r->hash, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(l.st, 7, r->doc, -1, SQLITE_STATIC);
    if (b) {
        err = sqlite__bind_fail(c, e);
        sqlite__lease_end(&l);
        return err;
    }
    rc = sqlite3_step(l.st);
    if (rc == SQLITE_CONSTRAINT)
        err = md_error_set(e, MD_ERR_UNIQUENESS, "audit event %lld or %s exists already",
                           (long long)r->seq, r->event_id);
    else if (rc != SQLITE_DONE)
        err = sqlite__fail(c->db, rc, "audit insert", e);
    sqlite__lease_end(&l);
    return err;
}

static enum md_err sq_audit_get(struct store_conn *bc, int64_t seq, struct store_audit_row *out,
                                struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    static const char sql[] = "SELECT " AUDIT_COLS " FROM audit_events WHERE seq = ?1";
    struct sq_lease l;
    enum md_err err;
    int rc;

    if ((err = sqlite__lease_dyn(c, sql, &l, e)))
        return err;
    if (sqlite3_bind_int64(l.st, 1, seq)) {
        err = sqlite__bind_fail(c, e);
        sqlite__lease_end(&l);
        return err;
    }
    if ((err = start(c, &l, &rc, "audit get", e)))
        return err;
    if (rc == SQLITE_ROW)
        err = row_read(l.st, out, e);
    else
        err = md_error_set(e, MD_ERR_NOTFOUND, "no audit event %lld", (long long)seq);
    if (err)
        store_audit_row_free(out);
    sqlite__lease_end(&l);
    return err;
}

/*
 * One page of the walk: rows after (or, newest first, before) *cursor within q, at most
 * STORE_AUDIT_PAGE, handed to fn. *more is set when the page was full and fn did not stop.
 */
static enum md_err scan_page(struct sq_conn *c, const struct store_audit_range *q, int64_t *cursor,
                             bool *more, store_audit_fn fn, void *ctx, struct md_error *e)
{
    static const char asc[] =
        "SELECT " AUDIT_COLS " FROM audit_events WHERE seq > ?1 AND (?2 = 0 OR seq <= ?2) "
        "AND (?3 = 0 OR time_ms >= ?3) AND (?4 = 0 OR time_ms < ?4) ORDER BY seq LIMIT ?5";
    static const char desc[] =
        "SELECT " AUDIT_COLS " FROM audit_events WHERE seq < ?1 AND (?2 = 0 OR seq >= ?2) "
        "AND (?3 = 0 OR time_ms >= ?3) AND (?4 = 0 OR time_ms < ?4) ORDER BY seq DESC LIMIT ?5";
    const char *sql = q->desc ? desc : asc;
    struct sq_lease l;
    enum md_err err;
    int rc, n = 0, b = 0;

    *more = false;
    if ((err = sqlite__lease_dyn(c, sql, &l, e)))
        return err;
    b |= sqlite3_bind_int64(l.st, 1, *cursor);
    b |= sqlite3_bind_int64(l.st, 2, q->desc ? q->from_seq : q->to_seq);
    b |= sqlite3_bind_int64(l.st, 3, q->since_ms);
    b |= sqlite3_bind_int64(l.st, 4, q->until_ms);
    b |= sqlite3_bind_int64(l.st, 5, STORE_AUDIT_PAGE);
    if (b) {
        err = sqlite__bind_fail(c, e);
        sqlite__lease_end(&l);
        return err;
    }
    for (rc = sqlite3_step(l.st); rc == SQLITE_ROW; rc = sqlite3_step(l.st)) {
        struct store_audit_row r;
        int stop;
        if ((err = row_read(l.st, &r, e))) {
            store_audit_row_free(&r);
            break;
        }
        *cursor = r.seq;
        n++;
        stop = fn(ctx, &r);
        store_audit_row_free(&r);
        if (stop) {
            n = -1;
            break;
        }
    }
    if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sqlite__fail(c->db, rc, "audit scan", e);
    sqlite__lease_end(&l);
    *more = !err && n == STORE_AUDIT_PAGE;
    return err;
}

static enum md_err sq_audit_scan(struct store_conn *bc, const struct store_audit_range *q,
                                 store_audit_fn fn, void *ctx, struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    int64_t cursor;
    bool more = true;
    enum md_err err = MD_OK;

    if (q->desc)
        cursor = q->to_seq > 0 ? q->to_seq + 1 : INT64_MAX;
    else
        cursor = q->from_seq > 0 ? q->from_seq - 1 : 0;
    while (more && !err)
        err = scan_page(c, q, &cursor, &more, fn, ctx, e);
    return err;
}

static enum md_err sq_audit_has_event(struct store_conn *bc, const char *event_id, bool *has,
                                      struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    static const char sql[] = "SELECT 1 FROM audit_events WHERE event_id = ?1";
    struct sq_lease l;
    enum md_err err;
    int rc;

    if ((err = sqlite__lease_dyn(c, sql, &l, e)))
        return err;
    if (sqlite3_bind_text(l.st, 1, event_id, -1, SQLITE_STATIC)) {
        err = sqlite__bind_fail(c, e);
        sqlite__lease_end(&l);
        return err;
    }
    if ((err = start(c, &l, &rc, "audit event lookup", e)))
        return err;
    *has = rc == SQLITE_ROW;
    sqlite__lease_end(&l);
    return MD_OK;
}

/* Runs sql with one integer and one optional text parameter; *changes gets the rows changed. */
static enum md_err run_int(struct sq_conn *c, const char *sql, const char *text, int64_t i,
                           int64_t *changes, const char *what, struct md_error *e)
{
    struct sq_lease l;
    enum md_err err;
    int rc, b = 0;

    if ((err = sqlite__lease_dyn(c, sql, &l, e)))
        return err;
    b |= sqlite3_bind_int64(l.st, 1, i);
    if (text)
        b |= sqlite3_bind_text(l.st, 2, text, -1, SQLITE_STATIC);
    b |= text ? sqlite3_bind_int64(l.st, 3, time_now_ms()) : 0;
    if (b) {
        err = sqlite__bind_fail(c, e);
        sqlite__lease_end(&l);
        return err;
    }
    rc = sqlite3_step(l.st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = sqlite__fail(c->db, rc, what, e);
    else if (changes)
        *changes = sqlite3_changes(c->db);
    sqlite__lease_end(&l);
    return err;
}

static enum md_err sq_audit_prune(struct store_conn *bc, int64_t below, int64_t *deleted,
                                  struct md_error *e)
{
    return run_int(sqlite__conn(bc), "DELETE FROM audit_events WHERE seq < ?1", NULL, below,
                   deleted, "audit prune", e);
}

static enum md_err sq_audit_cursor_get(struct store_conn *bc, const char *name, int64_t *seq,
                                       struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    static const char sql[] = "SELECT seq FROM audit_cursors WHERE name = ?1";
    struct sq_lease l;
    enum md_err err;
    int rc;

    if ((err = sqlite__lease_dyn(c, sql, &l, e)))
        return err;
    if (sqlite3_bind_text(l.st, 1, name, -1, SQLITE_STATIC)) {
        err = sqlite__bind_fail(c, e);
        sqlite__lease_end(&l);
        return err;
    }
    if ((err = start(c, &l, &rc, "audit cursor", e)))
        return err;
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(l.st, 0);
    sqlite__lease_end(&l);
    return MD_OK;
}

static enum md_err sq_audit_cursor_set(struct store_conn *bc, const char *name, int64_t seq,
                                       struct md_error *e)
{
    return run_int(sqlite__conn(bc),
                   "INSERT INTO audit_cursors (seq, name, modified_ms) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, "
                   "modified_ms = excluded.modified_ms",
                   name, seq, NULL, "audit cursor update", e);
}

const struct store_audit_ops sqlite__audit_ops = {
    .tail = sq_audit_tail,
    .insert = sq_audit_insert,
    .get = sq_audit_get,
    .scan = sq_audit_scan,
    .has_event = sq_audit_has_event,
    .prune = sq_audit_prune,
    .cursor_get = sq_audit_cursor_get,
    .cursor_set = sq_audit_cursor_set,
};
