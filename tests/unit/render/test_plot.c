/* test_plot: sim/plot and sim/html against a real database with two fleets, one named with
 * hostile text (quotes, a gnuplot system() call, backquotes, <, a control character). Checks the
 * files written, that gnuplot draws every script, that the hostile name reaches scripts only as
 * an escaped single-quoted string and runs nothing, the HTML page (escaped, no script, images
 * present), and that a missing gnuplot still returns 0 with no images. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <sys/stat.h>

#include "sim/render/html.h"
#include "sim/render/plot.h"
#include "sim/store/run.h"
#include "sim/store/store.h"

#define N_FLEETS 2

/* The hostile fleet name of folder dir: it would touch dir/pwned or dir/pwned2 if it ran. */
static void hostile_name(const char *dir, char *out, size_t size)
{
    snprintf(out, size, "a';system('touch %s/pwned');'`touch %s/pwned2`\"<b>\x01x", dir, dir);
}

/* name as gp_str writes it inside its quotes: ' doubled, control characters as \xNN (the
 * inert-text rule). */
static void gp_escaped(const char *name, char *out, size_t size)
{
    size_t o = 0;
    for (; *name && o + 5 < size; name++) {
        if (*name == '\'') {
            out[o++] = '\'';
            out[o++] = '\'';
        } else if ((unsigned char)*name < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", (unsigned char)*name);
        } else {
            out[o++] = *name;
        }
    }
    out[o] = '\0';
}

/* Fails unless every line of script gp closes its single-quoted strings ('' inside one is a
 * quote) and has no double quote, backquote or "system" outside them. */
static void assert_text_only_in_single_quotes(const char *gp, const char *what)
{
    int in = 0, line = 1;
    for (const char *c = gp; *c; c++) {
        if (*c == '\n') {
            if (in)
                fail_msg("%s:%d: a single-quoted string runs past the line", what, line);
            line++;
        } else if (*c == '\'') {
            if (in && c[1] == '\'')
                c++;
            else
                in = !in;
        } else if (!in && (*c == '"' || *c == '`' || strncmp(c, "system", 6) == 0)) {
            fail_msg("%s:%d: %.20s outside single quotes", what, line, c);
        }
    }
}

/* The sweep points of the fleets: a 1-D sweep over usd_per_kwh and a 2-D one over price_usd
 * and usd_per_kwh, for usd_per_m_output and usd_per_day; into rows, returning the count. */
static long sweep_rows(const char *const *fleets, StoreSweepRow *rows)
{
    static const double X[] = {0.05, 0.1, 0.15}, P[] = {10000, 20000, 30000};
    long n = 0;
    for (int f = 0; f < N_FLEETS; f++) {
        for (int m = 0; m < 2; m++) {
            const char *metric = m ? "usd_per_day" : "usd_per_m_output";
            for (int i = 0; i < 3; i++) /* 1-D: usd_per_kwh */
                rows[n++] = (StoreSweepRow){fleets[f], "usd_per_kwh", NULL, metric, X[i], 0,
                                            0.5 * (f + 1) + X[i] + 100.0 * m, 1};
            for (int i = 0; i < 3; i++) /* 2-D: price_usd x usd_per_kwh */
                for (int j = 0; j < 3; j++)
                    rows[n++] = (StoreSweepRow){fleets[f], "price_usd", "usd_per_kwh", metric, P[i],
                                                X[j], (f + 1) * (P[i] * 1e-5 + X[j]) + 100.0 * m,
                                                1};
        }
    }
    return n;
}

/* Builds t->path: one finished run with metrics (with percentiles), histograms, tornado rows and
 * sweep points of the fleets "h100-us" and the hostile name. Returns the run id. */
