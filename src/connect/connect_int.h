/*
 * What the connector runtime's files share with one another and with nobody else. Names here
 * are connect__*; the module's interface is in connect.h and the other public headers of
 * src/connect/.
 */
#ifndef MANDATE_CONNECT_CONNECT_INT_H
#define MANDATE_CONNECT_CONNECT_INT_H

#include <jansson.h>
#include <regex.h>
#include <stddef.h>

#include "core/err.h"

/*
 * pattern.c: compiles the ECMA-262 pattern pat (a JSON string, borrowed) into re, translated
 * to a POSIX extended regular expression (REG_EXTENDED | REG_NOSUB) as schema.h specifies.
 * On MD_OK the caller owns re and releases it with regfree. MD_ERR_VALUE when the pattern is
 * refused, with a reason in why (why_len bytes, NUL-terminated, no pattern text in it);
 * MD_ERR_NOMEM when memory runs out. On error re is not to be freed.
 */
enum md_err connect__pattern_compile(const json_t *pat, regex_t *re, char *why, size_t why_len);

#endif
