/*
 * The PostgreSQL backend of the store (store_int.h), over libpq.
 *
 * The URL store.c hands over is the one the operator gave without its scheme; the backend
 * talks to "postgresql://" + that target, with defaults that the URL may override placed before
 * it (connect_timeout=2, TCP keepalives, fallback_application_name=mandate) and client_encoding
 * forced to UTF8 after it. The URL may hold a password, so it is never logged nor put in an
 * error message, and libpq's own messages are logged with the password scrubbed out.
 *
 * Each pooled connection owns one PGconn. Every statement is a prepared statement with bound
 * parameters: the fixed ones below are prepared on first use on each connection and reused,
 * and the SQL that store_res_query compiles from a predicate tree (pg_query.c) is kept in a
 * small per-connection cache keyed by its text, as in the SQLite backend. Values never become
 * part of the SQL text.
 *
 * Semantics are the SQLite backend's (store_int.h's contract), with these choices:
 *  - Text columns are COLLATE "C", so that strings order by code point (UTF-8 bytes), and
 *    case-insensitive matching folds with lower() under the "C" collation, which folds ASCII
 *    letters only, as SQLite's lower() and NOCASE do: a userName that differs from another only
 *    in the case of a non-ASCII letter is a different userName here too.
 *  - Users' and groups' documents are jsonb. PostgreSQL keeps the value, not the text: keys
 *    come back reordered and spaced ("{"a": 1}"), which every reader parses anyway. Access
 *    objects' documents are text checked to be JSON, kept as written (see PG_OBJ_TABLE).
 *  - A failed statement aborts a PostgreSQL transaction, while the SQLite backend lets the
 *    caller go on. So the statements never fail for the expected reasons: an insert that
 *    would break a unique key does nothing (ON CONFLICT DO NOTHING) and is then told apart,
 *    an update checks the version and the userName in its WHERE clause, and a member is added
 *    only to a group that exists. The unique indexes still decide under a race; then the
 *    statement fails, the caller hears the same error, and its transaction cannot commit.
 *  - Transactions are READ COMMITTED. An update with an expected version is one statement
 *    (UPDATE ... WHERE id = $1 AND version = $8), which PostgreSQL re-checks against the
 *    newest row version after waiting for a concurrent writer, so no stale write slips in.
 */
#include "store/pg_int.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"

/* The advisory lock that serializes migrations across nodes ("mand"). */
#define PG_MIGRATE_LOCK "1835101796"

/* ---- schema ---- */

/*
 * The migrations, in order; migration i+1 is recorded in schema_version once applied. Never
 * edit one that has shipped: append a new one. They mirror the SQLite schema. Membership order
 * comes from an identity column, which concurrent adds to one group cannot collide on.
 * mandate_changes is the change feed's counter (pg_feed.c). mandate_time_ms reads an RFC 3339
 * string as epoch milliseconds, or NULL when it is not one (never an error, which would abort
 * the query): strings that do not look like a timestamp are refused before the cast, and only
 * the ones that do pay for the exception block.
 */
/*
 * A table of access objects (migration 2): a JSON document by id, with its version and times;
 * the index serves store_obj_list's order. The document is text, not jsonb, so that it comes
 * back as it was written, key order included (an administrator reads it back through the API);
 * the CHECK parses it as json, which accepts every JSON text (jsonb refuses "\u0000").
 * Part of a shipped migration: never edit it.
 */
#define PG_OBJ_TABLE(t)                                                                            \
    "CREATE TABLE " t " ("                                                                         \
    " id text COLLATE \"C\" NOT NULL CONSTRAINT " t "_pkey PRIMARY KEY,"                           \
    " doc text NOT NULL CONSTRAINT " t "_doc_json CHECK (doc::json IS NOT NULL),"                  \
    " version bigint NOT NULL,"                                                                    \
    " created_ms bigint NOT NULL,"                                                                 \
    " modified_ms bigint NOT NULL);"                                                               \
    "CREATE INDEX " t "_created ON " t " (created_ms, id);"

