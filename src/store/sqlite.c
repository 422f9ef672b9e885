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
 * parameters, never part of the text. That compiler, store_res_query and explain are in
 * sqlite_query.c; sqlite_int.h holds what the two files share.
 *
 * Case-insensitive matching uses SQLite's lower() and NOCASE, which fold ASCII letters only; a
 * userName that differs from another only in the case of a non-ASCII letter is a different
 * userName here.
 */
#include "store/sqlite_int.h"

#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/time.h"

#define SQ_BUSY_TIMEOUT_MS 5000
/* RETURNING (3.35), NULLS LAST (3.30) and the built-in JSON functions. */
#define SQ_MIN_VERSION 3035000

/* ---- schema ---- */

/*
 * A table of access objects (migration 2): a JSON document by id, with its version and times;
 * the index serves store_obj_list's order. Part of a shipped migration: never edit it.
 */
#define SQ_OBJ_TABLE(t)                                                                            \
    "CREATE TABLE " t " ("                                                                         \
    " id TEXT PRIMARY KEY NOT NULL,"                                                               \
    " doc TEXT NOT NULL CHECK (json_valid(doc)),"                                                  \
    " version INTEGER NOT NULL,"                                                                   \
    " created_ms INTEGER NOT NULL,"                                                                \
    " modified_ms INTEGER NOT NULL);"                                                              \
    "CREATE INDEX " t "_created ON " t " (created_ms, id);"

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
    /*
     * 2: the access model's documents, and what binds an agent token to a user and a pack.
     * An unbound token holds NULL there (the rows of migration 1 do), read back as "".
     */
    /* clang-format off */
    SQ_OBJ_TABLE("connectors") SQ_OBJ_TABLE("connector_overrides") SQ_OBJ_TABLE("packs")
    SQ_OBJ_TABLE("grants")
    "ALTER TABLE tokens ADD COLUMN user_id TEXT;"
    "ALTER TABLE tokens ADD COLUMN pack TEXT;",
    /* clang-format on */
    /* 3: the change feed's counter, so that processes hear of each other's commits. */
    ("CREATE TABLE feed_counter (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);"
     "INSERT INTO feed_counter (id, seq) VALUES (1, 0);"),
    /* 4: the connector runtime's credentials, sealed with the vault key (connect/vault.c). */
    SQ_OBJ_TABLE("credentials"),
    /*
     * 5: the audit log (audit/): append-only, hash-chained events by sequence number, and where
     * each outbound sink has got to.
     */
    ("CREATE TABLE audit_events ("
     " seq INTEGER PRIMARY KEY NOT NULL,"
     " time_ms INTEGER NOT NULL,"
     " type TEXT NOT NULL,"
     " event_id TEXT NOT NULL UNIQUE,"
     " prev_hash TEXT NOT NULL,"
     " hash TEXT NOT NULL,"
     " doc TEXT NOT NULL);"
     "CREATE INDEX audit_events_time ON audit_events (time_ms);"
     "CREATE TABLE audit_cursors ("
     " name TEXT PRIMARY KEY NOT NULL,"
     " seq INTEGER NOT NULL,"
     " modified_ms INTEGER NOT NULL);"),
};

#define SQ_NMIGRATIONS ((int)(sizeof sq_migrations / sizeof sq_migrations[0]))

/* ---- fixed statements ---- */

/* A token as token_read reads it: an unbound token's user_id and pack are "". */
#define TOKEN_COLS                                                                                 \
    "id, kind, name, hash, created_ms, last_used_ms, revoked, coalesce(user_id, ''), "             \
    "coalesce(pack, '')"

