/*
 * The HTTP transport against real local HTTP servers (libmicrohttpd on 127.0.0.1, port 0):
 * what arrives upstream byte for byte, what comes back, limits, redirects within and across
 * origins, concurrency on one thread, and shutdown with calls in flight.
 *
 * The servers run one thread per connection, so that a slow route can simply wait. For the
 * thread-count tests the server runs in a forked child, so that /proc/self/task counts only
 * the threads of this process.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "connect/transport.h"
#include "core/str.h"
#include "core/time.h"

/* ---- the test server ---- */

#define MAX_RECS 64

/* One request as the server saw it. */
struct rec {
    char method[16];
    char path[256];
    char query_a[64]; /* the query argument "a", when present */
    struct hdr {
        char *name;
        char *value;
    } * hdrs;
    size_t n_hdrs;
    char *body;
    size_t body_len;
    uint16_t client_port;
};

struct srv {
    struct MHD_Daemon *d;
    uint16_t port;
    char base[64];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    int hits;
    int n_recs;
    struct rec recs[MAX_RECS];
};

struct upload {
    struct buf body;
};

/* A deflate stream of "hello gzip " x 10000 is a prefix, a run of 0x55 and a suffix. */
static const unsigned char gz_prefix[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xc6, 0xb1,
    0x0d, 0x00, 0x20, 0x08, 0x00, 0xb0, 0x57, 0x78, 0xce, 0x88, 0x09, 0x89, 0xce,
    0x5e, 0xcf, 0x13, 0x8c, 0xed, 0xd4, 0x5c, 0x55, 0x37, 0xf6, 0x3f, 0x2f, 0x52};
static const unsigned char gz_suffix[] = {0x75, 0xba, 0x0d, 0x5d, 0xc4, 0xb3,
                                          0xf1, 0xb0, 0xad, 0x01, 0x00};
#define GZ_RUN 212
#define GZ_PLAIN "hello gzip "
#define GZ_REPEAT 10000

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct rec *r = cls;
    struct hdr *h = realloc(r->hdrs, (r->n_hdrs + 1) * sizeof *h);
    (void)kind;
    if (!h)
        return MHD_NO;
    r->hdrs = h;
    h[r->n_hdrs].name = strdup(key);
    h[r->n_hdrs].value = strdup(value ? value : "");
    r->n_hdrs++;
    return MHD_YES;
}

static void record(struct srv *s, struct MHD_Connection *conn, const char *method, const char *url,
                   const struct buf *body)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const char *a = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "a");
    struct rec *r;

    pthread_mutex_lock(&s->mu);
    s->hits++;
    if (s->n_recs < MAX_RECS) {
        r = &s->recs[s->n_recs++];
        memset(r, 0, sizeof *r);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        snprintf(r->query_a, sizeof r->query_a, "%s", a ? a : "");
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, r);
        r->body = malloc(body->len + 1);
        memcpy(r->body, body->p ? body->p : "", body->len);
        r->body[body->len] = '\0';
        r->body_len = body->len;
        if (ci && ci->client_addr)
            r->client_port =
                ntohs(((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_port);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Sends status and body; hdrs is name, value, ..., NULL. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const void *body,
                               size_t len, const char *const *hdrs)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    for (size_t i = 0; hdrs && hdrs[i]; i += 2)
        MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static long long arg_ll(struct MHD_Connection *conn, const char *name, long long def)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    long long n;
    return v && str_to_ll(v, strlen(v), 0, 100000000, &n) ? n : def;
}

