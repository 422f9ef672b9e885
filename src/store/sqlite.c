/*
 * The SQLite backend of the store (store_int.h).
 *
 * Each pooled connection owns one sqlite3 handle opened with SQLITE_OPEN_NOMUTEX: the pool
 * guarantees that one thread at a time uses it, so SQLite's own mutexes would be pure cost.
 * The database runs in WAL mode with synchronous=NORMAL: a commit is in the operating system's
 * hands once it returns, which survives a SIGKILL of the process (not a power cut), and
 * readers never block the single writer. Writers wait up to SQ_BUSY_TIMEOUT_MS for each other;
 * after that the caller hears MD_ERR_UNAVAILABLE.
 *
 * Every fixed statement is prepared once per connection and reused; the SQL that
 * store_res_query compiles from a predicate tree is kept in a small per-connection cache keyed
 * by its text, because a provisioning client repeats the same few filters
 * (userName eq "...", externalId eq "...") with different values, and values are always bound
 * parameters, never part of the text.
 *
 * Case-insensitive matching uses SQLite's lower() and NOCASE, which fold ASCII letters only; a
 * userName that differs from another only in the case of a non-ASCII letter is a different
 * userName here.
 */
#include "store/store_int.h"

#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "core/time.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_DYN_MAX 16
/* RETURNING (3.35), NULLS LAST (3.30) and the built-in JSON functions. */
#define SQ_MIN_VERSION 3035000
/* julianday('1970-01-01') in milliseconds: turns a Julian day into epoch milliseconds. */
#define SQ_EPOCH_JD_MS "210866760000000"

/* ---- schema ---- */

/*
 * The migrations, in order; migration i+1 is recorded in schema_version once applied. Never
 * edit one that has shipped: append a new one. Membership is a table with a row per member, so
 * that adding or removing one member costs the same in any group; seq keeps insertion order
 * within a group.
 */
static const char *const sq_migrations[] = {
    /* 1: SCIM resources, membership and tokens. */
    "CREATE TABLE users ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " user_name TEXT NOT NULL,"
    " user_name_lc TEXT NOT NULL UNIQUE,"
    " display_name TEXT,"
    " external_id TEXT,"
    " active INTEGER NOT NULL DEFAULT 1,"
    " created_ms INTEGER NOT NULL,"
    " modified_ms INTEGER NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 1,"
    " doc TEXT NOT NULL CHECK (json_valid(doc)));"
    "CREATE INDEX users_external_id ON users (external_id);"
    "CREATE INDEX users_display_name ON users (lower(display_name));"
    "CREATE INDEX users_created ON users (created_ms, id);"
    "CREATE TABLE groups ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " display_name TEXT,"
    " external_id TEXT,"
    " created_ms INTEGER NOT NULL,"
    " modified_ms INTEGER NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 1,"
    " doc TEXT NOT NULL CHECK (json_valid(doc)));"
    "CREATE INDEX groups_external_id ON groups (external_id);"
    "CREATE INDEX groups_display_name ON groups (lower(display_name));"
    "CREATE INDEX groups_created ON groups (created_ms, id);"
    "CREATE TABLE group_members ("
    " group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
    " member_id TEXT NOT NULL,"
    " member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),"
    " display TEXT,"
    " seq INTEGER NOT NULL,"
    " PRIMARY KEY (group_id, member_id)) WITHOUT ROWID;"
    "CREATE INDEX group_members_member ON group_members (member_id);"
    "CREATE INDEX group_members_seq ON group_members (group_id, seq);"
    "CREATE TABLE tokens ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " kind TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " hash TEXT NOT NULL UNIQUE,"
    " created_ms INTEGER NOT NULL,"
    " last_used_ms INTEGER NOT NULL DEFAULT 0,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX tokens_kind ON tokens (kind);",
};

#define SQ_NMIGRATIONS ((int)(sizeof sq_migrations / sizeof sq_migrations[0]))

/* ---- fixed statements ---- */

/* Users' and groups' variants are adjacent, users first: the groups' one is id + STORE_GROUPS. */
/* clang-format off */
enum sq_id {
    Q_BEGIN, Q_BEGIN_READ, Q_COMMIT, Q_ROLLBACK,
    Q_INSERT_U, Q_INSERT_G, Q_UPDATE_U, Q_UPDATE_G, Q_VERSION_U, Q_VERSION_G,
    Q_TOUCH_U, Q_TOUCH_G, Q_DELETE_U, Q_DELETE_G, Q_GET_U, Q_GET_G, Q_EXISTS_U, Q_EXISTS_G,
    Q_MEMBER_ADD, Q_MEMBER_REMOVE, Q_MEMBER_HAS, Q_MEMBER_CLEAR, Q_MEMBER_DROP, Q_MEMBER_LIST,
    Q_MEMBER_GROUPS,
    Q_TOKEN_INSERT, Q_TOKEN_FIND, Q_TOKEN_LIST, Q_TOKEN_REVOKE, Q_TOKEN_TOUCH, Q_TOKEN_COUNT,
    Q__COUNT
};
/* clang-format on */

#define U_COLS                                                                                     \
    "r.id, r.doc, r.user_name, r.display_name, r.external_id, r.active, r.created_ms, "            \
    "r.modified_ms, r.version"
#define G_COLS                                                                                     \
    "r.id, r.doc, NULL, r.display_name, r.external_id, 1, r.created_ms, r.modified_ms, "           \
    "r.version"
#define TOKEN_COLS "id, kind, name, hash, created_ms, last_used_ms, revoked"

/*
 * Parameters of the resource statements are numbered alike for users and groups (?1 id,
 * ?2 userName, ?3 displayName, ?4 externalId, ?5 active, ?6 created, ?7 modified, ?8 doc,
 * ?9 expected version), so one binding serves both; a group's statement skips what it lacks.
 */
