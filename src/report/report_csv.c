/*
 * `leakwatch report --csv`: one row per record (invocation or interval) and one per death,
 * with the raw values (bytes, milliseconds, megabytes as the EMF line had them), for a
 * spreadsheet or a program; the first column says which a row is. RFC 4180: a header row,
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

/* A cell of leakwatch's own: a count, "true" or "false", a list of gap names. */
static void csv_bool(FILE *out, bool v)
{
    fputs(v ? "true" : "false", out);
}

/* A death's figures that have a column of their own (the memory limit has the metric's). */
static bool death_column(enum lw_report_death_figure id)
{
    return id != LW_D_MEM_LIMIT && id != LW_D_RESTORED;
}

static void write_header(FILE *out)
{
    fputs("record,environment_id,function_name,function_version,seq,request_id,start_time_ms,"
          "end_time_ms,cold_start,restored,status,error_type,peak_method,incomplete,verdict,"
          "culprit,culprit_pid,verdict_reason,unknown_processes",
          out);
    for (int m = 0; m < LW_M_COUNT; m++)
        fprintf(out, ",%s", lw_report_metric_names[m]);
    fputs(",told_by_environment_id,Cause,OomForms", out);
    for (int d = 0; d < LW_D_COUNT; d++)
        if (death_column((enum lw_report_death_figure)d))
            fprintf(out, ",%s", lw_report_death_names[d]);
    fputs(",DeadEnvironmentLifetimeSeconds,DeadEnvironmentInvocations,ShutdownReason\r\n", out);
}

/* The columns every row has: what the record is, whose, and when. */
static void write_start(FILE *out, const struct lw_report_entry *e, const char *record)
{
    fprintf(out, "%s,", record);
    csv_str(out, e->env_id);
    fputc(',', out);
    csv_str(out, e->function_name);
    fputc(',', out);
    csv_str(out, e->function_version);
    fputc(',', out);
    if (e->kind != LW_REPORT_DEATH)
        fprintf(out, "%llu", (unsigned long long)e->seq);
    fputc(',', out);
    csv_str(out, e->request_id);
    fputc(',', out);
    if (e->start_time_ms)
        fprintf(out, "%llu", (unsigned long long)e->start_time_ms);
    fputc(',', out);
    if (e->end_time_ms)
        fprintf(out, "%llu", (unsigned long long)e->end_time_ms);
    fputc(',', out);
}

/* The death columns: empty for a record. */
static void write_death_columns(FILE *out, const struct lw_report_entry *d)
{
    if (!d) {
        for (int i = 0; i < LW_D_COUNT; i++)
            if (death_column((enum lw_report_death_figure)i))
                fputc(',', out);
        fputs(",,,,,,\r\n", out);
        return;
    }
    fputc(',', out);
    csv_str(out, d->told_by);
    fputc(',', out);
    csv_str(out, d->ending);
    fputc(',', out);
    csv_str(out, d->oom_forms);
    for (int i = 0; i < LW_D_COUNT; i++) {
        enum lw_report_death_figure id = (enum lw_report_death_figure)i;
        if (!death_column(id))
            continue;
        fputc(',', out);
        if (!lw_report_death_has(d, id))
            continue;
        if (lw_report_death_flag(id))
            csv_bool(out, d->value[id] == 1);
        else
            csv_num(out, d->value[id]);
    }
    fputc(',', out);
    if (d->have_lifetime)
        csv_num(out, d->lifetime_seconds);
    fputc(',', out);
    if (d->have_invocations)
        fprintf(out, "%llu", (unsigned long long)d->invocations);
    fputc(',', out);
    csv_str(out, d->reason);
    fputs("\r\n", out);
}

static void write_record(FILE *out, const struct lw_report_entry *e)
{
    write_start(out, e, e->kind == LW_REPORT_INTERVAL ? "interval" : "invocation");
    csv_bool(out, e->cold_start);
    fputc(',', out);
    csv_bool(out, e->restored);
    fputc(',', out);
    csv_str(out, e->status);
    fputc(',', out);
    csv_str(out, e->error_type);
    fputc(',', out);
    csv_str(out, e->peak_method);
    fputc(',', out);
    if (e->incomplete) {
        char gaps[80];
        lw_report_fmt_gaps(e->incomplete, gaps, sizeof(gaps));
        fputs(gaps, out);
    }
    fputc(',', out);
    csv_str(out, e->verdict);
    fputc(',', out);
    csv_str(out, e->culprit);
    fputc(',', out);
    if (e->culprit_pid)
        fprintf(out, "%u", (unsigned)e->culprit_pid);
    fputc(',', out);
    csv_str(out, e->reason);
    fprintf(out, ",%u", e->unknown_processes);
    for (int m = 0; m < LW_M_COUNT; m++) {
        fputc(',', out);
        if (lw_report_entry_has(e, (enum lw_metric_id)m))
            csv_num(out, e->value[m]);
    }
    write_death_columns(out, NULL);
}

/*
 * A death as a row of its own: the record columns that mean the same hold its figures (its
 * environment's start and end, Lambda's last status and error type, the last verdict, the
 * memory limit), the death columns the rest.
 */
static void write_death(FILE *out, const struct lw_report_entry *d)
{
    write_start(out, d, "death");
    fputc(',', out); /* cold_start: not a record */
    if (lw_report_death_has(d, LW_D_RESTORED))
        csv_bool(out, d->value[LW_D_RESTORED] == 1);
    fputc(',', out);
    csv_str(out, d->status);
    fputc(',', out);
    csv_str(out, d->error_type);
    fputs(",,,", out); /* peak_method, incomplete */
    csv_str(out, d->verdict);
    fputs(",,,,", out); /* culprit, culprit_pid, verdict_reason, unknown_processes */
    for (int m = 0; m < LW_M_COUNT; m++) {
        fputc(',', out);
        if (m == LW_M_MEM_LIMIT && lw_report_death_has(d, LW_D_MEM_LIMIT))
            csv_num(out, d->value[LW_D_MEM_LIMIT]);
    }
    write_death_columns(out, d);
}

enum lw_err lw_report_write_csv(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out)
{
    write_header(out);
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    for (size_t k = 0; k < lw_report_env_count(r); k++) {
        const struct lw_report_env *env = lw_report_env_at(r, k);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        for (size_t i = 0; i < w.n_inv; i++)
            write_record(out, &w.inv[i]);
        if (env->death)
            write_death(out, env->death);
    }
    return ferror(out) ? LW_ERR_IO : LW_OK;
}