static int64_t build_db(const TestTmp *t, const char *hostile)
{
    const char *fleets[N_FLEETS] = {"h100-us", hostile};
    static const char *const COST[] = {"capital_usd_per_day", "rent_usd_per_day",
                                       "hosting_usd_per_day", "energy_usd_per_day"};
    StoreFleetRow fr[N_FLEETS];
    StoreMetricRow mr[N_FLEETS * 6];
    StoreHistogramRow hr[N_FLEETS * 5];
    StoreTornadoRow tr[N_FLEETS * 3];
    StoreSweepRow sw[N_FLEETS * 2 * 12];
    const char *inputs[3] = {"usd_per_kwh", "chip price_usd", hostile};
    int nm = 0, nh = 0, nt = 0;
    memset(fr, 0, sizeof fr);
    memset(mr, 0, sizeof mr);
    for (int f = 0; f < N_FLEETS; f++) {
        double s = f + 1;
        fr[f].fleet = fleets[f];
        fr[f].chip = "h100-sxm";
        fr[f].model = "llama-3.3-70b";
        for (int k = 0; k < 4; k++)
            mr[nm++] = (StoreMetricRow){
                fleets[f], COST[k], "USD/window", k == 1 ? 0 : 1000 * s / (k + 1), 1, 0, 0, 0, 0, "fleet"};
        mr[nm++] = (StoreMetricRow){fleets[f], "usd_per_m_input", "USD/Mtok", 0.1 * s, 1,
                                    0.08 * s,  0.1 * s,           0.13 * s,   1, "fleet"};
        mr[nm++] = (StoreMetricRow){
            fleets[f], "usd_per_m_output", "USD/Mtok", 0.5 * s, 1, 0.4 * s, 0.5 * s, 0.7 * s, 1, "fleet"};
        for (int b = 0; b < 5; b++)
            hr[nh++] = (StoreHistogramRow){fleets[f], "usd_per_m_output", 0.4 * s + 0.06 * s * b,
                                           0.4 * s + 0.06 * s * (b + 1), 10 + 7 * b - b * b};
        for (int i = 0; i < 3; i++)
            tr[nt++] = (StoreTornadoRow){
                fleets[f], inputs[i], 1.0, 2.0, 0.5 * s - 0.1 / (i + 1), 0.5 * s + 0.15 / (i + 1)};
    }
    Store *st = NULL;
    TsErr err;
    ts_err_clear(&err);
    int64_t run_id = 0;
    if (store_open(t->path, &st, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    StoreRunInfo info = {.kind = "sweep", .name = "plot-test", .seed = 1, .version = "test"};
    if (store_run_begin(st, &info, &run_id, &err) != 0)
        fail_msg("store_run_begin: %s", err.msg);
    StoreResults r = {.fleets = fr,
                      .n_fleets = N_FLEETS,
                      .metrics = mr,
                      .n_metrics = nm,
                      .tornado = tr,
                      .n_tornado = nt,
                      .histograms = hr,
                      .n_histograms = nh,
                      .sweep = sw,
                      .n_sweep = sweep_rows(fleets, sw)};
    if (store_run_finish_all(st, run_id, &r, &err) != 0)
        fail_msg("store_run_finish_all: %s", err.msg);
    store_close(st);
    return run_id;
}

/* Runs plot_run on run_id of t->path read back through the store, writing into t->dir. */
static int plot_stored(const TestTmp *t, int64_t run_id, PlotResult *res)
{
    Store *db = NULL;
    StoredRun run;
    TsErr err;
    ts_err_clear(&err);
    if (store_open_readonly(t->path, &db, &err) != 0)
        fail_msg("store_open_readonly: %s", err.msg);
    if (store_load_run(db, run_id, &run, &err) != 0)
        fail_msg("store_load_run: %s", err.msg);
    int rc = plot_run(&run, t->dir, res, &err);
    store_run_free(&run);
    store_close(db);
    return rc;
}

/* Runs plot_run on a fresh connection to t->path, writing into t->dir. */
static void plot_ok(const TestTmp *t, int64_t run_id, PlotResult *res)
{
    int rc = plot_stored(t, run_id, res);
    if (rc != 0)
        fail_msg("plot_run = %d", rc);
}

static char *slurp(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int file_ok(const char *dir, const char *name, const char *ext)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return stat(path, &sb) == 0 && sb.st_size > 0;
}

static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char copy[4096], exe[4200];
    snprintf(copy, sizeof copy, "%s", path ? path : "");
    for (char *d = strtok(copy, ":"); d; d = strtok(NULL, ":")) {
        snprintf(exe, sizeof exe, "%s/gnuplot", d);
        if (access(exe, X_OK) == 0)
            return 1;
    }
    return 0;
}

static const char *const EXPECTED[] = {"cost_breakdown", "usd_per_m", "price_curve", "heatmap_1",
                                       "heatmap_2",      "histogram", "tornado_1",   "tornado_2"};
#define N_EXPECTED ((int)(sizeof EXPECTED / sizeof EXPECTED[0]))

static int setup(void **state)
{
    return test_tmp_setup(state, "test_plot", "test.db");
}

static int teardown(void **state)
{
    TestTmp *t = *state;
    char p[160];
    snprintf(p, sizeof p, "%s/nobin", t->dir);
    rmdir(p); /* the empty PATH folder of the missing-gnuplot test */
    return test_tmp_teardown(state);
}

static void test_plot_run_writes_every_plot_and_gnuplot_draws_each(void **state)
{
    TestTmp *t = *state;
    char hostile[256];
    if (!have_gnuplot())
        skip();
    hostile_name(t->dir, hostile, sizeof hostile);
    int64_t run_id = build_db(t, hostile);
    PlotResult res;
    plot_ok(t, run_id, &res);
    assert_int_equal(res.n, N_EXPECTED);
    for (int i = 0; i < N_EXPECTED; i++) {
        assert_string_equal(res.items[i].name, EXPECTED[i]);
        assert_true(file_ok(t->dir, EXPECTED[i], "dat"));
        assert_true(file_ok(t->dir, EXPECTED[i], "gp"));
        if (!res.items[i].image)
            fail_msg("%s: no image: %s", EXPECTED[i], res.note);
        assert_true(file_ok(t->dir, EXPECTED[i], "png"));
        assert_true(file_ok(t->dir, EXPECTED[i], "svg"));
    }
    assert_int_equal(res.n_images, N_EXPECTED);
    assert_string_equal(res.note, "");

    /* the data are the run's, not another metric's: usd_per_day points (>= 100) stay out */
    char *dat = slurp(t->dir, "price_curve.dat");
    assert_non_null(strstr(dat, "\n 0.05 0.55\n 0.1 0.6\n 0.15 0.65\n"));
    assert_non_null(strstr(dat, "\n 0.05 1.05\n"));
    assert_null(strstr(dat, " 100."));
    free(dat);
    char *gp = slurp(t->dir, "price_curve.gp");
    assert_non_null(strstr(gp, "set xlabel 'usd_per_kwh (USD/kWh)'\n"));
    free(gp);
    dat = slurp(t->dir, "usd_per_m.dat");
    assert_non_null(strstr(dat, "\"h100-us\" 0.1 0.08 0.13 0.5 0.4 0.7\n"));
    free(dat);
    dat = slurp(t->dir, "heatmap_2.dat");
    assert_non_null(strstr(dat, " 10000 0.15 0.5\n\n 20000 0.05 0.5\n"));
    free(dat);
}

static void test_plot_hostile_names_are_quoted_and_run_nothing(void **state)
{
    TestTmp *t = *state;
    char hostile[256], esc[512], quoted[520], p[256];
    hostile_name(t->dir, hostile, sizeof hostile);
    gp_escaped(hostile, esc, sizeof esc);
    snprintf(quoted, sizeof quoted, "'%s'", esc);
    int64_t run_id = build_db(t, hostile);
    PlotResult res;
    plot_ok(t, run_id, &res);
    assert_int_equal(res.n, N_EXPECTED);
    /* scripts naming the hostile fleet: the line titles and the tornado title */
    static const char *const NAMED[] = {"price_curve.gp", "histogram.gp", "heatmap_2.gp",
                                        "tornado_2.gp"};
    for (size_t i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++) {
        char *gp = slurp(t->dir, NAMED[i]);
        if (!strstr(gp, esc))
            fail_msg("%s does not name the fleet as %s", NAMED[i], quoted);
        /* every occurrence sits inside single quotes: the doubled form, never the raw one */
        assert_null(strstr(gp, "a';system"));
        assert_null(strstr(gp, "\x01"));
        assert_text_only_in_single_quotes(gp, NAMED[i]);
        if (i != 2 && i != 3) /* line titles are the name alone */
            assert_non_null(strstr(gp, quoted));
        free(gp);
    }
    /* in data files the name is one double-quoted column: its " replaced, no control chars */
    char *dat = slurp(t->dir, "usd_per_m.dat");
    char *line = strstr(dat, "\"a'");
    assert_non_null(line);
    int quotes = 0;
    for (char *c = line; *c && *c != '\n'; c++)
        quotes += *c == '"';
    assert_int_equal(quotes, 2);
    assert_null(strstr(dat, "\x01"));
    free(dat);
    snprintf(p, sizeof p, "%s/pwned", t->dir);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/pwned2", t->dir);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_html_report_is_escaped_with_existing_images(void **state)
{
    TestTmp *t = *state;
    char hostile[256], md_path[160];
    hostile_name(t->dir, hostile, sizeof hostile);
    int64_t run_id = build_db(t, hostile);
    PlotResult res;
    plot_ok(t, run_id, &res);
    /* a report.md as report.c writes it (its escaping), plus raw HTML that must not pass */
    snprintf(md_path, sizeof md_path, "%s/report.md", t->dir);
    FILE *f = fopen(md_path, "w");
    assert_non_null(f);
    fprintf(f,
            "# plot-test\n\nScenario file: `scenarios/x.ini`; run %lld; **bold** text\n"
            "second line <script>alert(1)</script>\n\n"
            "## Summary\n\n| fleet | chips (chips) |\n|---|---:|\n"
            "| h100-us | 1,192 |\n| a';system('x');'`y` &lt;b&gt; \\| z | 8 |\n\n"
            "## Warnings\n\n- fleet `h100-us` is too small\n- second\n",
            (long long)run_id);
    assert_int_equal(fclose(f), 0);
    TsErr err;
    ts_err_clear(&err);
    int rc = html_write_report(t->dir, md_path, &res, "plot-test <run>", &err);
    if (rc != 0)
        fail_msg("html_write_report = %d: %s", rc, err.msg);
    char *h = slurp(t->dir, "report.html");
    assert_non_null(strstr(h, "<title>plot-test &lt;run&gt;</title>"));
    assert_non_null(strstr(h, "<h1>plot-test</h1>"));
    assert_non_null(strstr(h, "<code>scenarios/x.ini</code>"));
    assert_non_null(strstr(h, "<strong>bold</strong>"));
    assert_non_null(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(h, "<th class=\"r\">chips (chips)</th>"));
    assert_non_null(strstr(h, "<td class=\"r\">1,192</td>"));
    /* the escaped \| stays in its cell; entities decode and are escaped again */
    assert_non_null(strstr(h, "<td>a&#39;;system(&#39;x&#39;);&#39;<code>y</code> &lt;b&gt; | z"
                              "</td><td class=\"r\">8</td>"));
    assert_non_null(strstr(h, "<li>fleet <code>h100-us</code> is too small</li>\n<li>second</li>"));
    /* the hostile fleet name in plot titles and alt text */
    assert_non_null(strstr(h, "a&#39;;system(&#39;touch "));
    assert_non_null(strstr(h, "&quot;&lt;b&gt;"));
    assert_null(strstr(h, "<script"));
    assert_null(strstr(h, "<SCRIPT"));
    assert_null(strstr(h, "http://"));
    assert_null(strstr(h, "https://"));
    assert_null(strstr(h, "a';"));
    int imgs = 0;
    for (char *p = strstr(h, "<img src=\""); p; p = strstr(p + 1, "<img src=\"")) {
        char name[128];
        const char *s = p + strlen("<img src=\"");
        size_t n = strcspn(s, "\"");
        assert_true(n < sizeof name);
        memcpy(name, s, n);
        name[n] = '\0';
        char path[300];
        snprintf(path, sizeof path, "%s/%s", t->dir, name);
        if (access(path, R_OK) != 0)
            fail_msg("report.html shows %s, which does not exist", name);
        imgs++;
    }
    assert_int_equal(imgs, res.n_images);
    if (have_gnuplot())
        assert_int_equal(imgs, N_EXPECTED);
    free(h);
    snprintf(md_path, sizeof md_path, "%s/.report.html.tmp", t->dir);
    assert_int_equal(access(md_path, F_OK), -1);
}

static void test_plot_without_gnuplot_writes_scripts_and_returns_0(void **state)
{
    TestTmp *t = *state;
    char empty[160], hostile[256];
    hostile_name(t->dir, hostile, sizeof hostile);
    int64_t run_id = build_db(t, hostile);
    snprintf(empty, sizeof empty, "%s/nobin", t->dir);
    assert_int_equal(mkdir(empty, 0700), 0);
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    assert_int_equal(setenv("PATH", empty, 1), 0);
    PlotResult res;
    TsErr err;
    ts_err_clear(&err);
    int rc = plot_stored(t, run_id, &res);
    if (saved)
        setenv("PATH", saved, 1);
    else
        unsetenv("PATH");
    free(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(res.n, N_EXPECTED);
    assert_int_equal(res.n_images, 0);
    assert_non_null(strstr(res.note, "gnuplot not found"));
    for (int i = 0; i < res.n; i++) {
        assert_int_equal(res.items[i].image, 0);
        assert_true(file_ok(t->dir, res.items[i].name, "gp"));
        assert_true(file_ok(t->dir, res.items[i].name, "dat"));
        assert_false(file_ok(t->dir, res.items[i].name, "png"));
        assert_false(file_ok(t->dir, res.items[i].name, "svg"));
    }
    /* the page then names the scripts instead of showing images */
    rc = html_write_report(t->dir, NULL, &res, "no gnuplot", &err);
    assert_int_equal(rc, 0);
    char *h = slurp(t->dir, "report.html");
    assert_null(strstr(h, "<img"));
    assert_non_null(strstr(h, "<code>gnuplot cost_breakdown.gp</code>"));
    assert_non_null(strstr(h, "gnuplot not found"));
    free(h);
}

static void test_plot_run_with_no_rows_writes_nothing(void **state)
{
    TestTmp *t = *state;
    char hostile[256];
    hostile_name(t->dir, hostile, sizeof hostile);
    build_db(t, hostile);
    PlotResult res;
    StoredRun empty; /* a run with no rows */
    memset(&empty, 0, sizeof empty);
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(plot_run(&empty, t->dir, &res, &err), 0);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.n_images, 0);
    assert_false(file_ok(t->dir, "cost_breakdown", "gp"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plot_run_writes_every_plot_and_gnuplot_draws_each,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_plot_hostile_names_are_quoted_and_run_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_html_report_is_escaped_with_existing_images, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_plot_without_gnuplot_writes_scripts_and_returns_0,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_plot_run_with_no_rows_writes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