static const char *const pg_migrations[] = {
    /* 1: SCIM resources, membership, tokens and the change counter. */
    "CREATE TABLE users ("
    " id text COLLATE \"C\" NOT NULL CONSTRAINT users_pkey PRIMARY KEY,"
    " user_name text COLLATE \"C\" NOT NULL,"
    " user_name_lc text COLLATE \"C\" NOT NULL CONSTRAINT users_user_name_lc_key UNIQUE,"
    " display_name text COLLATE \"C\","
    " external_id text COLLATE \"C\","
    " active boolean NOT NULL DEFAULT true,"
    " created_ms bigint NOT NULL,"
    " modified_ms bigint NOT NULL,"
    " version bigint NOT NULL DEFAULT 1,"
    " doc jsonb NOT NULL);"
    "CREATE INDEX users_external_id ON users (external_id);"
    "CREATE INDEX users_display_name ON users (lower(display_name));"
    "CREATE INDEX users_created ON users (created_ms, id);"
    "CREATE TABLE groups ("
    " id text COLLATE \"C\" NOT NULL CONSTRAINT groups_pkey PRIMARY KEY,"
    " display_name text COLLATE \"C\","
    " external_id text COLLATE \"C\","
    " created_ms bigint NOT NULL,"
    " modified_ms bigint NOT NULL,"
    " version bigint NOT NULL DEFAULT 1,"
    " doc jsonb NOT NULL);"
    "CREATE INDEX groups_external_id ON groups (external_id);"
    "CREATE INDEX groups_display_name ON groups (lower(display_name));"
    "CREATE INDEX groups_created ON groups (created_ms, id);"
    "CREATE TABLE group_members ("
    " group_id text COLLATE \"C\" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
    " member_id text COLLATE \"C\" NOT NULL,"
    " member_type text NOT NULL CHECK (member_type IN ('User', 'Group')),"
    " display text,"
    " seq bigint GENERATED BY DEFAULT AS IDENTITY,"
    " CONSTRAINT group_members_pkey PRIMARY KEY (group_id, member_id));"
    "CREATE INDEX group_members_member ON group_members (member_id);"
    "CREATE INDEX group_members_seq ON group_members (group_id, seq);"
    "CREATE TABLE tokens ("
    " id text COLLATE \"C\" NOT NULL CONSTRAINT tokens_pkey PRIMARY KEY,"
    " kind text COLLATE \"C\" NOT NULL,"
    " name text NOT NULL,"
    " hash text COLLATE \"C\" NOT NULL CONSTRAINT tokens_hash_key UNIQUE,"
    " created_ms bigint NOT NULL,"
    " last_used_ms bigint NOT NULL DEFAULT 0,"
    " revoked boolean NOT NULL DEFAULT false);"
    "CREATE INDEX tokens_kind ON tokens (kind);"
    "CREATE TABLE mandate_changes ("
    " id integer PRIMARY KEY CHECK (id = 1),"
    " seq bigint NOT NULL);"
    "INSERT INTO mandate_changes (id, seq) VALUES (1, 0);"
    "CREATE FUNCTION mandate_time_ms(t text) RETURNS bigint"
    " LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET TimeZone = 'UTC' AS $f$"
    " BEGIN"
    "  IF t !~ '^\\d{4}-\\d\\d-\\d\\d([Tt ]\\d\\d:\\d\\d(:\\d\\d(\\.\\d+)?)?)?"
    "([Zz]|[+-]\\d\\d(:?\\d\\d)?)?$' THEN"
    "   RETURN NULL;"
    "  END IF;"
    "  BEGIN"
    "   RETURN round(extract(epoch FROM t::timestamptz) * 1000);"
    "  EXCEPTION WHEN others THEN"
    "   RETURN NULL;"
    "  END;"
    " END $f$;",
    /*
     * 2: the access model's documents, and what binds an agent token to a user and a pack.
     * An unbound token holds NULL there (the rows of migration 1 do), read back as "".
     */
    /* clang-format off */
    PG_OBJ_TABLE("connectors") PG_OBJ_TABLE("connector_overrides") PG_OBJ_TABLE("packs")
    PG_OBJ_TABLE("grants")
    "ALTER TABLE tokens ADD COLUMN user_id text COLLATE \"C\","
    " ADD COLUMN pack text COLLATE \"C\";",
    /* clang-format on */
    /* 3: the connector runtime's credentials, sealed with the vault key (connect/vault.c). */
    PG_OBJ_TABLE("credentials"),
    /*
     * 4: the audit log (audit/): append-only, hash-chained events by sequence number, and where
     * each outbound sink has got to. The document is text: it is hashed as written.
     */
    "CREATE TABLE audit_events ("
    " seq bigint NOT NULL CONSTRAINT audit_events_pkey PRIMARY KEY,"
    " time_ms bigint NOT NULL,"
    " type text COLLATE \"C\" NOT NULL,"
    " event_id text COLLATE \"C\" NOT NULL CONSTRAINT audit_events_event_id_key UNIQUE,"
    " prev_hash text COLLATE \"C\" NOT NULL,"
    " hash text COLLATE \"C\" NOT NULL,"
    " doc text NOT NULL);"
    "CREATE INDEX audit_events_time ON audit_events (time_ms);"
    "CREATE TABLE audit_cursors ("
    " name text COLLATE \"C\" NOT NULL CONSTRAINT audit_cursors_pkey PRIMARY KEY,"
    " seq bigint NOT NULL,"
    " modified_ms bigint NOT NULL);",
};

#define PG_NMIGRATIONS ((int)(sizeof pg_migrations / sizeof pg_migrations[0]))

/* ---- fixed statements ---- */

/* A token as token_read reads it: an unbound token's user_id and pack are "". */
#define TOKEN_COLS                                                                                 \
    "id, kind, name, hash, created_ms, last_used_ms, revoked, coalesce(user_id, ''), "             \
    "coalesce(pack, '')"

