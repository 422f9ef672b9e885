/*
 * The audit log's push sinks: a signed HTTPS webhook and syslog (sink.h says what each
 * promises). Each sink is a thread that reads the store after its cursor, delivers, and moves
 * the cursor once the receiver has the events; so it needs nothing from the writer and sees
 * every node's events when several share one PostgreSQL database.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/sink.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"
#include "store/store.h"

/* A webhook request's limits: connecting, and the whole exchange. */
#define CONNECT_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MS 10000
/* A syslog connection's limits, and the slice in which a stop is noticed while waiting. */
#define SOCKET_TIMEOUT_MS 5000
#define WAIT_SLICE_MS 100
/* UDP carries at most 65,507 bytes over IPv4; a larger limit could never be sent. */
#define UDP_LIMIT 65000
#define USER_AGENT "mandate-audit-sink/1"

enum sink_kind { SINK_WEBHOOK, SINK_SYSLOG };

struct item {
    int64_t seq;
    json_t *ev;
};

struct batch {
    struct item items[AUDIT_SINK_BATCH_MAX];
    size_t n;
};

/* What one delivery did: the last seq the receiver has, and why it stopped short. */
struct outcome {
    int64_t acked; /* 0: nothing delivered */
    bool failed;
    char why[200];
};

struct sink {
    struct audit_sinks *owner;
    enum sink_kind kind;
    const char *name; /* the cursor's name */
    char holder_name[48], until_name[48];
    pthread_t thread;
    bool started;

    /* The sink thread's own. */
    int64_t cursor;     /* the last seq delivered */
    bool leased;        /* this node delivers */
    bool standby_said;  /* the standby was logged */
    int64_t lease_mono; /* when the lease was last taken or renewed */
    int attempt;        /* failed deliveries in a row */
    char where[300];    /* scheme://host:port, for logs: a URL's path or query may hold a token */
    struct batch batch;

    /* webhook */
    CURL *easy;
    struct buf body;

    /* syslog */
    struct audit_syslog_addr addr;
    struct audit_syslog_fmt fmt;
    char hostname[256];
    int fd;
    struct buf msg;
};

struct audit_sinks {
    struct store *store;
    int64_t holder;
    unsigned char secret[AUDIT_SINK_SECRET_MAX];
    size_t secret_len;
    char *url;
    char *ca_file;
    bool allow_http;
    int retry_min_ms, retry_max_ms, poll_ms, lease_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* a stop */
    atomic_bool stopping;
    _Atomic int64_t deadline; /* monotonic: the end of the grace, once stopping */

    struct sink sinks[2];
    int n;
};

/* ---- the pure parts ---- */

void audit_webhook_sign(const void *secret, size_t secret_len, int64_t t, const char *body,
                        size_t body_len, char out[AUDIT_SINK_SIGNATURE_LEN])
{
    unsigned char mac[CRYPTO_HMAC_SHA256_LEN];
    char hex[2 * CRYPTO_HMAC_SHA256_LEN + 1];
    struct buf msg;

    /* Stripe's signed payload: the timestamp, a dot, the raw body. */
    buf_init(&msg, 0);
    buf_appendf(&msg, "%" PRId64 ".", t);
    buf_append(&msg, body, body_len);
    if (msg.err) {
        out[0] = '\0';
        buf_free(&msg);
        return;
    }
    crypto_hmac_sha256(secret, secret_len, msg.p, msg.len, mac);
    crypto_hex(mac, sizeof mac, hex);
    snprintf(out, AUDIT_SINK_SIGNATURE_LEN, "t=%" PRId64 ",v1=%s", t, hex);
    explicit_bzero(mac, sizeof mac);
    buf_free(&msg);
}

enum md_err audit_syslog_url_parse(const char *url, struct audit_syslog_addr *out,
                                   struct md_error *e)
{
    const char *h, *end, *colon = NULL;
    size_t hl;

    memset(out, 0, sizeof *out);
    if (!url)
        url = "";
    if (strncmp(url, "udp://", 6) == 0) {
        out->proto = AUDIT_SYSLOG_UDP;
    } else if (strncmp(url, "tcp://", 6) == 0) {
        out->proto = AUDIT_SYSLOG_TCP;
    } else {
        return md_error_set(e, MD_ERR_VALUE,
                            "the syslog destination must be udp://HOST[:PORT] or "
                            "tcp://HOST[:PORT]");
    }
    h = url + 6;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end || end == h + 1)
            return md_error_set(e, MD_ERR_VALUE, "the syslog destination has a bad IPv6 address");
        hl = (size_t)(end - h - 1);
        h++;
        end++;
        if (*end == ':')
            colon = end;
        else if (*end)
            return md_error_set(e, MD_ERR_VALUE, "the syslog destination has junk after its host");
    } else {
        end = h + strcspn(h, ":/?#@");
        hl = (size_t)(end - h);
        if (*end == ':')
            colon = end;
        else if (*end)
            return md_error_set(e, MD_ERR_VALUE,
                                "the syslog destination is HOST[:PORT] only (no user, path or "
                                "query)");
    }
    if (hl == 0 || hl >= sizeof out->host)
        return md_error_set(e, MD_ERR_VALUE, "the syslog destination needs a host");
    memcpy(out->host, h, hl);
    out->host[hl] = '\0';
    if (colon) {
        long long port;
        if (!str_to_ll(colon + 1, strlen(colon + 1), 1, 65535, &port) || colon[1] == '+' ||
            colon[1] == '-')
            return md_error_set(e, MD_ERR_VALUE,
                                "the syslog destination's port must be a number from 1 to 65535");
        snprintf(out->port, sizeof out->port, "%lld", port);
    } else {
        /* 514/udp (RFC 5426 3.3); 601/tcp, the syslog-conn port that collectors listen on. */
        snprintf(out->port, sizeof out->port, "%s", out->proto == AUDIT_SYSLOG_UDP ? "514" : "601");
    }
    return MD_OK;
}