/* Waits ms or until the server stops, whichever comes first. */
static void srv_sleep(struct srv *s, long long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result route(struct srv *s, struct MHD_Connection *conn, const char *url,
                             const char *method, const struct buf *body)
{
    if (strcmp(url, "/echo") == 0) {
        const char *h[] = {"X-Method", method, "X-Spaced", "   padded value\t ", NULL};
        return respond(conn, 200, body->p ? body->p : "", body->len, h);
    }
    if (strcmp(url, "/slow") == 0) {
        srv_sleep(s, arg_ll(conn, "ms", 300));
        return respond(conn, 200, "slow", 4, NULL);
    }
    if (strcmp(url, "/big") == 0) {
        size_t n = (size_t)arg_ll(conn, "n", 1000);
        char *p = malloc(n ? n : 1);
        struct MHD_Response *r;
        enum MHD_Result ret;
        memset(p, 'x', n);
        r = MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
        ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/gzip") == 0) {
        unsigned char gz[sizeof gz_prefix + GZ_RUN + sizeof gz_suffix];
        const char *h[] = {"Content-Encoding", "gzip", NULL};
        memcpy(gz, gz_prefix, sizeof gz_prefix);
        memset(gz + sizeof gz_prefix, 0x55, GZ_RUN);
        memcpy(gz + sizeof gz_prefix + GZ_RUN, gz_suffix, sizeof gz_suffix);
        return respond(conn, 200, gz, sizeof gz, h);
    }
    if (strcmp(url, "/redirect") == 0) {
        const char *to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");
        const char *h[] = {"Location", to, "X-Hop", "redirect", NULL};
        return respond(conn, (unsigned)arg_ll(conn, "code", 302), "moved", 5, to ? h : NULL);
    }
    if (strcmp(url, "/loop") == 0) {
        const char *h[] = {"Location", "/loop", NULL};
        return respond(conn, 302, "", 0, h);
    }
    if (strcmp(url, "/hdrs") == 0) {
        static char long_value[9000];
        char names[70][16];
        const char *h[2 * 71 + 1];
        size_t k = 0;
        memset(long_value, 'v', sizeof long_value - 1);
        h[k++] = "X-Long";
        h[k++] = long_value;
        for (int i = 0; i < 70; i++) {
            snprintf(names[i], sizeof names[i], "X-N-%d", i);
            h[k++] = names[i];
            h[k++] = "n";
        }
        h[k] = NULL;
        return respond(conn, 200, "h", 1, h);
    }
    return respond(conn, 404, "no", 2, NULL);
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct srv *s = cls;
    struct upload *u = *con_cls;
    (void)version;
    if (!u) {
        u = calloc(1, sizeof *u);
        buf_init(&u->body, 0);
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        buf_append(&u->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    record(s, conn, method, url, &u->body);
    return route(s, conn, url, method, &u->body);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct upload *u = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (u) {
        buf_free(&u->body);
        free(u);
        *con_cls = NULL;
    }
}

/* Starts a server; with key and cert (PEM), it speaks https only. */
static void srv_start_tls(struct srv *s, const char *key, const char *cert)
{
    struct sockaddr_in a;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;

    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (key)
        s->d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_req, s, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    else
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_req, s, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                MHD_OPTION_CONNECTION_LIMIT, 4000u, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                                2048u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024, MHD_OPTION_END);
    cr_assert_not_null(s->d, "the test server did not start");
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%u", key ? "https" : "http",
             (unsigned)s->port);
}

static void srv_start(struct srv *s)
{
    srv_start_tls(s, NULL, NULL);
}

static void srv_stop(struct srv *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->d);
    for (int i = 0; i < s->n_recs; i++) {
        for (size_t k = 0; k < s->recs[i].n_hdrs; k++) {
            free(s->recs[i].hdrs[k].name);
            free(s->recs[i].hdrs[k].value);
        }
        free(s->recs[i].hdrs);
        free(s->recs[i].body);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static int srv_hits(struct srv *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->hits;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* A recorded request header (case-insensitive name), or NULL. */
static const char *rec_header(const struct rec *r, const char *name)
{
    for (size_t i = 0; i < r->n_hdrs; i++) {
        if (cstr_ieq(r->hdrs[i].name, name))
            return r->hdrs[i].value;
    }
    return NULL;
}

/* A server in a forked child, so that its threads are not this process's. */
struct child {
    pid_t pid;
    int ctl; /* closing it stops the child */
    uint16_t port;
};

static void child_start(struct child *ch)
{
    int portp[2], ctl[2];
    cr_assert_eq(pipe(portp), 0);
    cr_assert_eq(pipe(ctl), 0);
    ch->pid = fork();
    cr_assert_neq(ch->pid, -1);
    if (ch->pid == 0) {
        struct srv s;
        char b;
        close(portp[0]);
        close(ctl[1]);
        srv_start(&s);
        if (write(portp[1], &s.port, sizeof s.port) != (ssize_t)sizeof s.port)
            _exit(1);
        while (read(ctl[0], &b, 1) > 0 || errno == EINTR)
            ;
        srv_stop(&s);
        _exit(0);
    }
    close(portp[1]);
    close(ctl[0]);
    cr_assert_eq(read(portp[0], &ch->port, sizeof ch->port), (ssize_t)sizeof ch->port);
    close(portp[0]);
    ch->ctl = ctl[1];
}

static void child_stop(struct child *ch)
{
    int status;
    close(ch->ctl);
    waitpid(ch->pid, &status, 0);
}

/* ---- the client side ---- */

static void init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

TestSuite(test_transport, .init = init, .timeout = 60);

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    cr_assert_not_null(p);
    return p;
}

/* A request owning copies of everything; hdrs is name, value, ..., NULL. */
static struct connect_request mkreq(const char *method, const char *url, const char *const *hdrs,
                                    const void *body, size_t body_len)
{
    struct connect_request r;
    size_t n = 0;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.url = xstrdup(url);
    r.url_len = strlen(url);
    while (hdrs && hdrs[2 * n])
        n++;
    if (n) {
        r.headers = calloc(n, sizeof *r.headers);
        for (size_t i = 0; i < n; i++) {
            r.headers[i].name = xstrdup(hdrs[2 * i]);
            r.headers[i].value = xstrdup(hdrs[2 * i + 1]);
        }
        r.n_headers = n;
    }
    if (body) {
        r.body = malloc(body_len + 1);
        memcpy(r.body, body, body_len);
        r.body[body_len] = '\0';
        r.body_len = body_len;
    }
    return r;
}

/* Completions of many calls, counted. */
struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int ok200;
    int failed;
    int unavailable_shutdown;
    bool one_thread;
    pthread_t th;
    struct connect_response *last; /* kept when keep_last */
    bool keep_last;
};

static void batch_init(struct batch *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->one_thread = true;
}

static void batch_fini(struct batch *b)
{
    connect_response_free(b->last);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void batch_done(void *cls, struct connect_response *r)
{
    struct batch *b = cls;
    pthread_mutex_lock(&b->mu);
    if (b->done == 0)
        b->th = pthread_self();
    else if (!pthread_equal(b->th, pthread_self()))
        b->one_thread = false;
    b->done++;
    if (r->err == MD_OK && r->status == 200)
        b->ok200++;
    if (r->err != MD_OK)
        b->failed++;
    if (r->err == MD_ERR_UNAVAILABLE && strstr(r->error, "shutting down"))
        b->unavailable_shutdown++;
    if (b->keep_last) {
        connect_response_free(b->last);
        b->last = r;
        r = NULL;
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    connect_response_free(r);
}

/* Waits until n calls completed; false after timeout_ms. */
static bool batch_wait(struct batch *b, int n, long timeout_ms)
{
    int64_t deadline = time_mono_ms() + timeout_ms;
    bool ok;
    pthread_mutex_lock(&b->mu);
    while (b->done < n && time_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    ok = b->done >= n;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static struct connect_transport *start(bool allow_http, int max_inflight)
{
    struct connect_transport_config cfg = {.max_inflight = max_inflight, .allow_http = allow_http};
    struct connect_transport *t = NULL;
    struct md_error e;
    cr_assert_eq(connect_transport_start(&cfg, &t, &e), MD_OK, "%s", e.msg);
    return t;
}

/* Submits req and waits for its response (which the caller frees). */
static struct connect_response *call(struct connect_transport *t, struct connect_request *req,
                                     const struct connect_limits *lim)
{
    struct batch b;
    struct md_error e;
    struct connect_response *r;
    batch_init(&b);
    b.keep_last = true;
    cr_assert_eq(connect_transport_submit(t, req, lim, batch_done, &b, &e), MD_OK, "%s", e.msg);
    cr_assert(batch_wait(&b, 1, 20000), "no completion");
    r = b.last;
    b.last = NULL;
    batch_fini(&b);
    return r;
}

static struct connect_response *get(struct connect_transport *t, const char *url,
                                    const char *const *hdrs, const struct connect_limits *lim)
{
    struct connect_request req = mkreq("GET", url, hdrs, NULL, 0);
    return call(t, &req, lim);
}

/* The in-flight count drops when a callback returns, just after it counted itself done. */
static bool inflight_drains(struct connect_transport *t)
{
    int64_t deadline = time_mono_ms() + 2000;
    while (connect_transport_inflight(t) != 0 && time_mono_ms() < deadline)
        usleep(1000);
    return connect_transport_inflight(t) == 0;
}

static int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;
    cr_assert_not_null(d);
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            long long v;
            char *p = line + 6, *q;
            while (*p == ' ' || *p == '\t')
                p++;
            q = p;
            while (*q >= '0' && *q <= '9')
                q++;
            if (str_to_ll(p, (size_t)(q - p), 0, 1LL << 40, &v))
                kib = (long)v;
        }
    }
    if (f)
        fclose(f);
    return kib;
}

/* ---- what arrives upstream ---- */

Test(test_transport, methods_bodies_and_headers_arrive_exactly)
{
    struct srv s;
    struct connect_transport *t;
    struct connect_request req;
    struct connect_response *r;
    char url[128];
    static const char bin[] = "a\0b\r\nc\"\xff";
    const char *hdrs[] = {
        "Authorization", "Bearer tok-123", "X-Api-Key", "k v", "X-Empty", "", NULL};
    char *big;

    srv_start(&s);
    t = start(true, 0);

    /* GET with a query, custom headers, an empty header; no body, no Content-Length. */
    snprintf(url, sizeof url, "%s/echo?a=1%%202&b=x", s.base);
    r = get(t, url, hdrs, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->status, 200);
    cr_assert_eq(r->body_len, 0);
    cr_assert_not_null(r->body);
    cr_assert_str_eq(connect_response_header(r, "x-method"), "GET");
    cr_assert_str_eq(connect_response_header(r, "X-SPACED"), "padded value");
    cr_assert_null(connect_response_header(r, "X-Absent"));
    cr_assert_geq(r->elapsed_ms, 0);
    connect_response_free(r);
    cr_assert_eq(s.n_recs, 1);
    cr_assert_str_eq(s.recs[0].method, "GET");
    cr_assert_str_eq(s.recs[0].path, "/echo");
    cr_assert_str_eq(s.recs[0].query_a, "1 2");
    cr_assert_str_eq(rec_header(&s.recs[0], "Authorization"), "Bearer tok-123");
    cr_assert_str_eq(rec_header(&s.recs[0], "X-Api-Key"), "k v");
    cr_assert_str_eq(rec_header(&s.recs[0], "X-Empty"), "");
    cr_assert_str_eq(rec_header(&s.recs[0], "User-Agent"), "mandate/0.1");
    cr_assert_null(rec_header(&s.recs[0], "Content-Length"));
    cr_assert_null(rec_header(&s.recs[0], "Expect"));
    cr_assert_not_null(rec_header(&s.recs[0], "Accept-Encoding"));

    /* POST with a binary body holding NULs, echoed back byte for byte. */
    snprintf(url, sizeof url, "%s/echo", s.base);
    req = mkreq("POST", url, NULL, bin, sizeof bin - 1);
    r = call(t, &req, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->body_len, sizeof bin - 1);
    cr_assert_eq(memcmp(r->body, bin, sizeof bin - 1), 0);
    cr_assert_eq(r->body[r->body_len], '\0');
    connect_response_free(r);
    cr_assert_str_eq(s.recs[1].method, "POST");
    cr_assert_eq(s.recs[1].body_len, sizeof bin - 1);
    cr_assert_eq(memcmp(s.recs[1].body, bin, sizeof bin - 1), 0);
    cr_assert_str_eq(rec_header(&s.recs[1], "Content-Length"), "8");

    /* PUT without a body sends Content-Length: 0; PATCH and DELETE keep their names. */
    req = mkreq("PUT", url, NULL, NULL, 0);
    connect_response_free(call(t, &req, NULL));
    cr_assert_str_eq(s.recs[2].method, "PUT");
    cr_assert_str_eq(rec_header(&s.recs[2], "Content-Length"), "0");
    req = mkreq("PATCH", url, NULL, "{\"x\":1}", 7);
    connect_response_free(call(t, &req, NULL));
    cr_assert_str_eq(s.recs[3].method, "PATCH");
    cr_assert_str_eq(s.recs[3].body, "{\"x\":1}");
    req = mkreq("DELETE", url, NULL, NULL, 0);
    connect_response_free(call(t, &req, NULL));
    cr_assert_str_eq(s.recs[4].method, "DELETE");
    cr_assert_eq(s.recs[4].body_len, 0);
    cr_assert_null(rec_header(&s.recs[4], "Content-Length"));

    /* A body over 1 MiB goes without Expect: 100-continue (curl would add it). */
    big = malloc(1536 * 1024);
    memset(big, 'b', 1536 * 1024);
    req = mkreq("POST", url, NULL, big, 1536 * 1024);
    free(big);
    r = call(t, &req, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->body_len, 1536 * 1024);
    connect_response_free(r);
    cr_assert_eq(s.recs[5].body_len, 1536 * 1024);
    cr_assert_null(rec_header(&s.recs[5], "Expect"));

    /* All of these went over one connection: the connection cache works. */
    for (int i = 1; i < 6; i++)
        cr_assert_eq(s.recs[i].client_port, s.recs[0].client_port, "call %d reconnected", i);

    cr_assert(inflight_drains(t));
    connect_transport_free(t);
    srv_stop(&s);
}

Test(test_transport, submit_refusals_do_not_call_back)
{
    struct connect_transport *t = start(false, 0);
    struct connect_request req = mkreq("GET", "http://127.0.0.1:9/echo", NULL, NULL, 0);
    struct batch b;
    struct md_error e;

    batch_init(&b);
    /* allow_http is off: plain http is refused at once, and req is taken all the same. */
    cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "http"), "%s", e.msg);
    cr_assert_null(req.url);
    req = mkreq("TRACE", "https://127.0.0.1:9/echo", NULL, NULL, 0);
    cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_ERR_VALUE);
    req = mkreq("GET", "ftp://127.0.0.1/x", NULL, NULL, 0);
    cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_ERR_VALUE);
    req = mkreq("GET", "not a url", NULL, NULL, 0);
    cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_ERR_VALUE);
    usleep(50000);
    cr_assert_eq(b.done, 0);
    cr_assert_eq(connect_transport_inflight(t), 0);
    connect_transport_free(t);
    batch_fini(&b);
}

