/* plot: reads one run's rows (prepared statements only) and writes a gnuplot data file and script
 * per plot, then runs gnuplot on each script (fork/execvp, never a shell; 20 s limit; output kept
 * for the note). Database text reaches a script only inside single quotes with ' doubled and
 * made inert (txt_inert: control characters as \xNN); in data files it is double-quoted, inert.
 * It computes nothing: it draws what the run stored. A missing gnuplot is not an error. */
#include "sim/render/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/scenario/text.h"
#include "sim/render/report.h"

#define PLOT_TIMEOUT_S 20.0
#define PLOT_TEXT_MAX 200 /* longest database text put in a script or data file */

typedef struct {
    sqlite3 *db; /* borrowed */
    int64_t run_id;
    const char *dir; /* borrowed */
    char **fleets;   /* (n_fleets) in the run's order, owned */
    int n_fleets;
    PlotResult *out; /* borrowed */
} Ctx;

/* ---- text for scripts and data files ---- */

/* An axis label for a swept parameter: "usd_per_kwh (USD/kWh)", or the name alone when its
 * key carries no unit ("fleet cn.usd_per_kwh" takes the unit of its key after the dot). */
static void param_label(const char *param, char *buf, int size)
{
    const char *dot = strrchr(param, '.');
    const char *unit = report_key_unit(dot ? dot + 1 : param);
    if (unit[0])
        snprintf(buf, (size_t)size, "%s (%s)", param, unit);
    else
        snprintf(buf, (size_t)size, "%s", param);
}

/* Writes s as a gnuplot single-quoted string: ' doubled (gnuplot's rule), control characters
 * as \xNN (txt_inert). Backquotes, @ macros and backslashes have no effect inside single
 * quotes. */
static void gp_str(FILE *f, const char *text)
{
    char s[PLOT_TEXT_MAX + 1];
    txt_inert(text, s, sizeof s);
    fputc('\'', f);
    for (int i = 0; s[i]; i++) {
        if (s[i] == '\'')
            fputs("''", f);
        else
            fputc(s[i], f);
    }
    fputc('\'', f);
}

/* Writes s as a double-quoted data-file column: " becomes ', control characters \xNN. */
static void dat_str(FILE *f, const char *text)
{
    char s[PLOT_TEXT_MAX + 1];
    txt_inert(text, s, sizeof s);
    fputc('"', f);
    for (int i = 0; s[i]; i++)
        fputc(s[i] == '"' ? '\'' : s[i], f);
    fputc('"', f);
}

/* A number for a data file: %.6g, or ? (the scripts' missing-value mark) when not finite. */
static void dat_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.6g", v);
    else
        fputs(" ?", f);
}

/* Copies s into a PlotItem title, inert (control characters as \xNN). */
static void title_copy(char *dst, size_t size, const char *s)
{
    txt_inert(s, dst, size);
}

/* ---- database ---- */

static int db_err(Ctx *c, const char *what, TsErr *err)
{
    return ts_err_set(err, TS_EIO, "plot: %s: %s", what, sqlite3_errmsg(c->db));
}

static int prep(Ctx *c, const char *sql, sqlite3_stmt **st, TsErr *err)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_err(c, "preparing a query", err);
    if (sqlite3_bind_int64(*st, 1, c->run_id) != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return db_err(c, "binding the run id", err);
    }
    return 0;
}

/* Binds text parameters 2.. of st (NULL ends the list). */
static int bind_texts(Ctx *c, sqlite3_stmt *st, const char *a, const char *b, TsErr *err)
{
    if ((a && sqlite3_bind_text(st, 2, a, -1, SQLITE_TRANSIENT) != SQLITE_OK) ||
        (b && sqlite3_bind_text(st, 3, b, -1, SQLITE_TRANSIENT) != SQLITE_OK))
        return db_err(c, "binding a parameter", err);
    return 0;
}

static double col_num(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* The run's fleets in their order: table fleets, else the fleets of its metrics (not "-"). */
static int load_fleets(Ctx *c, TsErr *err)
{
    static const char *const sql[] = {
        "SELECT fleet FROM fleets WHERE run_id = ?1 ORDER BY rowid",
        "SELECT fleet FROM metrics WHERE run_id = ?1 AND fleet <> '-' GROUP BY fleet "
        "ORDER BY MIN(rowid)",
    };
    for (int q = 0; q < 2 && c->n_fleets == 0; q++) {
        sqlite3_stmt *st = NULL;
        int rc = prep(c, sql[q], &st, err), step;
        if (rc)
            return rc;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            char **grown = realloc(c->fleets, (size_t)(c->n_fleets + 1) * sizeof *grown);
            char *copy = name ? strdup(name) : NULL;
            if (!grown || !copy) {
                free(copy);
                if (grown)
                    c->fleets = grown;
                sqlite3_finalize(st);
                return ts_err_set(err, TS_ENOMEM, "plot: out of memory reading fleets");
            }
            c->fleets = grown;
            c->fleets[c->n_fleets++] = copy;
        }
        sqlite3_finalize(st);
        if (step != SQLITE_DONE)
            return db_err(c, "reading fleets", err);
    }
    return 0;
}

/* One metric of one fleet: v[0] value, v[1..3] p5, p50, p95 (NaN where NULL or absent). */
static int metric_get(Ctx *c, sqlite3_stmt *st, const char *fleet, const char *metric, double v[4],
                      TsErr *err)
{
    v[0] = v[1] = v[2] = v[3] = NAN;
    sqlite3_reset(st);
    int rc = bind_texts(c, st, fleet, metric, err);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        for (int i = 0; i < 4; i++)
            v[i] = col_num(st, i);
        step = sqlite3_step(st);
    }
    if (step != SQLITE_DONE)
        return db_err(c, "reading metrics", err);
    return 0;
}

/* ---- files ---- */

/* NAME.ext is written as .NAME.ext.tmp and renamed by close_file, so that a full disk or a
 * kill never leaves a half-written script or data file under its real name. */
static int tmp_path(Ctx *c, const char *name, const char *ext, char *path, size_t size)
{
    return snprintf(path, size, "%s/.%s.%s.tmp", c->dir, name, ext) >= (int)size ? -1 : 0;
}

