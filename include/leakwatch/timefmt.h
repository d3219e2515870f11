/*
 * Dates and durations as text: ISO 8601 / RFC 3339 timestamps (the Telemetry API's "time",
 * the report's --since/--until), HTTP-dates (Retry-After), and durations in minutes the way
 * every output says them. Pure; times are Unix epoch milliseconds, UTC.
 */
#ifndef LEAKWATCH_TIMEFMT_H
#define LEAKWATCH_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31). */
int64_t lw_time_days_from_civil(int64_t y, unsigned m, unsigned d);

/*
 * A timestamp from s[0..len) (no NUL needed). Without flags, RFC 3339 as the Telemetry API
 * writes it: YYYY-MM-DD, 'T' (or 't', ' '), HH:MM:SS, an optional fraction (digits past the
 * millisecond dropped), and a zone, required: 'Z' or +HH:MM / -HH:MM (applied).
 * LW_TIME_LENIENT, for times a person types: the date alone, or HH:MM without seconds, a ','
 * before the fraction, and no zone (UTC); the only offsets accepted are +00:00 and +0000, since
 * anything else in a command line is more often a mistake than meant.
 * Dates before 1970 and impossible dates (2025-02-29) are LW_ERR_INVALID.
 */
#define LW_TIME_LENIENT 1u
enum lw_err lw_time_parse_iso8601(const char *s, size_t len, unsigned flags, uint64_t *out_ms);

/* An IMF-fixdate HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT"), as Retry-After carries it. */
enum lw_err lw_time_parse_http_date(const char *s, uint64_t *out_ms);

/* A duration given in minutes, the way outputs say it: "45 s", "3.5 min", "42 min"; "?" for a
 * negative or NaN value. */
void lw_time_fmt_minutes(double minutes, char *dst, size_t cap);

#endif
