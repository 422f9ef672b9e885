/*
 * audit_verify: walks the chain from its first stored event to its last and says where it
 * breaks. The rules, in the order they are checked for each event:
 *   1. its document parses and agrees with its columns (seq, type, id, time), so that moving a
 *      document to another row shows;
 *   2. its seq is the one after the previous event's (a gap: events were removed);
 *   3. its prev_hash is the previous event's hash (else: inserted or reordered);
 *   4. its hash is the hash of prev_hash and its document (else: altered);
 *   5. a checkpoint vouches for the event just before it, with a MAC under the key (else: the
 *      chain was rewritten, with hashes recomputed, somewhere since the checkpoint before).
 * Then: a log whose first event is not 1 must hold the "audit.pruned" event that vouches for
 * what was removed, and the anchor file's checkpoint (outside the database) must still be
 * there with the same hash, which catches a tail cut off with its checkpoints.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "core/crypto.h"
#include "core/time.h"
#include "store/store.h"

#define WANTS (AUDIT_SLOTS + 1)
#define EXPECTED AUDIT_SLOTS /* the want of opts.expect_seq */

struct walk {
    const struct audit_verify_opts *o;
    struct audit_verify_report *r;
    int64_t prev_seq;
    char prev_hash[STORE_AUDIT_HASH_MAX];
    char first_prev[STORE_AUDIT_HASH_MAX];
    int64_t last_good_cp;
    /* Hashes to look up once the walk passes them: the anchors' and the expected one (last). */
    int64_t want_seq[WANTS];
    char want_hash[WANTS][STORE_AUDIT_HASH_MAX];
    int64_t want_cp[WANTS]; /* the anchors' checkpoint events themselves */
    bool seen[WANTS];
    char seen_hash[WANTS][STORE_AUDIT_HASH_MAX];
    /* The prune record that vouches for the first event's prev_hash. */
    bool pruned_ok;
    char prune_problem[200];
};

static int fail(struct walk *w, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct walk *w, int64_t seq, const char *fmt, ...)
{
    va_list ap;
    w->r->ok = false;
    w->r->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(w->r->problem, sizeof w->r->problem, fmt, ap);
    va_end(ap);
    return 1;
}

static bool mac_ok(const unsigned char *key, int64_t seq, const char *hash, const char *mac)
{
    char want[65];
    if (!mac)
        return false;
    audit_checkpoint_mac(key, seq, hash, want);
    return crypto_ct_equal(want, strlen(want), mac, strlen(mac));
}

/* Rule 5, for a checkpoint event after (w->prev_seq, w->prev_hash). */
static int check_checkpoint(struct walk *w, const struct store_audit_row *row, const json_t *doc)
{
    const json_t *cp = json_object_get(doc, "checkpoint");
    json_int_t seq = json_integer_value(json_object_get(cp, "seq"));
    const char *hash = json_string_value(json_object_get(cp, "hash"));
    const char *mac = json_string_value(json_object_get(doc, "mac"));

    if (!hash || seq != w->prev_seq || strcmp(hash, w->prev_hash) != 0)
        return fail(w, row->seq,
                    "checkpoint %" PRId64 " does not vouch for the event before it: the chain "
                    "was rewritten",
                    row->seq);
    if (w->o->key) {
        if (!mac_ok(w->o->key, seq, hash, mac))
            return fail(w, w->last_good_cp + 1,
                        "checkpoint %" PRId64 " does not carry a valid MAC under this key: the "
                        "events after checkpoint %" PRId64 " (up to %" PRId64 ") were rewritten "
                        "and their hashes recomputed, or the key is not this log's",
                        row->seq, w->last_good_cp, row->seq);
        w->r->checkpoints++;
    }
    w->last_good_cp = row->seq;
    w->r->last_checkpoint_seq = row->seq;
    return 0;
}

/* An "audit.pruned" event: does it vouch for the first stored event's predecessor? */
static void check_pruned(struct walk *w, const json_t *doc)
{
    json_int_t below = json_integer_value(json_object_get(doc, "below_seq"));
    const char *hash = json_string_value(json_object_get(doc, "last_removed_hash"));
    const char *mac = json_string_value(json_object_get(doc, "mac"));

    if (below != w->r->first_seq || !hash || strcmp(hash, w->first_prev) != 0)
        return;
    if (w->o->key && !mac_ok(w->o->key, below - 1, hash, mac)) {
        snprintf(w->prune_problem, sizeof w->prune_problem,
                 "the prune record for events before %" PRId64 " has no valid MAC", (int64_t)below);
        return;
    }
    w->pruned_ok = true;
}

