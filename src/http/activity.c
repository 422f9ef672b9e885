/*
 * The last SCIM exchanges this node answered, kept in memory for the console's Provisioning
 * page: an admin who just pressed "Test" in Okta wants to see that the request arrived, and
 * why it failed if it did. Two rings: every exchange, and the errors alone, so that a burst of
 * successful pushes does not hide the one failure.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "http/http_int.h"

#define RING 25

struct event {
    int64_t ms;
    char method[8];
    char path[160];
    int status;
    bool has_token;
    char token_id[64];
    char token_name[128];
    char detail[200];
};

struct ring {
    struct event ev[RING];
    int n;    /* how many are filled, up to RING */
    int next; /* where the next one goes */
};

struct http_activity {
    pthread_mutex_t mu;
    int64_t since_ms;
    uint64_t requests;
    uint64_t errors;
    struct ring all;
    struct ring failed;
};

enum md_err http_activity_new(struct http_activity **out, struct md_error *e)
{
    struct http_activity *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    a->since_ms = time_now_ms();
    *out = a;
    return MD_OK;
}

void http_activity_free(struct http_activity *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static void push(struct ring *r, const struct event *ev)
{
    r->ev[r->next] = *ev;
    r->next = (r->next + 1) % RING;
    if (r->n < RING)
        r->n++;
}

void http_activity_record(struct http_activity *a, const char *method, const char *path, int status,
                          const struct store_token *token, const char *detail)
{
    struct event ev;

    if (!a)
        return;
    memset(&ev, 0, sizeof ev);
    ev.ms = time_now_ms();
    snprintf(ev.method, sizeof ev.method, "%s", method ? method : "");
    snprintf(ev.path, sizeof ev.path, "%s", path && *path ? path : "/");
    ev.status = status;
    if (token && token->id[0]) {
        ev.has_token = true;
        snprintf(ev.token_id, sizeof ev.token_id, "%s", token->id);
        snprintf(ev.token_name, sizeof ev.token_name, "%s", token->name);
    }
    if (status >= 400 && detail)
        snprintf(ev.detail, sizeof ev.detail, "%s", detail);
    pthread_mutex_lock(&a->mu);
    a->requests++;
    push(&a->all, &ev);
    if (status >= 400) {
        a->errors++;
        push(&a->failed, &ev);
    }
    pthread_mutex_unlock(&a->mu);
}

static json_t *event_json(const struct event *ev)
{
    char t[TIME_RFC3339_LEN];
    json_t *o;

    time_format_ms(ev->ms, t);
    o = json_pack("{s:s, s:s, s:s, s:i}", "time", t, "method", ev->method, "path", ev->path,
                  "status", ev->status);
    if (!o)
        return NULL;
    json_object_set_new(o, "token",
                        ev->has_token
                            ? json_pack("{s:s, s:s}", "id", ev->token_id, "name", ev->token_name)
                            : json_null());
    if (ev->detail[0])
        json_object_set_new(o, "detail", json_string(ev->detail));
    return o;
}

/* The ring newest first. */
static json_t *ring_json(const struct ring *r)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < r->n; i++) {
        int at = (r->next - 1 - i + RING) % RING;
        json_array_append_new(arr, event_json(&r->ev[at]));
    }
    return arr;
}

static json_t *newest(const struct ring *r)
{
    return r->n ? event_json(&r->ev[(r->next - 1 + RING) % RING]) : json_null();
}

json_t *http_activity_json(void *cls)
{
    struct http_activity *a = cls;
    char since[TIME_RFC3339_LEN];
    json_t *o;

    if (!a)
        return NULL;
    pthread_mutex_lock(&a->mu);
    time_format_ms(a->since_ms, since);
    o = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "since", since, "requests",
                  (json_int_t)a->requests, "errors", (json_int_t)a->errors, "last", newest(&a->all),
                  "last_error", newest(&a->failed), "recent", ring_json(&a->all), "recent_errors",
                  ring_json(&a->failed));
    pthread_mutex_unlock(&a->mu);
    return o;
}
