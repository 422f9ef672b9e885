/*
 * The SCIM filter parser (RFC 7644 section 3.4.2.2), PATCH paths (section 3.5.2), and the
 * in-memory matcher.
 *
 * The parser is a hand-written recursive descent over the bytes of the text:
 *
 *   or      = and *( "or" and )
 *   and     = unary *( "and" unary )
 *   unary   = "not" *WS "(" or ")" / "(" or ")" / attrPath "[" or "]"
 *           / attrPath WS "pr" / attrPath WS compareOp *WS compValue
 *
 * Every descent into "(", "not (" or "[" counts against SCIM_FILTER_MAX_DEPTH before it
 * recurses, so the C stack is bounded by the depth limit and not by the input; chains of
 * "and" and "or" are built by loops. Whitespace is any run of spaces and tabs.
 *
 * Deliberate choices where the RFC leaves room, or where clients are known to stray from it:
 *  - "not" is the logical operator only when a "(" follows it, as the RFC's grammar says;
 *    otherwise it is an attribute name, so `not eq pr` compares an attribute called "not".
 *  - Unquoted values (Entra ID's `userName sw O`, `meta.created gt 2015-10-10T14:38:21Z`) run
 *    to the next whitespace, ")" or "]". A bareword spelled like a JSON number is a number,
 *    true/false/null are literals, anything else is a string.
 *  - A value path inside a filter is `attr[...]`; the SCIMMY extension `emails[...].value ...`
 *    is refused with a message that says so. A PATCH path may carry ".sub" after the "]".
 *  - The URN of a qualified path must start with "urn:" and is everything up to the last ':'
 *    before the attribute name; attribute names are ALPHA *(ALPHA / DIGIT / "-" / "_"), or
 *    "$ref".
 *  - Strings are JSON strings; the decoded text must be valid UTF-8 without NUL, so that
 *    every consumer (SQL parameters, JSON responses) can take it as a C string.
 */
#include "scim/filter.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/str.h"
#include "core/time.h"

/* ---- the parser ---- */

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    int depth;
    enum md_err code; /* MD_ERR_FILTER, or MD_ERR_PATH for PATCH paths */
    const char *what; /* "filter" or "path", for messages */
    struct md_error *e;
};

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Bytes that can appear in an attribute path, URN included. */
static bool is_path_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == ':' || c == '.' || c == '-' || c == '_' || c == '$';
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && is_ws((unsigned char)p->s[p->pos]))
        p->pos++;
}

/* The byte at pos, or 0 at the end (NUL bytes are refused before parsing starts). */
static unsigned char peek(const struct parser *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : 0;
}

/*
 * Records an error at byte offset at: "invalid filter at byte 12: expected ')' (found
 * 'xyz')". The quoted excerpt shows at most 20 bytes, with anything unprintable as '?', so
 * the message is safe to return to the client.
 */
static enum md_err perr(struct parser *p, size_t at, const char *expected)
{
    char found[24];
    size_t n = 0;

