/*
 * The PATCH engine (RFC 7644 section 3.5.2): add, replace and remove, with and without path,
 * value-path filters, sub-attributes after a filter, extension-URN paths, and pathless values
 * whose keys are dotted or URN-qualified. Operation names are case-insensitive (Entra ID sends
 * "Replace", "Add", "Remove").
 *
 * The engine works on the stored document (scim_resource_from_json's form). A group's members
 * live in a table, so operations on "members" go to callbacks that the caller implements
 * inside its database transaction. Atomicity is the caller's: apply to a copy of the document
 * in a transaction, and on error discard the copy and roll back.
 */
#ifndef MANDATE_SCIM_PATCH_H
#define MANDATE_SCIM_PATCH_H

#include <jansson.h>

#include "core/err.h"
#include "scim/filter.h"
#include "scim/schema.h"

#define SCIM_PATCH_MAX_OPS 1000

/* Operations on a group's members. values are arrays of {"value", "display"?, "type"?}. */
struct scim_patch_members {
    /* add: each member in values (already-present members are not an error). */
    enum md_err (*add)(void *ctx, const json_t *values, struct md_error *e);
    /* remove the members matching filter (over the member objects); NULL filter: every one. */
    enum md_err (*remove)(void *ctx, const struct filter_node *filter, struct md_error *e);
    /* remove each member named by "value" in values (Entra ID's remove with a value array). */
    enum md_err (*remove_values)(void *ctx, const json_t *values, struct md_error *e);
    /* replace the whole member list with values. */
    enum md_err (*replace)(void *ctx, const json_t *values, struct md_error *e);
    void *ctx;
};

/*
 * Applies the PatchOp body to doc in place. members is NULL for resource types without a
 * members table. Errors, each with a message naming the operation index:
 *   MD_ERR_SYNTAX   the body is not a PatchOp (schemas, Operations) or an op is malformed
 *   MD_ERR_PATH     a path that does not parse or names no attribute of rt
 *   MD_ERR_NOTARGET remove without a path, or a filter path that must match and does not
 *   MD_ERR_VALUE    a value of the wrong shape for its attribute
 *   MD_ERR_MUTABILITY a change to a readOnly or immutable attribute (id, meta, groups ...)
 *   MD_ERR_TOOMANY  more than SCIM_PATCH_MAX_OPS operations
 * and whatever a members callback returns.
 */
enum md_err scim_patch_apply(const struct scim_rtype *rt, json_t *doc, const json_t *body,
                             const struct scim_patch_members *members, struct md_error *e);

#endif
