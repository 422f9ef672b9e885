#include <criterion/criterion.h>
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
