/*
 * Push sinks: the audit log delivered to a SIEM as it is written (docs/audit-sinks.md).
 *
 * Two kinds, each run by a thread of its own with a position of its own in the store
 * (store_audit_cursor_get/set under the sink's name, "webhook" or "syslog"):
 *
 * - webhook: events POSTed in seq order to an https URL, up to AUDIT_SINK_BATCH_MAX at a time
 *   as a JSON array, each request signed with HMAC-SHA-256 over "<unix time>.<body>" under a
 *   shared secret, in the header "X-Mandate-Signature: t=<unix>,v1=<hex>" (Stripe's scheme).
 *   A 2xx answer acknowledges the whole batch and moves the cursor; anything else (a non-2xx
 *   status, a refused connection, a timeout) is retried with capped exponential backoff and
 *   jitter, with the same events, until it is acknowledged. Nothing is skipped.
 * - syslog: each event as one RFC 5424 message, over UDP (RFC 5426: one message a datagram)
 *   or TCP (RFC 6587 3.4.1: octet counting). Neither protocol acknowledges, so the cursor
 *   moves once a message is handed to the kernel.
 *
 * Delivery is at least once: a sink reads the events after its cursor, delivers them, then
 * stores the new cursor. An event whose acknowledgement was lost (the process killed between
 * the receiver's 2xx and the cursor's commit, or an answer lost on the way) is delivered again
 * after the restart; receivers drop what they have by seq (or by the event's id).
 *
 * Several nodes on one database: only nodes given a sink's configuration run it, and among
 * those a lease in the store (two more cursor rows, "<name>.lease_holder" and
 * "<name>.lease_until", read and written under the log's writer lock, store_audit_tail) lets
 * one node deliver at a time; the others stand by and take over when the lease is released
 * (a clean stop) or expires (AUDIT_SINK_LEASE_MS after the holder's last renewal). A cursor is
 * only moved by the lease's holder, so a node that lost its lease (a long pause) cannot move
 * it back.
 */
#ifndef MANDATE_AUDIT_SINK_H
#define MANDATE_AUDIT_SINK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/str.h"

struct store;
struct audit_sinks;

/* The most events in one webhook request, and the body size past which a batch is cut. */
#define AUDIT_SINK_BATCH_MAX 100
#define AUDIT_SINK_BODY_MAX (1024 * 1024)
/* Retry waits: exponential from the first to the cap, with jitter (audit_sink_backoff_ms). */
#define AUDIT_SINK_RETRY_MIN_MS 1000
#define AUDIT_SINK_RETRY_MAX_MS 60000
/* How often an idle sink looks for new events. */
#define AUDIT_SINK_POLL_MS 250
/* How long a lease holds without renewal. */
#define AUDIT_SINK_LEASE_MS 30000
/* How long a stopping server gives its sinks to deliver what is stored (the final checkpoint). */
#define AUDIT_SINK_GRACE_MS 2000
/* The shortest webhook secret accepted (bytes), and the longest. */
#define AUDIT_SINK_SECRET_MIN 16
#define AUDIT_SINK_SECRET_MAX 512
/* The syslog message's size limits by default: UDP (one datagram) and TCP. */
#define AUDIT_SYSLOG_UDP_MAX 8192
#define AUDIT_SYSLOG_TCP_MAX 65536
/* local0 (RFC 5424 6.2.1, table 1). */
#define AUDIT_SYSLOG_FACILITY_DEFAULT 16
/* The SD-ID of the structured data (an enterprise number follows the '@', RFC 5424 7.2.2). */
#define AUDIT_SYSLOG_SD_ID "mandate@32473"
/* "t=" 20 digits ",v1=" 64 hex digits and a NUL, with room to spare. */
#define AUDIT_SINK_SIGNATURE_LEN 112

struct audit_sinks_config {
    struct store *store; /* borrowed; outlives the sinks */

    const char *webhook_url; /* NULL: no webhook sink */
    /* The shared secret's bytes (copied, and wiped at stop); required with webhook_url. */
    const unsigned char *webhook_secret;
    size_t webhook_secret_len;
    const char *webhook_ca_file; /* PEM bundle of trusted CAs; NULL: the system's */
    bool allow_http;             /* MANDATE_UPSTREAM_HTTP=1: http:// accepted (tests) */

    const char *syslog_url; /* udp://HOST[:PORT] or tcp://HOST[:PORT]; NULL: none */
    int syslog_facility;    /* 0..23; -1: AUDIT_SYSLOG_FACILITY_DEFAULT */
    size_t syslog_max;      /* 0: AUDIT_SYSLOG_UDP_MAX or AUDIT_SYSLOG_TCP_MAX */
    const char *hostname;   /* HOSTNAME of the messages; NULL: gethostname() */

