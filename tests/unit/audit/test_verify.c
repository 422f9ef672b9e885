/*
 * audit/verify.c against tampering, on SQLite (sqlite_*) and PostgreSQL (pg_*). Each case
 * builds the same log, changes the stored rows behind the store's back as an intruder with
 * database access would, and checks that audit_verify fails and names the right event
 * (bad_seq), or that the untouched log passes.
 *
 * The log: 22 events, numbered n = 0..21, timed 2020-01-01T00:00:<n>Z, stored one per group
 * commit with a checkpoint every 5 events and one at the close, under the fixture's key:
 *
 *     seq  1-5 events   6 C   7-11 events   12 C   13-17 events   18 C   19-23 events   24 C
 *         25-26 events  27 C (the close)    anchor file: checkpoint 27, vouching for event 26
 *
 * Forgeries compute their hashes with the fixture's SHA-256, as an intruder would: everything
 * but the checkpoint key is public.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit_fixture.h"

TestSuite(test_verify);

#define BOTH(name)                                                                                 \
    Test(test_verify, sqlite_##name, .init = fx_sq_setup, .fini = fx_sq_teardown)                  \
    {                                                                                              \
        name();                                                                                    \
    }                                                                                              \
    Test(test_verify, pg_##name, .init = fx_pg_setup, .fini = fx_pg_teardown)                      \
    {                                                                                              \
        name();                                                                                    \
    }

#define LOG_ROWS 27

static void build_log(void)
{
    struct audit_config cfg = fx_config();
    struct audit *a;
    char t[40];

    cfg.checkpoint_every = 5;
    a = fx_open(&cfg);
    for (int i = 0; i < 22; i++) {
        snprintf(t, sizeof t, "2020-01-01T00:00:%02d.000Z", i);
        audit_record(a, fx_event_at(i, t));
        fx_flush(a);
    }
    audit_close(a);
    cr_assert_eq(fx_count(), LOG_ROWS);
}

/* The row with that seq, borrowed from rows. */
static struct fx_row *row_of(struct fx_rows *rows, int64_t seq)
{
    for (size_t i = 0; i < rows->n; i++)
        if (rows->v[i].seq == seq)
            return &rows->v[i];
    cr_assert_fail("no row %" PRId64, seq);
    return NULL;
}

/* The canonical text of v, as audit.h defines it, without calling audit/ (heap). */
static char *canon(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);

    cr_assert_not_null(s);
    return s;
}

static void row_write(int64_t seq, const char *prev_hash, const char *hash, const char *doc)
{
    fx_set_text(seq, "prev_hash", prev_hash);
    fx_set_text(seq, "hash", hash);
    fx_set_text(seq, "doc", doc);
}

static void row_insert(int64_t seq, int64_t time_ms, const char *type, const char *id,
                       const char *prev_hash, const char *hash, const char *doc)
{
    char *qt = fx_quote(type), *qi = fx_quote(id), *qp = fx_quote(prev_hash), *qh = fx_quote(hash),
         *qd = fx_quote(doc);

    fx_execf("INSERT INTO audit_events (seq, time_ms, type, event_id, prev_hash, hash, doc) "
             "VALUES (%" PRId64 ", %" PRId64 ", %s, %s, %s, %s, %s)",
             seq, time_ms, qt, qi, qp, qh, qd);
    free(qt);
    free(qi);
    free(qp);
    free(qh);
    free(qd);
}

/*
 * Recomputes the chain from row from_seq to the end, as an intruder who changed a document
 * would: each prev_hash and hash again, and (fix_checkpoints) each checkpoint's "checkpoint"
 * member made to vouch for the new hash before it. The MACs stay as they were: the key is
 * not in the database.
 */
static void rechain(int64_t from_seq, bool fix_checkpoints)
{
    struct fx_rows rows;
    char prev[72] = "";

    fx_rows_read(&rows);
    for (size_t i = 0; i < rows.n; i++) {
        struct fx_row *r = &rows.v[i];
        char hash[65];
        char *doc = strdup(r->doc_text);

        if (r->seq < from_seq) {
            snprintf(prev, sizeof prev, "%s", r->hash);
            free(doc);
            continue;
        }
        if (fx_is_checkpoint(r) && fix_checkpoints) {
            json_t *cp = json_object_get(r->doc, "checkpoint");
            json_object_set_new(cp, "hash", json_string(prev));
            free(doc);
            doc = canon(r->doc);
        }
        fx_chain_hash(prev, doc, hash);
        row_write(r->seq, prev, hash, doc);
        snprintf(prev, sizeof prev, "%s", hash);
        free(doc);
    }
    fx_rows_free(&rows);
}

