/*
 * The change feed of the PostgreSQL backend (store.h, feed.c): how the nodes that share one
 * database hear each other's changes.
 *
 * Announcing: store_commit calls pg__announce inside the transaction, just before COMMIT. One
 * statement increments the single-row counter mandate_changes.seq and sends
 * pg_notify('mandate_changes', "<node> <seq> <changes>"), so that both happen if and only if
 * the transaction commits. The counter's row lock makes announcing transactions commit one
 * after another, so sequence numbers reach listeners in order, without gaps. Changes are
 * written " K:id" (K: U user, G group, M members, T token, N nesting, O access object, A
 * everything; an id is at most 95 bytes, "<table>/<id>" for an access object), the id
 * percent-escaped where it has spaces, controls or '%'; a payload that would pass
 * PG_PAYLOAD_MAX bytes (PostgreSQL's limit is 8000) is sent as " A:" instead. A node that
 * reads a letter it does not know takes it as "everything", so later kinds stay compatible.
 *
 * Listening: each struct store runs one listener thread with its own connection
 * (application_name mandate-listener), LISTENing on the channel. Notifications from other
 * nodes are published to this node's subscribers; this node's own are skipped, as feed.c told
 * the subscribers at commit. Notifications are not guaranteed to arrive (a listener that
 * reconnects misses what was sent meanwhile), so the same loop polls the counter every
 * PG_POLL_MS and publishes "everything" when:
 *  - a notification's sequence number skips one (a notification was lost);
 *  - the counter is ahead of the notifications on two polls in a row (the first may just
 *    have seen a commit whose notification is on its way), which bounds the staleness of a
 *    lost notification to about two poll periods, well under a second;
 *  - the counter went backwards (the database was restored or recreated);
 *  - the listener has just connected or reconnected.
 * The loop waits with poll() on the connection's socket and a pipe, so that store_close
 * stops it at once; connecting and queries are asynchronous for the same reason.
 */
#include "store/pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "core/time.h"

#define PG_PAYLOAD_MAX 7000
/* How often the listener reads the counter, and waits between failed connection attempts. */
#define PG_POLL_MS 250
#define PG_RETRY_MS 250
/* How long the listener waits for a connection or an answer before it gives up on it. */
#define PG_LISTEN_TIMEOUT_MS 2000
/* How long store_open waits for the listener's first connection. */
#define PG_READY_WAIT_MS 5000

/* ---- announcing ---- */

static char kind_letter(enum store_change_kind k)
{
    switch (k) {
    case STORE_CHANGE_USER:
        return 'U';
    case STORE_CHANGE_GROUP:
        return 'G';
    case STORE_CHANGE_MEMBERS:
        return 'M';
    case STORE_CHANGE_TOKEN:
        return 'T';
    case STORE_CHANGE_NESTING:
        return 'N';
    case STORE_CHANGE_OBJECT:
        return 'O';
    default:
        return 'A';
    }
}

/* The changes as " K:id ..." into b; false when they are to be sent as everything. */
static bool encode_changes(struct buf *b, const struct store_change *ch, size_t n)
{
    size_t i;
    const char *p;

    for (i = 0; i < n; i++) {
        char k = kind_letter(ch[i].kind);

        if (k == 'A')
            return false;
        buf_appendf(b, " %c:", k);
        for (p = ch[i].id; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c <= 0x20 || c == 0x7f || c == '%')
                buf_appendf(b, "%%%02X", c);
            else
                buf_append_char(b, (char)c);
        }
        if (b->err || b->len > PG_PAYLOAD_MAX)
            return false;
    }
    return true;
}

/*
 * Runs only as the first step of a commit (store_commit), so when it fails the commit has
 * failed: the transaction is rolled back here, as a failed commit is, and the connection is
 * clean for its next user.
 */