/* ---- failures ---- */

Test(test_transport, timeout_fails_with_unavailable)
{
    struct srv s;
    struct connect_transport *t;
    struct connect_limits lim = {.timeout_ms = 200};
    struct connect_response *r;
    char url[128];

    srv_start(&s);
    t = start(true, 0);
    snprintf(url, sizeof url, "%s/slow?ms=3000", s.base);
    r = get(t, url, NULL, &lim);
    cr_assert_eq(r->err, MD_ERR_UNAVAILABLE);
    cr_assert(strstr(r->error, "timed out"), "%s", r->error);
    cr_assert_null(strstr(r->error, "ms=3000"), "the query string leaked: %s", r->error);
    cr_assert_null(r->body);
    cr_assert(r->elapsed_ms >= 150 && r->elapsed_ms < 2500, "%ld", r->elapsed_ms);
    connect_response_free(r);
    connect_transport_free(t);
    srv_stop(&s);
}

Test(test_transport, refused_connection_is_unavailable)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct connect_transport *t;
    struct connect_response *r;
    char url[160];

    /* A port that was just free and is closed again: nothing listens there. */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    snprintf(url, sizeof url, "http://user:pw-secret@127.0.0.1:%u/x?api_key=SECRET",
             (unsigned)ntohs(a.sin_port));
    t = start(true, 0);
    r = get(t, url, (const char *[]){"Authorization", "Bearer HEADER-SECRET", NULL}, NULL);
    cr_assert_eq(r->err, MD_ERR_UNAVAILABLE);
    cr_assert_eq(r->status, 0);
    cr_assert(strstr(r->error, "127.0.0.1"), "%s", r->error);
    cr_assert_null(strstr(r->error, "SECRET"), "%s", r->error);
    cr_assert_null(strstr(r->error, "pw-secret"), "%s", r->error);
    connect_response_free(r);
    connect_transport_free(t);
}