static const struct {
    const char *name;
    const char *sql;
} sq_sql[Q__COUNT] = {
    [Q_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [Q_BEGIN_READ] = {"begin_read", "BEGIN"},
    [Q_COMMIT] = {"commit", "COMMIT"},
    [Q_ROLLBACK] = {"rollback", "ROLLBACK"},
    [Q_INSERT_U] = {"user_insert",
                    "INSERT INTO users (id, user_name, user_name_lc, display_name, external_id, "
                    "active, created_ms, modified_ms, version, doc) "
                    "VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?7, 1, ?8)"},
    [Q_INSERT_G] = {"group_insert",
                    "INSERT INTO groups (id, display_name, external_id, created_ms, "
                    "modified_ms, version, doc) VALUES (?1, ?3, ?4, ?6, ?7, 1, ?8)"},
    [Q_UPDATE_U] = {"user_update",
                    "UPDATE users SET user_name = ?2, user_name_lc = lower(?2), "
                    "display_name = ?3, external_id = ?4, active = ?5, modified_ms = ?7, "
                    "doc = ?8, version = version + 1 "
                    "WHERE id = ?1 AND (?9 < 0 OR version = ?9) RETURNING version"},
    [Q_UPDATE_G] = {"group_update",
                    "UPDATE groups SET display_name = ?3, external_id = ?4, modified_ms = ?7, "
                    "doc = ?8, version = version + 1 "
                    "WHERE id = ?1 AND (?9 < 0 OR version = ?9) RETURNING version"},
    [Q_VERSION_U] = {"user_version", "SELECT version FROM users WHERE id = ?1"},
    [Q_VERSION_G] = {"group_version", "SELECT version FROM groups WHERE id = ?1"},
    [Q_TOUCH_U] = {"user_touch", "UPDATE users SET modified_ms = ?2, version = version + 1 "
                                 "WHERE id = ?1 RETURNING version"},
    [Q_TOUCH_G] = {"group_touch", "UPDATE groups SET modified_ms = ?2, version = version + 1 "
                                  "WHERE id = ?1 RETURNING version"},
    [Q_DELETE_U] = {"user_delete", "DELETE FROM users WHERE id = ?1"},
    [Q_DELETE_G] = {"group_delete", "DELETE FROM groups WHERE id = ?1"},
    [Q_GET_U] = {"user_get", "SELECT " U_COLS " FROM users AS r WHERE r.id = ?1"},
    [Q_GET_G] = {"group_get", "SELECT " G_COLS " FROM groups AS r WHERE r.id = ?1"},
    [Q_EXISTS_U] = {"user_exists", "SELECT 1 FROM users WHERE id = ?1"},
    [Q_EXISTS_G] = {"group_exists", "SELECT 1 FROM groups WHERE id = ?1"},
    /* The next seq comes from the (group_id, seq) index: one probe, whatever the group's size. */
    [Q_MEMBER_ADD] = {"member_add",
                      "INSERT INTO group_members (group_id, member_id, member_type, display, seq) "
                      "VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 "
                      "FROM group_members WHERE group_id = ?1)) "
                      "ON CONFLICT (group_id, member_id) DO NOTHING"},
    [Q_MEMBER_REMOVE] = {"member_remove",
                         "DELETE FROM group_members WHERE group_id = ?1 AND member_id = ?2"},
    [Q_MEMBER_HAS] = {"member_has",
                      "SELECT 1 FROM group_members WHERE group_id = ?1 AND member_id = ?2"},
    [Q_MEMBER_CLEAR] = {"member_clear", "DELETE FROM group_members WHERE group_id = ?1"},
    [Q_MEMBER_DROP] = {"member_drop", "DELETE FROM group_members WHERE member_id = ?1"},
    [Q_MEMBER_LIST] = {"member_list",
                       "SELECT m.member_id, m.member_type, coalesce(m.display, "
                       "nullif(u.display_name, ''), u.user_name, g.display_name) "
                       "FROM group_members AS m "
                       "LEFT JOIN users AS u ON m.member_type = 'User' AND u.id = m.member_id "
                       "LEFT JOIN groups AS g ON m.member_type = 'Group' AND g.id = m.member_id "
                       "WHERE m.group_id = ?1 ORDER BY m.seq"},
    /*
     * UNION (not UNION ALL) drops a group already reached, so a cycle of nested groups ends.
     * A group is not reported as a group of itself, even when a cycle leads back to it.
     */
    [Q_MEMBER_GROUPS] = {"member_groups",
                         "WITH RECURSIVE up (gid) AS ("
                         " SELECT group_id FROM group_members WHERE member_id = ?1"
                         " UNION"
                         " SELECT m.group_id FROM group_members AS m JOIN up"
                         " ON m.member_id = up.gid WHERE m.member_type = 'Group') "
                         "SELECT up.gid, g.display_name, EXISTS (SELECT 1 FROM group_members AS d"
                         " WHERE d.group_id = up.gid AND d.member_id = ?1) "
                         "FROM up LEFT JOIN groups AS g ON g.id = up.gid "
                         "WHERE up.gid <> ?1 ORDER BY lower(g.display_name), up.gid"},
    [Q_TOKEN_INSERT] = {"token_insert",
                        "INSERT INTO tokens (" TOKEN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [Q_TOKEN_FIND] = {"token_find",
                      "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1 AND revoked = 0"},
    [Q_TOKEN_LIST] = {"token_list", "SELECT " TOKEN_COLS " FROM tokens ORDER BY created_ms, id"},
    [Q_TOKEN_REVOKE] = {"token_revoke", "UPDATE tokens SET revoked = 1 WHERE id = ?1"},
    [Q_TOKEN_TOUCH] = {"token_touch", "UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1"},
    [Q_TOKEN_COUNT] = {"token_count", "SELECT count(*) FROM tokens WHERE kind = ?1"},
};

/* ---- connections ---- */

/* The backend's state (store.impl) is the database path, a heap string. */

/*
 * A prepared statement kept for reuse: slot i < Q__COUNT holds fixed statement i, the others
 * the most recently used compiled queries, keyed by their SQL text (own).
 */
struct sq_cached {
    sqlite3_stmt *st;
    char *own;
    uint64_t used;
    bool busy;
};

struct sq_conn {
    struct store_conn base; /* first: store.c sees only this */
    sqlite3 *db;
    struct sq_cached cache[Q__COUNT + SQ_DYN_MAX];
    uint64_t tick;
};

/*
 * A statement in use. A cached statement is marked busy while leased, so that a callback that
 * re-enters the store on the same connection (say, from store_member_list) gets a fresh one-off
 * statement instead of resetting the walk under its caller's feet.
 */
struct sq_lease {
    sqlite3_stmt *st;
    bool *busy; /* NULL for a one-off statement, finalized at the end */
};

static struct sq_conn *sq(struct store_conn *c)
{
    return (struct sq_conn *)c;
}

static enum md_err sq_constraint(int rc, const char *msg, struct md_error *e)
{
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        if (strstr(msg, "users.user_name_lc"))
            return md_error_set(e, MD_ERR_UNIQUENESS, "a User with this userName already exists");
        if (strstr(msg, "tokens.hash"))
            return md_error_set(e, MD_ERR_UNIQUENESS, "a token with this hash already exists");
        if (strstr(msg, "tokens.id"))
            return md_error_set(e, MD_ERR_UNIQUENESS, "a token with this id already exists");
        if (strstr(msg, ".id"))
            return md_error_set(e, MD_ERR_UNIQUENESS, "a resource with this id already exists");
        return md_error_set(e, MD_ERR_UNIQUENESS, "a unique value is already taken");
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return md_error_set(e, MD_ERR_NOTFOUND, "the group does not exist");
    /* SQLite names the constraint and the column, never the value. */
    return md_error_set(e, MD_ERR_VALUE, "a value breaks a database constraint: %s", msg);
}

/* Maps a SQLite failure to the project's errors; what names the operation for the message. */
static enum md_err sq_fail(sqlite3 *db, int rc, const char *what, struct md_error *e)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return md_error_set(e, MD_ERR_UNAVAILABLE, "the database is busy (%s); try again", what);
    case SQLITE_NOMEM:
        return md_error_set(e, MD_ERR_NOMEM, "out of memory in the database (%s)", what);
    case SQLITE_CONSTRAINT:
        return sq_constraint(rc, sqlite3_errmsg(db), e);
    default:
        return md_error_set(e, MD_ERR_IO, "database error (%s): %s", what, sqlite3_errmsg(db));
    }
}

/* Prepares sql into slot f (NULL: a one-off statement) and leases it. */
static enum md_err lease_new(struct sq_conn *c, struct sq_cached *f, const char *sql,
                             const char *what, struct sq_lease *l, struct md_error *e)
{
    int rc = sqlite3_prepare_v3(c->db, sql, -1, f ? SQLITE_PREPARE_PERSISTENT : 0, &l->st, NULL);

    if (rc != SQLITE_OK)
        return sq_fail(c->db, rc, what, e);
    if (f) {
        sqlite3_finalize(f->st);
        f->st = l->st;
        f->busy = true;
        f->used = c->tick;
        l->busy = &f->busy;
    }
    return MD_OK;
}

static void lease_cached(struct sq_conn *c, struct sq_cached *f, struct sq_lease *l)
{
    f->busy = true;
    f->used = c->tick;
    l->st = f->st;
    l->busy = &f->busy;
}

static enum md_err lease_fixed(struct sq_conn *c, enum sq_id id, struct sq_lease *l,
                               struct md_error *e)
{
    struct sq_cached *f = &c->cache[id];

    l->st = NULL;
    l->busy = NULL;
    if (f->st && !f->busy) {
        lease_cached(c, f, l);
        return MD_OK;
    }
    return lease_new(c, f->st ? NULL : f, sq_sql[id].sql, sq_sql[id].name, l, e);
}

/* The cached statement for sql, else a new one that replaces the least recently used. */
static enum md_err lease_dyn(struct sq_conn *c, const char *sql, struct sq_lease *l,
                             struct md_error *e)
{
    struct sq_cached *f, *victim = NULL;
    char *copy;
    enum md_err err;

    l->st = NULL;
    l->busy = NULL;
    c->tick++;
    for (f = &c->cache[Q__COUNT]; f < &c->cache[Q__COUNT + SQ_DYN_MAX]; f++) {
        if (f->busy)
            continue;
        if (f->st && strcmp(f->own, sql) == 0) {
            lease_cached(c, f, l);
            return MD_OK;
        }
        if (!victim || (victim->st && (!f->st || f->used < victim->used)))
            victim = f;
    }
    copy = victim ? strdup(sql) : NULL;
    err = lease_new(c, copy ? victim : NULL, sql, "query", l, e);
    /* A tree within our limits can still be too deep for SQLite's parser. */
    if (err == MD_ERR_IO &&
        (strstr(sqlite3_errmsg(c->db), "stack overflow") ||
         strstr(sqlite3_errmsg(c->db), "too large") || strstr(sqlite3_errmsg(c->db), "too many")))
        err = md_error_set(e, MD_ERR_FILTER, "the filter is too complex");
    if (!err && copy) {
        free(victim->own);
        victim->own = copy;
        copy = NULL;
    }
    free(copy);
    return err;
}

