/*
 * The sinks' pure parts: the webhook signature, RFC 5424 messages and their structured data's
 * escaping, the syslog destination and facility, the backoff and the secret file.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/sink.h"

/*
 * Expected MACs computed apart from mandate, with Python's hmac module:
 * hmac.new(b"whsec_test_secret_0123456789", b'1700000000.[{"seq":1}]', hashlib.sha256).
 */
static const char secret[] = "whsec_test_secret_0123456789";
static const char body[] = "[{\"seq\":1}]";

Test(audit_sink, signature_is_stripe_shaped_hmac_over_time_dot_body)
{
    char sig[AUDIT_SINK_SIGNATURE_LEN];

    audit_webhook_sign(secret, sizeof secret - 1, 1700000000, body, sizeof body - 1, sig);
    cr_assert_str_eq(
        sig, "t=1700000000,v1=1cddd39ce34af361a0d329f9e002289b7fe25a776e7eba2d5cbdd50f64a13398");
    /* The timestamp is signed too: a replay with a new time does not verify. */
    audit_webhook_sign(secret, sizeof secret - 1, 1700000001, body, sizeof body - 1, sig);
    cr_assert_str_eq(
        sig, "t=1700000001,v1=8f5679004db54dfef0049a2bdd1f93d8b1f5eda6e97b3d4fa9cd40f3def97b7a");
    /* Another secret, another MAC. */
    audit_webhook_sign("another secret value", 20, 1700000000, body, sizeof body - 1, sig);
    cr_assert(strstr(sig, "1cddd39ce34af361") == NULL);
}

Test(audit_sink, syslog_urls)
{
    struct audit_syslog_addr a;
    struct md_error e = {0};

    cr_assert_eq(audit_syslog_url_parse("udp://collector.example.com", &a, &e), MD_OK);
    cr_assert_eq(a.proto, AUDIT_SYSLOG_UDP);
    cr_assert_str_eq(a.host, "collector.example.com");
    cr_assert_str_eq(a.port, "514");
    cr_assert_eq(audit_syslog_url_parse("tcp://10.0.0.5", &a, &e), MD_OK);
    cr_assert_eq(a.proto, AUDIT_SYSLOG_TCP);
    cr_assert_str_eq(a.port, "601");
    cr_assert_eq(audit_syslog_url_parse("tcp://[::1]:6514", &a, &e), MD_OK);
    cr_assert_str_eq(a.host, "::1");
    cr_assert_str_eq(a.port, "6514");
    cr_assert_eq(audit_syslog_url_parse("udp://[fe80::1]", &a, &e), MD_OK);
    cr_assert_str_eq(a.host, "fe80::1");
    cr_assert_str_eq(a.port, "514");

    static const char *const bad[] = {
        NULL,           "",           "syslog://h",    "http://h:514", "udp://",
        "udp://:514",   "udp://h:0",  "udp://h:65536", "udp://h:12a",  "udp://h:",
        "udp://u@h",    "udp://h/x",  "udp://h?x=1",   "udp://[::1",   "udp://[]:514",
        "tcp://[::1]x", "udp://h:+5", "udp://h:-5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_error_clear(&e);
        cr_assert_eq(audit_syslog_url_parse(bad[i], &a, &e), MD_ERR_VALUE, "%s",
                     bad[i] ? bad[i] : "(null)");
        cr_assert(e.msg[0] != '\0');
    }
}

Test(audit_sink, syslog_facilities)
{
    cr_assert_eq(audit_syslog_facility_parse("local0"), 16);
    cr_assert_eq(audit_syslog_facility_parse("LOCAL7"), 23);
    cr_assert_eq(audit_syslog_facility_parse("auth"), 4);
    cr_assert_eq(audit_syslog_facility_parse("authpriv"), 10);
    cr_assert_eq(audit_syslog_facility_parse("0"), 0);
    cr_assert_eq(audit_syslog_facility_parse("23"), 23);
    cr_assert_eq(audit_syslog_facility_parse("24"), -1);
    cr_assert_eq(audit_syslog_facility_parse("-1"), -1);
    cr_assert_eq(audit_syslog_facility_parse("local8"), -1);
    cr_assert_eq(audit_syslog_facility_parse("local"), -1);
    cr_assert_eq(audit_syslog_facility_parse(""), -1);
    cr_assert_eq(audit_syslog_facility_parse(NULL), -1);
}