/* Verifies with the key and the anchor; asserts a failure at bad_seq whose problem has want. */
static void fails_at(int64_t bad_seq, const char *want)
{
    struct audit_verify_report r = fx_verify(fx_key, fx_anchor);

    cr_assert_not(r.ok, "verify passed a tampered log");
    cr_assert_eq(r.bad_seq, bad_seq, "bad_seq %" PRId64 ", want %" PRId64 ": %s", r.bad_seq,
                 bad_seq, r.problem);
    cr_assert_not_null(strstr(r.problem, want), "problem \"%s\" does not say \"%s\"", r.problem,
                       want);
}

/* ---- the untouched log ---- */

struct progress_log {
    int calls;
    int64_t checked[8], seq[8];
};

static void on_progress(void *ctx, int64_t checked, int64_t last_seq)
{
    struct progress_log *p = ctx;

    if (p->calls < 8) {
        p->checked[p->calls] = checked;
        p->seq[p->calls] = last_seq;
    }
    p->calls++;
}

static void untouched_log_passes(void)
{
    struct audit_verify_report r;
    struct audit_verify_opts o;
    struct progress_log p;
    struct md_error e = {0};

    build_log();
    r = fx_verify(fx_key, fx_anchor);
    cr_assert(r.ok, "%s", r.problem);
    cr_assert_eq(r.events, LOG_ROWS);
    cr_assert_eq(r.first_seq, 1);
    cr_assert_eq(r.last_seq, LOG_ROWS);
    cr_assert_eq(r.checkpoints, 5);
    cr_assert_eq(r.last_checkpoint_seq, LOG_ROWS);
    cr_assert_eq(r.bad_seq, 0);
    cr_assert_str_eq(r.problem, "");
    cr_assert_str_eq(r.warning, "");

    /* Without the key it passes too, but says that it could not authenticate anything. */
    r = fx_verify(NULL, NULL);
    cr_assert(r.ok, "%s", r.problem);
    cr_assert_eq(r.checkpoints, 0);
    cr_assert_not_null(strstr(r.warning, "no checkpoint key"), "%s", r.warning);

    /* Progress every 10 events. */
    memset(&o, 0, sizeof o);
    memset(&p, 0, sizeof p);
    o.key = fx_key;
    o.progress = on_progress;
    o.progress_ctx = &p;
    o.progress_every = 10;
    cr_assert_eq(audit_verify(S, &o, &r, &e), MD_OK, "%s", e.msg);
    cr_assert(r.ok);
    cr_assert_eq(p.calls, 2);
    cr_assert_eq(p.checked[0], 10);
    cr_assert_eq(p.seq[0], 10);
    cr_assert_eq(p.checked[1], 20);
    cr_assert_eq(p.seq[1], 20);
}
BOTH(untouched_log_passes)

static void empty_log_passes(void)
{
    struct audit_verify_report r = fx_verify(fx_key, fx_anchor);

    cr_assert(r.ok, "%s", r.problem);
    cr_assert_eq(r.events, 0);
    cr_assert_eq(r.bad_seq, 0);
}
BOTH(empty_log_passes)

static void events_after_the_last_checkpoint_pass_with_a_warning(void)
{
    struct audit_config cfg = fx_config();
    struct audit_verify_report r;
    struct audit *a;

    build_log();
    a = fx_open(&cfg);
    audit_record(a, fx_event(22));
    audit_record(a, fx_event(23));
    fx_flush(a);
    r = fx_verify(fx_key, fx_anchor);
    cr_assert(r.ok, "%s", r.problem);
    cr_assert_not_null(strstr(r.warning, "2 events after the last checkpoint (27)"), "%s",
                       r.warning);
    /* audit_verify_live flushes first and uses the log's own key and anchor. */
    audit_record(a, fx_event(24));
    {
        struct md_error e = {0};
        cr_assert_eq(audit_verify_live(a, &r, &e), MD_OK, "%s", e.msg);
    }
    cr_assert(r.ok, "%s", r.problem);
    cr_assert_eq(r.last_seq, LOG_ROWS + 3);
    cr_assert_eq(r.checkpoints, 5);
    audit_close(a);
}
BOTH(events_after_the_last_checkpoint_pass_with_a_warning)

/* ---- edits ---- */

