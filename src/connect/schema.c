/*
 * JSON Schema 2020-12 (validation vocabulary) for tool arguments: connect_schema_check refuses
 * what this file does not implement, connect_schema_validate applies what it does. schema.h is
 * the specification; the comments here say why things are done the way they are.
 */
#include "connect/schema.h"

#include <assert.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect_int.h"
#include "core/json.h"
#include "core/str.h"

#define PATH_CAP 4096       /* 32 levels of at most ~70 bytes each fit */
#define PATH_SEGMENT_MAX 64 /* bytes of one property name inside a path */
#define PATH_SHOWN_MAX 120  /* bytes of a path inside a message (its end) */
#define SHOWN_VALUE_MAX 100 /* bytes of a const, enum list or pattern inside a message */
#define PATTERN_SUBJECT_MAX (64 * 1024)
#define STEPS_MAX 4000000UL  /* subschema applications in one validation */
#define PROBES_MAX 1000000UL /* deep comparisons for uniqueItems in one validation */
#define EQ_DEPTH_MAX 64
#define DIALECT "https://json-schema.org/draft/2020-12/schema"

/* --- UTF-8 and formatting -------------------------------------------------------------- */

/* snprintf cuts on bytes: drop a UTF-8 sequence that it left incomplete at the end of s. */
static void utf8_fix_tail(char *s)
{
    size_t n = strlen(s), j = n, need, have;
    unsigned char lead;
    while (j > 0 && n - j < 4 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
        j--;
    if (j == 0)
        return;
    lead = (unsigned char)s[j - 1];
    if (lead < 0xC0)
        return;
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    have = n - (j - 1);
    if (have < need)
        s[j - 1] = '\0';
}

static size_t utf8_count(const char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* A number as JSON shows it: integers exactly, reals in the shortest form that reads back. */
static void fmt_number(const json_t *v, char *out, size_t n)
{
    double d;
    if (json_is_integer(v)) {
        snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    d = json_number_value(v);
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* Compact JSON of v, cut to SHOWN_VALUE_MAX bytes with an ellipsis. */
static void fmt_value(const json_t *v, char *out, size_t n)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len, cut;
    if (!s) {
        snprintf(out, n, "(a value)");
        return;
    }
    len = strlen(s);
    cut = str_utf8_cut(s, len, SHOWN_VALUE_MAX);
    snprintf(out, n, "%.*s%s", (int)cut, s, cut < len ? "…" : "");
    utf8_fix_tail(out);
    free(s);
}

/*
 * Arithmetic without libm, which the build does not link: every double of magnitude 2^53 or
 * more is an integer, and below that a conversion to long long truncates exactly.
 */
static double dabs(double d)
{
    return d < 0 ? -d : d;
}

static bool integral_double(double d)
{
    return dabs(d) >= 9007199254740992.0 || d == (double)(long long)d;
}

/* The integer nearest to d, for |d| < 2^53. */
static double nearest_integer(double d)
{
    return (double)(long long)(d + (d < 0 ? -0.5 : 0.5));
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    return json_is_real(v) && integral_double(json_real_value(v));
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return is_integral(v) ? "integer" : "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

static const char *const type_names[] = {"object", "array",   "string", "integer",
                                         "number", "boolean", "null"};

static bool known_type(const char *name)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strcmp(name, type_names[i]) == 0)
            return true;
    }
    return false;
}

static const char *article(const char *type)
{
    if (strcmp(type, "null") == 0)
        return "";
    return strchr("aeiou", type[0]) ? "an " : "a ";
}

static bool type_matches(const char *name, const json_t *v)
{
    if (strcmp(name, "integer") == 0)
        return is_integral(v);
    if (strcmp(name, "number") == 0)
        return json_is_number(v);
    if (strcmp(name, "boolean") == 0)
        return json_is_boolean(v);
    return strcmp(name, type_name(v)) == 0;
}

/* --- paths ------------------------------------------------------------------------------ */

/*
 * Where a failure is: a JSON pointer into the schema for connect_schema_check, a JavaScript-like
 * path into the arguments for connect_schema_validate. Appends beyond the capacity are dropped;
 * a caller restores the length it got from a push.
 */
struct path {
    char p[PATH_CAP];
    size_t len;
    bool pointer;
};

static void path_add(struct path *pt, const char *s, size_t n)
{
    size_t room = PATH_CAP - 1 - pt->len;
    if (n > room)
        n = str_utf8_cut(s, n, room);
    memcpy(pt->p + pt->len, s, n);
    pt->len += n;
    pt->p[pt->len] = '\0';
}

static size_t path_push_key(struct path *pt, const char *key)
{
    size_t old = pt->len, n = strlen(key), cut = str_utf8_cut(key, n, PATH_SEGMENT_MAX);
    if (pt->pointer)
        path_add(pt, "/", 1);
    else if (pt->len)
        path_add(pt, ".", 1);
    for (size_t i = 0; i < cut; i++) {
        if (pt->pointer && key[i] == '~')
            path_add(pt, "~0", 2);
        else if (pt->pointer && key[i] == '/')
            path_add(pt, "~1", 2);
        else
            path_add(pt, key + i, 1);
    }
    if (cut < n)
        path_add(pt, "…", strlen("…"));
    return old;
}

static size_t path_push_index(struct path *pt, size_t i)
{
    char tmp[32];
    size_t old = pt->len;
    snprintf(tmp, sizeof tmp, pt->pointer ? "/%zu" : "[%zu]", i);
    path_add(pt, tmp, strlen(tmp));
    return old;
}

static void path_pop(struct path *pt, size_t old)
{
    pt->len = old;
    pt->p[old] = '\0';
}

/* The path for a message: its last PATH_SHOWN_MAX bytes, or root when it is empty. */
static void path_show(const struct path *pt, const char *root, char *out, size_t n)
{
    size_t start = 0, used = 0, len;
    assert(n > PATH_SHOWN_MAX + strlen("…"));
    if (pt->len == 0) {
        snprintf(out, n, "%s", root);
        return;
    }
    if (pt->len > PATH_SHOWN_MAX) {
        start = pt->len - PATH_SHOWN_MAX;
        while (start < pt->len && ((unsigned char)pt->p[start] & 0xC0) == 0x80)
            start++;
        used = strlen("…");
        memcpy(out, "…", used);
    }
    len = pt->len - start;
    memcpy(out + used, pt->p + start, len);
    out[used + len] = '\0';
}

/* Sets e to "<where>: <rule>", at most 255 bytes of valid UTF-8. */
__attribute__((format(printf, 5, 0))) static enum md_err
fail_v(struct md_error *e, enum md_err code, const struct path *pt, const char *root,
       const char *fmt, va_list ap)
{
    char where[PATH_SHOWN_MAX + 8], rule[256];
    path_show(pt, root, where, sizeof where);
    vsnprintf(rule, sizeof rule, fmt, ap);
    utf8_fix_tail(rule);
    md_error_set(e, code, "%s: %s", where, rule);
    if (e)
        utf8_fix_tail(e->msg);
    return code;
}

/* --- values: depth, equality, hashing ---------------------------------------------------- */

/* Whether v nests at most limit containers deep, counting v itself as level `level`. */
static bool depth_ok(const json_t *v, int level, int limit)
{
    const char *k;
    json_t *m;
    size_t i;
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (level > limit)
        return false;
    if (json_is_array(v)) {
        json_array_foreach(json_mut(v), i, m)
        {
            if (!depth_ok(m, level + 1, limit))
                return false;
        }
        return true;
    }
    json_object_foreach(json_mut(v), k, m)
    {
        (void)k;
        if (!depth_ok(m, level + 1, limit))
            return false;
    }
    return true;
}

/* -1, 0 or 1 as i compares with d, exactly (no rounding of i to a double). */
static int cmp_int_real(json_int_t i, double d)
{
    long long t;
    double frac;
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    t = (long long)d;
    if (i != t)
        return i < t ? -1 : 1;
    frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* Compares two JSON numbers exactly, whether each is a jansson integer or real. */
static int cmp_num(const json_t *a, const json_t *b)
{
    double x, y;
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t i = json_integer_value(a), j = json_integer_value(b);
        return i < j ? -1 : i > j;
    }
    if (json_is_integer(a))
        return cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_real(json_integer_value(b), json_real_value(a));
    x = json_real_value(a);
    y = json_real_value(b);
    return x < y ? -1 : x > y;
}

/* JSON Schema equality: numbers by value, objects regardless of key order. */
static bool json_eq(const json_t *a, const json_t *b, int depth)
{
    const char *k;
    json_t *m;
    size_t i;
    if (depth > EQ_DEPTH_MAX)
        return false;
    if (json_is_number(a) && json_is_number(b))
        return cmp_num(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        json_array_foreach(json_mut(a), i, m)
        {
            if (!json_eq(m, json_array_get(b, i), depth + 1))
                return false;
        }
        return true;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach(json_mut(a), k, m)
        {
            const json_t *o = json_object_get(b, k);
            if (!o || !json_eq(m, o, depth + 1))
                return false;
        }
        return true;
    default:
        return true;
    }
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return mix64(h);
}

/* A hash that agrees with json_eq: equal values hash alike (1 and 1.0 included). */
static uint64_t hash_json(const json_t *v)
{
    const char *k;
    json_t *m;
    size_t i;
    uint64_t h, bits;
    double d;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        h = 0x6f;
        json_object_foreach(json_mut(v), k, m)
        {
            h += mix64(hash_bytes(k, strlen(k)) ^ (hash_json(m) * 31));
        }
        return mix64(h ^ json_object_size(v));
    case JSON_ARRAY:
        h = 0x61;
        json_array_foreach(json_mut(v), i, m)
        {
            h = mix64(h * 31 + hash_json(m));
        }
        return h;
    case JSON_STRING:
        return hash_bytes(json_string_value(v), json_string_length(v)) ^ 0x73;
    case JSON_INTEGER:
        return mix64((uint64_t)json_integer_value(v));
    case JSON_REAL:
        d = json_real_value(v);
        if (integral_double(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            return mix64((uint64_t)(long long)d);
        memcpy(&bits, &d, sizeof bits);
        return mix64(bits ^ 0x72);
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
        return 2;
    case JSON_NULL:
        break;
    }
    return 3;
}

/* --- connect_schema_check ---------------------------------------------------------------- */

enum kw_kind {
    KW_STRING, /* an annotation string */
    KW_BOOL,   /* a boolean */
    KW_ANY,    /* any value (const, default), depth-limited */
    KW_EXAMPLES,
    KW_DIALECT,
    KW_TYPE,
    KW_ENUM,
    KW_NUMBER,
    KW_MULTIPLE,
    KW_COUNT, /* a non-negative integer */
    KW_PATTERN,
    KW_SCHEMA,
    KW_SCHEMA_MAP,
    KW_SCHEMA_LIST,
    KW_REQUIRED,
};

static const struct keyword {
    const char *name;
    enum kw_kind kind;
} keywords[] = {
    {"$schema", KW_DIALECT},
    {"$id", KW_STRING},
    {"$comment", KW_STRING},
    {"title", KW_STRING},
    {"description", KW_STRING},
    {"format", KW_STRING},
    {"contentMediaType", KW_STRING},
    {"default", KW_ANY},
    {"const", KW_ANY},
    {"examples", KW_EXAMPLES},
    {"deprecated", KW_BOOL},
    {"readOnly", KW_BOOL},
    {"writeOnly", KW_BOOL},
    {"uniqueItems", KW_BOOL},
    {"type", KW_TYPE},
    {"enum", KW_ENUM},
    {"minimum", KW_NUMBER},
    {"maximum", KW_NUMBER},
    {"exclusiveMinimum", KW_NUMBER},
    {"exclusiveMaximum", KW_NUMBER},
    {"multipleOf", KW_MULTIPLE},
    {"minLength", KW_COUNT},
    {"maxLength", KW_COUNT},
    {"minItems", KW_COUNT},
    {"maxItems", KW_COUNT},
    {"minProperties", KW_COUNT},
    {"maxProperties", KW_COUNT},
    {"pattern", KW_PATTERN},
    {"items", KW_SCHEMA},
    {"additionalProperties", KW_SCHEMA},
    {"not", KW_SCHEMA},
    {"properties", KW_SCHEMA_MAP},
    {"allOf", KW_SCHEMA_LIST},
    {"anyOf", KW_SCHEMA_LIST},
    {"oneOf", KW_SCHEMA_LIST},
    {"required", KW_REQUIRED},
};

struct cctx {
    struct path path;
    struct md_error *e;
};

__attribute__((format(printf, 2, 3))) static enum md_err cfail(struct cctx *c, const char *fmt, ...)
{
    va_list ap;
    enum md_err rc;
    va_start(ap, fmt);
    rc = fail_v(c->e, MD_ERR_VALUE, &c->path, "(root)", fmt, ap);
    va_end(ap);
    return rc;
}

static enum md_err check_schema(struct cctx *c, const json_t *s, int depth);

/* Whether arr[i] equals an element before it (JSON equality). */
static bool repeats_earlier(const json_t *arr, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (json_equal(json_array_get(arr, i), json_array_get(arr, j)))
            return true;
    }
    return false;
}

static enum md_err check_type(struct cctx *c, const json_t *v)
{
    size_t i;
    json_t *t;
    if (json_is_string(v)) {
        if (!known_type(json_string_value(v)))
            return cfail(c, "unknown type \"%s\"", json_string_value(v));
        return MD_OK;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cfail(c, "must be a type name or a non-empty array of type names");
    json_array_foreach(json_mut(v), i, t)
    {
        if (!json_is_string(t) || !known_type(json_string_value(t)))
            return cfail(c, "must be a type name or a non-empty array of type names");
        if (repeats_earlier(v, i))
            return cfail(c, "must not name a type twice");
    }
    return MD_OK;
}

static enum md_err check_required(struct cctx *c, const json_t *v)
{
    size_t i;
    json_t *t;
    if (!json_is_array(v))
        return cfail(c, "must be an array of property names");
    json_array_foreach(json_mut(v), i, t)
    {
        if (!json_is_string(t) || strlen(json_string_value(t)) != json_string_length(t))
            return cfail(c, "must be an array of property names");
        if (repeats_earlier(v, i))
            return cfail(c, "must not name a property twice");
    }
    return MD_OK;
}

static enum md_err check_pattern(struct cctx *c, const json_t *v)
{
    regex_t re;
    char why[128];
    enum md_err rc;
    if (!json_is_string(v))
        return cfail(c, "must be a string");
    rc = connect__pattern_compile(v, &re, why, sizeof why);
    if (rc == MD_ERR_NOMEM)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory compiling a pattern");
    if (rc != MD_OK)
        return cfail(c, "unsupported pattern: %s", why);
    regfree(&re);
    return MD_OK;
}

static enum md_err check_subschemas(struct cctx *c, const json_t *v, enum kw_kind kind, int depth)
{
    const char *k;
    json_t *m;
    size_t i, old;
    enum md_err rc;
    if (kind == KW_SCHEMA_MAP) {
        if (!json_is_object(v))
            return cfail(c, "must be an object of schemas");
        json_object_foreach(json_mut(v), k, m)
        {
            old = path_push_key(&c->path, k);
            rc = check_schema(c, m, depth + 1);
            path_pop(&c->path, old);
            if (rc)
                return rc;
        }
        return MD_OK;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cfail(c, "must be a non-empty array of schemas");
    json_array_foreach(json_mut(v), i, m)
    {
        old = path_push_index(&c->path, i);
        rc = check_schema(c, m, depth + 1);
        path_pop(&c->path, old);
        if (rc)
            return rc;
    }
    return MD_OK;
}

static enum md_err check_count(struct cctx *c, const json_t *v)
{
    if (!json_is_number(v) || !is_integral(v) || json_number_value(v) < 0)
        return cfail(c, "must be a non-negative integer");
    return MD_OK;
}

static enum md_err check_keyword(struct cctx *c, enum kw_kind kind, const json_t *v, int depth)
{
    const char *d;
    switch (kind) {
    case KW_STRING:
        return json_is_string(v) ? MD_OK : cfail(c, "must be a string");
    case KW_BOOL:
        return json_is_boolean(v) ? MD_OK : cfail(c, "must be a boolean");
    case KW_EXAMPLES:
        if (!json_is_array(v))
            return cfail(c, "must be an array");
        /* fall through */
    case KW_ANY:
        return depth_ok(v, 1, CONNECT_SCHEMA_MAX_DEPTH)
                   ? MD_OK
                   : cfail(c, "nested deeper than %d levels", CONNECT_SCHEMA_MAX_DEPTH);
    case KW_DIALECT:
        d = json_string_value(v);
        if (d && (strcmp(d, DIALECT) == 0 || strcmp(d, DIALECT "#") == 0))
            return MD_OK;
        return cfail(c, "only JSON Schema 2020-12 (\"%s\") is supported", DIALECT);
    case KW_TYPE:
        return check_type(c, v);
    case KW_ENUM:
        if (!json_is_array(v) || json_array_size(v) == 0)
            return cfail(c, "must be a non-empty array");
        return check_keyword(c, KW_ANY, v, depth);
    case KW_NUMBER:
        return json_is_number(v) ? MD_OK : cfail(c, "must be a number");
    case KW_MULTIPLE:
        return json_is_number(v) && json_number_value(v) > 0
                   ? MD_OK
                   : cfail(c, "must be a number greater than 0");
    case KW_COUNT:
        return check_count(c, v);
    case KW_PATTERN:
        return check_pattern(c, v);
    case KW_SCHEMA:
        if (json_is_array(v))
            return cfail(c, "must be a schema (the array form is prefixItems, not supported)");
        return check_schema(c, v, depth + 1);
    case KW_SCHEMA_MAP:
    case KW_SCHEMA_LIST:
        return check_subschemas(c, v, kind, depth);
    case KW_REQUIRED:
        return check_required(c, v);
    }
    return MD_OK;
}

static const struct keyword *keyword_find(const char *name)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (strcmp(keywords[i].name, name) == 0)
            return &keywords[i];
    }
    return NULL;
}

static enum md_err check_schema(struct cctx *c, const json_t *s, int depth)
{
    const char *k;
    json_t *v;
    enum md_err rc = MD_OK;
    if (depth > CONNECT_SCHEMA_MAX_DEPTH)
        return cfail(c, "schemas nested deeper than %d levels", CONNECT_SCHEMA_MAX_DEPTH);
    if (json_is_boolean(s))
        return MD_OK;
    if (!json_is_object(s))
        return cfail(c, "must be a schema (an object or a boolean)");
    json_object_foreach(json_mut(s), k, v)
    {
        const struct keyword *kw = keyword_find(k);
        size_t old = path_push_key(&c->path, k);
        rc = kw ? check_keyword(c, kw->kind, v, depth) : cfail(c, "unsupported keyword");
        path_pop(&c->path, old);
        if (rc)
            break;
    }
    return rc;
}

enum md_err connect_schema_check(const json_t *schema, struct md_error *e)
{
    struct cctx c;
    c.path.len = 0;
    c.path.p[0] = '\0';
    c.path.pointer = true;
    c.e = e;
    if (!schema)
        return cfail(&c, "must be a schema (an object or a boolean)");
    return check_schema(&c, schema, 1);
}

/* --- connect_schema_validate ------------------------------------------------------------- */

struct vctx {
    struct path path;
    struct md_error *e;
    unsigned long steps;
    unsigned long probes;
    bool exhausted; /* a limit was hit: the verdict is a refusal, whatever the branch */
};

__attribute__((format(printf, 2, 3))) static enum md_err vfail(struct vctx *c, const char *fmt, ...)
{
    va_list ap;
    enum md_err rc;
    va_start(ap, fmt);
    rc = fail_v(c->e, MD_ERR_VALUE, &c->path, "arguments", fmt, ap);
    va_end(ap);
    return rc;
}

static enum md_err v_schema(struct vctx *c, const json_t *s, const json_t *inst);

static enum md_err v_type(struct vctx *c, const json_t *s, const json_t *inst)
{
    const json_t *t = json_object_get(s, "type");
    char want[160];
    size_t i, n, used = 0;
    json_t *m;
    if (!t)
        return MD_OK;
    if (json_is_string(t)) {
        if (type_matches(json_string_value(t), inst))
            return MD_OK;
        return vfail(c, "must be %s%s, not %s%s", article(json_string_value(t)),
                     json_string_value(t), article(type_name(inst)), type_name(inst));
    }
    n = json_array_size(t);
    want[0] = '\0';
    json_array_foreach(json_mut(t), i, m)
    {
        const char *name = json_string_value(m);
        if (type_matches(name, inst))
            return MD_OK;
        used += (size_t)snprintf(want + used, sizeof want - used, "%s%s%s",
                                 i == 0       ? ""
                                 : i + 1 == n ? " or "
                                              : ", ",
                                 article(name), name);
        if (used >= sizeof want)
            used = sizeof want - 1;
    }
    return vfail(c, "must be %s, not %s%s", want, article(type_name(inst)), type_name(inst));
}

static enum md_err v_enum(struct vctx *c, const json_t *s, const json_t *inst)
{
    const json_t *v = json_object_get(s, "const"), *en = json_object_get(s, "enum");
    char shown[SHOWN_VALUE_MAX + 8], list[SHOWN_VALUE_MAX * 2];
    size_t i, used = 0;
    json_t *m;
    if (v && !json_eq(inst, v, 0)) {
        fmt_value(v, shown, sizeof shown);
        return vfail(c, "must be %s", shown);
    }
    if (!en)
        return MD_OK;
    list[0] = '\0';
    json_array_foreach(json_mut(en), i, m)
    {
        if (json_eq(inst, m, 0))
            return MD_OK;
        if (used < SHOWN_VALUE_MAX) {
            fmt_value(m, shown, sizeof shown);
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", shown);
            if (used >= sizeof list)
                used = sizeof list - 1;
        } else if (used < sizeof list - 8) {
            used += (size_t)snprintf(list + used, sizeof list - used, ", …");
            used = sizeof list; /* only once */
        }
    }
    utf8_fix_tail(list);
    if (json_array_size(en) == 1)
        return vfail(c, "must be %s", list);
    return vfail(c, "must be one of %s", list);
}

static bool is_multiple(const json_t *inst, const json_t *m)
{
    double q;
    if (json_is_integer(inst) && json_is_integer(m))
        return json_integer_value(inst) % json_integer_value(m) == 0;
    q = json_number_value(inst) / json_number_value(m);
    if (!isfinite(q))
        return false;
    if (dabs(q) >= 9007199254740992.0)
        return true;
    /* Decimal steps such as 0.01 are not exact in binary: 19.99 / 0.01 is 1998.9999999999998. */
    return dabs(q - nearest_integer(q)) <= 1e-9 * (dabs(q) > 1 ? dabs(q) : 1);
}

static enum md_err v_number(struct vctx *c, const json_t *s, const json_t *inst)
{
    static const struct {
        const char *kw;
        int bad_a, bad_b; /* cmp_num(inst, bound) results that fail */
        const char *rule;
    } bounds[] = {
        {"minimum", -1, -1, "must be at least"},
        {"exclusiveMinimum", -1, 0, "must be greater than"},
        {"maximum", 1, 1, "must be at most"},
        {"exclusiveMaximum", 1, 0, "must be less than"},
    };
    char num[40];
    const json_t *m;
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        int r;
        m = json_object_get(s, bounds[i].kw);
        if (!m)
            continue;
        r = cmp_num(inst, m);
        if (r == bounds[i].bad_a || r == bounds[i].bad_b) {
            fmt_number(m, num, sizeof num);
            return vfail(c, "%s %s", bounds[i].rule, num);
        }
    }
    m = json_object_get(s, "multipleOf");
    if (m && !is_multiple(inst, m)) {
        fmt_number(m, num, sizeof num);
        return vfail(c, "must be a multiple of %s", num);
    }
    return MD_OK;
}