static int visit(void *ctx, const struct store_audit_row *row)
{
    struct walk *w = ctx;
    json_t *doc = json_loads(row->doc, 0, NULL);
    int64_t t = 0;
    char hash[65];
    int stop = 0;

    w->r->events++;
    if (w->r->events == 1) {
        w->r->first_seq = row->seq;
        snprintf(w->first_prev, sizeof w->first_prev, "%s", row->prev_hash);
    }
    w->r->last_seq = row->seq;
    /* 1 */
    if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "seq")) != row->seq ||
        strcmp(jstr(json_object_get(doc, "type")), row->type) != 0 ||
        strcmp(jstr(json_object_get(doc, "id")), row->event_id) != 0 ||
        !time_parse_rfc3339(jstr(json_object_get(doc, "time")), &t) || t != row->time_ms) {
        stop = fail(w, row->seq,
                    "event %" PRId64 " was altered: its document does not agree with its row "
                    "(seq, type, id or time)",
                    row->seq);
        goto out;
    }
    /* 2, 3 */
    if (w->r->events > 1 && row->seq != w->prev_seq + 1) {
        stop = fail(w, w->prev_seq + 1,
                    "events %" PRId64 " to %" PRId64 " are missing: removed from the log",
                    w->prev_seq + 1, row->seq - 1);
        goto out;
    }
    if (w->r->events == 1 && row->seq == 1 && row->prev_hash[0]) {
        stop = fail(w, 1, "event 1 claims a predecessor: the start of the log was replaced");
        goto out;
    }
    if (w->r->events > 1 && strcmp(row->prev_hash, w->prev_hash) != 0) {
        stop = fail(w, row->seq,
                    "event %" PRId64 " does not follow event %" PRId64
                    ": inserted, reordered, or event %" PRId64 " was replaced",
                    row->seq, w->prev_seq, w->prev_seq);
        goto out;
    }
    /* 4 */
    audit_chain_hash(row->prev_hash, row->doc, hash);
    if (strcmp(hash, row->hash) != 0) {
        stop =
            fail(w, row->seq, "event %" PRId64 " was altered: its hash does not match", row->seq);
        goto out;
    }
    /* 5 */
    if (strcmp(row->type, AUDIT_TYPE_CHECKPOINT) == 0 && w->r->events > 1 &&
        (stop = check_checkpoint(w, row, doc)))
        goto out;
    if (strcmp(row->type, AUDIT_TYPE_PRUNED) == 0)
        check_pruned(w, doc);
    for (int i = 0; i < WANTS; i++) {
        if (w->want_seq[i] == row->seq) {
            w->seen[i] = true;
            snprintf(w->seen_hash[i], sizeof w->seen_hash[i], "%s", row->hash);
        }
    }
    w->prev_seq = row->seq;
    snprintf(w->prev_hash, sizeof w->prev_hash, "%s", row->hash);
    if (w->o->progress && w->o->progress_every > 0 && w->r->events % w->o->progress_every == 0)
        w->o->progress(w->o->progress_ctx, w->r->events, row->seq);
out:
    json_decref(doc);
    return stop;
}

/* Reads the anchor file into (cp_seq, seq, hash, mac); false (and *problem) when unusable. */
static bool read_anchor(const char *path, int64_t *cp_seq, int64_t *seq, char hash[72],
                        char mac[65], bool *exists)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    bool ok;

    /* A file that is there but does not parse is damaged, not absent. */
    *exists = doc != NULL || access(path, F_OK) == 0;
    ok = json_is_object(doc) && json_is_integer(json_object_get(doc, "checkpoint_seq")) &&
         json_is_integer(json_object_get(doc, "seq")) &&
         json_is_string(json_object_get(doc, "hash"));
    if (ok) {
        *cp_seq = json_integer_value(json_object_get(doc, "checkpoint_seq"));
        *seq = json_integer_value(json_object_get(doc, "seq"));
        snprintf(hash, 72, "%s", json_string_value(json_object_get(doc, "hash")));
        snprintf(mac, 65, "%s", jstr(json_object_get(doc, "mac")));
    }
    json_decref(doc);
    return ok;
}

/*
 * Reads the anchor files (the base and its slot files) into w's wants; false with r->problem
 * when one exists but is damaged or its MAC does not hold.
 */