/* Four statements, one per kind of access object (SQ_OBJ4), head + the table + tail. */
#define OBJ_SQL4(q, op, head, tail)                                                                \
    [q##_C] = {"connector_" op, head "connectors" tail},                                           \
    [q##_O] = {"override_" op, head "connector_overrides" tail},                                   \
    [q##_P] = {"pack_" op, head "packs" tail}, [q##_G] = {"grant_" op, head "grants" tail},       \
    [q##_K] = {"credential_" op, head "credentials" tail}
#define OBJ_COLS "id, doc, version, created_ms, modified_ms"

/*
 * Parameters of the resource statements are numbered alike for users and groups (?1 id,
 * ?2 userName, ?3 displayName, ?4 externalId, ?5 active, ?6 created, ?7 modified, ?8 doc,
 * ?9 expected version, or the version to insert with), so one binding serves both; a group's
 * statement skips what it lacks.
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
                    "VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?7, ?9, ?8)"},
    [Q_INSERT_G] = {"group_insert",
                    "INSERT INTO groups (id, display_name, external_id, created_ms, "
                    "modified_ms, version, doc) VALUES (?1, ?3, ?4, ?6, ?7, ?9, ?8)"},
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
                         "DELETE FROM group_members WHERE group_id = ?1 AND member_id = ?2 "
                         "RETURNING member_type"},
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
                        "INSERT INTO tokens (id, kind, name, hash, created_ms, last_used_ms, "
                        "revoked, user_id, pack) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    [Q_TOKEN_FIND] = {"token_find",
                      "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1 AND revoked = 0"},
    [Q_TOKEN_LIST] = {"token_list", "SELECT " TOKEN_COLS " FROM tokens ORDER BY created_ms, id"},
    [Q_TOKEN_REVOKE] = {"token_revoke", "UPDATE tokens SET revoked = 1 WHERE id = ?1"},
    [Q_TOKEN_TOUCH] = {"token_touch", "UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1"},
    [Q_TOKEN_COUNT] = {"token_count", "SELECT count(*) FROM tokens WHERE kind = ?1"},
    [Q_FEED_BUMP] = {"feed_bump", "UPDATE feed_counter SET seq = seq + 1 WHERE id = 1"},
    /*
     * Access objects: ?1 id, ?2 doc, then the insert's ?3 version, ?4 created, ?5 modified;
     * the upsert's and the update's ?3 now, and the update's ?4 expected version. A replace
     * keeps created_ms.
     */
    OBJ_SQL4(Q_OBJ_INSERT, "insert", "INSERT INTO ",
             " (" OBJ_COLS ") VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING"),
    OBJ_SQL4(Q_OBJ_UPSERT, "upsert", "INSERT INTO ",
             " AS o (" OBJ_COLS ") VALUES (?1, ?2, 1, ?3, ?3) ON CONFLICT (id) DO UPDATE SET "
             "doc = excluded.doc, version = o.version + 1, modified_ms = excluded.modified_ms "
             "RETURNING version"),
    OBJ_SQL4(Q_OBJ_UPDATE, "update", "UPDATE ",
             " SET doc = ?2, version = version + 1, modified_ms = ?3 "
             "WHERE id = ?1 AND version = ?4 RETURNING version"),
    OBJ_SQL4(Q_OBJ_VERSION, "version", "SELECT version FROM ", " WHERE id = ?1"),
    OBJ_SQL4(Q_OBJ_GET, "get", "SELECT " OBJ_COLS " FROM ", " WHERE id = ?1"),
    OBJ_SQL4(Q_OBJ_DELETE, "delete", "DELETE FROM ", " WHERE id = ?1"),
    OBJ_SQL4(Q_OBJ_LIST, "list", "SELECT " OBJ_COLS " FROM ", " ORDER BY created_ms, id"),
};

/* The SQL of the fixed statement that sq_sql calls name, NULL when there is none. */
const char *sqlite__fixed_sql(const char *name)
{
    int i;

    for (i = 0; i < Q__COUNT && strcmp(sq_sql[i].name, name) != 0; i++)
        ;
    return i < Q__COUNT ? sq_sql[i].sql : NULL;
}

/* ---- connections ---- */

/* The backend's state (store.impl) is a struct sq_store (sqlite_int.h). */

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
enum md_err sqlite__fail(sqlite3 *db, int rc, const char *what, struct md_error *e)
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
        return sqlite__fail(c->db, rc, what, e);
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
enum md_err sqlite__lease_dyn(struct sq_conn *c, const char *sql, struct sq_lease *l,
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

void sqlite__lease_end(struct sq_lease *l)
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

enum md_err sqlite__bind_fail(struct sq_conn *c, struct md_error *e)
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
        err = sqlite__bind_fail(c, e);
        goto out;
    }
    *rc = sqlite3_step(l->st);
    if (*rc != SQLITE_ROW && *rc != SQLITE_DONE)
        err = sqlite__fail(c->db, *rc, sq_sql[id].name, e);
out:
    if (err)
        sqlite__lease_end(l);
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
    sqlite__lease_end(&l);
    return MD_OK;
}

/* sq_run for the common case of one or two text parameters (b NULL: one). */
enum md_err sqlite__run2(struct sq_conn *c, enum sq_id id, const char *a, const char *b,
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
        err = sqlite__fail(c->db, rc, what, e);
    sqlite__lease_end(l);
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
        err = sqlite__fail(db, rc, "connection setup", e);
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
        err = sqlite__fail(db, rc, "journal mode", e);
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
    return rc == SQLITE_OK ? MD_OK : sqlite__fail(db, rc, what, e);
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
        err = sqlite__fail(db, rc, "migration", e);
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
            err = sqlite__fail(db, rc, "migration", e);
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

static void sq_close(struct store *s)
{
    struct sq_store *ss = s->impl;

    if (!ss)
        return;
    sqlite__feed_stop(s);
    free(ss->path);
    free(ss);
    s->impl = NULL;
}

static enum md_err sq_open(struct store *s, const char *target, struct md_error *e)
{
    struct sq_store *ss = NULL;
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
    if (!err) {
        ss = calloc(1, sizeof *ss);
        if (ss)
            ss->path = strdup(target);
        if (!ss || !ss->path) {
            free(ss);
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        } else {
            s->impl = ss;
            err = sqlite__feed_start(s, db, e);
            if (err)
                sq_close(s);
        }
    }
    sqlite3_close(db);
    return err;
}

static enum md_err sq_conn_open(struct store *s, struct store_conn **out, struct md_error *e)
{
    struct sq_store *ss = s->impl;
    struct sq_conn *c;
    enum md_err err;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    err = sq_open_db(ss->path, &c->db, e);
    if (err) {
        free(c);
        return err;
    }
    *out = &c->base;
    return MD_OK;
}

static void sq_conn_close(struct store_conn *bc)
{
    struct sq_conn *c = sqlite__conn(bc);
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

bool sqlite__in_tx(struct store_conn *bc)
{
    return !sqlite3_get_autocommit(sqlite__conn(bc)->db);
}

/* IMMEDIATE takes the write lock at once: a write transaction never fails half-way to upgrade. */
static enum md_err sq_begin(struct store_conn *bc, struct md_error *e)
{
    if (sqlite__in_tx(bc))
        return md_error_set(e, MD_ERR_INTERNAL, "a transaction is already open");
    return sqlite__run2(sqlite__conn(bc), Q_BEGIN, NULL, NULL, NULL, NULL, e);
}

void sqlite__rollback(struct store_conn *bc)
{
    if (sqlite__in_tx(bc))
        sqlite__run2(sqlite__conn(bc), Q_ROLLBACK, NULL, NULL, NULL, NULL, NULL);
}

/* A failed commit is rolled back, so that the connection is clean whatever happened. */
static enum md_err sq_commit(struct store_conn *bc, struct md_error *e)
{
    enum md_err err;

    if (!sqlite__in_tx(bc))
        return md_error_set(e, MD_ERR_INTERNAL, "no transaction is open");
    err = sqlite__run2(sqlite__conn(bc), Q_COMMIT, NULL, NULL, NULL, NULL, e);
    if (err)
        sqlite__rollback(bc);
    sqlite__commit_done(bc, err == MD_OK);
    return err;
}

/* Opens a write transaction unless the caller has one, so that an operation's steps commit
 * together; *own tells auto_end whether to end it. */
static enum md_err auto_begin(struct sq_conn *c, bool *own, struct md_error *e)
{
    *own = !sqlite__in_tx(&c->base);
    return *own ? sqlite__run2(c, Q_BEGIN, NULL, NULL, NULL, NULL, e) : MD_OK;
}

static enum md_err auto_end(struct sq_conn *c, bool own, enum md_err err, struct md_error *e)
{
    if (!own)
        return err;
    if (!err)
        err = sqlite__run2(c, Q_COMMIT, NULL, NULL, NULL, NULL, e);
    if (err)
        sqlite__rollback(&c->base);
    return err;
}

/* ---- rows ---- */

const char *sqlite__col_str(sqlite3_stmt *st, int i)
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
enum md_err sqlite__row_read(sqlite3_stmt *st, struct store_row *r, struct md_error *e)
{
    bool oom = false;

    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", sqlite__col_str(st, 0));
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

/* Times and a version left at 0 by the caller mean now and 1 (store.h). */
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
                         arg_s(r->doc ? r->doc : "{}"),
                         arg_i(r->version > 0 ? r->version : 1)};

    return sq_run(sqlite__conn(bc), by_kind(Q_INSERT_U, k), a, NARGS(a), NULL, NULL, e);
}

/*
 * One statement checks the version and writes, so no other writer can slip in between; when it
 * matched no row, a second look tells a missing resource from a stale version.
 */
static enum md_err sq_res_update(struct store_conn *bc, enum store_kind k,
                                 const struct store_row *r, int64_t expect_version,
                                 int64_t *new_version, struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
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
    sqlite__lease_end(&l);
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
    sqlite__lease_end(&l);
    return err;
}

static enum md_err sq_res_touch(struct store_conn *bc, enum store_kind k, const char *id,
                                int64_t modified_ms, int64_t *new_version, struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id), arg_i(modified_ms > 0 ? modified_ms : time_now_ms())};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sqlite__conn(bc), by_kind(Q_TOUCH_U, k), a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW && new_version)
        *new_version = sqlite3_column_int64(l.st, 0);
    sqlite__lease_end(&l);
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
    struct sq_conn *c = sqlite__conn(bc);
    enum md_err err;
    bool own;
    int n = 0;

    err = auto_begin(c, &own, e);
    if (err)
        return err;
    err = sqlite__run2(c, by_kind(Q_DELETE_U, k), id, NULL, &n, NULL, e);
    if (!err && n == 0)
        err = not_found(k, e);
    if (!err && k == STORE_GROUPS)
        err = sqlite__run2(c, Q_MEMBER_CLEAR, id, NULL, NULL, NULL, e);
    if (!err)
        err = sqlite__run2(c, Q_MEMBER_DROP, id, NULL, NULL, NULL, e);
    return auto_end(c, own, err, e);
}