/*
 * The six count keywords: n (characters, items or properties of the instance) against
 * keyword kw ("minLength", ... "maxProperties") of s, with the message in agent terms.
 */
static enum md_err v_count(struct vctx *c, const json_t *s, const char *kw, double n)
{
    static const struct {
        const char *kw, *verb, *one, *many, *tail;
    } rules[] = {
        {"Length", "be", "character", "characters", " long"},
        {"Items", "have", "item", "items", ""},
        {"Properties", "have", "property", "properties", ""},
    };
    const json_t *v = json_object_get(s, kw);
    bool min = kw[1] == 'i';
    char num[40];
    double limit;
    if (!v)
        return MD_OK;
    limit = json_number_value(v);
    if (min ? n >= limit : n <= limit)
        return MD_OK;
    fmt_number(v, num, sizeof num);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (strcmp(rules[i].kw, kw + 3) == 0)
            return vfail(c, "must %s at %s %s %s%s", rules[i].verb, min ? "least" : "most", num,
                         limit == 1 ? rules[i].one : rules[i].many, rules[i].tail);
    }
    return MD_OK;
}

/* The pattern as written, cut for a message. */
static void fmt_pattern(const json_t *pat, char *out, size_t n)
{
    const char *p = json_string_value(pat);
    size_t len = strlen(p), cut = str_utf8_cut(p, len, SHOWN_VALUE_MAX);
    snprintf(out, n, "%.*s%s", (int)cut, p, cut < len ? "…" : "");
    utf8_fix_tail(out);
}