static void lease_end(struct sq_lease *l)
{
    if (!l->st)
        return;
    if (l->busy) {
        sqlite3_reset(l->st);
        sqlite3_clear_bindings(l->st);
        *l->busy = false;
    } else {
        sqlite3_finalize(l->st);
    }
    l->st = NULL;
    l->busy = NULL;
}

static int bind_str(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static enum md_err bind_fail(struct sq_conn *c, struct md_error *e)
{
    return md_error_set(e, MD_ERR_INTERNAL, "binding a database parameter failed: %s",
                        sqlite3_errmsg(c->db));
}

/* A parameter of a fixed statement: text (NULL binds SQL NULL), or an integer. */
struct sq_arg {
    const char *s;
    int64_t i;
    bool is_int;
};

static struct sq_arg arg_s(const char *s)
{
    return (struct sq_arg){.s = s};
}

static struct sq_arg arg_i(int64_t i)
{
    return (struct sq_arg){.i = i, .is_int = true};
}

#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/*
 * Leases statement id, binds args[0..n) as ?1..?n, and takes the first step; *rc receives
 * SQLITE_ROW or SQLITE_DONE. On MD_OK the caller reads the rows and ends the lease; on failure
 * the lease is already ended.
 */
static enum md_err sq_start(struct sq_conn *c, enum sq_id id, const struct sq_arg *args, int n,
                            struct sq_lease *l, int *rc, struct md_error *e)
{
    enum md_err err;
    int i, b = 0;

    err = lease_fixed(c, id, l, e);
    if (err)
        return err;
    for (i = 0; i < n; i++)
        b |= args[i].is_int ? sqlite3_bind_int64(l->st, i + 1, args[i].i)
                            : bind_str(l->st, i + 1, args[i].s);
    if (b) {
        err = bind_fail(c, e);
        goto out;
    }
    *rc = sqlite3_step(l->st);
    if (*rc != SQLITE_ROW && *rc != SQLITE_DONE)
        err = sq_fail(c->db, *rc, sq_sql[id].name, e);
out:
    if (err)
        lease_end(l);
    return err;
}

/* Runs a statement to its first step and ends it; *changes (may be NULL) gets the rows changed,
 * *row (may be NULL) whether it produced a row. */
static enum md_err sq_run(struct sq_conn *c, enum sq_id id, const struct sq_arg *args, int n,
                          int *changes, bool *row, struct md_error *e)
{
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, id, args, n, &l, &rc, e);
    if (err)
        return err;
    if (changes)
        *changes = sqlite3_changes(c->db);
    if (row)
        *row = rc == SQLITE_ROW;
    lease_end(&l);
    return MD_OK;
}

/* sq_run for the common case of one or two text parameters (b NULL: one). */
static enum md_err run2(struct sq_conn *c, enum sq_id id, const char *a, const char *b,
                        int *changes, bool *row, struct md_error *e)
{
    struct sq_arg args[2] = {arg_s(a), arg_s(b)};
    return sq_run(c, id, args, a ? (b ? 2 : 1) : 0, changes, row, e);
}

/* Ends a walk over rows: fine at SQLITE_DONE, an error otherwise. */
static enum md_err walk_end(struct sq_conn *c, struct sq_lease *l, int rc, enum md_err err,
                            const char *what, struct md_error *e)
{
    if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = sq_fail(c->db, rc, what, e);
    lease_end(l);
    return err;
}

/* ---- opening, migrations ---- */

static enum md_err sq_open_db(const char *path, sqlite3 **out, struct md_error *e)
{
    sqlite3 *db = NULL;
    enum md_err err = MD_OK;
    int rc;

    *out = NULL;
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = md_error_set(e, MD_ERR_IO,
                           "cannot open the database %s: %s (its directory must exist and be "
                           "writable)",
                           path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        err = sq_fail(db, rc, "connection setup", e);
        goto out;
    }
    *out = db;
    db = NULL;
out:
    sqlite3_close(db);
    return err;
}

/* WAL persists in the file, so setting it once at open covers every later connection. */
static enum md_err sq_set_wal(sqlite3 *db, const char *path, struct md_error *e)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    enum md_err err = MD_OK;
    int rc;

    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = sq_fail(db, rc, "journal mode", e);
        goto out;
    }
    mode = sqlite3_column_text(st, 0);
    if (!mode || strcmp((const char *)mode, "wal") != 0)
        err = md_error_set(e, MD_ERR_IO, "the database %s cannot use write-ahead logging", path);
out:
    sqlite3_finalize(st);
    return err;
}

static enum md_err sq_exec(sqlite3 *db, const char *sql, const char *what, struct md_error *e)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? MD_OK : sq_fail(db, rc, what, e);
}

/*
 * Brings the schema up to date in one write transaction, so that two processes opening a new
 * database at once apply each migration once, and a failed migration leaves nothing behind.
 */
static enum md_err sq_migrate(sqlite3 *db, struct md_error *e)
{
    sqlite3_stmt *st = NULL;
    enum md_err err;
    int rc, cur = 0, i;

    err = sq_exec(db, "BEGIN IMMEDIATE", "migration", e);
    if (err)
        return err;
    err = sq_exec(db,
                  "CREATE TABLE IF NOT EXISTS schema_version ("
                  " version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
                  "migration", e);
    if (err)
        goto out;
    rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        err = sq_fail(db, rc, "migration", e);
        goto out;
    }
    cur = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (cur > SQ_NMIGRATIONS) {
        err = md_error_set(e, MD_ERR_IO,
                           "the database schema (version %d) is newer than this program (%d)", cur,
                           SQ_NMIGRATIONS);
        goto out;
    }
    for (i = cur; i < SQ_NMIGRATIONS; i++) {
        err = sq_exec(db, sq_migrations[i], "migration", e);
        if (err)
            goto out;
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO schema_version (version, applied_ms) "
                                "VALUES (?1, ?2)",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int(st, 1, i + 1);
            sqlite3_bind_int64(st, 2, time_now_ms());
            rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_DONE) {
            err = sq_fail(db, rc, "migration", e);
            goto out;
        }
        log_info("event=store_migrated version=%d", i + 1);
    }
    err = sq_exec(db, "COMMIT", "migration", e);
out:
    sqlite3_finalize(st);
    if (err && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

static enum md_err sq_open(struct store *s, const char *target, struct md_error *e)
{
    sqlite3 *db = NULL;
    enum md_err err;

    if (sqlite3_libversion_number() < SQ_MIN_VERSION)
        return md_error_set(e, MD_ERR_UNSUPPORTED, "SQLite %s is too old; 3.35 or later is needed",
                            sqlite3_libversion());
    err = sq_open_db(target, &db, e);
    if (!err)
        err = sq_set_wal(db, target, e);
    if (!err)
        err = sq_migrate(db, e);
    if (!err && !(s->impl = strdup(target)))
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    sqlite3_close(db);
    return err;
}

static void sq_close(struct store *s)
{
    free(s->impl);
    s->impl = NULL;
}

static enum md_err sq_conn_open(struct store *s, struct store_conn **out, struct md_error *e)
{
    struct sq_conn *c;
    enum md_err err;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err = sq_open_db(s->impl, &c->db, e);
    if (err) {
        free(c);
        return err;
    }
    *out = &c->base;
    return MD_OK;
}

static void sq_conn_close(struct store_conn *bc)
{
    struct sq_conn *c = sq(bc);
    size_t i;

    for (i = 0; i < Q__COUNT + SQ_DYN_MAX; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].own);
    }
    if (sqlite3_close(c->db) != SQLITE_OK)
        log_error("event=store_conn_close_failed msg=\"%s\"", sqlite3_errmsg(c->db));
    free(c);
}

/* ---- transactions ---- */

static bool sq_in_tx(struct store_conn *bc)
{
    return !sqlite3_get_autocommit(sq(bc)->db);
}

/* IMMEDIATE takes the write lock at once: a write transaction never fails half-way to upgrade. */
static enum md_err sq_begin(struct store_conn *bc, struct md_error *e)
{
    if (sq_in_tx(bc))
        return md_error_set(e, MD_ERR_INTERNAL, "a transaction is already open");
    return run2(sq(bc), Q_BEGIN, NULL, NULL, NULL, NULL, e);
}

static void sq_rollback(struct store_conn *bc)
{
    if (sq_in_tx(bc))
        run2(sq(bc), Q_ROLLBACK, NULL, NULL, NULL, NULL, NULL);
}