int audit_syslog_facility_parse(const char *s)
{
    /* RFC 5424 6.2.1, table 1, under the names syslog.h gives them. */
    static const char *const names[] = {
        "kern", "user", "mail",     "daemon", "auth", "syslog", "lpr",   "news",
        "uucp", "cron", "authpriv", "ftp",    "ntp",  "audit",  "alert", "clock",
    };
    long long n;

    if (!s || !*s)
        return -1;
    if (str_to_ll(s, strlen(s), 0, 23, &n) && s[0] != '+' && s[0] != '-')
        return (int)n;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i]) == 0)
            return (int)i;
    }
    if (strncasecmp(s, "local", 5) == 0 && s[5] >= '0' && s[5] <= '7' && s[6] == '\0')
        return 16 + (s[5] - '0');
    return -1;
}

void audit_syslog_sd_escape(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\' || s[i] == ']')
            buf_append_char(out, '\\');
        buf_append_char(out, s[i]);
    }
}

/* Appends a header field: PRINTUSASCII only (RFC 5424 6), at most max, "-" when nothing is left. */
static void append_field(struct buf *out, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++) {
        if (*s >= 33 && *s <= 126) {
            buf_append_char(out, *s);
            n++;
        }
    }
    if (n == 0)
        buf_append_char(out, '-');
}

static void append_param(struct buf *out, const char *name, const char *value)
{
    /* A value from a client (a userName) is capped, and cut where UTF-8 allows. */
    size_t len = strlen(value);
    buf_appendf(out, " %s=\"", name);
    audit_syslog_sd_escape(value, str_utf8_cut(value, len, 256), out);
    buf_append_char(out, '"');
}

static int severity_of(const char *type)
{
    if (strcmp(type, AUDIT_TYPE_AUTH_FAILURE) == 0)
        return 4;
    if (strcmp(type, AUDIT_TYPE_TOOL_DENIED) == 0)
        return 5;
    return 6;
}

/* HEADER SP STRUCTURED-DATA, without MSG. */
static void syslog_head(const json_t *ev, const struct audit_syslog_fmt *f, bool truncated,
                        struct buf *out)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *time = json_string_value(json_object_get(ev, "time"));
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *hash = json_string_value(json_object_get(ev, "hash"));
    const char *user = json_string_value(json_object_get(json_object_get(ev, "user"), "userName"));
    const char *tool = json_string_value(json_object_get(ev, "tool"));
    const json_t *seq = json_object_get(ev, "seq");
    char ts[TIME_RFC3339_LEN];
    int64_t ms;

    buf_appendf(out, "<%d>1 ", f->facility * 8 + severity_of(type ? type : ""));
    /* The event's own time, in the one form RFC 5424 6.2.3 allows (UTC, milliseconds). */
    if (time && time_parse_rfc3339(time, &ms) && ms >= 0) {
        time_format_ms(ms, ts);
        buf_append_cstr(out, ts);
    } else {
        buf_append_char(out, '-');
    }
    buf_append_char(out, ' ');
    append_field(out, f->hostname, 255);
    buf_append_cstr(out, " mandate ");
    if (f->procid > 0)
        buf_appendf(out, "%d", f->procid);
    else
        buf_append_char(out, '-');
    buf_append_char(out, ' ');
    append_field(out, type, 32);
    buf_append_cstr(out, " [" AUDIT_SYSLOG_SD_ID);
    if (json_is_integer(seq))
        buf_appendf(out, " seq=\"%" JSON_INTEGER_FORMAT "\"", json_integer_value(seq));
    if (id)
        append_param(out, "id", id);
    if (hash)
        append_param(out, "hash", hash);
    if (user)
        append_param(out, "user", user);
    if (tool)
        append_param(out, "tool", tool);
    if (truncated)
        buf_append_cstr(out, " truncated=\"1\"");
    buf_append_char(out, ']');
}