static enum md_err v_pattern(struct vctx *c, const json_t *pat, const json_t *inst)
{
    const char *str = json_string_value(inst);
    size_t len = json_string_length(inst);
    char why[128], shown[SHOWN_VALUE_MAX + 8];
    regex_t re;
    enum md_err rc;
    int rr;

    fmt_pattern(pat, shown, sizeof shown);
    /* Refused rather than approximated: regexec stops at a NUL, and long subjects cost time. */
    if (len > PATTERN_SUBJECT_MAX)
        return vfail(c, "must match the pattern %s (strings over %d bytes are not checked)", shown,
                     PATTERN_SUBJECT_MAX);
    if (strlen(str) != len)
        return vfail(c, "must match the pattern %s (a string holding U+0000 never matches)", shown);
    rc = connect__pattern_compile(pat, &re, why, sizeof why);
    if (rc == MD_ERR_NOMEM)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory compiling a pattern");
    if (rc != MD_OK)
        return md_error_set(c->e, MD_ERR_INTERNAL, "pattern refused: %s", why);
    rr = regexec(&re, str, 0, NULL, 0);
    regfree(&re);
    if (rr == 0)
        return MD_OK;
    if (rr == REG_NOMATCH)
        return vfail(c, "must match the pattern %s", shown);
    return md_error_set(c->e, MD_ERR_NOMEM, "out of memory matching a pattern");
}

