/*
 * The change feed (store.h): what a transaction changed is recorded as it happens, announced
 * to the other nodes inside the transaction by the backend, and told to this node's
 * subscribers once the commit has succeeded, so that a cache never hears of a change that did
 * not happen, and hears of every one that did before the request that made it is answered.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

enum md_err store_watch(struct store *s, store_change_fn fn, void *ctx, struct md_error *e)
{
    enum md_err rc = MD_OK;
    pthread_mutex_lock(&s->watch_mu);
    if (s->nwatchers >= STORE_WATCHERS_MAX) {
        rc = md_error_set(e, MD_ERR_INTERNAL, "too many change subscribers");
    } else {
        s->watchers[s->nwatchers].fn = fn;
        s->watchers[s->nwatchers].ctx = ctx;
        s->nwatchers++;
    }
    pthread_mutex_unlock(&s->watch_mu);
    return rc;
}

uint64_t store_change_epoch(struct store *s)
{
    return atomic_load(&s->epoch);
}

void store__publish(struct store *s, const struct store_change *ch, size_t n)
{
    if (n == 0)
        return;
    atomic_fetch_add(&s->epoch, 1);
    pthread_mutex_lock(&s->watch_mu);
    for (int w = 0; w < s->nwatchers; w++) {
        for (size_t i = 0; i < n; i++)
            s->watchers[w].fn(s->watchers[w].ctx, &ch[i]);
    }
    pthread_mutex_unlock(&s->watch_mu);
}

void store__feed_record(struct store_conn *c, enum store_change_kind kind, const char *id)
{
    struct store_change *ch;
    if (c->pending_all)
        return;
    for (size_t i = 0; i < c->npending; i++) {
        if (c->pending[i].kind == kind && strcmp(c->pending[i].id, id) == 0)
            return;
    }
    if (!c->pending) {
        c->pending = calloc(STORE_PENDING_MAX, sizeof *c->pending);
        if (!c->pending) {
            c->pending_all = true;
            return;
        }
    }
    /* A transaction that changes much is announced as "everything changed". */
    if (c->npending == STORE_PENDING_MAX) {
        c->pending_all = true;
        return;
    }
    ch = &c->pending[c->npending++];
    ch->kind = kind;
    snprintf(ch->id, sizeof ch->id, "%s", id ? id : "");
}

/* The changes to announce: the list, or one STORE_CHANGE_ALL. */
static const struct store_change *pending_view(struct store_conn *c, size_t *n)
{
    static const struct store_change all = {STORE_CHANGE_ALL, ""};
    if (c->pending_all) {
        *n = 1;
        return &all;
    }
    *n = c->npending;
    return c->pending;
}

enum md_err store__feed_announce(struct store_conn *c, struct md_error *e)
{
    size_t n;
    const struct store_change *ch = pending_view(c, &n);
    if (n == 0 || !c->store->ops->announce)
        return MD_OK;
    return c->store->ops->announce(c, ch, n, e);
}

void store__feed_committed(struct store_conn *c)
{
    size_t n;
    const struct store_change *ch = pending_view(c, &n);
    store__publish(c->store, ch, n);
    store__feed_discard(c);
}

void store__feed_discard(struct store_conn *c)
{
    c->npending = 0;
    c->pending_all = false;
}
