#include "core/json.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/*
 * A pre-scan that counts nesting outside strings. It is cheaper than letting jansson recurse
 * and gives a clear error for hostile inputs such as 100,000 '[' characters.
 */
static bool depth_ok(const char *s, size_t len, int max_depth, size_t *where)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                *where = i;
                return false;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

enum md_err json_parse_limited(const char *text, size_t len, size_t max_size, int max_depth,
                               json_t **out, struct md_error *e)
{
    json_error_t jerr;
    size_t where = 0;
    json_t *v;

    *out = NULL;
    if (len > max_size)
        return md_error_set(e, MD_ERR_TOOLARGE, "body of %zu bytes exceeds the limit of %zu", len,
                            max_size);
    if (!depth_ok(text, len, max_depth, &where))
        return md_error_set(e, MD_ERR_SYNTAX, "JSON nested deeper than %d levels at offset %zu",
                            max_depth, where);
    v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!v)
        return md_error_set(e, MD_ERR_SYNTAX, "malformed JSON at line %d column %d: %s", jerr.line,
                            jerr.column, jerr.text);
    *out = v;
    return MD_OK;
}

char *json_dump_compact(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

const char *json_object_ikey(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj) || !key)
        return NULL;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v)
    {
        (void)v;
        if (strcasecmp(k, key) == 0)
            return k;
    }
    return NULL;
}

json_t *json_object_iget(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj) || !key)
        return NULL;
    v = json_object_get(obj, key);
    if (v)
        return v;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

void json_object_idel(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    void *tmp;
    if (!json_is_object(obj))
        return;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        (void)v;
        if (strcasecmp(k, key) == 0)
            json_object_del(obj, k);
    }
}

const char *json_istr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_iget(obj, key));
}
