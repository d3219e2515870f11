/*
 * `leakwatch report`, the command: argument parsing and wiring only (options, files, and which
 * output goes where). The only file of the report that touches the world (files, the clock,
 * the locale) and only in lw_report_run(): lw_report_command() takes all of it from its
 * caller.
 */
#include "report_internal.h"

#include <leakwatch/clock.h>

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* the command                                                                               */

static void usage(FILE *f)
{
    fputs("usage: leakwatch report [--function NAME] [--env ID] [--since TIME] [--until TIME]\n"
          "                        [--last N] [--wide] [--csv] [--svg FILE] [--html FILE]\n"
          "                        [--ascii] [FILE...]\n"
          "\n"
          "Reads leakwatch's log lines (the function's log stream, `aws logs tail` output,\n"
          "`aws logs filter-log-events --output json`, a Logs Insights CSV or JSON export;\n"
          "other lines are skipped and counted) from each FILE, or from standard input when\n"
          "FILE is - or none is given, and prints per environment a per-invocation memory\n"
          "table, a sparkline, the leak verdict, the projection, its death (when the next\n"
          "environment told it) and the alerts.\n"
          "\n"
          "  --function NAME  only environments of this function\n"
          "  --env ID         only the environment with this id (or a unique prefix of it)\n"
          "  --since TIME     only invocations that started at or after TIME: UTC ISO 8601\n"
          "                   (2026-01-05T13:00:00Z, 2026-01-05) or that long ago (30m, 1h, 2d)\n"
          "  --until TIME     only invocations that started at or before TIME\n"
          "  --last N         then only the last N invocations of each environment\n"
          "  --wide           every column: anonymous RSS, environment RSS, headroom, Lambda's\n"
          "                   max memory used, billed duration (the default fits 110 columns)\n"
          "  --csv            CSV with raw values (bytes, ms) instead of the table: a row\n"
          "                   per invocation or interval, and one per death\n"
          "  --svg FILE       also write a chart per environment to FILE\n"
          "  --html FILE      also write an HTML page: the deaths, then per environment the\n"
          "                   verdict, projection, culprit and death, the chart, the table\n"
          "                   (FILE - for either: standard output, in place of the table)\n"
          "  --ascii          plain ASCII sparklines (the default when the locale is not UTF-8)\n"
          "  -h, --help       this text\n"
          "\n"
          "Exit status: 0 ok, 1 an input could not be read or held no records, 2 usage error.\n",
          f);
}

