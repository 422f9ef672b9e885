/*
 * What the connector runtime's files share with one another and with nobody else. Names here
 * are connect__*; the module's interface is in connect.h and the other public headers of
 * src/connect/.
 */
#ifndef MANDATE_CONNECT_CONNECT_INT_H
#define MANDATE_CONNECT_CONNECT_INT_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/str.h"

/*
 * pattern.c: compiles the ECMA-262 pattern pat (a JSON string, borrowed) into re, translated
 * to a POSIX extended regular expression (REG_EXTENDED | REG_NOSUB) as schema.h specifies.
 * On MD_OK the caller owns re and releases it with regfree. MD_ERR_VALUE when the pattern is
 * refused, with a reason in why (why_len bytes, NUL-terminated, no pattern text in it);
 * MD_ERR_NOMEM when memory runs out. On error re is not to be freed.
 */
enum md_err connect__pattern_compile(const json_t *pat, regex_t *re, char *why, size_t why_len);

/*
 * locate.c: JSON Pointers (RFC 6901) into an upstream's answer.
 *
 * A pointer is "" (the whole document) or a sequence of "/"-prefixed reference tokens in which
 * '~' appears only as "~0" ('~') or "~1" ('/'), at most CONNECT__POINTER_MAX bytes.
 *
 * Into JSON (connect__json_at), RFC 6901 section 4: a token names an object's member, or an
 * array's element by its index ("0", or digits without a leading zero). Into XML
 * (connect__xml_at), a token names an element: the first names the root element, each later one
 * the first child element of that name of the element before (names compared as written,
 * prefix included); "" is the root element. The element's text is all the character data
 * inside it, its descendants' included, in document order, with the predefined entities (&lt;
 * &gt; &amp; &quot; &apos;) and character references decoded (an unknown reference stays as
 * written) and CDATA sections as they are.
 */
#define CONNECT__POINTER_MAX 256
#define CONNECT__XML_DEPTH 64              /* elements open at once; path segments */
#define CONNECT__XML_MAX ((size_t)8 << 20) /* bytes of a document that is read at all */

/* Whether p (n bytes) is a JSON Pointer of at most CONNECT__POINTER_MAX bytes without NUL. */
bool connect__pointer_ok(const char *p, size_t n);

/* The value at pointer p (NUL-terminated) in doc, borrowed from doc; NULL when there is none. */
const json_t *connect__json_at(const json_t *doc, const char *p);

/*
 * Appends to out the text of the element at pointer p in the XML document doc[0..len), and
 * says whether there is such an element. False, with nothing promised about out, when there is
 * none, when p is not a pointer, and when the document cannot be read as far as the element:
 * malformed, more than CONNECT__XML_DEPTH elements deep, over CONNECT__XML_MAX bytes, or with
 * a DOCTYPE (never read, so that no entity is ever defined or expanded).
 */
bool connect__xml_at(const char *doc, size_t len, const char *p, struct buf *out);

#endif