static char *escaped(const char *s)
{
    struct buf b;
    buf_init(&b, 0);
    audit_syslog_sd_escape(s, strlen(s), &b);
    return buf_steal(&b);
}

/* RFC 5424 6.3.3: '"', '\' and ']' are escaped with a backslash, and nothing else is. */
Test(audit_sink, sd_param_value_escaping)
{
    char *s = escaped("a\"b\\c]d");
    cr_assert_str_eq(s, "a\\\"b\\\\c\\]d");
    free(s);
    s = escaped("[x=y] caf\xc3\xa9 'q'");
    cr_assert_str_eq(s, "[x=y\\] caf\xc3\xa9 'q'");
    free(s);
    s = escaped("");
    cr_assert_str_eq(s, "");
    free(s);
}

static json_t *denied_event(void)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:{s:b}}", "seq", (json_int_t)7,
                     "id", "0b5e-id", "type", "tool.denied", "time", "2026-01-02T03:04:05.678Z",
                     "hash", "ab12", "user", "id", "u1", "userName", "ann\"]\\@example.com", "tool",
                     "stripe__refund", "decision", "allowed", 0);
}

static char *format(const json_t *ev, const struct audit_syslog_fmt *f)
{
    struct buf b;
    buf_init(&b, 0);
    audit_syslog_format(ev, f, &b);
    cr_assert_eq(b.err, MD_OK);
    return buf_steal(&b);
}

Test(audit_sink, rfc5424_message)
{
    struct audit_syslog_fmt f = {.facility = 16, .hostname = "node1.example.com", .procid = 42};
    json_t *ev = denied_event();
    char *msg = format(ev, &f);
    char *json = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    char want[2048];

    /* local0 (16) * 8 + notice (5) for a denial. */
    snprintf(want, sizeof want,
             "<133>1 2026-01-02T03:04:05.678Z node1.example.com mandate 42 tool.denied "
             "[mandate@32473 seq=\"7\" id=\"0b5e-id\" hash=\"ab12\" "
             "user=\"ann\\\"\\]\\\\@example.com\" tool=\"stripe__refund\"] %s",
             json);
    cr_assert_str_eq(msg, want);
    free(msg);
    free(json);
    json_decref(ev);
}

Test(audit_sink, rfc5424_header_fields)
{
    struct audit_syslog_fmt f = {.facility = 19, .hostname = "bad host\xc3\xa9", .procid = 0};
    json_t *ev = json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)1, "type", "auth.failure",
                           "time", "2026-01-02T05:04:05.678+02:00", "id", "x");
    char *msg = format(ev, &f);

    /* local3, warning; the time in UTC; only printable US-ASCII of the host; no PROCID. */
    cr_assert(strncmp(msg,
                      "<156>1 2026-01-02T03:04:05.678Z badhost mandate - auth.failure "
                      "[mandate@32473 seq=\"1\" id=\"x\"] {",
                      strlen("<156>1 2026-01-02T03:04:05.678Z badhost mandate - auth.failure "
                             "[mandate@32473 seq=\"1\" id=\"x\"] {")) == 0,
              "%s", msg);
    free(msg);
    json_decref(ev);

    /* No time, no type, no host: NILVALUEs. */
    f.hostname = "";
    ev = json_pack("{s:I}", "seq", (json_int_t)2);
    msg = format(ev, &f);
    cr_assert_str_eq(msg, "<158>1 - - mandate - - [mandate@32473 seq=\"2\"] {\"seq\":2}");
    free(msg);
    json_decref(ev);
}

