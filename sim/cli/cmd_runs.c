/* cmd_runs: `runs`, `report` and `plot`: what is in the database, a run's report on stdout,
 * and its plots drawn again. Reads runs through sim/store; never writes results. */
#include <getopt.h>
#include <limits.h>
#include <math.h>

#include "sim/cli/cli.h"
#include "sim/cli/runner.h"
#include "sim/render/report.h"
#include "sim/render/report_measure.h"
#include "sim/render/report_serving.h"
#include "sim/store/run.h"
#include "sim/text/text.h"

const char CLI_USAGE_RUNS[] =
    "usage: tokensim runs [--db FILE] [--limit N]\n"
    "\n"
    "Lists the runs in the database (default tokensim.db), newest first: id, kind (scenario,\n"
    "sweep, measure), status (running, done, failed), start and finish time (UTC), number of\n"
    "fleets, name and report folder; a failed run's error on the line below. --limit N shows\n"
    "the newest N. Reads the database only.\n";

const char CLI_USAGE_REPORT[] =
    "usage: tokensim report [--db FILE] [--format md|html|csv|json] RUN\n"
    "\n"
    "Prints the report of run RUN (an id from `tokensim runs`, or `latest`) on standard output:\n"
    "md (default) and html are the report.md and report.html of the run's folder; csv and json\n"
    "are read from the database: every metric row (fleet, metric, value, unit, p5, p50, p95;\n"
    "p5..p95 empty unless the run was Monte Carlo).\n";

const char CLI_USAGE_PLOT[] =
    "usage: tokensim plot [--db FILE] RUN\n"
    "\n"
    "Writes the plots of run RUN (an id from `tokensim runs`, or `latest`) again into its\n"
    "folder (NAME.gp and NAME.dat, drawn by gnuplot as NAME.png and NAME.svg) and rewrites\n"
    "report.html. Edit a .gp file and run `gnuplot NAME.gp` in the folder to restyle one plot.\n";

/* Prints s inert (a stored name cannot drive the terminal), padded to width. */
static void print_plain(const char *s, int width)
{
    char *inert = txt_inert_dup(s);
    fputs(inert ? inert : "?", stdout);
    for (int n = inert ? (int)strlen(inert) : 1; n < width; n++)
        putchar(' ');
    free(inert);
}

static int print_run_row(void *ctx, const StoreRunRow *r, TsErr *err)
{
    (void)err;
    int *count = ctx;
    if ((*count)++ == 0)
        printf("%6s  %-8s  %-7s  %-20s  %-20s  %6s  %-24s  %s\n", "id", "kind", "status",
               "started (UTC)", "finished (UTC)", "fleets", "name", "report folder");
    printf("%6lld  %-8s  %-7s  %-20s  %-20s  %6d  ", (long long)r->id, r->kind, r->status,
           r->started_at, r->finished_at[0] ? r->finished_at : "-", r->n_fleets);
    print_plain(r->name, 24);
    fputs("  ", stdout);
    print_plain(r->out_dir[0] ? r->out_dir : "-", 0);
    putchar('\n');
    if (r->error[0]) {
        fputs("        error: ", stdout);
        print_plain(r->error, 0);
        putchar('\n');
    }
    return 0;
}