/* A failed commit is rolled back, so that the connection is clean whatever happened. */
static enum md_err sq_commit(struct store_conn *bc, struct md_error *e)
{
    enum md_err err;

    if (!sq_in_tx(bc))
        return md_error_set(e, MD_ERR_INTERNAL, "no transaction is open");
    err = run2(sq(bc), Q_COMMIT, NULL, NULL, NULL, NULL, e);
    if (err)
        sq_rollback(bc);
    return err;
}

/* Opens a write transaction unless the caller has one, so that an operation's steps commit
 * together; *own tells auto_end whether to end it. */
static enum md_err auto_begin(struct sq_conn *c, bool *own, struct md_error *e)
{
    *own = !sq_in_tx(&c->base);
    return *own ? run2(c, Q_BEGIN, NULL, NULL, NULL, NULL, e) : MD_OK;
}

static enum md_err auto_end(struct sq_conn *c, bool own, enum md_err err, struct md_error *e)
{
    if (!own)
        return err;
    if (!err)
        err = run2(c, Q_COMMIT, NULL, NULL, NULL, NULL, e);
    if (err)
        sq_rollback(&c->base);
    return err;
}

/* ---- rows ---- */

static const char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* A heap copy of a text column, NULL for SQL NULL; *oom is set when the copy failed. */
static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *t;
    char *p;

    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    t = sqlite3_column_text(st, i);
    p = t ? strdup((const char *)t) : NULL;
    if (!p)
        *oom = true;
    return p;
}

/* Reads the columns of U_COLS / G_COLS. */
static enum md_err row_read(sqlite3_stmt *st, struct store_row *r, struct md_error *e)
{
    bool oom = false;

    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", col_str(st, 0));
    r->doc = col_dup(st, 1, &oom);
    r->user_name = col_dup(st, 2, &oom);
    r->display_name = col_dup(st, 3, &oom);
    r->external_id = col_dup(st, 4, &oom);
    r->active = sqlite3_column_int(st, 5) != 0;
    r->created_ms = sqlite3_column_int64(st, 6);
    r->modified_ms = sqlite3_column_int64(st, 7);
    r->version = sqlite3_column_int64(st, 8);
    if (oom) {
        store_row_free(r);
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    return MD_OK;
}

static enum sq_id by_kind(enum sq_id users_id, enum store_kind k)
{
    return (enum sq_id)((int)users_id + (k == STORE_GROUPS ? 1 : 0));
}

static enum md_err not_found(enum store_kind k, struct md_error *e)
{
    return md_error_set(e, MD_ERR_NOTFOUND, "%s not found", k == STORE_USERS ? "User" : "Group");
}

/* Times left at 0 by the caller mean now. */
static enum md_err sq_res_insert(struct store_conn *bc, enum store_kind k,
                                 const struct store_row *r, struct md_error *e)
{
    int64_t created = r->created_ms > 0 ? r->created_ms : time_now_ms();
    struct sq_arg a[] = {arg_s(r->id),
                         arg_s(r->user_name),
                         arg_s(r->display_name),
                         arg_s(r->external_id),
                         arg_i(r->active ? 1 : 0),
                         arg_i(created),
                         arg_i(r->modified_ms > 0 ? r->modified_ms : created),
                         arg_s(r->doc ? r->doc : "{}")};

    return sq_run(sq(bc), by_kind(Q_INSERT_U, k), a, NARGS(a), NULL, NULL, e);
}

/*
 * One statement checks the version and writes, so no other writer can slip in between; when it
 * matched no row, a second look tells a missing resource from a stale version.
 */
static enum md_err sq_res_update(struct store_conn *bc, enum store_kind k,
                                 const struct store_row *r, int64_t expect_version,
                                 int64_t *new_version, struct md_error *e)
{
    struct sq_conn *c = sq(bc);
    struct sq_arg a[] = {arg_s(r->id),
                         arg_s(r->user_name),
                         arg_s(r->display_name),
                         arg_s(r->external_id),
                         arg_i(r->active ? 1 : 0),
                         arg_i(0),
                         arg_i(r->modified_ms > 0 ? r->modified_ms : time_now_ms()),
                         arg_s(r->doc ? r->doc : "{}"),
                         arg_i(expect_version)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, by_kind(Q_UPDATE_U, k), a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW && new_version)
        *new_version = sqlite3_column_int64(l.st, 0);
    lease_end(&l);
    if (rc == SQLITE_ROW)
        return MD_OK;
    err = sq_start(c, by_kind(Q_VERSION_U, k), a, 1, &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW)
        err = md_error_set(e, MD_ERR_PRECONDITION,
                           "the resource has changed (it is now at version %lld)",
                           (long long)sqlite3_column_int64(l.st, 0));
    else
        err = not_found(k, e);
    lease_end(&l);
    return err;
}

static enum md_err sq_res_touch(struct store_conn *bc, enum store_kind k, const char *id,
                                int64_t modified_ms, int64_t *new_version, struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id), arg_i(modified_ms > 0 ? modified_ms : time_now_ms())};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sq(bc), by_kind(Q_TOUCH_U, k), a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW && new_version)
        *new_version = sqlite3_column_int64(l.st, 0);
    lease_end(&l);
    return rc == SQLITE_ROW ? MD_OK : not_found(k, e);
}

/*
 * The resource goes with every membership row naming it: as a member of groups, and for a
 * group, its own members (the foreign key would cascade too; saying it keeps other backends
 * honest). The groups that lost a member are not touched here: that is the caller's policy.
 */
static enum md_err sq_res_delete(struct store_conn *bc, enum store_kind k, const char *id,
                                 struct md_error *e)
{
    struct sq_conn *c = sq(bc);
    enum md_err err;
    bool own;
    int n = 0;

    err = auto_begin(c, &own, e);
    if (err)
        return err;
    err = run2(c, by_kind(Q_DELETE_U, k), id, NULL, &n, NULL, e);
    if (!err && n == 0)
        err = not_found(k, e);
    if (!err && k == STORE_GROUPS)
        err = run2(c, Q_MEMBER_CLEAR, id, NULL, NULL, NULL, e);
    if (!err)
        err = run2(c, Q_MEMBER_DROP, id, NULL, NULL, NULL, e);
    return auto_end(c, own, err, e);
}

static enum md_err sq_res_get(struct store_conn *bc, enum store_kind k, const char *id,
                              struct store_row *out, struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sq(bc), by_kind(Q_GET_U, k), a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    err = rc == SQLITE_ROW ? row_read(l.st, out, e) : not_found(k, e);
    lease_end(&l);
    return err;
}

static enum md_err sq_res_exists(struct store_conn *bc, enum store_kind k, const char *id,
                                 bool *exists, struct md_error *e)
{
    return run2(sq(bc), by_kind(Q_EXISTS_U, k), id, NULL, NULL, exists, e);
}

/* ---- membership ---- */

static enum md_err sq_member_add(struct store_conn *bc, const char *group_id, const char *member_id,
                                 enum store_member_type type, const char *display, bool *added,
                                 struct md_error *e)
{
    struct sq_arg a[] = {arg_s(group_id), arg_s(member_id),
                         arg_s(type == STORE_MEMBER_GROUP ? "Group" : "User"), arg_s(display)};
    int n = 0;
    enum md_err err = sq_run(sq(bc), Q_MEMBER_ADD, a, NARGS(a), &n, NULL, e);

    *added = !err && n > 0;
    return err;
}

static enum md_err sq_member_remove(struct store_conn *bc, const char *group_id,
                                    const char *member_id, bool *removed, struct md_error *e)
{
    int n = 0;
    enum md_err err = run2(sq(bc), Q_MEMBER_REMOVE, group_id, member_id, &n, NULL, e);

    *removed = !err && n > 0;
    return err;
}

static enum md_err sq_member_clear(struct store_conn *bc, const char *group_id, struct md_error *e)
{
    return run2(sq(bc), Q_MEMBER_CLEAR, group_id, NULL, NULL, NULL, e);
}

static enum md_err sq_member_has(struct store_conn *bc, const char *group_id, const char *member_id,
                                 bool *has, struct md_error *e)
{
    return run2(sq(bc), Q_MEMBER_HAS, group_id, member_id, NULL, has, e);
}