static enum md_err sq_res_get(struct store_conn *bc, enum store_kind k, const char *id,
                              struct store_row *out, struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sqlite__conn(bc), by_kind(Q_GET_U, k), a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    err = rc == SQLITE_ROW ? sqlite__row_read(l.st, out, e) : not_found(k, e);
    sqlite__lease_end(&l);
    return err;
}

static enum md_err sq_res_exists(struct store_conn *bc, enum store_kind k, const char *id,
                                 bool *exists, struct md_error *e)
{
    return sqlite__run2(sqlite__conn(bc), by_kind(Q_EXISTS_U, k), id, NULL, NULL, exists, e);
}

/* ---- membership ---- */

static enum store_member_type member_type_of(const char *col)
{
    return strcmp(col, "Group") == 0 ? STORE_MEMBER_GROUP : STORE_MEMBER_USER;
}

static enum md_err sq_member_add(struct store_conn *bc, const char *group_id, const char *member_id,
                                 enum store_member_type type, const char *display, bool *added,
                                 struct md_error *e)
{
    struct sq_arg a[] = {arg_s(group_id), arg_s(member_id),
                         arg_s(type == STORE_MEMBER_GROUP ? "Group" : "User"), arg_s(display)};
    int n = 0;
    enum md_err err = sq_run(sqlite__conn(bc), Q_MEMBER_ADD, a, NARGS(a), &n, NULL, e);

