/* Unit tests for sim/render/report.c's metrics.csv: it parses back with libcsv into exactly four
 * fields a row (fleet, metric, value, unit), one row per fleet and metric, with the values the
 * evaluation computed; a fleet name a spreadsheet would read as a formula gets an apostrophe;
 * csv_digits 6 (the gallery) rounds to 6 significant figures. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <csv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cli/record.h"
#include "sim/price/evaluate.h"
#include "sim/price/metrics.h"
#include "sim/render/report.h"
#include "sim/scenario/scenario.h"
#include "sim/store/run.h"
#include "sim/study/outcome.h"
#include "tests/unit/testutil.h"

static const char SCENARIO[] =
    "[scenario]\nname = csv-test\n"
    "[workload]\nmodel = llama-3.1-8b\ninput_tokens_per_day = 1e9\n"
    "output_tokens_per_day = 3e8\n"
    "[fleet -cheap]\nchip = h100-sxm\ndecode_tok_s_per_chip = 1000\n"
    "prefill_tok_s_per_chip = 10000\nusd_per_kwh = 0.08\n"
    "[fleet b]\nchip = h100-sxm\ncost = rent\nrent_usd_per_chip_hour = 2\n"
    "decode_tok_s_per_chip = 900\nprefill_tok_s_per_chip = 12000\nusd_per_kwh = 0.08\n";

/* The parsed file: rows of up to 8 fields, each field a copy. */
typedef struct {
    char cell[4096][4][64];
    int n_fields[4096];
    int row, field, too_many;
} Parsed;

static void on_field(void *s, size_t len, void *data)
{
    Parsed *p = data;
    if (p->row >= 4096)
        return;
    if (p->field < 4)
        snprintf(p->cell[p->row][p->field], 64, "%.*s", (int)len, (const char *)s);
    else
        p->too_many = 1;
    p->field++;
}

static void on_row(int c, void *data)
{
    (void)c;
    Parsed *p = data;
    if (p->row < 4096)
        p->n_fields[p->row] = p->field;
    p->row++;
    p->field = 0;
}

/* Writes the report of SCENARIO into t->dir with csv_digits and parses metrics.csv back. */
static void write_and_parse(TestTmp *t, int digits, Parsed *p, FleetResult res[2])
{
    TsErr err;
    ScnCatalogs cats;
    Scenario s;
    if (scn_catalogs_load(&cats, "data", &err))
        fail_msg("catalogs: %s", err.msg);
    if (scn_load_text(&s, "csv.ini", SCENARIO, strlen(SCENARIO), &cats, &err))
        fail_msg("scenario: %s", err.msg);
    assert_int_equal(s.n_fleets, 2);
    for (int i = 0; i < 2; i++)
        if (eval_fleet(&s, &s.fleets[i], &res[i], &err))
            fail_msg("eval: %s", err.msg);
    /* the run's way out: outcome, stored rows, the run read back, rendered */
    Outcome o;
    Record rec;
    Store *db = NULL;
    StoredRun run;
    int64_t run_id = 0;
    char db_path[256];
    snprintf(db_path, sizeof db_path, "%s/report.db", t->dir);
    StoreRunInfo info = {.kind = "scenario", .name = "csv-test", .version = "test"};
    if (outcome_make(&s, res, NULL, NULL, NULL, &o, &err) ||
        record_make(&s, &o, NULL, NULL, digits == 6, &rec, &err) ||
        store_open(db_path, &db, &err) || store_run_begin(db, &info, &run_id, &err) ||
        store_run_finish_all(db, run_id, &rec.res, &err) ||
        store_load_run(db, run_id, &run, &err) || report_write_run(t->dir, &run, &err))
        fail_msg("report: %s", err.msg);
    store_run_free(&run);
    store_close(db);
    record_fini(&rec);
    outcome_fini(&o);
    scn_fini(&s);
    scn_catalogs_fini(&cats);

    char path[256];
    snprintf(path, sizeof path, "%s/metrics.csv", t->dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct csv_parser parser;
    assert_int_equal(csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI), 0);
    memset(p, 0, sizeof *p);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&parser, buf, n, on_field, on_row, p) != n)
            fail_msg("libcsv: %s", csv_strerror(csv_error(&parser)));
    assert_int_equal(csv_fini(&parser, on_field, on_row, p), 0);
    csv_free(&parser);
    fclose(f);
}

static void test_metrics_csv_parses_back_with_libcsv(void **state)
{
    TestTmp *t = *state;
    static Parsed p;
    FleetResult res[2];
    write_and_parse(t, 10, &p, res);
    assert_false(p.too_many);
    assert_int_equal(p.row, 1 + 2 * MET_COUNT);
    for (int r = 0; r < p.row; r++)
        if (p.n_fields[r] != 4)
            fail_msg("row %d has %d fields", r, p.n_fields[r]);
    assert_string_equal(p.cell[0][0], "fleet");
    assert_string_equal(p.cell[0][3], "unit");
    int seen = 0;
    for (int r = 1; r < p.row; r++) {
        int fleet = strcmp(p.cell[r][0], "'-cheap") == 0 ? 0 : strcmp(p.cell[r][0], "b") == 0 ? 1 : -1;
        if (fleet < 0)
            fail_msg("row %d: fleet '%s' (want '-cheap with an apostrophe, or b)", r, p.cell[r][0]);
        int m = met_find(p.cell[r][1]);
        assert_true(m >= 0);
        assert_string_equal(p.cell[r][3], met_info((MetricId)m)->unit);
        if (!res[fleet].metrics.has[m]) {
            assert_string_equal(p.cell[r][2], "");
            continue;
        }
        char *end;
        double v = strtod(p.cell[r][2], &end);
        assert_true(*end == '\0' && end != p.cell[r][2]);
        assert_close(v, res[fleet].metrics.value[m], 1e-9, 0);
        seen += m == MET_USD_PER_M_OUTPUT;
    }
    assert_int_equal(seen, 2);
}

static void test_metrics_csv_to_six_figures_for_the_gallery(void **state)
{
    TestTmp *t = *state;
    static Parsed p;
    FleetResult res[2];
    write_and_parse(t, 6, &p, res);
    int checked = 0;
    for (int r = 1; r < p.row; r++) {
        int m = met_find(p.cell[r][1]);
        if (m != MET_USD_PER_M_OUTPUT)
            continue;
        int fleet = strcmp(p.cell[r][0], "b") == 0;
        char want[64];
        snprintf(want, sizeof want, "%.6g", res[fleet].metrics.value[m]);
        assert_string_equal(p.cell[r][2], want);
        checked++;
    }
    assert_int_equal(checked, 2);
}

static int setup(void **state) { return test_tmp_setup(state, "test_report", "unused"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_csv_parses_back_with_libcsv, setup,
                                        test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_csv_to_six_figures_for_the_gallery, setup,
                                        test_tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