static enum md_err v_string(struct vctx *c, const json_t *s, const json_t *inst)
{
    const json_t *pat = json_object_get(s, "pattern");
    double cps = (double)utf8_count(json_string_value(inst), json_string_length(inst));
    enum md_err rc;
    if ((rc = v_count(c, s, "minLength", cps)) != MD_OK ||
        (rc = v_count(c, s, "maxLength", cps)) != MD_OK)
        return rc;
    return pat ? v_pattern(c, pat, inst) : MD_OK;
}

struct hent {
    uint64_t h;
    size_t i;
};

static int hent_cmp(const void *a, const void *b)
{
    const struct hent *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * uniqueItems in O(n log n): items are sorted by a hash that agrees with json_eq, and only
 * items of equal hash are compared. Crafted collisions are bounded by PROBES_MAX, past which
 * the arguments are refused rather than left unchecked. Reports the pair that comes first.
 */
static enum md_err v_unique(struct vctx *c, const json_t *inst)
{
    size_t n = json_array_size(inst), best_i = 0, best_j = SIZE_MAX;
    struct hent *h;
    if (n < 2)
        return MD_OK;
    h = malloc(n * sizeof *h);
    if (!h)
        return md_error_set(c->e, MD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        h[i].h = hash_json(json_array_get(inst, i));
        h[i].i = i;
    }
    qsort(h, n, sizeof *h, hent_cmp);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && h[b].h == h[a].h; b++)
            ;
        for (size_t x = a; x < b; x++) {
            for (size_t y = x + 1; y < b; y++) {
                if (++c->probes > PROBES_MAX) {
                    free(h);
                    c->exhausted = true;
                    return vfail(c, "too many look-alike items to check that they are unique");
                }
                if (h[y].i < best_j &&
                    json_eq(json_array_get(inst, h[x].i), json_array_get(inst, h[y].i), 0)) {
                    best_i = h[x].i;
                    best_j = h[y].i;
                }
            }
        }
    }
    free(h);
    if (best_j != SIZE_MAX)
        return vfail(c, "must have unique items ([%zu] equals [%zu])", best_i, best_j);
    return MD_OK;
}