    *added = !err && n > 0;
    return err;
}

/* The deleted row tells its member's type (RETURNING), for the change feed. */
static enum md_err sq_member_remove(struct store_conn *bc, const char *group_id,
                                    const char *member_id, bool *removed,
                                    enum store_member_type *type, struct md_error *e)
{
    struct sq_arg a[] = {arg_s(group_id), arg_s(member_id)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    *removed = false;
    err = sq_start(sqlite__conn(bc), Q_MEMBER_REMOVE, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW) {
        *removed = true;
        *type = member_type_of(sqlite__col_str(l.st, 0));
    }
    sqlite__lease_end(&l);
    return MD_OK;
}

static enum md_err sq_member_clear(struct store_conn *bc, const char *group_id, struct md_error *e)
{
    return sqlite__run2(sqlite__conn(bc), Q_MEMBER_CLEAR, group_id, NULL, NULL, NULL, e);
}

static enum md_err sq_member_has(struct store_conn *bc, const char *group_id, const char *member_id,
                                 bool *has, struct md_error *e)
{
    return sqlite__run2(sqlite__conn(bc), Q_MEMBER_HAS, group_id, member_id, NULL, has, e);
}

static enum md_err sq_member_list(struct store_conn *bc, const char *group_id, store_member_fn fn,
                                  void *ctx, struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
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
        snprintf(m.id, sizeof m.id, "%s", sqlite__col_str(l.st, 0));
        m.type = member_type_of(sqlite__col_str(l.st, 1));
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
    struct sq_conn *c = sqlite__conn(bc);
    struct sq_arg a[] = {arg_s(member_id)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, Q_MEMBER_GROUPS, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    for (; rc == SQLITE_ROW; rc = sqlite3_step(l.st)) {
        const unsigned char *disp = sqlite3_column_text(l.st, 1);
        if (fn(ctx, sqlite__col_str(l.st, 0), (const char *)disp, sqlite3_column_int(l.st, 2) != 0))
            break;
    }
    return walk_end(c, &l, rc, MD_OK, "member groups", e);
}

/* ---- tokens ---- */

static void token_read(sqlite3_stmt *st, struct store_token *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", sqlite__col_str(st, 0));
    snprintf(t->kind, sizeof t->kind, "%s", sqlite__col_str(st, 1));
    snprintf(t->name, sizeof t->name, "%s", sqlite__col_str(st, 2));
    snprintf(t->hash, sizeof t->hash, "%s", sqlite__col_str(st, 3));
    t->created_ms = sqlite3_column_int64(st, 4);
    t->last_used_ms = sqlite3_column_int64(st, 5);
    t->revoked = sqlite3_column_int(st, 6) != 0;
    snprintf(t->user_id, sizeof t->user_id, "%s", sqlite__col_str(st, 7));
    snprintf(t->pack, sizeof t->pack, "%s", sqlite__col_str(st, 8));
}

/* An unbound token's user_id and pack are stored as NULL, as the rows of migration 1 are. */
static const char *null_if_empty(const char *s)
{
    return s[0] ? s : NULL;
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
                         arg_i(t->revoked ? 1 : 0),
                         arg_s(null_if_empty(t->user_id)),
                         arg_s(null_if_empty(t->pack))};

    return sq_run(sqlite__conn(bc), Q_TOKEN_INSERT, a, NARGS(a), NULL, NULL, e);
}

static enum md_err sq_token_find(struct store_conn *bc, const char *hash, struct store_token *out,
                                 struct md_error *e)
{
    struct sq_arg a[] = {arg_s(hash)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sqlite__conn(bc), Q_TOKEN_FIND, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW)
        token_read(l.st, out);
    else
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    sqlite__lease_end(&l);
    return err;
}

static enum md_err sq_token_list(struct store_conn *bc, store_token_fn fn, void *ctx,
                                 struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
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
    enum md_err err = sqlite__run2(sqlite__conn(bc), Q_TOKEN_REVOKE, id, NULL, &n, NULL, e);

    if (!err && n == 0)
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    return err;
}

static enum md_err sq_token_touch(struct store_conn *bc, const char *id, int64_t when_ms,
                                  struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id), arg_i(when_ms)};
    int n = 0;
    enum md_err err = sq_run(sqlite__conn(bc), Q_TOKEN_TOUCH, a, NARGS(a), &n, NULL, e);

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

    err = sq_start(sqlite__conn(bc), Q_TOKEN_COUNT, a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(l.st, 0) : 0;
    sqlite__lease_end(&l);
    return MD_OK;
}

