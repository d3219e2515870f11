#include <leakwatch/timefmt.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int64_t lw_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil: shift the year to start in March, count whole eras. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

struct scan {
    const char *s;
    size_t len;
    size_t pos;
};

static bool at(const struct scan *c, char ch)
{
    return c->pos < c->len && c->s[c->pos] == ch;
}

static bool take(struct scan *c, char ch)
{
    if (!at(c, ch))
        return false;
    c->pos++;
    return true;
}

/* Exactly n digits. */
static bool digits(struct scan *c, unsigned n, unsigned *out)
{
    unsigned v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (c->pos >= c->len || c->s[c->pos] < '0' || c->s[c->pos] > '9')
            return false;
        v = v * 10 + (unsigned)(c->s[c->pos++] - '0');
    }
    *out = v;
    return true;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool date_ok(unsigned y, unsigned mo, unsigned d)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] + (mo == 2 && leap(y));
}

enum lw_err lw_time_parse_iso8601(const char *s, size_t len, unsigned flags, uint64_t *out_ms)
{
    const bool lenient = flags & LW_TIME_LENIENT;
    struct scan c = {.s = s, .len = s ? len : 0, .pos = 0};
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    if (!digits(&c, 4, &y) || !take(&c, '-') || !digits(&c, 2, &mo) || !take(&c, '-') ||
        !digits(&c, 2, &d) || !date_ok(y, mo, d))
        return LW_ERR_INVALID;
    int64_t offset_s = 0;
    if (take(&c, 'T') || take(&c, 't') || take(&c, ' ')) {
        if (!digits(&c, 2, &h) || !take(&c, ':') || !digits(&c, 2, &mi))
            return LW_ERR_INVALID;
        bool have_sec = take(&c, ':');
        if (have_sec && !digits(&c, 2, &sec))
            return LW_ERR_INVALID;
        if (!have_sec && !lenient)
            return LW_ERR_INVALID;
        if (have_sec && (take(&c, '.') || (lenient && take(&c, ',')))) {
            unsigned scale = 100;
            if (c.pos >= c.len || c.s[c.pos] < '0' || c.s[c.pos] > '9')
                return LW_ERR_INVALID;
            for (; c.pos < c.len && c.s[c.pos] >= '0' && c.s[c.pos] <= '9'; c.pos++) {
                ms += (unsigned)(c.s[c.pos] - '0') * scale; /* past the millisecond: dropped */
                scale /= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return LW_ERR_INVALID;
        if (take(&c, 'Z') || take(&c, 'z')) {
            /* UTC */
        } else if (at(&c, '+') || at(&c, '-')) {
            int sign = c.s[c.pos++] == '-' ? -1 : 1;
            unsigned oh, om;
            if (!digits(&c, 2, &oh))
                return LW_ERR_INVALID;
            bool colon = take(&c, ':');
            if (!digits(&c, 2, &om) || oh > 23 || om > 59 || (!colon && !lenient))
                return LW_ERR_INVALID;
            if (lenient && (sign < 0 || oh != 0 || om != 0))
                return LW_ERR_INVALID;
            offset_s = sign * (int64_t)(oh * 3600 + om * 60);
        } else if (!lenient) {
            return LW_ERR_INVALID; /* a time without a zone is ambiguous */
        }
    } else if (!lenient) {
        return LW_ERR_INVALID;
    } else if (take(&c, 'Z') || take(&c, 'z')) {
        /* a date in UTC */
    }
    if (c.pos != c.len)
        return LW_ERR_INVALID;
    int64_t t = lw_time_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    if (t < 0)
        return LW_ERR_INVALID;
    *out_ms = (uint64_t)t * 1000u + ms;
    return LW_OK;
}

enum lw_err lw_time_parse_http_date(const char *s, uint64_t *out_ms)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, 29 characters */
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (s == NULL || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT") != 0)
        return LW_ERR_INVALID;
    int month = -1;
    for (int i = 0; i < 12; i++) {
        if (strncmp(s + 8, months + 3 * i, 3) == 0)
            month = i;
    }
    unsigned day, year, hh, mm, ss;
    struct scan c = {.s = s, .len = 29, .pos = 5};
    bool ok = month >= 0 && digits(&c, 2, &day);
    c.pos = 12;
    ok = ok && digits(&c, 4, &year);
    c.pos = 17;
    ok = ok && digits(&c, 2, &hh);
    c.pos = 20;
    ok = ok && digits(&c, 2, &mm);
    c.pos = 23;
    ok = ok && digits(&c, 2, &ss);
    if (!ok || !date_ok(year, (unsigned)month + 1, day) || hh > 23 || mm > 59 || ss > 60)
        return LW_ERR_INVALID;
    int64_t days = lw_time_days_from_civil(year, (unsigned)month + 1, day);
    *out_ms = ((uint64_t)days * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
    return LW_OK;
}

void lw_time_fmt_minutes(double minutes, char *dst, size_t cap)
{
    if (!(minutes >= 0))
        snprintf(dst, cap, "?");
    else if (minutes < 1)
        snprintf(dst, cap, "%.0f s", minutes * 60.0);
    else if (minutes < 10)
        snprintf(dst, cap, "%.1f min", minutes);
    else
        snprintf(dst, cap, "%.0f min", minutes);
}