static enum md_err sq_member_list(struct store_conn *bc, const char *group_id, store_member_fn fn,
                                  void *ctx, struct md_error *e)
{
    struct sq_conn *c = sq(bc);
    struct sq_arg a[] = {arg_s(group_id)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, Q_MEMBER_LIST, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    for (; rc == SQLITE_ROW; rc = sqlite3_step(l.st)) {
        struct store_member m;
        bool oom = false;
        int stop;

        memset(&m, 0, sizeof m);
        snprintf(m.id, sizeof m.id, "%s", col_str(l.st, 0));
        m.type = strcmp(col_str(l.st, 1), "Group") == 0 ? STORE_MEMBER_GROUP : STORE_MEMBER_USER;
        m.display = col_dup(l.st, 2, &oom);
        if (oom) {
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            break;
        }
        stop = fn(ctx, &m);
        free(m.display);
        if (stop)
            break;
    }
    return walk_end(c, &l, rc, err, "member list", e);
}

static enum md_err sq_member_groups(struct store_conn *bc, const char *member_id, store_group_fn fn,
                                    void *ctx, struct md_error *e)
{
    struct sq_conn *c = sq(bc);
    struct sq_arg a[] = {arg_s(member_id)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, Q_MEMBER_GROUPS, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    for (; rc == SQLITE_ROW; rc = sqlite3_step(l.st)) {
        const unsigned char *disp = sqlite3_column_text(l.st, 1);
        if (fn(ctx, col_str(l.st, 0), (const char *)disp, sqlite3_column_int(l.st, 2) != 0))
            break;
    }
    return walk_end(c, &l, rc, MD_OK, "member groups", e);
}

/* ---- tokens ---- */

static void token_read(sqlite3_stmt *st, struct store_token *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", col_str(st, 0));
    snprintf(t->kind, sizeof t->kind, "%s", col_str(st, 1));
    snprintf(t->name, sizeof t->name, "%s", col_str(st, 2));
    snprintf(t->hash, sizeof t->hash, "%s", col_str(st, 3));
    t->created_ms = sqlite3_column_int64(st, 4);
    t->last_used_ms = sqlite3_column_int64(st, 5);
    t->revoked = sqlite3_column_int(st, 6) != 0;
}

static enum md_err sq_token_insert(struct store_conn *bc, const struct store_token *t,
                                   struct md_error *e)
{
    struct sq_arg a[] = {arg_s(t->id),
                         arg_s(t->kind),
                         arg_s(t->name),
                         arg_s(t->hash),
                         arg_i(t->created_ms > 0 ? t->created_ms : time_now_ms()),
                         arg_i(t->last_used_ms),
                         arg_i(t->revoked ? 1 : 0)};

    return sq_run(sq(bc), Q_TOKEN_INSERT, a, NARGS(a), NULL, NULL, e);
}

static enum md_err sq_token_find(struct store_conn *bc, const char *hash, struct store_token *out,
                                 struct md_error *e)
{
    struct sq_arg a[] = {arg_s(hash)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sq(bc), Q_TOKEN_FIND, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW)
        token_read(l.st, out);
    else
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    lease_end(&l);
    return err;
}

static enum md_err sq_token_list(struct store_conn *bc, store_token_fn fn, void *ctx,
                                 struct md_error *e)
{
    struct sq_conn *c = sq(bc);
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, Q_TOKEN_LIST, NULL, 0, &l, &rc, e);
    if (err)
        return err;
    for (; rc == SQLITE_ROW; rc = sqlite3_step(l.st)) {
        struct store_token t;
        token_read(l.st, &t);
        if (fn(ctx, &t))
            break;
    }
    return walk_end(c, &l, rc, MD_OK, "token list", e);
}

static enum md_err sq_token_revoke(struct store_conn *bc, const char *id, struct md_error *e)
{
    int n = 0;
    enum md_err err = run2(sq(bc), Q_TOKEN_REVOKE, id, NULL, &n, NULL, e);

    if (!err && n == 0)
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    return err;
}

static enum md_err sq_token_touch(struct store_conn *bc, const char *id, int64_t when_ms,
                                  struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id), arg_i(when_ms)};
    int n = 0;
    enum md_err err = sq_run(sq(bc), Q_TOKEN_TOUCH, a, NARGS(a), &n, NULL, e);

    if (!err && n == 0)
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    return err;
}

