/*
 * libmicrohttpd glue: one epoll thread pool, a request context per request that gathers the
 * body under a cap, a router by path prefix, and one log line per request.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"
#include "http/http.h"
#include "http/http_int.h"
#include "http/session.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_config cfg;
    struct http_sessions *sessions; /* console sessions (session.h) */
    struct http_activity *activity; /* recent SCIM exchanges (activity.c) */
    struct scim_limits limits;
    uint16_t port;
    atomic_int inflight;
    atomic_int suspended; /* connections waiting for an answer that comes later */
};

/*
 * An answer that comes later (http_req_async): the handler returns with resp->pending set and
 * completes from another thread with http_async_complete. The connection is suspended in
 * between, so no server thread waits. Either order is handled: the completion may come
 * before the handler has returned (then the answer is sent at once, never suspended).
 */
enum async_state { ASYNC_NONE, ASYNC_SUSPENDED, ASYNC_DONE };

/* Per-request state, from the first callback to the completion callback. */
struct req_ctx {
    struct buf body;
    bool too_large;
    int64_t start_ms;
    char rid[24];
    struct MHD_Connection *conn;
    pthread_mutex_t mu;
    enum async_state astate;
    struct http_resp late; /* the answer given by http_async_complete */
    char actor[64];
    struct http_server *srv;
};

/*
 * Request ids need to be unique, not secret: a per-thread xorshift64* generator seeded from the
 * CSPRNG once, rather than a call into OpenSSL for every request.
 */
static void new_request_id(char out[24])
{
    static _Thread_local uint64_t state;
    static const char hex[] = "0123456789abcdef";
    uint64_t v;
    while (state == 0) {
        if (crypto_random(&state, sizeof state))
            state = (uint64_t)time_mono_ms() | 1;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    v = state * 0x2545F4914F6CDD1DULL;
    for (int i = 0; i < 16; i++)
        out[i] = hex[(v >> (60 - 4 * i)) & 15];
    out[16] = '\0';
}

/*
 * Percent-decoding that also reads '+' as a space, as HTML forms and Microsoft's tests send.
 * "%00" stays as it is: a NUL would silently cut the path or parameter short.
 */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *w = s;
    (void)cls;
    (void)c;
    for (char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%' && r[1] && r[2] && !(r[1] == '0' && r[2] == '0') &&
                   strchr("0123456789abcdefABCDEF", r[1]) &&
                   strchr("0123456789abcdefABCDEF", r[2])) {
            char hexs[3] = {r[1], r[2], '\0'};
            *w++ = (char)strtol(hexs, NULL, 16);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void http_req_client_addr(const struct http_req *r, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
}

const char *http_req_query(const struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_cookie(const struct http_req *r, const char *name)
{
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name) : NULL;
}

void http_resp_set_body(struct http_resp *resp, int status, const char *content_type, char *body,
                        size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = body;
    resp->body_len = len;
}

void http_resp_add_header(struct http_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders >= HTTP_MAX_HEADERS)
        return;
    snprintf(resp->headers[resp->nheaders].name, sizeof resp->headers[0].name, "%s", name);
    snprintf(resp->headers[resp->nheaders].value, sizeof resp->headers[0].value, "%s", value);
    resp->nheaders++;
}

void http_resp_json(struct http_resp *resp, int status, const char *content_type, json_t *body)
{
    char *text = body ? json_text(body, JSON_COMPACT, NULL) : NULL;
    if (body && !text) {
        http_resp_set_body(resp, 500, "text/plain", NULL, 0);
        return;
    }
    http_resp_set_body(resp, status, content_type, text, text ? strlen(text) : 0);
}

void http_base_url(const struct http_req *req, const char *path, char *out, size_t n)
{
    const char *host, *proto;

    if (req->public_url) {
        snprintf(out, n, "%s%s", req->public_url, path);
        return;
    }
    host = http_req_header(req, "Host");
    proto = http_req_header(req, "X-Forwarded-Proto");
    if (!proto || (strcmp(proto, "https") != 0 && strcmp(proto, "http") != 0))
        proto = "http";
    if (!host || strlen(host) > 255 || strpbrk(host, "\"<>\\ \t/"))
        host = "localhost";
    snprintf(out, n, "%s://%s%s", proto, host, path);
}

/* A problem+json body (RFC 9457) for the routes that are not SCIM. */
void http_resp_problem(struct http_resp *resp, int status, const char *title, const char *detail)
{
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title, "status",
                          status, "detail", detail ? detail : "");
    http_resp_json(resp, status, "application/problem+json", p);
    json_decref(p);
}

