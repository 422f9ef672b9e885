/*
 * The SCIM filter language of RFC 7644 section 3.4.2.2, and PATCH paths (section 3.5.2):
 * one parser, shared by the SCIM endpoints, the access model (conditions over tool arguments)
 * and the audit log (queries over events). Parsing knows no schema; the in-memory matcher can
 * be given one to honour caseExact.
 *
 * Grammar accepted (case-insensitive operators and attribute names):
 *   FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")" / "(" FILTER ")"
 *   attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
 *   compValue = false / null / true / number / string / bareword
 *   attrPath  = [URN ":"] ATTRNAME *1subAttr
 * "and" binds tighter than "or"; "not" applies to a parenthesised filter. A bareword value
 * (Microsoft's `userName sw O`, `meta.created gt 2015-10-10T14:38:21Z`) is taken as a string.
 */
#ifndef MANDATE_SCIM_FILTER_H
#define MANDATE_SCIM_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "scim/schema.h"

#define SCIM_FILTER_MAX_LEN 4096 /* bytes of filter text */
#define SCIM_FILTER_MAX_DEPTH 32 /* nesting of parentheses, not, and brackets */

enum filter_kind {
    FILTER_AND,     /* left and right */
    FILTER_OR,      /* left and right */
    FILTER_NOT,     /* left */
    FILTER_CMP,     /* path op value */
    FILTER_VALPATH, /* path[inner]: some element of the multi-valued path matches inner */
};

enum filter_op { FOP_EQ, FOP_NE, FOP_CO, FOP_SW, FOP_EW, FOP_PR, FOP_GT, FOP_GE, FOP_LT, FOP_LE };

enum filter_vtype { FVAL_NONE /* pr */, FVAL_STRING, FVAL_NUMBER, FVAL_BOOL, FVAL_NULL };

/* An attribute path. urn is the schema URN prefix when written; sub may be NULL. */
struct filter_path {
    char *urn;
    char *attr;
    char *sub;
};

struct filter_value {
    enum filter_vtype type;
    char *str;  /* FVAL_STRING: unescaped text; FVAL_NUMBER: the literal as written */
    double num; /* FVAL_NUMBER */
    bool b;     /* FVAL_BOOL */
};

struct filter_node {
    enum filter_kind kind;
    struct filter_node *left, *right; /* AND, OR; NOT uses left */
    struct filter_path path;          /* CMP, VALPATH */
    enum filter_op op;                /* CMP */
    struct filter_value value;        /* CMP */
    struct filter_node *inner;        /* VALPATH: paths inside are relative to the element */
};

/*
 * Parses len bytes of filter text into a new tree (*out, freed with scim_filter_free).
 * Errors: MD_ERR_FILTER with e->msg naming the offset and what was expected; MD_ERR_FILTER also
 * when longer than SCIM_FILTER_MAX_LEN or deeper than SCIM_FILTER_MAX_DEPTH.
 */
enum md_err scim_filter_parse(const char *text, size_t len, struct filter_node **out,
                              struct md_error *e);
void scim_filter_free(struct filter_node *f);

/* The operator's lowercase name ("eq"). */
const char *scim_filter_op_name(enum filter_op op);

/*
 * A PATCH path: attrPath, or valuePath optionally followed by ".subAttr"
 * (`emails[type eq "work"].value`), or a URN-qualified attribute.
 *   path: the attribute; filter: the bracketed filter or NULL; sub_after: the sub-attribute
 *   after the bracket or NULL (then path.sub is NULL).
 */
struct scim_patch_path {
    struct filter_path path;
    struct filter_node *filter;
    char *sub_after;
};

/* Parses a PATCH path. Errors: MD_ERR_PATH with a message. Free with scim_patch_path_free. */
enum md_err scim_patch_path_parse(const char *text, size_t len, struct scim_patch_path **out,
                                  struct md_error *e);
void scim_patch_path_free(struct scim_patch_path *p);

/*
 * Does the JSON value obj (an object) satisfy f? Attribute names are looked up
 * case-insensitively. When rt is not NULL, attributes are resolved against it so that string
 * comparison honours caseExact (and a dateTime compares as a time); when rt is NULL, or for
 * an attribute it does not know, strings compare case-insensitively when case_exact_default is
 * false. A comparison of a multi-valued attribute holds when it holds for some element (for
 * complex elements, their "value" sub-attribute). Comparisons of mismatched types are false;
 * gt/ge/lt/le on booleans are false.
 * scope: for paths inside a VALPATH, the element is the object; the matcher handles that itself.
 */
bool scim_filter_match(const struct filter_node *f, const json_t *obj, const struct scim_rtype *rt,
                       bool case_exact_default);

#endif