/* The MSG of an event too large for the transport: what finds it again, and its size. */
static char *short_msg(const json_t *ev, size_t full)
{
    json_t *s = json_object();
    static const char *const keep[] = {"seq", "id", "type", "time", "hash", "tool"};
    char *out;

    if (!s)
        return NULL;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(ev, keep[i]);
        if (v)
            json_object_set(s, keep[i], v);
    }
    json_object_set_new(s, "truncated", json_true());
    json_object_set_new(s, "bytes", json_integer((json_int_t)full));
    out = json_text(s, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII, NULL);
    json_decref(s);
    return out;
}

void audit_syslog_format(const json_t *ev, const struct audit_syslog_fmt *f, struct buf *out)
{
    /* ASCII JSON: MSG is then MSG-ANY (RFC 5424 6.4), with no BOM for collectors to trip on. */
    char *msg = json_text(ev, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII, NULL);
    size_t start = out->len, mlen;

    if (!msg) {
        out->err = MD_ERR_NOMEM;
        return;
    }
    mlen = strlen(msg);
    syslog_head(ev, f, false, out);
    if (f->max && out->len - start + 1 + mlen > f->max) {
        char *s = short_msg(ev, mlen);
        free(msg);
        if (!s) {
            out->err = MD_ERR_NOMEM;
            return;
        }
        msg = s;
        mlen = strlen(msg);
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
        syslog_head(ev, f, true, out);
    }
    buf_append_char(out, ' ');
    buf_append(out, msg, mlen);
    free(msg);
    /* A limit below even the short form: the message is cut, as a receiver would (6.1). */
    if (f->max && !out->err && out->len - start > f->max) {
        out->len = start + f->max;
        out->p[out->len] = '\0';
    }
}

int64_t audit_sink_backoff_ms(int attempt, int min_ms, int max_ms, uint32_t rnd)
{
    int64_t d = min_ms > 0 ? min_ms : 1, cap = max_ms > d ? max_ms : d, half;

    for (int i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    /* Equal jitter: never less than half the step, so that the backoff still grows. */
    half = d / 2;
    return half + (int64_t)(rnd % (uint32_t)(d - half + 1));
}

int64_t audit_sink_node_id(const char *node)
{
    char hex[CRYPTO_SHA256_HEX_LEN];
    uint64_t v = 0;

    crypto_sha256_hex(node ? node : "", node ? strlen(node) : 0, hex);
    for (int i = 0; i < 16; i++)
        v = v << 4 | (uint64_t)str_hex_digit(hex[i]);
    v &= INT64_MAX;
    return v ? (int64_t)v : 1;
}

enum md_err audit_sink_secret_load(const char *env_value, const char *file,
                                   unsigned char out[AUDIT_SINK_SECRET_MAX], size_t *len,
                                   struct md_error *e)
{
    unsigned char tmp[AUDIT_SINK_SECRET_MAX + 1];
    struct stat st;
    size_t n = 0;
    int fd = -1;
    enum md_err rc = MD_OK;

    *len = 0;
    if (env_value && *env_value) {
        n = strlen(env_value);
        if (n > AUDIT_SINK_SECRET_MAX) {
            rc = md_error_set(e, MD_ERR_VALUE,
                              "MANDATE_AUDIT_WEBHOOK_SECRET is longer than %d bytes",
                              AUDIT_SINK_SECRET_MAX);
            goto out;
        }
        memcpy(tmp, env_value, n);
    } else if (file && *file) {
        ssize_t r;
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = md_error_set(e, MD_ERR_VALUE, "cannot read the webhook secret file %.120s: %s",
                              file, strerror(errno));
            goto out;
        }
        if (fstat(fd, &st) == 0 && (st.st_mode & 077))
            log_warn("event=audit_webhook_secret_file_readable path=%s note=\"others than its "
                     "owner may read it: chmod 600\"",
                     file);
        while (n < sizeof tmp && (r = read(fd, tmp + n, sizeof tmp - n)) != 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = md_error_set(e, MD_ERR_VALUE, "cannot read the webhook secret file %.120s",
                                  file);
                goto out;
            }
            n += (size_t)r;
        }
        if (n > AUDIT_SINK_SECRET_MAX) {
            rc = md_error_set(e, MD_ERR_VALUE,
                              "the webhook secret file %.120s holds more than %d bytes", file,
                              AUDIT_SINK_SECRET_MAX);
            goto out;
        }
        /* Editors and `echo` end files with a newline that is no part of the secret. */
        while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r' || tmp[n - 1] == ' ' ||
                         tmp[n - 1] == '\t'))
            n--;
    } else {
        rc = md_error_set(e, MD_ERR_VALUE,
                          "the audit webhook needs a secret: MANDATE_AUDIT_WEBHOOK_SECRET or "
                          "--audit-webhook-secret-file");
        goto out;
    }
    if (n < AUDIT_SINK_SECRET_MIN) {
        rc = md_error_set(e, MD_ERR_VALUE,
                          "the audit webhook secret is shorter than %d bytes; make one with "
                          "`openssl rand -hex 32`",
                          AUDIT_SINK_SECRET_MIN);
        goto out;
    }
    memcpy(out, tmp, n);
    *len = n;
