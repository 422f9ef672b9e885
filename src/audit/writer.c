/*
 * The writer: audit_record journals and queues; one thread commits the queue in groups, chains
 * each event to the one before, adds checkpoints, and empties the journal once everything in
 * it is stored (audit.h says why).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "core/crypto.h"
#include "core/hmap.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "store/store.h"

/* How long audit_flush waits for the writer before it gives up with MD_ERR_UNAVAILABLE. */
#define FLUSH_TIMEOUT_MS 30000
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

/*
 * A recorded event, serialised once by its recorder: line is the event (without "seq"), its
 * members in the order they were set and no spaces (the chain hashes the stored bytes, whatever
 * their order, so sorting would only cost), the journal's line and, with "seq" put in front,
 * the stored document.
 */
struct pending {
    struct pending *next;
    char *line;
    size_t len; /* of line */
    char type[32];
    char id[40];
    int64_t time_ms;
    bool journaled; /* in the journal file, so that storing it lets the journal shrink */
};

struct audit {
    struct store *store;
    unsigned char key[AUDIT_KEY_LEN];
    bool has_key;
    char *anchor_path;
    int jfd; /* the journal, or -1 */
    int checkpoint_every;
    int checkpoint_ms;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* the writer: events queued, or stop */
    pthread_cond_t done; /* flushers and a full queue: events stored */
    struct pending *head, *tail;
    size_t nqueued;
    uint64_t tickets;   /* events recorded so far: the ticket of the last one */
    uint64_t stored_tk; /* every ticket up to this one is stored */
    uint64_t journal_n; /* journaled events not yet stored */
    /* Recorders between their journal write and enqueue: the journal must not be emptied. */
    _Atomic uint64_t journal_inflight;
    char id_prefix[17]; /* random per process: ids are prefix-counter */
    _Atomic uint64_t id_counter;
    bool stop, thread_started;
    int flushers; /* audit_flush callers waiting: the writer does not linger */
    pthread_t thread;

    /* The writer's own (only it touches them, under mu when others read them). */
    int since_checkpoint;
    int64_t last_checkpoint_mono;
    int64_t last_seq;

    _Atomic uint64_t n_recorded, n_stored, n_batches, n_failures;
};

/* Gives ev an "id" (unless it has one) and a "time" (unless it has a valid one). */
static void fill_id_time(struct audit *a, json_t *ev, int64_t *time_ms)
{
    char id[40], t[TIME_RFC3339_LEN];
    const char *given = json_string_value(json_object_get(ev, "time"));

    if (!json_string_value(json_object_get(ev, "id"))) {
        /* Unique without a system call: a random prefix per process and a counter. */
        snprintf(id, sizeof id, "%s-%012" PRIx64, a->id_prefix,
                 atomic_fetch_add(&a->id_counter, 1) + 1);
        json_object_set_new(ev, "id", json_string(id));
    }
    if (!given || !time_parse_rfc3339(given, time_ms)) {
        *time_ms = time_now_ms();
        time_format_ms(*time_ms, t);
        json_object_set_new(ev, "time", json_string(t));
    }
}

/*
 * A pending event for ev (which it keeps nothing of): id and time filled in, serialised.
 * NULL when out of memory or when its type or id cannot be stored whole.
 */
static struct pending *pending_of(struct audit *a, json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *id;
    struct pending *p;

    if (!type || strlen(type) >= sizeof p->type)
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    json_object_del(ev, "seq");
    fill_id_time(a, ev, &p->time_ms);
    id = json_string_value(json_object_get(ev, "id"));
    if (!id || !id[0] || strlen(id) >= sizeof p->id ||
        !(p->line = json_text(ev, JSON_COMPACT | JSON_ENSURE_ASCII, &p->len))) {
        free(p);
        return NULL;
    }
    snprintf(p->type, sizeof p->type, "%s", type);
    snprintf(p->id, sizeof p->id, "%s", id);
    return p;
}

static void pending_free(struct pending *p)
{
    if (p) {
        free(p->line);
        free(p);
    }
}

/*
 * Appends the line to the journal with one writev(2) (O_APPEND: whole lines, whatever other
 * recorders do meanwhile); false when it could not.
 */
