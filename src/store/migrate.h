/*
 * Copying one store into another: `mandate migrate --from sqlite:PATH --to postgres://...`,
 * which moves a single-node deployment onto the database that many nodes share (and back).
 *
 * The copy goes through the store.h interface only, so that it works between any two backends.
 * It keeps everything a client or an operator can observe: ids, documents, indexed columns,
 * meta.created, meta.lastModified and meta.version (so ETags stay valid), the order and the
 * type of every group's members, every token with its hash, times, revocation and binding
 * (user and pack), so the identity provider's SCIM token and every agent's token keep
 * working, and every access object (connectors, overrides, packs, grants) with its version and
 * times. What the interface needs of a backend for that is written in store.h:
 * store_res_insert keeps a row's version and times when they are set, store_token_insert keeps
 * every field, store_member_add appends in call order, store_obj_copy keeps an object as is.
 *
 * A member display that the client never sent (store_member_list then reports the member's
 * current name) is copied as not sent, so that it goes on following renames on the target.
 */
#ifndef MANDATE_STORE_MIGRATE_H
#define MANDATE_STORE_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Rows read per page from the source and written per transaction on the target. */
#define STORE_MIGRATE_BATCH 1000

/* The steps of a copy, in the order they run. */
enum store_migrate_phase {
    STORE_MIGRATE_USERS,
    STORE_MIGRATE_GROUPS,
    STORE_MIGRATE_MEMBERS,
    STORE_MIGRATE_TOKENS,
    STORE_MIGRATE_OBJECTS, /* the access objects of every kind, kind after kind */
    STORE_MIGRATE_AUDIT,   /* the audit log's events, by seq, hashes as they were */
};

/* "users", "groups", "memberships", "tokens", "access objects", "audit events". */
const char *store_migrate_phase_name(enum store_migrate_phase p);

/* Rows of each kind. */
struct store_migrate_counts {
    int64_t users;
    int64_t groups;
    int64_t members; /* membership rows, summed over every group */
    int64_t tokens;
    int64_t objects[STORE_OBJ__COUNT]; /* access objects, by enum store_obj_kind */
    int64_t audit_events;
};

/*
 * Told how far a phase is: once with done 0 when it starts, after every committed batch, and
 * once with done == total when it ends (also when total is 0). Runs on the caller's thread.
 */
typedef void (*store_migrate_fn)(void *ctx, enum store_migrate_phase phase, int64_t done,
                                 int64_t total);

/*
 * Copies every user, group, membership, token and access object of from into to, then checks
 * that the two hold as many rows of each kind; *out (may be NULL) receives the counts copied.
 *
 * The source is read inside one transaction (store_begin). With SQLite that is a snapshot of
 * one moment, and it also holds off writers to the source until the copy ends, so that a server
 * still running on it answers 503 meanwhile; with PostgreSQL (READ COMMITTED) it is not a
 * snapshot. Either way the servers on the source are to be stopped first; the final count
 * check catches most changes made meanwhile. The target is written in transactions of
 * STORE_MIGRATE_BATCH rows.
 *
 * Errors: MD_ERR_VALUE "the target database is not empty" when to already holds a user, a
 * group, a token or an access object (nothing is written then); MD_ERR_INTERNAL naming the
 * kind whose counts differ after the copy; any error of either store. After a failure part-way
 * the target holds a partial copy and is no longer empty: e says so, and the admin starts again
 * from an empty database. progress may be NULL.
 */
enum md_err store_migrate(struct store *from, struct store *to, store_migrate_fn progress,
                          void *ctx, struct store_migrate_counts *out, struct md_error *e);

/*
 * Writes url into out (n bytes, always NUL-terminated, truncated when too long) in a form
 * that is safe to print or log: the user and password of a "scheme://user:password@host/..."
 * URL are left out, and the value of every query parameter whose name ends in "password"
 * (password=, sslpassword=) is replaced by "***". Anything else (a SQLite path) is copied.
 */
void store_url_redact(const char *url, char *out, size_t n);

#endif
