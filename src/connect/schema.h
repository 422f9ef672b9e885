/*
 * Tool arguments against a tool's input_schema, so that no request that the schema forbids is
 * ever sent upstream.
 *
 * The dialect is JSON Schema 2020-12, its validation vocabulary and the annotations that carry
 * no assertion. Supported keywords, with 2020-12 semantics unless said otherwise:
 *
 *   type (a name or an array of unique names: object, array, string, integer, number, boolean,
 *   null; a number with a zero fractional part is an integer), enum, const,
 *   minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers, not draft-04 booleans),
 *   multipleOf, minLength, maxLength (in Unicode code points), pattern, minItems, maxItems,
 *   uniqueItems, items (one schema: the array form is prefixItems, which is not supported),
 *   properties, required, additionalProperties, minProperties, maxProperties,
 *   allOf, anyOf, oneOf, not,
 *   and the annotations format (accepted and not asserted), title, description, default,
 *   examples, deprecated, readOnly, writeOnly, contentMediaType, $comment, $id, and $schema
 *   (which must name 2020-12: other dialects give keywords other meanings).
 *
 * Any other keyword ($ref, $defs, prefixItems, patternProperties, if/then/else, ...) makes
 * the schema invalid: a connector that relies on one is refused when it is loaded instead of
 * being silently left unchecked. A subschema may be true or false, as 2020-12 allows.
 * Equality (enum, const, uniqueItems) is JSON Schema's: 1 and 1.0 are equal, object key order
 * does not matter.
 *
 * pattern is ECMA-262 in the schema and is translated to a POSIX extended regular expression
 * (regcomp REG_EXTENDED|REG_NOSUB, unanchored search, as ECMA-262 searches). The translation
 * keeps the meaning for: literals and escaped punctuation, ., ^, $, |, groups, (?:...) and
 * named groups (captures do not matter without back-references), the quantifiers * + ? {n}
 * {n,} {n,m} (lazy forms match the same strings), bracket expressions with ranges and
 * negation, \d \D \w \W \s \S \b \B, \t \n \r \v \f, \xHH and \uHHHH below U+0080. '.' and
 * negated classes match one whole UTF-8 code point. Approximations: \s and \S know ASCII
 * white space only; '.' does not exclude U+2028 and U+2029. Refused (the schema is
 * invalid): lookaround, back-references, \p{...}, \cX, non-ASCII characters inside [...],
 * non-ASCII \x/\u escapes, quantifier bounds over 1,000, patterns over 256 bytes, patterns
 * whose repetitions expand beyond 1,000 atoms, and regcomp's own refusals. The translation
 * assumes the C locale (mandate never calls setlocale); in a multibyte locale every pattern
 * is refused. A string argument over 64 KiB, or one holding U+0000, never matches a pattern
 * (the check is refused rather than approximated).
 *
 * Limits, so that hostile input cannot exhaust the stack or the CPU: schemas nest at most 32
 * subschemas deep, argument values at most 32 containers deep (the arguments object is the
 * first), and const, enum, default and examples values at most 32 deep as well; one
 * validation does at most a few million steps.
 */
#ifndef MANDATE_CONNECT_SCHEMA_H
#define MANDATE_CONNECT_SCHEMA_H

#include <jansson.h>

#include "core/err.h"

#define CONNECT_SCHEMA_MAX_DEPTH 32
#define CONNECT_SCHEMA_PATTERN_MAX 256 /* bytes of one pattern */

/*
 * Checks that schema (borrowed) uses only the supported keywords, recursively, with well-formed
 * values. MD_OK, or MD_ERR_VALUE with e->msg naming the JSON pointer of the offending place,
 * e.g. "/properties/amount/minimum: must be a number" or "/properties/x/$ref: unsupported
 * keyword". MD_ERR_NOMEM when memory runs out.
 */
enum md_err connect_schema_check(const json_t *schema, struct md_error *e);

/*
 * Validates args (a JSON object; NULL means {}) against schema, both borrowed. MD_OK, or
 * MD_ERR_VALUE with a sentence for the agent that names the argument path (JavaScript-like:
 * page.limit, items[2].price; "arguments" for the whole) and the rule, e.g.
 * "amount: must be at most 50000", "owner: required",
 * "colour: unknown argument (additionalProperties is false)". Only the first failure is told,
 * in at most 255 bytes of valid UTF-8. The keywords of one schema are tried in a fixed order:
 * type, const, enum, the numeric, string, array and object keywords, allOf, anyOf, oneOf, not;
 * an object's properties in the order of the arguments.
 *
 * The schema is checked with connect_schema_check first, so that an unsupported keyword can
 * never be skipped: a schema that fails the check gives MD_ERR_INTERNAL ("the tool's
 * input_schema is invalid: ..."), which is the admin's error, not the agent's.
 * MD_ERR_NOMEM when memory runs out.
 */
enum md_err connect_schema_validate(const json_t *schema, const json_t *args, struct md_error *e);

#endif