    /* This node for the lease: a text unique among the nodes (host and journal path). */
    const char *node;
    /* Tuning, 0 for the defaults above (tests make them short). */
    int retry_min_ms, retry_max_ms, poll_ms, lease_ms;
};

/*
 * Checks the configuration and starts a thread per configured sink. *out is NULL (and MD_OK)
 * when none is configured. MD_ERR_VALUE, with a sentence for the operator, for a URL that does
 * not parse, an http:// webhook without allow_http, or a missing or short secret. The secret
 * is never part of a message.
 */
enum md_err audit_sinks_start(const struct audit_sinks_config *cfg, struct audit_sinks **out,
                              struct md_error *e);
/*
 * Stops the sinks: each delivers what the store holds (for a server stopping, everything
 * audit_close stored, its final checkpoint included) while deliveries succeed and grace_ms has
 * not passed, then releases its lease and ends; a sink waiting to retry stops at once. Frees
 * s. NULL is a no-op.
 */
void audit_sinks_stop(struct audit_sinks *s, int grace_ms);
/* How many sinks run (for the store's pool size). */
int audit_sinks_count(const struct audit_sinks_config *cfg);

/*
 * Reads a webhook secret: env_value when set (it wins), else the file's contents without
 * trailing whitespace. out holds AUDIT_SINK_SECRET_MAX bytes. MD_ERR_VALUE when neither is
 * given, the file cannot be read, or the secret is shorter than AUDIT_SINK_SECRET_MIN.
 */
enum md_err audit_sink_secret_load(const char *env_value, const char *file,
                                   unsigned char out[AUDIT_SINK_SECRET_MAX], size_t *len,
                                   struct md_error *e);

/* ---- the pure parts, exported for the tests ---- */

/*
 * The X-Mandate-Signature value for body sent at unix time t:
 * "t=<t>,v1=<hex(HMAC-SHA-256(secret, "<t>." || body))>".
 */
void audit_webhook_sign(const void *secret, size_t secret_len, int64_t t, const char *body,
                        size_t body_len, char out[AUDIT_SINK_SIGNATURE_LEN]);

enum audit_syslog_proto { AUDIT_SYSLOG_UDP, AUDIT_SYSLOG_TCP };

struct audit_syslog_addr {
    enum audit_syslog_proto proto;
    char host[256]; /* a name or an address, without IPv6 brackets */
    char port[8];   /* 514 (UDP) or 601 (TCP) when the URL has none */
};

/* Parses udp://HOST[:PORT] or tcp://HOST[:PORT] (HOST may be [IPv6]). MD_ERR_VALUE otherwise. */
enum md_err audit_syslog_url_parse(const char *url, struct audit_syslog_addr *out,
                                   struct md_error *e);
/* A facility by number (0..23) or name (kern, user, ..., local0..local7); -1 when unknown. */
int audit_syslog_facility_parse(const char *s);
/* Appends s to out as an RFC 5424 PARAM-VALUE: '"', '\' and ']' escaped (6.3.3). */
void audit_syslog_sd_escape(const char *s, size_t len, struct buf *out);

struct audit_syslog_fmt {
    int facility;
    const char *hostname; /* printable US-ASCII is kept, anything else dropped; "" gives "-" */
    int procid;
    size_t max; /* the longest message; a larger event's MSG is cut down (docs/audit-sinks.md) */
};

/*
 * Appends one RFC 5424 message for ev (an event as audit_query_run hands it out, with "seq",
 * "type", "time", "hash") to out: "<PRI>1 TIMESTAMP HOSTNAME mandate PROCID MSGID
 * [mandate@32473 seq=... id=... hash=... ...] JSON". The severity follows the type:
 * auth.failure 4 (warning), tool.denied 5 (notice), the rest 6 (informational). An event whose
 * message would exceed f->max gets a short MSG instead (its seq, id, type, time, "truncated":
 * true and the full JSON's size) and truncated="1" in its structured data.
 */
void audit_syslog_format(const json_t *ev, const struct audit_syslog_fmt *f, struct buf *out);

/*
 * The wait before retry number attempt (1 for the first retry): min_ms doubled each attempt up
 * to max_ms, then between half of that and all of it, chosen by rnd ("equal jitter").
 */
int64_t audit_sink_backoff_ms(int attempt, int min_ms, int max_ms, uint32_t rnd);

/* The lease holder id of a node text: 63 bits of its SHA-256, never 0. */
int64_t audit_sink_node_id(const char *node);

#endif
