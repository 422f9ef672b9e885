/*
 * Compiles SCIM filters and sortBy for a resource type into the store's predicate tree, so
 * that the database evaluates them (on indexed columns where the attribute has one: id,
 * userName, displayName, externalId, active, meta.created, meta.lastModified; group members and
 * user groups through the membership table).
 */
#ifndef MANDATE_SCIM_QUERY_H
#define MANDATE_SCIM_QUERY_H

#include <stdbool.h>

#include "core/err.h"
#include "scim/filter.h"
#include "scim/schema.h"
#include "store/store.h"

/* Owns every node and string of a compiled predicate and sort. */
struct scim_query;

/*
 * Compiles f (may be NULL: no filter) for rt. An attribute rt does not know, or an operator
 * that its type does not support (e.g. gt on a boolean, co on a complex without value), gives
 * MD_ERR_FILTER with a message. String comparison follows each attribute's caseExact;
 * dateTime attributes compare as times, booleans accept "true"/"false" strings.
 */
enum md_err scim_query_compile(const struct scim_rtype *rt, const struct filter_node *f,
                               struct scim_query **out, struct md_error *e);

/*
 * Sets the sort from a sortBy attribute path and sortOrder ("ascending", "descending", or NULL
 * for ascending). An unknown attribute gives MD_ERR_VALUE (invalidValue).
 */
enum md_err scim_query_sort(struct scim_query *q, const struct scim_rtype *rt, const char *sort_by,
                            const char *sort_order, struct md_error *e);

/* Borrowed views, valid until scim_query_free; where may be NULL, sort may be NULL. */
const struct store_pred *scim_query_where(const struct scim_query *q);
const struct store_sort *scim_query_sort_spec(const struct scim_query *q);

void scim_query_free(struct scim_query *q);

#endif