    if (at >= p->len) {
        return md_error_set(p->e, p->code, "invalid %s at byte %zu: %s (found the end)", p->what,
                            at, expected);
    }
    while (at + n < p->len && n < 20) {
        unsigned char c = (unsigned char)p->s[at + n];
        found[n++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    found[n] = '\0';
    return md_error_set(p->e, p->code, "invalid %s at byte %zu: %s (found '%s%s')", p->what, at,
                        expected, found, at + n < p->len ? "..." : "");
}

/* Length of the run of path bytes starting at pos. */
static size_t word_len(const struct parser *p, size_t pos)
{
    size_t n = 0;
    while (pos + n < p->len && is_path_char((unsigned char)p->s[pos + n]))
        n++;
    return n;
}

/* Does the keyword kw (lowercase) start at pos, as a whole word? */
static bool keyword_at(const struct parser *p, size_t pos, const char *kw)
{
    size_t n = strlen(kw);
    if (p->len - pos < n || word_len(p, pos) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (fold((unsigned char)p->s[pos + i]) != (unsigned char)kw[i])
            return false;
    return true;
}

/* ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA; also "$ref". */
static bool valid_name(struct slice s)
{
    if (slice_ieq_cstr(s, "$ref"))
        return true;
    if (s.len == 0 || !is_alpha((unsigned char)s.p[0]))
        return false;
    for (size_t i = 1; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

static void path_clear(struct filter_path *path)
{
    free(path->urn);
    free(path->attr);
    free(path->sub);
    path->urn = path->attr = path->sub = NULL;
}

/*
 * Splits the word at [at, at+n) into URN, attribute and sub-attribute. The URN is what
 * precedes the last ':'; the rest is "attr" or "attr.sub".
 */
static enum md_err split_path(struct parser *p, size_t at, size_t n, struct filter_path *out)
{
    struct slice w = {p->s + at, n}, urn = {NULL, 0}, attr, sub = {NULL, 0};
    const char *colon = NULL, *dot;
    enum md_err rc = MD_OK;

    for (size_t i = 0; i < n; i++)
        if (w.p[i] == ':')
            colon = w.p + i;
    attr = w;
    if (colon) {
        urn = (struct slice){w.p, (size_t)(colon - w.p)};
        attr = (struct slice){colon + 1, n - urn.len - 1};
        if (urn.len <= 4 || strncasecmp(urn.p, "urn:", 4) != 0) {
            rc = perr(p, at, "expected an attribute path; a ':' may only follow a schema URN");
            goto out;
        }
    }
    dot = memchr(attr.p, '.', attr.len);
    if (dot) {
        sub = (struct slice){dot + 1, attr.len - (size_t)(dot - attr.p) - 1};
        attr.len = (size_t)(dot - attr.p);
    }
    if (!valid_name(attr) || (dot && !valid_name(sub))) {
        rc = perr(p, at,
                  "expected an attribute path (names are a letter followed by letters, digits, "
                  "'-' or '_', optionally followed by '.' and a sub-attribute)");
        goto out;
    }
    out->urn = urn.p ? slice_dup(urn) : NULL;
    out->attr = slice_dup(attr);
    out->sub = dot ? slice_dup(sub) : NULL;
    if ((urn.p && !out->urn) || !out->attr || (dot && !out->sub)) {
        path_clear(out);
        rc = md_error_set(p->e, MD_ERR_NOMEM, "out of memory");
    }
out:
    return rc;
}

/* Parses an attribute path at pos; pos moves past it. */
static enum md_err parse_path(struct parser *p, struct filter_path *out)
{
    size_t at = p->pos, n = word_len(p, at);
    if (n == 0)
        return perr(p, at, "expected an attribute path");
    p->pos += n;
    return split_path(p, at, n, out);
}

/* Is s[0..n) valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF)? */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Reads the four hex digits of a \u escape at pos; -1 when they are not there. */
static long read_hex4(const struct parser *p, size_t pos)
{
    long v = 0;
    if (p->len - pos < 4)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        int h = str_hex_digit((unsigned char)p->s[pos + i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(b, u, n);
}

/*
 * Decodes the \u escape at pos (pointing at the 'u'), joining a surrogate pair; pos moves
 * past it. A lone surrogate or U+0000 is an error.
 */
static enum md_err parse_uescape(struct parser *p, struct buf *b)
{
    size_t at = p->pos - 1;
    long hi = read_hex4(p, p->pos + 1), lo;
    uint32_t cp;

    if (hi < 0)
        return perr(p, at, "expected four hex digits after \\u");
    p->pos += 5;
    cp = (uint32_t)hi;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return perr(p, at, "a low surrogate without a high surrogate before it");
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return perr(p, at, "a high surrogate must be followed by a \\u low surrogate");
        lo = read_hex4(p, p->pos + 2);
        if (lo < 0xdc00 || lo > 0xdfff)
            return perr(p, at, "a high surrogate must be followed by a \\u low surrogate");
        p->pos += 6;
        cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
    }
    if (cp == 0)
        return perr(p, at, "\\u0000 is not allowed in a filter string");
    put_utf8(b, cp);
    return MD_OK;
}

/* A JSON string starting at the '"' at pos, decoded into *out (caller frees). */
static enum md_err parse_string(struct parser *p, char **out)
{
    struct buf b;
    size_t start = p->pos;
    enum md_err rc = MD_OK;

    buf_init(&b, SCIM_FILTER_MAX_LEN + 1);
    buf_append(&b, "", 0); /* so that an empty string still has a buffer */
    p->pos++;
    for (;;) {
        unsigned char c = peek(p);
        if (p->pos >= p->len) {
            rc = perr(p, start, "unterminated string");
            goto out;
        }
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            rc = perr(p, p->pos, "control characters must be escaped in a string");
            goto out;
        }
        if (c != '\\') {
            buf_append_char(&b, (char)c);
            p->pos++;
            continue;
        }
        p->pos++;
        if (p->pos >= p->len) {
            rc = perr(p, start, "unterminated string");
            goto out;
        }
        c = peek(p);
        switch (c) {
        case '"':
        case '\\':
        case '/':
            buf_append_char(&b, (char)c);
            break;
        case 'b':
            buf_append_char(&b, '\b');
            break;
        case 'f':
            buf_append_char(&b, '\f');
            break;
        case 'n':
            buf_append_char(&b, '\n');
            break;
        case 'r':
            buf_append_char(&b, '\r');
            break;
        case 't':
            buf_append_char(&b, '\t');
            break;
        case 'u':
            rc = parse_uescape(p, &b);
            if (rc != MD_OK)
                goto out;
            continue;
        default:
            rc = perr(p, p->pos - 1, "unknown escape in string");
            goto out;
        }
        p->pos++;
    }
    if (b.err != MD_OK) {
        rc = md_error_set(p->e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!utf8_valid((const unsigned char *)b.p, b.len)) {
        rc = perr(p, start, "string is not valid UTF-8");
        goto out;
    }
    *out = buf_steal(&b);
out:
    buf_free(&b);
    return rc;
}

/* JSON's number: -? (0 / [1-9] DIGIT*) ("." DIGIT+)? ([eE] [+-]? DIGIT+)? */
static bool is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit((unsigned char)s[i]))
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit((unsigned char)s[i]))
            return false;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit((unsigned char)s[i]))
            return false;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    }
    return i == n;
}

/* Fills v from the number literal in v->str (already NUL-terminated and well-formed). */
static enum md_err set_number(struct parser *p, size_t at, struct filter_value *v)
{
    char *end;
    v->num = strtod(v->str, &end);
    if (*end != '\0' || isinf(v->num) || isnan(v->num))
        return perr(p, at, "number out of range");
    v->type = FVAL_NUMBER;
    return MD_OK;
}

/*
 * compValue: a JSON string, or a bareword that runs to whitespace, ")" or "]". A quote or an
 * opening bracket inside a bareword is refused, as it is almost always a missing space.
 */
static enum md_err parse_value(struct parser *p, struct filter_value *v)
{
    size_t at = p->pos, n;
    struct slice w;
    enum md_err rc;