static bool journal_append(struct audit *a, const char *line, size_t len)
{
    struct iovec iov[2] = {{(void *)(uintptr_t)line, len}, {(void *)(uintptr_t) "\n", 1}};
    ssize_t w;

    if (a->jfd < 0)
        return false;
    w = writev(a->jfd, iov, 2);
    if (w != (ssize_t)(iov[0].iov_len + 1)) {
        log_error("event=audit_journal_failed error=\"%s\"",
                  w < 0 ? strerror(errno) : "short write");
        return false;
    }
    return true;
}

/* Queues p; with mu held. */
static void enqueue(struct audit *a, struct pending *p)
{
    if (a->tail)
        a->tail->next = p;
    else
        a->head = p;
    a->tail = p;
    a->nqueued++;
    a->tickets++;
    if (p->journaled)
        a->journal_n++;
}

/* Journals p and queues it for the writer (which owns it from here). */
static void submit(struct audit *a, struct pending *p)
{
    atomic_fetch_add(&a->n_recorded, 1);
    atomic_fetch_add(&a->journal_inflight, 1);
    p->journaled = journal_append(a, p->line, p->len);
    pthread_mutex_lock(&a->mu);
    /* A database outage long enough to fill the queue holds callers back rather than drop. */
    while (a->nqueued >= AUDIT_QUEUE_MAX && a->thread_started && !a->stop)
        pthread_cond_wait(&a->done, &a->mu);
    enqueue(a, p);
    atomic_fetch_sub(&a->journal_inflight, 1);
    /* Only the first event of a group wakes the writer: the others find it lingering. */
    if (a->nqueued == 1)
        pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->mu);
}

/* ev serialised as a pending event (the reference is released), or NULL, logged as lost. */
static struct pending *prepare(struct audit *a, json_t *ev)
{
    struct pending *p;

    if (!ev || !json_is_object(ev)) {
        json_decref(ev);
        return NULL;
    }
    /* The costly part, serialising (and then the journal's write), holds no lock. */
    p = pending_of(a, ev);
    if (!p)
        log_error("event=audit_lost reason=unstorable_or_out_of_memory type=%s",
                  json_string_value(json_object_get(ev, "type")));
    json_decref(ev);
    return p;
}

void audit_record(struct audit *a, json_t *ev)
{
    struct pending *p;

    if (!a) {
        json_decref(ev);
        return;
    }
    if ((p = prepare(a, ev)))
        submit(a, p);
}

struct audit_draft {
    struct pending *p;
};

struct audit_draft *audit_draft_new(struct audit *a, json_t *ev)
{
    struct audit_draft *d;
    struct pending *p;

    if (!a) {
        json_decref(ev);
        return NULL;
    }
    if (!(p = prepare(a, ev)))
        return NULL;
    if (!(d = malloc(sizeof *d))) {
        log_error("event=audit_lost reason=out_of_memory type=%s", p->type);
        pending_free(p);
        return NULL;
    }
    d->p = p;
    return d;
}

/*
 * The draft's line with more's members after its own: "{a...}" and "{b...}" make "{a...,b...}".
 * False when out of memory or when more is not an object (the line is then left as it was).
 */
static bool draft_extend(struct pending *p, const json_t *more)
{
    char *tail, *line;
    size_t n, m;

    if (!json_is_object(more))
        return false;
    if (json_object_size(more) == 0)
        return true;
    if (!(tail = json_text(more, JSON_COMPACT | JSON_ENSURE_ASCII, &m)))
        return false;
    n = p->len;
    /* pending_of's line is an object; one with no members takes no comma. */
    line = n >= 2 && p->line[n - 1] == '}' ? realloc(p->line, n + m + 1) : NULL;
    if (line) {
        size_t at = n - 1;
        if (at > 1)
            line[at++] = ',';
        memcpy(line + at, tail + 1, m); /* more's members and its '}', and the NUL */
        p->line = line;
        p->len = at + m - 1;
    }
    free(tail);
    return line != NULL;
}

