/*
 * libFuzzer driver for the audit log's journal: the input is a journal file's contents, as a
 * process that died (or a disk that lied) may leave them. The driver writes it as the journal,
 * audit_open()s the log on it over a real SQLite store (one per process, in a temporary
 * directory), which parses every line and stores what it can, closes the log (a final
 * checkpoint, the anchor file), and then demands that:
 *   - audit_open succeeds (the store is healthy: no journal may keep the log from opening);
 *   - the journal is empty once the log is open: whatever was in it is stored or dropped;
 *   - audit_verify() passes, under the key and with the anchor file: whatever the journal
 *     held, the recovered events are chained properly;
 *   - audit_query_run, with a SCIM filter taken from the input's first line, either runs or
 *     refuses the filter with MD_ERR_FILTER and a message, and hands out only stored events.
 * The store is emptied between inputs (store_audit_prune below everything), so that each
 * input starts a chain of its own and verify stays quick.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/log.h"
#include "store/store.h"

static struct store *st;
static char journal[128], anchor[128];
static const unsigned char key[AUDIT_KEY_LEN] = "fuzz-audit-checkpoint-key-32byte";

static void setup(void)
{
    char dir[] = "/tmp/mandate-fuzz-audit-XXXXXX", url[128];
    struct md_error e;

    if (!mkdtemp(dir))
        abort();
    snprintf(url, sizeof url, "sqlite:%s/f.db", dir);
    snprintf(journal, sizeof journal, "%s/audit.journal", dir);
    snprintf(anchor, sizeof anchor, "%s/audit.anchor", dir);
    /* Recovery warns for every damaged line: the fuzzer's output would be nothing else. */
    log_set_level(LOG_ERROR);
    if (store_open(url, 2, &st, &e))
        abort();
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
        abort();
}

/* Empties the log, so that the next input starts at seq 1 without an anchor. */
static void reset(void)
{
    struct store_conn *c = NULL;
    struct md_error e;

    if (store_acquire(st, &c, &e) || store_audit_prune(c, INT64_MAX, NULL, &e))
        abort();
    store_release(c);
    unlink(anchor);
}

struct seen {
    int64_t n, last_seq;
    bool oldest_first;
};

static int on_event(void *ctx, json_t *ev)
{
    struct seen *s = ctx;
    json_int_t seq = json_integer_value(json_object_get(ev, "seq"));

    /* Every event handed out is a stored one, with its chain columns, in the asked order. */
    if (seq < 1 || !json_is_string(json_object_get(ev, "hash")) ||
        !json_is_string(json_object_get(ev, "prev_hash")))
        abort();
    if (s->n > 0 && (s->oldest_first ? seq <= s->last_seq : seq >= s->last_seq))
        abort();
    s->last_seq = seq;
    s->n++;
    return 0;
}

static void query(const uint8_t *data, size_t size, int64_t stored)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t flen = nl ? (size_t)(nl - data) : size;
    char filter[512];
    struct audit_query q;
    struct seen s;
    struct md_error e;
    int64_t last = 0;
    enum md_err rc;

    if (flen >= sizeof filter)
        flen = sizeof filter - 1;
    memcpy(filter, data, flen);
    filter[flen] = '\0';
    for (int order = 0; order < 2; order++) {
        memset(&q, 0, sizeof q);
        memset(&s, 0, sizeof s);
        md_error_clear(&e);
        q.filter = filter;
        q.oldest_first = s.oldest_first = order == 0;
        rc = audit_query_run(st, &q, on_event, &s, &last, &e);
        if (rc == MD_ERR_FILTER && e.msg[0])
            return; /* refused, with a reason */
        if (rc != MD_OK || s.n > stored || (s.n > 0 && last != s.last_seq))
            abort();
    }
    /* One event by seq: the first is there whenever anything was stored. */
    if (stored > 0) {
        json_t *ev = NULL;
        md_error_clear(&e);
        if (audit_get(st, 1, &ev, &e) != MD_OK || !json_is_object(ev))
            abort();
        json_decref(ev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct audit_config cfg;
    struct audit_verify_opts vo;
    struct audit_verify_report r;
    struct audit *a = NULL;
    struct stat sb;
    struct md_error e;
    enum md_err rc;

    if (!st)
        setup();
    reset();
    write_file(journal, data, size);

    memset(&cfg, 0, sizeof cfg);
    cfg.store = st;
    cfg.key = key;
    cfg.journal_path = journal;
    cfg.anchor_path = anchor;
    cfg.checkpoint_every = 3;
    cfg.no_writer_thread = true;
    md_error_clear(&e);
    /* On a healthy store no journal, however damaged, may keep the log from opening. */
    rc = audit_open(&cfg, &a, &e);
    if (rc != MD_OK || !a) {
        fprintf(stderr, "audit_open: %s: %s\n", md_err_name(rc), e.msg);
        abort();
    }
    /* Opened: the journal's events are stored (or dropped as damaged), and it is empty. */
    if (stat(journal, &sb) != 0 || sb.st_size != 0) {
        fprintf(stderr, "the journal still holds %lld bytes after audit_open\n",
                (long long)sb.st_size);
        abort();
    }
    audit_close(a);

    memset(&vo, 0, sizeof vo);
    vo.key = key;
    vo.anchor_path = anchor;
    md_error_clear(&e);
    if (audit_verify(st, &vo, &r, &e) != MD_OK)
        abort();
    if (!r.ok) {
        fprintf(stderr, "audit_verify after recovery: bad_seq %lld: %s\n", (long long)r.bad_seq,
                r.problem);
        abort();
    }
    query(data, size, r.events);
    return 0;
}