static void edited_document(void)
{
    build_log();
    fx_exec("UPDATE audit_events SET doc = replace(doc, '\"n\":6,', '\"n\":60,') WHERE seq = 8");
    fails_at(8, "event 8 was altered: its hash does not match");
}
BOTH(edited_document)

static void edited_type_column(void)
{
    build_log();
    fx_set_text(9, "type", "tool.denied");
    fails_at(9, "event 9 was altered: its document does not agree with its row");
}
BOTH(edited_type_column)

static void edited_id_column(void)
{
    build_log();
    fx_set_text(9, "event_id", "00000000-0000-4000-8000-000000000000");
    fails_at(9, "does not agree with its row");
}
BOTH(edited_id_column)

static void edited_time_column(void)
{
    build_log();
    fx_exec("UPDATE audit_events SET time_ms = time_ms + 1 WHERE seq = 9");
    fails_at(9, "does not agree with its row");
}
BOTH(edited_time_column)

static void edited_hash_column(void)
{
    build_log();
    fx_set_text(9, "hash", "0000000000000000000000000000000000000000000000000000000000000000");
    fails_at(9, "event 9 was altered: its hash does not match");
}
BOTH(edited_hash_column)

static void edited_prev_hash_column(void)
{
    build_log();
    fx_set_text(9, "prev_hash", "0000000000000000000000000000000000000000000000000000000000000000");
    fails_at(9, "event 9 does not follow event 8");
}
BOTH(edited_prev_hash_column)

static void first_event_claiming_a_predecessor(void)
{
    build_log();
    fx_set_text(1, "prev_hash", "ab");
    fails_at(1, "event 1 claims a predecessor");
}
BOTH(first_event_claiming_a_predecessor)

/* ---- removals and reordering ---- */

static void deleted_event(void)
{
    build_log();
    fx_exec("DELETE FROM audit_events WHERE seq = 10");
    fails_at(10, "events 10 to 10 are missing");
}
BOTH(deleted_event)

static void deleted_run_of_events(void)
{
    build_log();
    fx_exec("DELETE FROM audit_events WHERE seq >= 10 AND seq <= 13");
    fails_at(10, "events 10 to 13 are missing");
}
BOTH(deleted_run_of_events)

static void renumbered_event(void)
{
    /* Row 9 moved to the end under another number: a gap where it was. */
    build_log();
    fx_exec("UPDATE audit_events SET seq = 100 WHERE seq = 9");
    fails_at(9, "events 9 to 9 are missing");
}
BOTH(renumbered_event)

static void swapped_rows(void)
{
    build_log();
    fx_exec("UPDATE audit_events SET seq = -8 WHERE seq = 8;"
            "UPDATE audit_events SET seq = 8 WHERE seq = 9;"
            "UPDATE audit_events SET seq = 9 WHERE seq = -8");
    fails_at(8, "event 8 was altered");
}
BOTH(swapped_rows)

static void swapped_documents(void)
{
    struct fx_rows rows;

    /* The documents (with their hashes) trade places; the seq columns stay. */
    build_log();
    fx_rows_read(&rows);
    row_write(8, row_of(&rows, 9)->prev_hash, row_of(&rows, 9)->hash, row_of(&rows, 9)->doc_text);
    row_write(9, row_of(&rows, 8)->prev_hash, row_of(&rows, 8)->hash, row_of(&rows, 8)->doc_text);
    fx_rows_free(&rows);
    fails_at(8, "event 8 was altered: its document does not agree with its row");
}
BOTH(swapped_documents)

/* ---- forgeries with correct hashes ---- */

static void replaced_event_with_a_correct_hash(void)
{
    struct fx_rows rows;
    struct fx_row *r;
    char hash[65], *doc;

    /* Event 14 rewritten (same seq, id, type, time) and hashed properly after event 13. */
    build_log();
    fx_rows_read(&rows);
    r = row_of(&rows, 14);
    json_object_set_new(r->doc, "tool", json_string("pay__nothing_to_see"));
    doc = canon(r->doc);
    fx_chain_hash(row_of(&rows, 13)->hash, doc, hash);
    row_write(14, row_of(&rows, 13)->hash, hash, doc);
    free(doc);
    fx_rows_free(&rows);
    /* Event 14 is self-consistent now; the break shows at the next one, which names it. */
    fails_at(15, "event 15 does not follow event 14: inserted, reordered, or event 14 was "
                 "replaced");
}
BOTH(replaced_event_with_a_correct_hash)

