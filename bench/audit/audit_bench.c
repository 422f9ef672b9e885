/*
 * The audit log benchmark of issue 6: "events per second sustained on SQLite, and the latency a
 * tool call gains from auditing (target: under 20 microseconds at p50)".
 *
 * Every phase opens a fresh SQLite database in a temporary directory through the store
 * interface and an audit log on it as `mandate serve` does: the writer thread, a journal file,
 * an anchor file and a checkpoint key. Events look like the tool.call events of mcp/tools.c
 * (user, groups, agent, tool, decision, redacted arguments and their SHA-256, upstream status
 * and timings), a document of about 1.2 KB each.
 *
 *   1. Throughput, with 1, 2 and 4 recording threads: each thread builds events and calls
 *      audit_record as fast as it can for --seconds (after a 1 s warm-up). The figure is what
 *      the database received: the events the writer committed during the window
 *      (audit_stats.stored, counted after each COMMIT succeeded), per second. Recording faster
 *      than the writer commits fills the queue up to AUDIT_QUEUE_MAX, after which audit_record
 *      waits: the sustained rate is then the writer's, and the report says so (queue depth).
 *      Afterwards the queue is drained (audit_flush), the log closed and audit_verify walks the
 *      whole chain under the key and the anchor: it must pass, and its row count must equal
 *      what the counters say was stored.
 *   2. Latency, on one thread at a steady --rate (events per second, a busy server, below the
 *      writer's capacity so that the queue stays short), for --paced-seconds, recording as
 *      mcp/tools.c does: the event built (audit_redact_args over the arguments included) and
 *      drafted (audit_draft_new: serialised) while the upstream call would be in flight, then
 *      at the answer audit_draft_record with the outcome (journal write and queue). Each part
 *      timed with clock_gettime(CLOCK_MONOTONIC). Then the journal line measured apart in a
 *      tight loop (json_text, and jansson's json_dumps it replaced), its write(2), and the
 *      paced run again without a writer thread (the events wait in the queue and are stored by
 *      one audit_flush at the end), which shows recording's own cost without the writer waking,
 *      locking and committing beside it.
 * The report also gives the audit_record latencies measured during the throughput runs (every
 * 4th call), where recorders contend for the queue's mutex and, once it is full, wait.
 *
 *   build/audit_bench [--seconds N] [--threads 1,2,4] [--rate N] [--paced-seconds N]
 *                     [--dir DIR] [--keep-db]
 * The report goes to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "store/store.h"

#define BENCH_NAME "audit_bench"
#include "../bench_util.h"

#define MAX_THREADS 16
#define SAMPLE_EVERY 4         /* throughput runs: one audit_record in 4 is kept */
#define SAMPLES_MAX (1u << 21) /* per thread */

struct cfg {
    int seconds;
    int threads[MAX_THREADS];
    int nthreads;
    int rate;
    int paced_seconds;
    const char *dir;
    bool keep_db;
};

static const unsigned char key[AUDIT_KEY_LEN] = "audit-bench-checkpoint-key-32byt";

/* ---- small things ---- */

static double cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Every CPU's non-idle seconds, from /proc/stat: with cpu_self_s, what other processes used. */
static double cpu_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    long hz = sysconf(_SC_CLK_TCK);
    double busy = 0;

    if (f && fgets(line, sizeof line, f) && strncmp(line, "cpu ", 4) == 0) {
        char *p = line + 4, *end;
        unsigned long long v[8] = {0};
        for (int i = 0; i < 8; i++, p = end)
            v[i] = strtoull(p, &end, 10);
        busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)(hz > 0 ? hz : 100);
    }
    if (f)
        fclose(f);
    return busy;
}

