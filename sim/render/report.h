/* report: writes a scenario run's report into its output folder: report.md (the scenario,
 * every input used with where it came from, a table per fleet with units, warnings, catalog
 * sources) and metrics.csv (written with libcsv). Files are written under a temporary name and
 * renamed. Plots and HTML come later. It reads results; it computes nothing. */
#ifndef TS_SIM_REPORT_H
#define TS_SIM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "models/tserr.h"
#include "sim/study/compare.h"
#include "sim/price/evaluate.h"
#include "sim/study/montecarlo.h"
#include "sim/study/question.h"
#include "sim/scenario/scenario.h"
#include "sim/study/sweep.h"

/* Creates a new folder for a run under out_root: out_root/<stem>-<run_id>, or with a "-2",
 * "-3"... suffix when that exists (a folder is never reused). stem is the scenario file's name
 * without folder and extension. The path goes into dir (size bytes). */
int report_make_dir(const char *out_root, const char *scenario_path, int64_t run_id, char *dir,
                    int size, TsErr *err);

/* What a Monte Carlo run adds to a report (NULL for a deterministic one). */
typedef struct {
    long samples;
    long clamped;
    const long *failed;          /* (fleets) samples a fleet could not be priced */
    const double *pct;           /* (fleets, MC_N_PCT, 3): p5, p50, p95 */
    const McTornadoBar *tornado; /* (fleets, n_dists) sorted per fleet */
    const int *n_bars;           /* (fleets) */
    int n_dists;
} ReportMc;

/* Writes report.md and metrics.csv for scenario s and its per-fleet results (s->n_fleets of
 * them) into dir, with a Sweep section when sweep is not NULL and a Comparison section when
 * cmp is not NULL, and a Conclusion (with its rows in metrics.csv) when q holds one. run_id may be 0 for a report without a run id; metrics.csv prints values to
 * csv_digits significant figures (10 for users, 6 for the reproducible gallery). */
int report_write_scenario(const char *dir, const Scenario *s, const FleetResult *results,
                          const ReportMc *mc, const CmpResult *cmp, const SwpResult *sweep,
                          const QstResult *q, int64_t run_id, int csv_digits, TsErr *err);

/* The unit a key's name carries ("usd_per_kwh" -> "USD/kWh"), "" when it has none. */
const char *report_key_unit(const char *key);

/* Formats v for people: grouped integers from 1,000 up, else 4 significant figures; "n/a"
 * when v is not finite (a person never reads "nan" or "inf"). */
const char *report_fmt(double v, char *buf, int size);

/* Writes s to f as one quoted CSV cell (libcsv); a cell a spreadsheet would evaluate as a
 * formula (starting with = + - @) gets a leading apostrophe. */
void report_csv_text(FILE *f, const char *s);

#endif