/* ---- access objects ---- */

_Static_assert(STORE_OBJ__COUNT == 5, "SQ_OBJ4 has a statement for each kind of access object");

static enum sq_id obj_q(enum sq_id connectors_id, enum store_obj_kind k)
{
    return (enum sq_id)((int)connectors_id + (int)k);
}

static enum md_err obj_not_found(enum store_obj_kind k, struct md_error *e)
{
    return md_error_set(e, MD_ERR_NOTFOUND, "not found in %s", store_obj_kind_name(k));
}

static enum md_err obj_taken(enum store_obj_kind k, struct md_error *e)
{
    return md_error_set(e, MD_ERR_UNIQUENESS, "an object with this id already exists in %s",
                        store_obj_kind_name(k));
}

/* Reads the columns of OBJ_COLS. */
static enum md_err obj_read(sqlite3_stmt *st, struct store_obj *o, struct md_error *e)
{
    bool oom = false;

    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", sqlite__col_str(st, 0));
    o->doc = col_dup(st, 1, &oom);
    o->version = sqlite3_column_int64(st, 2);
    o->created_ms = sqlite3_column_int64(st, 3);
    o->modified_ms = sqlite3_column_int64(st, 4);
    if (oom)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    return MD_OK;
}

/* Inserts a row as given; MD_ERR_UNIQUENESS (nothing written) when the id is taken. */
static enum md_err obj_insert(struct sq_conn *c, enum store_obj_kind k, const char *id,
                              const char *doc, int64_t version, int64_t created, int64_t modified,
                              struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id), arg_s(doc), arg_i(version), arg_i(created), arg_i(modified)};
    int n = 0;
    enum md_err err = sq_run(c, obj_q(Q_OBJ_INSERT_C, k), a, NARGS(a), &n, NULL, e);

    return !err && n == 0 ? obj_taken(k, e) : err;
}

