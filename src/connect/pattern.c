/*
 * The translation of ECMA-262 patterns (JSON Schema "pattern") to POSIX extended regular
 * expressions, for schema.c. schema.h specifies what is kept, approximated and refused;
 * connect_int.h holds the interface. It is a file of its own because it is a small compiler
 * with its own state, unrelated to the walk over schemas and arguments.
 */
#include "connect/connect_int.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/schema.h"
#include "core/str.h"

#define PATTERN_ATOMS_MAX 1000
#define PATTERN_BOUND_MAX 1000
#define PATTERN_GROUPS_MAX 32
#define PATTERN_OUT_MAX (64 * 1024)

/* Any complete UTF-8 sequence of two to four bytes: what '.' and negated classes add. */
#define RE_MULTIBYTE                                                                               \
    "[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf][\x80-\xbf]|"                                    \
    "[\xf0-\xf4][\x80-\xbf][\x80-\xbf][\x80-\xbf]"

struct retr {
    const char *p;
    size_t n, i;
    struct buf out;
    char why[96];
    unsigned long atoms[PATTERN_GROUPS_MAX + 1]; /* expanded atoms so far, per open group */
    unsigned long last; /* atoms of the last quantifiable item; 0: nothing to quantify */
    int level;
};

/* An ASCII set as a bitmap; bit 0 (NUL) is never used. */
struct reset {
    uint8_t bits[16];
};

__attribute__((format(printf, 2, 3))) static bool re_refuse(struct retr *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->why, sizeof st->why, fmt, ap);
    va_end(ap);
    return false;
}

static void set_add(struct reset *s, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi && c < 128; c++) {
        if (c)
            s->bits[c / 8] |= (uint8_t)(1u << (c % 8));
    }
}

static bool set_has(const struct reset *s, unsigned c)
{
    return c < 128 && (s->bits[c / 8] >> (c % 8)) & 1u;
}

static bool set_empty(const struct reset *s)
{
    for (size_t i = 0; i < sizeof s->bits; i++) {
        if (s->bits[i])
            return false;
    }
    return true;
}

/* One member of a POSIX bracket expression; the bracket's own metacharacters as [.c.]. */
static void re_emit_member(struct retr *st, unsigned c)
{
    char ch = (char)c;
    if (strchr("]-^[\\", ch)) {
        buf_append(&st->out, "[.", 2);
        buf_append_char(&st->out, ch);
        buf_append(&st->out, ".]", 2);
    } else {
        buf_append_char(&st->out, ch);
    }
}

/*
 * A set as POSIX: "[...]", or, negated, any ASCII byte outside it or any whole multibyte
 * character, so that a negated class matches one code point as in ECMA-262.
 */
static void re_emit_set(struct retr *st, const struct reset *s, bool negate)
{
    if (negate)
        buf_append_cstr(&st->out, "([^");
    else
        buf_append_char(&st->out, '[');
    for (unsigned c = 1; c < 128; c++) {
        unsigned end = c;
        if (!set_has(s, c))
            continue;
        while (end + 1 < 128 && set_has(s, end + 1))
            end++;
        re_emit_member(st, c);
        if (end >= c + 2)
            buf_append_char(&st->out, '-');
        if (end >= c + 1)
            re_emit_member(st, end);
        c = end;
    }
    if (negate)
        buf_append_cstr(&st->out, "\x80-\xff]|" RE_MULTIBYTE ")");
    else
        buf_append_char(&st->out, ']');
}

static void re_emit_literal(struct retr *st, char c)
{
    if (strchr(".[]()*+?{}|^$\\", c))
        buf_append_char(&st->out, '\\');
    buf_append_char(&st->out, c);
}

static bool re_atom(struct retr *st, unsigned long size)
{
    st->atoms[st->level] += size;
    st->last = size ? size : 1;
    if (st->atoms[st->level] > PATTERN_ATOMS_MAX)
        return re_refuse(st, "expands beyond %d atoms", PATTERN_ATOMS_MAX);
    return true;
}

/* One escape after a backslash (st->i on the letter): a character, a set or an assertion. */
struct reesc {
    enum { ESC_CHAR, ESC_SET, ESC_ASSERT } kind;
    unsigned ch;
    struct reset set;
    bool negate;
};