enum md_err pg__announce(struct store_conn *bc, const struct store_change *ch, size_t n,
                         struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    const char *args[2];
    PGresult *res = NULL;
    struct buf b;
    enum md_err err;

    buf_init(&b, PG_PAYLOAD_MAX + 1024);
    if (!encode_changes(&b, ch, n)) {
        buf_reset(&b);
        buf_append_cstr(&b, " A:");
    }
    if (b.err) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    args[0] = c->ps->node;
    args[1] = b.p;
    err = pg__exec(c, P_ANNOUNCE, args, 2, &res, e);
    if (!err && PQntuples(res) != 1)
        err = md_error_set(e, MD_ERR_IO, "the change counter is missing");
out:
    PQclear(res);
    buf_free(&b);
    if (err)
        pg__rollback(bc);
    return err;
}

/* ---- listening ---- */

struct lsn {
    struct store *s;
    struct pg_store *ps;
    PGconn *db;
    uint64_t last;    /* the highest sequence number accounted for */
    uint64_t suspect; /* the counter, when the last poll found it ahead; 0: not ahead */
    int64_t next_poll;
    bool failing; /* the last connection attempt failed (and was logged) */
    bool stop;
};

static void publish_all(struct lsn *l)
{
    static const struct store_change all = {STORE_CHANGE_ALL, ""};
    store__publish(l->s, &all, 1);
}

/*
 * Waits until the socket is ready for events (sock < 0: only sleeps), the wake pipe is
 * written, or ms pass: 1 ready, 0 timed out, -1 stop (l->stop is set).
 */
static int wait_for(struct lsn *l, int sock, short events, int64_t ms)
{
    struct pollfd p[2] = {{.fd = l->ps->wake[0], .events = POLLIN}, {.fd = sock, .events = events}};
    int rc = poll(p, sock >= 0 ? 2 : 1, ms < 0 ? 0 : (int)(ms > INT_MAX ? INT_MAX : ms));

    if (rc < 0)
        return errno == EINTR ? 0 : (l->stop = true, -1);
    if (p[0].revents) {
        l->stop = true;
        return -1;
    }
    return rc > 0 ? 1 : 0;
}

static void lsn_drop(struct lsn *l)
{
    PQfinish(l->db);
    l->db = NULL;
}

/* Connects without blocking the stop; false on failure (logged once per outage). */
static bool lsn_connect(struct lsn *l)
{
    const char *keys[PG_CONN_PARAMS], *vals[PG_CONN_PARAMS];
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int64_t deadline = time_mono_ms() + PG_LISTEN_TIMEOUT_MS;

    pg__conn_params(l->ps, "mandate-listener", keys, vals);
    l->db = PQconnectStartParams(keys, vals, 1);
    if (!l->db || PQstatus(l->db) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    else
        pg__quiet(l->ps, l->db);
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int w = wait_for(l, PQsocket(l->db), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                         deadline - time_mono_ms());
        if (w < 0)
            break;
        if (w == 0) {
            st = PGRES_POLLING_FAILED;
            break;
        }
        st = PQconnectPoll(l->db);
    }
    if (st == PGRES_POLLING_OK)
        return true;
    if (!l->stop && !l->failing)
        pg__log_libpq(l->ps, "pg_listener_connect_failed",
                      l->db ? PQerrorMessage(l->db) : "out of memory");
    l->failing = true;
    lsn_drop(l);
    return false;
}

/* Sends sql and waits for its result without blocking the stop; NULL when the connection
 * failed, timed out or the listener is stopping. */
static PGresult *lsn_query(struct lsn *l, const char *sql)
{
    int64_t deadline = time_mono_ms() + PG_LISTEN_TIMEOUT_MS;
    PGresult *r, *last = NULL;

    if (!PQsendQuery(l->db, sql))
        return NULL;
    while (PQisBusy(l->db)) {
        if (wait_for(l, PQsocket(l->db), POLLIN, deadline - time_mono_ms()) <= 0 ||
            !PQconsumeInput(l->db))
            return NULL;
    }
    while ((r = PQgetResult(l->db)) != NULL) {
        PQclear(last);
        last = r;
    }
    return last;
}

/* The counter's value, by a query; false when it cannot be read. */
static bool lsn_read_seq(struct lsn *l, uint64_t *seq)
{
    PGresult *r = lsn_query(l, "SELECT seq FROM mandate_changes WHERE id = 1");
    int64_t v = 0;
    bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
              pg__get_i64(r, 0, 0, &v) && v >= 0;

    PQclear(r);
    *seq = (uint64_t)v;
    return ok;
}

