/*
 * The fixture of the audit module's tests (test_event.c, test_writer.c, test_verify.c).
 *
 * Each test that touches the store runs on SQLite (a file in a fresh temporary directory, tests
 * named sqlite_*) or on PostgreSQL (a fresh database from store/pg_fixture.h, tests named pg_*,
 * which fail without MANDATE_TEST_PG unless MANDATE_SKIP_PG=1 skips them, as the store's own
 * tests do). Either way the journal and the anchor file live in the temporary directory.
 *
 * The chain hash and the checkpoint MAC are computed here a second time, straight from the
 * formulas in audit.h with OpenSSL, so that a test never checks audit/ against itself.
 *
 * Everything is static inline: each test file includes this header and uses only part of it.
 */
#ifndef MANDATE_TESTS_AUDIT_FIXTURE_H
#define MANDATE_TESTS_AUDIT_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/log.h"
#include "store/pg_fixture.h"
#include "store/store.h"

/* The checkpoint key of the tests: 32 bytes 0x01, 0x02, ... 0x20. */
static const unsigned char fx_key[AUDIT_KEY_LEN] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static bool fx_pg;
static char fx_dir[64];
static char fx_journal[160];
static char fx_anchor[160];

/* ---- the two backends ---- */

static inline void fx_tmpdir(void)
{
    snprintf(fx_dir, sizeof fx_dir, "/tmp/mandate-audit-XXXXXX");
    cr_assert_not_null(mkdtemp(fx_dir));
    snprintf(fx_journal, sizeof fx_journal, "%s/audit.journal", fx_dir);
    snprintf(fx_anchor, sizeof fx_anchor, "%s/audit.anchor", fx_dir);
}

/* Removes every plain file of fx_dir (database, -wal, -shm, journals, anchors), then fx_dir. */
static inline void fx_rmdir(void)
{
    DIR *d;
    struct dirent *de;
    char path[600];

    if (!fx_dir[0] || !(d = opendir(fx_dir)))
        return;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", fx_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(fx_dir);
    fx_dir[0] = '\0';
}

static inline void fx_sq_setup(void)
{
    /* Warnings of recovery (torn lines, recovered events) are expected here: keep output short. */
    log_set_level(LOG_ERROR);
    fx_pg = false;
    fx_tmpdir();
    snprintf(url, sizeof url, "%s/audit.db", fx_dir);
    open_store(4);
}

static inline void fx_sq_teardown(void)
{
    close_store();
    fx_rmdir();
}

static inline void fx_pg_setup(void)
{
    log_set_level(LOG_ERROR);
    fx_pg = true;
    setup(); /* skips, or fails, here when MANDATE_TEST_PG is not set */
    fx_tmpdir();
}

static inline void fx_pg_teardown(void)
{
    teardown();
    fx_rmdir();
}

/*
 * Runs SQL on the test database behind the store's back (several statements: all but the last
 * for their effect); the last one's first value, or "" (heap).
 */
static inline char *fx_sql(const char *sql)
{
    return fx_pg ? sql_db(sql) : sql_sqlite(url, sql);
}

static inline void fx_exec(const char *sql)
{
    free(fx_sql(sql));
}

/* fx_exec of a printf-formatted statement. */
static inline void fx_execf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void fx_execf(const char *fmt, ...)
{
    char sql[65536];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof sql);
    fx_exec(sql);
}

/* s as an SQL string literal ('' for '), for both SQLite and PostgreSQL; heap. */
static inline char *fx_quote(const char *s)
{
    size_t n = strlen(s), j = 0;
    char *q = malloc(2 * n + 3);

    cr_assert_not_null(q);
    q[j++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            q[j++] = '\'';
        q[j++] = s[i];
    }
    q[j++] = '\'';
    q[j] = '\0';
    return q;
}

/* Sets one text column of the row seq to value. */
static inline void fx_set_text(int64_t seq, const char *col, const char *value)
{
    char *q = fx_quote(value);

    fx_execf("UPDATE audit_events SET %s = %s WHERE seq = %" PRId64, col, q, seq);
    free(q);
}

static inline int64_t fx_count(void)
{
    char *v = fx_sql("SELECT count(*) FROM audit_events");
    int64_t n = strtoll(v, NULL, 10);

    free(v);
    return n;
}

/* ---- the formulas of audit.h, again ---- */