static bool re_escape_hex(struct retr *st, int digits, struct reesc *x)
{
    unsigned v = 0;
    for (int k = 1; k <= digits; k++) {
        int h = st->i + (size_t)k < st->n ? str_hex_digit(st->p[st->i + (size_t)k]) : -1;
        if (h < 0)
            return re_refuse(st, "malformed \\%c escape", st->p[st->i]);
        v = v * 16 + (unsigned)h;
    }
    if (v == 0 || v >= 0x80)
        return re_refuse(st, "\\%c escapes must be ASCII characters other than U+0000",
                         st->p[st->i]);
    st->i += (size_t)digits + 1;
    x->kind = ESC_CHAR;
    x->ch = v;
    return true;
}

static bool re_escape_class(struct retr *st, char c, bool in_class, struct reesc *x)
{
    char lower = (char)(c | 0x20);
    memset(&x->set, 0, sizeof x->set);
    x->kind = ESC_SET;
    x->negate = c != lower;
    if (x->negate && in_class)
        return re_refuse(st, "\\%c inside [...] is not supported", c);
    if (lower == 'd') {
        set_add(&x->set, '0', '9');
    } else if (lower == 'w') {
        set_add(&x->set, '0', '9');
        set_add(&x->set, 'A', 'Z');
        set_add(&x->set, 'a', 'z');
        set_add(&x->set, '_', '_');
    } else {
        set_add(&x->set, '\t', '\r');
        set_add(&x->set, ' ', ' ');
    }
    st->i++;
    return true;
}

static bool re_escape(struct retr *st, bool in_class, struct reesc *x)
{
    static const char ctrl[] = "t\tn\nv\vf\fr\r";
    const char *cp;
    char c;
    st->i++;
    if (st->i >= st->n)
        return re_refuse(st, "ends with a backslash");
    c = st->p[st->i];
    if (strchr("dDwWsS", c))
        return re_escape_class(st, c, in_class, x);
    if ((c == 'b' || c == 'B') && !in_class) {
        x->kind = ESC_ASSERT;
        x->ch = (unsigned char)c;
        st->i++;
        return true;
    }
    x->kind = ESC_CHAR;
    if (c == 'b') {
        x->ch = '\b';
    } else if ((cp = strchr(ctrl, c)) != NULL && (cp - ctrl) % 2 == 0) {
        x->ch = (unsigned char)cp[1];
    } else if (c == 'x' || c == 'u') {
        return re_escape_hex(st, c == 'x' ? 2 : 4, x);
    } else if (c >= '0' && c <= '9') {
        return re_refuse(st, "back-references and \\0 are not supported");
    } else if ((unsigned char)c >= 0x80) {
        return re_refuse(st, "escaped non-ASCII characters are not supported");
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return re_refuse(st, "unsupported escape \\%c", c);
    } else {
        x->ch = (unsigned char)c;
    }
    st->i++;
    return true;
}

/* One member of [...]: a character (*ch) or a class escape merged into s (*ch = 0). */
static bool re_class_member(struct retr *st, struct reset *s, unsigned *ch)
{
    struct reesc x;
    unsigned char c = (unsigned char)st->p[st->i];
    if (c == '\\') {
        if (!re_escape(st, true, &x))
            return false;
        if (x.kind == ESC_SET) {
            for (size_t k = 0; k < sizeof s->bits; k++)
                s->bits[k] |= x.set.bits[k];
            *ch = 0;
            return true;
        }
        *ch = x.ch;
        return true;
    }
    if (c >= 0x80)
        return re_refuse(st, "non-ASCII characters inside [...] are not supported");
    *ch = c;
    st->i++;
    return true;
}

/* A bracket expression; st->i is just after '['. */
static bool re_class(struct retr *st)
{
    struct reset s;
    bool negate = false;
    memset(&s, 0, sizeof s);
    if (st->i < st->n && st->p[st->i] == '^') {
        negate = true;
        st->i++;
    }
    if (st->i < st->n && st->p[st->i] == ']')
        return re_refuse(st, "empty classes [] and [^] are not supported");
    for (;;) {
        unsigned lo = 0, hi = 0; /* set by re_class_member; gcc -O3 cannot tell */
        if (st->i >= st->n)
            return re_refuse(st, "unterminated [");
        if (st->p[st->i] == ']') {
            st->i++;
            break;
        }
        if (!re_class_member(st, &s, &lo))
            return false;
        if (!lo)
            continue;
        if (st->i + 1 < st->n && st->p[st->i] == '-' && st->p[st->i + 1] != ']') {
            st->i++;
            if (!re_class_member(st, &s, &hi))
                return false;
            if (!hi)
                return re_refuse(st, "a range cannot end in a class escape");
            if (lo > hi)
                return re_refuse(st, "range out of order in [...]");
            set_add(&s, lo, hi);
        } else {
            set_add(&s, lo, lo);
        }
    }
    if (set_empty(&s) && !negate)
        return re_refuse(st, "empty class");
    re_emit_set(st, &s, negate);
    return re_atom(st, 1);
}

