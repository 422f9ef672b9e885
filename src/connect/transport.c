/*
 * The HTTP transport: one libcurl multi loop thread (the contract is in transport.h).
 *
 * Life of a call. connect_transport_submit checks the request, builds the easy handle on the
 * submitting thread (so that the loop thread does as little as possible) and queues the call
 * under the mutex. The loop drains the queue into the multi handle, drives every transfer with
 * curl_multi_perform, and sleeps in curl_multi_poll until a socket is ready, a timer fires or a
 * submitter calls curl_multi_wakeup. When a transfer finishes, the loop either follows a
 * same-origin redirect (the same easy handle, re-added with the new URL) or completes the call:
 * it hands the response to the callback and frees the rest.
 *
 * The response struct is allocated at submit time, so that completing a call never needs
 * memory that may not be there: the callback is always called exactly once.
 */
#include "connect/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/str.h"
#include "core/time.h"

#define USER_AGENT "mandate/0.1"
#define MAX_INFLIGHT_DEFAULT 4096
/* The longest the loop sleeps when nothing happens; wakeups and curl's timers cut it short. */
#define POLL_MS 1000
/* Room for scheme://host:port/path in an error sentence. */
#define URL_TEXT_MAX 160

struct call {
    struct call *next; /* in the submission queue, then in the active list */
    struct call *prev; /* in the active list */
    struct connect_transport *t;
    CURL *easy;
    struct curl_slist *hdrs;
    struct connect_request req; /* req.url is the URL of the current hop */
    long connect_timeout_ms;
    long timeout_ms;
    int64_t start_ms;
    int hops;
    struct buf body;
    size_t hdr_cap;
    enum md_err fail; /* set by a callback that aborted the transfer */
    struct connect_response *resp;
    connect_done_fn fn;
    void *cls;
};

struct connect_transport {
    pthread_t thread;
    pthread_mutex_t mu;
    struct call *queue_head; /* guarded by mu */
    struct call *queue_tail; /* guarded by mu */
    bool stopping;           /* guarded by mu */
    CURLM *multi;            /* the loop thread's, except curl_multi_wakeup under mu */
    struct call *active;     /* calls in the multi handle; loop thread only */
    atomic_int inflight;
    int max_inflight;
    bool allow_http;
    char *ca_file;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- memory that may hold credentials ---- */

static void wipe_free(char *p, size_t len)
{
    if (p) {
        explicit_bzero(p, len);
        free(p);
    }
}

static void wipe_free_str(char *p)
{
    if (p)
        wipe_free(p, strlen(p));
}

/* Frees a request whose headers (Authorization) and body (form credentials) may be secret. */
static void request_wipe(struct connect_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        wipe_free_str(r->headers[i].name);
        wipe_free_str(r->headers[i].value);
        r->headers[i].name = r->headers[i].value = NULL;
    }
    if (r->body)
        explicit_bzero(r->body, r->body_len);
    connect_request_free(r);
}

static void slist_wipe(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next) {
        if (p->data)
            explicit_bzero(p->data, strlen(p->data));
    }
    curl_slist_free_all(l);
}

/* ---- responses ---- */

static void headers_clear(struct connect_response *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    r->headers = NULL;
    r->n_headers = 0;
}

void connect_response_free(struct connect_response *r)
{
    if (!r)
        return;
    headers_clear(r);
    free(r->body);
    free(r);
}

const char *connect_response_header(const struct connect_response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (cstr_ieq(r->headers[i].name, name))
            return r->headers[i].value;
    }
    return NULL;
}

/* ---- URLs ---- */

/*
 * Writes what an error sentence may say about url: scheme, host, port and path, never the
 * user info (a password), the query string (API keys travel there) or the fragment.
 */
static void url_for_people(const char *url, char *out, size_t n)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;

    snprintf(out, n, "an unparsable URL");
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
    (void)curl_url_get(u, CURLUPART_PATH, &path, 0);
    snprintf(out, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
             path ? path : "");
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

/* An origin (RFC 6454): what a redirect may not change. */
struct origin {
    char scheme[16];
    char host[256];
    char port[8];      /* the effective port, the scheme's default when the URL has none */
    bool port_written; /* the URL spelled the port out */
};

/* Copies one part of u into out; false when it is missing or does not fit. */
static bool url_part(CURLU *u, CURLUPart what, unsigned flags, char *out, size_t n)
{
    char *v = NULL;
    bool ok = false;
    if (curl_url_get(u, what, &v, flags) == CURLUE_OK && v && strlen(v) < n) {
        memcpy(out, v, strlen(v) + 1);
        ok = true;
    }
    curl_free(v);
    return ok;
}