Test(audit_sink, a_large_event_gets_a_short_msg)
{
    struct audit_syslog_fmt f = {.facility = 16, .hostname = "h", .procid = 1, .max = 600};
    json_t *ev = denied_event();
    char big[5000];
    char *msg, *sp;
    json_t *m;

    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(ev, "arguments", json_pack("{s:s}", "note", big));
    msg = format(ev, &f);
    cr_assert_leq(strlen(msg), 600);
    cr_assert(strstr(msg, " truncated=\"1\"]") != NULL, "%s", msg);
    /* MSG is still JSON: what finds the event again, and the full size. */
    sp = strstr(msg, "] {");
    cr_assert_not_null(sp);
    m = json_loads(sp + 2, 0, NULL);
    cr_assert_not_null(m, "%s", sp + 2);
    cr_assert_eq(json_integer_value(json_object_get(m, "seq")), 7);
    cr_assert(json_is_true(json_object_get(m, "truncated")));
    cr_assert_gt(json_integer_value(json_object_get(m, "bytes")), 5000);
    cr_assert_null(json_object_get(m, "arguments"));
    json_decref(m);
    free(msg);

    /* One that fits is left whole. */
    f.max = 65536;
    msg = format(ev, &f);
    cr_assert(strstr(msg, "truncated") == NULL);
    cr_assert(strstr(msg, big) != NULL);
    free(msg);
    json_decref(ev);
}

Test(audit_sink, backoff_grows_to_its_cap_with_jitter)
{
    /* Attempt n waits between half and all of min * 2^(n-1), capped. */
    cr_assert_eq(audit_sink_backoff_ms(1, 100, 1000, 0), 50);
    cr_assert_eq(audit_sink_backoff_ms(1, 100, 1000, 50), 100);
    cr_assert_eq(audit_sink_backoff_ms(1, 100, 1000, 51), 50);
    cr_assert_eq(audit_sink_backoff_ms(4, 100, 1000, 0), 400);
    cr_assert_eq(audit_sink_backoff_ms(4, 100, 1000, 400), 800);
    cr_assert_eq(audit_sink_backoff_ms(5, 100, 1000, 0), 500);
    cr_assert_eq(audit_sink_backoff_ms(5, 100, 1000, 500), 1000);
    cr_assert_eq(audit_sink_backoff_ms(1000, 100, 1000, 0), 500);
    for (uint32_t r = 0; r < 5000; r += 7) {
        int64_t w = audit_sink_backoff_ms(30, 1000, 60000, r * 2654435761u);
        cr_assert(w >= 30000 && w <= 60000, "%lld", (long long)w);
    }
}

Test(audit_sink, node_ids)
{
    int64_t a = audit_sink_node_id("host-a:/var/lib/mandate/audit.journal");
    int64_t b = audit_sink_node_id("host-b:/var/lib/mandate/audit.journal");
    cr_assert_gt(a, 0);
    cr_assert_gt(b, 0);
    cr_assert_neq(a, b);
    cr_assert_eq(a, audit_sink_node_id("host-a:/var/lib/mandate/audit.journal"));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(audit_sink, secrets)
{
    unsigned char out[AUDIT_SINK_SECRET_MAX];
    char path[] = "/tmp/mandate-sink-secret-XXXXXX";
    char big[AUDIT_SINK_SECRET_MAX + 10];
    struct md_error e = {0};
    size_t len = 0;
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    close(fd);
    write_file(path, "0123456789abcdef0123\n");
    cr_assert_eq(audit_sink_secret_load(NULL, path, out, &len, &e), MD_OK);
    cr_assert_eq(len, 20);
    cr_assert(memcmp(out, "0123456789abcdef0123", 20) == 0);
    /* The environment's secret wins over the file. */
    cr_assert_eq(audit_sink_secret_load("from-the-environment", path, out, &len, &e), MD_OK);
    cr_assert_eq(len, 20);
    cr_assert(memcmp(out, "from-the-environment", 20) == 0);

    write_file(path, "short\n");
    cr_assert_eq(audit_sink_secret_load(NULL, path, out, &len, &e), MD_ERR_VALUE);
    cr_assert_eq(len, 0);
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(path, big);
    cr_assert_eq(audit_sink_secret_load(NULL, path, out, &len, &e), MD_ERR_VALUE);
    cr_assert_eq(audit_sink_secret_load(big, NULL, out, &len, &e), MD_ERR_VALUE);
    cr_assert_eq(audit_sink_secret_load(NULL, NULL, out, &len, &e), MD_ERR_VALUE);
    unlink(path);
    cr_assert_eq(audit_sink_secret_load(NULL, path, out, &len, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "cannot read") != NULL, "%s", e.msg);
}
