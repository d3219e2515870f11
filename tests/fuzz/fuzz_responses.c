/*
 * libFuzzer target for what servers answer leakwatch: the Extensions API's register and
 * event/next response bodies (lambda_api.h) and an OTLP receiver's Retry-After header
 * (exporter.h). The same bytes go to every parser. Besides the sanitizers, the target checks
 * the promises and aborts when one is broken:
 *   - an event is INVOKE (with a request id) or SHUTDOWN (with a known reason); strings are
 *     NUL-terminated; the event written back as JSON parses to the same event;
 *   - an HTTP-date that is accepted names the same instant as the C library's calendar, and
 *     a retry is only ever scheduled before the deadline.
 */
/* fuzz-seeds: tests/fuzz/corpus/responses */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include <leakwatch/exporter.h>
#include <leakwatch/lambda_api.h>
#include <leakwatch/timefmt.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STR_OK(s) check(strnlen((s), sizeof(s)) < sizeof(s))

static void fuzz_event(const char *buf, size_t len)
{
    static struct lw_lambda_event ev, again;
    enum lw_err err = lw_lambda_parse_event(buf, len, &ev);
    STR_OK(ev.request_id);
    STR_OK(ev.invoked_function_arn);
    if (err != LW_OK) {
        check(err == LW_ERR_INVALID || err == LW_ERR_UNSUPPORTED);
        return;
    }
    check(ev.kind == LW_EVENT_INVOKE || ev.kind == LW_EVENT_SHUTDOWN);
    check(ev.kind != LW_EVENT_INVOKE || ev.request_id[0] != '\0');
    check(ev.shutdown_reason == LW_SHUTDOWN_SPINDOWN || ev.shutdown_reason == LW_SHUTDOWN_TIMEOUT ||
          ev.shutdown_reason == LW_SHUTDOWN_FAILURE);
    check(ev.kind == LW_EVENT_SHUTDOWN || ev.shutdown_reason == LW_SHUTDOWN_SPINDOWN);

    /* Written back as the platform would send it, the event parses to the same. */
    cJSON *o = cJSON_CreateObject();
    check(o != NULL);
    cJSON_AddStringToObject(o, "eventType", ev.kind == LW_EVENT_INVOKE ? "INVOKE" : "SHUTDOWN");
    if (ev.deadline_ms > 0)
        cJSON_AddNumberToObject(o, "deadlineMs", (double)ev.deadline_ms);
    cJSON_AddStringToObject(o, "requestId", ev.request_id);
    cJSON_AddStringToObject(o, "invokedFunctionArn", ev.invoked_function_arn);
    if (ev.kind == LW_EVENT_SHUTDOWN)
        cJSON_AddStringToObject(o, "shutdownReason", lw_shutdown_reason_name(ev.shutdown_reason));
    char *text = cJSON_PrintUnformatted(o);
    check(text != NULL);
    check(lw_lambda_parse_event(text, strlen(text), &again) == LW_OK);
    check(again.kind == ev.kind && again.shutdown_reason == ev.shutdown_reason);
    /* cJSON writes 15 significant digits: exact for any epoch ms before the year 33658 */
    if (ev.deadline_ms < 1000000000000000ull)
        check(again.deadline_ms == ev.deadline_ms);
    check(strcmp(again.request_id, ev.request_id) == 0);
    check(strcmp(again.invoked_function_arn, ev.invoked_function_arn) == 0);
    cJSON_free(text);
    cJSON_Delete(o);
}

static void fuzz_register(const char *buf, size_t len)
{
    struct lw_register_info info;
    enum lw_err err = lw_lambda_parse_register(buf, len, &info);
    check(err == LW_OK || err == LW_ERR_INVALID);
    STR_OK(info.function_name);
    STR_OK(info.function_version);
    STR_OK(info.handler);
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month] + (month == 1 && leap);
}

static void fuzz_retry_after(const char *s)
{
    uint64_t ms;
    if (lw_time_parse_http_date(s, &ms) == LW_OK) {
        check(ms % 1000 == 0);
        /* a real calendar date without a leap second reads back as itself (but the weekday,
         * which the parser does not check) */
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        char back[64];
        check(gmtime_r(&t, &tm) != NULL);
        check(strftime(back, sizeof(back), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 29);
        static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        const char *m = strstr(months, (char[4]){s[8], s[9], s[10], '\0'});
        check(m != NULL && (m - months) % 3 == 0);
        int month = (int)(m - months) / 3;
        int day = (s[5] - '0') * 10 + (s[6] - '0');
        int year = ((s[12] - '0') * 10 + (s[13] - '0')) * 100 + (s[14] - '0') * 10 + (s[15] - '0');
        int sec = (s[23] - '0') * 10 + (s[24] - '0');
        if (day <= days_in_month(year, month) && sec < 60)
            check(strcmp(back + 5, s + 5) == 0);
    }

    static const struct lw_retry_policy policy = {5, 100, 2000};
    const uint64_t now_ms = 1767225600000ull;
    for (uint32_t attempt = 1; attempt <= 5; attempt++) {
        struct lw_retry_decision d =
            lw_exporter_retry_decision(503, s, attempt, now_ms, now_ms + 10000, &policy, attempt);
        check(d.action == LW_RETRY_AGAIN || d.action == LW_RETRY_GIVE_UP);
        if (d.action == LW_RETRY_AGAIN)
            check(d.delay_ms < 10000);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that any read past the end is caught, and a NUL-terminated one
     * for the header value. */
    char *buf = malloc(size ? size : 1);
    char *str = malloc(size + 1);
    check(buf != NULL && str != NULL);
    memcpy(buf, data, size);
    memcpy(str, data, size);
    str[size] = '\0';
    fuzz_event(buf, size);
    fuzz_register(buf, size);
    fuzz_retry_after(str);
    free(buf);
    free(str);
    return 0;
}