/* Reads a decimal bound; values over PATTERN_BOUND_MAX read as PATTERN_BOUND_MAX + 1. */
static bool re_number(struct retr *st, size_t *j, unsigned long *v)
{
    size_t start = *j;
    *v = 0;
    while (*j < st->n && st->p[*j] >= '0' && st->p[*j] <= '9') {
        *v = *v * 10 + (unsigned long)(st->p[*j] - '0');
        if (*v > PATTERN_BOUND_MAX)
            *v = PATTERN_BOUND_MAX + 1;
        (*j)++;
    }
    return *j > start;
}

/* Applies a quantifier of the given expansion factor; text is what POSIX gets. */
static bool re_quantify(struct retr *st, unsigned long factor, const char *text)
{
    if (!st->last)
        return re_refuse(st, "nothing to repeat before '%c'", st->p[st->i]);
    buf_append_cstr(&st->out, text);
    st->atoms[st->level] += st->last * (factor ? factor - 1 : 0);
    st->last = 0; /* ECMA-262 refuses a quantifier on a quantifier */
    if (st->atoms[st->level] > PATTERN_ATOMS_MAX)
        return re_refuse(st, "expands beyond %d atoms", PATTERN_ATOMS_MAX);
    return true;
}

/* '{' at st->i: a quantifier {n}, {n,}, {n,m}, or else a literal brace (ECMA-262 Annex B). */
static bool re_brace(struct retr *st)
{
    size_t j = st->i + 1;
    unsigned long lo, hi;
    bool open = false, has_hi = false;
    char text[48];
    if (!re_number(st, &j, &lo))
        goto literal;
    hi = lo;
    if (j < st->n && st->p[j] == ',') {
        unsigned long v;
        j++;
        has_hi = re_number(st, &j, &v);
        open = !has_hi;
        if (has_hi)
            hi = v;
    }
    if (j >= st->n || st->p[j] != '}')
        goto literal;
    if (lo > PATTERN_BOUND_MAX || hi > PATTERN_BOUND_MAX)
        return re_refuse(st, "repetition bounds over %d are not supported", PATTERN_BOUND_MAX);
    if (hi < lo)
        return re_refuse(st, "repetition bounds out of order");
    if (open)
        snprintf(text, sizeof text, "{%lu,}", lo);
    else if (has_hi)
        snprintf(text, sizeof text, "{%lu,%lu}", lo, hi);
    else
        snprintf(text, sizeof text, "{%lu}", lo);
    if (!re_quantify(st, open ? lo + 1 : (hi ? hi : 1), text))
        return false;
    st->i = j + 1;
    return true;
literal:
    buf_append_cstr(&st->out, "\\{");
    st->i++;
    return re_atom(st, 1);
}