Test(test_transport, response_cap)
{
    struct srv s;
    struct connect_transport *t;
    struct connect_limits lim = {.max_response = 4096};
    struct connect_response *r;
    char url[128];

    srv_start(&s);
    t = start(true, 0);
    snprintf(url, sizeof url, "%s/big?n=5000", s.base);
    r = get(t, url, NULL, &lim);
    cr_assert_eq(r->err, MD_ERR_TOOLARGE, "%s", md_err_name(r->err));
    cr_assert(strstr(r->error, "4096"), "%s", r->error);
    cr_assert_null(r->body);
    connect_response_free(r);

    lim.max_response = 5000; /* exactly at the cap is fine */
    r = get(t, url, NULL, &lim);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->body_len, 5000);
    cr_assert_eq(r->body[4999], 'x');
    connect_response_free(r);

    /* The default cap is 4 MiB. */
    snprintf(url, sizeof url, "%s/big?n=%d", s.base, 4 * 1024 * 1024 + 1);
    r = get(t, url, NULL, NULL);
    cr_assert_eq(r->err, MD_ERR_TOOLARGE);
    connect_response_free(r);
    snprintf(url, sizeof url, "%s/big?n=%d", s.base, 4 * 1024 * 1024);
    r = get(t, url, NULL, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->body_len, 4 * 1024 * 1024);
    connect_response_free(r);
    connect_transport_free(t);
    srv_stop(&s);
}

