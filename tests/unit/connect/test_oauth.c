/*
 * OAuth 2.0 grants against a real local token endpoint (libmicrohttpd on 127.0.0.1, port 0)
 * that follows RFC 6749 4.4, 6 and 5.1/5.2 and RFC 7523 2.1: what the request carries (Basic
 * or client_secret_post, a refresh token, a signed assertion), caching, expiry, forced
 * refresh, one request for concurrent callers, the mapping of error responses, and refresh
 * tokens that the endpoint rotates.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connect/oauth.h"
#include "core/str.h"
#include "core/time.h"

/* ---- the token endpoint ---- */

struct tep {
    struct MHD_Daemon *d;
    char url[96]; /* http://127.0.0.1:PORT/token */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    /* What it answers: status and a body format with %d for the hit count. */
    unsigned status;
    const char *fmt;
    long delay_ms;
    /* What it saw last. */
    int hits;
    char method[16];
    char body[4096];
    char auth[512];
    char content_type[128];
    char accept[128];
};

struct upload {
    struct buf body;
};

static void copy_header(struct MHD_Connection *conn, const char *name, char *out, size_t n)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    snprintf(out, n, "%s", v ? v : "");
}

static void tep_sleep(struct tep *s, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
        ;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct tep *s = cls;
    struct upload *u = *con_cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    char out[1024];
    unsigned status;
    long delay;
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
    pthread_mutex_lock(&s->mu);
    s->hits++;
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->body, sizeof s->body, "%s", u->body.p ? u->body.p : "");
    copy_header(conn, "Authorization", s->auth, sizeof s->auth);
    copy_header(conn, "Content-Type", s->content_type, sizeof s->content_type);
    copy_header(conn, "Accept", s->accept, sizeof s->accept);
    if (strcmp(url, "/token") == 0) {
        /* The body with its "%d" (if any) replaced by the hit count. */
        const char *pct = strstr(s->fmt, "%d");
        if (pct)
            snprintf(out, sizeof out, "%.*s%d%s", (int)(pct - s->fmt), s->fmt, s->hits, pct + 2);
        else
            snprintf(out, sizeof out, "%s", s->fmt);
        status = s->status;
    } else {
        snprintf(out, sizeof out, "not here");
        status = 404;
    }
    delay = s->delay_ms;
    if (delay)
        tep_sleep(s, delay);
    pthread_mutex_unlock(&s->mu);
    r = MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
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

#define TOKEN_OK "{\"access_token\":\"tok-%d\",\"token_type\":\"Bearer\",\"expires_in\":3600}"

static void tep_start(struct tep *s)
{
    struct sockaddr_in a;
    const union MHD_DaemonInfo *info;

    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->status = 200;
    s->fmt = TOKEN_OK;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL,
        NULL, on_req, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    cr_assert_not_null(s->d, "the token endpoint did not start");
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/token", (unsigned)info->port);
}

static void tep_stop(struct tep *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->d);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* Sets what the endpoint answers next. */
static void tep_answer(struct tep *s, unsigned status, const char *fmt)
{
    pthread_mutex_lock(&s->mu);
    s->status = status;
    s->fmt = fmt;
    pthread_mutex_unlock(&s->mu);
}