/* Four statements, one per kind of access object (PG_OBJ4), head + the table + tail. */
#define OBJ_SQL4(q, op, head, tail, again)                                                         \
    [q##_C] = {"connector_" op, head "connectors" tail, again},                                    \
    [q##_O] = {"override_" op, head "connector_overrides" tail, again},                            \
    [q##_P] = {"pack_" op, head "packs" tail, again},                                              \
    [q##_G] = {"grant_" op, head "grants" tail, again},                                            \
    [q##_K] = {"credential_" op, head "credentials" tail, again}
#define OBJ_COLS "id, doc, version, created_ms, modified_ms"
/* The userName is taken by another user: the unique key's question, asked in advance. */
#define NAME_TAKEN                                                                                 \
    "EXISTS (SELECT 1 FROM users AS o WHERE o.user_name_lc = lower($2::text COLLATE \"C\") "       \
    "AND o.id <> $1::text)"

/*
 * The statements, by enum pg_id. retry marks the ones that may be sent a second time when the
 * first attempt finds the connection lost outside a transaction: reads and idempotent writes.
 * Parameters are numbered per statement (users and groups differ); the operations below bind
 * them in that order.
 */
static const struct pg_fixed pg_sql[P__COUNT] = {
    /* $1 id, $2 userName, $3 displayName, $4 externalId, $5 active, $6 created, $7 modified,
     * $8 doc, $9 version. Nothing is inserted on a conflict with either unique key. */
    [P_INSERT_U] = {"user_insert",
                    "INSERT INTO users (id, user_name, user_name_lc, display_name, external_id, "
                    "active, created_ms, modified_ms, version, doc) "
                    "VALUES ($1::text, $2::text, lower($2::text COLLATE \"C\"), $3::text, "
                    "$4::text, $5::boolean, $6::bigint, $7::bigint, $9::bigint, $8::jsonb) "
                    "ON CONFLICT DO NOTHING RETURNING 1",
                    false},
    /* $1 id, $2 displayName, $3 externalId, $4 created, $5 modified, $6 doc, $7 version. */
    [P_INSERT_G] = {"group_insert",
                    "INSERT INTO groups (id, display_name, external_id, created_ms, modified_ms, "
                    "version, doc) VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::bigint, "
                    "$7::bigint, $6::jsonb) ON CONFLICT DO NOTHING RETURNING 1",
                    false},
    /* $1 id, $2 userName, $3 displayName, $4 externalId, $5 active, $6 modified, $7 doc,
     * $8 expected version (< 0: any). */
    [P_UPDATE_U] = {"user_update",
                    "UPDATE users SET user_name = $2::text, "
                    "user_name_lc = lower($2::text COLLATE \"C\"), display_name = $3::text, "
                    "external_id = $4::text, active = $5::boolean, modified_ms = $6::bigint, "
                    "doc = $7::jsonb, version = version + 1 "
                    "WHERE id = $1::text AND ($8::bigint < 0 OR version = $8::bigint) "
                    "AND NOT " NAME_TAKEN " RETURNING version",
                    false},
    /* $1 id, $2 displayName, $3 externalId, $4 modified, $5 doc, $6 expected version. */
    [P_UPDATE_G] = {"group_update",
                    "UPDATE groups SET display_name = $2::text, external_id = $3::text, "
                    "modified_ms = $4::bigint, doc = $5::jsonb, version = version + 1 "
                    "WHERE id = $1::text AND ($6::bigint < 0 OR version = $6::bigint) "
                    "RETURNING version",
                    false},
    /* Why an update matched no row: the version now, and whether the userName is taken. */
    [P_DIAG_U] = {"user_version", "SELECT version, " NAME_TAKEN " FROM users WHERE id = $1::text",
                  true},
    [P_DIAG_G] = {"group_version", "SELECT version, false FROM groups WHERE id = $1::text", true},
    [P_TOUCH_U] = {"user_touch",
                   "UPDATE users SET modified_ms = $2::bigint, version = version + 1 "
                   "WHERE id = $1::text RETURNING version",
                   false},
    [P_TOUCH_G] = {"group_touch",
                   "UPDATE groups SET modified_ms = $2::bigint, version = version + 1 "
                   "WHERE id = $1::text RETURNING version",
                   false},
    /* The resource and every membership row naming it go together, or nothing does when it
     * does not exist. (A group's own rows would go by the foreign key's cascade too.) */
    [P_DELETE_U] = {"user_delete",
                    "WITH d AS (DELETE FROM users WHERE id = $1::text RETURNING id), "
                    "m AS (DELETE FROM group_members WHERE member_id = $1::text "
                    "AND EXISTS (SELECT 1 FROM d)) "
                    "SELECT count(*) FROM d",
                    false},
    [P_DELETE_G] = {"group_delete",
                    "WITH d AS (DELETE FROM groups WHERE id = $1::text RETURNING id), "
                    "m AS (DELETE FROM group_members WHERE (group_id = $1::text "
                    "OR member_id = $1::text) AND EXISTS (SELECT 1 FROM d)) "
                    "SELECT count(*) FROM d",
                    false},
    [P_GET_U] = {"user_get", "SELECT " PG_U_COLS " FROM users AS r WHERE r.id = $1::text", true},
    [P_GET_G] = {"group_get", "SELECT " PG_G_COLS " FROM groups AS r WHERE r.id = $1::text", true},
    /* Inside a transaction a read of a resource locks its row, as SQLite's BEGIN IMMEDIATE
     * serialises writers: a read-modify-write (PUT, PATCH) never sees a version that another
     * transaction is about to replace, so concurrent PATCHes queue instead of failing. */
    [P_LOCK_U] = {"user_get_lock",
                  "SELECT " PG_U_COLS " FROM users AS r WHERE r.id = $1::text FOR UPDATE", false},
    [P_LOCK_G] = {"group_get_lock",
                  "SELECT " PG_G_COLS " FROM groups AS r WHERE r.id = $1::text FOR UPDATE", false},
    [P_EXISTS_U] = {"user_exists", "SELECT 1 FROM users WHERE id = $1::text", true},
    [P_EXISTS_G] = {"group_exists", "SELECT 1 FROM groups WHERE id = $1::text", true},
    /* One statement tells whether the group exists and whether the row was added. */
    [P_MEMBER_ADD] = {"member_add",
                      "WITH g AS (SELECT id FROM groups WHERE id = $1::text), "
                      "i AS (INSERT INTO group_members (group_id, member_id, member_type, "
                      "display) SELECT g.id, $2::text, $3::text, $4::text FROM g "
                      "ON CONFLICT (group_id, member_id) DO NOTHING RETURNING 1) "
                      "SELECT (SELECT count(*) FROM g), (SELECT count(*) FROM i)",
                      false},
    [P_MEMBER_REMOVE] = {"member_remove",
                         "DELETE FROM group_members WHERE group_id = $1::text "
                         "AND member_id = $2::text RETURNING member_type",
                         false},
    [P_MEMBER_HAS] = {"member_has",
                      "SELECT 1 FROM group_members WHERE group_id = $1::text "
                      "AND member_id = $2::text",
                      true},
    [P_MEMBER_CLEAR] = {"member_clear", "DELETE FROM group_members WHERE group_id = $1::text",
                        false},
    [P_MEMBER_LIST] = {"member_list",
                       "SELECT m.member_id, m.member_type, coalesce(m.display, "
                       "nullif(u.display_name, ''), u.user_name, g.display_name) "
                       "FROM group_members AS m "
                       "LEFT JOIN users AS u ON m.member_type = 'User' AND u.id = m.member_id "
                       "LEFT JOIN groups AS g ON m.member_type = 'Group' AND g.id = m.member_id "
                       "WHERE m.group_id = $1::text ORDER BY m.seq",
                       true},
    /*
     * UNION (not UNION ALL) drops a group already reached, so a cycle of nested groups ends.
     * A group is not reported as a group of itself, even when a cycle leads back to it.
     * NULLS FIRST orders a group without a displayName as SQLite does. The displayName is
     * fetched by key for each group found: PostgreSQL cannot estimate how many rows a
     * recursive query yields, and a join would tempt it into reading every group.
     */
    [P_MEMBER_GROUPS] = {"member_groups",
                         "WITH RECURSIVE up (gid) AS ("
                         " SELECT group_id FROM group_members WHERE member_id = $1::text"
                         " UNION"
                         " SELECT m.group_id FROM group_members AS m JOIN up"
                         " ON m.member_id = up.gid WHERE m.member_type = 'Group') "
                         "SELECT x.gid, x.dn, x.direct FROM (SELECT up.gid, "
                         "(SELECT g.display_name FROM groups AS g WHERE g.id = up.gid) AS dn, "
                         "EXISTS (SELECT 1 FROM group_members AS d WHERE d.group_id = up.gid "
                         "AND d.member_id = $1::text) AS direct "
                         "FROM up WHERE up.gid <> $1::text) AS x "
                         "ORDER BY lower(x.dn) NULLS FIRST, x.gid",
                         true},
    /* An unbound token's user_id and pack ("") are stored as NULL. */
    [P_TOKEN_INSERT] = {"token_insert",
                        "INSERT INTO tokens (id, kind, name, hash, created_ms, last_used_ms, "
                        "revoked, user_id, pack) VALUES ($1::text, $2::text, $3::text, $4::text, "
                        "$5::bigint, $6::bigint, $7::boolean, nullif($8::text, ''), "
                        "nullif($9::text, '')) ON CONFLICT DO NOTHING RETURNING 1",
                        false},
    [P_TOKEN_ID_TAKEN] = {"token_exists", "SELECT 1 FROM tokens WHERE id = $1::text", true},
    [P_TOKEN_FIND] = {"token_find",
                      "SELECT " TOKEN_COLS " FROM tokens WHERE hash = $1::text AND NOT revoked",
                      true},
    [P_TOKEN_LIST] = {"token_list", "SELECT " TOKEN_COLS " FROM tokens ORDER BY created_ms, id",
                      true},
    [P_TOKEN_REVOKE] = {"token_revoke", "UPDATE tokens SET revoked = true WHERE id = $1::text",
                        false},
    [P_TOKEN_TOUCH] = {"token_touch",
                       "UPDATE tokens SET last_used_ms = $2::bigint WHERE id = $1::text", true},
    [P_TOKEN_COUNT] = {"token_count", "SELECT count(*) FROM tokens WHERE kind = $1::text", true},
    /*
     * Access objects: $1 id, $2 doc, then the insert's $3 version, $4 created, $5 modified;
     * the upsert's and the update's $3 now, and the update's $4 expected version. A replace
     * keeps created_ms. Nothing is inserted on a conflict, so that a taken id does not abort
     * the caller's transaction.
     */
    OBJ_SQL4(P_OBJ_INSERT, "insert", "INSERT INTO ",
             " (" OBJ_COLS ") VALUES ($1::text, $2::text, $3::bigint, $4::bigint, $5::bigint) "
             "ON CONFLICT DO NOTHING RETURNING 1",
             false),
    OBJ_SQL4(P_OBJ_UPSERT, "upsert", "INSERT INTO ",
             " AS o (" OBJ_COLS ") VALUES ($1::text, $2::text, 1, $3::bigint, $3::bigint) "
             "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = o.version + 1, "
             "modified_ms = excluded.modified_ms RETURNING o.version",
             false),
    OBJ_SQL4(P_OBJ_UPDATE, "update", "UPDATE ",
             " SET doc = $2::text, version = version + 1, modified_ms = $3::bigint "
             "WHERE id = $1::text AND version = $4::bigint RETURNING version",
             false),
    OBJ_SQL4(P_OBJ_VERSION, "version", "SELECT version FROM ", " WHERE id = $1::text", true),
    OBJ_SQL4(P_OBJ_GET, "get", "SELECT " OBJ_COLS " FROM ", " WHERE id = $1::text", true),
    OBJ_SQL4(P_OBJ_LOCK, "get_lock", "SELECT " OBJ_COLS " FROM ",
             " WHERE id = $1::text FOR UPDATE", false),
    OBJ_SQL4(P_OBJ_DELETE, "delete", "DELETE FROM ", " WHERE id = $1::text", false),
    OBJ_SQL4(P_OBJ_LIST, "list", "SELECT " OBJ_COLS " FROM ", " ORDER BY created_ms, id", true),
    /* $1 node id, $2 the changes (pg_feed.c). The counter's row lock orders the announcing
     * transactions, so that sequence numbers are told in commit order. */
    [P_ANNOUNCE] = {"announce",
                    "WITH s AS (UPDATE mandate_changes SET seq = seq + 1 WHERE id = 1 "
                    "RETURNING seq) "
                    "SELECT s.seq, pg_notify('" PG_CHANNEL "', $1::text || ' ' || s.seq || "
                    "$2::text) FROM s",
                    false},
};

const struct pg_fixed *pg__fixed(enum pg_id id)
{
    return &pg_sql[id];
}

/* The SQL of the fixed statement that pg_sql calls name, NULL when there is none. */
const char *pg__fixed_sql(const char *name)
{
    int i;

    for (i = 0; i < P__COUNT && strcmp(pg_sql[i].name, name) != 0; i++)
        ;
    return i < P__COUNT ? pg_sql[i].sql : NULL;
}

/* Runs a statement for its effect only; *changed (may be NULL) gets the rows it changed. */
static enum md_err exec_count(struct pg_conn *c, enum pg_id id, const char *const *args, int n,
                              int64_t *changed, struct md_error *e)
{
    PGresult *r;
    enum md_err err = pg__exec(c, id, args, n, &r, e);
    long long v = 0;
    const char *t;

    if (err)
        return err;
    t = PQcmdTuples(r);
    if (changed)
        *changed = t && str_to_ll(t, strlen(t), 0, LLONG_MAX, &v) ? v : 0;
    PQclear(r);
    return MD_OK;
}

/* Whether a statement returned a row. */
static enum md_err exec_row(struct pg_conn *c, enum pg_id id, const char *const *args, int n,
                            bool *row, struct md_error *e)
{
    PGresult *r;
    enum md_err err = pg__exec(c, id, args, n, &r, e);

    if (err)
        return err;
    *row = PQntuples(r) > 0;
    PQclear(r);
    return MD_OK;
}

/* Text parameters, with room for the decimal forms of integers. */
struct pg_args {
    const char *v[12];
    char num[12][24];
    int n;
};

static void arg_s(struct pg_args *a, const char *s)
{
    assert(a->n < 12);
    a->v[a->n++] = s;
}

static void arg_i(struct pg_args *a, int64_t i)
{
    assert(a->n < 12);
    snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", (long long)i);
    a->v[a->n] = a->num[a->n];
    a->n++;
}

static void arg_b(struct pg_args *a, bool b)
{
    arg_s(a, b ? "t" : "f");
}

/* ---- opening, migrations ---- */

/* Runs fixed SQL without parameters on a bare connection (migrations). */
static enum md_err bare_exec(struct pg_store *ps, PGconn *db, const char *sql, PGresult **out,
                             struct md_error *e)
{
    PGresult *r = PQexec(db, sql);
    enum md_err err = MD_OK;

    if (!pg__res_ok(r)) {
        err = pg__fail(ps, db, r, "migration", e);
        PQclear(r);
        r = NULL;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return err;
}

/*
 * Brings the schema up to date in one transaction, under an advisory lock, so that nodes
 * starting at once apply each migration once, and a failed migration leaves nothing behind.
 */
static enum md_err pg_migrate(struct pg_store *ps, PGconn *db, struct md_error *e)
{
    PGresult *r = NULL;
    enum md_err err;
    long long cur = 0;
    int i;

    /* Another node may hold the lock for as long as its migration takes. */
    err = bare_exec(ps, db, "SET lock_timeout = 0", NULL, e);
    if (!err)
        err = bare_exec(ps, db, "BEGIN", NULL, e);
    if (err)
        return err;
    err = bare_exec(ps, db, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", NULL, e);
    if (!err)
        err = bare_exec(ps, db,
                        "CREATE TABLE IF NOT EXISTS schema_version ("
                        " version integer PRIMARY KEY, applied_ms bigint NOT NULL)",
                        NULL, e);
    if (!err)
        err = bare_exec(ps, db, "SELECT coalesce(max(version), 0) FROM schema_version", &r, e);
    if (err)
        goto out;
    if (PQntuples(r) != 1 ||
        !str_to_ll(PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)), 0, INT_MAX, &cur)) {
        err = md_error_set(e, MD_ERR_IO, "the schema version cannot be read");
        goto out;
    }
    if (cur > PG_NMIGRATIONS) {
        err = md_error_set(e, MD_ERR_IO,
                           "the database schema (version %lld) is newer than this program (%d)",
                           cur, PG_NMIGRATIONS);
        goto out;
    }
    for (i = (int)cur; i < PG_NMIGRATIONS; i++) {
        struct pg_args a = {0};
        PGresult *ins;

        err = bare_exec(ps, db, pg_migrations[i], NULL, e);
        if (err)
            goto out;
        arg_i(&a, i + 1);
        arg_i(&a, time_now_ms());
        ins = PQexecParams(db,
                           "INSERT INTO schema_version (version, applied_ms) "
                           "VALUES ($1::integer, $2::bigint)",
                           a.n, NULL, a.v, NULL, NULL, 0);
        if (!pg__res_ok(ins))
            err = pg__fail(ps, db, ins, "migration", e);
        PQclear(ins);
        if (err)
            goto out;
        log_info("event=store_migrated backend=postgres version=%d", i + 1);
    }
    PQclear(r);
    r = NULL;
    err = bare_exec(ps, db, "COMMIT", &r, e);
    if (!err && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        err = md_error_set(e, MD_ERR_IO, "the migration did not commit");
out:
    PQclear(r);
    if (err && PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
    return err;
}

static void pg_store_free(struct pg_store *ps)
{
    if (!ps)
        return;
    if (ps->conninfo) {
        memset(ps->conninfo, 0, strlen(ps->conninfo));
        free(ps->conninfo);
    }
    if (ps->password) {
        memset(ps->password, 0, strlen(ps->password));
        free(ps->password);
    }
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    free(ps);
}

/* Builds the conninfo and checks that libpq can parse it; keeps the password for scrubbing. */
static enum md_err parse_target(struct pg_store *ps, const char *target, struct md_error *e)
{
    PQconninfoOption *opts, *o;
    char *msg = NULL;
    size_t n = strlen("postgresql://") + strlen(target) + 1;

    ps->conninfo = malloc(n);
    if (!ps->conninfo)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    snprintf(ps->conninfo, n, "postgresql://%s", target);
    opts = PQconninfoParse(ps->conninfo, &msg);
    if (!opts) {
        PQfreemem(msg);
        return md_error_set(e, MD_ERR_VALUE, "the PostgreSQL URL is not valid");
    }
    for (o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0]) {
            ps->password = strdup(o->val);
            break;
        }
    }
    PQconninfoFree(opts);
    return MD_OK;
}

static enum md_err pg_open(struct store *s, const char *target, struct md_error *e)
{
    struct pg_store *ps;
    PGconn *db = NULL;
    unsigned char rnd[PG_NODE_LEN / 2];
    enum md_err err;
    int i;

    if (!PQisthreadsafe())
        return md_error_set(e, MD_ERR_UNSUPPORTED, "this libpq is not thread-safe");
    ps = calloc(1, sizeof *ps);
    if (!ps)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    ps->wake[0] = ps->wake[1] = -1;
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    err = parse_target(ps, target, e);
    if (!err)
        err = pg__connect(ps, NULL, &db, e);
    if (!err)
        err = pg_migrate(ps, db, e);
    if (!err && crypto_random(rnd, sizeof rnd) != MD_OK)
        err = md_error_set(e, MD_ERR_INTERNAL, "no random bytes for the node id");
    if (err)
        goto out;
    for (i = 0; i < (int)sizeof rnd; i++)
        snprintf(ps->node + 2 * i, 3, "%02x", rnd[i]);
    s->impl = ps;
    err = pg__feed_start(s, e);
    if (err)
        s->impl = NULL;
    else
        ps = NULL;
out:
    PQfinish(db);
    pg_store_free(ps);
    return err;
}

static void pg_close(struct store *s)
{
    pg__feed_stop(s);
    pg_store_free(s->impl);
    s->impl = NULL;
}

/* ---- rows ---- */

bool pg__get_i64(const PGresult *res, int row, int col, int64_t *out)
{
    const char *v = PQgetvalue(res, row, col);
    long long x = 0;

    if (!v || !str_to_ll(v, strlen(v), LLONG_MIN, LLONG_MAX, &x)) {
        *out = 0;
        return false;
    }
    *out = x;
    return true;
}

static char *col_dup(const PGresult *res, int row, int col, bool *oom)
{
    char *p;

    if (PQgetisnull(res, row, col))
        return NULL;
    p = strdup(PQgetvalue(res, row, col));
    if (!p)
        *oom = true;
    return p;
}

static bool col_bool(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

/* Reads the columns of PG_U_COLS / PG_G_COLS, starting at column col0. */
enum md_err pg__row_read(const PGresult *res, int row, int col0, struct store_row *r,
                         struct md_error *e)
{
    bool oom = false;

    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, row, col0));
    r->doc = col_dup(res, row, col0 + 1, &oom);
    r->user_name = col_dup(res, row, col0 + 2, &oom);
    r->display_name = col_dup(res, row, col0 + 3, &oom);
    r->external_id = col_dup(res, row, col0 + 4, &oom);
    r->active = col_bool(res, row, col0 + 5);
    pg__get_i64(res, row, col0 + 6, &r->created_ms);
    pg__get_i64(res, row, col0 + 7, &r->modified_ms);
    pg__get_i64(res, row, col0 + 8, &r->version);
    if (oom) {
        store_row_free(r);
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    return MD_OK;
}

static enum pg_id by_kind(enum pg_id users_id, enum store_kind k)
{
    return (enum pg_id)((int)users_id + (k == STORE_GROUPS ? 1 : 0));
}

static enum md_err not_found(enum store_kind k, struct md_error *e)
{
    return md_error_set(e, MD_ERR_NOTFOUND, "%s not found", k == STORE_USERS ? "User" : "Group");
}

/* ---- resources ---- */

/*
 * Times and a version left at 0 by the caller mean now and 1 (store.h). Nothing is inserted on
 * a conflict; a second look tells a taken id from a taken userName, without aborting the
 * caller's transaction.
 */
static enum md_err pg_res_insert(struct store_conn *bc, enum store_kind k,
                                 const struct store_row *r, struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    int64_t created = r->created_ms > 0 ? r->created_ms : time_now_ms();
    struct pg_args a = {0};
    const char *id = r->id;
    enum md_err err;
    bool inserted = false, taken = false;

    arg_s(&a, r->id);
    if (k == STORE_USERS)
        arg_s(&a, r->user_name);
    arg_s(&a, r->display_name);
    arg_s(&a, r->external_id);
    if (k == STORE_USERS)
        arg_b(&a, r->active);
    arg_i(&a, created);
    arg_i(&a, r->modified_ms > 0 ? r->modified_ms : created);
    arg_s(&a, r->doc ? r->doc : "{}");
    arg_i(&a, r->version > 0 ? r->version : 1);
    err = exec_row(c, by_kind(P_INSERT_U, k), a.v, a.n, &inserted, e);
    if (err || inserted)
        return err;
    err = exec_row(c, by_kind(P_EXISTS_U, k), &id, 1, &taken, e);
    if (err)
        return err;
    if (taken || k == STORE_GROUPS)
        return md_error_set(e, MD_ERR_UNIQUENESS, "a resource with this id already exists");
    return md_error_set(e, MD_ERR_UNIQUENESS, "a User with this userName already exists");
}

/*
 * One statement checks the version and the userName and writes; when it matched no row, a
 * second look says why. When that look finds no reason (a concurrent writer changed the row
 * in between), the update is tried again.
 */
static enum md_err pg_res_update(struct store_conn *bc, enum store_kind k,
                                 const struct store_row *r, int64_t expect_version,
                                 int64_t *new_version, struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    struct pg_args a = {0};
    PGresult *res = NULL;
    enum md_err err = MD_OK;
    int attempt;

    arg_s(&a, r->id);
    if (k == STORE_USERS)
        arg_s(&a, r->user_name);
    arg_s(&a, r->display_name);
    arg_s(&a, r->external_id);
    if (k == STORE_USERS)
        arg_b(&a, r->active);
    arg_i(&a, r->modified_ms > 0 ? r->modified_ms : time_now_ms());
    arg_s(&a, r->doc ? r->doc : "{}");
    arg_i(&a, expect_version);
    for (attempt = 0; attempt < 3; attempt++) {
        int64_t version = 0;

        err = pg__exec(c, by_kind(P_UPDATE_U, k), a.v, a.n, &res, e);
        if (err)
            return err;
        if (PQntuples(res) > 0) {
            if (new_version)
                pg__get_i64(res, 0, 0, new_version);
            PQclear(res);
            return MD_OK;
        }
        PQclear(res);
        err = pg__exec(c, by_kind(P_DIAG_U, k), a.v, k == STORE_USERS ? 2 : 1, &res, e);
        if (err)
            return err;
        if (PQntuples(res) == 0)
            err = not_found(k, e);
        else if (pg__get_i64(res, 0, 0, &version) && expect_version >= 0 &&
                 version != expect_version)
            err = md_error_set(e, MD_ERR_PRECONDITION,
                               "the resource has changed (it is now at version %lld)",
                               (long long)version);
        else if (col_bool(res, 0, 1))
            err = md_error_set(e, MD_ERR_UNIQUENESS, "a User with this userName already exists");
        PQclear(res);
        if (err)
            return err;
    }
    return md_error_set(e, MD_ERR_UNAVAILABLE, "the resource is changing too often; try again");
}

static enum md_err pg_res_touch(struct store_conn *bc, enum store_kind k, const char *id,
                                int64_t modified_ms, int64_t *new_version, struct md_error *e)
{
    struct pg_args a = {0};
    PGresult *res;
    enum md_err err;

    arg_s(&a, id);
    arg_i(&a, modified_ms > 0 ? modified_ms : time_now_ms());
    err = pg__exec(pg__conn(bc), by_kind(P_TOUCH_U, k), a.v, a.n, &res, e);
    if (err)
        return err;
    if (PQntuples(res) == 0)
        err = not_found(k, e);
    else if (new_version)
        pg__get_i64(res, 0, 0, new_version);
    PQclear(res);
    return err;
}

/*
 * The resource goes with every membership row naming it, in one statement. The groups that
 * lost a member are not touched here: that is the caller's policy.
 */
static enum md_err pg_res_delete(struct store_conn *bc, enum store_kind k, const char *id,
                                 struct md_error *e)
{
    PGresult *res;
    int64_t n = 0;
    enum md_err err = pg__exec(pg__conn(bc), by_kind(P_DELETE_U, k), &id, 1, &res, e);

    if (err)
        return err;
    if (PQntuples(res) > 0)
        pg__get_i64(res, 0, 0, &n);
    PQclear(res);
    return n > 0 ? MD_OK : not_found(k, e);
}

static enum md_err pg_res_get(struct store_conn *bc, enum store_kind k, const char *id,
                              struct store_row *out, struct md_error *e)
{
    PGresult *res;
    enum pg_id q = by_kind(pg__in_tx(bc) ? P_LOCK_U : P_GET_U, k);
    enum md_err err = pg__exec(pg__conn(bc), q, &id, 1, &res, e);

    if (err)
        return err;
    err = PQntuples(res) > 0 ? pg__row_read(res, 0, 0, out, e) : not_found(k, e);
    PQclear(res);
    return err;
}

static enum md_err pg_res_exists(struct store_conn *bc, enum store_kind k, const char *id,
                                 bool *exists, struct md_error *e)
{
    return exec_row(pg__conn(bc), by_kind(P_EXISTS_U, k), &id, 1, exists, e);
}

/* ---- membership ---- */

static enum md_err pg_member_add(struct store_conn *bc, const char *group_id, const char *member_id,
                                 enum store_member_type type, const char *display, bool *added,
                                 struct md_error *e)
{
    const char *a[] = {group_id, member_id, type == STORE_MEMBER_GROUP ? "Group" : "User", display};
    PGresult *res;
    int64_t group = 0, n = 0;
    enum md_err err = pg__exec(pg__conn(bc), P_MEMBER_ADD, a, 4, &res, e);

    *added = false;
    if (err)
        return err;
    pg__get_i64(res, 0, 0, &group);
    pg__get_i64(res, 0, 1, &n);
    PQclear(res);
    if (group == 0)
        return md_error_set(e, MD_ERR_NOTFOUND, "the group does not exist");
    *added = n > 0;
    return MD_OK;
}

static enum store_member_type member_type_of(const char *col)
{
    return strcmp(col, "Group") == 0 ? STORE_MEMBER_GROUP : STORE_MEMBER_USER;
}

/* The deleted row tells its member's type (RETURNING), for the change feed. */
static enum md_err pg_member_remove(struct store_conn *bc, const char *group_id,
                                    const char *member_id, bool *removed,
                                    enum store_member_type *type, struct md_error *e)
{
    const char *a[] = {group_id, member_id};
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc), P_MEMBER_REMOVE, a, 2, &res, e);

    *removed = false;
    if (err)
        return err;
    if (PQntuples(res) > 0) {
        *removed = true;
        *type = member_type_of(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return MD_OK;
}

static enum md_err pg_member_clear(struct store_conn *bc, const char *group_id, struct md_error *e)
{
    return exec_count(pg__conn(bc), P_MEMBER_CLEAR, &group_id, 1, NULL, e);
}

static enum md_err pg_member_has(struct store_conn *bc, const char *group_id, const char *member_id,
                                 bool *has, struct md_error *e)
{
    const char *a[] = {group_id, member_id};
    return exec_row(pg__conn(bc), P_MEMBER_HAS, a, 2, has, e);
}

/*
 * The whole list comes in one result, so that fn may call the store on the same connection
 * (the SQLite backend allows it too).
 */
static enum md_err pg_member_list(struct store_conn *bc, const char *group_id, store_member_fn fn,
                                  void *ctx, struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc), P_MEMBER_LIST, &group_id, 1, &res, e);
    int i;

    if (err)
        return err;
    for (i = 0; i < PQntuples(res); i++) {
        struct store_member m;
        bool oom = false;
        int stop;

        memset(&m, 0, sizeof m);
        snprintf(m.id, sizeof m.id, "%s", PQgetvalue(res, i, 0));
        m.type = member_type_of(PQgetvalue(res, i, 1));
        m.display = col_dup(res, i, 2, &oom);
        if (oom) {
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            break;
        }
        stop = fn(ctx, &m);
        free(m.display);
        if (stop)
            break;
    }
    PQclear(res);
    return err;
}

static enum md_err pg_member_groups(struct store_conn *bc, const char *member_id, store_group_fn fn,
                                    void *ctx, struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc), P_MEMBER_GROUPS, &member_id, 1, &res, e);
    int i;

    if (err)
        return err;
    for (i = 0; i < PQntuples(res); i++) {
        const char *disp = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
        if (fn(ctx, PQgetvalue(res, i, 0), disp, col_bool(res, i, 2)))
            break;
    }
    PQclear(res);
    return MD_OK;
}

/* ---- tokens ---- */

static void token_read(const PGresult *res, int row, struct store_token *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", PQgetvalue(res, row, 0));
    snprintf(t->kind, sizeof t->kind, "%s", PQgetvalue(res, row, 1));
    snprintf(t->name, sizeof t->name, "%s", PQgetvalue(res, row, 2));
    snprintf(t->hash, sizeof t->hash, "%s", PQgetvalue(res, row, 3));
    pg__get_i64(res, row, 4, &t->created_ms);
    pg__get_i64(res, row, 5, &t->last_used_ms);
    t->revoked = col_bool(res, row, 6);
    snprintf(t->user_id, sizeof t->user_id, "%s", PQgetvalue(res, row, 7));
    snprintf(t->pack, sizeof t->pack, "%s", PQgetvalue(res, row, 8));
}

static enum md_err pg_token_insert(struct store_conn *bc, const struct store_token *t,
                                   struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    struct pg_args a = {0};
    const char *id = t->id;
    bool inserted = false, taken = false;
    enum md_err err;

    arg_s(&a, t->id);
    arg_s(&a, t->kind);
    arg_s(&a, t->name);
    arg_s(&a, t->hash);
    arg_i(&a, t->created_ms > 0 ? t->created_ms : time_now_ms());
    arg_i(&a, t->last_used_ms);
    arg_b(&a, t->revoked);
    arg_s(&a, t->user_id);
    arg_s(&a, t->pack);
    err = exec_row(c, P_TOKEN_INSERT, a.v, a.n, &inserted, e);
    if (err || inserted)
        return err;
    err = exec_row(c, P_TOKEN_ID_TAKEN, &id, 1, &taken, e);
    if (err)
        return err;
    return taken ? md_error_set(e, MD_ERR_UNIQUENESS, "a token with this id already exists")
                 : md_error_set(e, MD_ERR_UNIQUENESS, "a token with this hash already exists");
}

static enum md_err pg_token_find(struct store_conn *bc, const char *hash, struct store_token *out,
                                 struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc), P_TOKEN_FIND, &hash, 1, &res, e);

    if (err)
        return err;
    if (PQntuples(res) > 0)
        token_read(res, 0, out);
    else
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    PQclear(res);
    return err;
}