void audit_draft_record(struct audit *a, struct audit_draft *d, json_t *more)
{
    struct pending *p;

    if (!d) {
        json_decref(more);
        return;
    }
    p = d->p;
    free(d);
    if (more && !draft_extend(p, more))
        log_error("event=audit_incomplete reason=out_of_memory type=%s id=%s", p->type, p->id);
    json_decref(more);
    if (a)
        submit(a, p);
    else
        pending_free(p);
}

void audit_draft_discard(struct audit_draft *d)
{
    if (d) {
        pending_free(d->p);
        free(d);
    }
}

/* A checkpoint event vouching for (seq, hash), the last event stored before it; *mac gets it. */
static struct pending *checkpoint_event(struct audit *a, int64_t seq, const char *hash,
                                        char mac[65])
{
    json_t *ev = json_pack("{s:s, s:{s:I, s:s}}", "type", AUDIT_TYPE_CHECKPOINT, "checkpoint",
                           "seq", (json_int_t)seq, "hash", hash);
    struct pending *p;

    mac[0] = '\0';
    if (!ev)
        return NULL;
    if (a->has_key) {
        audit_checkpoint_mac(a->key, seq, hash, mac);
        json_object_set_new(ev, "mac", json_string(mac));
    } else {
        json_object_set_new(ev, "mac", json_null());
    }
    p = pending_of(a, ev);
    json_decref(ev);
    return p;
}

/* Writes the anchor file: the last checkpoint, outside the database (tmp + rename). */
static void anchor_write(struct audit *a, int64_t cp_seq, int64_t seq, const char *hash,
                         const char *mac)
{
    char tmp[4096];
    json_t *doc;
    FILE *f;
    int ok;

    if (!a->anchor_path)
        return;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", a->anchor_path) >= sizeof tmp)
        return;
    doc = json_pack("{s:I, s:I, s:s, s:s?}", "checkpoint_seq", (json_int_t)cp_seq, "seq",
                    (json_int_t)seq, "hash", hash, "mac", mac);
    f = doc ? fopen(tmp, "w") : NULL;
    ok = f && json_dumpf(doc, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF && fflush(f) == 0 &&
         fsync(fileno(f)) == 0;
    if (f)
        ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, a->anchor_path) != 0)
        log_error("event=audit_anchor_failed path=%s", a->anchor_path);
    json_decref(doc);
}

/*
 * Stores p after (*seq, hash) inside the open transaction; advances both. The document is p's
 * line with "seq" put first: {"seq":N,<the line's members>}.
 */
static enum md_err store_one(struct store_conn *c, const struct pending *p, int64_t *seq,
                             char hash[STORE_AUDIT_HASH_MAX], struct md_error *e)
{
    struct store_audit_row r;
    size_t n = p->len + 32;
    enum md_err rc;

    memset(&r, 0, sizeof r);
    r.seq = *seq + 1;
    r.time_ms = p->time_ms;
    snprintf(r.type, sizeof r.type, "%s", p->type);
    snprintf(r.event_id, sizeof r.event_id, "%s", p->id);
    snprintf(r.prev_hash, sizeof r.prev_hash, "%s", hash);
    r.doc = malloc(n);
    if (!r.doc)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    snprintf(r.doc, n, "{\"seq\":%" PRId64 ",%s", r.seq, p->line + 1);
    audit_chain_hash(r.prev_hash, r.doc, r.hash);
    rc = store_audit_insert(c, &r, e);
    if (rc == MD_OK) {
        *seq = r.seq;
        snprintf(hash, STORE_AUDIT_HASH_MAX, "%s", r.hash);
    }
    free(r.doc);
    return rc;
}

/*
 * Stores the first n queued events (they stay queued until then: only the writer removes
 * them) in one transaction, with a checkpoint after them when one is due or final. On success
 * *cp_* describe the checkpoint written (cp_seq 0: none).
 */
static enum md_err commit_batch(struct audit *a, struct pending *first, size_t n, bool final,
                                int64_t *cp_seq, int64_t *covers, char cover_hash[72], char mac[65],
                                struct md_error *e)
{
    struct store_conn *c = NULL;
    int64_t seq = 0;
    char hash[STORE_AUDIT_HASH_MAX];
    struct pending *p = first;
    bool due;
    enum md_err rc;

