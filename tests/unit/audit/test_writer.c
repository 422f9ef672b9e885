/*
 * audit/writer.c on a real store, each case on SQLite (sqlite_*) and on PostgreSQL (pg_*):
 * many threads recording at once give one gapless, valid chain; checkpoints every N events, on
 * a timer and at a clean shutdown, and the anchor file beside them; audit_flush; the journal,
 * which keeps what a process recorded but did not store when it died (a child that _exit()s,
 * or is SIGKILLed with its writer running) for the next audit_open, skipping torn and damaged
 * lines and what the database has already, and which is emptied once stored; two logs on one
 * journal path take two slots.
 *
 * The chain is checked with the fixture's own SHA-256 and HMAC (fx_chain_check), not with
 * verify.c, and then with audit_verify as well.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit_fixture.h"
#include "core/time.h"

TestSuite(test_writer);

/* Each case once per backend. */
#define BOTH(name)                                                                                 \
    Test(test_writer, sqlite_##name, .init = fx_sq_setup, .fini = fx_sq_teardown)                  \
    {                                                                                              \
        name();                                                                                    \
    }                                                                                              \
    Test(test_writer, pg_##name, .init = fx_pg_setup, .fini = fx_pg_teardown)                      \
    {                                                                                              \
        name();                                                                                    \
    }

static int64_t event_n(const struct fx_row *r)
{
    const json_t *n = json_object_get(r->doc, "n");

    cr_assert(json_is_integer(n), "seq %" PRId64 " has no n: %s", r->seq, r->doc_text);
    return json_integer_value(n);
}

/* The types of the rows as one string, "e" for an event and "C" for a checkpoint. */
static void layout(const struct fx_rows *rows, char *out, size_t n)
{
    size_t i;

    for (i = 0; i < rows->n && i + 1 < n; i++)
        out[i] = fx_is_checkpoint(&rows->v[i]) ? 'C' : 'e';
    out[i] = '\0';
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The lines of a file, parsed; asserts each is a JSON object. Returns the count. */
static size_t journal_lines(const char *path, json_t **out, size_t cap)
{
    char *text = fx_file_read(path), *line, *nl;
    size_t n = 0;

    cr_assert_not_null(text, "no journal at %s", path);
    for (line = text; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        cr_assert_not_null(nl, "the journal's last line has no newline");
        *nl = '\0';
        cr_assert_lt(n, cap);
        out[n] = json_loads(line, 0, NULL);
        cr_assert(json_is_object(out[n]), "journal line %zu: %s", n, line);
        n++;
    }
    free(text);
    return n;
}

/* ---- many threads ---- */

#define THREADS 8
#define PER_THREAD 2000

struct recorder {
    struct audit *a;
    int thread;
};

static void *record_many(void *arg)
{
    struct recorder *r = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        json_t *ev = json_pack("{s:s, s:i, s:i, s:i}", "type", AUDIT_TYPE_TOOL_CALL, "thread",
                               r->thread, "i", i, "n", r->thread * PER_THREAD + i);
        audit_record(r->a, ev);
    }
    return NULL;
}

static void many_threads_one_gapless_chain(void)
{
    struct audit_config cfg = fx_config();
    struct recorder rec[THREADS];
    pthread_t th[THREADS];
    struct audit_stats st;
    struct fx_rows rows;
    struct audit_verify_report vr;
    int last_i[THREADS];
    char *seen = calloc(THREADS * PER_THREAD, 1);
    size_t events = 0;
    int checkpoints;
    struct audit *a;

    cr_assert_not_null(seen);
    cfg.no_writer_thread = false;
    a = fx_open(&cfg);
    for (int t = 0; t < THREADS; t++) {
        rec[t].a = a;
        rec[t].thread = t;
        cr_assert_eq(pthread_create(&th[t], NULL, record_many, &rec[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    fx_flush(a);
    audit_stats_get(a, &st);
    cr_assert_eq(st.recorded, THREADS * PER_THREAD);
    cr_assert_eq(st.queued, 0);
    cr_assert_eq(st.failures, 0);
    cr_assert_geq(st.batches, 1);
    fx_rows_read(&rows);
    /* Every stored row was counted, checkpoints included, and is the last seq written. */
    cr_assert_eq(st.stored, rows.n);
    cr_assert_eq(st.last_seq, (int64_t)rows.n);

    checkpoints = fx_chain_check(&rows, fx_key);
    for (int t = 0; t < THREADS; t++)
        last_i[t] = -1;
    for (size_t k = 0; k < rows.n; k++) {
        const struct fx_row *r = &rows.v[k];
        int t, i;
        if (fx_is_checkpoint(r))
            continue;
        t = (int)json_integer_value(json_object_get(r->doc, "thread"));
        i = (int)json_integer_value(json_object_get(r->doc, "i"));
        cr_assert(t >= 0 && t < THREADS && i >= 0 && i < PER_THREAD, "%s", r->doc_text);
        cr_assert_eq(seen[t * PER_THREAD + i], 0, "thread %d event %d stored twice", t, i);
        seen[t * PER_THREAD + i] = 1;
        /* One thread's events keep the order in which it recorded them. */
        cr_assert_gt(i, last_i[t], "thread %d: event %d after %d", t, i, last_i[t]);
        last_i[t] = i;
        events++;
    }
    cr_assert_eq(events, THREADS * PER_THREAD);
    /* 16,000 events with a checkpoint every 1,000 (or more, a group commit at a time). */
    cr_assert_geq(checkpoints, 1);
    cr_assert_leq(checkpoints, THREADS * PER_THREAD / AUDIT_CHECKPOINT_EVERY);
    fx_rows_free(&rows);

    audit_close(a);
    vr = fx_verify(fx_key, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
    cr_assert_eq(vr.events, fx_count());
    cr_assert_str_eq(vr.problem, "");
    cr_assert_eq(vr.last_checkpoint_seq, vr.last_seq, "close ends the log with a checkpoint");
    free(seen);
}
BOTH(many_threads_one_gapless_chain)

/* ---- checkpoints ---- */

static void checkpoint_every_n_events_and_on_close(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    char lay[64], want_mac[65];
    char *anchor;
    json_t *aj;
    struct audit *a;

    cfg.checkpoint_every = 5;
    a = fx_open(&cfg);
    /* One event per group commit, so that the count is exact. */
    for (int i = 0; i < 23; i++) {
        audit_record(a, fx_event(i));
        fx_flush(a);
    }
    audit_close(a);
    fx_rows_read(&rows);
    layout(&rows, lay, sizeof lay);
    cr_assert_str_eq(lay, "eeeeeCeeeeeCeeeeeCeeeeeCeeeC");
    cr_assert_eq(fx_chain_check(&rows, fx_key), 5);
    /* Events keep their order across the checkpoints. */
    for (size_t k = 0, n = 0; k < rows.n; k++)
        if (!fx_is_checkpoint(&rows.v[k]))
            cr_assert_eq(event_n(&rows.v[k]), (int64_t)n++);

    /* The anchor file holds the last checkpoint: the one of the close, vouching for event 27. */
    anchor = fx_file_read(fx_anchor);
    cr_assert_not_null(anchor, "no anchor file at %s", fx_anchor);
    aj = json_loads(anchor, 0, NULL);
    cr_assert(json_is_object(aj), "%s", anchor);
    cr_assert_eq(json_integer_value(json_object_get(aj, "checkpoint_seq")), 28);
    cr_assert_eq(json_integer_value(json_object_get(aj, "seq")), 27);
    cr_assert_str_eq(json_string_value(json_object_get(aj, "hash")), rows.v[26].hash);
    fx_mac(fx_key, 27, rows.v[26].hash, want_mac);
    cr_assert_str_eq(json_string_value(json_object_get(aj, "mac")), want_mac);
    /* Nothing is left behind from the atomic replace. */
    {
        char tmp[200];
        snprintf(tmp, sizeof tmp, "%s.tmp", fx_anchor);
        cr_assert_eq(fx_file_size(tmp), -1);
    }
    json_decref(aj);
    free(anchor);
    fx_rows_free(&rows);
}
BOTH(checkpoint_every_n_events_and_on_close)

static void checkpoint_after_a_group_commit_that_crosses_n(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    char lay[64];
    struct audit *a;

    cfg.checkpoint_every = 5;
    a = fx_open(&cfg);
    /* Twelve events in one transaction: the checkpoint comes after the group, not inside it. */
    for (int i = 0; i < 12; i++)
        audit_record(a, fx_event(i));
    fx_flush(a);
    audit_record(a, fx_event(12));
    audit_record(a, fx_event(13));
    audit_close(a);
    fx_rows_read(&rows);
    layout(&rows, lay, sizeof lay);
    cr_assert_str_eq(lay, "eeeeeeeeeeeeCeeC");
    cr_assert_eq(fx_chain_check(&rows, fx_key), 2);
    fx_rows_free(&rows);
}
BOTH(checkpoint_after_a_group_commit_that_crosses_n)

static void checkpoint_on_the_timer_when_events_stop(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    char lay[16] = "";
    struct audit *a;

    cfg.no_writer_thread = false;
    cfg.checkpoint_ms = 100;
    a = fx_open(&cfg);
    for (int i = 0; i < 3; i++)
        audit_record(a, fx_event(i));
    fx_flush(a);
    /* No more events: the writer's timer writes a checkpoint alone, without a close. */
    for (int waited = 0; waited < 5000; waited += 50) {
        fx_rows_read(&rows);
        layout(&rows, lay, sizeof lay);
        fx_rows_free(&rows);
        if (strcmp(lay, "eeeC") == 0)
            break;
        sleep_ms(50);
    }
    cr_assert_str_eq(lay, "eeeC", "no checkpoint 5 s after the last event");
    /* And no second one for the same events: the close has nothing new to vouch for. */
    sleep_ms(300);
    audit_close(a);
    fx_rows_read(&rows);
    layout(&rows, lay, sizeof lay);
    cr_assert_str_eq(lay, "eeeC");
    cr_assert_eq(fx_chain_check(&rows, fx_key), 1);
    fx_rows_free(&rows);
}
BOTH(checkpoint_on_the_timer_when_events_stop)

static void restarts_continue_the_chain_without_empty_checkpoints(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    struct audit_verify_report vr;
    char lay[32];
    struct audit *a;

    cfg.no_writer_thread = false;
    a = fx_open(&cfg);
    for (int i = 0; i < 3; i++)
        audit_record(a, fx_event(i));
    audit_close(a);
    /* Opened and closed with nothing recorded: nothing to vouch for, no new row. */
    a = fx_open(&cfg);
    audit_close(a);
    a = fx_open(&cfg);
    audit_record(a, fx_event(3));
    audit_record(a, fx_event(4));
    audit_close(a);
    fx_rows_read(&rows);
    layout(&rows, lay, sizeof lay);
    cr_assert_str_eq(lay, "eeeCeeC");
    /* The first event after the restart follows the last checkpoint of the run before. */
    cr_assert_str_eq(rows.v[4].prev_hash, rows.v[3].hash);
    cr_assert_eq(fx_chain_check(&rows, fx_key), 2);
    fx_rows_free(&rows);
    vr = fx_verify(fx_key, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
    cr_assert_eq(vr.checkpoints, 2);
    cr_assert_eq(vr.last_checkpoint_seq, 7);
    cr_assert_str_eq(vr.warning, "");
}
BOTH(restarts_continue_the_chain_without_empty_checkpoints)

static void without_a_key_checkpoints_carry_no_mac(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    struct audit_verify_report vr;
    char *anchor;
    json_t *aj;
    struct audit *a;

    cfg.key = NULL;
    a = fx_open(&cfg);
    audit_record(a, fx_event(0));
    audit_close(a);
    fx_rows_read(&rows);
    cr_assert_eq(rows.n, 2);
    cr_assert_eq(fx_chain_check(&rows, NULL), 1);
    fx_rows_free(&rows);
    anchor = fx_file_read(fx_anchor);
    aj = json_loads(anchor ? anchor : "", 0, NULL);
    cr_assert(json_is_object(aj));
    cr_assert_not(json_is_string(json_object_get(aj, "mac")), "an anchor without a key has no MAC");
    cr_assert_eq(json_integer_value(json_object_get(aj, "seq")), 1);
    json_decref(aj);
    free(anchor);
    vr = fx_verify(NULL, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
    cr_assert_eq(vr.checkpoints, 0, "no MAC was checked");
    cr_assert_not_null(strstr(vr.warning, "no checkpoint key"), "%s", vr.warning);
    /* A key now finds MAC-less checkpoints wrong: they are not authenticated. */
    vr = fx_verify(fx_key, NULL);
    cr_assert_not(vr.ok);
    cr_assert_eq(vr.bad_seq, 1);
}
BOTH(without_a_key_checkpoints_carry_no_mac)

/* ---- records and flush ---- */

static void record_keeps_a_given_time_and_id_and_adds_them_otherwise(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    json_t *ev = fx_event_at(0, "2020-01-02T03:04:05.678Z");
    int64_t before = time_now_ms(), after;
    struct audit *a;

    json_object_set_new(ev, "id", json_string("00000000-0000-4000-8000-00000000abcd"));
    a = fx_open(&cfg);
    audit_record(a, ev);
    audit_record(a, fx_event(1));
    fx_flush(a);
    after = time_now_ms();
    fx_rows_read(&rows);
    cr_assert_eq(rows.n, 2);
    cr_assert_eq(rows.v[0].time_ms, 1577934245678LL);
    cr_assert_str_eq(json_string_value(json_object_get(rows.v[0].doc, "time")),
                     "2020-01-02T03:04:05.678Z");
    cr_assert_str_eq(rows.v[0].event_id, "00000000-0000-4000-8000-00000000abcd");
    /* The second got a fresh id (the process' random prefix, a counter) and the time it was
     * recorded at. */
    cr_assert_eq(strlen(rows.v[1].event_id), 29, "%s", rows.v[1].event_id);
    cr_assert_eq(rows.v[1].event_id[16], '-');
    cr_assert_geq(rows.v[1].time_ms, before - 1);
    cr_assert_leq(rows.v[1].time_ms, after + 1);
    fx_rows_free(&rows);
    audit_close(a);
}
BOTH(record_keeps_a_given_time_and_id_and_adds_them_otherwise)

/*
 * A draft is serialised when it is made (id and time then), and recorded with the members
 * given at the end after its own, in the journal and in the stored document alike.
 */
static void draft_takes_its_last_members_at_the_end(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    struct audit_draft *d, *gone;
    json_t *lines[4];
    size_t nl;
    struct audit *a = fx_open(&cfg);
    int64_t before = time_now_ms();
    const char *doc;

    d = audit_draft_new(a, fx_event(0));
    cr_assert_not_null(d);
    gone = audit_draft_new(a, fx_event(1));
    audit_draft_discard(gone);
    audit_draft_record(a, audit_draft_new(a, json_pack("{s:s}", "type", "tool.call")),
                       json_pack("{s:s}", "outcome", "ok")); /* the smallest draft */
    audit_draft_record(a, d,
                       json_pack("{s:s, s:{s:i}, s:s}", "outcome", "ok", "upstream", "status", 200,
                                 "note", "caf\xc3\xa9"));
    audit_draft_record(a, audit_draft_new(a, fx_event(2)), NULL);
    audit_draft_record(a, NULL, json_pack("{s:s}", "outcome", "ok")); /* released */
    nl = journal_lines(fx_journal, lines, 4);
    cr_assert_eq(nl, 3, "%zu journal lines", nl);
    for (size_t i = 0; i < nl; i++)
        json_decref(lines[i]);
    fx_flush(a);
    fx_rows_read(&rows);
    cr_assert_eq(rows.n, 3);
    cr_assert_str_eq(json_string_value(json_object_get(rows.v[0].doc, "outcome")), "ok");
    doc = rows.v[1].doc_text;
    /* Its own members, then id and time from when it was drafted, then the last ones. */
    cr_assert_not_null(strstr(doc, "\"outcome\":\"ok\",\"upstream\":{\"status\":200},"
                                   "\"note\":\"caf\\u00E9\"}"),
                       "%s", doc);
    cr_assert_eq(event_n(&rows.v[1]), 0);
    cr_assert_geq(rows.v[1].time_ms, before - 1);
    cr_assert_null(json_object_get(rows.v[2].doc, "outcome"));
    cr_assert_eq(event_n(&rows.v[2]), 2);
    fx_rows_free(&rows);
    audit_close(a);
    /* No log: no draft, and nothing leaks (LeakSanitizer). */
    cr_assert_null(audit_draft_new(NULL, fx_event(3)));
    audit_draft_discard(NULL);
}
BOTH(draft_takes_its_last_members_at_the_end)

static void flush_returns_once_everything_recorded_is_stored(void)
{
    struct audit_config cfg = fx_config();
    struct md_error e = {0};
    struct audit_stats st;
    struct audit *a;

    cfg.no_writer_thread = false;
    a = fx_open(&cfg);
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 50; i++)
            audit_record(a, fx_event(i));
        fx_flush(a);
        /* Stored, and the journal emptied, by the time flush returns. */
        cr_assert_eq(fx_count(), 50 * round);
        cr_assert_eq(fx_file_size(fx_journal), 0);
        audit_stats_get(a, &st);
        cr_assert_eq(st.recorded, (uint64_t)(50 * round));
        cr_assert_eq(st.queued, 0);
        cr_assert_eq(st.last_seq, 50 * round);
    }
    audit_close(a);
    /* No log: nothing to wait for; an event given to no log is released (LeakSanitizer). */
    cr_assert_eq(audit_flush(NULL, &e), MD_OK);
    audit_record(NULL, fx_event(0));
    audit_record(NULL, NULL);
    audit_close(NULL);
    audit_stats_get(NULL, &st);
    cr_assert_eq(st.recorded, 0);
}
BOTH(flush_returns_once_everything_recorded_is_stored)

static void record_refuses_what_is_not_an_object(void)
{
    struct audit_config cfg = fx_config();
    struct audit_stats st;
    struct audit *a = fx_open(&cfg);

    audit_record(a, json_string("tool.call"));
    audit_record(a, json_pack("[i]", 1));
    fx_flush(a);
    audit_stats_get(a, &st);
    cr_assert_eq(st.recorded, 0);
    cr_assert_eq(fx_count(), 0);
    cr_assert_eq(fx_file_size(fx_journal), 0);
    audit_close(a);
}
BOTH(record_refuses_what_is_not_an_object)

/* ---- the journal ---- */

static void journal_holds_recorded_events_until_they_are_stored(void)
{
    struct audit_config cfg = fx_config();
    json_t *lines[8];
    size_t n;
    struct audit *a = fx_open(&cfg);

    for (int i = 0; i < 3; i++)
        audit_record(a, fx_event(i));
    /* Recorded, not stored: one line each, with the id and time audit_record gave them. */
    n = journal_lines(fx_journal, lines, 8);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(json_integer_value(json_object_get(lines[i], "n")), (json_int_t)i);
        cr_assert_eq(strlen(json_string_value(json_object_get(lines[i], "id"))), 29);
        cr_assert_not_null(json_string_value(json_object_get(lines[i], "time")));
        cr_assert_str_eq(json_string_value(json_object_get(lines[i], "type")),
                         AUDIT_TYPE_TOOL_CALL);
        cr_assert_null(json_object_get(lines[i], "seq"), "seq is the writer's to give");
        json_decref(lines[i]);
    }
    cr_assert_eq(fx_count(), 0);
    fx_flush(a);
    cr_assert_eq(fx_count(), 3);
    cr_assert_eq(fx_file_size(fx_journal), 0);
    audit_close(a);
}
BOTH(journal_holds_recorded_events_until_they_are_stored)

/*
 * In a child process: opens the store and a log (writer thread or not), records n events
 * numbered from 0 (flushing after the first flush_after when that is > 0), then dies without
 * storing the rest: _exit(0), or SIGKILL when kill_it. No Criterion calls in the child.
 */
static void child_records_and_dies(bool writer, int n, int flush_after, bool kill_it)
{
    pid_t pid;
    int status = 0;

    /* The parent's connections stay out of the child: it opens its own. */
    close_store();
    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct md_error e = {0};
        struct store *s = NULL;
        struct audit *a = NULL;
        struct audit_config cfg = fx_config();

        if (store_open(url, 2, &s, &e) != MD_OK)
            _exit(2);
        cfg.store = s;
        cfg.no_writer_thread = !writer;
        cfg.checkpoint_every = 100;
        if (audit_open(&cfg, &a, &e) != MD_OK)
            _exit(3);
        for (int i = 0; i < n; i++) {
            audit_record(a, fx_event(i));
            if (i + 1 == flush_after && audit_flush(a, &e) != MD_OK)
                _exit(4);
        }
        if (kill_it)
            kill(getpid(), SIGKILL);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (kill_it)
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    else
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    open_store(4);
}

static void journal_of_a_process_that_died_is_stored_by_the_next_open(void)
{
    struct audit_config cfg = fx_config();
    json_t *lines[16];
    struct fx_rows rows;
    struct audit_verify_report vr;
    size_t n;
    struct audit *a;

    child_records_and_dies(false, 10, 0, false);
    cfg.store = S; /* the child's run closed and reopened the store */
    /* The child stored nothing: the ten events are only in its journal. */
    cr_assert_eq(fx_count(), 0);
    n = journal_lines(fx_journal, lines, 16);
    cr_assert_eq(n, 10);

    a = fx_open(&cfg);
    /* Stored by audit_open itself, before any flush, and the journal emptied. */
    cr_assert_eq(fx_count(), 10);
    cr_assert_eq(fx_file_size(fx_journal), 0);
    fx_rows_read(&rows);
    cr_assert_eq(rows.n, 10);
    fx_chain_check(&rows, fx_key);
    for (size_t i = 0; i < n; i++) {
        /* The same events: id, time and content as the child recorded them, in its order. */
        cr_assert_str_eq(rows.v[i].event_id, json_string_value(json_object_get(lines[i], "id")));
        cr_assert_str_eq(json_string_value(json_object_get(rows.v[i].doc, "time")),
                         json_string_value(json_object_get(lines[i], "time")));
        cr_assert_eq(event_n(&rows.v[i]), (int64_t)i);
        json_decref(lines[i]);
    }
    fx_rows_free(&rows);
    audit_record(a, fx_event(10));
    audit_close(a);
    vr = fx_verify(fx_key, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
    cr_assert_eq(vr.events, 12);
}
BOTH(journal_of_a_process_that_died_is_stored_by_the_next_open)

static void sigkill_with_the_writer_running_loses_no_recorded_event(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    struct audit_verify_report vr;
    char *seen = calloc(3000, 1);
    size_t events = 0;
    int64_t last = -1;
    struct audit *a;

    cr_assert_not_null(seen);
    /* 1,500 stored for certain, then 1,500 more and SIGKILL while the writer is at them. */
    child_records_and_dies(true, 3000, 1500, true);
    cfg.store = S;
    cr_assert_geq(fx_count(), 1500);
    a = fx_open(&cfg);
    audit_close(a);
    fx_rows_read(&rows);
    fx_chain_check(&rows, fx_key);
    for (size_t k = 0; k < rows.n; k++) {
        int64_t n;
        if (fx_is_checkpoint(&rows.v[k]))
            continue;
        n = event_n(&rows.v[k]);
        cr_assert(n >= 0 && n < 3000);
        cr_assert_eq(seen[n], 0, "event %" PRId64 " stored twice", n);
        seen[n] = 1;
        cr_assert_gt(n, last, "event %" PRId64 " after %" PRId64, n, last);
        last = n;
        events++;
    }
    cr_assert_eq(events, 3000);
    fx_rows_free(&rows);
    cr_assert_eq(fx_file_size(fx_journal), 0);
    vr = fx_verify(fx_key, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
    free(seen);
}
BOTH(sigkill_with_the_writer_running_loses_no_recorded_event)

static void journal_skips_torn_and_damaged_lines_and_what_is_stored_already(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    struct audit_verify_report vr;
    char journal[8192];
    struct audit *a;

    /* Three events stored by a clean run. */
    a = fx_open(&cfg);
    for (int i = 0; i < 3; i++)
        audit_record(a, fx_event(i));
    fx_flush(a);
    fx_rows_read(&rows);
    cr_assert_eq(rows.n, 3);
    audit_close(a);
    /*
     * A journal such as a crash between the commit and the truncation leaves, and worse: the
     * stored events again (seq and all), a line that is not JSON, objects without an id or a
     * type, two new events, and a last line cut off by the crash.
     */
    snprintf(
        journal, sizeof journal,
        "%s\n%s\n"
        "not json at all\n"
        "{\"type\":\"tool.call\",\"n\":90}\n"
        "{\"id\":\"j-no-type\",\"n\":91}\n"
        "[1,2,3]\n"
        "{\"type\":\"tool.call\",\"id\":\"j-1\",\"n\":3,\"time\":\"2021-05-06T07:08:09.010Z\"}\n"
        "%s\n"
        "{\"type\":\"tool.call\",\"id\":\"j-2\",\"n\":4}\n"
        "{\"type\":\"tool.call\",\"id\":\"j-3\",\"n\":5,\"ti",
        rows.v[0].doc_text, rows.v[1].doc_text, rows.v[2].doc_text);
    fx_rows_free(&rows);
    fx_file_write(fx_journal, journal);

    a = fx_open(&cfg);
    fx_rows_read(&rows);
    /* 3 events, the checkpoint of the close, then j-1 and j-2 only. */
    cr_assert_eq(rows.n, 6);
    cr_assert_str_eq(rows.v[4].event_id, "j-1");
    cr_assert_eq(rows.v[4].time_ms, 1620284889010LL);
    cr_assert_eq(event_n(&rows.v[4]), 3);
    cr_assert_str_eq(rows.v[5].event_id, "j-2");
    cr_assert_eq(event_n(&rows.v[5]), 4);
    fx_chain_check(&rows, fx_key);
    fx_rows_free(&rows);
    cr_assert_eq(fx_file_size(fx_journal), 0, "the journal is emptied once stored");
    audit_close(a);
    vr = fx_verify(fx_key, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
}
BOTH(journal_skips_torn_and_damaged_lines_and_what_is_stored_already)

static void journal_lines_the_log_could_not_keep_whole_are_skipped(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    struct audit_verify_report vr;
    char journal[4096], long_id[41], long_type[33];
    struct audit *a;

    /*
     * Lines audit_record never writes: an id or a type longer than its column (stored cut, it
     * would no longer match its document and verify would fail at it for ever), an empty id, a
     * checkpoint (the writer stores those, it never journals them), and one event twice (a
     * second insert of its id would fail the whole recovery, and the server would not start).
     */
    memset(long_id, 'i', 40);
    long_id[40] = '\0';
    memset(long_type, 't', 32);
    long_type[32] = '\0';
    snprintf(journal, sizeof journal,
             "{\"type\":\"tool.call\",\"id\":\"%s\",\"n\":90}\n"
             "{\"type\":\"%s\",\"id\":\"j-long-type\",\"n\":91}\n"
             "{\"type\":\"tool.call\",\"id\":\"\",\"n\":92}\n"
             "{\"type\":\"tool.call\",\"id\":\"j-1\",\"n\":0}\n"
             "{\"type\":\"audit.checkpoint\",\"id\":\"j-cp\",\"checkpoint\":{\"seq\":1,"
             "\"hash\":\"00\"},\"mac\":null,\"n\":93}\n"
             "{\"type\":\"tool.call\",\"id\":\"j-2\",\"n\":1}\n"
             "{\"type\":\"tool.call\",\"id\":\"j-1\",\"n\":0}\n",
             long_id, long_type);
    fx_file_write(fx_journal, journal);
    a = fx_open(&cfg);
    fx_rows_read(&rows);
    cr_assert_eq(rows.n, 2);
    cr_assert_str_eq(rows.v[0].event_id, "j-1");
    cr_assert_str_eq(rows.v[1].event_id, "j-2");
    fx_chain_check(&rows, fx_key);
    fx_rows_free(&rows);
    cr_assert_eq(fx_file_size(fx_journal), 0);
    audit_close(a);
    vr = fx_verify(fx_key, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
    cr_assert_eq(vr.events, 3);
}
BOTH(journal_lines_the_log_could_not_keep_whole_are_skipped)

static void journal_of_stored_events_only_is_reset(void)
{
    struct audit_config cfg = fx_config();
    struct fx_rows rows;
    char journal[4096];
    struct audit *a = fx_open(&cfg);

    audit_record(a, fx_event(0));
    audit_close(a);
    fx_rows_read(&rows);
    snprintf(journal, sizeof journal, "%s\n", rows.v[0].doc_text);
    fx_rows_free(&rows);
    fx_file_write(fx_journal, journal);
    a = fx_open(&cfg);
    cr_assert_eq(fx_count(), 2);
    cr_assert_eq(fx_file_size(fx_journal), 0);
    audit_close(a);
    cr_assert_eq(fx_count(), 2, "nothing new: no checkpoint either");
}
BOTH(journal_of_stored_events_only_is_reset)

static void two_logs_on_one_journal_path_take_two_slots(void)
{
    struct audit_config cfg = fx_config();
    char j1[200], a1[200];
    json_t *lines[4];
    struct audit_verify_report vr;
    struct audit *first, *second, *third;
    char *anchor;
    json_t *aj;

    snprintf(j1, sizeof j1, "%s.1", fx_journal);
    snprintf(a1, sizeof a1, "%s.1", fx_anchor);
    first = fx_open(&cfg);
    second = fx_open(&cfg);
    cr_assert_geq(fx_file_size(j1), 0, "the second log did not take %s", j1);
    audit_record(first, fx_event(0));
    audit_record(second, fx_event(1));
    audit_record(second, fx_event(2));
    /* Each journal holds its own log's events only. */
    cr_assert_eq(journal_lines(fx_journal, lines, 4), 1);
    cr_assert_eq(json_integer_value(json_object_get(lines[0], "n")), 0);
    json_decref(lines[0]);
    cr_assert_eq(journal_lines(j1, lines, 4), 2);
    cr_assert_eq(json_integer_value(json_object_get(lines[0], "n")), 1);
    json_decref(lines[0]);
    json_decref(lines[1]);

    /* The first slot is free again once its log is closed; the second is still taken. */
    audit_close(first);
    third = fx_open(&cfg);
    audit_record(third, fx_event(3));
    cr_assert_eq(journal_lines(fx_journal, lines, 4), 1);
    cr_assert_eq(json_integer_value(json_object_get(lines[0], "n")), 3);
    json_decref(lines[0]);
    {
        char j2[200];
        snprintf(j2, sizeof j2, "%s.2", fx_journal);
        cr_assert_eq(fx_file_size(j2), -1, "a third slot was taken while the first was free");
    }
    audit_close(third);
    audit_close(second);

    /* Each slot has its anchor, and both logs wrote one chain. */
    anchor = fx_file_read(a1);
    cr_assert_not_null(anchor, "no anchor at %s", a1);
    aj = json_loads(anchor, 0, NULL);
    cr_assert(json_is_object(aj));
    cr_assert_eq(json_integer_value(json_object_get(aj, "checkpoint_seq")), fx_count());
    json_decref(aj);
    free(anchor);
    cr_assert_geq(fx_file_size(fx_anchor), 1);
    vr = fx_verify(fx_key, fx_anchor);
    cr_assert(vr.ok, "%s", vr.problem);
    cr_assert_eq(vr.events, fx_count());
    {
        struct fx_rows rows;
        fx_rows_read(&rows);
        fx_chain_check(&rows, fx_key);
        fx_rows_free(&rows);
    }
}
BOTH(two_logs_on_one_journal_path_take_two_slots)

static void all_slots_taken_is_a_clear_error(void)
{
    struct audit_config cfg = fx_config();
    struct audit *logs[AUDIT_SLOTS], *extra = NULL;
    struct md_error e = {0};

    for (int i = 0; i < AUDIT_SLOTS; i++)
        logs[i] = fx_open(&cfg);
    cr_assert_eq(audit_open(&cfg, &extra, &e), MD_ERR_UNAVAILABLE);
    cr_assert_null(extra);
    cr_assert_not_null(strstr(e.msg, "slots"), "%s", e.msg);
    for (int i = 0; i < AUDIT_SLOTS; i++)
        audit_close(logs[i]);
    cr_assert_eq(fx_count(), 0);
}
Test(test_writer, sqlite_all_slots_taken_is_a_clear_error, .init = fx_sq_setup,
     .fini = fx_sq_teardown)
{
    all_slots_taken_is_a_clear_error();
}

Test(test_writer, sqlite_unusable_journal_path_fails_the_open, .init = fx_sq_setup,
     .fini = fx_sq_teardown)
{
    struct audit_config cfg = fx_config();
    struct audit *a = NULL;
    struct md_error e = {0};
    char bad[200];

    snprintf(bad, sizeof bad, "%s/no/such/dir/audit.journal", fx_dir);
    cfg.journal_path = bad;
    cr_assert_eq(audit_open(&cfg, &a, &e), MD_ERR_IO);
    cr_assert_null(a);
    cr_assert_not_null(strstr(e.msg, "journal"), "%s", e.msg);
}
