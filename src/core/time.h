/* Wall-clock time in the RFC 3339 form that SCIM's dateTime uses. */
#ifndef MANDATE_CORE_TIME_H
#define MANDATE_CORE_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define TIME_RFC3339_LEN 64

/* Writes e.g. "2026-11-28T10:12:08.123Z" into out (at least TIME_RFC3339_LEN bytes). */
void time_now_rfc3339(char out[TIME_RFC3339_LEN]);
/* Milliseconds since the Unix epoch, wall clock. */
int64_t time_now_ms(void);
/* Milliseconds of a monotonic clock, for durations. */
int64_t time_mono_ms(void);
/*
 * The absolute time ms milliseconds from now on clock (CLOCK_REALTIME for a default
 * pthread_cond_timedwait, CLOCK_MONOTONIC for a condition variable set to it).
 */
struct timespec time_deadline(clockid_t clock, int64_t ms);
/* Formats epoch milliseconds as above. */
void time_format_ms(int64_t ms, char out[TIME_RFC3339_LEN]);
/*
 * Parses an xsd:dateTime / RFC 3339 string (fractional seconds and any offset, or none, which
 * is taken as UTC) into epoch milliseconds. False when it is not a dateTime.
 */
bool time_parse_rfc3339(const char *s, int64_t *out_ms);

#endif