static bool load_anchors(struct walk *w, const struct audit_verify_opts *o,
                         struct audit_verify_report *r)
{
    for (int slot = 0; o->anchor_path && slot < AUDIT_SLOTS; slot++) {
        char path[4200], hash[72] = "", mac[65] = "";
        int64_t cp = 0, seq = 0;
        bool exists = false;

        if (slot == 0)
            snprintf(path, sizeof path, "%s", o->anchor_path);
        else
            snprintf(path, sizeof path, "%s.%d", o->anchor_path, slot);
        if (!read_anchor(path, &cp, &seq, hash, mac, &exists)) {
            if (!exists)
                continue;
            r->ok = false;
            snprintf(r->problem, sizeof r->problem, "the anchor file %.300s is damaged", path);
            return false;
        }
        if (o->key && (!mac[0] || !mac_ok(o->key, seq, hash, mac))) {
            r->ok = false;
            snprintf(r->problem, sizeof r->problem,
                     "the anchor file %.300s does not carry a valid MAC under this key", path);
            return false;
        }
        w->want_seq[slot] = seq;
        w->want_cp[slot] = cp;
        snprintf(w->want_hash[slot], sizeof w->want_hash[slot], "%s", hash);
    }
    return true;
}

enum md_err audit_verify(struct store *s, const struct audit_verify_opts *o,
                         struct audit_verify_report *r, struct md_error *e)
{
    static const struct audit_verify_opts none = {0};
    struct walk w;
    struct store_conn *c = NULL;
    enum md_err rc;

    if (!o)
        o = &none;
    memset(r, 0, sizeof *r);
    memset(&w, 0, sizeof w);
    r->ok = true;
    w.o = o;
    w.r = r;
    if (!load_anchors(&w, o, r))
        return MD_OK;
    if (o->expect_seq > 0 && o->expect_hash) {
        w.want_seq[EXPECTED] = o->expect_seq;
        snprintf(w.want_hash[EXPECTED], sizeof w.want_hash[EXPECTED], "%s", o->expect_hash);
    }
    if ((rc = store_acquire(s, &c, e)))
        return rc;
    rc = store_audit_scan(c, NULL, visit, &w, e);
    store_release(c);
    if (rc || !r->ok)
        return rc;
    if (r->events > 0 && r->first_seq > 1 && !w.pruned_ok) {
        r->ok = false;
        r->bad_seq = r->first_seq - 1;
        if (w.prune_problem[0])
            snprintf(r->problem, sizeof r->problem, "%s", w.prune_problem);
        else
            snprintf(r->problem, sizeof r->problem,
                     "events 1 to %" PRId64 " are missing and no prune record vouches for "
                     "their removal: removed from the log",
                     r->first_seq - 1);
        return MD_OK;
    }
    for (int i = 0; i < WANTS; i++) {
        const char *what =
            i == EXPECTED ? "the expected checkpoint" : "an anchor file's checkpoint";
        if (!w.want_seq[i] || w.want_seq[i] < r->first_seq)
            continue; /* none, or pruned since */
        if (w.want_seq[i] > r->last_seq) {
            r->ok = false;
            r->bad_seq = r->last_seq + 1;
            snprintf(r->problem, sizeof r->problem,
                     "the log ends at event %" PRId64 " but %s covers event %" PRId64
                     ": the tail was cut off",
                     r->last_seq, what, w.want_seq[i]);
            return MD_OK;
        }
        /* The checkpoint after the covered event was cut off (on its own, or with events). */
        if (w.want_cp[i] > r->last_seq) {
            r->ok = false;
            r->bad_seq = r->last_seq + 1;
            snprintf(r->problem, sizeof r->problem,
                     "the log ends at event %" PRId64 " but %s is event %" PRId64
                     ": the tail was cut off",
                     r->last_seq, what, w.want_cp[i]);
            return MD_OK;
        }
        if (!w.seen[i] || strcmp(w.seen_hash[i], w.want_hash[i]) != 0) {
            r->ok = false;
            r->bad_seq = w.want_seq[i];
            snprintf(r->problem, sizeof r->problem,
                     "event %" PRId64 " is not the one %s vouches for: the log was rewritten "
                     "up to it",
                     w.want_seq[i], what);
            return MD_OK;
        }
    }
    if (!o->key)
        snprintf(r->warning, sizeof r->warning,
                 "no checkpoint key given: checkpoints were not authenticated, so a chain "
                 "rewritten with recomputed hashes would pass");
    else if (r->events > 0 && r->last_seq > r->last_checkpoint_seq)
        snprintf(r->warning, sizeof r->warning,
                 "%" PRId64 " events after the last checkpoint (%" PRId64
                 ") are covered by the hash chain only until the next checkpoint",
                 r->last_seq - r->last_checkpoint_seq, r->last_checkpoint_seq);
    return MD_OK;
}