    if (peek(p) == '"') {
        rc = parse_string(p, &v->str);
        if (rc != MD_OK)
            return rc;
        v->type = FVAL_STRING;
        if (p->pos < p->len && !is_ws(peek(p)) && peek(p) != ')' && peek(p) != ']')
            return perr(p, p->pos, "expected whitespace, ')' or ']' after a string");
        return MD_OK;
    }
    while (p->pos < p->len) {
        unsigned char c = peek(p);
        if (is_ws(c) || c == ')' || c == ']')
            break;
        if (c == '"' || c == '(' || c == '[' || c < 0x20 || c == 0x7f)
            return perr(p, p->pos, "unexpected character in an unquoted value");
        p->pos++;
    }
    n = p->pos - at;
    if (n == 0)
        return perr(p, at, "expected a value (a string, number, true, false or null)");
    w = (struct slice){p->s + at, n};
    if (slice_ieq_cstr(w, "true") || slice_ieq_cstr(w, "false")) {
        v->type = FVAL_BOOL;
        v->b = slice_ieq_cstr(w, "true");
        return MD_OK;
    }
    if (slice_ieq_cstr(w, "null")) {
        v->type = FVAL_NULL;
        return MD_OK;
    }
    if (!utf8_valid((const unsigned char *)w.p, w.len))
        return perr(p, at, "value is not valid UTF-8");
    v->str = slice_dup(w);
    if (!v->str)
        return md_error_set(p->e, MD_ERR_NOMEM, "out of memory");
    if (is_json_number(w.p, w.len))
        return set_number(p, at, v);
    v->type = FVAL_STRING;
    return MD_OK;
}

static const char *const op_names[] = {
    [FOP_EQ] = "eq", [FOP_NE] = "ne", [FOP_CO] = "co", [FOP_SW] = "sw", [FOP_EW] = "ew",
    [FOP_PR] = "pr", [FOP_GT] = "gt", [FOP_GE] = "ge", [FOP_LT] = "lt", [FOP_LE] = "le",
};

const char *scim_filter_op_name(enum filter_op op)
{
    if ((unsigned)op >= sizeof op_names / sizeof op_names[0])
        return "?";
    return op_names[op];
}

/* The operator word at pos; pos moves past it. */
static enum md_err parse_op(struct parser *p, enum filter_op *op)
{
    size_t at = p->pos, n = word_len(p, at);
    struct slice w = {p->s + at, n};

    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (slice_ieq_cstr(w, op_names[i])) {
            *op = (enum filter_op)i;
            p->pos += n;
            return MD_OK;
        }
    }
    return perr(p, at, "expected an operator (eq, ne, co, sw, ew, pr, gt, ge, lt, le)");
}

