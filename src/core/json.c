#include "core/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
    return json_text(v, JSON_COMPACT | JSON_ENCODE_ANY, NULL);
}

/* ---- json_text: jansson's compact output, written into one growing buffer ---- */

#define TEXT_MAX_DEPTH 2048

struct tbuf {
    char *p;
    size_t n, cap;
    bool ascii; /* JSON_ENSURE_ASCII */
    bool sort;  /* JSON_SORT_KEYS */
    bool fail;
};

static bool tb_room(struct tbuf *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->fail)
        return false;
    if (b->n + more + 1 <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1) {
        if (cap > SIZE_MAX / 2) {
            b->fail = true;
            return false;
        }
        cap *= 2;
    }
    if (!(p = realloc(b->p, cap))) {
        b->fail = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void tb_put(struct tbuf *b, const char *s, size_t n)
{
    if (tb_room(b, n)) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
    }
}

static void tb_char(struct tbuf *b, char c)
{
    if (tb_room(b, 1))
        b->p[b->n++] = c;
}

static void tb_u16(struct tbuf *b, unsigned u)
{
    static const char hex[] = "0123456789ABCDEF";
    char seq[6] = {'\\',       'u', hex[(u >> 12) & 15], hex[(u >> 8) & 15], hex[(u >> 4) & 15],
                   hex[u & 15]};
    tb_put(b, seq, sizeof seq);
}

/*
 * The code point of the UTF-8 sequence at s (n bytes left) and its length, or 0 when it is not
 * valid UTF-8 (truncated, overlong, a surrogate, beyond U+10FFFF), as jansson's utf8_iterate.
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || (len == 3 && c < 0x800) ||
        (len == 4 && c < 0x10000))
        return 0;
    *cp = c;
    return len;
}

/* The letter of a two-character escape for c ("\\n" ...), or 0 when c has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

static void tb_string(struct tbuf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;

    tb_char(b, '"');
    while (i < len && !b->fail) {
        unsigned char c = s[i];
        uint32_t cp;
        size_t k;
        char esc;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80 && !b->ascii) {
            if (!(k = utf8_next(s + i, len - i, &cp)))
                b->fail = true;
            i += k;
            continue;
        }
        tb_put(b, str + run, i - run);
        if ((esc = short_escape(c))) {
            char two[2] = {'\\', esc};
            tb_put(b, two, 2);
            k = 1;
        } else if (c < 0x20) {
            tb_u16(b, c);
            k = 1;
        } else if (!(k = utf8_next(s + i, len - i, &cp))) {
            b->fail = true;
        } else if (cp < 0x10000) {
            tb_u16(b, cp);
        } else {
            cp -= 0x10000;
            tb_u16(b, 0xD800 | ((cp >> 10) & 0x3FF));
            tb_u16(b, 0xDC00 | (cp & 0x3FF));
        }
        i += k;
        run = i;
    }
    tb_put(b, str + run, i - run);
    tb_char(b, '"');
}

static void tb_value(struct tbuf *b, const json_t *v, int depth);

static void tb_member(struct tbuf *b, bool first, const char *key, size_t key_len,
                      const json_t *item, int depth)
{
    if (!first)
        tb_char(b, ',');
    tb_string(b, key, key_len);
    tb_char(b, ':');
    tb_value(b, item, depth + 1);
}

static void tb_object(struct tbuf *b, const json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t key_len;
    bool first = true;

    tb_char(b, '{');
    json_object_keylen_foreach(json_mut(v), key, key_len, item)
    {
        tb_member(b, first, key, key_len, item, depth);
        first = false;
        if (b->fail)
            return;
    }
    tb_char(b, '}');
}

struct tkey {
    const char *key;
    size_t len;
    const json_t *item;
};

/* jansson's order of JSON_SORT_KEYS: bytes compared, then the shorter first. */
static int tkey_cmp(const void *x, const void *y)
{
    const struct tkey *a = x, *b = y;
    int r = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    return r ? r : (a->len > b->len) - (a->len < b->len);
}

static void tb_object_sorted(struct tbuf *b, const json_t *v, int depth)
{
    struct tkey small[16], *keys = small;
    size_t n = json_object_size(v), i = 0;
    const char *key;
    json_t *item;
    size_t key_len;

    if (n > sizeof small / sizeof *small && !(keys = malloc(n * sizeof *keys))) {
        b->fail = true;
        return;
    }
    json_object_keylen_foreach(json_mut(v), key, key_len, item)
    {
        keys[i++] = (struct tkey){key, key_len, item};
    }
    qsort(keys, i, sizeof *keys, tkey_cmp);
    tb_char(b, '{');
    for (size_t k = 0; k < i && !b->fail; k++)
        tb_member(b, k == 0, keys[k].key, keys[k].len, keys[k].item, depth);
    tb_char(b, '}');
    if (keys != small)
        free(keys);
}

static void tb_value(struct tbuf *b, const json_t *v, int depth)
{
    char num[32];
    int n;

    if (b->fail)
        return;
    if (depth > TEXT_MAX_DEPTH) {
        b->fail = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (b->sort)
            tb_object_sorted(b, v, depth);
        else
            tb_object(b, v, depth);
        break;
    case JSON_ARRAY:
        tb_char(b, '[');
        for (size_t i = 0, n_items = json_array_size(v); i < n_items && !b->fail; i++) {
            if (i)
                tb_char(b, ',');
            tb_value(b, json_array_get(v, i), depth + 1);
        }
        tb_char(b, ']');
        break;
    case JSON_STRING:
        tb_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        tb_put(b, num, (size_t)n);
        break;
    case JSON_REAL: {
        /* jansson's own formatting of reals (precision, exponent, ".0"): rare in our output. */
        char *r = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!r)
            b->fail = true;
        else
            tb_put(b, r, strlen(r));
        free(r);
        break;
    }
    case JSON_TRUE:
        tb_put(b, "true", 4);
        break;
    case JSON_FALSE:
        tb_put(b, "false", 5);
        break;
    case JSON_NULL:
        tb_put(b, "null", 4);
        break;
    }
}

char *json_text(const json_t *v, size_t flags, size_t *len)
{
    const size_t handled = JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY | JSON_SORT_KEYS;
    struct tbuf b = {.ascii = (flags & JSON_ENSURE_ASCII) != 0,
                     .sort = (flags & JSON_SORT_KEYS) != 0};

    if (len)
        *len = 0;
    if (!v)
        return NULL;
    if ((flags & ~handled) || !(flags & JSON_COMPACT)) {
        char *t = json_dumps(v, flags);
        if (t && len)
            *len = strlen(t);
        return t;
    }
    if (!(flags & JSON_ENCODE_ANY) && !json_is_object(v) && !json_is_array(v))
        return NULL;
    tb_value(&b, v, 0);
    if (!tb_room(&b, 0)) {
        free(b.p);
        return NULL;
    }
    b.p[b.n] = '\0';
    if (len)
        *len = b.n;
    return b.p;
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