static void inserted_event_with_a_correct_hash(void)
{
    struct fx_rows rows;
    struct fx_row *prev;
    json_t *forged;
    char hash[65], *doc;

    /* Rows 14.. move up one; a forged event 14 goes in, chained properly after event 13. */
    build_log();
    fx_rows_read(&rows);
    prev = row_of(&rows, 13);
    fx_exec("UPDATE audit_events SET seq = -(seq + 1) WHERE seq >= 14;"
            "UPDATE audit_events SET seq = -seq WHERE seq < 0");
    forged = json_pack("{s:s, s:s, s:I, s:s, s:i, s:s}", "type", AUDIT_TYPE_TOOL_CALL, "id",
                       "00000000-0000-4000-8000-0000000f0e9d", "seq", (json_int_t)14, "time",
                       "2020-01-01T00:00:12.500Z", "n", 999, "tool", "pay__refund");
    doc = canon(forged);
    fx_chain_hash(prev->hash, doc, hash);
    row_insert(14, 1577836812500LL, AUDIT_TYPE_TOOL_CALL, "00000000-0000-4000-8000-0000000f0e9d",
               prev->hash, hash, doc);
    free(doc);
    json_decref(forged);
    fx_rows_free(&rows);
    /* The forgery passes; the event after it (the old 14, now at 15) does not fit. */
    fails_at(15, "event 15 was altered");
}
BOTH(inserted_event_with_a_correct_hash)

static void appended_event_after_the_last_checkpoint_cannot_be_told(void)
{
    struct fx_rows rows;
    json_t *forged;
    char hash[65], *doc;

    /*
     * What hash chains cannot catch, said plainly: an event appended with a correct hash after
     * the last checkpoint verifies, with the warning that the tail is covered by the chain
     * only. The next checkpoint of the real writer vouches for it (or not) from then on.
     */
    build_log();
    fx_rows_read(&rows);
    forged = json_pack("{s:s, s:s, s:I, s:s, s:i}", "type", AUDIT_TYPE_TOOL_CALL, "id", "forged-28",
                       "seq", (json_int_t)28, "time", "2020-01-01T00:01:00.000Z", "n", 28);
    doc = canon(forged);
    fx_chain_hash(row_of(&rows, 27)->hash, doc, hash);
    row_insert(28, 1577836860000LL, AUDIT_TYPE_TOOL_CALL, "forged-28", row_of(&rows, 27)->hash,
               hash, doc);
    free(doc);
    json_decref(forged);
    fx_rows_free(&rows);
    {
        struct audit_verify_report r = fx_verify(fx_key, fx_anchor);
        cr_assert(r.ok, "%s", r.problem);
        cr_assert_not_null(strstr(r.warning, "1 events after the last checkpoint"), "%s",
                           r.warning);
    }
}
BOTH(appended_event_after_the_last_checkpoint_cannot_be_told)

static void recomputed_chain_with_a_wrong_mac(void)
{
    /*
     * Event 14 edited and every hash after it recomputed, checkpoints made to vouch for the new
     * hashes: only the MAC of checkpoint 18 is wrong, so the events since checkpoint 12 are
     * the ones in doubt, from 13.
     */
    build_log();
    fx_exec("UPDATE audit_events SET doc = replace(doc, '\"n\":11,', '\"n\":1100,') "
            "WHERE seq = 14");
    rechain(14, true);
    fails_at(13, "checkpoint 18 does not carry a valid MAC under this key");
}
BOTH(recomputed_chain_with_a_wrong_mac)

static void recomputed_chain_with_checkpoints_left_alone(void)
{
    build_log();
    fx_exec("UPDATE audit_events SET doc = replace(doc, '\"n\":11,', '\"n\":1100,') "
            "WHERE seq = 14");
    rechain(14, false);
    fails_at(18, "checkpoint 18 does not vouch for the event before it");
}
BOTH(recomputed_chain_with_checkpoints_left_alone)

static void recomputed_chain_without_the_key_is_caught_by_the_anchor(void)
{
    struct audit_verify_report r;

    build_log();
    fx_exec("UPDATE audit_events SET doc = replace(doc, '\"n\":11,', '\"n\":1100,') "
            "WHERE seq = 14");
    rechain(14, true);
    /* No key: the MACs are not checked; the anchor file outside the database still differs. */
    r = fx_verify(NULL, fx_anchor);
    cr_assert_not(r.ok);
    cr_assert_eq(r.bad_seq, 26, "%s", r.problem);
    cr_assert_not_null(strstr(r.problem, "not the one an anchor file's checkpoint vouches for"),
                       "%s", r.problem);
    /* With neither, a consistent rewrite passes: that is what the warning is for. */
    r = fx_verify(NULL, NULL);
    cr_assert(r.ok, "%s", r.problem);
    cr_assert_not_null(strstr(r.warning, "would pass"), "%s", r.warning);
}
BOTH(recomputed_chain_without_the_key_is_caught_by_the_anchor)

