#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

Test(test_str, slices_compare_exactly_and_case_insensitively)
{
    struct slice a = SLICE_LIT("userName");
    cr_assert(slice_eq_cstr(a, "userName"));
    cr_assert_not(slice_eq_cstr(a, "username"));
    cr_assert(slice_ieq_cstr(a, "USERNAME"));
    cr_assert_not(slice_ieq_cstr(a, "userNam"));
    cr_assert(cstr_ieq("Group", "group"));
    cr_assert_not(cstr_ieq(NULL, "group"));
    char *d = slice_dup((struct slice){"abcdef", 3});
    cr_assert_str_eq(d, "abc");
    free(d);
}

Test(test_str, buffer_grows_and_formats)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        buf_appendf(&b, "%d,", i);
    cr_assert_eq(b.err, MD_OK);
    cr_assert(strncmp(b.p, "0,1,2,", 6) == 0);
    cr_assert_eq(b.len, strlen(b.p));
    char *s = buf_steal(&b);
    cr_assert(strstr(s, "999,") != NULL);
    free(s);
    cr_assert_null(b.p);
}

Test(test_str, buffer_cap_is_sticky)
{
    struct buf b;
    buf_init(&b, 8);
    buf_append_cstr(&b, "12345678");
    cr_assert_eq(b.err, MD_OK);
    buf_append_char(&b, '9');
    cr_assert_eq(b.err, MD_ERR_TOOLARGE);
    buf_append_cstr(&b, "");
    cr_assert_eq(b.len, 8);
    buf_appendf(&b, "%s", "more");
    cr_assert_eq(b.len, 8);
    buf_reset(&b);
    cr_assert_eq(b.err, MD_OK);
    cr_assert_eq(b.len, 0);
    buf_free(&b);
}

Test(test_str, integers_parse_strictly)
{
    long long v = 0;
    cr_assert(str_to_ll("42", 2, 0, 100, &v));
    cr_assert_eq(v, 42);
    cr_assert(str_to_ll("-5", 2, -10, 10, &v));
    cr_assert_eq(v, -5);
    cr_assert_not(str_to_ll("4x", 2, 0, 100, &v));
    cr_assert_not(str_to_ll("101", 3, 0, 100, &v));
    cr_assert_not(str_to_ll(" 1", 2, 0, 100, &v));
    cr_assert_not(str_to_ll("", 0, 0, 100, &v));
    cr_assert_not(str_to_ll("99999999999999999999999", 23, 0, 100, &v));
}

Test(test_str, hex_digits_of_either_case)
{
    const char *digits = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        cr_assert_eq(str_hex_digit(digits[i]), i);
        if (i >= 10)
            cr_assert_eq(str_hex_digit(digits[i] - 32), i);
    }
    cr_assert_eq(str_hex_digit('g'), -1);
    cr_assert_eq(str_hex_digit('G'), -1);
    cr_assert_eq(str_hex_digit('/'), -1);
    cr_assert_eq(str_hex_digit(':'), -1);
    cr_assert_eq(str_hex_digit('\0'), -1);
    cr_assert_eq(str_hex_digit(0xC3), -1);
}

Test(test_str, utf8_cut_never_splits_a_sequence)
{
    /* "aé€😀": 1 + 2 + 3 + 4 bytes. */
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    static const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10};
    for (size_t max = 0; max <= 10; max++)
        cr_assert_eq(str_utf8_cut(s, 10, max), want[max], "max %zu", max);
    cr_assert_eq(str_utf8_cut(s, 10, 50), 10);
}
