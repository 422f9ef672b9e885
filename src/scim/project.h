/*
 * Projection of a resource for a response (RFC 7644 section 3.9): "attributes" and
 * "excludedAttributes", with each attribute's "returned" characteristic as RFC 7643 declares
 * it: always (id, and "schemas") survives both, never (password) is never returned, request
 * only when named in "attributes".
 */
#ifndef MANDATE_SCIM_PROJECT_H
#define MANDATE_SCIM_PROJECT_H

#include <jansson.h>

#include "core/err.h"
#include "scim/schema.h"

/* A parsed attributes or excludedAttributes list; opaque. */
struct scim_attr_list;

/*
 * Parses a comma-separated list of attribute paths (e.g. "userName,name.givenName,
 * urn:...:enterprise:2.0:User:manager", or Microsoft's `emails[type eq "work"]`, whose bracket
 * is accepted and read as the attribute emails). Unknown attributes are ignored, as RFC 7644
 * lets a server do. NULL or "" gives *out = NULL (no list).
 */
enum md_err scim_attr_list_parse(const struct scim_rtype *rt, const char *text,
                                 struct scim_attr_list **out, struct md_error *e);
void scim_attr_list_free(struct scim_attr_list *l);

/* True when the list names attr (or one of its sub-attributes): tells a handler whether it
 * must load an expensive attribute such as a group's members. A NULL list names nothing. */
bool scim_attr_list_names(const struct scim_attr_list *l, const char *attr);
/* True when the list names attr itself, not only some of its sub-attributes. */
bool scim_attr_list_names_whole(const struct scim_attr_list *l, const char *attr);

/*
 * Projects the full resource representation res (with id, meta, schemas, and members or groups)
 * in place: when attrs is not NULL only the attributes it names and the returned=always ones
 * stay; otherwise the ones excluded names go (except returned=always); returned=never
 * attributes always go, returned=request ones unless attrs names them. Applies within
 * extension objects under their URN and within complex attributes. An extension object left
 * empty is removed, and its URN with it from "schemas".
 */
void scim_project(const struct scim_rtype *rt, json_t *res, const struct scim_attr_list *attrs,
                  const struct scim_attr_list *excluded);

#endif