static void route(struct http_req *req, struct http_resp *resp)
{
    const char *url = req->url;
    if (strcmp(url, "/healthz") == 0) {
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            http_resp_add_header(resp, "Allow", "GET, HEAD");
            http_resp_problem(resp, 405, "Method Not Allowed", "use GET");
            return;
        }
        json_t *ok = json_pack("{s:s}", "status", "ok");
        http_resp_json(resp, 200, "application/json", ok);
        json_decref(ok);
        return;
    }
    if (strncasecmp(url, "/scim/v2", 8) == 0 && (url[8] == '\0' || url[8] == '/')) {
        http_route_scim(req, resp, url + 8);
        return;
    }
    if (strncmp(url, "/api/v1", 7) == 0 && (url[7] == '\0' || url[7] == '/')) {
        http_route_api(req, resp, url + 7);
        return;
    }
    if (strncmp(url, "/mcp", 4) == 0 && (url[4] == '\0' || url[4] == '/')) {
        http_route_mcp(req, resp, url + 4);
        return;
    }
    if (strncmp(url, "/.well-known/oauth-protected-resource", 37) == 0) {
        http_route_resource_metadata(req, resp, url + 37);
        return;
    }
    /* Everything else is the console's, which answers 404 for what is not one of its files. */
    http_route_web(req, resp);
}

struct http_async *http_req_async(struct http_req *req)
{
    return (struct http_async *)req->ctx;
}