out:
    if (fd >= 0)
        close(fd);
    explicit_bzero(tmp, sizeof tmp);
    return rc;
}

/* ---- waiting, and stopping ---- */

/* Whether the sinks must give up what they are doing: stopping, and the grace is over. */
static bool out_of_time(struct audit_sinks *s)
{
    return atomic_load(&s->stopping) && time_mono_ms() >= atomic_load(&s->deadline);
}

/* Waits ms, or less when the sinks are told to stop; true when they are. */
static bool nap(struct audit_sinks *s, int64_t ms)
{
    int64_t end = time_mono_ms() + ms;
    bool stop;

    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stopping)) {
        int64_t left = end - time_mono_ms();
        struct timespec ts;
        if (left <= 0)
            break;
        ts = time_deadline(CLOCK_MONOTONIC, left);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    stop = atomic_load(&s->stopping);
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* ---- the lease and the cursor ---- */

/*
 * One transaction under the log's writer lock (so that nodes see one another's lease rows in
 * order): takes or renews this node's lease, or finds another node's. With ack > 0 it also
 * moves the cursor, but only when this node has held the lease since it last read the cursor.
 * With release, gives the lease up. Sets k->leased and, on taking the lease, k->cursor.
 */
static enum md_err lease_txn(struct sink *k, int64_t ack, bool release, struct md_error *e)
{
    struct audit_sinks *s = k->owner;
    struct store_conn *c = NULL;
    char hash[STORE_AUDIT_HASH_MAX];
    int64_t tail = 0, holder = 0, until = 0, now, mono = time_mono_ms();
    bool was = k->leased, mine;
    enum md_err rc;

    if ((rc = store_acquire(s->store, &c, e)))
        goto fail;
    if ((rc = store_begin(c, e)) || (rc = store_audit_tail(c, &tail, hash, e)) ||
        (rc = store_audit_cursor_get(c, k->holder_name, &holder, e)) ||
        (rc = store_audit_cursor_get(c, k->until_name, &until, e)))
        goto out;
    now = time_now_ms();
    mine = holder == s->holder;
    if (release) {
        if (mine && ((rc = store_audit_cursor_set(c, k->holder_name, 0, e)) ||
                     (rc = store_audit_cursor_set(c, k->until_name, 0, e))))
            goto out;
        rc = store_commit(c, e);
        k->leased = false;
        goto out;
    }
    if (!mine && holder != 0 && until > now) {
        /* Another node delivers. */
        store_rollback(c);
        k->leased = false;
        if (!k->standby_said) {
            log_info("event=audit_sink_standby sink=%s holder=%016" PRIx64
                     " note=\"another node delivers\"",
                     k->name, (uint64_t)holder);
            k->standby_said = true;
        }
        goto out;
    }
    if (ack > 0 && mine && was) {
        if ((rc = store_audit_cursor_set(c, k->name, ack, e)))
            goto out;
    } else if (ack > 0 || !mine || !was) {
        /* Taken afresh: where the sink stands is what the store says, whoever moved it. */
        if ((rc = store_audit_cursor_get(c, k->name, &k->cursor, e)))
            goto out;
    }
    if ((rc = store_audit_cursor_set(c, k->holder_name, s->holder, e)) ||
        (rc = store_audit_cursor_set(c, k->until_name, now + s->lease_ms, e)) ||
        (rc = store_commit(c, e)))
        goto out;
    k->leased = true;
    k->lease_mono = mono;
    k->standby_said = false;
    if (!was)
        log_info("event=audit_sink_active sink=%s to=%s cursor=%" PRId64 " tail=%" PRId64, k->name,
                 k->where, k->cursor, tail);
out:
    if (rc)
        store_rollback(c);
    store_release(c);
fail:
    if (rc)
        k->leased = false;
    return rc;
}

/* ---- reading ---- */

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        json_decref(b->items[i].ev);
    b->n = 0;
}

static int collect(void *ctx, json_t *ev)
{
    struct batch *b = ctx;
    b->items[b->n].seq = json_integer_value(json_object_get(ev, "seq"));
    b->items[b->n].ev = json_incref(ev);
    b->n++;
    return b->n >= AUDIT_SINK_BATCH_MAX;
}

static enum md_err fetch(struct sink *k, struct md_error *e)
{
    struct audit_query q = {
        .after_seq = k->cursor, .oldest_first = true, .limit = AUDIT_SINK_BATCH_MAX};
    enum md_err rc;

    batch_clear(&k->batch);
    rc = audit_query_run(k->owner->store, &q, collect, &k->batch, NULL, e);
    /* Only a prune removes events, so a hole is one: say so, and go on with what is there. */
    if (rc == MD_OK && k->batch.n > 0 && k->batch.items[0].seq != k->cursor + 1)
        log_warn("event=audit_sink_gap sink=%s missing_from=%" PRId64 " missing_to=%" PRId64
                 " note=\"pruned before this sink delivered them\"",
                 k->name, k->cursor + 1, k->batch.items[0].seq - 1);
    return rc;
}

