#include <criterion/criterion.h>
#include <string.h>

#include "core/err.h"

Test(test_err, maps_codes_to_http_and_scim)
{
    cr_assert_eq(md_err_http_status(MD_ERR_FILTER), 400);
    cr_assert_str_eq(md_err_scim_type(MD_ERR_FILTER), "invalidFilter");
    cr_assert_eq(md_err_http_status(MD_ERR_UNIQUENESS), 409);
    cr_assert_str_eq(md_err_scim_type(MD_ERR_UNIQUENESS), "uniqueness");
    cr_assert_eq(md_err_http_status(MD_ERR_PRECONDITION), 412);
    cr_assert_eq(md_err_http_status(MD_ERR_TOOLARGE), 413);
    cr_assert_str_eq(md_err_scim_type(MD_ERR_NOTARGET), "noTarget");
    cr_assert_null(md_err_scim_type(MD_ERR_NOTFOUND));
    cr_assert_eq(md_err_http_status(MD_ERR_IO), 500);
    cr_assert_eq(md_err_http_status(MD_ERR_UNAVAILABLE), 503);
}

Test(test_err, error_set_formats_and_returns_code)
{
    struct md_error e;
    md_error_clear(&e);
    cr_assert_eq(md_error_set(&e, MD_ERR_PATH, "bad path at %d", 7), MD_ERR_PATH);
    cr_assert_eq(e.code, MD_ERR_PATH);
    cr_assert_str_eq(e.msg, "bad path at 7");
    cr_assert_str_eq(md_err_name(MD_ERR_PATH), "MD_ERR_PATH");
    cr_assert_eq(md_error_set(NULL, MD_ERR_VALUE, "x"), MD_ERR_VALUE);
}