static inline void fx_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static inline void fx_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    cr_assert_eq(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
    cr_assert_eq(len, 32);
    fx_hex(md, len, out);
}

/* hex(SHA-256("mandate-audit-v1\n" || prev_hash || "\n" || doc)), in one buffer. */
static inline void fx_chain_hash(const char *prev, const char *doc, char out[65])
{
    size_t n = strlen("mandate-audit-v1\n") + strlen(prev) + 1 + strlen(doc) + 1;
    char *buf = malloc(n);
    int len;

    cr_assert_not_null(buf);
    len = snprintf(buf, n, "mandate-audit-v1\n%s\n%s", prev, doc);
    cr_assert_eq((size_t)len, n - 1);
    fx_sha256_hex(buf, (size_t)len, out);
    free(buf);
}

/* HMAC-SHA-256 under key of "mandate-audit-checkpoint-v1\n<seq>\n<hash>", in hex. */
static inline void fx_mac(const unsigned char key[AUDIT_KEY_LEN], int64_t seq, const char *hash,
                          char out[65])
{
    char msg[200];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int n = snprintf(msg, sizeof msg, "mandate-audit-checkpoint-v1\n%" PRId64 "\n%s", seq, hash);

    cr_assert(n > 0 && (size_t)n < sizeof msg);
    cr_assert_not_null(
        HMAC(EVP_sha256(), key, AUDIT_KEY_LEN, (const unsigned char *)msg, (size_t)n, mac, &len));
    cr_assert_eq(len, 32);
    fx_hex(mac, len, out);
}

/* ---- the rows ---- */

struct fx_row {
    int64_t seq, time_ms;
    char type[32];
    char event_id[40];
    char prev_hash[STORE_AUDIT_HASH_MAX];
    char hash[STORE_AUDIT_HASH_MAX];
    char *doc_text;
    json_t *doc;
};

struct fx_rows {
    struct fx_row *v;
    size_t n, cap;
};

static inline int fx_collect(void *ctx, const struct store_audit_row *r)
{
    struct fx_rows *rows = ctx;
    struct fx_row *x;

    if (rows->n == rows->cap) {
        rows->cap = rows->cap ? 2 * rows->cap : 64;
        rows->v = realloc(rows->v, rows->cap * sizeof *rows->v);
        cr_assert_not_null(rows->v);
    }
    x = &rows->v[rows->n++];
    memset(x, 0, sizeof *x);
    x->seq = r->seq;
    x->time_ms = r->time_ms;
    snprintf(x->type, sizeof x->type, "%s", r->type);
    snprintf(x->event_id, sizeof x->event_id, "%s", r->event_id);
    snprintf(x->prev_hash, sizeof x->prev_hash, "%s", r->prev_hash);
    snprintf(x->hash, sizeof x->hash, "%s", r->hash);
    x->doc_text = strdup(r->doc);
    x->doc = json_loads(r->doc, 0, NULL);
    cr_assert_not_null(x->doc_text);
    return 0;
}

/* Every stored row, oldest first, read through the store on a connection of its own. */
static inline void fx_rows_read(struct fx_rows *rows)
{
    struct md_error e = {0};
    struct store_conn *c = NULL;

    memset(rows, 0, sizeof *rows);
    cr_assert_eq(store_acquire(S, &c, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_audit_scan(c, NULL, fx_collect, rows, &e), MD_OK, "%s", e.msg);
    store_release(c);
}

static inline void fx_rows_free(struct fx_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->v[i].doc_text);
        json_decref(rows->v[i].doc);
    }
    free(rows->v);
    memset(rows, 0, sizeof *rows);
}

static inline bool fx_is_checkpoint(const struct fx_row *r)
{
    return strcmp(r->type, AUDIT_TYPE_CHECKPOINT) == 0;
}

/*
 * Checks the chain as audit.h defines it, independently of verify.c: seq 1..n without a gap,
 * each prev_hash the hash before it, each hash the formula's, each document's seq, type and id
 * its row's, and each checkpoint vouching for the row before it with the MAC under key (NULL:
 * the MAC must be null). Returns the number of checkpoints.
 */