/* ---- the webhook ---- */

static size_t discard(char *p, size_t size, size_t n, void *cls)
{
    (void)p;
    (void)cls;
    return size * n;
}

static int on_progress(void *cls, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return out_of_time(cls) ? 1 : 0;
}

/* Builds the sink's handle; what changes per request (headers, body) is set then. */
static enum md_err webhook_open(struct sink *k, struct md_error *e)
{
    struct audit_sinks *s = k->owner;
    CURL *h = curl_easy_init();
    CURLcode rc;

    if (!h)
        return md_error_set(e, MD_ERR_NOMEM, "cannot create an HTTP handle");
    rc = curl_easy_setopt(h, CURLOPT_URL, s->url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, s->allow_http ? "http,https" : "https");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)s);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_POST, 1L);
    if (rc == CURLE_OK && s->ca_file)
        rc = curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(h);
        return md_error_set(e, MD_ERR_INTERNAL, "cannot set up the webhook's HTTP handle: %s",
                            curl_easy_strerror(rc));
    }
    k->easy = h;
    return MD_OK;
}

static void webhook_deliver(struct sink *k, struct outcome *o)
{
    struct audit_sinks *s = k->owner;
    struct curl_slist *hdrs = NULL;
    char sig[AUDIT_SINK_SIGNATURE_LEN], lines[5][AUDIT_SINK_SIGNATURE_LEN + 32];
    size_t n = 0;
    int64_t first = k->batch.items[0].seq, last = first;
    long status = 0;
    CURLcode rc;

    /* As many events as fit the body's bound, and always one: one too large goes alone. */
    buf_reset(&k->body);
    buf_append_char(&k->body, '[');
    for (; n < k->batch.n; n++) {
        char *doc = json_text(k->batch.items[n].ev,
                              JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII, NULL);
        size_t dl = doc ? strlen(doc) : 0;
        if (!doc) {
            k->body.err = MD_ERR_NOMEM;
            break;
        }
        if (n > 0 && k->body.len + dl + 2 > AUDIT_SINK_BODY_MAX) {
            free(doc);
            break;
        }
        if (n > 0)
            buf_append_char(&k->body, ',');
        buf_append(&k->body, doc, dl);
        free(doc);
        last = k->batch.items[n].seq;
    }
    buf_append_char(&k->body, ']');
    if (k->body.err || n == 0) {
        o->failed = true;
        snprintf(o->why, sizeof o->why, "out of memory building the request");
        return;
    }
    /* A fresh timestamp and signature on every attempt, retries included, as Stripe does. */
    audit_webhook_sign(s->secret, s->secret_len, time_now_ms() / 1000, k->body.p, k->body.len, sig);
    snprintf(lines[0], sizeof lines[0], "X-Mandate-Signature: %s", sig);
    snprintf(lines[1], sizeof lines[1], "X-Mandate-First-Seq: %" PRId64, first);
    snprintf(lines[2], sizeof lines[2], "X-Mandate-Last-Seq: %" PRId64, last);
    snprintf(lines[3], sizeof lines[3], "Content-Type: application/json");
    /* A large body must not wait a second for a "100 Continue" that receivers rarely send. */
    snprintf(lines[4], sizeof lines[4], "Expect:");
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *l = curl_slist_append(hdrs, lines[i]);
        if (!l) {
            curl_slist_free_all(hdrs);
            o->failed = true;
            snprintf(o->why, sizeof o->why, "out of memory building the request");
            return;
        }
        hdrs = l;
    }
    rc = curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, hdrs);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(k->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)k->body.len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(k->easy, CURLOPT_POSTFIELDS, k->body.p);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(k->easy);
    if (rc == CURLE_OK)
        curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        o->failed = true;
        snprintf(o->why, sizeof o->why, "%s",
                 rc == CURLE_ABORTED_BY_CALLBACK ? "stopped" : curl_easy_strerror(rc));
        return;
    }
    if (status < 200 || status > 299) {
        o->failed = true;
        snprintf(o->why, sizeof o->why, "the receiver answered %ld", status);
        return;
    }
    o->acked = last;
}

/* ---- syslog ---- */

static void syslog_close(struct sink *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

/* Waits for events on fd within ms, in slices that notice the end of a stop's grace. */
static int wait_fd(struct audit_sinks *s, int fd, short events, int64_t ms)
{
    int64_t end = time_mono_ms() + ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int64_t left = end - time_mono_ms();
        int r;
        if (left <= 0 || out_of_time(s))
            return 0;
        r = poll(&p, 1, (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS));
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            return 1;
    }
}