static bool parse_size(const char *s, size_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

/* The value of option `name` given as "--name VALUE" or "--name=VALUE"; NULL when not it. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}
/* Writes one of the documents (SVG, HTML) to path, "-" being out. Returns false on failure. */
static bool write_doc(const struct lw_report *r, const struct lw_report_options *opt,
                      const char *path, FILE *out, FILE *err,
                      enum lw_err (*write)(const struct lw_report *,
                                           const struct lw_report_options *, FILE *))
{
    bool to_out = strcmp(path, "-") == 0;
    FILE *f = to_out ? out : fopen(path, "w");
    if (!f) {
        fprintf(err, "leakwatch report: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = write(r, opt, f) == LW_OK;
    if (!to_out && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(err, "leakwatch report: error writing %s\n", path);
    return ok;
}

int lw_report_command(const struct lw_report_context *ctx, int argc, char **argv)
{
    FILE *in = ctx->in, *out = ctx->out, *err = ctx->err;
    struct lw_report_options opt = {.ascii = !ctx->utf8};
    bool csv = false;
    const char *svg_path = NULL, *html_path = NULL;
    const char **files = NULL;
    size_t n_files = 0;
    int status = 0;
    struct lw_report *r = NULL;

    files = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*files));
    if (!files) {
        fputs("leakwatch report: out of memory\n", err);
        return 1;
    }
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool missing = false;
        const char *v;
        if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
            files[n_files++] = a;
        } else if (strcmp(a, "--") == 0) {
            only_files = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(out);
            status = 0;
            goto out;
        } else if (strcmp(a, "--csv") == 0) {
            csv = true;
        } else if (strcmp(a, "--wide") == 0) {
            opt.wide = true;
        } else if (strcmp(a, "--ascii") == 0) {
            opt.ascii = true;
        } else if ((v = opt_value(argc, argv, &i, "--env", &missing)) != NULL) {
            if (!*v) {
                fputs("leakwatch report: --env needs an environment id\n", err);
                goto usage_error;
            }
            opt.env_id = v;
        } else if ((v = opt_value(argc, argv, &i, "--function", &missing)) != NULL) {
            if (!*v) {
                fputs("leakwatch report: --function needs a function name\n", err);
                goto usage_error;
            }
            opt.function_name = v;
        } else if ((v = opt_value(argc, argv, &i, "--since", &missing)) != NULL ||
                   (v = opt_value(argc, argv, &i, "--until", &missing)) != NULL) {
            bool since = strncmp(a, "--since", 7) == 0;
            uint64_t *t = since ? &opt.since_ms : &opt.until_ms;
            if (lw_report_parse_time(v, ctx->now_ms, t) != LW_OK || *t == 0) {
                fprintf(err,
                        "leakwatch report: %s needs a UTC time (2026-01-05T13:00:00Z) or a "
                        "duration (30m, 1h, 2d), not '%s'\n",
                        since ? "--since" : "--until", v);
                goto usage_error;
            }
        } else if ((v = opt_value(argc, argv, &i, "--last", &missing)) != NULL) {
            if (!parse_size(v, &opt.last)) {
                fprintf(err, "leakwatch report: --last needs a positive number, not '%s'\n", v);
                goto usage_error;
            }
        } else if ((v = opt_value(argc, argv, &i, "--svg", &missing)) != NULL) {
            if (!*v) {
                fputs("leakwatch report: --svg needs a file name\n", err);
                goto usage_error;
            }
            svg_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--html", &missing)) != NULL) {
            if (!*v) {
                fputs("leakwatch report: --html needs a file name\n", err);
                goto usage_error;
            }
            html_path = v;
        } else if (missing) {
            fprintf(err, "leakwatch report: %s needs a value\n", a);
            goto usage_error;
        } else {
            fprintf(err, "leakwatch report: unknown option '%s'\n", a);
            goto usage_error;
        }
    }
    bool svg_to_out = svg_path && strcmp(svg_path, "-") == 0;
    bool html_to_out = html_path && strcmp(html_path, "-") == 0;
    if ((int)csv + (int)svg_to_out + (int)html_to_out > 1) {
        fputs("leakwatch report: --csv, --svg - and --html - all want standard output: "
              "choose one\n",
              err);
        goto usage_error;
    }
    if (opt.since_ms && opt.until_ms && opt.since_ms > opt.until_ms) {
        fputs("leakwatch report: --since is after --until\n", err);
        goto usage_error;
    }
    if (n_files == 0) {
        /* a terminal on stdin means the user forgot the file, not that logs will be typed */
        if (isatty(fileno(in))) {
            fputs("leakwatch report: no input (give a FILE, or - to read standard input)\n", err);
            goto usage_error;
        }
        files[n_files++] = "-";
    }

    r = lw_report_new();
    if (!r) {
        fputs("leakwatch report: out of memory\n", err);
        status = 1;
        goto out;
    }
    bool stdin_done = false;
    for (size_t i = 0; i < n_files; i++) {
        bool is_stdin = strcmp(files[i], "-") == 0;
        if (is_stdin && stdin_done)
            continue;
        FILE *f = is_stdin ? in : fopen(files[i], "r");
        if (!f) {
            fprintf(err, "leakwatch report: cannot read %s: %s\n", files[i], strerror(errno));
            status = 1;
            continue;
        }
        enum lw_err e = lw_report_set_source(r, is_stdin ? "standard input" : files[i]);
        if (e == LW_OK)
            e = lw_report_read(r, f);
        if (e == LW_ERR_IO)
            fprintf(err, "leakwatch report: error reading %s: %s\n",
                    is_stdin ? "standard input" : files[i], strerror(errno));
        if (is_stdin)
            stdin_done = true;
        else
            fclose(f);
        if (e == LW_ERR_NOMEM) {
            fputs("leakwatch report: out of memory\n", err);
            status = 1;
            goto out;
        }
        if (e != LW_OK)
            status = 1;
    }
    if (lw_report_finish(r) != LW_OK) {
        fputs("leakwatch report: out of memory\n", err);
        status = 1;
        goto out;
    }
    if (lw_report_env_count(r) == 0) {
        struct lw_report_stats st;
        lw_report_stats(r, &st);
        fprintf(err, "leakwatch report: no leakwatch records in %llu lines\n",
                (unsigned long long)st.lines);
        lw_report_write_stats(r, err);
        status = 1;
        goto out;
    }
    if (lw_report_selected_count(r, &opt) == 0) {
        if (opt.env_id && !opt.function_name && !opt.since_ms && !opt.until_ms)
            fprintf(err, "leakwatch report: --env '%s' matches no single environment (of %zu)\n",
                    opt.env_id, lw_report_env_count(r));
        else
            fprintf(err,
                    "leakwatch report: no environment matches --function, --env, --since and "
                    "--until (of %zu)\n",
                    lw_report_env_count(r));
        status = 1;
        goto out;
    }

    if (svg_path && !write_doc(r, &opt, svg_path, out, err, lw_report_write_svg))
        status = 1;
    if (html_path && !write_doc(r, &opt, html_path, out, err, lw_report_write_html))
        status = 1;
    if (csv) {
        if (lw_report_write_csv(r, &opt, out) != LW_OK)
            status = 1;
        lw_report_write_stats(r, err);
    } else if (!svg_to_out && !html_to_out) {
        if (lw_report_write_text(r, &opt, out) != LW_OK)
            status = 1;
    } else {
        lw_report_write_stats(r, err);
    }
    goto out;

usage_error:
    usage(err);
    status = 2;
out:
    lw_report_free(r);
    free(files);
    if (fflush(out) != 0 && status == 0)
        status = 1;
    return status;
}

/* Whether the locale's character set is UTF-8 (after setlocale() from the environment). */
static bool locale_is_utf8(void)
{
    if (!setlocale(LC_CTYPE, ""))
        return false;
    const char *cs = nl_langinfo(CODESET);
    bool utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
    setlocale(LC_CTYPE, "C"); /* keep number formatting and ctype as the rest expects */
    return utf8;
}

int lw_report_run(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    struct lw_report_context ctx = {
        .in = in,
        .out = out,
        .err = err,
        .now_ms = lw_clock_wall_ms(lw_clock_system()),
        .utf8 = locale_is_utf8(),
    };
    return lw_report_command(&ctx, argc, argv);
}

int lw_report_main(int argc, char **argv)
{
    return lw_report_run(argc, argv, stdin, stdout, stderr);
}