static enum md_err v_array(struct vctx *c, const json_t *s, const json_t *inst)
{
    const json_t *items = json_object_get(s, "items");
    double n = (double)json_array_size(inst);
    enum md_err rc;
    size_t i;
    json_t *m;
    if ((rc = v_count(c, s, "minItems", n)) != MD_OK ||
        (rc = v_count(c, s, "maxItems", n)) != MD_OK)
        return rc;
    if (items) {
        json_array_foreach(json_mut(inst), i, m)
        {
            size_t old = path_push_index(&c->path, i);
            rc = v_schema(c, items, m);
            path_pop(&c->path, old);
            if (rc)
                return rc;
        }
    }
    if (json_is_true(json_object_get(s, "uniqueItems")))
        return v_unique(c, inst);
    return MD_OK;
}

static enum md_err v_required(struct vctx *c, const json_t *s, const json_t *inst)
{
    const json_t *req = json_object_get(s, "required");
    size_t i;
    json_t *m;
    json_array_foreach(json_mut(req), i, m)
    {
        if (!json_object_get(inst, json_string_value(m))) {
            size_t old = path_push_key(&c->path, json_string_value(m));
            enum md_err rc = vfail(c, "required");
            path_pop(&c->path, old);
            return rc;
        }
    }
    return MD_OK;
}