/* Nearest rank on sorted values. */
static uint32_t rank(const uint32_t *v, size_t n, double pct)
{
    size_t k = (size_t)((pct / 100.0) * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static void print_head(void)
{
    printf("   %-44s %9s %8s %8s %8s %8s %10s\n", "(nanoseconds)", "n", "p50", "p90", "p99",
           "p99.9", "max");
}

/* Sorts ns in place and prints its percentiles. */
static void print_lat(const char *label, uint32_t *ns, size_t n)
{
    if (n == 0) {
        printf("   %-44s %9s\n", label, "0");
        return;
    }
    qsort(ns, n, sizeof *ns, u32_cmp);
    printf("   %-44s %9zu %8u %8u %8u %8u %10u\n", label, n, rank(ns, n, 50), rank(ns, n, 90),
           rank(ns, n, 99), rank(ns, n, 99.9), ns[n - 1]);
}

/* ---- the log in a fresh directory ---- */

struct bench_log {
    char dir[512];
    char db[600], journal[600], anchor[600];
    struct store *s;
    struct audit *a;
};

static void log_open(const struct cfg *c, struct bench_log *l, bool writer)
{
    struct audit_config ac;
    struct md_error e = {0};
    char url[640];

    memset(l, 0, sizeof *l);
    snprintf(l->dir, sizeof l->dir, "%s/mandate-audit-bench-XXXXXX", c->dir);
    if (!mkdtemp(l->dir))
        die("mkdtemp", NULL);
    snprintf(l->db, sizeof l->db, "%s/bench.db", l->dir);
    snprintf(l->journal, sizeof l->journal, "%s/audit.journal", l->dir);
    snprintf(l->anchor, sizeof l->anchor, "%s/audit.anchor", l->dir);
    snprintf(url, sizeof url, "sqlite:%s", l->db);
    if (store_open(url, 4, &l->s, &e))
        die("store_open", &e);
    memset(&ac, 0, sizeof ac);
    ac.store = l->s;
    ac.key = key;
    ac.journal_path = l->journal;
    ac.anchor_path = l->anchor;
    ac.no_writer_thread = !writer;
    if (audit_open(&ac, &l->a, &e))
        die("audit_open", &e);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void log_remove(const struct cfg *c, struct bench_log *l)
{
    static const char *const files[] = {"bench.db",      "bench.db-wal", "bench.db-shm",
                                        "audit.journal", "audit.anchor", "audit.anchor.tmp"};
    char path[700];

    store_close(l->s);
    l->s = NULL;
    if (c->keep_db) {
        printf("   kept: %s\n", l->dir);
        return;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", l->dir, files[i]);
        unlink(path);
    }
    rmdir(l->dir);
}

/* ---- events ---- */

/* The arguments of a refund, as an agent sends them. */
static json_t *make_args(uint64_t i)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:{s:s, s:s}}", "amount", (json_int_t)(i % 50000),
                     "currency", "usd", "charge", "ch_3PfQ2aLkdIwHu7ix0Wq1bXyZ", "card",
                     "4242424242424242", "metadata", "ticket", "SUP-48213", "reason",
                     "duplicate charge reported by the customer");
}

/*
 * A tool.call event as mcp/tools.c builds it (call_event, then call_done), with the arguments
 * already redacted; the card is the field the connector marks sensitive.
 */
/* What the answer adds to a tool call's draft: the outcome, the upstream's figures, the time. */
static json_t *make_outcome(uint64_t i)
{
    return json_pack("{s:s, s:{s:i, s:I, s:I}, s:I}", "outcome", "ok", "upstream", "status", 200,
                     "ms", (json_int_t)(80 + i % 40), "result_bytes", (json_int_t)1873, "ms",
                     (json_int_t)(85 + i % 40));
}