Test(test_transport, gzip_is_decoded_and_capped_after_decoding)
{
    struct srv s;
    struct connect_transport *t;
    struct connect_limits lim = {.max_response = 50000};
    struct connect_response *r;
    char url[128];
    size_t plain = strlen(GZ_PLAIN) * GZ_REPEAT;

    srv_start(&s);
    t = start(true, 0);
    snprintf(url, sizeof url, "%s/gzip", s.base);
    r = get(t, url, NULL, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->body_len, plain);
    cr_assert_eq(strncmp(r->body, GZ_PLAIN GZ_PLAIN, 2 * strlen(GZ_PLAIN)), 0);
    cr_assert_str_eq(connect_response_header(r, "Content-Encoding"), "gzip");
    connect_response_free(r);
    /* 262 bytes on the wire, 110,000 decoded: the cap is on what is decoded. */
    r = get(t, url, NULL, &lim);
    cr_assert_eq(r->err, MD_ERR_TOOLARGE);
    connect_response_free(r);
    connect_transport_free(t);
    srv_stop(&s);
}

Test(test_transport, response_headers_are_capped)
{
    struct srv s;
    struct connect_transport *t;
    struct connect_response *r;
    char url[128];

    srv_start(&s);
    t = start(true, 0);
    snprintf(url, sizeof url, "%s/hdrs", s.base);
    r = get(t, url, NULL, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->n_headers, CONNECT_RESPONSE_HEADERS_MAX);
    cr_assert_null(connect_response_header(r, "X-Long"));
    cr_assert_str_eq(connect_response_header(r, "X-N-0"), "n");
    for (size_t i = 0; i < r->n_headers; i++)
        cr_assert_leq(strlen(r->headers[i].value), CONNECT_RESPONSE_HEADER_LINE_MAX);
    connect_response_free(r);
    connect_transport_free(t);
    srv_stop(&s);
}

/* ---- redirects ---- */