/* Runs an upsert or an update whose RETURNING gives the new version; *hit when a row did. */
static enum md_err obj_write(struct sq_conn *c, enum sq_id q, const struct sq_arg *a, int n,
                             bool *hit, int64_t *new_version, struct md_error *e)
{
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, q, a, n, &l, &rc, e);
    if (err)
        return err;
    *hit = rc == SQLITE_ROW;
    if (*hit)
        *new_version = sqlite3_column_int64(l.st, 0);
    sqlite__lease_end(&l);
    return MD_OK;
}

/*
 * expect_version: < 0 upsert, 0 insert only, > 0 replace only that version. The replace checks
 * the version in its WHERE clause; when it matched no row, a second look tells a missing row
 * from a stale version (under BEGIN IMMEDIATE nothing changes in between).
 */
static enum md_err sq_obj_put(struct store_conn *bc, enum store_obj_kind k, const char *id,
                              const char *doc, int64_t expect_version, int64_t *new_version,
                              struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    int64_t now = time_now_ms();
    struct sq_arg a[] = {arg_s(id), arg_s(doc), arg_i(now), arg_i(expect_version)};
    struct sq_lease l;
    enum md_err err;
    bool hit = false;
    int rc;

    *new_version = 0;
    if (expect_version == 0) {
        err = obj_insert(c, k, id, doc, 1, now, now, e);
        if (!err)
            *new_version = 1;
        return err;
    }
    if (expect_version < 0)
        return obj_write(c, obj_q(Q_OBJ_UPSERT_C, k), a, 3, &hit, new_version, e);
    err = obj_write(c, obj_q(Q_OBJ_UPDATE_C, k), a, NARGS(a), &hit, new_version, e);
    if (err || hit)
        return err;
    err = sq_start(c, obj_q(Q_OBJ_VERSION_C, k), a, 1, &l, &rc, e);
    if (err)
        return err;
    if (rc == SQLITE_ROW)
        err = md_error_set(e, MD_ERR_PRECONDITION,
                           "the object has changed (it is now at version %lld)",
                           (long long)sqlite3_column_int64(l.st, 0));
    else
        err = obj_not_found(k, e);
    sqlite__lease_end(&l);
    return err;
}