    *cp_seq = 0;
    if ((rc = store_acquire(a->store, &c, e)))
        return rc;
    if ((rc = store_begin(c, e)))
        goto out;
    if ((rc = store_audit_tail(c, &seq, hash, e)))
        goto out;
    /* Recorders append behind the n-th event meanwhile: its next pointer is not read. */
    for (size_t i = 0; i < n && !rc; i++) {
        rc = store_one(c, p, &seq, hash, e);
        if (i + 1 < n)
            p = p->next;
    }
    if (rc)
        goto out;
    due = a->since_checkpoint + (int)n >= a->checkpoint_every ||
          (a->since_checkpoint + (int)n > 0 &&
           (final || time_mono_ms() - a->last_checkpoint_mono >= a->checkpoint_ms));
    if (due && seq > 0) {
        struct pending *cp;
        *covers = seq;
        snprintf(cover_hash, 72, "%s", hash);
        cp = checkpoint_event(a, seq, hash, mac);
        if (!cp) {
            rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
        rc = store_one(c, cp, &seq, hash, e);
        pending_free(cp);
        if (rc)
            goto out;
        *cp_seq = seq;
    }
    rc = store_commit(c, e);
    if (rc == MD_OK)
        a->last_seq = seq;
out:
    if (rc)
        store_rollback(c);
    store_release(c);
    if (rc)
        *cp_seq = 0;
    return rc;
}

/*
 * One round of the writer: takes up to AUDIT_BATCH_MAX queued events, stores them, and on
 * success drops them from the queue and wakes flushers. With mu held on entry and exit; the
 * database work runs without it. Returns the commit's result.
 */
static enum md_err write_round(struct audit *a, bool final)
{
    struct pending *first = a->head, *p;
    size_t n = 0, journaled = 0;
    uint64_t upto;
    int64_t cp_seq = 0, covers = 0;
    char cover_hash[72] = "", mac[65] = "";
    struct md_error e = {0};
    enum md_err rc;

    for (p = first; p && n < AUDIT_BATCH_MAX; p = p->next)
        n++;
    /* Tickets are handed out in queue order: the n-th queued event has this one. */
    upto = a->tickets - (a->nqueued - n);
    pthread_mutex_unlock(&a->mu);
    rc = commit_batch(a, first, n, final, &cp_seq, &covers, cover_hash, mac, &e);
    if (rc == MD_OK && cp_seq > 0)
        anchor_write(a, cp_seq, covers, cover_hash, mac[0] ? mac : NULL);
    pthread_mutex_lock(&a->mu);
    if (rc) {
        atomic_fetch_add(&a->n_failures, 1);
        log_error("event=audit_write_failed events=%zu error=\"%s\"", n, e.msg);
        return rc;
    }
    atomic_fetch_add(&a->n_batches, 1);
    atomic_fetch_add(&a->n_stored, n + (cp_seq > 0));
    if (cp_seq > 0) {
        a->since_checkpoint = 0;
        a->last_checkpoint_mono = time_mono_ms();
        log_info("event=audit_checkpoint seq=%" PRId64 " covers=%" PRId64 " hash=%s mac=%s", cp_seq,
                 covers, cover_hash, mac[0] ? mac : "none");
    } else {
        a->since_checkpoint += (int)n;
    }
    for (size_t i = 0; i < n; i++) {
        p = a->head;
        a->head = p->next;
        journaled += p->journaled;
        pending_free(p);
    }
    if (!a->head)
        a->tail = NULL;
    a->nqueued -= n;
    a->stored_tk = upto;
    a->journal_n -= journaled;
    /*
     * Everything the journal holds is stored: start it afresh (O_APPEND writes at 0 next),
     * unless a recorder has written its line and not yet queued it.
     */
    if (a->jfd >= 0 && a->journal_n == 0 && atomic_load(&a->journal_inflight) == 0 &&
        ftruncate(a->jfd, 0) != 0)
        log_error("event=audit_journal_truncate_failed error=\"%s\"", strerror(errno));
    pthread_cond_broadcast(&a->done);
    return MD_OK;
}

/* With mu held: the writer's deadline for the next time-based checkpoint, or 0 for none. */
static int64_t checkpoint_wait_ms(const struct audit *a)
{
    int64_t left;
    if (a->since_checkpoint == 0)
        return 0;
    left = a->checkpoint_ms - (time_mono_ms() - a->last_checkpoint_mono);
    return left > 0 ? left : 1;
}

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts = time_deadline(CLOCK_REALTIME, ms);
    pthread_cond_timedwait(cv, mu, &ts);
}