static enum md_err pg_token_list(struct store_conn *bc, store_token_fn fn, void *ctx,
                                 struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc), P_TOKEN_LIST, NULL, 0, &res, e);
    int i;

    if (err)
        return err;
    for (i = 0; i < PQntuples(res); i++) {
        struct store_token t;
        token_read(res, i, &t);
        if (fn(ctx, &t))
            break;
    }
    PQclear(res);
    return MD_OK;
}

static enum md_err pg_token_revoke(struct store_conn *bc, const char *id, struct md_error *e)
{
    int64_t n = 0;
    enum md_err err = exec_count(pg__conn(bc), P_TOKEN_REVOKE, &id, 1, &n, e);

    if (!err && n == 0)
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    return err;
}

static enum md_err pg_token_touch(struct store_conn *bc, const char *id, int64_t when_ms,
                                  struct md_error *e)
{
    struct pg_args a = {0};
    int64_t n = 0;
    enum md_err err;

    arg_s(&a, id);
    arg_i(&a, when_ms);
    err = exec_count(pg__conn(bc), P_TOKEN_TOUCH, a.v, a.n, &n, e);
    if (!err && n == 0)
        err = md_error_set(e, MD_ERR_NOTFOUND, "token not found");
    return err;
}

static enum md_err pg_token_count(struct store_conn *bc, const char *kind, int64_t *n,
                                  struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc), P_TOKEN_COUNT, &kind, 1, &res, e);

    if (err)
        return err;
    pg__get_i64(res, 0, 0, n);
    PQclear(res);
    return MD_OK;
}