static int open_file(Ctx *c, const char *name, const char *ext, FILE **f, TsErr *err)
{
    char path[4096];
    if (tmp_path(c, name, ext, path, sizeof path))
        return ts_err_set(err, TS_EIO, "plot: folder name too long: %s", c->dir);
    *f = fopen(path, "w");
    if (!*f)
        return ts_err_set(err, TS_EIO, "plot: cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Closes f and renames its temporary file to NAME.ext; on any failure the temporary file is
 * removed. */
static int close_file(Ctx *c, const char *name, const char *ext, FILE *f, TsErr *err)
{
    char tmp[4096], path[4096];
    tmp_path(c, name, ext, tmp, sizeof tmp);
    snprintf(path, sizeof path, "%s/%s.%s", c->dir, name, ext);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ts_err_set(err, TS_EIO, "plot: cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

/* Opens NAME.dat and NAME.gp and writes their headers; what is a fixed description. */
static int begin_plot(Ctx *c, const char *name, const char *what, FILE **dat, FILE **gp, TsErr *err)
{
    int rc = open_file(c, name, "dat", dat, err);
    if (rc)
        return rc;
    rc = open_file(c, name, "gp", gp, err);
    if (rc) {
        char path[4096];
        fclose(*dat);
        if (!tmp_path(c, name, "dat", path, sizeof path))
            unlink(path);
        return rc;
    }
    fprintf(*dat, "# tokensim: %s\n", what);
    fprintf(*gp,
            "# tokensim: %s.\n"
            "# Edit and rerun with: gnuplot %s.gp (in this folder); it writes %s.png and %s.svg.\n"
            "reset\n"
            "set encoding utf8\n"
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'\n"
            "} else {\n"
            "    set terminal png size 960,600 noenhanced\n"
            "}\n"
            "set output '%s.png'\n"
            "set datafile missing '?'\n"
            "set key below noenhanced\n"
            "set grid ytics\n",
            what, name, name, name, name);
    return 0;
}

/* Writes the SVG half of a script, closes both files and records the plot. */
static int end_plot(Ctx *c, const char *name, const char *title, FILE *dat, FILE *gp, TsErr *err)
{
    fprintf(gp,
            "set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'\n"
            "set output '%s.svg'\n"
            "replot\n"
            "unset output\n",
            name);
    int rc = close_file(c, name, "dat", dat, err);
    int rc2 = close_file(c, name, "gp", gp, rc ? NULL : err);
    if (rc || rc2)
        return rc ? rc : rc2;
    PlotItem *it = &c->out->items[c->out->n++];
    snprintf(it->name, sizeof it->name, "%s", name);
    title_copy(it->title, sizeof it->title, title);
    it->image = 0;
    return 0;
}

static int room(Ctx *c)
{
    if (c->out->n < PLOT_MAX)
        return 1;
    c->out->left_out++;
    return 0;
}

/* ---- the plots ---- */

static const char *const COST_METRICS[] = {"capital_usd_per_day", "rent_usd_per_day",
                                           "hosting_usd_per_day", "energy_usd_per_day"};

/* Stacked bars per fleet of the four cost parts, and grouped bars of USD/Mtok in and out. */
static int plot_metrics(Ctx *c, TsErr *err)
{
    sqlite3_stmt *st = NULL;
    double *v = NULL; /* (fleets, 6 metrics, 4): value, p5, p50, p95 */
    int rc = prep(c,
                  "SELECT value, p5, p50, p95 FROM metrics WHERE run_id = ?1 AND fleet = ?2 "
                  "AND metric = ?3",
                  &st, err);
    if (rc)
        return rc;
    v = malloc((size_t)(c->n_fleets > 0 ? c->n_fleets : 1) * 24 * sizeof *v);
    if (!v) {
        sqlite3_finalize(st);
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    }
    static const char *const PRICE[] = {"usd_per_m_input", "usd_per_m_output"};
    int n_cost = 0, n_price = 0, has_pct = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        int cost = 0, price = 0;
        for (int k = 0; k < 6 && !rc; k++) {
            double *q = &v[(i * 6 + k) * 4];
            rc = metric_get(c, st, c->fleets[i], k < 4 ? COST_METRICS[k] : PRICE[k - 4], q, err);
            cost += k < 4 && isfinite(q[0]);
            price += k >= 4 && isfinite(q[0]);
            has_pct |= k >= 4 && isfinite(q[1]) && isfinite(q[3]);
        }
        n_cost += cost > 0;
        n_price += price > 0;
    }
    sqlite3_finalize(st);

    FILE *dat = NULL, *gp = NULL;
    if (!rc && n_cost > 0 && room(c)) {
        rc = begin_plot(c, "cost_breakdown", "cost per accounting window by fleet", &dat, &gp, err);
        if (!rc) {
            fputs("# columns: fleet capital_usd_per_day rent_usd_per_day hosting_usd_per_day "
                  "energy_usd_per_day (USD/window; ? = none)\n",
                  dat);
            for (int i = 0; i < c->n_fleets; i++) {
                dat_str(dat, c->fleets[i]);
                for (int k = 0; k < 4; k++)
                    dat_num(dat, v[(i * 6 + k) * 4]);
                fputc('\n', dat);
            }
            fputs("set title 'Cost per accounting window by fleet'\n"
                  "set xlabel 'fleet'\n"
                  "set ylabel 'USD per window (USD/window)'\n"
                  "set style data histograms\n"
                  "set style histogram rowstacked\n"
                  "set style fill solid 0.85 border -1\n"
                  "set boxwidth 0.6 relative\n"
                  "set yrange [0:*]\n"
                  "set xtics rotate by -20 noenhanced\n"
                  "plot 'cost_breakdown.dat' using 2:xtic(1) title 'capital', \\\n"
                  "     '' using 3 title 'rent', \\\n"
                  "     '' using 4 title 'hosting', \\\n"
                  "     '' using 5 title 'energy'\n",
                  gp);
            rc = end_plot(c, "cost_breakdown", "Cost per accounting window by fleet (USD/window)",
                          dat, gp, err);
        }
    }
    if (!rc && n_price > 0 && room(c)) {
        rc = begin_plot(c, "usd_per_m", "price per million tokens by fleet", &dat, &gp, err);
        if (!rc) {
            fputs("# columns: fleet usd_per_m_input p5 p95 usd_per_m_output p5 p95 (USD/Mtok; "
                  "value is the mean of a Monte Carlo run; ? = none)\n",
                  dat);
            for (int i = 0; i < c->n_fleets; i++) {
                dat_str(dat, c->fleets[i]);
                for (int k = 4; k < 6; k++) {
                    const double *q = &v[(i * 6 + k) * 4];
                    int pct = isfinite(q[1]) && isfinite(q[3]);
                    dat_num(dat, q[0]);
                    dat_num(dat, pct ? q[1] : q[0]);
                    dat_num(dat, pct ? q[3] : q[0]);
                }
                fputc('\n', dat);
            }
            fprintf(gp,
                    "set title '%s'\n"
                    "set xlabel 'fleet'\n"
                    "set ylabel 'USD per million tokens (USD/Mtok)'\n"
                    "set style data histograms\n"
                    "set style histogram %s gap 2\n"
                    "set style fill solid 0.85 border -1\n"
                    "set yrange [0:*]\n"
                    "set xtics rotate by -20 noenhanced\n",
                    has_pct ? "Price per million tokens by fleet (mean, whiskers P5-P95)"
                            : "Price per million tokens by fleet",
                    has_pct ? "errorbars lw 1" : "clustered");
            if (has_pct)
                fputs("plot 'usd_per_m.dat' using 2:3:4:xtic(1) title 'input (usd_per_m_input)', "
                      "\\\n     '' using 5:6:7 title 'output (usd_per_m_output)'\n",
                      gp);
            else
                fputs("plot 'usd_per_m.dat' using 2:xtic(1) title 'input (usd_per_m_input)', "
                      "\\\n     '' using 5 title 'output (usd_per_m_output)'\n",
                      gp);
            rc = end_plot(c, "usd_per_m", "Price per million tokens by fleet (USD/Mtok)", dat, gp,
                          err);
        }
    }
    free(v);
    return rc;
}

/* The first swept parameter(s) of the run with usd_per_m_output points: 1-D when two is 0. */
static int sweep_params(Ctx *c, int two, char *p1, char *p2, size_t size, int *found, TsErr *err)
{
    sqlite3_stmt *st = NULL;
    *found = 0;
    int rc = prep(c,
                  two ? "SELECT param, param2 FROM sweep_points WHERE run_id = ?1 AND param2 IS "
                        "NOT NULL AND metric = 'usd_per_m_output' ORDER BY rowid LIMIT 1"
                      : "SELECT param, '' FROM sweep_points WHERE run_id = ?1 AND param2 IS NULL "
                        "AND metric = 'usd_per_m_output' ORDER BY rowid LIMIT 1",
                  &st, err);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        snprintf(p1, size, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(p2, size, "%s", (const char *)sqlite3_column_text(st, 1));
        *found = 1;
        step = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : db_err(c, "reading sweep points", err);
}

/* Writes one fleet's rows of st (columns as numbers) to dat, headed by two blank lines when sep
 * (a new gnuplot index) and a "# WHAT NAME" comment (WHAT: "fleet", or "line" for measure
 * plots), both only when there is a row; a blank line
 * where column 0 changes when scans is set. Counts finite values of column vcol into *finite. */
static int dump_rows(Ctx *c, sqlite3_stmt *st, int ncol, int vcol, int scans, const char *what,
                     const char *fleet, int sep, FILE *dat, int *rows, int *finite, TsErr *err)
{
    int step;
    double prev = NAN;
    *rows = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        double x = col_num(st, 0);
        if (*rows == 0) {
            fprintf(dat, "%s# %s ", sep ? "\n\n" : "", what);
            dat_str(dat, fleet);
            fputc('\n', dat);
        } else if (scans && x != prev) {
            fputc('\n', dat);
        }
        prev = x;
        for (int i = 0; i < ncol; i++)
            dat_num(dat, col_num(st, i));
        fputc('\n', dat);
        *finite += isfinite(col_num(st, vcol));
        (*rows)++;
    }
    return step == SQLITE_DONE ? 0 : db_err(c, "reading rows", err);
}

/* Discards a plot whose data turned out empty (files removed, not recorded). */
static void drop_plot(Ctx *c, const char *name, FILE *dat, FILE *gp)
{
    char path[4096];
    fclose(dat);
    fclose(gp);
    if (!tmp_path(c, name, "dat", path, sizeof path))
        unlink(path);
    if (!tmp_path(c, name, "gp", path, sizeof path))
        unlink(path);
}

/* Ends a plot of data blocks: dropped (its temporary files removed) when rc is set or keep is
 * 0, else its plot command ends and it goes to end_plot. Returns rc or end_plot's status. */
static int finish_plot(Ctx *c, const char *name, const char *title, int keep, int rc, FILE *dat,
                       FILE *gp, TsErr *err)
{
    if (rc || !keep) {
        drop_plot(c, name, dat, gp);
        return rc;
    }
    fputc('\n', gp);
    return end_plot(c, name, title, dat, gp, err);
}

/* Starts one series of a plot command over NAME.dat: "plot 'NAME.dat' index B" for the first,
 * ", \\" and "'' index B" on a new line after it; the caller adds "using ...". */
static void gp_series(FILE *gp, const char *name, int first, int block)
{
    if (first)
        fprintf(gp, "plot '%s.dat' index %d", name, block);
    else
        fprintf(gp, ", \\\n     '' index %d", block);
}

/* usd_per_m_output against the swept parameter, one line per fleet (one data block each). */
static int plot_price_curve(Ctx *c, TsErr *err)
{
    char param[256], unused[256], text[512];
    int found, rc = sweep_params(c, 0, param, unused, sizeof param, &found, err);
    if (rc || !found || !room(c))
        return rc;
    sqlite3_stmt *st = NULL;
    rc = prep(c,
              "SELECT x, value FROM sweep_points WHERE run_id = ?1 AND fleet = ?2 AND param = ?3 "
              "AND param2 IS NULL AND metric = 'usd_per_m_output' ORDER BY x, rowid",
              &st, err);
    if (rc)
        return rc;
    FILE *dat, *gp;
    rc = begin_plot(c, "price_curve", "usd_per_m_output against the swept parameter", &dat, &gp,
                    err);
    if (rc) {
        sqlite3_finalize(st);
        return rc;
    }
    fputs("# columns: x (the swept parameter) usd_per_m_output (USD/Mtok; ? = not priced)\n"
          "# one block per fleet, blocks separated by two blank lines (gnuplot index 0, 1, ...)\n",
          dat);
    snprintf(text, sizeof text, "usd_per_m_output against %s", param);
    fputs("set title ", gp);
    gp_str(gp, text);
    char label[300];
    param_label(param, label, sizeof label);
    fputs("\nset xlabel ", gp);
    gp_str(gp, label);
    fputs("\nset ylabel 'usd_per_m_output (USD/Mtok)'\n", gp);
    int blocks = 0, finite = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        int rows = 0;
        sqlite3_reset(st);
        rc = bind_texts(c, st, c->fleets[i], param, err);
        if (rc)
            break;
        rc = dump_rows(c, st, 2, 1, 0, "fleet", c->fleets[i], blocks > 0, dat, &rows, &finite, err);
        if (rc || rows == 0)
            continue; /* no block written: the next fleet takes this index */
        gp_series(gp, "price_curve", blocks == 0, blocks);
        fputs(" using 1:2 with linespoints lw 2 title ", gp);
        gp_str(gp, c->fleets[i]);
        blocks++;
    }
    sqlite3_finalize(st);
    return finish_plot(c, "price_curve", text, finite > 0, rc, dat, gp, err);
}

/* Without a 1-D sweep: usd_per_m_output against the electricity price computed per fleet. The
 * price changes only the energy part (energy_usd_per_m_output scales with $/kWh; chips and
 * throughput stay), so each line is exact: out - energy + energy x p / p0, with the fleet's own
 * price p0 = energy_usd_per_day / energy_kwh_per_day. A rented fleet with power in the rent is
 * flat. Written as price_curve, like a swept one. */
static int plot_price_lines(Ctx *c, TsErr *err)
{
    char p1[256], p2[256];
    int found, rc = sweep_params(c, 0, p1, p2, sizeof p1, &found, err);
    if (rc || found || c->n_fleets == 0 || !room(c))
        return rc;
    sqlite3_stmt *st = NULL;
    rc = prep(c,
              "SELECT value, p5, p50, p95 FROM metrics WHERE run_id = ?1 AND fleet = ?2 "
              "AND metric = ?3",
              &st, err);
    if (rc)
        return rc;
    static const char *const M[] = {"usd_per_m_output", "energy_usd_per_m_output",
                                    "energy_usd_per_day", "energy_kwh_per_day"};
    double *v = calloc((size_t)c->n_fleets * 4, sizeof *v), q[4];
    if (!v) {
        sqlite3_finalize(st);
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    }
    double pmax = 0.30; /* USD/kWh: past every catalog price */
    for (int i = 0; i < c->n_fleets && !rc; i++)
        for (int k = 0; k < 4 && !rc; k++) {
            rc = metric_get(c, st, c->fleets[i], M[k], q, err);
            v[i * 4 + k] = q[0];
            if (!rc && k == 3 && v[i * 4 + 3] > 0 && isfinite(v[i * 4 + 2]) &&
                2 * v[i * 4 + 2] / v[i * 4 + 3] > pmax)
                pmax = 2 * v[i * 4 + 2] / v[i * 4 + 3];
        }
    sqlite3_finalize(st);
    FILE *dat = NULL, *gp = NULL;
    const char *title = "usd_per_m_output against the electricity price (computed per fleet)";
    if (!rc)
        rc = begin_plot(c, "price_curve", title, &dat, &gp, err);
    if (rc) {
        free(v);
        return rc;
    }
    fputs("# columns: usd_per_kwh (USD/kWh) usd_per_m_output (USD/Mtok)\n"
          "# computed: only the energy part of usd_per_m_output scales with the price\n"
          "# one block per fleet (gnuplot index 0, 1, ...)\n",
          dat);
    fprintf(gp, "set title '%s'\nset xlabel 'usd_per_kwh (USD/kWh)'\n"
                "set ylabel 'usd_per_m_output (USD/Mtok)'\nset xrange [0:*]\n",
            title);
    int blocks = 0;
    for (int i = 0; i < c->n_fleets; i++) {
        double out = v[i * 4], e = v[i * 4 + 1], p0 = v[i * 4 + 2] / v[i * 4 + 3];
        if (!isfinite(out))
            continue;
        int flat = !(isfinite(e) && isfinite(p0) && p0 > 0);
        fputs(blocks ? "\n\n# fleet " : "# fleet ", dat);
        dat_str(dat, c->fleets[i]);
        fputc('\n', dat);
        for (int k = 0; k <= 12; k++) {
            double p = pmax * k / 12;
            fprintf(dat, "%.6g", p);
            dat_num(dat, flat ? out : out - e + e * p / p0);
            fputc('\n', dat);
        }
        char text[300];
        snprintf(text, sizeof text, "%s%s", c->fleets[i], flat ? " (power in the rent)" : "");
        gp_series(gp, "price_curve", blocks == 0, blocks);
        fputs(" using 1:2 with lines lw 2 title ", gp);
        gp_str(gp, text);
        blocks++;
    }
    free(v);
    return finish_plot(c, "price_curve", title, blocks > 0, 0, dat, gp, err);
}

/* A 1-D sweep over max_batch (on every fleet or one): usd_per_m_output (left axis, log) and
 * decode tokens/s per chip (right axis) against the decode batch the fleet reached. */
static int plot_batch_curve(Ctx *c, TsErr *err)
{
    char param[256], unused[256];
    int found, rc = sweep_params(c, 0, param, unused, sizeof param, &found, err);
    size_t len = strlen(param);
    if (rc || !found ||
        !(strcmp(param, "max_batch") == 0 ||
          (len > 10 && strcmp(param + len - 10, ".max_batch") == 0)) ||
        !room(c))
        return rc;
    sqlite3_stmt *st = NULL;
    rc = prep(c,
              "SELECT b.value, u.value, t.value FROM sweep_points b"
              " JOIN sweep_points u ON u.run_id = b.run_id AND u.fleet = b.fleet AND"
              " u.param = b.param AND u.param2 IS NULL AND u.x = b.x AND"
              " u.metric = 'usd_per_m_output'"
              " JOIN sweep_points t ON t.run_id = b.run_id AND t.fleet = b.fleet AND"
              " t.param = b.param AND t.param2 IS NULL AND t.x = b.x AND"
              " t.metric = 'decode_tok_s_per_chip'"
              " WHERE b.run_id = ?1 AND b.fleet = ?2 AND b.param = ?3 AND b.param2 IS NULL AND"
              " b.metric = 'batch' ORDER BY b.x, b.rowid",
              &st, err);
    if (rc)
        return rc;
    FILE *dat, *gp;
    const char *title = "usd_per_m_output and decode tokens/s per chip against the batch";
    rc = begin_plot(c, "batch_curve", title, &dat, &gp, err);
    if (rc) {
        sqlite3_finalize(st);
        return rc;
    }
    fputs("# columns: batch (sequences, as reached under max_batch) usd_per_m_output (USD/Mtok)"
          " decode_tok_s_per_chip (tok/s/chip)\n# one block per fleet (gnuplot index 0, 1, ...)\n",
          dat);
    fprintf(gp, "set title '%s'\n"
                "set xlabel 'decode batch (sequences)'\nset logscale x 2\n"
                "set ylabel 'usd_per_m_output (USD/Mtok)'\nset logscale y\n"
                "set y2label 'decode_tok_s_per_chip (tok/s/chip)'\nset y2tics\nset ytics nomirror\n",
            title);
    int blocks = 0, finite = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        int rows = 0;
        sqlite3_reset(st);
        rc = bind_texts(c, st, c->fleets[i], param, err);
        if (rc)
            break;
        rc = dump_rows(c, st, 3, 1, 0, "fleet", c->fleets[i], blocks > 0, dat, &rows, &finite, err);
        if (rc || rows == 0)
            continue;
        for (int axis = 0; axis < 2; axis++) {
            char text[300];
            snprintf(text, sizeof text, "%s %s", c->fleets[i], axis ? "tok/s/chip" : "USD/Mtok");
            gp_series(gp, "batch_curve", !blocks && !axis, blocks);
            fprintf(gp, " using 1:%d axes x1y%d with linespoints lw 2 dt %d title ", axis + 2,
                    axis + 1, axis + 1);
            gp_str(gp, text);
        }
        blocks++;
    }
    sqlite3_finalize(st);
    return finish_plot(c, "batch_curve", title, finite > 0, rc, dat, gp, err);
}

/* usd_per_m_output over a 2-D sweep: one map per fleet (heatmap_F, F from 1). */
static int plot_heatmaps(Ctx *c, TsErr *err)
{
    char p1[256], p2[256], text[768], name[PLOT_NAME_MAX];
    int found, rc = sweep_params(c, 1, p1, p2, sizeof p1, &found, err);
    if (rc || !found)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = prep(c,
              "SELECT x, y, value FROM sweep_points WHERE run_id = ?1 AND fleet = ?2 AND param = "
              "?3 AND param2 = ?4 AND metric = 'usd_per_m_output' ORDER BY x, y, rowid",
              &st, err);
    if (rc)
        return rc;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        if (!room(c))
            continue;
        FILE *dat, *gp;
        snprintf(name, sizeof name, "heatmap_%d", i + 1);
        sqlite3_reset(st);
        rc = bind_texts(c, st, c->fleets[i], p1, err);
        if (!rc && sqlite3_bind_text(st, 4, p2, -1, SQLITE_TRANSIENT) != SQLITE_OK)
            rc = db_err(c, "binding a parameter", err);
        if (rc ||
            (rc = begin_plot(c, name, "usd_per_m_output over a 2-D sweep", &dat, &gp, err)) != 0)
            break;
        fputs("# columns: x y usd_per_m_output (USD/Mtok; ? = not priced); a blank line "
              "between scans of x\n",
              dat);
        int rows = 0, finite = 0;
        rc = dump_rows(c, st, 3, 2, 1, "fleet", c->fleets[i], 0, dat, &rows, &finite, err);
        if (rc || finite == 0) {
            drop_plot(c, name, dat, gp);
            continue;
        }
        snprintf(text, sizeof text, "usd_per_m_output of fleet %s over %s and %s", c->fleets[i], p1,
                 p2);
        fputs("set title ", gp);
        gp_str(gp, text);
        char label[300];
        param_label(p1, label, sizeof label);
        fputs("\nset xlabel ", gp);
        gp_str(gp, label);
        param_label(p2, label, sizeof label);
        fputs("\nset ylabel ", gp);
        gp_str(gp, label);
        fprintf(gp,
                "\nset cblabel 'usd_per_m_output (USD/Mtok)'\n"
                "set view map\n"
                "set pm3d at b corners2color mean\n"
                "set palette defined (0 '#440154', 0.5 '#21908d', 1 '#fde725')\n"
                "unset key\n"
                "set grid front\n"
                "splot '%s.dat' using 1:2:3 with pm3d notitle",
                name);
        if (rows <= 64) /* small grids: each point's value written on the map */
            fputs(", \\\n      '' using 1:2:3:(sprintf('%.3g', $3)) with labels tc 'white' "
                  "notitle",
                  gp);
        fputc('\n', gp);
        rc = end_plot(c, name, text, dat, gp, err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The usd_per_m_output histogram of every fleet, overlaid (one data block per fleet). */

/* The answer plots of a [question] run: bars of the question's own rows (sim/study/question.c),
 * drawn only when the run has them. */
typedef struct {
    const char *name, *like;     /* plot name; metric LIKE pattern ('\' escapes) */
    const char *pre, *post;      /* stripped from a metric name to make its bar label */
    const char *title, *ylabel;
    const char *cap;             /* a metric of fleet "-" drawn as a horizontal line, or NULL */
} AnswerPlot;

static const AnswerPlot ANSWERS[] = {
    {"answer_gap", "gap\\_%\\_usd\\_per\\_m\\_output", "gap_", "_usd_per_m_output",
     "List-price gap (list) and what each step removes from it, in the order changed",
     "USD per million output tokens (USD/Mtok)", NULL},
    {"answer_tasks", "task.%.usd\\_per\\_solved", "task.", ".usd_per_solved",
     "Cost per solved task", "USD per solved task (USD)", NULL},
    {"answer_power", "x%\\_facility\\_mw", "", "_facility_mw",
     "Facility power by fleet and demand multiple, against the power cap (dashed)",
     "facility power (MW, log scale)", "power_cap_mw"},
    {"answer_distill", "distill\\_%\\_usd", "distill_", "_usd",
     "One-time distillation cost: teacher generation and student training", "USD", NULL},
};

static int plot_answer(Ctx *c, const AnswerPlot *a, TsErr *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(c,
                  "SELECT fleet, metric, value FROM metrics WHERE run_id = ?1 AND metric LIKE ?2 "
                  "ESCAPE '\\' AND value IS NOT NULL ORDER BY rowid",
                  &st, err);
    if (!rc)
        rc = bind_texts(c, st, a->like, NULL, err);
    FILE *dat = NULL, *gp = NULL;
    int n = 0;
    while (!rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == 0 && (!room(c) || (rc = begin_plot(c, a->name, a->title, &dat, &gp, err))))
            break;
        const char *fleet = (const char *)sqlite3_column_text(st, 0);
        const char *metric = (const char *)sqlite3_column_text(st, 1);
        size_t lp = strlen(a->pre), lm = strlen(metric), ls = strlen(a->post);
        char label[160];
        int keep = (int)(lm > lp + ls ? lm - lp - ls : lm);
        const char *from = lm > lp + ls ? metric + lp : metric;
        if (strcmp(fleet, "-") == 0)
            snprintf(label, sizeof label, "%.*s", keep, from);
        else
            snprintf(label, sizeof label, "%s %.*s", fleet, keep, from);
        if (n == 0)
            fprintf(dat, "# columns: label value (%s)\n", a->ylabel);
        dat_str(dat, label);
        dat_num(dat, sqlite3_column_double(st, 2));
        fputc('\n', dat);
        n++;
        rc = 0;
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0)
        rc = db_err(c, "reading answer rows", err);
    sqlite3_finalize(st);
    if (rc || n == 0) {
        if (dat)
            drop_plot(c, a->name, dat, gp);
        return rc;
    }
    fprintf(gp, "set title ");
    gp_str(gp, a->title);
    fprintf(gp, "\nset ylabel ");
    gp_str(gp, a->ylabel);
    fputs("\nset style data histograms\n"
          "set style fill solid 0.85 border -1\n"
          "set boxwidth 0.6 relative\n"
          "set xtics rotate by -30 noenhanced\n"
          "unset key\n",
          gp);
    if (a->cap) {
        double cap[4];
        sqlite3_stmt *q = NULL;
        rc = prep(c, "SELECT value, p5, p50, p95 FROM metrics WHERE run_id = ?1 AND fleet = ?2 "
                     "AND metric = ?3", &q, err);
        if (!rc)
            rc = metric_get(c, q, "-", a->cap, cap, err);
        sqlite3_finalize(q);
        if (rc) {
            drop_plot(c, a->name, dat, gp);
            return rc;
        }
        fputs("set logscale y\n", gp);
        if (isfinite(cap[0]))
            fprintf(gp, "set arrow from graph 0, first %.6g to graph 1, first %.6g nohead lw 2 "
                        "dt 2\n", cap[0], cap[0]);
    }
    fprintf(gp, "plot '%s.dat' using 2:xtic(1)\n", a->name);
    char title[256];
    snprintf(title, sizeof title, "%s (%s)", a->title, a->ylabel);
    return end_plot(c, a->name, title, dat, gp, err);
}
static int plot_histogram(Ctx *c, TsErr *err)
{
    if (!room(c))
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = prep(c,
                  "SELECT bin_low, bin_high, count FROM histograms WHERE run_id = ?1 AND fleet = "
                  "?2 AND metric = 'usd_per_m_output' ORDER BY bin_low, rowid",
                  &st, err);
    if (rc)
        return rc;
    FILE *dat, *gp;
    rc = begin_plot(c, "histogram", "Monte Carlo histogram of usd_per_m_output", &dat, &gp, err);
    if (rc) {
        sqlite3_finalize(st);
        return rc;
    }
    fputs("# columns: bin_low bin_high count (USD/Mtok, samples)\n"
          "# one block per fleet, blocks separated by two blank lines (gnuplot index 0, 1, ...)\n",
          dat);
    fputs("set title 'Monte Carlo distribution of usd_per_m_output'\n"
          "set xlabel 'usd_per_m_output (USD/Mtok)'\n"
          "set ylabel 'samples per bin'\n"
          "set yrange [0:*]\n"
          "set style fill transparent solid 0.45 border -1\n",
          gp);
    int blocks = 0, finite = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        int rows = 0;
        sqlite3_reset(st);
        rc = bind_texts(c, st, c->fleets[i], NULL, err);
        if (rc)
            break;
        rc = dump_rows(c, st, 3, 2, 0, "fleet", c->fleets[i], blocks > 0, dat, &rows, &finite, err);
        if (rc || rows == 0)
            continue;
        gp_series(gp, "histogram", blocks == 0, blocks);
        fputs(" using (($1+$2)/2):3:($2-$1) with boxes title ", gp);
        gp_str(gp, c->fleets[i]);
        blocks++;
    }
    sqlite3_finalize(st);
    return finish_plot(c, "histogram", "Monte Carlo distribution of usd_per_m_output (USD/Mtok)",
                       blocks > 0, rc, dat, gp, err);
}

/* Horizontal bars per fleet (tornado_F): usd_per_m_output with each input at its low and high
 * end, around the fleet's median (P50, else its value). */
static int plot_tornados(Ctx *c, TsErr *err)
{
    sqlite3_stmt *st = NULL, *met = NULL;
    int rc = prep(c,
                  "SELECT input, low_x, high_x, low_value, high_value FROM tornado WHERE run_id = "
                  "?1 AND fleet = ?2 ORDER BY rowid",
                  &st, err);
    if (!rc)
        rc = prep(c,
                  "SELECT value, p5, p50, p95 FROM metrics WHERE run_id = ?1 AND fleet = ?2 AND "
                  "metric = ?3",
                  &met, err);
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        double q[4];
        int n = 0, step;
        char name[PLOT_NAME_MAX], text[512];
        sqlite3_reset(st);
        rc = bind_texts(c, st, c->fleets[i], NULL, err);
        if (!rc)
            rc = metric_get(c, met, c->fleets[i], "usd_per_m_output", q, err);
        if (rc)
            break;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            n++;
        if (step != SQLITE_DONE) {
            rc = db_err(c, "reading tornado rows", err);
            break;
        }
        if (n == 0 || !room(c))
            continue;
        double median = isfinite(q[2]) ? q[2] : q[0];
        FILE *dat, *gp;
        snprintf(name, sizeof name, "tornado_%d", i + 1);
        rc = begin_plot(c, name, "sensitivity of usd_per_m_output (tornado)", &dat, &gp, err);
        if (rc)
            break;
        fputs("# fleet ", dat);
        dat_str(dat, c->fleets[i]);
        fputs("\n# columns: row input low_x high_x low_value high_value median (values in "
              "USD/Mtok; row 1 at the bottom, largest swing on top)\n",
              dat);
        sqlite3_reset(st);
        for (int r = 0; (step = sqlite3_step(st)) == SQLITE_ROW; r++) {
            fprintf(dat, "%d ", n - r);
            dat_str(dat, (const char *)sqlite3_column_text(st, 0));
            for (int k = 1; k <= 4; k++)
                dat_num(dat, col_num(st, k));
            dat_num(dat, median);
            fputc('\n', dat);
        }
        if (step != SQLITE_DONE) {
            drop_plot(c, name, dat, gp);
            rc = db_err(c, "reading tornado rows", err);
            break;
        }
        snprintf(text, sizeof text, "Sensitivity of usd_per_m_output, fleet %s", c->fleets[i]);
        fputs("set title ", gp);
        gp_str(gp, text);
        fprintf(gp,
                "\nset xlabel 'usd_per_m_output (USD/Mtok)'\n"
                "set ylabel 'uncertain input'\n"
                "set yrange [0.4:%d.6]\n"
                "set ytics noenhanced\n"
                "set grid xtics\n"
                "set style fill solid 0.85 border -1\n",
                n);
        if (isfinite(median))
            fprintf(gp, "set arrow 1 from %.6g, graph 0 to %.6g, graph 1 nohead dt 2 lw 2\n",
                    median, median);
        fprintf(gp,
                "lo(a, m) = a < m ? a : m\n"
                "hi(a, m) = a < m ? m : a\n"
                "plot '%s.dat' using 7:1:(lo($5, $7)):(hi($5, $7)):($1-0.35):($1+0.35):ytic(2) "
                "with boxxyerror title 'input at P10', \\\n"
                "     '' using 7:1:(lo($6, $7)):(hi($6, $7)):($1-0.35):($1+0.35) "
                "with boxxyerror title 'input at P90'\n",
                name);
        rc = end_plot(c, name, text, dat, gp, err);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(met);
    return rc;
}

/* ---- running gnuplot ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t); /* for the time limit only, never for results */
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { GP_OK = 0, GP_MISSING = 1, GP_FAILED = 2, GP_TIMEOUT = 3, GP_NOSPAWN = 4 };

/* Runs `gnuplot NAME.gp` in dir (no shell) with stdin from /dev/null and stdout/stderr into
 * msg (the start of it). Kills the child's process group after PLOT_TIMEOUT_S. */
static int gp_exec(const char *dir, const char *name, char *msg, size_t size)
{
    char script[PLOT_NAME_MAX + 8];
    int fds[2];
    snprintf(script, sizeof script, "%s.gp", name);
    msg[0] = '\0';
    if (pipe(fds) != 0)
        return GP_NOSPAWN;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return GP_NOSPAWN;
    }
    if (pid == 0) {
        /* the child: only calls that are safe between fork and exec */
        static const char nogp[] = "execvp gnuplot failed\n";
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        if (chdir(dir) != 0)
            _exit(126);
        char *argv[] = {"gnuplot", script, NULL};
        execvp("gnuplot", argv);
        if (write(2, nogp, sizeof nogp - 1) < 0)
            _exit(127);
        _exit(127);
    }
    close(fds[1]);
    int fd = fds[0], status = 0, done = 0;
    size_t used = 0;
    double deadline = now_s() + PLOT_TIMEOUT_S;
    while (!done) {
        double left = deadline - now_s();
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (fd >= 0)
                close(fd);
            return GP_TIMEOUT;
        }
        if (fd >= 0) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int wait_ms = left > 0.1 ? 100 : (int)(left * 1000) + 1;
            if (poll(&p, 1, wait_ms) > 0) {
                char buf[512];
                ssize_t got = read(fd, buf, sizeof buf);
                if (got <= 0) {
                    close(fd);
                    fd = -1;
                } else if (used + 1 < size) {
                    size_t take = (size_t)got < size - 1 - used ? (size_t)got : size - 1 - used;
                    memcpy(msg + used, buf, take);
                    used += take;
                    msg[used] = '\0';
                }
            }
        } else {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            done = 1;
    }
    if (fd >= 0)
        close(fd);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && strstr(msg, "execvp gnuplot failed"))
        return GP_MISSING;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? GP_OK : GP_FAILED;
}

