/*
 * `leakwatch report --csv`: one row per invocation with the raw values (bytes, milliseconds,
 * megabytes as the EMF line had them), for a spreadsheet or a program. RFC 4180: a header row,
 * CRLF line ends, fields with a comma or a quote quoted. Numbers are written by leakwatch and
 * stay numbers (a negative growth starts with '-'); strings from the log are made harmless to
 * a spreadsheet (csv_str).
 */
#include "report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * A string cell. The string came from the log, and a spreadsheet runs a cell that starts with
 * '=', '+', '-' or '@' (or a tab or a carriage return, which some strip first) as a formula:
 * such a cell gets a leading "'", which spreadsheets read as "this is text" (OWASP's rule for
 * CSV injection). Control characters and bytes that are not UTF-8 become '?', so a cell never
 * holds a line break. Quoted per RFC 4180 when it holds a comma or a quote.
 */
static void csv_str(FILE *out, const char *s)
{
    bool formula = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
    bool quoted = strpbrk(s, ",\"") != NULL;
    if (quoted)
        fputc('"', out);
    if (formula)
        fputc('\'', out);
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        bool safe;
        size_t l = lw_report_safe_char(s + i, n - i, &safe);
        if (!safe)
            fputc('?', out);
        else if (s[i] == '"')
            fputs("\"\"", out);
        else
            fwrite(s + i, 1, l, out);
        i += l;
    }
    if (quoted)
        fputc('"', out);
}

/* A number as the EMF line had it: integers exactly, others shortest round-trip. */
static void csv_num(FILE *out, double v)
{
    if (floor(v) == v && fabs(v) < 1e15) {
        fprintf(out, "%.0f", v);
        return;
    }
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fputs(buf, out);
}

enum lw_err lw_report_write_csv(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out)
{
    fputs("environment_id,function_name,function_version,seq,request_id,start_time_ms,"
          "end_time_ms,cold_start,status,error_type,peak_method,incomplete,verdict,culprit,"
          "verdict_reason",
          out);
    for (int m = 0; m < LW_M_COUNT; m++)
        fprintf(out, ",%s", lw_report_metric_names[m]);
    fputs("\r\n", out); /* RFC 4180 line breaks */

    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    for (size_t k = 0; k < lw_report_env_count(r); k++) {
        const struct lw_report_env *env = lw_report_env_at(r, k);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        for (size_t i = 0; i < w.n_inv; i++) {
            const struct lw_report_entry *e = &w.inv[i];
            csv_str(out, e->env_id);
            fputc(',', out);
            csv_str(out, e->function_name);
            fputc(',', out);
            csv_str(out, e->function_version);
            fprintf(out, ",%llu,", (unsigned long long)e->seq);
            csv_str(out, e->request_id);
            fputc(',', out);
            if (e->start_time_ms)
                fprintf(out, "%llu", (unsigned long long)e->start_time_ms);
            fputc(',', out);
            if (e->end_time_ms)
                fprintf(out, "%llu", (unsigned long long)e->end_time_ms);
            fprintf(out, ",%s,", e->cold_start ? "true" : "false");
            csv_str(out, e->status);
            fputc(',', out);
            csv_str(out, e->error_type);
            fputc(',', out);
            csv_str(out, e->peak_method);
            fputc(',', out);
            if (e->incomplete) {
                char gaps[64];
                lw_report_fmt_gaps(e->incomplete, gaps, sizeof(gaps));
                fputs(gaps, out);
            }
            fputc(',', out);
            csv_str(out, e->verdict);
            fputc(',', out);
            csv_str(out, e->culprit);
            fputc(',', out);
            csv_str(out, e->reason);
            for (int m = 0; m < LW_M_COUNT; m++) {
                fputc(',', out);
                if (lw_report_entry_has(e, (enum lw_metric_id)m))
                    csv_num(out, e->value[m]);
            }
            fputs("\r\n", out);
        }
    }
    return ferror(out) ? LW_ERR_IO : LW_OK;
}