/* outcome false: the event as it is drafted, before the upstream call ends. */
static json_t *make_event(int thread, uint64_t i, const json_t *args, const json_t *redact,
                          bool outcome)
{
    char sha[65], rid[32];
    json_t *ev, *red = audit_redact_args(args, redact, sha);

    snprintf(rid, sizeof rid, "r-%d-%llu", thread, (unsigned long long)i);
    ev = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:b}, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}],"
        " s:{s:s, s:s, s:{s:s, s:s}, s:s, s:s}, s:s, s:s, s:{s:b, s:s, s:s}, s:s, s:o}",
        "type", AUDIT_TYPE_TOOL_CALL, "request_id", rid, "endpoint", "/mcp/packs/finance", "pack",
        "finance", "user", "id", "2819c223-7f76-453a-919d-413861904646", "userName",
        "ann.example@example.com", "displayName", "Ann Example", "active", 1, "groups", "id",
        "e9e30dba-f08f-4109-8486-d5c6a331660a", "display", "Finance", "id",
        "fc348aa8-3835-40eb-a20b-c726e15c55b5", "display", "Finance Approvers", "id",
        "b1a5f6c0-4c6e-4a77-9a43-0e2c1b5d9f11", "display", "Everyone", "agent", "token_id",
        "7d3c8a52-4a4e-4b8e-9d0c-3f2b1e6a7c90", "token_name", "support-bot", "client", "name",
        "claude-code", "version", "2.1.0", "user_agent", "claude-code/2.1.0", "address",
        "10.0.3.17", "tool", "stripe__create_refund", "level", "destructive", "decision", "allowed",
        1, "grant", "5f1c2b7e-9a0d-4c3e-8f6b-2d4e1a9c7b30", "reason", "allowed", "arguments_sha256",
        sha, "arguments", red);
    if (!ev || (outcome && json_object_update_new(ev, make_outcome(i))))
        die("json_pack of the event", NULL);
    return ev;
}

/* ---- 1. throughput ---- */

struct recorder {
    struct audit *a;
    int thread;
    _Atomic bool *stop;
    uint64_t calls;
    uint32_t *lat; /* audit_record, every SAMPLE_EVERY-th call */
    size_t nlat;
};

