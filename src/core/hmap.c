#include "core/hmap.h"

#include <stdlib.h>
#include <string.h>

void hmap_init(struct hmap *m)
{
    memset(m, 0, sizeof *m);
}

void hmap_free(struct hmap *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct hmap_node *n = m->buckets[i];
        while (n) {
            struct hmap_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->buckets);
    hmap_init(m);
}

uint64_t hmap_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct hmap_node **slot(const struct hmap *m, const char *key, uint64_t h)
{
    struct hmap_node **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *hmap_get(const struct hmap *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    struct hmap_node *n = *slot(m, key, hmap_hash(key));
    return n ? n->value : NULL;
}

static enum md_err grow(struct hmap *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
    struct hmap_node **b = calloc(nb, sizeof *b);

    if (!b)
        return MD_ERR_NOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct hmap_node *n = m->buckets[i];
        while (n) {
            struct hmap_node *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return MD_OK;
}

enum md_err hmap_put(struct hmap *m, const char *key, void *value, void **old)
{
    uint64_t h = hmap_hash(key);
    struct hmap_node **pp, *n;
    size_t len;

    if (old)
        *old = NULL;
    if (m->n >= m->nbuckets && grow(m) != MD_OK)
        return MD_ERR_NOMEM;
    pp = slot(m, key, h);
    if (*pp) {
        if (old)
            *old = (*pp)->value;
        (*pp)->value = value;
        return MD_OK;
    }
    len = strlen(key);
    n = malloc(sizeof *n + len + 1);
    if (!n)
        return MD_ERR_NOMEM;
    n->next = NULL;
    n->hash = h;
    n->value = value;
    memcpy(n->key, key, len + 1);
    *pp = n;
    m->n++;
    return MD_OK;
}

void *hmap_del(struct hmap *m, const char *key)
{
    struct hmap_node **pp, *n;
    void *v;

    if (m->n == 0)
        return NULL;
    pp = slot(m, key, hmap_hash(key));
    n = *pp;
    if (!n)
        return NULL;
    *pp = n->next;
    v = n->value;
    free(n);
    m->n--;
    return v;
}

void hmap_each(const struct hmap *m, void (*fn)(void *ctx, const char *key, void *value), void *ctx)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (struct hmap_node *n = m->buckets[i]; n; n = n->next)
            fn(ctx, n->key, n->value);
}
