/*
 * Strings: a borrowed slice and an owned, size-capped buffer with a sticky error.
 */
#ifndef MANDATE_CORE_STR_H
#define MANDATE_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* A borrowed run of bytes; not NUL-terminated in general. */
struct slice {
    const char *p;
    size_t len;
};

#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})

struct slice slice_from_cstr(const char *s);
bool slice_eq(struct slice a, struct slice b);
bool slice_eq_cstr(struct slice a, const char *b);
/* ASCII case-insensitive comparisons. */
bool slice_ieq(struct slice a, struct slice b);
bool slice_ieq_cstr(struct slice a, const char *b);
bool cstr_ieq(const char *a, const char *b);
/* A heap copy with a terminating NUL; caller frees. NULL on allocation failure. */
char *slice_dup(struct slice s);

/*
 * An owned, growable byte buffer, always NUL-terminated when p is not NULL. It refuses to grow
 * beyond max bytes (0 means 64 MiB); once an append fails, err is set and every later append is
 * a no-op, so a caller checks once at the end.
 */
struct buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    enum md_err err;
};

void buf_init(struct buf *b, size_t max);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_cstr(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
/* Hands the bytes to the caller (who frees them) and resets b. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

/* The value of a hexadecimal digit (either case), or -1. */
int str_hex_digit(int c);

/*
 * The largest n <= max such that s[0..n) does not end inside a UTF-8 sequence (s holds len
 * bytes): where to cut text that must stay valid UTF-8.
 */
size_t str_utf8_cut(const char *s, size_t len, size_t max);

/* Parses a whole decimal integer (optional sign) in [min,max]; false on any junk. */
bool str_to_ll(const char *s, size_t len, long long min, long long max, long long *out);

#endif