/* Decodes one " K:id" entry's id (from p to end) into ch; false when it is not well formed. */
static bool decode_id(const char *p, const char *end, struct store_change *ch)
{
    size_t n = 0;

    for (; p < end; p++) {
        char c = *p;
        if (c == '%') {
            if (end - p < 3 || str_hex_digit(p[1]) < 0 || str_hex_digit(p[2]) < 0)
                return false;
            c = (char)(str_hex_digit(p[1]) * 16 + str_hex_digit(p[2]));
            p += 2;
        }
        if (n + 1 >= sizeof ch->id)
            return false;
        ch->id[n++] = c;
    }
    ch->id[n] = '\0';
    return n > 0;
}

/* Publishes the changes of a payload's tail; everything when one cannot be read. */
static void publish_changes(struct lsn *l, const char *p)
{
    struct store_change *ch;
    size_t n = 0, cap = 1;
    const char *q;

    for (q = p; *q; q++)
        cap += *q == ' ';
    ch = calloc(cap, sizeof *ch);
    if (!ch) {
        publish_all(l);
        return;
    }
    while (*p == ' ') {
        const char *end = strchr(p + 1, ' ');

        if (!end)
            end = p + strlen(p);
        if (end - p < 4 || p[2] != ':' || n == cap || !decode_id(p + 3, end, &ch[n]))
            goto all;
        switch (p[1]) {
        case 'U':
            ch[n].kind = STORE_CHANGE_USER;
            break;
        case 'G':
            ch[n].kind = STORE_CHANGE_GROUP;
            break;
        case 'M':
            ch[n].kind = STORE_CHANGE_MEMBERS;
            break;
        case 'T':
            ch[n].kind = STORE_CHANGE_TOKEN;
            break;
        case 'N':
            ch[n].kind = STORE_CHANGE_NESTING;
            break;
        case 'O':
            ch[n].kind = STORE_CHANGE_OBJECT;
            break;
        default:
            goto all;
        }
        n++;
        p = end;
    }
    if (*p)
        goto all;
    store__publish(l->s, ch, n);
    free(ch);
    return;
all:
    free(ch);
    publish_all(l);
}

/* One notification: "<node> <seq> <changes>". */
static void lsn_handle(struct lsn *l, const char *payload)
{
    const char *sp = strchr(payload, ' ');
    const char *tail;
    long long seq = 0;

    if (!sp || (size_t)(sp - payload) != PG_NODE_LEN)
        goto malformed;
    tail = strchr(sp + 1, ' ');
    if (!tail || !str_to_ll(sp + 1, (size_t)(tail - sp - 1), 1, LLONG_MAX, &seq))
        goto malformed;
    if ((uint64_t)seq > l->last + 1) {
        log_warn("event=pg_feed_gap last=%llu seq=%lld msg=\"a change notification was lost\"",
                 (unsigned long long)l->last, seq);
        publish_all(l);
    } else if (strncmp(payload, l->ps->node, PG_NODE_LEN) != 0) {
        publish_changes(l, tail);
    }
    if ((uint64_t)seq > l->last)
        l->last = (uint64_t)seq;
    return;
malformed:
    publish_all(l);
}

static void lsn_notifies(struct lsn *l)
{
    PGnotify *n;

    while ((n = PQnotifies(l->db)) != NULL) {
        if (!atomic_load(&l->ps->mute))
            lsn_handle(l, n->extra);
        PQfreemem(n);
    }
}

/* The fallback: compares the counter with the notifications heard; false when it failed. */
static bool lsn_poll(struct lsn *l)
{
    uint64_t cur;

    if (!lsn_read_seq(l, &cur))
        return false;
    lsn_notifies(l);
    if (cur < l->last) {
        log_warn("event=pg_feed_reset msg=\"the change counter went backwards\"");
        publish_all(l);
        l->last = cur;
        l->suspect = 0;
    } else if (cur == l->last) {
        l->suspect = 0;
    } else if (l->suspect && l->last < l->suspect) {
        log_warn("event=pg_feed_fallback last=%llu seq=%llu msg=\"changes without "
                 "notifications\"",
                 (unsigned long long)l->last, (unsigned long long)cur);
        publish_all(l);
        l->last = cur;
        l->suspect = 0;
    } else {
        l->suspect = cur;
    }
    return true;
}

