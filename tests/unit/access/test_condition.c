/*
 * Grant conditions over tool arguments (condition.c): a table of condition, arguments and the
 * expected result, written for what an upstream API would read, including the cases where
 * SCIM's resource matching (case-insensitive names, "some element of an array") would allow
 * what the upstream sees differently.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "access/access.h"
#include "core/json.h"
#include "scim/filter.h"

#define T ACCESS_COND_TRUE
#define F ACCESS_COND_FALSE
#define E ACCESS_COND_ERROR

static const struct {
    const char *cond;
    const char *args;
    enum access_cond_result want;
} cases[] = {
    /* numbers */
    {"amount le 50000", "{\"amount\": 1200}", T},
    {"amount le 50000", "{\"amount\": 50000}", T},
    {"amount le 50000", "{\"amount\": 50001}", F},
    {"amount le 50000", "{\"amount\": 1.5}", T},
    {"amount lt 1000", "{\"amount\": -5}", T},
    {"amount gt 10 and amount lt 20", "{\"amount\": 15}", T},
    {"amount eq 5", "{\"amount\": 5.0}", T},
    {"amount co 5", "{\"amount\": 5}", F},
    /* absent arguments make a comparison false; a name matches exactly */
    {"amount le 50000", "{}", F},
    {"amount le 50000", "{\"Amount\": 1}", F},
    {"amount ne 5", "{}", F},
    {"amount pr", "{}", F},
    {"amount pr", "{\"amount\": 0}", T},
    {"not (amount gt 500)", "{}", T},
    /* types are not coerced */
    {"amount le 50000", "{\"amount\": \"100\"}", F},
    {"amount le 50000", "{\"amount\": true}", F},
    {"amount ne 5", "{\"amount\": \"5\"}", F},
    /* strings: exact, byte for byte */
    {"currency eq \"usd\"", "{\"currency\": \"usd\"}", T},
    {"currency eq \"usd\"", "{\"currency\": \"USD\"}", F},
    {"currency ne \"usd\"", "{\"currency\": \"eur\"}", T},
    {"repo sw \"acme/\"", "{\"repo\": \"acme/api\"}", T},
    {"repo sw \"acme/\"", "{\"repo\": \"Acme/api\"}", F},
    {"repo ew \"-docs\"", "{\"repo\": \"api-docs\"}", T},
    {"repo co \"/\"", "{\"repo\": \"a/b\"}", T},
    {"channel gt \"b\"", "{\"channel\": \"c\"}", T},
    /* booleans and null */
    {"draft eq true", "{\"draft\": true}", T},
    {"draft eq true", "{\"draft\": false}", F},
    {"draft ne true", "{\"draft\": false}", T},
    {"draft gt true", "{\"draft\": true}", F},
    {"note eq null", "{}", T},
    {"note eq null", "{\"note\": null}", T},
    {"note eq null", "{\"note\": \"x\"}", F},
    {"note ne null", "{\"note\": \"x\"}", T},
    /* arrays and objects compared directly have no single meaning: an error */
    {"amount le 50000", "{\"amount\": [1, 99999999]}", E},
    {"amount le 50000", "{\"amount\": [{\"value\": 1}]}", E},
    {"currency eq \"usd\"", "{\"currency\": [\"usd\", \"eur\"]}", E},
    {"repo sw \"acme/\"", "{\"repo\": {\"name\": \"acme/x\"}}", E},
    /* an error anywhere is an error, whatever and/or/not make of the rest */
    {"amount le 5 and currency eq \"usd\"", "{\"amount\": 9, \"currency\": [\"usd\"]}", E},
    {"amount le 5 or currency eq \"usd\"", "{\"amount\": 1, \"currency\": [\"usd\"]}", E},
    {"not (currency eq \"usd\")", "{\"currency\": [\"eur\"]}", E},
    /* sub-attributes */
    {"ticket.priority eq \"low\"", "{\"ticket\": {\"priority\": \"low\"}}", T},
    {"ticket.priority eq \"low\"", "{\"ticket\": {}}", F},
    {"ticket.priority eq \"low\"", "{}", F},
    {"ticket.priority eq \"low\"", "{\"ticket\": \"low\"}", E},
    /* value paths: some element */
    {"labels[value eq \"safe\"]", "{\"labels\": [\"x\", \"safe\"]}", T},
    {"labels[value eq \"safe\"]", "{\"labels\": [\"x\"]}", F},
    {"labels[value eq \"safe\"]", "{}", F},
    {"labels[value eq \"safe\"]", "{\"labels\": \"safe\"}", E},
    {"items[amount le 100]", "{\"items\": [{\"amount\": 5}, {\"amount\": 500}]}", T},
    {"not (items[amount gt 100])", "{\"items\": [{\"amount\": 5}, {\"amount\": 500}]}", F},
    {"items[amount le 100]", "{\"items\": [{\"amount\": [1]}]}", E},
    /* arguments have no schema URNs */
    {"urn:ietf:params:scim:schemas:core:2.0:User:amount le 5", "{\"amount\": 1}", E},
};

Test(test_condition, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct filter_node *f = NULL;
        struct md_error e = {0};
        json_t *args = NULL;

        cr_assert_eq(scim_filter_parse(cases[i].cond, strlen(cases[i].cond), &f, &e), MD_OK,
                     "%s: %s", cases[i].cond, e.msg);
        cr_assert_eq(json_parse_limited(cases[i].args, strlen(cases[i].args), 4096, 32, &args, &e),
                     MD_OK, "%s", cases[i].args);
        cr_expect_eq(access_condition_eval(f, args), cases[i].want, "case %zu: `%s` on %s", i,
                     cases[i].cond, cases[i].args);
        json_decref(args);
        scim_filter_free(f);
    }
}

Test(test_condition, arguments_that_are_not_an_object_are_an_error)
{
    struct filter_node *f = NULL;
    struct md_error e = {0};
    json_t *arr = json_array(), *str = json_string("x");

    cr_assert_eq(scim_filter_parse("amount pr", 9, &f, &e), MD_OK);
    cr_expect_eq(access_condition_eval(f, arr), ACCESS_COND_ERROR);
    cr_expect_eq(access_condition_eval(f, str), ACCESS_COND_ERROR);
    cr_expect_eq(access_condition_eval(f, NULL), ACCESS_COND_ERROR);
    cr_expect_eq(access_condition_eval(NULL, arr), ACCESS_COND_ERROR);
    json_decref(arr);
    json_decref(str);
    scim_filter_free(f);
}
