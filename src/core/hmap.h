/*
 * A hash map from NUL-terminated strings to pointers: chained buckets, FNV-1a, doubling at a
 * load factor of one. Keys are copied; values are borrowed (the caller owns what they point to).
 * Not thread-safe: the caller locks.
 */
#ifndef MANDATE_CORE_HMAP_H
#define MANDATE_CORE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct hmap_node {
    struct hmap_node *next;
    uint64_t hash;
    void *value;
    char key[]; /* NUL-terminated copy */
};

struct hmap {
    struct hmap_node **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t n;
};

/* A zeroed struct hmap is an empty map; hmap_init is the same. */
void hmap_init(struct hmap *m);
/* Frees the nodes (not the values). */
void hmap_free(struct hmap *m);

uint64_t hmap_hash(const char *key);

/* The value of key, or NULL. */
void *hmap_get(const struct hmap *m, const char *key);
/* Sets key to value; *old (may be NULL) receives the value it replaces, or NULL. */
enum md_err hmap_put(struct hmap *m, const char *key, void *value, void **old);
/* Removes key; returns its value, or NULL when absent. */
void *hmap_del(struct hmap *m, const char *key);

/* Calls fn for every entry, in no particular order; fn must not change the map. */
void hmap_each(const struct hmap *m, void (*fn)(void *ctx, const char *key, void *value),
               void *ctx);

#endif