static enum md_err sq_token_count(struct store_conn *bc, const char *kind, int64_t *n,
                                  struct md_error *e)
{
    struct sq_arg a[] = {arg_s(kind)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sq(bc), Q_TOKEN_COUNT, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(l.st, 0) : 0;
    lease_end(&l);
    return MD_OK;
}

/* ---- predicate compilation ----
 *
 * A predicate tree becomes a WHERE clause over the resource table aliased r, with numbered
 * parameters (?N) for every value and every JSON path: nothing from the tree is pasted into
 * the SQL text except the fixed operators, column names and aliases chosen here.
 *
 * The semantics are store_int.h's. A leaf may evaluate to NULL (an absent attribute). In a
 * positive context NULL acts as false, as AND and OR keep it; only negation would turn
 * "unknown" into a wrong answer, so NOT is compiled as (a) IS NOT 1, true for 0 and NULL.
 * Leaves on indexed columns stay in the bare form (r.user_name_lc = lower(?N),
 * r.external_id = ?N) that SQLite answers from the index.
 *
 * SQLite's parser has a small stack (about 100 entries), which nested parentheses and function
 * calls fill from the left. So a chain of one operator (a or b or c ...) is written flat,
 * a parenthesized operand is written first where the operator allows, and negation costs one
 * parenthesis; a tree that still overflows the parser is refused as too complex.
 *
 * JSON values are typed by json_type(), as json_extract() alone gives 1 and 0 for true and
 * false; a dateTime in the document is read by julianday(), which knows the RFC 3339 forms.
 */

enum qp_type { QP_TEXT, QP_REAL, QP_INT };

struct qparam {
    enum qp_type type;
    const char *s; /* borrowed, or own */
    char *own;
    double d;
    int64_t i;
};

struct qc {
    struct buf *out; /* the SQL being written */
    struct qparam *p;
    int np, cap;
    int nodes;
    int alias;
    enum store_kind k;
    struct md_error *e;
    enum md_err err; /* the first failure; later output is ignored */
};

/* What a comparison leaf compares: an expression v, and for a JSON value its type t. */
enum subj_kind { SJ_JSON, SJ_ID, SJ_TEXT_NULL, SJ_USER_NAME, SJ_BOOL, SJ_TIME };

struct subj {
    enum subj_kind kind;
    char v[96];
    char t[96];
};

/* How a string comparison folds case: not at all, both sides, or the value only (the column
 * holds a folded copy). */
enum fold { F_EXACT, F_LOWER, F_PRE };

static void qc_fail(struct qc *q, enum md_err code, const char *msg)
{
    if (!q->err)
        q->err = md_error_set(q->e, code, "%s", msg);
}

static void qc_put(struct qc *q, const char *s)
{
    if (!q->err)
        buf_append_cstr(q->out, s);
}

/* Adds a parameter; its number, 0 after a failure. Takes ownership of v.own. */
static int qc_param(struct qc *q, struct qparam v)
{
    if (!q->err && q->np == q->cap) {
        int cap = q->cap ? q->cap * 2 : 16;
        struct qparam *p = realloc(q->p, (size_t)cap * sizeof *p);
        if (!p)
            qc_fail(q, MD_ERR_NOMEM, "out of memory");
        else {
            q->p = p;
            q->cap = cap;
        }
    }
    if (q->err) {
        free(v.own);
        return 0;
    }
    q->p[q->np++] = v;
    return q->np;
}

static int qc_text(struct qc *q, const char *s)
{
    return qc_param(q, (struct qparam){.type = QP_TEXT, .s = s});
}

static int qc_int(struct qc *q, int64_t i)
{
    return qc_param(q, (struct qparam){.type = QP_INT, .i = i});
}

/*
 * A JSON path parameter: $."k1"."k2" (or ."k1" relative to an array element's path), each key
 * quoted so that dots, colons and brackets in schema URNs are taken literally, with '"' and '\'
 * escaped. (SQLite before 3.45 ends a quoted key at the first '"', so such a key matches
 * nothing there; SCIM attribute names never contain one.)
 */
static int qc_path(struct qc *q, const char *const *path, int n, bool relative)
{
    struct buf b;
    const char *k;
    int i;

    if (n < 1 || n > STORE_PATH_MAX) {
        qc_fail(q, MD_ERR_FILTER, "an attribute path has no or too many parts");
        return 0;
    }
    buf_init(&b, 4096);
    if (!relative)
        buf_append_char(&b, '$');
    for (i = 0; i < n; i++) {
        if (!path[i] || !path[i][0]) {
            buf_free(&b);
            qc_fail(q, MD_ERR_FILTER, "an attribute path has an empty part");
            return 0;
        }
        buf_append_cstr(&b, ".\"");
        for (k = path[i]; *k; k++) {
            if (*k == '"' || *k == '\\')
                buf_append_char(&b, '\\');
            buf_append_char(&b, *k);
        }
        buf_append_char(&b, '"');
    }
    if (b.err) {
        buf_free(&b);
        qc_fail(q, MD_ERR_FILTER, "an attribute path is too long");
        return 0;
    }
    return qc_param(q, (struct qparam){.type = QP_TEXT, .s = b.p, .own = b.p});
}

/*
 * The indexed columns: how a leaf or a sort names them, what kind of value they hold, and
 * whether only users have them. Indexed by enum store_col (SCOL_DOC has no entry).
 */
static const struct {
    const char *expr;
    enum subj_kind kind;
    bool users_only;
} qc_cols[] = {
    [SCOL_ID] = {"r.id", SJ_ID, false},
    [SCOL_USER_NAME] = {"r.user_name", SJ_USER_NAME, true},
    [SCOL_DISPLAY_NAME] = {"r.display_name", SJ_TEXT_NULL, false},
    [SCOL_EXTERNAL_ID] = {"r.external_id", SJ_TEXT_NULL, false},
    [SCOL_ACTIVE] = {"r.active", SJ_BOOL, true},
    [SCOL_CREATED] = {"r.created_ms", SJ_TIME, false},
    [SCOL_MODIFIED] = {"r.modified_ms", SJ_TIME, false},
};

static bool qc_col_ok(struct qc *q, enum store_col col, enum md_err code)
{
    if (col > SCOL_DOC && col <= SCOL_MODIFIED && (q->k == STORE_USERS || !qc_cols[col].users_only))
        return true;
    qc_fail(q, code, "this resource type has no such attribute");
    return false;
}

static bool qc_subject(struct qc *q, const struct store_pred *p, int any, struct subj *s)
{
    int pi;

    memset(s, 0, sizeof *s);
    if (p->col != SCOL_DOC) {
        if (!qc_col_ok(q, p->col, MD_ERR_FILTER))
            return false;
        s->kind = qc_cols[p->col].kind;
        snprintf(s->v, sizeof s->v, "%s", qc_cols[p->col].expr);
        return true;
    }
    s->kind = SJ_JSON;
    if (any && p->npath == 0) {
        snprintf(s->v, sizeof s->v, "e%d.value", any);
        snprintf(s->t, sizeof s->t, "e%d.type", any);
        return true;
    }
    /* Inside SP_ANY the path is appended to the element's full path in r.doc, which never
     * fails on an element that is not an object (json_extract on e.value would). */
    pi = qc_path(q, p->path, p->npath, any != 0);
    if (any) {
        snprintf(s->v, sizeof s->v, "json_extract(r.doc, e%d.fullkey || ?%d)", any, pi);
        snprintf(s->t, sizeof s->t, "json_type(r.doc, e%d.fullkey || ?%d)", any, pi);
    } else {
        snprintf(s->v, sizeof s->v, "json_extract(r.doc, ?%d)", pi);
        snprintf(s->t, sizeof s->t, "json_type(r.doc, ?%d)", pi);
    }
    return !q->err;
}

/* The SQL operator of eq and the orderings; NULL for the others. */
static const char *cmp_op(enum store_cmp c)
{
    static const char *const ops[] = {
        [SC_EQ] = "=", [SC_GT] = ">", [SC_GE] = ">=", [SC_LT] = "<", [SC_LE] = "<="};
    return (size_t)c < sizeof ops / sizeof ops[0] ? ops[c] : NULL;
}

/*
 * A string comparison of expression v with parameter pi. co, sw and ew use instr() and
 * substr(), never LIKE, so '%' and '_' in a value are plain characters. Ordering is by code
 * point (UTF-8 bytes), after folding when the comparison is case-insensitive.
 */
static void qc_str_op(struct qc *q, const char *v, enum fold f, enum store_cmp cmp, int pi)
{
    char l[128], r[32];

    if (f == F_LOWER)
        snprintf(l, sizeof l, "lower(%s)", v);
    else
        snprintf(l, sizeof l, "%s", v);
    snprintf(r, sizeof r, f == F_EXACT ? "?%d" : "lower(?%d)", pi);
    if (q->err)
        return;
    switch (cmp) {
    case SC_CO:
        buf_appendf(q->out, "instr(%s, %s) > 0", l, r);
        break;
    case SC_SW:
        buf_appendf(q->out, "instr(%s, %s) = 1", l, r);
        break;
    case SC_EW:
        buf_appendf(q->out, "(length(%s) = 0 OR substr(%s, -length(%s)) = %s)", r, l, r, r);
        break;
    default:
        if (cmp_op(cmp))
            buf_appendf(q->out, "%s %s %s", l, cmp_op(cmp), r);
        else
            qc_fail(q, MD_ERR_FILTER, "an unknown comparison");
        break;
    }
}

static void qc_test_str(struct qc *q, const struct store_pred *p, const struct subj *s,
                        enum store_cmp cmp)
{
    enum fold f = p->case_exact ? F_EXACT : F_LOWER;
    int pi;

    if (!p->str) {
        qc_fail(q, MD_ERR_FILTER, "a string comparison has no value");
        return;
    }
    pi = qc_text(q, p->str);
    switch (s->kind) {
    case SJ_JSON:
        buf_appendf(q->out, "(%s = 'text' AND ", s->t);
        qc_str_op(q, s->v, f, cmp, pi);
        qc_put(q, ")");
        break;
    case SJ_ID:
        /* Ids are caseExact (RFC 7643 section 3.1), and exact equality uses the key. */
        qc_str_op(q, s->v, cmp == SC_EQ ? F_EXACT : f, cmp, pi);
        break;
    case SJ_TEXT_NULL:
        qc_str_op(q, s->v, f, cmp, pi);
        break;
    case SJ_USER_NAME:
        /* The folded column carries the unique index; an exact match narrows it further. */
        if (!p->case_exact)
            qc_str_op(q, "r.user_name_lc", F_PRE, cmp, pi);
        else if (cmp == SC_EQ && !q->err)
            buf_appendf(q->out, "(r.user_name_lc = lower(?%d) AND r.user_name = ?%d)", pi, pi);
        else
            qc_str_op(q, s->v, F_EXACT, cmp, pi);
        break;
    default:
        qc_fail(q, MD_ERR_FILTER, "a string cannot be compared with this attribute");
        break;
    }
}

/* The comparison of leaf p with operator cmp (never ne or pr, which the caller handles). */
static void qc_test(struct qc *q, const struct store_pred *p, const struct subj *s,
                    enum store_cmp cmp)
{
    bool json = s->kind == SJ_JSON;