/* ---- access objects ---- */

_Static_assert(STORE_OBJ__COUNT == 5, "PG_OBJ4 has a statement for each kind of access object");

static enum pg_id obj_q(enum pg_id connectors_id, enum store_obj_kind k)
{
    return (enum pg_id)((int)connectors_id + (int)k);
}

static enum md_err obj_not_found(enum store_obj_kind k, struct md_error *e)
{
    return md_error_set(e, MD_ERR_NOTFOUND, "not found in %s", store_obj_kind_name(k));
}

/* Reads the columns of OBJ_COLS from row. */
static enum md_err obj_read(const PGresult *res, int row, struct store_obj *o, struct md_error *e)
{
    bool oom = false;

    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", PQgetvalue(res, row, 0));
    o->doc = col_dup(res, row, 1, &oom);
    pg__get_i64(res, row, 2, &o->version);
    pg__get_i64(res, row, 3, &o->created_ms);
    pg__get_i64(res, row, 4, &o->modified_ms);
    return oom ? md_error_set(e, MD_ERR_NOMEM, "out of memory") : MD_OK;
}

/* Inserts a row as given; MD_ERR_UNIQUENESS (nothing written) when the id is taken. */
static enum md_err obj_insert(struct pg_conn *c, enum store_obj_kind k, const char *id,
                              const char *doc, int64_t version, int64_t created, int64_t modified,
                              struct md_error *e)
{
    struct pg_args a = {0};
    bool inserted = false;
    enum md_err err;

