/*
 * The HTTP layer's audit events: credentials refused, and changes made through SCIM (the
 * admin API records its own, the MCP endpoint its tool calls). Each names who asked: the token
 * (its id, never its value), the client's address and User-Agent, and the request id.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/time.h"
#include "http/http_int.h"

/* Request bodies larger than this are recorded by their SHA-256 and size only. */
#define HTTP_AUDIT_BODY_MAX (64 * 1024)

/* The actor part of an event: the token that authenticated the request, and the client. */
static json_t *actor_json(struct http_req *req, const char *kind)
{
    char addr[64];
    const char *ua = http_req_header(req, "User-Agent");

    http_req_client_addr(req, addr, sizeof addr);
    return json_pack("{s:s, s:s?, s:s?, s:s, s:s?}", "kind", kind, "token_id",
                     req->token.id[0] ? req->token.id : NULL, "token_name",
                     req->token.name[0] ? req->token.name : NULL, "address", addr, "user_agent",
                     ua);
}

/* The token bucket of auth failure events, shared by every endpoint. */
static pthread_mutex_t bucket_mu = PTHREAD_MUTEX_INITIALIZER;
static double bucket = HTTP_AUDIT_AUTH_BURST;
static int64_t bucket_ms;
static uint64_t suppressed;

/* Takes a token; false when none is left. *skipped receives (and clears) the suppressed count. */
static bool take_token(uint64_t *skipped)
{
    int64_t now = time_mono_ms();
    bool ok;

    pthread_mutex_lock(&bucket_mu);
    if (bucket_ms)
        bucket += (double)(now - bucket_ms) * HTTP_AUDIT_AUTH_RATE / 1000.0;
    if (bucket > HTTP_AUDIT_AUTH_BURST)
        bucket = HTTP_AUDIT_AUTH_BURST;
    bucket_ms = now;
    ok = bucket >= 1.0;
    if (ok) {
        bucket -= 1.0;
        *skipped = suppressed;
        suppressed = 0;
    } else {
        suppressed++;
    }
    pthread_mutex_unlock(&bucket_mu);
    return ok;
}

void http_audit_auth_failure(struct http_req *req, const char *kind, const char *detail)
{
    uint64_t skipped = 0;
    json_t *ev;

    if (!req->audit || !take_token(&skipped))
        return;
    ev = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:o, s:s, s:b}", "type", AUDIT_TYPE_AUTH_FAILURE,
                   "request_id", req->rid, "method", req->method, "path", req->url, "wanted", kind,
                   "actor", actor_json(req, "unknown"), "reason", detail ? detail : "", "presented",
                   http_req_header(req, "Authorization") != NULL);
    if (ev && skipped)
        json_object_set_new(ev, "suppressed", json_integer((json_int_t)skipped));
    audit_record(req->audit, ev);
}

void http_audit_scim(struct http_req *req, const char *path, const struct scim_response *sr)
{
    json_t *ev, *request = NULL;

    if (!req->audit || !sr->changes)
        return;
    /* What was asked, with passwords and other secrets taken out; a large body by its hash. */
    if (req->body && req->body_len > HTTP_AUDIT_BODY_MAX) {
        char sha[65];
        crypto_sha256_hex(req->body, req->body_len, sha);
        request = json_pack("{s:s, s:I}", "sha256", sha, "bytes", (json_int_t)req->body_len);
    } else if (req->body && req->body_len) {
        json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
        request = audit_scrub(body);
        json_decref(body);
    }
    ev = json_pack("{s:s, s:s?, s:s, s:s, s:i, s:o, s:O, s:o*}", "type", AUDIT_TYPE_SCIM,
                   "request_id", req->rid, "method", req->method, "path", path, "status",
                   sr->status, "actor", actor_json(req, "scim_token"), "changes", sr->changes,
                   "request", request);
    audit_record(req->audit, ev);
}