    if (q->err)
        return;
    switch (p->vtype) {
    case SV_STRING:
        qc_test_str(q, p, s, cmp);
        return;
    case SV_NUMBER:
        if (!json || !cmp_op(cmp))
            break;
        buf_appendf(q->out, "(%s IN ('integer', 'real') AND %s %s ?%d)", s->t, s->v, cmp_op(cmp),
                    qc_param(q, (struct qparam){.type = QP_REAL, .d = p->num}));
        return;
    case SV_BOOL:
        if (cmp != SC_EQ)
            break;
        if (json)
            buf_appendf(q->out, "%s = '%s'", s->t, p->b_val ? "true" : "false");
        else if (s->kind == SJ_BOOL)
            buf_appendf(q->out, "%s = %d", s->v, p->b_val ? 1 : 0);
        else
            break;
        return;
    case SV_NULL:
        if (cmp != SC_EQ)
            break;
        if (json)
            buf_appendf(q->out, "coalesce(%s, 'null') = 'null'", s->t);
        else if (s->kind == SJ_TEXT_NULL)
            buf_appendf(q->out, "%s IS NULL", s->v);
        else
            qc_put(q, "0");
        return;
    case SV_TIME:
        if (!cmp_op(cmp))
            break;
        if (json)
            buf_appendf(q->out,
                        "(%s = 'text' AND round(julianday(%s) * 86400000.0) - " SQ_EPOCH_JD_MS
                        " %s ?%d)",
                        s->t, s->v, cmp_op(cmp), qc_int(q, p->ms));
        else if (s->kind == SJ_TIME)
            buf_appendf(q->out, "%s %s ?%d", s->v, cmp_op(cmp), qc_int(q, p->ms));
        else
            break;
        return;
    default:
        break;
    }
    qc_fail(q, MD_ERR_FILTER, "this comparison is not supported for this attribute and value");
}

/* pr: present and not null, "", [] or {}. */
static void qc_present(struct qc *q, const struct subj *s)
{
    if (q->err)
        return;
    switch (s->kind) {
    case SJ_JSON:
        buf_appendf(q->out,
                    "(%s IS NOT NULL AND %s <> 'null' AND NOT ((%s = 'text' AND %s = '') OR "
                    "(%s = 'array' AND %s = '[]') OR (%s = 'object' AND %s = '{}')))",
                    s->t, s->t, s->t, s->v, s->t, s->v, s->t, s->v);
        break;
    case SJ_TEXT_NULL:
        buf_appendf(q->out, "(%s IS NOT NULL AND %s <> '')", s->v, s->v);
        break;
    case SJ_ID:
    case SJ_USER_NAME:
        buf_appendf(q->out, "%s <> ''", s->v);
        break;
    default:
        qc_put(q, "1");
        break;
    }
}

/* The subject holds a value other than JSON null. */
static void qc_has_value(struct qc *q, const struct subj *s)
{
    if (q->err)
        return;
    switch (s->kind) {
    case SJ_JSON:
        buf_appendf(q->out, "(%s IS NOT NULL AND %s <> 'null')", s->t, s->t);
        break;
    case SJ_TEXT_NULL:
        buf_appendf(q->out, "%s IS NOT NULL", s->v);
        break;
    default:
        qc_put(q, "1");
        break;
    }
}

static void qc_cmp(struct qc *q, const struct store_pred *p, int any)
{
    struct subj s;

    if (!qc_subject(q, p, any, &s))
        return;
    if (p->cmp == SC_PR) {
        qc_present(q, &s);
    } else if (p->cmp == SC_NE) {
        /* ne needs a value: an absent or null attribute satisfies neither eq nor ne, as in
         * scim_filter_match (so that a condition on an argument never sent does not hold). */
        qc_put(q, "(");
        qc_has_value(q, &s);
        qc_put(q, " AND (");
        qc_test(q, p, &s, SC_EQ);
        qc_put(q, ") IS NOT 1)");
    } else {
        qc_test(q, p, &s, p->cmp);
    }
}

/*
 * members (SP_MEMBER, groups) and direct membership in a group (SP_MEMBER_OF) through the
 * membership table's keys: group_id for a group's members, member_id for a member's groups.
 * Member and group ids are compared exactly for eq and ne, as ids are caseExact.
 */
static void qc_member(struct qc *q, const struct store_pred *p)
{
    bool of = p->kind == SP_MEMBER_OF;
    enum fold f = p->case_exact ? F_EXACT : F_LOWER;
    char col[32];
    int a, pi;

    if (!of && q->k != STORE_GROUPS) {
        qc_fail(q, MD_ERR_FILTER, "members is an attribute of Groups");
        return;
    }
    if (p->cmp != SC_PR && (p->vtype != SV_STRING || !p->str)) {
        qc_fail(q, MD_ERR_FILTER, "a membership filter compares with a string id");
        return;
    }
    a = ++q->alias;
    /* eq walks the index from the value to the rows, instead of probing every row. */
    if (p->cmp == SC_EQ && !q->err) {
        buf_appendf(q->out, "r.id IN (SELECT m%d.%s FROM group_members AS m%d WHERE m%d.%s = ?%d)",
                    a, of ? "member_id" : "group_id", a, a, of ? "group_id" : "member_id",
                    qc_text(q, p->str));
        return;
    }
    buf_appendf(q->out, "EXISTS (SELECT 1 FROM group_members AS m%d WHERE m%d.%s = r.id", a, a,
                of ? "member_id" : "group_id");
    if (p->cmp != SC_PR) {
        snprintf(col, sizeof col, "m%d.%s", a, of ? "group_id" : "member_id");
        pi = qc_text(q, p->str);
        qc_put(q, " AND ");
        if (p->cmp == SC_NE) {
            qc_put(q, "(");
            qc_str_op(q, col, F_EXACT, SC_EQ, pi);
            qc_put(q, ") IS NOT 1");
        } else {
            qc_str_op(q, col, p->cmp == SC_EQ ? F_EXACT : f, p->cmp, pi);
        }
    }
    qc_put(q, ")");
}

static void qc_pred(struct qc *q, const struct store_pred *p, int depth, int any);

/* Some element of the array at path satisfies p->a; only arrays count (json_each would walk an
 * object's members, and a scalar as itself). */
static void qc_any(struct qc *q, const struct store_pred *p, int depth, int any)
{
    int a, pi;

    if (any) {
        qc_fail(q, MD_ERR_FILTER, "a filter on values inside values is not supported");
        return;
    }
    pi = qc_path(q, p->path, p->npath, false);
    a = ++q->alias;
    if (!q->err)
        buf_appendf(q->out,
                    "EXISTS (SELECT 1 FROM json_each(r.doc, ?%d) AS e%d "
                    "WHERE typeof(e%d.key) = 'integer' AND (",
                    pi, a, a);
    qc_pred(q, p->a, depth + 1, a);
    qc_put(q, "))");
}

/* Whether child, an operand of parent, needs parentheses: only an and/or under the other. */
static bool qc_parens(const struct store_pred *parent, const struct store_pred *child)
{
    return child && (child->kind == SP_AND || child->kind == SP_OR) && child->kind != parent->kind;
}

static void qc_operand(struct qc *q, const struct store_pred *parent,
                       const struct store_pred *child, int depth, int any)
{
    bool parens = qc_parens(parent, child);

    if (parens)
        qc_put(q, "(");
    qc_pred(q, child, depth + (parens ? 1 : 0), any);
    if (parens)
        qc_put(q, ")");
}

/*
 * any: the alias number of the enclosing SP_ANY's json_each, 0 outside one. depth counts the
 * nesting of the SQL written (a flat chain of one operator adds none); the node count bounds
 * the recursion.
 */
static void qc_pred(struct qc *q, const struct store_pred *p, int depth, int any)
{
    if (q->err)
        return;
    if (!p) {
        qc_fail(q, MD_ERR_FILTER, "an incomplete filter");
        return;
    }
    if (depth > STORE_PRED_MAX_DEPTH || ++q->nodes > STORE_PRED_MAX_NODES) {
        qc_fail(q, MD_ERR_FILTER, "the filter is too complex");
        return;
    }
    switch (p->kind) {
    case SP_TRUE:
        qc_put(q, "1");
        break;
    case SP_FALSE:
        qc_put(q, "0");
        break;
    case SP_AND:
    case SP_OR: {
        /* AND and OR commute (also over NULL), so the operand in parentheses goes first. */
        bool swap = qc_parens(p, p->b) && !qc_parens(p, p->a);
        qc_operand(q, p, swap ? p->b : p->a, depth, any);
        qc_put(q, p->kind == SP_AND ? " AND " : " OR ");
        qc_operand(q, p, swap ? p->a : p->b, depth, any);
        break;
    }
    case SP_NOT:
        qc_put(q, "(");
        qc_pred(q, p->a, depth + 1, any);
        qc_put(q, ") IS NOT 1");
        break;
    case SP_CMP:
        qc_cmp(q, p, any);
        break;
    case SP_ANY:
        qc_any(q, p, depth, any);
        break;
    case SP_MEMBER:
    case SP_MEMBER_OF:
        qc_member(q, p);
        break;
    default:
        qc_fail(q, MD_ERR_FILTER, "an unknown filter node");
        break;
    }
}

/*
 * ORDER BY: the sort key with NULLs last, then creation and id so that pages are stable. A
 * case-insensitive key is folded the way the filters fold it, so the lower(display_name)
 * index serves both; a JSON value uses NOCASE instead, as lower() would turn numbers into text.
 */
static void qc_order(struct qc *q, const struct store_sort *s)
{
    char x[96];
    bool ci;

    if (!s) {
        qc_put(q, " ORDER BY r.created_ms, r.id");
        return;
    }
    ci = !s->case_exact;
    if (s->col == SCOL_DOC) {
        snprintf(x, sizeof x, "json_extract(r.doc, ?%d)%s", qc_path(q, s->path, s->npath, false),
                 ci ? " COLLATE NOCASE" : "");
    } else {
        if (!qc_col_ok(q, s->col, MD_ERR_VALUE))
            return;
        if (s->col == SCOL_USER_NAME)
            snprintf(x, sizeof x, "%s", ci ? "r.user_name_lc" : "r.user_name");
        else if (ci && qc_cols[s->col].kind == SJ_TEXT_NULL)
            snprintf(x, sizeof x, "lower(%s)", qc_cols[s->col].expr);
        else
            snprintf(x, sizeof x, "%s", qc_cols[s->col].expr);
    }
    if (!q->err)
        buf_appendf(q->out, " ORDER BY %s %s NULLS LAST, r.created_ms, r.id", x,
                    s->descending ? "DESC" : "ASC");
}

/* The SQL of a query: count_sql counts the matches, page_sql fetches one page of them. */
struct qsql {
    struct qc q;
    struct buf where, count_sql, page_sql;
    int64_t offset, limit;
};

static void qsql_free(struct qsql *x)
{
    int i;

    for (i = 0; i < x->q.np; i++)
        free(x->q.p[i].own);
    free(x->q.p);
    buf_free(&x->where);
    buf_free(&x->count_sql);
    buf_free(&x->page_sql);
}

static enum md_err qsql_build(struct qsql *x, enum store_kind k, const struct store_query *qq,
                              struct md_error *e)
{
    const char *table = k == STORE_USERS ? "users" : "groups";

