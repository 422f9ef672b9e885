/*
 * The connector runtime's HTTP transport: upstream calls run on one libcurl multi loop thread,
 * so that no server thread ever blocks on an upstream API.
 *
 * The HTTP server suspends a client connection while its upstream call runs and resumes it from
 * the completion callback. Any thread may submit; submissions go through a mutex-protected queue
 * that the loop drains after curl_multi_wakeup. One thread serves every call: 1,000 concurrent
 * calls against a slow upstream cost 1,000 sockets, not 1,000 threads. What the transport itself
 * keeps per in-flight call is small (a call record of a few hundred bytes, the request it was
 * given, the response headers and the response body as it grows); libcurl adds its easy handle,
 * connection and receive buffer (in all about 16 KiB of resident memory per waiting call over
 * plain http, as the 1,000-call unit test measures) and, for https, OpenSSL its per-connection
 * state.
 *
 * Process requirements, which the library does not change because they belong to main:
 * - RLIMIT_NOFILE: each in-flight call holds one socket (HTTP/2 multiplexing over https may
 *   share one), and idle connections stay in the connection cache for reuse. 1,000 concurrent
 *   calls need the soft limit well above 1,000 (the common default is 1,024): main raises the
 *   soft limit to the hard one. When descriptors run out, calls fail with MD_ERR_UNAVAILABLE.
 * - SIGPIPE must be ignored (CURLOPT_NOSIGNAL is set, so libcurl leaves signals alone).
 *
 * libcurl honours the usual proxy environment variables (https_proxy, no_proxy), so that a
 * deployment behind an egress proxy works without configuration. Name resolution uses libcurl's
 * resolver, which may run a short-lived helper thread per lookup of a name not in its cache.
 *
 * Credentials travel in request headers (the auth step adds Authorization). Therefore the
 * transport never logs headers, never copies them into an error, never follows a redirect to
 * another origin, and wipes the request's headers and body before it frees them.
 */
#ifndef MANDATE_CONNECT_TRANSPORT_H
#define MANDATE_CONNECT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "connect/connect.h"
#include "core/err.h"

struct connect_transport;

/* Defaults of struct connect_limits, used for fields left at 0. */
#define CONNECT_CONNECT_TIMEOUT_MS_DEFAULT 5000L
#define CONNECT_TIMEOUT_MS_DEFAULT 30000L
#define CONNECT_MAX_RESPONSE_DEFAULT ((size_t)4 * 1024 * 1024)
/* Same-origin redirects that the transport follows for one call. */
#define CONNECT_MAX_REDIRECTS 5
#define CONNECT_IDLE_CONNECTIONS 256 /* idle upstream connections kept for reuse */
/* Caps on the response headers kept: count, and bytes of one line (longer lines are dropped). */
#define CONNECT_RESPONSE_HEADERS_MAX 64
#define CONNECT_RESPONSE_HEADER_LINE_MAX 8192

/* Per-call limits; a NULL struct connect_limits means every default. */
struct connect_limits {
    long connect_timeout_ms; /* 0: 5000 */
    long timeout_ms;         /* whole exchange, redirects included; 0: 30000 */
    size_t max_response;     /* bytes of the response body; 0: 4 MiB. Over it: the call fails
                                (MD_ERR_TOOLARGE). Counted after Content-Encoding is decoded, so
                                that a small compressed body cannot expand without bound. */
};

/*
 * What came back. Owned by the receiver of the callback; release with connect_response_free.
 *
 * err is MD_OK when an HTTP response arrived, whatever its status (a 404 or a 500 is an answer,
 * which the caller judges). Otherwise it says why there is none:
 * - MD_ERR_UNAVAILABLE: the upstream could not be reached or did not answer in time (DNS,
 *   connection refused, TLS failure, reset, timeout), the response was malformed, or the
 *   transport is shutting down. err.h has no timeout code, so a timeout is MD_ERR_UNAVAILABLE
 *   whose error sentence says "timed out".
 * - MD_ERR_TOOLARGE: the body exceeded max_response.
 * - MD_ERR_VALUE: a redirect that was not followed (another origin, a POST, PUT, PATCH or
 *   DELETE redirected by 301, 302 or 303, more than CONNECT_MAX_REDIRECTS hops, a missing or
 *   unparsable Location). status, headers and body are then those of the 3xx response.
 * - MD_ERR_NOMEM.
 */