static bool syslog_connect(struct sink *k, struct outcome *o)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    int gai, fd = -1;

    hints.ai_socktype = k->addr.proto == AUDIT_SYSLOG_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    gai = getaddrinfo(k->addr.host, k->addr.port, &hints, &res);
    if (gai != 0) {
        snprintf(o->why, sizeof o->why, "cannot resolve %.80s: %s", k->addr.host,
                 gai_strerror(gai));
        return false;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int err = 0;
        socklen_t el = sizeof err;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(k->owner, fd, POLLOUT, SOCKET_TIMEOUT_MS) > 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
            break;
        snprintf(o->why, sizeof o->why, "cannot connect: %s",
                 strerror(err                    ? err
                          : errno == EINPROGRESS ? ETIMEDOUT
                                                 : errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return false;
    k->fd = fd;
    return true;
}

/* A collector never writes to us: a readable TCP socket is one the collector closed. */
static bool tcp_peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    if (poll(&p, 1, 0) <= 0)
        return false;
    return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0 || (p.revents & (POLLHUP | POLLERR));
}

static bool send_all(struct sink *k, const char *p, size_t len, struct outcome *o)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(k->fd, p + off, len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(k->owner, k->fd, POLLOUT, SOCKET_TIMEOUT_MS) > 0)
                continue;
            snprintf(o->why, sizeof o->why, "the collector takes no more data");
            return false;
        }
        if (w < 0 && errno == EINTR)
            continue;
        snprintf(o->why, sizeof o->why, "cannot send: %s", w < 0 ? strerror(errno) : "closed");
        return false;
    }
    return true;
}

static void syslog_deliver(struct sink *k, struct outcome *o)
{
    for (size_t i = 0; i < k->batch.n; i++) {
        const char *p;
        size_t len;
        if (k->fd >= 0 && k->addr.proto == AUDIT_SYSLOG_TCP && tcp_peer_gone(k->fd))
            syslog_close(k);
        if (k->fd < 0 && !syslog_connect(k, o)) {
            o->failed = true;
            return;
        }
        buf_reset(&k->msg);
        audit_syslog_format(k->batch.items[i].ev, &k->fmt, &k->msg);
        if (k->msg.err) {
            o->failed = true;
            snprintf(o->why, sizeof o->why, "out of memory formatting the message");
            return;
        }
        p = k->msg.p;
        len = k->msg.len;
        if (k->addr.proto == AUDIT_SYSLOG_TCP) {
            /* RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG, the length in octets. */
            char pre[24];
            int pl = snprintf(pre, sizeof pre, "%zu ", len);
            if (!send_all(k, pre, (size_t)pl, o) || !send_all(k, p, len, o)) {
                syslog_close(k);
                o->failed = true;
                return;
            }
        } else {
            ssize_t w;
            /* A burst can fill the socket's buffer: wait for room rather than fail. */
            while ((w = send(k->fd, p, len, MSG_NOSIGNAL)) < 0 &&
                   (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) &&
                                       wait_fd(k->owner, k->fd, POLLOUT, SOCKET_TIMEOUT_MS) > 0)))
                ;
            if (w != (ssize_t)len) {
                /* A connected UDP socket reports an earlier ICMP "port unreachable" here. */
                snprintf(o->why, sizeof o->why, "cannot send: %s",
                         w < 0 ? strerror(errno) : "short datagram");
                syslog_close(k);
                o->failed = true;
                return;
            }
        }
        o->acked = k->batch.items[i].seq;
    }
}

/* ---- the sink thread ---- */