static struct filter_node *node_new(struct parser *p, enum filter_kind kind)
{
    struct filter_node *n = calloc(1, sizeof *n);
    if (!n)
        md_error_set(p->e, MD_ERR_NOMEM, "out of memory");
    else
        n->kind = kind;
    return n;
}

void scim_filter_free(struct filter_node *f)
{
    /* Chains of "and" and "or" grow on the left, so walk that spine with a loop. */
    while (f) {
        struct filter_node *left = f->left;
        scim_filter_free(f->right);
        scim_filter_free(f->inner);
        path_clear(&f->path);
        free(f->value.str);
        free(f);
        f = left;
    }
}

static enum md_err parse_or(struct parser *p, struct filter_node **out);

/* Enters one level of nesting, or refuses to. */
static enum md_err enter(struct parser *p, size_t at)
{
    char msg[96];
    if (p->depth >= SCIM_FILTER_MAX_DEPTH) {
        snprintf(msg, sizeof msg, "nested deeper than %d levels of '(', 'not (' and '['",
                 SCIM_FILTER_MAX_DEPTH);
        return perr(p, at, msg);
    }
    p->depth++;
    return MD_OK;
}

/* The inside of a group opened at byte open ("(" or "["), through its closing byte close. */
static enum md_err parse_group(struct parser *p, size_t open, char close, struct filter_node **out)
{
    enum md_err rc = enter(p, open);
    if (rc != MD_OK)
        return rc;
    rc = parse_or(p, out);
    if (rc != MD_OK)
        return rc;
    skip_ws(p);
    if (peek(p) != (unsigned char)close) {
        scim_filter_free(*out);
        *out = NULL;
        return perr(p, p->pos, close == ')' ? "expected ')'" : "expected ']'");
    }
    p->pos++;
    p->depth--;
    return MD_OK;
}

/* attrPath followed by "[", "pr" or an operator and a value. */
static enum md_err parse_attr_exp(struct parser *p, struct filter_node **out)
{
    struct filter_node *n = node_new(p, FILTER_CMP);
    enum md_err rc;
    size_t at;

    if (!n)
        return MD_ERR_NOMEM;
    rc = parse_path(p, &n->path);
    if (rc != MD_OK)
        goto out;
    if (peek(p) == '[') {
        n->kind = FILTER_VALPATH;
        p->pos++;
        rc = parse_group(p, p->pos - 1, ']', &n->inner);
        if (rc == MD_OK && peek(p) == '.')
            rc = perr(p, p->pos,
                      "a value path in a filter cannot be followed by a "
                      "sub-attribute; write attr[... and sub op value]");
        goto out;
    }
    at = p->pos;
    skip_ws(p);
    if (p->pos == at) {
        rc = perr(p, p->pos, "expected whitespace and an operator after the attribute path");
        goto out;
    }
    rc = parse_op(p, &n->op);
    if (rc != MD_OK && !n->path.urn && !n->path.sub && cstr_ieq(n->path.attr, "not"))
        rc = perr(p, p->pos, "expected an operator; the logical 'not' must be followed by '('");
    if (rc != MD_OK || n->op == FOP_PR)
        goto out;
    skip_ws(p);
    rc = parse_value(p, &n->value);
out:
    if (rc != MD_OK) {
        scim_filter_free(n);
        n = NULL;
    }
    *out = n;
    return rc;
}

/* "not" "(" filter ")" / "(" filter ")" / attrExp / valuePath */
static enum md_err parse_unary(struct parser *p, struct filter_node **out)
{
    struct filter_node *n = NULL;
    enum md_err rc;
    size_t at;

    skip_ws(p);
    at = p->pos;
    if (peek(p) == '(') {
        p->pos++;
        return parse_group(p, at, ')', out);
    }
    if (keyword_at(p, at, "not")) {
        size_t q = at + 3;
        while (q < p->len && is_ws((unsigned char)p->s[q]))
            q++;
        if (q < p->len && p->s[q] == '(') {
            n = node_new(p, FILTER_NOT);
            if (!n)
                return MD_ERR_NOMEM;
            p->pos = q + 1;
            rc = parse_group(p, q, ')', &n->left);
            if (rc != MD_OK) {
                scim_filter_free(n);
                n = NULL;
            }
            *out = n;
            return rc;
        }
    }
    if (word_len(p, at) == 0)
        return perr(p, at, "expected an attribute path, 'not (' or '('");
    return parse_attr_exp(p, out);
}