Test(test_transport, same_origin_redirects_are_followed)
{
    struct srv s;
    struct connect_transport *t;
    struct connect_request req;
    struct connect_response *r;
    char url[256];
    const char *auth[] = {"Authorization", "Bearer same-origin", NULL};

    srv_start(&s);
    t = start(true, 0);

    /* A relative Location, then an absolute one, for a GET. */
    snprintf(url, sizeof url, "%s/redirect?code=302&to=echo", s.base);
    r = get(t, url, auth, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(connect_response_header(r, "X-Method"), "GET");
    /* The headers are the last response's only. */
    cr_assert_null(connect_response_header(r, "Location"));
    cr_assert_null(connect_response_header(r, "X-Hop"));
    connect_response_free(r);
    cr_assert_eq(s.n_recs, 2);
    cr_assert_str_eq(s.recs[1].path, "/echo");
    cr_assert_str_eq(rec_header(&s.recs[1], "Authorization"), "Bearer same-origin");

    snprintf(url, sizeof url, "%s/redirect?code=303&to=%s/echo", s.base, s.base);
    r = get(t, url, auth, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->status, 200);
    connect_response_free(r);
    cr_assert_eq(s.n_recs, 4);

    /* 307 and 308 keep a POST's method and body. */
    snprintf(url, sizeof url, "%s/redirect?code=307&to=/echo", s.base);
    req = mkreq("POST", url, auth, "payload", 7);
    r = call(t, &req, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->body_len, 7);
    cr_assert_str_eq(r->body, "payload");
    cr_assert_str_eq(connect_response_header(r, "X-Method"), "POST");
    connect_response_free(r);
    cr_assert_str_eq(s.recs[5].method, "POST");
    cr_assert_str_eq(s.recs[5].body, "payload");

    snprintf(url, sizeof url, "%s/redirect?code=308&to=/echo", s.base);
    req = mkreq("PUT", url, auth, "x", 1);
    r = call(t, &req, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_str_eq(connect_response_header(r, "X-Method"), "PUT");
    connect_response_free(r);
    connect_transport_free(t);
    srv_stop(&s);
}

Test(test_transport, redirects_not_followed)
{
    struct srv s, other;
    struct connect_transport *t;
    struct connect_request req;
    struct connect_response *r;
    char url[256], want[128];
    const char *auth[] = {"Authorization", "Bearer must-not-leak", NULL};

    srv_start(&s);
    srv_start(&other);
    t = start(true, 0);

    /* Another origin: another port on the same host. */
    snprintf(url, sizeof url, "%s/redirect?code=302&to=%s/echo", s.base, other.base);
    r = get(t, url, auth, NULL);
    cr_assert_eq(r->err, MD_ERR_VALUE);
    cr_assert_eq(r->status, 302);
    snprintf(want, sizeof want, "upstream redirected to another host (%s); not followed",
             other.base);
    cr_assert_str_eq(r->error, want);
    cr_assert_str_eq(r->body, "moved");
    connect_response_free(r);

    /* 307 keeps the method, but never across origins either. */
    snprintf(url, sizeof url, "%s/redirect?code=307&to=%s/echo", s.base, other.base);
    req = mkreq("POST", url, auth, "b", 1);
    r = call(t, &req, NULL);
    cr_assert_eq(r->err, MD_ERR_VALUE);
    cr_assert(strstr(r->error, "another host"), "%s", r->error);
    connect_response_free(r);

    /* Same host and port, another scheme, is another origin. */
    snprintf(url, sizeof url, "%s/redirect?code=301&to=https://127.0.0.1:%u/echo", s.base,
             (unsigned)s.port);
    r = get(t, url, auth, NULL);
    cr_assert_eq(r->err, MD_ERR_VALUE);
    cr_assert(strstr(r->error, "another host"), "%s", r->error);
    connect_response_free(r);

    /* The other origin never saw a request, so never the Authorization header. */
    cr_assert_eq(srv_hits(&other), 0);

    /* A POST redirected by 302 (or 301, 303) is not turned into anything. */
    snprintf(url, sizeof url, "%s/redirect?code=302&to=/echo", s.base);
    req = mkreq("POST", url, NULL, "b", 1);
    r = call(t, &req, NULL);
    cr_assert_eq(r->err, MD_ERR_VALUE);
    cr_assert_eq(r->status, 302);
    cr_assert(strstr(r->error, "POST"), "%s", r->error);
    connect_response_free(r);
    cr_assert_eq(srv_hits(&s), 4);

    /* No Location. */
    snprintf(url, sizeof url, "%s/redirect?code=302", s.base);
    r = get(t, url, NULL, NULL);
    cr_assert_eq(r->err, MD_ERR_VALUE);
    cr_assert(strstr(r->error, "without a Location"), "%s", r->error);
    connect_response_free(r);

    /* An endless loop stops after 5 hops: 6 requests. */
    snprintf(url, sizeof url, "%s/loop", s.base);
    r = get(t, url, NULL, NULL);
    cr_assert_eq(r->err, MD_ERR_VALUE);
    cr_assert_eq(r->status, 302);
    cr_assert(strstr(r->error, "more than 5"), "%s", r->error);
    connect_response_free(r);
    cr_assert_eq(srv_hits(&s), 5 + 6);

    connect_transport_free(t);
    srv_stop(&other);
    srv_stop(&s);
}

/* ---- concurrency, limits, shutdown ---- */

/* n slow calls at once against a server in another process; returns the elapsed ms. */
static long run_concurrent(int n, int slow_ms)
{
    struct child ch;
    struct connect_transport *t;
    struct batch b;
    struct md_error e;
    char url[128];
    int base_tasks, max_tasks = 0;
    long rss0, rss_peak = 0, elapsed;
    int64_t t0;

    child_start(&ch);
    batch_init(&b);
    base_tasks = count_tasks();
    t = start(true, 0);
    cr_assert_eq(count_tasks(), base_tasks + 1, "the transport must add exactly one thread");
    snprintf(url, sizeof url, "http://127.0.0.1:%u/slow?ms=%d", (unsigned)ch.port, slow_ms);
    rss0 = rss_kib();
    t0 = time_mono_ms();
    for (int i = 0; i < n; i++) {
        struct connect_request req = mkreq("GET", url, NULL, NULL, 0);
        cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_OK, "%s",
                     e.msg);
    }
    while (!batch_wait(&b, n, 10)) {
        int k = count_tasks();
        long rss = rss_kib();
        max_tasks = k > max_tasks ? k : max_tasks;
        rss_peak = rss > rss_peak ? rss : rss_peak;
        if (time_mono_ms() - t0 > 30000)
            break;
    }
    elapsed = (long)(time_mono_ms() - t0);
    cr_assert_eq(b.done, n, "%d of %d completed", b.done, n);
    cr_assert_eq(b.ok200, n, "%d of %d answered 200", b.ok200, n);
    cr_assert(b.one_thread, "callbacks ran on more than one thread");
    cr_assert(!pthread_equal(b.th, pthread_self()));
    cr_assert_leq(max_tasks, base_tasks + 1, "%d threads at the peak, %d before", max_tasks,
                  base_tasks);
    cr_assert(inflight_drains(t));
    cr_log_info("%d concurrent calls of %d ms: %ld ms, RSS +%ld KiB at the peak (%.1f KiB per "
                "call, client side)",
                n, slow_ms, elapsed, rss_peak - rss0, (double)(rss_peak - rss0) / (double)n);
    connect_transport_free(t);
    cr_assert_eq(count_tasks(), base_tasks);
    batch_fini(&b);
    child_stop(&ch);
    return elapsed;
}

Test(test_transport, concurrent_200_slow_calls_on_one_thread)
{
    long ms = run_concurrent(200, 300);
    /* Serially this would take 60 s. */
    cr_assert_lt(ms, 3000, "%ld ms", ms);
}

Test(test_transport, concurrent_1000_slow_calls)
{
    struct rlimit rl;
    long ms;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    /* Here, in the test only: the library leaves the limit to main. */
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2200)
        cr_skip("RLIMIT_NOFILE is %llu, 1,000 concurrent calls need about 2,100",
                (unsigned long long)rl.rlim_cur);
    ms = run_concurrent(1000, 300);
    cr_assert_lt(ms, 6000, "%ld ms", ms);
}