    arg_s(&a, id);
    arg_s(&a, doc);
    arg_i(&a, version);
    arg_i(&a, created);
    arg_i(&a, modified);
    err = exec_row(c, obj_q(P_OBJ_INSERT_C, k), a.v, a.n, &inserted, e);
    if (err || inserted)
        return err;
    return md_error_set(e, MD_ERR_UNIQUENESS, "an object with this id already exists in %s",
                        store_obj_kind_name(k));
}

/* Runs an upsert or an update whose RETURNING gives the new version; *hit when a row did. */
static enum md_err obj_write(struct pg_conn *c, enum pg_id q, const struct pg_args *a, int n,
                             bool *hit, int64_t *new_version, struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(c, q, a->v, n, &res, e);

    if (err)
        return err;
    *hit = PQntuples(res) > 0;
    if (*hit)
        pg__get_i64(res, 0, 0, new_version);
    PQclear(res);
    return MD_OK;
}

/*
 * expect_version: < 0 upsert (ON CONFLICT DO UPDATE, atomic under concurrent writers), 0
 * insert only, > 0 replace only that version. The replace checks the version in its WHERE
 * clause, which PostgreSQL re-checks on the newest row version after waiting for a concurrent
 * writer; when it matched no row, a second look says why, and when that look finds no reason
 * (the row changed in between), the replace is tried again.
 */