static void *sink_main(void *arg)
{
    struct sink *k = arg;
    struct audit_sinks *s = k->owner;
    struct md_error e;

    for (;;) {
        bool draining = atomic_load(&s->stopping);
        struct outcome o = {0};
        uint32_t rnd = 0;
        int64_t wait;

        if (out_of_time(s))
            break;
        md_error_clear(&e);
        if (!k->leased || time_mono_ms() - k->lease_mono >= s->lease_ms / 3) {
            if (lease_txn(k, 0, false, &e) != MD_OK) {
                if (draining)
                    break;
                log_warn("event=audit_sink_store_failed sink=%s error=\"%s\"", k->name, e.msg);
                nap(s, s->retry_max_ms < 5000 ? s->retry_max_ms : 5000);
                continue;
            }
            if (!k->leased) {
                if (draining)
                    break;
                nap(s, s->lease_ms / 3);
                continue;
            }
        }
        if (fetch(k, &e) != MD_OK) {
            if (draining)
                break;
            log_warn("event=audit_sink_read_failed sink=%s error=\"%s\"", k->name, e.msg);
            nap(s, s->retry_max_ms < 5000 ? s->retry_max_ms : 5000);
            continue;
        }
        if (k->batch.n == 0) {
            /* Caught up: a stopping server's sink is done; one woken by the stop looks again. */
            if (draining)
                break;
            nap(s, s->poll_ms);
            continue;
        }
        if (k->kind == SINK_WEBHOOK)
            webhook_deliver(k, &o);
        else
            syslog_deliver(k, &o);
        if (o.acked > 0) {
            int64_t before = k->cursor;
            k->cursor = o.acked;
            if (k->attempt > 0 && !o.failed) {
                log_info("event=audit_sink_recovered sink=%s to=%s after_attempts=%d", k->name,
                         k->where, k->attempt);
                k->attempt = 0;
            }
            md_error_clear(&e);
            if (lease_txn(k, o.acked, false, &e) != MD_OK)
                log_warn("event=audit_sink_cursor_failed sink=%s seq=%" PRId64
                         " error=\"%s\" note=\"delivered again after a restart\"",
                         k->name, o.acked, e.msg);
            else if (!k->leased)
                log_warn("event=audit_sink_lease_lost sink=%s from=%" PRId64 " to=%" PRId64,
                         k->name, before + 1, o.acked);
        }
        if (!o.failed)
            continue;
        if (draining) {
            log_warn("event=audit_sink_undelivered sink=%s to=%s cursor=%" PRId64
                     " reason=\"%s\" note=\"delivered after the next start\"",
                     k->name, k->where, k->cursor, o.why);
            break;
        }
        k->attempt++;
        crypto_random(&rnd, sizeof rnd);
        wait = audit_sink_backoff_ms(k->attempt, s->retry_min_ms, s->retry_max_ms, rnd);
        log_warn("event=audit_sink_failed sink=%s to=%s from_seq=%" PRId64
                 " attempt=%d retry_ms=%" PRId64 " reason=\"%s\"",
                 k->name, k->where, k->cursor + 1, k->attempt, wait, o.why);
        if (nap(s, wait) && out_of_time(s))
            break;
    }
    batch_clear(&k->batch);
    if (k->leased) {
        md_error_clear(&e);
        lease_txn(k, 0, true, &e);
    }
    log_info("event=audit_sink_stopped sink=%s cursor=%" PRId64, k->name, k->cursor);
    return NULL;
}

/* ---- start and stop ---- */