/* After connecting: LISTEN, read the counter, and tell everything (anything may have been
 * missed while not listening). */
static bool lsn_start(struct lsn *l)
{
    PGresult *r = lsn_query(l, "LISTEN " PG_CHANNEL);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;

    PQclear(r);
    if (!ok || !lsn_read_seq(l, &l->last))
        return false;
    l->suspect = 0;
    l->next_poll = time_mono_ms() + PG_POLL_MS;
    if (l->failing)
        log_info("event=pg_listener_connected");
    l->failing = false;
    atomic_fetch_add(&l->ps->connects, 1);
    publish_all(l);
    return true;
}

static void lsn_ready(struct pg_store *ps)
{
    pthread_mutex_lock(&ps->mu);
    ps->ready = true;
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
}

static void *lsn_main(void *arg)
{
    struct lsn l = {.s = arg};

    l.ps = l.s->impl;
    while (!l.stop) {
        int w;

        if (!l.db) {
            bool up = lsn_connect(&l) && lsn_start(&l);

            lsn_ready(l.ps);
            if (!up) {
                lsn_drop(&l);
                if (l.stop || wait_for(&l, -1, 0, PG_RETRY_MS) < 0)
                    break;
                continue;
            }
        }
        w = wait_for(&l, PQsocket(l.db), POLLIN, l.next_poll - time_mono_ms());
        if (w < 0)
            break;
        if (w > 0) {
            if (!PQconsumeInput(l.db) || PQstatus(l.db) != CONNECTION_OK) {
                pg__log_libpq(l.ps, "pg_listener_lost", PQerrorMessage(l.db));
                lsn_drop(&l);
                continue;
            }
            lsn_notifies(&l);
        }
        if (time_mono_ms() >= l.next_poll) {
            if (!lsn_poll(&l)) {
                if (!l.stop)
                    pg__log_libpq(l.ps, "pg_listener_lost", PQerrorMessage(l.db));
                lsn_drop(&l);
                continue;
            }
            l.next_poll = time_mono_ms() + PG_POLL_MS;
        }
    }
    lsn_drop(&l);
    lsn_ready(l.ps);
    return NULL;
}

/*
 * Starts the listener and waits (a bounded time) for its first connection attempt, so that a
 * store that opened hears every change committed after store_open returned. Signals are
 * blocked in the thread, so that the program's handlers run on its own threads.
 */
enum md_err pg__feed_start(struct store *s, struct md_error *e)
{
    struct pg_store *ps = s->impl;
    sigset_t all, old;
    struct timespec ts;
    int rc;

    if (pipe2(ps->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        ps->wake[0] = ps->wake[1] = -1;
        return md_error_set(e, MD_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&ps->thread, NULL, lsn_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(ps->wake[0]);
        close(ps->wake[1]);
        ps->wake[0] = ps->wake[1] = -1;
        return md_error_set(e, MD_ERR_INTERNAL, "cannot start the change listener");
    }
    ps->thread_started = true;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += PG_READY_WAIT_MS / 1000;
    pthread_mutex_lock(&ps->mu);
    while (!ps->ready && pthread_cond_timedwait(&ps->cv, &ps->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&ps->mu);
    return MD_OK;
}

void pg__feed_stop(struct store *s)
{
    struct pg_store *ps = s->impl;
    ssize_t w;

    if (!ps)
        return;
    if (ps->thread_started) {
        do
            w = write(ps->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(ps->thread, NULL);
        ps->thread_started = false;
    }
    if (ps->wake[0] >= 0)
        close(ps->wake[0]);
    if (ps->wake[1] >= 0)
        close(ps->wake[1]);
    ps->wake[0] = ps->wake[1] = -1;
}

void pg__test_mute(struct store *s, bool mute)
{
    struct pg_store *ps = s->impl;
    atomic_store(&ps->mute, mute);
}

int pg__test_connects(struct store *s)
{
    struct pg_store *ps = s->impl;
    return atomic_load(&ps->connects);
}