int cli_cmd_runs(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db";
    long limit = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_path = optarg;
            break;
        case 'n':
            if (cli_int_option("runs", "--limit", optarg, 1, INT_MAX, &limit))
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            fputs(CLI_USAGE_RUNS, stdout);
            return 0;
        default:
            return cli_option_error("runs", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("runs", "runs takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    Store *db = NULL;
    if (store_open_readonly(db_path, &db, &err))
        return cli_fail(&err);
    int count = 0;
    int rc = store_each_run(db, (int)limit, print_run_row, &count, &err);
    store_close(db);
    if (rc)
        return cli_fail(&err);
    if (count == 0)
        printf("%s holds no runs yet\n", db_path);
    return 0;
}

/* The run that `RUN` names (an id or `latest`), with copies of what report and plot need. */
typedef struct {
    int64_t want; /* 0: the newest */
    int found;
    int64_t id;
    char kind[16], status[16], name[256], out_dir[4096];
} RunPick;

static int pick_run_row(void *ctx, const StoreRunRow *r, TsErr *err)
{
    (void)err;
    RunPick *p = ctx;
    if (p->found || (p->want && r->id != p->want))
        return 0;
    p->found = 1;
    p->id = r->id;
    snprintf(p->kind, sizeof p->kind, "%s", r->kind);
    snprintf(p->status, sizeof p->status, "%s", r->status);
    snprintf(p->name, sizeof p->name, "%s", r->name);
    snprintf(p->out_dir, sizeof p->out_dir, "%s", r->out_dir);
    return 0;
}

/* Opens db_path read-only and finds run `text`; exit status on failure (message printed). */
static int open_run(const char *cmd, const char *db_path, const char *text, Store **db, RunPick *p)
{
    memset(p, 0, sizeof *p);
    long id = 0;
    if (strcmp(text, "latest") != 0 && cli_int_option(cmd, "RUN", text, 1, LONG_MAX, &id))
        return CLI_EXIT_USAGE;
    p->want = id;
    TsErr err;
    ts_err_clear(&err);
    if (store_open_readonly(db_path, db, &err))
        return cli_fail(&err);
    if (store_each_run(*db, 0, pick_run_row, p, &err)) {
        store_close(*db);
        return cli_fail(&err);
    }
    if (!p->found) {
        store_close(*db);
        if (id)
            ts_err_set(&err, TS_EINPUT, "%s has no run %ld (see `tokensim runs --db %s`)", db_path,
                       id, db_path);
        else
            ts_err_set(&err, TS_EINPUT, "%s holds no runs yet", db_path);
        return cli_fail(&err);
    }
    if (strcmp(p->status, "done") != 0) {
        store_close(*db);
        ts_err_set(&err, TS_EINPUT, "run %lld is %s, not done: it has no results to show",
                   (long long)p->id, p->status);
        return cli_fail(&err);
    }
    return 0;
}

static int print_metric_csv(void *ctx, const StoreMetricRow *m, TsErr *err)
{
    (void)err;
    FILE *f = ctx;
    report_csv_text(f, m->fleet);
    fputc(',', f);
    report_csv_text(f, m->metric);
    fputc(',', f);
    if (m->has_value)
        fprintf(f, "%.10g", m->value);
    fputc(',', f);
    report_csv_text(f, m->unit);
    if (m->has_pct)
        fprintf(f, ",%.10g,%.10g,%.10g\n", m->p5, m->p50, m->p95);
    else
        fputs(",,,\n", f);
    return 0;
}

static int print_metric_json(void *ctx, const StoreMetricRow *m, TsErr *err)
{
    (void)err;
    int *n = ctx;
    fputs((*n)++ ? ",\n    {\"fleet\": " : "\n    {\"fleet\": ", stdout);
    txt_json_str(stdout, m->fleet);
    fputs(", \"metric\": ", stdout);
    txt_json_str(stdout, m->metric);
    fputs(", \"value\": ", stdout);
    txt_json_num(stdout, m->has_value ? m->value : NAN);
    fputs(", \"unit\": ", stdout);
    txt_json_str(stdout, m->unit);
    fputs(", \"p5\": ", stdout);
    txt_json_num(stdout, m->has_pct ? m->p5 : NAN);
    fputs(", \"p50\": ", stdout);
    txt_json_num(stdout, m->has_pct ? m->p50 : NAN);
    fputs(", \"p95\": ", stdout);
    txt_json_num(stdout, m->has_pct ? m->p95 : NAN);
    fputc('}', stdout);
    return 0;
}

/* Copies the file at path to standard output; 0 or -1 (errno set) when it cannot be read. */
static int cat_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

/* Prints the report.md of run id rendered from the database; TS_EINPUT when the run predates
 * what rendering needs (schema 6), so that the caller prints the file instead. */
static int render_md(Store *db, int64_t id, TsErr *err)
{
    StoredRun run;
    if (store_load_run(db, id, &run, err))
        return err->code;
    int rc = 0;
    if (!store_run_note(&run, "path", "-") && !report_serving_run(&run) &&
        !report_measure_run(&run))
        rc = ts_err_set(err, TS_EINPUT, "run %lld stored no report rows", (long long)id);
    else
        report_md_stored(stdout, &run);
    store_run_free(&run);
    return rc;
}

int cli_cmd_report(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db", *format = "md";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_path = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'h':
            fputs(CLI_USAGE_REPORT, stdout);
            return 0;
        default:
            return cli_option_error("report", c, argv);
        }
    }
    int is_md = strcmp(format, "md") == 0, is_html = strcmp(format, "html") == 0;
    int is_csv = strcmp(format, "csv") == 0, is_json = strcmp(format, "json") == 0;
    if (!is_md && !is_html && !is_csv && !is_json) {
        char msg[160];
        snprintf(msg, sizeof msg, "--format: expected md, html, csv or json, got '%.60s'", format);
        return cli_usage_error("report", msg);
    }
    if (argc - optind != 1)
        return cli_usage_error("report",
                               "report takes one RUN (an id from `tokensim runs`, or latest)");
    Store *db = NULL;
    RunPick p;
    int rc = open_run("report", db_path, argv[optind], &db, &p);
    if (rc)
        return rc;
    TsErr err;
    ts_err_clear(&err);
    if (is_csv) {
        fputs("fleet,metric,value,unit,p5,p50,p95\n", stdout);
        rc = store_each_metric(db, p.id, print_metric_csv, stdout, &err);
    } else if (is_json) {
        int n = 0;
        printf("{\"run\": {\"id\": %lld, \"kind\": ", (long long)p.id);
        txt_json_str(stdout, p.kind);
        fputs(", \"name\": ", stdout);
        txt_json_str(stdout, p.name);
        fputs("},\n  \"metrics\": [", stdout);
        rc = store_each_metric(db, p.id, print_metric_json, &n, &err);
        if (!rc)
            fputs(n ? "\n  ]}\n" : "]}\n", stdout);
    } else if (is_md && (rc = render_md(db, p.id, &err)) != TS_EINPUT) {
        /* rendered from the stored run as it wrote its report.md (or a database failure) */
    } else {
        /* html, or a run that stored no report rows (before schema 6; a measure run before
         * its report rows): the file the run wrote */
        rc = 0;
        ts_err_clear(&err);
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", p.out_dir, is_md ? "report.md" : "report.html");
        if (!p.out_dir[0] || cat_file(path))
            rc = ts_err_set(&err, TS_EIO,
                            "%s: cannot read it (%s); the run's folder may have been moved or "
                            "removed: `tokensim report --format csv %lld` reads the database",
                            p.out_dir[0] ? path : "(no report folder)",
                            p.out_dir[0] ? strerror(errno) : "a part of a sharded run",
                            (long long)p.id);
    }
    store_close(db);
    if (!rc && fflush(stdout))
        rc = ts_err_set(&err, TS_EIO, "writing to standard output: %s", strerror(errno));
    return rc ? cli_fail(&err) : 0;
}

