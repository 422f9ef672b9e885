#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/time.h"

static enum log_level min_level = LOG_INFO;
static _Thread_local const char *request_id;

void log_set_level(enum log_level lvl)
{
    min_level = lvl;
}

void log_set_request_id(const char *rid)
{
    request_id = rid;
}

void log_event(enum log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    char ts[TIME_RFC3339_LEN];
    int n;
    va_list ap;

    if (lvl < min_level)
        return;
    time_now_rfc3339(ts);
    n = snprintf(line, sizeof line, "ts=%s level=%s rid=%s ", ts, names[lvl],
                 request_id ? request_id : "-");
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line, so concurrent threads never interleave within a line. */
    size_t len = strlen(line);
    if (len < sizeof line - 1) {
        line[len++] = '\n';
    } else {
        line[sizeof line - 2] = '\n';
        len = sizeof line - 1;
    }
    fwrite(line, 1, len, stderr);
}

const char *log_quote(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    bool quoted = false;
    if (n < 8) {
        if (n)
            out[0] = '\0';
        return out;
    }
    if (!s)
        s = "-";
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=')
            quoted = true;
    }
    if (quoted)
        out[o++] = '"';
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool esc = c < ' ' || c >= 0x7f || c == '"' || c == '\\';
        if (o + (esc ? 4 : 1) + 2 >= n)
            break;
        if (esc) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (quoted)
        out[o++] = '"';
    out[o] = '\0';
    return out;
}