static enum md_err v_object(struct vctx *c, const json_t *s, const json_t *inst)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    bool nested = c->path.len > 0;
    double n = (double)json_object_size(inst);
    enum md_err rc;
    const char *k;
    json_t *m;

    if ((rc = v_required(c, s, inst)) != MD_OK)
        return rc;
    json_object_foreach(json_mut(inst), k, m)
    {
        const json_t *sub = props ? json_object_get(props, k) : NULL;
        size_t old = path_push_key(&c->path, k);
        if (sub)
            rc = v_schema(c, sub, m);
        else if (json_is_false(addl))
            rc = vfail(c, "unknown %s (additionalProperties is false)",
                       nested ? "property" : "argument");
        else if (addl)
            rc = v_schema(c, addl, m);
        path_pop(&c->path, old);
        if (rc)
            return rc;
    }
    if ((rc = v_count(c, s, "minProperties", n)) != MD_OK)
        return rc;
    return v_count(c, s, "maxProperties", n);
}

/*
 * Applies s to inst as one branch of anyOf, oneOf or not: *ok says whether it holds and why
 * says, when it does not, its first failure. Returns MD_OK, or an error that the caller must
 * pass on (out of memory, a limit hit), already set in c->e.
 */
static enum md_err v_branch(struct vctx *c, const json_t *s, const json_t *inst, bool *ok,
                            struct md_error *why)
{
    struct md_error *saved = c->e;
    size_t old = c->path.len;
    enum md_err rc;
    md_error_clear(why);
    c->e = why;
    rc = v_schema(c, s, inst);
    c->e = saved;
    path_pop(&c->path, old);
    *ok = rc == MD_OK;
    if (rc == MD_OK || (rc == MD_ERR_VALUE && !c->exhausted))
        return MD_OK;
    if (saved)
        *saved = *why;
    return rc;
}