/* A version and times left at 0 mean 1 and now, as for store_res_insert. */
static enum md_err sq_obj_copy(struct store_conn *bc, enum store_obj_kind k,
                               const struct store_obj *o, struct md_error *e)
{
    int64_t created = o->created_ms > 0 ? o->created_ms : time_now_ms();

    return obj_insert(sqlite__conn(bc), k, o->id, o->doc, o->version > 0 ? o->version : 1, created,
                      o->modified_ms > 0 ? o->modified_ms : created, e);
}

static enum md_err sq_obj_get(struct store_conn *bc, enum store_obj_kind k, const char *id,
                              struct store_obj *out, struct md_error *e)
{
    struct sq_arg a[] = {arg_s(id)};
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(sqlite__conn(bc), obj_q(Q_OBJ_GET_C, k), a, NARGS(a), &l, &rc, e);
    if (err)
        return err;
    err = rc == SQLITE_ROW ? obj_read(l.st, out, e) : obj_not_found(k, e);
    if (err)
        store_obj_free(out);
    sqlite__lease_end(&l);
    return err;
}

static enum md_err sq_obj_delete(struct store_conn *bc, enum store_obj_kind k, const char *id,
                                 struct md_error *e)
{
    int n = 0;
    enum md_err err =
        sqlite__run2(sqlite__conn(bc), obj_q(Q_OBJ_DELETE_C, k), id, NULL, &n, NULL, e);

    return !err && n == 0 ? obj_not_found(k, e) : err;
}

static enum md_err sq_obj_list(struct store_conn *bc, enum store_obj_kind k, store_obj_fn fn,
                               void *ctx, struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sq_start(c, obj_q(Q_OBJ_LIST_C, k), NULL, 0, &l, &rc, e);
    if (err)
        return err;
    for (; rc == SQLITE_ROW; rc = sqlite3_step(l.st)) {
        struct store_obj o;
        int stop;

        err = obj_read(l.st, &o, e);
        if (err) {
            store_obj_free(&o);
            break;
        }
        stop = fn(ctx, &o);
        store_obj_free(&o);
        if (stop)
            break;
    }
    return walk_end(c, &l, rc, err, "object list", e);
}

const struct store_backend_ops store__sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .in_tx = sqlite__in_tx,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sqlite__rollback,
    .res_insert = sq_res_insert,
    .res_update = sq_res_update,
    .res_touch = sq_res_touch,
    .res_delete = sq_res_delete,
    .res_get = sq_res_get,
    .res_exists = sq_res_exists,
    .res_query = sqlite__res_query,
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
    .announce = sqlite__announce,
    .obj_put = sq_obj_put,
    .obj_copy = sq_obj_copy,
    .obj_get = sq_obj_get,
    .obj_delete = sq_obj_delete,
    .obj_list = sq_obj_list,
    .explain = sqlite__explain,
    .audit = &sqlite__audit_ops,
};