struct connect_response {
    enum md_err err;
    char error[256]; /* a sentence for a person when err != MD_OK, else empty. Never holds
                        credentials: never the request's headers or body, and of the URL only
                        scheme, host, port and path (no user info, no query string). */
    int status;      /* HTTP status of the last response, 0 when none */
    struct connect_header *headers; /* response headers of the last response: names as received,
                                       values without surrounding whitespace, in order, at most
                                       CONNECT_RESPONSE_HEADERS_MAX, lines over
                                       CONNECT_RESPONSE_HEADER_LINE_MAX bytes dropped, obsolete
                                       folded continuation lines dropped; heap, both strings of
                                       each entry separately allocated */
    size_t n_headers;
    char *body; /* heap, NUL-terminated (the NUL is not counted), may contain NULs; never
                   NULL when err == MD_OK; decoded when the upstream compressed it (the
                   Content-Encoding and Content-Length headers still describe the wire) */
    size_t body_len;
    long elapsed_ms; /* from the start of the first attempt to completion, redirects included */
};

/* Releases r and everything it holds; r may be NULL. */
void connect_response_free(struct connect_response *r);

/* Case-insensitive lookup of a response header (the first one); NULL when absent. Borrowed. */
const char *connect_response_header(const struct connect_response *r, const char *name);

/*
 * The completion callback. It runs on the transport's thread and must be quick (it typically
 * resumes a suspended HTTP connection). It takes ownership of resp. It may submit new calls;
 * it must not call connect_transport_stop.
 */
typedef void (*connect_done_fn)(void *cls, struct connect_response *resp);

struct connect_transport_config {
    int max_inflight;    /* 0: 4096; submissions over it fail at once with MD_ERR_UNAVAILABLE */
    const char *ca_file; /* PEM bundle of trusted CAs; NULL: the system's. Copied. */
    bool allow_http;     /* plain http:// upstreams (tests, sandboxes); https is always allowed */
};

/*
 * Starts the loop thread. cfg is borrowed (ca_file is copied). On MD_OK, *out is the transport,
 * released by connect_transport_free. Errors: MD_ERR_NOMEM, MD_ERR_INTERNAL (libcurl or thread
 * creation failed); *out is then NULL.
 */
enum md_err connect_transport_start(const struct connect_transport_config *cfg,
                                    struct connect_transport **out, struct md_error *e);

/*
 * Queues req and returns at once. The transport takes req's contents from now on, also on
 * error: *req is left empty (connect_request_free on it is a no-op), and its headers and body
 * are wiped when the transport is done with them. lim is copied; NULL means every default.
 *
 * fn(cls, resp) is called exactly once, on the transport's thread, with the outcome, unless
 * submit itself returns an error: then fn is NOT called and the caller handles the error.
 * Submit errors: MD_ERR_VALUE (a method other than GET, POST, PUT, PATCH, DELETE; a URL that
 * does not parse, or whose scheme is neither https nor, when allow_http is set, http),
 * MD_ERR_UNAVAILABLE (max_inflight calls already in flight, or the transport is stopping),
 * MD_ERR_NOMEM, MD_ERR_INTERNAL.
 *
 * How the request is sent: the method as given (a GET never carries a body; a POST, PUT or
 * PATCH without one sends Content-Length: 0), the request's headers in order (an empty value is
 * sent as an empty header), no "Expect: 100-continue", User-Agent "mandate/0.1" unless the
 * request sets one, Accept-Encoding for every encoding libcurl decodes. Redirects are followed
 * by the transport itself and only within the request's origin (scheme, host and port), at
 * most CONNECT_MAX_REDIRECTS hops: 307 and 308 keep the method and body, 301, 302 and 303 are
 * followed for a GET only (as a GET). Connections are reused across calls; there is no cap on
 * connections per host, so that many concurrent calls to one slow host do not queue.
 *
 * Thread-safe: any thread may submit, including the transport's own (from a callback).
 */
enum md_err connect_transport_submit(struct connect_transport *t, struct connect_request *req,
                                     const struct connect_limits *lim, connect_done_fn fn,
                                     void *cls, struct md_error *e);

/* Calls submitted and not yet completed (their callback has not returned), for stats. */
int connect_transport_inflight(struct connect_transport *t);

/*
 * Stops the loop: every call still in flight or queued completes (on the transport's thread,
 * before this returns) with MD_ERR_UNAVAILABLE "shutting down"; then the thread is joined.
 * From then on every submission, from any thread, is refused with MD_ERR_UNAVAILABLE, so that
 * a user of t (the OAuth cache, a late tool call) may outlive the loop safely. Stopping twice
 * does nothing. Must not be called from a callback. t may be NULL.
 */
void connect_transport_stop(struct connect_transport *t);
/* Stops t when it still runs, and frees it. No thread may use t any more. t may be NULL. */
void connect_transport_free(struct connect_transport *t);

#endif