static enum md_err v_some(struct vctx *c, const json_t *list, const json_t *inst, bool one)
{
    struct md_error first, why;
    size_t i, n = json_array_size(list), hits = 0, hit[2] = {0, 0};
    enum md_err rc;
    bool ok;
    json_t *m;
    json_array_foreach(json_mut(list), i, m)
    {
        if ((rc = v_branch(c, m, inst, &ok, i ? &why : &first)) != MD_OK)
            return rc;
        if (ok) {
            if (!one)
                return MD_OK;
            if (hits < 2)
                hit[hits] = i;
            if (++hits == 2)
                break;
        }
    }
    if (hits == 1)
        return MD_OK;
    if (hits > 1)
        return vfail(
            c, "must match exactly one of the %zu schemas of oneOf, but matches #%zu and #%zu", n,
            hit[0] + 1, hit[1] + 1);
    return vfail(c, "must match %s of the %zu schemas of %s; the first fails with: %s",
                 one ? "exactly one" : "at least one", n, one ? "oneOf" : "anyOf", first.msg);
}

static enum md_err v_combinators(struct vctx *c, const json_t *s, const json_t *inst)
{
    const json_t *v;
    struct md_error why;
    enum md_err rc;
    bool ok;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(s, "allOf"), i, m)
    {
        if ((rc = v_schema(c, m, inst)) != MD_OK)
            return rc;
    }
    if ((v = json_object_get(s, "anyOf")) && (rc = v_some(c, v, inst, false)) != MD_OK)
        return rc;
    if ((v = json_object_get(s, "oneOf")) && (rc = v_some(c, v, inst, true)) != MD_OK)
        return rc;
    if ((v = json_object_get(s, "not")) != NULL) {
        if ((rc = v_branch(c, v, inst, &ok, &why)) != MD_OK)
            return rc;
        if (ok)
            return vfail(c, "must not match the schema under \"not\"");
    }
    return MD_OK;
}

