#include <criterion/criterion.h>
#include <string.h>

#include "core/time.h"

Test(test_time, parses_rfc3339_forms)
{
    int64_t ms = 0;
    cr_assert(time_parse_rfc3339("1970-01-01T00:00:00Z", &ms));
    cr_assert_eq(ms, 0);
    cr_assert(time_parse_rfc3339("2015-10-10T14:38:21.8617979-07:00", &ms));
    cr_assert_eq(ms, 1444513101861LL);
    cr_assert(time_parse_rfc3339("2000-02-29T12:00:00.5+01:00", &ms));
    cr_assert_eq(ms, 951822000500LL);
    cr_assert(time_parse_rfc3339("2021-01-01", &ms));
    cr_assert_not(time_parse_rfc3339("2021-13-01T00:00:00Z", &ms));
    cr_assert_not(time_parse_rfc3339("yesterday", &ms));
    cr_assert_not(time_parse_rfc3339("2021-01-01T00:00:00Zjunk", &ms));
}

Test(test_time, formats_round_trip)
{
    char out[TIME_RFC3339_LEN];
    int64_t ms = 0;
    time_format_ms(1444513101861LL, out);
    cr_assert_str_eq(out, "2015-10-10T21:38:21.861Z");
    cr_assert(time_parse_rfc3339(out, &ms));
    cr_assert_eq(ms, 1444513101861LL);
    time_now_rfc3339(out);
    cr_assert(time_parse_rfc3339(out, &ms));
    cr_assert(ms > 1700000000000LL);
}
