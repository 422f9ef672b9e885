#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

Test(test_json, parses_within_limits)
{
    json_t *v = NULL;
    struct md_error e;
    const char *t = "{\"a\":[1,{\"b\":\"[[[\"}]}";
    cr_assert_eq(json_parse_limited(t, strlen(t), 1024, 3, &v, &e), MD_OK);
    cr_assert(json_is_object(v));
    json_decref(v);
}

Test(test_json, refuses_deep_nesting_and_size)
{
    json_t *v = NULL;
    struct md_error e;
    char deep[200];
    memset(deep, '[', sizeof deep);
    cr_assert_eq(json_parse_limited(deep, sizeof deep, 1024, 32, &v, &e), MD_ERR_SYNTAX);
    cr_assert(strstr(e.msg, "deeper") != NULL);
    cr_assert_null(v);
    cr_assert_eq(json_parse_limited("{}", 2, 1, 32, &v, &e), MD_ERR_TOOLARGE);
    cr_assert_eq(json_parse_limited("{\"a\":", 5, 100, 32, &v, &e), MD_ERR_SYNTAX);
    cr_assert_eq(json_parse_limited("{\"a\":1,\"a\":2}", 13, 100, 32, &v, &e), MD_ERR_SYNTAX);
}

Test(test_json, case_insensitive_lookup)
{
    json_t *o = json_pack("{s:s, s:i}", "Primary", "yes", "value", 3);
    cr_assert_str_eq(json_istr(o, "primary"), "yes");
    cr_assert_str_eq(json_object_ikey(o, "PRIMARY"), "Primary");
    cr_assert_eq(json_integer_value(json_object_iget(o, "VALUE")), 3);
    cr_assert_null(json_object_iget(o, "missing"));
    json_object_idel(o, "primary");
    cr_assert_null(json_object_get(o, "Primary"));
    json_decref(o);
}

/* ---- json_text against json_dumps, byte for byte ---- */

static unsigned rnd_state = 12345;
static unsigned rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) & 0xFFFFFF;
}

/* A string drawn from ASCII, every control character, quotes, backslashes and UTF-8 of 2-4 bytes.
 */
static json_t *rnd_string(char *buf, size_t cap, size_t *len)
{
    static const char *const pieces[] = {"a",
                                         "Z",
                                         " ",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xef\xbf\xbf",
                                         "\xf4\x8f\xbf\xbf",
                                         "\xed\x9f\xbf",
                                         "\xee\x80\x80"};
    size_t n = 0, count = rnd() % 12;
    for (size_t i = 0; i < count && n + 8 < cap; i++) {
        unsigned pick = rnd() % 20;
        if (pick < 6) {
            buf[n++] = (char)(rnd() % 0x20); /* a control character, NUL included */
        } else {
            const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
            memcpy(buf + n, p, strlen(p));
            n += strlen(p);
        }
    }
    *len = n;
    return json_stringn(buf, n);
}

static json_t *rnd_value(int depth)
{
    char buf[128];
    size_t len;
    unsigned kind = depth > 4 ? rnd() % 6 : rnd() % 8;

    switch (kind) {
    case 0:
        return rnd_string(buf, sizeof buf, &len);
    case 1: {
        static const json_int_t ints[] = {0, -1, 1, 42, INT64_MAX, INT64_MIN, 1000000007};
        return json_integer(ints[rnd() % 7]);
    }
    case 2: {
        static const double reals[] = {0.0, -0.5, 1.0, 1e300, 3.141592653589793, 1e-7, 123456789.0};
        return json_real(reals[rnd() % 7]);
    }
    case 3:
        return json_true();
    case 4:
        return json_false();
    case 5:
        return json_null();
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rnd() % 5; i > 0; i--)
            json_array_append_new(a, rnd_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd() % 5; i > 0; i--) {
            json_t *k = rnd_string(buf, sizeof buf, &len);
            json_object_setn_new(o, buf, len, rnd_value(depth + 1)); /* keys may hold NUL */
            json_decref(k);
        }
        return o;
    }
    }
}

static void same_as_jansson(const json_t *v, size_t flags)
{
    size_t len = 0;
    char *want = json_dumps(v, flags);
    char *got = json_text(v, flags, &len);
    if (!want) {
        cr_assert_null(got, "jansson refused, json_text wrote %s", got);
        return;
    }
    cr_assert_not_null(got, "json_text refused what jansson wrote: %s", want);
    cr_assert_str_eq(got, want);
    cr_assert_eq(len, strlen(want));
    free(want);
    free(got);
}

Test(test_json, text_is_jansson_byte_for_byte)
{
    static const size_t flag_sets[] = {JSON_COMPACT,
                                       JSON_COMPACT | JSON_ENSURE_ASCII,
                                       JSON_COMPACT | JSON_ENCODE_ANY,
                                       JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY,
                                       JSON_COMPACT | JSON_SORT_KEYS |
                                           JSON_ENSURE_ASCII, /* passed on to jansson */
                                       JSON_INDENT(2)};
    for (int i = 0; i < 3000; i++) {
        json_t *v = rnd_value(0);
        for (size_t f = 0; f < sizeof flag_sets / sizeof *flag_sets; f++)
            same_as_jansson(v, flag_sets[f]);
        json_decref(v);
    }
}

Test(test_json, text_sorts_keys_as_jansson_does)
{
    /* Prefixes of one another, NUL inside, non-ASCII, and more keys than fit on the stack. */
    static const char *const keys[] = {"k", "ka", "", "K", "\xc3\xa9", "k\x01", "z", "a"};
    json_t *o = json_object();
    char key[8];

    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        json_object_set_new(o, keys[i], json_integer((json_int_t)i));
    json_object_setn_new(o, "k\0", 2, json_integer(100));
    json_object_setn_new(o, "\0", 1, json_integer(101));
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "m%d", (i * 7) % 40);
        json_object_set_new(o, key, json_integer(i));
    }
    same_as_jansson(o, JSON_COMPACT | JSON_SORT_KEYS);
    same_as_jansson(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(o);
}

Test(test_json, text_refuses_what_jansson_refuses)
{
    /* Not UTF-8: an overlong '/', a lone surrogate, a cut sequence, beyond U+10FFFF. */
    static const char *const bad[] = {"\xc0\xaf",         "\xed\xa0\x80", "ab\xe2\x82",
                                      "\xf4\x90\x80\x80", "\x80",         "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *s = json_stringn_nocheck(bad[i], strlen(bad[i]));
        json_t *o = json_pack("{s:O}", "k", s);
        same_as_jansson(o, JSON_COMPACT);
        same_as_jansson(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        cr_assert_null(json_text(o, JSON_COMPACT, NULL), "bad[%zu] accepted", i);
        json_decref(o);
        json_decref(s);
    }
    /* A scalar needs JSON_ENCODE_ANY. */
    json_t *n = json_integer(7);
    cr_assert_null(json_text(n, JSON_COMPACT, NULL));
    same_as_jansson(n, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(n);
    /* Nesting beyond 2048 levels is refused rather than recursed into. */
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 3000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    cr_assert_null(json_text(deep, JSON_COMPACT, NULL));
    json_decref(deep);
}