static bool origin_get(CURLU *u, struct origin *o)
{
    char tmp[8];
    memset(o, 0, sizeof *o);
    o->port_written = url_part(u, CURLUPART_PORT, 0, tmp, sizeof tmp);
    return url_part(u, CURLUPART_SCHEME, 0, o->scheme, sizeof o->scheme) &&
           url_part(u, CURLUPART_HOST, 0, o->host, sizeof o->host) &&
           url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, o->port, sizeof o->port);
}

static bool origin_eq(const struct origin *a, const struct origin *b)
{
    return strcasecmp(a->scheme, b->scheme) == 0 && strcasecmp(a->host, b->host) == 0 &&
           strcmp(a->port, b->port) == 0;
}

/* Refuses a URL that does not parse or whose scheme this transport does not speak. */
static enum md_err url_check(const struct connect_transport *t, const char *url, struct md_error *e)
{
    CURLU *u = curl_url();
    struct origin o;
    enum md_err err = MD_OK;

    if (!u)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || !origin_get(u, &o)) {
        err = md_error_set(e, MD_ERR_VALUE, "the upstream URL does not parse");
        goto out;
    }
    if (strcmp(o.scheme, "https") != 0 && !(t->allow_http && strcmp(o.scheme, "http") == 0)) {
        err = md_error_set(e, MD_ERR_VALUE, "upstream URL scheme %s is not allowed (use https)",
                           o.scheme);
        goto out;
    }
out:
    curl_url_cleanup(u);
    return err;
}

/* ---- libcurl callbacks (loop thread) ---- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Keeps one header line of the response being received, within the caps of transport.h. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    struct connect_response *r = c->resp;
    size_t len = size * n, total = len, name_len;
    const char *colon, *v, *end;
    struct connect_header *h;

    /* A status line starts a new response (after a 1xx, or on a redirect hop). */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        headers_clear(r);
        c->hdr_cap = 0;
        return total;
    }
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    /* Empty lines end the head; folded continuation lines are obsolete (RFC 9112 5.2). */
    if (len == 0 || len > CONNECT_RESPONSE_HEADER_LINE_MAX || p[0] == ' ' || p[0] == '\t')
        return total;
    if (r->n_headers >= CONNECT_RESPONSE_HEADERS_MAX)
        return total;
    colon = memchr(p, ':', len);
    if (!colon || colon == p)
        return total;
    name_len = (size_t)(colon - p);
    for (size_t i = 0; i < name_len; i++) {
        if (is_ows(p[i]))
            return total;
    }
    v = colon + 1;
    end = p + len;
    while (v < end && is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    if (r->n_headers == c->hdr_cap) {
        size_t cap = c->hdr_cap ? c->hdr_cap * 2 : 8;
        h = realloc(r->headers, cap * sizeof *h);
        if (!h)
            goto nomem;
        r->headers = h;
        c->hdr_cap = cap;
    }
    h = &r->headers[r->n_headers];
    h->name = slice_dup((struct slice){p, name_len});
    h->value = slice_dup((struct slice){v, (size_t)(end - v)});
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        goto nomem;
    }
    r->n_headers++;
    return total;
nomem:
    c->fail = MD_ERR_NOMEM;
    return 0;
}

/* Appends body bytes; past max_response, aborts the transfer (the buffer's cap is it). */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len = size * n;
    buf_append(&c->body, p, len);
    if (c->body.err != MD_OK) {
        c->fail = c->body.err;
        return 0;
    }
    return len;
}

/* ---- building a call (submitting thread) ---- */

static bool method_known(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
           strcmp(m, "PATCH") == 0 || strcmp(m, "DELETE") == 0;
}

/* The request's headers as a curl list, "Expect:" last so that no 100-continue round trip. */
static enum md_err headers_build(struct call *c, struct md_error *e)
{
    struct buf line;
    struct curl_slist *l;
    enum md_err err = MD_OK;

