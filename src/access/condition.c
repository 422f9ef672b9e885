/*
 * Grant conditions over a tool call's arguments (docs/access.md, "Conditions"). They are
 * written in the SCIM filter language and parsed by the scim module, but evaluated here, more
 * strictly than SCIM matches resources, because the upstream API reads the arguments exactly:
 *  - argument names match exactly: a condition on `amount` says nothing about `Amount`, which
 *    the upstream would take for another (or no) parameter;
 *  - strings compare exactly, byte for byte;
 *  - an argument that is absent makes a comparison false (`x eq null` and `not (...)` aside);
 *  - a comparison of an array or an object has no single meaning (SCIM's "some element" would
 *    let `amount le 50000` hold for [1, 99999999]): it is an error, and so is a path into
 *    something that is not an object, or a schema URN (arguments have none);
 *  - `attr[filter]` holds when some element of the array attr satisfies filter; an element
 *    that is not an object stands for {"value": element}, so `labels[value eq "x"]` works on
 *    an array of strings;
 *  - an error anywhere makes the whole condition an error, which denies, whatever and, or and
 *    not would have made of it: no rewriting of a condition turns an error into a permission.
 */
#include "access/access_int.h"

#include <math.h>
#include <string.h>

/* The argument that path names in obj: *v NULL when absent. False on an error. */
static bool resolve(const json_t *obj, const struct filter_path *path, const json_t **v)
{
    const json_t *x;

    *v = NULL;
    if (path->urn)
        return false;
    x = json_object_get(obj, path->attr);
    if (!x || !path->sub) {
        *v = x;
        return true;
    }
    if (json_is_null(x))
        return true; /* an absent object: its member is absent too */
    if (!json_is_object(x))
        return false;
    *v = json_object_get(x, path->sub);
    return true;
}

static enum access_cond_result compare_str(enum filter_op op, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int c = strcmp(a, b);
    bool r;

    switch (op) {
    case FOP_EQ:
        r = c == 0;
        break;
    case FOP_NE:
        r = c != 0;
        break;
    case FOP_CO:
        r = strstr(a, b) != NULL;
        break;
    case FOP_SW:
        r = strncmp(a, b, lb) == 0;
        break;
    case FOP_EW:
        r = la >= lb && memcmp(a + la - lb, b, lb) == 0;
        break;
    case FOP_GT:
        r = c > 0;
        break;
    case FOP_GE:
        r = c >= 0;
        break;
    case FOP_LT:
        r = c < 0;
        break;
    case FOP_LE:
        r = c <= 0;
        break;
    default:
        r = false;
    }
    return r ? ACCESS_COND_TRUE : ACCESS_COND_FALSE;
}

static enum access_cond_result compare_num(enum filter_op op, double a, double b)
{
    bool r;

    if (isnan(a) || isnan(b))
        return ACCESS_COND_ERROR;
    switch (op) {
    case FOP_EQ:
        r = a == b;
        break;
    case FOP_NE:
        r = a != b;
        break;
    case FOP_GT:
        r = a > b;
        break;
    case FOP_GE:
        r = a >= b;
        break;
    case FOP_LT:
        r = a < b;
        break;
    case FOP_LE:
        r = a <= b;
        break;
    default: /* co, sw, ew have no meaning for numbers */
        r = false;
    }
    return r ? ACCESS_COND_TRUE : ACCESS_COND_FALSE;
}

static enum access_cond_result compare(const struct filter_node *f, const json_t *v)
{
    const struct filter_value *want = &f->value;