static int nonempty(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

static void unlink_image(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    unlink(path); /* usually absent: the folder is new */
}

/* Runs gnuplot on every script written; marks images and writes the note. */
static void render_all(Ctx *c)
{
    PlotResult *o = c->out;
    for (int i = 0; i < o->n; i++) {
        PlotItem *it = &o->items[i];
        char msg[512];
        unlink_image(c->dir, it->name, "png");
        unlink_image(c->dir, it->name, "svg");
        int r = gp_exec(c->dir, it->name, msg, sizeof msg);
        if (r == GP_OK && nonempty(c->dir, it->name, "png") && nonempty(c->dir, it->name, "svg")) {
            it->image = 1;
            o->n_images++;
            continue;
        }
        if (o->note[0])
            continue; /* the first failure says enough */
        size_t w = 0; /* one line: control characters and runs of spaces as one space */
        for (size_t k = 0; msg[k]; k++) {
            char ch = (unsigned char)msg[k] < 0x20 ? ' ' : msg[k];
            if (ch != ' ' || (w > 0 && msg[w - 1] != ' '))
                msg[w++] = ch;
        }
        msg[w] = '\0';
        switch (r) {
        case GP_MISSING:
            snprintf(o->note, sizeof o->note,
                     "gnuplot not found (Debian: apt-get install gnuplot-nox); wrote the .gp and "
                     ".dat files without images");
            return; /* the other scripts cannot run either */
        case GP_TIMEOUT:
            snprintf(o->note, sizeof o->note, "gnuplot %s.gp took over %.0f s and was stopped",
                     it->name, PLOT_TIMEOUT_S);
            break;
        case GP_NOSPAWN:
            snprintf(o->note, sizeof o->note, "could not start gnuplot for %s.gp: %s", it->name,
                     strerror(errno));
            break;
        default:
            snprintf(o->note, sizeof o->note, "gnuplot %s.gp failed: %.400s", it->name,
                     msg[0] ? msg : "no image written");
        }
    }
}

/* A measure run's decode rows, one line per model and precision (dense against MoE, fp32
 * against bf16 and int8): which 0 is tokens/s against batch (measure_tok_s), 1 J/token against
 * batch (measure_j_per_token, labelled with the energy source, e.g. modeled:cpu-linear), 2
 * tokens/s against the forced MTP acceptance rate (measure_mtp_tok_s, forced runs only). Each
 * line at the largest thread count it was measured at. */
static int plot_measure(Ctx *c, int which, TsErr *err)
{
    static const char *const NAME[] = {"measure_tok_s", "measure_j_per_token",
                                       "measure_mtp_tok_s"};
    static const char *const WHAT[] = {"decode tokens/s against batch per model",
                                       "decode J/token against batch per model",
                                       "decode tokens/s against forced MTP acceptance"};
    /* lines: label, threads, energy source, then the values that pick a line's rows */
    static const char GROUPS[] =
        "SELECT model || CASE WHEN precision = 'fp32' AND kv_precision = 'fp32' THEN '' ELSE"
        " ' ' || precision || CASE WHEN kv_precision = 'fp32' THEN '' ELSE ' KV ' ||"
        " kv_precision END END || CASE WHEN mtp_depth > 0 THEN ' MTP ' || mtp_depth ELSE ''"
        " END, MAX(threads), MIN(energy_source), model, precision, kv_precision, mtp_depth"
        " FROM measurements WHERE run_id = ?1 AND phase = 'decode' AND (CASE WHEN ?2 THEN"
        " mtp_depth > 0 AND mtp_accept_forced IS NOT NULL ELSE mtp_depth = 0 END)"
        " GROUP BY model, precision, kv_precision, mtp_depth"
        " ORDER BY model, precision, kv_precision, mtp_depth";
    static const char *const ROWS[] = {
        "SELECT batch, SUM(tokens) / SUM(seconds) FROM measurements WHERE run_id = ?1 AND "
        "model = ?2 AND phase = 'decode' AND threads = ?3 AND precision = ?4 AND "
        "kv_precision = ?5 AND mtp_depth = ?6 AND seconds > 0 GROUP BY batch ORDER BY batch",
        "SELECT batch, SUM(energy_j) / SUM(tokens) FROM measurements WHERE run_id = ?1 AND "
        "model = ?2 AND phase = 'decode' AND threads = ?3 AND precision = ?4 AND "
        "kv_precision = ?5 AND mtp_depth = ?6 AND tokens > 0 GROUP BY batch ORDER BY batch",
        "SELECT mtp_accept_forced, SUM(tokens) / SUM(seconds) FROM measurements WHERE "
        "run_id = ?1 AND model = ?2 AND phase = 'decode' AND threads = ?3 AND precision = ?4 "
        "AND kv_precision = ?5 AND mtp_depth = ?6 AND mtp_accept_forced IS NOT NULL AND "
        "seconds > 0 GROUP BY mtp_accept_forced ORDER BY mtp_accept_forced"};
    const char *name = NAME[which];
    sqlite3_stmt *lines = NULL, *st = NULL;
    int rc = prep(c, GROUPS, &lines, err);
    if (rc)
        return rc;
    if (sqlite3_bind_int(lines, 2, which == 2) != SQLITE_OK) {
        sqlite3_finalize(lines);
        return db_err(c, "binding a parameter", err);
    }
    if (sqlite3_step(lines) != SQLITE_ROW || !room(c)) {
        sqlite3_finalize(lines);
        return 0;
    }
    char source[64];
    title_copy(source, sizeof source, (const char *)sqlite3_column_text(lines, 2));
    sqlite3_reset(lines);
    rc = prep(c, ROWS[which], &st, err);
    if (rc) {
        sqlite3_finalize(lines);
        return rc;
    }
    FILE *dat, *gp;
    char text[256];
    if (which == 0)
        snprintf(text, sizeof text, "Decode tokens/s against batch, per model and precision "
                                    "(measured)");
    else if (which == 1)
        snprintf(text, sizeof text, "Decode J/token against batch, per model and precision "
                                    "(energy: %s)",
                 source);
    else
        snprintf(text, sizeof text, "Decode tokens/s at batch 1 against the forced MTP "
                                    "acceptance rate (measured)");
    rc = begin_plot(c, name, WHAT[which], &dat, &gp, err);
    if (rc) {
        sqlite3_finalize(lines);
        sqlite3_finalize(st);
        return rc;
    }
    fprintf(dat, "# columns: %s %s\n# one block per line (gnuplot index 0, 1, ...)\n",
            which == 2 ? "forced acceptance (share)" : "batch (sequences)",
            which == 1 ? "J/token (energy_j / tokens)" : "tokens/s (tokens / seconds)");
    fputs("set title ", gp);
    gp_str(gp, text);
    if (which == 2)
        fputs("\nset xlabel 'forced MTP acceptance rate'\nset xrange [0:1]\n", gp);
    else
        fputs("\nset xlabel 'batch (sequences)'\nset logscale x 2\n", gp);
    fprintf(gp, "set ylabel '%s'\n", which == 1 ? "J/token" : "tokens/s");
    int blocks = 0, finite = 0, step;
    while (!rc && (step = sqlite3_step(lines)) == SQLITE_ROW) {
        const char *label = (const char *)sqlite3_column_text(lines, 0);
        int rows = 0;
        sqlite3_reset(st);
        if (sqlite3_bind_value(st, 2, sqlite3_column_value(lines, 3)) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, sqlite3_column_int64(lines, 1)) != SQLITE_OK ||
            sqlite3_bind_value(st, 4, sqlite3_column_value(lines, 4)) != SQLITE_OK ||
            sqlite3_bind_value(st, 5, sqlite3_column_value(lines, 5)) != SQLITE_OK ||
            sqlite3_bind_value(st, 6, sqlite3_column_value(lines, 6)) != SQLITE_OK) {
            rc = db_err(c, "binding a parameter", err);
            break;
        }
        rc = dump_rows(c, st, 2, 1, 0, "line", label ? label : "", blocks > 0, dat, &rows, &finite,
                       err);
        if (rc || rows == 0)
            continue;
        gp_series(gp, name, blocks == 0, blocks);
        fputs(" using 1:2 with linespoints lw 2 title ", gp);
        gp_str(gp, label ? label : "");
        blocks++;
    }
    sqlite3_finalize(lines);
    sqlite3_finalize(st);
    return finish_plot(c, name, text, finite > 0, rc, dat, gp, err);
}

