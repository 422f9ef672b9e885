/*
 * Places in an upstream's answer named by a JSON Pointer (RFC 6901), in a JSON body or in an
 * XML one: what a connector's response rules read (docs/connectors.md, "Errors in a 2xx
 * answer" and "Error messages"). connect_int.h is the specification; the comments here say why.
 *
 * The XML reader is deliberately small. It reads the element structure of a well-formed
 * document (the prolog, comments, processing instructions, CDATA sections, the five predefined
 * entities and character references) and nothing else: a document with a DOCTYPE is not read at
 * all, so that no entity is ever defined or expanded (no "billion laughs"), and nothing outside
 * the document is ever fetched.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect_int.h"
#include "core/str.h"

/* ---- JSON Pointer --------------------------------------------------------------------- */

bool connect__pointer_ok(const char *p, size_t n)
{
    if (!p || n > CONNECT__POINTER_MAX || strlen(p) != n)
        return false;
    if (n == 0)
        return true;
    if (p[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '~' && (i + 1 >= n || (p[i + 1] != '0' && p[i + 1] != '1')))
            return false;
    }
    return true;
}

/*
 * The next reference token of pointer p from *i (just after a '/'), unescaped into tok (room
 * for CONNECT__POINTER_MAX + 1 bytes); *i moves past it. Its length.
 */
static size_t next_token(const char *p, size_t *i, char *tok)
{
    size_t k = 0;
    while (p[*i] && p[*i] != '/') {
        if (p[*i] == '~') {
            tok[k++] = p[*i + 1] == '1' ? '/' : '~';
            *i += 2;
        } else {
            tok[k++] = p[(*i)++];
        }
    }
    tok[k] = '\0';
    return k;
}