static void *writer_main(void *arg)
{
    struct audit *a = arg;
    int64_t backoff = 0;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        if (a->head) {
            /*
             * The group: events are already journaled, so waiting a moment for more costs no
             * durability and saves a transaction per event (and the CPU that request threads
             * need). A flush or a stop cuts it short.
             */
            if (a->nqueued < AUDIT_BATCH_MAX / 4 && !a->stop && a->flushers == 0)
                timed_wait(&a->wake, &a->mu, AUDIT_LINGER_MS);
            if (write_round(a, false) != MD_OK) {
                backoff = backoff ? backoff * 2 : RETRY_MIN_MS;
                if (backoff > RETRY_MAX_MS)
                    backoff = RETRY_MAX_MS;
                if (a->stop)
                    break; /* the journal keeps them for the next start */
                timed_wait(&a->wake, &a->mu, backoff);
            } else {
                backoff = 0;
            }
            continue;
        }
        if (a->stop)
            break;
        {
            int64_t ms = checkpoint_wait_ms(a);
            if (ms > 0) {
                timed_wait(&a->wake, &a->mu, ms);
                if (!a->head && checkpoint_wait_ms(a) <= 1 && a->since_checkpoint > 0)
                    write_round(a, true); /* no events: a checkpoint alone */
            } else {
                pthread_cond_wait(&a->wake, &a->mu);
            }
        }
    }
    if (!a->head && a->since_checkpoint > 0)
        write_round(a, true); /* the final checkpoint of a clean shutdown */
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

enum md_err audit_flush(struct audit *a, struct md_error *e)
{
    uint64_t want;
    int64_t t0 = time_mono_ms();
    enum md_err rc = MD_OK;

    if (!a)
        return MD_OK;
    pthread_mutex_lock(&a->mu);
    want = a->tickets;
    if (!a->thread_started) {
        /* No writer thread: store here, in this caller. */
        while (a->stored_tk < want && rc == MD_OK)
            rc = write_round(a, false);
        if (rc)
            md_error_set(e, rc, "the audit log cannot be written now");
        pthread_mutex_unlock(&a->mu);
        return rc;
    }
    a->flushers++;
    pthread_cond_signal(&a->wake);
    while (a->stored_tk < want) {
        if (time_mono_ms() - t0 > FLUSH_TIMEOUT_MS) {
            rc = md_error_set(e, MD_ERR_UNAVAILABLE, "the audit log is not being written");
            break;
        }
        timed_wait(&a->done, &a->mu, 200);
    }
    a->flushers--;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* ---- the journal at start ---- */

/*
 * Whether a journal line is an event that audit_record could have written: an object whose id
 * and type fit their columns whole (a cut one would no longer match its document, and verify
 * would fail on it), and not a checkpoint, which the writer stores but never journals.
 */
static bool journal_line_ok(const json_t *ev)
{
    struct store_audit_row r;
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *type = json_string_value(json_object_get(ev, "type"));

    return json_is_object(ev) && id && id[0] && strlen(id) < sizeof r.event_id && type && type[0] &&
           strlen(type) < sizeof r.type && strcmp(type, AUDIT_TYPE_CHECKPOINT) != 0;
}

/* Queues each journal line whose event the database lacks; returns how many. */
static enum md_err journal_recover(struct audit *a, size_t *n, struct md_error *e)
{
    struct stat st;
    char *buf = NULL, *line, *nl;
    struct store_conn *c = NULL;
    struct hmap ids; /* the ids queued from this journal: a line written twice is stored once */
    enum md_err rc = MD_OK;
    ssize_t r;

