/*
 * The audit log: every tool call and denial, every SCIM and admin change and every failed
 * authentication, as one append-only, hash-chained sequence of events (docs/audit.md).
 *
 * An event is a JSON object with a "type" (AUDIT_TYPE_*) and that type's fields; audit_record
 * adds "id" (unique: a random prefix per process and a counter), "time" (RFC 3339 with
 * milliseconds) and, when the writer stores it, "seq". Stored, an event is its document,
 * {"seq":N, then the event's members as they were set, with no spaces} (the recorder serialises
 * once; the writer puts seq in front), exactly the bytes hashed, plus prev_hash and hash:
 *
 *     hash = hex(SHA-256("mandate-audit-v1\n" || prev_hash || "\n" || document))
 *
 * with prev_hash "" for event 1. So editing, removing, inserting or reordering stored events
 * breaks the chain where it happened, and audit_verify names that place. Rewriting the whole
 * chain after a point is caught by checkpoints: every AUDIT_CHECKPOINT_EVERY events or
 * AUDIT_CHECKPOINT_MS (and at a clean shutdown) the writer appends an "audit.checkpoint" event
 * holding an HMAC-SHA-256, under a key that is not in the database, of the event before it;
 * it also writes that checkpoint to an anchor file outside the database, so that cutting off
 * the tail (checkpoints included) shows too.
 *
 * Writing never blocks the caller on the database: audit_record appends the event to a local
 * journal file (one write(2), so it survives the process being killed) and queues it; one
 * writer thread commits queued events in groups, then empties the journal. A restart first
 * stores whatever the journal holds that the database lacks. A caller that answers its client
 * after audit_record returns has therefore recorded the event even if the process is killed a
 * moment later; only events of requests not yet answered can be lost.
 */
#ifndef MANDATE_AUDIT_AUDIT_H
#define MANDATE_AUDIT_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct store;
struct audit;

/* Event types. */
#define AUDIT_TYPE_TOOL_CALL "tool.call"       /* a tool call that was allowed and executed */
#define AUDIT_TYPE_TOOL_DENIED "tool.denied"   /* a tool call that was refused */
#define AUDIT_TYPE_SCIM "scim.change"          /* a change made through SCIM */
#define AUDIT_TYPE_ADMIN "admin.change"        /* a change made through the admin API or CLI */
#define AUDIT_TYPE_AUTH_FAILURE "auth.failure" /* a request whose credential was refused */
#define AUDIT_TYPE_CHECKPOINT "audit.checkpoint"
#define AUDIT_TYPE_PRUNED "audit.pruned"

#define AUDIT_CHECKPOINT_EVERY 1000
#define AUDIT_CHECKPOINT_MS 60000
#define AUDIT_KEY_LEN 32
/* Journal and anchor slots in one state directory: one per server process sharing it. */
#define AUDIT_SLOTS 16
/* How long the writer waits for more events before committing a small group (ms). */
#define AUDIT_LINGER_MS 5
/* The most events the writer commits in one transaction. */
#define AUDIT_BATCH_MAX 1024
/* The queue's bound: beyond it audit_record waits for the writer (a database outage). */
#define AUDIT_QUEUE_MAX 100000

struct audit_config {
    struct store *store; /* borrowed; outlives the log */
    /*
     * The checkpoint key (AUDIT_KEY_LEN bytes), kept outside the database; NULL: checkpoints
     * are written without a MAC, and audit_verify says the chain is unauthenticated.
     */
    const unsigned char *key;
    /*
     * The journal file (created when missing); NULL: none (the CLI, which flushes). A journal
     * belongs to one process (it is locked): when it is taken, the next free of PATH.1 ..
     * PATH.<AUDIT_SLOTS - 1> is used, so that several servers can share a state directory and a
     * restarted one finds its own again.
     */
    const char *journal_path;
    /* The anchor file of the last checkpoint (with the journal's slot suffix); NULL: none. */
    const char *anchor_path;
    int checkpoint_every;  /* 0: AUDIT_CHECKPOINT_EVERY */
    int checkpoint_ms;     /* 0: AUDIT_CHECKPOINT_MS */
    bool no_writer_thread; /* tests and the CLI: events are stored by audit_flush only */
};

/*
 * Opens the log: stores what the journal holds that the database lacks, then starts the
 * writer thread. Fails when the journal or the database cannot be used.
 */
enum md_err audit_open(const struct audit_config *cfg, struct audit **out, struct md_error *e);
/* Stores every queued event, writes a final checkpoint, stops the writer. NULL is a no-op. */
void audit_close(struct audit *a);

/*
 * Records ev (a JSON object with "type"; the reference is taken). Adds "id" and "time",
 * journals it and queues it for the writer. Never fails the caller: an event that cannot be
 * journaled is still queued and the failure logged. a NULL: ev is released.
 */
void audit_record(struct audit *a, json_t *ev);
/*
 * Recording in two steps, for an event whose last fields are known only when the work it
 * describes ends (a tool call's outcome), so that the costly part happens before: audit_draft_new
 * serialises ev now (the reference is taken; "id" and "time" are filled in now), and
 * audit_draft_record adds the members of more (an object, the reference taken, NULL: none; its
 * names must not repeat ev's) after ev's own and records the whole as audit_record does. Every
 * draft is either recorded or discarded. NULL (a NULL, or out of memory, logged) is a draft that
 * both accept and ignore.
 */