/* Left-associative chains of kw ("and" or "or") over sub-expressions parsed by next. */
static enum md_err parse_chain(struct parser *p, const char *kw, enum filter_kind kind,
                               enum md_err (*next)(struct parser *, struct filter_node **),
                               struct filter_node **out)
{
    struct filter_node *left = NULL, *n;
    enum md_err rc = next(p, &left);

    while (rc == MD_OK) {
        size_t save = p->pos;
        skip_ws(p);
        if (!keyword_at(p, p->pos, kw)) {
            p->pos = save;
            break;
        }
        p->pos += strlen(kw);
        n = node_new(p, kind);
        if (!n) {
            rc = MD_ERR_NOMEM;
            break;
        }
        n->left = left;
        left = n;
        rc = next(p, &n->right);
    }
    if (rc != MD_OK) {
        scim_filter_free(left);
        left = NULL;
    }
    *out = left;
    return rc;
}

static enum md_err parse_and(struct parser *p, struct filter_node **out)
{
    return parse_chain(p, "and", FILTER_AND, parse_unary, out);
}

static enum md_err parse_or(struct parser *p, struct filter_node **out)
{
    return parse_chain(p, "or", FILTER_OR, parse_and, out);
}

/* Checks the limits that hold before any parsing: length and NUL bytes. */
static enum md_err parser_init(struct parser *p, const char *text, size_t len, enum md_err code,
                               const char *what, struct md_error *e)
{
    const char *nul;
    *p = (struct parser){.s = text, .len = len, .code = code, .what = what, .e = e};
    if (!text && len)
        return md_error_set(e, code, "invalid %s: no text", what);
    if (len > SCIM_FILTER_MAX_LEN)
        return md_error_set(e, code, "invalid %s: longer than %d bytes", what, SCIM_FILTER_MAX_LEN);
    nul = len ? memchr(text, '\0', len) : NULL;
    if (nul)
        return perr(p, (size_t)(nul - text), "NUL byte");
    skip_ws(p);
    if (p->pos == p->len)
        return md_error_set(e, code, "invalid %s: empty", what);
    return MD_OK;
}

enum md_err scim_filter_parse(const char *text, size_t len, struct filter_node **out,
                              struct md_error *e)
{
    struct parser p;
    struct filter_node *f = NULL;
    enum md_err rc;

    *out = NULL;
    rc = parser_init(&p, text, len, MD_ERR_FILTER, "filter", e);
    if (rc != MD_OK)
        goto out;
    rc = parse_or(&p, &f);
    if (rc != MD_OK)
        goto out;
    skip_ws(&p);
    if (p.pos < p.len) {
        unsigned char c = peek(&p);
        rc = perr(&p, p.pos,
                  c == ')'   ? "unbalanced ')'"
                  : c == ']' ? "unbalanced ']'"
                             : "expected 'and', 'or' or the end of the filter");
        goto out;
    }
    *out = f;
    f = NULL;
out:
    scim_filter_free(f);
    return rc;
}

/* ---- PATCH paths ---- */

void scim_patch_path_free(struct scim_patch_path *pp)
{
    if (!pp)
        return;
    path_clear(&pp->path);
    scim_filter_free(pp->filter);
    free(pp->sub_after);
    free(pp);
}

/* PATH = attrPath / valuePath [subAttr], with optional whitespace around it. */
enum md_err scim_patch_path_parse(const char *text, size_t len, struct scim_patch_path **out,
                                  struct md_error *e)
{
    struct parser p;
    struct scim_patch_path *pp = NULL;
    enum md_err rc;