static int tep_hits(struct tep *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->hits;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- the client side ---- */

static void init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

TestSuite(test_oauth, .init = init, .timeout = 30);

/* Outcomes of token callbacks. */
struct got {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    enum md_err err[64];
    char token[64][64];
    char error[64][256];
    pthread_t th[64];
};

static void got_init(struct got *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void got_fini(struct got *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void on_got(void *cls, enum md_err err, const char *token, const char *error)
{
    struct got *g = cls;
    pthread_mutex_lock(&g->mu);
    if (g->n < 64) {
        g->err[g->n] = err;
        snprintf(g->token[g->n], sizeof g->token[g->n], "%s", token ? token : "(null)");
        snprintf(g->error[g->n], sizeof g->error[g->n], "%s", error ? error : "(null)");
        g->th[g->n] = pthread_self();
    }
    g->n++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static bool got_wait(struct got *g, int n)
{
    int64_t deadline = time_mono_ms() + 10000;
    bool ok;
    pthread_mutex_lock(&g->mu);
    while (g->n < n && time_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    ok = g->n >= n;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

struct fixture {
    struct tep tep;
    struct connect_transport *t;
    struct connect_oauth *o;
    struct connect_oauth_params p;
    struct got g;
};

static void setup(struct fixture *f, bool allow_http)
{
    struct connect_transport_config cfg = {.allow_http = allow_http};
    struct md_error e;
    tep_start(&f->tep);
    cr_assert_eq(connect_transport_start(&cfg, &f->t, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(connect_oauth_new(f->t, &f->o, &e), MD_OK, "%s", e.msg);
    memset(&f->p, 0, sizeof f->p);
    f->p.cache_key = "github:abc123";
    f->p.token_url = f->tep.url;
    f->p.client_id = "my id:1";
    f->p.client_secret = "s&cret /=\xc3\xa9";
    got_init(&f->g);
}

static void teardown(struct fixture *f)
{
    connect_transport_free(f->t);
    connect_oauth_free(f->o);
    tep_stop(&f->tep);
    got_fini(&f->g);
}

/* Asks for a token and waits for the n-th callback overall. */
static void token(struct fixture *f, bool force, int n)
{
    struct md_error e;
    cr_assert_eq(connect_oauth_token(f->o, &f->p, force, on_got, &f->g, &e), MD_OK, "%s", e.msg);
    cr_assert(got_wait(&f->g, n), "no callback");
}

Test(test_oauth, basic_client_authentication_request)
{
    struct fixture f;
    setup(&f, true);
    f.p.scope = "read write";
    f.p.audience = "https://api.example.com";
    token(&f, false, 1);
    cr_assert_eq(f.g.err[0], MD_OK, "%s", f.g.error[0]);
    cr_assert_str_eq(f.g.token[0], "tok-1");
    cr_assert_str_eq(f.g.error[0], "(null)");
    cr_assert_str_eq(f.tep.method, "POST");
    cr_assert_str_eq(f.tep.body, "grant_type=client_credentials&scope=read+write"
                                 "&audience=https%3A%2F%2Fapi.example.com");
    /* base64("my+id%3A1:s%26cret+%2F%3D%C3%A9"): each part form-encoded first (RFC 6749 2.3.1). */
    cr_assert_str_eq(f.tep.auth, "Basic bXkraWQlM0ExOnMlMjZjcmV0KyUyRiUzRCVDMyVBOQ==");
    cr_assert_str_eq(f.tep.content_type, "application/x-www-form-urlencoded");
    cr_assert_str_eq(f.tep.accept, "application/json");
    teardown(&f);
}

Test(test_oauth, client_secret_post_request)
{
    struct fixture f;
    setup(&f, true);
    f.p.client_secret_post = true;
    token(&f, false, 1);
    cr_assert_eq(f.g.err[0], MD_OK, "%s", f.g.error[0]);
    cr_assert_str_eq(f.tep.body, "grant_type=client_credentials&client_id=my+id%3A1"
                                 "&client_secret=s%26cret+%2F%3D%C3%A9");
    cr_assert_str_eq(f.tep.auth, "");
    teardown(&f);
}

Test(test_oauth, token_is_cached)
{
    struct fixture f;
    setup(&f, true);
    token(&f, false, 1);
    cr_assert(!pthread_equal(f.g.th[0], pthread_self()), "a fetched token comes on the loop");
    /* From the cache: called at once, on this thread, before connect_oauth_token returns. */
    token(&f, false, 2);
    cr_assert(pthread_equal(f.g.th[1], pthread_self()));
    cr_assert_eq(f.g.err[1], MD_OK);
    cr_assert_str_eq(f.g.token[1], "tok-1");
    cr_assert_eq(tep_hits(&f.tep), 1);

    /* Another key never shares the token. */
    f.p.cache_key = "github:other";
    token(&f, false, 3);
    cr_assert_str_eq(f.g.token[2], "tok-2");
    cr_assert_eq(tep_hits(&f.tep), 2);
    teardown(&f);
}

Test(test_oauth, expiry)
{
    struct fixture f;
    setup(&f, true);
    /* 30 s left is under the 60 s margin: every call fetches a new token. */
    tep_answer(&f.tep, 200,
               "{\"access_token\":\"tok-%d\",\"token_type\":\"bearer\",\"expires_in\":30}");
    token(&f, false, 1);
    token(&f, false, 2);
    cr_assert_str_eq(f.g.token[0], "tok-1");
    cr_assert_str_eq(f.g.token[1], "tok-2");
    cr_assert_eq(tep_hits(&f.tep), 2);

    /* Without expires_in, a token lasts an hour. */
    f.p.cache_key = "k2";
    tep_answer(&f.tep, 200, "{\"access_token\":\"tok-%d\",\"token_type\":\"BEARER\"}");
    token(&f, false, 3);
    token(&f, false, 4);
    cr_assert_str_eq(f.g.token[3], "tok-3");
    cr_assert_eq(tep_hits(&f.tep), 3);

    /* expires_in as a string of digits, as some providers send it. */
    f.p.cache_key = "k3";
    tep_answer(&f.tep, 200,
               "{\"access_token\":\"tok-%d\",\"token_type\":\"Bearer\",\"expires_in\":\"61\"}");
    token(&f, false, 5);
    token(&f, false, 6);
    cr_assert_str_eq(f.g.token[5], "tok-4");
    cr_assert_eq(tep_hits(&f.tep), 4);
    tep_answer(&f.tep, 200,
               "{\"access_token\":\"tok-%d\",\"token_type\":\"Bearer\",\"expires_in\":\"59\"}");
    f.p.cache_key = "k4";
    token(&f, false, 7);
    token(&f, false, 8);
    cr_assert_str_eq(f.g.token[7], "tok-6");
    teardown(&f);
}

Test(test_oauth, force_refresh)
{
    struct fixture f;
    setup(&f, true);
    token(&f, false, 1);
    token(&f, true, 2);
    cr_assert_str_eq(f.g.token[1], "tok-2");
    cr_assert_eq(tep_hits(&f.tep), 2);
    /* The new token is cached in turn. */
    token(&f, false, 3);
    cr_assert_str_eq(f.g.token[2], "tok-2");
    cr_assert_eq(tep_hits(&f.tep), 2);
    teardown(&f);
}

struct asker {
    struct fixture *f;
    int calls;
};

static void *ask(void *arg)
{
    struct asker *a = arg;
    struct md_error e;
    for (int i = 0; i < a->calls; i++) {
        if (connect_oauth_token(a->f->o, &a->f->p, false, on_got, &a->f->g, &e) != MD_OK)
            return (void *)1;
    }
    return NULL;
}

Test(test_oauth, concurrent_callers_share_one_request)
{
    struct fixture f;
    pthread_t th[8];
    struct asker a = {.f = &f, .calls = 5};
    void *rv;

    setup(&f, true);
    f.tep.delay_ms = 300;
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, ask, &a), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], &rv);
        cr_assert_null(rv);
    }
    cr_assert(got_wait(&f.g, 40));
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(f.g.err[i], MD_OK, "%d: %s", i, f.g.error[i]);
        cr_assert_str_eq(f.g.token[i], "tok-1");
    }
    cr_assert_eq(tep_hits(&f.tep), 1);
    teardown(&f);
}

Test(test_oauth, error_responses)
{
    static const struct {
        unsigned status;
        const char *body;
        enum md_err want;
        const char *sentence; /* exact, or NULL */
        const char *has;      /* a substring */
    } cases[] = {
        {401, "{\"error\":\"invalid_client\",\"error_description\":\"Bad secret\"}",
         MD_ERR_UNAUTHORIZED,
         "token endpoint refused the client credentials: invalid_client (Bad secret)", NULL},
        {400, "{\"error\":\"unauthorized_client\"}", MD_ERR_UNAUTHORIZED,
         "token endpoint refused the client credentials: unauthorized_client", NULL},
        {400, "{\"error\":\"invalid_scope\",\"error_description\":\"no admin\"}", MD_ERR_FORBIDDEN,
         "token endpoint refused the scope: invalid_scope (no admin)", NULL},
        {400, "{\"error\":\"unsupported_grant_type\"}", MD_ERR_UNAVAILABLE,
         "token endpoint refused the request: unsupported_grant_type", NULL},
        {401, "<html>no</html>", MD_ERR_UNAUTHORIZED, NULL, "401"},
        {500, "oops", MD_ERR_UNAVAILABLE, "token endpoint answered HTTP 500", NULL},
        {200, "not json", MD_ERR_UNAVAILABLE, NULL, "JSON"},
        {200, "{\"token_type\":\"Bearer\"}", MD_ERR_UNAVAILABLE, NULL, "access_token"},
        {200, "{\"access_token\":\"a b\",\"token_type\":\"Bearer\"}", MD_ERR_UNAVAILABLE, NULL,
         "access_token"},
        {200, "{\"access_token\":\"t\",\"token_type\":\"mac\"}", MD_ERR_UNAVAILABLE, NULL,
         "type mac"},
        {200, "{\"access_token\":\"t\"}", MD_ERR_UNAVAILABLE, NULL, "Bearer"},
        {200, "{\"error\":\"invalid_client\"}", MD_ERR_UNAUTHORIZED, NULL, "invalid_client"},
    };
    struct fixture f;
    size_t n = sizeof cases / sizeof cases[0];

    setup(&f, true);
    for (size_t i = 0; i < n; i++) {
        tep_answer(&f.tep, cases[i].status, cases[i].body);
        token(&f, false, (int)i + 1);
        cr_assert_eq(f.g.err[i], cases[i].want, "case %zu: %s", i, md_err_name(f.g.err[i]));
        cr_assert_str_eq(f.g.token[i], "(null)", "case %zu", i);
        if (cases[i].sentence)
            cr_assert_str_eq(f.g.error[i], cases[i].sentence, "case %zu", i);
        if (cases[i].has)
            cr_assert(strstr(f.g.error[i], cases[i].has), "case %zu: %s", i, f.g.error[i]);
        cr_assert_null(strstr(f.g.error[i], "s&cret"), "case %zu", i);
        cr_assert_null(strstr(f.g.error[i], "bXkraWQ"), "case %zu", i);
    }
    /* Failures are not cached: every call above reached the endpoint. */
    cr_assert_eq(tep_hits(&f.tep), (int)n);
    teardown(&f);
}

Test(test_oauth, transport_failures)
{
    struct fixture f;
    struct md_error e;
    char url[96];
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    setup(&f, false);
    /* The transport refuses http: no callback, and the key is not left waiting. */
    cr_assert_eq(connect_oauth_token(f.o, &f.p, false, on_got, &f.g, &e), MD_ERR_VALUE);
    f.p.client_secret = NULL;
    cr_assert_eq(connect_oauth_token(f.o, &f.p, false, on_got, &f.g, &e), MD_ERR_VALUE);
    usleep(20000);
    cr_assert_eq(f.g.n, 0);
    teardown(&f);

    setup(&f, true);
    /* Nothing listens there. */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/token", (unsigned)ntohs(a.sin_port));
    f.p.token_url = url;
    token(&f, false, 1);
    cr_assert_eq(f.g.err[0], MD_ERR_UNAVAILABLE);
    cr_assert(strstr(f.g.error[0], "token request failed"), "%s", f.g.error[0]);
    /* The same key works again once the endpoint does. */
    f.p.token_url = f.tep.url;
    token(&f, false, 2);
    cr_assert_eq(f.g.err[1], MD_OK, "%s", f.g.error[1]);
    teardown(&f);
}

Test(test_oauth, stop_with_a_request_in_flight)
{
    struct fixture f;
    struct md_error e;
    setup(&f, true);
    f.tep.delay_ms = 2000;
    cr_assert_eq(connect_oauth_token(f.o, &f.p, false, on_got, &f.g, &e), MD_OK);
    cr_assert_eq(connect_oauth_token(f.o, &f.p, false, on_got, &f.g, &e), MD_OK);
    usleep(50000);
    connect_transport_free(f.t);
    cr_assert_eq(f.g.n, 2);
    cr_assert_eq(f.g.err[0], MD_ERR_UNAVAILABLE);
    cr_assert(strstr(f.g.error[1], "shutting down"), "%s", f.g.error[1]);
    connect_oauth_free(f.o);
    tep_stop(&f.tep);
    got_fini(&f.g);
}

/* ---- the refresh token grant (RFC 6749 section 6) ---- */

/* What the rotate callback saw, and when (against the token callbacks). */
struct rotations {
    pthread_mutex_t mu;
    int n;
    char old_token[8][64], new_token[8][64], id[8][64];
    int callbacks_before[8]; /* token callbacks already made when rotate was called */
    struct got *g;
};

static void on_rotate(void *cls, const char *id, const char *old_token, const char *new_token)
{
    struct rotations *r = cls;
    pthread_mutex_lock(&r->mu);
    if (r->n < 8) {
        snprintf(r->id[r->n], sizeof r->id[0], "%s", id);
        snprintf(r->old_token[r->n], sizeof r->old_token[0], "%s", old_token);
        snprintf(r->new_token[r->n], sizeof r->new_token[0], "%s", new_token);
        pthread_mutex_lock(&r->g->mu);
        r->callbacks_before[r->n] = r->g->n;
        pthread_mutex_unlock(&r->g->mu);
    }
    r->n++;
    pthread_mutex_unlock(&r->mu);
}

static void refresh_setup(struct fixture *f, struct rotations *rot, const char *rt)
{
    setup(f, true);
    memset(rot, 0, sizeof *rot);
    pthread_mutex_init(&rot->mu, NULL);
    rot->g = &f->g;
    f->p.grant = CONNECT_GRANT_REFRESH_TOKEN;
    f->p.refresh_token = rt;
    f->p.rotate = on_rotate;
    f->p.rotate_cls = rot;
    f->p.rotate_id = "quickbooks";
}

Test(test_oauth, refresh_grant_request)
{
    struct fixture f;
    struct rotations rot;
    refresh_setup(&f, &rot, "AB11 refresh/=");
    f.p.scope = "com.intuit.quickbooks.accounting";
    /* Intuit answers token_type "bearer" and no new refresh token here. */
    tep_answer(&f.tep, 200,
               "{\"access_token\":\"tok-%d\",\"token_type\":\"bearer\",\"expires_in\":3600}");
    token(&f, false, 1);
    cr_assert_eq(f.g.err[0], MD_OK, "%s", f.g.error[0]);
    cr_assert_str_eq(f.g.token[0], "tok-1");
    cr_assert_str_eq(f.tep.body, "grant_type=refresh_token&refresh_token=AB11+refresh%2F%3D"
                                 "&scope=com.intuit.quickbooks.accounting");
    cr_assert_str_eq(f.tep.auth, "Basic bXkraWQlM0ExOnMlMjZjcmV0KyUyRiUzRCVDMyVBOQ==");
    cr_assert_str_eq(f.tep.content_type, "application/x-www-form-urlencoded");
    /* Cached like a client-credentials token; no rotation without a new refresh token. */
    token(&f, false, 2);
    cr_assert_eq(tep_hits(&f.tep), 1);
    cr_assert_eq(rot.n, 0);

    /* client_auth "post": the client in the body, no Basic header. */
    f.p.cache_key = "qb:post";
    f.p.client_secret_post = true;
    f.p.scope = NULL;
    token(&f, false, 3);
    cr_assert_str_eq(f.tep.body, "grant_type=refresh_token&refresh_token=AB11+refresh%2F%3D"
                                 "&client_id=my+id%3A1&client_secret=s%26cret+%2F%3D%C3%A9");
    cr_assert_str_eq(f.tep.auth, "");
    teardown(&f);
}

/*
 * Rotation: each refresh returns a new refresh token; the next refresh uses the newest, even
 * when the caller still brings an older one of the lineage (it read the vault before the
 * rotation was stored); the rotate callback hears of each rotation before anyone gets the
 * access token; a refresh token of no known lineage (an administrator set a new credential)
 * starts afresh with it.
 */
Test(test_oauth, refresh_token_rotation)
{
    struct fixture f;
    struct rotations rot;
    refresh_setup(&f, &rot, "rt-0");
    /* 30 s left: under the 60 s margin, so every call refreshes. */
    tep_answer(&f.tep, 200,
               "{\"refresh_token\":\"rt-%d\",\"access_token\":\"tok\",\"token_type\":\"bearer\","
               "\"expires_in\":30,\"x_refresh_token_expires_in\":8726400}");

    token(&f, false, 1);
    cr_assert_eq(f.g.err[0], MD_OK, "%s", f.g.error[0]);
    cr_assert_str_eq(f.tep.body, "grant_type=refresh_token&refresh_token=rt-0");
    cr_assert_eq(rot.n, 1);
    cr_assert_str_eq(rot.id[0], "quickbooks");
    cr_assert_str_eq(rot.old_token[0], "rt-0");
    cr_assert_str_eq(rot.new_token[0], "rt-1");
    cr_assert_eq(rot.callbacks_before[0], 0, "rotate comes before the access token is handed out");

    /* A stale caller: the refresh still uses rt-1. */
    token(&f, false, 2);
    cr_assert_str_eq(f.tep.body, "grant_type=refresh_token&refresh_token=rt-1");
    cr_assert_eq(rot.n, 2);
    cr_assert_str_eq(rot.old_token[1], "rt-1");
    cr_assert_str_eq(rot.new_token[1], "rt-2");

    /* A caller with the newest: rt-2. */
    f.p.refresh_token = "rt-2";
    token(&f, false, 3);
    cr_assert_str_eq(f.tep.body, "grant_type=refresh_token&refresh_token=rt-2");

    /* An administrator's new credential: its own refresh token is used, not the lineage's. */
    f.p.refresh_token = "admin-set";
    token(&f, false, 4);
    cr_assert_str_eq(f.tep.body, "grant_type=refresh_token&refresh_token=admin-set");
    cr_assert_str_eq(rot.old_token[3], "admin-set");
    cr_assert_str_eq(rot.new_token[3], "rt-4");
    /* And the old lineage's refresh tokens are no longer honoured as its own. */
    f.p.refresh_token = "rt-1";
    token(&f, false, 5);
    cr_assert_str_eq(f.tep.body, "grant_type=refresh_token&refresh_token=rt-1");
    cr_assert_eq(tep_hits(&f.tep), 5);
    pthread_mutex_destroy(&rot.mu);
    teardown(&f);
}

/* Concurrent refreshes of one entry: one request, with the newest token, for all of them. */
Test(test_oauth, refresh_is_one_request_for_concurrent_callers)
{
    struct fixture f;
    struct rotations rot;
    struct md_error e;
    refresh_setup(&f, &rot, "rt-0");
    tep_answer(&f.tep, 200,
               "{\"refresh_token\":\"rt-%d\",\"access_token\":\"tok\",\"token_type\":\"bearer\","
               "\"expires_in\":3600}");
    pthread_mutex_lock(&f.tep.mu);
    f.tep.delay_ms = 300;
    pthread_mutex_unlock(&f.tep.mu);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(connect_oauth_token(f.o, &f.p, false, on_got, &f.g, &e), MD_OK, "%s", e.msg);
    cr_assert(got_wait(&f.g, 10));
    cr_assert_eq(tep_hits(&f.tep), 1);
    cr_assert_eq(rot.n, 1);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(f.g.err[i], MD_OK);
    pthread_mutex_destroy(&rot.mu);
    teardown(&f);
}

Test(test_oauth, refresh_refusal_names_the_refresh_token)
{
    struct fixture f;
    struct rotations rot;
    refresh_setup(&f, &rot, "rt-0");
    tep_answer(&f.tep, 400, "{\"error\":\"invalid_grant\"}");
    token(&f, false, 1);
    cr_assert_eq(f.g.err[0], MD_ERR_UNAUTHORIZED);
    cr_assert_str_eq(f.g.error[0], "token endpoint refused the refresh token: invalid_grant");
    cr_assert_eq(rot.n, 0);
    pthread_mutex_destroy(&rot.mu);
    teardown(&f);
}

/* ---- the JWT bearer grant (RFC 7523 section 2.1) ---- */

Test(test_oauth, jwt_bearer_request)
{
    struct fixture f;
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem_data = NULL, *pem;
    long n;
    const char *prefix = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                         "&assertion=";
    const char *jwt, *dot1, *dot2;

    cr_assert_eq(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &pem_data);
    pem = strndup(pem_data, (size_t)n);
    setup(&f, true);
    f.p.grant = CONNECT_GRANT_JWT_BEARER;
    f.p.client_id = f.p.client_secret = NULL;
    f.p.jwt_key = pem;
    f.p.jwt_key_id = "kid-1";
    f.p.jwt_issuer = "mandate@proj.iam.gserviceaccount.com";
    f.p.jwt_subject = "alice@example.com";
    f.p.scope = "https://www.googleapis.com/auth/calendar.readonly";
    tep_answer(&f.tep, 200,
               "{\"access_token\":\"ya29.tok-%d\",\"expires_in\":3599,\"token_type\":\"Bearer\"}");
    token(&f, false, 1);
    cr_assert_eq(f.g.err[0], MD_OK, "%s", f.g.error[0]);
    cr_assert_str_eq(f.g.token[0], "ya29.tok-1");
    /* No client authentication: the signed assertion is the credential. */
    cr_assert_str_eq(f.tep.auth, "");
    cr_assert(strncmp(f.tep.body, prefix, strlen(prefix)) == 0, "%s", f.tep.body);
    jwt = f.tep.body + strlen(prefix);
    dot1 = strchr(jwt, '.');
    cr_assert_not_null(dot1);
    dot2 = strchr(dot1 + 1, '.');
    cr_assert_not_null(dot2);
    cr_assert_null(strchr(jwt, '&'), "the scope travels in the JWT, not in the body");
    /* The signature is verified in test_jwt; here that each caller gets its own token. */
    f.p.cache_key = "google:bob";
    f.p.jwt_subject = "bob@example.com";
    token(&f, false, 2);
    cr_assert_str_eq(f.g.token[1], "ya29.tok-2");
    f.p.cache_key = "github:abc123";
    f.p.jwt_subject = "alice@example.com";
    token(&f, false, 3);
    cr_assert_str_eq(f.g.token[2], "ya29.tok-1");
    cr_assert_eq(tep_hits(&f.tep), 2);

    /* A key that cannot sign: refused at once, nothing sent. */
    f.p.cache_key = "google:carol";
    f.p.jwt_key = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
    {
        struct md_error e = {0};
        cr_assert_eq(connect_oauth_token(f.o, &f.p, false, on_got, &f.g, &e), MD_ERR_VALUE);
    }
    cr_assert_eq(tep_hits(&f.tep), 2);
    teardown(&f);
    BIO_free(bio);
    EVP_PKEY_free(k);
    free(pem);
}