Test(test_transport, max_inflight_refuses_at_once)
{
    struct srv s;
    struct connect_transport *t;
    struct batch b;
    struct md_error e;
    struct connect_request req;
    char url[128];

    srv_start(&s);
    batch_init(&b);
    t = start(true, 2);
    snprintf(url, sizeof url, "%s/slow?ms=300", s.base);
    for (int i = 0; i < 2; i++) {
        req = mkreq("GET", url, NULL, NULL, 0);
        cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_OK);
    }
    cr_assert_eq(connect_transport_inflight(t), 2);
    req = mkreq("GET", url, NULL, NULL, 0);
    cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_ERR_UNAVAILABLE);
    cr_assert(strstr(e.msg, "in flight"), "%s", e.msg);
    cr_assert_null(req.url);
    cr_assert(batch_wait(&b, 2, 5000));
    cr_assert(inflight_drains(t));
    cr_assert_eq(b.done, 2);
    cr_assert_eq(b.ok200, 2);
    /* Room again. */
    req = mkreq("GET", url, NULL, NULL, 0);
    cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_OK);
    cr_assert(batch_wait(&b, 3, 5000));
    connect_transport_free(t);
    batch_fini(&b);
    srv_stop(&s);
}

Test(test_transport, stop_completes_calls_in_flight)
{
    struct srv s;
    struct connect_transport *t;
    struct batch b;
    struct md_error e;
    char url[128];
    int64_t t0;
    int n = 20;

    srv_start(&s);
    batch_init(&b);
    t = start(true, 0);
    snprintf(url, sizeof url, "%s/slow?ms=5000", s.base);
    for (int i = 0; i < n; i++) {
        struct connect_request req = mkreq("POST", url, NULL, "body", 4);
        cr_assert_eq(connect_transport_submit(t, &req, NULL, batch_done, &b, &e), MD_OK);
    }
    t0 = time_mono_ms();
    while (srv_hits(&s) < n && time_mono_ms() - t0 < 5000)
        usleep(5000);
    cr_assert_eq(srv_hits(&s), n);
    cr_assert_eq(connect_transport_inflight(t), n);
    t0 = time_mono_ms();
    connect_transport_free(t);
    cr_assert_lt(time_mono_ms() - t0, 1000, "stop waited for the upstream");
    /* Every callback ran before stop returned. */
    cr_assert_eq(b.done, n);
    cr_assert_eq(b.failed, n);
    cr_assert_eq(b.unavailable_shutdown, n);
    batch_fini(&b);
    srv_stop(&s);
}