    buf_init(&line, 0);
    for (size_t i = 0; i < c->req.n_headers; i++) {
        const struct connect_header *h = &c->req.headers[i];
        buf_reset(&line);
        buf_append_cstr(&line, h->name);
        /* "Name:" would tell curl to remove the header; "Name;" sends it empty. */
        if (h->value[0] == '\0') {
            buf_append_char(&line, ';');
        } else {
            buf_append_cstr(&line, ": ");
            buf_append_cstr(&line, h->value);
        }
        if (line.err != MD_OK) {
            err = md_error_set(e, line.err, "a request header does not fit");
            goto out;
        }
        l = curl_slist_append(c->hdrs, line.p);
        if (!l) {
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
            goto out;
        }
        c->hdrs = l;
    }
    l = curl_slist_append(c->hdrs, "Expect:");
    if (!l) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    c->hdrs = l;
out:
    if (line.p)
        explicit_bzero(line.p, line.cap);
    buf_free(&line);
    return err;
}

/* The method and body: POSTFIELDS sends a body for any method, CUSTOMREQUEST renames it. */
static CURLcode method_setup(struct call *c)
{
    CURL *h = c->easy;
    const char *m = c->req.method;
    const char *body = c->req.body ? c->req.body : "";
    curl_off_t len = c->req.body ? (curl_off_t)c->req.body_len : 0;
    CURLcode rc;

    if (strcmp(m, "GET") == 0)
        return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (strcmp(m, "POST") == 0) {
        rc = curl_easy_setopt(h, CURLOPT_POST, 1L);
    } else {
        rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
        /* A DELETE without a body sends no Content-Length; PUT and PATCH send 0. */
        if (rc == CURLE_OK && strcmp(m, "DELETE") == 0 && !c->req.body)
            return rc;
    }
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    return rc;
}

static CURLcode timeouts_set(struct call *c, long remaining_ms)
{
    long connect_ms = c->connect_timeout_ms < remaining_ms ? c->connect_timeout_ms : remaining_ms;
    CURLcode rc = curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, remaining_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    return rc;
}

static CURLcode easy_setup(struct call *c)
{
    const struct connect_transport *t = c->t;
    const char *protocols = t->allow_http ? "http,https" : "https";
    CURL *h = c->easy;
    CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, c->req.url);

    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = timeouts_set(c, c->timeout_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)c);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)c);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)c);
    if (rc == CURLE_OK && t->ca_file)
        rc = curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
    if (rc == CURLE_OK)
        rc = method_setup(c);
    return rc;
}

static void call_free(struct call *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    slist_wipe(c->hdrs);
    request_wipe(&c->req);
    if (c->body.p)
        explicit_bzero(c->body.p, c->body.len);
    buf_free(&c->body);
    connect_response_free(c->resp);
    free(c);
}

/* A call for req (whose contents it takes, also on error) with its easy handle ready. */
static enum md_err call_new(struct connect_transport *t, struct connect_request *req,
                            const struct connect_limits *lim, connect_done_fn fn, void *cls,
                            struct call **out, struct md_error *e)
{
    struct call *c = calloc(1, sizeof *c);
    enum md_err err = MD_OK;

