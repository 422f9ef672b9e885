/*
 * libFuzzer driver for SCIM PATCH paths: parse the input; when it parses, check the result's
 * shape and run its filter, if any, over the elements of a small multi-valued attribute, as
 * the PATCH engine does; then free. A parse error must be MD_ERR_PATH (or MD_ERR_NOMEM) with
 * a message; anything else aborts.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "scim/filter.h"
#include "scim/schema.h"

static const char emails_json[] =
    "[{\"value\": \"bjensen@example.com\", \"type\": \"work\", \"primary\": true},"
    " {\"value\": \"babs@jensen.org\", \"type\": \"home\", \"display\": \"Babs\"},"
    " {\"value\": \"2819c223\", \"$ref\": \"https://x/Users/2819c223\", \"type\": \"User\"}]";

static json_t *emails;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scim_patch_path *p = NULL;
    struct md_error e = {0};
    enum md_err rc;
    size_t i;
    json_t *el;

    if (!emails) {
        emails = json_loads(emails_json, 0, NULL);
        if (!emails)
            abort();
    }
    rc = scim_patch_path_parse((const char *)data, size, &p, &e);
    if (rc != MD_OK) {
        if ((rc != MD_ERR_PATH && rc != MD_ERR_NOMEM) || p || e.code != rc || !e.msg[0])
            abort();
        return 0;
    }
    if (!p || !p->path.attr || !p->path.attr[0])
        abort();
    /* A sub-attribute after "]" needs a filter, and excludes one before it. */
    if (p->sub_after && (!p->filter || p->path.sub || !p->sub_after[0]))
        abort();
    if (p->filter) {
        json_array_foreach(emails, i, el)
        {
            (void)scim_filter_match(p->filter, el, NULL, false);
            (void)scim_filter_match(p->filter, el, &scim_rtype_user, true);
        }
    }
    scim_patch_path_free(p);
    return 0;
}
