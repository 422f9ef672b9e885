/*
 * The change feed of the SQLite backend (store.h, feed.c) across processes. Within one process,
 * feed.c tells the subscribers of every commit. Another process on the same file (the CLI's
 * `mandate catalog load` or `mandate token revoke` while a server runs) commits without this
 * process hearing of it, so every announcing transaction also increments the single-row counter
 * feed_counter.seq, and a poller thread reads it every SQ_POLL_MS: when it grew by more than
 * this process's own commits account for, another process wrote, and "everything changed" is
 * published, as PostgreSQL's listener does after a gap.
 *
 * Accounting: announce adds one to own_unseen before the commit; the poller takes from it at
 * most the growth it sees. A foreign commit that coincides with an own commit still in flight
 * may be taken for it, and is then noticed one poll later, when the own commit shows: the delay
 * is bounded by two poll periods. A failed commit gives its count back and publishes
 * "everything", since a foreign commit may have been taken for it.
 */
#include "store/sqlite_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define SQ_POLL_MS 250

static const struct store_change change_all = {STORE_CHANGE_ALL, ""};

static enum md_err read_seq(sqlite3 *db, int64_t *seq, struct md_error *e)
{
    sqlite3_stmt *st = NULL;
    enum md_err err = MD_OK;
    int rc = sqlite3_prepare_v2(db, "SELECT seq FROM feed_counter WHERE id = 1", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    else
        err = sqlite__fail(db, rc, "feed counter", e);
    sqlite3_finalize(st);
    return err;
}

enum md_err sqlite__announce(struct store_conn *bc, const struct store_change *ch, size_t n,
                             struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    struct sq_store *ss = bc->store->impl;
    enum md_err err;

    (void)ch;
    (void)n;
    err = sqlite__run2(c, Q_FEED_BUMP, NULL, NULL, NULL, NULL, e);
    if (err) {
        /* As a failed commit: the transaction is over. */
        sqlite__rollback(bc);
        return err;
    }
    atomic_fetch_add(&ss->own_unseen, 1);
    c->announced = true;
    return MD_OK;
}

void sqlite__commit_done(struct store_conn *bc, bool ok)
{
    struct sq_conn *c = sqlite__conn(bc);
    struct sq_store *ss = bc->store->impl;

    if (!c->announced)
        return;
    c->announced = false;
    if (!ok) {
        atomic_fetch_sub(&ss->own_unseen, 1);
        store__publish(bc->store, &change_all, 1);
    }
}

/* Takes up to delta from own_unseen; returns what it took. */
static int64_t take_own(struct sq_store *ss, int64_t delta)
{
    int64_t have = atomic_load(&ss->own_unseen);
    int64_t take;

    do {
        take = have < delta ? have : delta;
        if (take <= 0)
            return 0;
    } while (!atomic_compare_exchange_weak(&ss->own_unseen, &have, have - take));
    return take;
}

static void *poller(void *arg)
{
    struct store *s = arg;
    struct sq_store *ss = s->impl;
    sqlite3 *db = NULL;
    struct md_error e;

    pthread_mutex_lock(&ss->mu);
    while (!ss->stop) {
        struct timespec until;
        int64_t seq;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SQ_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!ss->stop && pthread_cond_timedwait(&ss->cv, &ss->mu, &until) != ETIMEDOUT)
            ;
        if (ss->stop)
            break;
        pthread_mutex_unlock(&ss->mu);
        if (!db && sqlite3_open_v2(ss->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                   NULL) != SQLITE_OK) {
            sqlite3_close(db);
            db = NULL;
        }
        md_error_clear(&e);
        if (db && read_seq(db, &seq, &e) == MD_OK) {
            int64_t delta = seq - ss->last_seq;
            /* A counter that went back: the file was replaced. Everything may differ. */
            if (delta < 0 || delta > take_own(ss, delta)) {
                log_info("event=store_foreign_change seq=%lld", (long long)seq);
                store__publish(s, &change_all, 1);
            }
            ss->last_seq = seq;
        }
        pthread_mutex_lock(&ss->mu);
    }
    pthread_mutex_unlock(&ss->mu);
    sqlite3_close(db);
    return NULL;
}

enum md_err sqlite__feed_start(struct store *s, sqlite3 *db, struct md_error *e)
{
    struct sq_store *ss = s->impl;
    pthread_condattr_t ca;
    enum md_err err;

    err = read_seq(db, &ss->last_seq, e);
    if (err)
        return err;
    pthread_mutex_init(&ss->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ss->cv, &ca);
    pthread_condattr_destroy(&ca);
    ss->sync_init = true;
    if (pthread_create(&ss->thread, NULL, poller, s) != 0)
        return md_error_set(e, MD_ERR_INTERNAL, "cannot start the change feed's poller");
    ss->started = true;
    return MD_OK;
}

void sqlite__feed_stop(struct store *s)
{
    struct sq_store *ss = s->impl;

    if (ss->started) {
        pthread_mutex_lock(&ss->mu);
        ss->stop = true;
        pthread_cond_signal(&ss->cv);
        pthread_mutex_unlock(&ss->mu);
        pthread_join(ss->thread, NULL);
        ss->started = false;
    }
    if (ss->sync_init) {
        pthread_cond_destroy(&ss->cv);
        pthread_mutex_destroy(&ss->mu);
        ss->sync_init = false;
    }
}