int plot_run(struct sqlite3 *db, int64_t run_id, const char *dir, PlotResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    Ctx c = {.db = db, .run_id = run_id, .dir = dir, .out = out};
    int rc = load_fleets(&c, err);
    if (!rc)
        rc = plot_metrics(&c, err);
    for (size_t i = 0; !rc && i < sizeof ANSWERS / sizeof ANSWERS[0]; i++)
        rc = plot_answer(&c, &ANSWERS[i], err);
    if (!rc)
        rc = plot_price_curve(&c, err);
    if (!rc)
        rc = plot_price_lines(&c, err);
    if (!rc)
        rc = plot_batch_curve(&c, err);
    if (!rc)
        rc = plot_heatmaps(&c, err);
    if (!rc)
        rc = plot_histogram(&c, err);
    if (!rc)
        rc = plot_tornados(&c, err);
    for (int which = 0; which < 3 && !rc; which++)
        rc = plot_measure(&c, which, err);
    if (!rc)
        render_all(&c);
    for (int i = 0; i < c.n_fleets; i++)
        free(c.fleets[i]);
    free(c.fleets);
    if (!rc && out->left_out > 0 && !out->note[0])
        snprintf(out->note, sizeof out->note, "%d plots left out (at most %d per run)",
                 out->left_out, PLOT_MAX);
    return rc;
}