    *out = NULL;
    if (!c) {
        request_wipe(req);
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    c->req = *req;
    memset(req, 0, sizeof *req);
    c->t = t;
    c->fn = fn;
    c->cls = cls;
    c->connect_timeout_ms = lim && lim->connect_timeout_ms > 0 ? lim->connect_timeout_ms
                                                               : CONNECT_CONNECT_TIMEOUT_MS_DEFAULT;
    c->timeout_ms = lim && lim->timeout_ms > 0 ? lim->timeout_ms : CONNECT_TIMEOUT_MS_DEFAULT;
    buf_init(&c->body, lim && lim->max_response ? lim->max_response : CONNECT_MAX_RESPONSE_DEFAULT);
    c->resp = calloc(1, sizeof *c->resp);
    c->easy = curl_easy_init();
    if (!c->resp || !c->easy) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = headers_build(c, e);
    if (err != MD_OK)
        goto out;
    if (easy_setup(c) != CURLE_OK) {
        err = md_error_set(e, MD_ERR_INTERNAL, "libcurl refused the request options");
        goto out;
    }
    *out = c;
out:
    if (err != MD_OK)
        call_free(c);
    return err;
}

/* ---- completing a call (loop thread) ---- */

static void active_add(struct connect_transport *t, struct call *c)
{
    c->prev = NULL;
    c->next = t->active;
    if (t->active)
        t->active->prev = c;
    t->active = c;
}

static void active_remove(struct connect_transport *t, struct call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        t->active = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

/*
 * Hands the response to the callback and frees the call; c must be out of the multi handle.
 * The body goes with it on success and for an unfollowed redirect (an answer that did come);
 * a partial body (too large, cut off) is dropped.
 */
static void call_finish(struct call *c, enum md_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_finish(struct call *c, enum md_err err, const char *fmt, ...)
{
    struct connect_transport *t = c->t;
    struct connect_response *r = c->resp;
    va_list ap;

    r->err = err;
    if (err != MD_OK) {
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
    }
    if (err == MD_OK || err == MD_ERR_VALUE) {
        r->body_len = c->body.len;
        r->body = buf_steal(&c->body);
        if (!r->body) {
            r->body_len = 0;
            r->err = MD_ERR_NOMEM;
            snprintf(r->error, sizeof r->error, "out of memory for the upstream response");
        }
    }
    r->elapsed_ms = (long)(time_mono_ms() - c->start_ms);
    active_remove(t, c);
    c->resp = NULL;
    c->fn(c->cls, r);
    call_free(c);
    atomic_fetch_sub(&t->inflight, 1);
}

/* Completes a call whose transfer failed, with a sentence that names no credential. */
static void call_fail(struct call *c, CURLcode rc)
{
    char where[URL_TEXT_MAX];
    long os_errno = 0;

    url_for_people(c->req.url, where, sizeof where);
    if (c->fail == MD_ERR_TOOLARGE) {
        call_finish(c, MD_ERR_TOOLARGE, "the upstream response is larger than %zu bytes (%s)",
                    c->body.max, where);
        return;
    }
    if (c->fail == MD_ERR_NOMEM || rc == CURLE_OUT_OF_MEMORY) {
        call_finish(c, MD_ERR_NOMEM, "out of memory during the upstream call (%s)", where);
        return;
    }
    (void)curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        call_finish(c, MD_ERR_UNAVAILABLE, "the upstream call timed out after %ld ms (%s)",
                    (long)(time_mono_ms() - c->start_ms), where);
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
        call_finish(c, MD_ERR_UNAVAILABLE, "cannot resolve the upstream host (%s)", where);
        return;
    case CURLE_COULDNT_CONNECT:
        call_finish(c, MD_ERR_UNAVAILABLE, "cannot connect to the upstream (%s): %s", where,
                    os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc));
        return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
        call_finish(c, MD_ERR_UNAVAILABLE, "TLS with the upstream failed (%s): %s", where,
                    curl_easy_strerror(rc));
        return;
    default:
        call_finish(c, MD_ERR_UNAVAILABLE, "the upstream call failed (%s): %s", where,
                    curl_easy_strerror(rc));
        return;
    }
}

static bool is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/*
 * The outcome of a redirect: the URL to go to (curl_free it), or the sentence that says why
 * not. Resolving with curl's URL API handles relative references (RFC 3986 section 5.2). User
 * info and fragment of the target are dropped: the first would make curl send its own
 * Authorization, the second is never sent anyway.
 */
static char *redirect_target(struct call *c, long status, char *why, size_t n)
{
    const char *loc = connect_response_header(c->resp, "Location");
    CURLU *cur = curl_url(), *next = curl_url();
    struct origin a, b;
    char *url = NULL;

    if (c->hops >= CONNECT_MAX_REDIRECTS) {
        snprintf(why, n, "upstream redirected more than %d times; not followed",
                 CONNECT_MAX_REDIRECTS);
        goto out;
    }
    if (status != 307 && status != 308 && strcmp(c->req.method, "GET") != 0) {
        snprintf(why, n, "upstream redirected a %s with %ld; not followed", c->req.method, status);
        goto out;
    }
    if (!loc || !*loc) {
        snprintf(why, n, "upstream answered %ld without a Location; not followed", status);
        goto out;
    }
    if (!cur || !next) {
        snprintf(why, n, "out of memory");
        goto out;
    }
    if (curl_url_set(cur, CURLUPART_URL, c->req.url, 0) != CURLUE_OK ||
        curl_url_set(next, CURLUPART_URL, c->req.url, 0) != CURLUE_OK ||
        curl_url_set(next, CURLUPART_URL, loc, 0) != CURLUE_OK || !origin_get(cur, &a) ||
        !origin_get(next, &b)) {
        snprintf(why, n, "upstream answered %ld with an unparsable Location; not followed", status);
        goto out;
    }
    if (!origin_eq(&a, &b)) {
        snprintf(why, n, "upstream redirected to another host (%s://%s%s%s); not followed",
                 b.scheme, b.host, b.port_written ? ":" : "", b.port_written ? b.port : "");
        goto out;
    }
    if (curl_url_set(next, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
        curl_url_set(next, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
        curl_url_set(next, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
        curl_url_get(next, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        curl_free(url);
        url = NULL;
        snprintf(why, n, "upstream answered %ld with an unparsable Location; not followed", status);
    }
out:
    curl_url_cleanup(cur);
    curl_url_cleanup(next);
    return url;
}

/* Follows a same-origin redirect with the same easy handle, or completes the call. */
static void redirect(struct connect_transport *t, struct call *c, long status)
{
    char why[400];
    char *target = redirect_target(c, status, why, sizeof why);
    char *copy;
    long remaining = c->timeout_ms - (long)(time_mono_ms() - c->start_ms);

    if (!target) {
        call_finish(c, MD_ERR_VALUE, "%s", why);
        return;
    }
    copy = strdup(target);
    curl_free(target);
    if (!copy) {
        call_finish(c, MD_ERR_NOMEM, "out of memory following a redirect");
        return;
    }
    if (remaining <= 0) {
        free(copy);
        call_fail(c, CURLE_OPERATION_TIMEDOUT);
        return;
    }
    free(c->req.url);
    c->req.url = copy;
    c->req.url_len = strlen(copy);
    c->hops++;
    headers_clear(c->resp);
    c->hdr_cap = 0;
    c->resp->status = 0;
    buf_reset(&c->body);
    if (curl_easy_setopt(c->easy, CURLOPT_URL, c->req.url) != CURLE_OK ||
        timeouts_set(c, remaining) != CURLE_OK) {
        call_finish(c, MD_ERR_INTERNAL, "libcurl refused the redirect's options");
        return;
    }
    if (curl_multi_add_handle(t->multi, c->easy) != CURLM_OK)
        call_finish(c, MD_ERR_INTERNAL, "libcurl refused to restart the call");
}

static void on_done(struct connect_transport *t, CURL *easy, CURLcode rc)
{
    char *priv = NULL;
    struct call *c;
    long status = 0;

    (void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    c = (struct call *)(void *)priv;
    (void)curl_multi_remove_handle(t->multi, easy);
    (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    c->resp->status = (int)status;
    if (rc != CURLE_OK)
        call_fail(c, rc);
    else if (is_redirect(status))
        redirect(t, c, status);
    else
        call_finish(c, MD_OK, "%s", "");
}

/* ---- the loop ---- */

/* Moves queued calls into the multi handle; returns whether the transport is stopping. */
static bool drain(struct connect_transport *t)
{
    struct call *c, *next;
    bool stopping;

    pthread_mutex_lock(&t->mu);
    c = t->queue_head;
    t->queue_head = t->queue_tail = NULL;
    stopping = t->stopping;
    pthread_mutex_unlock(&t->mu);
    for (; c; c = next) {
        next = c->next;
        active_add(t, c);
        c->start_ms = time_mono_ms();
        if (curl_multi_add_handle(t->multi, c->easy) != CURLM_OK)
            call_finish(c, MD_ERR_INTERNAL, "libcurl refused the call");
    }
    return stopping;
}

static void harvest(struct connect_transport *t)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(t->multi, &left))) {
        /* m dies with curl_multi_remove_handle: copy what on_done needs first. */
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        if (m->msg == CURLMSG_DONE)
            on_done(t, easy, rc);
    }
}

static void *loop_main(void *arg)
{
    struct connect_transport *t = arg;
    int running;

    while (!drain(t)) {
        (void)curl_multi_perform(t->multi, &running);
        harvest(t);
        /* A failing poll must not turn the loop into a busy spin. */
        if (curl_multi_poll(t->multi, NULL, 0, POLL_MS, NULL) != CURLM_OK)
            usleep(10000);
    }
    /* The last drain ran after stopping was set, so nothing is queued and none can be. */
    while (t->active) {
        struct call *c = t->active;
        (void)curl_multi_remove_handle(t->multi, c->easy);
        call_finish(c, MD_ERR_UNAVAILABLE, "shutting down: the upstream call was cancelled");
    }
    return NULL;
}

/* ---- the interface ---- */

enum md_err connect_transport_start(const struct connect_transport_config *cfg,
                                    struct connect_transport **out, struct md_error *e)
{
    struct connect_transport *t;
    enum md_err err = MD_OK;
    bool mutex_ready = false;

    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return md_error_set(e, MD_ERR_INTERNAL, "libcurl failed to initialise");
    t = calloc(1, sizeof *t);
    if (!t)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    t->max_inflight = cfg && cfg->max_inflight > 0 ? cfg->max_inflight : MAX_INFLIGHT_DEFAULT;
    t->allow_http = cfg && cfg->allow_http;
    atomic_init(&t->inflight, 0);
    if (cfg && cfg->ca_file && !(t->ca_file = strdup(cfg->ca_file))) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        err = md_error_set(e, MD_ERR_INTERNAL, "cannot create a mutex");
        goto out;
    }
    mutex_ready = true;
    t->multi = curl_multi_init();
    if (!t->multi) {
        err = md_error_set(e, MD_ERR_NOMEM, "libcurl cannot create a multi handle");
        goto out;
    }
    /*
     * Idle connections kept for reuse. libcurl's default grows with the calls in flight, so a
     * burst of 1,000 slow calls left some 1,000 idle sockets open to the upstream afterwards
     * (bench/README.md, "MCP gateway"); a few hundred serve any steady load.
     */
    (void)curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)CONNECT_IDLE_CONNECTIONS);
    if (pthread_create(&t->thread, NULL, loop_main, t) != 0) {
        err = md_error_set(e, MD_ERR_INTERNAL, "cannot start the transport thread: %s",
                           strerror(errno));
        goto out;
    }
    pthread_setname_np(t->thread, "md-transport");
    *out = t;
out:
    if (err != MD_OK) {
        if (t->multi)
            curl_multi_cleanup(t->multi);
        if (mutex_ready)
            pthread_mutex_destroy(&t->mu);
        free(t->ca_file);
        free(t);
    }
    return err;
}

enum md_err connect_transport_submit(struct connect_transport *t, struct connect_request *req,
                                     const struct connect_limits *lim, connect_done_fn fn,
                                     void *cls, struct md_error *e)
{
    struct connect_request taken = {0};
    struct call *c = NULL;
    enum md_err err = MD_OK;
    bool counted = false;

    if (req) {
        taken = *req;
        memset(req, 0, sizeof *req);
    }
    if (!t || !fn || !taken.url || !taken.method) {
        err = md_error_set(e, MD_ERR_VALUE, "an incomplete upstream request");
        goto out;
    }
    if (!method_known(taken.method)) {
        err = md_error_set(e, MD_ERR_VALUE, "unsupported upstream method %s", taken.method);
        goto out;
    }
    err = url_check(t, taken.url, e);
    if (err != MD_OK)
        goto out;
    if (atomic_fetch_add(&t->inflight, 1) >= t->max_inflight) {
        atomic_fetch_sub(&t->inflight, 1);
        err = md_error_set(e, MD_ERR_UNAVAILABLE, "too many upstream calls in flight (%d)",
                           t->max_inflight);
        goto out;
    }
    counted = true;
    err = call_new(t, &taken, lim, fn, cls, &c, e);
    if (err != MD_OK)
        goto out;
    pthread_mutex_lock(&t->mu);
    if (t->stopping) {
        pthread_mutex_unlock(&t->mu);
        err = md_error_set(e, MD_ERR_UNAVAILABLE, "shutting down");
        goto out;
    }
    if (t->queue_tail)
        t->queue_tail->next = c;
    else
        t->queue_head = c;
    t->queue_tail = c;
    /* Under the mutex: the loop cleans the multi handle up only after it saw stopping. */
    (void)curl_multi_wakeup(t->multi);
    pthread_mutex_unlock(&t->mu);
    c = NULL;
out:
    if (err != MD_OK) {
        if (counted)
            atomic_fetch_sub(&t->inflight, 1);
        call_free(c);
        request_wipe(&taken);
    }
    return err;
}

int connect_transport_inflight(struct connect_transport *t)
{
    return t ? atomic_load(&t->inflight) : 0;
}

void connect_transport_stop(struct connect_transport *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    if (t->stopping) {
        pthread_mutex_unlock(&t->mu);
        return;
    }
    t->stopping = true;
    (void)curl_multi_wakeup(t->multi);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    curl_multi_cleanup(t->multi);
    t->multi = NULL;
}

void connect_transport_free(struct connect_transport *t)
{
    if (!t)
        return;
    connect_transport_stop(t);
    pthread_mutex_destroy(&t->mu);
    free(t->ca_file);
    free(t);
}
