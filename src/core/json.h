/*
 * JSON through jansson, with limits. Untrusted JSON is parsed only by json_parse_limited,
 * which refuses bodies over a size and nesting deeper than a depth before handing them to
 * jansson, and rejects duplicate object keys.
 */
#ifndef MANDATE_CORE_JSON_H
#define MANDATE_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define JSON_MAX_DEPTH_DEFAULT 32

/*
 * Parses len bytes of text into *out (a new reference the caller must json_decref).
 * Errors: MD_ERR_TOOLARGE when len > max_size, MD_ERR_SYNTAX for malformed JSON or nesting
 * deeper than max_depth; e->msg says where.
 */
enum md_err json_parse_limited(const char *text, size_t len, size_t max_size, int max_depth,
                               json_t **out, struct md_error *e);

/* Serialises compactly; caller frees. NULL on allocation failure. */
char *json_dump_compact(const json_t *v);

/*
 * json_dumps(v, flags), byte for byte, several times faster for compact output (JSON_COMPACT,
 * with or without JSON_ENSURE_ASCII, JSON_SORT_KEYS and JSON_ENCODE_ANY): one growing buffer
 * instead of jansson's callback per piece. Other flags are passed to json_dumps. *len (may be NULL)
 * receives the length. Heap, NUL-terminated; NULL when out of memory or when jansson would
 * refuse too (a string that is not UTF-8, a scalar without JSON_ENCODE_ANY, nesting beyond
 * 2048 levels).
 */
char *json_text(const json_t *v, size_t flags, size_t *len);

/* Case-insensitive object lookup (SCIM attribute names are case-insensitive). Borrowed. */
json_t *json_object_iget(const json_t *obj, const char *key);
/* The key as actually spelled in obj for a case-insensitive match, or NULL. Borrowed. */
const char *json_object_ikey(const json_t *obj, const char *key);
/* Removes every key matching key case-insensitively. */
void json_object_idel(json_t *obj, const char *key);

/* The string value of obj[key] (case-insensitive key), or NULL. Borrowed. */
const char *json_istr(const json_t *obj, const char *key);

/*
 * jansson reads through non-const pointers only (json_object_foreach, iterators): this is the
 * one place that casts a const away, for reading.
 */
static inline json_t *json_mut(const json_t *v)
{
    return (json_t *)(uintptr_t)v;
}

#endif
