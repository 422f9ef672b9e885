/*
 * libFuzzer driver for the SCIM filter parser and matcher: parse the input; when it parses,
 * check that the tree is well formed and run the matcher against a fixed user, without a
 * schema (both case modes) and with the User resource type; then free. A parse error must be
 * MD_ERR_FILTER (or MD_ERR_NOMEM) with a message; anything else aborts.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "scim/filter.h"
#include "scim/schema.h"

static const char user_json[] =
    "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\","
    " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
    " \"id\": \"2819c223\", \"externalId\": \"701984\", \"userName\": \"bjensen@example.com\","
    " \"name\": {\"formatted\": \"Ms. Barbara J Jensen, III\", \"familyName\": \"Jensen\","
    "          \"givenName\": \"Barbara\"},"
    " \"displayName\": \"Babs Jensen\", \"nickName\": \"\", \"title\": null, \"active\": true,"
    " \"logins\": 42, \"quota\": 1.5, \"tags\": [\"a\", \"b\", 3, null, [], {}],"
    " \"emails\": [{\"value\": \"bjensen@example.com\", \"type\": \"work\", \"primary\": true},"
    "              {\"value\": \"babs@jensen.org\", \"type\": \"home\"}, \"loose\", null],"
    " \"members\": [{\"value\": \"1\", \"$ref\": \"https://x/Users/1\", \"type\": \"User\"}],"
    " \"meta\": {\"resourceType\": \"User\", \"created\": \"2010-01-23T04:56:22Z\","
    "          \"lastModified\": \"2011-05-13T04:42:34Z\"},"
    " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\": {"
    "   \"employeeNumber\": \"701984\", \"manager\": {\"value\": \"26118915\"}}}";

static json_t *user;

static void check_path(const struct filter_path *p)
{
    if (!p->attr || !p->attr[0] || (p->sub && !p->sub[0]) || (p->urn && !p->urn[0]))
        abort();
}

/* Every node has what its kind promises, and nothing it does not. */
static void check_tree(const struct filter_node *f)
{
    switch (f->kind) {
    case FILTER_AND:
    case FILTER_OR:
        if (!f->left || !f->right || f->inner)
            abort();
        check_tree(f->left);
        check_tree(f->right);
        break;
    case FILTER_NOT:
        if (!f->left || f->right || f->inner)
            abort();
        check_tree(f->left);
        break;
    case FILTER_VALPATH:
        if (!f->inner || f->left || f->right)
            abort();
        check_path(&f->path);
        check_tree(f->inner);
        break;
    case FILTER_CMP:
        if (f->left || f->right || f->inner)
            abort();
        check_path(&f->path);
        if ((f->op == FOP_PR) != (f->value.type == FVAL_NONE))
            abort();
        if ((f->value.type == FVAL_STRING || f->value.type == FVAL_NUMBER) !=
            (f->value.str != NULL))
            abort();
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct filter_node *f = NULL;
    struct md_error e = {0};
    enum md_err rc;

    if (!user) {
        user = json_loads(user_json, 0, NULL);
        if (!user)
            abort();
    }
    rc = scim_filter_parse((const char *)data, size, &f, &e);
    if (rc != MD_OK) {
        if ((rc != MD_ERR_FILTER && rc != MD_ERR_NOMEM) || f || e.code != rc || !e.msg[0])
            abort();
        return 0;
    }
    if (!f)
        abort();
    check_tree(f);
    (void)scim_filter_match(f, user, NULL, false);
    (void)scim_filter_match(f, user, NULL, true);
    (void)scim_filter_match(f, user, &scim_rtype_user, false);
    (void)scim_filter_match(f, user, &scim_rtype_group, true);
    scim_filter_free(f);
    return 0;
}