static void *record_loop(void *arg)
{
    struct recorder *r = arg;
    json_t *args = make_args(0), *redact = json_pack("[s]", "card");

    while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
        json_t *ev = make_event(r->thread, r->calls, args, redact, true);
        uint64_t t0 = now_ns(), t1;
        audit_record(r->a, ev);
        t1 = now_ns();
        if (r->calls % SAMPLE_EVERY == 0 && r->nlat < SAMPLES_MAX)
            r->lat[r->nlat++] = clamp32(t1 - t0);
        r->calls++;
    }
    json_decref(args);
    json_decref(redact);
    return NULL;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void throughput(const struct cfg *c, int nthreads)
{
    struct bench_log l;
    struct recorder rec[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    _Atomic bool stop = false;
    struct audit_stats s0, s1, s2;
    struct audit_verify_opts vo;
    struct audit_verify_report vr;
    struct md_error e = {0};
    uint64_t t0, t1, tf, tv;
    double cpu0, cpu1, busy0, busy1, secs;
    uint64_t max_queued = 0;
    uint32_t *all;
    size_t nall = 0;
    char label[96];

    printf("\n-- %d recording thread%s, %d s (after 1 s of warm-up)\n", nthreads,
           nthreads > 1 ? "s" : "", c->seconds);
    log_open(c, &l, true);
    for (int i = 0; i < nthreads; i++) {
        memset(&rec[i], 0, sizeof rec[i]);
        rec[i].a = l.a;
        rec[i].thread = i;
        rec[i].stop = &stop;
        rec[i].lat = xcalloc(SAMPLES_MAX, sizeof *rec[i].lat);
        if (pthread_create(&th[i], NULL, record_loop, &rec[i]) != 0)
            die("pthread_create", NULL);
    }
    sleep_ns(1000000000ULL);
    audit_stats_get(l.a, &s0);
    t0 = now_ns();
    cpu0 = cpu_self_s();
    busy0 = cpu_busy_s();
    /* The queue's depth, every 100 ms: at AUDIT_QUEUE_MAX the recorders are held back. */
    for (int k = 0; k < c->seconds * 10; k++) {
        struct audit_stats q;
        sleep_ns(100000000ULL);
        audit_stats_get(l.a, &q);
        if (q.queued > max_queued)
            max_queued = q.queued;
    }
    audit_stats_get(l.a, &s1);
    t1 = now_ns();
    cpu1 = cpu_self_s();
    busy1 = cpu_busy_s();
    atomic_store(&stop, true);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    if (audit_flush(l.a, &e))
        die("audit_flush", &e);
    tf = now_ns();
    audit_stats_get(l.a, &s2);
    audit_close(l.a);
    l.a = NULL;

    secs = (double)(t1 - t0) / 1e9;
    printf("   stored at the database: %.0f events/s (%llu events committed in %.2f s, "
           "%llu transactions, %.0f events per transaction)\n",
           (double)(s1.stored - s0.stored) / secs, (unsigned long long)(s1.stored - s0.stored),
           secs, (unsigned long long)(s1.batches - s0.batches),
           s1.batches > s0.batches
               ? (double)(s1.stored - s0.stored) / (double)(s1.batches - s0.batches)
               : 0.0);
    printf("   recorded by the threads: %.0f events/s; queue depth at most %llu of %d%s\n",
           (double)(s1.recorded - s0.recorded) / secs, (unsigned long long)max_queued,
           AUDIT_QUEUE_MAX,
           max_queued >= AUDIT_QUEUE_MAX ? " (full: recorders waited for the writer)" : "");
    printf("   CPUs: this process %.2f, other processes %.2f; write failures %llu\n",
           (cpu1 - cpu0) / secs,
           ((busy1 - busy0) - (cpu1 - cpu0)) / secs > 0 ? ((busy1 - busy0) - (cpu1 - cpu0)) / secs
                                                        : 0.0,
           (unsigned long long)s2.failures);
    printf("   drained the queue (%llu events) in %.2f s after the recorders stopped\n",
           (unsigned long long)s1.queued, (double)(tf - t1) / 1e9);

    /* The whole chain, as `mandate audit verify` walks it. */
    memset(&vo, 0, sizeof vo);
    vo.key = key;
    vo.anchor_path = l.anchor;
    tv = now_ns();
    if (audit_verify(l.s, &vo, &vr, &e))
        die("audit_verify", &e);
    {
        char wal[700];
        snprintf(wal, sizeof wal, "%s-wal", l.db);
        printf("   verify: %s, %lld rows (%llu counted by the writer before the close, which adds"
               " its checkpoint), %lld checkpoints, %.0f rows/s;"
               " database %.0f MB, WAL %.0f MB\n",
               vr.ok ? "ok" : "FAILED", (long long)vr.events, (unsigned long long)s2.stored,
               (long long)vr.checkpoints, (double)vr.events / ((double)(now_ns() - tv) / 1e9),
               (double)file_size(l.db) / 1e6, (double)file_size(wal) / 1e6);
    }
    if (vr.ok && (uint64_t)vr.events != s2.stored && (uint64_t)vr.events != s2.stored + 1)
        printf("   MISMATCH: the database holds %lld rows, the writer counted %llu\n",
               (long long)vr.events, (unsigned long long)s2.stored);
    if (!vr.ok)
        printf("   verify problem: bad_seq %lld: %s\n", (long long)vr.bad_seq, vr.problem);

    all = xcalloc((size_t)nthreads * SAMPLES_MAX, sizeof *all);
    for (int i = 0; i < nthreads; i++) {
        memcpy(all + nall, rec[i].lat, rec[i].nlat * sizeof *all);
        nall += rec[i].nlat;
        free(rec[i].lat);
    }
    print_head();
    snprintf(label, sizeof label, "audit_record, %d thread%s, saturated", nthreads,
             nthreads > 1 ? "s" : "");
    print_lat(label, all, nall);
    free(all);
    log_remove(c, &l);
}

/* ---- 2. latency at a steady rate ---- */

/*
 * What recording spends its time on, measured apart on n events like the paced ones (into the
 * paced arrays, reused): the journal line (json_text, as pending_of makes it), the same with
 * jansson's json_dumps (what it replaced, for comparison), and its write(2) to a file beside the
 * journal (O_APPEND, as the journal is opened).
 */
static void parts(const struct bench_log *l, const json_t *args, const json_t *redact,
                  uint32_t *text_ns, uint32_t *write_ns, uint32_t *dumps_ns, size_t n)
{
    char path[700];
    int fd;

    snprintf(path, sizeof path, "%s/parts.scratch", l->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        die("open of the scratch file", NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = make_event(0, i, args, redact, true);
        uint64_t t0, t1, t2, t3;
        char *line, *old;
        size_t len;

        json_object_set_new(ev, "id", json_string("1194e5b9516eaef5-000000024212"));
        json_object_set_new(ev, "time", json_string("2026-11-28T20:46:45.846Z"));
        t0 = now_ns();
        line = json_text(ev, JSON_COMPACT | JSON_ENSURE_ASCII, &len);
        t1 = now_ns();
        old = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
        t2 = now_ns();
        if (!line || !old || strcmp(line, old) != 0)
            die("json_text and json_dumps differ", NULL);
        line[len] = '\n';
        if (write(fd, line, len + 1) != (ssize_t)(len + 1))
            die("write of the scratch file", NULL);
        t3 = now_ns();
        text_ns[i] = clamp32(t1 - t0);
        dumps_ns[i] = clamp32(t2 - t1);
        write_ns[i] = clamp32(t3 - t2);
        free(line);
        free(old);
        json_decref(ev);
    }
    close(fd);
    unlink(path);
    printf("   of which, measured apart on %zu events:\n", n);
    print_lat("  the journal line (json_text, ~1.2 KB)", text_ns, n);
    print_lat("  the same with jansson's json_dumps", dumps_ns, n);
    print_lat("  its write(2) to a file in the same place", write_ns, n);
}

/*
 * writer false: the log has no writer thread while the events are recorded (they wait in the
 * queue and the journal, and are stored by audit_flush at the end), so that audit_record's own
 * cost shows without the writer waking, locking and committing beside it.
 */
static void paced(const struct cfg *c, bool writer)
{
    struct bench_log l;
    size_t n = (size_t)c->rate * (size_t)c->paced_seconds, i;
    uint32_t *rec = xcalloc(n, sizeof *rec), *build = xcalloc(n, sizeof *build),
             *total = xcalloc(n, sizeof *total);
    json_t *args = make_args(0), *redact = json_pack("[s]", "card");
    uint64_t period = 1000000000ULL / (uint64_t)c->rate, next, late = 0;
    struct audit_stats st;
    struct md_error e = {0};
    char label[96];
    double cpu0, busy0, secs;
    uint64_t w0;

    if (writer)
        printf("\n-- one thread at %d events/s for %d s, the writer storing them as they come "
               "(the queue stays short: the latency a tool call gains)\n",
               c->rate, c->paced_seconds);
    else
        printf("\n-- the same without a writer thread: audit_record alone, the events stored by "
               "one audit_flush at the end\n");
    log_open(c, &l, writer);
    cpu0 = cpu_self_s();
    busy0 = cpu_busy_s();
    w0 = now_ns();
    next = now_ns();
    for (i = 0; i < n; i++) {
        uint64_t t0, t1, t2, now;
        struct audit_draft *d;
        json_t *ev;

        next += period;
        now = now_ns();
        if (now < next)
            sleep_ns(next - now);
        else
            late++;
        /* As mcp/tools.c: drafted while the upstream call is in flight, completed at the answer. */
        t0 = now_ns();
        ev = make_event(0, i, args, redact, false);
        d = audit_draft_new(l.a, ev);
        t1 = now_ns();
        audit_draft_record(l.a, d, make_outcome(i));
        t2 = now_ns();
        build[i] = clamp32(t1 - t0);
        rec[i] = clamp32(t2 - t1);
        total[i] = clamp32(t2 - t0);
    }
    secs = (double)(now_ns() - w0) / 1e9;
    printf("   CPUs: this process %.2f, other processes %.2f\n", (cpu_self_s() - cpu0) / secs,
           ((cpu_busy_s() - busy0) - (cpu_self_s() - cpu0)) / secs > 0
               ? ((cpu_busy_s() - busy0) - (cpu_self_s() - cpu0)) / secs
               : 0.0);
    if (audit_flush(l.a, &e))
        die("audit_flush", &e);
    audit_stats_get(l.a, &st);
    audit_close(l.a);
    l.a = NULL;
    printf("   %zu events, %llu stored in %llu transactions; %llu slots started late\n", n,
           (unsigned long long)st.stored, (unsigned long long)st.batches, (unsigned long long)late);
    print_head();
    print_lat("at the answer: audit_draft_record", rec, n);
    print_lat("before it: the event built and drafted", build, n);
    snprintf(label, sizeof label, "a tool call's audit cost (both)");
    print_lat(label, total, n);
    if (writer)
        parts(&l, args, redact, build, rec, total, n < 5000 ? n : 5000);
    free(rec);
    free(build);
    free(total);
    json_decref(args);
    json_decref(redact);
    log_remove(c, &l);
}

/* ---- main ---- */

static int parse_int(const char *s, int lo, int hi, const char *what)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi) {
        fprintf(stderr, "audit_bench: %s must be an integer from %d to %d\n", what, lo, hi);
        exit(2);
    }
    return (int)v;
}