    if (f->op == FOP_PR) {
        if (json_is_array(v))
            return json_array_size(v) ? ACCESS_COND_TRUE : ACCESS_COND_FALSE;
        if (json_is_object(v))
            return json_object_size(v) ? ACCESS_COND_TRUE : ACCESS_COND_FALSE;
        if (json_is_string(v))
            return json_string_length(v) ? ACCESS_COND_TRUE : ACCESS_COND_FALSE;
        return v && !json_is_null(v) ? ACCESS_COND_TRUE : ACCESS_COND_FALSE;
    }
    if (want->type == FVAL_NULL) {
        bool absent = !v || json_is_null(v);
        if (f->op == FOP_EQ)
            return absent ? ACCESS_COND_TRUE : ACCESS_COND_FALSE;
        if (f->op == FOP_NE)
            return absent ? ACCESS_COND_FALSE : ACCESS_COND_TRUE;
        return ACCESS_COND_FALSE;
    }
    if (!v || json_is_null(v))
        return ACCESS_COND_FALSE;
    if (json_is_array(v) || json_is_object(v))
        return ACCESS_COND_ERROR;
    switch (want->type) {
    case FVAL_STRING:
        return json_is_string(v) ? compare_str(f->op, json_string_value(v), want->str)
                                 : ACCESS_COND_FALSE;
    case FVAL_NUMBER:
        return json_is_number(v) ? compare_num(f->op, json_number_value(v), want->num)
                                 : ACCESS_COND_FALSE;
    case FVAL_BOOL:
        if (!json_is_boolean(v) || (f->op != FOP_EQ && f->op != FOP_NE))
            return ACCESS_COND_FALSE;
        return (json_is_true(v) == want->b) == (f->op == FOP_EQ) ? ACCESS_COND_TRUE
                                                                 : ACCESS_COND_FALSE;
    default:
        return ACCESS_COND_FALSE;
    }
}

static enum access_cond_result any_element(const struct filter_node *f, const json_t *arr)
{
    enum access_cond_result r = ACCESS_COND_FALSE;
    size_t i;
    json_t *el;

    json_array_foreach(arr, i, el)
    {
        enum access_cond_result x;
        if (json_is_object(el)) {
            x = access_condition_eval(f->inner, el);
        } else {
            json_t *wrap = json_object();
            if (!wrap || json_object_set(wrap, "value", el)) {
                json_decref(wrap);
                return ACCESS_COND_ERROR;
            }
            x = access_condition_eval(f->inner, wrap);
            json_decref(wrap);
        }
        if (x == ACCESS_COND_ERROR)
            return ACCESS_COND_ERROR;
        if (x == ACCESS_COND_TRUE)
            r = ACCESS_COND_TRUE;
    }
    return r;
}

enum access_cond_result access_condition_eval(const struct filter_node *f, const json_t *obj)
{
    enum access_cond_result l, r;
    const json_t *v;

    if (!f || !json_is_object(obj))
        return ACCESS_COND_ERROR;
    switch (f->kind) {
    case FILTER_AND:
    case FILTER_OR:
        /* Both sides always: an error on the side that would not decide still counts. */
        l = access_condition_eval(f->left, obj);
        r = access_condition_eval(f->right, obj);
        if (l == ACCESS_COND_ERROR || r == ACCESS_COND_ERROR)
            return ACCESS_COND_ERROR;
        if (f->kind == FILTER_AND)
            return l == ACCESS_COND_TRUE && r == ACCESS_COND_TRUE ? ACCESS_COND_TRUE
                                                                  : ACCESS_COND_FALSE;
        return l == ACCESS_COND_TRUE || r == ACCESS_COND_TRUE ? ACCESS_COND_TRUE
                                                              : ACCESS_COND_FALSE;
    case FILTER_NOT:
        l = access_condition_eval(f->left, obj);
        if (l == ACCESS_COND_ERROR)
            return l;
        return l == ACCESS_COND_TRUE ? ACCESS_COND_FALSE : ACCESS_COND_TRUE;
    case FILTER_CMP:
        if (!resolve(obj, &f->path, &v))
            return ACCESS_COND_ERROR;
        return compare(f, v);
    case FILTER_VALPATH:
        if (!resolve(obj, &f->path, &v))
            return ACCESS_COND_ERROR;
        if (!v || json_is_null(v))
            return ACCESS_COND_FALSE;
        if (!json_is_array(v))
            return ACCESS_COND_ERROR;
        return any_element(f, v);
    }
    return ACCESS_COND_ERROR;
}