static enum md_err pg_obj_put(struct store_conn *bc, enum store_obj_kind k, const char *id,
                              const char *doc, int64_t expect_version, int64_t *new_version,
                              struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    int64_t now = time_now_ms();
    struct pg_args a = {0};
    PGresult *res;
    enum md_err err;
    bool hit = false;
    int attempt;

    *new_version = 0;
    if (expect_version == 0) {
        err = obj_insert(c, k, id, doc, 1, now, now, e);
        if (!err)
            *new_version = 1;
        return err;
    }
    arg_s(&a, id);
    arg_s(&a, doc);
    arg_i(&a, now);
    arg_i(&a, expect_version);
    if (expect_version < 0)
        return obj_write(c, obj_q(P_OBJ_UPSERT_C, k), &a, 3, &hit, new_version, e);
    for (attempt = 0; attempt < 3; attempt++) {
        int64_t version = 0;

        err = obj_write(c, obj_q(P_OBJ_UPDATE_C, k), &a, a.n, &hit, new_version, e);
        if (err || hit)
            return err;
        err = pg__exec(c, obj_q(P_OBJ_VERSION_C, k), a.v, 1, &res, e);
        if (err)
            return err;
        if (PQntuples(res) == 0)
            err = obj_not_found(k, e);
        else if (pg__get_i64(res, 0, 0, &version) && version != expect_version)
            err = md_error_set(e, MD_ERR_PRECONDITION,
                               "the object has changed (it is now at version %lld)",
                               (long long)version);
        PQclear(res);
        if (err)
            return err;
    }
    return md_error_set(e, MD_ERR_UNAVAILABLE, "the object is changing too often; try again");
}