static void parse_threads(struct cfg *c, const char *s)
{
    char buf[128], *p, *comma;

    snprintf(buf, sizeof buf, "%s", s);
    c->nthreads = 0;
    for (p = buf; p && *p; p = comma) {
        comma = strchr(p, ',');
        if (comma)
            *comma++ = '\0';
        if (c->nthreads == MAX_THREADS) {
            fprintf(stderr, "audit_bench: at most %d thread counts\n", MAX_THREADS);
            exit(2);
        }
        c->threads[c->nthreads++] = parse_int(p, 1, MAX_THREADS, "--threads");
    }
}

int main(int argc, char **argv)
{
    struct cfg c = {.seconds = 10, .rate = 2000, .paced_seconds = 5, .dir = "/tmp"};

    parse_threads(&c, "1,2,4");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep-db") == 0) {
            c.keep_db = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: audit_bench [--seconds N] [--threads 1,2,4] [--rate N] "
                            "[--paced-seconds N] [--dir DIR] [--keep-db]\n");
            return 2;
        }
        if (strcmp(a, "--seconds") == 0)
            c.seconds = parse_int(v, 1, 3600, "--seconds");
        else if (strcmp(a, "--threads") == 0)
            parse_threads(&c, v);
        else if (strcmp(a, "--rate") == 0)
            c.rate = parse_int(v, 1, 1000000, "--rate");
        else if (strcmp(a, "--paced-seconds") == 0)
            c.paced_seconds = parse_int(v, 0, 3600, "--paced-seconds");
        else if (strcmp(a, "--dir") == 0)
            c.dir = v;
        else {
            fprintf(stderr, "audit_bench: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    /* The writer logs a line per checkpoint at info: not what is measured here. */
    log_set_level(LOG_WARN);
    printf("audit_bench: SQLite (WAL, synchronous=NORMAL, as mandate opens it), journal and anchor "
           "in %s; checkpoints every %d events; events of about 1.2 KB\n",
           c.dir, AUDIT_CHECKPOINT_EVERY);
    for (int i = 0; i < c.nthreads; i++)
        throughput(&c, c.threads[i]);
    if (c.paced_seconds > 0) {
        paced(&c, true);
        paced(&c, false);
    }
    return 0;
}