/* ---- the tail ---- */

static void truncated_tail(void)
{
    build_log();
    fx_exec("DELETE FROM audit_events WHERE seq >= 20");
    fails_at(20, "the log ends at event 19 but an anchor file's checkpoint covers event 26: the "
                 "tail was cut off");
}
BOTH(truncated_tail)

static void truncated_tail_of_the_last_checkpoint_alone(void)
{
    /* Only the closing checkpoint removed: the anchor names it, so its absence shows. */
    build_log();
    fx_exec("DELETE FROM audit_events WHERE seq = 27");
    fails_at(27, "the tail was cut off");
}
BOTH(truncated_tail_of_the_last_checkpoint_alone)

static void truncated_tail_without_an_anchor_passes_with_a_warning(void)
{
    struct audit_verify_report r;

    build_log();
    fx_exec("DELETE FROM audit_events WHERE seq >= 26");
    r = fx_verify(fx_key, NULL);
    cr_assert(r.ok, "%s", r.problem);
    cr_assert_eq(r.last_seq, 25);
    cr_assert_not_null(strstr(r.warning, "1 events after the last checkpoint (24)"), "%s",
                       r.warning);
}
BOTH(truncated_tail_without_an_anchor_passes_with_a_warning)

static void damaged_anchor_file(void)
{
    struct audit_verify_report r;
    char path[200];

    build_log();
    fx_file_write(fx_anchor, "{\"checkpoint_seq\": \"x\"");
    r = fx_verify(fx_key, fx_anchor);
    cr_assert_not(r.ok);
    cr_assert_not_null(strstr(r.problem, "is damaged"), "%s", r.problem);
    /* A slot's anchor counts as much as the first, which may be absent. */
    cr_assert_eq(unlink(fx_anchor), 0);
    snprintf(path, sizeof path, "%s.3", fx_anchor);
    fx_file_write(path, "garbage");
    r = fx_verify(fx_key, fx_anchor);
    cr_assert_not(r.ok);
    cr_assert_not_null(strstr(r.problem, ".3 is damaged"), "%s", r.problem);
}
BOTH(damaged_anchor_file)

static void forged_anchor_file(void)
{
    struct fx_rows rows;
    struct audit_verify_report r;
    char text[512];

    /* An anchor moved back to an earlier checkpoint (to hide a cut) needs a MAC: it has none. */
    build_log();
    fx_rows_read(&rows);
    snprintf(text, sizeof text,
             "{\"checkpoint_seq\":24,\"seq\":23,\"hash\":\"%s\",\"mac\":\"%064d\"}\n",
             row_of(&rows, 23)->hash, 0);
    fx_rows_free(&rows);
    fx_file_write(fx_anchor, text);
    r = fx_verify(fx_key, fx_anchor);
    cr_assert_not(r.ok);
    cr_assert_not_null(strstr(r.problem, "does not carry a valid MAC"), "%s", r.problem);
}
BOTH(forged_anchor_file)

/* ---- pruning ---- */