void http_async_complete(struct http_async *a, struct http_resp *resp)
{
    struct req_ctx *ctx = (struct req_ctx *)a;
    struct MHD_Connection *conn = ctx->conn;
    struct http_server *srv = ctx->srv;
    bool suspended;

    pthread_mutex_lock(&ctx->mu);
    ctx->late = *resp;
    memset(resp, 0, sizeof *resp);
    suspended = ctx->astate == ASYNC_SUSPENDED;
    ctx->astate = ASYNC_DONE;
    pthread_mutex_unlock(&ctx->mu);
    /*
     * Resumed, the connection may be answered and ctx freed by a server thread at once: ctx is
     * not touched after the unlock. A suspended connection is never closed, so conn is valid.
     */
    if (suspended) {
        atomic_fetch_sub(&srv->suspended, 1);
        MHD_resume_connection(conn);
    }
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct req_ctx *ctx,
                                     struct http_resp *resp)
{
    static char empty[1];
    struct MHD_Response *r;
    enum MHD_Result ret;
    r = MHD_create_response_from_buffer(resp->body_len, resp->body ? resp->body : empty,
                                        resp->body ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(resp->body);
        return MHD_NO;
    }
    resp->body = NULL;
    if (resp->content_type && resp->body_len)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    MHD_add_response_header(r, "X-Request-Id", ctx->rid);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct req_ctx *ctx = *con_cls;
    struct http_req req;
    struct http_resp resp;
    enum MHD_Result ret;
    (void)version;

    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        buf_init(&ctx->body, srv->limits.max_body);
        pthread_mutex_init(&ctx->mu, NULL);
        ctx->conn = conn;
        ctx->srv = srv;
        ctx->start_ms = time_mono_ms();
        new_request_id(ctx->rid);
        atomic_fetch_add(&srv->inflight, 1);
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->too_large) {
            buf_append(&ctx->body, upload_data, *upload_data_size);
            if (ctx->body.err) {
                ctx->too_large = true;
                buf_free(&ctx->body);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    log_set_request_id(ctx->rid);
    if (ctx->astate == ASYNC_DONE) {
        /* Resumed: the late answer is ready. */
        resp = ctx->late;
        memset(&ctx->late, 0, sizeof ctx->late);
        goto send;
    }
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.conn = conn;
    req.method = method;
    req.url = url;
    req.body = ctx->body.p;
    req.body_len = ctx->body.len;
    req.rid = ctx->rid;
    req.store = srv->cfg.store;
    req.access = srv->cfg.access;
    req.public_url = srv->cfg.public_url;
    req.limits = &srv->limits;
    req.body_too_large = ctx->too_large;
    req.ctx = ctx;
    req.mcp = srv->cfg.mcp;
    req.vault = srv->cfg.vault;
    req.audit = srv->cfg.audit;
    req.origins = srv->cfg.mcp_origins;
    req.port = srv->port;
    req.sessions = srv->sessions;
    req.activity = srv->activity;
    req.web_dir = srv->cfg.web_dir;
    req.runtime = srv->cfg.runtime;
    route(&req, &resp);
    snprintf(ctx->actor, sizeof ctx->actor, "%s", req.actor);
    if (resp.pending) {
        pthread_mutex_lock(&ctx->mu);
        if (ctx->astate != ASYNC_DONE) {
            atomic_fetch_add(&srv->suspended, 1);
            MHD_suspend_connection(conn);
            ctx->astate = ASYNC_SUSPENDED;
            pthread_mutex_unlock(&ctx->mu);
            log_set_request_id(NULL);
            return MHD_YES;
        }
        resp = ctx->late;
        memset(&ctx->late, 0, sizeof ctx->late);
        pthread_mutex_unlock(&ctx->mu);
    }
send:
    ret = send_response(conn, ctx, &resp);
    char qpath[512], qmethod[40];
    log_info("method=%s path=%s status=%d ms=%lld bytes_in=%zu actor=%s",
             log_quote(method, qmethod, sizeof qmethod), log_quote(url, qpath, sizeof qpath),
             resp.status, (long long)(time_mono_ms() - ctx->start_ms), ctx->body.len,
             ctx->actor[0] ? ctx->actor : "-");
    log_set_request_id(NULL);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct req_ctx *ctx = *con_cls;
    (void)conn;
    (void)toe;
    if (!ctx)
        return;
    buf_free(&ctx->body);
    free(ctx->late.body);
    pthread_mutex_destroy(&ctx->mu);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

enum md_err http_server_start(const struct http_config *cfg, struct http_server **out,
                              struct md_error *e)
{
    struct http_server *srv;
    struct sockaddr_storage ss;
    socklen_t sslen;
    const union MHD_DaemonInfo *info;
    int threads = cfg->threads;
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;

    *out = NULL;
    memset(&ss, 0, sizeof ss);
    if (strchr(cfg->host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(cfg->port);
        if (inet_pton(AF_INET6, cfg->host, &a6->sin6_addr) != 1)
            return md_error_set(e, MD_ERR_VALUE, "invalid listen address %s", cfg->host);
        sslen = sizeof *a6;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(cfg->port);
        if (inet_pton(AF_INET, cfg->host, &a4->sin_addr) != 1)
            return md_error_set(e, MD_ERR_VALUE, "invalid listen address %s", cfg->host);
        sslen = sizeof *a4;
    }
    (void)sslen;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 1 ? (int)n : 2;
    }
    srv = calloc(1, sizeof *srv);
    if (!srv)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    srv->cfg = *cfg;
    srv->limits = scim_default_limits;
    {
        enum md_err rc = http_sessions_new(&srv->sessions, e);
        if (rc == MD_OK)
            rc = http_activity_new(&srv->activity, e);
        if (rc) {
            http_sessions_free(srv->sessions);
            free(srv);
            return rc;
        }
    }
    srv->daemon = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_END);
    if (!srv->daemon) {
        http_sessions_free(srv->sessions);
        http_activity_free(srv->activity);
        free(srv);
        return md_error_set(e, MD_ERR_IO, "cannot listen on %s:%u", cfg->host, (unsigned)cfg->port);
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    *out = srv;
    return MD_OK;
}

uint16_t http_server_port(const struct http_server *srv)
{
    return srv->port;
}

void http_server_stop(struct http_server *srv, int grace_ms)
{
    int64_t deadline = time_mono_ms() + grace_ms;
    MHD_socket s = MHD_quiesce_daemon(srv->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    while (atomic_load(&srv->inflight) > 0 && time_mono_ms() < deadline)
        usleep(10000);
    /*
     * Answers still pending (tool calls on a slow upstream) are cut short, so that every
     * suspended connection is resumed before the daemon stops, as libmicrohttpd requires.
     */
    if (srv->cfg.cancel_pending) {
        srv->cfg.cancel_pending(srv->cfg.cancel_cls);
        deadline = time_mono_ms() + 2000;
        while (atomic_load(&srv->inflight) > 0 && time_mono_ms() < deadline)
            usleep(10000);
    }
    /*
     * libmicrohttpd aborts the process when stopped with a connection suspended; an answer
     * that never came is a bug, reported rather than turned into a crash at shutdown.
     */
    if (atomic_load(&srv->suspended) > 0) {
        log_error("event=stop_with_suspended_connections count=%d", atomic_load(&srv->suspended));
        return;
    }
    MHD_stop_daemon(srv->daemon);
    http_sessions_free(srv->sessions);
    http_activity_free(srv->activity);
    free(srv);
}
