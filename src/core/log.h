/*
 * Logging: one line per event to stderr, `key=value` pairs, with the request id of the
 * current thread on every line. Never pass a token, an Authorization header, a password, a
 * credential or a connection string with a password.
 */
#ifndef MANDATE_CORE_LOG_H
#define MANDATE_CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
/* Sets the request id printed on this thread's lines; NULL clears it. Borrowed. */
void log_set_request_id(const char *rid);
/* fmt gives the key=value pairs after the time, level and request id. */
void log_event(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes s into out (n bytes) as a log value that cannot break the line format: characters
 * other than printable ASCII (and '"', '\\', space, '=') are escaped as \xHH, and the whole
 * is quoted when anything was escaped. Truncates to fit. Returns out.
 */
const char *log_quote(const char *s, char *out, size_t n);

#define log_info(...) log_event(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_event(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, __VA_ARGS__)

#endif