static void prune_keeps_the_rest_verifiable(void)
{
    struct audit_config cfg = fx_config();
    struct audit_verify_report r;
    struct md_error e = {0};
    struct fx_rows rows;
    int64_t removed = 0;
    struct audit *a;

    build_log();
    a = fx_open(&cfg);
    /* Events 0, 1, 2 are older than 00:00:03. */
    cr_assert_eq(audit_prune(a, 1577836803000LL, &removed, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(removed, 3);
    audit_close(a);
    fx_rows_read(&rows);
    cr_assert_eq(rows.v[0].seq, 4);
    /* The prune record, then the close's checkpoint. */
    cr_assert_str_eq(rows.v[rows.n - 2].type, AUDIT_TYPE_PRUNED);
    cr_assert_eq(json_integer_value(json_object_get(rows.v[rows.n - 2].doc, "below_seq")), 4);
    cr_assert_str_eq(
        json_string_value(json_object_get(rows.v[rows.n - 2].doc, "last_removed_hash")),
        rows.v[0].prev_hash);
    fx_rows_free(&rows);
    r = fx_verify(fx_key, fx_anchor);
    cr_assert(r.ok, "%s", r.problem);
    cr_assert_eq(r.first_seq, 4);
    cr_assert_eq(r.last_seq, LOG_ROWS + 2);
}
BOTH(prune_keeps_the_rest_verifiable)

static void removed_head_without_a_prune_record(void)
{
    build_log();
    fx_exec("DELETE FROM audit_events WHERE seq < 4");
    fails_at(3, "events 1 to 3 are missing and no prune record vouches for their removal");
}
BOTH(removed_head_without_a_prune_record)

/*
 * Removes events 1..3 and appends an "audit.pruned" record at 28, chained properly, claiming
 * last_removed_hash and carrying mac (NULL: none).
 */
static void forge_prune(const char *last_removed_hash, const char *mac)
{
    struct fx_rows rows;
    json_t *forged;
    char hash[65], *doc;

    fx_rows_read(&rows);
    forged = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:s?}", "type", AUDIT_TYPE_PRUNED, "id",
                       "forged-prune", "seq", (json_int_t)28, "time", "2020-01-01T00:02:00.000Z",
                       "below_seq", (json_int_t)4, "last_removed_hash",
                       last_removed_hash ? last_removed_hash : row_of(&rows, 3)->hash, "mac", mac);
    doc = canon(forged);
    fx_chain_hash(row_of(&rows, 27)->hash, doc, hash);
    row_insert(28, 1577836920000LL, AUDIT_TYPE_PRUNED, "forged-prune", row_of(&rows, 27)->hash,
               hash, doc);
    free(doc);
    json_decref(forged);
    fx_rows_free(&rows);
    fx_exec("DELETE FROM audit_events WHERE seq < 4");
}

static void forged_prune_record_with_a_wrong_mac(void)
{
    struct fx_rows rows;
    unsigned char wrong[AUDIT_KEY_LEN];
    char mac[65];

    build_log();
    fx_rows_read(&rows);
    memset(wrong, 0x42, sizeof wrong);
    fx_mac(wrong, 3, row_of(&rows, 3)->hash, mac);
    fx_rows_free(&rows);
    forge_prune(NULL, mac);
    fails_at(3, "the prune record for events before 4 has no valid MAC");
}
BOTH(forged_prune_record_with_a_wrong_mac)

static void forged_prune_record_without_a_mac(void)
{
    build_log();
    forge_prune(NULL, NULL);
    fails_at(3, "the prune record for events before 4 has no valid MAC");
}
BOTH(forged_prune_record_without_a_mac)

static void prune_record_for_another_hash(void)
{
    build_log();
    forge_prune("1111111111111111111111111111111111111111111111111111111111111111", NULL);
    fails_at(3, "no prune record vouches for their removal");
}
BOTH(prune_record_for_another_hash)

/* ---- an externally kept checkpoint (--expect) ---- */

static void expected_checkpoint(void)
{
    struct audit_verify_opts o;
    struct audit_verify_report r;
    struct md_error e = {0};
    struct fx_rows rows;
    char hash10[72];

    build_log();
    fx_rows_read(&rows);
    snprintf(hash10, sizeof hash10, "%s", row_of(&rows, 10)->hash);
    fx_rows_free(&rows);
    memset(&o, 0, sizeof o);
    o.key = fx_key;
    o.expect_seq = 10;
    o.expect_hash = hash10;
    cr_assert_eq(audit_verify(S, &o, &r, &e), MD_OK, "%s", e.msg);
    cr_assert(r.ok, "%s", r.problem);

    /* The same seq with another hash: the log is not the one that was kept. */
    o.expect_hash = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    cr_assert_eq(audit_verify(S, &o, &r, &e), MD_OK, "%s", e.msg);
    cr_assert_not(r.ok);
    cr_assert_eq(r.bad_seq, 10);
    cr_assert_not_null(strstr(r.problem, "not the one the expected checkpoint vouches for"), "%s",
                       r.problem);

    /* A kept checkpoint beyond the end: the tail was cut off. */
    o.expect_seq = 40;
    o.expect_hash = hash10;
    cr_assert_eq(audit_verify(S, &o, &r, &e), MD_OK, "%s", e.msg);
    cr_assert_not(r.ok);
    cr_assert_eq(r.bad_seq, LOG_ROWS + 1);
    cr_assert_not_null(strstr(r.problem, "the expected checkpoint covers event 40"), "%s",
                       r.problem);
}
BOTH(expected_checkpoint)