/* RFC 6901 section 4: an array index is "0" or digits without a leading zero. */
static bool array_index(const char *tok, size_t n, size_t *out)
{
    size_t v = 0;
    if (n == 0 || n > 9 || (n > 1 && tok[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return false;
        v = v * 10 + (size_t)(tok[i] - '0');
    }
    *out = v;
    return true;
}

const json_t *connect__json_at(const json_t *doc, const char *p)
{
    char tok[CONNECT__POINTER_MAX + 1];
    size_t i = 0;

    if (!p || !connect__pointer_ok(p, strlen(p)))
        return NULL;
    while (doc && p[i] == '/') {
        size_t n, idx;
        i++;
        n = next_token(p, &i, tok);
        if (json_is_object(doc))
            doc = json_object_getn(doc, tok, n);
        else if (json_is_array(doc) && array_index(tok, n, &idx))
            doc = json_array_get(doc, idx);
        else
            doc = NULL;
    }
    return doc;
}

/* ---- XML -------------------------------------------------------------------------------- */

enum xtok { XT_START, XT_EMPTY, XT_END, XT_TEXT, XT_CDATA, XT_EOF, XT_ERROR };

struct xscan {
    const char *p;
    size_t n, i;
    /* The current token: an element's name, or a run of text or CDATA (raw, undecoded). */
    struct slice name, text;
};

static bool is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Moves past the first occurrence of the ASCII marker at or after s->i; false without one. */
static bool skip_past(struct xscan *s, const char *marker)
{
    size_t k = strlen(marker);
    const char *hit = k <= s->n - s->i ? memmem(s->p + s->i, s->n - s->i, marker, k) : NULL;
    if (!hit)
        return false;
    s->i = (size_t)(hit - s->p) + k;
    return true;
}

static bool starts(const struct xscan *s, const char *lit)
{
    size_t k = strlen(lit);
    return s->n - s->i >= k && memcmp(s->p + s->i, lit, k) == 0;
}

/* A start or end tag's name at s->i (no white space, '/', '>' or '=' in it). */
static bool tag_name(struct xscan *s)
{
    size_t b = s->i;
    while (s->i < s->n && !is_xml_space(s->p[s->i]) && !strchr("/>=<\"'", s->p[s->i]))
        s->i++;
    s->name.p = s->p + b;
    s->name.len = s->i - b;
    return s->name.len > 0;
}

/* The rest of a start tag after its name: attributes (quoted values may hold '>'), then '>'. */
static enum xtok tag_rest(struct xscan *s)
{
    while (s->i < s->n) {
        char c = s->p[s->i];
        if (c == '"' || c == '\'') {
            const char *q = memchr(s->p + s->i + 1, c, s->n - s->i - 1);
            if (!q)
                return XT_ERROR;
            s->i = (size_t)(q - s->p) + 1;
        } else if (c == '>') {
            s->i++;
            return XT_START;
        } else if (c == '/' && s->i + 1 < s->n && s->p[s->i + 1] == '>') {
            s->i += 2;
            return XT_EMPTY;
        } else if (c == '<') {
            return XT_ERROR;
        } else {
            s->i++;
        }
    }
    return XT_ERROR;
}

/* The next token of the document. */
static enum xtok xml_next(struct xscan *s)
{
    size_t b;
    for (;;) {
        if (s->i >= s->n)
            return XT_EOF;
        if (s->p[s->i] != '<') {
            const char *lt = memchr(s->p + s->i, '<', s->n - s->i);
            b = s->i;
            s->i = lt ? (size_t)(lt - s->p) : s->n;
            s->text.p = s->p + b;
            s->text.len = s->i - b;
            return XT_TEXT;
        }
        if (starts(s, "<?")) {
            if (!skip_past(s, "?>"))
                return XT_ERROR;
            continue;
        }
        if (starts(s, "<!--")) {
            if (!skip_past(s, "-->"))
                return XT_ERROR;
            continue;
        }
        if (starts(s, "<![CDATA[")) {
            s->i += 9;
            b = s->i;
            if (!skip_past(s, "]]>"))
                return XT_ERROR;
            s->text.p = s->p + b;
            s->text.len = s->i - 3 - b;
            return XT_CDATA;
        }
        /* A DOCTYPE (or anything else after "<!") could define entities: not read at all. */
        if (starts(s, "<!"))
            return XT_ERROR;
        if (starts(s, "</")) {
            s->i += 2;
            if (!tag_name(s))
                return XT_ERROR;
            while (s->i < s->n && is_xml_space(s->p[s->i]))
                s->i++;
            if (s->i >= s->n || s->p[s->i] != '>')
                return XT_ERROR;
            s->i++;
            return XT_END;
        }
        s->i++;
        if (!tag_name(s))
            return XT_ERROR;
        return tag_rest(s);
    }
}

/* Appends the UTF-8 encoding of code point c (a valid XML character) to b. */
static void put_utf8(struct buf *b, unsigned long c)
{
    char u[4];
    size_t n;
    if (c < 0x80) {
        u[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        u[0] = (char)(0xC0 | (c >> 6));
        u[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (char)(0xE0 | (c >> 12));
        u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (c >> 18));
        u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    buf_append(b, u, n);
}

/* A character reference's value ("#38", "#x26"), or 0 when it is not a valid XML character. */
static unsigned long char_ref(const char *r, size_t n)
{
    unsigned long v = 0;
    bool hex = n > 1 && r[1] == 'x';
    size_t i = hex ? 2 : 1;
    if (n <= i || n - i > 8)
        return 0;
    for (; i < n; i++) {
        int d = hex ? str_hex_digit(r[i]) : (r[i] >= '0' && r[i] <= '9' ? r[i] - '0' : -1);
        if (d < 0)
            return 0;
        v = v * (hex ? 16 : 10) + (unsigned long)d;
    }
    /* XML 1.0 section 2.2, Char. */
    if ((v < 0x20 && v != 0x9 && v != 0xA && v != 0xD) || (v >= 0xD800 && v <= 0xDFFF) ||
        v == 0xFFFE || v == 0xFFFF || v > 0x10FFFF)
        return 0;
    return v;
}

/* Appends text with its entity and character references decoded; an unknown one stays as is. */
static void append_decoded(struct buf *b, struct slice t)
{
    static const struct {
        const char *name, *text;
    } ents[] = {{"lt", "<"}, {"gt", ">"}, {"amp", "&"}, {"quot", "\""}, {"apos", "'"}};
    for (size_t i = 0; i < t.len; i++) {
        const char *semi;
        size_t n;
        bool done = false;
        if (t.p[i] != '&' || !(semi = memchr(t.p + i, ';', t.len - i < 12 ? t.len - i : 12))) {
            buf_append_char(b, t.p[i]);
            continue;
        }
        n = (size_t)(semi - (t.p + i)) - 1; /* between '&' and ';' */
        if (n > 1 && t.p[i + 1] == '#') {
            unsigned long c = char_ref(t.p + i + 1, n);
            if (c) {
                put_utf8(b, c);
                done = true;
            }
        }
        for (size_t k = 0; !done && k < sizeof ents / sizeof ents[0]; k++) {
            if (strlen(ents[k].name) == n && memcmp(t.p + i + 1, ents[k].name, n) == 0) {
                buf_append_cstr(b, ents[k].text);
                done = true;
            }
        }
        if (!done) {
            buf_append_char(b, '&');
            continue;
        }
        i += n + 1;
    }
}

bool connect__xml_at(const char *doc, size_t len, const char *p, struct buf *out)
{
    char segs[CONNECT__XML_DEPTH][CONNECT__POINTER_MAX + 1];
    size_t seglen[CONNECT__XML_DEPTH], nseg = 0, i = 0;
    /*
     * depth: elements open now. matched: path segments matched so far; the element of the last
     * one is open, so a child for the next one is an element that starts at depth == matched.
     */
    size_t depth = 0, matched = 0, collect_at = 0;
    struct slice open[CONNECT__XML_DEPTH]; /* the open elements' names, to match end tags */
    bool collecting = false;
    struct xscan s = {doc, len, 0, {NULL, 0}, {NULL, 0}};

    if (!doc || !p || !connect__pointer_ok(p, strlen(p)) || len > CONNECT__XML_MAX)
        return false;
    while (p[i] == '/') {
        if (nseg == CONNECT__XML_DEPTH)
            return false;
        i++;
        seglen[nseg] = next_token(p, &i, segs[nseg]);
        nseg++;
    }
    /* A UTF-8 byte order mark may precede the prolog. */
    if (len >= 3 && memcmp(doc, "\xef\xbb\xbf", 3) == 0)
        s.i = 3;
    for (;;) {
        enum xtok t = xml_next(&s);
        switch (t) {
        case XT_START:
        case XT_EMPTY:
            if (!collecting && depth == matched) {
                bool hit = matched == nseg || (s.name.len == seglen[matched] &&
                                               memcmp(s.name.p, segs[matched], s.name.len) == 0);
                if (hit && matched < nseg)
                    matched++;
                if (hit && matched == nseg) {
                    if (t == XT_EMPTY)
                        return out->err == MD_OK;
                    collecting = true;
                    collect_at = depth;
                } else if (hit ? t == XT_EMPTY : depth == 0) {
                    /* An empty element has no children; a root of another name, no path. */
                    return false;
                }
            }
            if (t == XT_START) {
                if (depth == CONNECT__XML_DEPTH)
                    return false;
                open[depth++] = s.name;
            }
            break;
        case XT_END:
            /* An end tag must close the element that is open: a malformed answer says nothing. */
            if (depth == 0 || !slice_eq(open[depth - 1], s.name))
                return false;
            depth--;
            if (collecting && depth == collect_at)
                return out->err == MD_OK;
            /*
             * The element whose child was looked for ended without one: only the first element
             * of a name is looked into, as the first member of a JSON object would be.
             */
            if (!collecting && depth < matched)
                return false;
            break;
        case XT_TEXT:
        case XT_CDATA:
            if (collecting && t == XT_TEXT)
                append_decoded(out, s.text);
            else if (collecting)
                buf_append(out, s.text.p, s.text.len);
            break;
        case XT_EOF:
        case XT_ERROR:
            return false;
        }
    }
}