static inline int fx_chain_check(const struct fx_rows *rows, const unsigned char *key)
{
    int checkpoints = 0;

    for (size_t i = 0; i < rows->n; i++) {
        const struct fx_row *r = &rows->v[i];
        char want[65];

        cr_assert_eq(r->seq, (int64_t)i + 1, "row %zu has seq %" PRId64, i, r->seq);
        cr_assert_str_eq(r->prev_hash, i ? rows->v[i - 1].hash : "", "seq %" PRId64, r->seq);
        fx_chain_hash(r->prev_hash, r->doc_text, want);
        cr_assert_str_eq(r->hash, want, "seq %" PRId64, r->seq);
        cr_assert(json_is_object(r->doc), "seq %" PRId64 ": %s", r->seq, r->doc_text);
        cr_assert_eq(json_integer_value(json_object_get(r->doc, "seq")), r->seq);
        cr_assert_str_eq(json_string_value(json_object_get(r->doc, "type")), r->type);
        cr_assert_str_eq(json_string_value(json_object_get(r->doc, "id")), r->event_id);
        if (fx_is_checkpoint(r)) {
            const json_t *cp = json_object_get(r->doc, "checkpoint");
            const json_t *mac = json_object_get(r->doc, "mac");

            cr_assert_gt(i, 0, "a checkpoint cannot come first");
            cr_assert_eq(json_integer_value(json_object_get(cp, "seq")), rows->v[i - 1].seq);
            cr_assert_str_eq(json_string_value(json_object_get(cp, "hash")), rows->v[i - 1].hash);
            if (key) {
                fx_mac(key, rows->v[i - 1].seq, rows->v[i - 1].hash, want);
                cr_assert_str_eq(json_string_value(mac), want, "checkpoint %" PRId64, r->seq);
            } else {
                cr_assert(json_is_null(mac), "checkpoint %" PRId64 " has a MAC without a key",
                          r->seq);
            }
            checkpoints++;
        }
    }
    return checkpoints;
}

/* ---- the log ---- */

/*
 * The configuration the tests start from: the store, the key, the journal and anchor in the
 * temporary directory, no writer thread (so that every store is a visible audit_flush).
 */
static inline struct audit_config fx_config(void)
{
    struct audit_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.store = S;
    cfg.key = fx_key;
    cfg.journal_path = fx_journal;
    cfg.anchor_path = fx_anchor;
    cfg.no_writer_thread = true;
    return cfg;
}

static inline struct audit *fx_open(const struct audit_config *cfg)
{
    struct md_error e = {0};
    struct audit *a = NULL;

    cr_assert_eq(audit_open(cfg, &a, &e), MD_OK, "%s", e.msg);
    cr_assert_not_null(a);
    return a;
}

static inline void fx_flush(struct audit *a)
{
    struct md_error e = {0};

    cr_assert_eq(audit_flush(a, &e), MD_OK, "%s", e.msg);
}

/* A tool.call event numbered n (a new reference). */
static inline json_t *fx_event(int n)
{
    json_t *ev =
        json_pack("{s:s, s:i, s:s, s:{s:s, s:b}}", "type", AUDIT_TYPE_TOOL_CALL, "n", n, "tool",
                  "pay__refund", "user", "userName", "ann@example.com", "active", 1);

    cr_assert_not_null(ev);
    return ev;
}

/* The same, at a given time (RFC 3339), which audit_record keeps. */
static inline json_t *fx_event_at(int n, const char *time)
{
    json_t *ev = fx_event(n);

    json_object_set_new(ev, "time", json_string(time));
    return ev;
}

static inline struct audit_verify_report fx_verify(const unsigned char *key, const char *anchor)
{
    struct audit_verify_opts o;
    struct audit_verify_report r;
    struct md_error e = {0};

    memset(&o, 0, sizeof o);
    o.key = key;
    o.anchor_path = anchor;
    cr_assert_eq(audit_verify(S, &o, &r, &e), MD_OK, "%s", e.msg);
    return r;
}

/* The size of a file, or -1 when it does not exist. */
static inline long long fx_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* A whole (small) file's contents (heap), or NULL when it does not exist. */
static inline char *fx_file_read(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;

    if (!f)
        return NULL;
    buf = calloc(1, 1 << 22);
    cr_assert_not_null(buf);
    n = fread(buf, 1, (1 << 22) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static inline void fx_file_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fputs(text, f) >= 0, true);
    cr_assert_eq(fclose(f), 0);
}

#endif
