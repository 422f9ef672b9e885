/*
 * The discovery endpoints (RFC 7644 section 4): /ServiceProviderConfig, /ResourceTypes and
 * /Schemas, generated from the same schema tables that the server enforces, so that they
 * describe exactly what is supported.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scim/scim_int.h"

static json_t *service_provider_config(struct scim_ctx *x)
{
    char loc[700];
    snprintf(loc, sizeof loc, "%s/ServiceProviderConfig", x->req->base_url);
    return json_pack(
        "{s:[s], s:{s:b}, s:{s:b, s:I, s:I}, s:{s:b, s:I}, s:{s:b}, s:{s:b}, s:{s:b},"
        " s:[{s:s, s:s, s:s, s:b}], s:{s:s, s:s}}",
        "schemas", SCIM_URN_SPC, "patch", "supported", 1, "bulk", "supported", 1, "maxOperations",
        (json_int_t)x->limits->max_bulk_ops, "maxPayloadSize",
        (json_int_t)x->limits->max_bulk_payload, "filter", "supported", 1, "maxResults",
        (json_int_t)x->limits->max_results, "changePassword", "supported", 0, "sort", "supported",
        1, "etag", "supported", 1, "authenticationSchemes", "type", "oauthbearertoken", "name",
        "OAuth Bearer Token", "description",
        "A SCIM bearer token created with `mandate token create --kind scim`", "primary", 1, "meta",
        "resourceType", "ServiceProviderConfig", "location", loc);
}

static json_t *list_of(json_t *resources)
{
    size_t n = json_array_size(resources);
    return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_URN_LIST, "totalResults",
                     (json_int_t)n, "itemsPerPage", (json_int_t)n, "startIndex", (json_int_t)1,
                     "Resources", resources);
}

static void not_found(struct scim_ctx *x, const char *what, const char *id)
{
    md_error_set(&x->err, MD_ERR_NOTFOUND, "%s %.200s not found", what, id);
    scim_fail(x, MD_ERR_NOTFOUND);
}

void scim_discovery_handle(struct scim_ctx *x, const char *endpoint, const char *id)
{
    const char *base = x->req->base_url;
    json_t *arr;

    if (strcasecmp(endpoint, "ServiceProviderConfig") == 0) {
        if (id) {
            not_found(x, "endpoint", id);
            return;
        }
        scim_reply(x, 200, service_provider_config(x));
        return;
    }
    if (strcasecmp(endpoint, "ResourceTypes") == 0) {
        for (int i = 0; scim_rtypes[i]; i++) {
            if (id && strcasecmp(id, scim_rtypes[i]->id) == 0) {
                scim_reply(x, 200, scim_rtype_to_json(scim_rtypes[i], base));
                return;
            }
        }
        if (id) {
            not_found(x, "ResourceType", id);
            return;
        }
        arr = json_array();
        for (int i = 0; scim_rtypes[i]; i++)
            json_array_append_new(arr, scim_rtype_to_json(scim_rtypes[i], base));
        scim_reply(x, 200, list_of(arr));
        return;
    }
    for (int i = 0; scim_schemas[i]; i++) {
        if (id && strcasecmp(id, scim_schemas[i]->id) == 0) {
            scim_reply(x, 200, scim_schema_to_json(scim_schemas[i], base));
            return;
        }
    }
    if (id) {
        not_found(x, "Schema", id);
        return;
    }
    arr = json_array();
    for (int i = 0; scim_schemas[i]; i++)
        json_array_append_new(arr, scim_schema_to_json(scim_schemas[i], base));
    scim_reply(x, 200, list_of(arr));
}