static enum md_err v_schema(struct vctx *c, const json_t *s, const json_t *inst)
{
    enum md_err rc;
    if (json_is_true(s))
        return MD_OK;
    if (json_is_false(s))
        return vfail(c, "not allowed (the schema is false)");
    if (++c->steps > STEPS_MAX) {
        c->exhausted = true;
        return vfail(c, "too complex to validate against the tool's schema");
    }
    if ((rc = v_type(c, s, inst)) != MD_OK || (rc = v_enum(c, s, inst)) != MD_OK)
        return rc;
    if (json_is_number(inst))
        rc = v_number(c, s, inst);
    else if (json_is_string(inst))
        rc = v_string(c, s, inst);
    else if (json_is_array(inst))
        rc = v_array(c, s, inst);
    else if (json_is_object(inst))
        rc = v_object(c, s, inst);
    if (rc)
        return rc;
    return v_combinators(c, s, inst);
}

enum md_err connect_schema_validate(const json_t *schema, const json_t *args, struct md_error *e)
{
    struct md_error ce;
    struct vctx c;
    json_t *empty = NULL;
    enum md_err rc;

    rc = connect_schema_check(schema, &ce);
    if (rc == MD_ERR_NOMEM)
        return md_error_set(e, rc, "%s", ce.msg);
    if (rc != MD_OK) {
        md_error_set(e, MD_ERR_INTERNAL, "the tool's input_schema is invalid: %s", ce.msg);
        if (e)
            utf8_fix_tail(e->msg);
        return MD_ERR_INTERNAL;
    }
    if (!args && !(args = empty = json_object()))
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    memset(&c, 0, sizeof c);
    c.e = e;
    if (!depth_ok(args, 1, CONNECT_SCHEMA_MAX_DEPTH))
        rc = vfail(&c, "nested deeper than %d levels", CONNECT_SCHEMA_MAX_DEPTH);
    else
        rc = v_schema(&c, schema, args);
    json_decref(empty);
    return rc;
}