    memset(x, 0, sizeof *x);
    buf_init(&x->where, 1 << 20);
    buf_init(&x->count_sql, 1 << 20);
    buf_init(&x->page_sql, 1 << 20);
    x->q.k = k;
    x->q.e = e;
    x->q.out = &x->where;
    x->offset = qq && qq->start_index > 1 ? qq->start_index - 1 : 0;
    x->limit = qq && qq->count > 0 ? qq->count : 0;
    if (qq && qq->where)
        qc_pred(&x->q, qq->where, 1, 0);
    else
        qc_put(&x->q, "1");
    buf_appendf(&x->count_sql, "SELECT count(*) FROM %s AS r WHERE %s", table,
                x->where.p ? x->where.p : "1");
    buf_appendf(&x->page_sql, "SELECT %s FROM %s AS r WHERE %s", k == STORE_USERS ? U_COLS : G_COLS,
                table, x->where.p ? x->where.p : "1");
    x->q.out = &x->page_sql;
    qc_order(&x->q, qq ? qq->sort : NULL);
    if (!x->q.err)
        buf_appendf(&x->page_sql, " LIMIT ?%d OFFSET ?%d", qc_int(&x->q, x->limit),
                    qc_int(&x->q, x->offset));
    if (x->q.err)
        return x->q.err;
    if (x->where.err || x->count_sql.err || x->page_sql.err)
        return md_error_set(e, MD_ERR_FILTER, "the filter is too large");
    return MD_OK;
}

/* Binds the parameters that st uses; the count statement uses a prefix of them. */
static int qsql_bind(const struct qsql *x, sqlite3_stmt *st)
{
    int n = sqlite3_bind_parameter_count(st), i, rc = 0;

    for (i = 0; i < n && i < x->q.np; i++) {
        const struct qparam *p = &x->q.p[i];
        if (p->type == QP_TEXT)
            rc |= sqlite3_bind_text(st, i + 1, p->s, -1, SQLITE_STATIC);
        else if (p->type == QP_REAL)
            rc |= sqlite3_bind_double(st, i + 1, p->d);
        else
            rc |= sqlite3_bind_int64(st, i + 1, p->i);
    }
    return rc;
}

static enum md_err query_count(struct sq_conn *c, const struct qsql *x, int64_t *total,
                               struct md_error *e)
{
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = lease_dyn(c, x->count_sql.p, &l, e);
    if (err)
        return err;
    if (qsql_bind(x, l.st)) {
        err = bind_fail(c, e);
        goto out;
    }
    rc = sqlite3_step(l.st);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(l.st, 0);
    else
        err = sq_fail(c->db, rc, "query", e);
out:
    lease_end(&l);
    return err;
}

static enum md_err query_page(struct sq_conn *c, const struct qsql *x, size_t want,
                              struct store_rows *out, struct md_error *e)
{
    struct sq_lease l;
    enum md_err err;
    int rc = SQLITE_DONE;

    out->rows = calloc(want, sizeof *out->rows);
    if (!out->rows)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err = lease_dyn(c, x->page_sql.p, &l, e);
    if (err)
        return err;
    if (qsql_bind(x, l.st)) {
        err = bind_fail(c, e);
        goto out;
    }
    while (out->n < want && (rc = sqlite3_step(l.st)) == SQLITE_ROW) {
        err = row_read(l.st, &out->rows[out->n], e);
        if (err)
            goto out;
        out->n++;
    }
    if (out->n < want && rc != SQLITE_DONE)
        err = sq_fail(c->db, rc, "query", e);
out:
    lease_end(&l);
    return err;
}

/*
 * The count and the page run in one read transaction (unless the caller has one), so that the
 * total agrees with the page even while writers commit.
 */
static enum md_err sq_res_query(struct store_conn *bc, enum store_kind k,
                                const struct store_query *qq, struct store_rows *out,
                                struct md_error *e)
{
    struct sq_conn *c = sq(bc);
    struct qsql x;
    enum md_err err;
    bool own = false;

    err = qsql_build(&x, k, qq, e);
    if (err)
        goto out;
    if (x.limit > 0 && !sq_in_tx(bc)) {
        err = run2(c, Q_BEGIN_READ, NULL, NULL, NULL, NULL, e);
        if (err)
            goto out;
        own = true;
    }
    err = query_count(c, &x, &out->total, e);
    if (!err && x.limit > 0 && x.offset < out->total) {
        int64_t left = out->total - x.offset;
        err = query_page(c, &x, (size_t)(left < x.limit ? left : x.limit), out, e);
    }
    if (own) {
        if (!err)
            err = run2(c, Q_COMMIT, NULL, NULL, NULL, NULL, e);
        if (err)
            sq_rollback(bc);
    }
out:
    if (err)
        store_rows_free(out);
    qsql_free(&x);
    return err;
}

static enum md_err sq_explain(struct store_conn *bc, enum store_kind k,
                              const struct store_query *qq, const char *name, char **plan,
                              struct md_error *e)
{
    struct sq_conn *c = sq(bc);
    struct sqlite3_stmt *st = NULL;
    struct qsql x;
    struct buf sql, res;
    enum md_err err = MD_OK;
    int rc, i;

    memset(&x, 0, sizeof x);
    buf_init(&sql, 0);
    buf_init(&res, 0);
    buf_append_cstr(&sql, "EXPLAIN QUERY PLAN ");
    if (name) {
        for (i = 0; i < Q__COUNT && strcmp(sq_sql[i].name, name) != 0; i++)
            ;
        if (i == Q__COUNT) {
            err = md_error_set(e, MD_ERR_NOTFOUND, "no statement is named %s", name);
            goto out;
        }
        buf_append_cstr(&sql, sq_sql[i].sql);
    } else {
        err = qsql_build(&x, k, qq, e);
        if (err)
            goto out;
        buf_append_cstr(&sql, x.limit > 0 ? x.page_sql.p : x.count_sql.p);
    }
    if (sql.err) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = sqlite3_prepare_v2(c->db, sql.p, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        err = sq_fail(c->db, rc, "explain", e);
        goto out;
    }
    if (!name)
        qsql_bind(&x, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        buf_appendf(&res, "%s\n", col_str(st, 3));
    if (rc != SQLITE_DONE)
        err = sq_fail(c->db, rc, "explain", e);
    else if (res.err)
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    else
        *plan = buf_steal(&res);
out:
    sqlite3_finalize(st);
    qsql_free(&x);
    buf_free(&sql);
    buf_free(&res);
    return err;
}

const struct store_backend_ops store__sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .in_tx = sq_in_tx,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .res_insert = sq_res_insert,
    .res_update = sq_res_update,
    .res_touch = sq_res_touch,
    .res_delete = sq_res_delete,
    .res_get = sq_res_get,
    .res_exists = sq_res_exists,
    .res_query = sq_res_query,
    .member_add = sq_member_add,
    .member_remove = sq_member_remove,
    .member_clear = sq_member_clear,
    .member_has = sq_member_has,
    .member_list = sq_member_list,
    .member_groups = sq_member_groups,
    .token_insert = sq_token_insert,
    .token_find = sq_token_find,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .token_touch = sq_token_touch,
    .token_count = sq_token_count,
    .explain = sq_explain,
};