/* A callback that submits another call from the loop thread, as the OAuth step does. */
struct chain {
    struct connect_transport *t;
    char url[128];
    struct batch *b;
};

static void chain_first(void *cls, struct connect_response *r)
{
    struct chain *c = cls;
    struct connect_request req = mkreq("GET", c->url, NULL, NULL, 0);
    struct md_error e;
    bool ok = r->err == MD_OK &&
              connect_transport_submit(c->t, &req, NULL, batch_done, c->b, &e) == MD_OK;
    connect_response_free(r);
    if (!ok) {
        pthread_mutex_lock(&c->b->mu);
        c->b->done = -1000;
        pthread_mutex_unlock(&c->b->mu);
    }
}

Test(test_transport, callbacks_may_submit)
{
    struct srv s;
    struct batch b;
    struct chain c;
    struct md_error e;
    struct connect_request req;

    srv_start(&s);
    batch_init(&b);
    c.t = start(true, 0);
    c.b = &b;
    snprintf(c.url, sizeof c.url, "%s/echo", s.base);
    req = mkreq("GET", c.url, NULL, NULL, 0);
    cr_assert_eq(connect_transport_submit(c.t, &req, NULL, chain_first, &c, &e), MD_OK);
    cr_assert(batch_wait(&b, 1, 5000));
    cr_assert_eq(b.ok200, 1);
    cr_assert_eq(srv_hits(&s), 2);
    connect_transport_free(c.t);
    batch_fini(&b);
    srv_stop(&s);
}

/* ---- https ---- */

static void cert_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ex;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    cr_assert_not_null(ex);
    cr_assert_eq(X509_add_ext(x, ex, -1), 1);
    X509_EXTENSION_free(ex);
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

/* A self-signed certificate for 127.0.0.1 and its key, PEM. */
static void make_cert(char **key_pem, char **cert_pem)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());

    cr_assert(pk && x && kb && cb);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    cert_ext(x, NID_subject_alt_name, "IP:127.0.0.1");
    cert_ext(x, NID_basic_constraints, "critical,CA:TRUE");
    cr_assert(X509_sign(x, pk, EVP_sha256()) > 0);
    cr_assert_eq(PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL), 1);
    cr_assert_eq(PEM_write_bio_X509(cb, x), 1);
    *key_pem = bio_text(kb);
    *cert_pem = bio_text(cb);
    X509_free(x);
    EVP_PKEY_free(pk);
}

Test(test_transport, https_with_ca_file)
{
    struct srv s;
    char *key, *cert, url[128];
    char ca_path[] = "/tmp/mandate-test-ca-XXXXXX";
    int fd;
    struct connect_transport_config cfg = {.ca_file = ca_path};
    struct connect_transport *t, *t_system;
    struct connect_response *r;
    struct md_error e;

    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        cr_skip("libmicrohttpd was built without TLS");
    make_cert(&key, &cert);
    fd = mkstemp(ca_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, cert, strlen(cert)), (ssize_t)strlen(cert));
    close(fd);
    srv_start_tls(&s, key, cert);
    snprintf(url, sizeof url, "%s/echo", s.base);

    /* Trusting the test certificate, with allow_http off: https is always allowed. */
    cr_assert_eq(connect_transport_start(&cfg, &t, &e), MD_OK, "%s", e.msg);
    r = get(t, url, (const char *[]){"Authorization", "Bearer over-tls", NULL}, NULL);
    cr_assert_eq(r->err, MD_OK, "%s", r->error);
    cr_assert_eq(r->status, 200);
    connect_response_free(r);
    cr_assert_str_eq(rec_header(&s.recs[0], "Authorization"), "Bearer over-tls");

    /* The system's CAs do not know it: the call fails, and nothing was sent. */
    cfg.ca_file = NULL;
    cr_assert_eq(connect_transport_start(&cfg, &t_system, &e), MD_OK, "%s", e.msg);
    r = get(t_system, url, (const char *[]){"Authorization", "Bearer must-not-leak", NULL}, NULL);
    cr_assert_eq(r->err, MD_ERR_UNAVAILABLE);
    cr_assert(strstr(r->error, "TLS"), "%s", r->error);
    cr_assert_null(strstr(r->error, "must-not-leak"));
    connect_response_free(r);
    cr_assert_eq(srv_hits(&s), 1);

    connect_transport_free(t_system);
    connect_transport_free(t);
    srv_stop(&s);
    unlink(ca_path);
    free(key);
    free(cert);
}
