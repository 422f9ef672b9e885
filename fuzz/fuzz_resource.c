/*
 * libFuzzer driver for request bodies: the JSON parser with its limits, then the resource
 * normaliser (what a POST or PUT of a User or Group goes through) and the attribute-list parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "scim/project.h"
#include "scim/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL, *doc = NULL;
    struct md_error e;
    struct scim_attr_list *l = NULL;
    char *text;

    if (json_parse_limited((const char *)data, size, 1 << 20, 32, &body, &e) == MD_OK) {
        if (scim_resource_from_json(&scim_rtype_user, body, &doc, &e) == MD_OK)
            json_decref(doc);
        doc = NULL;
        if (scim_resource_from_json(&scim_rtype_group, body, &doc, &e) == MD_OK)
            json_decref(doc);
        json_decref(body);
    }
    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (scim_attr_list_parse(&scim_rtype_user, text, &l, &e) == MD_OK)
        scim_attr_list_free(l);
    free(text);
    return 0;
}