int audit_sinks_count(const struct audit_sinks_config *cfg)
{
    return (cfg->webhook_url && *cfg->webhook_url) + (cfg->syslog_url && *cfg->syslog_url);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Checks the webhook URL: https (or http when allowed), a host; *where gets scheme://host:port. */
static enum md_err webhook_url_check(const char *url, bool allow_http, char *where, size_t n,
                                     struct md_error *e)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    enum md_err rc = MD_OK;

    if (!u)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = md_error_set(e, MD_ERR_VALUE, "the audit webhook URL does not parse");
        goto out;
    }
    if (strcasecmp(scheme, "https") != 0 && !(allow_http && strcasecmp(scheme, "http") == 0)) {
        rc = md_error_set(e, MD_ERR_VALUE,
                          "the audit webhook URL must be https:// (http:// only with "
                          "MANDATE_UPSTREAM_HTTP=1, for tests)");
        goto out;
    }
    snprintf(where, n, "%s://%s:%s", scheme, host, port);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void sinks_free(struct audit_sinks *s)
{
    for (int i = 0; i < s->n; i++) {
        struct sink *k = &s->sinks[i];
        if (k->easy)
            curl_easy_cleanup(k->easy);
        syslog_close(k);
        buf_free(&k->body);
        buf_free(&k->msg);
        batch_clear(&k->batch);
    }
    explicit_bzero(s->secret, sizeof s->secret);
    if (s->url) {
        /* The URL may carry the receiver's credentials. */
        explicit_bzero(s->url, strlen(s->url));
        free(s->url);
    }
    free(s->ca_file);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static struct sink *sink_add(struct audit_sinks *s, enum sink_kind kind, const char *name)
{
    struct sink *k = &s->sinks[s->n++];
    k->owner = s;
    k->kind = kind;
    k->name = name;
    k->fd = -1;
    snprintf(k->holder_name, sizeof k->holder_name, "%s.lease_holder", name);
    snprintf(k->until_name, sizeof k->until_name, "%s.lease_until", name);
    buf_init(&k->body, 0);
    buf_init(&k->msg, 0);
    return k;
}

enum md_err audit_sinks_start(const struct audit_sinks_config *cfg, struct audit_sinks **out,
                              struct md_error *e)
{
    struct audit_sinks *s = NULL;
    pthread_condattr_t ca;
    enum md_err rc = MD_OK;

    *out = NULL;
    if (audit_sinks_count(cfg) == 0)
        return MD_OK;
    s = calloc(1, sizeof *s);
    if (!s)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->store = cfg->store;
    s->holder = audit_sink_node_id(cfg->node);
    s->allow_http = cfg->allow_http;
    s->retry_min_ms = cfg->retry_min_ms > 0 ? cfg->retry_min_ms : AUDIT_SINK_RETRY_MIN_MS;
    s->retry_max_ms = cfg->retry_max_ms > 0 ? cfg->retry_max_ms : AUDIT_SINK_RETRY_MAX_MS;
    if (s->retry_max_ms < s->retry_min_ms)
        s->retry_max_ms = s->retry_min_ms;
    s->poll_ms = cfg->poll_ms > 0 ? cfg->poll_ms : AUDIT_SINK_POLL_MS;
    s->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : AUDIT_SINK_LEASE_MS;
    if (s->lease_ms < 300)
        s->lease_ms = 300;

    if (cfg->webhook_url && *cfg->webhook_url) {
        struct sink *k = sink_add(s, SINK_WEBHOOK, "webhook");
        if ((rc = webhook_url_check(cfg->webhook_url, cfg->allow_http, k->where, sizeof k->where,
                                    e)))
            goto out;
        if (!cfg->webhook_secret || cfg->webhook_secret_len < AUDIT_SINK_SECRET_MIN ||
            cfg->webhook_secret_len > AUDIT_SINK_SECRET_MAX) {
            rc = md_error_set(e, MD_ERR_VALUE,
                              "the audit webhook needs a secret of %d to %d bytes "
                              "(MANDATE_AUDIT_WEBHOOK_SECRET or --audit-webhook-secret-file)",
                              AUDIT_SINK_SECRET_MIN, AUDIT_SINK_SECRET_MAX);
            goto out;
        }
        memcpy(s->secret, cfg->webhook_secret, cfg->webhook_secret_len);
        s->secret_len = cfg->webhook_secret_len;
        if (!(s->url = strdup(cfg->webhook_url)) ||
            (cfg->webhook_ca_file && !(s->ca_file = strdup(cfg->webhook_ca_file)))) {
            rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
        pthread_once(&curl_once, curl_init_once);
        if (curl_init_rc != CURLE_OK) {
            rc = md_error_set(e, MD_ERR_INTERNAL, "libcurl: %s", curl_easy_strerror(curl_init_rc));
            goto out;
        }
        if ((rc = webhook_open(k, e)))
            goto out;
    }
    if (cfg->syslog_url && *cfg->syslog_url) {
        struct sink *k = sink_add(s, SINK_SYSLOG, "syslog");
        size_t lim;
        if ((rc = audit_syslog_url_parse(cfg->syslog_url, &k->addr, e)))
            goto out;
        if (cfg->syslog_facility > 23) {
            rc = md_error_set(e, MD_ERR_VALUE, "the syslog facility must be 0 to 23");
            goto out;
        }
        lim = k->addr.proto == AUDIT_SYSLOG_UDP ? UDP_LIMIT : 64u * 1024 * 1024;
        k->fmt.max = cfg->syslog_max                     ? cfg->syslog_max
                     : k->addr.proto == AUDIT_SYSLOG_UDP ? AUDIT_SYSLOG_UDP_MAX
                                                         : AUDIT_SYSLOG_TCP_MAX;
        if (k->fmt.max > lim || k->fmt.max < 480) {
            /* 480 octets: what every IPv4 receiver must take (RFC 5426 3.2). */
            rc = md_error_set(e, MD_ERR_VALUE,
                              "the syslog message limit must be from 480 to %zu bytes for %s", lim,
                              k->addr.proto == AUDIT_SYSLOG_UDP ? "UDP" : "TCP");
            goto out;
        }
        k->fmt.facility =
            cfg->syslog_facility >= 0 ? cfg->syslog_facility : AUDIT_SYSLOG_FACILITY_DEFAULT;
        if (cfg->hostname)
            snprintf(k->hostname, sizeof k->hostname, "%s", cfg->hostname);
        else if (gethostname(k->hostname, sizeof k->hostname) != 0)
            k->hostname[0] = '\0';
        k->hostname[sizeof k->hostname - 1] = '\0';
        k->fmt.hostname = k->hostname;
        k->fmt.procid = (int)getpid();
        snprintf(k->where, sizeof k->where, "%s://%s%s%s:%s",
                 k->addr.proto == AUDIT_SYSLOG_UDP ? "udp" : "tcp",
                 strchr(k->addr.host, ':') ? "[" : "", k->addr.host,
                 strchr(k->addr.host, ':') ? "]" : "", k->addr.port);
    }
    for (int i = 0; i < s->n; i++) {
        struct sink *k = &s->sinks[i];
        if (pthread_create(&k->thread, NULL, sink_main, k) != 0) {
            rc = md_error_set(e, MD_ERR_INTERNAL, "cannot start the audit %s sink", k->name);
            goto out;
        }
        k->started = true;
        log_info("event=audit_sink_started sink=%s to=%s", k->name, k->where);
    }
out:
    if (rc) {
        audit_sinks_stop(s, 0);
        return rc;
    }
    *out = s;
    return MD_OK;
}

void audit_sinks_stop(struct audit_sinks *s, int grace_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->deadline, time_mono_ms() + (grace_ms > 0 ? grace_ms : 0));
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        if (s->sinks[i].started)
            pthread_join(s->sinks[i].thread, NULL);
    }
    sinks_free(s);
}