    *out = NULL;
    rc = parser_init(&p, text, len, MD_ERR_PATH, "path", e);
    if (rc != MD_OK)
        goto out;
    pp = calloc(1, sizeof *pp);
    if (!pp) {
        rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = parse_path(&p, &pp->path);
    if (rc != MD_OK)
        goto out;
    if (peek(&p) == '[') {
        size_t open = p.pos++;
        if (pp->path.sub) {
            rc = perr(&p, open, "a filtered attribute cannot have a sub-attribute before '['");
            goto out;
        }
        rc = parse_group(&p, open, ']', &pp->filter);
        if (rc != MD_OK)
            goto out;
        if (peek(&p) == '.') {
            size_t at = ++p.pos, n = word_len(&p, at);
            struct slice w = {p.s + at, n};
            if (!valid_name(w)) {
                rc = perr(&p, at, "expected a sub-attribute name after ']'.");
                goto out;
            }
            p.pos += n;
            pp->sub_after = slice_dup(w);
            if (!pp->sub_after) {
                rc = md_error_set(e, MD_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
    }
    skip_ws(&p);
    if (p.pos < p.len) {
        rc = perr(&p, p.pos, "expected the end of the path");
        goto out;
    }
    *out = pp;
    pp = NULL;
out:
    scim_patch_path_free(pp);
    return rc;
}

/* ---- the matcher ----
 *
 * Semantics, where RFC 7644 leaves them open:
 *  - A comparison of a multi-valued attribute holds when it holds for some element; for an
 *    array of complex values with no sub-attribute named, an element's "value" is compared.
 *  - "pr" holds when some value is present: not null, not "", not [] and not {}.
 *    "eq null" is "not pr" and "ne null" is "pr"; other operators with null never hold.
 *  - Values of different types never compare equal: eq, gt, ge, lt, le, co, sw and ew are
 *    false and ne is true. gt, ge, lt and le on booleans are false.
 *  - ne needs a present value: an absent attribute satisfies neither eq nor ne. That is what
 *    SQL's three-valued logic gives the store's compiled filters, so both agree, and for a
 *    grant condition over tool arguments it means that a condition about an argument that
 *    was not sent does not hold. Write `not (x eq v)` to include absent attributes.
 *  - Strings compare byte by byte (so by code point) after ASCII case folding unless the
 *    attribute is caseExact (or, without a schema, case_exact_default is true).
 *  - With a schema: a dateTime compares as a time when both sides parse as one (else as a
 *    string); an unquoted number compared with a string attribute compares as its literal
 *    text (`externalId eq 12345`); "true"/"false" strings compare with a boolean attribute.
 *  - A NULL filter, or a value that is not an object, matches nothing: a condition that is
 *    missing must never be mistaken for one that holds.
 */

struct mctx {
    const struct scim_rtype *rt; /* NULL: no schema */
    bool case_exact_default;
    const struct filter_path *outer; /* inside a value path: its path, else NULL */
    bool no_schema;                  /* deeper than the schema can describe */
};

/* What the schema says about the attribute compared; type is -1 when unknown. */
struct attr_info {
    bool case_exact;
    int type;
};

struct cmp_job {
    enum filter_op op;
    const struct filter_value *v;
    struct attr_info ai;
};

/* The schema attribute a path names in the current context, or NULL. */
static const struct scim_attr *path_attr(const struct mctx *cx, const struct filter_path *path)
{
    struct scim_resolved r;
    const struct scim_attr *a;

    if (!cx->rt || cx->no_schema)
        return NULL;
    if (cx->outer) {
        if (path->urn || path->sub)
            return NULL;
        if (scim_resolve(cx->rt, cx->outer->urn, cx->outer->attr, path->attr, &r) != MD_OK)
            return NULL;
        return r.sub;
    }
    if (scim_resolve(cx->rt, path->urn, path->attr, path->sub, &r) != MD_OK)
        return NULL;
    a = r.sub ? r.sub : r.attr;
    /* A complex attribute compares through its "value" sub-attribute. */
    if (a->type == SCIM_T_COMPLEX)
        a = a->subs ? scim_attr_find(a->subs, "value") : NULL;
    return a;
}

static void path_info(const struct mctx *cx, const struct filter_path *path, struct attr_info *ai)
{
    const struct scim_attr *a = path_attr(cx, path);
    ai->case_exact = a ? a->case_exact : cx->case_exact_default;
    ai->type = a ? (int)a->type : -1;
}

/*
 * The object in which path's attribute is looked up: obj itself, or the extension object
 * obj[URN] for an extension attribute. Without a schema, a URN names an extension when obj
 * has an object under that key, and is otherwise ignored. NULL when nothing can match.
 */
static const json_t *path_base(const struct mctx *cx, const json_t *obj,
                               const struct filter_path *path)
{
    struct scim_resolved r;
    const struct scim_schema *s;
    const json_t *ext;

    if (cx->rt && !cx->outer && !cx->no_schema) {
        if (!path->urn) {
            if (scim_resolve(cx->rt, NULL, path->attr, NULL, &r) == MD_OK && r.extension &&
                r.schema)
                return json_object_iget(obj, r.schema->id);
            return obj;
        }
        s = scim_rtype_schema(cx->rt, path->urn);
        if (!s)
            return NULL;
        return s == cx->rt->schema ? obj : json_object_iget(obj, s->id);
    }
    if (!path->urn)
        return obj;
    ext = json_object_iget(obj, path->urn);
    return json_is_object(ext) ? ext : obj;
}

static bool is_present(const json_t *v)
{
    if (!v || json_is_null(v))
        return false;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_object(v))
        return json_object_size(v) > 0;
    return true;
}

static bool is_text_type(int type)
{
    return type == SCIM_T_STRING || type == SCIM_T_REFERENCE || type == SCIM_T_BINARY;
}

/* Both sides as text, when they are to be compared as strings. */
static bool as_strings(const json_t *c, const struct cmp_job *j, struct slice *cs, struct slice *vs)
{
    if (!json_is_string(c) || !j->v->str)
        return false;
    if (j->v->type != FVAL_STRING && !(j->v->type == FVAL_NUMBER && is_text_type(j->ai.type)))
        return false;
    *cs = (struct slice){json_string_value(c), json_string_length(c)};
    *vs = slice_from_cstr(j->v->str);
    return true;
}

static int text_cmp(struct slice a, struct slice b, bool exact)
{
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
        if (!exact) {
            x = fold(x);
            y = fold(y);
        }
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* A folded copy when not exact (caller frees), so that memmem stays linear. */
static char *folded(struct slice s)
{
    char *d = malloc(s.len + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < s.len; i++)
        d[i] = (char)fold((unsigned char)s.p[i]);
    d[s.len] = '\0';
    return d;
}

static bool text_contains(struct slice hay, struct slice needle, bool exact)
{
    char *h = NULL, *n = NULL;
    bool found = false;

    if (needle.len == 0)
        return true;
    if (exact)
        return memmem(hay.p, hay.len, needle.p, needle.len) != NULL;
    h = folded(hay);
    n = folded(needle);
    if (h && n)
        found = memmem(h, hay.len, n, needle.len) != NULL;
    free(h);
    free(n);
    return found;
}

static bool text_op(enum filter_op op, struct slice c, struct slice v, bool exact)
{
    switch (op) {
    case FOP_CO:
        return text_contains(c, v, exact);
    case FOP_SW:
        return c.len >= v.len && text_cmp((struct slice){c.p, v.len}, v, exact) == 0;
    case FOP_EW:
        return c.len >= v.len &&
               text_cmp((struct slice){c.p + c.len - v.len, v.len}, v, exact) == 0;
    default:
        return false;
    }
}

/* How a value relates to the filter's: ordered, equal-or-not only, or incomparable. */
enum ord { ORD_LT, ORD_EQ, ORD_GT, ORD_SAME, ORD_DIFF, ORD_NONE };

static enum ord from_int(int r)
{
    return r < 0 ? ORD_LT : r > 0 ? ORD_GT : ORD_EQ;
}

static bool literal_is_integer(const char *s)
{
    return !strpbrk(s, ".eE");
}

static enum ord number_order(const json_t *c, const struct filter_value *v)
{
    long long x;
    double a, b;
    if (json_is_integer(c) && literal_is_integer(v->str) &&
        str_to_ll(v->str, strlen(v->str), LLONG_MIN, LLONG_MAX, &x)) {
        json_int_t y = json_integer_value(c);
        return y < x ? ORD_LT : y > x ? ORD_GT : ORD_EQ;
    }
    a = json_number_value(c);
    b = v->num;
    return a < b ? ORD_LT : a > b ? ORD_GT : ORD_EQ;
}

static enum ord order(const json_t *c, const struct cmp_job *j)
{
    struct slice cs, vs;
    int64_t ct, vt;
    const struct filter_value *v = j->v;

    if (as_strings(c, j, &cs, &vs)) {
        if (j->ai.type == SCIM_T_DATETIME && time_parse_rfc3339(cs.p, &ct) &&
            time_parse_rfc3339(vs.p, &vt))
            return ct < vt ? ORD_LT : ct > vt ? ORD_GT : ORD_EQ;
        return from_int(text_cmp(cs, vs, j->ai.case_exact));
    }
    if (json_is_boolean(c)) {
        bool b;
        if (v->type == FVAL_BOOL)
            b = v->b;
        else if (v->type == FVAL_STRING && j->ai.type == SCIM_T_BOOLEAN &&
                 (cstr_ieq(v->str, "true") || cstr_ieq(v->str, "false")))
            b = cstr_ieq(v->str, "true");
        else
            return ORD_NONE;
        return json_is_true(c) == b ? ORD_SAME : ORD_DIFF;
    }
    if (json_is_number(c) && v->type == FVAL_NUMBER)
        return number_order(c, v);
    return ORD_NONE;
}

/* Does the single value c satisfy the comparison? */
static bool test_one(const json_t *c, const struct cmp_job *j)
{
    struct slice cs, vs;
    enum ord o;

    if (!c || json_is_null(c))
        return false;
    if (j->op == FOP_PR)
        return is_present(c);
    if (j->op == FOP_CO || j->op == FOP_SW || j->op == FOP_EW)
        return as_strings(c, j, &cs, &vs) && text_op(j->op, cs, vs, j->ai.case_exact);
    o = order(c, j);
    switch (j->op) {
    case FOP_EQ:
        return o == ORD_EQ || o == ORD_SAME;
    case FOP_NE:
        return o != ORD_EQ && o != ORD_SAME;
    case FOP_GT:
        return o == ORD_GT;
    case FOP_GE:
        return o == ORD_GT || o == ORD_EQ;
    case FOP_LT:
        return o == ORD_LT;
    case FOP_LE:
        return o == ORD_LT || o == ORD_EQ;
    default:
        return false;
    }
}

/*
 * Some value of v satisfies the comparison: v itself, or an element when v is an array.
 * elem_value: compare an array element's "value" when the element is an object (not for pr,
 * where the element itself is what must be present).
 */
static bool test_values(const json_t *v, const struct cmp_job *j, bool elem_value)
{
    size_t i;
    const json_t *x;

    if (!json_is_array(v))
        return test_one(v, j);
    json_array_foreach(v, i, x)
    {
        if (elem_value && j->op != FOP_PR && json_is_object(x))
            x = json_object_iget(x, "value");
        if (test_one(x, j))
            return true;
    }
    return false;
}

/* Some value that path names in base satisfies the comparison. */
static bool some_value(const json_t *base, const struct filter_path *path, const struct cmp_job *j)
{
    const json_t *v = json_object_iget(base, path->attr), *x;
    size_t i;

    if (!v)
        return false;
    if (!path->sub)
        return test_values(v, j, true);
    if (!json_is_array(v))
        return test_values(json_object_iget(v, path->sub), j, false);
    json_array_foreach(v, i, x)
    {
        if (test_values(json_object_iget(x, path->sub), j, false))
            return true;
    }
    return false;
}

static bool match_cmp(const struct filter_node *f, const json_t *obj, const struct mctx *cx)
{
    struct cmp_job j = {.op = f->op, .v = &f->value};
    const json_t *base = path_base(cx, obj, &f->path);
    bool present;

    if (f->op == FOP_PR || f->value.type == FVAL_NULL) {
        j.op = FOP_PR;
        present = base && some_value(base, &f->path, &j);
        if (f->op == FOP_PR || f->op == FOP_NE)
            return present;
        return f->op == FOP_EQ && !present;
    }
    if (!base)
        return false;
    path_info(cx, &f->path, &j.ai);
    return some_value(base, &f->path, &j);
}

static bool match_node(const struct filter_node *f, const json_t *obj, const struct mctx *cx);

/* path[inner]: some element of the attribute (or the single complex value) satisfies inner. */
static bool match_valpath(const struct filter_node *f, const json_t *obj, const struct mctx *cx)
{
    const json_t *base = path_base(cx, obj, &f->path), *v, *x;
    struct mctx icx = *cx;
    size_t i;

    if (!base)
        return false;
    v = json_object_iget(base, f->path.attr);
    if (v && f->path.sub)
        v = json_object_iget(v, f->path.sub);
    /* The schema describes one level of sub-attributes only. */
    icx.no_schema = cx->no_schema || cx->outer != NULL || f->path.sub != NULL;
    icx.outer = &f->path;
    if (json_is_object(v))
        return match_node(f->inner, v, &icx);
    json_array_foreach(v, i, x)
    {
        if (json_is_object(x) && match_node(f->inner, x, &icx))
            return true;
    }
    return false;
}

static bool match_node(const struct filter_node *f, const json_t *obj, const struct mctx *cx)
{
    if (!f)
        return false;
    switch (f->kind) {
    case FILTER_AND:
        return match_node(f->left, obj, cx) && match_node(f->right, obj, cx);
    case FILTER_OR:
        return match_node(f->left, obj, cx) || match_node(f->right, obj, cx);
    case FILTER_NOT:
        return !match_node(f->left, obj, cx);
    case FILTER_CMP:
        return match_cmp(f, obj, cx);
    case FILTER_VALPATH:
        return match_valpath(f, obj, cx);
    }
    return false;
}

bool scim_filter_match(const struct filter_node *f, const json_t *obj, const struct scim_rtype *rt,
                       bool case_exact_default)
{
    struct mctx cx = {.rt = rt, .case_exact_default = case_exact_default};
    if (!json_is_object(obj))
        return false;
    return match_node(f, obj, &cx);
}