struct audit_draft;
struct audit_draft *audit_draft_new(struct audit *a, json_t *ev);
void audit_draft_record(struct audit *a, struct audit_draft *d, json_t *more);
void audit_draft_discard(struct audit_draft *d);
/* Waits until every event recorded before the call is stored (or the store fails). */
enum md_err audit_flush(struct audit *a, struct md_error *e);

/* Counters for /metrics and benchmarks. */
struct audit_stats {
    uint64_t recorded; /* audit_record calls */
    uint64_t stored;   /* events committed (checkpoints included) */
    uint64_t batches;  /* transactions committed */
    uint64_t failures; /* failed transactions (retried) */
    uint64_t queued;   /* waiting now */
    int64_t last_seq;  /* the last seq this process stored */
};
void audit_stats_get(struct audit *a, struct audit_stats *out);

/* ---- event helpers (event.c) ---- */

/*
 * The arguments of a tool call as the log keeps them: a copy of args in which the value of
 * every top-level member named in redact (an array of strings, may be NULL) is replaced by
 * "[redacted]". *sha receives the SHA-256 of the full arguments' canonical form, so that an
 * investigator holding the original can prove it. NULL only when out of memory.
 */
json_t *audit_redact_args(const json_t *args, const json_t *redact, char sha[65]);
/*
 * A copy of a SCIM or admin document with secret members (password, token, secret,
 * client_secret, private_key, ... at any depth, and PATCH operations whose path names one)
 * replaced by "[redacted]".
 */
json_t *audit_scrub(const json_t *doc);
/*
 * A JSON value serialised with sorted keys and no spaces, non-ASCII as \uXXXX: one text for one
 * value (arguments_sha256 hashes it). Heap; NULL when out of memory.
 */
char *audit_canonical(const json_t *ev);
/* hash of a document after prev_hash, as above, into out (65 bytes). */
void audit_chain_hash(const char *prev_hash, const char *doc, char out[65]);
/* The checkpoint MAC of (seq, hash) under key, as 64 hex digits. */
void audit_checkpoint_mac(const unsigned char key[AUDIT_KEY_LEN], int64_t seq, const char *hash,
                          char out[65]);
/* Derives the checkpoint key from the credential vault's key (HMAC with a fixed label). */
void audit_key_derive(const unsigned char vault_key[32], unsigned char out[AUDIT_KEY_LEN]);

/* ---- verification (verify.c) ---- */

struct audit_verify_opts {
    const unsigned char *key; /* NULL: MACs are not checked (and the report says so) */
    /* The anchor file; its slot files (PATH.1 ...) are checked too when they exist. NULL: none */
    const char *anchor_path;
    int64_t expect_seq; /* > 0: an externally kept checkpoint (seq, hash) to check */
    const char *expect_hash;
    /* Called every progress_every events (0: never) with the events checked so far. */
    void (*progress)(void *ctx, int64_t checked, int64_t last_seq);
    void *progress_ctx;
    int64_t progress_every;
};

struct audit_verify_report {
    bool ok;
    int64_t events; /* rows read */
    int64_t first_seq, last_seq;
    int64_t checkpoints; /* checkpoint events whose MAC was checked and held */
    int64_t last_checkpoint_seq;
    int64_t bad_seq;   /* the first event found wrong (0: none) */
    char problem[512]; /* what is wrong, for people; "" when ok */
    char warning[512]; /* a doubt that is not a failure (no key, tail after checkpoint) */
};

/* Walks the whole chain. Fails only when the store cannot be read; *r says what it found. */
enum md_err audit_verify(struct store *s, const struct audit_verify_opts *o,
                         struct audit_verify_report *r, struct md_error *e);

/* audit_verify with the open log's key and anchor file (the admin API's "verify now"). */
enum md_err audit_verify_live(struct audit *a, struct audit_verify_report *r, struct md_error *e);

/* ---- reading (query.c) ---- */

struct audit_query {
    const char *filter; /* SCIM filter over event fields, NULL: all */
    int64_t since_ms;   /* 0: none */
    int64_t until_ms;   /* 0: none */
    int64_t after_seq;  /* oldest first: events with seq > after_seq */
    int64_t before_seq; /* newest first: events with seq < before_seq (0: from the end) */
    bool oldest_first;
    int64_t limit; /* events returned; 0: no limit (export) */
};

/*
 * Calls fn with each matching event (the stored document parsed, plus "prev_hash" and
 * "hash"), in the query's order, until limit events or fn returns non-zero. *last_seq (may be
 * NULL) receives the seq of the last event handed out, for the next page. MD_ERR_FILTER for a
 * filter that does not parse (e->msg says where).
 */
typedef int (*audit_event_fn)(void *ctx, json_t *event);
enum md_err audit_query_run(struct store *s, const struct audit_query *q, audit_event_fn fn,
                            void *ctx, int64_t *last_seq, struct md_error *e);
/* One event by seq (*out: new reference). MD_ERR_NOTFOUND when absent. */
enum md_err audit_get(struct store *s, int64_t seq, json_t **out, struct md_error *e);

/*
 * Deletes the events older than before_ms, after recording an "audit.pruned" event that
 * vouches (with a MAC under key, when given) for the hash of the last event removed, so that
 * the rest still verifies. *removed counts them. The log a must be open (the event goes
 * through its writer, which is flushed first).
 */
enum md_err audit_prune(struct audit *a, int64_t before_ms, int64_t *removed, struct md_error *e);

#endif