static bool re_group_open(struct retr *st)
{
    const char *p = st->p;
    size_t i = st->i;
    if (st->level >= PATTERN_GROUPS_MAX)
        return re_refuse(st, "groups nested deeper than %d", PATTERN_GROUPS_MAX);
    if (i + 1 < st->n && p[i + 1] == '?') {
        if (i + 2 < st->n && p[i + 2] == ':') {
            i += 3;
        } else if (i + 3 < st->n && p[i + 2] == '<' && p[i + 3] != '=' && p[i + 3] != '!') {
            for (i += 3; i < st->n && p[i] != '>'; i++) {
                if (!((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z') && p[i] != '_' && p[i] != '$' &&
                    !(p[i] >= '0' && p[i] <= '9'))
                    return re_refuse(st, "malformed group name");
            }
            if (i >= st->n)
                return re_refuse(st, "unterminated group name");
            i++;
        } else {
            return re_refuse(st, "lookaround and other (?...) groups are not supported");
        }
    } else {
        i++;
    }
    st->i = i;
    buf_append_char(&st->out, '(');
    st->atoms[++st->level] = 0;
    st->last = 0;
    return true;
}

static bool re_group_close(struct retr *st)
{
    unsigned long size;
    if (st->level == 0)
        return re_refuse(st, "unmatched )");
    size = st->atoms[st->level--];
    buf_append_char(&st->out, ')');
    st->i++;
    return re_atom(st, size);
}

/* A character outside [...] that is not an escape, a class or a group. */
static bool re_plain(struct retr *st)
{
    unsigned char c = (unsigned char)st->p[st->i];
    struct reset s;
    size_t len;
    if (c == '.') {
        memset(&s, 0, sizeof s);
        set_add(&s, '\n', '\n');
        set_add(&s, '\r', '\r');
        re_emit_set(st, &s, true);
        st->i++;
        return re_atom(st, 1);
    }
    if (c < 0x80) {
        re_emit_literal(st, (char)c);
        st->i++;
        return re_atom(st, 1);
    }
    /* A multibyte character is one atom: a quantifier after it repeats all of its bytes. */
    len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (len > st->n - st->i)
        return re_refuse(st, "malformed UTF-8");
    buf_append_char(&st->out, '(');
    buf_append(&st->out, st->p + st->i, len);
    buf_append_char(&st->out, ')');
    st->i += len;
    return re_atom(st, 1);
}

static bool re_backslash(struct retr *st)
{
    struct reesc x;
    if (!re_escape(st, false, &x))
        return false;
    if (x.kind == ESC_ASSERT) {
        buf_append_char(&st->out, '\\');
        buf_append_char(&st->out, (char)x.ch);
        st->last = 0;
        return true;
    }
    if (x.kind == ESC_SET)
        re_emit_set(st, &x.set, x.negate);
    else
        re_emit_literal(st, (char)x.ch);
    return re_atom(st, 1);
}

static bool re_step(struct retr *st)
{
    char c = st->p[st->i];
    switch (c) {
    case '\\':
        return re_backslash(st);
    case '[':
        st->i++;
        return re_class(st);
    case '(':
        return re_group_open(st);
    case ')':
        return re_group_close(st);
    case '{':
        return re_brace(st);
    case '*':
    case '?':
    case '+':
        if (!re_quantify(st, c == '+' ? 2 : 1, c == '*' ? "*" : c == '+' ? "+" : "?"))
            return false;
        st->i++;
        if (st->i < st->n && st->p[st->i] == '?')
            st->i++; /* lazy: the same strings match */
        return true;
    case '|':
    case '^':
    case '$':
        buf_append_char(&st->out, c);
        st->last = 0;
        st->i++;
        return true;
    case '}':
    case ']':
        re_emit_literal(st, c);
        st->i++;
        return re_atom(st, 1);
    default:
        return re_plain(st);
    }
}

/*
 * Compiles the ECMA-262 pattern pat into re (regfree it on MD_OK). MD_ERR_VALUE with why set
 * when the pattern is refused, MD_ERR_NOMEM.
 */
enum md_err connect__pattern_compile(const json_t *pat, regex_t *re, char *why, size_t why_len)
{
    struct retr st;
    enum md_err rc = MD_ERR_VALUE;
    int rr;

    memset(&st, 0, sizeof st);
    st.p = json_string_value(pat);
    st.n = json_string_length(pat);
    buf_init(&st.out, PATTERN_OUT_MAX);
    if (MB_CUR_MAX > 1) {
        snprintf(why, why_len, "patterns need the C locale");
        goto out;
    }
    if (st.n > CONNECT_SCHEMA_PATTERN_MAX) {
        snprintf(why, why_len, "longer than %d bytes", CONNECT_SCHEMA_PATTERN_MAX);
        goto out;
    }
    if (strlen(st.p) != st.n) {
        snprintf(why, why_len, "holds U+0000");
        goto out;
    }
    while (st.i < st.n) {
        if (!re_step(&st)) {
            snprintf(why, why_len, "%s", st.why);
            goto out;
        }
    }
    if (st.level) {
        snprintf(why, why_len, "unterminated group");
        goto out;
    }
    buf_append_char(&st.out, '\0');
    if (st.out.err) {
        rc = st.out.err == MD_ERR_NOMEM ? MD_ERR_NOMEM : MD_ERR_VALUE;
        snprintf(why, why_len, "too long once translated");
        goto out;
    }
    rr = regcomp(re, st.out.p, REG_EXTENDED | REG_NOSUB);
    if (rr != 0) {
        if (rr == REG_ESPACE) {
            rc = MD_ERR_NOMEM;
        } else {
            char tmp[80];
            regerror(rr, re, tmp, sizeof tmp);
            snprintf(why, why_len, "refused by the regular expression engine: %s", tmp);
        }
        goto out;
    }
    rc = MD_OK;
out:
    buf_free(&st.out);
    return rc;
}