    *n = 0;
    hmap_init(&ids);
    if (fstat(a->jfd, &st) != 0 || st.st_size == 0)
        return MD_OK;
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory reading the audit journal");
    r = pread(a->jfd, buf, (size_t)st.st_size, 0);
    if (r < 0) {
        rc = md_error_set(e, MD_ERR_IO, "cannot read the audit journal: %s", strerror(errno));
        goto out;
    }
    buf[r] = '\0';
    if ((rc = store_acquire(a->store, &c, e)))
        goto out;
    for (line = buf; *line; line = nl) {
        json_t *ev;
        bool has = false;
        nl = strchr(line, '\n');
        if (!nl) {
            /* A line without its newline was being written when the process died. */
            log_warn("event=audit_journal_torn_line bytes=%zu", strlen(line));
            break;
        }
        *nl++ = '\0';
        ev = json_loads(line, 0, NULL);
        if (!journal_line_ok(ev)) {
            log_warn("event=audit_journal_bad_line");
            json_decref(ev);
            continue;
        }
        rc = store_audit_has_event(c, json_string_value(json_object_get(ev, "id")), &has, e);
        if (rc) {
            json_decref(ev);
            break;
        }
        if (has || hmap_get(&ids, json_string_value(json_object_get(ev, "id")))) {
            json_decref(ev);
            continue;
        }
        {
            /* Serialised again: the stored document is the canonical form, whatever the line. */
            struct pending *p = pending_of(a, ev);
            if (!p || hmap_put(&ids, p->id, p, NULL)) {
                pending_free(p);
                json_decref(ev);
                rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
                break;
            }
            json_decref(ev);
            p->journaled = true;
            enqueue(a, p);
            (*n)++;
        }
    }
out:
    hmap_free(&ids);
    store_release(c);
    free(buf);
    return rc;
}

static void free_queue(struct audit *a)
{
    while (a->head) {
        struct pending *p = a->head;
        a->head = p->next;
        pending_free(p);
    }
    a->tail = NULL;
    a->nqueued = 0;
}

/* path for slot 0, path.N for the others; heap. */
static char *slot_path(const char *path, int slot)
{
    size_t n = strlen(path) + 8;
    char *p = malloc(n);
    if (p) {
        if (slot == 0)
            snprintf(p, n, "%s", path);
        else
            snprintf(p, n, "%s.%d", path, slot);
    }
    return p;
}

/*
 * Opens and locks the first journal slot no other process holds; returns the slot, or -1 with
 * e set. Two servers sharing one journal would each empty the other's.
 */
static int open_slot(struct audit *a, const char *base, struct md_error *e)
{
    for (int slot = 0; slot < AUDIT_SLOTS; slot++) {
        char *p = slot_path(base, slot);
        int fd;
        if (!p) {
            md_error_set(e, MD_ERR_NOMEM, "out of memory");
            return -1;
        }
        fd = open(p, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            md_error_set(e, MD_ERR_IO, "cannot open the audit journal %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (slot > 0)
                log_info("event=audit_journal path=%s note=\"another process holds the first "
                         "slot\"",
                         p);
            free(p);
            a->jfd = fd;
            return slot;
        }
        close(fd);
        free(p);
    }
    md_error_set(e, MD_ERR_UNAVAILABLE,
                 "all %d audit journal slots at %s are in use by other mandate processes: give "
                 "this server its own (--audit-journal, or its own state directory)",
                 AUDIT_SLOTS, base);
    return -1;
}

enum md_err audit_open(const struct audit_config *cfg, struct audit **out, struct md_error *e)
{
    struct audit *a;
    size_t recovered = 0;
    enum md_err rc = MD_OK;

    *out = NULL;
    a = calloc(1, sizeof *a);
    if (!a)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    a->store = cfg->store;
    a->jfd = -1;
    a->checkpoint_every =
        cfg->checkpoint_every > 0 ? cfg->checkpoint_every : AUDIT_CHECKPOINT_EVERY;
    a->checkpoint_ms = cfg->checkpoint_ms > 0 ? cfg->checkpoint_ms : AUDIT_CHECKPOINT_MS;
    a->last_checkpoint_mono = time_mono_ms();
    {
        unsigned char r[8];
        if (crypto_random(r, sizeof r) != MD_OK) {
            free(a);
            return md_error_set(e, MD_ERR_INTERNAL, "no randomness for audit event ids");
        }
        crypto_hex(r, sizeof r, a->id_prefix);
    }
    if (cfg->key) {
        memcpy(a->key, cfg->key, AUDIT_KEY_LEN);
        a->has_key = true;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->done, NULL);
    if (cfg->journal_path) {
        int slot = open_slot(a, cfg->journal_path, e);
        if (slot < 0) {
            rc = e->code ? e->code : MD_ERR_IO;
            goto out;
        }
        if (cfg->anchor_path && !(a->anchor_path = slot_path(cfg->anchor_path, slot))) {
            rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((rc = journal_recover(a, &recovered, e)))
            goto out;
        if (recovered) {
            log_warn("event=audit_journal_recovered events=%zu", recovered);
            pthread_mutex_lock(&a->mu);
            while (a->head && rc == MD_OK)
                rc = write_round(a, false);
            pthread_mutex_unlock(&a->mu);
            if (rc) {
                md_error_set(e, rc, "cannot store the audit journal's events");
                goto out;
            }
        } else if (ftruncate(a->jfd, 0) != 0) {
            rc = md_error_set(e, MD_ERR_IO, "cannot reset the audit journal: %s", strerror(errno));
            goto out;
        }
    } else if (cfg->anchor_path && !(a->anchor_path = strdup(cfg->anchor_path))) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!cfg->no_writer_thread) {
        if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
            rc = md_error_set(e, MD_ERR_INTERNAL, "cannot start the audit writer");
            goto out;
        }
        a->thread_started = true;
    }
out:
    if (rc) {
        free_queue(a);
        audit_close(a);
        return rc;
    }
    *out = a;
    return MD_OK;
}

void audit_close(struct audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->wake);
    pthread_cond_broadcast(&a->done);
    pthread_mutex_unlock(&a->mu);
    if (a->thread_started) {
        pthread_join(a->thread, NULL);
        a->thread_started = false;
    } else {
        pthread_mutex_lock(&a->mu);
        while (a->head && write_round(a, false) == MD_OK)
            ;
        if (!a->head && a->since_checkpoint > 0)
            write_round(a, true);
        pthread_mutex_unlock(&a->mu);
    }
    if (a->head)
        log_error("event=audit_close_unstored events=%zu journal=%s", a->nqueued,
                  a->jfd >= 0 ? "kept" : "none");
    free_queue(a);
    if (a->jfd >= 0)
        close(a->jfd);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->done);
    pthread_mutex_destroy(&a->mu);
    free(a->anchor_path);
    explicit_bzero(a->key, sizeof a->key);
    free(a);
}

void audit_stats_get(struct audit *a, struct audit_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!a)
        return;
    out->recorded = atomic_load(&a->n_recorded);
    out->stored = atomic_load(&a->n_stored);
    out->batches = atomic_load(&a->n_batches);
    out->failures = atomic_load(&a->n_failures);
    pthread_mutex_lock(&a->mu);
    out->queued = a->nqueued;
    out->last_seq = a->last_seq;
    pthread_mutex_unlock(&a->mu);
}

struct store *audit__store(struct audit *a)
{
    return a->store;
}

bool audit__key(struct audit *a, unsigned char out[AUDIT_KEY_LEN])
{
    if (a->has_key)
        memcpy(out, a->key, AUDIT_KEY_LEN);
    return a->has_key;
}

enum md_err audit_verify_live(struct audit *a, struct audit_verify_report *r, struct md_error *e)
{
    struct audit_verify_opts o = {0};
    enum md_err rc;

    /* What was recorded before the question is in the chain the answer describes. */
    if ((rc = audit_flush(a, e)))
        return rc;
    o.key = a->has_key ? a->key : NULL;
    o.anchor_path = a->anchor_path;
    return audit_verify(a->store, &o, r, e);
}
