/* report: writes a run's report into its output folder: report.md (a scenario run's: the
 * scenario, every input used with where it came from, a table per fleet with units, warnings,
 * catalog sources; serving and measure runs: report_serving, report_measure) and metrics.csv
 * (written with libcsv), from the stored run alone. Files are written under a temporary name
 * and renamed. Plots and HTML come later. It computes nothing. */
#ifndef TS_SIM_REPORT_H
#define TS_SIM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "models/tserr.h"
#include "sim/store/run.h"

/* Creates a new folder for a run under out_root: out_root/<stem>-<run_id>, or with a "-2",
 * "-3"... suffix when that exists (a folder is never reused). stem is the scenario file's name
 * without folder and extension. The path goes into dir (size bytes). */
int report_make_dir(const char *out_root, const char *scenario_path, int64_t run_id, char *dir,
                    int size, TsErr *err);

/* Writes report.md and metrics.csv of the stored run r into dir: the scenario, a summary, the
 * Monte Carlo percentiles, optimizer, warnings, workload, a section per fleet with every input
 * and where it came from, catalog rows used, then Sweep and Comparison sections when the run
 * has them (a serving run: report_serving.h; a measure run: report_measure.h, plus its
 * results.json). The run says how it renders: a reproducible run (the gallery) leaves its id
 * out and prints metrics.csv to 6 significant figures, others show the id and print 10. */
int report_write_run(const char *dir, const StoredRun *r, TsErr *err);

/* The same report.md written to a stream (tokensim report RUN), as report_write_run writes it;
 * report_md and report_csv with explicit settings. */
void report_md_stored(FILE *f, const StoredRun *r);
void report_md(FILE *f, const StoredRun *r, int show_run_id);
void report_csv(FILE *f, const StoredRun *r, int digits);

/* Writes text to f escaped for a Markdown table cell or paragraph (one line, inert). */
void report_md_text(FILE *f, const char *text);

/* Writes an input as a table row: | key | value | unit | where it came from |. */
void report_md_input_row(FILE *f, const StoredInput *in);

/* The unit a key's name carries ("usd_per_kwh" -> "USD/kWh"), "" when it has none. */
const char *report_key_unit(const char *key);


/* Writes s to f as one quoted CSV cell (libcsv); a cell a spreadsheet would evaluate as a
 * formula (starting with = + - @) gets a leading apostrophe. */
void report_csv_text(FILE *f, const char *s);

#endif