int cli_cmd_plot(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_path = optarg;
            break;
        case 'h':
            fputs(CLI_USAGE_PLOT, stdout);
            return 0;
        default:
            return cli_option_error("plot", c, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("plot",
                               "plot takes one RUN (an id from `tokensim runs`, or latest)");
    Store *db = NULL;
    RunPick p;
    int rc = open_run("plot", db_path, argv[optind], &db, &p);
    if (rc)
        return rc;
    TsErr err;
    ts_err_clear(&err);
    RunnerResult rr;
    memset(&rr, 0, sizeof rr);
    snprintf(rr.out_dir, sizeof rr.out_dir, "%s", p.out_dir);
    if (!p.out_dir[0])
        rc = ts_err_set(&err, TS_EINPUT, "run %lld has no report folder (a part of a sharded run)",
                        (long long)p.id);
    if (!rc)
        rc = runner_render(db, p.id, p.name, &rr, &err);
    store_close(db);
    if (!rc) {
        if (rr.plot_note[0])
            fprintf(stderr, "tokensim: warning: %s\n", rr.plot_note);
        printf("run %lld: %d plots written, %d drawn\nreport: %s/report.html\n", (long long)p.id,
               rr.n_plots, rr.n_images, p.out_dir);
    }
    return rc ? cli_fail(&err) : 0;
}