/* A version and times left at 0 mean 1 and now, as for store_res_insert. */
static enum md_err pg_obj_copy(struct store_conn *bc, enum store_obj_kind k,
                               const struct store_obj *o, struct md_error *e)
{
    int64_t created = o->created_ms > 0 ? o->created_ms : time_now_ms();

    return obj_insert(pg__conn(bc), k, o->id, o->doc, o->version > 0 ? o->version : 1, created,
                      o->modified_ms > 0 ? o->modified_ms : created, e);
}

/*
 * Inside a transaction the read locks the row, as SQLite's BEGIN IMMEDIATE serialises writers:
 * a grant that checks its pack and a pack delete that checks for grants then cannot both commit
 * (READ COMMITTED would let each miss the other's write).
 */
static enum md_err pg_obj_get(struct store_conn *bc, enum store_obj_kind k, const char *id,
                              struct store_obj *out, struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc),
                               obj_q(pg__in_tx(bc) ? P_OBJ_LOCK_C : P_OBJ_GET_C, k), &id, 1,
                               &res, e);

    if (err)
        return err;
    err = PQntuples(res) > 0 ? obj_read(res, 0, out, e) : obj_not_found(k, e);
    if (err)
        store_obj_free(out);
    PQclear(res);
    return err;
}

static enum md_err pg_obj_delete(struct store_conn *bc, enum store_obj_kind k, const char *id,
                                 struct md_error *e)
{
    int64_t n = 0;
    enum md_err err = exec_count(pg__conn(bc), obj_q(P_OBJ_DELETE_C, k), &id, 1, &n, e);

    return !err && n == 0 ? obj_not_found(k, e) : err;
}

/* The whole list comes in one result, so that fn may call the store on the same connection. */
static enum md_err pg_obj_list(struct store_conn *bc, enum store_obj_kind k, store_obj_fn fn,
                               void *ctx, struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec(pg__conn(bc), obj_q(P_OBJ_LIST_C, k), NULL, 0, &res, e);
    int i;

    if (err)
        return err;
    for (i = 0; i < PQntuples(res); i++) {
        struct store_obj o;
        int stop;

        err = obj_read(res, i, &o, e);
        if (err) {
            store_obj_free(&o);
            break;
        }
        stop = fn(ctx, &o);
        store_obj_free(&o);
        if (stop)
            break;
    }
    PQclear(res);
    return err;
}

const struct store_backend_ops store__pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .conn_open = pg__conn_open,
    .conn_close = pg__conn_close,
    .in_tx = pg__in_tx,
    .begin = pg__begin,
    .commit = pg__commit,
    .rollback = pg__rollback,
    .res_insert = pg_res_insert,
    .res_update = pg_res_update,
    .res_touch = pg_res_touch,
    .res_delete = pg_res_delete,
    .res_get = pg_res_get,
    .res_exists = pg_res_exists,
    .res_query = pg__res_query,
    .member_add = pg_member_add,
    .member_remove = pg_member_remove,
    .member_clear = pg_member_clear,
    .member_has = pg_member_has,
    .member_list = pg_member_list,
    .member_groups = pg_member_groups,
    .token_insert = pg_token_insert,
    .token_find = pg_token_find,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .token_touch = pg_token_touch,
    .token_count = pg_token_count,
    .obj_put = pg_obj_put,
    .obj_copy = pg_obj_copy,
    .obj_get = pg_obj_get,
    .obj_delete = pg_obj_delete,
    .obj_list = pg_obj_list,
    .announce = pg__announce,
    .explain = pg__explain,
    .audit = &pg__audit_ops,
};
